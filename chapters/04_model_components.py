# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. Model components
#
# A deep network is built from a handful of kinds of layer, stacked. This chapter takes them one at a time —
# what each computes, what its parameters mean, what shape goes in and comes out — and ends by running one
# forward and one backward pass through a small convolutional network built from all of them.
#
# **After this chapter you will be able to**
#
# - compute a fully connected layer by hand and with `lb.Linear`, and say what its weights and bias do;
# - explain why a network needs non-linear activations, and plot sigmoid, tanh, ReLU, softmax and their derivatives;
# - slide a filter over an image, read the feature maps of edge detectors, and predict a feature map's size
#   from kernel size, stride and padding;
# - say what max and average pooling keep and discard, tell translation *equivariance* (convolution) from
#   *invariance* (pooling), and measure both;
# - flatten feature maps for a dense layer;
# - normalise activations with batch, layer, instance and group norm, and say over which axes each one averages;
# - use dropout correctly in training and in evaluation;
# - measure what batch norm and dropout do for a small network, with the learning rate and the dropout rate chosen
#   on a validation split;
# - derive the backward pass of every layer — softmax's Jacobian, softmax + cross-entropy = p − y, convolution
#   (a correlation and a full convolution), pooling, batch norm through its batch statistics — and check each
#   by hand against the library;
# - run a forward and a backward pass through conv → ReLU → pool → flatten → linear, check every gradient,
#   and know why all gradients are computed *before* any parameter is updated.
#
# Every layer used here is the one in `littlebook`; where a cell works something out by hand, it checks the
# result against the library.

# %%
# On Colab, or wherever littlebook is not installed yet, install it from the book's repository first
# (in the book's own environment this does nothing).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("littlebook") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "littlebook @ git+https://github.com/littlebook-book/littlebook"], check=True)
    if "google.colab" in sys.modules:  # ipywidgets 8 sliders need Colab's custom widget manager
        from google.colab import output
        output.enable_custom_widget_manager()

# %%
import matplotlib.pyplot as plt
import numpy as np

import littlebook as lb
import littlebook.exercises as ex
from littlebook.plot import activation_curves, image_grid, norm_cube, stride_padding_panels
from littlebook.widgets import conv_explorer

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 4.1 The fully connected layer
#
# In a fully connected (dense) layer every output neuron is connected to every input. Neuron $i$ has one weight
# $W_{ij}$ per input $j$ — all of them together form the weight matrix $\mathbf W$ (outputs × inputs) — and one
# bias $b_i$ (together, the vector $\mathbf b$). The neuron computes a weighted sum and passes it through an
# activation function $f$:
#
# $$z_i = \sum_j W_{ij}\, x_j + b_i, \qquad a_i = f(z_i).$$
#
# **The notes' example**: two inputs, one output neuron, $x = (0.5, 0.3)$, $w = (0.8, 0.2)$, $b = 0.1$, ReLU.
# `lb.Linear` draws random weights when it is created; we overwrite them with the notes' values.

# %%
layer = lb.Linear(2, 1, dtype=np.float64)
layer.weight.value[...] = [[0.8, 0.2]]  # W has shape (out_features, in_features) = (1, 2)
layer.bias.value[...] = [0.1]
x = np.array([[0.5, 0.3]])  # a batch of one sample: shape (N, in_features) = (1, 2)

products = x[0] * layer.weight.value[0]  # x_j · w_j, before the sum
z = layer(x)
a = lb.ReLU()(z)
print(f"x1·w1 = 0.5·0.8 = {products[0]:.2f}    x2·w2 = 0.3·0.2 = {products[1]:.2f}")
print(f"weighted sum    = {products.sum():.2f}")
print(f"+ bias (z)      = {z[0, 0]:.2f}")
print(f"ReLU(z)         = {a[0, 0]:.2f}")
assert np.isclose(products.sum(), 0.46) and np.isclose(z[0, 0], 0.56) and np.isclose(a[0, 0], 0.56)

# %% [markdown]
# **Two inputs, three outputs.** Now $\mathbf W$ has shape 3 × 2 and $\mathbf b$ three entries; row $i$ of
# $\mathbf W$ holds the weights of output neuron $i$:
#
# $$z_1 = W_{11}x_1 + W_{12}x_2 + b_1,\quad z_2 = W_{21}x_1 + W_{22}x_2 + b_2,\quad z_3 = W_{31}x_1 + W_{32}x_2 + b_3,
# \qquad a_i = \mathrm{ReLU}(z_i).$$
#
# The cell writes the three sums out one neuron at a time and checks them against the layer, which computes all
# of them (for a whole batch) in one matrix product $Z = X\mathbf W^\top + \mathbf b$.

# %%
layer = lb.Linear(2, 3, dtype=np.float64)
layer.weight.value[...] = [[1.0, -1.0],
                           [0.5, 0.5],
                           [-2.0, 1.0]]
layer.bias.value[...] = [0.0, 0.1, -0.2]
W, b = layer.weight.value, layer.bias.value

z_by_hand = [W[i, 0] * x[0, 0] + W[i, 1] * x[0, 1] + b[i] for i in range(3)]
z = layer(x)
a = lb.ReLU()(z)
for i in range(3):
    print(f"z{i + 1} = {W[i, 0]:+.1f}·{x[0, 0]} {W[i, 1]:+.1f}·{x[0, 1]} {b[i]:+.1f} = {z_by_hand[i]:+.2f}"
          f"   a{i + 1} = ReLU(z{i + 1}) = {a[0, i] + 0:.2f}")  # + 0 turns −0.0 into 0.0
assert np.allclose(z[0], z_by_hand)
assert np.allclose(a, [[0.2, 0.5, 0.0]])  # the third neuron's sum is negative: ReLU silences it

# %% [markdown]
# **What the numbers mean.** A weight is the *strength of the connection* from input $j$ to neuron $i$, in a
# precise sense: $\partial z_i/\partial x_j = W_{ij}$ — nudge input $j$ by a small $\delta$ and neuron $i$ moves by
# $W_{ij}\delta$. The layer's backward pass returns exactly these derivatives (∂z_i/∂x for a one-hot ∂L/∂z). A
# negative weight is an inhibiting connection; a zero weight, no connection.
#
# The bias *shifts* the neuron: it moves the weighted sum up or down independently of the input, so it decides
# where the ReLU switches on. For one input, $\mathrm{ReLU}(wx + b)$ turns on at $x = -b/w$; the weight sets the
# slope, the bias the position.

# %%
for i in range(3):
    grad_z = np.zeros((1, 3))
    grad_z[0, i] = 1.0  # ∂L/∂z = e_i, so ∂L/∂x = ∂z_i/∂x
    assert np.allclose(layer.backward(grad_z), W[i])  # row i of W: the strengths of neuron i's connections
layer.zero_grad()

neuron, relu = lb.Linear(1, 1, dtype=np.float64), lb.ReLU()
xs = np.linspace(-3, 3, 301)[:, None]
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for w_, b_ in [(0.5, 0.0), (1.0, 0.0), (2.0, 0.0)]:
    neuron.weight.value[...], neuron.bias.value[...] = w_, b_
    axes[0].plot(xs, relu(neuron(xs)), label=f"w = {w_}, b = {b_}")
for w_, b_ in [(1.0, -1.0), (1.0, 0.0), (1.0, 1.5)]:
    neuron.weight.value[...], neuron.bias.value[...] = w_, b_
    out = relu(neuron(xs))[:, 0]
    axes[1].plot(xs, out, label=f"w = {w_}, b = {b_}")
    assert np.all(out[xs[:, 0] < -b_ / w_] == 0) and np.all(out[xs[:, 0] > -b_ / w_] > 0)  # switches on at −b/w
axes[0].set_title("the weight sets the slope")
axes[1].set_title("the bias shifts where the neuron turns on")
for ax in axes:
    ax.set_xlabel("x")
    ax.legend(fontsize="small")
for ax in axes:
    ax.set_ylabel("ReLU(w x + b)")
plt.show()

# %% [markdown]
# ## 4.2 Activation functions
#
# The activation function is applied element-wise after the weighted sum. The four classic ones:
#
# $$\sigma(x) = \frac{1}{1 + e^{-x}},\qquad \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}},\qquad
# \mathrm{ReLU}(x) = \max(0, x),\qquad \mathrm{softmax}(\mathbf x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}.$$
#
# They map values to a known range: sigmoid into (0, 1) (a probability), tanh into (−1, 1), ReLU into [0, ∞),
# and softmax turns a whole vector into a probability distribution (positive, summing to one) — which is why
# sigmoid and softmax are used in the last layer of classifiers. (The notes add that the bounded range "helps
# stabilise training". That is loose: ReLU is unbounded and is the default in hidden layers, and the bounded
# sigmoid and tanh *slow* deep training down, because they saturate — see the derivatives below. The scale of
# the activations in a deep network is set by the scale of the initial weights (chapter 5) and by normalisation
# layers, which standardise them by construction (section 4.6, where we also measure what that does for
# training).) The cell checks each library layer against the formula written with `np.exp`.
#
# Training needs their *derivatives*: backpropagation multiplies the incoming gradient by $f'(z)$. The plot below
# does not use formulas for $f'$: it calls each littlebook layer's own `backward` with $\partial L/\partial y = 1$,
# which returns $f'(x)$ — exactly what backpropagation uses. Softmax maps vectors to vectors, so we plot its
# first output for the vector $(x, 0)$; that curve is the sigmoid again, $e^x/(e^x + e^0) = \sigma(x)$, and
# its derivative $\partial s_1/\partial x_1 = s_1(1 - s_1)$ comes from `Softmax.backward` with
# $\partial L/\partial s = (1, 0)$.

# %%
xs = np.linspace(-5, 5, 401)
fig, axes = activation_curves(xs)  # sigmoid, tanh, ReLU and their backward(ones)

softmax = lb.Softmax()
pairs = np.stack([xs, np.zeros_like(xs)], axis=1)  # 401 vectors (x, 0)
s = softmax(pairs)
ds = softmax.backward(np.tile([1.0, 0.0], (len(xs), 1)))[:, 0]  # ∂s_1/∂x_1
axes[0].plot(xs, s[:, 0], "k:", label="softmax(x, 0)₁")
axes[1].plot(xs, ds, "k:", label="∂softmax₁/∂x₁")
for ax in axes:
    ax.legend(fontsize="small")
plt.show()

away_from_kink = np.abs(xs) > 0.05  # ReLU has no derivative at 0
for layer in (lb.Sigmoid(), lb.Tanh(), lb.ReLU()):
    values = layer(xs)
    derivative = layer.backward(np.ones_like(xs))
    numeric = np.gradient(values, xs)  # finite differences of the forward pass
    assert np.allclose(derivative[away_from_kink], numeric[away_from_kink], atol=1e-3)
    lo, hi, top = values.min() + 0.0, values.max(), derivative.max()  # + 0.0: ReLU(−5) may come out as −0.0
    print(f"{type(layer).__name__:>7}: values in ≈[{lo:.4f}, {hi:.4f}], largest derivative ≈{top:.4f}")
    # what the formulas give: f(−5), f(5) and f'(0) (every curve is steepest at 0); round-off only
    expected = {"Sigmoid": (1 / (1 + np.exp(5)), 1 / (1 + np.exp(-5)), 0.25), "Tanh": (np.tanh(-5), np.tanh(5), 1.0),
                "ReLU": (0.0, 5.0, 1.0)}[type(layer).__name__]
    assert np.allclose([lo, hi, top], expected, rtol=1e-9, atol=1e-12)
assert np.allclose(s[:, 0], lb.Sigmoid()(xs)) and np.allclose(ds, np.gradient(s[:, 0], xs), atol=1e-3)
assert np.allclose(s.sum(axis=1), 1) and np.all(s > 0)  # a probability distribution

# the four formulas above, written out with np.exp, against the library's layers
formulas = {"Sigmoid": (lb.Sigmoid()(xs), 1 / (1 + np.exp(-xs))),
            "Tanh": (lb.Tanh()(xs), (np.exp(xs) - np.exp(-xs)) / (np.exp(xs) + np.exp(-xs))),
            "ReLU": (lb.ReLU()(xs), np.maximum(0, xs)),
            "Softmax": (s, np.exp(pairs) / np.exp(pairs).sum(axis=1, keepdims=True))}
for name, (library, formula) in formulas.items():
    assert np.allclose(library, formula, rtol=1e-12, atol=1e-15), name
print("lb.Sigmoid, lb.Tanh, lb.ReLU, lb.Softmax vs the formulas written with np.exp: agree to round-off (< 1e-12)")

# %% [markdown]
# Note how small the sigmoid's derivative is: at most 1/4, and almost 0 for $|x| > 5$. Each sigmoid layer
# multiplies the backward signal by at most 1/4 — one reason deep networks use ReLU (derivative exactly 1 where
# it is active). Chapter 5 measures this.

# %% [markdown]
# **Softmax's backward pass: a Jacobian.** Sigmoid, tanh and ReLU act on each number alone, so their backward pass
# multiplies element-wise by $f'(x)$. Softmax does not: every output depends on every input, through the sum in the
# denominator. Its derivative is a matrix, the Jacobian $J_{ij} = \partial s_i/\partial x_j$. With
# $Z = \sum_k e^{x_k}$ and the quotient rule,
#
# $$\frac{\partial s_i}{\partial x_j} = \frac{\delta_{ij}\,e^{x_i}Z - e^{x_i}e^{x_j}}{Z^2} = s_i(\delta_{ij} - s_j),
# \qquad J = \operatorname{diag}(\mathbf s) - \mathbf s\mathbf s^\top.$$
#
# The backward pass needs only the product with the incoming gradient $\mathbf g = \partial L/\partial\mathbf s$:
# $\partial L/\partial\mathbf x = J^\top\mathbf g = \mathbf s\odot(\mathbf g - \mathbf s\cdot\mathbf g)$ ($J$ is
# symmetric), which is what `lb.Softmax.backward` computes, without ever building the C × C matrix. The cell builds
# $J$ for four logits, compares it with central finite differences, and reads it out of `Softmax.backward` one
# column at a time: feeding $\mathbf g = \mathbf e_j$ returns $J^\top\mathbf e_j$, column $j$ of the symmetric $J$.
# Every column sums to zero: adding the same number to all logits does not change the softmax.

# %%
x4 = np.array([[1.0, 2.0, 0.5, -1.0]])  # one sample, four logits
softmax = lb.Softmax()
s4 = softmax(x4)[0]
J = np.diag(s4) - np.outer(s4, s4)  # the formula

h = 1e-6
J_numeric = np.empty((4, 4))
for j in range(4):  # column j: how every output moves when x_j moves
    step = np.zeros_like(x4)
    step[0, j] = h
    J_numeric[:, j] = (lb.Softmax()(x4 + step)[0] - lb.Softmax()(x4 - step)[0]) / (2 * h)
J_backward = np.stack([softmax.backward(np.eye(4)[[j]])[0] for j in range(4)], axis=1)

print(f"s ≈{s4.round(3)}\nJ = diag(s) − s sᵀ ≈{J.round(3)}")
err_fd, err_bw = lb.rel_error(J, J_numeric), lb.rel_error(J_backward, J)
assert err_fd < 1e-8 and err_bw < 1e-12 and np.abs(J.sum(axis=0)).max() < 1e-15
print("vs central differences (h = 1e-6): relative error < 1e-8 (the differences' own error)")
print("vs lb.Softmax().backward(e_j):     relative error < 1e-12")
print("every column sums to 0:           |Σ_i J_ij| < 1e-15")

# %% [markdown]
# **Softmax followed by cross-entropy gives $\mathbf p - \mathbf y$.** For one sample with one-hot target
# $\mathbf y$ and $\mathbf p = \mathrm{softmax}(\mathbf z)$, the loss is $L = -\sum_c y_c\log p_c$. Dividing the
# Jacobian's row $c$ by $p_c$ gives $\partial\log p_c/\partial z_j = \delta_{cj} - p_j$, so, with $\sum_c y_c = 1$,
#
# $$\frac{\partial L}{\partial z_j} = -\sum_c y_c(\delta_{cj} - p_j) = p_j\sum_c y_c - y_j = p_j - y_j.$$
#
# The Jacobian's $\mathbf s\mathbf s^\top$ term cancels against the logarithm: the gradient is "prediction minus
# target". (It lies in [−1, 1], but that is true of the exact gradient however it is computed.) Libraries fuse
# softmax and cross-entropy into one loss on logits (`lb.CrossEntropyLoss`) for a *numerical* reason, shown
# below: the long way computes $\log p_c$ and $-y_c/p_c$, which break down once $p_c$ rounds to 0.
# littlebook's loss is the *mean* over the N samples of the batch,
# so its backward returns $(\mathbf p - \mathbf y)/N$. The cell checks both this formula and the long way round,
# the chain rule through the Jacobian, $J^\top\,\partial L/\partial\mathbf p$ with
# $\partial L/\partial p_c = -y_c/p_c$.

# %%
logits = np.array([[2.0, 1.0, 0.1, -0.5], [0.5, 2.5, -1.0, 0.0], [0.0, 0.3, 3.0, 1.0]])  # N = 3, C = 4
targets = np.array([0, 2, 2])
ce = lb.CrossEntropyLoss()
ce(logits, targets)
grad_lib = ce.backward()

probs, onehot = lb.Softmax()(logits), np.eye(4)[targets]
by_hand = (probs - onehot) / len(targets)  # (p − y)/N
long_way = np.stack([(np.diag(p_) - np.outer(p_, p_)) @ (-y_ / p_) for p_, y_ in zip(probs, onehot, strict=True)])
long_way /= len(targets)
assert lb.rel_error(grad_lib, by_hand) < 1e-12 and lb.rel_error(long_way, by_hand) < 1e-12
print("lb.CrossEntropyLoss().backward() vs (p − y)/N:        relative error < 1e-12")
print("chain rule through the softmax Jacobian vs (p − y)/N: relative error < 1e-12")
print("(p − y)/N ≈", by_hand.round(3))

# %% [markdown]
# **Why fuse them.** Take one sample whose logits are $(0, 800, 1)$ with target class 0: the model is confidently
# wrong, and $p_0 = 1/(1 + e^{800} + e^{1}) \approx 4\cdot10^{-348}$, below the smallest positive float64
# ($\approx 5\cdot10^{-324}$), so it rounds to exactly 0. The long way then computes $-\log 0 = \infty$ and
# $-y_0/p_0 = -\infty$ (and $0/0$ = NaN for class 2), and the Jacobian product turns them into NaN everywhere. The
# fused loss never forms $p_0$: it computes $L = \log\sum_j e^{z_j} - z_0$ with the log-sum-exp trick of chapter
# 3, and its gradient $\mathbf p - \mathbf y$ directly — both correct to float64 precision here.

# %%
z_far, target_far = np.array([[0.0, 800.0, 1.0]]), np.array([0])
ce_far = lb.CrossEntropyLoss()
fused_loss, fused_grad = ce_far(z_far, target_far), ce_far.backward()
softmax_far = lb.Softmax()
with np.errstate(divide="ignore", invalid="ignore"):  # the long way divides by zero: that is the point
    p_far = softmax_far(z_far)
    unfused_loss = -np.log(p_far[0, target_far[0]])
    unfused_grad = softmax_far.backward(-np.eye(3)[target_far] / p_far)  # J^T (−y/p)
print(f"p = softmax(z) = {p_far[0]}: p_0 is exactly 0")
print(f"fused   lb.CrossEntropyLoss:   loss {fused_loss}, gradient {fused_grad[0]}")
print(f"unfused −log p, J^T (−y/p):    loss {unfused_loss}, gradient {unfused_grad[0]}")
assert p_far[0, 0] == 0 and fused_loss == 800 and np.array_equal(fused_grad, [[-1, 1, 0]])
assert np.isinf(unfused_loss) and np.all(np.isnan(unfused_grad))

# %% [markdown]
# **Why non-linearity matters.** Without activation functions, stacking layers buys nothing: a composition of
# linear (affine) maps is one affine map,
#
# $$\mathbf W_3(\mathbf W_2(\mathbf W_1 x + b_1) + b_2) + b_3
# = \underbrace{\mathbf W_3\mathbf W_2\mathbf W_1}_{\mathbf W}x
# + \underbrace{\mathbf W_3(\mathbf W_2 b_1 + b_2) + b_3}_{b}.$$
#
# The cell builds a three-layer stack, builds *one* `lb.Linear` from the formula, and checks they are the same
# function. Then it inserts ReLUs and asks the best possible single linear layer (a least-squares fit) to imitate
# the network: it cannot.

# %%
rng = np.random.default_rng(0)
stack = lb.Sequential(lb.Linear(4, 16, rng=1, dtype=np.float64), lb.Linear(16, 16, rng=2, dtype=np.float64),
                      lb.Linear(16, 3, rng=3, dtype=np.float64))
for p in stack.parameters():
    if p.value.ndim == 1:
        p.value[...] = rng.normal(size=p.shape)  # non-zero biases, so the check covers them
(W1, b1), (W2, b2), (W3, b3) = [(lin.weight.value, lin.bias.value) for lin in stack.layers]

single = lb.Linear(4, 3, dtype=np.float64)
single.weight.value[...] = W3 @ W2 @ W1
single.bias.value[...] = W3 @ (W2 @ b1 + b2) + b3

X_test = rng.normal(size=(500, 4))
difference = np.abs(stack(X_test) - single(X_test)).max()
print(f"three linear layers vs one, largest difference: {'< 1e-12 (round-off)' if difference < 1e-12 else difference}")
assert difference < 1e-12


def best_linear_fit_error(model):
    """Relative residual of the best affine map X ↦ X A + c imitating model(X) (least squares)."""
    Y = model(X_test)
    X1 = np.hstack([X_test, np.ones((len(X_test), 1))])
    coef = np.linalg.lstsq(X1, Y, rcond=None)[0]
    return np.linalg.norm(X1 @ coef - Y) / np.linalg.norm(Y - Y.mean(axis=0))


def relu_net(seed):
    """A 4 → 16 → 16 → 3 network with ReLUs and random weights and biases drawn from `seed`."""
    r = np.random.default_rng(seed)
    net = lb.Sequential(lb.Linear(4, 16, rng=r, dtype=np.float64), lb.ReLU(),
                        lb.Linear(16, 16, rng=r, dtype=np.float64), lb.ReLU(),
                        lb.Linear(16, 3, rng=r, dtype=np.float64))
    for p in net.parameters():
        if p.value.ndim == 1:
            p.value[...] = r.normal(size=p.shape)
    return net


with_relu = lb.Sequential(stack[0], lb.ReLU(), stack[1], lb.ReLU(), stack[2])  # the stack above, with ReLUs
err_linear = best_linear_fit_error(stack)
err_relu = [best_linear_fit_error(with_relu)] + [best_linear_fit_error(relu_net(seed)) for seed in range(1, 5)]
assert err_linear < 1e-10
print(f"best single linear layer, relative error: without activations < 1e-10, with ReLU ≈{err_relu[0]:.2f} "
      f"(≈{min(err_relu):.2f} to ≈{max(err_relu):.2f} over five random networks)")
assert min(err_relu) > 0.3 and max(err_relu) < 0.9  # seeds 1-14 give 0.37-0.79: never close to a linear map

# %% [markdown]
# (The notes say non-linearity "allows the model to learn from errors". Learning from errors is gradient descent,
# and it works for a purely linear model too; what the activations add is *expressive power*: with them, a deep
# network can approximate curved decision boundaries and functions that no single linear layer can.)
#
# ## 4.3 Convolutional layers
#
# A dense layer on an image connects every output to every pixel, and has to learn separately that an edge at the
# top left and an edge at the bottom right are the same thing. A convolutional layer instead slides a small
# matrix of weights — a **filter** (or kernel) — over the image. At each position it multiplies the filter
# element-wise with the patch underneath and sums the products, giving one number; all positions together form a
# **feature map**, which is large where the patch looks like the filter. With $C$ input channels, $K\times K$
# filters, stride $S$ and zero padding $P$:
#
# $$y_{o,i,j} = b_o + \sum_{c}\sum_{u,v=0}^{K-1} W_{o,c,u,v}\; x^{\text{padded}}_{c,\; iS+u,\; jS+v}.$$
#
# (Strictly this is cross-correlation — a mathematician's convolution flips the kernel — but every deep-learning
# library calls it convolution; the flip does not matter when the filter is learned.)
#
# We use the real handwritten digits that scikit-learn ships: 8 × 8 pixels, small enough that you can see every
# pixel and count positions. (The same layers run unchanged on 28 × 28 MNIST images in chapter 5.)

# %%
X_img, y_img = lb.load_digits(flatten=False)  # (1797, 1, 8, 8), values in [0, 1]
X_img = X_img.astype(np.float64)
digit = X_img[:1]  # one image as a batch: (N, C, H, W) = (1, 1, 8, 8)
print("batch shape (N, C, H, W):", digit.shape, "  label:", y_img[0])

filters = np.array([
    [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],  # Sobel x: dark → bright from left to right (vertical edges)
    [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],  # Sobel y: dark → bright from top to bottom (horizontal edges)
    [[0, 1, 2], [-1, 0, 1], [-2, -1, 0]],  # diagonal edges
    np.full((3, 3), 1 / 9),  # box blur: the local average
], dtype=np.float64)
names = ["vertical edges", "horizontal edges", "diagonal edges", "blur"]

conv = lb.Conv2d(1, 4, kernel_size=3, padding=1, dtype=np.float64)  # 4 filters, padding 1 keeps 8 × 8
conv.weight.value[:, 0] = filters  # weight: (out_channels, in_channels, K, K) = (4, 1, 3, 3)
conv.bias.value[...] = 0
maps = conv(digit)
print("feature maps (N, C_out, H, W):", maps.shape)

# %% [markdown]
# **One position by hand.** Take the vertical-edge filter and output position (row 3, column 1). With padding 1,
# output $(i, j)$ looks at rows $i \ldots i+2$ and columns $j \ldots j+2$ of the padded image:

# %%
padded = np.pad(digit[0, 0], 1)  # zero padding of 1 pixel on every side: 10 × 10
i, j = 3, 1
patch = padded[i:i + 3, j:j + 3]
print("patch:\n", patch.round(2))
print("filter:\n", filters[0])
print("element-wise products:\n", (patch * filters[0]).round(2) + 0)
by_hand = np.sum(patch * filters[0])
print(f"sum = {by_hand:.4f}    Conv2d output at (0, 0, {i}, {j}) = {maps[0, 0, i, j]:.4f}")
assert np.isclose(by_hand, maps[0, 0, i, j])

# %% [markdown]
# The sum is large and positive: at that place the digit gets brighter from left to right. Every filter is
# applied across the whole image, so each produces one full feature map, highlighting where its pattern occurs.
# Red means a positive response, blue a negative one (the edge in the opposite direction).

# %%
fig, axes = plt.subplots(1, 5, figsize=(13, 2.4))
image_grid(digit, titles=[f"digit {y_img[0]}"], axes=axes[:1])
image_grid(maps[0], titles=names, cmap="RdBu_r", axes=axes[1:])
for ax, m in zip(axes[1:], maps[0], strict=True):
    ax.images[0].set_clim(-np.abs(m).max(), np.abs(m).max())  # symmetric colours: 0 is white
for ax, label in zip(axes, ["pixel value"] + ["response"] * 4, strict=True):
    fig.colorbar(ax.images[0], ax=ax, fraction=0.046, pad=0.04, label=label)
fig.subplots_adjust(wspace=0.6)  # room for the colour bars' labels
plt.show()

# %% [markdown]
# The same four filters on a 28 × 28 MNIST digit, if MNIST has been downloaded on this machine (`lb.load_mnist()`
# fetches it once; this cell never downloads, and its output is not compared when the book is tested):

# %% tags=["nbval-ignore-output"]
if lb.data.mnist_cached():
    mnist_digit = lb.data.scale_images(lb.load_mnist(download=False)[2][:1], flatten=False).astype(np.float64)
    fig, axes = plt.subplots(1, 5, figsize=(10, 2.3))
    image_grid(mnist_digit, titles=["MNIST digit"], axes=axes[:1])
    image_grid(conv(mnist_digit)[0], titles=names, cmap="RdBu_r", axes=axes[1:])
    plt.show()
else:
    print("MNIST is not downloaded here: run lb.load_mnist() once to see the filters on a 28 × 28 digit.")

# %% [markdown]
# **Activation on feature maps.** As in a dense layer, the convolution's output goes through an activation
# function, applied element-wise: every number of every map independently. ReLU keeps the positive responses —
# here, only the edges where the image gets brighter in the filter's direction — and leaves the shape unchanged.

# %%
relu = lb.ReLU()
activated = relu(maps)
assert activated.shape == maps.shape and np.array_equal(activated, np.maximum(maps, 0))
print(f"shape {activated.shape}; fraction of the map values set to zero: {np.mean(activated == 0):.2f}")
fig, axes = image_grid(activated[0], titles=[f"ReLU({n})" for n in names], cmap="magma")
fig.set_size_inches(10, 2.4)
for ax in axes.flat:
    fig.colorbar(ax.images[0], ax=ax, fraction=0.046, pad=0.04, label="activation")
fig.subplots_adjust(wspace=0.6)
plt.show()

# %% [markdown]
# ### Stride and padding
#
# The **stride** $S$ is how many pixels the filter moves between positions: stride 1 visits every position,
# stride 2 every second one (and halves the map). **Padding** adds a border of $P$ zero-valued pixels so that the
# filter can also be centred on the edge pixels. Two common settings: *"valid"* — no padding, the map shrinks by
# $K - 1$ — and *"same"* — padding $P = (K-1)/2$ so that, with stride 1, the map keeps the input's size. Along
# each axis
#
# $$H_{\text{out}} = \left\lfloor \frac{H + 2P - K}{S} \right\rfloor + 1.$$
#
# The table compares the formula, `lb.conv_output_size`, and the shape `lb.Conv2d` actually produces.

# %%
print(f"{'H':>3} {'K':>2} {'S':>2} {'padding':>8} | {'formula':>7} {'conv_output_size':>16} {'Conv2d':>7}")
for H, K, S, P in [(8, 3, 1, "valid"), (8, 3, 1, "same"), (8, 3, 2, 0), (8, 3, 2, 1), (8, 5, 1, "same"),
                   (8, 5, 3, 2), (28, 3, 1, "same"), (28, 5, 1, "valid"), (28, 5, 2, 2), (28, 3, 3, 0)]:
    P_int = {"valid": 0, "same": (K - 1) // 2}.get(P, P)
    formula = (H + 2 * P_int - K) // S + 1
    actual = lb.Conv2d(1, 1, K, stride=S, padding=P)(np.zeros((1, 1, H, H))).shape[2:]
    size = lb.conv_output_size(H, K, S, P)
    print(f"{H:>3} {K:>2} {S:>2} {P!s:>8} | {formula:>7} {size:>16} {actual[0]:>4}×{actual[1]}")
    assert formula == size == actual[0] == actual[1]


# %% [markdown]
# The sliders (`littlebook.widgets.conv_explorer`) change kernel size, stride and padding and redraw the padded
# digit with the first two filter windows outlined, next to the feature map of a vertical-edge filter and its size
# from the formula. A static figure of three settings follows, for readers without a kernel: a dot marks the
# centre of every filter position (one dot per output pixel), the first window is outlined.

# %% tags=["nbval-ignore-output"]
conv_explorer(digit[0, 0], kernel_size=3, stride=1, padding=1)

# %%
fig, axes = plt.subplots(2, 3, figsize=(11, 7))
settings = [(1, 0), (1, 1), (2, 1)]  # (stride, padding): "valid", "same", stride 2
outs = [stride_padding_panels(digit[0, 0], filters[0], s, p, axes=axes[:, k]) for k, (s, p) in enumerate(settings)]
fig.tight_layout()
plt.show()
shapes = [out.shape for out in outs]
print("output sizes (valid, same, stride 2):", shapes)
assert shapes == [(6, 6), (8, 8), (4, 4)]
assert np.array_equal(outs[1], maps[0, 0]) and np.array_equal(outs[2], maps[0, 0, ::2, ::2])  # stride 2 = every 2nd

# %% [markdown]
# ### The backward pass of a convolution
#
# Take one input and one output channel, stride 1, no padding: $y_{ij} = b + \sum_{u,v} W_{uv}\,x_{i+u,\,j+v}$, and
# write $g = \partial L/\partial y$. Weight $W_{uv}$ multiplies $x_{i+u,j+v}$ in *every* output $y_{ij}$, so
#
# $$\frac{\partial L}{\partial W_{uv}} = \sum_{i,j} g_{ij}\, x_{i+u,\,j+v} = (x \star g)_{uv},\qquad
# \frac{\partial L}{\partial b} = \sum_{i,j} g_{ij}:$$
#
# the weight gradient is the **correlation of the input with the output gradient** — the forward pass's sliding
# sum, with $g$ in the role of the filter, giving a $K\times K$ result. Pixel $x_{pq}$ reaches output $y_{ij}$
# through the weight $W_{p-i,\,q-j}$ (when $0 \le p-i, q-j < K$), so
#
# $$\frac{\partial L}{\partial x_{pq}} = \sum_{i,j} g_{ij}\, W_{p-i,\,q-j}:$$
#
# a **full convolution** of the output gradient with the kernel — pad $g$ with $K-1$ zeros on every side and
# correlate it with the kernel *flipped* in both directions, $W_{K-1-u,\,K-1-v}$ (here the flip of a
# mathematician's convolution appears after all). With channels, every pair (input channel $c$, output channel $o$)
# has its own kernel $W_{oc}$: $\partial L/\partial W_{oc} = \sum_n x_{nc} \star g_{no}$ (summed over the batch)
# and $\partial L/\partial x_{nc} = \sum_o \mathrm{full}(g_{no}, W_{oc})$.
#
# - **Stride $S$.** A strided convolution is the stride-1 convolution read at every $S$-th position. So *dilate*
#   the output gradient — put $g_{ij}$ at position $(iS, jS)$ of a zero array of the stride-1 output size — and
#   apply the stride-1 formulas. Input pixels that no window reaches (the floor in the size formula) get 0.
# - **Padding $P$.** The convolution sees the padded input, so the formulas give the gradient with respect to the
#   padded input; *crop* $P$ rows and columns from each side (the padding zeros are constants, not inputs).
#
# The cell implements exactly this with explicit loops, for a batch of 2 images with 2 channels, 3 filters, and
# four (stride, padding) settings, and compares with `lb.Conv2d.backward` (which computes the same sums as matrix
# products on the im2col patches) and with finite differences.

# %%
def correlate(a, k):
    """Valid cross-correlation of 2-D arrays: out[i, j] = Σ_{u,v} k[u, v] · a[i + u, j + v]."""
    oh, ow = a.shape[0] - k.shape[0] + 1, a.shape[1] - k.shape[1] + 1
    return np.array([[np.sum(a[i:i + k.shape[0], j:j + k.shape[1]] * k) for j in range(ow)] for i in range(oh)])


def conv2d_backward_by_hand(x, weight, g, stride, padding):
    """∂L/∂W, ∂L/∂b, ∂L/∂x of a convolution from the formulas above, one (n, o, c) at a time."""
    K = weight.shape[-1]
    xp = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    g1 = np.zeros(g.shape[:2] + (xp.shape[2] - K + 1, xp.shape[3] - K + 1))  # the stride-1 output grid
    g1[:, :, ::stride, ::stride] = g  # dilate: g[i, j] goes to (i·S, j·S)
    grad_w, grad_xp = np.zeros_like(weight), np.zeros_like(xp)
    for n in range(x.shape[0]):
        for o in range(weight.shape[0]):
            for c in range(weight.shape[1]):
                grad_w[o, c] += correlate(xp[n, c], g1[n, o])  # input ⋆ output gradient
                grad_xp[n, c] += correlate(np.pad(g1[n, o], K - 1), weight[o, c, ::-1, ::-1])  # full conv., flipped
    H, W = x.shape[2:]
    return grad_w, g.sum(axis=(0, 2, 3)), grad_xp[:, :, padding:padding + H, padding:padding + W]  # crop


rng = np.random.default_rng(6)
x_c = rng.normal(size=(2, 2, 7, 7))  # N = 2, C_in = 2, 7 × 7
conv_errors = []
for S, P in [(1, 0), (1, 1), (2, 1), (3, 0)]:
    layer = lb.Conv2d(2, 3, kernel_size=3, stride=S, padding=P, rng=7, dtype=np.float64)
    out = layer(x_c)
    g_out = rng.normal(size=out.shape)  # an incoming ∂L/∂y
    grad_x = layer.backward(g_out)
    grad_w, grad_b, grad_x_hand = conv2d_backward_by_hand(x_c, layer.weight.value, g_out, S, P)
    numeric = lb.gradcheck.numerical_gradient(lambda: float(np.sum(layer(x_c) * g_out)), x_c)  # noqa: B023
    errs = [lb.rel_error(grad_w, layer.weight.grad), lb.rel_error(grad_b, layer.bias.grad),
            lb.rel_error(grad_x_hand, grad_x)]
    assert max(errs) < 1e-10 and lb.rel_error(grad_x_hand, numeric) < 1e-8
    conv_errors += errs
    print(f"stride {S}, padding {P} (output {out.shape[2]}×{out.shape[3]}): by hand vs lb.Conv2d.backward, "
          f"relative error < 1e-10 for ∂L/∂W, ∂L/∂b, ∂L/∂x; vs finite differences < 1e-8")
    if S == 3:  # windows start at 0 and 3 and cover columns 0-5: column 6 never reaches the output
        assert np.all(grad_x_hand[..., 6] == 0) and np.all(grad_x_hand[..., 6, :] == 0)
print("stride 3, padding 0: the last row and column of the input get gradient exactly 0 (no window reaches them)")

# %% [markdown]
# ## 4.4 Pooling layers
#
# A pooling layer summarises each small window of a feature map by one number — its maximum (**max pooling**) or
# its mean (**average pooling**). It has no parameters. Window size and stride work as for convolutions; the usual
# choice is 2 × 2 windows with stride 2, which halves height and width. (The notes say "extract the max value per
# stride": it is one value per *window*; the stride only says how far apart consecutive windows start, and with a
# stride smaller than the window — 3 × 3 windows with stride 2, or the stride-1 example below — windows overlap.)
#
# **The notes' example**: a 4 × 4 map, 2 × 2 windows, stride 2.

# %%
M = np.array([[1, 3, 2, 4],
              [5, 6, 7, 8],
              [9, 1, 2, 0],
              [3, 4, 5, 6]], dtype=np.float64)
x = M[None, None]  # (N, C, H, W) = (1, 1, 4, 4)
windows = np.lib.stride_tricks.sliding_window_view(M, (2, 2))[::2, ::2].reshape(4, 2, 2)  # the four 2×2 windows
for k, win in enumerate(windows, start=1):
    print(f"window {k}: {win.tolist()} -> max {win.max():.0f}, mean {win.mean():.2f}")

max_pooled = lb.MaxPool2d(2, 2)(x)
avg_pooled = lb.AvgPool2d(2, 2)(x)
print("MaxPool2d(2, 2):\n", max_pooled[0, 0])
print("AvgPool2d(2, 2):\n", avg_pooled[0, 0])
assert np.array_equal(max_pooled[0, 0], [[6, 8], [9, 6]])
assert np.array_equal(max_pooled[0, 0].ravel(), windows.max(axis=(1, 2)))
assert np.allclose(avg_pooled[0, 0].ravel(), windows.mean(axis=(1, 2)))

# %% [markdown]
# The other common choice, **3 × 3 windows with stride 2**, on a 5 × 5 map: $\lfloor (5 - 3)/2 \rfloor + 1 = 2$
# windows per side, as for a convolution, and neighbouring windows share a row or column (row 2 and column 2).
# The 9 sits in column 2, which the two lower windows share, so it is the maximum of both:

# %%
M5 = np.array([[1, 0, 2, 0, 3],
               [0, 4, 0, 5, 0],
               [2, 0, 1, 0, 1],
               [0, 6, 0, 7, 0],
               [3, 0, 9, 0, 8]], dtype=np.float64)
pool3 = lb.MaxPool2d(3, stride=2)(M5[None, None])[0, 0]
windows3 = np.lib.stride_tricks.sliding_window_view(M5, (3, 3))[::2, ::2]  # (2, 2, 3, 3): rows/cols 0-2 and 2-4
print("MaxPool2d(3, stride=2) of a 5×5 map:\n", pool3)
assert pool3.shape == (2, 2) and np.array_equal(pool3, windows3.max(axis=(2, 3)))
assert np.array_equal(pool3, [[4, 5], [9, 9]])

# %% [markdown]
# **The backward pass of pooling.** A max-pooled output *is* one of its inputs, the window's maximum $x_{k^*}$;
# nudging any other input of the window does not change it. So $\partial y/\partial x_{k^*} = 1$ and 0 for the
# rest: the backward pass **routes** each output's gradient to the position of its window's maximum, and every other
# position gets 0. When several entries tie for the maximum, max is not differentiable there (a kink), and any
# split of the gradient among the tied entries is a valid subgradient; littlebook gives all of it to the *first*
# maximum in row-major order (left to right, then top to bottom). Average pooling is linear,
# $y = \frac{1}{k^2}\sum_{\text{window}} x$, so each of the $k^2$ inputs of a window gets $g/k^2$. When windows
# overlap (stride smaller than the window), an input in several windows receives the sum of their contributions.
# The notes' 4 × 4 map, with the incoming gradient $g = [[1, 2], [3, 4]]$ (one number per window):

# %%
g_pool = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])  # ∂L/∂y, one number per window
maxpool, avgpool = lb.MaxPool2d(2, 2), lb.AvgPool2d(2, 2)
maxpool(x), avgpool(x)  # forward passes (the backward passes need their caches)

routed = np.zeros_like(M)  # by hand: each window's gradient goes to its maximum
for i in range(2):
    for j in range(2):
        win = M[2 * i:2 * i + 2, 2 * j:2 * j + 2]
        u, v = np.unravel_index(np.argmax(win), win.shape)  # np.argmax: the first maximum in row-major order
        routed[2 * i + u, 2 * j + v] += g_pool[0, 0, i, j]
spread = np.kron(g_pool[0, 0], np.full((2, 2), 1 / 4))  # every input of window (i, j) gets g_ij / 4
print("∂L/∂x through max pooling (g at each window's maximum):\n", routed)
print("∂L/∂x through average pooling (g/4 everywhere):\n", spread)
assert np.array_equal(maxpool.backward(g_pool)[0, 0], routed)
assert np.array_equal(avgpool.backward(g_pool)[0, 0], spread)

tie = np.array([[[[2.0, 7.0], [7.0, 7.0]]]])  # three entries tie for the maximum
pool_tie = lb.MaxPool2d(2)
pool_tie(tie)
g_tie = pool_tie.backward(np.ones((1, 1, 1, 1)))
print("a window with a three-way tie:\n", tie[0, 0], "\n→ gradient:\n", g_tie[0, 0])
assert np.array_equal(g_tie[0, 0], [[0, 1], [0, 0]])  # the first maximum in row-major order takes it all

overlap = np.array([[[[1.0, 2.0, 1.0], [2.0, 9.0, 2.0], [1.0, 2.0, 1.0]]]])
pool_ov = lb.MaxPool2d(2, stride=1)  # four overlapping 2 × 2 windows, each with its maximum at the centre
pool_ov(overlap)
g_ov = pool_ov.backward(np.ones((1, 1, 2, 2)))
print("overlapping windows (stride 1), g = 1 for each: the centre collects\n", g_ov[0, 0])
assert g_ov[0, 0, 1, 1] == 4 and g_ov.sum() == 4

# %% [markdown]
# **Dimensionality reduction.** Pooling acts on each channel separately: it shrinks height and width but keeps
# the number of channels (the depth). Fewer values mean less computation in the next layers and fewer weights in
# a dense layer that follows — here a dense layer to 10 classes needs 4 × fewer weights after pooling, and a
# convolution after it does 4 × fewer multiply-adds (its weights are the same: it slides over fewer positions). That is
# the sense in which pooling "reduces the number of parameters" (the pooling layer itself has none). The notes add
# that this "helps prevent overfitting": fewer weights do leave a network less freedom to fit noise, but whether a
# given network overfits less is an empirical question about that network and its data, answered on a validation
# split, not a property of pooling; this chapter does not measure it.

# %%
pool = lb.MaxPool2d(2)
pooled = pool(activated)
print("feature maps:", activated.shape, "-> pooled:", pooled.shape)
assert pooled.shape == (1, 4, 4, 4)  # channels unchanged, 8×8 -> 4×4
print("weights of a Linear(→10) after flattening: unpooled", lb.Linear(4 * 8 * 8, 10).num_parameters(),
      " pooled", lb.Linear(4 * 4 * 4, 10).num_parameters())
# A next convolution, 4 → 8 channels, 3×3, padding 1: out_channels × in_channels × K² multiply-adds per output
# position, and its output has one position per input position, so 4× fewer after pooling
next_conv = lb.Conv2d(4, 8, 3, padding=1)
out_hw = {name: next_conv(maps).shape[2:] for name, maps in (("unpooled", activated), ("pooled", pooled))}
macs = {name: 8 * 4 * 3 * 3 * h * w for name, (h, w) in out_hw.items()}
print("multiply-adds of a next Conv2d(4 → 8, 3×3, padding 1):", macs)
assert macs["unpooled"] == 4 * macs["pooled"] == 4 * 4608

# %% [markdown]
# **Downsampling.** Each pooled value summarises a patch: max pooling reports *whether and how strongly* a
# feature occurred somewhere in the 2 × 2 window, not exactly where. The pooled maps below are coarser versions of
# the maps above that keep the strongest responses (the cell checks it: each pooled value is its patch's maximum,
# so each map's largest activation is still there).

# %%
fig, axes = plt.subplots(2, 4, figsize=(10, 4.6))
image_grid(activated[0], titles=[f"{n} 8×8" for n in names], cmap="magma", axes=axes[0])
image_grid(pooled[0], titles=["max-pooled 4×4"] * 4, cmap="magma", axes=axes[1])
for ax in axes.flat:
    fig.colorbar(ax.images[0], ax=ax, fraction=0.046, pad=0.04, label="activation")
fig.subplots_adjust(wspace=0.6)
plt.show()
# each pooled value is the strongest response of its 2×2 patch, so every map's strongest response survives
patches = activated[0].reshape(4, 4, 2, 4, 2)  # (channel, row block, row in block, column block, column in block)
assert np.array_equal(pooled[0], patches.max(axis=(2, 4)))
assert np.array_equal(pooled[0].max(axis=(1, 2)), activated[0].max(axis=(1, 2)))

# %% [markdown]
# **Equivariance and invariance.** Two different properties hide behind the phrase "translation invariance":
#
# - A convolution is translation **equivariant**: shifting the input shifts the feature map by the same amount,
#   $\mathrm{conv}(\mathrm{shift}(x)) = \mathrm{shift}(\mathrm{conv}(x))$. The same filter is applied at every
#   position, so a pattern gives the same response wherever it is — just somewhere else. ReLU acts on each value
#   alone, so conv → ReLU is equivariant too.
# - A feature is **invariant** if a shift does not change it at all: $f(\mathrm{shift}(x)) = f(x)$. Pooling turns
#   equivariance into invariance by discarding *where* in a window a response was. Global average pooling (one mean
#   per map) discards every position and is exactly invariant; 2 × 2 pooling with stride 2 is only *approximately*
#   invariant to a 1-pixel shift, but exactly equivariant to a 2-pixel one (its windows then move by one).
#
# Exactness needs care at the border, where a shift pushes pixels out of the image. We put each 8 × 8 digit in the
# middle of a 14 × 14 canvas of zeros and shift with `np.roll` (what leaves one side comes back on the other, here
# only zeros): for shifts of up to 2 pixels nothing is lost, and a 3 × 3 filter never reaches ink through the
# border. Then the equalities hold on the whole map, up to round-off. The cell checks them with random filters
# and non-zero biases on 200 digits.

# %%
def on_canvas(images, margin=3):
    """(N, C, H, W) images in the middle of a zero canvas (N, C, H + 2·margin, W + 2·margin)."""
    return np.pad(images, ((0, 0), (0, 0), (margin, margin), (margin, margin)))


def shift(images, dy, dx):
    """Move (N, C, H, W) images down by dy and right by dx pixels (circularly)."""
    return np.roll(images, (dy, dx), axis=(2, 3))


def max_rel_diff(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


canvas = on_canvas(X_img)  # all 1,797 digits, (N, 1, 14, 14)
conv_r = lb.Conv2d(1, 4, kernel_size=3, padding=1, rng=0, dtype=np.float64)  # random filters
conv_r.bias.value[...] = [0.1, -0.2, 0.3, 0.0]
features_r = lambda images: relu(conv_r(images))  # noqa: E731
x_eq = canvas[:200]
shifts = [(0, 1), (1, 0), (0, -1), (-1, 0), (2, -2)]
equivariance = max(max_rel_diff(features_r(shift(x_eq, dy, dx)), shift(features_r(x_eq), dy, dx))
                   for dy, dx in shifts)
gap = lb.GlobalAvgPool2d()
invariance = max(max_rel_diff(gap(features_r(shift(x_eq, dy, dx))), gap(features_r(x_eq))) for dy, dx in shifts)
mp = lb.MaxPool2d(2)
pooled_by_2 = max_rel_diff(mp(features_r(shift(x_eq, 2, -2))), shift(mp(features_r(x_eq)), 1, -1))
pooled_by_1 = max_rel_diff(mp(features_r(shift(x_eq, 0, 1))), mp(features_r(x_eq)))
assert equivariance < 1e-12 and invariance < 1e-12 and pooled_by_2 < 1e-12
assert pooled_by_1 > 0.1  # 0.7 here: a 1-pixel shift changes some pooled values by most of their size
print("f = conv → ReLU is equivariant: f(shift(x, d)) = shift(f(x), d)           max rel. difference < 1e-12")
print("global average pool, invariant: gap(f(shift(x, d))) = gap(f(x))           max rel. difference < 1e-12")
print("2×2 max pool, 2-pixel shift:    pool(f(shift(x, 2))) = shift(pool(f(x)), 1) max rel. difference < 1e-12")
print("2×2 max pool, 1-pixel shift:    pool(f(shift(x, 1))) ≠ pool(f(x))         max rel. difference "
      f"≈{pooled_by_1:.1f}")

# %% [markdown]
# **How invariant is 2 × 2 pooling?** Between "exactly equivariant" and "exactly invariant" lies a measurement. We
# shift digits by one pixel in each of the four directions and measure the relative change
# $\lVert f(\text{shifted}) - f(x)\rVert / \lVert f(x)\rVert$ of the ReLU feature maps without pooling, after 2 × 2
# max and average pooling, and after global average pooling. The answer depends on the filters, so we measure it
# for 21 filter banks — the four hand-made filters above and 20 banks of four random filters — each on 3 disjoint
# sets of 200 digits: 63 runs, reported as mean and range.

# %%
banks = [conv] + [lb.Conv2d(1, 4, 3, padding=1, rng=seed, dtype=np.float64) for seed in range(1, 21)]
poolings = {"no pooling": lb.Identity(), "max 2×2": lb.MaxPool2d(2), "average 2×2": lb.AvgPool2d(2),
            "global average": lb.GlobalAvgPool2d()}
moves = [(0, 1), (1, 0), (0, -1), (-1, 0)]
change = {name: [] for name in poolings}  # one mean relative change per (filter bank, image set)
for bank in banks:
    for k in range(3):
        batch = canvas[200 * k:200 * (k + 1)]
        maps_still = relu(bank(batch))
        maps_moved = [relu(bank(shift(batch, dy, dx))) for dy, dx in moves]  # computed once, pooled four ways
        for name, pool_ in poolings.items():
            before = pool_(maps_still).reshape(len(batch), -1)
            rel = [np.linalg.norm(pool_(m).reshape(len(batch), -1) - before, axis=1) / np.linalg.norm(before, axis=1)
                   for m in maps_moved]
            change[name].append(np.mean(rel))
change = {name: np.array(v) for name, v in change.items()}
runs = len(change["no pooling"])
for name, v in change.items():
    if name == "global average":
        print(f"{name:>15}: relative change < 1e-12 in all {runs} runs (exactly invariant)")
    else:
        print(f"{name:>15}: mean relative change ≈{v.mean():.2f}  (range ≈{v.min():.2f} to ≈{v.max():.2f})")
kept = {name: change[name] / change["no pooling"] for name in ("max 2×2", "average 2×2")}
for name, ratio in kept.items():
    print(f"{name} keeps ≈{ratio.min():.2f} to ≈{ratio.max():.2f} of the change without pooling")
# the 63 runs: no pooling 0.56-1.19; max/none 0.60-0.79, avg/none 0.58-0.75 (pooling removes 20-40 %, in every
# run); the bounds leave room for other images and filters, not for round-off, which is far below 0.01
assert np.all((0.5 < change["no pooling"]) & (change["no pooling"] < 1.3)) and np.all(change["global average"] < 1e-12)
assert all(np.all((0.55 < ratio) & (ratio < 0.85)) for ratio in kept.values())
# max vs average pooling: the sign of the difference depends on the filter bank (measured -0.027 to +0.038, no
# run within 2e-4 of 0, so round-off cannot flip a sign), small next to the spread of either over the runs (0.37)
max_vs_avg = change["max 2×2"] - change["average 2×2"]
assert np.any(max_vs_avg < 0) and np.any(max_vs_avg > 0) and np.abs(max_vs_avg).max() < 0.05
assert np.abs(max_vs_avg).max() < 0.2 * min(np.ptp(change["max 2×2"]), np.ptp(change["average 2×2"]))
assert np.abs(max_vs_avg).min() > 1e-6 and np.sum(max_vs_avg < 0) == 17  # a count exact on any CPU
print(f"max minus average pooling, run by run: ≈{max_vs_avg.min():.3f} to ≈{max_vs_avg.max():.3f} "
      f"(negative in {np.sum(max_vs_avg < 0)} of the {runs} runs)")

plt.figure(figsize=(6, 2.5))
names_p = list(change)
means = [change[n].mean() for n in names_p]
spread = [[change[n].mean() - change[n].min() for n in names_p], [change[n].max() - change[n].mean() for n in names_p]]
plt.barh(names_p, means, xerr=spread, capsize=4, color=["C7", "C1", "C2", "C0"])
plt.xlabel(f"relative change of the features after a 1-pixel shift\n(bars: mean of {runs} runs, whiskers: range)")
plt.gca().invert_yaxis()
plt.show()

# %% [markdown]
# Without pooling a 1-pixel shift changes the feature maps by roughly half to all of their size, depending on the
# filters (above 1: the shifted maps differ from the originals by more than the originals' own size) — they are
# equivariant, not invariant: the same responses, at other positions. 2 × 2 pooling removes a fifth to two fifths of
# that change, in every run. Which of max and average pooling is the more invariant depends on the filters: the
# difference changes sign from bank to bank and stays below 0.04 either way, while the filters move either by
# about 0.4 — on this measurement the two are indistinguishable. A shift that keeps a window's maximum inside that
# window can leave the pooled value unchanged, but a 1-pixel shift moves the content of every other row (or column)
# into the neighbouring window. A deep network has several pooling stages, each discarding more of the position; global
# average pooling, which keeps only *how much* of each feature is present, is exactly invariant as long as the
# object stays in the image.
#
# ## 4.5 Flatten: from feature maps to a dense layer
#
# Convolution and pooling produce maps of shape (N, C, H, W); a dense layer expects vectors (N, D). The
# **flatten** layer is the bridge: it lays each sample's C·H·W numbers out in one row, channel by channel and row
# by row. It has no parameters and computes nothing; its backward pass reshapes the incoming gradient back to
# the maps' shape, so that it can flow into the pooling and convolution layers.

# %%
flatten = lb.Flatten()
flat = flatten(pooled)
print("before:", pooled.shape, " after:", flat.shape)
c, h, w = 2, 1, 3
assert flat[0, c * 16 + h * 4 + w] == pooled[0, c, h, w]  # value (c, h, w) sits at index c·H·W + h·W + w
grad_back = flatten.backward(np.ones_like(flat))
print("gradient from the dense layer:", flat.shape, "-> back through flatten:", grad_back.shape)
assert grad_back.shape == pooled.shape and flatten.num_parameters() == 0

# %% [markdown]
# ## 4.6 Normalisation layers
#
# Normalisation layers standardise activations to mean 0 and variance 1, then let the network choose the scale and
# offset it wants with two learned parameters, $\gamma$ and $\beta$. *Why* this helps training is less settled than
# *that* it helps. Batch norm's inventors (Ioffe and Szegedy, 2015) argued that the distribution of a layer's inputs
# shifts during training, because every update of the layers below changes it ("internal covariate shift"), and
# that fixing its mean and variance removes the problem. Santurkar et al. (2018) tested that hypothesis: adding
# noise after each batch-norm layer, which shifts the distributions on purpose, took little of the benefit away;
# they argue that batch norm instead makes the loss surface smoother, so that larger steps are safe. Both are
# explanations; what this section measures is the effect (a deep network with and without batch norm, below).
#
# **Batch normalisation.** For a mini-batch of shape (N, D) — N samples, D features — each feature $j$ gets the
# mean and variance over the batch, and
#
# $$\hat x_{nj} = \frac{x_{nj} - \mu_j}{\sqrt{\sigma_j^2 + \epsilon}},\qquad y_{nj} = \gamma_j\, \hat x_{nj} + \beta_j,
# \qquad \mu_j = \tfrac1N\textstyle\sum_n x_{nj},\quad \sigma_j^2 = \tfrac1N\sum_n (x_{nj} - \mu_j)^2.$$
#
# ($\epsilon = 10^{-5}$ avoids a division by zero; it makes the output variance $\sigma^2/(\sigma^2 + \epsilon)$, a
# hair below 1 for features that barely vary, like the second one below.) Below, a batch of 64 samples with 5
# features of very different scales goes through `lb.BatchNorm1d` in training mode.

# %%
rng = np.random.default_rng(0)
true_mean, true_std = np.array([5.0, -3.0, 0.0, 100.0, 0.5]), np.array([2.0, 0.1, 1.0, 30.0, 5.0])
xb = rng.normal(true_mean, true_std, size=(64, 5))

bn = lb.BatchNorm1d(5, dtype=np.float64)  # γ = bn.weight (starts at 1), β = bn.bias (starts at 0)
yb = bn(xb)
print(f"per-feature mean before: ≈{xb.mean(axis=0).round(2)}   after: {yb.mean(axis=0).round(4) + 0}")  # + 0: no −0
print(f"per-feature var  before: ≈{xb.var(axis=0).round(2)}   after: ≈{yb.var(axis=0).round(4)}")
assert np.allclose(yb.mean(axis=0), 0, atol=1e-10) and np.allclose(yb.var(axis=0), 1, atol=2e-3)
assert np.allclose(yb.var(axis=0), xb.var(axis=0) / (xb.var(axis=0) + 1e-5))  # ε's tiny effect, exactly

by_hand = (xb - xb.mean(axis=0)) / np.sqrt(xb.var(axis=0) + 1e-5)  # the formula, written out
assert np.allclose(yb, by_hand)

# %% [markdown]
# **γ and β.** Forcing every feature to mean 0 and variance 1 could remove information the next layer needs (for
# example, push every sigmoid input into its linear middle part). The learned scale $\gamma$ and shift $\beta$
# give that freedom back: the output has mean $\beta_j$ and standard deviation $\gamma_j$, and with
# $\gamma = \sigma$, $\beta = \mu$ the layer could even undo the normalisation. They are trained by gradient
# descent like any weight.

# %%
bn.weight.value[...] = [1.0, 2.0, 0.5, 1.0, 3.0]  # γ
bn.bias.value[...] = [0.0, 1.0, -1.0, 10.0, 0.0]  # β
yb = bn(xb)
print(f"mean: {yb.mean(axis=0).round(3) + 0}   std: ≈{yb.std(axis=0).round(3)}")  # the mean is β up to ~1e-15
assert np.allclose(yb.mean(axis=0), bn.bias.value) and np.allclose(yb.std(axis=0), bn.weight.value, rtol=2e-3)

# %% [markdown]
# **Training vs evaluation.** In training mode the statistics come from the current batch, so one sample's output
# depends on the other samples in its batch. That is acceptable during training (the noise it adds is often said
# to act as a mild regulariser; not measured here) but not when the trained model is used: a prediction must not
# depend on what else happens to be in the batch, and a batch may hold a single sample. So the layer keeps
# **running averages** of the batch statistics during training,
#
# $$\mu_{\text{run}} \leftarrow (1 - m)\,\mu_{\text{run}} + m\,\mu_{\text{batch}},\qquad m = 0.1\ (\texttt{momentum}),$$
#
# and likewise for $\sigma^2$, with one difference: the running average takes the *unbiased* batch variance
# $\tfrac{N}{N-1}\sigma^2_{\text{batch}}$ (÷ (N − 1) instead of ÷ N), as PyTorch does. The batch itself is
# normalised with the ÷ N variance of the formula above; the running value is an estimate of the variance of all
# the data, and from N samples ÷ (N − 1) is the unbiased estimate. In evaluation mode (`model.eval()`) the layer
# uses the running averages and becomes a fixed affine map. The cell repeats the updates by hand, both ways.

# %%
bn = lb.BatchNorm1d(5, dtype=np.float64)
run_mean, run_var, run_var_biased = np.zeros(5), np.ones(5), np.ones(5)  # where the layer's averages start
for _ in range(100):  # 100 training batches from the same distribution
    batch = rng.normal(true_mean, true_std, size=(64, 5))
    bn(batch)
    run_mean = 0.9 * run_mean + 0.1 * batch.mean(axis=0)  # momentum m = 0.1
    run_var = 0.9 * run_var + 0.1 * batch.var(axis=0, ddof=1)  # ÷ (N − 1): what the layer stores
    run_var_biased = 0.9 * run_var_biased + 0.1 * batch.var(axis=0)  # ÷ N: the formula of the batch itself
assert lb.rel_error(run_mean, bn.running_mean) < 1e-12 and lb.rel_error(run_var, bn.running_var) < 1e-12
shortfall = 1 - run_var_biased / run_var  # 1 − 63/64 = 1.6 %, up to the starting value's weight 0.9^100 ≈ 3e-5
assert np.allclose(shortfall, 1 / 64, atol=1e-4)
print("running averages by hand, σ² ÷ (N − 1), vs the layer's: relative error < 1e-12 "
      f"(with σ² ÷ N they would be ≈{100 * shortfall.mean():.1f} % smaller)")
print(f"running mean: ≈{bn.running_mean.round(2)}    true mean: {true_mean}")
print(f"running std : ≈{np.sqrt(bn.running_var).round(2)}    true std : {true_std}")
assert np.allclose(bn.running_mean, true_mean, atol=0.2 * true_std)
assert np.allclose(np.sqrt(bn.running_var), true_std, rtol=0.2)

other = rng.normal(true_mean, true_std, size=(64, 5))
other[0] = xb[0]  # the same first sample, in a different batch
for mode in ("train", "eval"):
    bn.train(mode == "train")
    out_a, out_b = bn(xb)[0], bn(other)[0]
    gap = np.abs(out_a - out_b).max()
    print(f"{mode:>5} mode: output of the same sample in two batches differs by "
          + (f"≈{gap:.2f}" if mode == "train" else f"{gap:.0f} (identical)"))
    if mode == "train":
        assert 0.1 < gap < 1  # 0.375: seeded batches (exact draws); round-off moves it by ≪ 0.01
assert np.array_equal(out_a, out_b)  # eval: independent of the batch
assert np.allclose(out_a, (xb[0] - bn.running_mean) / np.sqrt(bn.running_var + bn.eps))  # γ = 1, β = 0

# %% [markdown]
# **The backward pass of batch norm.** In training mode $\mu$ and $\sigma^2$ are computed from the batch, so each
# input $x_i$ (one feature; $i$ runs over the N samples) reaches the loss along three paths: through its own
# $\hat x_i$, through the batch variance, and through the batch mean. Write $s = \sqrt{\sigma^2 + \epsilon}$,
# $\hat x_j = (x_j - \mu)/s$, and $g_j = \gamma\,\partial L/\partial y_j = \partial L/\partial\hat x_j$.
#
# - **Directly**, $\partial\hat x_i/\partial x_i = 1/s$: the term $g_i/s$.
# - **Through the variance**: $\partial L/\partial\sigma^2 = \sum_j g_j\,(x_j - \mu)\,(-\tfrac12)s^{-3}
#   = -\frac{1}{2s^2}\sum_j g_j\hat x_j$, and $\partial\sigma^2/\partial x_i = 2(x_i - \mu)/N$ (the part through
#   $\mu$ vanishes because $\sum_j (x_j - \mu) = 0$): the term $-\frac{\hat x_i}{s}\,\mathrm{mean}(g\hat x)$.
# - **Through the mean**: $\partial L/\partial\mu = -\sum_j g_j/s$ (for the same reason, moving $\mu$ does not move
#   $\sigma^2$ to first order), and $\partial\mu/\partial x_i = 1/N$: the term $-\mathrm{mean}(g)/s$.
#
# Adding the three,
#
# $$\frac{\partial L}{\partial x_i} = \frac{1}{s}\Big(g_i - \mathrm{mean}(g) - \hat x_i\,\mathrm{mean}(g\,\hat x)\Big),
# \qquad \frac{\partial L}{\partial\gamma} = \sum_i \frac{\partial L}{\partial y_i}\,\hat x_i,\qquad
# \frac{\partial L}{\partial\beta} = \sum_i \frac{\partial L}{\partial y_i},$$
#
# with means over the batch. The extra terms make the gradients of one feature sum to zero over the batch: adding
# the same number to every sample does not change $\hat x$, so it cannot change the loss. The cell computes the
# three terms separately for a batch of 5 samples with 3 features and compares with `lb.BatchNorm1d` (training
# mode), with the compact form, and with finite differences — and shows how wrong the gradient is if the batch
# statistics are treated as constants.

# %%
rng = np.random.default_rng(5)
x_bn = rng.normal(2.0, 3.0, size=(5, 3))  # N = 5 samples, 3 features
grad_y = rng.normal(size=(5, 3))  # an incoming ∂L/∂y
bn = lb.BatchNorm1d(3, dtype=np.float64)
bn.weight.value[...], bn.bias.value[...] = [1.5, -0.5, 2.0], [0.1, 0.2, 0.3]  # γ, β
bn(x_bn)
grad_x_lib = bn.backward(grad_y)

gamma = bn.weight.value
mu, var = x_bn.mean(axis=0), x_bn.var(axis=0)
s_bn = np.sqrt(var + bn.eps)
xhat = (x_bn - mu) / s_bn
gx = gamma * grad_y  # ∂L/∂x̂, the g of the formulas
direct = gx / s_bn
through_var = -xhat / s_bn * (gx * xhat).mean(axis=0)
through_mean = -gx.mean(axis=0) / s_bn
by_hand = direct + through_var + through_mean
compact = (gx - gx.mean(axis=0) - xhat * (gx * xhat).mean(axis=0)) / s_bn
numeric = lb.gradcheck.numerical_gradient(lambda: float(np.sum(bn(x_bn) * grad_y)), x_bn)

errors_bn = {"∂L/∂x vs lb.BatchNorm1d": lb.rel_error(by_hand, grad_x_lib),
             "∂L/∂x vs the compact form": lb.rel_error(by_hand, compact),
             "∂L/∂γ vs lb.BatchNorm1d": lb.rel_error((grad_y * xhat).sum(axis=0), bn.weight.grad),
             "∂L/∂β vs lb.BatchNorm1d": lb.rel_error(grad_y.sum(axis=0), bn.bias.grad)}
assert max(errors_bn.values()) < 1e-10 and lb.rel_error(by_hand, numeric) < 1e-8
for name in errors_bn:
    print(f"{name:<28} relative error < 1e-10")
print(f"{'∂L/∂x vs finite differences':<28} relative error < 1e-8")
assert np.abs(by_hand.sum(axis=0)).max() < 1e-12
print("Σ_i ∂L/∂x_i per feature: |sum| < 1e-12")
err_direct_only = lb.rel_error(direct, by_hand)
print(f"treating μ and σ² as constants (the direct term only): relative error ≈{err_direct_only:.2f}")
assert err_direct_only > 0.3  # 0.72 here; the two missing terms are as large as the direct one

# %% [markdown]
# **What batch norm does for training, measured.** A deep stack of dense layers is where normalisation is said to
# matter most. We train a 6-hidden-layer ReLU network (64 units each) on the flattened 8 × 8 digits, with and
# without a `BatchNorm1d` after every hidden linear layer, with the same budget: plain SGD, 3 epochs of batches of
# 64 (51 steps). A learning rate that suits one network need not suit the other, so each gets its best from the grid 0.03,
# 0.1, 0.3, 1, chosen by the mean **validation** loss over 3 seeds. (A run whose loss blows up stops with
# `lb.TrainingDiverged`, and counts as a failure.) The digits are split into a test quarter and, of the rest, a fifth
# held out for validation (`stratify=True`: each digit in the same proportion in every split; chapter 5 uses the
# same split); the test set scores each chosen network once. `lb.evaluate` and `lb.predict` run the network in
# evaluation mode (`model.eval()`, above) and put its mode back afterwards, so a network is always scored with its
# running statistics and, in §4.7, without dropout.

# %%
X_flat = X_img.reshape(len(X_img), -1).astype(np.float32)  # (1797, 64): the digits for dense networks
X_rest, X_test, y_rest, y_test = lb.train_test_split(X_flat, y_img, test_size=0.25, rng=0, stratify=True)
X_fit, X_val, y_fit, y_val = lb.train_test_split(X_rest, y_rest, test_size=0.2, rng=1, stratify=True)
loss_ce = lb.CrossEntropyLoss()


def deep_mlp(batch_norm, seed, depth=6, width=64):
    """64 → (Linear → [BatchNorm1d] → ReLU) × depth → 10 logits, weights drawn from `seed`."""
    r = np.random.default_rng(seed)
    layers, d = [], X_fit.shape[1]
    for _ in range(depth):
        layers += [lb.Linear(d, width, rng=r)] + ([lb.BatchNorm1d(width)] if batch_norm else []) + [lb.ReLU()]
        d = width
    return lb.Sequential(*layers, lb.Linear(width, 10, rng=r))


rates, seeds = [0.03, 0.1, 0.3, 1.0], [0, 1, 2]
assert 3 * -(-len(X_fit) // 64) == 51  # 3 epochs of ⌈1078 / 64⌉ = 17 batches
bn_val, bn_nets = {}, {}  # (batch_norm, lr) -> validation (loss, accuracy) per seed; the trained networks
for batch_norm in (False, True):
    for lr in rates:
        runs = []
        for seed in seeds:
            net = bn_nets[batch_norm, lr, seed] = deep_mlp(batch_norm, seed)
            try:
                lb.fit(net, loss_ce, lb.SGD(net.parameters(), lr=lr), (X_fit, y_fit), epochs=3, batch_size=64,
                       rng=seed, progress=False)
                runs.append(lb.evaluate(net, loss_ce, X_val, y_val))
            except lb.TrainingDiverged:  # the loss blew up: as bad as it gets
                runs.append((np.inf, 0.1))
        bn_val[batch_norm, lr] = np.array(runs)
print(f"{'':>18} " + "  ".join(f"lr = {lr:<4}" for lr in rates) + "   (mean validation accuracy, 3 seeds)")
for batch_norm in (False, True):
    print(f"{'with batch norm' if batch_norm else 'without':>18} "
          + "  ".join(f"≈{bn_val[batch_norm, lr][:, 1].mean():.2f}    " for lr in rates))
best_lr = {bn_: min(rates, key=lambda lr: bn_val[bn_, lr][:, 0].mean()) for bn_ in (False, True)}
test_acc = {bn_: np.array([lb.evaluate(bn_nets[bn_, best_lr[bn_], s], loss_ce, X_test, y_test)[1] for s in seeds])
            for bn_ in (False, True)}
for bn_ in (False, True):
    print(f"{'with batch norm' if bn_ else 'without':>18}: validation chooses lr ≈{best_lr[bn_]}; test accuracy "
          f"≈{test_acc[bn_].mean():.2f} (seeds ≈{test_acc[bn_].min():.2f} to ≈{test_acc[bn_].max():.2f})")
# seeds 0-2 and 3-5 choose 0.1 without and 0.3 with batch norm (the neighbouring rates lose by 0.08 or more in mean
# validation loss);
# test accuracy: without 0.71-0.84, with 0.92-0.96; at lr 0.3 without batch norm 0.25-0.58, at 1 it fails
assert best_lr == {False: 0.1, True: 0.3}
assert test_acc[True].min() > test_acc[False].max() and test_acc[True].mean() > test_acc[False].mean() + 0.1
assert bn_val[True, 0.1][:, 1].min() > bn_val[False, 0.1][:, 1].max()  # better at the same learning rate too
assert all(bn_val[True, lr][:, 1].mean() > bn_val[False, lr][:, 1].mean() for lr in rates)  # at every rate (mean)
assert bn_val[False, 0.3][:, 1].max() < 0.7 and bn_val[False, 1.0][:, 1].max() < 0.3

# %% [markdown]
# With the same 51 steps, the network with batch norm reaches about 0.95 accuracy on the test set, the one without
# about 0.77, each at the learning rate its validation loss chose. Batch norm is better at every learning rate of the
# grid, and it trains at rates where the plain network fails: at 0.3 the plain network's accuracy collapses and at 1
# it stays at chance or diverges, while with batch norm 0.3 is the best rate and 1 still works. This is what both
# explanations above predict; the measurement does not tell them apart.

# %% [markdown]
# **Layer, instance and group normalisation** use the same formula, $y = \gamma\hat x + \beta$; they differ in
# *which values share a mean and a variance* — and, in one case, in the shape of $\gamma$ and $\beta$ (printed
# by the cell after the figure): batch, group and instance norm learn one $\gamma$ and one $\beta$ per channel,
# shape (C,), while layer norm, as in PyTorch, learns one per element of the shape it normalises — for
# `LayerNorm((C, H, W))`, $\gamma$ and $\beta$ of shape (C, H, W): a separate scale and shift for every channel
# *and pixel*. For a batch of feature maps (N, C, H, W), drawn as a
# cube with the H·W pixels along one edge (shaded: one set of values normalised together):
#
# - **batch norm**: one channel, over all samples and pixels — (N, H, W) per channel;
# - **layer norm**: one sample, over all its channels and pixels — (C, H, W) per sample (in transformers:
#   each token's feature vector);
# - **instance norm**: one sample and one channel — (H, W);
# - **group norm**: one sample, over a group of C/G channels — (C/G, H, W). With G = 1 it is layer norm, with
#   G = C instance norm.
#
# Only batch norm mixes different samples; the other three treat every sample alone, so they behave the same in
# training and evaluation and work with a batch of one.

# %%
N_, C_, HW_, G_ = 4, 6, 5, 2  # batch, channels, pixels, groups
panels = {  # name: (the axes one mean and variance are taken over, how many such sets there are)
    "batch norm": ("(N, H, W)", "one set per channel"),
    "layer norm": ("(C, H, W)", "one set per sample"),
    "instance norm": ("(H, W)", "one per sample and channel"),
    f"group norm (G = {G_})": ("(C/G, H, W)", "one per sample and group"),
}
masks = {name: np.zeros((N_, C_, HW_), dtype=bool) for name in panels}
masks["batch norm"][:, 0, :] = True  # one channel, every sample and pixel
masks["layer norm"][0, :, :] = True  # one sample, every channel and pixel
masks["instance norm"][0, 0, :] = True  # one sample, one channel
masks[f"group norm (G = {G_})"][0, :C_ // G_, :] = True  # one sample, one group of channels
fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
for ax, (name, (over, count)) in zip(axes, panels.items(), strict=True):
    norm_cube(ax, masks[name], name, averaged=f"mean, variance over {over}\n{count}")
plt.show()
assert [int(m.sum()) for m in masks.values()] == [N_ * HW_, C_ * HW_, HW_, C_ // G_ * HW_]  # values per set


# %% [markdown]
# The figure's claim, checked numerically: a batch of random feature maps with a different scale per sample and
# per channel goes through each layer, and we test over which axes the output has mean 0 and variance 1.

# %%
rng = np.random.default_rng(1)
N_, C_, H_, W_ = 4, 6, 3, 3
maps_in = rng.normal(size=(N_, C_, H_, W_)) * rng.uniform(0.5, 5, size=(N_, C_, 1, 1)) + rng.normal(size=(N_, C_, 1, 1))


def standardised_over(y, axes):
    """True if y has mean 0 and variance 1 over `axes`, separately for every index of the other axes."""
    return np.allclose(y.mean(axis=axes), 0, atol=1e-8) and np.allclose(y.var(axis=axes), 1, atol=1e-3)


# every check runs on the view (N, G, C/G, H, W), so that "a group of channels" is an axis too
sets = {"(N, H, W)": (0, 3, 4), "(C, H, W)": (1, 2, 3, 4), "(C/G, H, W)": (2, 3, 4), "(H, W)": (3, 4)}
layers = {
    "batch norm": (lb.BatchNorm2d(C_, dtype=np.float64), ["(N, H, W)"]),
    "layer norm": (lb.LayerNorm((C_, H_, W_), dtype=np.float64), ["(C, H, W)"]),
    f"group norm (G = {G_})": (lb.GroupNorm(G_, C_, dtype=np.float64), ["(C, H, W)", "(C/G, H, W)"]),
    "instance norm": (lb.InstanceNorm2d(C_, dtype=np.float64), ["(N, H, W)", "(C, H, W)", "(C/G, H, W)", "(H, W)"]),
}
for name, (layer, expected) in layers.items():
    out = layer(maps_in).reshape(N_, G_, C_ // G_, H_, W_)
    found = [s for s, axes in sets.items() if standardised_over(out, axes)]
    print(f"{name:>18}: mean 0, variance 1 over {', '.join(found)}")
    assert found == expected
print()
for name, (layer, _) in layers.items():  # the learned scale and shift
    print(f"{name:>18}: γ {layer.weight.shape}, β {layer.bias.shape}")
    assert layer.weight.shape == layer.bias.shape == ((C_, H_, W_) if name == "layer norm" else (C_,))


# %% [markdown]
# Each layer standardises exactly its own sets and no finer ones. Where a layer also passes a coarser test, that is
# arithmetic, not a second normalisation: if every channel of a sample has mean 0 and variance 1 (instance norm),
# so does every group of channels, the whole sample, and one channel across the batch.
#
# ## 4.7 Dropout
#
# Dropout is a regularisation technique, meant to reduce overfitting. During each training forward pass it sets
# every unit to zero with probability $p$, the **dropout rate**, independently; a dropped unit contributes nothing
# to the forward pass and, because its output is a constant 0, receives no gradient in the backward pass. The units
# that survive are scaled by $1/(1-p)$:
#
# $$y_i = \frac{m_i\, x_i}{1 - p},\quad m_i \sim \text{Bernoulli}(1 - p)\qquad\Rightarrow\qquad
# \mathbb E[y_i] = \frac{(1-p)\,x_i}{1-p} = x_i,$$
#
# so the expected sum of the inputs that the next layer sees is the same with and without dropout. (Without the
# scaling it would shrink to $(1-p)\sum_i x_i$ in training, and the next layer would see larger inputs at test
# time than it was trained on.) We check this empirically over 20,000 draws of the mask: the average sum must lie
# within 4 standard errors of $\sum_i x_i$ (a margin a correct layer misses with probability below 1 in 10,000).
#
# (The notes say "a specified fraction of neurons" is set to 0. Not exactly: every unit is dropped independently,
# so the *number* dropped in one forward pass is random — Binomial($n$, $p$), with mean $np$ and standard deviation
# $\sqrt{np(1-p)}$ — and only its average is the fraction $p$. The cell counts it in every one of the 20,000 passes.)

# %%
p = 0.3
dropout = lb.Dropout(p, rng=0)
x_units = np.random.default_rng(2).uniform(0, 1, size=100)  # the activations of 100 units
draws = dropout(np.tile(x_units, (20_000, 1)))  # 20,000 independent masks in one call

print(f"fraction of units dropped: {np.mean(draws == 0):.3f} (p = {p})")
kept = draws != 0
print(f"kept values are x / (1 − p): {np.allclose(draws[kept], np.tile(x_units, (20_000, 1))[kept] / (1 - p))}")
sums = draws.sum(axis=1)
std_error = sums.std() / np.sqrt(len(sums))
print(f"sum of the inputs: ≈{x_units.sum():.2f};  mean sum with dropout: ≈{sums.mean():.2f} ± ≈{std_error:.2f};"
      f"  without the 1/(1−p) scaling: ≈{(sums * (1 - p)).mean():.2f}")
assert abs(np.mean(draws == 0) - p) < 0.01
n_dropped = (draws == 0).sum(axis=1)  # units dropped in each forward pass (x_units has no zeros)
print(f"units dropped per pass (of 100): from {n_dropped.min()} to {n_dropped.max()}, mean {n_dropped.mean():.1f}, "
      f"std ≈{n_dropped.std():.2f} (Binomial: mean {100 * p:.0f}, std {np.sqrt(100 * p * (1 - p)):.2f})")
assert n_dropped.min() < 20 and n_dropped.max() > 40  # not a fixed number (integers from the seeded mask: exact)
assert abs(n_dropped.mean() - 100 * p) < 0.2 and abs(n_dropped.std() - np.sqrt(100 * p * (1 - p))) < 0.2
assert abs(sums.mean() - x_units.sum()) < 4 * std_error  # tolerance: 4 standard errors of the mean over draws
assert abs((sums * (1 - p)).mean() - (1 - p) * x_units.sum()) < 4 * std_error

# %% [markdown]
# **Training vs evaluation.** Dropout is only active in training mode. In evaluation mode the layer is the
# identity — all units, no scaling — and, because of the $1/(1-p)$ scaling during training, the next layer sees
# inputs of the same expected size in both modes. In the backward pass the gradient flows only through the units
# that were kept, scaled by the same $1/(1-p)$.

# %%
dropout.train()
y_train = dropout(x_units[None])
g = dropout.backward(np.ones_like(y_train))
assert np.array_equal(g == 0, y_train == 0) and np.allclose(g[g != 0], 1 / (1 - p))  # dropped units get no gradient
dropout.eval()
assert np.array_equal(dropout(x_units[None]), x_units[None])  # eval: the identity
print("train:", y_train[0, :6].round(3), "\neval :", dropout(x_units[None])[0, :6].round(3))

# %% [markdown]
# **Why it regularises** — the explanation of dropout's authors (Srivastava et al., 2014); the cell after it
# measures the effect, not the explanation. A network trained with dropout cannot rely on any particular unit being
# present, so it cannot build fragile co-adaptations where one unit only corrects another's mistakes on specific training
# examples; every unit must be useful on its own, in many random sub-networks. Training thus fits an ensemble of
# exponentially many "thinned" networks that share weights, and evaluation with all units (thanks to the scaling)
# approximates averaging their predictions — exactly so only for a single linear layer; with non-linear layers in
# between it is an approximation. Whether dropout helps a particular model, and at which rate, is decided like
# any other choice: by the loss on a validation split, comparing over several seeds. Rates commonly used:
# $p = 0.5$ for large dense layers, $0.1$–$0.3$ elsewhere.
#
# **Whether it helps, measured.** Dropout can only help where there is something to overfit. We train a
# 64 → 128 → 10 network with dropout after its hidden layer on only 200 of the training digits — 50 epochs of SGD
# (momentum 0.9, learning rate 0.05, batches of 40), enough to fit them almost perfectly — with $p$ = 0, 0.2, 0.5,
# 0.7 and 3 seeds each, in two settings: the correct labels, and the same images with 60 of the 200 labels
# replaced by a wrong digit (a careless labeller; the validation and test labels stay correct). The validation
# loss decides: a rate counts as helping only if every one of its runs beats every run without dropout (its worst
# validation loss below the best one at $p = 0$); among those the lowest mean loss wins, and if none helps, $p = 0$
# stays. The test set then scores the chosen network of each setting once.

# %%
X_small, y_small = X_fit[:200], y_fit[:200]
r_labels = np.random.default_rng(0)
wrong = r_labels.choice(200, size=60, replace=False)  # the labels the careless labeller got wrong
y_noisy = y_small.copy()
y_noisy[wrong] = (y_small[wrong] + r_labels.integers(1, 10, size=60)) % 10  # another digit, never the right one
settings = {"correct labels": y_small, "60 wrong labels": y_noisy}
rates_p = [0.0, 0.2, 0.5, 0.7]
drop_val, drop_nets = {}, {}  # (setting, p) -> validation (loss, accuracy) per seed; the trained networks
for setting, labels in settings.items():
    for p_ in rates_p:
        runs = []
        for seed in seeds:
            r = np.random.default_rng(seed)
            net = drop_nets[setting, p_, seed] = lb.Sequential(lb.Linear(64, 128, rng=r), lb.ReLU(),
                                                               lb.Dropout(p_, rng=seed), lb.Linear(128, 10, rng=r))
            lb.fit(net, loss_ce, lb.SGD(net.parameters(), lr=0.05, momentum=0.9), (X_small, labels), epochs=50,
                   batch_size=40, rng=seed, progress=False)
            runs.append(lb.evaluate(net, loss_ce, X_val, y_val) + (lb.evaluate(net, loss_ce, X_small, labels)[0],))
        drop_val[setting, p_] = np.array(runs)  # columns: validation loss, validation accuracy, training loss


def chosen_rate(setting):
    """The helping rate with the lowest mean validation loss; 0 if no rate beats p = 0 in every run."""
    best_without = drop_val[setting, 0.0][:, 0].min()
    helping = [p_ for p_ in rates_p[1:] if drop_val[setting, p_][:, 0].max() < best_without]
    return min(helping, key=lambda p_: drop_val[setting, p_][:, 0].mean()) if helping else 0.0


def memorised(net):
    """Fraction of the 60 relabelled training images on which `net` predicts the wrong label it was taught."""
    return np.mean(lb.predict(net, X_small[wrong]).argmax(axis=1) == y_noisy[wrong])


print("validation loss, mean of 3 seeds (range):")
for setting in settings:
    print(f"{setting:>16}: " + ",  ".join(f"p = {p_}: ≈{drop_val[setting, p_][:, 0].mean():.2f} "
                                          f"(≈{drop_val[setting, p_][:, 0].min():.2f}-≈{drop_val[setting, p_][:, 0].max():.2f})"
                                          for p_ in rates_p))
fit_loss = {setting: drop_val[setting, 0.0][:, 2].mean() for setting in settings}
print(f"training loss without dropout: ≈{fit_loss['correct labels']:.2f} (correct labels), "
      f"≈{fit_loss['60 wrong labels']:.2f} (60 wrong labels, measured against them)")
assert fit_loss["correct labels"] < 0.05 and fit_loss["60 wrong labels"] < 0.4  # seeds 0-5: 0.013; 0.19-0.23
choice = {setting: chosen_rate(setting) for setting in settings}
for setting in settings:
    test = [lb.evaluate(drop_nets[setting, choice[setting], s], loss_ce, X_test, y_test)[1] for s in seeds]
    print(f"{setting:>16}: chosen p ≈{choice[setting]}, test accuracy ≈{np.mean(test):.2f}")
    if setting == "correct labels":  # seeds 0-2 and 3-5: no rate beats p = 0 in every run; p = 0 scores 0.92
        assert choice[setting] == 0.0 and 0.88 < np.mean(test) < 0.96
        spread = max(np.ptp(drop_val[setting, p_][:, 0]) for p_ in rates_p)
        assert max(abs(drop_val[setting, p_][:, 0].mean() - drop_val[setting, 0.0][:, 0].mean())
                   for p_ in rates_p) < spread  # the means differ by less than one rate's runs do
    else:  # seeds 0-2 choose 0.7 (mean 0.64 against 0.80 at p = 0), seeds 3-5 0.5; test 0.81-0.85 either way
        assert choice[setting] in (0.5, 0.7) and 0.75 < np.mean(test) < 0.92
        assert drop_val[setting, choice[setting]][:, 0].mean() < drop_val[setting, 0.0][:, 0].mean() - 0.1
noisy_nets = {p_: [drop_nets["60 wrong labels", p_, s] for s in seeds] for p_ in (0.0, choice["60 wrong labels"])}
taught = {p_: np.mean([memorised(net) for net in nets]) for p_, nets in noisy_nets.items()}
print(f"wrong labels the network reproduces on its own training images: ≈{taught[0.0]:.0%} without dropout, "
      f"≈{taught[choice['60 wrong labels']]:.0%} with the chosen p")
# seeds 0-2: 93 % and 38 %; seeds 3-5: 91 % and 64 %; other relabellings (rng 1, 2): 84-87 % and 51-54 %
assert taught[0.0] > 0.75 and taught[choice["60 wrong labels"]] < taught[0.0] - 0.15

# %% [markdown]
# With correct labels, dropout changes nothing this measurement can see: every rate's validation loss lies within
# the spread of the runs without it, so by the rule $p = 0$ stays (and scores about 0.92 on the test set), although
# the network fits its 200 training digits almost perfectly. With 60 wrong labels, the network without dropout
# learns most of the wrong labels by heart — it reproduces them on its own training images — and that hurts it on
# correctly labelled digits. Dropout makes memorising single examples harder: the network reproduces far fewer of
# the wrong labels, the mean validation loss drops by about a fifth, every run with the chosen rate beats every run
# without dropout, and the chosen rate (0.5 or 0.7 depending on the seeds; the two are within each other's spread)
# scores about 0.8-0.85 on the test set. So "dropout prevents overfitting" holds where there is overfitting of this
# kind to prevent; on a small, clean, easy data set it did not help. (Stopping the training earlier is another remedy,
# not compared here.)
#
# Now all components in one small network: a 3 × 3 convolution with 4 filters, ReLU, 2 × 2 max pooling, flatten,
# and a dense layer to the 10 digit classes, scored by the cross-entropy loss of chapter 3. We run one batch
# of 16 digits through it, in float64 so that we can check gradients to many digits.

# %%
model = lb.Sequential(
    lb.Conv2d(1, 4, kernel_size=3, padding=1, rng=0, dtype=np.float64),  # (N, 1, 8, 8) -> (N, 4, 8, 8)
    lb.ReLU(),
    lb.MaxPool2d(2),  # -> (N, 4, 4, 4)
    lb.Flatten(),  # -> (N, 64)
    lb.Linear(4 * 4 * 4, 10, rng=1, dtype=np.float64),  # -> (N, 10) logits
)
loss_fn = lb.CrossEntropyLoss()
xb, yb = X_img[:16], y_img[:16]

h = xb
print(f"{'input':<52}  {h.shape}")
for layer in model.layers:  # the forward pass, one layer at a time
    h = layer(h)
    print(f"{layer!r:<52}  {h.shape}")
loss = loss_fn(h, yb)
print(f"loss ≈{loss:.2f}")
assert abs(loss - 2.657) < 1e-3  # fixed seeds: machines differ only by round-off

# %% [markdown]
# **The forward order.** The notes put it as: linear transformation or convolution, then the activation, then
# pooling. Activation before pooling is the conventional order. For ReLU and max pooling the order does not even
# change the result — both are monotone, so the maximum of the ReLUs is the ReLU of the maximum — but pooling
# first would do the ReLU on 4× fewer values. (For average pooling the order matters; see the exercises.)

# %%
maps_pre = model[0](xb)
assert np.array_equal(lb.MaxPool2d(2)(lb.ReLU()(maps_pre)), lb.ReLU()(lb.MaxPool2d(2)(maps_pre)))

# %% [markdown]
# **The backward pass.** Backpropagation starts at the loss: `loss_fn.backward()` gives $\partial L/\partial z$
# for the logits. Then it visits **every** layer in reverse order. Each layer receives the gradient with respect to
# its output, *accumulates* the gradients of its own parameters in `param.grad`, and returns the gradient with
# respect to its input, which becomes the next (earlier) layer's incoming gradient. Layers without parameters
# (ReLU, pooling, flatten) still pass the gradient on: ReLU zeroes it where the unit was off, max pooling routes
# it to the maximum of each window, flatten reshapes it.

# %%
model.zero_grad()
g = loss_fn.backward()  # ∂L/∂logits, shape (16, 10)
print(f"{'∂L/∂logits':<52}  {g.shape}")
for layer in reversed(model.layers):
    g = layer.backward(g)
    params = ", ".join(f"∂L/∂{name} {p.grad.shape}" for name, p in layer.named_parameters())
    print(f"{layer!r:<52}  ∂L/∂input {g.shape}" + (f";  {params}" if params else ""))

# %% [markdown]
# **Checking every gradient.** `lb.check_module` compares the backward pass of the whole model — with respect to
# the input and to every parameter — with central finite differences $(f(w+h) - f(w-h))/2h$. We also check the
# gradient of the cross-entropy *loss* with respect to the first layer's parameters directly. Finite differences
# are unreliable exactly at the kinks of ReLU and max pooling, and the digits have many pixels exactly 0 (where
# several windows tie); adding a little noise to the input moves us away from those kinks.

# %%
x_check = xb[:4] + 0.01 * np.random.default_rng(3).standard_normal(xb[:4].shape)  # 4 images keep this quick
y_check = yb[:4]
errors = lb.check_module(model, x_check)

model.zero_grad()
loss_fn(model(x_check), y_check)
model.backward(loss_fn.backward())
conv_layer = model[0]  # the first layer: its gradient went through every other layer and the loss
for name, p in conv_layer.named_parameters():
    numeric = lb.gradcheck.numerical_gradient(lambda: loss_fn(model(x_check), y_check), p.value)
    errors[f"loss → conv.{name}"] = lb.rel_error(p.grad, numeric)
# float64 with h = 1e-5: the errors are 1e-11-1e-10 (finite-difference truncation and round-off; they vary
# with the machine); a wrong backward pass would give 1e-2 or more
assert max(errors.values()) < 1e-8
for name in errors:
    print(f"{'check_module, ' + name if '→' not in name else name:<28} relative error < 1e-8")

# %% [markdown]
# **Updating.** Only when *all* gradients have been computed does the optimizer update the parameters — every
# layer's at once, $w \leftarrow w - \eta\, \partial L/\partial w$. One SGD step lowers the loss on this batch:

# %%
model.zero_grad()
loss_before = loss_fn(model(xb), yb)
model.backward(loss_fn.backward())
lb.SGD(model.parameters(), lr=0.5).step()
loss_after = loss_fn(model(xb), yb)
print(f"loss before the step ≈{loss_before:.2f}, after ≈{loss_after:.2f}")
assert loss_after < loss_before - 0.3  # fixed seeds: 2.657 → 2.268; round-off moves these by ≪ 0.01

# %% [markdown]
# **Computing gradients vs updating.** The notes describe the backward pass as "compute the gradients of the
# output layer, update its weights and biases, then repeat for the hidden layers". That order is risky. The
# gradient a layer passes down depends on its weights — for the dense layer $\partial L/\partial x = g\,\mathbf W$.
# If the output layer is updated *first* and the gradient is then passed down through the *new* weights, the
# hidden layers receive the gradient of a different network, not of the loss at the current parameters. The cell
# does exactly that and compares with finite differences.

# %%
model.zero_grad()
loss_fn(model(x_check), y_check)
g_logits = loss_fn.backward()
linear = model[4]
true_g = linear.backward(g_logits)  # ∂L/∂(flattened features), through the weights used in the forward pass
saved = linear.weight.value.copy()
linear.weight.value -= 0.5 * linear.weight.grad  # "update the output layer" first …
stale_g = linear.backward(g_logits)  # … then pass the gradient down through the new weights
linear.weight.value[...] = saved

features_in = model[:4](x_check).copy()  # a layer's output is read-only; the checker nudges its own copy
numeric = lb.gradcheck.numerical_gradient(lambda: loss_fn(linear(features_in), y_check), features_in)
err_true, err_stale = lb.rel_error(true_g, numeric), lb.rel_error(stale_g, numeric)
assert err_true < 1e-6 and err_stale > 1e-2
print(f"gradient passed down vs finite differences: correct order < 1e-6, update-first ≈{err_stale:.2f}")
model.zero_grad()

# the variant of the next paragraph: update each layer as soon as its own backward has returned
start = [p.value.copy() for p in model.parameters()]
loss_fn(model(x_check), y_check)
model.backward(loss_fn.backward())
lb.SGD(model.parameters(), lr=0.5).step()  # the clean rule: all gradients, then one step
after_clean = [p.value.copy() for p in model.parameters()]
for p, v in zip(model.parameters(), start, strict=True):
    p.value[...] = v
model.zero_grad()
loss_fn(model(x_check), y_check)
g = loss_fn.backward()
for layer in reversed(model.layers):
    g = layer.backward(g)  # the gradient passed down is computed with the layer's old weights …
    if layer.parameters():
        lb.SGD(layer.parameters(), lr=0.5).step()  # … and only then is this layer updated
same = all(np.array_equal(p.value, v) for p, v in zip(model.parameters(), after_clean, strict=True))
assert same  # the same operations on the same numbers: identical bit for bit
print("updating each layer right after its own backward: parameters identical to backward-then-step:", same)
for p, v in zip(model.parameters(), start, strict=True):
    p.value[...] = v
model.zero_grad()

# %% [markdown]
# So the clean rule, used by every framework (`loss.backward()` then `optimizer.step()` in PyTorch), is: a
# backward pass through all layers computes all gradients at the current parameters; then one optimizer step
# updates all parameters. (Updating a layer right after its own `backward` returned gives the same numbers — the
# cell above checks it: the gradient the layer passed down was computed with its old weights — but it is
# fragile, and anything that looks at all gradients together, such as clipping them by their global norm (scaling
# every gradient down by one factor when the norm of all of them together exceeds a limit), needs
# the full backward pass first anyway.)
#
# ## Summary
#
# | layer | computes | parameters | shape |
# |---|---|---|---|
# | `Linear(D_in, D_out)` | $z = x\mathbf W^\top + b$ | W, b | (N, D_in) → (N, D_out) |
# | `Conv2d(C_in, C_out, K, S, P)` | filters slid over the image | W (C_out,C_in,K,K), b | H → ⌊(H+2P−K)/S⌋+1 |
# | `MaxPool2d(K)`, `AvgPool2d(K)` | max / mean per window | — | H → ⌊(H − K)/S⌋ + 1, channels kept |
# | `BatchNorm1d/2d`, `LayerNorm`, `GroupNorm`, `InstanceNorm2d` | standardise, then γ x̂ + β | γ, β | unchanged |
# | `Dropout(p)` | zero with prob. p, scale 1/(1−p); identity in eval | — | unchanged |
# | `Flatten()` | (N, C, H, W) → (N, C·H·W) | — | |
# | `ReLU`, `Sigmoid`, `Tanh`, `Softmax` | element-wise (softmax: per row) non-linearity | — | unchanged |
#
# The backward passes derived and checked in this chapter ($g = \partial L/\partial y$ the incoming gradient, bars
# are means over the batch; \*batch norm in training mode):
#
# | layer | ∂L/∂input | ∂L/∂weight;  ∂L/∂bias (or γ; β) |
# |---|---|---|
# | `Linear` | $g\mathbf W$ | $g^\top x$;  $\sum_n g_n$ |
# | `Softmax` | $\mathbf s\odot(g - \mathbf s\cdot g) = J^\top g$ | — |
# | softmax + `CrossEntropyLoss` (mean) | $(\mathbf p - \mathbf y)/N$ | — |
# | `Conv2d` | full convolution of the dilated $g$ with the flipped kernel, cropped | $x\star g$;  $\sum g$ |
# | `MaxPool2d` | $g$ routed to each window's maximum (the first, on ties) | — |
# | `AvgPool2d` | $g/k^2$ to every input of the window | — |
# | `BatchNorm`* | $(g' - \overline{g'} - \hat x\overline{g'\hat x})/s$, $g'=\gamma g$ | $\sum g\hat x$; $\sum g$ |
#
# ## Exercises
#
# The check cell after each exercise says what is wrong and gives a hint, never the answer. Exercises 4.3-4.7 and
# 4.10 are "implement it": write a layer's forward or backward pass and compare it with the library's. While the
# check runs your function, it switches off littlebook's own version of what you are writing (`your_code_only`
# below, built on `ex.forbidden`), so that a solution which only calls the library fails.

# %%
def your_code_only(number, fn, *library):
    """`fn`, run with each of littlebook's functions named in `library` ("littlebook.Linear.forward") refused."""
    def run(*args, **kwargs):
        with ex.forbidden(number, *library, hint="write it with numpy operations, not littlebook's own version"):
            return fn(*args, **kwargs)
    return run


# %% [markdown]
# **4.1 (output size).** A 28 × 28 MNIST image goes through `Conv2d(1, 8, kernel_size=5, stride=2, padding=1)`.
# What is the height of the output? What padding keeps 28 × 28 with a 5 × 5 kernel and stride 1?

# %%
# Exercise 4.1: the output height, and the "same" padding for K = 5
### BEGIN SOLUTION
height = (28 + 2 * 1 - 5) // 2 + 1
same_padding = (5 - 1) // 2
### END SOLUTION

# %%
ex.check_digest("4.1", height, "3fdba35f04dc8c46", name="height",
                hint="⌊(H + 2P − K)/S⌋ + 1: the floor drops a window that does not fit")
ex.check_digest("4.1", same_padding, "d4735e3a265e16ee", name="same_padding",
                hint="with stride 1 the map shrinks by K − 1; pad half of that on each side")

# %% [markdown]
# **4.2 (parameters).** How many parameters does `Conv2d(3, 16, kernel_size=3)` have? How many would a dense layer
# need to map a 3 × 32 × 32 image to an output of the same size as the convolution's (16 × 30 × 30)?

# %%
# Exercise 4.2: the parameter counts of the convolution and of the equivalent dense layer
### BEGIN SOLUTION
conv_params = 16 * 3 * 3 * 3 + 16
dense_params = (3 * 32 * 32) * (16 * 30 * 30) + 16 * 30 * 30
### END SOLUTION

# %%
ex.check_digest("4.2", conv_params, "a4ecdd704d258aa8", name="conv_params",
                hint="16 filters, each with one weight per input channel and kernel position, and one bias each")
ex.check_digest("4.2", dense_params, "ba04e3fd118fb912", name="dense_params",
                hint="one weight per (input value, output value) pair, plus one bias per output value")

# %% [markdown]
# **4.3 (implement it: a dense layer's backward pass, on sequences).** `lb.Linear` also takes a batch of sequences
# x of shape (N, T, D_in) and applies the same map at every position: $z_{nt} = \mathbf W x_{nt} + \mathbf b$, of
# shape (N, T, D_out). For the 2 → 3 layer of section 4.1, write the backward pass: from $\partial L/\partial z$
# (N, T, 3) return $\partial L/\partial x$ (N, T, 2), $\partial L/\partial\mathbf W$ (3, 2) and
# $\partial L/\partial\mathbf b$ (3,).

# %%
# Exercise 4.3: linear_backward(x, W, grad_z) -> (∂L/∂x, ∂L/∂W, ∂L/∂b) for x of shape (N, T, D_in)
def linear_backward(x, W, grad_z):
    ### BEGIN SOLUTION
    g_rows, x_rows = grad_z.reshape(-1, W.shape[0]), x.reshape(-1, W.shape[1])  # the N·T positions as rows
    return grad_z @ W, g_rows.T @ x_rows, g_rows.sum(axis=0)
    ### END SOLUTION


# %%
def linear_backward_library(x, W, grad_z):
    lin = lb.Linear(W.shape[1], W.shape[0], dtype=np.float64)
    lin.weight.value[...] = W
    lin(x)
    grad_x = lin.backward(grad_z)
    return (grad_x, lin.weight.grad, lin.bias.grad)


rng = np.random.default_rng(9)
W_ex = np.array([[1.0, -1.0], [0.5, 0.5], [-2.0, 1.0]])  # the layer of section 4.1
yours_linear = your_code_only("4.3", linear_backward, "littlebook.Linear.forward", "littlebook.Linear.backward")
ex.check_function("4.3", yours_linear, linear_backward_library,
                  inputs=[(rng.normal(size=(4, 5, 2)), W_ex, rng.normal(size=(4, 5, 3))),
                          (rng.normal(size=(1, 3, 2)), W_ex, rng.normal(size=(1, 3, 3))),
                          (rng.normal(size=(3, 1, 2)), W_ex, rng.normal(size=(3, 1, 3)))],
                  name="linear_backward", hint="z_nti = Σ_j W_ij x_ntj + b_i: differentiate by x_ntj, by W_ij and by "
                  "b_i; a weight is shared by every sample n and every position t, so its gradient sums over both")

# %% [markdown]
# **4.4 (implement it: convolution with loops).** Write the forward pass of `Conv2d` directly from the formula of
# section 4.3, with loops over samples, output channels and output positions: pad the input, cut out each
# $C_{in}\times K\times K$ patch, multiply it element-wise with the filter, sum, add the bias.

# %%
# Exercise 4.4: conv2d_loops(x, weight, bias, stride, padding) -> (N, C_out, Ho, Wo), with explicit loops
def conv2d_loops(x, weight, bias, stride=1, padding=0):
    ### BEGIN SOLUTION
    N, _, H, W = x.shape
    C_out, _, K, _ = weight.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho, Wo = (H + 2 * padding - K) // stride + 1, (W + 2 * padding - K) // stride + 1
    y = np.zeros((N, C_out, Ho, Wo))
    for n in range(N):
        for o in range(C_out):
            for i in range(Ho):
                for j in range(Wo):
                    patch = xp[n, :, i * stride:i * stride + K, j * stride:j * stride + K]
                    y[n, o, i, j] = np.sum(patch * weight[o]) + bias[o]
    return y
    ### END SOLUTION


# %%
def conv2d_library(x, weight, bias, stride=1, padding=0):
    layer = lb.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2], stride=stride, padding=padding,
                      dtype=np.float64)
    layer.weight.value[...], layer.bias.value[...] = weight, bias
    return layer(x)


library_conv = ["littlebook.Conv2d.forward", "littlebook.functional.im2col", "littlebook.kernels.im2col",
                "littlebook.kernels.conv2d_im2col", "littlebook.kernels.conv2d_im2col_reference"]
rng = np.random.default_rng(8)
conv_inputs = [(rng.normal(size=(2, 3, 7, 7)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4), S, P)
               for S, P in [(1, 0), (1, 1), (2, 1), (3, 2)]]
ex.check_function("4.4", your_code_only("4.4", conv2d_loops, *library_conv), conv2d_library, inputs=conv_inputs,
                  name="conv2d_loops", hint="output (i, j) starts at row i·S, column j·S of the *padded* input; "
                  "Ho = ⌊(H + 2P − K)/S⌋ + 1")

# %% [markdown]
# **4.5 (implement it: convolution as one matrix product).** Loops over output positions are slow in Python. Write
# `im2col(x, K, stride, padding)`, the matrix with one row per (input channel $c$, kernel row $u$, kernel column
# $v$) and one column per (sample $n$, output row $i$, output column $j$), holding the padded input value
# $x^{\text{padded}}_{n,c,\,iS+u,\,jS+v}$ that weight $W_{\cdot,c,u,v}$ meets at that output: shape
# $(C_{in}K^2,\ N H_{out} W_{out})$, rows in the order $(c, u, v)$ of `weight.reshape(C_out, -1)`'s columns, columns
# in the order $(n, i, j)$ — littlebook's layout. Loop over the $K\times K$ kernel offsets only, copying one strided
# slice of the padded input each time. Then write `conv2d_im2col`: every output at once as (filters reshaped to
# $C_{out}\times C_{in}K^2$) @ (your matrix), plus the bias, reshaped to (N, C_out, Ho, Wo). The check compares your
# matrix with `lb.functional.im2col` and your output with `lb.Conv2d`.

# %%
# Exercise 4.5: im2col(x, K, stride, padding) -> (C·K·K, N·Ho·Wo), and conv2d_im2col: one matrix product
def im2col(x, K, stride=1, padding=0):
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho, Wo = (H + 2 * padding - K) // stride + 1, (W + 2 * padding - K) // stride + 1
    cols = np.empty((C, K, K, N, Ho, Wo))
    for u in range(K):
        for v in range(K):  # the input values that weight (·, c, u, v) meets, at every output position
            cols[:, u, v] = xp[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride].transpose(1, 0, 2, 3)
    return cols.reshape(C * K * K, N * Ho * Wo)
    ### END SOLUTION


def conv2d_im2col(x, weight, bias, stride=1, padding=0):
    ### BEGIN SOLUTION
    N, _, H, W = x.shape
    C_out, _, K, _ = weight.shape
    Ho, Wo = (H + 2 * padding - K) // stride + 1, (W + 2 * padding - K) // stride + 1
    y = weight.reshape(C_out, -1) @ im2col(x, K, stride, padding) + bias[:, None]
    return y.reshape(C_out, N, Ho, Wo).transpose(1, 0, 2, 3)
    ### END SOLUTION


# %%
im2col_inputs = [(x_, w_.shape[-1], S, P) for x_, w_, _, S, P in conv_inputs] + [
    (rng.normal(size=(1, 2, 5, 6)), 2, 2, 1)]  # a 2 × 2 kernel on a 5 × 6 image
ex.check_function("4.5", your_code_only("4.5", im2col, *library_conv),
                  lambda x, K, S, P: lb.functional.im2col(x, K, S, P), inputs=im2col_inputs, name="im2col",
                  hint="entry [(c, u, v), (n, i, j)] is xp[n, c, i·S + u, j·S + v]; the slice for offset (u, v) is "
                  "xp[:, :, u::S, v::S] cut to Ho × Wo, with the sample and channel axes swapped")
ex.check_no_python_loops("4.5", im2col, small=(rng.normal(size=(1, 2, 5, 6)), 3, 1, 1),
                         large=(rng.normal(size=(3, 2, 12, 14)), 3, 1, 1), name="im2col",
                         hint="loop over the K × K kernel offsets only: each offset is one strided slice of every "
                         "sample and position at once")
ex.check_function("4.5", your_code_only("4.5", conv2d_im2col, *library_conv), conv2d_library, inputs=conv_inputs,
                  name="conv2d_im2col", hint="the product has shape (C_out, N·Ho·Wo), its columns in the order "
                  "(n, i, j): reshape to (C_out, N, Ho, Wo), then move the sample axis first")

# %% [markdown]
# **4.6 (implement it: max-pool backward with any stride).** Write the backward pass of $k\times k$ max pooling with
# stride $s \le k$ on a batch (N, C, H, W): every output's gradient goes to the position of its window's maximum — on
# ties, to the first maximum in row-major order, as littlebook does — and everything else gets 0. With $s < k$ the
# windows overlap, and an input that is the maximum of several windows receives the sum of their gradients (the
# overlapping example of section 4.4). Rows and columns that no window covers get 0.

# %%
# Exercise 4.6: maxpool_backward(x, grad_out, k, s) -> ∂L/∂x of k×k max pooling with stride s
def maxpool_backward(x, grad_out, k, s):
    ### BEGIN SOLUTION
    N, C, Ho, Wo = grad_out.shape
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]  # (N, C, Ho, Wo, k, k)
    first = windows.reshape(N, C, Ho, Wo, k * k).argmax(axis=-1)  # np.argmax: the first maximum, row-major
    u, v = np.divmod(first, k)  # its row and column inside the window
    n, c, i, j = np.indices((N, C, Ho, Wo))
    grad_x = np.zeros_like(x)
    np.add.at(grad_x, (n, c, i * s + u, j * s + v), grad_out)  # add.at sums where overlapping windows share a max
    return grad_x
    ### END SOLUTION


# %%
def maxpool_backward_library(x, grad_out, k, s):
    pool_ = lb.MaxPool2d(k, stride=s)
    pool_(x)
    return pool_.backward(grad_out)


rng = np.random.default_rng(10)
ties = rng.integers(0, 3, size=(2, 2, 6, 6)).astype(np.float64)  # few distinct values: many ties
ex.check_function("4.6", your_code_only("4.6", maxpool_backward, "littlebook.MaxPool2d.backward",
                                        "littlebook.kernels.maxpool_backward",
                                        "littlebook.kernels.maxpool_backward_reference"),
                  maxpool_backward_library, name="maxpool_backward",
                  inputs=[(rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(2, 3, 3, 3)), 2, 2),
                          (rng.normal(size=(1, 2, 7, 7)), rng.normal(size=(1, 2, 3, 3)), 2, 2),  # row 6 not covered
                          (rng.normal(size=(2, 2, 7, 7)), rng.normal(size=(2, 2, 3, 3)), 3, 2),  # overlapping
                          (rng.normal(size=(1, 2, 5, 5)), rng.normal(size=(1, 2, 4, 4)), 2, 1),
                          (ties, rng.normal(size=(2, 2, 3, 3)), 2, 2),
                          (ties, rng.normal(size=(2, 2, 5, 5)), 2, 1)],  # ties and overlaps together
                  hint="window (i, j) starts at row i·s, column j·s; np.argmax of a flattened window returns the "
                  "first maximum in row-major order; where windows overlap, add (+=, or np.add.at), do not assign")

# %% [markdown]
# **4.7 (implement it: batch-norm backward for feature maps).** `lb.BatchNorm2d` normalises a batch of feature maps
# (N, C, H, W) per channel, over the N·H·W values of that channel (section 4.6's figure). Write its training-mode
# backward pass from $\partial L/\partial y$: return $\partial L/\partial x$ (N, C, H, W), $\partial L/\partial\gamma$
# and $\partial L/\partial\beta$ (C,). Recompute the batch statistics from x (biased variance, the given $\epsilon$).

# %%
# Exercise 4.7: batchnorm2d_backward(x, gamma, grad_y, eps) -> (∂L/∂x, ∂L/∂γ, ∂L/∂β), training mode
def batchnorm2d_backward(x, gamma, grad_y, eps=1e-5):
    ### BEGIN SOLUTION
    axes = (0, 2, 3)  # every axis but the channel's
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    s = np.sqrt(var + eps)
    xhat = (x - mu) / s
    g = np.reshape(gamma, (1, -1, 1, 1)) * grad_y
    grad_x = (g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True)) / s
    return grad_x, (grad_y * xhat).sum(axis=axes), grad_y.sum(axis=axes)
    ### END SOLUTION


# %%
def batchnorm2d_library(x, gamma, eps):
    layer = lb.BatchNorm2d(x.shape[1], eps=eps, dtype=np.float64)
    layer.weight.value[...] = gamma
    return layer


def batchnorm2d_backward_library(x, gamma, grad_y, eps):
    layer = batchnorm2d_library(x, gamma, eps)
    layer(x)
    grad_x = layer.backward(grad_y)
    return (grad_x, layer.weight.grad, layer.bias.grad)


library_bn = ["littlebook.BatchNorm2d.backward", "littlebook.BatchNorm1d.backward",
              "littlebook.kernels.batchnorm_backward", "littlebook.kernels.batchnorm_backward_reference"]
yours_bn = your_code_only("4.7", batchnorm2d_backward, *library_bn)
rng = np.random.default_rng(11)
# ε = 0.1 against channel variances ≈ 0.25: a formula that leaves ε out is wrong by percents, not by 1e-6
x_ex, gamma_ex = rng.normal(1.0, 0.5, size=(3, 3, 4, 4)), np.array([0.5, 2.0, -1.0])
ex.check_backward("4.7", lambda x: batchnorm2d_library(x, gamma_ex, 0.1)(x),
                  lambda x, g: yours_bn(x, gamma_ex, g, 0.1)[0], x_ex,
                  hint="three paths: through x̂ directly, through the channel's variance, through its mean; the means "
                  "run over N, H and W")
ex.check_function("4.7", yours_bn, batchnorm2d_backward_library, name="batchnorm2d_backward",
                  inputs=[(x_ex, gamma_ex, rng.normal(size=(3, 3, 4, 4)), 0.1),
                          (rng.normal(size=(2, 2, 3, 5)), np.ones(2), rng.normal(size=(2, 2, 3, 5)), 1e-5)],
                  hint="∂L/∂γ and ∂L/∂β have one entry per channel: sum over N, H and W")

# %% [markdown]
# **4.8 (order of activation and pooling).** "The forward order", with the small CNN at the end of §4.7, shows
# that ReLU and max pooling commute. Find a 2 × 2 window (a (1, 1, 2, 2) array) for which ReLU and *average*
# pooling do not: ReLU-then-average differs from average-then-ReLU.

# %%
# Exercise 4.8: a (1, 1, 2, 2) window where AvgPool2d(2) and ReLU do not commute
### BEGIN SOLUTION
window = np.array([[[[1.0, -1.0], [-1.0, -1.0]]]])
### END SOLUTION

# %%
ex.check_value("4.8", np.shape(window), (1, 1, 2, 2), name="the shape of window",
               hint="np.array([[[[a, b], [c, d]]]])")
ex.check_value("4.8", bool(np.all(np.isfinite(window))), True, name="whether every value of window is finite",
               hint="NaN differs even from itself: find real numbers")
relu_then_pool = lb.AvgPool2d(2)(lb.ReLU()(np.asarray(window, dtype=np.float64))).item()
pool_then_relu = lb.ReLU()(lb.AvgPool2d(2)(np.asarray(window, dtype=np.float64))).item()
ex.check_value("4.8", relu_then_pool != pool_then_relu, True, name="whether the two orders differ",
               hint="if all four values have the same sign, both orders agree: mix signs")

# %% [markdown]
# **4.9 (dropout).** A layer of 1,000 units, all with activation 1, goes through `Dropout(p=0.2)` in training mode.
# What value does a kept unit output? What is the expected sum of the 1,000 outputs? And the sum in eval mode?

# %%
# Exercise 4.9: the value of a kept unit, the expected sum in training, the sum in eval mode
### BEGIN SOLUTION
kept_value = 1 / (1 - 0.2)
expected_sum = 1000 * 0.8 * kept_value
eval_sum = 1000.0
### END SOLUTION

# %%
ex.check_digest("4.9", kept_value, "004a9e0878ff83e6", name="kept_value", hint="the kept units are scaled by 1/(1 − p)")
ex.check_digest("4.9", expected_sum, "40510175845988f1", name="expected_sum",
                hint="each unit is kept with probability 1 − p and then scaled")
ex.check_digest("4.9", eval_sum, "40510175845988f1", name="eval_sum", hint="in eval mode dropout is the identity")

# %% [markdown]
# **4.10 (implement it: fold batch norm into the layer before it).** In evaluation mode batch norm is an affine map,
# so it can be folded into the dense layer before it. Write `fold(lin, bn)` returning $\mathbf W'$, $b'$ such that
# $x\mathbf W'^\top + b'$ equals `bn(lin(x))` in eval mode (use `bn.running_mean`, `bn.running_var`, `bn.eps`,
# `bn.weight.value` = γ and `bn.bias.value` = β).

# %%
# Exercise 4.10: fold(lin, bn) -> (W', b') with x W'ᵀ + b' = bn(lin(x)) in eval mode
def fold(lin, bn):
    ### BEGIN SOLUTION
    scale = bn.weight.value / np.sqrt(bn.running_var + bn.eps)
    return scale[:, None] * lin.weight.value, scale * (lin.bias.value - bn.running_mean) + bn.bias.value
    ### END SOLUTION


# %%
rng = np.random.default_rng(4)
# ε = 0.1 and small running variances (≈ 0.3-0.6): a fold that leaves ε out is wrong by percents, not by 1e-6
lin, bn = lb.Linear(6, 3, rng=5, dtype=np.float64), lb.BatchNorm1d(3, eps=0.1, dtype=np.float64)
lin.bias.value[...] = rng.normal(size=3)
for _ in range(20):
    bn(lin(rng.normal(2.0, 0.5, size=(32, 6))))  # training batches fill the running statistics
bn.weight.value[...], bn.bias.value[...] = rng.normal(size=3), rng.normal(size=3)
bn.eval()


def folded_layer(x):
    W_f, b_f = fold(lin, bn)
    return x @ np.asarray(W_f).T + b_f


ex.check_function("4.10", folded_layer, lambda x: bn(lin(x)), inputs=[(rng.normal(2.0, 0.5, size=(10, 6)),)],
                  name="x W'ᵀ + b'", hint="eval-mode batch norm is y = s ⊙ (z − running_mean) + β with "
                  "s = γ / √(running_var + ε); substitute z = x Wᵀ + b")

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
# # 1. Machine learning
#
# Machine learning builds a relation between an input $x$ and an output $y$ not by writing the rule by hand, but
# by showing a program many examples and letting it adjust itself.
#
# **After this chapter you will be able to**
#
# - describe a learning problem as a data set $\mathscr{D}$ of pairs, a parametric model $f(x; w)$ and a loss;
# - train a model, that is find the $w^*$ that minimises the loss, both exactly and by gradient descent with
#   `littlebook`;
# - tell the *weights* (found by training) from the *hyper-parameters* (chosen by you), and choose a
#   hyper-parameter on validation data;
# - recognise the three kinds of models (regression, classification, density modelling) and train a small example
#   of each.

# %%
import matplotlib.pyplot as plt
import numpy as np

import littlebook as lb
from littlebook.density import GaussianMixture
from littlebook.plot import decision_boundary
from littlebook.widgets import polynomial_errors, polynomial_explorer

mse = lb.MSELoss()  # the loss of this chapter's regressions; a Loss object is just a function with a backward

# %% [markdown]
# ## 1.1 A training set of pairs $(x_n, y_n)$
#
# To learn how $y$ depends on $x$ we collect a **training set** of $N$ examples
#
# $$\mathscr{D} = \{(x_n, y_n)\}_{n=1}^{N}.$$
#
# Our first one is small and made up, so that we know the truth the learner does not: $x$ is uniform in $[0, 1]$ and
# $y = \sin(2\pi x) + \varepsilon$ with Gaussian noise $\varepsilon$ of standard deviation 0.15
# (`lb.data.regression_1d`). The seed makes these twelve points the same on every run.

# %%
x_train, y_train = lb.data.regression_1d(n=12, rng=3)
print("x:", x_train.shape, x_train.dtype, " y:", y_train.shape)
print("first pair (x_1, y_1) =", (round(float(x_train[0, 0]), 3), round(float(y_train[0, 0]), 3)))
assert x_train.shape == y_train.shape == (12, 1)

# %%
grid = np.linspace(0, 1, 200)[:, None]  # where we draw curves
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(grid, np.sin(2 * np.pi * grid), "k--", lw=1, label=r"truth $\sin(2\pi x)$ (unknown to the learner)")
ax.plot(x_train, y_train, "o", label=r"training set $\mathscr{D}$")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(fontsize="small", loc="lower left")
plt.show()

# %% [markdown]
# ## 1.2 A parametric model $f(x; w)$
#
# A **model** is a piece of code that computes a prediction $\hat y = f(x; w)$ and that contains **trainable
# parameters** $w$ which modulate its behaviour: the same code with other values of $w$ computes another function.
# Training will look for the values $w^*$ with which it is a good predictor.
#
# Our first model is a polynomial of degree $d$,
#
# $$f(x; w) = b + \sum_{k=1}^{d} w_k\, t^k, \qquad t = 2x - 1 \in [-1, 1].$$
#
# (Rescaling $x$ to $t$ changes none of the curves the model can draw; it keeps all the powers $t^k$ of the
# same size, which chapter 3 will show matters for gradient descent.) In `littlebook` this is two steps: the
# *features* $(t, t^2, \dots, t^d)$, one line of broadcasting, then a `Linear` layer whose `weight` holds
# $w_1, \dots, w_d$ and whose `bias` holds $b$.

# %%
def polynomial_features(x, degree):
    """(N, 1) inputs in [0, 1] → (N, degree) features t^k, k = 1..degree, with t = 2x − 1."""
    return (2 * x - 1) ** np.arange(1, degree + 1)  # (N, 1) ** (degree,) → (N, degree): broadcasting (chapter 2)


degree = 3
model = lb.Linear(degree, 1, rng=0, dtype=np.float64)
print(model, "parameters:", [(name, p.shape) for name, p in model.named_parameters()])
y_hat = model(polynomial_features(x_train, degree))
print("predictions ŷ:", y_hat.shape)
assert y_hat.shape == y_train.shape

# %% [markdown]
# The same code with two different values of $w$ computes two different functions: this is what "parameters that
# modulate its behaviour" means.

# %%
features = polynomial_features(grid, degree)
w_a, w_b = [[1.0, 0.0, 0.0]], [[-2.7, 0.0, 3.0]]
curves, train_predictions = {}, {}
for name, w in (("w_a", w_a), ("w_b", w_b)):
    model.weight.value[...] = w
    model.bias.value[...] = 0.0
    curves[name] = model(features)
    train_predictions[name] = model(polynomial_features(x_train, degree))

fig, ax = plt.subplots(figsize=(5, 3))
for name, w in (("w_a", w_a), ("w_b", w_b)):
    ax.plot(grid, curves[name], label=f"f(x; {name}),  {name} = {w[0]}")
ax.plot(x_train, y_train, "o", color="gray")
ax.set_xlabel("x")
ax.legend(fontsize="small")
plt.show()
assert not np.allclose(curves["w_a"], curves["w_b"])

# %% [markdown]
# ## 1.3 The loss: small when the predictions are good
#
# A predictor is *good* when, given an $x$ of the training set, the $\hat y$ it computes is a good estimate of the
# $y$ that goes with it. A **loss** turns this into one number, small when the predictions are good. For
# real-valued $y$ the usual choice is the mean squared error
#
# $$\mathscr{L}(w) = \frac{1}{N} \sum_{n=1}^{N} \big(f(x_n; w) - y_n\big)^2 .$$

# %%
losses = {name: mse(model_out, y_train) for name, model_out in (
    ("always predict 0", np.zeros_like(y_train)),
    ("f(x; w_a)", train_predictions["w_a"]),
    ("f(x; w_b)", train_predictions["w_b"]),
    ("the truth sin(2πx)", np.sin(2 * np.pi * x_train)),
)}
for name, value in losses.items():
    print(f"{name:>20}: loss ≈{value:.3f}")
# the loss is the formula above, and the true function (whose only error is the noise) has the smallest one
assert np.isclose(losses["always predict 0"], np.mean(y_train**2))
assert losses["the truth sin(2πx)"] == min(losses.values())

# %% [markdown]
# ## 1.4 Training: finding the $w^*$ that minimises the loss
#
# **Training** the model means computing
#
# $$w^* = \operatorname*{argmin}_w \mathscr{L}(w).$$
#
# For a model that is *linear in $w$*, like our polynomial, $\mathscr{L}$ is a quadratic bowl and $w^*$ has a
# closed form: the least-squares solution of $A w \approx y$, where row $n$ of $A$ is $(t_n, \dots, t_n^d, 1)$.
# `np.linalg.lstsq` solves it; we load the result into the `Linear` layer.

# %%
def fit_least_squares(model, X, y):
    """Set a Linear layer's weight and bias to the exact minimiser of the mean squared error on (X, y)."""
    A = np.hstack([X, np.ones((len(X), 1))])  # the last column multiplies the bias
    w, *_ = np.linalg.lstsq(A, y, rcond=None)
    model.weight.value[...] = w[:-1].T
    model.bias.value[...] = w[-1]
    return model


X_train = polynomial_features(x_train, degree)
best = fit_least_squares(lb.Linear(degree, 1, dtype=np.float64), X_train, y_train)
loss_star = mse(best(X_train), y_train)
print(f"L(w*) ≈{loss_star:.4f}")

# w* is a minimum: every small step away from it, in any direction, increases the loss.
rng = np.random.default_rng(0)
w_star, b_star = best.weight.value.copy(), best.bias.value.copy()
for _ in range(100):
    best.weight.value[...] = w_star + 0.01 * rng.standard_normal(w_star.shape)
    best.bias.value[...] = b_star + 0.01 * rng.standard_normal(b_star.shape)
    assert mse(best(X_train), y_train) > loss_star
best.weight.value[...], best.bias.value[...] = w_star, b_star

# %% [markdown]
# Most models (every neural network in this book) have no such closed form. The general method, the subject of
# chapter 3, is **gradient descent**: start from random $w_0$ and repeatedly take a small step downhill,
# $w_{n+1} = w_n - \eta \nabla \mathscr{L}(w_n)$. `lb.fit` does exactly that, here with the `Adam` optimizer;
# it reaches the same $w^*$.

# %%
model = lb.Linear(degree, 1, rng=0, dtype=np.float64)
history = lb.fit(model, mse, lb.Adam(model.parameters(), lr=0.1), (X_train, y_train),
                 epochs=1000, batch_size=len(X_train), progress=False, rng=0)
print(f"loss after 1 step ≈{history.step_loss[0]:.3f}, after {history.steps} steps ≈{history.step_loss[-1]:.4f}")
print("gradient descent w ≈", np.round(model.weight.value.ravel(), 2), " b ≈", np.round(model.bias.value, 2))
print("least squares    w ≈", np.round(w_star.ravel(), 2), " b ≈", np.round(b_star, 2))
assert abs(history.step_loss[-1] - loss_star) < 1e-6 * loss_star
assert np.allclose(model.weight.value, w_star, atol=1e-4)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
axes[0].semilogy(history.step_loss, label="loss during gradient descent")
axes[0].axhline(loss_star, color="k", ls=":", label=r"$\mathscr{L}(w^*)$ from least squares")
axes[0].set_xlabel("step")
axes[0].legend(fontsize="small")
axes[0].set_title("training = minimising the loss", fontsize="small")
axes[1].plot(grid, np.sin(2 * np.pi * grid), "k--", lw=1, label="truth")
axes[1].plot(x_train, y_train, "o", label="training set")
axes[1].plot(grid, model(polynomial_features(grid, degree)), label=r"trained $f(x; w^*)$, degree 3")
axes[1].legend(fontsize="small")
axes[1].set_xlabel("x")
plt.show()

# %% [markdown]
# ## 1.5 Weights and hyper-parameters
#
# The trainable parameters that make up $w$ are called the **weights**. A model also depends on
# **hyper-parameters**: here the degree $d$; for the networks of later chapters the number and width of the layers,
# the learning rate $\eta$, the batch size, the number of epochs. They are set from prior knowledge of the domain,
# from best practice, or by resource constraints (memory, time), and they can be optimised too, but not the way the
# weights are.

# %%
weights = {name: p.shape for name, p in model.named_parameters()}
hyper_parameters = {"degree": degree, "learning rate": 0.1, "epochs": 1000, "batch size": len(X_train)}
print("weights (found by training):     ", weights)
print("hyper-parameters (chosen by us): ", hyper_parameters)
assert model.num_parameters() == degree + 1  # the degree fixes how many weights there are

# %% [markdown]
# Why not choose the degree by training too, picking the one with the smallest training loss? Because a polynomial
# of degree $d+1$ can do everything one of degree $d$ can (set $w_{d+1} = 0$), so the *training* loss can only go
# down as $d$ grows: with 12 points, degree 11 passes through every one of them, noise included. What we want is a
# model that predicts well on *new* $x$. So we hold out **validation data**, pairs that training never sees, and
# choose the degree with the smallest validation loss.

# %%
x_val, y_val = lb.data.regression_1d(n=100, rng=100)
degrees = np.arange(1, 12)


def train_and_validate(degree, train=(x_train, y_train), val=(x_val, y_val)):
    """Fit a polynomial of this degree on ``train``; return it with its (training loss, validation loss)."""
    poly = fit_least_squares(lb.Linear(degree, 1, dtype=np.float64), polynomial_features(train[0], degree), train[1])
    return poly, mse(poly(polynomial_features(train[0], degree)), train[1]), \
        mse(poly(polynomial_features(val[0], degree)), val[1])


train_loss, val_loss = np.array([train_and_validate(d)[1:] for d in degrees]).T
best_degree = int(degrees[np.argmin(val_loss)])
for d, tr, va in zip(degrees, train_loss, val_loss, strict=True):
    print(f"degree {d:2d}: training loss ≈{tr:.4f}   validation loss ≈{va:.4g}" + ("   ← best" if d == best_degree else ""))

# %%
assert np.all(np.diff(train_loss) <= 1e-9)  # training loss never increases with the degree...
assert train_loss[-1] < 1e-12               # ...and degree 11 interpolates the 12 points exactly,
assert val_loss[-1] > 1000 * val_loss.min()  # ...yet predicts new points terribly (overfitting)
assert val_loss[0] > 5 * val_loss.min()      # degree 1 is too simple (underfitting)
assert best_degree == 3
# numpy's own polynomial fitting (np.polynomial, used by the slider below) finds the same minima
numpy_train_loss, numpy_val_loss = polynomial_errors(x_train, y_train, x_val, y_val, degrees)
assert np.allclose(numpy_train_loss, train_loss) and np.allclose(numpy_val_loss, val_loss, rtol=1e-6)

fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.semilogy(degrees, np.maximum(train_loss, 1e-4), "o-", label="training loss (drawn at 1e-4 when 0)")
ax.semilogy(degrees, val_loss, "o-", label="validation loss")
ax.axvline(best_degree, color="gray", ls=":", label=f"chosen degree {best_degree}")
ax.set_xlabel("degree d (a hyper-parameter)")
ax.set_ylabel("mean squared error")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# Move the slider to see under- and overfitting happen (run the notebook in JupyterLab: sliders do not show on
# GitHub; the figure after it shows three settings).

# %% tags=["nbval-ignore-output"]
polynomial_explorer(x_train, y_train, degree=3, degrees=(1, 11), x_val=x_val, y_val=y_val)

# %%
def draw_polynomial(degree, ax):
    poly, tr, va = train_and_validate(degree)
    ax.plot(x_val, y_val, ".", color="lightgray", label="validation data")
    ax.plot(x_train, y_train, "o", label="training data")
    ax.plot(grid, poly(polynomial_features(grid, degree)), "C1", label=f"degree {degree}")
    ax.set_ylim(-2, 2)
    ax.set_title(f"degree {degree}: train {tr:.3f}, validation {va:.3g}", fontsize="small")
    ax.legend(fontsize="small", loc="lower left")


fig, axes = plt.subplots(1, 3, figsize=(12, 3), sharey=True)
for ax, d in zip(axes, (1, best_degree, 9), strict=True):
    draw_polynomial(d, ax=ax)
plt.show()

# %% [markdown]
# Choosing the degree on the validation set makes its error slightly optimistic: we picked the best of eleven.
# The honest estimate of how well the final model predicts comes from a third, **test** set, used once at the end.

# %%
x_test, y_test = lb.data.regression_1d(n=100, rng=101)
final, _, _ = train_and_validate(best_degree)
test_loss = mse(final(polynomial_features(x_test, best_degree)), y_test)
print(f"degree {best_degree}: validation loss ≈{val_loss.min():.3f}, test loss ≈{test_loss:.3f}")
assert test_loss < 2 * val_loss.min()

# %% [markdown]
# ## 1.6 Three kinds of models
#
# Machine-learning models fall into three broad categories.
#
# - **Regression** (supervised): $y$ is a real number or vector, as above.
# - **Classification** (supervised): $y$ is one of a finite set of classes.
# - **Density modelling** (unsupervised): there is no $y$; the model is the probability density $p(x)$ of the data
#   itself.
#
# "Supervised" means that each training $x_n$ comes with the $y_n$ the model must predict.
#
# ### Regression with a small neural network
#
# A neural network is a parametric model too: $f(x; w) = W_2 \tanh(W_1 x + b_1) + b_2$, whose weights are the
# entries of $W_1, b_1, W_2, b_2$. It needs no polynomial features: it learns its own.

# %%
x_reg, y_reg = lb.data.regression_1d(n=50, rng=0)
net = lb.Sequential(lb.Linear(1, 32, rng=0, dtype=np.float64), lb.Tanh(), lb.Linear(32, 1, rng=1, dtype=np.float64))
history = lb.fit(net, mse, lb.Adam(net.parameters(), lr=0.01), (x_reg, y_reg), epochs=1000, batch_size=50,
                 progress=False, rng=0)
reg_val_loss = mse(lb.predict(net, x_val), y_val)
print(f"{net.num_parameters()} weights; training loss ≈{history.step_loss[-1]:.3f}, validation loss ≈{reg_val_loss:.3f}")
assert reg_val_loss < 0.05  # the noise alone costs 0.15² = 0.0225

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(x_reg, y_reg, "o", label="training data")
ax.plot(grid, lb.predict(net, grid), label="network f(x; w*)")
ax.plot(grid, np.sin(2 * np.pi * grid), "k--", lw=1, label="truth")
ax.set_xlabel("x")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# ### Classification
#
# Two interleaved half-moons in the plane: $x \in \mathbb{R}^2$, $y \in \{0, 1\}$. The network outputs one score
# (a *logit*) per class, the predicted class is the larger one, and the loss is the cross-entropy of chapter 3.
# Colouring the plane by the predicted class shows the **decision boundary** the network learnt.

# %%
X, y = lb.data.moons(n=400, noise=0.2, rng=0)
X_tr, X_te, y_tr, y_te = lb.train_test_split(X, y, test_size=0.25, rng=0)
clf = lb.Sequential(lb.Linear(2, 32, rng=0), lb.ReLU(), lb.Linear(32, 32, rng=1), lb.ReLU(), lb.Linear(32, 2, rng=2))
history = lb.fit(clf, lb.CrossEntropyLoss(), lb.Adam(clf.parameters(), lr=0.01), (X_tr, y_tr), epochs=60,
                 batch_size=32, progress=False, rng=0)
test_acc = lb.accuracy(lb.predict(clf, X_te), y_te)
print(f"training accuracy ≈{history.train_acc[-1]:.2f}, accuracy on {len(y_te)} held-out points ≈{test_acc:.2f}")
assert test_acc > 0.9

ax = decision_boundary(clf, X_te, y_te)
ax.set_title("predicted class (colour) and held-out points", fontsize="small")
plt.show()

# %% [markdown]
# ### Density modelling
#
# Now we are given only samples $x_n$, and we model the density $p(x)$ they come from. A model $p(x; w)$ is good when
# it gives high density to the data: we maximise the **likelihood**, that is we minimise the negative
# log-likelihood
#
# $$\mathscr{L}(w) = -\frac{1}{N} \sum_{n=1}^{N} \log p(x_n; w).$$
#
# `GaussianMixture` is a `littlebook` module whose forward pass returns $\log p(x_n; w)$ for a mixture of $K$
# Gaussians, $p(x) = \sum_k \pi_k \mathcal{N}(x; \mu_k, \sigma_k^2)$, with weights $w = (\pi, \mu, \sigma)$.
# Training is the loop that `fit` runs, written out: forward, the gradient of the loss with respect to the output
# ($\partial \mathscr{L} / \partial \log p(x_n) = -1/N$), backward, optimizer step.

# %%
samples, _ = lb.data.gaussian_mixture(n=1000, means=((-2.0,), (1.5,)), stds=(0.5, 1.0), weights=(0.3, 0.7), rng=0)
samples = samples.astype(np.float64)


def fit_density(n_components, x, steps=400):
    density = GaussianMixture(n_components, 1, rng=0, dtype=np.float64)
    optimizer = lb.Adam(density.parameters(), lr=0.05)
    for _ in range(steps):
        log_p = density(x)  # forward: (N,)
        optimizer.zero_grad()
        density.backward(-np.ones_like(log_p) / len(x))  # ∂L/∂log p(x_n) for L = −mean log p
        optimizer.step()
    return density, float(density(x).mean())


one, loglik_one = fit_density(1, samples)
two, loglik_two = fit_density(2, samples)
print(f"average log-likelihood: one Gaussian ≈{loglik_one:.3f}, mixture of two ≈{loglik_two:.3f}")
print("mixture: π ≈", np.round(two.weights, 2), " μ ≈", np.round(two.means.value.ravel(), 2),
      " σ ≈", np.round(np.exp(two.log_std.value), 2))

# %%
# A single Gaussian's maximum-likelihood fit is known in closed form: the sample mean and standard deviation.
assert np.isclose(one.means.value[0, 0], samples.mean(), atol=1e-3)
assert np.isclose(np.exp(one.log_std.value[0]), samples.std(), atol=1e-3)
# The mixture explains the data better, and recovers the parameters that generated it.
assert loglik_two > loglik_one + 0.1
order = np.argsort(two.means.value.ravel())
assert np.allclose(two.means.value.ravel()[order], [-2.0, 1.5], atol=0.15)
assert np.allclose(two.weights[order], [0.3, 0.7], atol=0.05)

line = np.linspace(-5, 6, 400)[:, None]
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.hist(samples[:, 0], bins=50, density=True, color="lightgray", label="histogram of the samples")
ax.plot(line, np.exp(one(line)), label=f"one Gaussian (log-lik. {loglik_one:.3f})")
ax.plot(line, np.exp(two(line)), label=f"mixture of two (log-lik. {loglik_two:.3f})")
ax.set_xlabel("x")
ax.set_ylabel("density p(x)")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# ## Summary
#
# - A learning problem is a training set $\mathscr{D} = \{(x_n, y_n)\}$, a parametric model $f(x; w)$ and a loss
#   that is small when the predictions are good.
# - Training computes $w^* = \operatorname{argmin}_w \mathscr{L}(w)$: in closed form for models linear in $w$,
#   by gradient descent in general.
# - The weights are found by training; hyper-parameters (degree, sizes, learning rate…) are set by prior knowledge,
#   best practice or resources, and tuned on validation data, never on the training loss.
# - Regression and classification are supervised; density modelling is unsupervised and maximises the likelihood.
#
# ## Exercises
#
# Each exercise has an answer cell (the one stored here works) followed by a check cell. Replace the answer with
# your own and run both: a wrong answer makes the check fail.
#
# **Exercise 1.** Predictions $\hat y = (1, 2, 3)$ for targets $y = (1.5, 2, 2)$: what is the mean squared error?
# Compute it by hand (as a number).

# %%
answer_1 = (0.5**2 + 0**2 + 1**2) / 3

# %%
assert np.isclose(answer_1, lb.MSELoss()(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0]))), "not the MSE"
print("exercise 1: correct")

# %% [markdown]
# **Exercise 2.** How many weights does `lb.Sequential(lb.Linear(2, 16), lb.ReLU(), lb.Linear(16, 3))` have?
# Count them by hand from the shapes of $W$ and $b$ in each `Linear`.

# %%
answer_2 = (2 * 16 + 16) + (16 * 3 + 3)

# %%
assert answer_2 == lb.Sequential(lb.Linear(2, 16), lb.ReLU(), lb.Linear(16, 3)).num_parameters(), "recount"
print("exercise 2: correct")

# %% [markdown]
# **Exercise 3.** Name the category ("regression", "classification" or "density") of each task.

# %%
answer_3 = {
    "predict tomorrow's temperature in °C": "regression",
    "tell spam from non-spam e-mails": "classification",
    "flag transactions that are unlikely under past transactions": "density",
    "read the digit 0-9 in an 8x8 image": "classification",
}

# %%
_key = {"°C": "regression", "spam": "classification", "unlikely": "density", "digit": "classification"}
for task, category in answer_3.items():
    expected = next(v for k, v in _key.items() if k in task)
    assert category == expected, f"{task!r}: not {category!r}"
print("exercise 3: correct")

# %% [markdown]
# **Exercise 4.** With 40 training points instead of 12, which degree does validation choose? Use
# `lb.data.regression_1d(n=40, rng=3)` for training and the same validation set; write code that finds it.

# %%
big_train = lb.data.regression_1d(n=40, rng=3)
answer_4 = int(degrees[np.argmin([train_and_validate(d, train=big_train)[2] for d in degrees])])
print(f"degree chosen with 40 training points ≈{answer_4}")

# %%
_val = {d: train_and_validate(d, train=big_train)[2] for d in degrees}
assert _val[answer_4] == min(_val.values()), f"degree {answer_4} does not have the smallest validation loss"
print("exercise 4: correct; more data lets the validation loss of high degrees come down:",
      f"degree 9 now has ≈{_val[9]:.3f} (was ≈{val_loss[8]:.3g} with 12 points)")

# %% [markdown]
# **Exercise 5.** For a single Gaussian $\mathcal{N}(\mu, \sigma^2)$, maximum likelihood has a closed form. Give
# $(\mu^*, \sigma^*)$ for the data `samples[:, 0]` (the check verifies that nearby values have a lower likelihood).

# %%
answer_5 = (samples.mean(), samples.std())

# %%
def _loglik(mu, sigma):
    g = GaussianMixture(1, 1, dtype=np.float64)
    g.means.value[...], g.log_std.value[...] = mu, np.log(sigma)
    return g(samples).mean()


mu, sigma = answer_5
assert all(_loglik(mu, sigma) >= _loglik(mu + dm, sigma * ds) for dm in (-0.01, 0, 0.01) for ds in (0.99, 1, 1.01)), \
    "a nearby (μ, σ) has a higher likelihood"
print("exercise 5: correct")

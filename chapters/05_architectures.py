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
# # 5. Architectures
#
# Chapter 4 built the layers one at a time. This chapter stacks them into the three architectures every later
# model is made of — the multi-layer perceptron, the convolutional network and the residual network — and trains
# each on real handwritten digits, with every step of training in plain sight.
#
# **After this chapter you will be able to**
#
# - build a multi-layer perceptron (MLP) from `Linear` layers and ReLUs, and say why the activations are needed;
# - carry out the training recipe by hand — (a) initialise, (b) forward a batch, (c) compute the loss,
#   (d) backpropagate, (e) update, (f) repeat for epochs — and recognise the same loop inside `lb.fit`;
# - train an MLP to ≥ 97 % held-out accuracy on the digits, and read what the learning rate does to training;
# - build a small convolutional network (CNN) and compare it with the MLP by accuracy, parameter count and time;
# - explain vanishing gradients, measure them layer by layer, and show why a residual connection
#   $y = F(x) + x$ keeps a deep network trainable: $\partial y/\partial x = \partial F/\partial x + I$.
#
# Every layer, loss, optimiser and training loop used here is the one in `littlebook`.

# %%
import matplotlib.pyplot as plt
import numpy as np

import littlebook as lb
from littlebook.plot import image_grid, plot_history
from littlebook.widgets import depth_explorer, layer_grad_norms, lr_explorer, train_curve

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 5.1 The multi-layer perceptron
#
# A multi-layer perceptron is several fully connected layers separated by activation functions. With two hidden
# layers and ReLU, the most common choice:
#
# $$h_1 = \mathrm{ReLU}(x W_1^\top + b_1),\qquad h_2 = \mathrm{ReLU}(h_1 W_2^\top + b_2),\qquad
# \text{logits} = h_2 W_3^\top + b_3 .$$
#
# The data: the 1,797 real 8 × 8 handwritten digits that scikit-learn ships, as 64 pixel values in [0, 1]. A quarter
# of them is held out as a **test set** that training never sees; the split is stratified (each digit keeps its
# share) and seeded (the same split on every run).

# %%
X, y = lb.load_digits()
X_train, X_test, y_train, y_test = lb.train_test_split(X, y, test_size=0.25, rng=0, stratify=True)
print(f"train: X {X_train.shape}, y {y_train.shape}    test: X {X_test.shape}, y {y_test.shape}")
print("test images per digit:", np.bincount(y_test))
assert len(X_train) + len(X_test) == len(X) == 1797
assert np.bincount(y_test).min() >= 44  # stratified: every digit is in the test set in its proportion

image_grid(X_train[:16].reshape(-1, 8, 8), titles=y_train[:16], ncols=16)
plt.show()

# %% [markdown]
# **Why the activations?** Without them the stack collapses: two linear layers in a row are one linear layer,
# $(x W_1^\top + b_1) W_2^\top + b_2 = x (W_2 W_1)^\top + (W_2 b_1 + b_2)$, so depth would add nothing. The ReLU
# between them breaks this, which is what lets an MLP represent curved decision boundaries. ReLU is the usual choice
# because it is cheap and its derivative is exactly 1 wherever the neuron is active, so it does not shrink the
# gradient on its way back — unlike the sigmoid, whose derivative is at most 1/4 (section 5.6 shows what that does
# to a deep network).

# %%
first, second = lb.Linear(64, 32, rng=1, dtype=np.float64), lb.Linear(32, 10, rng=2, dtype=np.float64)
W1, b1, W2, b2 = first.weight.value, first.bias.value, second.weight.value, second.bias.value
b1[...] = np.random.default_rng(3).normal(size=32)  # non-zero biases, so that the check covers them too

collapsed = lb.Linear(64, 10, dtype=np.float64)
collapsed.weight.value[...] = W2 @ W1
collapsed.bias.value[...] = W2 @ b1 + b2

x64 = X_train[:100].astype(np.float64)
no_activation = lb.Sequential(first, second)(x64)
with_relu = lb.Sequential(first, lb.ReLU(), second)(x64)
gap_linear = np.abs(no_activation - collapsed(x64)).max()
gap_relu = np.abs(with_relu - collapsed(x64)).max()
assert gap_linear < 1e-12  # float64 round-off only (~1e-15: the order of the sums differs between CPUs)
assert gap_relu > 1.0  # 2.87 here: the ReLU changes the function by far more than round-off
print("max |two linear layers − one linear layer| < 1e-12 (round-off)")
print(f"max |with ReLU between − one linear layer| ≈{gap_relu:.2f}")

# %% [markdown]
# The chapter's MLP: 64 inputs → 256 → 128 → 10 logits, one per digit. `make_mlp(rng)` builds it with weights
# drawn from the generator `rng`. A `Linear(d_in, d_out)` layer has $d_\text{in} d_\text{out}$ weights and
# $d_\text{out}$ biases.


# %%
def make_mlp(rng=0, d_in=64):
    rng = np.random.default_rng(rng)
    return lb.Sequential(
        lb.Linear(d_in, 256, rng=rng), lb.ReLU(),
        lb.Linear(256, 128, rng=rng), lb.ReLU(),
        lb.Linear(128, 10, rng=rng),
    )


model = make_mlp()
print(model)
print(f"parameters: {model.num_parameters():,}")
assert model.num_parameters() == (64 * 256 + 256) + (256 * 128 + 128) + (128 * 10 + 10) == 50_826

# %% [markdown]
# ## 5.2 The training recipe, step by step
#
# Training follows six steps:
#
# - **a)** initialise the weights randomly;
# - **b)** forward-propagate a batch of training data;
# - **c)** compute the loss between the predicted and the actual outputs;
# - **d)** backpropagate to compute the gradients;
# - **e)** update the weights with an optimisation algorithm, e.g. stochastic gradient descent (SGD);
# - **f)** repeat b)–e) for several epochs, until the loss stops improving.
#
# We run each step once, by hand, with littlebook calls.
#
# ### a) Initialise the weights randomly
#
# `Linear` draws $W_{ij} \sim \mathcal N(0, 2/d_\text{in})$ ("He" initialisation: with ReLU, it keeps the size of
# the activations roughly constant from layer to layer) and sets the biases to 0. The draw comes from a seeded
# generator, so the same seed gives the same network on every run.

# %%
model = make_mlp(rng=0)
W1 = model[0].weight.value
print(f"first layer: W {W1.shape}, std ≈{W1.std():.4f} (target √(2/64) = {np.sqrt(2 / 64):.4f}), "
      f"biases all zero: {not model[0].bias.value.any()}")
assert abs(W1.std() / np.sqrt(2 / 64) - 1) < 0.02
assert np.array_equal(make_mlp(rng=0)[0].weight.value, W1)  # same seed, same weights
assert not np.array_equal(make_mlp(rng=1)[0].weight.value, W1)

# %% [markdown]
# Why *randomly*? If all weights started equal, every hidden neuron would compute the same function and receive the
# same gradient, and they would stay identical forever: a layer of 256 neurons would be as good as one. Random
# values break this symmetry. The cell starts every weight at the same value and takes a few SGD steps:

# %%
symmetric = make_mlp(rng=0)
for layer in symmetric[::2]:  # the three Linear layers
    layer.weight.value[...] = 0.01  # every weight starts at the same value
opt = lb.SGD(symmetric.parameters(), lr=0.1)
ce = lb.CrossEntropyLoss()
for xb, yb in list(lb.minibatches(X_train, y_train, 32, rng=0))[:20]:
    ce(symmetric(xb), yb)
    opt.zero_grad()
    symmetric.backward(ce.backward())
    opt.step()
W_sym, W_rand = symmetric[0].weight.value, make_mlp(rng=0)[0].weight.value
same_rows = np.abs(W_sym - W_sym[0]).max() < 1e-6  # equal up to float32 rounding
print(f"after 20 steps, all 256 rows of W1 still equal: {same_rows} "
      f"(from a random start they differ by up to ≈{np.abs(W_rand - W_rand[0]).max():.2f})")
assert same_rows  # 256 copies of one neuron
assert np.ptp(W_sym) > 1e-3  # ... although the weights did change

# %% [markdown]
# ### b) Forward-propagate a batch
#
# `lb.minibatches` shuffles the training set with a seeded generator and cuts it into batches; we take the first
# batch of 32 images. The forward pass turns each image into 10 logits.

# %%
xb, yb = next(lb.minibatches(X_train, y_train, batch_size=32, rng=0))
logits = model(xb)
print(f"batch {xb.shape} → logits {logits.shape}")
print("logits of the first image: ≈", logits[0].round(2), f"  its label: {yb[0]}", sep="")
assert logits.shape == (32, 10)

# %% [markdown]
# ### c) Compute the loss
#
# Cross-entropy (chapter 3): the mean over the batch of $-\log \mathrm{softmax}(\text{logits})_{y}$, the negative
# log-probability the model gives the correct digit. A model that guesses uniformly scores $\log 10 \approx 2.30$.

# %%
loss_fn = lb.CrossEntropyLoss()
loss = loss_fn(logits, yb)
by_hand = -lb.functional.log_softmax(logits)[np.arange(32), yb].mean()
print(f"loss ≈{loss:.4f}   (by hand: ≈{by_hand:.4f};  uniform guessing: log 10 = {np.log(10):.4f})")
assert np.isclose(loss, by_hand, rtol=1e-5)
assert abs(loss - np.log(10)) < 0.2  # random weights: close to guessing (2.32 here; other seeds 2.2-2.4)

# %% [markdown]
# ### d) Backpropagate
#
# `loss_fn.backward()` returns $\partial L/\partial\,\text{logits}$; `model.backward` sends it through the layers
# in reverse order, and each layer adds $\partial L/\partial W$ and $\partial L/\partial b$ into its parameters'
# `.grad` (zeroed first: gradients accumulate). Every parameter gets a gradient of its own shape.

# %%
model.zero_grad()
model.backward(loss_fn.backward())
for name, p in model.named_parameters():
    print(f"{name:9s} value {str(p.value.shape):10s} grad {str(p.grad.shape):10s} ‖grad‖ ≈{np.linalg.norm(p.grad):.3f}")
    assert p.grad.shape == p.value.shape and np.linalg.norm(p.grad) > 0

# %% [markdown]
# ### e) Update the weights
#
# One SGD step moves every parameter a small step against its gradient: $w \leftarrow w - \eta\, \nabla_w L$, with
# learning rate $\eta$. To first order the loss then falls by $\eta \lVert\nabla L\rVert^2$ (a Taylor expansion):
# the cell does the update by hand and compares the actual decrease with this prediction.

# %%
lr = 0.01
grad_sq = sum(float((p.grad.astype(np.float64) ** 2).sum()) for p in model.parameters())
before = loss_fn(model(xb), yb)
for p in model.parameters():
    p.value -= lr * p.grad  # the update, by hand
after = loss_fn(model(xb), yb)
print(f"loss before ≈{before:.4f} → after ≈{after:.4f}: decrease ≈{before - after:.4f}, "
      f"predicted η‖∇L‖² ≈{lr * grad_sq:.4f}")
assert after < before
assert abs((before - after) / (lr * grad_sq) - 1) < 0.2

# %% [markdown]
# `lb.SGD` is that same update, written once for all parameters. Starting from the same weights and gradients,
# one `step()` gives exactly the hand-made result:

# %%
by_sgd = make_mlp(rng=0)
by_sgd.zero_grad()
loss_fn(by_sgd(xb), yb)
by_sgd.backward(loss_fn.backward())
lb.SGD(by_sgd.parameters(), lr=lr).step()
assert all(np.array_equal(a.value, b.value) for a, b in zip(by_sgd.parameters(), model.parameters()))
print("lb.SGD(lr=0.01).step() == the update by hand, for all", len(model.parameters()), "parameter tensors")

# %% [markdown]
# ### f) Repeat for several epochs
#
# An **epoch** is one pass over the training set: here 43 batches of (at most) 32 images, so 43 updates. Below, steps
# b)–e) run in an explicit loop for three epochs. The optimiser is SGD with **momentum**, the variant used for most of
# the chapter: it keeps a running sum of past gradients, $v \leftarrow \mu v + \nabla L$, and steps along it,
# $w \leftarrow w - \eta v$, which smooths out the noise of single batches ($\mu = 0.9$ here).

# %%
model = make_mlp(rng=0)                                            # a)
optimizer = lb.SGD(model.parameters(), lr=0.1, momentum=0.9)
batch_rng = np.random.default_rng(1)                               # shuffles the batches of every epoch
epoch_losses = []
for epoch in range(1, 4):                                          # f)
    losses = []
    for xb, yb in lb.minibatches(X_train, y_train, 32, batch_rng):
        logits = model(xb)                                         # b)
        loss = loss_fn(logits, yb)                                 # c)
        optimizer.zero_grad()
        model.backward(loss_fn.backward())                         # d)
        optimizer.step()                                           # e)
        losses.append(loss)
    epoch_losses.append(np.mean(losses))
    test_loss, test_acc = lb.evaluate(model, loss_fn, X_test, y_test)
    print(f"epoch {epoch}: {len(losses)} steps, mean train loss ≈{epoch_losses[-1]:.3f}, test accuracy ≈{test_acc:.3f}")
# seeds 0-4 and four CPU configurations: the loss falls every epoch, test accuracy after 3 epochs 0.93-0.97
assert epoch_losses[0] > epoch_losses[1] > epoch_losses[2] and test_acc > 0.9

# %% [markdown]
# **`lb.fit` is this loop.** It adds book-keeping — a progress bar, a `History` of losses and accuracies, and a
# guard that stops a diverging run — but the arithmetic is the same: with the same seeds, three epochs of `fit`
# give bit-for-bit the weights of the loop above.

# %%
same = make_mlp(rng=0)
history = lb.fit(same, loss_fn, lb.SGD(same.parameters(), lr=0.1, momentum=0.9), (X_train, y_train),
                 epochs=3, batch_size=32, rng=1, progress=False)
assert all(np.array_equal(a.value, b.value) for a, b in zip(same.parameters(), model.parameters()))
print(f"fit: {history.steps} steps; its weights equal the hand-written loop's exactly")

# %% [markdown]
# ## 5.3 Training with `fit`
#
# Now the real run: 15 epochs, with the held-out test set evaluated after every epoch (`val_data`) so that we can
# watch it — it never influences the weights (the plots call it "validation", fit's name for it). The progress bar shows the loss of the latest batch and, at the end of
# each epoch, the test accuracy. (The bar and the timing differ from run to run, so nbval does not compare this
# cell's output; the next cell asserts the result.)

# %% tags=["nbval-ignore-output"]
mlp = make_mlp(rng=0)
mlp_history = lb.fit(mlp, loss_fn, lb.SGD(mlp.parameters(), lr=0.1, momentum=0.9), (X_train, y_train),
                     epochs=15, batch_size=32, val_data=(X_test, y_test), rng=0)
print(mlp_history)

# %% tags=["nbval-ignore-output"]
_, mlp_acc = lb.evaluate(mlp, loss_fn, X_test, y_test)
print(f"MLP test accuracy ≈{mlp_acc:.4f} (≈{round((1 - mlp_acc) * len(y_test))} of {len(y_test)} test digits wrong)")
plot_history(mlp_history, metrics=("loss", "accuracy"))
plt.show()

# %%
assert mlp_acc >= 0.97, mlp_acc
assert mlp_history.train_loss[-1] < 0.05 < mlp_history.train_loss[0]

# %% [markdown]
# What does it get wrong? The misclassified test digits, titled *true → predicted*: most are genuinely ambiguous
# at 8 × 8 pixels.

# %% tags=["nbval-ignore-output"]
predicted = lb.predict(mlp, X_test).argmax(axis=1)
wrong = np.flatnonzero(predicted != y_test)
image_grid(X_test[wrong].reshape(-1, 8, 8), titles=[f"{y_test[i]} → {predicted[i]}" for i in wrong], ncols=12)
plt.show()

# %% [markdown]
# ### The same MLP on MNIST
#
# The 8 × 8 digits are small enough for every cell of this book to run in seconds. The classic benchmark is MNIST:
# 70,000 digits of 28 × 28 pixels. `lb.load_mnist()` downloads it once (about 11 MB, checked against its SHA-256);
# when it is in the cache, the next cell trains the same architecture with 784 inputs for 3 epochs (about 10–30 s).
# Offline — as in the book's continuous-integration tests — it says so and skips.

# %% tags=["nbval-ignore-output"]
if lb.mnist_cached():
    Xm_train, ym_train, Xm_test, ym_test = lb.load_mnist()
    Xm_train, Xm_test = lb.scale_images(Xm_train), lb.scale_images(Xm_test)  # (N, 784) floats in [0, 1]
    print(f"data used: MNIST, {len(Xm_train):,} training and {len(Xm_test):,} test images")
    mnist_mlp = make_mlp(rng=0, d_in=784)
    mnist_history = lb.fit(mnist_mlp, loss_fn, lb.SGD(mnist_mlp.parameters(), lr=0.1, momentum=0.9),
                           (Xm_train, ym_train), epochs=3, batch_size=64, val_data=(Xm_test, ym_test), rng=0)
    print(f"MNIST MLP test accuracy: {mnist_history.val_acc[-1]:.4f}")
    assert mnist_history.val_acc[-1] >= 0.97
else:
    print("data used: the 8×8 digits only (MNIST is not in the cache; run lb.load_mnist() once to download it)")

# %% [markdown]
# ## 5.4 The learning rate
#
# The learning rate $\eta$ is often the hyper-parameter that matters most (chapter 3). Too small and training
# crawls; too large and the steps overshoot and the loss jumps up — and, as we will see, a network can be damaged
# for good by such a jump. To choose $\eta$ without peeking at the test
# set, a **validation** set is split off the training set; each run below trains a fresh MLP for 5 epochs.

# %%
X_fit, X_val, y_fit, y_val = lb.train_test_split(X_train, y_train, test_size=0.2, rng=1, stratify=True)
lrs = [0.001, 0.01, 0.1, 1.0]
runs = {lr: train_curve(make_mlp, (X_fit, y_fit), lr, epochs=5, optimizer="momentum", val_data=(X_val, y_val))
        for lr in lrs}

fig, axes = plt.subplots(1, len(lrs), figsize=(14, 3.2), sharey=True)
for i, (ax, (lr, h)) in enumerate(zip(axes, runs.items())):
    plot_history(h, ax=ax)
    ax.set_ylim(0, 3)
    if i > 0:
        ax.get_legend().remove()  # one legend is enough
    ax.set_title(f"η = {lr}: validation accuracy {h.val_acc[-1]:.2f}")
fig.set_layout_engine("constrained")
plt.show()

# %%
val_acc = {lr: h.val_acc[-1] for lr, h in runs.items()}
assert val_acc[0.001] < val_acc[0.01] - 0.05       # too small: still far behind after 5 epochs
assert min(val_acc[0.01], val_acc[0.1]) > 0.9      # the good range
assert max(runs[1.0].step_loss) > 5 * runs[1.0].step_loss[0] and val_acc[1.0] < 0.2  # too large: blows up, stuck
print("η = 0.001 too slow, 0.01 and 0.1 good, 1.0 blows up and is stuck at chance")

# %% [markdown]
# Why does η = 1 stay stuck instead of recovering? The first huge steps push the hidden ReLUs' inputs below zero for
# *every* image. Such a "dead" ReLU outputs 0 and passes back a zero gradient (its derivative is 0 there), so no
# later step can revive it. Counting, after 5 epochs, the hidden units that are zero on all validation images:

# %%
for lr in (0.1, 1.0):
    net = make_mlp()
    lb.fit(net, loss_fn, lb.SGD(net.parameters(), lr=lr, momentum=0.9), (X_fit, y_fit), epochs=5, rng=0,
           progress=False)
    h1 = net[1](net[0](X_val))  # first hidden layer's ReLU outputs, (270, 256)
    h2 = net[3](net[2](h1))  # second hidden layer's, (270, 128)
    dead1, dead2 = (h1.max(axis=0) == 0).mean(), (h2.max(axis=0) == 0).mean()
    print(f"η = {lr}: dead ReLUs ≈{100 * dead1:.0f} % of layer 1, ≈{100 * dead2:.0f} % of layer 2")
assert dead1 > 0.9 and dead2 > 0.9  # η = 1: nearly every hidden unit is dead

# %% [markdown]
# Try it yourself: the slider retrains the MLP for 5 epochs at the chosen learning rate and redraws its curves
# (moving it needs a running kernel; the first draw is at η = 0.1).

# %% tags=["nbval-ignore-output"]
lr_explorer(make_mlp, (X_fit, y_fit), lr=0.1, lrs=(1e-3, 3.0), epochs=5, optimizer="momentum",
            val_data=(X_val, y_val))

# %% [markdown]
# ## 5.5 A small convolutional network
#
# The MLP sees an image as 64 unrelated numbers: shift a digit by one pixel and, to the first layer, it is a
# different input. A convolutional network (chapter 4) slides small filters over the image instead — the same
# weights at every position — and pools, so it looks for local patterns wherever they are and needs far fewer
# parameters. Our CNN:
#
# conv 3 × 3 (1 → 16 channels, "same" padding) → ReLU → max-pool 2 → conv 3 × 3 (16 → 32) → ReLU → max-pool 2 →
# flatten → linear (128 → 10),
#
# with one addition from chapter 4 (section 4.6): a `BatchNorm2d` after each convolution, the
# conv → batch norm → ReLU block of modern CNNs. `make_cnn(batch_norm=False)` builds the plain network above; we
# train both.
#
# It takes the digits as images, shape (N, 1, 8, 8); the same seeded split gives the same images as before.

# %%
Xi, yi = lb.load_digits(flatten=False)
Xi_train, Xi_test, yi_train, yi_test = lb.train_test_split(Xi, yi, test_size=0.25, rng=0, stratify=True)
assert np.array_equal(Xi_train.reshape(-1, 64), X_train) and np.array_equal(yi_test, y_test)  # the same split


def make_cnn(rng=0, batch_norm=True):
    rng = np.random.default_rng(rng)
    bn = (lambda c: [lb.BatchNorm2d(c)]) if batch_norm else (lambda c: [])
    return lb.Sequential(
        lb.Conv2d(1, 16, kernel_size=3, padding="same", rng=rng), *bn(16), lb.ReLU(), lb.MaxPool2d(2),
        lb.Conv2d(16, 32, kernel_size=3, padding="same", rng=rng), *bn(32), lb.ReLU(), lb.MaxPool2d(2),
        lb.Flatten(),
        lb.Linear(32 * 2 * 2, 10, rng=rng),
    )


cnn = make_cnn()
h = Xi_train[:4]
for layer in cnn:
    h_next = layer(h)
    print(f"{type(layer).__name__:11s} {str(h.shape):15s} → {str(h_next.shape):15s} {layer.num_parameters():5d} parameters")
    h = h_next
assert h.shape == (4, 10)
# Each `BatchNorm2d(C)` has two parameters per channel (γ and β), so batch norm adds 2 · (16 + 32) = 96:
assert cnn.num_parameters() == (16 * 1 * 9 + 16) + 2 * 16 + (32 * 16 * 9 + 32) + 2 * 32 + (128 * 10 + 10) == 6_186
assert make_cnn(batch_norm=False).num_parameters() == 6_186 - 96

# %% [markdown]
# **The plain CNN** first, with exactly the MLP's recipe: SGD with momentum 0.9, batches of 32, 15 epochs
# (η = 0.05).
#
# **The CNN with batch norm** gets a recipe that suits it:
#
# - *batch norm* standardises every channel over the batch before the ReLU, so the scale of each layer's input no
#   longer drifts as the weights before it change; training tolerates larger steps, and the noise of the batch
#   statistics regularises a little (chapter 4, section 4.6);
# - *Adam* (η = 0.01) adapts the step size per parameter, and `CosineLR` lowers η along half a cosine, from 0.01
#   to 0 over the 15 epochs (one `step()` per epoch): large steps early, small steps at the end that let the
#   weights settle instead of bouncing around the minimum;
# - *weight decay* (`weight_decay=0.03`) adds $\lambda w$ to every gradient, the gradient of the L2 penalty
#   $\tfrac{\lambda}{2}\lVert w\rVert^2$: it keeps the weights small, which trades a little training loss for a
#   smoother function that makes fewer mistakes on unseen digits.
#
# (Dropout, the other regulariser of chapter 4, did not help this small network: in our runs over five seeds,
# `Dropout(0.25)` before the last layer left the mean accuracy unchanged or lower and the spread between seeds
# wider.)

# %% tags=["nbval-ignore-output"]
plain_cnn = make_cnn(rng=0, batch_norm=False)
plain_history = lb.fit(plain_cnn, loss_fn, lb.SGD(plain_cnn.parameters(), lr=0.05, momentum=0.9),
                       (Xi_train, yi_train), epochs=15, batch_size=32, rng=0, progress=False)
plain_acc = lb.evaluate(plain_cnn, loss_fn, Xi_test, yi_test)[1]

cnn = make_cnn(rng=0)
optimizer = lb.Adam(cnn.parameters(), lr=0.01, weight_decay=0.03)
cnn_history = lb.fit(cnn, loss_fn, optimizer, (Xi_train, yi_train), epochs=15, batch_size=32, rng=0,
                     scheduler=lb.CosineLR(optimizer, 15), progress=False)
cnn_acc = lb.evaluate(cnn, loss_fn, Xi_test, yi_test)[1]

print(f"{'model':14s} {'parameters':>10s} {'test accuracy':>14s} {'wrong':>6s} {'training time':>14s}")
for name, m, acc, hist in [("MLP", mlp, mlp_acc, mlp_history), ("plain CNN", plain_cnn, plain_acc, plain_history),
                           ("CNN + BN", cnn, cnn_acc, cnn_history)]:
    print(f"{name:14s} {m.num_parameters():10,d} {acc:14.4f} {round((1 - acc) * len(y_test)):6d} "
          f"{hist.seconds:12.1f} s")

# %%
assert cnn_acc >= 0.98 and cnn_acc > mlp_acc, (cnn_acc, mlp_acc)  # seeds 0-9: 98.4-99.3 %
assert plain_acc >= 0.975, plain_acc
assert cnn.num_parameters() < mlp.num_parameters() / 8
print("the CNN reaches ≥ 98 %, above the MLP, with 8× fewer parameters")

# %% [markdown]
# On these 8 × 8 images both CNNs make fewer mistakes than the MLP with an eighth of its parameters, but they take
# longer per step: each filter is applied at every position. Over the seeds 0–4 (network and batch order), the
# plain CNN with the MLP's recipe reaches 97.8–98.4 % — a few fewer mistakes than the MLP, but one seed can cost a
# digit or three — and the CNN with batch norm, Adam, the cosine schedule and weight decay 98.7–98.9 %, every seed
# above 98.5 % (over seeds 0–9: 98.4–99.3 %, eight of ten above 98.5 %).
#
# The CNN's real advantage shows when the input moves. Shift every test digit one pixel to the right (a zero column
# enters on the left):

# %% tags=["nbval-ignore-output"]
shifted = np.zeros_like(Xi_test)
shifted[..., 1:] = Xi_test[..., :-1]
shift_acc = {"MLP": lb.evaluate(mlp, loss_fn, shifted.reshape(-1, 64), y_test)[1],
             "CNN": lb.evaluate(cnn, loss_fn, shifted, y_test)[1]}
for name, before in [("MLP", mlp_acc), ("CNN", cnn_acc)]:
    print(f"{name}: test accuracy {before:.3f} → {shift_acc[name]:.3f} on digits shifted by one pixel")

# %%
assert shift_acc["CNN"] > shift_acc["MLP"] + 0.1
print("one pixel of shift costs the MLP far more accuracy than the CNN")

# %% [markdown]
# Neither network was trained on shifted digits, so both lose accuracy — but the CNN's shared filters and pooling
# make it far more tolerant, while to the MLP a shifted digit is largely a new pattern.
#
# ## 5.6 Residual networks
#
# ### Vanishing gradients
#
# Why not simply stack more layers? Backpropagation multiplies the gradient by one Jacobian per layer. For a
# stack $h_l = f_l(h_{l-1})$:
#
# $$\frac{\partial L}{\partial h_0} = J_1^\top J_2^\top \cdots J_L^\top \frac{\partial L}{\partial h_L},
# \qquad J_l = \frac{\partial h_l}{\partial h_{l-1}}.$$
#
# If each factor shrinks the gradient, the product shrinks *exponentially* with depth, and the first layers —
# whose update is $\eta$ times that gradient — stop learning. The sigmoid is the classic culprit: its derivative
# $\sigma'(z) = \sigma(z)(1 - \sigma(z))$ is at most 1/4.

# %%
z = np.linspace(-6, 6, 1201)[:, None]
sigmoid = lb.Sigmoid()
sigmoid(z)
dsigma = sigmoid.backward(np.ones_like(z))  # backward with ∂L/∂y = 1 returns σ'(z)
print(f"max σ'(z) = {dsigma.max():.4f} at z = {z[dsigma.argmax(), 0]:.2f}")
assert np.isclose(dsigma.max(), 0.25) and z[dsigma.argmax(), 0] == 0.0

# %% [markdown]
# The experiment: a deep **plain** network — an input layer 64 → 32, then `depth` blocks of sigmoid → linear
# (32 → 32), then sigmoid → linear (32 → 10) — against the same network with a **residual connection** around every
# block: the block's input is added to its output,
#
# $$\text{plain: } y = F(x), \qquad \text{residual: } y = F(x) + x, \qquad F(x) = W\sigma(x) + b .$$
#
# `lb.Residual(F)` computes exactly $F(x) + x$. (The activation is placed *before* the linear layer, so that each $F$
# adds a zero-mean term to the running sum — the "pre-activation" block of He et al., 2016. Both networks use the
# same layers with the same initial weights; the only difference is the `+ x`.)


# %%
def make_deep(depth, residual, rng=0, width=32):
    rng = np.random.default_rng(rng)
    blocks = []
    for _ in range(depth):
        F = lb.Sequential(lb.Sigmoid(), lb.Linear(width, width, init="xavier", rng=rng))
        blocks.append(lb.Residual(F) if residual else F)
    return lb.Sequential(lb.Linear(64, width, init="xavier", rng=rng), *blocks,
                         lb.Sigmoid(), lb.Linear(width, 10, init="xavier", rng=rng))


plain, residual = make_deep(20, residual=False), make_deep(20, residual=True)
assert all(np.array_equal(a.value, b.value) for a, b in zip(plain.parameters(), residual.parameters()))
print(f"depth 20: {len(plain.parameters()) // 2} linear layers, {plain.num_parameters():,} parameters in each network")

# %% [markdown]
# One forward and one backward pass on 256 training images, then the norm $\lVert\partial L/\partial W\rVert$ of
# every weight matrix, from the input side to the output side (`layer_grad_norms` does exactly this):

# %%
_, plain_norms = layer_grad_norms(plain, loss_fn, X_train[:256], y_train[:256])
_, res_norms = layer_grad_norms(residual, loss_fn, X_train[:256], y_train[:256])

fig, ax = plt.subplots(figsize=(7, 3.5))
layers = np.arange(1, len(plain_norms) + 1)
ax.semilogy(layers, plain_norms, "o-", label="plain: y = F(x)")
ax.semilogy(layers, res_norms, "s-", label="residual: y = F(x) + x")
ax.set_xlabel("linear layer (input side → output side)")
ax.set_ylabel("‖∂L/∂W‖ (log scale)")
ax.set_title("gradient size per layer, depth 20, at initialisation")
ax.legend()
plt.show()

ratio = res_norms[0] / plain_norms[0]
print(f"first layer: plain ≈{plain_norms[0]:.1e}, residual ≈{res_norms[0]:.1e} → ratio ≈{ratio:.0e}")
print(f"last layer:  plain ≈{plain_norms[-1]:.2f}, residual ≈{res_norms[-1]:.2f}")
assert ratio >= 100  # the plain network's first layer gets a gradient orders of magnitude smaller
assert plain_norms[0] < 1e-6 * plain_norms[-1]  # vanished along the way: ~10⁻¹³ of the last layer's
assert res_norms[0] > 0.01 * res_norms[-1]  # the residual network's gradient reaches the first layer

# %% [markdown]
# In the plain network the gradient shrinks by roughly a constant factor per layer — a straight line on the log
# scale — and the first layer gets some thirteen orders of magnitude less than the last one. With residual connections, every layer
# receives a gradient of the same order.
#
# ### Why the identity path carries the gradient
#
# Differentiate $y = F(x) + x$:
#
# $$\frac{\partial y}{\partial x} = \frac{\partial F}{\partial x} + I .$$
#
# Through $L$ residual blocks the gradient is multiplied by $\prod_l (J_{F_l} + I)^\top$. Expanding the product,
# one term is $I \cdot I \cdots I$: the gradient at the output reaches the input *unchanged*, whatever the blocks do,
# and the terms through the blocks add to it. A plain stack has only the product $\prod_l J_{F_l}$, which vanishes
# when every factor is small. The cell checks the formula on one block by building both Jacobians row by row
# from `backward` (with $\partial L/\partial y = e_i$, backward returns row $i$ of the Jacobian).

# %%
rng = np.random.default_rng(5)
F = lb.Sequential(lb.Sigmoid(), lb.Linear(4, 4, rng=rng, dtype=np.float64))
block = lb.Residual(F)
x = rng.normal(size=(1, 4))


def jacobian(module, x):
    module(x)
    return np.vstack([module.backward(row[None]) for row in np.eye(x.shape[1])])  # row i = ∂y_i/∂x


J_F, J_block = jacobian(F, x), jacobian(block, x)
print("∂F/∂x ≈", J_F, "\n∂y/∂x for y = F(x) + x ≈", J_block, sep="")
assert np.allclose(J_block, J_F + np.eye(4))
print("∂y/∂x − ∂F/∂x equals the identity matrix (up to round-off)")

# %% [markdown]
# ### Training: the plain network stalls, the residual network learns
#
# Both depth-20 networks, trained the same way: plain SGD (no momentum, so that each update is exactly $\eta$
# times the gradient, as in step e) with η = 1 for 8 epochs.

# %% tags=["nbval-ignore-output"]
deep_runs = {name: train_curve(lambda r=r: make_deep(20, residual=r), (X_train, y_train), lr=1.0, epochs=8,
                               optimizer="sgd", val_data=(X_test, y_test))
             for name, r in [("plain", False), ("residual", True)]}
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, run in deep_runs.items():
    ax.plot(run.step_loss, lw=1, label=f"{name}: test accuracy {run.val_acc[-1]:.2f}")
ax.axhline(np.log(10), color="gray", ls=":", label="log 10: guessing")
ax.set_xlabel("step")
ax.set_ylabel("training loss")
ax.set_title("depth 20")
ax.legend()
plt.show()
for name, run in deep_runs.items():
    print(f"{name:8s}: final train loss ≈{run.train_loss[-1]:.3f}, test accuracy ≈{run.val_acc[-1]:.3f}")

# %%
assert deep_runs["plain"].train_loss[-1] > 2.2 and deep_runs["plain"].val_acc[-1] < 0.2  # stuck near log 10
assert deep_runs["residual"].train_loss[-1] < 0.5 and deep_runs["residual"].val_acc[-1] > 0.85
print("plain depth 20: stuck at chance; residual depth 20: learns")

# %% [markdown]
# ### Depth
#
# How deep can each network go? Left: the first layer's gradient norm at initialisation for depths 1–30 (cheap: one
# backward pass each). Right: the training loss after 4 epochs for a few depths.

# %%
depths = np.arange(1, 31)
first_norm = {r: [layer_grad_norms(make_deep(d, r), loss_fn, X_train[:256], y_train[:256])[1][0] for d in depths]
              for r in (False, True)}
sweep = [1, 2, 5, 10, 20]  # depth 20 was trained above: its loss after 4 of its 8 epochs is the same number
sweep_loss = {r: [train_curve(lambda d=d, r=r: make_deep(d, r), (X_train, y_train), lr=1.0, epochs=4,
                              optimizer="sgd").train_loss[-1] for d in sweep[:-1]]
                 + [deep_runs[name].train_loss[3]]
              for r, name in [(False, "plain"), (True, "residual")]}

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
for r, label, marker in [(False, "plain", "o"), (True, "residual", "s")]:
    ax1.semilogy(depths, first_norm[r], marker + "-", ms=3, label=label)
    ax2.plot(sweep, sweep_loss[r], marker + "-", label=label)
ax1.set_xlabel("depth (blocks)")
ax1.set_ylabel("first layer ‖∂L/∂W‖")
ax2.axhline(np.log(10), color="gray", ls=":", label="log 10: guessing")
ax2.set_xlabel("depth (blocks)")
ax2.set_ylabel("training loss after 4 epochs")
for ax in (ax1, ax2):
    ax.legend()
fig.set_layout_engine("constrained")
plt.show()

# %%
plain_first, res_first = np.array(first_norm[False]), np.array(first_norm[True])
assert np.all(np.diff(np.log(plain_first)) < 0)  # plain: every extra block shrinks the first gradient
assert res_first.min() > 0.05 * res_first.max()  # residual: about the same at every depth
assert sweep_loss[False][0] < 1.0 and min(sweep_loss[False][2:]) > 2.2  # plain: shallow trains, deep is stuck
assert max(sweep_loss[True]) < 1.0  # residual: trains at every depth
print("plain: trains only when shallow; residual: trains at every depth tried")

# %% [markdown]
# With the slider you can pick the depth yourself; both networks are rebuilt at that depth, their gradient norms
# plotted and both trained for 3 epochs (the first draw is at depth 10).

# %% tags=["nbval-ignore-output"]
depth_explorer({"plain": lambda d: make_deep(d, False), "residual": lambda d: make_deep(d, True)},
               (X_train, y_train), depth=10, depths=(1, 40), lr=1.0, epochs=3, optimizer="sgd")

# %% [markdown]
# ### Hundreds of layers
#
# Residual connections are the idea behind **ResNet** (He et al., 2015), the convolutional network that won the
# 2015 ImageNet competition with 152 layers; the paper also trained a 1,202-layer network. At 200 blocks our plain
# network's first-layer gradient is not just small — in float32 it underflows to exactly 0 — while the residual one
# is still of the same order as its last layer's, as at depth 20:

# %%
for r, name in [(False, "plain"), (True, "residual")]:
    norms = layer_grad_norms(make_deep(200, r), loss_fn, X_train[:256], y_train[:256])[1]
    first = "= 0 exactly" if norms[0] == 0 else f"≈{norms[0]:.2g}"
    print(f"depth 200, {name:8s}: first layer ‖∂L/∂W‖ {first}, last layer ≈{norms[-1]:.2g}")
    if r:
        assert norms[0] > 0.01 * norms[-1]
    else:
        assert norms[0] == 0.0

# %% [markdown]
# **A note on history.** The notes say ResNet solved vanishing gradients; the precise story is a little different.
# By 2015, careful initialisation and batch normalisation already kept gradients alive in plain networks of a few
# dozen layers. What He et al. observed was *degradation*: deeper plain networks had a *higher training* error than
# shallower ones, so the extra layers were not even learning to pass their input through. A residual block makes
# "pass the input through" the default — with $F = 0$ it is the identity (exercise 3) — and its identity path keeps
# the gradient flowing, as measured above. Both effects are why residual connections now appear in nearly every
# deep architecture, transformers included (chapter 6).
#
# A convolutional residual block looks the same: $F$ is conv → batch norm → ReLU → conv → batch norm, and when $F$
# changes the number of channels, the skip path gets a 1 × 1 convolution (a *projection*) so that the shapes match.

# %%
block = lb.Residual(lb.Sequential(lb.Conv2d(16, 16, 3, padding="same", rng=0), lb.BatchNorm2d(16), lb.ReLU(),
                                  lb.Conv2d(16, 16, 3, padding="same", rng=1), lb.BatchNorm2d(16)))
widen = lb.Residual(lb.Sequential(lb.Conv2d(16, 32, 3, padding="same", rng=2), lb.BatchNorm2d(32), lb.ReLU(),
                                  lb.Conv2d(32, 32, 3, padding="same", rng=3), lb.BatchNorm2d(32)),
                    projection=lb.Conv2d(16, 32, kernel_size=1, rng=4))
feature_maps = np.random.default_rng(6).normal(size=(2, 16, 8, 8)).astype(np.float32)
print(f"{feature_maps.shape} → block → {block(feature_maps).shape} → widening block → {widen(block(feature_maps)).shape}")
assert widen(block(feature_maps)).shape == (2, 32, 8, 8)
try:
    lb.Residual(lb.Conv2d(16, 32, 3, padding="same"))(feature_maps)  # F changes the shape, no projection
except ValueError as err:
    print("without a projection:", err)
else:
    raise AssertionError("Residual should refuse to add tensors of different shapes")

# %% [markdown]
# ## Summary
#
# | architecture | built from | what it buys |
# |---|---|---|
# | MLP | `Linear` layers separated by activations (ReLU) | approximates any continuous function of a fixed-size input, given enough units |
# | CNN | `Conv2d` → (`BatchNorm2d`) → ReLU → pooling blocks, then `Flatten` → `Linear` | weights shared across positions: few parameters, tolerance to shifts |
# | residual network | blocks `y = F(x) + x` (`lb.Residual`) | ∂y/∂x = ∂F/∂x + I: the gradient reaches every layer, so depth stays trainable |
#
# Training is the same six steps for all three: initialise, forward, loss, backward, update, repeat — `lb.fit`.
#
# ## Exercises
#
# Each exercise is followed by an answer cell whose assertions check it. Try first, then run the answer.
#
# **Exercise 1 (parameters).** The MNIST MLP of the book's benchmark is 784 → 256 → 256 → 10. How many parameters
# does it have? How many has a CNN `Conv2d(1, 8, 3)` → `Conv2d(8, 16, 3)` (the rest of the network aside)?

# %%
# Answer: (784·256 + 256) + (256·256 + 256) + (256·10 + 10) = 200,960 + 65,792 + 2,570 = 269,322;
# a conv layer has C_out·(C_in·K·K + 1): 8·(1·9 + 1) + 16·(8·9 + 1) = 80 + 1,168 = 1,248, whatever the image size.
bench_mlp = lb.Sequential(lb.Linear(784, 256), lb.ReLU(), lb.Linear(256, 256), lb.ReLU(), lb.Linear(256, 10))
assert bench_mlp.num_parameters() == 269_322
assert lb.Sequential(lb.Conv2d(1, 8, 3), lb.ReLU(), lb.Conv2d(8, 16, 3)).num_parameters() == 1_248

# %% [markdown]
# **Exercise 2 (an upper bound on vanishing).** A stack of 30 sigmoids, with no weights at all, maps $x$ to
# $\sigma(\sigma(\cdots\sigma(x)))$. Without computing it exactly, bound $\lvert\partial y/\partial x\rvert$ — then
# check the bound with `backward` for several inputs.

# %%
# Answer: by the chain rule the derivative is a product of 30 factors σ'(·) ≤ 1/4, so it is at most 4⁻³⁰ ≈ 8.7e-19.
stack = lb.Sequential(*[lb.Sigmoid() for _ in range(30)])
x = np.linspace(-5, 5, 11)[:, None]
stack(x)
dy_dx = stack.backward(np.ones_like(x))
assert np.all(np.abs(dy_dx) <= 0.25**30) and 0.25**30 < 1e-18

# %% [markdown]
# **Exercise 3 (a block that does nothing).** Set every parameter of $F$ to zero in a residual block and in the same
# plain block. What do the two blocks compute, and what gradient do they pass back?

# %%
# Answer: F(x) = 0, so the residual block is the identity (y = x) and passes ∂L/∂y back unchanged,
# while the plain block outputs 0 and passes back a zero gradient: nothing before it can learn.
F = lb.Sequential(lb.Linear(8, 8, rng=0, dtype=np.float64), lb.ReLU(), lb.Linear(8, 8, rng=1, dtype=np.float64))
for p in F.parameters():
    p.value[...] = 0.0
x, g = np.random.default_rng(7).normal(size=(5, 8)), np.random.default_rng(8).normal(size=(5, 8))
res_block = lb.Residual(F)
assert np.array_equal(res_block(x), x) and np.array_equal(res_block.backward(g), g)
assert not F(x).any() and not F.backward(g).any()

# %% [markdown]
# **Exercise 4 (momentum as a larger step).** With momentum $\mu$ and a gradient that stays the same, SGD's step
# grows towards $\eta\, g/(1 - \mu)$. What is the effective learning rate of `SGD(lr=0.1, momentum=0.9)`? Check it
# on a single parameter with a constant gradient.

# %%
# Answer: v → g (1 + μ + μ² + …) = g/(1 − μ) = 10 g, so the step tends to 0.1·10·g: an effective η of 1.0.
w = lb.Parameter(np.zeros(1))
opt = lb.SGD([w], lr=0.1, momentum=0.9)
for _ in range(200):
    w.grad[...] = 1.0  # constant gradient g = 1
    before = w.value.copy()
    opt.step()
assert np.isclose(before - w.value, 1.0).all()  # the last step has size η/(1 − μ) = 1.0

# %% [markdown]
# **Exercise 5 (where the gradient goes).** In the depth-20 plain network above, by about what factor does the
# gradient norm shrink per block? Estimate it from `plain_norms` (a straight line on the log plot) and compare with
# the residual network's.

# %%
# Answer: fit a line to log ‖∂L/∂W‖ over the 20 blocks; going backwards (output → input) each block multiplies
# the norm by exp(−slope): around 0.25 for the plain network (σ' ≤ 1/4 times the weights), about 1 for the residual.
blocks = slice(1, 21)
plain_factor = np.exp(-np.polyfit(np.arange(20), np.log(plain_norms[blocks]), 1)[0])
res_factor = np.exp(-np.polyfit(np.arange(20), np.log(res_norms[blocks]), 1)[0])
print(f"gradient norm per block, backwards: plain × ≈{plain_factor:.2f}, residual × ≈{res_factor:.2f}")
assert 0.1 < plain_factor < 0.4 and 0.8 < res_factor < 1.3

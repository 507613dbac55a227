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
# # 2. Efficient computation
#
# Deep learning became practical when its computations were organised as operations on large arrays of numbers,
# **tensors**, that hardware processes far faster than one number at a time. This chapter is about that
# organisation: what a tensor is in memory, which quantities of a model are tensors, and how to write computations
# as a few big tensor operations instead of Python loops.
#
# **After this chapter you will be able to**
#
# - read a tensor's shape, dtype and strides, and predict whether an operation returns a view or copies memory;
# - store signals, parameters and activations as tensors, batch axis first;
# - replace loops over samples by one matrix product and by broadcasting, and measure the speed-up;
# - explain with the memory hierarchy and arithmetic intensity why one big matrix product is fast, and measure
#   the rate (GFLOP/s) a core achieves against its peak;
# - choose between float32 and float64, say why deep learning uses float32, and choose the step of a finite
#   difference;
# - compute a convolution as a single matrix product with the im2col trick.

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
import time
from pathlib import Path
from unittest import mock

import matplotlib.pyplot as plt
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import correlate

import littlebook as lb
import littlebook.exercises as ex
from littlebook.plot import image_grid
from littlebook.timing import time_calls

# %% [markdown]
# ## 2.1 Tensors: scalars arranged along discrete axes
#
# A **tensor** is a series of scalars arranged along several discrete axes: a vector has one axis, a matrix two,
# a batch of colour images four. In numpy a tensor is an `ndarray`: its `shape` gives the length of each axis, its
# `dtype` the type of every scalar.

# %%
t = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
print("shape", t.shape, "| axes", t.ndim, "| scalars", t.size, "| dtype", t.dtype, "| bytes per scalar", t.itemsize)
print("t[1, 2, 3] =", t[1, 2, 3])
assert t.size == 2 * 3 * 4

# %% [markdown]
# In memory the 24 scalars are one flat block. The **strides** say how many bytes to jump to move one step along
# each axis, so element $t[i, j, k]$ lives at byte offset $i\,s_0 + j\,s_1 + k\,s_2$. For this float32 tensor
# (4 bytes each), one step along the last axis is 4 bytes, along the middle one a row of 4 scalars (16 bytes),
# along the first a 3×4 block (48 bytes).

# %%
print("strides (bytes):", t.strides)
i, j, k = 1, 2, 3
offset = i * t.strides[0] + j * t.strides[1] + k * t.strides[2]
flat = t.reshape(-1)  # the memory block seen as one axis
print(f"offset of t[{i}, {j}, {k}] = {offset} bytes = scalar number {offset // t.itemsize} of the block")
assert t.strides == (48, 16, 4)
assert flat[offset // t.itemsize] == t[i, j, k]

# %% [markdown]
# ### Views and copies
#
# Because a tensor is a memory block *plus* a shape and strides, many operations only make a new shape and new
# strides over the same memory: a **view**, which costs nothing, whatever the size. Others must **copy**.
# `np.shares_memory` tells which.

# %%
operations = {
    "t.reshape(6, 4)": t.reshape(6, 4),        # same order of scalars: new shape, same memory
    "t.transpose(2, 0, 1)": t.transpose(2, 0, 1),  # axes swapped = strides swapped
    "t[:, ::2, 1:]": t[:, ::2, 1:],            # slicing with steps: larger strides, an offset
    "t[:, [0, 2]]": t[:, [0, 2]],              # "fancy" indexing with a list: a copy
    "t.transpose(0, 2, 1).reshape(2, 12)": t.transpose(0, 2, 1).reshape(2, 12),  # new order of scalars: a copy
}
for name, result in operations.items():
    kind = "view" if np.shares_memory(result, t) else "copy"
    print(f"{name:36s} shape {str(result.shape):10s} strides {str(result.strides):12s} {kind}")

assert [np.shares_memory(r, t) for r in operations.values()] == [True, True, True, False, False]
assert operations["t.transpose(2, 0, 1)"].strides == (4, 48, 16)

# %% [markdown]
# A view shares the scalars: writing through it changes the original. This is why a layer that keeps its input
# for the backward pass must not modify it in place.

# %%
v = t.reshape(6, 4)
v[0, 0] = -1.0
print("after v[0, 0] = -1:  t[0, 0, 0] =", t[0, 0, 0])
assert t[0, 0, 0] == -1.0
v[0, 0] = 0.0  # put it back

# %% [markdown]
# ## 2.2 Signals, parameters and activations are tensors
#
# Tensors hold the three kinds of quantities a model deals with: the **signal** it processes, its trainable
# **parameters**, and the intermediate results it computes, called **activations**.
#
# ### Signals
#
# Signals are stored batch first. A batch of images is a tensor of shape $(N, C, H, W)$: $N$ images of $C$ channels
# (1 for grey, 3 for colour) of $H \times W$ pixels. (A batch of sounds would be $(N, C, T)$, of texts $(N, T)$
# token indices.) Here are the 1,797 real 8×8 digits that scikit-learn ships.

# %%
images, labels = lb.load_digits(flatten=False)
print("images:", images.shape, images.dtype, " strides:", images.strides, " labels:", labels.shape)
assert images.shape == (1797, 1, 8, 8)
fig, _ = image_grid(images[:16], titles=labels[:16], ncols=8)
plt.show()

# %% [markdown]
# The channel axis has length 1: its only index is 0, so its stride is never used to step. numpy still records a
# stride for it, the one a contiguous layout gives (one 8×8 channel of float32 is 256 bytes), and any other value
# would address the very same scalars. A **repeated** axis is different: to see each grey image as three identical
# colour channels without copying, numpy gives that axis stride **0**, so every step along it reads the same
# 256 bytes again. `np.broadcast_to` builds such a view (section 2.4 uses it for broadcasting); numpy marks it
# read-only, since writing one channel would write all three.

# %%
assert images.strides[1] == 8 * 8 * images.itemsize  # the contiguous-layout value, not 0
other = np.lib.stride_tricks.as_strided(images, strides=(256, 999, 32, 4))  # any stride on the length-1 axis...
assert np.array_equal(other, images) and other.flags.c_contiguous          # ...addresses the same scalars
rgb = np.broadcast_to(images, (1797, 3, 8, 8))  # the channel repeated 3 times
print("as 3 channels:", rgb.shape, "strides", rgb.strides, "| a view:", np.shares_memory(rgb, images),
      "| writeable:", rgb.flags.writeable)
assert rgb.strides == (256, 0, 32, 4) and np.shares_memory(rgb, images)
assert np.array_equal(rgb[:, 2], images[:, 0])

# %% [markdown]
# Flattening each image to a vector of 64 pixels, as a dense layer needs, is a reshape of a contiguous block: a
# view, free.

# %%
vectors = images.reshape(len(images), -1)
print("flattened:", vectors.shape, "| a view:", np.shares_memory(vectors, images))
assert vectors.shape == (1797, 64) and np.shares_memory(vectors, images)

# %% [markdown]
# ### Parameters
#
# A layer's parameters are tensors too. `lb.Linear(64, 32)` holds a weight matrix $W$ of shape (32, 64), one row
# per output, and a bias vector $b$ of shape (32,).

# %%
model = lb.Sequential(lb.Flatten(), lb.Linear(64, 32, rng=0), lb.ReLU(), lb.Linear(32, 10, rng=1))
for name, p in model.named_parameters():
    print(f"{name:10s} {str(p.shape):9s} {p.value.dtype}")
print("total:", model.num_parameters(), "scalars")
assert model.num_parameters() == 64 * 32 + 32 + 32 * 10 + 10

# %% [markdown]
# ### Activations
#
# Running a batch through the model, each layer turns one tensor into the next; these intermediate tensors are the
# activations. Their first axis is still the batch.

# %%
x = images[:16]
activations = [x]
for layer in model.layers:
    activations.append(layer(activations[-1]))
for layer, a in zip(["input", *model.layers], activations, strict=True):
    print(f"{str(layer):16s} → {a.shape}")
assert np.array_equal(activations[-1], model(x))  # the same computation as model(x)

fig, ax = plt.subplots(figsize=(6, 2.6))
heat = ax.imshow(activations[3], cmap="viridis", aspect="auto")
fig.colorbar(heat, ax=ax, label="activation")
ax.set_yticks([0, 5, 10, 15])
ax.set_xlabel("hidden unit (32)")
ax.set_ylabel("image in the batch (16)")
ax.set_title("activations after the ReLU: a (16, 32) tensor", fontsize="small")
plt.show()

# %% [markdown]
# ## 2.3 Batching: a batch through a layer is one matrix product
#
# A `Linear` layer computes $z_i = \sum_j W_{ij} x_j + b_i$ for one input vector $x$. Stacking $N$ inputs as the
# rows of $X$ $(N, D)$, all $N$ outputs are one matrix product,
#
# $$Z = X W^\top + b, \qquad (N, D) \cdot (D, M) \to (N, M).$$
#
# It gives what a loop over the samples gives, up to float32 rounding: the matrix library adds the products in
# another order, so the last digit or two can differ.

# %%
layer = lb.Linear(64, 32, rng=0)
X = vectors[:100]
Z_batch = layer(X)
Z_loop = np.stack([layer(x[None])[0] for x in X])  # one sample at a time, as a (1, 64) batch
Z_formula = np.einsum("ij,nj->ni", layer.weight.value, X) + layer.bias.value  # z_ni = Σ_j W_ij x_nj + b_i
# float32 rounding: measured max difference 6e-7 to 7e-7 (AVX2 and SSE3 kernels) on outputs up to 2.4
assert np.abs(Z_batch - Z_loop).max() < 1e-5 and np.abs(Z_batch - Z_formula).max() < 1e-5
print("batched output:", Z_batch.shape, "| equal to the loop and to the formula up to < 1e-5")

# %% [markdown]
# ## 2.4 Broadcasting
#
# Adding the bias $b$ $(M,)$ to $X W^\top$ $(N, M)$ above added it to every row. This is **broadcasting**: to combine
# two tensors of different shapes, numpy aligns their shapes from the right; two lengths are compatible if they are
# equal or one of them is 1 (a missing axis counts as 1), and an axis of length 1 is stretched to match, without
# copying anything.

# %%
assert np.broadcast_shapes((100, 32), (32,)) == (100, 32)         # bias: (32,) is read as (1, 32)
assert np.broadcast_shapes((5, 1), (1, 7)) == (5, 7)              # a column against a row: every pair
assert np.broadcast_shapes((16, 3, 8, 8), (3, 1, 1)) == (16, 3, 8, 8)  # one number per channel
try:
    np.ones((100, 32)) + np.ones(100)  # aligned from the right: 32 against 100
except ValueError as error:
    print("ValueError:", error)
else:
    raise AssertionError("(100, 32) + (100,) should not broadcast")

# %% [markdown]
# Stretching is free because, as in section 2.2, a broadcast axis gets stride 0: every step along it reads the same
# scalars.

# %%
b = np.arange(3, dtype=np.float32)
stretched = np.broadcast_to(b, (4, 3))
print("shape", stretched.shape, "strides", stretched.strides, "| shares memory with b:", np.shares_memory(stretched, b))
assert stretched.strides == (0, 4)

# %% [markdown]
# Broadcasting expresses "every pair" computations without loops. The squared distance between each of $N$ digits
# $(N, 1, 64)$ and each of the 10 class means $(1, 10, 64)$ is an $(N, 10, 64)$ difference summed over pixels.
# Predicting the class of the nearest mean is already a classifier. As in chapter 1, it is scored on digits it was
# not fitted on: the means come from a random two thirds of the digits, the accuracy from the other third.

# %%
def nearest_mean_split(seed):
    """Class means of a random 2/3 of the digits; squared distances of the held-out 1/3 to every mean."""
    X_train, X_test, y_train, y_test = lb.train_test_split(vectors, labels, test_size=1 / 3, rng=seed)
    means = np.stack([X_train[y_train == c].mean(axis=0) for c in range(10)])  # (10, 64)
    sq_dist = ((X_test[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)  # (N, 10, 64) summed over pixels
    return X_test, y_test, means, sq_dist


X_test, y_test, class_means, sq_dist = nearest_mean_split(seed=0)
predicted = sq_dist.argmin(axis=1)
print(f"means {class_means.shape} of {len(vectors) - len(X_test)} training digits; distances of the "
      f"{len(X_test)} held-out digits: {sq_dist.shape}")
assert sq_dist.shape == (599, 10)
assert np.isclose(sq_dist[5, 7], np.sum((X_test[5] - class_means[7]) ** 2), rtol=1e-5)  # one entry, directly
accuracies = [np.mean(d.argmin(axis=1) == y) for _, y, _, d in map(nearest_mean_split, range(5))]
print(f"held-out accuracy over 5 random splits ≈{np.mean(accuracies):.3f} "
      f"(from ≈{min(accuracies):.3f} to ≈{max(accuracies):.3f})")
# splits 0-4: 0.886-0.913, mean 0.904, identical on every configuration: for every held-out digit the nearest and
# second-nearest means differ by at least a relative 8e-4, far above float32 rounding
assert all(0.86 < a < 0.94 for a in accuracies) and 0.88 < np.mean(accuracies) < 0.93

# %% [markdown]
# ## 2.5 Measured: a loop over samples against one matrix product
#
# Both computations of section 2.3 give the same numbers (up to float32 rounding); they do not take the same
# time. Below we time a layer with 64 inputs and 64 outputs, $W$ (64, 64) and $b$ (64,), on batches of digits, in
# plain numpy both times: once looping over the samples in Python, $z = W x + b$ for each, and once as the batched
# product $X W^\top + b$. `lb.time_calls` runs the two alternately in several rounds and keeps each one's best
# round, so that both meet the same state of the machine; it limits numpy's matrix library to one thread; and
# with `clock=time.process_time` it counts the processor time this program used rather than the clock, which would
# also count the time the core spent on other programs.

# %%
layer = lb.Linear(64, 64, rng=0)
weight, bias = layer.weight.value, layer.bias.value
batch_sizes = [1, 4, 16, 64, 256, 1024]
loop_time, batch_time = [], []
for n in batch_sizes:
    xb = vectors[:n]
    seconds = time_calls({"loop": lambda xb=xb: np.stack([weight @ x + bias for x in xb]),
                          "batched": lambda xb=xb: xb @ weight.T + bias}, rounds=5, clock=time.process_time)
    loop_time.append(seconds["loop"] / n)
    batch_time.append(seconds["batched"] / n)
    print(f"N = {n:4d}: loop ≈{1e6 * loop_time[-1]:.2f} µs per sample, batched ≈{1e6 * batch_time[-1]:.3f} µs "
          f"per sample: ≈{loop_time[-1] / batch_time[-1]:.1f}× faster")
# Timings depend on the machine and its load; the claim checked is only that batching wins by a wide margin at
# N = 1024 (measured 13-19× on a loaded 2-core AMD EPYC, eight runs under the three CPU configurations of
# docs/contributing.md; 23× on the Intel Xeon whose output is shown)
speedup = loop_time[-1] / batch_time[-1]
assert speedup > 4, f"the batched product should be much faster than the loop, measured {speedup:.1f}×"

x1 = vectors[:1]
per_call = time_calls({"layer": lambda: layer(x1), "numpy": lambda: x1 @ weight.T + bias}, clock=time.process_time)
print(f"one sample through lb.Linear ≈{1e6 * per_call['layer']:.1f} µs, the same arithmetic in numpy "
      f"≈{1e6 * per_call['numpy']:.1f} µs: the layer adds ≈{1e6 * (per_call['layer'] - per_call['numpy']):.1f} µs "
      f"per call")
# measured 6.4-12.7 µs against 2.0-3.4 µs in the same runs (AMD EPYC), 22 against 5 µs on the Intel Xeon: the
# layer's own work per call is two to four times numpy's
assert per_call["layer"] > 1.3 * per_call["numpy"]

fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.loglog(batch_sizes, 1e6 * np.array(loop_time), "o-", label="Python loop over samples: W @ x + b")
ax.loglog(batch_sizes, 1e6 * np.array(batch_time), "o-", label="one batched matrix product: X @ W.T + b")
ax.set_xlabel("batch size N")
ax.set_ylabel("µs per sample")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# The loop pays a fixed cost for every numpy call, 2 to 3 µs (two calls per sample: the product and the `+ b`):
# Python running the loop body, numpy checking its arguments, allocating the small result and handing the product
# to the matrix library. The arithmetic of one
# sample, 64 × 64 multiply-adds, costs far less: the batched time per sample, 0.1 to 0.2 µs. The batched product
# pays the fixed cost once for the whole batch, which is why its time per sample falls as $N$ grows until the
# arithmetic dominates. Memory plays no part yet: the 16 kB weight matrix fits in the smallest cache (section 2.6)
# in both versions. A loop over the calls of a library layer pays the layer's own cost too, once per sample (the
# last line above): `lb.Linear` checks the dtype and shape of its input and records its state so that a failed
# forward pass can be undone. The exact speed-up depends on your machine; the claim we check is that it is large.
# Section 2.6 takes a layer large enough for memory to matter.

# %% [markdown]
# ## 2.6 Why batching is fast: memory, caches and arithmetic intensity
#
# A processor core computes far faster than memory can feed it numbers. Between the two sits a **memory
# hierarchy**, each level larger and slower than the one before (typical published figures for current desktop
# and server processors, not measured here):
#
# | level | typical size | typical latency | shared? |
# |---|---|---|---|
# | registers | 16-32 vector registers of 32-64 bytes | none, operands of an instruction | per core |
# | L1 cache | 32-64 kB | ~1 ns (4-5 cycles) | per core |
# | L2 cache | 0.5-2 MB | ~3-4 ns (12-16 cycles) | per core |
# | L3 cache | 8-100 MB | ~10-15 ns (40-50 cycles) | by the cores of a chip |
# | RAM | 8 GB-1 TB | ~80-100 ns; ~20-100 GB/s in total | by all cores |
#
# Data moves between levels in blocks of 64 bytes (cache lines). A computation is fast when the numbers it needs
# are already in a near level, which happens when it uses each number many times once it has been brought in. This
# machine's caches, as the operating system reports them (this output depends on the machine):

# %% tags=["nbval-ignore-output"]
cache_dir = Path("/sys/devices/system/cpu/cpu0/cache")
cache_levels = sorted(cache_dir.glob("index*")) if cache_dir.is_dir() else []
for index in cache_levels:
    level, kind, size = ((index / name).read_text().strip() for name in ("level", "type", "size"))
    print(f"L{level} {kind:12s} {size}")
if not cache_levels:
    print(f"cache sizes unavailable ({cache_dir} does not exist on this system)")

# %% [markdown]
# ### Arithmetic intensity
#
# The **arithmetic intensity** of a computation is the number of floating-point operations (FLOPs) it performs
# per byte it moves between memory and the core. A layer with weights $W$ $(M, D)$ applied to one input vector is
# a matrix-vector product: $2MD$ FLOPs (a multiply and an add per weight) for at least $4MD$ bytes read in float32,
# since every weight must come in once and is then used once: about ½ FLOP per byte. Applied to a batch $X$
# $(N, D)$, the same weights do $2NMD$ FLOPs for $4(MD + ND + NM)$ bytes (read $W$ and $X$, write $Z$):
#
# $$I(N) = \frac{2NMD}{4\,(MD + ND + NM)} \;\approx\; \frac{N}{2} \quad \text{while } N \ll M, D:$$
#
# every weight brought in from memory is used $N$ times. A core can at best run at
# $\min(\text{peak FLOP/s},\; I \times \text{bandwidth})$: a computation of low intensity waits for memory, one of
# high intensity is limited by the arithmetic units. For $M = D = 2048$ (16 MB of float32 weights):

# %%
M = D = 2048
gemm_batches = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


def intensity(n, m=M, d=D):
    """FLOPs per byte of X (n, d) @ W.T (d, m) in float32: W and X read once, Z written once."""
    return 2 * n * m * d / (4 * (m * d + n * d + n * m))


for n in gemm_batches:
    print(f"N = {n:3d}: {2 * n * M * D / 1e6:7.1f} MFLOP for {4 * (M * D + n * D + n * M) / 1e6:5.2f} MB: "
          f"intensity {intensity(n):6.2f} FLOP/byte")
assert abs(intensity(1) - 0.5) < 1e-3 and intensity(512) > 100  # exact arithmetic: 0.4995 and 170.67

# %% [markdown]
# ### Measured: GFLOP/s of one core against the batch size
#
# We time `X @ W.T` for these batch sizes, each against the same 16 MB of weights. Two reference measurements go
# with them: the core's **peak**, estimated from a large square product ($1024 \times 1024$ by
# $1024 \times 1024$, 2.1 GFLOP, about 25 ms here), about the best rate the matrix library reaches; and the time
# to **read** the weights once: `W_big.view(np.uint32).max()` looks at the same 16 MB as unsigned integers (a
# view, section 2.1) and keeps the largest, one integer comparison per number, about the least work a pass over
# memory can do. It measures how fast the 16 MB come in, independently of any matrix product. As in section 2.5,
# `lb.time_calls` runs numpy's matrix library on one thread and counts processor time, which matters even more
# here: these products last longer than the slice of time the operating system gives a program, so on a busy
# machine the clock would also count the time the core spent on other programs.

# %%
rng = np.random.default_rng(0)
square = rng.standard_normal((1024, 1024), dtype=np.float32)
W_big = rng.standard_normal((M, D), dtype=np.float32)
X_big = rng.standard_normal((max(gemm_batches), D), dtype=np.float32)
W_bits = W_big.view(np.uint32)  # the same 16 MB, read as integers
products = {n: (lambda n=n: X_big[:n] @ W_big.T) for n in gemm_batches}
# the two that only read W are timed together, so that what one leaves in the caches is what the other finds;
# the larger products (which also fill the caches with their own data) are interleaved with the peak
seconds = time_calls({"read W": lambda: W_bits.max(), 1: products.pop(1)}, rounds=5, clock=time.process_time)
seconds |= time_calls({"peak": lambda: square @ square, **products}, rounds=7, clock=time.process_time)
peak = 2 * 1024**3 / seconds["peak"] / 1e9
bandwidth = W_big.nbytes / seconds["read W"] / 1e9  # GB/s at which one core reads the 16 MB
gflops = [2 * n * M * D / seconds[n] / 1e9 for n in gemm_batches]
print(f"peak of one core: ≈{peak:.0f} GFLOP/s | reading W once: ≈{1e3 * seconds['read W']:.2f} ms, "
      f"≈{bandwidth:.0f} GB/s | machine balance peak / bandwidth ≈{peak / bandwidth:.1f} FLOP/byte")
for n, g in zip(gemm_batches, gflops, strict=True):
    print(f"batch {n:3d}: ≈{1e3 * seconds[n]:.2f} ms, ≈{g:.1f} GFLOP/s = ≈{g / peak:.2f} of the peak")
# Measured on a loaded 2-core AMD EPYC, six runs under the three CPU configurations of docs/contributing.md
# (AVX-512 and AVX kernels): peak 89-102 GFLOP/s; W read in 0.24-0.27 ms (62-71 GB/s); balance 1.3-1.6; batch 512
# at 0.91-0.97 of the peak, batch 8 at 0.17-0.20, batch 1 at 0.19-0.33. On the Intel Xeon (Ice Lake, 48 MB L3),
# the output shown: peak 81, W read in 0.76 ms (22 GB/s), balance 3.7, batch 512 at 1.00, batch 8 at 0.15, batch 1
# at 0.14. Only robust ratios are asserted. The
# balance depends on the machine: a core reading W from RAM (caches too small to hold 16 MB) sees perhaps 10-25 GB/s
# and a balance up to about 10; below 0.5 the core would read memory faster than it multiplies, which no CPU does.
assert 1 < peak < 10_000, peak
assert 0.5 < peak / bandwidth < 20, f"machine balance {peak / bandwidth:.1f} FLOP/byte"
assert gflops[-1] > 0.5 * peak, "batch 512 should run near the peak"
assert gflops[-1] > 2 * gflops[0] and gflops[0] < 0.6 * peak, "batch 1 should run far below the peak"
# batch 1 took 1.0-1.8 times as long as reading W: a matrix-vector product runs at about the speed of its reads
assert 0.5 < seconds[1] / seconds["read W"] < 3
# by the roofline batch 8 (intensity 4) could run at the peak; it reached about a fifth of it
assert gflops[gemm_batches.index(8)] < 0.6 * min(peak, intensity(8) * bandwidth), "batch 8 far below its bound"

fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.semilogx(gemm_batches, gflops, "o-", label="X @ W.T, W of shape (2048, 2048)")
ax.semilogx(gemm_batches, [min(peak, intensity(n) * bandwidth) for n in gemm_batches], "k:",
            label="roofline min(peak, I × bandwidth)")
ax.axhline(peak, color="gray", linestyle="--", label="peak (1024³ square product)")
ax.set_xticks(gemm_batches, [str(n) for n in gemm_batches])
ax.set_xlabel("batch size N")
ax.set_ylabel("GFLOP/s (one core, float32)")
ax.set_ylim(0, 1.5 * max(peak, *gflops))  # room for the legend above the curves
ax.legend(fontsize="small", loc="upper left")
plt.show()

# %% [markdown]
# Batch 1 is a matrix-vector product: it takes about as long as merely reading the 16 MB of weights once (1.0 to
# 1.8 times in our runs, on an AMD EPYC and on the Intel Xeon whose output is shown), and several times as long as
# its arithmetic would at the peak, so its rate is set by how fast the weights come in, and the arithmetic units
# wait most of the time. Where they come in from depends on the machine: both of ours have an L3 cache large
# enough to hold them (32 MB on the AMD EPYC, 48 MB on the Intel Xeon, listed above), so after the first call they
# can come from there rather than from RAM, which is slower still. The ratio peak / bandwidth, the **machine
# balance**, is the intensity a computation needs to keep the core busy: 1.3 to 1.6 FLOP/byte on the AMD EPYC,
# about 3.7 on the Intel Xeon, whose core reads the weights about three times more slowly (≈22 against 62-71 GB/s),
# and more still on a machine whose caches cannot hold the weights, so that they come from RAM.
# By the bound $\min(\text{peak}, I \times \text{bandwidth})$, the **roofline**, every batch from 4 on (intensity 2
# and more) should then run at about the peak. Only the large ones do: batch 512, at ~170 FLOP/byte, runs near the
# peak (the matrix library splits the product into blocks that stay in the L1 and L2 caches and in registers, so
# each number fetched from memory serves hundreds of multiply-adds; exercise 2.8 counts what that saves), but
# batch 8 reaches a fifth of it or less (0.15 to 0.20) and batch 64 about two thirds. The roofline counts only arithmetic and memory
# traffic; to see what it leaves out, we plot the time of one product against $N$, beside the time of $N$
# separate matrix-vector products (batch 1, $N$ times), and fit a straight line through the batched times for
# $N$ = 2 to 64.

# %%
fit_n = [n for n in gemm_batches if 2 <= n <= 64]
per_row, fixed = np.polyfit(fit_n, [seconds[n] for n in fit_n], 1)  # time ≈ fixed + per_row × N
crossover = next(n for n in gemm_batches[1:] if seconds[n] < n * seconds[1])
print(f"batched time ≈{1e3 * fixed:.1f} ms + N × ≈{1e3 * per_row:.3f} ms: a fixed cost of ≈"
      f"{fixed / seconds['read W']:.0f} reads of W, and each extra row at ≈{2 * M * D / per_row / 1e9 / peak:.1f} "
      f"of the peak")
print(f"one batched product beats N separate matrix-vector products from N ≈{crossover} on; at N = 512 it is "
      f"≈{512 * seconds[1] / seconds[512]:.1f}× faster")
# six runs under the three configurations on an AMD EPYC: fixed cost 2.9-3.5 ms (12-15 reads of W), extra rows at
# 1.0-1.1 of the peak, crossover 8, 16 or 32 (every smaller batch slower than its separate products), 2.8-5.1×
# faster at 512; on an Intel Xeon (Ice Lake): fixed cost 2.6-4.7 ms (4-6 reads of W), crossover 8, 7.4× at 512. The fixed cost is asserted on
# the measured times of the small batches, not on the fit's intercept: one slow large batch on a busy machine
# tilts the line and can pull its intercept down by half, while each small batch is timed on its own.
assert min(seconds[n] for n in (2, 4, 8)) > 2 * seconds["read W"], "a batched product should have a large fixed cost"
assert 0.5 < 2 * M * D / per_row / 1e9 / peak < 1.6, "each extra row should cost about its arithmetic at the peak"
assert crossover <= 64 and all(seconds[n] < n * seconds[1] for n in gemm_batches if n >= crossover)

fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.loglog(gemm_batches, [1e3 * seconds[n] for n in gemm_batches], "o-", label="one batched product X @ W.T")
ax.loglog(gemm_batches, [1e3 * n * seconds[1] for n in gemm_batches], "o-", label="N matrix-vector products")
ax.loglog(fit_n, [1e3 * (fixed + per_row * n) for n in fit_n], "k:", label="fixed + per_row × N")
ax.set_xticks(gemm_batches, [str(n) for n in gemm_batches])
ax.set_xlabel("batch size N")
ax.set_ylabel("ms (one core, float32)")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# The time of one batched product is a straight line in $N$ with a large **fixed cost**, however few the rows:
# about 3 ms on the AMD EPYC, 2.6 to 4.7 ms on the Intel Xeon (the output above), several times the time to read W
# once (12 to 15 times on the AMD EPYC, 4 to 6 on the Intel Xeon, whose core reads memory more slowly; the cell
# checks that each of batches 2, 4 and 8 takes more than twice as long as reading W), while each extra row costs
# about what its arithmetic costs at the peak. That fixed cost is not arithmetic: it is the matrix library's preparation. A general matrix product
# (GEMM) is tuned for large products: before multiplying, it copies ("packs") the weights into cache-sized panels
# laid out in the order its inner loop reads them, a reordering copy of all 16 MB that pays off only when each
# panel then serves many rows. (A profiler run on the AMD EPYC, outside this notebook, put
# about 80 % of a batch-4 product's time in OpenBLAS's packing routine and under 10 % in the multiply-adds.)
# A batch of one does not pay it: for a single row the library uses its matrix-vector routine, which reads W
# where it lies. So a batch of fewer than about 8 to 32 samples (the crossover moves with the machine and with the
# noise in the timings) is *slower* than the same samples one at a time; from there on batching wins, by 3 to 5×
# at 512 on the AMD EPYC and about 7× on the Intel Xeon. Other matrix libraries (Intel's MKL, Apple's Accelerate) and
# GPUs have other fixed costs and other crossovers, but the shape is the same: a large batch pays the fixed cost
# of a call once and reuses each weight many times. This is the hardware reason to train on mini-batches of tens
# to hundreds of samples (chapter 3), and to write a model as a few large tensor operations.
#
# **GPUs** push the same trade-off further. Typical published figures (vendors' data sheets for recent data-centre
# GPUs, orders of magnitude, not measured here): thousands of arithmetic cores (about 7,000-17,000 "CUDA cores"),
# high-bandwidth memory (HBM) at about 1-3 TB/s, and about 10-70 TFLOP/s in float32 on the general cores, up to
# several hundred to about 1,000 TFLOP/s in 16-bit formats on the matrix units ("tensor cores"), against
# about 50-100 GFLOP/s for one CPU core (measured above for this one) and some 50 GB/s (desktop) to a few hundred
# GB/s (server) of RAM bandwidth for a whole CPU. The machine balance of such a GPU in 16-bit formats is about
# 150-300 FLOP per byte, against one or two FLOP per byte for the CPU core above: only large matrix products with large
# batches come close to a GPU's peak, and deep learning is organised around them.

# %% [markdown]
# ## 2.7 float32 or float64?
#
# The dtype sets how many bits each scalar has, hence its precision (the machine epsilon $\varepsilon$, the gap
# between 1 and the next representable number), its range, its memory and its speed.

# %%
for dtype in (np.float16, np.float32, np.float64):
    info = np.finfo(dtype)
    print(f"{info.dtype.name:8s} {info.bits:2d} bits   ε = {info.eps:.2e}   ~{info.precision:2d} decimal digits   "
          f"max = {info.max:.2e}")
eps32 = np.finfo(np.float32).eps
assert np.float32(1) + np.float32(eps32 / 2) == np.float32(1)  # below ε, an addition to 1 is lost
assert np.float64(1) + np.float64(eps32 / 2) != 1.0            # float64 still sees it

# %% [markdown]
# **Memory.** float32 takes half the bytes of float64, for parameters and for activations alike, so twice as large
# a model or batch fits in the same memory, and half as many bytes travel between memory and processor.

# %%
mlp64 = lb.Sequential(lb.Linear(64, 256, dtype=np.float64), lb.ReLU(), lb.Linear(256, 10, dtype=np.float64))
mlp32 = lb.Sequential(lb.Linear(64, 256, dtype=np.float32), lb.ReLU(), lb.Linear(256, 10, dtype=np.float32))
bytes64 = sum(p.value.nbytes for p in mlp64.parameters())
bytes32 = sum(p.value.nbytes for p in mlp32.parameters())
print(f"{mlp32.num_parameters():,} parameters: {bytes64 / 1e3:.1f} kB in float64, {bytes32 / 1e3:.1f} kB in float32")
assert bytes64 == 2 * bytes32

# %% [markdown]
# **Speed.** A vector instruction processes twice as many float32 numbers as float64 ones, so matrix products run
# about twice as fast.

# %%
a64 = np.random.default_rng(0).standard_normal((256, 256))
a32 = a64.astype(np.float32)
# processor time, interleaved rounds, one BLAS thread: the same timer as sections 2.5 and 2.6
dtype_time = time_calls({"float32": lambda: a32 @ a32, "float64": lambda: a64 @ a64}, rounds=9,
                        clock=time.process_time)
ratio = dtype_time["float64"] / dtype_time["float32"]
print(f"256×256 matrix product: float32 ≈{1e3 * dtype_time['float32']:.3f} ms, "
      f"float64 ≈{1e3 * dtype_time['float64']:.3f} ms: float32 ≈{ratio:.1f}× faster")
# measured 1.7-2.3× under four BLAS configurations (AVX2, AVX, SSE3 kernels, one or two threads): only the
# direction of the difference is machine-independent
assert dtype_time["float32"] < dtype_time["float64"]

# %% [markdown]
# **Precision.** float32 keeps 6 to 7 significant digits. A network computed in float32 differs from the float64
# computation by a relative few $10^{-7}$ (measured below). Training (chapter 3) changes the weights by far more
# than that at every step, and the data themselves are far coarser (the digits' pixels take only 17 levels, 1/16
# apart): this is why deep learning computes in float32 (and, on accelerators, often in 16-bit formats).
# `littlebook` layers take a `dtype=` argument, float32 by default.

# %%
# state_dict(): every weight array by name; load_state_dict copies them in (here rounded to float32)
mlp32.load_state_dict({k: v.astype(np.float32) for k, v in mlp64.state_dict().items()})  # same weights, rounded
x64 = vectors[:256].astype(np.float64)
out64 = mlp64(x64)
out32 = mlp32(x64.astype(np.float32))
relative = np.abs(out32 - out64).max() / np.abs(out64).max()
# measured 2e-7 to 4e-7 (four weight seeds, AVX2 and SSE3 kernels): a few float32 epsilons (1.2e-7)
assert 1e-8 < relative < 1e-6
print("largest difference between the float32 and float64 outputs, relative to the largest output: < 1e-6")
levels = np.unique(images)
assert len(levels) == 17 and np.all(np.diff(levels) == 1 / 16)  # the data's own resolution: 1/16, not 1e-7
print(f"the digits' pixels: {len(levels)} levels, {levels[1]:g} apart")

# %% [markdown]
# There is one place where float32 is not enough: finite differences. Checking a gradient with
# $(f(w + h) - f(w - h)) / 2h$ subtracts two nearly equal numbers, so the rounding error $\varepsilon f / h$ is
# amplified. With $h = 10^{-5}$ that error is about $10^{-7} / 10^{-5} = 10^{-2}$ in float32 and $10^{-11}$ in
# float64, which is why `lb.gradcheck` insists on float64. Take $f(w) = w^3$, whose derivative at 1 is 3:

# %%
for dtype in (np.float32, np.float64):
    w, h = dtype(1.0), dtype(1e-5)
    f_plus, f_minus = (w + h) * (w + h) * (w + h), (w - h) * (w - h) * (w - h)
    estimate = (f_plus - f_minus) / (2 * h)
    print(f"{np.dtype(dtype).name}: (f(1 + h) − f(1 − h)) / 2h ≈{estimate:.6f}   (exact: 3)")
    error = abs(float(estimate) - 3.0)
    assert error > 1e-3 if dtype is np.float32 else error < 1e-8

# %% [markdown]
# ### Choosing the step of a finite difference: truncation against round-off
#
# Chapter 3 checks gradients with finite differences, so it is worth seeing how the step $h$ should be chosen.
# By Taylor's formula, the forward difference $(f(x+h) - f(x))/h$ is off by a **truncation error** of about
# $\frac{h}{2}|f''(x)|$; the central difference $(f(x+h) - f(x-h))/2h$ cancels the $f''$ term and is off by about
# $\frac{h^2}{6}|f'''(x)|$. Both also suffer **round-off**: $f(x \pm h)$ are computed with a relative error of
# about $\varepsilon$, an absolute error $\approx \varepsilon |f(x)|$ that the subtraction keeps and the division by
# $h$ amplifies. So
#
# $$e_{\text{forward}}(h) \approx \frac{h}{2}|f''| + \frac{\varepsilon |f|}{h}, \qquad
#   e_{\text{central}}(h) \approx \frac{h^2}{6}|f'''| + \frac{\varepsilon |f|}{h}.$$
#
# The first term falls as $h$ shrinks, the second grows; the sum is smallest where they balance. When $f$ and its
# derivatives are of order 1 that is $h^* \sim \varepsilon^{1/2}$ for the forward difference (error
# $\sim \varepsilon^{1/2}$) and $h^* \sim \varepsilon^{1/3}$ for the central one (error $\sim \varepsilon^{2/3}$):
# in float64 $h^* \approx 10^{-8}$ and $6 \times 10^{-6}$, in float32 $3 \times 10^{-4}$ and $5 \times 10^{-3}$.
# For $f(w) = w^3$ at $w = 1$ the truncation errors are exactly $3h + h^2$ and $h^2$. We scan $h$ from $10^{-1}$
# to $10^{-14}$:

# %%
def cube(v):
    return v * v * v  # elementwise products: each exactly rounded, the same on every CPU


steps = np.logspace(-1, -14, 53)  # 4 values per decade
fd_error = {}
for dtype in (np.float64, np.float32):
    w, h = dtype(1.0), steps.astype(dtype)
    forward = ((cube(w + h) - cube(w)) / h).astype(np.float64)
    central = ((cube(w + h) - cube(w - h)) / (2 * h)).astype(np.float64)
    fd_error[dtype] = np.abs(forward - 3.0), np.abs(central - 3.0)

for dtype, (forward_error, central_error) in fd_error.items():
    eps = float(np.finfo(dtype).eps)
    best_forward, best_central = steps[forward_error.argmin()], steps[central_error.argmin()]
    print(f"{np.dtype(dtype).name}: best forward h ≈{best_forward:.0e} (ε^(1/2) ≈{eps ** 0.5:.1e}), "
          f"best central h ≈{best_central:.0e} (ε^(1/3) ≈{eps ** (1 / 3):.1e})")
    # the best step lies within a factor 100 of the estimate (measured: within a factor 2-4 for both dtypes)
    assert abs(np.log10(best_forward / eps ** 0.5)) < 2 and abs(np.log10(best_central / eps ** (1 / 3))) < 2
# the smallest errors, measured 4e-9 and 5e-12 in float64, 5e-4 and 3e-6 in float32, are round-off: only bounds
bounds = {np.float64: (1e-7, 1e-10), np.float32: (1e-2, 1e-4)}
for dtype, (forward_bound, central_bound) in bounds.items():
    assert fd_error[dtype][0].min() < forward_bound and fd_error[dtype][1].min() < central_bound
    print(f"{np.dtype(dtype).name}: smallest error forward < {forward_bound:.0e}, central < {central_bound:.0e}")
assert fd_error[np.float64][1].min() < fd_error[np.float64][0].min() / 100  # central is far more accurate

fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
for ax, (dtype, (forward_error, central_error)) in zip(axes, fd_error.items(), strict=True):
    eps = float(np.finfo(dtype).eps)
    ax.loglog(steps, np.where(forward_error > 0, forward_error, np.nan), "o-", ms=3, label="forward")
    ax.loglog(steps, np.where(central_error > 0, central_error, np.nan), "o-", ms=3, label="central")
    ax.loglog(steps, 3 * steps + eps / steps, "k:", lw=1, label="3h + ε/h, h² + ε/h")
    ax.loglog(steps, steps**2 + eps / steps, "k:", lw=1)
    for x, style in ((eps ** 0.5, "--"), (eps ** (1 / 3), "-.")):
        ax.axvline(x, color="gray", linestyle=style, lw=1)
    ax.set_ylim(1e-13, 10)
    ax.set_xlabel("step h (dashed: ε^(1/2), dash-dotted: ε^(1/3))")
    ax.set_title(np.dtype(dtype).name, fontsize="small")
axes[0].set_ylabel("|estimate − f′(1)|")
axes[0].legend(fontsize="small")
plt.show()

# %% [markdown]
# To the right of the minimum the error falls as $h$ (forward, slope 1) or $h^2$ (central, slope 2), to the left
# it grows as $\varepsilon / h$ in a noisy band: round-off. (In float32, below $h = \varepsilon / 2 \approx 6 \times
# 10^{-8}$, $1 + h$ rounds to 1 itself: the forward estimate is 0, an error of 3, and the central one soon follows.)
# In float32 the best central difference is only good to
# about $10^{-5}$, which is why `lb.gradcheck` computes in float64 with central differences and $h = 10^{-5}$, close
# to $\varepsilon^{1/3}$, where the error for this $f$ is about $10^{-10}$ ($h^2$).

# %% [markdown]
# ## 2.8 im2col: a convolution as one matrix product
#
# A convolutional layer (chapter 4) slides a small $K \times K$ filter $k$ over the image $x$ and at each position
# takes a weighted sum of the pixels under it:
#
# $$y[i, j] = \sum_{u=0}^{K-1} \sum_{v=0}^{K-1} k[u, v]\; x[i + u, j + v].$$
#
# (Deep-learning libraries call this a convolution; mathematicians call it a cross-correlation, the filter is not
# flipped.) Written as it reads, it is a loop over output positions:

# %%
def conv2d_loop(image, kernel):
    """The definition, one output position at a time: slow, but obviously right."""
    K = kernel.shape[0]
    out = np.zeros((image.shape[0] - K + 1, image.shape[1] - K + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(kernel * image[i:i + K, j:j + K])
    return out


digit = images[0, 0]  # an 8×8 zero
edge = np.array([[1.0, 0.0, -1.0]] * 3, dtype=np.float32)  # bright-to-dark from left to right gives y > 0
y_loop = conv2d_loop(digit, edge)
print("8×8 image, 3×3 filter →", y_loop.shape)

# %% [markdown]
# The trick is to build, once, a tensor of all the $K \times K$ patches of the image. `sliding_window_view` does it
# *without copying*: it is a view whose strides step to the next patch and, inside a patch, to the next pixel;
# patches overlap in memory.

# %%
patches = sliding_window_view(digit, (3, 3))  # (6, 6, 3, 3): patches[i, j] = digit[i:i+3, j:j+3]
print("patches:", patches.shape, "strides", patches.strides, "| a view:", np.shares_memory(patches, digit))
assert patches.shape == (6, 6, 3, 3) and np.shares_memory(patches, digit)
assert np.array_equal(patches[2, 4], digit[2:5, 4:7])

# %% [markdown]
# Flattening each patch into a row gives the **im2col** matrix, one row per output position and one column per
# filter weight. The convolution is then a single matrix product with the flattened filter. (This reshape must
# copy: the patches overlap, so the matrix holds each pixel up to $K^2$ times. That memory buys one large,
# regular matrix product, which is what the hardware is fastest at.)

# %%
cols = patches.reshape(6 * 6, 3 * 3)  # im2col: (positions, K·K), a copy
y_im2col = (cols @ edge.reshape(-1)).reshape(6, 6)  # one matrix(-vector) product
print(f"im2col matrix {cols.shape}: {cols.nbytes} bytes for a {digit.nbytes}-byte image")
assert not np.shares_memory(cols, digit)
assert np.allclose(y_im2col, y_loop, atol=1e-6)
# and scipy agrees; its correlate centres the filter on each pixel, so the 6×6 "valid" part is [1:-1, 1:-1]
assert np.allclose(y_im2col, correlate(digit, edge)[1:-1, 1:-1], atol=1e-6)

fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.5))
for ax, img, title in zip(axes, (digit, edge, y_im2col), ("image x (8×8)", "filter k (3×3)", "y = k ⋆ x (6×6)"),
                          strict=True):
    signed = img.min() < 0  # filters and outputs have a sign: red > 0, blue < 0, white = 0
    lim = np.abs(img).max()
    shown = ax.imshow(img, cmap="bwr" if signed else "gray", vmin=-lim if signed else 0, vmax=lim)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title, fontsize="small")
    ax.set_axis_off()
plt.show()

# %% [markdown]
# With a batch of images, $C$ input channels and $O$ filters, the same trick still gives **one** matrix product:
# the patches become a matrix of shape $(N \cdot H_o \cdot W_o,\; C \cdot K \cdot K)$ and the filters one of shape
# $(O,\; C \cdot K \cdot K)$. This is how `lb.Conv2d` computes its forward pass: `lb.functional.im2col` builds
# the same patch matrix, stored transposed as $(C \cdot K \cdot K,\; N \cdot H_o \cdot W_o)$ (one patch per
# column), and it also handles stride and padding. We check our version against it, matrix and output.

# %%
conv = lb.Conv2d(1, 4, kernel_size=3, rng=0)  # 4 filters of shape (1, 3, 3); training would learn them
conv.weight.value[:, 0] = [edge, edge.T, np.eye(3) - np.eye(3)[::-1], np.ones((3, 3)) / 9]  # |, —, diagonal, blur
conv.bias.value[...] = [0.1, -0.2, 0.3, 0.0]
batch = images[:256]  # (256, 1, 8, 8)
N, C, H, W = batch.shape
O, K = conv.out_channels, conv.kernel_size
windows = sliding_window_view(batch, (K, K), axis=(2, 3))  # (N, C, Ho, Wo, K, K), a view
Ho, Wo = windows.shape[2:4]
cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, C * K * K)  # im2col
out = cols @ conv.weight.value.reshape(O, C * K * K).T + conv.bias.value  # ONE matrix product (and a broadcast)
out = out.reshape(N, Ho, Wo, O).transpose(0, 3, 1, 2)  # back to (N, O, Ho, Wo)
print("cols", cols.shape, "@ filters", (C * K * K, O), "→ feature maps", out.shape)
assert np.array_equal(lb.functional.im2col(batch, K), cols.T)  # the same patches, copied: exactly equal
assert np.allclose(out, conv(batch), atol=1e-5)  # float32 sums in another order
for n, o in [(0, 0), (17, 3), (255, 2)]:  # a few maps against the loop definition
    assert np.allclose(out[n, o], conv2d_loop(batch[n, 0], conv.weight.value[o, 0]) + conv.bias.value[o], atol=1e-5)

fig, axes = plt.subplots(1, 5, figsize=(9, 1.8))
axes[0].imshow(batch[0, 0], cmap="gray")
axes[0].set_title("input (8×8)", fontsize="small")
axes[0].set_axis_off()
image_grid(out[0], titles=["vertical edges", "horizontal edges", "diagonal", "blur"], axes=axes[1:])
for ax in axes[1:]:  # each map is scaled to its own range: the colour bar gives the values
    fig.colorbar(ax.images[0], ax=ax, fraction=0.046, pad=0.04)
plt.show()

# %% [markdown]
# ## Summary
#
# - A tensor is a series of scalars along discrete axes: a memory block plus a shape, a dtype and strides. Reshapes
#   of contiguous tensors, transposes and slices are free views; fancy indexing and reorderings copy.
# - Signals $(N, C, H, W)$, parameters ($W$, $b$) and activations are all tensors, batch first.
# - A batch through a layer is one matrix product; broadcasting stretches axes of length 1 (stride 0) instead of
#   looping. One batched product beats a Python loop over samples by a large factor: the loop pays the fixed cost
#   of a numpy call (and of a library layer's checks) once per sample, the batch once.
# - A core computes much faster than memory delivers numbers (registers, L1/L2/L3 caches, RAM). A matrix-vector
#   product uses each weight once (½ FLOP per byte) and runs at the speed of reading its weights; a batch of $N$
#   reuses each weight $N$ times, and a large batch runs near the core's peak. A matrix product also has a fixed
#   cost per call (packing the weights into blocks), so small batches gain nothing: here a batch beat the same
#   samples one at a time only from about 16 on, and ran near the peak only in the hundreds. Large batches are what
#   make the hardware fast. GPUs push the same trade-off further (thousands of cores, TB/s of memory bandwidth,
#   and even more FLOPs per byte needed).
# - float32 halves memory and roughly doubles speed for a precision ($\sim 10^{-7}$) that training does not need to
#   exceed. A finite difference trades truncation ($\propto h$ or $h^2$) against round-off ($\propto \varepsilon/h$):
#   the best step is $h \approx \varepsilon^{1/2}$ (forward) or $\varepsilon^{1/3}$ (central), and gradient
#   checks need float64.
# - im2col turns a convolution into a single matrix product over a (view of) all the image's patches.
#
# ## Exercises
#
# Each exercise has a solution cell, marked `# Exercise 2.N`, followed by a check cell. In the student edition the
# solution is replaced by `...` or by `raise NotImplementedError`: write your own and run both cells. A check
# says what is wrong and gives a hint, never the answer.
#
# **Exercise 2.1 (strides by hand).** What are the strides, in bytes, of a C-contiguous float64 tensor `u` of shape
# (3, 4, 5)? And of its view `u.transpose(2, 0, 1)`? Work them out by hand (section 2.1).

# %%
# Exercise 2.1: the strides of u (3, 4, 5) float64 and of u.transpose(2, 0, 1)
### BEGIN SOLUTION
strides_u = (4 * 5 * 8, 5 * 8, 8)
strides_transposed = (8, 4 * 5 * 8, 5 * 8)
### END SOLUTION

# %%
ex.check_digest("2.1", strides_u, "c08e43b5a8ed80b3", name="strides_u",
                hint="the last axis steps one scalar (8 bytes); each axis steps over a whole block of the axes after it")
ex.check_digest("2.1", strides_transposed, "4be294ccbac43ecb", name="strides_transposed",
                hint="a transpose moves the strides with the axes: the memory does not change")

# %% [markdown]
# **Exercise 2.2 (view or copy).** For `a = np.zeros((4, 6))`, which of these give a view of `a` (True) and which
# a copy (False)? `a[:, 1]`, `a[[0, 2]]`, `a.T`, `a.T.reshape(-1)`, `a[::2].reshape(2, 2, 3)`. Decide by
# reasoning about shapes, strides and the order of the scalars (section 2.1), not by running them.

# %%
# Exercise 2.2: True for a view, False for a copy
### BEGIN SOLUTION
views = {"a[:, 1]": True, "a[[0, 2]]": False, "a.T": True, "a.T.reshape(-1)": False, "a[::2].reshape(2, 2, 3)": True}
### END SOLUTION

# %%
expressions = {"a[:, 1]": "c78a7ca3a3c0b1a9", "a[[0, 2]]": "34cdece1a80dca0f", "a.T": "bda6d93d386123af",
               "a.T.reshape(-1)": "3caaf26df3f41e7e", "a[::2].reshape(2, 2, 3)": "67b09b0c69761565"}
hint_2 = "a view only changes shape, strides and offset; a list index or a new order of scalars needs new memory"
if isinstance(views, dict):
    answers = {e: bool(v) if isinstance(v, (bool, np.bool_)) else v for e, v in views.items()}
    for e, expected_digest in expressions.items():
        if ex.digest((e, answers.get(e))) != expected_digest:  # name the first wrong one
            ex.check_digest("2.2", (e, answers.get(e)), expected_digest, name=f"your answer for {e}", hint=hint_2)
    ex.check_digest("2.2", tuple(answers.get(e) for e in expressions), "708dc423bf729cdb", name="views")
else:  # not filled in, or not a dict: no digest matches, and the message says which
    ex.check_digest("2.2", views, "", name="views", hint="one True or False per expression, keyed by its text")

# %% [markdown]
# **Exercise 2.3 (broadcast shape).** What is the shape of the result of adding tensors of shapes (8, 1, 6, 1) and
# (7, 1, 5)? Work it out with the rule of section 2.4.

# %%
# Exercise 2.3: the broadcast shape of (8, 1, 6, 1) + (7, 1, 5)
### BEGIN SOLUTION
sum_shape = (8, 7, 6, 5)
### END SOLUTION

# %%
ex.check_digest("2.3", sum_shape, "9fe42cae49553c1e", name="sum_shape",
                hint="align the shapes from the right; a missing axis counts as length 1")

# %% [markdown]
# **Exercise 2.4 (implement: broadcasting by hand).** Broadcasting a bias $b$ $(M,)$ against $Z$ $(N, M)$ reads $b$
# as an $(N, M)$ view with stride 0 on the first axis. Build that view yourself with
# `np.lib.stride_tricks.as_strided(b, shape=..., strides=...)` (no copy, no `np.broadcast_to`), for any 1-D `b`
# (any dtype, even a slice with a step), and use it in `add_bias` to add the bias.

# %%
# Exercise 2.4: stretch(b, n) -> an (n, M) view of b with stride 0 on axis 0; add_bias(Z, b) with it
def stretch(b, n):
    ### BEGIN SOLUTION
    return np.lib.stride_tricks.as_strided(b, shape=(n, b.shape[0]), strides=(0, b.strides[0]), writeable=False)
    ### END SOLUTION


def add_bias(Z, b):
    ### BEGIN SOLUTION
    return Z + stretch(b, Z.shape[0])
    ### END SOLUTION


# %%
no_broadcast_to = ("numpy.broadcast_to", "numpy.broadcast_arrays")
hint_4 = "build the view with as_strided: stepping along the first axis must not move in memory"
for b_ex, n_ex in ((np.arange(5, dtype=np.float32), 7), (np.arange(10.0)[::2], 3)):  # float32; float64 with a step
    reference = np.broadcast_to(b_ex, (n_ex, len(b_ex)))
    with ex.forbidden("2.4", *no_broadcast_to, hint=hint_4):
        view_ex = stretch(b_ex, n_ex)
    for what, got, expected in ((f"the shape of stretch(b, {n_ex})", np.shape(view_ex), reference.shape),
                                (f"whether stretch(b, {n_ex}) shares memory with b",
                                 bool(np.shares_memory(view_ex, b_ex)), True),
                                (f"the strides of stretch(b, {n_ex}) for b with strides {b_ex.strides}",
                                 getattr(view_ex, "strides", None), reference.strides)):
        if got != expected:
            ex.check_value("2.4", got, expected, name=what, hint=hint_4)
stretch_calls = []
rng = np.random.default_rng(5)
with ex.forbidden("2.4", *no_broadcast_to, hint=hint_4), \
        mock.patch.dict(globals(), stretch=lambda b, n, own=stretch: stretch_calls.append(n) or own(b, n)):
    ex.check_function("2.4", add_bias, lambda Z, b: Z + b,
                      inputs=[(rng.standard_normal((4, 3)), rng.standard_normal(3)), (np.ones((1, 6)), np.arange(6.0))],
                      name="add_bias")
ex.require("2.4", bool(stretch_calls), "add_bias never called your stretch(b, n).",
           hint="add the bias through your stretch(b, n), not by numpy's own broadcasting")

# %% [markdown]
# **Exercise 2.5 (implement: distances with one matrix product).** The nearest-mean classifier of section 2.4
# built an $(N, 10, 64)$ tensor of differences. Using $|x - m|^2 = |x|^2 - 2\,x \cdot m + |m|^2$, compute the same
# $(N, K)$ squared distances between the rows of $X$ $(N, D)$ and of $C$ $(K, D)$ with one matrix product and
# broadcasting, with no Python loop and never making an $(N, K, D)$ tensor.

# %%
# Exercise 2.5: sq_distances(X, C) -> (N, K) squared distances, one matrix product and broadcasting
def sq_distances(X, C):
    ### BEGIN SOLUTION
    return (X**2).sum(axis=1)[:, None] - 2 * X @ C.T + (C**2).sum(axis=1)[None, :]
    ### END SOLUTION


# %%
def sq_distances_loop(X, C):  # the plain double loop
    return np.array([[np.sum((x - c) ** 2) for c in C] for x in X])


def points(n, d, seed):
    return np.random.default_rng(seed).standard_normal((n, d))


ex.check_function("2.5", sq_distances, sq_distances_loop, inputs=[(points(50, 6, 1), points(7, 6, 2))],
                  name="sq_distances", hint="|x|² is one number per row of X: shape (N, 1); |c|² one per row of C")
ex.check_no_python_loops("2.5", sq_distances, small=(points(5, 6, 1), points(3, 6, 2)),
                         large=(points(40, 12, 1), points(9, 12, 2)), name="sq_distances",
                         hint="one matrix product X @ C.T gives every x · c at once")
# 2000 points against 50 in 64 dimensions: an (N, K, D) float64 tensor would take 51 MB; the (N, K) result 0.8 MB
ex.check_peak_memory("2.5", sq_distances, (points(2000, 64, 3), points(50, 64, 4)), limit_bytes=8e6,
                     name="sq_distances", hint="|x|², x · c and |c|² need (N,), (N, K) and (K,) arrays only")

# %% [markdown]
# Used on the held-out digits (your function if it passed, the loop otherwise), it gives the classifier of
# section 2.4:

# %%
nearest = ex.fallback("2.5", sq_distances, sq_distances_loop)(X_test.astype(np.float64), class_means)
assert np.array_equal(nearest.argmin(axis=1), predicted)  # the same classifier as section 2.4
print("the nearest-mean classifier with these distances predicts the same classes as section 2.4")

# %% [markdown]
# **Exercise 2.6 (implement: im2col twice).** For a one-channel image $(H, W)$ and a kernel size $K$, build the
# im2col matrix of section 2.8, shape $(H_o W_o, K^2)$ with one flattened patch per row (row order $(i, j)$):
# first with two loops over the output positions, then without loops, with `sliding_window_view` (not the
# library's `lb.functional.im2col`). The check compares both with `lb.functional.im2col`, makes sure the second
# runs no Python loop, and computes a convolution with your matrix.

# %%
# Exercise 2.6: im2col_loops(image, K) and im2col_windows(image, K) -> (Ho·Wo, K·K)
def im2col_loops(image, K):
    ### BEGIN SOLUTION
    Ho, Wo = image.shape[0] - K + 1, image.shape[1] - K + 1
    rows = [image[i:i + K, j:j + K].reshape(-1) for i in range(Ho) for j in range(Wo)]
    return np.array(rows)
    ### END SOLUTION


def im2col_windows(image, K):
    ### BEGIN SOLUTION
    windows = sliding_window_view(image, (K, K))  # (Ho, Wo, K, K), a view
    return windows.reshape(-1, K * K)
    ### END SOLUTION


# %%
def im2col_library(image, K):
    return lb.functional.im2col(image[None, None], K).T  # (1·K·K, 1·Ho·Wo) → (Ho·Wo, K·K)


img_ex = np.random.default_rng(6).standard_normal((7, 9))
for fn, name in ((im2col_loops, "im2col_loops"), (im2col_windows, "im2col_windows")):
    ex.check_function("2.6", fn, im2col_library, inputs=[(img_ex, 3), (img_ex, 2), (digit, 3)], name=name,
                      hint="row i·Wo + j is the patch image[i:i+K, j:j+K] flattened row by row")
with ex.forbidden("2.6", "littlebook.functional.im2col", hint="build the patches with sliding_window_view"):
    ex.check_no_python_loops("2.6", im2col_windows, small=(img_ex, 3), large=(np.ones((20, 24)), 3),
                             name="im2col_windows", hint="sliding_window_view gives every patch at once, as a view")

# %% [markdown]
# A convolution is then one product of this matrix with the flattened filter (your function if it passed, the
# library's otherwise):

# %%
conv_ex = lb.Conv2d(1, 1, kernel_size=3, bias=False, rng=7, dtype=np.float64)
cols_ex = ex.fallback("2.6", im2col_windows, im2col_library)(img_ex, 3)
y_ex = (cols_ex @ conv_ex.weight.value.reshape(-1)).reshape(5, 7)
assert np.allclose(y_ex, conv_ex(img_ex[None, None])[0, 0])  # a convolution is one product with the im2col matrix
print("im2col matrix @ flattened filter = lb.Conv2d's output")

# %% [markdown]
# **Exercise 2.7 (implement: a strided convolution).** A convolution with **stride** 2 computes only every second
# output position along each axis. Write it for a batch $(N, C, H, W)$ and filters $(O, C, K, K)$ (no bias) with
# `sliding_window_view` and a single matrix product, without Python loops and without the library's convolution;
# the check compares it with `lb.Conv2d(..., stride=2)`.

# %%
# Exercise 2.7: conv2d_strided(x, weight, stride) -> (N, O, Ho, Wo) with one matrix product
def conv2d_strided(x, weight, stride=2):
    ### BEGIN SOLUTION
    O, C, K, _ = weight.shape
    windows = sliding_window_view(x, (K, K), axis=(2, 3))[:, :, ::stride, ::stride]  # keep every stride-th patch
    N, _, Ho, Wo = windows.shape[:4]
    patches = windows.transpose(0, 2, 3, 1, 4, 5)  # (N, Ho, Wo, C, K, K): one patch per output position
    cols = patches.reshape(N * Ho * Wo, C * K * K)
    return (cols @ weight.reshape(O, -1).T).reshape(N, Ho, Wo, O).transpose(0, 3, 1, 2)
    ### END SOLUTION


# %%
conv_s2 = lb.Conv2d(3, 5, kernel_size=3, stride=2, bias=False, rng=3, dtype=np.float64)
x_s2 = np.random.default_rng(4).standard_normal((2, 3, 9, 9))
ex.check_function("2.7", lambda x: conv2d_strided(x, conv_s2.weight.value), conv_s2,
                  inputs=[(x_s2,), (x_s2[:, :, :8, :8],)], name="conv2d_strided",
                  hint="take every stride-th window along both spatial axes, then flatten as in section 2.8; the "
                       "output is (N, O, Ho, Wo), channels before positions")
# more samples, channels, filters and positions in the large input: a loop over any of them runs more Python
with ex.forbidden("2.7", "littlebook.functional.im2col", "littlebook.Conv2d.forward",
                  hint="build the patches with sliding_window_view"):
    ex.check_no_python_loops("2.7", conv2d_strided, small=(x_s2, conv_s2.weight.value),
                             large=(np.ones((4, 6, 17, 17)), np.ones((8, 6, 3, 3))), name="conv2d_strided",
                             hint="one matrix product of all the strided patches with all the filters")

# %% [markdown]
# **Exercise 2.8 (arithmetic intensity of a blocked product).** Section 2.6 said that the matrix library splits a
# product into blocks that stay in the caches. Here is the simplest such scheme for $C = AB$ with $n \times n$
# float32 matrices: $C$ is computed one $b \times b$ tile at a time, and for each tile the $b$ rows of $A$ it needs
# (a $b \times n$ strip) and the $b$ columns of $B$ (an $n \times b$ strip) are read from memory, then the tile is
# written once. Write the arithmetic intensity of the whole product (its $2n^3$ FLOPs per byte moved) as a function
# of $n$ and $b$, treating $n / b$ as a real number. (With $b = n$ it is one tile, the whole product at once.) For
# $n = 4096$, what is the smallest integer $b$ for which the intensity exceeds 100 FLOP/byte?

# %%
# Exercise 2.8: tiled_intensity(n, b) in FLOP/byte, and the smallest tile size b with an intensity above 100
def tiled_intensity(n, b):
    ### BEGIN SOLUTION
    tiles = (n / b) ** 2
    bytes_moved = tiles * 4 * (2 * b * n + b * b)  # per tile: two strips read, the tile written
    return 2 * n**3 / bytes_moved
    ### END SOLUTION


### BEGIN SOLUTION
smallest_b = next(b for b in range(1, 4096) if tiled_intensity(4096, b) > 100)
### END SOLUTION

# %%
hint_8 = ("count the tiles, then the bytes one tile moves (two strips read, the tile written, 4 bytes a number); "
          "the whole product does 2n³ FLOPs")
one_tile = tiled_intensity(256, 256)
if not np.isclose(one_tile, intensity(256, 256, 256)):  # b = n: the whole product, as in section 2.6
    ex.check_value("2.8", one_tile, intensity(256, 256, 256), name="tiled_intensity(n, n)", hint=hint_8)
ex.check_digest("2.8", tuple(tiled_intensity(n, b) for n, b in [(64, 64), (1024, 32), (4096, 256)]),
                "fd6d83f31cb1682a", name="tiled_intensity", hint=hint_8)
ex.check_digest("2.8", smallest_b, "5092c37bcbc9f0fb", name="smallest_b",
                hint="solve your formula > 100 for b with n = 4096, or search b = 1, 2, 3, ...; b is an integer")

"""The measured fast versions of a few layer computations, each next to its plain reference.

The layers in ``nn.py``, ``conv.py``, ``norm.py``, ``losses.py`` and ``optim.py`` read as the textbook
formula and call one of these through a single line where speed matters. Every fast function ``f`` here has
a reference ``f_reference`` that computes the same thing the plain way (the formula, one numpy expression),
and ``tests/test_kernels.py`` checks that they agree in float64 on random shapes. Read the reference first;
the fast version only reorders the same arithmetic to touch memory less.
"""

from __future__ import annotations

import math

import numpy as np

from .functional import add_windows, col2im, im2col, log_softmax, sliding_windows, softmax

__all__ = [
    "conv2d_im2col", "conv2d_im2col_reference",
    "conv2d_forward", "conv2d_forward_reference",
    "conv2d_weight_grad", "conv2d_weight_grad_reference",
    "conv2d_input_grad", "conv2d_input_grad_reference",
    "row_sums", "row_sums_reference",
    "maxpool_backward", "maxpool_backward_reference",
    "pool_patches", "pool_patches_reference", "pool_add_patches", "pool_add_patches_reference",
    "cross_entropy", "cross_entropy_reference",
    "adam_step_", "adam_step_reference",
    "batchnorm_forward", "batchnorm_forward_reference",
    "batchnorm_backward", "batchnorm_backward_reference",
    "layernorm_forward", "layernorm_forward_reference",
    "layernorm_backward", "layernorm_backward_reference",
    "embedding_grad", "embedding_grad_reference",
    "attention_weights", "attention_weights_reference",
    "softmax_rows_backward", "softmax_rows_backward_reference",
]


# -- convolution ---------------------------------------------------------------------------------------------------
def conv2d_im2col_reference(x: np.ndarray, kernel_size: int, stride: int, pad: tuple[int, int]) -> np.ndarray:
    """The patch matrix (C·K·K, N·Ho·Wo) of ``functional.im2col``: the window view, rearranged in one copy."""
    return im2col(x, kernel_size, stride, pad)


def conv2d_im2col(x: np.ndarray, kernel_size: int, stride: int, pad: tuple[int, int]) -> np.ndarray:
    """As the reference, copied one kernel offset (i, j) at a time: row block (c, i, j) of the patch matrix is
    the (C, N, Ho, Wo) slab x_pad[:, :, i::S, j::S] of the channel-first padded input. Each of the K·K copies
    moves whole image rows; the reference's single copy walks a 6-axis view in small steps (measured 1.3–2×
    slower). The padded copy is made channel-first because the product Y = W_mat @ cols wants (C, N, ...)."""
    n, c, h, w = x.shape
    k, s, (lo, hi) = kernel_size, stride, pad
    hp, wp = h + lo + hi, w + lo + hi
    ho, wo = (hp - k) // s + 1, (wp - k) // s + 1
    x_pad = x.transpose(1, 0, 2, 3)  # (C, N, H, W): a view; a copy only when padding is needed
    if lo or hi:
        x_pad = np.zeros((c, n, hp, wp), dtype=x.dtype)
        x_pad[:, :, lo:lo + h, lo:lo + w] = x.transpose(1, 0, 2, 3)
    cols = np.empty((c, k, k, n, ho, wo), dtype=x.dtype)
    for i in range(k):  # K·K slab copies: no loop over pixels
        for j in range(k):
            cols[:, i, j] = x_pad[:, :, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s]
    return cols.reshape(c * k * k, n * ho * wo)


def conv2d_forward_reference(w_mat: np.ndarray, cols: np.ndarray, bias, out_shape: tuple) -> np.ndarray:
    """Y = W_mat @ cols + b, (C_out, N·Ho·Wo), rearranged to a contiguous (N, C_out, Ho, Wo)."""
    n, c_out, ho, wo = out_shape
    y = w_mat @ cols + (0 if bias is None else bias[:, None])
    return np.ascontiguousarray(y.reshape(c_out, n, ho, wo).transpose(1, 0, 2, 3))


def conv2d_forward(w_mat: np.ndarray, cols: np.ndarray, bias, out_shape: tuple) -> np.ndarray:
    """As the reference, but returns a (N, C_out, Ho, Wo) *view* of the channel-first product, not a copy.

    numpy's element-wise operations work on any memory order, and a gradient that comes back channel-first
    spares the backward pass a copy.
    """
    n, c_out, ho, wo = out_shape
    y = w_mat @ cols
    if bias is not None:
        y += bias[:, None]
    return y.reshape(c_out, n, ho, wo).transpose(1, 0, 2, 3)


def conv2d_weight_grad_reference(cols: np.ndarray, g: np.ndarray) -> np.ndarray:
    """∂L/∂W_mat = G colsᵀ with G = ∂L/∂Y as (C_out, N·Ho·Wo), cols (C_in·K·K, N·Ho·Wo)."""
    return g @ cols.T


def conv2d_weight_grad(cols: np.ndarray, g: np.ndarray) -> np.ndarray:
    """G colsᵀ computed as (cols Gᵀ)ᵀ: the same product, but BLAS runs this orientation of a long inner
    dimension (N·Ho·Wo) about 2× faster (measured)."""
    return (cols @ g.T).T


def row_sums_reference(a: np.ndarray) -> np.ndarray:
    """Σ_j a[i, j] for a 2-D array: a conv's bias gradient is the row sums of G (C_out, N·Ho·Wo)."""
    return a.sum(axis=1)


def row_sums(a: np.ndarray) -> np.ndarray:
    """As the reference, as the matrix-vector product a @ 1: BLAS reads the long rows once on every thread
    (measured 3–5× faster than ``sum(axis=1)`` on (16 or 32, 50176))."""
    return a @ np.ones(a.shape[1], dtype=a.dtype)


def conv2d_input_grad_reference(w_mat: np.ndarray, grad_out: np.ndarray, x_shape: tuple, kernel_size: int,
                                stride: int, pad: tuple[int, int]) -> np.ndarray:
    """∂L/∂x = col2im(W_matᵀ G): each patch's gradient added back onto the pixels it was cut from."""
    g = grad_out.transpose(1, 0, 2, 3).reshape(w_mat.shape[0], -1)  # (C_out, N·Ho·Wo)
    return col2im(w_mat.T @ g, x_shape, kernel_size, stride, pad)


def conv2d_input_grad(w_mat: np.ndarray, grad_out: np.ndarray, x_shape: tuple, kernel_size: int,
                      stride: int, pad: tuple[int, int]) -> np.ndarray:
    """As the reference; for stride 1, every add is contiguous in memory.

    Put G on the padded input grid, zeros where no window starts, and flatten it: the window starting at
    flat position p then covers p + i·Wp + j for its offsets (i, j). Scattering the patch gradients back
    becomes K·K shifted adds of whole rows, instead of K·K strided 4-D adds (measured 2–3× faster,
    although the matrix product also runs over the (Hp·Wp − Ho·Wo) empty positions).
    """
    if stride != 1:
        return conv2d_input_grad_reference(w_mat, grad_out, x_shape, kernel_size, stride, pad)
    n, c, h, w = x_shape
    k, (lo, hi) = kernel_size, pad
    hp, wp = h + lo + hi, w + lo + hi
    c_out, ho, wo = grad_out.shape[1:]
    g = np.zeros((c_out, n, hp, wp), dtype=grad_out.dtype)
    g[:, :, :ho, :wo] = grad_out.transpose(1, 0, 2, 3)
    patch_grads = (w_mat.T @ g.reshape(c_out, -1)).reshape(c, k, k, -1)  # (C, K, K, N·Hp·Wp)
    size = n * hp * wp
    flat = np.zeros((c, size + (k - 1) * wp + k - 1), dtype=patch_grads.dtype)  # tail: room for the shifts
    for i in range(k):  # K·K iterations, each a whole-array add: no loop over pixels
        for j in range(k):
            shift = i * wp + j
            flat[:, shift:shift + size] += patch_grads[:, i, j]
    # A contiguous channel-first result: the padded grid's strides would make every later pass over ∂L/∂x strided
    # (measured: max-pool backward 2.7× slower on the view than on a copy)
    return np.ascontiguousarray(flat[:, :size].reshape(c, n, hp, wp)[:, :, lo:lo + h, lo:lo + w]).transpose(1, 0, 2, 3)


# -- max pooling ---------------------------------------------------------------------------------------------------
def pool_patches_reference(x: np.ndarray, kernel_size: int, stride: int) -> np.ndarray:
    """The windows of x (N, C, H, W) as (K·K, N, C, Ho, Wo), window offset first: one copy of the window view."""
    windows = sliding_windows(x, kernel_size, stride)  # (N, C, Ho, Wo, K, K) view
    return windows.transpose(4, 5, 0, 1, 2, 3).reshape((kernel_size**2,) + windows.shape[:4])


def _channel_first(a: np.ndarray, n_axis: int = 0) -> bool:
    """Is the (…, N, C, H, W) array ``a`` laid out channel-first, (C, N, H, W), in memory (a conv's output is)?"""
    return a.strides[n_axis] < a.strides[n_axis + 1]


def pool_patches(x: np.ndarray, kernel_size: int, stride: int) -> np.ndarray:
    """As the reference, copied in x's memory order: for a channel-first x (a conv's output) the copy is made
    as (K·K, C, N, Ho, Wo) and returned as a (K·K, N, C, Ho, Wo) view, so it reads x in sequence (measured
    1.5× faster) and the max, the gradients and the next layers keep that order (no strided passes)."""
    if not _channel_first(x):
        return pool_patches_reference(x, kernel_size, stride)
    return pool_patches_reference(x.transpose(1, 0, 2, 3), kernel_size, stride).transpose(0, 2, 1, 3, 4)


def pool_add_patches_reference(grad_patches: np.ndarray, x_shape: tuple, kernel_size: int,
                               stride: int) -> np.ndarray:
    """Adjoint of ``pool_patches``: (K·K, N, C, Ho, Wo) window gradients → (N, C, H, W), by add_windows."""
    k = kernel_size
    windows = grad_patches.reshape((k, k) + grad_patches.shape[1:]).transpose(2, 3, 4, 5, 0, 1)
    return add_windows(windows, x_shape, stride)


def pool_add_patches(grad_patches: np.ndarray, x_shape: tuple, kernel_size: int, stride: int) -> np.ndarray:
    """As the reference, in the memory order of the window gradients: channel-first in, channel-first out."""
    if not _channel_first(grad_patches, n_axis=1):
        return pool_add_patches_reference(grad_patches, x_shape, kernel_size, stride)
    n, c, h, w = x_shape
    swapped = pool_add_patches_reference(grad_patches.transpose(0, 2, 1, 3, 4), (c, n, h, w), kernel_size, stride)
    return swapped.transpose(1, 0, 2, 3)


def maxpool_backward_reference(patches: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
    """patches (K·K, N, C, Ho, Wo), grad_out (N, C, Ho, Wo) → window gradients (K·K, N, C, Ho, Wo):
    the whole of g goes to the first arg-max of each window (np.argmax returns the first maximum)."""
    first_max = patches.argmax(axis=0)
    offsets = np.arange(len(patches)).reshape((-1,) + (1,) * grad_out.ndim)
    return (offsets == first_max) * grad_out


def maxpool_backward(patches: np.ndarray, y: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
    """As the reference, without the arg-max: compare each window offset with the max y, in row-major order,
    and give g to the first offset that hits (``free`` marks the windows not served yet, so ties go to the
    first maximum). Each step is an element-wise pass over one contiguous (N, C, Ho, Wo) slab."""
    grad_patches = np.empty_like(patches, dtype=grad_out.dtype)  # in the memory order of the patches
    free = None  # the first offset serves every window it hits
    for offset in range(len(patches)):
        hit = patches[offset] == y
        if free is None:
            free = ~hit
        else:
            hit &= free
            if offset < len(patches) - 1:
                free ^= hit  # hit ⊆ free: XOR removes the windows just served, with no temporary ~hit
        np.multiply(hit, grad_out, out=grad_patches[offset])
    return grad_patches


# -- cross-entropy on logits ---------------------------------------------------------------------------------------
def cross_entropy_reference(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per-item loss −Σ_c y_c log softmax(z)_c, softmax(z)) for class targets (...) or soft targets (..., C)."""
    log_p = log_softmax(pred, axis=-1)
    if target.shape == pred.shape:
        per_item = -np.sum(target * log_p, axis=-1)
    else:
        per_item = -np.take_along_axis(log_p, target[..., None], axis=-1)[..., 0]
    return per_item, softmax(pred, axis=-1)


def cross_entropy(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """As the reference, fused: log softmax(z)_c = s_c − log Σ_j e^{s_j} with s = z − max z, and the
    exponentials e^{s} ∈ (0, 1] are computed once and reused, divided in place, as softmax(z)."""
    shifted = pred - pred.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=-1, keepdims=True)
    if target.shape == pred.shape:
        per_item = -np.sum(target * (shifted - np.log(sum_exp)), axis=-1)
    else:  # −log softmax(z)_y = log Σ_j e^{s_j} − s_y: only the target's logit is needed
        rows = shifted.reshape(-1, pred.shape[-1])  # a view: (all leading positions, C)
        picked = rows[np.arange(len(rows)), target.reshape(-1)].reshape(target.shape)
        per_item = np.log(sum_exp[..., 0]) - picked
    exp /= sum_exp  # now softmax(z)
    return per_item, exp


# -- Adam ----------------------------------------------------------------------------------------------------------
def adam_step_reference(w, g, m, v, t: int, lr: float, beta1: float, beta2: float, eps: float):
    """One Adam step, the formula: returns the new (w, m, v)."""
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    w = w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return w, m, v


def adam_step_(w, g, m, v, scratch, t: int, lr: float, beta1: float, beta2: float, eps: float) -> None:
    """As the reference, updating w, m and v in place: every operation writes in place or into ``scratch``
    (an array shaped like w). The one-line formula makes six temporary copies of every weight tensor per
    step, which costs more than the arithmetic."""
    s = scratch
    m *= beta1
    m += np.multiply(g, 1 - beta1, out=s)  # m ← β₁m + (1−β₁)g
    v *= beta2
    np.square(g, out=s)
    s *= 1 - beta2
    v += s  # v ← β₂v + (1−β₂)g²
    denom = np.sqrt(v, out=s)
    denom *= 1 / math.sqrt(1 - beta2**t)
    denom += eps  # √v̂ + ε with v̂ = v / (1 − β₂ᵗ)
    step = np.divide(m, denom, out=s)
    step *= lr / (1 - beta1**t)  # η m̂ with m̂ = m / (1 − β₁ᵗ)
    w -= step


# -- batch normalisation in training mode ---------------------------------------------------------------------------
# The layer keeps x − μ (centred) and 1/√(σ² + ε) rather than x̂ = (x − μ)/√(σ² + ε) itself: x̂ is one multiply
# away, and not writing it saves the forward a whole pass over the activations.
def batchnorm_forward_reference(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float):
    """x (N, C, ...) → (y, x − μ, 1/√(σ² + ε), μ, σ²) with μ, σ² per channel over every other axis (biased σ²),
    y = γ x̂ + β with x̂ = (x − μ)/√(σ² + ε); x − μ has x's shape, the statistics are (C,)."""
    axes, shape = (0,) + tuple(range(2, x.ndim)), (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    inv_std = 1.0 / np.sqrt(var + eps)
    centred = x - mean.reshape(shape)
    xhat = centred * inv_std.reshape(shape)
    return xhat * gamma.reshape(shape) + beta.reshape(shape), centred, inv_std, mean, var


def _channel_sum(a3: np.ndarray) -> np.ndarray:
    """Σ over axes 0 and 2 of (N, C, L): the long rows summed by a matrix-vector product with ones (BLAS: one
    pass, both threads; measured 3× faster than ``a3.sum(axis=(0, 2))``), then the N partial sums. For L = 1
    (BatchNorm1d) a plain column sum: the product would be N·C sums of one number."""
    if a3.shape[2] == 1:
        return a3[:, :, 0].sum(axis=0)
    return (a3 @ np.ones(a3.shape[2], dtype=a3.dtype)).sum(axis=0)


def _channel_dot(a3: np.ndarray, b3: np.ndarray) -> np.ndarray:
    """Σ a·b over axes 0 and 2 of (N, C, L) without the temporary a·b (one dot product per row; for L = 1 one
    per column)."""
    if a3.shape[2] == 1:
        a3, b3 = a3[:, :, 0].T, b3[:, :, 0].T  # (C, N): the dot products run down the batch
        return np.vecdot(a3, b3) if hasattr(np, "vecdot") else np.einsum("cn,cn->c", a3, b3)
    dots = np.vecdot(a3, b3) if hasattr(np, "vecdot") else np.einsum("ncl,ncl->nc", a3, b3)  # vecdot: numpy ≥ 2
    return dots.sum(axis=0)


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float):
    """As the reference, in five passes over the activations (the reference makes about ten): x − μ is written
    once, σ² is one dot product per row of it (no temporary of squares), y = (x − μ)·(γ/√(σ² + ε)) + β folds the
    two scalings into one per-channel factor, and x̂ is never written. The sums run over (N, C, L)."""
    n, c = x.shape[:2]
    x3 = x.reshape(n, c, -1)
    count = x.dtype.type(x3.shape[0] * x3.shape[2])
    mean = _channel_sum(x3) / count
    centred = x3 - mean[:, None]
    var = _channel_dot(centred, centred) / count
    inv_std = 1.0 / np.sqrt(var + eps)
    y = np.multiply(centred, (gamma * inv_std)[:, None])
    y += beta[:, None]
    return y.reshape(x.shape), centred.reshape(x.shape), inv_std, mean, var


def batchnorm_backward_reference(grad_out: np.ndarray, centred: np.ndarray, inv_std: np.ndarray,
                                 gamma: np.ndarray):
    """(∂L/∂x, ∂L/∂γ, ∂L/∂β) for batch statistics: with x̂ = (x − μ)/√(σ² + ε), ĝ = γ g and means over the
    channel's values, ∂L/∂x = (ĝ − mean ĝ − x̂ mean(ĝ x̂)) / √(σ² + ε), ∂L/∂γ = Σ g x̂, ∂L/∂β = Σ g."""
    axes, shape = (0,) + tuple(range(2, centred.ndim)), (1, -1) + (1,) * (centred.ndim - 2)
    xhat = centred * inv_std.reshape(shape)
    grad_xhat = grad_out * gamma.reshape(shape)
    mean_g = grad_xhat.mean(axis=axes, keepdims=True)
    mean_gx = (grad_xhat * xhat).mean(axis=axes, keepdims=True)
    grad_x = (grad_xhat - mean_g - xhat * mean_gx) * inv_std.reshape(shape)
    return grad_x, (grad_out * xhat).sum(axis=axes), grad_out.sum(axis=axes)


def batchnorm_backward(grad_out: np.ndarray, centred: np.ndarray, inv_std: np.ndarray, gamma: np.ndarray):
    """As the reference, with γ, 1/√(σ² + ε) and the means folded into per-channel factors, so that ∂L/∂x takes
    four passes through one array: with s = 1/√(σ² + ε), M values per channel and x̂ = (x − μ) s,
    ∂L/∂x = (g − ((x − μ) s² Σ(g (x − μ))/M + Σg/M)) · γ s,  ∂L/∂γ = s Σ g (x − μ)."""
    n, c = centred.shape[:2]
    g3, c3 = grad_out.reshape(n, c, -1), centred.reshape(n, c, -1)
    count = centred.dtype.type(g3.shape[0] * g3.shape[2])
    sum_gc, sum_g = _channel_dot(g3, c3), _channel_sum(g3)
    grad_x = np.multiply(c3, (inv_std * inv_std * sum_gc / count)[:, None])
    grad_x += (sum_g / count)[:, None]
    np.subtract(g3, grad_x, out=grad_x)
    grad_x *= (gamma * inv_std)[:, None]
    return grad_x.reshape(centred.shape), sum_gc * inv_std, sum_g


# -- layer normalisation over the last axis (attention and text models) --------------------------------------------
def layernorm_forward_reference(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float):
    """x (M, D) → (y, x̂, 1/√(σ² + ε)) with μ, σ² per row (biased σ²), x̂ = (x − μ)/√(σ² + ε), y = γ x̂ + β;
    γ, β (D,), the inverse standard deviations (M, 1)."""
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    return xhat * gamma + beta, xhat, inv_std


def _row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ_j a[..., j] b[..., j] for every row, without the temporary a·b."""
    return np.vecdot(a, b) if hasattr(np, "vecdot") else np.einsum("...j,...j->...", a, b)  # vecdot: numpy ≥ 2


def layernorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float):
    """As the reference. The rows are short (D = 16 to 64 features), and numpy's reductions along a short axis
    pay per row: the row sums are a matrix-vector product with ones, σ² one dot product per row of x − μ, and
    x − μ is normalised in place."""
    d = x.dtype.type(x.shape[1])
    mean = x @ np.ones(x.shape[1], dtype=x.dtype) / d
    xhat = x - mean[:, None]
    inv_std = (1.0 / np.sqrt(_row_dot(xhat, xhat) / d + eps))[:, None]
    xhat *= inv_std
    y = np.multiply(xhat, gamma)
    y += beta
    return y, xhat, inv_std


def layernorm_backward_reference(grad_out: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray, gamma: np.ndarray):
    """(∂L/∂x, ∂L/∂γ, ∂L/∂β) for (M, D): with ĝ = γ g and means over each row,
    ∂L/∂x = (ĝ − mean ĝ − x̂ mean(ĝ x̂)) / √(σ² + ε), ∂L/∂γ = Σ_m g x̂, ∂L/∂β = Σ_m g."""
    grad_xhat = grad_out * gamma
    mean_g = grad_xhat.mean(axis=1, keepdims=True)
    mean_gx = (grad_xhat * xhat).mean(axis=1, keepdims=True)
    grad_x = (grad_xhat - mean_g - xhat * mean_gx) * inv_std
    return grad_x, (grad_out * xhat).sum(axis=0), grad_out.sum(axis=0)


def layernorm_backward(grad_out: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray, gamma: np.ndarray):
    """As the reference, with every sum a matrix-vector product with ones or a row dot product, and ∂L/∂x built
    in one scratch array: ∂L/∂x = (ĝ − (x̂ mean(ĝ x̂) + mean ĝ)) / √(σ² + ε)."""
    d = xhat.dtype.type(xhat.shape[1])
    grad_xhat = grad_out * gamma
    mean_g = grad_xhat @ np.ones(xhat.shape[1], dtype=xhat.dtype) / d
    grad_x = np.multiply(xhat, (_row_dot(grad_xhat, xhat) / d)[:, None])
    grad_x += mean_g[:, None]
    np.subtract(grad_xhat, grad_x, out=grad_x)
    grad_x *= inv_std
    ones = np.ones(len(xhat), dtype=xhat.dtype)
    np.multiply(grad_out, xhat, out=grad_xhat)  # the scratch array, reused for g x̂
    return grad_x, ones @ grad_xhat, ones @ grad_out


# -- embedding look-ups: the backward scatter-add -------------------------------------------------------------------
def embedding_grad_reference(ids: np.ndarray, grad_out: np.ndarray, num_embeddings: int) -> np.ndarray:
    """∂L/∂W (num_embeddings, D) of y = W[ids]: row v is the sum of grad_out[m] over the m with ids[m] = v.
    ids (M,) integers, grad_out (M, D). ``np.add.at`` adds every occurrence (``out[ids] += g`` would keep one)."""
    out = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
    np.add.at(out, ids, grad_out)
    return out


def embedding_grad(ids: np.ndarray, grad_out: np.ndarray, num_embeddings: int) -> np.ndarray:
    """As the reference. For a few embeddings (V ≤ 64) as the product one_hot(ids)ᵀ g, (V, M) @ (M, D); for more,
    as one ``np.bincount``: entry (v, j) of the result is flat bin v·D + j, and each g[m, j] is added into bin
    ids[m]·D + j (sums in float64). Measured 3-7× faster than ``np.add.at`` at V = 25 and V = 385."""
    if num_embeddings <= 64:
        return (ids == np.arange(num_embeddings)[:, None]).astype(grad_out.dtype) @ grad_out
    d = grad_out.shape[1]
    bins = (ids[:, None] * d + np.arange(d)).reshape(-1)
    sums = np.bincount(bins, weights=grad_out.reshape(-1), minlength=num_embeddings * d)
    return sums.reshape(num_embeddings, d).astype(grad_out.dtype, copy=False)


# -- attention: the weights A = softmax(Q Kᵀ / √d + M) and the backward of the softmax -----------------------------
def attention_weights_reference(q: np.ndarray, k: np.ndarray, causal: bool) -> np.ndarray:
    """A = softmax over the keys of S = Q Kᵀ / √d + M: q (..., Tq, d), k (..., Tk, d) → (..., Tq, Tk).
    Causal: M = −∞ where key j comes after query i (the queries are the last Tq positions), else M = 0."""
    scores = q @ k.swapaxes(-1, -2) * (1 / math.sqrt(q.shape[-1]))
    if causal:
        tq, tk = scores.shape[-2:]
        scores = np.where(np.tril(np.ones((tk, tk), dtype=bool))[-tq:], scores, -np.inf)
    return softmax(scores, axis=-1)


def attention_weights(q: np.ndarray, k: np.ndarray, causal: bool) -> np.ndarray:
    """As the reference, in the one (..., Tq, Tk) buffer of the scores: scaled, masked by adding M (0 or −∞),
    shifted, exponentiated and normalised in place, the row sums as a matrix-vector product with ones. The
    rows are short (T keys), and numpy's temporaries and its reductions along a short axis cost more than the
    arithmetic (measured 2.5× faster for N = 64, H = 4, T = 32 in float32)."""
    s = q @ k.swapaxes(-1, -2)
    s *= 1 / math.sqrt(q.shape[-1])  # a Python float keeps float32 float32
    if causal:
        tq, tk = s.shape[-2:]
        s += np.where(np.tril(np.ones((tk, tk), dtype=bool))[-tq:], 0.0, -np.inf).astype(s.dtype)
    s -= s.max(axis=-1, keepdims=True)
    np.exp(s, out=s)
    s /= (s @ np.ones(s.shape[-1], dtype=s.dtype))[..., None]
    return s


def softmax_rows_backward_reference(a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
    """∂L/∂S for A = softmax(S) along the last axis: A ⊙ (∂A − rowsum(∂A ⊙ A))."""
    return a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True))


def softmax_rows_backward(a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
    """As the reference, with the row sums as row dot products (no temporary ∂A ⊙ A) and A ⊙ applied in place."""
    out = grad_a - _row_dot(grad_a, a)[..., None]
    out *= a
    return out

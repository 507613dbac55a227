"""Stateless numerics shared by layers, losses and chapters.

Every function here is numerically stable: exponentials are only ever taken of
non-positive numbers, so nothing overflows even for logits of size 1e4.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "as_rng",
    "as_float_array",
    "check_int",
    "check_float",
    "check_bool",
    "check_float_dtype",
    "check_grad",
    "read_only",
    "sigmoid",
    "logsumexp",
    "softmax",
    "log_softmax",
    "softmax_backward",
    "one_hot",
    "expect_shape",
    "pad2d",
    "sliding_windows",
    "im2col",
    "add_windows",
    "col2im",
]


def as_rng(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """Return a ``numpy.random.Generator``: ``None`` → seeded with 0, an int → seeded with it.

    All randomness in littlebook goes through such a generator, so that the same seed
    gives the same numbers on every run.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"rng: a seed must be an int >= 0 (or a numpy.random.Generator), got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


# -- argument checks: the contract under bad input (docs/architecture.md) -------------------------------
# Every public function either returns the right answer or raises a ValueError/TypeError that names the
# argument, what was expected and what was received. These few helpers keep those checks one line each.


def _computable(dtype: np.dtype) -> bool:
    """float32, float64 (and longer): the float dtypes littlebook computes in."""
    return dtype.kind == "f" and dtype.itemsize >= 4


# float16 is refused rather than computed in: a batch-norm channel sum over 70·32·32 values overflows to inf and
# BCELoss's 1 − 1e-7 rounds to 1 (log 0), so the answer would be NaN, silently.
_FLOAT16 = ("float16 is not supported (its largest value is 65,504, so sums over a batch overflow, and its "
            "ε = 1e-3 swallows small terms such as 1 − 1e-7); convert with .astype(np.float32)")


def as_float_array(x, owner, name: str = "input") -> np.ndarray:
    """The dtype policy: float32/float64 pass unchanged (the same object); array-likes become arrays;
    bool and integer values become float64 (numpy's default float); float16 and anything else is a TypeError.

    Integers are promoted because layers and losses compute in floating point: σ of an int array cast back
    to int would be all zeros, a softmax of uint8 would wrap around.
    """
    if isinstance(x, np.ndarray) and _computable(x.dtype):
        return x  # the common case first: no copy, no conversion, bit-identical results
    try:
        x = np.asarray(x)
    except (ValueError, TypeError) as error:  # e.g. a ragged list of lists
        raise ValueError(f"{owner}: {name} must be an array of numbers, got {type(x).__name__} ({error})") from None
    if x.dtype.kind in "biu":
        return x.astype(np.float64)
    if x.dtype.kind == "f" and not _computable(x.dtype):
        raise TypeError(f"{owner}: {name} has dtype {x.dtype}: {_FLOAT16}")
    if x.dtype.kind != "f":
        raise TypeError(f"{owner}: {name} must hold real numbers (float, int or bool), got dtype {x.dtype}")
    return x


def check_int(owner, name: str, value, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int in [low, high]; a TypeError for non-integers (bools and 2.0 included)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r} ({type(value).__name__})")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{owner}: {name} must be an int {bounds}, got {value}")
    return int(value)


def check_float(owner, name: str, value, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float inside the interval given (open or closed at each end)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r} ({type(value).__name__})")
    v = float(value)
    ok = np.isfinite(v)
    if low is not None:
        ok = ok and (v > low if low_open else v >= low)
    if high is not None:
        ok = ok and (v < high if high_open else v <= high)
    if not ok:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
        if low is not None and high is not None:
            wanted = f"lie in {lo}, {hi}"
        elif low is not None:
            wanted = f"be {'>' if low_open else '>='} {low:g}"
        elif high is not None:
            wanted = f"be {'<' if high_open else '<='} {high:g}"
        else:
            wanted = "be finite"
        raise ValueError(f"{owner}: {name} must {wanted}, got {value}")
    return v


def check_bool(owner, name: str, value) -> bool:
    """``value`` as a bool: True or False (numpy's bool_ too); a TypeError for anything else.

    Not ``bool(value)``: every non-empty string is truthy, so ``bias="no"`` or ``shuffle="false"`` would silently
    mean True, and 0/1 or None would pass for a flag by accident."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def check_float_dtype(owner, dtype) -> np.dtype:
    """A floating-point parameter dtype: integer weights could not be trained (w −= η g needs fractions)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{owner}: dtype must be a numpy floating dtype such as np.float32, got {dtype!r}") from None
    if dt.kind != "f":
        raise TypeError(f"{owner}: dtype must be a floating dtype such as np.float32 or np.float64, got {dt}")
    if not _computable(dt):
        raise TypeError(f"{owner}: dtype {dt}: {_FLOAT16}")
    return dt


def check_grad(owner, grad, shape: tuple) -> np.ndarray:
    """The gradient given to ``backward`` as a float array of the forward output's ``shape``.

    Checked before the layer touches any state, so a wrong gradient leaves every param.grad as it was.
    """
    if isinstance(grad, np.ndarray) and _computable(grad.dtype) and grad.shape == tuple(shape):
        return grad  # the common case, checked without building the message (repr of a model is slow)
    grad = as_float_array(grad, f"{owner}.backward", "grad_out")
    if grad.shape != tuple(shape):
        raise ValueError(f"{owner}.backward: grad_out must have the shape of the forward output "
                         f"{tuple(shape)}, got {grad.shape}")
    return grad


def read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (nothing is copied): what module calls return, so that an array a layer keeps for
    backward cannot be changed in place by mistake (``y -= 1`` raises "output array is read-only")."""
    view = a.view()
    view.flags.writeable = False
    return view


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^{−x}), computed as e^{x}/(1+e^{x}) for x < 0 so that e^{·} never overflows."""
    x = as_float_array(x, "sigmoid", "x")
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def logsumexp(x: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log Σ_j e^{x_j} = m + log Σ_j e^{x_j − m} with m = max_j x_j (the log-sum-exp trick)."""
    x = _nonempty(as_float_array(x, "logsumexp", "x"), axis, "logsumexp")
    check_bool("logsumexp", "keepdims", keepdims)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # all −inf along the axis: keep −inf, don't make NaN
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def _nonempty(x: np.ndarray, axis: int, owner: str) -> np.ndarray:
    """A normalisation over ``axis`` needs at least one entry there (and the axis must exist)."""
    if isinstance(axis, tuple):
        return x  # a tuple of axes: numpy checks it
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{owner}: axis must be an int, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{owner}: axis {axis} does not exist for x of shape {x.shape}")
    if x.shape[axis] == 0:
        raise ValueError(f"{owner}: x has no entries along axis {axis} (shape {x.shape}), nothing to normalise")
    return x


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax(x)_i = x_i − logsumexp(x)."""
    x = as_float_array(x, "log_softmax", "x")
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(x)_i = e^{x_i} / Σ_j e^{x_j}, computed as e^{x_i − max x} / Σ_j e^{x_j − max x}."""
    x = _nonempty(as_float_array(x, "softmax", "x"), axis, "softmax")
    e = x - np.max(x, axis=axis, keepdims=True)
    np.exp(e, out=e)  # in place: a new array per step costs more than the arithmetic for large x
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def softmax_backward(s: np.ndarray, grad: np.ndarray, axis: int = -1) -> np.ndarray:
    """∂L/∂x for s = softmax(x) along ``axis``: s ⊙ (g − Σ_j g_j s_j), the Jacobian diag(s) − s sᵀ applied to g.

    s and grad: the same shape (a grad that merely broadcasts against s would give a gradient of another shape)."""
    s, grad = as_float_array(s, "softmax_backward", "s"), as_float_array(grad, "softmax_backward", "grad")
    if s.shape != grad.shape:
        raise ValueError(f"softmax_backward: grad must have the shape of s {s.shape}, got {grad.shape}")
    out = grad - np.sum(grad * s, axis=axis, keepdims=True)
    out *= s  # in place (the same numbers as s * (...))
    return out


def one_hot(labels: np.ndarray, num_classes: int, dtype=np.float32) -> np.ndarray:
    """Integer labels of shape (N,) → one-hot matrix of shape (N, num_classes)."""
    check_int("one_hot", "num_classes", num_classes)
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"one_hot: labels must lie in [0, {num_classes}), got values in [{labels.min()}, {labels.max()}]"
        )
    out = np.zeros(labels.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


def expect_shape(owner, x: np.ndarray, shape: tuple) -> None:
    """Raise a ``ValueError`` naming ``owner`` unless ``x`` has ``shape``.

    ``shape`` holds ints (must match) and strings (any size, used as names in the message),
    e.g. ``("N", 3)`` accepts (5, 3) and reports "expected input of shape (N, 3)".
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{owner}: expected a numpy array, got {type(x).__name__}")
    ok = x.ndim == len(shape) and all(isinstance(s, str) or s == d for s, d in zip(shape, x.shape))
    if not ok:
        wanted = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{owner}: expected input of shape {wanted}, got {tuple(x.shape)}")


# -- im2col: convolution as one matrix product ----------------------------------------------


def pad2d(x: np.ndarray, pad: tuple[int, int] | int) -> np.ndarray:
    """Zero-pad the last two axes of (N, C, H, W): ``pad`` = (before, after) rows/columns, or one int for both."""
    lo, hi = (pad, pad) if isinstance(pad, (int, np.integer)) else pad
    check_int("pad2d", "pad (before)", lo, low=0)
    check_int("pad2d", "pad (after)", hi, low=0)
    if lo == 0 and hi == 0:
        return x
    expect_shape("pad2d", x, ("N", "C", "H", "W"))
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + lo + hi, w + lo + hi), dtype=x.dtype)  # (np.pad does the same, 5-10× slower)
    out[:, :, lo:lo + h, lo:lo + w] = x
    return out


def sliding_windows(x: np.ndarray, kernel_size: int, stride: int = 1) -> np.ndarray:
    """Every K×K window of (N, C, H, W), as a view (no copy) of shape (N, C, Ho, Wo, K, K).

    windows[n, c, i, j] = x[n, c, i·S : i·S + K, j·S : j·S + K], with Ho = ⌊(H − K)/S⌋ + 1.
    """
    expect_shape("sliding_windows", x, ("N", "C", "H", "W"))
    check_int("sliding_windows", "kernel_size", kernel_size, high=min(x.shape[2:]))  # the window must fit
    check_int("sliding_windows", "stride", stride)
    windows = np.lib.stride_tricks.sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))
    return windows[:, :, ::stride, ::stride]


def im2col(x: np.ndarray, kernel_size: int, stride: int = 1, padding: tuple[int, int] | int = 0) -> np.ndarray:
    """The patch matrix of (N, C, H, W): shape (C·K·K, N·Ho·Wo), one flattened input patch per column.

    With it a convolution is one matrix product, Y = W_mat @ cols, W_mat = weight.reshape(C_out, C·K·K).
    Row order (c, ki, kj) matches ``weight.reshape``; column order (n, i, j). The copy made here is
    the price of a single large, contiguous matrix product (what BLAS is fast at).
    """
    windows = sliding_windows(pad2d(x, padding), kernel_size, stride)  # (N, C, Ho, Wo, K, K) view
    n, c, ho, wo, k, _ = windows.shape
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * k * k, n * ho * wo)


def add_windows(grad_windows: np.ndarray, input_shape: tuple, stride: int = 1) -> np.ndarray:
    """Adjoint of ``sliding_windows``: add each window's gradient back onto the pixels it was cut from.

    grad_windows: (N, C, Ho, Wo, K, K) → (N, C, H, W) for ``input_shape`` (N, C, H, W). A pixel shared by
    overlapping windows gets the sum of their gradients. The loop runs over the K×K kernel offsets only,
    each step one vectorised strided add of a whole (N, C, Ho, Wo) slab: measured 3–4× faster than the
    loop-free scatter-adds ``np.add.at`` / ``np.bincount`` over precomputed pixel indices (16 channels, 3×3).
    """
    n, c, ho, wo, k, _ = grad_windows.shape
    s = stride
    out = np.zeros(input_shape, dtype=grad_windows.dtype)
    for i in range(k):
        for j in range(k):
            target = out[:, :, i:i + s * ho:s, j:j + s * wo:s]
            if s >= k:  # windows do not overlap: every pixel gets at most one value, assigning is enough (2× faster)
                target[...] = grad_windows[:, :, :, :, i, j]
            else:
                target += grad_windows[:, :, :, :, i, j]
    return out


def col2im(cols: np.ndarray, x_shape: tuple, kernel_size: int, stride: int = 1,
           padding: tuple[int, int] | int = 0) -> np.ndarray:
    """Adjoint of ``im2col``: (C·K·K, N·Ho·Wo) patch gradients → (N, C, H, W) input gradient."""
    n, c, h, w = x_shape
    lo, hi = (padding, padding) if isinstance(padding, (int, np.integer)) else padding
    k, s = kernel_size, stride
    ho, wo = (h + lo + hi - k) // s + 1, (w + lo + hi - k) // s + 1
    if cols.shape != (c * k * k, n * ho * wo):
        raise ValueError(f"col2im: cols must have shape (C·K·K, N·Ho·Wo) = {(c * k * k, n * ho * wo)} for x_shape "
                         f"{tuple(x_shape)}, got {cols.shape}")
    # Work in (C, N, ...) order, the order of ``cols``: the strided adds then read memory in sequence.
    windows = cols.reshape(c, k, k, n, ho, wo).transpose(0, 3, 4, 5, 1, 2)  # (C, N, Ho, Wo, K, K) view
    padded = add_windows(windows, (c, n, h + lo + hi, w + lo + hi), s)
    return padded[:, :, lo:lo + h, lo:lo + w].transpose(1, 0, 2, 3)

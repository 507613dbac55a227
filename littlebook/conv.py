"""Convolution and pooling on images of shape (N, C, H, W).

A convolution slides each K×K×C filter over the (zero-padded) input with stride S:

    y[n, o, i, j] = b[o] + Σ_{c, u, v} W[o, c, u, v] · x_pad[n, c, i·S + u, j·S + v]

and each output side has size ⌊(H + 2P − K)/S⌋ + 1 (``conv_output_size``). Cutting out every patch
(``im2col``) turns this sum into one matrix product, which is how it is computed here.
"""

from __future__ import annotations

import numpy as np

from . import kernels
from .functional import (
    as_float_array,
    as_rng,
    check_bool,
    check_float_dtype,
    check_grad,
    check_int,
    expect_shape,
)
from .nn import Module, Parameter

__all__ = ["conv_output_size", "Conv2d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d"]


def _padding_pair(padding: int | str, kernel_size: int, stride: int, owner: str) -> tuple[int, int]:
    """(before, after) zero padding for an int, "valid" (no padding) or "same" (output size = input size)."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        if stride != 1:
            # As in PyTorch: with stride S > 1 no padding keeps H×W, and TensorFlow's ⌈H/S⌉ convention
            # needs input-dependent, lopsided padding. Say what to do instead.
            raise ValueError(f"{owner}: padding='same' needs stride=1 (got stride={stride}); "
                             f"use an int padding, e.g. (kernel_size - 1) // 2 gives output ⌈H/S⌉ for odd kernels")
        # Total padding K − 1; for an even kernel the extra row/column goes after (bottom/right), as in PyTorch.
        return (kernel_size - 1) // 2, kernel_size - 1 - (kernel_size - 1) // 2
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool) and padding >= 0:
        return int(padding), int(padding)
    raise ValueError(f"{owner}: padding must be an int >= 0, 'same' or 'valid', got {padding!r}")


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int | str = 0) -> int:
    """Output length along one axis: ⌊(H + 2P − K)/S⌋ + 1 (P = 0 for "valid"; "same" gives H, stride 1 only)."""
    for name, value in (("size", size), ("kernel_size", kernel_size), ("stride", stride)):
        check_int("conv_output_size", name, value)
    lo, hi = _padding_pair(padding, kernel_size, stride, "conv_output_size")
    if size + lo + hi < kernel_size:
        raise ValueError(f"conv_output_size: kernel {kernel_size} is larger than the padded input {size + lo + hi}")
    return (size + lo + hi - kernel_size) // stride + 1


def _check_positive(owner: str, **values) -> None:
    for name, v in values.items():
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{owner}: {name} must be a positive int, got {v!r}")


class Conv2d(Module):
    """2-D convolution (strictly: cross-correlation, as in every DL library) of (N, C_in, H, W) → (N, C_out, Ho, Wo).

    y = W ⋆ x + b; weight (C_out, C_in, K, K) He-initialised, N(0, 2/(C_in·K·K)); bias (C_out,) zeros.
    ``padding``: an int P (zeros on every side), "valid" (= 0) or "same" (stride 1 only: Ho×Wo = H×W).
    Forward: Y = W_mat @ cols with cols = im2col(x), one matrix product.
    Backward: ∂L/∂W = G @ colsᵀ, ∂L/∂b = Σ G, ∂L/∂x = col2im(W_matᵀ @ G), with G = ∂L/∂y as (C_out, N·Ho·Wo).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | str = 0, bias: bool = True, rng: np.random.Generator | int | None = None,
                 dtype=np.float32):
        _check_positive("Conv2d", in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size,
                        stride=stride)
        check_float_dtype("Conv2d", dtype)
        check_bool("Conv2d", "bias", bias)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self._pad = _padding_pair(padding, kernel_size, stride, "Conv2d")
        fan_in = in_channels * kernel_size * kernel_size
        w = as_rng(rng).normal(0.0, np.sqrt(2.0 / fan_in), size=(out_channels, in_channels, kernel_size, kernel_size))
        self.weight = Parameter(w.astype(dtype))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype)) if bias else None
        self._cols = self._x_shape = self._out_shape = None

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding!r}" + ("" if self.bias else ", bias=False"))

    def output_shape(self, input_shape: tuple) -> tuple:
        """(N, C_in, H, W) → (N, C_out, Ho, Wo) without running the layer."""
        if len(input_shape) != 4 or input_shape[1] != self.in_channels:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.in_channels}, H, W), "
                             f"got {tuple(input_shape)}")
        n, _, h, w = input_shape
        lo, hi = self._pad
        k, s = self.kernel_size, self.stride
        if h + lo + hi < k or w + lo + hi < k:
            raise ValueError(f"{self!r}: kernel {k}×{k} is larger than the padded input "
                             f"{h + lo + hi}×{w + lo + hi} (input {tuple(input_shape)}, padding {self.padding!r})")
        return n, self.out_channels, (h + lo + hi - k) // s + 1, (w + lo + hi - k) // s + 1

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        expect_shape(self, x, ("N", self.in_channels, "H", "W"))
        n, c_out, ho, wo = self.output_shape(x.shape)
        cols = kernels.conv2d_im2col(x, self.kernel_size, self.stride, self._pad)  # im2col: (C_in·K·K, N·Ho·Wo)
        self._cols, self._x_shape, self._out_shape = cols, x.shape, (n, c_out, ho, wo)
        w_mat = self.weight.value.reshape(c_out, -1)  # (C_out, C_in·K·K)
        bias = None if self.bias is None else self.bias.value
        return kernels.conv2d_forward(w_mat, cols, bias, self._out_shape)  # Y = W_mat @ cols + b, as (N, C_out, Ho, Wo)

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """grad_out (N, C_out, Ho, Wo) → ∂L/∂x (N, C_in, H, W); None when ``input_grad`` is False (the input is
        data: the gradients of W and b are all that training needs)."""
        self._need_cache(self._cols)
        grad_out = check_grad(self, grad_out, self._out_shape)
        check_bool(self, "backward's input_grad", input_grad)
        c_out = self.out_channels
        g = grad_out.transpose(1, 0, 2, 3).reshape(c_out, -1)  # G: (C_out, N·Ho·Wo)
        w_mat = self.weight.value.reshape(c_out, -1)  # (C_out, C_in·K·K)
        self.weight.grad += kernels.conv2d_weight_grad(self._cols, g).reshape(self.weight.shape)  # G colsᵀ
        if self.bias is not None:
            self.bias.grad += kernels.row_sums(g)  # Σ G over the N·Ho·Wo positions
        if not input_grad:
            return None
        k, s, pad = self.kernel_size, self.stride, self._pad
        return kernels.conv2d_input_grad(w_mat, grad_out, self._x_shape, k, s, pad)  # col2im(W_matᵀ G)


class _Pool2d(Module):
    """Shared set-up of the pooling layers: K×K windows with stride S (default S = K), no padding."""

    def __init__(self, kernel_size: int, stride: int | None = None):
        stride = kernel_size if stride is None else stride
        _check_positive(type(self).__name__, kernel_size=kernel_size, stride=stride)
        self.kernel_size, self.stride = kernel_size, stride
        self._x_shape = None

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

    def _patches(self, x: np.ndarray) -> np.ndarray:
        """The windows of x as (K·K, N, C, Ho, Wo): window offset first.

        Reducing over the first axis runs along long contiguous rows; numpy is slow (measured 10–40×)
        at reducing a tiny trailing axis of length K·K, once per output pixel.
        """
        expect_shape(self, x, ("N", "C", "H", "W"))
        k = self.kernel_size
        if x.shape[2] < k or x.shape[3] < k:
            raise ValueError(f"{self!r}: window {k}×{k} is larger than the input {x.shape[2]}×{x.shape[3]} "
                             f"(input shape {x.shape})")
        self._x_shape = x.shape
        return kernels.pool_patches(x, k, self.stride)  # the sliding windows, rearranged offset-first

    def _add_patches(self, grad_patches: np.ndarray) -> np.ndarray:
        """Adjoint of ``_patches``: (K·K, N, C, Ho, Wo) window gradients → (N, C, H, W)."""
        return kernels.pool_add_patches(grad_patches, self._x_shape, self.kernel_size, self.stride)  # add_windows


class MaxPool2d(_Pool2d):
    """y[n, c, i, j] = max of the K×K window at (i·S, j·S); windows that do not fit are dropped (floor).

    Backward: the whole gradient of each output goes to the arg-max of its window (the other pixels
    did not influence the output). Ties: the *first* maximum in row-major window order gets it all.
    """

    def __init__(self, kernel_size: int, stride: int | None = None):
        super().__init__(kernel_size, stride)
        self._patches_cache = self._y = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        patches = self._patches(x)
        if x.flags.writeable and np.may_share_memory(patches, x):  # 1×1 windows, stride 1: a (read-only) view of
            patches = patches.copy()  # x itself, which the caller could still change before backward
        self._patches_cache, self._y = patches, patches.max(axis=0)
        return self._y

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._y)
        patches, y = self._patches_cache, self._y
        grad_out = check_grad(self, grad_out, y.shape)
        grad_patches = kernels.maxpool_backward(patches, y, grad_out)  # g to the first arg-max of each window
        return self._add_patches(grad_patches)


class AvgPool2d(_Pool2d):
    """y[n, c, i, j] = mean of the K×K window at (i·S, j·S); backward spreads g/K² over the window."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = self._patches(as_float_array(x, self)).mean(axis=0)
        self._y_shape = y.shape
        return y

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._x_shape)
        grad_out = check_grad(self, grad_out, self._y_shape)
        k = self.kernel_size
        share = grad_out / grad_out.dtype.type(k * k)
        return self._add_patches(np.broadcast_to(share, (k * k,) + share.shape))


class GlobalAvgPool2d(Module):
    """(N, C, H, W) → (N, C): the mean of each feature map, y[n, c] = (1/HW) Σ_{h,w} x[n, c, h, w]."""

    def __init__(self):
        self._x_shape = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        expect_shape(self, x, ("N", "C", "H", "W"))
        if x.shape[2] * x.shape[3] == 0:
            raise ValueError(f"{self!r}: a mean over H·W = 0 pixels is undefined, got input of shape {x.shape}")
        self._x_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._x_shape)
        grad_out = check_grad(self, grad_out, self._x_shape[:2])
        h, w = self._x_shape[2:]
        share = grad_out / grad_out.dtype.type(h * w)
        return np.broadcast_to(share[:, :, None, None], self._x_shape).copy()

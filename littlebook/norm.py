"""Normalisation layers: standardise activations, then scale and shift them with learned γ, β.

All of them compute  x̂ = (x − μ) / √(σ² + ε),  y = γ x̂ + β;  they differ only in the axes over which
μ and σ² are taken (for an image batch (N, C, H, W)):

    BatchNorm      over (N, H, W), per channel    — depends on the other samples in the batch
    LayerNorm      over the trailing dims, per sample (for (N, C, H, W): over (C, H, W))
    GroupNorm      over (C/G, H, W), per sample and group of channels
    InstanceNorm   over (H, W), per sample and channel (GroupNorm with G = C)

Backward goes through μ and σ² as well (they depend on x): with g = ∂L/∂x̂ and means over the same axes,
    ∂L/∂x = (g − mean(g) − x̂ · mean(g ⊙ x̂)) / √(σ² + ε).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from . import kernels
from .functional import as_float_array, check_float, check_float_dtype, check_grad, check_int, expect_shape
from .nn import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d"]


def _standardize(x: np.ndarray, axes: tuple[int, ...], eps: float) -> tuple[np.ndarray, ...]:
    """x̂ = (x − mean) / √(var + eps) over ``axes`` (biased variance); returns x̂, 1/√(var + eps), mean, var."""
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    return (x - mean) * inv_std, inv_std, mean, var


def _standardize_backward(grad_xhat: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray,
                          axes: tuple[int, ...]) -> np.ndarray:
    """∂L/∂x from ∂L/∂x̂, including the paths through the mean and the variance (see the module docstring)."""
    mean_g = grad_xhat.mean(axis=axes, keepdims=True)
    mean_gx = (grad_xhat * xhat).mean(axis=axes, keepdims=True)
    return (grad_xhat - mean_g - xhat * mean_gx) * inv_std


class _BatchNorm(Module):
    """Shared code of BatchNorm1d/2d: statistics per feature (axis 1) over every other axis."""

    buffer_names = ("running_mean", "running_var")
    _layout: tuple = ()  # input shape for expect_shape, with the feature count filled in

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, dtype=np.float32):
        name = type(self).__name__
        check_int(name, "num_features", num_features)
        check_float(name, "eps", eps, low=0.0, low_open=True)  # eps = 0 divides by zero on a constant feature
        check_float(name, "momentum", momentum, 0.0, 1.0)
        check_float_dtype(name, dtype)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=dtype))  # γ
        self.bias = Parameter(np.zeros(num_features, dtype=dtype))  # β
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)
        self._centred = self._inv_std = None

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        expect_shape(self, x, tuple(self.num_features if s == "C" else s for s in self._layout))
        axes = (0,) + tuple(range(2, x.ndim))  # every axis except the feature axis 1
        shape = (1, -1) + (1,) * (x.ndim - 2)  # broadcasts a (C,) vector along axis 1
        if self.training:
            count = x.size // self.num_features
            if count < 2:
                raise ValueError(f"{self!r}: training needs more than one value per feature to estimate a "
                                 f"variance, got input of shape {x.shape}")
            # y = γ (x − μ)/√(σ² + ε) + β with the batch's μ, σ² per feature (kernels: fewer passes over x)
            y, centred, inv_std, mean, var = kernels.batchnorm_forward(x, self.weight.value, self.bias.value,
                                                                       self.eps)
            # Running statistics for eval mode. As in PyTorch, the variance stored is the unbiased estimate
            # (÷ (count − 1)) while the batch itself is normalised with the biased one (÷ count).
            m = self.momentum
            self.running_mean[...] = (1 - m) * self.running_mean + m * mean.reshape(-1)
            self.running_var[...] = (1 - m) * self.running_var + m * var.reshape(-1) * (count / (count - 1))
        else:
            inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
            centred = x - self.running_mean.reshape(shape)
            y = centred * (self.weight.value * inv_std).reshape(shape) + self.bias.value.reshape(shape)
        # Cached: x − μ and 1/√(σ² + ε), whose product is x̂ (not storing x̂ itself saves a pass over x). The mode
        # is part of the cache: backward must differentiate the function forward computed, even if eval() is
        # called in between (batch statistics depend on x, running statistics do not).
        self._centred, self._inv_std, self._axes, self._batch_stats = centred, inv_std, axes, self.training
        return y

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        """grad_out (N, C, ...) → ∂L/∂x (N, C, ...); ∂L/∂γ = Σ g x̂ and ∂L/∂β = Σ g over every axis but C."""
        self._need_cache(self._centred)
        axes, centred, inv_std, gamma = self._axes, self._centred, self._inv_std, self.weight.value
        grad_out = check_grad(self, grad_out, centred.shape)
        if self._batch_stats:  # through μ and σ² too: (g − mean g − x̂ mean(g x̂)) γ/√(σ² + ε)
            grad_x, grad_gamma, grad_beta = kernels.batchnorm_backward(grad_out, centred, inv_std, gamma)
        else:  # eval: μ and σ² are constants, the layer is affine
            shape = (1, -1) + (1,) * (centred.ndim - 2)
            grad_x = grad_out * (gamma * inv_std).reshape(shape)
            grad_gamma = (grad_out * centred).sum(axis=axes) * inv_std  # Σ g x̂ with x̂ = (x − μ)/√(σ² + ε)
            grad_beta = grad_out.sum(axis=axes)
        self.weight.grad += grad_gamma
        self.bias.grad += grad_beta
        return grad_x


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, D): each feature standardised over the batch, then y = γ x̂ + β.

    Train mode: batch mean and (biased) variance; running_mean/running_var ← (1 − momentum)·old + momentum·batch
    (unbiased variance, as in PyTorch). Eval mode: the running statistics, so y no longer depends on the batch.
    """

    _layout = ("N", "C")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W): statistics per channel over (N, H, W); otherwise as BatchNorm1d."""

    _layout = ("N", "C", "H", "W")


class LayerNorm(Module):
    """Standardise each sample over its trailing dims ``normalized_shape``, then y = γ x̂ + β (γ, β of that shape).

    Works on (N, D) with normalized_shape = D and on sequences (N, T, D): each token on its own. Same in
    train and eval mode (no batch statistics).
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5, dtype=np.float32):
        # One number is one axis: a float (3.0) or a bool goes to check_int below, whose message names it,
        # instead of to tuple(), which raised Python's "'float' object is not iterable".
        if isinstance(normalized_shape, (int, float, np.integer, np.floating)):
            shape = (normalized_shape,)
        elif isinstance(normalized_shape, Iterable) and not isinstance(normalized_shape, str):
            shape = tuple(normalized_shape)
        else:
            raise TypeError(f"LayerNorm: normalized_shape must be an int or a tuple of ints, got {normalized_shape!r}")
        if not shape:
            raise ValueError(f"LayerNorm: normalized_shape must name at least one axis, got {normalized_shape!r}")
        for size in shape:
            check_int("LayerNorm", "normalized_shape", size)
        check_float("LayerNorm", "eps", eps, low=0.0, low_open=True)
        check_float_dtype("LayerNorm", dtype)
        self.normalized_shape, self.eps = tuple(int(s) for s in shape), eps
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
        self._xhat = self._inv_std = None

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        d = len(self.normalized_shape)
        x = as_float_array(x, self)
        if not isinstance(x, np.ndarray) or x.ndim <= d or x.shape[-d:] != self.normalized_shape:
            wanted = "(N, ..., " + ", ".join(map(str, self.normalized_shape)) + ")"
            raise ValueError(f"{self!r}: expected input of shape {wanted}, got {getattr(x, 'shape', type(x))}")
        self._axes = tuple(range(x.ndim - d, x.ndim))
        # x̂ = (x − μ)/√(σ² + ε) over the normalized dims, y = γ x̂ + β, computed with each sample's features as
        # one row of an (M, D) matrix; x̂ and 1/√(σ² + ε) are kept in x's shape (views, no copy).
        features = self.weight.value.size
        y, xhat, inv_std = kernels.layernorm_forward(
            x.reshape(-1, features), self.weight.value.reshape(-1), self.bias.value.reshape(-1), self.eps)
        self._xhat, self._inv_std = xhat.reshape(x.shape), inv_std.reshape(x.shape[:-d] + (1,) * d)
        return y.reshape(x.shape)

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._xhat)
        grad_out = check_grad(self, grad_out, self._xhat.shape)
        # ĝ = γ g: ∂L/∂x = (ĝ − mean ĝ − x̂ mean(ĝ x̂)) / √(σ² + ε), ∂L/∂γ = Σ g x̂, ∂L/∂β = Σ g over the samples
        features = self.weight.value.size
        grad_x, grad_gamma, grad_beta = kernels.layernorm_backward(
            grad_out.reshape(-1, features), self._xhat.reshape(-1, features), self._inv_std.reshape(-1, 1),
            self.weight.value.reshape(-1))
        self.weight.grad += grad_gamma.reshape(self.normalized_shape)
        self.bias.grad += grad_beta.reshape(self.normalized_shape)
        return grad_x.reshape(self._xhat.shape)


class GroupNorm(Module):
    """Split the C channels of (N, C, *) into G groups; standardise each sample's group over (C/G, *).

    Then y = γ x̂ + β per channel (γ, β of shape (C,)). G = 1 is layer norm over (C, H, W);
    G = C is instance norm. Independent of the batch, so the same in train and eval mode.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, dtype=np.float32):
        check_int(type(self).__name__, "num_groups", num_groups)
        check_int(type(self).__name__, "num_channels", num_channels)
        check_float(type(self).__name__, "eps", eps, low=0.0, low_open=True)
        check_float_dtype(type(self).__name__, dtype)
        if num_channels % num_groups:
            raise ValueError(f"{type(self).__name__}: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.weight = Parameter(np.ones(num_channels, dtype=dtype))
        self.bias = Parameter(np.zeros(num_channels, dtype=dtype))
        self._xhat = self._inv_std = None

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}"

    def _grouped_shape(self, shape: tuple) -> tuple[int, int, int]:
        """(N, C, *) → (N, G, C/G · *), spelled out: numpy cannot infer a -1 for an empty batch (N = 0)."""
        return shape[0], self.num_groups, math.prod(shape[1:]) // self.num_groups

    def _check(self, x: np.ndarray) -> None:
        if not isinstance(x, np.ndarray) or x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.num_channels}, ...), "
                             f"got {getattr(x, 'shape', type(x))}")

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        self._check(x)
        c = x.shape[1]
        if x.ndim > 2 and math.prod(x.shape[2:]) == 0:  # an empty batch (N = 0) is fine: an empty output
            raise ValueError(f"{self!r}: a mean over 0 values per channel is undefined, got input of shape {x.shape}")
        grouped = x.reshape(self._grouped_shape(x.shape))  # (N, G, C/G · H · W): a group's channels are adjacent
        xhat, self._inv_std, _, _ = _standardize(grouped, (2,), self.eps)
        self._xhat = xhat.reshape(x.shape)
        shape = (1, c) + (1,) * (x.ndim - 2)
        return self._xhat * self.weight.value.reshape(shape) + self.bias.value.reshape(shape)

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._xhat)
        grad_out = check_grad(self, grad_out, self._xhat.shape)
        c = grad_out.shape[1]
        shape = (1, c) + (1,) * (grad_out.ndim - 2)
        axes = (0,) + tuple(range(2, grad_out.ndim))
        self.weight.grad += (grad_out * self._xhat).sum(axis=axes)
        self.bias.grad += grad_out.sum(axis=axes)
        grad_xhat = (grad_out * self.weight.value.reshape(shape)).reshape(self._grouped_shape(grad_out.shape))
        xhat = self._xhat.reshape(grad_xhat.shape)
        return _standardize_backward(grad_xhat, xhat, self._inv_std, (2,)).reshape(grad_out.shape)


class InstanceNorm2d(GroupNorm):
    """Instance norm of (N, C, H, W): each sample's channel standardised over (H, W); GroupNorm with G = C.

    Unlike PyTorch's ``InstanceNorm2d`` (affine=False by default), γ and β are always learned here,
    as in the GroupNorm it is.
    """

    def __init__(self, num_channels: int, eps: float = 1e-5, dtype=np.float32):
        super().__init__(num_channels, num_channels, eps=eps, dtype=dtype)

    def extra_repr(self) -> str:
        return f"{self.num_channels}, eps={self.eps}"

    def _check(self, x: np.ndarray) -> None:
        expect_shape(self, x, ("N", self.num_channels, "H", "W"))

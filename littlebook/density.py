"""Density models: modules whose output is log p(x), trained by maximising the likelihood of the data.

This is the unsupervised third kind of model of chapter 1: there is no target y, the model is a probability
density over the inputs themselves. Training minimises the negative log-likelihood L = −(1/N) Σ_n log p(x_n),
so the gradient that enters ``backward`` is simply ∂L/∂log p(x_n) = −1/N.
"""

from __future__ import annotations

import numpy as np

from .functional import (
    as_float_array,
    as_rng,
    check_float_dtype,
    check_grad,
    check_int,
    expect_shape,
    logsumexp,
    softmax,
)
from .nn import Module, Parameter

__all__ = ["GaussianMixture"]


class GaussianMixture(Module):
    """Mixture of K isotropic Gaussians in D dimensions; forward returns log p(x) for each sample.

    p(x) = Σ_k π_k N(x; μ_k, σ_k² I),  π = softmax(logits),  σ_k = exp(log_std_k)
    log p(x) = logsumexp_k [log π_k − (D/2) log 2π − D log σ_k − |x − μ_k|² / (2σ_k²)]
    x: (N, D) → log p: (N,). Parameters: logits (K,), means (K, D), log_std (K,).
    Softmax and exp keep π a distribution and σ positive whatever values gradient descent gives them.
    K = 1 is a single Gaussian, whose maximum-likelihood fit is the sample mean and standard deviation.
    """

    def __init__(self, n_components: int, dim: int, rng: np.random.Generator | int | None = None, dtype=np.float32):
        check_int("GaussianMixture", "n_components", n_components)
        check_int("GaussianMixture", "dim", dim)
        check_float_dtype("GaussianMixture", dtype)
        self.n_components, self.dim = n_components, dim
        self.logits = Parameter(np.zeros(n_components, dtype=dtype))
        self.means = Parameter(as_rng(rng).standard_normal((n_components, dim)).astype(dtype))
        self.log_std = Parameter(np.zeros(n_components, dtype=dtype))
        self._cache = None

    def extra_repr(self) -> str:
        return f"n_components={self.n_components}, dim={self.dim}"

    @property
    def weights(self) -> np.ndarray:
        """Mixing proportions π = softmax(logits), (K,)."""
        return softmax(self.logits.value)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        expect_shape(self, x, ("N", self.dim))
        diff = x[:, None, :] - self.means.value  # (N, K, D)
        var = np.exp(2 * self.log_std.value)  # (K,)
        sq = np.sum(diff**2, axis=2)  # (N, K): |x_n − μ_k|²
        a = (np.log(self.weights) - 0.5 * self.dim * np.log(2 * np.pi) - self.dim * self.log_std.value
             - sq / (2 * var))  # (N, K): log π_k + log N(x_n; μ_k, σ_k²)
        log_p = logsumexp(a, axis=1)
        # r_nk = π_k N_k(x_n) / p(x_n): the responsibility of component k for sample n, ∂log p(x_n)/∂a_nk.
        self._cache = (diff, sq, var, np.exp(a - log_p[:, None]))
        return log_p

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        """grad_out: (N,) = ∂L/∂log p(x_n). Returns ∂L/∂x (N, D); accumulates the parameter gradients."""
        self._need_cache(self._cache)
        diff, sq, var, resp = self._cache
        # (N,), one value per sample: an (N, 1) column would broadcast against resp (N, K) into a wrong gradient
        grad_out = check_grad(self, grad_out, (len(resp),))
        g = grad_out[:, None] * resp  # (N, K) = ∂L/∂a_nk
        # ∂a_nk/∂logits_j = δ_kj − π_j (log-softmax); ∂a_nk/∂μ_k = (x_n − μ_k)/σ_k²;
        # ∂a_nk/∂log σ_k = −D + |x_n − μ_k|²/σ_k²;  ∂a_nk/∂x_n = −(x_n − μ_k)/σ_k².
        g_sum = g.sum(axis=0)  # (K,)
        self.logits.grad += g_sum - self.weights * g_sum.sum()
        scaled = g[:, :, None] * diff / var[:, None]  # (N, K, D)
        self.means.grad += scaled.sum(axis=0)
        self.log_std.grad += np.sum(g * (sq / var - self.dim), axis=0)
        return -scaled.sum(axis=1)

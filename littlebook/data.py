"""Data sets: small synthetic generators, the 8×8 digits shipped by scikit-learn, and splitting.

Everything here works offline and is reproducible: each generator takes an ``rng``.
Classification sets return X (N, D) float32 and y (N,) int64.
"""

from __future__ import annotations

import numpy as np

from .functional import as_rng, one_hot

__all__ = [
    "regression_1d",
    "blobs",
    "moons",
    "spirals",
    "gaussian_mixture",
    "load_digits",
    "train_test_split",
    "one_hot",
]


def regression_1d(n: int = 50, noise: float = 0.15, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """x ~ U[0, 1], y = sin(2πx) + ε with ε ~ N(0, noise²). Returns x (n, 1), y (n, 1), float64."""
    rng = as_rng(rng)
    x = np.sort(rng.uniform(0.0, 1.0, size=(n, 1)), axis=0)
    return x, np.sin(2 * np.pi * x) + noise * rng.standard_normal((n, 1))


def blobs(n: int = 300, centers: int = 3, std: float = 0.6, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """``centers`` Gaussian clouds in 2-D, centres spread on a circle of radius 2."""
    rng = as_rng(rng)
    y = np.arange(n) % centers
    angles = 2 * np.pi * np.arange(centers) / centers
    means = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    X = means[y] + std * rng.standard_normal((n, 2))
    return _shuffled(X, y, rng)


def moons(n: int = 300, noise: float = 0.1, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (classes 0 and 1), plus Gaussian noise."""
    rng = as_rng(rng)
    y = np.arange(n) % 2
    t = rng.uniform(0.0, np.pi, size=n)
    X = np.where(y[:, None] == 0,
                 np.stack([np.cos(t), np.sin(t)], axis=1),
                 np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1))
    return _shuffled(X + noise * rng.standard_normal((n, 2)), y, rng)


def spirals(n: int = 300, classes: int = 3, noise: float = 0.2, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms (the CS231n toy problem): not linearly separable."""
    rng = as_rng(rng)
    y = np.arange(n) % classes
    r = rng.uniform(0.05, 1.0, size=n)
    theta = y * 2 * np.pi / classes + 4 * r + noise * rng.standard_normal(n)
    X = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
    return _shuffled(X, y, rng)


def gaussian_mixture(n: int = 500, means=((-2.0, 0.0), (2.0, 1.0)), stds=(0.7, 1.0), weights=(0.4, 0.6),
                     rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Samples from p(x) = Σ_k π_k N(x; μ_k, σ_k² I): returns X (n, D) and the component of each sample."""
    rng = as_rng(rng)
    means, stds, weights = np.asarray(means, float), np.asarray(stds, float), np.asarray(weights, float)
    if not np.isclose(weights.sum(), 1.0):
        raise ValueError(f"gaussian_mixture: weights must sum to 1, got {weights.sum()}")
    k = rng.choice(len(weights), size=n, p=weights)
    X = means[k] + stds[k, None] * rng.standard_normal((n, means.shape[1]))
    return X.astype(np.float32), k.astype(np.int64)


def _shuffled(X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(X))
    return X[order].astype(np.float32), y[order].astype(np.int64)


def load_digits(flatten: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 real 8×8 handwritten digits that scikit-learn ships (offline), scaled to [0, 1].

    Returns X (1797, 64) if ``flatten`` else (1797, 1, 8, 8), float32, and y (1797,) int64.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    digits = _sk_load_digits()
    X = (digits.images / 16.0).astype(np.float32)
    X = X.reshape(len(X), -1) if flatten else X[:, None, :, :]
    return X, digits.target.astype(np.int64)


def train_test_split(X: np.ndarray, y: np.ndarray, test_size: float = 0.2, rng=None, stratify: bool = False):
    """Shuffle and split into (X_train, X_test, y_train, y_test), like scikit-learn's function.

    With ``stratify=True`` each class keeps its proportion in both parts.
    """
    if len(X) != len(y):
        raise ValueError(f"train_test_split: X has {len(X)} samples but y has {len(y)}")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"train_test_split: test_size must lie in (0, 1), got {test_size}")
    rng = as_rng(rng)
    if stratify:
        test = np.concatenate([
            idx[: int(round(test_size * len(idx)))]
            for idx in (rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y))
        ])
        mask = np.zeros(len(X), dtype=bool)
        mask[test] = True
        train_idx, test_idx = rng.permutation(np.flatnonzero(~mask)), rng.permutation(test)
    else:
        order = rng.permutation(len(X))
        n_test = int(round(test_size * len(X)))
        if n_test == 0 or n_test == len(X):
            raise ValueError(f"train_test_split: {len(X)} samples cannot be split with test_size={test_size}")
        test_idx, train_idx = order[:n_test], order[n_test:]
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]

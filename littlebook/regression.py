"""Polynomial least squares, chapter 1's first model: the degree is a hyper-parameter chosen on validation data.

For features φ(x) = (1, x, …, x^d) the training MSE ‖Φw − y‖²/N is minimised in closed form by the normal
equations ΦᵀΦ w* = Φᵀy; ``numpy.polynomial.Polynomial.fit`` solves them by a least-squares solver (not by
inverting ΦᵀΦ) after mapping x to [−1, 1], which keeps high degrees well conditioned.
"""

from __future__ import annotations

import numpy as np

from .functional import check_int

__all__ = ["polynomial_fit", "polynomial_errors"]


def polynomial_fit(x: np.ndarray, y: np.ndarray, degree: int) -> np.polynomial.Polynomial:
    """The degree-``degree`` polynomial w* minimising the training MSE on (x, y), both (N,) or (N, 1)."""
    check_int("polynomial_fit", "degree", degree, low=0)
    x, y = np.ravel(x), np.ravel(y)
    if len(x) != len(y):
        raise ValueError(f"polynomial_fit: x has {len(x)} values but y has {len(y)}")
    if len(x) <= degree:
        raise ValueError(f"polynomial_fit: a degree-{degree} polynomial needs at least {degree + 1} points, "
                         f"got {len(x)}")
    return np.polynomial.Polynomial.fit(x, y, degree)


def polynomial_errors(x_train, y_train, x_val, y_val, degrees) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation mean squared error of ``polynomial_fit`` on the training data, for each degree."""
    train, val = [], []
    for d in degrees:
        p = polynomial_fit(x_train, y_train, d)
        train.append(np.mean((p(np.ravel(x_train)) - np.ravel(y_train)) ** 2))
        val.append(np.mean((p(np.ravel(x_val)) - np.ravel(y_val)) ** 2))
    return np.array(train), np.array(val)

"""Polynomial least squares, chapter 1's first model: the degree is a hyper-parameter chosen on validation data.

For features φ(x) = (1, x, …, x^d) the training MSE ‖Φw − y‖²/N is minimised in closed form by the normal
equations ΦᵀΦ w* = Φᵀy; ``numpy.polynomial.Polynomial.fit`` solves them by a least-squares solver (not by
inverting ΦᵀΦ) after mapping x to [−1, 1], which keeps high degrees well conditioned.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .functional import as_float_array, check_int

__all__ = ["polynomial_fit", "polynomial_errors"]


def polynomial_fit(x: np.ndarray, y: np.ndarray, degree: int) -> np.polynomial.Polynomial:
    """The degree-``degree`` polynomial w* minimising the training MSE on (x, y), both (N,) or (N, 1)."""
    check_int("polynomial_fit", "degree", degree, low=0)
    x, y = _points("polynomial_fit", x, y)
    if len(x) <= degree:
        raise ValueError(f"polynomial_fit: a degree-{degree} polynomial needs at least {degree + 1} points, "
                         f"got {len(x)}")
    return np.polynomial.Polynomial.fit(x, y, degree)


def _points(owner: str, x, y, names: tuple[str, str] = ("x", "y")) -> tuple[np.ndarray, np.ndarray]:
    """x and y as flat float arrays of one value per point: each (N,) or (N, 1), N of each, finite.

    Not a bare ravel: x of shape (N, 2) would become 2N points of one variable; and a NaN makes the least-squares
    solver fail ("SVD did not converge") or every coefficient NaN."""
    flat = []
    for name, a in zip(names, (x, y)):
        a = as_float_array(a, owner, name)
        if a.ndim > 2 or (a.ndim == 2 and a.shape[1] != 1):
            raise ValueError(f"{owner}: {name} must hold one value per point, shape (N,) or (N, 1), got {a.shape}")
        if not np.isfinite(a).all():
            first = int(np.argmin(np.isfinite(a.ravel())))
            raise ValueError(f"{owner}: {name} contains NaN or inf (first at point {first})")
        flat.append(a.ravel())
    if len(flat[0]) != len(flat[1]):
        raise ValueError(f"{owner}: {names[0]} has {len(flat[0])} values but {names[1]} has {len(flat[1])}")
    return flat[0], flat[1]


def polynomial_errors(x_train, y_train, x_val, y_val, degrees) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation mean squared error of ``polynomial_fit`` on the training data, for each degree."""
    x_train, y_train = _points("polynomial_errors", x_train, y_train, ("x_train", "y_train"))
    x_val, y_val = _points("polynomial_errors", x_val, y_val, ("x_val", "y_val"))
    if isinstance(degrees, (int, np.integer)) or not isinstance(degrees, Iterable):
        raise TypeError(f"polynomial_errors: degrees must be a list of ints (e.g. range(10)), got {degrees!r}")
    train, val = [], []
    for d in degrees:
        p = polynomial_fit(x_train, y_train, d)
        train.append(np.mean((p(x_train) - y_train) ** 2))
        val.append(np.mean((p(x_val) - y_val) ** 2))
    return np.array(train), np.array(val)

"""Data sets: small synthetic generators, the 8×8 digits shipped by scikit-learn, real MNIST, and splitting.

Everything here works offline and is reproducible: each generator takes an ``rng``.
Classification sets return X (N, D) float32 and y (N,) int64.
MNIST (download, cache, IDX files) lives in ``littlebook.mnist``; ``load_mnist`` and friends are re-exported here.
"""

from __future__ import annotations

import functools
import importlib.util
import os

import numpy as np

from .functional import as_rng, check_bool, check_float, check_int, one_hot  # noqa: F401 (one_hot: lb.data.one_hot still works)
from .mnist import MNIST_FILES, MNISTUnavailable, _find, data_dir, load_mnist, mnist_cached  # noqa: F401 (re-exported)

__all__ = [
    "regression_1d",
    "blobs",
    "moons",
    "spirals",
    "gaussian_mixture",
    "load_digits",
    "load_mnist",
    "mnist_cached",
    "MNISTUnavailable",
    "scale_images",
    "train_test_split",
    "standardize",
    "data_dir",
]


def regression_1d(n: int = 50, noise: float = 0.15, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """x ~ U[0, 1], y = sin(2πx) + ε with ε ~ N(0, noise²). Returns x (n, 1), y (n, 1), float64."""
    check_int("regression_1d", "n", n)
    check_float("regression_1d", "noise", noise, low=0.0)
    rng = as_rng(rng)
    x = np.sort(rng.uniform(0.0, 1.0, size=(n, 1)), axis=0)
    return x, np.sin(2 * np.pi * x) + noise * rng.standard_normal((n, 1))


def blobs(n: int = 300, centers: int = 3, std: float = 0.6, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """``centers`` Gaussian clouds in 2-D, centres spread on a circle of radius 2."""
    check_int("blobs", "n", n)
    check_int("blobs", "centers", centers)
    check_float("blobs", "std", std, low=0.0)
    rng = as_rng(rng)
    y = np.arange(n) % centers
    angles = 2 * np.pi * np.arange(centers) / centers
    means = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    X = means[y] + std * rng.standard_normal((n, 2))
    return _shuffled(X, y, rng)


def moons(n: int = 300, noise: float = 0.1, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (classes 0 and 1), plus Gaussian noise."""
    check_int("moons", "n", n)
    check_float("moons", "noise", noise, low=0.0)
    rng = as_rng(rng)
    y = np.arange(n) % 2
    t = rng.uniform(0.0, np.pi, size=n)
    X = np.where(y[:, None] == 0,
                 np.stack([np.cos(t), np.sin(t)], axis=1),
                 np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1))
    return _shuffled(X + noise * rng.standard_normal((n, 2)), y, rng)


def spirals(n: int = 300, classes: int = 3, noise: float = 0.2, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms (the CS231n toy problem): not linearly separable."""
    check_int("spirals", "n", n)
    check_int("spirals", "classes", classes)
    check_float("spirals", "noise", noise, low=0.0)
    rng = as_rng(rng)
    y = np.arange(n) % classes
    r = rng.uniform(0.05, 1.0, size=n)
    theta = y * 2 * np.pi / classes + 4 * r + noise * rng.standard_normal(n)
    X = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
    return _shuffled(X, y, rng)


def gaussian_mixture(n: int = 500, means=((-2.0, 0.0), (2.0, 1.0)), stds=(0.7, 1.0), weights=(0.4, 0.6),
                     rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Samples from p(x) = Σ_k π_k N(x; μ_k, σ_k² I): returns X (n, D) and the component of each sample."""
    check_int("gaussian_mixture", "n", n)
    rng = as_rng(rng)
    means, stds, weights = np.asarray(means, float), np.asarray(stds, float), np.asarray(weights, float)
    if means.ndim != 2 or stds.shape != (len(means),) or weights.shape != (len(means),):
        raise ValueError(f"gaussian_mixture: expected means (K, D), stds (K,), weights (K,), got shapes "
                         f"{means.shape}, {stds.shape}, {weights.shape}")
    if not (np.isfinite(means).all() and np.isfinite(stds).all() and np.isfinite(weights).all()):
        raise ValueError(f"gaussian_mixture: means, stds and weights must be finite, got means {means.tolist()}, "
                         f"stds {stds.tolist()}, weights {weights.tolist()}")
    if (weights < 0).any() or (stds < 0).any():
        raise ValueError(f"gaussian_mixture: weights and stds must be >= 0, got weights {weights}, stds {stds}")
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
    check_bool("load_digits", "flatten", flatten)
    table = _digits_table()
    X = (table[:, :64] / 16.0).astype(np.float32)
    return (X if flatten else X.reshape(-1, 1, 8, 8)), table[:, 64].astype(np.int64)


@functools.lru_cache(maxsize=1)
def _digits_table() -> np.ndarray:
    # Read the CSV that scikit-learn ships (64 pixel counts 0..16, then the label) straight from its package
    # folder: importing sklearn.datasets costs seconds, and chapters load the digits many times.
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("load_digits needs scikit-learn, which ships the data: pip install scikit-learn")
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    if table.shape != (1797, 65):
        raise ValueError(f"load_digits: {path} has shape {table.shape}, expected (1797, 65)")
    table.setflags(write=False)
    return table


def standardize(train: np.ndarray, *others: np.ndarray, eps: float = 0.1) -> tuple[np.ndarray, ...]:
    """Per-feature (x − μ) / (σ + eps) with μ, σ measured on ``train`` only, applied to every array given.

    ``eps`` keeps constant features (e.g. always-blank border pixels) from being divided by zero.
    Float data keep their dtype; integer or bool data (e.g. uint8 pixels) come back float64, since
    standardised values are fractions (cast back to uint8 they would be all zeros).
    """
    arrays = [a if isinstance(a, np.ndarray) else np.asarray(a) for a in (train, *others)]
    for i, a in enumerate(arrays):
        name = "train" if i == 0 else f"others[{i - 1}]"
        if a.dtype.kind not in "biuf":
            raise TypeError(f"standardize: {name} must hold real numbers, got dtype {a.dtype}")
        if a.ndim == 0 or a.shape[1:] != arrays[0].shape[1:]:
            raise ValueError(f"standardize: {name} must have one row per sample with features shaped like "
                             f"train's {arrays[0].shape[1:]}, got shape {a.shape}")
    train = arrays[0]
    if len(train) == 0:
        raise ValueError("standardize: train is empty; the mean and spread need at least one sample")
    check_float("standardize", "eps", eps, low=0.0)
    if not np.isfinite(train).all():  # one NaN would turn its feature's mean, and so the whole column, into NaN
        bad = ~np.isfinite(train).reshape(len(train), -1).all(axis=0)
        raise ValueError(f"standardize: train has NaN or inf values in {int(bad.sum())} feature(s) (first: flat "
                         f"index {int(np.argmax(bad))}); their mean and spread would be NaN for every sample")
    with np.errstate(over="ignore"):  # an overflow is reported below, with what to do about it
        mu, sigma = train.mean(axis=0), train.std(axis=0) + eps
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise ValueError(f"standardize: the mean or spread of train overflows {train.dtype}; convert it with "
                         ".astype(np.float64) first")
    if (sigma == 0).any():
        raise ValueError(f"standardize: {int((sigma == 0).sum())} feature(s) are constant on train and eps = 0 "
                         f"would divide them by zero; use eps > 0")
    dtype = train.dtype if train.dtype.kind == "f" else np.float64
    return tuple(((a - mu) / sigma).astype(dtype, copy=False) for a in arrays)


def train_test_split(X: np.ndarray, y: np.ndarray, test_size: float = 0.2, rng=None, stratify: bool = False):
    """Shuffle and split into (X_train, X_test, y_train, y_test), like scikit-learn's function.

    The test part holds n_test = round(test_size · N) samples. With ``stratify=True`` each class keeps its
    proportion in both parts: class c, with n_c samples, gives about n_test · n_c / N of them to the test part,
    rounded so that the counts add up to n_test exactly, and keeps at least one sample in each part.
    (scikit-learn's ``stratify=y`` is ``stratify=True`` here.)
    """
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    y = y if isinstance(y, np.ndarray) else np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"train_test_split: X and y must have one row per sample, got shapes {X.shape}, {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"train_test_split: X has {len(X)} samples but y has {len(y)}")
    if len(X) < 2:
        raise ValueError(f"train_test_split: {len(X)} samples cannot be split into two non-empty parts")
    check_float("train_test_split", "test_size", test_size, 0.0, 1.0, low_open=True, high_open=True)
    if not isinstance(stratify, (bool, np.bool_)):  # an array here would be scikit-learn's stratify=labels
        raise TypeError(f"train_test_split: stratify must be True or False (True keeps the proportions of y's "
                        f"classes), got {type(stratify).__name__}")
    rng = as_rng(rng)
    n_test = int(round(test_size * len(X)))
    if stratify:
        # Each class's samples in random order; the first take[c] of class c go to the test part.
        by_class = [rng.permutation(idx) for idx in _class_indices(y)]
        take = _test_counts(np.array([len(idx) for idx in by_class]), n_test, test_size)
        test = np.concatenate([idx[:k] for idx, k in zip(by_class, take)])
        mask = np.zeros(len(X), dtype=bool)
        mask[test] = True
        train_idx, test_idx = rng.permutation(np.flatnonzero(~mask)), rng.permutation(test)
    else:
        order = rng.permutation(len(X))
        if n_test == 0 or n_test == len(X):
            raise ValueError(f"train_test_split: {len(X)} samples cannot be split with test_size={test_size}")
        test_idx, train_idx = order[:n_test], order[n_test:]
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def _class_indices(y: np.ndarray) -> list[np.ndarray]:
    """The sample indices of each class of y (N,), classes in sorted order, indices ascending."""
    if y.ndim != 1:
        raise ValueError(f"train_test_split: stratify=True needs class labels y of shape (N,), got {y.shape}")
    if y.dtype.kind not in "biufUS":
        raise TypeError(f"train_test_split: stratify=True needs class labels y (integers, strings or floats), "
                        f"got dtype {y.dtype}")
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError("train_test_split: stratify=True needs class labels y, but y holds NaN, which is no class")
    classes, which, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError(f"train_test_split: stratify=True needs at least 2 samples of every class (one for each "
                         f"part), but class(es) {classes[counts < 2].tolist()} have only 1")
    return [np.flatnonzero(which == c) for c in range(len(classes))]


def _test_counts(counts: np.ndarray, n_test: int, test_size: float) -> np.ndarray:
    """How many samples of each class go to the test part: the quota n_test · n_c / N rounded down, then one more
    for the classes whose quotas lost the most in the rounding (largest remainders), until the counts add up to
    n_test; every class keeps at least one sample in each part."""
    n, k = int(counts.sum()), len(counts)
    if not k <= n_test <= n - k:
        part, size = ("test", n_test) if n_test < k else ("train", n - n_test)
        raise ValueError(f"train_test_split: test_size={test_size} of {n} samples leaves {size} for the {part} "
                         f"part, too few for one sample of each of the {k} classes (stratify=True)")
    quota = n_test * counts / n
    take = np.clip(np.floor(quota).astype(np.int64), 1, counts - 1)
    # Rounding down (and the bounds) leave the total off n_test: add (or remove) one sample at a time where the
    # count is furthest below (above) its quota, among the classes that still have room. Ties go to the first class.
    while (missing := n_test - int(take.sum())) != 0:
        step = 1 if missing > 0 else -1
        room = take < counts - 1 if step > 0 else take > 1
        take[np.argmax(np.where(room, step * (quota - take), -np.inf))] += step
    return take


def scale_images(X: np.ndarray, flatten: bool = True) -> np.ndarray:
    """uint8 pixels (N, H, W) → float32 x / 255 in [0, 1]: (N, H·W) if ``flatten`` else (N, 1, H, W) for Conv2d."""
    check_bool("scale_images", "flatten", flatten)
    X = np.asarray(X)
    # Only uint8 is accepted: scaling already-scaled floats again would silently divide them by 255 a second time.
    if X.dtype != np.uint8 or X.ndim != 3:
        raise ValueError(f"scale_images: expected uint8 images of shape (N, H, W), got {X.dtype} {X.shape}")
    X = X.astype(np.float32)
    X /= 255.0  # in place: one 4-byte copy of the data set instead of two
    # (N, H·W) spelled out: reshape(N, -1) cannot infer the -1 of an empty batch (0 images)
    return X.reshape(len(X), X.shape[1] * X.shape[2]) if flatten else X[:, None, :, :]

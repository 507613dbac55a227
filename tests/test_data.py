"""Synthetic data sets, the shipped digits, splitting and one-hot."""

import numpy as np
import pytest

import littlebook as lb
from littlebook import data


@pytest.mark.parametrize("make", [data.blobs, data.moons, data.spirals])
def test_classification_sets_are_reproducible_and_balanced(make):
    X, y = make(n=300, rng=5)
    X2, y2 = make(n=300, rng=5)
    assert X.shape == (300, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1
    assert not np.array_equal(X, make(n=300, rng=6)[0])


def test_regression_1d_follows_the_sine():
    x, y = data.regression_1d(n=500, noise=0.1, rng=0)
    residual = y - np.sin(2 * np.pi * x)
    assert x.shape == y.shape == (500, 1)
    assert residual.std() == pytest.approx(0.1, rel=0.1)


def test_gaussian_mixture_matches_its_parameters():
    X, k = data.gaussian_mixture(n=20000, rng=0)
    assert np.mean(k == 0) == pytest.approx(0.4, abs=0.02)
    np.testing.assert_allclose(X[k == 0].mean(axis=0), [-2.0, 0.0], atol=0.05)
    np.testing.assert_allclose(X[k == 1].std(axis=0), [1.0, 1.0], atol=0.05)
    with pytest.raises(ValueError, match="sum to 1"):
        data.gaussian_mixture(weights=(0.5, 0.6))


def test_digits_are_real_and_scaled():
    X, y = lb.load_digits()
    images, _ = lb.load_digits(flatten=False)
    assert X.shape == (1797, 64) and images.shape == (1797, 1, 8, 8)
    assert X.dtype == np.float32 and 0.0 == X.min() and X.max() == 1.0
    assert sorted(np.unique(y)) == list(range(10))
    assert np.array_equal(images.reshape(1797, 64), X)


def test_train_test_split_partitions_and_stratifies():
    X = np.arange(100)[:, None]
    y = np.repeat([0, 1, 2, 3], 25)
    Xtr, Xte, ytr, yte = lb.train_test_split(X, y, test_size=0.2, rng=0, stratify=True)
    assert len(Xte) == 20 and len(Xtr) == 80
    assert sorted(np.concatenate([Xtr, Xte])[:, 0]) == list(range(100))
    assert np.array_equal(y[Xte[:, 0]], yte)
    assert list(np.bincount(yte)) == [5, 5, 5, 5]
    with pytest.raises(ValueError, match="test_size"):
        lb.train_test_split(X, y, test_size=1.5)


def test_one_hot():
    np.testing.assert_array_equal(lb.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        lb.one_hot(np.array([3]), 3)


def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train, test = 3 + 2 * rng.standard_normal((1000, 4)), 3 + 2 * rng.standard_normal((10, 4))
    train[:, 3] = 7.0  # a constant feature must not divide by zero
    a, b = lb.data.standardize(train, test, eps=0.0 + 1e-3)
    np.testing.assert_allclose(a[:, :3].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(a[:, :3].std(axis=0), 1, rtol=1e-3)
    assert np.isfinite(a).all() and (a[:, 3] == 0).all()
    mu, sd = train.mean(axis=0), train.std(axis=0) + 1e-3
    np.testing.assert_allclose(b, (test - mu) / sd)


def test_digits_match_scikit_learn():
    from sklearn.datasets import load_digits as sk_load_digits

    sk = sk_load_digits()
    X, y = lb.load_digits()
    np.testing.assert_array_equal(X * 16, sk.data)
    np.testing.assert_array_equal(y, sk.target)

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


@pytest.mark.parametrize("n, test_size", [(100, 0.2), (7, 0.3), (1797, 0.25), (2, 0.5)])
def test_plain_split_partitions_keeps_pairs_and_is_reproducible(n, test_size):
    """stratify=False (chapter 1's split): disjoint parts covering every sample once, round(test_size · N) of them
    in the test part, each X row still with its y, the same split for the same rng and another for another."""
    X = np.arange(n)[:, None] * 10
    y = np.arange(n) % 3
    Xtr, Xte, ytr, yte = lb.train_test_split(X, y, test_size=test_size, rng=0)
    assert len(Xte) == round(test_size * n) and len(Xtr) + len(Xte) == n
    assert sorted(np.concatenate([Xtr, Xte])[:, 0] // 10) == list(range(n))  # disjoint and complete
    assert np.array_equal(ytr, (Xtr[:, 0] // 10) % 3) and np.array_equal(yte, (Xte[:, 0] // 10) % 3)
    again = lb.train_test_split(X, y, test_size=test_size, rng=0)
    assert all(np.array_equal(a, b) for a, b in zip((Xtr, Xte, ytr, yte), again, strict=True))
    if n > 10:
        other = lb.train_test_split(X, y, test_size=test_size, rng=1)
        assert not np.array_equal(other[1], Xte)


def test_stratified_split_has_the_exact_test_size_and_every_class_in_both_parts():
    # Was: each class rounded on its own, so 10 classes of 5 with test_size=0.3 gave 20 test samples (0.4), and a
    # class of one sample could land in the test part only.
    y = np.repeat(np.arange(10), 5)
    _, _, ytr, yte = lb.train_test_split(np.zeros((50, 1)), y, test_size=0.3, rng=0, stratify=True)
    assert len(yte) == 15 and len(ytr) == 35
    assert set(np.bincount(yte, minlength=10)) <= {1, 2} and np.bincount(ytr, minlength=10).min() >= 3
    rng = np.random.default_rng(0)
    for _ in range(200):  # random class sizes and test sizes: exact total, quotas kept to within one sample
        counts = rng.integers(2, 60, size=rng.integers(1, 6))
        labels = rng.permutation(np.repeat(np.arange(len(counts)), counts))
        n, test_size = len(labels), float(rng.uniform(0.05, 0.95))
        n_test = round(test_size * n)
        if not len(counts) <= n_test <= n - len(counts):
            continue
        _, _, ytr, yte = lb.train_test_split(labels, labels, test_size, rng=1, stratify=True)
        taken = np.bincount(yte, minlength=len(counts))
        assert len(yte) == n_test and len(ytr) == n - n_test
        assert (taken >= 1).all() and (taken <= counts - 1).all()
        quota = n_test * counts / n
        # within one sample of its quota (two where a class's quota is below 1, or above n_c − 1, and it is
        # bounded: the others make up for it)
        bounded = (quota < 1) | (quota > counts - 1)
        assert (np.abs(taken - quota) < (2 if bounded.any() else 1)).all()


def test_stratified_split_gives_the_remainders_to_the_largest_fractions():
    # 449 test digits of 1797 (test_size=0.25): quotas 449·n_c/1797 rounded down give 444; the five largest
    # fractional parts (digits 9, 3, 7, 8, 0) get one more. The old per-class rounding gave 450.
    _, _, _, yte = lb.train_test_split(*lb.load_digits(), test_size=0.25, rng=0, stratify=True)
    assert list(np.bincount(yte)) == [45, 45, 44, 46, 45, 45, 45, 45, 44, 45]


def test_the_books_stratified_digits_split_is_unchanged():
    # Chapter 7 and benchmarks/end_to_end.py split the digits 80/20, stratified, with rng=0: the per-class rounding
    # already gave the exact 359 test digits, and the exact split takes the very same indices (digest of the old
    # code's test and train indices).
    import hashlib

    X, y = lb.load_digits()
    tr, te, _, yte = lb.train_test_split(np.arange(len(y)), y, test_size=0.2, rng=0, stratify=True)
    assert list(np.bincount(yte)) == [36, 36, 35, 37, 36, 36, 36, 36, 35, 36]
    assert hashlib.sha256(te.astype(np.int64).tobytes() + tr.astype(np.int64).tobytes()).hexdigest()[:16] == \
        "42bfe6e38d3f3656"


@pytest.mark.parametrize("y, test_size, words", [
    (np.array([0] * 9 + [1]), 0.6, ["at least 2 samples", "[1]"]),  # was: class 1 in the test part only
    (np.repeat(np.arange(10), 5), 0.1, ["5 for the test part", "10 classes"]),  # was: "the test part would be empty"
    (np.repeat(np.arange(10), 5), 0.95, ["2 for the train part", "10 classes"]),
    (np.array([0.0, np.nan, np.nan, 1.0] * 2), 0.5, ["NaN"]),
])
def test_stratified_split_refuses_what_it_cannot_split(y, test_size, words):
    with pytest.raises(ValueError) as info:
        lb.train_test_split(np.zeros((len(y), 1)), y, test_size=test_size, stratify=True)
    assert all(word in str(info.value) for word in words), str(info.value)


def test_split_refuses_an_array_for_stratify():
    # scikit-learn's stratify=y: was numpy's "truth value of an array ... is ambiguous"
    y = np.array([0, 0, 1, 1])
    with pytest.raises(TypeError, match=r"stratify must be True or False .* got ndarray"):
        lb.train_test_split(np.zeros((4, 1)), y, 0.5, stratify=y)
    with pytest.raises(TypeError, match="got str"):
        lb.train_test_split(np.zeros((4, 1)), y, 0.5, stratify="yes")


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

"""Losses: gradient checks, agreement with the textbook formulas, stability, bad targets."""

import numpy as np
import pytest

import littlebook as lb
from littlebook.gradcheck import check_loss


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (2, 3, 4)])
def test_mse_gradcheck_and_formula(rng, reduction, shape):
    pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
    loss = lb.MSELoss(reduction)
    value = loss(pred, target)
    expected = np.sum((pred - target) ** 2)
    assert value == pytest.approx(expected if reduction == "sum" else expected / pred.size)
    assert check_loss(loss, pred, target)["pred"] < 1e-6


@pytest.mark.parametrize("shape", [(1,), (6,), (4, 1), (3, 2)])
def test_bce_with_logits_gradcheck_and_formula(rng, shape):
    z = 3 * rng.standard_normal(shape)
    y = (rng.random(shape) > 0.5).astype(float)
    p = 1 / (1 + np.exp(-z))
    naive = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    loss = lb.BCEWithLogitsLoss()
    assert loss(z, y) == pytest.approx(naive, rel=1e-10)
    assert check_loss(loss, z, y)["pred"] < 1e-6


def test_bce_probability_form_gradcheck_and_clipping(rng):
    p = rng.uniform(0.05, 0.95, size=(7,))
    y = (rng.random(7) > 0.5).astype(float)
    loss = lb.BCELoss()
    assert loss(p, y) == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    assert check_loss(loss, p, y)["pred"] < 1e-6
    # The notes' cases: confident and right → 0; confident and wrong → −log(eps), large but finite.
    assert loss(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == pytest.approx(0.0, abs=1e-6)
    wrong = loss(np.array([0.0, 1.0]), np.array([1.0, 0.0]))
    assert wrong == pytest.approx(-np.log(loss.eps), rel=1e-6)
    # Where p is clipped the loss is flat: the gradient is exactly 0 (no signal for the most confident mistake).
    np.testing.assert_array_equal(loss.backward(), [0.0, 0.0])


def test_bce_with_logits_is_stable_for_huge_logits():
    z, y = np.array([1e4, -1e4, 1e4]), np.array([1.0, 0.0, 0.0])
    loss = lb.BCEWithLogitsLoss(reduction="sum")
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert loss(z, y) == pytest.approx(1e4)
        np.testing.assert_allclose(loss.backward(), [0.0, 0.0, 1.0])


@pytest.mark.parametrize("shape", [(1, 2), (5, 4), (3, 6, 5)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_gradcheck_integer_and_one_hot(rng, shape, reduction):
    logits = rng.standard_normal(shape)
    classes = rng.integers(0, shape[-1], size=shape[:-1])
    loss = lb.CrossEntropyLoss(reduction)
    assert check_loss(loss, logits, classes)["pred"] < 1e-6
    onehot = lb.one_hot(classes, shape[-1], dtype=np.float64)
    assert check_loss(loss, logits, onehot)["pred"] < 1e-6
    assert loss(logits, classes) == pytest.approx(loss(logits, onehot))


def test_cross_entropy_matches_the_multiclass_formula(rng):
    logits = rng.standard_normal((4, 3))
    y = lb.one_hot(np.array([0, 2, 1, 2]), 3, dtype=np.float64)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.mean(np.sum(y * np.log(p), axis=1))  # L = −1/N Σ_i Σ_c y_ic log p_ic
    assert lb.CrossEntropyLoss()(logits, y) == pytest.approx(expected)


def test_cross_entropy_gradient_is_softmax_minus_target(rng):
    logits = rng.standard_normal((3, 4))
    y = np.array([1, 0, 3])
    loss = lb.CrossEntropyLoss()
    loss(logits, y)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss.backward(), (p - lb.one_hot(y, 4, np.float64)) / 3)


def test_cross_entropy_is_stable_and_keeps_float32():
    logits = np.array([[1e4, 0.0, -1e4]], dtype=np.float32)
    loss = lb.CrossEntropyLoss()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert loss(logits, np.array([2])) == pytest.approx(2e4)
        grad = loss.backward()
    assert grad.dtype == np.float32


def test_cross_entropy_rejects_bad_targets():
    logits = np.zeros((3, 10))
    with pytest.raises(ValueError, match=r"target class 12 out of range \[0, 10\)"):
        lb.CrossEntropyLoss()(logits, np.array([1, 12, 3]))
    with pytest.raises(ValueError, match="out of range"):
        lb.CrossEntropyLoss()(logits, np.array([-1, 0, 0]))
    with pytest.raises(ValueError, match="must be integers"):
        lb.CrossEntropyLoss()(logits, np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="targets must be classes of shape"):
        lb.CrossEntropyLoss()(logits, np.array([1, 2]))


def test_losses_reject_mismatched_shapes_and_bad_reduction():
    with pytest.raises(ValueError, match=r"MSELoss: prediction has shape \(3, 1\), target has shape \(3,\)"):
        lb.MSELoss()(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="reduction"):
        lb.MSELoss("median")
    with pytest.raises(RuntimeError, match="forward before backward"):
        lb.CrossEntropyLoss().backward()


def test_float16_predictions_are_refused():
    """In float16, 1 − 1e-7 rounds to 1: BCELoss(p = 0.9999, y = 0) gave inf and a NaN gradient."""
    for loss in (lb.BCELoss(), lb.BCEWithLogitsLoss(), lb.MSELoss()):
        with pytest.raises(TypeError, match=r"pred has dtype float16.*astype\(np.float32\)"):
            loss(np.array([0.9999], np.float16), np.array([0.0]))
    with pytest.raises(TypeError, match="pred has dtype float16"):
        lb.CrossEntropyLoss()(np.zeros((2, 3), np.float16), np.array([0, 1]))
    loss = lb.BCELoss()  # float32 handles the same case
    assert np.isfinite(loss(np.array([0.9999], np.float32), np.array([0.0]))) and np.isfinite(loss.backward()).all()

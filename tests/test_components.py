"""Dropout, Flatten, Residual, and all the vision components together: a small CNN trained on real digits."""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits  # installed with scikit-learn

import littlebook as lb

GRAD_TOL = 1e-6


# -- dropout -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_the_expectation(p):
    # y_i = x_i m_i / (1 − p), m_i ~ Bernoulli(1 − p): E[y_i] = x_i and Var[y_i] = x_i² p/(1 − p).
    # Averaged over R independent draws the standard deviation is σ_i = |x_i| √(p/(1 − p)) / √R;
    # we allow 5σ per element (probability of a false failure ≈ 6e-7 each, seeded anyway).
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, size=200)
    draws = 4000
    drop = lb.Dropout(p, rng=1)
    y = drop(np.tile(x, (draws, 1)))  # one forward = `draws` independent masks
    sigma = np.abs(x) * np.sqrt(p / (1 - p)) / np.sqrt(draws)
    assert np.all(np.abs(y.mean(axis=0) - x) < 5 * sigma)
    # The fraction of dropped units is a binomial proportion: p ± 5 √(p(1 − p)/M).
    m = y.size
    assert abs(np.mean(y == 0) - p) < 5 * np.sqrt(p * (1 - p) / m)
    kept = y != 0
    np.testing.assert_allclose(y[kept], np.tile(x, (draws, 1))[kept] / (1 - p))  # survivors scaled by 1/(1 − p)


def test_dropout_backward_uses_the_same_mask():
    rng = np.random.default_rng(2)
    drop = lb.Dropout(0.3, rng=3)
    x = rng.uniform(1.0, 2.0, size=(50, 20))
    y = drop(x)
    g = rng.standard_normal(x.shape)
    np.testing.assert_allclose(drop.backward(g), g * y / x)  # y is linear in x given the mask: ∂y/∂x = y/x


def test_dropout_eval_is_identity_and_p_zero_too():
    x = np.random.default_rng(4).standard_normal((5, 6))
    drop = lb.Dropout(0.5).eval()
    assert drop(x) is x
    np.testing.assert_array_equal(drop.backward(x), x)
    assert lb.Dropout(0.0)(x) is x


def test_dropout_is_reproducible_with_a_seed():
    x = np.ones((10, 10))
    np.testing.assert_array_equal(lb.Dropout(0.5, rng=7)(x), lb.Dropout(0.5, rng=7)(x))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rate_outside_0_1_errors(p):
    with pytest.raises(ValueError, match=r"Dropout: p must lie in \[0, 1\)"):
        lb.Dropout(p)


# -- flatten -------------------------------------------------------------------------------------------------


def test_flatten_round_trip_and_order():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 4, 5))
    flat = lb.Flatten()
    y = flat(x)
    assert y.shape == (2, 60)
    assert y[1, 2 * 20 + 3 * 5 + 4] == x[1, 2, 3, 4]  # C order: index c·H·W + h·W + w, as PyTorch's flatten
    g = rng.standard_normal(y.shape)
    back = flat.backward(g)
    assert back.shape == x.shape
    np.testing.assert_array_equal(back.reshape(2, -1), g)
    np.testing.assert_array_equal(flat.backward(flat(x)), x)  # backward undoes forward exactly
    assert lb.check_module(flat, x)["input"] < GRAD_TOL


def test_flatten_rejects_a_single_axis():
    with pytest.raises(ValueError, match=r"Flatten.*at least 2 axes.*\(5,\)"):
        lb.Flatten()(np.zeros(5))


# -- residual ------------------------------------------------------------------------------------------------


def test_residual_gradient_is_block_gradient_plus_identity():
    rng = np.random.default_rng(6)
    lin = lb.Linear(4, 4, dtype=np.float64, rng=rng)
    res = lb.Residual(lin)
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(res(x), x @ lin.weight.value.T + lin.bias.value + x)
    np.testing.assert_allclose(res.backward(g), g @ lin.weight.value + g)  # F'ᵀg + g


def test_residual_gradcheck_with_a_conv_block_and_a_projection():
    rng = np.random.default_rng(7)
    block = lb.Sequential(lb.Conv2d(2, 2, 3, padding=1, dtype=np.float64, rng=rng), lb.Tanh(),
                          lb.Conv2d(2, 2, 3, padding="same", dtype=np.float64, rng=rng))
    errors = lb.check_module(lb.Residual(block), rng.standard_normal((2, 2, 5, 4)))
    assert max(errors.values()) < GRAD_TOL, errors
    projected = lb.Residual(lb.Sequential(lb.Linear(3, 5, dtype=np.float64, rng=rng), lb.Tanh()),
                            projection=lb.Linear(3, 5, bias=False, dtype=np.float64, rng=rng))
    errors = lb.check_module(projected, rng.standard_normal((4, 3)))
    assert max(errors.values()) < GRAD_TOL, errors


def test_residual_shape_changing_block_errors_clearly():
    res = lb.Residual(lb.Linear(4, 3))
    with pytest.raises(ValueError, match=r"Residual.*\(2, 4\) to \(2, 3\).*projection"):
        res(np.zeros((2, 4), dtype=np.float32))
    conv_res = lb.Residual(lb.Conv2d(1, 1, 3))  # no padding: 6×6 → 4×4
    with pytest.raises(ValueError, match=r"Residual.*\(1, 1, 6, 6\) to \(1, 1, 4, 4\)"):
        conv_res(np.zeros((1, 1, 6, 6), dtype=np.float32))


# -- everything together: a small CNN on the real 8×8 digits -------------------------------------------------


def digits_split():
    X, y = lb.load_digits(flatten=False)
    assert X.shape == (1797, 1, 8, 8)
    return lb.train_test_split(X, y, test_size=0.25, rng=0, stratify=True)


def train_cnn(layers, epochs, capsys):
    X_train, X_test, y_train, y_test = digits_split()
    model = lb.Sequential(*layers)
    optimizer = lb.Adam(model.parameters(), lr=1e-2)
    start = time.perf_counter()
    # One BLAS thread: these matrices are small, and on a shared machine a second BLAS thread waiting for a
    # busy core made this training 5-8× slower (measured; same accuracy).
    with threadpool_limits(limits=1, user_api="blas"):
        lb.fit(model, lb.CrossEntropyLoss(), optimizer, (X_train, y_train), epochs=epochs, batch_size=32, rng=1,
               scheduler=lb.CosineAnnealingLR(optimizer, T_max=epochs), progress=False)
    seconds = time.perf_counter() - start
    _, acc = lb.evaluate(model, lb.CrossEntropyLoss(), X_test, y_test)
    with capsys.disabled():
        print(f"\n  CNN on digits: held-out accuracy {acc:.4f} ({len(X_test)} images), trained in {seconds:.1f} s")
    return acc


def test_small_cnn_learns_digits(capsys):
    rng = np.random.default_rng(0)
    acc = train_cnn([lb.Conv2d(1, 16, 3, padding=1, rng=rng), lb.ReLU(), lb.MaxPool2d(2),
                     lb.Conv2d(16, 32, 3, padding=1, rng=rng), lb.ReLU(), lb.MaxPool2d(2),
                     lb.Flatten(), lb.Linear(32 * 2 * 2, 10, rng=rng)], epochs=15, capsys=capsys)
    assert acc >= 0.98


def test_small_cnn_with_batchnorm_and_dropout_learns_digits(capsys):
    rng = np.random.default_rng(0)
    acc = train_cnn([lb.Conv2d(1, 16, 3, padding=1, rng=rng), lb.BatchNorm2d(16), lb.ReLU(), lb.MaxPool2d(2),
                     lb.Conv2d(16, 32, 3, padding=1, rng=rng), lb.BatchNorm2d(32), lb.ReLU(), lb.MaxPool2d(2),
                     lb.Flatten(), lb.Dropout(0.25, rng=rng), lb.Linear(32 * 2 * 2, 10, rng=rng)],
                    epochs=20, capsys=capsys)
    assert acc >= 0.985

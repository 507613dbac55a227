"""The training loop: learning real digits, reproducibility, divergence and bad data."""

import numpy as np
import pytest

import littlebook as lb
from littlebook.data import load_digits, train_test_split


def digits_split():
    X, y = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, rng=0, stratify=True)
    Xtr, Xte = lb.data.standardize(Xtr, Xte)
    return Xtr, Xte, ytr, yte


def mlp(seed=0):
    return lb.Sequential(lb.Linear(64, 128, rng=seed), lb.ReLU(), lb.Linear(128, 10, rng=seed + 1))


def test_mlp_learns_real_digits():
    Xtr, Xte, ytr, yte = digits_split()
    model = mlp()
    history = lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.05, momentum=0.9),
                     (Xtr, ytr), epochs=20, batch_size=32, val_data=(Xte, yte), rng=0, progress=False,
                     metrics=("accuracy",))
    loss, acc = lb.evaluate(model, lb.CrossEntropyLoss(), Xte, yte)
    assert acc >= 0.97, acc
    assert history.val_acc[-1] == pytest.approx(acc)
    assert len(history.train_loss) == 20 and history.steps == 20 * int(np.ceil(len(Xtr) / 32))
    assert history.train_loss[-1] < history.train_loss[0] / 10


def test_same_seed_gives_bit_identical_training():
    Xtr, _, ytr, _ = digits_split()
    runs = []
    for _ in range(2):
        model = mlp(seed=3)
        h = lb.fit(model, lb.CrossEntropyLoss(), lb.Adam(model.parameters(), lr=1e-3), (Xtr, ytr), epochs=2,
                   rng=42, progress=False)
        runs.append((h.step_loss, model.state_dict()))
    assert runs[0][0] == runs[1][0]
    assert all(np.array_equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])


def test_regression_with_mse():
    X, y = lb.data.regression_1d(n=200, noise=0.05, rng=0)
    model = lb.Sequential(lb.Linear(1, 32, rng=0, dtype=np.float64), lb.Tanh(),
                          lb.Linear(32, 1, rng=1, dtype=np.float64))
    h = lb.fit(model, lb.MSELoss(), lb.Adam(model.parameters(), lr=0.01), (X, y), epochs=200, batch_size=32,
               rng=0, progress=False)
    assert h.train_loss[-1] < 0.02  # noise variance is 0.0025; sin's variance 0.5
    assert h.train_acc == []  # no accuracy for regression


def test_minibatches_cover_the_data_once_and_keep_the_last_batch():
    X, y = np.arange(10)[:, None].astype(np.float32), np.arange(10)
    batches = list(lb.minibatches(X, y, batch_size=4, rng=0))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == list(range(10)) and list(seen) != list(range(10))  # shuffled, complete
    assert all((xb[:, 0] == yb).all() for xb, yb in batches)  # pairs stay together
    again = np.concatenate([b[1] for b in lb.minibatches(X, y, 4, rng=0)])
    assert np.array_equal(seen, again)


@pytest.mark.filterwarnings("error")  # not a wall of numpy overflow warnings
def test_huge_learning_rate_raises_training_diverged():
    Xtr, _, ytr, _ = digits_split()
    model = mlp()
    with pytest.raises(lb.TrainingDiverged,
                       match=r"diverged at step \d+: the loss \S+ exploded .*learning rate = 1000.*lower") as info:
        lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=1e3), (Xtr, ytr), epochs=5,
               rng=0, progress=False)
    err = info.value
    assert err.step >= 1 and err.lr == 1e3 and err.history.diverged_at == err.step
    assert all(np.isfinite(p.value).all() for p in model.parameters())


@pytest.mark.filterwarnings("error")
def test_nan_loss_from_mse_divergence_is_caught():
    X, y = lb.data.regression_1d(n=64, rng=0)
    model = lb.Sequential(lb.Linear(1, 16, rng=0), lb.ReLU(), lb.Linear(16, 1, rng=1))
    with pytest.raises(lb.TrainingDiverged) as info:
        lb.fit(model, lb.MSELoss(), lb.SGD(model.parameters(), lr=50.0), (X, y), epochs=50, progress=False,
               divergence_factor=None)  # only the NaN/inf test: let it really overflow
    assert info.value.history.diverged_at == info.value.step
    assert all(np.isfinite(p.value).all() for p in model.parameters())


class _SetsGrad(lb.Module):
    """Passes x through unchanged; its backward sets its one weight's gradient to ``grad`` (for the guard's tests)."""

    def __init__(self, value, grad, dtype=np.float32):
        self.weight = lb.Parameter(np.full(3, value, dtype=dtype))
        self.grad_value = grad

    def forward(self, x):
        return x

    def backward(self, grad_out, input_grad=True):
        self.weight.grad[...] = self.grad_value
        return grad_out


def _guarded_fit(last):
    X, y = lb.data.regression_1d(n=16, rng=0)
    model = lb.Sequential(lb.Linear(1, 4, rng=0, dtype=np.float64), lb.Linear(4, 1, rng=1), last)
    before = [p.value.copy() for p in model.parameters()]
    with pytest.raises(lb.TrainingDiverged) as info:
        lb.fit(model, lb.MSELoss(), lb.SGD(model.parameters(), lr=1.0), (X, y), epochs=1, batch_size=16,
               progress=False)
    return info.value, before, model.parameters()


def test_a_non_finite_gradient_stops_before_the_update():
    err, before, params = _guarded_fit(_SetsGrad(1.0, np.inf))
    assert err.step == 1 and err.reason == "a gradient is not finite"
    assert all(np.array_equal(p.value, b) for p, b in zip(params, before))  # nothing was updated


def test_an_overflowing_update_is_undone_exactly_in_every_dtype():
    # 3e38 − 1.0 · (−3e38) is inf in float32: the update overflows, though the gradient is finite
    err, before, params = _guarded_fit(_SetsGrad(3e38, -3e38))
    assert err.step == 1 and err.reason == "the update overflowed"
    assert [p.value.dtype for p in params] == [np.float64] * 2 + [np.float32] * 3
    assert all(np.array_equal(p.value, b) for p, b in zip(params, before))  # float64 and float32 restored bit for bit


def test_huge_but_finite_float32_gradients_are_not_called_non_finite():
    # three gradients of 2e38 are each finite, but their float32 total (6e38) overflows: the guard must look closer
    X, y = lb.data.regression_1d(n=16, rng=0)
    last = _SetsGrad(0.0, 2e38)
    model = lb.Sequential(lb.Linear(1, 4, rng=0), lb.Linear(4, 1, rng=1), last)
    assert {p.value.dtype for p in model.parameters()} == {np.dtype(np.float32)}
    history = lb.fit(model, lb.MSELoss(), lb.SGD(model.parameters(), lr=1e-38), (X, y), epochs=1, batch_size=16,
                     progress=False)
    assert history.diverged_at is None and history.steps == 1
    np.testing.assert_allclose(last.weight.value, -2.0, rtol=1e-6)  # the update ran: 0 − 1e-38 · 2e38


def test_bad_data_is_rejected_before_training():
    model = mlp()
    opt = lb.SGD(model.parameters(), lr=0.1)
    X, y = load_digits()
    Xnan = X.copy()
    Xnan[5, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf .*sample 5"):
        lb.fit(model, lb.CrossEntropyLoss(), opt, (Xnan, y), progress=False)
    with pytest.raises(ValueError, match="empty"):
        lb.fit(model, lb.CrossEntropyLoss(), opt, (X[:0], y[:0]), progress=False)
    with pytest.raises(ValueError, match="X has 1797 samples but y has 10"):
        lb.fit(model, lb.CrossEntropyLoss(), opt, (X, y[:10]), progress=False)
    with pytest.raises(ValueError, match="out of range"):
        lb.fit(model, lb.CrossEntropyLoss(), opt, (X, y + 5), progress=False)


def test_callbacks_progress_and_max_steps(capsys):
    Xtr, _, ytr, _ = digits_split()
    model = mlp()
    calls = []
    h = lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.1), (Xtr, ytr), epochs=3,
               batch_size=64, callback=lambda hist: calls.append(hist.steps), callback_every=5, max_steps=23,
               progress=True)
    assert h.steps == 23 and calls == [5, 10, 15, 20]
    assert "23/23" in capsys.readouterr().err  # tqdm's text bar in a terminal


def test_predict_and_evaluate_restore_the_mode():
    model = lb.Sequential(lb.Linear(64, 10), lb.Dropout(0.5))
    X, y = load_digits()
    out = lb.predict(model, X, batch_size=100)
    assert out.shape == (1797, 10) and model.training
    np.testing.assert_allclose(out, lb.predict(model, X), rtol=1e-5, atol=1e-6)  # eval: no dropout noise
    loss, acc = lb.evaluate(model, lb.CrossEntropyLoss(), X, y)
    assert 0 <= acc <= 1 and loss > 0
    assert lb.evaluate(model, lb.MSELoss(), X, lb.one_hot(y, 10))[1] is None


def test_accuracy_binary_and_multiclass():
    assert lb.accuracy(np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([0, 0])) == 0.5
    assert lb.accuracy(np.array([1.5, -0.5, 2.0]), np.array([1.0, 0.0, 0.0])) == pytest.approx(2 / 3)

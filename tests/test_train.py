"""The training loop: learning real digits, reproducibility, divergence and bad data."""

import re

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


class _Recorder(lb.Module):
    """A one-weight model that notes the samples of every batch it is trained on (x holds the sample index)."""

    def __init__(self):
        self.w = lb.Parameter(np.zeros(1))
        self.batches = []

    def forward(self, x):
        if self.training:
            self.batches.append(np.asarray(x)[:, 0].astype(int).tolist())
        return np.zeros((len(x), 1)) + self.w.value

    def backward(self, grad_out, input_grad=True):
        self.w.grad += np.asarray(grad_out).sum(axis=0)
        return None


def test_fit_reshuffles_every_epoch_and_steps_the_scheduler_once_per_epoch():
    X, y = np.arange(12, dtype=np.float64)[:, None], np.zeros((12, 1))
    model = _Recorder()
    opt = lb.SGD(model.parameters(), lr=1.0)
    history = lb.fit(model, lb.MSELoss(), opt, (X, y), epochs=4, batch_size=5, rng=0, progress=False,
                     scheduler=lb.StepLR(opt, step_size=2, gamma=0.5))
    epochs = [sum(model.batches[3 * e:3 * e + 3], []) for e in range(4)]  # 3 batches (5, 5, 2) per epoch
    assert [len(b) for b in model.batches] == [5, 5, 2] * 4
    assert all(sorted(order) == list(range(12)) for order in epochs)  # each epoch sees every sample once
    assert len({tuple(order) for order in epochs}) == 4  # and in a new order every epoch
    assert history.lr == [1.0] * 6 + [0.5] * 6  # StepLR(2, 0.5) halves lr after epoch 2, not before or per step
    assert opt.lr == 0.25  # stepped after each of the 4 epochs


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


def test_accuracy_with_bce_loss_reads_probabilities_at_one_half():
    # BCELoss takes probabilities (a Sigmoid output), always > 0: thresholding them at 0 called every sample class 1
    X, y = lb.data.moons(200, rng=0)
    y = y.astype(np.float32)[:, None]
    model = lb.Sequential(lb.Linear(2, 16, rng=0), lb.ReLU(), lb.Linear(16, 1, rng=1), lb.Sigmoid())
    h = lb.fit(model, lb.BCELoss(), lb.SGD(model.parameters(), lr=0.5), (X, y), epochs=30, batch_size=32,
               val_data=(X, y), progress=False, metrics=("accuracy",))
    p = lb.predict(model, X)
    true_accuracy = float(np.mean((p > 0.5) == (y > 0.5)))
    assert true_accuracy > 0.8  # the old number was 0.5, the fraction of class 1
    assert h.val_acc[-1] == lb.accuracy(p, y, threshold=0.5) == true_accuracy
    assert lb.accuracy(p, y) == 0.5  # the default threshold is for logits: 0


def test_accuracy_checks_its_labels_and_logits():
    assert lb.accuracy([[1.0, 0.0], [0.0, 1.0]], [True, False]) == 0.0  # bools are the classes 1 and 0
    assert lb.accuracy(np.array([[1.0, 0.0]]), np.array([[0.2, 0.8]])) == 0.0  # probability rows: their argmax
    assert lb.accuracy(np.array([2.0, -1.0]), np.array([0.9, 0.4])) == 1.0  # binary target probabilities
    for logits, y, words in [(np.array([5.0, -1.0, 3.0, 2.0]), np.array([2, 0, 1, 3]), "[0, 1]"),
                             (np.eye(2), np.array([5, 7]), "[0, 2)"), (np.eye(2), np.array([-1, 1]), "[0, 2)"),
                             (np.eye(2), np.array([0.7, 1.0]), "integers"),
                             (np.array([[np.nan, 0.0], [0.0, 1.0]]), np.array([0, 1]), "NaN"),
                             (np.eye(2), -np.eye(2), ">= 0")]:
        with pytest.raises(ValueError, match=re.escape(words)):
            lb.accuracy(logits, y)
    with pytest.raises(TypeError, match="y must hold numbers"):
        lb.accuracy(np.eye(2), np.array(["a", "b"]))


def _bn_model():
    return lb.Sequential(lb.Linear(4, 5, rng=0), lb.BatchNorm1d(5), lb.ReLU(), lb.Linear(5, 3, rng=1))


def test_a_step_that_fails_on_its_labels_changes_nothing():
    # the forward pass updates the running statistics before the loss sees label 7 of 3 classes
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 4)).astype(np.float32) + 3, rng.integers(0, 3, 16)
    y[5] = 7
    for run in (lambda m, o: lb.fit(m, lb.CrossEntropyLoss(), o, (X, y), epochs=1, batch_size=16, progress=False),
                lambda m, o: lb.train_step(m, lb.CrossEntropyLoss(), o, X, y)):
        model = _bn_model()
        opt = lb.SGD(model.parameters(), lr=0.1, momentum=0.9)
        before = model.state_dict()
        with pytest.raises(ValueError, match="target class 7"):
            run(model, opt)
        assert all(np.array_equal(v, model.state_dict()[k]) for k, v in before.items())


def test_a_refused_step_leaves_the_running_statistics_of_the_last_good_step():
    X, y = lb.data.blobs(256, rng=0)
    model = lb.Sequential(lb.Linear(2, 16, rng=0), lb.BatchNorm1d(16), lb.ReLU(), lb.Linear(16, 3, rng=1))
    saved = []
    with pytest.raises(lb.TrainingDiverged, match="exploded"):
        lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=50.0), (X * 1e3, y), epochs=50,
               batch_size=32, progress=False, callback=lambda h: saved.append(model.state_dict()), callback_every=1)
    assert all(np.array_equal(v, model.state_dict()[k]) for k, v in saved[-1].items())  # buffers too


@pytest.mark.parametrize("make", [lambda ps: lb.SGD(ps, lr=1e37, momentum=0.9), lambda ps: lb.Adam(ps, lr=1e39)],
                         ids=["SGD momentum", "Adam"])
def test_an_undone_update_also_restores_the_optimizer_state(make):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 4)).astype(np.float32) * 1e3, rng.integers(0, 3, 32)
    model = lb.Linear(4, 3, rng=0)
    opt = make(model.parameters())
    before, state = model.state_dict(), opt.state_dict()
    with pytest.raises(lb.TrainingDiverged, match="update overflowed"):
        lb.fit(model, lb.CrossEntropyLoss(), opt, (X, y), epochs=1, batch_size=32, progress=False)
    assert all(np.array_equal(v, model.state_dict()[k]) for k, v in before.items())
    after = opt.state_dict()  # momentum (or Adam's moments and step count) as before the undone step
    assert after.keys() == state.keys()
    for k in state:
        assert (all(np.array_equal(a, b) for a, b in zip(after[k], state[k], strict=True))
                if isinstance(state[k], list) else after[k] == state[k]), k


def test_predict_and_evaluate_restore_each_modules_own_mode():
    X, y = np.random.default_rng(0).standard_normal((32, 4)), np.arange(32) % 3
    model = lb.Sequential(lb.Linear(4, 8, rng=0), lb.BatchNorm1d(8), lb.ReLU(), lb.Dropout(0.5), lb.Linear(8, 3))
    model.layers[1].eval()  # batch norm frozen while the rest trains
    lb.predict(model, X)
    lb.evaluate(model, lb.CrossEntropyLoss(), X, y)
    assert [m.training for m in model.layers] == [True, False, True, True, True]

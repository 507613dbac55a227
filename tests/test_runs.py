"""littlebook.runs: ``train_curve`` (fit that reports divergence) and ``LiveTrainer`` (fit, a few steps at a time)."""

import math
import pickle
from functools import partial

import numpy as np
import pytest

import littlebook as lb
from littlebook import widgets as W

CE = lb.CrossEntropyLoss


@pytest.fixture(scope="module")
def moons():
    return lb.data.moons(120, noise=0.15, rng=0)


def small_mlp():
    return lb.Sequential(lb.Linear(2, 16, rng=0), lb.Tanh(), lb.Linear(16, 2, rng=1))


# -- train_curve ----------------------------------------------------------------------------------

def test_train_curve_is_fit_with_the_same_seed(moons):
    h = lb.train_curve(small_mlp, CE(), moons, lr=0.3, epochs=3, batch_size=16)
    model = small_mlp()
    direct = lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.3), moons, epochs=3,
                    batch_size=16, rng=0, progress=False)
    np.testing.assert_array_equal(h.step_loss, direct.step_loss)
    assert h.steps == 3 * math.ceil(len(moons[0]) / 16)


def test_the_curve_changes_with_the_learning_rate(moons):
    slow = lb.train_curve(small_mlp, CE(), moons, lr=0.001, epochs=5, batch_size=16)
    fast = lb.train_curve(small_mlp, CE(), moons, lr=0.5, epochs=5, batch_size=16)
    assert slow.step_loss[0] == pytest.approx(fast.step_loss[0])  # same start: same init, same first batch
    assert fast.train_loss[-1] < 0.8 * slow.train_loss[-1]
    # A tiny learning rate barely moves the loss (w changes by η·∇L per step).
    assert abs(slow.train_loss[-1] - slow.train_loss[0]) < 0.05


def test_divergence_is_returned_with_its_step_not_raised(moons):
    h = lb.train_curve(small_mlp, CE(), moons, lr=1e4, epochs=3, batch_size=16)
    assert h.diverged_at is not None
    model = small_mlp()
    with pytest.raises(lb.TrainingDiverged) as err:
        lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=1e4), moons, epochs=3,
               batch_size=16, rng=0, progress=False)
    assert h.diverged_at == err.value.step
    assert W._summary(h, "lr=1e4") == f"lr=1e4: diverged at step {h.diverged_at} — try a lower learning rate"


def test_train_curve_takes_any_loss_and_optimizer_and_records_accuracy_only_when_asked(moons):
    x, y = lb.data.regression_1d(40, rng=0)
    make = lambda: lb.Sequential(lb.Linear(1, 8, rng=0, dtype=np.float64), lb.Tanh(),  # noqa: E731
                                 lb.Linear(8, 1, rng=1, dtype=np.float64))
    h = lb.train_curve(make, lb.MSELoss(), (x, y), lr=0.01, epochs=20, batch_size=8, optimizer=lb.Adam)
    assert not h.train_acc and h.train_loss[-1] < h.train_loss[0]
    plain = lb.train_curve(small_mlp, CE(), moons, lr=0.3, epochs=1, batch_size=16)
    with_acc = lb.train_curve(small_mlp, CE(), moons, lr=0.3, epochs=1, batch_size=16, metrics=("accuracy",))
    assert plain.train_acc == [] and len(with_acc.train_acc) == 1 and plain.step_loss == with_acc.step_loss
    model, history = lb.runs.train_fresh(small_mlp, CE(), moons, lr=0.3, epochs=1, batch_size=16)
    assert history.step_loss == plain.step_loss and isinstance(model, lb.Sequential)


# -- the live trainer -------------------------------------------------------------------------------------

def test_live_trainer_is_fit_step_by_step(moons):
    h = lb.train_curve(small_mlp, CE(), moons, lr=0.3, epochs=3, batch_size=16)
    t = lb.LiveTrainer(small_mlp, CE(), moons, lr=0.3, batch_size=16)
    done = sum(t.step(5) for _ in range(100))  # in ticks of 5 steps, more than the 3 epochs
    assert done == 100 * 5 and t.steps == 500
    np.testing.assert_allclose(t.history.step_loss[:h.steps], h.step_loss, rtol=1e-12)  # same batches, same steps
    np.testing.assert_allclose(t.history.train_loss[:3], h.train_loss, rtol=1e-12)
    assert t.epoch == pytest.approx((62 * 120 + 4 * 16) / 120)  # 8 batches per epoch (the last one of 8)


def test_live_trainer_reset_restores_the_same_initial_weights(moons):
    t = lb.LiveTrainer(small_mlp, CE(), moons, lr=0.3, batch_size=16, optimizer=partial(lb.SGD, momentum=0.9))
    w0 = [p.value.copy() for p in t.model.parameters()]
    first = [t.step() and t.history.step_loss[-1] for _ in range(4)]
    assert any(not np.array_equal(p.value, v) for p, v in zip(t.model.parameters(), w0))
    t.reset()
    assert t.steps == 0 and t.diverged_at is None and t.history.step_loss == []
    for p, v in zip(t.model.parameters(), w0):
        np.testing.assert_array_equal(p.value, v)
    again = [t.step() and t.history.step_loss[-1] for _ in range(4)]
    assert again == first  # same weights, fresh momentum, same batch order


def test_live_trainer_set_lr_applies_from_the_next_step(moons):
    t = lb.LiveTrainer(small_mlp, CE(), moons, lr=0.1, batch_size=16)
    t.step(3)
    before = [p.value.copy() for p in t.model.parameters()]
    t.set_lr(0.5)
    assert t.history.lr == [0.1, 0.1, 0.1]  # nothing retrained or rewritten
    t.step()
    assert t.history.lr == [0.1, 0.1, 0.1, 0.5]
    # the 4th update is 0.5 × the gradient at the 3-step weights: against a twin that takes it at η = 0.2
    ref = lb.LiveTrainer(small_mlp, CE(), moons, lr=0.1, batch_size=16)
    ref.step(3)
    ref.set_lr(0.2)
    ref.step()  # the same batch and gradient
    for p_new, p_old, p_ref in zip(t.model.parameters(), before, ref.model.parameters()):
        np.testing.assert_allclose(p_new.value - p_old, 2.5 * (p_ref.value - p_old), rtol=1e-3, atol=1e-6)


def test_live_trainer_batch_size_change(moons):
    t = lb.LiveTrainer(small_mlp, CE(), moons, lr=0.1, batch_size=16)
    t.step(2)
    t.set_batch_size(60)
    t.step(2)
    assert t.batch_size == 60 and len(t.history.train_loss) == 1  # the cut epoch is one point on the curve
    assert t.epoch == pytest.approx((2 * 16 + 2 * 60) / 120)


def test_live_trainer_divergence_stops_the_run_with_its_step(moons):
    t = lb.LiveTrainer(small_mlp, CE(), moons, lr=0.1, batch_size=16)
    t.step(2)
    t.set_lr(1e4)
    ran = t.step(50)
    assert t.diverged_at is not None and 2 < t.diverged_at <= 52 and ran == t.diverged_at - 1 - 2
    assert t.steps == t.diverged_at - 1 and t.history.diverged_at == t.diverged_at
    assert t.reason and all(np.isfinite(p.value).all() for p in t.model.parameters())  # last finite weights kept
    assert t.step(5) == 0 and t.steps == t.diverged_at - 1  # stopped: more steps do nothing
    h = lb.train_curve(small_mlp, CE(), moons, lr=1e4, epochs=3, batch_size=16)
    t2 = lb.LiveTrainer(small_mlp, CE(), moons, lr=1e4, batch_size=16)
    t2.step(1000)
    assert t2.diverged_at == h.diverged_at  # the same test as fit's




def test_live_trainer_records_accuracy_only_when_asked_and_says_why_it_stopped(moons):
    plain = lb.LiveTrainer(small_mlp, CE(), moons, lr=0.3, batch_size=16)
    counted = lb.LiveTrainer(small_mlp, CE(), moons, lr=0.3, batch_size=16, metrics=("accuracy",))
    plain.step(20)
    counted.step(20)
    assert plain.history.train_acc == [] and len(counted.history.train_acc) == 2  # 8 batches per epoch
    assert plain.history.step_loss == counted.history.step_loss
    assert all(np.isnan(plain.history.step_acc)) and 0 <= min(counted.history.step_acc) <= 1
    exploding = lb.LiveTrainer(small_mlp, CE(), moons, lr=1e4, batch_size=16)
    exploding.step(100)
    model = small_mlp()
    with pytest.raises(lb.TrainingDiverged) as err:
        lb.fit(model, CE(), lb.SGD(model.parameters(), lr=1e4), moons, epochs=5, batch_size=16, rng=0,
               progress=False)
    assert exploding.reason == err.value.reason and "exploded" in exploding.reason  # fit's own test, fit's words


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(divergence_factor=0.5), ValueError, ["divergence_factor", "> 1", "0.5"]),  # used to report step 1 diverged
    (dict(divergence_factor="big"), TypeError, ["divergence_factor", "'big'"]),
    (dict(data="X only"), TypeError, ["data", "pair (X, y)"]),
    (dict(data=(np.ones((4, 2)), np.zeros(3, np.int64))), ValueError, ["X has 4 samples but y has 3"]),
    (dict(make_model=lambda: 3), TypeError, ["make_model()", "Module", "int"]),
    (dict(optimizer=lambda params, lr: lb.SGD(small_mlp().parameters(), lr=lr)), ValueError, ["none of the model"]),
], ids=["factor 0.5", "factor 'big'", "data not a pair", "lengths differ", "model not a Module", "other model"])
def test_live_trainer_makes_the_checks_fit_makes(moons, kwargs, error, words):
    args = dict(make_model=small_mlp, loss_fn=CE(), data=moons)
    args.update(kwargs)
    with pytest.raises(error) as info:
        lb.LiveTrainer(args.pop("make_model"), args.pop("loss_fn"), args.pop("data"), **args)
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"


def test_live_trainer_reads_probabilities_at_one_half_with_bce_loss(moons):
    X, y = moons
    t = lb.LiveTrainer(lambda: lb.Sequential(small_mlp(), lb.Linear(2, 1, rng=2), lb.Sigmoid()), lb.BCELoss(),
                       (X, y.astype(np.float64)[:, None]), lr=0.5, batch_size=16, metrics=("accuracy",))
    t.step(40)
    assert t.history.train_acc[-1] > 0.75  # thresholded at 0 (as logits), it was the fraction of class 1


def test_a_live_step_on_a_bad_batch_leaves_the_run_where_it_was():
    # The failing batch used to be used up: the next step trained on the batch after it, and a retry ended the epoch.
    X, y = np.random.default_rng(0).standard_normal((8, 4)), np.array([0, 1, 2, 0, 1, 2, 0, 7])
    trainer = lb.LiveTrainer(lambda: lb.Linear(4, 3, rng=0, dtype=np.float64), CE(), (X, y), batch_size=4, rng=None)
    assert trainer.step(1) == 1  # the first batch (of seed 0's order) holds no class 7
    weights, history = trainer.model.weight.value.copy(), pickle.dumps(trainer.history)
    for _ in range(3):
        with pytest.raises(ValueError, match="target class 7"):
            trainer.step(1)
    np.testing.assert_array_equal(trainer.model.weight.value, weights)
    assert pickle.dumps(trainer.history) == history and trainer.steps == 1 and trainer.epoch == 0.5

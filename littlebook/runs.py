"""Training runs for the explorers: a whole run that reports divergence instead of raising, and a run that a Play
button advances a few steps at a time.

Both are ``fit``'s loop, not a second one: ``train_fresh`` calls ``fit``; ``LiveTrainer.step`` calls the same
guarded ``train_step`` as ``fit`` (the same divergence test before each update, the same undo of an update that
overflows) on the same batches (``minibatches`` with the same ``rng``), so a live run is ``fit`` step for step.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from .functional import as_rng, check_float, check_int
from .losses import Loss
from .optim import SGD
from .train import (
    History,
    TrainingDiverged,
    _as_pair,
    _check_accuracy_labels,
    _check_data,
    _check_divergence_factor,
    _check_loss,
    _check_optimizer,
    _check_trainable,
    _DivergenceGuard,
    accuracy,
    binary_threshold,
    fit,
    minibatches,
    use_accuracy,
)

__all__ = ["train_fresh", "train_curve", "LiveTrainer"]


def _check_run(owner: str, make_model, loss_fn, optimizer) -> None:
    if not callable(make_model):
        raise TypeError(f"{owner}: make_model must be a function that builds a fresh model, got {make_model!r}")
    _check_loss(owner, loss_fn)
    if not callable(optimizer):
        raise TypeError(f"{owner}: optimizer must be callable(params, lr=...), e.g. lb.SGD or "
                        f"functools.partial(lb.SGD, momentum=0.9), got {optimizer!r}")


def train_fresh(make_model: Callable[[], object], loss_fn: Loss, data, lr: float, *, optimizer=SGD,
                epochs: int = 5, batch_size: int = 32, val_data=None, rng=0, metrics=()):
    """Train a fresh ``make_model()`` by ``fit`` with ``optimizer(params, lr=lr)``; return (model, History).

    Never raises ``TrainingDiverged``: the history up to the failing step comes back with ``diverged_at`` set (and
    the model keeps its last finite weights). The same ``rng`` gives the same batches, so runs compare.
    """
    _check_run("train_fresh", make_model, loss_fn, optimizer)
    model = make_model()
    try:
        history = fit(model, loss_fn, optimizer(model.parameters(), lr=lr), data, epochs=epochs,
                      batch_size=batch_size, val_data=val_data, rng=rng, progress=False, metrics=metrics)
    except TrainingDiverged as err:
        history = err.history
    return model, history


def train_curve(make_model: Callable[[], object], loss_fn: Loss, data, lr: float, **options) -> History:
    """The History of ``train_fresh(make_model, loss_fn, data, lr, **options)``: a learning curve that reports
    divergence (``diverged_at``) instead of raising, e.g. to compare learning rates in a loop."""
    return train_fresh(make_model, loss_fn, data, lr, **options)[1]


class LiveTrainer:
    """One model trained ``step(n)`` steps at a time, so that a Play button can advance it tick by tick.

    ``set_lr`` and ``set_batch_size`` apply from the next step; ``reset()`` goes back to the same initial weights,
    a fresh optimizer and the same batch order. A diverged run stops: ``diverged_at`` is the step, ``reason`` why.
    ``history`` is a ``train.History`` (per step, and per completed epoch), so the plots of ``fit`` apply.
    """

    def __init__(self, make_model: Callable[[], object], loss_fn: Loss, data, lr: float = 0.1, batch_size: int = 32,
                 *, optimizer=SGD, rng=0, metrics=(), divergence_factor: float | None = 1e4):
        # The checks fit makes, all before the first step (a Play button would report them much later).
        _check_run("LiveTrainer", make_model, loss_fn, optimizer)
        check_float("LiveTrainer", "lr", lr, low=0.0, low_open=True)
        check_int("LiveTrainer", "batch_size", batch_size)
        self.X, self.y = _as_pair(data, "LiveTrainer", "data")
        _check_data(self.X, self.y, "LiveTrainer")
        _check_divergence_factor("LiveTrainer", divergence_factor)
        self._initial = make_model()  # never trained: every reset copies it
        _check_trainable("LiveTrainer", self._initial, "the model from make_model()")
        self.loss_fn, self.make_optimizer = loss_fn, optimizer
        self.use_accuracy = use_accuracy(metrics, "LiveTrainer")
        if self.use_accuracy:
            _check_accuracy_labels("LiveTrainer", self._initial, loss_fn, {"data": (self.X, self.y)})
        self.seed, self.divergence_factor = rng, divergence_factor
        self.lr, self.batch_size = float(lr), int(batch_size)
        self.reset()
        _check_optimizer("LiveTrainer", self.model, self.optimizer)

    def reset(self) -> None:
        """Back to step 0: the initial weights, a fresh optimizer (no momentum yet), the first batch order."""
        self.model = copy.deepcopy(self._initial)
        self.model.train()
        self.optimizer = self.make_optimizer(self.model.parameters(), lr=self.lr)
        self.history = History()
        self.guard = _DivergenceGuard(self.model, self.optimizer, self.history, self.divergence_factor)
        self.rng, self._batches, self._pending = as_rng(self.seed), None, None
        self.diverged_at: int | None = None
        self.reason: str | None = None
        self._epoch = [0.0, 0.0, 0]  # Σ loss·n, Σ accuracy·n, n over the current epoch
        self._samples = 0

    def set_lr(self, lr: float) -> None:
        check_float("LiveTrainer.set_lr", "lr", lr, low=0.0, low_open=True)
        self.lr = self.optimizer.lr = float(lr)  # read by optimizer.step(): applies from the next step

    def set_batch_size(self, batch_size: int) -> None:
        """Applies from the next step: the rest of this epoch is cut into batches of the new size."""
        check_int("LiveTrainer.set_batch_size", "batch_size", batch_size)
        if int(batch_size) != self.batch_size:
            self.batch_size, self._batches, self._pending = int(batch_size), None, None
            self._end_epoch()  # a new pass over the data (one more epoch point on the curve)

    @property
    def steps(self) -> int:
        return self.history.steps

    @property
    def epoch(self) -> float:
        """Passes over the training data so far (fractional)."""
        return self._samples / len(self.X)

    def step(self, n: int = 1) -> int:
        """Run up to ``n`` steps; return how many ran (fewer if the run diverged, 0 once it has)."""
        done = 0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            while done < n and self.diverged_at is None:
                xb, yb, new_epoch = self._next_batch()
                try:
                    loss, out = self.guard.train_step(self.model, self.loss_fn, self.optimizer, xb, yb, self.steps + 1)
                except TrainingDiverged as err:
                    self.diverged_at, self.reason = err.step, err.reason
                    break
                acc = accuracy(out, yb, binary_threshold(self.loss_fn)) if self.use_accuracy else float("nan")
                self._pending = None  # the batch is used up only now that its step succeeded
                if new_epoch:
                    self._end_epoch()
                self._record(loss, acc, len(xb))
                done += 1
        return done

    def recent_loss(self, k: int = 10) -> float | None:
        """Mean loss of the last ``k`` steps (one mini-batch is noisy), None before the first step."""
        losses = self.history.step_loss[-k:]
        return float(np.mean(losses)) if losses else None

    def _record(self, loss: float, acc: float, n: int) -> None:
        h = self.history
        h.step_loss.append(loss)
        h.step_acc.append(acc)
        h.lr.append(self.lr)
        self._epoch = [self._epoch[0] + loss * n, self._epoch[1] + acc * n, self._epoch[2] + n]
        self._samples += n

    def _end_epoch(self) -> None:
        total_loss, total_acc, seen = self._epoch
        if seen:
            self.history.train_loss.append(total_loss / seen)
            if self.use_accuracy:
                self.history.train_acc.append(total_acc / seen)
            self.history.epoch_end.append(self.history.steps)
        self._epoch = [0.0, 0.0, 0]

    def _next_batch(self):
        """(xb, yb, whether an epoch ended before it). The same batch comes back until a step on it succeeds: a step
        that raises (class 7 of 3 in this batch) must neither skip it, as if it had been trained on, nor end the
        epoch; the next step tries it again (and raises again)."""
        if self._pending is not None:
            return self._pending
        new_epoch = False
        for _ in range(2):
            if self._batches is None:
                self._batches = minibatches(self.X, self.y, self.batch_size, self.rng)
            try:
                self._pending = (*next(self._batches), new_epoch)
                return self._pending
            except StopIteration:
                self._batches, new_epoch = None, True
        raise RuntimeError("LiveTrainer: the training data is empty")

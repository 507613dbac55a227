"""The training loop: ``train_step`` (forward → loss → backward → optimizer step) over mini-batches, with a History.

``fit`` stops with ``TrainingDiverged`` as soon as the loss or a gradient stops being finite, or the
loss explodes to ``divergence_factor`` (10⁴) times its first value, *before* applying the update; and
if an update itself overflows, it is undone (the parameters and the optimizer's momentum or moments). Either way
the model keeps its last finite parameters, and a refused or failed step leaves the buffers (batch norm's running
statistics) as they were.
(The factor matters for cross-entropy on logits: log-sum-exp keeps that loss finite even when the
weights blow up.)
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .functional import as_float_array, as_rng, check_bool, check_float, check_int
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Loss
from .nn import Module

__all__ = ["TrainingDiverged", "History", "minibatches", "accuracy", "train_step", "fit", "evaluate", "predict",
           "layer_grad_norms"]


class TrainingDiverged(RuntimeError):
    """Raised when the loss or the gradients become NaN or infinite (or the loss explodes) during ``fit``."""

    def __init__(self, step: int, loss: float, lr: float, history: History | None = None, reason: str | None = None):
        self.step, self.loss, self.lr, self.history = step, loss, lr, history
        self.reason = reason or f"the loss is {loss}"  # what the guard saw, e.g. "a gradient is not finite"
        super().__init__(
            f"training diverged at step {step}: {self.reason}, at learning rate = {lr:g}; "
            f"try a lower learning rate (e.g. {lr / 10:g})"
        )


@dataclass
class History:
    """What ``fit`` recorded: per step (train batch) and per epoch (train and validation)."""

    step_loss: list[float] = field(default_factory=list)
    step_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    epoch_end: list[int] = field(default_factory=list)  # step count at the end of each epoch (for plots)
    seconds: float = 0.0
    diverged_at: int | None = None

    @property
    def steps(self) -> int:
        return len(self.step_loss)

    def __repr__(self) -> str:
        parts = [f"{len(self.train_loss)} epochs, {self.steps} steps, {self.seconds:.1f}s"]
        for name in ("train_loss", "train_acc", "val_loss", "val_acc"):
            values = getattr(self, name)
            if values:
                parts.append(f"{name}={values[-1]:.4f}")
        if self.diverged_at is not None:
            parts.append(f"diverged at step {self.diverged_at}")
        return "History(" + ", ".join(parts) + ")"


def _as_pair(data, what: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``data`` = (X, y) as two arrays; a clear TypeError for anything else (e.g. X alone)."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        got = f"an array of shape {np.shape(data)}" if isinstance(data, np.ndarray) else type(data).__name__
        raise TypeError(f"{what}: {name} must be a pair (X, y), got {got}")
    X, y = (a if isinstance(a, np.ndarray) else np.asarray(a) for a in data)
    for array, label in ((X, "X"), (y, "y")):
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{what}: {name} {label} must hold numbers, got dtype {array.dtype}")
    return X, y


def _check_data(X: np.ndarray, y: np.ndarray, what: str) -> None:
    if np.ndim(X) == 0 or np.ndim(y) == 0:
        raise ValueError(f"{what}: X and y must be arrays with one row per sample, got shapes {np.shape(X)} "
                         f"and {np.shape(y)}")
    if len(X) == 0:
        raise ValueError(f"{what}: the data set is empty")
    if len(X) != len(y):
        raise ValueError(f"{what}: X has {len(X)} samples but y has {len(y)}")
    if np.issubdtype(np.asarray(X).dtype, np.floating) and not np.isfinite(X).all():
        bad = int(np.argwhere(~np.isfinite(np.asarray(X).reshape(len(X), -1)))[0, 0])
        raise ValueError(f"{what}: X contains NaN or inf (first at sample {bad}); clean the data first")
    if np.issubdtype(np.asarray(y).dtype, np.floating) and not np.isfinite(y).all():
        raise ValueError(f"{what}: y contains NaN or inf; clean the data first")


def minibatches(X: np.ndarray, y: np.ndarray, batch_size: int, rng=None, shuffle: bool = True
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (X_b, y_b) batches covering the data once; shuffled by ``rng``; the last, smaller batch is kept."""
    check_int("minibatches", "batch_size", batch_size)
    check_bool("minibatches", "shuffle", shuffle)
    X, y = _as_pair((X, y), "minibatches", "(X, y)")
    _check_data(X, y, "minibatches")
    n = len(X)
    order = as_rng(rng).permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]


def accuracy(logits: np.ndarray, y: np.ndarray, threshold: float = 0.0) -> float:
    """Fraction of correct predictions: argmax for (N, C) logits; an (N,) or (N, 1) binary output predicts class 1
    above ``threshold``: 0 for logits (BCEWithLogitsLoss), 0.5 for probabilities (a Sigmoid output, BCELoss).

    y holds what the matching loss takes: for (N, C) logits, classes in [0, C) of shape (N,) or one-hot /
    probability rows (N, C); for a binary output, one target in [0, 1] per output (0/1 labels; a probability
    counts as class 1 above 0.5).
    """
    logits, y = as_float_array(logits, "accuracy", "logits"), np.asarray(y)
    check_float("accuracy", "threshold", threshold)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"accuracy: y must hold numbers (class labels or targets), got dtype {y.dtype}")
    if logits.size == 0:
        raise ValueError(f"accuracy: logits are empty (shape {logits.shape}); an accuracy over no samples is undefined")
    if not np.isfinite(logits).all():  # argmax would take a NaN for the largest logit
        raise ValueError("accuracy: logits contain NaN or inf; a prediction needs finite logits")
    multiclass = logits.ndim >= 2 and logits.shape[-1] > 1
    binary_ok = y.size == logits.size and y.ndim <= 2 and logits.ndim <= 2 and len(y) == len(logits)  # (N,) or (N, 1)
    if (multiclass and y.shape not in (logits.shape, logits.shape[:-1])) or (not multiclass and not binary_ok):
        wanted = f"{logits.shape[:-1]} (classes) or {logits.shape} (one-hot)" if multiclass else f"{logits.size} values"
        raise ValueError(f"accuracy: logits have shape {logits.shape}, so y must have shape {wanted}, got {y.shape}")
    if not multiclass:
        if not np.all((y >= 0) & (y <= 1)):  # NaN fails too; labels of more classes need (N, C) logits
            raise ValueError(f"accuracy: binary targets y must lie in [0, 1] (the logits, of shape {logits.shape}, "
                             f"are one binary output per sample), got {y[~((y >= 0) & (y <= 1))].flat[0]}")
        return float(np.mean((logits > threshold).reshape(y.shape) == (y > 0.5)))
    num_classes = logits.shape[-1]
    if y.shape == logits.shape:  # one-hot or probability rows: the class is the largest entry
        if not np.all((y >= 0) & np.isfinite(y)):
            raise ValueError(f"accuracy: one-hot / probability rows y must be finite and >= 0, "
                             f"got {y[~((y >= 0) & np.isfinite(y))].flat[0]}")
        y = y.argmax(axis=-1)
    elif y.dtype.kind == "f":
        raise ValueError(f"accuracy: class labels y must be integers, got dtype {y.dtype}")
    elif y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"accuracy: class labels y must lie in [0, {num_classes}) (the logits have {num_classes} "
                         f"classes), got {y[(y < 0) | (y >= num_classes)].flat[0]}")
    return float(np.mean(logits.argmax(axis=-1) == y))


def predict(model, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Model outputs for X in eval mode, ``batch_size`` samples at a time; every module's mode is restored (a
    batch norm you froze with ``eval()`` inside a model in training mode stays frozen).

    Batches bound the memory: a conv layer's patch matrix has C_in·K·K rows and N·H·W columns, 113 MB for
    Conv2d(16, 32, 3) on 1000 MNIST-sized 14×14 maps. Arrays that large are mapped fresh from the kernel at every
    call (page faults) and miss every cache: on 10,000 images the MNIST CNN of ``benchmarks/mnist.py`` took
    1.1 s at 256 per batch against 1.5–3.1 s at 1024 (an MLP is as fast at either).
    """
    _check_module("predict", model)
    check_int("predict", "batch_size", batch_size)
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    if X.ndim == 0 or len(X) == 0:
        raise ValueError(f"predict: X must hold at least one sample, got shape {X.shape}")
    modes = [(m, m.training) for m in model.modules()]  # each module's own: model.train() would set them all
    model.eval()
    try:
        return np.concatenate([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
    finally:
        for m, training in modes:
            m.training = training


def evaluate(model, loss_fn: Loss, X: np.ndarray, y: np.ndarray, batch_size: int = 256) -> tuple[float, float | None]:
    """(mean loss, accuracy) on (X, y) in eval mode; accuracy is None for non-classification losses."""
    _check_module("evaluate", model)
    _check_loss("evaluate", loss_fn)
    X, y = _as_pair((X, y), "evaluate", "(X, y)")
    _check_data(X, y, "evaluate")
    out = predict(model, X, batch_size)
    loss = float(loss_fn(out, y))
    acc = accuracy(out, y) if isinstance(loss_fn, (CrossEntropyLoss, BCEWithLogitsLoss)) else None
    return loss, acc


def train_step(model, loss_fn: Loss, optimizer, xb: np.ndarray, yb: np.ndarray, guard=None) -> float:
    """One step of mini-batch gradient descent on (xb, yb), the five lines the book teaches; returns the loss.

    A step that raises changes nothing: the forward pass updates the model's buffers (batch norm's running
    statistics) and draws dropout's masks before the loss checks the labels (label 7 of 3 classes), so the
    buffers and the random generators are put back. ``guard`` (``fit``'s divergence guard) checks the step just
    before and just after the update, and may refuse it.
    ``input_grad=False``: the data needs no gradient, so the first layer may skip computing ∂L/∂x.

    The optimizer must hold at least one of the model's parameters (the same objects): one built on another model
    (``SGD(other.parameters())``) would silently update that model and leave this one untrained, so it is refused
    with a ValueError before anything runs. A subset is fine, as in PyTorch: parameters the optimizer does not
    hold get gradients but are not updated (frozen).
    """
    if guard is None:  # fit checked it once before its first step
        _check_optimizer_params("train_step", model, optimizer)
    with _put_back(*(_step_state(model) if guard is None else guard.state)):
        out = model(xb)                                       # forward
        loss = loss_fn(out, yb)                               # loss
        optimizer.zero_grad()                                 # gradients accumulate: clear last step's
        model.backward(loss_fn.backward(), input_grad=False)  # backward: every param.grad = ∂L/∂param
        if guard is not None:
            guard.before_update(loss, out)                    # fit: refuse a diverged step before applying it
        optimizer.step()                                      # update: w ← w − η ∂L/∂w (or momentum, Adam, ...)
        if guard is not None:
            guard.after_update(loss)                          # fit: undo an update that overflowed
    return loss


def _step_state(model) -> tuple[list[tuple[Module, str]], list[np.random.Generator]]:
    """What a forward pass changes besides caches: (module, name) of every buffer (batch norm's running_mean and
    running_var) and every module's random generator (dropout's ``rng``, which each training forward advances)."""
    if not isinstance(model, Module):
        return [], []
    modules = list(model.modules())  # an iterator, as in PyTorch: walked twice here
    slots = [(m, name) for m in modules for name in m.buffer_names]
    generators = [m.rng for m in modules if isinstance(getattr(m, "rng", None), np.random.Generator)]
    return slots, generators


@contextmanager
def _put_back(slots: list[tuple[Module, str]], generators: list[np.random.Generator], always: bool = False):
    """Runs the block; if it raises (or, with ``always``, in any case), every buffer and generator is put back as
    it was (buffers in place: forward updates them in place). Rewinding the generators means the step that follows
    draws the masks it would have."""
    saved = [np.array(getattr(m, name)) for m, name in slots]  # copies of per-channel vectors: small
    streams = [g.bit_generator.state for g in generators]      # a small dict each
    ok = False
    try:
        yield
        ok = True
    finally:
        if always or not ok:
            for (m, name), value in zip(slots, saved, strict=True):
                getattr(m, name)[...] = value
            for g, state in zip(generators, streams, strict=True):
                g.bit_generator.state = state


def layer_grad_norms(model, loss_fn: Loss, X: np.ndarray, y: np.ndarray) -> tuple[list[str], np.ndarray]:
    """‖∂L/∂W‖ of every weight matrix/filter (first layer first) after one forward and backward on (X, y).

    Shows vanishing gradients: in a deep plain network the early layers' norms are orders of magnitude
    smaller than the last layers'. Clears the gradients before and after; the forward pass's changes to the
    buffers (batch norm's running statistics) and random generators (dropout) are put back: a diagnostic that
    trains nothing leaves the model as it was.
    """
    with _put_back(*_step_state(model), always=True):
        try:
            model.zero_grad()
            loss_fn(model(X), y)
            model.backward(loss_fn.backward())
            named = [(name, p) for name, p in model.named_parameters() if p.value.ndim >= 2]
            norms = np.array([float(np.linalg.norm(p.grad)) for _, p in named])
        finally:
            model.zero_grad()
    return [name for name, _ in named], norms


# -- the pieces of fit ---------------------------------------------------------------------------------------------
def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm  # widget bar in Jupyter, text bar in a terminal

    return tqdm(total=total, unit="step", leave=True, mininterval=0.2)


class _DivergenceGuard:
    """Refuses a step whose loss or gradient is not finite, or whose loss exceeds ``factor`` × max(first loss, 1),
    before the update; undoes an update that overflows: the parameters and the optimizer's state (momentum, Adam's
    moments and step count) from copies made just before it. Either way ``train_step`` puts the buffers and the
    random generators back, so a refused step leaves no trace."""

    def __init__(self, model, optimizer, history: History, factor: float | None):
        self.optimizer, self.history, self.factor = optimizer, history, factor
        self.params = params = model.parameters()
        self.state = _step_state(model)  # listed once: walking a deep model's modules costs more than the checks
        # Every tensor in one flat buffer: one numpy call per check instead of one per tensor, which for the
        # chapters' many small tensors is most of the cost (measured on a 32-layer residual stack, 134 tensors:
        # 529 → 111 µs per step). The widest dtype, so that no value is rounded or overflows on the way in.
        dtype = np.result_type(*(p.value.dtype for p in params)) if params else np.float32
        self.backup = np.empty(sum(p.value.size for p in params), dtype=dtype)  # the values before the update
        self.scratch = np.empty_like(self.backup)
        self.optimizer_state = None  # optimizer.state_dict() before the update (an optimizer of your own may lack it)
        self.limit = math.inf
        self.start = time.perf_counter()
        self.step, self.out = 0, None  # the step being checked, and the model's output at it

    def diverged(self, loss: float, reason: str) -> TrainingDiverged:
        self.history.diverged_at = self.step
        self.history.seconds = time.perf_counter() - self.start
        return TrainingDiverged(self.step, loss, self.optimizer.lr, self.history, reason)

    def before_update(self, loss: float, out) -> None:
        if self.step == 1 and self.factor is not None and math.isfinite(loss):
            self.limit = self.factor * max(loss, 1.0)
        if not math.isfinite(loss):
            raise self.diverged(loss, f"the loss is {loss}")
        if loss > self.limit:
            raise self.diverged(loss, f"the loss {loss:.3g} exploded (> {self.factor:g} × max(first loss, 1))")
        if not self._all_finite([p.grad for p in self.params]):
            raise self.diverged(loss, "a gradient is not finite")
        if self.params:
            np.concatenate([p.value for p in self.params], axis=None, out=self.backup)
        if hasattr(self.optimizer, "state_dict"):
            self.optimizer_state = self.optimizer.state_dict()
        self.out = out

    def after_update(self, loss: float) -> None:
        if not self._all_finite([p.value for p in self.params]):
            start = 0
            for p in self.params:  # the update overflowed: undo it
                p.value[...] = self.backup[start:start + p.value.size].reshape(p.value.shape)
                start += p.value.size
            if self.optimizer_state is not None:
                self.optimizer.load_state_dict(self.optimizer_state)
            raise self.diverged(loss, "the update overflowed")

    def _all_finite(self, arrays: list) -> bool:
        """True if no entry is NaN or ±inf.

        A NaN or ±inf entry makes the sum NaN or ±inf, so a finite sum proves every entry finite in one fast pass.
        A non-finite sum can also come from finite entries whose total overflows (float32 passes 3.4e38 early), so
        only then is every entry checked on its own: no false alarm, and the slow check runs once, at the end."""
        if not arrays:
            return True
        flat = np.concatenate(arrays, axis=None, out=self.scratch)
        return math.isfinite(float(flat.sum())) or bool(np.isfinite(flat).all())

    def train_step(self, model, loss_fn: Loss, optimizer, xb: np.ndarray, yb: np.ndarray, step: int):
        """``train_step`` with the checks around the update; returns (loss, the model's output)."""
        self.step = step
        loss = train_step(model, loss_fn, optimizer, xb, yb, guard=self)
        return loss, self.out


@dataclass
class _Run:
    """What one call of ``fit`` trains, and with what (so that the pieces of the loop take one argument)."""

    model: Module
    loss_fn: Loss
    optimizer: object
    history: History
    guard: _DivergenceGuard
    use_accuracy: bool
    bar: object = None
    callback: Callable[[History], None] | None = None
    callback_every: int | None = None
    max_steps: int | None = None

    def done(self) -> bool:
        return self.max_steps is not None and self.history.steps >= self.max_steps


def _train_epoch(run: _Run, batches) -> tuple[float, float, int]:
    """Steps over one epoch's batches; returns (Σ loss·n, Σ accuracy·n, n) for the epoch's means."""
    total_loss, total_correct, seen = 0.0, 0.0, 0
    history = run.history
    for xb, yb in batches:
        step = history.steps + 1
        loss, out = run.guard.train_step(run.model, run.loss_fn, run.optimizer, xb, yb, step)
        acc = accuracy(out, yb, binary_threshold(run.loss_fn)) if run.use_accuracy else float("nan")
        history.step_loss.append(loss)
        history.step_acc.append(acc)
        history.lr.append(run.optimizer.lr)
        total_loss, total_correct, seen = total_loss + loss * len(xb), total_correct + acc * len(xb), seen + len(xb)
        _show_step(run, loss, acc)
        if run.callback is not None and run.callback_every and step % run.callback_every == 0:
            run.callback(history)
        if run.done():
            break
    return total_loss, total_correct, seen


def _show_step(run: _Run, loss: float, acc: float) -> None:
    if run.bar is not None:
        run.bar.update(1)
        extra = {"acc": f"{acc:.3f}"} if run.use_accuracy else {}
        run.bar.set_postfix(loss=f"{loss:.4f}", **extra, refresh=False)


def _validate(run: _Run, val_data) -> None:
    """Loss (and accuracy) on the validation data in eval mode, recorded in the history and shown on the bar."""
    X_val, y_val = val_data
    out = predict(run.model, X_val)
    val_loss = float(run.loss_fn(out, y_val))
    val_acc = accuracy(out, y_val, binary_threshold(run.loss_fn)) if run.use_accuracy else None
    run.history.val_loss.append(val_loss)
    if val_acc is not None:
        run.history.val_acc.append(val_acc)
    if run.bar is not None:
        run.bar.set_postfix(loss=f"{run.history.train_loss[-1]:.4f}", val_loss=f"{val_loss:.4f}",
                            **({"val_acc": f"{val_acc:.3f}"} if val_acc is not None else {}))


def _end_epoch(run: _Run, sums: tuple[float, float, int], val_data, scheduler) -> None:
    total_loss, total_correct, seen = sums
    run.history.train_loss.append(total_loss / seen)
    run.history.epoch_end.append(run.history.steps)
    if run.use_accuracy:
        run.history.train_acc.append(total_correct / seen)
    if val_data is not None:
        _validate(run, val_data)
    if scheduler is not None:
        scheduler.step()
    if run.callback is not None and not run.callback_every:
        run.callback(run.history)


METRICS = ("accuracy",)


def _check_module(owner: str, model, name: str = "model") -> None:
    if not isinstance(model, Module):
        raise TypeError(f"{owner}: {name} must be a littlebook Module, got {type(model).__name__}")


def _check_loss(owner: str, loss_fn) -> None:
    if not isinstance(loss_fn, Loss):
        raise TypeError(f"{owner}: loss_fn must be a littlebook Loss (e.g. lb.CrossEntropyLoss()), got {loss_fn!r}")


def _check_trainable(owner: str, model, name: str = "model") -> None:
    """A Module whose backward takes ``input_grad`` (train_step passes input_grad=False)."""
    _check_module(owner, model, name)
    params = inspect.signature(model.backward).parameters
    if "input_grad" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise TypeError(f"{owner}: {type(model).__name__}.backward must accept input_grad (the Module contract: "
                        f"backward(grad_out, input_grad=True)); train_step passes input_grad=False")


def _check_optimizer(owner: str, model, optimizer, scheduler=None) -> None:
    if not all(hasattr(optimizer, a) for a in ("step", "zero_grad", "lr")):
        raise TypeError(f"{owner}: optimizer must be an optimizer such as SGD(model.parameters()), got {optimizer!r}")
    _check_optimizer_params(owner, model, optimizer)
    if scheduler is not None and getattr(scheduler, "optimizer", optimizer) is not optimizer:
        raise ValueError(f"{owner}: the scheduler controls another optimizer than the one given to fit")
    if scheduler is not None and not hasattr(scheduler, "step"):
        raise TypeError(f"{owner}: scheduler must have a step() method (e.g. StepLR), got {scheduler!r}")


def _check_optimizer_params(owner: str, model, optimizer) -> None:
    """The optimizer must hold at least one of the model's parameters, compared by identity (``is``, through
    ``id``): a subset is fine (frozen layers), none means that every step would update something else."""
    if not isinstance(model, Module) or not hasattr(optimizer, "params"):
        return  # a model or optimizer of your own: nothing to compare
    model_params = {id(p) for p in model.parameters()}
    if model_params and not any(id(p) in model_params for p in optimizer.params):
        # e.g. SGD(other_model.parameters()): every step would update another model, this one would never learn
        raise ValueError(f"{owner}: the optimizer holds none of the model's parameters; build it with "
                         "SGD(model.parameters(), ...) for this model")


def _check_divergence_factor(owner: str, divergence_factor) -> None:
    if divergence_factor is not None:
        # A factor <= 1 would call the second step "diverged" as soon as its loss is not below the first.
        check_float(owner, "divergence_factor", divergence_factor, low=1.0, low_open=True)


def _check_data_args(train_data, val_data):
    """(X, y) and val_data as arrays, checked; val_data's samples must be shaped like the training data's."""
    X, y = _as_pair(train_data, "fit", "train_data")
    _check_data(X, y, "fit")
    if val_data is not None:
        X_val, y_val = val_data = _as_pair(val_data, "fit", "val_data")
        _check_data(X_val, y_val, "fit (val_data)")
        if X_val.shape[1:] != X.shape[1:] or y_val.shape[1:] != y.shape[1:]:
            raise ValueError(f"fit: val_data must have samples shaped like train_data: X {X.shape[1:]}, y "
                             f"{y.shape[1:]} per sample, got X {X_val.shape[1:]}, y {y_val.shape[1:]}")
    return X, y, val_data


def _check_loop_args(epochs, batch_size, max_steps, callback, callback_every, divergence_factor, progress) -> None:
    check_int("fit", "epochs", epochs)
    check_bool("fit", "progress", progress)
    check_int("fit", "batch_size", batch_size)
    if max_steps is not None:
        check_int("fit", "max_steps", max_steps)  # max_steps = 0 used to take one step anyway
    if callback_every is not None:
        check_int("fit", "callback_every", callback_every)
    if callback is not None and not callable(callback):
        raise TypeError(f"fit: callback must be callable(history), got {callback!r}")
    _check_divergence_factor("fit", divergence_factor)


def use_accuracy(metrics, owner: str = "fit") -> bool:
    """Whether ``metrics`` (a tuple of names from METRICS, e.g. ("accuracy",) or ()) asks for the accuracy.

    Chosen by the caller, never guessed from the loss: a loss of your own gets an accuracy if you ask for one.
    (What the loss says is how to read a binary output: ``binary_threshold``.)
    """
    metrics = (metrics,) if isinstance(metrics, str) else metrics
    if not isinstance(metrics, (tuple, list)) or any(m not in METRICS for m in metrics):
        raise ValueError(f"{owner}: metrics must be a tuple of names from {METRICS}, e.g. ('accuracy',) or (), "
                         f"got {metrics!r}")
    return "accuracy" in metrics


def _zero_outputs(model, X: np.ndarray) -> np.ndarray:
    """Zeros of the shape and dtype of ``model``'s outputs on all of X, from one sample's prediction (eval mode:
    changes no buffer, draws no mask): what a loss or the accuracy needs to check labels against, without a
    forward pass over all of X before training."""
    one = predict(model, X[:1])
    return np.zeros((len(X),) + one.shape[1:], one.dtype)


def _check_accuracy_labels(owner: str, model, loss_fn, data: dict) -> None:
    """With metrics=("accuracy",) every step scores its batch *after* the update: labels the accuracy cannot score
    (targets outside [0, 1] with MSELoss, say) would fail there, with the model already changed. Checked before
    the first step instead, against zero outputs (``_zero_outputs``)."""
    for name, (X, y) in data.items():
        try:
            accuracy(_zero_outputs(model, X), y, binary_threshold(loss_fn))
        except (ValueError, TypeError) as error:
            raise type(error)(f"{owner}: metrics=('accuracy',) cannot score the labels of {name}: {error}") from None


def binary_threshold(loss_fn) -> float:
    """Where ``accuracy`` puts a binary output into class 1 when training with ``loss_fn``: 0.5 for the
    probabilities that BCELoss takes (a model ending in Sigmoid), 0 for logits (BCEWithLogitsLoss, any other)."""
    return 0.5 if isinstance(loss_fn, BCELoss) else 0.0


def fit(model, loss_fn: Loss, optimizer, train_data: tuple[np.ndarray, np.ndarray], *, epochs: int = 10,
        batch_size: int = 64, val_data: tuple[np.ndarray, np.ndarray] | None = None, rng=None, scheduler=None,
        progress: bool = True, callback: Callable[[History], None] | None = None,
        callback_every: int | None = None, max_steps: int | None = None,
        divergence_factor: float | None = 1e4, metrics: tuple[str, ...] = ()) -> History:
    """Train ``model`` by mini-batch gradient descent (``train_step`` on every batch) and return its ``History``.

    ``scheduler.step()`` runs once per epoch. ``callback(history)`` runs every ``callback_every`` steps
    (default: at the end of each epoch), e.g. to redraw a live plot. ``max_steps`` stops early.
    ``metrics=("accuracy",)`` also records the accuracy of every step and epoch (default: the loss only).
    Raises ``TrainingDiverged`` (with ``.history`` attached) on a NaN/inf loss or gradient, or when the
    loss exceeds ``divergence_factor`` × max(first loss, 1) (``None`` turns that test off).
    """
    # Every argument is checked before the first step: a mistake fails now, not after an epoch of training.
    _check_trainable("fit", model)
    _check_loss("fit", loss_fn)
    _check_optimizer("fit", model, optimizer, scheduler)
    X, y, val_data = _check_data_args(train_data, val_data)
    _check_loop_args(epochs, batch_size, max_steps, callback, callback_every, divergence_factor, progress)
    if val_data is not None:  # its labels must suit the loss (class 12 of 10): found now, not after an epoch
        try:
            loss_fn(_zero_outputs(model, val_data[0]), val_data[1])
        except (ValueError, TypeError) as error:
            raise type(error)(f"fit: val_data does not suit the loss: {error}") from None
    if use_accuracy(metrics):
        labeled = {"train_data": (X, y)} | ({} if val_data is None else {"val_data": val_data})
        _check_accuracy_labels("fit", model, loss_fn, labeled)
    rng, history = as_rng(rng), History()
    run = _Run(model, loss_fn, optimizer, history, _DivergenceGuard(model, optimizer, history, divergence_factor),
               use_accuracy(metrics), None, callback, callback_every, max_steps)
    steps = math.ceil(len(X) / batch_size) * epochs
    run.bar = _progress_bar(steps if max_steps is None else min(max_steps, steps), progress)
    model.train()
    try:
        # Overflow is detected explicitly (the guard): silence numpy's warnings about it.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for _ in range(epochs):
                _end_epoch(run, _train_epoch(run, minibatches(X, y, batch_size, rng)), val_data, scheduler)
                if run.done():
                    break
    finally:
        if run.bar is not None:
            run.bar.close()
        model.train()
    history.seconds = time.perf_counter() - run.guard.start
    return history

"""Interactive explorers for JupyterLab, built on ipywidgets.

Every explorer is a plain plotting function plus sliders: ``explore(draw, lr=log_slider(...))``
calls ``draw(lr=...)`` once now and again whenever a slider moves, redrawing the figure in place.
Tests and headless runs call the plain function directly: ``lr_figure``,
``depth_figure``, ``conv_figure``, ``polynomial_figure`` each return (figure, what was computed).

A setting that makes training diverge is not an error here: ``train_curve`` returns the history up to
the failing step, and the figure says "diverged at step N — try a lower learning rate".

``lr_explorer`` also trains live (TensorFlow-Playground style): Play/Pause, Step and Reset drive a
``LiveTrainer``, one model trained a few steps per tick while η (and the batch size) can change mid-run.
Its figure is built once and redrawn in place (blitting), so a tick or a slider move costs the training
plus a fraction of a full matplotlib draw. Every explorer writes a one-line status first, so a slider
move shows at once even when the new figure takes longer.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np

from . import plot
from .functional import check_float, check_int
from .losses import CrossEntropyLoss, MSELoss
from .optim import SGD, Adam
from .train import History, TrainingDiverged, fit

__all__ = [
    "explore", "explore_figure", "log_slider",
    "train_curve", "lr_figure", "lr_explorer", "LiveTrainer",
    "layer_grad_norms", "depth_figure", "depth_explorer",
    "conv_figure", "conv_explorer",
    "polynomial_fit", "polynomial_errors", "polynomial_figure", "polynomial_explorer",
    "LiveLossPlot", "live_loss_plot",
]


def log_slider(value: float, min: float, max: float, description: str = "lr", steps_per_decade: int = 4
               ) -> w.FloatLogSlider:
    """A log-scale slider (learning rates span decades); values snap to 10^(k/steps_per_decade)."""
    check_float("log_slider", "min", min, low=0.0, low_open=True)  # a log scale starts above 0
    check_float("log_slider", f"max (> min = {min:g})", max, low=min, low_open=True)
    check_float("log_slider", f"value (in [min, max] = [{min:g}, {max:g}])", value, min, max)
    check_int("log_slider", "steps_per_decade", steps_per_decade)
    return w.FloatLogSlider(value=value, base=10, min=math.log10(min), max=math.log10(max),
                            step=1 / steps_per_decade, description=description, readout_format=".2g",
                            continuous_update=False)


def explore(draw: Callable[..., object], **controls: w.ValueWidget) -> w.VBox:
    """Show ``controls`` above an output area in which ``draw(**values)`` redraws on every change.

    ``draw`` makes its own matplotlib figure; whatever it returns (a string, a History…) is printed
    under the figure, so a diverging run can say "diverged at step N" instead of raising.
    """
    _check_controls("explore", controls)
    out = w.Output()
    status = w.Label(layout=w.Layout(height="1.6em"))  # fixed height: the figure does not jump

    def redraw(**values):
        shown = _shown(values)
        status.value = f"computing {shown} …"  # the cheap part first: visible before draw() has finished
        with out:
            out.clear_output(wait=True)  # the old figure stays until the new one is ready: no flicker
            result = draw(**values)
            plt.show()
            if result is not None:
                print(result)
        status.value = shown

    _on_release(controls)
    w.interactive_output(redraw, controls)
    return w.VBox([w.HBox(list(controls.values())), status, out])  # the cell's value: Jupyter displays it


def explore_figure(blitter: plot.Blitter, update: Callable[..., str | None], **controls: w.ValueWidget) -> w.VBox:
    """Show ``controls`` above one figure that is updated in place: ``update(**values)`` changes the artists of
    ``blitter`` (a ``plot.Blitter``: set_data, set_text…) and may return a status line; only those artists are
    redrawn. For a figure that is cheap to change but costly to replot; ``explore`` replots from scratch.
    """
    if not isinstance(blitter, plot.Blitter):
        raise TypeError(f"explore_figure: blitter must be a littlebook.plot.Blitter, got {type(blitter).__name__}")
    _check_controls("explore_figure", controls)
    image = w.Image(format="png", layout=w.Layout(max_width="100%"))
    status = w.HTML(layout=w.Layout(height="1.6em"))

    def show(**values) -> None:
        shown = _shown(values)
        status.value = f"computing {shown} …"  # the cheap part first: visible before the figure is ready
        text = update(**values)
        image.value = blitter.png()
        status.value = shown if text is None else text

    _on_release(controls)
    w.interactive_output(show, controls)
    return w.VBox([w.HBox(list(controls.values())), status, image])


def _shown(values: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def _check_controls(owner: str, controls: dict) -> None:
    for name, c in controls.items():
        if not isinstance(c, w.ValueWidget):
            raise TypeError(f"{owner}: control {name!r} must be an ipywidgets slider or other value widget, "
                            f"got {c!r}")


def _on_release(controls: dict) -> None:
    for c in controls.values():
        if hasattr(c, "continuous_update"):
            c.continuous_update = False  # recompute on release, not on every pixel of a drag


# -- training runs -------------------------------------------------------------------------------------

def _default_loss(y: np.ndarray):
    """Integer class labels (N,) → cross-entropy on logits; anything else → mean squared error."""
    y = np.asarray(y)
    return CrossEntropyLoss() if y.ndim == 1 and np.issubdtype(y.dtype, np.integer) else MSELoss()


def _make_optimizer(optimizer, params, lr: float):
    if callable(optimizer):
        return optimizer(params, lr=lr)
    if optimizer == "sgd":
        return SGD(params, lr=lr)
    if optimizer == "momentum":
        return SGD(params, lr=lr, momentum=0.9)
    if optimizer == "adam":
        return Adam(params, lr=lr)
    raise ValueError(f"optimizer must be 'sgd', 'momentum', 'adam' or a callable(params, lr=...), got {optimizer!r}")


def _train(model, data, lr, epochs, batch_size, loss_fn, optimizer, val_data, rng) -> History:
    loss_fn = _default_loss(data[1]) if loss_fn is None else loss_fn
    opt = _make_optimizer(optimizer, model.parameters(), lr)
    try:
        return fit(model, loss_fn, opt, data, epochs=epochs, batch_size=batch_size, val_data=val_data,
                   rng=rng, progress=False)
    except TrainingDiverged as err:
        return err.history  # diverged_at is set; the model keeps its last finite parameters


def train_curve(make_model: Callable[[], object], data, lr: float, epochs: int = 5, batch_size: int = 32,
                loss_fn=None, optimizer="sgd", val_data=None, rng=0) -> History:
    """Train a fresh ``make_model()`` on ``data`` = (X, y) with learning rate ``lr``; return its History.

    ``loss_fn`` defaults to cross-entropy for integer labels, MSE otherwise; ``optimizer`` is "sgd",
    "momentum", "adam" or ``callable(params, lr=lr)``. Never raises ``TrainingDiverged``: the partial
    history comes back with ``diverged_at`` set. Same ``rng`` → same batches → comparable curves.
    """
    return _train(make_model(), data, lr, epochs, batch_size, loss_fn, optimizer, val_data, rng)


def _summary(history: History, what: str) -> str:
    if history.diverged_at is not None:
        return f"{what}: diverged at step {history.diverged_at} — try a lower learning rate"
    text = f"{what}: final loss {history.train_loss[-1]:.4f}"
    if history.train_acc:
        text += f", train accuracy {history.train_acc[-1]:.3f}"
    if history.val_acc:
        text += f", validation accuracy {history.val_acc[-1]:.3f}"
    elif history.val_loss:
        text += f", validation loss {history.val_loss[-1]:.4f}"
    return text


def _loss_panel(ax, history: History, title: str):
    """plot_history, but with the y range fixed by the first loss so that curves compare across runs."""
    plot.plot_history(history, ax=ax)
    losses = np.asarray(history.step_loss)
    if len(losses) and np.isfinite(losses).all():
        top = min(losses.max(), 2.0 * losses[0])  # an exploding loss leaves the top of the plot
        ax.set_ylim(0.0, 1.05 * top)
    if history.diverged_at is not None:
        for t in list(ax.texts):
            t.remove()  # plot_history's small label: the box below says it louder
        ax.text(0.5, 0.5, f"diverged at step {history.diverged_at}\ntry a lower learning rate",
                transform=ax.transAxes, ha="center", va="center", color="C3", fontsize="large",
                bbox={"facecolor": "white", "edgecolor": "C3", "alpha": 0.9})
    ax.set_title(title)


def lr_figure(make_model, data, lr: float, epochs: int = 5, batch_size: int = 32, loss_fn=None,
              optimizer="sgd", val_data=None, rng=0):
    """Train at learning rate ``lr`` and draw the loss curve, the accuracy (classification) and the
    decision boundary (2-D inputs with class labels). Returns (fig, history)."""
    X, y = data
    model = make_model()
    history = _train(model, data, lr, epochs, batch_size, loss_fn, optimizer, val_data, rng)
    panels = ["loss"] + (["accuracy"] if history.train_acc else [])
    boundary = np.asarray(X).ndim == 2 and np.shape(X)[1] == 2 and bool(history.train_acc)
    fig, axes = plt.subplots(1, len(panels) + boundary, figsize=(4.2 * (len(panels) + boundary), 3.4),
                             squeeze=False)
    axes = axes[0]
    _loss_panel(axes[0], history, f"learning rate {lr:.2g}")
    if "accuracy" in panels:
        plot.plot_history(history, ax=axes[1], metrics="accuracy")
        axes[1].set_ylim(0.0, 1.02)
    if boundary:
        plot.decision_boundary(model, X, y, ax=axes[-1], resolution=100)
        axes[-1].set_title("what the model predicts")
    fig.subplots_adjust(wspace=0.3)  # fixed spacing: a layout engine would double the drawing time
    return fig, history


def _lr_text(lr: float) -> str:
    """η as the slider shows it (two significant digits), without an exponent: 0.18, 1, 100, 0.001."""
    return f"{float(f'{lr:.2g}'):g}"


# -- live training, TensorFlow-Playground style ------------------------------------------------------------

class LiveTrainer:
    """One model trained a few steps at a time, so that a Play button can advance it tick by tick.

    ``step(n)`` runs up to n mini-batch steps of the same loop as ``fit`` (same batch order for the same
    ``rng``, same divergence test: a non-finite loss or gradient, or a loss above 10⁴ × max(first loss, 1),
    stops the run *before* the update; an update that overflows is undone). ``set_lr`` and
    ``set_batch_size`` apply from the next step; ``reset()`` goes back to the same initial weights, a fresh
    optimizer and the same batch order. A diverged run stops: ``diverged_at`` is the step, ``reason`` says why.
    ``history`` is a ``train.History`` (per step, and per completed epoch), so the plots of ``fit`` apply.
    """

    def __init__(self, make_model: Callable[[], object], data, lr: float = 0.1, batch_size: int = 32,
                 loss_fn=None, optimizer="sgd", rng=0, divergence_factor: float = 1e4):
        import copy

        check_float("LiveTrainer", "lr", lr, low=0.0, low_open=True)
        check_int("LiveTrainer", "batch_size", batch_size)
        self.X, self.y = (np.asarray(a) for a in data)
        self._initial = make_model()  # never trained: every reset copies it
        self._copy = copy.deepcopy
        self.loss_fn = _default_loss(self.y) if loss_fn is None else loss_fn
        self.classify = isinstance(self.loss_fn, CrossEntropyLoss) or type(self.loss_fn).__name__ == "BCEWithLogitsLoss"
        self.optimizer_spec, self.seed, self.divergence_factor = optimizer, rng, divergence_factor
        self.lr, self.batch_size = float(lr), int(batch_size)
        self.reset()

    def reset(self) -> None:
        """Back to step 0: the initial weights, a fresh optimizer (no momentum yet), the first batch order."""
        from .functional import as_rng

        self.model = self._copy(self._initial)
        self.model.train()
        self.params = self.model.parameters()
        self.optimizer = _make_optimizer(self.optimizer_spec, self.params, self.lr)
        self.rng = as_rng(self.seed)
        self.history = History()
        self.diverged_at: int | None = None
        self.reason: str | None = None
        self._batches = None
        self._loss_limit = None
        self._epoch_loss = self._epoch_correct = 0.0
        self._seen = 0
        self._samples = 0

    def set_lr(self, lr: float) -> None:
        check_float("LiveTrainer.set_lr", "lr", lr, low=0.0, low_open=True)
        self.lr = float(lr)
        self.optimizer.lr = self.lr  # read by optimizer.step(): applies from the next step

    def set_batch_size(self, batch_size: int) -> None:
        """Applies from the next step: the rest of this epoch is cut into batches of the new size."""
        check_int("LiveTrainer.set_batch_size", "batch_size", batch_size)
        if int(batch_size) != self.batch_size:
            self.batch_size = int(batch_size)
            self._batches = None  # a new pass over the data (one more epoch point on the curve)
            self._end_epoch()

    @property
    def steps(self) -> int:
        return self.history.steps

    @property
    def epoch(self) -> float:
        """Passes over the training data so far (fractional)."""
        return self._samples / len(self.X)

    def _end_epoch(self) -> None:
        if self._seen:
            self.history.train_loss.append(self._epoch_loss / self._seen)
            if self.classify:
                self.history.train_acc.append(self._epoch_correct / self._seen)
            self.history.epoch_end.append(self.history.steps)
        self._epoch_loss = self._epoch_correct = 0.0
        self._seen = 0

    def _next_batch(self):
        from .train import minibatches

        for _ in range(2):
            if self._batches is None:
                self._batches = minibatches(self.X, self.y, self.batch_size, self.rng)
            try:
                return next(self._batches)
            except StopIteration:
                self._batches = None
                self._end_epoch()
        raise RuntimeError("LiveTrainer: the training data is empty")

    def _stop(self, step: int, why: str) -> None:
        self.diverged_at, self.reason = step, why
        self.history.diverged_at = step

    def step(self, n: int = 1) -> int:
        """Run up to ``n`` steps; return how many ran (fewer if the run diverged, 0 once it has)."""
        from .train import accuracy

        done = 0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            while done < n and self.diverged_at is None:
                xb, yb = self._next_batch()
                out = self.model(xb)
                loss = float(self.loss_fn(out, yb))
                self.optimizer.zero_grad()
                self.model.backward(self.loss_fn.backward())
                step = self.history.steps + 1
                if self._loss_limit is None:
                    self._loss_limit = (self.divergence_factor * max(loss, 1.0)
                                        if self.divergence_factor is not None and math.isfinite(loss) else math.inf)
                if not math.isfinite(loss):
                    self._stop(step, f"the loss is {loss}")
                    break
                if loss > self._loss_limit:
                    self._stop(step, f"the loss {loss:.3g} exploded (> 10⁴ × max(first loss, 1))")
                    break
                if not all(math.isfinite(float(p.grad.sum())) for p in self.params):
                    self._stop(step, "a gradient is not finite")
                    break
                saved = [p.value.copy() for p in self.params]
                self.optimizer.step()
                if not all(math.isfinite(float(p.value.sum())) for p in self.params):
                    for p, s in zip(self.params, saved):  # the update overflowed: undo it
                        np.copyto(p.value, s)
                    self._stop(step, "the update overflowed")
                    break
                acc = accuracy(out, yb) if self.classify else float("nan")
                self.history.step_loss.append(loss)
                self.history.step_acc.append(acc)
                self.history.lr.append(self.lr)
                self._epoch_loss += loss * len(xb)
                self._epoch_correct += acc * len(xb)
                self._seen += len(xb)
                self._samples += len(xb)
                done += 1
        return done

    def recent_loss(self, k: int = 10) -> float | None:
        """Mean loss of the last ``k`` steps (one mini-batch is noisy), None before the first step."""
        losses = self.history.step_loss[-k:]
        return float(np.mean(losses)) if losses else None


class _LrView:
    """The learning-rate explorer's figure, built once and updated in place: loss (per step and per epoch),
    accuracy, and the decision regions on a grid computed once.

    Blitting: the axes, ticks, legends and data points are drawn once per pair of axis limits (limits move in
    powers of two, so that happens rarely) and kept as a bitmap; an update restores that bitmap and draws only
    the curves, the regions and the texts on it, then encodes the PNG for an ``ipywidgets.Image``.
    """

    def __init__(self, X, y, classify: bool, total_steps: int, resolution: int = 60, dpi: int = 72,
                 validation: bool = False):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure  # not pyplot: nothing is shown twice, nothing to close

        self.boundary = classify and X.ndim == 2 and X.shape[1] == 2
        self.classify = classify
        n = 1 + classify + self.boundary
        self.figure = Figure(figsize=(3.9 * n, 3.1), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self.axes = list(self.figure.subplots(1, n, squeeze=False)[0])
        self.total_steps = max(int(total_steps), 1)
        self._backgrounds: dict = {}
        ax = self.axes[0]
        self.step_line, = ax.plot([], [], color="C0", alpha=0.35, lw=1, label="loss per step")
        self.epoch_line, = ax.plot([], [], "o-", color="C0", ms=3, label="train (epoch mean)")
        self.val_line, = ax.plot([], [], "o-", color="C1", ms=3, label="validation" if validation else None)
        ax.set(xlabel="step", ylabel="loss", xlim=(0, self.total_steps))
        ax.legend(loc="upper right", fontsize="small")
        self.div_line = ax.axvline(0, color="C3", ls="--", lw=1, visible=False)
        self.div_text = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center", color="C3",
                                fontsize="large", visible=False,
                                bbox={"facecolor": "white", "edgecolor": "C3", "alpha": 0.9})
        self.title = ax.set_title(" ")
        self.dynamic = [self.step_line, self.epoch_line, self.val_line, self.div_line, self.div_text, self.title]
        if classify:
            a = self.axes[1]
            self.acc_step, = a.plot([], [], color="C0", alpha=0.35, lw=1, label="accuracy per step")
            self.acc_epoch, = a.plot([], [], "o-", color="C0", ms=3, label="train (epoch mean)")
            self.acc_val, = a.plot([], [], "o-", color="C1", ms=3, label="validation" if validation else None)
            a.set(xlabel="step", ylabel="accuracy", ylim=(0.0, 1.02), xlim=(0, self.total_steps))
            a.legend(loc="lower right", fontsize="small")
            self.dynamic += [self.acc_step, self.acc_epoch, self.acc_val]
        if self.boundary:
            from .train import predict

            self._predict = predict
            a = self.axes[-1]
            lo, hi = X.min(axis=0), X.max(axis=0)
            pad = 0.1 * (hi - lo) + 1e-9
            extent = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
            gx, gy = np.meshgrid(np.linspace(extent[0], extent[1], resolution),
                                 np.linspace(extent[2], extent[3], resolution))
            dtype = X.dtype if X.dtype.kind == "f" else np.float32
            self.grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(dtype)
            self.grid_shape = gx.shape
            cmap = plt.get_cmap("tab10")
            # The regions under the points: drawn per update, then the points (a cached bitmap cannot lie under them).
            self.regions = a.imshow(np.zeros(gx.shape), origin="lower", extent=extent, cmap=cmap, vmin=-0.5,
                                    vmax=9.5, alpha=0.3, interpolation="nearest", aspect="auto")
            self.points = a.scatter(X[:, 0], X[:, 1], c=np.asarray(y).reshape(-1), cmap=cmap, vmin=-0.5, vmax=9.5,
                                    s=9, edgecolors="k", linewidths=0.3)
            a.set(xlim=extent[:2], ylim=extent[2:], xlabel="$x_1$", ylabel="$x_2$", title="what the model predicts")
            self.dynamic += [self.regions, self.points]
        for artist in self.dynamic:
            artist.set_animated(True)  # left out of the cached background
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.88, wspace=0.3)

    def _limits(self, history: History) -> tuple[float, float]:
        """x: the planned steps, doubled as often as a live run needs; y: from the first loss (the same for every
        learning rate: same weights, same first batch), 1.05× it, or 2.1× it when the loss rose above it."""
        xmax = self.total_steps
        while xmax < history.steps:
            xmax *= 2
        losses = np.asarray(history.step_loss, dtype=float)
        ymax = 1.0
        if len(losses) and np.isfinite(losses[0]) and losses[0] > 0:
            ymax = 1.05 * losses[0] if np.nanmax(np.where(np.isfinite(losses), losses, 0)) <= 1.05 * losses[0] \
                else 2.1 * losses[0]
        return float(xmax), float(ymax)

    def update(self, history: History, model, title: str, message: str | None = None) -> None:
        steps = np.arange(1, history.steps + 1)
        self.step_line.set_data(steps, np.asarray(history.step_loss, dtype=float))
        self.epoch_line.set_data(np.asarray(history.epoch_end[:len(history.train_loss)]), history.train_loss)
        self.val_line.set_data(np.asarray(history.epoch_end[:len(history.val_loss)]), history.val_loss)
        self.title.set_text(title)
        self.div_line.set_visible(history.diverged_at is not None)
        if history.diverged_at is not None:
            self.div_line.set_xdata([history.diverged_at, history.diverged_at])
        self.div_text.set_visible(message is not None)
        self.div_text.set_text(message or "")
        if self.classify:
            self.acc_step.set_data(steps, history.step_acc)
            self.acc_epoch.set_data(np.asarray(history.epoch_end[:len(history.train_acc)]), history.train_acc)
            self.acc_val.set_data(np.asarray(history.epoch_end[:len(history.val_acc)]), history.val_acc)
        self.limits = self._limits(history)
        if self.boundary:
            out = self._predict(model, self.grid)
            classes = out.argmax(axis=1) if out.ndim == 2 and out.shape[1] > 1 else (out.reshape(-1) > 0).astype(int)
            self.regions.set_data(classes.reshape(self.grid_shape))

    def png(self) -> bytes:
        import io

        from PIL import Image

        xmax, ymax = self.limits
        key = (xmax, ymax)
        if key not in self._backgrounds:
            self.axes[0].set(xlim=(0, xmax), ylim=(0, ymax))
            if self.classify:
                self.axes[1].set_xlim(0, xmax)
            self.canvas.draw()  # everything but the animated artists
            self._backgrounds[key] = self.canvas.copy_from_bbox(self.figure.bbox)
        else:
            self.axes[0].set(xlim=(0, xmax), ylim=(0, ymax))
            if self.classify:
                self.axes[1].set_xlim(0, xmax)
            self.canvas.restore_region(self._backgrounds[key])
        for artist in self.dynamic:
            artist.axes.draw_artist(artist)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(self.canvas.buffer_rgba())).save(buf, format="png", compress_level=1)
        return buf.getvalue()


def lr_explorer(make_model, data, lr: float = 0.1, lrs=(1e-4, 10.0), epochs: int = 5, batch_size: int = 32,
                loss_fn=None, optimizer="sgd", val_data=None, rng=0, live: bool = True, batch_sizes=None,
                steps_per_tick: int | None = None, interval: int = 150) -> w.VBox:
    """A learning-rate slider (log scale, ``lrs`` = (min, max)) that retrains ``epochs`` from the same initial
    weights and redraws the loss, accuracy and (2-D inputs) the decision regions in place.

    With ``live`` (the default) Play/Pause, Step and Reset buttons train ONE model tick by tick
    (``LiveTrainer``; ``steps_per_tick`` steps every ``interval`` ms, default: a quarter of an epoch, at least 2):
    the slider then changes η of the running model from its next step, and ``batch_sizes`` (a list) adds a
    batch-size slider that does the same. A diverged live run stops and says at which step and why;
    Reset goes back to step 0 (the same initial weights) and to the slider's full run.
    """
    import copy

    X, y = (np.asarray(a) for a in data)
    initial = make_model()  # built once; every run trains a copy of it
    loss = _default_loss(y) if loss_fn is None else loss_fn
    classify = isinstance(loss, CrossEntropyLoss) or type(loss).__name__ == "BCEWithLogitsLoss"
    steps_per_epoch = math.ceil(len(X) / batch_size)
    view = _LrView(X, y, classify, steps_per_epoch * epochs, validation=val_data is not None)
    image = w.Image(format="png", layout=w.Layout(max_width="100%"))
    status = w.HTML()
    status.add_class("lb-live-status")
    lr_slider = log_slider(lr, *lrs)
    trainer = LiveTrainer(lambda: copy.deepcopy(initial), (X, y), lr, batch_size, loss, optimizer, rng)
    state = {"live": False, "last_tick": 0.0}
    runs: dict = {}  # (lr, batch size) → (trained model, History): the full runs are deterministic

    def full_run(lr_value: float) -> None:
        text = _lr_text(lr_value)
        status.value = f"lr={text}: training {epochs} epochs …"  # the cheap part first: visible at once
        key = (float(lr_value), trainer.batch_size)
        if key not in runs:  # a notch seen before is redrawn without retraining
            model = copy.deepcopy(initial)
            runs[key] = model, _train(model, (X, y), lr_value, epochs, key[1], loss, optimizer, val_data, rng)
        model, history = runs[key]
        view.total_steps = math.ceil(len(X) / trainer.batch_size) * epochs
        message = (f"diverged at step {history.diverged_at}\ntry a lower learning rate"
                   if history.diverged_at is not None else None)
        view.update(history, model, f"learning rate {text}", message)
        image.value = view.png()
        status.value = _summary(history, f"lr={text}")

    def live_status() -> str:
        t = trainer
        head = f"live: step {t.steps} · epoch {t.epoch:.1f} · lr {_lr_text(t.lr)} · batch {t.batch_size}"
        if t.diverged_at is not None:
            return f"{head} · <b style='color:#d62728'>diverged at step {t.diverged_at}: {t.reason}</b> " \
                   "— lower η and press Reset"
        recent = t.recent_loss()
        return head + ("" if recent is None else f" · loss (mean of the last 10 steps) ≈{recent:.4f}")

    def live_draw() -> None:
        t = trainer
        message = (f"diverged at step {t.diverged_at}\n{t.reason}\nlower η, press Reset"
                   if t.diverged_at is not None else None)
        view.update(t.history, t.model, f"live: step {t.steps}, learning rate {_lr_text(t.lr)}", message)
        image.value = view.png()

    def advance(n: int) -> None:
        if not state["live"]:
            state["live"] = True
            trainer.set_lr(lr_slider.value)
        trainer.step(n)
        status.value = live_status()  # the step count first, then the figure
        live_draw()
        if trainer.diverged_at is not None:
            play.playing = False

    per_tick = steps_per_tick or max(2, math.ceil(steps_per_epoch / 4))

    def on_tick(change) -> None:
        import time

        # The front end ticks every ``interval`` ms whether or not the kernel keeps up; ticks that queued
        # while the last one was drawn arrive at once: skip them, so Pause takes effect immediately.
        if not play.playing or time.monotonic() - state["last_tick"] < 0.5 * interval / 1000:
            return
        advance(per_tick)
        state["last_tick"] = time.monotonic()

    def on_lr(change) -> None:
        if state["live"]:
            trainer.set_lr(change["new"])
            status.value = live_status()
        else:
            full_run(change["new"])

    def on_step(_) -> None:
        advance(per_tick)

    def on_reset(_) -> None:
        play.playing = False
        trainer.reset()
        state["live"] = False
        full_run(lr_slider.value)

    play = w.Play(value=0, min=0, max=10**9, interval=interval, show_repeat=False, description="play",
                  tooltip="train one model live, a few steps per tick")
    step_button = w.Button(description="Step", tooltip=f"{per_tick} training step(s)", layout=w.Layout(width="70px"))
    reset_button = w.Button(description="Reset", tooltip="back to step 0: the same initial weights",
                            layout=w.Layout(width="70px"))
    lr_slider.observe(on_lr, names="value")
    controls = [lr_slider]
    if batch_sizes is not None:
        sizes = sorted(set(int(b) for b in batch_sizes) | {int(batch_size)})
        batch_slider = w.SelectionSlider(options=sizes, value=int(batch_size), description="batch size",
                                         continuous_update=False)

        def on_batch(change) -> None:
            trainer.set_batch_size(change["new"])
            if state["live"]:
                status.value = live_status()
            else:
                full_run(lr_slider.value)

        batch_slider.observe(on_batch, names="value")
        controls.append(batch_slider)
    if live:
        play.observe(on_tick, names="value")
        step_button.on_click(on_step)
        reset_button.on_click(on_reset)
        controls += [play, step_button, reset_button]
    full_run(lr)
    return w.VBox([w.HBox(controls), status, image])


def layer_grad_norms(model, loss_fn, X: np.ndarray, y: np.ndarray) -> tuple[list[str], np.ndarray]:
    """‖∂L/∂W‖ of every weight matrix/filter (first layer first) after one forward and backward on (X, y).

    Shows vanishing gradients: in a deep plain network the early layers' norms are orders of magnitude
    smaller than the last layers'. Clears the gradients before and after.
    """
    model.zero_grad()
    loss_fn(model(X), y)
    model.backward(loss_fn.backward())
    named = [(name, p) for name, p in model.named_parameters() if p.value.ndim >= 2]
    norms = np.array([float(np.linalg.norm(p.grad)) for _, p in named])
    model.zero_grad()
    return [name for name, _ in named], norms


def depth_figure(make_model, data, depth: int, lr: float = 0.1, epochs: int = 5, batch_size: int = 32,
                 loss_fn=None, optimizer="sgd", rng=0):
    """Build ``make_model(depth)`` (or each of a dict {label: make_model}) and draw, side by side, the
    per-layer gradient norms at initialisation and the training loss. Returns (fig, {label: history})."""
    makers = make_model if isinstance(make_model, dict) else {f"depth {depth}": make_model}
    X, y = data
    loss = _default_loss(y) if loss_fn is None else loss_fn
    fig, (ax_grad, ax_loss) = plt.subplots(1, 2, figsize=(9, 3.4))
    histories = {}
    for i, (label, maker) in enumerate(makers.items()):
        model = maker(depth)
        _, norms = layer_grad_norms(model, loss, X[:256], y[:256])
        ax_grad.semilogy(np.arange(1, len(norms) + 1), norms, "o-", color=f"C{i}", label=label)
        history = _train(model, data, lr, epochs, batch_size, loss, optimizer, None, rng)
        histories[label] = history
        ax_loss.plot(np.arange(1, history.steps + 1), history.step_loss, color=f"C{i}", alpha=0.8, lw=1,
                     label=label + (f" (diverged at step {history.diverged_at})" if history.diverged_at else ""))
    ax_grad.set_xlabel("layer (input side → output side)")
    ax_grad.set_ylabel("‖∂L/∂W‖ at initialisation")
    ax_grad.set_title("gradient size per layer")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_title(f"training, depth {depth}")
    for a in (ax_grad, ax_loss):
        a.legend(fontsize="small")
    fig.subplots_adjust(wspace=0.3)  # fixed spacing: a layout engine would double the drawing time
    return fig, histories


def depth_explorer(make_model, data, depth: int = 4, depths=(1, 12), lr: float = 0.1, epochs: int = 5,
                   batch_size: int = 32, loss_fn=None, optimizer="sgd", rng=0) -> w.VBox:
    """A depth slider over ``depth_figure``; ``make_model(depth)`` or a dict of such factories to compare."""

    def draw(depth):
        _, histories = depth_figure(make_model, data, depth, lr, epochs, batch_size, loss_fn, optimizer, rng)
        return "\n".join(_summary(h, label) for label, h in histories.items())

    check_int("depth_explorer", "depths[0]", depths[0])
    check_int("depth_explorer", f"depths[1] (>= depths[0] = {depths[0]})", depths[1], low=depths[0])
    return explore(draw, depth=w.IntSlider(value=depth, min=depths[0], max=depths[1], description="depth"))


# -- convolution ------------------------------------------------------------------------------------

def _edge_kernel(k: int) -> np.ndarray:
    """A K×K vertical-edge detector: +1 on the left columns, −1 on the right (0 in the middle column)."""
    return np.tile(np.sign(np.linspace(1.0, -1.0, k)), (k, 1))


def conv_figure(image: np.ndarray, kernel_size: int = 3, stride: int = 1, padding: int = 0, kernel=None):
    """Convolve a 2-D ``image`` (H, W) with one filter (default: a vertical-edge detector) by
    ``littlebook.conv.Conv2d`` and draw the zero-padded input, the first two windows, and the
    feature map, titled with the output-size formula ⌊(H + 2P − K)/S⌋ + 1. Returns (fig, feature map)."""
    from matplotlib.patches import Rectangle

    from .conv import Conv2d, conv_output_size  # imported here: only this explorer needs it

    check_int("conv_figure", "kernel_size", kernel_size)
    check_int("conv_figure", "stride", stride)
    check_int("conv_figure", "padding", padding, low=0)
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"conv_figure: expected a 2-D image (H, W), got shape {image.shape}")
    h, wd = image.shape
    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(8, 3.8))
    padded = np.pad(image, padding)
    ax_in.imshow(padded, cmap="gray", interpolation="nearest")
    if padding:
        ax_in.add_patch(Rectangle((padding - 0.5, padding - 0.5), wd, h, fill=False, ec="C2", lw=1.5, ls=":"))
    ax_in.set_title(f"input {h}×{wd}, padding P={padding}")
    if kernel_size > min(h, wd) + 2 * padding:
        ax_out.text(0.5, 0.5, f"kernel {kernel_size}×{kernel_size} does not fit\nin the padded input",
                    ha="center", va="center", transform=ax_out.transAxes, color="C3")
        ax_out.set_axis_off()
        return fig, None
    conv = Conv2d(1, 1, kernel_size, stride=stride, padding=padding, bias=False, dtype=np.float64)
    if kernel is not None and np.shape(kernel) != (kernel_size, kernel_size):
        raise ValueError(f"conv_figure: kernel must have shape (kernel_size, kernel_size) = "
                         f"({kernel_size}, {kernel_size}), got {np.shape(kernel)}")
    conv.weight.value[0, 0] = _edge_kernel(kernel_size) if kernel is None else kernel
    out = conv(image[None, None])[0, 0]
    for i, color in enumerate(("C1", "C0")):  # the first window and the one a stride to its right
        x0 = i * stride if (i * stride + kernel_size) <= wd + 2 * padding else 0
        ax_in.add_patch(Rectangle((x0 - 0.5, -0.5), kernel_size, kernel_size, fill=False, ec=color, lw=2))
    ho, wo = conv_output_size(h, kernel_size, stride, padding), conv_output_size(wd, kernel_size, stride, padding)
    assert out.shape == (ho, wo)
    ax_out.imshow(out, cmap="RdBu_r", interpolation="nearest", vmin=-np.abs(out).max(), vmax=np.abs(out).max())
    ax_out.set_title(f"feature map {ho}×{wo}\n⌊({h} + 2·{padding} − {kernel_size})/{stride}⌋ + 1 = {ho}")
    for a in (ax_in, ax_out):
        a.set_xticks([])
        a.set_yticks([])
    fig.subplots_adjust(wspace=0.3)  # fixed spacing: a layout engine would double the drawing time
    return fig, out


def conv_explorer(image: np.ndarray, kernel_size: int = 3, stride: int = 1, padding: int = 0) -> w.VBox:
    """Kernel size, stride and padding sliders over ``conv_figure``: watch the feature map's size change."""

    def draw(kernel_size, stride, padding):
        _, out = conv_figure(image, kernel_size, stride, padding)
        return None if out is None else f"output {out.shape[0]}×{out.shape[1]}"

    return explore(draw,
                   kernel_size=w.IntSlider(value=kernel_size, min=1, max=7, description="kernel K"),
                   stride=w.IntSlider(value=stride, min=1, max=4, description="stride S"),
                   padding=w.IntSlider(value=padding, min=0, max=3, description="padding P"))


# -- polynomial degree: a hyper-parameter chosen on validation data ---------------------------------------

def polynomial_fit(x: np.ndarray, y: np.ndarray, degree: int) -> np.polynomial.Polynomial:
    """The degree-``degree`` polynomial w* minimising the training MSE (least squares, closed form).

    (``Polynomial.fit`` maps x to [−1, 1] first, which keeps high degrees well conditioned.)
    """
    check_int("polynomial_fit", "degree", degree, low=0)
    return np.polynomial.Polynomial.fit(np.ravel(x), np.ravel(y), degree)


def polynomial_errors(x_train, y_train, x_val, y_val, degrees) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation mean squared error of ``polynomial_fit`` for each degree."""
    train, val = [], []
    for d in degrees:
        p = polynomial_fit(x_train, y_train, d)
        train.append(np.mean((p(np.ravel(x_train)) - np.ravel(y_train)) ** 2))
        val.append(np.mean((p(np.ravel(x_val)) - np.ravel(y_val)) ** 2))
    return np.array(train), np.array(val)


def _split(x, y, x_val, y_val):
    if x_val is not None:
        return x, y, x_val, y_val
    from .data import train_test_split

    x_tr, x_va, y_tr, y_va = train_test_split(np.asarray(x), np.asarray(y), test_size=0.3, rng=0)
    return x_tr, y_tr, x_va, y_va


def polynomial_figure(x, y, degree: int, x_val=None, y_val=None, max_degree: int = 15):
    """Fit a polynomial of ``degree`` on the training points; draw it with the train/validation points,
    and the two errors for every degree up to ``max_degree`` (validation picks the degree).
    Without ``x_val`` a fixed 30 % of (x, y) is held out. Returns (fig, (train_mse, val_mse) per degree)."""
    check_int("polynomial_figure", "max_degree", max_degree, low=0)
    check_int("polynomial_figure", f"degree (in [0, max_degree = {max_degree}])", degree, low=0, high=max_degree)
    x_tr, y_tr, x_va, y_va = _split(x, y, x_val, y_val)
    degrees = np.arange(max_degree + 1)
    train_err, val_err = polynomial_errors(x_tr, y_tr, x_va, y_va, degrees)
    fig, (ax_fit, ax_err) = plt.subplots(1, 2, figsize=(9, 3.4))
    all_x = np.concatenate([np.ravel(x_tr), np.ravel(x_va)])
    all_y = np.concatenate([np.ravel(y_tr), np.ravel(y_va)])
    grid = np.linspace(all_x.min(), all_x.max(), 300)
    ax_fit.plot(np.ravel(x_tr), np.ravel(y_tr), "o", color="C0", ms=4, label="training")
    ax_fit.plot(np.ravel(x_va), np.ravel(y_va), "s", color="C1", ms=4, label="validation")
    ax_fit.plot(grid, polynomial_fit(x_tr, y_tr, degree)(grid), color="k", lw=1.5, label=f"degree {degree}")
    margin = 0.5 * (all_y.max() - all_y.min())
    ax_fit.set_ylim(all_y.min() - margin, all_y.max() + margin)  # a wild high-degree fit leaves the frame
    ax_fit.legend(fontsize="small")
    ax_fit.set_title("the fitted model f(x; w*)")
    ax_err.semilogy(degrees, train_err, "o-", color="C0", ms=4, label="training MSE")
    ax_err.semilogy(degrees, val_err, "s-", color="C1", ms=4, label="validation MSE")
    ax_err.axvline(degree, color="k", lw=1)
    best = int(degrees[np.argmin(val_err)])
    ax_err.axvline(best, color="C1", lw=1, ls="--", label=f"best on validation: {best}")
    ax_err.yaxis.set_minor_formatter(plt.NullFormatter())  # labels on minor log ticks cost a lot of drawing
    ax_err.set_xlabel("degree (a hyper-parameter)")
    ax_err.legend(fontsize="small")
    fig.subplots_adjust(wspace=0.3)  # fixed spacing: a layout engine would double the drawing time
    return fig, (train_err, val_err)


def _blit_png(canvas, figure, background, artists) -> bytes:
    """Restore ``background`` (a bitmap of the figure without ``artists``), draw ``artists`` on it, encode a PNG."""
    import io

    from PIL import Image

    canvas.restore_region(background)
    for artist in artists:
        artist.axes.draw_artist(artist)
    buf = io.BytesIO()
    Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def polynomial_explorer(x, y, degree: int = 3, degrees=(0, 15), x_val=None, y_val=None) -> w.VBox:
    """A degree slider over ``polynomial_figure``, drawn once: a move refits one polynomial and redraws only the
    fitted curve, the degree marker and the legend (the errors of every degree are computed once)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    check_int("polynomial_explorer", "degrees[0]", degrees[0], low=0)
    check_int("polynomial_explorer", f"degrees[1] (>= degrees[0] = {degrees[0]})", degrees[1], low=degrees[0])
    fig, (train_err, val_err) = polynomial_figure(x, y, degree, x_val, y_val, max_degree=degrees[1])
    plt.close(fig)  # kept out of pyplot: the cell shows the widget, not a second copy of the figure
    fig.set_dpi(80)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9)  # fixed margins: no tight bounding box
    canvas = FigureCanvasAgg(fig)
    ax_fit, ax_err = fig.axes[:2]
    fit_line, marker, legend = ax_fit.lines[2], ax_err.lines[2], ax_fit.get_legend()
    dynamic = [fit_line, marker, legend]
    for artist in dynamic:
        artist.set_animated(True)
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    x_tr, y_tr, _, _ = _split(x, y, x_val, y_val)
    grid = fit_line.get_xdata()
    image = w.Image(format="png", layout=w.Layout(max_width="100%"))
    status = w.HTML()

    def show(d: int) -> None:
        status.value = f"degree {d}: fitting …"  # the cheap part first
        fit_line.set_ydata(polynomial_fit(x_tr, y_tr, d)(grid))
        fit_line.set_label(f"degree {d}")
        legend.get_texts()[2].set_text(f"degree {d}")
        marker.set_xdata([d, d])
        image.value = _blit_png(canvas, fig, background, dynamic)
        status.value = f"degree {d}: training MSE {train_err[d]:.4f}, validation MSE {val_err[d]:.4f}"

    slider = w.IntSlider(value=degree, min=degrees[0], max=degrees[1], description="degree", continuous_update=False)
    slider.observe(lambda change: show(change["new"]), names="value")
    show(degree)
    return w.VBox([w.HBox([slider]), status, image])


# -- a live loss plot during fit -------------------------------------------------------------------------

class LiveLossPlot:
    """A ``fit`` callback that redraws ``plot_history`` in one figure while training runs.

    Use: ``fit(..., callback=live_loss_plot(), callback_every=20)``. In Jupyter the figure updates in
    place (a display handle); elsewhere it is only drawn, and ``.figure`` can be saved.
    """

    def __init__(self, metrics=("loss",)):
        from matplotlib.figure import Figure  # not pyplot: the cell does not show a second copy at its end

        self.metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        if not self.metrics:
            raise ValueError("LiveLossPlot: metrics must name at least one metric, e.g. ('loss',), got ()")
        self.figure = Figure(figsize=(5 * len(self.metrics), 3.4))
        self.axes = list(self.figure.subplots(1, len(self.metrics), squeeze=False)[0])
        self.calls = 0
        self._handle = None

    def __call__(self, history: History) -> None:
        for a in self.axes:
            a.clear()
        plot.plot_history(history, ax=self.axes, metrics=self.metrics)
        self.calls += 1
        from IPython import get_ipython

        if get_ipython() is None:
            return
        import io

        from IPython.display import Image, display

        png = io.BytesIO()
        self.figure.savefig(png, format="png", bbox_inches="tight")  # PNG bytes: shown the same by every front end
        if self._handle is None:
            self._handle = display(Image(data=png.getvalue()), display_id=True)
        else:
            self._handle.update(Image(data=png.getvalue()))


def live_loss_plot(metrics=("loss",)) -> LiveLossPlot:
    """A live training-curve callback for ``fit(callback=..., callback_every=N)``."""
    return LiveLossPlot(metrics)

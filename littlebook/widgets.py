"""Interactive explorers for JupyterLab: sliders and buttons (ipywidgets) wired to littlebook's own pieces.

Nothing is computed or drawn here that lives elsewhere: runs are ``runs.train_curve`` / ``runs.LiveTrainer``
(``fit``'s loop), gradient norms ``train.layer_grad_norms``, polynomial fits ``regression``, convolutions
``conv.Conv2d``; figures are ``plot.TrainingFigure``, ``plot.DepthFigure``, ``plot.ConvFigure``,
``plot.PolynomialFigure``. Each is built once and redrawn in place (``plot.Blitter``): a move costs the
computation plus the few artists that changed. Every explorer writes a one-line status first, so a move shows at
once even when the figure takes longer. ``explore(draw, **sliders)`` replots a chapter's own draw function;
``explore_figure(blitter, update, **sliders)`` updates a chapter's figure in place.

A setting that makes training diverge is not an error here: the run stops, and the figure says at which step.
``lr_explorer`` also trains live (TensorFlow-Playground style): Play/Pause, Step and Reset drive a ``LiveTrainer``,
one model trained a few steps per tick while η (and the batch size) can change mid-run.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np

from . import plot
from .functional import check_float, check_int
from .optim import SGD
from .regression import polynomial_errors, polynomial_fit
from .runs import LiveTrainer, train_fresh
from .train import History, layer_grad_norms

__all__ = ["explore", "explore_figure", "log_slider", "lr_explorer", "depth_explorer", "conv_explorer",
           "polynomial_explorer", "LiveLossPlot", "live_loss_plot"]


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


def explore_figure(blitter: plot.Blitter, update: Callable[..., str | None], *,
                   after_draw: Callable[..., None] | None = None, **controls: w.ValueWidget) -> w.VBox:
    """Show ``controls`` above one figure that is updated in place: ``update(**values)`` changes the artists of
    ``blitter`` (a ``plot.Blitter``: set_data, set_text…) and may return a status line; only those artists are
    redrawn. For a figure that is cheap to change but costly to replot; ``explore`` replots from scratch.
    ``after_draw(**values)``, if given, runs once the new figure is shown: the moment to prepare the next move.
    """
    if after_draw is not None and not callable(after_draw):
        raise TypeError(f"explore_figure: after_draw must be a function or None, got {after_draw!r}")
    if not isinstance(blitter, plot.Blitter):
        raise TypeError(f"explore_figure: blitter must be a littlebook.plot.Blitter, got {type(blitter).__name__}")
    _check_controls("explore_figure", controls)
    image = _image_for(blitter.figure)
    status = w.HTML(layout=w.Layout(height="1.6em"))

    def show(**values) -> None:
        shown = _shown(values)
        status.value = f"computing {shown} …"  # the cheap part first: visible before the figure is ready
        try:
            text = update(**values)
        except Exception as error:  # a callback's exception would vanish into an undisplayed output: say it here
            status.value = f"<b style='color:#d62728'>{shown}: {type(error).__name__}: {error}</b>"
            raise
        image.value = blitter.png()
        status.value = shown if text is None else text
        if after_draw is not None:
            after_draw(**values)

    _on_release(controls)
    w.interactive_output(show, controls)
    box = w.VBox([w.HBox(list(controls.values())), status, image])
    box.figure = blitter.figure  # the matplotlib figure behind the image, e.g. to save it
    return box


def _image_for(figure) -> w.Image:
    """An Image widget at the figure's own pixel width (JupyterLab would otherwise stretch it, blurred), never wider
    than the output area."""
    width = int(round(figure.get_figwidth() * figure.dpi))
    return w.Image(format="png", width=str(width), layout=w.Layout(max_width="100%", height="auto"))


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


# -- the learning-rate explorer, with live training ---------------------------------------------------------------

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


def _lr_text(lr: float) -> str:
    """η as the slider shows it (two significant digits), without an exponent: 0.18, 1, 100, 0.001."""
    return f"{float(f'{lr:.2g}'):g}"


class _LrExplorer:
    """The state and the callbacks of one ``lr_explorer``: full runs per slider notch (cached, deterministic) and
    one ``LiveTrainer`` that Play/Step advance; both drawn by one ``plot.TrainingFigure``."""

    def __init__(self, make_model, loss_fn, data, lr, optimizer, epochs, batch_size, val_data, rng, metrics):
        X, y = (np.asarray(a) for a in data)
        initial = make_model()  # built once; every run trains a copy of it
        self.make = lambda: copy.deepcopy(initial)
        self.data, self.loss_fn, self.optimizer, self.epochs = (X, y), loss_fn, optimizer, epochs
        self.val_data, self.rng, self.metrics = val_data, rng, metrics
        self.trainer = LiveTrainer(self.make, loss_fn, (X, y), lr, batch_size, optimizer=optimizer, rng=rng,
                                   metrics=metrics)
        self.view = plot.TrainingFigure(X, y, self._steps(batch_size), accuracy=self.trainer.use_accuracy,
                                        validation=val_data is not None)
        self.image = _image_for(self.view.figure)
        self.status = w.HTML()
        self.status.add_class("lb-live-status")
        self.live, self.last_tick, self.runs = False, 0.0, {}  # runs: (lr, batch size) → (model, History)

    def _steps(self, batch_size: int) -> int:
        return math.ceil(len(self.data[0]) / batch_size) * self.epochs

    def full_run(self, lr: float) -> None:
        text, batch_size = _lr_text(lr), self.trainer.batch_size
        self.status.value = f"lr={text}: training {self.epochs} epochs …"  # the cheap part first: visible at once
        key = (float(lr), batch_size)
        if key not in self.runs:  # a notch seen before is redrawn without retraining
            self.runs[key] = train_fresh(self.make, self.loss_fn, self.data, lr, optimizer=self.optimizer,
                                         epochs=self.epochs, batch_size=batch_size, val_data=self.val_data,
                                         rng=self.rng, metrics=self.metrics)
        model, history = self.runs[key]
        self.view.total_steps = self._steps(batch_size)
        message = (f"diverged at step {history.diverged_at}\ntry a lower learning rate"
                   if history.diverged_at is not None else None)
        self.view.update(history, model, f"learning rate {text}", message)
        self.image.value = self.view.png()
        self.status.value = _summary(history, f"lr={text}")

    def live_status(self) -> str:
        t = self.trainer
        head = f"live: step {t.steps} · epoch {t.epoch:.1f} · lr {_lr_text(t.lr)} · batch {t.batch_size}"
        if t.diverged_at is not None:
            return f"{head} · <b style='color:#d62728'>diverged at step {t.diverged_at}: {t.reason}</b> " \
                   "— lower η and press Reset"
        recent = t.recent_loss()
        return head + ("" if recent is None else f" · loss (mean of the last 10 steps) ≈{recent:.4f}")

    def advance(self, n: int, lr: float) -> None:
        """n live steps (the first press switches from the slider's full run to the live model), then redraw."""
        t = self.trainer
        if not self.live:
            self.live = True
            t.set_lr(lr)
        t.step(n)
        self.status.value = self.live_status()  # the step count first, then the figure
        message = (f"diverged at step {t.diverged_at}\n{t.reason}\nlower η, press Reset"
                   if t.diverged_at is not None else None)
        self.view.update(t.history, t.model, f"live: step {t.steps}, learning rate {_lr_text(t.lr)}", message)
        self.image.value = self.view.png()

    def set_lr(self, lr: float) -> None:
        if self.live:
            self.trainer.set_lr(lr)  # the running model continues at the new rate from its next step
            self.status.value = self.live_status()
        else:
            self.full_run(lr)

    def set_batch_size(self, batch_size: int, lr: float) -> None:
        self.trainer.set_batch_size(batch_size)
        if self.live:
            self.status.value = self.live_status()
        else:
            self.full_run(lr)

    def reset(self, lr: float) -> None:
        self.trainer.reset()
        self.live = False
        self.full_run(lr)


def _live_controls(explorer: _LrExplorer, lr_slider, per_tick: int, interval: int) -> list:
    """Play/Pause, Step and Reset, wired to the explorer's live trainer."""
    import time

    play = w.Play(value=0, min=0, max=10**9, interval=interval, show_repeat=False, description="play",
                  tooltip="train one model live, a few steps per tick")
    step = w.Button(description="Step", tooltip=f"{per_tick} training step(s)", layout=w.Layout(width="70px"))
    reset = w.Button(description="Reset", tooltip="back to step 0: the same initial weights",
                     layout=w.Layout(width="70px"))

    def on_tick(change) -> None:
        # The front end ticks every ``interval`` ms whether or not the kernel keeps up; ticks that queued while the
        # last one was drawn arrive at once: skip them, so that Pause takes effect immediately.
        if not play.playing or time.monotonic() - explorer.last_tick < 0.5 * interval / 1000:
            return
        explorer.advance(per_tick, lr_slider.value)
        explorer.last_tick = time.monotonic()
        if explorer.trainer.diverged_at is not None:
            play.playing = False

    def on_step(_) -> None:
        explorer.advance(per_tick, lr_slider.value)

    def on_reset(_) -> None:
        play.playing = False
        explorer.reset(lr_slider.value)

    play.observe(on_tick, names="value")
    step.on_click(on_step)
    reset.on_click(on_reset)
    return [play, step, reset]


def lr_explorer(make_model, loss_fn, data, lr: float = 0.1, lrs=(1e-4, 10.0), *, optimizer=SGD, epochs: int = 5,
                batch_size: int = 32, val_data=None, rng=0, metrics=(), live: bool = True, batch_sizes=None,
                steps_per_tick: int | None = None, interval: int = 150) -> w.VBox:
    """A learning-rate slider (log scale, ``lrs`` = (min, max)) that retrains ``epochs`` from the same initial
    weights (``runs.train_fresh``: ``fit`` with ``optimizer(params, lr=η)``) and redraws the loss, the accuracy
    (``metrics=("accuracy",)``) and, for 2-D inputs, the decision regions, in place.

    With ``live`` (the default) Play/Pause, Step and Reset train ONE model tick by tick (``runs.LiveTrainer``;
    ``steps_per_tick`` steps every ``interval`` ms, default: a quarter of an epoch, at least 2): the slider then
    changes η of the running model from its next step, and ``batch_sizes`` (a list) adds a batch-size slider that
    does the same. A diverged live run stops and says at which step and why; Reset goes back to step 0 (the same
    initial weights) and to the slider's full run.
    """
    explorer = _LrExplorer(make_model, loss_fn, data, lr, optimizer, epochs, batch_size, val_data, rng, metrics)
    lr_slider = log_slider(lr, *lrs)
    lr_slider.observe(lambda change: explorer.set_lr(change["new"]), names="value")
    controls = [lr_slider]
    if batch_sizes is not None:
        sizes = sorted(set(int(b) for b in batch_sizes) | {int(batch_size)})
        batch_slider = w.SelectionSlider(options=sizes, value=int(batch_size), description="batch size",
                                         continuous_update=False)
        batch_slider.observe(lambda change: explorer.set_batch_size(change["new"], lr_slider.value), names="value")
        controls.append(batch_slider)
    if live:
        per_tick = steps_per_tick or max(2, math.ceil(len(explorer.data[0]) / batch_size / 4))
        controls += _live_controls(explorer, lr_slider, per_tick, interval)
    explorer.full_run(lr)
    box = w.VBox([w.HBox(controls), explorer.status, explorer.image])
    box.figure = explorer.view.figure  # the matplotlib figure behind the image, e.g. to save it
    return box


# -- depth: vanishing gradients and residual connections ----------------------------------------------------------

def depth_explorer(make_model, loss_fn, data, depth: int = 4, depths=(1, 12), *, lr: float = 0.1,
                   optimizer=SGD, epochs: int = 5, batch_size: int = 32, rng=0, grad_samples: int = 256) -> w.VBox:
    """A depth slider: for ``make_model(depth)`` (or each of a dict {label: make_model}) the per-layer gradient
    norms at initialisation (``train.layer_grad_norms`` on the first ``grad_samples`` samples) and the training
    loss of ``epochs`` of ``fit``, drawn in place (``plot.DepthFigure``).

    Each depth is computed once. Training two networks takes longer than a slider should make you wait, so once a
    depth is drawn, the two next to it are computed in a background thread while you look (``_Prefetch``): a
    one-step move then only redraws. ``make_model`` is therefore also called from that thread: it must build a
    new model from its own seed each time, as ``make_model(depth)`` in chapter 5 does.
    """
    check_int("depth_explorer", "depths[0]", depths[0])
    check_int("depth_explorer", f"depths[1] (>= depths[0] = {depths[0]})", depths[1], low=depths[0])
    makers = make_model if isinstance(make_model, dict) else {"model": make_model}
    X, y = data

    def compute(d: int, loss_fn=loss_fn):
        norms = {k: layer_grad_norms(m(d), loss_fn, X[:grad_samples], y[:grad_samples])[1]
                 for k, m in makers.items()}
        runs = {k: train_fresh(lambda m=m: m(d), loss_fn, data, lr, optimizer=optimizer, epochs=epochs,
                               batch_size=batch_size, rng=rng)[1] for k, m in makers.items()}
        return norms, runs

    background_loss = copy.deepcopy(loss_fn)  # a loss keeps its last inputs for backward: one per thread
    results = _Prefetch(compute, background=lambda d: compute(d, background_loss))
    norms, runs = results.get(depth)
    first_loss = max(h.step_loss[0] for h in runs.values() if h.step_loss)
    layers = len(next(iter(norms.values()))) - depth + depths[1]  # the number of weight layers at the deepest
    view = plot.DepthFigure(list(makers), layers, math.ceil(len(X) / batch_size) * epochs, 1.5 * first_loss)

    def update(depth: int) -> str:
        norms, runs = results.get(depth)
        view.update(depth, norms, runs)
        return "; ".join(_summary(h, f"{k}, depth {depth}") for k, h in runs.items())

    def next_moves(depth: int) -> None:
        results.prefetch([d for d in (depth + 1, depth - 1) if depths[0] <= d <= depths[1]])

    slider = w.IntSlider(value=depth, min=depths[0], max=depths[1], description="depth")
    box = explore_figure(view.blitter, update, after_draw=next_moves, depth=slider)
    box.results = results  # the computed depths, e.g. to wait for the background: box.results.wait()
    return box


class _Prefetch:
    """``get(key)`` returns ``compute(key)``, each key computed once; ``prefetch(keys)`` computes keys ahead in one
    background thread (``background(key)``: the same computation with objects of its own), while the reader looks.

    Safe because the background's work shares nothing that changes: fresh models from their own seeds, its own
    loss object, its own record of the forward pass (``nn.Module._pass`` is per thread). ``get`` of a key the
    background is computing waits for it rather than computing it twice; a move elsewhere cancels the keys not yet
    started. An exception in the background is not shown there (it would land in whichever cell runs then): that
    key is computed again by ``get``, in the reader's thread, where the error is reported.
    """

    def __init__(self, compute: Callable, background: Callable):
        from concurrent.futures import ThreadPoolExecutor

        self._compute, self._background = compute, background
        self._done: dict = {}
        self._queued: dict = {}  # key -> Future, touched only by the reader's thread
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="littlebook-prefetch")

    def get(self, key):
        if key in self._done:
            return self._done[key]
        future = self._queued.pop(key, None)
        for other in self._queued.values():
            other.cancel()  # the reader moved elsewhere; one already running finishes
        if future is not None and not future.cancel():  # running or finished: its result is nearer than a new run
            try:
                return future.result()
            except Exception:
                pass  # computed again below, so that the error is raised here
        self._done[key] = self._compute(key)
        return self._done[key]

    def prefetch(self, keys) -> None:
        self._queued = {k: f for k, f in self._queued.items() if not f.done()}
        for key in keys:
            if key not in self._done and key not in self._queued:
                self._queued[key] = self._pool.submit(self._run, key)

    def _run(self, key):
        with np.errstate(all="ignore"):  # per thread: a warning here would print into another cell's output
            result = self._background(key)
        self._done[key] = result
        return result

    def wait(self) -> None:
        """Block until the background has finished what it started (tests, or before timing something)."""
        for future in list(self._queued.values()):
            if not future.cancelled():
                future.exception()

    def computed(self) -> list:
        """The keys computed so far, in order."""
        return sorted(self._done)


# -- convolution: output size from kernel, stride, padding ---------------------------------------------------------

def _edge_kernel(k: int) -> np.ndarray:
    """A K×K vertical-edge detector: +1 on the left columns, −1 on the right (0 in the middle column)."""
    return np.tile(np.sign(np.linspace(1.0, -1.0, k)), (k, 1))


def conv_explorer(image: np.ndarray, kernel_size: int = 3, stride: int = 1, padding: int = 0) -> w.VBox:
    """Kernel size, stride and padding sliders over one filter (a vertical-edge detector) applied to a 2-D
    ``image`` (H, W) by ``conv.Conv2d``: the padded input with its first windows, and the feature map, whose size
    follows ⌊(H + 2P − K)/S⌋ + 1 (``plot.ConvFigure``)."""
    from .conv import Conv2d  # imported here: only this explorer needs it

    check_int("conv_explorer", "kernel_size (in [1, 7])", kernel_size, high=7)
    check_int("conv_explorer", "stride (in [1, 4])", stride, high=4)
    check_int("conv_explorer", "padding (in [0, 3])", padding, low=0, high=3)
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"conv_explorer: expected a 2-D image (H, W), got shape {image.shape}")
    view = plot.ConvFigure(image)

    def update(kernel_size: int, stride: int, padding: int) -> str:
        if kernel_size > min(image.shape) + 2 * padding:
            view.update(kernel_size, stride, padding, None)
            return f"kernel {kernel_size}×{kernel_size} does not fit in the padded input"
        conv = Conv2d(1, 1, kernel_size, stride=stride, padding=padding, bias=False, dtype=np.float64)
        conv.weight.value[0, 0] = _edge_kernel(kernel_size)
        out = conv(image[None, None])[0, 0]
        view.update(kernel_size, stride, padding, out)
        return f"output {out.shape[0]}×{out.shape[1]}"

    return explore_figure(view.blitter, update,
                          kernel_size=w.IntSlider(value=kernel_size, min=1, max=7, description="kernel K"),
                          stride=w.IntSlider(value=stride, min=1, max=4, description="stride S"),
                          padding=w.IntSlider(value=padding, min=0, max=3, description="padding P"))


# -- polynomial degree: a hyper-parameter chosen on validation data ---------------------------------------------------

def polynomial_explorer(x_train, y_train, x_val, y_val, degree: int = 3, degrees=(0, 15)) -> w.VBox:
    """A degree slider: the least-squares polynomial (``regression.polynomial_fit``) on the training points, and
    the training and validation errors of every degree, computed once (``plot.PolynomialFigure``)."""
    check_int("polynomial_explorer", "degrees[0]", degrees[0], low=0)
    check_int("polynomial_explorer", f"degrees[1] (>= degrees[0] = {degrees[0]})", degrees[1], low=degrees[0])
    check_int("polynomial_explorer", f"degree (in degrees = {degrees})", degree, low=degrees[0], high=degrees[1])
    train_err, val_err = polynomial_errors(x_train, y_train, x_val, y_val, range(degrees[1] + 1))
    all_x = np.concatenate([np.ravel(x_train), np.ravel(x_val)])
    grid = np.linspace(all_x.min(), all_x.max(), 300)
    view = plot.PolynomialFigure(x_train, y_train, x_val, y_val, train_err, val_err, grid)

    def update(degree: int) -> str:
        view.update(degree, polynomial_fit(x_train, y_train, degree)(grid))
        return f"degree {degree}: training MSE {train_err[degree]:.4f}, validation MSE {val_err[degree]:.4f}"

    slider = w.IntSlider(value=degree, min=degrees[0], max=degrees[1], description="degree")
    return explore_figure(view.blitter, update, degree=slider)


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

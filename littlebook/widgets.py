"""Interactive explorers for JupyterLab, built on ipywidgets.

Every explorer is a plain plotting function plus sliders: ``explore(draw, lr=log_slider(...))``
calls ``draw(lr=...)`` once now and again whenever a slider moves, redrawing the figure in place.
Tests and headless runs call the plain function directly: ``lr_figure``, ``batch_size_figure``,
``depth_figure``, ``conv_figure``, ``polynomial_figure`` each return (figure, what was computed).

A setting that makes training diverge is not an error here: ``train_curve`` returns the history up to
the failing step, and the figure says "diverged at step N — try a lower learning rate".
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
    "explore", "log_slider",
    "train_curve", "lr_figure", "lr_explorer",
    "batch_size_figure", "batch_size_explorer",
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
    for name, c in controls.items():
        if not isinstance(c, w.ValueWidget):
            raise TypeError(f"explore: control {name!r} must be an ipywidgets slider or other value widget, "
                            f"got {c!r}")
    out = w.Output()

    def redraw(**values):
        with out:
            out.clear_output(wait=True)
            result = draw(**values)
            plt.show()
            if result is not None:
                print(result)

    for c in controls.values():
        if hasattr(c, "continuous_update"):
            c.continuous_update = False  # retrain on release, not on every pixel of a drag
    w.interactive_output(redraw, controls)
    return w.VBox([w.HBox(list(controls.values())), out])  # the cell's value: Jupyter displays it


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


def lr_explorer(make_model, data, lr: float = 0.1, lrs=(1e-4, 10.0), epochs: int = 5, batch_size: int = 32,
                loss_fn=None, optimizer="sgd", val_data=None, rng=0) -> w.VBox:
    """A learning-rate slider (log scale, ``lrs`` = (min, max)) that retrains and redraws ``lr_figure``."""

    def draw(lr):
        _, history = lr_figure(make_model, data, lr, epochs, batch_size, loss_fn, optimizer, val_data, rng)
        return _summary(history, f"lr={lr:.2g}")

    return explore(draw, lr=log_slider(lr, *lrs))


def batch_size_figure(make_model, data, batch_size: int, lr: float = 0.1, epochs: int = 3, loss_fn=None,
                      optimizer="sgd", rng=0):
    """Train with mini-batches of ``batch_size`` and plot the loss of every step against epochs (passes
    over the data), so that small noisy batches and large smooth ones share one x axis. Returns (fig, history)."""
    n = len(data[0])
    history = _train(make_model(), data, lr, epochs, batch_size, loss_fn, optimizer, None, rng)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    seen = np.minimum(np.arange(1, history.steps + 1) * batch_size, np.repeat(np.arange(1, epochs + 1) * n,
                      math.ceil(n / batch_size))[:history.steps])
    ax.plot(seen / n, history.step_loss, color="C0", alpha=0.5, lw=1, label="loss of each mini-batch")
    if history.train_loss:
        ax.plot(np.arange(1, len(history.train_loss) + 1), history.train_loss, "o-", color="C0", label="epoch mean")
    if history.diverged_at is not None:
        ax.text(0.5, 0.5, f"diverged at step {history.diverged_at}\ntry a lower learning rate",
                transform=ax.transAxes, ha="center", va="center", color="C3")
    losses = np.asarray(history.step_loss)
    if len(losses) and np.isfinite(losses).all():
        ax.set_ylim(0.0, 1.05 * min(losses.max(), 2.0 * losses[0]))
    ax.set_xlabel("epochs (passes over the training set)")
    ax.set_ylabel("loss")
    ax.set_title(f"batch size {batch_size}: {history.steps} updates of the weights")
    ax.legend(loc="upper right", fontsize="small")
    fig.subplots_adjust(wspace=0.3)  # fixed spacing: a layout engine would double the drawing time
    return fig, history


def batch_size_explorer(make_model, data, batch_size: int = 32, batch_sizes=None, lr: float = 0.1, epochs: int = 3,
                        loss_fn=None, optimizer="sgd", rng=0) -> w.VBox:
    """A batch-size slider (powers of two up to the data set size by default) over ``batch_size_figure``."""
    n = len(data[0])
    if batch_sizes is None:
        batch_sizes = [2**k for k in range(int(math.log2(n)) + 1)]
    batch_sizes = sorted(set(batch_sizes) | {batch_size})

    def draw(batch_size):
        _, history = batch_size_figure(make_model, data, batch_size, lr, epochs, loss_fn, optimizer, rng)
        return _summary(history, f"batch size {batch_size}")

    return explore(draw, batch_size=w.SelectionSlider(options=batch_sizes, value=batch_size, description="batch size"))


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


def polynomial_explorer(x, y, degree: int = 3, degrees=(0, 15), x_val=None, y_val=None) -> w.VBox:
    """A degree slider over ``polynomial_figure``."""

    def draw(degree):
        _, (train_err, val_err) = polynomial_figure(x, y, degree, x_val, y_val, max_degree=degrees[1])
        return f"degree {degree}: training MSE {train_err[degree]:.4f}, validation MSE {val_err[degree]:.4f}"

    check_int("polynomial_explorer", "degrees[0]", degrees[0], low=0)
    check_int("polynomial_explorer", f"degrees[1] (>= degrees[0] = {degrees[0]})", degrees[1], low=degrees[0])
    return explore(draw, degree=w.IntSlider(value=degree, min=degrees[0], max=degrees[1], description="degree"))


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

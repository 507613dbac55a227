"""Plots the chapters share: training curves, decision boundaries, image grids, activation functions.

Every function draws into the ``ax`` (or ``axes``) you pass, or makes a new figure, and returns the
matplotlib objects it drew on, so a chapter can add to them. Nothing here touches global matplotlib
state (no ``plt.style.use``, no ``rcParams`` changes): a plot never changes how the next one looks.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from .functional import check_bool

__all__ = ["plot_history", "decision_grid", "decision_boundary", "image_grid", "activation_curves",
           "stride_padding_panels", "norm_cube", "batch_loss_curves",
           "expression_graph", "Blitter", "TrainingFigure", "DepthFigure", "ConvFigure", "PolynomialFigure",
           "fixed_figure", "DescentPanels", "BatchLossPanel"]

_METRICS = {"loss": ("step_loss", "train_loss", "val_loss"), "accuracy": ("step_acc", "train_acc", "val_acc")}


def _epoch_x(history, n: int) -> np.ndarray:
    """Step number at which each of the first ``n`` epochs ended (falls back to an even split)."""
    ends = list(getattr(history, "epoch_end", []))
    if len(ends) >= n:
        return np.asarray(ends[:n])
    per_epoch = history.steps / max(len(history.train_loss), 1)
    return per_epoch * np.arange(1, n + 1)


def plot_history(history, ax=None, metrics=("loss",)):
    """Per-step values (light) and per-epoch train/validation curves of a ``train.History``.

    ``metrics``: any of "loss", "accuracy"; one Axes per metric. ``ax``: an Axes (one metric) or a
    sequence of Axes (one per metric); new ones are made when None. Returns what ``ax`` would be:
    the Axes for one metric, the list of Axes otherwise. A diverged run gets a vertical line and the
    label "diverged at step N".
    """
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    unknown = [m for m in metrics if m not in _METRICS]
    if unknown:
        raise ValueError(f"plot_history: unknown metric(s) {unknown}; choose from {sorted(_METRICS)}")
    if ax is None:
        _, ax = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
        axes = list(ax[0])
    else:
        axes = [ax] if not isinstance(ax, (list, tuple, np.ndarray)) else list(np.ravel(ax))
    if len(axes) != len(metrics):
        raise ValueError(f"plot_history: got {len(axes)} axes for {len(metrics)} metrics {metrics}")

    for a, metric in zip(axes, metrics, strict=True):
        step_name, train_name, val_name = _METRICS[metric]
        step_values = np.asarray(getattr(history, step_name), dtype=float)
        steps = np.arange(1, len(step_values) + 1)
        if len(step_values) and np.isfinite(step_values).any():
            a.plot(steps, step_values, color="C0", alpha=0.3, lw=1, label=f"{metric} per step")
        for name, color, label in ((train_name, "C0", "train (epoch mean)"), (val_name, "C1", "validation")):
            values = getattr(history, name)
            if values:
                a.plot(_epoch_x(history, len(values)), values, "o-", color=color, ms=4, label=label)
        if history.diverged_at is not None:
            a.axvline(history.diverged_at, color="C3", ls="--", lw=1)
            # x in data units, y in axes units: the label sits at the top of the line, whatever the scale.
            a.text(history.diverged_at, 0.97, f"diverged at step {history.diverged_at} ",
                   transform=a.get_xaxis_transform(), ha="right", va="top", color="C3")
        a.set_xlabel("step")
        a.set_ylabel(metric)
        if a.get_legend_handles_labels()[0]:
            a.legend(loc="upper right" if metric == "loss" else "lower right", fontsize="small")
    return axes[0] if len(axes) == 1 else axes


def decision_grid(model, X: np.ndarray, resolution: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The class ``model`` predicts at each point of a grid covering X (N, 2) with a 10 % margin.

    Returns (gx, gy, classes), each (resolution, resolution): argmax of (M, C) logits; for one output per
    point, logit > 0, or probability > 0.5 when the model ends in a Sigmoid.
    """
    gx, gy, grid, _ = _plane_grid(X, resolution)
    return gx, gy, _classes(model, grid).reshape(gx.shape)


def _plane_grid(X: np.ndarray, resolution: int):
    """A resolution × resolution grid over X (N, 2) with a 10 % margin: (gx, gy, points (M, 2), extent)."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-9
    extent = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    gx, gy = np.meshgrid(np.linspace(*extent[:2], resolution), np.linspace(*extent[2:], resolution))
    points = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(X.dtype if X.dtype.kind == "f" else np.float32)
    return gx, gy, points, extent


def decision_boundary(model, X: np.ndarray, y: np.ndarray, ax=None, resolution: int = 200):
    """Colour the plane by the class ``model`` predicts there, and draw the points (X, y) on top.

    X: (N, 2) inputs, y: (N,) integer classes. The model's outputs on a ``resolution``² grid are
    turned into classes by argmax over (M, C) logits, or by the sign of (M,)/(M, 1) binary logits.
    Returns the Axes.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary: expected X of shape (N, 2), got {X.shape}")
    y = np.asarray(y).reshape(-1)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    gx, gy, classes = decision_grid(model, X, resolution)
    n_classes = int(max(classes.max(), y.max() if len(y) else 0)) + 1
    levels = np.arange(n_classes + 1) - 0.5
    cmap = plt.get_cmap("tab10")
    ax.contourf(gx, gy, classes, levels=levels, cmap=cmap, vmin=-0.5, vmax=9.5, alpha=0.25)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=9.5, s=12, edgecolors="k", linewidths=0.3)
    ax.set_xlim(gx.min(), gx.max())
    ax.set_ylim(gy.min(), gy.max())
    ax.set_aspect("equal", adjustable="box")
    return ax


def image_grid(images, titles=None, ncols: int = 8, cmap: str = "gray", axes=None):
    """Show images (digits, filters, feature maps) in a grid, one per Axes, without ticks.

    images: (N, H, W) or (N, 1, H, W). ``titles``: N strings (or numbers). ``axes``: an existing
    array of at least N Axes; otherwise a new figure of ceil(N / ncols) rows. Each image is scaled to
    its own min..max (a filter's sign pattern matters, not its absolute size). Returns (fig, axes).
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"image_grid: expected images of shape (N, H, W) or (N, 1, H, W), got {np.shape(images)}")
    n = len(images)
    if titles is not None and len(titles) != n:
        raise ValueError(f"image_grid: got {len(titles)} titles for {n} images")
    if axes is None:
        ncols = max(1, min(ncols, n))
        nrows = max(1, math.ceil(n / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.3 * nrows), squeeze=False)
    else:
        axes = np.asarray(axes, dtype=object)
        fig = axes.flat[0].figure
        if axes.size < n:
            raise ValueError(f"image_grid: got {axes.size} axes for {n} images")
    for i, a in enumerate(axes.flat):
        a.set_axis_off()
        if i < n:
            a.imshow(images[i], cmap=cmap, interpolation="nearest")
            if titles is not None:
                a.set_title(str(titles[i]), fontsize="small")
    return fig, axes


def activation_curves(x=None, axes=None):
    """Plot sigmoid, tanh and ReLU and their derivatives, computed by the littlebook layers themselves.

    Each derivative is ``layer.backward(ones)`` after ``layer(x)``: the backward pass with ∂L/∂y = 1
    returns exactly f'(x), so the plot shows what backpropagation uses. ``x``: 1-D points (default
    401 points in [−5, 5]). ``axes``: two Axes (values, derivatives). Returns (fig, axes).
    """
    from .nn import ReLU, Sigmoid, Tanh

    x = np.linspace(-5.0, 5.0, 401) if x is None else np.asarray(x, dtype=float).reshape(-1)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    else:
        fig = axes[0].figure
    for i, layer in enumerate((Sigmoid(), Tanh(), ReLU())):
        name = type(layer).__name__.lower()
        value = layer(x)
        derivative = layer.backward(np.ones_like(x))
        axes[0].plot(x, value, color=f"C{i}", label=name)
        axes[1].plot(x, derivative, color=f"C{i}", label=f"{name}'")
    for a, title in zip(axes, ("activation f(x)", "derivative f'(x)"), strict=True):
        a.axhline(0, color="k", lw=0.5)
        a.axvline(0, color="k", lw=0.5)
        a.set_title(title)
        a.set_xlabel("x")
        a.legend(fontsize="small")
    return fig, axes


# -- chapter 6: attention and the transformer block ------------------------------------------------------

def _box(ax, x, y, text, width=1.6, height=0.5, color="#dde8f5"):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.04",
                                facecolor=color, edgecolor="k", lw=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=8)


def _arrow(ax, start, end, text=None):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", lw=0.9, color="k"))
    if text:
        ax.text((start[0] + end[0]) / 2 + 0.08, (start[1] + end[1]) / 2, text, fontsize=7, va="center",
                color="0.3")


def attention_diagrams(num_heads: int = 2, axes=None):
    """Two box-and-arrow drawings for chapter 6 (data flows bottom to top).

    Left, multi-head self-attention: x (T, D) → three projections W_Q, W_K, W_V → each split into ``num_heads``
    slices of d = D/H features → per head softmax(Q_h K_hᵀ/√d + M) V_h → the heads joined side by side (concat)
    → W_O → y. Right, the pre-norm transformer block: x + MHA(LN(x)), then + MLP(LN(·)), with the two residual
    paths drawn around their branches. ``axes``: two Axes; otherwise a new figure. Returns the axes.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 5.2), gridspec_kw={"width_ratios": [1.6, 1]})
    ax, bx = axes
    h_x = np.linspace(-1.6, 1.6, 3)                         # Q, K, V columns
    _box(ax, 0, 0, "x  (T, D)", color="#eeeeee")
    for xq, name in zip(h_x, "QKV"):
        _arrow(ax, (0, 0.25), (xq, 0.85))
        _box(ax, xq, 1.1, f"{name} = x W$_{name}^\\top$", width=1.3)
    head_x = np.linspace(-1.6, 1.6, num_heads)
    for i, xh in enumerate(head_x):
        for xq in h_x:
            _arrow(ax, (xq, 1.35), (xh, 2.05))
        _box(ax, xh, 2.4, f"head {i + 1}: d = D/{num_heads}\nsoftmax(Q$_h$K$_h^\\top$/√d + M) V$_h$",
             width=2.2, height=0.7, color="#fbe3c8")
        _arrow(ax, (xh, 2.75), (0, 3.35))
    ax.text(2.35, 1.75, f"split into\n{num_heads} heads", fontsize=7, color="0.3", va="center")
    _box(ax, 0, 3.6, "concat (join the heads)", width=2.4)
    _arrow(ax, (0, 3.85), (0, 4.3))
    _box(ax, 0, 4.55, "y = concat · W$_O^\\top$  (T, D)", width=2.6)
    ax.set(xlim=(-3, 3.2), ylim=(-0.5, 5.1), title="multi-head self-attention")
    ax.set_axis_off()

    _box(bx, 0, 0, "x", color="#eeeeee", width=1.0)
    for y0, branch in [(0.25, "MHA"), (2.45, "MLP")]:      # each branch: LN → layer, added back at ⊕
        _arrow(bx, (0, y0), (0, y0 + 0.35))
        _box(bx, 0, y0 + 0.6, "LayerNorm", width=1.4)
        _arrow(bx, (0, y0 + 0.85), (0, y0 + 1.15))
        _box(bx, 0, y0 + 1.4, "causal MHA" if branch == "MHA" else "MLP: Linear, ReLU, Linear", width=2.2,
             color="#fbe3c8" if branch == "MHA" else "#dff0d8")
        _arrow(bx, (0, y0 + 1.65), (0, y0 + 1.95))
        bx.text(0, y0 + 2.05, "⊕", ha="center", va="center", fontsize=14)
        bx.plot([0, 1.4, 1.4], [y0 - 0.05, y0 - 0.05, y0 + 2.05], color="k", lw=0.9)   # the residual path
        _arrow(bx, (1.4, y0 + 2.05), (0.12, y0 + 2.05))
        bx.text(1.5, y0 + 1.0, "residual", rotation=90, fontsize=7, color="0.3", va="center")
    _arrow(bx, (0, 4.6), (0, 4.95))
    _box(bx, 0, 5.15, "x + Attn(LN(x)), then + MLP(LN(·))", width=2.9, height=0.4, color="#eeeeee")
    bx.set(xlim=(-1.7, 2.0), ylim=(-0.5, 5.5), title="pre-norm transformer block")
    bx.set_axis_off()
    return axes


__all__ += ["attention_diagrams"]


# -- chapter 4: convolution positions and normalisation sets -------------------------------------------

def stride_padding_panels(image, kernel, stride: int = 1, padding: int = 0, axes=None):
    """Where a K×K filter lands for a given stride and padding, and the feature map it produces.

    Left: the zero-padded ``image`` (H, W) (padding drawn in a light background colour), a dot at the
    centre of every filter position and the first window outlined. Right: the feature map computed by
    ``littlebook.Conv2d`` (symmetric colours, 0 is white) with a colour bar, titled with the output-size
    formula ⌊(H + 2P − K)/S⌋ + 1. ``axes``: two Axes; otherwise a new figure. Returns the feature map (Ho, Wo).
    """
    from .conv import Conv2d  # imported here: only this figure needs it

    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if image.ndim != 2 or kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1]:
        raise ValueError(f"stride_padding_panels: expected a 2-D image and a square 2-D kernel, "
                         f"got shapes {image.shape} and {kernel.shape}")
    k = kernel.shape[0]
    layer = Conv2d(1, 1, k, stride=stride, padding=padding, bias=False, dtype=np.float64)
    layer.weight.value[0, 0] = kernel
    out = layer(image[None, None])[0, 0]
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(7.5, 3.2))
    ax_in, ax_out = axes
    shown = np.pad(image, padding, constant_values=np.nan)  # NaN: padding drawn in the background colour
    ax_in.imshow(shown, cmap="gray", interpolation="nearest")
    ax_in.set_facecolor("#cde")
    rows = (k - 1) / 2 + stride * np.arange(out.shape[0])
    cols = (k - 1) / 2 + stride * np.arange(out.shape[1])
    cy, cx = np.meshgrid(rows, cols, indexing="ij")
    ax_in.plot(cx.ravel(), cy.ravel(), "o", color="C1", ms=4, label="filter centres")
    ax_in.add_patch(plt.Rectangle((-0.5, -0.5), k, k, fill=False, ec="C1", lw=2))
    h, w = image.shape
    ax_in.set_title(f"input {h}×{w}, padding {padding}, stride {stride}", fontsize="small")
    ax_in.set_xlabel("column (padded)")
    ax_in.set_ylabel("row (padded)")
    vmax = max(float(np.abs(out).max()), 1e-12)
    im = ax_out.imshow(out, cmap="RdBu_r", interpolation="nearest", vmin=-vmax, vmax=vmax)
    ax_out.figure.colorbar(im, ax=ax_out, fraction=0.046, pad=0.04, label="response")
    ax_out.set_title(f"output ⌊({h} + 2·{padding} − {k})/{stride}⌋ + 1 = {out.shape[0]}", fontsize="small")
    ax_out.set_xlabel("output column")
    ax_out.set_ylabel("output row")
    for a in axes:
        a.set_xticks([])
        a.set_yticks([])
    return out


def norm_cube(ax, mask, title: str = "", averaged: str | None = None):
    """Draw an (N, C, S) block of activations (S = H·W pixels) in oblique projection, shading mask's cells.

    The shaded cells are one set of values that share a mean and a variance. The three visible faces
    are the first channel (front), the last pixel (top) and the last sample (right); the edges are
    labelled "N samples", "C channels", "H·W pixels". ``averaged``: a line under the cube naming the axes
    the statistics are taken over (e.g. "mean, var over (N, H, W)"). Returns the PolyCollection.
    """
    from matplotlib.collections import PolyCollection

    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3:
        raise ValueError(f"norm_cube: expected a mask of shape (N, C, H·W), got {mask.shape}")
    n_, c_, s_ = mask.shape

    def at(n, c, s):  # channels recede up and to the right
        return n + 0.5 * c, s + 0.4 * c

    quads, shade = [], []
    for n in range(n_):
        for s in range(s_):  # front face (first channel)
            quads.append([at(n, 0, s), at(n + 1, 0, s), at(n + 1, 0, s + 1), at(n, 0, s + 1)])
            shade.append((mask[n, 0, s], 1.0))
        for c in range(c_):  # top face (last pixel)
            quads.append([at(n, c, s_), at(n + 1, c, s_), at(n + 1, c + 1, s_), at(n, c + 1, s_)])
            shade.append((mask[n, c, s_ - 1], 0.85))
    for c in range(c_):
        for s in range(s_):  # right face (last sample)
            quads.append([at(n_, c, s), at(n_, c + 1, s), at(n_, c + 1, s + 1), at(n_, c, s + 1)])
            shade.append((mask[n_ - 1, c, s], 0.7))
    colors = [np.array([0.25, 0.5, 0.85] if on else [0.95, 0.95, 0.95]) * f for on, f in shade]
    cube = PolyCollection(quads, facecolors=colors, edgecolors="0.3", linewidths=0.5)
    ax.add_collection(cube)
    ax.text(n_ / 2, -0.4, "N samples", ha="center", va="top", fontsize="small")
    ax.text(-0.3, s_ / 2, "H·W\npixels", ha="right", va="center", fontsize="small")
    ax.text(n_ + 0.25 * c_ + 0.35, 0.2 * c_ - 0.1, "C channels", ha="left", va="top", fontsize="small",
            rotation=np.degrees(np.arctan2(0.4, 0.5)))
    if averaged:
        ax.text(0.5, -0.02, averaged, ha="center", va="top", transform=ax.transAxes, fontsize="small",
                color=(0.15, 0.35, 0.7))
    ax.set_xlim(-1.8, n_ + 0.5 * c_ + 2.2)
    ax.set_ylim(-1.3, s_ + 0.4 * c_ + 0.3)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title)
    return cube


def batch_loss_curves(batch_loss, eval_step, eval_loss, ax=None, target: float | None = None,
                      title: str | None = None, ylim=(0, 2.6)):
    """SGD's noise in one picture: the loss of every mini-batch (thin) and a loss evaluated every few steps (thick).

    batch_loss: (steps,) the loss of batch n at step n = 0, 1, …; eval_step, eval_loss: (k,) the steps at which
    the evaluated loss (e.g. on validation data) was measured and its values. ``target`` draws a dotted line.
    """
    if len(eval_step) != len(eval_loss):
        raise ValueError(f"batch_loss_curves: eval_step has {len(eval_step)} entries, eval_loss {len(eval_loss)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.3))
    ax.plot(np.arange(1, len(batch_loss) + 1), batch_loss, alpha=0.5, lw=1, label="loss of each batch")
    ax.plot(eval_step, eval_loss, lw=2, label="evaluated loss")
    if target is not None:
        ax.axhline(target, color="grey", ls=":", lw=1)
    ax.set(xlabel="step", ylabel="loss", ylim=ylim)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def expression_graph(nodes, edges, ax=None, title: str | None = None):
    """A computational graph as boxes and arrows.

    nodes: {name: (x, y, text)}, the box of each node at (x, y) with its text (e.g. forward value and gradient);
    edges: [(from_name, to_name), ...], an arrow from an input to the node that uses it.
    """
    missing = {n for edge in edges for n in edge} - set(nodes)
    if missing:
        raise ValueError(f"expression_graph: edges name unknown nodes {sorted(missing)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3))
    boxes = {name: ax.text(x, y, text, ha="center", va="center", fontsize="small", gid=name,
                           bbox={"boxstyle": "round,pad=0.4", "facecolor": "0.95", "edgecolor": "0.3"})
             for name, (x, y, text) in nodes.items()}
    for a, b in edges:  # from box edge to box edge: the patches clip the arrow
        ax.annotate("", xy=(0.5, 0.5), xycoords=boxes[b], xytext=(0.5, 0.5), textcoords=boxes[a],
                    arrowprops={"arrowstyle": "->", "color": "0.3", "shrinkA": 2, "shrinkB": 2,
                                "patchA": boxes[a].get_bbox_patch(), "patchB": boxes[b].get_bbox_patch()})
    xs, ys = [v[0] for v in nodes.values()], [v[1] for v in nodes.values()]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


# -- figures redrawn in place (for sliders and live training) ------------------------------------------------------

class Blitter:
    """A figure drawn once; each ``png()`` redraws only its moving ``artists`` on a stored bitmap of the rest.

    A slider that replots a whole figure pays for every tick label, legend and contour line again; here the
    static part (axes, ticks, contours, data points) is rendered once per set of axis limits and kept as a bitmap,
    and an update costs only the lines that moved plus the PNG encoding. ``artists`` are the ones the caller will
    change (``set_data``, ``set_text``…); they are marked animated, so a normal draw leaves them out of the bitmap.
    The bitmap is keyed by every axes' limits and scales: changing a limit redraws the static part once more.
    """

    def __init__(self, figure, artists, dpi: int = 72):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.figure, self.artists = figure, list(artists)
        figure.set_dpi(dpi)
        self.canvas = FigureCanvasAgg(figure)
        for artist in self.artists:
            artist.set_animated(True)
        self._backgrounds: dict = {}

    def _key(self) -> tuple:
        return tuple((ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale()) for ax in self.figure.axes)

    def png(self) -> bytes:
        """The figure as PNG bytes, with the artists as they are now."""
        import io

        from PIL import Image

        for artist in self.artists:
            artist.set_animated(True)  # again, if static() was called
        key = self._key()
        if key not in self._backgrounds:
            self.canvas.draw()  # everything but the animated artists
            self._backgrounds[key] = self.canvas.copy_from_bbox(self.figure.bbox)
        else:
            self.canvas.restore_region(self._backgrounds[key])
        for artist in self.artists:
            if artist.get_visible():
                artist.axes.draw_artist(artist)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(self.canvas.buffer_rgba())).save(buf, format="png", compress_level=1)
        return buf.getvalue()

    def _repr_png_(self) -> bytes:  # Jupyter shows a Blitter (or a figure class holding one) as this PNG
        return self.png()

    def static(self):
        """The figure with every artist drawn normally, e.g. to show it as a static figure in a chapter."""
        for artist in self.artists:
            artist.set_animated(False)
        self._backgrounds.clear()  # the next png() re-animates them and renders the static part again
        return self.figure


class TrainingFigure:
    """The learning-rate explorer's figure, built once and updated in place: the loss (per step and per epoch,
    train and validation), the accuracy (``accuracy=True``) and, for 2-D inputs with classes, the decision regions
    on a grid fixed at construction. ``update(history, model, title, message)`` changes only the curves, the regions
    and the texts; ``png()`` renders it (a ``Blitter``: the axes, ticks and data points are a cached bitmap).

    Axis limits move in powers of two (steps) and from the first loss (the same for every learning rate: same
    weights, same first batch), so the static part is re-rendered rarely.
    """

    def __init__(self, X, y, total_steps: int, accuracy: bool = False, validation: bool = False,
                 resolution: int = 60):
        from matplotlib.figure import Figure  # not pyplot: nothing is shown twice, nothing to close

        check_bool("TrainingFigure", "accuracy", accuracy)
        check_bool("TrainingFigure", "validation", validation)
        X = np.asarray(X)
        self.boundary = accuracy and X.ndim == 2 and X.shape[1] == 2
        self.accuracy, self.total_steps = accuracy, max(int(total_steps), 1)
        n = 1 + accuracy + self.boundary
        self.figure = Figure(figsize=(3.9 * n, 3.1))
        self.axes = list(self.figure.subplots(1, n, squeeze=False)[0])
        moving = self._curves(self.axes[0], "loss", "upper right", validation)
        self.loss_lines = moving[:3]
        self.div_line = self.axes[0].axvline(0, color="C3", ls="--", lw=1, visible=False)
        self.div_text = self.axes[0].text(0.5, 0.5, "", transform=self.axes[0].transAxes, ha="center",
                                          va="center", color="C3", fontsize="large", visible=False,
                                          bbox={"facecolor": "white", "edgecolor": "C3", "alpha": 0.9})
        self.title = self.axes[0].set_title(" ")
        moving += [self.div_line, self.div_text, self.title]
        if accuracy:
            self.acc_lines = self._curves(self.axes[1], "accuracy", "lower right", validation)
            self.axes[1].set_ylim(0.0, 1.02)
            moving += self.acc_lines
        if self.boundary:
            moving += self._regions(self.axes[-1], X, np.asarray(y).reshape(-1), resolution)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.88, wspace=0.3)
        self.blitter = Blitter(self.figure, moving)

    def _curves(self, ax, metric: str, where: str, validation: bool) -> list:
        lines = [ax.plot([], [], color="C0", alpha=0.35, lw=1, label=f"{metric} per step")[0],
                 ax.plot([], [], "o-", color="C0", ms=3, label="train (epoch mean)")[0],
                 ax.plot([], [], "o-", color="C1", ms=3, label="validation" if validation else None)[0]]
        ax.set(xlabel="step", ylabel=metric, xlim=(0, self.total_steps))
        ax.legend(loc=where, fontsize="small")
        return lines

    def _regions(self, ax, X, y, resolution: int) -> list:
        gx, _, self.grid, extent = _plane_grid(X, resolution)  # the same grid as decision_grid
        self.grid_shape = gx.shape
        cmap = plt.get_cmap("tab10")
        # The regions lie under the points, so both are redrawn (a cached bitmap cannot lie under the regions).
        self.regions = ax.imshow(np.zeros(gx.shape), origin="lower", extent=extent, cmap=cmap, vmin=-0.5, vmax=9.5,
                                 alpha=0.3, interpolation="nearest", aspect="auto")
        points = ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=9.5, s=9, edgecolors="k",
                            linewidths=0.3)
        ax.set(xlim=extent[:2], ylim=extent[2:], xlabel="$x_1$", ylabel="$x_2$", title="what the model predicts")
        return [self.regions, points]

    def update(self, history, model, title: str, message: str | None = None) -> None:
        steps = np.arange(1, history.steps + 1)
        ends = np.asarray(history.epoch_end)
        for lines, (per_step, train, val) in [(self.loss_lines, _METRICS["loss"])] + (
                [(self.acc_lines, _METRICS["accuracy"])] if self.accuracy else []):
            train_values, val_values = getattr(history, train), getattr(history, val)
            lines[0].set_data(steps, np.asarray(getattr(history, per_step), dtype=float))
            lines[1].set_data(ends[:len(train_values)], train_values)
            lines[2].set_data(ends[:len(val_values)], val_values)
        self.title.set_text(title)
        self.div_line.set_visible(history.diverged_at is not None)
        if history.diverged_at is not None:
            self.div_line.set_xdata([history.diverged_at, history.diverged_at])
        self.div_text.set_visible(message is not None)
        self.div_text.set_text(message or "")
        self._set_limits(history)
        if self.boundary:
            self.regions.set_data(_classes(model, self.grid).reshape(self.grid_shape))

    def _set_limits(self, history) -> None:
        """x: the planned steps, doubled as often as a live run needs; y: 1.05× the first loss, or 2.1× it when the
        loss rose above that."""
        xmax = self.total_steps
        while xmax < history.steps:
            xmax *= 2
        losses = np.asarray(history.step_loss, dtype=float)
        ymax = 1.0
        if len(losses) and np.isfinite(losses[0]) and losses[0] > 0:
            top = np.max(np.where(np.isfinite(losses), losses, 0))
            ymax = (1.05 if top <= 1.05 * losses[0] else 2.1) * losses[0]
        self.axes[0].set(xlim=(0, xmax), ylim=(0, ymax))
        if self.accuracy:
            self.axes[1].set_xlim(0, xmax)

    def png(self) -> bytes:
        return self.blitter.png()

    _repr_png_ = png  # shown as its PNG in a notebook


def _classes(model, points: np.ndarray) -> np.ndarray:
    """The class the model predicts at each point: argmax of (M, C) outputs; for one output per point (M,)/(M, 1),
    class 1 where the logit is > 0, or where the probability is > 0.5 if the model ends in a Sigmoid."""
    from .train import predict  # eval mode, batched

    out = predict(model, points)
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(axis=1)
    return (out.reshape(-1) > (0.5 if _ends_in_sigmoid(model) else 0.0)).astype(int)


def _ends_in_sigmoid(model) -> bool:
    """Whether the model's last layer is a Sigmoid: its outputs are probabilities, not logits (as for BCELoss)."""
    from .nn import Sequential, Sigmoid

    while isinstance(model, Sequential) and model.layers:
        model = model.layers[-1]
    return isinstance(model, Sigmoid)


def _decade_limits(values, floor: float = 1e-12) -> tuple[float, float]:
    """Log-axis limits at whole powers of ten around ``values``: they change only when a value crosses a decade."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > floor)]
    if not len(values):
        return floor, 1.0
    return 10.0 ** np.floor(np.log10(values.min())), 10.0 ** np.ceil(np.log10(values.max()))


class DepthFigure:
    """The depth explorer's figure, updated in place: ‖∂L/∂W‖ per layer at initialisation (log scale) and the
    training loss per step, one line per model family (e.g. "plain", "residual")."""

    def __init__(self, labels, max_layers: int, total_steps: int, max_loss: float):
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(9, 3.4))
        self.ax_grad, self.ax_loss = self.figure.subplots(1, 2)
        self.grad_lines = {k: self.ax_grad.semilogy([], [], "o-", ms=3, color=f"C{i}", label=k)[0]
                           for i, k in enumerate(labels)}
        self.loss_lines = {k: self.ax_loss.plot([], [], color=f"C{i}", alpha=0.8, lw=1, label=k)[0]
                           for i, k in enumerate(labels)}
        self.ax_grad.set(xlabel="layer (input side → output side)", ylabel="‖∂L/∂W‖ at initialisation",
                         title="gradient size per layer", xlim=(0.5, max_layers + 0.5))
        self.ax_loss.set(xlabel="step", ylabel="training loss", xlim=(0, total_steps), ylim=(0, 1.05 * max_loss))
        self.title = self.ax_loss.set_title(" ")
        for ax in (self.ax_grad, self.ax_loss):
            ax.legend(fontsize="small", loc="upper left" if ax is self.ax_grad else "upper right")
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.9, wspace=0.3)
        self.blitter = Blitter(self.figure, [*self.grad_lines.values(), *self.loss_lines.values(), self.title])

    def update(self, depth: int, norms: dict, histories: dict) -> None:
        """norms: {label: (layers,) gradient norms}; histories: {label: History} of the training runs."""
        for label, values in norms.items():
            self.grad_lines[label].set_data(np.arange(1, len(values) + 1), values)
            h = histories[label]
            self.loss_lines[label].set_data(np.arange(1, h.steps + 1), h.step_loss)
            self.loss_lines[label].set_label(label + (f" (diverged at step {h.diverged_at})" if h.diverged_at else ""))
        self.ax_grad.set_ylim(*_decade_limits(np.concatenate([np.ravel(v) for v in norms.values()])))
        self.title.set_text(f"training, depth {depth}")

    def png(self) -> bytes:
        return self.blitter.png()

    _repr_png_ = png  # shown as its PNG in a notebook


class ConvFigure:
    """The convolution explorer's figure: the zero-padded input with the first two filter windows, and the
    feature map, titled with the output-size formula ⌊(H + 2P − K)/S⌋ + 1. ``update`` moves everything in place."""

    def __init__(self, image):
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        self.image = np.asarray(image, dtype=np.float64)
        self.figure = Figure(figsize=(8, 3.8))
        self.ax_in, self.ax_out = self.figure.subplots(1, 2)
        self.im_in = self.ax_in.imshow(self.image, cmap="gray", interpolation="nearest")
        self.border = self.ax_in.add_patch(Rectangle((0, 0), 1, 1, fill=False, ec="C2", lw=1.5, ls=":"))
        self.windows = [self.ax_in.add_patch(Rectangle((0, 0), 1, 1, fill=False, ec=c, lw=2)) for c in ("C1", "C0")]
        self.im_out = self.ax_out.imshow(np.zeros((1, 1)), cmap="RdBu_r", interpolation="nearest")
        self.title_in, self.title_out = self.ax_in.set_title(" "), self.ax_out.set_title(" \n ")
        self.message = self.ax_out.text(0.5, 0.5, "", ha="center", va="center", transform=self.ax_out.transAxes,
                                        color="C3")
        for a in (self.ax_in, self.ax_out):
            a.set_xticks([])
            a.set_yticks([])
        self.figure.subplots_adjust(left=0.03, right=0.97, bottom=0.04, top=0.84, wspace=0.15)
        self.blitter = Blitter(self.figure, [self.im_in, self.border, *self.windows, self.im_out, self.title_in,
                                             self.title_out, self.message])

    def update(self, kernel_size: int, stride: int, padding: int, out) -> None:
        """``out``: the feature map (Ho, Wo) for these settings, or None if the kernel does not fit."""
        h, w = self.image.shape
        padded = np.pad(self.image, padding)
        self.im_in.set_data(padded)
        self.im_in.set_extent((-0.5, w + 2 * padding - 0.5, h + 2 * padding - 0.5, -0.5))
        self.ax_in.set(xlim=(-0.5, w + 2 * padding - 0.5), ylim=(h + 2 * padding - 0.5, -0.5))
        self.border.set(xy=(padding - 0.5, padding - 0.5), width=w, height=h, visible=padding > 0)
        self.title_in.set_text(f"input {h}×{w}, padding P={padding}")
        fits = out is not None
        for i, window in enumerate(self.windows):  # the first window and the one a stride to its right
            x0 = i * stride if i * stride + kernel_size <= w + 2 * padding else 0
            window.set(xy=(x0 - 0.5, -0.5), width=kernel_size, height=kernel_size, visible=fits)
        self.im_out.set_visible(fits)
        self.message.set_text("" if fits else f"kernel {kernel_size}×{kernel_size} does not fit\nin the padded input")
        if not fits:
            self.title_out.set_text(" \n ")
            return
        ho, wo = out.shape
        vmax = max(float(np.abs(out).max()), 1e-12)
        self.im_out.set_data(out)
        self.im_out.set_clim(-vmax, vmax)
        self.im_out.set_extent((-0.5, wo - 0.5, ho - 0.5, -0.5))
        self.ax_out.set(xlim=(-0.5, wo - 0.5), ylim=(ho - 0.5, -0.5))
        self.title_out.set_text(f"feature map {ho}×{wo}\n⌊({h} + 2·{padding} − {kernel_size})/{stride}⌋ + 1 = {ho}")

    def png(self) -> bytes:
        return self.blitter.png()

    _repr_png_ = png  # shown as its PNG in a notebook


class PolynomialFigure:
    """The polynomial-degree explorer's figure: the training and validation points with the fitted curve, and the
    training and validation errors of every degree (log scale) with a marker at the chosen one and at the best
    on validation. ``update(degree, curve)`` moves the curve and the marker."""

    def __init__(self, x_train, y_train, x_val, y_val, train_err, val_err, grid):
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(9, 3.4))
        ax_fit, ax_err = self.figure.subplots(1, 2)
        ax_fit.plot(np.ravel(x_train), np.ravel(y_train), "o", color="C0", ms=4, label="training")
        ax_fit.plot(np.ravel(x_val), np.ravel(y_val), "s", color="C1", ms=4, label="validation")
        self.curve, = ax_fit.plot(grid, np.zeros_like(grid), color="k", lw=1.5, label="degree ?")
        all_y = np.concatenate([np.ravel(y_train), np.ravel(y_val)])
        margin = 0.5 * (all_y.max() - all_y.min())
        ax_fit.set_ylim(all_y.min() - margin, all_y.max() + margin)  # a wild high-degree fit leaves the frame
        self.legend = ax_fit.legend(fontsize="small")
        ax_fit.set_title("the fitted model f(x; w*)")
        degrees = np.arange(len(train_err))
        ax_err.semilogy(degrees, train_err, "o-", color="C0", ms=4, label="training MSE")
        ax_err.semilogy(degrees, val_err, "s-", color="C1", ms=4, label="validation MSE")
        self.marker = ax_err.axvline(0, color="k", lw=1)
        best = int(np.argmin(val_err))
        ax_err.axvline(best, color="C1", lw=1, ls="--", label=f"best on validation: {best}")
        ax_err.yaxis.set_minor_formatter(plt.NullFormatter())  # labels on minor log ticks cost a lot of drawing
        ax_err.set_xlabel("degree (a hyper-parameter)")
        ax_err.legend(fontsize="small")
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.3)
        self.blitter = Blitter(self.figure, [self.curve, self.marker, self.legend])

    def update(self, degree: int, curve) -> None:
        self.curve.set_ydata(curve)
        self.curve.set_label(f"degree {degree}")
        self.legend.get_texts()[2].set_text(f"degree {degree}")
        self.marker.set_xdata([degree, degree])

    def png(self) -> bytes:
        return self.blitter.png()

    _repr_png_ = png  # shown as its PNG in a notebook


# -- chapter 3: a descent path on a valley, the loss of each batch (drawn once, moved by sliders) ------------------

def fixed_figure(ncols: int = 1, figsize=(10, 3.8), dpi: int = 72, **margins):
    """A figure outside pyplot, one row of ``ncols`` axes, with fixed margins: returns (figure, [axes…]).

    For a ``Blitter``: tight or constrained layout would measure every text on each draw (twice the drawing time),
    and a pyplot figure would be shown a second time at the end of a notebook cell. ``margins`` are
    ``subplots_adjust``'s left, right, bottom, top and wspace (fractions of the figure).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    fig.subplots_adjust(**{"left": 0.07, "right": 0.98, "bottom": 0.14, "top": 0.9, "wspace": 0.25, **margins})
    return fig, list(axes)


class DescentPanels:
    """Gradient descent on a loss of two weights: the path over the loss's contours, and the loss at each step.

    Drawn once with fixed limits (the grid's extent, ``steps`` and ``loss_ylim``); ``show`` moves only the path,
    the loss curve and their legends, so a slider redraws them on a cached background:
    ``Blitter(figure, panels.artists)``. A path that leaves the limits is clipped, as a diverging one should be.

    g1, g2, grid_loss: (H, W) grids of w₁, w₂ and of the loss there (its contours ``levels``); ``minimum``: where
    the star goes.
    """

    def __init__(self, ax_path, ax_loss, g1, g2, grid_loss, steps: int = 40, loss_ylim=(1e-8, 1e6),
                 levels=None, minimum=(0.0, 0.0)):
        g1, g2, grid_loss = (np.asarray(a, dtype=float) for a in (g1, g2, grid_loss))
        if not g1.shape == g2.shape == grid_loss.shape or g1.ndim != 2:
            raise ValueError(f"DescentPanels: g1, g2 and grid_loss must be (H, W) grids of one shape, got "
                             f"{g1.shape}, {g2.shape} and {grid_loss.shape}")
        levels = np.geomspace(0.05, 80, 12) if levels is None else levels
        ax_path.contour(g1, g2, grid_loss, levels=levels, cmap="Greys", linewidths=0.7)
        self.path = ax_path.plot([], [], "o-", ms=3, lw=1, label=" ")[0]
        self.minimum = ax_path.plot(*minimum, "k*", ms=10)[0]  # redrawn after the path: on top
        ax_path.set(xlim=(g1.min(), g1.max()), ylim=(g2.min(), g2.max()), xlabel="$w_1$", ylabel="$w_2$",
                    aspect="equal")
        self.loss = ax_loss.semilogy([], [], label=" ")[0]
        ax_loss.set(xlim=(0, steps), ylim=loss_ylim, xlabel="step", ylabel="loss (log scale)")
        self.legends = [ax_path.legend(loc="lower right", fontsize="small"),
                        ax_loss.legend(loc="lower left", fontsize="small")]  # fixed places: "best" would search
        self.artists = [self.path, self.minimum, self.loss, *self.legends]

    def show(self, path, losses, label: str = "") -> None:
        """path: (n, 2) the weights w₀, w₁, … of a run; losses: (n,) the loss at each of them."""
        path, losses = np.asarray(path, dtype=float), np.asarray(losses, dtype=float)
        if path.ndim != 2 or path.shape[1] != 2 or losses.shape != path.shape[:1]:
            raise ValueError(f"DescentPanels.show: path must be (n, 2) and losses (n,), got {path.shape} and "
                             f"{losses.shape}")
        self.path.set_data(path[:, 0], path[:, 1])
        self.loss.set_data(np.arange(len(losses)), losses)
        for line, legend in zip((self.path, self.loss), self.legends):
            line.set_label(label)
            legend.get_texts()[0].set_text(label)


class BatchLossPanel:
    """``batch_loss_curves`` drawn once, with steps 0…``max_steps`` on the x axis, so that ``show`` moves only the
    two curves and the title: a slider redraws them on a cached background (``Blitter(figure, panel.artists)``).
    """

    def __init__(self, ax, max_steps: int, target: float | None = None, ylim=(0, 2.6)):
        first = len(ax.lines)
        batch_loss_curves([], [], [], ax=ax, target=target, title=" ", ylim=ylim)
        self.batch, self.evaluated = ax.lines[first:first + 2]
        ax.get_legend().set_loc("upper right")  # a fixed place: "best" would search, and the curves move
        ax.set_xlim(0, max_steps)
        self.title = ax.title
        self.artists = [self.batch, self.evaluated, self.title]

    def show(self, batch_loss, eval_step, eval_loss, title: str = "") -> None:
        """batch_loss: (steps,) the loss of batch n at step n = 1, 2, …; eval_step, eval_loss: (k,) as in
        ``batch_loss_curves``."""
        if len(eval_step) != len(eval_loss):
            raise ValueError(f"BatchLossPanel.show: eval_step has {len(eval_step)} entries, eval_loss {len(eval_loss)}")
        self.batch.set_data(np.arange(1, len(batch_loss) + 1), batch_loss)
        self.evaluated.set_data(eval_step, eval_loss)
        self.title.set_text(title)

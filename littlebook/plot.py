"""Plots the chapters share: training curves, decision boundaries, image grids, activation functions.

Every function draws into the ``ax`` (or ``axes``) you pass, or makes a new figure, and returns the
matplotlib objects it drew on, so a chapter can add to them. Nothing here touches global matplotlib
state (no ``plt.style.use``, no ``rcParams`` changes): a plot never changes how the next one looks.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_history", "decision_grid", "decision_boundary", "image_grid", "activation_curves",
           "stride_padding_panels", "norm_cube", "batch_loss_curves",
           "expression_graph", "Blitter", "fixed_figure", "DescentPanels", "BatchLossPanel"]

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

    Returns (gx, gy, classes), each (resolution, resolution): argmax of (M, C) logits, or
    logit > 0 for (M,)/(M, 1) binary logits.
    """
    from .train import predict  # eval mode, batched

    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-9
    gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(X.dtype if X.dtype.kind == "f" else np.float32)
    out = predict(model, grid)
    classes = out.argmax(axis=1) if out.ndim == 2 and out.shape[1] > 1 else (out.reshape(-1) > 0).astype(int)
    return gx, gy, classes.reshape(gx.shape)


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

    def static(self):
        """The figure with every artist drawn normally, e.g. to show it as a static figure in a chapter."""
        for artist in self.artists:
            artist.set_animated(False)
        self._backgrounds.clear()  # the next png() re-animates them and renders the static part again
        return self.figure


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

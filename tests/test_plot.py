"""littlebook.plot: each function draws what it claims (checked on the artists) and leaks no global state."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import littlebook as lb  # noqa: E402
from littlebook import plot  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _history(diverged_at=None):
    h = lb.History(step_loss=[2.0, 1.5, 1.2, 1.0, 0.9, 0.8], step_acc=[0.2, 0.4, 0.5, 0.6, 0.7, 0.8],
                   train_loss=[1.6, 0.9], train_acc=[0.4, 0.7], val_loss=[1.7, 1.1], val_acc=[0.35, 0.6],
                   epoch_end=[3, 6])
    h.diverged_at = diverged_at
    return h


def test_plot_history_draws_steps_and_epoch_curves():
    h = _history()
    ax = plot.plot_history(h)
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["loss per step"].get_xdata(), [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(lines["loss per step"].get_ydata(), h.step_loss)
    # Epoch means sit at the step where their epoch ended.
    np.testing.assert_array_equal(lines["train (epoch mean)"].get_xdata(), [3, 6])
    np.testing.assert_array_equal(lines["train (epoch mean)"].get_ydata(), h.train_loss)
    np.testing.assert_array_equal(lines["validation"].get_ydata(), h.val_loss)
    assert ax.get_ylabel() == "loss"
    assert not [t for t in ax.texts if "diverged" in t.get_text()]


def test_plot_history_accuracy_gets_its_own_axes():
    h = _history()
    axes = plot.plot_history(h, metrics=("loss", "accuracy"))
    assert len(axes) == 2 and axes[0] is not axes[1]
    acc_lines = {line.get_label(): line for line in axes[1].get_lines()}
    np.testing.assert_array_equal(acc_lines["validation"].get_ydata(), h.val_acc)
    assert axes[1].get_ylabel() == "accuracy"


def test_plot_history_marks_divergence_with_the_step():
    h = _history(diverged_at=7)
    ax = plot.plot_history(h)
    texts = [t.get_text() for t in ax.texts]
    assert any("diverged at step 7" in t for t in texts)
    vertical = [line for line in ax.get_lines() if list(line.get_xdata()) == [7, 7]]
    assert vertical, "a vertical line marks the diverged step"


def test_plot_history_on_a_real_diverged_fit():
    X, y = lb.data.blobs(60, rng=0)
    model = lb.Sequential(lb.Linear(2, 8, rng=0), lb.ReLU(), lb.Linear(8, 3, rng=1))
    with pytest.raises(lb.TrainingDiverged) as err:
        lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=1e4), (X, y), epochs=5,
               batch_size=10, progress=False)
    h = err.value.history
    ax = plot.plot_history(h)
    assert any(f"diverged at step {h.diverged_at}" in t.get_text() for t in ax.texts)


def test_plot_history_rejects_unknown_metric_and_wrong_axes():
    with pytest.raises(ValueError, match="unknown metric"):
        plot.plot_history(_history(), metrics=("los",))
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="2 metrics"):
        plot.plot_history(_history(), ax=ax, metrics=("loss", "accuracy"))


def _halfplane_model():
    """Logits (x0, −x0): class 0 where x0 > 0, class 1 where x0 < 0."""
    model = lb.Linear(2, 2, rng=0, dtype=np.float64)
    model.weight.value[...] = [[1.0, 0.0], [-1.0, 0.0]]
    model.bias.value[...] = 0.0
    return model


def test_decision_grid_matches_the_known_boundary():
    X = np.array([[-1.0, -1.0], [1.0, 1.0], [-0.5, 0.5], [0.5, -0.5]])
    gx, gy, classes = plot.decision_grid(_halfplane_model(), X, resolution=41)
    assert gx.shape == gy.shape == classes.shape == (41, 41)
    off_boundary = np.abs(gx) > 1e-9
    np.testing.assert_array_equal(classes[off_boundary], (gx[off_boundary] < 0).astype(int))
    assert gx.min() < -1.0 and gx.max() > 1.0  # the margin around the data


def test_decision_grid_binary_single_logit():
    model = lb.Linear(2, 1, rng=0, dtype=np.float64)
    model.weight.value[...] = [[0.0, 1.0]]  # class 1 above the x axis
    model.bias.value[...] = 0.0
    X = np.array([[-1.0, -1.0], [1.0, 1.0]])
    gx, gy, classes = plot.decision_grid(model, X, resolution=21)
    off = np.abs(gy) > 1e-9
    np.testing.assert_array_equal(classes[off], (gy[off] > 0).astype(int))


@pytest.mark.parametrize("nested", [False, True])
def test_decision_grid_reads_a_sigmoid_output_as_a_probability(nested):
    # A model trained with BCELoss ends in a Sigmoid: its outputs are in (0, 1), so thresholding them at 0 (the
    # logit rule) would paint the whole plane class 1. The boundary is where the probability is 0.5.
    linear = lb.Linear(2, 1, rng=0, dtype=np.float64)
    linear.weight.value[...] = [[0.0, 1.0]]
    linear.bias.value[...] = -0.5  # probability 0.5 on the line y = 0.5
    model = lb.Sequential(linear, lb.Sigmoid())
    model = lb.Sequential(model) if nested else model
    X = np.array([[-1.0, -1.0], [1.0, 1.0]])
    gx, gy, classes = plot.decision_grid(model, X, resolution=21)
    off = np.abs(gy - 0.5) > 1e-9
    np.testing.assert_array_equal(classes[off], (gy[off] > 0.5).astype(int))
    assert 0 < classes.mean() < 1


def test_decision_boundary_draws_regions_and_points():
    X, y = lb.data.blobs(90, rng=0)
    model = lb.Sequential(lb.Linear(2, 3, rng=0))
    ax = plot.decision_boundary(model, X, y, resolution=50)
    points = [c for c in ax.collections if hasattr(c, "get_offsets") and len(c.get_offsets()) == len(X)]
    assert points, "the data points are drawn"
    np.testing.assert_allclose(points[0].get_offsets(), X, rtol=1e-6)
    assert len(ax.collections) >= 2  # the filled regions and the points
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot.decision_boundary(model, np.zeros((5, 3)), np.zeros(5))


def test_image_grid_shapes_titles_and_pixels():
    images = np.random.default_rng(0).random((10, 1, 8, 8))
    fig, axes = plot.image_grid(images, titles=range(10), ncols=4)
    assert axes.shape == (3, 4)
    shown = [a for a in axes.flat if a.images]
    assert len(shown) == 10
    np.testing.assert_array_equal(shown[3].images[0].get_array(), images[3, 0])
    assert shown[3].get_title() == "3"
    assert fig is axes.flat[0].figure


def test_image_grid_accepts_nhw_and_existing_axes_and_rejects_bad_shapes():
    fig, axes = plt.subplots(1, 3)
    images = np.arange(2 * 5 * 5, dtype=float).reshape(2, 5, 5)
    fig2, axes2 = plot.image_grid(images, axes=axes)
    assert fig2 is fig and not axes[2].images
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        plot.image_grid(np.zeros((2, 3, 5, 5)))
    with pytest.raises(ValueError, match="titles"):
        plot.image_grid(images, titles=["a"])


def test_activation_curves_match_the_textbook_formulas():
    x = np.linspace(-4, 4, 81)
    fig, axes = plot.activation_curves(x)
    values = {line.get_label(): line.get_ydata() for line in axes[0].get_lines()}
    derivs = {line.get_label(): line.get_ydata() for line in axes[1].get_lines()}
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(values["sigmoid"], s, rtol=1e-12)
    np.testing.assert_allclose(derivs["sigmoid'"], s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(values["tanh"], np.tanh(x), rtol=1e-12)
    np.testing.assert_allclose(derivs["tanh'"], 1 / np.cosh(x) ** 2, rtol=1e-10)
    np.testing.assert_array_equal(values["relu"], np.maximum(x, 0))
    np.testing.assert_array_equal(derivs["relu'"], (x > 0).astype(float))


def test_attention_diagrams_draw_heads_and_the_pre_norm_block():
    ax, bx = plot.attention_diagrams(num_heads=3)
    left = " ".join(t.get_text() for t in ax.texts)
    for word in ["x W$_Q", "x W$_K", "x W$_V", "head 1", "head 3", "softmax", "concat", "W$_O"]:
        assert word in left, word
    assert "head 4" not in left
    right = [t.get_text() for t in bx.texts]
    assert right.count("LayerNorm") == 2 and right.count("⊕") == 2 and right.count("residual") == 2
    assert any("causal MHA" in t for t in right) and any("MLP" in t for t in right)
    assert len(ax.patches) == 1 + 3 + 3 + 2 and len(bx.patches) == 2 + 4   # boxes: x, Q/K/V, heads, concat, y
    assert not ax.axison and not bx.axison


def test_no_global_matplotlib_state_leaks():
    before = dict(plt.rcParams)
    h = _history(diverged_at=5)
    plot.plot_history(h, metrics=("loss", "accuracy"))
    X, y = lb.data.moons(40, rng=0)
    plot.decision_boundary(lb.Sequential(lb.Linear(2, 2, rng=0)), X, y, resolution=20)
    plot.image_grid(np.zeros((3, 4, 4)))
    plot.activation_curves()
    after = dict(plt.rcParams)
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}


def test_stride_padding_panels_marks_every_filter_position_and_returns_the_conv_output():
    rng = np.random.default_rng(0)
    image, kernel = rng.normal(size=(8, 8)), rng.normal(size=(3, 3))
    for stride, padding, size in [(1, 0, 6), (1, 1, 8), (2, 1, 4)]:
        fig, axes = plt.subplots(1, 2)
        out = plot.stride_padding_panels(image, kernel, stride, padding, axes=axes)
        layer = lb.Conv2d(1, 1, 3, stride=stride, padding=padding, bias=False, dtype=np.float64)
        layer.weight.value[0, 0] = kernel
        np.testing.assert_allclose(out, layer(image[None, None])[0, 0])
        assert out.shape == (size, size)
        centres = [line for line in axes[0].get_lines() if line.get_label() == "filter centres"][0]
        assert len(centres.get_xdata()) == size * size  # one dot per output pixel
        # the first centre sits in the middle of the first window, the last one a stride·(size − 1) further
        assert centres.get_xdata()[0] == 1 and centres.get_xdata()[-1] == 1 + stride * (size - 1)
        assert axes[0].images[0].get_array().shape == (8 + 2 * padding, 8 + 2 * padding)
        assert len(fig.axes) == 3  # the two panels and the feature map's colour bar
        assert axes[1].get_xlabel() and axes[0].get_xlabel()
    with pytest.raises(ValueError, match="square"):
        plot.stride_padding_panels(image, np.ones((2, 3)))


def test_norm_cube_shades_exactly_the_visible_cells_of_the_mask():
    mask = np.zeros((4, 6, 5), dtype=bool)
    mask[:, 0, :] = True  # batch norm: one channel over every sample and pixel
    fig, ax = plt.subplots()
    cube = plot.norm_cube(ax, mask, "batch norm", averaged="mean, var over (N, H, W)")
    n, c, s = mask.shape
    assert len(cube.get_paths()) == n * s + n * c + c * s  # front, top and right faces
    colors = cube.get_facecolors()
    grey = np.isclose(colors[:, 0], colors[:, 1]) & np.isclose(colors[:, 1], colors[:, 2])
    # front face: all n·s cells of channel 0 shaded; top face: the n cells of channel 0; right face: s cells
    assert np.sum(~grey) == n * s + n + s
    texts = [t.get_text() for t in ax.texts]
    assert "N samples" in texts and "C channels" in texts and "mean, var over (N, H, W)" in texts
    assert ax.get_title() == "batch norm"
    with pytest.raises(ValueError, match="mask of shape"):
        plot.norm_cube(ax, np.zeros((2, 2)))


def test_batch_loss_curves_draws_both_curves_and_the_target():
    ax = plot.batch_loss_curves([2.0, 1.5, 1.7, 1.0], [0, 2, 4], [2.2, 1.6, 1.1], target=1.2, title="B = 4")
    batch, evaluated = ax.get_lines()[:2]
    assert list(batch.get_xdata()) == [1, 2, 3, 4] and list(batch.get_ydata()) == [2.0, 1.5, 1.7, 1.0]
    assert list(evaluated.get_xdata()) == [0, 2, 4] and list(evaluated.get_ydata()) == [2.2, 1.6, 1.1]
    assert list(ax.get_lines()[2].get_ydata()) == [1.2, 1.2]  # the target line
    assert ax.get_title() == "B = 4" and ax.get_xlabel() == "step"
    with pytest.raises(ValueError, match="eval_step"):
        plot.batch_loss_curves([1.0], [0, 1], [1.0])


def test_expression_graph_draws_a_box_per_node_and_an_arrow_per_edge():
    nodes = {"x": (0, 0, "x = 2"), "w": (0, 1, "w = 0.5"), "u": (1, 0.5, "u = w·x")}
    ax = plot.expression_graph(nodes, [("x", "u"), ("w", "u")], title="u = w x")
    texts = [t for t in ax.texts if t.get_text()]
    assert sorted(t.get_text() for t in texts) == ["u = w·x", "w = 0.5", "x = 2"]
    assert len([t for t in ax.texts if not t.get_text()]) == 2  # the arrows are empty annotations
    assert ax.get_title() == "u = w x"
    with pytest.raises(ValueError, match="unknown nodes"):
        plot.expression_graph(nodes, [("x", "y")])


def test_blitter_redraws_the_moving_artists_on_a_cached_background():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="k")  # static
    moving, = ax.plot([], [], color="r", lw=4)
    ax.set(xlim=(0, 1), ylim=(0, 1))
    blit = plot.Blitter(fig, [moving])
    empty = blit.png()
    moving.set_data([0, 1], [1, 0])
    crossed = blit.png()
    assert empty[:8] == b"\x89PNG\r\n\x1a\n" and crossed != empty and len(blit._backgrounds) == 1
    moving.set_data([], [])
    assert blit.png() == empty  # the background is reused unchanged
    ax.set_xlim(0, 2)  # a new limit: the static part is rendered once more
    blit.png()
    assert len(blit._backgrounds) == 2
    static = blit.static()
    assert static is fig and not moving.get_animated()


def test_fixed_figure_stays_out_of_pyplot_with_fixed_margins():
    before = plt.get_fignums()
    fig, axes = plot.fixed_figure(2, figsize=(8, 3), dpi=80, left=0.1)
    assert plt.get_fignums() == before and len(axes) == 2 and fig.dpi == 80
    assert fig.subplotpars.left == 0.1 and fig.subplotpars.right == 0.98
    assert fig.get_layout_engine() is None  # no tight or constrained layout


def _valley():
    g1, g2 = np.meshgrid(np.linspace(-5, 5, 30), np.linspace(-4, 4, 20))
    A = np.array([[1.0, 0.0], [0.0, 10.0]])
    w = [np.array([-4.0, 2.5])]
    for _ in range(10):
        w.append(w[-1] - 0.15 * A @ w[-1])
    path = np.array(w)
    return g1, g2, 0.5 * (g1**2 + 10 * g2**2), path, 0.5 * np.einsum("ni,ij,nj->n", path, A, path)


def test_descent_panels_hold_the_run_given_and_keep_their_limits():
    g1, g2, grid_loss, path, losses = _valley()
    fig, (ax_path, ax_loss) = plot.fixed_figure(2)
    panels = plot.DescentPanels(ax_path, ax_loss, g1, g2, grid_loss, steps=10, loss_ylim=(1e-6, 1e3))
    assert panels.artists[:3] == [panels.path, panels.minimum, panels.loss] and len(panels.artists) == 5
    assert len(ax_path.collections) > 0  # the contours
    panels.show(path, losses, label="η = 0.15")
    assert np.array_equal(panels.path.get_xdata(), path[:, 0]) and np.array_equal(panels.path.get_ydata(), path[:, 1])
    assert np.array_equal(panels.loss.get_xdata(), np.arange(11)) and np.array_equal(panels.loss.get_ydata(), losses)
    assert [legend.get_texts()[0].get_text() for legend in panels.legends] == ["η = 0.15", "η = 0.15"]
    assert ax_path.get_xlim() == (-5, 5) and ax_path.get_ylim() == (-4, 4)
    assert ax_loss.get_xlim() == (0, 10) and ax_loss.get_ylim() == (1e-6, 1e3) and ax_loss.get_yscale() == "log"
    with pytest.raises(ValueError, match=r"path must be \(n, 2\)"):
        panels.show(path[:, 0], losses)
    with pytest.raises(ValueError, match="losses"):
        panels.show(path, losses[:-1])
    with pytest.raises(ValueError, match="one shape"):
        plot.DescentPanels(ax_path, ax_loss, g1, g2[:-1], grid_loss)


def test_descent_panels_update_changes_the_png_on_one_background():
    g1, g2, grid_loss, path, losses = _valley()
    fig, (ax_path, ax_loss) = plot.fixed_figure(2)
    panels = plot.DescentPanels(ax_path, ax_loss, g1, g2, grid_loss, steps=10, loss_ylim=(1e-6, 1e3))
    blit = plot.Blitter(fig, panels.artists)
    panels.show(path, losses, label="η = 0.15")
    first = blit.png()
    panels.show(path[:4], losses[:4], label="η = 0.1")
    second = blit.png()
    panels.show(path, losses, label="η = 0.15")
    assert first != second and blit.png() == first and len(blit._backgrounds) == 1  # limits never moved


def test_batch_loss_panel_holds_the_curves_given_and_keeps_its_limits():
    fig, (ax,) = plot.fixed_figure(1, figsize=(6, 3))
    panel = plot.BatchLossPanel(ax, max_steps=300, target=0.3)
    assert panel.artists == [panel.batch, panel.evaluated, panel.title]
    assert list(ax.get_lines()[2].get_ydata()) == [0.3, 0.3]  # the target, static
    blit = plot.Blitter(fig, panel.artists)
    empty = blit.png()
    panel.show([2.0, 1.5, 1.7, 1.0], [0, 2, 4], [2.2, 1.6, 1.1], title="batch size 4, lr = 0.3")
    assert list(panel.batch.get_xdata()) == [1, 2, 3, 4] and list(panel.batch.get_ydata()) == [2.0, 1.5, 1.7, 1.0]
    assert list(panel.evaluated.get_xdata()) == [0, 2, 4] and list(panel.evaluated.get_ydata()) == [2.2, 1.6, 1.1]
    assert ax.get_title() == "batch size 4, lr = 0.3" and ax.get_xlim() == (0, 300) and ax.get_ylim() == (0, 2.6)
    drawn = blit.png()
    assert drawn != empty and len(blit._backgrounds) == 1
    with pytest.raises(ValueError, match="eval_step"):
        panel.show([1.0], [0, 1], [1.0])

"""littlebook.widgets: the plain functions under each explorer, and the widgets' wiring (headless)."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets as w  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import littlebook as lb  # noqa: E402
from littlebook import widgets as W  # noqa: E402
from littlebook.gradcheck import numerical_gradient, rel_error  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def moons():
    return lb.data.moons(120, noise=0.15, rng=0)


CE = lb.CrossEntropyLoss


def small_mlp():
    return lb.Sequential(lb.Linear(2, 16, rng=0), lb.Tanh(), lb.Linear(16, 2, rng=1))


def texts(fig):
    return " ".join(t.get_text() for a in fig.axes for t in a.texts + [a.title])


def controls(box):
    """The controls of an explorer: VBox([HBox(controls), status, figure])."""
    return list(box.children[0].children)


def test_lr_explorer_has_a_log_slider_and_retrains_when_it_moves(moons):
    box = W.lr_explorer(small_mlp, CE(), moons, lr=0.1, lrs=(1e-3, 10), epochs=2, batch_size=16,
                        metrics=("accuracy",))
    slider, play, step, reset = controls(box)
    assert isinstance(slider, w.FloatLogSlider) and isinstance(play, w.Play)
    assert (step.description, reset.description) == ("Step", "Reset")
    assert slider.value == pytest.approx(0.1) and slider.continuous_update is False
    assert (slider.base ** slider.min, slider.base ** slider.max) == pytest.approx((1e-3, 10))
    status, image = box.children[1], box.children[2]
    assert isinstance(image, w.Image) and image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert status.value.startswith("lr=0.1: final loss")
    first_image = image.value
    slider.value = 1.0
    expected = lb.train_curve(small_mlp, CE(), moons, lr=1.0, epochs=2, batch_size=16)
    assert status.value.startswith("lr=1: final loss") and f"final loss {expected.train_loss[-1]:.4f}" in status.value
    assert image.value != first_image  # redrawn in place: the same Image widget, new pixels
    assert "train accuracy" in status.value  # asked for: metrics=("accuracy",)
    quiet = W.lr_explorer(small_mlp, CE(), moons, live=False, epochs=1)
    assert [type(c) for c in controls(quiet)] == [w.FloatLogSlider]


def test_lr_explorer_live_mode_step_lr_reset(moons):
    box = W.lr_explorer(small_mlp, CE(), moons, lr=0.1, lrs=(1e-3, 1e4), epochs=2, batch_size=16, steps_per_tick=3,
                        batch_sizes=[8, 16, 32])
    slider, batch, play, step, reset = controls(box)
    status = box.children[1]
    step.click()
    assert status.value.startswith("live: step 3 ") and "lr 0.1 " in status.value and "batch 16" in status.value
    slider.value = 1.0  # live: no retraining, η of the running model changes from its next step
    assert "step 3 " in status.value and "lr 1 " in status.value
    batch.value = 32
    step.click()
    assert "step 6 " in status.value and "batch 32" in status.value
    slider.value = 1e4
    for _ in range(10):
        step.click()
    assert "diverged at step" in status.value and play.playing is False
    reset.click()
    assert status.value.startswith("lr=10000: diverged at step")  # back to the slider's full run, from step 0


def test_log_slider_snaps_to_steps_per_decade():
    s = W.log_slider(0.1, 1e-4, 10, description="η", steps_per_decade=4)
    assert s.description == "η" and s.step == pytest.approx(0.25) and s.readout_format == ".2g"
    assert (s.min, s.max) == pytest.approx((-4, 1))


def test_explore_calls_draw_now_and_on_every_change(capsys):
    calls = []

    def draw(a, b):
        calls.append((a, b))
        return f"a={a} b={b}"

    box = W.explore(draw, a=w.IntSlider(value=1, min=0, max=5), b=w.FloatSlider(value=0.5))
    assert calls == [(1, 0.5)]
    controls(box)[0].value = 3
    assert calls[-1] == (3, 0.5)
    assert "a=3 b=0.5" in capsys.readouterr().out
    assert all(c.continuous_update is False for c in controls(box))
    assert box.children[1].value == "a=3, b=0.5"  # the status line: "computing a=3, b=0.5 …" while draw runs


# -- depth ---------------------------------------------------------------------------------------

def deep_sigmoid(depth):
    layers = [lb.Linear(2, 16, rng=0, dtype=np.float64), lb.Sigmoid()]
    for i in range(depth):
        layers += [lb.Linear(16, 16, rng=i + 1, dtype=np.float64), lb.Sigmoid()]
    return lb.Sequential(*layers, lb.Linear(16, 2, rng=99, dtype=np.float64))


def test_layer_grad_norms_match_finite_differences(moons):
    X, y = moons[0][:20].astype(np.float64), moons[1][:20]
    model, loss = deep_sigmoid(1), lb.CrossEntropyLoss()
    names, norms = lb.layer_grad_norms(model, loss, X, y)
    assert names == ["0.weight", "2.weight", "4.weight"]
    params = dict(model.named_parameters())
    for name, norm in zip(names, norms, strict=True):
        numeric = numerical_gradient(lambda: loss(model(X), y), params[name].value)
        assert rel_error(np.array(norm), np.array(np.linalg.norm(numeric))) < 1e-6
    assert all(not p.grad.any() for p in model.parameters())  # gradients cleared again


def test_deep_sigmoid_gradients_vanish_towards_the_input(moons):
    _, norms = lb.layer_grad_norms(deep_sigmoid(8), lb.CrossEntropyLoss(), moons[0].astype(np.float64), moons[1])
    assert norms[0] < norms[-1] / 100


def test_depth_explorer_draws_each_family_and_caches_each_depth(moons):
    def residual(depth):
        blocks = [lb.Residual(lb.Sequential(lb.Linear(16, 16, rng=i + 1), lb.Tanh())) for i in range(depth)]
        return lb.Sequential(lb.Linear(2, 16, rng=0), *blocks, lb.Linear(16, 2, rng=99))

    def plain(depth):
        layers = [m for i in range(depth) for m in (lb.Linear(16, 16, rng=i + 1), lb.Tanh())]
        return lb.Sequential(lb.Linear(2, 16, rng=0), *layers, lb.Linear(16, 2, rng=99))

    built = []
    box = W.depth_explorer({"plain": lambda d: built.append(d) or plain(d), "residual": residual}, CE(), moons,
                           depth=3, depths=(1, 6), epochs=1)
    (slider,) = controls(box)
    status, image = box.children[1:]
    assert isinstance(slider, w.IntSlider) and (slider.min, slider.max, slider.value) == (1, 6, 3)
    assert status.value.startswith("plain, depth 3: final loss") and "; residual, depth 3: final loss" in status.value
    first = image.value
    slider.value = 5
    assert "depth 5" in status.value and image.value != first
    box.results.wait()  # the background has computed depths 4 and 6 by now
    n_built = len(built)
    slider.value = 3  # computed before: drawn from the cache
    assert len(built) == n_built and image.value == first
    expected = lb.train_curve(lambda: residual(3), CE(), moons, 0.1, epochs=1)
    assert f"residual, depth 3: final loss {expected.train_loss[-1]:.4f}" in status.value


def _mlp_of_depth(depth):
    layers = [m for i in range(depth) for m in (lb.Linear(8, 8, rng=i + 1), lb.Tanh())]
    return lb.Sequential(lb.Linear(2, 8, rng=0), *layers, lb.Linear(8, 2, rng=99))


def test_depth_explorer_computes_the_neighbouring_depths_in_the_background(moons):
    built = []
    box = W.depth_explorer(lambda d: built.append(d) or _mlp_of_depth(d), CE(), moons, depth=3, depths=(1, 4),
                           epochs=1)
    (slider,) = controls(box)
    box.results.wait()
    assert box.results.computed() == [2, 3, 4] and sorted(built) == [2, 2, 3, 3, 4, 4]  # norms and run: 2 each
    slider.value = 4  # prefetched: nothing is built, and the figure shows what a run in this thread would give
    assert len(built) == 6
    expected = lb.train_curve(lambda: _mlp_of_depth(4), CE(), moons, 0.1, epochs=1)
    assert box.children[1].value == f"model, depth 4: final loss {expected.train_loss[-1]:.4f}"
    norms = lb.train.layer_grad_norms(_mlp_of_depth(4), CE(), *(a[:256] for a in moons))[1]
    np.testing.assert_array_equal(box.results.get(4)[0]["model"], norms)
    box.results.wait()
    assert box.results.computed() == [2, 3, 4]  # depth 5 is outside the slider: never computed


def test_depth_explorer_reports_an_error_of_the_background_in_the_readers_thread(moons):
    def model(d):
        if d == 4:
            raise RuntimeError("no model of depth 4")
        return _mlp_of_depth(d)

    box = W.depth_explorer(model, CE(), moons, depth=3, depths=(1, 4), epochs=1)
    (slider,) = controls(box)
    box.results.wait()  # the background failed at depth 4, silently
    assert box.results.computed() == [2, 3]
    with pytest.raises(RuntimeError, match="no model of depth 4"):  # raised again here (headless: to the caller)
        slider.value = 4
    assert "RuntimeError: no model of depth 4" in box.children[1].value


def test_prefetch_computes_each_key_once_and_waits_for_a_running_one():
    import threading

    started, release, calls = threading.Event(), threading.Event(), []

    def slow(key):
        calls.append(("background", key))
        started.set()
        release.wait(5)
        return key * 10

    results = W._Prefetch(lambda key: calls.append(("reader", key)) or key * 10, background=slow)
    results.prefetch([1, 2])
    started.wait(5)  # key 1 is running, key 2 queued
    threading.Timer(0.05, release.set).start()
    assert results.get(1) == 10  # waits for the running key instead of computing it again
    assert ("reader", 1) not in calls
    assert results.get(3) == 30 and ("reader", 3) in calls
    results.wait()
    assert ("background", 2) not in calls  # a move elsewhere cancelled the key not yet started


def test_depth_figure_lines_hold_the_norms_and_losses(moons):
    view = lb.plot.DepthFigure(["a"], max_layers=6, total_steps=10, max_loss=1.0)
    h = lb.train_curve(small_mlp, CE(), moons, 0.1, epochs=1)
    view.update(2, {"a": np.array([1e-3, 1e-1, 1.0])}, {"a": h})
    np.testing.assert_array_equal(view.grad_lines["a"].get_ydata(), [1e-3, 1e-1, 1.0])
    np.testing.assert_array_equal(view.loss_lines["a"].get_ydata(), h.step_loss)
    assert view.ax_grad.get_ylim() == (1e-3, 1.0) and view.png()[:4] == b"\x89PNG"


# -- convolution ---------------------------------------------------------------------------------

def direct_conv(image, kernel, stride, padding):
    """Textbook loops: y[i, j] = Σ_ab x_pad[i·S + a, j·S + b] · k[a, b]."""
    x = np.pad(image, padding)
    k = kernel.shape[0]
    ho, wo = (x.shape[0] - k) // stride + 1, (x.shape[1] - k) // stride + 1
    out = np.zeros((ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[i, j] = np.sum(x[i * stride:i * stride + k, j * stride:j * stride + k] * kernel)
    return out


@pytest.mark.parametrize(("k", "s", "p"), [(3, 1, 0), (3, 2, 1), (5, 1, 2), (2, 3, 0), (1, 1, 3)])
def test_conv_explorer_shows_the_direct_convolution_and_the_size_formula(k, s, p):
    image = lb.load_digits(flatten=False)[0][0, 0].astype(np.float64)
    box = W.conv_explorer(image, k, s, p)
    ho = (8 + 2 * p - k) // s + 1
    assert box.children[1].value == f"output {ho}×{ho}"
    view_out = box.figure.axes[1]
    np.testing.assert_allclose(view_out.images[0].get_array(), direct_conv(image, W._edge_kernel(k), s, p),
                               atol=1e-12)
    assert f"⌊(8 + 2·{p} − {k})/{s}⌋ + 1 = {ho}" in view_out.get_title()


def test_conv_explorer_kernel_too_large_is_a_message_not_an_error():
    box = W.conv_explorer(np.zeros((4, 4)), kernel_size=7, padding=1)
    assert box.children[1].value == "kernel 7×7 does not fit in the padded input"
    assert [c.description for c in controls(box)] == ["kernel K", "stride S", "padding P"]
    controls(box)[0].value = 3
    assert box.children[1].value == "output 4×4"


# -- polynomial degree -------------------------------------------------------------------------------

def test_polynomial_fit_recovers_an_exact_cubic():
    x = np.linspace(-2, 3, 20)
    y = 1 - 2 * x + 0.5 * x**3
    p = lb.polynomial_fit(x, y, 3)
    np.testing.assert_allclose(p.convert().coef, [1, -2, 0, 0.5], atol=1e-9)
    assert p.degree() == 3


def test_polynomial_errors_against_numpy_polyfit():
    x, y = lb.data.regression_1d(30, rng=0)
    x_tr, y_tr, x_va, y_va = x[:20, 0], y[:20, 0], x[20:, 0], y[20:, 0]
    train, val = lb.polynomial_errors(x_tr, y_tr, x_va, y_va, range(6))
    for d in range(6):
        coef = np.polyfit(x_tr, y_tr, d)
        assert train[d] == pytest.approx(np.mean((np.polyval(coef, x_tr) - y_tr) ** 2), rel=1e-6)
        assert val[d] == pytest.approx(np.mean((np.polyval(coef, x_va) - y_va) ** 2), rel=1e-6)
    assert np.all(np.diff(train) <= 1e-12)  # nested models: more degrees never fit the training set worse


def test_polynomial_explorer_fits_on_training_and_scores_on_validation():
    x, y = lb.data.regression_1d(40, rng=0)
    x_tr, y_tr, x_va, y_va = x[:28], y[:28], x[28:], y[28:]
    train, val = lb.polynomial_errors(x_tr, y_tr, x_va, y_va, range(11))
    box = W.polynomial_explorer(x_tr, y_tr, x_va, y_va, degree=2, degrees=(0, 10))
    (slider,) = controls(box)
    assert isinstance(slider, w.IntSlider) and slider.max == 10
    status, image = box.children[1:]
    assert status.value == f"degree 2: training MSE {train[2]:.4f}, validation MSE {val[2]:.4f}"
    first = image.value
    slider.value = 7
    assert status.value == f"degree 7: training MSE {train[7]:.4f}, validation MSE {val[7]:.4f}"
    assert image.value != first  # redrawn in place
    fig = box.figure
    curve = fig.axes[0].lines[2]
    np.testing.assert_allclose(curve.get_ydata(), lb.polynomial_fit(x_tr, y_tr, 7)(curve.get_xdata()))
    best = int(np.argmin(val))
    assert f"best on validation: {best}" in fig.axes[1].get_legend_handles_labels()[1]


# -- live loss plot and global state ---------------------------------------------------------------------

def test_live_loss_plot_redraws_during_fit(moons):
    model = small_mlp()
    live = W.live_loss_plot(metrics=("loss", "accuracy"))
    h = lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.3), moons, epochs=2, batch_size=16,
               progress=False, callback=live, callback_every=5, metrics=("accuracy",))
    assert live.calls == h.steps // 5
    step_line = live.axes[0].get_lines()[0]
    assert len(step_line.get_ydata()) == 5 * live.calls  # what the last redraw saw
    np.testing.assert_array_equal(step_line.get_ydata(), h.step_loss[:5 * live.calls])
    assert not plt.get_fignums()  # not a pyplot figure: a cell does not show it twice


def test_widget_figures_leak_no_rcparams(moons):
    before = dict(plt.rcParams)
    W.lr_explorer(small_mlp, CE(), moons, lr=0.1, epochs=1, metrics=("accuracy",))
    x, y = lb.data.regression_1d(20, rng=0)
    W.polynomial_explorer(x[:14], y[:14], x[14:], y[14:], 2, degrees=(0, 4))
    assert {k: v for k, v in dict(plt.rcParams).items() if before.get(k) != v} == {}


def test_explore_figure_updates_the_artists_and_shows_the_status():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    line, = ax.plot([], [])
    ax.set(xlim=(0, 1), ylim=(0, 5))
    seen = []

    def update(k):
        seen.append(k)
        line.set_data([0, 1], [0, k])
        return f"slope {k}"

    box = W.explore_figure(lb.plot.Blitter(fig, [line]), update, k=w.IntSlider(value=1, min=0, max=5))
    (slider,) = controls(box)
    status, image = box.children[1:]
    first = image.value
    slider.value = 4
    assert seen == [1, 4] and status.value == "slope 4" and image.value != first
    assert slider.continuous_update is False and box.figure is fig  # the figure, e.g. to save it
    assert image.width == str(4 * 72)  # the figure's own pixel width: not stretched
    with pytest.raises(TypeError, match="Blitter"):
        W.explore_figure(fig, update, k=w.IntSlider())


def test_explore_figure_shows_an_error_of_the_update_in_its_status():
    from matplotlib.figure import Figure

    def update(k):
        if k == 2:
            raise ValueError("no such notch")

    box = W.explore_figure(lb.plot.Blitter(Figure(figsize=(2, 2)), []), update, k=w.IntSlider(value=1, max=3))
    with pytest.raises(ValueError, match="no such notch"):  # re-raised too: headless, it reaches the caller
        controls(box)[0].value = 2
    assert "ValueError: no such notch" in box.children[1].value

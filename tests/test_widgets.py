"""littlebook.widgets: the plain functions under each explorer, and the widgets' wiring (headless)."""

import math

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


def small_mlp():
    return lb.Sequential(lb.Linear(2, 16, rng=0), lb.Tanh(), lb.Linear(16, 2, rng=1))


def texts(fig):
    return " ".join(t.get_text() for a in fig.axes for t in a.texts + [a.title])


def controls(box):
    """The controls of an explorer: VBox([HBox(controls), status, figure])."""
    return list(box.children[0].children)


# -- train_curve / lr ----------------------------------------------------------------------------------

def test_train_curve_is_fit_with_the_same_seed(moons):
    h = W.train_curve(small_mlp, moons, lr=0.3, epochs=3, batch_size=16)
    model = small_mlp()
    direct = lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.3), moons, epochs=3,
                    batch_size=16, rng=0, progress=False)
    np.testing.assert_array_equal(h.step_loss, direct.step_loss)
    assert h.steps == 3 * math.ceil(len(moons[0]) / 16)


def test_the_curve_changes_with_the_learning_rate(moons):
    slow = W.train_curve(small_mlp, moons, lr=0.001, epochs=5, batch_size=16)
    fast = W.train_curve(small_mlp, moons, lr=0.5, epochs=5, batch_size=16)
    assert slow.step_loss[0] == pytest.approx(fast.step_loss[0])  # same start: same init, same first batch
    assert fast.train_loss[-1] < 0.8 * slow.train_loss[-1]
    # A tiny learning rate barely moves the loss (w changes by η·∇L per step).
    assert abs(slow.train_loss[-1] - slow.train_loss[0]) < 0.05


def test_divergence_is_returned_with_its_step_not_raised(moons):
    h = W.train_curve(small_mlp, moons, lr=1e4, epochs=3, batch_size=16)
    assert h.diverged_at is not None
    model = small_mlp()
    with pytest.raises(lb.TrainingDiverged) as err:
        lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=1e4), moons, epochs=3,
               batch_size=16, rng=0, progress=False)
    assert h.diverged_at == err.value.step
    assert W._summary(h, "lr=1e4") == f"lr=1e4: diverged at step {h.diverged_at} — try a lower learning rate"


def test_train_curve_defaults_to_mse_for_real_targets_and_accepts_optimizers():
    x, y = lb.data.regression_1d(40, rng=0)
    make = lambda: lb.Sequential(lb.Linear(1, 8, rng=0, dtype=np.float64), lb.Tanh(),  # noqa: E731
                                 lb.Linear(8, 1, rng=1, dtype=np.float64))
    h = W.train_curve(make, (x, y), lr=0.01, epochs=20, batch_size=8, optimizer="adam")
    assert not h.train_acc  # regression: no accuracy
    assert h.train_loss[-1] < h.train_loss[0]
    with pytest.raises(ValueError, match="optimizer"):
        W.train_curve(make, (x, y), lr=0.1, optimizer="rmsprop")


def test_lr_figure_panels_and_divergence_message(moons):
    fig, h = W.lr_figure(small_mlp, moons, lr=0.3, epochs=2, batch_size=16)
    assert len(fig.axes) == 3  # loss, accuracy, decision boundary (2-D classification)
    assert [a.get_ylabel() for a in fig.axes[:2]] == ["loss", "accuracy"]
    assert "diverged" not in texts(fig)
    fig, h = W.lr_figure(small_mlp, moons, lr=1e4, epochs=2, batch_size=16)
    assert f"diverged at step {h.diverged_at}\ntry a lower learning rate" in texts(fig)


def test_lr_figure_regression_has_only_the_loss_panel():
    x, y = lb.data.regression_1d(30, rng=0)
    make = lambda: lb.Sequential(lb.Linear(1, 8, rng=0), lb.Tanh(), lb.Linear(8, 1, rng=1))  # noqa: E731
    fig, _ = W.lr_figure(make, (x.astype(np.float32), y.astype(np.float32)), lr=0.1, epochs=2)
    assert len(fig.axes) == 1


def test_lr_explorer_has_a_log_slider_and_retrains_when_it_moves(moons):
    box = W.lr_explorer(small_mlp, moons, lr=0.1, lrs=(1e-3, 10), epochs=2, batch_size=16)
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
    expected = W.train_curve(small_mlp, moons, lr=1.0, epochs=2, batch_size=16)
    assert status.value.startswith("lr=1: final loss") and f"final loss {expected.train_loss[-1]:.4f}" in status.value
    assert image.value != first_image  # redrawn in place: the same Image widget, new pixels
    assert [type(c) for c in controls(W.lr_explorer(small_mlp, moons, live=False, epochs=1))] == [w.FloatLogSlider]


def test_lr_explorer_live_mode_step_lr_reset(moons):
    box = W.lr_explorer(small_mlp, moons, lr=0.1, lrs=(1e-3, 1e4), epochs=2, batch_size=16, steps_per_tick=3,
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


# -- the live trainer -------------------------------------------------------------------------------------

def test_live_trainer_is_fit_step_by_step(moons):
    h = W.train_curve(small_mlp, moons, lr=0.3, epochs=3, batch_size=16)
    t = W.LiveTrainer(small_mlp, moons, lr=0.3, batch_size=16)
    done = sum(t.step(5) for _ in range(100))  # in ticks of 5 steps, more than the 3 epochs
    assert done == 100 * 5 and t.steps == 500
    np.testing.assert_allclose(t.history.step_loss[:h.steps], h.step_loss, rtol=1e-12)  # same batches, same steps
    np.testing.assert_allclose(t.history.train_loss[:3], h.train_loss, rtol=1e-12)
    assert t.epoch == pytest.approx((62 * 120 + 4 * 16) / 120)  # 8 batches per epoch (the last one of 8)


def test_live_trainer_reset_restores_the_same_initial_weights(moons):
    t = W.LiveTrainer(small_mlp, moons, lr=0.3, batch_size=16, optimizer="momentum")
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
    t = W.LiveTrainer(small_mlp, moons, lr=0.1, batch_size=16)
    t.step(3)
    before = [p.value.copy() for p in t.model.parameters()]
    t.set_lr(0.5)
    assert t.history.lr == [0.1, 0.1, 0.1]  # nothing retrained or rewritten
    t.step()
    assert t.history.lr == [0.1, 0.1, 0.1, 0.5]
    # the 4th update is 0.5 × the gradient at the 3-step weights: against a twin that takes it at η = 0.2
    ref = W.LiveTrainer(small_mlp, moons, lr=0.1, batch_size=16)
    ref.step(3)
    ref.set_lr(0.2)
    ref.step()  # the same batch and gradient
    for p_new, p_old, p_ref in zip(t.model.parameters(), before, ref.model.parameters()):
        np.testing.assert_allclose(p_new.value - p_old, 2.5 * (p_ref.value - p_old), rtol=1e-3, atol=1e-6)


def test_live_trainer_batch_size_change(moons):
    t = W.LiveTrainer(small_mlp, moons, lr=0.1, batch_size=16)
    t.step(2)
    t.set_batch_size(60)
    t.step(2)
    assert t.batch_size == 60 and len(t.history.train_loss) == 1  # the cut epoch is one point on the curve
    assert t.epoch == pytest.approx((2 * 16 + 2 * 60) / 120)


def test_live_trainer_divergence_stops_the_run_with_its_step(moons):
    t = W.LiveTrainer(small_mlp, moons, lr=0.1, batch_size=16)
    t.step(2)
    t.set_lr(1e4)
    ran = t.step(50)
    assert t.diverged_at is not None and 2 < t.diverged_at <= 52 and ran == t.diverged_at - 1 - 2
    assert t.steps == t.diverged_at - 1 and t.history.diverged_at == t.diverged_at
    assert t.reason and all(np.isfinite(p.value).all() for p in t.model.parameters())  # last finite weights kept
    assert t.step(5) == 0 and t.steps == t.diverged_at - 1  # stopped: more steps do nothing
    h = W.train_curve(small_mlp, moons, lr=1e4, epochs=3, batch_size=16)
    t2 = W.LiveTrainer(small_mlp, moons, lr=1e4, batch_size=16)
    t2.step(1000)
    assert t2.diverged_at == h.diverged_at  # the same test as fit's


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
    names, norms = W.layer_grad_norms(model, loss, X, y)
    assert names == ["0.weight", "2.weight", "4.weight"]
    params = dict(model.named_parameters())
    for name, norm in zip(names, norms, strict=True):
        numeric = numerical_gradient(lambda: loss(model(X), y), params[name].value)
        assert rel_error(np.array(norm), np.array(np.linalg.norm(numeric))) < 1e-6
    assert all(not p.grad.any() for p in model.parameters())  # gradients cleared again


def test_deep_sigmoid_gradients_vanish_towards_the_input(moons):
    _, norms = W.layer_grad_norms(deep_sigmoid(8), lb.CrossEntropyLoss(), moons[0].astype(np.float64), moons[1])
    assert norms[0] < norms[-1] / 100


def test_depth_figure_compares_factories(moons):
    def residual(depth):
        blocks = [lb.Residual(lb.Sequential(lb.Linear(16, 16, rng=i + 1), lb.Tanh())) for i in range(depth)]
        return lb.Sequential(lb.Linear(2, 16, rng=0), *blocks, lb.Linear(16, 2, rng=99))

    def plain(depth):
        layers = [m for i in range(depth) for m in (lb.Linear(16, 16, rng=i + 1), lb.Tanh())]
        return lb.Sequential(lb.Linear(2, 16, rng=0), *layers, lb.Linear(16, 2, rng=99))

    fig, histories = W.depth_figure({"plain": plain, "residual": residual}, moons, depth=3, epochs=1)
    assert set(histories) == {"plain", "residual"}
    ax_grad, ax_loss = fig.axes
    assert len(ax_grad.get_lines()) == 2 and len(ax_grad.get_lines()[0].get_xdata()) == 3 + 2
    np.testing.assert_array_equal(ax_loss.get_lines()[1].get_ydata(), histories["residual"].step_loss)
    box = W.depth_explorer(plain, moons, depth=2, depths=(1, 6), epochs=1)
    (slider,) = controls(box)
    assert isinstance(slider, w.IntSlider) and (slider.min, slider.max, slider.value) == (1, 6, 2)


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
def test_conv_figure_output_matches_direct_convolution(k, s, p):
    pytest.importorskip("littlebook.conv")
    image = lb.load_digits(flatten=False)[0][0, 0].astype(np.float64)
    fig, out = W.conv_figure(image, k, s, p)
    np.testing.assert_allclose(out, direct_conv(image, W._edge_kernel(k), s, p), atol=1e-12)
    ho = (8 + 2 * p - k) // s + 1
    assert f"⌊(8 + 2·{p} − {k})/{s}⌋ + 1 = {ho}" in fig.axes[1].get_title()


def test_conv_figure_kernel_too_large_is_a_message_not_an_error():
    pytest.importorskip("littlebook.conv")
    fig, out = W.conv_figure(np.zeros((4, 4)), kernel_size=7, padding=1)
    assert out is None and "does not fit" in texts(fig)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        W.conv_figure(np.zeros((1, 4, 4)))
    box = W.conv_explorer(np.zeros((8, 8)))
    assert [c.description for c in controls(box)] == ["kernel K", "stride S", "padding P"]


# -- polynomial degree -------------------------------------------------------------------------------

def test_polynomial_fit_recovers_an_exact_cubic():
    x = np.linspace(-2, 3, 20)
    y = 1 - 2 * x + 0.5 * x**3
    p = W.polynomial_fit(x, y, 3)
    np.testing.assert_allclose(p.convert().coef, [1, -2, 0, 0.5], atol=1e-9)
    assert p.degree() == 3


def test_polynomial_errors_against_numpy_polyfit():
    x, y = lb.data.regression_1d(30, rng=0)
    x_tr, y_tr, x_va, y_va = x[:20, 0], y[:20, 0], x[20:, 0], y[20:, 0]
    train, val = W.polynomial_errors(x_tr, y_tr, x_va, y_va, range(6))
    for d in range(6):
        coef = np.polyfit(x_tr, y_tr, d)
        assert train[d] == pytest.approx(np.mean((np.polyval(coef, x_tr) - y_tr) ** 2), rel=1e-6)
        assert val[d] == pytest.approx(np.mean((np.polyval(coef, x_va) - y_va) ** 2), rel=1e-6)
    assert np.all(np.diff(train) <= 1e-12)  # nested models: more degrees never fit the training set worse


def test_polynomial_figure_and_explorer():
    x, y = lb.data.regression_1d(40, rng=0)
    fig, (train, val) = W.polynomial_figure(x, y, 3, max_degree=10)
    assert len(train) == len(val) == 11
    best = int(np.argmin(val))
    assert any(f"best on validation: {best}" == t for t in fig.axes[1].get_legend_handles_labels()[1])
    box = W.polynomial_explorer(x, y, degree=2, degrees=(0, 10))
    (slider,) = controls(box)
    assert isinstance(slider, w.IntSlider) and slider.max == 10
    status, image = box.children[1:]
    assert status.value == f"degree 2: training MSE {train[2]:.4f}, validation MSE {val[2]:.4f}"
    first = image.value
    slider.value = 7
    assert status.value.startswith("degree 7: training MSE") and image.value != first  # redrawn in place


# -- live loss plot and global state ---------------------------------------------------------------------

def test_live_loss_plot_redraws_during_fit(moons):
    model = small_mlp()
    live = W.live_loss_plot(metrics=("loss", "accuracy"))
    h = lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.3), moons, epochs=2, batch_size=16,
               progress=False, callback=live, callback_every=5)
    assert live.calls == h.steps // 5
    step_line = live.axes[0].get_lines()[0]
    assert len(step_line.get_ydata()) == 5 * live.calls  # what the last redraw saw
    np.testing.assert_array_equal(step_line.get_ydata(), h.step_loss[:5 * live.calls])
    assert not plt.get_fignums()  # not a pyplot figure: a cell does not show it twice


def test_widget_figures_leak_no_rcparams(moons):
    before = dict(plt.rcParams)
    W.lr_figure(small_mlp, moons, lr=0.1, epochs=1)
    W.polynomial_figure(*lb.data.regression_1d(20, rng=0), 2, max_degree=4)
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
    assert slider.continuous_update is False
    with pytest.raises(TypeError, match="Blitter"):
        W.explore_figure(fig, update, k=w.IntSlider())

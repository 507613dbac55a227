"""The optimised dense path agrees with straightforward reference code written here, in float64, to 1e-6.

The layers, CrossEntropyLoss and the optimizers are written for speed (fused softmax, in-place updates through
scratch arrays, no input gradient for the data); each test recomputes the same thing the plain way: loops or
einsum over the textbook formula. Float32 inputs must also stay float32 all the way through.
"""

import math

import numpy as np
import pytest

import littlebook as lb

F64 = np.float64
TOL = dict(rtol=1e-6, atol=1e-9)


# -- reference implementations: the formulas, one sample at a time -----------------------------------------------
def ref_linear(x, W, b):
    """z_ni = Σ_j W_ij x_nj + b_i."""
    return np.einsum("ij,nj->ni", W, x) + b


def ref_linear_grads(x, W, g):
    """∂L/∂W_ij = Σ_n g_ni x_nj, ∂L/∂b_i = Σ_n g_ni, ∂L/∂x_nj = Σ_i g_ni W_ij."""
    return np.einsum("ni,nj->ij", g, x), g.sum(axis=0), np.einsum("ni,ij->nj", g, W)


def ref_cross_entropy(z, y):
    """L = −(1/N) Σ_n log(e^{z_n,y_n} / Σ_c e^{z_n,c}) and ∂L/∂z = (softmax(z) − onehot(y)) / N, sample by sample."""
    n, c = z.shape
    loss, grad = 0.0, np.zeros_like(z)
    for i in range(n):
        m = max(z[i])
        total = sum(math.exp(z[i, k] - m) for k in range(c))
        loss -= (z[i, y[i]] - m) - math.log(total)
        for k in range(c):
            grad[i, k] = (math.exp(z[i, k] - m) / total - (k == y[i])) / n
    return loss / n, grad


def params_f64(rng, shapes):
    return [lb.Parameter(rng.standard_normal(s)) for s in shapes]


# -- Linear and ReLU -----------------------------------------------------------------------------------------------
def test_linear_forward_and_backward_match_the_formulas(rng):
    layer = lb.Linear(7, 5, rng=rng, dtype=F64)
    layer.bias.value[:] = rng.standard_normal(5)
    x, g = rng.standard_normal((6, 7)), rng.standard_normal((6, 5))
    np.testing.assert_allclose(layer(x), ref_linear(x, layer.weight.value, layer.bias.value), **TOL)
    grad_x = layer.backward(g)
    gW, gb, gx = ref_linear_grads(x, layer.weight.value, g)
    np.testing.assert_allclose(layer.weight.grad, gW, **TOL)
    np.testing.assert_allclose(layer.bias.grad, gb, **TOL)
    np.testing.assert_allclose(grad_x, gx, **TOL)


def test_linear_without_input_grad_skips_only_the_input_gradient(rng):
    layer = lb.Linear(4, 3, rng=rng, dtype=F64)
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    layer(x)
    assert layer.backward(g, input_grad=False) is None
    gW, gb, _ = ref_linear_grads(x, layer.weight.value, g)
    np.testing.assert_allclose(layer.weight.grad, gW, **TOL)
    np.testing.assert_allclose(layer.bias.grad, gb, **TOL)
    layer(x)  # gradients still accumulate: a second backward adds the same again
    layer.backward(g, input_grad=False)
    np.testing.assert_allclose(layer.weight.grad, 2 * gW, **TOL)
    np.testing.assert_allclose(layer.bias.grad, 2 * gb, **TOL)


def test_relu_matches_elementwise_definition(rng):
    x, g = rng.standard_normal((4, 9)), rng.standard_normal((4, 9))
    relu = lb.ReLU()
    y, grad = relu(x), relu.backward(g)
    for idx in np.ndindex(x.shape):
        assert y[idx] == (x[idx] if x[idx] > 0 else 0.0)
        assert grad[idx] == (g[idx] if x[idx] > 0 else 0.0)


def test_sequential_input_grad_argument_reaches_only_the_first_layer(rng):
    model = lb.Sequential(lb.Linear(4, 6, rng=1, dtype=F64), lb.ReLU(), lb.Linear(6, 3, rng=2, dtype=F64))
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    model(x)
    assert model.backward(g, input_grad=False) is None
    # every parameter gradient is still the full one: compare with the same model run with input gradients
    skipped = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model(x)
    assert model.backward(g).shape == x.shape
    for a, b in zip(skipped, (p.grad for p in model.parameters()), strict=True):
        np.testing.assert_allclose(a, b, **TOL)


def test_fit_skips_the_data_gradient_without_changing_the_model():
    X, y = lb.data.blobs(64, centers=3, rng=0)
    model = lb.Sequential(lb.Linear(2, 8, rng=1, dtype=F64), lb.ReLU(), lb.Linear(8, 3, rng=2, dtype=F64))
    seen = []
    first_backward = model[0].backward

    def spy(grad_out, input_grad=True):
        seen.append(input_grad)
        return first_backward(grad_out, input_grad=input_grad)

    model[0].backward = spy
    lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.1), (X.astype(F64), y), epochs=1,
           batch_size=16, progress=False)
    assert seen == [False] * 4  # train_step passes input_grad=False; nothing on the model was set
    model(X[:3].astype(F64))
    assert model.backward(np.ones((3, 3))).shape == (3, 2)  # model.backward returns ∂L/∂x as always


# -- CrossEntropyLoss ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_cross_entropy_matches_reference_for_class_targets(rng, scale):
    z, y = scale * rng.standard_normal((8, 5)), rng.integers(0, 5, 8)
    loss = lb.CrossEntropyLoss()
    value, grad = loss(z, y), loss.backward()
    ref_value, ref_grad = ref_cross_entropy(z, y)
    assert value == pytest.approx(ref_value, rel=1e-6)
    np.testing.assert_allclose(grad, ref_grad, **TOL)


def test_cross_entropy_one_hot_sum_and_leading_axes_match_reference(rng):
    z, y = rng.standard_normal((3, 4, 6)), rng.integers(0, 6, (3, 4))
    ref_value, ref_grad = ref_cross_entropy(z.reshape(12, 6), y.reshape(12))
    one_hot = lb.one_hot(y, 6, dtype=F64)
    for target in (y, one_hot):
        loss = lb.CrossEntropyLoss()
        assert loss(z, target) == pytest.approx(ref_value, rel=1e-6)
        np.testing.assert_allclose(loss.backward(), ref_grad.reshape(z.shape), **TOL)
    total = lb.CrossEntropyLoss(reduction="sum")
    assert total(z, y) == pytest.approx(12 * ref_value, rel=1e-6)
    np.testing.assert_allclose(total.backward(), 12 * ref_grad.reshape(z.shape), **TOL)


def test_cross_entropy_backward_can_be_called_twice(rng):
    z, y = rng.standard_normal((4, 3)), rng.integers(0, 3, 4)
    loss = lb.CrossEntropyLoss()
    loss(z, y)
    np.testing.assert_array_equal(loss.backward(), loss.backward())  # the cached softmax is not modified


def test_losses_keep_float32_gradients_for_float64_targets(rng):
    z = rng.standard_normal((5, 4)).astype(np.float32)
    ce = lb.CrossEntropyLoss()
    ce(z, lb.one_hot(rng.integers(0, 4, 5), 4, dtype=F64))
    assert ce.backward().dtype == np.float32
    for loss, target in ((lb.MSELoss(), rng.standard_normal((5, 4))), (lb.BCEWithLogitsLoss(), np.ones((5, 4)))):
        loss(z, target)
        assert loss.backward().dtype == np.float32, type(loss).__name__


# -- optimizers ----------------------------------------------------------------------------------------------------
SHAPES = [(3, 4), (4,)]


def run_optimizer(make, rng, steps=5):
    """Run ``steps`` updates with fresh random gradients; return the parameters and the gradients used."""
    params = params_f64(rng, SHAPES)
    start = [p.value.copy() for p in params]
    opt = make(params)
    grads = []
    for _ in range(steps):
        grads.append([rng.standard_normal(s) for s in SHAPES])
        for p, g in zip(params, grads[-1], strict=True):
            p.grad[...] = g
        opt.step()
    return start, [p.value for p in params], grads


@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.0, 0.01), (0.9, 0.0), (0.9, 0.01)])
def test_sgd_matches_reference(rng, momentum, weight_decay):
    lr = 0.05
    start, final, grads = run_optimizer(lambda p: lb.SGD(p, lr=lr, momentum=momentum, weight_decay=weight_decay), rng)
    for i in range(len(SHAPES)):
        w, v = start[i].copy(), np.zeros_like(start[i])
        for step_grads in grads:
            g = step_grads[i] + weight_decay * w
            v = momentum * v + g
            w = w - lr * v
        np.testing.assert_allclose(final[i], w, **TOL)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_matches_reference(rng, weight_decay):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    start, final, grads = run_optimizer(lambda p: lb.Adam(p, lr=lr, weight_decay=weight_decay), rng)
    for i in range(len(SHAPES)):
        w, m, v = start[i].copy(), np.zeros_like(start[i]), np.zeros_like(start[i])
        for t, step_grads in enumerate(grads, start=1):
            g = step_grads[i] + weight_decay * w
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(final[i], w, **TOL)


# -- a whole training step -----------------------------------------------------------------------------------------
def test_mlp_training_step_matches_a_hand_written_step(rng):
    sizes = (6, 5, 4, 3)
    layers = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers += [lb.Linear(d_in, d_out, rng=i, dtype=F64), lb.ReLU()]
    model = lb.Sequential(*layers[:-1])
    for p in model.parameters():
        p.value[...] = rng.standard_normal(p.shape)
    W = [m.weight.value.copy() for m in model.layers[::2]]
    b = [m.bias.value.copy() for m in model.layers[::2]]
    x, y, lr = rng.standard_normal((7, 6)), rng.integers(0, 3, 7), 0.1

    loss_fn, opt = lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=lr, momentum=0.9)
    value = lb.train_step(model, loss_fn, opt, x, y)  # as fit() runs the step

    acts, pre = [x], []
    for i in range(3):
        pre.append(ref_linear(acts[-1], W[i], b[i]))
        acts.append(np.where(pre[-1] > 0, pre[-1], 0.0) if i < 2 else pre[-1])
    ref_value, g = ref_cross_entropy(acts[-1], y)
    for i in reversed(range(3)):
        gW, gb, gx = ref_linear_grads(acts[i], W[i], g)
        W[i], b[i] = W[i] - lr * gW, b[i] - lr * gb  # first momentum step: v = g
        g = gx * (pre[i - 1] > 0) if i else None
    assert value == pytest.approx(ref_value, rel=1e-6)
    for layer, w_ref, b_ref in zip(model.layers[::2], W, b, strict=True):
        np.testing.assert_allclose(layer.weight.value, w_ref, **TOL)
        np.testing.assert_allclose(layer.bias.value, b_ref, **TOL)


def test_float32_stays_float32_through_a_training_step(rng):
    model = lb.Sequential(lb.Linear(8, 16, rng=1), lb.ReLU(), lb.Linear(16, 4, rng=2))
    x, y = rng.standard_normal((10, 8)).astype(np.float32), rng.integers(0, 4, 10)
    for opt in (lb.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4),
                lb.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)):
        loss_fn = lb.CrossEntropyLoss()
        out = model(x)
        assert out.dtype == np.float32
        loss_fn(out, y)
        grad = loss_fn.backward()
        assert grad.dtype == np.float32
        assert model.backward(grad).dtype == np.float32
        opt.step()
        for name, p in model.named_parameters():
            assert p.value.dtype == np.float32 and p.grad.dtype == np.float32, name

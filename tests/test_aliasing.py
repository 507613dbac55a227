"""Arrays shared between a layer's cache and its caller: editing one in place must not silently change a gradient.

A module call returns a read-only view of its output (nothing copied), so ``y -= 1`` raises instead of corrupting
what the layer (or the next one) kept for backward; a layer that keeps its input (Linear) keeps a read-only input
as it is and copies a small writeable one. A container (Sequential, Residual) refuses a backward whose children
were called again after its forward, before any gradient is touched.
"""

import numpy as np
import pytest

import littlebook as lb
from littlebook.nn import _COPY_LIMIT_BYTES

F64 = np.float64


def _grads(model):
    return [p.grad.copy() for p in model.parameters()]


# -- outputs are read-only views -------------------------------------------------------------------------------


@pytest.mark.parametrize("make, shape", [
    pytest.param(lambda: lb.MaxPool2d(2), (2, 1, 4, 4), id="MaxPool2d"),
    pytest.param(lambda: lb.AvgPool2d(2), (2, 1, 4, 4), id="AvgPool2d"),
    pytest.param(lambda: lb.Sigmoid(), (2, 3), id="Sigmoid"),
    pytest.param(lambda: lb.Tanh(), (2, 3), id="Tanh"),
    pytest.param(lambda: lb.Softmax(), (2, 3), id="Softmax"),
    pytest.param(lambda: lb.ReLU(), (2, 3), id="ReLU"),
    pytest.param(lambda: lb.Linear(3, 2, dtype=F64), (2, 3), id="Linear"),
    pytest.param(lambda: lb.Conv2d(1, 2, 3, dtype=F64), (2, 1, 4, 4), id="Conv2d"),
    pytest.param(lambda: lb.BatchNorm2d(1, dtype=F64), (2, 1, 4, 4), id="BatchNorm2d"),
    pytest.param(lambda: lb.LayerNorm(3, dtype=F64), (2, 3), id="LayerNorm"),
    pytest.param(lambda: lb.GroupNorm(1, 1, dtype=F64), (2, 1, 4, 4), id="GroupNorm"),
])
def test_an_in_place_edit_of_an_output_raises_and_leaves_the_gradient_alone(make, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    layer = make()
    y = layer(x)
    g = np.random.default_rng(1).standard_normal(y.shape)
    expected = layer.backward(g).copy()
    with pytest.raises(ValueError, match="read-only"):
        y -= 1.0
    with pytest.raises(ValueError, match="read-only"):
        y[...] = 0.0
    np.testing.assert_array_equal(layer.backward(g), expected)


def test_the_reviewers_cases():
    """MaxPool's grad sum became 0 after y -= 1; Sigmoid's grad changed after s *= 0.5; both now raise."""
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4))
    pool = lb.MaxPool2d(2)
    y = pool(x)
    with pytest.raises(ValueError, match="read-only"):
        y -= 1.0
    assert pool.backward(np.ones_like(y)).sum() == 8.0
    sig = lb.Sigmoid()
    s = sig(np.array([[0.0, 2.0]]))
    with pytest.raises(ValueError, match="read-only"):
        s *= 0.5
    np.testing.assert_allclose(sig.backward(np.ones((1, 2))), [[0.25, 0.10499359]], rtol=1e-7)


def test_outputs_are_views_not_copies():
    sig = lb.Sigmoid()
    y = sig(np.zeros((2, 3)))
    assert not y.flags.writeable and y.base is sig._y  # the cache itself, seen read-only: nothing was copied
    y2 = y - 1  # a new array is the way to change an output
    assert y2.flags.writeable


def test_an_output_that_is_a_view_of_your_own_array_stays_writeable():
    x = np.ones((2, 2, 2))
    y = lb.Flatten()(x)
    assert y.flags.writeable and np.shares_memory(x, y)  # your memory: writeable through x anyway
    assert lb.Identity()(x) is x


def test_a_module_keeps_returning_whatever_it_returns_when_it_is_not_an_array():
    class Pair(lb.Module):
        def forward(self, x):
            return x, x

    x = np.ones(3)
    a, b = Pair()(x)
    assert a is x and b is x


# -- inputs kept for backward --------------------------------------------------------------------------------------


def test_linear_gradient_does_not_change_when_its_input_is_edited_before_backward():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 2))
    expected = X.T @ np.ones((3, 1))
    lin = lb.Linear(2, 1, dtype=F64, rng=0)
    lin(X)
    X += 100.0  # was: weight grad [[299.4 300.8]]
    lin.backward(np.ones((3, 1)))
    np.testing.assert_allclose(lin.weight.grad, expected.T)


def test_a_view_of_your_array_passed_on_by_flatten_is_protected_too():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 2))
    expected = x.reshape(3, 4).T @ np.ones((3, 1))
    model = lb.Sequential(lb.Flatten(), lb.Linear(4, 1, dtype=F64, rng=0))
    model(x)
    x += 100.0
    model.backward(np.ones((3, 1)))
    np.testing.assert_allclose(model[1].weight.grad, expected.T)


def test_read_only_inputs_and_activations_are_kept_without_a_copy():
    """The training loop pays nothing: fit's batches can be read-only, and every later input is an activation."""
    X = np.random.default_rng(0).standard_normal((4, 3))
    X.flags.writeable = False
    model = lb.Sequential(lb.Linear(3, 5, dtype=F64), lb.ReLU(), lb.Linear(5, 2, dtype=F64))
    model(X)
    assert model[0]._x is X
    kept = model[2]._x  # ReLU's output as the read-only view it returned: a view, where a copy would own its memory
    assert not kept.flags.writeable and kept.base is not None


def test_a_large_writeable_input_is_kept_by_reference():
    """Documented in Linear's docstring: above 1 MiB (a whole data set given to predict) no copy is made."""
    n = _COPY_LIMIT_BYTES // (8 * 4) + 1
    X = np.zeros((n, 4))
    lin = lb.Linear(4, 1, dtype=F64)
    lin(X)
    assert lin._x is X
    small = np.zeros((2, 4))
    lin(small)
    assert lin._x is not small and not np.shares_memory(lin._x, small)


def test_same_numbers_as_before():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 4)).astype(np.float32)
    model = lb.Sequential(lb.Linear(4, 5, rng=0), lb.Sigmoid(), lb.Linear(5, 3, rng=1))
    out = model(X)
    W1, b1, W2, b2 = (p.value for p in model.parameters())
    expected = 1 / (1 + np.exp(-(X @ W1.T + b1))) @ W2.T + b2
    np.testing.assert_allclose(out, expected, rtol=1e-5)


# -- Sequential.backward refuses before it accumulates anything ----------------------------------------------------


def _mlp():
    return lb.Sequential(lb.Linear(4, 5, rng=0, dtype=F64), lb.ReLU(), lb.Linear(5, 3, rng=1, dtype=F64))


def test_a_layer_called_again_after_the_forward_pass_is_refused_before_any_gradient_changes():
    """The reviewer's case: the failure came from layer 0 after layer 2 had already added its gradients."""
    x8 = np.random.default_rng(0).standard_normal((8, 4))
    model = _mlp()
    out = model(x8)
    model.layers[0](x8[:4])  # a look at the first layer's activations on a few samples
    before = _grads(model)
    with pytest.raises(RuntimeError, match=r"layer 0 \(Linear\(4 → 5\)\) was called again"):
        model.backward(np.ones_like(out))
    assert all(np.array_equal(a, b) for a, b in zip(before, _grads(model)))


def test_a_call_with_the_same_shapes_was_silently_wrong_and_is_refused_too():
    rng = np.random.default_rng(0)
    x, other = rng.standard_normal((8, 4)), rng.standard_normal((8, 4))
    model = _mlp()
    out = model(x)
    model[:2](other)  # a slice shares the layers: their caches are now for `other`
    with pytest.raises(RuntimeError, match="run the forward pass again"):
        model.backward(np.ones_like(out))
    model(x)  # a new forward pass makes backward valid again
    model.backward(np.ones_like(out))


def test_a_wrong_gradient_shape_still_changes_nothing():
    model = _mlp()
    model(np.ones((8, 4)))
    before = _grads(model)
    with pytest.raises(ValueError, match="grad_out must have the shape"):
        model.backward(np.ones((8, 2)))
    assert all(np.array_equal(a, b) for a, b in zip(before, _grads(model)))


def test_sequential_backward_before_forward():
    with pytest.raises(RuntimeError, match="forward before backward"):
        _mlp().backward(np.ones((2, 3)))


def test_residual_refuses_a_block_called_again():
    rng = np.random.default_rng(0)
    block = lb.Linear(3, 3, dtype=F64, rng=0)
    res = lb.Residual(block)
    y = res(rng.standard_normal((2, 3)))
    block(rng.standard_normal((2, 3)))
    with pytest.raises(RuntimeError, match="block"):
        res.backward(np.ones_like(y))
    assert not block.weight.grad.any()


def test_nested_containers_and_a_transformer_still_train():
    """Every library model calls its children through __call__: the checks pass in a normal step."""
    model = lb.TinyTransformer(11, 6, dim=8, num_heads=2, num_layers=2, rng=0)
    ids = np.random.default_rng(0).integers(0, 11, (3, 6))
    loss_fn = lb.CrossEntropyLoss()
    loss_fn(model(ids), ids)
    model.backward(loss_fn.backward())
    assert all(np.isfinite(p.grad).all() for p in model.parameters())


def test_max_pool_with_1x1_windows_keeps_a_copy_of_a_writeable_input():
    """With K = 1, S = 1 the window matrix is a view of x itself: editing x zeroed the gradient (sum 18 → 0)."""
    x = np.random.default_rng(0).standard_normal((2, 1, 3, 3))
    pool = lb.MaxPool2d(1)
    y = pool(x)
    x += 1.0
    assert pool.backward(np.ones_like(y)).sum() == 18.0

"""littlebook.autograd: every op against float64 central differences, broadcasting on random shapes, the explicit
layers (same loss and gradients), PyTorch (when installed), accumulation, graph order and errors."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import littlebook as lb
from littlebook.autograd import Tensor, topological_order, unbroadcast
from littlebook.gradcheck import numerical_gradient, rel_error


def gradient_errors(fn, *arrays, seed=0):
    """Relative errors of backward() for L = Σ fn(*inputs) ⊙ R (R fixed and random, so every output counts)."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    tensors = [Tensor(a) for a in arrays]
    out = fn(*tensors)
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    (out * weights).sum().backward()

    def f():
        return float(np.sum(fn(*[Tensor(a) for a in arrays]).data * weights))
    return [rel_error(t.grad, numerical_gradient(f, a)) for t, a in zip(tensors, arrays)]


def away_from_zero(rng, shape, low=0.2):
    """Random values with |x| ≥ low: no kink of relu, no pole of 1/x between x − h and x + h."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, 2.0, size=shape)


UNARY = {
    "neg": lambda a: -a,
    "exp": lambda a: a.exp(),
    "log": lambda a: (a * a).log(),
    "relu": lambda a: a.relu(),
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "pow 3": lambda a: a**3,
    "pow -1.5 of a positive": lambda a: (a * a + 0.5) ** -1.5,
    "sum": lambda a: a.sum(),
    "sum axis 0": lambda a: a.sum(axis=0),
    "sum axis -1 keepdims": lambda a: a.sum(axis=-1, keepdims=True),
    "sum axes (0, 2)": lambda a: a.sum(axis=(0, 2)),
    "mean": lambda a: a.mean(),
    "mean axis 1 keepdims": lambda a: a.mean(axis=1, keepdims=True),
    "logsumexp": lambda a: a.logsumexp(axis=-1),
    "logsumexp axis 0 keepdims": lambda a: a.logsumexp(axis=0, keepdims=True),
    "reshape": lambda a: a.reshape(4, -1),
    "transpose": lambda a: a.transpose(),
    "transpose (1, 0, 2)": lambda a: a.transpose(1, 0, 2),
    ".T": lambda a: a.T,
    "scalar on the left": lambda a: 2.0 - 3.0 / (a * a + 1.0) + 0.5 * a,
    "numpy array on the left": lambda a: np.full(a.shape, 2.0) * a + np.ones(a.shape[-1]),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op_gradient_matches_central_differences(name):
    x = away_from_zero(np.random.default_rng(1), (2, 3, 4))
    assert max(gradient_errors(UNARY[name], x)) < 1e-6


# The same computations in plain numpy: a gradient check compares backward with the op's own forward, so a wrong
# forward with a matching backward (mean over an axis dividing by the whole size) would pass it.
NUMPY_TWINS = {
    "neg": lambda x: -x,
    "exp": np.exp,
    "log": lambda x: np.log(x * x),
    "relu": lambda x: np.maximum(x, 0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "pow 3": lambda x: x**3,
    "pow -1.5 of a positive": lambda x: (x * x + 0.5) ** -1.5,
    "sum": np.sum,
    "sum axis 0": lambda x: np.sum(x, axis=0),
    "sum axis -1 keepdims": lambda x: np.sum(x, axis=-1, keepdims=True),
    "sum axes (0, 2)": lambda x: np.sum(x, axis=(0, 2)),
    "mean": np.mean,
    "mean axis 1 keepdims": lambda x: np.mean(x, axis=1, keepdims=True),
    "logsumexp": lambda x: np.log(np.sum(np.exp(x), axis=-1)),
    "logsumexp axis 0 keepdims": lambda x: np.log(np.sum(np.exp(x), axis=0, keepdims=True)),
    "reshape": lambda x: x.reshape(4, -1),
    "transpose": np.transpose,
    "transpose (1, 0, 2)": lambda x: np.transpose(x, (1, 0, 2)),
    ".T": lambda x: x.T,
    "scalar on the left": lambda x: 2.0 - 3.0 / (x * x + 1.0) + 0.5 * x,
    "numpy array on the left": lambda x: np.full(x.shape, 2.0) * x + np.ones(x.shape[-1]),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op_forward_matches_numpy(name):
    assert set(NUMPY_TWINS) == set(UNARY)  # a new op needs its twin
    x = away_from_zero(np.random.default_rng(1), (2, 3, 4))
    out = UNARY[name](Tensor(x))
    expected = NUMPY_TWINS[name](x)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}


@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), (4,)), ((1, 4), (3, 1)),
                                    ((), (2, 3))])
def test_binary_op_gradient_with_broadcasting(op, shapes):
    rng = np.random.default_rng(2)
    a, b = (away_from_zero(rng, s) for s in shapes)
    assert max(gradient_errors(BINARY[op], a, b)) < 1e-6
    np.testing.assert_array_equal(BINARY[op](Tensor(a), Tensor(b)).data, BINARY[op](a, b))  # numpy's own op


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 1)),
                                    ((1, 2, 3), (4, 3, 2))])
def test_matmul_gradient(shapes):
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal(s) for s in shapes)
    assert max(gradient_errors(lambda a, b: a @ b, a, b)) < 1e-6
    np.testing.assert_allclose((Tensor(a) @ Tensor(b)).data, a @ b, rtol=1e-13)


@settings(max_examples=40, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4), op=st.sampled_from(list(BINARY)),
       seed=st.integers(0, 2**32 - 1))
def test_broadcasting_gradients_on_random_shapes(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a, b = (away_from_zero(rng, s) for s in shapes.input_shapes)
    assert max(gradient_errors(BINARY[op], a, b, seed=seed)) < 1e-6


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), k=st.integers(1, 5), m=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_composite_gradients_on_random_shapes(n, k, m, seed):
    rng = np.random.default_rng(seed)

    def layer(x, w, b):
        return ((x @ w + b).tanh() * (x @ w).sigmoid()).logsumexp(axis=1).mean()
    errors = gradient_errors(layer, rng.standard_normal((n, k)), rng.standard_normal((k, m)), rng.standard_normal(m))
    assert max(errors) < 1e-6


def test_unbroadcast_sums_over_the_broadcast_axes():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(g, (4,)), g.sum(axis=(0, 1)))
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(unbroadcast(g, (1, 3, 4)), g.sum(axis=0, keepdims=True))
    assert unbroadcast(g, (2, 3, 4)) is g
    assert unbroadcast(g, ()) == g.sum()
    with pytest.raises(ValueError, match="cannot come from shape"):
        unbroadcast(g, (5,))


# -- the same network as littlebook's explicit layers -------------------------------------------------------------
def tensor_mlp_loss(params, x, y_onehot):
    """Linear → ReLU → Linear → softmax cross-entropy, in Tensor ops (Linear stores W as (out, in))."""
    w1, b1, w2, b2 = params
    z = (Tensor(x) @ w1.T + b1).relu() @ w2.T + b2
    log_probs = z - z.logsumexp(axis=1, keepdims=True)
    return -(log_probs * y_onehot).sum(axis=1).mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mlp_matches_the_explicit_layers(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((16, 8)), rng.integers(0, 5, 16)
    net = lb.Sequential(lb.Linear(8, 12, rng=rng, dtype=np.float64), lb.ReLU(),
                        lb.Linear(12, 5, rng=rng, dtype=np.float64))
    net[0].bias.value[...] = rng.standard_normal(12) * 0.1
    ce = lb.CrossEntropyLoss()
    explicit = ce(net(x), y)
    net.zero_grad()
    net.backward(ce.backward())

    params = [Tensor(p.value.copy()) for p in net.parameters()]
    loss = tensor_mlp_loss(params, x, lb.one_hot(y, 5, dtype=np.float64))
    loss.backward()
    assert abs(loss.item() - explicit) <= 1e-10 * abs(explicit)
    for t, p in zip(params, net.parameters()):
        assert rel_error(t.grad, p.grad) < 1e-10


# -- PyTorch as an independent reference --------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=2, max_dims=3, max_side=4),
       seed=st.integers(0, 2**32 - 1))
def test_against_torch_on_random_shapes(shapes, seed):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(s) for s in shapes.input_shapes)
    c = rng.standard_normal((shapes.result_shape[-1], 3))

    def f(a, b, c, lse, sig):  # the same expression for both libraries
        y = ((a * b + 1.5).tanh() - sig(a / (b * b + 1.0)) + (a - b).relu() ** 2) @ c
        return (lse(y) + (y * y + 1.0).log().mean()).sum()
    ta, tb, tc = (Tensor(v) for v in (a, b, c))
    ours = f(ta, tb, tc, lambda y: y.logsumexp(axis=-1), lambda z: z.sigmoid())
    ours.backward()
    pa, pb, pc = (torch.tensor(v, requires_grad=True) for v in (a, b, c))
    theirs = f(pa, pb, pc, lambda y: torch.logsumexp(y, dim=-1), torch.sigmoid)
    theirs.backward()
    assert abs(ours.item() - theirs.item()) <= 1e-12 * max(1.0, abs(theirs.item()))
    for t, p in ((ta, pa), (tb, pb), (tc, pc)):
        assert rel_error(t.grad, p.grad.numpy()) < 1e-12


# -- accumulation, graph order, dtype ----------------------------------------------------------------------------
def test_a_tensor_used_twice_receives_both_contributions():
    x = Tensor(np.array([1.0, -2.0, 3.0]))
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)  # not x.data: both factors are x
    w = Tensor(np.array([0.5, 2.0]))
    h = w * 3.0
    (h * h + h).sum().backward()  # h feeds two consumers; its gradient is the sum of both
    np.testing.assert_allclose(h.grad, 2 * h.data + 1)
    np.testing.assert_allclose(w.grad, 3 * (2 * h.data + 1))


def test_backward_twice_accumulates_and_zero_grad_resets():
    x = Tensor(np.array([1.0, 2.0]))
    y = (x * x).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(x.grad, 2 * 2 * x.data)  # two passes, each adding 2x (not 2x, then 6x)
    x.zero_grad()
    assert x.grad is None


def test_detach_stops_the_gradient():
    x = Tensor(np.array([3.0]))
    (x * x.detach()).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0])


def test_topological_order_deep_graph_without_recursion():
    x = Tensor(np.array(1.0))
    y = x
    for _ in range(5000):  # a recursive DFS would exceed Python's recursion limit here
        y = y + 1.0
    y.backward()
    assert x.grad == 1.0
    assert len(topological_order(y)) == 1 + 2 * 5000  # x, then each constant and each sum


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100)), min_size=1, max_size=30))
def test_topological_order_puts_inputs_first(edges):
    nodes = [Tensor(np.array(1.0))]
    for i, j in edges:  # each new node combines two earlier ones: a random DAG
        nodes.append(nodes[i % len(nodes)] * nodes[j % len(nodes)])
    order = topological_order(nodes[-1])
    position = {id(t): k for k, t in enumerate(order)}
    assert len(position) == len(order)  # no node twice
    for t in order:
        assert all(position[id(p)] < position[id(t)] for p in t._parents)
    assert order[-1] is nodes[-1]


def test_dtype_is_kept():
    # Python numbers take the tensor's dtype (as in numpy): 0.5 * x stays float32
    x = Tensor(np.ones((2, 3), dtype=np.float32))
    y = ((0.5 * x).exp().tanh().sigmoid() @ np.ones((3, 2), np.float32) / 3.0 + 1).logsumexp().mean() ** 2
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert Tensor([1, 2]).dtype == np.float64 and Tensor(3).dtype == np.float64
    w64 = Tensor(np.ones(3))
    (x.sum(axis=0) * w64).sum().backward()  # mixed: each tensor's gradient comes back in its own dtype
    assert w64.grad.dtype == np.float64 and x.grad.dtype == np.float32


def test_mixed_dtypes_promote_as_in_numpy_whichever_side_they_are_on():
    # Was: the result took the left operand's dtype, so a32 + b64 rounded b64's 1e-8 away and b64 + a32 kept it.
    a32, b64 = Tensor(np.array([1.0], np.float32)), Tensor(np.array([1e-8]))
    for y in (a32 + b64, b64 + a32, a32 * b64, b64 - a32, a32 / b64, a32.reshape(1, 1) @ Tensor(np.ones((1, 1))),
              a32 + np.array([1e-8])):
        assert y.dtype == np.result_type(np.float32, np.float64) == np.float64, y
    assert (a32 + b64).data[0] - 1 == (b64 + a32).data[0] - 1 == np.float64(1.0) + 1e-8 - 1
    (a32 * b64).sum().backward()
    assert a32.grad.dtype == np.float32 and b64.grad.dtype == np.float64  # each gradient in its tensor's dtype
    assert (a32 * 2).dtype == (a32 + True).dtype == (a32 * np.ones(1, np.float32)).dtype == np.float32


def test_complex_operands_are_refused_like_complex_tensors():
    # Was: Tensor([1., 2.]) * np.array([1j, 1j]) gave [0. 0.] with a ComplexWarning: the imaginary parts dropped.
    x = Tensor(np.array([1.0, 2.0]))
    for other in (np.array([1j, 1j]), np.complex128(1j), 1j, np.array(["a", "b"])):
        with pytest.raises(TypeError, match="other must be a Tensor, a real number or a numpy array of real"):
            x * other
    with pytest.raises(TypeError, match="dtype complex128"):
        np.array([1j, 1j]) + x
    with pytest.raises(TypeError, match="data must be numbers"):
        Tensor(np.array([1j]))


@pytest.mark.parametrize("shape, axis", [((0, 3), 0), ((0,), None), ((2, 0), (0, 1)), ((3, 0), -1)])
def test_mean_over_no_entries_is_a_value_error(shape, axis):
    # Was: ZeroDivisionError: float division by zero
    words = rf"shape {re.escape(str(shape))} has no entries along axis={re.escape(str(axis))}"
    with pytest.raises(ValueError, match=words):
        Tensor(np.ones(shape)).mean(axis=axis)
    assert Tensor(np.ones((0, 3))).mean(axis=1).shape == (0,)  # a mean of 3 items for each of 0 rows is fine


# -- errors ---------------------------------------------------------------------------------------------------
def test_backward_needs_a_scalar_or_a_gradient():
    y = Tensor(np.ones((2, 3))) * 2.0
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*pass grad="):
        y.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\)"):
        y.backward(np.ones(3))
    y.backward(np.ones((2, 3)))  # an explicit ∂L/∂y of the right shape is fine


def test_matmul_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match="at least 2 axes"):
        Tensor(np.ones(3)) @ np.ones((3, 2))


def test_bad_inputs_raise_type_errors():
    with pytest.raises(TypeError, match="data must be numbers"):
        Tensor(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="other must be"):
        Tensor(np.ones(2)) + "a"
    with pytest.raises(TypeError, match="exponent p must be a number"):
        Tensor(np.ones(2)) ** Tensor(np.ones(2))


# -- review fixes: negative transpose axes, VJP shapes, reduction axes, saved values, pow 0 and relu ------------
def test_transpose_with_negative_axes_sends_the_gradient_back_in_the_input_shape():
    x = np.arange(24.0).reshape(2, 3, 4)
    t = Tensor(x)
    y = t.transpose(0, -1, -2)
    assert y.shape == (2, 4, 3)
    r = np.random.default_rng(0).standard_normal(y.shape)
    (y * r).sum().backward()
    np.testing.assert_array_equal(t.grad, r.transpose(0, 2, 1))  # was of shape (3, 4, 2)
    assert max(gradient_errors(lambda a: a.transpose((-1, 0, 1)), x)) < 1e-6


@pytest.mark.parametrize("axes", [(0, 1), (0, 0, 1), (0, 1, 3), (0, 1, -4), (0, 1, 2, 3)])
def test_transpose_rejects_an_axes_tuple_that_is_not_a_permutation(axes):
    with pytest.raises(ValueError, match=r"transpose: axes must be a permutation of range\(3\).*shape \(2, 3, 4\)"
                                         rf".*got axes={re.escape(str(axes))}"):
        Tensor(np.ones((2, 3, 4))).transpose(*axes)


def test_backward_rejects_a_vjp_result_of_the_wrong_shape():
    a, b = Tensor(np.ones((3, 1))), Tensor(np.ones(4))
    forgot_unbroadcast = Tensor(a.data + b.data, (a, b), lambda g: (g, g), "my_add")  # g has shape (3, 4)
    with pytest.raises(ValueError, match=r"VJP of 'my_add' returned a gradient of shape \(3, 4\) for an input of "
                                         r"shape \(3, 1\)"):
        forgot_unbroadcast.sum().backward()
    assert a.grad is None  # nothing wrong-shaped was stored
    one_for_two = Tensor(a.data + b.data, (a, b), lambda g: (unbroadcast(g, (3, 1)),), "my_add")
    with pytest.raises(ValueError, match=r"VJP of 'my_add' must return a tuple of 2 gradient\(s\).*got 1 of them"):
        one_for_two.sum().backward()
    no_tuple = Tensor(np.sin(a.data), (a,), lambda g: g * np.cos(a.data), "sin")  # (g,) was meant
    with pytest.raises(ValueError, match=r"must return a tuple of 1 gradient\(s\).*got a ndarray"):
        no_tuple.sum().backward()


@pytest.mark.parametrize("reduce", [lambda t, ax: t.sum(axis=ax), lambda t, ax: t.mean(axis=ax),
                                    lambda t, ax: t.sum(axis=(0, ax), keepdims=True),
                                    lambda t, ax: t.logsumexp(axis=ax)], ids=["sum", "mean", "sum tuple", "logsumexp"])
@pytest.mark.parametrize("axis", [2, -3])
def test_reductions_reject_an_axis_out_of_range(reduce, axis):
    with pytest.raises(ValueError, match=rf"axis {axis} is out of bounds for a tensor of dimension 2"):
        reduce(Tensor(np.ones((2, 3))), axis)  # sum wrapped axis 2 round to axis 0; mean raised a bare IndexError


def test_the_graph_keeps_the_values_the_forward_pass_used():
    w, x = Tensor([2.0]), Tensor([3.0])
    y = (w * x).sum()
    with pytest.raises(ValueError, match="read-only"):
        w.data -= 1  # in place: would change the array the product saved
    w.data = w.data - 1  # rebinding is fine: the graph keeps the array it saved
    assert w.data.tolist() == [1.0] and not w.data.flags.writeable
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0])  # ∂(w·x)/∂x = w at the forward pass, not the new w
    np.testing.assert_array_equal(w.grad, [3.0])

    arr = np.array([2.0, -1.0])  # the caller's array: Tensor copies it
    t = Tensor(arr)
    y = (t * t).sum()
    arr[:] = 100.0
    y.backward()
    np.testing.assert_array_equal(t.data, [2.0, -1.0])
    np.testing.assert_array_equal(t.grad, [4.0, -2.0])


@pytest.mark.parametrize("name", list(UNARY))
def test_rebinding_data_after_the_forward_pass_does_not_change_any_gradient(name):
    x = away_from_zero(np.random.default_rng(1), (2, 3, 4))
    t = Tensor(x)
    r = np.random.default_rng(2).standard_normal(UNARY[name](t).shape)
    expected = Tensor(x)
    (UNARY[name](expected) * r).sum().backward()
    loss = (UNARY[name](t) * r).sum()
    t.data = t.data * 3.0 + 1.0  # after the forward pass, before backward
    loss.backward()
    np.testing.assert_array_equal(t.grad, expected.grad)


@pytest.mark.parametrize("op", list(BINARY) + ["@"])
def test_rebinding_data_after_the_forward_pass_does_not_change_a_binary_gradient(op):
    fn = BINARY.get(op, lambda a, b: a @ b)
    rng = np.random.default_rng(3)
    a, b = away_from_zero(rng, (3, 4)), away_from_zero(rng, (4,) if op != "@" else (4, 2))
    ta, tb, ea, eb = Tensor(a), Tensor(b), Tensor(a), Tensor(b)
    fn(ea, eb).sum().backward()
    loss = fn(ta, tb).sum()
    ta.data, tb.data = ta.data + 1.0, tb.data * 2.0
    loss.backward()
    np.testing.assert_array_equal(ta.grad, ea.grad)
    np.testing.assert_array_equal(tb.grad, eb.grad)


def test_power_zero_has_gradient_zero_also_at_zero():
    x = Tensor(np.array([0.0, 2.0, -1.5]))
    y = x**0
    np.testing.assert_array_equal(y.data, [1.0, 1.0, 1.0])
    y.sum().backward()  # was 0 · 0⁻¹ = NaN at x = 0 (and a divide-by-zero warning)
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def test_relu_gives_plus_zero_and_no_nan_for_negative_and_infinite_inputs():
    x = Tensor(np.array([-np.inf, -2.0, -0.0, 0.0, 3.0, np.inf]))
    y = x.relu()
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 0.0, 0.0, 3.0, np.inf])
    assert not np.signbit(y.data).any()  # a ⊙ mask gave −0.0 for −2 and NaN for −∞
    y.backward(np.array([np.inf, 1.0, 1.0, 1.0, 1.0, 1.0]))  # an infinite g where relu is flat still sends 0
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("grad", [np.ones(3), np.ones((1, 2, 3)), np.ones(4), np.array("x")],
                         ids=["(3,) broadcasts", "(1, 2, 3) broadcasts", "(4,)", "a string"])
def test_a_grad_of_another_shape_set_by_hand_is_refused_before_any_grad_changes(grad):
    # (3,) and (1, 2, 3) used to broadcast into a wrong .grad silently; (4,) and "x" failed inside numpy, after the
    # nodes before it had their .grad written
    a, b = Tensor(np.ones((2, 3))), Tensor(np.full((2, 3), 2.0))
    b.grad = np.full((2, 3), 7.0)
    a.grad = grad
    with pytest.raises(ValueError, match=r"holds a \.grad of shape .* the tensor's shape \(2, 3\)"):
        (a * b).sum().backward()
    np.testing.assert_array_equal(b.grad, np.full((2, 3), 7.0))


def test_a_vjp_that_fails_late_leaves_every_grad_as_it_was():
    x = Tensor(np.ones(3))
    bad = Tensor(x.data * 2, (x,), lambda g: (g[:2],), "custom")  # a VJP of one's own, of the wrong shape
    y = (bad * 3.0).sum()
    with pytest.raises(ValueError, match="the VJP of 'custom'"):
        y.backward()
    assert y.grad is None and bad.grad is None and x.grad is None  # used to hold the gradients computed before it


@pytest.mark.parametrize("op, sym", [(lambda a, b: a + b, "+"), (lambda a, b: a - b, "-"), (lambda a, b: a * b, "*"),
                                     (lambda a, b: a / b, "/")], ids=["+", "-", "*", "/"])
def test_shapes_that_do_not_broadcast_name_the_operation(op, sym):
    with pytest.raises(ValueError, match=re.escape(f"Tensor {sym}: shapes (2, 3) and (4,) do not broadcast")):
        op(Tensor(np.ones((2, 3))), np.ones(4))


def test_reshape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"reshape: a tensor of shape \(2, 3\) \(6 entries\) cannot take the shape 4"):
        Tensor(np.ones((2, 3))).reshape(4)
    with pytest.raises(TypeError, match="reshape: the shape must be ints"):
        Tensor(np.ones((2, 3))).reshape("a")

"""Dense layers: gradient checks, shapes, the Module contract (parameters, modes, state dicts)."""

import numpy as np
import pytest

import littlebook as lb
from littlebook.gradcheck import check_module

F64 = np.float64


def away_from_zero(rng, shape, margin=0.1):
    """Random inputs with |x| > margin, so that ReLU's kink is never within a finite-difference step."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < margin, np.sign(x) * margin + x, x) + 0.0


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("init", ["he", "xavier"])
def test_linear_gradcheck(rng, batch, init):
    layer = lb.Linear(5, 3, init=init, rng=rng, dtype=F64)
    layer.bias.value[:] = rng.standard_normal(3)
    errors = check_module(layer, rng.standard_normal((batch, 5)))
    assert set(errors) == {"input", "weight", "bias"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("layer", [lb.ReLU(), lb.Sigmoid(), lb.Tanh(), lb.Softmax(), lb.Identity()],
                         ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("shape", [(1, 3), (4, 7)])
def test_activation_gradcheck(rng, layer, shape):
    errors = check_module(layer, away_from_zero(rng, shape))
    assert errors["input"] < 1e-6, errors


def test_mlp_gradcheck(rng):
    model = lb.Sequential(lb.Linear(4, 6, rng=1, dtype=F64), lb.Tanh(), lb.Linear(6, 5, rng=2, dtype=F64),
                          lb.Sigmoid(), lb.Linear(5, 3, rng=3, dtype=F64))
    errors = check_module(model, rng.standard_normal((3, 4)))
    assert len(errors) == 1 + 6
    assert max(errors.values()) < 1e-6, errors


def test_linear_matches_the_formula(rng):
    layer = lb.Linear(2, 3, rng=rng, dtype=F64)
    layer.bias.value[:] = [0.1, -0.2, 0.3]
    x = rng.standard_normal((5, 2))
    W, b = layer.weight.value, layer.bias.value
    expected = np.array([[sum(W[i, j] * xn[j] for j in range(2)) + b[i] for i in range(3)] for xn in x])
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12)


def test_notes_fully_connected_example():
    layer = lb.Linear(2, 1, dtype=F64)
    layer.weight.value[:] = [[0.8, 0.2]]
    layer.bias.value[:] = [0.1]
    z = layer(np.array([[0.5, 0.3]]))
    assert z[0, 0] == pytest.approx(0.56)
    assert lb.ReLU()(z)[0, 0] == pytest.approx(0.56)


def test_init_schemes_have_the_documented_variance():
    he = lb.Linear(400, 300, init="he", rng=0, dtype=F64).weight.value
    xavier = lb.Linear(400, 300, init="xavier", rng=0, dtype=F64).weight.value
    assert he.var() == pytest.approx(2 / 400, rel=0.02)
    assert xavier.var() == pytest.approx(2 / 700, rel=0.02)
    with pytest.raises(ValueError, match="init"):
        lb.Linear(2, 2, init="uniform")


def test_dtype_follows_argument():
    assert lb.Linear(3, 2).weight.value.dtype == np.float32
    x = np.ones((2, 3), np.float32)
    assert lb.Sequential(lb.Linear(3, 2), lb.Sigmoid(), lb.Linear(2, 2), lb.Tanh())(x).dtype == np.float32


def test_activations_are_stable_for_huge_inputs():
    x = np.array([[-1e4, 0.0, 1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # overflow would raise
        s = lb.Sigmoid()(x)
        p = lb.Softmax()(x)
    np.testing.assert_allclose(s, [[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(p, [[0.0, 0.0, 1.0]])
    np.testing.assert_allclose(lb.Tanh()(x), [[-1.0, 0.0, 1.0]])


def test_backward_accumulates_gradients(rng):
    layer = lb.Linear(3, 2, rng=rng, dtype=F64)
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    layer(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * once)
    layer.zero_grad()
    assert not layer.weight.grad.any()


def test_wrong_shape_names_layer_expected_and_received():
    with pytest.raises(ValueError, match=r"Linear\(4 → 2\): expected input of shape \(N, 4\), got \(3, 5\)"):
        lb.Linear(4, 2)(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        lb.Linear(4, 2)(np.zeros(4, np.float32))


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="forward before backward"):
        lb.Linear(2, 2).backward(np.zeros((1, 2)))


def test_parameters_names_and_modes():
    model = lb.Sequential(lb.Linear(3, 4), lb.ReLU(), lb.Dropout(0.5), lb.Linear(4, 2, bias=False))
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "3.weight"]
    assert model.num_parameters() == 3 * 4 + 4 + 4 * 2
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_state_dict_round_trips_exactly(tmp_path):
    a = lb.Sequential(lb.Linear(3, 4, rng=1), lb.ReLU(), lb.Linear(4, 2, rng=2))
    b = lb.Sequential(lb.Linear(3, 4, rng=7), lb.ReLU(), lb.Linear(4, 2, rng=8))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    assert not np.array_equal(a(x), b(x))
    a.save(tmp_path / "model.npz")
    b.load(tmp_path / "model.npz")
    assert np.array_equal(a(x), b(x))
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb and np.array_equal(pa, pb) and pa.dtype == pb.dtype


def test_load_state_dict_rejects_mismatches():
    model = lb.Sequential(lb.Linear(3, 4))
    with pytest.raises(KeyError, match="missing"):
        model.load_state_dict({"0.weight": np.zeros((4, 3))})
    with pytest.raises(ValueError, match=r"0.bias: expected shape \(4,\)"):
        model.load_state_dict({"0.weight": np.zeros((4, 3)), "0.bias": np.zeros(5)})


def test_state_dict_is_a_copy():
    model = lb.Linear(2, 2)
    state = model.state_dict()
    state["weight"][:] = 99
    assert not (model.weight.value == 99).any()


def test_sequential_indexing_and_repr():
    model = lb.Sequential(lb.Linear(3, 4), lb.ReLU(), lb.Linear(4, 2))
    assert isinstance(model[1], lb.ReLU)
    assert len(model[:2]) == 2
    assert "Linear(3 → 4)" in repr(model)


def test_float16_is_refused_for_inputs_parameters_and_gradients():
    """The dtype policy is float32/float64: float16 sums overflow at 65,504 (functional.as_float_array)."""
    with pytest.raises(TypeError, match=r"Linear: dtype float16.*astype\(np.float32\)"):
        lb.Linear(2, 3, dtype=np.float16)
    with pytest.raises(TypeError, match="Parameter: value has dtype float16"):
        lb.Parameter(np.zeros(3, np.float16))
    layer = lb.Linear(2, 3)
    with pytest.raises(TypeError, match=r"Linear\(2 → 3\): input has dtype float16"):
        layer(np.zeros((4, 2), np.float16))
    layer(np.zeros((4, 2), np.float32))
    with pytest.raises(TypeError, match="grad_out has dtype float16"):
        layer.backward(np.zeros((4, 3), np.float16))
    assert not layer.weight.grad.any()
    assert layer(np.zeros((4, 2), np.float32)).dtype == np.float32  # float32 passes as before


@pytest.mark.parametrize("shape", [(0, 2, 2), (0, 3), (0, 0, 4)])
def test_flatten_an_empty_batch(shape):
    """numpy cannot infer reshape(0, -1): Flatten failed with "cannot reshape array of size 0"."""
    flat = lb.Flatten()
    y = flat(np.zeros(shape))
    assert y.shape == (0, int(np.prod(shape[1:])))
    assert flat.backward(np.zeros(y.shape)).shape == shape

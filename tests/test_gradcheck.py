"""The gradient checker is itself checked: exact values of rel_error, a known derivative, and deliberately wrong
backward passes that check_module / check_loss must flag (rel. error > 1e-3) while the correct ones pass (< 1e-6)."""

import math

import numpy as np
import pytest

import littlebook as lb
from littlebook.functional import softmax
from littlebook.gradcheck import check_loss, check_module, numerical_gradient, rel_error

BUG, GOOD = 1e-3, 1e-6  # gradcheck's documented thresholds: ≥ 1e-3 a bug; correct float64 backwards give ≲ 1e-7


# -- rel_error: max|a − b| / max(1e-8, max|a| + max|b|) --------------------------------------------------------
@pytest.mark.parametrize("a, b, expected", [
    ([1.0, 2.0], [1.0, 3.0], 1 / (2 + 3)),                   # max|a−b| = 1, max|a| + max|b| = 5
    ([[3.0, -4.0]], [[3.0, 4.0]], 8 / (4 + 4)),              # the sign error is the whole scale: 1.0
    ([0.5, 0.25], [0.5, 0.25], 0.0),                         # equal
    ([2.0, -1.0], [1.0, -1.0], 1 / 3),                       # maxima of |a| and |b| taken separately: 2 + 1
    ([1e-9], [0.0], 1e-9 / 1e-8),                            # the floor 1e-8: tiny gradients are not all "100 %"
    ([0.0, 0.0], [0.0, 0.0], 0.0),                           # 0/1e-8, not 0/0
])
def test_rel_error_known_values(a, b, expected):
    assert rel_error(np.array(a), np.array(b)) == pytest.approx(expected, rel=1e-15, abs=0)


def test_rel_error_is_symmetric_and_rejects_different_shapes():
    a, b = np.array([1.0, -2.0, 0.5]), np.array([1.5, -2.0, 0.0])
    assert rel_error(a, b) == rel_error(b, a) == pytest.approx(0.5 / (2 + 2))
    assert rel_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.ones(3), np.ones((3, 1)))


# -- numerical_gradient ------------------------------------------------------------------------------------------
def test_numerical_gradient_of_a_known_derivative():
    x = np.linspace(-2.0, 2.0, 12).reshape(3, 4)
    before = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(np.sin(x) * x**2)), x)  # d/dx x² sin x = 2x sin x + x² cos x
    assert rel_error(grad, 2 * x * np.sin(x) + x**2 * np.cos(x)) < 1e-9  # central differences: O(h²) = 1e-10
    np.testing.assert_array_equal(x, before)  # every nudge undone


def test_numerical_gradient_refuses_float32_and_non_contiguous_arrays():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        numerical_gradient(lambda: 0.0, np.ones((3, 4)).T)  # flattening it would copy


# -- check_module flags wrong backwards -------------------------------------------------------------------------
class LayerNormWithoutMeanTerm(lb.LayerNorm):
    """Forgets that x̂ depends on x through the mean: drops the − mean(∂L/∂x̂) term of the input gradient."""

    def backward(self, grad_out):
        batch_axes = tuple(range(grad_out.ndim - len(self.normalized_shape)))
        self.weight.grad += (grad_out * self._xhat).sum(axis=batch_axes)
        self.bias.grad += grad_out.sum(axis=batch_axes)
        g = grad_out * self.weight.value
        return (g - self._xhat * (g * self._xhat).mean(axis=self._axes, keepdims=True)) * self._inv_std


class LinearWithDoubledBiasGrad(lb.Linear):
    def backward(self, grad_out):
        grad_x = super().backward(grad_out)
        self.bias.grad += grad_out.sum(axis=0)  # a second time
        return grad_x


class ScaledSoftmax(lb.Module):
    """y = softmax(x / √d) over the last axis (attention's weights from its scores); backward s ⊙ (g − Σ g s) / √d."""

    def __init__(self, forget_scale=False):
        self.forget_scale = forget_scale

    def forward(self, x):
        self.scale = 1 / math.sqrt(x.shape[-1])
        self._s = softmax(x * self.scale)
        return self._s

    def backward(self, grad_out):
        s = self._s
        grad = s * (grad_out - np.sum(grad_out * s, axis=-1, keepdims=True))
        return grad if self.forget_scale else grad * self.scale


def layer_norm(cls):
    ln = cls(6, dtype=np.float64)
    rng = np.random.default_rng(1)
    ln.weight.value[...], ln.bias.value[...] = rng.uniform(0.5, 1.5, 6), rng.standard_normal(6)
    return ln


def test_check_module_flags_a_layer_norm_without_its_mean_term():
    x = np.random.default_rng(0).standard_normal((4, 6)) * 2 + 1
    good, bad = check_module(layer_norm(lb.LayerNorm), x), check_module(layer_norm(LayerNormWithoutMeanTerm), x)
    assert max(good.values()) < GOOD
    assert bad["input"] > BUG
    assert bad["weight"] < GOOD and bad["bias"] < GOOD  # the checker says *which* gradient is wrong


def test_check_module_flags_a_doubled_bias_gradient():
    x = np.random.default_rng(0).standard_normal((5, 3))
    good = check_module(lb.Linear(3, 4, rng=0, dtype=np.float64), x)
    bad = check_module(LinearWithDoubledBiasGrad(3, 4, rng=0, dtype=np.float64), x)
    assert max(good.values()) < GOOD
    assert bad["bias"] == pytest.approx(1 / 3, rel=1e-5)  # |2g − g| / (2|g| + |g|)
    assert bad["input"] < GOOD and bad["weight"] < GOOD


def test_check_module_flags_an_attention_softmax_without_its_scale():
    x = np.random.default_rng(0).standard_normal((2, 3, 16))  # d = 16: the missing factor is 1/√16 = 1/4
    assert max(check_module(ScaledSoftmax(), x).values()) < GOOD
    assert check_module(ScaledSoftmax(forget_scale=True), x)["input"] == pytest.approx(3 / 5, rel=1e-5)  # (4−1)/(4+1)


def test_check_module_refuses_float32_parameters():
    with pytest.raises(TypeError, match="float64"):
        check_module(lb.Linear(3, 2), np.ones((2, 3)))


# -- check_loss flags a loss that forgets its 1/N -----------------------------------------------------------------
class MSEWithoutMean(lb.MSELoss):
    def backward(self):
        return 2.0 * self._need_cache()  # the gradient of the sum, but forward returns the mean


class CrossEntropyWithoutMean(lb.CrossEntropyLoss):
    def backward(self):
        return super().backward() * len(self._cache[0])


def test_check_loss_flags_a_missing_one_over_n():
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    assert check_loss(lb.MSELoss(), pred, target)["pred"] < GOOD
    n = pred.size
    assert check_loss(MSEWithoutMean(), pred, target)["pred"] == pytest.approx((n - 1) / (n + 1), rel=1e-5)
    logits, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    assert check_loss(lb.CrossEntropyLoss(), logits, labels)["pred"] < GOOD
    assert check_loss(CrossEntropyWithoutMean(), logits, labels)["pred"] > BUG


def test_numerical_gradient_refuses_what_it_cannot_nudge():
    # Was: numerical_gradient(f, [1., 2.]) raised AttributeError 'list' object has no attribute 'dtype'. Converting
    # the list would not do: f reads its own array, and the nudges would go to a copy (a gradient of zeros).
    with pytest.raises(TypeError, match=r"x must be the numpy array that f reads .* got list"):
        numerical_gradient(lambda: 0.0, [1.0, 2.0])
    with pytest.raises(TypeError, match="f must be a function"):
        numerical_gradient(3.0, np.ones(2))
    with pytest.raises(ValueError, match="h must be > 0"):
        numerical_gradient(lambda: 0.0, np.ones(2), h=0.0)
    frozen = np.ones(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):  # was numpy's "assignment destination is read-only"
        numerical_gradient(lambda: 0.0, frozen)

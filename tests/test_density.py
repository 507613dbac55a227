"""GaussianMixture: log-density against an independent formula, gradients, maximum likelihood, bad input."""

import numpy as np
import pytest

from littlebook import Adam, check_module, data
from littlebook.density import GaussianMixture

trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2.0 (the lowest version declared) has trapz


def _reference_log_density(gmm, x):
    """log Σ_k π_k N(x; μ_k, σ_k² I) written out from the textbook formula, one component at a time."""
    pi = np.exp(gmm.logits.value) / np.exp(gmm.logits.value).sum()
    total = np.zeros(len(x))
    for k in range(gmm.n_components):
        s = np.exp(gmm.log_std.value[k])
        norm = (2 * np.pi * s**2) ** (-gmm.dim / 2)
        total += pi[k] * norm * np.exp(-np.sum((x - gmm.means.value[k]) ** 2, axis=1) / (2 * s**2))
    return np.log(total)


def test_log_density_matches_the_formula(rng):
    gmm = GaussianMixture(3, 2, rng=0, dtype=np.float64)
    gmm.logits.value[:] = [0.3, -1.0, 0.5]
    gmm.log_std.value[:] = [-0.2, 0.1, 0.4]
    x = rng.standard_normal((20, 2))
    np.testing.assert_allclose(gmm(x), _reference_log_density(gmm, x), rtol=1e-12)


def test_density_integrates_to_one():
    gmm = GaussianMixture(2, 1, rng=1, dtype=np.float64)
    gmm.logits.value[:] = [1.0, -0.5]
    gmm.log_std.value[:] = [-0.5, 0.3]
    grid = np.linspace(-15, 15, 30001)[:, None]
    assert trapezoid(np.exp(gmm(grid)), grid[:, 0]) == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("k,d", [(1, 1), (3, 2), (2, 4)])
def test_gradients_match_finite_differences(rng, k, d):
    gmm = GaussianMixture(k, d, rng=2, dtype=np.float64)
    gmm.logits.value[:] = rng.standard_normal(k)
    gmm.log_std.value[:] = 0.3 * rng.standard_normal(k)
    errors = check_module(gmm, rng.standard_normal((7, d)))
    assert max(errors.values()) < 1e-6, errors


def test_single_gaussian_gradient_descent_reaches_the_closed_form():
    x = np.random.default_rng(0).normal(1.5, 0.7, size=(400, 1))
    gmm = GaussianMixture(1, 1, rng=0, dtype=np.float64)
    opt = Adam(gmm.parameters(), lr=0.05)
    for _ in range(600):
        log_p = gmm(x)
        opt.zero_grad()
        gmm.backward(-np.ones_like(log_p) / len(log_p))
        opt.step()
    assert gmm.means.value[0, 0] == pytest.approx(x.mean(), abs=1e-3)
    assert np.exp(gmm.log_std.value[0]) == pytest.approx(x.std(), abs=1e-3)


def test_two_components_fit_a_two_component_mixture_better_than_one():
    x, _ = data.gaussian_mixture(1000, means=((-2.0,), (2.0,)), stds=(0.5, 0.5), weights=(0.5, 0.5), rng=0)
    fits = {}
    for k in (1, 2):
        gmm = GaussianMixture(k, 1, rng=3, dtype=np.float64)
        opt = Adam(gmm.parameters(), lr=0.05)
        for _ in range(500):
            log_p = gmm(x)
            opt.zero_grad()
            gmm.backward(-np.ones_like(log_p) / len(log_p))
            opt.step()
        fits[k] = (gmm, gmm(x).mean())
    assert fits[2][1] > fits[1][1] + 0.3
    np.testing.assert_allclose(np.sort(fits[2][0].means.value[:, 0]), [-2.0, 2.0], atol=0.1)


def test_bad_input_names_the_layer_and_the_shapes():
    with pytest.raises(ValueError, match=r"GaussianMixture.*\(N, 2\).*\(5, 3\)"):
        GaussianMixture(2, 2)(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(0, 2)


@pytest.mark.parametrize("args, error, words", [
    ((2.5, 2), TypeError, ["n_components must be an int", "2.5"]),  # was numpy's "expected a sequence of integers"
    (("2", 2), TypeError, ["n_components must be an int", "'2'"]),  # was "'<' not supported"
    ((2, 0), ValueError, ["dim must be an int >= 1", "0"]),
    ((2, 2, None, int), TypeError, ["dtype must be a floating dtype", "int64"]),  # was accepted, weights float64
])
def test_constructor_arguments_are_checked(args, error, words):
    with pytest.raises(error) as info:
        GaussianMixture(*args)
    assert all(word in str(info.value) for word in words), str(info.value)


def test_input_follows_the_dtype_policy(rng):
    gmm = GaussianMixture(2, 2, rng=0, dtype=np.float64)
    x = rng.standard_normal((5, 2))
    np.testing.assert_array_equal(gmm(x.tolist()), gmm(x))  # a list is an array-like, as for every layer
    with pytest.raises(TypeError, match=r"GaussianMixture\(n_components=2, dim=2\): input must hold real numbers"):
        gmm(np.array([["a", "b"]]))  # was numpy's UFuncTypeError


@pytest.mark.parametrize("grad", [np.full((5, 1), -0.2), -0.2, np.ones(4)])
def test_backward_refuses_a_gradient_of_another_shape_and_changes_nothing(rng, grad):
    # An (N, 1) column was numpy's "non-broadcastable output operand" (and with K == N it broadcast to (N, N));
    # a scalar was "'float' object is not subscriptable".
    gmm = GaussianMixture(2, 2, rng=0, dtype=np.float64)
    gmm(rng.standard_normal((5, 2)))
    before = [p.grad.copy() for p in gmm.parameters()]
    with pytest.raises(ValueError, match=r"grad_out must have the shape of the forward output \(5,\)"):
        gmm.backward(grad)
    assert all(np.array_equal(b, p.grad) for b, p in zip(before, gmm.parameters()))

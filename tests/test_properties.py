"""Hypothesis property tests on random shapes: gradients, invariants of softmax and the losses."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import littlebook as lb
from littlebook import functional as F
from littlebook.gradcheck import check_loss, check_module

dims = st.integers(min_value=1, max_value=6)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=25, deadline=None)
@given(n=dims, d_in=dims, d_out=dims, seed=seeds)
def test_linear_gradcheck_random_shapes(n, d_in, d_out, seed):
    rng = np.random.default_rng(seed)
    errors = check_module(lb.Linear(d_in, d_out, rng=rng, dtype=np.float64), rng.standard_normal((n, d_in)))
    assert max(errors.values()) < 1e-6


@settings(max_examples=25, deadline=None)
# Beyond a scale of ~5, softmax saturates: gradients are ~1e-6 and finite differences measure round-off.
@given(n=dims, c=st.integers(2, 8), seed=seeds, scale=st.floats(0.1, 5.0))
def test_cross_entropy_gradcheck_random_shapes(n, c, seed, scale):
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal((n, c))
    assert check_loss(lb.CrossEntropyLoss(), logits, rng.integers(0, c, n))["pred"] < 1e-6


@settings(max_examples=50, deadline=None)
@given(shape=st.tuples(dims, st.integers(2, 9)), seed=seeds, shift=st.floats(-1e3, 1e3))
def test_softmax_is_a_distribution_and_shift_invariant(shape, seed, shift):
    x = 10 * np.random.default_rng(seed).standard_normal(shape)
    p = F.softmax(x)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    assert (p >= 0).all()
    np.testing.assert_allclose(F.softmax(x + shift), p, atol=1e-12)
    np.testing.assert_allclose(F.log_softmax(x), np.log(np.maximum(p, 1e-300)), atol=1e-9)
    np.testing.assert_allclose(F.logsumexp(x), np.log(np.sum(np.exp(x - x.max(-1, keepdims=True)), -1)) + x.max(-1))


@settings(max_examples=50, deadline=None)
@given(x=st.floats(-700, 700))
def test_sigmoid_matches_definition(x):
    assert abs(F.sigmoid(np.array(x)) - 1 / (1 + np.exp(-x))) < 1e-15


@settings(max_examples=20, deadline=None)
@given(n=dims, d=dims, seed=seeds)
def test_mse_is_zero_only_at_the_target(n, d, seed):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((n, d))
    assert lb.MSELoss()(y.copy(), y) == 0.0
    assert lb.MSELoss()(y + 1e-3, y) > 0.0

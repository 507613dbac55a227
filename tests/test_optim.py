"""Optimizers against hand-written update rules, and learning-rate schedules."""

import math
import re

import numpy as np
import pytest

import littlebook as lb


def quadratic_param(value):
    """A parameter whose gradient we set by hand: L = ½‖w‖², ∇L = w."""
    p = lb.Parameter(np.array(value, dtype=np.float64))
    p.grad[...] = p.value
    return p


def test_sgd_is_plain_gradient_descent():
    p = quadratic_param([1.0, -2.0])
    lb.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.value, [0.9, -1.8])  # w − η∇L


def test_sgd_momentum_and_weight_decay_follow_the_rule():
    p = quadratic_param([1.0])
    opt = lb.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    w, v = 1.0, 0.0
    for _ in range(5):
        p.grad[...] = p.value  # ∇L = w
        opt.step()
        g = w + 0.01 * w
        v = 0.9 * v + g
        w = w - 0.1 * v
        assert p.value[0] == pytest.approx(w, rel=1e-12)


def test_adam_follows_the_rule():
    p = quadratic_param([0.5, -3.0])
    opt = lb.Adam([p], lr=0.01)
    w, m, v = np.array([0.5, -3.0]), 0.0, 0.0
    for t in range(1, 6):
        p.grad[...] = p.value
        opt.step()
        g = w
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(p.value, w, rtol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: lb.SGD(ps, lr=0.1, momentum=0.9), lambda ps: lb.Adam(ps, lr=0.05)])
def test_optimizers_minimise_a_quadratic(make):
    p = quadratic_param([3.0, -4.0])
    opt = make([p])
    for _ in range(300):
        opt.zero_grad()
        p.grad += p.value
        opt.step()
    assert np.abs(p.value).max() < 1e-2


def test_optimizer_rejects_bad_settings():
    p = quadratic_param([1.0])
    with pytest.raises(ValueError, match="lr must be positive"):
        lb.SGD([p], lr=0)
    with pytest.raises(ValueError, match="empty parameter list"):
        lb.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        lb.SGD([p], lr=0.1, momentum=1.5)


def test_schedules():
    opt = lb.SGD([quadratic_param([1.0])], lr=1.0)
    step = lb.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        step.step()
        lrs.append(opt.lr)
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt.lr = 1.0
    cos = lb.CosineAnnealingLR(opt, T_max=4, eta_min=0.0)
    lrs = []
    for _ in range(5):
        cos.step()
        lrs.append(opt.lr)
    expected = [0.5 * (1 + math.cos(math.pi * t / 4)) for t in (1, 2, 3, 4, 4)]
    np.testing.assert_allclose(lrs, expected, atol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: lb.SGD(ps, lr=0.1, momentum=0.9), lambda ps: lb.SGD(ps, lr=0.1),
                                  lambda ps: lb.Adam(ps, lr=0.05)], ids=["SGD momentum", "SGD", "Adam"])
def test_load_state_dict_undoes_the_steps_taken_since_state_dict(make):
    p = quadratic_param([1.0, -2.0])
    opt = make([p])
    opt.step()
    saved_value, saved = p.value.copy(), opt.state_dict()
    p.grad[...] = p.value
    opt.step()
    after_one = p.value.copy()
    p.grad[...] = p.value
    opt.lr *= 10  # changed after state_dict: loading must put lr back too (plain SGD has no other state)
    opt.step()  # a second step that we undo: put back the value and the state, then take it again
    p.value[...] = saved_value
    opt.load_state_dict(saved)
    assert opt.lr == saved["lr"]
    p.grad[...] = p.value
    opt.step()
    np.testing.assert_array_equal(p.value, after_one)


def test_load_state_dict_checks_everything_before_changing_anything():
    p, q = quadratic_param([1.0, -2.0]), quadratic_param([[3.0]])
    opt = lb.Adam([p, q], lr=0.05)
    opt.step()
    good = opt.state_dict()
    bad_shape = dict(good, v=[good["v"][0], np.zeros(2)])
    cases = [([1, 2], TypeError, "dict"), ({"lr": 0.1}, KeyError, "missing ['m', 't', 'v']"),
             (dict(good, lr=-1.0), ValueError, "lr"), (dict(good, m=good["m"][:1]), ValueError, "list of 2 arrays"),
             (bad_shape, ValueError, "v[1] must have shape (1, 1)"), (dict(good, t=1.5), TypeError, "t must be an int")]
    opt.step()
    now = opt.state_dict()
    for state, error, words in cases:
        with pytest.raises(error, match=re.escape(words)):
            opt.load_state_dict(state)
        assert opt.t == now["t"] == 2 and np.array_equal(opt.m[0], now["m"][0]) and opt.lr == 0.05
    with pytest.raises(ValueError, match="velocity must be None"):
        lb.SGD([p]).load_state_dict(lb.SGD([p], momentum=0.9).state_dict())

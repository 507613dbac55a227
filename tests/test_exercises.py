"""Exercise checks: right answers pass, each kind of wrong answer gets its own diagnosis, none shows the answer."""

import numpy as np
import pytest

import littlebook as lb
import littlebook.exercises as ex


def fails(fn, *args, **kwargs) -> str:
    with pytest.raises(ex.ExerciseFailed) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_check_value_right_and_each_diagnosis(capsys):
    ex.check_value("1.1", 0.56, 0.5 * 0.8 + 0.3 * 0.2 + 0.1)
    assert "Exercise 1.1: correct" in capsys.readouterr().out
    assert "not filled in" in fails(ex.check_value, "1.1", ..., 0.56)
    assert "wrong sign" in fails(ex.check_value, "1.1", -0.56, 0.56)
    assert "factor of 2" in fails(ex.check_value, "1.1", 1.12, 0.56)
    assert "factor of 1/2" in fails(ex.check_value, "1.1", 0.28, 0.56)
    msg = fails(ex.check_value, "1.1", 0.6, 0.56, hint="add the bias")
    assert "too large" in msg and "Hint: add the bias" in msg and "0.56" not in msg
    assert "should be a number" in fails(ex.check_value, "1.1", "0.56", 0.56)


def test_check_value_exact_kinds(capsys):
    ex.check_value("2.1", (4, 3), (4, 3))
    ex.check_value("2.1", [4, 3], (4, 3))
    assert "2 entries" in fails(ex.check_value, "2.1", (4, 3, 1), (4, 3))
    assert "not right yet" in fails(ex.check_value, "2.1", (3, 4), (4, 3))
    assert "should be a str" in fails(ex.check_value, "2.1", 5, "abc")


def test_check_array_diagnoses_without_the_answer():
    rng = np.random.default_rng(0)
    want = rng.standard_normal((3, 4))
    ex.check_array("3.1", want + 1e-12, want)
    assert "transposed?" in fails(ex.check_array, "3.1", want.T, want)
    assert "wrong layout" in fails(ex.check_array, "3.1", want.reshape(2, 6), want)
    assert "shape (3,)" in fails(ex.check_array, "3.1", want[:, 0], want)
    assert "opposite sign" in fails(ex.check_array, "3.1", -want, want)
    assert "factor ≈0.25" in fails(ex.check_array, "3.1", want / 4, want, name="grad_W")
    near_one = fails(ex.check_array, "4.7", want * (1 + 1e-4), want)  # off by a factor too close to 1 to name
    assert "constant factor" not in near_one and "relative error 5e-05" in near_one
    assert "NaN" in fails(ex.check_array, "3.1", np.full((3, 4), np.nan), want)
    msg = fails(ex.check_array, "3.1", want + rng.standard_normal((3, 4)), want)
    assert "relative error" in msg and f"{want[0, 0]:.3f}" not in msg
    square = rng.standard_normal((3, 3))
    assert "is transposed" in fails(ex.check_array, "3.1", square.T, square)
    assert "not filled in" in fails(ex.check_array, "3.1", None, want)


def test_check_function_compares_outputs_and_catches_in_place_edits():
    def ref(x):
        return np.maximum(x, 0)

    x = np.array([-1.0, 2.0, -3.0])
    ex.check_function("4.1", lambda x: x * (x > 0), ref, [(x,)])

    def in_place(x):
        x[x < 0] = 0
        return x

    assert "in place" in fails(ex.check_function, "4.1", in_place, ref, [(x,)])
    assert "opposite sign" in fails(ex.check_function, "4.1", lambda x: -ref(x), ref, [(x,)])
    assert "raised ZeroDivisionError" in fails(ex.check_function, "4.1", lambda x: 1 / 0, ref, [(x,)])

    def stub(x):
        raise NotImplementedError("Exercise 4.1: write relu")

    with pytest.raises(NotImplementedError, match="Exercise 4.1"):
        ex.check_function("4.1", stub, ref, [(x,)])


def test_check_backward_passes_right_gradient_and_flags_a_wrong_one():
    x = np.random.default_rng(1).standard_normal((4, 3))

    def forward(x):
        return np.tanh(x)

    ex.check_backward("3.2", forward, lambda x, g: g * (1 - np.tanh(x) ** 2), x)
    assert "factor ≈2" in fails(ex.check_backward, "3.2", forward, lambda x, g: 2 * g * (1 - np.tanh(x) ** 2), x)
    assert "not right yet" in fails(ex.check_backward, "3.2", forward, lambda x, g: g * (1 - np.tanh(x)), x)


def test_check_module_names_the_wrong_parameter(capsys):
    layer = lb.Linear(3, 2, dtype=np.float64, rng=0)
    x = np.random.default_rng(2).standard_normal((5, 3))
    ex.check_module("4.2", layer, x)
    assert "correct" in capsys.readouterr().out

    class BadBias(lb.Linear):
        def backward(self, grad):
            out = super().backward(grad)
            self.bias.grad *= 1.3  # a wrong bias gradient
            return out

    msg = fails(ex.check_module, "4.2", BadBias(3, 2, dtype=np.float64, rng=0), x)
    assert "on bias" in msg and "on weight" not in msg and "on the input" not in msg


def test_digest_is_stable_to_round_off_and_hides_the_answer():
    d = ex.digest(0.1 + 0.2)
    assert d == ex.digest(0.3) and d != ex.digest(0.31) and "0.3" not in d
    ex.check_digest("1.5", 0.3, d)
    assert "not right yet" in fails(ex.check_digest, "1.5", 0.31, d)
    assert ex.digest((4, 3)) == ex.digest([4, 3]) != ex.digest((3, 4))


def test_fallback_uses_the_library_when_the_student_has_not_answered(capsys):
    def stub(x):
        raise NotImplementedError

    fn = ex.fallback("5.1", stub, np.tanh)
    assert np.allclose(fn(np.array([0.5])), np.tanh(0.5))
    assert np.allclose(fn(np.array([1.0])), np.tanh(1.0))
    assert capsys.readouterr().out.count("Exercise 5.1 not done yet") == 1
    wrong = ex.fallback("5.2", np.sin, np.tanh)
    assert np.allclose(wrong(np.array([1.0])), np.tanh(1.0))
    assert "5.2 not done yet" in capsys.readouterr().out
    right = ex.fallback("5.3", lambda x: np.tanh(x), np.tanh)
    right(np.array([1.0]))
    assert capsys.readouterr().out == ""
    assert ex.fallback_value("5.4", ..., 7.0) == 7.0 and "5.4 not done yet" in capsys.readouterr().out
    assert ex.fallback_value("5.4", 7.0, 7.0) == 7.0 and capsys.readouterr().out == ""


def test_check_bound_accepts_every_valid_bound_and_nothing_else(capsys):
    measured = 4.2e-20
    for bound in (0.25**30, 1.6e-19, measured, 0.5):  # textbook, tighter, exact, loose: all valid
        ex.check_bound("5.5", bound, measured, 1.0)
    assert capsys.readouterr().out.count("correct ✓") == 4
    assert "not an upper bound" in fails(ex.check_bound, "5.5", 1e-20, measured, 1.0)
    assert "no better than 1" in fails(ex.check_bound, "5.5", 1.0, measured, 1.0)
    assert "not filled in" in fails(ex.check_bound, "5.5", ..., measured, 1.0)
    assert "should be a number" in fails(ex.check_bound, "5.5", "0.25", measured, 1.0)
    assert "is nan" in fails(ex.check_bound, "5.5", float("nan"), measured, 1.0)
    msg = fails(ex.check_bound, "5.5", 1e-25, measured, 1.0, hint="chain rule")
    assert "4.2e-20" not in msg and "Hint: chain rule" in msg  # the measured value is not shown


def test_check_no_python_loops_catches_a_loop_even_in_a_helper(capsys):
    def vectorized(X):
        return (X**2).sum(axis=1)

    def rows(X):
        return np.array([np.sum(x**2) for x in X])

    def through_a_helper(X):
        return rows(X)

    small, large = (np.ones((5, 3)),), (np.ones((50, 3)),)
    ex.check_no_python_loops("2.5", vectorized, small, large)
    # numpy's own Python does not count: einsum's path search runs more lines for larger operands
    ex.check_no_python_loops("2.5", lambda X: np.einsum("nd,kd,ke->ne", X, X[:2], X[:2], optimize=True),
                             small, large)
    assert "Exercise 2.5: correct" in capsys.readouterr().out
    assert "a Python loop" in fails(ex.check_no_python_loops, "2.5", rows, small, large)
    assert "a Python loop" in fails(ex.check_no_python_loops, "2.5", through_a_helper, small, large)

    def stub(X):
        raise NotImplementedError("Exercise 2.5: write it")

    with pytest.raises(NotImplementedError):
        ex.check_no_python_loops("2.5", stub, small, large)
    assert "raised ValueError" in fails(ex.check_no_python_loops, "2.5", lambda X: X.reshape(7), small, large)


def test_check_peak_memory_catches_a_large_intermediate():
    X, C = np.ones((500, 16)), np.ones((20, 16))
    ex.check_peak_memory("2.5", lambda X, C: X @ C.T, (X, C), limit_bytes=500 * 20 * 8 * 4)
    msg = fails(ex.check_peak_memory, "2.5", lambda X, C: ((X[:, None] - C[None]) ** 2).sum(axis=2), (X, C),
                limit_bytes=500 * 20 * 8 * 4)  # the (500, 20, 16) difference is 1.3 MB
    assert "MB at once" in msg


def test_forbidden_refuses_a_method_and_restores_it():
    with ex.forbidden("2.4", "numpy.broadcast_to", "numpy.broadcast_arrays", hint="use as_strided"):
        msg = fails(np.broadcast_to, np.arange(3), (2, 3))
        assert "not to use numpy.broadcast_to" in msg and "use as_strided" in msg
        fails(np.broadcast_arrays, np.arange(3), np.ones((2, 1)))
        assert np.lib.stride_tricks.as_strided(np.arange(3), (2, 3), (0, 8)).shape == (2, 3)  # others untouched
    assert np.broadcast_to(np.arange(3), (2, 3)).strides[0] == 0
    with pytest.raises(KeyError), ex.forbidden("4.1", "littlebook.Conv2d.forward"):
        raise KeyError  # restored even when the block fails
    assert lb.Conv2d.forward is not None and "refuse" not in lb.Conv2d.forward.__name__
    with pytest.raises(ValueError, match="forbidden"):
        with ex.forbidden("4.1", "no_such_module.f"):
            pass


def test_forbidden_leaves_an_inherited_method_inherited():
    # both inherited from _BatchNorm
    assert "backward" not in vars(lb.BatchNorm1d) and "forward" not in vars(lb.BatchNorm1d)
    with ex.forbidden("4.7", "littlebook.BatchNorm1d.forward"):
        fails(lb.BatchNorm1d(2).forward, np.ones((3, 2)))
    assert "forward" not in vars(lb.BatchNorm1d)  # restored by removing the refusal, not by copying the base's
    lb.BatchNorm1d(2)(np.ones((3, 2)))


def test_require_fails_with_its_message_only_when_the_condition_does_not_hold(capsys):
    ex.require("2.4", True, "add_bias never called your stretch(b, n).")
    assert capsys.readouterr().out == ""  # a precondition prints nothing: the answer's own check says "correct"
    msg = fails(ex.require, "2.4", False, "add_bias never called your stretch(b, n).", hint="use stretch")
    assert msg == "Exercise 2.4: add_bias never called your stretch(b, n).\nHint: use stretch"

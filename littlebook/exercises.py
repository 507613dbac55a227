"""Checks for the book's exercises: they say *what* is wrong and give a hint, never the answer.

Every check raises ``ExerciseFailed`` (an ``AssertionError``, so a failing check cell stops like an ``assert``)
whose message starts with the exercise number, e.g.::

    Exercise 3.2: grad_W has the opposite sign of the true gradient.
    Hint: the gradient points uphill; the update subtracts it.

A correct answer prints ``Exercise 3.2: correct ✓``. The expected value is computed by the check cell (from the
library or an independent expression) or given as a digest, so the student edition never prints it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import math
import os
import sys
import sysconfig
import tracemalloc
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from .gradcheck import check_module as _check_module
from .gradcheck import numerical_gradient, rel_error

__all__ = ["ExerciseFailed", "check_value", "check_bound", "check_array", "check_function", "check_backward",
           "check_module", "check_digest", "digest", "check_no_python_loops", "check_peak_memory", "forbidden",
           "fallback", "fallback_value", "require"]


class ExerciseFailed(AssertionError):
    """An exercise's answer is not right yet; the message says what is wrong and gives a hint."""


def _rel_error(a, b) -> float:
    """``lb.rel_error``, except that an answer with NaN or inf entries is infinitely wrong instead of an error: the
    check then says what is wrong with it (rel_error refuses non-finite values, as a gradient check must)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape == b.shape and not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.inf
    return rel_error(a, b)


def _fail(ex: str, what: str, hint: str = "") -> None:
    raise ExerciseFailed(f"Exercise {ex}: {what}" + (f"\nHint: {hint}" if hint else ""))


def require(ex: str, condition: bool, what: str, hint: str = "") -> None:
    """A precondition of the answer (its type, how it was built): fails with ``what`` unless ``condition`` holds;
    prints nothing when it does, since the answer itself is checked after."""
    if not condition:
        _fail(ex, what, hint)


def _correct(ex: str) -> None:
    print(f"Exercise {ex}: correct ✓")


def _require_filled(ex: str, value, name: str) -> None:
    if value is Ellipsis or value is None:
        _fail(ex, f"{name} is not filled in yet: replace the `...` with your answer.")


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _finite_number(ex: str, answer, name: str, hint: str) -> float:
    """``answer`` as a float, or a failure saying it is not a number (a size-1 array counts) or not finite."""
    if not _is_number(answer) and not (isinstance(answer, np.ndarray) and answer.size == 1):
        _fail(ex, f"{name} should be a number, got {type(answer).__name__}.", hint)
    a = float(answer)
    if not np.isfinite(a):
        _fail(ex, f"{name} is {a}.", hint)
    return a


def check_value(ex: str, answer, expected, rtol: float = 1e-6, atol: float = 0.0, hint: str = "",
                name: str = "answer") -> None:
    """A scalar, string, bool or tuple answer. Numbers within ``rtol``/``atol``; everything else exactly."""
    _require_filled(ex, answer, name)
    if _is_number(expected):
        a, e = _finite_number(ex, answer, name, hint), float(expected)
        if abs(a - e) <= atol + rtol * abs(e):
            return _correct(ex)
        if e != 0 and abs(-a - e) <= atol + rtol * abs(e):
            _fail(ex, f"{name} has the wrong sign.", hint)
        if e != 0 and a != 0 and abs(a / e - round(a / e)) < 1e-6 * abs(a / e) and round(a / e) != 1:
            _fail(ex, f"{name} is off by a factor of {round(a / e):g}.", hint)
        if e != 0 and a != 0 and abs(e / a - round(e / a)) < 1e-6 * abs(e / a) and round(e / a) != 1:
            _fail(ex, f"{name} is off by a factor of 1/{round(e / a):g}.", hint)
        _fail(ex, f"{name} is too {'large' if a > e else 'small'}.", hint)
    if isinstance(expected, (tuple, list)) and isinstance(answer, (tuple, list)) and len(answer) != len(expected):
        _fail(ex, f"{name} should have {len(expected)} entries, got {len(answer)}.", hint)
    if type(answer) is not type(expected) and not (isinstance(answer, (tuple, list))
                                                   and isinstance(expected, (tuple, list))):
        _fail(ex, f"{name} should be a {type(expected).__name__}, got {type(answer).__name__}.", hint)
    if (tuple(answer) if isinstance(answer, list) else answer) != (
            tuple(expected) if isinstance(expected, list) else expected):
        _fail(ex, f"{name} is not right yet.", hint)
    _correct(ex)


def check_bound(ex: str, answer, measured_max, trivial, rtol: float = 1e-6, hint: str = "",
                name: str = "your bound") -> None:
    """An upper bound: accepted if ``measured_max ≤ answer < trivial`` (relative slack ``rtol`` below).

    ``measured_max`` is the largest value the check measured, which every valid bound must reach; ``trivial`` is a
    bound that needs no work (e.g. 1), which an answer must improve on. Any valid bound in between is correct.
    """
    _require_filled(ex, answer, name)
    a, low, high = _finite_number(ex, answer, name, hint), float(measured_max), float(trivial)
    if a < low * (1 - rtol):
        _fail(ex, f"{name} is not an upper bound: the check measured a larger value.", hint)
    if a >= high:
        _fail(ex, f"{name} holds, but it is no better than {high:g}, which needs no work.", hint)
    _correct(ex)


def _diagnose(ex: str, got: np.ndarray, expected: np.ndarray, rtol: float, name: str, hint: str) -> None:
    """Raise with the most specific diagnosis of why ``got`` is not ``expected`` (same shape)."""
    if not np.all(np.isfinite(got)):
        _fail(ex, f"{name} contains NaN or inf.", hint)
    if _rel_error(-got, expected) < rtol:
        _fail(ex, f"{name} has the opposite sign of the right answer.", hint)
    if got.ndim == 2 and got.shape[0] == got.shape[1] and _rel_error(got.T, expected) < rtol:
        _fail(ex, f"{name} is transposed.", hint)
    denom = float(np.sum(expected * expected))
    if denom > 0:
        c = float(np.sum(got * expected)) / denom  # least-squares factor: got ≈ c · expected?
        # A factor within 1e-3 of 1 ("≈1.") says nothing: such an answer is slightly off (an ε left out, say),
        # so it gets the relative error below instead.
        if abs(c) > 1e-12 and abs(c - 1) >= 1e-3 and _rel_error(got, c * expected) < rtol:
            _fail(ex, f"{name} is off by a constant factor ≈{c:.3g}.", hint)
    _fail(ex, f"{name} is not right yet: relative error {_rel_error(got, expected):.2g} (needs < {rtol:g}).", hint)


def check_array(ex: str, got, expected, rtol: float = 1e-6, name: str = "result", hint: str = "") -> None:
    """An array answer: shape first, then values (relative error as in ``lb.rel_error``)."""
    _require_filled(ex, got, name)
    expected = np.asarray(expected, dtype=np.float64)
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        _fail(ex, f"{name} should be an array of numbers, got {type(got).__name__}.", hint)
    if got.shape != expected.shape:
        if got.shape == expected.shape[::-1]:
            _fail(ex, f"{name} has shape {got.shape}, expected {expected.shape}: transposed?", hint)
        if got.size == expected.size:
            _fail(ex, f"{name} has shape {got.shape}, expected {expected.shape}: right entries, wrong layout?", hint)
        _fail(ex, f"{name} has shape {got.shape}, expected {expected.shape}.", hint)
    if _rel_error(got, expected) < rtol:
        return _correct(ex)
    _diagnose(ex, got, expected, rtol, name, hint)


def _as_outputs(y) -> tuple:
    return tuple(y) if isinstance(y, tuple) else (y,)


def check_function(ex: str, student_fn: Callable, reference_fn: Callable, inputs: Sequence[tuple],
                   rtol: float = 1e-6, name: str = "your function", hint: str = "") -> None:
    """Call both functions on each tuple of arguments (fresh copies) and compare every output."""
    for i, args in enumerate(inputs):
        args = args if isinstance(args, tuple) else (args,)
        copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
        expected = _as_outputs(reference_fn(*[np.array(a, copy=True) if isinstance(a, np.ndarray) else a
                                              for a in args]))
        try:
            got = _as_outputs(student_fn(*copies))
        except NotImplementedError:
            raise
        except Exception as err:
            raise ExerciseFailed(f"Exercise {ex}: {name} raised {type(err).__name__}: {err}"
                                 + (f"\nHint: {hint}" if hint else "")) from err
        if any(isinstance(a, np.ndarray) and not np.array_equal(a, c, equal_nan=True) for a, c in zip(args, copies)):
            _fail(ex, f"{name} changed its input array in place (on input {i + 1}).", hint)
        if len(got) != len(expected):
            _fail(ex, f"{name} returned {len(got)} value(s), expected {len(expected)}.", hint)
        for j, (g, e) in enumerate(zip(got, expected)):
            label = f"output {j + 1} on input {i + 1}" if len(expected) > 1 else f"the output on input {i + 1}"
            _require_filled(ex, g, label)
            g, e = np.asarray(g, dtype=np.float64), np.asarray(e, dtype=np.float64)
            if g.shape != e.shape:
                _fail(ex, f"{label} has shape {g.shape}, expected {e.shape}.", hint)
            if _rel_error(g, e) >= rtol:
                _diagnose(ex, g, e, rtol, label, hint)
    _correct(ex)


def check_backward(ex: str, forward: Callable, backward: Callable, x, rtol: float = 1e-6, hint: str = "",
                   rng: int = 0) -> None:
    """``backward(x, grad_y) -> grad_x`` against float64 central differences of L = Σ forward(x) ⊙ R."""
    x = np.array(x, dtype=np.float64)
    weights = np.random.default_rng(rng).standard_normal(np.shape(forward(x.copy())))
    numeric = numerical_gradient(lambda: float(np.sum(forward(x) * weights)), x)
    got = backward(x.copy(), weights.copy())
    check_array(ex, got, numeric, rtol=rtol, name="your gradient", hint=hint)


def check_module(ex: str, module, x, rtol: float = 1e-6, hint: str = "") -> None:
    """A student's layer (float64) through ``lb.check_module``: names the input or parameter that is wrong."""
    errors = _check_module(module, x)
    wrong = {k: v for k, v in errors.items() if not v < rtol}
    if wrong:
        what = ", ".join(f"{err:.2g} on {'the input' if k == 'input' else k}" for k, err in wrong.items())
        _fail(ex, f"gradient error {what} (needs < {rtol:g}).", hint)
    _correct(ex)


def _canonical(value) -> str:
    """A text form that does not depend on float round-off in the last digits (6 significant digits)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(_canonical(v) for v in value) + ")"
    if _is_number(value) and not float(value).is_integer():
        return f"{float(value):.6g}"
    if _is_number(value):
        return str(int(value))
    return repr(value)


def digest(value) -> str:
    """The digest that ``check_digest`` compares against (for authors writing an exercise)."""
    return hashlib.sha256(_canonical(value).encode()).hexdigest()[:16]


def check_digest(ex: str, answer, expected_digest: str, hint: str = "", name: str = "answer") -> None:
    """An answer that cannot be computed from the library, compared through its digest (6 significant digits)."""
    _require_filled(ex, answer, name)
    if digest(answer) != expected_digest:
        _fail(ex, f"{name} is not right yet.", hint)
    _correct(ex)


def _call(ex: str, fn: Callable, args: tuple, name: str, hint: str):
    """``fn(*args)``; a stub's NotImplementedError passes through, any other error becomes a failed check."""
    try:
        return fn(*args)
    except (NotImplementedError, ExerciseFailed):
        raise
    except Exception as err:
        raise ExerciseFailed(f"Exercise {ex}: {name} raised {type(err).__name__}: {err}"
                             + (f"\nHint: {hint}" if hint else "")) from err


class _OverBudget(BaseException):
    """Raised from the tracer to stop a run that has executed more Python than allowed (not caught as an Exception)."""


def _library_prefixes() -> tuple[str, ...]:
    """Where installed packages and the standard library live: their own Python code is not the student's."""
    paths = sysconfig.get_paths()
    return tuple(sorted({paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
                        | {os.path.dirname(os.path.dirname(np.__file__))}))


def _python_events(fn: Callable, args: tuple, budget: float = float("inf")) -> int:
    """Python calls, lines and returns that ``fn(*args)`` runs outside installed packages, stopping above budget."""
    count, library = 0, _library_prefixes()

    def tracer(frame, event, arg):
        nonlocal count
        if event == "call" and frame.f_code.co_filename.startswith(library):
            return None  # numpy's Python (einsum's path search, which depends on the sizes): not traced
        count += 1
        if count > budget:
            raise _OverBudget
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn(*args)
    finally:
        sys.settrace(previous)
    return count


def check_no_python_loops(ex: str, fn: Callable, small: tuple, large: tuple, name: str = "your function",
                          hint: str = "") -> None:
    """``fn(*large)`` must run no more Python than ``fn(*small)``: no Python loop over samples or positions.

    Counts the Python calls and lines run in ``fn`` and in the code it calls, except inside installed packages and
    the standard library (numpy's loops run in C, and its Python code does not count): a vectorized function runs
    the same lines on any size, a loop (or a function it calls with one) runs more on a larger input.
    """
    _call(ex, fn, small, name, hint)  # warm-up (first-call imports and caches) and the stub's NotImplementedError
    allowed = _call(ex, _python_events, (fn, small), name, hint)
    try:
        _call(ex, _python_events, (fn, large, allowed), name, hint)
    except _OverBudget:
        _fail(ex, f"{name} runs more Python code on a larger input: a Python loop (or comprehension) over the "
                  f"data is still in it.", hint)
    _correct(ex)


def check_peak_memory(ex: str, fn: Callable, args: tuple, limit_bytes: float, name: str = "your function",
                      hint: str = "") -> None:
    """``fn(*args)`` must never hold more than ``limit_bytes`` of new memory at once (tracemalloc, numpy included)."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        _call(ex, fn, args, name, hint)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    if peak > limit_bytes:
        _fail(ex, f"{name} needed {peak / 1e6:.1f} MB at once on this input, more than the {limit_bytes / 1e6:.1f} MB "
                  f"allowed: it builds a tensor larger than the exercise permits.", hint)
    _correct(ex)


def _resolve(dotted: str) -> tuple[object, str]:
    """The object that holds the last attribute of ``dotted`` ("numpy.broadcast_to" -> numpy, "broadcast_to")."""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:-1]:
            owner = getattr(owner, part)
        return owner, parts[-1]
    raise ValueError(f"forbidden: {dotted!r} is not a dotted name of an importable module's attribute")


@contextlib.contextmanager
def forbidden(ex: str, *names: str, hint: str = "") -> Iterator[None]:
    """While active, a call of any of ``names`` (dotted: "numpy.broadcast_to") fails the exercise: a banned method."""
    saved = []  # (owner, attribute, its own value or None when inherited, e.g. a method of a base class)
    try:
        for dotted in names:
            owner, attr = _resolve(dotted)
            getattr(owner, attr)  # an AttributeError here, before anything is replaced
            saved.append((owner, attr, vars(owner).get(attr)))

            def refuse(*args, _dotted=dotted, **kwargs):
                _fail(ex, f"this exercise asks you not to use {_dotted}.", hint)

            setattr(owner, attr, refuse)
        yield
    finally:
        for owner, attr, own in reversed(saved):
            if own is None:
                delattr(owner, attr)  # removing the refusal uncovers the inherited one again
            else:
                setattr(owner, attr, own)


def _note(ex: str) -> None:
    print(f"Exercise {ex} not done yet: the rest of the chapter uses the library's version.")


def fallback(ex: str, student_fn: Callable, library_fn: Callable, rtol: float = 1e-6) -> Callable:
    """The student's function while it works, otherwise the library's (with a printed note, once).

    On the first call both are run: if the student's raises NotImplementedError or disagrees with the library's,
    every call from then on uses ``library_fn``.
    """
    use_library = False
    checked = False

    def fn(*args, **kwargs):
        nonlocal use_library, checked
        if not use_library and not checked:
            checked = True
            expected = library_fn(*args, **kwargs)
            try:
                got = student_fn(*args, **kwargs)
                agrees = all(np.shape(g) == np.shape(e) and _rel_error(g, e) < rtol
                             for g, e in zip(_as_outputs(got), _as_outputs(expected)))
            except NotImplementedError:
                agrees = False
            if agrees:
                return got
            use_library = True
            _note(ex)
            return expected
        return library_fn(*args, **kwargs) if use_library else student_fn(*args, **kwargs)

    return fn


def fallback_value(ex: str, answer, library_value, rtol: float = 1e-6):
    """The student's value if it is filled in and agrees with the library's, else the library's (with a note)."""
    try:
        ok = answer is not Ellipsis and answer is not None and np.shape(answer) == np.shape(library_value) and \
            _rel_error(answer, library_value) < rtol
    except (TypeError, ValueError):
        ok = False
    if ok:
        return answer
    _note(ex)
    return library_value

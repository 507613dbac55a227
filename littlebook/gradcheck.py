"""Finite-difference gradient checks: compare backward() with (f(w + h) − f(w − h)) / 2h.

Relative error (as in CS231n, on whole tensors): max|a − b| / max(1e-8, max|a| + max|b|).
Read it as: ≤ 1e-7 good, ~1e-5 suspicious, ≥ 1e-3 a bug. Use float64: in float32 the round-off
of the differences alone is ~1e-4. Functions with kinks (ReLU at 0, max-pool ties) need inputs
away from the kink.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .functional import as_float_array, as_rng, check_float
from .nn import Dropout, Module

__all__ = ["rel_error", "numerical_gradient", "check_module", "check_loss"]


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """max|a − b| / max(1e-8, max|a| + max|b|), in float64."""
    a, b = _real_float64(a, "a"), _real_float64(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    for name, x in (("a", a), ("b", b)):  # NaN would compare False with every tolerance, and max() would skip it
        if not np.isfinite(x).all():
            raise ValueError(f"rel_error: {name} has {int((~np.isfinite(x)).sum())} NaN or inf entries; a gradient "
                             "check needs finite values")
    return float(np.max(np.abs(a - b)) / max(1e-8, np.max(np.abs(a)) + np.max(np.abs(b))))


def _real_float64(x, name: str) -> np.ndarray:
    """x as a float64 array; complex values are refused, not silently cut to their real part."""
    try:
        x = np.asarray(x)
    except ValueError as error:  # a ragged list
        raise ValueError(f"rel_error: {name} must be an array of numbers, got {type(x).__name__} ({error})") from None
    if x.dtype.kind not in "biuf":
        raise TypeError(f"rel_error: {name} must hold real numbers (float, int or bool), got dtype {x.dtype}")
    return x.astype(np.float64, copy=False)


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """∂f/∂x by central differences, nudging ``x`` in place (and restoring it); f takes no arguments."""
    if not callable(f):
        raise TypeError(f"numerical_gradient: f must be a function of no arguments that returns the loss, "
                        f"got {type(f).__name__}")
    # f reads x itself, so x must be that very array: a list converted here would be nudged where f never looks.
    if not isinstance(x, np.ndarray):
        raise TypeError(f"numerical_gradient: x must be the numpy array that f reads (it is nudged in place), "
                        f"got {type(x).__name__}")
    check_float("numerical_gradient", "h", h, low=0.0, low_open=True)
    if not x.flags.writeable:
        raise ValueError("numerical_gradient: x is read-only, so it cannot be nudged; pass the writeable array "
                         "that f reads")
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs float64 arrays (got {x.dtype}): float32 round-off swamps h")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: writing flat[i] changes x
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient needs a contiguous array")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def check_module(module, x: np.ndarray, h: float = 1e-5, rng=None) -> dict[str, float]:
    """Relative error of ``module.backward`` against finite differences, for the input and each parameter.

    Uses the scalar L = Σ y ⊙ R with a fixed random R, so ∂L/∂y = R exercises every output.
    Returns {"input": err, "<param name>": err, ...}. Buffers (batch norm's running statistics) are restored
    afterwards: the ~2·(number of weights) forward passes of the check must not change the model.
    """
    check_float("check_module", "h", h, low=0.0, low_open=True)
    x = np.array(as_float_array(x, "check_module", "x"), dtype=np.float64)
    for name, p in module.named_parameters():
        if p.value.dtype != np.float64:
            raise TypeError(f"check_module: parameter {name} is {p.value.dtype}; "
                            "build the module with dtype=np.float64")
    for m in module.modules() if isinstance(module, Module) else []:
        if isinstance(m, Dropout) and m.training and m.p > 0:
            raise ValueError(f"check_module: {m!r} is in training mode, so every forward pass draws new masks and "
                             "finite differences measure that noise, not the gradient; call .eval() on the module "
                             "first (or check a dropout layer with p=0)")
    buffers = [(b, b.copy()) for _, b in module.named_buffers()] if isinstance(module, Module) else []
    # module(x), not module.forward(x): a call checks that no layer is used twice in one pass.
    call = module if isinstance(module, Module) else module.forward
    try:
        out = call(x)
        weights = as_rng(rng).standard_normal(out.shape)

        def f() -> float:
            return float(np.sum(call(x) * weights))

        module.zero_grad()
        call(x)
        grad_x = module.backward(weights)
        analytic = {"input": grad_x}
        analytic.update({name: p.grad.copy() for name, p in module.named_parameters()})
        errors = {"input": rel_error(grad_x, numerical_gradient(f, x, h))}
        for name, p in module.named_parameters():
            errors[name] = rel_error(analytic[name], numerical_gradient(f, p.value, h))
    finally:
        for buffer, saved in buffers:
            buffer[...] = saved
    return errors


def check_loss(loss, pred: np.ndarray, target: np.ndarray, h: float = 1e-5) -> dict[str, float]:
    """Relative error of ``loss.backward()`` (∂L/∂pred) against finite differences: {"pred": err}."""
    check_float("check_loss", "h", h, low=0.0, low_open=True)
    pred = np.array(as_float_array(pred, "check_loss", "pred"), dtype=np.float64)
    loss.forward(pred, target)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(pred, target), pred, h)
    return {"pred": rel_error(analytic, numeric)}

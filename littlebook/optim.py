"""Optimizers update parameters in place from their accumulated gradients, and lr schedules.

Gradient descent: w_{n+1} = w_n − η ∇L(w_n), η the learning rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from . import kernels
from .functional import check_float, check_int
from .nn import Module, Parameter

__all__ = ["Optimizer", "SGD", "Adam", "StepLR", "CosineAnnealingLR"]


class Optimizer:
    """Holds a list of parameters and a learning rate ``lr``; ``step()`` updates, ``zero_grad()`` clears.

    ``state_names``: the attributes that ``step()`` changes besides the parameters (as ``Module.buffer_names``;
    each a list of arrays, one per parameter, an int count, or None), saved with ``lr`` by ``state_dict()``.
    """

    state_names: tuple[str, ...] = ()

    def __init__(self, params, lr: float):
        name = type(self).__name__
        if isinstance(params, (Module, Parameter)):
            raise TypeError(f"{name}: params must be a list of Parameters, got a {type(params).__name__}; "
                            f"pass model.parameters()")
        try:
            params = list(params)
        except TypeError:
            raise TypeError(f"{name}: params must be a list of Parameters (model.parameters()), "
                            f"got {type(params).__name__}") from None
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: params must hold Parameters (pass model.parameters()), got {p!r}")
        # Each parameter once: one listed twice would be updated twice per step.
        self.params: list[Parameter] = list({id(p): p for p in params}.values())
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        self.lr = _check_lr(name, lr)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad[...] = 0

    def step(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Copies of ``lr`` and of the state that ``step()`` changes besides the parameters (SGD's velocity,
        Adam's moments and step count): ``load_state_dict`` of it undoes the steps taken since (fit does, for an
        update that overflowed)."""
        state = {"lr": self.lr}
        for name in self.state_names:
            value = getattr(self, name)
            state[name] = [a.copy() for a in value] if isinstance(value, list) else value  # lists of arrays
        return state

    def load_state_dict(self, state: dict) -> None:
        """Put back a ``state_dict()``: keys, array shapes and dtypes must match; all is checked before any copy."""
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{owner}: state must be a dict from state_dict(), got {type(state).__name__}")
        expected = {"lr", *self.state_names}
        if set(state) != expected:
            raise KeyError(f"{owner}: missing {sorted(expected - set(state))}, "
                           f"unexpected {sorted(set(state) - expected)}")
        lr = _check_lr(owner, state["lr"])
        for name in self.state_names:
            mine, value = getattr(self, name), state[name]
            if isinstance(mine, list):  # one array per parameter
                _check_like(owner, name, mine, value)
            elif mine is None:  # SGD's velocity without momentum
                if value is not None:
                    raise ValueError(f"{owner}: {name} must be None, as in its state_dict(), got {value!r}")
            else:
                check_int(owner, name, value, low=0)  # a step count, such as Adam's t
        self.lr = lr
        for name in self.state_names:
            if isinstance(getattr(self, name), list):
                for a, value in zip(getattr(self, name), state[name], strict=True):
                    a[...] = value
            elif state[name] is not None:
                setattr(self, name, int(state[name]))

    def _check_grads(self) -> None:
        """Every gradient must match its parameter before any update: a failure half-way through the list
        would leave some parameters (and moments) updated and the rest not."""
        owner = f"{type(self).__name__}.step"
        for i, p in enumerate(self.params):
            if not isinstance(p.grad, np.ndarray) or p.grad.shape != p.value.shape:
                raise ValueError(f"{owner}: params[{i}].grad must have the parameter's shape "
                                 f"{p.value.shape}, got {np.shape(p.grad)}")
            if p.grad.dtype.kind not in "biuf":  # a complex gradient cannot update a real weight
                raise TypeError(f"{owner}: params[{i}].grad must hold real numbers, got dtype {p.grad.dtype}")
            if p.value.dtype.kind != "f":  # w -= lr * g cannot be written into an integer array: it would fail half-way
                raise TypeError(f"{owner}: params[{i}].value must be a float array, got dtype {p.value.dtype}")
            if not p.value.flags.writeable:  # updated in place: a read-only value would fail half-way
                raise ValueError(f"{owner}: params[{i}].value is read-only (flags.writeable is False); "
                                 f"the optimizer updates it in place")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr:g})"


def _check_like(owner: str, name: str, arrays: list[np.ndarray], values) -> None:
    """``values`` must be a list of arrays with the shapes and dtypes of ``arrays``."""
    if not isinstance(values, list) or len(values) != len(arrays):
        got = f"{len(values)} items" if isinstance(values, list) else type(values).__name__
        raise ValueError(f"{owner}: {name} must be a list of {len(arrays)} arrays (one per parameter), got {got}")
    for i, (a, value) in enumerate(zip(arrays, values, strict=True)):
        if np.shape(value) != a.shape or np.asarray(value).dtype != a.dtype:
            raise ValueError(f"{owner}: {name}[{i}] must have shape {a.shape} and dtype {a.dtype}, got shape "
                             f"{np.shape(value)} and dtype {np.asarray(value).dtype}")


def _check_lr(owner: str, lr) -> float:
    try:
        return check_float(owner, "lr", lr, low=0.0, low_open=True)
    except ValueError:
        raise ValueError(f"{owner}: lr must be positive, got {lr}") from None


class SGD(Optimizer):
    """Stochastic gradient descent with momentum μ and weight decay λ:

    g ← ∇L + λ w;  v ← μ v + g;  w ← w − η v   (μ = 0 gives plain w ← w − η g).
    """

    state_names = ("velocity",)  # one v per parameter (None without momentum)

    def __init__(self, params, lr: float = 0.1, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        check_float("SGD", "momentum", momentum, 0.0, 1.0, high_open=True)
        check_float("SGD", "weight_decay", weight_decay, low=0.0)
        self.momentum, self.weight_decay = momentum, weight_decay
        self.velocity = [np.zeros_like(p.value) for p in self.params] if momentum else None

    def step(self) -> None:
        self._check_grads()
        for i, p in enumerate(self.params):
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.value
            if self.velocity is not None:
                v = self.velocity[i]
                v *= self.momentum
                v += g
                g = v
            p.value -= self.lr * g


class Adam(Optimizer):
    """Adam: m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  w ← w − η m̂ / (√v̂ + ε),

    with bias corrections m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ). ``weight_decay`` adds λw to g (L2, not AdamW).
    """

    state_names = ("m", "v", "t")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (β₁, β₂), got {betas!r}")
        for i, beta in enumerate(betas):  # β = 1 would make the bias correction 1 − βᵗ zero
            check_float("Adam", f"betas[{i}]", beta, 0.0, 1.0, high_open=True)
        check_float("Adam", "eps", eps, low=0.0, low_open=True)  # eps = 0 gives 0/0 = NaN for a zero gradient
        check_float("Adam", "weight_decay", weight_decay, low=0.0)
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay = eps, weight_decay
        self.m = [np.zeros_like(p.value) for p in self.params]
        self.v = [np.zeros_like(p.value) for p in self.params]
        self._scratch = [np.empty_like(p.value) for p in self.params]
        self.t = 0

    def step(self) -> None:
        self._check_grads()
        self.t += 1
        for p, m, v, s in zip(self.params, self.m, self.v, self._scratch, strict=True):
            g = p.grad if not self.weight_decay else p.grad + self.weight_decay * p.value
            # The class docstring's three lines, computed in place (no temporary copies of the weights):
            kernels.adam_step_(p.value, g, m, v, s, self.t, self.lr, self.beta1, self.beta2, self.eps)


def _check_optimizer(owner: str, optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: optimizer must be an Optimizer (e.g. SGD(...)), got {type(optimizer).__name__}")


class StepLR:
    """Multiply the optimizer's lr by ``gamma`` every ``step_size`` calls of ``step()``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        _check_optimizer("StepLR", optimizer)
        check_int("StepLR", "step_size", step_size)
        check_float("StepLR", "gamma", gamma, low=0.0, low_open=True)  # gamma <= 0 gives lr <= 0
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.base_lr, self.count = optimizer.lr, 0

    def step(self) -> None:
        self.count += 1
        self.optimizer.lr = self.base_lr * self.gamma ** (self.count // self.step_size)


class CosineAnnealingLR:
    """Cosine decay from the initial lr to ``eta_min`` over ``T_max`` calls of ``step()`` (PyTorch's name):

    η_t = η_min + ½ (η_0 − η_min)(1 + cos(π t / T_max)).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):  # noqa: N803 (PyTorch's name)
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        check_int(name, "T_max", T_max)
        check_float(name, "eta_min", eta_min, 0.0, optimizer.lr)  # a decay: from lr down to eta_min >= 0
        self.optimizer, self.T_max, self.eta_min = optimizer, T_max, eta_min
        self.base_lr, self.count = optimizer.lr, 0

    def step(self) -> None:
        self.count = min(self.count + 1, self.T_max)
        cos = 0.5 * (1 + math.cos(math.pi * self.count / self.T_max))
        self.optimizer.lr = self.eta_min + (self.base_lr - self.eta_min) * cos

"""Layers with an explicit forward and backward pass.

The contract, as in the book: ``y = layer(x)`` caches what the backward pass needs, then
``grad_x = layer.backward(grad_y)`` returns ∂L/∂x and *accumulates* ∂L/∂w into every
``param.grad`` (call ``zero_grad()`` between steps, as in PyTorch).

Shapes are batch first: dense inputs are (N, D), images (N, C, H, W).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import os
import threading
from collections.abc import Iterator, Mapping

import numpy as np

from .functional import (
    as_float_array,
    as_rng,
    check_bool,
    check_float,
    check_float_dtype,
    check_grad,
    check_int,
    expect_shape,
    read_only,
    sigmoid,
    softmax,
    softmax_backward,
)

__all__ = [
    "Parameter",
    "Module",
    "Sequential",
    "Linear",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "Identity",
    "Dropout",
    "Flatten",
    "Residual",
]


class Parameter:
    """A trainable tensor: its ``value`` and the ``grad`` ∂L/∂value accumulated by backward."""

    __slots__ = ("value", "grad")

    def __init__(self, value: np.ndarray):
        # The dtype policy (functional.as_float_array): integer values could not take fractional updates.
        self.value = as_float_array(value, "Parameter", "value")
        self.grad = np.zeros_like(self.value)

    @property
    def shape(self) -> tuple:
        return self.value.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.value.shape}, dtype={self.value.dtype})"


def _read_only(out, x):
    """A module call's output as a read-only view (no copy; see ``Module``), unless it is a view of the caller's
    own writeable input (Flatten, Identity): then it is the caller's memory, writeable anyway through ``x``."""
    if not isinstance(out, np.ndarray) or not out.flags.writeable:
        return out
    if isinstance(x, np.ndarray) and x.flags.writeable and np.may_share_memory(out, x):
        return out
    return read_only(out)


# An input up to this size that the caller could still change is copied by ``keep_input``: 1 MiB, a batch of 256
# MNIST images in float32 (0.8 MB, copied in about 20 µs: under 1% of an MLP step). A larger one (a whole data set
# given to ``predict``) is kept as it is, to spare a pass over it and the memory.
_COPY_LIMIT_BYTES = 2**20


@functools.cache
def _takes_input_grad(backward) -> bool:
    """Whether a ``backward`` function accepts ``input_grad`` (by name or through ``**kwargs``); looked up once
    per class, since a container asks at every backward pass."""
    params = inspect.signature(backward).parameters
    return "input_grad" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _backward_of(layer: Module, grad_out, input_grad: bool):
    """``layer.backward(grad_out, input_grad=input_grad)``, or ``layer.backward(grad_out)`` for a layer of your own
    whose backward has no ``input_grad``: it then returns ∂L/∂x, which is always allowed (``input_grad=False`` only
    lets a layer skip computing it). Containers call their children through this, so such a layer works anywhere
    in a model instead of failing half-way, after the layers behind it have added their gradients."""
    if _takes_input_grad(type(layer).backward):
        return layer.backward(grad_out, input_grad=input_grad)
    return layer.backward(grad_out)


def keep_input(x: np.ndarray) -> np.ndarray:
    """The input ``x`` as a layer may keep it for backward: as it is when it is read-only (a module's output,
    ``fit``'s batches), else a copy when it is at most 1 MiB, so that editing ``x`` in place between forward and
    backward does not change the gradients. A larger writeable ``x`` is kept by reference: do not change it
    before backward. (A read-only array is trusted not to change: a read-only view you made of an array you then
    edit is not protected.)"""
    if not x.flags.writeable or x.nbytes > _COPY_LIMIT_BYTES:
        return x
    return x.copy()


class Module:
    """Base class: subclasses implement ``forward(x)`` and ``backward(grad_out, input_grad=True)``.

    ``backward`` returns ∂L/∂x. ``input_grad=False`` says that x is data, which needs no gradient (``train_step``
    passes it): a layer may then skip computing ∂L/∂x and return None, as PyTorch skips it for inputs without
    ``requires_grad``. The parameter gradients are the same either way.

    Calling a module, ``y = layer(x)``, returns its output as a **read-only** array (a view, nothing is copied):
    the layer, or the next one, may keep that very array for backward (Sigmoid keeps σ(x), a Linear its input), so
    changing it in place would silently change the gradients. ``y -= 1`` therefore raises numpy's
    "ValueError: output array is read-only"; write ``y = y - 1`` (a new array) or edit ``y.copy()``. PyTorch raises
    in the same situation, at backward. (An output that is a view of your own writeable input, as ``Flatten``'s
    and ``Identity``'s are, stays writeable: it is your array.)

    Parameters are the ``Parameter`` attributes of a module; sub-modules are its ``Module``
    attributes and lists of modules. Buffers (state saved but not trained, such as batch
    norm's running mean) are the attributes named in ``buffer_names``; ``buffers()`` returns them, as in PyTorch.
    """

    training: bool = True
    buffer_names: tuple[str, ...] = ()

    # The modules called so far in the forward pass now running, by id, with their state just before their
    # call (None outside of a forward pass). Two jobs: a module called twice in one pass would overwrite the
    # cache that backward needs for its first call, so that raises; and if anything in the pass raises, every
    # module called is put back as it was (caches, buffers such as running means, dropout's random state).
    # One record per thread (``_pass.modules``): a widget that trains in a background thread (depth_explorer
    # prefetching the next depth) runs its own passes, and must not see, or end, the pass of a cell running now.
    _pass = threading.local()
    # Every call gets a number, kept in ``_call_id``: a container (Sequential) notes its children's numbers in its
    # forward and, before its backward accumulates anything, checks that no child was called again since.
    _call_count = itertools.count(1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        called = getattr(Module._pass, "modules", None)  # this thread's pass, if one is running
        outer = called is None
        if outer:
            called = Module._pass.modules = {}
        elif id(self) in called:
            raise ValueError(
                f"{self!r} is called twice in one forward pass: the second call would overwrite the cache "
                f"that backward needs for the first. Use a new instance for each place; to share weights, "
                f"give two layers the same Parameter")
        rng = getattr(self, "rng", None)
        called[id(self)] = (self, dict(vars(self)), [(b, np.array(getattr(self, b))) for b in self.buffer_names],
                             (rng, rng.bit_generator.state) if isinstance(rng, np.random.Generator) else None)
        self._call_id = next(Module._call_count)
        if not outer:
            return _read_only(self.forward(x), x)
        try:
            return _read_only(self.forward(x), x)
        except BaseException:
            for module, state, buffers, rng_state in called.values():
                vars(module).clear()
                vars(module).update(state)
                for name, value in buffers:
                    getattr(module, name)[...] = value  # in place: forward updates buffers in place
                if rng_state is not None:
                    rng_state[0].bit_generator.state = rng_state[1]
            raise
        finally:
            Module._pass.modules = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def _need_cache(self, *values) -> None:
        if any(v is None for v in values):
            raise RuntimeError(f"{self!r}: call forward before backward")

    def _check_calls(self, children: list[Module], calls: list | None, label) -> None:
        """Before a container's backward touches any gradient: every child must still hold the cache of the call
        made in this container's forward (``calls``, their ``_call_id``s then). A child called on its own since
        (``model.layers[0](x[:4])``, to look at its activations) caches that later call, and backward would mix the
        two passes: fail half-way, after later layers had added their gradients, or with equal shapes, be wrong.
        ``label(i)`` names child i in the message."""
        self._need_cache(calls)
        for i, (child, call) in enumerate(zip(children, calls)):
            if getattr(child, "_call_id", None) != call:
                raise RuntimeError(f"{type(self).__name__}.backward: {label(i)} ({child!r}) was called again after "
                                   f"this {type(self).__name__}'s forward pass, so its cache belongs to that later "
                                   f"call; run the forward pass again before backward")

    # -- traversal -----------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every Parameter once, under the first name it is found at (as in PyTorch): a parameter reached
        twice (a shared Parameter) must not be updated twice per step."""
        seen = set()
        for name, p in self._named_parameters_with_repeats(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _named_parameters_with_repeats(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child._named_parameters_with_repeats(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for name in self.buffer_names:
            yield prefix + name, getattr(self, name)
        for name, child in self.named_children():
            yield from child.named_buffers(prefix + name + ".")

    def buffers(self) -> list[np.ndarray]:
        """Every buffer of this module and its sub-modules (the arrays themselves, as PyTorch's ``buffers()``)."""
        return [b for _, b in self.named_buffers()]

    def modules(self, _seen: set | None = None) -> Iterator[Module]:
        """This module and every sub-module, each once."""
        _seen = set() if _seen is None else _seen
        if id(self) in _seen:
            return
        _seen.add(id(self))
        yield self
        for _, child in self.named_children():
            yield from child.modules(_seen)

    def num_parameters(self) -> int:
        return sum(p.value.size for p in self.parameters())

    # -- training state ------------------------------------------------------------------
    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad[...] = 0

    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}.train: mode must be True or False, got {mode!r}")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- saving --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter value and buffer, keyed by dotted name."""
        state = {name: p.value.copy() for name, p in self.named_parameters()}
        state.update({name: np.array(b, copy=True) for name, b in self.named_buffers()})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy values in place; keys and shapes must match exactly.

        Everything is checked before anything is copied: a mismatch leaves the model unchanged.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{owner}: state must be a dict of arrays (from state_dict()), got {type(state).__name__}")
        params = dict(self.named_parameters())
        buffers = dict(self.named_buffers())
        expected = set(params) | set(buffers)
        missing, unexpected = expected - set(state), set(state) - expected
        if missing or unexpected:
            raise KeyError(f"{owner}: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
        checked = []
        for name, value in state.items():
            target = params[name].value if name in params else buffers[name]
            value = np.asarray(value)
            if value.dtype.kind not in "biuf":
                raise TypeError(f"{owner}: {name} must hold real numbers, got dtype {value.dtype}")
            if value.shape != target.shape:
                raise ValueError(f"{owner}: {name}: expected shape {target.shape}, got {value.shape}")
            with np.errstate(over="ignore"):
                overflows = np.isfinite(value) & ~np.isfinite(value.astype(target.dtype))
            if overflows.any():  # 1e300 stored into float32 would silently become inf
                raise ValueError(f"{owner}: {name}: {int(overflows.sum())} value(s) overflow the parameter's dtype "
                                 f"{target.dtype} (largest magnitude {float(np.abs(value).max()):.3g})")
            checked.append((target, value))
        for target, value in checked:
            target[...] = value

    def save(self, path) -> None:
        """Write ``state_dict()`` to an ``.npz`` file."""
        np.savez(path, **self.state_dict())

    def load(self, path) -> None:
        """Read an ``.npz`` written by ``save`` (never unpickles); ``load("x")`` finds the "x.npz" that
        ``save("x")`` wrote (numpy's savez adds the suffix)."""
        path = os.fspath(path)
        if not os.path.exists(path) and os.path.exists(path + ".npz"):
            path += ".npz"
        try:
            data = np.load(path, allow_pickle=False)
        except ValueError as error:  # not a numpy file at all, or a pickle
            raise ValueError(f"{type(self).__name__}.load: {path} is not an .npz file written by save "
                             f"({error})") from None
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"{type(self).__name__}.load: {path} holds a single array (an .npy file?), "
                             f"expected an .npz archive written by save")
        with data:
            self.load_state_dict({k: data[k] for k in data.files})

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """y = f_L(… f_2(f_1(x))); backward runs the layers in reverse order (the chain rule)."""

    def __init__(self, *layers: Module):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                hint = " (a class: did you mean to call it, e.g. ReLU()?)" if isinstance(layer, type) else ""
                raise TypeError(f"Sequential: layer {i} must be a Module, got {layer!r}{hint}")
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        calls = []
        for layer in self.layers:
            x = layer(x)
            calls.append(getattr(layer, "_call_id", None))
        self._calls = calls  # which call of each layer this pass was: backward checks that none ran again since
        return x

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        self._check_calls(self.layers, getattr(self, "_calls", None), lambda i: f"layer {i}")
        check_bool("Sequential.backward", "input_grad", input_grad)  # before any layer adds to its gradients
        # Only the first layer sees the model's input; every later layer's input is an activation,
        # whose gradient the layers before it need.
        for layer in reversed(self.layers[1:]):
            grad_out = layer.backward(grad_out)
        return _backward_of(self.layers[0], grad_out, input_grad) if self.layers else grad_out

    def __getitem__(self, i):
        return Sequential(*self.layers[i]) if isinstance(i, slice) else self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        # PyTorch names: "0.weight", "1.bias", ...
        for i, layer in enumerate(self.layers):
            yield str(i), layer


class Linear(Module):
    """Fully connected layer z = x Wᵀ + b, i.e. z_i = Σ_j W_ij x_j + b_i.

    x: (N, in_features) → z: (N, out_features); W: (out_features, in_features), b: (out_features,).
    Sequences (N, T, in_features) → (N, T, out_features): the same map at every position.
    Backward: ∂L/∂x = g W,  ∂L/∂W = gᵀ x,  ∂L/∂b = Σ_n g_n.
    x is kept for backward: as it is when read-only (a layer's output, ``fit``'s batches), else copied when at most
    1 MiB (``keep_input``); a larger array of your own is kept by reference: do not change it before backward.
    ``init="he"`` draws W ~ N(0, 2/in) (for ReLU nets), ``"xavier"`` W ~ N(0, 2/(in+out)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init: str = "he",
                 rng: np.random.Generator | int | None = None, dtype=np.float32):
        check_int("Linear", "in_features", in_features)
        check_int("Linear", "out_features", out_features)
        check_float_dtype("Linear", dtype)
        check_bool("Linear", "bias", bias)
        if init not in ("he", "xavier"):
            raise ValueError(f"Linear: init must be 'he' or 'xavier', got {init!r}")
        self.in_features, self.out_features = in_features, out_features
        var = 2.0 / in_features if init == "he" else 2.0 / (in_features + out_features)
        w = as_rng(rng).normal(0.0, np.sqrt(var), size=(out_features, in_features))
        self.weight = Parameter(w.astype(dtype))
        self.bias = Parameter(np.zeros(out_features, dtype=dtype)) if bias else None
        self._x = None

    def extra_repr(self) -> str:
        return f"{self.in_features} → {self.out_features}" + ("" if self.bias else ", bias=False")

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        expect_shape(self, x, ("N", "T", self.in_features) if x.ndim == 3 else ("N", self.in_features))
        self._x = keep_input(x)  # ∂L/∂W = gᵀ x needs this x at backward: a copy if the caller could still change it
        # A sequence is flattened to (N·T, in): one large matrix product instead of N small ones.
        z = (x.reshape(-1, self.in_features) @ self.weight.value.T).reshape(*x.shape[:-1], self.out_features)
        if self.bias is not None:
            z += self.bias.value
        return z

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        self._need_cache(self._x)
        x, g = self._x, check_grad(self, grad_out, self._x.shape[:-1] + (self.out_features,))
        check_bool(self, "backward's input_grad", input_grad)
        if x.ndim == 3:  # (N, T, ·) → (N·T, ·): every position is one more row of the same matrix product
            x, g = x.reshape(-1, self.in_features), g.reshape(-1, self.out_features)
        self.weight.grad += g.T @ x  # .T is a view: BLAS reads it transposed, nothing is copied
        if self.bias is not None:
            self.bias.grad += g.sum(axis=0)
        if not input_grad:  # the input is data: skip a third of the backward's matrix products
            return None
        return (g @ self.weight.value).reshape(self._x.shape)


class ReLU(Module):
    """relu(x) = max(0, x); derivative 1 where x > 0, else 0 (0 at the kink, by convention)."""

    def __init__(self):
        self._mask = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        self._mask = x > 0
        return x * self._mask

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._mask)
        return check_grad(self, grad_out, self._mask.shape) * self._mask


class Sigmoid(Module):
    """σ(x) = 1/(1 + e^{−x}); σ'(x) = σ(x)(1 − σ(x))."""

    def __init__(self):
        self._y = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        self._y = sigmoid(x).astype(x.dtype, copy=False)
        return self._y

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._y)
        return check_grad(self, grad_out, self._y.shape) * self._y * (1 - self._y)


class Tanh(Module):
    """tanh(x) = (e^x − e^{−x})/(e^x + e^{−x}); tanh'(x) = 1 − tanh²(x)."""

    def __init__(self):
        self._y = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = np.tanh(as_float_array(x, self))
        return self._y

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._y)
        return check_grad(self, grad_out, self._y.shape) * (1 - self._y**2)


class Softmax(Module):
    """softmax(x)_i = e^{x_i}/Σ_j e^{x_j} along ``dim``; backward: s ⊙ (g − Σ_j g_j s_j).

    For classification, prefer raw logits with ``CrossEntropyLoss`` (fused and stabler).
    """

    def __init__(self, dim: int = -1):
        self.dim = dim
        self._y = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = softmax(as_float_array(x, self), axis=self.dim)
        return self._y

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._y)
        return softmax_backward(self._y, check_grad(self, grad_out, self._y.shape), axis=self.dim)


class Identity(Module):
    """y = x."""

    def __init__(self):
        self._shape = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        self._shape = x.shape
        return x

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._shape)
        return check_grad(self, grad_out, self._shape)


class Dropout(Module):
    """Inverted dropout: in training y = x ⊙ m / (1 − p) with m_i ~ Bernoulli(1 − p); in eval y = x.

    Dividing by 1 − p keeps E[y] = x, so nothing needs rescaling at test time.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None):
        check_float("Dropout", "p", p, 0.0, 1.0, high_open=True)
        self.p = p
        self.rng = as_rng(rng)
        self._scale = self._shape = None

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        self._shape = x.shape
        if not self.training or self.p == 0.0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape) >= self.p
        self._scale = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        return x * self._scale

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._shape)
        grad_out = check_grad(self, grad_out, self._shape)
        return grad_out if self._scale is None else grad_out * self._scale


class Flatten(Module):
    """(N, d1, d2, …) → (N, d1·d2·…): the bridge from feature maps to dense layers."""

    def __init__(self):
        self._shape = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        if x.ndim < 2:
            raise ValueError(f"{self!r}: expected input of shape (N, ...) with at least 2 axes, got {x.shape}")
        self._shape = x.shape
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))  # not -1: numpy cannot infer it for N = 0

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._shape)
        n = self._shape[0]
        return check_grad(self, grad_out, (n, math.prod(self._shape[1:]))).reshape(self._shape)


class Residual(Module):
    """y = F(x) + x (or F(x) + P(x) with a projection P); backward: ∂L/∂x = F'ᵀg + g.

    The identity path carries the gradient back unchanged, however deep the stack:
    this is what keeps very deep networks trainable.
    """

    def __init__(self, block: Module, projection: Module | None = None):
        if not isinstance(block, Module) or not (projection is None or isinstance(projection, Module)):
            raise TypeError(f"Residual: block (and projection) must be Modules, got {block!r}, {projection!r}")
        self.block = block
        self.projection = projection

    def _paths(self) -> list[Module]:
        return [self.block] + ([] if self.projection is None else [self.projection])

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        fx = self.block(x)
        skip = x if self.projection is None else self.projection(x)
        self._calls = [getattr(m, "_call_id", None) for m in self._paths()]  # checked by backward, as in Sequential
        if fx.shape != skip.shape:
            raise ValueError(
                f"Residual: the block maps {x.shape} to {fx.shape}, but y = F(x) + x needs the same shape "
                f"({skip.shape}); give Residual a projection"
            )
        return fx + skip

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        self._check_calls(self._paths(), getattr(self, "_calls", None), ("block", "projection").__getitem__)
        check_bool("Residual.backward", "input_grad", input_grad)
        grad_block = _backward_of(self.block, grad_out, input_grad)
        grad_skip = grad_out if self.projection is None else _backward_of(self.projection, grad_out, input_grad)
        return grad_block + grad_skip if input_grad else None

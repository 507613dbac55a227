"""Layers with an explicit forward and backward pass.

The contract, as in the book: ``y = layer(x)`` caches what the backward pass needs, then
``grad_x = layer.backward(grad_y)`` returns ∂L/∂x and *accumulates* ∂L/∂w into every
``param.grad`` (call ``zero_grad()`` between steps, as in PyTorch).

Shapes are batch first: dense inputs are (N, D), images (N, C, H, W).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .functional import as_rng, expect_shape, sigmoid, softmax

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
        self.value = np.asarray(value)
        self.grad = np.zeros_like(self.value)

    @property
    def shape(self) -> tuple:
        return self.value.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.value.shape}, dtype={self.value.dtype})"


class Module:
    """Base class: subclasses implement ``forward(x)`` and ``backward(grad_out)``.

    Parameters are the ``Parameter`` attributes of a module; sub-modules are its ``Module``
    attributes and lists of modules. Buffers (state saved but not trained, such as batch
    norm's running mean) are the attribute names listed in ``buffers``.
    """

    training: bool = True
    buffers: tuple[str, ...] = ()
    # False when the input is data that needs no gradient (fit() sets it on the model while training): backward
    # may then skip computing ∂L/∂x and return None, as PyTorch skips it for inputs without requires_grad.
    needs_input_grad: bool = True

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def _need_cache(self, *values) -> None:
        if any(v is None for v in values):
            raise RuntimeError(f"{self!r}: call forward before backward")

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
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for name in self.buffers:
            yield prefix + name, getattr(self, name)
        for name, child in self.named_children():
            yield from child.named_buffers(prefix + name + ".")

    def modules(self) -> Iterator[Module]:
        yield self
        for _, child in self.named_children():
            yield from child.modules()

    def num_parameters(self) -> int:
        return sum(p.value.size for p in self.parameters())

    # -- training state ------------------------------------------------------------------
    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad[...] = 0

    def train(self, mode: bool = True) -> Module:
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
        """Copy values in place; keys and shapes must match exactly."""
        params = dict(self.named_parameters())
        buffers = dict(self.named_buffers())
        expected = set(params) | set(buffers)
        missing, unexpected = expected - set(state), set(state) - expected
        if missing or unexpected:
            raise KeyError(f"{type(self).__name__}.load_state_dict: "
                           f"missing {sorted(missing)}, unexpected {sorted(unexpected)}")
        for name, value in state.items():
            target = params[name].value if name in params else buffers[name]
            if np.shape(value) != target.shape:
                raise ValueError(f"{name}: expected shape {target.shape}, got {np.shape(value)}")
            target[...] = value

    def save(self, path) -> None:
        """Write ``state_dict()`` to an ``.npz`` file."""
        np.savez(path, **self.state_dict())

    def load(self, path) -> None:
        """Read an ``.npz`` written by ``save`` (never unpickles)."""
        with np.load(path, allow_pickle=False) as data:
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
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    def __getitem__(self, i):
        return Sequential(*self.layers[i]) if isinstance(i, slice) else self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def needs_input_grad(self) -> bool:
        return self.layers[0].needs_input_grad if self.layers else True

    @needs_input_grad.setter
    def needs_input_grad(self, value: bool) -> None:
        # Only the first layer sees the model's input; every later layer's input is an activation,
        # whose gradient the layers before it need.
        if self.layers:
            self.layers[0].needs_input_grad = value

    def named_children(self) -> Iterator[tuple[str, Module]]:
        # PyTorch names: "0.weight", "1.bias", ...
        for i, layer in enumerate(self.layers):
            yield str(i), layer


class Linear(Module):
    """Fully connected layer z = x Wᵀ + b, i.e. z_i = Σ_j W_ij x_j + b_i.

    x: (N, in_features) → z: (N, out_features); W: (out_features, in_features), b: (out_features,).
    Sequences (N, T, in_features) → (N, T, out_features): the same map at every position.
    Backward: ∂L/∂x = g W,  ∂L/∂W = gᵀ x,  ∂L/∂b = Σ_n g_n.
    ``init="he"`` draws W ~ N(0, 2/in) (for ReLU nets), ``"xavier"`` W ~ N(0, 2/(in+out)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init: str = "he",
                 rng: np.random.Generator | int | None = None, dtype=np.float32):
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
        expect_shape(self, x, ("N", "T", self.in_features) if np.ndim(x) == 3 else ("N", self.in_features))
        self._x = x
        # A sequence is flattened to (N·T, in): one large matrix product instead of N small ones.
        z = (x.reshape(-1, self.in_features) @ self.weight.value.T).reshape(*x.shape[:-1], self.out_features)
        if self.bias is not None:
            z += self.bias.value
        return z

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        self._need_cache(self._x)
        x, g = self._x, grad_out
        if x.ndim == 3:  # (N, T, ·) → (N·T, ·): every position is one more row of the same matrix product
            x, g = x.reshape(-1, self.in_features), g.reshape(-1, self.out_features)
        self.weight.grad += g.T @ x  # .T is a view: BLAS reads it transposed, nothing is copied
        if self.bias is not None:
            self.bias.grad += g.sum(axis=0)
        if not self.needs_input_grad:  # the input is data: skip a third of the backward's matrix products
            return None
        return (g @ self.weight.value).reshape(self._x.shape)


class ReLU(Module):
    """relu(x) = max(0, x); derivative 1 where x > 0, else 0 (0 at the kink, by convention)."""

    def __init__(self):
        self._mask = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._mask = x > 0
        return x * self._mask

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._need_cache(self._mask)
        return grad_out * self._mask


class Sigmoid(Module):
    """σ(x) = 1/(1 + e^{−x}); σ'(x) = σ(x)(1 − σ(x))."""

    def __init__(self):
        self._y = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = sigmoid(x).astype(x.dtype, copy=False)
        return self._y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._need_cache(self._y)
        return grad_out * self._y * (1 - self._y)


class Tanh(Module):
    """tanh(x) = (e^x − e^{−x})/(e^x + e^{−x}); tanh'(x) = 1 − tanh²(x)."""

    def __init__(self):
        self._y = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = np.tanh(x)
        return self._y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._need_cache(self._y)
        return grad_out * (1 - self._y**2)


class Softmax(Module):
    """softmax(x)_i = e^{x_i}/Σ_j e^{x_j} along ``axis``; backward: s ⊙ (g − Σ_j g_j s_j).

    For classification, prefer raw logits with ``CrossEntropyLoss`` (fused and stabler).
    """

    def __init__(self, axis: int = -1):
        self.axis = axis
        self._y = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = softmax(x, axis=self.axis)
        return self._y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._need_cache(self._y)
        s = self._y
        return s * (grad_out - np.sum(grad_out * s, axis=self.axis, keepdims=True))


class Identity(Module):
    """y = x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out


class Dropout(Module):
    """Inverted dropout: in training y = x ⊙ m / (1 − p) with m_i ~ Bernoulli(1 − p); in eval y = x.

    Dividing by 1 − p keeps E[y] = x, so nothing needs rescaling at test time.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must lie in [0, 1), got {p}")
        self.p = p
        self.rng = as_rng(rng)
        self._scale = None

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.p == 0.0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape) >= self.p
        self._scale = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        return x * self._scale

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out if self._scale is None else grad_out * self._scale


class Flatten(Module):
    """(N, d1, d2, …) → (N, d1·d2·…): the bridge from feature maps to dense layers."""

    def __init__(self):
        self._shape = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 2:
            raise ValueError(f"{self!r}: expected input of shape (N, ...) with at least 2 axes, got {x.shape}")
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._need_cache(self._shape)
        return grad_out.reshape(self._shape)


class Residual(Module):
    """y = F(x) + x (or F(x) + P(x) with a projection P); backward: ∂L/∂x = F'ᵀg + g.

    The identity path carries the gradient back unchanged, however deep the stack:
    this is what keeps very deep networks trainable.
    """

    def __init__(self, block: Module, projection: Module | None = None):
        self.block = block
        self.projection = projection

    def forward(self, x: np.ndarray) -> np.ndarray:
        fx = self.block(x)
        skip = x if self.projection is None else self.projection(x)
        if fx.shape != skip.shape:
            raise ValueError(
                f"Residual: the block maps {x.shape} to {fx.shape}, but y = F(x) + x needs the same shape "
                f"({skip.shape}); give Residual a projection"
            )
        return fx + skip

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        grad_skip = grad_out if self.projection is None else self.projection.backward(grad_out)
        return self.block.backward(grad_out) + grad_skip

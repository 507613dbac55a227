"""Reverse-mode automatic differentiation on numpy arrays (chapter 7): a ``Tensor`` that records its graph.

Each operation y = f(a, b, …) stores its inputs and its vector-Jacobian product (VJP)
g ↦ (gᵀ ∂y/∂a, gᵀ ∂y/∂b, …). ``loss.backward()`` seeds ∂L/∂L = 1 and visits the graph in reverse
topological order, so that each node's gradient ∂L/∂y is complete before its VJP sends it on to its inputs.
The same idea as micrograd's scalar ``Value``, on whole arrays: broadcasting needs ``unbroadcast``.
"""

from __future__ import annotations

import numbers

import numpy as np

from .functional import logsumexp, sigmoid, softmax

__all__ = ["Tensor", "unbroadcast", "topological_order"]


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` down to ``shape``: the VJP of broadcasting x (of ``shape``) to grad.shape.

    An entry of x that broadcasting repeated k times was used k times, so its gradient is the sum of those k
    entries of grad: over the leading axes broadcasting added, and over the axes where x has size 1.
    """
    extra = grad.ndim - len(shape)
    if extra < 0 or any(n != 1 and n != m for n, m in zip(shape, grad.shape[extra:])):
        raise ValueError(f"unbroadcast: a gradient of shape {grad.shape} cannot come from shape {shape}")
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    repeated = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=repeated, keepdims=True) if repeated else grad


def topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor that ``root`` depends on, each listed after all of its inputs (depth-first, post-order).

    Iterative, with an explicit stack: a recursive DFS would hit Python's recursion limit (1000) on a graph
    that deep, e.g. a loop of 1000 additions.
    """
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:  # second visit: all of node's inputs are already in the order
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if p not in visited)
    return order


class Tensor:
    """A numpy array ``data`` that records the operations applied to it; ``backward()`` fills ``grad`` = ∂L/∂data.

    Integers, Python numbers and lists become float64 (what gradient checks need); a float array keeps its dtype.
    ``grad`` is None until a backward pass reaches the tensor and then accumulates over backward calls, as in
    PyTorch: call ``zero_grad()`` between steps.
    """

    __array_ufunc__ = None  # numpy defers to us: ndarray + Tensor calls Tensor.__radd__, not a ufunc

    def __init__(self, data, _parents: tuple[Tensor, ...] = (), _vjp=None, _op: str = ""):
        data = np.asarray(data)
        if data.dtype.kind not in "fiub":
            raise TypeError(f"Tensor: data must be numbers, got an array of dtype {data.dtype}")
        self.data = data if data.dtype.kind == "f" else data.astype(np.float64)
        self.grad: np.ndarray | None = None
        self._parents, self._vjp, self._op = _parents, _vjp, _op

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)

    def __repr__(self) -> str:
        op = f", op={self._op!r}" if self._op else ""
        return f"Tensor(shape={self.shape}, dtype={self.dtype}{op})"

    def item(self) -> float:
        return self.data.item()

    def zero_grad(self) -> None:
        self.grad = None

    def detach(self) -> Tensor:
        """The same data, cut from the graph: nothing flows back through it."""
        return Tensor(self.data)

    def _lift(self, other) -> Tensor:
        # A constant joins the graph as a leaf, in our dtype: 0.5 * x must not turn float32 into float64.
        if isinstance(other, Tensor):
            return other
        if not isinstance(other, (numbers.Number, np.ndarray, np.generic)):
            raise TypeError(f"Tensor: other must be a Tensor, a number or a numpy array, got {type(other).__name__}")
        return Tensor(np.asarray(other, dtype=self.dtype))

    def _make(self, data, parents, vjp, op) -> Tensor:
        return Tensor(np.asarray(data, dtype=self.dtype), parents, vjp, op)

    # -- elementwise binary operations: the gradient is summed back over broadcast axes ------------------------
    def __add__(self, other) -> Tensor:
        a, b = self, self._lift(other)
        return self._make(a.data + b.data, (a, b), lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)), "+")

    def __sub__(self, other) -> Tensor:
        a, b = self, self._lift(other)
        return self._make(a.data - b.data, (a, b), lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)), "-")

    def __mul__(self, other) -> Tensor:
        """y = a ⊙ b;  ∂L/∂a = g ⊙ b,  ∂L/∂b = g ⊙ a (each summed over the axes it was broadcast along)."""
        a, b = self, self._lift(other)

        def vjp(g):
            return unbroadcast(g * b.data, a.shape), unbroadcast(g * a.data, b.shape)
        return self._make(a.data * b.data, (a, b), vjp, "*")

    def __truediv__(self, other) -> Tensor:
        """y = a / b;  ∂L/∂a = g / b,  ∂L/∂b = −g a / b²."""
        a, b = self, self._lift(other)

        def vjp(g):
            return unbroadcast(g / b.data, a.shape), unbroadcast(-g * a.data / b.data**2, b.shape)
        return self._make(a.data / b.data, (a, b), vjp, "/")

    # 2 + x and 2 * x: Python asks the right operand; addition and multiplication commute, even in floating point.
    __radd__, __rmul__ = __add__, __mul__

    def __rsub__(self, other) -> Tensor:
        return self._lift(other) - self

    def __rtruediv__(self, other) -> Tensor:
        return self._lift(other) / self

    def __neg__(self) -> Tensor:
        return self._make(-self.data, (self,), lambda g: (-g,), "neg")

    def __pow__(self, p) -> Tensor:
        """y = aᵖ for a number p;  ∂L/∂a = g p aᵖ⁻¹."""
        if not isinstance(p, numbers.Real):
            raise TypeError(f"Tensor ** p: the exponent p must be a number, got {type(p).__name__}")
        a = self
        return self._make(a.data**p, (a,), lambda g: (g * p * a.data ** (p - 1),), f"**{p}")

    def __matmul__(self, other) -> Tensor:
        """Y = A B (leading axes broadcast as in numpy);  ∂L/∂A = G Bᵀ,  ∂L/∂B = Aᵀ G."""
        a, b = self, self._lift(other)
        if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
            raise ValueError(f"Tensor @: shapes {a.shape} and {b.shape} do not match: both need at least 2 axes (use "
                             "reshape(1, -1) for a vector), and the left one's last axis must equal the right one's "
                             "second-to-last")

        def vjp(g):
            return (unbroadcast(g @ b.data.swapaxes(-1, -2), a.shape),
                    unbroadcast(a.data.swapaxes(-1, -2) @ g, b.shape))
        return self._make(a.data @ b.data, (a, b), vjp, "@")

    def __rmatmul__(self, other) -> Tensor:
        return self._lift(other) @ self

    # -- reductions and shape ------------------------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        """y = Σ over ``axis``;  ∂L/∂a = g copied back along the summed axes."""
        a = self
        axes = tuple(range(a.ndim)) if axis is None else tuple(np.atleast_1d(axis) % max(a.ndim, 1))

        def vjp(g):
            return (np.broadcast_to(g if keepdims else np.expand_dims(g, axes), a.shape),)
        return self._make(a.data.sum(axis=axes, keepdims=keepdims), (a,), vjp, "sum")

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        """y = Σ / n: composed from sum and a product, so it needs no VJP of its own."""
        n = self.data.size if axis is None else int(np.prod([self.shape[i] for i in np.atleast_1d(axis)]))
        return self.sum(axis, keepdims) * (1.0 / n)

    def logsumexp(self, axis: int = -1, keepdims: bool = False) -> Tensor:
        """y = log Σ_j e^{a_j} (computed as m + log Σ_j e^{a_j − m});  ∂L/∂a = g ⊙ softmax(a)."""
        a = self

        def vjp(g):
            return ((g if keepdims else np.expand_dims(g, axis)) * softmax(a.data, axis=axis),)
        return self._make(logsumexp(a.data, axis=axis, keepdims=keepdims), (a,), vjp, "logsumexp")

    def reshape(self, *shape) -> Tensor:
        a = self
        return self._make(a.data.reshape(*shape), (a,), lambda g: (g.reshape(a.shape),), "reshape")

    def transpose(self, *axes) -> Tensor:
        """Permute the axes (reverse them by default); ∂L/∂a is g permuted back by the inverse permutation."""
        a = self
        perm = tuple(axes[0] if len(axes) == 1 else axes) if axes else tuple(reversed(range(a.ndim)))
        return self._make(a.data.transpose(perm), (a,), lambda g: (g.transpose(np.argsort(perm)),), "transpose")

    T = property(lambda self: self.transpose())

    # -- elementwise functions: the VJP reuses the forward's output where the derivative is written in it --------
    def exp(self) -> Tensor:
        """y = eᵃ;  ∂L/∂a = g ⊙ y."""
        y = np.exp(self.data)
        return self._make(y, (self,), lambda g: (g * y,), "exp")

    def log(self) -> Tensor:
        """y = log a;  ∂L/∂a = g / a."""
        a = self
        return self._make(np.log(a.data), (a,), lambda g: (g / a.data,), "log")

    def relu(self) -> Tensor:
        """y = max(a, 0);  ∂L/∂a = g where a > 0, else 0 (0 at the kink, as ``lb.ReLU``)."""
        mask = self.data > 0
        return self._make(self.data * mask, (self,), lambda g: (g * mask,), "relu")

    def tanh(self) -> Tensor:
        """y = tanh a;  ∂L/∂a = g ⊙ (1 − y²)."""
        y = np.tanh(self.data)
        return self._make(y, (self,), lambda g: (g * (1 - y**2),), "tanh")

    def sigmoid(self) -> Tensor:
        """y = σ(a);  ∂L/∂a = g ⊙ y (1 − y)."""
        y = sigmoid(self.data).astype(self.dtype, copy=False)
        return self._make(y, (self,), lambda g: (g * y * (1 - y),), "sigmoid")

    # -- the backward pass ---------------------------------------------------------------------------------------
    def backward(self, grad=None) -> None:
        """Add ∂self/∂t (or gradᵀ ∂self/∂t) to ``t.grad`` for every tensor t that self depends on.

        A scalar output is seeded with ∂L/∂L = 1; any other output needs ``grad``, of its shape.
        """
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward: the tensor has shape {self.shape}; only a one-element tensor is "
                                 "seeded with 1 by default, pass grad= (∂L/∂tensor, same shape) for this one")
            grad = np.ones_like(self.data)
        grad = np.asarray(grad, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward: grad has shape {grad.shape}, the tensor has shape {self.shape}")
        # Gradients of this pass live in `pending`, not in .grad: a second backward() must add only its own part.
        pending = {self: grad}
        for node in reversed(topological_order(self)):
            # g is complete: every consumer of node comes later in the order, so it has sent its part already.
            g = np.asarray(pending.pop(node), dtype=node.dtype)
            node.grad = np.array(g) if node.grad is None else node.grad + g  # a copy: g may be a read-only view
            if node._vjp is None:
                continue
            for parent, g_parent in zip(node._parents, node._vjp(g)):
                # A tensor used twice (x * x, or x in two layers) receives both contributions: they add.
                pending[parent] = pending[parent] + g_parent if parent in pending else g_parent

"""Reverse-mode automatic differentiation on numpy arrays (chapter 7): a ``Tensor`` that records its graph.

Each operation y = f(a, b, …) stores its inputs and its vector-Jacobian product (VJP)
g ↦ (gᵀ ∂y/∂a, gᵀ ∂y/∂b, …). ``loss.backward()`` seeds ∂L/∂L = 1 and visits the graph in reverse
topological order, so that each node's gradient ∂L/∂y is complete before its VJP sends it on to its inputs.
The same idea as micrograd's scalar ``Value``, on whole arrays: broadcasting needs ``unbroadcast``.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

from .functional import as_float_array, check_bool, logsumexp, sigmoid, softmax

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


def _axes(axis, ndim: int, owner: str) -> tuple[int, ...]:
    """``axis`` (None, an int or a sequence of ints; negative ones count from the end) as non-negative axes.

    An axis out of range is an error, as in numpy: wrapping it round (``% ndim``) would reduce another axis.
    """
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(operator.index(ax) for ax in np.atleast_1d(axis))
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ValueError(f"{owner}: axis {ax} is out of bounds for a tensor of dimension {ndim}")
    axes = tuple(ax % ndim for ax in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{owner}: axis {axis} names the same axis twice")
    return axes


def _check_broadcast(op: str, a: Tensor, b: Tensor) -> None:
    """a op b needs shapes that broadcast: say so with the operation, not numpy's "operands could not be
    broadcast together"."""
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"Tensor {op}: shapes {a.shape} and {b.shape} do not broadcast (each axis, counted from "
                         "the right, must be equal or 1 in one of them)") from None


def _frozen(data, copy: bool) -> np.ndarray:
    """``data`` as a read-only float array (float64 unless it is floating already), copied first if ``copy``."""
    data = np.asarray(data)
    if data.dtype.kind not in "fiub":
        raise TypeError(f"Tensor: data must be numbers, got an array of dtype {data.dtype}")
    if data.dtype.kind != "f":
        data = data.astype(np.float64)  # a new array
    elif copy:
        data = data.copy()
    data.setflags(write=False)
    return data


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

    Each VJP saves the arrays its forward pass used, so ``backward()`` differentiates at the values the forward
    saw. ``data`` is a read-only copy of what you passed, so neither you nor a later step can change a saved array:
    ``t.data -= 1`` raises, and ``t.data = t.data - 1`` binds a new array, leaving recorded graphs as they were.
    (PyTorch lets you write in place and raises in ``backward`` if a saved tensor changed, via version counters;
    littlebook keeps the saved values instead.)
    """

    __array_ufunc__ = None  # numpy defers to us: ndarray + Tensor calls Tensor.__radd__, not a ufunc

    def __init__(self, data, _parents: tuple[Tensor, ...] = (), _vjp=None, _op: str = ""):
        # A leaf copies the caller's array: the VJPs keep it, and an edit of the caller's array must not reach them
        # (one pass over the data, small beside the operations that use it). An operation's result is new already.
        self._data = _frozen(data, copy=not _parents)
        self.grad: np.ndarray | None = None
        self._parents, self._vjp, self._op = _parents, _vjp, _op

    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value) -> None:
        # p.data = p.data − η·p.grad: a new read-only array; graphs recorded earlier keep the one they saved.
        self._data = _frozen(value, copy=True)

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
        """The same values (a copy), cut from the graph: nothing flows back through it."""
        return Tensor(self.data)

    def _lift(self, other) -> Tensor:
        # A constant joins the graph as a leaf. A Python number takes our dtype, as numpy treats it (0.5 * x stays
        # float32); an array keeps its own, so that the result's dtype is numpy's (float32 with float64: float64).
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (np.ndarray, np.generic)) and other.dtype.kind in "fiub":
            return Tensor(other)
        if isinstance(other, numbers.Real) and not isinstance(other, np.generic):
            return Tensor(np.asarray(other, dtype=self.dtype))
        # Complex values are refused, not cast: the cast would drop their imaginary parts.
        dtype = f" of dtype {other.dtype}" if isinstance(other, (np.ndarray, np.generic)) else ""
        raise TypeError(f"Tensor: other must be a Tensor, a real number or a numpy array of real numbers, got "
                        f"{type(other).__name__}{dtype}")

    def _make(self, data, parents, vjp, op) -> Tensor:
        # data keeps numpy's dtype for the operation: a32 + b64 and b64 + a32 are both float64, as in numpy.
        return Tensor(data, parents, vjp, op)

    # -- elementwise binary operations: the gradient is summed back over broadcast axes ------------------------
    # Every VJP uses the arrays (and shapes) of the forward pass, bound here, not a.data read when backward runs.
    def __add__(self, other) -> Tensor:
        a, b = self, self._lift(other)
        _check_broadcast("+", a, b)
        sa, sb = a.shape, b.shape
        return self._make(a.data + b.data, (a, b), lambda g: (unbroadcast(g, sa), unbroadcast(g, sb)), "+")

    def __sub__(self, other) -> Tensor:
        a, b = self, self._lift(other)
        _check_broadcast("-", a, b)
        sa, sb = a.shape, b.shape
        return self._make(a.data - b.data, (a, b), lambda g: (unbroadcast(g, sa), unbroadcast(-g, sb)), "-")

    def __mul__(self, other) -> Tensor:
        """y = a ⊙ b;  ∂L/∂a = g ⊙ b,  ∂L/∂b = g ⊙ a (each summed over the axes it was broadcast along)."""
        a, b = self, self._lift(other)
        _check_broadcast("*", a, b)
        a_data, b_data = a.data, b.data  # the arrays this product used: the VJP keeps them

        def vjp(g):
            return unbroadcast(g * b_data, a_data.shape), unbroadcast(g * a_data, b_data.shape)
        return self._make(a_data * b_data, (a, b), vjp, "*")

    def __truediv__(self, other) -> Tensor:
        """y = a / b;  ∂L/∂a = g / b,  ∂L/∂b = −g a / b²."""
        a, b = self, self._lift(other)
        _check_broadcast("/", a, b)
        a_data, b_data = a.data, b.data

        def vjp(g):
            return unbroadcast(g / b_data, a_data.shape), unbroadcast(-g * a_data / b_data**2, b_data.shape)
        return self._make(a_data / b_data, (a, b), vjp, "/")

    # 2 + x and 2 * x: Python asks the right operand; addition and multiplication commute, even in floating point.
    __radd__, __rmul__ = __add__, __mul__

    def __rsub__(self, other) -> Tensor:
        return self._lift(other) - self

    def __rtruediv__(self, other) -> Tensor:
        return self._lift(other) / self

    def __neg__(self) -> Tensor:
        return self._make(-self.data, (self,), lambda g: (-g,), "neg")

    def __pow__(self, p) -> Tensor:
        """y = aᵖ for a number p;  ∂L/∂a = g p aᵖ⁻¹ (0 for p = 0)."""
        if not isinstance(p, numbers.Real):
            raise TypeError(f"Tensor ** p: the exponent p must be a number, got {type(p).__name__}")
        a_data = self.data

        def vjp(g):
            if p == 0:  # y = 1 is constant: p·aᵖ⁻¹ would be 0·∞ = NaN at a = 0
                return (np.zeros_like(g),)
            return (g * p * a_data ** (p - 1),)
        return self._make(a_data**p, (self,), vjp, f"**{p}")

    def __matmul__(self, other) -> Tensor:
        """Y = A B (leading axes broadcast as in numpy);  ∂L/∂A = G Bᵀ,  ∂L/∂B = Aᵀ G."""
        a, b = self, self._lift(other)
        a_data, b_data = a.data, b.data
        if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
            raise ValueError(f"Tensor @: shapes {a.shape} and {b.shape} do not match: both need at least 2 axes (use "
                             "reshape(1, -1) for a vector), and the left one's last axis must equal the right one's "
                             "second-to-last")

        def vjp(g):
            return (unbroadcast(g @ b_data.swapaxes(-1, -2), a_data.shape),
                    unbroadcast(a_data.swapaxes(-1, -2) @ g, b_data.shape))
        return self._make(a_data @ b_data, (a, b), vjp, "@")

    def __rmatmul__(self, other) -> Tensor:
        return self._lift(other) @ self

    # -- reductions and shape ------------------------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        """y = Σ over ``axis``;  ∂L/∂a = g copied back along the summed axes."""
        axes, shape = _axes(axis, self.ndim, "sum"), self.shape
        check_bool("sum", "keepdims", keepdims)

        def vjp(g):
            return (np.broadcast_to(g if keepdims else np.expand_dims(g, axes), shape),)
        return self._make(self.data.sum(axis=axes, keepdims=keepdims), (self,), vjp, "sum")

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        """y = Σ / n: composed from sum and a product, so it needs no VJP of its own."""
        n = int(np.prod([self.shape[i] for i in _axes(axis, self.ndim, "mean")]))
        check_bool("mean", "keepdims", keepdims)
        if n == 0:
            raise ValueError(f"mean: the tensor of shape {self.shape} has no entries along axis={axis}; a mean over "
                             "no items is undefined")
        return self.sum(axis, keepdims) * (1.0 / n)

    def logsumexp(self, axis: int = -1, keepdims: bool = False) -> Tensor:
        """y = log Σ_j e^{a_j} (computed as m + log Σ_j e^{a_j − m});  ∂L/∂a = g ⊙ softmax(a)."""
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"logsumexp: axis must be an int, got {axis!r}")
        (axis,), a_data = _axes(axis, self.ndim, "logsumexp"), self.data
        check_bool("logsumexp", "keepdims", keepdims)

        def vjp(g):
            return ((g if keepdims else np.expand_dims(g, axis)) * softmax(a_data, axis=axis),)
        return self._make(logsumexp(a_data, axis=axis, keepdims=keepdims), (self,), vjp, "logsumexp")

    def reshape(self, *shape) -> Tensor:
        a_shape = self.shape
        try:
            data = self.data.reshape(*shape)
        except TypeError:  # numpy's "'str' object cannot be interpreted as an integer"
            raise TypeError(f"reshape: the shape must be ints (one of them may be -1), got {shape}") from None
        except ValueError:  # numpy's "cannot reshape array of size 6 into shape (4,)"
            raise ValueError(f"reshape: a tensor of shape {a_shape} ({self.data.size} entries) cannot take the shape "
                             f"{shape[0] if len(shape) == 1 else shape}: the product of the new shape must be "
                             f"{self.data.size}") from None
        return self._make(data, (self,), lambda g: (g.reshape(a_shape),), "reshape")

    def transpose(self, *axes) -> Tensor:
        """Permute the axes (reverse them by default); ∂L/∂a is g permuted back by the inverse permutation."""
        if len(axes) == 1 and np.ndim(axes[0]) == 1:  # transpose((0, 2, 1)) as well as transpose(0, 2, 1)
            axes = tuple(axes[0])
        ndim = self.ndim
        perm = tuple(reversed(range(ndim)))
        if axes:
            perm = tuple(operator.index(p) for p in axes)
            if len(perm) != ndim or sorted(p % ndim if -ndim <= p < ndim else -1 for p in perm) != [*range(ndim)]:
                raise ValueError(f"transpose: axes must be a permutation of range({ndim}) (negative axes count from "
                                 f"the end) for a tensor of shape {self.shape}, got axes={perm}")
            # Normalised first: the inverse of (0, -1, -2) is not argsort((0, -1, -2)) = (2, 1, 0) but (0, 2, 1).
            perm = tuple(p % ndim for p in perm)
        inverse = tuple(sorted(range(ndim), key=perm.__getitem__))  # argsort: axis perm[i] goes back to place i
        return self._make(self.data.transpose(perm), (self,), lambda g: (g.transpose(inverse),), "transpose")

    T = property(lambda self: self.transpose())

    # -- elementwise functions: the VJP reuses the forward's output where the derivative is written in it --------
    def exp(self) -> Tensor:
        """y = eᵃ;  ∂L/∂a = g ⊙ y."""
        y = np.exp(self.data)
        return self._make(y, (self,), lambda g: (g * y,), "exp")

    def log(self) -> Tensor:
        """y = log a;  ∂L/∂a = g / a."""
        a_data = self.data
        return self._make(np.log(a_data), (self,), lambda g: (g / a_data,), "log")

    def relu(self) -> Tensor:
        """y = max(a, 0);  ∂L/∂a = g where a > 0, else 0 (0 at the kink, as ``lb.ReLU``)."""
        mask = self.data > 0
        # where, not a ⊙ mask: that gives −0.0 for a < 0, and NaN for a = −∞ (−∞ · 0) or for g = ∞ where a ≤ 0
        return self._make(np.where(mask, self.data, 0.0), (self,), lambda g: (np.where(mask, g, 0.0),), "relu")

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
        grad = np.asarray(as_float_array(grad, "backward", "grad"), dtype=self.dtype)  # no complex, no None
        if grad.shape != self.shape:
            raise ValueError(f"backward: grad has shape {grad.shape}, the tensor has shape {self.shape}")
        order = topological_order(self)
        for node in order:  # a .grad set by hand must be a gradient of the tensor: else ``+ g`` would broadcast
            if node.grad is not None and (np.asarray(node.grad).dtype.kind not in "fiub"
                                          or np.shape(node.grad) != node.shape):
                raise ValueError(f"backward: {node!r} holds a .grad of shape {np.shape(node.grad)} and dtype "
                                 f"{np.asarray(node.grad).dtype}, expected numbers of the tensor's shape "
                                 f"{node.shape}; zero_grad() clears it")
        # Gradients of this pass live in `pending`, not in .grad: a second backward() must add only its own part.
        # They are added to .grad once every VJP has run: a VJP that raises leaves every .grad as it was.
        pending, done = {self: grad}, []
        for node in reversed(order):
            # g is complete: every consumer of node comes later in the order, so it has sent its part already.
            g = np.asarray(pending.pop(node), dtype=node.dtype)
            done.append((node, g))
            if node._vjp is None:
                continue
            grads = node._vjp(g)
            if not isinstance(grads, (tuple, list)) or len(grads) != len(node._parents):
                got = f"{len(grads)} of them" if isinstance(grads, (tuple, list)) else f"a {type(grads).__name__}"
                raise ValueError(f"backward: the VJP of {node._op or 'an operation'!r} must return a tuple of "
                                 f"{len(node._parents)} gradient(s), one per input, got {got}")
            for parent, g_parent in zip(node._parents, grads):
                # A VJP that forgets to unbroadcast returns the output's shape: added to .grad it would broadcast.
                if np.shape(g_parent) != parent.shape:
                    raise ValueError(f"backward: the VJP of {node._op or 'an operation'!r} returned a gradient of "
                                     f"shape {np.shape(g_parent)} for an input of shape {parent.shape}; each "
                                     "gradient must have its input's shape (unbroadcast sums a broadcast gradient "
                                     "back)")
                # A tensor used twice (x * x, or x in two layers) receives both contributions: they add.
                pending[parent] = pending[parent] + g_parent if parent in pending else g_parent
        for node, g in done:
            node.grad = np.array(g) if node.grad is None else node.grad + g  # a copy: g may be a read-only view

"""Losses: ``value = loss(pred, target)`` returns a float, then ``loss.backward()`` returns ∂L/∂pred.

All losses average over the batch by default (``reduction="mean"``); ``"sum"`` adds instead.
"""

from __future__ import annotations

import numpy as np

from . import kernels
from .functional import as_float_array, check_float, sigmoid

__all__ = ["Loss", "MSELoss", "BCEWithLogitsLoss", "BCELoss", "CrossEntropyLoss"]


class Loss:
    """Base class: ``forward(pred, target) -> float`` caches what ``backward() -> ∂L/∂pred`` needs."""

    def __init__(self, reduction: str = "mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self._cache = None

    def __call__(self, pred: np.ndarray, target: np.ndarray) -> float:
        return self.forward(pred, target)

    def _pred(self, pred) -> np.ndarray:
        """The prediction as a non-empty float array (dtype policy: ints and bools become float64)."""
        pred = as_float_array(pred, type(self).__name__, "pred")
        if pred.size == 0:
            raise ValueError(f"{type(self).__name__}: pred is empty (shape {pred.shape}); a mean over no items is "
                             f"undefined")
        return pred

    def _target(self, target) -> np.ndarray:
        target = np.asarray(target)
        if target.dtype.kind not in "biuf":
            raise TypeError(f"{type(self).__name__}: target must hold real numbers, got dtype {target.dtype}")
        return target

    def _in_unit_interval(self, values: np.ndarray, name: str, hint: str = "") -> None:
        # NaN fails both comparisons, so it is refused too.
        if not np.all((values >= 0) & (values <= 1)):
            bad = values[~((values >= 0) & (values <= 1))].flat[0]
            raise ValueError(f"{type(self).__name__}: {name} must lie in [0, 1], got {bad}{hint}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"

    def _reduce(self, per_item: np.ndarray) -> float:
        return float(per_item.sum() if self.reduction == "sum" else per_item.mean())

    def _scale(self, n: int) -> float:
        return 1.0 if self.reduction == "sum" else 1.0 / n

    def _need_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}: call forward before backward")
        return self._cache

    def _same_shape(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        target = self._target(target)
        if pred.shape != target.shape:
            raise ValueError(
                f"{type(self).__name__}: prediction has shape {pred.shape}, target has shape {target.shape}")
        # In the prediction's dtype: float64 (or integer) targets must not turn a float32 model's gradients float64.
        return target.astype(pred.dtype, copy=False) if np.issubdtype(pred.dtype, np.floating) else target


class MSELoss(Loss):
    """L = mean_i (p_i − y_i)²  over every element; ∂L/∂p_i = 2 (p_i − y_i) / n."""

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        pred = self._pred(pred)
        diff = pred - self._same_shape(pred, target)
        self._cache = diff
        return self._reduce(diff**2)

    def backward(self) -> np.ndarray:
        diff = self._need_cache()
        return 2.0 * diff * self._scale(diff.size)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits z, with p = σ(z):

    L = −mean_i [y_i log p_i + (1 − y_i) log(1 − p_i)] = mean_i [max(z_i, 0) − z_i y_i + log(1 + e^{−|z_i|})],
    the right-hand form never takes log 0 nor overflows. ∂L/∂z_i = (σ(z_i) − y_i) / n.
    """

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        pred = self._pred(pred)
        y = self._same_shape(pred, target)
        # y outside [0, 1] is no probability: y = 2 would give a negative "loss" that rewards confident mistakes.
        self._in_unit_interval(y, "target")
        self._cache = (pred, y)
        return self._reduce(np.maximum(pred, 0) - pred * y + np.log1p(np.exp(-np.abs(pred))))

    def backward(self) -> np.ndarray:
        z, y = self._need_cache()
        return ((sigmoid(z) - y) * self._scale(z.size)).astype(z.dtype, copy=False)


class BCELoss(Loss):
    """Binary cross-entropy on probabilities p: L = −mean_i [y_i log p_i + (1 − y_i) log(1 − p_i)].

    p is clipped to [eps, 1 − eps] (eps = 1e-7 by default) because −log 0 = ∞: a single confident
    mistake would make the loss infinite and its gradient NaN. Prefer ``BCEWithLogitsLoss``,
    which needs no clipping. ∂L/∂p_i = (p_i − y_i) / (p_i (1 − p_i)) / n, 0 where p is clipped.
    """

    def __init__(self, reduction: str = "mean", eps: float = 1e-7):
        super().__init__(reduction)
        self.eps = check_float("BCELoss", "eps", eps, 0.0, 0.5, low_open=True, high_open=True)

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        pred = self._pred(pred)
        y = self._same_shape(pred, target)
        # Logits fed by mistake would be clipped to eps or 1 − eps, where the gradient is 0: the model never learns.
        self._in_unit_interval(pred, "pred (probabilities)", "; for logits use BCEWithLogitsLoss")
        self._in_unit_interval(y, "target")
        p = np.clip(pred, self.eps, 1 - self.eps)
        self._cache = (pred, p, y)
        return self._reduce(-(y * np.log(p) + (1 - y) * np.log(1 - p)))

    def backward(self) -> np.ndarray:
        pred, p, y = self._need_cache()
        inside = (pred > self.eps) & (pred < 1 - self.eps)
        return (p - y) / (p * (1 - p)) * inside * self._scale(p.size)


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy on logits, fused: L = −mean_n Σ_c y_nc log softmax(z_n)_c.

    pred: logits (..., C). target: integer classes (...) or one-hot / probabilities (..., C).
    Leading axes (batch, sequence positions, ...) are all averaged (or summed) over.
    ∂L/∂z = (softmax(z) − y) / n: the softmax derivative cancels against the log.

    Soft targets (rows of non-negative weights) are accepted as in PyTorch, also when a row does not sum to 1
    (e.g. label smoothing written by hand); the gradient is then the true one, (softmax(z) Σ_c y_c − y) / n,
    which is softmax(z) − y for rows that sum to 1.
    """

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        pred = self._pred(pred)
        if pred.ndim < 2:
            raise ValueError(f"CrossEntropyLoss: logits must have shape (N, C), got {pred.shape}")
        target = self._target(target)
        num_classes = pred.shape[-1]
        if target.shape == pred.shape[:-1]:
            if not np.issubdtype(target.dtype, np.integer):
                raise ValueError(f"CrossEntropyLoss: class targets must be integers, got dtype {target.dtype}")
            if target.size and (target.min() < 0 or target.max() >= num_classes):
                bad = target[(target < 0) | (target >= num_classes)].flat[0]
                raise ValueError(f"CrossEntropyLoss: target class {bad} out of range [0, {num_classes})")
        elif target.shape != pred.shape:
            raise ValueError(
                f"CrossEntropyLoss: logits have shape {pred.shape}; targets must be classes of shape "
                f"{pred.shape[:-1]} or one-hot of shape {pred.shape}, got {target.shape}"
            )
        elif not np.all((target >= 0) & np.isfinite(target)):  # negative weights make the loss unbounded below
            raise ValueError(f"CrossEntropyLoss: one-hot / probability targets must be finite and >= 0, got "
                             f"{target[~((target >= 0) & np.isfinite(target))].flat[0]}")
        per_item, probs = kernels.cross_entropy(pred, target)  # −Σ_c y_c log softmax(z)_c, and softmax(z)
        self._cache = (probs, target)
        return self._reduce(per_item)

    def backward(self) -> np.ndarray:
        probs, target = self._need_cache()
        num_classes = probs.shape[-1]
        if target.shape == probs.shape:
            # ∂/∂z_c of −Σ_j y_j log softmax(z)_j is p_c Σ_j y_j − y_c (p_c − y_c when the row sums to 1; the
            # product with an exact 1.0 changes no bit). float64 targets must not upcast the grad.
            grad = (probs * target.sum(axis=-1, keepdims=True) - target).astype(probs.dtype, copy=False)
        else:  # subtract 1 at each target class: one fancy-indexed update of a (rows, C) view
            grad = probs.copy()
            grad.reshape(-1, num_classes)[np.arange(target.size), target.reshape(-1)] -= 1
        grad *= self._scale(grad.size // num_classes)
        return grad

"""Attention and transformers: token embeddings, positions, multi-head attention, transformer blocks.

Attention is a soft dictionary look-up. Each query q_i is compared with every key k_j; the scores become weights
a_ij = softmax_j(q_i · k_j / √d), and the answer is the weighted mix of the values, y_i = Σ_j a_ij v_j.
A transformer stacks blocks of attention (tokens exchange information) and MLPs (each token computes on its own).

Shapes: token ids (N, T) integers; activations (N, T, D) with T positions of D features; attention weights
(N, H, T, T) with H heads.
"""

from __future__ import annotations

import math

import numpy as np

from . import kernels
from .functional import (
    as_float_array,
    as_rng,
    check_bool,
    check_float_dtype,
    check_grad,
    check_int,
    expect_shape,
)
from .nn import Dropout, Linear, Module, Parameter, ReLU, Residual, Sequential
from .norm import LayerNorm

__all__ = [
    "Embedding",
    "PositionalEmbedding",
    "sinusoidal_positions",
    "causal_mask",
    "scaled_dot_product_attention",
    "MultiHeadAttention",
    "TransformerBlock",
    "TinyTransformer",
]


def _as_ids(owner, ids) -> np.ndarray:
    """Token ids as an (N, T) integer array with T >= 1 (a list of lists is accepted)."""
    ids = ids if isinstance(ids, np.ndarray) else np.asarray(ids)
    expect_shape(owner, ids, ("N", "T"))
    if ids.shape[1] == 0:
        raise ValueError(f"{owner}: expected at least one position (T >= 1), got ids of shape {ids.shape}")
    return ids


def _check_ids(owner, ids, num: int) -> None:
    if not isinstance(ids, np.ndarray) or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{owner}: expected integer token ids, got {getattr(ids, 'dtype', type(ids).__name__)}")
    if ids.size and (ids.min() < 0 or ids.max() >= num):
        raise ValueError(f"{owner}: token ids must lie in [0, {num}), got values {ids.min()}..{ids.max()}")


class Embedding(Module):
    """A learned vector per token: y[n, t] = W[ids[n, t]], the same as one_hot(ids) @ W without the one-hot matrix.

    ids: (N, T) integers in [0, num_embeddings) → y: (N, T, embedding_dim); W: (num_embeddings, embedding_dim),
    drawn from N(0, 1)
    (as in PyTorch). Backward: ∂L/∂W[v] = Σ of g[n, t] over the positions where ids[n, t] = v (a scatter-add),
    and it returns None: integer ids are not something gradient descent can change, so they have no gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, rng: np.random.Generator | int | None = None,
                 dtype=np.float32):
        check_int("Embedding", "num_embeddings", num_embeddings)
        check_int("Embedding", "embedding_dim", embedding_dim)
        check_float_dtype("Embedding", dtype)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(as_rng(rng).standard_normal((num_embeddings, embedding_dim)).astype(dtype))
        self._ids = None

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"

    def forward(self, ids: np.ndarray) -> np.ndarray:
        ids = ids if isinstance(ids, np.ndarray) else np.asarray(ids)
        expect_shape(self, ids, ("N", "T"))
        _check_ids(self, ids, self.num_embeddings)
        self._ids = np.array(ids)  # a copy: changing the caller's ids before backward must not move the gradient
        # row ids[n, t] of W for every (n, t) at once: np.take is W[ids] (fancy indexing), measured 2-4× faster
        return np.take(self.weight.value, ids, axis=0)

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> None:
        self._need_cache(self._ids)
        grad_out = check_grad(self, grad_out, self._ids.shape + (self.embedding_dim,))
        # A token that occurs k times receives the sum of k gradients (a scatter-add), where W.grad[ids] += g
        # would keep only one of them.
        self.weight.grad += kernels.embedding_grad(self._ids.reshape(-1), grad_out.reshape(-1, self.embedding_dim),
                                                   self.num_embeddings)
        return None


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """The fixed positional encoding of "Attention is all you need" (Vaswani et al., 2017), (length, dim) float64:

    P[t, 2i] = sin(t / 10000^{2i/dim}),  P[t, 2i+1] = cos(t / 10000^{2i/dim}): each pair of features is a clock
    of its own frequency, from one turn every 2π positions to one every 2π·10000^{(dim−2)/dim} (≈ 2π·5623 for
    dim = 32; 2π·10000 only as dim grows).
    """
    check_int("sinusoidal_positions", "length", length, low=0)
    check_int("sinusoidal_positions", "dim", dim)
    t = np.arange(length)[:, None]
    freq = 10000.0 ** (-np.arange(0, dim, 2) / dim)  # (ceil(dim/2),)
    pe = np.zeros((length, dim))
    pe[:, 0::2] = np.sin(t * freq)
    pe[:, 1::2] = np.cos(t * freq[: dim // 2])
    return pe


class PositionalEmbedding(Module):
    """Adds a vector per position, y[n, t] = x[n, t] + P[t], so that the model can tell positions apart.

    x: (N, T, dim) with T ≤ max_len. ``learned=True``: P is a Parameter (max_len, dim) drawn from N(0, 0.1²), small
    so that at first tokens differ by what they are more than by where they are (GPT-2 draws its table from
    N(0, 0.01²));
    ``learned=False``: P = ``sinusoidal_positions(max_len, dim)``, fixed. Backward: ∂L/∂P[t] = Σ_n g[n, t]; ∂L/∂x = g.
    """

    def __init__(self, max_len: int, dim: int, learned: bool = True, rng: np.random.Generator | int | None = None,
                 dtype=np.float32):
        check_int("PositionalEmbedding", "max_len", max_len)
        check_int("PositionalEmbedding", "dim", dim)
        check_float_dtype("PositionalEmbedding", dtype)
        check_bool("PositionalEmbedding", "learned", learned)
        self.max_len, self.dim, self.learned = max_len, dim, learned
        if learned:
            self.weight = Parameter(0.1 * as_rng(rng).standard_normal((max_len, dim)).astype(dtype))
        else:
            self.table = sinusoidal_positions(max_len, dim).astype(dtype)  # not trained, so not a Parameter
        self._t = None

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, {self.dim}" + ("" if self.learned else ", sinusoidal")

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        expect_shape(self, x, ("N", "T", self.dim))
        if x.shape[1] > self.max_len:
            raise ValueError(f"{self!r}: sequences of at most {self.max_len} positions, got {x.shape}")
        self._t, self._shape = x.shape[1], x.shape
        table = self.weight.value if self.learned else self.table
        return x + table[: self._t]

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._t)
        grad_out = check_grad(self, grad_out, self._shape)
        if self.learned:
            self.weight.grad[: self._t] += grad_out.sum(axis=0)
        return grad_out


def causal_mask(length: int) -> np.ndarray:
    """(length, length) bool, True where query position i may look at key position j, i.e. j ≤ i (lower triangle)."""
    check_int("causal_mask", "length", length, low=0)
    return np.tril(np.ones((length, length), dtype=bool))


def scaled_dot_product_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool = False
                                 ) -> tuple[np.ndarray, np.ndarray]:
    """y = softmax(Q Kᵀ / √d + M) V, forward only; returns (y, weights).

    q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv) → y: (..., Tq, dv), weights A: (..., Tq, Tk), each row
    summing to 1. Causal: M = −∞ where j > i, so those weights are exactly 0. Leading axes (batch, heads) broadcast.
    """
    q, k, v = (as_float_array(a, "scaled_dot_product_attention", n) for a, n in ((q, "q"), (k, "k"), (v, "v")))
    check_bool("scaled_dot_product_attention", "causal", causal)
    if min(q.ndim, k.ndim, v.ndim) < 2 or q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: expected q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv), "
                         f"got q {q.shape}, k {k.shape}, v {v.shape}")
    if k.shape[-2] == 0 or q.shape[-1] == 0:
        raise ValueError(f"scaled_dot_product_attention: need at least one key and one feature (Tk, d >= 1), "
                         f"got k of shape {k.shape}")
    if causal and q.shape[-2] > k.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: causal attention needs Tq <= Tk, got q {q.shape}, k {k.shape}")
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"scaled_dot_product_attention: the leading axes of q {q.shape}, k {k.shape}, v {v.shape} "
                         f"do not broadcast") from None
    weights = kernels.attention_weights(q, k, causal)  # A = softmax(Q Kᵀ / √d + M), row by row
    return weights @ v, weights


class MultiHeadAttention(Module):
    """Self-attention with H heads: Q = x W_Qᵀ + b_Q, K = x W_Kᵀ, V = x W_Vᵀ + b_V are split into H slices of
    d = dim/H features, head_h = softmax(Q_h K_hᵀ / √d + M) V_h, and y = concat(head_1, …, head_H) W_Oᵀ + b_O.

    x: (N, T, dim) → y: (N, T, dim). ``causal=True``: M = −∞ above the diagonal, position t sees positions ≤ t only.
    After a forward pass ``attn`` holds the weights (N, H, T, T): row t says where position t looked.
    Backward, with S the scaled scores and A = softmax(S): ∂V = Aᵀ G,  ∂A = G Vᵀ,  ∂S = A ⊙ (∂A − Σ_j ∂A ⊙ A),
    ∂Q = ∂S K / √d,  ∂K = ∂Sᵀ Q / √d; then back through the four projections.
    """

    def __init__(self, embed_dim: int, num_heads: int, causal: bool = False,
                 rng: np.random.Generator | int | None = None, dtype=np.float32):
        dim = embed_dim
        check_int("MultiHeadAttention", "embed_dim", dim)
        check_int("MultiHeadAttention", "num_heads", num_heads)
        check_float_dtype("MultiHeadAttention", dtype)
        check_bool("MultiHeadAttention", "causal", causal)
        if dim % num_heads:
            raise ValueError(f"MultiHeadAttention: embed_dim ({dim}) must be divisible by num_heads ({num_heads})")
        rng = as_rng(rng)
        self.embed_dim, self.num_heads, self.head_dim, self.causal = dim, num_heads, dim // num_heads, causal
        self.q_proj = Linear(dim, dim, init="xavier", rng=rng, dtype=dtype)
        # No bias for the keys: it would add q·b to every score of a row, which the softmax ignores
        # (its gradient is exactly 0), so it could never learn anything.
        self.k_proj = Linear(dim, dim, bias=False, init="xavier", rng=rng, dtype=dtype)
        self.v_proj = Linear(dim, dim, init="xavier", rng=rng, dtype=dtype)
        self.out_proj = Linear(dim, dim, init="xavier", rng=rng, dtype=dtype)
        self.attn = None
        self._qkv = None

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}" + (", causal" if self.causal else "")

    def _split(self, z: np.ndarray) -> np.ndarray:
        """(N, T, H·d) → (N, H, T, d): the heads become a batch axis, so one matmul serves all of them."""
        n, t, _ = z.shape
        return z.reshape(n, t, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def _merge(self, z: np.ndarray) -> np.ndarray:
        """(N, H, T, d) → (N, T, H·d): the heads side by side again (concat)."""
        n, h, t, d = z.shape
        return z.transpose(0, 2, 1, 3).reshape(n, t, h * d)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        expect_shape(f"MultiHeadAttention({self.extra_repr()})", x, ("N", "T", self.embed_dim))
        if x.shape[1] == 0:
            raise ValueError(f"{self!r}: attention needs at least one position (T >= 1), got input of shape {x.shape}")
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(x)), self._split(self.v_proj(x))
        heads, self.attn = scaled_dot_product_attention(q, k, v, self.causal)
        self._qkv = (q, k, v)
        return self.out_proj(self._merge(heads))

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        self._need_cache(self._qkv)
        q, k, v = self._qkv
        grad_out = check_grad(self, grad_out, (q.shape[0], q.shape[2], self.embed_dim))
        check_bool(self, "backward's input_grad", input_grad)  # before out_proj adds to its gradients
        a = self.attn
        g = self._split(self.out_proj.backward(grad_out))  # ∂L/∂heads, (N, H, T, d)
        grad_v = a.swapaxes(-1, -2) @ g                    # heads = A V
        grad_a = g @ v.swapaxes(-1, -2)
        # Softmax backward along each row. Masked entries have a = 0, so their gradient is exactly 0:
        # the future receives no gradient from the past.
        grad_s = kernels.softmax_rows_backward(a, grad_a)  # A ⊙ (∂A − rowsum(∂A ⊙ A))
        grad_s *= 1 / math.sqrt(self.head_dim)             # S = Q Kᵀ / √d
        grad_q, grad_k = grad_s @ k, grad_s.swapaxes(-1, -2) @ q
        # x feeds all three projections: its gradient is the sum of the three paths.
        grads = [proj.backward(self._merge(grad), input_grad=input_grad)
                 for proj, grad in ((self.q_proj, grad_q), (self.k_proj, grad_k), (self.v_proj, grad_v))]
        return grads[0] + grads[1] + grads[2] if input_grad else None


class TransformerBlock(Module):
    """A pre-norm transformer block: x ← x + MHA(LN(x)), then x ← x + MLP(LN(x)).

    MLP = Linear(dim, mlp_ratio·dim) → ReLU → Linear(mlp_ratio·dim, dim), applied to every position on its own.
    Attention mixes information *across* positions, the MLP computes *within* each; the residual connections
    (chapter 5) keep the gradient flowing through a deep stack. x: (N, T, dim) → (N, T, dim).
    ``dropout`` drops the output of each branch (before it is added back), to fight over-fitting.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 4, causal: bool = True, dropout: float = 0.0,
                 rng: np.random.Generator | int | None = None, dtype=np.float32):
        check_int("TransformerBlock", "dim", dim)
        check_int("TransformerBlock", "mlp_ratio", mlp_ratio)
        rng = as_rng(rng)
        self.dim = dim
        self.attn_branch = Residual(Sequential(
            LayerNorm(dim, dtype=dtype), MultiHeadAttention(dim, num_heads, causal, rng=rng, dtype=dtype),
            Dropout(dropout, rng=rng)))
        self.mlp_branch = Residual(Sequential(
            LayerNorm(dim, dtype=dtype), Linear(dim, mlp_ratio * dim, rng=rng, dtype=dtype), ReLU(),
            Linear(mlp_ratio * dim, dim, init="xavier", rng=rng, dtype=dtype), Dropout(dropout, rng=rng)))

    @property
    def attention(self) -> MultiHeadAttention:
        """The block's attention layer (a property, so that its parameters are not listed twice)."""
        return self.attn_branch.block[1]

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        expect_shape(f"TransformerBlock(dim={self.dim})", x, ("N", "T", self.dim))
        return self.mlp_branch(self.attn_branch(x))

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray:
        check_bool(self, "backward's input_grad", input_grad)  # before the MLP branch adds to its gradients
        return self.attn_branch.backward(self.mlp_branch.backward(grad_out), input_grad=input_grad)


class TinyTransformer(Module):
    """A decoder-only (GPT-style) transformer language model.

    logits = Linear(LN(blocks(Embedding(ids) + P))): ids (N, T) with T ≤ context → logits (N, T, vocab_size),
    where row t scores the token that follows position t. Every block is causal, so row t depends on
    ids[:, :t+1] only. ``backward(grad (N, T, V))`` fills every ``param.grad`` and returns None (ids have no gradient).
    """

    def __init__(self, vocab_size: int, context: int, dim: int = 64, num_heads: int = 4, num_layers: int = 2,
                 mlp_ratio: int = 4, dropout: float = 0.0, rng: np.random.Generator | int | None = None,
                 dtype=np.float32):
        check_int("TinyTransformer", "vocab_size", vocab_size)
        check_int("TinyTransformer", "context", context)
        check_int("TinyTransformer", "num_layers", num_layers, low=0)
        rng = as_rng(rng)
        self.vocab_size, self.context = vocab_size, context
        self.embed = Embedding(vocab_size, dim, rng=rng, dtype=dtype)
        self.pos = PositionalEmbedding(context, dim, rng=rng, dtype=dtype)
        self.drop = Dropout(dropout, rng=rng)
        self.blocks = Sequential(*(TransformerBlock(dim, num_heads, mlp_ratio, causal=True, dropout=dropout,
                                                    rng=rng, dtype=dtype) for _ in range(num_layers)))
        self.norm = LayerNorm(dim, dtype=dtype)
        self.head = Linear(dim, vocab_size, init="xavier", rng=rng, dtype=dtype)

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, context={self.context}"

    def forward(self, ids: np.ndarray) -> np.ndarray:
        ids = _as_ids("TinyTransformer", ids)
        if ids.shape[1] > self.context:
            raise ValueError(f"TinyTransformer: at most context = {self.context} positions, got ids of shape "
                             f"{ids.shape}; crop to the last {self.context} tokens")
        x = self.drop(self.pos(self.embed(ids)))
        return self.head(self.norm(self.blocks(x)))

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> None:
        g = self.blocks.backward(self.norm.backward(self.head.backward(grad_out)))
        self.embed.backward(self.pos.backward(self.drop.backward(g)))
        return None

    def next_logits(self, ids: np.ndarray) -> np.ndarray:
        """Logits (V,) of the token after ``ids`` (T,) integers, reading at most the last ``context`` tokens, in
        eval mode (no dropout). Made for ``littlebook.sample(model.next_logits, prompt, n_tokens)``."""
        ids = ids if isinstance(ids, np.ndarray) else np.asarray(ids)
        if ids.ndim != 1 or len(ids) == 0:
            raise ValueError(f"TinyTransformer.next_logits: ids must be the token ids so far, shape (T,) with "
                             f"T >= 1, got shape {ids.shape}")
        # The ids as given, never cast: int64(1.9) would read token 1 without a word.
        _check_ids("TinyTransformer.next_logits", ids, self.vocab_size)
        was_training = self.training
        self.eval()
        try:
            return self(ids[None, -self.context:])[0, -1]
        finally:
            self.train(was_training)

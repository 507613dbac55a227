"""Text for autoregressive models: the book's corpus, a byte-pair-encoding tokenizer, windows, sampling.

A language model factorises the probability of a sequence with the chain rule of probability,
P(x_1, …, x_T) = Π_t P(x_t | x_1, …, x_{t−1}), so it only ever has to predict the *next* token.
The tokenizer turns text into those tokens; ``context_windows`` makes (input, next-token) pairs;
``sample`` draws new text one token at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from importlib import resources

import numpy as np

from . import kernels
from .functional import (
    as_float_array,
    as_rng,
    check_float,
    check_float_dtype,
    check_grad,
    check_int,
    expect_shape,
    softmax,
)
from .nn import Linear, Module, Sequential, Tanh

__all__ = ["load_corpus", "BPETokenizer", "context_windows", "sample", "NextTokenMLP"]

CORPUS_FILE = "little_lessons.txt"

# Pre-tokenisation (as in GPT-2): split text into chunks (a word with its leading space, a number,
# a run of punctuation, a run of spaces) and never merge across two chunks, so that " the" is learned
# as one token instead of merging "e t" across words. The alternatives cover every character, so the
# chunks always concatenate back to the text.
_CHUNK = re.compile(r" ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+")


def load_corpus() -> str:
    """The book's own corpus: ~25 KB of original, plain English about deep learning (ships with the package)."""
    return resources.files("littlebook").joinpath("corpus", CORPUS_FILE).read_text(encoding="utf-8")


def _bytes_and_starts(text: str, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of ``text`` as int64 ids (n,), and a mask (n,) that is True where a chunk starts."""
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate such as "\ud800" (half of a pair) has no UTF-8 bytes
        raise ValueError(f"{owner}: text holds {text[error.start:error.end]!r} at position {error.start}, a lone "
                         f"surrogate, which is not a character and has no UTF-8 encoding") from None
    chunks = [c.encode("utf-8") for c in _CHUNK.findall(text)]
    data = b"".join(chunks)
    if data != encoded:  # the pattern must cover every character; fail loudly if it ever does not
        raise AssertionError("BPETokenizer: pre-tokenisation lost characters")
    ids = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    starts = np.zeros(len(ids), dtype=bool)
    starts[np.cumsum([0] + [len(c) for c in chunks[:-1]])[: len(chunks)]] = True
    return ids, starts


def _merge(ids: np.ndarray, starts: np.ndarray, pair: tuple[int, int], new_id: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Replace every occurrence of ``pair`` inside a chunk by ``new_id``, left to right, in one vectorised pass.

    Occurrences can only overlap when a == b (as in "aaa"); then, within each run of overlapping matches,
    the 1st, 3rd, 5th … are merged: exactly what a left-to-right scan does.
    """
    a, b = pair
    hit = (ids[:-1] == a) & (ids[1:] == b) & ~starts[1:]
    if a == b and hit.any():
        idx = np.arange(len(hit))
        run_start = hit & ~np.concatenate(([False], hit[:-1]))
        first = np.maximum.accumulate(np.where(run_start, idx, 0))  # where the current run of matches began
        hit &= (idx - first) % 2 == 0
    pos = np.flatnonzero(hit)
    if len(pos) == 0:
        return ids, starts
    ids = ids.copy()
    ids[pos] = new_id
    keep = np.ones(len(ids), dtype=bool)
    keep[pos + 1] = False  # the right half of each merged pair disappears
    return ids[keep], starts[keep]


def _as_token_ids(owner: str, name: str, ids) -> np.ndarray:
    """Token ids as a flat int64 array. Only integers: casting 104.9 or "104" would silently give another token.
    And only ids that int64 holds, checked before the cast: a uint64 id >= 2⁶³ wraps round to a negative int64
    (2⁶⁴ − 1 becomes −1), which numpy's indexing reads as a row counted from the end."""
    ids = np.asarray(ids)
    if ids.size and ids.dtype.kind not in "iu":
        raise TypeError(f"{owner}: {name} must be integers, got dtype {ids.dtype}")
    if ids.size and ids.dtype.kind == "u" and ids.max() >= np.uint64(2**63):  # compared as uint64: exact
        raise ValueError(f"{owner}: {name} must be token ids (>= 0, below the vocabulary size), got {ids.max()}")
    return ids.astype(np.int64).reshape(-1)


def _is_id(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


class BPETokenizer:
    """Byte-level byte-pair encoding (Sennrich et al. 2016; GPT-2's byte-level variant).

    Training starts from the 256 possible bytes and repeatedly merges the most frequent adjacent pair
    into a new token, until ``vocab_size`` tokens exist. Any text can be encoded (every string is bytes)
    and decoding is exact. ``merges`` is the ordered list of ((a, b), new_id); encoding applies them in
    that order.
    """

    def __init__(self, merges: Sequence[tuple[tuple[int, int], int]] = ()):
        try:
            self.merges: list[tuple[tuple[int, int], int]] = [((a, b), c) for (a, b), c in merges]
        except (TypeError, ValueError):  # not iterable, or an entry not shaped ((a, b), c)
            self.merges = None
        # Integers only, not int(): int(1.5) and int(True) would silently merge token 1.
        if self.merges is None or not all(_is_id(v) for (a, b), c in self.merges for v in (a, b, c)):
            shown = list(merges)[:3] if isinstance(merges, Iterable) else merges
            raise TypeError(f"BPETokenizer: merges must be a list of ((a, b), new_id) with integer ids, "
                            f"got {shown!r}...")
        self.merges = [((int(a), int(b)), int(c)) for (a, b), c in self.merges]
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for (a, b), c in self.merges:
            if c != len(self.vocab):
                raise ValueError(f"BPETokenizer: merge {(a, b)} → {c} should create token {len(self.vocab)}")
            if not (0 <= a < c and 0 <= b < c):  # a pair of tokens that exist already (else a KeyError below)
                raise ValueError(f"BPETokenizer: merge {(a, b)} → {c} must join two existing tokens, ids in "
                                 f"[0, {c})")
            self.vocab[c] = self.vocab[a] + self.vocab[b]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)})"

    @classmethod
    def train(cls, text: str, vocab_size: int) -> BPETokenizer:
        """Learn ``vocab_size − 256`` merges from ``text``.

        Each round counts all adjacent pairs inside chunks at once (``np.unique`` over the pair codes
        a·V + b) and merges the most frequent; ties go to the smallest (a, b) (the codes come sorted and
        ``argmax`` returns the first maximum), so training is deterministic. Stops early when no pair occurs twice.
        """
        if not isinstance(text, str):
            raise TypeError(f"BPETokenizer.train: text must be a str, got {type(text).__name__}")
        # At most 2³¹: pair codes a·V + b must fit in int64 (and no text has more distinct pairs anyway).
        check_int("BPETokenizer.train", "vocab_size (>= 256, the byte alphabet)", vocab_size, low=256, high=2**31)
        ids, starts = _bytes_and_starts(text, "BPETokenizer.train")
        merges = []
        for new_id in range(256, vocab_size):
            valid = ~starts[1:]
            codes = ids[:-1][valid] * vocab_size + ids[1:][valid]
            if len(codes) == 0:
                break
            uniq, counts = np.unique(codes, return_counts=True)  # sorted codes, so ties → smallest (a, b)
            best = int(np.argmax(counts))
            if counts[best] < 2:
                break
            pair = divmod(int(uniq[best]), vocab_size)
            merges.append((pair, new_id))
            ids, starts = _merge(ids, starts, pair, new_id)
        return cls(merges)

    def encode(self, text: str) -> np.ndarray:
        """Text → token ids (n,) int64: bytes, then every learned merge in the order it was learned."""
        if not isinstance(text, str):
            raise TypeError(f"BPETokenizer.encode: text must be a str, got {type(text).__name__}")
        ids, starts = _bytes_and_starts(text, "BPETokenizer.encode")
        for pair, new_id in self.merges:
            if len(ids) < 2:
                break
            ids, starts = _merge(ids, starts, pair, new_id)
        return ids

    def decode(self, ids) -> str:
        """Token ids → text. Byte sequences that are not valid UTF-8 (possible in sampled text) become '�'."""
        ids = _as_token_ids("BPETokenizer.decode", "ids", ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"BPETokenizer.decode: ids must lie in [0, {self.vocab_size}), "
                             f"got {ids.min()}..{ids.max()}")
        return b"".join(self.vocab[i] for i in ids.tolist()).decode("utf-8", errors="replace")

    def token_str(self, token_id: int) -> str:
        """A token as readable text, e.g. ' the' (bytes that are not valid UTF-8 alone are shown as \\xNN)."""
        check_int("BPETokenizer.token_str", f"token_id (in [0, {self.vocab_size}))", token_id, low=0,
                  high=self.vocab_size - 1)
        return self.vocab[int(token_id)].decode("utf-8", errors="backslashreplace")


def context_windows(ids, context: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """All (input, target) pairs for next-token prediction: X[n] = ids[s : s+T], Y[n] = ids[s+1 : s+T+1].

    ids: (L,) token ids; context: T. Returns X, Y of shape (N, T) with s = 0, stride, 2·stride, …
    Y is X shifted by one: at every position t the target is the token that comes next.
    """
    check_int("context_windows", "context", context)
    check_int("context_windows", "stride", stride)
    ids = _as_token_ids("context_windows", "ids", ids)
    if len(ids) < context + 1:
        raise ValueError(f"context_windows: need at least context + 1 = {context + 1} tokens, got {len(ids)}")
    windows = np.lib.stride_tricks.sliding_window_view(ids, context + 1)[::stride]
    return windows[:, :-1].copy(), windows[:, 1:].copy()


def sample(next_logits_fn: Callable[[np.ndarray], np.ndarray], prompt_ids, n_tokens: int,
           temperature: float = 1.0, rng=None) -> np.ndarray:
    """Generate ``n_tokens`` after ``prompt_ids``, one at a time: x_t ~ softmax(l_t / temperature).

    ``next_logits_fn(ids)`` gets all ids so far, (t,), and returns the logits (V,) of the next token
    (crop to the model's context inside it). Temperature < 1 sharpens the distribution, > 1 flattens it,
    0 means greedy (argmax). Returns prompt + generated ids, (len(prompt) + n_tokens,) int64.
    """
    if not callable(next_logits_fn):
        raise TypeError(f"sample: next_logits_fn must be a function ids -> logits (e.g. model.next_logits), "
                        f"got {type(next_logits_fn).__name__}")
    check_float("sample", "temperature", temperature, low=0.0)
    check_int("sample", "n_tokens", n_tokens, low=0)
    rng = as_rng(rng)
    ids = list(_as_token_ids("sample", "prompt_ids", prompt_ids))
    for _ in range(n_tokens):  # generation is sequential by nature: token t+1 needs token t
        logits = as_float_array(next_logits_fn(np.array(ids, dtype=np.int64)), "sample", "next_logits_fn's logits")
        # One row (V,), never flattened: a model's (t, V) output flattened would draw ids up to t·V − 1.
        if logits.ndim != 1:
            raise ValueError(f"sample: next_logits_fn must return the logits of the next token, shape (V,), got "
                             f"shape {logits.shape} (after {len(ids)} ids); for a model's (t, V) output take the "
                             f"last row, [-1]")
        logits = logits.astype(np.float64, copy=False)
        # NaN or +inf logits, or no finite one, give no distribution to draw from (softmax would be NaN).
        if logits.size == 0 or np.isnan(logits).any() or np.isposinf(logits).any() or not np.isfinite(logits).any():
            raise ValueError(f"sample: next_logits_fn must return logits with at least one finite value and no "
                             f"NaN or +inf, got {logits if logits.size <= 8 else logits[:8]}"
                             f"{'...' if logits.size > 8 else ''} (after {len(ids)} ids)")
        if temperature == 0:
            ids.append(int(np.argmax(logits)))
        else:
            p = softmax(logits / temperature)
            ids.append(int(rng.choice(len(p), p=p)))
    return np.array(ids, dtype=np.int64)


class NextTokenMLP(Module):
    """A causal next-token model: an MLP that reads the embeddings of the last ``context`` tokens (Bengio et al. 2003).

    At position t it sees only x_{t−K+1}, …, x_t (K = ``context``; positions before the start are a padding
    token) and returns the logits l_t of x_{t+1}:  l_t = W₂ tanh(W₁ [e(x_{t−K+1}); …; e(x_t)] + b₁) + b₂.
    The embedding e(x) = one_hot(x) Eᵀ is a ``Linear`` without bias reading a one-hot vector (computed as the
    look-up of column x of E, which gives the same numbers).

    ids: (N, T) int → logits: (N, T, vocab_size). ``backward(grad (N, T, V))`` fills every ``param.grad``
    and returns None: integer token ids have no gradient.
    """

    def __init__(self, vocab_size: int, context: int = 4, embed_dim: int = 32, hidden: int = 128,
                 rng: np.random.Generator | int | None = None, dtype=np.float32):
        for name, value in (("vocab_size", vocab_size), ("context", context), ("embed_dim", embed_dim),
                            ("hidden", hidden)):
            check_int("NextTokenMLP", name, value)
        check_float_dtype("NextTokenMLP", dtype)
        rng = as_rng(rng)
        self.vocab_size, self.context, self.embed_dim = vocab_size, context, embed_dim
        self.pad = vocab_size  # one extra embedding row for "before the start of the text"
        self.embed = Linear(vocab_size + 1, embed_dim, bias=False, rng=rng, dtype=dtype)
        self.embed.weight.value[...] = rng.standard_normal(self.embed.weight.shape)  # embeddings start at scale 1
        self.mlp = Sequential(Linear(context * embed_dim, hidden, init="xavier", rng=rng, dtype=dtype), Tanh(),
                              Linear(hidden, vocab_size, init="xavier", rng=rng, dtype=dtype))
        self._shape = self._windows = None

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, context={self.context}"

    def windows(self, ids: np.ndarray) -> np.ndarray:
        """(N, T) ids → (N, T, K): row t holds x_{t−K+1}, …, x_t, padded on the left. Nothing after t."""
        padded = np.concatenate([np.full((len(ids), self.context - 1), self.pad, dtype=np.int64), ids], axis=1)
        return np.lib.stride_tricks.sliding_window_view(padded, self.context, axis=1)

    def forward(self, ids: np.ndarray) -> np.ndarray:
        ids = ids if isinstance(ids, np.ndarray) else np.asarray(ids)
        expect_shape("NextTokenMLP", ids, ("N", "T"))
        if not np.issubdtype(ids.dtype, np.integer) or (ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size)):
            raise ValueError(f"NextTokenMLP: expected integer token ids in [0, {self.vocab_size}), "
                             f"got dtype {ids.dtype}" + (f", values {ids.min()}..{ids.max()}" if ids.size else ""))
        n, t = ids.shape
        self._shape = (n, t)
        self._windows = self.windows(ids).reshape(-1)  # (N·T·K,)
        # e = one_hot(x) Eᵀ = column x of E: the product with a one-hot vector only picks a column, so we pick it
        # (the same numbers, without the (N·T·K, V + 1) one-hot matrix and its product). np.take(Eᵀ, x, axis=0)
        # is Eᵀ[x], measured 4-7× faster than that fancy indexing.
        e = np.take(self.embed.weight.value.T, self._windows, axis=0)  # (N·T·K, d)
        return self.mlp(e.reshape(n * t, self.context * self.embed_dim)).reshape(n, t, self.vocab_size)

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> None:
        self._need_cache(self._shape)
        n, t = self._shape
        grad_out = check_grad(self, grad_out, (n, t, self.vocab_size))
        g = self.mlp.backward(grad_out.reshape(n * t, self.vocab_size))
        # ∂L/∂E = gᵀ one_hot(x): column v of E collects the gradients of every position that reads token v
        self.embed.weight.grad += kernels.embedding_grad(
            self._windows, g.reshape(n * t * self.context, self.embed_dim), self.vocab_size + 1).T
        return None

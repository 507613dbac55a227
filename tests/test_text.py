"""Tests for littlebook.text: corpus, byte-level BPE, context windows and sampling.

The BPE is compared with a plain-Python reference written the textbook way (Counter of pairs per
chunk, merge left to right; encode by repeatedly merging the lowest-ranked pair), which shares no code
with the vectorised implementation except the pre-tokenisation pattern (itself tested for coverage).
"""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from littlebook.functional import softmax
from littlebook.gradcheck import numerical_gradient, rel_error
from littlebook.losses import CrossEntropyLoss
from littlebook.text import _CHUNK, BPETokenizer, NextTokenMLP, context_windows, load_corpus, sample


# -- reference implementation -------------------------------------------------------------------
def _chunks(text):
    return [list(c.encode("utf-8")) for c in _CHUNK.findall(text)]


def _merge_ref(seq, pair, new_id):
    out, i = [], 0
    while i < len(seq):
        if i + 1 < len(seq) and (seq[i], seq[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out


def train_ref(text, vocab_size):
    chunks, merges = _chunks(text), []
    for new_id in range(256, vocab_size):
        counts = Counter(p for c in chunks for p in zip(c[:-1], c[1:], strict=True))
        if not counts:
            break
        top = max(counts.values())
        if top < 2:
            break
        pair = min(p for p, n in counts.items() if n == top)
        merges.append((pair, new_id))
        chunks = [_merge_ref(c, pair, new_id) for c in chunks]
    return merges


def encode_ref(text, merges):
    rank = {pair: (r, new_id) for r, (pair, new_id) in enumerate(merges)}
    out = []
    for c in _chunks(text):
        while len(c) > 1:
            pair = min(zip(c[:-1], c[1:], strict=True), key=lambda p: rank.get(p, (np.inf,))[0])
            if pair not in rank:
                break
            c = _merge_ref(c, pair, rank[pair][1])
        out.extend(c)
    return out


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def tok(corpus):
    return BPETokenizer.train(corpus, 400)


# -- corpus -------------------------------------------------------------------------------------
def test_corpus_is_a_sizeable_english_text(corpus):
    assert isinstance(corpus, str)
    assert 20_000 <= len(corpus.encode("utf-8")) <= 60_000
    words = corpus.split()
    assert len(words) > 3000 and Counter(words).most_common(1)[0][0] == "the"


# -- pre-tokenisation -----------------------------------------------------------------------------
@given(st.text())
def test_chunks_cover_every_character(text):
    assert "".join(_CHUNK.findall(text)) == text


# -- BPE ------------------------------------------------------------------------------------------
def test_training_matches_reference(corpus):
    text = corpus[:4000]
    assert BPETokenizer.train(text, 330).merges == train_ref(text, 330)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="aab c", max_size=80), st.integers(256, 280))
def test_training_matches_reference_on_repetitive_text(text, vocab_size):
    # runs like "aaaa" make pairs overlap: the trickiest case for a vectorised merge
    assert BPETokenizer.train(text, vocab_size).merges == train_ref(text, vocab_size)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="aab cé", max_size=80))
def test_encode_matches_reference(tok, text):
    assert tok.encode(text).tolist() == encode_ref(text, tok.merges)


def test_encode_corpus_matches_reference(tok, corpus):
    text = corpus[5000:8000]
    assert tok.encode(text).tolist() == encode_ref(text, tok.merges)


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_round_trip_on_arbitrary_unicode(tok, text):
    ids = tok.encode(text)
    assert ids.dtype == np.int64 and ((0 <= ids) & (ids < tok.vocab_size)).all()
    assert tok.decode(ids) == text
    assert tok.decode(ids.tolist()) == text


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=200), st.text(max_size=100))
def test_round_trip_with_tokenizer_trained_on_random_text(train_text, text):
    t = BPETokenizer.train(train_text, 300)
    assert t.decode(t.encode(text)) == text
    assert t.decode(t.encode(train_text)) == train_text


def test_merges_are_applied_in_learned_order():
    # "bc" is merged first, after which the pair (a, b) no longer exists
    t = BPETokenizer([((98, 99), 256), ((97, 98), 257)])
    assert t.encode("abc").tolist() == [97, 256]
    # the other order: "ab" first, then (ab, c)
    t = BPETokenizer([((97, 98), 256), ((256, 99), 257)])
    assert t.encode("abc").tolist() == [257]
    assert t.encode("abcab").tolist() == [257, 256]


def test_overlapping_pairs_merge_left_to_right():
    t = BPETokenizer([((97, 97), 256)])
    assert t.encode("aaaaa").tolist() == [256, 256, 97]


def test_merges_never_cross_words():
    t = BPETokenizer.train("ab ab ab ab", 300)
    # " a" + "b" may merge, but never "b" + " "
    assert all(not t.vocab[c].endswith(b" ") for _, c in t.merges)


def test_vocab_size_is_respected(corpus):
    for v in (256, 300, 512):
        t = BPETokenizer.train(corpus, v)
        assert t.vocab_size == v and len(t.merges) == v - 256
        assert [c for _, c in t.merges] == list(range(256, v))
        for (a, b), c in t.merges:
            assert a < c and b < c and t.vocab[c] == t.vocab[a] + t.vocab[b]


def test_training_stops_when_no_pair_repeats():
    t = BPETokenizer.train("abcdef", 300)
    assert t.merges == [] and t.vocab_size == 256


def test_deterministic_with_smallest_pair_winning_ties(corpus):
    assert BPETokenizer.train(corpus, 320).merges == BPETokenizer.train(corpus, 320).merges
    # (a, b) and (c, d) both occur twice: the smaller pair is merged first
    t = BPETokenizer.train("abab cdcd", 257)
    assert t.merges == [((97, 98), 256)]


def test_compresses_the_corpus(corpus):
    t = BPETokenizer.train(corpus, 512)
    n_bytes, n_tokens = len(corpus.encode("utf-8")), len(t.encode(corpus))
    assert n_bytes / n_tokens > 2.0


def test_token_str(tok):
    assert tok.token_str(ord("a")) == "a"
    the = tok.encode(" the")
    assert len(the) == 1 and tok.token_str(the[0]) == " the"
    assert tok.token_str(0xC3) == "\\xc3"  # half of a UTF-8 character


def test_bad_arguments():
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train("abc", 100)
    t = BPETokenizer()
    with pytest.raises(ValueError, match=r"\[0, 256\)"):
        t.decode([256])
    with pytest.raises(ValueError, match="should create token 256"):
        BPETokenizer([((97, 98), 300)])


def test_decode_invalid_utf8_is_replaced():
    assert BPETokenizer().decode([0xC3]) == "\ufffd"


# -- context windows --------------------------------------------------------------------------------
@given(st.integers(2, 40), st.integers(1, 8), st.integers(1, 3))
def test_context_windows(length, context, stride):
    ids = np.arange(100, 100 + length)
    if length < context + 1:
        with pytest.raises(ValueError, match="context"):
            context_windows(ids, context, stride)
        return
    X, Y = context_windows(ids, context, stride)
    starts = list(range(0, length - context, stride))
    assert X.shape == Y.shape == (len(starts), context)
    for n, s in enumerate(starts):
        assert X[n].tolist() == list(ids[s:s + context])
        assert Y[n].tolist() == list(ids[s + 1:s + context + 1])


# -- sampling -----------------------------------------------------------------------------------------
def test_sample_greedy_and_context():
    seen = []

    def next_logits(ids):
        seen.append(ids.copy())
        return np.eye(5)[(ids[-1] + 1) % 5] * 3.0  # the next token is always last + 1

    out = sample(next_logits, [2], 6, temperature=0)
    assert out.tolist() == [2, 3, 4, 0, 1, 2, 3]
    assert [len(s) for s in seen] == list(range(1, 7))
    assert seen[3].tolist() == [2, 3, 4, 0]


def test_sample_follows_temperature_scaled_softmax():
    logits = np.array([1.0, 0.0, -1.0, 2.0])
    n = 4000
    for temperature in (0.5, 1.0, 2.0):
        out = sample(lambda ids: logits, [], n, temperature=temperature, rng=1)
        freq = np.bincount(out, minlength=4) / n
        p = softmax(logits / temperature)
        assert np.abs(freq - p).max() < 4 * np.sqrt(p.max() * (1 - p.min()) / n)


def test_sample_is_reproducible_and_checks_temperature():
    f = lambda ids: np.zeros(10)  # noqa: E731
    assert (sample(f, [1], 20, rng=3) == sample(f, [1], 20, rng=3)).all()
    with pytest.raises(ValueError, match="temperature"):
        sample(f, [1], 3, temperature=-1)


# -- the causal next-token model ------------------------------------------------------------------------
def test_next_token_mlp_matches_explicit_formula():
    V, K, d = 7, 3, 4
    m = NextTokenMLP(V, context=K, embed_dim=d, hidden=5, rng=0, dtype=np.float64)
    ids = np.array([[1, 2, 3, 4], [6, 0, 0, 5]])
    E = m.embed.weight.value.T  # (V + 1, d): row V is the padding token
    W1, b1 = m.mlp[0].weight.value, m.mlp[0].bias.value
    W2, b2 = m.mlp[2].weight.value, m.mlp[2].bias.value
    logits = m(ids)
    assert logits.shape == (2, 4, V)
    for n in range(2):
        for t in range(4):
            window = [ids[n, s] if s >= 0 else V for s in range(t - K + 1, t + 1)]
            h = np.tanh(W1 @ np.concatenate([E[i] for i in window]) + b1)
            np.testing.assert_allclose(logits[n, t], W2 @ h + b2, rtol=1e-12)


def test_next_token_mlp_is_causal():
    m = NextTokenMLP(11, context=4, rng=1)
    ids = np.random.default_rng(0).integers(0, 11, (3, 9))
    changed = ids.copy()
    changed[:, 5:] = (changed[:, 5:] + 1) % 11
    a, b = m(ids), m(changed)
    assert np.array_equal(a[:, :5], b[:, :5])  # bit-identical: no path from the future
    assert not np.allclose(a[:, 5:], b[:, 5:])


def test_next_token_mlp_gradients():
    V = 6
    m = NextTokenMLP(V, context=2, embed_dim=3, hidden=4, rng=2, dtype=np.float64)
    rng = np.random.default_rng(3)
    ids, targets = rng.integers(0, V, (2, 5)), rng.integers(0, V, (2, 5))
    loss = CrossEntropyLoss(reduction="sum")
    loss(m(ids), targets)
    m.zero_grad()
    assert m.backward(loss.backward()) is None
    for name, p in m.named_parameters():
        numeric = numerical_gradient(lambda: loss(m(ids), targets), p.value)
        assert rel_error(p.grad, numeric) < 1e-6, name


def test_next_token_mlp_bad_input():
    m = NextTokenMLP(5, rng=0)
    with pytest.raises(ValueError, match=r"NextTokenMLP: expected input of shape \(N, T\), got \(4,\)"):
        m(np.arange(4))
    with pytest.raises(ValueError, match=r"token ids in \[0, 5\)"):
        m(np.array([[1, 5]]))
    with pytest.raises(ValueError, match="integer"):
        m(np.array([[1.0, 2.0]]))

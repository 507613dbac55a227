"""Attention and transformer layers: explicit formulas, causality, finite-difference gradients, bad input."""

import numpy as np
import pytest

import littlebook as lb
from littlebook.attention import (
    Embedding,
    MultiHeadAttention,
    PositionalEmbedding,
    TinyTransformer,
    TransformerBlock,
    causal_mask,
    scaled_dot_product_attention,
    sinusoidal_positions,
)
from littlebook.gradcheck import check_module, numerical_gradient, rel_error

F64 = np.float64
TOL = 1e-6


def naive_attention(q, k, v, causal):
    """softmax(q·k / √d) v with explicit loops over queries: the textbook formula, one row at a time."""
    out, weights = np.zeros((len(q), v.shape[1])), np.zeros((len(q), len(k)))
    for i in range(len(q)):
        keys = range(i + 1) if causal else range(len(k))
        scores = np.array([q[i] @ k[j] / np.sqrt(len(q[i])) for j in keys])
        w = np.exp(scores - scores.max())
        w /= w.sum()
        weights[i, : len(w)] = w
        out[i] = sum(w_j * v[j] for w_j, j in zip(w, keys, strict=True))
    return out, weights


# -- Embedding -------------------------------------------------------------------------------------------


def test_embedding_is_one_hot_times_table_and_scatters_gradients():
    emb = Embedding(7, 3, rng=0, dtype=F64)
    ids = np.array([[0, 3, 3, 6], [3, 1, 0, 0]])  # repeated tokens: their gradients must add up
    y = emb(ids)
    onehot = lb.one_hot(ids.reshape(-1), 7, dtype=F64)
    np.testing.assert_allclose(y.reshape(-1, 3), onehot @ emb.weight.value)
    g = np.random.default_rng(1).normal(size=y.shape)
    assert emb.backward(g) is None
    np.testing.assert_allclose(emb.weight.grad, onehot.T @ g.reshape(-1, 3))
    assert not emb.weight.grad[[2, 4, 5]].any()  # tokens that did not occur get no gradient


def test_embedding_gradcheck():
    emb = Embedding(6, 4, rng=0, dtype=F64)
    ids = np.array([[1, 5, 1], [0, 1, 2]])
    r = np.random.default_rng(2).normal(size=(2, 3, 4))
    emb.zero_grad()
    emb(ids)
    emb.backward(r)
    numeric = numerical_gradient(lambda: float(np.sum(emb(ids) * r)), emb.weight.value)
    assert rel_error(emb.weight.grad, numeric) < TOL


def test_embedding_rejects_bad_ids():
    emb = Embedding(5, 2)
    with pytest.raises(ValueError, match=r"Embedding\(5, 2\): token ids must lie in \[0, 5\), got values 0..5"):
        emb(np.array([[0, 5]]))
    with pytest.raises(ValueError, match=r"Embedding\(5, 2\): expected integer token ids, got float64"):
        emb(np.array([[0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"Embedding\(5, 2\): expected input of shape \(N, T\), got \(3,\)"):
        emb(np.array([0, 1, 2]))


# -- positions -------------------------------------------------------------------------------------------


def test_sinusoidal_positions_formula_and_relative_property():
    pe = sinusoidal_positions(50, 8)
    for t in (0, 7, 49):
        for i in range(4):
            angle = t / 10000 ** (2 * i / 8)
            assert np.isclose(pe[t, 2 * i], np.sin(angle)) and np.isclose(pe[t, 2 * i + 1], np.cos(angle))
    # P[t]·P[t+k] = Σ_i cos(k ω_i) depends on the offset k only: dot products encode relative position.
    dots = np.einsum("td,td->t", pe[:-5], pe[5:])
    np.testing.assert_allclose(dots, dots[0])
    assert sinusoidal_positions(3, 5).shape == (3, 5)


def test_positional_embedding_learned_and_fixed():
    x = np.random.default_rng(0).normal(size=(2, 4, 6))
    learned = PositionalEmbedding(5, 6, rng=1, dtype=F64)
    np.testing.assert_allclose(learned(x), x + learned.weight.value[:4])
    errors = check_module(learned, x)
    assert max(errors.values()) < TOL, errors
    assert not learned.weight.grad[4].any()  # position 4 was not used
    fixed = PositionalEmbedding(5, 6, learned=False, dtype=F64)
    assert fixed.parameters() == []
    np.testing.assert_allclose(fixed(x), x + sinusoidal_positions(4, 6))
    with pytest.raises(ValueError, match=r"PositionalEmbedding\(max_len=5, 6\): sequences of at most 5 positions"):
        learned(np.zeros((1, 6, 6)))


# -- scaled dot-product attention ------------------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
def test_scaled_dot_product_attention_matches_loops(causal):
    rng = np.random.default_rng(3)
    q, k, v = rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(2, 3, 5, 6))
    out, weights = scaled_dot_product_attention(q, k, v, causal)
    for b in range(2):
        for h in range(3):
            ref_out, ref_w = naive_attention(q[b, h], k[b, h], v[b, h], causal)
            np.testing.assert_allclose(out[b, h], ref_out, atol=1e-12)
            np.testing.assert_allclose(weights[b, h], ref_w, atol=1e-12)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0)
    if causal:
        assert np.all(weights[..., ~causal_mask(5)] == 0)


def test_causal_mask():
    m = causal_mask(4)
    assert m.dtype == bool and m.shape == (4, 4)
    assert all(m[i, j] == (j <= i) for i in range(4) for j in range(4))


# -- multi-head attention --------------------------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_per_head_reference(causal):
    mha = MultiHeadAttention(6, 2, causal=causal, rng=0, dtype=F64)
    x = np.random.default_rng(4).normal(size=(3, 5, 6))
    y = mha(x)
    assert mha.k_proj.bias is None  # a key bias would shift every score of a row equally: softmax ignores it
    W = {name: (getattr(mha, name).weight.value, getattr(mha, name).bias.value if name != "k_proj" else np.zeros(6))
         for name in ("q_proj", "k_proj", "v_proj", "out_proj")}
    for n in range(3):
        heads = []
        for h in range(2):  # head h uses rows h·3 … h·3+2 of W_Q, W_K, W_V
            rows = slice(3 * h, 3 * h + 3)
            q, k, v = (x[n] @ W[p][0][rows].T + W[p][1][rows] for p in ("q_proj", "k_proj", "v_proj"))
            out, weights = naive_attention(q, k, v, causal)
            heads.append(out)
            np.testing.assert_allclose(mha.attn[n, h], weights, atol=1e-12)
        np.testing.assert_allclose(y[n], np.concatenate(heads, axis=1) @ W["out_proj"][0].T + W["out_proj"][1],
                                   atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_gradcheck(causal):
    mha = MultiHeadAttention(8, 2, causal=causal, rng=1, dtype=F64)
    errors = check_module(mha, np.random.default_rng(5).normal(size=(2, 4, 8)))
    assert max(errors.values()) < TOL, errors


def test_non_causal_attention_is_permutation_equivariant():
    """Without positions or a mask, attention sees a set: permuting the tokens permutes the outputs."""
    mha = MultiHeadAttention(8, 4, rng=2, dtype=F64)
    x = np.random.default_rng(6).normal(size=(1, 6, 8))
    perm = np.array([3, 0, 5, 1, 4, 2])
    np.testing.assert_allclose(mha(x[:, perm]), mha(x)[:, perm], atol=1e-12)


def _future_changes_past(layer, t=2, T=6, dim=8):
    """Change the inputs after position t; return whether any output at positions ≤ t changed."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, T, dim))
    x2 = x.copy()
    x2[:, t + 1:] = rng.normal(size=(2, T - t - 1, dim))
    y, y2 = layer(x), layer(x2)
    assert not np.array_equal(y[:, t + 1:], y2[:, t + 1:])  # the change is visible later on
    return not np.array_equal(y[:, : t + 1], y2[:, : t + 1])


@pytest.mark.parametrize("make", [
    lambda: MultiHeadAttention(8, 2, causal=True, rng=0, dtype=F64),
    lambda: TransformerBlock(8, 2, causal=True, rng=0, dtype=F64),
])
def test_causal_layers_ignore_the_future_exactly(make):
    layer = make()
    assert not _future_changes_past(layer)
    # And backwards: the gradient of the output at position t reaches no input after t (exactly 0).
    t = 2
    x = np.random.default_rng(8).normal(size=(2, 6, 8))
    layer(x)
    g = np.zeros((2, 6, 8))
    g[:, t] = np.random.default_rng(9).normal(size=(2, 8))
    grad_x = layer.backward(g)
    assert np.all(grad_x[:, t + 1:] == 0)
    assert np.all(np.abs(grad_x[:, : t + 1]).sum(axis=-1) > 0)  # …but does reach every input up to t


def test_non_causal_attention_sees_the_future():
    assert _future_changes_past(MultiHeadAttention(8, 2, causal=False, rng=0, dtype=F64))


def test_multi_head_attention_bad_input():
    with pytest.raises(ValueError, match=r"dim \(6\) must be divisible by num_heads \(4\)"):
        MultiHeadAttention(6, 4)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"MultiHeadAttention\(embed_dim=8, num_heads=2\): expected input of shape "
                                         r"\(N, T, 8\), got \(2, 5, 6\)"):
        mha(np.zeros((2, 5, 6), np.float32))
    with pytest.raises(ValueError, match=r"MultiHeadAttention.*got \(5, 8\)"):
        mha(np.zeros((5, 8), np.float32))
    with pytest.raises(RuntimeError, match="forward before backward"):
        MultiHeadAttention(8, 2).backward(np.zeros((1, 2, 8), np.float32))


def test_float32_stays_float32():
    block = TransformerBlock(8, 2, rng=0)
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype(np.float32)
    assert block(x).dtype == np.float32 and block.backward(np.ones_like(x)).dtype == np.float32


# -- transformer block and model -------------------------------------------------------------------------


def test_transformer_block_is_pre_norm_residual():
    block = TransformerBlock(8, 2, mlp_ratio=3, rng=0, dtype=F64)
    x = np.random.default_rng(10).normal(size=(2, 5, 8))
    ln1, mha = block.attn_branch.block[0], block.attention
    ln2, fc1, _, fc2, _ = block.mlp_branch.block.layers

    def layer_norm(z, ln):  # per token: (z − mean) / √(var + eps) · γ + β
        return (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + ln.eps) * ln.weight.value \
            + ln.bias.value

    h = x + mha(layer_norm(x, ln1))
    hidden = np.maximum(0, layer_norm(h, ln2) @ fc1.weight.value.T + fc1.bias.value)
    expected = h + hidden @ fc2.weight.value.T + fc2.bias.value
    np.testing.assert_allclose(block(x), expected, atol=1e-12)
    assert fc1.out_features == 24
    # The attention layer is listed once, not twice, so an optimizer updates it once per step.
    names = [name for name, _ in block.named_parameters()]
    assert len(names) == len(set(id(p) for p in block.parameters())) == 2 + 7 + 2 + 2 * 2


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_gradcheck(causal):
    block = TransformerBlock(8, 2, mlp_ratio=2, causal=causal, rng=3, dtype=F64)
    errors = check_module(block, np.random.default_rng(11).normal(size=(2, 4, 8)))
    assert max(errors.values()) < TOL, errors


def test_tiny_transformer_gradcheck_every_parameter():
    model = TinyTransformer(11, context=6, dim=8, num_heads=2, num_layers=2, mlp_ratio=2, rng=0, dtype=F64)
    ids = np.random.default_rng(12).integers(0, 11, size=(2, 5))
    targets = np.random.default_rng(13).integers(0, 11, size=(2, 5))
    loss = lb.CrossEntropyLoss()
    model.zero_grad()
    loss(model(ids), targets)
    assert model.backward(loss.backward()) is None  # integer ids have no gradient
    for name, p in model.named_parameters():
        numeric = numerical_gradient(lambda: loss(model(ids), targets), p.value)
        assert rel_error(p.grad, numeric) < TOL, name


def test_tiny_transformer_is_causal_and_checks_its_input():
    model = TinyTransformer(20, context=8, dim=8, num_heads=2, num_layers=2, rng=0)
    ids = np.random.default_rng(14).integers(0, 20, size=(3, 8))
    changed = ids.copy()
    changed[:, 4:] = (changed[:, 4:] + 1) % 20
    logits, logits2 = model(ids), model(changed)
    assert logits.shape == (3, 8, 20)
    assert np.array_equal(logits[:, :4], logits2[:, :4]) and not np.array_equal(logits[:, 4:], logits2[:, 4:])
    np.testing.assert_array_equal(model.next_logits(np.arange(12) % 20), model(np.arange(4, 12)[None] % 20)[0, -1])
    with pytest.raises(ValueError, match=r"TinyTransformer: at most context = 8 positions"):
        model(np.zeros((1, 9), dtype=np.int64))
    with pytest.raises(ValueError, match=r"Embedding\(20, 8\): token ids must lie in \[0, 20\)"):
        model(np.full((1, 3), 20))


@pytest.mark.parametrize("ids, words", [
    ([1.9, 3.7], ["integer token ids", "float64"]),  # was: read as tokens 1 and 3
    (np.array([2.5]), ["integer token ids", "float64"]),
    ([True, False], ["integer token ids", "bool"]),  # as BPETokenizer.decode and sample refuse bools
    ("12", ["shape (T,)", "()"]),  # was: numpy's IndexError "too many indices"
    ([[1, 2], [3, 4]], ["shape (T,)", "(2, 2)"]),
    ([1, 10], ["[0, 10)", "1..10"]),
])
def test_next_logits_refuses_ids_that_are_not_token_ids(ids, words):
    model = TinyTransformer(10, 4, dim=8, num_heads=2, num_layers=1, rng=0)
    with pytest.raises(ValueError) as info:
        model.next_logits(ids)
    assert "TinyTransformer.next_logits" in str(info.value)
    assert all(word in str(info.value) for word in words), str(info.value)
    # integer ids of any integer dtype give the same logits as before
    np.testing.assert_array_equal(model.next_logits(np.array([1, 3], np.int32)), model(np.array([[1, 3]]))[0, -1])


def test_sample_refuses_logits_that_are_not_one_row():
    # A next_logits_fn that returns the model's whole output (t, V), not its last row (V,): flattened, its t·V
    # logits gave ids outside the vocabulary ([0 1 2 4] with V = 3).
    model = TinyTransformer(10, 8, dim=8, num_heads=2, num_layers=1, rng=0).eval()
    with pytest.raises(ValueError, match=r"shape \(V,\), got shape \(3, 10\) \(after 3 ids\)"):
        lb.sample(lambda ids: model(ids[None, -8:])[0], [1, 2, 3], 4, rng=0)
    with pytest.raises(ValueError, match=r"shape \(V,\), got shape \(\)"):
        lb.sample(lambda ids: np.float64(1.0), [0], 1)
    with pytest.raises(TypeError, match="next_logits_fn's logits"):
        lb.sample(lambda ids: np.array([1j, 0j]), [0], 1)  # was: imaginary parts dropped with a ComplexWarning
    out = lb.sample(model.next_logits, [1, 2, 3], 4, rng=0)
    assert out.shape == (7,) and out.min() >= 0 and out.max() < 10


def test_tiny_transformer_learns_to_copy_the_previous_token():
    """y_t = x_{t−1} needs information from another position: attention must learn to look one step back."""
    rng = np.random.default_rng(15)
    X = rng.integers(0, 8, size=(512, 8))
    Y = np.concatenate([np.zeros((512, 1), dtype=np.int64), X[:, :-1]], axis=1)
    model = TinyTransformer(8, context=8, dim=16, num_heads=2, num_layers=1, rng=0)
    lb.fit(model, lb.CrossEntropyLoss(), lb.Adam(model.parameters(), lr=1e-2), (X, Y), epochs=10, batch_size=32,
           progress=False, rng=0)
    X_test = rng.integers(0, 8, size=(64, 8))
    pred = lb.predict(model, X_test).argmax(-1)
    assert np.mean(pred[:, 1:] == X_test[:, :-1]) > 0.95
    # Every position t ≥ 1 looks at position t − 1 more than at any other (averaged over samples and heads).
    attn = model.blocks[0].attention.attn.mean(axis=(0, 1))  # (T, T)
    np.testing.assert_array_equal(attn[1:].argmax(axis=1), np.arange(7))


# -- sequence support in the existing layers -------------------------------------------------------------


def test_linear_and_layer_norm_on_sequences():
    x = np.random.default_rng(16).normal(size=(3, 4, 5))
    linear = lb.Linear(5, 2, rng=0, dtype=F64)
    np.testing.assert_allclose(linear(x), np.stack([linear(x[:, t]) for t in range(4)], axis=1))
    assert max(check_module(linear, x).values()) < TOL
    with pytest.raises(ValueError, match=r"Linear\(5 → 2\): expected input of shape \(N, T, 5\), got \(3, 4, 6\)"):
        linear(np.zeros((3, 4, 6)))
    ln = lb.LayerNorm(5, dtype=F64)
    y = ln(x)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)  # every token standardised on its own
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-4)
    ln.weight.value[:] = np.linspace(0.5, 2, 5)
    assert max(check_module(ln, x).values()) < TOL

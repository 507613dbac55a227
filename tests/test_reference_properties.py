"""Property tests: forward AND gradients of every layer and loss against independent references written here
(plain loops or einsum, and central differences of those references, never the library's backward), on odd shapes
that hypothesis draws: batch 1, one channel, non-square images, stride 3, a kernel as large as the input.

The examples are reproducible (tests/conftest.py); all in float64, gradients to a relative error < 1e-6.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import littlebook as lb

SETTINGS = settings(max_examples=12, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def numeric_grad(f, x, h=1e-6):
    """Central differences of the scalar f() with respect to the array x (nudged in place and restored)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def rel(a, b):
    """The library's relative error, except that a difference below 1e-9 counts as none (a gradient that is 0
    up to round-off has no scale to be relative to)."""
    diff = np.max(np.abs(a - b))
    return 0.0 if diff < 1e-9 else diff / max(1e-8, np.max(np.abs(a)) + np.max(np.abs(b)))


def check_layer(layer, x, reference, rng, input_grad=True):
    """layer(x) equals reference(x); backward equals central differences of the reference, for x and every
    parameter (the reference reads the parameters' arrays, which the differences nudge in place)."""
    y = layer(x)
    np.testing.assert_allclose(y, reference(x), rtol=1e-9, atol=1e-11)
    r = rng.standard_normal(y.shape)
    layer.zero_grad()
    layer(x)
    grad_x = layer.backward(r)
    loss = lambda: float(np.sum(reference(x) * r))  # noqa: E731
    if input_grad:
        assert rel(grad_x, numeric_grad(loss, x)) < 1e-6
    for name, p in layer.named_parameters():
        assert rel(p.grad, numeric_grad(loss, p.value)) < 1e-6, name


@SETTINGS
@given(n=st.integers(1, 3), d_in=st.integers(1, 5), d_out=st.integers(1, 4), seq=st.booleans(), seed=seeds)
def test_linear(n, d_in, d_out, seq, seed):
    rng = np.random.default_rng(seed)
    layer = lb.Linear(d_in, d_out, rng=rng, dtype=np.float64)
    layer.bias.value[...] = rng.standard_normal(d_out)
    x = rng.standard_normal((n, 2, d_in) if seq else (n, d_in))

    def reference(x):
        w, b = layer.weight.value, layer.bias.value
        out = np.zeros(x.shape[:-1] + (d_out,))
        for idx in np.ndindex(x.shape[:-1]):
            for o in range(d_out):
                out[idx + (o,)] = sum(w[o, j] * x[idx + (j,)] for j in range(d_in)) + b[o]
        return out

    check_layer(layer, x, reference, rng)


@SETTINGS
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 5)), seed=seeds)
def test_activations(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x[np.abs(x) < 1e-3] = 0.5  # away from ReLU's kink
    check_layer(lb.ReLU(), x, lambda x: np.where(x > 0, x, 0.0), rng)
    check_layer(lb.Sigmoid(), x, lambda x: 1 / (1 + np.exp(-x)), rng)
    check_layer(lb.Tanh(), x, lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x)), rng)
    check_layer(lb.Softmax(), x, lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True), rng)
    check_layer(lb.Softmax(dim=0), x, lambda x: np.exp(x) / np.exp(x).sum(axis=0, keepdims=True), rng)
    check_layer(lb.Flatten(), x[..., None], lambda x: x.reshape(len(x), -1), rng)


def conv_reference(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    c_out, _, k, _ = w.shape
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = np.zeros((n, c_out, ho, wo))
    for i_n in range(n):
        for o in range(c_out):
            for i in range(ho):
                for j in range(wo):
                    window = xp[i_n, :, i * stride:i * stride + k, j * stride:j * stride + k]
                    out[i_n, o, i, j] = np.sum(window * w[o]) + b[o]
    return out


@SETTINGS
@given(n=st.integers(1, 2), c_in=st.integers(1, 2), c_out=st.integers(1, 2), h=st.integers(1, 6),
       w=st.integers(1, 6), stride=st.integers(1, 3), pad=st.integers(0, 2), data=st.data(), seed=seeds)
def test_conv2d(n, c_in, c_out, h, w, stride, pad, data, seed):
    k = data.draw(st.integers(1, min(h, w) + 2 * pad), label="kernel")  # up to the whole padded input
    rng = np.random.default_rng(seed)
    layer = lb.Conv2d(c_in, c_out, k, stride=stride, padding=pad, rng=rng, dtype=np.float64)
    layer.bias.value[...] = rng.standard_normal(c_out)
    x = rng.standard_normal((n, c_in, h, w))
    check_layer(layer, x, lambda x: conv_reference(x, layer.weight.value, layer.bias.value, stride, pad), rng)


@SETTINGS
@given(n=st.integers(1, 2), c=st.integers(1, 2), h=st.integers(1, 6), w=st.integers(1, 6),
       stride=st.integers(1, 3), data=st.data(), seed=seeds)
def test_pooling(n, c, h, w, stride, data, seed):
    k = data.draw(st.integers(1, min(h, w)), label="kernel")
    rng = np.random.default_rng(seed)
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w) / 7.0  # distinct values: no ties at the maximum

    def pool(x, reduce):
        ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
        out = np.zeros((n, c, ho, wo))
        for idx in np.ndindex(n, c, ho, wo):
            i, j = idx[2] * stride, idx[3] * stride
            out[idx] = reduce(x[idx[0], idx[1], i:i + k, j:j + k])
        return out

    check_layer(lb.MaxPool2d(k, stride), x, lambda x: pool(x, np.max), rng)
    check_layer(lb.AvgPool2d(k, stride), x, lambda x: pool(x, np.mean), rng)
    check_layer(lb.GlobalAvgPool2d(), x, lambda x: x.sum(axis=(2, 3)) / (h * w), rng)


@SETTINGS
@given(n=st.integers(2, 4), c=st.integers(1, 3), hw=st.one_of(st.none(), st.tuples(st.integers(1, 3),
                                                                                     st.integers(1, 3))),
       seed=seeds)
def test_batch_norm_train_and_eval(n, c, hw, seed):
    rng = np.random.default_rng(seed)
    layer = lb.BatchNorm1d(c, dtype=np.float64) if hw is None else lb.BatchNorm2d(c, dtype=np.float64)
    layer.weight.value[...] = rng.standard_normal(c)
    layer.bias.value[...] = rng.standard_normal(c)
    x = rng.standard_normal((n, c) + (() if hw is None else hw))
    per_channel = (1, c) + (1,) * (x.ndim - 2)

    def train_reference(x):
        out = np.empty_like(x)
        for ch in range(c):
            values = x[:, ch]
            mean = values.sum() / values.size
            var = ((values - mean) ** 2).sum() / values.size
            out[:, ch] = layer.weight.value[ch] * (values - mean) / np.sqrt(var + layer.eps) + layer.bias.value[ch]
        return out

    saved = layer.running_mean.copy(), layer.running_var.copy()
    check_layer(layer, x, train_reference, rng)
    layer.running_mean[...], layer.running_var[...] = saved
    layer(x)  # one update of the running statistics, checked against the formula
    count = x.size // c
    expected_var = 0.9 * saved[1] + 0.1 * x.var(axis=(0,) + tuple(range(2, x.ndim))) * count / (count - 1)
    np.testing.assert_allclose(layer.running_var, expected_var, rtol=1e-12)
    layer.eval()
    rm, rv = layer.running_mean.copy(), layer.running_var.copy()
    check_layer(layer, x, lambda x: (layer.weight.value.reshape(per_channel) * (x - rm.reshape(per_channel))
                                     / np.sqrt(rv.reshape(per_channel) + layer.eps)
                                     + layer.bias.value.reshape(per_channel)), rng)


@SETTINGS
@given(n=st.integers(1, 3), groups=st.integers(1, 3), per_group=st.integers(1, 2), length=st.integers(1, 4),
       seed=seeds)
def test_layer_and_group_norm(n, groups, per_group, length, seed):
    rng = np.random.default_rng(seed)
    c = groups * per_group
    x = rng.standard_normal((n, c, length))
    gn = lb.GroupNorm(groups, c, dtype=np.float64)
    ln = lb.LayerNorm((c, length), dtype=np.float64)
    for layer in (gn, ln):
        layer.weight.value[...] = rng.standard_normal(layer.weight.shape)
        layer.bias.value[...] = rng.standard_normal(layer.bias.shape)

    def group_reference(x):
        out = np.empty_like(x)
        for i in range(n):
            for g in range(groups):
                block = x[i, g * per_group:(g + 1) * per_group]
                mean = block.mean()
                out[i, g * per_group:(g + 1) * per_group] = (block - mean) / np.sqrt(((block - mean) ** 2).mean()
                                                                                      + gn.eps)
        return out * gn.weight.value[None, :, None] + gn.bias.value[None, :, None]

    def layer_reference(x):
        out = np.empty_like(x)
        for i in range(n):
            mean = x[i].mean()
            out[i] = (x[i] - mean) / np.sqrt(((x[i] - mean) ** 2).mean() + ln.eps)
        return out * ln.weight.value + ln.bias.value

    check_layer(gn, x, group_reference, rng)
    check_layer(ln, x, layer_reference, rng)


@SETTINGS
@given(n=st.integers(1, 2), t=st.integers(1, 4), vocab=st.integers(1, 5), dim=st.integers(1, 3), seed=seeds)
def test_embeddings(n, t, vocab, dim, seed):
    rng = np.random.default_rng(seed)
    emb = lb.Embedding(vocab, dim, rng=rng, dtype=np.float64)
    ids = rng.integers(0, vocab, (n, t))
    y = emb(ids)
    np.testing.assert_array_equal(y, np.array([[emb.weight.value[i] for i in row] for row in ids]))
    r = rng.standard_normal(y.shape)
    emb.backward(r)
    expected = np.zeros((vocab, dim))
    for idx in np.ndindex(n, t):
        expected[ids[idx]] += r[idx]
    np.testing.assert_allclose(emb.weight.grad, expected, rtol=1e-12, atol=1e-15)
    pos = lb.PositionalEmbedding(t + 1, dim, rng=rng, dtype=np.float64)
    check_layer(pos, rng.standard_normal((n, t, dim)), lambda x: x + pos.weight.value[None, :t], rng)


@SETTINGS
@given(n=st.integers(1, 2), t=st.integers(1, 4), heads=st.integers(1, 2), head_dim=st.integers(1, 2),
       causal=st.booleans(), seed=seeds)
def test_multi_head_attention(n, t, heads, head_dim, causal, seed):
    rng = np.random.default_rng(seed)
    dim = heads * head_dim
    mha = lb.MultiHeadAttention(dim, heads, causal=causal, rng=rng, dtype=np.float64)
    for p in mha.parameters():
        p.value[...] = rng.standard_normal(p.shape) * 0.5

    def reference(x):
        proj = lambda lin, x: np.einsum("ntd,ed->nte", x, lin.weight.value) + (  # noqa: E731
            0 if lin.bias is None else lin.bias.value)
        q, k, v = proj(mha.q_proj, x), proj(mha.k_proj, x), proj(mha.v_proj, x)
        heads_out = np.zeros((n, t, dim))
        for h in range(heads):
            sl = slice(h * head_dim, (h + 1) * head_dim)
            scores = np.einsum("nid,njd->nij", q[..., sl], k[..., sl]) / np.sqrt(head_dim)
            if causal:
                scores = np.where(np.arange(t)[None, :, None] >= np.arange(t)[None, None, :], scores, -np.inf)
            a = np.exp(scores - scores.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            heads_out[..., sl] = np.einsum("nij,njd->nid", a, v[..., sl])
        return proj(mha.out_proj, heads_out)

    check_layer(mha, rng.standard_normal((n, t, dim)), reference, rng)


# -- losses ------------------------------------------------------------------------------------------------------

def check_loss(loss, pred, target, reference):
    value = loss(pred, target)
    assert abs(value - reference(pred)) <= 1e-10 * max(1.0, abs(value))
    grad = loss.backward()
    assert rel(grad, numeric_grad(lambda: reference(pred), pred)) < 1e-6


@SETTINGS
@given(n=st.integers(1, 4), c=st.integers(1, 4), reduction=st.sampled_from(["mean", "sum"]), seed=seeds)
def test_losses(n, c, reduction, seed):
    rng = np.random.default_rng(seed)
    reduce = np.mean if reduction == "mean" else np.sum
    pred, target = rng.standard_normal((n, c)), rng.standard_normal((n, c))
    check_loss(lb.MSELoss(reduction), pred, target, lambda p: reduce((p - target) ** 2))
    y = (rng.random((n, c)) > 0.5).astype(float)
    check_loss(lb.BCEWithLogitsLoss(reduction), pred, y,
               lambda z: reduce(-(y * np.log(1 / (1 + np.exp(-z))) + (1 - y) * np.log(1 - 1 / (1 + np.exp(-z))))))
    probs = rng.uniform(0.05, 0.95, (n, c))
    check_loss(lb.BCELoss(reduction), probs, y, lambda p: reduce(-(y * np.log(p) + (1 - y) * np.log(1 - p))))
    classes = rng.integers(0, c, n)

    def ce_classes(z):
        return reduce([np.log(np.sum(np.exp(z[i]))) - z[i, classes[i]] for i in range(n)])

    check_loss(lb.CrossEntropyLoss(reduction), pred, classes, ce_classes)
    soft = rng.random((n, c))  # rows that do not sum to 1: the gradient must still be the true one

    def ce_soft(z):
        return reduce([-np.sum(soft[i] * (z[i] - np.log(np.sum(np.exp(z[i]))))) for i in range(n)])

    check_loss(lb.CrossEntropyLoss(reduction), pred, soft, ce_soft)

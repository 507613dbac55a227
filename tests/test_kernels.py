"""Every fast kernel in littlebook.kernels equals its plain reference, in float64, on random shapes.

Hypothesis draws the shapes (the fixed-seed profile of tests/conftest.py, so CI sees the same examples).
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import littlebook as lb
from littlebook import kernels
from littlebook.functional import im2col, softmax, softmax_backward

TOL = dict(rtol=1e-10, atol=1e-12)


@st.composite
def conv_case(draw):
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    k, stride, pad = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(0, 2))
    h, w = draw(st.integers(k, 7)), draw(st.integers(k, 7))
    seed = draw(st.integers(0, 2**16))
    return n, c_in, c_out, k, stride, pad, h, w, np.random.default_rng(seed)


@given(conv_case())
def test_conv2d_kernels_equal_their_references(case):
    n, c_in, c_out, k, stride, pad, h, w, rng = case
    x = rng.standard_normal((n, c_in, h, w))
    w_mat, bias = rng.standard_normal((c_out, c_in * k * k)), rng.standard_normal(c_out)
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    cols = im2col(x, k, stride, (pad, pad))
    np.testing.assert_array_equal(kernels.conv2d_im2col(x, k, stride, (pad, pad)), cols)
    out_shape = (n, c_out, ho, wo)
    np.testing.assert_allclose(kernels.conv2d_forward(w_mat, cols, bias, out_shape),
                               kernels.conv2d_forward_reference(w_mat, cols, bias, out_shape), **TOL)
    grad_out = rng.standard_normal(out_shape)
    g = grad_out.transpose(1, 0, 2, 3).reshape(c_out, -1)
    np.testing.assert_allclose(kernels.conv2d_weight_grad(cols, g), kernels.conv2d_weight_grad_reference(cols, g),
                               **TOL)
    np.testing.assert_allclose(kernels.row_sums(g), kernels.row_sums_reference(g), **TOL)
    fast = kernels.conv2d_input_grad(w_mat, grad_out, x.shape, k, stride, (pad, pad))
    ref = kernels.conv2d_input_grad_reference(w_mat, grad_out, x.shape, k, stride, (pad, pad))
    assert fast.shape == x.shape
    np.testing.assert_allclose(fast, ref, **TOL)


@given(conv_case(), st.integers(0, 2), st.booleans())
def test_im2col_by_slabs_equals_the_window_view_reference(case, pad_after, channel_first):
    """Lopsided padding (padding="same", even kernels) and a channel-first input (what a conv layer outputs)."""
    n, c_in, _, k, stride, pad, h, w, rng = case
    x = rng.standard_normal((n, c_in, h, w))
    if channel_first:  # the same values with memory order (C, N, H, W)
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    np.testing.assert_array_equal(kernels.conv2d_im2col(x, k, stride, (pad, pad_after)),
                                  kernels.conv2d_im2col_reference(x, k, stride, (pad, pad_after)))


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.booleans(), st.integers(0, 2**16))
def test_maxpool_backward_equals_the_argmax_reference(n, c, k, ties, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, 2 * k + 1, 2 * k))
    if ties:  # few distinct values: many windows have several maxima, the first must get the gradient
        x = np.round(x)
    pool = lb.MaxPool2d(k, stride=max(1, k - 1))
    patches = pool._patches(x)
    y = patches.max(axis=0)
    grad_out = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(kernels.maxpool_backward(patches, y, grad_out),
                                  kernels.maxpool_backward_reference(patches, grad_out))


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 3), st.booleans(),
       st.integers(0, 2**16))
def test_pool_patches_in_memory_order_equal_the_references(n, c, k, stride, extra, channel_first, seed):
    """Odd sizes, overlapping (S < K), tiling (S = K) and gapped (S > K) windows; a channel-first input too."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, k + extra, k + 2 * extra))
    if channel_first:  # memory order (C, N, H, W), as a convolution outputs it
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    patches = kernels.pool_patches(x, k, stride)
    np.testing.assert_array_equal(patches, kernels.pool_patches_reference(x, k, stride))
    y = patches.max(axis=0)
    grad_out = rng.standard_normal(y.shape)
    grad_patches = kernels.maxpool_backward(patches, y, grad_out)
    np.testing.assert_array_equal(grad_patches, kernels.maxpool_backward_reference(patches, grad_out))
    grad_x = kernels.pool_add_patches(grad_patches, x.shape, k, stride)
    np.testing.assert_allclose(grad_x, kernels.pool_add_patches_reference(grad_patches, x.shape, k, stride), **TOL)
    assert grad_x.shape == x.shape


@given(st.integers(1, 5), st.integers(2, 6), st.booleans(), st.floats(0.1, 30.0), st.integers(0, 2**16))
def test_cross_entropy_fused_equals_log_softmax_reference(n, classes, soft, scale, seed):
    rng = np.random.default_rng(seed)
    z = scale * rng.standard_normal((n, classes))
    target = rng.random((n, classes)) if soft else rng.integers(0, classes, n)
    for fast, ref in zip(kernels.cross_entropy(z, target), kernels.cross_entropy_reference(z, target), strict=True):
        np.testing.assert_allclose(fast, ref, rtol=1e-10, atol=1e-10)


@given(st.integers(1, 6), st.integers(1, 20), st.integers(0, 2**16))
def test_adam_in_place_step_equals_the_formula(size, t, seed):
    rng = np.random.default_rng(seed)
    w, g = rng.standard_normal(size), rng.standard_normal(size)
    m, v = rng.standard_normal(size), rng.random(size)
    hyper = dict(t=t, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    ref_w, ref_m, ref_v = kernels.adam_step_reference(w, g, m, v, **hyper)
    w2, m2, v2 = w.copy(), m.copy(), v.copy()
    kernels.adam_step_(w2, g, m2, v2, np.empty_like(w), **hyper)
    for fast, ref in ((w2, ref_w), (m2, ref_m), (v2, ref_v)):
        np.testing.assert_allclose(fast, ref, **TOL)


@given(st.integers(1, 4), st.integers(1, 6), st.integers(0, 2**16))
def test_softmax_backward_is_the_jacobian_product(n, d, seed):
    rng = np.random.default_rng(seed)
    x, g = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    s = softmax(x)
    jacobians = np.einsum("ni,ij->nij", s, np.eye(d)) - np.einsum("ni,nj->nij", s, s)  # diag(s) − s sᵀ
    np.testing.assert_allclose(softmax_backward(s, g), np.einsum("nij,ni->nj", jacobians, g), **TOL)


@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from([(), (1,), (3,), (2, 5)]), st.integers(0, 2**16))
def test_batchnorm_kernels_equal_their_references(n, c, spatial, seed):
    rng = np.random.default_rng(seed)
    x = 3.0 + 2.0 * rng.standard_normal((n + 1, c) + spatial)  # at least 2 values per channel
    gamma, beta, g = rng.standard_normal(c), rng.standard_normal(c), rng.standard_normal(x.shape)
    _check_norm_kernels("batchnorm", x, gamma, beta, g)


def _check_norm_kernels(name: str, x, gamma, beta, g):
    """kernels.<name>_forward/_backward equal their references (same shapes; the backward from what the reference
    forward caches: x̂, or x − μ for batch norm, and 1/σ)."""
    forward, backward = getattr(kernels, f"{name}_forward"), getattr(kernels, f"{name}_backward")
    ref = getattr(kernels, f"{name}_forward_reference")(x, gamma, beta, 1e-5)
    for a, b in zip(forward(x, gamma, beta, 1e-5), ref, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, **TOL)
    cached, inv_std = ref[1], ref[2]
    fast = backward(g, cached, inv_std, gamma)
    for a, b in zip(fast, getattr(kernels, f"{name}_backward_reference")(g, cached, inv_std, gamma), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 6), st.integers(0, 3), st.integers(1, 4), st.booleans(),
       st.integers(0, 2**16))
def test_attention_kernels_equal_their_references(n, h, tq, extra_keys, d, causal, seed):
    """Causal with more keys than queries too (the queries are the last Tq positions); masked weights exactly 0."""
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((n, h, tq, d)), rng.standard_normal((n, h, tq + extra_keys, d))
    fast = kernels.attention_weights(q, k, causal)
    np.testing.assert_allclose(fast, kernels.attention_weights_reference(q, k, causal), **TOL)
    if causal:
        assert np.all(fast[..., np.triu(np.ones((tq, tq + extra_keys), dtype=bool), k=1 + extra_keys)] == 0)
    grad_a = rng.standard_normal(fast.shape)
    np.testing.assert_allclose(kernels.softmax_rows_backward(fast, grad_a),
                               kernels.softmax_rows_backward_reference(fast, grad_a), **TOL)


@given(st.integers(1, 6), st.integers(1, 9), st.integers(0, 2**16))
def test_layernorm_kernels_equal_their_references(m, d, seed):
    rng = np.random.default_rng(seed)
    x = 3.0 + 2.0 * rng.standard_normal((m, d))
    gamma, beta, g = rng.standard_normal(d), rng.standard_normal(d), rng.standard_normal((m, d))
    _check_norm_kernels("layernorm", x, gamma, beta, g)


@given(st.integers(1, 200), st.sampled_from([1, 3, 8, 62, 63, 64, 100]), st.integers(1, 5), st.integers(0, 2**16))
def test_embedding_grad_equals_the_add_at_reference(m, vocab, d, seed):
    """Both paths (one-hot product up to 64 embeddings, bincount above): repeated ids must collect every
    gradient; ids never drawn get a zero row."""
    rng = np.random.default_rng(seed)
    ids, g = rng.integers(0, vocab, size=m), rng.standard_normal((m, d))
    fast = kernels.embedding_grad(ids, g, vocab + 2)
    assert fast.shape == (vocab + 2, d) and fast.dtype == g.dtype
    np.testing.assert_allclose(fast, kernels.embedding_grad_reference(ids, g, vocab + 2), **TOL)
    assert not fast[vocab:].any()

"""Conv2d and pooling: against a plain-loop reference, float64 gradient checks, shapes, worked examples, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import littlebook as lb
from littlebook.functional import col2im, im2col

GRAD_TOL = 1e-6


# -- an independent reference: one loop over output positions, the definition written out ---------------------


def ref_padding(padding, k):
    if padding == "valid":
        return 0, 0
    if padding == "same":  # total K − 1, the odd one after (bottom/right), as PyTorch does
        return (k - 1) // 2, k // 2
    return padding, padding


def ref_conv_forward(x, w, b, stride, lo, hi):
    """y[n, o, i, j] = b[o] + Σ_{c,u,v} w[o, c, u, v] x_pad[n, c, i·S + u, j·S + v]."""
    n, _, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.zeros((n, x.shape[1], h + lo + hi, wd + lo + hi))
    xp[:, :, lo:lo + h, lo:lo + wd] = x
    ho, wo = (h + lo + hi - k) // stride + 1, (wd + lo + hi - k) // stride + 1
    y = np.zeros((n, o, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            y[:, :, i, j] = np.einsum("ncuv,ocuv->no", patch, w) + b
    return y


def ref_conv_backward(x, w, stride, lo, hi, g):
    """The same loop, each output's gradient sent back to its patch and its filter (the chain rule, literally)."""
    n, c, h, wd = x.shape
    k = w.shape[2]
    xp = np.zeros((n, c, h + lo + hi, wd + lo + hi))
    xp[:, :, lo:lo + h, lo:lo + wd] = x
    gxp, gw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            rows, cols = slice(i * stride, i * stride + k), slice(j * stride, j * stride + k)
            gw += np.einsum("no,ncuv->ocuv", g[:, :, i, j], xp[:, :, rows, cols])
            gxp[:, :, rows, cols] += np.einsum("no,ocuv->ncuv", g[:, :, i, j], w)
    return gxp[:, :, lo:lo + h, lo:lo + wd], gw, g.sum(axis=(0, 2, 3))


CONFIGS = [  # (stride, padding, kernel): strides 1 and 2, paddings 0 / 1 / "same" / "valid", odd and even kernels
    (1, 0, 3), (1, 1, 3), (1, "same", 3), (1, "same", 2), (1, "valid", 3), (2, 0, 3), (2, 1, 3), (2, 1, 2),
    (1, 2, 1), (3, 2, 3), (2, 0, 1),
]


@pytest.mark.parametrize("stride,padding,k", CONFIGS)
def test_conv_matches_loop_reference_forward_and_all_gradients(stride, padding, k):
    rng = np.random.default_rng(0)
    conv = lb.Conv2d(3, 4, k, stride=stride, padding=padding, rng=rng, dtype=np.float64)
    conv.bias.value[...] = rng.standard_normal(4)
    x = rng.standard_normal((2, 3, 7, 9))  # non-square
    lo, hi = ref_padding(padding, k)
    y = conv(x)
    y_ref = ref_conv_forward(x, conv.weight.value, conv.bias.value, stride, lo, hi)
    assert y.shape == y_ref.shape == conv.output_shape(x.shape)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-6)

    g = rng.standard_normal(y.shape)
    conv.zero_grad()
    gx = conv.backward(g)
    gx_ref, gw_ref, gb_ref = ref_conv_backward(x, conv.weight.value, stride, lo, hi, g)
    np.testing.assert_allclose(gx, gx_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(conv.weight.grad, gw_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(conv.bias.grad, gb_ref, rtol=0, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_conv_same_padding_matches_torch_for_even_and_odd_kernels():
    # Optional cross-check: torch is a benchmark extra, never a dependency (CI installs it, so this runs there).
    torch = pytest.importorskip("torch", reason="PyTorch cross-check skipped: torch is not installed")
    rng = np.random.default_rng(1)
    for k in (2, 3, 4):
        conv = lb.Conv2d(2, 3, k, padding="same", rng=rng, dtype=np.float64)
        x = rng.standard_normal((2, 2, 6, 5))
        expected = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(conv.weight.value),
                                              torch.tensor(conv.bias.value), padding="same").numpy()
        np.testing.assert_allclose(conv(x), expected, atol=1e-12)


@pytest.mark.parametrize("stride,padding,k", CONFIGS)
@pytest.mark.parametrize("n,c_in,c_out,h,w", [(1, 1, 2, 5, 6), (2, 3, 2, 6, 5)])
def test_conv_gradcheck(stride, padding, k, n, c_in, c_out, h, w):
    rng = np.random.default_rng(2)
    conv = lb.Conv2d(c_in, c_out, k, stride=stride, padding=padding, rng=rng, dtype=np.float64)
    conv.bias.value[...] = rng.standard_normal(c_out)
    errors = lb.check_module(conv, rng.standard_normal((n, c_in, h, w)))
    assert set(errors) == {"input", "weight", "bias"}
    assert max(errors.values()) < GRAD_TOL, errors


def test_conv_without_bias_has_only_a_weight():
    conv = lb.Conv2d(2, 3, 3, bias=False, dtype=np.float64)
    assert [name for name, _ in conv.named_parameters()] == ["weight"]
    errors = lb.check_module(conv, np.random.default_rng(3).standard_normal((2, 2, 5, 5)))
    assert max(errors.values()) < GRAD_TOL


def test_conv_he_init_and_dtype():
    conv = lb.Conv2d(16, 32, 3, rng=0)
    assert conv.weight.shape == (32, 16, 3, 3) and conv.bias.shape == (32,)
    assert conv.weight.value.dtype == np.float32
    np.testing.assert_allclose(conv.weight.value.std(), np.sqrt(2 / (16 * 9)), rtol=0.05)  # 4608 draws: ±~2 %
    assert not conv.bias.value.any()
    np.testing.assert_array_equal(lb.Conv2d(16, 32, 3, rng=0).weight.value, conv.weight.value)  # seeded
    x = np.random.default_rng(0).standard_normal((2, 16, 6, 6)).astype(np.float32)
    y = conv(x)
    assert y.dtype == np.float32  # float32 end to end: no silent upcast
    assert conv.backward(np.ones_like(y)).dtype == np.float32


def test_conv_skips_input_gradient_when_not_needed():
    rng = np.random.default_rng(4)
    conv = lb.Conv2d(2, 3, 3, padding=1, dtype=np.float64, rng=rng)
    x, g = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 3, 5, 5))
    conv(x)
    conv.backward(g)
    w_grad = conv.weight.grad.copy()
    conv.zero_grad()
    conv(x)
    assert conv.backward(g, input_grad=False) is None
    np.testing.assert_array_equal(conv.weight.grad, w_grad)


# -- output size ---------------------------------------------------------------------------------------------


def test_conv_output_size_formula_examples():
    assert lb.conv_output_size(28, 3, 1, 1) == 28
    assert lb.conv_output_size(28, 3, 1, "same") == 28
    assert lb.conv_output_size(28, 3, 1, "valid") == 26
    assert lb.conv_output_size(28, 5, 2, 0) == 12  # ⌊(28 − 5)/2⌋ + 1
    assert lb.conv_output_size(7, 3, 2, 1) == 4  # ⌊(7 + 2 − 3)/2⌋ + 1
    assert lb.conv_output_size(4, 2, 2) == 2


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), c_in=st.integers(1, 3), c_out=st.integers(1, 3), h=st.integers(1, 9),
       w=st.integers(1, 9), k=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"])))
def test_conv_output_shape_property(n, c_in, c_out, h, w, k, stride, padding):
    if padding == "same" and stride != 1:
        with pytest.raises(ValueError, match="stride"):
            lb.Conv2d(c_in, c_out, k, stride=stride, padding=padding)
        return
    conv = lb.Conv2d(c_in, c_out, k, stride=stride, padding=padding, dtype=np.float64)
    p = {"same": None, "valid": 0}.get(padding, padding)
    x = np.random.default_rng(0).standard_normal((n, c_in, h, w))
    if p is not None and (h + 2 * p < k or w + 2 * p < k):
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv(x)
        return
    expected = (n, c_out, h, w) if p is None else (n, c_out, (h + 2 * p - k) // stride + 1,
                                                   (w + 2 * p - k) // stride + 1)
    assert conv.output_shape(x.shape) == expected
    assert conv(x).shape == expected
    assert (lb.conv_output_size(h, k, stride, padding), lb.conv_output_size(w, k, stride, padding)) == expected[2:]


@settings(max_examples=15, deadline=None)
@given(c_in=st.integers(1, 3), c_out=st.integers(1, 3), h=st.integers(3, 6), w=st.integers(3, 6),
       k=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1), seed=st.integers(0, 2**16))
def test_conv_gradcheck_property(c_in, c_out, h, w, k, stride, padding, seed):
    rng = np.random.default_rng(seed)
    conv = lb.Conv2d(c_in, c_out, k, stride=stride, padding=padding, rng=rng, dtype=np.float64)
    errors = lb.check_module(conv, rng.standard_normal((2, c_in, h, w)))
    assert max(errors.values()) < GRAD_TOL, errors


# -- im2col / col2im -----------------------------------------------------------------------------------------


def test_im2col_columns_are_the_flattened_patches():
    x = np.arange(2 * 2 * 4 * 5, dtype=np.float64).reshape(2, 2, 4, 5)
    cols = im2col(x, 3, stride=1, padding=0)  # patches (n, i, j) → column n·Ho·Wo + i·Wo + j
    assert cols.shape == (2 * 3 * 3, 2 * 2 * 3)
    np.testing.assert_array_equal(cols[:, 1 * 6 + 1 * 3 + 2], x[1, :, 1:4, 2:5].reshape(-1))


def test_col2im_is_the_adjoint_of_im2col():
    # <im2col(x), C> = <x, col2im(C)> for all x, C: col2im is exactly the transpose of the linear map im2col.
    rng = np.random.default_rng(5)
    for stride, pad in [(1, 0), (1, 1), (2, 1), (3, 0)]:
        x = rng.standard_normal((2, 3, 7, 6))
        cols = im2col(x, 3, stride, pad)
        c = rng.standard_normal(cols.shape)
        np.testing.assert_allclose(np.sum(cols * c), np.sum(x * col2im(c, x.shape, 3, stride, pad)), rtol=1e-12)


# -- pooling -------------------------------------------------------------------------------------------------

NOTES_MATRIX = np.array([[1, 3, 2, 4], [5, 6, 7, 8], [9, 1, 2, 0], [3, 4, 5, 6]], dtype=np.float64)[None, None]


def test_maxpool_worked_example_from_the_notes():
    y = lb.MaxPool2d(2, 2)(NOTES_MATRIX)
    np.testing.assert_array_equal(y[0, 0], [[6, 8], [9, 6]])


def test_avgpool_worked_example_exact_means():
    y = lb.AvgPool2d(2)(NOTES_MATRIX)
    expected = [[(1 + 3 + 5 + 6) / 4, (2 + 4 + 7 + 8) / 4], [(9 + 1 + 3 + 4) / 4, (2 + 0 + 5 + 6) / 4]]
    np.testing.assert_array_equal(y[0, 0], expected)  # 3.75, 5.25, 4.25, 3.25 are exact in binary


def test_maxpool_gradient_goes_to_the_argmax():
    pool = lb.MaxPool2d(2)
    pool(NOTES_MATRIX)
    grad = pool.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    expected = np.zeros((4, 4))
    expected[1, 1], expected[1, 3], expected[2, 0], expected[3, 3] = 10, 20, 30, 40  # where 6, 8, 9, 6 are
    np.testing.assert_array_equal(grad[0, 0], expected)


def test_maxpool_tie_rule_first_maximum_in_row_major_order():
    x = np.array([[5.0, 5.0, 0.0, 1.0],
                  [5.0, 2.0, 1.0, 1.0]])[None, None]  # window 1: three tied 5s; window 2: three tied 1s
    pool = lb.MaxPool2d(2)
    np.testing.assert_array_equal(pool(x)[0, 0], [[5.0, 1.0]])
    grad = pool.backward(np.array([[[[1.0, 2.0]]]]))
    np.testing.assert_array_equal(grad[0, 0], [[1.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    assert grad.sum() == 3.0  # a tie never duplicates the gradient


def ref_pool(x, k, s, reduce):
    ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    y = np.zeros(x.shape[:2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            y[:, :, i, j] = reduce(x[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return y


@pytest.mark.parametrize("k,s", [(2, None), (2, 1), (3, 2), (3, 3), (2, 3)])
def test_pools_match_loop_reference_and_gradcheck(k, s):
    rng = np.random.default_rng(6)
    x = rng.permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8) / 10.0  # distinct values: no ties, no kinks
    for layer, reduce in [(lb.MaxPool2d(k, s), np.max), (lb.AvgPool2d(k, s), np.mean)]:
        np.testing.assert_allclose(layer(x), ref_pool(x, k, k if s is None else s, reduce), atol=1e-12)
        assert lb.check_module(layer, x)["input"] < GRAD_TOL


def test_pool_batch_one_and_default_stride():
    pool = lb.MaxPool2d(3)
    assert pool.stride == 3
    x = np.random.default_rng(7).permutation(49).reshape(1, 1, 7, 7).astype(np.float64)
    assert pool(x).shape == (1, 1, 2, 2)  # floor: the last row/column that does not fill a window is dropped
    assert lb.check_module(pool, x)["input"] < GRAD_TOL


def test_global_avg_pool():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 4, 5))
    pool = lb.GlobalAvgPool2d()
    y = pool(x)
    assert y.shape == (2, 3)
    np.testing.assert_allclose(y[1, 2], x[1, 2].sum() / 20)
    assert lb.check_module(pool, x)["input"] < GRAD_TOL


# -- bad input -----------------------------------------------------------------------------------------------


def test_conv_channel_mismatch_names_layer_and_shapes():
    conv = lb.Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"Conv2d.*\(N, 3, H, W\).*\(2, 1, 8, 8\)"):
        conv(np.zeros((2, 1, 8, 8), dtype=np.float32))


def test_conv_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"Conv2d.*5×5.*larger than the padded input 4×6.*\(1, 1, 2, 4\)"):
        lb.Conv2d(1, 1, 5, padding=1)(np.zeros((1, 1, 2, 4)))
    with pytest.raises(ValueError, match="larger"):
        lb.conv_output_size(2, 5)


@pytest.mark.parametrize("layer", [lb.Conv2d(1, 2, 3), lb.MaxPool2d(2), lb.AvgPool2d(2), lb.GlobalAvgPool2d()])
def test_non_4d_input_is_rejected(layer):
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}.*expected input of shape \(N, .*got \(8, 8\)"):
        layer(np.zeros((8, 8)))
    with pytest.raises(ValueError, match=rf"{name}.*got \(2, 1, 1, 8, 8\)"):
        layer(np.zeros((2, 1, 1, 8, 8)))


def test_pool_window_larger_than_input():
    with pytest.raises(ValueError, match=r"MaxPool2d.*3×3 is larger than the input 2×5"):
        lb.MaxPool2d(3)(np.zeros((1, 1, 2, 5)))


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="same.*stride=1"):
        lb.Conv2d(1, 1, 3, stride=2, padding="same")
    for bad in ("full", -1, 1.5):
        with pytest.raises(ValueError, match="padding"):
            lb.Conv2d(1, 1, 3, padding=bad)
    with pytest.raises(ValueError, match="kernel_size"):
        lb.Conv2d(1, 1, 0)
    with pytest.raises(ValueError, match="stride"):
        lb.MaxPool2d(2, stride=0)


def test_backward_before_forward():
    with pytest.raises(RuntimeError, match="forward before backward"):
        lb.Conv2d(1, 1, 3).backward(np.zeros((1, 1, 1, 1)))

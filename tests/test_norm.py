"""Normalisation layers: statistics on the right axes (vs independent numpy), train/eval, running stats, gradients."""

import numpy as np
import pytest

import littlebook as lb

GRAD_TOL = 1e-6


def randomize_affine(layer, rng):
    layer.weight.value[...] = rng.uniform(0.5, 2.0, layer.weight.shape)
    layer.bias.value[...] = rng.standard_normal(layer.bias.shape)


# -- batch norm ----------------------------------------------------------------------------------------------


def test_batchnorm1d_train_gives_mean_0_var_1_per_feature_before_affine():
    rng = np.random.default_rng(0)
    x = 3.0 * rng.standard_normal((32, 5)) + np.arange(5) * 10  # features with different means and scales
    bn = lb.BatchNorm1d(5, eps=1e-10, dtype=np.float64)
    randomize_affine(bn, rng)
    xhat = (bn(x) - bn.bias.value) / bn.weight.value  # undo γ, β
    np.testing.assert_allclose(xhat.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(xhat.var(axis=0), 1, atol=1e-6)


def test_batchnorm_eps_enters_as_the_notes_formula():
    # x̂ = (x − μ)/√(σ² + ε): with a large ε the variance of x̂ is σ²/(σ² + ε), not 1.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 3))
    y = lb.BatchNorm1d(3, eps=0.5, dtype=np.float64)(x)
    mu, var = x.mean(axis=0), x.var(axis=0)
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 0.5), atol=1e-12)


def test_batchnorm2d_normalises_each_channel_over_batch_and_space():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 5, 6)) * np.array([1.0, 5.0, 0.1])[:, None, None] + 7.0
    bn = lb.BatchNorm2d(3, dtype=np.float64)
    y = bn(x)
    for c in range(3):  # independent computation, one channel at a time
        values = x[:, c].ravel()
        np.testing.assert_allclose(y[:, c], (x[:, c] - values.mean()) / np.sqrt(values.var() + 1e-5), atol=1e-12)


def test_batchnorm_running_statistics_and_eval_mode_by_hand():
    rng = np.random.default_rng(3)
    bn = lb.BatchNorm2d(2, momentum=0.1, dtype=np.float64)
    randomize_affine(bn, rng)
    run_mean, run_var = np.zeros(2), np.ones(2)
    for step in range(4):
        x = rng.standard_normal((3, 2, 4, 4)) * (step + 1) + step
        bn(x)
        per_channel = x.transpose(1, 0, 2, 3).reshape(2, -1)
        run_mean = 0.9 * run_mean + 0.1 * per_channel.mean(axis=1)
        run_var = 0.9 * run_var + 0.1 * per_channel.var(axis=1, ddof=1)  # unbiased, as PyTorch stores
    np.testing.assert_allclose(bn.running_mean, run_mean, atol=1e-12)
    np.testing.assert_allclose(bn.running_var, run_var, atol=1e-12)

    bn.eval()
    frozen = bn.running_mean.copy(), bn.running_var.copy()
    x = rng.standard_normal((2, 2, 3, 3))
    gamma, beta = bn.weight.value[None, :, None, None], bn.bias.value[None, :, None, None]
    expected = gamma * (x - run_mean[None, :, None, None]) / np.sqrt(run_var[None, :, None, None] + 1e-5) + beta
    np.testing.assert_allclose(bn(x), expected, atol=1e-12)
    np.testing.assert_allclose(bn(x[:1]), expected[:1], atol=1e-12)  # eval: a sample's output ignores the batch
    np.testing.assert_array_equal(bn.running_mean, frozen[0])  # eval never updates the running statistics
    np.testing.assert_array_equal(bn.running_var, frozen[1])


def test_batchnorm_running_stats_are_saved_in_state_dict(tmp_path):
    rng = np.random.default_rng(4)
    bn = lb.BatchNorm1d(3)
    bn(rng.standard_normal((8, 3)).astype(np.float32))
    state = bn.state_dict()
    assert set(state) == {"weight", "bias", "running_mean", "running_var"}
    fresh = lb.BatchNorm1d(3)
    bn.save(tmp_path / "bn.npz")
    fresh.load(tmp_path / "bn.npz")
    np.testing.assert_array_equal(fresh.running_mean, bn.running_mean)
    np.testing.assert_array_equal(fresh.running_var, bn.running_var)
    model = lb.Sequential(lb.Linear(2, 3), lb.BatchNorm1d(3))
    assert {"1.running_mean", "1.running_var"} <= set(model.state_dict())


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("layer,shape", [
    (lambda: lb.BatchNorm1d(4, dtype=np.float64), (6, 4)),
    (lambda: lb.BatchNorm1d(1, dtype=np.float64), (3, 1)),
    (lambda: lb.BatchNorm2d(3, dtype=np.float64), (2, 3, 4, 5)),
    (lambda: lb.BatchNorm2d(2, dtype=np.float64), (1, 2, 3, 3)),  # batch of one image: statistics over H, W
])
def test_batchnorm_gradcheck(layer, shape, training):
    rng = np.random.default_rng(5)
    bn = layer()
    randomize_affine(bn, rng)
    if not training:
        bn.running_mean[...] = rng.standard_normal(bn.num_features)
        bn.running_var[...] = rng.uniform(0.5, 2, bn.num_features)
    bn.train(training)
    errors = lb.check_module(bn, rng.standard_normal(shape))
    assert set(errors) == {"input", "weight", "bias"}
    assert max(errors.values()) < GRAD_TOL, errors


def test_batchnorm_backward_uses_the_full_formula():
    # The gradient through the batch statistics makes Σ_n ∂L/∂x_n = 0 and Σ_n ∂L/∂x_n x̂_n = 0 per feature:
    # the shortcut γ g/σ (treating μ, σ as constants) does not. (The second identity is exact for ε = 0.)
    rng = np.random.default_rng(6)
    bn = lb.BatchNorm1d(3, eps=1e-14, dtype=np.float64)
    x = rng.standard_normal((10, 3))
    xhat = (x - x.mean(0)) / x.std(0)
    bn(x)
    g = rng.standard_normal((10, 3))
    gx = bn.backward(g)
    np.testing.assert_allclose(gx.sum(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose((gx * xhat).sum(axis=0), 0, atol=1e-9)
    shortcut = g / x.std(0)
    assert np.abs(shortcut.sum(axis=0)).max() > 0.1


def test_batchnorm_float32_stays_float32():
    bn = lb.BatchNorm2d(2)
    x = np.random.default_rng(7).standard_normal((4, 2, 3, 3)).astype(np.float32)
    assert bn(x).dtype == np.float32 and bn.backward(np.ones_like(x)).dtype == np.float32
    assert bn.running_mean.dtype == np.float32


# -- layer / group / instance norm ---------------------------------------------------------------------------


def test_layernorm_normalises_each_sample_dense_and_sequence():
    rng = np.random.default_rng(8)
    ln = lb.LayerNorm(6, dtype=np.float64)
    randomize_affine(ln, rng)
    for x in (rng.standard_normal((4, 6)) * 3 + 1, rng.standard_normal((2, 5, 6)) * 3 + 1):
        y = ln(x)
        flat_x, flat_y = x.reshape(-1, 6), y.reshape(-1, 6)
        for row_x, row_y in zip(flat_x, flat_y, strict=True):  # every sample (and every token) on its own
            expected = (row_x - row_x.mean()) / np.sqrt(row_x.var() + 1e-5) * ln.weight.value + ln.bias.value
            np.testing.assert_allclose(row_y, expected, atol=1e-12)


def test_layernorm_over_several_trailing_dims():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 2, 4, 5))
    y = lb.LayerNorm((4, 5), dtype=np.float64)(x)
    for n in range(3):
        for c in range(2):
            block = x[n, c]
            np.testing.assert_allclose(y[n, c], (block - block.mean()) / np.sqrt(block.var() + 1e-5), atol=1e-12)


def test_groupnorm_normalises_groups_of_channels_per_sample():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 6, 3, 4)) * np.arange(1, 7)[:, None, None]
    gn = lb.GroupNorm(3, 6, dtype=np.float64)
    y = gn(x)
    for n in range(2):
        for g in range(3):
            block = x[n, 2 * g:2 * g + 2]  # channels 2g and 2g + 1 form group g
            np.testing.assert_allclose(y[n, 2 * g:2 * g + 2], (block - block.mean()) / np.sqrt(block.var() + 1e-5),
                                       atol=1e-12)


def test_instancenorm_is_per_sample_per_channel_and_equals_groupnorm_with_g_equal_c():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 4, 4)) + 5
    y = lb.InstanceNorm2d(3, dtype=np.float64)(x)
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 1e-5), atol=1e-12)
    np.testing.assert_allclose(y, lb.GroupNorm(3, 3, dtype=np.float64)(x), atol=1e-15)
    # G = 1 is layer norm over (C, H, W)
    np.testing.assert_allclose(lb.GroupNorm(1, 3, dtype=np.float64)(x), lb.LayerNorm((3, 4, 4), dtype=np.float64)(x),
                               atol=1e-12)


def test_norms_without_batch_statistics_ignore_train_eval_and_the_batch():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 4, 3, 3))
    for layer in (lb.LayerNorm((4, 3, 3), dtype=np.float64), lb.GroupNorm(2, 4, dtype=np.float64),
                  lb.InstanceNorm2d(4, dtype=np.float64)):
        y = layer(x)
        np.testing.assert_allclose(layer(x[1:2]), y[1:2], atol=1e-12)
        layer.eval()
        np.testing.assert_allclose(layer(x), y, atol=1e-12)


@pytest.mark.parametrize("layer,shape", [
    (lambda: lb.LayerNorm(5, dtype=np.float64), (3, 5)),
    (lambda: lb.LayerNorm(4, dtype=np.float64), (2, 3, 4)),
    (lambda: lb.LayerNorm((2, 3), dtype=np.float64), (2, 2, 3)),
    (lambda: lb.GroupNorm(2, 4, dtype=np.float64), (2, 4, 3, 2)),
    (lambda: lb.GroupNorm(1, 3, dtype=np.float64), (1, 3, 2, 2)),
    (lambda: lb.GroupNorm(2, 4, dtype=np.float64), (3, 4)),
    (lambda: lb.InstanceNorm2d(3, dtype=np.float64), (2, 3, 3, 4)),
])
def test_layer_group_instance_norm_gradcheck(layer, shape):
    rng = np.random.default_rng(13)
    norm = layer()
    randomize_affine(norm, rng)
    errors = lb.check_module(norm, rng.standard_normal(shape))
    assert max(errors.values()) < GRAD_TOL, errors


def test_norms_match_torch():
    # Optional cross-check: torch is a benchmark extra, never a dependency (CI installs it, so this runs there).
    torch = pytest.importorskip("torch", reason="PyTorch cross-check skipped: torch is not installed")
    F = torch.nn.functional
    rng = np.random.default_rng(14)
    x = rng.standard_normal((3, 4, 5, 5))
    t = torch.tensor(x)
    np.testing.assert_allclose(lb.GroupNorm(2, 4, dtype=np.float64)(x), F.group_norm(t, 2).numpy(), atol=1e-12)
    np.testing.assert_allclose(lb.LayerNorm(5, dtype=np.float64)(x), F.layer_norm(t, (5,)).numpy(), atol=1e-12)
    np.testing.assert_allclose(lb.InstanceNorm2d(4, dtype=np.float64)(x), F.instance_norm(t).numpy(), atol=1e-12)
    bn, tbn = lb.BatchNorm2d(4, dtype=np.float64), torch.nn.BatchNorm2d(4).double()
    for _ in range(2):
        np.testing.assert_allclose(bn(x), tbn(t).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), atol=1e-12)


# -- bad input -----------------------------------------------------------------------------------------------


def test_norm_bad_input_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"BatchNorm1d.*\(N, 4\).*\(2, 3\)"):
        lb.BatchNorm1d(4)(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"BatchNorm2d.*\(N, 3, H, W\).*\(2, 3\)"):
        lb.BatchNorm2d(3)(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"LayerNorm.*\(N, \.\.\., 8\).*\(2, 7\)"):
        lb.LayerNorm(8)(np.zeros((2, 7)))
    with pytest.raises(ValueError, match=r"LayerNorm.*\(8,\)"):
        lb.LayerNorm(8)(np.zeros(8))  # no batch axis
    with pytest.raises(ValueError, match=r"GroupNorm.*\(N, 6, \.\.\.\).*\(2, 4, 3, 3\)"):
        lb.GroupNorm(2, 6)(np.zeros((2, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"InstanceNorm2d.*\(N, 3, H, W\).*\(2, 3\)"):
        lb.InstanceNorm2d(3)(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="divisible"):
        lb.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="more than one value per feature"):
        lb.BatchNorm1d(3)(np.zeros((1, 3)))


def test_float16_input_is_refused_before_any_state_changes():
    """float16 passed the dtype policy and gave NaN: its sum over 70·32·32 values overflows (largest value 65,504)."""
    x = (2.0 + np.random.default_rng(0).standard_normal((70, 3, 32, 32))).astype(np.float16)
    bn = lb.BatchNorm2d(3)
    with pytest.raises(TypeError, match=r"BatchNorm2d.*input has dtype float16.*astype\(np.float32\)"):
        bn(x)
    assert (bn.running_mean == 0).all() and (bn.running_var == 1).all()  # was [nan nan nan]
    with pytest.raises(TypeError, match=r"LayerNorm.*float16"):
        lb.LayerNorm(512)((300.0 + np.zeros((4, 512))).astype(np.float16))
    for make in (lambda: lb.BatchNorm1d(3, dtype=np.float16), lambda: lb.LayerNorm(3, dtype=np.float16),
                 lambda: lb.GroupNorm(1, 3, dtype=np.float16)):
        with pytest.raises(TypeError, match="dtype float16"):
            make()
    # float32, the book's dtype, on the same values: finite, mean 0 and variance 1 per channel
    y = lb.BatchNorm2d(3)(x.astype(np.float32))
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-3)


@pytest.mark.parametrize("layer, shape", [
    (lb.GroupNorm(1, 2), (0, 2, 3)), (lb.GroupNorm(2, 4), (0, 4, 2, 2)), (lb.InstanceNorm2d(3), (0, 3, 2, 2)),
    (lb.LayerNorm(3), (0, 3)), (lb.BatchNorm2d(2).eval(), (0, 2, 3, 3)),
])
def test_an_empty_batch_gives_an_empty_output_and_zero_gradients(layer, shape):
    """GroupNorm failed in numpy's reshape ("cannot reshape array of size 0 into shape (0,1,newaxis)")."""
    y = layer(np.zeros(shape, np.float32))
    assert y.shape == shape
    assert layer.backward(np.zeros(shape, np.float32)).shape == shape
    assert not layer.weight.grad.any() and not layer.bias.grad.any()


def test_group_norm_over_zero_values_per_channel_is_a_clear_error():
    with pytest.raises(ValueError, match=r"GroupNorm.*0 values per channel.*\(2, 2, 0\)"):
        lb.GroupNorm(1, 2)(np.zeros((2, 2, 0)))

"""PyTorch's names and argument names where the concept is the same; the old littlebook names are gone (a clear
TypeError, not a silent alias), because no chapter uses them any more."""

import inspect
import math

import numpy as np
import pytest

import littlebook as lb


def test_softmax_takes_dim_as_in_pytorch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(lb.Softmax(dim=0)(x).sum(axis=0), np.ones(4))
    with pytest.raises(TypeError, match="axis"):
        lb.Softmax(axis=0)


def test_embedding_takes_embedding_dim_as_in_pytorch():
    emb = lb.Embedding(5, embedding_dim=3, rng=0)
    assert emb.embedding_dim == 3 and emb.weight.value.shape == (5, 3) and not hasattr(emb, "dim")
    with pytest.raises(TypeError, match="dim"):
        lb.Embedding(5, dim=3)


def test_multi_head_attention_takes_embed_dim_and_num_heads_as_in_pytorch():
    mha = lb.MultiHeadAttention(embed_dim=8, num_heads=2, rng=0)
    assert (mha.embed_dim, mha.num_heads, mha.head_dim) == (8, 2, 4) and not hasattr(mha, "dim")
    with pytest.raises(TypeError, match="dim"):
        lb.MultiHeadAttention(dim=8, num_heads=2)


def test_cosine_annealing_lr_follows_pytorchs_formula_and_the_old_name_is_gone():
    opt = lb.SGD([lb.Parameter(np.zeros(2))], lr=0.1)
    schedule = lb.CosineAnnealingLR(opt, T_max=5, eta_min=0.01)
    rates = [(schedule.step(), opt.lr)[1] for _ in range(7)]
    expected = [0.01 + 0.5 * 0.09 * (1 + math.cos(math.pi * min(t, 5) / 5)) for t in range(1, 8)]
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
    assert not hasattr(lb, "CosineLR") and "CosineLR" not in lb.__all__
    assert list(inspect.signature(lb.CosineAnnealingLR).parameters) == ["optimizer", "T_max", "eta_min"]


def test_buffers_is_a_method_returning_the_arrays():
    model = lb.Sequential(lb.Linear(2, 3), lb.BatchNorm1d(3))
    buffers = model.buffers()
    assert len(buffers) == 2 and buffers[0] is model[1].running_mean and buffers[1] is model[1].running_var
    assert lb.Linear(2, 3).buffers() == []

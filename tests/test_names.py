"""PyTorch's names and argument names, and the old names kept as aliases until the chapters have migrated."""

import numpy as np

import littlebook as lb


def test_softmax_dim_and_old_axis():
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert np.array_equal(lb.Softmax(dim=0)(x), lb.Softmax(axis=0)(x))
    assert lb.Softmax(axis=0).dim == 0 and lb.Softmax(dim=0).axis == 0


def test_embedding_embedding_dim_and_old_dim():
    a, b = lb.Embedding(5, embedding_dim=3, rng=0), lb.Embedding(5, dim=3, rng=0)
    assert np.array_equal(a.weight.value, b.weight.value) and a.embedding_dim == b.dim == 3


def test_multi_head_attention_embed_dim_and_old_dim():
    a, b = lb.MultiHeadAttention(embed_dim=8, num_heads=2, rng=0), lb.MultiHeadAttention(dim=8, num_heads=2, rng=0)
    assert a.embed_dim == b.dim == 8
    assert all(np.array_equal(p.value, q.value) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_cosine_annealing_lr_and_old_cosine_lr_give_the_same_rates():
    rates = []
    for make in (lambda o: lb.CosineAnnealingLR(o, T_max=5, eta_min=0.01), lambda o: lb.CosineLR(o, 5, 0.01)):
        opt = lb.SGD([lb.Parameter(np.zeros(2))], lr=0.1)
        schedule = make(opt)
        rates.append([(schedule.step(), opt.lr)[1] for _ in range(7)])
    assert rates[0] == rates[1]
    old = lb.CosineLR(lb.SGD([lb.Parameter(np.zeros(2))], lr=0.1), total=4, min_lr=0.0)
    assert (old.total, old.min_lr) == (4, 0.0)


def test_buffers_is_a_method_returning_the_arrays():
    model = lb.Sequential(lb.Linear(2, 3), lb.BatchNorm1d(3))
    buffers = model.buffers()
    assert len(buffers) == 2 and buffers[0] is model[1].running_mean and buffers[1] is model[1].running_var
    assert lb.Linear(2, 3).buffers() == []

# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6. Attention and a tiny transformer (beyond the notes)
#
# The notes stop at residual networks; the book they summarise goes on to the layer behind today's language
# models: **attention**. This chapter builds it from littlebook's parts and trains a small transformer on the
# book's own text.
#
# By the end of it you will be able to
#
# - explain attention as a **soft dictionary look-up**: a query is compared with keys and returns a weighted mix
#   of values, and read an attention map;
# - compute **queries, keys and values** from a sequence, split them into **heads**, and say why the scores are
#   divided by $\sqrt{d}$ (without it the softmax saturates and its gradient vanishes);
# - build a **causal mask** and check that no position can see the future, in the outputs and in the gradients;
# - assemble embeddings, positions, attention, MLPs, layer norm and residual connections into a **decoder-only
#   transformer**, train it on the corpus of chapter 3 and compare it with chapter 3's next-token MLP on the same
#   test tokens (over seeds: they are level), measure what attention's reach costs, and show where it wins:
#   when the answer must be found by what it is, at a distance that varies;
# - sample text from it at different temperatures.

# %%
# On Colab, or wherever littlebook is not installed yet, install it from the book's repository first
# (in the book's own environment this does nothing).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("littlebook") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "littlebook @ git+https://github.com/littlebook-book/littlebook"], check=True)
    if "google.colab" in sys.modules:  # ipywidgets 8 sliders need Colab's custom widget manager
        from google.colab import output
        output.enable_custom_widget_manager()

# %%
import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits

import littlebook as lb
from littlebook import plot as lbplot
from littlebook.attention import causal_mask, scaled_dot_product_attention, sinusoidal_positions
from littlebook.functional import softmax
from littlebook.widgets import explore

np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## 6.1 Attention is a soft dictionary look-up
#
# A Python dictionary returns the value whose key *equals* the query. Attention returns a blend: it scores the
# query $q$ against every key $k_j$, turns the scores into weights that sum to 1 with a softmax, and returns the
# weighted mix of the values,
#
# $$a_j = \operatorname{softmax}_j\!\Big(\frac{q \cdot k_j}{\sqrt d}\Big), \qquad
# \text{attention}(q) = \sum_j a_j\, v_j ,$$
#
# with $d$ the length of the vectors (§6.3 explains the $\sqrt d$). Four entries with keys pointing east, north,
# west and south, and values 10, 20, 30, 40; three queries:

# %%
keys = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])   # east, north, west, south
values = np.array([[10.0], [20.0], [30.0], [40.0]])
queries = 3 * np.array([[1.0, 0.0], [np.sqrt(0.5), np.sqrt(0.5)], [0.0, 0.0]])  # east, north-east, nowhere
out, weights = scaled_dot_product_attention(queries, keys, values)
for name, a, y in zip(["east", "north-east", "nowhere"], weights, out[:, 0]):
    print(f"query {name:>10}: weights {a}  →  answer {y:.2f}")

assert np.allclose(weights.sum(axis=1), 1)
assert np.argmax(weights[0]) == 0 and out[0, 0] < 15          # mostly the east entry
assert np.isclose(weights[1, 0], weights[1, 1]) and 10 < out[1, 0] < 20  # halfway: east and north alike
assert np.allclose(weights[2], 0.25) and np.isclose(out[2, 0], 25)  # no preference: the plain average

fig, ax = plt.subplots(figsize=(4.6, 2.4))
im = ax.imshow(weights, cmap="Blues", vmin=0, vmax=1)
fig.colorbar(im, ax=ax, label="weight")
ax.set(xticks=range(4), xticklabels=["east", "north", "west", "south"], yticks=range(3),
       yticklabels=["east", "north-east", "nowhere"], xlabel="key", ylabel="query", title="attention map")
for i, j in np.ndindex(weights.shape):
    ax.text(j, i, f"{weights[i, j]:.2f}", ha="center", va="center", fontsize=8)
plt.show()

# %% [markdown]
# Each row of an **attention map** is one query's weights. The longer the query, the sharper its softmax: multiply
# it by 100 and the soft look-up becomes the hard one, returning exactly the best key's value. Because every step
# is smooth, gradient descent can learn *what to look up*: queries, keys and values are all produced by trained
# layers.

# %%
answer_sharp, sharp = scaled_dot_product_attention(100 * queries[:1], keys, values)
print("east query ×100:", sharp[0])
assert sharp[0, 0] > 0.999999 and np.allclose(answer_sharp[0], values[0])  # the best key's value, to 1e-6

# %% [markdown]
# ## 6.2 Queries, keys and values from the tokens themselves
#
# In **self-attention** the dictionary is the sequence itself. From the $T$ token vectors $X$ (shape $(T, D)$),
# three `Linear` layers make the queries, keys and values,
#
# $$Q = X W_Q^\top + b_Q, \quad K = X W_K^\top, \quad V = X W_V^\top + b_V, \qquad Y = \operatorname{softmax}\!\Big(\frac{Q K^\top}
# {\sqrt d}\Big) V ,$$
#
# so every position asks a question (its query), advertises what it holds (its key) and offers content (its value).
# **Multi-head** attention runs $H$ such look-ups side by side on slices of $d = D/H$ features, so that one head can
# follow, say, the previous word while another looks for the subject, and mixes the heads with an output `Linear`.
# `lb.MultiHeadAttention` does it for a whole batch $(N, T, D)$ at once: the heads become a batch axis and every
# product is one `matmul`, with no Python loop over samples, heads or positions.
#
# We check it against the formula written out head by head: each head's weights and output, then the heads side
# by side (concatenated: $H \cdot d = D$ features again) through the output `Linear`,
# $Y = [A_1 V_1, \dots, A_H V_H]\, W_O^\top + b_O$.

# %%
mha = lb.MultiHeadAttention(embed_dim=8, num_heads=2, rng=0, dtype=np.float64)
x = np.random.default_rng(1).normal(size=(1, 5, 8))          # one sequence of 5 tokens with 8 features
biases = np.random.default_rng(4)
for layer in (mha.q_proj, mha.v_proj, mha.out_proj):  # Linear starts its biases at 0: make them count in the check
    layer.bias.value[...] = biases.normal(size=8)
y = mha(x)
print(mha, "\noutput", y.shape, " attention weights", mha.attn.shape, "(N, H, T, T)")

def project(layer, rows):
    """x @ W[rows].T (+ b[rows]): the features of one head, from rows of a projection's weight."""
    bias = 0 if layer.bias is None else layer.bias.value[rows]
    return x[0] @ layer.weight.value[rows].T + bias

heads = []
for head in range(2):                          # head 0 reads features 0..3 of each projection, head 1 features 4..7
    h = slice(4 * head, 4 * head + 4)
    Q, K, V = (project(p, h) for p in (mha.q_proj, mha.k_proj, mha.v_proj))
    A = softmax(Q @ K.T / np.sqrt(4))          # (T, T): the head's attention weights
    assert np.allclose(A, mha.attn[0, head], rtol=1e-12, atol=1e-12)
    heads.append(A @ V)                        # (T, d)
Y = np.concatenate(heads, axis=1) @ mha.out_proj.weight.value.T + mha.out_proj.bias.value
assert np.allclose(Y, y[0], rtol=1e-12, atol=1e-12)
print("both heads' weights, and the whole output Y, equal the formula's (float64, to 1e-12)")

# %% [markdown]
# The key projection has no bias, on purpose: a bias $b$ would add the same number $q \cdot b$ to every score of a
# row; exercise 6.6 asks what that does to the weights, and so why the bias is left out.

# %% [markdown]
# **The backward pass, derived once.** For one head write the forward pass in three steps, with $M$ the mask
# (0 where a query may look, $-\infty$ where it may not):
#
# $$S = \frac{Q K^\top}{\sqrt d} + M, \qquad A = \operatorname{softmax}_{\text{rows}}(S), \qquad O = A V .$$
#
# Given $\partial O = \partial L / \partial O$, go back one step at a time.
#
# - $O = AV$ is a matrix product, so (the rule for a `Linear` layer) $\;\partial V = A^\top \partial O$ and
#   $\partial A = \partial O\, V^\top$.
# - Each row $a = \operatorname{softmax}(s)$ has the Jacobian $\partial a_i / \partial s_j = a_i(\delta_{ij} - a_j)$,
#   so $\partial s_j = \sum_i \partial a_i\, a_i (\delta_{ij} - a_j)
#   = a_j\big(\partial a_j - \sum_i \partial a_i a_i\big)$;
#   for all rows at once, $\;\partial S = A \odot \big(\partial A - \operatorname{rowsum}(\partial A \odot A)\big)$.
# - The mask is a constant: it has no gradient, and where it is $-\infty$ the weight $a_{ij}$ is exactly 0, so the
#   factor $A \odot$ makes $\partial S_{ij}$ exactly 0 too. Masked scores receive no gradient.
# - $S = Q K^\top / \sqrt d$ is a product again, scaled: $\;\partial Q = \partial S\, K / \sqrt d$ and
#   $\partial K = \partial S^\top Q / \sqrt d$.
#
# Written out for a tiny causal example in float64, and checked two ways: against `lb.MultiHeadAttention` with one
# head (its output projection set to the identity, so that $\partial O$ is the gradient we feed in; a `Linear`
# $Q = X W_Q^\top$ then gets $\partial W_Q = \partial Q^\top X$), and against finite differences.

# %%
def attention_forward(q, k, v, mask):
    s = np.where(mask, q @ k.T / np.sqrt(q.shape[-1]), -np.inf)
    weights = softmax(s, axis=-1)
    return weights @ v, weights

def attention_backward(q, k, v, a, grad_out):
    d = q.shape[-1]
    grad_v = a.T @ grad_out
    grad_a = grad_out @ v.T
    grad_s = a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True))
    return grad_s @ k / np.sqrt(d), grad_s.T @ q / np.sqrt(d), grad_v, grad_s

rng_b = np.random.default_rng(5)
one_head = lb.MultiHeadAttention(embed_dim=3, num_heads=1, causal=True, rng=0, dtype=np.float64)
one_head.out_proj.weight.value[...] = np.eye(3)
one_head.out_proj.bias.value[...] = 0
x_b, grad_o = rng_b.normal(size=(1, 4, 3)), rng_b.normal(size=(1, 4, 3))
one_head.zero_grad()
one_head(x_b)
one_head.backward(grad_o)
q_b, k_b, v_b = (x_b[0] @ p.weight.value.T + (p.bias.value if p.bias is not None else 0)
                 for p in (one_head.q_proj, one_head.k_proj, one_head.v_proj))
o_b, a_b = attention_forward(q_b, k_b, v_b, causal_mask(4))
grad_q, grad_k, grad_v, grad_s = attention_backward(q_b, k_b, v_b, a_b, grad_o[0])

print("where ∂S ≠ 0 (row: query position, column: key position):\n", (grad_s != 0).astype(int))
print("∂S ≈", grad_s.round(2) + 0.0)
assert np.all(grad_s[~causal_mask(4)] == 0)                  # exactly 0, not merely small
assert grad_s[0, 0] == 0   # row 0 has one key: its weight is 1 whatever the score, a(∂a − ∂a·a) = 0 exactly
assert np.allclose(a_b, one_head.attn[0, 0])
for name, proj, g in [("Q", one_head.q_proj, grad_q), ("K", one_head.k_proj, grad_k), ("V", one_head.v_proj, grad_v)]:
    assert np.allclose(proj.weight.grad, g.T @ x_b[0], rtol=1e-12, atol=1e-12), name
print("∂W_Q, ∂W_K, ∂W_V from the formulas equal the library's to 1e-12")

def probe():   # L = Σ O ⊙ ∂O, whose gradient with respect to O is ∂O
    return np.sum(attention_forward(q_b, k_b, v_b, causal_mask(4))[0] * grad_o[0])

worst = max(lb.rel_error(lb.gradcheck.numerical_gradient(probe, m), g)
            for m, g in [(q_b, grad_q), (k_b, grad_k), (v_b, grad_v)])
assert worst < 1e-8   # float64 central differences with h = 1e-5: errors of order h² ≈ 1e-10
print("∂Q, ∂K, ∂V against central differences: relative error < 1e-8")

# %% [markdown]
# `MultiHeadAttention.backward` does exactly this for all heads at once (the heads are a batch axis), then goes back
# through the four projections; $x$ feeds three of them, so its gradient is the sum of three paths. Finite
# differences on the whole layer agree:

# %%
errors = lb.check_module(mha, x)
assert max(errors.values()) < 1e-6   # float64 central differences: round-off and O(h²) error, far below 1e-6
print(f"{len(errors) - 1} parameters and the input: largest relative error < 1e-6")

# %% [markdown]
# ## 6.3 Why divide by $\sqrt d$
#
# If the entries of $q$ and $k$ are independent with mean 0 and variance 1, then $q \cdot k = \sum_{i=1}^d q_i k_i$
# is a sum of $d$ terms of variance 1: its variance is $d$. Measured:

# %%
rng = np.random.default_rng(0)
dims = np.array([4, 16, 64, 256, 1024])
for d in dims:
    q, k = rng.standard_normal((4000, d)), rng.standard_normal((4000, d))
    dots = np.sum(q * k, axis=1)
    print(f"d = {d:4d}: var(q·k) ≈{dots.var():.0f},  var(q·k / √d) ≈{(dots / np.sqrt(d)).var():.2f}")
    assert 0.85 < dots.var() / d < 1.15   # 4000 samples: the sample variance is within ±15 % of d (5 std. errors)

# %% [markdown]
# Scores with a standard deviation of $\sqrt{1024} = 32$ make the softmax nearly one-hot: the largest score wins
# everything. Worse, a saturated softmax has almost no gradient. Its Jacobian is
# $\partial a_i / \partial s_j = a_i(\delta_{ij} - a_j)$, which is 0 when $a$ is one-hot. Below: 16 keys, many
# random queries, the mean largest weight and the mean size (Frobenius norm) of the softmax's Jacobian, with and
# without the division; then what reaches the queries themselves.

# %%
def softmax_stats(scores):
    """Mean largest weight, and mean Frobenius norm of the Jacobian diag(a) − a aᵀ, over the rows of ``scores``."""
    a = softmax(scores, axis=-1)
    jac = a[:, :, None] * np.eye(a.shape[1]) - a[:, :, None] * a[:, None, :]
    return a.max(axis=1).mean(), np.sqrt((jac**2).sum(axis=(1, 2))).mean()

stats = {"unscaled": [], "scaled": []}
for d in dims:
    q, k = rng.standard_normal((500, d)), rng.standard_normal((16, d))
    stats["unscaled"].append(softmax_stats(q @ k.T))
    stats["scaled"].append(softmax_stats(q @ k.T / np.sqrt(d)))
stats = {name: np.array(v) for name, v in stats.items()}

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
for name, v in stats.items():
    ax1.semilogx(dims, v[:, 0], "o-", label=name, base=2)
    ax2.semilogx(dims, v[:, 1], "o-", label=name, base=2)
ax1.set(xlabel="d", ylabel="mean largest weight", title="softmax saturates")
ax2.set(xlabel="d", ylabel="mean ‖∂a/∂s‖", title="and its gradient vanishes")
ax1.legend()
plt.show()
for name in stats:
    print(f"{name:>8}, d = 1024: largest weight ≈{stats[name][-1, 0]:.2f}, gradient size ≈{stats[name][-1, 1]:.2f}")
assert stats["unscaled"][-1, 0] > 0.9 and stats["unscaled"][-1, 1] < 0.2 * stats["scaled"][-1, 1]
assert np.ptp(stats["scaled"][:, 0]) < 0.1   # scaled: the same behaviour at every d

# What reaches a query: ∂q = ∂s K · scale, for a random upstream gradient ∂a (d = 1024, 16 keys, 500 queries)
rng_q = np.random.default_rng(5)
q, k = rng_q.standard_normal((500, 1024)), rng_q.standard_normal((16, 1024))
upstream = rng_q.standard_normal((500, 16))
grad_q = {}
for name, scale in (("unscaled", 1.0), ("scaled", 1 / np.sqrt(1024))):
    a = softmax(q @ k.T * scale, axis=-1)
    grad_q[name] = np.linalg.norm(lb.functional.softmax_backward(a, upstream) @ k * scale, axis=1)
    print(f"{name:>8}: median ‖∂q‖ ≈{np.median(grad_q[name]):.2g}, rows with ‖∂q‖ < 0.001: "
          f"{np.mean(grad_q[name] < 1e-3):.0%}")
assert np.median(grad_q["unscaled"]) < 0.01 * np.median(grad_q["scaled"])   # most queries get almost nothing
assert np.mean(grad_q["unscaled"] < 1e-3) > 0.3 and np.mean(grad_q["scaled"] < 1e-3) == 0

# %% [markdown]
# Without the division most queries receive almost no gradient, so most rows of the layer stop learning. The few
# rows whose softmax is not saturated receive very large gradients instead, because the scores' scale $\sqrt d$
# multiplies them. So the *mean* gradient is not small, and updates become erratic. Dividing by $\sqrt d$ gives
# every row a gradient of the same order.
#
# ## 6.4 Causal masking
#
# For next-token prediction, position $t$ must not see tokens after $t$ (chapter 3: the model must be **causal**).
# Attention is masked by adding $-\infty$ to the scores above the diagonal: $e^{-\infty} = 0$, so those weights are
# exactly 0. The mask is a lower triangle:

# %%
mask = causal_mask(8)
causal = lb.MultiHeadAttention(embed_dim=8, num_heads=2, causal=True, rng=0, dtype=np.float64)
xs = np.random.default_rng(2).normal(size=(1, 8, 8))
causal(xs)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.5, 3.2), layout="constrained")
im1 = ax1.imshow(mask, cmap="Greys", vmin=0, vmax=1)
ax1.set(title="mask: query t may see key j", xlabel="key position j", ylabel="query position t")
fig.colorbar(im1, ax=ax1, ticks=[0, 1], label="may look (1) or not (0)")
im2 = ax2.imshow(causal.attn[0, 0], cmap="Blues", vmin=0, vmax=1)
ax2.set(title="causal attention weights (head 0)", xlabel="key position j", ylabel="query position t")
fig.colorbar(im2, ax=ax2, label="attention weight")
plt.show()
print(mask.astype(int))
assert np.array_equal(mask, np.arange(8)[None, :] <= np.arange(8)[:, None])
assert np.all(causal.attn[..., ~mask] == 0) and np.allclose(causal.attn.sum(axis=-1), 1)

# %% [markdown]
# **Checked both ways.** Change every input after position 3: the outputs at positions 0…3 are bit-for-bit the same.
# And backwards: the gradient of the output at position 3 reaches the inputs at positions 0…3 and is exactly 0 after.

# %%
t = 3
changed = xs.copy()
changed[:, t + 1:] = np.random.default_rng(3).normal(size=(1, 8 - t - 1, 8))
same = np.all(causal(xs) == causal(changed), axis=-1)[0]
print("outputs unchanged at positions:", np.flatnonzero(same))
assert same[: t + 1].all() and not same[t + 1:].any()

causal(xs)
grad = np.zeros_like(xs)
grad[0, t] = 1.0                                     # ∂(sum of output t)/∂output
grad_x = causal.backward(grad)
print("positions j with ∂ out_3 / ∂ x_j ≠ 0:", np.flatnonzero(np.abs(grad_x[0]).sum(axis=1)))
print("|∂ out_3 / ∂ x_j| per position j ≈", np.abs(grad_x[0]).sum(axis=1).round(2))
assert np.all(grad_x[0, t + 1:] == 0) and np.all(np.abs(grad_x[0, : t + 1]).sum(axis=1) > 0)

# %% [markdown]
# ## 6.5 Positions
#
# Attention compares contents, not places: without a mask, permuting the tokens just permutes the outputs, so
# "dog bites man" and "man bites dog" would look alike. The causal mask breaks this symmetry only partly. In
# **one** causal layer the output at position $t$ mixes the values of positions $0 \dots t$, with weights set by
# $t$'s own query and their keys, not by where among positions $0 \dots t-1$ each one stands: it knows *which*
# tokens came before $t$, not in which order. Swap the first two tokens: the outputs at 0 and 1 change (their own
# token, hence their query, changed), and every output from position 2 on stays the same. Stack a second causal
# layer and the order leaks in, indirectly: position 1's changed output is one of the values position 2 reads.

# %%
perm = np.array([4, 2, 0, 1, 3])
print("non-causal attention is permutation-equivariant:", np.allclose(mha(x[:, perm]), mha(x)[:, perm]))
assert np.allclose(mha(x[:, perm]), mha(x)[:, perm])
swapped = x[:, [1, 0, 2, 3, 4]]
unchanged = np.all(np.isclose(causal(swapped), causal(x), rtol=1e-12, atol=1e-12), axis=-1)[0]
print("causal attention, first two tokens swapped: outputs unchanged at positions", np.flatnonzero(unchanged))
assert list(unchanged) == [False, False, True, True, True]   # equal up to the order of a sum (float64)
second = lb.MultiHeadAttention(embed_dim=8, num_heads=2, causal=True, rng=1, dtype=np.float64)
unchanged_2 = np.all(np.isclose(second(causal(swapped)), second(causal(x)), rtol=1e-12, atol=1e-12), axis=-1)[0]
print("two causal layers, first two tokens swapped: outputs unchanged at positions", np.flatnonzero(unchanged_2))
assert not unchanged_2.any()

# %% [markdown]
# So we **add** a position vector $P_t$ to the token at position $t$. The original transformer used fixed sinusoids
# of geometrically spaced frequencies, $P_{t,2i} = \sin(t/10000^{2i/D})$, $P_{t,2i+1} = \cos(t/10000^{2i/D})$
# (`sinusoidal_positions`); GPT learns $P$ like any weight (`lb.PositionalEmbedding`, our default). Tokens
# themselves enter through `lb.Embedding`, a learned table with one row per token: the same as chapter 3's one-hot
# times a matrix, without building the one-hot. (Its backward adds each position's gradient into its token's row,
# a scatter-add like `np.add.at`, because a token that occurs twice must collect two gradients.)

# %%
pe = sinusoidal_positions(64, 32)
fig, ax = plt.subplots(figsize=(7, 2.6))
im = ax.imshow(pe.T, cmap="RdBu", aspect="auto")
ax.set(xlabel="position t", ylabel="feature", title="sinusoidal positional encoding")
fig.colorbar(im)
plt.show()
# P_t · P_{t+k} = Σ_i cos(k ω_i) depends on the offset k only, for every k (and is the same for −k): dot products
# of positions encode the distance between them. (After the learned maps W_Q, W_K of a layer this no longer holds
# exactly; it is a property of the encoding itself.)
for k in range(1, 40):
    offset_dots = np.einsum("td,td->t", pe[:-k], pe[k:])
    assert np.allclose(offset_dots, offset_dots[0])

# %% [markdown]
# ## 6.6 A transformer block, and a tiny GPT
#
# A **transformer block** alternates the two ways of computing: attention moves information *between* positions,
# an MLP computes *within* each position. Both sit on a residual connection (chapter 5), and each starts with a
# layer norm, the "pre-norm" layout of GPT-2:
#
# $$x \leftarrow x + \text{MHA}(\text{LN}(x)), \qquad x \leftarrow x + \text{MLP}(\text{LN}(x)).$$
#
# `lb.TransformerBlock` is exactly this, built from `Residual`, `LayerNorm`, `Linear` and `ReLU`. A **decoder-only
# transformer** (the GPT family) is token embedding + positions → $L$ causal blocks → layer norm → a `Linear` that
# gives next-token logits at every position: `lb.TinyTransformer`. Both pieces drawn, attention on the left (the
# projections are split into heads, each head attends on its own $d = D/H$ features, and the heads are joined
# again), the block on the right:

# %%
lbplot.attention_diagrams(num_heads=2)
plt.show()

# %%
block = lb.TransformerBlock(dim=8, num_heads=2, mlp_ratio=2, rng=0, dtype=np.float64)
print(block)
block_errors = lb.check_module(block, x)
assert max(block_errors.values()) < 1e-6   # float64 central differences
print("block gradient check: largest relative error < 1e-6")

# %% [markdown]
# ## 6.7 Training on the book's corpus, against chapter 3's model
#
# We use chapter 3's data to the letter: the same BPE tokenizer (384 tokens) trained on the same corpus, the same
# windows of $T = 32$ tokens, and the same held-out last 10 % of the tokens. Chapter 3 used those held-out tokens to
# pick a learning rate; here we compare models, and a comparison must be judged on tokens that no choice has seen.
# So they become the **test** tokens, scored once at the end, and the last 10 % of the training tokens become a
# **validation** set on which every choice below is made (chapter 3, §3.5). (The BPE merges, as in chapter 3, were
# learned from the whole corpus, test tokens included: the same for both models, so this favours neither, but the
# test tokens are not unseen by the tokenizer.) We also train with one BLAS thread (`threadpoolctl`, as in chapter
# 2), so that results and times do not depend on the number of cores.

# %%
threadpool_limits(1, user_api="blas")
corpus = lb.load_corpus()
VOCAB, T, K = 384, 32, 3
tokenizer = lb.BPETokenizer.train(corpus, VOCAB)
token_ids = tokenizer.encode(corpus)
n_test = len(token_ids) // 10
train_ids, test_ids = token_ids[:-n_test], token_ids[-n_test:]   # chapter 3's split: its held-out tokens
n_val = len(train_ids) // 10
fit_ids, val_ids = train_ids[:-n_val], train_ids[-n_val:]         # every choice is made on val_ids
X_lm, Y_lm = lb.context_windows(fit_ids, T, stride=T)
X_val, Y_val = lb.context_windows(val_ids, T, stride=T)
X_test, Y_test = lb.context_windows(test_ids, T, stride=T)
print(f"{len(token_ids):,} tokens: {len(fit_ids):,} to train on, {len(val_ids):,} for validation "
      f"({len(X_val)} windows of {T}), {len(test_ids):,} for the test ({len(X_test)} windows)")

sum_loss = lb.CrossEntropyLoss(reduction="sum")   # chapter 3's MLP is trained on the summed loss
per_token = lb.CrossEntropyLoss()                 # what we report: the mean loss per token


def train_mlp(seed, data, epochs, val_data=None):
    """Chapter 3's next-token MLP (the last K = 3 tokens), trained with Adam, lr 0.01: (model, History)."""
    mlp = lb.text.NextTokenMLP(VOCAB, context=K, embed_dim=24, hidden=96, rng=seed)
    history = lb.fit(mlp, sum_loss, lb.Adam(mlp.parameters(), lr=0.01), data, epochs=epochs, batch_size=32,
                     val_data=val_data, progress=False, rng=seed, metrics=())
    return mlp, history


def best_epochs(data, max_epochs):
    """The number of epochs, 1 to max_epochs, after which the seed-0 MLP has its lowest validation loss."""
    _, history = train_mlp(0, data, max_epochs, val_data=(X_val, Y_val))   # fit scores val_data every epoch
    return int(np.argmin(history.val_loss)) + 1

# %% [markdown]
# Chapter 3's model is the next-token MLP that reads the last 3 tokens, on its non-overlapping windows; we train it
# with Adam (§3.6) instead of chapter 3's SGD, at lr 0.01. That rate was not tuned on the validation tokens, while the
# transformer's was (below), so the MLP's settings were tuned less. Its number of epochs is the one with the lowest
# validation loss (seed 0; `fit` scores `val_data` after every epoch).

# %% tags=["nbval-ignore-output"]
MLP_EPOCHS = best_epochs((X_lm, Y_lm), 16)
print(f"chapter 3's MLP: lowest validation loss after {MLP_EPOCHS} epochs")

# %%
assert 8 <= MLP_EPOCHS <= 14   # 11 here, at every seed of the scratch runs

# %% [markdown]
# Now the transformer: 2 blocks of 4 heads on 32 features, float32, trained with Adam on the mean loss per token
# in batches of 64 windows, with a cosine schedule (the MLP: the summed loss, batches of 32, a constant rate).
# Two further choices differ from chapter 3's recipe, and both are about getting the most from 10 000 training
# tokens. The training windows **overlap** (a new window
# every 8 tokens instead of every 32): the same training tokens, but each is seen at several positions and with
# several amounts of context (we come back to this choice below). And **dropout** on the embeddings and on each
# branch, because this model over-fits a text this small within a few epochs. The learning rate decays along a
# cosine over 12 epochs. Its settings were chosen on the validation tokens at seed 0, among learning rates 0.005,
# 0.01 and 0.02 and dropout 0.1, 0.2 and 0.3, with 8, 12 or 16 epochs at lr 0.01 and dropout 0.2: 11 runs, too
# long to repeat on every execution of this page, so the search is recorded after the training below, with its
# code, and one of its runs is repeated every time.
#
# Each model is trained at three seeds (the seed sets the initial weights, the dropout masks and the order of the
# batches), because one seed cannot tell a difference between two models from luck.

# %%
X_tr, Y_tr = lb.context_windows(fit_ids, T, stride=8)
EPOCHS, SEEDS = 12, range(3)

def make_transformer(seed, dropout=0.1):
    return lb.TinyTransformer(VOCAB, context=T, dim=32, num_heads=4, num_layers=2, dropout=dropout, rng=seed)

def train_transformer(seed, lr=0.01, dropout=0.1, epochs=EPOCHS, val_data=None):
    """The recipe above: Adam at ``lr``, a cosine schedule over ``epochs``, batches of 64: (model, History)."""
    tf = make_transformer(seed, dropout)
    opt = lb.Adam(tf.parameters(), lr=lr)
    history = lb.fit(tf, per_token, opt, (X_tr, Y_tr), epochs=epochs, batch_size=64, val_data=val_data,
                     scheduler=lb.CosineAnnealingLR(opt, T_max=epochs), progress=False, rng=seed, metrics=())
    return tf, history

print(f"{make_transformer(0).num_parameters():,} parameters; {len(X_tr)} overlapping training windows")

# %% tags=["nbval-ignore-output"]
mlps, transformers, histories = [], [], []
for seed in SEEDS:
    mlps.append(train_mlp(seed, (X_lm, Y_lm), MLP_EPOCHS)[0])
    tf, history = train_transformer(seed, val_data=(X_val, Y_val))
    transformers.append(tf)
    histories.append(history)
model = transformers[0]   # the seed-0 transformer: we look inside it and let it write below
h = histories[0]
print(f"chapter 3's MLP: {mlps[0].num_parameters():,} parameters")
print(f"seed 0's transformer trained in {h.seconds:.1f} s ({h.steps} steps, "
      f"{h.seconds / h.steps * 1000:.0f} ms per step of up to {64 * T} tokens)")
mlp_val = [lb.evaluate(m, per_token, X_val, Y_val)[0] for m in mlps]
tf_val = [lb.evaluate(m, per_token, X_val, Y_val)[0] for m in transformers]
print("validation loss per token, seeds 0-2: transformer", np.round(tf_val, 2), " chapter 3's MLP",
      np.round(mlp_val, 2), f" uniform guessing {np.log(VOCAB):.2f}")
ax = lbplot.plot_history(h)
ax.axhline(mlp_val[0], color="gray", ls="--", label="chapter 3's MLP, validation (seed 0)")
ax.legend()
plt.show()

# %%
# Seeds 0-2: transformer 3.39-3.44, MLP 3.39-3.47 on validation; neither is ahead at every seed.
assert abs(np.mean(tf_val) - np.mean(mlp_val)) < 0.1, (tf_val, mlp_val)
assert max(h.val_loss[-1] for h in histories) < np.log(VOCAB) - 2

# %% [markdown]
# **The search behind these settings.** `lm_search()` trains the seed-0 transformer once per setting with
# `train_transformer`, the code of the runs above, and scores it on the validation tokens. Its 11 runs (132
# epochs, 11 times the seed-0 run above) take over a minute, so its result is recorded here (set
# `RERUN_SEARCH = True` to run it yourself); the setting chosen is the seed-0 transformer trained above, so every
# execution checks that entry of the record against a fresh measurement.

# %%
def lm_search():
    """{(lr, dropout, epochs): validation loss per token of the seed-0 transformer}, for the 11 settings."""
    settings = [(lr, p, 12) for lr in (0.005, 0.01, 0.02) for p in (0.1, 0.2, 0.3)] + [(0.01, 0.2, 8), (0.01, 0.2, 16)]
    results = {}
    for lr, p, epochs in settings:
        tf, _ = train_transformer(0, lr, p, epochs)   # the same code as the three runs above
        results[lr, p, epochs] = round(float(lb.evaluate(tf, per_token, X_val, Y_val)[0]), 3)
    return results


RERUN_SEARCH = False
# recorded by lm_search() on 4 December 2026 (Intel Xeon, OpenBLAS SkylakeX kernel, one BLAS thread)
RECORDED_LM_SEARCH = {
    (0.005, 0.1, 12): 3.449, (0.005, 0.2, 12): 3.488, (0.005, 0.3, 12): 3.554, (0.01, 0.1, 12): 3.391,
    (0.01, 0.2, 12): 3.424, (0.01, 0.3, 12): 3.462, (0.02, 0.1, 12): 3.406, (0.02, 0.2, 12): 3.393,
    (0.02, 0.3, 12): 3.456, (0.01, 0.2, 8): 3.481, (0.01, 0.2, 16): 3.404}
LM_SEARCH = lm_search() if RERUN_SEARCH else RECORDED_LM_SEARCH
print("validation loss per token, seed 0, by (lr, dropout, epochs)"
      + ("" if RERUN_SEARCH else " (the record: constants, not re-run)") + ":")
for setting, loss in sorted(LM_SEARCH.items(), key=lambda item: item[1]):
    print(f"  lr {setting[0]:<5} dropout {setting[1]}  {setting[2]:2d} epochs: {loss:.3f}")
chosen = (0.01, 0.1, EPOCHS)
print(f"the chosen setting {chosen}, measured again now: ≈{tf_val[0]:.3f} (recorded {LM_SEARCH[chosen]:.3f})")
assert LM_SEARCH[chosen] <= min(LM_SEARCH.values()) + 0.005                       # the best, or tied with it
assert abs(LM_SEARCH[0.02, 0.2, 12] - LM_SEARCH[chosen]) < 0.005                  # the tie
assert LM_SEARCH[0.01, 0.2, 8] > LM_SEARCH[0.01, 0.2, 12] + 0.03                  # 8 epochs: worse
assert abs(LM_SEARCH[0.01, 0.2, 16] - LM_SEARCH[0.01, 0.2, 12]) < np.ptp(tf_val)  # 16: within the seed spread
# The record holds here: the fresh run must agree to well under the spread between seeds (0.05), which is what a
# wrong record would show. Under the three CPU configurations of docs/contributing.md it agreed to within 0.02.
assert abs(tf_val[0] - LM_SEARCH[chosen]) < 0.02

# %% [markdown]
# Learning rate 0.01 with dropout 0.1 did best, and lr 0.02 with dropout 0.2 as well to within 0.002 nats, less
# than the differences between seeds above; the others scored 3.40 to 3.55. At lr 0.01 and dropout 0.2, 8 epochs
# scored 0.06 nats worse than 12, and 16 scored 0.02 better, less than the spread between seeds (0.05): we keep 12,
# the cheaper. The number of epochs was not searched at dropout 0.1, so 12 there is a choice made for cost, not a
# measured best. One seed per setting is a coarse search: it can rank settings that differ by a few hundredths of a nat
# wrongly, which is one more reason the comparison with the MLP below uses three seeds and a test set that this
# search never saw.

# %% [markdown]
# On the validation tokens the two are close, and which one is ahead depends on the seed. They do not get their
# losses in the same places, though. Position $t$ of a window has $t + 1$ tokens to read. At positions 0–2 the two
# models read the same tokens (the MLP reads padding for the rest); from position 3 on, only the transformer can
# read further back. We compare the two on each group of positions, seed by seed (34 windows are few: expect
# noise).

# %% tags=["nbval-ignore-output"]
def token_losses(model, X, Y):
    """−log p(the true next token) at every position of every window, (N, T), in float64."""
    logp = np.log(softmax(lb.predict(model, X).astype(np.float64), axis=-1))
    return -np.take_along_axis(logp, Y[..., None], axis=-1)[..., 0]

groups = {"positions 0–2": slice(0, 3), "positions 3–31": slice(3, T)}

def by_group(models, X, Y):
    """(seeds, groups): each model's mean loss per token at positions 0-2 and 3-31."""
    return np.array([[token_losses(m, X, Y).mean(axis=0)[g].mean() for g in groups.values()] for m in models])

tf_groups, mlp_groups = by_group(transformers, X_val, Y_val), by_group(mlps, X_val, Y_val)
gain = mlp_groups - tf_groups                        # > 0: the transformer is better
for (name, _), tf_g, mlp_g, g in zip(groups.items(), tf_groups.T, mlp_groups.T, gain.T):
    print(f"{name:>15}: transformer {np.round(tf_g, 2)}, MLP {np.round(mlp_g, 2)}, "
          f"transformer better by {np.round(g, 2)} (seeds 0-2)")

# %%
# Seeds 0-2: gain at positions 0-2 0.18-0.35, at positions 3-31 −0.06 to +0.07
assert gain[:, 0].min() > 0.1                        # at the start, at every seed
assert abs(gain[:, 1].mean()) < 0.1                  # later, level on average
assert gain[:, 0].mean() > gain[:, 1].mean() + 0.1

# %% [markdown]
# A surprise, and an honest one: the transformer's advantage is at the *start* of the windows, and no gain from
# the long context is measurable with 34 validation windows: from position 3 on the MLP is level with it (ahead at
# two seeds of three). What explains the start? One candidate is the data: chapter 3's MLP sees 307 window
# starts, the transformer 1,226 (its windows overlap; counted below). The test of that idea gives the MLP the same
# overlapping windows. It over-fits in fewer epochs on them (an epoch of windows every 8 tokens shows each token
# about 4 times), so it gets its own number of epochs, again the best on the validation tokens (seed 0).

# %% tags=["nbval-ignore-output"]
SAME_EPOCHS = best_epochs((X_tr, Y_tr), 8)
mlps_same = [train_mlp(seed, (X_tr, Y_tr), SAME_EPOCHS)[0] for seed in SEEDS]
same_groups = by_group(mlps_same, X_val, Y_val)
print(f"MLP on the overlapping windows ({SAME_EPOCHS} epochs): positions 0–2 {np.round(same_groups[:, 0], 2)}, "
      f"3–31 {np.round(same_groups[:, 1], 2)}; transformer at 0–2 {np.round(tf_groups[:, 0], 2)}")

# %%
# Seeds 0-2: 4 epochs; at positions 0-2 3.75-4.04 (the MLP on its own windows 3.70-3.93, transformer 3.52-3.63)
assert 2 <= SAME_EPOCHS <= 5
print(f"window starts: chapter 3's windows {len(X_lm)}, overlapping windows {len(X_tr)}")
assert (len(X_lm), len(X_tr)) == (307, 1226)
assert (same_groups[:, 0] - tf_groups[:, 0]).min() > 0.1   # the gap at the start stays, at every seed

# %% [markdown]
# Four times as many window starts do not close the gap at the start: the number of windows is not the reason. A
# likely one, which this chapter does not test: at positions 0–2 the MLP's input slots hold padding, a case it
# learns from window starts alone, while the transformer computes every position with the same weights and uses
# at position 0 what it learned everywhere else.
#
# **The test.** Now, once, the test tokens, for the three models as chosen above:

# %%
test_loss = {name: np.array([lb.evaluate(m, per_token, X_test, Y_test)[0] for m in models])
             for name, models in [("transformer", transformers), ("chapter 3's MLP", mlps),
                                  ("MLP, overlapping windows", mlps_same)]}
print("test loss per token, mean of seeds 0-2 [lowest, highest]:")
for name, losses in test_loss.items():
    print(f"{name:>25}: ≈{losses.mean():.2f} [≈{losses.min():.2f}, ≈{losses.max():.2f}]")
# Seeds 0-2: transformer 3.72-3.76, chapter 3's MLP 3.68-3.83, on overlapping windows 3.82-3.92
tf_test, mlp_test, same_test = test_loss.values()
assert abs(tf_test.mean() - mlp_test.mean()) < min(0.1, np.ptp(mlp_test))   # level: less than the seed changes
assert (same_test - mlp_test).min() > 0                                      # overlapping windows: worse, every seed

# %% [markdown]
# So, on 10 000 tokens, a small transformer is no better than a three-token MLP: the difference of the means is
# smaller than what the seed alone changes. (The MLP on overlapping windows is worse than chapter 3's on the test
# tokens at every seed, although on the validation tokens it was level from position 3 on: with 34 validation
# windows, its number of epochs, chosen there, perhaps did not carry over.)
# A likely reading, which this chapter does not test further: three tokens hold most of what a text this short can
# teach about which token comes next, and reading far back pays only once a model has seen enough text to learn
# *what* to look for (GPT-2 was trained on billions of tokens, hundreds of thousands of times more).
#
# What attention brings is **reach**: one layer can read any earlier position of its window, where the MLP reads a
# fixed $K$ tokens. That reach has a price, and the price grows with the window $T$. Per sequence, the scores
# $QK^\top$ and the mix $AV$ each take $H \cdot T^2 d = T^2 D$ multiply-adds and $A$ holds $H T^2$ weights, against
# $4TD^2$ for the four projections; the learned position table adds $T \cdot D$ parameters; and nothing more than
# $T - 1$ tokens back can be read at all. Counted, and timed (forward and backward of one causal attention layer,
# $D = 32$, 4 heads, a batch of 64 sequences):

# %%
D_c, H_c, N_c = 32, 4, 64
cost_layer = lb.MultiHeadAttention(embed_dim=D_c, num_heads=H_c, causal=True, rng=0)
lengths = [16, 32, 64, 128]

def forward_backward(x):
    y = cost_layer(x)
    cost_layer.backward(np.ones_like(y))

inputs = {T_c: np.random.default_rng(0).normal(size=(N_c, T_c, D_c)).astype(np.float32) for T_c in lengths}
seconds = lb.timing.time_calls({T_c: (lambda x=x: forward_backward(x)) for T_c, x in inputs.items()}, rounds=5)
for T_c in lengths:
    score_madds, proj_madds = 2 * T_c * T_c * D_c, 4 * T_c * D_c * D_c      # per sequence
    print(f"T = {T_c:3d}, per sequence: scores and mix {score_madds:>9,} multiply-adds, projections {proj_madds:>7,}, "
          f"position table {T_c * D_c:>5,} parameters; measured ≈{seconds[T_c] * 1e3:.1f} ms")
assert 2 * 128**2 * D_c == 64 * (2 * 16**2 * D_c)        # 8× the window, 64× the score work
assert seconds[128] > 4 * seconds[16]   # the timing illustrates (10-20× measured); the quadratic claim is the count
                                        # above: a noisy machine could not tell 8× (linear) from 19× in seconds

# %% [markdown]
# At $T = 16$ the projections cost more than the scores; the two are equal at $T = 2D = 64$ ($2T^2D = 4TD^2$), and
# beyond it the scores dominate: doubling the window doubles the projection work but quadruples the score work. (Real models keep $T$ large anyway, and
# spend much engineering on this $T^2$.)
#
# **Looking inside.** The attention maps of the trained model on a held-out sentence: each panel is one head,
# row $t$ is where position $t$ looked. The first rows have little choice (row 0 can only look at itself). Further
# down, do the heads pick out particular earlier tokens, or average over all of them? Measured under the maps: the
# largest weight of each row, on average over rows 3 onwards and over the validation windows, against the
# $1/(t + 1)$ of a head that looks everywhere alike.

# %%
sentence = tokenizer.encode("The gradient of the loss tells each weight how to change.")[:T]
model.eval()
model(sentence[None])
labels = [tokenizer.token_str(i) for i in sentence]
fig, axes = plt.subplots(2, 4, figsize=(12, 6.6), layout="constrained")
for layer, row in enumerate(axes):
    for head, ax in enumerate(row):
        im = ax.imshow(model.blocks[layer].attention.attn[0, head], cmap="Blues", vmin=0, vmax=1)
        ax.set_title(f"block {layer}, head {head}", fontsize=9)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(labels)), labels if head == 0 else [], fontsize=7)
        if layer == 1:
            ax.set_xlabel("key position (token)", fontsize=8)
        if head == 0:
            ax.set_ylabel("query position (token)", fontsize=8)
fig.colorbar(im, ax=axes, shrink=0.6, label="attention weight")
plt.show()
assert np.all(np.triu(model.blocks[0].attention.attn[0], k=1) == 0)  # causal: nothing above the diagonal

model(X_val)                                              # every validation window, eval mode
rows = np.arange(3, T)
uniform = np.mean(1 / (rows + 1))
sharpest = np.array([block.attention.attn[:, :, rows].max(axis=-1).mean(axis=(0, 2)) for block in model.blocks])
for layer, per_head in enumerate(sharpest):
    print(f"block {layer}: largest weight of a row, mean over rows 3-31, per head ≈{np.round(per_head, 2)}")
print(f"a head that looks everywhere alike: ≈{uniform:.2f}")
print(f"largest weight over uniform: {sharpest.min() / uniform:.1f} to {sharpest.max() / uniform:.1f} times")
assert 3.5 * uniform < sharpest.min() and sharpest.max() < 0.6   # 0.30-0.40 against 0.077 (seed 0): 3.9-5.2×

# %% [markdown]
# Every head's largest weight per row is about four to five times that of a uniform head, and far from 1 (below 0.6
# in every head): a row neither spreads its weight evenly over the window nor puts it all on one token.

# %% [markdown]
# **Where attention wins: finding something by what it is.** To favour attention, a test must put the answer at a
# distance that *varies*, so that neither a fixed window nor a fixed offset finds it, and that may be larger than
# an MLP's window. A toy language of 25 symbols: 16 "noise" symbols, drawn at random; 8 "needle" symbols, one of
# which appears once in the first half of each sequence; and a cue `?` that appears once, later, and is always
# followed by the needle. Sequences have $T = 24$ tokens, so the needle lies 1 to 23 positions before the cue.
# Noise is unpredictable for any model ($\ln 16 \approx 2.77$ nats). The token after the cue is predictable by a
# model that finds the needle, wherever it is; one that only knows "a needle comes next" scores
# $\ln 8 \approx 2.08$ nats.
#
# Three models see the same 9,600 training sequences (300 steps of 32): a transformer with one block (16 features,
# 2 heads), and chapter 3's MLP reading $K = 3$ and $K = 16$ tokens (the training times are printed). Each gets the
# learning rate that did best on 2,000 *validation* sequences drawn with another seed (seeds 0 and 1, mean loss on
# the token after the cue; the search is recorded after the training, with its code). Three seeds each; we score
# the token after the cue on 2,000 held-out test sequences, grouped by the needle's distance.

# %%
NOISE, NEEDLES, T_rec = 16, 8, 24
V_rec = NOISE + NEEDLES + 1
CUE = V_rec - 1

def recall_data(n, rng):
    """n sequences: inputs and next-token targets (n, T_rec), the cue's position and the needle's distance."""
    x = rng.integers(0, NOISE, size=(n, T_rec + 1))
    rows = np.arange(n)
    where = rng.integers(0, T_rec // 2, size=n)          # the needle, in the first half
    cue = rng.integers(where + 1, T_rec)                 # the cue, after it; the needle follows the cue
    x[rows, where] = NOISE + rng.integers(0, NEEDLES, size=n)
    x[rows, cue] = CUE
    x[rows, cue + 1] = x[rows, where]
    return x[:, :-1], x[:, 1:], cue, cue - where

X_rc, Y_rc, _, _ = recall_data(9600, np.random.default_rng(10))
X_rc_test, Y_rc_test, cue_test, dist_test = recall_data(2000, np.random.default_rng(11))
symbols = [chr(ord("a") + i) for i in range(NOISE)] + [chr(ord("A") + i) for i in range(NEEDLES)] + ["?"]
print("a held-out sequence:", "".join(symbols[i] for i in X_rc_test[0]), f"(needle {dist_test[0]} before the cue)")

# %% tags=["nbval-ignore-output"]
def recall_models(seed):
    return {"transformer": lb.TinyTransformer(V_rec, context=T_rec, dim=16, num_heads=2, num_layers=1, rng=seed),
            "MLP, K = 3": lb.text.NextTokenMLP(V_rec, context=3, embed_dim=24, hidden=96, rng=seed),
            "MLP, K = 16": lb.text.NextTokenMLP(V_rec, context=16, embed_dim=24, hidden=96, rng=seed)}

def train_recall(name, seed, lr):
    """One epoch (300 steps of 32) of model ``name`` at ``seed`` with Adam at ``lr``: (model, History)."""
    m = recall_models(seed)[name]
    loss_fn = per_token if name == "transformer" else sum_loss   # the MLPs on the summed loss, as in §6.7
    return m, lb.fit(m, loss_fn, lb.Adam(m.parameters(), lr=lr), (X_rc, Y_rc), epochs=1, batch_size=32,
                     progress=False, rng=seed, metrics=())

RECALL_LR = {"transformer": 0.02, "MLP, K = 3": 0.01, "MLP, K = 16": 0.03}   # chosen on validation (below)
cue_losses = {name: [] for name in RECALL_LR}            # per model: one array of 2,000 losses per seed
recall_trained = {}                                      # (name, seed) -> the trained model
finders = []                                             # the three trained transformers
train_seconds = dict.fromkeys(cue_losses, 0.0)
for seed in range(3):
    for name, lr in RECALL_LR.items():
        m, h = train_recall(name, seed, lr)
        recall_trained[name, seed] = m
        train_seconds[name] += h.seconds
        cue_losses[name].append(token_losses(m, X_rc_test, Y_rc_test)[np.arange(len(cue_test)), cue_test])
        if name == "transformer":
            finders.append((h.train_loss[-1], m))   # with its last epoch's training loss
print("training seconds, 3 seeds:", {name: round(s, 1) for name, s in train_seconds.items()})

# %% [markdown]
# **The learning-rate search.** `recall_search()` trains each model at each candidate rate at seeds 0 and 1, as
# above, and scores the token after the cue on 2,000 validation sequences (their own seed, 12). Its 20 runs take
# about 15 seconds (by the training times printed above), and this chapter is already the slowest of the book to
# execute (per-chapter times in `docs/performance.md`), so its result is recorded here (`RERUN_SEARCH = True`, the
# switch above, reruns it with the other search); the chosen rates' runs are the models just trained, so every
# execution checks those entries of the record against a fresh measurement.

# %%
X_rc_val, Y_rc_val, cue_val, _ = recall_data(2000, np.random.default_rng(12))

def cue_loss(m):
    """Mean loss on the token after the cue, over the validation sequences."""
    return float(token_losses(m, X_rc_val, Y_rc_val)[np.arange(len(cue_val)), cue_val].mean())

def recall_search():
    """{(name, lr, seed): validation loss on the token after the cue}, every candidate rate at seeds 0 and 1."""
    grid = {"transformer": (0.005, 0.01, 0.02, 0.04), "MLP, K = 3": (0.003, 0.01, 0.03),
            "MLP, K = 16": (0.003, 0.01, 0.03)}
    return {(name, lr, seed): round(cue_loss(train_recall(name, seed, lr)[0]), 3)
            for name, lrs in grid.items() for lr in lrs for seed in (0, 1)}

# recorded by recall_search() on 4 December 2026 (Intel Xeon, OpenBLAS SkylakeX kernel, one BLAS thread)
RECORDED_RECALL_SEARCH = {
    ("transformer", 0.005, 0): 0.508, ("transformer", 0.005, 1): 0.284, ("transformer", 0.01, 0): 0.732,
    ("transformer", 0.01, 1): 0.025, ("transformer", 0.02, 0): 0.337, ("transformer", 0.02, 1): 0.021,
    ("transformer", 0.04, 0): 0.317, ("transformer", 0.04, 1): 0.032,
    ("MLP, K = 3", 0.003, 0): 2.06, ("MLP, K = 3", 0.003, 1): 2.049, ("MLP, K = 3", 0.01, 0): 2.007,
    ("MLP, K = 3", 0.01, 1): 2.011, ("MLP, K = 3", 0.03, 0): 2.049, ("MLP, K = 3", 0.03, 1): 1.993,
    ("MLP, K = 16", 0.003, 0): 1.865, ("MLP, K = 16", 0.003, 1): 1.72, ("MLP, K = 16", 0.01, 0): 0.873,
    ("MLP, K = 16", 0.01, 1): 0.608, ("MLP, K = 16", 0.03, 0): 0.701, ("MLP, K = 16", 0.03, 1): 0.439}
RECALL_SEARCH = recall_search() if RERUN_SEARCH else RECORDED_RECALL_SEARCH
for name in RECALL_LR:
    rates = sorted({lr for n, lr, _ in RECALL_SEARCH if n == name})
    print(f"{name:>12}: " + ", ".join(
        f"lr {lr}: {np.mean([RECALL_SEARCH[name, lr, s] for s in (0, 1)]):.2f}" for lr in rates)
        + ("" if RERUN_SEARCH else "  (recorded)"))
    mean = {lr: np.mean([RECALL_SEARCH[name, lr, s] for s in (0, 1)]) for lr in rates}
    assert mean[RECALL_LR[name]] <= min(mean.values()) + 0.02, (name, mean)   # the best, or tied with it
fresh = {(name, seed): cue_loss(recall_trained[name, seed]) for name in RECALL_LR for seed in (0, 1)}
drift = {key: abs(v - RECALL_SEARCH[key[0], RECALL_LR[key[0]], key[1]]) for key, v in fresh.items()}
print(f"the chosen rates, measured again now: largest change from the record ≈{max(drift.values()):.2f} nats")
# Same code, same seeds, another CPU: after 300 steps, runs still in the middle of learning differ by 0.17 and 0.06
# nats (MLP K = 16, seeds 0 and 1) and 0.28 (the seed-0 transformer, see below) under the Sandybridge kernel with
# numpy's AVX paths off, where rounding differs; the other three by less than 0.002.
mid_learning = {("transformer", 0), ("MLP, K = 16", 0), ("MLP, K = 16", 1)}   # 0.28, 0.17, 0.06 (above)
assert all(d < (0.4 if key in mid_learning else 0.02) for key, d in drift.items()), drift

# %% [markdown]
# For the transformer the seed matters more than the rate. At seed 1 every rate from 0.01 on finds the needle
# (0.02 to 0.03 nats) and 0.005 is still learning (0.28); at seed 0 none has left its plateau after 300 steps (0.32
# to 0.73). Two seeds cannot separate 0.01, 0.02 and 0.04: we take 0.02, the middle one. For the MLP with $K = 16$,
# 0.03 is best (0.57; 0.01: 0.74, 0.003: 1.79), and for $K = 3$, 0.01 (every rate 2.01 to 2.05: near
# $\ln 8 = 2.08$ whatever the rate, as it cannot see far enough back). The search moves with the CPU, as the runs
# do: where rounding differs, the $K = 16$ MLP's two runs at 0.03 changed by 0.17 and 0.06 nats, which can move
# their mean by up to 0.11, two thirds of its lead over 0.01 (the runs at 0.01 were not repeated there). What follows does not
# hinge on that choice: from 16 back the needle is outside that MLP's window whatever its rate.

# %%
bins = {"1–2": dist_test <= 2, "3–15": (dist_test > 2) & (dist_test <= 15), "16–23": dist_test > 15}
table = {name: np.array([[run[b].mean() for b in bins.values()] for run in runs])   # (seeds, bins)
         for name, runs in cue_losses.items()}
print("loss on the token after the cue (nats), mean of 3 seeds [lowest, highest], by the needle's distance:")
for name, per_seed in table.items():
    print(f"{name:>12}: " + ",  ".join(
        f"{b} back ≈{m:.2f} [≈{lo:.2f}, ≈{hi:.2f}]"
        for b, m, lo, hi in zip(bins, per_seed.mean(0), per_seed.min(0), per_seed.max(0))))
fig, ax = plt.subplots(figsize=(7, 3))
for i, (name, per_seed) in enumerate(table.items()):
    m = per_seed.mean(0)
    ax.bar(np.arange(3) + 0.27 * (i - 1), m, 0.27, yerr=[m - per_seed.min(0), per_seed.max(0) - m], capsize=3,
           label=name)
ax.axhline(np.log(NEEDLES), color="gray", ls=":", label="ln 8: knows a needle comes, not which")
ax.set(xticks=range(3), xticklabels=[f"needle {b} back" for b in bins], ylabel="held-out loss (nats)",
       title="the token after the cue, 3 seeds (bars: lowest to highest)")
ax.legend(fontsize=8)
plt.show()
# Tolerances from seeds 0-4 in scratch runs: transformer 0.01-0.06 in every group, except seed 0, slower to leave
# its first plateau: 0.36-0.46 here, 0.1-0.7 depending on the CPU's rounding in earlier runs; MLP K = 16 (lr 0.03)
# at 3-15 back 0.12-0.37, at 16-23 back 2.3-2.9; MLP K = 3 at 3-23 back 2.12-2.16 (ln 8 = 2.08).
tf_r, k3_r, k16_r = (table[name] for name in ["transformer", "MLP, K = 3", "MLP, K = 16"])
tf_median = np.median(tf_r, axis=0)                                   # the middle one of three seeds, per group
assert tf_median.max() < 0.15                                         # found, wherever it is
assert k3_r[:, 1:].min() > np.log(NEEDLES) - 0.3                      # K = 3: out of reach from 3 back
assert k16_r[:, 1].min() > tf_median[1] + 0.05                        # K = 16: in reach, found less well
assert k16_r[:, 2].min() > np.log(NEEDLES)                            # K = 16: worse than ln 8 from 16 back
assert tf_r[:, 2].mean() < k16_r[:, 2].mean() - 1.0                   # beyond 15 back, even with a slow seed
print("transformer, worst group per seed:", [f"≈{v:.2f}" for v in tf_r.max(axis=1)])
assert np.sort(tf_r.max(axis=1))[1] < 0.1   # two seeds of three within a tenth of a nat in every group

# %% [markdown]
# The transformer finds the needle at every distance, as well 20 positions back as 2: to a few hundredths of a nat
# at two seeds of three (seeds 1 and 2 here). Seed 0 is slower to leave its first plateau (the loss of a transformer on such a task often
# sits still for a while, then drops): after 300 steps it is at 0.1 to 0.7 nats, depending even on the rounding of
# the CPU that runs this notebook. The MLP with $K = 3$ cannot see
# it from 3 positions back and stays at $\ln 8$: it has learned that a needle follows the cue, not which one. With
# $K = 16$ the MLP sees the needle up to 15 back and learns to pick it out, but less well after the same 300
# steps: it must learn the job separately for each of its 16 input slots, where attention compares the cue with
# every position using *one* query and *one* key map. From 16 back the needle is out of its window and it does
# worse than $\ln 8$ (it has become confident about slots that now hold noise). Attention found the needle by
# content. The map of one held-out sequence, for the seed with the lowest training loss, shows the cue's row looking
# at the needle:

# %%
finder = min(finders, key=lambda pair: pair[0])[1]   # chosen by training loss: the test scores stay unused
finder.eval()
finder(X_rc_test[:1])
seq_labels = [symbols[i] for i in X_rc_test[0]]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained")
for head, ax in enumerate(axes):
    im = ax.imshow(finder.blocks[0].attention.attn[0, head], cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(T_rec), seq_labels, fontsize=7)
    ax.set_yticks(range(T_rec), seq_labels, fontsize=7)
    ax.set(title=f"head {head}", xlabel="key position (token)", ylabel="query position (token)")
fig.colorbar(im, ax=axes, shrink=0.7, label="attention weight")
plt.show()
finder(X_rc_test)
to_needle = finder.blocks[0].attention.attn[np.arange(len(cue_test)), :, cue_test, cue_test - dist_test]  # (N, H)
print(f"weight from the cue to the needle, best head, mean over held-out sequences ≈{to_needle.max(axis=1).mean():.2f}")
assert to_needle.max(axis=1).mean() > 0.5   # 1.00 in this run

# %% [markdown]
# ## 6.8 Writing text
#
# `lb.sample` draws one token at a time from $\operatorname{softmax}(l_t/\tau)$ and feeds it back; the model's
# `next_logits` reads the last 32 tokens in eval mode (no dropout). A sample at a fixed seed and temperature
# $\tau = 0.8$:

# %% tags=["nbval-ignore-output"]
prompt = tokenizer.encode("A neural network")
generated = lb.sample(model.next_logits, prompt, 80, temperature=0.8, rng=0)
text = tokenizer.decode(generated)
print(text)

# %% [markdown]
# Real words and short phrases of the book, glued together by invented spellings, with a grammar that holds for a
# few words at a time. We check the first claim on the sample above: most of its words occur in the corpus.

# %%
corpus_words = set(corpus.split())
words = text.split()
real = np.mean([word in corpus_words for word in words])
assert len(generated) == len(prompt) + 80 and text.startswith("A neural network")
assert real > 0.5, real   # "most"; sampling seeds 0-11 of this model give 0.59-0.86 (mean 0.72)

# %% [markdown]
# The temperature changes what comes out: near 0 the model almost always picks its favourite next token, so the
# text tends to fall into loops; around 1 it samples what it learned; at 2 the distribution is much flatter, so
# invented spellings come more often. Measured on 8 samples of 60 tokens per temperature (sampling seeds 0-7): how
# many of the runs of 4 tokens repeat one earlier in the same sample (loops), and how many of the words after the
# prompt occur in the corpus.

# %%
def sample_stats(temperature, seeds=range(8), n=60):
    """Per seed: the share of 4-token runs that repeat an earlier one, and of the new words found in the corpus."""
    repeats, real, texts = [], [], set()
    for seed in seeds:
        out = lb.sample(model.next_logits, prompt, n, temperature=temperature, rng=seed)
        new = out[len(prompt):]
        runs = [tuple(new[i:i + 4]) for i in range(n - 3)]
        repeats.append(1 - len(set(runs)) / len(runs))
        words = tokenizer.decode(out).split()[3:]       # after "A neural network" (decoded whole: no half words)
        real.append(np.mean([word in corpus_words for word in words]))
        texts.add(tuple(new))
    return np.array(repeats), np.array(real), len(texts)

stats = {tau: sample_stats(tau) for tau in (0.1, 1.0, 2.0)}
for tau, (rep, real_share, distinct) in stats.items():
    print(f"τ = {tau}: {distinct} different samples; repeated 4-token runs ≈{rep.mean():.2f} "
          f"[≈{rep.min():.2f}, ≈{rep.max():.2f}], words found in the corpus ≈{real_share.mean():.2f} "
          f"[≈{real_share.min():.2f}, ≈{real_share.max():.2f}]")
repeats, real = ({tau: st[k].mean() for tau, st in stats.items()} for k in (0, 1))
# Means of seeds 0-7 here (SkylakeX) and with the Sandybridge kernel, numpy's AVX paths off (whose training rounds
# differently, so the model differs): repeats 0.18 and 0.21 at τ = 0.1, 0.00 at 1 and 2; corpus words 0.79 / 0.66 /
# 0.43 and 0.76 / 0.60 / 0.44 at τ = 0.1 / 1 / 2, single samples spreading about ±0.15 around their mean.
assert stats[0.1][2] == 8                                            # 8 samples, not one sample 8 times
assert 0.08 < repeats[0.1] < 0.35 and max(repeats[1.0], repeats[2.0]) < 0.05   # loops only when τ is small
assert real[0.1] > real[1.0] > real[2.0] + 0.1 and real[2.0] < 0.55          # fewer real words as τ grows

# %% [markdown]
# At τ = 0.1 about a fifth of the 4-token runs repeat an earlier one (the text circles back on itself), though each
# seed still gives its own text; at 1 and 2 almost none do. The share of words that exist in the corpus falls from
# about three quarters at τ = 0.1 to about two thirds at 1 and two fifths at 2. Move the temperature and the seed
# and read the text yourself:

# %% tags=["nbval-ignore-output"]
def draw_sample(temperature, seed):
    out = lb.sample(model.next_logits, prompt, 60, temperature=temperature, rng=seed)
    return tokenizer.decode(out)

explore(draw_sample, temperature=w.FloatSlider(value=0.8, min=0.0, max=2.0, step=0.1, description="τ"),
        seed=w.IntSlider(value=0, min=0, max=20, description="seed"))

# %% [markdown]
# ## Summary
#
# - Attention is a differentiable dictionary: weights $\operatorname{softmax}(q \cdot k_j / \sqrt d)$ mix the values
#   $v_j$. In self-attention, queries, keys and values are linear maps of the tokens; heads run several look-ups
#   in parallel.
# - Dividing by $\sqrt d$ keeps the scores' variance at 1 whatever $d$ (for queries and keys with independent
#   entries of variance 1); without it the softmax saturates and most queries get almost no gradient.
# - A causal mask ($-\infty$ above the diagonal) makes position $t$ blind to the future, exactly, forward and
#   backward.
# - Attention ignores order, so positions are added to the token embeddings.
# - A transformer block is pre-norm attention + MLP, each on a residual connection; a stack of them with an
#   embedding and a linear head is a GPT. On this book's 10 000 training tokens it is level with chapter 3's
#   three-token MLP on the test tokens (over three seeds, the difference of the means is smaller than what the
#   seed alone changes); it is better at the first positions of a window and no better where it can read further
#   back.
# - Attention's reach costs $T^2 D$ multiply-adds per sequence for the scores and $T \cdot D$ parameters for learned
#   positions, and ends at the window. It pays off when the answer must be found by content at a distance that
#   varies: there one attention layer finds it at every distance (a few hundredths of a nat at two of three
#   seeds); an MLP reading 16 tokens, with its own best learning rate, finds it less well within its window after
#   the same 300 steps and not at all beyond; one reading 3 tokens not at all.
#
# ## Exercises
#
# Write your answer between the marked lines of each exercise cell; the cell after it checks it and says what is
# wrong, with a hint, but never the answer. Nothing after an exercise depends on your answer. Exercises 6.2-6.4
# and 6.7 are "implement it".
#
# **6.1** One query $q = (1, 0)$, two keys $k_1 = (2, 0)$, $k_2 = (0, 2)$, values $v_1 = 1$, $v_2 = 3$, $d = 2$.
# Compute the answer of the look-up by hand (a number; `np.exp` and `np.sqrt` are allowed).

# %%
import littlebook.exercises as ex

# %%
# Exercise 6.1: the answer a₁v₁ + a₂v₂ of the look-up, by hand
### BEGIN SOLUTION
s1, s2 = (1 * 2 + 0 * 0) / np.sqrt(2), (1 * 0 + 0 * 2) / np.sqrt(2)
a1 = np.exp(s1) / (np.exp(s1) + np.exp(s2))
answer_1 = a1 * 1 + (1 - a1) * 3
### END SOLUTION

# %%
y_61, _ = scaled_dot_product_attention(np.array([[1.0, 0.0]]), np.array([[2.0, 0.0], [0.0, 2.0]]),
                                       np.array([[1.0], [3.0]]))
ex.check_value("6.1", answer_1, y_61[0, 0],
               hint="scores q·k_j/√d, weights a_j = e^{s_j}/(e^{s_1}+e^{s_2}), answer Σ a_j v_j")

# %% [markdown]
# **6.2 (implement it).** The causal mask: a (T, T) boolean array, True where query position $i$ may look at key
# position $j$. Without `np.tril` or `causal_mask`.

# %%
# Exercise 6.2: the causal mask, True where key position j ≤ query position i
def my_causal_mask(T):
    ### BEGIN SOLUTION
    return np.arange(T)[None, :] <= np.arange(T)[:, None]
    ### END SOLUTION


# %%
ex.check_function("6.2", my_causal_mask, causal_mask, inputs=[(1,), (4,), (7,)],
                  hint="row i is the query, column j the key; compare np.arange(T) laid out as a row and a column")

# %% [markdown]
# **6.3 (implement it).** One causal attention head, forward: from $x$ (T, D) and the weights
# $W_Q, W_K, W_V$ (d, D), return $O = \operatorname{softmax}(Q K^\top / \sqrt d + M)\, V$ (T, d) and the weights
# $A$ (T, T). No biases. The check compares with `lb.MultiHeadAttention` with one head (and its output projection
# set to the identity).

# %%
# Exercise 6.3: one causal attention head: x (T, D), W_q, W_k, W_v (d, D) → (O (T, d), A (T, T))
def head_forward(x, W_q, W_k, W_v):
    ### BEGIN SOLUTION
    q, k, v = x @ W_q.T, x @ W_k.T, x @ W_v.T
    s = np.where(causal_mask(len(x)), q @ k.T / np.sqrt(q.shape[1]), -np.inf)
    a = softmax(s, axis=-1)
    return a @ v, a
    ### END SOLUTION


# %%
def library_head(x, W_q, W_k, W_v):
    layer = lb.MultiHeadAttention(embed_dim=x.shape[1], num_heads=1, causal=True, dtype=np.float64)
    layer.q_proj.weight.value[...], layer.k_proj.weight.value[...], layer.v_proj.weight.value[...] = W_q, W_k, W_v
    layer.q_proj.bias.value[...] = layer.v_proj.bias.value[...] = layer.out_proj.bias.value[...] = 0
    layer.out_proj.weight.value[...] = np.eye(x.shape[1])
    return layer(x[None])[0], layer.attn[0, 0]

rng_63 = np.random.default_rng(63)
inputs_63 = [tuple(rng_63.normal(size=shape) for shape in [(5, 4), (4, 4), (4, 4), (4, 4)]) for _ in range(2)]
ex.check_function("6.3", head_forward, library_head, inputs=inputs_63, rtol=1e-10,
                  hint="Q = x W_Qᵀ; scores Q Kᵀ/√d with d the number of columns of Q; −∞ where the mask is False")

# %% [markdown]
# **6.4 (implement it).** The backward pass of the head of 6.3 all the way to its input: given $\partial O$,
# return $\partial x$. Use the formulas of §6.2 for $\partial Q, \partial K, \partial V$, then go back through the
# three products $Q = x W_Q^\top$, … ($x$ feeds all three). The check compares with central differences.

# %%
# Exercise 6.4: ∂L/∂x of the causal head of 6.3, given ∂L/∂O (T, d)
def head_backward(x, W_q, W_k, W_v, grad_o):
    ### BEGIN SOLUTION
    q, k, v = x @ W_q.T, x @ W_k.T, x @ W_v.T
    a = softmax(np.where(causal_mask(len(x)), q @ k.T / np.sqrt(q.shape[1]), -np.inf), axis=-1)
    grad_v, grad_a = a.T @ grad_o, grad_o @ v.T
    grad_s = a * (grad_a - np.sum(grad_a * a, axis=-1, keepdims=True)) / np.sqrt(q.shape[1])
    return (grad_s @ k) @ W_q + (grad_s.T @ q) @ W_k + grad_v @ W_v
    ### END SOLUTION


# %%
x_64, W_q64, W_k64, W_v64 = inputs_63[0]
ex.check_backward("6.4", lambda x: library_head(x, W_q64, W_k64, W_v64)[0],
                  lambda x, g: head_backward(x, W_q64, W_k64, W_v64, g), x_64,
                  hint="softmax backward row by row, ∂S = A ⊙ (∂A − rowsum(∂A ⊙ A)); then x feeds Q, K and V: "
                       "add the three paths ∂Q W_Q + ∂K W_K + ∂V W_V")

# %% [markdown]
# **6.5** Write the number of parameters of `lb.TinyTransformer(V, context=T, dim=D, num_layers=L)` as a formula
# in $V$ (vocabulary), $T$ (context), $D$ (features) and $L$ (blocks), with the MLP width $4D$. The check compares
# it with `num_parameters()` of models of several sizes, the trained `model` among them, and then prints which
# part of `model` is the largest.

# %%
# Exercise 6.5: n_params(V, T, D, L), the parameters of lb.TinyTransformer(V, context=T, dim=D, num_layers=L)
def n_params(V, T, D, L):
    ### BEGIN SOLUTION
    attention = 4 * D * D + 3 * D                  # W_Q, W_K, W_V, W_O; biases for Q, V and the output
    mlp = D * 4 * D + 4 * D + 4 * D * D + D
    block = attention + mlp + 2 * 2 * D            # + two layer norms (γ, β)
    return V * D + T * D + L * block + 2 * D + D * V + V
    ### END SOLUTION

# %%
ex.check_function("6.5", n_params, lambda V, T, D, L: lb.TinyTransformer(V, context=T, dim=D, num_layers=L,
                                                                         rng=0).num_parameters(),
                  [(VOCAB, T, 32, 2), (50, 10, 8, 3), (7, 5, 12, 1)], name="n_params",
                  hint="embedding V·D, positions T·D, per block 4 attention matrices, 2 MLP layers and 2 layer "
                       "norms, a final layer norm and the output Linear (with bias)")
token_tables = model.embed.weight.value.size + model.head.weight.value.size + model.head.bias.value.size
all_blocks = sum(p.value.size for p in model.blocks.parameters())
print(f"token embedding + output head {token_tables:,}, the 2 blocks {all_blocks:,}, "
      f"positions {model.pos.weight.value.size:,}, of {model.num_parameters():,}")
assert all_blocks > token_tables > 0.45 * model.num_parameters()

# %% [markdown]
# **6.6** Add the same vector $b$ to every key and compute the attention weights again. (The check compares them
# with the correct weights.) Then say, in the cell after the check, what this tells you about a bias in the key
# projection.

# %%
rng_66 = np.random.default_rng(3)
q_66, k_66, v_66, b_66 = rng_66.normal(size=(5, 4)), rng_66.normal(size=(6, 4)), rng_66.normal(size=(6, 2)), \
    rng_66.normal(size=4)

# %%
# Exercise 6.6: the attention weights (5, 6) of q_66 with the keys k_66 + b_66 (values v_66)
### BEGIN SOLUTION
_, a_shifted = scaled_dot_product_attention(q_66, k_66 + b_66, v_66)
### END SOLUTION

# %%
ex.check_array("6.6", a_shifted, scaled_dot_product_attention(q_66, k_66, v_66)[1], rtol=1e-10, name="weights",
               hint="scaled_dot_product_attention(q, k + b, v) returns (output, weights)")

# %% [markdown]
# *Exercise 6.6, why:*
#
# ### BEGIN SOLUTION
#
# $q \cdot (k_j + b) = q \cdot k_j + q \cdot b$ adds the same number $q \cdot b$ to every score of a row, and
# $\operatorname{softmax}(s + c) = \operatorname{softmax}(s)$: a key bias changes nothing the layer computes, so its
# gradient is exactly 0 and it would be a parameter that never learns.
#
# ### END SOLUTION

# %% [markdown]
# **6.7 (implement it).** Greedy decoding ($\tau \to 0$): starting from `prompt`, append `n` tokens, each the one
# with the largest logit `next_logits(ids so far)`. The check compares with `lb.sample(..., temperature=0)`.

# %%
# Exercise 6.7: greedy decoding: n times, append the argmax of next_logits(ids)
def greedy(next_logits, prompt, n):
    ### BEGIN SOLUTION
    ids = list(prompt)
    for _ in range(n):
        ids.append(int(np.argmax(next_logits(np.array(ids)))))
    return np.array(ids)
    ### END SOLUTION


# %%
ex.check_function("6.7", lambda p, n: greedy(model.next_logits, p, n),
                  lambda p, n: lb.sample(model.next_logits, p, n, temperature=0), inputs=[(prompt, 10)],
                  hint="next_logits takes all ids so far as an array and returns one logit per token")

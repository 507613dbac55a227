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
# # 3. Training
#
# Chapter 1 said that training means *minimising a loss*. This chapter opens the two boxes in that sentence:
# which loss, and how to minimise it.
#
# By the end of it you will be able to
#
# - compute binary and multi-class **cross-entropy**, and explain why libraries work with logits instead of
#   probabilities (−log 0 = ∞);
# - write the probability of a text with the **chain rule of probability**, tokenize text with **byte-pair
#   encoding**, train a **causal** next-token model by summing cross-entropies, and sample text from it;
# - run **gradient descent**, recognise a learning rate that is too small or too large from its trajectory, and
#   explain what the batch size of **stochastic** gradient descent trades;
# - carry out **backpropagation** by hand on a two-layer network, check it against finite differences, and read
#   the gradient of a digit classifier: which outputs are pushed up, which down, and which weights change.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import littlebook as lb
from littlebook import plot as lbplot
from littlebook.functional import log_softmax, logsumexp, sigmoid, softmax
from littlebook.widgets import explore, log_slider

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 3.1 Binary cross-entropy
#
# A binary classifier outputs a probability $p_i = P(y_i = 1 \mid x_i)$. Its loss is the **binary cross-entropy**
#
# $$L = -\frac{1}{N}\sum_{i=1}^N \big[\, y_i \log p_i + (1-y_i)\log(1-p_i) \,\big],$$
#
# with $N$ the number of samples, $y_i \in \{0, 1\}$ the true label and $p_i$ the prediction. For each sample only
# one of the two terms survives: $-\log p_i$ when $y_i = 1$, $-\log(1-p_i)$ when $y_i = 0$. The four extreme
# cases:
#
# | | model says $p_i = 1$ | model says $p_i = 0$ |
# |---|---|---|
# | $y_i = 1$ | $-\log 1 = 0$: right and sure | $-\log 0 = \infty$: wrong and sure |
# | $y_i = 0$ | $-\log(1-1) = \infty$: wrong and sure | $-\log(1-0) = 0$: right and sure |
#
# `lb.BCELoss` takes probabilities, `lb.BCEWithLogitsLoss` takes the logit $z$ with $p = \sigma(z)$; we compute the
# four cases with both (a logit of ±30 means $p = \sigma(\pm 30)$, within $10^{-13}$ of 1 or 0).

# %%
bce, bce_logits = lb.BCELoss(), lb.BCEWithLogitsLoss()
cases = [(1, 1.0, "right, sure"), (1, 0.0, "wrong, sure"), (0, 0.0, "right, sure"), (0, 1.0, "wrong, sure")]
print(" y    p   BCELoss  BCEWithLogitsLoss(z = ±30)")
for y, p, what in cases:
    target = np.array([float(y)])
    loss_p = bce(np.array([p]), target)
    loss_z = bce_logits(np.array([30.0 if p == 1.0 else -30.0]), target)
    print(f" {y}  {p:.1f}  {loss_p:7.4f}  {loss_z:7.4f}   {what}")

assert bce(np.array([1.0]), np.array([1.0])) < 1e-6 and bce(np.array([0.0]), np.array([0.0])) < 1e-6
assert np.isclose(bce_logits(np.array([-30.0]), np.array([1.0])), 30.0)  # wrong by 30 logits costs 30

# %% [markdown]
# A confident mistake costs a lot, a hesitant one a little: the loss of one sample is $-\log$ of the probability
# the model gave to the *correct* answer, and that curve goes to infinity at 0.

# %%
p = np.linspace(0.001, 0.999, 500)
fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.plot(p, -np.log(p), label=r"$y=1$: $-\log p$")
ax.plot(p, -np.log(1 - p), label=r"$y=0$: $-\log(1-p)$")
ax.set(xlabel="predicted probability $p$ of class 1", ylabel="loss of one sample", ylim=(0, 7))
ax.legend()
plt.show()

# %% [markdown]
# ### Why −log 0 forces clipping, or logits
#
# The formula taken literally breaks at the extremes: $-\log 0 = \infty$, and worse, the *correct* case $y = 0$,
# $p = 0$ computes $0 \cdot \log 0 = 0 \cdot (-\infty)$ = NaN, which then poisons every sum it enters. And a
# probability of exactly 0 is easy to get: $\sigma(z) = 1/(1 + e^{-z})$ rounds to 0 for $z = -800$.
#
# There are two ways out. `BCELoss` **clips** $p$ into $[\epsilon, 1-\epsilon]$ ($\epsilon = 10^{-7}$): the loss is
# capped at $-\log 10^{-7} \approx 16.1$. `BCEWithLogitsLoss` never forms $p$: it rewrites
# $-\log \sigma(z) = \log(1 + e^{-z}) = \operatorname{logsumexp}(0, -z)$, the **log-sum-exp** trick, which is exact
# for every $z$.

# %%
def naive_bce(p, y):
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))

z = np.array([-800.0])
with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
    p_naive = 1 / (1 + np.exp(-z))  # e^{800} overflows to inf, so p becomes exactly 0
    print("naive sigmoid(-800)          =", p_naive[0])
    print("naive BCE, y=1, p=0          =", naive_bce(p_naive, 1.0)[0])
    print("naive BCE, y=0, p=0          =", naive_bce(p_naive, 0.0)[0], " (0 · log 0)")
print("BCELoss (clipped), y=1, p=0  =", round(bce(p_naive, np.array([1.0])), 4))
print("BCEWithLogitsLoss, y=1, z=-800 =", bce_logits(z, np.array([1.0])))
print("logsumexp(0, 800)            =", logsumexp(np.array([0.0, 800.0])))

with np.errstate(all="ignore"):
    assert np.isinf(naive_bce(p_naive, 1.0)).all() and np.isnan(naive_bce(p_naive, 0.0)).all()
assert abs(bce(p_naive, np.array([1.0])) + np.log(1e-7)) < 1e-9
assert bce_logits(z, np.array([1.0])) == 800.0 == logsumexp(np.array([0.0, 800.0]))

# %% [markdown]
# Clipping keeps the loss finite, but look at what it does to the **gradient**: where $p$ is clipped the loss is
# flat, so the gradient is 0 and the model receives no signal to fix its most confident mistake. On logits the
# gradient is $\partial L/\partial z = \sigma(z) - y$, which is $-1$ here: the strongest possible push. This is why
# networks output logits and the loss applies the sigmoid (or softmax) itself.

# %%
bce(p_naive, np.array([1.0]))
grad_clipped = bce.backward()
bce_logits(z, np.array([1.0]))
grad_logits = bce_logits.backward()
print("BCELoss           dL/dp =", grad_clipped[0] + 0.0)  # + 0.0 turns -0.0 into 0.0
print("BCEWithLogitsLoss dL/dz =", grad_logits[0])
assert grad_clipped[0] == 0.0 and grad_logits[0] == -1.0

# %% [markdown]
# ## 3.2 Multi-class cross-entropy and softmax
#
# With $C$ classes the model outputs $C$ logits $z_{i1}, \dots, z_{iC}$ per sample; the **softmax**
# $p_{ic} = e^{z_{ic}} / \sum_{k} e^{z_{ik}}$ turns them into probabilities, and the loss becomes
#
# $$L = -\frac{1}{N}\sum_{i=1}^N \sum_{c=1}^C y_{ic} \log p_{ic},$$
#
# everything as before, with $y_{ic}$ the one-hot target (1 for the true class, 0 otherwise) and $C$ the number of
# classes. Only the true class's term survives, so it is again $-\log$(probability of the correct answer).
# `lb.CrossEntropyLoss` takes logits and either integer classes or one-hot rows; all three computations agree.

# %%
logits = np.array([[2.0, 1.0, 0.1, -1.0],
                   [0.5, 2.5, 0.3, 0.0],
                   [1.0, 1.0, 1.0, 4.0]])
classes = np.array([0, 2, 3])
onehot = lb.one_hot(classes, 4, dtype=np.float64)
ce = lb.CrossEntropyLoss()

by_formula = -np.mean(np.sum(onehot * np.log(softmax(logits)), axis=1))
by_class, by_onehot = ce(logits, classes), ce(logits, onehot)
print("probabilities:\n", softmax(logits))
print(f"formula {by_formula:.6f}   CrossEntropyLoss(classes) {by_class:.6f}   CrossEntropyLoss(one-hot) {by_onehot:.6f}")
assert np.isclose(by_formula, by_class) and np.isclose(by_class, by_onehot)

# %% [markdown]
# The second sample gives its true class 2 only 8 % and costs the most; the first and third are right and cost
# little. With $C = 2$ and logits $(z, 0)$ the softmax is $(\sigma(z), 1 - \sigma(z))$: binary cross-entropy is the
# special case.

# %%
zs = np.array([-3.0, 0.5, 4.0])
two_class = ce(np.stack([zs, np.zeros(3)], axis=1), np.array([0, 1, 0]))
binary = bce_logits(zs, np.array([1.0, 0.0, 1.0]))
print(f"2-class CrossEntropyLoss {two_class:.6f} = BCEWithLogitsLoss {binary:.6f}")
assert np.isclose(two_class, binary)

# %% [markdown]
# ## 3.3 The chain rule of probability and autoregressive models
#
# How can a classifier model *text*? Any joint distribution of a sequence factorises into next-token
# conditionals, the **chain rule of probability**:
#
# $$P(x_1, x_2, \dots, x_T) = P(x_1)\,P(x_2 \mid x_1)\,P(x_3 \mid x_1, x_2) \cdots = \prod_{t=1}^T P(x_t \mid x_{<t}).$$
#
# This is not an approximation; it is a rewriting. We check it on a made-up joint distribution over all sequences
# of 3 letters from {a, b, c}: compute each conditional by summing out, multiply, and recover the joint exactly.

# %%
rng = np.random.default_rng(0)
joint = rng.random((3, 3, 3))
joint /= joint.sum()                                  # P(x1, x2, x3), a 3×3×3 table
p1 = joint.sum(axis=(1, 2))                           # P(x1)
p2_given_1 = joint.sum(axis=2) / p1[:, None]          # P(x2 | x1) = P(x1, x2) / P(x1)
p3_given_12 = joint / joint.sum(axis=2, keepdims=True)  # P(x3 | x1, x2)
product = p1[:, None, None] * p2_given_1[:, :, None] * p3_given_12
seq = (2, 0, 1)  # "cab"
print(f"P(cab) = {p1[2]:.4f} · {p2_given_1[2, 0]:.4f} · {p3_given_12[2, 0, 1]:.4f} = {product[seq]:.5f}; "
      f"joint table: {joint[seq]:.5f}")
assert np.allclose(product, joint)

# %% [markdown]
# So a model that predicts the **next** token from the ones before it, a classifier over the vocabulary applied at
# every position, models whole texts. It is an **autoregressive generative model**: it generates by sampling
# $x_1$, feeding it back, sampling $x_2$, and so on.
#
# Training maximises the probability of the training texts. Taking $-\log$ turns the product into a sum:
#
# $$-\log P(x_1, \dots, x_T) = \sum_{t=1}^T -\log P(x_t \mid x_{<t}),$$
#
# and each term is the cross-entropy of one next-token prediction. We minimise the **sum, over training sequences
# and time steps, of the cross-entropy loss**.
#
# ### The tokenizer
#
# Text has to become numbers first. A **tokenizer** does it; the common one is **byte-pair encoding** (BPE): start
# from the 256 possible bytes, find the most frequent adjacent pair of tokens in the training text, give it a new
# id, replace it everywhere, and repeat until the vocabulary has the size we want. Frequent words become single
# tokens; rare words stay split into pieces; any text at all can still be encoded, byte by byte if need be.
#
# We train one on the book's own corpus, a few pages of plain lessons about deep learning that ship with
# `littlebook`.

# %%
corpus = lb.load_corpus()
print(f"{len(corpus.encode('utf-8')):,} bytes, {len(corpus.split()):,} words. It begins:\n")
print(corpus[:300])

# %%
VOCAB = 384
tokenizer = lb.BPETokenizer.train(corpus, VOCAB)
print(tokenizer, "\nfirst 16 merges:")
for (a, b), new in tokenizer.merges[:16]:
    print(f"  {tokenizer.token_str(a)!r:>8} + {tokenizer.token_str(b)!r:<8} → {new}: {tokenizer.token_str(new)!r}")

# %% [markdown]
# The first merges join a space to the following letter (`' t'`, `' a'`), then common endings and short words: the
# tokenizer learns English spelling from counts alone. The pieces are visible when we encode a sentence:

# %%
sentence = "The gradient tells each weight how to change."
ids = tokenizer.encode(sentence)
print(len(sentence.encode()), "bytes →", len(ids), "tokens:", "|".join(tokenizer.token_str(i) for i in ids))
print(ids)
assert tokenizer.decode(ids) == sentence
assert tokenizer.decode(tokenizer.encode("unseen wörds → still fine ✓")) == "unseen wörds → still fine ✓"

token_ids = tokenizer.encode(corpus)
print(f"the corpus: {len(corpus.encode()):,} bytes → {len(token_ids):,} tokens, "
      f"{len(corpus.encode()) / len(token_ids):.2f} bytes per token")
assert tokenizer.decode(token_ids) == corpus

# %% [markdown]
# ### A causal next-token model
#
# The model must predict token $x_{t+1}$ from $x_1, \dots, x_t$ only. A model whose logits $l_t$ depend only on the
# past is called **causal**: the future cannot influence the past. (The notes spell it "casual", a typo: the word is
# *causal*, from cause and effect.) Training on whole sequences at once is only honest if the model is causal;
# otherwise it could read the answer at position $t$ from its input at position $t+1$.
#
# `lb.text.NextTokenMLP` is the simplest such model (Bengio et al., 2003): at each position it looks up an
# embedding vector for each of the last $K$ tokens, concatenates them and feeds them to an MLP,
#
# $$l_t = W_2 \tanh\!\big(W_1 [e(x_{t-K+1}); \dots; e(x_t)] + b_1\big) + b_2 ,$$
#
# where the embedding $e(x) = \text{one\_hot}(x)\,E^\top$ is an `lb.Linear` without bias reading a one-hot vector.
# Positions before the start of the text read a padding token.
#
# The data are windows of $T$ tokens; the targets are the same windows shifted by one, so that position $t$ of
# `Y` is the token that follows position $t$ of `X`.

# %%
T, K = 32, 3
n_val = len(token_ids) // 10                      # the last 10 % of the corpus is held out
train_ids, val_ids = token_ids[:-n_val], token_ids[-n_val:]
X_lm, Y_lm = lb.context_windows(train_ids, T, stride=T)
X_lm_val, Y_lm_val = lb.context_windows(val_ids, T, stride=T)
print("X", X_lm.shape, "Y", Y_lm.shape, " validation", X_lm_val.shape)
print("X[0, :6] =", X_lm[0, :6], "→", repr(tokenizer.decode(X_lm[0, :6])))
print("Y[0, :6] =", Y_lm[0, :6], "→", repr(tokenizer.decode(Y_lm[0, :6])))
assert np.array_equal(X_lm[:, 1:], Y_lm[:, :-1])

lm = lb.text.NextTokenMLP(VOCAB, context=K, embed_dim=24, hidden=96, rng=0)
print(lm, f"\n{lm.num_parameters():,} parameters")

# %% [markdown]
# **Causality, checked.** We change every token after position 10 and compare the logits: positions 0…10 are
# bit-for-bit identical, later ones differ.

# %%
x = X_lm[:1].copy()
x_changed = x.copy()
x_changed[0, 11:] = rng.integers(0, VOCAB, size=T - 11)
logits_a, logits_b = lm(x), lm(x_changed)
same = np.all(logits_a == logits_b, axis=-1)[0]
print("logits unchanged at positions:", np.flatnonzero(same))
assert same[:11].all() and not same[11:].any()

# %% [markdown]
# Before training the model guesses almost uniformly among 384 tokens: a per-token loss near $\log 384 \approx 5.95$.
# We train it with `CrossEntropyLoss(reduction="sum")`, which adds the loss over all sequences and positions
# (logits of shape (N, T, C), targets (N, T)), and Adam, for a few seconds.

# %%
lm_loss = lb.CrossEntropyLoss(reduction="sum")
per_token = lb.CrossEntropyLoss()  # the mean over all N·T positions: lb.evaluate reports the loss per token

loss_before = lb.evaluate(lm, per_token, X_lm, Y_lm)[0]
print(f"before training: ≈{loss_before:.2f} per token (log V = {np.log(VOCAB):.3f})")
assert abs(loss_before - 6.02) < 0.01  # a fixed initialisation (rng=0): only round-off differs between CPUs

# %% tags=["nbval-ignore-output"]
lm_history = lb.fit(lm, lm_loss, lb.Adam(lm.parameters(), lr=0.01), (X_lm, Y_lm), epochs=8, batch_size=32,
                    progress=False, rng=0)
print(f"trained in {lm_history.seconds:.1f} s ({lm_history.steps} steps)")

# %%
lm_train_loss = lb.evaluate(lm, per_token, X_lm, Y_lm)[0]
lm_val_loss = lb.evaluate(lm, per_token, X_lm_val, Y_lm_val)[0]
print(f"final per-token loss: train ≈{lm_train_loss:.1f}, validation ≈{lm_val_loss:.1f} "
      f"(uniform guessing: {np.log(VOCAB):.3f})")
# fit records each batch's *summed* loss; divide by the batch's number of positions to plot it per token
batch_tokens = T * np.array([min(32, len(X_lm) - s) for s in range(0, len(X_lm), 32)] * len(lm_history.train_loss))
fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.plot(np.array(lm_history.step_loss) / batch_tokens, label="training batches")
ax.axhline(lm_val_loss, color="C1", ls="--", label="validation, after training")
ax.axhline(np.log(VOCAB), color="grey", ls=":", label="uniform guessing, log V")
ax.set(xlabel="step", ylabel="cross-entropy per token")
ax.legend(fontsize="small")
plt.show()
assert lm_val_loss < np.log(VOCAB) - 1.5
assert 1.8 < lm_train_loss < 2.4 and 3.3 < lm_val_loss < 3.8  # training seeds 0-3 and CPUs A-D: 2.01-2.08, 3.47-3.55

# %% [markdown]
# The validation loss stays well above the training loss: with 50 000 weights and 11 000 training tokens the model
# starts to memorise the book, a first taste of overfitting (chapter 5 fights it).
#
# The summed loss *is* $-\log P$ of the text. A sentence in the style of the book is much more probable under the
# model than the same tokens in reverse order:

# %%
def log_prob(model, text):
    ids = tokenizer.encode(text)
    logp = log_softmax(model(ids[None, :-1])[0])       # row t: log P(x_{t+1} | x_1..x_t)
    return float(np.sum(logp[np.arange(len(ids) - 1), ids[1:]]))  # chain rule, as a sum of logs

good = "The loss says how wrong the model is."
ids = tokenizer.encode(good)
scrambled = tokenizer.decode(ids[:1].tolist() + ids[1:][::-1].tolist())
print(f"log P({good!r}) ≈{log_prob(lm, good):.0f}")
print(f"log P({scrambled!r}) ≈{log_prob(lm, scrambled):.0f}")
assert log_prob(lm, good) > log_prob(lm, scrambled) + 40  # training seeds 0-3: a gap of 60-71 nats

# %% [markdown]
# **Sampling.** `lb.sample` asks the model for the logits of the next token, draws one from
# $\operatorname{softmax}(l_t / \tau)$, appends it and repeats. The temperature $\tau$ sharpens ($\tau < 1$) or
# flattens ($\tau > 1$) the distribution; $\tau \to 0$ is greedy decoding, always the most probable token.

# %% tags=["nbval-ignore-output"]
def next_logits(ids):
    return lm(ids[None, -T:])[0, -1]

prompt = tokenizer.encode("A model is")
for temperature in (0.0, 0.7, 1.0):
    out = lb.sample(next_logits, prompt, 40, temperature=temperature, rng=0)
    print(f"τ = {temperature}: {tokenizer.decode(out)!r}\n")
    assert len(out) == len(prompt) + 40 and tokenizer.decode(out).startswith("A model is")
# The sampled text depends on the trained weights, which differ in their last digits between CPUs: this cell's
# output is not compared.

# %% [markdown]
# A few seconds of training on 25 KB give short real words and a few phrases of the book, glued by spelling-like
# noise; chapter 6's transformer, trained on the same tokens, will be compared with this model's validation loss.
#
# ## 3.4 Gradient descent
#
# Apart from linear regression (chapter 1), the best weights $w^*$ have no closed form. The general way to minimise
# a function is **gradient descent**: start from a random $w_0$ and repeatedly step against the gradient,
#
# $$w_{n+1} = w_n - \eta\, \nabla \mathcal{L}(w_n).$$
#
# The gradient points uphill, so this moves the estimate in the direction that locally *decreases* the loss. The
# positive number $\eta$ is the **learning rate**: it sets how far each step goes.
#
# We watch it on a loss with two weights, a long tilted valley
# $\mathcal{L}(w) = \tfrac12 w^\top A w$ whose curvature is 1 along the valley and 10 across it. Written as a
# `Module` whose forward pass *is* the loss surface, `lb.SGD` can update its weights like any network's.

# %%
angle = np.deg2rad(30)
R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
A = R @ np.diag([1.0, 10.0]) @ R.T        # curvatures 1 and 10 (its eigenvalues)

class Valley(lb.Module):
    """L(w) = ½ wᵀ A w; ∂L/∂w = A w. The 'network' is just its two weights."""

    def __init__(self, w0):
        self.w = lb.Parameter(np.array(w0, dtype=np.float64))

    def forward(self, x=None):
        return 0.5 * self.w.value @ A @ self.w.value

    def backward(self, grad_out=1.0):
        self.w.grad += grad_out * (A @ self.w.value)

valley = Valley([1.0, -2.0])
valley.forward()
valley.backward()
numeric = lb.gradcheck.numerical_gradient(valley.forward, valley.w.value)
print("backward:", valley.w.grad, " finite differences ≈", numeric)
assert lb.rel_error(valley.w.grad, numeric) < 1e-8

# %%
W0 = [-4.0, 2.5]

def descend(lr, steps=40, w0=W0):
    """Run SGD on the valley; return the path (steps + 1, 2) and the loss at each point."""
    model = Valley(w0)
    opt = lb.SGD(model.parameters(), lr=lr)
    path, losses = [model.w.value.copy()], [model.forward()]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            opt.zero_grad()
            model.forward()
            model.backward()
            opt.step()
            path.append(model.w.value.copy())
            losses.append(model.forward())
    return np.array(path), np.array(losses)

g1, g2 = np.meshgrid(np.linspace(-5, 5, 120), np.linspace(-4, 4, 100))
grid_loss = 0.5 * np.einsum("...i,ij,...j->...", np.stack([g1, g2], -1), A, np.stack([g1, g2], -1))

def draw_descent(lr, ax_path=None, ax_loss=None, steps=40):
    if ax_path is None:
        _, (ax_path, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.8))
    path, losses = descend(lr, steps)
    ax_path.contour(g1, g2, grid_loss, levels=np.geomspace(0.05, 80, 12), cmap="Greys", linewidths=0.7)
    ax_path.plot(path[:, 0], path[:, 1], "o-", ms=3, lw=1, label=f"η = {lr:g}")
    ax_path.plot(0, 0, "k*", ms=10)
    ax_path.set(xlim=(-5, 5), ylim=(-4, 4), xlabel="$w_1$", ylabel="$w_2$", aspect="equal")
    ax_path.legend(loc="lower right", fontsize="small")
    ax_loss.semilogy(losses, label=f"η = {lr:g}")
    ax_loss.set(xlabel="step", ylabel="loss (log scale)")
    ax_loss.legend(fontsize="small")
    return f"η = {lr:g}: loss {losses[0]:.3g} → ≈{losses[-1]:.2g} after {steps} steps"

# %% [markdown]
# Four learning rates, 40 steps each, from the same start:

# %%
rates = {0.02: "too small", 0.1: "good", 0.19: "too large: bounces", 0.21: "much too large: diverges"}
fig, axes = plt.subplots(2, 4, figsize=(15, 6.5), gridspec_kw={"height_ratios": [1.4, 1]})
final = {}
for i, (lr, what) in enumerate(rates.items()):
    print(draw_descent(lr, axes[0, i], axes[1, i]), f"  ({what})")
    axes[0, i].set_title(what)
    final[lr] = descend(lr)[1][-1]
plt.tight_layout()
plt.show()

assert final[0.1] < 1e-3 < 0.1 < final[0.02]           # good beats too small by far
assert final[0.19] > final[0.1]                         # bouncing wastes steps
assert final[0.21] > descend(0.21)[1][0]                # diverged: worse than the start

# %% [markdown]
# - **η = 0.02, too small:** every step is safe but tiny; after 40 steps the weights are still far along the valley.
# - **η = 0.1, good:** near the minimum in a handful of steps.
# - **η = 0.19, too large:** each step jumps over the valley floor to the other side; it zig-zags and converges
#   slowly.
# - **η = 0.21, much too large:** each jump lands higher than the last: the loss grows without bound.
#
# For a quadratic the border is exact: across a direction of curvature $\lambda$ each step multiplies the distance to
# the minimum by $(1 - \eta\lambda)$, so gradient descent converges only if $|1 - \eta\lambda| < 1$ for every
# curvature, i.e. $\eta < 2/\lambda_{\max} = 0.2$ here. Move the slider to find it yourself (it needs a running
# kernel; the figures above are the static version):

# %% tags=["nbval-ignore-output"]
explore(draw_descent, lr=log_slider(0.1, 0.005, 0.5))

# %% [markdown]
# ## 3.5 Stochastic gradient descent
#
# The loss of a data set is an average over its samples, and so is its gradient. Computing the exact gradient means
# a pass over the whole data set for *one* step. **Stochastic gradient descent** splits the data set $D$ into
# mini-batches and takes a step after each batch, using the batch's gradient as a noisy estimate of the full one:
#
# $$w_{n+1} = w_n - \eta \, \frac{1}{B}\sum_{i \in \text{batch}_n} \nabla \ell(x_i, y_i; w_n).$$
#
# `lb.minibatches` shuffles and slices; `lb.fit(..., batch_size=B)` runs exactly this loop. We use the real 8×8
# digits and a small MLP.

# %%
X_dig, y_dig = lb.load_digits()
X_tr, X_te, y_tr, y_te = lb.train_test_split(X_dig, y_dig, test_size=0.2, rng=0)

def digit_mlp(seed=0):
    return lb.Sequential(lb.Linear(64, 32, rng=seed), lb.ReLU(), lb.Linear(32, 10, rng=seed + 1))

batches = list(lb.minibatches(X_tr, y_tr, batch_size=128, rng=0))
print(f"{len(X_tr)} training samples → {len(batches)} batches of sizes", [len(xb) for xb, _ in batches])

# %% [markdown]
# **How noisy is a batch gradient?** At fixed weights, we compare many batch gradients with the full gradient.
# The error of an average of $B$ independent samples shrinks like $1/\sqrt{B}$.

# %%
model, ce = digit_mlp(), lb.CrossEntropyLoss()

def gradient(xb, yb):
    model.zero_grad()
    ce(model(xb), yb)
    model.backward(ce.backward())
    return np.concatenate([p.grad.ravel() for p in model.parameters()])

full = gradient(X_tr, y_tr)
sizes = np.array([1, 4, 16, 64, 256])
noise = []
for B in sizes:
    draws = [gradient(xb, yb) for xb, yb in lb.minibatches(X_tr[:B * 40], y_tr[:B * 40], B, rng=1)]
    noise.append(np.sqrt(np.mean([np.sum((g - full) ** 2) for g in draws])))
noise = np.array(noise)
slope = np.polyfit(np.log(sizes), np.log(noise), 1)[0]
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.loglog(sizes, noise, "o-", label="measured")
ax.loglog(sizes, noise[0] / np.sqrt(sizes), "--", label=r"$\propto 1/\sqrt{B}$")
ax.set(xlabel="batch size B", ylabel="‖batch gradient − full gradient‖")
ax.legend()
plt.show()
print("gradient error per batch size:", ", ".join(f"B={B}: ≈{e:.2f}" for B, e in zip(sizes, noise)))
print(f"slope on log-log axes: ≈{slope:.2f} (1/√B would be -0.5)")
assert -0.65 < slope < -0.35

# %% [markdown]
# So a bigger batch buys a more accurate step, but only by $\sqrt{B}$ for $B$ times the work. What matters is how
# fast the loss goes down, counted in steps, in samples processed, and in seconds. We train the same network with
# the same learning rate at five batch sizes until the loss on the whole training set drops below 0.3.

# %%
TARGET = 0.3

def train_until(batch_size, lr=0.3, max_epochs=150, seed=0):
    model, loss = digit_mlp(seed), lb.CrossEntropyLoss()
    opt = lb.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    record = {"samples": [0], "loss": [loss(model(X_tr), y_tr)], "batch_loss": []}
    start = time.perf_counter()
    for _ in range(max_epochs):
        for xb, yb in lb.minibatches(X_tr, y_tr, batch_size, rng):
            record["batch_loss"].append(loss(model(xb), yb))
            opt.zero_grad()
            model.backward(loss.backward())
            opt.step()
            record["samples"].append(record["samples"][-1] + len(xb))
            record["loss"].append(loss(model(X_tr), y_tr))  # the full training loss, for the plot
            if record["loss"][-1] < TARGET:
                record["seconds"] = time.perf_counter() - start
                return record
    raise RuntimeError(f"batch size {batch_size} did not reach {TARGET} in {max_epochs} epochs")

# %% tags=["nbval-ignore-output"]
runs = {B: train_until(B) for B in (4, 16, 64, 256, len(X_tr))}
for B, r in runs.items():
    print(f"B = {B:5d}: {r['seconds']:.2f} s")

# %%
print(" batch size   steps   samples seen   (to reach a training loss of 0.3)")
for B, r in runs.items():
    print(f"{B:11d}  ≈{len(r['batch_loss']):d}  ≈{r['samples'][-1]:,d}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
for B, r in runs.items():
    ax1.semilogx(r["samples"], r["loss"], label=f"B = {B}")
    ax2.semilogx(np.arange(len(r["loss"])), r["loss"], label=f"B = {B}")
for ax, xlabel in ((ax1, "samples processed"), (ax2, "steps")):
    ax.axhline(TARGET, color="grey", ls=":")
    ax.set(xlabel=xlabel, ylabel="training loss")
ax1.legend(fontsize="small")
plt.show()

steps = [len(r["batch_loss"]) for r in runs.values()]
seen = [r["samples"][-1] for r in runs.values()]
assert steps == sorted(steps, reverse=True) and steps[0] > 2 * steps[-1]  # bigger batches: fewer steps ...
assert seen == sorted(seen) and seen[-1] > 100 * seen[0]                 # ... but many more samples processed
assert steps[2] < 1.1 * steps[-1]           # beyond B ≈ 64, bigger batches hardly save any step

# %% [markdown]
# Small batches reach the target after processing far fewer samples: many noisy steps beat a few exact ones,
# because the noisy steps still point downhill on average. Larger batches need fewer steps, but only up to a point:
# from $B \approx 64$ on, the step count hardly changes, so the extra samples per step are wasted work. Per second,
# a step on a larger batch is one bigger matrix product, which the CPU computes efficiently; so in wall-clock time
# the best batch size lies in between: large enough to use the hardware, small enough to step often. Compare the
# seconds printed above (they depend on your machine). Full-batch gradient descent is never the fastest.
#
# The noise is visible in the loss of each batch. The slider retrains at any batch size:

# %%
def draw_batch_noise(batch_size, ax=None, record=None):
    r = record if record is not None else train_until(int(batch_size))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.3))
    ax.plot(r["batch_loss"], alpha=0.5, lw=1, label="loss of each batch")
    ax.plot(r["loss"][1:], lw=2, label="loss on all training data")
    ax.set(xlabel="step", ylabel="loss", title=f"batch size {int(batch_size)}", ylim=(0, 2.6))
    ax.legend()
    return f"reached loss {TARGET} after ≈{len(r['batch_loss'])} steps, ≈{r['samples'][-1]:,} samples"

fig, axes = plt.subplots(1, 3, figsize=(15, 3.3))
for ax, B in zip(axes, (4, 64, 256)):
    print(draw_batch_noise(B, ax, record=runs[B]))  # the runs above, redrawn
plt.show()

# %% tags=["nbval-ignore-output"]
import ipywidgets as widgets  # noqa: E402

explore(draw_batch_noise, batch_size=widgets.SelectionSlider(options=[2, 4, 8, 16, 32, 64, 128, 256, 512],
                                                             value=32, description="batch size"))

# %% [markdown]
# ## 3.6 Backpropagation, step by step
#
# Gradient descent needs $\nabla\mathcal{L}$ for every weight. **Backpropagation** computes all of them in one
# backward sweep: the chain rule applied layer by layer, from the loss back to the input. The notes walk through it
# on a two-layer network with sigmoid activations,
#
# $$z_1 = X W_1 + b_1,\quad a_1 = \sigma(z_1),\quad z_2 = a_1 W_2 + b_2,\quad a_2 = \sigma(z_2).$$
#
# Here it is with 4 samples, 3 inputs, 4 hidden units and 2 outputs, small enough to print.

# %%
rng = np.random.default_rng(3)
X_bp = rng.normal(size=(4, 3))
y_bp = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
W1, b1 = rng.normal(size=(3, 4)), rng.normal(size=4) * 0.1
W2, b2 = rng.normal(size=(4, 2)), rng.normal(size=2) * 0.1

z1 = X_bp @ W1 + b1
a1 = sigmoid(z1)
z2 = a1 @ W2 + b2
a2 = sigmoid(z2)
print("a2 (predictions):\n", a2)

# %% [markdown]
# The notes' backward pass, unchanged except that $W_2$ is passed in rather than read from a global, and with the
# helper it relies on written out. Note that `sigmoid_derivative` is applied to the **activation** $a$, not to $z$:
# it uses $\sigma'(z) = \sigma(z)(1 - \sigma(z)) = a(1-a)$.

# %%
def sigmoid_derivative(a):
    return a * (1 - a)          # σ'(z) written in terms of a = σ(z)

def backward_pass(X, y, z1, a1, z2, a2, W2):
    error_output = a2 - y                                    # (N, 2)
    delta_output = error_output * sigmoid_derivative(a2)     # ∂L/∂z2, (N, 2)
    error_hidden = np.dot(delta_output, W2.T)                # ∂L/∂a1, (N, 4)
    delta_hidden = error_hidden * sigmoid_derivative(a1)     # ∂L/∂z1, (N, 4)
    dW2 = np.dot(a1.T, delta_output)                         # (4, 2)
    db2 = np.sum(delta_output, axis=0)
    dW1 = np.dot(X.T, delta_hidden)                          # (3, 4)
    db1 = np.sum(delta_hidden, axis=0)
    return dW1, db1, dW2, db2

dW1, db1, dW2, db2 = backward_pass(X_bp, y_bp, z1, a1, z2, a2, W2)
print("dW2 =\n", dW2, "\ndb2 =", db2)

# %% [markdown]
# **Which loss is this the gradient of?** `error_output * sigmoid_derivative(a2)` is
# $\partial L / \partial z_2$ for the **half squared error** $L = \tfrac12 \sum_{n,k} (a_{2,nk} - y_{nk})^2$: its
# derivative in $a_2$ is $a_2 - y$, and the chain rule through the sigmoid multiplies by $\sigma'(z_2)$. It is not
# cross-entropy's gradient (more on that below). Finite differences of exactly this loss confirm every one of the
# four gradients:

# %%
def half_squared_error():
    a2_ = sigmoid(sigmoid(X_bp @ W1 + b1) @ W2 + b2)
    return 0.5 * np.sum((a2_ - y_bp) ** 2)

for name, param, grad in (("W1", W1, dW1), ("b1", b1, db1), ("W2", W2, dW2), ("b2", b2, db2)):
    err = lb.rel_error(grad, lb.gradcheck.numerical_gradient(half_squared_error, param))
    assert err < 1e-7  # central differences in float64: errors of 1e-11 to 1e-10 here
    print(f"{name}: relative error vs finite differences < 1e-7")

# %% [markdown]
# The same network built from `littlebook` layers, with the same weights (`Linear` stores $W^\top$, shape
# (out, in)). `lb.MSELoss` is the *mean* squared error over all $N \cdot K = 8$ entries, without the ½: its gradient
# is $\frac{2}{NK}(a_2 - y)$. So the notes' gradients are littlebook's times $\frac{NK}{2} = 4$.

# %%
net = lb.Sequential(lb.Linear(3, 4, dtype=np.float64), lb.Sigmoid(), lb.Linear(4, 2, dtype=np.float64), lb.Sigmoid())
net[0].weight.value[...], net[0].bias.value[...] = W1.T, b1
net[2].weight.value[...], net[2].bias.value[...] = W2.T, b2
mse = lb.MSELoss()
assert np.allclose(net(X_bp), a2)
mse(net(X_bp), y_bp)
net.zero_grad()
net.backward(mse.backward())
scale = y_bp.size / 2
for name, ours, notes in (("W1", net[0].weight.grad.T, dW1), ("b1", net[0].bias.grad, db1),
                          ("W2", net[2].weight.grad.T, dW2), ("b2", net[2].bias.grad, db2)):
    assert np.max(np.abs(scale * ours - notes)) < 1e-14  # the same float64 products: round-off only
    print(f"{name}: max |{scale:g} · littlebook − notes| < 1e-14")

# %% [markdown]
# `net.backward` ran the same four lines: each layer's `backward` receives $\partial L/\partial(\text{its output})$,
# stores the gradients of its weights and returns $\partial L/\partial(\text{its input})$ for the layer before it
# (`Sigmoid.backward` multiplies by $a(1-a)$; `Linear.backward` computes $a^\top\delta$, $\sum\delta$ and
# $\delta W^\top$).
#
# ### With cross-entropy, the sigmoid derivative cancels
#
# For a classifier with a sigmoid output we would use cross-entropy, not the squared error. Then
#
# $$\frac{\partial}{\partial z}\big[-y\log\sigma(z) - (1-y)\log(1-\sigma(z))\big] = \sigma(z) - y = a_2 - y,$$
#
# because $\partial(-\log\sigma)/\partial\sigma = -1/\sigma$ cancels the $\sigma(1-\sigma)$ of the chain rule.
# So `a2 - y` *alone* is the right $\delta$ at the output, for cross-entropy (summed), and multiplying it by
# `sigmoid_derivative(a2)` gives the squared error's $\delta$. The same holds for softmax with
# `CrossEntropyLoss`: $\partial L/\partial z = \text{softmax}(z) - y$.

# %%
delta_squared_error = (a2 - y_bp) * sigmoid_derivative(a2)
bce_sum = lb.BCEWithLogitsLoss(reduction="sum")
bce_sum(z2, y_bp)
delta_cross_entropy = bce_sum.backward()
print("a2 - y:\n", a2 - y_bp)
print("∂(cross-entropy)/∂z2 from BCEWithLogitsLoss:\n", delta_cross_entropy)
print("∂(½ squared error)/∂z2 = (a2 - y) σ'(z2):\n", delta_squared_error)
assert np.allclose(delta_cross_entropy, a2 - y_bp)
half_se_loss = lb.MSELoss(reduction="sum")            # Σ (a2 - y)², gradient 2 (a2 - y)
half_se_loss(a2, y_bp)
assert np.allclose(0.5 * half_se_loss.backward() * sigmoid_derivative(a2), delta_squared_error)

ce_softmax = lb.CrossEntropyLoss(reduction="sum")
ce_softmax(z2, np.array([0, 1, 1, 0]))
assert np.allclose(ce_softmax.backward(), softmax(z2) - lb.one_hot(np.array([0, 1, 1, 0]), 2, dtype=np.float64))

# %% [markdown]
# The difference matters. $\sigma'(z) \le \frac14$, and it vanishes when the sigmoid saturates. A confidently wrong
# output, $a_2 = 0.999$ for $y = 0$, gets a squared-error gradient of $0.999 \cdot 0.999 \cdot 0.001 \approx 0.001$:
# almost no push. Cross-entropy gives it $0.999$.

# %%
a_wrong = np.array([0.999])
print(f"squared error δ = {((a_wrong - 0) * sigmoid_derivative(a_wrong))[0]:.4f}, "
      f"cross-entropy δ = {(a_wrong - 0)[0]:.4f}")
assert (a_wrong * sigmoid_derivative(a_wrong))[0] < 1e-3 < 0.99 < a_wrong[0]

# %% [markdown]
# ## 3.7 "The correct digit is 2"
#
# The notes describe backpropagation on a digit image whose correct label is 2: the loss looks at the 10 output
# probabilities and decides which should go up and which down; then we take one step back to the last hidden layer
# and see which weights and biases change, and by how much; then we repeat, layer by layer. Here it is on real
# handwriting: MNIST if it has been downloaded (`lb.data.load_mnist()`), otherwise the 8×8 digits that ship with
# scikit-learn.

# %% tags=["nbval-ignore-output"]
if lb.data.mnist_cached():
    Xm_tr, ym_tr, Xm_te, ym_te = lb.data.load_mnist(download=False)
    Xd_tr, yd_tr = lb.data.scale_images(Xm_tr[:20000]), ym_tr[:20000]
    Xd_te, yd_te, side, source = lb.data.scale_images(Xm_te), ym_te, 28, "MNIST (28×28)"
else:
    Xd_tr, Xd_te, yd_tr, yd_te, side, source = X_tr, X_te, y_tr, y_te, 8, "scikit-learn digits (8×8)"
print("data:", source, Xd_tr.shape)

clf = lb.Sequential(lb.Linear(side * side, 32, rng=0), lb.ReLU(), lb.Linear(32, 10, rng=1))
clf_history = lb.fit(clf, lb.CrossEntropyLoss(), lb.SGD(clf.parameters(), lr=0.1, momentum=0.9), (Xd_tr, yd_tr),
                     epochs=10, batch_size=32, val_data=(Xd_te, yd_te), progress=False, rng=0)
test_acc = lb.accuracy(lb.predict(clf, Xd_te), yd_te)
print(f"test accuracy {test_acc:.3f}")
lbplot.plot_history(clf_history, metrics=("loss", "accuracy"))
plt.show()
assert test_acc > 0.9

# %% [markdown]
# A 2 that the model already recognises with 99.9 % gives a gradient of almost nothing, so we pick the test image of
# a 2 to which the model gives the *lowest* probability of being a 2, and look at its 10 probabilities.

# %% tags=["nbval-ignore-output"]
twos = np.flatnonzero(yd_te == 2)
x2 = Xd_te[twos[np.argmin(softmax(lb.predict(clf, Xd_te[twos]))[:, 2])]][None, :]  # the hardest 2
logits2 = clf(x2)
probs2 = softmax(logits2)[0]
fig, (ax_img, ax_p) = plt.subplots(1, 2, figsize=(8, 2.8), gridspec_kw={"width_ratios": [1, 2.5]})
ax_img.imshow(x2.reshape(side, side), cmap="gray_r")
ax_img.set_axis_off()
ax_img.set_title("label: 2")
ax_p.bar(range(10), probs2, color=["C1" if c == 2 else "C0" for c in range(10)])
ax_p.set(xticks=range(10), xlabel="digit", ylabel="predicted probability")
plt.show()
print("probabilities:", probs2.round(3))

# %% [markdown]
# **The output layer.** The gradient of the loss $-\log p_2$ with respect to the logits is
# $\text{softmax}(z) - \text{onehot}(2)$: $p_2 - 1 < 0$ for the correct class and $p_c > 0$ for every other class.
# Gradient descent moves *against* the gradient: the logit of 2 goes up, all others go down, each in proportion
# to the probability the model wrongly gave it.

# %% tags=["nbval-ignore-output"]
loss2 = lb.CrossEntropyLoss()
loss2(logits2, np.array([2]))
grad_logits = loss2.backward()[0]
for c in range(10):
    print(f"digit {c}: p = {probs2[c]:.4f}   ∂L/∂z = {grad_logits[c]:+.4f}   "
          + ("↑ push up" if grad_logits[c] < 0 else "↓ push down"))
assert grad_logits[2] < 0 and np.all(np.delete(grad_logits, 2) > 0)
assert np.allclose(grad_logits, probs2 - np.eye(10)[2])

# %% [markdown]
# **One step back: the last hidden layer.** The last `Linear` computes $z = W h + b$ from the 32 hidden activations
# $h \ge 0$ (after ReLU). Its backward pass gives $\partial L/\partial b = \partial L/\partial z$ and
# $\partial L/\partial W_{cj} = (\partial L/\partial z_c)\, h_j$: the weights into class 2 from every *active*
# hidden unit grow, the weights into the other classes shrink, most for the strongest units and the most
# wrongly-favoured classes; inactive units ($h_j = 0$) change nothing. It also returns $\partial L/\partial h$, the
# change it asks of the hidden layer, and the same process repeats there: that is backpropagation.

# %% tags=["nbval-ignore-output"]
clf.zero_grad()
clf(x2)
h = clf[:2](x2)                # the hidden activations relu(W1 x + b1) that the last layer sees
grad_h = clf[2].backward(grad_logits[None, :])
dW, db = clf[2].weight.grad, clf[2].bias.grad
assert np.allclose(db, grad_logits) and np.allclose(dW, np.outer(grad_logits, h[0]))
assert np.all(dW[2] <= 0) and np.all(np.delete(dW, 2, axis=0) >= 0)

top = np.argsort(dW[2])[:5]
print("hidden units whose weight into '2' grows most:", top, "  activations:", h[0, top].round(2))
STEP_LR = 0.02
print(f"with lr = {STEP_LR} those weights change by:", (-STEP_LR * dW[2, top]).round(4))
print(f"{int(np.sum(h[0] == 0))} of 32 hidden units are inactive: their outgoing weights do not change")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3), gridspec_kw={"width_ratios": [3, 1]})
im = ax1.imshow(-dW, cmap="RdBu_r", vmin=-np.abs(dW).max(), vmax=np.abs(dW).max(), aspect="auto")
ax1.set(xlabel="hidden unit j", ylabel="digit c", yticks=range(10), title="change −∂L/∂W of the last layer")
fig.colorbar(im, ax=ax1)
ax2.barh(range(10), -db, color=["C1" if c == 2 else "C0" for c in range(10)])
ax2.set(yticks=range(10), title="change −∂L/∂b", ylim=(9.5, -0.5))
plt.show()

# %% [markdown]
# Red weights grow, blue shrink: a red row for 2 and blue rows for the digits the model found plausible. One
# gradient step on this image alone makes the model more sure of the 2:

# %% tags=["nbval-ignore-output"]
opt2 = lb.SGD(clf.parameters(), lr=STEP_LR)
clf.zero_grad()
loss2(clf(x2), np.array([2]))
clf.backward(loss2.backward())   # all the way back, through ReLU to the first layer
opt2.step()
p2_after = softmax(clf(x2))[0, 2]
print(f"P(2) before the step {probs2[2]:.4f}, after {p2_after:.4f}")
assert p2_after > probs2[2]

# %% [markdown]
# ## Summary
#
# - Cross-entropy is $-\log$ of the probability given to the correct answer: 0 when right and sure, unbounded when
#   wrong and sure. Compute it from logits (log-sum-exp), never from rounded probabilities.
# - The chain rule of probability turns a text into next-token predictions; a causal model trained with the summed
#   cross-entropy is an autoregressive generative model, and BPE supplies its tokens.
# - Gradient descent steps against the gradient; the learning rate must stay below $2/\lambda_{\max}$ on a
#   quadratic, and in practice is found by trying values on a log scale.
# - SGD trades exactness of each step for more steps; small batches need fewer samples, large batches fewer steps.
# - Backpropagation is the chain rule, layer by layer; check it with finite differences. With cross-entropy the
#   output delta is simply prediction − target.
#
# ## Exercises
#
# Each answer cell checks itself with `assert`. Try before reading it.
#
# **1.** Three samples have labels $y = (1, 0, 1)$ and predictions $p = (0.9, 0.2, 0.6)$. Compute the binary
# cross-entropy by hand (three logs) and check it against `lb.BCELoss`.

# %%
by_hand = -(np.log(0.9) + np.log(1 - 0.2) + np.log(0.6)) / 3
print(f"by hand {by_hand:.4f}")
assert np.isclose(by_hand, lb.BCELoss()(np.array([0.9, 0.2, 0.6]), np.array([1.0, 0.0, 1.0])))

# %% [markdown]
# **2.** For the valley of §3.4, the largest stable learning rate is $2/\lambda_{\max}$. Verify it: with
# $\eta = 0.199$ the loss after 400 steps is smaller than at the start, with $\eta = 0.201$ it is larger. What
# changes if the curvature across the valley is 100 instead of 10?

# %%
eta_max = 2 / np.linalg.eigvalsh(A).max()
print(f"2 / λ_max = {eta_max:.3f}")
assert descend(0.199, steps=400)[1][-1] < descend(0.199)[1][0]
assert descend(0.201, steps=400)[1][-1] > descend(0.201)[1][0]
# With curvature 100 the limit drops to 2/100 = 0.02, and along the valley (curvature 1) such a step needs
# hundreds of iterations: badly conditioned problems are slow for gradient descent.

# %% [markdown]
# **3.** A larger BPE vocabulary compresses better. Train tokenizers with 256, 320, 384 and 512 tokens and check
# that the number of bytes per token grows with the vocabulary. Why is a vocabulary of exactly 256 one byte per
# token?

# %%
ratios = [len(corpus.encode()) / len(lb.BPETokenizer.train(corpus, v).encode(corpus)) for v in (256, 320, 384, 512)]
print("bytes per token:", np.round(ratios, 2))
assert ratios[0] == 1.0 and all(a < b for a, b in zip(ratios, ratios[1:]))
# 256 tokens = the bytes themselves: no merge has been learned yet.

# %% [markdown]
# **4.** Show that the gradient of softmax cross-entropy with respect to the logits always sums to 0 over the
# classes (for any logits and any target), and explain why from $\text{softmax}(z) - y$.

# %%
ce4 = lb.CrossEntropyLoss()
ce4(np.random.default_rng(4).normal(size=(5, 7)) * 3, np.array([0, 3, 6, 2, 2]))
assert np.allclose(ce4.backward().sum(axis=1), 0)
# softmax(z) sums to 1 and the one-hot target sums to 1: their difference sums to 0. Pushing the correct logit
# up by some amount pushes the others down by the same total amount.

# %% [markdown]
# **5.** A model that is *not* causal can cheat. Build windows whose input at position $t$ already contains the
# target: `X_cheat = Y_lm`. Show that a fresh `NextTokenMLP` trained on `(X_cheat, Y_lm)` for only 2 epochs
# (the honest model had 8) reaches a far lower training loss than the honest model, and explain why this loss says
# nothing about its ability to generate text.

# %%
cheat = lb.text.NextTokenMLP(VOCAB, context=K, embed_dim=24, hidden=96, rng=0)
lb.fit(cheat, lm_loss, lb.Adam(cheat.parameters(), lr=0.01), (Y_lm, Y_lm), epochs=2, batch_size=32,
       progress=False, rng=0)
cheat_loss = lb.evaluate(cheat, per_token, Y_lm, Y_lm)[0]
print(f"cheating model ≈{cheat_loss:.2f} vs honest model ≈{lm_train_loss:.1f} per token")
assert cheat_loss < 0.5 * lm_train_loss and 0.05 < cheat_loss < 0.3  # seeds 0-3: 0.13-0.16
# It copies the last input token to the output. When generating, the next token is not in the input yet,
# so there is nothing to copy: the low training loss was an artefact of seeing the future.

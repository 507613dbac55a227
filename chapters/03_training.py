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
# - run **gradient descent**, predict its speed on a quadratic from the per-direction contraction factors
#   $|1 - \eta\lambda_i|$ and the **condition number**, and explain why rescaling inputs helps;
# - compare batch sizes of **stochastic** gradient descent fairly (each at its own tuned learning rate), and explain
#   the **noise floor** of a constant learning rate;
# - write the **momentum** and **Adam** updates and check them against the library;
# - carry out **backpropagation** by hand on a two-layer network, check it against finite differences, and read
#   the gradient of a digit classifier: which outputs are pushed up, which down, and which weights change;
# - walk a computational graph backwards, explain every `backward` as a vector–Jacobian product, and say why the
#   backward pass takes twice the forward's arithmetic (and measured 1.4–2.2× its time here) and needs the stored
#   activations.

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
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

import littlebook as lb
from littlebook import plot as lbplot
from littlebook.functional import log_softmax, logsumexp, sigmoid, softmax
from littlebook.widgets import explore_figure

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
# `lb.BCELoss` takes probabilities, `lb.BCEWithLogitsLoss` takes the logit $z$ with $p = \sigma(z)$, the sigmoid
# $\sigma(z) = 1/(1 + e^{-z})$, which maps any real number into (0, 1); we compute the
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

# Between the extremes: three samples, the formula written out term by term against BCELoss
p3, y3 = np.array([0.9, 0.2, 0.6]), np.array([1.0, 0.0, 0.0])
bce_terms = -(y3 * np.log(p3) + (1 - y3) * np.log(1 - p3))  # -log 0.9, -log 0.8, -log 0.4
print("per sample:", np.round(bce_terms, 4), " mean:", round(float(bce_terms.mean()), 4),
      " BCELoss:", round(bce(p3, y3), 4))
assert np.isclose(bce(p3, y3), (-np.log(0.9) - np.log(0.8) - np.log(0.4)) / 3)

# %% [markdown]
# A confident mistake costs a lot, a hesitant one a little (above: $p = 0.6$ for a sample of class 0 costs
# $-\log 0.4 \approx 0.92$, a right answer at $p = 0.9$ costs 0.11): the loss of one sample is $-\log$ of the
# probability the model gave to the *correct* answer, and that curve goes to infinity at 0.

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
# Two details decide what BPE learns and how it encodes:
#
# - **Merges never cross a word boundary.** Before counting pairs, the text is cut into chunks as GPT-2 does: a
#   word with its leading space, a number, a run of punctuation, a run of spaces. Pairs are counted and merged only
#   *inside* a chunk, so `' the'` can become one token but no token ever holds the end of one word and the start of
#   the next (the `e` and ` t` of "the tree" are never a pair).
# - **Encoding replays the merges in the order they were learned**, not by longest match: a new text is split the
#   same way into bytes, then merge 256 is applied everywhere, then merge 257, and so on.
#
# Here is the whole algorithm in plain Python, run on the first 2 000 characters of the corpus and checked against
# `lb.BPETokenizer` (which does the same with vectorised numpy). Ties between equally frequent pairs go to the
# smallest pair, as in the library, so that training is deterministic.

# %%
import re  # noqa: E402
from collections import Counter  # noqa: E402

PRE_SPLIT = re.compile(r" ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+")  # word, number, punctuation, spaces

def merge_pair(ids, pair, new_id):
    """Replace every occurrence of `pair` in the list `ids`, left to right, by `new_id`."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out

def bpe_train(text, n_merges):
    chunks = [list(c.encode("utf-8")) for c in PRE_SPLIT.findall(text)]  # merges stay inside a chunk
    merges = []
    for new_id in range(256, 256 + n_merges):
        pairs = Counter(p for ch in chunks for p in zip(ch, ch[1:]))     # count adjacent pairs
        if not pairs or max(pairs.values()) < 2:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))                   # most frequent, ties: smallest
        merges.append((best, new_id))
        chunks = [merge_pair(ch, best, new_id) for ch in chunks]          # replace it everywhere
    return merges

def bpe_encode(text, merges):
    chunks = [list(c.encode("utf-8")) for c in PRE_SPLIT.findall(text)]
    for pair, new_id in merges:                                           # in the order they were learned
        chunks = [merge_pair(ch, pair, new_id) for ch in chunks]
    return [i for ch in chunks for i in ch]

print("chunks:", PRE_SPLIT.findall("The tree,  the 3 trees!"))
small_text = corpus[:2000]
ours = bpe_train(small_text, 30)
reference = lb.BPETokenizer.train(small_text, 256 + 30)
assert ours == reference.merges
assert bpe_encode(sentence, ours) == reference.encode(sentence).tolist()
print(f"30 merges learned from {len(small_text)} characters: identical to lb.BPETokenizer; the first five:",
      [reference.token_str(new) for _, new in ours[:5]])
print(f"encoding {sentence!r}: the same {len(bpe_encode(sentence, ours))} tokens")

# %% [markdown]
# ### A causal next-token model
#
# The model must predict token $x_{t+1}$ from $x_1, \dots, x_t$ only. A model whose logits $l_t$ depend only on the
# past is called **causal**: the future cannot influence the past. (The notes spell it "casual", a typo: the word is
# *causal*, from cause and effect.) Training on whole sequences at once is only honest if the model is causal;
# otherwise it could read the answer at position $t$ from its input at position $t+1$.
#
# `lb.text.NextTokenMLP` is the simplest such model (Bengio et al., 2003): at each position it looks up an
# embedding vector for each of the last $K$ tokens, concatenates them and feeds them to an MLP (a multi-layer
# perceptron: linear layers with a nonlinearity between them, chapter 4),
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
# (logits of shape (N, T, C), targets (N, T)), and `lb.SGD`: after each batch of 32 windows, every weight takes a
# step $-\eta\,\partial L/\partial w$ against the gradient of that batch's summed loss (§3.4 and §3.5 explain why
# this works and how to choose the step size $\eta$). Because the loss is a sum over $32 \cdot 32 = 1024$
# positions, the gradient is about 1000 times that of one prediction, so the rate is small: $\eta = 0.006$, the
# best validation loss among 0.001, 0.003, 0.006 and 0.01 for 8 epochs (0.003 is still slow, 0.01 starts to
# overfit), so the validation loss below is slightly optimistic.

# %%
lm_loss = lb.CrossEntropyLoss(reduction="sum")
per_token = lb.CrossEntropyLoss()  # the mean over all N·T positions: lb.evaluate reports the loss per token

loss_before = lb.evaluate(lm, per_token, X_lm, Y_lm)[0]  # evaluate → (mean loss, accuracy or None)
print(f"before training: ≈{loss_before:.2f} per token (log V = {np.log(VOCAB):.3f})")
assert abs(loss_before - 6.02) < 0.01  # a fixed initialisation (rng=0): only round-off differs between CPUs

# %% tags=["nbval-ignore-output"]
lm_history = lb.fit(lm, lm_loss, lb.SGD(lm.parameters(), lr=0.006), (X_lm, Y_lm), epochs=8, batch_size=32,
                    progress=False, rng=0, metrics=())
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
assert 1.8 < lm_train_loss < 2.4 and 3.3 < lm_val_loss < 3.8  # SGD, training seeds 0-4 (A, B): 2.02-2.04, 3.53-3.61

# %% [markdown]
# The validation loss stays well above the training loss: with 50 000 weights and 11 000 training tokens the model
# starts to memorise the book, a first taste of overfitting (chapter 4's dropout, §4.7, is one remedy).
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
assert log_prob(lm, good) > log_prob(lm, scrambled) + 40  # training seed 0 (SGD): a gap of 65 nats

# The training loss on this one sequence is the same number: the summed cross-entropy of its 1 × (T−1) positions,
# which is also (T−1) times the per-token mean that lb.evaluate reports (float32: equal to 1e-5 relative)
logits_good = lm(ids[None, :-1])
summed_ce, mean_ce = lm_loss(logits_good, ids[None, 1:]), per_token(logits_good, ids[None, 1:])
print(f"summed cross-entropy ≈{summed_ce:.0f} = −log P; positions: {len(ids) - 1}")
assert np.isclose(summed_ce, -log_prob(lm, good), rtol=1e-5)
assert np.isclose(summed_ce, (len(ids) - 1) * mean_ce, rtol=1e-5)

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
# Some models have a closed-form best $w^*$: least squares (chapter 1's linear and polynomial regression) and a
# Gaussian's maximum-likelihood mean and variance (chapter 1, §1.6). The notes say no model but linear regression
# has one, which is too strong; but no neural network in this book has one. The general way to minimise
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

    def __init__(self, w0, curvature=None):
        self.w = lb.Parameter(np.array(w0, dtype=np.float64))
        self.A = A if curvature is None else curvature

    def forward(self, x=None):
        return 0.5 * self.w.value @ self.A @ self.w.value

    def backward(self, grad_out=1.0):
        self.w.grad += grad_out * (self.A @ self.w.value)

valley = Valley([1.0, -2.0])
valley.forward()
valley.backward()
numeric = lb.gradcheck.numerical_gradient(valley.forward, valley.w.value)
print("backward:", valley.w.grad, " finite differences ≈", numeric)
assert lb.rel_error(valley.w.grad, numeric) < 1e-8

# %%
W0 = [-4.0, 2.5]

def descend(lr, steps=40, w0=W0, curvature=None):
    """Run SGD on the valley (A, or another curvature); return the path (steps + 1, 2) and the loss at each point."""
    model = Valley(w0, curvature)
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
LOSS_YLIM = (1e-7, 1e6)  # one loss axis for every rate: the best reach 2e-6, the diverging 0.21 ends at 2e5

def descent_status(lr, losses):
    return f"η = {lr:g}: loss {losses[0]:.3g} → ≈{losses[-1]:.2g} after {len(losses) - 1} steps"

# %% [markdown]
# Five learning rates, 40 steps each, from the same start $w_0 = (-4, 2.5)$ (`lbplot.DescentPanels` draws the path
# over the contours of the loss, and the loss per step):

# %%
rates = {0.02: "too small", 0.1: "η = 1/λ_max", 0.18: "η = 2/(λ_min+λ_max)", 0.19: "zig-zags", 0.21: "diverges"}
fig, axes = plt.subplots(2, 5, figsize=(18, 6), gridspec_kw={"height_ratios": [1.4, 1]})
fig.subplots_adjust(left=0.04, right=0.99, wspace=0.3, hspace=0.2)  # fixed: tight_layout would draw it twice
descent_runs = {lr: descend(lr) for lr in rates}  # path and losses of each rate, computed once
for i, (lr, what) in enumerate(rates.items()):
    panels = lbplot.DescentPanels(axes[0, i], axes[1, i], g1, g2, grid_loss, loss_ylim=LOSS_YLIM)
    panels.show(*descent_runs[lr], label=f"η = {lr:g}")
    axes[0, i].set_title(what)
    print(descent_status(lr, descent_runs[lr][1]), f"  ({what})")
plt.show()

final = {lr: losses[-1] for lr, (_, losses) in descent_runs.items()}
assert final[0.18] < final[0.1] < 1e-3 < final[0.19] < 0.1 < final[0.02]  # the ranking the text below explains
assert final[0.19] > 1000 * final[0.18] and final[0.21] > descent_runs[0.21][1][0]  # 0.21 ends above its start

# %% [markdown]
# Why this ranking, and why does $\eta = 0.19$, only 0.01 away from the best rate, end 10 000 times higher after
# 40 steps? Write the weights in the eigenvectors $e_i$ of $A$: $w = \sum_i c_i e_i$. The gradient is
# $Aw = \sum_i \lambda_i c_i e_i$, so one step multiplies each coordinate by its own factor,
#
# $$c_i \leftarrow (1 - \eta\lambda_i)\, c_i, \qquad \text{after } n \text{ steps: } c_i = (1-\eta\lambda_i)^n c_i^{(0)}.$$
#
# Each direction converges if and only if $|1 - \eta\lambda_i| < 1$; the slowest direction sets the pace, so the
# distance to the minimum shrinks, in the long run, by the **contraction factor** $\rho(\eta) = \max_i |1 -
# \eta\lambda_i|$ per step. Its smallest value is where the two extreme factors balance,
# $1 - \eta\lambda_{\min} = \eta\lambda_{\max} - 1$:
#
# $$\eta^* = \frac{2}{\lambda_{\min} + \lambda_{\max}}, \qquad \rho(\eta^*) = \frac{\kappa - 1}{\kappa + 1},
# \qquad \kappa = \frac{\lambda_{\max}}{\lambda_{\min}} \text{ (the \textbf{condition number})}.$$
#
# Here $\lambda = 1, 10$: $\kappa = 10$, $\eta^* = 2/11 \approx 0.18$ and $\rho = 9/11 \approx 0.82$. For
# $\eta = 0.1$ the factors are $0.9$ along the valley and $0$ across it; for $\eta = 0.19$ they are $0.81$ and
# $-0.9$: **the same $\rho = 0.9$**. What separates them is the start: $\eta = 0.1 = 1/\lambda_{\max}$ removes the
# steep coordinate in the very first step and is then left with the flat one, whose loss starts small
# ($\tfrac12\lambda_{\min}c_1^2 \approx 2.5$); $\eta = 0.19$ keeps a slowly shrinking, sign-flipping steep coordinate
# whose loss starts at $\tfrac12\lambda_{\max}c_2^2 \approx 87$ — the zig-zag. We measure $\rho$ on the runs (the
# distance ratio per step over steps 20 to 40) and count the steps to a loss below $10^{-3}$, against the formula
# $\mathcal{L}_n = \tfrac12\sum_i \lambda_i (1-\eta\lambda_i)^{2n} c_i^2$:

# %%
lams, eigvecs = np.linalg.eigh(A)                # λ = (1, 10), columns = eigenvectors
c0 = eigvecs.T @ np.array(W0)                     # the start in eigen-coordinates
kappa = lams.max() / lams.min()
eta_star = 2 / (lams.min() + lams.max())
print(f"κ = {kappa:.0f}, η* = 2/(λ_min+λ_max) = {eta_star:.4f}, (κ−1)/(κ+1) = {(kappa - 1) / (kappa + 1):.4f}")
print("   η    factors |1−ηλ_i|   ρ theory   ρ measured   steps to loss < 1e-3: theory  measured")
for lr in (0.02, 0.1, eta_star, 0.19):
    factors = np.abs(1 - lr * lams)
    path, losses = descend(lr, steps=400)
    dist = np.linalg.norm(path, axis=1)
    rho_measured = (dist[40] / dist[20]) ** (1 / 20)
    n = np.arange(401)
    theory = 0.5 * np.sum(lams * c0**2 * (1 - lr * lams)[None, :] ** (2 * n[:, None]), axis=1)
    n_theory, n_measured = int(np.argmax(theory < 1e-3)), int(np.argmax(losses < 1e-3))
    print(f"{lr:.4f}  {factors.round(3)}   {factors.max():.3f}      ≈{rho_measured:.3f}"
          f"        {n_theory:4d}     ≈{n_measured}")
    assert abs(rho_measured - factors.max()) < 1e-3 and n_measured == n_theory  # exact arithmetic up to round-off
assert np.isclose(np.abs(1 - 0.1 * lams).max(), np.abs(1 - 0.19 * lams).max())   # 0.9 = 0.9

# %% [markdown]
# So "a handful of steps" is not what $\eta = 0.1$ does: it needs 38 steps to reach $10^{-3}$, and the best fixed
# rate 29. The rule of thumb the example teaches is different: the usable learning rates are capped by the
# *steepest* direction ($\eta < 2/\lambda_{\max}$), and then the *flattest* direction decides how long it takes,
# about $\kappa/2$ steps per factor $e$. A badly conditioned loss is slow for gradient descent whatever $\eta$ is.
#
# **Conditioning is why chapter 1 rescaled its inputs.** For a linear model with squared error the curvature matrix
# is $A = F^\top F / N$, with $F$ the matrix of features. Chapter 1 fitted a polynomial on the features
# $t, t^2, t^3$ with $t = 2x - 1 \in [-1, 1]$ rather than $x, x^2, x^3$ with $x \in [0, 1]$; both draw the same
# curves, but the powers of $x$ are nearly parallel (all small near 0, all close to 1 near 1):

# %%
x_poly = np.linspace(0, 1, 200)[:, None]
for name, feature in (("x ∈ [0, 1]", x_poly), ("t = 2x − 1", 2 * x_poly - 1)):
    F = np.hstack([np.ones_like(feature), feature ** np.arange(1, 4)])   # bias, f, f², f³
    curvatures = np.linalg.eigvalsh(F.T @ F / len(F))
    kappa_f = curvatures.max() / curvatures.min()
    print(f"features of {name}: κ ≈{kappa_f:.0f}, contraction factor per step at the best rate, "
          f"ρ = (κ−1)/(κ+1) ≈{(kappa_f - 1) / (kappa_f + 1):.4f}")
    assert (kappa_f > 10_000) if name.startswith("x") else (kappa_f < 100)  # 15 078 and 66

# %% [markdown]
# With the raw powers gradient descent would need some 200 times more steps for the same precision. Centering and
# scaling inputs (chapter 1's $t$, or standardising every feature of a data set to mean 0 and variance 1) is the
# cheapest way to a smaller $\kappa$; §3.6 shows a second one, momentum.
#
# Move the slider to try the rates yourself (it needs a running kernel; the figures above are the static
# version). Its notches are exactly the values discussed: 0.1, 0.18, 0.19, 0.2 and 0.21, among others.

# %% tags=["nbval-ignore-output"]
lr_notches = [0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.18, 0.19, 0.2, 0.21, 0.25]
fig, (ax_path, ax_loss) = lbplot.fixed_figure(2, figsize=(10, 3.8), dpi=80)  # drawn once; a move redraws 2 lines
valley_panels = lbplot.DescentPanels(ax_path, ax_loss, g1, g2, grid_loss, loss_ylim=LOSS_YLIM)

def show_descent(lr):
    if lr not in descent_runs:
        descent_runs[lr] = descend(lr)  # each rate is run once; a notch seen before is instant
    valley_panels.show(*descent_runs[lr], label=f"η = {lr:g}")
    return descent_status(lr, descent_runs[lr][1])

explore_figure(lbplot.Blitter(fig, valley_panels.artists, dpi=80), show_descent,
               lr=widgets.SelectionSlider(options=lr_notches, value=0.1, description="lr"))

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
# Each batch is drawn at random from the *whole* training set. The error of an average of $B$ independent samples
# shrinks like $1/\sqrt{B}$ (drawing without replacement from $N$ samples shrinks it a little more, by
# $\sqrt{(N-B)/(N-1)}$, which is 0.91 for $B = 256$).

# %%
model, ce = digit_mlp(), lb.CrossEntropyLoss()

def gradient(xb, yb):
    model.zero_grad()
    ce(model(xb), yb)
    model.backward(ce.backward())
    return np.concatenate([p.grad.ravel() for p in model.parameters()])

full = gradient(X_tr, y_tr)
sizes = np.array([1, 4, 16, 64, 256])
draw_rng = np.random.default_rng(1)
noise = []
for B in sizes:
    draws = [gradient(X_tr[idx], y_tr[idx]) for idx in (draw_rng.choice(len(X_tr), B, replace=False)
                                                          for _ in range(40))]
    noise.append(np.sqrt(np.mean([np.sum((g - full) ** 2) for g in draws])))
noise = np.array(noise)
slope = np.polyfit(np.log(sizes), np.log(noise), 1)[0]
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.loglog(sizes, noise, "o-", label="measured (40 batches each)")
ax.loglog(sizes, noise[0] * np.sqrt((len(X_tr) - sizes) / (len(X_tr) - 1) / sizes), "--",
          label=r"$\propto \sqrt{(N-B)/(N-1)}/\sqrt{B}$")
ax.set(xlabel="batch size B", ylabel="‖batch gradient − full gradient‖")
ax.legend(fontsize="small")
plt.show()
print("gradient error per batch size:", ", ".join(f"B={B}: ≈{e:.2f}" for B, e in zip(sizes, noise)))
print(f"slope on log-log axes: ≈{slope:.2f} (1/√B would be -0.5)")
assert -0.65 < slope < -0.4  # draw seeds 0-4: -0.52 to -0.51

# %% [markdown]
# So a bigger batch buys a more accurate step, but only by $\sqrt{B}$ for $B$ times the work. What matters is how
# fast the loss goes down, counted in steps, in samples processed, and in seconds.
#
# **A fair comparison.** A larger batch gives a less noisy gradient, so it can afford a larger step: comparing batch
# sizes at one learning rate would favour whichever size that rate happens to suit. So for every batch size we try
# the learning rates 0.3, 0.5, 1 and 3, and keep the one that reaches a **validation** loss below 0.3 in the fewest
# steps (the median over the seeds; a tie goes to the smaller mean). The validation set is 20 % of the training set,
# held out from training; the test set stays untouched until §3.8 scores it once. The validation loss is evaluated
# every 5 steps (so step counts are multiples of 5), outside the steps themselves: it
# is bookkeeping, not training. Each setting runs from 3 seeds (initial weights and batch order), and a rate that
# is already twice as slow as a larger one, stalls or diverges is stopped early (a validation loss still above 2
# after 50 steps: chance level is log 10 ≈ 2.30).

# %%
X_fit, X_val, y_fit, y_val = lb.train_test_split(X_tr, y_tr, test_size=0.2, rng=1)
TARGET, EVAL_EVERY, MAX_STEPS = 0.3, 5, 300

def train_until(batch_size, lr, seed=0, max_steps=MAX_STEPS):
    """SGD on (X_fit, y_fit) until the validation loss < TARGET; returns the batch and validation losses."""
    model, loss = digit_mlp(seed), lb.CrossEntropyLoss()
    opt = lb.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    # the validation loss: this MLP has no dropout, so model(X_val) is what lb.evaluate computes, minus its checks
    r = {"batch_loss": [], "eval_step": [0], "val_loss": [float(loss(model(X_val), y_val))], "steps": np.inf}
    while True:
        for xb, yb in lb.minibatches(X_fit, y_fit, batch_size, rng):
            r["batch_loss"].append(loss(model(xb), yb))
            opt.zero_grad()
            model.backward(loss.backward(), input_grad=False)  # the data needs no gradient (as in lb.train_step)
            opt.step()
            n = len(r["batch_loss"])
            if n % EVAL_EVERY == 0:                        # bookkeeping, every few steps
                r["eval_step"].append(n)
                r["val_loss"].append(float(loss(model(X_val), y_val)))
                if r["val_loss"][-1] < TARGET:
                    r["steps"] = n
                    return r
                if n >= max_steps or (n >= 50 and not r["val_loss"][-1] < 2.0):   # too slow, stalled, diverged
                    return r

SIZES, LRS, SEEDS = (4, 16, 64, 256, len(X_fit)), (0.3, 0.5, 1.0, 3.0), (0, 1, 2)
grid = {}
for B in SIZES:
    cap = MAX_STEPS
    for lr in sorted(LRS, reverse=True):
        grid[B, lr] = [train_until(B, lr, seed, max_steps=cap) for seed in SEEDS]
        median = np.median([r["steps"] for r in grid[B, lr]])
        if np.isfinite(median):
            cap = min(cap, int(2 * median))

def median_steps(B, lr):
    return np.median([r["steps"] for r in grid[B, lr]])

# fewest median steps; a tie (B = 64: 55 at both 0.5 and 1) goes to the fewer mean steps
best_lr = {B: min(LRS, key=lambda lr: (median_steps(B, lr), np.mean([r["steps"] for r in grid[B, lr]])))
           for B in SIZES}

# %% tags=["nbval-ignore-output"]
print("median steps to a validation loss < 0.3 (— : stopped early, slower, stalled or diverged)")
print(" batch size " + "".join(f"  lr={lr:<5g}" for lr in LRS))
for B in SIZES:
    print(f"{B:11d} " + "".join(f"  {median_steps(B, lr):<8.0f}" if np.isfinite(median_steps(B, lr)) else "  —       "
                                for lr in LRS))

# %%
print(" batch size   best lr   steps (median, min–max over 3 seeds)   samples processed")
best_steps, best_seen = {}, {}
for B in SIZES:
    s = np.array([r["steps"] for r in grid[B, best_lr[B]]])
    best_steps[B], best_seen[B] = np.median(s), np.median(s) * B
    print(f"{B:11d}      ≈{best_lr[B]:g}   ≈{best_steps[B]:.0f} (≈{s.min():.0f}–≈{s.max():.0f})"
          f"                     ≈{best_seen[B]:,.0f}")
    assert np.all(np.isfinite(s))             # every seed reaches the target at the chosen rate
lr_order = [best_lr[B] for B in SIZES]
assert lr_order == sorted(lr_order) and best_lr[4] < best_lr[len(X_fit)]   # larger batches take larger rates
assert best_steps[4] > 3 * best_steps[64]                        # more samples per step: fewer steps ...
assert best_steps[64] < 2 * best_steps[len(X_fit)]               # ... but 18× more samples save < half the steps
assert best_seen[4] < best_seen[16] < best_seen[64] < best_seen[256] < best_seen[len(X_fit)]
# seeds 0-2, the three CPU configurations (identical step counts): best rates 0.3, 0.5, 1, 1, 1; steps 210, 80, 55,
# 40, 40. With seeds 3-5 instead: the same best rates from B = 16 on, but B = 4 at 0.3 misses the target within 300
# steps in 2 of 3 runs.
final_at_3 = np.array([r["val_loss"][-1] for B in SIZES for r in grid[B, 3.0]])
print(f"lr = 3 at every batch size: stopped after 50 steps at a validation loss ≈{final_at_3.min():.1f}–"
      f"≈{final_at_3.max():.1f} (chance: log 10 = {np.log(10):.2f})")
assert not any(np.isfinite(r["steps"]) for B in SIZES for r in grid[B, 3.0])
assert 2.1 < final_at_3.min() and final_at_3.max() < 2.7   # stalls at chance; seeds 0-5: 2.17-2.54

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
for B in SIZES:
    r = grid[B, best_lr[B]][0]
    ax1.semilogx(np.maximum(np.array(r["eval_step"]) * B, 1), r["val_loss"], label=f"B = {B}, lr = {best_lr[B]:g}")
    ax2.plot(r["eval_step"], r["val_loss"], label=f"B = {B}")
for ax, xlabel in ((ax1, "samples processed"), (ax2, "steps")):
    ax.axhline(TARGET, color="grey", ls=":")
    ax.set(xlabel=xlabel, ylabel="validation loss")
ax1.legend(fontsize="small")
plt.show()

# %% [markdown]
# With each batch size at its own best rate, the best rate grows with the batch size (0.3 for $B = 4$, 0.5 for
# $B = 16$, 1 from $B = 64$ on). Rate 1 fails for $B \le 16$, and rate 3 fails for every batch size: it does not
# blow up, it stalls at chance (a validation loss of about $\log 10$). Small batches reach the target after
# processing far fewer samples: many noisy
# steps beat a few exact ones, because the noisy steps still point downhill on average. Larger batches need fewer
# steps, but only up to a point: from $B \approx 64$ on, the step count hardly changes, so the extra samples per
# step are wasted work.
#
# **And in seconds?** The time to the target is the number of steps times the time of one step. We time one step
# (forward, backward, update, no evaluation) at each batch size with `lb.timing.time_calls` (the best of several
# interleaved rounds, one BLAS thread):

# %% tags=["nbval-ignore-output"]
def one_step(B):
    model, loss = digit_mlp(0), lb.CrossEntropyLoss()
    opt, xb, yb = lb.SGD(model.parameters(), lr=0.1), X_fit[:B], y_fit[:B]

    def step():
        loss(model(xb), yb)
        opt.zero_grad()
        model.backward(loss.backward())
        opt.step()
    return step

step_time = lb.timing.time_calls({B: one_step(B) for B in SIZES}, rounds=9)
print(" batch size   one step   per sample   time to target (median steps × one step)")
for B in SIZES:
    print(f"{B:11d} {1e3 * step_time[B]:7.3f} ms {1e6 * step_time[B] / B:8.2f} µs {1e3 * best_steps[B] * step_time[B]:9.1f} ms")
fastest = min(SIZES, key=lambda B: best_steps[B] * step_time[B])
print(f"fastest to the target on this machine: B = {fastest}")
assert step_time[len(X_fit)] / len(X_fit) < step_time[4] / 4 / 3   # per sample: 10-80× cheaper idle, ≥ 3× when busy
assert fastest in SIZES[1:-1]  # neither extreme: both took 2.3× or more the time of the fastest on the machines tried

# %% [markdown]
# What this measures: the time to the target is *steps × time per step*, and the time per step grows far more
# slowly than $B$ (per sample, a full-batch step is many times cheaper than a step on 4 samples; the cell
# asserts at least 3 times, which holds even on a busy machine). For this small network a step on a few samples is mostly the fixed cost of calling every layer,
# not arithmetic. So the seconds follow the step count at small $B$ and the sample count at large $B$, and the
# fastest batch size lies in between (the cell asserts that neither $B = 4$ nor the full batch is the fastest).
# Which one in between wins depends on the machine and on how busy it is (the
# table comes from the machine that ran this notebook; rerun it on yours); a larger network or a GPU shifts the
# fixed cost and so the best batch size, but not the shape of the trade.
#
# ### Constant learning rates bounce: the SGD noise floor
#
# The notes warn that with too large a rate the weights "bounce around a good minimum and never descend into it".
# For SGD this happens at *every* constant rate: near the minimum the batch gradient is not zero, only its
# average is, so each step kicks the weights by a random amount proportional to $\eta$. The loss settles on a
# **plateau** above the minimum. For a linear model with squared error $\tfrac12(x^\top w - y)^2$, noise of
# variance $\sigma^2$ on the targets and a small $\eta$, the plateau lies above the minimum by about
#
# $$\mathbb{E}[\mathcal{L}] - \mathcal{L}_{\min} \approx \frac{\eta\, \sigma^2 \operatorname{tr}(H)}{4B},
# \qquad H = \tfrac1N X^\top X,$$
#
# proportional to $\eta / B$. A **decaying** rate $\eta_t = \eta_0 / (1 + t/\tau)$ shrinks the kicks and goes
# below it. We measure it with plain numpy SGD on 1000 samples in 5 dimensions (the mean excess loss over the last
# 500 of 2000 steps, averaged over 3 seeds):

# %%
rng = np.random.default_rng(0)
X_lin = rng.normal(size=(1000, 5))
sigma = 0.5
y_lin = X_lin @ rng.normal(size=5) + sigma * rng.normal(size=1000)
w_min = np.linalg.lstsq(X_lin, y_lin, rcond=None)[0]

def lin_loss(w):
    return 0.5 * np.mean((X_lin @ w - y_lin) ** 2)

L_min = lin_loss(w_min)

def sgd_linear(lr, B, seed, steps=2000, decay=None):
    """Plain SGD on the linear least-squares loss; the excess loss L(w) − L_min every 20 steps."""
    idx = np.random.default_rng(seed).integers(0, len(X_lin), size=(steps, B))  # every step's batch, drawn at once
    X_b, y_b, w, excess = X_lin[idx], y_lin[idx], np.zeros(5), []              # X_b: (steps, B, 5)
    for t in range(steps):
        grad = X_b[t].T @ (X_b[t] @ w - y_b[t]) / B
        w -= (lr if decay is None else lr / (1 + t / decay)) * grad
        if t % 20 == 19:
            excess.append(lin_loss(w) - L_min)
    return np.array(excess)

trace_H = np.trace(X_lin.T @ X_lin / len(X_lin))
print("   η    B   plateau measured   theory ησ²tr(H)/4B")
plateau, excess_runs = {}, {}
for lr, B in ((0.01, 1), (0.02, 1), (0.04, 1), (0.04, 4)):
    excess_runs[lr, B] = np.array([sgd_linear(lr, B, seed) for seed in range(3)])
    plateau[lr, B] = excess_runs[lr, B][:, -25:].mean()
    theory = lr * sigma**2 * trace_H / (4 * B)
    print(f"{lr:5.2f} {B:4d}   ≈{plateau[lr, B]:.4f}            {theory:.4f}")
    assert 0.7 < plateau[lr, B] / theory < 1.6   # 3 seeds each: measured/theory 1.0-1.15 (terms of higher order in η)
decayed = np.array([sgd_linear(0.04, 1, seed, decay=100) for seed in range(3)])
print(f"η_t = 0.04/(1 + t/100), B = 1: final excess ≈{decayed[:, -1].mean():.4f}")
assert 1.5 < plateau[0.04, 1] / plateau[0.02, 1] < 2.7 and 3 < plateau[0.04, 1] / plateau[0.04, 4] < 5.5  # ∝ η/B
assert decayed[:, -1].mean() < 0.2 * plateau[0.04, 1]           # the decaying rate goes far below the floor

fig, ax = plt.subplots(figsize=(6.5, 3.5))
steps_axis = np.arange(20, 2001, 20)
for (lr, B), color in zip(((0.01, 1), (0.04, 1), (0.04, 4)), ("C0", "C1", "C2")):
    ax.semilogy(steps_axis, excess_runs[lr, B][0], color=color, lw=0.8, label=f"constant η = {lr}, B = {B}")
    ax.axhline(lr * sigma**2 * trace_H / (4 * B), color=color, ls="--", lw=1)
ax.semilogy(steps_axis, decayed[0], color="k", lw=1.2, label="η = 0.04/(1 + t/100), B = 1")
ax.set(xlabel="step", ylabel="L(w) − L_min (log scale)", title="dashed: the noise floor ησ²tr(H)/4B")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# The plateau doubles when $\eta$ doubles and drops about 4× when $B$ grows 4×, as the formula says; the decaying
# rate ends an order of magnitude below the floor of the rate it started from. This is why training recipes decay
# the learning rate (`lb.StepLR` multiplies it by γ every few epochs; `lb.CosineAnnealingLR`, used in chapter 5,
# lowers it along a half cosine), and why a larger batch behaves like a smaller
# rate.
#
# The noise is also visible in the loss of each batch, here for the comparison's runs at each batch size's best
# rate (`lbplot.batch_loss_curves`). The slider retrains at any batch size and rate:

# %%
def noise_status(batch_size, r):
    return "did not reach the target" if not np.isfinite(r["steps"]) else \
        f"reached a validation loss of {TARGET} after ≈{r['steps']} steps, ≈{r['steps'] * batch_size:,} samples"

fig, axes = plt.subplots(1, 3, figsize=(15, 3.3))
for ax, B in zip(axes, (4, 64, 256)):
    r = grid[B, best_lr[B]][0]  # the runs above, redrawn
    lbplot.batch_loss_curves(r["batch_loss"], r["eval_step"], r["val_loss"], ax=ax, target=TARGET,
                             title=f"batch size {B}, lr = {best_lr[B]:g}")
    print(noise_status(B, r))
plt.show()
assert all(np.isfinite(grid[B, best_lr[B]][0]["steps"]) for B in (4, 64, 256))  # seed 0 of the table: 210, 55, 40

# %% tags=["nbval-ignore-output"]
# A run of the table that reached the target stopped there, whatever its cap: train_until(B, lr) would repeat it.
noise_runs = {key: rs[0] for key, rs in grid.items() if np.isfinite(rs[0]["steps"])}
fig, (ax,) = lbplot.fixed_figure(1, figsize=(10, 3.4), dpi=80)  # drawn once; a move redraws two curves
noise_panel = lbplot.BatchLossPanel(ax, MAX_STEPS, target=TARGET)

def show_batch_noise(batch_size, lr):
    if (batch_size, lr) not in noise_runs:
        noise_runs[batch_size, lr] = train_until(batch_size, lr)  # at most 300 steps, once per notch
    r = noise_runs[batch_size, lr]
    noise_panel.show(r["batch_loss"], r["eval_step"], r["val_loss"], title=f"batch size {batch_size}, lr = {lr:g}")
    return noise_status(batch_size, r)

explore_figure(lbplot.Blitter(fig, noise_panel.artists, dpi=80), show_batch_noise,
               batch_size=widgets.SelectionSlider(options=[2, 4, 8, 16, 32, 64, 128, 256, 512, len(X_fit)],
                                                  value=32, description="batch size"),
               lr=widgets.SelectionSlider(options=[0.1, 0.3, 0.5, 1.0, 3.0], value=0.3, description="lr"))

# %% [markdown]
# ## 3.6 Momentum and Adam
#
# §3.4 showed plain gradient descent crawling along a flat valley, because the steep direction caps the rate.
# Two changes to the update rule are in use almost everywhere (the language model of §3.3 used plain SGD only because
# this section had not come yet). **Momentum** fixes much of that crawl. **Adam** fixes something else, differences
# of scale between individual weights; we measure both below.
#
# **Momentum** (Polyak's heavy ball) keeps a running sum of past gradients, the *velocity* $v$, and steps along it.
# `lb.SGD(momentum=μ)` implements exactly
#
# $$v \leftarrow \mu v + g, \qquad w \leftarrow w - \eta v \qquad (v = 0 \text{ at the start; } \mu = 0 \text{ is plain
# gradient descent}),$$
#
# with $g = \nabla\mathcal{L}(w)$. Along the valley floor the gradients point the same way every step and add up
# (up to $1/(1-\mu)$ times one gradient: 10 times for $\mu = 0.9$); across the valley they alternate in sign and
# cancel. So the rate is effectively larger in the flat direction and not in the steep one.
#
# **Adam** (Kingma & Ba, 2015) keeps two running averages per weight, of the gradient and of its square, and
# divides one by the square root of the other:
#
# $$m \leftarrow \beta_1 m + (1-\beta_1) g, \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
# \hat m = \frac{m}{1-\beta_1^t}, \quad \hat v = \frac{v}{1-\beta_2^t}, \quad
# w \leftarrow w - \eta \frac{\hat m}{\sqrt{\hat v} + \epsilon},$$
#
# all element-wise, $t = 1, 2, \dots$ the step count, $m = v = 0$ at the start, defaults $\beta_1 = 0.9$,
# $\beta_2 = 0.999$, $\epsilon = 10^{-8}$. $m$ is momentum again; dividing by $\sqrt{\hat v}$, the typical size of
# this weight's gradient, makes every weight move by about $\eta$ per step whatever the scale of its gradient. The
# **bias correction** undoes the start at 0: after one step $m = (1-\beta_1) g$ is 10 times too small, and
# $\hat m = g$ exactly.
#
# Three steps of each, by hand on the valley of §3.4 (in float64), against `lb.SGD` and `lb.Adam`:

# %%
def by_hand_momentum(w, steps, lr, mu):
    v, path = np.zeros_like(w), []
    for _ in range(steps):
        g = A @ w                       # ∇L for L = ½ wᵀAw
        v = mu * v + g
        w = w - lr * v
        path.append(w)
    return np.array(path)

def by_hand_adam(w, steps, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m, v, path = np.zeros_like(w), np.zeros_like(w), []
    for t in range(1, steps + 1):
        g = A @ w
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        path.append(w)
    return np.array(path)

def by_library(make_optimizer, steps):
    model = Valley(W0)
    opt, path = make_optimizer(model.parameters()), []
    for _ in range(steps):
        opt.zero_grad()
        model.backward()
        opt.step()
        path.append(model.w.value.copy())
    return np.array(path)

hand_m = by_hand_momentum(np.array(W0), 3, lr=0.05, mu=0.9)
hand_a = by_hand_adam(np.array(W0), 3, lr=0.5)
lib_m = by_library(lambda p: lb.SGD(p, lr=0.05, momentum=0.9), 3)
lib_a = by_library(lambda p: lb.Adam(p, lr=0.5), 3)
print("momentum, by hand:\n", hand_m, "\nAdam, by hand:\n", hand_a)
assert np.max(np.abs(hand_m - lib_m)) < 1e-12 and np.max(np.abs(hand_a - lib_a)) < 1e-12
print("max |by hand − littlebook| < 1e-12 for both")
# Adam's first step moves every weight by η (= 0.5) exactly, whatever its gradient: m̂/√v̂ = g/|g| = ±1
assert np.allclose(np.abs(hand_a[0] - W0), 0.5)

# %% [markdown]
# Adam's first step moves both weights by exactly $\eta$ (then $\hat m / \sqrt{\hat v} = g/|g| = \pm 1$): the size of
# the gradient no longer matters, only its sign and its consistency over time.
#
# **When does momentum help?** On a quadratic the theory is exact: the best plain rate converges with
# $\rho = (\kappa-1)/(\kappa+1)$ per step, while momentum with $\eta = 4/(\sqrt{\lambda_{\max}} +
# \sqrt{\lambda_{\min}})^2$ and $\mu = \big((\sqrt\kappa - 1)/(\sqrt\kappa + 1)\big)^2$ reaches
# $\rho = (\sqrt\kappa-1)/(\sqrt\kappa+1)$: roughly $\sqrt\kappa$ instead of $\kappa$ steps. We count the steps to
# shrink the distance to the minimum 10 000-fold on valleys with $\kappa = 10$ and $\kappa = 100$ (rotated by 30° as
# in §3.4), from 5 random starts on the unit circle, each method at its best parameters. Adam has no formula for
# them: it takes the default betas and the rate among 1, 0.3, 0.1 and 0.03 with the fewest median steps (tried from
# the largest down, stopping at the first rate that is slower than the one before).

# %%
def steps_to_converge(make_optimizer, curvature, w0, max_steps=5000):
    model = Valley(w0, curvature)
    opt = make_optimizer(model.parameters())
    for n in range(1, max_steps + 1):
        opt.zero_grad()
        model.backward()
        opt.step()
        if np.linalg.norm(model.w.value) < 1e-4 * np.linalg.norm(w0):
            return n
    return np.inf

def adam_steps(curvature, rates=(1.0, 0.3, 0.1, 0.03)):
    """The best rate's steps from every start: rates from the largest down, until one is slower than the last."""
    best = None
    for lr in rates:
        cap = 2000 if best is None else int(2 * np.median(best[1]))  # a rate twice as slow is stopped early
        steps = [steps_to_converge(lambda p, lr=lr: lb.Adam(p, lr=lr), curvature, w0, max_steps=cap) for w0 in starts]
        if best is not None and not np.median(steps) < np.median(best[1]):
            return best
        best = (lr, steps)
    return best

starts = [np.array([np.cos(a), np.sin(a)]) for a in np.random.default_rng(5).uniform(0, 2 * np.pi, 5)]
speedup, medians = {}, {}
print("  κ   plain GD (min–max)   momentum (min–max)   Adam (min–max), best lr   "
      "GD: κ/2·ln 10⁴   momentum: √κ/2·ln 10⁴")
for kappa_v in (10, 100):
    curvature = R @ np.diag([1.0, float(kappa_v)]) @ R.T
    lam_min, lam_max = 1.0, float(kappa_v)
    lr_gd = 2 / (lam_min + lam_max)
    lr_hb = 4 / (np.sqrt(lam_max) + np.sqrt(lam_min)) ** 2
    mu_hb = ((np.sqrt(kappa_v) - 1) / (np.sqrt(kappa_v) + 1)) ** 2
    gd = [steps_to_converge(lambda p, lr=lr_gd: lb.SGD(p, lr=lr), curvature, w0) for w0 in starts]
    hb = [steps_to_converge(lambda p, lr=lr_hb, mu=mu_hb: lb.SGD(p, lr=lr, momentum=mu), curvature, w0)
          for w0 in starts]
    lr_adam, ad = adam_steps(curvature)
    speedup[kappa_v] = np.median(gd) / np.median(hb)
    medians[kappa_v] = {"GD": np.median(gd), "momentum": np.median(hb), "Adam": np.median(ad)}
    print(f"{kappa_v:4d}   ≈{min(gd)}–≈{max(gd)}             ≈{min(hb)}–≈{max(hb)}               "
          f"≈{min(ad)}–≈{max(ad)}, ≈{lr_adam:g}             {kappa_v / 2 * np.log(1e4):5.0f}"
          f"             {np.sqrt(kappa_v) / 2 * np.log(1e4):5.0f}")
print(f"momentum's speed-up: ≈{speedup[10]:.1f} times for κ = 10, ≈{speedup[100]:.1f} times for κ = 100")
assert 1.5 < speedup[10] < 4 and 5 < speedup[100] < 12 and speedup[100] > 2 * speedup[10]  # √κ-like growth
adam_10, adam_100 = medians[10]["Adam"], medians[100]["Adam"]
assert 100 < adam_10 < 200 and 100 < adam_100 < 220  # rates 0.003-3 tried by hand: best 140-165 steps, lr 0.3-1
assert adam_10 > 2 * medians[10]["GD"] and adam_100 > 2 * medians[100]["momentum"]  # no cure here

# %% [markdown]
# Momentum's gain grows like $\sqrt\kappa$, as the theory says. Adam is no cure for this valley: even at its best
# rate it needs about 140 steps at $\kappa = 10$ and 160 at $\kappa = 100$: three times plain GD's count at
# $\kappa = 10$, more than twice momentum's at $\kappa = 100$. Dividing by $\sqrt{\hat v}$ rescales each *weight*
# separately, which undoes a valley stretched along the weight axes; this one is rotated by 30°, so each weight
# feels both curvatures and no per-weight scale straightens it. Turn the same valleys to lie along the axes,
# $A = \operatorname{diag}(1, \kappa)$: plain GD's count does not change (it sees only the eigenvalues, §3.4), while
# Adam, at the rate it chose for $\kappa = 100$ above, no longer depends on $\kappa$ at all:

# %%
lr_axes = lr_adam  # the rate Adam chose for the rotated κ = 100 valley
axis_steps = {k: [steps_to_converge(lambda p: lb.Adam(p, lr=lr_axes), np.diag([1.0, float(k)]), w0) for w0 in starts]
              for k in (10, 100)}
print(f"axis-aligned valleys, Adam (lr ≈{lr_axes:g}): median ≈{np.median(axis_steps[10]):.0f} steps at κ = 10, "
      f"≈{np.median(axis_steps[100]):.0f} at κ = 100; "
      f"plain GD: ≈{medians[10]['GD']:.0f} and ≈{medians[100]['GD']:.0f}")
print("the same count from every start at both κ:", axis_steps[10] == axis_steps[100])
assert axis_steps[10] == axis_steps[100]  # m̂/√v̂ does not see a weight's scale (ε = 1e-8 aside): the same paths
assert np.median(axis_steps[100]) < medians[100]["GD"] / 2   # at κ = 100 Adam beats plain GD 3-fold here

# %% [markdown]
# That is what Adam is good for: weights whose gradients differ in scale (in a network, say, the weights of
# different layers, or of inputs that are rarely active), not a valley that runs diagonally between the weights,
# which is momentum's case.

# %% [markdown]
# ## 3.7 Backpropagation, step by step
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
# ### Backpropagation as a general algorithm
#
# Nothing above is special to two layers. Any computation is a **graph** of elementary operations, and the chain
# rule walks it backwards: each node multiplies the gradient arriving from its output by its own *local*
# derivative and passes the product to its inputs. Take one sample and one neuron with a squared error,
#
# $$u = w x, \quad z = u + b, \quad a = \sigma(z), \quad d = a - y, \quad L = d^2 .$$
#
# Forward, node by node, then backward from $\partial L/\partial L = 1$, each gradient printed, and the two we
# care about checked against finite differences:

# %%
w_g, x_g, b_g, y_g = 0.5, 2.0, -0.5, 1.0
u_g = w_g * x_g                 # 1.0
z_g = u_g + b_g                 # 0.5
a_g = 1 / (1 + np.exp(-z_g))    # σ(0.5)
d_g = a_g - y_g
L_g = d_g**2
print(f"forward:  u = {u_g}, z = {z_g}, a = σ(z) ≈{a_g:.4f}, d = a − y ≈{d_g:.4f}, L = d² ≈{L_g:.4f}")
dL_dd = 2 * d_g                 # local derivative of d² is 2d
dL_da = dL_dd * 1.0             # d = a − y: ∂d/∂a = 1
dL_dz = dL_da * a_g * (1 - a_g)  # σ'(z) = a(1 − a)
dL_db, dL_du = dL_dz * 1.0, dL_dz * 1.0   # z = u + b: both local derivatives are 1
dL_dw, dL_dx = dL_du * x_g, dL_du * w_g   # u = w x: ∂u/∂w = x, ∂u/∂x = w
print(f"backward: ∂L/∂d ≈{dL_dd:.4f}, ∂L/∂a ≈{dL_da:.4f}, ∂L/∂z ≈{dL_dz:.4f}, ∂L/∂b ≈{dL_db:.4f}, "
      f"∂L/∂w ≈{dL_dw:.4f}, ∂L/∂x ≈{dL_dx:.4f}")

def L_of(w, b):
    return (1 / (1 + np.exp(-(w * x_g + b))) - y_g) ** 2

h_fd = 1e-6
fd_w = (L_of(w_g + h_fd, b_g) - L_of(w_g - h_fd, b_g)) / (2 * h_fd)
fd_b = (L_of(w_g, b_g + h_fd) - L_of(w_g, b_g - h_fd)) / (2 * h_fd)
assert abs(fd_w - dL_dw) < 1e-8 and abs(fd_b - dL_db) < 1e-8
print("∂L/∂w and ∂L/∂b agree with central differences to < 1e-8")

# %%
graph_nodes = {
    "w": (0, 1, f"w = {w_g}\n∂L/∂w = {dL_dw:.3f}"), "x": (0, -0.2, f"x = {x_g}\n∂L/∂x = {dL_dx:.3f}"),
    "b": (3, -0.9, f"b = {b_g}\n∂L/∂b = {dL_db:.3f}"), "u": (1.5, 0.4, f"u = w·x = {u_g}\n∂L/∂u = {dL_du:.3f}"),
    "z": (3, 0.4, f"z = u + b = {z_g}\n∂L/∂z = {dL_dz:.3f}"), "a": (4.5, 0.4, f"a = σ(z) = {a_g:.3f}\n∂L/∂a = {dL_da:.3f}"),
    "d": (6, 0.4, f"d = a − y = {d_g:.3f}\n∂L/∂d = {dL_dd:.3f}"), "L": (7.5, 0.4, f"L = d² = {L_g:.3f}\n∂L/∂L = 1"),
}
graph_edges = [("w", "u"), ("x", "u"), ("u", "z"), ("b", "z"), ("z", "a"), ("a", "d"), ("d", "L")]
_, ax = plt.subplots(figsize=(12, 3))
lbplot.expression_graph(graph_nodes, graph_edges, ax=ax, title="forward values (top) and gradients (bottom) of each node")
plt.show()

# %% [markdown]
# **Every `backward` is a vector–Jacobian product.** A layer $y = f(x)$ has a Jacobian $J = \partial y/\partial x$,
# one row per output number and one column per input number. The chain rule says
# $\partial L/\partial x = (\partial L/\partial y)\, J$: a row vector times the Jacobian, a **VJP**. `backward`
# computes that product directly and never forms $J$, which for a realistic layer would be enormous. For a
# `Linear(784, 256)` on a batch of 64:

# %%
N_b, n_in, n_out = 64, 784, 256
jac_x = (N_b * n_out) * (N_b * n_in)           # ∂y/∂x: every output number against every input number
jac_W = (N_b * n_out) * (n_out * n_in)         # ∂y/∂W
print(f"Jacobian ∂y/∂x: {jac_x:,} numbers ({jac_x * 4 / 1e9:.1f} GB in float32); ∂y/∂W: {jac_W:,} numbers")
print(f"the VJPs backward returns: ∂L/∂x {N_b * n_in:,} numbers, ∂L/∂W {n_out * n_in:,} numbers")
# On a layer small enough to build J, the VJP is exactly g·J:
tiny = lb.Linear(3, 2, rng=0, dtype=np.float64)
x_t, g_t = np.random.default_rng(7).normal(size=(2, 3)), np.random.default_rng(8).normal(size=(2, 2))
J = np.zeros((2 * 2, 2 * 3))
for k in range(6):                             # column k: the output's response to input number k (linear: exact)
    e = np.zeros(6)
    e[k] = 1.0
    J[:, k] = (tiny(x_t + e.reshape(2, 3)) - tiny(x_t)).ravel()
tiny(x_t)
vjp = tiny.backward(g_t)
assert np.max(np.abs(vjp.ravel() - g_t.ravel() @ J)) < 1e-12
print("tiny Linear(3, 2), batch 2: backward(g) equals g · J (a 4 × 6 Jacobian) to < 1e-12")

# %% [markdown]
# **Why backward costs about twice the forward, in arithmetic.** A `Linear` on a batch does one matrix product
# forward, $Y = XW^\top$ ($2 N \cdot n_{in} \cdot n_{out}$ floating-point operations), and two backward: $\partial L/\partial W
# = G^\top X$ and $\partial L/\partial X = G W$, the same count each: twice the forward. (A first layer whose
# input is data may skip $\partial L/\partial X$: `train_step` calls `model.backward(grad, input_grad=False)` for
# the data; here we keep the default `input_grad=True`, as for a layer inside a larger network.) The element-wise
# work (ReLU masks, bias sums) adds a little. The operation count is a guide, not a clock: the backward products
# have other shapes than the forward one and BLAS runs them at other speeds. We time both for an MLP
# `784 → 256 → 256 → 10` on a batch of 64:

# %% tags=["nbval-ignore-output"]
mlp_t = lb.Sequential(lb.Linear(784, 256, rng=0), lb.ReLU(), lb.Linear(256, 256, rng=1), lb.ReLU(),
                      lb.Linear(256, 10, rng=2))
x_mlp = np.random.default_rng(0).normal(size=(64, 784)).astype(np.float32)
g_mlp = np.ones((64, 10), dtype=np.float32)
mlp_t(x_mlp)                                    # backward(g) returns ∂L/∂x by default (input_grad=True)
repeats = [lb.timing.time_calls({"forward": lambda: mlp_t(x_mlp),
                                 "backward": lambda: mlp_t.backward(g_mlp, input_grad=True)})
           for _ in range(5)]                  # five independent best-of-rounds measurements
times = {k: float(np.median([t[k] for t in repeats])) for k in ("forward", "backward")}
flops_fwd = 2 * 64 * (784 * 256 + 256 * 256 + 256 * 10)
flops_bwd = 2 * flops_fwd                        # two products of the forward's size per Linear
ratio = float(np.median([t["backward"] / t["forward"] for t in repeats]))  # the median resists a busy machine
print(f"FLOPs: forward {flops_fwd:,}, backward {flops_bwd:,} (ratio {flops_bwd / flops_fwd:.2f})")
print(f"measured: forward {1e3 * times['forward']:.3f} ms, backward {1e3 * times['backward']:.3f} ms, "
      f"ratio ≈{ratio:.1f}")
assert mlp_t.backward(g_mlp).shape == x_mlp.shape and 1.1 < ratio < 4
# the median of five best-of-rounds ratios, 4 runs in each of the three CPU configurations on a loaded 2-core machine:
# 1.4-1.8 (earlier idle runs: 1.8-2.2). Below 1.1 or above 4 would mean the backward skipped or repeated a product.

# %% [markdown]
# **Why the forward pass must store its activations.** $\partial L/\partial W = G^\top X$ needs the layer's input
# $X$, and the ReLU needs its mask: the backward pass reads what the forward pass computed. So training keeps every
# layer's input in memory until the backward pass has used it; this is why training needs far more memory than
# inference, and it grows with the batch size while the parameters do not:

# %%
def cached_bytes(layer):
    return sum(getattr(layer, name).nbytes for name in ("_x", "_mask") if getattr(layer, name, None) is not None)

for batch in (64, 1024):
    mlp_t(np.zeros((batch, 784), dtype=np.float32))
    act = sum(cached_bytes(layer) for layer in mlp_t)
    par = sum(p.value.nbytes for p in mlp_t.parameters())
    print(f"batch {batch:5d}: cached for backward {act / 1e6:6.2f} MB, parameters {par / 1e6:.2f} MB")
assert act > par          # at batch 1024 the stored activations outweigh the weights

# %% [markdown]
# **The Linear layer's backward, index by index.** littlebook stores $W$ as (out, in), so $y_{ni} = \sum_j W_{ij}
# x_{nj} + b_i$. With $\delta_{ni} = \partial L/\partial y_{ni}$, the chain rule sums over every output that a weight
# or input touches:
#
# $$\frac{\partial L}{\partial W_{ij}} = \sum_n \delta_{ni}\, x_{nj} = (\delta^\top x)_{ij}, \qquad
# \frac{\partial L}{\partial x_{nj}} = \sum_i \delta_{ni}\, W_{ij} = (\delta W)_{nj}, \qquad
# \frac{\partial L}{\partial b_i} = \sum_n \delta_{ni}.$$
#
# Checked against `lb.Linear` in float64, with the sums written as explicit index sums (`einsum`):

# %%
lin = lb.Linear(4, 3, rng=0, dtype=np.float64)
x_l = np.random.default_rng(1).normal(size=(5, 4))
delta = np.random.default_rng(2).normal(size=(5, 3))
lin.zero_grad()
lin(x_l)
grad_x_lib = lin.backward(delta)
W_l = lin.weight.value
diffs = (np.abs(np.einsum("ni,nj->ij", delta, x_l) - lin.weight.grad).max(),
         np.abs(np.einsum("ni,ij->nj", delta, W_l) - grad_x_lib).max(),
         np.abs(delta.sum(axis=0) - lin.bias.grad).max())
assert max(diffs) < 1e-12
print("∂L/∂W = δᵀx, ∂L/∂x = δW, ∂L/∂b = Σ_n δ: all three match lb.Linear to < 1e-12")

# %% [markdown]
# ## 3.8 "The correct digit is 2"
#
# The notes describe backpropagation on a digit image whose correct label is 2: the loss looks at the 10 output
# probabilities and decides which should go up and which down; then we take one step back to the last hidden layer
# and see which weights and biases change, and by how much; then we repeat, layer by layer. Here it is on real
# handwriting: MNIST if it has been downloaded (`lb.data.load_mnist()`), otherwise the 8×8 digits that ship with
# scikit-learn. As in §3.5, 20 % of the training images are held out as a validation set (for the 8×8 digits it is
# §3.5's very split, `X_fit`/`X_val`), which the curves show and from which we pick an image below; the test set is
# scored once, at the end.

# %% tags=["nbval-ignore-output"]
if lb.data.mnist_cached():
    Xm_tr, ym_tr, Xm_te, ym_te = lb.data.load_mnist(download=False)
    Xd_tr, yd_tr = lb.data.scale_images(Xm_tr[:20000]), ym_tr[:20000]
    Xd_te, yd_te, side, source = lb.data.scale_images(Xm_te), ym_te, 28, "MNIST (28×28)"
else:
    Xd_tr, Xd_te, yd_tr, yd_te, side, source = X_tr, X_te, y_tr, y_te, 8, "scikit-learn digits (8×8)"
Xd_fit, Xd_val, yd_fit, yd_val = lb.train_test_split(Xd_tr, yd_tr, test_size=0.2, rng=1)  # §3.5's split
print("data:", source, "training", Xd_fit.shape, "validation", Xd_val.shape)

clf = lb.Sequential(lb.Linear(side * side, 32, rng=0), lb.ReLU(), lb.Linear(32, 10, rng=1))
clf_history = lb.fit(clf, lb.CrossEntropyLoss(), lb.SGD(clf.parameters(), lr=0.1, momentum=0.9), (Xd_fit, yd_fit),
                     epochs=10, batch_size=32, val_data=(Xd_val, yd_val), progress=False, rng=0,
                     metrics=("accuracy",))
lbplot.plot_history(clf_history, metrics=("loss", "accuracy"))
plt.show()
test_acc = lb.accuracy(lb.predict(clf, Xd_te), yd_te)  # the one use of the test set in this chapter
print(f"validation accuracy after the last epoch ≈{clf_history.val_acc[-1]:.3f}, "
      f"test accuracy ≈{test_acc:.3f}")
assert test_acc > 0.9 and clf_history.val_acc[-1] > 0.9  # training seeds 0-3: validation 0.95-0.98, test 0.96-0.98

# %% [markdown]
# A 2 that the model already recognises with 99.9 % gives a gradient of almost nothing, so we pick the validation
# image of a 2 to which the model gives the *lowest* probability of being a 2, and look at its 10 probabilities.

# %% tags=["nbval-ignore-output"]
twos = np.flatnonzero(yd_val == 2)
x2 = Xd_val[twos[np.argmin(softmax(lb.predict(clf, Xd_val[twos]))[:, 2])]][None, :]  # the hardest 2
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
# change it asks of the hidden layer, and the same process repeats there (two cells below).

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
# **And one more step back: the first layer.** The hidden activations are $h = \text{relu}(z_1)$ with
# $z_1 = W_1 x + b_1$. The ReLU passes the gradient where it was active and blocks it elsewhere,
# $\delta_1 = \partial L/\partial z_1 = \partial L/\partial h \odot [z_1 > 0]$; the first `Linear` then gets
# $\partial L/\partial W_1 = \delta_1^\top x$ (row $j$ is the image itself, scaled by unit $j$'s $\delta$) and
# $\partial L/\partial b_1 = \delta_1$. By hand, from the `grad_h` that the last layer returned, against the
# library's full backward pass:

# %%
z1_hidden = clf[0](x2)                           # the first layer's pre-activations for this image
delta1 = grad_h * (z1_hidden > 0)                # through the ReLU
dW1_by_hand, db1_by_hand = delta1.T @ x2, delta1[0]
clf.zero_grad()
loss2(clf(x2), np.array([2]))
clf.backward(loss2.backward())                   # the library, from the loss all the way back
assert np.max(np.abs(dW1_by_hand - clf[0].weight.grad)) < 1e-6     # float32: the same products, round-off only
assert np.max(np.abs(db1_by_hand - clf[0].bias.grad)) < 1e-6
print("first layer: max |by hand − clf.backward| < 1e-6 (float32)")
print("gradient rows of the first layer are copies of the image:",
      bool(np.all([np.allclose(row, d * x2[0]) for row, d in zip(dW1_by_hand, delta1[0])])))

# %% [markdown]
# Every layer does the same two things: multiply the incoming gradient by its local derivative (the ReLU's 0 or
# 1), and hand the result to the layer before it. That is all backpropagation is; §3.7 showed it on a network
# small enough to print.

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
# - BPE merges the most frequent pair inside GPT-2-style chunks (never across words) and encodes by replaying the
#   merges in the order they were learned.
# - Gradient descent steps against the gradient. On a quadratic each eigen-direction shrinks by $|1-\eta\lambda_i|$
#   per step: $\eta < 2/\lambda_{\max}$ for stability, and the best fixed rate $2/(\lambda_{\min}+\lambda_{\max})$
#   converges with $(\kappa-1)/(\kappa+1)$ per step, so the condition number $\kappa$ sets the speed; rescaled
#   inputs lower it.
# - SGD trades exactness of each step for more steps. Compared at each batch size's own best rate, small batches
#   need fewer samples, large batches fewer steps (up to a point), and seconds are steps × time per step. A constant
#   rate leaves the loss on a noise floor $\propto \eta/B$; a decaying rate goes below it.
# - Momentum ($v \leftarrow \mu v + g$, $w \leftarrow w - \eta v$) turns $\kappa$ steps into about $\sqrt\kappa$;
#   Adam divides a momentum average by the root of an average of squared gradients, with bias correction: that evens
#   out differences of scale between weights (its step count on an axis-aligned valley does not depend on κ), not
#   a valley that runs diagonally between them.
# - Backpropagation is the chain rule, layer by layer; check it with finite differences. With cross-entropy the
#   output delta is simply prediction − target.
#
# ## Exercises
#
# Write your answer between the `### BEGIN SOLUTION` and `### END SOLUTION` lines (the student edition has a
# placeholder there); the cell after each exercise checks it against the library and says what is wrong, never
# what the answer is. Exercises 3.2 to 3.6 ask you to implement something.

# %%
import littlebook.exercises as ex  # noqa: E402

# %% [markdown]
# **3.1.** Three samples have labels $y = (1, 0, 1)$ and predictions $p = (0.9, 0.2, 0.6)$. Compute the binary
# cross-entropy by hand (three logs, the mean over the samples).

# %%
# Exercise 3.1: the binary cross-entropy of the three samples, by hand
### BEGIN SOLUTION
bce_by_hand = -(np.log(0.9) + np.log(0.8) + np.log(0.6)) / 3
### END SOLUTION

# %%
ex.check_value("3.1", bce_by_hand, lb.BCELoss()(np.array([0.9, 0.2, 0.6]), np.array([1.0, 0.0, 1.0])),
               name="bce_by_hand", hint="only one of the two terms survives for each sample; divide by N")

# %% [markdown]
# **3.2 (implement it: the backward pass of `Sigmoid`).** For $y = \sigma(x)$ element-wise, return
# $\partial L/\partial x$ from $x$ and $\partial L/\partial y$. The check compares it with central differences in
# float64 and with `lb.Sigmoid`.

# %%
# Exercise 3.2: sigmoid_backward(x, grad_y) -> ∂L/∂x for y = σ(x)
def sigmoid_backward(x, grad_y):
    ### BEGIN SOLUTION
    s_x = sigmoid(x)
    return grad_y * s_x * (1.0 - s_x)
    ### END SOLUTION


# %%
def sigmoid_backward_library(x, grad_y):
    layer = lb.Sigmoid()
    layer(x)
    return layer.backward(grad_y)


x_sig = 3 * np.random.default_rng(32).normal(size=(4, 5))
ex.check_backward("3.2", sigmoid, sigmoid_backward, x_sig,
                  hint="§3.7 (the notes' backward pass) writes σ' through σ itself; then the chain rule")
ex.check_function("3.2", sigmoid_backward, sigmoid_backward_library,
                  inputs=[(x_sig, np.random.default_rng(33).normal(size=(4, 5)))], name="sigmoid_backward")

# %% [markdown]
# **3.3 (implement it: softmax and cross-entropy, backward).** For logits $z$ of shape (N, C) and integer classes,
# `lb.CrossEntropyLoss()` is the *mean* over the N samples of $-\log \operatorname{softmax}(z)_{i, y_i}$. Return its
# gradient with respect to $z$ (§3.7 gives it for the summed loss). Why do the rows of your gradient sum to 0?

# %%
# Exercise 3.3: cross_entropy_backward(z, classes) -> ∂L/∂z of the mean softmax cross-entropy
def cross_entropy_backward(z, classes):
    ### BEGIN SOLUTION
    grad_z = softmax(z)
    grad_z[np.arange(len(z)), classes] -= 1.0
    return grad_z / len(z)
    ### END SOLUTION


# %%
def cross_entropy_backward_library(z, classes):
    loss = lb.CrossEntropyLoss()
    loss(z, classes)
    return loss.backward()


rng_ce = np.random.default_rng(34)
ex.check_function("3.3", cross_entropy_backward, cross_entropy_backward_library,
                  inputs=[(3 * rng_ce.normal(size=(5, 7)), np.array([0, 3, 6, 2, 2])),
                          (rng_ce.normal(size=(1, 4)), np.array([1]))],
                  name="cross_entropy_backward",
                  hint="§3.7, 'With cross-entropy, the sigmoid derivative cancels', has the summed loss's gradient")

# %% [markdown]
# **3.4 (implement it: decoding).** §3.3 shows how BPE learns its merges and encodes with them; write the way
# back. Given token ids and the merges (a list of `((a, b), new_id)` as `bpe_train` returns), return the text. Every
# id stands for a run of bytes: ids 0-255 for one byte each, a merged id for the bytes of its pair. Bytes that are
# not valid UTF-8 become '�' (`errors="replace"`), as in `lb.BPETokenizer.decode`, which the check compares with on
# three token lists, one with characters of several bytes and one that ends in the middle of a character.

# %%
# Exercise 3.4: bpe_decode(ids, merges) -> the text that the token ids encode
def bpe_decode(ids, merges):
    ### BEGIN SOLUTION
    piece = {i: bytes([i]) for i in range(256)}
    for (left, right), merged_id in merges:          # a merge only uses ids learned before it
        piece[merged_id] = piece[left] + piece[right]
    return b"".join(piece[int(i)] for i in ids).decode("utf-8", errors="replace")
    ### END SOLUTION


# %%
# §3.3's `reference` tokenizer: 30 merges learned from small_text, the same as bpe_train's
ids_ex = [reference.encode(sentence), reference.encode("Größe → 3 µm, fine ✓"), reference.encode("déjà vu ✓")[:-1]]
ex.check_value("3.4", tuple(bpe_decode(ids.tolist(), list(reference.merges)) for ids in ids_ex),
               tuple(reference.decode(ids) for ids in ids_ex), name="the three decoded texts",
               hint="§3.3: a token is a run of bytes, and a character of several bytes can be split over tokens")

# %% [markdown]
# **3.5 (implement it: Nesterov momentum).** Nesterov's variant of §3.6's momentum takes the gradient not at the
# current weights but at the *look-ahead* point $w - \eta\mu v$, where the old velocity alone would carry them; with
# that gradient it then updates $v$ and $w$ exactly as §3.6's rule does. Write one step; `grad_fn(u)` returns the
# gradient at any point `u`. The check takes five steps on the valley of §3.4 with two settings and compares the
# paths with a stored digest (`lb.SGD` has no Nesterov option).

# %%
# Exercise 3.5: nesterov_step(w, velocity, grad_fn, lr, mu) -> (new w, new velocity)
def nesterov_step(w, velocity, grad_fn, lr, mu):
    ### BEGIN SOLUTION
    g_ahead = grad_fn(w - lr * mu * velocity)
    v_next = mu * velocity + g_ahead
    return w - lr * v_next, v_next
    ### END SOLUTION


# %%
def nesterov_path(lr, mu, steps=5):
    w, vel, out = np.array(W0), np.zeros(2), []
    for _ in range(steps):
        w, vel = nesterov_step(w, vel, lambda u: A @ u, lr, mu)
        out.append(w)
    return np.array(out)


ex.check_digest("3.5", (nesterov_path(0.05, 0.9), nesterov_path(0.1, 0.5)), "03c3d9c47bff10ee",
                name="the two Nesterov paths",
                hint="§3.6's momentum rule; only the point where the gradient is taken changes")

# %% [markdown]
# **3.6 (implement it: Adam without its bias correction).** Write one step of §3.6's Adam with both bias corrections
# left out, the step using $m$ and $v$ themselves; return the new weights and both averages. Then: with the default
# betas, how far does the *first* step of this version move each weight, as a multiple of $\eta$ (two decimals;
# $\epsilon$ is negligible)? Compare with the corrected first step in §3.6: this is what the correction is for. The
# check takes five steps at two rates and compares the paths, and your factor, with stored digests.

# %%
# Exercise 3.6: adam_uncorrected_step(w, m, v, grad, lr, beta1, beta2, eps) -> (new w, new m, new v); first_step
def adam_uncorrected_step(w, m, v, grad, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    ### BEGIN SOLUTION
    m_next = beta1 * m + (1 - beta1) * grad
    v_next = beta2 * v + (1 - beta2) * np.square(grad)
    return w - lr * m_next / (np.sqrt(v_next) + eps), m_next, v_next
    ### END SOLUTION


### BEGIN SOLUTION
first_step = (1 - 0.9) / np.sqrt(1 - 0.999)  # m = 0.1 g and √v = √0.001 |g| after one step
### END SOLUTION

# %%
def adam_uncorrected_path(lr, steps=5):
    w, m, v, out = np.array(W0), np.zeros(2), np.zeros(2), []
    for _ in range(steps):
        w, m, v = adam_uncorrected_step(w, m, v, A @ w, lr)
        out.append(w)
    return np.array(out)


ex.check_digest("3.6", (adam_uncorrected_path(0.5), adam_uncorrected_path(0.01)), "de29ef7fe3b1bcd9",
                name="the two uncorrected Adam paths", hint="§3.6's Adam update, with m and v where m̂ and v̂ stood")
ex.check_digest("3.6", round(float(first_step), 2) if isinstance(first_step, (int, float)) else first_step,
                "a2108a37a6605e33", name="first_step",
                hint="write out m and v after one step from m = v = 0; the factor is the same for every weight")

# %% [markdown]
# **3.7.** Plain gradient descent on $\mathcal{L}(w) = \tfrac12 w^\top A w$ with
# $A = \begin{pmatrix} 3 & 1 \\ 1 & 3 \end{pmatrix}$: what is the largest stable learning rate, and which fixed rate
# converges fastest? (Find the curvatures of this $A$ first; §3.4 has the rest. Four decimals suffice. The check
# then runs 400 steps just below and just above your first answer.)

# %%
# Exercise 3.7: the largest stable rate and the fastest fixed rate for A = [[3, 1], [1, 3]]
### BEGIN SOLUTION
eta_limit = 2 / 4          # the curvatures are 3 ± 1 = 2 and 4
eta_fastest = 2 / (2 + 4)
### END SOLUTION

# %%
A_37 = np.array([[3.0, 1.0], [1.0, 3.0]])


def loss_after(lr, steps=400):
    return descend(lr, steps, curvature=A_37)[1][-1]


def four_decimals(x):
    return round(float(x), 4) if isinstance(x, (int, float, np.floating)) else x


ex.check_digest("3.7", four_decimals(eta_limit), "d2cbad71ff333de6", name="eta_limit",
                hint="each direction needs |1 − ηλ| < 1; the eigenvalues of a symmetric 2×2 matrix have a closed form")
ex.check_digest("3.7", four_decimals(eta_fastest), "e4e252fcdd07b954", name="eta_fastest",
                hint="§3.4: where the two extreme contraction factors balance")
assert loss_after(0.995 * eta_limit) < Valley(W0, A_37).forward() < loss_after(1.005 * eta_limit)  # below / above

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
# # 7. Automatic differentiation (beyond the notes)
#
# Every layer in chapters 3 to 6 came as a pair: a forward pass, and a backward pass written by hand from its
# derivative. Some of those were one line (ReLU), some took a page of algebra (batch norm's paths through the mean
# and the variance in chapter 4, attention's backward derived in chapter 6), and every one of them needed a gradient check to be
# trusted. Real
# frameworks do not ask for the second half: you write the forward computation, and the library works out the
# backward pass by itself. This chapter builds that machinery, **reverse-mode automatic differentiation**, in
# one file of numpy that reads in one sitting (`littlebook/autograd.py`), checks that it gives the gradients of
# the explicit layers to round-off, and then shows the same model in PyTorch, whose `autograd` works the same way.
#
# By the end of it you will be able to
#
# - explain reverse-mode automatic differentiation: **record the graph** of operations during the forward pass,
#   then walk it **in reverse topological order**, applying each operation's **vector-Jacobian product**;
# - run the backward pass of a small scalar expression by hand and check every number against the code;
# - write the backward of a new operation (its VJP), including **broadcasting**, where the gradient is summed over
#   the broadcast axes, and say why a tensor used twice must **accumulate** its gradients;
# - build an MLP with cross-entropy from these operations and show its gradients equal the explicit layers' to
#   $10^{-10}$; say what the recorded graph costs in memory and time, and what it buys: a new loss or layer with
#   no hand-written backward;
# - move the same model, weights and batch to PyTorch and get the same loss and gradients.

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
import inspect
import sys

import matplotlib.pyplot as plt
import numpy as np

import littlebook as lb
import littlebook.exercises as ex
from littlebook.attention import scaled_dot_product_attention
from littlebook.autograd import Tensor, topological_order, unbroadcast
from littlebook.gradcheck import numerical_gradient, rel_error

np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## 7.1 From explicit backward passes to reverse mode
#
# A network is a chain of functions, $L = f_K(\dots f_2(f_1(x)))$. Write $y_k = f_k(y_{k-1})$ and
# $J_k = \partial y_k / \partial y_{k-1}$ for the Jacobian of step $k$. The chain rule says
#
# $$\frac{\partial L}{\partial x} = J_1^\top \Big(J_2^\top \big(\cdots \big(J_K^\top \cdot 1\big)\big)\Big).$$
#
# The loss is a scalar, so the product is cheapest evaluated as the brackets say, starting at the loss: begin with
# $\partial L/\partial L = 1$ and multiply by one transposed Jacobian after another, each time a matrix times a
# *vector*. Each step takes $g = \partial L/\partial y_k$ and returns $J_k^\top g = \partial L/\partial y_{k-1}$:
# a **vector-Jacobian product** (VJP).
# That is exactly what every `backward(grad_out)` of chapters 3-6 computes. The Jacobian itself is never formed,
# and it would be huge. For $y = \tanh(x)$ it is diagonal, $J = \operatorname{diag}(1 - y^2)$, and the VJP is one
# elementwise product:

# %%
x_small = np.array([0.5, -1.0, 2.0, 0.0])
g_small = np.array([1.0, 2.0, -1.0, 3.0])
y_small = np.tanh(x_small)
jacobian = np.diag(1 - y_small**2)                          # ∂y_i/∂x_j: n × n entries, all but n of them 0
print("Jᵀg       ≈", jacobian.T @ g_small)
print("g ⊙ (1−y²) ≈", g_small * (1 - y_small**2))
assert np.allclose(jacobian.T @ g_small, g_small * (1 - y_small**2))

# One Linear(256 → 256) on a batch of 64: the Jacobian of its output (64·256 numbers) with respect to W (256·256).
entries = (64 * 256) * (256 * 256)
print(f"Jacobian of a Linear layer's output w.r.t. W: {entries:,} entries = {entries * 8 / 2**30:.0f} GiB "
      "in float64; its VJP gᵀx is one (256 × 64)·(64 × 256) matrix product")

# %% [markdown]
# **Reverse mode** is the name for this order: one backward sweep gives $\partial L/\partial w$ for *every* weight,
# at a cost of a small multiple of the forward pass, however many weights there are (a linear layer's forward is
# one matrix product, its backward two of the same size: $gW$ and $g^\top x$). (Forward mode starts at the
# other end, at $J_1$, and carries one tangent vector per input direction through the network: fine for a function
# of one input, hopeless for a loss of a million weights.)
#
# What the explicit layers do by hand, an automatic differentiator does by bookkeeping:
#
# 1. **record** during the forward pass: every operation returns a new node that remembers its inputs and how to
#    compute its VJP;
# 2. **sort** the nodes so that each comes after all of its inputs (a topological order);
# 3. **walk** that order backwards from the loss: each node, once its gradient is complete, hands $J^\top g$ to
#    its inputs, and a node that feeds several others **adds** what it receives.
#
# ## 7.2 A small example, by hand and by `Tensor`
#
# Take four numbers and $L = (a b + c)\, f$ with $a = 2$, $b = -3$, $c = 10$, $f = -2$. The forward pass has three
# operations: $e = ab = -6$, $d = e + c = 4$, $L = d f = -8$. Backwards, each step uses the derivative of one
# operation: for a product $\partial(uv)/\partial u = v$, for a sum $\partial(u + v)/\partial u = 1$.

# %%
a, b, c, f = 2.0, -3.0, 10.0, -2.0
e = a * b
d = e + c
L = d * f
print(f"forward:  e = a·b = {e:g},  d = e + c = {d:g},  L = d·f = {L:g}")

dL = 1.0                       # ∂L/∂L
dd, df = dL * f, dL * d        # L = d·f
de, dc = dd * 1.0, dd * 1.0    # d = e + c: a sum passes the gradient on unchanged
da, db = de * b, de * a        # e = a·b: each factor gets the other one
print(f"backward: ∂L/∂d = {dd:g}, ∂L/∂f = {df:g}, ∂L/∂e = {de:g}, ∂L/∂c = {dc:g}, ∂L/∂a = {da:g}, ∂L/∂b = {db:g}")

# %% [markdown]
# `Tensor` does the same: it wraps a numpy array (here a 0-dimensional one), every operation on it returns a new
# `Tensor` that records its inputs, and `backward()` fills each `.grad`. The numbers are small integers, exact in
# floating point, so the comparison is exact.

# %%
ta, tb, tc, tf = Tensor(a), Tensor(b), Tensor(c), Tensor(f)
te = ta * tb
td = te + tc
tL = td * tf
tL.backward()
for name, t, by_hand in [("a", ta, da), ("b", tb, db), ("c", tc, dc), ("f", tf, df), ("e", te, de), ("d", td, dd)]:
    print(f"∂L/∂{name}: Tensor {t.grad.item():g}, by hand {by_hand:g}")
    assert t.grad.item() == by_hand

print("the recorded graph, inputs before the operations that use them:")
for node in topological_order(tL):
    print(f"  {node._op or 'input':>5}  value {node.item():g}")

# %% [markdown]
# `backward` walks this list from the end: $L$, then $d$, then $e$, then the four inputs. Each node is reached only
# after every node that uses it. The inputs (leaves) have no operation; they only receive gradients.
#
# ## 7.3 The implementation, read in pieces
#
# The whole of `littlebook/autograd.py` fits on a few screens. A node is built as `Tensor(data, parents, vjp, op)`:
# `data` is its value, `parents` the tuple of its inputs (kept as `_parents`), `vjp` (kept as `_vjp`) a function
# that maps $g = \partial L/\partial y$ to a tuple of gradients, one per input and each of that input's shape, and
# `op` a name for printing. A leaf, `Tensor(2.0)`, has no parents and no VJP. Every operation builds its result
# through `_make`; its result keeps the dtype numpy gives the operation (`a32 + b64` is float64 either way round, as
# in numpy). `_frozen` makes the array read-only, and copies a leaf's; why, below:

# %%
print(inspect.getsource(Tensor.__init__))
print(inspect.getsource(Tensor._make))

two = Tensor(2.0)                                          # a leaf
a_val = two.data                                           # the value the VJP will need
square = Tensor(a_val**2, (two,), lambda g: (g * 2 * a_val,), "square")   # y = a², ∂L/∂a = g·2a
square.backward()
print(square, "value", square.item(), " ∂y/∂a =", two.grad.item())
assert (square.item(), two.grad.item()) == (4.0, 4.0)

# %% [markdown]
# Here is multiplication: the forward line computes $a \odot b$, the VJP returns $g \odot b$ and $g \odot a$. Each
# is passed through `unbroadcast`, which §7.4 explains.

# %%
print(inspect.getsource(Tensor.__mul__))

# %% [markdown]
# The VJP keeps `a_data` and `b_data`, the arrays this forward pass multiplied, not the tensors `a` and `b`:
# `backward()` runs later, and must differentiate at the values the forward pass used. Nothing can change those
# arrays in between: the constructor copies the array you pass, and a `Tensor`'s `data` is read-only, so
# `w.data -= 1` raises an error, while `w.data = w.data - 1` binds a new array and leaves the recorded graph as it
# was. (PyTorch lets you write into a tensor in place and raises in `backward()` if a tensor it saved has changed,
# by keeping a version counter on each tensor; littlebook instead saves the values.)

# %%
w_m, x_m = Tensor([2.0]), Tensor([3.0])
y_m = (w_m * x_m).sum()
try:
    w_m.data -= 1
    raise AssertionError("a Tensor's data should be read-only")
except ValueError:
    print("w.data -= 1 after the forward pass: ValueError, the array is read-only")
w_m.data = w_m.data - 1                   # a new array; the graph of y keeps w = 2
y_m.backward()
print(f"after w.data = w.data − 1: w = {w_m.item():g}, and ∂y/∂x = {x_m.grad.item():g} (w at the forward pass)")
assert (w_m.item(), x_m.grad.item()) == (1.0, 2.0)

# %% [markdown]
# An elementwise function keeps what its derivative is written in. For $y = e^a$ that is $y$ itself, for
# $\tanh$ it is $1 - y^2$; both reuse the forward's output instead of recomputing it:

# %%
print(inspect.getsource(Tensor.exp))
print(inspect.getsource(Tensor.tanh))

# %% [markdown]
# And the engine. `backward` seeds the output with 1 (it refuses a non-scalar output unless you pass its gradient),
# then visits the nodes in reverse topological order. Each node's gradient is **complete** when it is visited:
# everything that used the node comes later in the topological order, so it was visited earlier in the reverse
# walk and has already sent its contribution. Then the node's VJP passes the gradient on to its inputs, where it
# is **added** to what they have received so far.

# %%
print(inspect.getsource(Tensor.backward))

# %% [markdown]
# ## 7.4 Broadcasting: the gradient is summed over the broadcast axes
#
# numpy lets an array of shape (3, 1) meet one of shape (4,): both are **broadcast** to (3, 4), each entry of the
# first repeated along a row of four, each entry of the second down a column of three. An entry that was used $k$
# times receives $k$ gradients, and they add. So the VJP of broadcasting is a **sum** over the axes that
# broadcasting created or stretched:

# %%
print(inspect.getsource(unbroadcast))

# %%
col = Tensor(np.array([[1.0], [2.0], [3.0]]))     # (3, 1)
row = Tensor(np.array([10.0, 20.0, 30.0, 40.0]))  # (4,)
total = col + row                                 # (3, 4)
total.sum().backward()
print("shapes:", col.shape, "+", row.shape, "→", total.shape)
print("∂L/∂col =", col.grad.ravel(), "(each entry used 4 times)")
print("∂L/∂row =", row.grad, "(each entry used 3 times)")
assert col.grad.shape == col.shape and row.grad.shape == row.shape
assert np.array_equal(col.grad, np.full((3, 1), 4.0)) and np.array_equal(row.grad, np.full(4, 3.0))

# %% [markdown]
# This is the bias of a linear layer: $b$ of shape (out,) is broadcast over the $N$ rows of the batch, so
# $\partial L/\partial b = \sum_n g_n$, the formula `lb.Linear.backward` has written out by hand. Against central
# differences, for a product of shapes (2, 3, 4) and (4,), the relative error is at round-off level:

# %%
rng = np.random.default_rng(0)
u_arr, v_arr, weights_R = rng.standard_normal((2, 3, 4)), rng.standard_normal(4), rng.standard_normal((2, 3, 4))
u_t, v_t = Tensor(u_arr), Tensor(v_arr)
(u_t * v_t * weights_R).sum().backward()   # L = Σ (u ⊙ v) ⊙ R: R makes every output count differently
numeric_v = numerical_gradient(lambda: float(np.sum(u_arr * v_arr * weights_R)), v_arr)
err_v = rel_error(v_t.grad, numeric_v)
assert err_v < 1e-8  # L is linear in v: central differences are exact up to round-off (~1e-11 here)
print(f"∂L/∂v, shape {v_t.grad.shape}, vs central differences: relative error < 1e-8")

# %% [markdown]
# ## 7.5 A tensor used twice accumulates
#
# In $y = x \cdot x + x$ the node $x$ feeds three places. Each sends its own gradient back, $x$, $x$ and $1$, and
# the total is their sum, $2x + 1$. An engine that *stored* gradients instead of adding them would keep only the
# last one to arrive and be silently wrong. It is the same rule that made the residual connection of chapter 5 work:
# $y = F(x) + x$ sends back $F'^\top g + g$.

# %%
x3 = Tensor(3.0)
y3 = x3 * x3 + x3
y3.backward()
print(f"x = 3: dy/dx = {x3.grad.item():g}  (2x + 1 = {2 * 3 + 1})")
assert x3.grad.item() == 2 * 3 + 1

h_lin = Tensor(np.array([1.0, -2.0]))
y_res = (h_lin.tanh() + h_lin).sum()     # a residual connection: F(x) + x
y_res.backward()
print("residual y = tanh(x) + x: ∂y/∂x ≈", h_lin.grad, " = 1 − tanh²(x) + 1")
assert np.allclose(h_lin.grad, 1 - np.tanh(h_lin.data) ** 2 + 1)

# %% [markdown]
# Gradients also accumulate **across** backward calls, as in PyTorch: `.grad` is added to, never overwritten, so
# gradients of several losses (or several minibatches) can be summed. A training loop therefore calls `zero_grad()`
# on every parameter before each step, exactly as chapter 3's loop called `model.zero_grad()`.
#
# ## 7.6 Topological order
#
# Why sort at all? Take a diamond: $h = 2x$ feeds both $p = h^2$ and $q = e^{h}$, and $L = p + q$. The walk must not
# hand $h$'s gradient on to $x$ before both $p$ and $q$ have sent their parts. A **depth-first search** from the
# loss that appends a node only after all of its inputs gives an order in which every node comes after its inputs;
# walked backwards, every consumer of a node comes before the node. The search is most easily written recursively,
# and that is how micrograd writes it: Andrej Karpathy's scalar autograd engine of about 100 lines
# ([github.com/karpathy/micrograd](https://github.com/karpathy/micrograd)), whose `Value` is this chapter's `Tensor`
# on single numbers. `topological_order` does the search with an explicit stack rather than recursion: Python stops
# recursing at a depth of about a thousand, and a network unrolled over many steps easily has deeper graphs.

# %%
print(inspect.getsource(topological_order))

# %%
xd = Tensor(0.5)
hd = xd * 2.0
Ld = hd**2 + hd.exp()
order = topological_order(Ld)
print("order:", [n._op or ("x" if n is xd else "const") for n in order])
position = {id(n): i for i, n in enumerate(order)}
assert all(position[id(p)] < position[id(n)] for n in order for p in n._parents)
Ld.backward()
expected_dx = 2 * (2 * hd.item() + np.exp(hd.item()))   # dL/dh = 2h + e^h, times dh/dx = 2
print(f"dL/dx ≈{xd.grad.item():.6f}, 2·(2h + e^h) ≈{expected_dx:.6f}")
assert np.isclose(xd.grad.item(), expected_dx, rtol=1e-14, atol=0)

deep = Tensor(1.0)
chain = deep
for _ in range(5000):        # 5 000 operations deep
    chain = chain + 1.0


def recursive_order(node, seen, order):   # the same search written recursively, as micrograd does
    if node not in seen:
        seen.add(node)
        for p in node._parents:
            recursive_order(p, seen, order)
        order.append(node)
    return order


try:
    recursive_order(chain, set(), [])
    raise AssertionError("the recursive search should exceed Python's recursion limit on this graph")
except RecursionError:
    print(f"recursive search: RecursionError (Python's limit is {sys.getrecursionlimit()} nested calls)")
chain.backward()
print(f"iterative search: a chain of 5000 additions, {len(topological_order(chain))} nodes, "
      f"∂L/∂x = {deep.grad.item():g}")
assert deep.grad.item() == 1.0

# %% [markdown]
# ## 7.7 An MLP and cross-entropy, with no backward written
#
# Now the network of chapter 3: Linear → ReLU → Linear on the 8×8 digits, with softmax cross-entropy. With
# `Tensor`, cross-entropy is composed from operations already there, using the stable log-softmax
# $\log \operatorname{softmax}(z)_c = z_c - \log\sum_j e^{z_j}$ (`logsumexp` is one operation, computed as
# $m + \log\sum_j e^{z_j - m}$ with $m = \max_j z_j$) and the one-hot targets $Y$:
#
# $$L = -\frac1N \sum_n \sum_c Y_{nc} \log \operatorname{softmax}(z_n)_c .$$
#
# The explicit version is `lb.Linear`, `lb.ReLU` and `lb.CrossEntropyLoss`, with their hand-written backward
# passes. Same weights (copied), same batch, float64:

# %%
X_all, y_all = lb.load_digits()
X_all = X_all.astype(np.float64)
Xb, yb = X_all[:64], y_all[:64]
Yb = lb.one_hot(yb, 10, dtype=np.float64)

net = lb.Sequential(lb.Linear(64, 32, rng=0, dtype=np.float64), lb.ReLU(), lb.Linear(32, 10, rng=1, dtype=np.float64))
cross_entropy = lb.CrossEntropyLoss()


def tensor_mlp(params, x):
    """The same network in Tensor operations; params = [W1, b1, W2, b2], with W stored (out, in) as in lb.Linear."""
    w1, b1, w2, b2 = params
    return (Tensor(x) @ w1.T + b1).relu() @ w2.T + b2


def tensor_cross_entropy(logits, y_onehot):
    log_probs = logits - logits.logsumexp(axis=1, keepdims=True)
    return -(log_probs * y_onehot).sum(axis=1).mean()


loss_explicit = cross_entropy(net(Xb), yb)
net.zero_grad()
net.backward(cross_entropy.backward())

params = [Tensor(p.value.copy()) for p in net.parameters()]
loss_t = tensor_cross_entropy(tensor_mlp(params, Xb), Yb)
loss_t.backward()

print(f"loss: explicit layers ≈{loss_explicit:.6f}, Tensor ≈{loss_t.item():.6f}")
errors = {name: rel_error(t.grad, p.grad) for (name, p), t in zip(net.named_parameters(), params)}
assert abs(loss_t.item() - loss_explicit) <= 1e-10 * loss_explicit
assert abs(loss_explicit - 2.423595) < 1e-5   # a fixed initialisation and batch: round-off moves the 16th digit
assert max(errors.values()) < 1e-10   # measured 0 here (same operations, same order); round-off elsewhere
for name in errors:
    print(f"  ∂L/∂{name:<8} relative error < 1e-10")

# %% [markdown]
# The two agree: the chain rule applied by a program is the chain rule applied by hand. On the machine that wrote
# this page they even agree bit for bit, because both sides happen to perform the same floating-point operations
# in the same order; another BLAS kernel or thread count may round the two differently in the last bits, so the
# cell asserts a bound, $10^{-10}$, with a wide margin rather than equality.
#
# ## 7.8 What the graph costs, and what it buys
#
# **Memory.** The explicit layers cache only what their backward passes need: the input of each `Linear` (for the first
# one, the data itself), the mask of the `ReLU`, the probabilities of the loss. The graph keeps *every* intermediate
# result alive for as long as the loss tensor exists (here: the products, the sums with the biases, the
# log-probabilities, the masked targets, …), plus what each VJP captured beyond its inputs (the ReLU's mask).
# PyTorch frees the saved buffers once `backward` has used them; ours keeps them, which is simpler and leaves every
# node's `.data` and `.grad` there to inspect. Counting the arrays each side holds beyond the parameters and the data
# (for the explicit side we recompute the three arrays from the forward pass, layer by layer, and check that the
# backward formulas need nothing else):

# %%
def graph_arrays(root):
    """The arrays the recorded graph keeps alive: each node's result and the arrays its VJP captured."""
    nodes = topological_order(root)
    leaf_arrays = {id(n.data) for n in nodes if not n._parents}   # parameters, data, constants: not counted
    arrays = {}
    for node in nodes:
        if node._parents:
            arrays[id(node.data)] = node.data
            # a function's __closure__ holds one cell per variable it captured; cell_contents is that value
            for cell in node._vjp.__closure__ or ():
                if isinstance(cell.cell_contents, np.ndarray) and id(cell.cell_contents) not in leaf_arrays:
                    arrays[id(cell.cell_contents)] = cell.cell_contents
    return list(arrays.values())


z1 = net[0](Xb)                      # the forward pass, one layer at a time
h1 = net[1](z1)
logits = net[2](h1)
mask, probs = z1 > 0, lb.functional.softmax(logits, axis=1)
caches = [h1, mask, probs]           # what Linear 2, the ReLU and the loss keep (Linear 1 keeps Xb, the data)
# the backward passes of chapters 3-4 from these three arrays alone give the explicit layers' gradients
g_logits = (probs - Yb) / len(Xb)
g_z1 = (g_logits @ net[2].weight.value) * mask
for p, by_formula in zip(net.parameters(), [g_z1.T @ Xb, g_z1.sum(0), g_logits.T @ h1, g_logits.sum(0)]):
    assert rel_error(by_formula, p.grad) < 1e-10

saved = graph_arrays(loss_t)
nodes = len(topological_order(loss_t))
graph_bytes, cache_bytes = sum(a.nbytes for a in saved), sum(a.nbytes for a in caches)
print(f"graph: {nodes} nodes, {len(saved)} saved arrays, {graph_bytes:,} bytes")
print(f"explicit layers: {len(caches)} cached arrays, {cache_bytes:,} bytes ({graph_bytes / cache_bytes:.1f}× less)")
operations = sum(1 for n in topological_order(loss_t) if n._parents)   # the rest are leaves
assert (nodes, operations) == (21, 14) and graph_bytes > 2 * cache_bytes   # shapes and dtypes: exact everywhere

# %% [markdown]
# **Time.** Building the graph costs a Python object and a closure per operation (21 nodes here, 14 of them operations,
# against 4 layer calls), and the engine walks the nodes in Python; the arithmetic is the same matrix products. On this
# small batch that overhead is of the same order as the arithmetic: in our runs the `Tensor` step took about 1.2 to 4
# times as long as the explicit one. Timings differ from run to run and machine to machine, and on a busy machine a
# single measurement can even come out the other way round; the cell only asserts that autograd is not an order of
# magnitude slower.

# %% tags=["nbval-ignore-output"]
def explicit_step():
    cross_entropy(net(Xb), yb)
    net.zero_grad()
    net.backward(cross_entropy.backward())


def tensor_step():
    tensor_cross_entropy(tensor_mlp(params, Xb), Yb).backward()


times = lb.timing.time_calls({"explicit": explicit_step, "Tensor": tensor_step}, rounds=25, seconds_per_round=0.002)
ratio = times["Tensor"] / times["explicit"]
print(f"forward + backward, batch of 64: explicit {times['explicit'] * 1e3:.3f} ms, "
      f"Tensor {times['Tensor'] * 1e3:.3f} ms: ≈{ratio:.1f} times as long")
assert 0.2 < ratio < 20   # measured 1.2-4.2 (and once 0.4) on a busy 2-core machine: best-of-25 rounds, still noisy

# %% [markdown]
# **What it buys.** A new loss or layer needs only its forward. The *focal loss* (Lin et al., 2017) down-weights
# examples the model already gets right, $L = -\frac1N\sum_n (1 - p_{n,y_n})^\gamma \log p_{n,y_n}$; its
# derivative is a page of algebra, its forward three lines. Central differences confirm the gradient:

# %%
def focal_loss(logits, y_onehot, gamma=2.0):
    log_p = logits - logits.logsumexp(axis=1, keepdims=True)
    return -(((1 - log_p.exp()) ** gamma) * log_p * y_onehot).sum(axis=1).mean()


z_arr = np.random.default_rng(1).standard_normal((8, 10))
z_t = Tensor(z_arr)
focal_loss(z_t, Yb[:8]).backward()
err_focal = rel_error(z_t.grad, numerical_gradient(lambda: focal_loss(Tensor(z_arr), Yb[:8]).item(), z_arr))
assert err_focal < 1e-8
print("focal loss: ∂L/∂z vs central differences, relative error < 1e-8 (no backward written)")

# %% [markdown]
# And a layer: layer norm of chapter 4, whose backward in `lb.LayerNorm` (`littlebook/norm.py`) is written by hand,
# with its paths through the mean and the variance. Written in `Tensor` operations it is four lines, and the
# automatic gradients equal the hand-written ones, for the input and for $\gamma$ and $\beta$:

# %%
def layer_norm(x, gamma, beta, eps=1e-5):
    centred = x - x.mean(axis=-1, keepdims=True)
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred * (var + eps) ** -0.5 * gamma + beta


rng = np.random.default_rng(2)
ln = lb.LayerNorm(16, dtype=np.float64)
ln.weight.value[...], ln.bias.value[...] = rng.uniform(0.5, 1.5, 16), rng.standard_normal(16)
x_ln, g_ln = rng.standard_normal((5, 16)) * 3 + 1, rng.standard_normal((5, 16))
ln.zero_grad()
out_ln = ln(x_ln)
grad_x_ln = ln.backward(g_ln)

xt, gamma_t, beta_t = Tensor(x_ln), Tensor(ln.weight.value.copy()), Tensor(ln.bias.value.copy())
out_t = layer_norm(xt, gamma_t, beta_t)
out_t.backward(g_ln)                      # a non-scalar output: backward needs ∂L/∂output, here g
assert rel_error(out_t.data, out_ln) < 1e-12
for name, auto, by_hand in [("x", xt.grad, grad_x_ln), ("γ", gamma_t.grad, ln.weight.grad),
                            ("β", beta_t.grad, ln.bias.grad)]:
    assert rel_error(auto, by_hand) < 1e-10
    print(f"layer norm ∂L/∂{name}: automatic vs lb.LayerNorm's hand-written backward, relative error < 1e-10")

# %% [markdown]
# ## 7.9 Training with `Tensor`
#
# A training step has the same parts as chapter 3's loop: forward, loss, zero the gradients, backward, update.
# The update binds a new array to each `p.data` rather than writing into the old one, which is read-only (§7.3).
# Plain SGD, learning rate 0.5, three epochs over the 1 438 training images of a stratified 80/20 split, each
# epoch shuffled and cut into 22 minibatches of 65 or 66 digits; the explicit network with `lb.SGD` takes the very
# same steps, so the two runs should stay equal to round-off. The loss falls from about 2.2 nats (a guess among ten
# classes is $\log 10 \approx 2.3$) to about 0.25 within 66 steps; the exact numbers depend on the seed of the
# initialisation and of the batch order: over seeds 0-4 the last five losses average 0.22-0.28 and the held-out
# accuracy is 0.83-0.93 (three epochs is a short run, and this is the test split, used once, not a tuned result).

# %%
X_tr, X_te, y_tr, y_te = lb.train_test_split(X_all, y_all, test_size=0.2, rng=0, stratify=True)
assert (len(X_tr), len(X_te)) == (1438, 359)   # 1 797 digits, 20 % held out
Y_tr = lb.one_hot(y_tr, 10, dtype=np.float64)
order_rng = np.random.default_rng(0)
batches = [idx for _ in range(3) for idx in np.array_split(order_rng.permutation(len(X_tr)), len(X_tr) // 64)]

net_t = lb.Sequential(lb.Linear(64, 32, rng=0, dtype=np.float64), lb.ReLU(), lb.Linear(32, 10, rng=1, dtype=np.float64))
params_t = [Tensor(p.value.copy()) for p in net_t.parameters()]
sgd = lb.SGD(net_t.parameters(), lr=0.5)
losses_t = []
for idx in batches:
    loss = tensor_cross_entropy(tensor_mlp(params_t, X_tr[idx]), Y_tr[idx])
    for p in params_t:
        p.zero_grad()
    loss.backward()
    for p in params_t:
        p.data = p.data - 0.5 * p.grad    # SGD: w ← w − η ∂L/∂w, a new array (data is read-only, §7.3)
    losses_t.append(loss.item())

    cross_entropy(net_t(X_tr[idx]), y_tr[idx])   # the explicit network, same batch
    net_t.zero_grad()
    net_t.backward(cross_entropy.backward())
    sgd.step()

drift = max(rel_error(t.data, p.value) for t, p in zip(params_t, net_t.parameters()))
accuracy_t = np.mean(np.argmax(tensor_mlp(params_t, X_te).data, axis=1) == y_te)
print(f"{len(X_tr)} training images, {len(batches)} steps: loss ≈{np.mean(losses_t[:5]):.2f} over the first 5 batches, "
      f"≈{np.mean(losses_t[-5:]):.2f} over the last 5")
print(f"held-out accuracy ≈{accuracy_t:.2f} on {len(y_te)} digits")
assert drift < 1e-9
print("Tensor weights vs the explicit network's after training: relative difference < 1e-9")
# Seeds 0-4 (initialisation and batch order): first-5 loss 2.12-2.23, last-5 0.22-0.28, accuracy 0.83-0.93.
assert 1.9 < np.mean(losses_t[:5]) < 2.5 and np.mean(losses_t[-5:]) < 0.35
assert accuracy_t > 0.78

fig, ax = plt.subplots(figsize=(5, 2.6))
ax.plot(losses_t)
ax.set(xlabel="step (minibatch of 65-66 digits)", ylabel="cross-entropy (nats)", title="training the Tensor MLP")
plt.show()

# %% [markdown]
# ## 7.10 The way out of the book: the same model in PyTorch
#
# PyTorch's `autograd` is this chapter's idea, industrial strength: `torch.tensor(..., requires_grad=True)` records
# the graph, `loss.backward()` walks it in reverse, `.grad` accumulates and `zero_grad()` clears it. `torch.nn.Linear`
# even stores its weight as (out, in), like `lb.Linear`. The same network, the same weights and the same batch give
# the same loss and gradients: to round-off in float64, and to float32 precision in float32. (This cell needs
# PyTorch; without it, it says how to install it and the rest of the chapter does not depend on it.)

# %% tags=["nbval-ignore-output"]
try:
    import torch
except ImportError:
    torch = None
    print("PyTorch is not installed; to run this comparison: pip install torch")

if torch is not None:
    for dtype, bound in [(torch.float64, 1e-10), (torch.float32, 1e-5)]:
        torch_net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).to(dtype)
        with torch.no_grad():
            for tp, p in zip(torch_net.parameters(), net.parameters()):   # the same order: W1, b1, W2, b2
                tp.copy_(torch.from_numpy(p.value))
        torch_loss = torch.nn.functional.cross_entropy(torch_net(torch.from_numpy(Xb).to(dtype)), torch.from_numpy(yb))
        torch_loss.backward()
        loss_diff = abs(torch_loss.item() - loss_explicit) / loss_explicit
        grad_err = max(rel_error(tp.grad.double().numpy(), p.grad)
                       for tp, p in zip(torch_net.parameters(), net.parameters()))
        # float64: round-off only (measured ~1e-16); float32: ~1e-7 per operation (measured 1e-8 to 2e-7)
        assert loss_diff < bound and grad_err < bound
        print(f"PyTorch in {dtype}: loss ≈{torch_loss.item():.6f}; the loss and all four gradients agree with "
              f"littlebook's explicit layers to a relative error < {bound:g}")

# %% [markdown]
# ## Summary
#
# - Reverse-mode automatic differentiation records the graph of operations during the forward pass and walks it
#   backwards in topological order; each operation contributes its vector-Jacobian product, and the Jacobian itself
#   is never formed.
# - Broadcasting in the forward pass is a sum in the backward pass (`unbroadcast`); a tensor used several times adds
#   up all its gradients, within one backward pass and across passes (hence `zero_grad`).
# - The automatic gradients of an MLP with cross-entropy equal the explicit layers' to round-off, and training with
#   either takes the same steps.
# - The graph costs memory (every intermediate result stays alive with the graph) and Python time per operation;
#   it buys new losses and layers with no hand-written backward, such as the focal loss or layer norm above.
# - PyTorch does the same with the same names: the explicit layers of this book and `torch.autograd` give the same
#   numbers.
#
# ## Exercises
#
# The check cell after each exercise says what is wrong and gives a hint. Exercises 7.1-7.4 are "implement it".
#
# **7.1 (implement it).** A new elementwise operation, $y = \sin a$. A node is built as
# `Tensor(data, parents, vjp, op)`, as `_make` does in §7.3. The forward is given; write its VJP, which returns the
# tuple of gradients for the inputs (here one).

# %%
# Exercise 7.1: the VJP of sin (return the tuple (∂L/∂a,) from g = ∂L/∂y)
def sin(a: Tensor) -> Tensor:
    def vjp(g):
        ### BEGIN SOLUTION
        return (g * np.cos(a.data),)
        ### END SOLUTION
    return Tensor(np.sin(a.data), (a,), vjp, "sin")


# %%
def sin_backward(x, g):
    t = Tensor(x)
    sin(t).backward(g)
    return t.grad


ex.check_backward("7.1", np.sin, sin_backward, np.random.default_rng(0).standard_normal((3, 4)),
                  hint="the derivative of sin is cos, evaluated at the input a (a.data), times g")

# %% [markdown]
# **7.2 (implement it).** An operation with two inputs and broadcasting: $h = \sqrt{a^2 + b^2}$ (numpy's
# `hypot`), with $a$ and $b$ of any broadcast-compatible shapes. Write its VJP: $\partial h/\partial a = a/h$,
# $\partial h/\partial b = b/h$, and each gradient must come back in its input's shape.

# %%
# Exercise 7.2: the VJP of hypot(a, b) = √(a² + b²), with broadcasting
def hypot(a: Tensor, b: Tensor) -> Tensor:
    h = np.hypot(a.data, b.data)

    def vjp(g):
        ### BEGIN SOLUTION
        return unbroadcast(g * a.data / h, a.shape), unbroadcast(g * b.data / h, b.shape)
        ### END SOLUTION
    return Tensor(h, (a, b), vjp, "hypot")


# %%
def hypot_grads(a_arr, b_arr, r):
    ta_, tb_ = Tensor(a_arr), Tensor(b_arr)
    (hypot(ta_, tb_) * r).sum().backward()
    return ta_.grad, tb_.grad


def hypot_grads_numeric(a_arr, b_arr, r):
    def f():
        return float(np.sum(np.hypot(a_arr, b_arr) * r))
    return numerical_gradient(f, a_arr), numerical_gradient(f, b_arr)


rng = np.random.default_rng(3)
ex.check_function("7.2", hypot_grads, hypot_grads_numeric,
                  inputs=[(rng.standard_normal((3, 1)), rng.standard_normal(4), rng.standard_normal((3, 4))),
                          (rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.standard_normal((2, 3)))],
                  name="your gradients", hint="a of shape (3, 1) was used 4 times per row: unbroadcast sums it back")

# %% [markdown]
# **7.3 (implement it).** Write a topological sort: given the output tensor, return every tensor it depends on
# (itself included), each exactly once and each after all of its inputs (`node._parents`). Write it as a
# *recursive* depth-first search, as micrograd does (the graph here is shallow); compare it with the iterative
# `topological_order` of §7.6.

# %%
# Exercise 7.3: a topological order of the graph below root (inputs first, root last, each node once)
def my_topological_order(root: Tensor) -> list:
    ### BEGIN SOLUTION
    result, seen = [], set()

    def visit(t):
        if t in seen:
            return
        seen.add(t)
        for p in t._parents:
            visit(p)
        result.append(t)   # after all of t's inputs: post-order
    visit(root)
    return result
    ### END SOLUTION


# %%
rng = np.random.default_rng(4)
graph_nodes = [Tensor(1.0), Tensor(2.0)]
for _ in range(30):   # a random graph: each new node combines two earlier ones
    i, j = rng.integers(0, len(graph_nodes), 2)
    graph_nodes.append(graph_nodes[i] * graph_nodes[j] + 1.0)
mine, reference = my_topological_order(graph_nodes[-1]), topological_order(graph_nodes[-1])
if {id(n) for n in mine} != {id(n) for n in reference}:
    ex.check_value("7.3", len({id(n) for n in mine}), len(reference), name="the number of distinct tensors listed",
                   hint="start from root and visit every parent of every tensor you reach")
if len(mine) != len(reference):
    ex.check_value("7.3", len(mine) - len({id(n) for n in mine}), 0, name="the number of repeated entries",
                   hint="list each tensor once: keep a set of the visited ones")
place = {id(n): k for k, n in enumerate(mine)}
ex.check_value("7.3", sum(place[id(p)] > place[id(n)] for n in mine for p in n._parents), 0,
               name="the number of tensors listed before one of their inputs",
               hint="append a node only after all of its parents have been visited (post-order)")

# %% [markdown]
# **7.4 (implement it).** Scaled dot-product attention of chapter 6, $\operatorname{softmax}(QK^\top/\sqrt d)\,V$
# for $Q, K, V$ of shape (N, T, d), written with `Tensor` operations only (`@`, `transpose`, `*`, `logsumexp`,
# `exp`, …). No backward to write: the check compares your output with `scaled_dot_product_attention` and your
# gradients with central differences.

# %%
# Exercise 7.4: attention softmax(Q Kᵀ / √d) V with Tensor operations
def tensor_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    ### BEGIN SOLUTION
    scores = q @ k.transpose(0, 2, 1) * (1 / np.sqrt(q.shape[-1]))
    weights = (scores - scores.logsumexp(axis=-1, keepdims=True)).exp()
    return weights @ v
    ### END SOLUTION


# %%
def attention_and_grads(q, k, v, r):
    tq, tk, tv = Tensor(q), Tensor(k), Tensor(v)
    out = tensor_attention(tq, tk, tv)
    (out * r).sum().backward()
    return out.data, tq.grad, tk.grad, tv.grad


def attention_reference(q, k, v, r):
    def f():
        return float(np.sum(scaled_dot_product_attention(q, k, v)[0] * r))
    return (scaled_dot_product_attention(q, k, v)[0], numerical_gradient(f, q), numerical_gradient(f, k),
            numerical_gradient(f, v))


rng = np.random.default_rng(5)
ex.check_function("7.4", attention_and_grads, attention_reference,
                  inputs=[tuple(rng.standard_normal((2, 3, 4)) for _ in range(4))], name="your attention",
                  hint="kᵀ swaps the last two axes of (N, T, d): k.transpose(0, 2, 1); softmax is exp(s − logsumexp s)")

# %% [markdown]
# **7.5.** Without running anything: for $y = x \cdot x \cdot x + x$ at $x = 2$, how many gradient contributions
# reach $x$, and what is $dy/dx$? Fill in the value of $dy/dx$.

# %%
# Exercise 7.5: dy/dx for y = x·x·x + x at x = 2
### BEGIN SOLUTION
answer_75 = 3 * 2**2 + 1
### END SOLUTION

# %%
x5 = Tensor(2.0)
(x5 * x5 * x5 + x5).backward()
ex.check_value("7.5", answer_75, x5.grad.item(),
               hint="x is used four times; each use sends back the product of the other factors (or 1), and they add")

# %% [markdown]
# **7.6.** Gradient accumulation across calls. Compute the gradient of the loss of §7.7 on the batch of 64 digits
# by splitting it into two halves of 32: call `backward()` once per half **without** zeroing in between, on
# losses scaled so that the accumulated `.grad` equals the full batch's gradient. Return the four accumulated
# gradients.

# %%
# Exercise 7.6: the full-batch gradient as the sum of two half-batch backward passes
def accumulated_gradients(weights_list):
    halves = [Tensor(w.copy()) for w in weights_list]
    ### BEGIN SOLUTION
    for rows in (slice(0, 32), slice(32, 64)):
        (tensor_cross_entropy(tensor_mlp(halves, Xb[rows]), Yb[rows]) * 0.5).backward()
    ### END SOLUTION
    return tuple(t.grad for t in halves)


# %%
def full_batch_gradients(weights_list):
    full = [Tensor(w.copy()) for w in weights_list]
    tensor_cross_entropy(tensor_mlp(full, Xb), Yb).backward()
    return tuple(t.grad for t in full)


ex.check_function("7.6", accumulated_gradients, full_batch_gradients, inputs=[([p.value for p in net.parameters()],)],
                  rtol=1e-10, name="your accumulated gradients",
                  hint="each half's loss is a mean over 32 samples; the full loss is the mean over 64 of them")

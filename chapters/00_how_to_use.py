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
# # 0. How to use this book
#
# Every page of this book is a program: its figures and numbers are computed when you run it, and the claims in
# the text are checked by the cells below them. This page takes five minutes.
#
# **After this chapter you will be able to**
#
# - run a chapter and recognise the cells that check its claims;
# - move a slider that retrains a network, and recognise a learning rate that is too high;
# - find the code behind every cell in the `littlebook` library.
#
# **Running.** From the repository, `make lab` installs everything into `.venv` and opens JupyterLab on
# `chapters/`. Open a chapter and choose **Run → Run All Cells** (or press Shift+Enter cell by cell).
# Every chapter runs top to bottom in well under a minute on a laptop, and the stored outputs let you
# read it on GitHub too — but sliders only move in a running notebook.
#
# **The library.** The cells import `littlebook` (short: `lb`), a small numpy library in the `littlebook/`
# folder next to `chapters/`. It really implements what the chapters explain — layers with an explicit
# forward and backward pass, losses, optimizers, the training loop — so nothing is hidden in a framework.

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
import matplotlib.pyplot as plt  # noqa: F401 (sets up how figures are shown in the notebook)
import numpy as np

import littlebook as lb

print(f"littlebook {lb.__version__}")  # numpy's version is yours: the book is checked from numpy 1.24 on

# %% [markdown]
# ## A first network, trained in three lines
#
# 1,797 real handwritten digits of 8×8 pixels; a network with one hidden layer; ten passes over the data.
# You are not expected to understand the three lines yet — chapters 1 to 5 take them apart. In one sentence:
# `lb.SGD(..., lr=0.1)` is plain gradient descent, which moves every weight a small step downhill on the loss,
# $w \leftarrow w - \eta\,\nabla L(w)$ with learning rate $\eta = 0.1$, the loss being measured on a *minibatch*
# of 64 images at a time (`batch_size=64`; `rng=0` fixes the order in which the minibatches are drawn).
# `CrossEntropyLoss` is the usual loss for classification (chapter 3). `fit` shows a progress bar (a widget in
# JupyterLab, text in a terminal); `progress=False` turns it off. It records the loss of every step and epoch,
# and, because we ask for it with `metrics=("accuracy",)`, the accuracy too.

# %% tags=["nbval-ignore-output"]
X, y = lb.load_digits()
model = lb.Sequential(lb.Linear(64, 32, rng=0), lb.ReLU(), lb.Linear(32, 10, rng=1))
history = lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.1), (X, y), epochs=10,
                 batch_size=64, rng=0, metrics=("accuracy",))

# %% [markdown]
# A cell whose output changes from run to run (a progress bar, a timing, a slider) is followed by a cell
# that prints and *checks* what matters, like this one: the book's claims are tested every time it runs.
#
# A number that comes out of training is printed after the sign ≈: the last digits of a training run depend on
# the order in which the computer adds numbers, which differs between processors, so the book checks such a number
# against a range (the `assert` below), not digit by digit. Counts and shapes are exact and printed plainly.

# %%
print(f"{X.shape[0]} images, {model.num_parameters()} weights")
print(f"training accuracy after {len(history.train_acc)} epochs ≈{history.train_acc[-1]:.2f}")
# starting weights and batch orders 0-3 give 0.937-0.949
assert len(history.train_acc) == 10 and 0.9 < history.train_acc[-1] < 0.98

# %% [markdown]
# ## Sliders
#
# Below, a network learns to separate two interleaved half-moons (two classes of points in the plane).
# The slider sets its learning rate η in gradient descent, $w_{n+1} = w_n - \eta \, \nabla L(w_n)$.
# It is logarithmic: each notch multiplies η by $10^{1/4} \approx 1.78$, because learning rates that
# matter span several powers of ten.
#
# **Release the slider** (or click its handle and press ← →): the network is retrained for 20 epochs from the same
# starting weights and on the same minibatches (32 points each, in the order `rng=0`) in a fraction of a second,
# and the figure is redrawn — the loss at every step (light) and per epoch, the accuracy, and, on the right, the
# class the network predicts at each point of the plane.
# The buttons next to the slider (▶, Step, Reset) train it *live*; they are explained after the next section.

# %% tags=["nbval-ignore-output"]
from littlebook.widgets import lr_explorer

X2, y2 = lb.data.moons(300, noise=0.15, rng=0)
loss_fn = lb.CrossEntropyLoss()


def make_model():
    return lb.Sequential(lb.Linear(2, 32, rng=0), lb.ReLU(), lb.Linear(32, 32, rng=2), lb.ReLU(),
                         lb.Linear(32, 2, rng=1))


lr_explorer(make_model, loss_fn, (X2, y2), lr=0.1, lrs=(1e-3, 100), epochs=20, batch_size=32, rng=0,
            metrics=("accuracy",))

# %% [markdown]
# ## When the learning rate is too high
#
# Each run of the slider is one call of `lb.train_curve(make_model, loss_fn, (X2, y2), lr, epochs=20,
# batch_size=32, rng=0)`: it trains a fresh `make_model()` with `fit` and returns the run's `History` —
# `train_loss` and `train_acc`, the mean loss and accuracy of each epoch, and `diverged_at`, the step at which
# training had to stop (`None` if it ran to the end). `lb.runs.train_fresh`, with the same arguments, also
# returns the trained model. The cell below makes four such runs; try the same on the slider:
#
# - at η = 0.001 the loss falls slowly: from 0.62 (mean of the first epoch) to 0.50 after 20 epochs;
# - around η = 1 it drops fast, to 0.02;
# - at η = 3 (between two notches of the slider) the steps of the first epoch overshoot — that epoch's mean loss
#   is 14 — and the loss then stays stuck near 0.46 for the rest of the run (why: below);
# - at η = 10 the loss explodes and training **diverges**.
#
# `fit` watches for that: as soon as the loss or a gradient stops being finite, or the loss exceeds
# 10⁴ × max(first loss, 1) (here 10⁴: the first loss is 0.61), it stops (keeping the last good weights) and raises
# `TrainingDiverged`, whose message says at which step and what to try. `train_curve` and the explorers catch it
# and report the step instead.
#
# **Why η = 3 gets stuck.** The network's nonlinearity, ReLU, outputs relu(z) = max(0, z) for each unit's input
# z. A unit whose z is negative for every training point outputs 0 for all of them, and its gradient is 0 too, so
# the weights that feed it get no update: the unit is *dead*. In the first hidden layer, whose input is the data
# itself, a dead unit therefore stays dead for good (plain gradient descent, as here). In this run the overshooting
# first epoch kills more than half the units of each hidden layer, and what is left fits the moons only roughly
# (accuracy 0.78, against 0.99 at η = 1).

# %%
runs = {lr: lb.runs.train_fresh(make_model, loss_fn, (X2, y2), lr, epochs=20, batch_size=32, rng=0,
                                metrics=("accuracy",)) for lr in (0.001, 1.0, 3.0, 10.0)}
for lr, (_, h) in runs.items():
    if h.diverged_at is None:
        print(f"lr = {lr:<5g} loss ≈{h.train_loss[0]:.2f} in epoch 1 → ≈{h.train_loss[-1]:.2f} in epoch 20, "
              f"accuracy ≈{h.train_acc[-1]:.2f}")
    else:
        print(f"lr = {lr:<5g} diverged at step ≈{h.diverged_at}")
first = {lr: h.train_loss[0] for lr, (_, h) in runs.items() if h.diverged_at is None}
final = {lr: h.train_loss[-1] for lr, (_, h) in runs.items() if h.diverged_at is None}
acc = {lr: h.train_acc[-1] for lr, (_, h) in runs.items() if h.diverged_at is None}
# starting weights 0-5 (same minibatches): final loss 0.48-0.59 at lr 0.001, 0.011-0.019 at lr 1, 0.20-0.57 or
# diverged at lr 3 (seed 2); accuracy 0.71-0.83, 0.99-1.00, 0.75-0.91. The first-epoch means of this run: 0.62,
# 0.61, 13.8 (other seeds: 0.5-1.9 at lr 0.001 and 1, 1.7-14 at lr 3).
assert 0.5 < first[0.001] < 0.75 and 0.4 < final[0.001] < 0.65 and 0.6 < acc[0.001] < 0.9
assert 0.5 < first[1.0] < 0.75 and final[1.0] < 0.03 and acc[1.0] > 0.97
assert first[3.0] > 5 and 0.3 < final[3.0] < 0.6 and 0.65 < acc[3.0] < 0.9 and final[3.0] > 10 * final[1.0]
assert runs[10.0][1].diverged_at is not None and runs[10.0][1].diverged_at <= 30  # step 17 here; 3-5 for others


def dead_units(model):
    """How many units of each hidden layer output 0 for every training point: (first layer, second layer)."""
    return tuple(int(np.sum(~(model[:k](X2) > 0).any(axis=0))) for k in (2, 4))  # model[:2]: Linear, ReLU


after_epoch_1, _ = lb.runs.train_fresh(make_model, loss_fn, (X2, y2), 3.0, epochs=1, batch_size=32, rng=0)
dead = {"at the start": dead_units(make_model()), "after epoch 1": dead_units(after_epoch_1),
        "after epoch 20": dead_units(runs[3.0][0])}
print("lr = 3: dead units of 32 (hidden layer 1, 2): "
      + ", ".join(f"≈{a} and ≈{b} {when}" for when, (a, b) in dead.items()))
plateau = runs[3.0][1].train_loss[5:]
print(f"lr = 3: mean loss of epochs 6-20 between ≈{min(plateau):.2f} and ≈{max(plateau):.2f}; "
      f"lr = 1 after epoch 20: ≈{dead_units(runs[1.0][0])[0]} and ≈{dead_units(runs[1.0][0])[1]} dead units")
# starting weights 0-5 (same minibatches): at the start 0 and 1-4 dead; lr 3 after epoch 1: 9-18 and 18-28 (this
# run 18, 27), after epoch 20 up to 29 in layer 2; lr 1 after 20 epochs: 0-1 and 2-9. The plateau is this run's.
assert dead["at the start"][0] <= 2 and dead["at the start"][1] <= 5
assert dead["after epoch 1"][0] >= 8 and dead["after epoch 1"][1] >= 16 and dead["after epoch 20"][1] >= 16
assert dead["after epoch 20"][0] >= dead["after epoch 1"][0]  # exact: a dead first-layer unit never revives
assert max(plateau) - min(plateau) < 0.1 and min(plateau) > 0.3  # this run: 0.448-0.472
assert dead_units(runs[1.0][0])[1] < dead["after epoch 20"][1] / 2


# %% [markdown]
# Do these outcomes depend on the starting weights, or on the order of the minibatches? The cell below retrains
# from six other starting weights (the same minibatches), and from the usual starting weights with six other batch
# orders. η = 1 ends near 0.01 from every start. η = 3 is a gamble: from two starts it diverges, from the others it
# gets stuck at a loss of 0.2 to 0.6. η = 10 diverges every time, within 3 to 6 steps: which step depends on the
# starting weights and on the batch order alike, and the 17 steps of the run above are the most.

# %%
def make_model_seeded(seed):
    return lambda: lb.Sequential(lb.Linear(2, 32, rng=seed), lb.ReLU(), lb.Linear(32, 32, rng=seed + 2), lb.ReLU(),
                                 lb.Linear(32, 2, rng=seed + 1))


others = {lr: [lb.train_curve(make_model_seeded(s), loss_fn, (X2, y2), lr, epochs=20, batch_size=32, rng=0)
               for s in range(1, 7)] for lr in (1.0, 3.0, 10.0)}
for lr, hs in others.items():
    steps = [h.diverged_at for h in hs if h.diverged_at is not None]
    ends = np.round([h.train_loss[-1] for h in hs if h.diverged_at is None], 2)
    print(f"lr = {lr:<3g} from 6 other starting weights: ≈{len(steps)} diverged"
          + (f" (at steps ≈{np.array(steps)})" if steps else "") + (f", final loss ≈{ends}" if len(ends) else ""))
orders = [lb.train_curve(make_model, loss_fn, (X2, y2), 10.0, epochs=20, batch_size=32, rng=r).diverged_at
          for r in range(1, 7)]
print(f"lr = 10 from the usual starting weights, batch orders 1-6: diverged at steps ≈{np.array(orders)}")
# weights 1-6, batch order 0: lr 1 ends at 0.011-0.019; lr 3: seeds 2 and 6 diverge (steps 8, 10), the others
# end at 0.20-0.57; lr 10: all diverge, at steps 3-5. Weights 0, batch orders 1-6: steps 3-6 (17 for order 0).
# Weights 0-12: lr 1 ends at 0.010-0.020, lr 3 diverges 4 times and ends at 0.20-1.7 otherwise, lr 10 diverges
# 12 times (weights 7 end at 1.08).
stuck = [h.train_loss[-1] for h in others[3.0] if h.diverged_at is None]
assert all(h.diverged_at is None and h.train_loss[-1] < 0.03 for h in others[1.0])
assert len(stuck) >= 3 and min(stuck) > 5 * max(h.train_loss[-1] for h in others[1.0])
assert sum(h.diverged_at is not None for h in others[10.0]) >= 5 and None not in orders and max(orders) <= 30

model = make_model()
try:
    lb.fit(model, loss_fn, lb.SGD(model.parameters(), lr=10.0), (X2, y2), epochs=20, batch_size=32, rng=0,
           progress=False)
except lb.TrainingDiverged as err:
    print(f"TrainingDiverged at step ≈{err.step}: try a lower learning rate (e.g. {err.lr / 10:g})")
    diverged_step, diverged_loss = err.step, err.loss
assert diverged_step == runs[10.0][1].diverged_at  # fit and the explorers see the same run
assert diverged_loss > 1e4  # the loss at that step crossed fit's limit, 10⁴ × max(first loss, 1): 4.4e6 here

# %% [markdown]
# The same run as the slider draws it, here with a logarithmic loss axis: the loss jumps a thousandfold within
# three steps and bounces between 1 and 1,000; at the dashed red line, step 17, it explodes to millions and `fit`
# stops the run (that last loss is not drawn: the run stops before recording it).

# %%
from littlebook.plot import TrainingFigure

model, h = lb.runs.train_fresh(make_model, loss_fn, (X2, y2), 10.0, epochs=20, batch_size=32, rng=0,
                               metrics=("accuracy",))
view = TrainingFigure(X2, y2, total_steps=h.diverged_at + 1, accuracy=True)  # the explorer's own figure
view.update(h, model, "learning rate 10", f"diverged at step {h.diverged_at}")
view.axes[0].set_yscale("log")
view.axes[0].set_ylim(0.1 * min(h.step_loss), 10 * max(h.step_loss))
display(view)
# this run: 0.61 → 2,697 at step 3, then between 1.4 and 981 until step 16
assert max(h.step_loss[:3]) > 1000 * h.step_loss[0] and all(1 < x < 1e4 for x in h.step_loss[3:])
assert np.sum(np.diff(np.sign(np.diff(h.step_loss))) != 0) >= 4  # it bounces: up, down, up, ...

# %% [markdown]
# ## Training live: Play, change η, Reset
#
# The slider retrains from scratch each time. The buttons of the same explorer train **one** network step by step,
# like the TensorFlow Playground: **▶** runs a few minibatch steps per tick and redraws the loss curve and the
# decision regions as they change (❚❚ pauses, **Step** does one tick). What to try:
#
# 1. set η to 0.1 and press ▶: the loss falls slowly, the regions bend towards the moons;
# 2. while it runs, move η to 1: the *same* network continues from where it is; for a few steps the loss jumps up
#    (the first larger steps overshoot), then it falls much faster than it did at 0.1;
# 3. raise η further, to 30 or 100: within a few steps the loss explodes, the run stops and the figure says at
#    which step and why (nothing crashes);
# 4. **Reset** goes back to step 0 — the same starting weights, the same order of minibatches — and to the
#    slider's full run.
#
# The explorer runs a `LiveTrainer` (in `littlebook/runs.py`: `fit`'s own guarded step, a few steps at a time).
# The cell below drives one without buttons and checks what the steps above promise. To see what raising η did,
# it compares with a twin trainer that stays at η = 0.1 on the same minibatches, and repeats this for starting
# weights and batch orders 1-4.

# %%
def raise_lr(make, rng):
    """Two twin LiveTrainers, 100 steps at η = 0.1; then one goes on at η = 1, the other stays at 0.1."""
    raised, stayed = (lb.LiveTrainer(make, loss_fn, (X2, y2), lr=0.1, batch_size=32, rng=rng) for _ in range(2))
    raised.step(100)
    stayed.step(100)
    at_100 = raised.recent_loss()  # mean loss of the last 10 minibatches (one is noisy)
    raised.set_lr(1.0)  # η raised mid-run: applies from the next step, to the same network
    losses = []
    for n in (10, 40):  # steps 101-110, then up to 150: both twins see the same minibatches
        raised.step(n)
        stayed.step(n)
        losses.append((raised.recent_loss(), stayed.recent_loss()))
    return raised, at_100, losses


live, at_100, ((jump, twin_jump), (later, twin_later)) = raise_lr(make_model, 0)
print(f"step 100 at η = 0.1: loss ≈{at_100:.2f}; η = 1 from there: steps 101-110 ≈{jump:.2f}, steps 141-150 "
      f"≈{later:.2f}; the twin at η = 0.1: ≈{twin_jump:.2f} and ≈{twin_later:.2f}")
repeats = [raise_lr(make_model_seeded(s), s)[2] for s in range(1, 5)]
print(f"starting weights and batch orders 1-4: above the twin in steps 101-110 ≈{sum(a > b for (a, b), _ in repeats)}"
      f" times, below it in steps 141-150 ≈{sum(a < b for _, (a, b) in repeats)} times (of 4)")
# seeds 0-19 (weights and batch order): steps 101-110 0.23-1.23 vs 0.20-0.25 for the twin (20 of 20 above),
# steps 141-150 0.07-0.19 vs 0.19-0.24 (20 of 20 below, by 0.04 or more); this run 0.66 and 0.15 vs 0.22 and 0.22
assert jump > twin_jump + 0.05 and later < twin_later - 0.03
assert sum(a > b for (a, b), _ in repeats) >= 3 and sum(a < b for _, (a, b) in repeats) >= 3
live.step(50)
live.set_lr(100.0)
live.step(100)  # asks for 100 steps, but the run stops at the first exploding loss
print(f"η = 100 from step 200: the run stopped at step ≈{live.diverged_at}, after ≈{live.steps - 200} updates")
assert live.diverged_at is not None and 200 < live.diverged_at <= 210  # step 203-204 for seeds 0-9
assert live.step(10) == 0  # a stopped run stays stopped until Reset
live.reset()
fresh = make_model()
same = all(np.array_equal(p.value, q.value) for p, q in zip(live.model.parameters(), fresh.parameters()))
print(f"Reset: step {live.steps}, the same starting weights: {same}")
assert live.steps == 0 and same

# %% [markdown]
# ## A live loss plot during `fit`
#
# For longer runs, pass a callback: `live_loss_plot()` redraws the curves every `callback_every` steps
# while the progress bar counts.

# %% tags=["nbval-ignore-output"]
from littlebook.widgets import live_loss_plot

model = make_model()
history = lb.fit(model, loss_fn, lb.SGD(model.parameters(), lr=0.3), (X2, y2), epochs=20, batch_size=32,
                 metrics=("accuracy",), callback=live_loss_plot(metrics=("loss", "accuracy")), callback_every=20)

# %% [markdown]
# ## Where the code lives
#
# | you meet in a chapter | it lives in |
# |---|---|
# | `lb.Linear`, `lb.ReLU`, `lb.Sequential`, … | `littlebook/nn.py` (also `conv.py`, `norm.py`) |
# | `lb.CrossEntropyLoss`, `lb.MSELoss`, … | `littlebook/losses.py` |
# | `lb.SGD` (and the optimizers of chapter 3) | `littlebook/optim.py` |
# | `lb.fit`, `lb.train_step`, `lb.TrainingDiverged` | `littlebook/train.py` |
# | `lb.train_curve`, `lb.LiveTrainer` (the runs behind the explorers) | `littlebook/runs.py` |
# | data sets | `littlebook/data.py` |
# | figures | `littlebook/plot.py` |
# | sliders and buttons, wired to the above | `littlebook/widgets.py` |
#
# Every file is short enough to read in one sitting. In JupyterLab, `lb.ReLU??` shows a class's source;
# here is the whole of ReLU — its forward pass and its backward pass. The lesson is two lines: `forward` keeps the
# mask `x > 0` and returns `x * mask`, `backward` returns `grad_out * mask`. The three helpers around them only
# check: that the input is an array of floats (`as_float_array`), that `forward` ran before `backward`
# (`_need_cache`) and that the gradient has the output's shape (`check_grad`). Every layer's `backward` takes
# `input_grad` (a layer whose input is the data can skip that gradient); ReLU has nothing to skip.

# %% tags=["nbval-ignore-output"]
import inspect

print(inspect.getsource(lb.ReLU))

# %% [markdown]
# ## Exercise
#
# Every chapter ends with exercises. Each one is a code cell whose first line says what to write, followed by a
# check cell: run it, and it either prints "correct ✓" or says what is wrong and gives a hint (never the answer).
# In the student edition the answer is replaced by `...` or by `raise NotImplementedError`.
#
# **0.1** With the slider of the explorer above (20 epochs from the same starting weights), find the largest
# learning rate on the slider whose run does **not** diverge, and put it in `answer` as the slider shows it.

# %%
# Exercise 0.1: the largest learning rate on the slider whose 20-epoch run does not diverge
### BEGIN SOLUTION
answer = 1.8
### END SOLUTION

# %%
import littlebook.exercises as ex


def as_shown(x):
    """A number as the slider's readout shows it (two significant digits); anything else unchanged."""
    return float(f"{x:.2g}") if isinstance(x, (int, float)) and not isinstance(x, bool) else x


ex.check_digest("0.1", as_shown(answer), "a97b042d7bd59d92",
                hint="move the slider one notch at a time and read the line above the figure: "
                     "'final loss …' or 'diverged at step …'")
# Once the answer is right, the digest is checked against the library's runs: the notch behind the answer does
# not diverge, and every notch above it, up to 100, does.
notches = 10 ** (np.arange(round(4 * np.log10(answer)), 9) / 4)  # the slider's values, 10^(k/4), from answer
ends = [lb.train_curve(make_model, loss_fn, (X2, y2), lr, epochs=20, batch_size=32, rng=0).diverged_at
        for lr in notches]
assert ends[0] is None and None not in ends[1:]

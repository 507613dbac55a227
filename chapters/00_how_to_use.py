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
# of 64 images at a time (`CrossEntropyLoss` is the usual loss for classification, chapter 3).
# `fit` shows a progress bar (a widget in JupyterLab, text in a terminal); `progress=False` turns it off.
# It records the loss of every step and epoch, and, because we ask for it with `metrics=("accuracy",)`, the
# accuracy too.

# %% tags=["nbval-ignore-output"]
X, y = lb.load_digits()
model = lb.Sequential(lb.Linear(64, 32, rng=0), lb.ReLU(), lb.Linear(32, 10, rng=1))
history = lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.1), (X, y), epochs=10, rng=0,
                 metrics=("accuracy",))

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
# **Release the slider** (or click its handle and press ← →): the network is retrained from the same
# starting weights in a fraction of a second and the figure is redrawn — the loss at every step (light)
# and per epoch, the accuracy, and, on the right, the class the network predicts at each point of the plane.
# The buttons next to the slider (▶, Step, Reset) train it *live*; they are explained after the next section.

# %% tags=["nbval-ignore-output"]
from littlebook.widgets import lr_explorer

X2, y2 = lb.data.moons(300, noise=0.15, rng=0)
loss_fn = lb.CrossEntropyLoss()


def make_model():
    return lb.Sequential(lb.Linear(2, 32, rng=0), lb.ReLU(), lb.Linear(32, 32, rng=2), lb.ReLU(),
                         lb.Linear(32, 2, rng=1))


lr_explorer(make_model, loss_fn, (X2, y2), lr=0.1, lrs=(1e-3, 100), epochs=20, metrics=("accuracy",))

# %% [markdown]
# ## When the learning rate is too high
#
# Try it on the slider: too small and the loss barely moves; around 1 it drops fast; at 3 it bounces;
# at 10 the steps overshoot, the loss explodes and training usually **diverges**.
# `fit` watches for that: as soon as the loss or a gradient stops being finite, or the loss grows
# 10⁴-fold, it stops (keeping the last good weights) and raises `TrainingDiverged`, whose message says
# at which step and what to try. The explorers catch it and write it on the plot instead.
#
# At which step a run diverges depends on the starting weights: the cell also retrains from six other starting
# points at η = 10 and counts how many diverge.

# %%
runs = {lr: lb.train_curve(make_model, loss_fn, (X2, y2), lr, epochs=20, metrics=("accuracy",))
        for lr in (0.01, 1.0, 3.0, 10.0)}
for lr, h in runs.items():
    if h.diverged_at is None:
        print(f"lr = {lr:<5g} final loss ≈{h.train_loss[-1]:.2f}, accuracy ≈{h.train_acc[-1]:.2f}")
    else:
        print(f"lr = {lr:<5g} diverged at step ≈{h.diverged_at}")
# starting weights 0-3: final loss 0.27-0.30 at lr 0.01, 0.010-0.020 at lr 1, 0.33-0.83 at lr 3
final = {lr: h.train_loss[-1] for lr, h in runs.items() if h.diverged_at is None}
assert 0.2 < final[0.01] < 0.4 and final[1.0] < 0.05 and final[3.0] > 5 * final[1.0]
assert runs[10.0].diverged_at is not None and runs[10.0].diverged_at <= 30  # step 17 here; 3-4 for other seeds


def make_model_seeded(seed):
    return lambda: lb.Sequential(lb.Linear(2, 32, rng=seed), lb.ReLU(), lb.Linear(32, 32, rng=seed + 2), lb.ReLU(),
                                 lb.Linear(32, 2, rng=seed + 1))


others = [lb.train_curve(make_model_seeded(s), loss_fn, (X2, y2), 10.0, epochs=20, rng=s) for s in range(1, 7)]
n_diverged = sum(h.diverged_at is not None for h in others)
print(f"lr = 10 from 6 other starting points: ≈{n_diverged} diverged, the others end with a loss ≈"
      f"{min([h.train_loss[-1] for h in others if h.diverged_at is None] or [np.inf]):.1f} or more")
assert n_diverged >= 4  # seeds 1-6: 5 diverge (at steps 3-4); seed 1 ends with loss 2.9, worse than its start 0.7

model = make_model()
try:
    lb.fit(model, loss_fn, lb.SGD(model.parameters(), lr=10.0), (X2, y2), epochs=20, batch_size=32, rng=0,
           progress=False)
except lb.TrainingDiverged as err:
    print(f"TrainingDiverged at step ≈{err.step}: try a lower learning rate (e.g. {err.lr / 10:g})")
    diverged_step, diverged_loss = err.step, err.loss
assert diverged_step == runs[10.0].diverged_at  # fit and the explorers see the same run
assert diverged_loss > 1e4  # the loss at that step crossed fit's limit, 10⁴ × max(first loss, 1): 4.4e6 here

# %% [markdown]
# The same run as the slider draws it, here with a logarithmic loss axis: the loss jumps a thousandfold within
# three steps and bounces; at the step marked in red it explodes to millions and `fit` stops the run (that last
# loss is not drawn: the run stops before recording it).

# %%
from littlebook.plot import TrainingFigure

model, h = lb.runs.train_fresh(make_model, loss_fn, (X2, y2), 10.0, epochs=20, metrics=("accuracy",))
view = TrainingFigure(X2, y2, total_steps=h.steps, accuracy=True)  # the explorer's own figure
view.update(h, model, "learning rate 10", f"diverged at step {h.diverged_at}")
view.axes[0].set_yscale("log")
view.axes[0].set_ylim(0.1 * min(h.step_loss), 10 * max(h.step_loss))
display(view)
assert max(h.step_loss) > 1000 * h.step_loss[0]  # the explosion the log axis shows: 0.61 → 2,697 at step 3 here

# %% [markdown]
# ## Training live: Play, change η, Reset
#
# The slider retrains from scratch each time. The buttons of the same explorer train **one** network step by step,
# like the TensorFlow Playground: **▶** runs a few mini-batch steps per tick and redraws the loss curve and the
# decision regions as they change (❚❚ pauses, **Step** does one tick). What to try:
#
# 1. set η to 0.1 and press ▶: the loss falls slowly, the regions bend towards the moons;
# 2. while it runs, move η to 1: the *same* network continues from where it is, and the curve gets steeper;
# 3. raise η further, to 30 or 100: within a few steps the loss explodes, the run stops and the figure says at
#    which step and why (nothing crashes);
# 4. **Reset** goes back to step 0 — the same starting weights, the same order of mini-batches — and to the
#    slider's full run.
#
# The explorer runs a `LiveTrainer` (in `littlebook/runs.py`: `fit`'s own guarded step, a few steps at a time);
# the cell below drives one without buttons and
# checks what the steps above promise. The numbers vary a little with the starting weights (seeds 0-4 were tried).

# %%
live = lb.LiveTrainer(make_model, loss_fn, (X2, y2), lr=0.1)
live.step(50)
start = live.recent_loss()  # mean loss of the last 10 mini-batches
live.step(50)
slow = start - live.recent_loss()  # how much the loss fell in steps 50-100 at η = 0.1
live.set_lr(1.0)  # η raised mid-run: applies from the next step, to the same network
before = live.recent_loss()
live.step(50)
fast = before - live.recent_loss()  # steps 100-150 at η = 1
print(f"steps 50-100 at η = 0.1: the loss fell by ≈{slow:.2f}; steps 100-150 at η = 1: by ≈{fast:.2f}")
# seeds 0-4: 0.017-0.039 at η = 0.1, 0.08-0.15 at η = 1 (3-5× more)
assert 0 < slow < 0.06 and fast > 2 * slow
live.step(50)
live.set_lr(100.0)
live.step(100)  # asks for 100 steps, but the run stops at the first exploding loss
print(f"η = 100 from step 200: the run stopped at step ≈{live.diverged_at}, after ≈{live.steps - 200} updates")
assert live.diverged_at is not None and 200 < live.diverged_at <= 210  # step 203 for seeds 0-4
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
# here is the whole of ReLU — its forward pass and its backward pass:

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
# **0.1** With the slider, find which of the learning rates 0.1, 0.32, 1 and 3.2 gives the lowest final loss after
# 20 epochs, and put it in `answer`.

# %%
# Exercise 0.1: the learning rate (0.1, 0.32, 1.0 or 3.2) with the lowest final loss after 20 epochs
### BEGIN SOLUTION
answer = 1.0
### END SOLUTION

# %%
import littlebook.exercises as ex

final_loss = {lr: lb.train_curve(make_model, loss_fn, (X2, y2), lr, epochs=20).train_loss[-1]
              for lr in (0.1, 0.32, 1.0, 3.2)}
# starting weights 0-3 all give the same winner, by a factor > 2 over the runner-up
ex.check_value("0.1", answer, min(final_loss, key=final_loss.get),
               hint="set the slider to each of the four values and read the final loss printed above the figure")

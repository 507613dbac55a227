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
# This page takes five minutes. After it you can run a chapter, move a slider that retrains a network,
# recognise a learning rate that is too high, and find the code behind every cell.
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
import matplotlib.pyplot as plt
import numpy as np

import littlebook as lb

print(f"littlebook {lb.__version__}, numpy {np.__version__.split('.')[0]}.x")

# %% [markdown]
# ## A first network, trained in three lines
#
# 1,797 real handwritten digits of 8×8 pixels; a network with one hidden layer; ten passes over the data.
# `fit` shows a progress bar (a widget in JupyterLab, text in a terminal); `progress=False` turns it off.

# %% tags=["nbval-ignore-output"]
X, y = lb.load_digits()
model = lb.Sequential(lb.Linear(64, 32, rng=0), lb.ReLU(), lb.Linear(32, 10, rng=1))
history = lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.1), (X, y), epochs=10, rng=0)

# %% [markdown]
# A cell whose output changes from run to run (a progress bar, a timing, a slider) is followed by a cell
# that prints and *checks* what matters, like this one: the book's claims are tested every time it runs.

# %%
print(f"{X.shape[0]} images, {model.num_parameters()} weights")
print(f"training accuracy after {len(history.train_acc)} epochs: {history.train_acc[-1]:.3f}")
assert history.train_acc[-1] > 0.9

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

# %% tags=["nbval-ignore-output"]
from littlebook.widgets import lr_explorer, train_curve

X2, y2 = lb.data.moons(300, noise=0.15, rng=0)


def make_model():
    return lb.Sequential(lb.Linear(2, 32, rng=0), lb.ReLU(), lb.Linear(32, 32, rng=2), lb.ReLU(),
                         lb.Linear(32, 2, rng=1))


lr_explorer(make_model, (X2, y2), lr=0.1, lrs=(1e-3, 100), epochs=20)

# %% [markdown]
# ## When the learning rate is too high
#
# Try it on the slider: too small and the loss barely moves; around 1 it drops fast; at 3 it bounces;
# at 10 every step overshoots further than the last, the loss explodes and training **diverges**.
# `fit` watches for that: as soon as the loss or a gradient stops being finite, or the loss grows
# 10⁴-fold, it stops (keeping the last good weights) and raises `TrainingDiverged`, whose message says
# at which step and what to try. The explorers catch it and write it on the plot instead.

# %%
for lr in (0.01, 1.0, 3.0, 10.0):
    h = train_curve(make_model, (X2, y2), lr, epochs=20)
    if h.diverged_at is None:
        print(f"lr = {lr:<5g} final loss {h.train_loss[-1]:.3f}, accuracy {h.train_acc[-1]:.3f}")
    else:
        print(f"lr = {lr:<5g} diverged at step {h.diverged_at}")

model = make_model()
try:
    lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=10.0), (X2, y2), epochs=20, batch_size=32,
           progress=False)
except lb.TrainingDiverged as err:
    print(f"TrainingDiverged at step {err.step}: try a lower learning rate (e.g. {err.lr / 10:g})")
    diverged_step = err.step
assert diverged_step == train_curve(make_model, (X2, y2), 10.0, epochs=20).diverged_at

# %% [markdown]
# The same run as the slider draws it:

# %%
from littlebook.widgets import lr_figure

lr_figure(make_model, (X2, y2), 10.0, epochs=20)
plt.show()

# %% [markdown]
# ## Watching training live
#
# For longer runs, pass a callback: `live_loss_plot()` redraws the curves every `callback_every` steps
# while the progress bar counts.

# %% tags=["nbval-ignore-output"]
from littlebook.widgets import live_loss_plot

model = make_model()
history = lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.3), (X2, y2), epochs=20,
                 batch_size=32, callback=live_loss_plot(metrics=("loss", "accuracy")), callback_every=20)

# %% [markdown]
# ## Where the code lives
#
# | you meet in a chapter | it lives in |
# |---|---|
# | `lb.Linear`, `lb.ReLU`, `lb.Sequential`, … | `littlebook/nn.py` (convolution: `conv.py`, normalisation: `norm.py`) |
# | `lb.CrossEntropyLoss`, `lb.MSELoss`, … | `littlebook/losses.py` |
# | `lb.SGD`, `lb.Adam` | `littlebook/optim.py` |
# | `lb.fit`, `lb.TrainingDiverged` | `littlebook/train.py` |
# | data sets | `littlebook/data.py` |
# | plots and sliders | `littlebook/plot.py`, `littlebook/widgets.py` |
#
# Every file is short enough to read in one sitting. In JupyterLab, `lb.ReLU??` shows a class's source;
# here is the whole of ReLU — its forward pass and its backward pass:

# %% tags=["nbval-ignore-output"]
import inspect

print(inspect.getsource(lb.ReLU))

# %% [markdown]
# ## Exercise
#
# With the slider, find which of the learning rates 0.1, 0.32, 1 and 3.2 gives the lowest final loss after
# 20 epochs. Put it in `answer`; the cell checks it.

# %%
answer = 1.0

final_loss = {lr: train_curve(make_model, (X2, y2), lr, epochs=20).train_loss[-1] for lr in (0.1, 0.32, 1.0, 3.2)}
assert answer == min(final_loss, key=final_loss.get), "not the lowest: move the slider again"
print("correct")

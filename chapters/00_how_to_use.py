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

# %%

# %% [markdown]
# # 0. How to use this book
#
# Each chapter is a notebook that you run top to bottom (**Run → Run All Cells**). The code cells use
# `littlebook`, a small numpy library that really implements everything the chapters explain.

# %%
import numpy as np
import littlebook as lb

X, y = lb.load_digits()
print(X.shape, y.shape)

# %%
model = lb.Sequential(lb.Linear(64, 32, rng=0), lb.ReLU(), lb.Linear(32, 10, rng=1))
history = lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.1), (X, y), epochs=10, progress=False, rng=0)
print(f"train accuracy after 10 epochs: {history.train_acc[-1]:.3f}")
assert history.train_acc[-1] > 0.9

# %% tags=["nbval-ignore-output"]
import matplotlib.pyplot as plt
from littlebook.widgets import explore, log_slider

def train_curve(lr):
    m = lb.Sequential(lb.Linear(64, 32, rng=0), lb.ReLU(), lb.Linear(32, 10, rng=1))
    h = lb.fit(m, lb.CrossEntropyLoss(), lb.SGD(m.parameters(), lr=lr), (X, y), epochs=2, progress=False, rng=0)
    plt.plot(h.step_loss)
    return f"final loss {h.step_loss[-1]:.4f}"

explore(train_curve, lr=log_slider(0.1, 1e-3, 1.0))

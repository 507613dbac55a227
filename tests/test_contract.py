"""The contract under bad input (docs/architecture.md): every public function and layer either returns the right
answer or raises ValueError/TypeError (or a littlebook exception) whose message names the argument, what was
expected and what was received; and an operation that raises leaves the model, its gradients, the optimizer
state and every cache exactly as they were.

The tables below are the cases tried: each row is one bad input through the public API, the exception expected and
words its message must contain.
"""

import pickle
import re

import numpy as np
import pytest

import littlebook as lb
from littlebook import autograd, data, text
from littlebook import functional as F
from littlebook.text import BPETokenizer

X4 = np.ones((3, 4))
LOGITS = np.zeros((2, 3))


def _tok():
    return BPETokenizer.train("abababab cdcdcd", 260)


def _widgets():
    from littlebook import widgets  # imports matplotlib and ipywidgets: only for the rows that need it

    return widgets


def _plot():
    from littlebook import plot  # imports matplotlib: only for the rows that need it

    return plot


def _fit(**kwargs):
    model = lb.Linear(4, 2, dtype=np.float64)
    args = dict(train_data=(np.ones((8, 4)), np.zeros(8, dtype=np.int64)), epochs=1, batch_size=4, progress=False)
    args.update(kwargs)
    train_data = args.pop("train_data")
    return lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.1), train_data, **args)


# (case, call, exception, words the message must contain)
ERRORS = [
    # -- layer construction: sizes, rates, dtypes ------------------------------------------------------------
    ("Linear(0, n)", lambda: lb.Linear(0, 3), ValueError, ["in_features", ">= 1", "0"]),
    ("Linear(4, -1)", lambda: lb.Linear(4, -1), ValueError, ["out_features", "-1"]),
    ("Linear(2.5, 3)", lambda: lb.Linear(2.5, 3), TypeError, ["in_features", "int", "2.5"]),
    ("Linear(True, 3)", lambda: lb.Linear(True, 3), TypeError, ["in_features", "int", "True"]),
    ("Linear int dtype", lambda: lb.Linear(2, 3, dtype=np.int64), TypeError, ["dtype", "floating", "int64"]),
    ("Linear init", lambda: lb.Linear(2, 3, init="glorot"), ValueError, ["init", "'glorot'"]),
    ("Linear rng", lambda: lb.Linear(2, 3, rng="seed"), TypeError, ["rng", "str"]),
    ("Dropout p=1", lambda: lb.Dropout(1.0), ValueError, ["p", "[0, 1)", "1.0"]),
    ("Dropout p=NaN", lambda: lb.Dropout(float("nan")), ValueError, ["p", "nan"]),
    ("Dropout p='0.5'", lambda: lb.Dropout("0.5"), TypeError, ["p", "number", "'0.5'"]),
    ("Sequential(ReLU)", lambda: lb.Sequential(lb.ReLU), TypeError, ["layer 0", "Module", "ReLU()"]),
    ("Sequential(function)", lambda: lb.Sequential(np.tanh), TypeError, ["layer 0", "Module"]),
    ("Residual(function)", lambda: lb.Residual(np.tanh), TypeError, ["block", "Module"]),
    ("Conv2d(kernel_size=0)", lambda: lb.Conv2d(1, 1, 0), ValueError, ["kernel_size", "positive", "0"]),
    ("Conv2d(padding=-1)", lambda: lb.Conv2d(1, 1, 3, padding=-1), ValueError, ["padding", "-1"]),
    ("Conv2d same + stride 2", lambda: lb.Conv2d(1, 1, 3, stride=2, padding="same"), ValueError, ["stride=1", "2"]),
    ("Conv2d int dtype", lambda: lb.Conv2d(1, 1, 3, dtype=int), TypeError, ["dtype", "int64"]),
    ("MaxPool2d(0)", lambda: lb.MaxPool2d(0), ValueError, ["kernel_size", "0"]),
    ("AvgPool2d(stride=-1)", lambda: lb.AvgPool2d(2, stride=-1), ValueError, ["stride", "-1"]),
    ("conv_output_size(size=0)", lambda: lb.conv_output_size(0, 3), ValueError, ["size", "0"]),
    ("BatchNorm1d(0)", lambda: lb.BatchNorm1d(0), ValueError, ["num_features", "0"]),
    ("BatchNorm1d(eps=0)", lambda: lb.BatchNorm1d(3, eps=0), ValueError, ["eps", "> 0", "0"]),
    ("BatchNorm2d(momentum=2)", lambda: lb.BatchNorm2d(3, momentum=2), ValueError, ["momentum", "[0, 1]", "2"]),
    ("LayerNorm(0)", lambda: lb.LayerNorm(0), ValueError, ["normalized_shape", "0"]),
    ("LayerNorm(())", lambda: lb.LayerNorm(()), ValueError, ["normalized_shape", "()"]),
    ("LayerNorm(eps=-1)", lambda: lb.LayerNorm(3, eps=-1.0), ValueError, ["eps", "-1"]),
    ("GroupNorm(0, 4)", lambda: lb.GroupNorm(0, 4), ValueError, ["num_groups", "0"]),
    ("GroupNorm(3, 4)", lambda: lb.GroupNorm(3, 4), ValueError, ["num_channels (4)", "num_groups (3)"]),
    ("InstanceNorm2d(2.0)", lambda: lb.InstanceNorm2d(2.0), TypeError, ["num_groups", "2.0"]),
    ("Embedding(0, 4)", lambda: lb.Embedding(0, 4), ValueError, ["num_embeddings", "0"]),
    ("PositionalEmbedding(0, 4)", lambda: lb.PositionalEmbedding(0, 4), ValueError, ["max_len", "0"]),
    ("MultiHeadAttention(8, 3)", lambda: lb.MultiHeadAttention(8, 3), ValueError, ["dim (8)", "num_heads (3)"]),
    ("MultiHeadAttention(8, 0)", lambda: lb.MultiHeadAttention(8, 0), ValueError, ["num_heads", "0"]),
    ("MultiHeadAttention(8, 2.0)", lambda: lb.MultiHeadAttention(8, 2.0), TypeError, ["num_heads", "2.0"]),
    ("TransformerBlock(mlp_ratio=0)", lambda: lb.TransformerBlock(8, 2, mlp_ratio=0), ValueError, ["mlp_ratio"]),
    ("TinyTransformer(context=0)", lambda: lb.TinyTransformer(10, 0), ValueError, ["context", "0"]),
    ("NextTokenMLP(context=0)", lambda: lb.NextTokenMLP(10, context=0), ValueError, ["context", "0"]),
    ("sinusoidal_positions(4, 0)", lambda: lb.attention.sinusoidal_positions(4, 0), ValueError, ["dim", "0"]),
    ("causal_mask(-1)", lambda: lb.attention.causal_mask(-1), ValueError, ["length", "-1"]),
    # -- forward: shapes, dtypes, empty axes -------------------------------------------------------------------
    ("Linear wrong features", lambda: lb.Linear(4, 2)(np.ones((3, 5))), ValueError, ["(N, 4)", "(3, 5)"]),
    ("Linear 1-D input", lambda: lb.Linear(4, 2)(np.ones(4)), ValueError, ["(N, 4)", "(4,)"]),
    ("Linear complex input", lambda: lb.Linear(2, 2)(np.ones((1, 2), complex)), TypeError, ["input", "complex"]),
    ("Linear string input", lambda: lb.Linear(2, 2)([["a", "b"]]), TypeError, ["input", "<U1"]),
    ("Linear ragged list", lambda: lb.Linear(2, 2)([[1, 2], [3]]), ValueError, ["input", "list"]),
    ("Sigmoid object array", lambda: lb.Sigmoid()(np.array([None])), TypeError, ["input", "object"]),
    ("Softmax dim 3 of 2-D", lambda: lb.Softmax(dim=3)(LOGITS), ValueError, ["axis 3", "(2, 3)"]),
    ("Softmax empty axis", lambda: lb.Softmax()(np.ones((2, 0))), ValueError, ["axis -1", "(2, 0)"]),
    ("F.softmax empty", lambda: F.softmax(np.ones(0)), ValueError, ["no entries", "(0,)"]),
    ("F.logsumexp empty", lambda: F.logsumexp(np.ones((3, 0))), ValueError, ["no entries", "(3, 0)"]),
    ("F.softmax of strings", lambda: F.softmax(["a"]), TypeError, ["x", "<U1"]),
    ("F.softmax_backward, grad broadcasts", lambda: F.softmax_backward(np.full((2, 3), 1 / 3), np.ones(3)),
     ValueError, ["grad", "(2, 3)", "(3,)"]),
    ("F.softmax_backward of strings", lambda: F.softmax_backward(["a"], [1.0]), TypeError, ["s", "<U1"]),
    ("im2col of a 3-D array", lambda: F.im2col(np.ones((2, 3, 3)), 2), ValueError, ["(N, C, H, W)", "(2, 3, 3)"]),
    ("im2col kernel > input", lambda: F.im2col(np.ones((1, 1, 3, 3)), 4), ValueError, ["kernel_size", "[1, 3]", "4"]),
    ("sliding_windows stride=0", lambda: F.sliding_windows(np.ones((1, 1, 3, 3)), 2, 0), ValueError, ["stride", "0"]),
    ("pad2d(-1)", lambda: F.pad2d(np.ones((1, 1, 2, 2)), -1), ValueError, ["pad", ">= 0", "-1"]),
    ("col2im wrong cols", lambda: F.col2im(np.ones((3, 3)), (1, 1, 3, 3), 2), ValueError, ["cols", "(4, 4)", "(3, 3)"]),
    ("Flatten 1-D", lambda: lb.Flatten()(np.ones(3)), ValueError, ["at least 2 axes", "(3,)"]),
    ("Conv2d channels", lambda: lb.Conv2d(3, 2, 3)(np.ones((1, 1, 5, 5))), ValueError,
     ["(N, 3, H, W)", "(1, 1, 5, 5)"]),
    ("Conv2d kernel > input", lambda: lb.Conv2d(1, 1, 5)(np.ones((1, 1, 3, 3))), ValueError, ["larger", "3×3"]),
    ("MaxPool2d window > input", lambda: lb.MaxPool2d(4)(np.ones((1, 1, 3, 3))), ValueError, ["larger", "3×3"]),
    ("GlobalAvgPool2d 3-D", lambda: lb.GlobalAvgPool2d()(np.ones((1, 3, 3))), ValueError, ["(N, C, H, W)"]),
    ("GlobalAvgPool2d H=0", lambda: lb.GlobalAvgPool2d()(np.ones((1, 2, 0, 3))), ValueError, ["H·W", "(1, 2, 0, 3)"]),
    ("BatchNorm1d batch of 1", lambda: lb.BatchNorm1d(3)(np.ones((1, 3))), ValueError, ["more than one", "(1, 3)"]),
    ("BatchNorm2d features", lambda: lb.BatchNorm2d(3)(np.ones((2, 2, 4, 4))), ValueError, ["(N, 3, H, W)"]),
    ("LayerNorm trailing dim", lambda: lb.LayerNorm(4)(np.ones((2, 3))), ValueError, ["(N, ..., 4)", "(2, 3)"]),
    ("GroupNorm channels", lambda: lb.GroupNorm(2, 4)(np.ones((2, 3, 5))), ValueError, ["(N, 4, ...)", "(2, 3, 5)"]),
    ("Embedding float ids", lambda: lb.Embedding(5, 2)(np.ones((1, 2))), ValueError, ["integer", "float64"]),
    ("Embedding ids out of range", lambda: lb.Embedding(5, 2)(np.array([[5]])), ValueError, ["[0, 5)", "5"]),
    ("Embedding 1-D ids", lambda: lb.Embedding(5, 2)(np.array([1, 2])), ValueError, ["(N, T)", "(2,)"]),
    ("PositionalEmbedding too long", lambda: lb.PositionalEmbedding(2, 3)(np.ones((1, 3, 3))), ValueError,
     ["at most 2", "(1, 3, 3)"]),
    ("attention T = 0", lambda: lb.MultiHeadAttention(4, 2)(np.ones((1, 0, 4))), ValueError, ["T >= 1", "(1, 0, 4)"]),
    ("sdpa no keys", lambda: lb.attention.scaled_dot_product_attention(np.ones((2, 3)), np.ones((0, 3)),
                                                                       np.ones((0, 3))), ValueError, ["Tk", "(0, 3)"]),
    ("sdpa d mismatch", lambda: lb.attention.scaled_dot_product_attention(np.ones((2, 3)), np.ones((2, 4)),
                                                                          np.ones((2, 4))), ValueError, ["q (2, 3)"]),
    ("sdpa heads don't broadcast", lambda: lb.attention.scaled_dot_product_attention(
        np.ones((2, 1, 3)), np.ones((3, 1, 3)), np.ones((3, 1, 3))), ValueError, ["broadcast", "(2, 1, 3)"]),
    ("TinyTransformer T = 0", lambda: lb.TinyTransformer(5, 4, dim=4, num_heads=1, num_layers=1)(
        np.zeros((1, 0), np.int64)), ValueError, ["T >= 1", "(1, 0)"]),
    ("TinyTransformer too long", lambda: lb.TinyTransformer(5, 2, dim=4, num_heads=1, num_layers=1)(
        np.zeros((1, 3), np.int64)), ValueError, ["context = 2", "(1, 3)"]),
    ("next_logits of nothing", lambda: lb.TinyTransformer(5, 4, dim=4, num_heads=1, num_layers=1).next_logits([]),
     ValueError, ["T >= 1"]),
    ("NextTokenMLP ids out of range", lambda: lb.NextTokenMLP(5, context=2)(np.array([[7]])), ValueError,
     ["[0, 5)", "7"]),
    # -- backward: before forward, wrong gradient shape --------------------------------------------------------
    ("Linear.backward before forward", lambda: lb.Linear(2, 2).backward(np.ones((1, 2))), RuntimeError,
     ["forward before backward"]),
    ("Dropout.backward before forward", lambda: lb.Dropout(0.5).backward(np.ones(2)), RuntimeError,
     ["forward before backward"]),
    ("loss.backward before forward", lambda: lb.MSELoss().backward(), RuntimeError, ["forward before backward"]),
    # -- losses ----------------------------------------------------------------------------------------------
    ("Loss reduction", lambda: lb.MSELoss("avg"), ValueError, ["reduction", "'avg'"]),
    ("MSE shapes", lambda: lb.MSELoss()(np.ones((2, 1)), np.ones(2)), ValueError, ["(2, 1)", "(2,)"]),
    ("MSE empty", lambda: lb.MSELoss()(np.ones(0), np.ones(0)), ValueError, ["pred", "empty"]),
    ("MSE string target", lambda: lb.MSELoss()(np.ones(1), np.array(["a"])), TypeError, ["target", "<U1"]),
    ("MSE complex pred", lambda: lb.MSELoss()(np.ones(1, complex), np.ones(1)), TypeError, ["pred", "complex"]),
    ("BCELoss logits as pred", lambda: lb.BCELoss()(np.array([2.0, -1.0]), np.array([1.0, 0.0])), ValueError,
     ["pred", "[0, 1]", "2.0", "BCEWithLogitsLoss"]),
    ("BCELoss target 2", lambda: lb.BCELoss()(np.array([0.5]), np.array([2.0])), ValueError, ["target", "2.0"]),
    ("BCELoss NaN pred", lambda: lb.BCELoss()(np.array([np.nan]), np.array([1.0])), ValueError, ["pred", "nan"]),
    ("BCELoss eps=0.7", lambda: lb.BCELoss(eps=0.7), ValueError, ["eps", "0.7"]),
    ("BCEWithLogits target 2", lambda: lb.BCEWithLogitsLoss()(np.array([0.5]), np.array([2.0])), ValueError,
     ["target", "[0, 1]", "2.0"]),
    ("BCEWithLogits target -1", lambda: lb.BCEWithLogitsLoss()(np.array([0.5]), np.array([-1])), ValueError,
     ["target", "-1"]),
    ("CE 1-D logits", lambda: lb.CrossEntropyLoss()(np.ones(3), np.array(0)), ValueError, ["(N, C)", "(3,)"]),
    ("CE class out of range", lambda: lb.CrossEntropyLoss()(LOGITS, np.array([0, 3])), ValueError, ["3", "[0, 3)"]),
    ("CE float classes", lambda: lb.CrossEntropyLoss()(LOGITS, np.array([0.0, 1.0])), ValueError,
     ["integers", "float64"]),
    ("CE target shape", lambda: lb.CrossEntropyLoss()(LOGITS, np.zeros((2, 4))), ValueError, ["(2, 3)", "(2, 4)"]),
    ("CE negative soft target", lambda: lb.CrossEntropyLoss()(LOGITS, np.array([[1.5, -0.5, 0], [1, 0, 0]])),
     ValueError, [">= 0", "-0.5"]),
    ("CE NaN soft target", lambda: lb.CrossEntropyLoss()(LOGITS, np.array([[np.nan, 0, 1], [1, 0, 0]])),
     ValueError, ["finite", "nan"]),
    ("one_hot num_classes=0", lambda: lb.one_hot(np.array([0]), 0), ValueError, ["num_classes", "0"]),
    ("one_hot float labels", lambda: lb.one_hot(np.array([0.5]), 2), ValueError, ["integers", "float64"]),
    # -- optimizers and schedules --------------------------------------------------------------------------
    ("SGD(model)", lambda: lb.SGD(lb.Linear(2, 2)), TypeError, ["model.parameters()", "Linear"]),
    ("SGD(list of arrays)", lambda: lb.SGD([np.ones(2)]), TypeError, ["Parameters", "array"]),
    ("SGD(42)", lambda: lb.SGD(42), TypeError, ["params", "int"]),
    ("SGD([])", lambda: lb.SGD([]), ValueError, ["empty"]),
    ("SGD lr=0", lambda: lb.SGD(lb.Linear(2, 2).parameters(), lr=0), ValueError, ["lr", "positive", "0"]),
    ("SGD lr=NaN", lambda: lb.SGD(lb.Linear(2, 2).parameters(), lr=float("nan")), ValueError, ["lr", "nan"]),
    ("SGD lr='0.1'", lambda: lb.SGD(lb.Linear(2, 2).parameters(), lr="0.1"), TypeError, ["lr", "'0.1'"]),
    ("SGD momentum=1", lambda: lb.SGD(lb.Linear(2, 2).parameters(), momentum=1.0), ValueError, ["momentum", "1.0"]),
    ("SGD weight_decay<0", lambda: lb.SGD(lb.Linear(2, 2).parameters(), weight_decay=-0.1), ValueError,
     ["weight_decay", "-0.1"]),
    ("Adam beta1=1", lambda: lb.Adam(lb.Linear(2, 2).parameters(), betas=(1.0, 0.999)), ValueError,
     ["betas[0]", "[0, 1)", "1.0"]),
    ("Adam beta2=-0.1", lambda: lb.Adam(lb.Linear(2, 2).parameters(), betas=(0.9, -0.1)), ValueError,
     ["betas[1]", "-0.1"]),
    ("Adam betas=0.9", lambda: lb.Adam(lb.Linear(2, 2).parameters(), betas=0.9), TypeError, ["betas", "0.9"]),
    ("Adam eps=0", lambda: lb.Adam(lb.Linear(2, 2).parameters(), eps=0.0), ValueError, ["eps", "> 0", "0.0"]),
    ("Adam weight_decay NaN", lambda: lb.Adam(lb.Linear(2, 2).parameters(), weight_decay=float("nan")), ValueError,
     ["weight_decay", "nan"]),
    ("StepLR gamma=0", lambda: lb.StepLR(lb.SGD(lb.Linear(2, 2).parameters()), 1, gamma=0.0), ValueError,
     ["gamma", "> 0", "0.0"]),
    ("StepLR step_size=0", lambda: lb.StepLR(lb.SGD(lb.Linear(2, 2).parameters()), 0), ValueError,
     ["step_size", "0"]),
    ("StepLR(model)", lambda: lb.StepLR(lb.Linear(2, 2), 1), TypeError, ["optimizer", "Linear"]),
    ("CosineAnnealingLR T_max=0", lambda: lb.CosineAnnealingLR(lb.SGD(lb.Linear(2, 2).parameters()), 0), ValueError,
     ["T_max", "0"]),
    ("CosineAnnealingLR eta_min<0", lambda: lb.CosineAnnealingLR(lb.SGD(lb.Linear(2, 2).parameters()), 5,
                                                                 eta_min=-0.1), ValueError, ["eta_min", "-0.1"]),
    ("CosineAnnealingLR eta_min>lr", lambda: lb.CosineAnnealingLR(lb.SGD(lb.Linear(2, 2).parameters(), lr=0.1), 5,
                                                                  eta_min=1.0), ValueError, ["eta_min", "0.1", "1.0"]),
    # -- training loop ---------------------------------------------------------------------------------------
    ("fit batch_size=0", lambda: _fit(batch_size=0), ValueError, ["batch_size", ">= 1", "0"]),
    ("fit batch_size=2.5", lambda: _fit(batch_size=2.5), TypeError, ["batch_size", "2.5"]),
    ("fit epochs=0", lambda: _fit(epochs=0), ValueError, ["epochs", "0"]),
    ("fit max_steps=0", lambda: _fit(max_steps=0), ValueError, ["max_steps", ">= 1", "0"]),
    ("fit max_steps=-3", lambda: _fit(max_steps=-3), ValueError, ["max_steps", "-3"]),
    ("fit divergence_factor=0", lambda: _fit(divergence_factor=0), ValueError, ["divergence_factor", "> 1", "0"]),
    ("fit callback_every=0", lambda: _fit(callback_every=0), ValueError, ["callback_every", "0"]),
    ("fit callback not callable", lambda: _fit(callback=3), TypeError, ["callback", "3"]),
    ("fit val_data=X", lambda: _fit(val_data=np.ones((5, 4))), TypeError, ["val_data", "pair", "(5, 4)"]),
    ("fit val_data features", lambda: _fit(val_data=(np.ones((5, 3)), np.zeros(5, np.int64))), ValueError,
     ["val_data", "(4,)", "(3,)"]),
    ("fit train_data=X", lambda: _fit(train_data=np.ones((8, 4))), TypeError, ["train_data", "pair"]),
    ("fit lengths differ", lambda: _fit(train_data=(np.ones((8, 4)), np.zeros(7, np.int64))), ValueError,
     ["8 samples", "7"]),
    ("fit empty data", lambda: _fit(train_data=(np.ones((0, 4)), np.zeros(0, np.int64))), ValueError, ["empty"]),
    ("fit NaN in X", lambda: _fit(train_data=(np.full((8, 4), np.nan), np.zeros(8, np.int64))), ValueError,
     ["NaN", "sample 0"]),
    ("fit string labels", lambda: _fit(train_data=(np.ones((2, 4)), np.array(["a", "b"]))), TypeError,
     ["y", "<U1"]),
    ("fit(loss_fn=function)", lambda: lb.fit(lb.Linear(2, 2), np.mean, lb.SGD(lb.Linear(2, 2).parameters()),
                                             (np.ones((2, 2)), np.ones((2, 2)))), TypeError, ["loss_fn", "Loss"]),
    ("fit(optimizer=params)", lambda: lb.fit(lb.Linear(2, 2), lb.MSELoss(), lb.Linear(2, 2).parameters(),
                                             (np.ones((2, 2)), np.ones((2, 2)))), TypeError, ["optimizer", "SGD"]),
    ("fit(scheduler=3)", lambda: _fit(scheduler=3), TypeError, ["scheduler", "step()"]),
    ("fit: optimizer of another model", lambda: lb.fit(lb.Linear(2, 2), lb.MSELoss(),
                                                       lb.SGD(lb.Linear(2, 2).parameters()),
                                                       (np.ones((2, 2)), np.ones((2, 2))), progress=False),
     ValueError, ["optimizer", "none of the model's parameters"]),
    ("fit: scheduler of another optimizer", lambda: _fit(scheduler=lb.StepLR(lb.SGD(lb.Linear(2, 2).parameters()), 1)),
     ValueError, ["scheduler", "another optimizer"]),
    ("minibatches batch_size=0", lambda: list(lb.minibatches(X4, np.zeros(3), 0)), ValueError, ["batch_size", "0"]),
    ("predict empty X", lambda: lb.predict(lb.Linear(4, 2), np.ones((0, 4))), ValueError, ["X", "(0, 4)"]),
    ("predict batch_size=0", lambda: lb.predict(lb.Linear(4, 2), X4, batch_size=0), ValueError, ["batch_size"]),
    ("accuracy lengths differ", lambda: lb.accuracy(LOGITS, np.array([0, 1, 2])), ValueError, ["(2, 3)", "(3,)"]),
    ("accuracy y of shape (N, 1)", lambda: lb.accuracy(LOGITS, np.array([[0], [1]])), ValueError,  # was (N, N)
     ["(2,) (classes)", "(2, 1)"]),
    ("accuracy binary lengths", lambda: lb.accuracy(np.ones(3), np.ones(2)), ValueError, ["3 values", "(2,)"]),
    ("accuracy empty", lambda: lb.accuracy(np.ones((0, 3)), np.ones(0)), ValueError, ["empty", "(0, 3)"]),
    ("evaluate y missing", lambda: lb.evaluate(lb.Linear(4, 2), lb.MSELoss(), X4, np.ones((2, 2))), ValueError,
     ["3 samples", "2"]),
    # -- data ------------------------------------------------------------------------------------------------
    ("split stratified one-sample classes", lambda: lb.train_test_split(np.ones((3, 1)), np.arange(3), 0.2,
                                                                         stratify=True),
     ValueError, ["at least 2 samples", "[0, 1, 2]"]),
    ("split stratified test part < classes", lambda: lb.train_test_split(np.ones((30, 1)), np.arange(30) % 10, 0.2,
                                                                          stratify=True),
     ValueError, ["test_size=0.2", "6 for the test part", "10 classes"]),
    ("split stratified train part < classes", lambda: lb.train_test_split(np.ones((6, 1)), np.arange(6) % 3, 0.9,
                                                                           stratify=True),
     ValueError, ["1 for the train part", "3 classes"]),
    ("split stratify=y (array)", lambda: lb.train_test_split(np.ones((4, 1)), np.arange(4) % 2, 0.5,
                                                              stratify=np.arange(4) % 2),
     TypeError, ["stratify", "True or False", "ndarray"]),
    ("split stratified 2-D y", lambda: lb.train_test_split(np.ones((4, 1)), np.ones((4, 2)), stratify=True),
     ValueError, ["stratify", "(N,)", "(4, 2)"]),
    ("split test_size=1", lambda: lb.train_test_split(np.ones((4, 1)), np.arange(4), 1.0), ValueError,
     ["test_size", "(0, 1)", "1.0"]),
    ("split test_size='0.2'", lambda: lb.train_test_split(np.ones((4, 1)), np.arange(4), "0.2"), TypeError,
     ["test_size", "'0.2'"]),
    ("split lengths", lambda: lb.train_test_split(np.ones((4, 1)), np.arange(3)), ValueError, ["4 samples", "3"]),
    ("standardize features differ", lambda: data.standardize(np.ones((3, 2)), np.ones((3, 3))), ValueError,
     ["others[0]", "(2,)", "(3, 3)"]),
    ("standardize empty", lambda: data.standardize(np.ones((0, 2))), ValueError, ["train", "empty"]),
    ("standardize eps=0 constant", lambda: data.standardize(np.ones((3, 2)), eps=0.0), ValueError,
     ["constant", "eps"]),
    ("standardize strings", lambda: data.standardize(np.array([["a"]])), TypeError, ["train", "<U1"]),
    ("blobs n=0", lambda: data.blobs(0), ValueError, ["n", "0"]),
    ("moons noise<0", lambda: data.moons(10, noise=-1.0), ValueError, ["noise", "-1.0"]),
    ("spirals classes=0", lambda: data.spirals(10, classes=0), ValueError, ["classes", "0"]),
    ("regression_1d n=2.0", lambda: data.regression_1d(2.0), TypeError, ["n", "2.0"]),
    ("gaussian_mixture shapes", lambda: data.gaussian_mixture(10, stds=(1.0,)), ValueError, ["stds (K,)", "(1,)"]),
    ("gaussian_mixture weights<0", lambda: data.gaussian_mixture(10, weights=(1.5, -0.5)), ValueError,
     ["weights", ">= 0"]),
    ("scale_images floats", lambda: lb.scale_images(np.ones((2, 3, 3))), ValueError, ["uint8", "float64"]),
    ("load_mnist kind", lambda: lb.load_mnist(kind="kmnist"), ValueError, ["kind", "'kmnist'"]),
    # -- text ------------------------------------------------------------------------------------------------
    ("BPE decode([104.9])", lambda: _tok().decode([104.9]), TypeError, ["ids", "integers", "float64"]),
    ("BPE decode(['104'])", lambda: _tok().decode(["104"]), TypeError, ["ids", "<U3"]),
    ("BPE decode out of range", lambda: _tok().decode([99999]), ValueError, ["[0, 260)", "99999"]),
    ("BPE token_str(99999)", lambda: _tok().token_str(99999), ValueError, ["token_id", "[0, 260)", "99999"]),
    ("BPE token_str(1.5)", lambda: _tok().token_str(1.5), TypeError, ["token_id", "1.5"]),
    ("BPE vocab_size=10**20", lambda: BPETokenizer.train("abab", 10**20), ValueError, ["vocab_size", str(10**20)]),
    ("BPE vocab_size=100", lambda: BPETokenizer.train("abab", 100), ValueError, ["vocab_size", "256", "100"]),
    ("BPE train(bytes)", lambda: BPETokenizer.train(b"abab", 300), TypeError, ["text", "str", "bytes"]),
    ("BPE encode(None)", lambda: _tok().encode(None), TypeError, ["text", "NoneType"]),
    ("BPE merges out of order", lambda: BPETokenizer([((97, 98), 300)]), ValueError, ["256"]),
    ("context_windows context=0", lambda: text.context_windows(np.arange(10), 0), ValueError, ["context", "0"]),
    ("context_windows too short", lambda: text.context_windows(np.arange(3), 3), ValueError, ["4 tokens", "3"]),
    ("context_windows float ids", lambda: text.context_windows(np.ones(10) * 0.5, 3), TypeError, ["ids", "float"]),
    ("sample temperature NaN", lambda: text.sample(lambda ids: np.zeros(3), [0], 2, temperature=float("nan")),
     ValueError, ["temperature", "nan"]),
    ("sample temperature<0", lambda: text.sample(lambda ids: np.zeros(3), [0], 2, temperature=-1.0), ValueError,
     ["temperature", "-1.0"]),
    ("sample all logits -inf", lambda: text.sample(lambda ids: np.full(3, -np.inf), [0], 2), ValueError,
     ["logits", "finite", "-inf"]),
    ("sample NaN logits", lambda: text.sample(lambda ids: np.array([0.0, np.nan]), [0], 1), ValueError,
     ["logits", "nan"]),
    ("sample n_tokens=-1", lambda: text.sample(lambda ids: np.zeros(3), [0], -1), ValueError, ["n_tokens", "-1"]),
    ("sample float prompt", lambda: text.sample(lambda ids: np.zeros(3), [0.5], 1), TypeError, ["prompt_ids"]),
    # -- widgets -------------------------------------------------------------------------------------------
    ("log_slider(min=0)", lambda: _widgets().log_slider(0.1, 0, 1), ValueError, ["min", "> 0", "0"]),
    ("log_slider(max<min)", lambda: _widgets().log_slider(0.1, 1, 0.5), ValueError, ["max", "0.5"]),
    ("log_slider(value outside)", lambda: _widgets().log_slider(5, 0.1, 1), ValueError, ["value", "5"]),
    ("conv_explorer(padding=-1)", lambda: _widgets().conv_explorer(np.zeros((5, 5)), padding=-1), ValueError,
     ["padding", "-1"]),
    ("conv_explorer(stride=0)", lambda: _widgets().conv_explorer(np.zeros((5, 5)), stride=0), ValueError, ["stride"]),
    ("conv_explorer(3-D image)", lambda: _widgets().conv_explorer(np.zeros((1, 5, 5))), ValueError,
     ["(H, W)", "(1, 5, 5)"]),
    ("depth_explorer(depths reversed)", lambda: _widgets().depth_explorer(lambda d: lb.Linear(2, 2),
                                                                          lb.CrossEntropyLoss(), None, depths=(5, 1)),
     ValueError, ["depths[1]"]),
    ("polynomial_explorer(degrees)", lambda: _widgets().polynomial_explorer(np.arange(5.0), np.arange(5.0),
                                                                            np.arange(3.0), np.arange(3.0),
                                                                            degrees=(0, -1)), ValueError,
     ["degrees[1]", "-1"]),
    ("polynomial_explorer(degree>max)", lambda: _widgets().polynomial_explorer(np.arange(9.0), np.arange(9.0),
                                                                               np.arange(3.0), np.arange(3.0), 5,
                                                                               degrees=(0, 3)), ValueError,
     ["degree", "5"]),
    ("polynomial_fit(degree=-1)", lambda: lb.polynomial_fit(np.arange(5.0), np.arange(5.0), -1), ValueError,
     ["degree", "-1"]),
    ("polynomial_fit(too few points)", lambda: lb.polynomial_fit(np.arange(3.0), np.arange(3.0), 3), ValueError,
     ["at least 4 points", "3"]),
    ("polynomial_fit(x, y lengths)", lambda: lb.polynomial_fit(np.arange(3.0), np.arange(4.0), 1), ValueError,
     ["3", "4"]),
    ("explore(lr=3)", lambda: _widgets().explore(lambda lr: None, lr=3), TypeError, ["control 'lr'", "3"]),
    ("live_loss_plot(metrics=())", lambda: _widgets().live_loss_plot(metrics=()), ValueError, ["metrics"]),
    ("train_curve(lr=0)", lambda: lb.train_curve(lambda: lb.Linear(2, 2), lb.MSELoss(),
                                                 (np.ones((4, 2)), np.ones((4, 2))), lr=0), ValueError,
     ["lr", "positive", "0"]),
    ("train_curve(optimizer name)", lambda: lb.train_curve(lambda: lb.Linear(2, 2), lb.MSELoss(),
                                                           (np.ones((4, 2)), np.ones((4, 2))), lr=0.1,
                                                           optimizer="rmsprop"), TypeError,
     ["optimizer", "callable", "'rmsprop'"]),
    ("train_curve(loss_fn=None)", lambda: lb.train_curve(lambda: lb.Linear(2, 2), None,
                                                         (np.ones((4, 2)), np.ones((4, 2))), 0.1),
     TypeError, ["loss_fn", "Loss", "None"]),
    ("LiveTrainer(metrics='acc')", lambda: lb.LiveTrainer(lambda: lb.Linear(2, 2), lb.MSELoss(),
                                                          (np.ones((4, 2)), np.ones((4, 2))), metrics=("acc",)),
     ValueError, ["metrics", "'acc'"]),
    # -- more found by trying ------------------------------------------------------------------------------
    ("sample(3, ...)", lambda: text.sample(3, [0], 2), TypeError, ["next_logits_fn", "int"]),
    ("BPETokenizer(malformed merges)", lambda: BPETokenizer([(1, 2)]), TypeError, ["merges", "(a, b)"]),
    ("Module.train('no')", lambda: lb.Linear(2, 2).train("no"), TypeError, ["mode", "'no'"]),
    ("softmax(axis=0.5)", lambda: F.softmax(np.ones(3), axis=0.5), TypeError, ["axis", "0.5"]),
    ("Parameter of strings", lambda: lb.Parameter(np.array(["a"])), TypeError, ["value", "<U1"]),
    ("fit(epochs=1.5)", lambda: _fit(epochs=1.5), TypeError, ["epochs", "1.5"]),
    # -- gradient checks -------------------------------------------------------------------------------------
    ("check_module float32", lambda: lb.check_module(lb.Linear(2, 2), np.ones((1, 2))), TypeError,
     ["float32", "float64"]),
    ("check_module h=0", lambda: lb.check_module(lb.Linear(2, 2, dtype=np.float64), np.ones((1, 2)), h=0), ValueError,
     ["h", "> 0"]),
    ("rel_error shapes", lambda: lb.rel_error(np.ones(2), np.ones(3)), ValueError, ["(2,)", "(3,)"]),
    # a complex gradient used to lose its imaginary part (rel_error 0.0 for 1+1j against 1) with only a warning
    ("rel_error complex", lambda: lb.rel_error(np.array([1 + 1j]), np.array([1.0])), TypeError,
     ["rel_error", "a", "real numbers", "complex128"]),
    ("rel_error ragged", lambda: lb.rel_error(np.ones(2), [[1.0], [1.0, 2.0]]), ValueError,
     ["rel_error", "b", "array of numbers", "list"]),
    ("numerical_gradient float32", lambda: lb.gradcheck.numerical_gradient(lambda: 0.0, np.ones(2, np.float32)),
     TypeError, ["float64", "float32"]),
]


@pytest.mark.parametrize("call, error, words", [pytest.param(*row[1:], id=row[0]) for row in ERRORS])
def test_bad_input_raises_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} missing from the message: {message}"


# -- Half-changed state: an operation that raises leaves everything as it was -----------------------------------

def _model_and_optimizer():
    """A model with every kind of state: parameters, gradients, caches, running statistics, a random generator,
    and an optimizer that has taken a step (moments, step count)."""
    rng = np.random.default_rng(0)
    model = lb.Sequential(lb.Linear(4, 5, rng=1, dtype=np.float64), lb.BatchNorm1d(5, dtype=np.float64),
                          lb.ReLU(), lb.Dropout(0.3, rng=2), lb.Linear(5, 3, rng=3, dtype=np.float64))
    opt = lb.Adam(model.parameters(), lr=0.01)
    loss = lb.CrossEntropyLoss()
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    loss(model(x), y)
    model.backward(loss.backward())
    opt.step()
    loss(model(x), y)  # fresh caches and gradients on top of the step
    model.backward(loss.backward())
    return model, opt


def _state(model, opt) -> bytes:
    # Everything the objects hold (parameters, grads, caches, buffers, random states, optimizer moments), as bytes.
    return pickle.dumps((model, opt))


def _load_wrong_later_key(model, opt):
    state = model.state_dict()
    state = {k: (v + 1 if k != "4.bias" else np.zeros(7)) for k, v in state.items()}
    model.load_state_dict(state)


def _load_string_values(model, opt):
    model.load_state_dict({k: np.full(v.shape, "x") for k, v in model.state_dict().items()})


# (case, action on (model, optimizer), exception, words in the message)
STATEFUL = [
    ("backward: wrong grad shape", lambda m, o: m.backward(np.ones((6, 4))), ValueError,
     ["grad_out", "(6, 3)", "(6, 4)"]),
    ("backward: wrong batch size", lambda m, o: m.backward(np.ones((5, 3))), ValueError, ["(6, 3)", "(5, 3)"]),
    ("backward: 1-D grad", lambda m, o: m.backward(np.ones(18)), ValueError, ["(6, 3)", "(18,)"]),
    ("backward: complex grad", lambda m, o: m.backward(np.ones((6, 3), complex)), TypeError, ["grad_out"]),
    ("forward: wrong features", lambda m, o: m(np.ones((6, 3))), ValueError, ["(N, 4)", "(6, 3)"]),
    ("forward: fails in a later layer", lambda m, o: lb.Sequential(*m.layers, lb.Linear(7, 2))(np.ones((6, 4))),
     ValueError, ["(N, 7)", "(6, 3)"]),
    ("forward: batch of one in train mode", lambda m, o: m(np.ones((1, 4))), ValueError, ["more than one"]),
    ("load_state_dict: a later key has the wrong shape", _load_wrong_later_key, ValueError,
     ["4.bias", "(3,)", "(7,)"]),
    ("load_state_dict: missing key", lambda m, o: m.load_state_dict({"0.weight": np.zeros((5, 4))}), KeyError,
     ["missing", "4.bias"]),
    ("load_state_dict: strings", _load_string_values, TypeError, ["real numbers", "<U1"]),
    ("load_state_dict: not a dict", lambda m, o: m.load_state_dict([1, 2]), TypeError, ["dict", "list"]),
    ("load: an .npy file", lambda m, o: m.load(_npy_file()), ValueError, ["single array", ".npz"]),
    ("load: a text file", lambda m, o: m.load(_text_file()), ValueError, ["not an .npz"]),
    ("fit: val_data with wrong features", lambda m, o: lb.fit(m, lb.CrossEntropyLoss(), o, (np.ones((6, 4)),
     np.zeros(6, np.int64)), val_data=(np.ones((6, 2)), np.zeros(6, np.int64)), progress=False), ValueError,
     ["val_data", "(4,)", "(2,)"]),
    ("fit: max_steps=0", lambda m, o: lb.fit(m, lb.CrossEntropyLoss(), o, (np.ones((6, 4)), np.zeros(6, np.int64)),
                                           max_steps=0, progress=False), ValueError, ["max_steps"]),
    ("module used twice in one forward", lambda m, o: lb.Sequential(m, m)(np.ones((6, 4))), ValueError,
     ["called twice", "Sequential"]),
]

_TMP = {}


def _npy_file():
    return _TMP["npy"]


def _text_file():
    return _TMP["txt"]


@pytest.mark.parametrize("action, error, words", [pytest.param(*row[1:], id=row[0]) for row in STATEFUL])
def test_a_failed_operation_changes_nothing(action, error, words, tmp_path):
    _TMP["npy"] = tmp_path / "w.npy"
    np.save(_TMP["npy"], np.ones(3))
    _TMP["txt"] = tmp_path / "w.npz"
    _TMP["txt"].write_text("not numpy")
    model, opt = _model_and_optimizer()
    before = _state(model, opt)
    with pytest.raises(error) as info:
        action(model, opt)
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"
    assert _state(model, opt) == before


@pytest.mark.parametrize("make", [lambda ps: lb.SGD(ps, momentum=0.9), lambda ps: lb.Adam(ps)], ids=["SGD", "Adam"])
def test_an_optimizer_step_with_a_wrong_gradient_updates_nothing(make):
    model, _ = _model_and_optimizer()
    opt = make(model.parameters())
    opt.step()
    model.layers[-1].bias.grad = np.ones(7)  # the last parameter's gradient is wrong: nothing may move
    before = _state(model, opt)
    with pytest.raises(ValueError, match=r"params\[5\]\.grad must have the parameter's shape \(3,\), got \(7,\)"):
        opt.step()
    assert _state(model, opt) == before


def _complex_grad(model):
    model.layers[-1].bias.grad = model.layers[-1].bias.grad + 1j


def _read_only_value(model):
    model.layers[-1].bias.value.flags.writeable = False


@pytest.mark.parametrize("make", [lambda ps: lb.SGD(ps, momentum=0.9), lambda ps: lb.Adam(ps)], ids=["SGD", "Adam"])
@pytest.mark.parametrize("spoil, error, words", [
    (_complex_grad, TypeError, ["params[5].grad", "real numbers", "complex128"]),
    (_read_only_value, ValueError, ["params[5].value", "read-only"]),
], ids=["complex grad", "read-only value"])
def test_an_optimizer_step_that_cannot_update_the_last_parameter_updates_none(make, spoil, error, words):
    # Both used to fail inside numpy at the last parameter, after the first five had been updated.
    model, _ = _model_and_optimizer()
    opt = make(model.parameters())
    opt.step()
    spoil(model)
    before = _state(model, opt)
    with pytest.raises(error) as info:
        opt.step()
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"
    assert _state(model, opt) == before


@pytest.mark.parametrize("layer, x, grad", [
    (lb.Linear(3, 2, dtype=np.float64), np.ones((4, 3)), np.ones((4, 3))),
    (lb.ReLU(), np.ones((4, 3)), np.ones((3, 4))),
    (lb.Sigmoid(), np.ones((4, 3)), np.ones(12)),
    (lb.Tanh(), np.ones((4, 3)), np.ones((4, 1))),
    (lb.Softmax(), np.ones((4, 3)), np.ones((4, 4))),
    (lb.Dropout(0.5, rng=0), np.ones((4, 3)), np.ones((4, 1))),
    (lb.Flatten(), np.ones((2, 3, 2)), np.ones((2, 3, 2))),
    (lb.Conv2d(1, 2, 3, dtype=np.float64), np.ones((1, 1, 5, 5)), np.ones((1, 2, 5, 5))),
    (lb.MaxPool2d(2), np.ones((1, 1, 4, 4)), np.ones((1, 1, 4, 4))),
    (lb.AvgPool2d(2), np.ones((1, 1, 4, 4)), np.ones((1, 1, 1, 2))),
    (lb.GlobalAvgPool2d(), np.ones((2, 3, 4, 4)), np.ones((2, 4))),
    (lb.BatchNorm1d(3, dtype=np.float64), np.arange(12.0).reshape(4, 3), np.ones((3, 3))),
    (lb.LayerNorm(3, dtype=np.float64), np.arange(12.0).reshape(4, 3), np.ones((4, 4))),
    (lb.GroupNorm(1, 2, dtype=np.float64), np.arange(12.0).reshape(2, 2, 3), np.ones((2, 2, 2))),
    (lb.Embedding(5, 2, dtype=np.float64), np.array([[1, 2, 3]]), np.ones((1, 3, 3))),
    (lb.PositionalEmbedding(4, 2, dtype=np.float64), np.ones((1, 3, 2)), np.ones((1, 4, 2))),
    (lb.MultiHeadAttention(4, 2, dtype=np.float64), np.ones((1, 3, 4)), np.ones((1, 3, 3))),
    (lb.NextTokenMLP(5, context=2, embed_dim=2, hidden=3, dtype=np.float64), np.array([[1, 2]]), np.ones((1, 2, 4))),
    (lb.TinyTransformer(5, 4, dim=4, num_heads=1, num_layers=1, dtype=np.float64), np.array([[1, 2]]),
     np.ones((1, 2, 4))),
], ids=lambda v: type(v).__name__ if isinstance(v, lb.Module) else None)
def test_every_backward_checks_the_gradient_shape_before_touching_state(layer, x, grad):
    layer(x)
    before = pickle.dumps(layer)
    with pytest.raises(ValueError, match="grad_out must have the shape of the forward output"):
        layer.backward(grad)
    assert pickle.dumps(layer) == before


# -- Silent wrong answers that are now right (or refused) -------------------------------------------------------

def test_soft_targets_that_do_not_sum_to_one_get_the_true_gradient(rng):
    logits = rng.standard_normal((4, 3))
    targets = rng.random((4, 3))  # rows sum to anything in (0, 3)
    loss = lb.CrossEntropyLoss()
    assert lb.check_loss(loss, logits, targets)["pred"] < 1e-7  # was 0.13 with p − y
    # and rows that sum to exactly 1 keep the familiar p − y, bit for bit
    onehot = lb.one_hot(np.array([0, 2, 1, 1]), 3, dtype=np.float64)
    loss(logits, onehot)
    assert np.array_equal(loss.backward(), (F.softmax(logits) - onehot) / 4)


def test_a_layer_used_twice_is_refused_and_its_parameters_are_listed_once():
    lin = lb.Linear(3, 3, rng=0, dtype=np.float64)
    model = lb.Sequential(lin, lb.Tanh(), lin)
    assert len(model.parameters()) == 2 and model.num_parameters() == 12
    assert list(model.state_dict()) == ["0.weight", "0.bias"]
    with pytest.raises(ValueError, match=r"Linear\(3 → 3\) is called twice in one forward pass"):
        model(np.ones((2, 3)))
    with pytest.raises(ValueError, match="called twice"):
        lb.check_module(model, np.ones((2, 3)))
    with pytest.raises(ValueError, match="called twice"):
        lb.fit(model, lb.MSELoss(), lb.SGD(model.parameters()), (np.ones((4, 3)), np.ones((4, 3))), progress=False)
    assert lin._x is None  # the failed forward left no half-written cache


def test_a_forward_pass_in_another_thread_is_its_own_pass():
    """The record of the pass in progress is per thread: a pass held open in a background thread (a widget
    computing ahead) must neither see nor end one in this thread, nor be put back by this thread's failure."""
    import threading

    inside, release = threading.Event(), threading.Event()

    class Waits(lb.Module):
        def forward(self, x):
            inside.set()
            release.wait(5)
            return x

    background = lb.Sequential(lb.Linear(3, 3, rng=0, dtype=np.float64), Waits())
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("y", background(np.ones((2, 3)))))
    thread.start()
    inside.wait(5)
    try:  # while that pass is open: two passes of one layer here are two passes, not one called twice
        lin = lb.Linear(3, 3, rng=1, dtype=np.float64)
        lin(np.ones((2, 3)))
        lin(np.ones((2, 3)))
        with pytest.raises(ValueError, match="expected"):  # a failing pass here puts back only its own modules
            lb.Sequential(lb.Linear(3, 3, rng=2), lb.Linear(4, 3, rng=3))(np.ones((2, 3)))
    finally:
        release.set()
        thread.join(5)
    assert out["y"].shape == (2, 3) and background.layers[0]._x is not None  # the other pass completed intact


def test_a_parameter_shared_by_two_layers_gets_both_gradients_and_one_update():
    a, b = lb.Linear(3, 3, rng=0, dtype=np.float64), lb.Linear(3, 3, rng=1, dtype=np.float64)
    b.weight = a.weight  # weight tying: share the Parameter, not the module
    model = lb.Sequential(a, lb.Tanh(), b)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.bias"]
    errors = lb.check_module(model, np.random.default_rng(0).standard_normal((2, 3)))
    assert max(errors.values()) < 1e-7
    opt = lb.SGD(model.parameters() + [a.weight], lr=0.1)  # listed twice by hand: still updated once
    assert len(opt.params) == 3
    before = a.weight.value.copy()
    a.weight.grad[...] = 1.0
    opt.step()
    np.testing.assert_allclose(a.weight.value, before - 0.1)


@pytest.mark.parametrize("layer", [lb.Sigmoid(), lb.Tanh(), lb.ReLU(), lb.Softmax(), lb.Identity(), lb.Flatten()])
@pytest.mark.parametrize("dtype", [np.int64, np.uint8, bool])
def test_integer_and_bool_inputs_are_promoted_to_float64(layer, dtype):
    x = np.array([[0, 1, 3]], dtype=dtype)
    y = layer(x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, layer(x.astype(np.float64)))


def test_the_dtype_policy_examples_from_the_issue():
    np.testing.assert_allclose(lb.Sigmoid()([-3, 0, 3]), 1 / (1 + np.exp(-np.array([-3.0, 0.0, 3.0]))))
    p = lb.Softmax()(np.array([[250, 255]], dtype=np.uint8))
    np.testing.assert_allclose(p, F.softmax(np.array([[250.0, 255.0]])))
    y = lb.Dropout(0.5, rng=0)(np.arange(1, 9))
    assert np.isfinite(y).all() and set(np.unique(y)) <= {0.0} | set(2.0 * np.arange(1, 9))
    x = np.ones((2, 4), np.float32)
    assert lb.Linear(4, 2)(x).dtype == np.float32  # floats keep their dtype
    assert lb.Linear(4, 2, dtype=np.float64)([[1, 2, 3, 4]]).shape == (1, 2)  # lists are fine
    # functional's numerics too: softmax_backward of lists is the Jacobian-vector product (it raised Python's
    # "can't multiply sequence by non-int of type 'list'")
    np.testing.assert_allclose(F.softmax_backward([0.5, 0.5], [1.0, 0.0]), [0.25, -0.25])


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, bool])
def test_standardize_integer_data_comes_back_float64(dtype):
    X = (np.arange(12).reshape(6, 2) % 3).astype(dtype)
    (Z,) = data.standardize(X)
    assert Z.dtype == np.float64 and np.abs(Z).max() > 0.5
    np.testing.assert_allclose(Z, data.standardize(X.astype(np.float64))[0])


def test_batch_norm_backward_differentiates_the_mode_of_its_forward(rng):
    bn = lb.BatchNorm1d(3, dtype=np.float64)
    x, g = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    bn(x)
    expected = bn.backward(g)
    bn.zero_grad()
    bn(x)
    bn.eval()  # between forward and backward: the backward must still be the training-mode one
    np.testing.assert_array_equal(bn.backward(g), expected)


def test_check_module_leaves_running_statistics_unchanged(rng):
    bn = lb.BatchNorm1d(3, dtype=np.float64)
    mean, var = bn.running_mean.copy(), bn.running_var.copy()
    assert max(lb.check_module(bn, rng.standard_normal((5, 3))).values()) < 1e-7
    np.testing.assert_array_equal(bn.running_mean, mean)
    np.testing.assert_array_equal(bn.running_var, var)


def test_save_without_suffix_then_load_without_suffix(tmp_path):
    a, b = lb.Linear(3, 2, rng=0), lb.Linear(3, 2, rng=1)
    a.save(tmp_path / "weights")  # numpy writes weights.npz
    b.load(tmp_path / "weights")
    np.testing.assert_array_equal(a.weight.value, b.weight.value)


def test_load_mnist_into_an_unwritable_cache_says_what_to_do(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(lb.MNISTUnavailable, match="cannot be written") as info:
        lb.load_mnist(cache_dir=blocker / "sub", progress=False)
    assert "put these 4 files" in str(info.value)


def test_cosine_schedule_never_divides_by_zero_and_stays_in_range():
    opt = lb.SGD(lb.Linear(2, 2).parameters(), lr=0.1)
    sched = lb.CosineAnnealingLR(opt, T_max=1, eta_min=0.01)
    for _ in range(3):
        sched.step()
        assert 0.01 <= opt.lr <= 0.1


# -- The training loop: accuracy's labels, predict/evaluate's arguments, steps that fail --------------------------

TRAINING_ERRORS = [
    ("accuracy 1-D logits, labels of 4 classes", lambda: lb.accuracy([5.0, -1.0, 3.0, 2.0], [2, 0, 1, 3]),
     ValueError, ["binary targets", "[0, 1]", "2"]),
    ("accuracy label 7 of 2 classes", lambda: lb.accuracy([[1.0, 0.0], [0.0, 1.0]], [5, 7]), ValueError,
     ["[0, 2)", "5"]),
    ("accuracy label -1", lambda: lb.accuracy([[1.0, 0.0], [0.0, 1.0]], [-1, 1]), ValueError, ["[0, 2)", "-1"]),
    ("accuracy string labels", lambda: lb.accuracy([[1.0, 0.0], [0.0, 1.0]], [["a", "b"]]), TypeError,
     ["y", "<U1"]),
    ("accuracy NaN logits", lambda: lb.accuracy([[np.nan, 0.0], [0.0, 1.0]], [0, 1]), ValueError,
     ["logits", "NaN"]),
    ("accuracy float class labels", lambda: lb.accuracy(LOGITS, [0.7, 1.0]), ValueError, ["integers", "float64"]),
    ("accuracy string logits", lambda: lb.accuracy(np.array(["a", "b"]), [0, 1]), TypeError, ["logits", "<U1"]),
    ("accuracy threshold='0.5'", lambda: lb.accuracy([0.2], [0], threshold="0.5"), TypeError, ["threshold"]),
    ("predict(np.mean, X)", lambda: lb.predict(np.mean, X4), TypeError, ["predict", "model", "Module"]),
    ("evaluate(np.mean, ...)", lambda: lb.evaluate(np.mean, lb.MSELoss(), X4, X4), TypeError, ["model", "Module"]),
    ("evaluate(loss_fn=np.mean)", lambda: lb.evaluate(lb.Linear(4, 2), np.mean, X4, np.zeros(3, np.int64)),
     TypeError, ["loss_fn", "Loss"]),
    ("optimizer.load_state_dict(list)", lambda: lb.SGD(lb.Linear(2, 2).parameters()).load_state_dict([1]),
     TypeError, ["state", "dict", "list"]),
]


@pytest.mark.parametrize("call, error, words", [pytest.param(*row[1:], id=row[0]) for row in TRAINING_ERRORS])
def test_bad_input_to_the_training_loop_raises_a_clear_error(call, error, words):
    test_bad_input_raises_a_clear_error(call, error, words)


def _trained_state(model, opt) -> dict:
    """What a training step may change: parameters, buffers (running statistics), dropout's random stream and the
    optimizer's state."""
    flat = {f"model {k}": v for k, v in model.state_dict().items()}
    flat.update({f"rng of {m!r}": np.array(m.rng.bit_generator.state["state"]["state"])  # PCG64's 128-bit state
                 for m in model.modules() if isinstance(m, lb.Dropout)})
    for k, v in opt.state_dict().items():
        flat.update({f"opt {k}.{i}": a for i, a in enumerate(v)} if isinstance(v, list) else {f"opt {k}": v})
    return flat


def _sgd_about_to_overflow(model):
    opt = lb.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    opt.step()  # a velocity to keep (the model holds gradients)
    opt.lr = 1e308  # the next update overflows float64
    return opt


_X6 = np.random.default_rng(0).standard_normal((6, 4)) * 1e3

# (case, optimizer for the model (None: its Adam), loss, X, y, what the step raises)
FAILING_STEPS = [
    ("label 7 of 3 classes", None, lb.CrossEntropyLoss(), _X6, np.array([0, 1, 2, 7, 0, 1]), "target class 7"),
    ("refused: the loss is inf", None, lb.MSELoss(), _X6, np.full((6, 3), 1e200), "the loss is inf"),
    ("undone: the update overflows", _sgd_about_to_overflow, lb.CrossEntropyLoss(), _X6,
     np.array([0, 1, 2, 0, 1, 2]), "the update overflowed"),
]


@pytest.mark.parametrize("make_opt, loss_fn, X, y, words", [pytest.param(*row[1:], id=row[0]) for row in FAILING_STEPS])
def test_a_failed_or_refused_training_step_changes_no_parameter_buffer_or_optimizer_state(make_opt, loss_fn, X, y,
                                                                                           words):
    model, opt = _model_and_optimizer()  # batch norm's running statistics, Adam after one step
    opt = opt if make_opt is None else make_opt(model)
    before = _trained_state(model, opt)
    with pytest.raises((ValueError, lb.TrainingDiverged), match=words):
        lb.fit(model, loss_fn, opt, (X, y), batch_size=6, progress=False)
    after = _trained_state(model, opt)
    assert after.keys() == before.keys()
    assert [k for k in before if not np.array_equal(before[k], after[k])] == []  # what the failed step changed


# -- found by probing the public API (session of 4 December 2026): each failed silently or half-way before ----------

def _after_forward(layer, x):
    layer(x)
    return layer


PROBED_ERRORS = [
    ("rel_error of NaN", lambda: lb.rel_error([np.nan], [1.0]), ValueError, ["a", "NaN"]),
    ("rel_error of inf", lambda: lb.rel_error([1.0], [np.inf]), ValueError, ["b", "NaN or inf"]),
    ("check_module through training-mode dropout",
     lambda: lb.check_module(lb.Sequential(lb.Linear(3, 2, dtype=np.float64), lb.Dropout(0.5)), np.ones((2, 3))),
     ValueError, ["training mode", ".eval()"]),
    ("standardize with NaN", lambda: data.standardize(np.array([[1.0, np.nan], [2.0, 3.0]])), ValueError,
     ["NaN or inf", "1 feature"]),
    ("standardize overflowing float32", lambda: data.standardize(np.array([[3e38], [-3e38]], np.float32)), ValueError,
     ["overflows", "float64"]),
    ("load_state_dict overflowing float32",
     lambda: lb.Linear(2, 2).load_state_dict({"weight": np.full((2, 2), 1e300), "bias": np.zeros(2)}), ValueError,
     ["weight", "overflow", "float32"]),
    ("gaussian_mixture NaN std", lambda: data.gaussian_mixture(3, stds=(np.nan, 1.0)), ValueError, ["finite", "nan"]),
    ("Identity backward, wrong shape", lambda: _after_forward(lb.Identity(), np.ones((2, 3))).backward(np.ones(5)),
     ValueError, ["grad_out", "(2, 3)", "(5,)"]),
    ("Identity backward before forward", lambda: lb.Identity().backward(np.ones(3)), RuntimeError, ["forward"]),
    ("binary accuracy, other layout", lambda: lb.accuracy(np.zeros(4), np.zeros((2, 2))), ValueError,
     ["(4,)", "(2, 2)"]),
    ("rng=-1", lambda: lb.Linear(2, 2, rng=-1), ValueError, ["seed", ">= 0", "-1"]),
    ("rng=True", lambda: lb.Dropout(0.5, rng=True), TypeError, ["rng", "bool"]),
    ("Tensor.backward complex grad", lambda: autograd.Tensor(np.ones(2)).backward(np.ones(2) * 1j), TypeError,
     ["grad", "complex"]),
]


@pytest.mark.parametrize("call, error, words", [pytest.param(*row[1:], id=row[0]) for row in PROBED_ERRORS])
def test_probed_bad_input_raises_a_clear_error(call, error, words):
    test_bad_input_raises_a_clear_error(call, error, words)


def test_max_of_check_module_errors_cannot_hide_a_nan():
    """max() over a dict with a NaN depends on the order (max([nan, 0.5]) is nan, max([0.5, nan]) is 0.5): a NaN
    gradient must raise, not be skipped by `max(check_module(...).values()) < 1e-6`."""
    with pytest.raises(ValueError, match="NaN or inf"):
        lb.check_module(lb.Linear(2, 2, dtype=np.float64), np.array([[np.nan, 1.0]]))


def test_embedding_keeps_the_ids_it_was_called_with():
    ids = np.array([[1, 2, 3]])
    emb, ref = lb.Embedding(5, 2, dtype=np.float64), lb.Embedding(5, 2, dtype=np.float64)
    emb(ids), ref(ids.copy())
    ids[0, 0] = 4  # the caller edits its array between forward and backward
    emb.backward(np.ones((1, 3, 2))), ref.backward(np.ones((1, 3, 2)))
    np.testing.assert_array_equal(emb.weight.grad, ref.weight.grad)


def test_an_integer_parameter_value_is_refused_before_any_update():
    a, b = lb.Parameter(np.ones(2)), lb.Parameter(np.ones(2))
    b.value = np.zeros(2, dtype=np.int64)  # replaced by hand: the optimizer updates in place
    a.grad[...], b.grad = 1.0, np.ones(2)
    opt = lb.SGD([a, b], lr=0.1, momentum=0.9)
    with pytest.raises(TypeError, match=r"params\[1\]\.value must be a float array"):
        opt.step()
    np.testing.assert_array_equal(a.value, [1.0, 1.0])  # the first parameter was not updated
    np.testing.assert_array_equal(opt.velocity[0], [0.0, 0.0])


def test_layer_grad_norms_leaves_running_statistics_and_dropout_as_they_were():
    model, _ = _model_and_optimizer()  # batch norm and dropout
    before = _trained_state(model, lb.SGD(model.parameters(), lr=0.1))
    X, y = np.random.default_rng(3).standard_normal((6, 4)), np.array([0, 1, 2, 0, 1, 2])
    lb.layer_grad_norms(model, lb.CrossEntropyLoss(), X, y)
    with pytest.raises(ValueError, match="target class 7"):
        lb.layer_grad_norms(model, lb.CrossEntropyLoss(), X, np.array([0, 1, 2, 7, 1, 2]))
    after = _trained_state(model, lb.SGD(model.parameters(), lr=0.1))
    assert [k for k in before if not np.array_equal(before[k], after[k])] == []


def test_fit_refuses_val_labels_that_do_not_suit_the_loss_before_the_first_step():
    model = lb.Sequential(lb.Linear(4, 3, rng=0, dtype=np.float64))
    w = model[0].weight.value.copy()
    X, y = np.random.default_rng(0).standard_normal((8, 4)), np.array([0, 1, 2, 0, 1, 2, 0, 1])
    with pytest.raises(ValueError, match="val_data does not suit the loss.*target class 3"):
        lb.fit(model, lb.CrossEntropyLoss(), lb.SGD(model.parameters(), lr=0.1), (X, y), epochs=1, batch_size=4,
               val_data=(X, y + 3), progress=False)
    np.testing.assert_array_equal(model[0].weight.value, w)  # no step was taken


# -- found by probing the public API (second session): flags, optimizers, ids, custom layers -----------------------

def _backward_after_forward(layer, x, grad):
    layer(x)
    return lambda flag: layer.backward(grad, input_grad=flag)


# A truthy string used to mean True silently (bias="no" gave a bias), 0 or None False; each flag now takes a bool.
# (case, call with the flag's value)
BOOL_FLAGS = [
    ("Linear bias", lambda v: lb.Linear(2, 2, bias=v)),
    ("Conv2d bias", lambda v: lb.Conv2d(1, 1, 3, bias=v)),
    ("PositionalEmbedding learned", lambda v: lb.PositionalEmbedding(4, 2, learned=v)),
    ("MultiHeadAttention causal", lambda v: lb.MultiHeadAttention(4, 2, causal=v)),
    ("TransformerBlock causal", lambda v: lb.TransformerBlock(4, 2, causal=v)),
    ("scaled_dot_product_attention causal",
     lambda v: lb.attention.scaled_dot_product_attention(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3)), causal=v)),
    ("load_digits flatten", lambda v: data.load_digits(flatten=v)),
    ("scale_images flatten", lambda v: lb.scale_images(np.zeros((2, 3, 3), np.uint8), flatten=v)),
    ("minibatches shuffle", lambda v: list(lb.minibatches(X4, np.zeros(3), 2, shuffle=v))),
    ("fit progress", lambda v: _fit(progress=v)),
    ("load_mnist download", lambda v: lb.load_mnist(download=v, progress=False)),
    ("load_mnist progress", lambda v: lb.load_mnist(download=False, progress=v)),
    ("F.logsumexp keepdims", lambda v: F.logsumexp(LOGITS, keepdims=v)),
    ("Tensor.sum keepdims", lambda v: autograd.Tensor(LOGITS).sum(axis=0, keepdims=v)),
    ("Tensor.mean keepdims", lambda v: autograd.Tensor(LOGITS).mean(axis=0, keepdims=v)),
    ("Tensor.logsumexp keepdims", lambda v: autograd.Tensor(LOGITS).logsumexp(keepdims=v)),
    ("Linear.backward input_grad",
     lambda v: _backward_after_forward(lb.Linear(2, 2, dtype=np.float64), np.ones((1, 2)), np.ones((1, 2)))(v)),
    ("Conv2d.backward input_grad", lambda v: _backward_after_forward(
        lb.Conv2d(1, 1, 3, dtype=np.float64), np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)))(v)),
    ("Sequential.backward input_grad", lambda v: _backward_after_forward(
        lb.Sequential(lb.ReLU(), lb.Linear(2, 2, dtype=np.float64)), np.ones((1, 2)), np.ones((1, 2)))(v)),
    ("Residual.backward input_grad", lambda v: _backward_after_forward(
        lb.Residual(lb.Linear(2, 2, dtype=np.float64)), np.ones((1, 2)), np.ones((1, 2)))(v)),
    ("MultiHeadAttention.backward input_grad", lambda v: _backward_after_forward(
        lb.MultiHeadAttention(4, 2, dtype=np.float64), np.ones((1, 2, 4)), np.ones((1, 2, 4)))(v)),
    ("TransformerBlock.backward input_grad", lambda v: _backward_after_forward(
        lb.TransformerBlock(4, 2, dtype=np.float64), np.ones((1, 2, 4)), np.ones((1, 2, 4)))(v)),
    ("TrainingFigure accuracy", lambda v: _plot().TrainingFigure(np.ones((4, 2)), np.zeros(4), 10, accuracy=v)),
    ("TrainingFigure validation", lambda v: _plot().TrainingFigure(np.ones((4, 2)), np.zeros(4), 10, validation=v)),
]


@pytest.mark.parametrize("value", ["no", "false", 0, None], ids=repr)
@pytest.mark.parametrize("call", [pytest.param(row[1], id=row[0]) for row in BOOL_FLAGS])
def test_a_flag_refuses_anything_but_true_or_false(call, value):
    with pytest.raises(TypeError, match=f"must be True or False, got {re.escape(repr(value))}"):
        call(value)


def test_a_backward_with_a_bad_flag_adds_no_gradient_and_numpy_bools_pass():
    model = lb.Sequential(lb.Linear(2, 2, dtype=np.float64), lb.Linear(2, 2, dtype=np.float64))
    model(np.ones((1, 2)))
    with pytest.raises(TypeError, match="input_grad"):
        model.backward(np.ones((1, 2)), input_grad="no")
    assert not any(p.grad.any() for p in model.parameters())
    assert model.backward(np.ones((1, 2)), input_grad=np.False_) is None  # numpy's bools are bools
    assert lb.Linear(2, 2, bias=np.False_).bias is None


def test_train_step_refuses_an_optimizer_of_another_model_and_changes_nothing_but_trains_a_part():
    model, other = lb.Linear(2, 2, rng=0, dtype=np.float64), lb.Linear(2, 2, rng=1, dtype=np.float64)
    opt = lb.SGD(other.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)  # used to shrink `other`'s weights
    before = _state(lb.Sequential(model, other), opt)
    with pytest.raises(ValueError, match="train_step: the optimizer holds none of the model's parameters"):
        lb.train_step(model, lb.MSELoss(), opt, np.ones((3, 2)), np.zeros((3, 2)))
    assert _state(lb.Sequential(model, other), opt) == before  # no gradient, no update, no momentum
    # Part of the model is fine (PyTorch's freezing): the layers the optimizer does not hold keep their weights.
    model = lb.Sequential(lb.Linear(2, 2, rng=0, dtype=np.float64), lb.Linear(2, 2, rng=1, dtype=np.float64))
    frozen, trained = model[0].weight.value.copy(), model[1].weight.value.copy()
    lb.train_step(model, lb.MSELoss(), lb.SGD(model[1].parameters(), lr=0.1), np.ones((3, 2)), np.zeros((3, 2)))
    np.testing.assert_array_equal(model[0].weight.value, frozen)  # frozen, as in PyTorch
    assert not np.array_equal(model[1].weight.value, trained)


class _Double(lb.Module):
    """A layer of one's own whose backward has no input_grad (the exercises' style)."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad_out):
        return 2 * grad_out


@pytest.mark.parametrize("input_grad", [True, False])
def test_a_layer_whose_backward_takes_no_input_grad_works_first_in_a_container(input_grad):
    # Sequential passed input_grad= to its first layer: a TypeError after the later layers had added their gradients.
    lin = lb.Linear(2, 2, rng=0, dtype=np.float64)
    model = lb.Sequential(_Double(), lin)
    x, g = np.array([[1.0, 2.0]]), np.array([[1.0, -1.0]])
    model(x)
    model.backward(g, input_grad=input_grad)
    np.testing.assert_allclose(lin.weight.grad, g.T @ (2 * x))  # added once
    res = lb.Residual(lb.Linear(2, 2, rng=1, dtype=np.float64), projection=_Double())
    res(x)
    grad_x = res.backward(g, input_grad=input_grad)
    if input_grad:
        np.testing.assert_allclose(grad_x, g @ res.block.weight.value + 2 * g)
    model = lb.Sequential(_Double(), lb.Linear(2, 2, rng=0, dtype=np.float64))
    loss = lb.train_step(model, lb.MSELoss(), lb.SGD(model.parameters(), lr=0.1), x, np.zeros((1, 2)))
    assert np.isfinite(loss)


@pytest.mark.parametrize("call", [
    pytest.param(lambda ids: _tok().decode(ids), id="BPETokenizer.decode"),
    pytest.param(lambda ids: text.context_windows(np.concatenate([ids, np.zeros(4, np.uint64)]), 3),
                 id="context_windows"),
    pytest.param(lambda ids: text.sample(lambda p: np.zeros(3), ids, 1), id="sample"),
])
def test_uint64_ids_that_int64_cannot_hold_are_refused_not_wrapped(call):
    # 2**64 - 1 cast to int64 is -1: context_windows returned windows of -1s, sample handed -1 to the model, decode
    # reported the id as -1
    with pytest.raises(ValueError, match="18446744073709551615"):
        call(np.array([2**64 - 1], dtype=np.uint64))
    with pytest.raises(ValueError, match=str(2**63)):
        call(np.array([2**63], dtype=np.uint64))


# Each raised a numpy/Python internal error, or (marked *) returned a wrong answer silently.
PROBED_AGAIN = [
    ("LayerNorm(3.0)", lambda: lb.LayerNorm(3.0), TypeError, ["LayerNorm", "normalized_shape", "3.0"]),
    ("LayerNorm(None)", lambda: lb.LayerNorm(None), TypeError, ["normalized_shape", "None"]),
    ("BPETokenizer merge of an unknown token", lambda: BPETokenizer([((1, 999), 256)]), ValueError,
     ["(1, 999)", "existing tokens", "[0, 256)"]),
    ("BPETokenizer merge of -1", lambda: BPETokenizer([((-1, 2), 256)]), ValueError, ["(-1, 2)", "existing"]),
    ("BPETokenizer merge of 1.5 (*)", lambda: BPETokenizer([((1.5, 2), 256)]), TypeError, ["merges", "integer"]),
    ("BPETokenizer merge of True (*)", lambda: BPETokenizer([((True, 2), 256)]), TypeError, ["merges", "integer"]),
    ("BPETokenizer(None)", lambda: BPETokenizer(None), TypeError, ["merges", "None"]),
    ("BPE train: lone surrogate", lambda: BPETokenizer.train("ab\ud800ab", 260), ValueError,
     ["BPETokenizer.train", "'\\ud800'", "position 2", "surrogate"]),
    ("BPE encode: lone surrogate", lambda: _tok().encode("a\udfffb"), ValueError,
     ["BPETokenizer.encode", "position 1", "surrogate"]),
    ("load_mnist(mirror=[])", lambda: lb.load_mnist(mirror=[], progress=False), ValueError,
     ["load_mnist", "mirror", "at least one", "[]"]),
    ("load_mnist(mirror=3)", lambda: lb.load_mnist(mirror=3, progress=False), TypeError, ["mirror", "3"]),
    ("polynomial_fit NaN in x", lambda: lb.polynomial_fit([0.0, 1.0, np.nan, 3.0], np.arange(4.0), 1), ValueError,
     ["polynomial_fit", "x", "NaN", "point 2"]),
    ("polynomial_fit NaN in y (*)", lambda: lb.polynomial_fit(np.arange(4.0), [0.0, np.inf, 2.0, 3.0], 1),
     ValueError, ["y", "NaN or inf", "point 1"]),
    ("polynomial_fit x of shape (N, 2) (*)", lambda: lb.polynomial_fit(np.ones((5, 2)), np.ones((5, 2)), 1),
     ValueError, ["x", "(N,) or (N, 1)", "(5, 2)"]),
    ("polynomial_fit strings", lambda: lb.polynomial_fit(np.array(list("abcd")), np.arange(4.0), 1), TypeError,
     ["polynomial_fit", "x", "<U1"]),
    ("polynomial_errors val lengths (*)", lambda: lb.polynomial_errors(np.arange(6.0), np.arange(6.0), [1.0],
                                                                       np.arange(6.0), range(3)), ValueError,
     ["polynomial_errors", "x_val has 1", "y_val has 6"]),
    ("polynomial_errors NaN in y_val (*)", lambda: lb.polynomial_errors(np.arange(6.0), np.arange(6.0),
                                                                        np.arange(3.0), [0.0, np.nan, 1.0], range(3)),
     ValueError, ["y_val", "NaN"]),
    ("polynomial_errors(degrees=3)", lambda: lb.polynomial_errors(np.arange(6.0), np.arange(6.0), np.arange(3.0),
                                                                  np.arange(3.0), 3), TypeError, ["degrees", "3"]),
]


@pytest.mark.parametrize("call, error, words", [pytest.param(*row[1:], id=row[0]) for row in PROBED_AGAIN])
def test_probed_again_bad_input_raises_a_clear_error(call, error, words):
    test_bad_input_raises_a_clear_error(call, error, words)


def test_scale_images_of_no_images_is_an_empty_batch():
    # reshape(0, -1) raised numpy's "cannot reshape array of size 0 into shape (0,newaxis)"
    X = lb.scale_images(np.zeros((0, 28, 28), np.uint8))
    assert X.shape == (0, 784) and X.dtype == np.float32


def test_labels_the_accuracy_cannot_score_fail_before_the_first_update():
    """With metrics=("accuracy",) a step scores its batch after the update: MSE targets outside [0, 1] used to
    raise there, with the weights already changed. fit and LiveTrainer now check the labels first."""
    X = np.random.default_rng(0).standard_normal((40, 3))
    y = 3 * np.random.default_rng(1).random((40, 1))  # fine for MSELoss, not binary labels
    model = lb.Sequential(lb.Linear(3, 1, rng=0))
    before = model.layers[0].weight.value.copy()
    with pytest.raises(ValueError, match=r"fit: metrics=\('accuracy',\) cannot score the labels of train_data"):
        lb.fit(model, lb.MSELoss(), lb.SGD(model.parameters(), lr=0.1), (X, y), progress=False,
               metrics=("accuracy",))
    assert np.array_equal(model.layers[0].weight.value, before)
    with pytest.raises(ValueError, match="cannot score the labels of val_data"):
        lb.fit(model, lb.MSELoss(), lb.SGD(model.parameters(), lr=0.1), (X, (y > 1.5).astype(float)),
               val_data=(X, y), progress=False, metrics=("accuracy",))
    assert np.array_equal(model.layers[0].weight.value, before)
    with pytest.raises(ValueError, match="LiveTrainer: metrics=.* cannot score the labels of data"):
        lb.runs.LiveTrainer(lambda: lb.Sequential(lb.Linear(3, 1, rng=0)), lb.MSELoss(), (X, y),
                            metrics=("accuracy",))
    history = lb.fit(model, lb.MSELoss(), lb.SGD(model.parameters(), lr=0.1), (X, y), progress=False, epochs=1)
    assert history.steps > 0  # without the accuracy, the same targets train

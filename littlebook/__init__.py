"""littlebook: the small numpy deep-learning library that the chapters of the book explain.

Layers have an explicit forward and backward pass (``y = layer(x)``; ``grad_x = layer.backward(grad_y)``),
losses return a float and their gradient, optimizers update parameters in place, ``fit`` runs the loop.
"""

from . import (
    attention,
    conv,
    data,
    density,
    functional,
    gradcheck,
    kernels,
    losses,
    mnist,
    nn,
    norm,
    optim,
    regression,
    runs,
    text,
    timing,
    train,
)
from .attention import Embedding, MultiHeadAttention, PositionalEmbedding, TinyTransformer, TransformerBlock
from .conv import AvgPool2d, Conv2d, GlobalAvgPool2d, MaxPool2d, conv_output_size
from .data import MNISTUnavailable, load_digits, load_mnist, mnist_cached, scale_images, standardize, train_test_split
from .density import GaussianMixture
from .functional import one_hot
from .gradcheck import check_loss, check_module, rel_error
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .nn import (
    Dropout,
    Flatten,
    Identity,
    Linear,
    Module,
    Parameter,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from .norm import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm
from .optim import SGD, Adam, CosineAnnealingLR, StepLR
from .regression import polynomial_errors, polynomial_fit
from .runs import LiveTrainer, train_curve
from .text import BPETokenizer, NextTokenMLP, context_windows, load_corpus, sample
from .train import (
    History,
    TrainingDiverged,
    accuracy,
    evaluate,
    fit,
    layer_grad_norms,
    minibatches,
    predict,
    train_step,
)

__version__ = "0.1.0"

__all__ = [
    # modules of the package
    "attention", "conv", "data", "density", "functional", "gradcheck", "kernels", "losses", "mnist", "nn", "norm",
    "optim", "regression", "runs", "timing", "train",
    # layers
    "Module", "Parameter", "Sequential", "Linear", "ReLU", "Sigmoid", "Tanh", "Softmax", "Identity",
    "Dropout", "Flatten", "Residual",
    "Conv2d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d", "conv_output_size",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d",
    "Embedding", "PositionalEmbedding", "MultiHeadAttention", "TransformerBlock", "TinyTransformer",
    "GaussianMixture", "polynomial_fit", "polynomial_errors",
    # losses
    "MSELoss", "BCEWithLogitsLoss", "BCELoss", "CrossEntropyLoss",
    # optimization and training
    "SGD", "Adam", "StepLR", "CosineAnnealingLR",
    "train_step", "fit", "evaluate", "predict", "accuracy", "minibatches", "History", "TrainingDiverged",
    "layer_grad_norms", "train_curve", "LiveTrainer",
    # gradient checking
    "check_module", "check_loss", "rel_error",
    # text
    "text", "BPETokenizer", "NextTokenMLP", "load_corpus", "context_windows", "sample",
    # data
    "load_digits", "train_test_split", "standardize", "one_hot", "load_mnist", "mnist_cached", "MNISTUnavailable",
    "scale_images",
]

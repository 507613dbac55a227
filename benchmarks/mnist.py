"""Time to accuracy on the real MNIST (60,000 / 10,000 images): littlebook against PyTorch, the same run twice.

Both sides train the same architecture from the same initial weights (littlebook's, copied into the torch model),
on the same batches (one index permutation per epoch, drawn once and used by both), with the same optimizer and
learning-rate schedule (SGD with momentum, lr set before every step by the same function), in float32. The two
runs are interleaved epoch by epoch in one process (littlebook epoch 1, torch epoch 1, littlebook epoch 2, …), so a
busy phase of the machine hits both alike. Each side's clock counts its training steps and its test evaluation at
the end of every epoch (batches gathered from the arrays inside the clock, data loading outside); its time to
accuracy is the clock when its test accuracy first reaches the target.

The files are read by ``littlebook.load_mnist(path=...)``: by default from ``../shared/data/mnist`` beside the
repository (dev machines and CI have it; a reader's machine does not, and the section then says so and is skipped).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import littlebook as lb

from .common import header, record, row, torch

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT.parent / "shared" / "data" / "mnist"
# Test images per forward pass, the same on both sides. Both are fastest at a few hundred (measured on the 10,000
# test images, 2 threads: PyTorch 0.92-0.96 s at 100-500, 1.13 s at 1000; littlebook 0.99-1.05 s at 100-250,
# 3.14 s at 1000, where a conv layer's patch matrix outgrows the allocator's reuse and the caches).
EVAL_BATCH = 250
MEAN, STD = 0.1307, 0.3081  # MNIST's pixel mean and std on the training set (the usual constants)
MAX_RATIO, MAX_ACC_GAP = 1.5, 0.003  # issue 18: time littlebook / PyTorch; |accuracy difference| (0.3 points)


@dataclass
class Recipe:
    name: str
    target: float
    batch_size: int
    lr: float
    momentum: float
    epochs: int  # the schedule's length; training stops earlier once both sides reached the target
    warmup_steps: int = 0
    flatten: bool = True

    def lr_at(self, step: int, total: int) -> float:
        """Linear warm-up over ``warmup_steps``, then cosine decay to 0 at ``total`` steps."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        t = (step - self.warmup_steps) / max(1, total - self.warmup_steps)
        return self.lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


MLP = Recipe("MLP 784-256-256-10", target=0.98, batch_size=64, lr=0.05, momentum=0.9, epochs=6, warmup_steps=200)
CNN = Recipe("CNN (conv3-BN-ReLU-pool)×2-linear", target=0.99, batch_size=64, lr=0.05, momentum=0.9, epochs=4,
             warmup_steps=200, flatten=False)


def lb_mlp():
    return lb.Sequential(lb.Linear(784, 256, rng=1), lb.ReLU(), lb.Linear(256, 256, rng=2), lb.ReLU(),
                         lb.Linear(256, 10, rng=3))


def lb_cnn():
    from littlebook.conv import Conv2d, MaxPool2d
    from littlebook.norm import BatchNorm2d

    return lb.Sequential(Conv2d(1, 16, 3, padding=1, rng=1), BatchNorm2d(16), lb.ReLU(), MaxPool2d(2),   # 16×14×14
                         Conv2d(16, 32, 3, padding=1, rng=2), BatchNorm2d(32), lb.ReLU(), MaxPool2d(2),  # 32×7×7
                         lb.Flatten(), lb.Linear(32 * 7 * 7, 10, rng=3))


def torch_twin(model):
    """The torch model with littlebook's architecture and a copy of its current weights and BatchNorm buffers."""
    from littlebook.conv import Conv2d, MaxPool2d
    from littlebook.norm import BatchNorm2d

    nn, layers = torch.nn, []
    for layer in model:
        if isinstance(layer, lb.Linear):
            t = nn.Linear(layer.in_features, layer.out_features)
        elif isinstance(layer, Conv2d):
            t = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                          padding=layer.padding)
        elif isinstance(layer, BatchNorm2d):
            t = nn.BatchNorm2d(layer.num_features, eps=layer.eps, momentum=layer.momentum)
        elif isinstance(layer, MaxPool2d):
            t = nn.MaxPool2d(layer.kernel_size)
        elif isinstance(layer, lb.ReLU):
            t = nn.ReLU()
        elif isinstance(layer, lb.Flatten):
            t = nn.Flatten()
        else:
            raise TypeError(f"no torch twin for {layer!r}")
        with torch.no_grad():
            if hasattr(layer, "weight"):
                t.weight.copy_(torch.from_numpy(layer.weight.value))
                t.bias.copy_(torch.from_numpy(layer.bias.value))
            if isinstance(layer, BatchNorm2d):
                t.running_mean.copy_(torch.from_numpy(layer.running_mean))
                t.running_var.copy_(torch.from_numpy(layer.running_var))
        layers.append(t)
    return nn.Sequential(*layers)


@dataclass
class Side:
    """One training run: its step and evaluation functions, its clock and what it measured."""

    name: str
    step: object  # step(idx, lr) -> None
    evaluate: object  # evaluate() -> test accuracy
    seconds: float = 0.0
    accuracies: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)
    reached: tuple | None = None  # (seconds, epoch, accuracy) when the target was first reached

    def epoch(self, order, recipe, step0, total, target):
        start = time.perf_counter()
        for k, i in enumerate(range(0, len(order), recipe.batch_size)):
            self.step(order[i:i + recipe.batch_size], recipe.lr_at(step0 + k, total))
        acc = self.evaluate()
        took = time.perf_counter() - start
        self.seconds += took
        self.epoch_seconds.append(took)
        self.accuracies.append(acc)
        if self.reached is None and acc >= target:
            self.reached = (self.seconds, len(self.accuracies), acc)


def littlebook_side(model, data, recipe):
    X_train, y_train, X_test, y_test = data
    loss_fn = lb.CrossEntropyLoss()
    optimizer = lb.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum)

    def step(idx, lr):
        optimizer.lr = lr
        lb.train_step(model, loss_fn, optimizer, X_train[idx], y_train[idx])  # as fit: no gradient for the data

    def evaluate():
        return lb.accuracy(lb.predict(model, X_test, batch_size=EVAL_BATCH), y_test)

    return Side("littlebook", step, evaluate)


def torch_side(model, data, recipe):
    X_train, y_train, X_test, y_test = (torch.from_numpy(a) for a in data)
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum)

    def step(idx, lr):
        for group in optimizer.param_groups:
            group["lr"] = lr
        idx = torch.from_numpy(idx)
        optimizer.zero_grad()
        loss_fn(model(X_train[idx]), y_train[idx]).backward()
        optimizer.step()

    def evaluate():
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(X_test[i:i + EVAL_BATCH]).argmax(1) for i in range(0, len(X_test), EVAL_BATCH)])
        model.train()
        return float((pred == y_test).float().mean())

    return Side("PyTorch", step, evaluate)


def load(path: Path, flatten: bool):
    """load_mnist(path=...), scaled to [0, 1] and standardised with MNIST's usual mean and std, float32."""
    X_train, y_train, X_test, y_test = lb.load_mnist(path=path, progress=False)
    X_train, X_test = (((lb.scale_images(X, flatten=flatten) - np.float32(MEAN)) / np.float32(STD))
                       for X in (X_train, X_test))
    return X_train, y_train, X_test, y_test


def time_to_accuracy(recipe: Recipe, build, path: Path, budget: float | None = None) -> None:
    data = load(path, recipe.flatten)
    model = build()
    sides = [littlebook_side(model, data, recipe)]
    if torch is not None:
        sides.append(torch_side(torch_twin(model), data, recipe))  # twin first: it copies the initial weights
    n = len(data[0])
    steps_per_epoch = math.ceil(n / recipe.batch_size)
    total = recipe.epochs * steps_per_epoch
    for epoch in range(recipe.epochs):
        order = np.random.default_rng(epoch).permutation(n)  # the same batches for both sides
        for side in sides:
            side.epoch(order, recipe, epoch * steps_per_epoch, total, recipe.target)
        print("    epoch " + str(epoch + 1) + ": " + ", ".join(
            f"{side.name} {side.epoch_seconds[-1]:.1f} s, test {side.accuracies[-1]:.2%}" for side in sides),
            flush=True)
        if all(side.reached for side in sides):
            break
        if budget is not None and sum(side.seconds for side in sides) > budget:
            print(f"    stopped: the section's time budget of {budget:.0f} s is used up", flush=True)
            break

    target_text = f"≥ {recipe.target:.0%}"
    for side in sides:
        curve = " ".join(f"{a:.2%}" for a in side.accuracies)
        if side.reached:
            seconds, epochs, acc = side.reached
            print(row(f"{recipe.name}, {side.name}", f"{seconds:8.1f} s", "", "", f"{epochs} epochs",
                      f"test {acc:.2%} (per epoch: {curve})"))
        else:
            print(row(f"{recipe.name}, {side.name}", "not reached", "", "", f"{len(side.accuracies)} epochs",
                      f"test per epoch: {curve}"))
        record(f"MNIST {recipe.name}, {side.name}: test accuracy", f"{side.accuracies[-1]:.2%}" if not side.reached
               else f"{side.reached[2]:.2%}", target_text, side.reached is not None)
    if torch is None:
        record(f"MNIST {recipe.name}: time to {recipe.target:.0%}, littlebook / PyTorch", "torch missing",
               f"≤ {MAX_RATIO}×", None)
        return
    mine, ref = sides
    per_epoch = float(np.median(np.array(mine.epoch_seconds) / np.array(ref.epoch_seconds)))
    if mine.reached and ref.reached:
        r = mine.reached[0] / ref.reached[0]
        print(row(f"  time to {recipe.target:.0%}: littlebook / PyTorch", f"{mine.reached[0]:8.1f} s",
                  f"{ref.reached[0]:8.1f} s", f"{r:.2f}×", f"≤ {MAX_RATIO}×",
                  record(f"MNIST {recipe.name}: time to {recipe.target:.0%}, littlebook / PyTorch", f"{r:.2f}×",
                         f"≤ {MAX_RATIO}×", r <= MAX_RATIO)))
        gap = mine.reached[2] - ref.reached[2]
        print(row("  accuracy at the target: littlebook − PyTorch", f"{mine.reached[2]:.2%}", f"{ref.reached[2]:.2%}",
                  f"{gap * 100:+.2f} pt", f"≤ {MAX_ACC_GAP * 100:.1f} pt",
                  record(f"MNIST {recipe.name}: accuracy gap to PyTorch", f"{gap * 100:+.2f} pt",
                         f"|gap| ≤ {MAX_ACC_GAP * 100:.1f} pt", abs(gap) <= MAX_ACC_GAP)))
    else:
        record(f"MNIST {recipe.name}: time to {recipe.target:.0%}, littlebook / PyTorch", "target not reached",
               f"≤ {MAX_RATIO}×", False)
    common_epochs = min(len(mine.accuracies), len(ref.accuracies))
    final_gap = mine.accuracies[common_epochs - 1] - ref.accuracies[common_epochs - 1]
    print(row("  per epoch: median time, median ratio; gap",
              f"{np.median(mine.epoch_seconds):8.1f} s", f"{np.median(ref.epoch_seconds):8.1f} s", f"{per_epoch:.2f}×",
              "", f"epoch {common_epochs}: {final_gap * 100:+.2f} pt"))


def run(path: Path | None = None, only: str = "mlp,cnn", budget: float | None = None) -> None:
    """``budget``: seconds of training (both sides together) per recipe after which it stops, target or not."""
    path = Path(path) if path is not None else DEFAULT_PATH
    header(f"Time to test accuracy on real MNIST ({path}), littlebook vs PyTorch: same weights, batches, SGD")
    recipes = [(MLP, lb_mlp), (CNN, lb_cnn)]
    try:
        missing = [name for name in lb.data.MNIST_FILES if lb.data._find(path, name) is None]
    except AttributeError:  # an older littlebook without these helpers: let load_mnist say what is missing
        missing = [] if path.is_dir() else ["all files"]
    if missing:
        print(row(f"skipped: MNIST files not found in {path}", "", "", "", "", f"(missing: {', '.join(missing)})"))
        for recipe, _ in recipes:
            record(f"MNIST {recipe.name}: time to {recipe.target:.0%}, littlebook / PyTorch", "no MNIST files",
                   f"≤ {MAX_RATIO}×", None)
        return
    for recipe, build in recipes:
        if recipe is MLP and "mlp" not in only or recipe is CNN and "cnn" not in only:
            continue
        print(row(f"{recipe.name}: batch {recipe.batch_size}, SGD momentum {recipe.momentum}, lr {recipe.lr}, "
                  f"warm-up {recipe.warmup_steps} steps + cosine over {recipe.epochs} epochs"))
        time_to_accuracy(recipe, build, path, budget)

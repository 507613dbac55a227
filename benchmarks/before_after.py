"""What each dense-path optimisation gained: an older littlebook against this one, interleaved in one process.

    git archive 826c311 littlebook | tar -x -C /tmp/lb-before      # any older revision
    python -m benchmarks.before_after /tmp/lb-before/littlebook [--threads 1] [--rounds 15]

The older package is imported under the name ``littlebook_before``, so both run side by side and every ratio is
taken round by round (see ``benchmarks.common``). Cases: the MLP step of ``benchmarks.dense`` (with SGD and with
Adam), CrossEntropyLoss forward + backward on (256, 10) logits, ``Adam.step`` alone, and the first Linear's
backward with and without the input gradient.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import sys
from pathlib import Path

import numpy as np

import littlebook as after

from .common import interleaved, median, ratio

rng = np.random.default_rng(0)
X = rng.standard_normal((256, 784), dtype=np.float32)
Y = rng.integers(0, 10, 256)


def load_before(path: Path):
    spec = importlib.util.spec_from_file_location("littlebook_before", path / "__init__.py",
                                                  submodule_search_locations=[str(path)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["littlebook_before"] = module  # the package's relative imports look it up here
    spec.loader.exec_module(module)
    return module


def mlp_step(lib, optimizer="sgd", input_grad=False):
    model = lib.Sequential(lib.Linear(784, 256, rng=1), lib.ReLU(), lib.Linear(256, 256, rng=2), lib.ReLU(),
                           lib.Linear(256, 10, rng=3))
    # This littlebook skips the data's gradient by an argument, backward(g, input_grad=False); versions before
    # it by a flag on the model (needs_input_grad), and the oldest not at all. Each gets what it understands.
    explicit = "input_grad" in inspect.signature(model.backward).parameters
    if not explicit:
        model.needs_input_grad = input_grad
    loss_fn = lib.CrossEntropyLoss()
    opt = lib.SGD(model.parameters(), lr=0.01) if optimizer == "sgd" else lib.Adam(model.parameters(), lr=1e-4)

    def step():
        out = model(X)
        loss_fn(out, Y)
        opt.zero_grad()
        if explicit:
            model.backward(loss_fn.backward(), input_grad=input_grad)
        else:
            model.backward(loss_fn.backward())
        opt.step()

    return step, opt


def cross_entropy(lib):
    z, loss_fn = rng.standard_normal((256, 10), dtype=np.float32), lib.CrossEntropyLoss()

    def step():
        loss_fn(z, Y)
        loss_fn.backward()

    return step


def adam_step(lib):
    _, opt = mlp_step(lib, "adam")
    for p in opt.params:
        p.grad[...] = 0.01
    return opt.step


def linear_backward(input_grad: bool):
    layer = after.Linear(784, 256, rng=0)
    layer(X)
    g = rng.standard_normal((256, 256), dtype=np.float32)
    return lambda: layer.backward(g, input_grad=input_grad)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.before_after", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="directory of the older littlebook package")
    parser.add_argument("--threads", type=int, default=None, help="limit numpy's BLAS threads (threadpoolctl)")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads, user_api="blas")
    before = load_before(args.before)
    pairs = {  # name: (before case, after case)
        "MLP step, SGD": (mlp_step(before)[0], mlp_step(after)[0]),
        "MLP step, Adam": (mlp_step(before, "adam")[0], mlp_step(after, "adam")[0]),
        "CrossEntropyLoss fwd+bwd (256×10)": (cross_entropy(before), cross_entropy(after)),
        "Adam.step (MLP parameters)": (adam_step(before), adam_step(after)),
        "Linear 784→256 backward, ∂L/∂x skipped": (linear_backward(True), linear_backward(False)),
    }
    cases = {f"{name}|{side}": fn for name, fns in pairs.items() for side, fn in zip(("before", "after"), fns,
                                                                                    strict=True)}
    t = interleaved(cases, rounds=args.rounds)
    print(f"{'':<42}{'before':>12}{'after':>12}{'after/before':>14}")
    for name in pairs:
        b, a = t[f"{name}|before"], t[f"{name}|after"]
        print(f"{name:<42}{median(b) * 1e3:9.3f} ms{median(a) * 1e3:9.3f} ms{ratio(a, b):13.2f}×")


if __name__ == "__main__":
    main()

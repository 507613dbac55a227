"""End to end: seconds of ``littlebook.fit`` to a held-out accuracy on the 8×8 digits; nbval time of the chapters."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import littlebook as lb

from .common import header, record, row

ROOT = Path(__file__).resolve().parent.parent
MAX_EPOCHS = 60
NBVAL_SECONDS = 60  # issue 18: every chapter through nbval, one BLAS thread


def mlp():
    return lb.Sequential(lb.Linear(64, 256, rng=1), lb.ReLU(), lb.Linear(256, 256, rng=2), lb.ReLU(),
                         lb.Linear(256, 10, rng=3))


def cnn():
    from littlebook.conv import Conv2d, MaxPool2d
    from littlebook.norm import BatchNorm2d

    return lb.Sequential(Conv2d(1, 16, 3, padding=1, rng=1), BatchNorm2d(16), lb.ReLU(), MaxPool2d(2),   # 16×4×4
                         Conv2d(16, 32, 3, padding=1, rng=2), BatchNorm2d(32), lb.ReLU(), MaxPool2d(2),  # 32×2×2
                         lb.Flatten(), lb.Linear(32 * 2 * 2, 10, rng=3))


def time_to_accuracy(model, data, target: float, lr: float, batch_size: int = 32):
    """Train epoch by epoch (SGD, momentum 0.9) until the held-out accuracy reaches ``target``.

    Returns (seconds, epochs, accuracy); seconds count training and the per-epoch evaluation, not data loading.
    """
    X_train, X_test, y_train, y_test = data
    loss_fn = lb.CrossEntropyLoss()
    optimizer = lb.SGD(model.parameters(), lr=lr, momentum=0.9)
    start = time.perf_counter()
    acc = 0.0
    for epoch in range(1, MAX_EPOCHS + 1):
        lb.fit(model, loss_fn, optimizer, (X_train, y_train), epochs=1, batch_size=batch_size, rng=epoch,
               progress=False)
        acc = lb.accuracy(lb.predict(model, X_test), y_test)
        if acc >= target:
            break
    return time.perf_counter() - start, epoch, acc


def run_training() -> None:
    header("End to end: littlebook.fit on load_digits (1,797 8×8 digits, 20 % held out, stratified)")
    for name, build, flatten, target, lr in (("MLP 64-256-256-10", mlp, True, 0.97, 0.05),
                                             ("CNN (conv-BN-ReLU-pool)×2-linear", cnn, False, 0.985, 0.05)):
        try:
            model = build()
        except ImportError:
            print(row(name, "not available yet"))
            continue
        X, y = lb.load_digits(flatten=flatten)
        data = lb.train_test_split(X, y, test_size=0.2, rng=0, stratify=True)
        seconds, epochs, acc = time_to_accuracy(model, data, target, lr)
        reached = acc >= target
        print(row(f"{name} to ≥ {target:.1%}", f"{seconds:8.2f} s", "", "", f"{epochs} epochs",
                  f"held-out {acc:.2%}" + ("" if reached else f"  FAIL: not reached in {MAX_EPOCHS} epochs")))
        record(f"digits {name}: held-out accuracy", f"{acc:.2%}", f"≥ {target:.1%}", reached)


def run_notebooks(threads: int | None = None) -> None:
    """nbval over chapters/; ``threads`` sets OPENBLAS_NUM_THREADS and OMP_NUM_THREADS for the kernels it starts."""
    header("All chapters re-executed by nbval (subprocess, wall time; per chapter: sum of its cells' durations)"
           + (f", {threads} BLAS thread(s)" if threads else ""))
    env = dict(os.environ, **({"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
                              if threads else {}))
    cmd = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "--nbval-sanitize-with",
           "chapters/sanitize.cfg", "-p", "no:cacheprovider", "-q", "--durations=0", "--durations-min=0", "chapters"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    per_chapter: dict[str, float] = {}
    for line in lines:  # "1.23s call     chapters/03_training.ipynb::Cell 7"
        match = re.match(r"\s*([\d.]+)s\s+\w+\s+chapters/(\S+?\.ipynb)::", line)
        if match:
            per_chapter[match[2]] = per_chapter.get(match[2], 0.0) + float(match[1])
    summary = next((s.strip("= ") for s in reversed(lines) if re.search(r"\d+ (passed|failed|error)", s)), "no summary")
    ok = seconds < NBVAL_SECONDS and done.returncode == 0
    print(row(f"nbval, {len(per_chapter)} chapters", f"{seconds:8.1f} s", "", "", f"< {NBVAL_SECONDS} s",
              record(f"nbval, all {len(per_chapter)} chapters, {threads or 'default'} BLAS thread(s)"
                     + ("" if done.returncode == 0 else " (FAILED cells)"), f"{seconds:.1f} s",
                     f"< {NBVAL_SECONDS} s, all pass", ok)))
    for name, t in sorted(per_chapter.items()):
        print(row(f"  {name}", f"{t:8.1f} s"))
    print(f"  pytest: {summary}")
    if done.returncode != 0:
        failed = [s for s in lines if s.startswith(("FAILED", "ERROR"))] or lines[-15:]
        print("  nbval failed:\n" + "\n".join("    " + s for s in failed))

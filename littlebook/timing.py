"""Timing small computations fairly, for the chapters that measure speed (``timeit``-style).

``time_calls({"loop": f, "vectorized": g})`` runs the cases in interleaved rounds (f, g, f, g, …), each round
repeating a case for about ``seconds_per_round``, and returns each case's best (minimum) time per call:
the minimum is the run least disturbed by other programs, and interleaving exposes every case to the same
machine state. numpy's BLAS is limited to ``threads`` threads while timing (one by default): on a busy
machine a multi-threaded matrix product can wait for a free core far longer than it computes, and one
thread makes the numbers comparable from machine to machine.

``clock`` chooses what is measured: ``time.perf_counter`` (the default) is the wall clock, which also counts the
time the operating system gave the core to other programs; ``time.process_time`` is the processor time this
program used, which does not (chapter 2 times with it, the machine being shared).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable

__all__ = ["time_calls", "best_time"]


def _blas_threads(threads: int | None):
    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def time_calls(cases: dict[str, Callable[[], object]], rounds: int = 7, seconds_per_round: float = 0.005,
               threads: int | None = 1, clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Best seconds per call of each ``cases[name]()``, measured in ``rounds`` interleaved rounds.

    Each case is called once to warm up and to choose how many calls fill ``seconds_per_round``.
    ``threads``: BLAS threads while timing (None leaves numpy's setting alone). ``clock``: a function returning
    seconds, ``time.perf_counter`` (wall clock) or ``time.process_time`` (this program's processor time).
    """
    if rounds < 1 or not cases:
        raise ValueError(f"time_calls: need rounds >= 1 and at least one case, got rounds={rounds}, {len(cases)} cases")
    best = {name: float("inf") for name in cases}
    with _blas_threads(threads):
        calls = {}
        for name, fn in cases.items():
            start = time.perf_counter()  # the wall clock sets how long a round lasts, whatever clock measures
            fn()
            calls[name] = max(1, int(seconds_per_round / max(time.perf_counter() - start, 1e-9)))
        gc_was_enabled = gc.isenabled()
        gc.disable()  # as timeit does: a garbage collection would be charged to whichever case it hits
        try:
            for _ in range(rounds):
                for name, fn in cases.items():
                    start = clock()
                    for _ in range(calls[name]):
                        fn()
                    best[name] = min(best[name], (clock() - start) / calls[name])
        finally:
            if gc_was_enabled:
                gc.enable()
    return best


def best_time(fn: Callable[[], object], rounds: int = 7, seconds_per_round: float = 0.005,
              threads: int | None = 1, clock: Callable[[], float] = time.perf_counter) -> float:
    """Best seconds per call of ``fn()`` (see ``time_calls``)."""
    return time_calls({"fn": fn}, rounds, seconds_per_round, threads, clock)["fn"]

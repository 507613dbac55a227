"""Timing by interleaved rounds, the machine's description, and the table printer.

Timing: after a warm-up, each round runs every case in turn (the order rotates from round to round), each for a
batch of calls lasting about ``seconds_per_round``; a case's time is the MEDIAN over rounds of its mean call time.
A ratio A/B is the median over rounds of A's time in the round divided by B's time in the same round, so slow
phases caused by other processes on the machine hit both sides of a ratio alike.
"""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import time
from collections.abc import Callable

import numpy as np

try:
    import torch
except ImportError:  # torch is the optional "bench" extra
    torch = None


def interleaved(cases: dict[str, Callable[[], object]], rounds: int = 21, seconds_per_round: float = 0.1,
                warmup_seconds: float = 0.3, settle_seconds: float = 0.15) -> dict[str, np.ndarray]:
    """Per-round mean seconds per call of each case: {name: array of shape (rounds,)}.

    Before each case's timed batch the process sleeps ``settle_seconds`` (not timed): OpenBLAS's worker threads
    keep spinning for about 0.1 s after a call, torch's OpenMP threads for a shorter while, and on two cores the
    spinning threads of one library slow down the next case. Without the pause the order decided the result
    (measured on the MLP step: the case after numpy's GEMMs or after torch's ran up to 2× slower, every round,
    since the rotation keeps the cyclic order); with it each case starts on idle cores.
    """
    calls = {}
    for name, fn in cases.items():  # warm-up (caches, allocator, lazy init, thread pools) and calibration
        fn()
        n, start = 0, time.perf_counter()
        while n < 3 or time.perf_counter() - start < warmup_seconds:
            fn()
            n += 1
        per_call = (time.perf_counter() - start) / n
        calls[name] = max(1, round(seconds_per_round / per_call))
    names = list(cases)
    times = {name: np.empty(rounds) for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collection in the middle of one case would be charged to it
    try:
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                fn, n = cases[name], calls[name]
                time.sleep(settle_seconds)
                start = time.perf_counter()
                for _ in range(n):
                    fn()
                times[name][r] = (time.perf_counter() - start) / n
    finally:
        if gc_was_enabled:
            gc.enable()
    return times


# -- the allocator ---------------------------------------------------------------------------------------------------
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 << 20, 64 << 20  # where glibc's own adjustment ends up (64-bit maximum, 2×)


def steady_allocator() -> str:
    """Fix glibc's malloc thresholds at the values its dynamic adjustment reaches in a long training loop.

    glibc serves a large block with a fresh mmap, and gives heap memory back to the kernel when more than the trim
    threshold is free at its top; either way the next array of that size is new memory, and touching it costs one
    page fault per 4 KiB (about 2,000 per Conv2d 1→16 step at batch 64, 2–5 ms in a KVM guest). Each freed mmap
    block raises both thresholds (up to 32 MiB and 64 MiB), so how often a case faults depended on which cases ran
    before it in the process — for PyTorch's side as much as for littlebook's. Fixed at the end values, every case
    runs as it would in the steady state of a training run. Returns a description for the machine lines.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    except (OSError, AttributeError):
        ok = False
    if not ok:
        return "default (not glibc: thresholds not fixed)"
    return (f"glibc malloc, mmap threshold {MMAP_THRESHOLD >> 20} MiB and trim threshold {TRIM_THRESHOLD >> 20} MiB "
            "fixed (the steady state of a training loop; --allocator default to keep glibc's adjustment)")


# -- time taken from this VM by its host ----------------------------------------------------------------------------
def cpu_times() -> tuple[float, float] | None:
    """(total, steal) jiffies over all CPUs from /proc/stat; None where there is no /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [float(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0.0


def steal_since(start: tuple[float, float] | None) -> str:
    """Share of CPU time the hypervisor gave to other guests since ``start`` (``cpu_times()``), e.g. "steal 3.1 %".

    Two threads that meet at every GEMM wait for the slower one, so a few per cent of steal can slow a 2-thread
    case by much more; a section with a high figure should be rerun."""
    end = cpu_times()
    if start is None or end is None or end[0] <= start[0]:
        return "steal unknown"
    return f"steal {100 * (end[1] - start[1]) / (end[0] - start[0]):.1f} % of CPU time"


def median(t: np.ndarray) -> float:
    return float(np.median(t))


def ratio(a: np.ndarray, b: np.ndarray) -> float:
    """Median over rounds of a[r] / b[r] (both measured in the same round)."""
    return float(np.median(a / b))


# -- the machine -----------------------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numpy_blas() -> dict:
    """numpy's BLAS as threadpoolctl sees it: library, version, kernel (architecture) and thread count."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {}
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    mine = [i for i in blas if "numpy" in i.get("filepath", "")] or blas
    return mine[0] if mine else {}


def blas_threads() -> tuple[int, str]:
    """(thread count, where it came from): numpy's BLAS threads by threadpoolctl, else the CPU count."""
    info = numpy_blas()
    if info.get("num_threads"):
        return int(info["num_threads"]), "numpy's BLAS (threadpoolctl)"
    return os.cpu_count() or 1, "CPU count (threadpoolctl not installed)"


def describe_machine(threads: int, threads_from: str) -> list[str]:
    info = numpy_blas()
    blas = (f"{info.get('internal_api', '?')} {info.get('version', '?')}, kernel {info.get('architecture', '?')}"
            if info else "unknown (install threadpoolctl to see it)")
    env = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))
    lines = [
        f"CPU      {cpu_model()}, {os.cpu_count()} cores visible; Python {platform.python_version()}",
        f"numpy    {np.__version__}, BLAS {blas}; {env}",
        f"threads  {threads} (from {threads_from}), used by numpy's BLAS and given to torch.set_num_threads",
        f"torch    {torch.__version__ if torch is not None else 'not installed: pip install -e .[bench]'}",
        f"load     {load_average()} (other processes share these cores: ratios are robust to it, seconds are not)",
    ]
    if os.environ.get("OPENBLAS_CORETYPE") or os.environ.get("OPENBLAS_L2_SIZE"):
        lines.append("         note: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE force an OpenBLAS kernel and can slow numpy; "
                     "unset both in this command alone to measure the default kernel")
    return lines


def load_average() -> str:
    """The 1-minute load average, e.g. "1.02 on 2 cores"."""
    try:
        return f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    except OSError:
        return "unknown"


# -- output -----------------------------------------------------------------------------------------------------------
def ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# Every figure with a target, in the order measured, for the summary at the end: (figure, value, target, ok).
RESULTS: list[tuple[str, str, str, bool | None]] = []
# The figures that can be repeated in fresh processes (--repeat): {figure: {"number", "limit", "higher", "format",
# "target"}}, where the verdict is number >= limit if "higher" else number <= limit.
NUMBERS: dict[str, dict] = {}


def record(figure: str, value: str, target: str, ok: bool | None, number: float | None = None,
           limit: float | None = None, higher: bool = False, fmt: str = "{:.2f}×") -> str:
    """Remember a figure for the summary; returns its verdict text (PASS, FAIL, or "n/a" when ok is None).

    With ``number`` and ``limit`` the figure is also kept as a number, so that ``--repeat`` can take the median of
    several processes' values (``fmt`` formats it, e.g. "{:.0%}")."""
    RESULTS.append((figure, value, target, ok))
    if number is not None and limit is not None:
        NUMBERS[figure] = {"number": number, "limit": limit, "higher": higher, "format": fmt, "target": target}
    return "n/a" if ok is None else verdict(ok)


def summary() -> None:
    """The figures with a target, one line each, and how many pass."""
    print()
    print("Summary (issue 18 targets)")
    print("-" * 100)
    for figure, value, target, ok in RESULTS:
        print(f"{'n/a ' if ok is None else verdict(ok)}  {figure:<58}{value:>18}  target {target}")
    passed = sum(ok is True for *_, ok in RESULTS)
    failed = sum(ok is False for *_, ok in RESULTS)
    print(f"{passed} PASS, {failed} FAIL" + (f", {len(RESULTS) - passed - failed} not measured" if
                                              passed + failed < len(RESULTS) else ""))


def floor_verdict(floor: float, target: float) -> str:
    """What a floor (the time of numpy's matmuls alone, over PyTorch's time for the whole case) says of a target."""
    if floor > target:
        return "the target is below this floor: unreachable with numpy's BLAS"
    return f"the target leaves {target - floor:.2f}× for everything but the matmuls"


def row(name: str, littlebook: str = "", reference: str = "", ratio_text: str = "", target: str = "",
        result: str = "") -> str:
    return f"{name:<44}{littlebook:>14}{reference:>14}{ratio_text:>10}  {target:<10}{result}"


def header(title: str) -> None:
    print()
    print(title)
    print(row("", "littlebook", "reference", "ratio", "target"))
    print("-" * 100)

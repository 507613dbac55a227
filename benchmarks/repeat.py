"""The micro-benchmark sections in several fresh processes, judged on the median (``--repeat N``).

Why: on a 2-core VM the speed of a 2-thread GEMM moves between two levels from one second to the next (measured
2 December 2026: one 256×784·784×256 product 0.55 or 0.80 ms), and what a process's allocator and thread pools
start from differs between processes. The interleaved rounds keep both sides of a ratio in the same phase, but one
process's ratios still spread by about ±15 % between runs, enough to turn a figure near its target from PASS to
FAIL. Each repeat is a new ``python -m benchmarks --only SECTIONS`` process; the first one's tables are printed in
full, then every repeatable figure's value per process, the median and its verdict.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

from .common import record, verdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child_command(sections: list[str], rounds: int, threads: int | None, allocator: str, numbers: str) -> list[str]:
    cmd = [sys.executable, "-m", "benchmarks", "--only", ",".join(sections), "--rounds", str(rounds),
           "--allocator", allocator, "--numbers-json", numbers, "--repeat", "1"]
    return cmd + (["--threads", str(threads)] if threads else [])


def tables_of(stdout: str) -> str:
    """A child's output without its machine lines (the parent printed them) and its summary (the parent's own)."""
    lines = stdout.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.startswith("  malloc")), 0)
    end = next((i for i, line in enumerate(lines) if line.startswith("Summary (issue 18 targets)")), len(lines))
    return "\n".join(lines[start:end]).rstrip()


def run(sections: list[str], repeats: int, rounds: int, threads: int | None, allocator: str) -> None:
    """Run ``sections`` (dense, conv) in ``repeats`` fresh processes, one after the other; record the medians."""
    runs: list[dict] = []
    for i in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            numbers = os.path.join(tmp, "numbers.json")
            done = subprocess.run(child_command(sections, rounds, threads, allocator, numbers), cwd=ROOT,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stdout + done.stderr)
                raise SystemExit(f"repeat {i + 1} of {','.join(sections)} failed (exit code {done.returncode})")
            if i == 0:
                print(tables_of(done.stdout))
            with open(numbers) as f:
                runs.append(json.load(f))
    print()
    print(f"The figures above in {repeats} fresh processes, one after the other (verdict on the median)")
    print("-" * 100)
    for line in summarise(runs):
        print(line)


def summarise(runs: list[dict]) -> list[str]:
    """One line per figure of the first run: its value in every run, the median and the median's verdict; the
    medians are recorded for the summary."""
    lines = []
    for figure, first in runs[0].items():
        values = [r[figure]["number"] for r in runs if figure in r]
        middle = statistics.median(values)
        ok = middle >= first["limit"] if first["higher"] else middle <= first["limit"]
        shown = " ".join(first["format"].format(v) for v in values)
        text = first["format"].format(middle)
        lines.append(f"{verdict(ok)}  {figure:<56} {shown:>24}  median {text:>6}  target {first['target']}")
        record(f"{figure} (median of {len(values)})", text, first["target"], ok)
    return lines

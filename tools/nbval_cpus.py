"""Re-execute every chapter under nbval in several CPU configurations of this one machine; all must pass.

A committed output that only matches on the CPU that wrote it fails here, before a reader with another CPU
sees it (docs/contributing.md, "Portable outputs"). The configurations:

- ``native``      the machine's own OpenBLAS kernel and numpy SIMD paths, one BLAS thread (what ``make execute``
                  writes the outputs with);
- ``other-cpu``   another OpenBLAS kernel (``OPENBLAS_CORETYPE``) and numpy's dispatched SIMD paths switched off
                  (``NPY_DISABLE_CPU_FEATURES``): different summation orders in matmuls and reductions, as on an
                  older or newer CPU;
- ``two-threads`` two BLAS threads: matmuls split across threads.

Each configuration is probed first (threadpoolctl and numpy report what actually runs) and printed; one that
does not apply here (BLAS is not OpenBLAS, e.g. MKL or Accelerate; no SIMD path to switch off) is skipped with
the reason, never failed. Jobs (configuration × chapter) run in parallel, one per core; two-thread jobs after
the one-thread ones, one per two cores, so that no BLAS thread waits for a core.

    python tools/nbval_cpus.py [--configs native,other-cpu,two-threads] [chapters/NN_x.ipynb ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TWO_THREADS = {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
# What the kernel process will see: the BLAS library threadpoolctl finds once numpy is loaded, and numpy's SIMD.
PROBE = """
import json, numpy, threadpoolctl
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"blas": blas[0] if blas else None, "numpy": numpy.__version__,
                  "simd": [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]}))
"""


def probe(env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], env={**os.environ, **env}, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"probing {env} failed:\n{out.stderr}")
    return json.loads(out.stdout)


def describe(info: dict) -> str:
    blas = info["blas"]
    kernel = f"{blas['internal_api']} {blas['version']}, {blas.get('architecture')} kernel, " \
             f"{blas['num_threads']} thread(s)" if blas else "no BLAS found by threadpoolctl"
    return f"{kernel}; numpy {info['numpy']} SIMD dispatch: {' '.join(info['simd']) or 'baseline only'}"


def configurations(native: dict) -> list[tuple[str, dict[str, str] | None, str]]:
    """(name, environment or None if skipped, description or reason)."""
    configs = [("native", ONE_THREAD, "")]
    blas = native["blas"]
    if blas is None or blas["internal_api"] != "openblas":
        reason = f"BLAS is {blas['internal_api'] if blas else 'not detected'}, not OpenBLAS"
        return configs + [("other-cpu", None, f"skipped: {reason} (OPENBLAS_CORETYPE does not apply)"),
                          ("two-threads", TWO_THREADS, "")]
    # Any kernel the CPU can run that differs from the native one; Sandybridge (AVX) runs on every x86-64 CPU
    # since 2011, Nehalem (SSE4.2) on the rest. OPENBLAS_CORETYPE is ignored by builds without DYNAMIC_ARCH.
    kernel = "Nehalem" if blas.get("architecture") == "Sandybridge" else "Sandybridge"
    env = {**ONE_THREAD, "OPENBLAS_CORETYPE": kernel}
    if native["simd"]:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(native["simd"])
    got = probe(env)
    if got["blas"] is None or got["blas"].get("architecture") != kernel:
        configs.append(("other-cpu", None, f"skipped: OPENBLAS_CORETYPE={kernel} was ignored by this OpenBLAS "
                                           f"build (it reports {got['blas'] and got['blas'].get('architecture')})"))
    else:
        configs.append(("other-cpu", env, ""))
    configs.append(("two-threads", TWO_THREADS, ""))
    return configs


def run_chapter(name: str, env: dict[str, str], notebook: Path, logdir: Path) -> tuple[str, Path, int, float]:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "-q", "--nbval", "--nbval-current-env", "--nbval-cell-timeout=300",
           "--nbval-sanitize-with", str(ROOT / "chapters" / "sanitize.cfg"), "-p", "no:cacheprovider",
           str(notebook)]
    log = logdir / f"{name}-{notebook.stem}.log"
    with open(log, "w") as f:
        code = subprocess.run(cmd, env={**os.environ, **env}, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    return name, notebook, code, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--configs", default="native,other-cpu,two-threads")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    # Longest chapters first, so the parallel jobs end together.
    notebooks = sorted(notebooks, key=lambda nb: -nb.with_suffix(".py").stat().st_size)
    wanted = args.configs.split(",")
    native = probe(ONE_THREAD)
    jobs, skipped = [], []
    for name, env, note in configurations(native):
        if name not in wanted:
            continue
        if env is None:
            print(f"[{name}] {note}")
            skipped.append(name)
            continue
        extra = " ".join(f"{k}={v}" for k, v in env.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"))
        print(f"[{name}] {extra}\n    runs: {describe(probe(env))}")
        jobs += [(name, env, nb) for nb in notebooks]
    logdir = ROOT / "build" / "nbval-cpus"
    logdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # A two-thread job needs two cores to itself: run alongside another job on a 2-core machine, its BLAS threads
    # wait for each other (a chapter took 5x as long) and timing cells measure a loaded machine. So the jobs run in
    # groups by thread count, each group with as many at once as the cores hold.
    results = []
    for threads in sorted({int(env["OPENBLAS_NUM_THREADS"]) for _, env, _ in jobs}):
        group = [job for job in jobs if int(job[1]["OPENBLAS_NUM_THREADS"]) == threads]
        with ThreadPoolExecutor(max_workers=max(1, args.jobs // threads)) as pool:
            results += pool.map(lambda job: run_chapter(*job, logdir), group)
    failed = [(name, nb, log) for name, nb, code, _ in results
              if code != 0 for log in [logdir / f"{name}-{nb.stem}.log"]]
    for name, nb, code, seconds in sorted(results, key=lambda r: (r[0], r[1].name)):
        print(f"  {'PASS' if code == 0 else 'FAIL'}  {name:<11} {nb.name:<42} {seconds:5.1f} s")
    for name, nb, log in failed:
        print(f"\n===== {name}: {nb.name} failed; its log ({log.relative_to(ROOT)}) ends with:")
        print("\n".join(log.read_text().splitlines()[-60:]))
    ran = len({r[0] for r in results})
    print(f"\n{len(notebooks)} chapters × {ran} CPU configurations in {time.perf_counter() - start:.0f} s"
          + (f"; skipped here: {', '.join(skipped)}" if skipped else ""))
    print(f"nbval-cpus: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())

"""python -m benchmarks [--rounds R] [--only dense,conv,train,mnist,notebooks] [--repeat N] [--threads T]
                     [--mnist-threads T]

Every figure of issue 18 in one run, each with its target and PASS/FAIL, then a summary. Sections: the MLP step
(dense), the conv-side layers (conv), littlebook.fit on the 8×8 digits (train), time to accuracy on real MNIST
against PyTorch (mnist; skipped when the files are absent) and nbval over every chapter at one BLAS thread
(notebooks). The dense and conv figures are judged on the median of three fresh processes (``--repeat``): one
process's ratios spread by about ±15 % on a 2-core VM (see benchmarks/repeat.py).
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import nullcontext

from . import common, conv, dense, end_to_end, mnist, repeat

SECTIONS = "dense,conv,train,mnist,notebooks"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21, help="interleaved timing rounds per case (default 21)")
    parser.add_argument("--only", default=SECTIONS, help=f"comma-separated sections (default: all, {SECTIONS})")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit numpy's BLAS (threadpoolctl) and torch to this many threads (default: numpy's)")
    parser.add_argument("--mnist-threads", type=int, default=None,
                        help="threads for the MNIST section alone (default: as --threads)")
    parser.add_argument("--mnist-path", default=None,
                        help=f"folder with the four MNIST .gz files (default: {mnist.DEFAULT_PATH})")
    parser.add_argument("--mnist-only", default="mlp,cnn", help="MNIST recipes to run (default mlp,cnn)")
    parser.add_argument("--mnist-budget", type=float, default=None,
                        help="seconds of training per MNIST recipe, both sides together, before it stops "
                             "(default: no limit)")
    parser.add_argument("--notebook-threads", type=int, default=1,
                        help="OPENBLAS/OMP threads of the nbval kernels (default 1, as make test runs them)")
    parser.add_argument("--allocator", choices=("steady", "default"), default="steady",
                        help="steady (default): fix glibc's malloc thresholds at their training-loop values; "
                             "default: leave glibc's dynamic adjustment on (results then depend on case order)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="run the dense and conv sections in this many fresh processes and judge their figures "
                             "on the median (default 3; 1: once, in this process)")
    parser.add_argument("--numbers-json", default=None, help=argparse.SUPPRESS)  # used by --repeat's children
    parser.add_argument("--notebooks", action="store_true", help="kept for compatibility: notebooks run by default")
    args = parser.parse_args(argv)
    sections = set(args.only.split(","))
    if args.notebooks:
        sections.add("notebooks")

    from threadpoolctl import threadpool_limits

    if args.threads:
        threadpool_limits(args.threads, user_api="blas")
    allocator = common.steady_allocator() if args.allocator == "steady" else "glibc's default (dynamic thresholds)"
    threads, threads_from = common.blas_threads()
    if common.torch is not None:
        common.torch.set_num_threads(threads)
    print(f"littlebook benchmarks: medians of {args.rounds} interleaved rounds after a warm-up; "
          "ratio = median of per-round ratios")
    for line in common.describe_machine(threads, threads_from):
        print("  " + line)
    print(f"  malloc   {allocator}")
    start = time.perf_counter()
    micro = [name for name in ("dense", "conv") if name in sections]
    if micro and args.repeat > 1:
        repeat.run(micro, args.repeat, args.rounds, args.threads, args.allocator)
        sections -= set(micro)
    for name, section in (("dense", dense), ("conv", conv)):
        if name in sections:
            stolen = common.cpu_times()
            section.run(args.rounds)
            print(f"({name} section: {common.steal_since(stolen)})")
    if "train" in sections:
        end_to_end.run_training()
    if "mnist" in sections:
        limit = threadpool_limits(args.mnist_threads, user_api="blas") if args.mnist_threads else nullcontext()
        with limit:
            n = common.blas_threads()[0]
            if common.torch is not None:
                common.torch.set_num_threads(n)
            print(f"\n(MNIST section: {n} thread(s) for numpy's BLAS and torch; load {common.load_average()})")
            section_start, stolen = time.perf_counter(), common.cpu_times()
            mnist.run(args.mnist_path, args.mnist_only, args.mnist_budget)
            print(f"(MNIST section took {time.perf_counter() - section_start:.0f} s; {common.steal_since(stolen)})")
        if common.torch is not None:
            common.torch.set_num_threads(threads)
    if "notebooks" in sections:
        end_to_end.run_notebooks(args.notebook_threads)
    if args.numbers_json:
        with open(args.numbers_json, "w") as f:
            json.dump(common.NUMBERS, f)
    common.summary()
    print(f"\n(benchmarks took {time.perf_counter() - start:.0f} s; load average now {common.load_average()})")


if __name__ == "__main__":
    main()

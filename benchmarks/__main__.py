"""python -m benchmarks [--rounds R] [--only dense,conv,train] [--threads T] [--notebooks]"""

from __future__ import annotations

import argparse
import time

from . import common, conv, dense, end_to_end


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--rounds", type=int, default=21, help="interleaved timing rounds per case (default 21)")
    parser.add_argument("--only", default="dense,conv,train",
                        help="comma-separated sections among dense, conv, train (default: all three)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit numpy's BLAS (threadpoolctl), torch and the nbval kernels to this many threads")
    parser.add_argument("--notebooks", action="store_true", help="also time nbval over all chapters (slow)")
    args = parser.parse_args(argv)
    sections = set(args.only.split(","))

    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads, user_api="blas")
    threads, threads_from = common.blas_threads()
    if common.torch is not None:
        common.torch.set_num_threads(threads)
    print(f"littlebook benchmarks: medians of {args.rounds} interleaved rounds after a warm-up; "
          "ratio = median of per-round ratios")
    for line in common.describe_machine(threads, threads_from):
        print("  " + line)
    start = time.perf_counter()
    if "dense" in sections:
        dense.run(args.rounds)
    if "conv" in sections:
        conv.run(args.rounds)
    if "train" in sections:
        end_to_end.run_training()
    if args.notebooks:
        end_to_end.run_notebooks(args.threads)
    print(f"\n(benchmarks took {time.perf_counter() - start:.0f} s; load average now {common.load_average()})")


if __name__ == "__main__":
    main()

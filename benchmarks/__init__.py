"""Ratio benchmarks: littlebook vs PyTorch CPU and vs numpy's own GEMM, run as ``python -m benchmarks``.

Not part of the tests: timings depend on the machine and its load. What is compared is always measured in the same
process run, interleaved, and reported as medians (see ``benchmarks.common``). PyTorch is the optional ``bench``
extra; without it the littlebook figures are printed alone.
"""

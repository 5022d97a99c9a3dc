"""The fixed reference workload of the benchmark regression gate (bench/gate_compare.py).

A plain NumPy/BLAS loop timed in the same ``make bench`` run as every other benchmark: the gate
divides each benchmark's time by this one, so that a machine that is 3× slower (or 3× busier)
today moves both alike and the normalised figure stays put.  Do not change this workload without
refreshing the stored baseline (bench/baseline/benchmarks.json): the normalised figures of the
two runs would no longer be comparable.
"""
import os

import numpy as np

from common import bench_threads, thread_limits

#: the name bench/gate_compare.py looks for
REFERENCE = "test_gate_reference_numpy_blas"


def reference_workload(n: int = 256, repeats: int = 12) -> float:
    """Matrix products, an elementwise pass and a sort: the kinds of work galfast's kernels do."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n))
    b = rng.standard_normal((n, n))
    acc = 0.0
    for _ in range(repeats):
        c = a @ b
        acc += float(np.exp(-np.abs(c) / n).sum())
        acc += float(np.sort(c, axis=None)[n])
        a, b = b, c / np.sqrt(n)
    return acc


def test_gate_reference_numpy_blas(benchmark):
    with thread_limits(bench_threads()):
        value = benchmark.pedantic(reference_workload, rounds=7, warmup_rounds=1, iterations=1)
    assert np.isfinite(value)
    benchmark.extra_info["galfast_bench_scale"] = os.environ.get("GALFAST_BENCH_SCALE", "1")

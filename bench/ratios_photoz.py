"""Photo-z speed: galfast's KLLR against the lean per-object NumPy loop, in this one process.

    python bench/ratios_photoz.py          (or: python bench/ratios.py photoz)

Training set: the published protocol's 3,684 training galaxies (seed 0).  Targets: 100,000
galaxies (``$GALFAST_BENCH_TARGETS``, else scaled by ``$GALFAST_BENCH_SCALE``) drawn from the
catalogue's complete rows with 0.05 mag of noise added per band.  galfast =
``KLLRPhotoZ.predict_full`` end to end (pattern grouping, neighbour search, compiled kernel) with
$GALFAST_BENCH_THREADS threads (default 2); the baseline (the lean reference loop,
tests/redshift/reference.py) runs on a subset of targets and is quoted per object.  The machine
may be shared: the ratio is the number to quote, the absolute rates move with the load.

p(z) overhead: ``predict_full(target, pdf=True)`` (the mixture and its summaries: mode, median,
68/95 % intervals, odds) against ``predict_full(target)`` (z and z_err, what ``predict_table``
computes) at k = 50, interleaved in the same process, wall clock and CPU time (target ≤ 1.20).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from common import (bench_size, bench_threads, best_time, interleaved_best, jwst_protocol_split,
                    photoz_reference)

N_TARGETS = int(os.environ.get("GALFAST_BENCH_TARGETS", bench_size(100_000, 100)))


def setup(n_targets=N_TARGETS, seed=0):
    """(train mags, train z, target mags) for the benchmark."""
    phot, train, _ = jwst_protocol_split(0)
    mags = phot.mag()
    rng = np.random.default_rng(seed)
    target = mags[rng.integers(0, len(mags), n_targets)] + rng.normal(0, 0.05, (n_targets, mags.shape[1]))
    return mags[train], phot.z[train], target


def measure(k, threads, data=None, n_base=300, repeats=2):
    """Objects/s of galfast and of the NumPy loop at this k (same process, same data)."""
    from scipy.spatial import cKDTree

    from galfast.redshift import KLLRPhotoZ
    from galfast.redshift.patterns import kernel_module

    mt, zt, target = setup() if data is None else data
    n, n_base = len(target), min(n_base, len(target))
    est = KLLRPhotoZ(k=k, n_jobs=threads).fit(mt, zt)
    est.predict_full(target[:2000])  # warm the pattern cache and the thread pool
    best = best_time(lambda: est.predict_full(target), repeats)
    # CPU time per object on one thread (robust to other processes sharing the cores)
    est1 = KLLRPhotoZ(k=k, n_jobs=1).fit(mt, zt)
    est1.predict_full(target[:2000])
    sub = target[:20000]
    cpu1 = best_time(lambda: est1.predict_full(sub), repeats, clock=time.process_time) / len(sub)
    model = est.index_.model((1 << mt.shape[1]) - 1)
    F = model.features(target[:n_base])
    kllr_loop = photoz_reference().kllr_loop

    def baseline():
        kllr_loop(model.X, model.y, F, k, est.lam_, est.gamma_, center=True, z_min=0.0, tau=est.mode_window)

    t_base = best_time(baseline, 1) / n_base
    cpu_base = best_time(baseline, 1, clock=time.process_time) / n_base
    # split of galfast's time: neighbour search vs compiled kernel
    Fall = model.features(target)
    t0 = time.perf_counter()
    idx = model.neighbours(Fall, k, threads)
    t_query = time.perf_counter() - t0
    tree = cKDTree(model.X)
    t_kdtree = best_time(lambda: tree.query(Fall, k=k, workers=threads), 1)
    kllr_predict = kernel_module().kllr_predict
    t_kernel = best_time(lambda: kllr_predict(model.X, model.y, Fall, idx, k, est.lam_, est.gamma_, 3.0,
                                              True, 0.0, est.mode_window, threads), 1)
    return {"k": k, "threads": threads, "galfast_obj_s": n / best, "baseline_obj_s": 1 / t_base,
            "ratio": t_base * n / best, "query_us": 1e6 * t_query / n,
            "kdtree_us": 1e6 * t_kdtree / n, "kernel_us": 1e6 * t_kernel / n,
            "baseline_ms": 1e3 * t_base, "cpu_us": 1e6 * cpu1, "cpu_base_us": 1e6 * cpu_base,
            "cpu_ratio": cpu_base / cpu1}


def pdf_overhead(k=50, threads=2, data=None, rounds=3):
    """Time with p(z) / time without (wall and CPU), same estimator, same targets, interleaved."""
    from galfast.redshift import KLLRPhotoZ

    mt, zt, target = setup() if data is None else data
    est = KLLRPhotoZ(k=k, n_jobs=threads).fit(mt, zt)
    est.predict_full(target[:2000], pdf=True)
    runs = {"point": lambda: est.predict_full(target), "pdf": lambda: est.predict_full(target, pdf=True)}
    wall = interleaved_best(runs, rounds)
    cpu = interleaved_best(runs, rounds, clock=time.process_time)
    return {"k": k, "threads": threads, "n": len(target), "wall_point_s": wall["point"],
            "wall_pdf_s": wall["pdf"], "wall_ratio": wall["pdf"] / wall["point"],
            "cpu_ratio": cpu["pdf"] / cpu["point"], "cpu_point_us": 1e6 * cpu["point"] / len(target),
            "cpu_pdf_us": 1e6 * cpu["pdf"] / len(target)}


def main():
    threads = bench_threads()
    data = setup()
    o = pdf_overhead(50, threads, data)
    print(f"p(z) overhead at k=50 ({o['n']:,} targets, {threads} threads): predict_full with pdf=True / "
          f"without = {o['wall_ratio']:.3f} (wall), {o['cpu_ratio']:.3f} (CPU: {o['cpu_pdf_us']:.1f} vs "
          f"{o['cpu_point_us']:.1f} µs/object); target ≤ 1.20")
    print(f"photo-z KLLR, {len(data[2]):,} targets, {len(data[1]):,} training galaxies, "
          f"{data[0].shape[1]} bands, {threads} threads")
    for k in (50, 10):
        r = measure(k, threads, data)
        print(f"k={k:3d}: galfast {r['galfast_obj_s']:10,.0f} obj/s | NumPy loop {r['baseline_obj_s']:7,.0f} obj/s "
              f"({r['baseline_ms']:.2f} ms/obj) | ratio {r['ratio']:6.1f}x | "
              f"neighbour search {r['query_us']:.1f} µs/obj (scipy cKDTree {r['kdtree_us']:.1f}), "
              f"kernel {r['kernel_us']:.1f} µs/obj (wall)")
        print(f"        CPU time per object, one thread: galfast {r['cpu_us']:.1f} µs, NumPy loop "
              f"{r['cpu_base_us']:.0f} µs → {r['cpu_ratio']:.1f}x per core")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()

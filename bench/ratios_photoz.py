"""Photo-z speed: galfast's KLLR against the lean per-object NumPy loop, in this one process.

    python bench/ratios_photoz.py          (or: python bench/ratios.py photoz)

Training set: the published protocol's 3,684 training galaxies (seed 0).  Targets: 100,000
galaxies drawn from the catalogue's complete rows with 0.05 mag of noise added per band.
galfast = ``KLLRPhotoZ.predict_full`` end to end (pattern grouping, neighbour search, compiled
kernel) with $GALFAST_BENCH_THREADS threads (default 2); the baseline (the lean reference loop,
tests/redshift/reference.py) runs on a subset of targets and is quoted per object.  The machine
may be shared: the ratio is the number to quote, the absolute rates move with the load.
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N_TARGETS = int(os.environ.get("GALFAST_BENCH_TARGETS", 100_000))


def _baseline():
    """The lean per-object NumPy loop (tests/redshift/reference.py)."""
    if str(HERE.parent / "tests") not in sys.path:
        sys.path.insert(0, str(HERE.parent / "tests"))
    from redshift import reference

    return reference


def setup(n_targets=N_TARGETS, seed=0):
    """(train mags, train z, target mags) for the benchmark."""
    from galfast.datasets import jwst_specz_protocol, load_jwst_specz, stratified_split

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        phot = load_jwst_specz()   # galfast.datasets.jwst_specz_path(): bundled, or $GALFAST_SHARED
    p, _ = jwst_specz_protocol(phot)
    mags, z = p.mag(), p.z
    tr, _ = stratified_split(z, seed=0)
    rng = np.random.default_rng(seed)
    target = mags[rng.integers(0, len(mags), n_targets)] + rng.normal(0, 0.05, (n_targets, mags.shape[1]))
    return mags[tr], z[tr], target


def measure(k, threads, n_base=300, repeats=2):
    """Objects/s of galfast and of the NumPy loop at this k (same process, same data)."""
    from galfast.redshift import KLLRPhotoZ

    base = _baseline()
    mt, zt, target = setup()
    est = KLLRPhotoZ(k=k, n_jobs=threads).fit(mt, zt)
    est.predict_full(target[:2000])  # warm the pattern cache and the thread pool
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        est.predict_full(target)
        best = min(best, time.perf_counter() - t0)
    # CPU time per object on one thread (robust to other processes sharing the cores)
    est1 = KLLRPhotoZ(k=k, n_jobs=1).fit(mt, zt)
    est1.predict_full(target[:2000])
    sub = target[:20000]
    cpu1 = np.inf
    for _ in range(repeats):
        c0 = time.process_time()
        est1.predict_full(sub)
        cpu1 = min(cpu1, (time.process_time() - c0) / len(sub))
    model = est.index_.model((1 << mt.shape[1]) - 1)
    F = model.features(target[:n_base])
    t0, c0 = time.perf_counter(), time.process_time()
    base.kllr_loop(model.X, model.y, F, k, est.lam_, est.gamma_, center=True, z_min=0.0,
                   tau=est.mode_window)
    t_base = (time.perf_counter() - t0) / n_base
    cpu_base = (time.process_time() - c0) / n_base
    # split of galfast's time: neighbour search vs compiled kernel
    Fall = model.features(target)
    t0 = time.perf_counter()
    idx = model.neighbours(Fall, k, threads)
    t_query = time.perf_counter() - t0
    from scipy.spatial import cKDTree

    tree = cKDTree(model.X)
    t0 = time.perf_counter()
    tree.query(Fall, k=k, workers=threads)
    t_kdtree = time.perf_counter() - t0
    from galfast.redshift.patterns import kernel_module

    kllr_predict = kernel_module().kllr_predict

    t0 = time.perf_counter()
    kllr_predict(model.X, model.y, Fall, idx, k, est.lam_, est.gamma_, 3.0, True, 0.0,
                 est.mode_window, threads)
    t_kernel = time.perf_counter() - t0
    n = len(target)
    return {"k": k, "threads": threads, "galfast_obj_s": n / best, "baseline_obj_s": 1 / t_base,
            "ratio": t_base * n / best, "query_us": 1e6 * t_query / n,
            "kdtree_us": 1e6 * t_kdtree / n, "kernel_us": 1e6 * t_kernel / n,
            "baseline_ms": 1e3 * t_base, "cpu_us": 1e6 * cpu1, "cpu_base_us": 1e6 * cpu_base,
            "cpu_ratio": cpu_base / cpu1}


def main():
    threads = int(os.environ.get("GALFAST_BENCH_THREADS", 2))
    print(f"photo-z KLLR, {N_TARGETS:,} targets, 3,684 training galaxies, 11 bands, {threads} threads")
    for k in (50, 10):
        r = measure(k, threads)
        print(f"k={k:3d}: galfast {r['galfast_obj_s']:10,.0f} obj/s | NumPy loop {r['baseline_obj_s']:7,.0f} obj/s "
              f"({r['baseline_ms']:.2f} ms/obj) | ratio {r['ratio']:6.1f}x | "
              f"neighbour search {r['query_us']:.1f} µs/obj (scipy cKDTree {r['kdtree_us']:.1f}), "
              f"kernel {r['kernel_us']:.1f} µs/obj (wall)")
        print(f"        CPU time per object, one thread: galfast {r['cpu_us']:.1f} µs, NumPy loop "
              f"{r['cpu_base_us']:.0f} µs → {r['cpu_ratio']:.1f}x per core")


if __name__ == "__main__":
    main()

"""Simulator throughput: galfast against a plain loop over ``bagpipes.model_galaxy(...).update``.

All in this one process, same galaxies (drawn from the default ``Priors``), same 11 JWST+HST
bands.  Prints models per second and ratios:

* baseline: one bagpipes ``model_galaxy`` built once, then ``update(model_components)`` and
  ``.photometry`` per galaxy (single process — what a user's simulation loop costs);
* galfast forward model alone (noiseless photometry + truths, 1 process, 1 BLAS thread);
* ``galfast.sim.simulate`` end to end (priors, forward model, noise, table) with 1 and
  ``$GALFAST_BENCH_THREADS`` (default 2) processes.

    python bench/ratios_sim.py            # or: python bench/ratios.py sim
"""
from __future__ import annotations

import argparse
import contextlib
import io
import tempfile

import numpy as np

from common import bench_size, bench_threads, cores, interleaved_best, print_ratio_table, thread_limits


def main(n_base: int | None = None, n_fast: int | None = None, n_sim: int | None = None, rounds: int = 3) -> dict:
    """Defaults: 300 baseline models, 16,384 and 65,536 galfast ones, times ``$GALFAST_BENCH_SCALE``;
    the multi-process run uses ``$GALFAST_BENCH_THREADS`` (default 2) processes."""
    from galfast.bands import JWST_HST_BANDS
    from galfast.sim import Priors, simulate
    from galfast.sim.forward import (_cached_model, _kernel, bagpipes_components, import_bagpipes,
                                     write_filter_files)

    n_base = bench_size(300, 10) if n_base is None else n_base
    n_fast = bench_size(16384, 64) if n_fast is None else n_fast
    n_sim = bench_size(65536, 256) if n_sim is None else n_sim
    procs = bench_threads()
    pipes = import_bagpipes()
    bands = tuple(JWST_HST_BANDS)
    fm = _cached_model(bands, "delayed_tau")
    rng = np.random.default_rng(0)
    params = Priors().sample(n_fast, rng, fm.age_of_universe)
    params["massformed"] = fm.evaluate(params)["massformed"]
    del params["log_mstar"]

    with tempfile.TemporaryDirectory() as tmp:
        files = write_filter_files(bands, tmp)
        with contextlib.redirect_stdout(io.StringIO()):
            mg = pipes.model_galaxy(bagpipes_components(params, 0, "delayed_tau"), filt_list=files,
                                    phot_units="mujy")
    comps = [bagpipes_components(params, i, "delayed_tau") for i in range(n_base)]

    def baseline():
        for mc in comps:
            mg.update(mc)
            mg.photometry

    def one_thread(fn):
        def run():
            with thread_limits(1):
                fn()
        return run

    # interleaved rounds (the machine's load drifts), best time of each
    best = interleaved_best({
        "base": one_thread(baseline),
        "fwd": one_thread(lambda: fm.evaluate(params)),
        "sim1": one_thread(lambda: simulate(n_fast, bands, seed=1, progress=False, n_jobs=1)),
        "sim2": lambda: simulate(n_sim, bands, seed=1, progress=False, n_jobs=procs,
                                 chunk_rows=min(8192, max(1, n_sim // procs))),
    }, rounds)
    rates = {"bagpipes model_galaxy.update loop (1 process)": n_base / best["base"],
             "galfast forward model   (1 process)": n_fast / best["fwd"],
             "galfast simulate        (1 process)": n_fast / best["sim1"],
             f"galfast simulate        ({procs} processes)": n_sim / best["sim2"]}
    backend = "compiled" if _kernel() is not None else "numpy"
    base_label = next(iter(rates))
    print_ratio_table(f"simulator, 11 JWST+HST bands, delayed-tau, {cores()} cores, kernel: {backend} "
                      f"(baseline {1e3 * best['base'] / n_base:.2f} ms/model)",
                      rates, base_label, unit="models/s")
    sim2 = n_sim / best["sim2"]
    print(f"  10^6 rows with {procs} processes: ~{1e6 / sim2 / 60:.1f} min")
    base, fwd, sim1 = (n_base / best["base"], n_fast / best["fwd"], n_fast / best["sim1"])
    return {"baseline": base, "forward": fwd, "simulate_1": sim1, "simulate_2": sim2}


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()

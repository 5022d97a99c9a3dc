"""Simulator throughput: galfast against a plain loop over ``bagpipes.model_galaxy(...).update``.

All in this one process, same galaxies (drawn from the default ``Priors``), same 11 JWST+HST
bands.  Prints models per second and ratios:

* baseline: one bagpipes ``model_galaxy`` built once, then ``update(model_components)`` and
  ``.photometry`` per galaxy (single process — what a user's simulation loop costs);
* galfast forward model alone (noiseless photometry + truths, 1 process, 1 BLAS thread);
* ``galfast.sim.simulate`` end to end (priors, forward model, noise, table) with 1 and 2 processes.

    python bench/ratios_sim.py            # or: python bench/ratios.py sim
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time

import numpy as np


def _time(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(n_base: int = 300, n_fast: int = 16384, n_sim: int = 65536, rounds: int = 3) -> dict:
    from threadpoolctl import threadpool_limits

    from galfast.bands import JWST_HST_BANDS
    from galfast.sim import Priors, simulate
    from galfast.sim.forward import (_cached_model, _kernel, bagpipes_components, import_bagpipes,
                                     write_filter_files)

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

    # interleaved rounds (the machine's load drifts), best time of each
    best = {"base": np.inf, "fwd": np.inf, "sim1": np.inf, "sim2": np.inf}
    for _ in range(rounds):
        with threadpool_limits(1):
            best["base"] = min(best["base"], _time(baseline))
            best["fwd"] = min(best["fwd"], _time(lambda: fm.evaluate(params)))
            best["sim1"] = min(best["sim1"], _time(
                lambda: simulate(n_fast, bands, seed=1, progress=False, n_jobs=1)))
        best["sim2"] = min(best["sim2"], _time(
            lambda: simulate(n_sim, bands, seed=1, progress=False, n_jobs=2, chunk_rows=8192)))
    base, fwd = n_base / best["base"], n_fast / best["fwd"]
    sim1, sim2 = n_fast / best["sim1"], n_sim / best["sim2"]
    backend = "compiled" if _kernel() is not None else "numpy"
    print(f"simulator, 11 JWST+HST bands, delayed-tau, {os.cpu_count()} cores, kernel: {backend}")
    print(f"  bagpipes model_galaxy.update loop (1 process): {base:10.0f} models/s "
          f"({1e3 / base:.2f} ms/model)")
    print(f"  galfast forward model   (1 process)          : {fwd:10.0f} models/s   ratio {fwd / base:6.1f}x")
    print(f"  galfast simulate        (1 process)          : {sim1:10.0f} models/s   ratio {sim1 / base:6.1f}x")
    print(f"  galfast simulate        (2 processes)        : {sim2:10.0f} models/s   ratio {sim2 / base:6.1f}x")
    print(f"  10^6 rows with 2 processes: ~{1e6 / sim2 / 60:.1f} min")
    return {"baseline": base, "forward": fwd, "simulate_1": sim1, "simulate_2": sim2}


if __name__ == "__main__":
    main()

"""Posteriors for every row of a catalogue: one summary row per input row, every posterior diagnosed.

    fitter = PosteriorFitter(likelihood)                 # chains, tuning, retry, workers, …
    table = fitter.predict_table(phot)                   # one row per input row, ids kept
    table = galfast.posterior.fit(phot, likelihood)      # the same in one call
    galfast.stream.stream(fitter, "survey.parquet", "posteriors.parquet")   # chunked, resumable

Per parameter p of the likelihood: ``p_median``, ``p_p16``/``p_p84`` (68 % interval),
``p_p2_5``/``p_p97_5`` (95 %) and ``p_map`` (the draw of highest log posterior density); then the
diagnostics (Vehtari et al. 2021) ``rhat`` (the largest over parameters), ``ess_bulk``/``ess_tail``
(the smallest), ``divergences``, ``retried`` (the object was sampled a second time), ``chi2_map``
and ``n_bands_used``, the wall ``seconds`` and ``flags`` (:mod:`galfast.flags`):

* an object whose diagnostics fail (R-hat > 1.01, an ESS < 400, or a divergence) is sampled
  again with ``retry_tune`` tuning steps, target acceptance ``retry_target_accept`` and nutpie's
  low-rank mass-matrix adaptation; if it still fails its row is kept, summarised, and flagged
  ``not_converged`` — never silently summarised as if it had passed;
* no observed band → ``no_estimate`` + ``too_few_bands`` (values NaN, nothing sampled);
* z fixed (``z=`` given) but missing or ≤ 0 in a row → ``no_estimate`` + ``no_redshift``;
* some bands not observed → ``missing_bands`` (they are marginalised exactly);
* the best draw still misfits the observed fluxes, P(χ² ≥ χ²_map | n_bands_used) < 10⁻⁶ →
  ``extrapolation``: the fluxes are outside what the trained likelihood describes.

Each object gets its own seed from ``random_state`` and its id (CRC-32 of the id string): results
do not depend on chunking, row order or the number of worker processes.  ``n_jobs`` worker
processes each compile one model (once) and sample objects with ``cores_per_worker`` chain
threads; BLAS is held to one thread per chain (oversubscribed OpenBLAS made nutpie 3–4× slower
on 2 cores).  With ``draws_dir`` each object's ArviZ InferenceData is written as NetCDF
(``<draws_dir>/<id>.nc``).
"""
from __future__ import annotations

import os
import time
import zlib
from pathlib import Path

import numpy as np

from .. import flags
from ..photometry import Photometry
from ..validation import ParameterError, effective_n_jobs, seed_from

__all__ = ["PosteriorFitter", "fit", "SUMMARY_QUANTILES", "EXTRAPOLATION_PVALUE"]

#: quantile columns of every parameter: suffix → probability
SUMMARY_QUANTILES = {"median": 0.5, "p16": 0.15865525393145707, "p84": 0.8413447460685429,
                     "p2_5": 0.025, "p97_5": 0.975}
#: χ² survival probability at the best draw below which a row is flagged ``extrapolation``
EXTRAPOLATION_PVALUE = 1e-6
#: the bits this model can set
FLAG_BITS = (flags.EXTRAPOLATION, flags.NO_ESTIMATE, flags.MISSING_BANDS, flags.TOO_FEW_BANDS,
             flags.NO_REDSHIFT, flags.NOT_CONVERGED)


class PosteriorFitter:
    """Sample the posterior of every row of a catalogue with one compiled model per process.

    likelihood : a fitted :class:`~galfast.posterior.NeuralLikelihood`
    z : None — z is a free parameter (or not one at all); ``"column"`` — fixed per row from the
        photometry's redshift (``Photometry.z``, e.g. a spec-z read with ``z_column``)
    prior, priors : as :func:`~galfast.posterior.to_pymc` (default the training prior: the
        simulator's, against which the posteriors are calibrated)
    chains, tune, draws : NUTS settings (default 4 × (1000 + 1000))
    retry_tune, retry_target_accept : the second run of an object that failed its diagnostics
        (``retry_tune=0``: no second run)
    n_jobs : worker processes (None = 1: sample in this process; −1 = one per core)
    cores_per_worker : chain threads per process (default: the cores divided among the workers)
    random_state : int or None (the base seed of every object)
    draws_dir : write each object's InferenceData there (NetCDF, ``<id>.nc``)
    progress : a progress bar over objects
    fused : the fused Numba likelihood Op (default) or the native PyTensor network graph
    sampler : a compiled :class:`~galfast.posterior.PosteriorSampler` of this likelihood to use in
        this process (instead of compiling one)
    backend : "nutpie" (default: one object at a time, compiled Numba NUTS) or "blackjax" (the
        objects of a chunk at once, vmapped over objects × chains: :mod:`galfast.posterior.batched`,
        the GPU path; training prior only)
    batch_size : objects per blackjax call (batches are padded to it: one XLA compile)
    """

    MODEL_KIND = "galfast.PosteriorFitter"

    def __init__(self, likelihood, *, z=None, prior="training", priors=None, chains=4, tune=1000, draws=1000,
                 retry_tune=3000, retry_target_accept=0.95, n_jobs=None, cores_per_worker=None,
                 random_state=0, draws_dir=None, progress=True, fused=True, column_map=None,
                 id_column="auto", sampler=None, backend="nutpie", batch_size=32):
        likelihood._check_fitted()
        if z not in (None, "column"):
            raise ParameterError(f"z must be None (free) or 'column' (fixed from the photometry's z), not {z!r}")
        if z == "column" and "z" not in likelihood.parameters_:
            raise ParameterError(f"z='column' but z is not a parameter of this likelihood {likelihood.parameters_}")
        for name, v, lo in (("chains", chains, 1), ("tune", tune, 1), ("draws", draws, 1), ("retry_tune", retry_tune, 0)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ParameterError(f"{name} must be an int ≥ {lo}, not {v!r}")
        if not 0.5 <= float(retry_target_accept) < 1.0:
            raise ParameterError(f"retry_target_accept must be in [0.5, 1), not {retry_target_accept!r}")
        self.likelihood = likelihood
        self.z = z
        self.prior = prior
        self.priors = priors
        self.chains, self.tune, self.draws = int(chains), int(tune), int(draws)
        self.retry_tune, self.retry_target_accept = int(retry_tune), float(retry_target_accept)
        self.n_workers = effective_n_jobs(n_jobs)
        self.cores_per_worker = (max(1, (os.cpu_count() or 1) // self.n_workers) if cores_per_worker is None
                                 else int(cores_per_worker))
        self.random_state = random_state
        self.draws_dir = None if draws_dir is None else Path(draws_dir)
        self.progress = bool(progress)
        self.fused = bool(fused)
        self.column_map = column_map
        self.id_column = id_column
        if backend not in ("nutpie", "blackjax"):
            raise ParameterError(f"backend must be 'nutpie' or 'blackjax', not {backend!r}")
        if backend == "blackjax" and (prior != "training" or priors):
            raise ParameterError("the blackjax backend samples with the training prior only")
        self.backend = backend
        self.batch_size = int(batch_size)
        self.bands_ = tuple(likelihood.bands_)
        if sampler is not None and (sampler.likelihood is not likelihood or sampler.fixed_z != (z == "column")):
            raise ParameterError("sampler was compiled for another likelihood or another z mode")
        self._sampler = sampler
        self._pool = None

    # ------------------------------------------------------------------ the streaming contract
    def to_photometry(self, data, *, row_offset: int = 0) -> Photometry:
        """The Photometry of a table chunk (the likelihood's bands; z read when z='column')."""
        if isinstance(data, Photometry):
            return data
        z_column = None
        if self.z == "column":
            z_column = "z" if "z" in data.colnames else None
            if z_column is None:
                raise ParameterError("z='column' but the catalogue has no 'z' column; read it into a "
                                     "Photometry with z_column=… first")
        return Photometry.from_table(data, self.bands_, column_map=self.column_map, id_column=self.id_column,
                                     z_column=z_column, row_offset=row_offset)

    def _settings(self) -> dict:
        return {"chains": self.chains, "tune": self.tune, "draws": self.draws, "retry_tune": self.retry_tune,
                "retry_target_accept": self.retry_target_accept, "z": self.z, "prior": self.prior, "fused": self.fused,
                "backend": self.backend,
                "random_state": self.random_state}

    def predict_table(self, phot: Photometry):
        """One row per row of ``phot`` (in order, ids kept): posterior summaries, diagnostics,
        flags (see the module docstring)."""
        from astropy.table import Table

        phot = self.to_photometry(phot)
        flux, err, obs = self.likelihood._arrays(phot)
        n, nb = flux.shape
        base = seed_from(self.random_state)
        zval = None
        if self.z == "column":
            zval = np.full(n, np.nan) if phot.z is None else np.asarray(phot.z, dtype=np.float64)
        jobs, results = [], [None] * n
        row_flags = np.zeros(n, dtype=flags.DTYPE)
        n_used = obs.sum(axis=1)
        row_flags[n_used < nb] |= flags.MISSING_BANDS
        for i in range(n):
            if n_used[i] == 0:
                row_flags[i] |= flags.NO_ESTIMATE | flags.TOO_FEW_BANDS
                continue
            if zval is not None and not (np.isfinite(zval[i]) and zval[i] > 0):
                row_flags[i] |= flags.NO_ESTIMATE | flags.NO_REDSHIFT
                continue
            jobs.append((i, flux[i], err[i], obs[i], None if zval is None else float(zval[i]),
                         (base + zlib.crc32(str(phot.ids[i]).encode())) % (2**32), str(phot.ids[i])))
        for i, res in self._run(jobs):
            results[i] = res
        params = list(self.likelihood.parameters_)
        sampled = [p for p in params if not (p == "z" and self.z == "column")]
        cols = {"id": np.asarray(phot.ids)}
        for p in sampled:
            for suffix in (*SUMMARY_QUANTILES, "map"):
                cols[f"{p}_{suffix}"] = np.array([np.nan if r is None else r["summary"][p][suffix] for r in results])
        for key, fill, dtype in (("rhat", np.nan, float), ("ess_bulk", np.nan, float), ("ess_tail", np.nan, float),
                                 ("divergences", -1, np.int64), ("retried", False, bool), ("chi2_map", np.nan, float),
                                 ("seconds", 0.0, float)):
            cols[key] = np.array([fill if r is None else r[key] for r in results], dtype=dtype)
        cols["n_bands_used"] = n_used.astype(np.int64)
        for i, r in enumerate(results):
            if r is not None:
                row_flags[i] |= r["flags"]
        cols[flags.COLUMN] = row_flags
        table = Table(cols)
        table[flags.COLUMN].description = flags.column_description(FLAG_BITS)
        table["rhat"].description = "largest rank-normalised split R-hat over the parameters"
        table["chi2_map"].description = "χ² of the observed fluxes at the highest-density draw"
        table.meta["galfast_model"] = self.MODEL_KIND
        table.meta["galfast_likelihood"] = self.likelihood.MODEL_KIND
        table.meta["galfast_posterior_settings"] = self._settings()
        return table

    # ------------------------------------------------------------------ sampling
    def _run(self, jobs):
        """Yield (row, result) for every job, in this process or the worker pool."""
        bar = None
        if self.progress and jobs:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(jobs), desc="posterior", unit="obj")
        try:
            if self.backend == "blackjax" and jobs:
                for row, res in _batch_jobs(self.likelihood, jobs, self._job_settings(), self.z == "column",
                                            self.batch_size):
                    yield row, res
                    if bar is not None:
                        bar.update()
            elif not jobs:
                return
            elif self.n_workers == 1 or len(jobs) <= 1:
                sampler = self._local_sampler()
                for job in jobs:
                    yield job[0], _sample_job(sampler, job, self._job_settings())
                    if bar is not None:
                        bar.update()
            else:
                pool = self._worker_pool()
                futures = [pool.submit(_worker_sample, job) for job in jobs]
                for job, fut in zip(jobs, futures):
                    yield job[0], fut.result()
                    if bar is not None:
                        bar.update()
        finally:
            if bar is not None:
                bar.close()

    def _job_settings(self) -> dict:
        return {"chains": self.chains, "tune": self.tune, "draws": self.draws, "retry_tune": self.retry_tune,
                "retry_target_accept": self.retry_target_accept, "cores": self.cores_per_worker,
                "draws_dir": None if self.draws_dir is None else str(self.draws_dir)}

    def _local_sampler(self):
        if self._sampler is None:
            from .pymc_export import PosteriorSampler

            self._sampler = PosteriorSampler(self.likelihood, fixed_z=self.z == "column", priors=self.priors,
                                             prior=self.prior, fused=self.fused)
        return self._sampler

    def _worker_pool(self):
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                max_workers=self.n_workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                initargs=(self.likelihood.to_state(), self.z == "column", self.prior, self.priors, self.fused,
                          self._job_settings()))
        return self._pool

    def close(self):
        """Stop the worker processes (they are started on first use)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_sampler"] = None
        state["_pool"] = None
        return state


def fit(data, likelihood, **kwargs):
    """Posterior summaries of every row of ``data`` (Photometry or table): one row per input row
    (see :class:`PosteriorFitter` for the options and the columns)."""
    fitter = PosteriorFitter(likelihood, **kwargs)
    try:
        return fitter.predict_table(fitter.to_photometry(data))
    finally:
        fitter.close()


# ---------------------------------------------------------------------- one object
def _summary(idata, names) -> dict:
    post = idata.posterior
    out = {}
    logp = idata.sample_stats["logp"].values.reshape(-1) if "logp" in idata.sample_stats else None
    for p in names:
        v = post[p].values.reshape(-1)
        q = np.quantile(v, list(SUMMARY_QUANTILES.values()))
        out[p] = dict(zip(SUMMARY_QUANTILES, (float(x) for x in q)))
        out[p]["map"] = float(v[int(np.argmax(logp))]) if logp is not None else float("nan")
    return out


def _chi2_at(likelihood, theta, flux, err, obs):
    from .likelihood import masked_chi2

    mu, cov = likelihood.mean_and_cov(theta[None])
    chi2, n_obs = masked_chi2(mu, cov, err[None], flux[None], obs[None])
    return float(chi2[0]), int(n_obs[0])


def _sample_job(sampler, job, settings) -> dict:
    """Sample one object with nutpie (and again if its diagnostics fail); its summary,
    diagnostics and flags."""
    i, flux, err, obs, z, seed, obj_id = job
    t0 = time.perf_counter()
    run = dict(chains=settings["chains"], tune=settings["tune"], draws=settings["draws"], random_state=int(seed),
               n_jobs=settings["cores"])
    res = sampler.sample(flux, err, obs, z, **run)
    retried = False
    if not res.diagnostics["passed"] and settings["retry_tune"] > 0:
        retried = True
        run.update(tune=settings["retry_tune"], target_accept=settings["retry_target_accept"],
                   low_rank_modified_mass_matrix=True)
        res = sampler.sample(flux, err, obs, z, **run)
    return _result(sampler.likelihood, job, res.idata, res.diagnostics, sampler.var_names, retried,
                   time.perf_counter() - t0, settings)


def _batch_jobs(likelihood, jobs, settings, fixed_z, batch_size):
    """Sample the jobs with blackjax in batches of ``batch_size`` (padded, so that XLA compiles one
    shape), re-run the failures in one more batch; yield (row, result)."""
    from .batched import sample_batch

    def run(group, tune, target_accept):
        pad = group + [group[-1]] * (-len(group) % batch_size)
        out = []
        for k in range(0, len(pad), batch_size):
            part = pad[k:k + batch_size]
            t0 = time.perf_counter()
            res = sample_batch(likelihood, np.stack([j[1] for j in part]), np.stack([j[2] for j in part]),
                               np.stack([j[3] for j in part]), np.array([j[4] for j in part]) if fixed_z else None,
                               seeds=np.array([j[5] for j in part]), chains=settings["chains"], tune=tune,
                               draws=settings["draws"], target_accept=target_accept)
            each = (time.perf_counter() - t0) / len(part)
            out += [(res.idata(m), res.diagnostics[m], res.names, each) for m in range(len(part))]
        return out[:len(group)]

    first = run(list(jobs), settings["tune"], 0.8)
    again = [k for k, r in enumerate(first) if not r[1]["passed"]] if settings["retry_tune"] > 0 else []
    redo = dict(zip(again, run([jobs[k] for k in again], settings["retry_tune"], settings["retry_target_accept"])
                    if again else []))
    for k, job in enumerate(jobs):
        idata, diag, names, sec = redo.get(k, first[k])
        yield job[0], _result(likelihood, job, idata, diag, names, k in redo,
                              sec + (first[k][3] if k in redo else 0.0), settings)


def _result(nl, job, idata, d, names, retried, seconds, settings) -> dict:
    """Summary, diagnostics, χ² at the best draw and flags of one sampled object."""
    from scipy.stats import chi2 as chi2_dist

    i, flux, err, obs, z, seed, obj_id = job
    summary = _summary(idata, names)
    theta = np.array([summary[p]["map"] if p in summary else z for p in nl.parameters_], dtype=np.float64)
    chi2, n_obs = _chi2_at(nl, theta, flux, err, obs)
    f = 0
    if not d["passed"]:
        f |= flags.NOT_CONVERGED
    if n_obs and chi2_dist.sf(chi2, n_obs) < EXTRAPOLATION_PVALUE:
        f |= flags.EXTRAPOLATION
    if settings.get("draws_dir"):
        out = Path(settings["draws_dir"])
        out.mkdir(parents=True, exist_ok=True)
        idata.to_netcdf(str(out / f"{_safe_name(obj_id)}.nc"))
    return {"summary": summary, "rhat": d["max_rhat"], "ess_bulk": d["min_ess_bulk"], "ess_tail": d["min_ess_tail"],
            "divergences": d["divergences"], "retried": retried, "chi2_map": chi2, "seconds": seconds, "flags": f}


def _safe_name(obj_id: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in obj_id)
    return keep or "object"


# ---------------------------------------------------------------------- worker processes
_WORKER = {}


def _worker_init(state, fixed_z, prior, priors, fused, settings):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from .estimator import NeuralLikelihood
    from .pymc_export import PosteriorSampler

    nl = NeuralLikelihood.from_state(*state)
    _WORKER["sampler"] = PosteriorSampler(nl, fixed_z=fixed_z, prior=prior, priors=priors, fused=fused)
    _WORKER["settings"] = settings


def _worker_sample(job):
    return _sample_job(_WORKER["sampler"], job, _WORKER["settings"])


"""``simulate``: mock catalogues with known truth, in parallel chunks, streamed to Parquet.

Random numbers come in fixed blocks of :data:`BLOCK` rows, block ``k`` drawing from
``SeedSequence(seed, spawn_key=(k,))``: row ``i`` is the same whatever ``n``, ``chunk_rows`` or
``n_jobs`` (so the first 100 rows of a 10⁶-row run equal a 100-row run).  With ``out`` every
chunk is written atomically to ``<out>.parts/`` and the parts are joined into ``out`` at the end;
an interrupted run given the same arguments skips the chunks already written.
"""
from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._version import __version__
from ..bands import get_band, register_band, resolve_band
from ..errors import GalfastError
from .forward import _cached_model
from .noise import ErrorTable, add_noise, error_table
from .priors import Priors

__all__ = ["simulate", "simulate_rows", "BLOCK", "TRUTH_COLUMNS"]

#: rows per random-number block (the unit of determinism)
BLOCK = 1024
#: truth columns, in table order (parameter columns of the SFH follow them)
TRUTH_COLUMNS = ("z", "log_mstar", "log_sfr", "log_sfr10", "log_ssfr", "av", "ebv", "age_mw",
                 "log_zmet", "log_ldust")
CALZETTI_RV = 4.05
_PARQUET_META_KEY = b"galfast_simulate"
#: table.meta key of the run's arguments as JSON (8 characters: a plain FITS keyword)
META_KEY = "GFSIMCFG"


@dataclass(frozen=True)
class _Spec:
    """Everything a worker needs to produce any rows of a run (picklable)."""

    bands: tuple
    priors: Priors
    errors: ErrorTable
    missing_fraction: float
    seed: int
    dtype: str
    keep_true: bool
    user_curves: dict = field(default_factory=dict, compare=False)

    def config(self, n) -> dict:
        return {"galfast_version": __version__, "n": int(n), "bands": list(self.bands),
                "priors": self.priors.to_dict(), "errors": self.errors.to_dict(),
                "missing_fraction": self.missing_fraction, "seed": self.seed, "dtype": self.dtype,
                "keep_true": self.keep_true, "block": BLOCK}


def _block_draws(spec: _Spec, block: int, model):
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(spec.seed, spawn_key=(block,))))
    params = spec.priors.sample(BLOCK, rng, model.age_of_universe)
    normals = rng.standard_normal((BLOCK, len(spec.bands)))
    missing = rng.random((BLOCK, len(spec.bands))) < spec.missing_fraction
    return params, normals, missing


def simulate_rows(spec: _Spec, start: int, stop: int) -> dict:
    """Columns (dict of arrays) of rows ``start`` … ``stop - 1`` of the run described by ``spec``."""
    model = _cached_model(spec.bands, spec.priors.sfh)
    b0, b1 = start // BLOCK, (stop - 1) // BLOCK + 1
    draws = [_block_draws(spec, b, model) for b in range(b0, b1)]
    lo, hi = start - b0 * BLOCK, stop - b0 * BLOCK
    params = {k: np.concatenate([d[0][k] for d in draws])[lo:hi] for k in draws[0][0]}
    normals = np.concatenate([d[1] for d in draws])[lo:hi]
    missing = np.concatenate([d[2] for d in draws])[lo:hi]
    res = model.evaluate(params)
    flux, err = add_noise(res["flux"], spec.bands, spec.errors, normals,
                          missing=missing if spec.missing_fraction > 0 else None)
    dt = np.dtype(spec.dtype)
    cols = {"id": np.arange(start, stop, dtype=np.int64)}
    for j, band in enumerate(spec.bands):
        cols[band] = flux[:, j].astype(dt)
        cols[f"{band}_err"] = err[:, j].astype(dt)
    if spec.keep_true:
        for j, band in enumerate(spec.bands):
            cols[f"{band}_true"] = res["flux"][:, j].astype(dt)
    truths = {"z": params["z"], "log_mstar": res["log_mstar"], "log_sfr": res["log_sfr"],
              "log_sfr10": res["log_sfr10"], "log_ssfr": res["log_ssfr"], "av": params["av"],
              "ebv": params["av"] / CALZETTI_RV, "age_mw": res["age_mw"],
              "log_zmet": params["log_zmet"], "log_ldust": res["log_ldust"]}
    for k in TRUTH_COLUMNS:
        cols[k] = np.asarray(truths[k]).astype(dt)
    extra = ["log_u", "sfh_age"] + (["sfh_tau"] if spec.priors.sfh == "delayed_tau"
                                    else ["burst_age", "burst_frac"])
    extra += [k for k in ("qpah", "umin", "gamma") if getattr(spec.priors, k)[0] != getattr(spec.priors, k)[1]]
    for k in extra:
        cols[k] = params[k].astype(dt)
    return cols


# ------------------------------------------------------------------------------ workers
_WORKER_SPEC: _Spec | None = None


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def _init_worker(spec: _Spec):
    global _WORKER_SPEC
    _WORKER_SPEC = spec
    for name, (wave, trans) in spec.user_curves.items():
        register_band(name, wave, trans, overwrite=True)
    _one_blas_thread()


def _run_chunk(start, stop, part_path):
    cols = simulate_rows(_WORKER_SPEC, start, stop)
    if part_path is None:
        return cols
    _write_part(cols, part_path)
    return stop - start


def _write_part(cols, path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = f"{path}.tmp{os.getpid()}"
    pq.write_table(pa.table(cols), tmp)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------ public entry
def simulate(n: int, bands=None, *, priors: Priors | None = None, depths="jwst_deep",
             missing_fraction: float = 0.0, seed: int = 0, n_jobs: int = 1,
             chunk_rows: int = 16 * BLOCK, out=None, overwrite: bool = False,
             progress: bool = True, dtype: str = "float32", keep_true: bool = False,
             return_table: bool = True):
    """Simulate ``n`` galaxies' photometry with known truth.

    n : number of rows
    bands : band names or aliases; default the bands of the ``depths`` preset
    priors : :class:`Priors` (redshift, SFH, mass, metallicity, A_V, log U, …)
    depths : preset ("jwst_deep", "lsst_10yr", "gama"), ``{band: 5σ AB depth}`` or an
        :class:`~galfast.sim.noise.ErrorTable`
    missing_fraction : probability that a (row, band) is not observed (flux, error NaN)
    seed : random seed; rows are identical for a given seed whatever ``n_jobs``/``chunk_rows``
    n_jobs : worker processes (−1: all cores)
    chunk_rows : rows per chunk (unit of work, progress and Parquet row group)
    out : Parquet path to stream to (resumes an interrupted run with the same arguments)
    dtype : float type of the flux and truth columns
    keep_true : also write the noiseless fluxes as ``<band>_true``
    return_table : with ``out``, False returns the output path instead of reading the whole
        file back (for runs larger than memory)

    Returns an astropy Table: ``id``, ``<band>``, ``<band>_err`` [µJy], truths ``z``,
    ``log_mstar`` [M☉], ``log_sfr`` (100 Myr) and ``log_sfr10`` (10 Myr) [M☉/yr],
    ``log_ssfr`` [yr⁻¹], ``av``, ``ebv`` [mag], ``age_mw`` [Gyr], ``log_zmet`` [Z☉],
    ``log_ldust`` [L☉], and the drawn SFH parameters (``log_u``, ``sfh_age``, ``sfh_tau`` or
    ``burst_age``, ``burst_frac``).  ``table.meta["GFSIMCFG"]`` holds the run's arguments as
    JSON (in a Parquet ``out``, the schema metadata ``galfast_simulate``).
    """
    from tqdm.auto import tqdm

    n = int(n)
    if n < 1:
        raise GalfastError(f"simulate needs n ≥ 1, got {n}")
    priors = Priors() if priors is None else priors
    if not isinstance(priors, Priors):
        raise GalfastError(f"priors must be a galfast.sim.Priors, got {type(priors).__name__}")
    if bands is None:
        if not isinstance(depths, str):
            raise GalfastError("give bands when depths is not a preset name")
        from .noise import DEPTH_PRESETS

        bands = list(DEPTH_PRESETS.get(depths, {}))
    if isinstance(bands, str):
        bands = [bands]
    bands = tuple(resolve_band(b) for b in bands)
    if len(set(bands)) != len(bands):
        raise GalfastError(f"bands given more than once: {sorted({b for b in bands if bands.count(b) > 1})}")
    if not 0.0 <= missing_fraction < 1.0:
        raise GalfastError(f"missing_fraction must be in [0, 1), got {missing_fraction}")
    chunk_rows = int(chunk_rows)
    if chunk_rows < 1:
        raise GalfastError(f"chunk_rows must be ≥ 1, got {chunk_rows}")
    n_jobs = (os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs)
    if n_jobs < 1:
        raise GalfastError(f"n_jobs must be ≥ 1 or −1, got {n_jobs}")
    curves = {}
    for b in bands:
        band = get_band(b)
        if band.wavelength is not None:
            curves[b] = (band.wavelength, band.transmission)
    spec = _Spec(bands, priors, error_table(depths, bands), float(missing_fraction), int(seed),
                 str(np.dtype(dtype)), bool(keep_true), curves)
    chunks = [(s, min(s + chunk_rows, n)) for s in range(0, n, chunk_rows)]

    parts_dir = None
    done = set()
    if out is not None:
        out = Path(out)
        if out.exists():
            if not overwrite:
                raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")
            out.unlink()
        parts_dir, done = _prepare_parts(out, spec, n, chunk_rows, overwrite)

    todo = [(i, s, e) for i, (s, e) in enumerate(chunks) if i not in done]
    results: dict[int, dict] = {}
    bar = tqdm(total=n, initial=sum(chunks[i][1] - chunks[i][0] for i in done), unit="gal",
               desc="simulate", disable=not progress, smoothing=0.1)

    def part(i):
        return None if parts_dir is None else str(parts_dir / f"part_{i:06d}.parquet")

    try:
        if n_jobs == 1 or len(todo) <= 1:
            with _one_blas_thread():   # small matrix products: more BLAS threads only contend
                for i, s, e in todo:
                    cols = simulate_rows(spec, s, e)
                    if parts_dir is None:
                        results[i] = cols
                    else:
                        _write_part(cols, part(i))
                    bar.update(e - s)
        else:
            import multiprocessing as mp

            methods = mp.get_all_start_methods()
            ctx = mp.get_context("fork" if "fork" in methods else None)
            if "fork" in methods:   # children inherit the parent's grids instead of rebuilding
                _cached_model(spec.bands, spec.priors.sfh)
            with ProcessPoolExecutor(max_workers=min(n_jobs, len(todo)), mp_context=ctx,
                                     initializer=_init_worker, initargs=(spec,)) as pool:
                futures = {pool.submit(_run_chunk, s, e, part(i)): (i, s, e) for i, s, e in todo}
                for fut in as_completed(futures):
                    i, s, e = futures[fut]
                    res = fut.result()
                    if parts_dir is None:
                        results[i] = res
                    bar.update(e - s)
    finally:
        bar.close()

    if parts_dir is None:
        from astropy.table import Table

        cols = {k: np.concatenate([results[i][k] for i in range(len(chunks))]) for k in results[0]}
        table = Table(cols)
        table.meta[META_KEY] = json.dumps(spec.config(n))
        return table
    _join_parts(out, parts_dir, len(chunks), spec.config(n))
    if not return_table:
        return out
    from ..catalog import read_catalog

    return read_catalog(out)


def _prepare_parts(out: Path, spec: _Spec, n: int, chunk_rows: int, overwrite: bool):
    """Create or reopen ``<out>.parts``; returns it and the chunk indices already written."""
    parts_dir = Path(str(out) + ".parts")
    manifest = {**spec.config(n), "chunk_rows": chunk_rows}
    mpath = parts_dir / "manifest.json"
    if parts_dir.exists():
        try:
            old = json.loads(mpath.read_text())
        except (OSError, ValueError):
            old = None
        if old != json.loads(json.dumps(manifest)):
            if not overwrite:
                raise GalfastError(f"{parts_dir} holds an interrupted run with other arguments; "
                                   "rerun with the same arguments to resume, or pass overwrite=True")
            shutil.rmtree(parts_dir)
    if not parts_dir.exists():
        parts_dir.mkdir(parents=True)
        mpath.write_text(json.dumps(manifest, indent=1))
        return parts_dir, set()
    import pyarrow.parquet as pq

    done = set()
    for path in parts_dir.glob("part_*.parquet"):
        i = int(path.stem.split("_")[1])
        start, stop = i * chunk_rows, min((i + 1) * chunk_rows, n)
        try:
            ok = pq.ParquetFile(path).metadata.num_rows == stop - start
        except Exception:  # unreadable (killed while writing): redo it
            ok = False
        if ok:
            done.add(i)
        else:
            path.unlink()
    return parts_dir, done


def _join_parts(out: Path, parts_dir: Path, n_chunks: int, config: dict):
    import pyarrow.parquet as pq

    tmp = out.with_name(out.name + ".joining")
    writer = None
    try:
        for i in range(n_chunks):
            table = pq.read_table(parts_dir / f"part_{i:06d}.parquet")
            if writer is None:
                meta = dict(table.schema.metadata or {})
                meta[_PARQUET_META_KEY] = json.dumps(config).encode()
                schema = table.schema.with_metadata(meta)
                writer = pq.ParquetWriter(tmp, schema)
            writer.write_table(table.cast(schema))
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, out)
    shutil.rmtree(parts_dir)

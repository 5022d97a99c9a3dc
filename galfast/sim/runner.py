"""``simulate``: mock catalogues with known truth, in parallel chunks, into any catalogue format.

Random numbers come in fixed blocks of :data:`BLOCK` rows, block ``k`` drawing from
``SeedSequence(seed, spawn_key=(k,))``: row ``i`` is the same whatever ``n``, ``chunk_rows`` or
``n_jobs`` (so the first 100 rows of a 10⁶-row run equal a 100-row run).  With ``out`` every
chunk is stored as a numbered part by the one part store of galfast
(:class:`galfast.stream.PartStore`, under ``<out>.parts/``) and the parts are joined into
``out`` by the one catalogue writer (Parquet and CSV streamed; FITS, ECSV and ASCII written at
the end); an interrupted run given the same arguments skips the chunks already written.
"""
from __future__ import annotations

import json
import numbers
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._version import __version__
from ..bands import expand_bands, get_band, register_band, resolve_band
from ..errors import BandError, CatalogError
from ..validation import ParameterError, effective_n_jobs
from .forward import _cached_model
from .noise import ErrorTable, add_noise, error_table
from .priors import Priors

__all__ = ["simulate", "simulate_rows", "simulation_config", "BLOCK", "TRUTH_COLUMNS", "META_KEY"]

#: rows per random-number block (the unit of determinism)
BLOCK = 1024
#: truth columns, in table order (parameter columns of the SFH follow them)
TRUTH_COLUMNS = ("z", "log_mstar", "log_sfr", "log_sfr10", "log_ssfr", "av", "ebv", "age_mw",
                 "log_zmet", "log_ldust")
CALZETTI_RV = 4.05
#: key of the run's arguments as JSON: ``table.meta`` key, FITS header keyword (8 characters),
#: ECSV meta key and Parquet schema-metadata key
META_KEY = "GFSIMCFG"
#: Parquet schema-metadata key of files written by earlier galfast versions (the bundled demo catalogue)
_LEGACY_PARQUET_KEY = b"galfast_simulate"


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


def _run_chunk(start, stop):
    return simulate_rows(_WORKER_SPEC, start, stop)


def _compute(spec: _Spec, todo, n_jobs: int, emit, bar) -> None:
    """``emit(i, columns)`` for every chunk ``(i, start, stop)`` of ``todo``, in the order they
    finish; the columns come back to this process, which stores them (one writer)."""
    if n_jobs == 1 or len(todo) <= 1:
        with _one_blas_thread():   # small matrix products: more BLAS threads only contend
            for i, s, e in todo:
                emit(i, simulate_rows(spec, s, e))
                bar.update(e - s)
        return
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else None)
    if "fork" in methods:   # children inherit the parent's grids instead of rebuilding them
        _cached_model(spec.bands, spec.priors.sfh)
    pool = ProcessPoolExecutor(max_workers=min(n_jobs, len(todo)), mp_context=ctx,
                               initializer=_init_worker, initargs=(spec,))
    try:
        futures = {pool.submit(_run_chunk, s, e): (i, s, e) for i, s, e in todo}
        for fut in as_completed(futures):
            i, s, e = futures.pop(fut)      # drop the reference: its rows are stored, not kept
            emit(i, fut.result())
            bar.update(e - s)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)   # Ctrl-C: stop, do not run the rest
        raise
    pool.shutdown(wait=True)


# ------------------------------------------------------------------------------ arguments
def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ParameterError(f"{name} must be an int ≥ {minimum}, got {value!r}")
    return int(value)


def _make_spec(bands, priors, depths, missing_fraction, seed, dtype, keep_true) -> _Spec:
    priors = Priors() if priors is None else priors
    if not isinstance(priors, Priors):
        raise ParameterError(f"priors must be a galfast.sim.Priors, got {type(priors).__name__}")
    if bands is None:
        from .noise import DEPTH_PRESETS

        if not isinstance(depths, str):
            raise ParameterError("give bands when depths is not a preset name")
        bands = list(DEPTH_PRESETS.get(depths, {}))
    bands = tuple(resolve_band(b) for b in expand_bands(bands))
    if not bands:
        raise ParameterError("simulate needs at least one band")
    if len(set(bands)) != len(bands):
        raise BandError(f"bands given more than once: {sorted({b for b in bands if bands.count(b) > 1})}")
    try:
        missing_fraction = float(missing_fraction)
    except (TypeError, ValueError):
        missing_fraction = np.nan
    if not 0.0 <= missing_fraction < 1.0:
        raise ParameterError(f"missing_fraction must be in [0, 1), got {missing_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ParameterError(
            f"seed must be an int ≥ 0, got {seed!r} (it is the root of the run's SeedSequence: each "
            f"block of {BLOCK} rows draws from its own child stream, which is what makes the rows "
            "the same whatever n_jobs and chunk_rows; a Generator, one stream consumed in order, "
            "cannot give that)")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise ParameterError(f"dtype must be a float type (float32, float64), got {dtype!r}")
    curves = {}
    for b in bands:
        band = get_band(b)
        if band.wavelength is not None:
            curves[b] = (band.wavelength, band.transmission)
    return _Spec(bands, priors, error_table(depths, bands), missing_fraction, int(seed), str(dt),
                 bool(keep_true), curves)


def _curves_digest(spec: _Spec) -> str:
    """sha256 of the filter curves (a band re-registered under the same name is another run)."""
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(spec.user_curves):
        wave, trans = spec.user_curves[name]
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(wave, dtype=float).tobytes())
        digest.update(np.ascontiguousarray(trans, dtype=float).tobytes())
    return digest.hexdigest()


# ------------------------------------------------------------------------------ public entry
def simulate(n: int, bands=None, *, priors: Priors | None = None, depths="jwst_deep",
             missing_fraction: float = 0.0, seed: int = 0, n_jobs: int | None = None,
             chunk_rows: int = 16 * BLOCK, out=None, format: str | None = None,
             overwrite: bool = False, resume: bool = True, progress: bool = True,
             dtype: str = "float32", keep_true: bool = False, return_table: bool = True):
    """Simulate ``n`` galaxies' photometry with known truth.

    n : number of rows
    bands : band names, aliases or band sets (``"jwst_hst"``); default the bands of the
        ``depths`` preset.  Columns come in the order given.
    priors : :class:`Priors` (redshift, SFH, mass, metallicity, A_V, log U, …)
    depths : preset ("jwst_deep", "lsst_10yr", "lsst_1yr", "gama"), ``{band: 5σ AB depth}`` or an
        :class:`~galfast.sim.noise.ErrorTable`
    missing_fraction : probability that a (row, band) is not observed (flux, error NaN)
    seed : int ≥ 0, the root of the run's ``numpy.random.SeedSequence``.  Block ``k`` of
        :data:`BLOCK` rows draws from the child ``SeedSequence(seed, spawn_key=(k,))``, so rows
        are identical for a given seed whatever ``n``, ``n_jobs`` or ``chunk_rows``; this is why
        the simulator takes an int seed and not a ``random_state`` Generator (one stream,
        consumed in order, cannot be split that way).
    n_jobs : worker processes; None = 1, −1 = every core, −2 = all but one (as scikit-learn)
    chunk_rows : rows per chunk (the unit of work, progress, resume and Parquet row group)
    out : output catalogue (Parquet or CSV streamed chunk by chunk; FITS, ECSV or whitespace
        ASCII written at the end), format from the suffix unless ``format`` is given
    overwrite : replace an existing ``out`` (and an interrupted run of ``out`` with other
        arguments)
    resume : keep the chunks an interrupted run with the same arguments left in
        ``<out>.parts/`` (False: start again)
    dtype : float type of the flux and truth columns
    keep_true : also write the noiseless fluxes as ``<band>_true``
    return_table : with ``out``, False returns the output path instead of reading the whole
        file back (for runs larger than memory; a CSV file reads back as float64 text values)

    Returns an astropy Table: ``id``, ``<band>``, ``<band>_err`` [µJy], truths ``z``,
    ``log_mstar`` [M☉], ``log_sfr`` (100 Myr) and ``log_sfr10`` (10 Myr) [M☉/yr],
    ``log_ssfr`` [yr⁻¹], ``av``, ``ebv`` [mag], ``age_mw`` [Gyr], ``log_zmet`` [Z☉],
    ``log_ldust`` [L☉], and the drawn SFH parameters (``log_u``, ``sfh_age``, ``sfh_tau`` or
    ``burst_age``, ``burst_frac``).  ``table.meta["GFSIMCFG"]`` holds the run's arguments as
    JSON; ``out`` stores them too (Parquet schema metadata, FITS header keyword, ECSV meta):
    :func:`simulation_config` reads them back.
    """
    from tqdm.auto import tqdm

    n = _check_int("n", n, 1)
    chunk_rows = _check_int("chunk_rows", chunk_rows, 1)
    n_jobs = effective_n_jobs(n_jobs)
    spec = _make_spec(bands, priors, depths, missing_fraction, seed, dtype, keep_true)
    config = spec.config(n)
    chunks = [(s, min(s + chunk_rows, n)) for s in range(0, n, chunk_rows)]

    store = None
    if out is not None:
        from ..catalog import guess_format
        from ..stream import PartStore

        guess_format(out, format)           # an unknown suffix fails now, not after the run
        store = PartStore(out, {**config, "chunk_rows": chunk_rows, "filters": _curves_digest(spec)},
                          overwrite=overwrite, resume=resume)
    done = {i for i, (s, e) in enumerate(chunks) if store is not None and store.done.get(i) == e - s}
    todo = [(i, s, e) for i, (s, e) in enumerate(chunks) if i not in done]
    results: dict[int, dict] = {}

    def emit(i, cols):
        if store is None:
            results[i] = cols
        else:
            import pyarrow as pa

            store.write(i, pa.table(cols))

    with tqdm(total=n, initial=sum(chunks[i][1] - chunks[i][0] for i in done), unit="gal",
              desc="simulate", disable=not progress, smoothing=0.1) as bar:
        _compute(spec, todo, n_jobs, emit, bar)

    config_json = json.dumps(config)
    if store is None:
        from astropy.table import Table

        table = Table({k: np.concatenate([results[i][k] for i in range(len(chunks))])
                       for k in results[0]})
        table.meta[META_KEY] = config_json
        return table
    path = store.finish(len(chunks), format=format, meta={META_KEY: config_json})
    if not return_table:
        return path
    from ..catalog import read_catalog

    table = read_catalog(path, format=format)
    table.meta[META_KEY] = config_json
    return table


def simulation_config(source) -> dict:
    """The arguments of the run that made ``source`` (a table :func:`simulate` returned, or a
    catalogue file it wrote in any format), as a dict: ``n``, ``bands``, ``priors``,
    ``errors``, ``missing_fraction``, ``seed``, ``dtype``, ``keep_true``, ``block``,
    ``galfast_version``."""
    from astropy.table import Table

    if isinstance(source, Table):
        meta, where = source.meta, "the table"
    else:
        from ..catalog import guess_format

        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"catalogue file not found: {path}")
        fmt = guess_format(path)
        try:
            if fmt == "parquet":
                import pyarrow.parquet as pq

                raw = pq.read_schema(path).metadata or {}
                meta = {k.decode(): v.decode() for k, v in raw.items()}
                if META_KEY not in meta and _LEGACY_PARQUET_KEY.decode() in meta:
                    meta[META_KEY] = meta[_LEGACY_PARQUET_KEY.decode()]
            elif fmt == "fits":
                from astropy.io import fits

                with fits.open(path) as hdul:
                    meta = dict(hdul[1].header) if len(hdul) > 1 else {}
            else:
                from ..catalog import read_catalog

                meta = read_catalog(path).meta
        except CatalogError:
            raise
        except Exception as exc:
            raise CatalogError(f"could not read {path} as {fmt}: {exc}") from exc
        where = str(path)
    if META_KEY not in meta:
        hint = (" (CSV files keep no metadata: write Parquet, FITS or ECSV to keep them)"
                if where.lower().endswith(".csv") else "; was it written by galfast.simulate?")
        raise CatalogError(f"{where} holds no simulation arguments ({META_KEY}){hint}")
    return json.loads(meta[META_KEY])

"""Run a fitted galfast model on Dask: dask.dataframe partitions, LSDB (HATS) catalogues, clusters.

Every fitted model that keeps the output contract (``predict_table(photometry) -> Table``, one
row per input row, and ``to_photometry(table, row_offset=…)`` or ``bands_``) runs partition by
partition through :func:`galfast.stream.predict_chunk`, the one per-chunk function that
:func:`galfast.stream.stream` (and so every command line) uses::

    import dask.dataframe as dd, galfast
    from galfast.scale import apply_model, run

    model = galfast.load_model("photoz.safetensors")
    frame = dd.read_parquet("survey/", split_row_groups=True)
    pred = apply_model(model, frame)              # lazy dask DataFrame: id, z_phot, …, flags
    pred.to_parquet("photoz/")                    # or .compute(), or anything Dask does

    cat = lsdb.read_hats("survey_hats/")          # an LSDB catalogue: the result is one too,
    pred = apply_model(model, cat)                # with ra/dec kept, ready to cross-match

    run(model, "survey.parquet", "photoz_parts", workers=8)       # what ``--workers 8`` does

The model (with the read/predict functions) is shipped once: scattered to every worker
(``client.scatter(..., broadcast=True)``) when a distributed client is active, else put in the
graph once as a ``dask.delayed`` value, never pickled into each partition's task.  ``meta`` (the
output columns and dtypes) is derived from the model on a one-row sample of the input's meta.

:func:`run` writes a partitioned Parquet output — a folder of ``part_NNNNNN.parquet``, one per
input partition, in input order, each written atomically — with the input's ids.  A worker that
dies mid-run only loses the partitions it was computing; the scheduler recomputes them on
another worker and a part file is only ever replaced whole, so every input row appears exactly
once.  A whole run interrupted and started again with the same arguments skips the parts already
written (as :func:`~galfast.stream.stream` does).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np

from .errors import CatalogError, GalfastError
from .stream import PartStore, chunk_functions, predict_chunk
from .validation import ParameterError

log = logging.getLogger(__name__)

__all__ = ["apply_model", "run", "read_frame", "output_meta", "cluster_client", "streamer",
           "ID_CANDIDATES", "RUN_FILE"]

#: id columns recognised by ``id_column="auto"`` (as :meth:`Photometry.from_table`)
ID_CANDIDATES = ("id", "ID", "Id", "objid", "object_id")
#: the run's arguments, kept in the output folder of :func:`run` (resume manifest)
RUN_FILE = "_galfast_run.json"


# ------------------------------------------------------------------------------ conversions
def frame_to_table(df, source=None):
    """A pandas partition as an astropy Table, normalised as :func:`galfast.read_catalog` reads
    (Arrow → :func:`galfast.catalog.arrow_to_table`: NaN/nulls masked, native byte order)."""
    import pyarrow as pa

    from .catalog import arrow_to_table

    try:
        arrow = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise CatalogError(f"a partition of {source or 'the frame'} cannot be read as a table: {exc}") from exc
    table = arrow_to_table(arrow)
    if source is not None:
        table.meta["source"] = str(source)
    return table


def table_to_frame(table, index=None):
    """An output Table as a pandas DataFrame with Arrow dtypes (the same dtypes in every
    partition, masked values as nulls); ``index`` the input partition's (LSDB: its healpix)."""
    import pandas as pd

    from .catalog import table_to_arrow

    df = table_to_arrow(table).to_pandas(types_mapper=pd.ArrowDtype)
    if index is not None:
        df.index = index
    return df


# ------------------------------------------------------------------------------ the job shipped
class _Job:
    """The model with its read/predict functions: pickled (and shipped) as one value."""

    def __init__(self, model, read, predict, keep_columns, source):
        self.model = model
        self.read, self.predict = chunk_functions(model, read, predict)
        self.keep_columns = list(keep_columns or ())
        self.source = source
        self.offsets = None    # first row number of each partition (list, or {pixel: row} for LSDB)
        self.meta = None       # the output's empty frame
        self.store = None      # PartStore of run()

    def table(self, df, offset: int):
        chunk = frame_to_table(df, self.source)
        return predict_chunk(self.model, chunk, int(offset), self.read, self.predict,
                             self.keep_columns, self.source)[1]


def _offset(job, key):
    if job.offsets is None or key is None:
        return 0
    return int(job.offsets[key]) if isinstance(job.offsets, list) else int(job.offsets.get(key, 0))


def _as_meta(out, meta):
    return out[list(meta.columns)].astype(meta.dtypes.to_dict())


def _predict_partition(df, job, partition_info=None):
    if len(df) == 0:
        return job.meta.iloc[:0].copy()
    key = partition_info["number"] if partition_info else None
    return _as_meta(table_to_frame(job.table(df, _offset(job, key)), df.index), job.meta)


def _predict_lsdb_partition(df, pixel, job):
    if len(df) == 0:
        return job.meta.iloc[:0].copy()
    return _as_meta(table_to_frame(job.table(df, _offset(job, pixel)), df.index), job.meta)


def _write_partition(df, job, partition_info=None):
    """Predict one partition and store it as part ``partition_info['number']``; returns its
    (part, rows) as a one-row frame.  A part already written by an earlier run is kept."""
    import pandas as pd

    store = job.store
    i = partition_info["number"] if partition_info else 0
    n = len(df)
    path = store.part_path(i)
    if store.done.get(i) == n and path.exists():
        return pd.DataFrame({"part": [i], "rows": [n], "computed": [False]})
    if n == 0:
        import pyarrow as pa

        table = pa.table({})
    else:
        table = job.table(df, _offset(job, i))
    store.write(i, table)
    return pd.DataFrame({"part": [i], "rows": [n], "computed": [True]})


# ------------------------------------------------------------------------------ helpers
def _is_lsdb(frame) -> bool:
    return hasattr(frame, "hc_structure") and hasattr(frame, "to_dask_dataframe")


def _dask_frame(frame):
    return frame.to_dask_dataframe() if _is_lsdb(frame) else frame


def _client():
    try:
        from distributed import get_client
    except ImportError:   # pragma: no cover - distributed is a dependency of the dask extra
        return None
    try:
        return get_client()
    except ValueError:
        return None


def _ship(job, client=None, ship="auto"):
    """The job as a value the partitions' tasks take: a Future of the job scattered to every
    worker (a distributed client), else a ``dask.delayed`` of it (one graph node)."""
    import dask

    if ship not in ("auto", "scatter", "delayed"):
        raise ParameterError(f"ship must be 'auto', 'scatter' or 'delayed', not {ship!r}")
    client = client or (_client() if ship != "delayed" else None)
    if ship == "scatter" and client is None:
        raise ParameterError("ship='scatter' needs a distributed Client (none is active)")
    if client is not None and ship != "delayed":
        return client.scatter(job, broadcast=True, hash=False)
    return dask.delayed(job, pure=True, traverse=False)


def output_meta(job, frame):
    """The output's meta (columns and dtypes) from the model run on a one-row sample: the input's
    meta made non-empty (dask's fake values), else, if the model rejects those, the first row of
    the first non-empty partition."""
    from dask.dataframe.utils import meta_nonempty

    ddf = _dask_frame(frame)
    sample = meta_nonempty(ddf._meta).iloc[:1]
    try:
        with _quiet():
            return table_to_frame(job.table(sample, 0)).iloc[:0]
    except GalfastError:
        pass
    for i in range(ddf.npartitions):
        part = ddf.partitions[i].head(1, compute=True)
        if len(part):
            with _quiet():
                return table_to_frame(job.table(part, 0)).iloc[:0]
    raise CatalogError("every partition of the frame is empty: nothing to predict")


@contextlib.contextmanager
def _quiet():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _needs_row_numbers(frame, read_uses_ids: bool) -> bool:
    cols = list(_dask_frame(frame).columns)
    return not (read_uses_ids and any(c in cols for c in ID_CANDIDATES))


def partition_lengths(frame, source=None) -> list:
    """Rows per partition: from the Parquet metadata of a single ``source`` file read with one
    partition per row group, else counted (a pass over the frame; not on a projected column,
    which dask would fuse into fewer partitions)."""
    ddf = _dask_frame(frame)
    if source is not None and Path(source).is_file():
        import pyarrow.parquet as pq

        md = pq.ParquetFile(source).metadata
        lengths = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
        if len(lengths) == ddf.npartitions:
            return lengths
    lengths = [int(v) for v in ddf.map_partitions(len, meta=(None, "int64"),
                                                  enforce_metadata=False).compute()]
    if len(lengths) != ddf.npartitions:   # pragma: no cover - a dask optimisation changed them
        raise GalfastError(f"counted {len(lengths)} partitions of a frame of {ddf.npartitions}")
    return lengths


def _offsets_of(lengths):
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64).tolist() if lengths else []


# ------------------------------------------------------------------------------ public API
def apply_model(model, frame, *, read=None, predict=None, keep_columns=(), row_numbers="auto",
                client=None, ship="auto", source=None):
    """Lazy predictions of a fitted model over a dask DataFrame or an LSDB Catalog.

    model : a fitted galfast model (KLLRPhotoZ, PropertyRegressor, …: ``predict_table`` and
        ``to_photometry`` or ``bands_``)
    frame : ``dask.dataframe.DataFrame`` (e.g. ``dd.read_parquet(...)``) or ``lsdb.Catalog``
    read, predict : as in :func:`galfast.stream.stream` (default the model's ``to_photometry``
        and ``predict_table``); they travel with the model, once
    keep_columns : input columns copied beside the model's (an LSDB catalogue's ra/dec are
        always kept, so that the result is an LSDB catalogue again)
    row_numbers : ids of a frame without an id column are row numbers counted across partitions,
        which needs the partitions' lengths (one column read once); "auto" computes them when no
        id/ID/Id/objid/object_id column exists, True always, False never (each partition then
        counts from 0)
    client : the distributed Client (default the active one, if any)
    ship : "auto" (scatter with a client, else delayed), "scatter" or "delayed"
    source : the input's name, quoted in error messages

    Returns a dask DataFrame (input partitions → output partitions, index kept), or for an LSDB
    catalogue an LSDB Catalog, with explicit ``meta``; nothing is computed but the meta sample
    (and the lengths when row numbers are needed).
    """
    keep = list(keep_columns or ())
    lsdb_cat = _is_lsdb(frame)
    if lsdb_cat:
        info = frame.hc_structure.catalog_info
        keep += [c for c in (info.ra_column, info.dec_column) if c and c not in keep]
    job = _Job(model, read, predict, keep, source)
    job.meta = meta = output_meta(job, frame)
    want = (_needs_row_numbers(frame, True) if row_numbers == "auto" else bool(row_numbers))
    job.offsets = _offsets_of(partition_lengths(frame)) if want else None
    if lsdb_cat and job.offsets is not None:
        job.offsets = dict(zip(frame.get_healpix_pixels(), job.offsets))
    shipped = _ship(job, client, ship)
    if lsdb_cat:
        return frame.map_partitions(_predict_lsdb_partition, shipped, meta=meta, include_pixel=True)
    return frame.map_partitions(_predict_partition, shipped, meta=meta, align_dataframes=False)


def read_frame(source, *, columns=None):
    """A dask DataFrame (or LSDB Catalog) of a Parquet file, a folder of Parquet files or a HATS
    catalogue folder: one partition per Parquet row group (files written by galfast have one
    row group per chunk) or per HATS pixel."""
    import dask.dataframe as dd

    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"catalogue not found: {path}")
    if path.is_dir() and any((path / f).exists() for f in ("hats.properties", "properties",
                                                            "collection.properties")):
        import lsdb

        try:
            return lsdb.read_hats(path, columns=columns)
        except Exception as exc:
            raise CatalogError(f"could not read {path} as a HATS catalogue: {exc}") from exc
    from .catalog import guess_format

    if path.is_file() and guess_format(path) != "parquet":
        raise CatalogError(f"{path}: the Dask scale-out reads Parquet files or folders and HATS "
                           "catalogues; convert it first (e.g. galfast.write_catalog(read_catalog(f), "
                           "'x.parquet'))")
    try:
        return dd.read_parquet(path, columns=columns, split_row_groups=True)
    except Exception as exc:
        raise CatalogError(f"could not read {path} as parquet for Dask: {exc}") from exc


@contextlib.contextmanager
def cluster_client(address=None, workers=None, threads_per_worker: int = 1):
    """A distributed Client: of the scheduler at ``address``, else of a local cluster of
    ``workers`` processes (``threads_per_worker`` threads each), closed on exit."""
    from distributed import Client, LocalCluster

    if address is not None and workers is not None:
        raise ParameterError("give a scheduler address (--dask) or a number of local workers "
                             "(--workers), not both")
    if address is not None:
        client = Client(address)
        try:
            yield client
        finally:
            client.close()
        return
    if workers is None or int(workers) < 1:
        raise ParameterError(f"workers must be an int ≥ 1, got {workers!r}")
    with LocalCluster(n_workers=int(workers), threads_per_worker=int(threads_per_worker),
                      processes=True, dashboard_address=":0") as cluster, Client(cluster) as client:
        yield client


def _source_desc(source) -> dict:
    path = Path(source)
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    return {"source": str(path.resolve()), "files": len(files),
            "source_bytes": sum(f.stat().st_size for f in files),
            "source_mtime_ns": max((f.stat().st_mtime_ns for f in files), default=0)}


def run(model, source, destination, *, address=None, workers=None, client=None, read=None,
        predict=None, chunk_rows=None, keep_columns=(), progress: bool = True,
        overwrite: bool = False, resume: bool = True, config=None, on_chunk=None, format=None,
        desc: str = "galfast", ship: str = "auto") -> dict:
    """:func:`galfast.stream.stream` on Dask: ``source`` (Parquet file/folder, HATS catalogue, or
    a dask DataFrame / LSDB Catalog) into the folder ``destination`` of Parquet parts
    ``part_NNNNNN.parquet``, one per input partition, in input order, with the ids.

    address / workers / client : the scheduler's address, or a local cluster of ``workers``
        processes (1 thread each), or an existing Client
    chunk_rows : unused (partitions are the input's row groups / HATS pixels); accepted so that
        the arguments are those of ``stream``
    on_chunk : ``on_chunk(None, output_table)`` for each part computed in this run, read back
        from its file at the end (the photometry stays on the workers, hence None)

    Returns {"rows", "chunks", "resumed_chunks", "seconds", "out", "workers"}.
    """
    from ._version import __version__
    from .modelfile import fingerprint

    t0 = time.perf_counter()
    if format not in (None, "parquet"):
        raise CatalogError(f"the Dask scale-out writes a folder of Parquet parts, not {format!r}")
    destination = Path(destination)
    if destination.suffix.lower() in (".csv", ".fits", ".ecsv", ".txt", ".ascii", ".dat", ".fit"):
        raise CatalogError(f"{destination}: the Dask scale-out writes a folder of Parquet parts; "
                           "name the output folder without a file suffix (or .parquet)")
    if destination.exists() and destination.is_dir() and overwrite:
        shutil.rmtree(destination)
    keep = list(keep_columns or ())
    frame = read_frame(source) if isinstance(source, (str, os.PathLike)) else source
    desc_src = _source_desc(source) if isinstance(source, (str, os.PathLike)) else {
        "frame": str(getattr(_dask_frame(source), "_name", "frame"))}
    if _is_lsdb(frame):
        frame = frame.to_dask_dataframe()
    manifest = {"galfast_version": __version__, **desc_src, "npartitions": frame.npartitions,
                "model": fingerprint(model), "keep_columns": keep, "config": config or {}}
    store = PartStore(destination, manifest, overwrite=overwrite, resume=resume)
    resumed = len(store.done)
    name = str(source) if isinstance(source, (str, os.PathLike)) else None
    job = _Job(model, read, predict, keep, name)
    with contextlib.ExitStack() as stack:
        if client is None and (address is not None or workers is not None):
            client = stack.enter_context(cluster_client(address, workers))
        client = client or _client()
        lengths = partition_lengths(frame, source if isinstance(source, (str, os.PathLike)) else None)
        job.offsets = _offsets_of(lengths) if _needs_row_numbers(frame, True) else None
        job.store = store
        shipped = _ship(job, client, ship)
        import pandas as pd

        counts_meta = pd.DataFrame({"part": pd.Series([], dtype="int64"),
                                    "rows": pd.Series([], dtype="int64"),
                                    "computed": pd.Series([], dtype=bool)})
        counts = frame.map_partitions(_write_partition, shipped, meta=counts_meta,
                                      align_dataframes=False)
        if client is not None:
            fut = client.compute(counts)
            if progress:
                from distributed import progress as dprogress

                dprogress(fut)
            done = fut.result()
        else:
            done = counts.compute()
        n_workers = len(client.scheduler_info()["workers"]) if client is not None else None
    n_parts = frame.npartitions
    got = dict(zip(done["part"].tolist(), done["rows"].tolist()))
    missing = [i for i in range(n_parts) if not store.part_path(i).exists()]
    if missing or sorted(got) != list(range(n_parts)) or [got[i] for i in range(n_parts)] != lengths:
        raise GalfastError(f"{store.dir}: parts {missing[:5]} missing or rows differ from the input's "
                           "partitions after the run")
    if on_chunk is not None:
        import pyarrow.parquet as pq

        from .catalog import arrow_to_table

        for i in sorted(i for i, c in zip(done["part"].tolist(), done["computed"].tolist()) if c):
            on_chunk(None, arrow_to_table(pq.read_table(store.part_path(i))))
    for tmp in store.dir.glob(".part_*"):    # a worker killed while writing leaves its temporary
        tmp.unlink()
    (store.dir / "manifest.json").replace(store.dir / RUN_FILE)
    if destination.exists():
        shutil.rmtree(destination)
    store.dir.replace(destination)
    return {"rows": int(sum(lengths)), "chunks": n_parts, "resumed_chunks": resumed,
            "seconds": time.perf_counter() - t0, "out": str(destination), "workers": n_workers}


def streamer(dask=None, workers=None):
    """:func:`galfast.stream.stream`, or :func:`run` on the scheduler ``dask`` / a local
    cluster of ``workers`` processes: what the ``--dask`` / ``--workers`` options choose."""
    from functools import partial

    from .stream import stream

    if dask is None and workers is None:
        return stream
    return partial(run, address=dask, workers=workers)

"""The one streaming driver: read a catalogue in chunks, run a model, write one output file.

:class:`CatalogWriter` is the only catalogue writer in galfast: Parquet and CSV are written chunk
by chunk (bounded memory); FITS, ECSV and whitespace ASCII are collected and written when it
closes (those formats cannot be appended to).  It writes to a temporary name and renames on
success, so a failed run never leaves a half-written file under the output name.

:func:`stream` is what every command line and the Dask scale-out call::

    stream(model, "survey.parquet", "photoz.parquet", chunk_rows=200_000)

Each chunk becomes a :class:`~galfast.Photometry` (ids: the catalogue's id column, else the row
number counted across chunks), the model's ``predict_table`` gives one row per input row, and
the result is stored as a numbered part under ``<destination>.parts/`` (:class:`PartStore`).
The parts are joined into the destination at the end; a run interrupted part-way and started
again with the same arguments skips the parts already written (``resume=True``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from .errors import CatalogError, GalfastError

__all__ = ["CatalogWriter", "PartStore", "stream", "model_bands", "chunk_functions", "predict_chunk"]


class CatalogWriter:
    """Append astropy Tables (or Arrow tables) to one catalogue file.

    path : output file; the format from its suffix unless ``format`` is given
    overwrite : replace an existing file (else FileExistsError)
    meta : {key: value} stored with the file: Parquet schema metadata (values as JSON text),
        FITS header / ECSV meta otherwise
    """

    def __init__(self, path, *, format: str | None = None, overwrite: bool = False, meta=None):
        from .catalog import guess_format

        self.path = Path(path)
        self.fmt = guess_format(self.path, format)
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists; pass overwrite=True (--overwrite) to replace it")
        if self.path.is_dir():
            raise CatalogError(f"{self.path} is a folder, not an output file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.meta = dict(meta or {})
        self.rows = 0
        self._tmp = self.path.with_name(f".{self.path.name}.partial{os.getpid()}")
        self._writer = None
        self._fh = None
        self._schema = None
        self._parts = []

    @property
    def streamed(self) -> bool:
        """True when chunks go to disk as they come (Parquet, CSV)."""
        from .catalog import STREAMED_FORMATS

        return self.fmt in STREAMED_FORMATS

    def write(self, table) -> None:
        """Append one chunk (astropy Table or pyarrow Table, the same columns every time)."""
        import pyarrow as pa

        from .catalog import arrow_to_table, table_to_arrow

        if not self.streamed:
            self._parts.append(arrow_to_table(table) if isinstance(table, pa.Table) else table)
            self.rows += len(table)
            return
        if isinstance(table, pa.Table):
            arrow = table if self._schema is None or table.schema == self._schema else table.cast(self._schema)
        else:
            arrow = table_to_arrow(table, self._schema)
        if self._writer is None:
            self._open(arrow.schema)
        self._writer.write_table(arrow)
        self.rows += arrow.num_rows

    def _open(self, schema):
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            meta = dict(schema.metadata or {})
            for k, v in self.meta.items():
                meta[str(k).encode()] = (v if isinstance(v, str) else json.dumps(v)).encode()
            schema = schema.with_metadata(meta)
            self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd")
        else:
            import pyarrow.csv as pcsv

            self._fh = open(self._tmp, "wb")
            self._writer = pcsv.CSVWriter(self._fh, schema)
        self._schema = schema

    def close(self) -> Path:
        """Finish the file and move it into place; returns its path."""
        if self.streamed:
            if self._writer is None:
                raise CatalogError(f"nothing was written to {self.path}")
            self._writer.close()
            if self._fh is not None:
                self._fh.close()
        else:
            from astropy.table import Table, vstack

            if not self._parts:
                raise CatalogError(f"nothing was written to {self.path}")
            table = self._parts[0] if len(self._parts) == 1 else vstack(self._parts, join_type="exact")
            meta = {k: v for k, v in table.meta.items() if k != "source"}
            meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in self.meta.items()})
            out = Table(table, copy=False, meta=meta)
            from .catalog import FORMATS

            kw = {"delimiter": " "} if self.fmt == "ascii" else {}
            import warnings

            from astropy.io.fits.verify import VerifyWarning

            with warnings.catch_warnings():   # meta keys longer than 8 characters: HIERARCH cards
                warnings.simplefilter("ignore", VerifyWarning)
                out.write(self._tmp, format=FORMATS[self.fmt][0], overwrite=True, **kw)
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop what was written (after an error)."""
        try:
            if self._writer is not None:
                self._writer.close()
            if self._fh is not None:
                self._fh.close()
        finally:
            if self._tmp.exists():
                self._tmp.unlink()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


_PART_META = b"galfast_part_meta"


class PartStore:
    """Numbered chunks of one output, each written atomically as ``part_NNNNNN.parquet`` under
    ``<destination>.parts/`` beside a ``manifest.json`` of the run's arguments.

    Reopened with the same manifest, the parts already written are kept (``done``); with another
    manifest it raises GalfastError unless ``overwrite`` (then it starts afresh).  ``finish``
    joins the parts, in order, into the destination (any format) and removes the folder.
    """

    def __init__(self, destination, manifest: dict, *, overwrite: bool = False, resume: bool = True):
        self.destination = Path(destination)
        if self.destination.exists() and not overwrite:
            raise FileExistsError(f"{self.destination} exists; pass overwrite=True (--overwrite) "
                                  "to replace it")
        self.dir = Path(str(self.destination) + ".parts")
        self.manifest = json.loads(json.dumps(manifest, default=str))
        self.done: dict[int, int] = {}
        mpath = self.dir / "manifest.json"
        if self.dir.exists() and not any(self.dir.glob("part_*.parquet")):
            shutil.rmtree(self.dir)     # a run that failed before its first part: nothing to keep
        if self.dir.exists():
            try:
                old = json.loads(mpath.read_text())
            except (OSError, ValueError):
                old = None
            if not resume or old != self.manifest:
                if old != self.manifest and not overwrite and resume:
                    raise GalfastError(f"{self.dir} holds an interrupted run with other arguments; "
                                       "rerun with the same arguments to resume it, or pass "
                                       "overwrite=True (--overwrite) to start again")
                shutil.rmtree(self.dir)
        if not self.dir.exists():
            self.dir.mkdir(parents=True)
            mpath.write_text(json.dumps(self.manifest, indent=1))
            return
        import pyarrow.parquet as pq

        for path in sorted(self.dir.glob("part_*.parquet")):
            try:
                self.done[int(path.stem.split("_")[1])] = pq.ParquetFile(path).metadata.num_rows
            except Exception:   # killed while writing: do it again
                path.unlink()

    def part_path(self, i: int) -> Path:
        return self.dir / f"part_{int(i):06d}.parquet"

    def write(self, i: int, table) -> None:
        """Store chunk ``i`` (astropy or Arrow table) atomically."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from .catalog import table_to_arrow

        if isinstance(table, pa.Table):
            arrow = table
        else:
            arrow = table_to_arrow(table)
            meta = {k: v for k, v in table.meta.items() if k != "source"}
            if meta:   # the model's table meta (model kind, bands …), joined into the output
                arrow = arrow.replace_schema_metadata(
                    {**(arrow.schema.metadata or {}), _PART_META: json.dumps(meta, default=str).encode()})
        tmp = self.dir / f".part_{int(i):06d}.tmp{os.getpid()}"
        pq.write_table(arrow, tmp, compression="zstd")
        os.replace(tmp, self.part_path(i))
        self.done[int(i)] = arrow.num_rows

    def finish(self, n_parts: int, *, format: str | None = None, meta=None) -> Path:
        """Join parts 0 … n_parts − 1 into the destination and remove the parts folder."""
        import pyarrow.parquet as pq

        missing = [i for i in range(n_parts) if i not in self.done]
        if missing:
            raise GalfastError(f"{self.dir}: parts {missing[:5]} were never written")
        first = pq.read_schema(self.part_path(0)).metadata or {} if n_parts else {}
        joined = json.loads(first[_PART_META]) if _PART_META in first else {}
        joined.update(meta or {})
        with CatalogWriter(self.destination, format=format, overwrite=True, meta=joined) as writer:
            for i in range(n_parts):
                part = pq.read_table(self.part_path(i))
                writer.write(part.replace_schema_metadata(
                    {k: v for k, v in (part.schema.metadata or {}).items() if k != _PART_META} or None))
        shutil.rmtree(self.dir)
        return self.destination


def model_bands(model):
    """The bands a fitted model was trained on (its ``bands_``), or None."""
    bands = getattr(model, "bands_", None)
    return None if bands is None else list(bands)


def chunk_functions(model, read=None, predict=None):
    """(read, predict) as :func:`stream` uses them: ``read(chunk, row_offset) -> Photometry``
    (default the model's ``to_photometry(chunk, row_offset=…)``, else ``Photometry.from_table``
    with its bands) and ``predict(photometry) -> Table`` (default ``model.predict_table``)."""
    from .photometry import Photometry

    if read is None and hasattr(model, "to_photometry"):
        def read(chunk, row_offset):
            return model.to_photometry(chunk, row_offset=row_offset)
    elif read is None:
        bands = model_bands(model)

        def read(chunk, row_offset):
            return Photometry.from_table(chunk, bands, row_offset=row_offset)
    if predict is None:
        predict = model.predict_table
    return read, predict


def predict_chunk(model, chunk, row_offset: int, read, predict, keep_columns=(), source=None):
    """One chunk through the output contract: ``read`` it, ``predict``, check one row per input
    row, copy ``keep_columns``.  Returns (photometry, output table).  :func:`stream` and the Dask
    scale-out (:mod:`galfast.scale`) both call this, so there is one model call.

    chunk : astropy Table; row_offset : its first row's number in the whole catalogue
    source : the catalogue's name, quoted in error messages
    """
    n = len(chunk)
    phot = read(chunk, row_offset)
    out = predict(phot)
    if len(out) != n:
        raise GalfastError(f"{type(model).__name__} returned {len(out)} rows for a chunk of {n} "
                           f"(rows {row_offset}–{row_offset + n - 1} of {source}); one row per input row "
                           "is the output contract")
    for c in keep_columns or ():
        if c not in chunk.colnames:
            raise CatalogError(f"column {c!r} to keep is not in {source} (columns: "
                               f"{chunk.colnames[:30]})")
        if c in out.colnames:
            raise CatalogError(f"column {c!r} to keep clashes with the output column of that name")
        out[c] = chunk[c]
    return phot, out


def _source_chunks(source, chunk_rows, columns=None):
    """(chunks iterator, total rows, description for the manifest) of a path or a Table."""
    from astropy.table import Table

    from .catalog import catalog_rows, iter_catalog

    if isinstance(source, Table):
        def gen():
            for s in range(0, len(source), chunk_rows):
                yield source[s:s + chunk_rows]
        digest = hashlib.sha256()
        for name in source.colnames:
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(np.asarray(source[name])).tobytes()
                          if np.asarray(source[name]).dtype.kind in "biuf" else
                          repr(np.asarray(source[name]).tolist()).encode())
        return gen(), len(source), {"table_rows": len(source), "table_sha256": digest.hexdigest()}
    path = Path(source)
    total = catalog_rows(path)
    st = path.stat()
    desc = {"source": str(path.resolve()), "source_bytes": st.st_size, "source_mtime_ns": st.st_mtime_ns}
    return iter_catalog(path, chunk_rows=chunk_rows, columns=columns), total, desc


def stream(model, source, destination, *, read=None, predict=None, chunk_rows: int = 100_000,
           keep_columns=(), progress: bool = True, overwrite: bool = False, resume: bool = True,
           config=None, on_chunk=None, format: str | None = None, desc: str = "galfast") -> dict:
    """Run ``model`` over a catalogue, chunk by chunk, into one output file.

    model : a fitted galfast model (``predict_table(photometry) -> Table``, ``bands_``)
    source : catalogue path (any format :func:`~galfast.read_catalog` reads) or an astropy Table
    destination : output path (Parquet/CSV streamed; FITS/ECSV/ASCII written at the end)
    read : ``read(chunk, row_offset) -> Photometry``; default the model's
        ``to_photometry(chunk, row_offset=…)`` (else ``Photometry.from_table`` with its bands):
        ids from an id/ID column, else row numbers counted across chunks
    predict : ``predict(photometry) -> Table``; default ``model.predict_table``
    keep_columns : input columns copied to the output beside the model's (e.g. ra, dec)
    resume : keep the parts of an interrupted run with the same arguments (``config``, the model,
        the source file's size and time) instead of starting again
    config : options that change the output (kept in the resume manifest)
    on_chunk : ``on_chunk(photometry, output_table)`` after every chunk computed (e.g. to collect
        values for a plot)

    Returns {"rows", "chunks", "resumed_chunks", "seconds", "out"}.
    """
    from tqdm.auto import tqdm

    from ._version import __version__
    from .modelfile import fingerprint

    t0 = time.perf_counter()
    if int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be ≥ 1, got {chunk_rows}")
    chunk_rows = int(chunk_rows)
    keep_columns = list(keep_columns or ())
    read, predict = chunk_functions(model, read, predict)
    chunks, total, source_desc = _source_chunks(source, chunk_rows)
    manifest = {"galfast_version": __version__, **source_desc, "chunk_rows": chunk_rows,
                "model": fingerprint(model), "keep_columns": keep_columns, "config": config or {}}
    store = PartStore(destination, manifest, overwrite=overwrite, resume=resume)
    resumed = len(store.done)
    offset = n_chunks = 0
    with tqdm(total=total, unit="obj", desc=desc, disable=not progress, smoothing=0.1) as bar:
        for i, chunk in enumerate(chunks):
            n_chunks += 1
            n = len(chunk)
            if i in store.done and store.done[i] == n:
                offset += n
                bar.update(n)
                continue
            phot, out = predict_chunk(model, chunk, offset, read, predict, keep_columns, source)
            if on_chunk is not None:
                on_chunk(phot, out)
            store.write(i, out)
            offset += n
            bar.update(n)
    store.finish(n_chunks, format=format)
    return {"rows": offset, "chunks": n_chunks, "resumed_chunks": resumed,
            "seconds": time.perf_counter() - t0, "out": str(destination)}

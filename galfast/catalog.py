"""Catalogue I/O: FITS, ECSV, whitespace ASCII, CSV and Parquet into astropy Tables and back.

``read_catalog`` and ``write_catalog`` pick the format from the file name (or ``format=``);
``iter_catalog`` streams a large file in chunks of rows (Parquet and CSV without loading the
whole file).  Every table read is normalised the same way, whatever wrote the file:

* columns are in native byte order (FITS stores big-endian; Arrow, NumPy kernels and torch
  want native), so any column can be written to any format;
* missing values — Parquet/Arrow nulls (pandas writes NaN as null), empty CSV cells, ``nan``
  text, masked FITS/ECSV values — become masked columns; a masked float column holds NaN under
  its mask, which :class:`~galfast.Photometry` reads as "not observed";
* units stored by galfast (Parquet field metadata) or by astropy (FITS TUNIT, ECSV) are kept.

Unreadable files (not the format their name says, truncated, empty) raise
:class:`~galfast.CatalogError` naming the file and the reason.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import MaskedColumn, Table

from .errors import CatalogError

__all__ = ["read_catalog", "write_catalog", "iter_catalog", "catalog_rows", "guess_format",
           "table_to_arrow", "native_table", "native_array", "FORMATS", "STREAMED_FORMATS"]

#: galfast format name -> (astropy format name, file suffixes)
FORMATS = {
    "fits": ("fits", (".fits", ".fit", ".fits.gz", ".fts")),
    "ecsv": ("ascii.ecsv", (".ecsv",)),
    "csv": ("ascii.csv", (".csv",)),
    "parquet": ("parquet", (".parquet", ".pq")),
    "ascii": ("ascii.basic", (".ascii", ".txt", ".dat", ".cat")),
}
#: formats read and written chunk by chunk in bounded memory (the others are read or written whole)
STREAMED_FORMATS = ("parquet", "csv")


def guess_format(path, format: str | None = None) -> str:
    """The galfast format name for a path (or the explicit ``format``)."""
    if format is not None:
        if format not in FORMATS:
            raise CatalogError(f"unknown catalogue format {format!r}; use one of {sorted(FORMATS)}")
        return format
    name = str(path).lower()
    for fmt, (_, suffixes) in FORMATS.items():
        if name.endswith(suffixes):
            return fmt
    raise CatalogError(f"cannot tell the format of {path!s} from its suffix; pass format= "
                       f"one of {sorted(FORMATS)}")


def _check_readable(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"catalogue file not found: {path}")
    if path.is_dir():
        raise CatalogError(f"{path} is a folder, not a catalogue file")
    if path.stat().st_size == 0:
        raise CatalogError(f"catalogue file {path} is empty")
    return path


def _unreadable(path, fmt, exc) -> CatalogError:
    reason = str(exc).strip() or type(exc).__name__
    if fmt == "parquet" and "magic bytes" in reason:
        reason += " (not a Parquet file, or a truncated one)"
    return CatalogError(f"could not read {path} as {fmt}: {reason}")


def read_catalog(path, format: str | None = None, columns=None) -> Table:
    """Read a catalogue file into an astropy Table (native byte order, missing values masked).

    path : file name; format from its suffix unless ``format`` is given
    columns : optional subset of columns to read (Parquet and CSV read only those)
    """
    path = _check_readable(path)
    fmt = guess_format(path, format)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            table = arrow_to_table(pf.read(columns=_present(columns, pf.schema_arrow.names)),
                                   pf.schema_arrow)
        elif fmt == "csv":
            import pyarrow.csv as pcsv

            table = arrow_to_table(pcsv.read_csv(path, convert_options=_csv_convert(columns)))
        elif fmt == "ascii":
            table = native_table(Table.read(path, format="ascii.basic", delimiter=r"\s", guess=False))
        else:
            table = native_table(Table.read(path, format=FORMATS[fmt][0]))
    except (CatalogError, FileNotFoundError):
        raise
    except Exception as exc:  # astropy/pyarrow raise many types; name the file
        raise _unreadable(path, fmt, exc) from exc
    if len(table.colnames) == 0 or len(table) == 0:
        raise CatalogError(f"catalogue file {path} has no rows")
    if columns is not None:
        missing = [c for c in columns if c not in table.colnames]
        if missing:
            raise CatalogError(f"columns {missing} not found in {path} (columns: {table.colnames[:30]})")
        table = table[list(columns)]
    table.meta["source"] = str(path)
    return table


def _present(columns, names):
    """The requested columns the file has (the missing ones are reported by the caller)."""
    return None if columns is None else [c for c in columns if c in names]


def _csv_convert(columns):
    import pyarrow.csv as pcsv

    return pcsv.ConvertOptions(include_columns=list(columns) if columns is not None else None,
                               include_missing_columns=columns is not None)


def native_array(values: np.ndarray) -> np.ndarray:
    """``values`` in native byte order (FITS columns are big-endian)."""
    if values.dtype.byteorder == (">" if np.little_endian else "<"):
        return values.astype(values.dtype.newbyteorder("="))
    return values


def native_table(table: Table) -> Table:
    """``table`` with every column in native byte order (in place; units, masks, meta kept)."""
    for name in table.colnames:
        col = table[name]
        data = np.asarray(col.data.data if hasattr(col, "mask") else col)
        native = native_array(data)
        if native is not data:
            if hasattr(col, "mask"):
                new = MaskedColumn(native, mask=np.ma.getmaskarray(col), name=name, unit=col.unit,
                                   description=col.description, meta=col.meta)
            else:
                new = col.__class__(native, name=name, unit=getattr(col, "unit", None),
                                    description=getattr(col, "description", None),
                                    meta=getattr(col, "meta", None))
            table.replace_column(name, new)
    return table


def arrow_to_table(tab, schema=None) -> Table:
    """An astropy Table of an Arrow table or record batch.

    Numeric and boolean columns become NumPy arrays without per-value Python objects (fast; bounded
    memory when streaming); a column with nulls becomes a MaskedColumn (floats hold NaN under the
    mask); text stays text.  Units in the field metadata (``unit``, as :func:`write_catalog`
    stores them) are restored from ``schema`` (default the table's own).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from astropy import units as u

    schema = tab.schema if schema is None else schema
    out = Table()
    for name, col in zip(tab.schema.names, tab.columns):
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        t = col.type
        if pa.types.is_dictionary(t):
            col = col.dictionary_decode()
            t = col.type
        nulls = col.null_count
        if pa.types.is_null(t):
            values = MaskedColumn(np.full(len(col), np.nan), mask=np.ones(len(col), bool))
        elif pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t):
            if nulls:
                mask = col.is_null().to_numpy(zero_copy_only=False)
                fill = np.nan if pa.types.is_floating(t) else (False if pa.types.is_boolean(t) else 0)
                data = pc.fill_null(col, pa.scalar(fill, type=t)).to_numpy(zero_copy_only=False)
                values = MaskedColumn(data, mask=mask)
            else:
                values = col.to_numpy(zero_copy_only=False)
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            if nulls:
                mask = col.is_null().to_numpy(zero_copy_only=False)
                data = np.array(pc.fill_null(col, "").to_pylist(), dtype=str)
                values = MaskedColumn(data, mask=mask)
            else:
                values = np.array(col.to_pylist(), dtype=str)
        else:   # timestamps, lists, …: as Python values
            values = col.to_pylist()
        out[name] = values
        try:
            meta = schema.field(name).metadata or {}
        except KeyError:
            meta = {}
        if meta.get(b"unit"):
            out[name].unit = u.Unit(meta[b"unit"].decode(), parse_strict="silent")
        if meta.get(b"description"):
            out[name].description = meta[b"description"].decode()
    for key, value in (schema.metadata or {}).items():
        if key not in _ARROW_INTERNAL_META:   # what CatalogWriter(meta=…) stored, as text
            out.meta[key.decode(errors="replace")] = value.decode(errors="replace")
    return out


#: schema metadata written by pandas / pyarrow themselves, not copied into Table.meta
_ARROW_INTERNAL_META = (b"pandas", b"ARROW:schema", b"galfast_simulate")


def write_catalog(table, path, format: str | None = None, overwrite: bool = False) -> Path:
    """Write an astropy Table (or anything ``Table()`` accepts) to a catalogue file."""
    from .stream import CatalogWriter

    with CatalogWriter(path, format=format, overwrite=overwrite) as writer:
        writer.write(table if isinstance(table, Table) else Table(table))
    return Path(path)


def table_to_arrow(table: Table, schema=None):
    """An Arrow table of an astropy Table: native byte order, masked values as nulls, units kept
    as field metadata; with ``schema``, cast to it (the first chunk's schema, when streaming)."""
    import pyarrow as pa

    fields, arrays = [], []
    for name in table.colnames:
        col = table[name]
        masked = hasattr(col, "mask") and np.any(col.mask)
        values = native_array(np.asarray(col.data.data if hasattr(col, "mask") else col))
        if values.ndim > 1:
            raise CatalogError(f"column {name!r} has shape {values.shape[1:]} per row; Parquet/CSV "
                               "outputs take one value per row and column")
        arr = pa.array(values, mask=np.asarray(col.mask) if masked else None)
        meta = {}
        if getattr(col, "unit", None) is not None:
            meta["unit"] = col.unit.to_string()
        if getattr(col, "description", None):
            meta["description"] = str(col.description)
        fields.append(pa.field(name, arr.type, metadata=meta or None))
        arrays.append(arr)
    out = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    if schema is not None and out.schema != schema:
        if out.schema.names != schema.names:
            raise CatalogError(f"chunk columns {out.schema.names} differ from the first chunk's "
                               f"{schema.names}")
        out = out.cast(schema)
    return out


def iter_catalog(path, chunk_rows: int = 100_000, format: str | None = None, columns=None):
    """Yield astropy Tables of at most ``chunk_rows`` rows, in file order (normalised as
    :func:`read_catalog` does).  Parquet and CSV are streamed (bounded memory); other formats are
    read once and sliced.  Errors, also those found part-way through a file, name the file."""
    if int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be ≥ 1, got {chunk_rows}")
    chunk_rows = int(chunk_rows)
    path = _check_readable(path)
    fmt = guess_format(path, format)
    if fmt == "parquet":
        yield from _iter_parquet(path, chunk_rows, columns)
    elif fmt == "csv":
        yield from _iter_csv(path, chunk_rows, columns)
    else:
        table = read_catalog(path, format=fmt, columns=columns)
        for start in range(0, len(table), chunk_rows):
            chunk = table[start:start + chunk_rows]
            chunk.meta["source"] = str(path)
            yield chunk


def _iter_parquet(path, chunk_rows, columns):
    import pyarrow.parquet as pq

    try:
        # pre_buffer=False: pyarrow otherwise keeps the read-ahead buffers of every row group
        # read so far (RSS grows with the file); streaming must stay in bounded memory
        pf = pq.ParquetFile(path, pre_buffer=False)
        schema = pf.schema_arrow
    except Exception as exc:
        raise _unreadable(path, "parquet", exc) from exc
    if pf.metadata.num_rows == 0:
        raise CatalogError(f"catalogue file {path} has no rows")
    if columns is not None:
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise CatalogError(f"columns {missing} not found in {path} (columns: {schema.names[:30]})")
    done = 0
    batches = pf.iter_batches(batch_size=chunk_rows, columns=columns)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as exc:
            raise CatalogError(f"could not read {path} as parquet after row {done}: {exc}") from exc
        t = arrow_to_table(batch, schema)
        t.meta["source"] = str(path)
        done += len(t)
        yield t


def _iter_csv(path, chunk_rows, columns):
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 22),
                               convert_options=_csv_convert(columns))
    except Exception as exc:
        raise _unreadable(path, "csv", exc) from exc
    names = reader.schema.names
    buf, n, done = [], 0, 0

    def emit(tab):
        t = arrow_to_table(tab)
        t.meta["source"] = str(path)
        return t

    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except Exception as exc:
            raise CatalogError(_csv_error(path, names, exc, done + n)) from exc
        buf.append(batch)
        n += batch.num_rows
        while n >= chunk_rows:
            tab = pa.Table.from_batches(buf)
            head, rest = tab.slice(0, chunk_rows), tab.slice(chunk_rows)
            yield emit(head)
            done += chunk_rows
            buf, n = rest.to_batches(), rest.num_rows
    if n:
        yield emit(pa.Table.from_batches(buf))
    elif done == 0:
        raise CatalogError(f"catalogue file {path} has no rows")


def _csv_error(path, names, exc, rows_read) -> str:
    """A CSV conversion error with the column named (pyarrow gives its number)."""
    import re

    msg = str(exc)
    m = re.search(r"CSV column #(\d+)", msg)
    col = f" in column {names[int(m.group(1))]!r}" if m and int(m.group(1)) < len(names) else ""
    return (f"could not read {path} as csv{col}, after row {rows_read}: {msg}. The column's type was "
            "guessed from the file's first rows; if it holds text (not a number) there, fix those "
            "rows or convert the file")


def catalog_rows(path, format: str | None = None) -> int:
    """Number of rows in a catalogue file (cheap for Parquet); CatalogError if unreadable."""
    path = _check_readable(path)
    fmt = guess_format(path, format)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows
        except Exception as exc:
            raise _unreadable(path, fmt, exc) from exc
    if fmt == "csv":   # lines after the header (for progress bars; quoted newlines overcount)
        lines, last = 0, b"\n"
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 24), b""):
                lines += block.count(b"\n")
                last = block[-1:]
        return max(0, lines + (last != b"\n") - 1)
    return len(read_catalog(path, format=format))

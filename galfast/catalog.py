"""Catalogue I/O: FITS, ECSV, whitespace ASCII, CSV and Parquet into astropy Tables and back.

``read_catalog`` and ``write_catalog`` pick the format from the file name (or ``format=``);
``iter_catalog`` streams a large file in chunks of rows (Parquet and CSV without loading the
whole file).  Errors name the file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from .errors import CatalogError

__all__ = ["read_catalog", "write_catalog", "iter_catalog", "guess_format", "FORMATS"]

#: galfast format name -> (astropy format name, file suffixes)
FORMATS = {
    "fits": ("fits", (".fits", ".fit", ".fits.gz", ".fts")),
    "ecsv": ("ascii.ecsv", (".ecsv",)),
    "csv": ("ascii.csv", (".csv",)),
    "parquet": ("parquet", (".parquet", ".pq")),
    "ascii": ("ascii.basic", (".ascii", ".txt", ".dat", ".cat")),
}


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


def read_catalog(path, format: str | None = None, columns=None) -> Table:
    """Read a catalogue file into an astropy Table.

    path : file name; format from its suffix unless ``format`` is given
    columns : optional subset of columns to read (Parquet reads only those)
    """
    path = _check_readable(path)
    fmt = guess_format(path, format)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = _arrow_to_table(pq.read_table(path, columns=columns))
            _restore_parquet_meta(table, path)
        elif fmt == "ascii":
            table = Table.read(path, format="ascii.basic", delimiter=r"\s", guess=False)
        else:
            table = Table.read(path, format=FORMATS[fmt][0])
    except (CatalogError, FileNotFoundError):
        raise
    except Exception as exc:  # astropy/pyarrow raise many types; name the file
        raise CatalogError(f"could not read {path} as {fmt}: {exc}") from exc
    if len(table.colnames) == 0 or len(table) == 0:
        raise CatalogError(f"catalogue file {path} has no rows")
    if columns is not None:
        missing = [c for c in columns if c not in table.colnames]
        if missing:
            raise CatalogError(f"columns {missing} not found in {path}")
        table = table[list(columns)]
    table.meta["source"] = str(path)
    return table


def _restore_parquet_meta(table: Table, path) -> None:
    """Units written by :func:`write_catalog` into Parquet field metadata."""
    import pyarrow.parquet as pq

    from astropy import units as u

    schema = pq.read_schema(path)
    for name in table.colnames:
        meta = schema.field(name).metadata or {}
        unit = meta.get(b"unit")
        if unit:
            table[name].unit = u.Unit(unit.decode())


def write_catalog(table, path, format: str | None = None, overwrite: bool = False) -> Path:
    """Write an astropy Table (or anything ``Table()`` accepts) to a catalogue file."""
    path = Path(path)
    table = table if isinstance(table, Table) else Table(table)
    fmt = guess_format(path, format)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: v for k, v in table.meta.items() if k != "source"}
    out = Table(table, copy=False, meta=meta)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table_to_arrow(out), path, compression="zstd")
    elif fmt == "ascii":
        out.write(path, format="ascii.basic", overwrite=True)
    else:
        out.write(path, format=FORMATS[fmt][0], overwrite=True)
    return path


def table_to_arrow(table: Table):
    """An Arrow table of an astropy Table, units kept as field metadata."""
    import pyarrow as pa

    fields, arrays = [], []
    for name in table.colnames:
        col = table[name]
        values = np.asarray(col)
        if hasattr(col, "mask") and np.any(col.mask):
            arr = pa.array(values, mask=np.asarray(col.mask))
        else:
            arr = pa.array(values)
        meta = {"unit": col.unit.to_string()} if getattr(col, "unit", None) is not None else None
        fields.append(pa.field(name, arr.type, metadata=meta))
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def iter_catalog(path, chunk_rows: int = 100_000, format: str | None = None, columns=None):
    """Yield astropy Tables of at most ``chunk_rows`` rows, in file order.

    Parquet and CSV are streamed (bounded memory); other formats are read once and sliced.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be ≥ 1")
    path = _check_readable(path)
    fmt = guess_format(path, format)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            # pre_buffer=False: pyarrow otherwise keeps the read-ahead buffers of every row group
            # read so far (RSS grows with the file); streaming must stay in bounded memory
            pf = pq.ParquetFile(path, pre_buffer=False)
        except Exception as exc:
            raise CatalogError(f"could not read {path} as parquet: {exc}") from exc
        if pf.metadata.num_rows == 0:
            raise CatalogError(f"catalogue file {path} has no rows")
        schema = pf.schema_arrow
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=columns):
            t = _arrow_to_table(batch)
            _apply_arrow_units(t, schema)
            t.meta["source"] = str(path)
            yield t
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 22))
        buf = []
        n = 0
        for batch in reader:
            buf.append(batch)
            n += batch.num_rows
            while n >= chunk_rows:
                import pyarrow as pa

                tab = pa.Table.from_batches(buf)
                head, rest = tab.slice(0, chunk_rows), tab.slice(chunk_rows)
                yield _arrow_chunk(head, path, columns)
                buf, n = rest.to_batches(), rest.num_rows
        if n:
            import pyarrow as pa

            yield _arrow_chunk(pa.Table.from_batches(buf), path, columns)
    else:
        table = read_catalog(path, format=fmt, columns=columns)
        for start in range(0, len(table), chunk_rows):
            yield table[start:start + chunk_rows]


def _arrow_to_table(tab) -> Table:
    """An astropy Table of an Arrow table or record batch: null-free numeric and boolean columns as
    NumPy arrays (no per-value Python objects: fast, and streaming stays in bounded memory);
    other columns through Python values as before."""
    import pyarrow as pa

    cols = {}
    for name, col in zip(tab.schema.names, tab.columns):
        t = col.type
        if col.null_count == 0 and (pa.types.is_integer(t) or pa.types.is_floating(t)
                                    or pa.types.is_boolean(t)):
            cols[name] = col.to_numpy(zero_copy_only=False)
        else:
            cols[name] = col.to_pylist()
    return Table(cols)


def _apply_arrow_units(table: Table, schema) -> None:
    from astropy import units as u

    for name in table.colnames:
        meta = schema.field(name).metadata or {}
        if meta.get(b"unit"):
            table[name].unit = u.Unit(meta[b"unit"].decode())


def _arrow_chunk(tab, path, columns) -> Table:
    t = _arrow_to_table(tab)
    if columns is not None:
        t = t[list(columns)]
    t.meta["source"] = str(path)
    return t


def catalog_rows(path, format: str | None = None) -> int:
    """Number of rows in a catalogue file (cheap for Parquet)."""
    path = _check_readable(path)
    if guess_format(path, format) == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return len(read_catalog(path, format=format))


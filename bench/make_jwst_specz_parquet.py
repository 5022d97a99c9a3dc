"""Regenerate ``galfast/data/jwst_specz.parquet`` from the public JWST spec-z catalogue.

The source is the whitespace text file released with the kernelised local linear regression
photo-z paper (Kalná, Begley & Donnan 2024), kept outside the project: ``--src PATH``, or
``$GALFAST_SHARED/data/jwst_specz/jwst_specz_catalog.ascii``.  It is read
with galfast's own ``read_catalog(path, format="ascii")`` and written with pyarrow, zstd
compressed, every column and row kept in file order with the dtypes the reader gives (``ID``
int64, everything else float64).  The script then checks, column by column, that the Parquet file
reads back bit-identical (through pyarrow and through ``read_catalog``) and that the float values
are the correctly rounded values of the decimal text (Python ``float`` of each token), and prints
the SHA-256 of both files for ``galfast/data/README.md``.

    GALFAST_SHARED=<shared folder> .venv/bin/python bench/make_jwst_specz_parquet.py [--out PATH]
    .venv/bin/python bench/make_jwst_specz_parquet.py --src PATH [--out PATH]

The Parquet bytes depend on the pyarrow version (its writer name is stored in the file); the
values do not.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

from common import REPO
from galfast.datasets import JWST_SPECZ_SHARED, SHARED_ENV

SRC = Path(os.environ[SHARED_ENV]) / JWST_SPECZ_SHARED if os.environ.get(SHARED_ENV) else None
OUT = REPO / "galfast" / "data" / "jwst_specz.parquet"
ZSTD_LEVEL = 19


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def convert(src: Path, out: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from galfast.catalog import read_catalog

    table = read_catalog(src, format="ascii")
    names = table.colnames
    columns = {}
    for name in names:
        col = table[name]
        if getattr(col, "mask", None) is not None and np.any(col.mask):
            sys.exit(f"column {name!r} of {src} has masked values; not expected")
        columns[name] = np.asarray(col)
    arrow = pa.Table.from_arrays(
        [pa.array(columns[n]) for n in names], names=names,
    ).replace_schema_metadata({
        "galfast.source": src.name,
        "galfast.source_sha256": sha256(src),
        "galfast.description": "public JWST+HST spec-z catalogue of Kalna, Begley & Donnan "
                               "(2024), 5,667 rows; see galfast/data/README.md",
    })
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(arrow, out, compression="zstd", compression_level=ZSTD_LEVEL,
                   use_dictionary=False, use_byte_stream_split=True, row_group_size=len(table))

    # 1. bit-identical round trip, column by column, through pyarrow and through read_catalog
    back = pq.read_table(out)
    if back.schema.names != names or back.num_rows != len(table):
        sys.exit("round trip changed the columns or the number of rows")
    via_galfast = read_catalog(out)
    if via_galfast.colnames != names:
        sys.exit("read_catalog of the Parquet file gives other columns")
    for name in names:
        if back.column(name).null_count:
            sys.exit(f"column {name!r} has nulls after the round trip")
        if not _same_bits(columns[name], back.column(name).to_numpy()):
            sys.exit(f"column {name!r} differs after the pyarrow round trip")
        if not _same_bits(columns[name], np.asarray(via_galfast[name])):
            sys.exit(f"column {name!r} differs after the read_catalog round trip")

    # 2. the values are the decimal text's correctly rounded doubles (independent parser)
    lines = src.read_text().split("\n")
    header = lines[0].split()
    rows = [line.split() for line in lines[1:] if line.strip()]
    if header != names or len(rows) != len(table) or any(len(r) != len(names) for r in rows):
        sys.exit("the text file's header or row count differs from what read_catalog gave")
    for j, name in enumerate(names):
        text = [r[j] for r in rows]
        kind = columns[name].dtype.kind
        ref = np.array([int(t) for t in text] if kind == "i" else [float(t) for t in text],
                       dtype=columns[name].dtype)
        if not _same_bits(columns[name], ref):
            sys.exit(f"column {name!r}: read_catalog's values are not the text's exact values")

    print(f"{src}: {len(table)} rows x {len(names)} columns "
          f"({', '.join(sorted({str(c.dtype) for c in columns.values()}))})")
    print(f"round trip bit-identical for all {len(names)} columns; values equal the text's")
    print(f"{out}: {out.stat().st_size:,} bytes (pyarrow {pa.__version__}, zstd level {ZSTD_LEVEL})")
    print(f"sha256 {sha256(src)}  {src.name}")
    print(f"sha256 {sha256(out)}  {out.name}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", type=Path, default=SRC,
                    help=f"the text catalogue (default ${SHARED_ENV}/{JWST_SPECZ_SHARED}: {SRC})")
    ap.add_argument("--out", type=Path, default=OUT, help=f"the Parquet file (default {OUT})")
    args = ap.parse_args(argv)
    if args.src is None:
        ap.error(f"no source catalogue: pass --src PATH or set {SHARED_ENV} to the shared-data folder")
    if not args.src.exists():
        sys.exit(f"source catalogue not found: {args.src} (set {SHARED_ENV} or pass --src)")
    convert(args.src, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

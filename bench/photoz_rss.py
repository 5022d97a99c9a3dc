"""Peak memory of ``galfast photoz`` streaming a large Parquet catalogue (default 10⁷ rows).

    python bench/photoz_rss.py [--rows 10000000] [--chunk-rows 100000] [--keep]

Writes a target file by resampling the JWST spec-z catalogue's galaxies
(``galfast.datasets.jwst_specz_path()``) with 0.03 mag noise
(missing bands kept), runs the CLI in a child process, and prints its peak RSS (getrusage of the
child) and throughput.  Target: peak RSS < 2 GB.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

BANDS = ["f435w", "f606w", "f814w", "f090w", "f115w", "f150w", "f200w", "f277w", "f356w", "f410m", "f444w"]


def make_files(d: Path, rows: int, block: int = 1_000_000):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from galfast.catalog import read_catalog, write_catalog
    from galfast.datasets import jwst_specz_path

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = read_catalog(jwst_specz_path())   # the bundled Parquet copy, or $GALFAST_SHARED's text file
    z = np.asarray(t["zspec"])
    t = t[(z != -99) & (z <= 7)]
    write_catalog(t, d / "train.fits", overwrite=True)
    rng = np.random.default_rng(0)
    cols = {c: np.asarray(t[c], dtype=float) for b in BANDS for c in (b, b + "_err")}
    writer = None
    for start in range(0, rows, block):
        n = min(block, rows - start)
        pick = rng.integers(0, len(t), n)
        arrays = {"id": np.arange(start, start + n, dtype=np.int64)}
        for b in BANDS:
            f = cols[b][pick]
            arrays[b] = np.where(f > 0, f * 10 ** (-0.4 * rng.normal(0, 0.03, n)), f)
            arrays[b + "_err"] = cols[b + "_err"][pick]
        tab = pa.table(arrays)
        if writer is None:
            writer = pq.ParquetWriter(d / "target.parquet", tab.schema, compression="zstd")
        writer.write_table(tab)
    writer.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--chunk-rows", type=int, default=100_000)
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    args = ap.parse_args(argv)
    d = Path(args.dir or tempfile.mkdtemp(prefix="galfast_photoz_rss_"))
    d.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not (d / "target.parquet").exists():
        make_files(d, args.rows)
    print(f"target file: {args.rows:,} rows, {(d / 'target.parquet').stat().st_size / 1e6:.0f} MB "
          f"(made in {time.perf_counter() - t0:.0f} s)", flush=True)
    cmd = [sys.executable, "-m", "galfast.cli", "photoz", "--train", str(d / "train.fits"),
           "--catalog", str(d / "target.parquet"), "--bands", *BANDS, "--id-column", "id",
           "--out", str(d / "out.parquet"), "--chunk-rows", str(args.chunk_rows), "--overwrite",
           "--no-progress"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB → MiB
    import pyarrow.parquet as pq

    n_out = pq.ParquetFile(d / "out.parquet").metadata.num_rows
    print(f"galfast photoz: {n_out:,} rows out in {dt:.0f} s ({n_out / dt:,.0f} rows/s end to end), "
          f"peak RSS {peak:,.0f} MiB (target < 2 GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

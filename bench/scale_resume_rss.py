"""SIGKILL ``galfast photoz`` / ``galfast props predict`` at a random chunk of a large Parquet run
(default 10⁷ rows), rerun the same command, check every row once in input order, and report
each child's peak RSS.

    python bench/scale_resume_rss.py [--rows 10000000] [--chunk-rows 100000] [--dir D] [--only photoz]

The target file is bench/photoz_rss.py's (the JWST spec-z galaxies resampled with 0.03 mag
noise).  The resumed output is checked: ids = 0 … N−1 in order (every row exactly once), and
three random chunks equal the same chunks predicted in this process (the uninterrupted result,
without paying for a third full run).  Peak RSS per child from ``os.wait4`` (target < 2 GB).
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from common import load_sibling

rss = load_sibling("photoz_rss")


def _child(cmd, kill_at=None, parts=None):
    """Run ``cmd``; with ``kill_at``, SIGKILL it once ``parts`` holds that many part files.
    Returns (seconds, peak RSS MiB, parts found at the kill)."""
    t0 = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    proc = subprocess.Popen(cmd, env=env)
    found = None
    if kill_at is not None:
        while True:
            found = len(list(parts.glob("part_*.parquet"))) if parts.exists() else 0
            if found >= kill_at:
                os.kill(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                raise SystemExit("the run finished before the kill")
            time.sleep(0.05)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    if kill_at is None and status != 0:
        raise SystemExit(f"{cmd} failed ({status})")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, found


def _props_model(d: Path) -> Path:
    from galfast import PropertyRegressor
    from galfast.datasets import load_demo_catalog

    path = d / "props.safetensors"
    if not path.exists():
        t = load_demo_catalog()[:4000]
        PropertyRegressor(targets=("log_mstar", "log_sfr", "av"), use_redshift=False, epochs=30,
                          n_jobs=2, random_state=0).fit(t).save(path)
    return path


def _photoz_model(d: Path) -> Path:
    from galfast import KLLRPhotoZ, Photometry
    from galfast.catalog import read_catalog

    path = d / "photoz.safetensors"
    if not path.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = read_catalog(d / "train.fits")
            KLLRPhotoZ().fit(Photometry.from_table(t, rss.BANDS, z_column="zspec", id_column=None)).save(path)
    return path


def _check(kind, model_path, target, out, rows, chunk_rows, rng):
    import pyarrow.parquet as pq

    from galfast import load_model
    from galfast.catalog import arrow_to_table

    ids = pq.read_table(out, columns=["id"]).column(0).to_numpy()
    assert len(ids) == rows and (ids == np.arange(rows)).all(), "rows missing, duplicated or out of order"
    model = load_model(model_path)
    pf, got = pq.ParquetFile(target), pq.ParquetFile(out)
    for start in sorted(rng.sample(range(0, rows, chunk_rows), 3)):
        n = min(chunk_rows, rows - start)
        chunk = arrow_to_table(pq.read_table(target).slice(start, n)) if rows <= 10**6 else \
            arrow_to_table(_rows(pf, start, n))
        ref = model.predict_table(model.to_photometry(chunk, row_offset=start))
        back = _rows(got, start, n)
        for c in ref.colnames:
            a = np.asarray(ref[c])
            np.testing.assert_array_equal(a, back.column(c).to_numpy(zero_copy_only=False).astype(a.dtype),
                                          err_msg=f"{kind} {c} rows {start}…")
    return True


def _rows(pf, start, n):
    """Rows start … start+n−1 of a ParquetFile (reading only the row groups that hold them)."""
    import pyarrow as pa

    md, tables, first = pf.metadata, [], 0
    for g in range(md.num_row_groups):
        m = md.row_group(g).num_rows
        if first + m > start and first < start + n:
            tables.append((first, pf.read_row_group(g)))
        first += m
    t = pa.concat_tables([x for _, x in tables])
    return t.slice(start - tables[0][0], n)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--chunk-rows", type=int, default=100_000)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--only", choices=("photoz", "props"), default=None)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    d = Path(args.dir or tempfile.mkdtemp(prefix="galfast_resume_"))
    d.mkdir(parents=True, exist_ok=True)
    if not (d / "target.parquet").exists():
        rss.make_files(d, args.rows)
    seed = random.randrange(10**6) if args.seed is None else args.seed
    rng = random.Random(seed)
    n_chunks = -(-args.rows // args.chunk_rows)
    models = {"photoz": _photoz_model(d), "props": _props_model(d)}
    for kind in ("photoz", "props"):
        if args.only and kind != args.only:
            continue
        out = d / f"{kind}.parquet"
        for p in (out,):
            if p.exists():
                p.unlink()
        head = ["photoz"] if kind == "photoz" else ["props", "predict"]
        cmd = [sys.executable, "-m", "galfast.cli", *head, "--model", str(models[kind]), "--catalog",
               str(d / "target.parquet"), "--id-column", "id", "--out", str(out), "--chunk-rows",
               str(args.chunk_rows), "--no-progress"] + (["--jobs", "2"] if kind == "props" else [])
        kill_at = rng.randint(1, n_chunks - 2)
        t1, rss1, found = _child(cmd, kill_at, Path(str(out) + ".parts"))
        t2, rss2, _ = _child(cmd)
        ok = _check(kind, models[kind], d / "target.parquet", out, args.rows, args.chunk_rows, rng)
        print(f"{kind}: {args.rows:,} rows, SIGKILL after {found}/{n_chunks} chunks ({t1:.0f} s), rerun "
              f"{t2:.0f} s; every row once in order: {ok}; peak RSS killed run {rss1:,.0f} MiB, rerun "
              f"{rss2:,.0f} MiB (target < 2 GB); seed {seed}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

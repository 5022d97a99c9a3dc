"""Rows per second of the Dask scale-out (1 and 2 local workers) against the single-process CLI
on the same Parquet file, and Dask's per-task overhead (for the partition size that keeps it
< 1 %).

    python bench/scale_bench.py [--rows 200000] [--group 10000] [--dir D] [--out bench/scale_results.json]

* end to end: ``galfast photoz|props predict`` as a child process, single-process vs
  ``--workers 1`` vs ``--workers 2`` (these include the cluster start, a few seconds);
* compute only: ``galfast.stream.stream`` in this process vs ``galfast.scale.run`` on an already
  started LocalCluster of 1 and of 2 worker processes (1 thread each), same file, same model;
* overhead: 2,000 no-op tasks (``client.map``) and a ``map_partitions`` over 400 one-row
  partitions on the 2-worker cluster: seconds per task.

Machines here are shared: quote the ratios.  Threads: 1 per process (OMP_NUM_THREADS=1).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import HERE, load_sibling

os.environ.setdefault("OMP_NUM_THREADS", "1")
rss = load_sibling("photoz_rss")
resume = load_sibling("scale_resume_rss")


def _cli(kind, model, target, out, extra=()):
    head = ["photoz"] if kind == "photoz" else ["props", "predict"]
    cmd = [sys.executable, "-m", "galfast.cli", *head, "--model", str(model), "--catalog", str(target),
           "--id-column", "id", "--out", str(out), "--overwrite", "--no-progress", *extra]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _noop(x):
    return x


def overhead(client) -> dict:
    import dask.dataframe as dd
    import pandas as pd

    n = 2000
    client.gather(client.map(_noop, range(200), pure=False))      # warm
    t0 = time.perf_counter()
    client.gather(client.map(_noop, range(n), pure=False))
    per_task = (time.perf_counter() - t0) / n
    frame = dd.from_pandas(pd.DataFrame({"x": range(400)}), npartitions=400)
    t0 = time.perf_counter()
    frame.map_partitions(lambda df: df + 1, meta=frame._meta).compute()
    per_partition = (time.perf_counter() - t0) / 400
    return {"seconds_per_noop_task": per_task, "seconds_per_dataframe_partition": per_partition}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--group", type=int, default=10_000, help="rows per row group = per partition")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--out", default=str(HERE / "scale_results.json"))
    args = ap.parse_args(argv)
    d = Path(args.dir or tempfile.mkdtemp(prefix="galfast_scale_"))
    d.mkdir(parents=True, exist_ok=True)
    if not (d / "target.parquet").exists():
        rss.make_files(d, args.rows, block=args.group)
    target = d / "target.parquet"
    models = {"photoz": resume._photoz_model(d), "props": resume._props_model(d)}
    from distributed import Client, LocalCluster

    from galfast import load_model
    from galfast.scale import run
    from galfast.stream import stream

    results = {"rows": args.rows, "rows_per_partition": args.group, "cpu": os.cpu_count()}
    for kind, path in models.items():
        model = load_model(path)
        r = results[kind] = {}
        # end to end (child processes)
        r["cli_single_s"] = _cli(kind, path, target, d / f"{kind}_single.parquet",
                                 ["--chunk-rows", str(args.group)])
        for w in (1, 2):
            r[f"cli_workers{w}_s"] = _cli(kind, path, target, d / f"{kind}_w{w}", ["--workers", str(w)])
        # compute only
        t0 = time.perf_counter()
        stream(model, target, d / f"{kind}_s.parquet", chunk_rows=args.group, progress=False,
               overwrite=True, resume=False)
        r["stream_s"] = time.perf_counter() - t0
        for w in (1, 2):
            with LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                              dashboard_address=":0") as cluster, Client(cluster) as client:
                run(model, target, d / "warm", client=client, progress=False, overwrite=True)   # warm
                t0 = time.perf_counter()
                run(model, target, d / f"{kind}_d{w}", client=client, progress=False, overwrite=True)
                r[f"dask_workers{w}_s"] = time.perf_counter() - t0
                if w == 2 and "overhead" not in results:
                    results["overhead"] = overhead(client)
        for k in list(r):
            r[k[:-2] + "_rows_per_s"] = args.rows / r[k]
        base = r["stream_rows_per_s"]
        print(f"{kind}: single-process stream {base:,.0f} rows/s; Dask 1 worker ×"
              f"{r['dask_workers1_rows_per_s'] / base:.2f}, 2 workers ×{r['dask_workers2_rows_per_s'] / base:.2f}"
              f" (compute only); end to end CLI {r['cli_single_rows_per_s']:,.0f} rows/s, --workers 1 ×"
              f"{r['cli_workers1_rows_per_s'] / r['cli_single_rows_per_s']:.2f}, --workers 2 ×"
              f"{r['cli_workers2_rows_per_s'] / r['cli_single_rows_per_s']:.2f}", flush=True)
    o = results["overhead"]
    print(f"Dask overhead: {o['seconds_per_noop_task'] * 1e3:.2f} ms per no-op task, "
          f"{o['seconds_per_dataframe_partition'] * 1e3:.2f} ms per dataframe partition (2 workers)")
    Path(args.out).write_text(json.dumps(results, indent=1))
    shutil.rmtree(d / "warm", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Interrupted command-line runs: ``galfast photoz`` and ``galfast props predict`` SIGKILLed at a
random chunk and started again with the same command finish with every row exactly once, in
input order, equal to an uninterrupted run."""
import os
import random
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from galfast import KLLRPhotoZ, PropertyRegressor, read_catalog
from galfast.bands import JWST_HST_BANDS
from galfast.datasets import load_demo_catalog

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_ROWS, CHUNK = 24_000, 500           # 48 chunks
TINY = dict(targets=("log_mstar", "av"), hidden=(16,), epochs=5, patience=5, n_jobs=1, random_state=0)


@pytest.fixture(scope="module")
def files(tmp_path_factory, jwst_phot):
    d = tmp_path_factory.mktemp("resume")
    t = load_demo_catalog()
    rng = np.random.default_rng(1)
    pick = rng.integers(0, len(t), N_ROWS)
    cols = {"objid": rng.permutation(N_ROWS) * 3 + 11}      # ids not in row order
    for c in [c for b in JWST_HST_BANDS for c in (b, b + "_err")] + ["z"]:
        cols[c] = np.asarray(t[c], float)[pick]
    pq.write_table(pa.table(cols), d / "survey.parquet", row_group_size=4_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        KLLRPhotoZ().fit(jwst_phot.select(np.arange(0, len(jwst_phot), 4))).save(d / "photoz.safetensors")
    PropertyRegressor(**TINY).fit(t[:400]).save(d / "props.safetensors")
    return d


def _command(kind, d, out):
    head = ["photoz"] if kind == "photoz" else ["props", "predict"]
    return [sys.executable, "-m", "galfast.cli", *head, "--model", str(d / f"{kind}.safetensors"),
            "--catalog", str(d / "survey.parquet"), "--out", str(out), "--chunk-rows", str(CHUNK),
            "--no-progress"]


def _env():
    return {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "OMP_NUM_THREADS": "1"}


def kill_at_random_chunk(cmd, parts, n_chunks, rng, timeout=300):
    """Start ``cmd``, SIGKILL it once ``parts`` holds a random number (1 … n_chunks − 2) of part
    files; returns that number (the parts found just before the kill)."""
    target = rng.randint(1, n_chunks - 2)
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            found = len(list(parts.glob("part_*.parquet"))) if parts.exists() else 0
            if found >= target:
                break
            if proc.poll() is not None:
                raise AssertionError(f"finished before the kill: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return found


@pytest.mark.parametrize("kind", ["photoz", "props"])
def test_sigkilled_run_resumes_to_the_uninterrupted_result(files, tmp_path, kind):
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    whole = tmp_path / "whole.parquet"
    from galfast.cli import main

    assert main(_command(kind, files, whole)[3:]) == 0             # uninterrupted, in this process
    out = tmp_path / "out.parquet"
    parts = tmp_path / "out.parquet.parts"
    n_chunks = N_ROWS // CHUNK
    found = kill_at_random_chunk(_command(kind, files, out), parts, n_chunks, rng)
    assert not out.exists() and 1 <= found < n_chunks, f"seed {seed}"
    left = len(list(parts.glob("part_*.parquet")))
    res = subprocess.run(_command(kind, files, out), env=_env(), check=True, capture_output=True, text=True)
    assert not parts.exists(), f"seed {seed}"
    if kind == "photoz":
        assert f"{left} chunks resumed" in res.stdout, (seed, res.stdout)
    else:
        assert f"{left} resumed" in res.stdout, (seed, res.stdout)
    a, b = read_catalog(whole), read_catalog(out)
    ids = np.asarray(pq.read_table(files / "survey.parquet", columns=["objid"]).column(0))
    np.testing.assert_array_equal(np.asarray(b["id"]), ids)        # every row once, input order
    assert a.colnames == b.colnames
    for c in a.colnames:
        np.testing.assert_array_equal(np.asarray(a[c]), np.asarray(b[c]), err_msg=f"{c} (seed {seed})")

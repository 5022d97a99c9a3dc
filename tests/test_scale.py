"""galfast.scale: fitted models on Dask (a LocalCluster of 2 worker processes) and LSDB catalogues,
equal row for row to the single-process stream; a worker killed mid-run loses nothing."""
import os
import cloudpickle as pickle
import signal
import threading
import time
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from galfast import KLLRPhotoZ, PropertyRegressor, read_catalog
from galfast.bands import JWST_HST_BANDS
from galfast.cli import main
from galfast.datasets import load_demo_catalog
from galfast.scale import RUN_FILE, apply_model, read_frame, run
from galfast.stream import stream

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

N_ROWS, GROUP = 100_000, 5_000          # 20 partitions of 5,000 rows
TINY = dict(targets=("log_mstar", "av"), hidden=(16,), epochs=5, patience=5, n_jobs=1, random_state=0)


def _survey(n, seed=0):
    """``n`` rows resampled from the demo catalogue with 0.03 mag noise, ra/dec, no id column."""
    t = load_demo_catalog()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(t), n)
    cols = {}
    for b in JWST_HST_BANDS:
        f = np.asarray(t[b], float)[pick]
        cols[b] = np.where(f > 0, f * 10 ** (-0.4 * rng.normal(0, 0.03, n)), f)
        cols[b + "_err"] = np.asarray(t[b + "_err"], float)[pick]
    cols["z"] = np.asarray(t["z"], float)[pick]
    cols["ra"] = rng.uniform(0, 360, n)
    cols["dec"] = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    return pa.table(cols)


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    path = tmp_path_factory.mktemp("survey") / "survey.parquet"
    pq.write_table(_survey(N_ROWS), path, row_group_size=GROUP)
    return path


@pytest.fixture(scope="module")
def photoz_model(jwst_phot, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = KLLRPhotoZ().fit(jwst_phot.select(np.arange(0, len(jwst_phot), 4)))
    model.save(tmp_path_factory.mktemp("models") / "photoz.safetensors")
    return model


@pytest.fixture(scope="module")
def props_model():
    return PropertyRegressor(**TINY).fit(load_demo_catalog()[:400])


@pytest.fixture(scope="module")
def single(survey, photoz_model, props_model, tmp_path_factory):
    """The single-process results (galfast.stream.stream), as astropy Tables."""
    d = tmp_path_factory.mktemp("single")
    stream(photoz_model, survey, d / "photoz.parquet", chunk_rows=7_000, progress=False)
    stream(props_model, survey, d / "props.parquet", chunk_rows=7_000, progress=False)
    return {"photoz": read_catalog(d / "photoz.parquet"), "props": read_catalog(d / "props.parquet")}


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def _assert_equal(expected, got):
    """Every column of the single-process Table equal to the frame's / Table's, row for row."""
    got_cols = got.colnames if hasattr(got, "colnames") else list(got.columns)
    assert [c for c in expected.colnames] == [c for c in got_cols if c in expected.colnames]
    assert len(expected) == len(got)
    for c in expected.colnames:
        a = np.asarray(expected[c])
        b = got[c].to_numpy() if hasattr(got[c], "to_numpy") else np.asarray(got[c])
        np.testing.assert_array_equal(a, np.asarray(b, dtype=a.dtype), err_msg=c)


def _parts(folder):
    """The output folder of run(), read part by part in order, as one Arrow table."""
    files = sorted(folder.glob("part_*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]), len(files)


def test_dask_frame_on_a_cluster_equals_the_single_process_run(survey, photoz_model, single, client):
    frame = dd.read_parquet(survey, split_row_groups=True)
    assert frame.npartitions == N_ROWS // GROUP
    pred = apply_model(photoz_model, frame)
    assert list(pred._meta.columns) == single["photoz"].colnames      # explicit meta from the model
    out = pred.compute()
    assert list(out.dtypes) == list(pred._meta.dtypes)
    _assert_equal(single["photoz"], out)
    np.testing.assert_array_equal(out["id"].to_numpy(), np.arange(N_ROWS))   # row numbers across partitions


def test_model_is_shipped_once_not_per_partition(survey, photoz_model, client):
    frame = dd.read_parquet(survey, split_row_groups=True)
    model_bytes = len(pickle.dumps(photoz_model))
    pred = apply_model(photoz_model, frame, client=client)            # scattered to both workers
    graph = dict(pred.__dask_graph__())
    assert len(pickle.dumps(graph)) < model_bytes / 4     # the graph holds a key, not the model
    held = client.has_what()
    job_keys = [k for keys in held.values() for k in keys if "_Job" in str(k)]
    assert len(job_keys) == 2 and len(set(job_keys)) == 1              # one value, on both workers
    lazy = apply_model(photoz_model, frame, ship="delayed")            # no client: one graph node
    graph = dict(lazy.__dask_graph__())
    assert model_bytes < len(pickle.dumps(graph)) < 1.5 * model_bytes


def test_run_writes_parquet_parts_equal_to_the_single_process_run(survey, props_model, single, client,
                                                                   tmp_path):
    r = run(props_model, survey, tmp_path / "props_parts", client=client, progress=False)
    assert (r["rows"], r["chunks"], r["workers"]) == (N_ROWS, N_ROWS // GROUP, 2)
    table, n_files = _parts(tmp_path / "props_parts")
    assert n_files == N_ROWS // GROUP and (tmp_path / "props_parts" / RUN_FILE).exists()
    _assert_equal(single["props"], table.to_pandas())
    assert table.schema.field("log_mstar").metadata[b"unit"]        # units kept in the parts


def test_lsdb_catalogue(tmp_path, photoz_model, client):
    lsdb = pytest.importorskip("lsdb")
    t = _survey(30_000, seed=5)
    t = t.append_column("id", pa.array(np.arange(30_000) + 7_000_000))
    df = t.to_pandas()
    lsdb.from_dataframe(df, ra_column="ra", dec_column="dec", catalog_name="survey",
                        partition_rows=4_000, margin_threshold=None).write_catalog(tmp_path / "survey_hats")
    cat = read_frame(tmp_path / "survey_hats")
    assert isinstance(cat, lsdb.Catalog) and cat.npartitions > 2
    pred = apply_model(photoz_model, cat)
    assert isinstance(pred, lsdb.Catalog)             # ra/dec kept: still a spatial catalogue
    out = pred.compute().sort_values("id")
    ref = photoz_model.predict_table(photoz_model.to_photometry(read_catalog_from(t)))
    _assert_equal(ref, out)
    np.testing.assert_allclose(out["ra"].to_numpy(), df["ra"].to_numpy())


def read_catalog_from(arrow):
    from galfast.catalog import arrow_to_table

    return arrow_to_table(arrow)


def test_cli_photoz_on_a_scheduler_and_props_on_local_workers(survey, photoz_model, props_model, single,
                                                             client, tmp_path, capsys):
    model = tmp_path / "photoz.safetensors"
    photoz_model.save(model)
    assert main(["photoz", "--model", str(model), "--catalog", str(survey), "--out",
                 str(tmp_path / "pz"), "--dask", client.scheduler.address, "--no-progress"]) == 0
    _assert_equal(single["photoz"], _parts(tmp_path / "pz")[0].to_pandas())
    props_file = props_model.save(tmp_path / "props.safetensors")
    small = tmp_path / "small.parquet"
    pq.write_table(pq.read_table(survey).slice(0, 20_000), small, row_group_size=GROUP)
    assert main(["props", "predict", "--model", str(props_file), "--catalog", str(small), "--out",
                 str(tmp_path / "pp"), "--workers", "2", "--no-progress"]) == 0
    assert "20,000 rows written" in capsys.readouterr().out
    _assert_equal(single["props"][:20_000], _parts(tmp_path / "pp")[0].to_pandas())


def test_rerun_resumes_and_output_is_refused_without_overwrite(survey, photoz_model, single, client, tmp_path):
    out = tmp_path / "pz"
    r = run(photoz_model, survey, out, client=client, progress=False)
    with pytest.raises(FileExistsError, match="pz"):
        run(photoz_model, survey, out, client=client, progress=False)
    # an interrupted run: parts 0–4 left in pz.parts/ → the rerun computes only the others
    (out / RUN_FILE).rename(out / "manifest.json")
    for f in sorted(out.glob("part_*.parquet"))[5:]:
        f.unlink()
    out.rename(tmp_path / "pz.parts")
    r = run(photoz_model, survey, out, client=client, progress=False)
    assert r["resumed_chunks"] == 5
    _assert_equal(single["photoz"], _parts(out)[0].to_pandas())


def test_a_killed_worker_loses_no_row(survey, photoz_model, single, client, tmp_path):
    """One of the two worker processes is SIGKILLed while the run is in flight: the job
    finishes, every input row appears exactly once, equal to the single-process result."""
    out = tmp_path / "pz"
    result, errors = {}, []

    def work():
        try:
            result.update(run(photoz_model, survey, out, client=client, progress=False))
        except BaseException as exc:      # pragma: no cover - reported below
            errors.append(exc)

    pids = client.run(os.getpid)
    thread = threading.Thread(target=work)
    thread.start()
    parts = tmp_path / "pz.parts"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(parts.glob("part_*.parquet"))) < 2:
        time.sleep(0.01)
    busy = [w for w, keys in client.processing().items() if keys] or list(pids)
    n_before = len(list(parts.glob("part_*.parquet")))
    os.kill(pids[busy[0]], signal.SIGKILL)
    alive_at_kill = thread.is_alive()
    thread.join(300)
    assert not errors, errors
    assert alive_at_kill and n_before < N_ROWS // GROUP        # killed mid-run
    table, n_files = _parts(out)
    assert n_files == N_ROWS // GROUP
    ids = table.column("id").to_numpy()
    np.testing.assert_array_equal(ids, np.arange(N_ROWS))       # every row exactly once, in order
    _assert_equal(single["photoz"], table.to_pandas())
    assert set(client.run(os.getpid).values()) != set(pids.values())   # a worker was replaced

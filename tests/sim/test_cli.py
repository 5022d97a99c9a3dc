"""``galfast simulate``: shared option names, every output format, resume, errors with rc 1."""
import json
import re

import numpy as np
import pytest

from astropy.table import Table

from galfast.catalog import read_catalog, write_catalog
from galfast.errors import CatalogWarning

pytest.importorskip("bagpipes", reason="bagpipes (galfast[sim]) is not installed")

from galfast.sim import simulate  # noqa: E402
from galfast.sim.runner import simulation_config  # noqa: E402


def galfast(*argv):
    from galfast.cli import main

    return main(["simulate", *map(str, argv)])


def test_parquet_with_depth_pairs_workers_and_quiet(tmp_path, capsys):
    out = tmp_path / "cli.parquet"
    assert galfast("--n", 40, "--bands", "F150W,F444W", "--depths", "F150W=28,F444W=27.5", "--seed", 3,
                   "--jobs", 2, "--chunk-rows", 16, "--quiet", "--out", out) == 0
    assert "40 rows" in capsys.readouterr().out
    t = read_catalog(out)
    assert len(t) == 40
    np.testing.assert_allclose(t["jwst_f150w_err"], 10 ** (-0.4 * (28 - 23.9)) / 5, rtol=1e-6)
    api = simulate(40, ["F150W", "F444W"], depths={"F150W": 28, "F444W": 27.5}, seed=3, progress=False)
    np.testing.assert_array_equal(np.asarray(t["jwst_f444w"]), np.asarray(api["jwst_f444w"]))
    spec = tmp_path / "errors.json"
    spec.write_text(json.dumps({"F150W": [[24, 26, 28], [0.02, 0.1, 0.5]], "F444W": 28.0}))
    assert galfast("--n", 30, "--bands", "F150W", "F444W", "--depths", spec, "--no-progress",
                   "--sfh", "constant_burst", "--z", 1, 3, "--out", tmp_path / "json.parquet") == 0
    t = read_catalog(tmp_path / "json.parquet")
    np.testing.assert_allclose(t["jwst_f444w_err"], 10 ** (-0.4 * (28 - 23.9)) / 5, rtol=1e-6)
    assert {"burst_age", "burst_frac"} <= set(t.colnames) and np.all((np.asarray(t["z"]) >= 1))


@pytest.mark.parametrize("suffix", [".fits", ".ecsv", ".csv"])
def test_any_catalogue_format_with_a_band_set_and_the_shared_aliases(tmp_path, capsys, suffix):
    out = tmp_path / f"mocks{suffix}"
    assert galfast("--n", 50, "--bands", "jwst_hst", "--seed", 4, "--threads", 2, "--chunk-rows", 20,
                   "--missing-fraction", 0.1, "--quiet", "--out", out) == 0
    assert f"wrote 50 rows to {out}" in capsys.readouterr().out
    t = read_catalog(out)
    api = simulate(50, "jwst_hst", seed=4, missing_fraction=0.1, progress=False)
    assert t.colnames == api.colnames and list(t["id"]) == list(range(50))
    for col in api.colnames:
        np.testing.assert_allclose(np.asarray(t[col], float), np.asarray(api[col], float),
                                   rtol=0 if suffix != ".csv" else 1e-6, err_msg=col)
    if suffix != ".csv":
        assert simulation_config(out) == simulation_config(api)


def test_overwrite_resume_and_errors_give_rc_1_with_the_reason(tmp_path, capsys):
    out = tmp_path / "x.parquet"
    args = ["--n", 30, "--bands", "F150W", "--seed", 1, "--chunk-rows", 10, "--quiet", "--out", out]
    assert galfast(*args) == 0
    capsys.readouterr()
    assert galfast(*args) == 1 and "x.parquet exists" in capsys.readouterr().err
    # an interrupted run with other arguments: named; --overwrite or --no-resume start afresh
    (tmp_path / "y.parquet.parts").mkdir()
    (tmp_path / "y.parquet.parts" / "manifest.json").write_text("{}")
    write_catalog(Table({"id": [0]}), tmp_path / "y.parquet.parts" / "part_000000.parquet")
    y = ["--n", 30, "--bands", "F150W", "--seed", 1, "--chunk-rows", 10, "--quiet", "--out", tmp_path / "y.parquet"]
    assert galfast(*y) == 1 and "y.parquet.parts holds an interrupted run" in capsys.readouterr().err
    assert galfast(*y, "--no-resume") == 0
    np.testing.assert_array_equal(np.asarray(read_catalog(tmp_path / "y.parquet")["jwst_f150w"]),
                                  np.asarray(read_catalog(out)["jwst_f150w"]))
    assert galfast(*args, "--overwrite", "--seed", 2) == 0
    assert simulation_config(out)["seed"] == 2
    for bad, msg in [(["--seed", -1], "seed must be an int"), (["--jobs", 0], "n_jobs=0"),
                     (["--depths", "nowhere.json"], "nowhere.json"), (["--bands", "F999Q"], "F999Q"),
                     (["--errors-from", out], "--errors-from needs --bands")]:
        argv = ["--n", 5, "--quiet", "--out", tmp_path / "bad.parquet"] + bad
        if bad[0] == "--errors-from":
            argv = [a for a in argv if a != "--bands"]
        assert galfast(*argv) == 1, bad
        assert msg in capsys.readouterr().err, bad
    assert not (tmp_path / "bad.parquet").exists()


def test_errors_measured_on_an_observed_catalogue(tmp_path, jwst_catalog_path):
    out = tmp_path / "like_jwst.parquet"
    # the catalogue repeats its own ids: a CatalogWarning naming count and file, rows kept
    with pytest.warns(CatalogWarning, match=r"74 ids in .*" + re.escape(jwst_catalog_path.name)):
        rc = galfast("--n", 200, "--bands", "jwst_hst", "--errors-from", jwst_catalog_path,
                     "--seed", 2, "--quiet", "--keep-true", "--out", out)
    assert rc == 0
    t = read_catalog(out)
    f = np.asarray(t["jwst_f444w_true"], float)
    snr = f / np.asarray(t["jwst_f444w_err"], float)
    assert np.all(snr[f > 10] < 60)     # the catalogue's error floor, unlike pure depths

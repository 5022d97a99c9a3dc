"""Simulator: forward model equals bagpipes, determinism, noise statistics, depths, resume, CLI."""
import contextlib
import io
import json

import numpy as np
import pytest

from galfast.bands import JWST_HST_BANDS, register_tophat
from galfast.errors import BandError, CatalogWarning, GalfastError
from galfast.sim import DEPTH_PRESETS, ErrorTable, Priors, add_noise, error_table

pytest.importorskip("bagpipes", reason="bagpipes (galfast[sim]) is not installed")

from galfast.sim import model_fluxes, simulate  # noqa: E402
from galfast.sim.forward import (ForwardModel, bagpipes_components, import_bagpipes,  # noqa: E402
                                 write_filter_files)

GAMA_SUBSET = ["galex_FUV", "sdss_u0", "sdss_r0", "vista_vircam_Ks", "wise_w1", "wise_w4",
               "herschel_pacs_100", "herschel_spire_250", "herschel_spire_500"]
MIRI_LSST = ["lsst_baseline_u", "lsst_baseline_g", "lsst_baseline_r", "lsst_baseline_i",
             "lsst_baseline_z", "lsst_baseline_y", "jwst_f560w", "jwst_f770w", "jwst_f1800w",
             "jwst_f2550w"]


def _random_params(fm, n, seed):
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 9.0, n)
    t_univ = fm.age_of_universe(z)
    return {"z": z, "massformed": rng.uniform(8, 11.5, n), "log_zmet": rng.uniform(-2.4, 0.75, n),
            "av": rng.uniform(0, 3, n), "log_u": rng.uniform(-4, -1, n),
            "sfh_age": t_univ * rng.uniform(0.01, 0.99, n), "sfh_tau": 10 ** rng.uniform(-1.5, 1, n),
            "burst_age": t_univ * rng.uniform(0.002, 0.9, n), "burst_frac": rng.uniform(0.01, 0.6, n)}


@pytest.mark.parametrize("bands,sfh", [(JWST_HST_BANDS, "delayed_tau"),
                                       (GAMA_SUBSET + ["test_sim_tophat"], "constant_burst"),
                                       (MIRI_LSST, "delayed_tau")],
                         ids=["jwst_hst", "gama+tophat", "miri+lsst"])
def test_forward_model_equals_bagpipes_model_galaxy(tmp_path, bands, sfh):
    register_tophat("test_sim_tophat", 6000.0, 300.0)
    pipes = import_bagpipes()
    fm = ForwardModel(bands, sfh)
    p = _random_params(fm, 12, seed=3)
    ours = fm.evaluate(p)
    files = write_filter_files(fm.bands, tmp_path)
    mg = None
    for i in range(12):
        mc = bagpipes_components(p, i, sfh)
        with contextlib.redirect_stdout(io.StringIO()):
            if mg is None:
                mg = pipes.model_galaxy(mc, filt_list=files, phot_units="mujy")
            else:
                mg.update(mc)
        ref = mg.photometry
        assert np.all(ref > 0)
        np.testing.assert_allclose(ours["flux"][i], ref, rtol=1e-3, atol=0)
        np.testing.assert_allclose(ours["flux"][i], ref, rtol=1e-9)   # in fact to rounding
        assert ours["log_mstar"][i] == pytest.approx(mg.sfh.stellar_mass, abs=1e-9)
        assert ours["log_sfr"][i] == pytest.approx(np.log10(mg.sfh.sfr), abs=1e-9)
        assert ours["age_mw"][i] == pytest.approx(mg.sfh.mass_weighted_age, rel=1e-9)
        assert ours["log_ssfr"][i] == pytest.approx(mg.sfh.ssfr, abs=1e-9)
    # log_sfr10 is bagpipes' SFR with its averaging timescale set to 10 Myr
    from bagpipes import config

    saved = config.sfr_timescale
    try:
        config.sfr_timescale = 1e7
        for i in range(12):
            with contextlib.redirect_stdout(io.StringIO()):
                mg.update(bagpipes_components(p, i, sfh))
            assert ours["log_sfr10"][i] == pytest.approx(np.log10(mg.sfh.sfr), abs=1e-9)
    finally:
        config.sfr_timescale = saved


def test_compiled_kernel_equals_numpy_path():
    from galfast.sim.forward import _kernel

    if _kernel() is None:
        pytest.skip("galfast._ext.sim_kernels not built (python setup.py build_ext --inplace)")
    bands = ["F090W", "F444W", "jwst_f770w", "herschel_pacs_160"]
    fast, slow = ForwardModel(bands, backend="compiled"), ForwardModel(bands, backend="numpy")
    p = _random_params(fast, 300, seed=4)
    p["umin"] = np.linspace(0.5, 20, 300)          # per-galaxy dust-emission templates too
    a, b = fast.evaluate(p), slow.evaluate(p)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-11, err_msg=key)
    assert np.all(a["flux"] > 0)


def test_model_fluxes_from_living_mass_and_parameter_errors():
    fm = ForwardModel(["F150W", "F444W"])
    p = _random_params(fm, 5, seed=1)
    out = fm.evaluate(p)
    p2 = dict(p)
    del p2["massformed"]
    p2["log_mstar"] = out["log_mstar"]
    np.testing.assert_allclose(model_fluxes(p2, ["F150W", "F444W"]), out["flux"], rtol=1e-10)
    # doubling the mass doubles the fluxes (linear model)
    p3 = dict(p, massformed=p["massformed"] + np.log10(2))
    np.testing.assert_allclose(fm.evaluate(p3)["flux"], 2 * out["flux"], rtol=1e-10)
    bad = dict(p, sfh_age=fm.age_of_universe(p["z"]) + 0.5)
    with pytest.raises(GalfastError, match="before the Big Bang"):
        fm.evaluate(bad)
    with pytest.raises(GalfastError, match="needs parameter"):
        fm.evaluate({"z": p["z"]})
    with pytest.raises(GalfastError, match="row 2"):
        fm.evaluate(dict(p, av=np.where(np.arange(5) == 2, np.nan, p["av"])))


def test_simulate_columns_truths_and_determinism_whatever_jobs_and_chunks():
    kw = dict(priors=Priors(z=(0.1, 7.0)), seed=7, progress=False)
    a = simulate(700, JWST_HST_BANDS, n_jobs=1, chunk_rows=700, **kw)
    b = simulate(700, JWST_HST_BANDS, n_jobs=2, chunk_rows=128, **kw)
    c = simulate(150, JWST_HST_BANDS, n_jobs=1, chunk_rows=64, **kw)
    assert len(a) == 700 and list(a["id"]) == list(range(700))
    for col in a.colnames:
        np.testing.assert_array_equal(np.asarray(a[col]), np.asarray(b[col]), err_msg=col)
        np.testing.assert_array_equal(np.asarray(a[col])[:150], np.asarray(c[col]), err_msg=col)
    cfg = json.loads(a.meta["GFSIMCFG"])
    assert cfg["seed"] == 7 and cfg["n"] == 700 and cfg["priors"]["z"] == [0.1, 7.0]
    d = simulate(150, JWST_HST_BANDS, n_jobs=1, priors=Priors(z=(0.1, 7.0)), seed=8, progress=False)
    assert not np.array_equal(np.asarray(c["z"]), np.asarray(d["z"]))
    for band in JWST_HST_BANDS:
        assert a[band].dtype == np.float32 and a[f"{band}_err"].dtype == np.float32
    z = np.asarray(a["z"])
    assert z.min() >= 0.1 and z.max() <= 7.0
    np.testing.assert_allclose(a["ebv"], np.asarray(a["av"]) / 4.05, rtol=1e-6)
    np.testing.assert_allclose(a["log_ssfr"], np.asarray(a["log_sfr"]) - np.asarray(a["log_mstar"]),
                               atol=1e-5)
    assert np.all(np.isfinite(np.asarray(a["log_ldust"])))
    lo, hi = Priors().log_mstar
    assert np.all((np.asarray(a["log_mstar"]) >= lo - 1e-5) & (np.asarray(a["log_mstar"]) <= hi + 1e-5))
    # the fluxes are the forward model of the stored truths (z, mass, SFH, …) plus noise
    params = {k: np.asarray(a[k], float) for k in ("z", "log_mstar", "log_zmet", "av", "log_u",
                                                   "sfh_age", "sfh_tau")}
    true = model_fluxes(params, JWST_HST_BANDS)
    pulls = (np.column_stack([np.asarray(a[b], float) for b in JWST_HST_BANDS]) - true) / \
        np.column_stack([np.asarray(a[f"{b}_err"], float) for b in JWST_HST_BANDS])
    assert abs(pulls.mean()) < 0.05 and abs(pulls.std() - 1) < 0.05


def test_noise_pulls_are_standard_normal_and_depths_are_honoured():
    from scipy import stats

    n = 3000
    t = simulate(n, JWST_HST_BANDS, depths="jwst_deep", seed=11, keep_true=True, progress=False,
                 priors=Priors(z=(0.2, 6.0)))
    depths = DEPTH_PRESETS["jwst_deep"]
    pulls = []
    for band in JWST_HST_BANDS:
        f, e, ft = (np.asarray(t[c], float) for c in (band, f"{band}_err", f"{band}_true"))
        pulls.append((f - ft) / e)
        f5 = 10 ** (-0.4 * (depths[band] - 23.9))
        faint = ft < f5
        assert faint.sum() > 30
        assert np.median(e[faint]) == pytest.approx(f5 / 5, rel=1e-6)
    assert np.any(np.asarray(t["acs_wfc_f435w"]) < 0)       # non-detections kept as measured
    pulls = np.concatenate(pulls)
    assert abs(pulls.mean()) < 4 / np.sqrt(pulls.size)
    assert abs(pulls.std() - 1) < 0.02
    assert stats.kstest(pulls, "norm").pvalue > 1e-3


def test_simulate_with_an_error_table():
    tab = ErrorTable.from_table({"F150W": ([26.0, 24.0, 28.0], [0.2, 0.05, 1.0])})
    t = simulate(200, ["F150W"], depths=tab, seed=1, keep_true=True, progress=False)
    np.testing.assert_allclose(t["jwst_f150w_err"], tab.sigma("F150W", np.asarray(t["jwst_f150w_true"])),
                               rtol=1e-5)


def test_missing_bands_and_bad_inputs():
    t = simulate(400, ["F090W", "F200W", "F444W"], missing_fraction=0.3, seed=2, progress=False)
    f = np.column_stack([np.asarray(t[b]) for b in ("jwst_f090w", "jwst_f200w", "jwst_f444w")])
    e = np.column_stack([np.asarray(t[f"{b}_err"]) for b in ("jwst_f090w", "jwst_f200w", "jwst_f444w")])
    assert np.array_equal(np.isnan(f), np.isnan(e))
    assert abs(np.isnan(f).mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / f.size)
    with pytest.raises(BandError, match="sdss_u0"):
        simulate(10, ["F150W", "sdss_u"], depths="jwst_deep", progress=False)
    with pytest.raises(GalfastError, match="unknown depth preset"):
        simulate(10, ["F150W"], depths="hubble_ultra", progress=False)
    with pytest.raises(BandError, match="unknown band"):
        simulate(10, ["F999Q"], progress=False)
    with pytest.raises(GalfastError, match="prior 'z'"):
        Priors(z=(3.0, 1.0))
    with pytest.raises(GalfastError, match="sfh"):
        Priors(sfh="exponential")


def test_gama_preset_with_dust_emission_and_constant_burst():
    t = simulate(60, None, depths="gama", priors=Priors(z=(0.01, 0.4), sfh="constant_burst"),
                 seed=3, keep_true=True, progress=False)
    assert len(DEPTH_PRESETS["gama"]) == 21
    assert all(b in t.colnames for b in DEPTH_PRESETS["gama"])
    assert {"burst_age", "burst_frac"} <= set(t.colnames)
    # far-infrared fluxes come from dust emission: they scale with the dust luminosity
    fir = np.asarray(t["herschel_spire_250_true"], float)
    assert np.all(fir > 0)
    ld = np.asarray(t["log_ldust"], float)
    assert np.corrcoef(np.log10(fir), ld)[0, 1] > 0.5


def test_stream_to_parquet_resumes_without_duplicates(tmp_path, monkeypatch):
    from galfast.catalog import read_catalog
    from galfast.sim import runner

    kw = dict(seed=5, chunk_rows=100, progress=False)
    ref = simulate(450, ["F115W", "F277W"], **kw)
    out = tmp_path / "sims.parquet"
    real = runner.simulate_rows
    calls = []

    def flaky(spec, start, stop):
        calls.append(start)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(spec, start, stop)

    monkeypatch.setattr(runner, "simulate_rows", flaky)
    with pytest.raises(KeyboardInterrupt):
        simulate(450, ["F115W", "F277W"], out=out, **kw)
    assert not out.exists() and len(list((tmp_path / "sims.parquet.parts").glob("part_*"))) == 2
    calls.clear()
    monkeypatch.setattr(runner, "simulate_rows", lambda *a: (calls.append(a[1]), real(*a))[1])
    got = simulate(450, ["F115W", "F277W"], out=out, **kw)
    assert sorted(calls) == [200, 300, 400]                # only the missing chunks were computed
    assert not (tmp_path / "sims.parquet.parts").exists()
    back = read_catalog(out)
    assert list(back["id"]) == list(range(450))
    for col in ref.colnames:
        np.testing.assert_array_equal(np.asarray(back[col]), np.asarray(ref[col]), err_msg=col)
        np.testing.assert_array_equal(np.asarray(got[col]), np.asarray(ref[col]), err_msg=col)
    import pyarrow.parquet as pq

    meta = json.loads(pq.read_schema(out).metadata[b"galfast_simulate"])
    assert meta["seed"] == 5 and meta["n"] == 450
    again = simulate(450, ["F115W", "F277W"], out=tmp_path / "again.parquet", return_table=False, **kw)
    assert again == tmp_path / "again.parquet" and again.exists()
    with pytest.raises(FileExistsError, match="sims.parquet"):
        simulate(450, ["F115W", "F277W"], out=out, **kw)
    # an interrupted run with other arguments is not mixed in
    (tmp_path / "other.parquet.parts").mkdir()
    (tmp_path / "other.parquet.parts" / "manifest.json").write_text("{}")
    with pytest.raises(GalfastError, match="other arguments"):
        simulate(450, ["F115W", "F277W"], out=tmp_path / "other.parquet", **kw)


def test_cli_simulate(tmp_path, capsys):
    from galfast.catalog import read_catalog
    from galfast.cli import main

    out = tmp_path / "cli.parquet"
    rc = main(["simulate", "--n", "40", "--bands", "F150W,F444W", "--depths", "F150W=28,F444W=27.5",
               "--seed", "3", "--jobs", "2", "--chunk-rows", "16", "--quiet", "--out", str(out)])
    assert rc == 0 and "40 rows" in capsys.readouterr().out
    t = read_catalog(out)
    assert len(t) == 40
    np.testing.assert_allclose(t["jwst_f150w_err"], 10 ** (-0.4 * (28 - 23.9)) / 5, rtol=1e-6)
    api = simulate(40, ["F150W", "F444W"], depths={"F150W": 28, "F444W": 27.5}, seed=3, progress=False)
    np.testing.assert_array_equal(np.asarray(t["jwst_f444w"]), np.asarray(api["jwst_f444w"]))
    spec = tmp_path / "errors.json"
    spec.write_text(json.dumps({"F150W": [[24, 26, 28], [0.02, 0.1, 0.5]], "F444W": 28.0}))
    rc = main(["simulate", "--n", "30", "--bands", "F150W", "F444W", "--depths", str(spec), "--quiet",
               "--sfh", "constant_burst", "--z", "1", "3", "--out", str(tmp_path / "json.parquet")])
    assert rc == 0
    t = read_catalog(tmp_path / "json.parquet")
    np.testing.assert_allclose(t["jwst_f444w_err"], 10 ** (-0.4 * (28 - 23.9)) / 5, rtol=1e-6)
    assert {"burst_age", "burst_frac"} <= set(t.colnames) and np.all((np.asarray(t["z"]) >= 1))
    rc = main(["simulate", "--n", "5", "--depths", "nowhere.json", "--out", str(tmp_path / "x.parquet")])
    assert rc == 1 and "nowhere.json" in capsys.readouterr().err


def test_user_tophat_bands_in_parallel_workers():
    names = [f"test_sim_jpas_{c}" for c in (4000, 5000, 6000, 7000, 8000)]
    for name, c in zip(names, (4000, 5000, 6000, 7000, 8000)):
        register_tophat(name, float(c), 145.0)
    depths = {name: 22.5 for name in names}
    a = simulate(300, names, depths=depths, seed=4, n_jobs=2, chunk_rows=100, keep_true=True,
                 priors=Priors(z=(0.05, 1.0)), progress=False)
    b = simulate(300, names, depths=depths, seed=4, n_jobs=1, keep_true=True,
                 priors=Priors(z=(0.05, 1.0)), progress=False)
    for col in a.colnames:
        np.testing.assert_array_equal(np.asarray(a[col]), np.asarray(b[col]), err_msg=col)
    true = np.column_stack([np.asarray(a[f"{n}_true"], float) for n in names])
    assert np.all(true > 0)
    # narrow bands through the model equal the forward model called directly
    params = {k: np.asarray(a[k], float) for k in ("z", "log_mstar", "log_zmet", "av", "log_u",
                                                   "sfh_age", "sfh_tau")}
    np.testing.assert_allclose(model_fluxes(params, names), true, rtol=2e-4)


def test_lsst_preset_bands_and_errors():
    t = simulate(50, None, depths="lsst_10yr", priors=Priors(z=(0.05, 3.0)), seed=9, progress=False)
    for band, m5 in DEPTH_PRESETS["lsst_10yr"].items():
        np.testing.assert_allclose(t[f"{band}_err"], 10 ** (-0.4 * (m5 - 23.9)) / 5, rtol=1e-6)
    assert np.all(np.isfinite(np.asarray(t["lsst_baseline_u"])))


def test_cli_errors_measured_on_an_observed_catalogue(tmp_path, jwst_catalog_path):
    from galfast.cli import main
    from galfast.catalog import read_catalog

    out = tmp_path / "like_jwst.parquet"
    # the shared catalogue repeats its own ids: a CatalogWarning naming count and file, rows kept
    with pytest.warns(CatalogWarning, match=r"74 ids in .*jwst_specz_catalog\.ascii occur more than once"):
        rc = main(["simulate", "--n", "200", "--bands", "jwst_hst", "--errors-from", str(jwst_catalog_path),
                   "--seed", "2", "--quiet", "--keep-true", "--out", str(out)])
    assert rc == 0
    t = read_catalog(out)
    f = np.asarray(t["jwst_f444w_true"], float)
    snr = f / np.asarray(t["jwst_f444w_err"], float)
    assert np.all(snr[f > 10] < 60)     # the catalogue's error floor, unlike pure depths

"""galfast.sim.runner: truths, determinism whatever n_jobs/chunk_rows, noise statistics, depths,
every output format, resume, and the bundled demo catalogue it made."""
import importlib.util
import json

import numpy as np
import pytest

from galfast.bands import JWST_HST_BANDS, register_tophat
from galfast.catalog import read_catalog, write_catalog
from galfast.errors import BandError, CatalogError, GalfastError
from galfast.sim import DEPTH_PRESETS, ErrorTable, Priors
from galfast.sim.runner import TRUTH_COLUMNS, simulation_config
from galfast.validation import ParameterError

requires_bagpipes = pytest.mark.skipif(importlib.util.find_spec("bagpipes") is None,
                                       reason="bagpipes (galfast[sim]) is not installed")
TWO = ["F115W", "F277W"]


def simulate(*args, **kw):
    from galfast.sim import simulate as run

    return run(*args, **{"progress": False, **kw})


def assert_same_rows(a, b, rtol=0.0):
    assert a.colnames == b.colnames
    for col in a.colnames:
        x, y = np.asarray(a[col]), np.asarray(b[col])
        if rtol:
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=rtol, err_msg=col)
        else:
            np.testing.assert_array_equal(x, y, err_msg=col)


# ------------------------------------------------------------------------------ content
@requires_bagpipes
def test_columns_truths_and_determinism_whatever_jobs_and_chunks():
    from galfast.sim import model_fluxes

    kw = dict(priors=Priors(z=(0.1, 7.0)), seed=7)
    a = simulate(700, JWST_HST_BANDS, chunk_rows=700, **kw)                 # n_jobs None = 1
    b = simulate(700, "jwst_hst", n_jobs=-1, chunk_rows=128, **kw)          # all cores, a band set
    c = simulate(150, JWST_HST_BANDS, n_jobs=1, chunk_rows=64, **kw)
    assert len(a) == 700 and list(a["id"]) == list(range(700))
    assert_same_rows(a, b)
    assert_same_rows(a[:150], c)
    cfg = json.loads(a.meta["GFSIMCFG"])
    assert cfg == simulation_config(a)
    assert cfg["seed"] == 7 and cfg["n"] == 700 and cfg["priors"]["z"] == [0.1, 7.0]
    d = simulate(150, JWST_HST_BANDS, priors=Priors(z=(0.1, 7.0)), seed=8)
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


@requires_bagpipes
def test_noise_pulls_are_standard_normal_and_depths_are_honoured():
    from scipy import stats

    t = simulate(3000, JWST_HST_BANDS, depths="jwst_deep", seed=11, keep_true=True,
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


@requires_bagpipes
def test_simulate_with_an_error_table():
    tab = ErrorTable.from_table({"F150W": ([26.0, 24.0, 28.0], [0.2, 0.05, 1.0])})
    t = simulate(200, ["F150W"], depths=tab, seed=1, keep_true=True)
    np.testing.assert_allclose(t["jwst_f150w_err"], tab.sigma("F150W", np.asarray(t["jwst_f150w_true"])),
                               rtol=1e-5)


@requires_bagpipes
def test_missing_bands_and_bad_arguments_are_value_errors():
    t = simulate(400, ["F090W", "F200W", "F444W"], missing_fraction=0.3, seed=2)
    f = np.column_stack([np.asarray(t[b]) for b in ("jwst_f090w", "jwst_f200w", "jwst_f444w")])
    e = np.column_stack([np.asarray(t[f"{b}_err"]) for b in ("jwst_f090w", "jwst_f200w", "jwst_f444w")])
    assert np.array_equal(np.isnan(f), np.isnan(e))
    assert abs(np.isnan(f).mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / f.size)
    with pytest.raises(BandError, match="sdss_u0"):
        simulate(10, ["F150W", "sdss_u"], depths="jwst_deep")
    with pytest.raises(BandError, match="unknown band"):
        simulate(10, ["F999Q"])
    with pytest.raises(BandError, match="more than once"):
        simulate(10, ["F150W", "jwst_f150w"])
    with pytest.raises(ParameterError, match="unknown depth preset"):
        simulate(10, ["F150W"], depths="hubble_ultra")
    for kw, match in [({"n": 0}, "n must"), ({"n": 2.5}, "n must"), ({"seed": -1}, "seed"),
                      ({"seed": 1.5}, "seed"), ({"seed": np.random.default_rng(0)}, "SeedSequence"),
                      ({"n_jobs": 0}, "n_jobs"), ({"n_jobs": 1.5}, "n_jobs"),
                      ({"chunk_rows": 0}, "chunk_rows"), ({"missing_fraction": 1.0}, "missing_fraction"),
                      ({"priors": {"z": (0, 1)}}, "Priors"), ({"dtype": "int32"}, "dtype")]:
        args = {"n": 10, **kw}
        with pytest.raises(ParameterError, match=match):
            simulate(args.pop("n"), ["F150W"], **args)
    assert issubclass(ParameterError, ValueError)
    assert len(simulate(5, ["F150W"], seed=np.int64(3))) == 5         # NumPy ints are ints


@requires_bagpipes
def test_gama_preset_with_dust_emission_and_constant_burst():
    t = simulate(60, None, depths="gama", priors=Priors(z=(0.01, 0.4), sfh="constant_burst"),
                 seed=3, keep_true=True)
    assert len(DEPTH_PRESETS["gama"]) == 21
    assert all(b in t.colnames for b in DEPTH_PRESETS["gama"])
    assert {"burst_age", "burst_frac"} <= set(t.colnames)
    # far-infrared fluxes come from dust emission: they scale with the dust luminosity
    fir = np.asarray(t["herschel_spire_250_true"], float)
    assert np.all(fir > 0)
    ld = np.asarray(t["log_ldust"], float)
    assert np.corrcoef(np.log10(fir), ld)[0, 1] > 0.5


@requires_bagpipes
def test_lsst_preset_bands_and_errors():
    t = simulate(50, None, depths="lsst_10yr", priors=Priors(z=(0.05, 3.0)), seed=9)
    for band, m5 in DEPTH_PRESETS["lsst_10yr"].items():
        np.testing.assert_allclose(t[f"{band}_err"], 10 ** (-0.4 * (m5 - 23.9)) / 5, rtol=1e-6)
    assert np.all(np.isfinite(np.asarray(t["lsst_baseline_u"])))


@requires_bagpipes
def test_user_tophat_bands_in_parallel_workers():
    from galfast.sim import model_fluxes

    names = [f"test_sim_jpas_{c}" for c in (4000, 5000, 6000, 7000, 8000)]
    for name, c in zip(names, (4000, 5000, 6000, 7000, 8000)):
        register_tophat(name, float(c), 145.0)
    depths = {name: 22.5 for name in names}
    a = simulate(300, names, depths=depths, seed=4, n_jobs=2, chunk_rows=100, keep_true=True,
                 priors=Priors(z=(0.05, 1.0)))
    b = simulate(300, names, depths=depths, seed=4, keep_true=True, priors=Priors(z=(0.05, 1.0)))
    assert_same_rows(a, b)
    true = np.column_stack([np.asarray(a[f"{n}_true"], float) for n in names])
    assert np.all(true > 0)
    # narrow bands through the model equal the forward model called directly
    params = {k: np.asarray(a[k], float) for k in ("z", "log_mstar", "log_zmet", "av", "log_u",
                                                   "sfh_age", "sfh_tau")}
    np.testing.assert_allclose(model_fluxes(params, names), true, rtol=2e-4)


# ------------------------------------------------------------------------------ output files
@requires_bagpipes
@pytest.mark.parametrize("suffix", [".parquet", ".fits", ".ecsv", ".csv"])
def test_every_output_format_holds_the_same_rows_and_the_arguments(tmp_path, suffix):
    kw = dict(seed=5, chunk_rows=40, missing_fraction=0.2)
    ref = simulate(100, TWO, **kw)
    out = tmp_path / f"sims{suffix}"
    got = simulate(100, TWO, out=out, **kw)
    back = read_catalog(out)
    assert list(back["id"]) == list(range(100)) and not (tmp_path / f"sims{suffix}.parts").exists()
    if suffix == ".csv":    # text: float32 values written to their shortest repr, read as float64
        assert_same_rows(back, ref, rtol=1e-6)
        assert np.array_equal(np.isnan(np.asarray(back["jwst_f115w"], float)),
                              np.isnan(np.asarray(ref["jwst_f115w"])))
        with pytest.raises(CatalogError, match="CSV files keep no metadata"):
            simulation_config(out)
    else:
        assert_same_rows(back, ref)
        assert simulation_config(out) == json.loads(ref.meta["GFSIMCFG"])
    assert_same_rows(got, back)
    assert got.meta["GFSIMCFG"] == ref.meta["GFSIMCFG"]
    with pytest.raises(FileExistsError, match=f"sims{suffix}"):
        simulate(100, TWO, out=out, **kw)
    path = simulate(100, TWO, out=out, overwrite=True, return_table=False, **kw)
    assert path == out and path.exists()


@requires_bagpipes
def test_big_endian_fits_written_by_astropy_reads_back_natively(tmp_path):
    # issue #14: Table.write("plain.fits") stores big-endian columns; they must reach any output
    from galfast.photometry import Photometry
    from galfast.sim import simulate as run

    sims = run(100, JWST_HST_BANDS, seed=5, progress=False)
    sims.write(tmp_path / "plain.fits")
    back = read_catalog(tmp_path / "plain.fits")
    for col in back.colnames:
        assert back[col].dtype.isnative, col
    assert_same_rows(back, sims)
    assert simulation_config(tmp_path / "plain.fits")["seed"] == 5
    for suffix in (".parquet", ".csv"):
        again = read_catalog(write_catalog(back, tmp_path / f"plain{suffix}"))
        np.testing.assert_allclose(np.asarray(again["jwst_f444w"], float), np.asarray(sims["jwst_f444w"]),
                                   rtol=1e-6)
    phot = Photometry.from_table(back, "jwst_hst")
    np.testing.assert_array_equal(phot.ids, np.arange(100))
    np.testing.assert_allclose(phot.flux[:, -1], np.asarray(sims["jwst_f444w"]), rtol=1e-7)


# ------------------------------------------------------------------------------ resume
@requires_bagpipes
def test_an_interrupted_run_resumes_into_the_same_file(tmp_path, monkeypatch):
    from galfast.sim import runner

    kw = dict(seed=5, chunk_rows=100)
    ref = simulate(450, TWO, out=tmp_path / "uninterrupted.parquet", **kw)
    out = tmp_path / "sims.parquet"
    parts = tmp_path / "sims.parquet.parts"
    real = runner.simulate_rows
    calls = []

    def flaky(spec, start, stop):
        calls.append(start)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(spec, start, stop)

    monkeypatch.setattr(runner, "simulate_rows", flaky)
    with pytest.raises(KeyboardInterrupt):
        simulate(450, TWO, out=out, **kw)
    assert not out.exists() and len(list(parts.glob("part_*.parquet"))) == 2
    # other arguments: refused, naming the parts folder, unless overwrite (which starts afresh)
    with pytest.raises(GalfastError, match=r"sims\.parquet\.parts.*other arguments"):
        simulate(450, TWO, out=out, seed=6, chunk_rows=100)
    with pytest.raises(GalfastError, match=r"sims\.parquet\.parts"):
        simulate(450, TWO, out=out, seed=5, chunk_rows=50)
    assert len(list(parts.glob("part_*.parquet"))) == 2
    calls.clear()
    monkeypatch.setattr(runner, "simulate_rows", lambda *a: (calls.append(a[1]), real(*a))[1])
    got = simulate(450, TWO, out=out, **kw)
    assert sorted(calls) == [200, 300, 400]                # only the missing chunks were computed
    assert not parts.exists()
    assert_same_rows(read_catalog(out), read_catalog(tmp_path / "uninterrupted.parquet"))
    assert_same_rows(got, ref)
    import pyarrow.parquet as pq

    assert pq.read_schema(out).metadata[b"GFSIMCFG"] == ref.meta["GFSIMCFG"].encode()
    # an interrupted run with other arguments is replaced with overwrite=True, and no resume
    # recomputes everything
    def interrupted_then(**again):
        monkeypatch.setattr(runner, "simulate_rows", flaky)
        calls.clear()
        with pytest.raises(KeyboardInterrupt):
            simulate(450, TWO, out=tmp_path / "other.parquet", **kw)
        monkeypatch.setattr(runner, "simulate_rows", lambda *a: (calls.append(a[1]), real(*a))[1])
        calls.clear()
        result = simulate(450, TWO, out=tmp_path / "other.parquet", **again)
        assert sorted(calls) == [0, 100, 200, 300, 400]
        return result

    six = interrupted_then(seed=6, chunk_rows=100, overwrite=True)
    assert_same_rows(six, simulate(450, TWO, seed=6))
    (tmp_path / "other.parquet").unlink()
    interrupted_then(resume=False, **kw)


@requires_bagpipes
def test_a_band_registered_again_with_another_curve_is_another_run(tmp_path, monkeypatch):
    from galfast.sim import runner

    register_tophat("test_sim_resume_band", 6000.0, 300.0)
    real = runner.simulate_rows
    monkeypatch.setattr(runner, "simulate_rows", lambda spec, s, e: real(spec, s, e) if s == 0 else 1 / 0)
    out = tmp_path / "band.parquet"
    kw = dict(depths={"test_sim_resume_band": 25.0}, seed=1, chunk_rows=10)
    with pytest.raises(ZeroDivisionError):
        simulate(20, ["test_sim_resume_band"], out=out, **kw)
    register_tophat("test_sim_resume_band", 6000.0, 600.0, overwrite=True)
    with pytest.raises(GalfastError, match=r"band\.parquet\.parts.*other arguments"):
        simulate(20, ["test_sim_resume_band"], out=out, **kw)


@requires_bagpipes
def test_a_failed_parallel_run_resumes_into_the_same_fits_file(tmp_path, monkeypatch):
    from galfast.sim import runner

    kw = dict(seed=3, chunk_rows=64, n_jobs=2)
    real = runner.simulate_rows

    def broken(spec, start, stop):    # runs in the (forked) workers
        if start == 256:
            raise RuntimeError("worker died")
        return real(spec, start, stop)

    monkeypatch.setattr(runner, "simulate_rows", broken)
    out = tmp_path / "sims.fits"
    with pytest.raises(RuntimeError, match="worker died"):
        simulate(400, TWO, out=out, **kw)
    assert not out.exists() and (tmp_path / "sims.fits.parts").is_dir()
    monkeypatch.setattr(runner, "simulate_rows", real)
    got = simulate(400, TWO, out=out, **kw)
    assert_same_rows(read_catalog(out), simulate(400, TWO, seed=3))
    assert_same_rows(got, read_catalog(out))
    assert simulation_config(out)["n"] == 400


# ------------------------------------------------------------------------------ demo catalogue
def test_demo_catalogue_content():
    import pyarrow.parquet as pq

    from galfast.datasets import demo_catalog_path, load_demo_catalog

    path = demo_catalog_path()
    assert path.stat().st_size < 8e6
    schema = pq.read_schema(path)
    t = load_demo_catalog()
    assert len(t) >= 20000
    assert list(t["id"]) == list(range(len(t)))
    for band in JWST_HST_BANDS:
        assert str(schema.field(band).type) == "float" and str(schema.field(f"{band}_err").type) == "float"
        err = np.asarray(t[f"{band}_err"], float)
        f5 = 10 ** (-0.4 * (DEPTH_PRESETS["jwst_deep"][band] - 23.9))
        np.testing.assert_allclose(err, f5 / 5, rtol=1e-6)       # background-limited jwst_deep
        flux = np.asarray(t[band], float)
        assert np.all(np.isfinite(flux)) and np.any(flux < 0)
    for col in TRUTH_COLUMNS:
        assert np.all(np.isfinite(np.asarray(t[col], float))), col
    z = np.asarray(t["z"], float)
    assert 0 < z.min() and z.max() < 7
    assert np.histogram(z, bins=7, range=(0, 7))[0].min() > 0.1 * len(t) / 7
    # the red bands detect most galaxies, the blue HST band fewer (Lyman break, dust)
    snr = {b: np.asarray(t[b], float) / np.asarray(t[f"{b}_err"], float) for b in JWST_HST_BANDS}
    assert np.mean(snr["jwst_f444w"] > 5) > 0.9 > np.mean(snr["acs_wfc_f435w"] > 5)
    # its arguments, stored by an earlier galfast under the Parquet key "galfast_simulate"
    cfg = simulation_config(path)
    assert cfg["n"] == len(t) and cfg["seed"] == 1 and cfg["bands"] == list(JWST_HST_BANDS)
    assert cfg["priors"]["z"] == [0.01, 7.0]


@requires_bagpipes
def test_demo_catalogue_is_regenerated_by_its_documented_command():
    from galfast.datasets import load_demo_catalog

    # galfast simulate --n 20000 --bands jwst_hst --depths jwst_deep --z 0.01 7 --seed 1 …
    head = simulate(300, JWST_HST_BANDS, depths="jwst_deep", priors=Priors(z=(0.01, 7.0)), seed=1)
    assert_same_rows(load_demo_catalog()[:300], head)

"""PropertyRegressor: accuracy and calibrated σ on an analytic toy universe and on the bundled
simulated JWST+HST catalogue, the output contract (one row per input row, ids, units, flags),
parameter conventions (random_state, n_jobs, bad values), model files, magnitude input."""
import numpy as np
import pytest
import torch
from astropy import units as u
from astropy.table import Table

import galfast
from galfast import flags
from galfast.bands import JWST_HST_BANDS
from galfast.datasets import load_demo_catalog
from galfast.errors import BandError, CatalogError, ModelFileError
from galfast.metrics import regression_metrics
from galfast.photometry import NOT_OBSERVED, Photometry
from galfast.props import PropertyRegressor
from galfast.props.targets import floor_log_sfr
from galfast.validation import ParameterError, available_cores

from .toy import BANDS, SMALL, mag_and_flux_tables, toy_universe


@pytest.fixture(scope="module")
def toy():
    return toy_universe(7000, seed=1)


@pytest.fixture(scope="module")
def fitted(toy):
    phot, truth, _ = toy
    return PropertyRegressor(targets=("log_mstar", "av"), random_state=0, **SMALL).fit(
        phot.select(np.arange(5000)), truth[:5000])


# ---------------------------------------------------------------------------------- accuracy
def test_accuracy_and_calibrated_sigma_on_held_out_rows(toy, fitted):
    phot, truth, snr = toy
    test = np.arange(5000, 7000)
    pred = fitted.predict_table(phot.select(test))
    assert len(pred) == 2000 and np.array_equal(pred["id"], phot.ids[test])
    assert np.all(pred["flags"] == 0)
    for name, max_sigma, min_r2 in (("log_mstar", 0.08, 0.97), ("av", 0.22, 0.88)):
        m = regression_metrics(truth[name][test], pred[name], pred[name + "_err"])
        assert m["r2"] > min_r2, (name, m)
        assert m["sigma"] < max_sigma, (name, m)
        assert abs(m["bias"]) < 0.03, (name, m)
        assert abs(m["coverage_1sigma"] - 0.683) < 0.05, (name, m)
        assert abs(m["coverage_2sigma"] - 0.954) < 0.05, (name, m)
    # the per-object σ follows the S/N: faint objects get larger σ
    s = np.asarray(pred["log_mstar_err"])
    faint, bright = snr[test] < np.percentile(snr[test], 20), snr[test] > np.percentile(snr[test], 80)
    assert np.median(s[faint]) > 3 * np.median(s[bright])
    assert fitted.score(phot.select(test), truth[test]) > 0.9


def test_joint_network_and_mae_loss(toy):
    phot, truth, _ = toy
    tr, te = np.arange(5000), np.arange(5000, 7000)
    joint = PropertyRegressor(targets=("log_mstar", "av"), per_target=False, **SMALL).fit(phot.select(tr), truth[tr])
    assert joint.model_.n_models == 1
    mae = PropertyRegressor(targets=("log_mstar",), loss="mae", **SMALL).fit(phot.select(tr), truth[tr])
    pj, pm = joint.predict_table(phot.select(te)), mae.predict_table(phot.select(te))
    assert regression_metrics(truth["log_mstar"][te], pj["log_mstar"])["r2"] > 0.95
    mm = regression_metrics(truth["log_mstar"][te], pm["log_mstar"])
    assert mm["r2"] > 0.95
    # MAE: one σ for every row = 1.4826·MAD of the validation residuals ≈ test σ_NMAD
    err = np.asarray(pm["log_mstar_err"])
    assert np.all(err == err[0])
    assert err[0] == pytest.approx(mm["sigma_nmad"], rel=0.25)


# ---------------------------------------------------------------------------------- output contract
def test_output_table_contract_columns_units_flags_dtype(toy, fitted):
    phot, _, _ = toy
    sub = phot.select(np.arange(5000, 5020)[::-1])                # any order: kept
    pred = fitted.predict_table(sub)
    assert pred.colnames == ["id", "log_mstar", "log_mstar_err", "av", "av_err", "flags"]
    assert np.array_equal(pred["id"], sub.ids)
    assert pred["log_mstar"].unit == u.dex and pred["log_mstar_err"].unit == u.dex
    assert pred["av"].unit == u.mag and pred["av_err"].unit == u.mag
    assert pred["flags"].dtype == np.int64 and pred["flags"].unit is None
    assert pred["flags"].description == flags.column_description(
        [flags.EXTRAPOLATION, flags.NO_ESTIMATE, flags.MISSING_BANDS, flags.TOO_FEW_BANDS, flags.NO_REDSHIFT])
    assert pred.meta["galfast_model"] == "galfast.PropertyRegressor"
    assert "flag" not in pred.colnames
    no_std = fitted.predict_table(sub, return_std=False)
    assert no_std.colnames == ["id", "log_mstar", "av", "flags"]
    # predict is the same table
    assert np.array_equal(fitted.predict(sub)["log_mstar"], pred["log_mstar"])


def test_flags_bits_from_the_registry(toy, fitted):
    """Bug (#8): the column was `flag` (int16) with its own bits 1/2/4; now `flags` with the
    galfast.flags bits: no band → no_estimate|too_few_bands (and missing_bands), no finite z →
    no_estimate|no_redshift, some band not observed → missing_bands, far outside → extrapolation."""
    phot, _, _ = toy
    sub = phot.select(np.arange(5000, 5010))
    flux, err, z = sub.flux.copy(), sub.flux_err.copy(), sub.z.copy()
    flux[1, :] = np.nan                       # no band observed
    z[2] = np.nan                             # redshift missing
    z[3] = np.inf
    flux[4, 2] = np.nan                       # one band not observed
    flux[5] *= 1e6                            # 15 mag brighter than anything in training
    z[6] = 40.0                               # redshift far outside training (0–2)
    bad = Photometry.from_arrays(flux, err, sub.bands, ids=sub.ids, z=z)
    pred = fitted.predict_table(bad)
    f = np.asarray(pred["flags"])
    assert f.dtype == np.int64
    assert f[0] == 0
    assert f[1] == flags.NO_ESTIMATE | flags.TOO_FEW_BANDS | flags.MISSING_BANDS
    assert f[2] == f[3] == flags.NO_ESTIMATE | flags.NO_REDSHIFT
    assert f[4] == flags.MISSING_BANDS
    assert f[5] == f[6] == flags.EXTRAPOLATION
    assert flags.describe(f[1]) == ["no_estimate", "missing_bands", "too_few_bands"]
    no_est = flags.has(pred["flags"], "no_estimate")
    assert list(np.flatnonzero(no_est)) == [1, 2, 3]
    for c in ("log_mstar", "log_mstar_err", "av", "av_err"):
        assert np.isnan(pred[c][no_est]).all() and np.isfinite(pred[c][~no_est]).all()


def test_unusable_rows_are_flagged_not_dropped(toy, fitted):
    phot, _, _ = toy
    sub = phot.select(np.arange(5000, 5010))
    z = sub.z.copy()
    z[3] = np.nan
    flux = sub.flux.copy()
    flux[7, :] = np.nan                    # no band observed
    bad = Photometry.from_arrays(flux, sub.flux_err, sub.bands, ids=sub.ids, z=z)
    pred = fitted.predict_table(bad)
    assert len(pred) == 10 and np.array_equal(pred["id"], sub.ids)
    assert list(np.flatnonzero(flags.has(pred["flags"], "no_estimate"))) == [3, 7]
    good = np.setdiff1d(np.arange(10), [3, 7])
    fast = fitted.predict_table(bad, precision="bfloat16")      # bfloat16 networks: same flags, ≈ same values
    assert np.array_equal(fast["flags"], pred["flags"])
    assert np.allclose(fast["log_mstar"][good], pred["log_mstar"][good], atol=0.02)
    assert np.allclose(pred["log_mstar"][good], fitted.predict_table(sub)["log_mstar"][good])
    with pytest.raises(CatalogError, match="redshift"):
        fitted.predict_table(Photometry.from_arrays(sub.flux, sub.flux_err, sub.bands))


def test_missing_bands_masks_and_flags():
    phot, truth, _ = toy_universe(7000, seed=5, missing_fraction=0.15)
    tr, te = np.arange(5000), np.arange(5000, 7000)
    reg = PropertyRegressor(targets=("log_mstar",), **SMALL).fit(phot.select(tr), truth[tr])
    assert reg.band_dropout_ == 0.1        # "auto": the training rows lack bands
    pred = reg.predict_table(phot.select(te))
    incomplete = (phot.state[te] == NOT_OBSERVED).any(1)
    assert np.array_equal(flags.has(pred["flags"], "missing_bands"), incomplete)
    m = regression_metrics(truth["log_mstar"][te], pred["log_mstar"], pred["log_mstar_err"])
    assert m["r2"] > 0.95 and abs(m["coverage_1sigma"] - 0.683) < 0.06
    # a catalogue lacking a trained band: clear error naming it, or masks on request
    lacking = phot.select(te).select_bands([b for b in BANDS if b != "jwst_f150w"])
    with pytest.raises(BandError, match="jwst_f150w"):
        reg.predict_table(lacking)
    masked = reg.predict_table(lacking, missing_bands="mask")
    assert flags.has(masked["flags"], "missing_bands").all() and np.all(np.isfinite(masked["log_mstar"]))
    assert regression_metrics(truth["log_mstar"][te], masked["log_mstar"])["r2"] > 0.9
    with pytest.raises(ValueError, match="missing_bands"):
        reg.predict_table(lacking, missing_bands="drop")


def test_training_rows_without_truth_or_redshift_are_left_out_with_warning(toy):
    phot, truth, _ = toy
    sub = phot.select(np.arange(600))
    y = np.array(truth["av"][:600])
    y[:50] = np.nan
    with pytest.warns(Warning, match="50 of 600 training rows"):
        reg = PropertyRegressor(targets=("av",), **dict(SMALL, epochs=2)).fit(sub, {"av": y})
    assert reg.n_train_ + reg.n_val_ == 550
    with pytest.raises(CatalogError, match="'log_sfr'"):
        PropertyRegressor(targets=("log_sfr",)).fit(sub, truth[:600])


def test_fit_and_predict_tables_with_units_from_the_training_columns(toy):
    """fit(table) takes the truths from the same table; a target column's own unit is kept."""
    phot, truth, _ = toy
    t = phot.select(np.arange(800)).to_table()
    t["log_mstar"] = truth["log_mstar"][:800]
    t["colour"] = np.asarray(truth["av"][:800]) * u.mag       # a target unknown to galfast, with a unit
    t["sfh_tau"] = np.asarray(truth["av"][:800])               # unknown and unitless
    reg = PropertyRegressor(targets=("log_mstar", "colour", "sfh_tau"), **dict(SMALL, epochs=2)).fit(t)
    assert reg.target_units_ == ("dex", "mag", None)
    pred = reg.predict_table(t[:5])
    assert pred["colour"].unit == u.mag and pred["sfh_tau"].unit is None and pred["log_mstar"].unit == u.dex
    assert list(pred["id"]) == list(t["id"][:5])
    with pytest.raises(ValueError, match="y"):
        PropertyRegressor(**dict(SMALL, epochs=1)).fit(phot)


def test_big_endian_fits_photometry_fits_and_predicts(toy, fitted, tmp_path):
    """#14: FITS columns are big-endian (>f8); a Table read with astropy itself (not galfast's
    normalising reader) goes through Photometry, fit and predict, giving the native numbers."""
    phot, truth, _ = toy
    t = phot.select(np.arange(5000, 5300)).to_table()
    t.write(tmp_path / "big.fits")
    big = Table.read(tmp_path / "big.fits")
    assert not big["jwst_f150w"].dtype.isnative and not big["z"].dtype.isnative
    native = fitted.predict_table(phot.select(np.arange(5000, 5300)))
    from_table = fitted.predict_table(big)
    from_phot = fitted.predict_table(Photometry.from_table(big, fitted.bands_, z_column="z"))
    for c in native.colnames:
        assert np.allclose(from_table[c], native[c]) and np.allclose(from_phot[c], native[c]), c
    # and training on it
    big["av"] = np.asarray(truth["av"][5000:5300]).astype(">f8")
    reg = PropertyRegressor(targets=("av",), **dict(SMALL, epochs=2)).fit(big)
    assert np.isfinite(reg.predict_table(big)["av"]).all()


# ---------------------------------------------------------------------------------- conventions
def test_random_state_none_int_generator(toy):
    """Bug (#8): PropertyRegressor(random_state=None).fit(...) raised TypeError (int(None))."""
    phot, truth, _ = toy
    sub, y = phot.select(np.arange(1200)), truth[:1200]
    kw = dict(SMALL, epochs=3)

    def fit_predict(rs):
        return PropertyRegressor(targets=("av",), random_state=rs, **kw).fit(sub, y).predict_table(sub)

    a, b, c = fit_predict(3), fit_predict(3), fit_predict(4)
    assert np.array_equal(a["av"], b["av"]) and np.array_equal(a["av_err"], b["av_err"])
    assert not np.allclose(a["av"], c["av"])
    n1, n2 = fit_predict(None), fit_predict(None)                  # fresh entropy: works, differs
    assert np.isfinite(n1["av"]).all() and not np.allclose(n1["av"], n2["av"])
    g1, g2 = fit_predict(np.random.default_rng(7)), fit_predict(np.random.default_rng(7))
    assert np.array_equal(g1["av"], g2["av"]) and not np.allclose(g1["av"], a["av"])
    gen = np.random.default_rng(7)                                  # a Generator is advanced
    reg = PropertyRegressor(targets=("av",), random_state=gen, **kw)
    assert np.array_equal(reg.fit(sub, y).predict_table(sub)["av"], g1["av"])
    assert not np.array_equal(reg.fit(sub, y).predict_table(sub)["av"], g1["av"])
    for bad in (-1, 1.5, "seed"):
        with pytest.raises(ValueError, match="random_state"):
            PropertyRegressor(targets=("av",), random_state=bad, **kw).fit(sub, y)


def test_n_jobs_sets_torch_threads_during_fit_and_predict(toy, fitted, monkeypatch):
    """n_jobs (was n_threads): None = 1 torch thread, k, −1 = every core; restored afterwards."""
    from galfast.props.features import FeatureMaker

    phot, truth, _ = toy
    sub, y = phot.select(np.arange(300)), truth[:300]
    seen = []
    orig = FeatureMaker.transform_torch

    def recording(self, *args):
        seen.append(torch.get_num_threads())
        return orig(self, *args)

    monkeypatch.setattr(FeatureMaker, "transform_torch", recording)
    before = torch.get_num_threads()
    for n_jobs, expected in ((None, 1), (2, 2), (-1, available_cores())):
        seen.clear()
        reg = PropertyRegressor(targets=("av",), hidden=(8,), epochs=1, device="cpu", n_jobs=n_jobs).fit(sub, y)
        assert set(seen) == {expected}, n_jobs
        seen.clear()
        reg.predict_table(sub)
        assert set(seen) == {expected}
        seen.clear()
        reg.predict_table(sub, n_jobs=2)                        # per call
        assert set(seen) == {2}
        assert torch.get_num_threads() == before
    assert "n_jobs" in PropertyRegressor().get_params() and "n_threads" not in PropertyRegressor().get_params()
    with pytest.raises(ParameterError, match="n_jobs"):
        PropertyRegressor(targets=("av",), n_jobs=0).fit(sub, y)
    with pytest.raises(ParameterError, match="n_jobs"):
        fitted.predict_table(sub, n_jobs=0)


@pytest.mark.parametrize("param, value", [("loss", "mse"), ("targets", "log_mstar"), ("validation_fraction", 1.0),
                                          ("hidden", (64, 0)), ("epochs", 0), ("batch_size", 2.5), ("lr", -1.0),
                                          ("band_dropout", 1.5), ("input", "counts"), ("device", "tpu:x")])
def test_bad_parameters_raise_value_errors_naming_them(param, value):
    phot, truth, _ = toy_universe(50, 0)
    with pytest.raises(ValueError, match=param.split("_")[0]) as info:
        PropertyRegressor(**{"targets": ("av",), "epochs": 1, param: value}).fit(phot, truth)
    assert isinstance(info.value, ParameterError)


def test_bad_predict_arguments(fitted, toy):
    sub = toy[0].select(np.arange(5))
    for kw, name in (({"precision": "float16"}, "precision"), ({"input": "counts"}, "input"),
                     ({"batch_size": 0}, "batch_size")):
        with pytest.raises(ParameterError, match=name):
            fitted.predict_table(sub, **kw)


def test_sklearn_params_and_clone(fitted):
    from sklearn.base import clone

    p = fitted.get_params()
    assert p["targets"] == ("log_mstar", "av") and p["hidden"] == (64, 64) and p["loss"] == "gaussian_nll"
    c = clone(fitted).set_params(epochs=3, loss="mae")
    assert c.epochs == 3 and c.loss == "mae" and not hasattr(c, "model_")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        c.predict_table(toy_universe(5, 0)[0])


def test_device_auto_default(toy):
    from galfast.props.regressor import _resolve_device

    assert PropertyRegressor().device == "auto"
    assert _resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    phot, truth, _ = toy
    sub = phot.select(np.arange(800))
    kw = dict(SMALL, epochs=2)
    auto = PropertyRegressor(targets=("av",), **kw).fit(sub, truth[:800])
    assert all(p.device.type == "cpu" for p in auto.model_.parameters())     # kept on the CPU after fit
    a = auto.predict_table(sub)
    for dev in ("cpu", "auto"):      # predict runs on the CPU by default; "auto" may use CUDA
        b = auto.predict_table(sub, device=dev)
        assert np.allclose(a["av"], b["av"], atol=1e-5) and np.array_equal(a["flags"], b["flags"])
    if not torch.cuda.is_available():   # on a CPU machine "auto" is the CPU: identical fits
        cpu = PropertyRegressor(targets=("av",), device="cpu", **kw).fit(sub, truth[:800]).predict_table(sub)
        assert np.array_equal(a["av"], cpu["av"]) and np.array_equal(a["av_err"], cpu["av_err"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_and_predict_agree_with_cpu(toy):
    phot, truth, _ = toy
    sub = phot.select(np.arange(800))
    kw = dict(SMALL, epochs=2)
    gpu = PropertyRegressor(targets=("av",), device="cuda", **kw).fit(sub, truth[:800])
    cpu = PropertyRegressor(targets=("av",), device="cpu", **kw).fit(sub, truth[:800])
    assert all(p.device.type == "cpu" for p in gpu.model_.parameters())
    g, c = gpu.predict_table(sub), gpu.predict_table(sub, device="cuda")
    assert np.allclose(g["av"], c["av"], atol=1e-4) and np.array_equal(g["flags"], c["flags"])
    assert np.allclose(g["av"], cpu.predict_table(sub)["av"], atol=0.05)   # same draws, rounding differs


def test_band_subset_parameter(toy):
    phot, truth, _ = toy
    reg = PropertyRegressor(targets=("av",), bands=("F444W", "jwst_f150w"), **dict(SMALL, epochs=2))
    reg.fit(phot.select(np.arange(500)), truth[:500])
    assert reg.bands_ == ("jwst_f150w", "jwst_f444w") and reg.features_.n_features == 2 * 3 + 2
    assert len(reg.predict_table(phot.select(np.arange(10)))) == 10     # extra bands are ignored
    t = phot.select(np.arange(500)).to_table()
    t.rename_column("jwst_f444w", "FLUX_RED")
    t.rename_column("jwst_f444w_err", "FLUX_RED_err")
    with pytest.raises(BandError, match="jwst_f444w.*--column-map"):
        reg.predict_table(t)
    mapped = reg.predict_table(t, column_map=["FLUX_RED=F444W"])
    assert np.array_equal(mapped["av"], reg.predict_table(phot.select(np.arange(500)))["av"])


# ---------------------------------------------------------------------------------- magnitudes
def test_magnitude_input_equals_equivalent_fluxes(toy):
    phot, truth, _ = toy
    tm, tf = mag_and_flux_tables(phot.select(np.arange(1800)))
    assert np.isnan(np.asarray(tm["acs_wfc_f606w"])).any()          # some faint entries unobserved
    kw = dict(SMALL, epochs=3)
    rm = PropertyRegressor(targets=("log_mstar",), input="mag", **kw).fit(tm[:1500], truth[:1500])
    rf = PropertyRegressor(targets=("log_mstar",), **kw).fit(tf[:1500], truth[:1500])
    assert rm.get_params()["input"] == "mag" and rf.input == "flux"
    pm, pf = rm.predict_table(tm[1500:]), rf.predict_table(tf[1500:])
    for c in pf.colnames:
        assert np.array_equal(pm[c], pf[c], equal_nan=True), c
    # predict-time override: a flux model reads magnitudes, a magnitude model reads fluxes
    for c in ("log_mstar", "log_mstar_err", "flags"):
        assert np.array_equal(rf.predict_table(tm[1500:], input="mag")[c], pf[c], equal_nan=True)
        assert np.array_equal(rm.predict_table(tf[1500:], input="flux")[c], pm[c], equal_nan=True)
    # ±99 sentinels are "not observed" (missing_bands), not a zero flux
    complete = 1500 + np.flatnonzero(np.asarray(pf["flags"]) == 0)[:4]
    t = tm[complete]
    t["jwst_f444w"][0], t["jwst_f150w_err"][1] = 99.0, 99.0
    t["jwst_f090w"][2] = -99.0
    out = rm.predict_table(t)
    assert list(out["flags"]) == [flags.MISSING_BANDS] * 3 + [0] and np.all(np.isfinite(out["log_mstar"]))


# ---------------------------------------------------------------------------------- model files
def test_model_file_round_trip_gives_identical_predictions(toy, fitted, tmp_path, monkeypatch):
    phot, _, _ = toy
    sub = phot.select(np.arange(5000, 5500))
    path = fitted.save(tmp_path / "props.safetensors")
    for back in (PropertyRegressor.load(path), galfast.load_model(path)):
        assert type(back) is PropertyRegressor
        a, b = fitted.predict_table(sub), back.predict_table(sub)
        assert a.colnames == b.colnames
        for c in a.colnames:
            assert np.array_equal(a[c], b[c]), c
            assert a[c].unit == b[c].unit
        assert back.get_params() == fitted.get_params()
        assert back.bands_ == fitted.bands_ and back.targets_ == ("log_mstar", "av")
        assert back.history_ == fitted.history_ and np.array_equal(back.sigma_scale_, fitted.sigma_scale_)
    # loading is gated on the file format, not on the galfast version that wrote it
    from galfast import modelfile

    monkeypatch.setattr(modelfile, "__version__", "0.0.1")
    old = fitted.save(tmp_path / "by_0.0.1.safetensors")
    monkeypatch.undo()
    assert np.array_equal(PropertyRegressor.load(old).predict_table(sub)["av"], fitted.predict_table(sub)["av"])
    # a Generator random_state is not stored (None: fresh entropy)
    gen = PropertyRegressor(targets=("av",), random_state=np.random.default_rng(0), **dict(SMALL, epochs=1))
    gen.fit(sub, Table({"av": np.ones(len(sub))}))
    assert PropertyRegressor.load(gen.save(tmp_path / "gen.safetensors")).random_state is None


def _rewrite(path, out, *, header=None, arrays=None):
    """Copy a safetensors file with some header fields or arrays replaced (checksum kept)."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(path), framework="np") as fh:
        meta = dict(fh.metadata())
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    meta.update(header or {})
    tensors.update(arrays or {})
    save_file(tensors, str(out), metadata=meta)
    return out


def test_bad_model_files_raise_model_file_error_naming_the_file(fitted, tmp_path):
    path = fitted.save(tmp_path / "good.safetensors")
    raw = path.read_bytes()
    # truncated
    (tmp_path / "cut.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="cut.safetensors"):
        PropertyRegressor.load(tmp_path / "cut.safetensors")
    # a flipped byte inside a weight array: the file still parses, the checksum does not match
    w = fitted.model_.weights[1].detach().numpy().tobytes()
    at = raw.find(w)
    assert at > 0
    flipped = bytearray(raw)
    flipped[at + len(w) // 2] ^= 0x5A
    (tmp_path / "flip.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(ModelFileError, match="flip.safetensors.*checksum"):
        PropertyRegressor.load(tmp_path / "flip.safetensors")
    # edited metadata (a σ scale changed)
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as fh:
        meta_json = fh.metadata()["meta"]
    edited = meta_json.replace('"sigma_scale": [', '"sigma_scale": [2.0, ', 1)
    assert edited != meta_json
    _rewrite(path, tmp_path / "meta.safetensors", header={"meta": edited})
    with pytest.raises(ModelFileError, match="meta.safetensors.*checksum"):
        PropertyRegressor.load(tmp_path / "meta.safetensors")
    # foreign files: random bytes, a torch.save file (the old props format), a plain safetensors file
    (tmp_path / "random.safetensors").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelFileError, match="random.safetensors"):
        PropertyRegressor.load(tmp_path / "random.safetensors")
    torch.save({"format": "galfast.props.PropertyRegressor/1", "state_dict": fitted.model_.state_dict()},
               tmp_path / "old.pt")
    with pytest.raises(ModelFileError, match="old.pt"):
        PropertyRegressor.load(tmp_path / "old.pt")
    with pytest.raises(ModelFileError, match="old.pt"):
        galfast.load_model(tmp_path / "old.pt")
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(3, np.float32)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ModelFileError, match="plain.safetensors.*not a galfast model"):
        PropertyRegressor.load(tmp_path / "plain.safetensors")
    # a future file format
    _rewrite(path, tmp_path / "future.safetensors", header={"format_version": "99"})
    with pytest.raises(ModelFileError, match="future.safetensors.*format 99.*upgrade"):
        PropertyRegressor.load(tmp_path / "future.safetensors")
    # another kind of model
    from galfast.modelfile import write_model_file

    meta, arrays = fitted.to_state()
    write_model_file(tmp_path / "kind.safetensors", "galfast.KLLRPhotoZ", 1, meta, arrays)
    with pytest.raises(ModelFileError, match="kind.safetensors.*galfast.KLLRPhotoZ"):
        PropertyRegressor.load(tmp_path / "kind.safetensors")
    # consistent checksum but weights of the wrong shape
    bad = {k: v[..., :1] for k, v in arrays.items()}
    write_model_file(tmp_path / "shape.safetensors", "galfast.PropertyRegressor", 1, meta, bad)
    with pytest.raises(ModelFileError, match="shape.safetensors"):
        PropertyRegressor.load(tmp_path / "shape.safetensors")
    with pytest.raises(FileNotFoundError):
        PropertyRegressor.load(tmp_path / "absent.safetensors")


# ---------------------------------------------------------------------------------- the bundled catalogue
JWST_TARGETS = ("log_mstar", "log_sfr", "av")


@pytest.fixture(scope="module")
def demo():
    table = load_demo_catalog()[:9000]
    table["log_sfr"] = floor_log_sfr(table["log_sfr"], table["log_mstar"])
    phot = Photometry.from_table(table, JWST_HST_BANDS, id_column="id", z_column="z")
    return phot, table


@pytest.fixture(scope="module")
def trained(demo):
    phot, table = demo
    return PropertyRegressor(targets=JWST_TARGETS, hidden=(96, 96), epochs=60, patience=8, batch_size=512,
                             band_dropout=0.1, bands=("jwst_hst",), n_jobs=1, random_state=0).fit(
        phot.select(np.arange(7000)), table[:7000])


def test_jwst_properties_accuracy_and_coverage(demo, trained):
    phot, table = demo
    assert trained.bands_ == tuple(JWST_HST_BANDS)              # the band set "jwst_hst"
    test = np.arange(7000, 9000)
    pred = trained.predict_table(phot.select(test))
    assert np.array_equal(pred["id"], table["id"][test])
    # measured with these settings: σ_NMAD = 0.153 / 0.311 / 0.344, r² = 0.965 / 0.809 / 0.771
    limits = {"log_mstar": (0.19, 0.94), "log_sfr": (0.38, 0.75), "av": (0.42, 0.70)}
    for t, (max_nmad, min_r2) in limits.items():
        m = regression_metrics(np.asarray(table[t][test], dtype=float), pred[t], pred[t + "_err"])
        assert m["sigma_nmad"] < max_nmad, (t, m)
        assert m["r2"] > min_r2, (t, m)
        assert abs(m["bias"]) < 0.06, (t, m)
        assert abs(m["coverage_1sigma"] - 0.683) < 0.05, (t, m)
        assert abs(m["coverage_2sigma"] - 0.954) < 0.05, (t, m)


def test_jwst_missing_bands_degrade_gracefully(demo, trained):
    """10 % of (object, band) entries removed at prediction time: flagged, still calibrated."""
    phot, table = demo
    test = np.arange(7000, 9000)
    sub = phot.select(test)
    rng = np.random.default_rng(5)
    flux = sub.flux.copy()
    flux[rng.random(flux.shape) < 0.1] = np.nan
    holed = Photometry.from_arrays(flux, sub.flux_err, sub.bands, ids=sub.ids, z=sub.z)
    full, part = trained.predict_table(sub), trained.predict_table(holed)
    incomplete = ~holed.observed.all(1)
    assert np.array_equal(flags.has(part["flags"], "missing_bands"), incomplete)
    y = np.asarray(table["log_mstar"][test], dtype=float)
    m_full = regression_metrics(y, full["log_mstar"], full["log_mstar_err"])
    m_part = regression_metrics(y[incomplete], part["log_mstar"][incomplete], part["log_mstar_err"][incomplete])
    assert m_part["sigma_nmad"] < 1.5 * m_full["sigma_nmad"]
    assert abs(m_part["coverage_1sigma"] - 0.683) < 0.07
    # the network widens σ when bands are missing
    assert np.median(part["log_mstar_err"][incomplete]) > np.median(full["log_mstar_err"][incomplete])


def test_stream_with_the_default_reader_gives_the_redshift_to_the_model(toy, fitted, tmp_path):
    """galfast.stream.stream(model, file, out) with no custom reader: the model's to_photometry
    reads the bands and its z column, so the streamed output equals predict_table."""
    from galfast.stream import stream

    phot, _, _ = toy
    sub = phot.select(np.arange(5000, 5600))
    table = sub.to_table()
    table.rename_column("z", fitted.z_column) if fitted.z_column != "z" else None
    src = galfast.write_catalog(table, tmp_path / "in.parquet")
    stream(fitted, src, tmp_path / "out.parquet", chunk_rows=250, progress=False)
    got = galfast.read_catalog(tmp_path / "out.parquet")
    want = fitted.predict_table(sub)
    np.testing.assert_array_equal(got["id"], want["id"])
    np.testing.assert_allclose(np.asarray(got["log_mstar"]), np.asarray(want["log_mstar"]), rtol=1e-6)
    np.testing.assert_array_equal(got["flags"], want["flags"])

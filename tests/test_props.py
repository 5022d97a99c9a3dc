"""PropertyRegressor on an analytic toy universe with known truth: accuracy, calibrated σ, masks,
flags, determinism, save/load, errors, CLI."""
import warnings

import numpy as np
import pytest
import torch
from astropy.table import Table

from galfast.errors import BandError, CatalogError, ModelFileError
from galfast.metrics import regression_metrics
from galfast.photometry import (NOT_OBSERVED, Photometry, flux_err_to_mag_err, flux_to_mag,
                                mag_err_to_flux_err, mag_to_flux)
from galfast.props import PropertyRegressor
from galfast.props.features import FeatureMaker, photometry_arrays
from galfast.props.networks import StackedMLP

BANDS = ["acs_wfc_f606w", "jwst_f090w", "jwst_f150w", "jwst_f200w", "jwst_f277w", "jwst_f444w"]
DEPTH_5SIG = 28.0   # background-limited 5σ depth [AB] of every band
SMALL = dict(hidden=(64, 64), epochs=80, patience=10, batch_size=256, n_threads=1)


def toy_universe(n, seed, missing_fraction=0.0):
    """Magnitudes an exact smooth function of (mass, av, z); Gaussian flux noise at a fixed depth.

    m_b = 50 − 2.5·mass + av·k_b + 0.6·z·x_b + 0.8·z, k_b = 1.2 … 0.2 (bluer bands redder by dust),
    x_b = −1 … 1; mass ∈ [9, 11] puts objects from S/N ≈ 1 to ≈ 600."""
    rng = np.random.default_rng(seed)
    mass = rng.uniform(9, 11, n)
    av = rng.uniform(0, 2, n)
    z = rng.uniform(0, 2, n)
    k = np.linspace(1.2, 0.2, len(BANDS))
    x = np.linspace(-1, 1, len(BANDS))
    mag = 50 - 2.5 * mass[:, None] + av[:, None] * k + 0.6 * z[:, None] * x + 0.8 * z[:, None]
    f_true = mag_to_flux(mag)
    err = np.full_like(f_true, mag_to_flux(DEPTH_5SIG) / 5)
    flux = f_true + rng.normal(size=f_true.shape) * err
    if missing_fraction:
        miss = rng.random(flux.shape) < missing_fraction
        flux[miss] = np.nan
        err[miss] = np.nan
    phot = Photometry.from_arrays(flux, err, BANDS, ids=np.arange(1000, 1000 + n), z=z)
    truth = Table({"log_mstar": mass, "av": av})
    snr = f_true[:, 2] / err[:, 2]
    return phot, truth, snr


@pytest.fixture(scope="module")
def toy():
    return toy_universe(7000, seed=1)


@pytest.fixture(scope="module")
def fitted(toy):
    phot, truth, _ = toy
    return PropertyRegressor(targets=("log_mstar", "av"), random_state=0, **SMALL).fit(
        phot.select(np.arange(5000)), truth[:5000])


def test_asinh_features_match_ab_magnitudes_when_bright_and_stay_finite_when_faint():
    flux = np.array([[1000.0, 1e4], [-0.5, 0.0]], dtype=np.float32)
    err = np.full_like(flux, 0.01)
    obs = np.ones_like(flux, dtype=bool)
    fm = FeatureMaker(["jwst_f150w", "jwst_f444w"], use_redshift=False).fit(flux, err, obs)
    raw = fm._raw(torch.from_numpy(flux), torch.from_numpy(err), torch.from_numpy(obs), None).numpy()
    # bright: asinh magnitude = AB magnitude; its error = 1.0857 σ/f
    assert raw[0, :2] == pytest.approx(23.9 - 2.5 * np.log10([1000.0, 1e4]), abs=1e-4)
    assert raw[0, 2] == pytest.approx(1.0857 * 0.01 / 1000, rel=1e-3)
    assert np.all(np.isfinite(raw))
    assert raw[1, 0] > raw[1, 1]          # negative flux is fainter than zero flux
    assert fm.n_features == 2 * 3


def test_not_observed_bands_are_zero_filled_with_flag():
    phot, _, _ = toy_universe(50, seed=3, missing_fraction=0.3)
    flux, err, obs, _ = photometry_arrays(phot, phot.bands)
    assert np.array_equal(obs, phot.state != NOT_OBSERVED)
    fm = FeatureMaker(phot.bands).fit(flux, err, obs, phot.z)
    x = fm.transform_torch(*(torch.from_numpy(a) for a in (flux, err, obs)),
                           torch.from_numpy(phot.z.astype(np.float32))).numpy()
    nb = len(phot.bands)
    assert np.all(x[:, :nb][~obs] == 0) and np.all(x[:, nb:2 * nb][~obs] == 0)
    assert np.array_equal(x[:, 2 * nb:3 * nb], (~obs).astype(np.float32))


def test_stacked_mlp_equals_independent_networks():
    torch.manual_seed(0)
    net = StackedMLP(5, (7, 3), 2, n_models=3)
    x = torch.randn(11, 5)
    out = net(x)
    assert out.shape == (3, 11, 2)
    for m in range(3):
        h = x
        for i, (w, b) in enumerate(zip(net.weights, net.biases)):
            h = h @ w[m] + b[m]
            if i < len(net.weights) - 1:
                h = torch.relu(h)
        assert torch.allclose(out[m], h, atol=1e-6)
    with torch.inference_mode():       # the in-place inference path gives the same numbers
        assert torch.allclose(net(x), out, atol=1e-6)


def test_accuracy_and_calibrated_sigma_on_held_out_rows(toy, fitted):
    phot, truth, snr = toy
    test = np.arange(5000, 7000)
    pred = fitted.predict(phot.select(test))
    assert len(pred) == 2000 and np.array_equal(pred["id"], phot.ids[test])
    assert np.all(pred["flag"] == 0)
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
    pj, pm = joint.predict(phot.select(te)), mae.predict(phot.select(te))
    assert regression_metrics(truth["log_mstar"][te], pj["log_mstar"])["r2"] > 0.95
    mm = regression_metrics(truth["log_mstar"][te], pm["log_mstar"])
    assert mm["r2"] > 0.95
    # MAE: one σ for every row = 1.4826·MAD of the validation residuals ≈ test σ_NMAD
    err = np.asarray(pm["log_mstar_err"])
    assert np.all(err == err[0])
    assert err[0] == pytest.approx(mm["sigma_nmad"], rel=0.25)


@pytest.mark.parametrize("per_target", [True, False])
def test_early_stopping_stops_and_restores_best_weights(per_target):
    """On a problem that converges, training stops `patience` epochs after the last improvement,
    long before `epochs`, and the weights left in the model are those of the best validation loss
    (of each network with per_target=True), not those of the last epoch."""
    from galfast.props.training import _evaluate

    phot, truth, _ = toy_universe(2000, seed=2)
    tr, va = np.arange(1500), np.arange(1500, 2000)
    epochs, patience = 300, 4
    reg = PropertyRegressor(targets=("log_mstar", "av"), per_target=per_target, hidden=(32, 32), epochs=epochs,
                            patience=patience, lr=3e-3, batch_size=256, n_threads=1).fit(
        phot.select(tr), truth[tr], validation=(phot.select(va), truth[va]))
    h = reg.history_
    val = np.array(h["val_loss"])
    assert h["epochs_run"] == len(val) < epochs / 3
    assert h["epochs_run"] == max(h["best_epoch"]) + patience + 1
    assert np.all(np.array(h["best_val_loss"]) < val[0] - 0.5)              # it did converge
    assert np.allclose(h["best_val_loss"], val[h["best_epoch"], [0, 1]])
    if per_target:        # each network: its own best epoch
        assert np.allclose(h["best_val_loss"], val.min(0), atol=1e-5)
    else:                 # one network: the best summed loss
        assert h["best_epoch"][0] == h["best_epoch"][1]
        assert np.sum(h["best_val_loss"]) == pytest.approx(val.sum(1).min(), abs=1e-5)
    # the validation loss of the weights left in the model is the best one, not the last epoch's
    f, e, o, _ = photometry_arrays(phot.select(va), reg.bands_)
    y = (np.column_stack([truth[t][va] for t in reg.targets_]) - reg.target_mean_) / reg.target_scale_
    data = reg._tensors(f, e, o, phot.z[va], y, np.isfinite(y), torch.device("cpu"))
    now = _evaluate(reg.model_, reg.features_, data, 2, per_target, reg.loss)
    assert np.allclose(now, h["best_val_loss"], rtol=1e-5, atol=1e-6)
    assert np.all(now < val[-1] - 1e-4) if per_target else now.sum() < val[-1].sum() - 1e-4


def _record_training_inputs(monkeypatch, reg, phot, truth):
    """Fit ``reg`` while recording the (augmented) fluxes the training loop feeds the networks;
    return per epoch the noise ε = (f' − f)/σ_f, rows in input order (one batch per epoch)."""
    calls = []
    orig = FeatureMaker.transform_torch

    def recording(self, flux, err, obs, z=None):
        if not torch.is_inference_mode_enabled():        # training batches (validation runs in inference mode)
            calls.append((flux.clone(), err.clone(), z.clone()))
        return orig(self, flux, err, obs, z)

    monkeypatch.setattr(FeatureMaker, "transform_torch", recording)
    reg.fit(phot, truth)
    monkeypatch.undo()
    z32 = phot.z.astype(np.float32)
    order = np.argsort(z32)
    assert np.unique(z32).size == z32.size                     # rows are identified by their z
    out = []
    for flux, err, z in calls:
        rows = order[np.searchsorted(z32[order], z.numpy())]
        assert np.array_equal(z32[rows], z.numpy())
        eps = np.full(phot.flux.shape, np.nan)
        eps[rows] = (flux.numpy() - phot.flux[rows].astype(np.float32)) / err.numpy()
        out.append(eps)
    return out


def test_noise_augmentation_redraws_every_epoch_reproducibly(toy, monkeypatch):
    phot, truth, _ = toy
    sub, y = phot.select(np.arange(600)), truth[:600]
    kw = dict(targets=("av",), hidden=(16,), epochs=3, patience=100, batch_size=1024, n_threads=1)
    a = _record_training_inputs(monkeypatch, PropertyRegressor(random_state=5, **kw), sub, y)
    assert len(a) == 3                                           # one training batch per epoch
    rows = np.isfinite(a[0][:, 0])
    assert rows.sum() == 480                                     # the training rows (80 %)
    for eps in a:
        assert np.array_equal(np.isfinite(eps[:, 0]), rows)
        assert abs(eps[rows].mean()) < 0.05 and abs(eps[rows].std() - 1) < 0.05     # ε ~ N(0, 1)
    # re-drawn each epoch: independent noise for the same rows
    for i, j in ((0, 1), (1, 2), (0, 2)):
        assert abs(np.corrcoef(a[i][rows].ravel(), a[j][rows].ravel())[0, 1]) < 0.1
    # the same random_state draws the same noise again; another one draws other noise
    b = _record_training_inputs(monkeypatch, PropertyRegressor(random_state=5, **kw), sub, y)
    assert all(np.array_equal(x, w, equal_nan=True) for x, w in zip(a, b))
    c = _record_training_inputs(monkeypatch, PropertyRegressor(random_state=6, **kw), sub, y)
    assert not np.allclose(np.nan_to_num(a[0]), np.nan_to_num(c[0]))
    # noise_scale scales ε; without augmentation the fluxes are the catalogue's
    half = _record_training_inputs(monkeypatch, PropertyRegressor(random_state=5, noise_scale=0.5, **kw), sub, y)
    assert abs(half[0][rows].std() - 0.5) < 0.03
    off = _record_training_inputs(monkeypatch, PropertyRegressor(random_state=5, noise_augment=False, **kw), sub, y)
    assert all(np.all(eps[rows] == 0) for eps in off)


def test_deterministic_given_random_state(toy):
    phot, truth, _ = toy
    sub = phot.select(np.arange(1500))
    kw = dict(SMALL, epochs=5)
    a = PropertyRegressor(targets=("av",), random_state=3, **kw).fit(sub, truth[:1500]).predict(sub)
    b = PropertyRegressor(targets=("av",), random_state=3, **kw).fit(sub, truth[:1500]).predict(sub)
    c = PropertyRegressor(targets=("av",), random_state=4, **kw).fit(sub, truth[:1500]).predict(sub)
    assert np.array_equal(a["av"], b["av"]) and np.array_equal(a["av_err"], b["av_err"])
    assert not np.allclose(a["av"], c["av"])


def test_device_auto_default(toy):
    from galfast.props.regressor import _resolve_device

    assert PropertyRegressor().device == "auto"
    assert _resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert _resolve_device("cpu").type == "cpu"
    phot, truth, _ = toy
    sub = phot.select(np.arange(800))
    kw = dict(SMALL, epochs=2)
    auto = PropertyRegressor(targets=("av",), **kw).fit(sub, truth[:800])
    assert all(p.device.type == "cpu" for p in auto.model_.parameters())     # kept on the CPU after fit
    a = auto.predict(sub)
    for dev in ("cpu", "auto"):      # predict runs on the CPU by default; "auto" may use CUDA
        b = auto.predict(sub, device=dev)
        assert np.allclose(a["av"], b["av"], atol=1e-5) and np.array_equal(a["flag"], b["flag"])
    if not torch.cuda.is_available():   # on a CPU machine "auto" is the CPU: identical fits
        cpu = PropertyRegressor(targets=("av",), device="cpu", **kw).fit(sub, truth[:800]).predict(sub)
        assert np.array_equal(a["av"], cpu["av"]) and np.array_equal(a["av_err"], cpu["av_err"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_and_predict_agree_with_cpu(toy):
    phot, truth, _ = toy
    sub = phot.select(np.arange(800))
    kw = dict(SMALL, epochs=2)
    gpu = PropertyRegressor(targets=("av",), device="cuda", **kw).fit(sub, truth[:800])
    cpu = PropertyRegressor(targets=("av",), device="cpu", **kw).fit(sub, truth[:800])
    assert all(p.device.type == "cpu" for p in gpu.model_.parameters())
    g, c = gpu.predict(sub), gpu.predict(sub, device="cuda")
    assert np.allclose(g["av"], c["av"], atol=1e-4)
    assert np.allclose(g["av"], cpu.predict(sub)["av"], atol=0.05)   # same draws, rounding differs


def test_missing_bands_masks_and_flags():
    phot, truth, _ = toy_universe(7000, seed=5, missing_fraction=0.15)
    tr, te = np.arange(5000), np.arange(5000, 7000)
    reg = PropertyRegressor(targets=("log_mstar",), **SMALL).fit(phot.select(tr), truth[tr])
    assert reg.band_dropout_ == 0.1        # "auto": the training rows lack bands
    pred = reg.predict(phot.select(te))
    incomplete = (phot.state[te] == NOT_OBSERVED).any(1)
    assert np.array_equal(pred["flag"] & 2 > 0, incomplete)
    m = regression_metrics(truth["log_mstar"][te], pred["log_mstar"], pred["log_mstar_err"])
    assert m["r2"] > 0.95 and abs(m["coverage_1sigma"] - 0.683) < 0.06
    # a catalogue lacking a trained band: clear error naming it, or masks on request
    lacking = phot.select(te).select_bands([b for b in BANDS if b != "jwst_f150w"])
    with pytest.raises(BandError, match="jwst_f150w"):
        reg.predict(lacking)
    masked = reg.predict(lacking, missing_bands="mask")
    assert np.all(masked["flag"] & 2) and np.all(np.isfinite(masked["log_mstar"]))
    assert regression_metrics(truth["log_mstar"][te], masked["log_mstar"])["r2"] > 0.9


def test_unusable_rows_are_flagged_not_dropped(toy, fitted):
    phot, _, _ = toy
    sub = phot.select(np.arange(5000, 5010))
    z = sub.z.copy()
    z[3] = np.nan
    flux = sub.flux.copy()
    flux[7, :] = np.nan                    # no band observed
    bad = Photometry.from_arrays(flux, sub.flux_err, sub.bands, ids=sub.ids, z=z)
    pred = fitted.predict(bad)
    assert len(pred) == 10 and np.array_equal(pred["id"], sub.ids)
    assert list(np.flatnonzero(pred["flag"] & 1)) == [3, 7]
    assert np.isnan(pred["log_mstar"][[3, 7]]).all() and np.isnan(pred["av_err"][[3, 7]]).all()
    good = np.setdiff1d(np.arange(10), [3, 7])
    fast = fitted.predict(bad, precision="bfloat16")      # bfloat16 networks: same flags, ≈ same values
    assert np.array_equal(fast["flag"], pred["flag"])
    assert np.allclose(fast["log_mstar"][good], pred["log_mstar"][good], atol=0.02)
    assert np.allclose(pred["log_mstar"][good], fitted.predict(sub)["log_mstar"][good])
    with pytest.raises(CatalogError, match="redshift"):
        fitted.predict(Photometry.from_arrays(sub.flux, sub.flux_err, sub.bands))


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


def test_save_load_roundtrip_and_bad_files(toy, fitted, tmp_path):
    phot, _, _ = toy
    sub = phot.select(np.arange(5000, 5500))
    path = fitted.save(tmp_path / "m.pt")
    back = PropertyRegressor.load(path)
    a, b = fitted.predict(sub), back.predict(sub)
    for c in a.colnames:
        assert np.array_equal(a[c], b[c]), c
    assert back.get_params() == fitted.get_params()
    assert back.bands_ == fitted.bands_ and back.targets_ == ("log_mstar", "av")
    # another galfast version
    payload = torch.load(path, weights_only=True)
    payload["galfast_version"] = "0.0.1"
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(ModelFileError, match="0.0.1"):
        PropertyRegressor.load(tmp_path / "old.pt")
    # truncated / garbage / wrong kind
    raw = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="cut.pt"):
        PropertyRegressor.load(tmp_path / "cut.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model" * 10)
    with pytest.raises(ModelFileError):
        PropertyRegressor.load(tmp_path / "junk.pt")
    # flipped bytes inside a weight tensor's record: torch.load reads it without complaint, the
    # stored SHA-256 does not match → error naming the file
    w = fitted.model_.weights[1].detach().numpy().tobytes()
    at = raw.find(w)
    assert at > 0
    flipped = bytearray(raw)
    for k in (at + len(w) // 3, at + len(w) // 2):
        flipped[k] ^= 0x5A
    (tmp_path / "flip.pt").write_bytes(bytes(flipped))
    assert not torch.equal(torch.load(tmp_path / "flip.pt", weights_only=True)["state_dict"]["weights.1"],
                           fitted.model_.weights[1].detach())
    with pytest.raises(ModelFileError, match="flip.pt.*checksum"):
        PropertyRegressor.load(tmp_path / "flip.pt")
    # edited metadata, or a file without checksum
    payload = torch.load(path, weights_only=True)
    edited = payload["meta"].replace('"sigma_scale": [', '"sigma_scale": [2.0, ', 1)
    assert edited != payload["meta"]
    payload["meta"] = edited
    torch.save(payload, tmp_path / "meta.pt")
    with pytest.raises(ModelFileError, match="meta.pt.*checksum"):
        PropertyRegressor.load(tmp_path / "meta.pt")
    del payload["sha256"]
    torch.save(payload, tmp_path / "nosum.pt")
    with pytest.raises(ModelFileError, match="nosum.pt has no checksum"):
        PropertyRegressor.load(tmp_path / "nosum.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="not a galfast PropertyRegressor"):
        PropertyRegressor.load(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        PropertyRegressor.load(tmp_path / "absent.pt")


def mag_and_flux_tables(phot):
    """The same photometry as a magnitude table and as the equivalent flux table (via the
    galfast.photometry converters); entries with flux ≤ 0 have no magnitude → not observed."""
    mag = flux_to_mag(phot.flux)
    mag_err = flux_err_to_mag_err(phot.flux, phot.flux_err)
    tm, tf = Table({"id": phot.ids, "z": phot.z}), Table({"id": phot.ids, "z": phot.z})
    for j, b in enumerate(phot.bands):
        tm[b], tm[b + "_err"] = mag[:, j], mag_err[:, j]
        tf[b], tf[b + "_err"] = mag_to_flux(mag[:, j]), mag_err_to_flux_err(mag[:, j], mag_err[:, j])
    return tm, tf


def test_magnitude_input_equals_equivalent_fluxes(toy):
    phot, truth, _ = toy
    tm, tf = mag_and_flux_tables(phot.select(np.arange(1800)))
    assert np.isnan(np.asarray(tm["acs_wfc_f606w"])).any()          # some faint entries unobserved
    kw = dict(SMALL, epochs=3)
    rm = PropertyRegressor(targets=("log_mstar",), input="mag", **kw).fit(tm[:1500], truth[:1500])
    rf = PropertyRegressor(targets=("log_mstar",), **kw).fit(tf[:1500], truth[:1500])
    assert rm.get_params()["input"] == "mag" and rf.input == "flux"
    pm, pf = rm.predict(tm[1500:]), rf.predict(tf[1500:])
    for c in pf.colnames:
        assert np.array_equal(pm[c], pf[c], equal_nan=True), c
    # predict-time override: a flux model reads magnitudes, a magnitude model reads fluxes
    for c in ("log_mstar", "log_mstar_err", "flag"):
        assert np.array_equal(rf.predict(tm[1500:], input="mag")[c], pf[c], equal_nan=True)
        assert np.array_equal(rm.predict(tf[1500:], input="flux")[c], pm[c], equal_nan=True)
    # ±99 sentinels are "not observed" (flag 2), not a zero flux
    complete = 1500 + np.flatnonzero(np.asarray(pf["flag"]) == 0)[:4]
    t = tm[complete]
    t["jwst_f444w"][0], t["jwst_f150w_err"][1] = 99.0, 99.0
    t["jwst_f090w"][2] = -99.0
    out = rm.predict(t)
    assert list(out["flag"]) == [2, 2, 2, 0] and np.all(np.isfinite(out["log_mstar"]))
    with pytest.raises(ValueError, match="input must be"):
        rm.predict(t, input="counts")


def test_sklearn_params_and_clone(fitted):
    from sklearn.base import clone

    p = fitted.get_params()
    assert p["targets"] == ("log_mstar", "av") and p["hidden"] == (64, 64) and p["loss"] == "gaussian_nll"
    c = clone(fitted).set_params(epochs=3, loss="mae")
    assert c.epochs == 3 and c.loss == "mae" and not hasattr(c, "model_")
    with pytest.raises(ValueError, match="loss"):
        PropertyRegressor(loss="mse").fit(*toy_universe(50, 0)[:2])


def test_cli_train_and_streaming_predict(tmp_path, capsys):
    from galfast.catalog import read_catalog, write_catalog
    from galfast.cli import main

    phot, truth, _ = toy_universe(3000, seed=7)
    t = phot.to_table()
    t["log_mstar"], t["av"] = truth["log_mstar"], truth["av"]
    cat = write_catalog(t, tmp_path / "train.parquet")
    model = tmp_path / "m.pt"
    rc = main(["props", "train", "--catalog", str(cat), "--targets", "log_mstar", "av", "--out", str(model),
               "--hidden", "32", "32", "--epochs", "30", "--threads", "1", "--no-progress"])
    assert rc == 0 and model.exists()
    report = capsys.readouterr().out
    assert "held-out test set (600 rows)" in report and "log_mstar" in report
    # predict: CSV without ids, read in 3 chunks → ids are row numbers, one row per input row
    test = t[:1000]
    test.remove_column("id")
    csv = write_catalog(test, tmp_path / "new.csv")
    out = tmp_path / "pred.parquet"
    rc = main(["props", "predict", "--model", str(model), "--catalog", str(csv), "--out", str(out),
               "--chunk-rows", "400", "--no-progress"])
    assert rc == 0
    pred = read_catalog(out)
    assert len(pred) == 1000 and np.array_equal(pred["id"], np.arange(1000))
    assert set(pred.colnames) == {"id", "log_mstar", "log_mstar_err", "av", "av_err", "flag"}
    direct = PropertyRegressor.load(model).predict(phot.select(np.arange(1000)))
    assert np.allclose(pred["log_mstar"], direct["log_mstar"], atol=1e-6)
    # a catalogue lacking a trained band → error naming it, exit status 1
    test.remove_columns(["jwst_f200w", "jwst_f200w_err"])
    write_catalog(test, tmp_path / "lack.parquet")
    rc = main(["props", "predict", "--model", str(model), "--catalog", str(tmp_path / "lack.parquet"),
               "--out", str(tmp_path / "p2.parquet"), "--no-progress"])
    assert rc == 1 and "jwst_f200w" in capsys.readouterr().err


def test_cli_magnitude_input(tmp_path, capsys):
    from galfast.catalog import read_catalog, write_catalog
    from galfast.cli import main

    phot, truth, _ = toy_universe(1200, seed=8)
    tm, tf = mag_and_flux_tables(phot)
    tm["log_mstar"] = truth["log_mstar"]
    cat = write_catalog(tm, tmp_path / "mags.parquet")
    model = tmp_path / "m.pt"
    assert main(["props", "train", "--catalog", str(cat), "--mag", "--targets", "log_mstar", "--out", str(model),
                 "--hidden", "16", "--epochs", "2", "--threads", "1", "--no-progress"]) == 0
    reg = PropertyRegressor.load(model)
    assert reg.input == "mag"
    write_catalog(tf, tmp_path / "fluxes.parquet")
    runs = {"mag_default": [str(cat)], "flux": [str(tmp_path / "fluxes.parquet"), "--flux"]}
    for name, (path, *flag) in runs.items():
        out = tmp_path / f"{name}.parquet"
        assert main(["props", "predict", "--model", str(model), "--catalog", path, "--out", str(out),
                     "--no-progress", *flag]) == 0
    a, b = read_catalog(tmp_path / "mag_default.parquet"), read_catalog(tmp_path / "flux.parquet")
    assert np.array_equal(a["log_mstar"], b["log_mstar"], equal_nan=True)
    assert np.array_equal(a["log_mstar"], reg.predict(tm)["log_mstar"], equal_nan=True)
    capsys.readouterr()


def test_cli_predict_id_column(toy, tmp_path, capsys):
    from galfast.catalog import read_catalog, write_catalog
    from galfast.cli import main

    phot, truth, _ = toy
    model = PropertyRegressor(targets=("av",), **dict(SMALL, epochs=2)).fit(
        phot.select(np.arange(500)), truth[:500]).save(tmp_path / "m.pt")
    t = phot.select(np.arange(500, 800)).to_table()
    t["SOURCE_ID"] = [f"gal{i:05d}" for i in range(len(t))]       # neither "id" nor row numbers
    cat = write_catalog(t, tmp_path / "cat.parquet")
    out = tmp_path / "p.parquet"
    assert main(["props", "predict", "--model", str(model), "--catalog", str(cat), "--out", str(out),
                 "--id-column", "SOURCE_ID", "--chunk-rows", "128", "--no-progress"]) == 0
    pred = read_catalog(out)
    assert len(pred) == 300 and list(pred["id"]) == list(t["SOURCE_ID"])
    assert main(["props", "predict", "--model", str(model), "--catalog", str(cat), "--out", str(tmp_path / "q.csv"),
                 "--id-column", "objname", "--no-progress"]) == 1
    assert "objname" in capsys.readouterr().err
    # the API: id_column= picks the column, None gives row numbers
    assert list(PropertyRegressor.load(model).predict(t[:5], id_column="SOURCE_ID")["id"]) == list(t["SOURCE_ID"][:5])
    assert list(PropertyRegressor.load(model).predict(t[:5], id_column=None)["id"]) == [0, 1, 2, 3, 4]


def test_band_subset_parameter(toy):
    phot, truth, _ = toy
    reg = PropertyRegressor(targets=("av",), bands=("F444W", "jwst_f150w"), **dict(SMALL, epochs=2))
    reg.fit(phot.select(np.arange(500)), truth[:500])
    assert reg.bands_ == ("jwst_f150w", "jwst_f444w") and reg.features_.n_features == 2 * 3 + 2
    assert len(reg.predict(phot.select(np.arange(10)))) == 10     # extra bands are ignored

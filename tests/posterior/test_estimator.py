"""NeuralLikelihood on a simulated catalogue with known truth: it learns (the truths score higher
than wrong parameters; the χ² ellipsoids are roughly calibrated, with and without bands), the
parameter conventions, the log-SFR floor and prior support, model files and their failures."""

import numpy as np
import pytest
import torch

import galfast
from galfast.errors import CatalogError, ModelFileError
from galfast.posterior import DEFAULT_PARAMETERS, NeuralLikelihood
from galfast.validation import ParameterError

from .conftest import SMALL


def test_learns_the_likelihood(trained, held_out):
    h = trained.history_
    assert h["val"][h["best_epoch"] - 1] < h["val"][0] - 5      # the NLL fell by > 5 nats per object
    theta = trained.theta_array(held_out)
    ll = trained.log_likelihood(held_out, held_out)
    assert ll.shape == (len(held_out),) and np.all(np.isfinite(ll))
    # the true parameters explain the fluxes better than another galaxy's parameters
    wrong = np.roll(theta, 17, axis=0)
    lw = trained.log_likelihood(held_out, wrong)
    assert np.mean(ll > lw) > 0.9
    # table and array θ give the same numbers
    assert np.array_equal(trained.log_likelihood(held_out, theta), ll)


def test_chi2_calibration_with_and_without_bands(trained, held_out):
    cal = trained.chi2_calibration(held_out, held_out)
    assert list(cal["level"]) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    for col in ("all_bands", "bands_removed"):
        frac = np.asarray(cal[col])
        assert np.all(np.diff(frac) >= 0)
        assert np.max(np.abs(frac - cal["level"])) < 0.2, (col, frac)     # a 30-epoch network
    assert cal.meta["mean_bands_bands_removed"] < cal.meta["mean_bands_all_bands"]
    assert cal.meta["n_objects_all_bands"] == len(held_out)
    named = trained.chi2_calibration(held_out, held_out, remove_bands=["F115W", "F150W"])
    assert named.meta["mean_bands_bands_removed"] <= 2.0
    with pytest.raises(ParameterError, match="f090w"):
        trained.chi2_calibration(held_out, held_out, remove_bands=["F090W"])
    with pytest.raises(ParameterError, match="levels"):
        trained.chi2_calibration(held_out, held_out, levels=[0.5, 1.5])
    r = trained.residuals(held_out, held_out)
    obs = np.isfinite(np.asarray(held_out["jwst_f444w"]))
    assert r.shape == (len(held_out), 4) and np.all(np.isnan(r[~obs, 3]))
    assert np.all(np.abs(np.nanmedian(r, axis=0)) < 0.5)


def test_missing_bands_are_marginalised_not_zero_filled(trained, held_out):
    """Hiding a band changes ln L to that of the remaining bands (not of a zero flux)."""
    from galfast.photometry import Photometry

    phot = trained.to_photometry(held_out)
    flux = np.array(phot.flux)
    flux[:, 0] = np.nan
    fewer = Photometry.from_arrays(flux, phot.flux_err, phot.bands, ids=phot.ids)
    theta = trained.theta_array(held_out)
    mu, cov = trained.mean_and_cov(theta)
    full = trained.log_likelihood(phot, theta)
    part = trained.log_likelihood(fewer, theta)
    from galfast.posterior.likelihood import masked_loglike

    f, e, o = phot.flux, phot.flux_err, phot.state != 1
    o2 = o.copy()
    o2[:, 0] = False
    assert np.allclose(part, masked_loglike(mu, cov, np.nan_to_num(e), np.nan_to_num(f), o2), rtol=1e-12)
    assert not np.allclose(part, full)


def test_floor_support_and_parameters(trained, train):
    assert trained.parameters_ == DEFAULT_PARAMETERS
    assert trained.bands_ == ("jwst_f115w", "jwst_f150w", "jwst_f277w", "jwst_f444w")
    j = trained.parameters_.index("log_sfr")
    raw = np.asarray(train["log_sfr"], dtype=float)
    assert raw.min() < np.asarray(train["log_mstar"]).min() - 13            # quiescent mocks
    assert trained.theta_min_[j] >= np.asarray(train["log_mstar"]).min() - 13 - 1e-9   # floored
    th = trained.theta_array(train)
    assert np.all(trained.theta_min_ <= th.min(0) + 1e-12) and np.all(trained.theta_max_ >= th.max(0) - 1e-12)
    assert trained.n_train_ + trained.n_val_ == len(train)


def test_photometry_input_diagonal_variant_and_seeds(train):
    phot = galfast.Photometry.from_table(train, None)
    kw = dict(SMALL, epochs=3, diagonal=True, parameters=("log_mstar", "av", "z"))
    a = NeuralLikelihood(**kw).fit(phot, train)
    b = NeuralLikelihood(**kw).fit(train)
    for k, v in a.network_.state_dict().items():
        assert torch.equal(v, b.network_.state_dict()[k]), k            # same int seed, same fit
    _, cov = a.mean_and_cov(a.theta_array(train[:5]))
    assert np.all(cov[:, 0, 1] == 0) and np.all(cov[:, 1, 1] > 0)
    c = NeuralLikelihood(**dict(kw, random_state=np.random.default_rng(1))).fit(train)
    assert c.n_train_ == a.n_train_
    with pytest.raises(ParameterError, match="truths"):
        NeuralLikelihood(**kw).fit(phot)


@pytest.mark.parametrize("bad", [dict(band_dropout=1.0), dict(hidden=0), dict(beta=-1), dict(sigma2_min=0),
                                 dict(n_jobs=0), dict(random_state="x"), dict(parameters="log_mstar"),
                                 dict(parameters=("av", "av")), dict(epochs=0), dict(lr=0)])
def test_bad_parameters(train, bad):
    with pytest.raises(ParameterError):
        NeuralLikelihood(**{**SMALL, "epochs": 1, **bad}).fit(train[:50])


def test_errors_name_what_is_wrong(trained, train):
    with pytest.raises(CatalogError, match="log_foo"):
        NeuralLikelihood(parameters=("log_foo",), epochs=1).fit(train[:50])
    with pytest.raises(CatalogError, match="shape"):
        trained.log_likelihood(train[:5], np.zeros((5, 2)))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        NeuralLikelihood().log_likelihood(train[:5], train[:5])


def test_model_file_round_trip_and_failures(trained, held_out, tmp_path):
    path = trained.save(tmp_path / "nl.safetensors")
    back = galfast.load_model(path)
    assert isinstance(back, NeuralLikelihood) and back.bands_ == trained.bands_
    assert np.array_equal(back.log_likelihood(held_out, held_out), trained.log_likelihood(held_out, held_out))
    assert np.array_equal(back.theta_min_, trained.theta_min_)
    assert back.get_params() == trained.get_params()
    raw = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="cut.safetensors"):
        NeuralLikelihood.load(tmp_path / "cut.safetensors")
    bad = bytearray(raw)
    bad[-20] ^= 0xFF
    (tmp_path / "bad.safetensors").write_bytes(bytes(bad))
    with pytest.raises(ModelFileError, match="bad.safetensors"):
        NeuralLikelihood.load(tmp_path / "bad.safetensors")
    from galfast.modelfile import write_model_file

    write_model_file(tmp_path / "other.safetensors", "galfast.PropertyRegressor", 1, {}, {})
    with pytest.raises(ModelFileError, match="PropertyRegressor"):
        NeuralLikelihood.load(tmp_path / "other.safetensors")
    meta, arrays = trained.to_state()
    write_model_file(tmp_path / "future.safetensors", "galfast.NeuralLikelihood", 99, meta, arrays)
    with pytest.raises(ModelFileError, match="state version 99"):
        NeuralLikelihood.load(tmp_path / "future.safetensors")

"""galfast.props.features: asinh-magnitude features, not-observed masks, persistence."""
import numpy as np
import pytest
import torch

from galfast.photometry import NOT_OBSERVED, Photometry
from galfast.props.features import FeatureMaker, photometry_arrays

from .toy import toy_universe


def test_asinh_features_match_ab_magnitudes_when_bright_and_stay_finite_when_faint():
    flux = np.array([[1000.0, 1e4], [-0.5, 0.0]], dtype=np.float32)
    err = np.full_like(flux, 0.01)
    obs = np.ones_like(flux, dtype=bool)
    fm = FeatureMaker(["jwst_f150w", "jwst_f444w"], use_redshift=False).fit(flux, err, obs)
    assert fm.n_features == 2 * 3
    assert fm.softening_ == pytest.approx([0.01, 0.01])        # the median training error
    fm.mean_, fm.scale_ = np.zeros(fm.n_features), np.ones(fm.n_features)    # un-standardised
    raw = fm.transform_torch(*(torch.from_numpy(a) for a in (flux, err, obs))).numpy()
    # bright: asinh magnitude = AB magnitude; its error = 1.0857 σ/f
    assert raw[0, :2] == pytest.approx(23.9 - 2.5 * np.log10([1000.0, 1e4]), abs=1e-4)
    assert raw[0, 2] == pytest.approx(1.0857 * 0.01 / 1000, rel=1e-3)
    assert np.all(np.isfinite(raw))
    assert raw[1, 0] > raw[1, 1]          # negative flux is fainter than zero flux
    assert np.all(raw[:, 4:] == 0)        # observed flags


def test_not_observed_bands_are_zero_filled_with_flag():
    phot, _, _ = toy_universe(50, seed=3, missing_fraction=0.3)
    flux, err, obs, n_lacking = photometry_arrays(phot, phot.bands)
    assert n_lacking == 0 and flux.dtype == np.float32
    assert np.array_equal(obs, phot.state != NOT_OBSERVED)
    fm = FeatureMaker(phot.bands).fit(flux, err, obs, phot.z)
    x = fm.transform_torch(*(torch.from_numpy(a) for a in (flux, err, obs)),
                           torch.from_numpy(phot.z.astype(np.float32))).numpy()
    nb = len(phot.bands)
    assert np.all(x[:, :nb][~obs] == 0) and np.all(x[:, nb:2 * nb][~obs] == 0)
    assert np.array_equal(x[:, 2 * nb:3 * nb], (~obs).astype(np.float32))


def test_photometry_arrays_of_big_endian_photometry_are_native():
    phot, _, _ = toy_universe(20, seed=4)
    big = Photometry(phot.bands, phot.flux.astype(">f8"), phot.flux_err.astype(">f8"), phot.state,
                     phot.ids, phot.z.astype(">f8"))
    arrays = photometry_arrays(big, phot.bands)[:3]
    for a, b in zip(arrays, photometry_arrays(phot, phot.bands)[:3]):
        assert a.dtype.isnative and np.array_equal(a, b)
        torch.from_numpy(a)                                     # torch takes them


def test_lacking_bands_error_or_mask():
    phot, _, _ = toy_universe(10, seed=5)
    bands = list(phot.bands) + ["jwst_f356w"]
    from galfast.errors import BandError

    with pytest.raises(BandError, match="jwst_f356w"):
        photometry_arrays(phot, bands)
    flux, err, obs, n_lacking = photometry_arrays(phot, bands, missing_bands="mask")
    assert n_lacking == 1 and not obs[:, -1].any() and np.all(flux[:, -1] == 0)


def test_feature_maker_round_trips_through_its_dict():
    phot, _, _ = toy_universe(200, seed=6, missing_fraction=0.1)
    f, e, o, _ = photometry_arrays(phot, phot.bands)
    z = torch.from_numpy(phot.z.astype(np.float32))
    fm = FeatureMaker(phot.bands).fit(f, e, o, phot.z)
    back = FeatureMaker.from_dict(fm.to_dict())
    args = [torch.from_numpy(a) for a in (f, e, o)] + [z]
    assert torch.equal(fm.transform_torch(*args), back.transform_torch(*args))

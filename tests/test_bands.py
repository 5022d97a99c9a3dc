"""Band registry: aliases resolve to sedpy names, wavelengths, user curves."""
import numpy as np
import pytest

from galfast import BandError
from galfast.bands import (JWST_HST_BANDS, effective_wavelength, get_band, register_band, register_tophat,
                           resolve_band, sort_bands)


@pytest.mark.parametrize("alias,name", [
    ("F444W", "jwst_f444w"), ("f606w", "acs_wfc_f606w"), ("F160W", "wfc3_ir_f160w"),
    ("lsst_r", "lsst_baseline_r"), ("sdss_u", "sdss_u0"), ("Ks", "vista_vircam_Ks"), ("W1", "wise_w1"),
    ("SPIRE250", "herschel_spire_250"), ("pacs_100", "herschel_pacs_100"), ("FUV", "galex_FUV"),
    ("F770W", "jwst_f770w"), ("jwst_f410m", "jwst_f410m"),
])
def test_aliases(alias, name):
    assert resolve_band(alias) == name


@pytest.mark.parametrize("alias,name", [
    ("nircam_f150w2", "jwst_f150w2"), ("nircam_f322w2", "jwst_f322w2"), ("jwst_nircam_f150w2", "jwst_f150w2"),
    ("nircam_f444w", "jwst_f444w"), ("miri_f770w", "jwst_f770w"), ("miri_f2550w", "jwst_f2550w"),
    ("jwst_miri_f1800w", "jwst_f1800w"), ("F150W2", "jwst_f150w2"),
])
def test_jwst_instrument_aliases(alias, name):
    assert resolve_band(alias) == name


@pytest.mark.parametrize("wrong", ["miri_f150w2", "miri_f322w2", "miri_f444w", "nircam_f770w",
                                   "jwst_nircam_f1800w"])
def test_jwst_instrument_aliases_do_not_cross_instruments(wrong):
    # F150W2 and F322W2 are NIRCam wide filters (their "2" is not part of the wavelength)
    with pytest.raises(BandError, match="unknown band"):
        resolve_band(wrong)


def test_shared_catalogue_bands_are_in_wavelength_order():
    assert tuple(sort_bands(reversed(JWST_HST_BANDS))) == JWST_HST_BANDS
    w = [effective_wavelength(b) for b in JWST_HST_BANDS]
    assert np.all(np.diff(w) > 0)
    assert 43000 < effective_wavelength("F444W") < 45000  # Å


def test_unknown_and_duplicate_bands():
    with pytest.raises(BandError, match="unknown band"):
        resolve_band("F123Q")
    with pytest.raises(BandError, match="more than once"):
        sort_bands(["F444W", "jwst_f444w"])


def test_user_tophat_band():
    b = register_tophat("test_tophat_5000", 5000.0, 145.0)
    assert b.wave_effective == pytest.approx(5000.0, rel=2e-3)
    assert resolve_band("test_tophat_5000") == "test_tophat_5000"
    assert get_band("test_tophat_5000").sedpy_filter.wave_effective == pytest.approx(b.wave_effective, rel=1e-3)
    with pytest.raises(BandError, match="already exists"):
        register_band("test_tophat_5000", [1, 2, 3], [0, 1, 0])
    with pytest.raises(BandError, match="increase"):
        register_band("bad_curve", [3, 2, 1], [0, 1, 0])

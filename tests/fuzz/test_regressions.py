"""Regression tests of the bugs the fuzzer (tests/fuzz/test_fuzz.py) found, one each."""
import warnings

import numpy as np
from astropy.table import Table

from galfast import flags

from .test_fuzz import BANDS, photoz_model, props_model


def _row(**over):
    t = Table({c: [v] for c, v in {"jwst_f090w": 200.0, "jwst_f090w_err": 1.0, "jwst_f150w": 300.0,
                                   "jwst_f150w_err": 1.0, "jwst_f277w": 400.0, "jwst_f277w_err": 1.0,
                                   "jwst_f444w": 500.0, "jwst_f444w_err": 1.0, "z": 1.0}.items()})
    for c, v in over.items():
        t[c] = [v]
    return t


def test_photoz_of_no_targets_is_no_rows():
    """photoz(train, z, empty target array) raised scikit-learn's ValueError (not a galfast
    error); zero rows in → zero rows out."""
    from galfast import photoz

    train = np.array([[22.0, 21.5, 21.0, 20.8], [23.0, 22.0, 21.0, 20.0], [21.0, 21.0, 21.0, 21.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z, ze, fl = photoz(train, np.array([0.5, 1.0, 0.1]), np.empty((0, 4)), k=2)
    assert len(z) == len(ze) == len(fl) == 0 and fl.dtype == np.int64


def test_props_flux_or_error_beyond_float32_is_not_a_silent_nan():
    """A flux or error of 1e308 (finite in float64, inf in the networks' float32) gave a NaN
    estimate with no no_estimate flag; now the band is unusable and the estimate finite."""
    reg = props_model()
    for over in ({"jwst_f444w": 1e308}, {"jwst_f090w_err": 1e308}, {"jwst_f150w_err": 1e39}):
        out = reg.predict_table(_row(**over))
        value, flag = float(out["log_mstar"][0]), int(out["flags"][0])
        assert np.isfinite(value) and not flag & flags.NO_ESTIMATE, (over, value, flags.describe(flag))


def test_props_sentinel_redshift_is_no_redshift():
    """z = −99 / −999 (sentinels; 1 + z ≤ 0) was fed to the network as a redshift; now the row
    gets no estimate and the flags no_redshift | no_estimate, as a NaN redshift does."""
    reg = props_model()
    for z in (-99.0, -999.0, -1.0):
        out = reg.predict_table(_row(z=z))
        flag = int(out["flags"][0])
        assert np.isnan(out["log_mstar"][0]) and flag & flags.NO_REDSHIFT and flag & flags.NO_ESTIMATE
    assert np.isfinite(reg.predict_table(_row(z=0.0))["log_mstar"][0])


def test_photoz_model_fixture_bands():
    assert photoz_model().bands_ == BANDS


def test_props_flux_overflowing_the_network_is_flagged():
    """A flux of 1e38 µJy (or 1e30 Jy; finite in float32 but far outside the training domain) made
    the network overflow: an unflagged −inf or NaN log_mstar. Now such a row gets NaN with
    no_estimate | extrapolation."""
    reg = props_model()
    for band, value, unit in (("jwst_f277w", 1e38, None), ("jwst_f090w", 1e38, None),
                              ("jwst_f150w", 1e30, "Jy"), ("jwst_f277w", -1e30, "Jy")):
        row = _row(**{band: value})
        if unit:
            for b in BANDS:
                row[b].unit = row[f"{b}_err"].unit = unit
        out = reg.predict_table(row)
        est, flag = float(out["log_mstar"][0]), int(out["flags"][0])
        assert not np.isinf(est), (band, value, unit, est, flags.describe(flag))
        assert np.isnan(est) == bool(flag & flags.NO_ESTIMATE), (band, value, unit, est, flags.describe(flag))

"""PropertyRegressor on the bundled simulated JWST+HST catalogue (bagpipes physics, known truth)."""
import numpy as np
import pytest

from galfast.bands import JWST_HST_BANDS
from galfast.datasets import load_demo_catalog
from galfast.metrics import regression_metrics
from galfast.photometry import Photometry
from galfast.props import PropertyRegressor
from galfast.props.targets import floor_log_sfr

TARGETS = ("log_mstar", "log_sfr", "av")


@pytest.fixture(scope="module")
def demo():
    table = load_demo_catalog()[:9000]
    table["log_sfr"] = floor_log_sfr(table["log_sfr"], table["log_mstar"])
    phot = Photometry.from_table(table, JWST_HST_BANDS, id_column="id", z_column="z")
    return phot, table


@pytest.fixture(scope="module")
def trained(demo):
    phot, table = demo
    return PropertyRegressor(targets=TARGETS, hidden=(96, 96), epochs=60, patience=8, batch_size=512,
                             band_dropout=0.1, n_threads=1, random_state=0).fit(
        phot.select(np.arange(7000)), table[:7000])


def test_jwst_properties_accuracy_and_coverage(demo, trained):
    phot, table = demo
    test = np.arange(7000, 9000)
    pred = trained.predict(phot.select(test))
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
    full, part = trained.predict(sub), trained.predict(holed)
    incomplete = ~holed.observed.all(1)
    assert np.array_equal(part["flag"] & 2 > 0, incomplete)
    y = np.asarray(table["log_mstar"][test], dtype=float)
    m_full = regression_metrics(y, full["log_mstar"], full["log_mstar_err"])
    m_part = regression_metrics(y[incomplete], part["log_mstar"][incomplete], part["log_mstar_err"][incomplete])
    assert m_part["sigma_nmad"] < 1.5 * m_full["sigma_nmad"]
    assert abs(m_part["coverage_1sigma"] - 0.683) < 0.07
    # the network widens σ when bands are missing
    assert np.median(part["log_mstar_err"][incomplete]) > np.median(full["log_mstar_err"][incomplete])

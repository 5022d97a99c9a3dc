"""Metrics against hand-computed and analytic values."""
import numpy as np
import pytest

from galfast import metrics


def test_sigma_nmad_of_gaussian():
    rng = np.random.default_rng(0)
    dz = rng.normal(0.01, 0.02, 200_000)
    assert metrics.sigma_nmad(dz) == pytest.approx(0.02, rel=0.01)


def test_photoz_metrics_by_hand():
    zs = np.array([0.0, 1.0, 2.0, 3.0])
    zp = np.array([0.0, 1.2, 2.9, np.nan])
    m = metrics.photoz_metrics(zp, zs)
    dz = np.array([0.0, 0.1, 0.3])
    assert m["n"] == 4 and m["n_missing"] == 1
    assert m["outlier_fraction"] == pytest.approx(1 / 3)
    assert m["bias"] == pytest.approx(0.1)
    assert m["sigma_nmad"] == pytest.approx(1.4826 * 0.1)
    assert m["mse"] == pytest.approx(np.mean(dz ** 2))


def test_coverage_of_calibrated_gaussian():
    rng = np.random.default_rng(1)
    s = rng.uniform(0.5, 2.0, 100_000)
    t = rng.normal(0, s)
    c = metrics.coverage(t, np.zeros_like(t), s)
    assert c["coverage_1sigma"] == pytest.approx(0.6827, abs=0.005)
    assert c["coverage_2sigma"] == pytest.approx(0.9545, abs=0.003)
    dens, edges = metrics.normalised_residuals(t, np.zeros_like(t), s)
    centre = 0.5 * (edges[1:] + edges[:-1])
    np.testing.assert_allclose(dens, np.exp(-centre ** 2 / 2) / np.sqrt(2 * np.pi), atol=0.02)


def test_regression_and_binned_metrics():
    t = np.linspace(0, 1, 1000)
    m = metrics.regression_metrics(t, t + 0.1)
    assert m["bias"] == pytest.approx(0.1) and m["sigma"] == pytest.approx(0.0, abs=1e-12)
    assert m["r2"] == pytest.approx(1 - 0.01 / np.var(t), rel=1e-6)
    rows = metrics.binned_metrics(t, t, t, edges=[0, 0.5, 1.01])
    assert [r["n"] for r in rows] == [500, 500]


def test_crps_closed_form_against_numerical_integration():
    rng = np.random.default_rng(0)
    n, k = 40, 5
    mu = rng.normal(1.0, 0.3, (n, k))
    sig = rng.uniform(0.02, 0.3, (n, k))
    w = rng.uniform(0.1, 1, (n, k))
    w /= w.sum(axis=1, keepdims=True)
    y = rng.normal(1.0, 0.4, n)
    closed = metrics.crps_gaussian_mixture(y, mu, sig, w)
    from scipy.special import ndtr

    grid = np.linspace(-3, 5, 80001)
    cdf = np.einsum("ngk,nk->ng", ndtr((grid[None, :, None] - mu[:, None, :]) / sig[:, None, :]), w)
    np.testing.assert_allclose(closed, metrics.crps_from_cdf(grid, cdf, y), rtol=1e-5, atol=1e-8)
    # one Gaussian: the textbook formula σ[z(2Φ(z)−1) + 2φ(z) − 1/√π]
    z = (y - mu[:, 0]) / sig[:, 0]
    ref = sig[:, 0] * (z * (2 * ndtr(z) - 1) + 2 * np.exp(-z * z / 2) / np.sqrt(2 * np.pi) - 1 / np.sqrt(np.pi))
    np.testing.assert_allclose(metrics.crps_gaussian_mixture(y, mu[:, :1], sig[:, 0], np.ones((n, 1))), ref,
                               rtol=1e-10)


def test_pit_statistics_on_uniform_and_skewed_samples():
    rng = np.random.default_rng(1)
    u = rng.uniform(size=20000)
    assert metrics.pit_ks(u) < 0.015 and metrics.pit_cvm(u) < 0.461
    assert metrics.pit_ks(u ** 2) > 0.2 and metrics.pit_cvm(u ** 2) > 100
    dens, edges = metrics.pit_histogram(u, 20)
    assert edges[0] == 0 and edges[-1] == 1 and np.allclose(dens, 1, atol=0.1)
    assert metrics.interval_coverage([0.5, 1.5, np.nan], [0, 0, 0], [1, 1, 1]) == 0.5

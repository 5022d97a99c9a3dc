"""p(z) of KLLRPhotoZ (galfast.redshift.pdf): normalisation, calibration on the JWST protocol
split, the qp round trip, the order of the summaries, magnitude features on a shallow simulated
catalogue, save/load of the new options, the CLI's --pdf columns.  (The p(z) metrics' analytic
cases are in tests/test_metrics.py.)"""
import numpy as np
import pytest

from galfast import metrics
from galfast.redshift import KLLRPhotoZ, tune_kllr
from galfast.redshift.estimator import PDF_COLUMNS
from galfast.redshift.pdf import PhotoZPDF


@pytest.fixture(scope="module")
def split(protocol):
    from galfast.datasets import stratified_split

    mags, z = protocol
    tr, te = stratified_split(z, seed=0)
    est = KLLRPhotoZ().fit(mags[tr], z[tr])
    r = est.predict_full(mags[te], pdf=True)
    return est, r, z[te], mags[te]


def test_pdf_is_normalised_and_summaries_are_ordered(split):
    _, r, zs, _ = split
    pdf = r["pdf"]
    assert isinstance(pdf, PhotoZPDF) and len(pdf) == len(zs) and pdf.valid.all()
    np.testing.assert_allclose(pdf.w.sum(axis=1), 1.0, atol=1e-12)
    grid = np.linspace(-2, 12, 14001)
    np.testing.assert_allclose(np.trapezoid(pdf.select(np.arange(50)).on_grid(grid), grid, axis=1), 1.0, atol=1e-6)
    lo95, lo68, med, hi68, hi95 = (r[c] for c in ("z_lo95", "z_lo68", "z_median", "z_hi68", "z_hi95"))
    assert np.all(lo95 <= lo68) and np.all(lo68 <= med) and np.all(med <= hi68) and np.all(hi68 <= hi95)
    assert np.all((r["z_odds"] > 0) & (r["z_odds"] <= 1 + 1e-9))
    # the compiled quantiles are those of the mixture (where not clipped at z_min = 0)
    ok = lo68 > 0.05
    np.testing.assert_allclose(pdf.cdf(med), 0.5, atol=2e-5)
    np.testing.assert_allclose(pdf.cdf(lo68)[ok], 0.158655, atol=2e-5)
    np.testing.assert_allclose(pdf.cdf(r["z_hi95"]), 0.975, atol=2e-5)
    # the mode is a maximum of the density
    m = r["z_mode"]
    eps = 1e-3 * pdf.sigma
    assert np.mean((pdf.pdf(m) >= pdf.pdf(m - eps)) & (pdf.pdf(m) >= pdf.pdf(m + eps))) > 0.99
    # the median follows the point estimate
    assert np.median(np.abs(med - r["z"]) / (1 + r["z"])) < 0.005


def test_pit_is_calibrated_on_the_jwst_protocol(split):
    """PIT of the 921 test galaxies of seed 0: KS 0.057 measured; a calibrated p(z) would give
    KS ≲ 0.045 at 95 %, a Gaussian of width z_err ~0.08, so the tolerance is 0.08."""
    _, r, zs, _ = split
    pit = r["pdf"].pit(zs)
    m = metrics.pdf_metrics(pit, r["pdf"].crps(zs), z_true=zs,
                            intervals={"68": (r["z_lo68"], r["z_hi68"]), "95": (r["z_lo95"], r["z_hi95"])})
    assert m["pit_ks"] < 0.08
    dens, _ = metrics.pit_histogram(pit, 10)
    assert dens.min() > 0.6 and dens.max() < 1.45
    assert 0.64 < m["coverage_68"] < 0.78 and 0.90 < m["coverage_95"] < 0.98
    # CRPS below that of a Gaussian of width z_err around z_phot
    g = metrics.crps_gaussian_mixture(zs, r["z"][:, None], np.maximum(r["z_err"], 1e-6),
                                      np.ones((len(zs), 1)))
    assert m["crps"] < np.mean(g)


def test_qp_round_trip(split):
    qp = pytest.importorskip("qp")
    _, r, zs, _ = split
    pdf = r["pdf"].select(np.arange(200))
    ens = pdf.to_qp()
    assert isinstance(ens, qp.Ensemble) and ens.npdf == 200
    np.testing.assert_allclose(ens.cdf(zs[:200, None])[:, 0], pdf.pit(zs[:200]), atol=1e-12)
    # qp's mixmod ppf inverts a tabulated CDF (coarse): agreement to 0.03 in z
    assert np.all(np.abs(ens.ppf(0.5)[:, 0] - pdf.ppf(0.5)) < 0.03)
    back = PhotoZPDF.from_qp(ens)
    np.testing.assert_allclose(back.pit(zs[:200]), pdf.pit(zs[:200]), atol=1e-12)


def test_predict_table_pdf_columns(protocol_phot):
    from galfast.datasets import stratified_split

    tr, te = stratified_split(protocol_phot.z, seed=0)
    est = KLLRPhotoZ().fit(protocol_phot.select(tr))
    t = est.predict_table(protocol_phot.select(te[:100]), pdf=True)
    assert t.colnames[7:] == list(PDF_COLUMNS)
    plain = est.predict_table(protocol_phot.select(te[:100]))
    assert "z_median" not in plain.colnames
    np.testing.assert_array_equal(plain["z_phot"], t["z_phot"])


def _shallow(n, seed):
    """A shallow survey with known truth: 4 bands whose colours are the same for a faint high-z
    and a bright low-z population (a colour-redshift degeneracy) that brightness separates."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.1, 2.0, n)
    high = z > 1.05
    t = np.where(high, z - 0.95, z)           # the same colour track for both branches
    base = np.stack([t, 0.6 * t ** 2, 0.3 * np.sin(3 * t), np.zeros(n)], axis=1)
    bright = np.where(high, 24.5, 21.0) + rng.normal(0, 0.4, n)
    mags = bright[:, None] + np.cumsum(base, axis=1) + rng.normal(0, 0.03, (n, 4))
    return mags, z


def test_magnitude_features_break_a_colour_degeneracy():
    Mt, zt = _shallow(3000, 0)
    Mq, zq = _shallow(1000, 1)
    colours = KLLRPhotoZ(k=20, mode_window=None).fit(Mt, zt).predict(Mq)
    with_mag = KLLRPhotoZ(k=20, mode_window=None, mag_features=[3], mag_scale=1.0).fit(Mt, zt)
    zm = with_mag.predict(Mq)
    fo = lambda zp: metrics.outlier_fraction(metrics.photoz_dz(zp, zq))  # noqa: E731
    assert fo(colours) > 0.2 and fo(zm) < 0.05
    res = tune_kllr(Mt, zt, n_trials=12, n_folds=3, random_state=0, mag_features=[3],
                    fixed={"k": 20, "lam": 0.1, "gamma": 0.1})
    assert "mag_scale" in res.best_params and res.settings["mag_features"] == [3]
    tuned = res.estimator().fit(Mt, zt)
    assert tuned.mag_scale_ == (res.best_params["mag_scale"],)
    assert fo(tuned.predict(Mq)) < 0.05


def test_magnitude_features_save_load_and_bad_values(tmp_path, protocol_phot):
    from galfast.errors import BandError
    from galfast.validation import ParameterError

    est = KLLRPhotoZ(mag_features=["F444W", "F150W"], mag_scale=[0.5, 0.2]).fit(protocol_phot.select(np.arange(1500)))
    assert est.mag_idx_ == (10, 5) and est.mag_scale_ == (0.5, 0.2)
    path = est.save(tmp_path / "m.safetensors")
    back = KLLRPhotoZ.load(path)
    assert back.mag_idx_ == est.mag_idx_ and back.mag_scale_ == est.mag_scale_
    assert back.get_params()["mag_features"] == ["F444W", "F150W"]
    q = protocol_phot.select(np.arange(1500, 1700))
    np.testing.assert_array_equal(back.predict_full(q)["z"], est.predict_full(q)["z"])
    t1, t2 = back.predict_table(q, pdf=True), est.predict_table(q, pdf=True)
    np.testing.assert_array_equal(t1["z_median"], t2["z_median"])
    with pytest.raises(BandError, match="F999W|not one of"):
        KLLRPhotoZ(mag_features=["F090W", "lsst_baseline_i"]).fit(protocol_phot.select(np.arange(300)))
    with pytest.raises(ParameterError, match="mag_scale"):
        KLLRPhotoZ(mag_features=["F444W"], mag_scale=-1).fit(protocol_phot.select(np.arange(300)))


def test_cli_pdf_columns(tmp_path, jwst_catalog_path):
    from galfast.catalog import read_catalog
    from galfast.cli import main

    out = tmp_path / "pz.parquet"
    rc = main(["photoz", "--train", str(jwst_catalog_path), "--catalog", str(jwst_catalog_path),
               "--bands", "jwst_hst", "--out", str(out), "--pdf", "--no-progress", "--k", "20",
               "--mag-features", "F444W", "--mag-scale", "0.3", "--target-z-column", "zspec", "--plot",
               "--chunk-rows", "2000"])
    assert rc == 0
    t = read_catalog(out)
    for c in PDF_COLUMNS:
        assert c in t.colnames
    ok = np.isfinite(np.asarray(t["z_median"], float))
    assert ok.mean() > 0.95
    assert np.all(np.asarray(t["z_lo95"])[ok] <= np.asarray(t["z_hi95"])[ok])
    assert (tmp_path / "pz_pit.png").stat().st_size > 10_000


def test_lsst_1yr_depth_preset_is_a_tenth_of_the_visits():
    """The year-1 preset of the LSST benchmarks: 2.5 log10(√10) = 1.25 mag above lsst_10yr."""
    from galfast.sim import DEPTH_PRESETS

    y10, y1 = DEPTH_PRESETS["lsst_10yr"], DEPTH_PRESETS["lsst_1yr"]
    assert set(y1) == set(y10)
    for band in y10:
        assert y10[band] - y1[band] == pytest.approx(1.25)

"""Photo-z by kernelised local linear regression: kernel vs NumPy baseline, analytic recovery,
published-protocol accuracy, missing bands, bad input, save/load, determinism, scikit-learn API."""
import importlib.util
import json
import platform
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

import galfast
from galfast.errors import BandError, CatalogError, CatalogWarning, ModelFileError
from galfast.metrics import photoz_metrics
from galfast.redshift import (BANDS_SHIFT, FLAG_BAD_VALUE, FLAG_BANDS_DROPPED, FLAG_FEW_NEIGHBOURS, FLAG_MISSING_BANDS,
                              FLAG_NO_ESTIMATE, FLAG_TOO_FEW_BANDS, KLLRPhotoZ, describe_flags,
                              photoz, tune_kllr)

REPO = Path(__file__).resolve().parents[1]


def _baseline():
    spec = importlib.util.spec_from_file_location("photoz_baseline", REPO / "bench" / "photoz_baseline.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _analytic(rng, n):
    """Magnitudes in 5 bands whose 4 colours determine z through a smooth function (no noise)."""
    c = rng.uniform(-1, 1, (n, 4))
    z = 1.5 + 0.8 * np.sin(1.5 * c[:, 0]) + 0.5 * c[:, 1] ** 2 + 0.3 * c[:, 2] * c[:, 3]
    m0 = rng.uniform(24, 27, n)
    return np.c_[m0, m0[:, None] + np.cumsum(c, axis=1)], z


@pytest.fixture(scope="module")
def protocol(jwst_phot):
    from galfast.datasets import jwst_specz_protocol

    p, _ = jwst_specz_protocol(jwst_phot)
    return p.mag(), p.z


# ---------------------------------------------------------------- the compiled kernel
def _kernel(name):
    import importlib

    if name == "kllr_avx2":
        feats = getattr(np._core._multiarray_umath, "__cpu_features__", {})
        if not (feats.get("AVX2") and feats.get("FMA3")):
            pytest.skip("CPU without AVX2/FMA")
    return importlib.import_module(f"galfast._ext.{name}")


@pytest.mark.parametrize("module", ["kllr", "kllr_avx2"])
@pytest.mark.parametrize("k,tau,center", [(10, 0.0, False), (30, 0.0, True), (30, 0.3, True)])
def test_kernel_equals_numpy_baseline(k, tau, center, module):
    kllr_predict = _kernel(module).kllr_predict
    base = _baseline()
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1500, 6))
    y = np.abs(X[:, 0] + 0.5 * X[:, 1] ** 2) + rng.uniform(0, 0.2, 1500)
    y[::20] += 4.0  # catastrophic neighbours: the 3σ clip and the mode guard act
    Q = rng.normal(size=(200, 6)) * 1.1
    idx = np.ascontiguousarray(cKDTree(X).query(Q, k)[1])
    z, e, f, n = kllr_predict(X, y, Q, idx, k, 0.05, 0.4, 3.0, center, 0.0, tau, 2)
    zb, eb, fb, nb = base.kllr_loop(X, y, Q, k, 0.05, 0.4, center=center, z_min=0.0, tau=tau)
    np.testing.assert_allclose(z, zb, rtol=0, atol=1e-8)
    np.testing.assert_allclose(e, eb, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(f, fb)
    np.testing.assert_array_equal(n, nb)
    assert (f & 1).any() and (e > 0).all() and (z >= 0).all()  # extrapolation flag exercised
    if k >= 30:
        assert (f & 4).any()  # the 3σ clip and refit exercised (one outlier among 10 rarely is 3δ)
    if tau:
        assert (f & 16).any()


@pytest.mark.parametrize("module", ["kllr", "kllr_avx2"])
def test_compiled_knn_equals_brute_force(module):
    mod = _kernel(module)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(700, 5))
    X[10] = X[11]  # an exact tie: the lower index comes first
    Q = np.vstack([rng.normal(size=(60, 5)), X[10:11]])
    idx = mod.knn_brute(np.ascontiguousarray(X.T), Q, 15, 2)
    d2 = ((Q[:, None, :] - X[None]) ** 2).sum(-1)
    ref = np.argsort(d2, axis=1, kind="stable")[:, :15]
    np.testing.assert_array_equal(idx, ref)
    assert idx[-1, :2].tolist() == [10, 11]
    with pytest.raises(ValueError, match="k=701"):
        mod.knn_brute(np.ascontiguousarray(X.T), Q, 701)


def test_noiseless_analytic_function_is_recovered():
    rng = np.random.default_rng(42)
    Mt, zt = _analytic(rng, 4000)
    Mq, zq = _analytic(rng, 500)
    est = KLLRPhotoZ(k=50, lam=1e-4, gamma=0.3, mode_window=None).fit(Mt, zt)
    zp, ze = est.predict(Mq, return_std=True)
    err = np.abs(zp - zq)
    assert np.median(err) < 0.003
    assert err.max() < 0.05
    assert np.median(ze) < 0.01  # the error knows the relation is smooth and exact
    # the neighbours' mean alone (γ → 0 limit of a constant fit) is far worse
    knn = KLLRPhotoZ(k=50, lam=1e6, gamma=0.3, mode_window=None).fit(Mt, zt).predict(Mq)
    assert np.median(np.abs(knn - zq)) > 5 * np.median(err)


# ---------------------------------------------------------------- accuracy on real data
def test_published_protocol_accuracy(protocol):
    """The published protocol, all 10 seeds, default hyperparameters: the paper's mean over 10
    seeds is σ_NMAD 0.018, outliers 3.5 %.  (The defaults were chosen by tuning on seed 0's
    training set, which overlaps the other seeds' test sets; the per-seed tuned run below and
    bench/photoz_accuracy.py are the clean numbers.)  One seed's outlier rate on 921 galaxies has
    a binomial scatter of ≈ 0.6 %: single seeds get 0.6 % of tolerance, the mean none."""
    from galfast.datasets import stratified_split

    mags, z = protocol
    ms = []
    for seed in range(10):
        tr, te = stratified_split(z, seed=seed)
        assert (len(tr), len(te)) == (3684, 921)
        est = KLLRPhotoZ().fit(mags[tr], z[tr])
        zp, ze = est.predict(mags[te], return_std=True)
        ms.append(photoz_metrics(zp, z[te], ze))
    assert all(m["n_missing"] == 0 for m in ms)
    assert np.mean([m["sigma_nmad"] for m in ms]) <= 0.018
    assert np.mean([m["outlier_fraction"] for m in ms]) <= 0.035
    assert max(m["outlier_fraction"] for m in ms) <= 0.035 + 0.006
    # the per-object error is roughly calibrated (Gaussian: 0.68 / 0.95)
    assert 0.6 < np.mean([m["coverage_1sigma"] for m in ms]) < 0.85
    assert 0.85 < np.mean([m["coverage_2sigma"] for m in ms]) < 0.98


def test_tuned_on_the_training_set_only_meets_the_paper(protocol):
    """The clean protocol: tune (50 trials × 5 folds, σ_NMAD + outlier objective) on seed 0's
    3,684 training galaxies only, score on its 921 test galaxies (measured: k=21, σ_NMAD 0.0155,
    outliers 3.3 %)."""
    from galfast.datasets import stratified_split

    mags, z = protocol
    tr, te = stratified_split(z, seed=0)
    res = tune_kllr(mags[tr], z[tr], random_state=0)
    assert len(res.trials) == 50
    m = photoz_metrics(res.estimator().fit(mags[tr], z[tr]).predict(mags[te]), z[te])
    assert m["sigma_nmad"] <= 0.018 and m["outlier_fraction"] <= 0.035 + 0.006


def test_paper_recipe_without_extensions_is_worse_on_outliers(protocol):
    """center=False, mode_window=None is the paper's estimator; galfast's defaults beat it."""
    from galfast.datasets import stratified_split

    mags, z = protocol
    tr, te = stratified_split(z, seed=0)
    paper = KLLRPhotoZ(center=False, mode_window=None).fit(mags[tr], z[tr]).predict(mags[te])
    ours = KLLRPhotoZ().fit(mags[tr], z[tr]).predict(mags[te])
    assert photoz_metrics(ours, z[te])["outlier_fraction"] < photoz_metrics(paper, z[te])["outlier_fraction"]


def test_tuning_is_deterministic_and_improves_cv(protocol):
    from galfast.datasets import stratified_split

    mags, z = protocol
    tr, _ = stratified_split(z, seed=0)
    a = tune_kllr(mags[tr], z[tr], n_trials=12, n_folds=3, random_state=7)
    b = tune_kllr(mags[tr], z[tr], n_trials=12, n_folds=3, random_state=7)
    assert a.best_params == b.best_params and a.best_value == b.best_value
    assert len(a.trials) == 12
    values = [v for _, v in a.trials]
    assert a.best_value == min(values) and a.best_value < np.median(values)
    assert 0.01 < a.best_value < 0.1  # σ_NMAD + f_outlier of a sane model
    fixed = tune_kllr(mags[tr], z[tr], n_trials=3, n_folds=3, random_state=7, fixed={"k": 9})
    assert fixed.best_params["k"] == 9


def test_whole_sample_every_row_served(jwst_phot):
    """All 5,611 z ≤ 7 rows, missing bands and non-detections kept: one row out per row in."""
    from galfast.datasets import jwst_specz_protocol, stratified_split

    p, _ = jwst_specz_protocol(jwst_phot, complete=False)
    assert len(p) == 5611
    mags, z = p.mag(), p.z
    tr, te = stratified_split(z, seed=0)
    z_phot, z_err, flags = photoz(mags[tr], z[tr], mags[te])
    assert len(z_phot) == len(te) == len(flags)
    usable = np.isfinite(mags[te])
    missing = ~usable.all(axis=1)
    assert missing.sum() > 100
    np.testing.assert_array_equal((flags & FLAG_MISSING_BANDS) > 0, missing)
    # bands used: bits ≥ 16 are exactly the usable bands
    used = (flags >> BANDS_SHIFT)[:, None] >> np.arange(11) & 1
    np.testing.assert_array_equal(used.astype(bool), usable)
    assert np.isfinite(z_phot).all() and np.isfinite(z_err).all()
    m = photoz_metrics(z_phot, z[te])
    assert m["outlier_fraction"] <= 0.05 and m["sigma_nmad"] < 0.022
    assert photoz_metrics(z_phot[missing], z[te][missing])["outlier_fraction"] < 0.08


def test_missing_band_subspace_uses_adjacent_available_colours():
    """A target without its middle band is predicted in the subspace of the colours it has, with
    training rows that have those bands; equal to a model trained on those bands only."""
    rng = np.random.default_rng(5)
    Mt, zt = _analytic(rng, 3000)
    Mq, zq = _analytic(rng, 200)
    Mq_miss = Mq.copy()
    Mq_miss[:, 2] = np.nan
    est = KLLRPhotoZ(k=20, lam=1e-3, gamma=0.3).fit(Mt, zt)
    r = est.predict_full(Mq_miss)
    sub = KLLRPhotoZ(k=20, lam=1e-3, gamma=0.3).fit(Mt[:, [0, 1, 3, 4]], zt).predict(Mq[:, [0, 1, 3, 4]])
    np.testing.assert_allclose(r["z"], sub, atol=1e-12)
    assert (r["n_bands_used"] == 4).all() and (r["flags"] & FLAG_MISSING_BANDS).all()
    # and a complete target's features are exactly the adjacent colours, standardised (protocol)
    full = est.index_.model(0b11111)
    c = np.diff(Mt, axis=1)
    np.testing.assert_allclose(full.X, (c - c.mean(0)) / c.std(0), atol=1e-12)


def test_too_few_bands_and_few_training_rows_are_flagged():
    rng = np.random.default_rng(6)
    Mt, zt = _analytic(rng, 500)
    Mt[:5, 0] = np.nan  # only 5 training rows lack band 0 → patterns without it have all 500
    Mq, _ = _analytic(rng, 4)
    Mq[0, :] = np.nan
    Mq[1, 1:] = np.nan          # one band: no colour
    Mq[2, [0, 2]] = np.nan      # 3 bands
    z, e, flags = photoz(Mt, zt, Mq, k=10)
    assert np.isnan(z[:2]).all() and np.isnan(e[:2]).all()
    assert (flags[:2] & FLAG_NO_ESTIMATE).all() and (flags[:2] & FLAG_TOO_FEW_BANDS).all()
    assert np.isfinite(z[2:]).all() and not (flags[2:] & FLAG_NO_ESTIMATE).any()
    assert "too_few_bands" in describe_flags(flags[1])
    # bands that fewer than k training rows share are dropped, the one costing most rows first
    Mt2 = Mt.copy()
    Mt2[8:, 4] = np.nan  # only rows 5..7 have all 5 bands (rows 0..4 lack band 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CatalogWarning)
        est = KLLRPhotoZ(k=10).fit(Mt2, zt)
    r = est.predict_full(Mq[3:4])
    assert r["flags"][0] & FLAG_BANDS_DROPPED and r["n_bands_used"][0] == 4
    assert (r["flags"][0] >> BANDS_SHIFT) == 0b01111 and r["n_neighbours"][0] >= 9
    # a two-band pattern with fewer training rows than k uses them all and says so
    Mt3 = Mt[:12].copy()
    Mt3[3:, 4] = np.nan
    est = KLLRPhotoZ(k=10).fit(Mt3, zt[:12])
    q = Mq[3:4].copy()
    q[0, :3] = np.nan
    r = est.predict_full(q)
    assert r["flags"][0] & FLAG_FEW_NEIGHBOURS and r["n_neighbours"][0] <= 3 and np.isfinite(r["z"][0])


# ---------------------------------------------------------------- bad input
def test_bad_training_values_excluded_with_count():
    rng = np.random.default_rng(7)
    M, z = _analytic(rng, 300)
    z = z.copy()
    z[:4] = np.nan
    z[4] = -99
    z[5] = np.inf
    M[6, :] = 99.0          # sentinels everywhere → too few bands
    M[7, 2] = np.inf        # one bad band → treated as missing
    with pytest.warns(CatalogWarning, match=r"7 of 300 training rows excluded: 6 with a NaN/inf/−99 redshift, 1 with fewer") as rec:
        est = KLLRPhotoZ(k=10).fit(M, z)
    assert any("magnitudes" in str(w.message) for w in rec)
    assert len(est.train_z_) == 293 and est.n_excluded_ == 7
    with pytest.raises(CatalogError, match="no usable training rows"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CatalogWarning)
            KLLRPhotoZ(k=1).fit(M[:6], z[:6])
    # a bad target value is missing, flagged, and the row still served
    Mq = M[10:12].copy()
    Mq[0, 1] = -99.0
    r = est.predict_full(Mq)
    assert r["flags"][0] & FLAG_BAD_VALUE and r["flags"][0] & FLAG_MISSING_BANDS
    assert np.isfinite(r["z"]).all() and r["n_bands_used"].tolist() == [4, 5]


def test_k_larger_than_training_set_is_an_error():
    rng = np.random.default_rng(8)
    M, z = _analytic(rng, 40)
    with pytest.raises(ValueError, match=r"k=50 is larger than the usable training set \(40 rows\)"):
        KLLRPhotoZ(k=50).fit(M, z)
    with pytest.raises(ValueError, match="gamma"):
        KLLRPhotoZ(gamma=-1).fit(M, z)


def test_band_mismatch_between_train_and_target_is_an_error():
    rng = np.random.default_rng(9)
    M, z = _analytic(rng, 200)
    bands = ["jwst_f090w", "jwst_f150w", "jwst_f200w", "jwst_f277w", "jwst_f444w"]
    est = KLLRPhotoZ(k=10).fit(M, z, bands=bands)
    with pytest.raises(BandError, match=r"X has 4 features, but KLLRPhotoZ is expecting 5.*jwst_f444w"):
        est.predict(M[:, :4])
    swapped = [bands[1], bands[0]] + bands[2:]
    with pytest.raises(BandError, match=r"target bands \['jwst_f150w', 'jwst_f090w'.*differ from the training bands"):
        est.predict(M[:, [1, 0, 2, 3, 4]], bands=swapped)
    with pytest.raises(ValueError, match="1 feature"):
        KLLRPhotoZ().fit(M[:, :1], z)


# ---------------------------------------------------------------- persistence and determinism
def test_save_load_round_trip_and_bad_files(tmp_path):
    rng = np.random.default_rng(10)
    M, z = _analytic(rng, 600)
    M[::7, 1] = np.nan
    bands = ["jwst_f090w", "jwst_f150w", "jwst_f200w", "jwst_f277w", "jwst_f444w"]
    est = KLLRPhotoZ(k=15, lam=0.02, gamma=0.5).fit(M, z, bands=bands)
    path = est.save(tmp_path / "m.npz")
    back = KLLRPhotoZ.load(path)
    assert back.get_params() == est.get_params() and back.bands_ == tuple(bands)
    Mq, _ = _analytic(rng, 100)
    Mq[::3, 2] = np.nan
    a, b = est.predict_full(Mq), back.predict_full(Mq)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    with np.load(path) as f:
        meta = json.loads(str(f["meta"][()]))
    assert meta["galfast_version"] == galfast.__version__ and meta["k_"] == 15
    assert len(meta["standardiser_all_bands"]["mean"]) == 4
    # another version
    meta["galfast_version"] = "0.0.1"
    other = tmp_path / "old.npz"
    with open(other, "wb") as fh:
        np.savez(fh, meta=np.array(json.dumps(meta)), train_mags=back.train_mags_, train_z=back.train_z_)
    with pytest.raises(ModelFileError, match="written by galfast 0.0.1"):
        KLLRPhotoZ.load(other)
    # corrupted: truncated zip, random bytes, a foreign npz
    raw = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "junk.npz").write_bytes(b"\x00garbage" * 100)
    np.savez(tmp_path / "foreign.npz", a=np.arange(3))
    for name in ("cut.npz", "junk.npz", "foreign.npz"):
        with pytest.raises(ModelFileError):
            KLLRPhotoZ.load(tmp_path / name)
    assert zipfile.is_zipfile(path)


def test_deterministic_across_threads_and_pickle():
    import pickle

    rng = np.random.default_rng(11)
    M, z = _analytic(rng, 2000)
    Mq, _ = _analytic(rng, 3000)
    r1 = KLLRPhotoZ(k=25, n_jobs=1).fit(M, z).predict_full(Mq)
    est2 = KLLRPhotoZ(k=25, n_jobs=2).fit(M, z)
    r2 = est2.predict_full(Mq)
    r3 = pickle.loads(pickle.dumps(est2)).predict_full(Mq)
    np.testing.assert_array_equal(est2.predict(Mq), r1["z"])  # no-error path: same z
    for key in r1:
        np.testing.assert_array_equal(r1[key], r2[key])
        np.testing.assert_array_equal(r1[key], r3[key])


def test_photoz_function_accepts_photometry_and_keeps_order(protocol, jwst_phot):
    from galfast.datasets import jwst_specz_protocol

    p, _ = jwst_specz_protocol(jwst_phot)
    train, target = p.select(np.arange(0, len(p), 2)), p.select(np.arange(1, len(p), 2))
    z1, e1, f1 = photoz(train, None, target)
    order = np.arange(len(target))[::-1]
    z2, _, _ = photoz(train.mag(), train.z, target.mag()[order])
    np.testing.assert_array_equal(z1[order], z2)
    assert galfast.photoz is photoz and galfast.KLLRPhotoZ is KLLRPhotoZ
    # tune=True: the hyperparameters not given are tuned (deterministic), k stays as given
    a = photoz(train, None, target, k=12, tune=True, n_trials=4, n_folds=3, random_state=1,
               return_model=True)
    b = photoz(train, None, target, k=12, tune=True, n_trials=4, n_folds=3, random_state=1)
    assert a[3].k_ == 12 and (a[3].lam_, a[3].gamma_) != (0.1, 0.1)
    np.testing.assert_array_equal(a[0], b[0])


def test_sklearn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(KLLRPhotoZ(n_jobs=1), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed, failed
    assert sum(r["status"] == "passed" for r in results) > 40


def test_named_bands_must_be_in_wavelength_order(protocol):
    from galfast.errors import BandError

    mags, z = protocol
    names = ["F435W", "F606W", "F814W", "F090W", "F115W", "F150W", "F200W", "F277W", "F356W",
             "F410M", "F444W"]
    KLLRPhotoZ(k=10).fit(mags[:500], z[:500], bands=names)  # the catalogue's order is right
    swapped = names[:]
    swapped[3], swapped[10] = swapped[10], swapped[3]
    with pytest.raises(BandError, match=r"not in wavelength order.*F444W.*F090W"):
        KLLRPhotoZ(k=10).fit(mags[:500], z[:500], bands=swapped)
    with pytest.raises(BandError, match="not in wavelength order"):
        galfast.photoz(mags[:500], z[:500], mags[:5], k=10, bands=swapped)
    zp, _, _ = galfast.photoz(mags[:500], z[:500], mags[500:505], k=10, bands=names)
    assert np.isfinite(zp).all()


def test_tuning_rejects_a_fixed_k_larger_than_a_fold(protocol):
    mags, z = protocol
    with pytest.raises(ValueError, match=r"k=190 is larger than the smallest CV training fold"):
        tune_kllr(mags[:200], z[:200], n_trials=2, n_folds=5, fixed={"k": 190})


@pytest.mark.parametrize("module", ["kllr", "kllr_avx2"])
def test_kernel_exp_is_accurate(module):
    """The kernel's vectorised exp (csrc/kllr_linalg.h) against NumPy's over its whole domain."""
    mod = _kernel(module)
    x = -np.concatenate([np.linspace(0, 1, 10_001), np.geomspace(1e-12, 707.9, 10_001)])
    np.testing.assert_allclose(mod.fast_exp(x), np.exp(x), rtol=1e-14, atol=0)
    assert mod.fast_exp(np.array([-709.0, -1e4, -np.inf])).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("module", ["kllr", "kllr_avx2"])
@pytest.mark.parametrize("n,d,k", [(5, 1, 5), (37, 3, 11), (900, 10, 50)])
def test_compiled_knn_exact_with_duplicates_and_small_sets(module, n, d, k):
    """The projection-pruned scan equals a stable exhaustive sort, also with many exact ties
    (duplicated and grid-valued rows), one feature, and fewer rows than a vector block."""
    mod = _kernel(module)
    rng = np.random.default_rng(n)
    X = np.round(rng.normal(size=(n, d)), 1)  # a coarse grid: many equal distances
    X[n // 2:] = X[: n - n // 2]               # and exact duplicates
    Q = np.vstack([np.round(rng.normal(size=(40, d)), 1), X[:5]])
    idx = mod.knn_brute(np.ascontiguousarray(X.T), Q, k, 2)
    d2 = np.zeros((len(Q), n))
    for f in range(d):  # summed over features in order, as the kernel does
        d2 += (Q[:, None, f] - X[None, :, f]) ** 2
    ref = np.argsort(d2, axis=1, kind="stable")[:, :k]
    # the same neighbour distances (the AVX2 build fuses multiply-adds: last-bit differences)
    np.testing.assert_allclose(np.take_along_axis(d2, idx, 1), np.take_along_axis(d2, ref, 1),
                               rtol=1e-12, atol=1e-15)
    if mod.ISA == "generic" and platform.machine() in ("x86_64", "AMD64"):
        # no fused multiply-adds: bit-identical distances, identical order, ties by lower index
        np.testing.assert_array_equal(idx, ref)
    else:
        assert (idx == ref).mean() > 0.9


def test_pattern_neighbours_same_with_and_without_the_projection_sort(protocol):
    """Few targets scan every row; many use the projection-pruned scan: the same neighbours."""
    from galfast.redshift.patterns import SORT_MIN_TARGETS, PatternIndex

    mags, z = protocol
    model = PatternIndex(mags[:3000], z[:3000]).model((1 << mags.shape[1]) - 1)
    F = model.features(mags[3000:3000 + 4 * SORT_MIN_TARGETS])
    many = model.neighbours(F, 30, 2)
    few = np.vstack([model.neighbours(F[i:i + 8], 30, 2) for i in range(0, len(F), 8)])
    assert model._sorted is not None
    np.testing.assert_array_equal(many, few)

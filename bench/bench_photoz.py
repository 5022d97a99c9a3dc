"""pytest-benchmark timings of the photo-z pieces (run with ``make bench``).

The 100,000-target runs (times ``$GALFAST_BENCH_SCALE``) use the published protocol's 3,684
training galaxies; see bench/ratios_photoz.py for the same-process ratio against the lean NumPy
loop (the reference in tests/redshift/reference.py).
"""
import numpy as np
import pytest

from common import bench_size, bench_threads, load_sibling, photoz_reference

N_TARGETS = bench_size(100_000, 1000)


@pytest.fixture(scope="module")
def data():
    return load_sibling("ratios_photoz").setup(N_TARGETS)


@pytest.mark.parametrize("k", [50, 10])
def test_predict_100k(benchmark, data, k):
    from galfast.redshift import KLLRPhotoZ

    mt, zt, target = data
    est = KLLRPhotoZ(k=k, n_jobs=bench_threads()).fit(mt, zt)
    r = benchmark.pedantic(est.predict_full, args=(target,), rounds=3, warmup_rounds=1)
    assert np.isfinite(r["z"]).all()


@pytest.mark.parametrize("pdf", [False, True])
def test_predict_100k_k50_pdf(benchmark, data, pdf):
    """predict_full at k = 50 with and without p(z) (the ratio of the two: target ≤ 1.20;
    bench/ratios_photoz.py measures it interleaved in one process)."""
    from galfast.redshift import KLLRPhotoZ

    mt, zt, target = data
    est = KLLRPhotoZ(k=50, n_jobs=bench_threads()).fit(mt, zt)
    r = benchmark.pedantic(est.predict_full, args=(target,), kwargs={"pdf": pdf}, rounds=3,
                           warmup_rounds=1)
    assert np.isfinite(r["z"]).all()
    if pdf:
        assert np.isfinite(r["z_median"]).all()


@pytest.mark.parametrize("k", [50, 10])
def test_numpy_loop_300(benchmark, data, k):
    from galfast.redshift import KLLRPhotoZ

    mt, zt, target = data
    est = KLLRPhotoZ(k=k).fit(mt, zt)
    model = est.index_.model(2047)
    F = model.features(target[:300])
    benchmark.pedantic(photoz_reference().kllr_loop, args=(model.X, model.y, F, k, est.lam_, est.gamma_),
                       kwargs={"center": True, "z_min": 0.0, "tau": est.mode_window}, rounds=2)


def test_tuning_50x5(benchmark, data):
    """50 trials × 5 folds on 3,684 galaxies (target: < 60 s)."""
    from galfast.redshift import tune_kllr

    mt, zt, _ = data
    res = benchmark.pedantic(tune_kllr, args=(mt, zt), kwargs={"random_state": 0, "n_jobs": bench_threads()},
                             rounds=1)
    assert len(res.trials) == 50

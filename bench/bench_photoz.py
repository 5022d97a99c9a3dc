"""pytest-benchmark timings of the photo-z pieces (run with ``make bench``).

The 100,000-target runs use the published protocol's 3,684 training galaxies; see
bench/ratios_photoz.py for the same-process ratio against the lean NumPy loop (the reference in
tests/redshift/reference.py).
"""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def data():
    return _load("ratios_photoz").setup(100_000)


@pytest.mark.parametrize("k", [50, 10])
def test_predict_100k(benchmark, data, k):
    from galfast.redshift import KLLRPhotoZ

    mt, zt, target = data
    est = KLLRPhotoZ(k=k, n_jobs=2).fit(mt, zt)
    r = benchmark.pedantic(est.predict_full, args=(target,), rounds=3, warmup_rounds=1)
    assert np.isfinite(r["z"]).all()


@pytest.mark.parametrize("k", [50, 10])
def test_numpy_loop_300(benchmark, data, k):
    from galfast.redshift import KLLRPhotoZ

    from redshift.reference import kllr_loop

    mt, zt, target = data
    est = KLLRPhotoZ(k=k).fit(mt, zt)
    model = est.index_.model(2047)
    F = model.features(target[:300])
    benchmark.pedantic(kllr_loop, args=(model.X, model.y, F, k, est.lam_, est.gamma_),
                       kwargs={"center": True, "z_min": 0.0, "tau": est.mode_window}, rounds=2)


def test_tuning_50x5(benchmark, data):
    """50 trials × 5 folds on 3,684 galaxies (target: < 60 s)."""
    from galfast.redshift import tune_kllr

    mt, zt, _ = data
    res = benchmark.pedantic(tune_kllr, args=(mt, zt), kwargs={"random_state": 0, "n_jobs": 2}, rounds=1)
    assert len(res.trials) == 50

"""tune_kllr: the clean protocol meets the paper, determinism for a random_state (int or
Generator), n_jobs, and bad arguments."""
import numpy as np
import pytest

from galfast.metrics import photoz_metrics
from galfast.redshift import tune_kllr
from galfast.validation import ParameterError


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


def test_tuning_is_deterministic_and_improves_cv(protocol):
    from galfast.datasets import stratified_split

    mags, z = protocol
    tr, _ = stratified_split(z, seed=0)
    a = tune_kllr(mags[tr], z[tr], n_trials=12, n_folds=3, random_state=7)
    b = tune_kllr(mags[tr], z[tr], n_trials=12, n_folds=3, random_state=7, n_jobs=2)
    assert a.best_params == b.best_params and a.best_value == b.best_value
    assert (a.seed, a.n_jobs, b.n_jobs) == (7, 1, 2)
    assert len(a.trials) == 12
    values = [v for _, v in a.trials]
    assert a.best_value == min(values) and a.best_value < np.median(values)
    assert 0.01 < a.best_value < 0.1  # σ_NMAD + f_outlier of a sane model
    fixed = tune_kllr(mags[tr], z[tr], n_trials=3, n_folds=3, random_state=7, fixed={"k": 9})
    assert fixed.best_params["k"] == 9


def test_random_state_generator_and_photometry_input(protocol_phot):
    """A Generator seeds the folds and the sampler (the same Generator state, the same result);
    a Photometry gives its magnitudes and z."""
    p = protocol_phot.select(np.arange(1200))
    a = tune_kllr(p, n_trials=4, n_folds=3, random_state=np.random.default_rng(3))
    b = tune_kllr(p.mag(), p.z, n_trials=4, n_folds=3, random_state=np.random.default_rng(3))
    assert a.best_params == b.best_params and a.seed == b.seed
    c = tune_kllr(p, n_trials=4, n_folds=3, random_state=None)
    assert isinstance(c.seed, int) and len(c.trials) == 4
    with pytest.raises(ParameterError, match="random_state"):
        tune_kllr(p, n_trials=2, n_folds=3, random_state="seven")


def test_n_jobs_minus_one_is_every_core(protocol_phot, monkeypatch):
    import galfast.validation

    monkeypatch.setattr(galfast.validation, "available_cores", lambda: 3)
    p = protocol_phot.select(np.arange(600))
    assert tune_kllr(p, n_trials=2, n_folds=3, random_state=0, n_jobs=-1).n_jobs == 3
    assert tune_kllr(p, n_trials=2, n_folds=3, random_state=0).n_jobs == 1
    with pytest.raises(ParameterError, match="n_jobs=0"):
        tune_kllr(p, n_trials=2, n_folds=3, n_jobs=0)


def test_bad_arguments_are_value_errors(protocol):
    mags, z = protocol
    with pytest.raises(ValueError, match=r"k=190 is larger than the smallest CV training fold"):
        tune_kllr(mags[:200], z[:200], n_trials=2, n_folds=5, fixed={"k": 190})
    with pytest.raises(ParameterError, match="objective"):
        tune_kllr(mags[:200], z[:200], objective="mae")
    with pytest.raises(ParameterError, match="n_folds"):
        tune_kllr(mags[:200], z[:200], n_folds=1)

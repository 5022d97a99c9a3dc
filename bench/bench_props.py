"""pytest-benchmark of the property regressor (run: pytest bench/bench_props.py --benchmark-enable).

Timings are noisy on shared machines; bench/ratios_props.py prints same-process ratios against a
straightforward PyTorch baseline, which are the numbers to quote.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from galfast.props import PropertyRegressor

_spec = importlib.util.spec_from_file_location("ratios_props", Path(__file__).with_name("ratios_props.py"))
ratios_props = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ratios_props)

TARGETS = ratios_props.TARGETS


@pytest.fixture(scope="module")
def data():
    return ratios_props.resampled(100_000, seed=1)


@pytest.fixture(scope="module")
def fitted(data):
    phot, y = data
    return PropertyRegressor(targets=TARGETS, epochs=2, patience=100, n_threads=2).fit(
        phot.select(np.arange(20_000)), y[:20_000])


def test_predict_100k(benchmark, data, fitted):
    phot, _ = data
    out = benchmark.pedantic(fitted.predict, args=(phot,), rounds=3, iterations=1)
    assert len(out) == len(phot) and np.all(np.isfinite(out["log_mstar"]))
    benchmark.extra_info["objects_per_s"] = len(phot) / benchmark.stats.stats.min


def test_fit_one_epoch_100k(benchmark, data):
    phot, y = data
    reg = PropertyRegressor(targets=TARGETS, epochs=1, patience=100, n_threads=2)
    benchmark.pedantic(reg.fit, args=(phot, y), rounds=2, iterations=1)
    assert reg.history_["epochs_run"] == 1

"""pytest-benchmark of the property regressor (run: pytest bench/bench_props.py --benchmark-enable).

The issue's speed targets (section 3): inference of a trained model on 10⁶ objects on the CPU
(objects/s; the default 3×128 networks and the smaller 2×64 ones) and training on 100,000
objects on 2 CPU cores (one epoch, and one complete default fit with early stopping — minutes);
sizes times ``$GALFAST_BENCH_SCALE``, threads ``$GALFAST_BENCH_THREADS`` (default 2).
The complete fit is the slow one; ``-k "not full_fit"`` leaves it out.  These live in bench/, not
in the default test run.

Timings are noisy on shared machines; bench/ratios_props.py prints same-process ratios against a
straightforward PyTorch baseline, which are the numbers to quote (results: bench/props_results/speed.md).
"""
import numpy as np
import pytest

from common import bench_size, bench_threads, load_sibling
from galfast.props import PropertyRegressor

ratios_props = load_sibling("ratios_props")
TARGETS = ratios_props.TARGETS
N_INFER = bench_size(1_000_000, 1000)
N_TRAIN = bench_size(100_000, 1000)
N_SHORT = min(20_000, N_TRAIN)


@pytest.fixture(scope="module")
def train_data():
    return ratios_props.resampled(N_TRAIN, seed=1)


@pytest.fixture(scope="module")
def infer_data():
    return ratios_props.resampled(N_INFER, seed=2)[0]


def _fitted(train_data, hidden):
    phot, y = train_data      # the weights do not matter for speed: a short fit on 20,000 rows
    return PropertyRegressor(targets=TARGETS, hidden=hidden, epochs=2, patience=100, n_jobs=bench_threads()).fit(
        phot.select(np.arange(N_SHORT)), y[:N_SHORT])


@pytest.mark.parametrize("hidden", [(128, 128, 128), (64, 64)], ids=["3x128_default", "2x64"])
def test_predict_1m(benchmark, train_data, infer_data, hidden):
    reg = _fitted(train_data, hidden)
    reg.predict(infer_data.select(np.arange(min(10_000, N_INFER))))                        # warm-up
    out = benchmark.pedantic(reg.predict, args=(infer_data,), rounds=3, iterations=1)
    assert len(out) == N_INFER and np.all(np.isfinite(out["log_mstar"]))
    if benchmark.stats is not None:          # None under --benchmark-disable (one plain run)
        benchmark.extra_info["objects_per_s"] = N_INFER / benchmark.stats.stats.min


def test_fit_one_epoch_100k(benchmark, train_data):
    phot, y = train_data
    reg = PropertyRegressor(targets=TARGETS, epochs=1, patience=100, n_jobs=bench_threads())
    benchmark.pedantic(reg.fit, args=(phot, y), rounds=2, iterations=1)
    assert reg.history_["epochs_run"] == 1


def test_full_fit_100k(benchmark, train_data):
    """One complete default fit (≤ 200 epochs, early stopping, σ calibration) on 100,000 objects."""
    phot, y = train_data
    reg = PropertyRegressor(targets=TARGETS, n_jobs=bench_threads())
    benchmark.pedantic(reg.fit, args=(phot, y), rounds=1, iterations=1)
    benchmark.extra_info["epochs_run"] = reg.history_["epochs_run"]
    if benchmark.stats is not None:
        benchmark.extra_info["minutes"] = benchmark.stats.stats.min / 60

"""pytest-benchmark of the simulator (run: pytest bench/bench_sim.py --benchmark-enable).

Timings are noisy on shared machines; bench/ratios_sim.py prints the same-process speed ratio
against the plain bagpipes loop, which is the number to quote.
"""
import contextlib
import io

import numpy as np
import pytest

pytest.importorskip("bagpipes", reason="bagpipes (galfast[sim]) is not installed")

from common import bench_size  # noqa: E402
from galfast.bands import JWST_HST_BANDS  # noqa: E402
from galfast.sim import Priors, simulate  # noqa: E402
from galfast.sim.forward import (_cached_model, bagpipes_components, import_bagpipes,  # noqa: E402
                                 write_filter_files)

BANDS = tuple(JWST_HST_BANDS)
N_MODELS = bench_size(4096, 128)          # sizes times $GALFAST_BENCH_SCALE
N_SIM = bench_size(8192, 256)
N_LOOP = min(100, N_MODELS)


@pytest.fixture(scope="module")
def model_and_params():
    fm = _cached_model(BANDS, "delayed_tau")
    params = Priors().sample(N_MODELS, np.random.default_rng(0), fm.age_of_universe)
    params["massformed"] = fm.evaluate(params)["massformed"]
    del params["log_mstar"]
    return fm, params


def test_forward_model_4096(benchmark, model_and_params):
    fm, params = model_and_params
    out = benchmark(fm.evaluate, params)
    assert out["flux"].shape == (N_MODELS, len(BANDS))


def test_simulate_8192_one_process(benchmark):
    _cached_model(BANDS, "delayed_tau")
    t = benchmark.pedantic(simulate, args=(N_SIM, BANDS), kwargs={"seed": 1, "progress": False},
                           rounds=3, iterations=1)
    assert len(t) == N_SIM


def test_bagpipes_update_loop_100(benchmark, model_and_params, tmp_path):
    fm, params = model_and_params
    pipes = import_bagpipes()
    files = write_filter_files(BANDS, tmp_path)
    comps = [bagpipes_components(params, i, "delayed_tau") for i in range(N_LOOP)]
    with contextlib.redirect_stdout(io.StringIO()):
        mg = pipes.model_galaxy(comps[0], filt_list=files, phot_units="mujy")

    def loop():
        for mc in comps:
            mg.update(mc)
        return mg.photometry

    phot = benchmark.pedantic(loop, rounds=3, iterations=1)
    np.testing.assert_allclose(phot, fm.evaluate({k: v[N_LOOP - 1:N_LOOP] for k, v in params.items()})["flux"][0],
                               rtol=1e-9)

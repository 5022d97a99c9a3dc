"""pytest-benchmark of the simulator (run: pytest bench/bench_sim.py --benchmark-enable).

Timings are noisy on shared machines; bench/ratios_sim.py prints the same-process speed ratio
against the plain bagpipes loop, which is the number to quote.
"""
import contextlib
import io

import numpy as np
import pytest

pytest.importorskip("bagpipes", reason="bagpipes (galfast[sim]) is not installed")

from galfast.bands import JWST_HST_BANDS  # noqa: E402
from galfast.sim import Priors, simulate  # noqa: E402
from galfast.sim.forward import (_cached_model, bagpipes_components, import_bagpipes,  # noqa: E402
                                 write_filter_files)

BANDS = tuple(JWST_HST_BANDS)


@pytest.fixture(scope="module")
def model_and_params():
    fm = _cached_model(BANDS, "delayed_tau")
    params = Priors().sample(4096, np.random.default_rng(0), fm.age_of_universe)
    params["massformed"] = fm.evaluate(params)["massformed"]
    del params["log_mstar"]
    return fm, params


def test_forward_model_4096(benchmark, model_and_params):
    fm, params = model_and_params
    out = benchmark(fm.evaluate, params)
    assert out["flux"].shape == (4096, len(BANDS))


def test_simulate_8192_one_process(benchmark):
    _cached_model(BANDS, "delayed_tau")
    t = benchmark.pedantic(simulate, args=(8192, BANDS), kwargs={"seed": 1, "progress": False},
                           rounds=3, iterations=1)
    assert len(t) == 8192


def test_bagpipes_update_loop_100(benchmark, model_and_params, tmp_path):
    fm, params = model_and_params
    pipes = import_bagpipes()
    files = write_filter_files(BANDS, tmp_path)
    comps = [bagpipes_components(params, i, "delayed_tau") for i in range(100)]
    with contextlib.redirect_stdout(io.StringIO()):
        mg = pipes.model_galaxy(comps[0], filt_list=files, phot_units="mujy")

    def loop():
        for mc in comps:
            mg.update(mc)
        return mg.photometry

    phot = benchmark.pedantic(loop, rounds=3, iterations=1)
    np.testing.assert_allclose(phot, fm.evaluate({k: v[99:100] for k, v in params.items()})["flux"][0],
                               rtol=1e-9)

"""galfast.sim.forward: the batched forward model equals bagpipes' model_galaxy, to rounding."""
import contextlib
import io

import numpy as np
import pytest

from galfast.bands import JWST_HST_BANDS, register_tophat
from galfast.errors import GalfastError

pytest.importorskip("bagpipes", reason="bagpipes (galfast[sim]) is not installed")

from galfast.sim import model_fluxes  # noqa: E402
from galfast.sim.forward import (ForwardModel, bagpipes_components, import_bagpipes,  # noqa: E402
                                 write_filter_files)

GAMA_SUBSET = ["galex_FUV", "sdss_u0", "sdss_r0", "vista_vircam_Ks", "wise_w1", "wise_w4",
               "herschel_pacs_100", "herschel_spire_250", "herschel_spire_500"]
MIRI_LSST = ["lsst_baseline_u", "lsst_baseline_g", "lsst_baseline_r", "lsst_baseline_i",
             "lsst_baseline_z", "lsst_baseline_y", "jwst_f560w", "jwst_f770w", "jwst_f1800w",
             "jwst_f2550w"]


def random_params(fm, n, seed):
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 9.0, n)
    t_univ = fm.age_of_universe(z)
    return {"z": z, "massformed": rng.uniform(8, 11.5, n), "log_zmet": rng.uniform(-2.4, 0.75, n),
            "av": rng.uniform(0, 3, n), "log_u": rng.uniform(-4, -1, n),
            "sfh_age": t_univ * rng.uniform(0.01, 0.99, n), "sfh_tau": 10 ** rng.uniform(-1.5, 1, n),
            "burst_age": t_univ * rng.uniform(0.002, 0.9, n), "burst_frac": rng.uniform(0.01, 0.6, n)}


@pytest.mark.parametrize("bands,sfh", [(JWST_HST_BANDS, "delayed_tau"),
                                       (GAMA_SUBSET + ["test_sim_tophat"], "constant_burst"),
                                       (MIRI_LSST, "delayed_tau")],
                         ids=["jwst_hst", "gama+tophat", "miri+lsst"])
def test_forward_model_equals_bagpipes_model_galaxy(tmp_path, bands, sfh):
    register_tophat("test_sim_tophat", 6000.0, 300.0)
    pipes = import_bagpipes()
    fm = ForwardModel(bands, sfh)
    p = random_params(fm, 12, seed=3)
    ours = fm.evaluate(p)
    files = write_filter_files(fm.bands, tmp_path)
    mg = None
    for i in range(12):
        mc = bagpipes_components(p, i, sfh)
        with contextlib.redirect_stdout(io.StringIO()):
            if mg is None:
                mg = pipes.model_galaxy(mc, filt_list=files, phot_units="mujy")
            else:
                mg.update(mc)
        ref = mg.photometry
        assert np.all(ref > 0)
        np.testing.assert_allclose(ours["flux"][i], ref, rtol=1e-3, atol=0)
        np.testing.assert_allclose(ours["flux"][i], ref, rtol=1e-9)   # in fact to rounding
        assert ours["log_mstar"][i] == pytest.approx(mg.sfh.stellar_mass, abs=1e-9)
        assert ours["log_sfr"][i] == pytest.approx(np.log10(mg.sfh.sfr), abs=1e-9)
        assert ours["age_mw"][i] == pytest.approx(mg.sfh.mass_weighted_age, rel=1e-9)
        assert ours["log_ssfr"][i] == pytest.approx(mg.sfh.ssfr, abs=1e-9)
    # log_sfr10 is bagpipes' SFR with its averaging timescale set to 10 Myr
    from bagpipes import config

    saved = config.sfr_timescale
    try:
        config.sfr_timescale = 1e7
        for i in range(12):
            with contextlib.redirect_stdout(io.StringIO()):
                mg.update(bagpipes_components(p, i, sfh))
            assert ours["log_sfr10"][i] == pytest.approx(np.log10(mg.sfh.sfr), abs=1e-9)
    finally:
        config.sfr_timescale = saved


def test_compiled_kernel_equals_numpy_path():
    from galfast.sim.forward import _kernel

    if _kernel() is None:
        pytest.skip("galfast._ext.sim_kernels not built (python setup.py build_ext --inplace)")
    bands = ["F090W", "F444W", "jwst_f770w", "herschel_pacs_160"]
    fast, slow = ForwardModel(bands, backend="compiled"), ForwardModel(bands, backend="numpy")
    p = random_params(fast, 300, seed=4)
    p["umin"] = np.linspace(0.5, 20, 300)          # per-galaxy dust-emission templates too
    a, b = fast.evaluate(p), slow.evaluate(p)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-11, err_msg=key)
    assert np.all(a["flux"] > 0)


def test_model_fluxes_from_living_mass_band_sets_and_parameter_errors():
    fm = ForwardModel(["F150W", "F444W"])
    p = random_params(fm, 5, seed=1)
    out = fm.evaluate(p)
    p2 = dict(p)
    del p2["massformed"]
    p2["log_mstar"] = out["log_mstar"]
    np.testing.assert_allclose(model_fluxes(p2, ["F150W", "F444W"]), out["flux"], rtol=1e-10)
    # doubling the mass doubles the fluxes (linear model)
    p3 = dict(p, massformed=p["massformed"] + np.log10(2))
    np.testing.assert_allclose(fm.evaluate(p3)["flux"], 2 * out["flux"], rtol=1e-10)
    # a band set is accepted wherever bands are
    assert ForwardModel("jwst_hst").bands == tuple(JWST_HST_BANDS)
    # bad parameter values are ValueErrors naming the parameter (and the row)
    bad = dict(p, sfh_age=fm.age_of_universe(p["z"]) + 0.5)
    with pytest.raises(ValueError, match="before the Big Bang"):
        fm.evaluate(bad)
    with pytest.raises(ValueError, match="needs parameter"):
        fm.evaluate({"z": p["z"]})
    with pytest.raises(ValueError, match="'av'.*row 2"):
        fm.evaluate(dict(p, av=np.where(np.arange(5) == 2, np.nan, p["av"])))
    with pytest.raises(ValueError, match="sfh"):
        ForwardModel(["F150W"], sfh="exponential")
    with pytest.raises(GalfastError, match="backend"):
        ForwardModel(["F150W"], backend="gpu")


def test_a_band_registered_again_with_another_curve_gets_its_new_fluxes():
    fm = ForwardModel(["F150W"])
    p = random_params(fm, 4, seed=2)
    p["z"] = np.full(4, 0.5)
    p["sfh_age"] = np.minimum(p["sfh_age"], 0.9 * fm.age_of_universe(p["z"]))
    register_tophat("test_sim_moving_band", 6000.0, 300.0, overwrite=True)
    at_6000 = model_fluxes(p, ["test_sim_moving_band"])
    register_tophat("test_sim_moving_band", 15000.0, 300.0, overwrite=True)
    at_15000 = model_fluxes(p, ["test_sim_moving_band"])          # not the cached 6000 Å model
    np.testing.assert_allclose(at_15000, ForwardModel(["test_sim_moving_band"]).evaluate(p)["flux"],
                               rtol=1e-12)
    assert not np.allclose(at_6000, at_15000, rtol=1e-3)

"""The batched blackjax path: its JAX log-density equals the PyMC model's (training prior +
masked likelihood) in the same coordinates; a small vmapped run gives each object draws that do
not depend on its place in the batch, and the PosteriorFitter's blackjax backend fills its rows."""
import numpy as np
import pytest

pytest.importorskip("blackjax")
pm = pytest.importorskip("pymc")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from galfast import flags  # noqa: E402
from galfast.posterior import pymc_export as px  # noqa: E402
from galfast.posterior.batched import jax_log_density, sample_batch  # noqa: E402


def _objects(trained, held_out, n):
    flux, err, obs = trained._arrays(trained.to_photometry(held_out))
    ok = np.flatnonzero(obs.sum(1) >= 3)[:n]
    return flux[ok], err[ok], obs[ok]


@pytest.mark.parametrize("fixed_z", [False, True], ids=["z-free", "z-fixed"])
def test_jax_log_density_equals_pymc_model(trained, held_out, rng, fixed_z):
    flux, err, obs = _objects(trained, held_out, 4)
    theta = trained.theta_array(held_out[:4])
    with jax.enable_x64(True):
        ld, _, names = jax_log_density(trained, fixed_z=fixed_z)
        ld = jax.jit(ld)
        for k in range(4):
            mask = obs[k].copy()
            mask[k % mask.size] = False if mask.sum() > 1 else mask[k % mask.size]
            z = float(theta[k, -1]) if fixed_z else None
            model = px.to_pymc(trained, flux[k], err[k], mask, z=z)
            logp = model.compile_logp(jacobian=True)
            u = rng.normal(size=len(names))
            data = (jnp.asarray(np.where(mask, flux[k], 0.0)), jnp.asarray(np.where(mask, err[k], 1.0)),
                    jnp.asarray(mask.astype(float)), jnp.asarray(z or 0.0))
            assert float(ld(jnp.asarray(u), data)) == pytest.approx(float(logp({"theta_u": u})), rel=1e-9, abs=1e-9)


def test_batched_draws_per_object_and_fitter_backend(trained, held_out, four):
    flux, err, obs = _objects(trained, held_out, 2)
    run = dict(chains=2, tune=60, draws=40)
    a = sample_batch(trained, flux, err, obs, seeds=[11, 22], **run)
    b = sample_batch(trained, flux[::-1], err[::-1], obs[::-1], seeds=[22, 11], **run)
    assert a.theta.shape == (2, 2, 40, len(trained.parameters_))
    np.testing.assert_allclose(a.theta[0], b.theta[1], rtol=1e-9, atol=1e-12)   # its place in the batch does not matter
    pr = trained.prior_
    assert np.all((a.theta >= pr.lo) & (a.theta <= pr.hi))
    assert a.diagnostics[0]["max_rhat"] > 0 and a.idata(1).posterior["log_mstar"].shape == (2, 40)
    # the catalogue path: the same rows and columns as nutpie's, flags included
    from galfast.posterior.catalog import PosteriorFitter

    fitter = PosteriorFitter(trained, backend="blackjax", batch_size=2, retry_tune=0, progress=False, **run)
    out = fitter.predict_table(fitter.to_photometry(four[3:5]))
    assert list(out["id"]) == ["gal3", "gal4"]
    assert np.isfinite(out["av_median"][0]) and flags.has(out["flags"], "no_estimate")[1]
    assert flags.has(out["flags"], "not_converged")[0]            # 80 draws: ESS < 400, flagged

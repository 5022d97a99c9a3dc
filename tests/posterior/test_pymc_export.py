"""The PyMC export: the PyTensor log-density and its gradient equal torch's to 1e-8 (float64) for
random θ, errors and missing-band masks; the model's structure (priors on the training support,
data containers, fixed z); nutpie sampling of one simulated object with a compiled model reused
for a second object with another missing-band pattern."""
import numpy as np
import pytest
import torch

pm = pytest.importorskip("pymc")
pytest.importorskip("nutpie")

import pytensor  # noqa: E402
import pytensor.tensor as pt  # noqa: E402

from galfast.posterior import pymc_export as px  # noqa: E402
from galfast.posterior.likelihood import masked_loglike_torch  # noqa: E402
from galfast.validation import ParameterError  # noqa: E402


def _torch_ll_and_grad(nl, theta, flux, err, mask):
    t = torch.tensor(theta[None], requires_grad=True)
    mu, cov = nl.network_.mean_and_cov(t)
    ll = masked_loglike_torch(mu, cov, torch.tensor(err[None]), torch.tensor(flux[None]),
                              torch.tensor(mask[None]))[0]
    ll.backward()
    return ll.item(), t.grad.numpy()[0]


@pytest.mark.parametrize("fused", [True, False], ids=["fused-op", "native-pytensor"])
def test_pytensor_logp_and_gradient_equal_torch(trained, rng, fused):
    th, f, e, m = pt.dvector("theta"), pt.dvector("flux"), pt.dvector("err"), pt.dvector("mask")
    ll = px.loglike_graph(trained, th, f, e, m, fused=fused)
    fn = pytensor.function([th, f, e, m], [ll, pt.grad(ll, th)], mode="NUMBA")
    lo, hi = trained.theta_min_, trained.theta_max_
    nb = len(trained.bands_)
    for trial in range(12):
        theta = lo + rng.random(lo.size) * (hi - lo)
        mu, _ = trained.mean_and_cov(theta[None])
        err = mu[0] * rng.uniform(0.02, 1.0, nb)
        flux = mu[0] + err * rng.normal(size=nb) * 2
        mask = rng.random(nb) < 0.6
        mask[trial % nb] = True
        val, grad = fn(theta, flux, err, mask.astype(float))
        ref, gref = _torch_ll_and_grad(trained, theta, flux, err, mask)
        assert abs(val - ref) <= 1e-8 * max(1.0, abs(ref))
        assert np.max(np.abs(grad - gref)) <= 1e-8 * max(1.0, np.abs(gref).max()), (grad, gref)


def test_model_structure_priors_and_potential(trained, held_out):
    flux, err, mask = px.object_data(trained, held_out, 0)
    model = px.to_pymc(trained, flux, err, mask, prior="uniform")
    assert [v.name for v in model.free_RVs] == list(trained.parameters_)
    assert {"flux", "flux_err", "mask"} <= set(model.named_vars)
    for rv, lo, hi in zip(model.free_RVs, trained.theta_min_, trained.theta_max_):   # training support
        assert rv.owner.op.name == "uniform"
        assert float(rv.owner.inputs[-2].eval()) == pytest.approx(lo)
        assert float(rv.owner.inputs[-1].eval()) == pytest.approx(hi)
    # the model's likelihood term is the estimator's ln L (Numba kernel) at the same θ
    theta = trained.theta_array(held_out[:1])[0]
    scalars = [pt.dscalar(v.name) for v in model.free_RVs]
    pot = pytensor.clone_replace(model.potentials[0], dict(zip(model.free_RVs, scalars)))
    val = pytensor.function(scalars, pot, mode="NUMBA")(*theta)
    assert val == pytest.approx(trained.log_likelihood(held_out[:1], theta[None])[0], rel=1e-10)
    # z fixed (a spec-z): data, not a free variable; user priors
    fixed = px.to_pymc(trained, flux, err, mask, z=1.5, prior="uniform",
                       priors={"av": (0.0, 1.0), "log_zmet": lambda name: pm.Normal(name, -0.5, 0.3)})
    assert "z" not in [v.name for v in fixed.free_RVs] and "z" in fixed.named_vars
    av = fixed["av"]
    assert float(av.owner.inputs[-1].eval()) == 1.0
    assert fixed["log_zmet"].owner.op.name == "normal"
    with pytest.raises(ParameterError, match="log_foo"):
        px.to_pymc(trained, flux, err, mask, prior="uniform", priors={"log_foo": (0, 1)})
    with pytest.raises(ParameterError, match="prior for 'av'"):
        px.to_pymc(trained, flux, err, mask, prior="uniform", priors={"av": (1, 0)})
    with pytest.raises(ParameterError, match="prior='uniform'"):
        px.to_pymc(trained, flux, err, mask, priors={"av": (0, 1)})
    # the default: the training prior — sampled in its logit coordinates, θ as Deterministics
    tm = px.to_pymc(trained, flux, err, mask)
    assert [v.name for v in tm.free_RVs] == ["theta_u"]
    assert [v.name for v in tm.deterministics] == list(trained.parameters_)
    pr = trained.prior_
    u = pr.to_u(theta)
    logp = tm.compile_logp(jacobian=True)({"theta_u": u})
    expect = pr.logpdf_u(u) + trained.log_likelihood(held_out[:1], theta[None])[0]
    assert logp == pytest.approx(expect, rel=1e-9)
    tz = px.to_pymc(trained, flux, err, mask, z=1.5)           # z fixed: data, the rest conditional on it
    assert tz["theta_u"].type.shape == (len(trained.parameters_) - 1,) and "z" in tz.named_vars
    with pytest.raises(ParameterError, match="one entry per band"):
        px.to_pymc(trained, flux[:2], err, mask)
    with pytest.raises(ParameterError, match="z must be"):
        px.to_pymc(trained, flux, err, mask, z=-1.0)


def _test_object(held_out):
    """The first held-out galaxy with every band observed and 10 ≤ S/N(F444W) ≤ 300."""
    f, e = np.asarray(held_out["jwst_f444w"]), np.asarray(held_out["jwst_f444w_err"])
    ok = np.all([np.isfinite(np.asarray(held_out[b])) for b in
                 ("jwst_f115w", "jwst_f150w", "jwst_f277w", "jwst_f444w")], axis=0)
    return int(np.flatnonzero(ok & (f / e >= 10) & (f / e <= 300))[0])


def test_sample_one_object_contains_the_truth(trained, held_out, sampler):
    i = _test_object(held_out)
    flux, err, mask = px.object_data(trained, held_out, i)
    res = px.sample_object(trained, flux, err, mask, sampler=sampler, chains=4, tune=300, draws=300,
                           random_state=0)
    post = res.idata.posterior
    truth = trained.theta_array(held_out[i:i + 1])[0]
    for j, name in enumerate(trained.parameters_):
        assert post[name].shape == (4, 300)
        lo, hi = np.quantile(post[name].values, [0.005, 0.995])
        assert lo <= truth[j] <= hi, (name, lo, truth[j], hi)
    d = res.diagnostics
    for key in ("rhat", "ess_bulk", "ess_tail"):
        assert set(d[key]) == set(trained.parameters_) and all(np.isfinite(v) for v in d[key].values())
    assert d["max_rhat"] >= 1.0 - 1e-3 and d["min_ess_bulk"] > 0 and isinstance(d["divergences"], int)
    assert d["passed"] == (d["max_rhat"] <= 1.01 and d["min_ess_bulk"] >= 400 and d["min_ess_tail"] >= 400
                           and d["divergences"] == 0)
    # the session's sampler was compiled once (> 0 s); a result reports it only on its first use
    assert sampler.compile_seconds > 0 and res.seconds > 0
    assert res.compile_seconds in (0.0, sampler.compile_seconds)
    print(f"\n[posterior] compile {sampler.compile_seconds:.1f} s; one object, 4 × (300 + 300): "
          f"{res.seconds:.2f} s; R-hat ≤ {d['max_rhat']:.3f}, ESS ≥ {d['min_ess_bulk']:.0f}, "
          f"{d['divergences']} divergences")


def test_compiled_model_is_reused_for_another_missing_band_pattern(trained, held_out, sampler):
    i = _test_object(held_out)
    flux, err, mask = px.object_data(trained, held_out, i)
    full = sampler.sample(flux, err, mask, chains=2, tune=200, draws=200, random_state=1)
    mask2 = mask.copy()
    mask2[:2] = False                                  # F115W and F150W removed: no new compile
    fewer = sampler.sample(flux, err, mask2, chains=2, tune=200, draws=200, random_state=1)
    assert fewer.compile_seconds == 0.0
    # fewer bands, a wider posterior: the 68 % widths (in units of the prior range) grow in sum
    span = trained.theta_max_ - trained.theta_min_

    def width(r):
        return sum(float(np.ptp(np.quantile(r.idata.posterior[p].values, [0.16, 0.84]))) / span[j]
                   for j, p in enumerate(trained.parameters_))

    print(f"\n[posterior] summed 68 % widths: 4 bands {width(full):.2f}, 2 bands {width(fewer):.2f}")
    assert width(fewer) > width(full)
    # another galaxy through the same compiled model: its own posterior, following its own mass
    k = next(k for k in range(len(held_out)) if abs(float(held_out["log_mstar"][k])
                                                     - float(held_out["log_mstar"][i])) > 1.5)
    other = sampler.sample(*px.object_data(trained, held_out, k), chains=2, tune=200, draws=200, random_state=1)
    m_i = float(np.median(full.idata.posterior["log_mstar"]))
    m_k = float(np.median(other.idata.posterior["log_mstar"]))
    assert np.sign(m_k - m_i) == np.sign(float(held_out["log_mstar"][k]) - float(held_out["log_mstar"][i]))
    with pytest.raises(ParameterError, match="z free"):
        sampler.sample(flux, err, mask, z=1.0)
    with pytest.raises(ParameterError, match="no observed band"):
        sampler.sample(flux, err, np.zeros_like(mask))
    with pytest.raises(ParameterError, match="chains"):
        sampler.sample(flux, err, mask, chains=0)


def test_an_equal_likelihood_reuses_the_compiled_model(trained, sampler, tmp_path):
    from galfast import load_model

    trained.save(tmp_path / "nl.safetensors")
    again = px.PosteriorSampler(load_model(tmp_path / "nl.safetensors"))
    assert again.compiled is sampler.compiled and again.compile_seconds < 1.0

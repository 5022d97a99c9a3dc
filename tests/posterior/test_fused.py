"""The fused Numba likelihood (network + masked Gaussian, hand-written gradient) equals torch's
forward pass and autograd to 1e-8 in float64, for the full and the diagonal covariance, with and
without the mass and distance factors, and for any missing-band mask."""
import warnings

import numpy as np
import pytest
import torch

from galfast.posterior import NeuralLikelihood
from galfast.posterior.fused import FusedLoglike
from galfast.posterior.likelihood import masked_loglike_torch


def _torch_ll_and_grad(nl, theta, flux, err, mask):
    t = torch.tensor(theta[None], requires_grad=True)
    mu, cov = nl.network_.mean_and_cov(t)
    ll = masked_loglike_torch(mu, cov, torch.tensor(err[None]), torch.tensor(flux[None]),
                              torch.tensor(mask[None]))[0]
    ll.backward()
    return ll.item(), t.grad.numpy()[0]


def _check(nl, rng, trials=15):
    f = FusedLoglike(nl)
    lo, hi = nl.theta_min_, nl.theta_max_
    nb = len(nl.bands_)
    for trial in range(trials):
        theta = lo + rng.random(lo.size) * (hi - lo)
        mu, _ = nl.mean_and_cov(theta[None])
        err = mu[0] * rng.uniform(0.02, 1.0, nb)
        flux = mu[0] + err * rng.normal(size=nb) * 2
        mask = rng.random(nb) < 0.6
        mask[trial % nb] = True
        val, grad = f(theta, flux, err, mask)
        ref, gref = _torch_ll_and_grad(nl, theta, flux, err, mask)
        assert abs(val - ref) <= 1e-8 * max(1.0, abs(ref))
        assert np.max(np.abs(grad - gref)) <= 1e-8 * max(1.0, np.abs(gref).max()), (grad, gref)


def test_fused_equals_torch_trained(trained, rng):
    _check(trained, rng)


@pytest.mark.parametrize("params,kw", [
    (("log_mstar", "log_sfr", "av", "age_mw", "log_zmet", "z"), dict(diagonal=True, n_blocks=2, hidden=16)),
    (("log_sfr", "av", "age_mw"), dict(diagonal=False, n_blocks=0, hidden=8)),       # no mass, no z factor
    (("log_mstar", "av", "z"), dict(diagonal=False, n_blocks=3, hidden=12)),
], ids=["diagonal", "no-flux-factors", "three-blocks"])
def test_fused_equals_torch_variants(train, rng, params, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nl = NeuralLikelihood(params, epochs=2, batch_size=512, random_state=1, **kw).fit(train)
    # perturb the weights away from the near-identity initialisation so every path carries signal
    with torch.no_grad():
        for name, p in nl.network_.named_parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(len(name)), dtype=p.dtype))
    _check(nl, rng, trials=8)


def test_no_observed_band_and_bad_covariance(trained):
    f = FusedLoglike(trained)
    theta = 0.5 * (trained.theta_min_ + trained.theta_max_)
    nb = len(trained.bands_)
    ll, g = f(theta, np.ones(nb), np.ones(nb), np.zeros(nb))      # nothing observed: ln L = 0
    assert ll == 0.0 and np.all(g == 0.0)
    ll, g = f(theta, np.ones(nb), np.zeros(nb), np.ones(nb))      # finite: errors 0 still PD (model scatter)
    assert np.isfinite(ll)

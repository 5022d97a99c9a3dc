"""The likelihood network: shapes, the positive-definite fractional covariance, the flux factors
(mass, distance against astropy's flat ΛCDM), softplus_β, the diagonal variant, one θ = a batch row."""
import math

import numpy as np
import pytest
import torch

from galfast.posterior.network import (INIT_SCATTER, Z_REF, LikelihoodNetwork, forward,
                                       inverse_softplus_beta, log_distance_factor, softplus_beta)


def _net(**kw):
    torch.manual_seed(0)
    return LikelihoodNetwork(6, 5, hidden=16, n_blocks=2, mass_index=0, z_index=5, log_mstar_ref=10.0, **kw)


def _theta(rng, n=7):
    lo = np.array([8.0, -3.0, 0.0, 0.05, -2.0, 0.1])
    hi = np.array([11.5, 3.0, 3.0, 10.0, 0.3, 7.0])
    return torch.from_numpy(lo + rng.random((n, 6)) * (hi - lo))


def test_shapes_dtype_and_positive_definite_covariance(rng):
    net = _net()
    th = _theta(rng)
    mu, cov = net.mean_and_cov(th)
    assert mu.shape == (7, 5) and cov.shape == (7, 5, 5) and mu.dtype == torch.float64
    assert torch.all(mu > 0)
    assert torch.allclose(cov, cov.transpose(1, 2))
    # Σ_net = D C D with C = LLᵀ + σ²_min I: the fractional covariance C is positive definite
    log_mu, frac = net(th)
    assert torch.allclose(mu, torch.exp(log_mu))
    assert torch.allclose(cov, mu[:, :, None] * frac * mu[:, None, :])
    assert torch.linalg.eigvalsh(frac).min() >= net.sigma2_min * (1 - 1e-9)
    # at initialisation the fractional scatter is INIT_SCATTER on the diagonal
    sd = torch.sqrt(torch.diagonal(frac, dim1=1, dim2=2))
    assert torch.allclose(sd, torch.full_like(sd, math.sqrt(INIT_SCATTER ** 2 + 1e-5)), rtol=0.05)


def test_mass_and_distance_factors(rng):
    """ln μ = ln10 (log M* − m_ref) + ln[(1+z) d_L(z_ref)² / ((1+z_ref) d_L(z)²)] + c_b + g(θ)."""
    from astropy.cosmology import FlatLambdaCDM

    cosmo = FlatLambdaCDM(H0=70, Om0=0.3, Tcmb0=0)
    z = np.array([1e-4, 0.01, 0.1, 0.5, 1.0, 2.0, 4.0, 7.0, 10.0])
    exact = np.log((1 + z) / (1 + Z_REF) * (cosmo.luminosity_distance(Z_REF).value
                                            / cosmo.luminosity_distance(z).value) ** 2)
    got = log_distance_factor(torch.from_numpy(z)).numpy()
    assert abs(float(log_distance_factor(torch.tensor([Z_REF], dtype=torch.float64))[0])) < 1e-12
    assert np.max(np.abs(got - exact)) < 2 * 0.004      # Pen (1999): d_L to 0.4 %
    # the factors enter ln μ exactly as written: remove them and the rest is g + c_b
    net = _net()
    th = _theta(rng)
    p = net.weights()
    cfg = dict(net.config(), mass_index=None, z_index=None)
    bare, _ = forward(p, th, cfg)
    log_mu, _ = net(th)
    expect = bare + math.log(10) * (th[:, :1] - 10.0) + log_distance_factor(th[:, 5])[:, None]
    assert torch.allclose(log_mu, expect, rtol=0, atol=1e-12)


def test_softplus_beta_and_its_inverse():
    x = torch.linspace(-300, 300, 2001, dtype=torch.float64)
    for beta in (0.1, 1.0, 3.0):
        ref = torch.nn.functional.softplus(x, beta=beta, threshold=1e9)
        ref = torch.where(torch.isfinite(ref), ref, x)
        assert torch.allclose(softplus_beta(x, beta), ref, rtol=1e-12, atol=1e-300)
        for y in (1e-3, 0.1, 2.0):
            assert softplus_beta(torch.tensor(inverse_softplus_beta(y, beta), dtype=torch.float64), beta).item() \
                == pytest.approx(y, rel=1e-10)


def test_diagonal_variant_is_diagonal(rng):
    net = _net(diagonal=True)
    assert net.cov_out.out_features == 5
    _, cov = net.mean_and_cov(_theta(rng))
    off = cov - torch.diag_embed(torch.diagonal(cov, dim1=1, dim2=2))
    assert torch.all(off == 0) and torch.all(torch.diagonal(cov, dim1=1, dim2=2) > 0)


def test_one_theta_equals_its_batch_row_and_config_round_trip(rng):
    net = _net()
    th = _theta(rng, 3)
    log_mu, frac = net(th)
    one_mu, one_frac = forward(net.weights(), th[1], net.config())
    assert one_mu.shape == (5,) and one_frac.shape == (5, 5)
    assert torch.allclose(one_mu, log_mu[1], rtol=0, atol=1e-13)
    assert torch.allclose(one_frac, frac[1], rtol=0, atol=1e-15)
    copy = LikelihoodNetwork.from_config(net.config())
    copy.load_state_dict(net.state_dict())
    assert torch.equal(copy(th)[0], log_mu)


def test_gradients_are_smooth_in_theta(rng):
    """SiLU network: the gradient of ln μ changes continuously (no ReLU kinks) along a line in θ."""
    net = _net()
    t0 = _theta(rng, 1)[0]
    d = torch.from_numpy(rng.normal(size=6))
    grads = []
    for s in np.linspace(-1e-3, 1e-3, 21):
        t = (t0 + s * d).clone().requires_grad_(True)
        lm, frac = forward(net.weights(), t, net.config())
        (lm.sum() + frac.sum()).backward()
        grads.append(t.grad.numpy().copy())
    jumps = np.abs(np.diff(np.array(grads), axis=0)).max()
    assert jumps < 1e-3 * max(1.0, np.abs(grads).max())

"""The masked Gaussian log-likelihood: the Numba kernel equals the torch version to 1e-10, both
equal the explicit observed-sub-matrix Gaussian (scipy), the one-object kernel's analytic
gradient equals torch's autograd; edge cases (no band, not positive definite, bad shapes)."""
import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from galfast.posterior.likelihood import (LOG_2PI, loglike_and_grad_one, masked_chi2, masked_loglike,
                                          masked_loglike_torch)


def _problem(rng, n=300, nb=6, log_scale=1.0, p_obs=0.7):
    """Random positive-definite Σ_net with per-band scales e^{N(0, log_scale)}, errors, fluxes and
    masks (each row keeps at least one band, except row 0 which has none)."""
    a = rng.normal(size=(n, nb, nb))
    d = np.exp(rng.normal(size=(n, nb)) * log_scale)
    cov = d[:, :, None] * (a @ a.transpose(0, 2, 1) / nb + 0.05 * np.eye(nb)) * d[:, None, :]
    mu = rng.normal(size=(n, nb)) * d
    err = rng.uniform(0.1, 1.0, (n, nb)) * d
    flux = mu + rng.normal(size=(n, nb)) * d
    mask = rng.random((n, nb)) < p_obs
    mask[np.arange(1, n), rng.integers(0, nb, n - 1)] = True
    mask[0] = False
    flux[~mask] = np.nan            # never read
    err[~mask] = np.nan
    return mu, cov, err, flux, mask


def _torch(mu, cov, err, flux, mask):
    return masked_loglike_torch(*(torch.from_numpy(x) for x in (mu, cov, err, flux)), torch.from_numpy(mask))


def _reference(mu, cov, err, flux, mask):
    """ln N(f_o | μ_o, Σ_oo + diag σ_o²) of the observed sub-vector, by scipy."""
    out = []
    for i in range(len(mu)):
        o = mask[i]
        if not o.any():
            out.append(0.0)
            continue
        s = cov[i][np.ix_(o, o)] + np.diag(err[i][o] ** 2)
        out.append(multivariate_normal(mu[i][o], s).logpdf(flux[i][o]))
    return np.array(out)


def test_numba_kernel_equals_torch_to_1e10(rng):
    for log_scale in (0.5, 4.0):          # 4: bands of one object differ by up to ~10^7 in flux
        prob = _problem(rng, log_scale=log_scale)
        ll = masked_loglike(*prob)
        lt = _torch(*prob).numpy()
        assert ll.shape == (300,) and ll.dtype == np.float64 and ll[0] == 0.0
        assert np.all(np.isfinite(ll))
        assert np.max(np.abs(ll - lt) / np.maximum(1.0, np.abs(lt))) < 1e-10
    # threads change nothing
    assert np.array_equal(masked_loglike(*prob, n_jobs=2), masked_loglike(*prob, n_jobs=1))


def test_equals_the_observed_sub_matrix_gaussian(rng):
    prob = _problem(rng, log_scale=0.5)
    ref = _reference(*prob)
    assert np.max(np.abs(masked_loglike(*prob) - ref)) < 1e-9
    assert np.max(np.abs(_torch(*prob).numpy() - ref)) < 1e-9
    # χ²: the explicit quadratic form rᵀ Σ_o⁻¹ r with n_obs = number of observed bands
    mu, cov, err, flux, mask = prob
    chi2, k = masked_chi2(*prob)
    for i in (1, 2, 3, 50):
        o = mask[i]
        r = flux[i][o] - mu[i][o]
        s = cov[i][np.ix_(o, o)] + np.diag(err[i][o] ** 2)
        assert chi2[i] == pytest.approx(r @ np.linalg.solve(s, r), rel=1e-10)
        assert k[i] == o.sum()
    _, tchi2, tk = masked_loglike_torch(*(torch.from_numpy(x) for x in (mu, cov, err, flux)),
                                        torch.from_numpy(mask), return_chi2=True)
    assert np.allclose(tchi2.numpy(), chi2, rtol=1e-10) and np.array_equal(tk.numpy(), k)


def test_marginalisation_one_band_analytic():
    """Two bands, the second not observed: ln L is the 1-D Gaussian of the first band."""
    mu = np.array([[2.0, 5.0]])
    cov = np.array([[[0.5, 0.3], [0.3, 4.0]]])
    err = np.array([[0.5, np.nan]])
    flux = np.array([[3.0, np.nan]])
    mask = np.array([[True, False]])
    var = 0.5 + 0.25
    expect = -0.5 * (1.0 / var + np.log(var) + LOG_2PI)
    assert masked_loglike(mu, cov, err, flux, mask)[0] == pytest.approx(expect, rel=1e-14)
    assert _torch(mu, cov, err, flux, mask).item() == pytest.approx(expect, rel=1e-14)


def test_one_object_kernel_and_its_analytic_gradient(rng):
    """ln L and ∂ln L/∂μ, ∂ln L/∂C of Σ = D C D + diag σ², against torch autograd."""
    nb = 5
    for trial in range(6):
        a = rng.normal(size=(nb, nb))
        frac = a @ a.T / nb * 0.05 + 1e-3 * np.eye(nb)
        mu = np.exp(rng.normal(size=nb) * 2)
        err = mu * rng.uniform(0.02, 0.5, nb)
        flux = mu * (1 + rng.normal(size=nb) * 0.2)
        mask = (rng.random(nb) < 0.7).astype(float)
        mask[trial % nb] = 1.0
        ll, dmu, dfrac = loglike_and_grad_one(mu, frac, flux, err, mask)
        mu_t = torch.tensor(mu, requires_grad=True)
        frac_t = torch.tensor(frac, requires_grad=True)
        cov = mu_t[:, None] * frac_t * mu_t[None, :]
        lt = masked_loglike_torch(mu_t[None], cov[None], torch.tensor(err)[None], torch.tensor(flux)[None],
                                  torch.tensor(mask > 0.5)[None])[0]
        lt.backward()
        assert ll == pytest.approx(lt.item(), rel=1e-12)
        assert np.allclose(dmu, mu_t.grad.numpy(), rtol=1e-9, atol=1e-12 * np.abs(dmu).max())
        assert np.allclose(dfrac, frac_t.grad.numpy(), rtol=1e-9, atol=1e-12 * np.abs(dfrac).max())
        off = mask < 0.5
        assert np.all(dmu[off] == 0) and np.all(dfrac[off] == 0) and np.all(dfrac[:, off] == 0)
    assert loglike_and_grad_one(mu, frac, flux, err, np.zeros(nb))[0] == 0.0


def test_not_positive_definite_and_bad_shapes():
    mu = np.zeros((1, 2))
    cov = np.array([[[1.0, 2.0], [2.0, 1.0]]])     # indefinite
    err = np.zeros((1, 2))
    flux = np.zeros((1, 2))
    mask = np.ones((1, 2), dtype=bool)
    assert masked_loglike(mu, cov, err, flux, mask)[0] == -np.inf
    assert loglike_and_grad_one(np.ones(2), cov[0], flux[0], err[0], np.ones(2))[0] == -np.inf
    # a band with zero variance (μ = 0 and no error) has no likelihood either
    assert loglike_and_grad_one(np.zeros(2), cov[0], flux[0], err[0], np.ones(2))[0] == -np.inf
    assert masked_loglike(mu, np.zeros((1, 2, 2)), err, flux, mask)[0] == -np.inf
    with pytest.raises(ValueError, match="sigma_net"):
        masked_loglike(mu, cov[:, :1], err, flux, mask)
    with pytest.raises(ValueError, match="mask"):
        masked_loglike(mu, cov, err, flux, mask[:, :1])

"""Masked Gaussian log-likelihood: missing bands marginalised exactly, with fixed shapes.

For one object with model mean μ (B,), model covariance Σ_net (B, B), measurement errors σ_obs
(B,), fluxes f (B,) and the mask m (B,) of observed bands,

    ln L = −½ [ rᵀ Σ_o⁻¹ r + ln det Σ_o + n_obs ln 2π ],   Σ = Σ_net + diag(σ_obs²),

where r and Σ_o are the residual and the covariance of the *observed* bands only: the marginal
of a Gaussian over the bands that are not observed is the Gaussian of the observed sub-vector.
Instead of cutting out the sub-matrix (a different shape for every missing-band pattern, which is
how the thesis split its minibatches), every band that is not observed gets residual 0 and its
row and column of Σ replaced by those of the identity.  The matrix is then block-diagonal
(up to a permutation) in Σ_o and I, so its Cholesky factor, log-determinant and quadratic form are
exactly those of Σ_o: one batched computation of shape (N, B, B) serves every pattern.

Before the Cholesky factorisation the matrix is equilibrated, Σ → S⁻¹ Σ S⁻¹ with
S = diag(√Σ_ii) (and ln det Σ = ln det(S⁻¹ΣS⁻¹) + 2 Σ ln S_ii): fluxes of one object can differ by
many decades between bands (a Lyman break), and the unit-diagonal matrix keeps the factorisation
accurate in float64 whatever the flux scale.

Three implementations of the same function:

* :func:`masked_loglike_torch` — torch, batched, differentiable (training);
* :func:`masked_loglike` / :func:`masked_chi2` — a compiled Numba kernel over (N,) objects,
  parallel over objects (scoring catalogues), equal to the torch version to ~1e-14 in float64;
* :func:`loglike_and_grad_one` — one object, with the analytic gradient with respect to μ and
  the fractional covariance C of Σ_net = D C D (Numba), the PyTensor Op of
  :mod:`galfast.posterior.pymc_export` (sampling).

Gradient of one object (observed block; r = f − μ, α = Σ_o⁻¹ r, G = ½(ααᵀ − Σ_o⁻¹)):
∂ln L/∂Σ_ij = G_ij (entries taken as independent), so with Σ_ij = μ_i C_ij μ_j + δ_ij σ_i²,
∂ln L/∂C_ij = G_ij μ_i μ_j and ∂ln L/∂μ_i = α_i + 2 Σ_j G_ij C_ij μ_j (G and C symmetric).

Inputs are float64 arrays: ``mu`` (N, B), ``sigma_net`` (N, B, B), ``flux_err`` (N, B),
``flux`` (N, B), ``mask`` (N, B) bool (True = observed).  Fluxes and errors of bands that are not
observed are never read (they may be NaN).  A row without observed bands has ln L = 0 (the
empty product) and χ² = 0 with n_obs = 0.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numba
import numpy as np

__all__ = ["masked_loglike_torch", "masked_loglike", "masked_chi2", "total_covariance",
           "loglike_and_grad_one", "LOG_2PI"]

LOG_2PI = math.log(2.0 * math.pi)


def total_covariance(sigma_net, flux_err, mask):
    """Σ = Σ_net + diag(σ_obs²) with σ_obs taken as 0 where ``mask`` is False (torch or numpy)."""
    try:
        import torch

        if isinstance(sigma_net, torch.Tensor):
            e2 = torch.where(mask, flux_err * flux_err, torch.zeros((), dtype=sigma_net.dtype))
            return sigma_net + torch.diag_embed(e2)
    except ImportError:  # pragma: no cover
        pass
    e2 = np.where(mask, np.asarray(flux_err, dtype=float) ** 2, 0.0)
    out = np.array(sigma_net, dtype=float, copy=True)
    idx = np.arange(out.shape[-1])
    out[..., idx, idx] += e2
    return out


def masked_loglike_torch(mu, sigma_net, flux_err, flux, mask, *, return_chi2: bool = False):
    """ln L (N,) of the observed bands (see the module docstring), differentiable in torch.

    With ``return_chi2`` also the quadratic form χ² = rᵀ Σ_o⁻¹ r (N,) and n_obs (N,).
    """
    import torch

    m = torch.as_tensor(mask, dtype=torch.bool, device=mu.device)
    mf = m.to(mu.dtype)
    zero = torch.zeros((), dtype=mu.dtype, device=mu.device)
    r = torch.where(m, flux - mu, zero)
    cov = total_covariance(sigma_net, flux_err, m)
    pair = m[:, :, None] & m[:, None, :]
    cov = torch.where(pair, cov, zero) + torch.diag_embed(1.0 - mf)
    s = torch.sqrt(torch.diagonal(cov, dim1=-2, dim2=-1))
    cov = cov / (s[:, :, None] * s[:, None, :])
    chol = torch.linalg.cholesky(cov)
    y = torch.linalg.solve_triangular(chol, (r / s)[..., None], upper=False)[..., 0]
    chi2 = (y * y).sum(-1)
    logdet = 2.0 * (torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1) + torch.log(s).sum(-1))
    n_obs = mf.sum(-1)
    ll = -0.5 * (chi2 + logdet + n_obs * LOG_2PI)
    return (ll, chi2, n_obs) if return_chi2 else ll


@numba.njit(parallel=True, cache=True, fastmath=False)
def _kernel(mu, cov, err, flux, mask, out_ll, out_chi2, out_n):
    n, nb = mu.shape
    for i in numba.prange(n):
        idx = np.empty(nb, dtype=np.int64)
        k = 0
        for b in range(nb):
            if mask[i, b]:
                idx[k] = b
                k += 1
        out_n[i] = k
        if k == 0:
            out_ll[i] = 0.0
            out_chi2[i] = 0.0
            continue
        a = np.empty((k, k))
        s = np.empty(k)
        y = np.empty(k)
        for p in range(k):
            bp = idx[p]
            s[p] = math.sqrt(cov[i, bp, bp] + err[i, bp] * err[i, bp])
        bad = False
        for p in range(k):
            if not s[p] > 0.0:
                bad = True
        if bad:                             # zero or NaN variance: no likelihood
            out_ll[i] = -np.inf
            out_chi2[i] = np.inf
            continue
        for p in range(k):
            bp = idx[p]
            for q in range(p + 1):
                bq = idx[q]
                v = cov[i, bp, bq]
                if p == q:
                    v += err[i, bp] * err[i, bp]
                a[p, q] = v / (s[p] * s[q])
        logdet = 0.0
        ok = True
        for p in range(k):                  # Cholesky, lower triangle in place
            for q in range(p + 1):
                acc = a[p, q]
                for t in range(q):
                    acc -= a[p, t] * a[q, t]
                if p == q:
                    if not acc > 0.0:
                        ok = False
                        break
                    a[p, p] = math.sqrt(acc)
                else:
                    a[p, q] = acc / a[q, q]
            if not ok:
                break
            logdet += 2.0 * (math.log(a[p, p]) + math.log(s[p]))
        if not ok:                          # not positive definite: no likelihood
            out_ll[i] = -np.inf
            out_chi2[i] = np.inf
            continue
        chi2 = 0.0
        for p in range(k):                  # forward substitution L y = r / s
            acc = (flux[i, idx[p]] - mu[i, idx[p]]) / s[p]
            for t in range(p):
                acc -= a[p, t] * y[t]
            y[p] = acc / a[p, p]
            chi2 += y[p] * y[p]
        out_chi2[i] = chi2
        out_ll[i] = -0.5 * (chi2 + logdet + k * 1.8378770664093453)   # ln 2π


@contextmanager
def _numba_threads(n_jobs):
    from ..validation import effective_n_jobs

    n = min(effective_n_jobs(n_jobs), numba.config.NUMBA_NUM_THREADS)
    old = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(old)


def _as_inputs(mu, sigma_net, flux_err, flux, mask):
    mu = np.ascontiguousarray(mu, dtype=np.float64)
    if mu.ndim != 2:
        raise ValueError(f"mu must be (N, B), got shape {mu.shape}")
    n, nb = mu.shape
    cov = np.ascontiguousarray(sigma_net, dtype=np.float64)
    err = np.ascontiguousarray(flux_err, dtype=np.float64)
    flux = np.ascontiguousarray(flux, dtype=np.float64)
    mask = np.ascontiguousarray(mask, dtype=np.bool_)
    for name, a, shape in (("sigma_net", cov, (n, nb, nb)), ("flux_err", err, (n, nb)),
                           ("flux", flux, (n, nb)), ("mask", mask, (n, nb))):
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {shape} (N, B from mu), got {a.shape}")
    return mu, cov, err, flux, mask


def _run(mu, sigma_net, flux_err, flux, mask, n_jobs):
    mu, cov, err, flux, mask = _as_inputs(mu, sigma_net, flux_err, flux, mask)
    n = mu.shape[0]
    ll, chi2, n_obs = np.empty(n), np.empty(n), np.empty(n, dtype=np.int64)
    with _numba_threads(n_jobs):
        _kernel(mu, cov, err, flux, mask, ll, chi2, n_obs)
    return ll, chi2, n_obs


def masked_loglike(mu, sigma_net, flux_err, flux, mask, *, n_jobs=None) -> np.ndarray:
    """ln L (N,) of the observed bands, compiled (Numba, ``n_jobs`` threads over objects; None = 1,
    −1 = all cores); −inf for a row whose Σ_o is not positive definite."""
    return _run(mu, sigma_net, flux_err, flux, mask, n_jobs)[0]


def masked_chi2(mu, sigma_net, flux_err, flux, mask, *, n_jobs=None):
    """(χ² (N,), n_obs (N,) int): the Mahalanobis distance² rᵀ Σ_o⁻¹ r of the observed bands and
    their number (the degrees of freedom of χ² when the model is right)."""
    _, chi2, n_obs = _run(mu, sigma_net, flux_err, flux, mask, n_jobs)
    return chi2, n_obs


@numba.njit(cache=True)
def loglike_and_grad_one(mu, frac, flux, err, mask):
    """(ln L, ∂ln L/∂μ (B,), ∂ln L/∂C (B, B)) of one object with Σ = D C D + diag(σ_obs²),
    D = diag(μ), for the bands with ``mask > 0.5`` (the others marginalised; their gradient
    entries are 0).  ln L = −inf (gradients 0) when Σ_o is not positive definite."""
    nb = mu.shape[0]
    dmu = np.zeros(nb)
    dfrac = np.zeros((nb, nb))
    idx = np.empty(nb, dtype=np.int64)
    k = 0
    for b in range(nb):
        if mask[b] > 0.5:
            idx[k] = b
            k += 1
    if k == 0:
        return 0.0, dmu, dfrac
    s = np.empty(k)
    a = np.empty((k, k))
    for p in range(k):
        bp = idx[p]
        s[p] = math.sqrt(mu[bp] * frac[bp, bp] * mu[bp] + err[bp] * err[bp])
        if not s[p] > 0.0:                  # zero or NaN variance: no likelihood
            return -np.inf, dmu, dfrac
    for p in range(k):
        bp = idx[p]
        for q in range(p + 1):
            bq = idx[q]
            v = mu[bp] * frac[bp, bq] * mu[bq]
            if p == q:
                v += err[bp] * err[bp]
            a[p, q] = v / (s[p] * s[q])
    logdet = 0.0
    for p in range(k):                      # Cholesky, lower triangle in place
        for q in range(p + 1):
            acc = a[p, q]
            for t in range(q):
                acc -= a[p, t] * a[q, t]
            if p == q:
                if not acc > 0.0:
                    return -np.inf, dmu, dfrac
                a[p, p] = math.sqrt(acc)
            else:
                a[p, q] = acc / a[q, q]
        logdet += 2.0 * (math.log(a[p, p]) + math.log(s[p]))
    y = np.empty(k)
    chi2 = 0.0
    for p in range(k):                      # L y = r / s
        acc = (flux[idx[p]] - mu[idx[p]]) / s[p]
        for t in range(p):
            acc -= a[p, t] * y[t]
        y[p] = acc / a[p, p]
        chi2 += y[p] * y[p]
    alpha = np.empty(k)
    for p in range(k - 1, -1, -1):          # Lᵀ x = y; α = x / s = Σ_o⁻¹ r
        acc = y[p]
        for t in range(p + 1, k):
            acc -= a[t, p] * alpha[t]
        alpha[p] = acc / a[p, p]
    linv = np.zeros((k, k))                 # L⁻¹ (lower)
    for c in range(k):
        for p in range(c, k):
            acc = 1.0 if p == c else 0.0
            for t in range(c, p):
                acc -= a[p, t] * linv[t, c]
            linv[p, c] = acc / a[p, p]
    for p in range(k):
        bp = idx[p]
        gsum = 0.0
        for q in range(k):
            bq = idx[q]
            inv = 0.0                       # (LLᵀ)⁻¹_pq = Σ_t L⁻¹_tp L⁻¹_tq
            for t in range(max(p, q), k):
                inv += linv[t, p] * linv[t, q]
            ap = alpha[p] / s[p]
            aq = alpha[q] / s[q]
            g = 0.5 * (ap * aq - inv / (s[p] * s[q]))
            dfrac[bp, bq] = g * mu[bp] * mu[bq]
            gsum += g * frac[bp, bq] * mu[bq]
        dmu[bp] = alpha[p] / s[p] + 2.0 * gsum
    return -0.5 * (chi2 + logdet + k * 1.8378770664093453), dmu, dfrac

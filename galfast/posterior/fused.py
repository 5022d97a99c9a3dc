"""The whole log-likelihood of one object — network and masked Gaussian — as one Numba function
with its hand-written reverse-mode gradient with respect to θ.

    w = pack_weights(likelihood)                     # one flat float64 vector of every weight
    ll, dll_dtheta = loglike_grad(theta, w, flux, flux_err, mask, layout)

It computes exactly the function of :func:`galfast.posterior.network.forward` followed by
:func:`galfast.posterior.likelihood.loglike_and_grad_one` (a test holds it to torch's autograd to
1e-8 in float64), with every activation kept for the backward pass in a few small buffers.  Why:
the same network as a PyTensor graph compiles to ~100 small Numba ops whose calls, temporaries and
BLAS dispatch cost more than the arithmetic (a 64-wide network does ~75 k multiply–adds per
gradient); fused, one gradient costs a fraction of that (``bench/posterior_ratios.py``).

Layout.  The weights go in as a few arrays (:func:`pack_weights`): the input layer, one stack of
the H×H matrices of every residual block (trunk, mean head, covariance head) and the two output
layers, in torch's (out, in) order.  The forward pass takes dot products over rows of W, the
backward pass adds rows of W scaled by the output gradient (dx += W[i] dy_i); both run over
contiguous memory (a flat vector with offsets was 4× slower in the backward pass).  The sigmoids
of the forward pass are kept for the backward pass (each exp is paid once).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .likelihood import loglike_and_grad_one
from .network import OMEGA_M, Z_REF, _PEN, _PEN_NORM, _tril_indices

__all__ = ["pack_weights", "flags_of", "scalars_of", "distance_constants", "loglike_grad", "FusedLoglike",
           "WEIGHT_NAMES"]

_LN10 = math.log(10.0)
_PEN_ARR = np.array(_PEN, dtype=np.float64)


def pack_weights(state: dict, cfg: dict) -> tuple:
    """The network's weights as the arrays :func:`loglike_grad` takes, from its state dict
    (name → array or tensor): (θ mean, θ scale, band offset, W_in, b_in, W_blocks (K, 2, H, H),
    b_blocks (K, 2, H), W_mean_out, b_mean_out, W_cov_out, b_cov_out), K = n_blocks + 2 (trunk
    blocks, then the mean and covariance heads' blocks); float64, C-contiguous."""
    def arr(name):
        v = state[name]
        v = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
        return np.ascontiguousarray(v, dtype=np.float64)

    blocks = [f"trunk.{k}" for k in range(cfg["n_blocks"])] + ["mean_block", "cov_block"]
    wb = np.stack([np.stack([arr(f"{n}.fc1.weight"), arr(f"{n}.fc2.weight")]) for n in blocks])
    bb = np.stack([np.stack([arr(f"{n}.fc1.bias"), arr(f"{n}.fc2.bias")]) for n in blocks])
    return (arr("theta_mean"), arr("theta_scale"), arr("band_offset"), arr("inp.weight"), arr("inp.bias"),
            np.ascontiguousarray(wb), np.ascontiguousarray(bb), arr("mean_out.weight"), arr("mean_out.bias"),
            arr("cov_out.weight"), arr("cov_out.bias"))


#: names of the arrays of :func:`pack_weights`, in order
WEIGHT_NAMES = ("theta_mean", "theta_scale", "band_offset", "w_in", "b_in", "w_blocks", "b_blocks",
                "w_mean_out", "b_mean_out", "w_cov_out", "b_cov_out")


def flags_of(cfg: dict) -> np.ndarray:
    """(diagonal, mass index, z index) as int64, −1 for an absent index."""
    return np.array([int(bool(cfg["diagonal"])),
                     -1 if cfg["mass_index"] is None else int(cfg["mass_index"]),
                     -1 if cfg["z_index"] is None else int(cfg["z_index"])], dtype=np.int64)


def scalars_of(cfg: dict) -> np.ndarray:
    """(β, σ²_min, log M*_ref) as a float64 array."""
    return np.array([cfg["beta"], cfg["sigma2_min"], cfg["log_mstar_ref"]], dtype=np.float64)


# ----------------------------------------------------------------------------- kernels
@numba.njit(cache=True, inline="always")
def _sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@numba.njit(cache=True, fastmath=True)
def _affine(W, bias, x, y):
    """y = W x + b, W (n_out, n_in)."""
    n_out, n_in = W.shape
    for i in range(n_out):
        acc = bias[i]
        for j in range(n_in):
            acc += W[i, j] * x[j]
        y[i] = acc


@numba.njit(cache=True)
def _affine_back(W, dy, dx):
    """dx = Wᵀ dy (the input gradient of :func:`_affine`), as a sum of rows of W."""
    n_out, n_in = W.shape
    for j in range(n_in):
        dx[j] = 0.0
    for i in range(n_out):
        dyi = dy[i]
        for j in range(n_in):
            dx[j] += W[i, j] * dyi


@numba.njit(cache=True)
def _silu_into(x, out, sig):
    """out = x·s(x), keeping s(x) in ``sig``."""
    for i in range(x.shape[0]):
        s = _sigmoid(x[i])
        sig[i] = s
        out[i] = x[i] * s


@numba.njit(cache=True)
def _silu_grad_mul(x, sig, g):
    """g ⊙= silu'(x) = s(x)(1 + x(1 − s(x))), s(x) given."""
    for i in range(x.shape[0]):
        s = sig[i]
        g[i] *= s * (1.0 + x[i] * (1.0 - s))


@numba.njit(cache=True)
def _block_forward(W, b, h, u, sh, su, out, tmp):
    """out = h + W₂ SiLU(W₁ SiLU(h) + b₁) + b₂ (W (2, H, H), b (2, H)); keeps u = W₁ SiLU(h) + b₁
    and the sigmoids s(h), s(u)."""
    _silu_into(h, tmp, sh)
    _affine(W[0], b[0], tmp, u)
    _silu_into(u, tmp, su)
    _affine(W[1], b[1], tmp, out)
    for i in range(h.shape[0]):
        out[i] += h[i]


@numba.njit(cache=True)
def _block_backward(W, h, u, sh, su, dout, dh, tmp):
    """dh = dout + ∂/∂h of the residual branch of :func:`_block_forward`."""
    _affine_back(W[1], dout, tmp)       # d SiLU(u)
    _silu_grad_mul(u, su, tmp)          # d u
    _affine_back(W[0], tmp, dh)         # d SiLU(h)
    _silu_grad_mul(h, sh, dh)
    for i in range(h.shape[0]):
        dh[i] += dout[i]


@numba.njit(cache=True)
def _log_distance_factor_and_grad(z, pen, pen_norm, eta1, log_dc_ref):
    """ln{[(1+z)/(1+z_ref)][d_L(z_ref)/d_L(z)]²} (without the constant ln(1+z_ref) + 2 ln dc_ref
    added by the caller) and its z derivative, as :func:`galfast.posterior.network.log_distance_factor`."""
    inv = 1.0 + z
    poly = (((pen[0] * inv + pen[1]) * inv + pen[2]) * inv + pen[3]) * inv + pen[4]
    dpoly = ((4.0 * pen[0] * inv + 3.0 * pen[1]) * inv + 2.0 * pen[2]) * inv + pen[3]
    eta = pen_norm * math.exp(-0.125 * math.log(poly))
    dc = eta1 - eta
    ddc = 0.125 * eta * dpoly / poly              # d dc / dz
    val = -math.log1p(z) - 2.0 * (math.log(dc) - log_dc_ref)
    return val, -1.0 / (1.0 + z) - 2.0 * ddc / dc


@numba.njit(cache=True)
def loglike_grad(theta, flux, err, mask, theta_mean, theta_scale, band_offset, w_in, b_in, w_blocks,
                 b_blocks, w_mo, b_mo, w_co, b_co, flags, scalars, tril_rows, tril_cols, dist_consts):
    """(ln L, ∂ln L/∂θ (P,)) of one object: θ (P,), ``flux``/``err`` (B,) [µJy], ``mask`` (B,)
    > 0.5 observed; the weights of :func:`pack_weights`; ``flags`` = (diagonal, mass index,
    z index) with −1 for an absent index; ``scalars`` = (β, σ²_min, log M*_ref); the
    lower-triangle indices; :func:`distance_constants`."""
    P = theta.shape[0]
    B = flux.shape[0]
    H = w_in.shape[0]
    K = w_blocks.shape[0]                          # trunk blocks + 2 heads
    NBLK = K - 2
    NCOV = w_co.shape[0]
    DIAG = flags[0]
    MI = flags[1]
    ZI = flags[2]
    beta = scalars[0]
    sigma2_min = scalars[1]
    mref = scalars[2]
    # ---- forward
    x = np.empty(P)
    for j in range(P):
        x[j] = (theta[j] - theta_mean[j]) / theta_scale[j]
    hs = np.empty((NBLK + 1, H))                   # trunk inputs h_0 … h_T
    us = np.empty((K, H))                          # u of each block (trunk, mean, cov)
    sh = np.empty((K, H))                          # s(h) and s(u) of each block
    su = np.empty((K, H))
    tmp = np.empty(H)
    _affine(w_in, b_in, x, hs[0])
    for k in range(NBLK):
        _block_forward(w_blocks[k], b_blocks[k], hs[k], us[k], sh[k], su[k], hs[k + 1], tmp)
    hT = hs[NBLK]
    m_pre = np.empty(H)
    c_pre = np.empty(H)
    _block_forward(w_blocks[NBLK], b_blocks[NBLK], hT, us[NBLK], sh[NBLK], su[NBLK], m_pre, tmp)
    _block_forward(w_blocks[NBLK + 1], b_blocks[NBLK + 1], hT, us[NBLK + 1], sh[NBLK + 1], su[NBLK + 1],
                   c_pre, tmp)
    hm = np.empty(H)
    hc = np.empty(H)
    s_m = np.empty(H)
    s_c = np.empty(H)
    _silu_into(m_pre, hm, s_m)
    _silu_into(c_pre, hc, s_c)
    log_mu = np.empty(B)
    _affine(w_mo, b_mo, hm, log_mu)
    shift = 0.0
    dshift_dz = 0.0
    if MI >= 0:
        shift += _LN10 * (theta[MI] - mref)
    if ZI >= 0:
        val, dval = _log_distance_factor_and_grad(theta[ZI], dist_consts[:5], dist_consts[5],
                                                  dist_consts[6], dist_consts[7])
        shift += val + dist_consts[8]
        dshift_dz = dval
    mu = np.empty(B)
    for b in range(B):
        log_mu[b] += band_offset[b] + shift
        mu[b] = math.exp(log_mu[b])
    raw = np.empty(NCOV)
    _affine(w_co, b_co, hc, raw)
    frac = np.zeros((B, B))
    lower = np.zeros((B, B))
    if DIAG:
        for b in range(B):
            y = beta * raw[b]
            d = (max(y, 0.0) + math.log1p(math.exp(-abs(y)))) / beta
            lower[b, b] = d
            frac[b, b] = d * d + sigma2_min
    else:
        for i in range(NCOV):
            v = raw[i]
            if i < B:
                y = beta * v
                v = (max(y, 0.0) + math.log1p(math.exp(-abs(y)))) / beta
            lower[tril_rows[i], tril_cols[i]] = v
        for p in range(B):
            for q in range(p + 1):
                acc = 0.0
                for t in range(q + 1):
                    acc += lower[p, t] * lower[q, t]
                frac[p, q] = acc
                frac[q, p] = acc
            frac[p, p] += sigma2_min
    ll, dmu, dfrac = loglike_and_grad_one(mu, frac, flux, err, mask)
    grad = np.zeros(P)
    if not np.isfinite(ll):
        return ll, grad
    # ---- backward
    dlog = np.empty(B)
    total = 0.0
    for b in range(B):
        dlog[b] = dmu[b] * mu[b]
        total += dlog[b]
    if MI >= 0:
        grad[MI] += _LN10 * total
    if ZI >= 0:
        grad[ZI] += dshift_dz * total
    draw = np.empty(NCOV)
    if DIAG:
        for b in range(B):
            draw[b] = dfrac[b, b] * 2.0 * lower[b, b] * _sigmoid(beta * raw[b])
    else:
        # frac = L Lᵀ: ∂/∂L = (G + Gᵀ) L, the entries of G = dfrac taken as independent
        for i in range(NCOV):
            r = tril_rows[i]
            c = tril_cols[i]
            acc = 0.0
            for t in range(c, B):               # L[t, c] = 0 for t < c
                acc += (dfrac[r, t] + dfrac[t, r]) * lower[t, c]
            if i < B:
                acc *= _sigmoid(beta * raw[i])
            draw[i] = acc
    dhm = np.empty(H)
    dhc = np.empty(H)
    _affine_back(w_mo, dlog, dhm)
    _affine_back(w_co, draw, dhc)
    _silu_grad_mul(m_pre, s_m, dhm)
    _silu_grad_mul(c_pre, s_c, dhc)
    dh = np.empty(H)
    dh2 = np.empty(H)
    _block_backward(w_blocks[NBLK], hT, us[NBLK], sh[NBLK], su[NBLK], dhm, dh, tmp)
    _block_backward(w_blocks[NBLK + 1], hT, us[NBLK + 1], sh[NBLK + 1], su[NBLK + 1], dhc, dh2, tmp)
    for i in range(H):
        dh[i] += dh2[i]
    for k in range(NBLK - 1, -1, -1):
        _block_backward(w_blocks[k], hs[k], us[k], sh[k], su[k], dh, dh2, tmp)
        for i in range(H):
            dh[i] = dh2[i]
    dx = np.empty(P)
    _affine_back(w_in, dh, dx)
    for j in range(P):
        grad[j] += dx[j] / theta_scale[j]
    return ll, grad


def distance_constants() -> np.ndarray:
    """(Pen coefficients ×5, Pen norm, η(1), ln dc_ref, ln(1 + z_ref) + 0) for the kernel."""
    eta1 = _PEN_NORM * float(sum(_PEN)) ** -0.125
    inv_ref = 1.0 + Z_REF
    poly_ref = sum(c * inv_ref ** (4 - i) for i, c in enumerate(_PEN))
    dc_ref = eta1 - _PEN_NORM * poly_ref ** -0.125
    return np.array([*_PEN, _PEN_NORM, eta1, math.log(dc_ref), math.log1p(Z_REF)], dtype=np.float64)


class FusedLoglike:
    """ln L and ∂ln L/∂θ of one object for a fitted likelihood, through :func:`loglike_grad`;
    ``constants`` are the arrays after the data, in the kernel's order."""

    def __init__(self, likelihood):
        cfg = likelihood.network_.config()
        rows, cols = _tril_indices(cfg["n_bands"])
        self.constants = (*pack_weights(likelihood.network_.state_dict(), cfg), flags_of(cfg), scalars_of(cfg),
                          rows.astype(np.int64), cols.astype(np.int64), distance_constants())

    def __call__(self, theta, flux, err, mask):
        return loglike_grad(np.asarray(theta, dtype=np.float64), np.asarray(flux, dtype=np.float64),
                            np.asarray(err, dtype=np.float64), np.asarray(mask, dtype=np.float64),
                            *self.constants)

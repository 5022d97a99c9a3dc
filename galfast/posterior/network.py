"""The likelihood network p(flux | θ): a Gaussian in flux space with a learned covariance.

For parameters θ (e.g. log M*, log SFR, A_V, mass-weighted age, log Z, z) the network gives
the mean fluxes μ(θ) [µJy] of B bands and the model-scatter covariance Σ_net(θ); with the
object's measurement errors the likelihood of its observed fluxes f is

    f ~ N(μ(θ), Σ(θ)),   Σ = Σ_net(θ) + diag(σ_obs²)

and bands that are not observed are marginalised exactly (:mod:`galfast.posterior.likelihood`).

Architecture (the thesis' shared → mean / covariance subnetworks, with smooth activations):
θ is standardised with the training mean and scale, mapped to ``hidden`` units by a linear
layer and passed through ``n_blocks`` pre-activation residual blocks h ← h + W₂ SiLU(W₁ SiLU(h)
+ b₁) + b₂ (the shared trunk); each head is one more residual block and a linear output layer.
SiLU (x·sigmoid x) instead of ReLU and no batch normalisation: the log-likelihood is then a
smooth (C^∞) function of θ, which NUTS needs (its leapfrog integrator follows the gradient;
ReLU kinks make the energy error jump and cause divergences).

Flux scale — the design choice that makes fluxes tractable over their dynamic range.  Simulated
fluxes span ~12 decades (0.001–10⁹ µJy from z ≈ 0 to 7 and M* = 10⁸–10¹¹·⁵ M☉), which no
network output standardisation covers.  But two factors of it are known exactly:

* SPS fluxes scale exactly with stellar mass (the SED is a mass-normalised spectrum × M*);
* at fixed rest-frame SED, f_ν ∝ (1 + z) / d_L(z)² (flat ΛCDM, H₀ = 70, Ωm = 0.3, bagpipes'
  cosmology; d_L from Pen (1999)'s closed form, 0.3 % accurate, smooth and differentiable).

So the mean is predicted as

    μ_b(θ) = 10^(log M* − m_ref) · [(1 + z) / (1 + z_ref)] · [d_L(z_ref) / d_L(z)]² · exp(c_b + g_b(θ))

with g the mean head, c_b a per-band offset fixed at fit (the training median of the rest) and
m_ref, z_ref fixed references.  g then only learns the SED's shape (colours, K-correction, the
Lyman break, dust): a few units in ln f instead of ~28.  The distance factor need not be exact:
whatever it misses, g absorbs; it only has to carry the bulk, smoothly.  (This goes one step
beyond factoring out the mass alone: with z among the parameters, the distance is the larger of
the two ranges, 10 decades against 3.5.)  Without ``log_mstar`` or ``z`` among the parameters
the corresponding factor is left out.

Covariance: the covariance head gives a lower-triangular L(θ) (B(B+1)/2 outputs, diagonal through
softplus_β(x) = log(1 + e^{βx})/β) and the model scatter is *fractional*:

    Σ_net = D (L Lᵀ + σ²_min I) D,   D = diag(μ)

i.e. L Lᵀ + σ²_min I is the covariance of the relative deviations (f_true − μ)/μ of the noise-free
fluxes about the mean (σ²_min = 10⁻⁵: a 0.3 % floor); scaling by μ makes one L serve every mass
and distance.  ``diagonal=True`` predicts only the B diagonal entries (independent bands).  The
thesis' β = 0.1 and σ²_min = 10⁻⁵ are the defaults; the diagonal head's bias starts where
softplus_β gives a 10 % scatter.

The forward pass is written once (:func:`forward`) over a small table of array operations, so
the torch module (training) and the PyTensor graph (:mod:`galfast.posterior.pymc_export`,
sampling) compute the same function.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["LikelihoodNetwork", "forward", "log_distance_factor", "softplus_beta", "TORCH_OPS",
           "OMEGA_M", "Z_REF"]

#: matter density of the flat ΛCDM cosmology of the distance factor (bagpipes' default)
OMEGA_M = 0.3
#: reference redshift of the distance factor (the factor is 1 there)
Z_REF = 1.0
#: fractional scatter the diagonal of L starts at
INIT_SCATTER = 0.1

_S = ((1.0 - OMEGA_M) / OMEGA_M) ** (1.0 / 3.0)
_PEN = (1.0, -0.1540 * _S, 0.4304 * _S ** 2, 0.19097 * _S ** 3, 0.066941 * _S ** 4)
_PEN_NORM = 2.0 * math.sqrt(_S ** 3 + 1.0)


def _pen_eta(a, ops):
    """Pen (1999) η(a, Ωm): the comoving distance is (c/H₀)[η(1) − η(a)]."""
    inv = 1.0 / a
    poly = _PEN[0] * inv ** 4 + _PEN[1] * inv ** 3 + _PEN[2] * inv ** 2 + _PEN[3] * inv + _PEN[4]
    return _PEN_NORM * ops.exp(-0.125 * ops.log(poly))


_ETA1 = _PEN_NORM * (sum(_PEN)) ** -0.125


def log_distance_factor(z, ops=None):
    """ln{[(1 + z)/(1 + z_ref)] [d_L(z_ref)/d_L(z)]²}: the flux scaling with redshift at fixed
    rest-frame SED (flat ΛCDM, Ωm = 0.3; Pen 1999), 0 at z = z_ref; z > 0."""
    ops = TORCH_OPS if ops is None else ops
    a = 1.0 / (1.0 + z)
    dc = _ETA1 - _pen_eta(a, ops)                     # comoving distance / (c/H0)
    a_ref = 1.0 / (1.0 + Z_REF)
    dc_ref = _ETA1 - float(_PEN_NORM * (_PEN[0] / a_ref ** 4 + _PEN[1] / a_ref ** 3 + _PEN[2] / a_ref ** 2
                                        + _PEN[3] / a_ref + _PEN[4]) ** -0.125)
    # d_L = (1 + z) d_C: ln[(1+z)/(1+z_ref)] − 2 ln[(1+z) d_C / ((1+z_ref) d_C,ref)]
    return -ops.log1p(z) + math.log1p(Z_REF) - 2.0 * ops.log(dc / dc_ref)


def softplus_beta(x, beta: float, ops=None):
    """softplus_β(x) = log(1 + e^{βx})/β, computed stably as (max(βx, 0) + log1p(e^{−|βx|}))/β
    (the same expression in torch and PyTensor, no threshold switch)."""
    ops = TORCH_OPS if ops is None else ops
    y = beta * x
    return (ops.relu(y) + ops.log1p(ops.exp(-ops.abs(y)))) / beta


def inverse_softplus_beta(y: float, beta: float) -> float:
    """x with softplus_β(x) = y."""
    return math.log(math.expm1(beta * y)) / beta


class _TorchOps:
    """Array operations of :func:`forward` in torch."""

    exp = staticmethod(torch.exp)
    log = staticmethod(torch.log)
    log1p = staticmethod(torch.log1p)
    abs = staticmethod(torch.abs)
    relu = staticmethod(torch.relu)

    @staticmethod
    def linear(h, w, b):
        return torch.nn.functional.linear(h, w, b)

    @staticmethod
    def silu(x):
        return x * torch.sigmoid(x)

    @staticmethod
    def column(x, j):
        return x[..., j]

    @staticmethod
    def concat(a, b):
        return torch.cat([a, b], dim=-1)

    @staticmethod
    def lower_triangular(vals, rows, cols, n):
        out = vals.new_zeros(tuple(vals.shape[:-1]) + (n, n))
        out[..., rows, cols] = vals
        return out

    @staticmethod
    def gram(lower):
        return lower @ lower.transpose(-1, -2)

    diag_embed = staticmethod(torch.diag_embed)
    zeros_like = staticmethod(torch.zeros_like)


TORCH_OPS = _TorchOps()


def _tril_indices(n: int):
    """(rows, cols) of the lower triangle of an n×n matrix: the n diagonal entries first, then
    the strictly lower entries row by row."""
    r, c = np.tril_indices(n, -1)
    d = np.arange(n)
    return np.concatenate([d, r]), np.concatenate([d, c])


def forward(p: dict, theta, cfg: dict, ops=None):
    """(ln μ (…, B), C (…, B, B)) of θ (…, P) (one object (P,) or a batch (N, P)), C = L Lᵀ + σ²_min I the fractional model
    covariance (diag(d² + σ²_min) for the diagonal variant), for the weights ``p``
    (state-dict names → arrays of the backend) and the configuration ``cfg`` (see
    :meth:`LikelihoodNetwork.config`).  The one definition of the network's function."""
    ops = TORCH_OPS if ops is None else ops
    x = (theta - p["theta_mean"]) / p["theta_scale"]
    h = ops.linear(x, p["inp.weight"], p["inp.bias"])

    def block(h, name):
        u = ops.linear(ops.silu(h), p[f"{name}.fc1.weight"], p[f"{name}.fc1.bias"])
        return h + ops.linear(ops.silu(u), p[f"{name}.fc2.weight"], p[f"{name}.fc2.bias"])

    for k in range(cfg["n_blocks"]):
        h = block(h, f"trunk.{k}")
    hm = ops.silu(block(h, "mean_block"))
    hc = ops.silu(block(h, "cov_block"))
    g = ops.linear(hm, p["mean_out.weight"], p["mean_out.bias"])
    log_mu = g + p["band_offset"]
    if cfg["mass_index"] is not None:
        log_mu = log_mu + math.log(10.0) * (ops.column(theta, cfg["mass_index"]) - cfg["log_mstar_ref"])[..., None]
    if cfg["z_index"] is not None:
        log_mu = log_mu + log_distance_factor(ops.column(theta, cfg["z_index"]), ops)[..., None]
    raw = ops.linear(hc, p["cov_out.weight"], p["cov_out.bias"])
    nb = cfg["n_bands"]
    beta = cfg["beta"]
    if cfg["diagonal"]:
        d = softplus_beta(raw, beta, ops)
        frac = ops.diag_embed(d * d + cfg["sigma2_min"])
    else:
        rows, cols = _tril_indices(nb)
        vals = ops.concat(softplus_beta(raw[..., :nb], beta, ops), raw[..., nb:])
        lower = ops.lower_triangular(vals, rows, cols, nb)
        frac = ops.gram(lower) + ops.diag_embed(ops.zeros_like(log_mu) + cfg["sigma2_min"])
    return log_mu, frac


class _Block(nn.Module):
    """Pre-activation residual block h + fc2(SiLU(fc1(SiLU(h))))."""

    def __init__(self, width: int):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)


class LikelihoodNetwork(nn.Module):
    """Gaussian likelihood network p(flux | θ) in flux space (see the module docstring).

    n_params, n_bands : P parameters in, B bands out
    hidden, n_blocks : width of every layer; residual blocks in the shared trunk
    beta, sigma2_min : softplus_β of L's diagonal; σ²_min of Σ_net = D(LLᵀ + σ²_min I)D
    diagonal : predict a diagonal covariance only
    mass_index, z_index : positions of log M* and z in θ (None: that flux factor is left out)
    log_mstar_ref : m_ref of the mass factor

    ``theta_mean``, ``theta_scale`` (standardisation) and ``band_offset`` (c_b) are buffers, set
    by the estimator at fit and saved with the weights.  float64 throughout.
    """

    def __init__(self, n_params: int, n_bands: int, *, hidden: int = 64, n_blocks: int = 2,
                 beta: float = 0.1, sigma2_min: float = 1e-5, diagonal: bool = False,
                 mass_index: int | None = None, z_index: int | None = None, log_mstar_ref: float = 0.0):
        super().__init__()
        self.n_params, self.n_bands = int(n_params), int(n_bands)
        self.hidden, self.n_blocks = int(hidden), int(n_blocks)
        self.beta, self.sigma2_min, self.diagonal = float(beta), float(sigma2_min), bool(diagonal)
        self.mass_index = None if mass_index is None else int(mass_index)
        self.z_index = None if z_index is None else int(z_index)
        self.log_mstar_ref = float(log_mstar_ref)
        h, nb = self.hidden, self.n_bands
        self.inp = nn.Linear(self.n_params, h)
        self.trunk = nn.ModuleList([_Block(h) for _ in range(self.n_blocks)])
        self.mean_block = _Block(h)
        self.cov_block = _Block(h)
        self.mean_out = nn.Linear(h, nb)
        n_cov = nb if self.diagonal else nb * (nb + 1) // 2
        self.cov_out = nn.Linear(h, n_cov)
        self.register_buffer("theta_mean", torch.zeros(self.n_params))
        self.register_buffer("theta_scale", torch.ones(self.n_params))
        self.register_buffer("band_offset", torch.zeros(nb))
        with torch.no_grad():
            for blk in [*self.trunk, self.mean_block, self.cov_block]:
                blk.fc2.weight.mul_(0.1)        # blocks start near the identity
                blk.fc2.bias.zero_()
            self.mean_out.weight.mul_(0.1)
            self.mean_out.bias.zero_()
            self.cov_out.weight.mul_(0.01)
            self.cov_out.bias.zero_()
            self.cov_out.bias[:nb] = inverse_softplus_beta(INIT_SCATTER, self.beta)
        self.double()

    def config(self) -> dict:
        """What :func:`forward` needs besides the weights (JSON-able)."""
        return {"n_params": self.n_params, "n_bands": self.n_bands, "hidden": self.hidden,
                "n_blocks": self.n_blocks, "beta": self.beta, "sigma2_min": self.sigma2_min,
                "diagonal": self.diagonal, "mass_index": self.mass_index, "z_index": self.z_index,
                "log_mstar_ref": self.log_mstar_ref}

    @classmethod
    def from_config(cls, cfg: dict) -> "LikelihoodNetwork":
        cfg = dict(cfg)
        return cls(cfg.pop("n_params"), cfg.pop("n_bands"), **cfg)

    def weights(self) -> dict:
        """State-dict name → tensor (parameters and buffers), the ``p`` of :func:`forward`."""
        return dict(self.state_dict(keep_vars=True))

    def forward(self, theta: torch.Tensor):
        """(ln μ (N, B), C (N, B, B)) for θ (N, P), float64: see :func:`forward`."""
        return forward(self.weights(), theta, self.config(), TORCH_OPS)

    def mean_and_cov(self, theta: torch.Tensor):
        """μ (N, B) [µJy] and Σ_net (N, B, B) = D C D, D = diag(μ)."""
        log_mu, frac = self(theta)
        mu = torch.exp(log_mu)
        return mu, mu[:, :, None] * frac * mu[:, None, :]

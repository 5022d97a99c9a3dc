"""The default prior of the posteriors: the distribution the likelihood was trained on.

Posteriors are calibrated against a simulator only under the simulator's own prior.  The
training θ of a :class:`~galfast.posterior.NeuralLikelihood` are draws from it (the simulator's
priors on SFH, mass, dust, metallicity and redshift, pushed through to the derived quantities
log SFR and mass-weighted age, whose joint distribution is not a box), so the default prior is a
density estimate of them:

* each parameter is mapped from its support box (the training minimum and maximum, widened by
  1 % of the range on both sides) to the real line, u = logit((θ − lo)/(hi − lo));
* a Gaussian mixture (``n_components`` full-covariance components, scikit-learn's EM) is fitted
  to the training u; p(u) is the prior density *in u*, where the sampler works, so no Jacobian
  enters and the posterior is p(u | f) ∝ GMM(u) L(f | θ(u)).

With z fixed (a spec-z) the prior of the rest is the conditional p(θ_rest | z) ∝ p(θ_rest, z):
the same joint density evaluated at the given z.

The log-density is written once over an array module (:func:`log_density`: NumPy, PyTensor and
JAX take the same code).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["TrainingPrior", "log_density"]

#: widening of the training support on each side, as a fraction of its range
MARGIN = 0.01


def log_density(u, weights, means, prec_chol, xp):
    """ln GMM(u) for u (…, P) with mixture ``weights`` (K,), ``means`` (K, P) and the Cholesky
    factors of the precisions (K, P, P) (scikit-learn's ``precisions_cholesky_``: Λ = L Lᵀ), on
    the array module ``xp`` (needs ``sum``, ``log``, ``exp``, ``max``)."""
    diff = u[..., None, :] - means                                  # (…, K, P)
    y = xp.sum(diff[..., :, :, None] * prec_chol, axis=-2)          # (…, K, P): (u − μ)ᵀ L
    p = _static_dim(means)
    logdet = xp.sum(xp.log(_diagonals(prec_chol, xp)), axis=-1)     # (K,)
    comp = xp.log(weights) + logdet - 0.5 * xp.sum(y * y, axis=-1) - 0.5 * p * math.log(2.0 * math.pi)
    top = xp.max(comp, axis=-1)
    return top + xp.log(xp.sum(xp.exp(comp - top[..., None]), axis=-1))


def _static_dim(x) -> int:
    """The last dimension as a Python int (PyTensor constants carry it in their type)."""
    shape = getattr(getattr(x, "type", None), "shape", None)
    return int(shape[-1]) if shape is not None and shape[-1] is not None else int(x.shape[-1])


def _diagonals(mats, xp):
    p = _static_dim(mats)
    return xp.stack([mats[..., i, i] for i in range(p)], axis=-1)


class TrainingPrior:
    """A Gaussian mixture in the logit coordinates of the training support (see the module
    docstring).  ``lo``, ``hi`` (P,): the box; ``weights``, ``means``, ``prec_chol``: the mixture."""

    def __init__(self, lo, hi, weights, means, prec_chol):
        self.lo = np.asarray(lo, dtype=np.float64)
        self.hi = np.asarray(hi, dtype=np.float64)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.means = np.asarray(means, dtype=np.float64)
        self.prec_chol = np.asarray(prec_chol, dtype=np.float64)

    @classmethod
    def fit(cls, theta, *, n_components: int = 8, random_state=0) -> "TrainingPrior":
        """Fit to training θ (N, P) (finite rows)."""
        from sklearn.mixture import GaussianMixture

        theta = np.asarray(theta, dtype=np.float64)
        lo, hi = theta.min(0), theta.max(0)
        span = np.where(hi > lo, hi - lo, 1.0)
        lo, hi = lo - MARGIN * span, hi + MARGIN * span
        u = _logit((theta - lo) / (hi - lo))
        k = int(min(n_components, max(1, theta.shape[0] // 50)))
        gmm = GaussianMixture(k, covariance_type="full", reg_covar=1e-4, random_state=int(random_state),
                              max_iter=500).fit(u)
        return cls(lo, hi, gmm.weights_, gmm.means_, gmm.precisions_cholesky_)

    def to_u(self, theta):
        """u = logit((θ − lo)/(hi − lo)) (θ clipped just inside the box)."""
        x = (np.asarray(theta, dtype=np.float64) - self.lo) / (self.hi - self.lo)
        return _logit(np.clip(x, 1e-9, 1 - 1e-9))

    def to_theta(self, u):
        return self.lo + (self.hi - self.lo) / (1.0 + np.exp(-np.asarray(u, dtype=np.float64)))

    def logpdf_u(self, u) -> np.ndarray:
        """ln p(u) (NumPy)."""
        return log_density(np.asarray(u, dtype=np.float64), self.weights, self.means, self.prec_chol, np)

    def sample(self, n: int, random_state=None) -> np.ndarray:
        """n draws of θ (n, P) from the prior."""
        from ..validation import check_random_state

        rng = check_random_state(random_state)
        comp = rng.choice(len(self.weights), size=int(n), p=self.weights / self.weights.sum())
        z = rng.standard_normal((int(n), self.means.shape[1]))
        u = np.empty_like(z)
        for k in range(len(self.weights)):
            sel = comp == k
            # Λ = L Lᵀ  ⇒  u = μ + L⁻ᵀ z has covariance Λ⁻¹
            u[sel] = self.means[k] + np.linalg.solve(self.prec_chol[k].T, z[sel].T).T
        return self.to_theta(u)

    def arrays(self) -> dict:
        return {"prior.lo": self.lo, "prior.hi": self.hi, "prior.weights": self.weights,
                "prior.means": self.means, "prior.prec_chol": self.prec_chol}

    @classmethod
    def from_arrays(cls, arrays: dict) -> "TrainingPrior":
        return cls(*(arrays[f"prior.{k}"] for k in ("lo", "hi", "weights", "means", "prec_chol")))


def _logit(x):
    return np.log(x) - np.log1p(-x)

"""Many objects at once: blackjax's NUTS with window adaptation, vectorised over objects × chains.

    res = sample_batch(likelihood, flux, flux_err, mask, chains=4, tune=1000, draws=1000,
                       random_state=0)            # flux etc. (N, B)
    res.idata(i), res.diagnostics[i]              # object i: ArviZ InferenceData, diagnostics

The path for catalogues and GPUs.  The log-density — the same network
(:func:`galfast.posterior.network.forward` over ``jax.numpy``), the same masked Gaussian, the same
training prior (:func:`galfast.posterior.prior.log_density`) in the same logit coordinates as the
PyMC model — is one JAX function; every chain of every object is one lane of ``jax.vmap`` over
blackjax's ``window_adaptation`` (Stan's: step size by dual averaging, a diagonal mass matrix
from the warm-up windows) followed by a ``lax.scan`` of NUTS steps.  Each lane adapts on its
own, as four independent nutpie chains would; XLA compiles the whole run once per
(batch size, tune, draws) and the lanes share every matrix product.  Under ``vmap`` a NUTS step
lasts as long as its longest lane's trajectory, so a batch costs more gradient evaluations
than its lanes need alone; the bench (``bench/posterior_ratios.py``) measures what that
leaves against nutpie one object at a time.

Random keys: object i's chains use ``jax.random.split(PRNGKey(seed_i), chains)``, with seed_i
given per object (:class:`~galfast.posterior.catalog.PosteriorFitter` derives it from the id),
so an object's draws do not depend on which batch it is in (up to the floating-point order of
batched products).  float64 throughout (``jax.enable_x64`` around the run only).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..validation import ParameterError
from .likelihood import LOG_2PI
from .network import forward

__all__ = ["sample_batch", "BatchPosterior", "jax_log_density", "JAX_OPS"]


class _JaxOps:
    """Array operations of :func:`galfast.posterior.network.forward` in ``jax.numpy`` (one θ)."""

    def __getattr__(self, name):        # exp, log, log1p, abs, zeros_like
        import jax.numpy as jnp

        return getattr(jnp, name)

    @staticmethod
    def linear(h, w, b):
        return h @ w.T + b

    @staticmethod
    def silu(x):
        import jax

        return x * jax.nn.sigmoid(x)

    @staticmethod
    def relu(x):
        import jax.numpy as jnp

        return jnp.maximum(x, 0.0)

    @staticmethod
    def column(x, j):
        return x[..., j]

    @staticmethod
    def concat(a, b):
        import jax.numpy as jnp

        return jnp.concatenate([a, b], axis=-1)

    @staticmethod
    def lower_triangular(vals, rows, cols, n):
        import jax.numpy as jnp

        return jnp.zeros((n, n), dtype=vals.dtype).at[rows, cols].set(vals)

    @staticmethod
    def gram(lower):
        return lower @ lower.T

    @staticmethod
    def diag_embed(v):
        import jax.numpy as jnp

        return jnp.diag(v)


JAX_OPS = _JaxOps()


def _masked_gaussian(mu, frac, flux, err, mask):
    """ln L of one object (as :func:`galfast.posterior.likelihood.masked_loglike_torch`): the
    bands with mask 0 get residual 0 and the identity's row and column."""
    import jax.numpy as jnp
    from jax.scipy.linalg import solve_triangular

    m = mask > 0.5
    cov = mu[:, None] * frac * mu[None, :] + jnp.diag(jnp.where(m, err * err, 0.0))
    pair = m[:, None] & m[None, :]
    cov = jnp.where(pair, cov, 0.0) + jnp.diag(jnp.where(m, 0.0, 1.0))
    s = jnp.sqrt(jnp.diagonal(cov))
    cov = cov / (s[:, None] * s[None, :])
    chol = jnp.linalg.cholesky(cov)
    r = jnp.where(m, flux - mu, 0.0)
    y = solve_triangular(chol, r / s, lower=True)
    logdet = 2.0 * (jnp.sum(jnp.log(jnp.diagonal(chol))) + jnp.sum(jnp.log(s)))
    return -0.5 * (jnp.sum(y * y) + logdet + jnp.sum(m) * LOG_2PI)


def jax_log_density(likelihood, *, fixed_z: bool = False):
    """``logdensity(u, data) -> scalar``: ln p(u | f) up to a constant in the training prior's
    logit coordinates u (the free parameters; z excluded when ``fixed_z``), for
    ``data = (flux, err, mask, z)`` of one object; and the map u → θ of the free parameters."""
    import jax
    import jax.numpy as jnp

    from .prior import log_density

    pr = likelihood.prior_
    params = list(likelihood.parameters_)
    zi = params.index("z") if "z" in params else None
    if fixed_z and zi is None:
        raise ParameterError("fixed_z=True but z is not a parameter of this likelihood")
    free = np.array([j for j in range(len(params)) if not (fixed_z and j == zi)])
    w = {k: jnp.asarray(v.detach().cpu().numpy(), dtype=jnp.float64)
         for k, v in likelihood.network_.state_dict().items()}
    cfg = likelihood.network_.config()
    lo, hi = jnp.asarray(pr.lo), jnp.asarray(pr.hi)
    weights, means, prec = jnp.asarray(pr.weights), jnp.asarray(pr.means), jnp.asarray(pr.prec_chol)

    def theta_of(u, z):
        th_free = lo[free] + (hi[free] - lo[free]) * jax.nn.sigmoid(u)
        if not fixed_z:
            return th_free, u
        theta = jnp.zeros(len(params)).at[free].set(th_free).at[zi].set(z)
        x = jnp.clip((z - lo[zi]) / (hi[zi] - lo[zi]), 1e-9, 1 - 1e-9)
        u_all = jnp.zeros(len(params)).at[free].set(u).at[zi].set(jnp.log(x) - jnp.log1p(-x))
        return theta, u_all

    def logdensity(u, data):
        flux, err, mask, z = data
        theta, u_all = theta_of(u, z)
        log_mu, frac = forward(w, theta, cfg, JAX_OPS)
        ll = _masked_gaussian(jnp.exp(log_mu), frac, flux, err, mask)
        return ll + log_density(u_all, weights, means, prec, jnp)

    def to_theta(u):
        return lo[free] + (hi[free] - lo[free]) * jax.nn.sigmoid(u)

    return logdensity, to_theta, [params[j] for j in free]


@dataclass
class BatchPosterior:
    """Draws of N objects: ``theta`` (N, chains, draws, P) in ``names`` order, ``logp``,
    ``diverging``, ``n_steps`` (N, chains, draws); ``diagnostics`` per object; wall ``seconds``
    (the first call includes XLA's compile)."""

    names: list
    theta: np.ndarray
    logp: np.ndarray
    diverging: np.ndarray
    n_steps: np.ndarray
    diagnostics: list
    seconds: float

    def idata(self, i: int):
        """Object i as ArviZ InferenceData (posterior + sample_stats)."""
        import arviz as az

        post = {n: self.theta[i, :, :, j] for j, n in enumerate(self.names)}
        stats = {"logp": self.logp[i], "diverging": self.diverging[i], "n_steps": self.n_steps[i]}
        return az.from_dict(posterior=post, sample_stats=stats)


_RUNNERS = {}


def _runner(likelihood, fixed_z, chains, tune, draws, target_accept):
    """The jitted vmapped (objects × chains) adaptation + sampling function, cached."""
    key = (id(likelihood), fixed_z, chains, tune, draws, target_accept)
    if key in _RUNNERS:
        return _RUNNERS[key]
    import blackjax
    import jax
    import jax.numpy as jnp
    from blackjax.adaptation.base import get_filter_adapt_info_fn

    logdensity, to_theta, names = jax_log_density(likelihood, fixed_z=fixed_z)

    def lane(key, u0, data):
        def ld(u):
            return logdensity(u, data)

        warm = blackjax.window_adaptation(blackjax.nuts, ld, target_acceptance_rate=target_accept,
                                          adaptation_info_fn=get_filter_adapt_info_fn())
        k_warm, k_draw = jax.random.split(key)
        (state, params), _ = warm.run(k_warm, u0, num_steps=tune)
        step = blackjax.nuts(ld, **params).step

        def one(state, k):
            state, info = step(k, state)
            return state, (to_theta(state.position), state.logdensity, info.is_divergent,
                           info.num_integration_steps)

        _, out = jax.lax.scan(one, state, jax.random.split(k_draw, draws))
        return out

    run = jax.jit(jax.vmap(lane))
    _RUNNERS[key] = (run, names)
    if len(_RUNNERS) > 8:
        _RUNNERS.pop(next(iter(_RUNNERS)))
    return run, names


def sample_batch(likelihood, flux, flux_err, mask, z=None, *, seeds=None, chains: int = 4, tune: int = 1000,
                 draws: int = 1000, target_accept: float = 0.8, random_state=0) -> BatchPosterior:
    """Posteriors of N objects at once (see the module docstring).

    flux, flux_err, mask : (N, B) in ``likelihood.bands_`` order [µJy]; mask True = observed
        (non-finite values or errors ≤ 0 count as not observed); every row needs ≥ 1 observed band
    z : None (z free) or (N,) fixed redshifts
    seeds : (N,) per-object seeds (default ``random_state`` + row)
    """
    import jax
    import jax.numpy as jnp
    from jax import enable_x64

    from .pymc_export import diagnostics

    likelihood._check_fitted()
    f = np.atleast_2d(np.asarray(flux, dtype=np.float64))
    e = np.atleast_2d(np.asarray(flux_err, dtype=np.float64))
    m = np.atleast_2d(np.asarray(mask)).astype(bool) & np.isfinite(f) & np.isfinite(e) & (e > 0)
    n, nb = f.shape
    if e.shape != (n, nb) or m.shape != (n, nb) or nb != len(likelihood.bands_):
        raise ParameterError(f"flux, flux_err and mask must be (N, {len(likelihood.bands_)}), got "
                             f"{f.shape}, {e.shape}, {m.shape}")
    if not m.any(1).all():
        raise ParameterError(f"rows {np.flatnonzero(~m.any(1))[:10].tolist()} have no observed band")
    fixed_z = z is not None
    zz = np.zeros(n) if z is None else np.asarray(z, dtype=np.float64).reshape(n)
    if fixed_z and not np.all(np.isfinite(zz) & (zz > 0)):
        raise ParameterError("fixed z must be finite and > 0 in every row")
    seeds = (np.arange(n) + int(random_state)) if seeds is None else np.asarray(seeds, dtype=np.int64)
    t0 = time.perf_counter()
    with enable_x64(True):
        run, names = _runner(likelihood, fixed_z, int(chains), int(tune), int(draws), float(target_accept))
        pr = likelihood.prior_
        free = [j for j, p in enumerate(likelihood.parameters_) if not (fixed_z and p == "z")]
        u0_centre = pr.means[int(np.argmax(pr.weights))][free]
        keys, u0 = [], []
        for i in range(n):
            k_obj = jax.random.split(jax.random.PRNGKey(int(seeds[i]) % (2**32)), chains + 1)
            init = jax.random.uniform(k_obj[0], (chains, len(free)), minval=-0.5, maxval=0.5)
            keys.append(k_obj[1:])
            u0.append(np.asarray(init) + u0_centre)
        rep = (lambda a: jnp.asarray(np.repeat(a, chains, axis=0)))
        data = (rep(np.where(m, f, 0.0)), rep(np.where(m, e, 1.0)), rep(m.astype(np.float64)), rep(zz))
        out = run(jnp.concatenate(keys), jnp.asarray(np.concatenate(u0)), data)
        theta, logp, div, steps = (np.asarray(v) for v in out)
    seconds = time.perf_counter() - t0
    shape = (n, chains, draws)
    theta = theta.reshape(shape + (len(names),))
    res = BatchPosterior(names, theta, logp.reshape(shape), div.reshape(shape), steps.reshape(shape), [], seconds)
    res.diagnostics = [diagnostics(res.idata(i), names) for i in range(n)]
    return res

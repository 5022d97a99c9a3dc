"""The trained likelihood as a PyMC model, sampled with nutpie's compiled NUTS.

    model = to_pymc(nl, flux, flux_err, mask)              # θ free (z too, if it is a parameter)
    sampler = PosteriorSampler(nl)                          # compile once …
    res = sampler.sample(flux, flux_err, mask)              # … sample every object with it
    res = sample_object(nl, flux, flux_err, mask, z=1.3)    # one object, z fixed (spec-z)
    res.idata, res.diagnostics                              # ArviZ InferenceData, R-hat/ESS/divergences

The network is written as a native PyTensor graph — the same :func:`galfast.posterior.network.forward`
that trains it, run over PyTensor operations — and the masked Gaussian log-likelihood of
:mod:`galfast.posterior.likelihood` follows it as one PyTensor Op with a Numba implementation
that returns ln L and its analytic gradient with respect to μ and the fractional covariance C from
a single Cholesky factorisation (PyTensor's own Cholesky with its symbolic gradient gave a graph
~2× larger that repeated the factorisation, and ~1.5× the time per gradient).  nutpie's Numba
backend compiles log-density and gradient into one machine-code function: no Python at the
leapfrog steps (an ``as_op`` wrapper of torch would have no gradient and run through Python at
every step).

Measured on 2 shared AMD EPYC cores (nutpie 0.16.8, PyMC 5.28.5, PyTensor 2.38.3, Numba 0.65.1):
compiling takes 60–100 s (one-off per process and per z mode; numba's on-disk cache of the
individual ops shortens a second process's compile by ~30 %, the final compiled function is not
cached); one gradient costs ~50–80 µs for a 16–32-wide one-block network on 4 bands and ~115 µs for the
default 64-wide two-block network on 11 bands, so one object at 4 × (1000 + 1000) takes ~3 s and
15–25 s respectively (35–55 leapfrog steps per draw).

What is data and what is structure.  The weights are PyTensor *shared variables* (named
``nl_<state-dict name>``), not constants: Numba cannot cache a function whose constants are
large arrays, and shared variables are passed to the compiled function as data.  The object's
fluxes, errors and mask (and z when it is fixed) are ``pm.Data`` (``flux``, ``flux_err``,
``mask``, ``z``), so one compiled model serves every object and every missing-band pattern:
:class:`PosteriorSampler` swaps them with nutpie's ``with_data`` without compiling again.  (Two
compiled models exist per network at most: z free, and z fixed.)

Priors: by default uniform on every parameter between the training truths' minimum and maximum
(``likelihood.theta_min_``/``theta_max_``, the training distribution's support; outside it the
network extrapolates).  ``priors={"av": (0, 1)}`` narrows a uniform range;
``priors={"log_zmet": lambda name: pm.Normal(name, -0.5, 0.3)}`` gives any PyMC prior (called
inside the model).  The uniform box is the *support* of the training set, not the simulator's
joint prior of these derived quantities (log SFR, mass-weighted age); posteriors are calibrated
against a simulator to the extent the two agree.

Diagnostics (:func:`diagnostics`, ArviZ; Vehtari et al. 2021): rank-normalised split R-hat,
bulk and tail ESS per parameter, and the number of divergent transitions; ``passed`` when
R-hat ≤ 1.01, both ESS ≥ 400 and there are no divergences.

Threads: nutpie runs the chains on ``n_jobs`` threads (default one per chain, at most the
cores); BLAS is held to one thread per chain while it samples (threadpoolctl), since
oversubscribed OpenBLAS made nutpie 3–4× slower on 2 cores.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..validation import ParameterError, effective_n_jobs, seed_from
from .network import forward

__all__ = ["to_pymc", "loglike_graph", "shared_weights", "PosteriorSampler", "sample_object",
           "diagnostics", "object_data", "ObjectPosterior", "PYTENSOR_OPS"]

#: diagnostic thresholds of :func:`diagnostics` (Vehtari et al. 2021)
RHAT_MAX = 1.01
ESS_MIN = 400.0


class _PytensorOps:
    """Array operations of :func:`galfast.posterior.network.forward` in PyTensor."""

    def __getattr__(self, name):          # exp, log, log1p, abs, zeros_like
        import pytensor.tensor as pt

        return getattr(pt, name)

    @staticmethod
    def linear(h, w, b):
        import pytensor.tensor as pt

        return pt.dot(h, w.T) + b

    @staticmethod
    def silu(x):
        import pytensor.tensor as pt

        return x * pt.sigmoid(x)

    @staticmethod
    def relu(x):
        import pytensor.tensor as pt

        return pt.maximum(x, 0.0)

    @staticmethod
    def column(x, j):
        return x[..., j]

    @staticmethod
    def concat(a, b):
        import pytensor.tensor as pt

        return pt.concatenate([a, b], axis=-1)

    @staticmethod
    def lower_triangular(vals, rows, cols, n):
        import pytensor.tensor as pt

        if vals.ndim == 1:
            return pt.set_subtensor(pt.zeros((n, n), dtype=vals.dtype)[rows, cols], vals)
        out = pt.zeros((vals.shape[0], n, n), dtype=vals.dtype)
        return pt.set_subtensor(out[:, rows, cols], vals)

    @staticmethod
    def gram(lower):
        if lower.ndim == 2:
            return lower.dot(lower.T)
        return (lower[:, :, None, :] * lower[:, None, :, :]).sum(axis=-1)

    @staticmethod
    def diag_embed(v):
        import pytensor.tensor as pt

        n = v.shape[-1]
        eye = pt.eye(n, dtype=v.dtype)
        return v[:, None] * eye if v.ndim == 1 else v[:, :, None] * eye[None, :, :]


PYTENSOR_OPS = _PytensorOps()


def _check_fitted(likelihood):
    if not hasattr(likelihood, "network_"):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError("the NeuralLikelihood is not fitted yet; call fit() or load()")


def shared_weights(likelihood, prefix: str = "nl_") -> dict:
    """The network's weights and buffers as PyTensor shared variables (float64), by state-dict
    name; each is named ``prefix`` + the name with dots as underscores."""
    import pytensor

    _check_fitted(likelihood)
    return {k: pytensor.shared(np.array(v.detach().cpu().numpy(), dtype=np.float64),
                               name=prefix + k.replace(".", "_"))
            for k, v in likelihood.network_.state_dict().items()}


def _gaussian_op():
    """The PyTensor Op (ln L, ∂ln L/∂μ, ∂ln L/∂C)(μ, C, f, σ_obs, mask) of one object, built on
    first use (with its Numba implementation registered)."""
    global _GAUSSIAN_OP
    if _GAUSSIAN_OP is None:
        _GAUSSIAN_OP = _make_gaussian_op()
    return _GAUSSIAN_OP


_GAUSSIAN_OP = None


def _make_gaussian_op():
    import pytensor.tensor as pt
    from pytensor.gradient import DisconnectedType, grad_not_implemented
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op

    _register = _funcify_register()

    from .likelihood import loglike_and_grad_one

    class MaskedGaussianLogp(Op):
        """One object's masked Gaussian ln L with Σ = D C D + diag(σ_obs²), D = diag(μ); outputs
        (ln L, ∂ln L/∂μ, ∂ln L/∂C) from one Cholesky factorisation
        (:func:`galfast.posterior.likelihood.loglike_and_grad_one`)."""

        __props__ = ()

        def make_node(self, mu, frac, flux, err, mask):
            ins = [pt.as_tensor_variable(v).astype("float64") for v in (mu, frac, flux, err, mask)]
            outs = [pt.dscalar(), pt.dvector(), pt.dmatrix()]
            return Apply(self, ins, outs)

        def perform(self, node, inputs, outputs):
            ll, dmu, dfrac = loglike_and_grad_one(*(np.ascontiguousarray(v) for v in inputs))
            outputs[0][0] = np.asarray(ll, dtype=np.float64)
            outputs[1][0] = dmu
            outputs[2][0] = dfrac

        def infer_shape(self, fgraph, node, shapes):
            return [(), shapes[0], shapes[1]]

        def L_op(self, inputs, outputs, output_grads):
            for g in output_grads[1:]:
                if not isinstance(g.type, DisconnectedType):
                    raise NotImplementedError("second derivatives of the masked Gaussian ln L are not implemented")
            g = output_grads[0]
            return [g * outputs[1], g * outputs[2],
                    grad_not_implemented(self, 2, inputs[2]), grad_not_implemented(self, 3, inputs[3]),
                    DisconnectedType()()]

        def connection_pattern(self, node):
            return [[True, True, True]] * 4 + [[False, False, False]]

    @_register(MaskedGaussianLogp)
    def _numba_masked_gaussian(op, node, **kwargs):
        import numba

        @numba.njit
        def masked_gaussian_impl(mu, frac, flux, err, mask):
            ll, dmu, dfrac = loglike_and_grad_one(mu, frac, flux, err, mask)
            return np.array(ll, dtype=np.float64), dmu, dfrac

        return masked_gaussian_impl, 1

    return MaskedGaussianLogp()


def _fused_op():
    """The PyTensor Op (ln L, ∂ln L/∂θ)(θ, f, σ_obs, mask, *network constants) of one object: the
    network and the masked Gaussian in one Numba function (:mod:`galfast.posterior.fused`)."""
    global _FUSED_OP
    if _FUSED_OP is None:
        _FUSED_OP = _make_fused_op()
    return _FUSED_OP


_FUSED_OP = None


def _make_fused_op():
    import pytensor.tensor as pt
    from pytensor.gradient import DisconnectedType, grad_not_implemented
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op

    from .fused import loglike_grad

    _register = _funcify_register()

    class FusedNeuralLoglike(Op):
        """ln p(f | θ) of one object and its gradient in θ, the network included
        (:func:`galfast.posterior.fused.loglike_grad`)."""

        __props__ = ()

        def make_node(self, theta, flux, err, mask, *constants):
            ins = [pt.as_tensor_variable(v).astype("float64") for v in (theta, flux, err, mask)]
            ins += [pt.as_tensor_variable(c) for c in constants]
            return Apply(self, ins, [pt.dscalar(), pt.dvector()])

        def perform(self, node, inputs, outputs):
            ll, g = loglike_grad(*(np.ascontiguousarray(v) for v in inputs))
            outputs[0][0] = np.asarray(ll, dtype=np.float64)
            outputs[1][0] = g

        def infer_shape(self, fgraph, node, shapes):
            return [(), shapes[0]]

        def L_op(self, inputs, outputs, output_grads):
            if not isinstance(output_grads[1].type, DisconnectedType):
                raise NotImplementedError("second derivatives of the fused likelihood are not implemented")
            out = [output_grads[0] * outputs[1]]
            out += [grad_not_implemented(self, i, inputs[i]) for i in (1, 2)]
            out += [DisconnectedType()() for _ in inputs[3:]]
            return out

        def connection_pattern(self, node):
            n = len(node.inputs)
            return [[True, True]] * 3 + [[False, False]] * (n - 3)

    @_register(FusedNeuralLoglike)
    def _numba_fused(op, node, **kwargs):
        import numba

        @numba.njit
        def fused_impl(theta, flux, err, mask, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12,
                       c13, c14, c15):
            ll, g = loglike_grad(theta, flux, err, mask, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11,
                                 c12, c13, c14, c15)
            return np.array(ll, dtype=np.float64), g

        return fused_impl, 1

    return FusedNeuralLoglike()


def _funcify_register():
    """PyTensor's decorator registering a Numba implementation of an Op type."""
    try:        # PyTensor ≥ 2.3x: implementations with a cache key
        from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key as register
    except ImportError:  # pragma: no cover - older PyTensor
        from pytensor.link.numba.dispatch.basic import numba_funcify

        def register(op_type):
            def deco(fn):
                numba_funcify.register(op_type)(lambda op, node=None, **kw: fn(op, node, **kw)[0])
                return fn
            return deco
    return register


def fused_constants(likelihood, prefix: str = "nl_fused_") -> list:
    """The arrays the fused Op needs after the data (weights, then the network's small integer
    and float constants) as PyTensor shared variables, in the kernel's order."""
    import pytensor

    from .fused import FusedLoglike, WEIGHT_NAMES

    _check_fitted(likelihood)
    names = [*WEIGHT_NAMES, "flags", "scalars", "tril_rows", "tril_cols", "distance"]
    return [pytensor.shared(np.asarray(c), name=prefix + n)
            for n, c in zip(names, FusedLoglike(likelihood).constants)]


def loglike_graph(likelihood, theta, flux, flux_err, mask, weights=None, *, fused: bool = True):
    """PyTensor scalar ln p(f | θ) of one object: θ (P,) in ``likelihood.parameters_`` order,
    ``flux``, ``flux_err`` (B,) [µJy] and ``mask`` (B,) 1 = observed, 0 = not (any PyTensor
    variables or arrays); the bands that are not observed are marginalised as in
    :func:`galfast.posterior.likelihood.masked_loglike_torch`.

    fused : True (default) — network and Gaussian as one Op whose Numba kernel
        (:mod:`galfast.posterior.fused`) returns ln L and ∂ln L/∂θ; ``weights`` from
        :func:`fused_constants`.  False — the network as native PyTensor operations (the one
        :func:`~galfast.posterior.network.forward` that trains it) followed by the Gaussian Op;
        ``weights`` from :func:`shared_weights`.  Both compute the same function (tests hold
        them to torch to 1e-8); the fused graph's gradient is ~3× cheaper
        (``bench/posterior_ratios.py``).

    The network is PyTensor operations (:func:`~galfast.posterior.network.forward`); the Gaussian
    is one Op whose Numba kernel returns ln L and its analytic gradient with respect to μ and C
    from a single Cholesky factorisation (PyTensor's own Cholesky and its symbolic gradient
    compiled to a graph ~3× larger, with the factorisation repeated, and ~100 µs per gradient).
    """
    import pytensor.tensor as pt

    _check_fitted(likelihood)
    theta = pt.as_tensor_variable(theta)
    if fused:
        consts = fused_constants(likelihood) if weights is None else weights
        return _fused_op()(theta, flux, flux_err, mask, *consts)[0]
    p = shared_weights(likelihood) if weights is None else weights
    cfg = likelihood.network_.config()
    log_mu, frac = forward(p, theta, cfg, PYTENSOR_OPS)
    return _gaussian_op()(pt.exp(log_mu), frac, flux, flux_err, mask)[0]


def _clean(likelihood, flux, flux_err, mask):
    """float64 (flux, flux_err, mask) of one object, finite (not-observed entries → 0, 1)."""
    nb = len(likelihood.bands_)
    f = np.asarray(flux, dtype=np.float64).reshape(-1)
    e = np.asarray(flux_err, dtype=np.float64).reshape(-1)
    m = np.asarray(mask).reshape(-1).astype(bool)
    for name, a in (("flux", f), ("flux_err", e), ("mask", m)):
        if a.shape != (nb,):
            raise ParameterError(f"{name} must have one entry per band of the model ({nb}: "
                                 f"{list(likelihood.bands_)}), got shape {a.shape}")
    m = m & np.isfinite(f) & np.isfinite(e) & (e > 0)
    return np.where(m, f, 0.0), np.where(m, e, 1.0), m.astype(np.float64)


def object_data(likelihood, phot, row: int):
    """(flux, flux_err, mask) of row ``row`` of ``phot`` (Photometry or table) in the model's
    band order; bands the photometry lacks are not observed."""
    phot = likelihood.to_photometry(phot)
    flux, err, obs = likelihood._arrays(phot.select([int(row)]))
    return flux[0], err[0], obs[0]


def _prior(name, lo, hi, spec):
    import pymc as pm

    if spec is None:
        return pm.Uniform(name, lower=float(lo), upper=float(hi))
    if callable(spec):
        return spec(name)
    try:
        a, b = (float(v) for v in spec)
    except (TypeError, ValueError):
        raise ParameterError(f"prior for {name!r} must be a (low, high) pair or a callable "
                             f"name -> PyMC variable, not {spec!r}") from None
    if not (np.isfinite(a) and np.isfinite(b) and a < b):
        raise ParameterError(f"prior for {name!r}: need finite low < high, got {spec!r}")
    return pm.Uniform(name, lower=a, upper=b)


def to_pymc(likelihood, flux, flux_err, mask, z=None, priors=None, *, prior: str = "training",
            fused: bool = True):
    """A ``pymc.Model`` of one object's posterior p(θ | f) ∝ p(f | θ) p(θ).

    likelihood : a fitted :class:`~galfast.posterior.NeuralLikelihood`
    flux, flux_err, mask : (B,) in ``likelihood.bands_`` order [µJy]; mask True = observed
        (entries with a non-finite flux or error, or error ≤ 0, count as not observed)
    z : None — z is a free parameter (when it is one of the likelihood's parameters); a number —
        z fixed (e.g. a spec-z), held as ``pm.Data("z")`` so it can be swapped too
    prior : "training" (default) — the distribution the network was trained on, i.e. the
        simulator's prior (:class:`~galfast.posterior.prior.TrainingPrior`: a Gaussian mixture in
        the logit coordinates of the training support; the sampler works in those coordinates,
        free variable ``theta_u``, and each parameter is a Deterministic); "uniform" — independent
        uniform priors on the training support [theta_min_, theta_max_], changed per parameter
        by ``priors``
    priors : with prior="uniform": {parameter: (low, high) | callable(name) -> PyMC variable}

    fused : the likelihood as one fused Numba Op (default) or as the network's native PyTensor
        graph (see :func:`loglike_graph`)

    Free variables are named after the parameters; the likelihood is the ``pm.Potential``
    ``"loglike"``; the data are ``pm.Data`` ``flux``, ``flux_err``, ``mask`` (and ``z``).
    """
    import pymc as pm
    import pytensor.tensor as pt

    _check_fitted(likelihood)
    params = list(likelihood.parameters_)
    priors = dict(priors or {})
    unknown = [k for k in priors if k not in params]
    if unknown:
        raise ParameterError(f"priors given for {unknown}, which are not parameters of the likelihood {params}")
    if z is not None:
        if "z" not in params:
            raise ParameterError("z given but z is not a parameter of this likelihood "
                                 f"(parameters: {params})")
        z = float(z)
        if not (np.isfinite(z) and z > 0):
            raise ParameterError(f"z must be a finite redshift > 0, not {z!r}")
        if "z" in priors:
            raise ParameterError("z is fixed; give no prior for it")
    if prior not in ("training", "uniform"):
        raise ParameterError(f"prior must be 'training' or 'uniform', not {prior!r}")
    if priors and prior != "uniform":
        raise ParameterError("priors= changes the uniform priors: pass prior='uniform' with it")
    f, e, m = _clean(likelihood, flux, flux_err, mask)
    if prior == "training":
        return _training_prior_model(likelihood, f, e, m, z, fused)
    with pm.Model() as model:
        fd = pm.Data("flux", f)
        ed = pm.Data("flux_err", e)
        md = pm.Data("mask", m)
        parts = []
        for j, name in enumerate(params):
            if name == "z" and z is not None:
                parts.append(pm.Data("z", np.float64(z)))
            else:
                parts.append(_prior(name, likelihood.theta_min_[j], likelihood.theta_max_[j], priors.get(name)))
        theta = pt.stack([pt.as_tensor_variable(v).astype("float64") for v in parts])
        pm.Potential("loglike", loglike_graph(likelihood, theta, fd, ed, md, fused=fused))
    return model


def _training_prior_model(likelihood, f, e, m, z, fused):
    """The PyMC model with the training prior (see :func:`to_pymc`)."""
    import pymc as pm
    import pytensor.tensor as pt

    from .prior import log_density

    pr = getattr(likelihood, "prior_", None)
    if pr is None:
        raise ParameterError("this likelihood has no training prior (fitted before it existed): refit it, "
                             "or pass prior='uniform'")
    params = list(likelihood.parameters_)
    free = [j for j, p in enumerate(params) if not (p == "z" and z is not None)]
    with pm.Model() as model:
        fd = pm.Data("flux", f)
        ed = pm.Data("flux_err", e)
        md = pm.Data("mask", m)
        u_free = pm.Flat("theta_u", shape=(len(free),), initval=pr.means[int(np.argmax(pr.weights))][free])
        u_parts, th_parts = [], []
        for j, name in enumerate(params):
            lo, hi = float(pr.lo[j]), float(pr.hi[j])
            if j in free:
                u = u_free[free.index(j)]
                th = lo + (hi - lo) * pt.sigmoid(u)
            else:                                   # z fixed: data; its u enters the joint density
                th = pm.Data("z", np.float64(z))
                x = pt.clip((th - lo) / (hi - lo), 1e-9, 1.0 - 1e-9)
                u = pt.log(x) - pt.log1p(-x)
            u_parts.append(u)
            th_parts.append(pm.Deterministic(name, th) if j in free else th)
        u_all = pt.stack(u_parts)
        theta = pt.stack([pt.as_tensor_variable(v).astype("float64") for v in th_parts])
        pm.Potential("prior", log_density(u_all, pt.constant(pr.weights), pt.constant(pr.means),
                                          pt.constant(pr.prec_chol), pt))
        pm.Potential("loglike", loglike_graph(likelihood, theta, fd, ed, md, fused=fused))
    return model


# ---------------------------------------------------------------------------------- sampling
@dataclass
class ObjectPosterior:
    """One object's posterior: ``idata`` (ArviZ InferenceData: posterior, sample_stats),
    ``diagnostics`` (:func:`diagnostics`), wall ``seconds`` of the sampling, and
    ``compile_seconds`` of the model it used (0 when it was compiled before)."""

    idata: object
    diagnostics: dict
    seconds: float
    compile_seconds: float = 0.0
    settings: dict = field(default_factory=dict)


def diagnostics(idata, var_names=None) -> dict:
    """R-hat, bulk and tail ESS (ArviZ, rank-normalised) per parameter and the number of
    divergent transitions; ``passed``: R-hat ≤ 1.01, ESS ≥ 400 (bulk and tail), 0 divergences."""
    import arviz as az

    post = idata.posterior
    names = list(var_names) if var_names is not None else [v for v in post.data_vars]
    rhat = az.rhat(idata, var_names=names)
    bulk = az.ess(idata, var_names=names, method="bulk")
    tail = az.ess(idata, var_names=names, method="tail")
    out = {"rhat": {n: float(rhat[n]) for n in names},
           "ess_bulk": {n: float(bulk[n]) for n in names},
           "ess_tail": {n: float(tail[n]) for n in names}}
    div = idata.sample_stats["diverging"] if "diverging" in idata.sample_stats else None
    out["divergences"] = int(div.values.sum()) if div is not None else 0
    out["max_rhat"] = max(out["rhat"].values())
    out["min_ess_bulk"] = min(out["ess_bulk"].values())
    out["min_ess_tail"] = min(out["ess_tail"].values())
    out["passed"] = bool(np.isfinite(out["max_rhat"]) and out["max_rhat"] <= RHAT_MAX
                         and out["min_ess_bulk"] >= ESS_MIN and out["min_ess_tail"] >= ESS_MIN
                         and out["divergences"] == 0)
    return out


#: compiled nutpie models of this process by (likelihood fingerprint, fixed z, prior, fused): a
#: second sampler of an equal likelihood (e.g. loaded again from its file) reuses the first's
_COMPILED: dict = {}


class PosteriorSampler:
    """One compiled nutpie model of a likelihood, reused for every object (and by any later
    sampler of an equal likelihood in this process: ``compile_seconds`` is then ~0).

    likelihood : fitted NeuralLikelihood
    fixed_z : False — z free (if a parameter); True — z is data, given per object to
        :meth:`sample`
    prior, priors, fused : as :func:`to_pymc`

    ``compile_seconds`` is the one-off cost (PyTensor graph → Numba machine code); each
    :meth:`sample` only swaps the data.
    """

    def __init__(self, likelihood, *, fixed_z: bool = False, priors=None, prior: str = "training",
                 fused: bool = True):
        import nutpie

        _check_fitted(likelihood)
        nb = len(likelihood.bands_)
        self.likelihood = likelihood
        self.fixed_z = bool(fixed_z)
        if self.fixed_z and "z" not in likelihood.parameters_:
            raise ParameterError("fixed_z=True but z is not a parameter of this likelihood")
        z0 = None
        if self.fixed_z:
            j = likelihood.parameters_.index("z")
            z0 = float(0.5 * (likelihood.theta_min_[j] + likelihood.theta_max_[j]))
        self.var_names = [p for p in likelihood.parameters_ if not (p == "z" and self.fixed_z)]
        key = None
        if priors is None:                      # user priors may be callables: never shared
            from ..modelfile import fingerprint

            key = (fingerprint(likelihood), self.fixed_z, prior, bool(fused))
        t0 = time.perf_counter()
        if key is not None and key in _COMPILED:
            self.model, self.compiled = _COMPILED[key]
        else:
            self.model = to_pymc(likelihood, np.zeros(nb), np.ones(nb), np.ones(nb, dtype=bool), z=z0,
                                 priors=priors, prior=prior, fused=fused)
            self.compiled = nutpie.compile_pymc_model(self.model, backend="numba")
            if key is not None:
                _COMPILED[key] = (self.model, self.compiled)
                while len(_COMPILED) > 4:
                    _COMPILED.pop(next(iter(_COMPILED)))
        self.compile_seconds = time.perf_counter() - t0
        self._used = False

    def sample(self, flux, flux_err, mask, z=None, *, chains: int = 4, tune: int = 1000,
               draws: int = 1000, random_state=None, n_jobs=None, progress: bool = False,
               **nutpie_kwargs) -> ObjectPosterior:
        """Sample one object's posterior (see :func:`sample_object`)."""
        import nutpie

        from threadpoolctl import threadpool_limits

        if self.fixed_z and z is None:
            raise ParameterError("this sampler has z fixed: give the object's z")
        if not self.fixed_z and z is not None:
            raise ParameterError("this sampler has z free; build PosteriorSampler(..., fixed_z=True) "
                                 "to sample with a fixed z")
        f, e, m = _clean(self.likelihood, flux, flux_err, mask)
        if not m.any():
            raise ParameterError("no observed band: the posterior is the prior")
        data = {"flux": f, "flux_err": e, "mask": m}
        if self.fixed_z:
            z = float(z)
            if not (np.isfinite(z) and z > 0):
                raise ParameterError(f"z must be a finite redshift > 0, not {z!r}")
            data["z"] = np.float64(z)
        for name, value in (("chains", chains), ("tune", tune), ("draws", draws)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name} must be an int ≥ 1, not {value!r}")
        cores = min(int(chains), effective_n_jobs(n_jobs if n_jobs is not None else -1))
        seed = seed_from(random_state) % (2**32)
        compiled = self.compiled.with_data(**data)
        t0 = time.perf_counter()
        with threadpool_limits(1):
            idata = nutpie.sample(compiled, chains=int(chains), tune=int(tune), draws=int(draws),
                                  seed=seed, cores=cores, progress_bar=bool(progress), **nutpie_kwargs)
        seconds = time.perf_counter() - t0
        first = not self._used
        self._used = True
        return ObjectPosterior(idata, diagnostics(idata, self.var_names), seconds,
                               self.compile_seconds if first else 0.0,
                               {"chains": int(chains), "tune": int(tune), "draws": int(draws), "cores": cores,
                                "seed": seed})


def sample_object(likelihood, flux, flux_err, mask, z=None, priors=None, *, sampler=None,
                  chains: int = 4, tune: int = 1000, draws: int = 1000, random_state=None,
                  n_jobs=None, progress: bool = False, **nutpie_kwargs) -> ObjectPosterior:
    """Posterior of one object by nutpie's NUTS (Numba backend): ``chains`` chains of ``tune``
    adaptation + ``draws`` kept steps (4 × (1000 + 1000) by default).

    flux, flux_err, mask, z, priors : as :func:`to_pymc` (z None: free; a number: fixed)
    sampler : a :class:`PosteriorSampler` to reuse (its compiled model; its ``fixed_z`` must
        match ``z``); default a new one (compiled now, ``compile_seconds`` in the result)
    random_state : None, int or Generator (the nutpie seed)
    n_jobs : threads for the chains (default one per chain, at most the cores)

    Returns an :class:`ObjectPosterior` (ArviZ InferenceData + :func:`diagnostics`).
    """
    if sampler is None:
        sampler = PosteriorSampler(likelihood, fixed_z=z is not None, priors=priors)
    elif priors is not None:
        raise ParameterError("priors are compiled into the sampler; build the PosteriorSampler with them")
    elif sampler.likelihood is not likelihood:
        raise ParameterError("sampler was compiled for another likelihood")
    return sampler.sample(flux, flux_err, mask, z, chains=chains, tune=tune, draws=draws,
                          random_state=random_state, n_jobs=n_jobs, progress=progress, **nutpie_kwargs)

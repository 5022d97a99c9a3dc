"""Bayesian posteriors from a neural likelihood: p(photometry | θ) as a Gaussian in flux space
with a learned covariance, missing bands marginalised exactly, sampled with NUTS.

* :mod:`~galfast.posterior.network` — the likelihood network (torch), μ(θ) and Σ_net(θ);
* :mod:`~galfast.posterior.likelihood` — the masked Gaussian log-likelihood (torch, Numba);
* :mod:`~galfast.posterior.estimator` — ``NeuralLikelihood`` (fit on ``galfast.simulate``
  catalogues, score, χ² calibration, model files);
* :mod:`~galfast.posterior.prior` — the default prior: the training distribution (a Gaussian
  mixture in logit coordinates), the simulator's own prior;
* :mod:`~galfast.posterior.fused` — network + Gaussian as one Numba function with its gradient;
* :mod:`~galfast.posterior.pymc_export` — ``to_pymc``, ``PosteriorSampler``, ``sample_object``
  (PyMC model, nutpie's NUTS, ArviZ diagnostics; needs the ``bayes`` extra);
* :mod:`~galfast.posterior.batched` — ``sample_batch``: blackjax NUTS vmapped over objects;
* :mod:`~galfast.posterior.catalog` — ``PosteriorFitter`` / ``fit``: one summary row per input
  row, diagnostics, re-runs and flags, worker processes, the stream;
* :mod:`~galfast.posterior.evaluation`, :mod:`~galfast.posterior.plots` — the network's
  evaluation report and figures; :mod:`~galfast.posterior.cli` — ``galfast posterior``.

    nl = galfast.posterior.NeuralLikelihood().fit(galfast.simulate(20_000, "jwst_hst"))
    table = galfast.posterior.fit(phot, nl)                           # one row per object
    res = galfast.posterior.sample_object(nl, flux, flux_err, mask)   # res.idata, res.diagnostics
"""
from .estimator import CALIBRATION_LEVELS, DEFAULT_PARAMETERS, NeuralLikelihood

__all__ = ["NeuralLikelihood", "DEFAULT_PARAMETERS", "CALIBRATION_LEVELS", "to_pymc",
           "PosteriorSampler", "sample_object", "diagnostics", "fit", "PosteriorFitter", "sample_batch"]

_EXPORT = {"to_pymc": "pymc_export", "PosteriorSampler": "pymc_export", "sample_object": "pymc_export",
           "diagnostics": "pymc_export", "ObjectPosterior": "pymc_export", "loglike_graph": "pymc_export",
           "object_data": "pymc_export", "fit": "catalog", "PosteriorFitter": "catalog",
           "sample_batch": "batched"}


def __getattr__(name):
    if name in _EXPORT:      # PyMC / nutpie / JAX are imported only when asked for
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_EXPORT[name]}"), name)
    raise AttributeError(f"module 'galfast.posterior' has no attribute {name!r}")

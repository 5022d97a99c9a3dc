"""Bayesian posteriors from a neural likelihood: p(photometry | θ) as a Gaussian in flux space
with a learned covariance, missing bands marginalised exactly, sampled with NUTS.

* :mod:`~galfast.posterior.network` — the likelihood network (torch), μ(θ) and Σ_net(θ);
* :mod:`~galfast.posterior.likelihood` — the masked Gaussian log-likelihood (torch, Numba);
* :mod:`~galfast.posterior.estimator` — ``NeuralLikelihood`` (fit on ``galfast.simulate``
  catalogues, score, χ² calibration, model files);
* :mod:`~galfast.posterior.pymc_export` — ``to_pymc``, ``PosteriorSampler``, ``sample_object``
  (PyMC model, nutpie's NUTS, ArviZ diagnostics; needs the ``bayes`` extra);
* :mod:`~galfast.posterior.plots` — reliability diagram and residual figures.

    nl = galfast.posterior.NeuralLikelihood().fit(galfast.simulate(20_000, "jwst_hst"))
    res = galfast.posterior.sample_object(nl, flux, flux_err, mask)   # res.idata, res.diagnostics
"""
from .estimator import CALIBRATION_LEVELS, DEFAULT_PARAMETERS, NeuralLikelihood

__all__ = ["NeuralLikelihood", "DEFAULT_PARAMETERS", "CALIBRATION_LEVELS", "to_pymc",
           "PosteriorSampler", "sample_object", "diagnostics"]

_EXPORT = {"to_pymc", "PosteriorSampler", "sample_object", "diagnostics", "ObjectPosterior",
           "loglike_graph", "object_data"}


def __getattr__(name):
    if name in _EXPORT:      # PyMC / nutpie are imported only when asked for
        from . import pymc_export

        return getattr(pymc_export, name)
    raise AttributeError(f"module 'galfast.posterior' has no attribute {name!r}")

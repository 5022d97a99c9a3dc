"""Photometric redshifts: compiled kernelised local linear regression (KLLR) that serves every row.

``photoz`` (drop-in function), ``KLLRPhotoZ`` (scikit-learn estimator), ``tune_kllr`` (Bayesian
optimisation of k, λ, γ), flag constants (``FLAG_*``, ``BANDS_SHIFT``) and ``describe_flags``.
"""
from .api import photoz
from .engine import (BANDS_SHIFT, FLAG_BAD_VALUE, FLAG_BANDS_DROPPED, FLAG_CLIPPED_AT_ZERO, FLAG_EXTRAPOLATION,
                     FLAG_FEW_NEIGHBOURS, FLAG_MISSING_BANDS, FLAG_MODE_GUARD, FLAG_NAMES, FLAG_NEIGHBOURS_CLIPPED,
                     FLAG_NO_ESTIMATE, FLAG_TOO_FEW_BANDS, describe_flags)
from .estimator import KLLRPhotoZ


def __getattr__(name):
    if name in ("tune_kllr", "TuneResult"):
        from . import tuning

        return getattr(tuning, name)
    raise AttributeError(f"module 'galfast.redshift' has no attribute {name!r}")


__all__ = ["photoz", "KLLRPhotoZ", "tune_kllr", "TuneResult", "describe_flags", "BANDS_SHIFT",
           "FLAG_EXTRAPOLATION", "FLAG_CLIPPED_AT_ZERO", "FLAG_NEIGHBOURS_CLIPPED", "FLAG_NO_ESTIMATE",
           "FLAG_MODE_GUARD", "FLAG_MISSING_BANDS", "FLAG_FEW_NEIGHBOURS", "FLAG_TOO_FEW_BANDS", "FLAG_BAD_VALUE",
           "FLAG_BANDS_DROPPED",
           "FLAG_NAMES"]

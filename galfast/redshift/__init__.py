"""Photometric redshifts: compiled kernelised local linear regression (KLLR) that serves every row.

``photoz`` (drop-in function, arrays in and out), ``KLLRPhotoZ`` (scikit-learn estimator; takes a
:class:`~galfast.Photometry`, ``predict_table`` gives the output table, ``save``/``load`` one
``.safetensors`` file; ``predict_table(pdf=True)`` adds p(z) summaries, ``predict_pdf`` gives
the per-object mixtures as a ``PhotoZPDF`` with ``.to_qp()``), ``tune_kllr`` (Bayesian
optimisation of k, λ, γ and the magnitude-feature scale).  Flags are the bits of
:mod:`galfast.flags` (``PHOTOZ_FLAGS`` lists those photo-z sets; the ``FLAG_*`` names are aliases
of the registry's constants); the bands each row used are the separate ``bands_used`` bitmask.
"""
from .api import photoz
from .engine import (FLAG_BAD_VALUE, FLAG_BANDS_DROPPED, FLAG_CLIPPED_AT_MIN, FLAG_CLIPPED_AT_ZERO,
                     FLAG_EXTRAPOLATION, FLAG_FEW_NEIGHBOURS, FLAG_MISSING_BANDS, FLAG_MODE_GUARD,
                     FLAG_NAMES, FLAG_NEIGHBOURS_CLIPPED, FLAG_NO_ESTIMATE, FLAG_TOO_FEW_BANDS,
                     PHOTOZ_FLAGS, describe_flags)
from .estimator import MAX_BANDS, BandMismatchError, KLLRPhotoZ, TooManyBandsError
from .pdf import PhotoZPDF


def __getattr__(name):
    if name in ("tune_kllr", "TuneResult"):
        from . import tuning

        return getattr(tuning, name)
    raise AttributeError(f"module 'galfast.redshift' has no attribute {name!r}")


__all__ = ["photoz", "KLLRPhotoZ", "PhotoZPDF", "tune_kllr", "TuneResult", "describe_flags", "PHOTOZ_FLAGS",
           "MAX_BANDS", "BandMismatchError", "TooManyBandsError",
           "FLAG_EXTRAPOLATION", "FLAG_CLIPPED_AT_MIN", "FLAG_CLIPPED_AT_ZERO", "FLAG_NEIGHBOURS_CLIPPED",
           "FLAG_NO_ESTIMATE", "FLAG_MODE_GUARD", "FLAG_MISSING_BANDS", "FLAG_FEW_NEIGHBOURS",
           "FLAG_TOO_FEW_BANDS", "FLAG_BAD_VALUE", "FLAG_BANDS_DROPPED", "FLAG_NAMES"]

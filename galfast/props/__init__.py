"""Galaxy properties from photometry: neural regressors with per-object uncertainties.

``PropertyRegressor`` (scikit-learn style) maps multi-band fluxes (+ redshift) to stellar mass,
SFR, dust, age, metallicity…; see :mod:`galfast.props.regressor`.  ``galfast props train|predict``
is the command line (:mod:`galfast.props.cli`).  Fitted models are saved with
``reg.save("props.safetensors")`` and read with ``PropertyRegressor.load`` or
:func:`galfast.load_model` (the one model-file layer, :mod:`galfast.modelfile`).
"""
from .regressor import FLAG_BITS, PropertyRegressor
from .targets import KNOWN_TARGETS, TARGET_UNITS, floor_log_sfr, target_unit

__all__ = ["PropertyRegressor", "KNOWN_TARGETS", "TARGET_UNITS", "FLAG_BITS", "floor_log_sfr", "target_unit"]

"""Galaxy properties from photometry: neural regressors with per-object uncertainties.

``PropertyRegressor`` (scikit-learn style) maps multi-band fluxes (+ redshift) to stellar mass,
SFR, dust, age, metallicity…; see :mod:`galfast.props.regressor`.  ``galfast props train|predict``
is the command line (:mod:`galfast.props.cli`).
"""
from .io import load_model, save_model
from .regressor import KNOWN_TARGETS, PropertyRegressor

__all__ = ["PropertyRegressor", "KNOWN_TARGETS", "save_model", "load_model"]

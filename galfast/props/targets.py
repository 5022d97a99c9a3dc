"""Target conventions for the property regressors: the known targets, their units, the SFR floor.

Star-formation rates of quiescent simulated galaxies run to log SFR ≈ −50 (a delayed-τ history
long after its peak); photometry cannot tell sSFR = 10⁻¹³ yr⁻¹ from 10⁻³⁰ yr⁻¹, and SED-fitting
catalogues (MAGPHYS, prospector) report such galaxies at a floor.  :func:`floor_log_sfr` applies
that floor to the truths before training and scoring.

Units: the outputs of :class:`~galfast.props.PropertyRegressor` carry the unit of the training
target column when it has one, else :func:`target_unit`: ``dex`` for base-10 logarithms
(``log_*``: log M* [M☉], log SFR [M☉/yr], log Z/Z☉, …), ``mag`` for A_V and E(B−V), ``Gyr`` for
the mass-weighted age; other names get no unit.
"""
from __future__ import annotations

import numpy as np

__all__ = ["floor_log_sfr", "LOG_SSFR_FLOOR", "KNOWN_TARGETS", "TARGET_UNITS", "target_unit"]

#: log sSFR [yr⁻¹] below which star formation is treated as photometrically zero
LOG_SSFR_FLOOR = -13.0

#: properties the simulator provides (any column name is accepted as a target)
KNOWN_TARGETS = ("log_mstar", "log_sfr", "log_sfr10", "log_ssfr", "av", "ebv", "age_mw", "log_zmet",
                 "log_ldust")

#: unit of each known target (astropy unit strings): log M* [M☉], log SFR [M☉/yr], log sSFR [yr⁻¹],
#: log Z/Z☉ and log L_dust [L☉] in dex; A_V and E(B−V) in mag; the mass-weighted age in Gyr
TARGET_UNITS = {"log_mstar": "dex", "log_sfr": "dex", "log_sfr10": "dex", "log_ssfr": "dex",
                "log_zmet": "dex", "log_ldust": "dex", "av": "mag", "ebv": "mag", "age_mw": "Gyr"}


def target_unit(name: str) -> str | None:
    """The unit string of a target: :data:`TARGET_UNITS`, ``"dex"`` for any other ``log_*``
    name, else None (no unit)."""
    if name in TARGET_UNITS:
        return TARGET_UNITS[name]
    return "dex" if str(name).startswith("log_") else None


def floor_log_sfr(log_sfr, log_mstar, log_ssfr_min: float = LOG_SSFR_FLOOR) -> np.ndarray:
    """log SFR [M☉/yr] raised to at least log M* + ``log_ssfr_min`` (NaN stays NaN)."""
    log_sfr = np.asarray(log_sfr, dtype=float)
    floor = np.asarray(log_mstar, dtype=float) + log_ssfr_min
    return np.where(np.isfinite(log_sfr), np.maximum(log_sfr, floor), log_sfr)

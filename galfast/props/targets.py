"""Target conventions for the property regressors.

Star-formation rates of quiescent simulated galaxies run to log SFR ≈ −50 (a delayed-τ history
long after its peak); photometry cannot tell sSFR = 10⁻¹³ yr⁻¹ from 10⁻³⁰ yr⁻¹, and SED-fitting
catalogues (MAGPHYS, prospector) report such galaxies at a floor.  :func:`floor_log_sfr` applies
that floor to the truths before training and scoring.
"""
from __future__ import annotations

import numpy as np

__all__ = ["floor_log_sfr", "LOG_SSFR_FLOOR"]

#: log sSFR [yr⁻¹] below which star formation is treated as photometrically zero
LOG_SSFR_FLOOR = -13.0


def floor_log_sfr(log_sfr, log_mstar, log_ssfr_min: float = LOG_SSFR_FLOOR) -> np.ndarray:
    """log SFR [M☉/yr] raised to at least log M* + ``log_ssfr_min`` (NaN stays NaN)."""
    log_sfr = np.asarray(log_sfr, dtype=float)
    floor = np.asarray(log_mstar, dtype=float) + log_ssfr_min
    return np.where(np.isfinite(log_sfr), np.maximum(log_sfr, floor), log_sfr)

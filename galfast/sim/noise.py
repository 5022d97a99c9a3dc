"""Observational noise of simulated catalogues: depths, error-vs-magnitude tables, missing bands.

The flux error σ [µJy] of each band is a function of the true flux.  From a 5σ depth m₅ [AB]
it is the background-limited constant σ = f₅/5 with f₅ = 10^{-0.4 (m₅ - 23.9)} µJy; from a
table of (magnitude, magnitude error) — given, or measured on an observed catalogue with
:meth:`ErrorTable.from_photometry` — it is interpolated in log σ_flux, held constant beyond the
faint end (background limited) and at the brightest entry's magnitude error (constant S/N, an
error floor) beyond the bright end.
Observed flux = true flux + σ·N(0, 1); negative fluxes (non-detections) are kept as measured.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..bands import resolve_band
from ..errors import BandError, CatalogError
from ..validation import ParameterError
from ..photometry import mag_to_flux

__all__ = ["DEPTH_PRESETS", "ErrorTable", "error_table", "add_noise"]

_LN10_25 = np.log(10.0) / 2.5

#: 5σ point-source depths [AB mag] of a few surveys
DEPTH_PRESETS = {
    # deep JWST/HST fields (JADES/CEERS/PRIMER-like), the 11 bands of the shared JWST catalogue
    "jwst_deep": {
        "acs_wfc_f435w": 28.6, "acs_wfc_f606w": 28.9, "acs_wfc_f814w": 28.6,
        "jwst_f090w": 29.0, "jwst_f115w": 29.2, "jwst_f150w": 29.3, "jwst_f200w": 29.4,
        "jwst_f277w": 29.5, "jwst_f356w": 29.5, "jwst_f410m": 28.9, "jwst_f444w": 29.2,
    },
    # LSST 10-year coadd (Ivezić et al. 2019, Table 1)
    "lsst_10yr": {
        "lsst_baseline_u": 25.6, "lsst_baseline_g": 26.9, "lsst_baseline_r": 26.9,
        "lsst_baseline_i": 26.4, "lsst_baseline_z": 25.6, "lsst_baseline_y": 24.8,
    },
    # LSST year-1 coadd: a tenth of the 10-year visits, so 2.5 log10(sqrt(10)) = 1.25 mag
    # shallower than lsst_10yr in every band (background limited)
    "lsst_1yr": {
        "lsst_baseline_u": 24.35, "lsst_baseline_g": 25.65, "lsst_baseline_r": 25.65,
        "lsst_baseline_i": 25.15, "lsst_baseline_z": 24.35, "lsst_baseline_y": 23.55,
    },
    # GAMA-like 21-band panchromatic data (GALEX MIS, SDSS, VIKING, WISE, H-ATLAS)
    "gama": {
        "galex_FUV": 23.0, "galex_NUV": 23.0,
        "sdss_u0": 22.0, "sdss_g0": 22.2, "sdss_r0": 22.2, "sdss_i0": 21.3, "sdss_z0": 20.5,
        "vista_vircam_Z": 23.1, "vista_vircam_Y": 22.3, "vista_vircam_J": 22.1,
        "vista_vircam_H": 21.5, "vista_vircam_Ks": 21.2,
        "wise_w1": 19.6, "wise_w2": 19.3, "wise_w3": 16.4, "wise_w4": 14.5,
        "herschel_pacs_100": 11.1, "herschel_pacs_160": 11.1,
        "herschel_spire_250": 12.6, "herschel_spire_350": 12.5, "herschel_spire_500": 12.2,
    },
}


@dataclass(frozen=True)
class ErrorTable:
    """Flux error [µJy] as a function of true flux, one curve per band.

    ``mags[b]`` (increasing AB magnitudes) and ``mag_errs[b]`` give the error curve of band b.
    A depth-only band is a one-point table at its 5σ depth with error 2.5/ln10/5 mag; its σ is
    the same at every flux.
    """

    bands: tuple
    mags: tuple
    mag_errs: tuple

    @classmethod
    def from_depths(cls, depths: dict, snr: float = 5.0) -> "ErrorTable":
        """Background-limited errors from limiting magnitudes at signal-to-noise ``snr``."""
        bands, mags, errs = [], [], []
        for band, m in depths.items():
            bands.append(resolve_band(band))
            mags.append(np.array([float(m)]))
            errs.append(np.array([1.0 / (_LN10_25 * snr)]))
        return cls(tuple(bands), tuple(mags), tuple(errs))

    @classmethod
    def from_table(cls, table: dict) -> "ErrorTable":
        """From ``{band: (magnitudes, magnitude errors)}`` (any order; sorted here); a band may
        instead give a single number, its 5σ depth."""
        bands, mags, errs = [], [], []
        for band, value in table.items():
            try:
                if np.ndim(value) == 0:
                    value = ([float(value)], [1.0 / (_LN10_25 * 5.0)])
                m, e = value
                m, e = np.asarray(m, float), np.asarray(e, float)
            except (TypeError, ValueError):
                raise ParameterError(f"error table of band {band!r}: give a 5σ depth or "
                                   f"(magnitudes, magnitude errors), got {value!r}") from None
            if m.ndim != 1 or m.shape != e.shape or m.size == 0:
                raise ParameterError(f"error table of band {band!r}: need equal-length 1-d arrays")
            if not (np.all(np.isfinite(m)) and np.all(np.isfinite(e)) and np.all(e > 0)):
                raise ParameterError(f"error table of band {band!r}: magnitudes and errors must be "
                                   "finite, errors positive")
            order = np.argsort(m)
            bands.append(resolve_band(band))
            mags.append(m[order])
            errs.append(e[order])
        return cls(tuple(bands), tuple(mags), tuple(errs))

    @classmethod
    def from_photometry(cls, phot, *, bin_width: float = 0.25, min_count: int = 10,
                        source: str | None = None) -> "ErrorTable":
        """Error curves measured on an observed catalogue (a :class:`~galfast.Photometry`): the
        median flux error of the detected sources in bins of ``bin_width`` magnitudes holding at
        least ``min_count`` sources, so mocks get that catalogue's noise (error floors included).
        ``source`` (the file name) is quoted in error messages."""
        from ..photometry import OBSERVED

        where = f" of {source}" if source else ""
        table = {}
        for j, band in enumerate(phot.bands):
            f, e = phot.flux[:, j], phot.flux_err[:, j]
            ok = (phot.state[:, j] == OBSERVED) & (f > 0) & np.isfinite(e) & (e > 0)
            if ok.sum() < min_count:
                raise CatalogError(f"band {band!r}{where}: only {int(ok.sum())} detected sources with "
                                   f"errors, need ≥ {min_count} to measure its error curve")
            mag = -2.5 * np.log10(f[ok]) + 23.9
            lo, hi = np.floor(mag.min() / bin_width), np.ceil(mag.max() / bin_width)
            edges = np.arange(lo, hi + 1) * bin_width
            which = np.digitize(mag, edges) - 1
            mags, errs = [], []
            for k in range(edges.size - 1):
                sel = which == k
                if sel.sum() >= min_count:
                    centre = 0.5 * (edges[k] + edges[k + 1])
                    sigma = np.median(e[ok][sel])
                    mags.append(centre)
                    errs.append(sigma / (mag_to_flux(centre) * _LN10_25))
            if not mags:
                raise CatalogError(f"band {band!r}{where}: no magnitude bin holds {min_count} sources")
            table[band] = (np.array(mags), np.array(errs))
        return cls.from_table(table)

    @classmethod
    def from_catalog(cls, path, bands, *, column_map=None, bin_width: float = 0.25,
                     min_count: int = 10) -> "ErrorTable":
        """Error curves of ``bands`` measured on the catalogue file ``path`` (any format
        :func:`~galfast.read_catalog` reads; ``column_map`` as in
        :meth:`~galfast.Photometry.from_table`): see :meth:`from_photometry`."""
        from ..bands import expand_bands
        from ..catalog import read_catalog
        from ..photometry import Photometry

        bands = expand_bands(bands) if bands is not None else None
        if not bands:
            raise ParameterError(f"give the bands to measure on {path}")
        phot = Photometry.from_table(read_catalog(path), bands, column_map=column_map,
                                     source=str(path))
        return cls.from_photometry(phot, bin_width=bin_width, min_count=min_count, source=str(path))

    def depth(self, band: str, snr: float = 5.0) -> float:
        """Magnitude at which S/N = ``snr`` in the background-limited regime [AB]."""
        return float(-2.5 * np.log10(self.sigma(band, np.array([0.0]))[0] * snr) + 23.9)

    def sigma(self, band: str, flux) -> np.ndarray:
        """σ [µJy] of ``band`` for true fluxes ``flux`` [µJy]."""
        i = self._index(band)
        m, e = self.mags[i], self.mag_errs[i]
        sig_tab = mag_to_flux(m) * e * _LN10_25            # σ_flux at the table points
        flux = np.asarray(flux, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            mag = np.where(flux > 0, -2.5 * np.log10(np.where(flux > 0, flux, 1.0)) + 23.9, np.inf)
        sig = np.exp(np.interp(mag, m, np.log(sig_tab)))      # constant σ beyond the faint end
        if m.size > 1:                                         # constant S/N beyond the bright end
            sig = np.where(mag < m[0], flux * e[0] * _LN10_25, sig)
        return sig

    def _index(self, band):
        name = resolve_band(band)
        if name not in self.bands:
            raise BandError(f"no depth or error table for band {name!r} (have {list(self.bands)})")
        return self.bands.index(name)

    def to_dict(self) -> dict:
        return {b: [m.tolist(), e.tolist()] for b, m, e in zip(self.bands, self.mags, self.mag_errs)}


def error_table(depths, bands) -> ErrorTable:
    """An :class:`ErrorTable` covering ``bands`` from a preset name, ``{band: 5σ depth}`` or an
    ErrorTable; names the preset and band when one is not covered."""
    if isinstance(depths, ErrorTable):
        table, what = depths, "the error table"
    elif isinstance(depths, str):
        if depths not in DEPTH_PRESETS:
            raise ParameterError(f"unknown depth preset {depths!r}; choose from {sorted(DEPTH_PRESETS)} "
                               "or give {band: 5σ AB depth}")
        table, what = ErrorTable.from_depths(DEPTH_PRESETS[depths]), f"depth preset {depths!r}"
    elif isinstance(depths, dict):
        table, what = ErrorTable.from_depths(depths), "the depths given"
    else:
        raise ParameterError(f"depths must be a preset name, a dict or an ErrorTable, got {type(depths)}")
    missing = [resolve_band(b) for b in bands if resolve_band(b) not in table.bands]
    if missing:
        raise BandError(f"{what} has no depth for band(s) {missing} (it covers {list(table.bands)})")
    return table


def add_noise(flux_true, bands, table: ErrorTable, normals, *, missing=None):
    """Observed fluxes and errors [µJy] from true fluxes (N, B) and standard normals (N, B).

    ``missing`` (N, B) bool marks entries not observed: flux and error become NaN.
    """
    flux_true = np.asarray(flux_true, float)
    err = np.column_stack([table.sigma(b, flux_true[:, j]) for j, b in enumerate(bands)])
    flux = flux_true + err * normals
    if missing is not None:
        flux = np.where(missing, np.nan, flux)
        err = np.where(missing, np.nan, err)
    return flux, err

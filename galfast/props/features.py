"""Photometry → network inputs for the property regressors.

Per band three features: the asinh ("luptitude") magnitude of the flux, its 1σ error in the
same magnitudes, and a 0/1 flag "band not observed".  Asinh magnitudes behave like AB
magnitudes for bright objects and stay finite (and noise-like) for faint, zero or negative
fluxes, so non-detections keep their information (Lupton et al. 1999):

    μ = m0 − (2.5 / ln 10) · [asinh(f / 2b) + ln b],   σ_μ = (2.5 / ln 10) · σ_f / sqrt(f² + 4b²)

with f in µJy, m0 = 23.9 and a per-band softening b [µJy] set to the median flux error of the
training set.  Features are standardised with the training means/scales and bands that are
not observed are zero-filled (= the training mean) with their flag set to 1.  Redshift, when
used, is appended as z and log(1+z).  The same code runs in numpy-free torch so that noise
augmentation can re-draw fluxes every epoch without leaving the device.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import BandError, CatalogError
from ..photometry import AB_ZERO_POINT_UJY, NOT_OBSERVED, Photometry

__all__ = ["FeatureMaker", "photometry_arrays"]

_K = 2.5 / math.log(10.0)


def photometry_arrays(phot: Photometry, bands, *, missing_bands: str = "error"):
    """(flux, flux_err, observed, n_missing_bands) float32/bool arrays in the order of ``bands``.

    Not-observed entries get flux 0 and error 0; observed entries with a non-finite flux (e.g. a
    non-detection given only as an upper limit) become flux 0 with its error; an error that is not
    finite and > 0 makes the entry not observed.  "Finite" in float32, the networks' type: a flux
    or error beyond ±3.4e38 counts as infinite (it gave NaN estimates without a flag before).
    ``missing_bands``: "error" raises :class:`BandError` naming trained bands the photometry
    lacks; "mask" treats them as not observed in every row.
    """
    bands = list(bands)
    lacking = [b for b in bands if b not in phot.bands]
    if lacking and missing_bands != "mask":
        raise BandError(f"the catalogue lacks band(s) {lacking} that the model was trained on "
                        f"(it has {list(phot.bands)}); name the columns that hold them with "
                        f"column_map={{'your_column': {lacking[0]!r}}} (command line: --column-map "
                        f"your_column={lacking[0]}), or pass missing_bands='mask' (--missing-bands mask) "
                        "to treat them as not observed")
    n = len(phot)
    flux = np.zeros((n, len(bands)), dtype=np.float32)
    err = np.zeros_like(flux)
    obs = np.zeros((n, len(bands)), dtype=bool)
    for j, b in enumerate(bands):
        if b in lacking:
            continue
        k = phot.bands.index(b)
        o = phot.state[:, k] != NOT_OBSERVED
        with np.errstate(over="ignore"):   # beyond float32 (|x| > 3.4e38) → inf → not usable
            f = phot.flux[:, k].astype(np.float32)
            e = phot.flux_err[:, k].astype(np.float32)
        good_e = o & np.isfinite(e) & (e > 0)
        o &= good_e
        flux[:, j] = np.where(o & np.isfinite(f), f, 0.0)
        err[:, j] = np.where(o, e, 0.0)
        obs[:, j] = o
    return flux, err, obs, len(lacking)


class FeatureMaker:
    """Standardised asinh-magnitude features (+ errors, observed flags, redshift).

    bands : band names in model order
    use_redshift : append z and log(1+z)
    use_errors : include the magnitude errors as inputs
    """

    def __init__(self, bands, *, use_redshift: bool = True, use_errors: bool = True):
        self.bands = list(bands)
        self.use_redshift = bool(use_redshift)
        self.use_errors = bool(use_errors)

    @property
    def n_features(self) -> int:
        nb = len(self.bands)
        return nb * (3 if self.use_errors else 2) + (2 if self.use_redshift else 0)

    # ------------------------------------------------------------------ fitting
    def fit(self, flux, err, obs, z=None) -> "FeatureMaker":
        """Softening per band (median observed error) and feature means/scales."""
        flux, err, obs = (np.asarray(a) for a in (flux, err, obs))
        b = np.empty(len(self.bands))
        for j, name in enumerate(self.bands):
            e = err[obs[:, j], j]
            e = e[np.isfinite(e) & (e > 0)]
            if e.size == 0:
                raise CatalogError(f"band {name!r} is not observed in any training row")
            b[j] = np.median(e)
        self.softening_ = b
        import torch

        raw = self._raw(torch.from_numpy(flux.astype(np.float32)), torch.from_numpy(err.astype(np.float32)),
                        torch.from_numpy(obs), None if z is None else torch.from_numpy(np.asarray(z, np.float32)))
        raw = raw.numpy().astype(np.float64)
        nb = len(self.bands)
        mean = np.zeros(raw.shape[1])
        scale = np.ones(raw.shape[1])
        per_band = 2 if self.use_errors else 1
        for j in range(nb):
            o = obs[:, j]
            for k in range(per_band):
                c = k * nb + j
                v = raw[o, c]
                mean[c] = v.mean()
                s = v.std()
                scale[c] = s if s > 0 else 1.0
        # observed flags and redshift: plain standardisation over all rows
        for c in range(per_band * nb, raw.shape[1]):
            if c < (per_band + 1) * nb:
                mean[c], scale[c] = 0.0, 1.0   # keep the 0/1 flag as it is
                continue
            mean[c] = raw[:, c].mean()
            s = raw[:, c].std()
            scale[c] = s if s > 0 else 1.0
        self.mean_ = mean
        self.scale_ = scale
        self._cache = {}
        return self

    # ------------------------------------------------------------------ transform
    def _raw(self, flux, err, obs, z):
        """Un-standardised features (torch tensors in, tensor (N, F) out)."""
        import torch

        b = torch.as_tensor(self.softening_, dtype=flux.dtype, device=flux.device)
        mu = AB_ZERO_POINT_UJY - _K * (torch.asinh(flux / (2 * b)) + torch.log(b))
        parts = [mu]
        if self.use_errors:
            parts.append(_K * err * torch.rsqrt(flux * flux + 4 * b * b))
        parts.append((~obs).to(flux.dtype))
        if self.use_redshift:
            if z is None:
                raise CatalogError("the model uses redshift but the photometry has none "
                                   "(give a redshift column)")
            z = z.to(flux.dtype).reshape(-1, 1)
            parts += [z, torch.log1p(z.clamp_min(-0.99))]
        return torch.cat(parts, dim=1)

    def _tensors(self, device, dtype):
        import torch

        key = (str(device), dtype)
        if not hasattr(self, "_cache"):
            self._cache = {}
        if key not in self._cache:
            self._cache[key] = (torch.as_tensor(self.mean_, dtype=dtype, device=device),
                                torch.as_tensor(self.scale_, dtype=dtype, device=device))
        return self._cache[key]

    def transform_torch(self, flux, err, obs, z=None):
        """Standardised features (N, F) of torch tensors; not-observed bands zero-filled."""
        import torch

        raw = self._raw(flux, err, obs, z)
        mean, scale = self._tensors(raw.device, raw.dtype)
        x = (raw - mean) / scale
        nb = len(self.bands)
        per_band = 2 if self.use_errors else 1
        keep = obs.repeat(1, per_band)
        x[:, :per_band * nb] = torch.where(keep, x[:, :per_band * nb], torch.zeros((), dtype=x.dtype,
                                                                                    device=x.device))
        return x

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        return {"bands": self.bands, "use_redshift": self.use_redshift, "use_errors": self.use_errors,
                "softening": self.softening_.tolist(), "mean": self.mean_.tolist(),
                "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureMaker":
        fm = cls(d["bands"], use_redshift=d["use_redshift"], use_errors=d["use_errors"])
        fm.softening_ = np.asarray(d["softening"], dtype=float)
        fm.mean_ = np.asarray(d["mean"], dtype=float)
        fm.scale_ = np.asarray(d["scale"], dtype=float)
        fm._cache = {}
        return fm

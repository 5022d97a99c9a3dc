"""Band registry: astro-sedpy filter names, friendly aliases, effective wavelengths, curves.

Every band in galfast is named as in astro-sedpy (``jwst_f444w``, ``acs_wfc_f606w``,
``lsst_baseline_r``, ``galex_FUV``, …).  Users may write aliases (``F444W``, ``f606w``,
``LSST_r``, ``Ks``, ``W1``, ``SPIRE250``); :func:`resolve_band` turns them into the canonical
name.  User-given curves (e.g. J-PAS top-hats) are added with :func:`register_band`.

Effective wavelengths are in Ångström (sedpy's ``wave_effective``).
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field

import numpy as np

from .errors import BandError

__all__ = [
    "Band", "resolve_band", "get_band", "sort_bands", "effective_wavelength",
    "register_band", "register_tophat", "available_bands", "load_sedpy_filters",
    "JWST_HST_BANDS", "BAND_SETS", "expand_bands",
]

#: The 11 HST/ACS + JWST/NIRCam bands of the shared JWST spec-z catalogue, by wavelength.
JWST_HST_BANDS = (
    "acs_wfc_f435w", "acs_wfc_f606w", "acs_wfc_f814w",
    "jwst_f090w", "jwst_f115w", "jwst_f150w", "jwst_f200w",
    "jwst_f277w", "jwst_f356w", "jwst_f410m", "jwst_f444w",
)

#: named band sets, accepted wherever band names are (``--bands jwst_hst``)
BAND_SETS = {"jwst_hst": JWST_HST_BANDS}

# Instruments whose bare filter name ("F606W") resolves to them, highest priority first.
_BARE_NAME_PRIORITY = ("jwst_", "acs_wfc_", "wfc3_ir_", "wfc3_uvis_", "jwst_niriss_")

# Survey prefixes: alias prefix -> sedpy prefix, and sedpy suffix conventions.
_SURVEY_ALIASES = {
    "sdss": "sdss_{b}0", "lsst": "lsst_baseline_{b}", "hsc": "hsc_{b}", "decam": "decam_{b}",
    "vista": "vista_vircam_{B}", "vircam": "vista_vircam_{B}", "galex": "galex_{BU}",
    "wise": "wise_w{n}", "pacs": "herschel_pacs_{n}", "spire": "herschel_spire_{n}",
    "irac": "spitzer_irac_ch{n}", "twomass": "twomass_{B}", "2mass": "twomass_{B}",
    "panstarrs": "panstarrs_{b}", "ps1": "panstarrs_{b}",
}


@dataclass(frozen=True)
class Band:
    """One photometric band.

    name : canonical (sedpy) name
    wave_effective : effective wavelength [Å]
    wavelength, transmission : the curve (Å, dimensionless), for user-given bands
    """

    name: str
    wave_effective: float
    wavelength: np.ndarray | None = field(default=None, repr=False, compare=False)
    transmission: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def sedpy_filter(self):
        """The :class:`sedpy.observate.Filter` for this band."""
        return _sedpy_filter(self.name)


_USER_BANDS: dict[str, Band] = {}


def _sedpy_filter_dir() -> str:
    from sedpy import observate

    return os.path.join(os.path.dirname(observate.__file__), "data", "filters")


@functools.lru_cache(maxsize=1)
def _sedpy_names() -> tuple[str, ...]:
    return tuple(sorted(f[:-4] for f in os.listdir(_sedpy_filter_dir()) if f.endswith(".par")))


def available_bands() -> list[str]:
    """All canonical band names: sedpy's shipped filters plus user-registered ones."""
    return sorted(set(_sedpy_names()) | set(_USER_BANDS))


@functools.lru_cache(maxsize=1)
def _alias_table() -> dict[str, str]:
    """Lower-case alias -> canonical name, built once from sedpy's filter list."""
    names = _sedpy_names()
    table: dict[str, str] = {}
    bare: dict[str, str] = {}
    for name in names:
        table[name.lower()] = name
        for rank, prefix in enumerate(_BARE_NAME_PRIORITY):
            if name.startswith(prefix) and re.fullmatch(r"f\d{3,4}(w|m|n|lp|w2)", name[len(prefix):]):
                key = name[len(prefix):]
                if key not in bare or rank < bare[key][0]:
                    bare[key] = (rank, name)
                table[f"{prefix.rstrip('_')}_{key}"] = name
                if prefix == "jwst_":
                    # the instrument from the central wavelength (the digits after "f", in 10 nm):
                    # NIRCam up to F480M, MIRI from F560W; not from all digits, or F150W2 → 1502
                    instrument = "nircam" if int(re.match(r"f(\d+)", key).group(1)) < 500 else "miri"
                    table[f"{instrument}_{key}"] = name
                    table[f"jwst_{instrument}_{key}"] = name
                if prefix.startswith("acs"):
                    table[f"acs_{key}"] = name
                    table[f"hst_{key}"] = name
    for key, (_, name) in bare.items():
        table.setdefault(key, name)
    for survey, pattern in _SURVEY_ALIASES.items():
        for name in names:
            for b in ("u", "g", "r", "i", "z", "y", "fuv", "nuv", "j", "h", "ks", "k",
                      "1", "2", "3", "4", "70", "100", "160", "250", "350", "500"):
                cand = pattern.format(b=b, B=b.capitalize() if len(b) == 1 else b[0].upper() + b[1:],
                                      BU=b.upper(), n=b)
                if cand == name:
                    for sep in ("_", "", "-"):
                        table.setdefault(f"{survey}{sep}{b}", name)
                        table.setdefault(f"{b}{sep}{survey}", name)
    for b in ("fuv", "nuv"):
        table.setdefault(b, f"galex_{b.upper()}")
    for n in "1234":
        table.setdefault(f"w{n}", f"wise_w{n}")
    for b in ("y", "j", "h", "ks"):
        table.setdefault(b, "vista_vircam_" + (b.upper() if len(b) == 1 else "Ks"))
    return table


def resolve_band(name: str) -> str:
    """Canonical sedpy name of a band given by its name or an alias (case-insensitive).

    >>> resolve_band("F444W")
    'jwst_f444w'
    """
    if not isinstance(name, str):
        raise BandError(f"band names are strings, got {name!r}")
    if name in _USER_BANDS:
        return name
    key = name.strip().lower().replace(" ", "_")
    table = _alias_table()
    if key in table:
        return table[key]
    for user in _USER_BANDS:
        if user.lower() == key:
            return user
    close = [n for n in available_bands() if key.replace("_", "") in n.lower().replace("_", "")][:5]
    hint = f"; did you mean one of {close}?" if close else ""
    raise BandError(f"unknown band {name!r}{hint} (see galfast.bands.available_bands(), "
                    "or add your own curve with galfast.bands.register_band)")


@functools.lru_cache(maxsize=None)
def _sedpy_filter(name: str):
    from sedpy import observate

    if name in _USER_BANDS:
        b = _USER_BANDS[name]
        return observate.Filter(name, data=(b.wavelength, b.transmission))
    return observate.Filter(name, directory=_sedpy_filter_dir())


@functools.lru_cache(maxsize=None)
def _sedpy_band(name: str) -> Band:
    return Band(name=name, wave_effective=float(_sedpy_filter(name).wave_effective))


def get_band(name: str) -> Band:
    """The :class:`Band` for a name or alias."""
    canonical = resolve_band(name)
    if canonical in _USER_BANDS:
        return _USER_BANDS[canonical]
    return _sedpy_band(canonical)


def effective_wavelength(name: str) -> float:
    """Effective wavelength of a band [Å]."""
    return get_band(name).wave_effective


def expand_bands(names) -> list[str]:
    """Band names as given, with band-set names (:data:`BAND_SETS`, e.g. ``jwst_hst``) replaced
    by their bands and comma-separated lists split; a single string is one name or set."""
    if isinstance(names, str):
        names = [names]
    out = []
    for item in names:
        if not isinstance(item, str):
            raise BandError(f"band names are strings, got {item!r}")
        for name in (p.strip() for p in item.split(",")):
            if not name:
                continue
            out.extend(BAND_SETS.get(name.lower(), (name,)))
    return out


def sort_bands(names) -> list[str]:
    """Canonical names (band sets expanded) sorted by effective wavelength (blue to red)."""
    canon = [resolve_band(n) for n in expand_bands(names)]
    dup = sorted({n for n in canon if canon.count(n) > 1})
    if dup:
        raise BandError(f"band(s) given more than once: {dup}")
    return sorted(canon, key=effective_wavelength)


def register_band(name: str, wavelength, transmission, *, overwrite: bool = False) -> Band:
    """Add a user-given filter curve (wavelength [Å], transmission) under ``name``."""
    wave = np.asarray(wavelength, dtype=float)
    trans = np.asarray(transmission, dtype=float)
    if wave.ndim != 1 or wave.shape != trans.shape or wave.size < 2:
        raise BandError(f"band {name!r}: wavelength and transmission must be 1-d arrays of equal length ≥ 2")
    if np.any(np.diff(wave) <= 0):
        raise BandError(f"band {name!r}: wavelengths must increase strictly")
    if (name in _USER_BANDS or name.lower() in _alias_table()) and not overwrite:
        if name in _USER_BANDS and np.array_equal(_USER_BANDS[name].wavelength, wave) \
                and np.array_equal(_USER_BANDS[name].transmission, trans):
            return _USER_BANDS[name]
        raise BandError(f"band {name!r} already exists; pass overwrite=True to replace it")
    weff = float(np.exp(np.trapezoid(trans * np.log(wave) / wave, wave) / np.trapezoid(trans / wave, wave)))
    band = Band(name=name, wave_effective=weff, wavelength=wave, transmission=trans)
    _USER_BANDS[name] = band
    _sedpy_filter.cache_clear()
    return band


def register_tophat(name: str, center: float, fwhm: float, *, overwrite: bool = False) -> Band:
    """Register a top-hat band of the given centre and full width [Å] (J-PAS-like narrow bands)."""
    half = fwhm / 2.0
    wave = np.array([center - half - 1.0, center - half, center + half, center + half + 1.0])
    wave = np.concatenate([wave[:2], np.linspace(center - half + 1, center + half - 1, 50), wave[2:]])
    trans = np.where((wave >= center - half) & (wave <= center + half), 1.0, 0.0)
    return register_band(name, wave, trans, overwrite=overwrite)


def load_sedpy_filters(names):
    """sedpy Filter objects for the given band names, in the given order."""
    return [get_band(n).sedpy_filter for n in names]

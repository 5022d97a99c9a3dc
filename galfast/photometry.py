"""The one value that flows through galfast: :class:`Photometry`, plus flux↔AB-magnitude helpers.

A ``Photometry`` holds N objects × B bands (ordered by effective wavelength): fluxes and 1σ
errors in µJy, a per-band :data:`state` (observed / not observed / not detected), ids and an
optional redshift.  Every model takes one in and returns a table of the same length and order.

AB magnitude: m = 23.9 − 2.5 log10(f / µJy); σ_m = (2.5 / ln 10) σ_f / f.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy import units as u

from .bands import expand_bands, get_band, resolve_band, sort_bands
from .catalog import native_array
from .errors import BandError, CatalogError, CatalogWarning

__all__ = [
    "Photometry", "OBSERVED", "NOT_OBSERVED", "NOT_DETECTED",
    "flux_to_mag", "mag_to_flux", "flux_err_to_mag_err", "mag_err_to_flux_err",
    "adjacent_colours", "Standardizer", "AB_ZERO_POINT_UJY", "numeric_values", "parse_column_map", "column_map_in_table", "bands_in_table",
]

#: per-band state codes (int8)
OBSERVED, NOT_OBSERVED, NOT_DETECTED = np.int8(0), np.int8(1), np.int8(2)
#: AB zero point for fluxes in µJy: m = 23.9 − 2.5 log10(f / µJy)
AB_ZERO_POINT_UJY = 23.9
_MAG_ERR_FACTOR = 2.5 / np.log(10.0)


def _to_ujy(values, unit) -> np.ndarray:
    """Flux values (array or Quantity) in µJy as float64."""
    if isinstance(values, u.Quantity):
        return values.to_value(u.uJy)
    unit = u.Unit(unit) if unit is not None else u.uJy
    return (np.asarray(values, dtype=float) * unit).to_value(u.uJy)


def flux_to_mag(flux, unit=u.uJy) -> np.ndarray:
    """AB magnitude of a flux (array in ``unit`` or a Quantity); NaN where flux ≤ 0 or not finite."""
    f = _to_ujy(flux, unit)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = AB_ZERO_POINT_UJY - 2.5 * np.log10(f)
    return np.where(f > 0, m, np.nan)


def mag_to_flux(mag, unit=u.uJy) -> np.ndarray:
    """Flux in ``unit`` of an AB magnitude."""
    f = 10.0 ** (-0.4 * (np.asarray(mag, dtype=float) - AB_ZERO_POINT_UJY))
    return (f * u.uJy).to_value(unit)


def flux_err_to_mag_err(flux, flux_err, unit=u.uJy) -> np.ndarray:
    """1σ magnitude error from flux and flux error (first-order propagation); NaN where flux ≤ 0."""
    f = _to_ujy(flux, unit)
    e = _to_ujy(flux_err, unit)
    with np.errstate(divide="ignore", invalid="ignore"):
        me = _MAG_ERR_FACTOR * e / f
    return np.where(f > 0, me, np.nan)


def mag_err_to_flux_err(mag, mag_err, unit=u.uJy) -> np.ndarray:
    """1σ flux error (in ``unit``) from magnitude and magnitude error (first order)."""
    return mag_to_flux(mag, unit) * np.asarray(mag_err, dtype=float) / _MAG_ERR_FACTOR


def adjacent_colours(mags: np.ndarray) -> np.ndarray:
    """Colours of adjacent bands, m[i+1] − m[i], shape (N, B−1); NaN where either is NaN."""
    mags = np.asarray(mags, dtype=float)
    return mags[:, 1:] - mags[:, :-1]


class Standardizer:
    """Feature standardisation with the training set's mean and standard deviation (NaN-aware)."""

    def fit(self, X):
        X = np.asarray(X, dtype=float)
        self.mean_ = np.nanmean(X, axis=0)
        std = np.nanstd(X, axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X):
        return (np.asarray(X, dtype=float) - self.mean_) / self.scale_

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        return np.asarray(Z, dtype=float) * self.scale_ + self.mean_

    def to_dict(self) -> dict:
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Standardizer":
        s = cls()
        s.mean_ = np.asarray(d["mean"], dtype=float)
        s.scale_ = np.asarray(d["scale"], dtype=float)
        return s


def numeric_values(col, name: str, where: str = "") -> np.ndarray:
    """A table column as float64, NaN where masked or null.

    Numeric (and boolean) columns convert directly; a text column is accepted when every entry is
    a number, ``nan`` or empty (as CSV readers may leave them).  Otherwise CatalogError names the
    column, the first offending row and its value.
    """
    mask = np.ma.getmaskarray(col) if hasattr(col, "mask") else None
    data = np.asarray(col.data.data if hasattr(col, "mask") else col)
    if data.dtype.kind in "biuf":
        values = data.astype(np.float64)
    else:
        values = np.empty(len(data), dtype=np.float64)
        for row, value in enumerate(data.tolist()):
            if mask is not None and mask[row]:
                values[row] = np.nan
                continue
            if isinstance(value, bytes):
                value = value.decode(errors="replace")
            if value is None or (isinstance(value, str) and value.strip() == ""):
                values[row] = np.nan
                continue
            try:
                values[row] = float(value)
            except (TypeError, ValueError):
                raise CatalogError(f"column {name!r}{where} is not numeric (dtype {data.dtype}): "
                                   f"row {row} holds {value!r}") from None
    if mask is not None and mask.any():
        values[mask] = np.nan
    return values


def _to_ujy_column(col, name: str, where: str, band: str, unit) -> np.ndarray:
    """A flux or flux-error column in µJy: its own unit (f_ν, or f_λ converted at the band's
    effective wavelength), else ``unit`` (default µJy)."""
    values = numeric_values(col, name, where)
    col_unit = getattr(col, "unit", None)
    if col_unit is None or unit is not None:
        return _to_ujy(values, unit or u.uJy)
    try:
        wave = get_band(band).wave_effective * u.AA
        return (values * col_unit).to_value(u.uJy, equivalencies=u.spectral_density(wave))
    except u.UnitConversionError:
        raise CatalogError(f"column {name!r}{where} has unit {col_unit}, which is not a flux density "
                           "(f_ν such as µJy or erg s⁻¹ cm⁻² Hz⁻¹, or f_λ such as erg s⁻¹ cm⁻² Å⁻¹)") from None


def parse_column_map(column_map) -> dict | None:
    """{column: band} from a dict, or from "column=band" strings (``--column-map`` values)."""
    if column_map is None or isinstance(column_map, dict):
        return column_map
    out = {}
    for item in column_map:
        col, sep, band = str(item).partition("=")
        if not sep or not col.strip() or not band.strip():
            raise CatalogError(f"column map entry {item!r} is not COLUMN=BAND (e.g. FLUX_F444W=F444W)")
        out[col.strip()] = band.strip()
    return out


def column_map_in_table(column_map, colnames) -> dict | None:
    """The entries of a column map (dict or "COL=BAND" strings) whose column is among
    ``colnames``: one map may serve several files (training set and catalogue) that each hold
    only some of its columns."""
    column_map = parse_column_map(column_map)
    if not column_map:
        return None
    return {c: b for c, b in column_map.items() if c in colnames} or None


def bands_in_table(table, bands, column_map=None, err_suffixes=None) -> list:
    """Those of ``bands`` (canonical names, band sets expanded) that ``table`` has flux and error
    columns for, by name or through ``column_map``, as :meth:`Photometry.from_table` finds them:
    the bands to read when the others are served as not observed (``missing_bands="mask"``)."""
    if err_suffixes is None:
        err_suffixes = Photometry.from_table.__kwdefaults__["err_suffixes"]
    column_map = parse_column_map(column_map)
    present = []
    for b in sort_bands(bands):
        try:
            _band_columns(table.colnames, b, err_suffixes, column_map)
        except CatalogError:
            continue
        present.append(b)
    return present


def _band_columns(colnames, band: str, err_suffixes, column_map) -> tuple[str, str]:
    """(flux column, error column) in a table for a canonical band name."""
    inverse = {resolve_band(v): k for k, v in (column_map or {}).items()}
    if band in inverse:
        flux_col = inverse[band]
    else:
        by_band = {}
        for c in colnames:
            try:
                by_band.setdefault(resolve_band(c), c)
            except BandError:
                continue
        if band not in by_band:
            raise CatalogError(f"no flux column for band {band!r} (columns: {list(colnames)[:30]}); "
                               f"name the column that holds it with column_map={{'your_column': "
                               f"{band!r}}} (command line: --column-map your_column={band})")
        flux_col = by_band[band]
    for suf in err_suffixes:
        for cand in (flux_col + suf, flux_col + suf.upper()):
            if cand in colnames:
                return flux_col, cand
    raise CatalogError(f"no error column for flux column {flux_col!r} (looked for "
                       f"{[flux_col + s for s in err_suffixes]})")


@dataclass(frozen=True, eq=False)
class Photometry:
    """N objects × B bands of photometry, bands ordered by effective wavelength.

    bands : canonical band names, blue to red
    flux, flux_err : (N, B) float64 [µJy]; NaN where not observed
    state : (N, B) int8 — OBSERVED (0), NOT_OBSERVED (1), NOT_DETECTED (2)
    ids : (N,) object identifiers (row numbers when the catalogue has none)
    z : (N,) redshift or None; NaN where unknown
    """

    bands: tuple
    flux: np.ndarray = field(repr=False)
    flux_err: np.ndarray = field(repr=False)
    state: np.ndarray = field(repr=False)
    ids: np.ndarray = field(repr=False)
    z: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        n, b = np.shape(self.flux)
        if len(self.bands) != b:
            raise BandError(f"{len(self.bands)} band names for {b} flux columns")
        for name, arr in (("flux_err", self.flux_err), ("state", self.state)):
            if np.shape(arr) != (n, b):
                raise CatalogError(f"{name} has shape {np.shape(arr)}, expected {(n, b)}")
        if len(self.ids) != n:
            raise CatalogError(f"{len(self.ids)} ids for {n} rows")
        if self.z is not None and len(self.z) != n:
            raise CatalogError(f"{len(self.z)} redshifts for {n} rows")
        for arr in (self.flux, self.flux_err, self.state, self.ids) + ((self.z,) if self.z is not None else ()):
            arr.setflags(write=False)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_arrays(cls, flux, flux_err, bands, *, ids=None, z=None, unit=u.uJy,
                    missing_value=-99.0, detection_snr: float = 0.0) -> "Photometry":
        """Build from (N, B) flux and error arrays in ``unit`` (or Quantities).

        Not observed: NaN/inf or ``missing_value`` in flux or error.  Not detected: observed
        with flux ≤ 0 or S/N = flux/err < ``detection_snr``.  Bands are re-ordered by
        wavelength.
        """
        flux_raw = np.array(flux.value if isinstance(flux, u.Quantity) else flux, dtype=float, ndmin=2)
        err_raw = np.array(flux_err.value if isinstance(flux_err, u.Quantity) else flux_err, dtype=float, ndmin=2)
        if flux_raw.shape != err_raw.shape:
            raise CatalogError(f"flux shape {flux_raw.shape} differs from error shape {err_raw.shape}")
        canon = [resolve_band(b) for b in expand_bands(bands)]
        if len(canon) != flux_raw.shape[1]:
            raise BandError(f"{len(canon)} band names for {flux_raw.shape[1]} flux columns")
        order = [canon.index(b) for b in sort_bands(canon)]
        flux_raw, err_raw = flux_raw[:, order], err_raw[:, order]
        funit = flux.unit if isinstance(flux, u.Quantity) else unit
        eunit = flux_err.unit if isinstance(flux_err, u.Quantity) else unit
        missing = ~np.isfinite(flux_raw) | ~np.isfinite(err_raw)
        if missing_value is not None:
            missing |= (flux_raw == missing_value) | (err_raw == missing_value)
        f = np.where(missing, np.nan, _to_ujy(np.where(missing, 0.0, flux_raw), funit))
        e = np.where(missing, np.nan, _to_ujy(np.where(missing, 0.0, err_raw), eunit))
        bad_err = ~missing & (e < 0)
        if bad_err.any():
            r, c = np.argwhere(bad_err)[0]
            raise CatalogError(f"negative flux error in band {sort_bands(canon)[c]!r}, row {r} "
                               f"({int(bad_err.sum())} such values)")
        with np.errstate(divide="ignore", invalid="ignore"):
            snr = f / e
        undetected = ~missing & ((f <= 0) | (snr < detection_snr))
        state = np.full(f.shape, OBSERVED, dtype=np.int8)
        state[missing] = NOT_OBSERVED
        state[undetected] = NOT_DETECTED
        n = f.shape[0]
        ids = np.arange(n) if ids is None else native_array(np.asarray(ids))
        zz = None if z is None else np.asarray(z, dtype=float).copy()
        return cls(tuple(sort_bands(canon)), f, e, state, ids, zz)

    @classmethod
    def from_table(cls, table, bands=None, *, column_map=None, id_column="auto", z_column=None,
                   unit=None, err_suffixes=("_err", "_error", "_unc", "_sigma", "err"),
                   missing_value=-99.0, detection_snr: float = 0.0, source: str | None = None,
                   row_offset: int = 0) -> "Photometry":
        """Build from an astropy Table (or anything ``Table()`` accepts).

        bands : band names/aliases to use; default every column that names a band
        column_map : {table column: band} for columns whose names are not band names (or a
            sequence of "column=band" strings, as the ``--column-map`` option gives)
        id_column : id column name, None for row numbers, "auto" to use ``id``/``ID`` if present
        z_column : redshift column, if any
        unit : flux unit when the columns carry none (default µJy)
        source : file name quoted in error messages; default ``table.meta["source"]``, which
            :func:`~galfast.catalog.read_catalog` sets
        row_offset : without an id column, ids are row numbers counted from this (the first row
            of a chunk, when a file is read in chunks)

        Band columns may be masked or hold NaN (not observed in that row), carry f_ν units or f_λ
        units (converted at each band's effective wavelength); text columns holding numbers are
        read as numbers.
        """
        from astropy.table import Table

        table = table if isinstance(table, Table) else Table(table)
        column_map = parse_column_map(column_map)
        if source is None:
            source = (table.meta or {}).get("source")
        where = f" in {source}" if source else ""
        if len(table) == 0:
            raise CatalogError(f"catalogue{where} has no rows")
        cols = list(table.colnames)
        if bands is None:
            found = []
            mapped = {resolve_band(v) for v in (column_map or {}).values()}
            for c in cols:
                if any(c.lower().endswith(s) for s in err_suffixes):
                    continue
                try:
                    found.append(resolve_band(c))
                except BandError:
                    continue
            bands = sorted(set(found) | mapped)
            if not bands:
                raise CatalogError(f"no band columns found{where}; pass bands=[…] or column_map")
        canon = sort_bands(bands)
        try:
            pairs = [_band_columns(cols, b, err_suffixes, column_map) for b in canon]
        except CatalogError as exc:
            raise CatalogError(f"{exc}{where}") from None
        flux = np.empty((len(table), len(canon)))
        err = np.empty_like(flux)
        for j, (band, (fc, ec)) in enumerate(zip(canon, pairs)):
            flux[:, j] = _to_ujy_column(table[fc], fc, where, band, unit)
            err[:, j] = _to_ujy_column(table[ec], ec, where, band, unit)
        if id_column == "auto":
            id_column = next((c for c in ("id", "ID", "Id", "objid", "object_id") if c in cols), None)
        ids = np.arange(row_offset, row_offset + len(table))
        if id_column is not None:
            if id_column not in cols:
                raise CatalogError(f"id column {id_column!r} not found{where}")
            ids = np.asarray(table[id_column])
            uniq, counts = np.unique(ids, return_counts=True)
            if (counts > 1).any():
                warnings.warn(f"{int((counts > 1).sum())} ids{where} occur more than once "
                              f"(e.g. {uniq[counts > 1][:3].tolist()}); all rows are kept, in order",
                              CatalogWarning, stacklevel=2)
        z = None
        if z_column is not None:
            if z_column not in cols:
                raise CatalogError(f"redshift column {z_column!r} not found{where}")
            z = numeric_values(table[z_column], z_column, where)
        return cls.from_arrays(flux, err, canon, ids=ids, z=z, unit=u.uJy,
                               missing_value=missing_value, detection_snr=detection_snr)

    # ---------------------------------------------------------------- views
    def __len__(self) -> int:
        return self.flux.shape[0]

    @property
    def n_bands(self) -> int:
        return len(self.bands)

    @property
    def wave_effective(self) -> np.ndarray:
        """Effective wavelengths of the bands [Å]."""
        return np.array([get_band(b).wave_effective for b in self.bands])

    @property
    def observed(self) -> np.ndarray:
        """(N, B) bool: band observed (detected or not)."""
        return self.state != NOT_OBSERVED

    @property
    def detected(self) -> np.ndarray:
        """(N, B) bool: band observed and detected."""
        return self.state == OBSERVED

    def mag(self) -> np.ndarray:
        """(N, B) AB magnitudes; NaN where not observed or not detected."""
        return np.where(self.detected, flux_to_mag(self.flux), np.nan)

    def mag_err(self) -> np.ndarray:
        """(N, B) 1σ AB-magnitude errors; NaN where not observed or not detected."""
        return np.where(self.detected, flux_err_to_mag_err(self.flux, self.flux_err), np.nan)

    def colours(self) -> np.ndarray:
        """(N, B−1) adjacent colours m[i+1] − m[i]; NaN where either band is unusable."""
        return adjacent_colours(self.mag())

    def flux_in(self, unit) -> u.Quantity:
        """Fluxes as a Quantity in ``unit``."""
        return (self.flux * u.uJy).to(unit)

    def select(self, rows) -> "Photometry":
        """A new Photometry of the given rows (index array or boolean mask), in that order."""
        rows = np.asarray(rows)
        return Photometry(self.bands, self.flux[rows], self.flux_err[rows], self.state[rows],
                          self.ids[rows], None if self.z is None else self.z[rows])

    def select_bands(self, bands) -> "Photometry":
        """A new Photometry with only the given bands (aliases allowed), by wavelength."""
        canon = sort_bands(bands)
        missing = [b for b in canon if b not in self.bands]
        if missing:
            raise BandError(f"bands {missing} are not in this photometry ({list(self.bands)})")
        idx = [self.bands.index(b) for b in canon]
        return Photometry(tuple(canon), self.flux[:, idx], self.flux_err[:, idx],
                          self.state[:, idx], self.ids, self.z)

    def with_z(self, z) -> "Photometry":
        """A copy with the redshift column set."""
        return Photometry(self.bands, self.flux, self.flux_err, self.state, self.ids,
                          np.asarray(z, dtype=float).copy())

    def to_table(self):
        """An astropy Table with id, <band>, <band>_err [µJy] (NaN where not observed) and z."""
        from astropy.table import Table

        t = Table()
        t["id"] = self.ids
        for j, b in enumerate(self.bands):
            t[b] = self.flux[:, j] * u.uJy
            t[b + "_err"] = self.flux_err[:, j] * u.uJy
        if self.z is not None:
            t["z"] = self.z
        return t

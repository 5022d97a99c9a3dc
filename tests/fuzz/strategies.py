"""hypothesis strategies for hostile catalogues and photometry.

Values: NaN, ±inf, the sentinels −99, 99, −999, zero, negative and huge fluxes, zero and negative
errors.  Tables: 0, 1 or a few rows, band columns named in mixed case / by alias / with odd error
suffixes, wrong dtypes (float32, ints, booleans, numbers as text, junk text), units that are and
are not flux densities, ids duplicated or of text, odd column names.  Files: every format, with
duplicate column names, empty, truncated.
"""
from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.table import Table
from hypothesis import strategies as st

#: the bands of the fuzzed models (canonical names, wavelength order)
BANDS = ("jwst_f090w", "jwst_f150w", "jwst_f277w", "jwst_f444w")
_SHORT = {b: b.split("_")[1] for b in BANDS}
SENTINELS = (-99.0, 99.0, -999.0)

special = st.sampled_from([np.nan, np.inf, -np.inf, *SENTINELS, 0.0, -0.0, -1.0, 1e30, -1e30,
                           1e308, -1e308, 5e-324, 1e-30])
flux_value = st.one_of(special, st.floats(-1e3, 1e4, allow_nan=False), st.floats(0.01, 1e3),
                       st.floats(0.01, 1e3))
#: errors: mostly positive; zero, negative and the specials now and then
#: (a negative error raises CatalogError naming band and row: drawn rarely, so that most tables
#: get through to the models)
err_special = st.sampled_from([np.nan, np.inf, -np.inf, -99.0, 99.0, 0.0, -0.0, 1e30, 1e308, 5e-324])


@st.composite
def _err_value(draw):
    k = draw(st.sampled_from(range(40)))
    if k < 34:
        return draw(st.floats(0.001, 10))
    if k < 39:
        return draw(err_special)
    return draw(st.sampled_from([-1.0, -999.0, -1e30]))


err_value = _err_value()
#: (drawn with these repeats: most columns are plain, a few hostile, so that both paths are tried)
UNITS = (None,) * 80 + ("uJy", "uJy", "nJy", "Jy", "erg / (s cm2 Hz)", "erg / (s cm2 Angstrom)", "mag", "m", "dex")
DTYPES = ("f8",) * 30 + ("f4", "f4", "i8", "bool", "text", "text", "junk", "masked", "masked")
JUNK = ("", " ", "nan", "abc", "1e5x", "--", "NULL", "∞", "1,5", "0x10")


def band_name(band: str):
    s = _SHORT[band]
    return st.sampled_from([band, band.upper(), s, s.upper(), s.capitalize(), "JWST_" + s.upper(),
                            "Jwst_" + s])


def err_name(flux_col: str):
    return st.sampled_from([flux_col + "_err", flux_col + "_ERR", flux_col + "_error", flux_col + "err",
                            flux_col + "_unc", flux_col + "_sigma"])


@st.composite
def column(draw, n: int, values):
    """(array or list, unit) of ``n`` values drawn from ``values`` in a drawn dtype."""
    vals = np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype=float)
    kind = draw(st.sampled_from(DTYPES))
    if kind == "f4":
        with np.errstate(over="ignore"):
            return vals.astype(np.float32), draw(st.sampled_from(UNITS))
    if kind == "i8":
        return np.nan_to_num(vals, nan=-99, posinf=99, neginf=-99).clip(-1e15, 1e15).astype(np.int64), None
    if kind == "bool":
        return vals > 0, None
    if kind == "text":
        return np.array([repr(float(v)) for v in vals]), None
    if kind == "junk":
        junk = draw(st.lists(st.sampled_from(JUNK), min_size=n, max_size=n))
        return np.array([j if k % 2 else repr(float(v)) for k, (j, v) in enumerate(zip(junk, vals))]), None
    if kind == "masked":
        mask = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        return np.ma.MaskedArray(vals, mask=mask), draw(st.sampled_from(UNITS))
    return vals, draw(st.sampled_from(UNITS))


@st.composite
def catalogues(draw, max_rows: int = 6, bands=BANDS, z: bool = False):
    """An astropy Table with a drawn subset of ``bands`` (usually all), hostile values, dtypes,
    names, units, ids and extra columns; ``table.meta['n']`` its rows."""
    n = draw(st.sampled_from([0, 1, 1, 2, 3, max_rows]))
    t = Table()
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["int", "dup", "text", "float"]))
        ids = np.arange(n) + 100
        if kind == "dup" and n:
            ids = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
        elif kind == "text":
            ids = np.array([f"obj{i}" for i in ids])
        elif kind == "float":
            ids = ids.astype(float)
        t[draw(st.sampled_from(["id", "ID", "objid"]))] = ids
    present = [b for b in bands if draw(st.integers(0, 29)) > 0]
    for b in present:
        name = draw(band_name(b))
        if name in t.colnames:
            continue
        ename = draw(err_name(name))
        for cname, values in ((name, flux_value), (ename, err_value)):
            data, unit = draw(column(n, values))
            t[cname] = data
            if unit is not None:
                t[cname].unit = u.Unit(unit)
    if z:
        data, _ = draw(column(n, st.one_of(special, st.floats(0, 8))))
        t["z"] = data
    for extra in draw(st.lists(st.sampled_from(["ra", " ", "é", "a b", "F150W_err2", "flags", "z_phot"]),
                               max_size=2, unique=True)):
        if extra not in t.colnames:
            t[extra] = np.zeros(n)
    t.meta["n"] = n
    return t


@st.composite
def mag_arrays(draw, n_bands: int, min_rows: int = 0, max_rows: int = 6):
    """(N, B) magnitudes with NaN, ±inf, sentinels and wild values."""
    n = draw(st.integers(min_rows, max_rows))
    value = st.one_of(st.sampled_from([np.nan, np.inf, -np.inf, -99.0, 99.0, -999.0, 0.0, 1e300, -1e300]),
                      st.floats(15, 35))
    return np.array(draw(st.lists(st.lists(value, min_size=n_bands, max_size=n_bands),
                                  min_size=n, max_size=n)), dtype=float).reshape(n, n_bands)

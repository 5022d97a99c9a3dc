"""Data sets galfast knows: the bundled demo catalogue and the public JWST spec-z catalogue.

The JWST spec-z catalogue (Kalná, Begley & Donnan 2024) ships inside the package as
``galfast/data/jwst_specz.parquet`` (the same rows, columns and values as the released text file;
see ``galfast/data/README.md``).  ``jwst_specz_path`` prefers the text file under the folder named
by the environment variable ``GALFAST_SHARED`` when that is set.  ``jwst_specz_protocol`` applies
the published benchmark protocol of the kernelised local linear regression photo-z paper and
gives 4,605 rows.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np

from .bands import JWST_HST_BANDS
from .catalog import read_catalog
from .errors import CatalogError
from .photometry import OBSERVED, Photometry

__all__ = ["demo_catalog_path", "load_demo_catalog", "load_jwst_specz", "jwst_specz_protocol",
           "stratified_split", "DEMO_CATALOG", "jwst_specz_path", "JWST_SPECZ_CATALOG",
           "JWST_SPECZ_SHARED", "SHARED_ENV"]

DEMO_CATALOG = "demo_jwst.parquet"
#: the bundled JWST spec-z catalogue, in ``galfast/data``
JWST_SPECZ_CATALOG = "jwst_specz.parquet"
#: the released text catalogue, relative to the shared-data folder
JWST_SPECZ_SHARED = Path("data") / "jwst_specz" / "jwst_specz_catalog.ascii"
#: environment variable naming the shared-data folder (the one holding ``JWST_SPECZ_SHARED``)
SHARED_ENV = "GALFAST_SHARED"


def demo_catalog_path() -> Path:
    """Path of the bundled simulated JWST+HST demo catalogue (Parquet)."""
    path = Path(str(resources.files("galfast") / "data" / DEMO_CATALOG))
    if not path.exists():
        raise CatalogError(f"bundled demo catalogue missing: {path} (reinstall galfast)")
    return path


def load_demo_catalog():
    """The bundled demo catalogue as an astropy Table (fluxes in µJy, truths as columns)."""
    return read_catalog(demo_catalog_path())


def jwst_specz_path() -> Path:
    """Path of the JWST+HST spec-z catalogue.

    ``$GALFAST_SHARED/data/jwst_specz/jwst_specz_catalog.ascii`` when the environment variable
    ``GALFAST_SHARED`` is set (a CatalogError naming the path if the file is not there), else the
    bundled ``galfast/data/jwst_specz.parquet`` (the same rows and values).
    """
    shared = os.environ.get(SHARED_ENV)
    if shared:
        path = Path(shared) / JWST_SPECZ_SHARED
        if not path.is_file():
            raise CatalogError(f"JWST spec-z catalogue not found at {path} ({SHARED_ENV}={shared}); "
                               f"unset {SHARED_ENV} to use the bundled copy")
        return path
    path = Path(str(resources.files("galfast") / "data" / JWST_SPECZ_CATALOG))
    if not path.exists():
        raise CatalogError(f"bundled JWST spec-z catalogue missing: {path} (reinstall galfast)")
    return path


def load_jwst_specz(path=None) -> Photometry:
    """The JWST+HST spec-z catalogue as Photometry (11 bands, ``z`` = zspec, −99 → NaN).

    path : the released text file (``.ascii``) or the bundled Parquet file; by default
        ``jwst_specz_path()``.  Both give the same Photometry.

    ids are ``field:ID`` strings, since the catalogue's own ID repeats across its three fields.
    """
    if path is None:
        path = jwst_specz_path()
    table = read_catalog(path, format="ascii" if str(path).endswith(".ascii") else None)
    for col in ("ID", "ra", "zspec"):
        if col not in table.colnames:
            raise CatalogError(f"column {col!r} not found in {path}")
    ra = np.asarray(table["ra"], dtype=float)
    field = np.where(ra < 45, "UDS", np.where(ra < 100, "GOODS-S", "COSMOS"))
    ids = np.array([f"{f}:{i}" for f, i in zip(field, np.asarray(table["ID"]))])
    table["galfast_id"] = ids
    z = np.asarray(table["zspec"], dtype=float)
    z = np.where(z == -99, np.nan, z)
    table["zspec"] = z
    return Photometry.from_table(table, JWST_HST_BANDS, id_column="galfast_id", z_column="zspec",
                                 source=str(path))


def jwst_specz_protocol(phot: Photometry, *, z_max: float = 7.0, complete: bool = True):
    """Rows of the published protocol: z known and ≤ z_max; with ``complete``, all 11 bands
    observed and detected (flux > 0).  Returns (the selected Photometry, their row indices)."""
    keep = np.isfinite(phot.z) & (phot.z <= z_max)
    if complete:
        keep &= np.all(phot.state == OBSERVED, axis=1)
    rows = np.flatnonzero(keep)
    return phot.select(rows), rows


def stratified_split(z, *, seed: int = 0, test_size: float = 0.2, n_bins: int = 14):
    """Train/test row indices from a stratified shuffle split on ``n_bins`` redshift quantiles
    (scikit-learn ``StratifiedShuffleSplit`` on ``pandas.qcut(z, n_bins)``), as in the paper."""
    import pandas as pd
    from sklearn.model_selection import StratifiedShuffleSplit

    z = np.asarray(z, dtype=float)
    if not np.all(np.isfinite(z)):
        raise ValueError("stratified_split needs finite redshifts for every row")
    labels = pd.qcut(z, n_bins, labels=False)
    sss = StratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train, test = next(sss.split(np.zeros(len(z)), labels))
    return train, test



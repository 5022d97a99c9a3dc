"""Shared fixtures: the public JWST spec-z catalogue and thread limits.

The catalogue comes from ``$GALFAST_SHARED/data/jwst_specz/`` when GALFAST_SHARED is set, else from
``../shared/data/jwst_specz/`` beside the repo when that exists (the released text file), else the
copy bundled in the package (``galfast/data/jwst_specz.parquet``), so a bare clone runs alone.
"""
import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

REPO = Path(__file__).resolve().parents[1]
#: the released text catalogue beside the repo, where CI and the developers' machines have it
SHARED_JWST_SPECZ = REPO.parent / "shared" / "data" / "jwst_specz" / "jwst_specz_catalog.ascii"


def _jwst_catalog_path() -> Path:
    from galfast.datasets import SHARED_ENV, jwst_specz_path

    if not os.environ.get(SHARED_ENV) and SHARED_JWST_SPECZ.is_file():
        return SHARED_JWST_SPECZ
    return jwst_specz_path()  # GALFAST_SHARED (must hold the file), else the bundled Parquet


@pytest.fixture(scope="session")
def jwst_catalog_path():
    """Path of the JWST+HST spec-z catalogue: GALFAST_SHARED's text file, else ../shared's,
    else the bundled Parquet copy (the same rows and values)."""
    from galfast.errors import CatalogError

    try:
        return _jwst_catalog_path()
    except CatalogError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def jwst_phot(jwst_catalog_path):
    """The whole catalogue as Photometry (5,667 rows, 11 bands, z = zspec)."""
    import warnings

    from galfast.datasets import load_jwst_specz

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_jwst_specz(jwst_catalog_path)

"""Shared fixtures: the public JWST spec-z catalogue (../shared beside the repo) and thread limits."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GALFAST_SHARED", REPO.parent / "shared"))
JWST_SPECZ = SHARED / "data" / "jwst_specz" / "jwst_specz_catalog.ascii"


@pytest.fixture(scope="session")
def jwst_catalog_path():
    """Path of the shared JWST+HST spec-z catalogue (tests read it in place)."""
    if not JWST_SPECZ.exists():
        pytest.fail(f"shared JWST catalogue not found at {JWST_SPECZ}; set GALFAST_SHARED")
    return JWST_SPECZ


@pytest.fixture(scope="session")
def jwst_phot(jwst_catalog_path):
    """The whole shared catalogue as Photometry (5,667 rows, 11 bands, z = zspec)."""
    import warnings

    from galfast.datasets import load_jwst_specz

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_jwst_specz(jwst_catalog_path)

"""The published JWST protocol through galfast's API: 4,605 rows, 3,684/921 for seed 0; the
bundled copy of the catalogue equals the released text file."""
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from galfast import CatalogWarning, Photometry, read_catalog
from galfast.bands import JWST_HST_BANDS
from galfast.datasets import (JWST_SPECZ_SHARED, SHARED_ENV, jwst_specz_path, jwst_specz_protocol,
                              load_jwst_specz, stratified_split)
from galfast.errors import CatalogError

REPO = Path(__file__).resolve().parents[1]


def _shared_ascii():
    """The released text catalogue: under GALFAST_SHARED if set, else ../shared beside the repo."""
    shared = os.environ.get(SHARED_ENV) or REPO.parent / "shared"
    return Path(shared) / JWST_SPECZ_SHARED


@pytest.fixture(scope="module")
def bundled_path():
    """The bundled Parquet copy, as jwst_specz_path() finds it with GALFAST_SHARED unset."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(SHARED_ENV, raising=False)
        path = jwst_specz_path()
    assert path.name == "jwst_specz.parquet" and path.parent.name == "data"
    assert path.parent.parent.name == "galfast"
    return path


@pytest.fixture(scope="module")
def bundled_phot(bundled_path):
    """load_jwst_specz() with no path and GALFAST_SHARED unset: the bundled copy."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(SHARED_ENV, raising=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # field:ID ids are unique: no CatalogWarning
            phot = load_jwst_specz()
    np.testing.assert_array_equal(phot.flux, load_jwst_specz(bundled_path).flux)
    return phot


def test_protocol_counts(jwst_phot):
    sel, rows = jwst_specz_protocol(jwst_phot)
    assert len(sel) == 4605
    train, test = stratified_split(sel.z, seed=0)
    assert (len(train), len(test)) == (3684, 921)
    assert not set(train) & set(test)
    # every redshift-quantile bin is in both sets in proportion
    assert abs(np.median(sel.z[train]) - np.median(sel.z[test])) < 0.1
    full, _ = jwst_specz_protocol(jwst_phot, complete=False)
    assert len(full) == 5611


def test_ids_are_unique_field_plus_id(jwst_phot):
    assert len(np.unique(jwst_phot.ids)) == len(jwst_phot)
    assert {i.split(":")[0] for i in jwst_phot.ids} == {"UDS", "COSMOS", "GOODS-S"}


def test_catalogue_own_ids_repeat_warn_with_count_and_keep_rows(jwst_catalog_path):
    # the catalogue's ID column repeats across its three fields; read through the plain API
    # (id column "auto" → ID) galfast warns, names the count and the file, and keeps every row
    table = read_catalog(jwst_catalog_path)
    _, counts = np.unique(np.asarray(table["ID"]), return_counts=True)
    n_repeated = int((counts > 1).sum())
    assert n_repeated == 74
    with pytest.warns(CatalogWarning,
                      match=rf"^{n_repeated} ids in .*{re.escape(jwst_catalog_path.name)} "
                            r"occur more than once"):
        phot = Photometry.from_table(table, JWST_HST_BANDS)
    assert len(phot) == 5667
    np.testing.assert_array_equal(phot.ids, np.asarray(table["ID"]))  # rows kept, in file order


def test_split_is_deterministic(jwst_phot):
    sel, _ = jwst_specz_protocol(jwst_phot)
    a = stratified_split(sel.z, seed=3)
    b = stratified_split(sel.z, seed=3)
    c = stratified_split(sel.z, seed=4)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_bundled_catalogue_is_the_whole_released_one(bundled_phot):
    assert bundled_phot.flux.shape == (5667, 11)
    assert bundled_phot.bands == tuple(JWST_HST_BANDS)
    assert len(np.unique(bundled_phot.ids)) == 5667
    assert {i.split(":")[0] for i in bundled_phot.ids} == {"UDS", "COSMOS", "GOODS-S"}
    assert np.isfinite(bundled_phot.z).all() and (bundled_phot.z <= 7).sum() == 5611


def test_bundled_catalogue_equals_the_shared_text_file(bundled_phot, bundled_path):
    src = _shared_ascii()
    if not src.is_file():
        pytest.skip(f"released text catalogue not found at {src}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = load_jwst_specz(src)
    assert text.bands == bundled_phot.bands
    for name in ("flux", "flux_err", "state", "ids", "z"):
        a, b = getattr(text, name), getattr(bundled_phot, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)  # exact; NaN == NaN here
    # and the raw tables, column by column, bit for bit
    t_text = read_catalog(src, format="ascii")
    t_pq = read_catalog(bundled_path)
    assert t_text.colnames == t_pq.colnames
    for c in t_text.colnames:
        a, b = np.asarray(t_text[c]), np.asarray(t_pq[c])
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), c


def test_protocol_on_the_bundled_catalogue(bundled_phot):
    sel, _ = jwst_specz_protocol(bundled_phot)
    assert len(sel) == 4605
    full, _ = jwst_specz_protocol(bundled_phot, complete=False)
    assert len(full) == 5611
    train, test = stratified_split(sel.z, seed=0)
    assert (len(train), len(test)) == (3684, 921)


def test_shared_folder_without_the_catalogue_is_an_error_naming_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv(SHARED_ENV, str(tmp_path))
    expected = tmp_path / "data" / "jwst_specz" / "jwst_specz_catalog.ascii"
    with pytest.raises(CatalogError, match=re.escape(str(expected))):
        jwst_specz_path()
    with pytest.raises(CatalogError, match=re.escape(str(expected))):
        load_jwst_specz()


def test_shared_folder_with_the_catalogue_is_preferred(tmp_path, monkeypatch):
    src = _shared_ascii()
    if not src.is_file():
        pytest.skip(f"released text catalogue not found at {src}")
    monkeypatch.setenv(SHARED_ENV, str(src.parents[2]))
    assert jwst_specz_path() == src

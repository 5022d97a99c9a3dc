"""The published JWST protocol through galfast's API: 4,605 rows, 3,684/921 for seed 0."""
import numpy as np
import pytest

from galfast import CatalogWarning, Photometry, read_catalog
from galfast.bands import JWST_HST_BANDS
from galfast.datasets import jwst_specz_protocol, stratified_split


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
                      match=rf"^{n_repeated} ids in .*jwst_specz_catalog\.ascii occur more than once"):
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

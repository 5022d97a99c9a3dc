"""Catalogue I/O: round trips for every format, streaming, and clear errors naming the file."""
import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table

from galfast import CatalogError, iter_catalog, read_catalog, write_catalog
from galfast.catalog import catalog_rows, guess_format

FORMATS = ["fits", "ecsv", "csv", "parquet", "ascii"]
SUFFIX = {"fits": ".fits", "ecsv": ".ecsv", "csv": ".csv", "parquet": ".parquet", "ascii": ".ascii"}


def _table(n=257, seed=3):
    rng = np.random.default_rng(seed)
    t = Table()
    t["id"] = np.arange(n, dtype=np.int64) * 7 + 1
    t["jwst_f444w"] = rng.lognormal(size=n) * u.uJy
    t["jwst_f444w_err"] = rng.uniform(0.01, 0.1, n) * u.uJy
    t["zspec"] = rng.uniform(0, 7, n)
    return t


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_every_format(tmp_path, fmt):
    t = _table()
    path = write_catalog(t, tmp_path / f"cat{SUFFIX[fmt]}")
    back = read_catalog(path)
    assert back.colnames == t.colnames
    assert len(back) == len(t)
    np.testing.assert_array_equal(np.asarray(back["id"]), np.asarray(t["id"]))
    for c in ("jwst_f444w", "jwst_f444w_err", "zspec"):
        np.testing.assert_allclose(np.asarray(back[c], float), np.asarray(t[c], float), rtol=1e-12)
    if fmt in ("fits", "ecsv", "parquet"):  # formats that carry units
        assert back["jwst_f444w"].unit == u.uJy


@pytest.mark.parametrize("fmt", ["parquet", "csv", "ecsv"])
def test_iter_catalog_streams_all_rows_in_order(tmp_path, fmt):
    t = _table(n=1001)
    path = write_catalog(t, tmp_path / f"cat{SUFFIX[fmt]}")
    chunks = list(iter_catalog(path, chunk_rows=300))
    assert [len(c) for c in chunks] == [300, 300, 300, 101]
    ids = np.concatenate([np.asarray(c["id"]) for c in chunks])
    np.testing.assert_array_equal(ids, np.asarray(t["id"]))
    assert catalog_rows(path) == 1001


def test_write_refuses_to_overwrite(tmp_path):
    path = write_catalog(_table(), tmp_path / "c.parquet")
    with pytest.raises(FileExistsError, match="c.parquet"):
        write_catalog(_table(), path)
    write_catalog(_table(n=5), path, overwrite=True)
    assert len(read_catalog(path)) == 5


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.fits"):
        read_catalog(tmp_path / "nope.fits")


def test_empty_file_names_it(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(CatalogError, match="empty.csv.*empty"):
        read_catalog(p)
    p2 = tmp_path / "header_only.csv"
    p2.write_text("a,b\n")
    with pytest.raises(CatalogError, match="header_only.csv"):
        read_catalog(p2)


def test_unknown_suffix_and_format():
    with pytest.raises(CatalogError, match="cannot tell the format"):
        guess_format("cat.xyz")
    with pytest.raises(CatalogError, match="unknown catalogue format"):
        guess_format("cat.fits", format="hdf9")


def test_garbage_file_names_it(tmp_path):
    p = tmp_path / "broken.parquet"
    p.write_bytes(b"not a parquet file at all")
    with pytest.raises(CatalogError, match="broken.parquet"):
        read_catalog(p)


def test_reads_the_shared_whitespace_catalogue(jwst_catalog_path):
    t = read_catalog(jwst_catalog_path)
    assert len(t) == 5667
    for c in ("ID", "ra", "dec", "f435w", "f444w_err", "zspec"):
        assert c in t.colnames

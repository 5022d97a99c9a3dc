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


# ---------------------------------------------------------------- files as users write them (#14)
BANDS3 = ["jwst_f150w", "jwst_f277w", "jwst_f444w"]


def _user_table(n=40, seed=1):
    rng = np.random.default_rng(seed)
    t = Table()
    t["id"] = np.arange(n, dtype=np.int64) * 3 + 100
    for b in BANDS3:
        t[b] = rng.lognormal(0, 1, n)
        t[b + "_err"] = rng.uniform(0.01, 0.1, n)
    t["name"] = [f"gal{i}" for i in range(n)]
    return t


def test_big_endian_fits_reads_native_and_writes_everywhere(tmp_path):
    t = _user_table()
    t.write(tmp_path / "be.fits")          # astropy writes FITS big-endian
    import astropy.io.fits as fits

    with fits.open(tmp_path / "be.fits") as hdul:
        assert hdul[1].data["id"].dtype.byteorder == ">"
    back = read_catalog(tmp_path / "be.fits")
    for c in back.colnames:
        assert back[c].dtype.byteorder in "=|" or back[c].dtype.isnative, c
    for fmt in FORMATS:   # the crash of #14: Byte-swapped arrays not supported
        out = write_catalog(back, tmp_path / f"out{SUFFIX[fmt]}")
        again = read_catalog(out)
        np.testing.assert_array_equal(np.asarray(again["id"]), np.asarray(t["id"]))
        np.testing.assert_allclose(np.asarray(again["jwst_f444w"], float), t["jwst_f444w"], rtol=1e-12)


def test_big_endian_table_given_directly_writes_to_parquet(tmp_path):
    t = Table({"id": np.arange(5, dtype=">i8"), "f": np.linspace(0, 1, 5).astype(">f4")})
    write_catalog(t, tmp_path / "x.parquet")
    write_catalog(t, tmp_path / "x.csv")
    np.testing.assert_array_equal(read_catalog(tmp_path / "x.parquet")["id"], np.arange(5))
    np.testing.assert_allclose(read_catalog(tmp_path / "x.csv")["f"], np.linspace(0, 1, 5), rtol=1e-6)


def test_pandas_parquet_with_nan_reads_as_masked_float(tmp_path):
    df = _user_table().to_pandas()
    df.loc[[0, 7], "jwst_f150w"] = np.nan      # pandas/pyarrow store these as nulls
    df.to_parquet(tmp_path / "somenan.parquet")
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "somenan.parquet")["jwst_f150w"].null_count == 2
    back = read_catalog(tmp_path / "somenan.parquet")
    col = back["jwst_f150w"]
    assert col.dtype.kind == "f"
    assert list(np.flatnonzero(np.ma.getmaskarray(col))) == [0, 7]
    assert np.isnan(col.data.data[[0, 7]]).all()
    chunks = list(iter_catalog(tmp_path / "somenan.parquet", chunk_rows=5))
    assert chunks[0]["jwst_f150w"].dtype.kind == "f"
    assert np.ma.getmaskarray(chunks[1]["jwst_f150w"]).tolist() == [False, False, True, False, False]


def test_pandas_csv_with_empty_cells_and_nan_text(tmp_path):
    df = _user_table().to_pandas()
    df.loc[3, "jwst_f277w"] = np.nan
    df.to_csv(tmp_path / "empty.csv", index=False)            # pandas writes NaN as an empty cell
    text = (tmp_path / "empty.csv").read_text().splitlines()
    assert ",," in text[4]
    lines = text[:]
    cells = lines[6].split(",")
    cells[1] = "nan"                                            # and some writers write 'nan'
    lines[6] = ",".join(cells)
    (tmp_path / "nantext.csv").write_text("\n".join(lines) + "\n")
    for name in ("empty.csv", "nantext.csv"):
        back = read_catalog(tmp_path / name)
        assert back["jwst_f150w"].dtype.kind == "f" and back["jwst_f277w"].dtype.kind == "f"
        masked = np.ma.getmaskarray(back["jwst_f277w"])
        assert masked[3] and masked.sum() == 1
        streamed = np.concatenate([np.ma.getmaskarray(c["jwst_f277w"])
                                   for c in iter_catalog(tmp_path / name, chunk_rows=7)])
        np.testing.assert_array_equal(streamed, masked)
    assert np.ma.getmaskarray(read_catalog(tmp_path / "nantext.csv")["jwst_f150w"])[5]


def test_ecsv_with_units_and_masked_values(tmp_path):
    from astropy.table import MaskedColumn

    t = _user_table()
    t["jwst_f444w"] = MaskedColumn(t["jwst_f444w"], mask=np.arange(len(t)) == 2, unit=u.nJy)
    t.write(tmp_path / "u.ecsv")
    back = read_catalog(tmp_path / "u.ecsv")
    assert back["jwst_f444w"].unit == u.nJy
    assert np.ma.getmaskarray(back["jwst_f444w"])[2]
    out = write_catalog(back, tmp_path / "u.parquet")
    again = read_catalog(out)
    assert again["jwst_f444w"].unit == u.nJy and np.ma.getmaskarray(again["jwst_f444w"])[2]


def test_truncated_parquet_is_a_catalog_error_naming_the_file(tmp_path):
    path = write_catalog(_user_table(400), tmp_path / "whole.parquet")
    data = path.read_bytes()
    half = tmp_path / "half.parquet"
    half.write_bytes(data[: len(data) // 2])
    for call in (read_catalog, catalog_rows, lambda p: list(iter_catalog(p))):
        with pytest.raises(CatalogError, match="half.parquet"):
            call(half)


@pytest.mark.parametrize("suffix", [".parquet", ".fits", ".ecsv", ".csv"])
def test_junk_file_is_a_catalog_error_in_every_reader(tmp_path, suffix):
    p = tmp_path / f"junk{suffix}"
    p.write_bytes(b"\x00\x01 this is not a catalogue \xff\xfe" * 10)
    for call in (read_catalog, lambda q: list(iter_catalog(q))):
        with pytest.raises(CatalogError, match=f"junk{suffix}"):
            call(p)
    if suffix == ".parquet":
        with pytest.raises(CatalogError, match="junk.parquet"):
            catalog_rows(p)


def test_csv_text_in_a_numeric_column_names_column_row_and_value(tmp_path):
    from galfast import Photometry

    small = tmp_path / "small.csv"      # one block: the column is read as text
    small.write_text("id,jwst_f444w,jwst_f444w_err\n0,1.5,0.1\n1,,0.1\n2,oops,0.1\n3,nan,0.1\n")
    with pytest.raises(CatalogError, match=r"'jwst_f444w' in .*small.csv.*row 2 holds 'oops'"):
        Photometry.from_table(read_catalog(small), ["F444W"])
    late = tmp_path / "late.csv"        # text after the first 4 MB block: the reader says so
    rows = ["id,jwst_f444w"] + [f"{i},{i}.5" for i in range(400_000)] + ["400000,oops"]
    late.write_text("\n".join(rows) + "\n")
    with pytest.raises(CatalogError, match=r"late.csv as csv in column 'jwst_f444w'.*oops"):
        list(iter_catalog(late, chunk_rows=100_000))

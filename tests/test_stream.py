"""The one streaming driver and writer: chunks in, one row per input row out, any format, resume."""
import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table

from galfast import CatalogError, GalfastError, Photometry, flags, read_catalog, write_catalog
from galfast.stream import CatalogWriter, PartStore, stream

BANDS = ("jwst_f150w", "jwst_f444w")
SUFFIXES = (".parquet", ".csv", ".fits", ".ecsv")


class ColourModel:
    """An analytic model: the F150W − F444W colour [mag], flagged missing_bands where unusable."""

    bands_ = BANDS

    def __init__(self, fail_after=None):
        self.calls = 0
        self.fail_after = fail_after

    def get_params(self):
        return {}

    def predict_table(self, phot):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt("killed")
        m = phot.mag()
        t = Table()
        t["id"] = phot.ids
        t["colour"] = (m[:, 0] - m[:, 1]) * u.mag
        f = np.where(np.isfinite(m).all(1), 0, flags.MISSING_BANDS).astype(np.int64)
        t["flags"] = f
        return t


def _catalog(n=1000, seed=0, with_id=False):
    rng = np.random.default_rng(seed)
    t = Table()
    if with_id:
        t["ID"] = rng.permutation(n) + 10_000
    t["F150W"] = rng.lognormal(0, 1, n)
    t["F150W_err"] = np.full(n, 0.01)
    t["F444W"] = rng.lognormal(0, 1, n)
    t["F444W_err"] = np.full(n, 0.01)
    t["ra"] = rng.uniform(0, 360, n)
    t["F444W"][::97] = np.nan
    return t


def _expected_colour(t):
    with np.errstate(invalid="ignore"):
        return -2.5 * np.log10(np.asarray(t["F150W"]) / np.asarray(t["F444W"]))


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_row_numbers_across_chunks_into_every_format(tmp_path, suffix):
    src = write_catalog(_catalog(), tmp_path / "in.parquet")
    out = tmp_path / f"out{suffix}"
    r = stream(ColourModel(), src, out, chunk_rows=300, progress=False, keep_columns=["ra"])
    assert (r["rows"], r["chunks"], r["resumed_chunks"]) == (1000, 4, 0)
    back = read_catalog(out)
    np.testing.assert_array_equal(back["id"], np.arange(1000))      # not 0…299 repeated
    np.testing.assert_allclose(np.asarray(back["colour"], float), _expected_colour(_catalog()), rtol=1e-6)
    assert (np.asarray(back["flags"])[::97] == flags.MISSING_BANDS).all()
    np.testing.assert_allclose(np.asarray(back["ra"]), _catalog()["ra"])
    assert not (tmp_path / f"out{suffix}.parts").exists()


def test_ids_from_the_catalogue_are_kept_in_order(tmp_path):
    cat = _catalog(with_id=True)
    src = write_catalog(cat, tmp_path / "in.csv")
    stream(ColourModel(), src, tmp_path / "out.parquet", chunk_rows=128, progress=False)
    np.testing.assert_array_equal(read_catalog(tmp_path / "out.parquet")["id"], cat["ID"])


def test_big_endian_fits_source_into_parquet_and_csv(tmp_path):
    cat = _catalog(with_id=True)
    cat.write(tmp_path / "in.fits")       # big-endian columns
    for suffix in (".parquet", ".csv"):
        stream(ColourModel(), tmp_path / "in.fits", tmp_path / f"o{suffix}", progress=False,
               keep_columns=["ID"], chunk_rows=400)
        back = read_catalog(tmp_path / f"o{suffix}")
        np.testing.assert_array_equal(back["id"], cat["ID"])
        np.testing.assert_array_equal(back["ID"], cat["ID"])


def test_table_source(tmp_path):
    cat = _catalog(n=50)
    stream(ColourModel(), cat, tmp_path / "o.ecsv", chunk_rows=7, progress=False)
    back = read_catalog(tmp_path / "o.ecsv")
    assert back["colour"].unit == u.mag
    np.testing.assert_array_equal(back["id"], np.arange(50))


def test_interrupted_run_resumes_and_equals_an_uninterrupted_one(tmp_path):
    src = write_catalog(_catalog(), tmp_path / "in.parquet")
    whole = tmp_path / "whole.parquet"
    stream(ColourModel(), src, whole, chunk_rows=100, progress=False)
    out = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        stream(ColourModel(fail_after=4), src, out, chunk_rows=100, progress=False)
    assert not out.exists() and len(list((tmp_path / "out.parquet.parts").glob("part_*"))) == 4
    model = ColourModel()
    r = stream(model, src, out, chunk_rows=100, progress=False)
    assert r["resumed_chunks"] == 4 and model.calls == 6
    a, b = read_catalog(whole), read_catalog(out)
    for c in a.colnames:
        np.testing.assert_array_equal(np.asarray(a[c]), np.asarray(b[c]))


def test_parts_of_another_run_are_not_mixed_in(tmp_path):
    src = write_catalog(_catalog(), tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        stream(ColourModel(fail_after=2), src, out, chunk_rows=100, progress=False)
    with pytest.raises(GalfastError, match="out.parquet.parts.*other arguments"):
        stream(ColourModel(), src, out, chunk_rows=200, progress=False)
    r = stream(ColourModel(), src, out, chunk_rows=200, progress=False, overwrite=True)
    assert r["resumed_chunks"] == 0 and len(read_catalog(out)) == 1000
    with pytest.raises(KeyboardInterrupt):
        stream(ColourModel(fail_after=2), src, tmp_path / "o2.parquet", chunk_rows=100, progress=False)
    r = stream(ColourModel(), src, tmp_path / "o2.parquet", chunk_rows=100, progress=False, resume=False)
    assert r["resumed_chunks"] == 0


def test_output_contract_is_checked(tmp_path):
    class Dropper(ColourModel):
        def predict_table(self, phot):
            return super().predict_table(phot)[1:]

    src = write_catalog(_catalog(n=20), tmp_path / "in.parquet")
    with pytest.raises(GalfastError, match="returned 19 rows for a chunk of 20.*one row per input row"):
        stream(Dropper(), src, tmp_path / "o.parquet", progress=False)
    with pytest.raises(CatalogError, match="'dec' to keep"):
        stream(ColourModel(), src, tmp_path / "o.parquet", progress=False, keep_columns=["dec"],
               overwrite=True)


def test_existing_output_is_refused_without_overwrite(tmp_path):
    src = write_catalog(_catalog(n=20), tmp_path / "in.parquet")
    with pytest.raises(FileExistsError, match="in.parquet"):
        stream(ColourModel(), src, src, progress=False)


def test_writer_streams_parquet_and_leaves_nothing_on_error(tmp_path):
    path = tmp_path / "w.parquet"
    with pytest.raises(RuntimeError):
        with CatalogWriter(path) as w:
            w.write(Table({"a": [1.0, 2.0]}))
            raise RuntimeError("boom")
    assert not path.exists() and list(tmp_path.iterdir()) == []
    with CatalogWriter(path, meta={"GFTEST": {"k": 1}}) as w:
        w.write(Table({"a": np.array([1.0, 2.0], dtype=">f8")}))
        w.write(Table({"a": np.array([3.0])}))
    import pyarrow.parquet as pq

    assert pq.read_schema(path).metadata[b"GFTEST"] == b'{"k": 1}'
    np.testing.assert_array_equal(read_catalog(path)["a"], [1.0, 2.0, 3.0])
    with pytest.raises(CatalogError, match="differ from the first chunk"):
        with CatalogWriter(tmp_path / "x.csv") as w:
            w.write(Table({"a": [1.0]}))
            w.write(Table({"b": [1.0]}))


def test_part_store_detects_a_half_written_part(tmp_path):
    store = PartStore(tmp_path / "o.parquet", {"x": 1})
    store.write(0, Table({"a": [1, 2]}))
    store.part_path(1).write_bytes(b"PAR1 half")
    again = PartStore(tmp_path / "o.parquet", {"x": 1})
    assert again.done == {0: 2} and not again.part_path(1).exists()


@pytest.mark.parametrize("suffix", [".parquet", ".fits", ".ecsv"])
def test_model_meta_and_column_descriptions_reach_the_output_file(tmp_path, suffix):
    class Described(ColourModel):
        def predict_table(self, phot):
            t = super().predict_table(phot)
            t["flags"].description = flags.column_description([flags.MISSING_BANDS])
            t.meta["galfast_model"] = "tests.Colour"
            t.meta["bands"] = list(BANDS)
            return t

    src = write_catalog(_catalog(n=30), tmp_path / "in.parquet")
    stream(Described(), src, tmp_path / f"o{suffix}", chunk_rows=10, progress=False)
    back = read_catalog(tmp_path / f"o{suffix}")
    meta = {k.lower(): v for k, v in back.meta.items()}
    assert meta["galfast_model"] == "tests.Colour"
    assert "jwst_f444w" in str(meta["bands"])
    if suffix != ".fits":
        assert back["flags"].description == "galfast.flags bits: 32 missing_bands"


def test_a_run_that_failed_before_its_first_part_does_not_block_the_corrected_rerun(tmp_path):
    src = write_catalog(_catalog(n=30), tmp_path / "in.parquet")
    with pytest.raises(KeyboardInterrupt):
        stream(ColourModel(fail_after=0), src, tmp_path / "o.parquet", progress=False)
    r = stream(ColourModel(), src, tmp_path / "o.parquet", progress=False, keep_columns=["ra"])
    assert r["rows"] == 30


def test_photoz_model_streams_with_its_own_reader(jwst_phot, tmp_path):
    from galfast import KLLRPhotoZ

    train, target = jwst_phot.select(np.arange(0, 4000)), jwst_phot.select(np.arange(4000, 5000))
    model = KLLRPhotoZ(k=20).fit(train)
    t = target.to_table()
    del t["id"]                       # no id column: ids are row numbers across chunks
    src = write_catalog(t, tmp_path / "target.parquet")
    stream(model, src, tmp_path / "z.parquet", chunk_rows=300, progress=False)
    got = read_catalog(tmp_path / "z.parquet")
    want = model.predict_table(target)
    np.testing.assert_array_equal(got["id"], np.arange(1000))
    np.testing.assert_array_equal(np.asarray(got["z_phot"]), np.asarray(want["z_phot"]))
    np.testing.assert_array_equal(np.asarray(got["bands_used"]), np.asarray(want["bands_used"]))
    assert got.meta["galfast_model"] == "galfast.KLLRPhotoZ"

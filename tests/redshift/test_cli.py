"""``galfast photoz`` on catalogue files: streamed chunks, one row out per row in, ids kept
(also without an id column), band sets, --column-map, --missing-bands, saved models, and files
written as users write them (astropy FITS, ECSV with units, pandas Parquet and CSV with missing
values) into every output format."""
import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.table import MaskedColumn, Table

from galfast import flags
from galfast.catalog import read_catalog, write_catalog
from galfast.cli import main
from galfast.photometry import Photometry
from galfast.redshift import KLLRPhotoZ

BANDS = ["f435w", "f606w", "f814w", "f090w", "f115w", "f150w", "f200w", "f277w", "f356w", "f410m",
         "f444w"]
COLUMNS = ["id", "z_phot", "z_phot_err", "flags", "bands_used", "n_bands_used", "n_neighbours"]


def _catalogue(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = read_catalog(path)   # the released text file or the bundled Parquet copy
    z = np.asarray(t["zspec"], dtype=float)
    return t[(z != -99) & (z <= 7)]


@pytest.fixture(scope="module")
def files(tmp_path_factory, jwst_catalog_path):
    """A training file (FITS, 4,000 spec-z rows) and a 100,000-row target Parquet file built by
    resampling the remaining rows with 0.03 mag of noise (missing bands and non-detections kept)."""
    d = tmp_path_factory.mktemp("photoz_cli")
    t = _catalogue(jwst_catalog_path)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(t))
    train, rest = t[perm[:4000]], t[perm[4000:]]
    write_catalog(train, d / "train.fits")
    n = 100_000
    pick = rng.integers(0, len(rest), n)
    target = rest[pick]
    target["obj"] = np.arange(n) * 7 + 3  # ids that are not row numbers
    for b in BANDS:
        f = np.asarray(target[b], dtype=float)
        ok = f > 0
        target[b] = np.where(ok, f * 10 ** (-0.4 * rng.normal(0, 0.03, n)), f)
    target["f150w"][:5] = -99.0  # not observed
    for b in BANDS:              # a row with one band only: no estimate, still a row out
        target[b][5] = -99.0
    target["f444w"][5] = 1.0
    target["f444w_err"][5] = 0.1
    write_catalog(target["obj", "ra", *[c for b in BANDS for c in (b, b + "_err")], "zspec"],
                  d / "target.parquet")
    small = read_catalog(d / "target.parquet")[:2000]
    small.remove_column("obj")
    write_catalog(small, d / "noid.parquet")
    # the model the other tests load (test_cli_streams_every_row_with_ids fits one with the CLI)
    phot = Photometry.from_table(read_catalog(d / "train.fits"), BANDS, id_column=None, z_column="zspec")
    KLLRPhotoZ().fit(phot).save(d / "model.safetensors")
    return d


def test_cli_streams_every_row_with_ids(files):
    out = files / "out.parquet"
    rc = main(["photoz", "--train", str(files / "train.fits"), "--catalog", str(files / "target.parquet"),
               "--bands", *BANDS, "--id-column", "obj", "--out", str(out), "--chunk-rows", "30000",
               "--save-model", str(files / "cli_model.safetensors"), "--no-progress", "--plot",
               "--target-z-column", "zspec", "--threads", "2"])
    assert rc == 0
    res = read_catalog(out)
    assert res.colnames == COLUMNS
    assert len(res) == 100_000
    np.testing.assert_array_equal(res["id"], np.arange(100_000) * 7 + 3)
    f = np.asarray(res["flags"])
    used = np.asarray(res["bands_used"])
    assert flags.has(f[:5], "missing_bands").all() and (np.asarray(res["n_bands_used"])[:5] <= 10).all()
    assert not ((used[:5] >> BANDS.index("f150w")) & 1).any()  # f150w not used
    assert flags.has(f[5], "no_estimate") and np.isnan(res["z_phot"][5])
    assert np.isfinite(res["z_phot"]).mean() > 0.999
    assert not (f & ~sum(flags.FLAGS)).any()
    assert (files / "out.png").exists()
    # the streamed result equals the in-memory estimator on the same rows
    model = KLLRPhotoZ.load(files / "cli_model.safetensors")
    np.testing.assert_array_equal(model.train_mags_, KLLRPhotoZ.load(files / "model.safetensors").train_mags_)
    tgt = read_catalog(files / "target.parquet")[:3000]
    ref = model.predict_table(Photometry.from_table(tgt, BANDS, id_column="obj"))
    for c in COLUMNS:
        np.testing.assert_array_equal(np.asarray(ref[c]), np.asarray(res[c][:3000]))
    # accuracy on the resampled spec-z galaxies (noise added): a sanity level, not the protocol
    zs = np.asarray(read_catalog(files / "target.parquet", columns=["zspec"])["zspec"])
    dz = (np.asarray(res["z_phot"]) - zs) / (1 + zs)
    assert np.nanmean(np.abs(dz) > 0.15) < 0.12


def test_ids_are_row_numbers_across_chunks_without_an_id_column(files):
    """#8: without an id column every chunk restarted at 0 (ids 0…499 four times)."""
    for suffix in (".parquet", ".csv"):
        out = files / f"noid_out{suffix}"
        assert main(["photoz", "--model", str(files / "model.safetensors"), "--catalog",
                     str(files / "noid.parquet"), "--out", str(out), "--chunk-rows", "500",
                     "--keep-columns", "ra", "--no-progress"]) == 0
        res = read_catalog(out)
        np.testing.assert_array_equal(res["id"], np.arange(2000))
        np.testing.assert_array_equal(res["ra"], read_catalog(files / "noid.parquet")["ra"])


def test_band_set_names_the_bands(files, tmp_path):
    """#8: `galfast photoz --bands jwst_hst` said "unknown band"."""
    model = tmp_path / "m.safetensors"
    assert main(["photoz", "--train", str(files / "train.fits"), "--bands", "jwst_hst", "--catalog",
                 str(files / "noid.parquet"), "--out", str(tmp_path / "o.parquet"), "--k", "15",
                 "--save-model", str(model), "--quiet", "--jobs", "-1"]) == 0
    assert len(KLLRPhotoZ.load(model).bands_) == 11 and KLLRPhotoZ.load(model).k_ == 15
    assert len(read_catalog(tmp_path / "o.parquet")) == 2000


def test_column_map_and_missing_bands(files, tmp_path, capsys):
    """A catalogue column not named after its band: the error names --column-map (and the
    file), and --column-map (applied to the training file and the catalogue) serves it; a band
    the catalogue has no column for is an error, or not observed with --missing-bands mask."""
    small = read_catalog(files / "noid.parquet")[:300]
    renamed = small.copy()
    renamed.rename_column("f444w", "FLUX_444")
    renamed.rename_column("f444w_err", "FLUX_444_err")
    write_catalog(renamed, tmp_path / "renamed.csv")
    write_catalog(small, tmp_path / "plain.csv")
    args = ["photoz", "--train", str(files / "train.fits"), "--bands", *BANDS, "--no-progress"]
    assert main(args + ["--catalog", str(tmp_path / "renamed.csv"), "--out", str(tmp_path / "x.csv")]) == 1
    err = capsys.readouterr().err
    assert "--column-map" in err and "jwst_f444w" in err and "renamed.csv" in err
    assert main(args + ["--catalog", str(tmp_path / "renamed.csv"), "--out", str(tmp_path / "r.csv"),
                        "--column-map", "FLUX_444=F444W"]) == 0
    assert main(args + ["--catalog", str(tmp_path / "plain.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    r, p = read_catalog(tmp_path / "r.csv"), read_catalog(tmp_path / "p.csv")
    np.testing.assert_array_equal(np.asarray(r["z_phot"]), np.asarray(p["z_phot"]))
    # a band with no column at all
    lacking = small.copy()
    lacking.remove_columns(["f435w", "f435w_err"])
    write_catalog(lacking, tmp_path / "lacking.parquet")
    assert main(args + ["--catalog", str(tmp_path / "lacking.parquet"), "--out", str(tmp_path / "e.csv")]) == 1
    assert "--column-map" in capsys.readouterr().err
    assert main(args + ["--catalog", str(tmp_path / "lacking.parquet"), "--out", str(tmp_path / "l.csv"),
                        "--missing-bands", "mask"]) == 0
    res = read_catalog(tmp_path / "l.csv")
    assert len(res) == 300 and flags.has(res["flags"], "missing_bands").all()
    assert not (np.asarray(res["bands_used"]) & 1).any()   # bit 0: f435w, the bluest band


def test_cli_with_saved_model_csv_output_and_errors(files, capsys):
    out = files / "out.csv"
    small = files / "small.ecsv"
    write_catalog(read_catalog(files / "target.parquet")[:500], small)
    assert main(["photoz", "--model", str(files / "model.safetensors"), "--target", str(small),
                 "--id-column", "obj", "--out", str(out), "--no-progress"]) == 0
    res = read_catalog(out)
    assert len(res) == 500 and np.asarray(res["id"]).tolist() == (np.arange(500) * 7 + 3).tolist()
    # exists without --overwrite
    assert main(["photoz", "--model", str(files / "model.safetensors"), "--target", str(small),
                 "--out", str(out), "--no-progress"]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["photoz", "--model", str(files / "model.safetensors"), "--target", str(small),
                 "--id-column", "obj", "--out", str(out), "--no-progress", "--overwrite"]) == 0
    # a band the training file lacks
    assert main(["photoz", "--train", str(files / "train.fits"), "--target", str(small),
                 "--bands", *BANDS[:-1], "F770W", "--out", str(files / "x.csv"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "f770w" in err.lower() and "train.fits" in err
    # a corrupted model file, an old-format (.npz) one, and a catalogue that is not what it says
    (files / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    assert main(["photoz", "--model", str(files / "bad.safetensors"), "--target", str(small),
                 "--out", str(files / "y.csv"), "--no-progress"]) == 1
    assert "bad.safetensors is not a readable galfast model file" in capsys.readouterr().err
    np.savez(files / "old.npz", meta=np.array("{}"))
    assert main(["photoz", "--model", str(files / "old.npz"), "--target", str(small),
                 "--out", str(files / "y.csv"), "--no-progress"]) == 1
    assert "refit and save again" in capsys.readouterr().err
    (files / "junk.parquet").write_bytes(b"this is not parquet" * 10)
    assert main(["photoz", "--model", str(files / "model.safetensors"), "--catalog",
                 str(files / "junk.parquet"), "--out", str(files / "y.csv"), "--no-progress"]) == 1
    assert "junk.parquet" in capsys.readouterr().err


# ---------------------------------------------------------------- #14: files as users write them
NAN_ROWS = [3, 17]
N_ROWS = 40


@pytest.fixture(scope="module")
def survey(tmp_path_factory, jwst_catalog_path):
    """One fitted model file (400 spec-z rows) and a 40-row catalogue of complete rows with its
    own ids, f150w missing in NAN_ROWS, and the in-memory prediction for it."""
    d = tmp_path_factory.mktemp("photoz_user_files")
    t = _catalogue(jwst_catalog_path)
    flux = np.column_stack([np.asarray(t[b], dtype=float) for b in BANDS])
    complete = np.flatnonzero((flux > 0).all(axis=1))
    train, rows = t[complete[:400]], complete[400:400 + N_ROWS]
    model = KLLRPhotoZ(k=15).fit(Photometry.from_table(train, BANDS, id_column=None, z_column="zspec"))
    model.save(d / "model.safetensors")
    base = Table()
    base["id"] = 90_000 - 7 * np.arange(N_ROWS)          # not row numbers, descending
    base["ra"] = np.asarray(t["ra"][rows], dtype=float)
    for b in BANDS:
        base[b] = np.asarray(t[b][rows], dtype=float)
        base[b + "_err"] = np.asarray(t[b + "_err"][rows], dtype=float)
    base["f150w"][NAN_ROWS] = np.nan
    expected = model.predict_table(Photometry.from_table(base, BANDS))
    return d, base, expected


def _astropy_fits(base, path):
    t = base.copy()
    t["f150w"] = MaskedColumn(np.nan_to_num(base["f150w"]), mask=np.isnan(base["f150w"]))
    t.write(path)                  # big-endian columns, the masked values as NaN


def _ecsv_with_units(base, path):
    t = base.copy()
    for b in BANDS:                # nJy, converted by the reader's units
        t[b] = base[b] * 1000.0 * u.nJy
        t[b + "_err"] = base[b + "_err"] * 1000.0 * u.nJy
    t.write(path)


def _pandas_parquet(base, path):
    base.to_pandas().to_parquet(path)          # NaN stored as null


def _pandas_csv(base, path):
    base.to_pandas().to_csv(path, index=False)  # NaN written as empty cells


WRITERS = {"astropy.fits": _astropy_fits, "astropy_units.ecsv": _ecsv_with_units,
           "pandas.parquet": _pandas_parquet, "pandas.csv": _pandas_csv}


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".fits", ".ecsv"])
@pytest.mark.parametrize("written_by", list(WRITERS))
def test_user_written_files_into_every_output_format(survey, tmp_path, written_by, suffix):
    """#14: FITS (big-endian) crashed the Parquet/CSV writer; nulls (pandas Parquet) and empty CSV
    cells were refused as "not numeric".  Now: every row out, ids kept in order, the rows with a
    missing band flagged missing_bands and served from the others, the same numbers whatever the
    file format and flux unit."""
    d, base, expected = survey
    src = tmp_path / written_by
    WRITERS[written_by](base, src)
    out = tmp_path / f"out{suffix}"
    assert main(["photoz", "--model", str(d / "model.safetensors"), "--catalog", str(src),
                 "--out", str(out), "--keep-columns", "ra", "--chunk-rows", "16", "--no-progress"]) == 0
    res = read_catalog(out)
    assert res.colnames == COLUMNS + ["ra"] and len(res) == N_ROWS
    np.testing.assert_array_equal(np.asarray(res["id"]), np.asarray(base["id"]))
    np.testing.assert_array_equal(np.asarray(res["ra"]), np.asarray(base["ra"]))
    assert np.flatnonzero(flags.has(res["flags"], "missing_bands")).tolist() == NAN_ROWS
    f150w = 1 << BANDS.index("f150w")
    assert ((np.asarray(res["bands_used"]) & f150w) == 0).tolist() == [i in NAN_ROWS for i in range(N_ROWS)]
    assert np.isfinite(np.asarray(res["z_phot"], dtype=float)).all()
    np.testing.assert_allclose(np.asarray(res["z_phot"], dtype=float), np.asarray(expected["z_phot"]),
                               rtol=1e-9)
    np.testing.assert_array_equal(np.asarray(res["flags"]), np.asarray(expected["flags"]))

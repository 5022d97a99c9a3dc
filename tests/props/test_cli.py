"""``galfast props train|predict``: options, streaming through galfast.stream, and catalogue files
written as users write them (#14): astropy FITS (big-endian, masked), ECSV with units, pandas
Parquet with nulls and pandas CSV with empty cells, each into every output format."""
import numpy as np
import pytest
import torch
from astropy import units as u
from astropy.table import MaskedColumn, Table

from galfast import flags
from galfast.bands import JWST_HST_BANDS
from galfast.catalog import read_catalog, write_catalog
from galfast.cli import main
from galfast.datasets import load_demo_catalog
from galfast.props import PropertyRegressor

from .toy import SMALL, mag_and_flux_tables, toy_universe

OUT_SUFFIXES = (".parquet", ".csv", ".fits", ".ecsv")
TINY = dict(targets=("log_mstar", "av"), hidden=(16,), epochs=5, patience=5, n_jobs=1, random_state=0)
#: rows of the survey files below with a band (F150W) missing, and with the redshift missing
HOLES, NO_Z = [3, 10, 50, 130, 299], 20


def predict(*args):
    return main(["props", "predict", *map(str, args), "--no-progress"])


# ---------------------------------------------------------------------------------- train, predict
def test_cli_train_and_streaming_predict(tmp_path, capsys):
    phot, truth, _ = toy_universe(3000, seed=7)
    t = phot.to_table()
    t["log_mstar"], t["av"] = truth["log_mstar"], truth["av"]
    cat = write_catalog(t, tmp_path / "train.parquet")
    model = tmp_path / "props.safetensors"
    rc = main(["props", "train", "--catalog", str(cat), "--targets", "log_mstar", "av", "--out", str(model),
               "--hidden", "32", "32", "--epochs", "30", "--threads", "1", "--no-progress"])
    assert rc == 0 and model.exists()
    report = capsys.readouterr().out
    assert "held-out test set (600 rows)" in report and "log_mstar" in report
    # predict: CSV without ids, read in 3 chunks → ids are row numbers, one row per input row
    test = t[:1000]
    test.remove_column("id")
    test["z"][7] = np.nan
    csv = write_catalog(test, tmp_path / "new.csv")
    out = tmp_path / "pred.parquet"
    assert predict("--model", model, "--catalog", csv, "--out", out, "--chunk-rows", 400) == 0
    assert "1,000 rows written" in capsys.readouterr().out
    pred = read_catalog(out)
    assert len(pred) == 1000 and np.array_equal(pred["id"], np.arange(1000))
    assert pred.colnames == ["id", "log_mstar", "log_mstar_err", "av", "av_err", "flags"]
    assert pred["log_mstar"].unit == u.dex and pred["av_err"].unit == u.mag
    assert pred["flags"].dtype == np.int64 and pred["flags"][7] == flags.NO_ESTIMATE | flags.NO_REDSHIFT
    direct = PropertyRegressor.load(model).predict_table(test)
    assert np.allclose(pred["log_mstar"], direct["log_mstar"], atol=1e-6, equal_nan=True)
    # a catalogue lacking a trained band → error naming it and the option to fix it, exit status 1
    test.remove_columns(["jwst_f200w", "jwst_f200w_err"])
    write_catalog(test, tmp_path / "lack.parquet")
    assert predict("--model", model, "--catalog", tmp_path / "lack.parquet", "--out", tmp_path / "p2.parquet") == 1
    err = capsys.readouterr().err
    assert "jwst_f200w" in err and "--column-map" in err and "--missing-bands mask" in err
    assert predict("--model", model, "--catalog", tmp_path / "lack.parquet", "--out", tmp_path / "p3.parquet",
                   "--missing-bands", "mask") == 0
    assert flags.has(read_catalog(tmp_path / "p3.parquet")["flags"], "missing_bands").all()


def test_cli_predict_summary_counts_rows_without_an_estimate(tmp_path, capsys, tiny_model, survey_table):
    t = survey_table.copy()
    t["z"][[1, 2, 3]] = np.nan
    cat = write_catalog(t, tmp_path / "s.parquet")
    assert predict("--model", tiny_model, "--catalog", cat, "--out", tmp_path / "o.csv", "--chunk-rows", 100) == 0
    out = capsys.readouterr().out
    assert "300 rows written" in out and "4 without an estimate (flag no_estimate)" in out   # 3 + NO_Z


def test_cli_predict_goes_through_galfast_stream(tmp_path, tiny_model, survey_table, monkeypatch):
    import galfast.stream

    calls = []
    real = galfast.stream.stream

    def spy(model, source, destination, **kw):
        calls.append((model, source, destination, kw))
        return real(model, source, destination, **kw)

    monkeypatch.setattr(galfast.stream, "stream", spy)
    cat = write_catalog(survey_table, tmp_path / "s.parquet")
    assert predict("--model", tiny_model, "--catalog", cat, "--out", tmp_path / "o.parquet", "--chunk-rows", 64,
                   "--keep-columns", "ra", "--jobs", 1) == 0
    (model, source, destination, kw), = calls
    assert isinstance(model, PropertyRegressor) and kw["chunk_rows"] == 64 and kw["keep_columns"] == ["ra"]
    out = read_catalog(tmp_path / "o.parquet")
    assert out.colnames[-1] == "ra" and np.array_equal(out["ra"], survey_table["ra"])


def test_cli_magnitude_input(tmp_path, capsys):
    phot, truth, _ = toy_universe(1200, seed=8)
    tm, tf = mag_and_flux_tables(phot)
    tm["log_mstar"] = truth["log_mstar"]
    cat = write_catalog(tm, tmp_path / "mags.parquet")
    model = tmp_path / "m.safetensors"
    assert main(["props", "train", "--catalog", str(cat), "--mag", "--targets", "log_mstar", "--out", str(model),
                 "--hidden", "16", "--epochs", "2", "--jobs", "1", "--quiet"]) == 0
    reg = PropertyRegressor.load(model)
    assert reg.input == "mag"
    write_catalog(tf, tmp_path / "fluxes.parquet")
    runs = {"mag_default": [str(cat)], "flux": [str(tmp_path / "fluxes.parquet"), "--flux"]}
    for name, (path, *flag) in runs.items():
        assert predict("--model", model, "--catalog", path, "--out", tmp_path / f"{name}.parquet", *flag) == 0
    a, b = read_catalog(tmp_path / "mag_default.parquet"), read_catalog(tmp_path / "flux.parquet")
    assert np.array_equal(a["log_mstar"], b["log_mstar"], equal_nan=True)
    assert np.array_equal(a["log_mstar"], reg.predict_table(tm)["log_mstar"], equal_nan=True)
    capsys.readouterr()


def test_cli_predict_id_column(tmp_path, capsys):
    phot, truth, _ = toy_universe(800, seed=9)
    model = PropertyRegressor(targets=("av",), **dict(SMALL, epochs=2)).fit(
        phot.select(np.arange(500)), truth[:500]).save(tmp_path / "m.safetensors")
    t = phot.select(np.arange(500, 800)).to_table()
    t["SOURCE_ID"] = [f"gal{i:05d}" for i in range(len(t))]       # neither "id" nor row numbers
    cat = write_catalog(t, tmp_path / "cat.parquet")
    out = tmp_path / "p.parquet"
    assert predict("--model", model, "--catalog", cat, "--out", out, "--id-column", "SOURCE_ID",
                   "--chunk-rows", 128) == 0
    pred = read_catalog(out)
    assert len(pred) == 300 and list(pred["id"]) == list(t["SOURCE_ID"])
    assert predict("--model", model, "--catalog", cat, "--out", tmp_path / "q.csv", "--id-column", "objname") == 1
    assert "objname" in capsys.readouterr().err
    # the API: id_column= picks the column, None gives row numbers
    reg = PropertyRegressor.load(model)
    assert list(reg.predict_table(t[:5], id_column="SOURCE_ID")["id"]) == list(t["SOURCE_ID"][:5])
    assert list(reg.predict_table(t[:5], id_column=None)["id"]) == [0, 1, 2, 3, 4]


def test_cli_train_band_set_column_map_and_predict_column_map(tmp_path, capsys):
    t = load_demo_catalog()[:600]
    t.rename_column("jwst_f444w", "FLUX_444")
    t.rename_column("jwst_f444w_err", "FLUX_444_err")
    cat = write_catalog(t, tmp_path / "train.parquet")
    model = tmp_path / "props.safetensors"
    assert main(["props", "train", "--catalog", str(cat), "--targets", "log_mstar", "--out", str(model),
                 "--bands", "jwst_hst", "--column-map", "FLUX_444=F444W", "--hidden", "8", "--epochs", "2",
                 "--test-fraction", "0", "--quiet"]) == 0
    reg = PropertyRegressor.load(model)
    assert reg.bands_ == tuple(JWST_HST_BANDS) and reg.n_jobs is None
    assert predict("--model", model, "--catalog", cat, "--out", tmp_path / "no_map.parquet") == 1
    assert "--column-map" in capsys.readouterr().err
    assert predict("--model", model, "--catalog", cat, "--out", tmp_path / "map.parquet",
                   "--column-map", "FLUX_444=F444W") == 0
    assert len(read_catalog(tmp_path / "map.parquet")) == 600
    # an existing model file is not replaced without --overwrite
    assert main(["props", "train", "--catalog", str(cat), "--targets", "log_mstar", "--out", str(model),
                 "--quiet"]) == 1
    assert "--overwrite" in capsys.readouterr().err


def test_cli_refuses_an_old_torch_model_file_naming_it(tmp_path, capsys, survey_table):
    torch.save({"format": "galfast.props.PropertyRegressor/1", "state_dict": {}}, tmp_path / "props.pt")
    cat = write_catalog(survey_table, tmp_path / "s.parquet")
    assert predict("--model", tmp_path / "props.pt", "--catalog", cat, "--out", tmp_path / "o.parquet") == 1
    assert "props.pt" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- #14: real files
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny, fast model on the bundled demo catalogue, saved once."""
    t = load_demo_catalog()[:400]
    return PropertyRegressor(**TINY).fit(t).save(tmp_path_factory.mktemp("model") / "props.safetensors")


@pytest.fixture(scope="module")
def survey_table():
    """300 other rows of the demo catalogue: shuffled ids, an ra column; F150W missing in HOLES,
    z missing in NO_Z (as NaN)."""
    t = load_demo_catalog()[400:700]
    t["id"] = np.random.default_rng(3).permutation(len(t)) + 70_000
    t["ra"] = np.linspace(150.0, 150.5, len(t))
    t = t[["id", "ra", "z", *[c for b in JWST_HST_BANDS for c in (b, b + "_err")]]]
    for c in t.colnames[2:]:
        t[c] = np.asarray(t[c], dtype=np.float64)
    t["jwst_f150w"][HOLES] = np.nan
    t["z"][NO_Z] = np.nan
    return t


def _astropy_fits(t, folder):
    """FITS written by astropy: every column big-endian; the band with holes a masked column."""
    t = t.copy()
    t["jwst_f150w"] = MaskedColumn(np.nan_to_num(t["jwst_f150w"]), mask=np.isnan(t["jwst_f150w"]))
    t["z"] = MaskedColumn(np.nan_to_num(t["z"]), mask=np.isnan(t["z"]))
    t.write(folder / "astropy.fits")
    back = Table.read(folder / "astropy.fits")
    assert not back["jwst_f150w"].dtype.isnative and not back["id"].dtype.isnative
    return folder / "astropy.fits"


def _ecsv_with_units(t, folder):
    """ECSV written by astropy with units: fluxes and errors in nJy (1000 × the µJy values)."""
    t = t.copy()
    for b in JWST_HST_BANDS:
        for c in (b, b + "_err"):
            t[c] = np.asarray(t[c]) * 1000.0 * u.nJy
    t.write(folder / "units.ecsv")
    return folder / "units.ecsv"


def _pandas_parquet(t, folder):
    """Parquet written by pandas: NaN stored as null."""
    import pyarrow.parquet as pq

    t.to_pandas().to_parquet(folder / "pandas.parquet")
    assert pq.read_table(folder / "pandas.parquet").column("jwst_f150w").null_count == len(HOLES)
    return folder / "pandas.parquet"


def _pandas_csv(t, folder):
    """CSV written by pandas: NaN as empty cells."""
    t.to_pandas().to_csv(folder / "pandas.csv", index=False)
    assert ",," in (folder / "pandas.csv").read_text()
    return folder / "pandas.csv"


WRITERS = {"astropy_fits": _astropy_fits, "ecsv_units": _ecsv_with_units, "pandas_parquet": _pandas_parquet,
           "pandas_csv": _pandas_csv}


@pytest.fixture(scope="module")
def survey_files(tmp_path_factory, survey_table):
    folder = tmp_path_factory.mktemp("survey")
    return {name: write(survey_table, folder) for name, write in WRITERS.items()}


@pytest.mark.filterwarnings("ignore:The unit 'dex' could not be saved")
@pytest.mark.parametrize("out_suffix", OUT_SUFFIXES)
@pytest.mark.parametrize("writer", list(WRITERS))
def test_real_survey_files_into_every_output_format(writer, out_suffix, tiny_model, survey_files, survey_table,
                                                    tmp_path, capsys):
    """#14: every FITS target crashed the Parquet/CSV output (big-endian columns), and Parquet/CSV
    with missing values (nulls, empty cells) was refused as 'not numeric'."""
    out = tmp_path / f"out{out_suffix}"
    assert predict("--model", tiny_model, "--catalog", survey_files[writer], "--out", out,
                   "--chunk-rows", 128, "--keep-columns", "ra") == 0, capsys.readouterr().err
    assert "300 rows written" in capsys.readouterr().out
    got = read_catalog(out)
    assert len(got) == len(survey_table)
    assert np.array_equal(np.asarray(got["id"]), np.asarray(survey_table["id"]))            # kept, in order
    assert np.allclose(got["ra"], survey_table["ra"])
    f = np.asarray(got["flags"])
    assert np.array_equal(np.flatnonzero(f & flags.MISSING_BANDS), HOLES)
    assert list(np.flatnonzero(f & flags.NO_ESTIMATE)) == [NO_Z] and f[NO_Z] & flags.NO_REDSHIFT
    expected = PropertyRegressor.load(tiny_model).predict_table(survey_table)
    assert np.array_equal(f, expected["flags"])
    for c in ("log_mstar", "log_mstar_err", "av", "av_err"):
        assert np.allclose(np.asarray(got[c], dtype=float), expected[c], rtol=1e-5, atol=1e-6, equal_nan=True), c
    assert np.isfinite(np.asarray(got["log_mstar"], dtype=float)[HOLES]).all()        # served, flagged

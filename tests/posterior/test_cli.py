"""``galfast posterior train|sample`` end to end on a small simulated catalogue: the model file and
its evaluation report; one output row per input row with ids; a foreign model file refused."""
import numpy as np
import pytest

from galfast.catalog import read_catalog
from galfast.cli import main


@pytest.fixture(scope="module")
def files(sims, tmp_path_factory):
    d = tmp_path_factory.mktemp("post_cli")
    sims[:1500].write(d / "sims.parquet")
    survey = sims[2400:2403].copy()          # a slice is a view: never change the session fixture
    survey["id"] = ["a", "b", "c"]
    for b in ("jwst_f115w", "jwst_f150w", "jwst_f277w", "jwst_f444w"):
        survey[b][2] = np.nan                                    # c: nothing observed
    survey.write(d / "survey.parquet")
    return d


def test_train_writes_model_and_report(files, capsys):
    rc = main(["posterior", "train", "--catalog", str(files / "sims.parquet"), "--out", str(files / "nl.safetensors"),
               "--hidden", "16", "--n-blocks", "1", "--epochs", "3", "--report", str(files / "report"),
               "--test-fraction", "0.2", "--no-progress"])
    assert rc == 0 and (files / "nl.safetensors").exists()
    report = (files / "report" / "report.md").read_text()
    assert "χ² calibration" in report and "random 30 % of bands hidden" in report
    assert (files / "report" / "residuals.png").stat().st_size > 1000
    assert "held-out" in capsys.readouterr().out
    assert main(["posterior", "train", "--catalog", str(files / "sims.parquet"),
                 "--out", str(files / "nl.safetensors")]) == 1             # exists: refused, not replaced


def test_sample_one_row_per_input_row(files, tmp_path, trained, sampler):
    pytest.importorskip("nutpie")
    trained.save(tmp_path / "nl.safetensors")      # equal to the session's: its compiled model is reused
    out = tmp_path / "post.parquet"
    rc = main(["posterior", "sample", "--model", str(tmp_path / "nl.safetensors"), "--catalog",
               str(files / "survey.parquet"), "--out", str(out), "--chains", "2", "--tune", "60", "--draws", "60",
               "--retry-tune", "0", "--chunk-rows", "2", "--no-progress"])
    assert rc == 0
    t = read_catalog(out)
    assert list(t["id"]) == ["a", "b", "c"] and "log_mstar_median" in t.colnames
    assert np.isnan(t["log_mstar_median"][2]) and np.isfinite(t["log_mstar_median"][0])


def test_sample_refuses_another_kind_of_model(files, tmp_path, capsys):
    from galfast.photometry import Photometry
    from galfast.redshift import KLLRPhotoZ

    sims = read_catalog(files / "sims.parquet")
    phot = Photometry.from_table(sims, ("jwst_f115w", "jwst_f150w", "jwst_f277w", "jwst_f444w"), z_column="z")
    KLLRPhotoZ(k=10).fit(phot).save(tmp_path / "pz.safetensors")
    rc = main(["posterior", "sample", "--model", str(tmp_path / "pz.safetensors"), "--catalog",
               str(files / "survey.parquet"), "--out", str(tmp_path / "x.parquet")])
    assert rc == 1 and "not a NeuralLikelihood" in capsys.readouterr().err

"""galfast images simulate | train | predict, end to end on a few cut-outs."""
import numpy as np
import pyarrow.parquet as pq

from galfast.cli import main


def test_simulate_train_predict(tmp_path, capsys):
    stack, model, pred = tmp_path / "m.fits", tmp_path / "d.safetensors", tmp_path / "p.parquet"
    assert main(["images", "simulate", "--n", "20", "--out", str(stack), "--chunk-rows", "8", "--no-progress"]) == 0
    assert main(["images", "train", "--cutouts", str(stack), "--out", str(model), "--epochs", "1",
                 "--filters", "4", "--dense-units", "8", "--n-dense", "1", "--no-progress"]) == 0
    assert main(["images", "predict", "--model", str(model), "--cutouts", str(stack), "--out", str(pred),
                 "--chunk-rows", "7", "--keep-columns", "z", "--no-progress"]) == 0
    t = pq.read_table(pred)
    assert t.num_rows == 20 and np.array_equal(t.column("id").to_numpy(), np.arange(20))
    assert {"av", "ebv", "log_ssfr", "rv", "flags", "z"} <= set(t.column_names)
    out = capsys.readouterr().out
    assert "20 rows written" in out and "held-out test set" in out
    one = tmp_path / "d1.safetensors"
    assert main(["images", "train", "--cutouts", str(stack), "--out", str(one), "--bands", "F277W",
                 "--epochs", "1", "--filters", "4", "--dense-units", "8", "--n-dense", "1", "--no-progress"]) == 0
    rc = main(["images", "predict", "--model", str(one), "--cutouts", str(stack), "--out", str(tmp_path / "x.parquet"),
               "--no-progress"])
    assert rc == 1 and "band" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet.parts").exists()
    assert main(["images", "predict", "--model", str(one), "--cutouts", str(stack), "--out",
                 str(tmp_path / "x.parquet"), "--pick-bands", "--no-progress"]) == 0

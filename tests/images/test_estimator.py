"""DustCNN: learns A_V better than a constant, determinism, save/load, bad input, flags, tuning."""
import numpy as np
import pytest

from galfast import flags
from galfast.errors import BandError, CatalogError, ModelFileError
from galfast.images import CutoutSet, DustCNN
from galfast.images.cnn import DustNet
from galfast.validation import ParameterError


def test_learns_av_better_than_a_constant(bright_mock):
    tr, te = bright_mock.select(np.arange(160)), bright_mock.select(np.arange(160, 200))
    cnn = DustCNN(targets=("av",), filters=8, dense_units=16, epochs=15, patience=15, random_state=0).fit(tr)
    y = np.asarray(te.table["av"])
    mae = np.mean(np.abs(cnn.predict(te)[:, 0] - y))
    const = np.mean(np.abs(y - np.median(tr.table["av"])))
    assert mae < 0.92 * const, (mae, const)


def test_architecture_branches_per_band():
    import torch

    one, three = DustNet(1, 32, 3, filters=4), DustNet(3, 32, 3, filters=4)
    assert len(one.branches) == 1 and len(three.branches) == 3
    kinds = [type(m).__name__ for m in three.branches[0]]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"] * 3
    assert type(three.head[-2]).__name__ == "Dropout" and three.head[-2].p == 0.5
    assert three(torch.zeros(2, 3, 32, 32)).shape == (2, 3)


def test_deterministic_per_seed_and_sklearn_params(small_mock, tiny_cnn):
    again = DustCNN(filters=4, dense_units=8, n_dense=2, epochs=2, random_state=0).fit(small_mock)
    assert np.array_equal(again.predict(small_mock), tiny_cnn.predict(small_mock))
    other = DustCNN(filters=4, dense_units=8, n_dense=2, epochs=2, random_state=1).fit(small_mock)
    assert not np.array_equal(other.predict(small_mock), tiny_cnn.predict(small_mock))
    p = tiny_cnn.get_params()
    assert p["filters"] == 4 and p["dropout"] == 0.5
    from sklearn.base import clone

    assert clone(tiny_cnn).get_params()["dense_units"] == 8


@pytest.mark.parametrize("loss", ["mse", "percentage"])
def test_other_losses_and_one_band(small_mock, loss):
    cnn = DustCNN(bands=["F277W"], filters=4, dense_units=8, n_dense=1, epochs=1, loss=loss,
                  balance="av", noise_augment=1.0, p_hog=0.2).fit(small_mock)
    assert cnn.bands_ == ("jwst_f277w",)
    out = cnn.predict_table(small_mock.select_bands(["F277W"]))
    assert np.all(np.isfinite(out["av"]))


def test_predict_table_ids_units_rv_and_flags(small_mock, tiny_cnn):
    images = np.array(small_mock.images)
    images[2, 1, 10:12, 10:12] = np.nan
    images[5] = np.random.default_rng(0).normal(0, 1e-3, size=images[5].shape)   # no galaxy: S/N ≈ 0
    ids = np.arange(100, 124)
    out = tiny_cnn.predict_table(CutoutSet(images, ids, small_mock.bands))
    assert len(out) == 24 and np.array_equal(out["id"], ids)
    assert out.colnames[:4] == ["id", "ebv", "av", "log_ssfr"] and "rv" in out.colnames
    assert str(out["av"].unit) == "mag" and out.meta["galfast_model"] == "galfast.DustCNN"
    assert np.all(np.isfinite(out["av"]))
    assert flags.has(out["flags"], "pixels_filled")[2] and flags.has(out["flags"], "pixels_filled").sum() == 1
    assert flags.has(out["flags"], "low_snr")[5]
    low = (np.column_stack([out[f"snr_{b}"] for b in small_mock.bands]) < 5).any(1)
    assert np.array_equal(flags.has(out["flags"], "low_snr"), low)
    masked = np.ma.masked_array(small_mock.images, mask=np.zeros(small_mock.images.shape, bool))
    masked.mask[0, 0, 0, 0] = True
    t = tiny_cnn.predict_table(masked)
    assert flags.has(t["flags"], "pixels_filled")[0]
    ok = tiny_cnn.predict_table(small_mock, snr_cut=-np.inf)   # no cut
    assert not flags.has(ok["flags"], "low_snr").any()


def test_bad_input_errors_name_the_problem(small_mock, tiny_cnn):
    with pytest.raises(CatalogError, match="4-D"):
        tiny_cnn.predict(small_mock.images[:, 0])
    with pytest.raises(CatalogError, match="2 plane"):
        tiny_cnn.predict(small_mock.images[:, :2])
    with pytest.raises(BandError, match="order"):
        tiny_cnn.predict(small_mock.select_bands(["F444W", "F356W", "F277W"]))
    with pytest.raises(BandError, match="1 band"):
        tiny_cnn.predict(small_mock.select_bands(["F277W"]))
    with pytest.raises(CatalogError, match="64×64|trained on 32"):
        tiny_cnn.predict(np.zeros((2, 3, 64, 64), np.float32))
    with pytest.raises(ParameterError, match="bands"):
        DustCNN(epochs=1).fit(np.asarray(small_mock.images), small_mock.table)
    with pytest.raises(ParameterError, match="loss"):
        DustCNN(loss="huber").fit(small_mock)
    with pytest.raises(CatalogError, match="target column"):
        DustCNN(targets=("nope",), epochs=1).fit(small_mock)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DustCNN().predict(small_mock)


def test_save_load_round_trip_and_corruption(tmp_path, small_mock, tiny_cnn):
    import galfast

    path = tiny_cnn.save(tmp_path / "dust.safetensors")
    back = DustCNN.load(path)
    assert np.array_equal(back.predict(small_mock), tiny_cnn.predict(small_mock))
    assert isinstance(galfast.load_model(path), DustCNN)
    raw = path.read_bytes()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(raw[:-40] + bytes(40))
    with pytest.raises(ModelFileError, match="bad.safetensors"):
        DustCNN.load(bad)
    trunc = tmp_path / "trunc.safetensors"
    trunc.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="trunc.safetensors"):
        DustCNN.load(trunc)
    from galfast.props import PropertyRegressor

    with pytest.raises(ModelFileError, match="DustCNN"):
        PropertyRegressor.load(path)


def test_optuna_tuning_small_budget(small_mock):
    cnn = DustCNN(targets=("av",), n_dense=1, epochs=1, random_state=0).tune(small_mock, n_trials=2, max_epochs=1)
    t = cnn.tuning_
    assert len(t["trials"]) == 2
    for trial in t["trials"]:
        assert 4 <= trial["filters"] <= 64 and 8 <= trial["dense_units"] <= 64
        assert trial["batch_size"] in (16, 32, 64) and trial["lr"] in (1e-2, 5e-3, 1e-3, 5e-4, 1e-4)
    assert cnn.get_params()["filters"] == t["best_params"]["filters"] and hasattr(cnn, "model_")

"""Corrupted model files of every kind, for every estimator: truncated, bit-flipped anywhere,
another format's file, a pickle carrying code → ModelFileError naming the file; the pickle's
code never runs."""
import io
import json
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from galfast import KLLRPhotoZ, ModelFileError, PropertyRegressor, load_model
from galfast.datasets import load_demo_catalog

BANDS = ("jwst_f090w", "jwst_f150w", "jwst_f277w", "jwst_f444w")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    t = load_demo_catalog()[:400]
    from galfast import Photometry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pz = KLLRPhotoZ().fit(Photometry.from_table(t, BANDS, z_column="z")).save(d / "photoz.safetensors")
        pp = PropertyRegressor(targets=("log_mstar",), bands=BANDS, hidden=(8,), epochs=2, patience=2,
                               n_jobs=1, random_state=0).fit(t).save(d / "props.safetensors")
    return {KLLRPhotoZ: pz, PropertyRegressor: pp}


ESTIMATORS = [KLLRPhotoZ, PropertyRegressor]


def _loaders(cls):
    return [cls.load, load_model]


def _refused(path, cls):
    for load in _loaders(cls):
        with pytest.raises(ModelFileError, match=Path(path).name):
            load(path)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_truncated_anywhere(saved, cls, tmp_path):
    data = saved[cls].read_bytes()
    for cut in sorted({0, 1, 7, 8, 9, 50, len(data) // 3, len(data) // 2, len(data) - 100, len(data) - 1}):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        _refused(path, cls)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_bit_flipped_anywhere(saved, cls, tmp_path):
    """One flipped bit at 40 places spread over the file (length field, JSON header, metadata,
    every array): never loads silently."""
    data = saved[cls].read_bytes()
    rng = np.random.default_rng(0)
    places = sorted(set(np.linspace(0, len(data) - 1, 30).astype(int)) | set(rng.integers(0, 200, 10)))
    for pos in places:
        flipped = bytearray(data)
        flipped[pos] ^= 1 << int(rng.integers(0, 8))
        path = tmp_path / f"flip{pos}.safetensors"
        path.write_bytes(bytes(flipped))
        _refused(path, cls)


def _other_formats(folder: Path, saved) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from astropy.table import Table

    out = {}
    with open(folder / "npz.safetensors", "wb") as fh:
        np.savez(fh, a=np.ones(3))
    out["npz"] = folder / "npz.safetensors"
    pq.write_table(pa.table({"x": [1.0]}), folder / "parquet.safetensors")
    out["parquet"] = folder / "parquet.safetensors"
    Table({"x": [1.0]}).write(folder / "fits.safetensors", format="fits")
    out["fits"] = folder / "fits.safetensors"
    (folder / "json.safetensors").write_text(json.dumps({"format": "galfast-model"}))
    out["json"] = folder / "json.safetensors"
    from safetensors.numpy import save_file

    save_file({"w": np.ones(2, np.float32)}, str(folder / "st.safetensors"))
    out["plain safetensors"] = folder / "st.safetensors"
    swapped = folder / "swapped.safetensors"      # the other estimator's file
    swapped.write_bytes(saved[PropertyRegressor].read_bytes())
    out["other kind"] = swapped
    return out


@pytest.mark.parametrize("cls", [KLLRPhotoZ], ids=lambda c: c.__name__)
def test_files_of_other_formats(saved, cls, tmp_path):
    for kind, path in _other_formats(tmp_path, saved).items():
        with pytest.raises(ModelFileError, match=path.name):
            cls.load(path)
        if kind != "other kind":
            with pytest.raises(ModelFileError, match=path.name):
                load_model(path)
    with pytest.raises(ModelFileError, match="photoz.safetensors"):
        PropertyRegressor.load(saved[KLLRPhotoZ])


class _Payload:
    """Unpickling this runs ``Path(marker).touch()``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("wrap", ["pickle", "torch-zip", "pickle-after-header"])
def test_a_pickle_with_code_never_runs(cls, wrap, tmp_path, saved):
    marker = tmp_path / "code_ran"
    payload = pickle.dumps(_Payload(marker))
    # the check itself: unpickling does run the code
    pickle.loads(payload)
    assert marker.exists()
    marker.unlink()
    path = tmp_path / f"evil_{wrap}.safetensors"
    if wrap == "pickle":
        path.write_bytes(payload)
    elif wrap == "torch-zip":       # what torch.save writes: a zip holding data.pkl
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("archive/data.pkl", payload)
        path.write_bytes(buf.getvalue())
    else:                           # a real galfast header, then a pickle instead of the arrays
        data = saved[cls].read_bytes()
        n = int.from_bytes(data[:8], "little")
        path.write_bytes(data[: 8 + n] + payload)
    for load in _loaders(cls):
        with pytest.raises(ModelFileError, match=path.name):
            load(path)
    assert not marker.exists(), "the pickle's code ran"


def test_cli_refuses_a_corrupted_model_naming_it(saved, tmp_path, capsys):
    from galfast.cli import main

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(saved[KLLRPhotoZ].read_bytes()[:-10])
    cat = tmp_path / "c.parquet"
    from galfast import write_catalog

    write_catalog(load_demo_catalog()[:5], cat)
    assert main(["photoz", "--model", str(bad), "--catalog", str(cat), "--out", str(tmp_path / "o.parquet")]) == 1
    assert main(["props", "predict", "--model", str(bad), "--catalog", str(cat), "--out",
                 str(tmp_path / "o.parquet")]) == 1
    err = capsys.readouterr().err
    assert err.count("bad.safetensors") == 2

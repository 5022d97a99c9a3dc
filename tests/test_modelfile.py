"""The model-file layer: safetensors arrays + JSON metadata + checksum, gated on the format version."""
import json

import numpy as np
import pytest

from galfast import ModelFileError
from galfast import modelfile
from galfast.modelfile import FORMAT_VERSION, ModelFileMixin, read_model_file, write_model_file


class Affine(ModelFileMixin):
    """y = a·x + b: the smallest estimator with a state."""

    MODEL_KIND = "tests.Affine"
    STATE_VERSION = 2

    def __init__(self, a=None, b=0.0):
        self.a, self.b = a, b

    def to_state(self):
        return {"b": self.b, "bands": ["jwst_f444w"]}, {"a": np.asarray(self.a)}

    @classmethod
    def from_state(cls, meta, arrays):
        return cls(arrays["a"], meta["b"])


def _saved(tmp_path):
    return Affine(np.linspace(0, 1, 50).reshape(5, 10), 2.5).save(tmp_path / "m.safetensors")


def test_round_trip_keeps_arrays_and_meta(tmp_path):
    path = _saved(tmp_path)
    back = Affine.load(path)
    np.testing.assert_array_equal(back.a, np.linspace(0, 1, 50).reshape(5, 10))
    assert back.b == 2.5
    state = read_model_file(path)
    assert state.kind == "tests.Affine" and state.state_version == 2
    assert state.meta["bands"] == ["jwst_f444w"]


def test_truncated_file(tmp_path):
    path = _saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(ModelFileError, match="m.safetensors"):
        Affine.load(path)


def test_flipped_byte_in_an_array_is_caught_by_the_checksum(tmp_path):
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="m.safetensors.*checksum"):
        Affine.load(path)


@pytest.mark.parametrize("content", [b"", b"hello world, not a model", b"PK\x03\x04" + b"\x00" * 60])
def test_foreign_files(tmp_path, content):
    path = tmp_path / "foreign.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="foreign.safetensors"):
        Affine.load(path)


def test_safetensors_file_that_is_not_galfasts(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.ones(3, np.float32)}, str(tmp_path / "other.safetensors"), metadata={"x": "y"})
    with pytest.raises(ModelFileError, match="other.safetensors.*not a galfast model"):
        Affine.load(tmp_path / "other.safetensors")


def test_future_format_and_state_versions_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(modelfile, "FORMAT_VERSION", FORMAT_VERSION + 1)
    future = write_model_file(tmp_path / "future.safetensors", "tests.Affine", 2, {"b": 1.0}, {"a": np.ones(2)})
    monkeypatch.undo()
    with pytest.raises(ModelFileError, match="future.safetensors.*format 2.*upgrade galfast"):
        Affine.load(future)
    newer = write_model_file(tmp_path / "newer.safetensors", "tests.Affine", 3, {"b": 1.0}, {"a": np.ones(2)})
    with pytest.raises(ModelFileError, match="newer.safetensors.*state version 3"):
        Affine.load(newer)


def test_other_galfast_versions_load(tmp_path, monkeypatch):
    monkeypatch.setattr(modelfile, "__version__", "0.0.1")
    path = _saved(tmp_path)
    monkeypatch.undo()
    assert read_model_file(path).galfast_version == "0.0.1"
    assert Affine.load(path).b == 2.5


def test_wrong_kind(tmp_path):
    path = write_model_file(tmp_path / "k.safetensors", "galfast.Other", 1, {}, {"a": np.ones(1)})
    with pytest.raises(ModelFileError, match="k.safetensors holds a galfast.Other model, not a tests.Affine"):
        Affine.load(path)
    with pytest.raises(ModelFileError, match="does not know"):
        modelfile.load_model(path)


def test_damaged_state_is_a_model_file_error(tmp_path):
    path = write_model_file(tmp_path / "d.safetensors", "tests.Affine", 1, {"no_b": 1}, {"a": np.ones(1)})
    with pytest.raises(ModelFileError, match="d.safetensors is a damaged tests.Affine"):
        Affine.load(path)


def test_text_arrays_are_refused_at_write(tmp_path):
    with pytest.raises(TypeError, match="names"):
        write_model_file(tmp_path / "t.safetensors", "tests.Affine", 1, {}, {"names": np.array(["a"])})


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        Affine.load(tmp_path / "nope.safetensors")


def test_fingerprint_tells_models_apart():
    a = Affine(np.ones(3), 1.0)
    assert modelfile.fingerprint(a) == modelfile.fingerprint(Affine(np.ones(3), 1.0))
    assert modelfile.fingerprint(a) != modelfile.fingerprint(Affine(np.ones(3), 1.5))
    assert json.dumps(modelfile.fingerprint(a))

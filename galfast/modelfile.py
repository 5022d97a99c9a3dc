"""The one model-file layer: every saved galfast model is one safetensors file.

A file holds the model's arrays (network weights, training sets, …) as safetensors tensors,
which load without running any code, and string metadata:

``format``          the tag ``galfast-model``
``format_version``  this layout's version (:data:`FORMAT_VERSION`); a reader refuses newer ones
``kind``            the estimator, e.g. ``galfast.KLLRPhotoZ``
``state_version``   the version of that estimator's state (its own ``STATE_VERSION``)
``galfast_version`` the galfast that wrote it (informational: loading is not tied to it)
``meta``            JSON: hyper-parameters, band names, scalers, history, …
``sha256``          SHA-256 over every field above and every array's name, dtype, shape and bytes

Estimators implement ``to_state() -> (meta, arrays)`` and ``from_state(meta, arrays)`` and get
``save``/``load`` from :class:`ModelFileMixin`.  A file that is truncated, corrupted, not a
galfast model, of another kind, or of a future format raises :class:`~galfast.ModelFileError`
naming the file.  :func:`load_model` reads any kind.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._version import __version__
from .catalog import native_array
from .errors import ModelFileError

__all__ = ["FORMAT_TAG", "FORMAT_VERSION", "ModelState", "write_model_file", "read_model_file",
           "ModelFileMixin", "load_model", "register_kind", "fingerprint"]

FORMAT_TAG = "galfast-model"
#: version of the file layout this galfast writes and the newest it reads
FORMAT_VERSION = 1

#: kind -> "module:Class", for load_model
_KINDS = {
    "galfast.KLLRPhotoZ": "galfast.redshift.estimator:KLLRPhotoZ",
    "galfast.PropertyRegressor": "galfast.props.regressor:PropertyRegressor",
    "galfast.NeuralLikelihood": "galfast.posterior.estimator:NeuralLikelihood",
    "galfast.DustCNN": "galfast.images.estimator:DustCNN",
}


@dataclass(frozen=True)
class ModelState:
    """What a model file holds."""

    kind: str
    state_version: int
    meta: dict
    arrays: dict
    galfast_version: str


def register_kind(kind: str, target: str) -> None:
    """Let :func:`load_model` read files of ``kind`` with class ``target`` ("module:Class")."""
    _KINDS[kind] = target


def _digest(header: dict, arrays: dict) -> str:
    h = hashlib.sha256()
    for key in ("format", "format_version", "kind", "state_version", "galfast_version", "meta"):
        b = str(header[key]).encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}".encode("utf-8"))
        h.update(a.view(np.uint8).reshape(-1).tobytes() if a.size else b"")
    return h.hexdigest()


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    if isinstance(v, (tuple, set)):
        return [_jsonable(x) for x in v]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def fingerprint(model) -> str:
    """SHA-256 of a fitted model's state (``to_state``), or of its class and parameters if it has
    none: equal for equal models, so a resumed run can tell it is given the same model."""
    if hasattr(model, "to_state"):
        meta, arrays = model.to_state()
        header = {"format": FORMAT_TAG, "format_version": FORMAT_VERSION,
                  "kind": getattr(model, "MODEL_KIND", type(model).__name__),
                  "state_version": getattr(model, "STATE_VERSION", 0), "galfast_version": "",
                  "meta": json.dumps(_jsonable(meta), sort_keys=True)}
        return _digest(header, {k: np.asarray(v) for k, v in arrays.items()})
    params = model.get_params() if hasattr(model, "get_params") else {}
    text = json.dumps({"class": type(model).__qualname__, "params": _jsonable(params)},
                      sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def write_model_file(path, kind: str, state_version: int, meta: dict, arrays: dict) -> Path:
    """Write one model file atomically (a temporary file renamed into place); return the path."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {}
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"model array {name!r} has dtype {a.dtype}; only numbers and booleans "
                            "are stored as arrays (put text in meta)")
        clean[str(name)] = np.ascontiguousarray(native_array(a))
    header = {"format": FORMAT_TAG, "format_version": str(FORMAT_VERSION), "kind": kind,
              "state_version": str(int(state_version)), "galfast_version": __version__,
              "meta": json.dumps(_jsonable(meta), allow_nan=True)}
    header["sha256"] = _digest(header, clean)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        save_file(clean, str(tmp), metadata=header)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_model_file(path, kind: str | None = None, max_state_version: int | None = None) -> ModelState:
    """Read and verify a model file; ModelFileError naming ``path`` unless it is a sound galfast
    model file (of ``kind``, with a state version ≤ ``max_state_version``, when given)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a galfast model file")
    try:
        with safe_open(str(path), framework="np") as fh:
            header = dict(fh.metadata() or {})
            arrays = {name: fh.get_tensor(name) for name in fh.keys()}
    except Exception as exc:   # truncated, not safetensors, …: safetensors raises several types
        raise ModelFileError(f"{path} is not a readable galfast model file ({type(exc).__name__}: "
                             f"{exc}); galfast {__version__} saves models as safetensors files "
                             f"(format {FORMAT_TAG!r})") from None
    if header.get("format") != FORMAT_TAG:
        raise ModelFileError(f"{path} is a safetensors file but not a galfast model (no format tag "
                             f"{FORMAT_TAG!r})")
    try:
        fmt_version = int(header["format_version"])
        state_version = int(header["state_version"])
        file_kind = header["kind"]
        stored = header["sha256"]
        header["galfast_version"], header["meta"]   # digested below: a damaged key is a damaged file
    except (KeyError, ValueError) as exc:
        raise ModelFileError(f"{path} is a damaged galfast model file (header field {exc})") from None
    if fmt_version > FORMAT_VERSION:
        raise ModelFileError(f"{path} has model-file format {fmt_version}, newer than this galfast "
                             f"{__version__} reads (≤ {FORMAT_VERSION}; written by galfast "
                             f"{header.get('galfast_version')}): upgrade galfast")
    if kind is not None and file_kind != kind:
        raise ModelFileError(f"{path} holds a {file_kind} model, not a {kind}")
    if max_state_version is not None and state_version > max_state_version:
        raise ModelFileError(f"{path} holds {file_kind} state version {state_version}, newer than this "
                             f"galfast {__version__} reads (≤ {max_state_version}): upgrade galfast")
    if _digest(header, arrays) != stored:
        raise ModelFileError(f"{path} is corrupted: its SHA-256 checksum does not match its contents "
                             "(arrays or metadata changed since it was written)")
    try:
        meta = json.loads(header["meta"])
    except ValueError as exc:
        raise ModelFileError(f"{path} is a damaged galfast model file (metadata: {exc})") from None
    return ModelState(file_kind, state_version, meta, arrays, header.get("galfast_version", "?"))


class ModelFileMixin:
    """``save``/``load`` through the model-file layer for estimators with ``to_state``/``from_state``.

    Subclasses set ``MODEL_KIND`` (e.g. "galfast.KLLRPhotoZ") and ``STATE_VERSION`` (int).
    """

    MODEL_KIND: str = ""
    STATE_VERSION: int = 1

    def save(self, path) -> Path:
        """Write the fitted model to one file (see :mod:`galfast.modelfile`); returns the path."""
        meta, arrays = self.to_state()
        return write_model_file(path, self.MODEL_KIND, self.STATE_VERSION, meta, arrays)

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`; ModelFileError naming the file if it cannot."""
        state = read_model_file(path, kind=cls.MODEL_KIND, max_state_version=cls.STATE_VERSION)
        try:
            return cls.from_state(state.meta, state.arrays)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            raise ModelFileError(f"{path} is a damaged {cls.MODEL_KIND} file ({type(exc).__name__}: "
                                 f"{exc})") from None


def load_model(path):
    """Any galfast model file → the fitted estimator it holds."""
    from importlib import import_module

    state = read_model_file(path)
    target = _KINDS.get(state.kind)
    if target is None:
        raise ModelFileError(f"{path} holds a {state.kind} model, which this galfast does not know "
                             f"(known: {sorted(_KINDS)})")
    module, _, name = target.partition(":")
    cls = getattr(import_module(module), name)
    return cls.load(path)

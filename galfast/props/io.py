"""Save/load a fitted :class:`PropertyRegressor` as one file.

The file is ``torch.save`` of a dict: ``format`` (a fixed tag), ``galfast_version``, ``meta`` (a
JSON string: hyper-parameters, bands, targets, feature softenings and scalers, target scalers, σ
scales, training history), ``state_dict`` (the network weights) and ``sha256``: a SHA-256 over
the format tag, the version, the metadata and every tensor's name, dtype, shape and bytes.  It is
read back with ``torch.load(weights_only=True)``, so loading never runs pickled code, and the
digest is recomputed, so that flipped bytes inside a weight tensor (which ``torch.load`` does not
notice) are caught.  A file from another galfast version, of another kind, truncated, or whose
digest does not match raises :class:`~galfast.errors.ModelFileError` naming the file.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import ModelFileError

__all__ = ["save_model", "load_model", "FORMAT"]

FORMAT = "galfast.props.PropertyRegressor/1"


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, tuple):
        return list(v)
    return v


def payload_digest(fmt: str, version: str, meta: str, state_dict: dict) -> str:
    """Hex SHA-256 of a model payload: format, version, metadata JSON and the tensors, by name."""
    import torch

    h = hashlib.sha256()
    for text in (fmt, version, meta):
        b = str(text).encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    for name in sorted(state_dict):
        t = state_dict[name]
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"state_dict entry {name!r} is not a tensor")
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode("utf-8"))
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_model(reg, path) -> Path:
    """Write fitted ``reg`` to ``path`` (parent folders created); return the path."""
    import torch

    reg._check_fitted()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    params = {k: _jsonable(v) for k, v in reg.get_params().items()}
    meta = {
        "params": params,
        "bands": list(reg.bands_),
        "targets": list(reg.targets_),
        "features": reg.features_.to_dict(),
        "target_mean": reg.target_mean_.tolist(),
        "target_scale": reg.target_scale_.tolist(),
        "sigma_scale": reg.sigma_scale_.tolist(),
        "band_dropout": reg.band_dropout_,
        "n_train": reg.n_train_,
        "n_val": reg.n_val_,
        "history": reg.history_,
    }
    state = {k: v.detach().cpu().contiguous() for k, v in reg.model_.state_dict().items()}
    meta_json = json.dumps(meta)
    payload = {"format": FORMAT, "galfast_version": __version__, "meta": meta_json, "state_dict": state,
               "sha256": payload_digest(FORMAT, __version__, meta_json, state)}
    torch.save(payload, path)
    return path


def load_model(path):
    """Read a model written by :func:`save_model`; ModelFileError if unreadable or incompatible."""
    import torch

    from .features import FeatureMaker
    from .regressor import PropertyRegressor

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:   # truncated, not a torch file, pickled code, …
        raise ModelFileError(f"{path} is not a readable galfast model file ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a galfast PropertyRegressor file "
                             f"(format {payload.get('format') if isinstance(payload, dict) else type(payload)!r})")
    version = payload.get("galfast_version")
    if version != __version__:
        raise ModelFileError(f"{path} was written by galfast {version}; this is galfast {__version__}: "
                             "retrain the model (galfast props train) with this version")
    try:
        digest = payload_digest(payload["format"], version, payload["meta"], payload["state_dict"])
    except Exception as exc:   # missing key, non-tensor entries, …
        raise ModelFileError(f"{path} is a damaged galfast model file ({type(exc).__name__}: {exc})") from None
    stored = payload.get("sha256")
    if stored is None:
        raise ModelFileError(f"{path} has no checksum (written before galfast stored one, or altered): "
                             "retrain the model (galfast props train)")
    if stored != digest:
        raise ModelFileError(f"{path} is corrupted: its SHA-256 checksum does not match its contents "
                             "(weights or metadata changed since it was written)")
    try:
        meta = json.loads(payload["meta"])
        params = meta["params"]
        for key in ("targets", "hidden"):
            params[key] = tuple(params[key])
        if params.get("bands") is not None:
            params["bands"] = tuple(params["bands"])
        reg = PropertyRegressor(**params)
        reg.targets_ = tuple(meta["targets"])
        reg.bands_ = tuple(meta["bands"])
        reg.features_ = FeatureMaker.from_dict(meta["features"])
        reg.target_mean_ = np.asarray(meta["target_mean"], dtype=float)
        reg.target_scale_ = np.asarray(meta["target_scale"], dtype=float)
        reg.sigma_scale_ = np.asarray(meta["sigma_scale"], dtype=float)
        reg.band_dropout_ = meta["band_dropout"]
        reg.n_train_, reg.n_val_ = meta["n_train"], meta["n_val"]
        reg.history_ = meta["history"]
        model = reg._build_network()
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path} is a damaged galfast model file ({type(exc).__name__}: {exc})") from None
    model.eval()
    reg.model_ = model
    return reg

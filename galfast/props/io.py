"""Save/load a fitted :class:`PropertyRegressor` as one file.

The file is ``torch.save`` of a dict: ``format`` (a fixed tag), ``galfast_version``, ``meta`` (a
JSON string: hyper-parameters, bands, targets, feature softenings and scalers, target scalers, σ
scales, training history) and ``state_dict`` (the network weights).  It is read back with
``torch.load(weights_only=True)``, so loading never runs pickled code.  A file from another
galfast version, of another kind, or corrupted raises :class:`~galfast.errors.ModelFileError`.
"""
from __future__ import annotations

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
    payload = {"format": FORMAT, "galfast_version": __version__, "meta": json.dumps(meta),
               "state_dict": {k: v.detach().cpu() for k, v in reg.model_.state_dict().items()}}
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

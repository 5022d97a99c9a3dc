"""``galfast.photoz``: the drop-in photo-z function (fit, optionally tune, predict in one call)."""
from __future__ import annotations

import numpy as np

from ..photometry import Photometry
from .estimator import KLLRPhotoZ

__all__ = ["photoz"]


def _mags(x, what: str):
    """Magnitudes (N, B) from an array or a Photometry; (mags, band names or None, z or None)."""
    if isinstance(x, Photometry):
        return x.mag(), x.bands, x.z
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-d (N, B) magnitude array, got shape {arr.shape}")
    return arr, None, None


def photoz(train_mags, train_z, target_mags, *, k=None, lam=None, gamma=None, tune=False,
           random_state=None, n_trials: int = 50, n_folds: int = 5, n_jobs=None, bands=None,
           return_model=False):
    """Photometric redshifts by kernelised local linear regression.

    train_mags, target_mags : (N, B) AB magnitudes, bands in wavelength order, NaN where a band is
        missing or undetected (or :class:`~galfast.Photometry` values; then ``train_z`` may be None
        to use their ``z``)
    train_z : (N_train,) spectroscopic redshifts
    k, lam, gamma : hyperparameters (None: galfast's defaults, or tuned with ``tune=True``)
    tune : Bayesian optimisation of the hyperparameters not given, ``n_trials`` trials over
        ``n_folds``-fold stratified CV (deterministic for a ``random_state``)
    bands : names of the magnitude columns (e.g. ``["F435W", "F606W", …]``) when plain arrays are
        given: checked to be known bands in wavelength order (BandError naming them otherwise).
        Without names, arrays can only be checked for their number of columns.

    Returns ``(z, z_err, flags)``, arrays of length N_target in input order; NaN where no estimate
    is possible (flag bit ``FLAG_NO_ESTIMATE``); flag bits ≥ 16 are the bands used.  With
    ``return_model`` the fitted :class:`KLLRPhotoZ` is returned as a fourth value.
    """
    tm, tbands, tz = _mags(train_mags, "train_mags")
    qm, qbands, _ = _mags(target_mags, "target_mags")
    if bands is not None:
        tbands = tuple(bands) if tbands is None else tbands
        qbands = tuple(bands) if qbands is None else qbands
    if train_z is None:
        if tz is None:
            raise ValueError("train_z is None and train_mags carries no redshifts")
        train_z = tz
    est = KLLRPhotoZ(k=k, lam=lam, gamma=gamma, n_jobs=n_jobs)
    if tune:
        from .tuning import tune_kllr

        res = tune_kllr(tm, train_z, n_trials=n_trials, n_folds=n_folds, random_state=random_state,
                        fixed={"k": k, "lam": lam, "gamma": gamma}, n_jobs=n_jobs)
        est.set_params(**res.best_params)
    est.fit(tm, train_z, bands=tbands)
    r = est.predict_full(qm, bands=qbands if tbands is not None else None)
    out = (r["z"], r["z_err"], r["flags"])
    return out + (est,) if return_model else out

"""``galfast.photoz``: the drop-in photo-z function (fit, optionally tune, predict in one call)."""
from __future__ import annotations

import numpy as np

from ..photometry import Photometry
from .estimator import KLLRPhotoZ

__all__ = ["photoz"]


def _check_mags(x, what: str):
    if isinstance(x, Photometry):
        return x
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-d (N, B) magnitude array, got shape {arr.shape}")
    return arr


def photoz(train_mags, train_z, target_mags, *, k=None, lam=None, gamma=None, tune=False,
           random_state=None, n_trials: int = 50, n_folds: int = 5, n_jobs=None, bands=None,
           return_model=False):
    """Photometric redshifts by kernelised local linear regression, arrays in and arrays out.

    train_mags, target_mags : (N, B) AB magnitudes, bands in wavelength order, NaN where a band is
        missing or undetected (or :class:`~galfast.Photometry` values; then ``train_z`` may be None
        to use their ``z``, and a target Photometry is matched to the training bands by name)
    train_z : (N_train,) spectroscopic redshifts
    k, lam, gamma : hyperparameters (None: galfast's defaults, or tuned with ``tune=True``)
    tune : Bayesian optimisation of the hyperparameters not given, ``n_trials`` trials over
        ``n_folds``-fold stratified CV (``random_state``: None, an int or a Generator; the same
        int gives the same result)
    n_jobs : threads; None = 1, −1 = all cores (:func:`galfast.validation.effective_n_jobs`)
    bands : names of the magnitude columns (e.g. ``["F435W", "F606W", …]``) when plain arrays are
        given: checked to be known bands in wavelength order (BandError naming them otherwise).
        Without names, arrays can only be checked for their number of columns.

    Returns ``(z, z_err, flags)``, arrays of length N_target in input order; NaN where no estimate
    is possible (flag ``no_estimate``).  ``flags`` holds only :mod:`galfast.flags` condition bits
    (it no longer carries the bands used at bits ≥ 16); the bands each row used are the
    ``bands_used`` bitmask of ``KLLRPhotoZ.predict_full`` / ``predict_table`` — ask for the fitted
    model with ``return_model=True`` (a fourth value) to get them.
    """
    tm = _check_mags(train_mags, "train_mags")
    qm = _check_mags(target_mags, "target_mags")
    if train_z is None and not isinstance(tm, Photometry):
        raise ValueError("train_z is None and train_mags carries no redshifts")
    if train_z is None and tm.z is None:
        raise ValueError("train_z is None and the training Photometry has no z")
    est = KLLRPhotoZ(k=k, lam=lam, gamma=gamma, n_jobs=n_jobs)
    if tune:
        from .tuning import tune_kllr

        res = tune_kllr(tm, train_z, n_trials=n_trials, n_folds=n_folds, random_state=random_state,
                        fixed={"k": k, "lam": lam, "gamma": gamma}, n_jobs=n_jobs)
        est.set_params(**res.best_params)
    fit_bands = None if isinstance(tm, Photometry) else bands
    est.fit(tm, train_z, bands=fit_bands)
    if len(qm) == 0:    # no targets: no rows out (scikit-learn's checks refuse empty arrays)
        out = (np.empty(0), np.empty(0), np.empty(0, dtype=np.int64))
        return out + (est,) if return_model else out
    if isinstance(qm, Photometry):
        if est.bands_ is None:
            r = est.predict_full(qm.mag())
        else:
            r = est.predict_full(qm)
    else:
        r = est.predict_full(qm, bands=bands if est.bands_ is not None else None)
    out = (r["z"], r["z_err"], r["flags"])
    return out + (est,) if return_model else out

"""``DustCNN``: E(B−V), A_V and sSFR from galaxy cut-outs (1 band or several), scikit-learn style.

    cnn = DustCNN(targets=("ebv", "av", "log_ssfr")).fit(cutouts)        # CutoutSet with truths
    cnn = DustCNN(bands=("F277W",)).fit(images[:, :1], table)           # the 1-band network
    out = cnn.predict_table(read_cutouts("observed.fits"))
    cnn.tune(cutouts, n_trials=20)       # optuna: filters, dense units, learning rate, batch size
    cnn.save("dust.safetensors"); DustCNN.load("dust.safetensors")

Input: a :class:`~galfast.images.CutoutSet` (its bands are checked against the model's: count
and order) or an (N, B, H, W) array in the model's band order.  Preprocessing, the same in fit
and predict: NaN / masked pixels are replaced by the image's median in that band (flag
``pixels_filled``); each image's background σ per band is 1.4826·MAD of its 2-pixel border; S/N
per band is the flux in a 0.3″-radius central aperture over σ·√N_pixels (output ``snr_<band>``;
flag ``low_snr`` below ``snr_cut``, kept, never dropped); each image is divided by one number,
its aperture flux summed over bands (so colours survive; the network sees shapes and colours,
not brightness).

Output (:meth:`predict_table`): one row per image in input order, ``id`` (the stack's ids),
each target (mag for A_V and E(B−V), dex for log sSFR), ``rv`` = av / ebv when both are
targets (R_V derived, NaN where ebv ≤ 0), ``snr_<band>``, ``flags``.

Training: Adam, mini-batches re-augmented every epoch (random quarter-turns and flips through
:mod:`galfast.images.augment`, optional background-σ Gaussian noise and HOG images, optional
balancing of one target by resampling rare values), early stopping on a held-out validation
split.  Losses: ``mae`` / ``mse`` on standardised targets, or ``percentage`` (100·|ŷ − y| /
max(|y|, 0.1 σ_y) on physical values: the seed's choice).  An int ``random_state`` gives the
same fit every time on the CPU.
"""
from __future__ import annotations

import copy
import numbers
import time

import numpy as np
from sklearn.base import BaseEstimator

from .. import flags as _flags
from ..bands import expand_bands, resolve_band
from ..errors import CatalogError
from ..modelfile import ModelFileMixin
from ..validation import ParameterError, check_random_state, effective_n_jobs, seed_from
from .io import CutoutSet, as_cube, check_bands

__all__ = ["DustCNN", "FLAG_BITS", "preprocess"]

FLAG_BITS = (_flags.PIXELS_FILLED, _flags.LOW_SNR)
_LOSSES = ("mae", "mse", "percentage")
SNR_APERTURE = 0.3
LEARNING_RATES = (1e-2, 5e-3, 1e-3, 5e-4, 1e-4)
BATCH_SIZES = (16, 32, 64)


def preprocess(images, pixel_scale: float = 0.063):
    """(normalised float32 images, filled (N,) bool, S/N (N, B)) — see the module docstring."""
    mask = np.ma.getmaskarray(images) if np.ma.isMaskedArray(images) else None
    x = np.array(np.ma.getdata(images) if mask is not None else images, dtype=np.float32)
    bad = ~np.isfinite(x)
    if mask is not None:
        bad |= mask
    filled = bad.any(axis=(1, 2, 3))
    if filled.any():
        for i in np.flatnonzero(filled):
            for b in range(x.shape[1]):
                plane = x[i, b]
                m = bad[i, b]
                if m.any():
                    good = plane[~m]
                    plane[m] = np.median(good) if good.size else 0.0
    n, nb, h, w = x.shape
    border = np.concatenate([x[:, :, :2].reshape(n, nb, -1), x[:, :, -2:].reshape(n, nb, -1),
                             x[:, :, 2:-2, :2].reshape(n, nb, -1), x[:, :, 2:-2, -2:].reshape(n, nb, -1)], axis=2)
    med = np.median(border, axis=2)
    sigma = 1.4826 * np.median(np.abs(border - med[:, :, None]), axis=2)
    yy, xx = np.mgrid[:h, :w]
    ap = ((yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2) <= (SNR_APERTURE / pixel_scale) ** 2
    ap_flux = x[:, :, ap].sum(axis=2)
    noise = sigma * np.sqrt(ap.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(noise > 0, ap_flux / noise, np.where(ap_flux > 0, np.inf, 0.0))
    scale = ap_flux.sum(axis=1)
    floor = 3.0 * noise.sum(axis=1)
    scale = np.where(scale > floor, scale, np.where(floor > 0, floor, 1.0))
    x *= (100.0 / scale)[:, None, None, None].astype(np.float32)
    return x, filled, snr


def _target_array(y, targets, n):
    if isinstance(y, np.ndarray) and y.dtype.names is None:
        arr = np.asarray(y, dtype=float)
        arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
        if arr.shape != (n, len(targets)):
            raise CatalogError(f"y has shape {arr.shape}, expected ({n}, {len(targets)}) for targets {targets}")
        return arr
    names = list(getattr(y, "colnames", None) or getattr(y, "keys", lambda: [])())
    cols = []
    for t in targets:
        if t not in names:
            raise CatalogError(f"target column {t!r} not found (columns: {names[:30]})")
        c = np.asarray(getattr(y[t], "value", y[t]), dtype=float)
        if c.shape != (n,):
            raise CatalogError(f"target {t!r} has {c.size} rows, expected {n}")
        cols.append(c)
    return np.column_stack(cols)


class DustCNN(ModelFileMixin, BaseEstimator):
    """The seed paper's CNN (one conv branch per band, merged before dense layers) for dust and sSFR.

    targets : columns to learn (default E(B−V), A_V, log sSFR; one multi-output network)
    bands : band names of the image planes, in order (default: a CutoutSet's own bands; required
        for a bare array at fit); one band → the 1-band network
    n_conv, filters : convolutional blocks per branch and their filters (seed: 3, tuned in 4–64)
    n_dense, dense_units : dense layers and their units (seed: 4, tuned in 8–64); dropout 0.5
    loss : "mae", "mse" or "percentage"
    epochs, batch_size, lr, patience : Adam with early stopping (seed: patience 5)
    validation_fraction : held out for early stopping (seed: 15 %)
    augment : random quarter-turns and flips every epoch; noise_augment : add Gaussian noise of
        this many background σ (0: none); p_hog : share of training images replaced by their HOG
        image; balance : a target whose rare values are resampled (None: no balancing)
    snr_cut : S/N below which predictions are flagged ``low_snr`` (seed: 5)
    n_jobs : torch CPU threads (None = 1); device : "cpu", "cuda", "auto"
    random_state : None / int / Generator (split, weights, batches, augmentation)
    """

    MODEL_KIND = "galfast.DustCNN"
    STATE_VERSION = 1

    def __init__(self, targets=("ebv", "av", "log_ssfr"), *, bands=None, n_conv=3, filters=32,
                 n_dense=4, dense_units=64, dropout=0.5, loss="mae", epochs=60, batch_size=32,
                 lr=1e-3, patience=5, validation_fraction=0.15, augment=True, noise_augment=0.0,
                 p_hog=0.0, balance=None, snr_cut=5.0, pixel_scale=0.063, n_jobs=None, device="cpu",
                 random_state=0, progress=False):
        self.targets = targets
        self.bands = bands
        self.n_conv = n_conv
        self.filters = filters
        self.n_dense = n_dense
        self.dense_units = dense_units
        self.dropout = dropout
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.augment = augment
        self.noise_augment = noise_augment
        self.p_hog = p_hog
        self.balance = balance
        self.snr_cut = snr_cut
        self.pixel_scale = pixel_scale
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ inputs
    def _images(self, X, bands, where="cut-outs"):
        """(images (N, B, H, W), ids, bands) of a CutoutSet or an array."""
        if isinstance(X, CutoutSet):
            if bands is not None:
                check_bands(X.bands, bands, X.path or where)
            return X.images, X.ids, X.bands
        cube = as_cube(X, where)
        if bands is None:
            raise ParameterError("an image array needs bands=(…) naming its planes in order "
                                 "(or give a CutoutSet, which carries them)")
        if cube.shape[1] != len(bands):
            raise CatalogError(f"{where}: {cube.shape[1]} image plane(s) (shape {cube.shape}) but "
                               f"{len(bands)} band(s) {list(bands)}")
        return cube, np.arange(cube.shape[0]), tuple(bands)

    def _check_params(self):
        if self.loss not in _LOSSES:
            raise ParameterError(f"loss must be one of {_LOSSES}, not {self.loss!r}")
        for name in ("n_conv", "filters", "n_dense", "dense_units", "epochs", "batch_size", "patience"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < (0 if name == "n_dense" else 1):
                raise ParameterError(f"{name} must be a positive int, not {v!r}")
        if not 0.0 < float(self.validation_fraction) < 1.0:
            raise ParameterError(f"validation_fraction must be in (0, 1), not {self.validation_fraction!r}")

    def _build(self, n_bands, size):
        from .cnn import DustNet

        return DustNet(n_bands, size, len(self.targets_), n_conv=self.n_conv, filters=self.filters,
                       n_dense=self.n_dense, dense_units=self.dense_units, dropout=self.dropout)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, validation=None):
        """Train on cut-outs ``X`` (CutoutSet or (N, B, H, W) array) and targets ``y`` (Table /
        dict / array; default ``X.table``).  ``validation``: (X_val, y_val) instead of a split."""
        import torch

        self._check_params()
        self.targets_ = tuple(self.targets)
        want = None if self.bands is None else tuple(resolve_band(b) for b in expand_bands(self.bands))
        if isinstance(X, CutoutSet) and want is not None and X.bands != want:
            X = X.select_bands(want)
        images, _, bands = self._images(X, want)
        if y is None:
            y = getattr(X, "table", None)
            if y is None:
                raise ParameterError("fit needs y (the targets) when X carries no table")
        yy = _target_array(y, self.targets_, images.shape[0])
        self.bands_ = tuple(resolve_band(b) for b in bands)
        self.size_ = int(images.shape[-1])
        if images.shape[-1] != images.shape[-2]:
            raise CatalogError(f"cut-outs must be square, got {images.shape[-2]}×{images.shape[-1]}")
        x, _, _ = preprocess(images, self.pixel_scale)
        ok = np.isfinite(yy).all(1)
        if ok.sum() < 4:
            raise CatalogError(f"only {int(ok.sum())} images have finite targets {self.targets_}")
        seed = seed_from(self.random_state)
        rng = check_random_state(seed)
        rows = np.flatnonzero(ok)
        if validation is None:
            rows = rng.permutation(rows)
            n_val = max(1, int(round(float(self.validation_fraction) * rows.size)))
            va, tr = np.sort(rows[:n_val]), np.sort(rows[n_val:])
            xv, yv = x[va], yy[va]
        else:
            vi, _, _ = self._images(validation[0], self.bands_)
            xv, _, _ = preprocess(vi, self.pixel_scale)
            yv = _target_array(validation[1], self.targets_, xv.shape[0])
            tr = rows
        self.target_mean_ = yy[tr].mean(0)
        sd = yy[tr].std(0)
        self.target_scale_ = np.where(sd > 0, sd, 1.0)
        from ..props.targets import target_unit

        self.target_units_ = tuple(target_unit(t) for t in self.targets_)
        threads = effective_n_jobs(self.n_jobs)
        old_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.model_ = self._build(len(self.bands_), self.size_)
                self.history_ = self._train(x[tr], yy[tr], xv, yv, tr, yy, rng)
        finally:
            torch.set_num_threads(old_threads)
        self.n_train_, self.n_val_ = int(len(tr)), int(len(yv))
        return self

    def _device(self):
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _loss(self, pred, y):
        import torch

        if self.loss == "mae":
            return (pred - y).abs().mean()
        if self.loss == "mse":
            return ((pred - y) ** 2).mean()
        scale = torch.as_tensor(self.target_scale_, dtype=pred.dtype, device=pred.device)
        mean = torch.as_tensor(self.target_mean_, dtype=pred.dtype, device=pred.device)
        yp, yt = pred * scale + mean, y * scale + mean
        return (100.0 * (yp - yt).abs() / torch.maximum(yt.abs(), 0.1 * scale)).mean()

    def _train(self, xtr, ytr, xv, yv, tr_rows, yy_all, rng):
        import torch

        from .augment import Augmenter, balance_indices

        device = self._device()
        model = self.model_.to(device)
        opt = torch.optim.Adam(model.parameters(), lr=float(self.lr))
        ys_tr = ((ytr - self.target_mean_) / self.target_scale_).astype(np.float32)
        ys_v = torch.from_numpy(((yv - self.target_mean_) / self.target_scale_).astype(np.float32)).to(device)
        xv_t = torch.from_numpy(np.ascontiguousarray(xv)).to(device)
        noise = float(self.noise_augment)
        aug = Augmenter(rotate=bool(self.augment), flip=bool(self.augment),
                        noise_sigma="background" if noise > 0 else 0.0, noise_scale=noise,
                        p_hog=float(self.p_hog), seed=rng) if (self.augment or noise > 0 or self.p_hog) else None
        base = np.arange(len(xtr))
        if self.balance is not None:
            if self.balance not in self.targets_:
                raise ParameterError(f"balance={self.balance!r} is not one of the targets {self.targets_}")
            base = balance_indices(ytr[:, self.targets_.index(self.balance)], rng)
        best, best_loss, best_epoch = None, np.inf, -1
        hist = {"train_loss": [], "val_loss": [], "epoch_seconds": [], "images_per_epoch": []}
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=int(self.epochs), desc="DustCNN training", unit="epoch")
        t_all = time.perf_counter()
        bs = int(self.batch_size)
        for epoch in range(int(self.epochs)):
            t0 = time.perf_counter()
            model.train()
            order = base[rng.permutation(base.size)]
            running, steps = 0.0, 0
            for s in range(0, order.size, bs):
                rows = order[s:s + bs]
                if rows.size < 2:      # BatchNorm needs ≥ 2 images
                    continue
                xb = xtr[rows]
                if aug is not None:
                    xb = aug(xb)
                xb = torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32)).to(device)
                yb = torch.from_numpy(ys_tr[rows]).to(device)
                loss = self._loss(model(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                running += float(loss.detach())
                steps += 1
            model.eval()
            with torch.inference_mode():
                pv = torch.cat([model(xv_t[i:i + 512]) for i in range(0, xv_t.shape[0], 512)])
                vl = float(self._loss(pv, ys_v))
            hist["train_loss"].append(running / max(steps, 1))
            hist["val_loss"].append(vl)
            hist["epoch_seconds"].append(time.perf_counter() - t0)
            hist["images_per_epoch"].append(int(order.size))
            if vl < best_loss - 1e-6:
                best_loss, best_epoch = vl, epoch
                best = copy.deepcopy(model.state_dict())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(val=f"{vl:.4f}")
            if epoch - best_epoch >= int(self.patience):
                break
        if bar is not None:
            bar.close()
        model.load_state_dict(best)
        model.eval()
        self.model_ = model.to("cpu")
        hist.update(best_epoch=int(best_epoch), best_val_loss=float(best_loss), epochs_run=len(hist["val_loss"]),
                    seconds=time.perf_counter() - t_all)
        hist["train_images_per_s"] = float(np.sum(hist["images_per_epoch"]) / max(np.sum(hist["epoch_seconds"]), 1e-9))
        return hist

    # ------------------------------------------------------------------ tuning
    def tune(self, X, y=None, *, n_trials: int = 20, timeout=None, max_epochs=None, refit: bool = True):
        """Optuna (TPE, seeded by ``random_state``) search over filters (4–64), dense units
        (8–64), learning rate (the seed's 0.01 … 1e-4) and batch size (16/32/64); each trial
        trains with early stopping and scores its best validation loss.  Keeps ``tuning_``
        (the trials), sets the best parameters and, with ``refit``, fits on ``X``."""
        import optuna

        seed = seed_from(self.random_state)
        trials = []

        def objective(trial):
            params = {"filters": trial.suggest_int("filters", 4, 64, log=True),
                      "dense_units": trial.suggest_int("dense_units", 8, 64, log=True),
                      "lr": trial.suggest_categorical("lr", list(LEARNING_RATES)),
                      "batch_size": trial.suggest_categorical("batch_size", list(BATCH_SIZES))}
            est = copy.deepcopy(self).set_params(**params, progress=False, random_state=seed)
            if max_epochs is not None:
                est.set_params(epochs=int(max_epochs))
            est.fit(X, y)
            trials.append({**params, "val_loss": est.history_["best_val_loss"],
                           "epochs_run": est.history_["epochs_run"]})
            return est.history_["best_val_loss"]

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed % 2**32))
        study.optimize(objective, n_trials=int(n_trials), timeout=timeout, show_progress_bar=bool(self.progress))
        self.set_params(**study.best_params)
        self.tuning_ = {"best_params": dict(study.best_params), "best_val_loss": float(study.best_value),
                        "trials": trials}
        tuning = self.tuning_
        if refit:
            self.fit(X, y)
            self.tuning_ = tuning
        return self

    # ------------------------------------------------------------------ predict
    def _check_fitted(self):
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this DustCNN is not fitted yet; call fit() or load()")

    def _inputs(self, X, bands=None):
        self._check_fitted()
        if isinstance(X, CutoutSet):
            check_bands(X.bands, self.bands_, X.path or "cut-outs")
            images, ids = X.images, X.ids
        else:
            images = as_cube(X, "images")
            if bands is not None:
                check_bands(bands, self.bands_, "images")
            elif images.shape[1] != len(self.bands_):
                raise CatalogError(f"images have {images.shape[1]} plane(s) (shape {images.shape}) but the "
                                   f"model was trained on {len(self.bands_)} band(s) {list(self.bands_)}")
            ids = np.arange(images.shape[0])
        if images.shape[1] != len(self.bands_):
            raise CatalogError(f"{images.shape[1]} image planes for the model's {len(self.bands_)} bands")
        if images.shape[-2:] != (self.size_, self.size_):
            raise CatalogError(f"cut-outs are {images.shape[-2]}×{images.shape[-1]} pixels; the model was "
                               f"trained on {self.size_}×{self.size_}")
        return images, ids

    def _raw(self, x, batch_size=1024):
        import torch

        threads = effective_n_jobs(self.n_jobs)
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            out = []
            with torch.inference_mode():
                for s in range(0, x.shape[0], batch_size):
                    out.append(self.model_(torch.from_numpy(np.ascontiguousarray(x[s:s + batch_size]))).numpy())
        finally:
            torch.set_num_threads(old)
        return np.concatenate(out).astype(np.float64) * self.target_scale_ + self.target_mean_

    def predict(self, X, bands=None) -> np.ndarray:
        """(N, T) predicted targets, in the order of ``targets_``."""
        images, _ = self._inputs(X, bands)
        x, _, _ = preprocess(images, self.pixel_scale)
        return self._raw(x)

    def predict_table(self, X, *, ids=None, bands=None, snr_cut=None, batch_size: int = 1024):
        """Table, one row per image in input order: ``id``, targets, ``rv`` (when A_V and E(B−V)
        are targets), ``snr_<band>``, ``flags`` (pixels_filled, low_snr).  ``snr_cut``: None uses
        the model's; −inf flags nothing."""
        from astropy import units as u
        from astropy.table import Column, Table

        images, own_ids = self._inputs(X, bands)
        n = images.shape[0]
        if ids is not None:
            ids = np.asarray(ids)
            if ids.shape != (n,):
                raise CatalogError(f"{ids.size} ids for {n} images")
        else:
            ids = own_ids
        x, filled, snr = preprocess(images, self.pixel_scale)
        pred = self._raw(x, batch_size)
        cut = self.snr_cut if snr_cut is None else snr_cut
        flag = np.zeros(n, dtype=_flags.DTYPE)
        flag[filled] |= _flags.PIXELS_FILLED
        if cut is not None:
            flag[(snr < float(cut)).any(1)] |= _flags.LOW_SNR
        out = Table()
        out["id"] = ids
        for t, name in enumerate(self.targets_):
            unit = None if self.target_units_[t] is None else u.Unit(self.target_units_[t])
            out[name] = Column(pred[:, t], unit=unit, description=f"predicted {name}")
        if "av" in self.targets_ and "ebv" in self.targets_:
            av, ebv = pred[:, self.targets_.index("av")], pred[:, self.targets_.index("ebv")]
            with np.errstate(divide="ignore", invalid="ignore"):
                out["rv"] = Column(np.where(ebv > 0, av / ebv, np.nan), description="R_V = av / ebv (derived)")
        for j, b in enumerate(self.bands_):
            out[f"snr_{b}"] = Column(snr[:, j], description=f"S/N in a {SNR_APERTURE}″-radius aperture")
        out[_flags.COLUMN] = Column(flag, description=_flags.column_description(FLAG_BITS))
        out.meta["galfast_model"] = self.MODEL_KIND
        return out

    def score(self, X, y=None) -> float:
        """Minus the mean MAE over targets in units of each target's training σ (higher is better)."""
        pred = self.predict(X)
        yy = _target_array(X.table if y is None else y, self.targets_, pred.shape[0])
        return -float(np.mean(np.nanmean(np.abs(pred - yy), axis=0) / self.target_scale_))

    # ------------------------------------------------------------------ model files
    def to_state(self):
        self._check_fitted()
        params = self.get_params()
        rs = params["random_state"]
        if not (isinstance(rs, numbers.Integral) and not isinstance(rs, bool)):
            params["random_state"] = None
        meta = {"params": params, "bands": list(self.bands_), "targets": list(self.targets_),
                "target_units": list(self.target_units_), "size": self.size_,
                "target_mean": self.target_mean_.tolist(), "target_scale": self.target_scale_.tolist(),
                "n_train": self.n_train_, "n_val": self.n_val_, "history": self.history_,
                "tuning": getattr(self, "tuning_", None)}
        arrays = {k: v.detach().cpu().numpy() for k, v in self.model_.state_dict().items()}
        return meta, arrays

    @classmethod
    def from_state(cls, meta, arrays):
        import torch

        params = dict(meta["params"])
        for key in ("targets", "bands"):
            if params.get(key) is not None:
                params[key] = tuple(params[key])
        est = cls(**params)
        est.targets_ = tuple(meta["targets"])
        est.bands_ = tuple(meta["bands"])
        est.target_units_ = tuple(meta["target_units"])
        est.size_ = int(meta["size"])
        est.target_mean_ = np.asarray(meta["target_mean"], float)
        est.target_scale_ = np.asarray(meta["target_scale"], float)
        est.n_train_, est.n_val_ = meta["n_train"], meta["n_val"]
        est.history_ = meta["history"]
        if meta.get("tuning") is not None:
            est.tuning_ = meta["tuning"]
        model = est._build(len(est.bands_), est.size_)
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})
        model.eval()
        est.model_ = model
        return est

"""``NeuralLikelihood``: the trained likelihood p(photometry | θ) of a simulator.

    nl = NeuralLikelihood(parameters=("log_mstar", "log_sfr", "av", "age_mw", "log_zmet", "z"))
    nl.fit(sims)                          # a galfast.simulate catalogue (fluxes + truths)
    ll = nl.log_likelihood(phot, theta)   # (N,) ln p(f_i | θ_i), missing bands marginalised
    calib = nl.chi2_calibration(phot, theta)
    nl.save("likelihood.safetensors"); nl = galfast.load_model("likelihood.safetensors")

The network (:mod:`galfast.posterior.network`) is trained by the exact Gaussian negative
log-likelihood (:func:`galfast.posterior.likelihood.masked_loglike_torch`) of the *noisy*
simulated fluxes, with the catalogue's own errors in Σ = Σ_net(θ) + diag(σ_obs²), so Σ_net learns
the scatter of the noise-free fluxes at fixed θ that the parameters do not explain (the SFH
shape, the ionisation parameter, …).  Random band dropout (each observed band of a training row
is hidden with probability ``band_dropout``, at least one is kept) trains it on the marginal
likelihoods it will be asked for when bands are missing; bands the catalogue does not have in
a row are marginalised the same way.  Training is in float64.

Parameters θ are columns of the truths table (``galfast.simulate`` writes ``log_mstar``,
``log_sfr``, ``log_ssfr``, ``av``, ``age_mw``, ``log_zmet``, ``z``, …).  Star-formation rates of
quiescent simulated galaxies run to log sSFR ≈ −50, which photometry cannot tell from −13:
``log_sfr`` is raised to at least log M* + ``log_ssfr_floor`` and ``log_ssfr`` to at least
``log_ssfr_floor`` (−13, as :func:`galfast.props.floor_log_sfr`), in training and wherever θ is
given as a table.  The training truths' per-parameter minimum and maximum are kept
(``theta_min_``, ``theta_max_``: the training distribution's support), and a Gaussian-mixture
density of the training θ (``prior_``, :class:`~galfast.posterior.prior.TrainingPrior`): the
simulator's own prior, the default prior of the posteriors, so that they are calibrated against
the simulator.
"""
from __future__ import annotations

import copy
import math
import numbers
import time
import warnings
from contextlib import contextmanager

import numpy as np
from sklearn.base import BaseEstimator

from ..errors import CatalogError, CatalogWarning
from ..modelfile import ModelFileMixin
from ..photometry import Photometry
from ..validation import ParameterError, check_random_state, effective_n_jobs, seed_from
from .likelihood import masked_chi2, masked_loglike, masked_loglike_torch
from .prior import TrainingPrior

__all__ = ["NeuralLikelihood", "DEFAULT_PARAMETERS", "CALIBRATION_LEVELS"]

#: the default θ: the simulator's physical quantities, redshift free
DEFAULT_PARAMETERS = ("log_mstar", "log_sfr", "av", "age_mw", "log_zmet", "z")
#: the χ² calibration's probability levels (the thesis' reliability diagram)
CALIBRATION_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: S/N above which a flux sets the per-band offset c_b at fit
_OFFSET_SNR = 5.0
_GRAD_CLIP = 10.0


@contextmanager
def _torch_threads(n: int):
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ParameterError(f"{name} must be an int ≥ {minimum}, not {value!r}")
    return int(value)


def _positive_real(value, name: str, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise ParameterError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
                             f"number, not {value!r}")
    return float(value)


def _column_names(y) -> list:
    names = list(getattr(y, "colnames", None) or getattr(y, "keys", lambda: [])())
    if not names and getattr(y, "dtype", None) is not None and y.dtype.names:
        names = list(y.dtype.names)
    return names


class NeuralLikelihood(ModelFileMixin, BaseEstimator):
    """Neural Gaussian likelihood p(fluxes | θ) with exact missing-band marginalisation.

    parameters : θ, names of truth columns (default :data:`DEFAULT_PARAMETERS`); the flux
        factors of the network need ``log_mstar`` (mass) and ``z`` (distance) among them to apply
    hidden, n_blocks : layer width and residual blocks of the shared trunk (each head adds one)
    beta, sigma2_min : softplus_β of the Cholesky diagonal and the σ²_min floor (the thesis'
        0.1 and 10⁻⁵)
    diagonal : diagonal model covariance instead of the full Cholesky one
    epochs, batch_size, lr, patience : Adam, early stopping on the validation NLL (the best
        epoch's weights are kept)
    band_dropout : probability that an observed band of a training row is hidden in an epoch
    validation_fraction : rows held out for early stopping
    log_ssfr_floor : floor of log sSFR [yr⁻¹] applied to ``log_sfr`` / ``log_ssfr`` (None: none)
    bands : bands to fit when reading a table (names, aliases, band sets; default all found)
    n_jobs : torch threads for fit (and Numba threads for scoring): None = 1, −1 = all cores
    random_state : None, an int or a ``numpy.random.Generator`` (split, weights, batches, dropout)
    progress : print one line per epoch
    """

    MODEL_KIND = "galfast.NeuralLikelihood"
    STATE_VERSION = 1

    def __init__(self, parameters=DEFAULT_PARAMETERS, *, hidden=64, n_blocks=2, beta=0.1,
                 sigma2_min=1e-5, diagonal=False, epochs=200, batch_size=256, lr=1e-3, patience=20,
                 band_dropout=0.2, validation_fraction=0.2, log_ssfr_floor=-13.0, bands=None,
                 n_jobs=None, random_state=0, progress=False):
        self.parameters = parameters
        self.hidden = hidden
        self.n_blocks = n_blocks
        self.beta = beta
        self.sigma2_min = sigma2_min
        self.diagonal = diagonal
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.band_dropout = band_dropout
        self.validation_fraction = validation_fraction
        self.log_ssfr_floor = log_ssfr_floor
        self.bands = bands
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ checks and inputs
    def _check_params(self):
        if isinstance(self.parameters, str) or len(tuple(self.parameters)) == 0:
            raise ParameterError(f"parameters must be a non-empty sequence of truth-column names, "
                                 f"not {self.parameters!r}")
        if len(set(self.parameters)) != len(tuple(self.parameters)):
            raise ParameterError(f"parameters named more than once: {self.parameters!r}")
        _positive_int(self.hidden, "hidden")
        _positive_int(self.n_blocks, "n_blocks", 0)
        _positive_real(self.beta, "beta")
        _positive_real(self.sigma2_min, "sigma2_min")
        _positive_int(self.epochs, "epochs")
        _positive_int(self.batch_size, "batch_size")
        _positive_int(self.patience, "patience", 0)
        _positive_real(self.lr, "lr")
        bd = self.band_dropout
        if not (isinstance(bd, numbers.Real) and not isinstance(bd, bool) and 0 <= bd < 1):
            raise ParameterError(f"band_dropout must be in [0, 1), not {bd!r}")
        if not 0 < self.validation_fraction < 1:
            raise ParameterError(f"validation_fraction must be in (0, 1), not {self.validation_fraction!r}")
        if self.log_ssfr_floor is not None and not (isinstance(self.log_ssfr_floor, numbers.Real)
                                                    and math.isfinite(self.log_ssfr_floor)):
            raise ParameterError(f"log_ssfr_floor must be a number or None, not {self.log_ssfr_floor!r}")
        effective_n_jobs(self.n_jobs, "n_jobs")
        if not isinstance(self.random_state, np.random.Generator):
            check_random_state(self.random_state)

    def _check_fitted(self):
        if not hasattr(self, "network_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this NeuralLikelihood is not fitted yet; call fit() or load()")

    def to_photometry(self, data, *, bands=None, column_map=None, id_column="auto") -> Photometry:
        """The :class:`Photometry` of ``data`` (a Photometry is returned as is; a table is read
        with the fitted bands, or ``bands``/the ``bands`` parameter before fit)."""
        if isinstance(data, Photometry):
            return data
        from astropy.table import Table

        if bands is None:
            bands = getattr(self, "bands_", None) or self.bands
        table = data if isinstance(data, Table) else Table(data)
        return Photometry.from_table(table, bands, column_map=column_map, id_column=id_column)

    def _arrays(self, phot: Photometry):
        """float64 (flux, err, observed) in the fitted band order (bands the photometry lacks
        are not observed)."""
        from ..props.features import photometry_arrays

        flux, err, obs, _ = photometry_arrays(phot, self.bands_, missing_bands="mask")
        return flux.astype(np.float64), err.astype(np.float64), obs

    def theta_array(self, truths, n: int | None = None) -> np.ndarray:
        """(N, P) float64 θ from a table/dict/DataFrame with the parameter columns (log SFR and
        log sSFR floored as at fit) or from an (N, P) array (used as is)."""
        params = tuple(getattr(self, "parameters_", None) or self.parameters)
        if isinstance(truths, np.ndarray) and truths.dtype.names is None:
            arr = np.asarray(truths, dtype=np.float64)
            arr = arr.reshape(1, -1) if arr.ndim == 1 else arr
            if arr.ndim != 2 or arr.shape[1] != len(params) or (n is not None and arr.shape[0] != n):
                want = f"({'N' if n is None else n}, {len(params)})"
                raise CatalogError(f"theta has shape {arr.shape}, expected {want} for parameters {params}")
            return arr
        names = _column_names(truths)
        cols = {}
        for p in params:
            if p not in names:
                raise CatalogError(f"parameter column {p!r} not found in the truths (columns: {names[:30]})")
            c = np.asarray(getattr(truths[p], "value", truths[p]), dtype=np.float64)
            if n is not None and c.shape != (n,):
                raise CatalogError(f"parameter {p!r} has {c.shape[0] if c.ndim else 1} rows, expected {n}")
            cols[p] = c
        floor = self.log_ssfr_floor
        if floor is not None:
            if "log_sfr" in cols:
                mass = cols.get("log_mstar")
                if mass is None and "log_mstar" in names:
                    mass = np.asarray(getattr(truths["log_mstar"], "value", truths["log_mstar"]), dtype=np.float64)
                if mass is not None:
                    cols["log_sfr"] = np.where(np.isfinite(cols["log_sfr"]),
                                               np.maximum(cols["log_sfr"], mass + floor), cols["log_sfr"])
            if "log_ssfr" in cols:
                v = cols["log_ssfr"]
                cols["log_ssfr"] = np.where(np.isfinite(v), np.maximum(v, floor), v)
        return np.column_stack([cols[p] for p in params])

    # ------------------------------------------------------------------ fit
    def _build_network(self):
        from .network import LikelihoodNetwork

        params = list(self.parameters_)
        return LikelihoodNetwork(
            len(params), len(self.bands_), hidden=int(self.hidden), n_blocks=int(self.n_blocks),
            beta=float(self.beta), sigma2_min=float(self.sigma2_min), diagonal=bool(self.diagonal),
            mass_index=params.index("log_mstar") if "log_mstar" in params else None,
            z_index=params.index("z") if "z" in params else None,
            log_mstar_ref=float(self.log_mstar_ref_))

    def fit(self, data, truths=None, *, column_map=None):
        """Train on ``data`` (a ``galfast.simulate`` table, another table with band columns, or a
        Photometry) and ``truths`` (table/dict/DataFrame with the parameter columns, or an (N, P)
        array; default ``data`` itself when it is a table).  Rows without an observed band, with
        a non-finite parameter or (with ``z`` free) z ≤ 0 are left out with a CatalogWarning."""
        import torch

        from .network import log_distance_factor

        self._check_params()
        if truths is None:
            if isinstance(data, Photometry):
                raise ParameterError("truths are required when fitting a Photometry")
            truths = data
        phot = self.to_photometry(data, bands=self.bands, column_map=column_map)
        self.parameters_ = tuple(self.parameters)
        self.bands_ = tuple(phot.bands)
        flux, err, obs = self._arrays(phot)
        theta = self.theta_array(truths, len(phot))
        usable = obs.any(1) & np.isfinite(theta).all(1)
        if "z" in self.parameters_:
            usable &= theta[:, self.parameters_.index("z")] > 0
        if not usable.all():
            warnings.warn(f"{int((~usable).sum())} of {len(usable)} training rows left out (no observed "
                          "band, a non-finite parameter or z ≤ 0)", CatalogWarning, stacklevel=2)
        rows = np.flatnonzero(usable)
        if rows.size < 4:
            raise CatalogError(f"only {rows.size} usable training rows (need ≥ 4)")
        seed = seed_from(self.random_state)
        rng = np.random.default_rng(seed)
        rows = rng.permutation(rows)
        n_val = max(1, int(round(self.validation_fraction * rows.size)))
        tr, va = np.sort(rows[n_val:]), np.sort(rows[:n_val])

        th_tr = theta[tr]
        self.theta_min_ = theta[rows].min(0)      # the support of every usable training row
        self.theta_max_ = theta[rows].max(0)
        self.prior_ = TrainingPrior.fit(theta[rows], random_state=seed % (2**31))   # the default prior
        mean = th_tr.mean(0)
        scale = th_tr.std(0)
        params = list(self.parameters_)
        self.log_mstar_ref_ = float(np.median(th_tr[:, params.index("log_mstar")])) if "log_mstar" in params else 0.0
        # c_b: the median over bright training fluxes of ln f minus the known mass and distance factors
        known = np.zeros(len(tr))
        if "log_mstar" in params:
            known += math.log(10.0) * (th_tr[:, params.index("log_mstar")] - self.log_mstar_ref_)
        if "z" in params:
            known += log_distance_factor(torch.from_numpy(th_tr[:, params.index("z")])).numpy()
        offset = np.zeros(len(self.bands_))
        for b in range(len(self.bands_)):
            o, f, e = obs[tr, b], flux[tr, b], err[tr, b]
            bright = o & (f > _OFFSET_SNR * e) & (f > 0)
            if not bright.any():
                bright = o & (f > 0)
            if bright.any():
                offset[b] = float(np.median(np.log(f[bright]) - known[bright]))
        n_threads = effective_n_jobs(self.n_jobs, "n_jobs")
        t0 = time.perf_counter()
        with _torch_threads(n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed % (2**63))
            net = self._build_network()
            with torch.no_grad():
                net.theta_mean.copy_(torch.from_numpy(mean))
                net.theta_scale.copy_(torch.from_numpy(np.where(scale > 0, scale, 1.0)))
                net.band_offset.copy_(torch.from_numpy(offset))
            data_t = {k: (torch.from_numpy(theta[ix]), torch.from_numpy(flux[ix]), torch.from_numpy(err[ix]),
                          torch.from_numpy(obs[ix])) for k, ix in (("train", tr), ("val", va))}
            self.history_ = self._train(net, data_t, rng)
        self.fit_seconds_ = time.perf_counter() - t0
        net.eval()
        self.network_ = net
        self.n_train_, self.n_val_ = int(tr.size), int(va.size)
        return self

    def _train(self, net, data, rng) -> dict:
        import torch

        th, f, e, o = data["train"]
        n = th.shape[0]
        bs = min(int(self.batch_size), n)
        opt = torch.optim.Adam(net.parameters(), lr=float(self.lr))
        drop = float(self.band_dropout)

        def nll(batch, mask):
            t, ff, ee = batch
            mu, cov = net.mean_and_cov(t)
            return -masked_loglike_torch(mu, cov, ee, ff, mask).mean()

        def val_loss():
            tv, fv, ev, ov = data["val"]
            with torch.no_grad():
                return float(sum(nll((tv[s:s + 4096], fv[s:s + 4096], ev[s:s + 4096]), ov[s:s + 4096]).item()
                                 * min(4096, tv.shape[0] - s) for s in range(0, tv.shape[0], 4096)) / tv.shape[0])

        best, best_state, wait = math.inf, None, 0
        hist = {"train": [], "val": [], "best_epoch": 0}
        for epoch in range(int(self.epochs)):
            net.train()
            perm = torch.from_numpy(rng.permutation(n))
            total = 0.0
            for s in range(0, n, bs):
                ix = perm[s:s + bs]
                mask = o[ix]
                if drop > 0:
                    keep = torch.from_numpy(rng.random(tuple(mask.shape)) >= drop)
                    dropped = mask & keep
                    mask = torch.where(dropped.any(1, keepdim=True), dropped, mask)
                loss = nll((th[ix], f[ix], e[ix]), mask)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), _GRAD_CLIP)
                opt.step()
                total += float(loss.item()) * ix.numel()
            net.eval()
            v = val_loss()
            hist["train"].append(total / n)
            hist["val"].append(v)
            if self.progress:
                print(f"epoch {epoch + 1:4d}  train NLL {total / n:10.4f}  val NLL {v:10.4f}", flush=True)
            improved = math.isfinite(v) and (not math.isfinite(best) or v < best - 1e-6 * abs(best))
            if improved:
                best, best_state, wait = v, copy.deepcopy(net.state_dict()), 0
                hist["best_epoch"] = epoch + 1
            else:
                wait += 1
                if wait > int(self.patience):
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        return hist

    # ------------------------------------------------------------------ evaluation
    def mean_and_cov(self, theta) -> tuple[np.ndarray, np.ndarray]:
        """μ (N, B) [µJy] and Σ_net (N, B, B) [µJy²] of θ (an (N, P) array or a table), float64."""
        import torch

        self._check_fitted()
        th = self.theta_array(theta)
        with torch.no_grad(), _torch_threads(effective_n_jobs(self.n_jobs)):
            mu, cov = self.network_.mean_and_cov(torch.from_numpy(np.ascontiguousarray(th)))
        return mu.numpy(), cov.numpy()

    def _scored(self, phot, theta, column_map=None):
        phot = self.to_photometry(phot, column_map=column_map)
        flux, err, obs = self._arrays(phot)
        th = self.theta_array(theta, len(phot))
        mu, cov = self.mean_and_cov(th)
        return mu, cov, err, flux, obs

    def log_likelihood(self, phot, theta, *, column_map=None, n_jobs=None) -> np.ndarray:
        """ln p(f_i | θ_i) (N,) of each object's observed bands (the others marginalised), for
        ``phot`` (Photometry or table, N rows) and θ (an (N, P) array or a table with the
        parameter columns).  Scored by the compiled kernel (:func:`~.likelihood.masked_loglike`)."""
        self._check_fitted()
        mu, cov, err, flux, obs = self._scored(phot, theta, column_map)
        return masked_loglike(mu, cov, err, flux, obs, n_jobs=self.n_jobs if n_jobs is None else n_jobs)

    def chi2_calibration(self, phot, theta, *, levels=CALIBRATION_LEVELS, remove_bands=None,
                         remove_fraction: float = 0.3, random_state=0, column_map=None, n_jobs=None):
        """The thesis' reliability test of Σ: the fraction of objects whose observed fluxes lie
        inside the P-level ellipsoid of N(μ(θ), Σ(θ)), i.e. χ² = rᵀΣ_o⁻¹r < χ²_{n_obs}(P)
        with n_obs the object's number of observed bands, for each P in ``levels``; calibrated
        when the fraction equals P.

        Two cases: all observed bands (column ``all_bands``), and bands removed (column
        ``bands_removed``): the named ``remove_bands`` in every row, or else each observed band
        of a row hidden with probability ``remove_fraction`` (at least one kept), drawn from
        ``random_state``.  Rows without observed bands are left out.  Returns an astropy Table
        (``level``, ``all_bands``, ``bands_removed``); ``meta`` holds the object counts and the
        mean number of bands in each case.
        """
        from astropy.table import Table
        from scipy.stats import chi2 as chi2_dist

        self._check_fitted()
        lv = np.asarray(levels, dtype=float)
        if lv.ndim != 1 or lv.size == 0 or np.any((lv <= 0) | (lv >= 1)):
            raise ParameterError(f"levels must be probabilities in (0, 1), not {levels!r}")
        mu, cov, err, flux, obs = self._scored(phot, theta, column_map)
        if remove_bands is not None:
            from ..bands import expand_bands, resolve_band

            gone = [resolve_band(b) for b in expand_bands(remove_bands)]
            unknown = [b for b in gone if b not in self.bands_]
            if unknown:
                raise ParameterError(f"remove_bands {unknown} are not bands of this model {list(self.bands_)}")
            removed = obs.copy()
            removed[:, [self.bands_.index(b) for b in gone]] = False
        else:
            rf = _positive_real(remove_fraction, "remove_fraction", allow_zero=True)
            if rf >= 1:
                raise ParameterError(f"remove_fraction must be in [0, 1), not {remove_fraction!r}")
            rng = check_random_state(random_state)
            keep = obs & (rng.random(obs.shape) >= rf)
            removed = np.where(keep.any(1, keepdims=True), keep, obs)
        nj = self.n_jobs if n_jobs is None else n_jobs
        out = Table()
        out["level"] = lv
        meta = {}
        for name, mask in (("all_bands", obs), ("bands_removed", removed)):
            c2, k = masked_chi2(mu, cov, err, flux, mask, n_jobs=nj)
            ok = (k > 0) & np.isfinite(c2)
            crit = chi2_dist.ppf(lv[None, :], k[ok, None])
            out[name] = np.mean(c2[ok, None] < crit, axis=0)
            meta[f"n_objects_{name}"] = int(ok.sum())
            meta[f"mean_bands_{name}"] = float(k[ok].mean()) if ok.any() else 0.0
        out.meta.update(meta)
        out.meta["galfast_model"] = self.MODEL_KIND
        return out

    def residuals(self, phot, theta, *, column_map=None) -> np.ndarray:
        """Normalised residuals (f − μ)/√Σ_bb per object and band (N, B), NaN where not observed."""
        mu, cov, err, flux, obs = self._scored(phot, theta, column_map)
        sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2) + err ** 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(obs, (flux - mu) / sd, np.nan)

    # ------------------------------------------------------------------ model files
    def to_state(self):
        """(meta, arrays): parameters, bands, θ names, prior support, references and history as
        JSON; the network's weights and buffers as float64 arrays by their state-dict names."""
        self._check_fitted()
        params = self.get_params()
        rs = params["random_state"]
        if not (isinstance(rs, numbers.Integral) and not isinstance(rs, bool)):
            params["random_state"] = None
        meta = {
            "params": params,
            "parameters": list(self.parameters_),
            "bands": list(self.bands_),
            "network": self.network_.config(),
            "theta_min": self.theta_min_.tolist(),
            "theta_max": self.theta_max_.tolist(),
            "log_mstar_ref": self.log_mstar_ref_,
            "n_train": self.n_train_,
            "n_val": self.n_val_,
            "history": self.history_,
        }
        arrays = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in self.network_.state_dict().items()}
        arrays.update(self.prior_.arrays())
        return meta, arrays

    @classmethod
    def from_state(cls, meta, arrays) -> "NeuralLikelihood":
        import torch

        from .network import LikelihoodNetwork

        params = dict(meta["params"])
        params["parameters"] = tuple(params["parameters"])
        if params.get("bands") is not None and not isinstance(params["bands"], str):
            params["bands"] = tuple(params["bands"])
        est = cls(**params)
        est.parameters_ = tuple(meta["parameters"])
        est.bands_ = tuple(meta["bands"])
        est.theta_min_ = np.asarray(meta["theta_min"], dtype=float)
        est.theta_max_ = np.asarray(meta["theta_max"], dtype=float)
        est.log_mstar_ref_ = float(meta["log_mstar_ref"])
        est.n_train_, est.n_val_ = int(meta["n_train"]), int(meta["n_val"])
        est.history_ = meta["history"]
        net = LikelihoodNetwork.from_config(meta["network"])
        if len(est.parameters_) != net.n_params or len(est.bands_) != net.n_bands:
            raise ValueError("network shape does not match the stored parameters/bands")
        if not all(f"prior.{k}" in arrays for k in ("lo", "hi", "weights", "means", "prec_chol")):
            raise ValueError("the training prior's arrays are missing (a file from before the prior existed: refit)")
        est.prior_ = TrainingPrior.from_arrays(arrays)
        net.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in arrays.items()
                             if not k.startswith("prior.")})
        net.eval()
        est.network_ = net
        return est

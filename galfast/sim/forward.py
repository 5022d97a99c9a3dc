"""Batched bagpipes forward model: many galaxies' photometry [µJy] in a few matrix products.

:class:`ForwardModel` builds one ``bagpipes.model_galaxy`` for the requested bands and reuses
its own grids and component models (BC03 stellar grid resampled in wavelength and age, CLOUDY
nebular grid, Calzetti attenuation, Draine & Li dust emission, Inoue (2014) IGM, filter set,
cosmology, star-formation-history age sampling).  Per galaxy it reproduces, in batches,

* the SFH on bagpipes' fine age grid, binned onto the SSP ages (``np.histogram`` as
  contiguous sums),
* the delta-function chemical enrichment (linear weights between the two nearest metallicities),
* the split at ``t_bc`` into birth-cloud (young, ionising photons removed, + nebular emission
  interpolated in log U) and older stars — as matrix products of the galaxies' weights with
  precomputed grids of each metallicity pair (stellar) and (metallicity, log U) square (nebular),
  galaxies grouped by pair,
* diffuse-ISM attenuation with energy-balance dust emission, IGM transmission, luminosity
  distance, and bagpipes' filter integration with its blueshifted filter curves (the compiled
  kernel ``galfast._ext.sim_kernels`` when built, else the same steps in NumPy),

so the result equals ``bagpipes.model_galaxy(...).photometry`` (``phot_units="mujy"``) to
floating-point rounding.  Parameter conventions (all arrays of one length N):

``z``; ``log_mstar`` (log10 living stellar mass [M☉]) or ``massformed`` (log10 formed mass);
``log_zmet`` (log10 Z/Z☉); ``av`` (Calzetti A_V [mag]); ``log_u``; SFH parameters
``sfh_age``, ``sfh_tau`` [Gyr] (delayed-τ: SFR ∝ t e^{-t/τ} started ``sfh_age`` ago) or
``sfh_age``, ``burst_age`` [Gyr], ``burst_frac`` (constant SFR over the last ``sfh_age`` plus a
burst ``burst_age`` ago carrying ``burst_frac`` of the formed mass); optional ``qpah``,
``umin``, ``gamma`` (dust emission, defaults 2, 1, 0.01 as in bagpipes).
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile

import numpy as np

from ..bands import expand_bands, get_band, resolve_band
from ..errors import GalfastError
from ..validation import ParameterError

__all__ = ["ForwardModel", "SFH_KINDS", "T_BC", "DUST_EMISSION_DEFAULTS", "bagpipes_components",
           "import_bagpipes", "model_fluxes"]

SFH_KINDS = ("delayed_tau", "constant_burst")
#: birth-cloud lifetime [Gyr] (bagpipes' default ``t_bc``)
T_BC = 0.01
DUST_EMISSION_DEFAULTS = {"qpah": 2.0, "umin": 1.0, "gamma": 0.01}
L_SUN_CGS = 3.826e33  # erg/s, bagpipes' value
MPC_CM = 3.086e24     # cm, bagpipes' value
#: galaxies per internal batch (bounds memory: a few (batch × wavelengths) float64 arrays)
BATCH_ROWS = 1024


@functools.lru_cache(maxsize=1)
def import_bagpipes():
    """Import bagpipes quietly (it prints on import); a clear error when it is missing."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import bagpipes
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise GalfastError("the simulator needs bagpipes and its grids: "
                           "pip install 'galfast[sim]'") from exc
    return bagpipes


def bagpipes_components(p: dict, i: int, sfh: str) -> dict:
    """bagpipes ``model_components`` for galaxy ``i`` of parameter arrays ``p`` (needs
    ``massformed``), as galfast's forward model interprets them."""
    g = {k: float(np.asarray(v).reshape(-1)[i]) if np.ndim(v) else float(v) for k, v in p.items()}
    zmet = 10 ** g["log_zmet"]
    mc = {"redshift": g["z"], "t_bc": T_BC}
    if sfh == "delayed_tau":
        mc["delayed"] = {"age": g["sfh_age"], "tau": g["sfh_tau"], "massformed": g["massformed"],
                         "metallicity": zmet}
    elif sfh == "constant_burst":
        mf = 10 ** g["massformed"]
        mc["constant"] = {"age_min": 0.0, "age_max": g["sfh_age"],
                          "massformed": np.log10((1 - g["burst_frac"]) * mf), "metallicity": zmet}
        mc["burst"] = {"age": g["burst_age"], "massformed": np.log10(g["burst_frac"] * mf),
                       "metallicity": zmet}
    else:
        raise ParameterError(f"unknown sfh {sfh!r}; choose from {SFH_KINDS}")
    dust = {"type": "Calzetti", "Av": g["av"]}
    for key, default in DUST_EMISSION_DEFAULTS.items():
        dust[key] = g.get(key, default)
    mc["dust"] = dust
    mc["nebular"] = {"logU": g["log_u"]}
    return mc


def _template_components(sfh: str) -> dict:
    p = {"z": 1.0, "massformed": 10.0, "log_zmet": 0.0, "av": 0.5, "log_u": -2.5,
         "sfh_age": 1.0, "sfh_tau": 1.0, "burst_age": 0.1, "burst_frac": 0.1}
    return bagpipes_components(p, 0, sfh)


def write_filter_files(bands, directory) -> list[str]:
    """Write each band's curve (sedpy's wavelength [Å], transmission) as a two-column text file
    that bagpipes' ``filt_list`` reads; returns the paths, in band order."""
    paths = []
    for i, name in enumerate(bands):
        f = get_band(name).sedpy_filter
        path = os.path.join(directory, f"band{i:03d}.dat")   # user band names may hold any character
        np.savetxt(path, np.column_stack([f.wavelength, f.transmission]))
        paths.append(path)
    return paths


class ForwardModel:
    """Noiseless photometry of many galaxies at once, equal to bagpipes' for the same parameters.

    bands : band names or aliases (any sedpy band or one added with ``galfast.bands.register_band``)
    sfh : "delayed_tau" or "constant_burst"
    """

    def __init__(self, bands, sfh: str = "delayed_tau", backend: str = "auto"):
        if backend not in ("auto", "numpy", "compiled"):
            raise ParameterError(f"backend must be 'auto', 'numpy' or 'compiled', got {backend!r}")
        if backend == "compiled" and _kernel() is None:
            raise GalfastError("the compiled simulator kernel galfast._ext.sim_kernels is not built "
                               "(python setup.py build_ext --inplace)")
        self.backend = backend
        if sfh not in SFH_KINDS:
            raise ParameterError(f"unknown sfh {sfh!r}; choose from {SFH_KINDS}")
        self.bands = tuple(resolve_band(b) for b in expand_bands(bands))
        if not self.bands:
            raise ParameterError("ForwardModel needs at least one band")
        self.sfh_kind = sfh
        pipes = import_bagpipes()
        from bagpipes import config, utils

        self._config, self._utils = config, utils
        with tempfile.TemporaryDirectory(prefix="galfast_filters_") as tmp:
            self.filter_files = write_filter_files(self.bands, tmp)
            with contextlib.redirect_stdout(io.StringIO()):
                # (bagpipes' photometry fails for a single filter: give it twice, keep one)
                files = self.filter_files * (2 if len(self.bands) == 1 else 1)
                mg = pipes.model_galaxy(_template_components(sfh), filt_list=files,
                                        phot_units="mujy")
        self._setup(mg)

    # ---------------------------------------------------------------- set-up from bagpipes
    def _setup(self, mg):
        config = self._config
        wav = mg.wavelengths
        self.wavelengths = wav
        n_w = wav.size
        # SFH fine age grid and its binning onto the SSP ages (contiguous runs of fine ages)
        sfh = mg.sfh
        self.fine_ages = sfh.ages
        self.fine_widths = sfh.age_widths
        counts = np.stack([np.histogram([a], bins=config.age_bins)[0] for a in sfh.ages])
        bin_of = np.where(counts.any(axis=1), counts.argmax(axis=1), -1)
        self._n_binned = int(np.count_nonzero(bin_of >= 0))
        if not (np.all(bin_of[:self._n_binned] >= 0) and np.all(np.diff(bin_of[:self._n_binned]) >= 0)
                and np.array_equal(np.unique(bin_of[:self._n_binned]), np.arange(config.age_sampling.size))):
            raise GalfastError("bagpipes' fine SFH ages do not fill its SSP age bins in order")
        self._bin_starts = np.searchsorted(bin_of[:self._n_binned], np.arange(config.age_sampling.size))
        self._n_100myr = int(np.count_nonzero(sfh.ages < config.sfr_timescale))
        self._n_10myr = int(np.count_nonzero(sfh.ages < 1e7))
        self.live_frac = sfh.live_frac_grid                     # (Z, A)
        self.zmet_vals = config.metallicities
        # young / old split at t_bc (as stellar.spectrum and nebular._interpolate_grid do)
        t_bc = T_BC * 1e9
        index = config.age_bins[config.age_bins < t_bc].shape[0]
        self._old_weight = (config.age_bins[index] - t_bc) / config.age_widths[index - 1]
        self._index = index
        stellar = mg.stellar.grid                               # (W, Z, A)
        young = stellar[:, :, :index].copy()
        young[wav < 912.0] = 0.0                                # fesc = 0: ionising photons absorbed
        old = stellar[:, :, index - 1:]
        # per metallicity: columns [young ages (index) | old ages (A - index + 1)]
        cols = np.concatenate([young, old], axis=2)             # (W, Z, C): [young ages | old ages]
        neb = mg.nebular.combined_grid[:, :, :, :index]         # (W, Z, U, index)
        n_z, n_u = cols.shape[1], neb.shape[2]
        # grids of adjacent metallicity pairs (Z-1, 2C, W) and (metallicity, log U) squares
        # (Z-1, U-1, 4 index, W), transposed for row-major products
        self._stellar_pairs = np.ascontiguousarray(np.stack(
            [np.concatenate([cols[:, i], cols[:, i + 1]], axis=1).T for i in range(n_z - 1)]))
        self._neb_squares = np.ascontiguousarray(np.stack([np.stack(
            [np.concatenate([neb[:, i, u], neb[:, i, u + 1], neb[:, i + 1, u], neb[:, i + 1, u + 1]],
                            axis=1).T for u in range(n_u - 1)]) for i in range(n_z - 1)]))
        self.log_u_vals = config.logU
        # dust
        self._a_cont_ln = -mg.dust_atten.A_cont * np.log(10.0) / 2.5   # trans = exp(A_V × this)
        self._dust_emission = mg.dust_emission
        self._trapz_w = np.zeros(n_w)
        dx = np.diff(wav)
        self._trapz_w[:-1] += dx / 2
        self._trapz_w[1:] += dx / 2
        self._dust_template = {}
        # IGM, cosmology
        self._igm_t = np.ascontiguousarray(mg.igm.grid.T)       # (n_z, W)
        self._igm_z = config.igm_redshifts
        # filters (bagpipes' own resampled curves, widths and effective wavelengths)
        fs = mg.filter_set
        n_b = len(self.bands)
        self._filt = np.ascontiguousarray(fs.filt_array[:, :n_b])   # (W, B)
        self._cw = fs.widths * fs.wavelengths                   # (W,)
        self._mujy = 1.0 / (1e-29 * 2.9979e18 / fs.eff_wavs[:n_b] ** 2)
        nonzero = np.flatnonzero(np.any(self._filt > 0, axis=1))
        self._m_lo = int(max(nonzero[0] - 1, 0))
        self._m_hi = int(min(nonzero[-1] + 1, n_w - 1))

    # ---------------------------------------------------------------- pieces
    def age_of_universe(self, z):
        """Age of the universe at z [Gyr], bagpipes' cosmology (flat ΛCDM, H0 = 70, Ωm = 0.3)."""
        return np.interp(z, self._utils.z_array, self._utils.age_at_z)

    def sfh_mass(self, p: dict) -> np.ndarray:
        """Mass formed in each bin of bagpipes' fine age grid for 1 M☉ formed in total, (N, n_fine)."""
        ages = self.fine_ages[None, :]
        widths = self.fine_widths[None, :]
        age = np.asarray(p["sfh_age"], float)[:, None] * 1e9
        if self.sfh_kind == "delayed_tau":
            tau = np.asarray(p["sfh_tau"], float)[:, None] * 1e9
            t = age - ages
            dm = np.where(ages < age, t * np.exp(-np.maximum(t, 0) / tau), 0.0) * widths
            return dm / dm.sum(axis=1, keepdims=True)
        const = ((ages > 0.0) & (ages < age)) * widths
        const /= const.sum(axis=1, keepdims=True)
        burst_idx = np.argmin(np.abs(ages - np.asarray(p["burst_age"], float)[:, None] * 1e9), axis=1)
        fb = np.asarray(p["burst_frac"], float)
        dm = (1 - fb)[:, None] * const
        dm[np.arange(len(burst_idx)), burst_idx] += fb
        return dm

    def _zmet_weights(self, log_zmet):
        """(N, 2) weights and lower index of the bracketing metallicity pair (bagpipes' delta)."""
        zmet = 10 ** np.asarray(log_zmet, float)
        vals = self.zmet_vals
        high = np.searchsorted(vals, zmet, side="left")        # = count(vals < zmet)
        hc = np.clip(high, 1, vals.size - 1)
        low = hc - 1
        w_hi = (zmet - vals[low]) / (vals[hc] - vals[low])
        w_hi = np.where(high == 0, 0.0, np.where(high >= vals.size, 1.0, w_hi))
        w = np.column_stack([1 - w_hi, w_hi])                   # pair (low, low + 1)
        return low, w

    def _logu_weights(self, log_u):
        lu = np.asarray(log_u, float).copy()
        vals = self.log_u_vals
        lu = np.where(lu == vals[0], lu + 1e-10, lu)
        ind = np.searchsorted(vals, lu, side="left")
        if np.any((ind < 1) | (ind >= vals.size)):
            raise ParameterError(f"log_u must lie in ({vals[0]}, {vals[-1]}], got "
                               f"{lu[(ind < 1) | (ind >= vals.size)][:3]}")
        w_low = (vals[ind] - lu) / (vals[ind] - vals[ind - 1])
        return ind - 1, np.column_stack([w_low, 1 - w_low])

    def _dust_emission_spectra(self, p, n):
        """(N, W) normalised dust-emission spectra (one shared row when parameters are fixed)."""
        vals = {k: np.broadcast_to(np.asarray(p.get(k, d), float), (n,)) for k, d in
                DUST_EMISSION_DEFAULTS.items()}
        if all(np.all(v == v[0]) for v in vals.values()) and n:
            key = tuple(float(v[0]) for v in vals.values())
            if key not in self._dust_template:
                self._dust_template[key] = self._dust_emission.spectrum(*key)
            return np.broadcast_to(self._dust_template[key], (n, self.wavelengths.size))
        return np.stack([self._dust_emission.spectrum(vals["qpah"][i], vals["umin"][i],
                                                      vals["gamma"][i]) for i in range(n)])

    def _igm_trans(self, z):
        i0, fact = self._igm_index(z)
        return self._igm_t[i0] * (1 - fact)[:, None] + self._igm_t[i0 + 1] * fact[:, None]

    def _project(self, spec, z):
        """bagpipes' filter integration (filter curves blueshifted by 1+z) → (N, B) µJy."""
        wav = self.wavelengths
        n, n_w = spec.shape
        x = wav[None, :] * (1.0 + z[:, None])
        k = np.searchsorted(wav, x.ravel(), side="right").reshape(x.shape) - 1
        valid = (k >= 0) & (x <= wav[-1])
        k = np.clip(k, 0, n_w - 2)
        frac = np.where(valid, (x - wav[k]) / (wav[k + 1] - wav[k]), 0.0)
        at_end = x == wav[-1]
        k = np.where(at_end, n_w - 2, k)
        frac = np.where(at_end, 1.0, frac)
        rows = (np.arange(n) * n_w)[:, None]
        out = []
        for a in (spec * self._cw[None, :], np.broadcast_to(self._cw, spec.shape)):
            a = np.where(valid, a, 0.0)
            u = np.bincount((rows + k).ravel(), (a * (1 - frac)).ravel(), minlength=n * n_w)
            u += np.bincount((rows + k + 1).ravel(), (a * frac).ravel(), minlength=n * n_w)
            out.append(u.reshape(n, n_w) @ self._filt)
        flux, norm = out
        with np.errstate(invalid="ignore", divide="ignore"):
            return flux / norm * self._mujy[None, :]

    # ---------------------------------------------------------------- the model
    def evaluate(self, params: dict, *, return_spectra: bool = False) -> dict:
        """Photometry and derived quantities for parameter arrays (see the module docstring).

        Returns a dict: ``flux`` (N, B) [µJy]; ``log_mstar``, ``massformed``, ``log_sfr``
        (100 Myr), ``log_sfr10`` (10 Myr), ``log_ssfr`` [yr⁻¹], ``age_mw`` (formed-mass-weighted
        age [Gyr]), ``log_ldust`` [L☉]; with ``return_spectra`` also ``spectrum`` (N, W) [erg/s/cm²/Å].
        """
        p = {k: np.atleast_1d(np.asarray(v, float)) for k, v in params.items()}
        if "z" not in p:
            raise ParameterError("forward model needs parameter 'z'")
        n = p["z"].size
        self._check(p, n)
        if n <= BATCH_ROWS:
            return self._evaluate_batch(p, return_spectra)
        parts = [self._evaluate_batch({k: v[s:s + BATCH_ROWS] for k, v in p.items()}, return_spectra)
                 for s in range(0, n, BATCH_ROWS)]
        return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}

    def _evaluate_batch(self, p, return_spectra):
        z = p["z"]
        n = z.size
        dm = self.sfh_mass(p)                                   # (N, F) per M☉ formed
        # SSP weights: np.histogram(ages, bins=age_bins, weights=dm) as contiguous sums
        w_age = np.add.reduceat(dm[:, :self._n_binned], self._bin_starts, axis=1)
        low, wz = self._zmet_weights(p["log_zmet"])
        # living mass per formed M☉
        live = (wz[:, 0:1] * self.live_frac[low] + wz[:, 1:2] * self.live_frac[low + 1])
        live_unit = np.sum(live * w_age, axis=1)
        if "massformed" in p:
            mass = 10 ** p["massformed"]
        else:
            mass = 10 ** p["log_mstar"] / live_unit
        w_age = w_age * mass[:, None]
        # young / old weights
        idx, ow = self._index, self._old_weight
        w_young = w_age[:, :idx].copy()
        w_young[:, -1] *= (1 - ow)
        w_old = w_age[:, idx - 1:].copy()
        w_old[:, 0] *= ow
        w_cat = np.concatenate([w_young, w_old], axis=1)       # (N, C)
        lu_low, wu = self._logu_weights(p["log_u"])
        # unattenuated spectrum: stellar (all ages) + nebular (young ages), grouped by the
        # metallicity pair and the (metallicity, log U) square of each galaxy
        spec = np.empty((n, self.wavelengths.size))
        a, b = wz[:, 0:1], wz[:, 1:2]
        stellar_w = np.concatenate([a * w_cat, b * w_cat], axis=1)
        u_lo, u_hi = wu[:, 0:1], wu[:, 1:2]
        neb_w = np.concatenate([a * u_lo * w_young, a * u_hi * w_young,
                                b * u_lo * w_young, b * u_hi * w_young], axis=1)
        for zl in np.unique(low):
            rows_z = np.flatnonzero(low == zl)
            part = stellar_w[rows_z] @ self._stellar_pairs[zl]
            lu_z = lu_low[rows_z]
            for ul in np.unique(lu_z):
                sel = np.flatnonzero(lu_z == ul)
                part[sel] += neb_w[rows_z[sel]] @ self._neb_squares[zl, ul]
            spec[rows_z] = part
        # diffuse ISM attenuation (eta = 1: birth clouds see the same A_V) + energy balance
        trans = np.exp(p["av"][:, None] * self._a_cont_ln[None, :])
        kernel = _kernel() if self.backend != "numpy" and not return_spectra else None
        if kernel is not None:
            flux, ldust = self._finish_compiled(kernel, spec, trans, p, z, n)
        else:
            flux, ldust, spec = self._finish_numpy(spec, trans, p, z, n)
        out = self._derived(dm, mass, live_unit, flux, ldust)
        if return_spectra:
            out["spectrum"] = spec
        return out

    def _scale(self, z):
        """L☉ / (4π d_L² (1+z)) [erg/s → erg/s/cm²], bagpipes' cosmology and constants."""
        d_l = MPC_CM * np.interp(z, self._utils.z_array, self._utils.ldist_at_z, left=0, right=0)
        lum = np.where(z > 0, 4 * np.pi * d_l ** 2, 1.0)
        return L_SUN_CGS / (lum * (1 + z))

    def _igm_index(self, z):
        grid_z = self._igm_z
        ind = np.searchsorted(grid_z, z, side="left")
        ind_c = np.clip(ind, 1, grid_z.size - 1)
        fact = np.where(ind == 0, 0.0, (z - grid_z[ind_c - 1]) / (grid_z[ind_c] - grid_z[ind_c - 1]))
        return ind_c - 1, fact

    def _finish_compiled(self, kernel, spec, trans, p, z, n):
        dust = np.ascontiguousarray(self._dust_emission_spectra(p, n))
        if dust.strides[0] == 0:
            dust = np.ascontiguousarray(dust[:1])
        i0, fact = self._igm_index(z)
        flux = np.empty((n, len(self.bands)))
        ldust = np.empty(n)
        kernel.finish_photometry(spec, np.ascontiguousarray(trans), dust, self._scale(z), 1.0 + z,
                                 i0.astype(np.int64), fact, self._igm_t, self.wavelengths, self._cw,
                                 self._trapz_w, self._filt, self._mujy, flux, ldust,
                                 self._m_lo, self._m_hi, 1)
        return flux, ldust

    def _finish_numpy(self, spec, trans, p, z, n):
        att = spec * trans
        ldust = (spec - att) @ self._trapz_w                    # [L☉]
        spec = att
        spec += ldust[:, None] * self._dust_emission_spectra(p, n)
        spec *= self._igm_trans(z)
        spec *= self._scale(z)[:, None]
        return self._project(spec, z), ldust, spec

    def _derived(self, dm, mass, live_unit, flux, ldust):
        """Derived quantities, as bagpipes' star_formation_history computes them."""
        fw = self.fine_widths
        out = {"flux": flux, "massformed": np.log10(mass), "log_mstar": np.log10(live_unit * mass)}
        for name, n_young in (("log_sfr", self._n_100myr), ("log_sfr10", self._n_10myr)):
            sfr = dm[:, :n_young].sum(axis=1) * mass / fw[:n_young].sum()
            with np.errstate(divide="ignore"):
                out[name] = np.log10(sfr)
        out["log_ssfr"] = out["log_sfr"] - out["log_mstar"]
        out["age_mw"] = (dm @ self.fine_ages) / dm.sum(axis=1) / 1e9
        with np.errstate(divide="ignore"):
            out["log_ldust"] = np.log10(ldust)
        return out

    def _check(self, p, n):
        need = ["z", "log_zmet", "av", "log_u", "sfh_age"]
        need += ["sfh_tau"] if self.sfh_kind == "delayed_tau" else ["burst_age", "burst_frac"]
        if "massformed" not in p and "log_mstar" not in p:
            need.append("log_mstar")
        missing = [k for k in need if k not in p]
        if missing:
            raise ParameterError(f"forward model ({self.sfh_kind}) needs parameter(s) {missing}")
        for k, v in p.items():
            if v.size not in (1, n):
                raise ParameterError(f"parameter {k!r} has {v.size} values, expected {n}")
            if not np.all(np.isfinite(v)):
                raise ParameterError(f"parameter {k!r} has non-finite values (first at row "
                                   f"{int(np.flatnonzero(~np.isfinite(v))[0])})")
        for k in list(p):
            if p[k].size == 1 and n != 1:
                p[k] = np.full(n, p[k][0])
        z = p["z"]
        if np.any((z < 0) | (z > self._config.max_redshift)):
            raise ParameterError(f"z must lie in [0, {self._config.max_redshift}] (bagpipes' grids)")
        t_univ = self.age_of_universe(z)
        late = []
        for key in ("sfh_age", "burst_age"):
            if key in p:
                late.extend(np.flatnonzero(p[key] > t_univ).tolist())
        if late:
            raise ParameterError(f"star formation before the Big Bang (sfh_age or burst_age > age of "
                               f"the universe at z) at row(s) {sorted(set(late))[:5]}")


@functools.lru_cache(maxsize=1)
def _kernel():
    """The compiled kernel module, or None when the extension is not built (numpy fallback)."""
    try:
        from .._ext import sim_kernels
    except ImportError:
        return None
    return sim_kernels


def _curves_key(bands) -> tuple:
    """Digest of the user-given filter curves among ``bands`` (None for sedpy's own)."""
    import hashlib

    key = []
    for b in bands:
        band = get_band(b)
        if band.wavelength is None:
            key.append(None)
        else:
            digest = hashlib.sha256(np.ascontiguousarray(band.wavelength, dtype=float).tobytes())
            digest.update(np.ascontiguousarray(band.transmission, dtype=float).tobytes())
            key.append(digest.hexdigest())
    return tuple(key)


def _cached_model(bands: tuple, sfh: str) -> ForwardModel:
    """A ForwardModel of ``bands`` built once per set of bands, SFH and filter curves (a band
    registered again with another curve gets a new model)."""
    bands = tuple(bands)
    return _cached_model_for(bands, sfh, _curves_key(bands))


@functools.lru_cache(maxsize=8)
def _cached_model_for(bands: tuple, sfh: str, curves: tuple) -> ForwardModel:
    return ForwardModel(bands, sfh)


def model_fluxes(params: dict, bands, *, sfh: str = "delayed_tau") -> np.ndarray:
    """Noiseless model photometry (N, B) [µJy] for parameter arrays (see module docstring)."""
    model = _cached_model(tuple(resolve_band(b) for b in expand_bands(bands)), sfh)
    return model.evaluate(params)["flux"]

"""``simulate_cutouts``: mock JWST cut-outs of bulge + disc + clump galaxies with known dust truth.

Every galaxy is three components, each with its own star-formation history and its own
Calzetti dust screen, whose fluxes come from galfast's bagpipes forward model
(:class:`galfast.sim.ForwardModel`), so colours, magnitudes and redshift are physical:

* **bulge** — Sérsic profile, n drawn from :data:`BULGE_SERSIC_N` (a few discrete values: every
  new n costs galsim a set-up), older delayed-τ population (a compact core still forming stars), the dustiest screen
  (A_V = A_V,disc × ``av_bulge_boost``: dust concentrated towards the centre);
* **disc** — exponential (n = 1), inclined, younger delayed-τ population, screen A_V,disc;
* **clumps** — 0 … 4 compact Gaussian knots in the disc plane, young (10–80 Myr) nearly
  constant star formation, screen A_V,disc × ``av_clump_boost`` (dust in the star-forming clumps).

Each band is drawn achromatically (one flux per component and band) with galsim, convolved with
that band's PSF, built once per band and reused: an obscured Airy pattern of λ_eff / D for
JWST's D = 6.5 m and a 0.11 central obscuration (FWHM 0.091″ at F277W, 0.145″ at F444W, close
to NIRCam's measured 0.092″/0.145″; the hexagonal segments and struts are not modelled), on
32×32 (or 64×64) pixels of 0.063″ (NIRCam long-wavelength).  Pixels are in µJy; the noise is
Poisson in electrons (exposure ``exposure_s`` at a zero point of :data:`ZERO_POINT` AB for
1 e⁻/s) on a flat sky whose level gives the band's 5σ point-source depth (``depths``, default
the ``jwst_deep`` preset) in a 0.1″-radius aperture; the sky is subtracted.

Truths per image (the ``CUTOUTS`` table): ``z``, ``log_mstar``, ``log_sfr`` (100 Myr),
``log_ssfr``; the dust of the integrated light: ``av`` = A_V,eff, ``ebv`` = E(B−V)_eff,
``rv`` = av / ebv, where A_λ,eff = −2.5 log10 Σ_c w_c(λ) 10^(−0.4 A_λ,c) is the flux-weighted
attenuation with w_c(λ) each component's share of the intrinsic (unattenuated) rest-frame light
at λ = 5500 Å (V) and 4400 Å (B) (for one screen this is A_V and A_V/4.05; a mix of screens gives
R_V ≠ 4.05); the components' ``av_bulge``, ``av_disc``, ``av_clumps``, their light shares
``wv_*``, ``wb_*``; structure (``n_bulge``, ``re_bulge``, ``re_disc`` [arcsec], ``q_disc``,
``n_clumps``); per band ``<band>`` and ``<band>_err`` (the cut-out's summed flux and its σ
[µJy]: the integrated photometry of the same pixels), ``<band>_true`` (noiseless total flux)
and ``snr_<band>`` (S/N in a 0.3″-radius aperture).

Random numbers: row ``i`` draws everything (parameters, then the noise) from
``SeedSequence(seed, spawn_key=(i,))``, so a row is the same whatever ``n``, ``chunk_rows`` or
``n_jobs``.  With ``out`` every chunk is a numbered part under ``<out>.parts/``
(:class:`galfast.stream.PartStore`); an interrupted run given the same arguments resumes; the
parts are joined into one FITS cut-out stack (:mod:`galfast.images.io`).
"""
from __future__ import annotations

import functools
import json
import numbers
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .._version import __version__
from ..bands import effective_wavelength, expand_bands, resolve_band
from ..errors import BandError
from ..validation import ParameterError, effective_n_jobs

__all__ = ["simulate_cutouts", "MockPriors", "DEFAULT_BANDS", "PIXEL_SCALE", "BULGE_SERSIC_N",
           "ZERO_POINT", "band_psf", "META_KEY"]

DEFAULT_BANDS = ("jwst_f277w", "jwst_f356w", "jwst_f444w")
#: NIRCam long-wavelength pixel scale [arcsec]
PIXEL_SCALE = 0.063
MIRROR_DIAMETER = 6.5
OBSCURATION = 0.11
#: the discrete bulge Sérsic indices
BULGE_SERSIC_N = (1.5, 2.5, 4.0)
#: AB magnitude giving 1 e⁻/s (NIRCam LW-like, the same for every band)
ZERO_POINT = 28.0
#: radius of the depth (5σ point source) aperture and of the S/N aperture [arcsec]
DEPTH_APERTURE = 0.1
SNR_APERTURE = 0.3
CALZETTI_RV = 4.05
META_KEY = "GFIMGCFG"
SIZES = (32, 64)
COMPONENTS = ("bulge", "disc", "clumps")


@dataclass(frozen=True)
class MockPriors:
    """Ranges of the mock galaxies (uniform unless said; ``(lo, hi)``, equal ends fix a value).

    z : redshift (default the seed paper's 6–8)
    log_mstar : total living stellar mass [M☉]
    log_zmet, log_u : shared metallicity [log Z/Z☉] and ionisation parameter
    bulge_fraction, clump_fraction : shares of the stellar mass
    n_clumps : (min, max) integer number of clumps
    av_disc : disc A_V [mag]; av_bulge_boost, av_clump_boost : bulge / clump A_V over the disc's
    re_disc, re_bulge : half-light radii [arcsec] (log-uniform); q_disc : disc axis ratio
    """

    z: tuple = (6.0, 8.0)
    log_mstar: tuple = (8.5, 10.5)
    log_zmet: tuple = (-1.5, 0.0)
    log_u: tuple = (-3.0, -1.5)
    bulge_fraction: tuple = (0.1, 0.6)
    clump_fraction: tuple = (0.02, 0.15)
    n_clumps: tuple = (0, 4)
    av_disc: tuple = (0.0, 1.0)
    av_bulge_boost: tuple = (1.0, 3.0)
    av_clump_boost: tuple = (1.0, 3.0)
    re_disc: tuple = (0.12, 0.45)
    re_bulge: tuple = (0.03, 0.12)
    q_disc: tuple = (0.3, 1.0)

    def __post_init__(self):
        for k, v in asdict(self).items():
            try:
                lo, hi = (float(x) for x in v)
            except (TypeError, ValueError):
                raise ParameterError(f"MockPriors.{k} must be a (low, high) pair, got {v!r}") from None
            if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
                raise ParameterError(f"MockPriors.{k} = {v!r}: need finite low ≤ high")
            object.__setattr__(self, k, (lo, hi))
        if self.z[0] < 0 or self.z[1] > 10:
            raise ParameterError(f"MockPriors.z = {self.z} leaves bagpipes' grids [0, 10]")
        if self.n_clumps[0] < 0:
            raise ParameterError("MockPriors.n_clumps must be ≥ 0")
        if self.bulge_fraction[1] + self.clump_fraction[1] >= 0.95:
            raise ParameterError("bulge_fraction + clump_fraction must stay below 0.95 (the disc keeps ≥ 5 %)")

    def to_dict(self):
        return {k: list(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class _Spec:
    bands: tuple
    priors: MockPriors
    size: int
    depths: tuple          # 5σ point-source depth per band [AB]
    exposure_s: float
    seed: int
    snr_cut: float | None

    def config(self, n):
        return {"galfast_version": __version__, "n": int(n), "bands": list(self.bands),
                "priors": self.priors.to_dict(), "size": self.size, "depths": list(self.depths),
                "exposure_s": self.exposure_s, "seed": self.seed, "snr_cut": self.snr_cut,
                "pixel_scale": PIXEL_SCALE, "zero_point": ZERO_POINT, "psf": "obscured Airy",
                "mirror_diameter_m": MIRROR_DIAMETER, "obscuration": OBSCURATION}


# ------------------------------------------------------------------------------ physics pieces
def band_psf(band: str):
    """The band's PSF: galsim obscured Airy of λ_eff / 6.5 m (built once per band per process)."""
    return _psf(resolve_band(band))


_PSF_CACHE: dict = {}
_GSPARAMS = None


def _gsparams():
    global _GSPARAMS
    if _GSPARAMS is None:
        import galsim

        _GSPARAMS = galsim.GSParams(folding_threshold=1e-2, maxk_threshold=2e-3)
    return _GSPARAMS


def _psf(band):
    if band not in _PSF_CACHE:
        import galsim

        lam_nm = effective_wavelength(band) / 10.0
        _PSF_CACHE[band] = galsim.Airy(lam=lam_nm, diam=MIRROR_DIAMETER, obscuration=OBSCURATION,
                                       scale_unit=galsim.arcsec, gsparams=_gsparams())
    return _PSF_CACHE[band]


def _age_of_universe(z):
    from ..sim.forward import import_bagpipes

    import_bagpipes()
    from bagpipes import utils

    return float(np.interp(z, utils.z_array, utils.age_at_z))


def _draw_row(spec: _Spec, i: int):
    """Parameters of row ``i`` and its generator (the noise is drawn from it afterwards)."""
    pr = spec.priors
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(spec.seed, spawn_key=(int(i),))))

    def uni(r):
        return float(rng.uniform(r[0], r[1])) if r[0] < r[1] else r[0]

    def loguni(r):
        return float(np.exp(rng.uniform(np.log(r[0]), np.log(r[1])))) if r[0] < r[1] else r[0]

    z = uni(pr.z)
    t_u = _age_of_universe(z)
    p = {"z": z, "log_mstar": uni(pr.log_mstar), "log_zmet": uni(pr.log_zmet), "log_u": uni(pr.log_u),
         "f_bulge": uni(pr.bulge_fraction), "f_clumps": uni(pr.clump_fraction),
         "n_clumps": int(rng.integers(int(pr.n_clumps[0]), int(pr.n_clumps[1]) + 1)),
         "av_disc": uni(pr.av_disc)}
    p["av_bulge"] = p["av_disc"] * uni(pr.av_bulge_boost)
    p["av_clumps"] = p["av_disc"] * uni(pr.av_clump_boost)
    # SFHs (delayed τ): old bulge, younger disc, young clumps
    p["age_bulge"] = uni((0.3, 0.9)) * t_u
    p["tau_bulge"] = loguni((0.05, 0.5))
    p["age_disc"] = uni((0.15, 0.8)) * t_u
    p["tau_disc"] = loguni((0.2, 3.0))
    p["age_clumps"] = min(loguni((0.01, 0.08)), 0.9 * t_u)
    p["tau_clumps"] = 1.0
    # structure
    p["n_bulge"] = float(BULGE_SERSIC_N[int(rng.integers(len(BULGE_SERSIC_N)))])
    p["re_bulge"] = loguni(pr.re_bulge)
    p["re_disc"] = max(loguni(pr.re_disc), 1.2 * p["re_bulge"])
    p["q_disc"] = uni(pr.q_disc)
    p["q_bulge"] = uni((0.7, 1.0))
    p["beta"] = uni((0.0, np.pi))
    p["dx"], p["dy"] = (float(v) for v in rng.uniform(-0.5, 0.5, 2) * PIXEL_SCALE)
    nc = 4   # always draw 4 clump slots (fixed draw order), use the first n_clumps
    p["clump_r"] = rng.uniform(0.2, 1.5, nc) * p["re_disc"]
    p["clump_phi"] = rng.uniform(0.0, 2 * np.pi, nc)
    p["clump_sigma"] = rng.uniform(0.015, 0.04, nc)
    p["clump_w"] = rng.dirichlet(np.ones(nc))
    return p, rng


def _component_photometry(spec: _Spec, rows: list[dict]):
    """Attenuated fluxes (N, 3, B) [µJy], intrinsic V and B light shares (N, 3) and the total
    log M*, log SFR of ``rows`` from the bagpipes forward model."""
    from ..sim.forward import _cached_model

    model = _cached_model(spec.bands, "delayed_tau")
    n = len(rows)
    params = {k: [] for k in ("z", "log_mstar", "log_zmet", "av", "log_u", "sfh_age", "sfh_tau")}
    for r in rows:
        fr = {"bulge": r["f_bulge"], "clumps": r["f_clumps"] if r["n_clumps"] else 1e-6}
        fr["disc"] = 1.0 - fr["bulge"] - fr["clumps"]
        for c in COMPONENTS:
            params["z"].append(r["z"])
            params["log_mstar"].append(r["log_mstar"] + np.log10(fr[c]))
            params["log_zmet"].append(r["log_zmet"])
            params["log_u"].append(r["log_u"])
            params["av"].append(r[f"av_{c}"])
            params["sfh_age"].append(r[f"age_{c}"])
            params["sfh_tau"].append(r[f"tau_{c}"])
    params = {k: np.asarray(v, float) for k, v in params.items()}
    att = model.evaluate(params)
    intr = model.evaluate({**params, "av": np.zeros_like(params["av"])}, return_spectra=True)
    flux = att["flux"].reshape(n, 3, -1)
    present = np.array([[1.0, 1.0, 1.0 if r["n_clumps"] else 0.0] for r in rows])
    flux = flux * present[:, :, None]
    wav = model.wavelengths
    lv = np.array([np.interp(5500.0, wav, s) for s in intr["spectrum"]]).reshape(n, 3) * present
    lb = np.array([np.interp(4400.0, wav, s) for s in intr["spectrum"]]).reshape(n, 3) * present
    mstar = (10 ** att["log_mstar"]).reshape(n, 3) * present
    sfr = (10 ** att["log_sfr"]).reshape(n, 3) * present
    return flux, lv / lv.sum(1, keepdims=True), lb / lb.sum(1, keepdims=True), mstar.sum(1), sfr.sum(1)


def effective_attenuation(weights, a_components):
    """A_eff = −2.5 log10 Σ_c w_c 10^(−0.4 A_c) (weights: intrinsic light shares, rows sum to 1)."""
    w = np.asarray(weights, float)
    a = np.asarray(a_components, float)
    return -2.5 * np.log10(np.sum(w * 10 ** (-0.4 * a), axis=-1))


def _render(spec: _Spec, p: dict, flux_cb: np.ndarray):
    """Noiseless images (B, H, W) [µJy/pixel] of one galaxy with component fluxes (3, B)."""
    import galsim

    gsp = _gsparams()
    size = spec.size
    out = np.empty((len(spec.bands), size, size), dtype=np.float64)
    beta = p["beta"] * galsim.radians
    bulge = galsim.Sersic(p["n_bulge"], half_light_radius=p["re_bulge"], gsparams=gsp).shear(
        q=p["q_bulge"], beta=beta)
    disc = galsim.Exponential(half_light_radius=p["re_disc"], gsparams=gsp).shear(q=p["q_disc"], beta=beta)
    clumps = []
    cb, sb = np.cos(p["beta"]), np.sin(p["beta"])
    for k in range(p["n_clumps"]):
        x = p["clump_r"][k] * np.cos(p["clump_phi"][k])
        y = p["clump_r"][k] * np.sin(p["clump_phi"][k]) * p["q_disc"]
        clumps.append((galsim.Gaussian(sigma=p["clump_sigma"][k], gsparams=gsp)
                       .shift(x * cb - y * sb, x * sb + y * cb), p["clump_w"][k] / p["clump_w"][:p["n_clumps"]].sum()))
    for j, band in enumerate(spec.bands):
        parts = [bulge.withFlux(flux_cb[0, j]), disc.withFlux(flux_cb[1, j])]
        parts += [c.withFlux(flux_cb[2, j] * w) for c, w in clumps]
        gal = galsim.Add(parts).shift(p["dx"], p["dy"])
        img = galsim.Convolve(gal, _psf(band), gsparams=gsp).drawImage(nx=size, ny=size, scale=PIXEL_SCALE)
        out[j] = img.array
    return out


def _noise_levels(spec: _Spec):
    """Electrons per µJy and sky electrons per pixel, per band."""
    gain = spec.exposure_s * 10 ** (0.4 * (ZERO_POINT - 23.9))     # e⁻ per µJy
    n_ap = np.pi * (DEPTH_APERTURE / PIXEL_SCALE) ** 2
    f5 = 10 ** (-0.4 * (np.asarray(spec.depths) - 23.9))           # µJy
    sigma_pix = f5 / 5.0 / np.sqrt(n_ap)
    return gain, (sigma_pix * gain) ** 2


def _aperture(size, radius_arcsec):
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2.0
    return (xx ** 2 + yy ** 2) <= (radius_arcsec / PIXEL_SCALE) ** 2


def simulate_rows(spec: _Spec, start: int, stop: int) -> tuple[dict, np.ndarray]:
    """(truth columns, images (n, B, H, W) float32) of rows ``start`` … ``stop − 1``."""
    draws = [_draw_row(spec, i) for i in range(start, stop)]
    rows = [d[0] for d in draws]
    flux, wv, wb, mstar, sfr = _component_photometry(spec, rows)
    gain, sky_e = _noise_levels(spec)
    ap = _aperture(spec.size, SNR_APERTURE)
    n, nb = len(rows), len(spec.bands)
    images = np.empty((n, nb, spec.size, spec.size), dtype=np.float32)
    sums = np.empty((n, nb))
    sum_err = np.empty((n, nb))
    snr = np.empty((n, nb))
    for i, ((p, rng), f) in enumerate(zip(draws, flux)):
        model = _render(spec, p, f)
        electrons = np.clip(model, 0, None) * gain + sky_e[:, None, None]
        noisy = rng.poisson(electrons).astype(np.float64) - sky_e[:, None, None]
        img = noisy / gain
        var = electrons / gain ** 2
        images[i] = img
        sums[i] = img.sum(axis=(1, 2))
        sum_err[i] = np.sqrt(var.sum(axis=(1, 2)))
        snr[i] = model[:, ap].sum(1) / np.sqrt(var[:, ap].sum(1))
    a_v = np.array([[r["av_bulge"], r["av_disc"], r["av_clumps"]] for r in rows])
    k_b = _calzetti_b_over_v()
    av = effective_attenuation(wv, a_v)
    ab = effective_attenuation(wb, a_v * k_b)
    cols = {"id": np.arange(start, stop, dtype=np.int64)}
    cols["z"] = np.array([r["z"] for r in rows])
    cols["log_mstar"] = np.log10(mstar)
    cols["log_sfr"] = np.log10(sfr)
    cols["log_ssfr"] = cols["log_sfr"] - cols["log_mstar"]
    cols["av"] = av
    cols["ebv"] = ab - av
    with np.errstate(divide="ignore", invalid="ignore"):
        cols["rv"] = np.where(cols["ebv"] > 0, av / cols["ebv"], np.nan)
    for k, c in enumerate(COMPONENTS):
        cols[f"av_{c}"] = a_v[:, k]
    for k, c in enumerate(COMPONENTS):
        cols[f"wv_{c}"] = wv[:, k]
    for k, c in enumerate(COMPONENTS):
        cols[f"wb_{c}"] = wb[:, k]
    for key in ("n_bulge", "re_bulge", "re_disc", "q_disc", "n_clumps", "log_zmet"):
        cols[key] = np.array([r[key] for r in rows])
    for j, b in enumerate(spec.bands):
        cols[b] = sums[:, j]
        cols[f"{b}_err"] = sum_err[:, j]
        cols[f"{b}_true"] = flux[:, :, j].sum(1)
        cols[f"snr_{b}"] = snr[:, j]
    cols["snr_min"] = snr.min(1)
    if spec.snr_cut is not None:
        keep = snr.min(1) >= spec.snr_cut
        cols = {k: v[keep] for k, v in cols.items()}
        images = images[keep]
    return cols, images


@functools.lru_cache(maxsize=1)
def _calzetti_b_over_v() -> float:
    """A_B / A_V of the Calzetti curve bagpipes uses (4400 Å over 5500 Å)."""
    from ..sim.forward import import_bagpipes

    import_bagpipes()
    from bagpipes.models.dust_attenuation_model import dust_attenuation

    wav = np.array([4000.0, 4400.0, 5500.0, 6000.0])
    try:
        curve = dust_attenuation(wav, {"type": "Calzetti", "Av": 1.0}).A_cont
        return float(curve[1] / curve[2])
    except Exception:   # pragma: no cover - bagpipes API drift: Calzetti (2000) k(λ) directly
        def k(lam_um):
            return 2.659 * (-2.156 + 1.509 / lam_um - 0.198 / lam_um ** 2 + 0.011 / lam_um ** 3) + CALZETTI_RV
        return float(k(0.44) / k(0.55))


# ------------------------------------------------------------------------------ workers
_WORKER_SPEC = None


def _init_worker(spec):
    global _WORKER_SPEC
    _WORKER_SPEC = spec
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass


def _run_chunk(start, stop):
    return simulate_rows(_WORKER_SPEC, start, stop)


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ParameterError(f"{name} must be an int ≥ {minimum}, got {value!r}")
    return int(value)


def _make_spec(bands, priors, size, depths, exposure_s, seed, snr_cut) -> _Spec:
    bands = tuple(resolve_band(b) for b in expand_bands(DEFAULT_BANDS if bands is None else bands))
    if not bands:
        raise ParameterError("simulate_cutouts needs at least one band")
    if len(set(bands)) != len(bands):
        raise BandError(f"bands given more than once: {list(bands)}")
    priors = MockPriors() if priors is None else priors
    if not isinstance(priors, MockPriors):
        raise ParameterError(f"priors must be a galfast.images.MockPriors, got {type(priors).__name__}")
    if size not in SIZES:
        raise ParameterError(f"size must be one of {SIZES} pixels, got {size!r}")
    from ..sim.noise import error_table

    table = error_table(depths, bands)
    dep = tuple(table.depth(b) for b in bands)
    seed = _check_int("seed", seed, 0)
    if snr_cut is not None:
        snr_cut = float(snr_cut)
    if not float(exposure_s) > 0:
        raise ParameterError(f"exposure_s must be > 0, got {exposure_s!r}")
    return _Spec(bands, priors, int(size), dep, float(exposure_s), seed, snr_cut)


def simulate_cutouts(n: int, bands=None, *, priors: MockPriors | None = None, size: int = 32,
                     depths="jwst_deep", exposure_s: float = 1e4, snr_cut: float | None = None,
                     seed: int = 0, n_jobs=None, chunk_rows: int = 256, out=None,
                     overwrite: bool = False, resume: bool = True, progress: bool = True):
    """Simulate ``n`` galaxies' cut-outs and truths (see the module docstring).

    bands : band names/aliases (default F277W, F356W, F444W; any registered band, blue to red
        as given)
    size : 32 or 64 pixels a side (0.063″ pixels)
    depths : 5σ point-source depths: preset name, {band: AB mag} or an ErrorTable
    snr_cut : keep only images with S/N ≥ this in every band (the seed's 5); None keeps all.
        Ids stay the row numbers of the full run, so a cut run's ids are a subset.
    n_jobs : worker processes (None = 1, −1 = all cores)
    out : write a FITS cut-out stack (:func:`galfast.images.write_cutouts`) and return its
        :class:`~galfast.images.CutoutSet` read back (memory-mapped)

    Returns a :class:`~galfast.images.CutoutSet`: ``images`` (N, B, H, W) float32 [µJy/pixel],
    ``ids``, ``bands``, ``table`` (the truths), ``pixel_scale``.
    """
    from tqdm.auto import tqdm

    from .io import CutoutSet, read_cutouts, write_cutouts

    n = _check_int("n", n, 1)
    chunk_rows = _check_int("chunk_rows", chunk_rows, 1)
    n_jobs = effective_n_jobs(n_jobs)
    spec = _make_spec(bands, priors, size, depths, exposure_s, seed, snr_cut)
    config = spec.config(n)
    chunks = [(s, min(s + chunk_rows, n)) for s in range(0, n, chunk_rows)]
    store = None
    if out is not None:
        from ..stream import PartStore

        out = Path(out)
        if out.suffix.lower() not in (".fits", ".fit", ".fz"):
            raise ParameterError(f"cut-out stacks are written as FITS: give out=*.fits, not {out.name}")
        store = PartStore(out, {**config, "chunk_rows": chunk_rows}, overwrite=overwrite, resume=resume)
    results = {}

    def emit(i, cols, images):
        if store is None:
            results[i] = (cols, images)
            return
        import pyarrow as pa

        nbytes = images[0].nbytes if len(images) else images.itemsize * np.prod(images.shape[1:])
        arr = pa.array([im.tobytes() for im in images], type=pa.binary(int(nbytes)))
        store.write(i, pa.table({**cols, "_pixels": arr}))

    done = set(store.done) if store is not None else set()
    todo = [(i, s, e) for i, (s, e) in enumerate(chunks) if i not in done]
    with tqdm(total=n, initial=sum(chunks[i][1] - chunks[i][0] for i in done), unit="img",
              desc="simulate cut-outs", disable=not progress, smoothing=0.1) as bar:
        if n_jobs == 1 or len(todo) <= 1:
            try:
                from threadpoolctl import threadpool_limits

                limit = threadpool_limits(1)
            except ImportError:  # pragma: no cover
                limit = None
            try:
                for i, s, e in todo:
                    emit(i, *simulate_rows(spec, s, e))
                    bar.update(e - s)
            finally:
                if limit is not None:
                    limit.restore_original_limits()
        else:
            import multiprocessing as mp

            from ..sim.forward import _cached_model

            methods = mp.get_all_start_methods()
            ctx = mp.get_context("fork" if "fork" in methods else None)
            if "fork" in methods:     # children inherit the grids
                _cached_model(spec.bands, "delayed_tau")
                _calzetti_b_over_v()
            with ProcessPoolExecutor(max_workers=min(n_jobs, len(todo)), mp_context=ctx,
                                     initializer=_init_worker, initargs=(spec,)) as pool:
                futures = {pool.submit(_run_chunk, s, e): (i, s, e) for i, s, e in todo}
                try:
                    for fut in as_completed(futures):
                        i, s, e = futures.pop(fut)
                        emit(i, *fut.result())
                        bar.update(e - s)
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
    meta = {META_KEY: json.dumps(config)}
    if store is None:
        from astropy.table import Table

        table = Table({k: np.concatenate([results[i][0][k] for i in range(len(chunks))])
                       for k in results[0][0]})
        images = np.concatenate([results[i][1] for i in range(len(chunks))])
        table.meta[META_KEY] = meta[META_KEY]
        return CutoutSet(images, table["id"].data.copy(), spec.bands, table, PIXEL_SCALE)
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = [pq.read_table(store.part_path(i)) for i in range(len(chunks))]
    joined = pa.concat_tables(parts)
    pix = joined.column("_pixels").combine_chunks()
    shape = (len(spec.bands), spec.size, spec.size)
    raw = b"".join(v.as_py() for v in pix) if len(pix) else b""
    images = np.frombuffer(raw, dtype=np.float32).reshape((-1,) + shape)
    from astropy.table import Table

    table = Table({name: joined.column(name).to_numpy() for name in joined.column_names if name != "_pixels"})
    write_cutouts(out, images, spec.bands, ids=table["id"], table=table, meta=meta, overwrite=True)
    shutil.rmtree(store.dir)
    return read_cutouts(out)

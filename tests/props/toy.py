"""An analytic toy universe with known truth for the property-regressor tests."""
import numpy as np
from astropy.table import Table

from galfast.photometry import (Photometry, flux_err_to_mag_err, flux_to_mag, mag_err_to_flux_err,
                                mag_to_flux)

BANDS = ["acs_wfc_f606w", "jwst_f090w", "jwst_f150w", "jwst_f200w", "jwst_f277w", "jwst_f444w"]
DEPTH_5SIG = 28.0   # background-limited 5σ depth [AB] of every band
#: small, quick networks (one torch thread)
SMALL = dict(hidden=(64, 64), epochs=80, patience=10, batch_size=256, n_jobs=1)


def toy_universe(n, seed, missing_fraction=0.0):
    """Magnitudes an exact smooth function of (mass, av, z); Gaussian flux noise at a fixed depth.

    m_b = 50 − 2.5·mass + av·k_b + 0.6·z·x_b + 0.8·z, k_b = 1.2 … 0.2 (bluer bands redder by dust),
    x_b = −1 … 1; mass ∈ [9, 11] puts objects from S/N ≈ 1 to ≈ 600.
    Returns (Photometry with ids 1000…, truth Table log_mstar/av, S/N in F150W)."""
    rng = np.random.default_rng(seed)
    mass = rng.uniform(9, 11, n)
    av = rng.uniform(0, 2, n)
    z = rng.uniform(0, 2, n)
    k = np.linspace(1.2, 0.2, len(BANDS))
    x = np.linspace(-1, 1, len(BANDS))
    mag = 50 - 2.5 * mass[:, None] + av[:, None] * k + 0.6 * z[:, None] * x + 0.8 * z[:, None]
    f_true = mag_to_flux(mag)
    err = np.full_like(f_true, mag_to_flux(DEPTH_5SIG) / 5)
    flux = f_true + rng.normal(size=f_true.shape) * err
    if missing_fraction:
        miss = rng.random(flux.shape) < missing_fraction
        flux[miss] = np.nan
        err[miss] = np.nan
    phot = Photometry.from_arrays(flux, err, BANDS, ids=np.arange(1000, 1000 + n), z=z)
    truth = Table({"log_mstar": mass, "av": av})
    snr = f_true[:, 2] / err[:, 2]
    return phot, truth, snr


def mag_and_flux_tables(phot):
    """The same photometry as a magnitude table and as the equivalent flux table (via the
    galfast.photometry converters); entries with flux ≤ 0 have no magnitude → not observed."""
    mag = flux_to_mag(phot.flux)
    mag_err = flux_err_to_mag_err(phot.flux, phot.flux_err)
    tm, tf = Table({"id": phot.ids, "z": phot.z}), Table({"id": phot.ids, "z": phot.z})
    for j, b in enumerate(phot.bands):
        tm[b], tm[b + "_err"] = mag[:, j], mag_err[:, j]
        tf[b], tf[b + "_err"] = mag_to_flux(mag[:, j]), mag_err_to_flux_err(mag[:, j], mag_err[:, j])
    return tm, tf

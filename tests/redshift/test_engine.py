"""The prediction engine: patterns of usable bands, bands dropped when too few training rows
share them, too few bands, few neighbours — each flagged with the registry's bits, and the bands
each row was served from reported in bands_used."""
import warnings

import numpy as np

from galfast import flags
from galfast.errors import CatalogWarning
from galfast.redshift import PHOTOZ_FLAGS, KLLRPhotoZ, describe_flags, photoz

from .reference import analytic


def test_too_few_bands_and_few_training_rows_are_flagged():
    rng = np.random.default_rng(6)
    Mt, zt = analytic(rng, 500)
    Mt[:5, 0] = np.nan  # only 5 training rows lack band 0 → patterns without it have all 500
    Mq, _ = analytic(rng, 4)
    Mq[0, :] = np.nan
    Mq[1, 1:] = np.nan          # one band: no colour
    Mq[2, [0, 2]] = np.nan      # 3 bands
    z, e, f = photoz(Mt, zt, Mq, k=10)
    assert np.isnan(z[:2]).all() and np.isnan(e[:2]).all()
    assert flags.has(f[:2], "no_estimate").all() and flags.has(f[:2], "too_few_bands").all()
    assert np.isfinite(z[2:]).all() and not flags.has(f[2:], "no_estimate").any()
    assert "too_few_bands" in describe_flags(f[1])
    # bands that fewer than k training rows share are dropped, the one costing most rows first
    Mt2 = Mt.copy()
    Mt2[8:, 4] = np.nan  # only rows 5..7 have all 5 bands (rows 0..4 lack band 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CatalogWarning)
        est = KLLRPhotoZ(k=10).fit(Mt2, zt)
    r = est.predict_full(Mq[3:4])
    assert r["flags"][0] & flags.BANDS_DROPPED and r["n_bands_used"][0] == 4
    assert r["bands_used"][0] == 0b01111 and r["n_neighbours"][0] >= 9
    # a two-band pattern with fewer training rows than k uses them all and says so
    Mt3 = Mt[:12].copy()
    Mt3[3:, 4] = np.nan
    est = KLLRPhotoZ(k=10).fit(Mt3, zt[:12])
    q = Mq[3:4].copy()
    q[0, :3] = np.nan
    r = est.predict_full(q)
    assert r["flags"][0] & flags.FEW_NEIGHBOURS and r["n_neighbours"][0] <= 3 and np.isfinite(r["z"][0])
    assert r["bands_used"][0] == 0b11000


def test_flags_are_registry_bits_only(jwst_phot):
    """Every flags value of the whole z ≤ 7 sample (missing bands, non-detections) decodes with
    galfast.flags into bits photo-z documents it sets."""
    from galfast.datasets import jwst_specz_protocol

    p, _ = jwst_specz_protocol(jwst_phot, complete=False)
    r = KLLRPhotoZ().fit(p.select(np.arange(0, len(p), 2))).predict_full(p.select(np.arange(1, len(p), 2)))
    allowed = sum(PHOTOZ_FLAGS)
    assert r["flags"].dtype == np.int64 and not (r["flags"] & ~allowed).any()
    assert flags.has(r["flags"], "missing_bands").any() and flags.has(r["flags"], "extrapolation").any()

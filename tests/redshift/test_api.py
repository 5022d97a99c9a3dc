"""galfast.photoz, the drop-in function: arrays (or Photometry) in, (z, z_err, flags) out, one
row per target row in input order; flags hold only registry bits."""
import numpy as np

import galfast
from galfast import flags
from galfast.metrics import photoz_metrics
from galfast.redshift import PHOTOZ_FLAGS, KLLRPhotoZ, photoz


def test_whole_sample_every_row_served(jwst_phot):
    """All 5,611 z ≤ 7 rows, missing bands and non-detections kept: one row out per row in."""
    from galfast.datasets import jwst_specz_protocol, stratified_split

    p, _ = jwst_specz_protocol(jwst_phot, complete=False)
    assert len(p) == 5611
    mags, z = p.mag(), p.z
    tr, te = stratified_split(z, seed=0)
    z_phot, z_err, f, est = photoz(mags[tr], z[tr], mags[te], return_model=True)
    assert len(z_phot) == len(te) == len(f)
    usable = np.isfinite(mags[te])
    missing = ~usable.all(axis=1)
    assert missing.sum() > 100
    np.testing.assert_array_equal(flags.has(f, "missing_bands"), missing)
    # #8: flags hold condition bits only (the bands used were at bits ≥ 16); bands_used has them
    assert not (f & ~sum(PHOTOZ_FLAGS)).any()
    used = est.predict_full(mags[te])["bands_used"][:, None] >> np.arange(11) & 1
    np.testing.assert_array_equal(used.astype(bool), usable)
    assert np.isfinite(z_phot).all() and np.isfinite(z_err).all()
    m = photoz_metrics(z_phot, z[te])
    assert m["outlier_fraction"] <= 0.05 and m["sigma_nmad"] < 0.022
    assert photoz_metrics(z_phot[missing], z[te][missing])["outlier_fraction"] < 0.08


def test_photoz_function_accepts_photometry_and_keeps_order(protocol_phot):
    p = protocol_phot
    train, target = p.select(np.arange(0, len(p), 2)), p.select(np.arange(1, len(p), 2))
    z1, e1, f1 = photoz(train, None, target)
    order = np.arange(len(target))[::-1]
    z2, _, _ = photoz(train.mag(), train.z, target.mag()[order])
    np.testing.assert_array_equal(z1[order], z2)
    assert galfast.photoz is photoz and galfast.KLLRPhotoZ is KLLRPhotoZ
    # tune=True: the hyperparameters not given are tuned (deterministic), k stays as given
    a = photoz(train, None, target, k=12, tune=True, n_trials=4, n_folds=3, random_state=1,
               return_model=True)
    b = photoz(train, None, target, k=12, tune=True, n_trials=4, n_folds=3, random_state=1)
    assert a[3].k_ == 12 and (a[3].lam_, a[3].gamma_) != (0.1, 0.1)
    np.testing.assert_array_equal(a[0], b[0])


def test_n_jobs_minus_one_reaches_the_kernel_as_every_core(protocol, monkeypatch):
    import galfast.validation
    from galfast.redshift import engine

    real = engine.kernel_module()
    seen = []

    class Spy:
        def __getattr__(self, name):
            return getattr(real, name)

        def kllr_predict(self, *args):
            seen.append(args[11])
            return real.kllr_predict(*args)

    monkeypatch.setattr(engine, "kernel_module", lambda: Spy())
    monkeypatch.setattr(galfast.validation, "available_cores", lambda: 3)
    mags, z = protocol
    photoz(mags[:400], z[:400], mags[400:450], n_jobs=-1)
    assert seen and set(seen) == {3}
    seen.clear()
    photoz(mags[:400], z[:400], mags[400:450])
    assert set(seen) == {1}

"""Photo-z accuracy of galfast's KLLR on the JWST spec-z catalogue and the bundled simulation.

    python bench/photoz_accuracy.py [--no-tune] [--seeds 10]

1. The published protocol (galfast/data/README.md; the catalogue from
   ``galfast.datasets.jwst_specz_path()``): 4,605 complete rows, stratified
   80/20 split per seed, metrics on the 921 test galaxies, for seeds 0–9: galfast's defaults and,
   unless --no-tune, hyperparameters tuned on each seed's training set (optuna TPE, 50 trials,
   5-fold CV, objective σ_NMAD + f_outlier).  The paper: mean σ_NMAD 0.018, outliers 3.5 %.
2. The whole z ≤ 7 sample (5,611 rows) with missing bands and non-detections kept, same split
   recipe: every test row gets a row out; metrics overall and for rows with missing bands.
3. The bundled simulated catalogue (galfast/data/demo_jwst.parquet): the same split recipe.

Each line also scores the p(z) (``predict_full(pdf=True)``): PIT KS and CvM statistics, mean
CRPS and the fraction of true redshifts inside the 68 % / 95 % intervals (galfast.metrics).
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from common import jwst_specz


def _fmt(m):
    s = (f"σ_NMAD {m['sigma_nmad']:.4f}  outliers {100 * m['outlier_fraction']:5.2f} %  "
         f"bias {m['bias']:+.4f}  1σ cov {m.get('coverage_1sigma', float('nan')):.2f}  "
         f"n {m['n']}  no-estimate {m['n_missing']}")
    if "pit_ks" in m:
        s += (f"\n          p(z): PIT KS {m['pit_ks']:.3f}  CvM {m['pit_cvm']:.2f}  CRPS {m['crps']:.4f}  "
              f"68/95 % coverage {m['coverage_68']:.3f}/{m['coverage_95']:.3f}")
    return s


def _with_pdf(est, mags, zs):
    """photoz_metrics + pdf_metrics of est on (mags, zs)."""
    from galfast.metrics import pdf_metrics, photoz_metrics

    r = est.predict_full(mags, pdf=True)
    m = photoz_metrics(r["z"], zs, r["z_err"])
    m.update(pdf_metrics(r["pdf"].pit(zs), r["pdf"].crps(zs), z_true=zs,
                         intervals={"68": (r["z_lo68"], r["z_hi68"]), "95": (r["z_lo95"], r["z_hi95"])}))
    return m


def protocol(phot, seeds, tune):
    from galfast.datasets import jwst_specz_protocol, stratified_split
    from galfast.metrics import photoz_metrics
    from galfast.redshift import KLLRPhotoZ, tune_kllr

    p, _ = jwst_specz_protocol(phot)
    mags, z = p.mag(), p.z
    print(f"== published protocol: {len(z)} rows")
    rows = {"default": [], "tuned": []}
    for seed in seeds:
        tr, te = stratified_split(z, seed=seed)
        est = KLLRPhotoZ().fit(mags[tr], z[tr])
        m = _with_pdf(est, mags[te], z[te])
        rows["default"].append(m)
        line = f"seed {seed}: default {_fmt(m)}"
        if tune:
            t0 = time.perf_counter()
            res = tune_kllr(mags[tr], z[tr], random_state=seed)
            dt = time.perf_counter() - t0
            est = res.estimator().fit(mags[tr], z[tr])
            mt = _with_pdf(est, mags[te], z[te])
            rows["tuned"].append(mt)
            bp = res.best_params
            line += (f"\n        tuned   {_fmt(mt)}  (k={bp['k']}, λ={bp['lam']:.3g}, "
                     f"γ={bp['gamma']:.3g}; tuning {dt:.1f} s)")
        print(line, flush=True)
    for name, ms in rows.items():
        if ms:
            print(f"mean over {len(ms)} seeds, {name}: σ_NMAD {np.mean([m['sigma_nmad'] for m in ms]):.4f}"
                  f"  outliers {100 * np.mean([m['outlier_fraction'] for m in ms]):.2f} %"
                  f"  (paper: 0.018, 3.5 %); p(z): PIT KS {np.mean([m['pit_ks'] for m in ms]):.3f}"
                  f"  CvM {np.mean([m['pit_cvm'] for m in ms]):.2f}  CRPS {np.mean([m['crps'] for m in ms]):.4f}"
                  f"  68/95 % coverage {np.mean([m['coverage_68'] for m in ms]):.3f}/"
                  f"{np.mean([m['coverage_95'] for m in ms]):.3f}")


def full_sample(phot, seed=0):
    from galfast.datasets import jwst_specz_protocol, stratified_split
    from galfast.metrics import photoz_metrics
    from galfast import flags
    from galfast.redshift import KLLRPhotoZ

    p, _ = jwst_specz_protocol(phot, complete=False)
    mags, z = p.mag(), p.z
    tr, te = stratified_split(z, seed=seed)
    est = KLLRPhotoZ().fit(mags[tr], z[tr])
    r = est.predict_full(mags[te], pdf=True)
    print(f"== whole z ≤ 7 sample: {len(z)} rows ({len(te)} test, seed {seed}); "
          f"{len(r['z'])} rows out, {int(np.sum(flags.has(r['flags'], 'no_estimate')))} without estimate")
    print("all test rows:          ", _fmt(photoz_metrics(r["z"], z[te], r["z_err"])))
    miss = flags.has(r["flags"], "missing_bands")
    print(f"rows with missing bands ({int(miss.sum())}):", _fmt(photoz_metrics(r["z"][miss], z[te][miss],
                                                                       r["z_err"][miss])))


def simulated(seed=0):
    from galfast.bands import JWST_HST_BANDS
    from galfast.datasets import load_demo_catalog, stratified_split
    from galfast.metrics import photoz_metrics
    from galfast.photometry import Photometry
    from galfast.redshift import KLLRPhotoZ

    t = load_demo_catalog()
    phot = Photometry.from_table(t, JWST_HST_BANDS, id_column="id", z_column="z")
    mags, z = phot.mag(), phot.z
    tr, te = stratified_split(z, seed=seed)
    est = KLLRPhotoZ().fit(mags[tr], z[tr])
    print(f"== bundled simulated catalogue: {len(z)} rows ({len(te)} test, seed {seed})")
    print("default:", _fmt(_with_pdf(est, mags[te], z[te])))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--no-tune", action="store_true")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    phot = jwst_specz()   # galfast.datasets.jwst_specz_path(): bundled, or $GALFAST_SHARED
    protocol(phot, range(args.seeds), not args.no_tune)
    full_sample(phot)
    simulated()
    return 0


if __name__ == "__main__":
    sys.exit(main())

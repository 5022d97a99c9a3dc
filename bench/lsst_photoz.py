"""Photo-z at LSST depth: galfast's KLLR (with p(z)) against tuned scikit-learn baselines.

    python bench/lsst_photoz.py --dir /tmp/lsst              # accuracy, both depths
    python bench/lsst_photoz.py --dir /tmp/lsst --scaling    # 10⁴/10⁵/10⁶ training rows

Catalogues: ``galfast.sim.simulate`` with the six LSST bands (``lsst_baseline_ugrizy``), default
priors but z uniform in [0, 3], at the ``lsst_10yr`` 5σ depths and at ``lsst_1yr`` (1.25 mag
shallower); non-detections (negative fluxes) are kept as such: galfast serves such a row from the
bands it has, the baselines get the 1σ upper-limit magnitude instead (the usual imputation).
The accuracy runs use the LSST DESC gold samples (i < 25.3 at lsst_10yr, i < 24.1 at lsst_1yr, a
detection in i; any other band may be undetected): training rows are the first 10⁴ of seed 1
passing the cut, test rows the first 10⁵ of seed 2 passing it.  Without a cut most of these
uniform-in-mass galaxies are far below the detection limit (median i ≈ 24.7 at lsst_1yr) and
every estimator has 35–45 % outliers (see bench/lsst_photoz_results.md).  The scaling runs use the
uncut lsst_10yr catalogue (its first 10⁴/10⁵/10⁶ rows).  Simulated once into ``--dir`` and
reused.

Accuracy (per depth, same split, same process):

* galfast, colours only and with the i-band magnitude as a feature (``mag_features``), each tuned
  by ``tune_kllr`` (optuna, 50 trials × 5-fold CV on the training rows, objective
  σ_NMAD + outlier fraction), predicted with ``pdf=True``: point metrics plus PIT (KS, CvM), CRPS
  and the coverage of the 68 / 95 % intervals;
* scikit-learn ``KNeighborsRegressor`` (standardised magnitudes + colours; grid over k and the
  weighting) and ``HistGradientBoostingRegressor`` (random search over learning rate, leaves,
  leaf size, L2 and loss), both tuned by 3-fold CV with the same objective.

A row galfast cannot serve (fewer than 2 detected bands) counts as an outlier in its outlier
fraction (the baselines always return a number).

Scaling (``--scaling``): the lsst_10yr training set at 10⁴, 10⁵, 10⁶ rows, each in its own
subprocess: fit time, predict time for the 10⁵ test rows (point and with p(z)), peak RSS, and
the exact neighbour search's cost per object for the full-band pattern (compiled sorted scan up to
20,000 training rows, an exact ``cKDTree`` query above: no approximation at any size).
``$GALFAST_BENCH_THREADS`` threads (default 2).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from common import HERE, REPO, bench_threads, thread_limits

BANDS = ["lsst_baseline_u", "lsst_baseline_g", "lsst_baseline_r", "lsst_baseline_i",
         "lsst_baseline_z", "lsst_baseline_y"]
DEPTHS = ("lsst_10yr", "lsst_1yr")
N_TEST = 100_000
#: the LSST DESC gold-sample cuts (DESC Science Requirements Document): i < 25.3 after 10 years,
#: i < 24.1 after one year (the depth at which the photo-z samples are defined)
GOLD_I = {"lsst_10yr": 25.3, "lsst_1yr": 24.1}


def catalogue(folder: Path, depth: str, seed: int, n: int):
    """The simulated catalogue (made on first use) as an astropy Table."""
    from galfast.catalog import read_catalog
    from galfast.sim import simulate
    from galfast.sim.priors import Priors

    path = Path(folder) / f"{depth}_seed{seed}_{n}.parquet"
    if not path.is_file():
        t0 = time.perf_counter()
        simulate(n, BANDS, priors=Priors(z=(0.0, 3.0)), depths=depth, seed=seed, n_jobs=1,
                 out=path, progress=False, return_table=False)
        print(f"simulated {path.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return read_catalog(path)


def photometry(table, rows=None, i_max=None):
    """Photometry of the first ``rows`` rows (of those with i < ``i_max`` when given)."""
    from galfast.photometry import Photometry

    if i_max is not None:
        p = Photometry.from_table(table, BANDS, id_column="id", z_column="z")
        keep = np.flatnonzero(p.mag()[:, BANDS.index("lsst_baseline_i")] < i_max)
        if rows is not None:
            if len(keep) < rows:
                raise ValueError(f"only {len(keep)} rows pass i < {i_max}, {rows} wanted")
            keep = keep[:rows]
        return p.select(keep)
    if rows is not None:
        table = table[:rows]
    return Photometry.from_table(table, BANDS, id_column="id", z_column="z")


def sk_features(phot):
    """Magnitudes (1σ upper-limit magnitude where not detected) and adjacent colours."""
    m = phot.mag()
    with np.errstate(divide="ignore", invalid="ignore"):
        lim = -2.5 * np.log10(phot.flux_err) + 23.9
    m = np.where(np.isfinite(m), m, lim)
    m = np.where(np.isfinite(m), m, np.nanmax(lim))
    return np.hstack([m, np.diff(m, axis=1)])


def objective(zp, zs):
    from galfast.metrics import OUTLIER_DZ, sigma_nmad

    dz = (zp - zs) / (1 + zs)
    bad = ~np.isfinite(dz)
    return sigma_nmad(dz[~bad]) + float(np.mean(bad | (np.abs(dz) > OUTLIER_DZ)))


def point_metrics(zp, zs):
    from galfast.metrics import OUTLIER_DZ, photoz_metrics

    m = photoz_metrics(zp, zs)
    dz = (zp - zs) / (1 + zs)
    m["outliers_all"] = float(np.mean(~np.isfinite(dz) | (np.abs(dz) > OUTLIER_DZ)))
    return m


def tuned_knn(X, y, seed=0):
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), KNeighborsRegressor())
    grid = {"kneighborsregressor__n_neighbors": [5, 10, 20, 30, 50, 80],
            "kneighborsregressor__weights": ["uniform", "distance"]}
    gs = GridSearchCV(pipe, grid, cv=KFold(3, shuffle=True, random_state=seed),
                      scoring=make_scorer(objective, greater_is_better=False))
    return gs.fit(X, y)


def tuned_hgb(X, y, seed=0, n_iter=12):
    from scipy.stats import loguniform
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import KFold, RandomizedSearchCV

    hgb = HistGradientBoostingRegressor(max_iter=1000, early_stopping=True, random_state=seed)
    dist = {"learning_rate": loguniform(0.02, 0.3), "max_leaf_nodes": [15, 31, 63, 127],
            "min_samples_leaf": [10, 20, 50], "l2_regularization": [0.0, 0.1, 1.0],
            "loss": ["squared_error", "absolute_error"]}
    rs = RandomizedSearchCV(hgb, dist, n_iter=n_iter, cv=KFold(3, shuffle=True, random_state=seed),
                            scoring=make_scorer(objective, greater_is_better=False), random_state=seed)
    return rs.fit(X, y)


def fmt(name, m, dt, extra=""):
    return (f"| {name} | {m['sigma_nmad']:.4f} | {100 * m['outliers_all']:.2f} % | {m['bias']:+.4f} | "
            f"{m['n_missing']} | {dt:.1f} s |{extra}")


def accuracy(folder: Path, n_train: int, trials: int, outdir: Path, gold: bool = True):
    from galfast import metrics
    from galfast.redshift import KLLRPhotoZ, tune_kllr
    from galfast.redshift.plots import plot_photoz, plot_pit

    threads = bench_threads()
    lines = []
    for depth in DEPTHS:
        train_t = catalogue(folder, depth, 1, 1_000_000 if depth == "lsst_10yr" else 100_000)
        test_t = catalogue(folder, depth, 2, 300_000 if gold else N_TEST)
        cut = GOLD_I[depth] if gold else None
        tr, te = photometry(train_t, n_train, cut), photometry(test_t, N_TEST, cut)
        del train_t, test_t
        zs = te.z
        nd = np.mean(~np.isfinite(te.mag()), axis=0)
        print(f"== {depth}{f' gold (i < {cut})' if cut else ' (no cut)'}: {len(tr):,} training / "
              f"{len(te):,} test rows; non-detected fraction per band (test) "
              f"{np.round(nd, 3).tolist()}", flush=True)
        rows = {}
        best = None
        for label, mf in (("galfast KLLR, colours", None), ("galfast KLLR, colours + i mag", ["lsst_baseline_i"])):
            t0 = time.perf_counter()
            res = tune_kllr(tr, n_trials=trials, random_state=0, mag_features=mf, n_jobs=threads)
            t_tune = time.perf_counter() - t0
            est = res.estimator(n_jobs=threads).fit(tr)
            t0 = time.perf_counter()
            r = est.predict_full(te, pdf=True)
            t_pred = time.perf_counter() - t0
            m = point_metrics(r["z"], zs)
            pdf = r["pdf"]
            pit = pdf.pit(zs)
            crps = pdf.crps(zs)
            pm = metrics.pdf_metrics(pit, crps, z_true=zs, intervals={"68": (r["z_lo68"], r["z_hi68"]),
                                                                      "95": (r["z_lo95"], r["z_hi95"])})
            rows[label] = (m, t_tune + t_pred, pm, res)
            print(f"{label}: tuned {res.best_params} (CV objective {res.best_value:.4f}; tuning "
                  f"{t_tune:.0f} s, predict {t_pred:.1f} s) → σ_NMAD {m['sigma_nmad']:.4f}, outliers "
                  f"{100 * m['outliers_all']:.2f} % (no estimate {m['n_missing']}), bias {m['bias']:+.4f}; "
                  f"PIT KS {pm['pit_ks']:.3f} CvM {pm['pit_cvm']:.1f}, CRPS {pm['crps']:.4f}, "
                  f"coverage 68/95 {pm['coverage_68']:.3f}/{pm['coverage_95']:.3f}", flush=True)
            if best is None or res.best_value < best[0]:
                best = (res.best_value, label, r, pdf, pit, crps)
        Xtr, Xte = sk_features(tr), sk_features(te)
        with thread_limits(threads):
            for label, fn in (("scikit-learn KNeighborsRegressor (tuned)", tuned_knn),
                              ("scikit-learn HistGradientBoostingRegressor (tuned)", tuned_hgb)):
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    search = fn(Xtr, tr.z)
                zp = search.predict(Xte)
                dt = time.perf_counter() - t0
                m = point_metrics(zp, zs)
                rows[label] = (m, dt, None, search.best_params_)
                print(f"{label}: {search.best_params_} → σ_NMAD {m['sigma_nmad']:.4f}, outliers "
                      f"{100 * m['outliers_all']:.2f} %, bias {m['bias']:+.4f} ({dt:.0f} s)", flush=True)
        _, blabel, r, pdf, pit, crps = best
        tag = "" if cut else "_nocut"
        plot_photoz(r["z"], zs, outdir / f"lsst_photoz_{depth}{tag}.png", z_err=r["z_err"], z_max=3.2,
                    title=f"galfast KLLR at {depth} depth ({blabel.split(', ', 1)[1]}; {len(tr):,} training rows)")
        plot_pit(pit, outdir / f"lsst_pit_{depth}{tag}.png", crps=crps, pdf=pdf, z_spec=zs,
                 title=f"galfast p(z) at {depth} depth: PIT")
        lines += [f"### {depth}{f', gold sample i < {cut}' if cut else ', no magnitude cut'}: "
                  f"{len(tr):,} training / {len(te):,} test rows", "",
                  "| estimator | σ_NMAD | outliers (\\|dz\\| > 0.15, no estimate counted) | bias | "
                  "no estimate | time (tune + predict) | PIT KS | PIT CvM | CRPS | 68 % / 95 % coverage |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for label, (m, dt, pm, _) in rows.items():
            extra = (f" {pm['pit_ks']:.3f} | {pm['pit_cvm']:.1f} | {pm['crps']:.4f} | "
                     f"{pm['coverage_68']:.3f} / {pm['coverage_95']:.3f} |" if pm else " | | | |")
            lines.append(fmt(label + (" ← selected by CV" if label == blabel else ""), m, dt, extra))
        lines.append("")
    return lines


def scaling_one(folder: Path, n_train: int, params: dict) -> dict:
    """One training-set size (run in its own process: peak RSS is per process)."""
    from galfast.redshift import KLLRPhotoZ

    threads = bench_threads()
    train_t = catalogue(folder, "lsst_10yr", 1, 1_000_000)
    test_t = catalogue(folder, "lsst_10yr", 2, N_TEST)
    tr, te = photometry(train_t, n_train), photometry(test_t)
    del train_t, test_t
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    est = KLLRPhotoZ(**params, n_jobs=threads).fit(tr)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = est.predict_full(te)
    t_pred = time.perf_counter() - t0
    t0 = time.perf_counter()
    est.predict_full(te, pdf=True)
    t_pdf = time.perf_counter() - t0
    full = (1 << len(BANDS)) - 1
    complete = np.all(np.isfinite(te.mag()), axis=1)
    model = est.index_.model(full)
    F = model.features(te.mag()[complete])
    t0 = time.perf_counter()
    c0 = time.process_time()
    model.neighbours(F, est.k_, threads)
    t_knn = time.perf_counter() - t0
    c_knn = time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from galfast.redshift.patterns import BRUTE_MAX_ROWS

    return {"n_train": n_train, "k": est.k_, "fit_s": t_fit, "predict_s": t_pred, "predict_pdf_s": t_pdf,
            "knn_us_per_obj": 1e6 * t_knn / len(F), "knn_cpu_us_per_obj": 1e6 * c_knn / len(F),
            "knn_rows": int(model.n_train), "knn_method": "sorted scan" if model.n_train <= BRUTE_MAX_ROWS else "cKDTree",
            "n_complete_targets": int(len(F)), "peak_rss_mib": rss / 1024, "rss_before_fit_mib": rss0 / 1024,
            "sigma_nmad": float(point_metrics(r["z"], te.z)["sigma_nmad"]),
            "outliers_all": float(point_metrics(r["z"], te.z)["outliers_all"]), "threads": threads}


def scaling(folder: Path, params: dict, outdir: Path):
    rows = []
    for n in (10_000, 100_000, 1_000_000):
        out = subprocess.run([sys.executable, str(HERE / "lsst_photoz.py"), "--dir", str(folder),
                              "--scaling-one", str(n), "--params", json.dumps(params)],
                             capture_output=True, text=True, cwd=REPO)
        if out.returncode:
            raise RuntimeError(out.stderr)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot(1, 2, 1)
    n = [r["n_train"] for r in rows]
    ax.loglog(n, [r["knn_cpu_us_per_obj"] for r in rows], "o-", label="exact kNN search (CPU µs/object)")
    ax.loglog(n, [1e6 * r["predict_s"] / N_TEST for r in rows], "s-", label="predict, point (wall µs/object)")
    ax.loglog(n, [1e6 * r["predict_pdf_s"] / N_TEST for r in rows], "^-", label="predict with p(z) (wall µs/object)")
    ax.set_xlabel("training rows")
    ax.set_ylabel("µs per target")
    ax.legend(fontsize=8)
    ax2 = fig.add_subplot(1, 2, 2)
    ax2.semilogx(n, [r["peak_rss_mib"] for r in rows], "o-")
    ax2.set_xlabel("training rows")
    ax2.set_ylabel("peak RSS [MiB]")
    fig.tight_layout()
    fig.savefig(outdir / "lsst_scaling.png", dpi=110)
    lines = ["| training rows | fit | predict 10⁵ (point) | predict 10⁵ (p(z)) | kNN search per object "
             "(wall / CPU) | search | peak RSS | σ_NMAD | outliers |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['n_train']:,} | {r['fit_s']:.2f} s | {r['predict_s']:.1f} s | {r['predict_pdf_s']:.1f} s | "
                     f"{r['knn_us_per_obj']:.1f} / {r['knn_cpu_us_per_obj']:.1f} µs | {r['knn_method']} | "
                     f"{r['peak_rss_mib']:.0f} MiB | {r['sigma_nmad']:.4f} | {100 * r['outliers_all']:.2f} % |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="/tmp/galfast_lsst", help="catalogue cache folder")
    ap.add_argument("--n-train", type=int, default=10_000)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--scaling", action="store_true", help="the 10⁴/10⁵/10⁶ training-set scaling")
    ap.add_argument("--no-cut", action="store_true", help="accuracy on every row (no gold i cut)")
    ap.add_argument("--scaling-one", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--params", default='{"k": 30, "lam": 0.1, "gamma": 0.3}',
                    help="KLLRPhotoZ parameters of the scaling runs (JSON)")
    ap.add_argument("--out", default=str(HERE), help="folder of the PNGs")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    outdir = Path(args.out)
    if args.scaling_one is not None:
        print(json.dumps(scaling_one(folder, args.scaling_one, json.loads(args.params))))
        return 0
    lines = scaling(folder, json.loads(args.params), outdir) if args.scaling else \
        accuracy(folder, args.n_train, args.trials, outdir, gold=not args.no_cut)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Simulation-based calibration (Talts et al. 2018) of the posteriors on held-out simulated galaxies.

Held-out ``galfast.simulate`` JWST+HST galaxies (11 bands; their θ are draws from the simulator's
prior, which the training prior approximates) are sampled with nutpie through one compiled model,
in three cases with the same trained likelihood: all bands; F090W and F115W removed; only the four
long-wavelength bands F277W, F356W, F410M, F444W.  Per parameter and case: the fraction of truths
inside the central 68 % and 95 % intervals, the rank of the truth among ``--ranks`` thinned
draws (rank histograms: flat when calibrated) and the median 68 % width (intervals widen as bands
go, coverage should hold).  Objects whose diagnostics fail are counted and kept.

    python bench/posterior_sbc.py [--model FILE] [--n 300] [--tune 1000] [--draws 1000]

Writes bench/posterior_results/sbc.md and sbc_ranks.png (and the per-object table sbc.ecsv).
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from common import HERE, load_sibling

OUT = HERE / "posterior_results"
CASES = {"all 11 bands": (), "F090W, F115W removed": ("jwst_f090w", "jwst_f115w"),
         "only F277W, F356W, F410M, F444W": ("acs_wfc_f435w", "acs_wfc_f606w", "acs_wfc_f814w", "jwst_f090w",
                                             "jwst_f115w", "jwst_f150w", "jwst_f200w")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--ranks", type=int, default=99, help="thinned draws the truth is ranked among")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    from astropy.table import Table

    from galfast.posterior import PosteriorSampler
    from galfast.sim import simulate

    nl = load_sibling("ratios_posterior").likelihood(args.model)
    sims = simulate(3 * args.n, "jwst_hst", seed=args.seed, missing_fraction=0.0, progress=False)
    flux, err, obs = nl._arrays(nl.to_photometry(sims))
    truth = nl.theta_array(sims)
    keep = np.flatnonzero(obs.all(1) & np.isfinite(truth).all(1))[:args.n]
    sampler = PosteriorSampler(nl)
    params = list(nl.parameters_)
    rows = []
    t_start = time.perf_counter()
    for case, removed in CASES.items():
        gone = [nl.bands_.index(b) for b in removed]
        for k in keep:
            m = obs[k].copy()
            m[gone] = False
            r = sampler.sample(flux[k], err[k], m, random_state=int(k), chains=4, tune=args.tune, draws=args.draws)
            post = np.stack([r.idata.posterior[p].values.reshape(-1) for p in params], axis=1)
            thin = post[np.linspace(0, len(post) - 1, args.ranks).astype(int)]
            row = {"case": case, "row": int(k), "seconds": r.seconds, "passed": r.diagnostics["passed"],
                   "max_rhat": r.diagnostics["max_rhat"], "divergences": r.diagnostics["divergences"]}
            for j, p in enumerate(params):
                q = np.quantile(post[:, j], [0.025, 0.16, 0.84, 0.975])
                row[f"{p}_rank"] = int(np.sum(thin[:, j] < truth[k, j]))
                row[f"{p}_in68"] = bool(q[1] <= truth[k, j] <= q[2])
                row[f"{p}_in95"] = bool(q[0] <= truth[k, j] <= q[3])
                row[f"{p}_w68"] = float(q[2] - q[1])
            rows.append(row)
        print(f"{case}: {len(keep)} objects done, {time.perf_counter() - t_start:.0f} s so far", flush=True)
    table = Table(rows)
    OUT.mkdir(exist_ok=True)
    table.write(OUT / "sbc.ecsv", overwrite=True)
    write_report(table, params, args, len(keep), sampler.compile_seconds, time.perf_counter() - t_start)
    return 0


def write_report(table, params, args, n, compile_s, total_s):
    from matplotlib.figure import Figure

    cases = list(CASES)
    fig = Figure(figsize=(2.4 * len(params), 2.2 * len(cases)))
    axes = fig.subplots(len(cases), len(params), squeeze=False)
    lines = ["# Simulation-based calibration of the posteriors", "",
             f"Command: `python bench/posterior_sbc.py --n {args.n} --tune {args.tune} --draws {args.draws}` "
             f"({n} held-out simulated JWST+HST galaxies per case, nutpie 4 × ({args.tune} + {args.draws}), "
             f"the training prior; compile {compile_s:.0f} s, sampling {total_s / 60:.0f} min on 2 shared cores).", "",
             "| case | parameter | in 68 % | in 95 % | median 68 % width | rank-histogram χ² p |", "|---|---|---|---|---|---|"]
    from scipy.stats import chisquare

    bins = 10
    for i, case in enumerate(cases):
        sub = table[table["case"] == case]
        for j, p in enumerate(params):
            ranks = np.asarray(sub[f"{p}_rank"])
            hist = np.histogram(ranks, bins=bins, range=(0, args.ranks + 1))[0]
            pval = chisquare(hist).pvalue if hist.sum() else float("nan")
            lines.append(f"| {case} | {p} | {np.mean(sub[f'{p}_in68']):.3f} | {np.mean(sub[f'{p}_in95']):.3f} | "
                         f"{np.median(sub[f'{p}_w68']):.3f} | {pval:.2f} |")
            ax = axes[i, j]
            ax.bar(np.arange(bins), hist, width=0.9, color="C0")
            ax.axhline(len(sub) / bins, color="k", lw=0.8)
            if i == 0:
                ax.set_title(p, fontsize=9)
            if j == 0:
                ax.set_ylabel(case, fontsize=7)
            ax.set_xticks([])
        lines.append(f"| {case} | diagnostics passed | {np.mean(sub['passed']):.3f} | | | |")
    fig.tight_layout()
    fig.savefig(OUT / "sbc_ranks.png", dpi=90)
    lines += ["", "Rank histograms (10 bins; the line is the uniform expectation):", "", "![ranks](sbc_ranks.png)", ""]
    (OUT / "sbc.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())

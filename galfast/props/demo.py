"""The properties section of ``galfast demo``: train a PropertyRegressor on the bundled catalogue.

80 % of the rows (64/16 train/validation) train one Gaussian-NLL network per target — log M*,
log SFR (floored at log sSFR = −13) and A_V — from the 11 fluxes and the known redshift; the
other 20 % are scored: σ, bias, outliers, r², coverage of the predicted σ, plus a PNG of true vs
predicted and of the normalised residuals.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

__all__ = ["props_section"]

TARGETS = ("log_mstar", "log_sfr", "av")


def props_section(table, outdir: Path, n_jobs=2, epochs: int = 80) -> str:
    """Markdown for the demo report; writes ``props_true_vs_pred.png`` (:mod:`galfast.props.plots`).
    ``n_jobs``: torch threads (2, as the measured figures of the README); ``epochs``: at most
    this many (early stopping after 10 without improvement)."""
    from ..bands import JWST_HST_BANDS
    from ..metrics import regression_metrics
    from ..photometry import Photometry
    from .plots import plot_true_vs_pred
    from .regressor import PropertyRegressor
    from .targets import floor_log_sfr

    targets = [t for t in TARGETS if t in table.colnames]
    if "z" not in table.colnames or not targets:
        return "## Galaxy properties\n\nskipped: the catalogue has no truths (z, log_mstar, …) to train on.\n"
    table = table.copy(copy_data=False)
    if "log_sfr" in targets:
        table["log_sfr"] = floor_log_sfr(table["log_sfr"], table["log_mstar"])
    phot = Photometry.from_table(table, JWST_HST_BANDS, id_column="id" if "id" in table.colnames else None,
                                 z_column="z")
    perm = np.random.default_rng(0).permutation(len(phot))
    n_test = len(phot) // 5
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    reg = PropertyRegressor(targets=tuple(targets), epochs=epochs, patience=10, n_jobs=n_jobs, random_state=0)
    reg.fit(phot.select(train), table[train])
    t0 = time.perf_counter()
    pred = reg.predict_table(phot.select(test))
    rate = len(test) / (time.perf_counter() - t0)

    lines = ["## Galaxy properties (PropertyRegressor)", "",
             f"One 3×128 ReLU network per target, Gaussian NLL, noise augmentation; trained on "
             f"{reg.n_train_:,} rows, early-stopped on {reg.n_val_:,}, {reg.history_['epochs_run']} epochs in "
             f"{reg.history_['seconds']:.0f} s; scored on {len(test):,} held-out rows "
             f"(prediction {rate:,.0f} objects/s incl. features and flags).", "",
             "| target | σ(true−pred) | σ_NMAD | bias | outliers (>3σ_NMAD) | r² | coverage 68 % | coverage 95 % |",
             "|---|---|---|---|---|---|---|---|"]
    for t in targets:
        y = np.asarray(table[t], dtype=float)[test]
        p, s = np.asarray(pred[t]), np.asarray(pred[t + "_err"])
        m = regression_metrics(y, p, s)
        lines.append(f"| {t} | {m['sigma']:.3f} | {m['sigma_nmad']:.3f} | {m['bias']:+.3f} | "
                     f"{m['outlier_fraction']:.3f} | {m['r2']:.3f} | {m['coverage_1sigma']:.3f} | "
                     f"{m['coverage_2sigma']:.3f} |")
    plot_true_vs_pred({t: np.asarray(table[t], dtype=float)[test] for t in targets}, pred, targets,
                      Path(outdir) / "props_true_vs_pred.png")
    lines += ["", "![properties: true vs predicted, normalised residuals](props_true_vs_pred.png)", ""]
    return "\n".join(lines)

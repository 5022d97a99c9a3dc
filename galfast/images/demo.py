"""The images section of ``galfast demo``: a few hundred mock cut-outs, a small 3-band DustCNN.

Simulates 300 galaxies (F277W/F356W/F444W, 32×32), trains a small network (8 filters, 32 dense
units, ≤ 15 epochs) on 240 and scores the other 60 against a constant (the training median);
writes a picture of example cut-outs and the predicted-vs-true plot.  Seconds on a CPU (most
of it building the bagpipes grids once).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

__all__ = ["images_section"]

TARGETS = ("av", "ebv", "log_ssfr")


def images_section(table, outdir: Path, n: int = 300, epochs: int = 15) -> str:
    """Markdown for the demo report (``table``, the demo catalogue, is not used: the section
    simulates its own cut-outs); writes ``images_cutouts.png`` and ``images_true_vs_pred.png``."""
    from .estimator import DustCNN
    from .mock import simulate_cutouts
    from .plots import plot_cutouts, plot_true_vs_pred

    outdir = Path(outdir)
    t0 = time.perf_counter()
    mock = simulate_cutouts(n, seed=0, progress=False)
    t_sim = time.perf_counter() - t0
    n_test = n // 5
    tr, te = mock.select(np.arange(n - n_test)), mock.select(np.arange(n - n_test, n))
    cnn = DustCNN(targets=TARGETS, filters=8, dense_units=32, epochs=epochs, patience=5, n_jobs=1,
                  random_state=0).fit(tr)
    pred = cnn.predict_table(te)
    truth = {t: np.asarray(te.table[t], float) for t in TARGETS}
    order = np.argsort(truth["av"])[[-1, -2, 0, 1]]
    plot_cutouts(np.asarray(te.images)[order], mock.bands, outdir / "images_cutouts.png", n=4,
                 titles=[f"A_V={truth['av'][i]:.2f}" for i in order])
    plot_true_vs_pred(truth, {"3-band CNN": {t: np.asarray(pred[t]) for t in TARGETS}}, TARGETS,
                      outdir / "images_true_vs_pred.png")
    lines = ["## Dust from images (DustCNN)", "",
             f"{n} mock cut-outs (galsim bulge + disc + clumps with their own dust screens, bagpipes SEDs, "
             f"z 6–8, F277W/F356W/F444W, 32×32 px of 0.063″) simulated in {t_sim:.0f} s; a small 3-band CNN "
             f"(8 filters, 32 dense units) trained on {cnn.n_train_} for {cnn.history_['epochs_run']} epochs "
             f"({cnn.history_['train_images_per_s']:.0f} images/s), scored on {n_test}.  A demo-sized run: "
             "bench/images_results/bench_images.md has the real comparison.", "",
             "| target | MAE (CNN) | MAE (constant: training median) |", "|---|---|---|"]
    for t in TARGETS:
        mae = np.mean(np.abs(np.asarray(pred[t]) - truth[t]))
        const = np.mean(np.abs(np.median(np.asarray(tr.table[t], float)) - truth[t]))
        lines.append(f"| {t} | {mae:.3f} | {const:.3f} |")
    from .. import flags

    low = int(flags.has(pred["flags"], "low_snr").sum())
    lines += ["", f"{low} of the {n_test} test images are flagged low_snr (S/N < 5 in some band; kept).", "", "![example cut-outs](images_cutouts.png)", "",
              "![images: predicted vs true](images_true_vs_pred.png)", ""]
    return "\n".join(lines)

"""The likelihood network's evaluation on held-out simulated rows, as Markdown + PNG.

    write_evaluation(likelihood, held_out, "nl_report/")     # report.md, calibration.png, residuals.png

χ² calibration (the thesis' reliability diagram: the fraction of objects inside the P-level
ellipsoid for P = 0.1 … 0.9) with all observed bands, with random bands hidden and with named
bands removed; per-band normalised residuals against N(0, 1).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .estimator import CALIBRATION_LEVELS

__all__ = ["write_evaluation", "calibration_rows"]


def calibration_rows(likelihood, data, truths=None, *, remove_bands=None, random_state=0) -> dict:
    """{case: calibration Table} for the cases "random bands hidden" and each entry of
    ``remove_bands`` (a list of band lists) whose bands are all bands of the model."""
    from ..bands import resolve_band

    theta = likelihood.theta_array(data if truths is None else truths)
    out = {"random 30 % of bands hidden": likelihood.chi2_calibration(data, theta, random_state=random_state)}
    for bands in remove_bands or ():
        if all(resolve_band(b) in likelihood.bands_ for b in bands):     # only cases the model has
            out[f"{', '.join(bands)} removed"] = likelihood.chi2_calibration(data, theta, remove_bands=list(bands))
    return out


def write_evaluation(likelihood, data, outdir, truths=None, *, remove_bands=(("F090W", "F115W"),),
                     random_state=0, command: str | None = None) -> Path:
    """Write ``report.md`` with the calibration tables and ``calibration*.png`` /
    ``residuals.png`` for the held-out ``data`` (a table with the bands and the parameter
    columns, or a Photometry with ``truths``); returns the report's path."""
    from .plots import plot_calibration, plot_residuals

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    cases = calibration_rows(likelihood, data, truths, remove_bands=remove_bands, random_state=random_state)
    theta = likelihood.theta_array(data if truths is None else truths)
    res = likelihood.residuals(data, theta)
    plot_residuals(res, likelihood.bands_, outdir / "residuals.png")
    lines = ["# Likelihood network evaluation", "",
             f"{len(theta):,} held-out rows; parameters {', '.join(likelihood.parameters_)}; "
             f"{len(likelihood.bands_)} bands; covariance {'diagonal' if likelihood.diagonal else 'full Cholesky'}.", ""]
    if command:
        lines += ["Made with:", "", "    " + command, ""]
    lines += ["## χ² calibration", "",
              "Fraction of objects whose observed fluxes lie inside the P-level ellipsoid of "
              "N(μ(θ), Σ(θ)) at the true θ (calibrated: equal to P).", ""]
    header = "| P | all bands | " + " | ".join(cases) + " |"
    lines += [header, "|" + "---|" * (2 + len(cases))]
    first = next(iter(cases.values()))
    for k, level in enumerate(CALIBRATION_LEVELS):
        cells = [f"{first['all_bands'][k]:.3f}"] + [f"{t['bands_removed'][k]:.3f}" for t in cases.values()]
        lines.append(f"| {level:.1f} | " + " | ".join(cells) + " |")
    worst = max(float(np.max(np.abs(np.asarray(t[c]) - np.asarray(CALIBRATION_LEVELS))))
                for t in cases.values() for c in ("all_bands", "bands_removed"))
    lines += ["", f"Largest deviation from calibration: {worst:.3f}.", ""]
    for j, (name, table) in enumerate(cases.items()):
        png = f"calibration_{j}.png"
        plot_calibration(table, outdir / png, title=f"χ² calibration: {name}")
        lines += [f"![{name}]({png})", ""]
    med = np.nanmedian(res, axis=0)
    sd = np.nanstd(res, axis=0)
    lines += ["## Per-band normalised residuals (f − μ)/√Σ_bb", "", "| band | median | σ |", "|---|---|---|"]
    lines += [f"| {b} | {m:+.3f} | {s:.3f} |" for b, m, s in zip(likelihood.bands_, med, sd)]
    lines += ["", "![residuals](residuals.png)", ""]
    path = outdir / "report.md"
    path.write_text("\n".join(lines))
    return path

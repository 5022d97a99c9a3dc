"""``galfast demo``: run every capability on the bundled simulated catalogue; report + PNGs.

Capabilities add a section by appending a function ``section(table, outdir) -> str`` (Markdown)
to :data:`SECTIONS`; the demo writes ``report.md`` and the PNGs each section makes.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

__all__ = ["run_demo", "SECTIONS", "register"]


def catalogue_section(table, outdir: Path) -> str:
    """Colour–redshift diagram and distributions of the simulated truths (:mod:`galfast.plots`)."""
    from .bands import JWST_HST_BANDS
    from .photometry import Photometry
    from .plots import colour_redshift_figure, histograms_figure

    phot = Photometry.from_table(table, JWST_HST_BANDS, id_column="id", z_column="z")
    mag = phot.mag()
    z = phot.z
    fig = colour_redshift_figure(phot, [("jwst_f150w", "jwst_f277w"), ("acs_wfc_f606w", "jwst_f090w")])
    fig.suptitle(f"bundled demo catalogue: {len(table):,} simulated galaxies")
    fig.savefig(outdir / "colour_redshift.png", dpi=110)
    truths = [c for c in ("z", "log_mstar", "log_sfr", "av", "age_mw", "log_zmet") if c in table.colnames]
    histograms_figure(table, truths).savefig(outdir / "property_distributions.png", dpi=110)

    det = phot.detected.mean(axis=0)
    lines = ["## Catalogue", "", f"{len(table):,} galaxies, {phot.n_bands} bands, "
             f"z from {np.nanmin(z):.2f} to {np.nanmax(z):.2f}.", "",
             "| band | λ_eff [µm] | detected fraction | median AB mag |", "|---|---|---|---|"]
    for j, b in enumerate(phot.bands):
        lines.append(f"| {b} | {phot.wave_effective[j] / 1e4:.3f} | {det[j]:.3f} | {np.nanmedian(mag[:, j]):.2f} |")
    lines += ["", "![colour–redshift](colour_redshift.png)", "",
              "![property distributions](property_distributions.png)", ""]
    return "\n".join(lines)


#: report sections, in order; capabilities append theirs
SECTIONS = [catalogue_section]
from .redshift.demo import photoz_section  # noqa: E402  (photo-z section)
SECTIONS.append(photoz_section)
from .props.demo import props_section  # noqa: E402  (galaxy properties section)
SECTIONS.append(props_section)
from .images.demo import images_section  # noqa: E402  (dust-from-images section)
SECTIONS.append(images_section)


def run_demo(outdir="demo_output", catalog=None) -> Path:
    """Run every section on the bundled (or given) catalogue; return the report's path."""
    from .catalog import read_catalog
    from .datasets import load_demo_catalog

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    table = load_demo_catalog() if catalog is None else read_catalog(catalog)
    parts = ["# galfast demo report", ""]
    for section in SECTIONS:
        t0 = time.perf_counter()
        parts.append(section(table, outdir))
        parts.append(f"_{section.__name__} took {time.perf_counter() - t0:.1f} s_\n")
    report = outdir / "report.md"
    report.write_text("\n".join(parts))
    return report


def _run(args) -> int:
    report = run_demo(args.out, args.catalog)
    print(f"galfast demo: report written to {report}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run galfast on the bundled demo catalogue; write a report")
    p.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    p.add_argument("--catalog", default=None, help="use this catalogue instead of the bundled one")
    p.set_defaults(func=_run)

"""``galfast photoz``: fit (or load) a KLLR photo-z model and stream a catalogue through it.

    galfast photoz --train specz.fits --catalog survey.parquet --bands jwst_hst \\
        --z-column zspec --out photoz.parquet [--save-model photoz.safetensors] [--tune] [--plot]

One output row per input row, in input order, with the ids kept (the catalogue's id column, else
the row number counted across chunks): ``id, z_phot, z_phot_err, flags, bands_used,
n_bands_used, n_neighbours`` (:meth:`KLLRPhotoZ.predict_table`); with ``--pdf`` also the p(z)
summaries ``z_mode, z_median, z_lo68, z_hi68, z_lo95, z_hi95, z_odds``, and with ``--plot`` a PIT
PNG beside the photo-z one.  ``--mag-features i`` adds magnitudes to the colour features
(their scale ``--mag-scale``, or tuned with ``--tune``).  ``flags`` holds the bits of
:mod:`galfast.flags`; ``bands_used`` is the bitmask of the bands each row used (bit j = band j of
the model's bands, by wavelength).  The catalogue goes through :func:`galfast.stream.stream`:
Parquet and CSV outputs are written chunk by chunk (bounded memory), FITS/ECSV at the end, and an
interrupted run started again with the same arguments resumes.  Models are saved as one
``.safetensors`` file (:mod:`galfast.modelfile`).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .estimator import OUTPUT_COLUMNS

log = logging.getLogger(__name__)

__all__ = ["register", "run_photoz", "OUTPUT_COLUMNS"]


def _fitted_model(*, train, bands, z_column, column_map, k, lam, gamma, tune, n_trials,
                  random_state, n_jobs, mag_features=None, mag_scale=None):
    """A KLLRPhotoZ fitted on the training catalogue (tuned first with ``tune``)."""
    from ..catalog import read_catalog
    from ..errors import CatalogError
    from ..photometry import Photometry, column_map_in_table
    from .estimator import KLLRPhotoZ

    if train is None:
        raise CatalogError("give --train (a catalogue with spectroscopic redshifts) or --model")
    table = read_catalog(train)
    phot = Photometry.from_table(table, bands, column_map=column_map_in_table(column_map, table.colnames),
                                 id_column=None, z_column=z_column)
    est = KLLRPhotoZ(k=k, lam=lam, gamma=gamma, n_jobs=n_jobs, mag_features=mag_features,
                     mag_scale=1.0 if mag_scale is None else mag_scale)
    if tune:
        from .tuning import tune_kllr

        res = tune_kllr(phot, n_trials=n_trials, random_state=random_state,
                        fixed={"k": k, "lam": lam, "gamma": gamma, "mag_scale": mag_scale},
                        n_jobs=n_jobs, mag_features=mag_features)
        log.info("tuned: %s (objective %.4f)", res.best_params, res.best_value)
        est.set_params(**res.best_params)
    return est.fit(phot)


def run_photoz(*, catalog, out, train=None, model=None, bands=None, z_column="zspec",
               target_z_column=None, column_map=None, id_column="auto", keep_columns=(),
               missing_bands="error", chunk_rows=100_000, tune=False, n_trials=50, random_state=0,
               k=None, lam=None, gamma=None, save_model=None, plot=False, n_jobs=None,
               overwrite=False, resume=True, progress=True, pdf=False, mag_features=None,
               mag_scale=None, dask=None, workers=None) -> dict:
    """The work of ``galfast photoz`` (keyword names as its options): fit on ``train`` or load
    ``model``, then :func:`galfast.stream.stream` ``catalog`` into ``out``.  Returns stream's
    summary plus ``params`` (k, λ, γ), and ``plot`` (the PNG) with ``plot``."""
    from ..bands import sort_bands
    from ..errors import BandError
    from ..photometry import parse_column_map
    from ..scale import streamer
    from .estimator import KLLRPhotoZ, _check_missing_bands

    _check_missing_bands(missing_bands)
    column_map = parse_column_map(column_map)
    if model is not None:
        est = KLLRPhotoZ.load(model)
        est.set_params(n_jobs=n_jobs)
        if bands is not None and est.bands_ is not None and tuple(sort_bands(bands)) != est.bands_:
            raise BandError(f"--bands {list(bands)} differ from the bands of the model {model} "
                            f"({list(est.bands_)}); leave --bands out to use the model's")
    else:
        est = _fitted_model(train=train, bands=bands, z_column=z_column, column_map=column_map,
                            k=k, lam=lam, gamma=gamma, tune=tune, n_trials=n_trials,
                            random_state=random_state, n_jobs=n_jobs, mag_features=mag_features,
                            mag_scale=mag_scale)
    if save_model is not None:
        est.save(save_model)
    if est.bands_ is None:
        raise BandError(f"the model {model} has no band names; refit it on a catalogue")

    def read(chunk, row_offset):
        return est.to_photometry(chunk, column_map=column_map, id_column=id_column,
                                 z_column=target_z_column, row_offset=row_offset,
                                 missing_bands=missing_bands)

    collected = []

    def on_chunk(phot, table):
        collected.append((phot.z, np.asarray(table["z_phot"]), np.asarray(table["z_phot_err"])))
        if pdf:
            pdfs.append(est.predict_pdf(phot, missing_bands=missing_bands))

    pdfs = []

    want_plot = plot and target_z_column is not None and dask is None and workers is None
    if plot and target_z_column is None:
        log.warning("--plot needs the catalogue's true redshifts: pass --target-z-column")
    elif plot and not want_plot:
        log.warning("--plot is not drawn on a Dask run (--dask/--workers): plot the output file instead")
    config = {"id_column": id_column, "column_map": column_map, "target_z_column": target_z_column,
              "missing_bands": missing_bands, "pdf": bool(pdf)}
    summary = streamer(dask, workers)(est, catalog, out, read=read,
                     predict=lambda phot: est.predict_table(phot, missing_bands=missing_bands, pdf=pdf),
                     chunk_rows=chunk_rows, keep_columns=keep_columns, progress=progress,
                     overwrite=overwrite, resume=resume, config=config,
                     on_chunk=on_chunk if want_plot else None, desc="galfast photoz")
    summary["params"] = {"k": est.k_, "lam": est.lam_, "gamma": est.gamma_}
    if want_plot:
        if summary["resumed_chunks"]:
            log.warning("the plot shows the %d chunks computed in this run, not the %d resumed",
                        summary["chunks"] - summary["resumed_chunks"], summary["resumed_chunks"])
        if collected:
            from .plots import plot_photoz

            zs, zp, ze = (np.concatenate(a) for a in zip(*collected))
            png = Path(out).with_suffix(".png")
            plot_photoz(zp, zs, png, z_err=ze, title=f"galfast photoz: {Path(catalog).name}")
            summary["plot"] = str(png)
            if pdfs:
                from .pdf import PhotoZPDF
                from .plots import plot_pit

                k = max(p.mu.shape[1] for p in pdfs)
                pad = lambda a, v: np.pad(a, ((0, 0), (0, k - a.shape[1])), constant_values=v)  # noqa: E731
                allp = PhotoZPDF(np.vstack([pad(p.mu, np.nan) for p in pdfs]),
                                 np.vstack([pad(p.w, 0.0) for p in pdfs]),
                                 np.concatenate([p.sigma for p in pdfs]))
                pit_png = Path(out).with_name(Path(out).stem + "_pit.png")
                plot_pit(allp.pit(zs), pit_png, crps=allp.crps(zs), pdf=allp, z_spec=zs,
                         title=f"galfast photoz p(z): {Path(catalog).name}")
                summary["pit_plot"] = str(pit_png)
    return summary


def _run(args) -> int:
    summary = run_photoz(
        catalog=args.catalog, out=args.out, train=args.train, model=args.model, bands=args.bands,
        z_column=args.z_column, target_z_column=args.target_z_column, column_map=args.column_map,
        id_column=args.id_column, keep_columns=args.keep_columns, missing_bands=args.missing_bands,
        chunk_rows=args.chunk_rows, tune=args.tune, n_trials=args.n_trials, random_state=args.seed,
        k=args.k, lam=args.lam, gamma=args.gamma, save_model=args.save_model, plot=args.plot,
        n_jobs=args.jobs, overwrite=args.overwrite, resume=args.resume,
        progress=not args.no_progress, pdf=args.pdf, mag_features=args.mag_features,
        mag_scale=args.mag_scale, dask=args.dask, workers=args.workers)
    p = summary["params"]
    resumed = f", {summary['resumed_chunks']} chunks resumed" if summary["resumed_chunks"] else ""
    print(f"galfast photoz: {summary['rows']:,} rows → {summary['out']} in {summary['seconds']:.1f} s "
          f"(k={p['k']}, λ={p['lam']:.4g}, γ={p['gamma']:.4g}{resumed})"
          + (f"; plot {summary['plot']}" if "plot" in summary else "")
          + (f", PIT plot {summary['pit_plot']}" if "pit_plot" in summary else ""))
    return 0


def register(subparsers) -> None:
    from ..cli_options import (add_bands_option, add_catalog_options, add_jobs_option,
                               add_output_options, add_scale_options, add_seed_option)

    p = subparsers.add_parser("photoz", help="photometric redshifts by kernelised local linear regression",
                              description=__doc__.splitlines()[0])
    add_catalog_options(p, aliases=("--target",))
    add_output_options(p, chunk_rows=100_000)
    p.add_argument("--train", help="training catalogue with spectroscopic redshifts (or --model)")
    p.add_argument("--model", default=None, metavar="FILE",
                   help="use this saved model (e.g. photoz.safetensors) instead of --train")
    p.add_argument("--save-model", default=None, metavar="FILE",
                   help="save the fitted model to this file (name it *.safetensors)")
    add_bands_option(p, help_default="every band column of the training file (with --model: its bands)")
    p.add_argument("--z-column", default="zspec", help="training redshift column (default zspec)")
    p.add_argument("--target-z-column", default=None,
                   help="true redshifts in --catalog (for --plot)")
    p.add_argument("--missing-bands", choices=("error", "mask"), default="error",
                   help="model bands the catalogue has no column for: 'error' (default) or 'mask' "
                        "(served as not observed, rows flagged missing_bands)")
    p.add_argument("--tune", action="store_true", help="tune k, λ, γ by Bayesian optimisation first")
    p.add_argument("--n-trials", type=int, default=50, help="tuning trials (default 50)")
    add_seed_option(p)
    p.add_argument("--k", type=int, default=None, help="neighbours per target")
    p.add_argument("--lam", type=float, default=None, help="ridge regularisation λ")
    p.add_argument("--gamma", type=float, default=None, help="RBF width γ")
    p.add_argument("--pdf", action="store_true",
                   help="add the p(z) summaries z_mode, z_median, z_lo68, z_hi68, z_lo95, z_hi95, "
                        "z_odds (and a PIT plot with --plot)")
    p.add_argument("--mag-features", nargs="+", default=None, metavar="BAND",
                   help="bands whose magnitudes join the colour features (e.g. lsst_baseline_i)")
    p.add_argument("--mag-scale", type=float, default=None,
                   help="scale of the magnitude features (default 1, or tuned with --tune)")
    p.add_argument("--plot", action="store_true",
                   help="write a z_phot vs z_spec PNG beside --out (needs --target-z-column)")
    add_jobs_option(p)
    add_scale_options(p)
    p.set_defaults(func=_run)

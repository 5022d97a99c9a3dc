"""``galfast photoz``: fit (or load) a KLLR photo-z model and stream a target catalogue through it.

    galfast photoz --train specz.fits --target survey.parquet --bands F090W F150W F277W F444W \\
        --z-column zspec --out photoz.parquet [--tune] [--plot] [--chunk-rows 200000]

One output row per input row, in input order, with the ids kept: ``id, z_phot, z_phot_err, flags,
n_bands_used, n_neighbours`` (flags: see ``galfast.redshift.engine``; bits ≥ 16 = bands used).
Parquet and CSV outputs are written chunk by chunk (bounded memory); other formats at the end.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["register", "run_photoz", "OUTPUT_COLUMNS"]

OUTPUT_COLUMNS = ("id", "z_phot", "z_phot_err", "flags", "n_bands_used", "n_neighbours")


class _Writer:
    """Append tables to a catalogue file: streamed for Parquet/CSV, collected otherwise."""

    def __init__(self, path: Path, overwrite: bool):
        from ..catalog import guess_format

        self.path = Path(path)
        self.fmt = guess_format(self.path)
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists; pass --overwrite to replace it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pq = None
        self._csv = None
        self._parts = []

    def write(self, table):
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            from ..catalog import table_to_arrow

            arrow = table_to_arrow(table)
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.path, arrow.schema, compression="zstd")
            self._pq.write_table(arrow)
        elif self.fmt == "csv":
            import pyarrow.csv as pcsv

            from ..catalog import table_to_arrow

            arrow = table_to_arrow(table)
            if self._csv is None:
                self._fh = open(self.path, "wb")
                self._csv = pcsv.CSVWriter(self._fh, arrow.schema)
            self._csv.write_table(arrow)
        else:
            self._parts.append(table)

    def close(self):
        if self._pq is not None:
            self._pq.close()
        if self._csv is not None:
            self._csv.close()
            self._fh.close()
        if self._parts:
            from astropy.table import vstack

            from ..catalog import write_catalog

            write_catalog(vstack(self._parts), self.path, overwrite=True)


def _photometry(table, bands, id_column, z_column, source):
    from ..photometry import Photometry

    return Photometry.from_table(table, bands, id_column=id_column, z_column=z_column, source=source)


def _output_table(ids, r):
    from astropy.table import Table

    t = Table()
    t["id"] = ids
    t["z_phot"] = r["z"]
    t["z_phot_err"] = r["z_err"]
    t["flags"] = r["flags"]
    t["n_bands_used"] = r["n_bands_used"]
    t["n_neighbours"] = r["n_neighbours"]
    return t


def run_photoz(train=None, target=None, bands=None, out=None, *, z_column="zspec", id_column="auto",
               target_z_column=None, chunk_rows=100_000, tune=False, n_trials=50, random_state=0,
               k=None, lam=None, gamma=None, model=None, save_model=None, plot=False,
               threads=None, overwrite=False, progress=True) -> dict:
    """The work of ``galfast photoz``; returns a summary dict (rows, seconds, model path…)."""
    from tqdm.auto import tqdm

    from ..catalog import catalog_rows, iter_catalog, read_catalog
    from ..errors import CatalogError
    from .estimator import KLLRPhotoZ

    if target is None or out is None:
        raise CatalogError("--target and --out are required")
    t0 = time.perf_counter()
    if model is not None:
        est = KLLRPhotoZ.load(model)
        if threads is not None:
            est.set_params(n_jobs=threads)
        if bands is None:
            bands = list(est.bands_) if est.bands_ is not None else None
    else:
        if train is None:
            raise CatalogError("give --train (a catalogue with spectroscopic redshifts) or --model")
        tab = read_catalog(train)
        phot = _photometry(tab, bands, None, z_column, str(train))  # training ids unused
        if bands is None:
            bands = list(phot.bands)
        mags, z = phot.mag(), phot.z
        est = KLLRPhotoZ(k=k, lam=lam, gamma=gamma, n_jobs=threads)
        if tune:
            from .tuning import tune_kllr

            res = tune_kllr(mags, z, n_trials=n_trials, random_state=random_state,
                            fixed={"k": k, "lam": lam, "gamma": gamma}, n_jobs=threads)
            log.info("tuned: %s (objective %.4f)", res.best_params, res.best_value)
            est.set_params(**res.best_params)
        est.fit(mags, z, bands=phot.bands)
        bands = list(phot.bands)
    if save_model is not None:
        est.save(save_model)
    n_rows = catalog_rows(target)
    writer = _Writer(Path(out), overwrite)
    zs_all, zp_all, ze_all = [], [], []
    done = 0
    try:
        with tqdm(total=n_rows, unit="obj", desc="galfast photoz", disable=not progress) as bar:
            for chunk in iter_catalog(target, chunk_rows=chunk_rows):
                phot = _photometry(chunk, bands, id_column, target_z_column, str(target))
                r = est.predict_full(phot.mag(), bands=phot.bands if est.bands_ is not None else None)
                writer.write(_output_table(phot.ids, r))
                if plot and target_z_column is not None:
                    zs_all.append(phot.z)
                    zp_all.append(r["z"])
                    ze_all.append(r["z_err"])
                done += len(phot)
                bar.update(len(phot))
    finally:
        writer.close()
    summary = {"rows": done, "seconds": time.perf_counter() - t0, "out": str(out),
               "params": {"k": est.k_, "lam": est.lam_, "gamma": est.gamma_}}
    if plot:
        from .plots import plot_photoz

        if zs_all:
            zs, zp, ze = (np.concatenate(a) for a in (zs_all, zp_all, ze_all))
            png = Path(out).with_suffix(".png")
            plot_photoz(zp, zs, png, z_err=ze, title=f"galfast photoz: {Path(target).name}")
            summary["plot"] = str(png)
        else:
            log.warning("--plot needs the target's true redshifts: pass --target-z-column")
    return summary


def _run(args) -> int:
    summary = run_photoz(args.train, args.target, args.bands, args.out, z_column=args.z_column,
                         id_column=args.id_column, target_z_column=args.target_z_column,
                         chunk_rows=args.chunk_rows, tune=args.tune, n_trials=args.n_trials,
                         random_state=args.seed, k=args.k, lam=args.lam, gamma=args.gamma,
                         model=args.model, save_model=args.save_model, plot=args.plot,
                         threads=args.threads, overwrite=args.overwrite,
                         progress=not args.no_progress)
    print(f"galfast photoz: {summary['rows']:,} rows → {summary['out']} in {summary['seconds']:.1f} s "
          f"(k={summary['params']['k']}, λ={summary['params']['lam']:.4g}, γ={summary['params']['gamma']:.4g})"
          + (f"; plot {summary['plot']}" if "plot" in summary else ""))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("photoz", help="photometric redshifts by kernelised local linear regression",
                              description=__doc__.splitlines()[0])
    p.add_argument("--train", help="training catalogue with spectroscopic redshifts")
    p.add_argument("--target", required=True, help="catalogue to predict (any supported format)")
    p.add_argument("--out", required=True, help="output catalogue (.parquet/.csv stream; .fits/.ecsv …)")
    p.add_argument("--bands", nargs="+", default=None,
                   help="band names or aliases (default: every band column of the training file)")
    p.add_argument("--z-column", default="zspec", help="training redshift column (default zspec)")
    p.add_argument("--target-z-column", default=None, help="true redshifts in the target (for --plot)")
    p.add_argument("--id-column", default="auto", help="id column (default: id/ID if present, else row number)")
    p.add_argument("--chunk-rows", type=int, default=100_000, help="target rows per chunk (default 100000)")
    p.add_argument("--tune", action="store_true", help="tune k, λ, γ by Bayesian optimisation first")
    p.add_argument("--n-trials", type=int, default=50, help="tuning trials (default 50)")
    p.add_argument("--seed", type=int, default=0, help="random state of the tuning (default 0)")
    p.add_argument("--k", type=int, default=None, help="neighbours per target")
    p.add_argument("--lam", type=float, default=None, help="ridge regularisation λ")
    p.add_argument("--gamma", type=float, default=None, help="RBF width γ")
    p.add_argument("--model", default=None, help="use this saved model (.npz) instead of --train")
    p.add_argument("--save-model", default=None, help="save the fitted model to this .npz")
    p.add_argument("--plot", action="store_true", help="write z_phot vs z_spec PNG beside --out")
    p.add_argument("--threads", type=int, default=None, help="threads (default $OMP_NUM_THREADS or all cores)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)

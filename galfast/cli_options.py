"""Command-line options shared by every ``galfast`` subcommand, so that they are named alike.

``--catalog`` (the catalogue processed; ``--target`` kept as an alias in ``photoz``), ``--out``,
``--bands`` (names, aliases or band sets such as ``jwst_hst``), ``--column-map COLUMN=BAND``,
``--id-column``, ``--keep-columns``, ``--chunk-rows``, ``--jobs`` (``--threads`` kept as an
alias; None = 1, −1 = all cores, as ``n_jobs``), ``--seed``, ``--overwrite``, ``--no-resume``
and ``--no-progress`` (``--quiet`` kept as an alias); ``--dask SCHEDULER_ADDRESS`` or
``--workers N`` run a prediction on Dask (:mod:`galfast.scale`).
"""
from __future__ import annotations

__all__ = ["add_catalog_options", "add_column_map_option", "add_output_options", "add_jobs_option",
           "add_seed_option", "add_bands_option", "add_progress_option", "add_scale_options"]


def add_bands_option(p, help_default: str = "every band column found") -> None:
    p.add_argument("--bands", nargs="+", default=None, metavar="BAND",
                   help="band names or aliases (space or comma separated) or a band set such as "
                        f"'jwst_hst' (the 11 HST+JWST bands); default: {help_default}")


def add_catalog_options(p, *, aliases=(), id_column: bool = True) -> None:
    """--catalog (with ``aliases``), --column-map, --id-column."""
    p.add_argument("--catalog", *aliases, dest="catalog", required=True, metavar="FILE",
                   help="catalogue to process (Parquet, CSV, FITS, ECSV or whitespace ASCII)")
    add_column_map_option(p)
    if id_column:
        p.add_argument("--id-column", default="auto",
                       help="column copied to the output 'id' (default: id/ID/Id/objid/object_id "
                            "if present, else the row number counted from 0)")


def add_column_map_option(p, what: str = "catalogue") -> None:
    p.add_argument("--column-map", nargs="+", default=None, metavar="COLUMN=BAND",
                   help=f"{what} columns whose names are not band names, e.g. "
                        "FLUX_444=F444W (the error column is COLUMN_err)")


def add_output_options(p, *, chunk_rows: int = 100_000, keep_columns: bool = True) -> None:
    """--out, --keep-columns (unless not ``keep_columns``), --chunk-rows, --overwrite,
    --no-resume, --no-progress."""
    p.add_argument("--out", required=True, metavar="FILE",
                   help="output catalogue: .parquet/.csv written chunk by chunk; .fits/.ecsv at the end")
    if keep_columns:
        p.add_argument("--keep-columns", nargs="+", default=(), metavar="COLUMN",
                       help="input columns copied to the output (e.g. ra dec)")
    p.add_argument("--chunk-rows", type=int, default=chunk_rows,
                   help=f"rows per chunk (default {chunk_rows})")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-resume", dest="resume", action="store_false",
                   help="start afresh instead of resuming an interrupted run with the same arguments")
    add_progress_option(p)


def add_progress_option(p) -> None:
    p.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true",
                   help="no progress bar")


def add_jobs_option(p, what: str = "threads", default_text: str = "1") -> None:
    p.add_argument("--jobs", "--threads", dest="jobs", type=int, default=None, metavar="N",
                   help=f"{what} (default {default_text}; -1: all cores)")


def add_seed_option(p) -> None:
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def add_scale_options(p) -> None:
    """--dask SCHEDULER_ADDRESS or --workers N: run on Dask (:mod:`galfast.scale`), writing
    --out as a folder of Parquet parts."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--dask", default=None, metavar="SCHEDULER_ADDRESS",
                   help="run on the Dask cluster of this scheduler (e.g. tcp://host:8786); --out is "
                        "then a folder of Parquet parts, one per input partition, in input order")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="run on a local Dask cluster of N worker processes (1 thread each); --out "
                        "is then a folder of Parquet parts")

"""``galfast props train|predict``: train a property regressor on a catalogue with truths; apply it.

    galfast props train --catalog sims.parquet --targets log_mstar log_sfr av --out props.safetensors
    galfast props predict --model props.safetensors --catalog survey.parquet --out props_out.parquet

Band columns are fluxes with 1σ errors (µJy unless the columns carry units) or, with ``--mag``,
AB magnitudes with 1σ magnitude errors.  A model trained with ``--mag`` reads magnitudes in
``predict`` too, unless ``predict --flux`` says otherwise (and ``predict --mag`` reads
magnitudes for a model trained on fluxes).  ``--column-map COLUMN=BAND`` names band columns
whose names are not band names.

``train`` holds out ``--test-fraction`` of the rows (default 0.2, the papers' 64/16/20 split with
the model's own 20 % validation split) and prints σ, bias, outlier fraction, r² and coverage on
them.  ``predict`` runs :func:`galfast.stream.stream`: the catalogue is read in chunks, written
one row per input row in input order with the ids kept (Parquet/CSV streamed, FITS/ECSV written
at the end), with a progress bar, and an interrupted run started again resumes.  The output
``id`` column holds the catalogue's ``--id-column`` (default: the first of id, ID, Id, objid,
object_id present; else the row number counted from 0 across chunks); then ``<target>``,
``<target>_err`` and ``flags`` (:mod:`galfast.flags` bits).  These functions only parse
arguments; the work is done by :class:`~galfast.props.PropertyRegressor` and the stream.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from ..cli_options import (add_bands_option, add_catalog_options, add_jobs_option, add_output_options,
                           add_progress_option, add_scale_options, add_seed_option)

__all__ = ["register", "train_command", "predict_command"]


def train_command(args) -> int:
    from ..catalog import read_catalog
    from ..metrics import regression_metrics
    from .regressor import PropertyRegressor

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    table = read_catalog(args.catalog)
    if args.max_rows and len(table) > args.max_rows:
        table = table[:args.max_rows]
    reg = PropertyRegressor(
        targets=tuple(args.targets), per_target=not args.joint, loss=args.loss, hidden=tuple(args.hidden),
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
        noise_augment=not args.no_augment, use_redshift=not args.no_redshift,
        bands=None if args.bands is None else tuple(args.bands), z_column=args.z_column,
        input="mag" if args.mag else "flux", device=args.device, n_jobs=args.jobs, random_state=args.seed,
        progress=not args.no_progress)
    phot = reg.to_photometry(table, column_map=args.column_map)
    n = len(phot)
    perm = np.random.default_rng(args.seed).permutation(n)
    n_test = int(round(args.test_fraction * n))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    reg.fit(phot.select(train), table[list(reg.targets)][train])
    reg.save(out)
    h = reg.history_
    print(f"galfast props train: {reg.n_train_:,} training / {reg.n_val_:,} validation rows, "
          f"{h['epochs_run']} epochs in {h['seconds']:.1f} s; model written to {out}")
    if n_test:
        pred = reg.predict_table(phot.select(test))
        print(f"held-out test set ({n_test:,} rows):")
        print(f"{'target':>12} {'sigma':>8} {'bias':>8} {'outliers':>8} {'r2':>7} {'cov68':>6} {'cov95':>6}")
        for t in reg.targets_:
            m = regression_metrics(np.asarray(table[t][test], dtype=float), pred[t], pred[t + "_err"])
            print(f"{t:>12} {m['sigma']:8.4f} {m['bias']:8.4f} {m['outlier_fraction']:8.4f} {m['r2']:7.4f} "
                  f"{m['coverage_1sigma']:6.3f} {m['coverage_2sigma']:6.3f}")
    return 0


def predict_command(args) -> int:
    from .. import flags
    from ..scale import streamer
    from .regressor import PropertyRegressor

    reg = PropertyRegressor.load(args.model)
    kind = "mag" if args.mag else "flux" if args.flux else None     # None: the model's own
    no_estimate = []
    result = streamer(args.dask, args.workers)(
        reg, args.catalog, args.out,
        read=lambda chunk, offset: reg.to_photometry(chunk, input=kind, id_column=args.id_column,
                                                     column_map=args.column_map, z_column=args.z_column,
                                                     row_offset=offset),
        predict=partial(reg.predict_table, missing_bands=args.missing_bands, precision=args.precision,
                        device=args.device, n_jobs=args.jobs),
        chunk_rows=args.chunk_rows, keep_columns=args.keep_columns, progress=not args.no_progress,
        overwrite=args.overwrite, resume=args.resume, desc="props predict",
        config={"input": kind, "id_column": args.id_column, "column_map": args.column_map,
                "z_column": args.z_column, "missing_bands": args.missing_bands, "precision": args.precision},
        on_chunk=lambda phot, out: no_estimate.append(int(flags.has(out[flags.COLUMN], "no_estimate").sum())))
    counted = f"{sum(no_estimate):,} without an estimate (flag no_estimate)"
    if result["resumed_chunks"]:
        counted += f" in the {len(no_estimate)} chunks computed now; {result['resumed_chunks']} resumed"
    print(f"galfast props predict: {result['rows']:,} rows written to {result['out']} ({counted})")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("props", help="galaxy properties (M*, SFR, dust, …) from photometry")
    sub = p.add_subparsers(dest="props_command", metavar="ACTION", required=True)

    t = sub.add_parser("train", help="train a PropertyRegressor on a catalogue with truth columns")
    add_catalog_options(t, id_column=False)
    t.add_argument("--targets", nargs="+", required=True, help="truth columns to learn, e.g. log_mstar log_sfr")
    t.add_argument("--out", required=True, metavar="FILE",
                   help="model file to write (e.g. props.safetensors; a galfast model file)")
    add_bands_option(t)
    t.add_argument("--z-column", default="z", help="redshift column (default: z)")
    t.add_argument("--mag", action="store_true",
                   help="band columns are AB magnitudes and 1σ magnitude errors (default: fluxes in µJy); "
                        "kept with the model as the default of predict")
    t.add_argument("--no-redshift", action="store_true", help="do not use redshift as an input")
    t.add_argument("--loss", choices=("gaussian_nll", "mae"), default="gaussian_nll")
    t.add_argument("--joint", action="store_true", help="one multi-output network instead of one per target")
    t.add_argument("--hidden", nargs="+", type=int, default=[128, 128, 128], help="hidden layer widths")
    t.add_argument("--epochs", type=int, default=200)
    t.add_argument("--batch-size", type=int, default=512)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--patience", type=int, default=15)
    t.add_argument("--no-augment", action="store_true", help="no noise re-drawing during training")
    t.add_argument("--test-fraction", type=float, default=0.2, help="rows held out for the test report")
    t.add_argument("--max-rows", type=int, default=None, help="use only the first N rows")
    t.add_argument("--device", default="auto",
                   help="training device: auto (default: CUDA when available, else CPU), cpu, cuda or cuda:N")
    add_jobs_option(t, "torch CPU threads")
    add_seed_option(t)
    t.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    add_progress_option(t)
    t.set_defaults(func=train_command)

    q = sub.add_parser("predict", help="apply a trained PropertyRegressor to a catalogue (streaming)")
    q.add_argument("--model", required=True, help="model file from 'galfast props train'")
    add_catalog_options(q)
    add_output_options(q, chunk_rows=200_000)
    kinds = q.add_mutually_exclusive_group()
    kinds.add_argument("--mag", action="store_true",
                       help="band columns are AB magnitudes and magnitude errors (default: as the model was trained)")
    kinds.add_argument("--flux", action="store_true",
                       help="band columns are fluxes and errors [µJy] (default: as the model was trained)")
    q.add_argument("--z-column", default=None, help="redshift column (default: the model's, usually z)")
    q.add_argument("--missing-bands", choices=("error", "mask"), default="error",
                   help="trained bands absent from the catalogue: error (default) or treat as not observed")
    q.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                   help="network arithmetic; bfloat16 is ≈3× faster on AVX512-BF16/AMX CPUs, "
                        "≈20× slower on CPUs without them (AVX2-only)")
    add_jobs_option(q, "torch CPU threads", "the model's n_jobs, 1 unless trained with --jobs")
    q.add_argument("--device", default="cpu",
                   help="inference device: cpu (default; ≈1.7e5 objects/s with the default networks on 2 AVX2 "
                        "cores, --jobs 2), cuda, cuda:N or auto")
    add_scale_options(q)
    q.set_defaults(func=predict_command)

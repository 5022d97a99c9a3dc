"""``galfast images simulate|train|predict``: mock cut-outs, train a DustCNN, apply it to a stack.

    galfast images simulate --n 4000 --out mock.fits --jobs 2
    galfast images train --cutouts mock.fits --targets av ebv log_ssfr --out dust.safetensors
    galfast images predict --model dust.safetensors --cutouts observed.fits --out dust.parquet

Stacks are FITS files of :mod:`galfast.images.io` (an IMAGES cube and a CUTOUTS table with
``id``).  ``predict`` runs :func:`galfast.stream.stream` over the stack's rows: chunked, a
progress bar, one output row per image in stack order with the ids kept, resumable.  These
functions only parse arguments.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..cli_options import (add_bands_option, add_jobs_option, add_output_options, add_progress_option,
                           add_seed_option)

__all__ = ["register", "simulate_command", "train_command", "predict_command"]


def simulate_command(args) -> int:
    from .mock import simulate_cutouts

    stack = simulate_cutouts(args.n, args.bands, size=args.size, depths=args.depths, snr_cut=args.snr_cut,
                             seed=args.seed, n_jobs=args.jobs, chunk_rows=args.chunk_rows, out=args.out,
                             overwrite=args.overwrite, resume=args.resume, progress=not args.no_progress)
    print(f"galfast images simulate: wrote {len(stack)} cut-outs ({', '.join(stack.bands)}; "
          f"{stack.images.shape[-1]}×{stack.images.shape[-1]} px) to {args.out}")
    return 0


def train_command(args) -> int:
    from .estimator import DustCNN
    from .io import read_cutouts

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    stack = read_cutouts(args.cutouts)
    if args.bands:
        stack = stack.select_bands(args.bands)
    if stack.table is None:
        from ..errors import CatalogError

        raise CatalogError(f"{args.cutouts} has no CUTOUTS table with the target columns {args.targets}")
    cnn = DustCNN(targets=tuple(args.targets), n_conv=args.n_conv, filters=args.filters, n_dense=args.n_dense,
                  dense_units=args.dense_units, loss=args.loss, epochs=args.epochs, batch_size=args.batch_size,
                  lr=args.lr, patience=args.patience, balance=args.balance, noise_augment=args.noise_augment,
                  p_hog=args.p_hog, snr_cut=args.snr_cut, n_jobs=args.jobs, random_state=args.seed,
                  progress=not args.no_progress)
    perm = np.random.default_rng(args.seed).permutation(len(stack))
    n_test = int(round(args.test_fraction * len(stack)))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    if args.tune_trials:
        cnn.tune(stack.select(train), n_trials=args.tune_trials, max_epochs=args.tune_epochs)
        print(f"optuna: best of {args.tune_trials} trials {cnn.tuning_['best_params']} "
              f"(validation loss {cnn.tuning_['best_val_loss']:.4f})")
    else:
        cnn.fit(stack.select(train))
    cnn.save(out)
    h = cnn.history_
    print(f"galfast images train: {cnn.n_train_:,} training / {cnn.n_val_:,} validation images, {h['epochs_run']} "
          f"epochs in {h['seconds']:.1f} s ({h['train_images_per_s']:.0f} images/s); model written to {out}")
    if n_test:
        te = stack.select(test)
        pred = cnn.predict_table(te)
        print(f"held-out test set ({n_test:,} images):   target      MAE    sigma")
        for t in cnn.targets_:
            d = np.asarray(te.table[t], float) - np.asarray(pred[t], float)
            print(f"{'':>40}{t:>8} {np.nanmean(np.abs(d)):8.4f} {np.nanstd(d):8.4f}")
    return 0


def predict_command(args) -> int:
    from astropy.table import Table

    from .. import flags
    from ..stream import stream
    from .estimator import DustCNN
    from .io import check_bands, read_cutouts

    cnn = DustCNN.load(args.model)
    if args.jobs is not None:
        cnn.n_jobs = args.jobs
    stack = read_cutouts(args.cutouts)
    if args.pick_bands:
        stack = stack.select_bands(cnn.bands_)
    check_bands(stack.bands, cnn.bands_, args.cutouts)    # before any output is started
    source = stack.table if stack.table is not None else Table({"id": stack.ids})
    counts = {"low_snr": 0, "pixels_filled": 0}

    def read(chunk, offset):
        return stack.select(np.arange(offset, offset + len(chunk)))

    def on_chunk(_, out):
        for k in counts:
            counts[k] += int(flags.has(out[flags.COLUMN], k).sum())

    result = stream(cnn, source, args.out, read=read,
                    predict=lambda cut: cnn.predict_table(cut, snr_cut=args.snr_cut),
                    chunk_rows=args.chunk_rows, keep_columns=args.keep_columns, progress=not args.no_progress,
                    overwrite=args.overwrite, resume=args.resume, desc="images predict",
                    config={"cutouts": str(Path(args.cutouts).resolve()), "snr_cut": args.snr_cut,
                            "pick_bands": args.pick_bands},
                    on_chunk=on_chunk)
    print(f"galfast images predict: {result['rows']:,} rows written to {result['out']} "
          f"({counts['low_snr']:,} flagged low_snr, {counts['pixels_filled']:,} pixels_filled"
          + (f"; {result['resumed_chunks']} chunks resumed" if result["resumed_chunks"] else "") + ")")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("images", help="dust (A_V, E(B−V)) and sSFR from galaxy cut-outs with CNNs")
    sub = p.add_subparsers(dest="images_command", metavar="ACTION", required=True)

    s = sub.add_parser("simulate", help="mock JWST cut-outs (galsim bulge + disc + clumps) with known truth")
    s.add_argument("--n", type=int, required=True, help="number of galaxies")
    add_bands_option(s, help_default="F277W F356W F444W")
    s.add_argument("--size", type=int, default=32, choices=(32, 64), help="pixels a side (0.063″ pixels)")
    s.add_argument("--depths", default="jwst_deep", help="5σ depth preset (default jwst_deep)")
    s.add_argument("--snr-cut", type=float, default=None, help="keep only images with S/N ≥ this in every band")
    add_seed_option(s)
    add_jobs_option(s, "worker processes")
    add_output_options(s, chunk_rows=256, keep_columns=False)
    s.set_defaults(func=simulate_command)

    t = sub.add_parser("train", help="train a DustCNN on a cut-out stack with truth columns")
    t.add_argument("--cutouts", required=True, metavar="FITS", help="cut-out stack (galfast.images.io format)")
    t.add_argument("--targets", nargs="+", default=["ebv", "av", "log_ssfr"])
    t.add_argument("--out", required=True, metavar="FILE", help="model file to write (.safetensors)")
    add_bands_option(t, help_default="every band of the stack (one band: the 1-band network)")
    t.add_argument("--n-conv", type=int, default=3)
    t.add_argument("--filters", type=int, default=32)
    t.add_argument("--n-dense", type=int, default=4)
    t.add_argument("--dense-units", type=int, default=64)
    t.add_argument("--loss", choices=("mae", "mse", "percentage"), default="mae")
    t.add_argument("--epochs", type=int, default=60)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--patience", type=int, default=5)
    t.add_argument("--balance", default=None, metavar="TARGET", help="resample rare values of this target")
    t.add_argument("--noise-augment", type=float, default=0.0, help="Gaussian noise of this many background σ")
    t.add_argument("--p-hog", type=float, default=0.0, help="share of training images replaced by HOG images")
    t.add_argument("--snr-cut", type=float, default=5.0)
    t.add_argument("--tune-trials", type=int, default=0, help="optuna trials before the final fit (0: none)")
    t.add_argument("--tune-epochs", type=int, default=None, help="at most this many epochs per trial")
    t.add_argument("--test-fraction", type=float, default=0.15, help="images held out for the test report")
    add_jobs_option(t, "torch CPU threads")
    add_seed_option(t)
    t.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    add_progress_option(t)
    t.set_defaults(func=train_command)

    q = sub.add_parser("predict", help="apply a DustCNN to a cut-out stack (streaming, resumable)")
    q.add_argument("--model", required=True, help="model file from 'galfast images train'")
    q.add_argument("--cutouts", required=True, metavar="FITS", help="cut-out stack (galfast.images.io format)")
    q.add_argument("--snr-cut", type=float, default=None, help="flag low_snr below this (default: the model's)")
    q.add_argument("--pick-bands", action="store_true",
                   help="take the model's bands from the stack by name (else the stack's bands must match "
                        "the model's in number and order)")
    add_jobs_option(q, "torch CPU threads", "the model's n_jobs")
    add_output_options(q, chunk_rows=4096)
    q.set_defaults(func=predict_command)

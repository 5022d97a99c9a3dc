"""``galfast posterior train|sample``: train the neural likelihood on a simulated catalogue; sample
every row of a survey catalogue.

    galfast simulate --n 20000 --bands jwst_hst --out sims.parquet
    galfast posterior train --catalog sims.parquet --out nl.safetensors --report nl_report/
    galfast posterior sample --model nl.safetensors --catalog survey.parquet --out post.parquet

``train`` holds out ``--test-fraction`` of the rows and, with ``--report DIR``, writes the
evaluation there (Markdown + PNG: χ² calibration with all bands, with random bands hidden and
with F090W + F115W removed; per-band residuals).  ``sample`` runs :func:`galfast.stream.stream`
with a :class:`~galfast.posterior.catalog.PosteriorFitter`: the catalogue in chunks of
``--chunk-rows`` objects, one output row per input row in input order with ids, resumable, a
progress bar; ``--jobs N`` worker processes each compile the model once.  These functions only
parse arguments.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..cli_options import (add_bands_option, add_catalog_options, add_jobs_option, add_output_options,
                           add_progress_option, add_seed_option)

__all__ = ["register", "train_command", "sample_command"]


def train_command(args) -> int:
    from ..catalog import read_catalog
    from .estimator import NeuralLikelihood

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    table = read_catalog(args.catalog)
    if args.max_rows and len(table) > args.max_rows:
        table = table[:args.max_rows]
    nl = NeuralLikelihood(tuple(args.parameters), hidden=args.hidden, n_blocks=args.n_blocks,
                          diagonal=args.diagonal, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          patience=args.patience, band_dropout=args.band_dropout,
                          bands=None if args.bands is None else tuple(args.bands), n_jobs=args.jobs,
                          random_state=args.seed, progress=not args.no_progress)
    n = len(table)
    perm = np.random.default_rng(args.seed).permutation(n)
    n_test = int(round(args.test_fraction * n))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    nl.fit(table[train], column_map=args.column_map)
    nl.save(out)
    h = nl.history_
    print(f"galfast posterior train: {len(train):,} rows, {len(h['val'])} epochs; model written to {out}")
    if n_test and args.report:
        from .evaluation import write_evaluation

        path = write_evaluation(nl, table[test], args.report,
                                command=f"galfast posterior train --catalog {args.catalog} --out {args.out} "
                                        f"--report {args.report} --seed {args.seed} (settings: {nl.get_params()})")
        print(f"evaluation on {n_test:,} held-out rows written to {path}")
    return 0


def sample_command(args) -> int:
    from .. import flags
    from ..modelfile import load_model
    from ..stream import stream
    from .catalog import PosteriorFitter
    from .estimator import NeuralLikelihood

    nl = load_model(args.model)
    if not isinstance(nl, NeuralLikelihood):
        from ..errors import ModelFileError

        raise ModelFileError(f"{args.model} is a {type(nl).__name__} model file, not a NeuralLikelihood "
                             "(train one with 'galfast posterior train')")
    fitter = PosteriorFitter(nl, z="column" if args.fixed_z else None, chains=args.chains, tune=args.tune,
                             draws=args.draws, retry_tune=args.retry_tune, n_jobs=args.jobs,
                             random_state=args.seed, draws_dir=args.draws_dir, progress=False,
                             backend=args.backend,
                             column_map=args.column_map, id_column=args.id_column)
    counts = {"not_converged": 0, "no_estimate": 0}

    def count(phot, out):
        for k in counts:
            counts[k] += int(flags.has(out[flags.COLUMN], k).sum())

    try:
        result = stream(fitter, args.catalog, args.out, chunk_rows=args.chunk_rows, keep_columns=args.keep_columns,
                        progress=not args.no_progress, overwrite=args.overwrite, resume=args.resume,
                        desc="posterior sample", config=fitter._settings(), on_chunk=count)
    finally:
        fitter.close()
    print(f"galfast posterior sample: {result['rows']:,} rows written to {result['out']} "
          f"({counts['not_converged']:,} not converged, {counts['no_estimate']:,} without an estimate"
          + (f", in the chunks computed now; {result['resumed_chunks']} chunks resumed" if result["resumed_chunks"] else "")
          + ")")
    return 0


def register(subparsers) -> None:
    from .estimator import DEFAULT_PARAMETERS

    p = subparsers.add_parser("posterior", help="Bayesian posteriors: neural likelihood + NUTS (nutpie)")
    sub = p.add_subparsers(dest="posterior_command", metavar="ACTION", required=True)

    t = sub.add_parser("train", help="train a NeuralLikelihood on a simulated catalogue (fluxes + truths)")
    add_catalog_options(t, id_column=False)
    t.add_argument("--out", required=True, metavar="FILE", help="model file to write (e.g. nl.safetensors)")
    t.add_argument("--parameters", nargs="+", default=list(DEFAULT_PARAMETERS),
                   help=f"θ: truth columns (default: {' '.join(DEFAULT_PARAMETERS)})")
    add_bands_option(t)
    t.add_argument("--hidden", type=int, default=64, help="layer width (default 64)")
    t.add_argument("--n-blocks", type=int, default=2, help="residual blocks of the shared trunk (default 2)")
    t.add_argument("--diagonal", action="store_true", help="diagonal model covariance (default: full Cholesky)")
    t.add_argument("--epochs", type=int, default=200)
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--patience", type=int, default=20)
    t.add_argument("--band-dropout", type=float, default=0.2, help="probability a band is hidden per epoch")
    t.add_argument("--test-fraction", type=float, default=0.1, help="rows held out for the evaluation")
    t.add_argument("--report", default=None, metavar="DIR", help="write the evaluation (Markdown + PNG) here")
    t.add_argument("--max-rows", type=int, default=None, help="use only the first N rows")
    add_jobs_option(t, "torch CPU threads")
    add_seed_option(t)
    t.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    add_progress_option(t)
    t.set_defaults(func=train_command)

    s = sub.add_parser("sample", help="posterior of every row of a catalogue (streaming, resumable)")
    s.add_argument("--model", required=True, help="model file from 'galfast posterior train'")
    add_catalog_options(s)
    add_output_options(s, chunk_rows=50)
    s.add_argument("--chains", type=int, default=4)
    s.add_argument("--tune", type=int, default=1000)
    s.add_argument("--draws", type=int, default=1000)
    s.add_argument("--retry-tune", type=int, default=3000,
                   help="tuning steps of the second run of an object whose diagnostics fail (0: no re-run)")
    s.add_argument("--fixed-z", action="store_true", help="z fixed per row from the catalogue's z column")
    s.add_argument("--backend", choices=("nutpie", "blackjax"), default="nutpie",
                   help="nutpie: one object at a time (default; fastest on CPUs); blackjax: each chunk's objects "
                        "at once, vmapped (the GPU path)")
    s.add_argument("--draws-dir", default=None, metavar="DIR", help="write each object's draws there (NetCDF)")
    add_jobs_option(s, "worker processes, each compiling the model once")
    add_seed_option(s)
    s.set_defaults(func=sample_command)

"""``galfast simulate``: write a mock catalogue with known truth (any catalogue format).

Only parses arguments: the run, its parts and resume, and the writing are
:func:`galfast.sim.simulate`'s.
"""
from __future__ import annotations

import json

from ..cli_options import (add_bands_option, add_column_map_option, add_jobs_option, add_output_options,
                           add_seed_option)
from ..validation import ParameterError


def _depths(value):
    """Preset name, ``band=mag,band=mag`` or a JSON file {band: mag} / {band: [[mags], [errs]]}."""
    from .noise import DEPTH_PRESETS, ErrorTable

    if value in DEPTH_PRESETS:
        return value
    if "=" in value:
        out = {}
        for item in value.split(","):
            band, _, mag = item.partition("=")
            try:
                out[band.strip()] = float(mag)
            except ValueError:
                raise ParameterError(f"--depths: cannot read {item!r} as band=magnitude") from None
        return out
    try:
        with open(value) as fh:
            spec = json.load(fh)
    except FileNotFoundError:
        raise ParameterError(f"--depths {value!r}: neither a preset {sorted(DEPTH_PRESETS)}, "
                             "band=mag pairs, nor an existing JSON file") from None
    except ValueError as exc:
        raise ParameterError(f"--depths file {value}: not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise ParameterError(f"--depths file {value}: expected a JSON object {{band: depth or "
                             "[[mags], [mag errors]]}}")
    if all(isinstance(v, (int, float)) for v in spec.values()):
        return spec
    return ErrorTable.from_table(spec)


def _run(args) -> int:
    from .noise import ErrorTable
    from .priors import Priors
    from .runner import simulate

    priors = Priors(sfh=args.sfh, **{name: tuple(getattr(args, name))
                                     for name in ("z", "log_mstar", "log_zmet", "av", "log_u")
                                     if getattr(args, name) is not None})
    if args.errors_from:
        if not args.bands:
            raise ParameterError("--errors-from needs --bands (the catalogue's bands to measure)")
        depths = ErrorTable.from_catalog(args.errors_from, args.bands, column_map=args.column_map)
    else:
        depths = _depths(args.depths)
    path = simulate(args.n, args.bands, priors=priors, depths=depths,
                    missing_fraction=args.missing_fraction, seed=args.seed, n_jobs=args.jobs,
                    chunk_rows=args.chunk_rows, out=args.out, overwrite=args.overwrite,
                    resume=args.resume, progress=not args.no_progress, keep_true=args.keep_true,
                    return_table=False)
    print(f"galfast simulate: wrote {args.n} rows to {path}")
    return 0


def register(subparsers):
    p = subparsers.add_parser(
        "simulate", help="simulate a mock photometric catalogue with known truth (bagpipes physics)",
        description="Simulate galaxies' photometry [µJy] with noise and their true properties into "
                    "a catalogue (Parquet/CSV written chunk by chunk, FITS/ECSV at the end); an "
                    "interrupted run given the same arguments resumes.")
    p.add_argument("--n", type=int, required=True, help="number of galaxies")
    add_bands_option(p, help_default="the bands of the --depths preset")
    p.add_argument("--depths", default="jwst_deep",
                   help="preset (jwst_deep, lsst_10yr, lsst_1yr, gama), 'band=mag,…' 5σ AB depths, or a JSON "
                        "file {band: depth} or {band: [[mags], [mag errors]]} (default jwst_deep)")
    p.add_argument("--errors-from", metavar="CATALOGUE",
                   help="measure the error-vs-magnitude curves of --bands on this observed "
                        "catalogue (overrides --depths)")
    add_column_map_option(p, "--errors-from catalogue")
    p.add_argument("--sfh", default="delayed_tau", choices=["delayed_tau", "constant_burst"])
    p.add_argument("--z", type=float, nargs=2, metavar=("MIN", "MAX"), help="redshift range (0 7)")
    p.add_argument("--log-mstar", type=float, nargs=2, metavar=("MIN", "MAX"), help="(8 11.5)")
    p.add_argument("--log-zmet", type=float, nargs=2, metavar=("MIN", "MAX"), help="(-2 0.3)")
    p.add_argument("--av", type=float, nargs=2, metavar=("MIN", "MAX"), help="Calzetti A_V (0 3)")
    p.add_argument("--log-u", type=float, nargs=2, metavar=("MIN", "MAX"), help="(-4 -1)")
    p.add_argument("--missing-fraction", type=float, default=0.0,
                   help="probability that a (row, band) is not observed")
    p.add_argument("--keep-true", action="store_true", help="also write noiseless <band>_true")
    add_seed_option(p)
    add_jobs_option(p, "worker processes")
    add_output_options(p, chunk_rows=16384, keep_columns=False)
    p.set_defaults(func=_run)
    return p

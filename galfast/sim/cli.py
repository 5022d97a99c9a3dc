"""``galfast simulate``: write a mock catalogue with known truth to Parquet."""
from __future__ import annotations

import json

from ..errors import GalfastError

_BAND_SETS = {"jwst_hst": "galfast.bands:JWST_HST_BANDS"}


def _bands(values):
    if values is None:
        return None
    names = [b for v in values for b in v.split(",") if b]
    if len(names) == 1 and names[0].lower() in _BAND_SETS:
        from ..bands import JWST_HST_BANDS

        return list(JWST_HST_BANDS)
    return names


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
                raise GalfastError(f"--depths: cannot read {item!r} as band=magnitude") from None
        return out
    try:
        with open(value) as fh:
            spec = json.load(fh)
    except FileNotFoundError:
        raise GalfastError(f"--depths {value!r}: neither a preset {sorted(DEPTH_PRESETS)}, "
                           "band=mag pairs, nor an existing JSON file") from None
    except ValueError as exc:
        raise GalfastError(f"--depths file {value}: not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise GalfastError(f"--depths file {value}: expected a JSON object {{band: depth or "
                           "[[mags], [mag errors]]}}")
    if all(isinstance(v, (int, float)) for v in spec.values()):
        return spec
    return ErrorTable.from_table(spec)


def _run(args) -> int:
    from .priors import Priors
    from .runner import simulate

    prior_kw = {"sfh": args.sfh}
    for name in ("z", "log_mstar", "log_zmet", "av", "log_u"):
        val = getattr(args, name)
        if val is not None:
            prior_kw[name] = tuple(val)
    bands = _bands(args.bands)
    depths = _depths(args.depths)
    if args.errors_from:
        from ..catalog import read_catalog
        from ..photometry import Photometry
        from .noise import ErrorTable

        if not bands:
            raise GalfastError("--errors-from needs --bands (the catalogue's bands to measure)")
        phot = Photometry.from_table(read_catalog(args.errors_from), bands, source=args.errors_from)
        depths = ErrorTable.from_photometry(phot)
    table = simulate(args.n, bands, priors=Priors(**prior_kw), depths=depths,
                     missing_fraction=args.missing_fraction, seed=args.seed, n_jobs=args.jobs,
                     chunk_rows=args.chunk_rows, out=args.out, overwrite=args.overwrite,
                     progress=not args.quiet, keep_true=args.keep_true, return_table=False)
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(table).metadata
    print(f"galfast simulate: wrote {meta.num_rows} rows × {meta.num_columns} columns to {args.out}")
    return 0


def register(subparsers):
    p = subparsers.add_parser(
        "simulate", help="simulate a mock photometric catalogue with known truth (bagpipes physics)",
        description="Simulate galaxies' photometry [µJy] with noise and their true properties; "
                    "streams to Parquet and resumes an interrupted run given the same arguments.")
    p.add_argument("--n", type=int, required=True, help="number of galaxies")
    p.add_argument("--bands", nargs="+", default=None,
                   help="band names/aliases (space or comma separated), or 'jwst_hst' for the 11 "
                        "JWST+HST bands; default: the bands of the --depths preset")
    p.add_argument("--depths", default="jwst_deep",
                   help="preset (jwst_deep, lsst_10yr, gama), 'band=mag,…' 5σ AB depths, or a JSON "
                        "file {band: depth} or {band: [[mags], [mag errors]]} (default jwst_deep)")
    p.add_argument("--errors-from", metavar="CATALOGUE",
                   help="measure the error-vs-magnitude curves of --bands on this observed "
                        "catalogue (overrides --depths)")
    p.add_argument("--sfh", default="delayed_tau", choices=["delayed_tau", "constant_burst"])
    p.add_argument("--z", type=float, nargs=2, metavar=("MIN", "MAX"), help="redshift range (0 7)")
    p.add_argument("--log-mstar", type=float, nargs=2, metavar=("MIN", "MAX"), help="(8 11.5)")
    p.add_argument("--log-zmet", type=float, nargs=2, metavar=("MIN", "MAX"), help="(-2 0.3)")
    p.add_argument("--av", type=float, nargs=2, metavar=("MIN", "MAX"), help="Calzetti A_V (0 3)")
    p.add_argument("--log-u", type=float, nargs=2, metavar=("MIN", "MAX"), help="(-4 -1)")
    p.add_argument("--missing-fraction", type=float, default=0.0,
                   help="probability that a (row, band) is not observed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="worker processes (-1: all cores)")
    p.add_argument("--chunk-rows", type=int, default=16384)
    p.add_argument("--keep-true", action="store_true", help="also write noiseless <band>_true")
    p.add_argument("--out", required=True, help="output Parquet file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)
    return p

"""The one registry of per-row quality flags: every bit defined once, the column ``flags`` everywhere.

Every galfast model writes an int64 column named ``flags`` holding the bitwise OR of the
conditions below, whatever the model (photo-z, properties, and the models to come).  A bit means
the same thing in every output; a model documents which bits it can set.

    >>> from galfast import flags
    >>> flags.describe(flags.MISSING_BANDS | flags.EXTRAPOLATION)
    ['extrapolation', 'missing_bands']
    >>> bad = flags.has(table["flags"], "no_estimate")          # boolean mask of rows

The values of the first five bits are those of the compiled photo-z kernel
(``galfast._ext.kllr.KERNEL_FLAGS``), which sets them itself; a test checks that they agree.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Flag", "FLAGS", "EXTRAPOLATION", "CLIPPED_AT_MIN", "NEIGHBOURS_CLIPPED", "NO_ESTIMATE",
           "MODE_GUARD", "MISSING_BANDS", "FEW_NEIGHBOURS", "TOO_FEW_BANDS", "BAD_VALUE",
           "BANDS_DROPPED", "NO_REDSHIFT", "NOT_CONVERGED", "PIXELS_FILLED", "LOW_SNR", "COLUMN", "DTYPE", "bit", "describe", "has",
           "column_description", "flags_table"]

#: name of the flags column in every output table
COLUMN = "flags"
#: its dtype
DTYPE = np.int64


@dataclass(frozen=True)
class Flag:
    """One condition bit: ``value`` (a power of two), ``name`` and what it means, per model."""

    value: int
    name: str
    doc: str


_DEFINITIONS = (
    Flag(1, "extrapolation",
         "the input lies outside the training data: photo-z, outside the bounding box of its "
         "neighbours in some colour; properties, a magnitude or z more than 5σ from the training "
         "distribution; posterior, observed fluxes far outside the likelihood's training domain"),
    Flag(2, "clipped_at_min",
         "photo-z: the estimate was below z_min (0) and was clipped to it"),
    Flag(4, "neighbours_clipped",
         "photo-z: neighbours with |residual| > clip·δ were dropped and the fit repeated"),
    Flag(8, "no_estimate",
         "no estimate: values and errors are NaN (too few usable bands, no usable input, or a "
         "failed solve)"),
    Flag(16, "mode_guard",
         "photo-z: the mode guard dropped neighbours from another redshift mode"),
    Flag(32, "missing_bands",
         "some of the model's bands were not usable in this row (not observed, not detected or a "
         "bad value); the row was served from the others"),
    Flag(64, "few_neighbours",
         "photo-z: fewer training rows share this row's bands than k; all of them were used"),
    Flag(128, "too_few_bands",
         "fewer usable bands than the model needs (photo-z: min_bands; properties: none observed)"),
    Flag(256, "bad_value",
         "an input value was ±inf or a sentinel (e.g. ±99) and was treated as missing"),
    Flag(512, "bands_dropped",
         "photo-z: too few training rows have all of this row's bands; some were left out"),
    Flag(1024, "no_redshift",
         "the model needs a redshift and this row's is missing or not finite"),
    Flag(2048, "not_converged",
         "posterior: the sampler's diagnostics failed (R-hat > 1.01, bulk or tail ESS < 400, or "
         "divergences) even after a re-run with longer tuning; the summaries are not to be trusted"),
    Flag(4096, "pixels_filled",
         "images: NaN or masked pixels were filled (with the cut-out's background) for the network"),
    Flag(8192, "low_snr",
         "below the signal-to-noise cut (images: S/N < the cut in some band); kept, not dropped"),
)

#: value -> Flag, in bit order
FLAGS: dict[int, Flag] = {f.value: f for f in _DEFINITIONS}
_BY_NAME = {f.name: f.value for f in _DEFINITIONS}

EXTRAPOLATION = _BY_NAME["extrapolation"]
CLIPPED_AT_MIN = _BY_NAME["clipped_at_min"]
NEIGHBOURS_CLIPPED = _BY_NAME["neighbours_clipped"]
NO_ESTIMATE = _BY_NAME["no_estimate"]
MODE_GUARD = _BY_NAME["mode_guard"]
MISSING_BANDS = _BY_NAME["missing_bands"]
FEW_NEIGHBOURS = _BY_NAME["few_neighbours"]
TOO_FEW_BANDS = _BY_NAME["too_few_bands"]
BAD_VALUE = _BY_NAME["bad_value"]
BANDS_DROPPED = _BY_NAME["bands_dropped"]
NO_REDSHIFT = _BY_NAME["no_redshift"]
NOT_CONVERGED = _BY_NAME["not_converged"]
PIXELS_FILLED = _BY_NAME["pixels_filled"]
LOW_SNR = _BY_NAME["low_snr"]


def bit(name: str) -> int:
    """The value of the flag called ``name``; ValueError listing the names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown flag {name!r}; galfast flags are {list(_BY_NAME)}") from None


def describe(value) -> list[str]:
    """Names of the bits set in one flags value, in bit order."""
    value = int(value)
    unknown = value & ~sum(FLAGS)
    if unknown:
        raise ValueError(f"flags value {value} has bits {unknown} that galfast does not define")
    return [f.name for v, f in FLAGS.items() if value & v]


def has(flags, name: str) -> np.ndarray:
    """Boolean array: rows of a flags column (array or Column) with flag ``name`` set."""
    return (np.asarray(flags, dtype=DTYPE) & bit(name)) != 0


def column_description(values=None) -> str:
    """The description written on a ``flags`` column: the bits a model can set (default all)."""
    chosen = FLAGS.values() if values is None else (FLAGS[v] for v in sorted(values))
    return "galfast.flags bits: " + ", ".join(f"{f.value} {f.name}" for f in chosen)


def flags_table():
    """An astropy Table of the registry (value, name, meaning), e.g. for documentation."""
    from astropy.table import Table

    return Table({"value": [f.value for f in FLAGS.values()], "name": [f.name for f in FLAGS.values()],
                  "meaning": [f.doc for f in FLAGS.values()]})

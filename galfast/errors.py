"""Exceptions and warnings raised by galfast, all naming the file, column or row at fault."""


class GalfastError(Exception):
    """Base class of galfast's errors."""


class CatalogError(GalfastError, ValueError):
    """A catalogue file or table is unusable (missing column, wrong dtype, empty, …)."""


class BandError(GalfastError, KeyError):
    """A band name is unknown, ambiguous, or the band lists of two inputs disagree."""

    def __str__(self):  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


class ModelFileError(GalfastError, OSError):
    """A saved model file is unreadable: truncated, corrupted, not a galfast model, of another kind, or
    of a newer file format than this galfast reads."""


class CatalogWarning(UserWarning):
    """Something in a catalogue is suspicious but usable (duplicate ids, rows excluded, …)."""

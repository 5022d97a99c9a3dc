"""Cut-out stacks on disk and in memory: one FITS file, images + an id/truth table sharing ids.

Format (``write_cutouts`` / ``read_cutouts``)::

    HDU 0  PRIMARY   no data; header GFIMGCFG = the run's arguments as JSON (simulated stacks)
    HDU 1  IMAGES    float32 cube, numpy shape (N, B, H, W) [µJy/pixel]; header NBANDS,
                     BAND1 … BANDn (galfast band names, in cube order), PIXSCALE [arcsec],
                     BUNIT = 'uJy'
    HDU 2  CUTOUTS   binary table, N rows in cube order; first column ``id``; truths and
                     any other per-image columns (simulated stacks: see galfast.images.mock)

Observed cut-outs can be brought in the same way: ``write_cutouts("mine.fits", cube, bands,
ids=ids)``.  NaN pixels are allowed (they are filled and flagged at prediction).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..bands import expand_bands, resolve_band
from ..errors import BandError, CatalogError

__all__ = ["CutoutSet", "write_cutouts", "read_cutouts", "as_cube", "check_bands"]


@dataclass
class CutoutSet:
    """N cut-outs in B bands: ``images`` (N, B, H, W), ``ids`` (N,), ``bands`` (B names, cube
    order), ``table`` (astropy Table, one row per image, or None), ``pixel_scale`` [arcsec]."""

    images: np.ndarray = field(repr=False)
    ids: np.ndarray = field(repr=False)
    bands: tuple
    table: object = field(default=None, repr=False)
    pixel_scale: float = 0.063
    path: str | None = None

    def __post_init__(self):
        self.images = as_cube(self.images, where=self.path or "images")
        self.bands = tuple(resolve_band(b) for b in expand_bands(self.bands))
        if len(self.bands) != self.images.shape[1]:
            raise BandError(f"{self.path or 'cut-outs'}: {len(self.bands)} band names {list(self.bands)} "
                            f"for {self.images.shape[1]} image planes")
        self.ids = np.asarray(self.ids)
        if self.ids.shape != (self.images.shape[0],):
            raise CatalogError(f"{self.path or 'cut-outs'}: {self.ids.size} ids for {self.images.shape[0]} images")

    def __len__(self):
        return self.images.shape[0]

    def select(self, rows) -> "CutoutSet":
        rows = np.asarray(rows)
        return CutoutSet(np.asarray(self.images[rows]), self.ids[rows], self.bands,
                         None if self.table is None else self.table[rows], self.pixel_scale, self.path)

    def select_bands(self, bands) -> "CutoutSet":
        """The planes of ``bands`` in that order (BandError naming a band not in the stack)."""
        want = [resolve_band(b) for b in expand_bands(bands)]
        missing = [b for b in want if b not in self.bands]
        if missing:
            raise BandError(f"{self.path or 'cut-outs'} has no band(s) {missing} (it holds {list(self.bands)})")
        idx = [self.bands.index(b) for b in want]
        return CutoutSet(np.asarray(self.images[:, idx]), self.ids, tuple(want), self.table,
                         self.pixel_scale, self.path)


def as_cube(images, where: str = "images") -> np.ndarray:
    """``images`` as an (N, B, H, W) array (a masked array stays masked); CatalogError naming the
    shape otherwise."""
    arr = images if np.ma.isMaskedArray(images) else np.asarray(images)
    if arr.dtype.kind not in "fiu":
        raise CatalogError(f"{where}: pixel values must be numbers, got dtype {arr.dtype}")
    if arr.ndim != 4:
        raise CatalogError(f"{where}: expected a 4-D array (N images, B bands, H, W pixels), got shape "
                           f"{arr.shape}" + (" — add a band axis: images[:, None]" if arr.ndim == 3 else ""))
    if arr.shape[0] == 0:
        raise CatalogError(f"{where}: no images (shape {arr.shape})")
    return arr


def check_bands(given, expected, where: str = "cut-outs") -> None:
    """BandError naming both lists when the band count or order differs from the model's."""
    given = tuple(resolve_band(b) for b in expand_bands(given))
    expected = tuple(expected)
    if given == expected:
        return
    if len(given) != len(expected):
        raise BandError(f"{where} have {len(given)} band(s) {list(given)} but the model was trained on "
                        f"{len(expected)}: {list(expected)}")
    if sorted(given) == sorted(expected):
        raise BandError(f"{where} bands are in the order {list(given)}, the model's are {list(expected)}: "
                        "reorder the planes (CutoutSet.select_bands)")
    raise BandError(f"{where} bands {list(given)} differ from the model's {list(expected)}")


def write_cutouts(path, images, bands, *, ids=None, table=None, pixel_scale: float = 0.063,
                  meta=None, overwrite: bool = False) -> Path:
    """Write a cut-out stack (module docstring) atomically; returns the path."""
    import os
    import warnings

    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning
    from astropy.table import Table

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    cube = as_cube(images, str(path)).astype(np.float32, copy=False)
    bands = [resolve_band(b) for b in expand_bands(bands)]
    if len(bands) != cube.shape[1]:
        raise BandError(f"{len(bands)} band names {bands} for {cube.shape[1]} image planes")
    n = cube.shape[0]
    tab = Table() if table is None else Table(table, copy=False)
    if ids is None:
        ids = tab["id"] if "id" in tab.colnames else np.arange(n)
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise CatalogError(f"{ids.size} ids for {n} images")
    if len(tab) and len(tab) != n:
        raise CatalogError(f"table has {len(tab)} rows for {n} images")
    out = Table({"id": ids})
    for c in tab.colnames:
        if c != "id":
            out[c] = tab[c]
    primary = fits.PrimaryHDU()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        for k, v in (meta or {}).items():
            primary.header[k] = v
    img = fits.ImageHDU(cube, name="IMAGES")
    img.header["NBANDS"] = len(bands)
    for j, b in enumerate(bands):
        img.header[f"BAND{j + 1}"] = b
    img.header["PIXSCALE"] = (float(pixel_scale), "arcsec / pixel")
    img.header["BUNIT"] = "uJy"
    tab_hdu = fits.table_to_hdu(out)
    tab_hdu.name = "CUTOUTS"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial{os.getpid()}")
    try:
        fits.HDUList([primary, img, tab_hdu]).writeto(tmp, overwrite=True)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_cutouts(path, *, memmap: bool = True) -> CutoutSet:
    """Read a stack written by :func:`write_cutouts` (CatalogError naming the file otherwise)."""
    from astropy.io import fits
    from astropy.table import Table

    from ..catalog import native_table

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cut-out stack not found: {path}")
    try:
        hdul = fits.open(path, memmap=memmap)
    except Exception as exc:
        raise CatalogError(f"{path} is not a readable FITS cut-out stack ({type(exc).__name__}: {exc})") from None
    with hdul:
        names = [h.name for h in hdul]
        if "IMAGES" not in names:
            raise CatalogError(f"{path} has no IMAGES extension (HDUs: {names}); see galfast.images.io")
        h = hdul["IMAGES"]
        try:
            data = h.data
        except Exception as exc:
            raise CatalogError(f"{path}: IMAGES cannot be read ({type(exc).__name__}: {exc})") from None
        if data is None or data.ndim != 4:
            raise CatalogError(f"{path}: IMAGES must be a 4-D cube (N, B, H, W), got shape "
                               f"{None if data is None else data.shape}")
        nb = int(h.header.get("NBANDS", data.shape[1]))
        bands = [h.header.get(f"BAND{j + 1}") for j in range(nb)]
        if None in bands:
            raise CatalogError(f"{path}: IMAGES header lacks BAND1 … BAND{nb}")
        images = np.asarray(data, dtype=np.float32)
        scale = float(h.header.get("PIXSCALE", 0.063))
        table = None
        if "CUTOUTS" in names:
            table = native_table(Table.read(hdul["CUTOUTS"]))
            if len(table) != images.shape[0]:
                raise CatalogError(f"{path}: CUTOUTS has {len(table)} rows for {images.shape[0]} images")
            if "id" not in table.colnames:
                raise CatalogError(f"{path}: CUTOUTS table has no 'id' column")
            ids = np.asarray(table["id"])
        else:
            ids = np.arange(images.shape[0])
        meta = {k: hdul[0].header[k] for k in ("GFIMGCFG",) if k in hdul[0].header}
    if table is not None:
        table.meta.update(meta)
    return CutoutSet(images, ids, tuple(bands), table, scale, str(path))

"""FITS cut-out stacks: round trip, bad files, band selection and checks."""
import numpy as np
import pytest

from galfast.errors import BandError, CatalogError
from galfast.images import CutoutSet, read_cutouts, write_cutouts
from galfast.images.io import check_bands


def test_round_trip_with_ids_and_nan(tmp_path, rng):
    cube = rng.normal(size=(5, 2, 32, 32)).astype(np.float32)
    cube[1, 0, 3, 4] = np.nan
    p = write_cutouts(tmp_path / "s.fits", cube, ["F277W", "F444W"], ids=[10, 11, 12, 13, 14])
    s = read_cutouts(p)
    assert s.bands == ("jwst_f277w", "jwst_f444w")
    assert np.array_equal(s.ids, [10, 11, 12, 13, 14])
    assert np.array_equal(s.images, cube, equal_nan=True)
    sub = s.select_bands(["F444W"])
    assert sub.images.shape == (5, 1, 32, 32) and np.array_equal(sub.images[:, 0], cube[:, 1])


def test_bad_files_name_the_file(tmp_path, rng):
    junk = tmp_path / "junk.fits"
    junk.write_bytes(b"not a fits file at all" * 10)
    with pytest.raises(CatalogError, match="junk.fits"):
        read_cutouts(junk)
    from astropy.io import fits

    noimg = tmp_path / "noimg.fits"
    fits.HDUList([fits.PrimaryHDU()]).writeto(noimg)
    with pytest.raises(CatalogError, match="IMAGES"):
        read_cutouts(noimg)
    with pytest.raises(FileNotFoundError):
        read_cutouts(tmp_path / "missing.fits")


def test_shape_and_band_errors(rng):
    with pytest.raises(CatalogError, match="4-D"):
        CutoutSet(rng.normal(size=(3, 32, 32)), np.arange(3), ("F277W",))
    with pytest.raises(BandError, match="2 band names"):
        CutoutSet(rng.normal(size=(3, 1, 32, 32)), np.arange(3), ("F277W", "F444W"))
    with pytest.raises(BandError, match="order"):
        check_bands(["F444W", "F277W"], ("jwst_f277w", "jwst_f444w"))
    with pytest.raises(BandError, match="1 band"):
        check_bands(["F444W"], ("jwst_f277w", "jwst_f444w"))

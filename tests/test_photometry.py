"""Photometry: flux↔mag against astropy units, masks, colours, band handling, bad input."""
import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table

from galfast import BandError, CatalogError, CatalogWarning, Photometry, read_catalog
from galfast.photometry import (NOT_DETECTED, NOT_OBSERVED, OBSERVED, Standardizer, adjacent_colours,
                                flux_err_to_mag_err, flux_to_mag, mag_err_to_flux_err, mag_to_flux)


def test_flux_to_mag_matches_astropy_abmag():
    flux = np.array([0.01, 1.0, 3.631e9 / 1e3, 250.0]) * u.uJy
    expected = flux.to(u.ABmag).value
    np.testing.assert_allclose(flux_to_mag(flux), expected, atol=1e-4)  # 23.9 vs 23.9000… zero point
    for unit in (u.nJy, u.Jy, u.mJy):
        np.testing.assert_allclose(flux_to_mag(flux.to_value(unit), unit=unit), expected, atol=1e-4)
    np.testing.assert_allclose(mag_to_flux(expected, u.nJy), flux.to_value(u.nJy), rtol=1e-4)


def test_mag_of_nonpositive_flux_is_nan():
    m = flux_to_mag(np.array([-1.0, 0.0, np.nan, 1.0]))
    assert np.isnan(m[:3]).all() and m[3] == pytest.approx(23.9)


def test_error_propagation_first_order():
    f, e = 10.0, 0.1
    me = flux_err_to_mag_err(f, e)
    # numerical derivative of m(f)
    assert me == pytest.approx(abs(flux_to_mag(f + 1e-6) - flux_to_mag(f - 1e-6)) / 2e-6 * e, rel=1e-6)
    assert mag_err_to_flux_err(flux_to_mag(f), me) == pytest.approx(e, rel=1e-12)


def test_state_mask_distinguishes_missing_and_undetected():
    flux = np.array([[1.0, -99.0, -0.5, 2.0], [np.nan, 0.0, 0.2, 3.0]])
    err = np.array([[0.1, -99.0, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1]])
    p = Photometry.from_arrays(flux, err, ["F444W", "F606W", "F150W", "F090W"], detection_snr=3.0)
    assert p.bands == ("acs_wfc_f606w", "jwst_f090w", "jwst_f150w", "jwst_f444w")
    # columns were re-ordered by wavelength: F606W, F090W, F150W, F444W
    np.testing.assert_array_equal(p.state, [[NOT_OBSERVED, OBSERVED, NOT_DETECTED, OBSERVED],
                                            [NOT_DETECTED, OBSERVED, NOT_DETECTED, NOT_OBSERVED]])
    mag = p.mag()
    assert np.isnan(mag[0, 0]) and np.isnan(mag[0, 2]) and mag[0, 1] == pytest.approx(23.9 - 2.5 * np.log10(2))
    assert np.isfinite(p.flux[1, 0])  # a non-detection keeps its measured flux
    assert np.isnan(p.flux[0, 0])     # not observed has none


def test_colours_adjacent_and_standardizer():
    mags = np.array([[20.0, 21.0, 23.0], [22.0, 22.5, 22.0]])
    np.testing.assert_allclose(adjacent_colours(mags), [[1.0, 2.0], [0.5, -0.5]])
    s = Standardizer().fit(adjacent_colours(mags))
    z = s.transform(adjacent_colours(mags))
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-12)
    s2 = Standardizer.from_dict(s.to_dict())
    np.testing.assert_allclose(s2.inverse_transform(z), adjacent_colours(mags))


def test_units_on_columns_are_honoured():
    t = Table()
    t["jwst_f200w"] = [1000.0, 2000.0] * u.nJy
    t["jwst_f200w_err"] = [100.0, 100.0] * u.nJy
    p = Photometry.from_table(t)
    np.testing.assert_allclose(p.flux[:, 0], [1.0, 2.0])
    np.testing.assert_allclose(p.flux_err[:, 0], [0.1, 0.1])
    assert p.flux_in(u.nJy)[1, 0].to_value(u.nJy) == pytest.approx(2000.0)


def test_column_map_and_aliases():
    t = Table({"my_k": [1.0], "my_k_err": [0.1], "F090W": [2.0], "F090W_err": [0.2]})
    p = Photometry.from_table(t, column_map={"my_k": "F444W"})
    assert p.bands == ("jwst_f090w", "jwst_f444w")
    np.testing.assert_allclose(p.flux[0], [2.0, 1.0])


def test_missing_band_column_names_band_and_file():
    t = Table({"F090W": [2.0], "F090W_err": [0.2]})
    with pytest.raises(CatalogError, match="jwst_f444w.*survey.fits"):
        Photometry.from_table(t, ["F090W", "F444W"], source="survey.fits")


def test_errors_after_read_catalog_name_the_file(tmp_path):
    # read_catalog records the file in table.meta["source"]; from_table quotes it by default
    path = tmp_path / "my_survey.ecsv"
    Table({"F090W": [2.0], "F090W_err": [0.2]}).write(path)
    t = read_catalog(path)
    with pytest.raises(CatalogError, match=r"jwst_f444w.*my_survey\.ecsv"):
        Photometry.from_table(t, ["F090W", "F444W"])
    with pytest.raises(CatalogError, match=r"elsewhere\.fits"):  # an explicit source wins
        Photometry.from_table(t, ["F090W", "F444W"], source="elsewhere.fits")


def test_missing_error_column_named():
    t = Table({"F090W": [2.0]})
    with pytest.raises(CatalogError, match="no error column for flux column 'F090W'"):
        Photometry.from_table(t, ["F090W"])


def test_wrong_dtype_named():
    t = Table({"F090W": ["a", "b"], "F090W_err": [0.1, 0.2]})
    with pytest.raises(CatalogError, match="'F090W'.*not numeric.*row 0 holds 'a'"):
        Photometry.from_table(t, ["F090W"])


def test_wrong_dtype_names_first_bad_row_column_and_file(tmp_path):
    # a CSV whose error column has a stray text value in its third data row
    path = tmp_path / "bad.csv"
    path.write_text("id,F090W,F090W_err,zspec\n1,1.0,0.1,0.5\n2,2.0,0.2,0.6\n"
                    "3,3.0,n/a,0.7\n4,4.0,oops,0.8\n")
    t = read_catalog(path)
    with pytest.raises(CatalogError, match=r"'F090W_err' in .*bad\.csv is not numeric.*row 2 holds 'n/a'"):
        Photometry.from_table(t, ["F090W"])
    t = Table({"F090W": [1.0, 2.0], "F090W_err": [0.1, 0.2], "zspec": ["0.5", "?"]})
    with pytest.raises(CatalogError, match=r"'zspec' is not numeric.*row 1 holds '\?'"):
        Photometry.from_table(t, ["F090W"], z_column="zspec")


def test_unknown_band_is_a_clear_error():
    with pytest.raises(BandError, match="unknown band 'F999X'"):
        Photometry.from_arrays(np.ones((1, 1)), np.ones((1, 1)), ["F999X"])


def test_negative_error_names_band_and_row():
    with pytest.raises(CatalogError, match="jwst_f090w.*row 1"):
        Photometry.from_arrays([[1.0], [1.0]], [[0.1], [-0.1]], ["F090W"])


def test_duplicate_ids_warn_and_keep_rows():
    t = Table({"id": [5, 5, 6], "F090W": [1.0, 2.0, 3.0], "F090W_err": [0.1] * 3})
    with pytest.warns(CatalogWarning, match="occur more than once"):
        p = Photometry.from_table(t)
    assert len(p) == 3
    np.testing.assert_array_equal(p.ids, [5, 5, 6])


def test_select_and_immutability():
    p = Photometry.from_arrays(np.arange(6.0).reshape(3, 2) + 1, np.full((3, 2), 0.1), ["F090W", "F444W"],
                               ids=["a", "b", "c"], z=[0.1, 0.2, 0.3])
    q = p.select([2, 0])
    np.testing.assert_array_equal(q.ids, ["c", "a"])
    np.testing.assert_allclose(q.z, [0.3, 0.1])
    with pytest.raises(ValueError):
        p.flux[0, 0] = 5.0
    r = p.select_bands(["F444W"])
    np.testing.assert_allclose(r.flux[:, 0], [2.0, 4.0, 6.0])
    t = p.to_table()
    assert t.colnames == ["id", "jwst_f090w", "jwst_f090w_err", "jwst_f444w", "jwst_f444w_err", "z"]


def test_shared_catalogue_masks(jwst_catalog_path):
    from galfast.datasets import load_jwst_specz

    # building the masks from -99s and non-positive fluxes, and magnitudes and colours of them,
    # raise no warning (no RuntimeWarning from log10/division; field:ID ids are unique)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        phot = load_jwst_specz(jwst_catalog_path)
        mags, mag_errs, colours = phot.mag(), phot.mag_err(), phot.colours()
    assert len(phot) == 5667
    # README: 490 rows lack F435W (-99); 865 have F435W ≤ 0 counting those -99 rows
    j = phot.bands.index("acs_wfc_f435w")
    assert (phot.state[:, j] == NOT_OBSERVED).sum() == 490
    assert (phot.state[:, j] != OBSERVED).sum() == 865
    assert np.all(np.isnan(mags[phot.state != OBSERVED]))
    assert np.all(np.isfinite(mags[phot.state == OBSERVED]))
    assert np.all(np.isnan(mag_errs[phot.state != OBSERVED]))
    assert colours.shape == (5667, 10)


def test_f_lambda_columns_use_each_bands_effective_wavelength():
    from galfast.bands import effective_wavelength

    bands = ["acs_wfc_f435w", "jwst_f444w"]
    fnu = np.array([[1.0, 3.0]]) * u.uJy
    t = Table()
    for j, b in enumerate(bands):     # the same f_ν expressed as f_λ at each band's own wavelength
        wave = effective_wavelength(b) * u.AA
        flam = fnu[:, j].to(u.erg / u.s / u.cm**2 / u.AA, equivalencies=u.spectral_density(wave))
        t[b] = flam
        t[b + "_err"] = 0.1 * flam
    p = Photometry.from_table(t, bands)
    np.testing.assert_allclose(p.flux[0], [1.0, 3.0], rtol=1e-10)     # one wavelength (1 µm) gave ~5 and ~0.5
    np.testing.assert_allclose(p.flux_err[0], [0.1, 0.3], rtol=1e-10)


def test_non_flux_unit_is_named():
    t = Table({"F444W": [1.0] * u.m, "F444W_err": [0.1] * u.m})
    with pytest.raises(CatalogError, match="'F444W'.*not a flux density"):
        Photometry.from_table(t, ["F444W"])


def test_column_map_as_command_line_strings():
    t = Table({"FLUX_K": [1.0], "FLUX_K_err": [0.1], "F090W": [2.0], "F090W_err": [0.2]})
    p = Photometry.from_table(t, column_map=["FLUX_K=F444W"])
    assert p.bands == ("jwst_f090w", "jwst_f444w")
    with pytest.raises(CatalogError, match="COLUMN=BAND"):
        Photometry.from_table(t, column_map=["FLUX_K"])


def test_missing_band_message_names_the_command_line_option():
    t = Table({"F090W": [2.0], "F090W_err": [0.2]})
    with pytest.raises(CatalogError, match="--column-map your_column=jwst_f444w"):
        Photometry.from_table(t, ["F090W", "F444W"])


def test_row_offset_numbers_rows_of_a_chunk():
    t = Table({"F090W": [1.0, 2.0, 3.0], "F090W_err": [0.1] * 3, "F444W": [1.0] * 3, "F444W_err": [0.1] * 3})
    assert Photometry.from_table(t, row_offset=500).ids.tolist() == [500, 501, 502]
    t["ID"] = [7, 8, 9]
    assert Photometry.from_table(t, row_offset=500).ids.tolist() == [7, 8, 9]


def test_band_sets_are_accepted_as_bands(jwst_phot):
    t = jwst_phot.to_table()
    p = Photometry.from_table(t, "jwst_hst")
    assert p.bands == jwst_phot.bands and len(p.bands) == 11
    assert Photometry.from_table(t, ["jwst_hst"]).bands == p.bands
    assert jwst_phot.select_bands(["jwst_hst"]).bands == p.bands


def test_nulls_and_text_numbers_are_not_observed_not_errors(tmp_path):
    import pandas as pd

    df = pd.DataFrame({"id": [10, 11, 12, 13], "F444W": [1.0, np.nan, 2.0, 3.0],
                       "F444W_err": [0.1, 0.1, np.nan, 0.1], "F150W": [1.0, 1.0, 1.0, 1.0],
                       "F150W_err": [0.1] * 4})
    df.to_parquet(tmp_path / "somenan.parquet")
    df.to_csv(tmp_path / "somenan.csv", index=False)
    for name in ("somenan.parquet", "somenan.csv"):
        p = Photometry.from_table(read_catalog(tmp_path / name))
        assert p.ids.tolist() == [10, 11, 12, 13]
        j = p.bands.index("jwst_f444w")
        assert p.state[:, j].tolist() == [OBSERVED, NOT_OBSERVED, NOT_OBSERVED, OBSERVED]
    text = Table({"F444W": ["1.5", "nan", "", "2"], "F444W_err": ["0.1"] * 4})
    p = Photometry.from_table(text)
    np.testing.assert_array_equal(p.state[:, 0], [OBSERVED, NOT_OBSERVED, NOT_OBSERVED, OBSERVED])


def test_big_endian_fits_photometry_is_native(tmp_path):
    t = Table({"id": np.arange(4, dtype=">i8"), "F444W": np.ones(4, ">f4"), "F444W_err": np.full(4, 0.1, ">f4")})
    t.write(tmp_path / "be.fits")
    p = Photometry.from_table(read_catalog(tmp_path / "be.fits"))
    assert p.flux.dtype.isnative and p.ids.dtype.isnative
    p2 = Photometry.from_table(t)   # a big-endian table given directly
    assert p2.ids.dtype.isnative

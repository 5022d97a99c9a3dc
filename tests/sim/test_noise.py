"""galfast.sim.noise (no bagpipes needed): depths, error tables measured on catalogues, pulls."""
import numpy as np
import pytest

from galfast.errors import BandError, CatalogError
from galfast.photometry import mag_to_flux
from galfast.sim import DEPTH_PRESETS, ErrorTable, add_noise, error_table
from galfast.sim.noise import _LN10_25
from galfast.validation import ParameterError


def test_sources_at_the_5sigma_depth_are_detected_half_the_time():
    table = error_table("lsst_10yr", ["lsst_baseline_r"])
    f5 = 10 ** (-0.4 * (DEPTH_PRESETS["lsst_10yr"]["lsst_baseline_r"] - 23.9))
    rng = np.random.default_rng(0)
    flux, err = add_noise(np.full((40000, 1), f5), ["lsst_baseline_r"], table,
                          rng.standard_normal((40000, 1)))
    assert np.all(err == pytest.approx(f5 / 5, rel=1e-12))
    assert table.depth("lsst_baseline_r") == pytest.approx(DEPTH_PRESETS["lsst_10yr"]["lsst_baseline_r"])
    frac = np.mean(flux / err > 5)
    assert abs(frac - 0.5) < 3 * 0.5 / np.sqrt(40000)


def test_error_table_interpolates_constant_sigma_when_faint_constant_snr_when_bright():
    tab = ErrorTable.from_table({"F150W": ([26.0, 24.0, 28.0], [0.2, 0.05, 1.0])})
    flux = 10 ** (-0.4 * (np.array([24.0, 26.0, 28.0]) - 23.9))
    np.testing.assert_allclose(tab.sigma("jwst_f150w", flux), flux * np.array([0.05, 0.2, 1.0]) * _LN10_25)
    sig_faint = 10 ** (-0.4 * (28.0 - 23.9)) * _LN10_25
    np.testing.assert_allclose(tab.sigma("jwst_f150w", [1e-6, 0.0, -1.0]), sig_faint)
    np.testing.assert_allclose(tab.sigma("jwst_f150w", [1e3, 1e4]), np.array([1e3, 1e4]) * 0.05 * _LN10_25)
    mid = 10 ** (-0.4 * (25.0 - 23.9))
    expect = np.exp(0.5 * (np.log(flux[0] * 0.05 * _LN10_25) + np.log(flux[1] * 0.2 * _LN10_25)))
    assert tab.sigma("F150W", [mid])[0] == pytest.approx(expect)


def test_presets_and_bad_arguments():
    assert len(DEPTH_PRESETS["jwst_deep"]) == 11 and len(DEPTH_PRESETS["gama"]) == 21
    assert all(28.5 <= m <= 29.5 for m in DEPTH_PRESETS["jwst_deep"].values())
    with pytest.raises(BandError, match="jwst_f150w"):
        error_table("lsst_10yr", ["F150W"])
    with pytest.raises(ParameterError, match="unknown depth preset"):
        error_table("nope", ["F150W"])
    with pytest.raises(ParameterError, match="depths must be"):
        error_table(28.0, ["F150W"])
    with pytest.raises(ParameterError, match="F150W"):
        ErrorTable.from_table({"F150W": ([25.0, 26.0], [0.1, -0.2])})
    tab = error_table({"F150W": 28.0}, ["jwst_f150w"])
    assert tab.depth("F150W") == pytest.approx(28.0)
    assert tab.depth("F150W", snr=10) == pytest.approx(28.0 - 2.5 * np.log10(2))


def test_error_table_measured_on_the_jwst_catalogue(jwst_phot):
    tab = ErrorTable.from_photometry(jwst_phot)
    assert tab.bands == jwst_phot.bands
    for j, band in enumerate(jwst_phot.bands):
        f, e = jwst_phot.flux[:, j], jwst_phot.flux_err[:, j]
        mag = -2.5 * np.log10(np.where(f > 0, f, np.nan)) + 23.9
        for m0 in (25.0, 27.0):
            sel = (jwst_phot.state[:, j] == 0) & (mag > m0) & (mag < m0 + 0.25)
            if sel.sum() >= 10:     # the curve reproduces the catalogue's median error there
                assert tab.sigma(band, [mag_to_flux(m0 + 0.125)])[0] == pytest.approx(np.median(e[sel]), rel=1e-9)
        # faint end: background limited, 5σ depth in the 28–30 AB range of deep fields
        assert 27.5 < tab.depth(band) < 30.5
    # the catalogue has an error floor: bright sources' S/N is capped near 20–30
    f24 = mag_to_flux(24.0)
    assert f24 / tab.sigma("jwst_f444w", [f24])[0] < 40
    with pytest.raises(CatalogError, match="acs_wfc_f435w"):
        ErrorTable.from_photometry(jwst_phot.select(np.arange(5)))


def test_error_table_from_a_catalogue_file_with_a_column_map(tmp_path, jwst_catalog_path, jwst_phot):
    import warnings

    from galfast.catalog import read_catalog, write_catalog

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # the catalogue repeats ids across its fields
        whole = ErrorTable.from_catalog(jwst_catalog_path, "jwst_hst")
        ref = ErrorTable.from_photometry(jwst_phot)
        assert whole.bands == ref.bands
        for a, b in zip(whole.mag_errs, ref.mag_errs):
            np.testing.assert_array_equal(a, b)
        t = read_catalog(jwst_catalog_path)
        t.rename_columns(["f444w", "f444w_err"], ["FLUX_444", "FLUX_444_err"])
        renamed = write_catalog(t, tmp_path / "renamed.parquet")
        with pytest.raises(CatalogError, match="--column-map"):
            ErrorTable.from_catalog(renamed, ["F150W", "F444W"])
        tab = ErrorTable.from_catalog(renamed, ["F150W", "F444W"], column_map=["FLUX_444=F444W"])
    np.testing.assert_array_equal(tab.mag_errs[1], ref.mag_errs[ref.bands.index("jwst_f444w")])
    few = write_catalog(t[:8], tmp_path / "few.parquet")
    with pytest.raises(CatalogError, match=r"few\.parquet: only \d detected"):     # the file is named
        ErrorTable.from_catalog(few, ["F150W"])


def test_error_table_mixes_depths_and_curves():
    tab = ErrorTable.from_table({"F150W": ([24.0, 28.0], [0.02, 0.5]), "F444W": 28.0})
    assert tab.depth("F444W") == pytest.approx(28.0)
    np.testing.assert_allclose(tab.sigma("F444W", [1e-3, 1.0, 100.0]), mag_to_flux(28.0) / 5)
    with pytest.raises(ParameterError, match="F277W"):
        ErrorTable.from_table({"F277W": "deep"})

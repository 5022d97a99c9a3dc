"""simulate_cutouts: determinism, truths consistent with the components, the dust imprint, S/N cut, files."""
import numpy as np
import pytest

from galfast.errors import BandError
from galfast.images import MockPriors, read_cutouts, simulate_cutouts
from galfast.images.mock import effective_attenuation
from galfast.validation import ParameterError


def test_shapes_and_truth_columns(small_mock):
    assert small_mock.images.shape == (24, 3, 32, 32)
    assert small_mock.images.dtype == np.float32
    assert small_mock.bands == ("jwst_f277w", "jwst_f356w", "jwst_f444w")
    t = small_mock.table
    for c in ("id", "z", "av", "ebv", "rv", "log_ssfr", "snr_jwst_f277w", "jwst_f444w", "jwst_f444w_err"):
        assert c in t.colnames
    assert np.array_equal(t["id"], np.arange(24))
    assert np.all((t["z"] >= 6) & (t["z"] <= 8))


def test_same_rows_whatever_n_chunks_and_jobs(small_mock):
    other = simulate_cutouts(10, seed=5, chunk_rows=3, n_jobs=2, progress=False)
    assert np.array_equal(other.images, small_mock.images[:10])
    assert np.allclose(other.table["av"], small_mock.table["av"][:10])
    diff = simulate_cutouts(3, seed=6, progress=False)
    assert not np.array_equal(diff.images, small_mock.images[:3])


def test_flux_weighted_attenuation_from_components(small_mock):
    t = small_mock.table
    comps = ("bulge", "disc", "clumps")
    a = np.column_stack([t[f"av_{c}"] for c in comps])
    wv = np.column_stack([t[f"wv_{c}"] for c in comps])
    assert np.allclose(wv.sum(1), 1.0)
    assert np.allclose(t["av"], effective_attenuation(wv, a))
    # the integrated A_V lies between the components' and E(B−V) > 0 with R_V near Calzetti's
    assert np.all(t["av"] <= a.max(1) + 1e-9) and np.all(t["av"] >= a.min(1) - 1e-9)
    assert np.all(t["ebv"] > 0)
    assert np.all(np.abs(t["rv"] - 4.05) < 1.5)
    # dust concentrated in the centre (bulge) and the clumps
    assert np.all(t["av_bulge"] >= t["av_disc"]) and np.all(t["av_clumps"] >= t["av_disc"])


def test_central_dust_leaves_a_colour_gradient():
    """Same galaxies, same noise: only the bulge screen differs → the centre is redder (F277W − F444W),
    the outskirts hardly change."""
    base = dict(log_mstar=(10.2, 10.2), av_disc=(0.3, 0.3), re_disc=(0.35, 0.35), av_clump_boost=(1, 1),
                bulge_fraction=(0.5, 0.5), n_clumps=(0, 0))
    flat = simulate_cutouts(6, priors=MockPriors(**base, av_bulge_boost=(1, 1)), seed=3, progress=False)
    dusty = simulate_cutouts(6, priors=MockPriors(**base, av_bulge_boost=(5, 5)), seed=3, progress=False)
    yy, xx = np.mgrid[:32, :32] - 15.5
    r = np.hypot(xx, yy)

    def colour(s, sel):
        f = s.images[:, :, sel].sum(-1)
        return -2.5 * np.log10(f[:, 0] / f[:, 2])
    centre, outer = r < 2.5, (r > 5) & (r < 9)
    d_centre = colour(dusty, centre) - colour(flat, centre)
    d_outer = colour(dusty, outer) - colour(flat, outer)
    assert np.all(d_centre > 0.05)
    assert np.mean(d_centre) > 2 * np.mean(np.abs(d_outer))
    assert np.all(dusty.table["av"] > flat.table["av"])


def test_snr_cut_keeps_ids_of_the_full_run(small_mock):
    cut = simulate_cutouts(24, seed=5, snr_cut=5.0, progress=False)
    keep = np.asarray(small_mock.table["snr_min"]) >= 5
    assert np.array_equal(cut.ids, small_mock.ids[keep])
    assert np.all(cut.table["snr_min"] >= 5)
    assert np.array_equal(cut.images, small_mock.images[keep])


def test_fits_stack_round_trip_and_resume(tmp_path, small_mock):
    out = tmp_path / "m.fits"
    s = simulate_cutouts(8, seed=5, chunk_rows=4, out=out, progress=False)
    back = read_cutouts(out)
    assert np.array_equal(back.images, small_mock.images[:8])
    assert np.array_equal(back.ids, np.arange(8)) and back.bands == small_mock.bands
    assert np.allclose(back.table["av"], small_mock.table["av"][:8])
    assert "GFIMGCFG" in back.table.meta and np.array_equal(s.images, back.images)
    with pytest.raises(FileExistsError):
        simulate_cutouts(8, seed=5, out=out, progress=False)


def test_bad_arguments():
    with pytest.raises(ParameterError, match="size"):
        simulate_cutouts(2, size=48, progress=False)
    with pytest.raises(BandError):
        simulate_cutouts(2, bands=["F277W", "F277W"], progress=False)
    with pytest.raises(ParameterError, match="z"):
        MockPriors(z=(9, 12))
    with pytest.raises(ParameterError, match="FITS"):
        simulate_cutouts(2, out="x.npz", progress=False)

"""The bundled demo catalogue: content without bagpipes, regeneration by its documented command."""
import numpy as np
import pytest

from galfast.bands import JWST_HST_BANDS
from galfast.datasets import demo_catalog_path, load_demo_catalog
from galfast.sim.noise import DEPTH_PRESETS
from galfast.sim.runner import TRUTH_COLUMNS


def test_demo_catalogue_content():
    import pyarrow.parquet as pq

    path = demo_catalog_path()
    assert path.stat().st_size < 8e6
    schema = pq.read_schema(path)
    t = load_demo_catalog()
    assert len(t) >= 20000
    assert list(t["id"]) == list(range(len(t)))
    for band in JWST_HST_BANDS:
        assert str(schema.field(band).type) == "float" and str(schema.field(f"{band}_err").type) == "float"
        err = np.asarray(t[f"{band}_err"], float)
        f5 = 10 ** (-0.4 * (DEPTH_PRESETS["jwst_deep"][band] - 23.9))
        np.testing.assert_allclose(err, f5 / 5, rtol=1e-6)       # background-limited jwst_deep
        flux = np.asarray(t[band], float)
        assert np.all(np.isfinite(flux)) and np.any(flux < 0)
    for col in TRUTH_COLUMNS:
        assert np.all(np.isfinite(np.asarray(t[col], float))), col
    z = np.asarray(t["z"], float)
    assert 0 < z.min() and z.max() < 7
    assert np.histogram(z, bins=7, range=(0, 7))[0].min() > 0.1 * len(t) / 7
    # the red bands detect most galaxies, the blue HST band fewer (Lyman break, dust)
    snr = {b: np.asarray(t[b], float) / np.asarray(t[f"{b}_err"], float) for b in JWST_HST_BANDS}
    assert np.mean(snr["jwst_f444w"] > 5) > 0.9 > np.mean(snr["acs_wfc_f435w"] > 5)


def test_demo_catalogue_is_regenerated_by_its_documented_command():
    pytest.importorskip("bagpipes", reason="bagpipes (galfast[sim]) is not installed")
    from galfast.sim import Priors, simulate

    # galfast simulate --n 20000 --bands jwst_hst --depths jwst_deep --z 0.01 7 --seed 1 …
    head = simulate(300, JWST_HST_BANDS, depths="jwst_deep", priors=Priors(z=(0.01, 7.0)), seed=1,
                    progress=False)
    t = load_demo_catalog()
    for col in head.colnames:
        np.testing.assert_array_equal(np.asarray(t[col])[:300], np.asarray(head[col]), err_msg=col)

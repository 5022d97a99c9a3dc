"""Catalogue figures: built without pyplot state or a backend change, drawing the data given."""
import numpy as np
import pytest

from galfast.plots import colour_redshift_figure, histograms_figure


def test_figures_draw_the_data_and_keep_the_backend(jwst_phot, tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    fig = colour_redshift_figure(jwst_phot, [("jwst_f150w", "jwst_f277w")])
    counts = fig.axes[0].collections[0].get_array()
    m = jwst_phot.mag()
    j1, j2 = jwst_phot.bands.index("jwst_f150w"), jwst_phot.bands.index("jwst_f277w")
    c = m[:, j1] - m[:, j2]
    inside = np.isfinite(c) & (c >= -1.5) & (c <= 3.5) & (jwst_phot.z <= 7)
    assert abs(counts.sum() - inside.sum()) <= 0.002 * inside.sum()    # the usable objects are binned
    fig.savefig(tmp_path / "cz.png")
    t = jwst_phot.to_table()
    h = histograms_figure(t, ["z", "jwst_f444w"])
    assert h.axes[1].get_xlabel() == "jwst_f444w [uJy]"
    assert sum(p.get_height() for p in h.axes[0].patches) == len(t)
    assert matplotlib.get_backend() == before
    assert (tmp_path / "cz.png").read_bytes()[:4] == b"\x89PNG"


def test_colour_redshift_needs_redshifts(jwst_phot):
    from galfast import Photometry

    no_z = Photometry(jwst_phot.bands, jwst_phot.flux, jwst_phot.flux_err, jwst_phot.state, jwst_phot.ids)
    with pytest.raises(ValueError, match="redshifts"):
        colour_redshift_figure(no_z, [("jwst_f150w", "jwst_f277w")])

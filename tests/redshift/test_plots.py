"""Photo-z plots (galfast.redshift.plots) and the photo-z section of ``galfast demo`` write their
PNGs without touching matplotlib's backend (a notebook user's backend stays theirs)."""
import numpy as np
import pytest

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def foreign_backend():
    """A backend other than Agg, as a notebook would have, restored afterwards."""
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("svg")
    yield "svg"
    matplotlib.use(before)


def test_plot_photoz_keeps_the_backend(tmp_path, foreign_backend):
    """#8: plot_photoz called matplotlib.use("Agg") inside the library."""
    import matplotlib

    from galfast.redshift.plots import plot_photoz

    rng = np.random.default_rng(0)
    zs = rng.uniform(0, 6, 500)
    zp = zs + rng.normal(0, 0.05, 500) * (1 + zs)
    zp[:10] = 5.5 - zs[:10]                      # a few outliers
    path = plot_photoz(zp, zs, tmp_path / "sub" / "pz.png", z_err=np.full(500, 0.1), title="t")
    assert matplotlib.get_backend() == foreign_backend
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 10_000
    plot_photoz(zp, zs, tmp_path / "noerr.png")  # without errors: one column of panels
    assert (tmp_path / "noerr.png").read_bytes()[:8] == PNG


def test_demo_sections_keep_the_backend(tmp_path, foreign_backend):
    """The photo-z section of `galfast demo` and the demo's catalogue section (galfast/demo.py)."""
    import matplotlib

    from galfast.datasets import load_demo_catalog
    from galfast.demo import catalogue_section
    from galfast.redshift.demo import photoz_section

    table = load_demo_catalog()[:4000]
    text = photoz_section(table, tmp_path)
    assert "σ_NMAD" in text and "![photo-z](photoz.png)" in text
    catalogue_section(table, tmp_path)
    assert matplotlib.get_backend() == foreign_backend
    for name in ("photoz.png", "colour_redshift.png", "property_distributions.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG

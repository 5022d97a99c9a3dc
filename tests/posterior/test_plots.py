"""The reliability diagram and residual figures are written without touching matplotlib's backend."""
import matplotlib

from galfast.posterior.plots import plot_calibration, plot_residuals


def test_figures_are_written(trained, held_out, tmp_path):
    backend = matplotlib.get_backend()
    cal = trained.chi2_calibration(held_out, held_out)
    p = plot_calibration(cal, tmp_path / "calibration.png")
    assert p.stat().st_size > 5000 and p.read_bytes()[:4] == b"\x89PNG"
    r = trained.residuals(held_out, held_out)
    q = plot_residuals(r, trained.bands_, tmp_path / "residuals.png")
    assert q.stat().st_size > 5000
    assert matplotlib.get_backend() == backend

"""galfast.props.demo: the properties section of ``galfast demo``."""
import matplotlib
import numpy as np

from galfast.datasets import load_demo_catalog
from galfast.props.demo import props_section


def test_props_section_scores_held_out_rows_and_writes_its_figure(tmp_path):
    backend = matplotlib.get_backend()
    md = props_section(load_demo_catalog()[:1000], tmp_path, n_jobs=1, epochs=15)
    assert matplotlib.get_backend() == backend                     # no matplotlib.use in library code
    png = tmp_path / "props_true_vs_pred.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "scored on 200 held-out rows" in md
    rows = [line for line in md.splitlines() if line.startswith("| log_mstar |")]
    assert len(rows) == 1
    r2 = float(rows[0].split("|")[6])
    assert np.isfinite(r2) and r2 > 0.5                            # stellar mass is learnt even so


def test_props_section_skips_a_catalogue_without_truths(tmp_path):
    t = load_demo_catalog()[:50]
    t.remove_columns(["log_mstar", "log_sfr", "av"])
    assert "skipped" in props_section(t, tmp_path)

"""The images section of galfast demo (demo-sized: a few cut-outs, two epochs)."""
from galfast.images.demo import images_section


def test_images_section_writes_report_and_pictures(tmp_path):
    md = images_section(None, tmp_path, n=30, epochs=2)
    assert "## Dust from images" in md and "| av |" in md
    for name in ("images_cutouts.png", "images_true_vs_pred.png"):
        assert (tmp_path / name).stat().st_size > 1000

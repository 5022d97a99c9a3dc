"""``galfast photoz`` on catalogue files: streamed chunks, one row out per row in, ids kept."""
import warnings

import numpy as np
import pytest

from galfast.catalog import read_catalog, write_catalog
from galfast.cli import main
from galfast.redshift import BANDS_SHIFT, FLAG_MISSING_BANDS, FLAG_NO_ESTIMATE, KLLRPhotoZ

BANDS = ["f435w", "f606w", "f814w", "f090w", "f115w", "f150w", "f200w", "f277w", "f356w", "f410m",
         "f444w"]


@pytest.fixture(scope="module")
def files(tmp_path_factory, jwst_catalog_path):
    """A training file (FITS, 4,000 spec-z rows) and a 200,000-row target Parquet file built by
    resampling the remaining rows with 0.03 mag of noise (missing bands and non-detections kept)."""
    d = tmp_path_factory.mktemp("photoz_cli")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = read_catalog(jwst_catalog_path, format="ascii")
    z = np.asarray(t["zspec"])
    t = t[(z != -99) & (z <= 7)]
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(t))
    train, rest = t[perm[:4000]], t[perm[4000:]]
    write_catalog(train, d / "train.fits")
    n = 200_000
    pick = rng.integers(0, len(rest), n)
    target = rest[pick]
    target["obj"] = np.arange(n) * 7 + 3  # ids that are not row numbers
    for b in BANDS:
        f = np.asarray(target[b], dtype=float)
        ok = f > 0
        target[b] = np.where(ok, f * 10 ** (-0.4 * rng.normal(0, 0.03, n)), f)
    target["f150w"][:5] = -99.0  # not observed
    for b in BANDS:              # a row with one band only: no estimate, still a row out
        target[b][5] = -99.0
    target["f444w"][5] = 1.0
    target["f444w_err"][5] = 0.1
    write_catalog(target["obj", *[c for b in BANDS for c in (b, b + "_err")], "zspec"], d / "target.parquet")
    return d


def test_cli_streams_every_row_with_ids(files):
    out = files / "out.parquet"
    rc = main(["photoz", "--train", str(files / "train.fits"), "--target", str(files / "target.parquet"),
               "--bands", *BANDS, "--id-column", "obj", "--out", str(out), "--chunk-rows", "30000",
               "--save-model", str(files / "model.npz"), "--no-progress", "--plot",
               "--target-z-column", "zspec"])
    assert rc == 0
    res = read_catalog(out)
    assert res.colnames == ["id", "z_phot", "z_phot_err", "flags", "n_bands_used", "n_neighbours"]
    assert len(res) == 200_000
    np.testing.assert_array_equal(res["id"], np.arange(200_000) * 7 + 3)
    flags = np.asarray(res["flags"])
    assert (flags[:5] & FLAG_MISSING_BANDS).all() and (np.asarray(res["n_bands_used"])[:5] <= 10).all()
    assert not ((flags[:5] >> (BANDS_SHIFT + BANDS.index("f150w"))) & 1).any()  # f150w not used
    assert flags[5] & FLAG_NO_ESTIMATE and np.isnan(res["z_phot"][5])
    assert np.isfinite(res["z_phot"]).mean() > 0.999
    assert (files / "out.png").exists()
    # the streamed result equals the in-memory estimator on the same rows
    model = KLLRPhotoZ.load(files / "model.npz")
    from galfast.photometry import Photometry

    tgt = read_catalog(files / "target.parquet")[:3000]
    phot = Photometry.from_table(tgt, BANDS, id_column="obj")
    r = model.predict_full(phot.mag(), bands=phot.bands)
    np.testing.assert_array_equal(r["z"], np.asarray(res["z_phot"][:3000]))
    np.testing.assert_array_equal(r["flags"], flags[:3000])
    # accuracy on the resampled spec-z galaxies (noise added): a sanity level, not the protocol
    dz = (np.asarray(res["z_phot"]) - np.asarray(tgt_z := read_catalog(files / "target.parquet", columns=["zspec"])["zspec"])) / (1 + tgt_z)
    assert np.nanmean(np.abs(dz) > 0.15) < 0.12


def test_cli_with_saved_model_csv_output_and_errors(files, capsys):
    out = files / "out.csv"
    small = files / "small.ecsv"
    write_catalog(read_catalog(files / "target.parquet")[:500], small)
    assert main(["photoz", "--model", str(files / "model.npz"), "--target", str(small),
                 "--id-column", "obj", "--out", str(out), "--no-progress"]) == 0
    res = read_catalog(out)
    assert len(res) == 500 and np.asarray(res["id"]).tolist() == (np.arange(500) * 7 + 3).tolist()
    # exists without --overwrite
    assert main(["photoz", "--model", str(files / "model.npz"), "--target", str(small),
                 "--out", str(out), "--no-progress"]) == 1
    assert "exists" in capsys.readouterr().err
    # a band the target lacks
    assert main(["photoz", "--train", str(files / "train.fits"), "--target", str(small),
                 "--bands", *BANDS[:-1], "F770W", "--out", str(files / "x.csv"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "f770w" in err.lower() and "train.fits" in err
    # a corrupted model file
    (files / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["photoz", "--model", str(files / "bad.npz"), "--target", str(small),
                 "--out", str(files / "y.csv"), "--no-progress"]) == 1
    assert "not a readable galfast photo-z model" in capsys.readouterr().err

"""Every public entry point, fed hostile catalogues and photometry (tests/fuzz/strategies.py):
one output row per input row with the right flags, or a galfast error (galfast.errors) naming
the column, row or file — never another exception type, never a silent drop.

``make test`` runs a few examples per entry point; ``make fuzz`` runs
$GALFAST_FUZZ_EXAMPLES (10,000) each.
"""
import functools
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from galfast import GalfastError, Photometry, flags, read_catalog
from galfast.photometry import NOT_OBSERVED

from .strategies import BANDS, catalogues, mag_arrays

EXAMPLES = int(os.environ.get("GALFAST_FUZZ_EXAMPLES", 15))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 50,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def named(exc, table=None, path=None, words=()):
    """The error names a column of the table, a band, a row, the file (or, for an argument, the
    parameter: ``words``)."""
    msg = str(exc)
    words = ["row", "column", "band", "catalogue", "photometry", "file", "id", *words]
    if table is not None:
        words += list(table.colnames)
    if path is not None:
        words.append(str(path))
    return any(w and w in msg for w in words)


def outcome(fn, *args, table=None, path=None, words=(), **kwargs):
    """fn's result, or None after a galfast error that names what is wrong (else the test fails)."""
    try:
        result = _quiet(fn, *args, **kwargs)
    except GalfastError as exc:
        assert named(exc, table, path, words), f"{type(exc).__name__} names nothing: {exc}"
        event(f"{getattr(fn, '__name__', 'call')}: {type(exc).__name__}")
        return None
    event(f"{getattr(fn, '__name__', 'call')}: result")
    return result


def check_flags(values, fl):
    """NaN exactly where the no_estimate flag is set; flags int64."""
    fl = np.asarray(fl)
    assert fl.dtype == np.int64
    no = (fl & flags.NO_ESTIMATE) != 0
    np.testing.assert_array_equal(~np.isfinite(np.asarray(values, dtype=float)), no)


@functools.lru_cache(maxsize=None)
def photoz_model():
    from galfast import KLLRPhotoZ
    from galfast.datasets import load_demo_catalog

    t = load_demo_catalog()[:1500]
    return _quiet(KLLRPhotoZ().fit, Photometry.from_table(t, BANDS, z_column="z"))


@functools.lru_cache(maxsize=None)
def props_model():
    from galfast import PropertyRegressor
    from galfast.datasets import load_demo_catalog

    reg = PropertyRegressor(targets=("log_mstar",), bands=BANDS, hidden=(8,), epochs=2, patience=2,
                            n_jobs=1, random_state=0)
    return _quiet(reg.fit, load_demo_catalog()[:300])


@functools.lru_cache(maxsize=None)
def model_files(folder):
    folder = Path(folder)
    return photoz_model().save(folder / "pz.safetensors"), props_model().save(folder / "pp.safetensors")


# ------------------------------------------------------------------------------ Photometry.from_table
@FUZZ
@given(catalogues())
def test_photometry_from_table(table):
    phot = outcome(Photometry.from_table, table, BANDS, table=table)
    if phot is None:
        return
    n = table.meta["n"]
    assert len(phot) == n and phot.flux.shape == (n, len(BANDS))
    bad = ~np.isfinite(phot.flux) | ~np.isfinite(phot.flux_err)
    assert (phot.state[bad] == NOT_OBSERVED).all()          # no NaN/inf left as "observed"
    assert not (phot.flux_err[phot.state != NOT_OBSERVED] < 0).any()


# ------------------------------------------------------------------------------ read_catalog
FORMATS = (".parquet", ".csv", ".fits", ".ecsv", ".txt")


@FUZZ
@given(catalogues(), st.sampled_from(FORMATS), st.sampled_from(["whole", "empty", "truncated", "dup"]))
def test_read_catalog(tmp_path_factory, table, suffix, damage):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path_factory.mktemp("rc") / f"cat{suffix}"
    n = table.meta["n"]
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "dup" and table.colnames:      # a duplicate column name, as other writers allow
        if suffix == ".parquet":
            arrays = [pa.array(np.arange(n, dtype=float)), pa.array(np.ones(n))]
            pq.write_table(pa.Table.from_arrays(arrays, names=["F150W", "F150W"]), path)
        else:
            path.write_text("F150W,F150W,F150W_err\n" + "".join(f"{i},1,0.1\n" for i in range(n)))
    else:
        try:
            _quiet(table.write, path, format={".parquet": "parquet", ".csv": "ascii.csv",
                                              ".fits": "fits", ".ecsv": "ascii.ecsv",
                                              ".txt": "ascii.basic"}[suffix], overwrite=True)
        except Exception:      # a table astropy cannot write in that format: nothing to read
            return
        if damage == "truncated":
            data = path.read_bytes()
            path.write_bytes(data[: len(data) * 2 // 3])
    try:
        back = _quiet(read_catalog, path)
    except GalfastError as exc:
        assert str(path) in str(exc), f"{type(exc).__name__} does not name the file: {exc}"
        return
    if damage == "whole":
        assert len(back) == n                  # every row read, none dropped
    elif damage == "dup" and suffix == ".parquet":
        assert len(back) == n


# ------------------------------------------------------------------------------ the models
@FUZZ
@given(catalogues(), st.sampled_from(["error", "mask"]))
def test_kllr_photoz_predict_table(table, missing_bands):
    model = photoz_model()
    phot = outcome(model.to_photometry, table, missing_bands=missing_bands, table=table)
    if phot is None:
        return
    out = outcome(model.predict_table, phot, missing_bands=missing_bands, table=table)
    if out is None:
        return
    assert len(out) == table.meta["n"]
    np.testing.assert_array_equal(out["id"], phot.ids)
    check_flags(out["z_phot"], out["flags"])


@FUZZ
@given(catalogues(z=True), st.sampled_from(["error", "mask"]), st.sampled_from([None, "mag"]))
def test_property_regressor_predict_table(table, missing_bands, kind):
    out = outcome(props_model().predict_table, table, missing_bands=missing_bands, input=kind, table=table)
    if out is None:
        return
    assert len(out) == table.meta["n"]
    check_flags(out["log_mstar"], out["flags"])


@FUZZ
@given(mag_arrays(4, min_rows=1, max_rows=8), st.lists(st.one_of(st.floats(0, 7), st.sampled_from(
    [np.nan, np.inf, -99.0, -1.0])), min_size=8, max_size=8), mag_arrays(4),
       st.sampled_from([None, list(BANDS), ["F150W", "F090W", "F277W", "F444W"], ["F150W", "x", "y", "z"]]))
def test_photoz_function(train, z, target, bands):
    from galfast import photoz

    train_z = np.array(z[: len(train)])
    res = outcome(photoz, train, train_z, target, bands=bands, words=("k=", "train", "target"))
    if res is None:
        return
    zp, ze, fl = res
    assert len(zp) == len(ze) == len(fl) == len(target)
    check_flags(zp, fl)


@FUZZ
@given(catalogues(z=True))
def test_kllr_photoz_fit(table):
    from galfast import KLLRPhotoZ

    phot = outcome(Photometry.from_table, table, BANDS, z_column="z", table=table)
    if phot is None:
        return
    est = outcome(KLLRPhotoZ(k=1).fit, phot, table=table)
    if est is not None:
        out = _quiet(est.predict_table, phot)
        assert len(out) == len(phot)
        check_flags(out["z_phot"], out["flags"])


@FUZZ
@given(st.integers(-2, 4), st.sampled_from([None, "jwst_hst", ["F150W", "F444W"], ["f150w", "F150W"],
                                           ["nope"], [], "F150W,F444W"]),
       st.sampled_from([0.0, 0.5, -0.1, 1.0, np.nan]), st.sampled_from([0, 1, -1]),
       st.sampled_from(["float32", "float64", "int8"]))
def test_simulate(n, bands, missing_fraction, seed, dtype):
    from galfast import simulate

    t = outcome(simulate, n, bands, missing_fraction=missing_fraction, seed=seed, dtype=dtype,
                progress=False, words=("n ", "seed", "missing_fraction", "dtype", "bands"))
    if t is not None:
        assert len(t) == n


# ------------------------------------------------------------------------------ the command lines
@FUZZ
@given(catalogues(z=True), st.sampled_from([".parquet", ".csv"]), st.sampled_from(["photoz", "props"]))
def test_clis(tmp_path_factory, table, suffix, which):
    from galfast.cli import main

    d = tmp_path_factory.mktemp("cli")
    pz, pp = model_files(str(tmp_path_factory.getbasetemp()))
    path = d / f"cat{suffix}"
    try:
        _quiet(table.write, path, format="parquet" if suffix == ".parquet" else "ascii.csv")
    except Exception:
        return
    out = d / "out.parquet"
    head = ["photoz", "--model", str(pz)] if which == "photoz" else ["props", "predict", "--model", str(pp)]
    rc = _quiet(main, head + ["--catalog", str(path), "--out", str(out), "--no-progress",
                              "--missing-bands", "mask"])
    assert rc in (0, 1)
    event(f"exit status {rc}")
    if rc == 0:
        assert len(read_catalog(out)) == table.meta["n"]

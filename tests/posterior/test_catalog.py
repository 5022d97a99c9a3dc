"""Catalogue posteriors: one row per input row in order with ids, summaries that contain the
truth, flags for rows that cannot be sampled, a failed-diagnostics object re-run and flagged,
per-object seeds independent of chunking, the stream, worker processes, NetCDF draws."""
import numpy as np
import pytest

pytest.importorskip("nutpie")

from galfast import flags  # noqa: E402
from galfast.photometry import Photometry  # noqa: E402
from galfast.posterior.catalog import SUMMARY_QUANTILES, PosteriorFitter, fit  # noqa: E402
from galfast.validation import ParameterError  # noqa: E402

SMALL_RUN = dict(chains=4, tune=300, draws=300, progress=False)


@pytest.fixture(scope="module")
def summary(trained, sampler, four):
    fitter = PosteriorFitter(trained, sampler=sampler, retry_tune=0, **SMALL_RUN)
    return fitter.predict_table(fitter.to_photometry(four))


def test_one_row_per_input_row_with_truth_inside(trained, four, summary):
    assert len(summary) == len(four) and list(summary["id"]) == list(four["id"])
    f = summary["flags"]
    assert flags.has(f, "no_estimate")[4] and flags.has(f, "too_few_bands")[4]
    assert np.isnan(summary["log_mstar_median"][4]) and summary["n_bands_used"][4] == 0
    assert flags.has(f, "missing_bands")[3] and summary["n_bands_used"][3] == 2
    assert not flags.has(f, "no_estimate")[:4].any()
    truth = trained.theta_array(four)
    inside = 0
    for j, p in enumerate(trained.parameters_):
        q = [np.asarray(summary[f"{p}_{s}"][:4]) for s in ("p2_5", "p16", "median", "p84", "p97_5")]
        assert all(np.all(a <= b) for a, b in zip(q, q[1:])), p
        inside += int(np.sum((q[0] <= truth[:4, j]) & (truth[:4, j] <= q[-1])))
        m = np.asarray(summary[f"{p}_map"][:4])
        assert np.all((m >= trained.theta_min_[j]) & (m <= trained.theta_max_[j]))
    assert inside >= 0.8 * 4 * len(trained.parameters_), inside        # 95 % intervals, 24 cases
    assert np.all(np.isfinite(summary["rhat"][:4])) and np.all(summary["ess_bulk"][:4] > 0)
    assert np.all(np.isfinite(summary["chi2_map"][:4])) and summary["divergences"][4] == -1
    assert summary.meta["galfast_model"] == "galfast.PosteriorFitter"
    assert set(SUMMARY_QUANTILES) == {"median", "p16", "p84", "p2_5", "p97_5"}


def test_failed_diagnostics_are_retried_then_flagged(trained, sampler, four):
    fitter = PosteriorFitter(trained, sampler=sampler, chains=2, tune=20, draws=20, retry_tune=25, progress=False)
    out = fitter.predict_table(fitter.to_photometry(four[:1]))
    assert bool(out["retried"][0])                       # 40 draws cannot reach ESS 400
    assert flags.has(out["flags"], "not_converged")[0]
    assert np.isfinite(out["log_mstar_median"][0])       # summarised all the same, but flagged


def test_seeds_follow_ids_not_chunks_and_the_stream(trained, sampler, four, summary, tmp_path):
    from galfast.catalog import read_catalog
    from galfast.stream import stream

    fitter = PosteriorFitter(trained, sampler=sampler, retry_tune=0, **SMALL_RUN)
    path = tmp_path / "four.parquet"
    four[[1, 2]].write(path)
    res = stream(fitter, str(path), str(tmp_path / "post.parquet"), chunk_rows=1, progress=False)
    assert res["rows"] == 2 and res["chunks"] == 2
    out = read_catalog(tmp_path / "post.parquet")
    assert list(out["id"]) == ["gal1", "gal2"]
    for p in trained.parameters_:       # same ids → same seeds → the same draws as in one batch
        np.testing.assert_array_equal(np.asarray(out[f"{p}_median"]), np.asarray(summary[f"{p}_median"][1:3]))


def test_fixed_redshift_rows_without_z_are_flagged(trained, four):
    phot = Photometry.from_table(four[:2], trained.bands_, id_column="id")
    phot = Photometry(phot.bands, phot.flux, phot.flux_err, phot.state, phot.ids, np.array([np.nan, -1.0]))
    out = fit(phot, trained, z="column", progress=False)          # nothing to sample: no compile
    assert np.all(flags.has(out["flags"], "no_redshift")) and np.all(flags.has(out["flags"], "no_estimate"))
    assert "z_median" not in out.colnames                          # z is data, not a parameter here
    with pytest.raises(ParameterError, match="z must be None"):
        PosteriorFitter(trained, z=1.0)
    with pytest.raises(ParameterError, match="chains"):
        PosteriorFitter(trained, chains=0)


def test_draws_written_as_netcdf(trained, sampler, four, tmp_path):
    import arviz as az

    fitter = PosteriorFitter(trained, sampler=sampler, chains=2, tune=50, draws=50, retry_tune=0,
                             draws_dir=tmp_path / "draws", progress=False)
    fitter.predict_table(fitter.to_photometry(four[:1]))
    idata = az.from_netcdf(tmp_path / "draws" / "gal0.nc")
    assert idata.posterior["log_mstar"].shape == (2, 50)

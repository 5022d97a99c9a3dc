"""The training prior: a Gaussian mixture in the logit coordinates of the training support,
equal to scikit-learn's density, reproducing the training distribution, the same in PyTensor."""
import numpy as np
import pytest

from galfast.posterior.prior import TrainingPrior, log_density


@pytest.fixture(scope="module")
def theta(trained, train):
    th = trained.theta_array(train)
    return th[np.isfinite(th).all(1) & (th[:, -1] > 0)]


def test_density_equals_sklearn_and_roundtrips(theta):
    from sklearn.mixture import GaussianMixture

    pr = TrainingPrior.fit(theta, n_components=5, random_state=0)
    u = pr.to_u(theta)
    assert np.all(np.isfinite(u))
    np.testing.assert_allclose(pr.to_theta(u), theta, rtol=0, atol=1e-9 * np.ptp(theta, 0).max())
    gmm = GaussianMixture(5, covariance_type="full", reg_covar=1e-4, random_state=0, max_iter=500).fit(u)
    np.testing.assert_allclose(pr.logpdf_u(u[:200]), gmm.score_samples(u[:200]), rtol=1e-8)
    assert np.all(pr.lo < theta.min(0)) and np.all(pr.hi > theta.max(0))


def test_draws_follow_the_training_distribution(trained, theta):
    pr = trained.prior_
    draws = pr.sample(20_000, random_state=1)
    assert np.all((draws >= pr.lo) & (draws <= pr.hi))
    for j in range(theta.shape[1]):
        for q in (0.1, 0.5, 0.9):      # quantiles within 5 % of the parameter's range
            assert abs(np.quantile(draws[:, j], q) - np.quantile(theta[:, j], q)) < 0.05 * np.ptp(theta[:, j]), (j, q)


def test_pytensor_log_density_equals_numpy(trained, theta):
    import pytensor
    import pytensor.tensor as pt

    pr = trained.prior_
    u = pt.dvector("u")
    fn = pytensor.function([u], log_density(u, pt.constant(pr.weights), pt.constant(pr.means),
                                            pt.constant(pr.prec_chol), pt))
    for row in pr.to_u(theta[:5]):
        assert fn(row) == pytest.approx(float(pr.logpdf_u(row)), rel=1e-12)


def test_saved_with_the_model(trained, tmp_path):
    from galfast import load_model

    trained.save(tmp_path / "nl.safetensors")
    back = load_model(tmp_path / "nl.safetensors")
    for k, v in trained.prior_.arrays().items():
        np.testing.assert_array_equal(back.prior_.arrays()[k], v)

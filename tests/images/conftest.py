"""Shared mocks of the images tests (simulated once per session; the bagpipes grids are built once)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("galsim")
torch.set_num_threads(1)

#: bright, well-resolved galaxies: the dust signal a small CNN can learn from 160 images
BRIGHT = dict(log_mstar=(9.8, 10.5), av_disc=(0.0, 1.5), re_disc=(0.25, 0.45))


@pytest.fixture(scope="session")
def small_mock():
    from galfast.images import simulate_cutouts

    return simulate_cutouts(24, seed=5, chunk_rows=8, progress=False)


@pytest.fixture(scope="session")
def bright_mock():
    from galfast.images import MockPriors, simulate_cutouts

    return simulate_cutouts(200, priors=MockPriors(**BRIGHT), seed=7, chunk_rows=100, n_jobs=2, progress=False)


@pytest.fixture(scope="session")
def tiny_cnn(small_mock):
    """A 3-band DustCNN fitted for 2 epochs (for interface tests, not accuracy)."""
    from galfast.images import DustCNN

    return DustCNN(filters=4, dense_units=8, n_dense=2, epochs=2, random_state=0).fit(small_mock)


@pytest.fixture
def rng():
    return np.random.default_rng(0)

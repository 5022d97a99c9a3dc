"""Shared fixtures of the posterior tests: one small simulated catalogue with known truth and one
tiny likelihood network trained on it (session-scoped: they are built once)."""
import warnings

import numpy as np
import pytest

#: bands of the test catalogue (few, so the networks are tiny and train in seconds)
BANDS = ("F115W", "F150W", "F277W", "F444W")
N_SIM, N_TRAIN = 3000, 2400
#: a small network trained for a few epochs (≈ 10 s on 2 cores)
SMALL = dict(hidden=32, n_blocks=1, epochs=30, batch_size=256, lr=3e-3, patience=10, random_state=0)


@pytest.fixture(scope="session")
def sims():
    """A galfast.simulate catalogue: 3,000 galaxies, 4 JWST bands, 5 % of entries not observed."""
    from galfast.sim import simulate

    return simulate(N_SIM, list(BANDS), seed=3, missing_fraction=0.05, progress=False)


@pytest.fixture(scope="session")
def train(sims):
    return sims[:N_TRAIN]


@pytest.fixture(scope="session")
def held_out(sims):
    return sims[N_TRAIN:]


@pytest.fixture(scope="session")
def trained(train):
    from galfast.posterior import NeuralLikelihood

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NeuralLikelihood(**SMALL).fit(train)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def sampler(trained):
    """One compiled nutpie model of ``trained`` (z free), shared by the sampling tests."""
    pytest.importorskip("nutpie")
    from galfast.posterior import PosteriorSampler

    return PosteriorSampler(trained)


def _good_rows(held_out, n):
    f, e = np.asarray(held_out["jwst_f444w"]), np.asarray(held_out["jwst_f444w_err"])
    ok = np.all([np.isfinite(np.asarray(held_out[b])) for b in
                 ("jwst_f115w", "jwst_f150w", "jwst_f277w", "jwst_f444w")], axis=0)
    return np.flatnonzero(ok & (f / e >= 10) & (f / e <= 300))[:n]


@pytest.fixture(scope="session")
def four(trained, held_out):
    """Five well-measured held-out galaxies (ids gal0 … gal4): gal3 with F115W and F150W not
    observed, gal4 with no observed band."""
    rows = _good_rows(held_out, 5)
    t = held_out[rows]
    t["id"] = [f"gal{k}" for k in range(len(t))]
    for b in trained.bands_:
        t[b][4] = np.nan
    for b in ("jwst_f115w", "jwst_f150w"):
        t[b][3] = np.nan
    return t

"""galfast.sim.priors: ranges, draws inside them (ages capped by the age of the universe), errors."""
import numpy as np
import pytest

from galfast.sim import Priors
from galfast.validation import ParameterError


def toy_age_of_universe(z):
    return 13.8 / (1.0 + np.asarray(z)) ** 1.5      # Gyr; an Einstein–de Sitter-like shape


def test_draws_lie_in_the_ranges_and_ages_are_capped():
    pri = Priors(z=(0.5, 6.0), log_mstar=(9.0, 10.0), tau=(0.2, 5.0))
    p = pri.sample(20000, np.random.default_rng(0), toy_age_of_universe)
    assert p["z"].min() >= 0.5 and p["z"].max() <= 6.0
    assert abs(p["z"].mean() - 3.25) < 0.03                       # uniform: mean = mid-point
    assert p["log_mstar"].min() >= 9.0 and p["log_mstar"].max() <= 10.0
    cap = 0.99 * toy_age_of_universe(p["z"])
    assert np.all(p["sfh_age"] <= cap + 1e-12)
    # log-uniform tau: the mean of log tau is the mid-point of the log range
    assert abs(np.log(p["sfh_tau"]).mean() - 0.5 * (np.log(0.2) + np.log(5.0))) < 0.03
    assert np.all(p["qpah"] == 2.0) and np.all(p["umin"] == 1.0)     # fixed by default
    assert "burst_age" not in p
    cb = Priors(sfh="constant_burst").sample(100, np.random.default_rng(1), toy_age_of_universe)
    assert {"burst_age", "burst_frac"} <= set(cb) and "sfh_tau" not in cb
    # the same generator state gives the same draws
    again = pri.sample(20000, np.random.default_rng(0), toy_age_of_universe)
    np.testing.assert_array_equal(again["z"], p["z"])


def test_round_trip_and_bad_values_are_value_errors():
    pri = Priors(z=(0.1, 3.0), av=1.0)
    assert pri.av == (1.0, 1.0)
    assert Priors.from_dict(pri.to_dict()) == pri
    for kw, match in [({"z": (3.0, 1.0)}, "prior 'z'"), ({"z": (0.0, 12.0)}, "prior 'z'"),
                      ({"av": (0.0, 1.0, 2.0)}, "prior 'av'"), ({"log_u": (np.nan, -1.0)}, "log_u"),
                      ({"sfh": "exponential"}, "sfh")]:
        with pytest.raises(ParameterError, match=match):
            Priors(**kw)
    assert issubclass(ParameterError, ValueError)

"""scikit-learn conventions: random_state and n_jobs mean the same everywhere."""
import numpy as np
import pytest

from galfast.validation import (ParameterError, available_cores, check_random_state, effective_n_jobs,
                                seed_from)


def test_random_state_forms():
    a = check_random_state(3).random(4)
    np.testing.assert_array_equal(a, check_random_state(3).random(4))
    g = np.random.default_rng(5)
    assert check_random_state(g) is g
    assert isinstance(check_random_state(None), np.random.Generator)
    assert seed_from(7) == 7
    assert seed_from(np.random.default_rng(1)) == seed_from(np.random.default_rng(1))
    for bad in ("3", 1.5, -1, True):
        with pytest.raises(ValueError, match="random_state"):
            check_random_state(bad)


def test_n_jobs_semantics():
    assert effective_n_jobs(None) == 1
    assert effective_n_jobs(3) == 3
    assert effective_n_jobs(-1) == available_cores()
    assert effective_n_jobs(-2) == max(1, available_cores() - 1)
    for bad in (0, 1.5, "2"):
        with pytest.raises(ParameterError, match="n_jobs"):
            effective_n_jobs(bad)
    assert issubclass(ParameterError, ValueError)

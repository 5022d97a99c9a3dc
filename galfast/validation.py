"""Parameter conventions shared by every estimator, as in scikit-learn.

``random_state``: None (fresh entropy), an int seed, or a ``numpy.random.Generator`` (used as is).
``n_jobs``: None = 1, a positive int, −1 = every core this process may use, −2 = all but one, …
Bad values raise :class:`ParameterError`, a ValueError naming the parameter.
"""
from __future__ import annotations

import numbers
import os

import numpy as np

from .errors import GalfastError

__all__ = ["ParameterError", "check_random_state", "seed_from", "effective_n_jobs", "available_cores"]


class ParameterError(GalfastError, ValueError):
    """An estimator or function argument has a bad value (the message names it)."""


def check_random_state(random_state, name: str = "random_state") -> np.random.Generator:
    """A ``numpy.random.Generator`` from None, an int seed, a SeedSequence or a Generator."""
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.SeedSequence):
        return np.random.default_rng(random_state)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if int(random_state) < 0:
            raise ParameterError(f"{name} must be ≥ 0, got {random_state}")
        return np.random.default_rng(int(random_state))
    raise ParameterError(f"{name} must be None, an int or a numpy.random.Generator, "
                         f"not {type(random_state).__name__} ({random_state!r})")


def seed_from(random_state, name: str = "random_state") -> int:
    """An int seed in [0, 2**63) for libraries that need one (torch, optuna): the seed itself for
    an int, one draw from the Generator for a Generator, fresh entropy for None."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        check_random_state(random_state, name)
        return int(random_state)
    return int(check_random_state(random_state, name).integers(0, 2**63 - 1))


def available_cores() -> int:
    """Cores this process may run on (CPU affinity where the OS tells, else os.cpu_count())."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def effective_n_jobs(n_jobs, name: str = "n_jobs") -> int:
    """Workers or threads for ``n_jobs``: None → 1, k > 0 → k, −1 → all cores, −2 → all but one …"""
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise ParameterError(f"{name} must be None or a non-zero int, not {n_jobs!r}")
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ParameterError(f"{name}=0 means nothing; use None or 1 (one), or -1 (all cores)")
    if n_jobs > 0:
        return n_jobs
    return max(1, available_cores() + 1 + n_jobs)

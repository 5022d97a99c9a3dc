"""Priors of the simulator: which galaxies to draw.

Every range is ``(low, high)``; a single number fixes the parameter.  Draws are uniform except
those marked log-uniform.  Units: Gyr for times, mag for A_V, dex for logs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..validation import ParameterError
from .forward import SFH_KINDS

__all__ = ["Priors"]


def _as_range(name, value, lo_bound=-np.inf, hi_bound=np.inf):
    if np.ndim(value) == 0:
        lo = hi = float(value)
    else:
        if len(value) != 2:
            raise ParameterError(f"prior {name!r}: give a number or a (low, high) pair, got {value!r}")
        lo, hi = (float(v) for v in value)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise ParameterError(f"prior {name!r}: need finite low ≤ high, got {value!r}")
    if lo < lo_bound or hi > hi_bound:
        raise ParameterError(f"prior {name!r} = {value!r} leaves the allowed range [{lo_bound}, {hi_bound}]")
    return lo, hi


@dataclass(frozen=True)
class Priors:
    """Prior ranges of the simulated galaxies.

    z : redshift (uniform; bagpipes' grids reach z = 10)
    sfh : "delayed_tau" (SFR ∝ t e^{-t/τ}) or "constant_burst" (constant SFR + one burst)
    log_mstar : log10 living stellar mass [M☉] (uniform; the truth column equals the draw)
    log_zmet : log10 Z/Z☉ (uniform; BC03 grids span −2.3 … 0.7)
    av : Calzetti A_V [mag] (uniform)
    log_u : nebular ionisation parameter (uniform, within −4 … 0)
    age : time since star formation began [Gyr], uniform from age[0] to
          min(age[1], 0.99 × age of the universe at z)
    tau : delayed-τ timescale [Gyr] (log-uniform)
    burst_age : age of the burst [Gyr] (log-uniform, capped like ``age``)
    burst_frac : fraction of the formed mass in the burst (uniform, in (0, 1))
    qpah, umin, gamma : Draine & Li dust-emission parameters (uniform; fixed by default at
          bagpipes' defaults 2, 1, 0.01)
    """

    z: tuple = (0.0, 7.0)
    sfh: str = "delayed_tau"
    log_mstar: tuple = (8.0, 11.5)
    log_zmet: tuple = (-2.0, 0.3)
    av: tuple = (0.0, 3.0)
    log_u: tuple = (-4.0, -1.0)
    age: tuple = (0.05, 14.0)
    tau: tuple = (0.1, 10.0)
    burst_age: tuple = (0.003, 1.0)
    burst_frac: tuple = (0.01, 0.5)
    qpah: float | tuple = 2.0
    umin: float | tuple = 1.0
    gamma: float | tuple = 0.01

    def __post_init__(self):
        if self.sfh not in SFH_KINDS:
            raise ParameterError(f"prior sfh={self.sfh!r}; choose from {SFH_KINDS}")
        bounds = {"z": (0.0, 10.0), "log_zmet": (-2.31, 0.7), "av": (0.0, 20.0),
                  "log_u": (-4.0, 0.0), "age": (1e-3, 14.0), "tau": (1e-3, 1e3),
                  "burst_age": (1e-3, 14.0), "burst_frac": (1e-6, 1 - 1e-6),
                  "qpah": (0.1, 4.58), "umin": (0.1, 25.0), "gamma": (0.0, 1.0),
                  "log_mstar": (-np.inf, np.inf)}
        for name, (lo, hi) in bounds.items():
            object.__setattr__(self, name, _as_range(name, getattr(self, name), lo, hi))

    def to_dict(self) -> dict:
        """Plain-JSON form (for file metadata)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "Priors":
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})

    def sample(self, n: int, rng: np.random.Generator, age_of_universe) -> dict:
        """Draw ``n`` galaxies' parameters (a dict of arrays; the draw order is fixed).

        ``age_of_universe(z)`` [Gyr] caps the SFH ages so that no star forms before the Big Bang.
        """
        def uni(r):
            return rng.uniform(r[0], r[1], n) if r[0] < r[1] else np.full(n, r[0])

        def log_uni(lo, hi):
            lo, hi = np.broadcast_to(lo, (n,)), np.broadcast_to(hi, (n,))
            hi = np.maximum(hi, lo)
            return np.exp(np.log(lo) + rng.uniform(0.0, 1.0, n) * (np.log(hi) - np.log(lo)))

        z = uni(self.z)
        t_cap = 0.99 * age_of_universe(z)
        p = {"z": z, "log_mstar": uni(self.log_mstar), "log_zmet": uni(self.log_zmet),
             "av": uni(self.av), "log_u": uni(self.log_u)}
        age_lo = np.minimum(self.age[0], 0.5 * t_cap)
        age_hi = np.maximum(np.minimum(self.age[1], t_cap), age_lo)
        p["sfh_age"] = age_lo + rng.uniform(0.0, 1.0, n) * (age_hi - age_lo)
        tau = log_uni(self.tau[0], self.tau[1])
        b_lo = np.minimum(self.burst_age[0], 0.5 * t_cap)
        b_age = log_uni(b_lo, np.minimum(self.burst_age[1], t_cap))
        b_frac = uni(self.burst_frac)
        if self.sfh == "delayed_tau":
            p["sfh_tau"] = tau
        else:
            p["burst_age"], p["burst_frac"] = b_age, b_frac
        for name in ("qpah", "umin", "gamma"):
            p[name] = uni(getattr(self, name))
        return p

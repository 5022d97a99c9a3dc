"""Helpers shared by the bench scripts: timing, ratio tables, data, thread limits, sibling modules.

Import from a bench script (``bench/`` is on ``sys.path`` when a script there is run, and
pytest puts it there for ``bench/bench_*.py``)::

    from common import best_time, interleaved_best, print_ratio_table, thread_limits

* :func:`best_time` — best of ``repeats`` calls of a callable (wall clock or CPU time);
* :func:`interleaved_best` — several callables timed in interleaved rounds, best of each (a
  shared machine's load drifts: interleaving spreads it over all of them alike);
* :func:`print_ratio_table` — rates against a baseline, one aligned line each;
* :func:`bench_threads` / :func:`thread_limits` — the thread count of a run
  (``$GALFAST_BENCH_THREADS``, default 2) and a context that holds BLAS/OpenMP (threadpoolctl)
  and torch to it;
* :func:`jwst_specz`, :func:`jwst_protocol_split` — the JWST spec-z catalogue through
  :mod:`galfast.datasets` (bundled, or ``$GALFAST_SHARED``'s text file; never a hard-coded
  path) and the published protocol's stratified train/test rows;
* :func:`bench_size` — a problem size scaled by ``$GALFAST_BENCH_SCALE`` (default 1; e.g. 0.01
  for a quick check that every script and suite still runs);
* :func:`load_sibling` — a module of bench/ (or of tests/, for the lean reference
  implementations) by file name: the one way bench scripts import each other and the references
  (:func:`photoz_reference`: tests/redshift/reference.py).

Machines here are shared and noisy: quote the ratios, not the absolute times.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TESTS = REPO / "tests"

__all__ = ["HERE", "REPO", "TESTS", "best_time", "interleaved_best", "print_ratio_table",
           "bench_threads", "thread_limits", "cores", "jwst_specz", "jwst_protocol_split",
           "bench_size", "load_sibling", "photoz_reference"]


# ------------------------------------------------------------------------------ timing
def best_time(fn, repeats: int = 3, *, clock=time.perf_counter) -> float:
    """Best (smallest) time of ``repeats`` calls of ``fn()`` [s]; ``clock=time.process_time``
    gives CPU time (robust to other processes sharing the cores)."""
    best = float("inf")
    for _ in range(max(1, int(repeats))):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def interleaved_best(runs: dict, rounds: int = 3, *, clock=time.perf_counter) -> dict:
    """{name: best time [s]} of the callables ``runs`` {name: fn}, timed one after the other in
    each of ``rounds`` rounds."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(max(1, int(rounds))):
        for name, fn in runs.items():
            t0 = clock()
            fn()
            best[name] = min(best[name], clock() - t0)
    return best


def print_ratio_table(title: str, rates: dict, baseline: str, *, unit: str = "objects/s",
                      file=None) -> dict:
    """Print ``title`` then one line per ``rates`` {label: rate} with its ratio to
    ``rates[baseline]`` (higher rate = faster); returns {label: ratio}."""
    file = sys.stdout if file is None else file
    base = rates[baseline]
    width = max(len(k) for k in rates)
    print(title, file=file)
    ratios = {}
    for label, rate in rates.items():
        ratios[label] = rate / base
        tail = "   (baseline)" if label == baseline else f"   ratio {rate / base:7.1f}x"
        print(f"  {label:<{width}} : {rate:12,.0f} {unit}{tail}", file=file)
    return ratios


def bench_size(n: int, minimum: int = 1) -> int:
    """``n`` times ``$GALFAST_BENCH_SCALE`` (default 1), at least ``minimum``: the one knob that
    shrinks every bench script and suite for a quick check (ratios at a small size mean little)."""
    scale = float(os.environ.get("GALFAST_BENCH_SCALE", 1))
    return max(int(minimum), int(round(n * scale)))


# ------------------------------------------------------------------------------ threads
def cores() -> int:
    """Cores this process may use."""
    from galfast.validation import available_cores

    return available_cores()


def bench_threads(default: int = 2) -> int:
    """Threads of a bench run: ``$GALFAST_BENCH_THREADS``, else ``default``."""
    return int(os.environ.get("GALFAST_BENCH_THREADS", default))


@contextlib.contextmanager
def thread_limits(n: int):
    """Hold BLAS/OpenMP pools (threadpoolctl) and, when torch is imported, torch's intra-op
    threads to ``n`` inside the block; restored after."""
    torch = sys.modules.get("torch")
    old = torch.get_num_threads() if torch is not None else None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(int(n))
    with limits:
        if torch is not None:
            torch.set_num_threads(int(n))
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(old)


# ------------------------------------------------------------------------------ data
def jwst_specz(path=None):
    """The JWST+HST spec-z catalogue as Photometry (``galfast.datasets.load_jwst_specz``: the
    bundled copy, or ``$GALFAST_SHARED``'s released text file); its duplicate-id warning is
    silenced."""
    from galfast.datasets import load_jwst_specz

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_jwst_specz(path)


def jwst_protocol_split(seed: int = 0, *, z_max: float = 7.0):
    """(protocol Photometry, train rows, test rows) of the published protocol: complete rows with
    z ≤ ``z_max``, stratified 80/20 split in redshift."""
    from galfast.datasets import jwst_specz_protocol, stratified_split

    phot, _ = jwst_specz_protocol(jwst_specz(), z_max=z_max)
    train, test = stratified_split(phot.z, seed=seed)
    return phot, train, test


# ------------------------------------------------------------------------------ modules
def load_sibling(name: str, folder: Path | None = None):
    """Import ``<folder>/<name>.py`` (default bench/; ``TESTS`` for the lean reference
    implementations that the tests compare against) as a module."""
    path = (HERE if folder is None else Path(folder)) / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def photoz_reference():
    """tests/redshift/reference.py (the lean per-object NumPy KLLR loop ``kllr_loop``)."""
    return load_sibling("reference", TESTS / "redshift")

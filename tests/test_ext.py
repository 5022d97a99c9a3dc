"""The compiled kernels' build facts and flag constants, the float-mode guard of
csrc/kllr_linalg.h, and thread safety / pickling of a fitted KLLRPhotoZ."""
import os
import pickle
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import galfast
from galfast import _ext

REPO = Path(__file__).resolve().parents[1]
CSRC = REPO / "csrc"

pytestmark = pytest.mark.filterwarnings("ignore::galfast.CatalogWarning")  # rows with < 2 bands

EXPECTED_KERNEL_FLAGS = {"extrapolation": 1, "clipped_at_min": 2, "neighbours_clipped": 4,
                         "no_estimate": 8, "mode_guard": 16}


# ---------------------------------------------------------------------------- build facts
def test_build_info_reports_openmp():
    info = _ext.build_info()
    assert isinstance(info, dict)
    assert "openmp" in info
    assert info["openmp"] is None or isinstance(info["openmp"], bool)
    # this machine's gcc has OpenMP, and the build recorded it (unless it was built serial on
    # purpose with GALFAST_NO_OPENMP)
    assert info["recorded"] is True
    assert info["openmp"] is (not os.environ.get("GALFAST_NO_OPENMP")), info
    assert isinstance(info["cflags"], list)
    assert not {"-ffast-math", "-Ofast"} & set(info["cflags"])
    for args in info["extra_compile_args"].values():
        assert not {"-ffast-math", "-Ofast"} & set(args)
    assert _ext.build_info() is not _ext.build_info()  # a new dict each call


def test_build_info_without_generated_file(monkeypatch):
    """A build from an older setup.py has no _build_info module: build_info() still answers."""
    monkeypatch.delitem(sys.modules, "galfast._ext._build_info", raising=False)
    monkeypatch.setitem(sys.modules, "galfast._ext._build_info", None)  # import → ImportError
    info = _ext.build_info()
    assert info["openmp"] is None
    assert info["recorded"] is False
    assert set(info) >= {"openmp", "compiler", "cflags"}


# ---------------------------------------------------------------------------- flag constants
def _kernel_modules():
    from galfast._ext import kllr, kllr_avx2

    return [kllr, kllr_avx2]


@pytest.mark.parametrize("mod", _kernel_modules(), ids=lambda m: m.__name__)
def test_kernel_flags_values(mod):
    assert mod.KERNEL_FLAGS == EXPECTED_KERNEL_FLAGS
    assert sorted(mod.KERNEL_FLAGS.values()) == [1, 2, 4, 8, 16]
    assert all(type(v) is int for v in mod.KERNEL_FLAGS.values())
    # the module-level FLAG_* names come from the same C constants
    assert (mod.FLAG_EXTRAPOLATION, mod.FLAG_CLIPPED_AT_MIN, mod.FLAG_REFIT, mod.FLAG_FAILED,
            mod.FLAG_MODE) == (1, 2, 4, 8, 16)


# ---------------------------------------------------------------------------- -ffast-math guard
def _compile_header(tmp_path, *flags):
    src = tmp_path / "uses_linalg.c"
    src.write_text('#include "kllr_linalg.h"\n'
                   "double f(double x) { return galfast_exp_neg(x); }\n")
    return subprocess.run([shutil.which("cc"), "-std=c99", *flags, f"-I{CSRC}", "-fsyntax-only",
                           str(src)], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")
def test_linalg_header_refuses_fast_math(tmp_path):
    # the header is plain C (math.h, stdint.h, string.h): no Python or NumPy headers needed
    ok = _compile_header(tmp_path)
    assert ok.returncode == 0, ok.stderr
    for flags in (["-ffast-math"], ["-O2", "-Ofast"]):
        r = _compile_header(tmp_path, *flags)
        assert r.returncode != 0, flags
        assert "must not be compiled with -ffast-math" in r.stderr, r.stderr
    r = _compile_header(tmp_path, "-fassociative-math", "-fno-signed-zeros", "-fno-trapping-math")
    assert r.returncode != 0
    assert "-fassociative-math" in r.stderr


# ---------------------------------------------------------------------------- threads and pickle
N_BANDS = 5
N_THREADS = 8


def _mags(rng, n):
    """Magnitudes of a simple linear model in z with noise, ~20 % entries missing (NaN)."""
    z = rng.uniform(0.05, 3.0, n)
    slope = np.linspace(-1.2, 1.5, N_BANDS)
    m = 23.0 + np.outer(z, slope) + 0.3 * np.outer(z ** 2, np.cos(np.arange(N_BANDS)))
    m += rng.normal(0.0, 0.05, m.shape)
    m[rng.random(m.shape) < 0.2] = np.nan
    return m, z


@pytest.fixture(scope="module")
def threaded_data():
    rng = np.random.default_rng(2024)
    M, z = _mags(rng, 2000)
    # 8 different target sets; sizes so that the full pattern of each set has ≥ SORT_MIN_TARGETS
    # rows (the lazily sorted search) and the other patterns fewer (the unsorted scan)
    targets = [_mags(rng, n)[0] for n in (260, 300, 340, 280, 320, 360, 240, 400)]
    return M, z, targets


def _fit(M, z, **kw):
    return galfast.KLLRPhotoZ(k=20, n_jobs=1, **kw).fit(M, z)


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.fixture(scope="module")
def reference(threaded_data):
    M, z, targets = threaded_data
    return [_fit(M, z).predict_full(T) for T in targets]


@pytest.fixture
def fast_switching():
    """Switch threads every few µs, so that the threads interleave inside the caches' code."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _concurrent_predict(est, targets):
    barrier = threading.Barrier(len(targets))

    def work(T):
        barrier.wait()
        return est.predict_full(T)

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        return list(pool.map(work, targets))


@pytest.mark.parametrize("max_cached", [64, 3], ids=["cache-64", "cache-3-evicting"])
def test_threads_share_one_fitted_model(threaded_data, reference, fast_switching, max_cached):
    """8 threads predict at once from one freshly fitted model (cold caches, n_jobs=1): every
    result equals the single-threaded one.  With max_cached=3 the LRU cache of patterns evicts
    constantly while the threads use it."""
    M, z, targets = threaded_data
    # before the lock, one round in ~50-100 raised KeyError (a pattern evicted by one thread
    # between another's cache lookup and its move_to_end); rounds are cheap (~0.2 s)
    for _ in range(25 if max_cached < 64 else 8):
        est = _fit(M, z)
        est.index_.max_cached = max_cached
        for got, want in zip(_concurrent_predict(est, targets), reference):
            _assert_same(got, want)
        assert len(est.index_._cache) <= max_cached


def test_lazy_builds_once_under_threads(threaded_data, reference, fast_switching, monkeypatch):
    """One shared fitted model builds each pattern's sorted search layout once, however many
    threads ask for it at the same time."""
    M, z, targets = threaded_data
    calls = []
    for mod in _kernel_modules():
        orig = mod.projection_sort

        def counting(XT, _orig=orig):
            calls.append(1)
            return _orig(XT)

        monkeypatch.setattr(mod, "projection_sort", counting)
    # before the locks about one round in four built a layout twice (two threads building the
    # same pattern's model, or the same model's layout, at once)
    for _ in range(15):
        calls.clear()
        est = _fit(M, z)
        for got, want in zip(_concurrent_predict(est, targets), reference):
            _assert_same(got, want)
        built = [m for m in est.index_._cache.values() if m._sorted is not None]
        assert built  # the full pattern at least
        assert len(calls) == len(built)


def test_pickle_round_trip(threaded_data, reference):
    M, z, targets = threaded_data
    cold = _fit(M, z)
    warm = _fit(M, z)
    for T in targets:
        warm.predict_full(T)  # caches filled: pattern models and their sorted layouts
    for est in (cold, warm):
        back = pickle.loads(pickle.dumps(est))
        for T, want in zip(targets, reference):
            _assert_same(back.predict_full(T), want)
        # the copy's locks are its own and work: it can be shared by threads as well
        for got, want in zip(_concurrent_predict(pickle.loads(pickle.dumps(est)), targets),
                             reference):
            _assert_same(got, want)

"""The compiled photo-z kernel (galfast._ext.kllr, kllr_avx2) against the lean NumPy reference:
KLLR predictions, exact neighbour search, the vectorised exp, and the pattern neighbour search."""
import importlib
import platform

import numpy as np
import pytest
from scipy.spatial import cKDTree

from galfast import flags

from .reference import kllr_loop

MODULES = ["kllr", "kllr_avx2"]


def _kernel(name):
    if name == "kllr_avx2":
        feats = getattr(np._core._multiarray_umath, "__cpu_features__", {})
        if not (feats.get("AVX2") and feats.get("FMA3")):
            pytest.skip("CPU without AVX2/FMA")
    return importlib.import_module(f"galfast._ext.{name}")


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("k,tau,center", [(10, 0.0, False), (30, 0.0, True), (30, 0.3, True)])
def test_kernel_equals_numpy_reference(k, tau, center, module):
    kllr_predict = _kernel(module).kllr_predict
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1500, 6))
    y = np.abs(X[:, 0] + 0.5 * X[:, 1] ** 2) + rng.uniform(0, 0.2, 1500)
    y[::20] += 4.0  # catastrophic neighbours: the 3σ clip and the mode guard act
    Q = rng.normal(size=(200, 6)) * 1.1
    idx = np.ascontiguousarray(cKDTree(X).query(Q, k)[1])
    z, e, f, n = kllr_predict(X, y, Q, idx, k, 0.05, 0.4, 3.0, center, 0.0, tau, 2)
    zb, eb, fb, nb = kllr_loop(X, y, Q, k, 0.05, 0.4, center=center, z_min=0.0, tau=tau)
    np.testing.assert_allclose(z, zb, rtol=0, atol=1e-8)
    np.testing.assert_allclose(e, eb, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(f, fb)   # the kernel sets the registry's bit values
    np.testing.assert_array_equal(n, nb)
    assert (f & flags.EXTRAPOLATION).any() and (e > 0).all() and (z >= 0).all()
    if k >= 30:
        assert (f & flags.NEIGHBOURS_CLIPPED).any()  # the 3σ clip and refit exercised
    if tau:
        assert (f & flags.MODE_GUARD).any()


@pytest.mark.parametrize("module", MODULES)
def test_kernel_flag_constants_are_the_registry(module):
    mod = _kernel(module)
    assert {name: flags.bit(name) for name in mod.KERNEL_FLAGS} == mod.KERNEL_FLAGS
    from galfast.redshift import engine

    assert engine.FLAG_CLIPPED_AT_ZERO == flags.CLIPPED_AT_MIN == mod.KERNEL_FLAGS["clipped_at_min"]
    assert all(flags.FLAGS[v].name == name for v, name in engine.FLAG_NAMES.items())


@pytest.mark.parametrize("module", MODULES)
def test_compiled_knn_equals_brute_force(module):
    mod = _kernel(module)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(700, 5))
    X[10] = X[11]  # an exact tie: the lower index comes first
    Q = np.vstack([rng.normal(size=(60, 5)), X[10:11]])
    idx = mod.knn_brute(np.ascontiguousarray(X.T), Q, 15, 2)
    d2 = ((Q[:, None, :] - X[None]) ** 2).sum(-1)
    ref = np.argsort(d2, axis=1, kind="stable")[:, :15]
    np.testing.assert_array_equal(idx, ref)
    assert idx[-1, :2].tolist() == [10, 11]
    with pytest.raises(ValueError, match="k=701"):
        mod.knn_brute(np.ascontiguousarray(X.T), Q, 701)


@pytest.mark.parametrize("module", MODULES)
def test_kernel_exp_is_accurate(module):
    """The kernel's vectorised exp (csrc/kllr_linalg.h) against NumPy's over its whole domain."""
    mod = _kernel(module)
    x = -np.concatenate([np.linspace(0, 1, 10_001), np.geomspace(1e-12, 707.9, 10_001)])
    np.testing.assert_allclose(mod.fast_exp(x), np.exp(x), rtol=1e-14, atol=0)
    assert mod.fast_exp(np.array([-709.0, -1e4, -np.inf])).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("n,d,k", [(5, 1, 5), (37, 3, 11), (900, 10, 50)])
def test_compiled_knn_exact_with_duplicates_and_small_sets(module, n, d, k):
    """The projection-pruned scan equals a stable exhaustive sort, also with many exact ties
    (duplicated and grid-valued rows), one feature, and fewer rows than a vector block."""
    mod = _kernel(module)
    rng = np.random.default_rng(n)
    X = np.round(rng.normal(size=(n, d)), 1)  # a coarse grid: many equal distances
    X[n // 2:] = X[: n - n // 2]               # and exact duplicates
    Q = np.vstack([np.round(rng.normal(size=(40, d)), 1), X[:5]])
    idx = mod.knn_brute(np.ascontiguousarray(X.T), Q, k, 2)
    d2 = np.zeros((len(Q), n))
    for f in range(d):  # summed over features in order, as the kernel does
        d2 += (Q[:, None, f] - X[None, :, f]) ** 2
    ref = np.argsort(d2, axis=1, kind="stable")[:, :k]
    # the same neighbour distances (the AVX2 build fuses multiply-adds: last-bit differences)
    np.testing.assert_allclose(np.take_along_axis(d2, idx, 1), np.take_along_axis(d2, ref, 1),
                               rtol=1e-12, atol=1e-15)
    if mod.ISA == "generic" and platform.machine() in ("x86_64", "AMD64"):
        # no fused multiply-adds: bit-identical distances, identical order, ties by lower index
        np.testing.assert_array_equal(idx, ref)
    else:
        assert (idx == ref).mean() > 0.9


def test_pattern_neighbours_same_with_and_without_the_projection_sort(protocol):
    """Few targets (< SORT_MIN_TARGETS) scan every row; many use the projection-pruned scan:
    the same neighbours."""
    from galfast.redshift.patterns import SORT_MIN_TARGETS, PatternIndex

    mags, z = protocol
    model = PatternIndex(mags[:3000], z[:3000]).model((1 << mags.shape[1]) - 1)
    F = model.features(mags[3000:3000 + 4 * SORT_MIN_TARGETS])
    many = model.neighbours(F, 30, 2)
    few = np.vstack([model.neighbours(F[i:i + 8], 30, 2) for i in range(0, len(F), 8)])
    np.testing.assert_array_equal(many, few)

"""Missing-band subspaces: colour features per pattern of available bands, with cached KD-trees.

A *pattern* is the set of bands a row can use (observed, detected, finite magnitude), stored as
an integer bitmask (band j → bit j, bands in wavelength order).  For a pattern with bands
b₁ < b₂ < … < b_m (by wavelength) the features are the m−1 colours between *adjacent available*
bands, m[b_{i+1}] − m[b_i]: when a middle band is missing, its two neighbours form one wider
colour.  With every band present this is exactly the published recipe (adjacent colours).

Every training row that has all the bands of a pattern serves that pattern; the features are
standardised with the mean and standard deviation of those rows, and the pattern's neighbour
search is set up once and cached (:class:`PatternIndex`).

Magnitude features (``mag_idx``/``mag_scale``): the magnitudes of chosen bands, standardised the
same way and multiplied by their own scale, are appended to the colours of every pattern that has
the band (a pattern without it uses its colours alone).  At shallow depth brightness separates
low-z from high-z galaxies of the same colours; the scale sets how much it counts against the
colours in the neighbour distance and in the RBF kernel (0 would be colours only).

Neighbour search: up to :data:`BRUTE_MAX_ROWS` training rows (every spectroscopic sample today)
an exact compiled search (``knn_brute``): the training rows sorted along their first principal
axis, each target scans outwards from its own projection a vector block at a time and stops on a
side once the projection gap exceeds its k-th distance (on the JWST colours about half the rows
are skipped), the k best kept sorted, OpenMP over targets.  In 10 dimensions a KD-tree prunes
little: this is several times faster than ``cKDTree.query`` for 3,700 rows.  Above it a
``cKDTree`` with parallel queries.

Thread safety: one fitted model may be shared by threads (e.g. Dask's threaded scheduler).  The
LRU cache of :class:`PatternIndex` is guarded by a lock, and each :class:`PatternModel` builds its
lazy search structures (sorted layout, KD-tree) once, under its own lock.  Both stay picklable
(the locks are dropped on pickling and recreated on unpickling).
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from scipy.spatial import cKDTree

from ..photometry import Standardizer

__all__ = ["BRUTE_MAX_ROWS", "kernel_module", "usable_mask", "pattern_codes", "pattern_bands", "pattern_colours", "PatternModel",
           "PatternIndex", "popcount"]


#: training rows up to which the exact compiled search is used instead of a KD-tree
BRUTE_MAX_ROWS = 20_000
#: targets of one pattern from which its training rows are sorted along their principal axis
#: (the pruned scan); fewer targets scan every row rather than pay for the sort
SORT_MIN_TARGETS = 64


def kernel_module():
    """The compiled KLLR module for this CPU: ``galfast._ext.kllr_avx2`` where numpy reports AVX2
    and FMA3 (override with GALFAST_KLLR_ISA=generic), else the portable ``galfast._ext.kllr``."""
    import os

    if os.environ.get("GALFAST_KLLR_ISA", "auto").lower() != "generic":
        try:
            feats = np._core._multiarray_umath.__cpu_features__
            if feats.get("AVX2") and feats.get("FMA3"):
                from .._ext import kllr_avx2

                return kllr_avx2
        except (AttributeError, ImportError):
            pass
    from .._ext import kllr

    return kllr


def usable_mask(mags: np.ndarray) -> np.ndarray:
    """(N, B) bool: magnitude finite (NaN marks not observed or not detected)."""
    return np.isfinite(mags)


def pattern_codes(usable: np.ndarray) -> np.ndarray:
    """(N,) int64 bitmask of the usable bands of each row (band j → bit j)."""
    usable = np.asarray(usable, dtype=bool)
    if usable.shape[1] > 63:   # int64 bitmask: bit 63 is the sign
        raise ValueError(f"at most 63 bands are supported, got {usable.shape[1]}")
    weights = np.left_shift(np.int64(1), np.arange(usable.shape[1], dtype=np.int64))
    return usable.astype(np.int64) @ weights


def popcount(codes) -> np.ndarray:
    """Number of set bits of each int64 code (bands used)."""
    codes = np.asarray(codes, dtype=np.int64)
    n = np.zeros(codes.shape, dtype=np.int64)
    c = codes.copy()
    while np.any(c):
        n += c & 1
        c >>= 1
    return n


def pattern_bands(code: int, n_bands: int) -> np.ndarray:
    """Indices of the bands in pattern ``code``, in wavelength order."""
    return np.array([j for j in range(n_bands) if (int(code) >> j) & 1], dtype=np.intp)


def pattern_colours(mags: np.ndarray, band_idx: np.ndarray) -> np.ndarray:
    """Colours between adjacent bands of ``band_idx``: m[:, b_{i+1}] − m[:, b_i], shape (N, m−1)."""
    sub = mags[:, band_idx]
    return np.ascontiguousarray(sub[:, 1:] - sub[:, :-1])


class PatternModel:
    """The training side of one pattern: rows serving it, their standardised colours, a tree."""

    def __init__(self, code: int, mags: np.ndarray, y: np.ndarray, covers: np.ndarray,
                 leafsize: int = 32, mag_idx=(), mag_scale=()):
        self.code = int(code)
        self.band_idx = pattern_bands(code, mags.shape[1])
        self.rows = np.flatnonzero(covers)
        inpat = set(self.band_idx.tolist())
        keep = [(int(j), float(sc)) for j, sc in zip(mag_idx, mag_scale) if int(j) in inpat]
        self.mag_idx = np.array([j for j, _ in keep], dtype=np.intp)
        self.mag_scale = np.array([sc for _, sc in keep], dtype=np.float64)
        colours = self._raw(mags[self.rows])
        self.scaler = Standardizer().fit(colours)
        self.X = np.ascontiguousarray(self._scaled(colours))
        self.y = np.ascontiguousarray(y[self.rows], dtype=np.float64)
        self.leafsize = leafsize
        self._tree = None
        self._sorted = None  # projection_sort of the features, built on first query
        self._lock = threading.Lock()  # guards the lazy builds of _sorted and _tree

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_lock"]  # locks cannot be pickled
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _sorted_layout(self, mod):
        """projection_sort of the features, built once (double-checked under the lock)."""
        layout = self._sorted
        if layout is None:
            with self._lock:
                layout = self._sorted
                if layout is None:
                    layout = self._sorted = mod.projection_sort(np.ascontiguousarray(self.X.T))
        return layout

    def _kdtree(self):
        """The cKDTree of the features, built once (double-checked under the lock)."""
        tree = self._tree
        if tree is None:
            with self._lock:
                tree = self._tree
                if tree is None:
                    tree = self._tree = cKDTree(self.X, leafsize=self.leafsize, balanced_tree=False,
                                                compact_nodes=False)
        return tree

    def _unsorted(self):
        """The training rows in index order with a zero projection axis: knn_sorted then scans
        every row (no sort to pay for when only a few targets query this pattern)."""
        n, d = self.X.shape
        return (np.ascontiguousarray(self.X.T), np.zeros(n), np.arange(n, dtype=np.int64),
                np.zeros(d))

    @property
    def n_train(self) -> int:
        return len(self.rows)

    def _raw(self, mags):
        """Colours, then the magnitude features (unscaled)."""
        c = pattern_colours(mags, self.band_idx)
        if len(self.mag_idx):
            c = np.hstack([c, mags[:, self.mag_idx]])
        return c

    def _scaled(self, raw):
        f = self.scaler.transform(raw)
        if len(self.mag_idx):
            f[:, f.shape[1] - len(self.mag_idx):] *= self.mag_scale
        return f

    def features(self, mags: np.ndarray) -> np.ndarray:
        """Standardised colours (and scaled magnitude features) of target magnitudes (N, B) in
        this pattern's subspace."""
        return np.ascontiguousarray(self._scaled(self._raw(mags)))

    def neighbours(self, F: np.ndarray, k: int, workers: int = 1) -> np.ndarray:
        """(N, k) intp indices (into this pattern's training rows) of the k nearest, nearest first."""
        if self.n_train <= BRUTE_MAX_ROWS:
            mod = kernel_module()
            layout = self._sorted_layout(mod) if len(F) >= SORT_MIN_TARGETS else self._unsorted()
            return mod.knn_sorted(*layout, np.ascontiguousarray(F, dtype=np.float64), int(k),
                                  int(workers))
        _, idx = self._kdtree().query(F, k=k, workers=workers)
        return np.ascontiguousarray(np.asarray(idx, dtype=np.intp).reshape(len(F), k))


class PatternIndex:
    """Training magnitudes (N, B) and labels, with one :class:`PatternModel` per pattern asked for,
    built on first use and kept in a bounded LRU cache (thread-safe: lookups and insertions under
    a lock; a model is built outside it, and if two threads build the same one the first stored
    is kept and returned to both, so every caller of a pattern shares one model)."""

    def __init__(self, mags: np.ndarray, y: np.ndarray, max_cached: int = 64, leafsize: int = 32,
                 mag_idx=(), mag_scale=()):
        self.mag_idx = tuple(int(j) for j in mag_idx)
        self.mag_scale = tuple(float(v) for v in mag_scale)
        if len(self.mag_idx) != len(self.mag_scale):
            raise ValueError(f"{len(self.mag_idx)} magnitude features but {len(self.mag_scale)} scales")
        self.mags = np.asarray(mags, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        self.usable = usable_mask(self.mags)
        self.codes = pattern_codes(self.usable)
        self.max_cached = max_cached
        self.leafsize = leafsize
        self._cache: OrderedDict[int, PatternModel] = OrderedDict()
        self._lock = threading.Lock()  # guards _cache

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_lock"]  # locks cannot be pickled
        with self._lock:
            state["_cache"] = OrderedDict(self._cache)  # a consistent snapshot
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def n_covering(self, code: int) -> int:
        """Training rows that have every band of ``code``."""
        return int(np.count_nonzero((self.codes & np.int64(code)) == np.int64(code)))

    def model(self, code: int) -> PatternModel:
        code = int(code)
        with self._lock:
            m = self._cache.get(code)
            if m is not None:
                self._cache.move_to_end(code)
                return m
        # built outside the lock (a pure function of the training set), so that other patterns
        # are served meanwhile
        covers = (self.codes & np.int64(code)) == np.int64(code)
        built = PatternModel(code, self.mags, self.y, covers, self.leafsize,
                             getattr(self, "mag_idx", ()), getattr(self, "mag_scale", ()))
        with self._lock:
            m = self._cache.get(code)
            if m is None:  # else another thread stored this pattern first: use its model
                m = self._cache[code] = built
            self._cache.move_to_end(code)
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)
        return m

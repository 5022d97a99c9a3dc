"""Batch augmentation of cut-outs: one implementation over an array module (NumPy or CuPy).

The seed paper's augmentations — rotations by 90/180/270°, flips, Gaussian noise, histogram of
oriented gradients (HOG) images — and balancing of the target distribution by resampling rare
values.  Every function takes a whole batch ``x`` of shape (N, C, H, W) and works through the
array module ``xp`` of ``x`` (``numpy`` or ``cupy``; :func:`array_module`), so the CPU and GPU
paths are the same code.

Random draws (which rotation, which flip, whether HOG, the noise field) are made on the host by
a ``numpy.random.Generator`` (:func:`draw`) and only then moved to the device, so a seed gives
the same augmentation on both backends.  Tolerance (float32): rotations, flips and the added
noise (one float32 addition of the same host-drawn numbers) are bit-identical between NumPy and
CuPy; HOG images agree to ~1e-6 relative (square root / arctan2 may differ by an ulp), except
for the rare pixel whose gradient angle lies within ~1e-6 rad of a bin edge and lands in the
neighbouring bin.

``k`` quarter-turns rotate counter-clockwise, as ``numpy.rot90(x, k, axes=(-2, -1))`` (the
seed's clockwise 90° is k = 3).  ``flip_x`` reverses the columns (``np.flip(x, -1)``), ``flip_y``
the rows; rotation comes first, then flips, then noise, then HOG.

:class:`Augmenter` bundles them (callable on NumPy, CuPy or torch batches);
:class:`CutoutDataset` is a torch ``Dataset`` whose ``__getitems__`` augments a whole batch in
one call (use ``DataLoader(ds, batch_size=…, collate_fn=CutoutDataset.collate)``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import ParameterError, check_random_state

__all__ = ["array_module", "Draws", "draw", "apply", "rot90_batch", "flip_batch", "add_noise",
           "hog", "hog_image", "augment_batch", "balance_indices", "Augmenter", "CutoutDataset"]


def array_module(x):
    """``cupy`` for a CuPy array, else ``numpy``."""
    mod = type(x).__module__
    if mod.startswith("cupy"):
        import cupy

        return cupy
    return np


def _to_xp(a, xp):
    return a if xp is np else xp.asarray(a)


@dataclass
class Draws:
    """Host-drawn random choices of one batch: ``k`` (N,) quarter-turns, ``flip_x``/``flip_y``
    (N,) bool, ``hog`` (N,) bool, ``noise`` (N, C, H, W) float32 standard normals or None."""

    k: np.ndarray
    flip_x: np.ndarray
    flip_y: np.ndarray
    hog: np.ndarray
    noise: np.ndarray | None


def draw(rng, shape, *, rotate: bool = True, flip: bool = True, noise: bool = False,
         p_hog: float = 0.0) -> Draws:
    """The random choices for a batch of ``shape`` (N, C, H, W), in a fixed order, from a numpy
    Generator (or seed)."""
    rng = check_random_state(rng)
    n = int(shape[0])
    k = rng.integers(0, 4, n) if rotate else np.zeros(n, dtype=np.int64)
    fx, fy = (rng.random((2, n)) < 0.5) if flip else (np.zeros(n, bool), np.zeros(n, bool))
    h = rng.random(n) < p_hog if p_hog > 0 else np.zeros(n, bool)
    eps = rng.standard_normal(tuple(shape), dtype=np.float32) if noise else None
    return Draws(k, fx, fy, h, eps)


def rot90_batch(x, k):
    """Rotate image ``i`` of (N, C, H, W) ``x`` by ``k[i]`` quarter-turns (np.rot90 sense)."""
    xp = array_module(x)
    k = np.asarray(k) % 4
    if x.shape[-1] != x.shape[-2] and np.any(k % 2):
        raise ParameterError(f"90°/270° rotations need square cut-outs, got {x.shape[-2]}×{x.shape[-1]}")
    out = x.copy()
    for kk in (1, 2, 3):
        idx = np.flatnonzero(k == kk)
        if idx.size:
            sel = _to_xp(idx, xp)
            out[sel] = xp.rot90(x[sel], kk, axes=(-2, -1))
    return out


def flip_batch(x, flip_x, flip_y):
    """Reverse the columns of images with ``flip_x`` and the rows of those with ``flip_y``."""
    xp = array_module(x)
    fx = _to_xp(np.asarray(flip_x, bool)[:, None, None, None], xp)
    fy = _to_xp(np.asarray(flip_y, bool)[:, None, None, None], xp)
    x = xp.where(fx, x[..., ::-1], x)
    return xp.where(fy, x[..., ::-1, :], x)


def add_noise(x, eps, sigma):
    """x + σ·ε with host-drawn standard normals ε (N, C, H, W) and σ a number or an array
    broadcasting to (N, C, 1, 1) (e.g. each image's background σ per band)."""
    xp = array_module(x)
    sig = np.asarray(sigma, dtype=np.float32)
    if sig.ndim == 2:
        sig = sig[:, :, None, None]
    noise = (np.asarray(eps, np.float32) * sig).astype(np.float32)
    return x + _to_xp(noise, xp).astype(x.dtype, copy=False)


def _gradients(x):
    xp = array_module(x)
    gx = xp.zeros_like(x)
    gy = xp.zeros_like(x)
    gx[..., :, 1:-1] = x[..., :, 2:] - x[..., :, :-2]
    gy[..., 1:-1, :] = x[..., 2:, :] - x[..., :-2, :]
    return gx, gy


def hog(x, cell: int = 4, n_bins: int = 9):
    """Histograms of oriented gradients, (N, C, H/cell, W/cell, n_bins).

    Gradients are central differences x[j+1] − x[j−1] (0 on the border rows/columns, as
    scikit-image), orientation unsigned in [0, π) measured from the column axis towards
    increasing row, hard-binned into ``n_bins``; each cell holds the mean gradient magnitude per
    bin over its pixels.
    """
    xp = array_module(x)
    n, c, h, w = x.shape
    if h % cell or w % cell:
        raise ParameterError(f"HOG cell {cell} must divide the cut-out size {h}×{w}")
    gx, gy = _gradients(x)
    mag = xp.sqrt(gx * gx + gy * gy)
    ang = xp.arctan2(gy, gx) % np.pi
    b = xp.clip(xp.floor(ang / (np.pi / n_bins)).astype(np.int64), 0, n_bins - 1)
    onehot = (b[..., None] == _to_xp(np.arange(n_bins), xp)).astype(x.dtype) * mag[..., None]
    hist = onehot.reshape(n, c, h // cell, cell, w // cell, cell, n_bins).sum(axis=(3, 5))
    return hist / (cell * cell)


def _hog_templates(cell: int, n_bins: int) -> np.ndarray:
    """(n_bins, cell, cell) line through the cell centre perpendicular to each bin's gradient
    direction (anti-aliased, weight max(0, 1 − distance) and normalised to sum 1)."""
    u, v = np.mgrid[:cell, :cell] - (cell - 1) / 2.0            # rows, columns
    t = np.empty((n_bins, cell, cell), dtype=np.float32)
    for b in range(n_bins):
        theta = (b + 0.5) * np.pi / n_bins                         # gradient direction
        dist = np.abs(v * np.cos(theta) + u * np.sin(theta))      # distance to the line ⟂ gradient
        wgt = np.clip(1.0 - dist, 0.0, None)
        t[b] = wgt / wgt.sum()
    return t


def hog_image(x, cell: int = 4, n_bins: int = 9):
    """The HOG visualisation as an image of the input's shape (N, C, H, W): every cell is the sum
    of each orientation bin's line (perpendicular to the gradient, as scikit-image draws it)
    weighted by that bin's histogram value × cell²."""
    xp = array_module(x)
    n, c, h, w = x.shape
    hist = hog(x, cell, n_bins)
    tmpl = _to_xp(_hog_templates(cell, n_bins), xp).astype(x.dtype)
    img = xp.einsum("ncijb,buv->nciujv", hist, tmpl) * (cell * cell)
    return img.reshape(n, c, h, w).astype(x.dtype, copy=False)


def apply(x, d: Draws, *, noise_sigma=0.0, hog_cell: int = 4, hog_bins: int = 9):
    """Apply host draws ``d`` to the batch ``x`` (NumPy or CuPy): rotate, flip, noise, HOG."""
    x = rot90_batch(x, d.k)
    x = flip_batch(x, d.flip_x, d.flip_y)
    if d.noise is not None:
        x = add_noise(x, d.noise, noise_sigma)
    if d.hog.any():
        xp = array_module(x)
        idx = _to_xp(np.flatnonzero(d.hog), xp)
        x[idx] = hog_image(x[idx], hog_cell, hog_bins)
    return x


def augment_batch(x, rng=None, *, rotate: bool = True, flip: bool = True, noise_sigma=0.0,
                  p_hog: float = 0.0, hog_cell: int = 4, hog_bins: int = 9):
    """Augment a whole batch (N, C, H, W) in one call; same ``rng`` seed → same output on NumPy
    and CuPy.  ``noise_sigma``: 0 for none, a number or (N, C) per image and band."""
    noisy = np.any(np.asarray(noise_sigma) != 0)
    d = draw(rng, x.shape, rotate=rotate, flip=flip, noise=bool(noisy), p_hog=p_hog)
    return apply(x, d, noise_sigma=noise_sigma, hog_cell=hog_cell, hog_bins=hog_bins)


def balance_indices(y, rng=None, *, n_bins: int = 10, max_factor: float = 5.0) -> np.ndarray:
    """Row indices that balance the distribution of ``y``: every row once, plus rows of sparse
    bins (``n_bins`` equal-width bins over the finite range) drawn again with replacement until
    each bin holds min(the fullest bin's count, ``max_factor`` × its own) rows.  Duplicated rows
    get different random augmentations when used with :class:`Augmenter` (the seed paper's way
    of raising the share of large dust values)."""
    rng = check_random_state(rng)
    y = np.asarray(y, dtype=float).reshape(-1)
    if n_bins < 1 or max_factor < 1:
        raise ParameterError(f"n_bins must be ≥ 1 and max_factor ≥ 1, got {n_bins}, {max_factor}")
    ok = np.flatnonzero(np.isfinite(y))
    idx = [np.arange(y.size)]
    if ok.size == 0:
        return idx[0]
    lo, hi = y[ok].min(), y[ok].max()
    edges = np.linspace(lo, hi, n_bins + 1)
    which = np.clip(np.searchsorted(edges, y[ok], side="right") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    top = counts.max()
    for b in range(n_bins):
        if counts[b] == 0:
            continue
        want = int(min(top, np.floor(max_factor * counts[b])))
        extra = want - counts[b]
        if extra > 0:
            idx.append(rng.choice(ok[which == b], size=extra, replace=True))
    return np.concatenate(idx)


class Augmenter:
    """The augmentations as one callable on a whole batch (NumPy, CuPy or torch (N, C, H, W)).

    rotate, flip : random quarter-turns and flips; noise_sigma : Gaussian noise σ (0: none; a
    number, or "background" for each image's own background σ per band, measured on its border
    pixels, times ``noise_scale``); p_hog : probability that an image is replaced by its HOG
    image; seed : int / Generator for the host draws.
    """

    def __init__(self, *, rotate: bool = True, flip: bool = True, noise_sigma=0.0,
                 noise_scale: float = 1.0, p_hog: float = 0.0, hog_cell: int = 4, hog_bins: int = 9,
                 seed=None):
        if not 0.0 <= float(p_hog) <= 1.0:
            raise ParameterError(f"p_hog must be in [0, 1], got {p_hog!r}")
        self.rotate, self.flip, self.noise_sigma = rotate, flip, noise_sigma
        self.noise_scale, self.p_hog, self.hog_cell, self.hog_bins = noise_scale, p_hog, hog_cell, hog_bins
        self.rng = check_random_state(seed)

    def _sigma(self, x):
        if isinstance(self.noise_sigma, str):
            if self.noise_sigma != "background":
                raise ParameterError(f"noise_sigma must be a number or 'background', got {self.noise_sigma!r}")
            xp = array_module(x)
            border = xp.concatenate([x[..., :2, :].reshape(x.shape[0], x.shape[1], -1),
                                     x[..., -2:, :].reshape(x.shape[0], x.shape[1], -1)], axis=-1)
            sig = xp.std(border, axis=-1) * self.noise_scale
            return sig.get() if xp is not np else sig
        return float(self.noise_sigma) * self.noise_scale

    def __call__(self, x, rng=None):
        rng = self.rng if rng is None else check_random_state(rng)
        torch_in = type(x).__module__.startswith("torch")
        if torch_in:
            tensor = x
            if tensor.is_cuda:
                try:
                    import cupy

                    x = cupy.from_dlpack(tensor.detach())
                except ImportError:
                    x = tensor.detach().cpu().numpy()
            else:
                x = tensor.detach().numpy()
        out = augment_batch(x, rng, rotate=self.rotate, flip=self.flip, noise_sigma=self._sigma(x),
                            p_hog=self.p_hog, hog_cell=self.hog_cell, hog_bins=self.hog_bins)
        if torch_in:
            import torch

            out = torch.from_dlpack(out) if array_module(out) is not np else torch.from_numpy(np.ascontiguousarray(out))
            return out.to(tensor.device)
        return out


class CutoutDataset:
    """A torch ``Dataset`` of cut-outs (and targets), augmented a whole batch per call.

    ``ds[i]`` → (image (C, H, W) tensor, target tensor or None); ``ds.__getitems__(rows)`` →
    (batch (n, C, H, W), targets (n, T)), augmented in one :class:`Augmenter` call; with
    ``DataLoader(ds, batch_size=64, shuffle=True, collate_fn=CutoutDataset.collate)`` each batch
    is one such call.  Draws come from the Augmenter's host generator, in the order batches are
    asked for (deterministic with ``num_workers=0``).
    """

    def __init__(self, images, targets=None, augmenter: Augmenter | None = None):
        from .io import as_cube

        self.images = np.ascontiguousarray(as_cube(images), dtype=np.float32)
        self.targets = None if targets is None else np.asarray(targets, dtype=np.float32)
        if self.targets is not None:
            if self.targets.ndim == 1:
                self.targets = self.targets[:, None]
            if self.targets.shape[0] != self.images.shape[0]:
                raise ParameterError(f"{self.targets.shape[0]} targets for {self.images.shape[0]} images")
        self.augmenter = augmenter

    def __len__(self):
        return self.images.shape[0]

    def __getitems__(self, rows):
        import torch

        rows = np.asarray(rows, dtype=np.int64)
        x = self.images[rows]
        if self.augmenter is not None:
            x = self.augmenter(x)
        y = None if self.targets is None else torch.from_numpy(self.targets[rows])
        return torch.from_numpy(np.ascontiguousarray(x)), y

    def __getitem__(self, i):
        x, y = self.__getitems__([int(i)])
        return x[0], (None if y is None else y[0])

    @staticmethod
    def collate(batch):
        """collate_fn for a DataLoader: the batch ``__getitems__`` already built."""
        return batch


def _make_dataset_class():
    """CutoutDataset as a real torch Dataset subclass when torch is importable."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return CutoutDataset
    return type("CutoutDataset", (CutoutDataset, torch.utils.data.Dataset),
                {"__doc__": CutoutDataset.__doc__, "__module__": __name__})


CutoutDataset = _make_dataset_class()

"""Dust from images: mock JWST cut-outs, batch augmentation (NumPy/CuPy), CNNs (1- and 3-band).

    from galfast.images import simulate_cutouts, DustCNN, read_cutouts
    mock = simulate_cutouts(2000, seed=1, n_jobs=2, out="mock.fits")   # F277W/F356W/F444W
    cnn = DustCNN(targets=("av", "ebv", "log_ssfr")).fit(mock, mock.table)
    out = cnn.predict_table(read_cutouts("observed.fits"))   # id, av, ebv, log_ssfr, rv, flags

Modules: :mod:`~galfast.images.mock` (galsim bulge + disc + clumps with their own dust
screens), :mod:`~galfast.images.io` (FITS stacks), :mod:`~galfast.images.augment` (one
implementation over NumPy or CuPy), :mod:`~galfast.images.cnn` (the seed paper's network),
:mod:`~galfast.images.estimator` (``DustCNN``), :mod:`~galfast.images.plots`,
:mod:`~galfast.images.cli` (``galfast images simulate|train|predict``).
"""
from importlib import import_module

_LAZY = {
    "simulate_cutouts": "galfast.images.mock", "MockPriors": "galfast.images.mock",
    "CutoutSet": "galfast.images.io", "read_cutouts": "galfast.images.io",
    "write_cutouts": "galfast.images.io",
    "Augmenter": "galfast.images.augment", "augment_batch": "galfast.images.augment",
    "balance_indices": "galfast.images.augment", "hog_image": "galfast.images.augment",
    "CutoutDataset": "galfast.images.augment",
    "DustCNN": "galfast.images.estimator",
}
__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'galfast.images' has no attribute {name!r}")

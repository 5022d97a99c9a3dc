"""galfast: fast physical quantities from galaxy survey photometry.

Public API (heavy parts are imported on first use)::

    import galfast
    cat  = galfast.read_catalog("survey.parquet")
    phot = galfast.Photometry.from_table(cat, ["F090W", "F150W", "F277W", "F444W"])
    z, z_err, flags = galfast.photoz(train_mags, train_z, target_mags)
    sims = galfast.simulate(1000, bands=galfast.bands.JWST_HST_BANDS, seed=1)
"""
from importlib import import_module

from ._version import __version__
from .catalog import iter_catalog, read_catalog, write_catalog
from .errors import BandError, CatalogError, CatalogWarning, GalfastError, ModelFileError
from .photometry import Photometry

# name -> module that defines it; imported lazily so `import galfast` stays light
_LAZY = {
    "photoz": "galfast.redshift",
    "KLLRPhotoZ": "galfast.redshift",
    "PropertyRegressor": "galfast.props",
    "NeuralLikelihood": "galfast.posterior",
    "posterior": "galfast.posterior",
    "simulate": "galfast.sim",
    "metrics": "galfast.metrics",
    "bands": "galfast.bands",
    "datasets": "galfast.datasets",
    "flags": "galfast.flags",
    "stream": "galfast.stream",
    "CatalogWriter": "galfast.stream",
    "load_model": "galfast.modelfile",
    "DustCNN": "galfast.images",
    "simulate_cutouts": "galfast.images",
    "images": "galfast.images",
}

__all__ = ["__version__", "read_catalog", "write_catalog", "iter_catalog", "Photometry",
           "GalfastError", "CatalogError", "BandError", "CatalogWarning", "ModelFileError",
           *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        module = import_module(_LAZY[name])
        value = module if module.__name__.endswith("." + name) else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'galfast' has no attribute {name!r}")

"""Mock photometric catalogues with known truth (bagpipes physics, batched).

    from galfast.sim import simulate, Priors
    table = simulate(10_000, ["F115W", "F150W", "F277W", "F444W"], depths="jwst_deep",
                     priors=Priors(z=(0, 7)), seed=1, n_jobs=2)
    simulate(10**6, "jwst_hst", seed=1, n_jobs=-1, out="mocks.parquet", return_table=False)

``out`` may be any catalogue format (Parquet/CSV streamed, FITS/ECSV written at the end); an
interrupted run given the same arguments resumes.  :func:`simulation_config` reads a run's
arguments back from its table or file.

``model_fluxes(params, bands)`` gives noiseless photometry [µJy] for given parameters, equal to
``bagpipes.model_galaxy(...).photometry``.
"""
from .forward import ForwardModel, model_fluxes
from .noise import DEPTH_PRESETS, ErrorTable, add_noise, error_table
from .priors import Priors
from .runner import BLOCK, META_KEY, TRUTH_COLUMNS, simulate, simulation_config

__all__ = ["simulate", "Priors", "model_fluxes", "ForwardModel", "ErrorTable", "DEPTH_PRESETS",
           "error_table", "add_noise", "simulation_config", "TRUTH_COLUMNS", "BLOCK", "META_KEY"]

"""Mock photometric catalogues with known truth (bagpipes physics, batched).

    from galfast.sim import simulate, Priors
    table = simulate(10_000, ["F115W", "F150W", "F277W", "F444W"], depths="jwst_deep",
                     priors=Priors(z=(0, 7)), seed=1, n_jobs=2)

``model_fluxes(params, bands)`` gives noiseless photometry [µJy] for given parameters, equal to
``bagpipes.model_galaxy(...).photometry``.
"""
from .forward import ForwardModel, model_fluxes
from .noise import DEPTH_PRESETS, ErrorTable, add_noise, error_table
from .priors import Priors
from .runner import BLOCK, TRUTH_COLUMNS, simulate

__all__ = ["simulate", "Priors", "model_fluxes", "ForwardModel", "ErrorTable", "DEPTH_PRESETS",
           "error_table", "add_noise", "TRUTH_COLUMNS", "BLOCK"]

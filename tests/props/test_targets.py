"""galfast.props.targets: the SFR floor and the units of the targets."""
import numpy as np

from galfast.props.targets import KNOWN_TARGETS, LOG_SSFR_FLOOR, floor_log_sfr, target_unit


def test_floor_log_sfr_raises_to_the_ssfr_floor_and_keeps_nan():
    out = floor_log_sfr([-50.0, 1.0, np.nan], [10.0, 10.0, 10.0])
    assert out[0] == 10.0 + LOG_SSFR_FLOOR and out[1] == 1.0 and np.isnan(out[2])


def test_units_of_the_targets():
    assert {target_unit(t) for t in KNOWN_TARGETS} == {"dex", "mag", "Gyr"}
    assert target_unit("log_mstar") == "dex" and target_unit("av") == "mag" and target_unit("age_mw") == "Gyr"
    assert target_unit("log_age") == "dex"          # any base-10 logarithm
    assert target_unit("sfh_tau") is None

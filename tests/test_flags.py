"""The flag registry: one definition of every bit, agreeing with the compiled kernel."""
import numpy as np
import pytest

from galfast import flags


def test_bits_are_distinct_powers_of_two_with_names_and_docs():
    values = list(flags.FLAGS)
    assert len(set(values)) == len(values)
    assert all(v > 0 and v & (v - 1) == 0 for v in values)
    names = [f.name for f in flags.FLAGS.values()]
    assert len(set(names)) == len(names)
    assert all(f.doc for f in flags.FLAGS.values())


def test_kernel_sets_the_registry_values():
    from galfast._ext import kllr

    kernel = kllr.KERNEL_FLAGS
    assert kernel, "the kernel exposes its flag constants"
    for name, value in kernel.items():
        assert flags.bit(name) == value, name


def test_describe_has_and_bit():
    v = flags.MISSING_BANDS | flags.NO_ESTIMATE
    assert flags.describe(v) == ["no_estimate", "missing_bands"]
    col = np.array([0, v, flags.EXTRAPOLATION], dtype=np.int64)
    np.testing.assert_array_equal(flags.has(col, "missing_bands"), [False, True, False])
    with pytest.raises(ValueError, match="unknown flag 'nope'"):
        flags.bit("nope")
    with pytest.raises(ValueError, match="does not define"):
        flags.describe(1 << 40)


def test_column_description_and_table():
    d = flags.column_description([flags.NO_ESTIMATE, flags.EXTRAPOLATION])
    assert d == "galfast.flags bits: 1 extrapolation, 8 no_estimate"
    t = flags.flags_table()
    assert len(t) == len(flags.FLAGS) and list(t["value"]) == sorted(flags.FLAGS)


def test_no_module_defines_its_own_flag_values():
    """Bits are defined once: no `FLAG_... = <number>` assignments anywhere else in the package."""
    import re
    from pathlib import Path

    root = Path(flags.__file__).parent
    pattern = re.compile(r"^\s*FLAG_[A-Z_]+\s*(?::\s*int)?\s*=\s*\d", re.M)
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "flags.py" and pattern.search(p.read_text())]
    assert offenders == []

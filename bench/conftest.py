"""pytest setup of the benchmark suites: collect ``bench/bench_*.py`` (pytest's default pattern is
``test_*.py``, so ``pytest bench`` and ``make bench`` would otherwise find nothing).

Sizes scale with ``$GALFAST_BENCH_SCALE`` and threads follow ``$GALFAST_BENCH_THREADS`` (see
bench/common.py); ``pytest bench --benchmark-disable`` runs each benchmark once, as a test.
"""
import pytest


def pytest_collect_file(file_path, parent):
    # a file named on the command line is collected by pytest itself already
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None

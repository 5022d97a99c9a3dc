"""Print speed ratios of galfast against lean baselines, each measured in this one process.

Runs ``main()`` of every ``bench/ratios_*.py`` (one per capability) in turn.  Machines here are
shared and noisy: quote the ratios, not the absolute times.

    python bench/ratios.py            # all
    python bench/ratios.py photoz     # only bench/ratios_photoz.py
"""
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for path in sorted(HERE.glob("ratios_*.py")):
        name = path.stem.removeprefix("ratios_")
        if argv and name not in argv:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"=== {name}")
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())

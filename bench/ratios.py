"""Print speed ratios of galfast against lean baselines, each measured in this one process.

Runs ``main()`` of every ``bench/ratios_*.py`` (one per capability) in turn.  Machines here are
shared and noisy: quote the ratios, not the absolute times.

    python bench/ratios.py            # all
    python bench/ratios.py photoz     # only bench/ratios_photoz.py

``$GALFAST_BENCH_THREADS`` sets the threads (default 2); ``$GALFAST_BENCH_SCALE`` scales every
problem size (e.g. 0.01 for a quick check that the scripts run).
"""
import argparse
import sys

from common import HERE, load_sibling

CAPABILITIES = sorted(p.stem.removeprefix("ratios_") for p in HERE.glob("ratios_*.py"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("which", nargs="*", metavar="CAPABILITY",
                    help=f"which to run (default all): {', '.join(CAPABILITIES)}")
    args = ap.parse_args(argv)
    unknown = sorted(set(args.which) - set(CAPABILITIES))
    if unknown:
        ap.error(f"unknown capability {', '.join(unknown)} (choose from {', '.join(CAPABILITIES)})")
    for name in CAPABILITIES:
        if args.which and name not in args.which:
            continue
        print(f"=== {name}")
        load_sibling(f"ratios_{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())

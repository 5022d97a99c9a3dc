"""Benchmark regression gate: compare a pytest-benchmark JSON against the stored baseline.

    python bench/gate_compare.py [CURRENT.json] [--baseline bench/baseline/benchmarks.json]
                                 [--threshold 0.20] [--stat min]

Absolute times move 3× on shared machines, so every benchmark's time is divided by the time of
the fixed reference workload (``test_gate_reference_numpy_blas``, bench/bench_gate_reference.py)
measured in the same run, and the gate compares these normalised figures:

    slowdown = (t / t_ref)_current / (t / t_ref)_baseline

A benchmark whose slowdown exceeds 1 + threshold (default 20 %) is a regression: the script
lists it and exits with status 1 (``make bench-compare`` fails).  Benchmarks only in one of the
two files are listed and not judged; a run without the reference benchmark is an error (status
2), as is a run made at another ``$GALFAST_BENCH_SCALE`` than the baseline (sizes differ).

Refreshing the baseline (after an intended speed change, or a new benchmark): run
``make bench`` on the reference machine, check the figures, then
``cp bench/results/latest.json bench/baseline/benchmarks.json`` and commit it with a message
saying why.  ``make bench-compare`` runs the gate on the last ``make bench``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = "test_gate_reference_numpy_blas"
DEFAULT_BASELINE = HERE / "baseline" / "benchmarks.json"
DEFAULT_CURRENT = HERE / "results" / "latest.json"

__all__ = ["load", "normalised", "compare", "main", "REFERENCE", "GateError"]


class GateError(ValueError):
    """A benchmark file the gate cannot judge (no reference benchmark, other problem size)."""


def load(path) -> dict:
    """The pytest-benchmark JSON at ``path``."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise GateError(f"cannot read benchmark file {path}: {exc}") from None


def _key(bench: dict) -> str:
    return bench.get("fullname") or bench["name"]


def _scale(data: dict):
    """The $GALFAST_BENCH_SCALE of a run, as the reference benchmark records it."""
    for bench in data.get("benchmarks", []):
        if bench["name"].split("[")[0] == REFERENCE:
            return str((bench.get("extra_info") or {}).get("galfast_bench_scale", "1"))
    return None


def normalised(data: dict, stat: str = "min", source: str = "") -> dict:
    """{benchmark: its ``stat`` time / the reference workload's} of one run."""
    benches = data.get("benchmarks", [])
    ref = [b for b in benches if b["name"].split("[")[0] == REFERENCE]
    if not ref:
        raise GateError(f"{source or 'the run'} has no {REFERENCE} benchmark (bench/bench_gate_reference.py):"
                        " the gate cannot normalise its times")
    t_ref = float(ref[0]["stats"][stat])
    if not t_ref > 0:
        raise GateError(f"{source}: reference time {t_ref} is not positive")
    return {_key(b): float(b["stats"][stat]) / t_ref for b in benches if b["name"].split("[")[0] != REFERENCE}


def compare(current: dict, baseline: dict, *, threshold: float = 0.20, stat: str = "min") -> dict:
    """{"rows": [(benchmark, baseline norm, current norm, slowdown, verdict)], "regressions": [...],
    "only_current": [...], "only_baseline": [...]}; verdict "REGRESSION" when slowdown > 1 + threshold."""
    cur = normalised(current, stat, "current run")
    base = normalised(baseline, stat, "baseline")
    if _scale(current) != _scale(baseline):
        raise GateError(f"the run used GALFAST_BENCH_SCALE={_scale(current)}, the baseline "
                        f"{_scale(baseline)}: problem sizes differ, times are not comparable")
    rows, regressions = [], []
    for name in sorted(set(cur) & set(base)):
        slow = cur[name] / base[name]
        verdict = "REGRESSION" if slow > 1.0 + threshold else ("faster" if slow < 1.0 - threshold else "ok")
        rows.append((name, base[name], cur[name], slow, verdict))
        if verdict == "REGRESSION":
            regressions.append(name)
    return {"rows": rows, "regressions": regressions, "only_current": sorted(set(cur) - set(base)),
            "only_baseline": sorted(set(base) - set(cur))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("current", nargs="?", default=str(DEFAULT_CURRENT))
    ap.add_argument("--baseline", default=str(DEFAULT_BASELINE))
    ap.add_argument("--threshold", type=float, default=0.20, help="allowed slowdown (default 0.20 = 20 %%)")
    ap.add_argument("--stat", default="min", choices=("min", "median", "mean"))
    args = ap.parse_args(argv)
    try:
        res = compare(load(args.current), load(args.baseline), threshold=args.threshold, stat=args.stat)
    except GateError as exc:
        print(f"bench-compare: error: {exc}", file=sys.stderr)
        return 2
    width = max([len(r[0]) for r in res["rows"]] + [20])
    print(f"{'benchmark':<{width}}  {'baseline/ref':>12}  {'current/ref':>12}  {'slowdown':>8}")
    for name, b, c, s, verdict in res["rows"]:
        print(f"{name:<{width}}  {b:12.4g}  {c:12.4g}  {s:8.2f}  {verdict}")
    for name in res["only_current"]:
        print(f"{name:<{width}}  (new: not in the baseline; refresh it to gate this one)")
    for name in res["only_baseline"]:
        print(f"{name:<{width}}  (in the baseline, not run now)")
    if res["regressions"]:
        print(f"bench-compare: {len(res['regressions'])} benchmark(s) slower by more than "
              f"{args.threshold:.0%} (normalised by {REFERENCE}): {', '.join(res['regressions'])}")
        return 1
    print(f"bench-compare: {len(res['rows'])} benchmarks within {args.threshold:.0%} of the baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())

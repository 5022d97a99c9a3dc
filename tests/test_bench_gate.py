"""The benchmark regression gate's comparison logic (bench/gate_compare.py) on synthetic
pytest-benchmark JSON files: normalised by the reference workload, > 20 % slower fails."""
import importlib.util
import json
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "bench" / "gate_compare.py"
spec = importlib.util.spec_from_file_location("gate_compare", PATH)
gate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gate)


def _run(times: dict, ref: float, scale="1") -> dict:
    benches = [{"name": gate.REFERENCE, "fullname": f"bench/bench_gate_reference.py::{gate.REFERENCE}",
                "stats": {"min": ref, "median": ref * 1.1, "mean": ref * 1.2},
                "extra_info": {"galfast_bench_scale": scale}}]
    for name, t in times.items():
        benches.append({"name": name, "fullname": f"bench/bench_x.py::{name}",
                        "stats": {"min": t, "median": t * 1.1, "mean": t * 1.2}, "extra_info": {}})
    return {"machine_info": {}, "benchmarks": benches}


def _files(tmp_path, current, baseline):
    c, b = tmp_path / "current.json", tmp_path / "baseline.json"
    c.write_text(json.dumps(current))
    b.write_text(json.dumps(baseline))
    return [str(c), "--baseline", str(b)]


BASE = _run({"test_a": 1.0, "test_b": 2.0}, ref=0.5)


def test_a_30_percent_regression_fails(tmp_path, capsys):
    cur = _run({"test_a": 1.3, "test_b": 2.0}, ref=0.5)
    assert gate.main(_files(tmp_path, cur, BASE)) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "test_a" in out.split("REGRESSION")[0].splitlines()[-1]
    assert gate.compare(cur, BASE)["regressions"] == ["bench/bench_x.py::test_a"]


def test_a_10_percent_slowdown_passes(tmp_path):
    cur = _run({"test_a": 1.1, "test_b": 1.9}, ref=0.5)
    assert gate.main(_files(tmp_path, cur, BASE)) == 0


def test_a_machine_three_times_slower_is_not_a_regression(tmp_path):
    """Everything 3× slower, the reference too: normalised figures unchanged."""
    cur = _run({"test_a": 3.0, "test_b": 6.0}, ref=1.5)
    assert gate.main(_files(tmp_path, cur, BASE)) == 0
    # … while on a 3× slower machine, a benchmark 30 % slower than that still fails
    cur = _run({"test_a": 3.9, "test_b": 6.0}, ref=1.5)
    assert gate.main(_files(tmp_path, cur, BASE)) == 1


def test_new_and_dropped_benchmarks_are_listed_not_judged(tmp_path, capsys):
    cur = _run({"test_a": 1.0, "test_c": 99.0}, ref=0.5)
    assert gate.main(_files(tmp_path, cur, BASE)) == 0
    out = capsys.readouterr().out
    assert "test_c  (new" in out and "test_b  (in the baseline" in out


def test_runs_the_gate_cannot_judge(tmp_path):
    no_ref = {"benchmarks": [b for b in BASE["benchmarks"] if b["name"] != gate.REFERENCE]}
    assert gate.main(_files(tmp_path, no_ref, BASE)) == 2
    assert gate.main(_files(tmp_path, _run({"test_a": 1.0}, 0.5, scale="0.1"), BASE)) == 2
    with pytest.raises(gate.GateError, match="GALFAST_BENCH_SCALE"):
        gate.compare(_run({"test_a": 1.0}, 0.5, scale="0.1"), BASE)


def test_the_stored_baseline_has_the_reference():
    base = gate.load(gate.DEFAULT_BASELINE)
    assert gate.normalised(base)

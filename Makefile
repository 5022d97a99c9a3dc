# galfast: `make demo` (set up + main job on the bundled catalogue), `make test` (set up + pytest).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# torch first, pinned to the local CPU wheel, so that nothing pulls a CUDA build
TORCH  ?= torch==2.13.0
# two cores: one BLAS/OpenMP thread pool, sized on purpose
export OMP_NUM_THREADS ?= 2
export MKL_NUM_THREADS ?= 2
export OPENBLAS_NUM_THREADS ?= 2

.PHONY: demo test bench bench-compare fuzz build clean venv

$(VENV)/.stamp-base:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q "$(TORCH)"
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-base pyproject.toml setup.py $(wildcard csrc/*.pyx csrc/*.pxi csrc/*.h)
	$(PIP) install -q -e ".[test,sim]"
	touch $@

$(VENV)/.stamp-bench: $(VENV)/.stamp-test
	$(PIP) install -q -e ".[test,bench]"
	touch $@

venv: $(VENV)/.stamp-test

build: $(VENV)/.stamp-test
	$(PY) setup.py -q build_ext --inplace

demo: $(VENV)/.stamp-test
	$(VENV)/bin/galfast demo --out demo_output

test: $(VENV)/.stamp-test
	$(PY) -m pytest -q tests

bench: $(VENV)/.stamp-bench
	mkdir -p bench/results
	$(PY) -m pytest -q bench --benchmark-enable --benchmark-only --benchmark-json=bench/results/latest.json
	$(PY) bench/ratios.py

# the regression gate: the last `make bench` (bench/results/latest.json) against the stored
# baseline, each benchmark normalised by the reference workload of the same run; fails on > 20 %
# (refresh: see bench/gate_compare.py)
bench-compare: $(VENV)/.stamp-test
	$(PY) bench/gate_compare.py bench/results/latest.json --baseline bench/baseline/benchmarks.json

# hypothesis fuzzing of every public entry point, FUZZ_EXAMPLES examples each (tests/fuzz)
FUZZ_EXAMPLES ?= 10000
fuzz: $(VENV)/.stamp-test
	GALFAST_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider tests/fuzz

clean:
	rm -rf build *.egg-info galfast/_ext/*.so galfast/_ext/*.c csrc/*.c

#!/usr/bin/env bash
# Trains the 11-band (HST+JWST) bench likelihood used by bench/ratios_posterior.py and
# bench/posterior_sbc.py: 30,000 simulated galaxies (seed 11, 5 % of bands missing at random),
# 80 epochs; writes bench/posterior_results/nl11.safetensors and the evaluation report
# bench/posterior_results/likelihood/report.md.  About 65 min on 2 loaded cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=2
PY=${PYTHON:-python}
SIMS=${SIMS:-bench/results/posterior_sims30k.parquet}
$PY -m galfast.cli simulate --n 30000 --bands jwst_hst --missing-fraction 0.05 --seed 11 --jobs 2 \
    --out "$SIMS" --no-progress --overwrite
$PY -m galfast.cli posterior train --catalog "$SIMS" --out bench/posterior_results/nl11.safetensors \
    --report bench/posterior_results/likelihood --epochs 80 --lr 2e-3 --patience 10 --jobs 2 --overwrite --no-progress

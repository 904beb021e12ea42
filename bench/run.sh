#!/bin/bash
# Runs every benchmark and prints their JSON lines (one per measured configuration).
# Usage: bench/run.sh [BUILD_DIR] (default build), from the repository root, on an otherwise
# idle machine: the figures are ratios measured within one run (MFU against the sgemm rate
# measured alongside; shared vs recomputed prompts; 2 ranks vs 1).
set -eu
B="${1:-build}/bench"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
"$B/bench_tokenizer"
"$B/bench_debian"
"$B/bench_metrics"
"$B/bench_train_step"
bash "$(dirname "$0")/run_sampler.sh" "${1:-build}"

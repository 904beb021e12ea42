#!/usr/bin/env bash
# The checks that need a GPU, in one run (for a machine with one; see docs/cuda.md): builds with
# nvcc, runs the gpu-labelled tests (the CUDA kernels, the backend table's training steps and
# checkpoints, the decoder and the collectives against the CPU), then the benchmarks, writing
# everything to OUT (default ./gpu-check): ctest's output and the benchmarks' JSON lines.
# Usage: scripts/gpu_check.sh [OUT] (QUICK=1: the benchmarks' smallest shapes only).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check}
mkdir -p "$out"
nvidia-smi -L >"$out/devices.txt" 2>&1 || { echo "gpu_check: no GPU (nvidia-smi -L failed)"; exit 2; }
bash scripts/build.sh -DRESTPG_CUDA=ON >"$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 1; }
(cd build && ctest -L gpu --output-on-failure) >"$out/ctest_gpu.txt" 2>&1
rc=$?
tail -5 "$out/ctest_gpu.txt"
export OMP_NUM_THREADS=4 OPENBLAS_NUM_THREADS=4
if [ "${QUICK:-0}" = 1 ]; then
  build/bench/bench_cuda --quick >"$out/bench_cuda.jsonl"
  build/bench/bench_train_step --device cuda --dtype bf16 --shapes tiny --threads 4 >"$out/bench_train_step.jsonl"
else
  build/bench/bench_cuda >"$out/bench_cuda.jsonl"
  for dt in bf16 fp32; do
    build/bench/bench_train_step --device cuda --dtype $dt --shapes 124M:1024,llama3.2-1b:2048 --threads 4 --steps 5
  done >"$out/bench_train_step.jsonl"
  # The loss over the whole vocabulary and in chunks of 32768 (the cuda default): activations, step time.
  build/bench/bench_train_step --device cuda --dtype bf16 --shapes gemma3-270m:1024 --batch 4 --threads 4 --steps 5 \
    --vocab-chunk 0,32768 >>"$out/bench_train_step.jsonl"
  build/bench/bench_sampler --device cuda --cases kv --threads 4 >"$out/bench_sampler.jsonl"
fi
# The all-reduce with and without overlap needs two GPUs (NCCL between two ranks).
if [ "$(grep -c '^GPU' "$out/devices.txt")" -ge 2 ]; then
  [ "${QUICK:-0}" = 1 ] && shapes=tiny || shapes=124M:1024
  mpiexec -n 2 --bind-to none build/bench/bench_overlap --device cuda --shapes $shapes --threads 4 >"$out/bench_overlap.jsonl"
fi
cat "$out"/*.jsonl
exit $rc

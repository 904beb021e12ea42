#!/bin/bash
# Sampler throughput (bench/bench_sampler.c): every case on 1 rank, then the run_n32 case under
# mpiexec -n 2 (one thread per rank, so 2 ranks use the 2 cores a 1-rank run leaves half idle),
# then the 2-rank/1-rank throughput ratio as one more JSON line. Prints JSON lines only.
# Usage: bench/run_sampler.sh [BUILD_DIR] (default build), from the repository root.
set -eu
B="${1:-build}/bench/bench_sampler"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
one=$("$B" --threads 1)
echo "$one"
two=$(mpiexec -n 2 --bind-to none "$B" --cases run32 --threads 1)
echo "$two"
/usr/bin/python3 - "$one" "$two" <<'PYEOF'
import json, sys
rate = lambda text: [json.loads(l) for l in text.splitlines() if '"run_n32"' in l][0]["tokens_per_s"]
r1, r2 = rate(sys.argv[1]), rate(sys.argv[2])
print(json.dumps({"bench": "sampler", "case": "rank_scaling_n32", "tokens_per_s_1rank": r1, "tokens_per_s_2ranks": r2,
                  "speedup": round(r2 / r1, 2), "target": 1.8}))
PYEOF

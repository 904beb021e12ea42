#!/bin/bash
# The samples file does not depend on the number of ranks: the same `restpg sample` run on 1 rank
# (setup, no mpirun, --batch 32) and under mpiexec with 2 and 3 ranks (--batch 5, inputs handed
# out dynamically, rank 0 generating too) must have the same content (tests/samples_same.py), and
# every rank must have generated some of the inputs.
#   sampler_mpi.sh setup     dataset, tokenizer, model and the 1-rank run (a CTest fixture)
#   sampler_mpi.sh run N     the run under mpiexec -n N (restpg_mpi_test)
#   sampler_mpi.sh check     compares every rN.h5 with r1.h5, then removes the directory
set -u
D="$RESTPG_TEST_TMP/sampler_mpi"
args=(--model "$D/m.h5" --data "$D/ds.h5" --n 4 --temperature 0.9 --top-p 0.95 --max-new-tokens 48 --seed 7 --threads 1)

case "$1" in
setup)
    rm -rf "$D" && mkdir -p "$D" || exit 1
    "$RESTPG" data synth --users 8 --per-user 4 --seed 4 --out "$D/ds.h5" >/dev/null || exit 1
    "$RESTPG" tokenizer train --data "$D/ds.h5" --vocab-size 400 --out "$D/tok" >/dev/null || exit 1
    printf 'n_layer: 2\nn_head: 2\nn_embd: 64\nn_positions: 256\n' >"$D/model.yaml"
    "$RESTPG" pretrain --config "$D/model.yaml" --tokenizer "$D/tok" --data "$D/ds.h5" --steps 1 --batch-size 1 \
        --seq-len 64 --threads 1 --out "$D/m.h5" >/dev/null || exit 1
    exec "$RESTPG" sample "${args[@]}" --batch 32 --out "$D/r1.h5"
    ;;
run)
    exec "$RESTPG" sample "${args[@]}" --batch 5 --out "$D/r$2.h5" >"$D/log$2.${OMPI_COMM_WORLD_RANK:-0}"
    ;;
check)
    n=0
    rc=0
    for f in "$D"/r[2-9].h5; do
        [ -e "$f" ] || continue
        n=$((n + 1))
        /usr/bin/python3 "$RESTPG_SOURCE_DIR/tests/samples_same.py" "$D/r1.h5" "$f" || rc=1
        [ $rc = 0 ] && echo "$f: same content as the 1-rank run"
        # Every rank, rank 0 included, must have generated inputs: "... per rank: 5 7 ...".
        k=${f##*/r}
        k=${k%.h5}
        counts=$(sed -n 's/^sample: inputs generated per rank://p' "$D/log$k.0")
        [ "$(echo $counts | wc -w)" = "$k" ] || { echo "run with $k ranks: no per-rank counts in its log" >&2; rc=1; }
        for c in $counts; do [ "$c" -gt 0 ] || { echo "run with $k ranks: a rank generated nothing ($counts)" >&2; rc=1; }; done
        echo "  inputs per rank: $counts"
    done
    [ $n -ge 1 ] || { echo "no multi-rank run to compare" >&2; rc=1; }
    rm -rf "$D"
    exit $rc
    ;;
esac
echo "usage: sampler_mpi.sh setup | run N | check" >&2
exit 2

#!/bin/bash
# The CUDA backend from the command line, over the SIMT emulation (restpg_emu: restpg with the
# emulated CUDA backend registered), on a tiny synthetic dataset and GPT-2:
#  - `pretrain --device cuda --dtype fp32` runs the whole training path on the device backend,
#    says which device each rank took, and its per-step losses follow the CPU run's (1e-4
#    relative); with the default dtype (auto: bf16 mixed precision on cuda) its plan counts the
#    bf16 weight copy and the losses stay within bf16's reach of them (1e-2);
#  - a checkpoint written by the CUDA run scores the same `loss` on the CPU (restpg) as on the
#    device (1e-5), and a CPU run resumes it (checkpoints move freely between backends);
#  - `sample --device cuda` (the device decoder; bf16 weights by default) writes the same file for
#    --batch 32 and 3 (the decoder is batch-invariant, so sharding cannot change samples), and
#    with --dtype fp32 its candidates are the CPU's: the device's token choice is sampling_choose's
#    for the same logits and u (kernels/cuda/sample.cu), and the two decoders' logits differ by
#    float rounding only (~1e-6), so every candidate has the CPU's tokens (a draw within ~1e-6 of a
#    CDF boundary could flip; with these fixed seeds none is), log-probabilities within 1e-4;
#  - on this machine's restpg (no GPU), --device cuda exits 2 saying why.
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" cuda_cli
: "${RESTPG_EMU:?}"
PY=/usr/bin/python3

"$RESTPG" data synth --users 12 --per-user 6 --seed 5 --out "$T/ds.h5" >/dev/null || fail "data synth"
"$RESTPG" tokenizer train --data "$T/ds.h5" --vocab-size 300 --out "$T/tok" >/dev/null || fail "tokenizer train"
printf 'n_layer: 2\nn_head: 4\nn_embd: 32\nn_positions: 64\n' >"$T/model.yaml"
pre=(pretrain --data "$T/ds.h5" --config "$T/model.yaml" --tokenizer "$T/tok" --batch-size 4 --seq-len 32
     --lr 3e-3 --warmup 2 --val-every 3 --val-batches 2 --threads 1)

"$RESTPG" "${pre[@]}" --steps 6 --out "$T/cpu.h5" --metrics "$T/cpu.jsonl" >"$T/cpu.log" 2>&1 || fail "cpu pretrain: $(cat "$T/cpu.log")"
"$RESTPG_EMU" "${pre[@]}" --steps 6 --device cuda --dtype fp32 --out "$T/cuda.h5" --metrics "$T/cuda.jsonl" \
  >"$T/cuda.log" 2>&1 || fail "cuda pretrain: $(cat "$T/cuda.log")"
"$RESTPG_EMU" "${pre[@]}" --steps 6 --device cuda --out "$T/bf16.h5" --metrics "$T/bf16.jsonl" >"$T/bf16.log" 2>&1 \
  || fail "cuda bf16 pretrain: $(cat "$T/bf16.log")"
grep -q "bf16 weight copy .* (mixed precision)" "$T/bf16.log" || fail "the bf16 run's plan lacks its weight copy: $(cat "$T/bf16.log")"
grep -q "bf16 weight copy" "$T/cuda.log" && fail "the fp32 run planned a bf16 copy"
grep -q "cuda: 1 rank(s) per node, each on the GPU of its node-local rank" "$T/cuda.log" || fail "no device line: $(cat "$T/cuda.log")"

"$PY" - "$T" <<'PYEOF' || fail "cuda losses follow the cpu run's"
import json, sys
t = sys.argv[1]
def losses(name):
    rows = [json.loads(l) for l in open("%s/%s.jsonl" % (t, name))]
    return [r["loss"] for r in rows if "loss" in r], [r["val_loss"] for r in rows if "val_loss" in r]
(ca, cv), (ga, gv), (ha, hv) = losses("cpu"), losses("cuda"), losses("bf16")
assert len(ca) == len(ga) == 6 and len(cv) == len(gv) >= 2, (ca, ga, cv, gv)
worst = max(abs(a - b) / abs(a) for a, b in zip(ca + cv, ga + gv))
print("per-step losses: cpu %s, cuda %s; worst relative difference %.2g" % (["%.5f" % x for x in ca], ["%.5f" % x for x in ga], worst))
assert worst <= 1e-4, worst
half = max(abs(a - b) / abs(a) for a, b in zip(ca + cv, ha + hv))
print("bf16 mixed precision: losses %s; worst relative difference %.2g" % (["%.5f" % x for x in ha], half))
assert 0 < half <= 1e-2, half
PYEOF

# The CUDA checkpoint on both backends: the same loss.
"$PY" -c "
import random
random.seed(3)
for _ in range(4): print(' '.join(str(random.randrange(300)) for _ in range(30)))" >"$T/ids.txt"
on_cpu=$("$RESTPG" loss --model "$T/cuda.h5" --tokens "$T/ids.txt" --threads 1 --json | tail -n 1) || fail "loss on cpu"
on_cuda=$("$RESTPG_EMU" loss --model "$T/cuda.h5" --tokens "$T/ids.txt" --threads 1 --device cuda --json | tail -n 1) \
  || fail "loss on cuda"
"$PY" -c "
import json, sys; a, b = json.loads(sys.argv[1])['loss'], json.loads(sys.argv[2])['loss']
print('loss of the cuda checkpoint: cpu %.6f, cuda %.6f' % (a, b)); assert abs(a - b) <= 1e-5 * abs(a)" "$on_cpu" "$on_cuda" \
  || fail "the cuda checkpoint's loss differs between backends: $on_cpu / $on_cuda"

# A CPU run continues the CUDA run's checkpoint (resume: same --out, more steps).
cp "$T/cuda.h5" "$T/resume.h5"
"$RESTPG" "${pre[@]}" --steps 8 --out "$T/resume.h5" --resume >"$T/resume.log" 2>&1 || fail "cpu resume of a cuda run: $(tail -5 "$T/resume.log")"
grep -q "resuming from .* at step 6" "$T/resume.log" || fail "the cpu run did not resume at step 6: $(cat "$T/resume.log")"

# Sampling on the device decoder.
sargs=(--model "$T/cpu.h5" --data "$T/ds.h5" --n 4 --temperature 0.8 --top-p 0.95 --top-k 50 --max-new-tokens 12
       --seed 3 --round 1 --threads 1)
"$RESTPG" sample "${sargs[@]}" --batch 32 --out "$T/s_cpu.h5" >"$T/s_cpu.log" 2>&1 || fail "cpu sample: $(cat "$T/s_cpu.log")"
"$RESTPG_EMU" sample "${sargs[@]}" --batch 32 --device cuda --dtype fp32 --out "$T/s_cuda32.h5" >"$T/s_cuda32.log" 2>&1 \
  || fail "cuda sample: $(cat "$T/s_cuda32.log")"
# The default on cuda, bf16 weights: the same file for any --batch.
for b in 32 3; do
  "$RESTPG_EMU" sample "${sargs[@]}" --batch $b --device cuda --out "$T/s_bf$b.h5" >"$T/s_bf$b.log" 2>&1 \
    || fail "cuda bf16 sample --batch $b: $(cat "$T/s_bf$b.log")"
done
"$PY" -c "import h5py, sys; assert h5py.File(sys.argv[1]).attrs['dtype'] == 'bf16'" "$T/s_bf32.h5" || fail "auto on cuda did not sample in bf16"
"$PY" "$RESTPG_SOURCE_DIR/tests/samples_same.py" "$T/s_bf32.h5" "$T/s_bf3.h5" || fail "cuda samples depend on --batch"
"$PY" - "$T/s_cpu.h5" "$T/s_cuda32.h5" <<'PYEOF' || fail "cuda samples are not the cpu's"
import sys, h5py
def cands(path):
    c = h5py.File(path, "r")["candidates"]
    off, tok, lp = c["token_offset"][:], c["tokens"][:], c["logprob"][:]
    return [(tuple(tok[off[i]:off[i + 1]]), lp[i]) for i in range(len(lp))]
a, b = cands(sys.argv[1]), cands(sys.argv[2])
assert len(a) == len(b) > 0, (len(a), len(b))
same = [(x, y) for x, y in zip(a, b) if x[0] == y[0]]
worst = max(abs(x[1] - y[1]) for x, y in same)
print("cuda samples: %d of %d candidates the cpu's tokens, their log-probabilities within %.2g" % (len(same), len(a), worst))
assert len(same) == len(a) and worst <= 1e-4, (len(same), worst)
PYEOF

# No GPU here: the real binary refuses --device cuda with the reason, exit 2.
"$RESTPG" "${pre[@]}" --steps 6 --device cuda --out "$T/none.h5" >"$T/none.log" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "--device cuda without a GPU exited $rc"
grep -Eq "no CUDA device is visible|not available in this binary" "$T/none.log" || fail "no reason given: $(cat "$T/none.log")"
[ ! -e "$T/none.h5" ] || fail "a refused run wrote its output"
[ $fails = 0 ] && echo "cuda_cli: all checks passed"
exit $fails

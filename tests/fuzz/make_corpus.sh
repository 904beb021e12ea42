#!/usr/bin/env bash
# Regenerates the seed corpus of the fuzz targets (tests/fuzz/corpus/NAME/) with restpg itself:
# tiny but real files of every kind, so mutations start from valid structure. Usage:
#   RESTPG=build/restpg bash tests/fuzz/make_corpus.sh
# Seeds not made here: tokenizer/rpsp.tok (an RPSP vocabulary from tokenizer_from_spm, as in
# tests/test_tokenizer_spm.c), tokenizer/rphf.tok (tests/fuzz/corpus/tokenizer_hf/llama2.json saved
# by tokenizer_save), tokenizer_hf/*.json (`python tests/hf_tokenizers_ref.py seeds DIR`, PyPI
# tokenizers), gguf/*.gguf (gguf-py's GGUFWriter via tests/make_gguf.py files) and
# safetensors/* (PyPI's safetensors via tests/safetensors_ref.py corpus).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
C="$here/corpus"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$C"/{jsonl,config,tokenizer,dataset,samples,checkpoint,gguf,judge}

# JSON import: the first byte picks task (bits 0-1) and shape (bit 2), see fuzz_jsonl.c.
tasks=(abstract_generation product_review topic_writing email_completion)
for i in 0 1 2 3; do
  t=${tasks[$i]}
  { printf "\\x$(printf %02x $i)"; cat "$src/tests/data/longlamp/$t.jsonl"; } > "$C/jsonl/$t.jsonl"
  { printf "\\x$(printf %02x $((i | 4)))"; cat "$src/tests/data/longlamp/${t}_questions.json"; printf '\0';
    cat "$src/tests/data/longlamp/${t}_outputs.json"; } > "$C/jsonl/${t}_github"
done

# The tiny pipeline's files.
"$RESTPG" data synth --users 3 --per-user 2 --seed 1 --out "$T/d.h5" >/dev/null
cp "$T/d.h5" "$C/dataset/synth.h5"
"$RESTPG" tokenizer train --data "$T/d.h5" --vocab-size 300 --out "$T/tok.bin" >/dev/null
cp "$T/tok.bin" "$C/tokenizer/rptk.tok"
printf 'n_layer: 1\nn_head: 1\nn_embd: 8\nn_positions: 64\n' > "$T/model.yaml"
"$RESTPG" pretrain --data "$T/d.h5" --tokenizer "$T/tok.bin" --config "$T/model.yaml" --steps 2 \
  --batch-size 1 --seq-len 16 --threads 1 --out "$T/ck.h5" >/dev/null
cp "$T/ck.h5" "$C/checkpoint/pretrain.h5"
"$RESTPG" sample --model "$T/ck.h5" --data "$T/d.h5" --out "$T/s.h5" --n 2 --max-new-tokens 4 --limit 1 \
  --threads 1 >/dev/null
cp "$T/s.h5" "$C/samples/sampled.h5"
"$RESTPG" reward --samples "$T/s.h5" --data "$T/d.h5" --out "$T/r.h5" >/dev/null
cp "$T/r.h5" "$C/samples/rewarded.h5"

# Config: the README's tiny run and a few shapes YAML allows.
cat > "$C/config/tiny.yaml" <<'YAML'
seed: 5
threads: 1
data: {source: synth, synth_users: 16}
tokenizer: {vocab_size: 512}
model: {n_layer: 2, n_head: 2, n_embd: 64, n_positions: 512}
pretrain: {steps: 120, batch_size: 4, seq_len: 128, lr: 0.003}
prompt: {k: 2}
sft: {steps: 120, batch_size: 4, lr: 0.002}
em: {rounds: 2, n: 6, keep: 2, tau: 0.1, max_new_tokens: 160, steps: 20, batch_size: 4, lr: 0.001, limit: 24, mstep_init: previous}
eval: {limit: 8, val_limit: 8, max_new_tokens: 160}
YAML
printf 'em:\n  rounds: 3\n  tau: 0.5\n# comment\nseed: &s 7\nthreads: *s\n' > "$C/config/anchors.yaml"
printf -- '---\nmodel:\n  init: "gguf:model.gguf"\n' > "$C/config/block.yaml"

# Judge replies: good, and each protocol error the parser names.
printf '{"id": "a", "reward": 0.5}\n{"id": "b", "reward": 1}\n{"id": "c\xc3\xa9", "reward": 0}\n' > "$C/judge/good"
printf '{"id": "a", "reward": 0.5}\n{"id": "a", "reward": 0.5}\n' > "$C/judge/twice"
printf '{"id": "a", "reward": NaN}\n' > "$C/judge/nan"
printf '["python3", "judge.py", "--x"]\n{"id": 1}\n' > "$C/judge/argv"
printf '{"id": "b", "reward": 0.1}{"id": "a", "reward": 0.2}\n' > "$C/judge/two_objects"
echo "corpus written to $C"

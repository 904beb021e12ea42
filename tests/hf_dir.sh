#!/usr/bin/env bash
# Hugging Face directories into restpg (model/hf_dir.h), against PyTorch: tests/hf_dir_ref.py writes
# tiny random Llama (llama3 RoPE scaling, untied head), Qwen2 (biases, bf16 weights), Qwen3 (q/k
# norms, two shards with an index) and Gemma 3 (sliding layers, post norms) directories with PyPI's
# safetensors and published config.json keys; test_hf_dir loads each and writes its loss and
# gradients under Hugging Face names; the reference checks them in float64 (loss 1e-5 relative,
# every gradient tensor within 1e-4 of its largest value), and for Llama and Qwen2 transformers'
# own models give the same logits (tests/hf_transformers.py). Then bad directories: a missing
# tensor, a wrong shape, a tensor restpg does not have, an unknown config key, an index naming a
# missing shard: exit 2 naming the file and what is wrong.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh" hf_dir
TEST_HF_DIR=$1
env_out=$(bash "$here/../scripts/model_env.sh")
PY=$(sed -n 's/^python=//p' <<<"$env_out")
TF=$(sed -n 's/^transformers_python=//p' <<<"$env_out")
for v in llama qwen2 qwen3 gemma3; do
    "$PY" "$here/hf_dir_ref.py" make "$T/$v" "$v" 7 || fail "$v: make"
    "$TEST_HF_DIR" "$T/$v" "$T/$v.grads" "$T/$v.loss" || { fail "$v: restpg could not load or run it"; continue; }
    "$PY" "$here/hf_dir_ref.py" check "$T/$v" "$T/$v.grads/model.safetensors" "$T/$v.loss" "$v" || fail "$v: parity"
    # transformers 4.46 (the newest on torch 1.13) has Llama and Qwen2 of these.
    case $v in llama | qwen2) "$TF" "$here/hf_transformers.py" "$T/$v" "$T/$v.loss.logits" || fail "$v: transformers" ;; esac
done

# Bad directories (convert reads the model before the tokenizer, so no tokenizer is needed to fail).
bad() { # NAME EDIT-PYTHON MESSAGE
    rm -rf "$T/bad" && cp -r "$T/$1" "$T/bad"
    "$PY" - "$T/bad" <<<"$2" || fail "edit for '$3'"
    expect_err 2 "$3" "$RESTPG" convert --from "$T/bad" --to "$T/bad.h5"
    [ ! -e "$T/bad.h5" ] || fail "'$3': wrote an output"
}
bad llama 'import sys, json; from safetensors.numpy import load_file, save_file
p = sys.argv[1] + "/model.safetensors"; t = load_file(p); del t["model.layers.1.mlp.up_proj.weight"]; save_file(t, p)' \
    "tensor 'model.layers.1.mlp.up_proj.weight' is missing"
bad llama 'import sys, json; from safetensors.numpy import load_file, save_file
p = sys.argv[1] + "/model.safetensors"; t = load_file(p); t["model.norm.weight"] = t["model.norm.weight"][:10]; save_file(t, p)' \
    "tensor 'model.norm.weight' has shape [10]; config.json implies [64]"
bad gemma3 'import sys, numpy as np; from safetensors.numpy import load_file, save_file
p = sys.argv[1] + "/model.safetensors"; t = load_file(p); t["model.layers.0.extra.weight"] = np.zeros(3, np.float32); save_file(t, p)' \
    "tensor 'model.layers.0.extra.weight' is not one restpg's gemma3 model has"
bad qwen2 'import sys, json
p = sys.argv[1] + "/config.json"; c = json.load(open(p)); c["logit_scale"] = 2.0; json.dump(c, open(p, "w"))' \
    "config.json: key 'logit_scale' is not one restpg knows"
bad qwen3 'import sys, json, os
os.remove(sys.argv[1] + "/model-00002-of-00002.safetensors")' "model-00002-of-00002.safetensors"
bad llama 'import sys, numpy as np; from safetensors.numpy import load_file, save_file
p = sys.argv[1] + "/model.safetensors"; t = load_file(p); t["model.norm.weight"][3] = np.inf; save_file(t, p)' \
    "tensor 'model.norm.weight': non-finite value"

[ $fails = 0 ] && echo "hf_dir: all checks passed"
exit $fails

#!/bin/bash
# Gemma 3 270M side by side with PyTorch (Debian's python3-torch, float32) in one run, on the same
# shapes and thread count: a training step at B=1 x T=256 (restpg's MFU against the sgemm rate
# measured in the same run) and KV-cached decoding of 8 candidates sharing a 256-token prompt, with
# fp32 and with bf16 decoder weights (model.dtype).
# Prints JSON lines, the last one the restpg/PyTorch ratios. Run on an otherwise idle machine.
# Usage: bench/bench_gemma3.sh [BUILD_DIR] [THREADS]   (from the repository root)
set -eu
B="${1:-build}/bench"
TH="${2:-2}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS="$TH"
ours_train=$("$B/bench_train_step" --shapes gemma3-270m:256 --threads "$TH" --steps 2)
echo "$ours_train"
ours_decs=$("$B/bench_decode_gemma3" --prompt 256 --slots 8 --new 32 --threads "$TH" --dtypes fp32,bf16 2>/dev/null)
echo "$ours_decs"
ours_dec=$(echo "$ours_decs" | grep '"fp32"')
ours_bf16=$(echo "$ours_decs" | grep '"bf16"')
torch=$(/usr/bin/python3 "$(dirname "$0")/gemma3_torch.py" --T 256 --prompt 256 --slots 8 --new 32 --threads "$TH")
echo "$torch"
/usr/bin/python3 - "$ours_train" "$ours_dec" "$torch" "$ours_bf16" <<'PY'
import json, sys
ot, od, ob = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[4])
t = [json.loads(l) for l in sys.argv[3].splitlines()]
tt, td = t[0], t[1]
print(json.dumps({"bench": "gemma3_vs_torch", "threads": ot["threads"],
                  "train_tokens_per_s": ot["tokens_per_s"], "torch_train_tokens_per_s": tt["tokens_per_s"],
                  "train_speedup": round(ot["tokens_per_s"] / tt["tokens_per_s"], 2), "restpg_mfu": ot["mfu"],
                  "decode_tokens_per_s": od["tokens_per_s"], "torch_decode_tokens_per_s": td["tokens_per_s"],
                  "decode_speedup": round(od["tokens_per_s"] / td["tokens_per_s"], 2),
                  "bf16_decode_tokens_per_s": ob["tokens_per_s"],
                  "bf16_vs_fp32_decode": round(ob["tokens_per_s"] / od["tokens_per_s"], 2),
                  "bf16_vs_fp32_decoder_bytes": round(ob["decoder_bytes"] / od["decoder_bytes"], 3)}))
PY

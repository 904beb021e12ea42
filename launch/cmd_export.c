/* `restpg export`: a model restpg can load (checkpoint, GGUF file, Hugging Face directory) written
 * as a Hugging Face directory that transformers and vLLM load unchanged (model/hf_dir.h). */
#include <stdint.h>
#include <string.h>

#include "core/args.h"
#include "core/log.h"
#include "launch/commands.h"
#include "model/checkpoint.h"
#include "model/hf_dir.h"

int cmd_export(int argc, char **argv, Error *e) {
    const char *model = NULL, *dir = NULL, *dtype = "fp32";
    long shard_mb = 5000;
    int overwrite = 0;
    ArgSpec specs[] = {
        {"--model", ARG_STR, &model, "checkpoint (.h5), GGUF file or Hugging Face directory to export", 1, 0},
        {"--hf", ARG_STR, &dir, "directory to write (config.json, safetensors, tokenizer files)", 1, ARG_NONEMPTY},
        {"--dtype", ARG_STR, &dtype, "tensor dtype: fp32 (default, lossless) or bf16 (half the size; rounded to "
                                     "nearest even)", 0, ARG_ONE_OF("fp32", "bf16")},
        {"--shard-mb", ARG_INT, &shard_mb, "largest safetensors shard in MB of 10^6 bytes (default 5000, as "
                                           "transformers' 5GB; 0 = one file)", 0, ARG_MIN(0)},
        {"--overwrite", ARG_FLAG, &overwrite, "replace an existing --hf directory (only once the new one is complete)",
         0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("export",
                        "Writes a model as a Hugging Face directory: config.json, generation_config.json, "
                        "model.safetensors (or shards with model.safetensors.index.json) and tokenizer.json + "
                        "tokenizer_config.json, so transformers' AutoModelForCausalLM and AutoTokenizer load the "
                        "trained policy unchanged. GPT-2, Llama, Qwen2, Qwen3 and Gemma 3 models.",
                        specs, argc, argv, e);
    if (rc) return rc;
    HfDirExportOptions o = {.shard_bytes = (uint64_t)shard_mb * 1000000u, .overwrite = overwrite};
    if ((rc = model_dtype_parse(dtype, &o.dtype, e))) return rc;
    Model m;
    Tokenizer *t = NULL;
    if ((rc = checkpoint_load_any(model, &m, &t, NULL, e))) return rc;
    rc = hf_dir_export(&m, t, dir, model, &o, e);
    if (!rc) {
        char what[256];
        model_describe(&m, what, sizeof what);
        log_info("wrote %s (%s tensors): %s", dir, dtype, what);
    }
    model_free(&m);
    tokenizer_free(t);
    return rc;
}

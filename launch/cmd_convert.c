/* `restpg convert`: llm.c GPT-2 fp32 checkpoints <-> restpg checkpoints, and GGUF files (Gemma 3)
 * -> restpg checkpoints. The source format is recognised by its content (llm.c's or GGUF's magic
 * number, or HDF5), the target by its extension. */
#include <stdio.h>
#include <string.h>

#include "core/fileio.h"
#include "core/args.h"
#include "core/log.h"
#include "launch/commands.h"
#include "model/checkpoint.h"
#include "model/llmc.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int cmd_convert(int argc, char **argv, Error *e) {
    const char *from = NULL, *to = NULL, *tokpath = NULL;
    ArgSpec specs[] = {
        {"--from", ARG_STR, &from, "source: an llm.c checkpoint (.bin), a GGUF file (Gemma 3), a Hugging Face directory (config.json + safetensors) or a restpg checkpoint (.h5)", 1, 0},
        {"--to", ARG_STR, &to, "target: FILE.bin writes llm.c's format, FILE.h5 a restpg checkpoint", 1, 0},
        {"--tokenizer", ARG_STR, &tokpath, "tokenizer for an llm.c source (which has none), e.g. data/gpt2", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("convert",
                        "Converts between llm.c's GPT-2 fp32 checkpoint (version 3) and restpg checkpoints, and "
                        "imports GGUF files (Gemma 3, weights dequantized to fp32, tokenizer from the file). "
                        "llm.c -> restpg needs --tokenizer; restpg -> restpg keeps the weights only.",
                        specs, argc, argv, e);
    const char *ins[] = {"--from", from, "--tokenizer", tokpath};
    if (rc || (rc = file_check_out("--to", to, 2, ins, e))) return rc;
    int to_llmc = ends_with(to, ".bin");
    if (!to_llmc && !ends_with(to, ".h5") && !ends_with(to, ".hdf5"))
        return error_set(e, RP_EINPUT, "--to %s: unknown target format (use .bin for llm.c, .h5 for restpg)", to);
    Model m;
    Tokenizer *t = NULL;
    CheckpointMeta meta;
    checkpoint_meta_init(&meta);
    if (llmc_sniff(from)) {
        if (to_llmc) return error_set(e, RP_EINPUT, "--from %s and --to %s are both llm.c checkpoints", from, to);
        if (!tokpath)
            return error_set(e, RP_EINPUT, "--from %s is an llm.c checkpoint, which has no tokenizer: pass --tokenizer "
                                           "(e.g. --tokenizer data/gpt2 for GPT-2 weights)", from);
        if ((rc = tokenizer_load(tokpath, &t, e))) return rc;
        int file_vocab = 0;
        if ((rc = llmc_load(from, t, &m, &file_vocab, e))) {
            tokenizer_free(t);
            return rc;
        }
        meta.llmc_vocab_size = file_vocab;
        rc = checkpoint_save(to, &m, t, &meta, e);
    } else {
        if (tokpath)
            /* Name the file: a corrupt llm.c file lands here too, and its magic is what is wrong. */
            return error_set(e, RP_EINPUT, "--tokenizer: %s is not an llm.c checkpoint (no magic %d at its start), "
                             "and a restpg checkpoint or GGUF file carries its own tokenizer", from, LLMC_MAGIC);
        if ((rc = checkpoint_load_any(from, &m, &t, &meta, e))) return rc;
        meta.has_train = 0; /* weights only: the optimizer state belongs to the run that made it */
        rc = to_llmc ? llmc_save(to, &m, (int)meta.llmc_vocab_size, e) : checkpoint_save(to, &m, t, &meta, e);
    }
    if (!rc) {
        char what[256];
        model_describe(&m, what, sizeof what);
        log_info("wrote %s: %s", to, what);
    }
    model_free(&m);
    tokenizer_free(t);
    return rc;
}

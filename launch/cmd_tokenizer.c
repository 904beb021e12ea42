/* `restpg tokenizer ...`: train a BPE tokenizer on a dataset's texts (also the pipeline's
 * tokenizer stage), encode stdin to token ids, decode token ids back to bytes (with a tokenizer
 * file, or the tokenizer inside a model file), and export a tokenizer as Hugging Face files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/args.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/tokenizer.h"
#include "launch/commands.h"
#include "launch/stages.h"
#include "model/checkpoint.h"

static int cmd_tokenizer_train(int argc, char **argv, Error *e);
static int cmd_tokenizer_encode(int argc, char **argv, Error *e);
static int cmd_tokenizer_decode(int argc, char **argv, Error *e);
static int cmd_tokenizer_export(int argc, char **argv, Error *e);

static const Command TOKENIZER_COMMANDS[] = {
    {"train", cmd_tokenizer_train, "train byte-level BPE on a dataset's texts"},
    {"encode", cmd_tokenizer_encode, "text on stdin -> token ids on stdout"},
    {"decode", cmd_tokenizer_decode, "token ids on stdin -> text on stdout"},
    {"export", cmd_tokenizer_export, "write a tokenizer as Hugging Face tokenizer.json + tokenizer_config.json"},
    {NULL, NULL, NULL},
};

int cmd_tokenizer(int argc, char **argv, Error *e) {
    return command_dispatch("tokenizer", TOKENIZER_COMMANDS, argc, argv, e);
}

/* Adds s to the training texts unless it is empty or already there: a profile item shared by
 * many examples should weigh once, as the document it is. */
static int add_text(char *s, StrMap *seen, char ***texts, int64_t *n, int64_t *cap, size_t *bytes, Error *e) {
    size_t len = strlen(s);
    if (!len) return RP_OK;
    int64_t *v = strmap_slot(seen, s, len, 0, e);
    if (!v) return RP_ENOMEM;
    if ((*v)++) return RP_OK;
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 1024;
        char **t = xrealloc(*texts, sizeof(char *) * (size_t)*cap, e);
        if (!t) return RP_ENOMEM;
        *texts = t;
    }
    (*texts)[(*n)++] = s;
    *bytes += len;
    return RP_OK;
}

int stage_tokenizer_train(const TokenizerTrainOptions *o, Error *e) {
    const char *data = o->data, *split = o->split;
    Dataset d;
    int rc = dataset_read(data, &d, e);
    if (rc) return rc;
    double t0 = time_now();
    StrMap seen;
    char **texts = NULL;
    int64_t n = 0, cap = 0;
    size_t bytes = 0;
    rc = strmap_init(&seen, 1 << 12, e);
    for (int64_t i = 0; i < d.n && !rc; i++) {
        if (strcmp(split, "all") && strcmp(split, d.split[i])) continue;
        char *own[3] = {d.input[i], d.output[i], d.reasoning[i]};
        for (int k = 0; k < 3 && !rc; k++) rc = add_text(own[k], &seen, &texts, &n, &cap, &bytes, e);
        for (int64_t j = 0; j < dataset_n_items(&d, i) && !rc; j++)
            for (int f = 0; f < d.n_fields && !rc; f++)
                rc = add_text(dataset_item(&d, i, j)[f], &seen, &texts, &n, &cap, &bytes, e);
    }
    if (!rc && n == 0) rc = error_set(e, RP_EINPUT, "%s: no texts in split '%s' to train on", data, split);
    Tokenizer *t = NULL;
    if (!rc && (rc = tokenizer_train(texts, n, o->vocab_size, &t, e))) error_wrap(e, "%s", data);
    if (!rc) rc = tokenizer_save(t, o->out, e);
    if (!rc)
        log_info("tokenizer: %lld texts (%.1f MB) -> %d ids (%d requested) in %.1f s, written to %s", (long long)n,
                 (double)bytes / 1e6, tokenizer_vocab_size(t), o->vocab_size, time_now() - t0, o->out);
    tokenizer_free(t);
    free(texts);
    strmap_free(&seen);
    dataset_free(&d);
    return rc;
}

static int cmd_tokenizer_train(int argc, char **argv, Error *e) {
    const char *data = NULL, *out = NULL, *split = "all";
    long vocab = 8192;
    ArgSpec specs[] = {
        {"--data", ARG_STR, &data, "dataset file (restpg-dataset HDF5)", 1, 0},
        {"--vocab-size", ARG_INT, &vocab, "ids in the vocabulary: 256 bytes + merges + 3 specials (default 8192)", 0,
         ARG_RANGE(0, 1 << 24)},
        {"--out", ARG_STR, &out, "tokenizer file to write (RPTK format)", 1, 0},
        {"--split", ARG_STR, &split, "train only on this split: train, val, test or all (default all)", 0,
         ARG_ONE_OF("train", "val", "test", "all")},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("tokenizer train",
                        "Trains a byte-level BPE tokenizer (GPT-2 pre-tokenization) on the dataset's inputs, "
                        "outputs, reasoning texts and profile item fields, each distinct text counted once.",
                        specs, argc, argv, e);
    const char *ins[] = {"--data", data};
    if (rc || (rc = file_check_out("--out", out, 1, ins, e))) return rc;
    TokenizerTrainOptions o = {data, out, split, (int)vocab};
    return stage_tokenizer_train(&o, e);
}

static int read_stdin(StrBuf *b, Error *e) {
    char chunk[1 << 16];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (strbuf_append(b, chunk, r, e)) return RP_ENOMEM;
    if (ferror(stdin)) return error_set(e, RP_EIO, "stdin: read failed: %s", strerror(errno));
    return strbuf_append(b, "", 0, e);
}

static int finish_stdout(Error *e) {
    if (fflush(stdout) != 0 || ferror(stdout)) return error_set(e, RP_EIO, "stdout: write failed: %s", strerror(errno));
    return RP_OK;
}

/* The tokenizer of path, or of model (a checkpoint or GGUF file; exactly one of them is given).
 * A model file's tokenizer comes with its weights: loading reads them too (a GGUF file is
 * imported in a few seconds), then they are dropped. */
static int load_source(const char *cmd, const char *path, const char *model, Tokenizer **t, Error *e) {
    if (!path == !model)
        return error_set(e, RP_EINPUT, "%s: give exactly one of --tokenizer FILE and --model FILE", cmd);
    if (path) return tokenizer_load(path, t, e);
    Model m;
    int rc = checkpoint_load_any(model, &m, t, NULL, e);
    if (!rc) model_free(&m);
    return rc;
}

#define TOKENIZER_HELP                                                                                                 \
    "RPTK/RPSP/RPHF file, a Hugging Face tokenizer.json, or a directory with tokenizer.json or GPT-2's "              \
    "encoder.json and vocab.bpe"
#define MODEL_HELP "instead of --tokenizer: a checkpoint (.h5) or GGUF file, whose tokenizer is used"

/* The tokenizer of --tokenizer or --model in the arguments of encode and decode. */
static int load_for(const char *cmd, int argc, char **argv, Tokenizer **t, Error *e) {
    const char *path = NULL, *model = NULL;
    ArgSpec specs[] = {
        {"--tokenizer", ARG_STR, &path, TOKENIZER_HELP, 0, 0},
        {"--model", ARG_STR, &model, MODEL_HELP, 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse(cmd,
                        !strcmp(cmd, "tokenizer encode")
                            ? "Reads text (any bytes) on stdin and writes its token ids, space-separated decimals "
                              "(no BOS is added)."
                            : "Reads whitespace-separated token ids on stdin and writes their bytes.",
                        specs, argc, argv, e);
    return rc ? rc : load_source(cmd, path, model, t, e);
}

static int cmd_tokenizer_encode(int argc, char **argv, Error *e) {
    Tokenizer *t;
    int rc = load_for("tokenizer encode", argc, argv, &t, e);
    if (rc) return rc;
    StrBuf in;
    TokenVec ids;
    strbuf_init(&in);
    tokvec_init(&ids);
    if (!(rc = read_stdin(&in, e)) && !(rc = tokenizer_encode(t, in.s, in.len, &ids, e))) {
        for (int64_t i = 0; i < ids.n; i++) printf(i + 1 < ids.n ? "%d " : "%d", ids.v[i]);
        putchar('\n');
        rc = finish_stdout(e);
    }
    strbuf_free(&in);
    tokvec_free(&ids);
    tokenizer_free(t);
    return rc;
}

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

static int cmd_tokenizer_decode(int argc, char **argv, Error *e) {
    Tokenizer *t;
    int rc = load_for("tokenizer decode", argc, argv, &t, e);
    if (rc) return rc;
    StrBuf in, out;
    TokenVec ids;
    strbuf_init(&in);
    strbuf_init(&out);
    tokvec_init(&ids);
    rc = read_stdin(&in, e);
    const char *p = in.s, *stop = in.s + in.len;
    while (!rc) {
        while (p < stop && is_space(*p)) p++;
        if (p == stop) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (end < stop && !is_space(*end))) {
            int len = 0;
            while (p + len < stop && !is_space(p[len]) && len < 40) len++;
            rc = error_set(e, RP_EINPUT, "stdin: token %lld: '%.*s' is not a token id", (long long)ids.n, len, p);
        } else rc = tokvec_push(&ids, (int32_t)v, e);
        p = end;
    }
    if (!rc && (rc = tokenizer_decode(t, ids.v, ids.n, &out, e))) error_wrap(e, "stdin");
    if (!rc && out.len && fwrite(out.s, 1, out.len, stdout) != out.len)
        rc = error_set(e, RP_EIO, "stdout: write failed: %s", strerror(errno));
    if (!rc) rc = finish_stdout(e);
    strbuf_free(&in);
    strbuf_free(&out);
    tokvec_free(&ids);
    tokenizer_free(t);
    return rc;
}

/* Files in dir/ that the export would replace must not be what it reads: the source itself, or
 * the files a source directory is read from. */
static int check_export_out(const char *dir, const char *path, const char *model, Error *e) {
    static const char *const outs[] = {"tokenizer.json", "tokenizer_config.json"};
    char *src_json = path ? xasprintf(e, "%s/tokenizer.json", path) : NULL;
    char *src_cfg = path ? xasprintf(e, "%s/tokenizer_config.json", path) : NULL;
    if (path && (!src_json || !src_cfg)) {
        free(src_json);
        free(src_cfg);
        return RP_ENOMEM;
    }
    const char *ins[] = {"--tokenizer", path, "--tokenizer", src_json, "--tokenizer", src_cfg, "--model", model};
    int rc = RP_OK;
    for (int k = 0; k < 2 && !rc; k++) {
        char *out = xasprintf(e, "%s/%s", dir, outs[k]);
        rc = out ? file_check_out("--hf", out, 4, ins, e) : RP_ENOMEM;
        free(out);
    }
    free(src_json);
    free(src_cfg);
    return rc;
}

static int cmd_tokenizer_export(int argc, char **argv, Error *e) {
    const char *path = NULL, *model = NULL, *dir = NULL;
    ArgSpec specs[] = {
        {"--tokenizer", ARG_STR, &path, TOKENIZER_HELP, 0, 0},
        {"--model", ARG_STR, &model, MODEL_HELP, 0, 0},
        {"--hf", ARG_STR, &dir, "existing directory to write tokenizer.json and tokenizer_config.json into", 1, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("tokenizer export",
                        "Writes the tokenizer as Hugging Face files that PyPI tokenizers and transformers' "
                        "AutoTokenizer load, encoding as restpg does, with restpg's special tokens at their ids "
                        "(docs/tokenizer.md, Export).",
                        specs, argc, argv, e);
    if (rc || (rc = check_export_out(dir, path, model, e))) return rc;
    Tokenizer *t;
    if ((rc = load_source("tokenizer export", path, model, &t, e))) return rc;
    rc = tokenizer_save_hf(t, dir, e);
    if (!rc) log_info("tokenizer: %d ids written to %s/tokenizer.json and tokenizer_config.json", tokenizer_vocab_size(t), dir);
    tokenizer_free(t);
    return rc;
}

/* `restpg safetensors ...`: look into Hugging Face safetensors files and model directories
 * (model/safetensors.h). `ls` lists the tensors as JSON lines; `get` prints one tensor's values
 * as fp32. Both validate every shard completely first, so they double as a checker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/text.h"
#include "launch/commands.h"
#include "model/safetensors.h"

static int cmd_st_ls(int argc, char **argv, Error *e);
static int cmd_st_get(int argc, char **argv, Error *e);

static const Command ST_COMMANDS[] = {
    {"ls", cmd_st_ls, "one JSON line per tensor: name, dtype, shape, shard"},
    {"get", cmd_st_get, "one tensor's values as fp32, one per line (F32, F16, BF16)"},
    {NULL, NULL, NULL},
};

int cmd_safetensors(int argc, char **argv, Error *e) {
    return command_dispatch("safetensors", ST_COMMANDS, argc, argv, e);
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int cmd_st_ls(int argc, char **argv, Error *e) {
    const char *path = NULL;
    ArgSpec specs[] = {
        {"PATH", ARG_STR, &path, "a .safetensors file, a model directory, or a model.safetensors.index.json", 1, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("safetensors ls",
                        "Validates a safetensors file or a Hugging Face model directory (every shard of "
                        "its index) and prints one JSON line per tensor: {\"name\", \"dtype\", \"shape\", "
                        "\"shard\"}, shard by shard in header order.",
                        specs, argc, argv, e);
    STDir *d = NULL;
    if (rc || (rc = st_dir_open(path, &d, e))) return rc;
    StrBuf b;
    strbuf_init(&b);
    for (size_t i = 0; i < st_dir_tensor_count(d) && !rc; i++) {
        const STFile *f;
        const STTensor *t = st_dir_tensor_at(d, i, &f);
        strbuf_clear(&b);
        rc = strbuf_puts(&b, "{\"name\": ", e);
        if (!rc) rc = strbuf_json_string(&b, t->name, e);
        if (!rc) rc = strbuf_printf(&b, e, ", \"dtype\": \"%s\", \"shape\": [", st_dtype_name(t->dtype));
        for (size_t k = 0; k < t->n_dims && !rc; k++)
            rc = strbuf_printf(&b, e, "%s%llu", k ? ", " : "", (unsigned long long)t->shape[k]);
        if (!rc) rc = strbuf_puts(&b, "], \"shard\": ", e);
        if (!rc) rc = strbuf_json_string(&b, base_name(st_path(f)), e);
        if (!rc) printf("%s}\n", b.s);
    }
    strbuf_free(&b);
    st_dir_close(d);
    return rc;
}

static int cmd_st_get(int argc, char **argv, Error *e) {
    const char *path = NULL, *name = NULL;
    ArgSpec specs[] = {
        {"PATH", ARG_STR, &path, "a .safetensors file, a model directory, or a model.safetensors.index.json", 1, 0},
        {"TENSOR", ARG_STR, &name, "the tensor's name", 1, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("safetensors get",
                        "Prints the values of one tensor converted to fp32, one per line in row-major "
                        "order (%.9g, which reads back to the same float). Only F32, F16 and BF16 "
                        "tensors are read as float.",
                        specs, argc, argv, e);
    STDir *d = NULL;
    if (rc || (rc = st_dir_open(path, &d, e))) return rc;
    const STTensor *t = st_dir_find(d, name, NULL);
    /* Room only for a float dtype (whose bytes bound the count); the read refuses the others. */
    int is_float = t && (t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16);
    float *v = is_float ? xmalloc(t->n_elems ? t->n_elems * sizeof *v : 1, e) : NULL;
    if (is_float && !v) rc = RP_ENOMEM;
    else rc = st_dir_read_f32(d, name, v, e);
    for (uint64_t i = 0; !rc && i < t->n_elems; i++) printf("%.9g\n", v[i]);
    free(v);
    st_dir_close(d);
    return rc;
}

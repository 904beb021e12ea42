/* restpg's side of tests/hf_dir.sh: loads a Hugging Face directory (model/hf_dir.h; no
 * tokenizer), runs the forward and backward of DIR/batch.bin, and writes the loss (text) and
 * every gradient under its Hugging Face name (safetensors, F32) for tests/hf_dir_ref.py to check
 * against PyTorch, and the logits (LOSS.logits, float32 [B*T, V]) for transformers. Then exports the model (no tokenizer) as fp32 to GRADS.export and loads it back:
 * the parameters must be the same bits (names, shapes, transposes and config survive the round
 * trip).
 * usage: test_hf_dir DIR GRADS.safetensors LOSS.txt */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "model/hf_dir.h"
#include "model/hf_tensors.h"
#include "model/safetensors.h"

typedef struct {
    STWriter *w;
    float **copies;
    int n;
} Grads;

static int add_grad(void *ctx, const HfSlice *s, float *data, Error *e) {
    Grads *g = ctx;
    size_t n = (size_t)s->dims[0] * (s->rank > 1 ? (size_t)s->dims[1] : 1);
    float *copy = malloc(sizeof(float) * (n ? n : 1));
    float **more = realloc(g->copies, sizeof(float *) * (size_t)(g->n + 1));
    if (!copy || !more) return error_set(e, RP_ENOMEM, "out of memory");
    g->copies = more;
    memcpy(copy, data, sizeof(float) * n);
    g->copies[g->n++] = copy;
    return st_writer_add(g->w, s->name, (size_t)s->rank, s->dims, copy, e);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: test_hf_dir DIR GRADS.safetensors LOSS.txt\n");
        return 2;
    }
    Error e = {0};
    Model m;
    char *batch_path = xasprintf(&e, "%s/batch.bin", argv[1]), *raw = NULL;
    size_t len = 0;
    int rc = hf_dir_load(argv[1], &m, NULL, &e);
    if (rc) {
        fprintf(stderr, "test_hf_dir: %s\n", e.msg);
        return rc;
    }
    if ((rc = file_read_all(batch_path, &raw, &len, &e))) goto out;
    int32_t B, T;
    memcpy(&B, raw, 4);
    memcpy(&T, raw + 4, 4);
    const int32_t *ids = (const int32_t *)(raw + 8), *tgt = ids + (size_t)B * T;
    const float *mask = (const float *)(tgt + (size_t)B * T);
    float loss = 0, *logits = malloc(sizeof(float) * (size_t)B * T * m.padded_vocab_size);
    if (!logits) rc = error_set(&e, RP_ENOMEM, "out of memory");
    if (rc || (rc = model_plan(&m, B, T, &e)) || (rc = model_forward(&m, ids, tgt, mask, B, T, &loss, &e)) ||
        (rc = model_logits_download(&m, 0, B * T, logits, &e))) {
        free(logits);
        goto out;
    }
    /* The logits (the real vocabulary's columns, float32 [B*T, V]) for transformers' check. */
    {
        char *lp = xasprintf(&e, "%s.logits", argv[3]);
        for (int r = 0; r < B * T; r++)
            memmove(logits + (size_t)r * m.vocab_size, logits + (size_t)r * m.padded_vocab_size, sizeof(float) * m.vocab_size);
        rc = lp ? atomic_write(lp, logits, sizeof(float) * (size_t)B * T * m.vocab_size, &e) : RP_ENOMEM;
        free(lp);
        free(logits);
    }
    if (rc || (rc = model_backward(&m, 1.0f, &e))) goto out;
    /* The grads file goes into a directory of its own (the writer names its files). */
    Grads g = {0};
    STWriteOptions wo = {.dtype = ST_F32};
    if ((rc = st_writer_open(argv[2], &wo, &g.w, &e)) || (rc = hf_tensors_walk(&m, 1, 'g', add_grad, &g, &e)) ||
        (rc = st_writer_finish(g.w, &e)))
        goto grads;
    char text[64];
    snprintf(text, sizeof text, "%.9g\n", (double)loss);
    if ((rc = atomic_write(argv[3], text, strlen(text), &e))) goto grads;
    {
        char *out = xasprintf(&e, "%s.export", argv[2]);
        HfDirExportOptions o = {.dtype = DTYPE_F32, .shard_bytes = 20000};
        Model back;
        float *a = malloc(sizeof(float) * m.n_params), *b = malloc(sizeof(float) * m.n_params);
        if (!out || !a || !b) rc = error_set(&e, RP_ENOMEM, "out of memory");
        if (!rc && !(rc = hf_dir_export(&m, NULL, out, argv[1], &o, &e)) && !(rc = hf_dir_load(out, &back, NULL, &e))) {
            if (back.arch != m.arch || back.n_params != m.n_params)
                rc = error_set(&e, RP_EINTERNAL, "%s: reloaded as another model", out);
            else if (!(rc = model_state_download(&m, 'p', a, &e)) && !(rc = model_state_download(&back, 'p', b, &e)) &&
                     memcmp(a, b, sizeof(float) * m.n_params))
                rc = error_set(&e, RP_EINTERNAL, "%s: parameters differ after export and reload", out);
            model_free(&back);
        }
        free(a), free(b), free(out);
    }
grads:
    st_writer_free(g.w);
    for (int i = 0; i < g.n; i++) free(g.copies[i]);
    free(g.copies);
out:
    if (rc) fprintf(stderr, "test_hf_dir: %s\n", e.msg);
    model_free(&m);
    free(raw);
    free(batch_path);
    return rc;
}

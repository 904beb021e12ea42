/* llm.c checkpoint import/export (see llmc.h). */
#include "model/llmc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "core/log.h"
#include "model/checkpoint.h"

int llmc_sniff(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int32_t magic = 0;
    int ok = fread(&magic, sizeof magic, 1, f) == 1 && magic == LLMC_MAGIC;
    fclose(f);
    return ok;
}

/* Parameters in a file with these dimensions (llm.c's count, wte with Vp rows). */
static size_t file_params(size_t maxT, size_t L, size_t C, size_t Vp) {
    return Vp * C + maxT * C + L * (12 * C * C + 13 * C) + 2 * C;
}

static int read_floats(FILE *f, float *dst, size_t n, const char *path, Error *e) {
    if (fread(dst, sizeof(float), n, f) != n) return error_set(e, RP_EINPUT, "%s: truncated parameter data", path);
    return RP_OK;
}

/* Checks tensor k (n values of every layer back to back, as llm.c stores them) for NaN/Inf,
 * naming the layer's Hugging Face tensor. */
static int check_finite(const char *path, const Model *m, int k, const float *x, size_t n, Error *e) {
    const GPTTensorInfo *info = gpt_tensor_info(k);
    int layers = info->layered ? m->gpt2.cfg.n_layer : 1;
    size_t per = n / (size_t)layers;
    for (int l = 0; l < layers; l++) {
        char name[128];
        int tr;
        gpt_tensor_hf_name(k, l, name, sizeof name, &tr);
        if (checkpoint_check_finite(x + (size_t)l * per, per, name, e)) return error_wrap(e, "%s", path);
    }
    return RP_OK;
}

static int check_header(const char *path, const int32_t *h, long long size, Error *e) {
    if (h[0] != LLMC_MAGIC)
        return error_set(e, RP_EINPUT, "%s: not an llm.c checkpoint (header magic %d, expected %d)", path, h[0], LLMC_MAGIC);
    if (h[1] != LLMC_VERSION)
        return error_set(e, RP_EINPUT, "%s: llm.c checkpoint version %d is not supported (expected %d: fp32, padded vocabulary)",
                         path, h[1], LLMC_VERSION);
    static const char *const FIELD[8] = {"magic", "version", "maxT", "V", "L", "H", "C", "Vp"};
    for (int i = 2; i < 8; i++)
        if (h[i] < 1) return error_set(e, RP_EINPUT, "%s: header field %s is %d, expected a positive number", path, FIELD[i], h[i]);
    if (h[7] < h[3]) return error_set(e, RP_EINPUT, "%s: header field Vp (%d) is smaller than V (%d)", path, h[7], h[3]);
    if (h[6] % h[5]) return error_set(e, RP_EINPUT, "%s: header field C (%d) is not a multiple of H (%d)", path, h[6], h[5]);
    long long want = (long long)(LLMC_HEADER_INTS * 4) + 4LL * (long long)file_params(h[2], h[4], h[6], h[7]);
    if (size != want)
        return error_set(e, RP_EINPUT, "%s: file has %lld bytes but its header (maxT %d, V %d, L %d, C %d, Vp %d) needs %lld%s",
                         path, size, h[2], h[3], h[4], h[6], h[7], want, size < want ? " (truncated?)" : "");
    return RP_OK;
}

int llmc_load(const char *path, const Tokenizer *t, Model *m, int *file_vocab, Error *e) {
    struct stat st;
    if (stat(path, &st) != 0) return error_set(e, RP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(e, RP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    int32_t h[LLMC_HEADER_INTS] = {0};
    int rc = RP_OK;
    if (fread(h, sizeof(int32_t), LLMC_HEADER_INTS, f) != LLMC_HEADER_INTS)
        rc = error_set(e, RP_EINPUT, "%s: truncated llm.c header (%lld bytes)", path, (long long)st.st_size);
    if (!rc) rc = check_header(path, h, (long long)st.st_size, e);
    int V = h[3], Vp_file = h[7], vt = t ? tokenizer_vocab_size(t) : 0;
    if (!rc && vt < V)
        rc = error_set(e, RP_EINPUT, "%s: config mismatch with the tokenizer: the file has V = %d tokens, the tokenizer only %d",
                       path, V, vt);
    GPTConfig c = {.vocab_size = vt, .n_layer = h[4], .n_head = h[5], .n_embd = h[6], .n_positions = h[2]};
    if (!rc) rc = gpt_config_check(&c, e);
    ModelConfig mc = {.arch = ARCH_GPT2, .gpt2 = c};
    if (rc || (rc = model_init(m, &mc, e))) {
        fclose(f);
        return rc;
    }
    size_t C = (size_t)c.n_embd, most = (size_t)Vp_file * C;
    for (int k = 0; k < GPT_N_TENSORS; k++) most = model_tensor(m, k)->numel > most ? model_tensor(m, k)->numel : most;
    /* Tensors pass through a host buffer (the model's memory belongs to its backend); wte's file
     * rows go to `wte`, the model's rows (padding zero) to `host`. */
    float *wte = xmalloc(sizeof(float) * (size_t)Vp_file * C, e), *host = wte ? xcalloc(most, sizeof(float), e) : NULL;
    if (!host) rc = RP_ENOMEM;
    if (!rc) rc = read_floats(f, wte, (size_t)Vp_file * C, path, e);
    if (!rc) rc = check_finite(path, m, 0, wte, (size_t)Vp_file * C, e);
    if (!rc) {
        size_t keep = (size_t)(vt < Vp_file ? vt : Vp_file);
        memcpy(host, wte, keep * C * sizeof(float));
        rc = model_tensor_upload(m, 'p', 0, host, e);
        size_t dropped = 0;
        for (size_t i = keep * C; i < (size_t)Vp_file * C; i++) dropped += wte[i] != 0.0f;
        if (dropped)
            log_warn("%s: %zu non-zero values in wte rows %zu..%d are beyond the tokenizer's vocabulary and were dropped", path,
                     dropped, keep, Vp_file - 1);
    }
    free(wte);
    for (int k = 1; k < GPT_N_TENSORS && !rc; k++)
        if (!(rc = read_floats(f, host, model_tensor(m, k)->numel, path, e)) &&
            !(rc = check_finite(path, m, k, host, model_tensor(m, k)->numel, e)))
            rc = model_tensor_upload(m, 'p', k, host, e);
    free(host);
    fclose(f);
    if (rc) {
        model_free(m);
        return rc;
    }
    *file_vocab = V;
    return RP_OK;
}

int llmc_save(const char *path, const Model *m, int header_vocab, Error *e) {
    if (m->arch != ARCH_GPT2)
        return error_set(e, RP_EINPUT, "%s: llm.c files hold GPT-2 models; this model is %s", path, model_arch_name(m->arch));
    const GPTConfig *c = &m->gpt2.cfg;
    if (header_vocab <= 0) header_vocab = c->vocab_size;
    if (header_vocab > c->vocab_size)
        return error_set(e, RP_EINTERNAL, "%s: llm.c header V %d exceeds the model's vocabulary %d", path, header_vocab, c->vocab_size);
    int32_t h[LLMC_HEADER_INTS] = {LLMC_MAGIC, LLMC_VERSION, c->n_positions, header_vocab, c->n_layer,
                                   c->n_head,  c->n_embd,    c->padded_vocab_size};
    char *tmp = atomic_tmp_path(path, e);
    if (!tmp) return RP_ENOMEM;
    int rc = RP_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = error_set(e, RP_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    size_t most = 0;
    for (int k = 0; k < GPT_N_TENSORS; k++) most = model_tensor(m, k)->numel > most ? model_tensor(m, k)->numel : most;
    float *host = xmalloc(sizeof(float) * most, e);
    int bad = !host || fwrite(h, sizeof(int32_t), LLMC_HEADER_INTS, f) != LLMC_HEADER_INTS;
    for (int k = 0; k < GPT_N_TENSORS && !bad && !rc; k++)
        if (!(rc = model_tensor_download(m, 'p', k, host, e)))
            bad = fwrite(host, sizeof(float), model_tensor(m, k)->numel, f) != model_tensor(m, k)->numel;
    free(host);
    if (fclose(f) != 0) bad = 1;
    if (bad || rc) {
        atomic_abort(tmp);
        rc = rc ? error_wrap(e, "%s", path) : error_set(e, RP_EIO, "%s: write failed: %s", path, strerror(errno));
    } else rc = atomic_commit(tmp, path, e);
    free(tmp);
    return rc;
}

/* Checkpoint writer and reader (see checkpoint.h; layout in docs/formats.md). */
#include "model/checkpoint.h"

#include <stdlib.h>
#include <string.h>

#include "core/h5.h"

static const char *const CFG_ATTRS[6] = {"n_layer", "n_head", "n_embd", "n_positions", "vocab_size", "padded_vocab_size"};

void checkpoint_meta_init(CheckpointMeta *meta) { memset(meta, 0, sizeof *meta); }


int checkpoint_meta_set_opt(CheckpointMeta *meta, const char *name, double value, Error *e) {
    for (int i = 0; i < meta->n_opts; i++)
        if (!strcmp(meta->opt_name[i], name)) {
            meta->opt_value[i] = value;
            return RP_OK;
        }
    if (meta->n_opts == CHECKPOINT_MAX_OPTS || strlen(name) >= sizeof meta->opt_name[0])
        return error_set(e, RP_EINTERNAL, "checkpoint: cannot store run option '%s'", name);
    snprintf(meta->opt_name[meta->n_opts], sizeof meta->opt_name[0], "%s", name);
    meta->opt_value[meta->n_opts++] = value;
    return RP_OK;
}

int checkpoint_meta_get_opt(const CheckpointMeta *meta, const char *name, double *value) {
    for (int i = 0; i < meta->n_opts; i++)
        if (!strcmp(meta->opt_name[i], name)) {
            *value = meta->opt_value[i];
            return 1;
        }
    return 0;
}

void checkpoint_hf_name(int k, int l, char *buf, size_t n, int *transposed) {
    const GPTTensorInfo *t = gpt_tensor_info(k);
    *transposed = t->hf_transposed;
    if (t->layered) snprintf(buf, n, "transformer.h.%d.%s", l, t->hf);
    else snprintf(buf, n, "%s", t->hf);
}

/* Per-layer shape of tensor k in restpg's layout: rows x cols (cols = 0 for a vector); for wte
 * the real vocabulary rows only (the padding rows are not stored). */
static void tensor_shape(const GPTConfig *c, int k, size_t *rows, size_t *cols) {
    size_t C = (size_t)c->n_embd;
    *cols = 0;
    switch (k) {
    case 0: *rows = (size_t)c->vocab_size, *cols = C; break;
    case 1: *rows = (size_t)c->n_positions, *cols = C; break;
    case 4: *rows = 3 * C, *cols = C; break;
    case 5: *rows = 3 * C; break;
    case 6: *rows = C, *cols = C; break;
    case 10: *rows = 4 * C, *cols = C; break;
    case 11: *rows = 4 * C; break;
    case 12: *rows = C, *cols = 4 * C; break;
    default: *rows = C; break;
    }
}

static void transpose(const float *in, float *out, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) out[j * rows + i] = in[i * cols + j];
}

/* Contiguous, uncompressed: parameters do not compress, and deflate would slow every save. */
static int write_raw(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *data, Error *e) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    if (sp < 0) return error_set(e, RP_EIO, "%s: cannot create dataspace", name);
    hid_t ds = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = RP_OK;
    if (ds < 0) rc = error_set(e, RP_EIO, "%s: cannot create dataset", name);
    else {
        if (H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
            rc = error_set(e, RP_EIO, "%s: write failed (disk full?)", name);
        if (H5Dclose(ds) < 0 && !rc) rc = error_set(e, RP_EIO, "%s: closing dataset failed", name);
    }
    H5Sclose(sp);
    return rc;
}

static int open_group(hid_t f, const char *name, int create, hid_t *g, Error *e) {
    *g = create ? H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : H5Gopen2(f, name, H5P_DEFAULT);
    if (*g < 0) return error_set(e, create ? RP_EIO : RP_EINPUT, "cannot %s group '/%s'", create ? "create" : "open", name);
    return RP_OK;
}

/* Writes (save) or reads the parameters as Hugging Face tensors: one walk over the layout so the
 * names, shapes and transposes of both directions can never disagree. Reading checks shapes.
 * Each tensor passes through a host copy (the model's memory belongs to its backend). */
static int params_io(hid_t f, GPT *m, int save, Error *e) {
    const GPTConfig *c = &m->cfg;
    hid_t g;
    int rc = open_group(f, "params", save, &g, e);
    if (rc) return rc;
    size_t most = 0;
    for (int k = 0; k < GPT_N_TENSORS; k++) most = m->tensors[k].numel > most ? m->tensors[k].numel : most;
    float *scratch = xmalloc(sizeof(float) * 4 * (size_t)c->n_embd * (size_t)c->n_embd, e);
    float *host = scratch ? xcalloc(most, sizeof(float), e) : NULL;
    if (!host) rc = RP_ENOMEM;
    for (int k = 0; k < GPT_N_TENSORS && !rc; k++) {
        size_t rows, cols;
        tensor_shape(c, k, &rows, &cols);
        int layers = gpt_tensor_info(k)->layered ? c->n_layer : 1;
        if (save) rc = gpt_tensor_download(m, 'p', k, host, e);
        for (int l = 0; l < layers && !rc; l++) {
            char name[128];
            int tr;
            checkpoint_hf_name(k, l, name, sizeof name, &tr);
            float *ours = host + (size_t)l * rows * (cols ? cols : 1);
            hsize_t dims[2] = {tr ? cols : rows, tr ? rows : cols};
            if (save) {
                if (tr) transpose(ours, scratch, rows, cols);
                rc = write_raw(g, name, H5T_NATIVE_FLOAT, cols ? 2 : 1, dims, tr ? scratch : ours, e);
            } else {
                rc = h5_read_into(g, name, H5T_NATIVE_FLOAT, cols ? 2 : 1, dims, tr ? scratch : ours, e);
                if (!rc && tr) transpose(scratch, ours, cols, rows);
            }
        }
        if (!save && !rc) rc = gpt_tensor_upload(m, 'p', k, host, e);
    }
    free(host);
    free(scratch);
    H5Gclose(g);
    return rc;
}

/* The AdamW moments (m, then v) through one host copy of n_params floats. */
static int moments_io(hid_t g, GPT *m, int save, Error *e) {
    hsize_t n = (hsize_t)m->n_params;
    float *host = xmalloc(sizeof(float) * m->n_params, e);
    if (!host) return RP_ENOMEM;
    int rc = RP_OK;
    static const char *const NAMES[2] = {"adam_m", "adam_v"};
    for (int i = 0; i < 2 && !rc; i++) {
        int which = i ? 'v' : 'm';
        if (save) {
            if (!(rc = gpt_state_download(m, which, host, e))) rc = write_raw(g, NAMES[i], H5T_NATIVE_FLOAT, 1, &n, host, e);
        } else if (!(rc = h5_read_into(g, NAMES[i], H5T_NATIVE_FLOAT, 1, &n, host, e))) {
            rc = gpt_state_upload(m, which, host, e);
        }
    }
    free(host);
    return rc;
}

static int save_train(hid_t f, const GPT *m, const CheckpointMeta *meta, Error *e) {
    hid_t g = -1;
    hsize_t nr = 1;
    int rc;
    if (!m->opt_m_memory) return error_set(e, RP_EINTERNAL, "checkpoint_save: training state without AdamW moments");
    if ((rc = open_group(f, "optimizer", 1, &g, e))) return rc;
    if (!(rc = moments_io(g, (GPT *)m, 1, e))) rc = h5_attr_set_i64(g, "step", meta->step, e);
    H5Gclose(g);
    if (rc || (rc = open_group(f, "rng", 1, &g, e))) return rc;
    rc = write_raw(g, "state", H5T_NATIVE_UINT64, 1, &nr, &meta->rng_state, e);
    H5Gclose(g);
    if (rc || (rc = open_group(f, "data_position", 1, &g, e))) return rc;
    if (!(rc = h5_attr_set_i64(g, "epoch", meta->data_epoch, e))) rc = h5_attr_set_i64(g, "consumed", meta->data_pos, e);
    H5Gclose(g);
    if (rc || (rc = open_group(f, "run_options", 1, &g, e))) return rc;
    for (int i = 0; i < meta->n_opts && !rc; i++) rc = h5_attr_set_f64(g, meta->opt_name[i], meta->opt_value[i], e);
    H5Gclose(g);
    return rc;
}

int checkpoint_save(const char *path, const GPT *m, const Tokenizer *t, const CheckpointMeta *meta, Error *e) {
    char *tmp;
    hid_t f;
    int rc = h5_create(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, &tmp, &f, e);
    if (rc) return rc;
    const GPTConfig *c = &m->cfg;
    const int vals[6] = {c->n_layer, c->n_head, c->n_embd, c->n_positions, c->vocab_size, c->padded_vocab_size};
    for (int i = 0; i < 6 && !rc; i++) rc = h5_attr_set_i64(f, CFG_ATTRS[i], vals[i], e);
    if (!rc && meta && meta->llmc_vocab_size > 0) rc = h5_attr_set_i64(f, "llmc_vocab_size", meta->llmc_vocab_size, e);
    if (!rc) rc = params_io(f, (GPT *)m, 1, e);
    uint8_t *tok = NULL;
    size_t ntok = 0;
    if (!rc && !(rc = tokenizer_serialize(t, &tok, &ntok, e))) {
        hsize_t d = (hsize_t)ntok;
        rc = write_raw(f, "tokenizer", H5T_NATIVE_UINT8, 1, &d, tok, e);
        free(tok);
    }
    if (!rc && meta && meta->has_train) rc = save_train(f, m, meta, e);
    if (rc) {
        h5_abort(f, tmp);
        rc = error_wrap(e, "%s", path);
    } else rc = h5_commit(f, tmp, path, e);
    free(tmp);
    return rc;
}

static int read_config(hid_t f, GPTConfig *c, Error *e) {
    int *dst[6] = {&c->n_layer, &c->n_head, &c->n_embd, &c->n_positions, &c->vocab_size, &c->padded_vocab_size};
    memset(c, 0, sizeof *c);
    for (int i = 0; i < 6; i++) {
        int64_t v;
        int rc = h5_attr_get_i64(f, CFG_ATTRS[i], &v, e);
        if (rc) return rc;
        if (v < 1 || v > 0x7fffffff) return error_set(e, RP_EINPUT, "attribute '%s' is %lld, expected a positive int", CFG_ATTRS[i], (long long)v);
        *dst[i] = (int)v;
    }
    int stored_vp = c->padded_vocab_size;
    int rc = gpt_config_check(c, e);
    if (rc) return rc;
    if (stored_vp != c->padded_vocab_size)
        return error_set(e, RP_EINPUT, "attribute 'padded_vocab_size' is %d, this build pads vocab_size %d to %d", stored_vp,
                         c->vocab_size, c->padded_vocab_size);
    return RP_OK;
}

static herr_t collect_opt(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    CheckpointMeta *meta = data;
    double v;
    Error e;
    if (h5_attr_get_f64(loc, name, &v, &e) || checkpoint_meta_set_opt(meta, name, v, &e)) return -1;
    return 0;
}

static int load_train(hid_t f, GPT *m, CheckpointMeta *meta, Error *e) {
    hsize_t nr = 1;
    hid_t g;
    int rc;
    if ((rc = gpt_opt_reset(m, e)) || (rc = open_group(f, "optimizer", 0, &g, e))) return rc;
    if (!(rc = moments_io(g, m, 0, e))) rc = h5_attr_get_i64(g, "step", &meta->step, e);
    H5Gclose(g);
    if (rc || (rc = open_group(f, "rng", 0, &g, e))) return rc;
    rc = h5_read_into(g, "state", H5T_NATIVE_UINT64, 1, &nr, &meta->rng_state, e);
    H5Gclose(g);
    if (rc || (rc = open_group(f, "data_position", 0, &g, e))) return rc;
    if (!(rc = h5_attr_get_i64(g, "epoch", &meta->data_epoch, e))) rc = h5_attr_get_i64(g, "consumed", &meta->data_pos, e);
    H5Gclose(g);
    if (rc || (rc = open_group(f, "run_options", 0, &g, e))) return rc;
    hsize_t idx = 0;
    if (H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_opt, meta) < 0)
        rc = error_set(e, RP_EINPUT, "/run_options: unreadable attribute");
    H5Gclose(g);
    if (!rc && (meta->step < 0 || meta->data_epoch < 0 || meta->data_pos < 0))
        rc = error_set(e, RP_EINPUT, "negative step or data position");
    if (!rc) meta->has_train = 1;
    return rc;
}

static int load_tokenizer(hid_t f, const char *path, const GPTConfig *c, Tokenizer **t, Error *e) {
    hsize_t d;
    void *buf = NULL;
    int rc = h5_read_array(f, "tokenizer", H5T_NATIVE_UINT8, 1, &d, &buf, e);
    if (rc) return rc;
    char *source = xasprintf(e, "%s:/tokenizer", path);
    rc = source ? tokenizer_deserialize(buf, (size_t)d, source, t, e) : RP_ENOMEM;
    free(source);
    free(buf);
    if (rc) return rc;
    if (tokenizer_vocab_size(*t) != c->vocab_size) {
        rc = error_set(e, RP_EINPUT, "config mismatch with the tokenizer: vocab_size attribute is %d but the embedded tokenizer has %d tokens",
                       c->vocab_size, tokenizer_vocab_size(*t));
        tokenizer_free(*t);
        *t = NULL;
    }
    return rc;
}

int checkpoint_load(const char *path, GPT *m, Tokenizer **t, CheckpointMeta *meta, Error *e) {
    hid_t f;
    int rc = h5_open_read(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, &f, e);
    if (rc) return rc;
    GPTConfig c;
    *t = NULL;
    if (meta) checkpoint_meta_init(meta);
    int have_model = 0;
    if (!(rc = read_config(f, &c, e)) && !(rc = load_tokenizer(f, path, &c, t, e)) && !(rc = gpt_init(m, &c, e))) {
        have_model = 1;
        rc = params_io(f, m, 0, e);
    }
    if (!rc && meta && H5Aexists(f, "llmc_vocab_size") > 0)
        rc = h5_attr_get_i64(f, "llmc_vocab_size", &meta->llmc_vocab_size, e);
    if (!rc && meta && h5_exists(f, "optimizer")) rc = load_train(f, m, meta, e);
    h5_close(f);
    if (rc) {
        if (have_model) gpt_free(m);
        tokenizer_free(*t);
        *t = NULL;
        return error_wrap(e, "%s", path);
    }
    return RP_OK;
}

/* Checkpoint writer and reader (see checkpoint.h; layout in docs/formats.md). */
#include "model/checkpoint.h"

#include <math.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/h5.h"
#include "model/gguf_import.h"
#include "model/hf_dir.h"
#include "model/hf_tensors.h"

static const char *const CFG_ATTRS[6] = {"n_layer", "n_head", "n_embd", "n_positions", "vocab_size", "padded_vocab_size"};

/* The Llama family's config attributes (the file's "architecture" attribute names the variant:
 * "gemma3", "llama", "qwen2", "qwen3"; GPT-2 files carry none, as before there were other
 * architectures). The variant's constructor (llama_config_variant) gives the switches; the
 * attributes give the rest. Gemma 3 files keep exactly the attributes they always had; the
 * sliding-window ones are Gemma 3's only, tie_word_embeddings the others' only, and the RoPE
 * scaling ones appear only when there is scaling ("rope_scaling" = "linear" or "llama3"). */
enum { K_INT, K_FLOAT, K_DOUBLE, K_COUNT };              /* K_INT > 0, K_COUNT >= 0 */
enum { S_ALL, S_GEMMA, S_OTHERS, S_SCALED };             /* which configs carry an attribute */
#define LA(f, kind, scope) {#f, offsetof(LlamaConfig, f), kind, scope}
static const struct {
    const char *name;
    size_t off;
    int kind, scope;
} L_ATTRS[] = {LA(vocab_size, K_INT, S_ALL),
               LA(padded_vocab_size, K_INT, S_ALL),
               LA(hidden_size, K_INT, S_ALL),
               LA(intermediate_size, K_INT, S_ALL),
               LA(n_layer, K_INT, S_ALL),
               LA(n_head, K_INT, S_ALL),
               LA(n_kv_head, K_INT, S_ALL),
               LA(head_dim, K_INT, S_ALL),
               LA(sliding_window, K_INT, S_GEMMA),
               LA(sliding_window_pattern, K_INT, S_GEMMA),
               LA(max_positions, K_INT, S_ALL),
               LA(query_pre_attn_scalar, K_FLOAT, S_GEMMA),
               LA(rms_norm_eps, K_FLOAT, S_ALL),
               LA(rope_theta, K_DOUBLE, S_ALL),
               LA(rope_local_base_freq, K_DOUBLE, S_GEMMA),
               LA(tie_word_embeddings, K_COUNT, S_OTHERS),
               LA(rope_factor, K_DOUBLE, S_SCALED),
               LA(rope_low_freq_factor, K_DOUBLE, S_SCALED),
               LA(rope_high_freq_factor, K_DOUBLE, S_SCALED),
               LA(rope_original_max_positions, K_COUNT, S_SCALED)};
#undef LA
#define N_L_ATTRS (sizeof L_ATTRS / sizeof L_ATTRS[0])
static const char *const ROPE_SCALINGS[] = {[ROPE_DEFAULT] = "default", [ROPE_LINEAR] = "linear",
                                            [ROPE_LLAMA3] = "llama3"};

/* Whether config c carries attribute i. */
static int has_attr(const LlamaConfig *c, size_t i) {
    switch (L_ATTRS[i].scope) {
    case S_GEMMA: return c->arch == ARCH_GEMMA3;
    case S_OTHERS: return c->arch != ARCH_GEMMA3;
    case S_SCALED: return c->rope_scaling != ROPE_DEFAULT;
    default: return 1;
    }
}

static int save_config(hid_t f, const Model *m, Error *e) {
    int rc = RP_OK;
    if (m->arch == ARCH_GPT2) {
        const GPTConfig *c = &m->gpt2.cfg;
        const int vals[6] = {c->n_layer, c->n_head, c->n_embd, c->n_positions, c->vocab_size, c->padded_vocab_size};
        for (int i = 0; i < 6 && !rc; i++) rc = h5_attr_set_i64(f, CFG_ATTRS[i], vals[i], e);
        return rc;
    }
    const LlamaConfig *lc = &m->llama.cfg;
    const char *c = (const char *)lc;
    rc = h5_attr_set_str(f, "architecture", model_arch_name(m->arch), e);
    for (size_t i = 0; i < N_L_ATTRS && !rc; i++) {
        if (!has_attr(lc, i)) continue;
        const void *p = c + L_ATTRS[i].off;
        int kind = L_ATTRS[i].kind;
        if (kind == K_INT || kind == K_COUNT) rc = h5_attr_set_i64(f, L_ATTRS[i].name, *(const int *)p, e);
        else rc = h5_attr_set_f64(f, L_ATTRS[i].name, kind == K_FLOAT ? *(const float *)p : *(const double *)p, e);
    }
    if (!rc && lc->rope_scaling != ROPE_DEFAULT) rc = h5_attr_set_str(f, "rope_scaling", ROPE_SCALINGS[lc->rope_scaling], e);
    return rc;
}

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

/* Uncompressed (parameters do not compress, and deflate would slow every save), but chunked so
 * HDF5's fletcher32 filter can checksum every chunk: a flipped bit in stored data then fails the
 * read (HDF5 verifies it on every H5Dread) instead of loading a silently different model. The
 * checksum lives beside the chunk, so the data bytes h5py returns are exactly what was written.
 * A chunk holds whole rows up to CHUNK_BYTES (one chunk for all but the largest tensors). */
#define CHUNK_BYTES ((hsize_t)4 << 20)
static int write_raw(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims, const void *data, Error *e) {
    hsize_t chunk[2] = {dims[0], rank > 1 ? dims[1] : 1}, row = H5Tget_size(type) * (rank > 1 ? dims[1] : 1);
    if (row && chunk[0] > CHUNK_BYTES / row) chunk[0] = CHUNK_BYTES / row ? CHUNK_BYTES / row : 1;
    hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int rc = RP_OK;
    if (sp < 0 || dcpl < 0) rc = error_set(e, RP_EIO, "%s: cannot create dataspace", name);
    else if (chunk[0] && row && (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0))
        rc = error_set(e, RP_EINTERNAL, "%s: cannot set up the checksum filter", name);
    hid_t ds = rc ? -1 : H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (!rc && ds < 0) rc = error_set(e, RP_EIO, "%s: cannot create dataset", name);
    else if (!rc) {
        /* Chunked data reaches the disk at the latest when the dataset closes: both say why. */
        errno = 0;
        if (H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
            rc = error_set(e, RP_EIO, "%s: write failed: %s", name, file_errno_text(errno));
        if (H5Dclose(ds) < 0 && !rc) rc = error_set(e, RP_EIO, "%s: write failed: %s", name, file_errno_text(errno));
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

int checkpoint_check_finite(const float *x, size_t n, const char *tensor, Error *e) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return error_set(e, RP_EINPUT, "tensor '%s': non-finite value %g at index %zu", tensor, (double)x[i], i);
    return RP_OK;
}

/* Whether a chunked dataset has every chunk where it belongs: a flipped chunk coordinate in the
 * index would otherwise read as a missing chunk, which HDF5 fills with zeros without a word.
 * Contiguous datasets (checkpoints written before checksums) have nothing to check. */
static int chunks_complete(hid_t ds, int rank, const hsize_t *dims) {
    hid_t dcpl = H5Dget_create_plist(ds), sp = H5Dget_space(ds);
    hsize_t c[2] = {0, 0}, n = 0, want;
    int ok = dcpl >= 0 && sp >= 0;
    if (ok && H5Pget_layout(dcpl) == H5D_CHUNKED) {
        ok = H5Pget_chunk(dcpl, 2, c) == rank && c[0] > 0 && (rank < 2 || c[1] == dims[1]) && H5Dget_num_chunks(ds, sp, &n) >= 0;
        want = ok ? (dims[0] + c[0] - 1) / c[0] : 0;
        ok = ok && n == want;
        for (hsize_t i = 0; ok && i < n; i++) {
            hsize_t off[2] = {0, 0};
            unsigned mask = 0;
            haddr_t addr;
            hsize_t size;
            /* A stored chunk is its rows of float32 and the 4-byte checksum. */
            ok = H5Dget_chunk_info(ds, sp, i, off, &mask, &addr, &size) >= 0 && off[0] == i * c[0] && off[1] == 0 && mask == 0 &&
                 size == c[0] * (rank > 1 ? c[1] : 1) * sizeof(float) + 4;
        }
    }
    if (sp >= 0) H5Sclose(sp);
    if (dcpl >= 0) H5Pclose(dcpl);
    return ok;
}

/* Reads a float dataset; a checksum failure (a failed read) or a non-finite value is RP_EINPUT
 * naming it. */
static int read_floats(hid_t loc, const char *name, int rank, const hsize_t *dims, float *dst, Error *e) {
    /* The checksum covers the stored bytes, not the datatype that says how to read them: a flipped
     * bit there (byte order, exponent position) would convert the bytes into other numbers. */
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT), type = ds < 0 ? -1 : H5Dget_type(ds);
    int stored_ok = type >= 0 && H5Tequal(type, H5T_IEEE_F32LE) > 0 && chunks_complete(ds, rank, dims);
    if (type >= 0) H5Tclose(type);
    if (ds >= 0) H5Dclose(ds);
    if (ds >= 0 && !stored_ok) return error_set(e, RP_EINPUT, "tensor '%s': stored type is not little-endian float32, or its chunk index is corrupt", name);
    int rc = h5_read_into(loc, name, H5T_NATIVE_FLOAT, rank, dims, dst, e);
    if (rc) return rc;
    size_t n = (size_t)dims[0] * (rank > 1 ? (size_t)dims[1] : 1);
    return checkpoint_check_finite(dst, n, name, e);
}

static int open_group(hid_t f, const char *name, int create, hid_t *g, Error *e) {
    *g = create ? H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : H5Gopen2(f, name, H5P_DEFAULT);
    if (*g < 0) return error_set(e, create ? RP_EIO : RP_EINPUT, "cannot %s group '/%s'", create ? "create" : "open", name);
    return RP_OK;
}

/* Writes (save) or reads the parameters as Hugging Face tensors (model/hf_tensors.h), one
 * dataset per slice under /params; reading checks shapes and checksums. */
static int slice_io(void *ctx, const HfSlice *s, float *data, int save, Error *e) {
    hid_t g = *(const hid_t *)ctx;
    hsize_t dims[2] = {s->dims[0], s->rank > 1 ? s->dims[1] : 0};
    /* Never write what could not be loaded: a diverged model stops here, and the previous
     * checkpoint at this path stays as it was. */
    if (save) {
        size_t n = (size_t)s->dims[0] * (s->rank > 1 ? (size_t)s->dims[1] : 1);
        int rc = checkpoint_check_finite(data, n, s->name, e);
        return rc ? rc : write_raw(g, s->name, H5T_NATIVE_FLOAT, s->rank, dims, data, e);
    }
    return read_floats(g, s->name, s->rank, dims, data, e);
}

static int slice_save(void *ctx, const HfSlice *s, float *data, Error *e) { return slice_io(ctx, s, data, 1, e); }
static int slice_load(void *ctx, const HfSlice *s, float *data, Error *e) { return slice_io(ctx, s, data, 0, e); }

static int params_io(hid_t f, Model *m, int save, Error *e) {
    hid_t g;
    int rc = open_group(f, "params", save, &g, e);
    if (rc) return rc;
    rc = hf_tensors_walk(m, save, 'p', save ? slice_save : slice_load, &g, e);
    H5Gclose(g);
    return rc;
}

/* The AdamW moments (m, then v) through one host copy of n_params floats. */
static int moments_io(hid_t g, Model *m, int save, Error *e) {
    hsize_t n = (hsize_t)m->n_params;
    float *host = xmalloc(sizeof(float) * m->n_params, e);
    if (!host) return RP_ENOMEM;
    int rc = RP_OK;
    static const char *const NAMES[2] = {"adam_m", "adam_v"};
    for (int i = 0; i < 2 && !rc; i++) {
        int which = i ? 'v' : 'm';
        if (save) {
            if (!(rc = model_state_download(m, which, host, e)) && !(rc = checkpoint_check_finite(host, m->n_params, NAMES[i], e)))
                rc = write_raw(g, NAMES[i], H5T_NATIVE_FLOAT, 1, &n, host, e);
        } else if (!(rc = read_floats(g, NAMES[i], 1, &n, host, e))) {
            rc = model_state_upload(m, which, host, e);
        }
    }
    free(host);
    return rc;
}

static int save_train(hid_t f, const Model *m, const CheckpointMeta *meta, Error *e) {
    hid_t g = -1;
    hsize_t nr = 1;
    int rc;
    if (!model_opt_ready(m)) return error_set(e, RP_EINTERNAL, "checkpoint_save: training state without AdamW moments");
    if ((rc = open_group(f, "optimizer", 1, &g, e))) return rc;
    if (!(rc = moments_io(g, (Model *)m, 1, e))) rc = h5_attr_set_i64(g, "step", meta->step, e);
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

int checkpoint_save(const char *path, const Model *m, const Tokenizer *t, const CheckpointMeta *meta, Error *e) {
    char *tmp;
    hid_t f;
    int rc = h5_create(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, &tmp, &f, e);
    if (rc) return rc;
    rc = save_config(f, m, e);
    if (!rc && meta && meta->llmc_vocab_size > 0) rc = h5_attr_set_i64(f, "llmc_vocab_size", meta->llmc_vocab_size, e);
    if (!rc) rc = params_io(f, (Model *)m, 1, e);
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

static int read_gpt2_config(hid_t f, GPTConfig *c, Error *e) {
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

static int read_llama_config(hid_t f, Arch arch, LlamaConfig *c, Error *e) {
    int rc = llama_config_variant(arch, c, e);
    if (rc) return rc;
    char *base = (char *)c;
    for (size_t i = 0; i < N_L_ATTRS; i++) {
        void *p = base + L_ATTRS[i].off;
        const int kind = L_ATTRS[i].kind;
        if (L_ATTRS[i].scope == S_SCALED ? H5Aexists(f, L_ATTRS[i].name) <= 0 : !has_attr(c, i)) continue;
        if (kind == K_INT || kind == K_COUNT) {
            int64_t v;
            if ((rc = h5_attr_get_i64(f, L_ATTRS[i].name, &v, e))) return rc;
            if (v < (kind == K_INT) || v > 0x7fffffff)
                return error_set(e, RP_EINPUT, "attribute '%s' is %lld, expected a %s int", L_ATTRS[i].name,
                                 (long long)v, kind == K_INT ? "positive" : "non-negative");
            *(int *)p = (int)v;
        } else {
            double v;
            if ((rc = h5_attr_get_f64(f, L_ATTRS[i].name, &v, e))) return rc;
            if (kind == K_FLOAT) *(float *)p = (float)v;
            else *(double *)p = v;
        }
    }
    if (H5Aexists(f, "rope_scaling") > 0) {
        char *s = NULL;
        if ((rc = h5_attr_get_str(f, "rope_scaling", &s, e))) return rc;
        c->rope_scaling = ROPE_DEFAULT;
        for (int i = ROPE_LINEAR; i <= ROPE_LLAMA3; i++)
            if (!strcmp(s, ROPE_SCALINGS[i])) c->rope_scaling = (RopeScaling)i;
        if (c->rope_scaling == ROPE_DEFAULT) rc = error_set(e, RP_EINPUT, "attribute 'rope_scaling' is '%s', expected linear or llama3", s);
        free(s);
        if (rc) return rc;
    }
    int stored_vp = c->padded_vocab_size;
    rc = llama_config_check(c, e);
    if (!rc && stored_vp != c->padded_vocab_size)
        rc = error_set(e, RP_EINPUT, "attribute 'padded_vocab_size' is %d, this build pads vocab_size %d to %d", stored_vp,
                       c->vocab_size, c->padded_vocab_size);
    return rc;
}

/* The architecture (attribute "architecture", absent in GPT-2 files) and its config. */
static int read_config(hid_t f, ModelConfig *c, Error *e) {
    memset(c, 0, sizeof *c);
    c->arch = ARCH_GPT2;
    if (H5Aexists(f, "architecture") > 0) {
        char *s = NULL;
        int rc = h5_attr_get_str(f, "architecture", &s, e);
        if (!rc) rc = model_arch_parse(s, &c->arch, e);
        free(s);
        if (rc) return error_wrap(e, "attribute 'architecture'");
    }
    return c->arch == ARCH_GPT2 ? read_gpt2_config(f, &c->gpt2, e) : read_llama_config(f, c->arch, &c->llama, e);
}

static herr_t collect_opt(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    CheckpointMeta *meta = data;
    double v;
    Error e;
    if (h5_attr_get_f64(loc, name, &v, &e) || checkpoint_meta_set_opt(meta, name, v, &e)) return -1;
    return 0;
}

static int load_train(hid_t f, Model *m, CheckpointMeta *meta, Error *e) {
    hsize_t nr = 1;
    hid_t g;
    int rc;
    if ((rc = model_opt_reset(m, e)) || (rc = open_group(f, "optimizer", 0, &g, e))) return rc;
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
    if ((rc = h5_probe_attrs(g, "/run_options", e))) {
        H5Gclose(g);
        return rc;
    }
    if (H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_opt, meta) < 0)
        rc = error_set(e, RP_EINPUT, "/run_options: unreadable attribute");
    H5Gclose(g);
    if (!rc && (meta->step < 0 || meta->data_epoch < 0 || meta->data_pos < 0))
        rc = error_set(e, RP_EINPUT, "negative step or data position");
    if (!rc) meta->has_train = 1;
    return rc;
}

static int load_tokenizer(hid_t f, const char *path, int vocab_size, Tokenizer **t, Error *e) {
    hsize_t d;
    void *buf = NULL;
    int rc = h5_read_array(f, "tokenizer", H5T_NATIVE_UINT8, 1, &d, &buf, e);
    if (rc) return rc;
    char *source = xasprintf(e, "%s:/tokenizer", path);
    rc = source ? tokenizer_deserialize(buf, (size_t)d, source, t, e) : RP_ENOMEM;
    free(source);
    free(buf);
    if (rc) return rc;
    if (tokenizer_vocab_size(*t) != vocab_size) {
        rc = error_set(e, RP_EINPUT, "config mismatch with the tokenizer: vocab_size attribute is %d but the embedded tokenizer has %d tokens",
                       vocab_size, tokenizer_vocab_size(*t));
        tokenizer_free(*t);
        *t = NULL;
    }
    return rc;
}

int checkpoint_load(const char *path, Model *m, Tokenizer **t, CheckpointMeta *meta, Error *e) {
    hid_t f;
    int rc = h5_open_read(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, &f, e);
    if (rc) return rc;
    ModelConfig c;
    *t = NULL;
    if (meta) checkpoint_meta_init(meta);
    int have_model = 0;
    if (!(rc = read_config(f, &c, e)) &&
        !(rc = load_tokenizer(f, path, c.arch == ARCH_GPT2 ? c.gpt2.vocab_size : c.llama.vocab_size, t, e)) &&
        !(rc = model_init(m, &c, e))) {
        have_model = 1;
        rc = params_io(f, m, 0, e);
    }
    if (!rc && meta && H5Aexists(f, "llmc_vocab_size") > 0)
        rc = h5_attr_get_i64(f, "llmc_vocab_size", &meta->llmc_vocab_size, e);
    if (!rc && meta && h5_exists(f, "optimizer")) rc = load_train(f, m, meta, e);
    h5_close(f);
    if (rc) {
        if (have_model) model_free(m);
        tokenizer_free(*t);
        *t = NULL;
        return error_wrap(e, "%s", path);
    }
    return RP_OK;
}

int model_file_is_gguf(const char *path) { return !strncmp(path, "gguf:", 5) || gguf_sniff(path); }

int model_file_is_import(const char *path) { return model_file_is_gguf(path) || hf_dir_is(path); }

int checkpoint_load_any(const char *path, Model *m, Tokenizer **t, CheckpointMeta *meta, Error *e) {
    if (hf_dir_is(path)) {
        if (meta) checkpoint_meta_init(meta);
        return hf_dir_load(path, m, t, e);
    }
    if (!model_file_is_gguf(path)) return checkpoint_load(path, m, t, meta, e);
    if (!strncmp(path, "gguf:", 5)) path += 5;
    if (meta) checkpoint_meta_init(meta);
    return gguf_import(path, m, t, e);
}

/* Hugging Face tokenizer.json files: reading tokenizer.json and what restpg takes from the
 * tokenizer_config.json beside it, and the "RPHF" file format, which stores that JSON itself so a
 * checkpoint rebuilds exactly the same tokenizer (docs/tokenizer.md, docs/formats.md). */
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "data/tokenizer_hf.h"
#include "data/tokenizer_spm.h"

#define HF_HEADER 32

/* Parses text[0..n) as one JSON object; RP_EINPUT naming `where` otherwise. */
static int parse_object(const char *text, size_t n, const char *where, cJSON **out, Error *e) {
    size_t bad;
    if (!utf8_valid(text, n, &bad)) return hf_bad(e, where, "", "is not valid UTF-8 (byte %zu)", bad);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    size_t off = end ? (size_t)(end - text) : 0;
    while (j && off < n && (text[off] == ' ' || text[off] == '\n' || text[off] == '\r' || text[off] == '\t')) off++;
    if (!j || off != n) {
        cJSON_Delete(j);
        return hf_bad(e, where, "", "is not valid JSON (near byte %zu)", off);
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return hf_bad(e, where, "", "is not a JSON object");
    }
    *out = j;
    return RP_OK;
}

static int read_json(const char *path, cJSON **out, Error *e) {
    char *text;
    size_t n;
    int rc = file_read_all(path, &text, &n, e);
    if (rc) return rc;
    rc = parse_object(text, n, path, out, e);
    free(text);
    return rc;
}

/* What restpg takes from tokenizer_config.json (absent file: nothing): eos_token, a string or
 * {"content": ...}, and add_bos_token. */
static int read_config(const char *path, cJSON **out, Error *e) {
    cJSON *cfg = cJSON_CreateObject(), *src = NULL;
    if (!cfg) return error_set(e, RP_ENOMEM, "out of memory");
    int rc = path_exists(path) ? read_json(path, &src, e) : RP_OK;
    const cJSON *eos = cJSON_GetObjectItemCaseSensitive(src, "eos_token");
    const cJSON *bos = cJSON_GetObjectItemCaseSensitive(src, "add_bos_token");
    if (!rc && cJSON_IsObject(eos)) eos = cJSON_GetObjectItemCaseSensitive(eos, "content");
    else if (!rc && eos && !cJSON_IsNull(eos) && !cJSON_IsString(eos))
        rc = hf_bad(e, path, "", ".eos_token must be a string or {\"content\": string}");
    if (!rc && eos && !cJSON_IsNull(eos) && !cJSON_IsString(eos))
        rc = hf_bad(e, path, "", ".eos_token.content must be a string");
    if (!rc && bos && !cJSON_IsNull(bos) && !cJSON_IsBool(bos)) rc = hf_bad(e, path, "", ".add_bos_token must be true or false");
    if (!rc && cJSON_IsString(eos) && !cJSON_AddStringToObject(cfg, "eos_token", eos->valuestring)) rc = RP_ENOMEM;
    if (!rc && cJSON_IsBool(bos) && !cJSON_AddBoolToObject(cfg, "add_bos_token", cJSON_IsTrue(bos))) rc = RP_ENOMEM;
    cJSON_Delete(src);
    if (rc) {
        cJSON_Delete(cfg);
        return rc == RP_ENOMEM && !e->code ? error_set(e, RP_ENOMEM, "out of memory") : rc;
    }
    *out = cfg;
    return RP_OK;
}

int hf_load(const char *path, int is_dir, Tokenizer **t, Error *e) {
    char *json_path = is_dir ? xasprintf(e, "%s/tokenizer.json", path) : xstrdup(path, e);
    char *dir = is_dir ? xstrdup(path, e) : xstrdup(path, e);
    if (!json_path || !dir) {
        free(json_path);
        free(dir);
        return RP_ENOMEM;
    }
    char *slash = is_dir ? NULL : strrchr(dir, '/');
    if (!is_dir) {
        if (slash) *slash = '\0';
        else strcpy(dir, ".");
    }
    char *cfg_path = xasprintf(e, "%s/tokenizer_config.json", slash == dir ? "" : dir);
    cJSON *tok = NULL, *cfg = NULL, *root = NULL;
    int rc = cfg_path ? read_json(json_path, &tok, e) : RP_ENOMEM;
    if (!rc) rc = read_config(cfg_path, &cfg, e);
    if (!rc && (!(root = cJSON_CreateObject()) || !cJSON_AddItemToObject(root, "tokenizer", tok))) rc = RP_ENOMEM;
    else if (!rc) tok = NULL; /* owned by root now */
    if (!rc && !cJSON_AddItemToObject(root, "config", cfg)) rc = RP_ENOMEM;
    else if (!rc) cfg = NULL;
    char *payload = rc ? NULL : cJSON_PrintUnformatted(root);
    if (!rc && !payload) rc = RP_ENOMEM;
    if (!rc) {
        HfSrc S = {json_path, "", cfg_path, "", e};
        rc = hf_build(root, &S, payload, strlen(payload), t);
    }
    if (rc == RP_ENOMEM && !e->code) error_set(e, RP_ENOMEM, "%s: out of memory", json_path);
    cJSON_Delete(tok);
    cJSON_Delete(cfg);
    cJSON_Delete(root);
    free(json_path);
    free(dir);
    free(cfg_path);
    return rc;
}

/* ---- RPHF: header | the JSON | CRC-32 (docs/formats.md) ---- */

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* T, BOS, EOT, reasoning, answer: what the header stores besides the JSON. */
static void header_ids(const Tokenizer *t, int32_t ids[5]) {
    ids[0] = t->n_tokens;
    ids[1] = t->hf->bos;
    for (int s = 0; s < TOK_N_SPECIAL; s++) ids[2 + s] = t->special[s];
}

int hf_serialize(const Tokenizer *t, uint8_t **buf, size_t *n, Error *e) {
    const HfVocab *v = t->hf;
    size_t total = HF_HEADER + v->payload_len + 4;
    uint8_t *b = xmalloc(total, e);
    if (!b) return RP_ENOMEM;
    int32_t ids[5];
    header_ids(t, ids);
    memcpy(b, HF_MAGIC, 4);
    put_le32(b + 4, HF_VERSION);
    for (int i = 0; i < 5; i++) put_le32(b + 8 + 4 * i, (uint32_t)ids[i]);
    put_le32(b + 28, (uint32_t)v->payload_len);
    memcpy(b + HF_HEADER, v->payload, v->payload_len);
    put_le32(b + total - 4, tokenizer_crc32(b, total - 4));
    *buf = b;
    *n = total;
    return RP_OK;
}

int hf_deserialize(const uint8_t *buf, size_t n, const char *src, Tokenizer **out, Error *e) {
    if (n < HF_HEADER + 4) return error_set(e, RP_EINPUT, "%s: truncated tokenizer file (%zu bytes)", src, n);
    uint32_t version = get_le32(buf + 4), len = get_le32(buf + 28);
    if (version != HF_VERSION)
        return error_set(e, RP_EINPUT, "%s: %s tokenizer file version %u is not supported (this restpg reads version %d)",
                         src, HF_MAGIC, version, HF_VERSION);
    if (n != HF_HEADER + (size_t)len + 4)
        return error_set(e, RP_EINPUT, "%s: %s tokenizer file: %zu bytes where its header implies %zu", src,
                         n < HF_HEADER + (size_t)len + 4 ? "truncated" : "corrupt", n, HF_HEADER + (size_t)len + 4);
    if (get_le32(buf + n - 4) != tokenizer_crc32(buf, n - 4))
        return error_set(e, RP_EINPUT, "%s: corrupt tokenizer file: checksum mismatch", src);
    char *payload = xmalloc((size_t)len + 1, e);
    if (!payload) return RP_ENOMEM;
    memcpy(payload, buf + HF_HEADER, len);
    payload[len] = '\0';
    cJSON *root = NULL;
    int rc = parse_object(payload, len, src, &root, e);
    HfSrc S = {src, "tokenizer", src, "config", e};
    if (rc) free(payload);
    else rc = hf_build(root, &S, payload, len, out);
    cJSON_Delete(root);
    if (rc) return rc;
    /* The header's ids follow from the JSON; ones that differ mean a damaged or foreign file. */
    int32_t ids[5];
    header_ids(*out, ids);
    static const char *const what[5] = {"the id count", "the BOS", "EOT", "the reasoning marker", "the answer marker"};
    for (int i = 0; i < 5; i++)
        if (ids[i] != (int32_t)get_le32(buf + 8 + 4 * i)) {
            rc = error_set(e, RP_EINPUT, "%s: corrupt tokenizer file: %s is stored as %d, the vocabulary makes it %d", src,
                           what[i], (int32_t)get_le32(buf + 8 + 4 * i), ids[i]);
            tokenizer_free(*out);
            *out = NULL;
            break;
        }
    return rc;
}

/* TensorBoard event files: CRC32C, TFRecord framing, the few Event/Summary protobuf fields
 * written by hand, and the writer (see tbevents.h). */
#include "core/tbevents.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/text.h"

uint32_t tbevents_crc32c(const void *data, size_t n) {
    /* Table of the reflected polynomial, built on first use (the writer runs on one thread; a
     * second thread racing here would write the same values). */
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const uint8_t *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

uint32_t tbevents_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

static void put_le(uint8_t *out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) out[i] = (uint8_t)(v >> (8 * i));
}

void tbevents_frame(const void *payload, size_t n, uint8_t *out) {
    put_le(out, (uint64_t)n, 8);
    put_le(out + 8, tbevents_mask(tbevents_crc32c(out, 8)), 4);
    memcpy(out + 12, payload, n);
    put_le(out + 12 + n, tbevents_mask(tbevents_crc32c(payload, n)), 4);
}

/* Protobuf wire format: a key is (field << 3) | wire type; types used here are varint (0),
 * fixed64 (1), length-delimited (2) and fixed32 (5). Field numbers (tensorboard's
 * event.proto / summary.proto): Event wall_time 1 (double), step 2 (int64), file_version 3
 * (string), summary 5; Summary value 1 (repeated); Summary.Value tag 1, simple_value 2 (float). */
enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

static int pb_varint(StrBuf *b, uint64_t v, Error *e) {
    char buf[10];
    size_t n = 0;
    do {
        buf[n++] = (char)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return strbuf_append(b, buf, n, e);
}

static int pb_key(StrBuf *b, int field, int wire, Error *e) { return pb_varint(b, (uint64_t)(field << 3 | wire), e); }

static int pb_fixed(StrBuf *b, int field, int wire, uint64_t bits, int bytes, Error *e) {
    uint8_t buf[8];
    put_le(buf, bits, bytes);
    int rc = pb_key(b, field, wire, e);
    return rc ? rc : strbuf_append(b, (const char *)buf, (size_t)bytes, e);
}

static int pb_bytes(StrBuf *b, int field, const void *s, size_t n, Error *e) {
    int rc = pb_key(b, field, WIRE_LEN, e);
    if (!rc) rc = pb_varint(b, n, e);
    return rc || !n ? rc : strbuf_append(b, s, n, e);
}

static uint64_t double_bits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static uint64_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static double wall_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* An Event with wall_time and step, then file_version (when non-NULL) or a summary of v[0..n). */
static int encode_event(StrBuf *ev, int64_t step, const char *file_version, const TbScalar *v, int n, Error *e) {
    StrBuf sum, val;
    strbuf_init(&sum);
    strbuf_init(&val);
    int rc = pb_fixed(ev, 1, WIRE_FIXED64, double_bits(wall_time()), 8, e);
    if (!rc) rc = pb_key(ev, 2, WIRE_VARINT, e);
    if (!rc) rc = pb_varint(ev, (uint64_t)step, e); /* int64: two's complement, as protobuf does */
    if (!rc && file_version) rc = pb_bytes(ev, 3, file_version, strlen(file_version), e);
    for (int i = 0; i < n && !rc && !file_version; i++) {
        strbuf_clear(&val);
        if (!(rc = pb_bytes(&val, 1, v[i].tag, strlen(v[i].tag), e)) &&
            !(rc = pb_fixed(&val, 2, WIRE_FIXED32, float_bits((float)v[i].value), 4, e)))
            rc = pb_bytes(&sum, 1, val.s, val.len, e);
    }
    if (!rc && !file_version) rc = pb_bytes(ev, 5, sum.s, sum.len, e);
    strbuf_free(&sum);
    strbuf_free(&val);
    return rc;
}

static void close_fd(TbEvents *w) {
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
}

/* Frames the event and writes the record with one write(2) (looping only on a short write). */
static int write_record(TbEvents *w, const StrBuf *ev, Error *e) {
    if (w->fd < 0) return error_set(e, RP_EIO, "%s: the events file is closed", w->path ? w->path : "tensorboard");
    size_t len = ev->len + TBEVENTS_FRAME_EXTRA;
    uint8_t *rec = malloc(len);
    if (!rec) return error_set(e, RP_ENOMEM, "out of memory");
    tbevents_frame(ev->s, ev->len, rec);
    size_t done = 0;
    int rc = RP_OK;
    while (done < len) {
        ssize_t k = write(w->fd, rec + done, len - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            rc = error_set(e, RP_EIO, "%s: cannot write: %s", w->path, k < 0 ? file_errno_text(errno) : "no progress");
            close_fd(w);
            break;
        }
        done += (size_t)k;
    }
    free(rec);
    return rc;
}

int tbevents_open(TbEvents **out, const char *dir, Error *e) {
    static atomic_int opened;
    *out = NULL;
    int rc = mkdir_p(dir, e);
    if (rc) return rc;
    TbEvents *w = xcalloc(1, sizeof *w, e);
    if (!w) return RP_ENOMEM;
    w->fd = -1;
    char host[HOST_NAME_MAX + 1];
    if (gethostname(host, sizeof host)) snprintf(host, sizeof host, "localhost");
    host[HOST_NAME_MAX] = '\0';
    w->path = xasprintf(e, "%s/events.out.tfevents.%010lld.%s.%ld.%d", dir, (long long)time(NULL), host, (long)getpid(),
                        atomic_fetch_add(&opened, 1));
    if (!w->path) {
        tbevents_close(w);
        return RP_ENOMEM;
    }
    if ((w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644)) < 0) {
        rc = error_set(e, RP_EIO, "%s: cannot create: %s", w->path, file_errno_text(errno));
        tbevents_close(w);
        return rc;
    }
    StrBuf ev;
    strbuf_init(&ev);
    rc = encode_event(&ev, 0, "brain.Event:2", NULL, 0, e);
    if (!rc) rc = write_record(w, &ev, e);
    strbuf_free(&ev);
    if (rc) tbevents_close(w);
    else *out = w;
    return rc;
}

int tbevents_write(TbEvents *w, int64_t step, const TbScalar *v, int n, Error *e) {
    StrBuf ev;
    strbuf_init(&ev);
    int rc = encode_event(&ev, step, NULL, v, n, e);
    if (!rc) rc = write_record(w, &ev, e);
    strbuf_free(&ev);
    return rc;
}

/* The numeric members of o as "<prefix>/<name>" scalars (tags allocated, into *v and *tags). */
static int json_scalars(const cJSON *o, const char *prefix, TbScalar **v, char ***tags, int *n, Error *e) {
    int cap = cJSON_GetArraySize(o);
    *n = 0;
    *v = calloc((size_t)cap + 1, sizeof **v);
    *tags = calloc((size_t)cap + 1, sizeof **tags);
    if (!*v || !*tags) return error_set(e, RP_ENOMEM, "out of memory");
    for (const cJSON *m = o->child; m; m = m->next) {
        if (!cJSON_IsNumber(m) || !m->string || !strcmp(m->string, "step") || !strcmp(m->string, "round")) continue;
        if (!((*tags)[*n] = xasprintf(e, "%s/%s", prefix, m->string))) return RP_ENOMEM;
        (*v)[*n] = (TbScalar){(*tags)[*n], m->valuedouble};
        (*n)++;
    }
    return RP_OK;
}

void tbevents_json(TbEvents *w, const char *prefix, int64_t step, const char *json) {
    if (!w || w->fd < 0) return;
    Error e;
    error_clear(&e);
    cJSON *o = cJSON_Parse(json);
    TbScalar *v = NULL;
    char **tags = NULL;
    int n = 0, rc = RP_OK;
    if (!cJSON_IsObject(o)) log_warn("tensorboard: not a JSON object, left out of %s: %.80s", w->path, json);
    else if (!(rc = json_scalars(o, prefix, &v, &tags, &n, &e)) && n) rc = tbevents_write(w, step, v, n, &e);
    if (rc) {
        log_warn("tensorboard: %s; no more scalars are written to %s", e.msg, w->path);
        close_fd(w);
    }
    for (int i = 0; tags && tags[i]; i++) free(tags[i]);
    free(tags);
    free(v);
    cJSON_Delete(o);
}

void tbevents_close(TbEvents *w) {
    if (!w) return;
    close_fd(w);
    free(w->path);
    free(w);
}

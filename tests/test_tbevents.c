/* TensorBoard event files (core/tbevents.h): CRC32C against the test vectors of RFC 3720
 * appendix B.4 and the CRC catalogue's check value, the TFRecord frame against the layout and
 * mask that TensorFlow's record format specifies, and a written file walked record by record.
 * That TensorBoard itself reads the files is tests/tensorboard.sh's job. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/tbevents.h"
#include "tests/test.h"

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* RFC 3720 B.4 lists each CRC as the four bytes sent, least significant first. */
static void check_vector(const char *name, const uint8_t *data, size_t n, const uint8_t crc_bytes[4]) {
    uint32_t got = tbevents_crc32c(data, n);
    CHECK_MSG(got == le32(crc_bytes), "%s: crc32c %08x, RFC 3720 says %02x %02x %02x %02x", name, got, crc_bytes[0],
              crc_bytes[1], crc_bytes[2], crc_bytes[3]);
}

static void test_crc32c(void) {
    uint8_t buf[48];
    memset(buf, 0, 32);
    check_vector("32 bytes of zeroes", buf, 32, (const uint8_t[]){0xaa, 0x36, 0x91, 0x8a});
    memset(buf, 0xff, 32);
    check_vector("32 bytes of ones", buf, 32, (const uint8_t[]){0x43, 0xab, 0xa8, 0x62});
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    check_vector("32 incrementing bytes", buf, 32, (const uint8_t[]){0x4e, 0x79, 0xdd, 0x46});
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
    check_vector("32 decrementing bytes", buf, 32, (const uint8_t[]){0x5c, 0xdb, 0x3f, 0x11});
    static const uint8_t read10[48] = {0x01, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x14, 0, 0, 0, 0, 0, 0x04, 0,
                                       0, 0, 0, 0x14, 0, 0, 0, 0x18, 0x28, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0};
    check_vector("iSCSI SCSI Read (10) command PDU", read10, 48, (const uint8_t[]){0x56, 0x3a, 0x96, 0xd9});
    /* The check value of CRC-32/ISCSI in the CRC catalogue. */
    CHECK(tbevents_crc32c("123456789", 9) == 0xe3069283u);
    CHECK(tbevents_crc32c("", 0) == 0);
}

/* TensorFlow's record format: masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8, written out
 * here bit by bit rather than with the rotation the writer uses. */
static uint32_t spec_mask(uint32_t crc) {
    uint32_t rot = 0;
    for (int b = 0; b < 32; b++)
        if (crc >> b & 1) rot |= 1u << ((b + 32 - 15) % 32);
    return (uint32_t)(((uint64_t)rot + 0xa282ead8u) & 0xFFFFFFFFu);
}

static void test_frame(void) {
    const uint32_t crcs[] = {0, 1, 0x8a9136aau, 0xFFFFFFFFu, 0x80000000u};
    for (size_t i = 0; i < sizeof crcs / sizeof crcs[0]; i++) CHECK(tbevents_mask(crcs[i]) == spec_mask(crcs[i]));
    const char payload[] = "an event payload";
    size_t n = sizeof payload - 1;
    uint8_t rec[64];
    tbevents_frame(payload, n, rec);
    CHECK(le64(rec) == n);
    CHECK(le32(rec + 8) == spec_mask(tbevents_crc32c(rec, 8)));
    CHECK(!memcmp(rec + 12, payload, n));
    CHECK(le32(rec + 12 + n) == spec_mask(tbevents_crc32c(payload, n)));
    tbevents_frame("", 0, rec); /* an empty payload still has both CRCs */
    CHECK(le64(rec) == 0 && le32(rec + 12) == spec_mask(0));
}

/* Walks a file's records: every frame's CRCs must hold and the frames must end at the end. */
static int count_records(const char *path, int *bad) {
    char *data = NULL;
    size_t len = 0;
    Error e;
    *bad = 0;
    if (file_read_all(path, &data, &len, &e)) return -1;
    const uint8_t *p = (const uint8_t *)data;
    size_t off = 0;
    int n = 0;
    while (off + 12 <= len) {
        uint64_t m = le64(p + off);
        if (le32(p + off + 8) != tbevents_mask(tbevents_crc32c(p + off, 8)) || off + 16 + m > len ||
            le32(p + off + 12 + m) != tbevents_mask(tbevents_crc32c(p + off + 12, m)))
            (*bad)++;
        if (off + 16 + m > len) break;
        off += 16 + m;
        n++;
    }
    if (off != len) (*bad)++;
    free(data);
    return n;
}

static void test_writer(void) {
    Error e;
    error_clear(&e);
    const char *tmp = getenv("RESTPG_TEST_TMP");
    char *dir = xasprintf(&e, "%s/tbevents_%ld/tb", tmp ? tmp : "/tmp", (long)getpid());
    TbEvents *a = NULL, *b = NULL;
    CHECK_OK(tbevents_open(&a, dir, &e), &e);
    CHECK_OK(tbevents_open(&b, dir, &e), &e); /* a second writer in the same second: a file of its own */
    if (!a || !b) return;
    CHECK(strcmp(a->path, b->path) < 0); /* name order is creation order */
    CHECK(strstr(a->path, "/events.out.tfevents.") != NULL);
    TbScalar v[2] = {{"t/x", 1.5}, {"t/y", -2}};
    CHECK_OK(tbevents_write(a, 3, v, 2, &e), &e);
    tbevents_json(a, "sft", 4, "{\"step\": 4, \"loss\": 2.5, \"skipped\": \"no\", \"ok\": true}");
    tbevents_json(a, "sft", 5, "{\"step\": 5}"); /* nothing numeric: no record */
    tbevents_json(NULL, "sft", 5, "{\"loss\": 1}");
    tbevents_json(a, "sft", 6, "{\"step\": 6, \"val_loss\": nan}"); /* no JSON: left out, the writer goes on */
    tbevents_json(a, "sft", 7, "{\"step\": 7, \"loss\": 2.25}");
    int bad;
    CHECK(a->fd >= 0);
    CHECK(count_records(a->path, &bad) == 4 && bad == 0);
    CHECK(count_records(b->path, &bad) == 1 && bad == 0);
    /* A directory that cannot be made: an error naming it, and no writer. */
    TbEvents *c = a;
    CHECK(tbevents_open(&c, "/proc/self/no/such", &e) != 0 && c == NULL && strstr(e.msg, "/proc/self/no"));
    tbevents_close(a);
    tbevents_close(b);
    tbevents_close(NULL);
    free(dir);
}

int main(void) {
    test_crc32c();
    test_frame();
    test_writer();
    return test_summary("test_tbevents");
}

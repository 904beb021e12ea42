/* TensorBoard event files (docs/formats.md#tensorboard-event-files): scalars appended live to an
 * events.out.tfevents.* file that TensorBoard reads while a run writes it.
 *
 * The file is a sequence of TFRecords (little-endian u64 payload length, masked CRC32C of those 8
 * bytes, the payload, masked CRC32C of the payload), each payload one `Event` protobuf: the first
 * carries file_version "brain.Event:2", every later one wall_time, step and a summary of
 * {tag, simple_value} values. A record goes out in one write(2) and nothing is buffered, so a live
 * TensorBoard sees each one as it is written, and a killed process leaves at worst one truncated
 * last record, which readers stop before. Each writer makes a new file (never appends to an old
 * one): a resumed run adds a file beside the first, and TensorBoard reads a directory's files in
 * name order, which is creation order. */
#ifndef RESTPG_CORE_TBEVENTS_H
#define RESTPG_CORE_TBEVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78, initial and final XOR 0xFFFFFFFF) of
 * data[0..n), as RFC 3720 section 12.1 / appendix B.4 define it. */
uint32_t tbevents_crc32c(const void *data, size_t n);

/* The TFRecord mask of a CRC: rotated right by 15 bits, plus 0xa282ead8 (mod 2^32). */
uint32_t tbevents_mask(uint32_t crc);

/* Bytes a record of an n-byte payload takes: n + 16. */
#define TBEVENTS_FRAME_EXTRA 16

/* Writes the TFRecord of payload[0..n) to out (n + TBEVENTS_FRAME_EXTRA bytes). */
void tbevents_frame(const void *payload, size_t n, uint8_t *out);

typedef struct {
    int fd;     /* -1 after a failed write */
    char *path; /* the events file */
} TbEvents;

/* One value of a summary. */
typedef struct {
    const char *tag;
    double value; /* stored as a float32 (simple_value), as TensorBoard's scalars are */
} TbScalar;

/* Creates dir (and its parents) and a new events file in it named
 * events.out.tfevents.<unix seconds, 10 digits>.<host>.<pid>.<n> (n counts this process's
 * writers), writes the file_version record and sets *w to the writer (tbevents_close frees
 * it). RP_EIO naming the path on failure, with *w NULL. */
int tbevents_open(TbEvents **w, const char *dir, Error *e);

/* Appends one Event at step with the n values (wall_time: now). RP_EIO naming the file if the
 * write fails; the file is then closed and later writes fail alike. */
int tbevents_write(TbEvents *w, int64_t step, const TbScalar *v, int n, Error *e);

/* Appends one Event at step holding every numeric member of the JSON object `json` (one metrics
 * line or record) except "step" and "round", tagged "<prefix>/<member>"; strings, booleans and
 * nested values are left out. The value is the JSON number itself (its decimal text to double to
 * float32), so the file holds exactly what the metrics say. A NULL w does nothing. Never fails
 * the caller: TensorBoard output is a view of metrics kept elsewhere, and failing a rank-0-only
 * step would leave the other ranks waiting. A text that is no JSON object (a "nan" printed as a
 * number) is logged and left out; a failed write is logged and the writer writes nothing more. */
void tbevents_json(TbEvents *w, const char *prefix, int64_t step, const char *json);

/* Closes the file and frees w (NULL: nothing). */
void tbevents_close(TbEvents *w);

#endif

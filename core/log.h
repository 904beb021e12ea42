/* Rank-0-only printing, progress lines and JSON-lines metrics.
 *
 * All user-facing output goes through here so that under mpirun only rank 0 speaks (other ranks
 * print only warnings and errors, prefixed with their rank). Progress is a redrawn bar on a TTY
 * and a plain line every few seconds in a log file; RESTPG_PROGRESS=bar|lines overrides the
 * choice (ranks started by mpirun or srun print lines, since their stdout is usually a log). */
#ifndef RESTPG_CORE_LOG_H
#define RESTPG_CORE_LOG_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus /* called from the CUDA backend (C++ under nvcc) */
extern "C" {
#endif

/* Tells the logger which rank this process is; rank != 0 silences log_info. Default rank 0. */
void log_set_rank(int rank, int world_size);
int log_rank(void);

/* Informational line on stdout, rank 0 only. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning on stderr from any rank, prefixed "warning:" (and "[rank r]" when world_size > 1). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Seconds since an arbitrary fixed point (monotonic clock). */
double time_now(void);

typedef struct {
    const char *label;
    int64_t total;     /* units of work, 0 if unknown */
    double t_start;
    double t_last;     /* last time a line was printed */
    int tty;
} Progress;

/* Starts a progress display for `total` units (rank 0 only; on other ranks it is silent). */
void progress_init(Progress *p, const char *label, int64_t total);
/* Reports `done` units finished; extra is a short free-form text (e.g. "loss 2.31 lr 3e-4"). On a
 * TTY redraws at most 10 times a second; otherwise prints a line at most every 5 seconds. */
void progress_update(Progress *p, int64_t done, const char *extra);
/* Prints the final line. */
void progress_finish(Progress *p, int64_t done, const char *extra);

#ifdef __cplusplus
}
#endif

#endif

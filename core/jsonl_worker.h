/* A long-running helper program spoken to in JSON Lines: the machinery behind the external judge
 * (reward/judge.h) and the command teacher (data/teacher_cmd.h).
 *
 * The program is started with an argv (never through a shell) in its own process group. Requests
 * go to its stdin one JSON object per line, in batches; for each request it must write one line to
 * stdout, a JSON object whose string field "id" names the request. Within a batch the answers may
 * come in any order but each id exactly once. What the other fields must hold is the caller's
 * business (JsonlJob.answer).
 *
 * Failures never hang: each answer line must arrive within timeout_s of the batch being sent or of
 * the previous answer. A program that dies or times out is restarted and the whole batch resent, up
 * to `retries` times per batch; then the call fails with RP_EIO. A program that answers wrongly
 * (bad JSON, unknown or repeated id, two JSON values on one line, a line longer than
 * JSONL_WORKER_MAX_LINE, or an answer the caller rejects) fails at once with RP_EINPUT: that is a
 * bug to fix, not a blip.
 *
 * Stopping or restarting the program kills its whole process group, so helpers it started (a shell
 * pipeline, a model server holding its stdout) do not outlive it. Every message starts with the
 * worker's `what` ("judge", "teacher"). */
#ifndef RESTPG_CORE_JSONL_WORKER_H
#define RESTPG_CORE_JSONL_WORKER_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/text.h"

/* Longest answer line accepted; a program that writes more without a newline is broken, and
 * buffering it whole would let it exhaust memory. */
#define JSONL_WORKER_MAX_LINE (16u << 20)

typedef struct {
    const char *what;  /* the program's role, first word of every message (a literal) */
    char **argv;       /* owned copy, NULL-terminated */
    double timeout_s;  /* per answer line */
    int batch;         /* requests per batch */
    int retries;       /* restarts allowed per batch */
    pid_t pid;
    pid_t pgid;        /* the program's process group (its first pid); outlives pid while helpers run */
    int wfd, rfd;
    int restarts;      /* total restarts so far, for reporting */
} JsonlWorker;

/* The n requests of one call, reached through callbacks so callers keep their own item types.
 * Indices k are 0..n-1 over the whole call. */
typedef struct {
    void *ctx;
    /* The id of request k (unique within the call). */
    const char *(*id)(void *ctx, int64_t k);
    /* Appends request k as one JSON object, without a newline. */
    int (*request)(void *ctx, int64_t k, StrBuf *b, Error *e);
    /* Checks the answer o to request k (its id already matched) and keeps what it needs; RP_EINPUT
     * with a message naming the id and the field when the answer is wrong. */
    int (*answer)(void *ctx, int64_t k, const cJSON *o, Error *e);
} JsonlJob;

/* Parses a command given as a JSON array of strings (["python3", "judge.py"]) or as
 * whitespace-separated words into a NULL-terminated argv (malloc'd; free with
 * jsonl_worker_argv_free). Messages start with "<what> command". */
int jsonl_worker_argv_parse(const char *what, const char *cmd, char ***argv, Error *e);
void jsonl_worker_argv_free(char **argv);

/* Starts the program (timeout_s <= 0: 60 s; batch <= 0: 64; retries < 0: 0). RP_EINPUT if it
 * cannot be executed (the message names it). Call jsonl_worker_stop afterwards, also on failure. */
int jsonl_worker_start(JsonlWorker *w, const char *what, char *const *argv, double timeout_s, int batch, int retries,
                       Error *e);
/* Sends job's n requests in batches, retrying as described above; on failure the message is
 * prefixed with "<what> '<argv[0]>' (batch starting at item K): ". */
int jsonl_worker_run(JsonlWorker *w, const JsonlJob *job, int64_t n, Error *e);
/* Closes the program's stdin, waits up to 2 s for it to exit, then kills its group. */
void jsonl_worker_stop(JsonlWorker *w);

/* Takes one answer line to the batch of requests [b0, b0 + bn) of job: checks it is one JSON
 * object with a known, not yet answered ("done[k - b0]") string id, then hands it to job->answer.
 * RP_EINPUT for every fault. jsonl_worker_run reads lines through it; public for the fuzz target. */
int jsonl_worker_take(const char *what, const JsonlJob *job, int64_t b0, int64_t bn, const char *line, uint8_t *done,
                      Error *e);

#endif

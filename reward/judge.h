/* External judge: a long-running user program that scores candidates (docs/reward.md).
 *
 * Protocol: restpg starts the program with an argv (never through a shell) and writes one JSON
 * object per line to its stdin: {"id", "input", "reference", "reasoning", "answer"}; for each it
 * must write one line {"id": ..., "reward": R} to stdout, R a finite number in [0, 1]. Requests go
 * in batches; within a batch the answers may come in any order but each id exactly once.
 *
 * Failures never hang: each response line must arrive within timeout_s of the batch being sent or
 * of the previous response. A judge that dies or times out is restarted and the whole batch resent,
 * up to `retries` times; then the call fails. A judge that answers wrongly (bad JSON, unknown or
 * repeated id, missing/NaN/out-of-range reward, two JSON values on one line, a line longer than
 * JUDGE_MAX_LINE) fails at once: that is a bug to fix, not a blip.
 *
 * The judge runs in its own process group, and stopping or restarting it kills the whole group, so
 * helpers it started (a shell pipeline, a model server holding its stdout) do not outlive it. */
#ifndef RESTPG_REWARD_JUDGE_H
#define RESTPG_REWARD_JUDGE_H

#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

/* Longest response line accepted; a judge that writes more without a newline is broken, and
 * buffering it whole would let it exhaust memory. */
#define JUDGE_MAX_LINE (16u << 20)

typedef struct {
    const char *id, *input, *reference, *reasoning, *answer;
} JudgeItem;

typedef struct {
    char **argv;       /* owned copy, NULL-terminated */
    double timeout_s;  /* per response line */
    int batch;         /* items per batch */
    int retries;       /* restarts allowed per batch */
    pid_t pid;
    pid_t pgid;        /* the judge's process group (its first pid); outlives pid while helpers run */
    int wfd, rfd;
    int restarts;      /* total restarts so far, for reporting */
} Judge;

/* Parses a command given as a JSON array of strings (["python3", "judge.py"]) or as
 * whitespace-separated words into a NULL-terminated argv (malloc'd; free with judge_argv_free). */
int judge_argv_parse(const char *cmd, char ***argv, Error *e);
void judge_argv_free(char **argv);

/* Starts the program. RP_EINPUT if it cannot be executed (the message names it). */
int judge_start(Judge *j, char *const *argv, double timeout_s, int batch, int retries, Error *e);
/* Scores n items into rewards[n], batching and retrying as described above. */
int judge_score(Judge *j, const JudgeItem *items, int64_t n, double *rewards, Error *e);
/* Closes the judge's stdin, waits briefly for it to exit, then kills it. */
void judge_stop(Judge *j);

#endif

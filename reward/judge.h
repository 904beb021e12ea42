/* External judge: a long-running user program that scores candidates (docs/reward.md), spoken to
 * through core/jsonl_worker.h (its process group, batches, per-line timeouts, restart and resend,
 * strict answers).
 *
 * Protocol: restpg writes one JSON object per line to the judge's stdin: {"id", "input",
 * "reference", "reasoning", "answer"}; for each it must write one line {"id": ..., "reward": R} to
 * stdout, R a finite number in [0, 1]. Requests go in batches; within a batch the answers may come
 * in any order but each id exactly once.
 *
 * A judge that dies or times out is restarted and the whole batch resent, up to `retries` times;
 * then the call fails. A judge that answers wrongly (bad JSON, unknown or repeated id,
 * missing/NaN/out-of-range reward, two JSON values on one line, a line longer than
 * JSONL_WORKER_MAX_LINE)
 * fails at once: that is a bug to fix, not a blip. */
#ifndef RESTPG_REWARD_JUDGE_H
#define RESTPG_REWARD_JUDGE_H

#include <stdint.h>

#include "core/error.h"
#include "core/jsonl_worker.h"

typedef struct {
    const char *id, *input, *reference, *reasoning, *answer;
} JudgeItem;

typedef struct {
    JsonlWorker w; /* what = "judge" */
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

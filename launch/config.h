/* Run configuration for `restpg run`, `restpg em` and `restpg ablate` (docs/pipeline.md).
 *
 * A config is a YAML mapping whose sections hold scalar keys (`em: {rounds: 3}`), addressed on the
 * command line with dotted names (`--em.rounds=2`). Every key has a type and a default; unknown
 * keys, values of the wrong type and duplicate keys are RP_EINPUT errors naming the file (or
 * "command line"), the line and the key. The effective config (defaults + file + overrides) is
 * written to the run directory as YAML, and a resumed run must have the same one. */
#ifndef RESTPG_LAUNCH_CONFIG_H
#define RESTPG_LAUNCH_CONFIG_H

#include "core/error.h"
#include "core/text.h"
#include "model/model.h"

typedef struct {
    const char *run_dir;
    const char *device; /* backend of every rank (kernels/backend.h) */
    long seed, threads;
    long stall_timeout; /* seconds without progress before the watchdog stops the job (core/watchdog.h) */
    struct {
        const char *source, *path;
        long synth_users, max_users, min_items, max_examples_per_user;
    } data;
    struct {
        const char *path;
        long vocab_size;
    } tokenizer;
    struct {
        const char *init, *dtype;
        long n_layer, n_head, n_embd, n_positions;
    } model;
    struct {
        int recompute;      /* every training stage (pretrain, sft, M-steps) */
        const char *reduce; /* tree or allreduce (trainer/dp.h) */
        const char *schedule; /* cosine or linear (trainer/schedule.h) */
        long zero;          /* 1: ZeRO-1 sharded AdamW (needs reduce allreduce) */
        long overlap;       /* 1: the all-reduce overlaps the backward (trainer/dp.h) */
        const char *vocab_chunk; /* auto or columns per loss chunk (model_vocab_chunk_parse) */
    } train;
    struct {
        long steps, batch_size, grad_accum, seq_len;
        double lr;
    } pretrain;
    struct {
        const char *teacher;
        double teacher_timeout;
        long teacher_batch, teacher_retries;
    } reason;
    struct {
        long k;
        const char *profile;
    } prompt;
    struct {
        long steps, batch_size, grad_accum, warmup;
        double lr;
        const char *reasoning;
    } sft;
    struct {
        long rounds, n, top_k, max_new_tokens, keep, steps, batch_size, grad_accum, limit;
        long max_reasoning_tokens, max_answer_tokens; /* separate budgets (sampler/sampler.h); 0 = off */
        double temperature, top_p, tau, lr, epochs, warmup_frac;
        const char *reward, *mstep_init, *subset, *select;
        const char *judge;   /* external judge command (reward/judge.h); "" = none */
        double judge_timeout;
        long judge_batch, judge_retries;
    } em;
    struct {
        const char *split, *decode, *meteor_compat;
        long limit, val_limit, max_new_tokens;
        long max_reasoning_tokens, max_answer_tokens;
        int judge; /* report the judge's mean score (needs em.judge) */
    } eval;
    struct {
        int tensorboard; /* metrics also to TensorBoard event files in run_dir/tensorboard */
    } report;
} RunConfig;

/* Sets every key to its default (strings point at static text until config_set copies). */
void config_defaults(RunConfig *c);
/* Frees the strings config_set/config_load copied. */
void config_free(RunConfig *c);

/* Applies a YAML file over c. */
int config_load(RunConfig *c, const char *path, Error *e);
/* Applies one "key=value" (dotted key) over c; origin names where it came from in errors. */
int config_set(RunConfig *c, const char *assignment, const char *origin, Error *e);
/* Checks values that each key's type cannot (choices, ranges). */
int config_check(const RunConfig *c, Error *e);
/* model.dtype as a DType (the key's rules admit only fp32 and bf16). */
DType config_dtype(const RunConfig *c);
/* train.vocab_chunk as columns per chunk, auto resolved by the selected backend (call after
 * backend_select; the key's check admits only what model_vocab_chunk_parse reads). */
int config_vocab_chunk(const RunConfig *c);

/* The effective config as YAML (sections in a fixed order), for the run directory and --help. */
int config_to_yaml(const RunConfig *c, StrBuf *out, Error *e);
/* Copies the runtime keys (device, train.recompute, train.zero, train.overlap, stall_timeout,
 * report.tensorboard: where a run computes, not what) from src, which config_to_yaml leaves out:
 * a config rebuilt from another's YAML (ablate's variants) gets them with this. */
int config_copy_runtime(RunConfig *dst, const RunConfig *src, Error *e);
/* Lists every key with its type, default and meaning (for `restpg run --help`). */
void config_print_keys(void);

/* Options of these commands besides config keys; a field is NULL/0 when the command has none. */
typedef struct {
    const char *config;  /* positional CONFIG.yaml */
    int resume;
    const char *out;     /* demo: --out DIR */
    const char *data, *sft, *base, *run_dir; /* em */
    const char *seeds;   /* ablate: --seeds LIST */
    const char *preset;  /* run, em, ablate: --preset NAME (launch/presets.h) */
} RunArgs;

/* The command line of run/demo/em/ablate: defaults, then the named preset (`preset`, may be NULL,
 * for demo; or --preset NAME on the command line, not both; launch/presets.h), then the config
 * file (the positional argument, when positional_config), then --section.key=value overrides in
 * order, wherever they stand; path options fill a; --resume sets a->resume; --seeds is ablate's.
 * Checks the result (config_check). RP_HELP after printing help with the key list. */
int config_parse_args(const char *cmd, const char *synopsis, const char *text, int argc, char **argv, RunConfig *c,
                      RunArgs *a, int positional_config, const char *preset, Error *e);

#endif

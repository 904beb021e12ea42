/* The stages of the method as typed calls: each `restpg` command that runs a stage parses its
 * argv into one of these option structs and calls the stage, and `restpg run/em/ablate/demo`
 * fill the same structs from the run config, so a run does exactly what the documented commands
 * do, without formatting and re-parsing argv. Sampling and evaluation already have theirs
 * (sampler/sampler.h SamplerOptions, launch/eval.h EvalOptions).
 *
 * Values are trusted to lie within the rules of the command's option table or of the run config's
 * keys (core/args.h), which both callers check; checks that need the data or the model stay in
 * the stages. pretrain and sft are collective (every rank calls them inside an MPI runtime); the
 * data stages are single-process (the pipeline runs them on rank 0). */
#ifndef RESTPG_LAUNCH_STAGES_H
#define RESTPG_LAUNCH_STAGES_H

#include "core/error.h"
#include "data/debian.h"
#include "data/prompt.h"
#include "data/synth.h"
#include "model/model.h"
#include "trainer/trainer.h"

/* `restpg data synth`: the synthetic dataset of c, written to out. */
int stage_synth(const SynthConfig *c, const char *out, Error *e);

/* `restpg data debian`: the Debian-maintainer dataset of o, written to out. */
int stage_debian(const DebianOptions *o, const char *out, Error *e);

typedef struct {
    const char *data;   /* dataset whose texts are trained on */
    const char *out;    /* tokenizer file written */
    const char *split;  /* train, val, test or all */
    int vocab_size;
} TokenizerTrainOptions;

/* `restpg tokenizer train`. */
int stage_tokenizer_train(const TokenizerTrainOptions *o, Error *e);

typedef struct {
    const char *data;    /* dataset, updated in place unless out is set */
    const char *out;     /* NULL: data */
    const char *teacher; /* "builtin", "jsonl:FILE" or "cmd:PROGRAM ARGS..." */
    const char *splits;  /* comma-separated splits to cover, or "all" */
    int k;               /* profile items retrieved for the teacher, >= 1 */
    double teacher_timeout; /* cmd: seconds per answer */
    int teacher_batch;      /* cmd: requests per batch */
    int teacher_retries;    /* cmd: restarts per batch */
} ReasonOptions;

/* `restpg reason`: adds reasoning paths to the dataset. */
int stage_reason(const ReasonOptions *o, Error *e);
/* Checks a teacher spec (reason.teacher, --teacher) without running it: builtin, jsonl:FILE with a
 * file name, or cmd: with a command jsonl_worker_argv_parse accepts. RP_EINPUT saying what is wrong. */
int reason_teacher_check(const char *teacher, Error *e);

/* What pretrain and sft share. train.out is the checkpoint written (and resumed from), and
 * train.metrics the JSON-lines file or NULL; train.label is set by the stage; train.seq_len 0
 * means the model's n_positions; train.recompute is applied to the model (model_set_recompute)
 * by the stage before it trains. */
typedef struct {
    const char *data;      /* dataset */
    const char *tokenizer; /* pretrain: required unless resuming; sft: NULL, or must equal the checkpoint's */
    TrainConfig train;
    int threads;           /* CPU threads per rank; 0 = the kernels' default */
    int resume;            /* continue from train.out when it exists (bitwise as if never stopped) */
} TrainStageOptions;

typedef struct {
    TrainStageOptions t;
    GPTConfig shape;          /* n_layer, n_head, n_embd, n_positions; vocab_size comes from the tokenizer */
    const char *shape_origin; /* where the shape came from, for errors: the model config file, or the run config */
} PretrainOptions;

typedef struct {
    TrainStageOptions t;
    const char *init;     /* checkpoint fine-tuned; may be NULL when resuming */
    PromptOptions prompt; /* k, profile, reasoning (unless reasoning_auto) */
    int reasoning_auto;   /* reasoning on iff every train example has a reasoning text */
} SftOptions;

/* The defaults of `restpg pretrain`/`sft`: train_config_default but seq_len 0 (the model's
 * n_positions), no threads, no resume. */
void train_stage_options_default(TrainStageOptions *o);

/* `restpg pretrain`: a model of o->shape, randomly initialised (or resumed), trained on the
 * dataset's texts. Collective. */
int stage_pretrain(const PretrainOptions *o, Error *e);

/* `restpg sft`: fine-tunes o->init (or resumes) on prompt -> target pairs. Collective. */
int stage_sft(const SftOptions *o, Error *e);

#endif

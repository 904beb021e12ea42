/* Evaluation as LongLaMP reports it (docs/pipeline.md#eval): generate one answer per example of a
 * split, then ROUGE-1, ROUGE-L and METEOR of the answers against the references, plus the mean
 * reward. Predictions are written in LongLaMP's {task, golds: [{id, output}]} shape so LongLaMP's
 * own evaluator can read them. Collective over MPI_COMM_WORLD (generation is sharded); the
 * metrics are computed on rank 0 and broadcast. */
#ifndef RESTPG_LAUNCH_EVAL_H
#define RESTPG_LAUNCH_EVAL_H

#include <stdint.h>

#include "core/error.h"
#include "data/dataset.h"
#include "data/prompt.h"
#include "data/tokenizer.h"
#include "model/model.h"
#include "reward/pyclass.h"

typedef struct {
    const char *split;        /* default "test" */
    int64_t limit;            /* 0 = every example of the split */
    int greedy;               /* 1 (default): temperature 0; 0: sample with temperature/top_p */
    double temperature, top_p;
    int max_new_tokens;
    int max_reasoning_tokens, max_answer_tokens; /* separate budgets (sampler/sampler.h); 0 = off */
    uint64_t seed;
    int threads;
    DType weights;            /* model.dtype: the decoder's weight copy */
    PromptOptions prompt;
    const char *reward_spec;  /* reward reported next to the metrics */
    const char *judge;        /* external judge command (reward/judge.h) for a spec that uses judge
                               * and for report_judge; NULL = none */
    double judge_timeout;     /* seconds per answer (default 60) */
    int judge_batch, judge_retries; /* default 64 and 1 */
    int report_judge;         /* 1: also the judge's mean score (needs judge) */
    NltkRelease meteor_compat; /* METEOR's NLTK release (default 3.10; reward/meteor.h) */
    const char *out_dir;      /* predictions.json, references.json, samples.h5, eval.json go here */
    const char *model_path, *data_path; /* for the records */
} EvalOptions;

typedef struct {
    int64_t n;
    double rouge1, rougeL, meteor, reward;
    int has_judge;            /* 1 when report_judge: judge holds the judge's mean score */
    double judge;
    double answer_words;      /* mean words per answer */
    double with_separator;    /* fraction of generations that wrote the answer separator */
} EvalMetrics;

void eval_options_default(EvalOptions *o);

/* Runs the evaluation (see above). On success every rank holds the metrics in *m, and rank 0 has
 * written the files of out_dir (created if needed), eval.json last. */
int eval_run(const Model *model, const Tokenizer *t, const Dataset *d, const EvalOptions *o, EvalMetrics *m, Error *e);

/* Loads a checkpoint (model and tokenizer) and a dataset on every rank (collective). If any rank
 * fails, every rank returns the error with nothing left loaded; else free with eval_unload. */
int eval_load(const char *model, const char *data, Model *g, Tokenizer **t, Dataset *d, Error *e);
void eval_unload(Model *g, Tokenizer *t, Dataset *d);

/* Loads the checkpoint and the dataset on every rank, sets o's model/data paths and runs
 * eval_run (collective). */
int eval_checkpoint(const char *model, const char *data, EvalOptions *o, EvalMetrics *m, Error *e);

/* Appends m as JSON object members ("n": .., "rouge1": .., ...) to out, with "meteor_compat": the
 * NLTK release METEOR followed. */
int eval_metrics_json(const EvalMetrics *m, NltkRelease meteor_compat, StrBuf *out, Error *e);

#endif

/* The whole REST-PG method as one resumable run (`restpg run`, docs/pipeline.md):
 *   data -> tokenizer -> reasoning paths -> (pretrain, when no base model is given) -> SFT
 *   -> EM rounds (launch/em.h) -> evaluation -> metrics.jsonl and plots.
 * Each stage writes its outputs atomically under run_dir and is skipped when they exist; the
 * trainer, sampler and EM steps resume inside a stage. The effective config is saved as
 * run_dir/config.yaml, and continuing a run with a different config is refused. Collective:
 * every rank calls it; single-process stages run on rank 0 while the others wait. */
#ifndef RESTPG_LAUNCH_PIPELINE_H
#define RESTPG_LAUNCH_PIPELINE_H

#include "core/error.h"
#include "launch/config.h"
#include "launch/eval.h"

typedef struct {
    char *final_model;      /* the policy em.select picked (pipeline_result_free frees it) */
    int selected_round;     /* its round (0 = the SFT policy) */
    EvalMetrics eval;       /* the final evaluation */
    EvalMetrics sft_val;    /* validation of the SFT policy (round 0) */
    EvalMetrics last_val;   /* validation after the last round */
} PipelineResult;

/* Runs (or, with resume, continues) the pipeline for c. Without resume an existing run
 * directory holding a started run is an error, so nothing is overwritten by accident. */
int pipeline_run(const RunConfig *c, int resume, PipelineResult *res, Error *e);
void pipeline_result_free(PipelineResult *res);

#endif

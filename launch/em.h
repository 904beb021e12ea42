/* ReST-EM self-training rounds, coordinated by rank 0 (docs/pipeline.md#em).
 *
 * Round t (1..T) in <dir>/round<t>/:
 *   samples.h5  E-step: N candidates per train input from the round t-1 policy (all ranks);
 *               then scored and filtered in place by rank 0 (reward >= tau, at most K per input);
 *   kept.h5     the kept candidates as a dataset (target = the candidate's reasoning + answer),
 *               plus the val examples for validation loss; read by every rank;
 *   model.h5    M-step: fine-tuned from base, sft or the previous policy on kept.h5 (all ranks),
 *               em.epochs passes over it (or em.steps steps) with em.warmup_frac warm-up;
 *   val/        validation: greedy answers on the val split, ROUGE/METEOR/reward (eval.json).
 * <dir>/round0/val holds the SFT policy's validation, the baseline the rounds should beat.
 * The E-step's inputs are the whole train split, or em.limit of them: a fresh seeded random subset
 * each round (em.subset random) or the first ones (first).
 * Every file is written atomically and every step is skipped when its output exists, and the
 * sampler and trainer resume inside a step, so a run killed at any point continues where it
 * stopped and ends with the same result as an uninterrupted one. */
#ifndef RESTPG_LAUNCH_EM_H
#define RESTPG_LAUNCH_EM_H

#include "core/error.h"
#include "core/tbevents.h"
#include "launch/config.h"
#include "launch/eval.h"
#include "launch/stages.h"

typedef struct {
    const RunConfig *c;   /* em.*, prompt.*, sft.reasoning, eval.*, seed, threads */
    const char *dir;      /* where round<t>/ go */
    const char *data;     /* dataset with reasoning texts */
    const char *base;     /* base checkpoint (em.mstep_init = base) */
    const char *sft;      /* the SFT checkpoint: the round-0 policy */
    const char *metrics;  /* directory for the M-steps' training curves (created if missing) */
    TbEvents *tb;         /* rank 0's TensorBoard writer (em_tensorboard_open), or NULL */
} EmPlan;

/* Runs the rounds (collective). *final_model receives the path of the policy em.select picks
 * (free it): the last round's, or the one of rounds 0..T (0 = SFT) with the highest validation
 * reward; <dir>/select.json records the choice and every round's validation reward. */
int em_run(const EmPlan *p, char **final_model, Error *e);

/* Optimizer steps of an M-step on n_kept kept candidates: em.steps when set, else em.epochs passes
 * of em.batch_size x em.grad_accum sequences per step (at least one step). */
long em_mstep_steps(const RunConfig *c, int64_t n_kept);

/* CPU threads per rank for the config: threads, or cores / ranks on this node when 0. The first
 * call must be made by every rank (it counts the node's ranks collectively). */
int em_threads(const RunConfig *c);

/* Evaluation options of a run config: eval.* decoding, the config's prompt (k, profile,
 * reasoning), reward and threads; split "val" with eval.val_limit (callers change split/limit). */
void em_eval_options(const RunConfig *c, EvalOptions *eo);

/* The training options every training stage of a run uses: steps, batch, grad-accum, lr, seed,
 * the checkpoint out (written every quarter of the steps, and resumed from), the metrics file,
 * em_threads and train.recompute; everything else as `restpg pretrain`/`sft` default it. */
void em_train_options(const RunConfig *c, long steps, long batch, long accum, double lr, long seed, const char *out,
                      const char *metrics, TrainStageOptions *t);
/* The prompt of a run: prompt.k, prompt.profile and sft.reasoning over the prompt builder's defaults. */
void em_prompt_options(const RunConfig *c, PromptOptions *po);

/* Collective. With report.tensorboard on, rank 0 opens a new events file in <dir>/tensorboard and
 * *tb is its writer (tbevents_close it); otherwise, and on every other rank, *tb is NULL. */
int em_tensorboard_open(const RunConfig *c, const char *dir, TbEvents **tb, Error *e);

/* Rank 0: the numbers of the JSON record file at path (estep.json, eval.json) as TensorBoard
 * scalars "<prefix>/<field>" at step; nothing when tb is NULL, and never an error (see
 * tbevents_json). */
void em_tensorboard_record(TbEvents *tb, const char *prefix, long step, const char *path);

/* <dir>/round<t>/<name> (<dir>/round<t> for an empty name), allocated; NULL with e set on failure. */
char *em_path(const char *dir, int t, const char *name, Error *e);

#endif

/* `restpg eval` (LongLaMP metrics of a checkpoint on a split) and `restpg ablate` (the paper's
 * comparison of five methods on one dataset). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/log.h"
#include "kernels/backend.h"
#include "launch/commands.h"
#include "launch/eval.h"
#include "launch/runtime.h"
#include "reward/meteor.h"

int cmd_eval(int argc, char **argv, Error *e) {
    const char *model = NULL, *data = NULL, *split = "test", *decode = "greedy", *out = NULL, *reasoning = "on",
               *profile = "on", *reward = NULL, *judge = NULL;
    long limit = 0, k = 4, max_new = 256, threads = 1, seed = 1, judge_batch = 64, judge_retries = 1, max_reason = 0,
         max_answer = 0;
    double judge_timeout = 60.0;
    double temperature = 0.7, top_p = 0.9;
    const char *device = "cpu", *dtype = "auto", *compat = METEOR_COMPAT_DEFAULT;
    ArgSpec specs[] = {
        {"--model", ARG_STR, &model, "checkpoint", 1, 0},
        {"--data", ARG_STR, &data, "dataset", 1, 0},
        {"--split", ARG_STR, &split, "split to evaluate (default test)", 0, ARG_SPLIT},
        {"--decode", ARG_STR, &decode, "greedy (default) or sample", 0, ARG_ONE_OF("greedy", "sample")},
        {"--temperature", ARG_DOUBLE, &temperature, "with --decode sample (default 0.7)", 0, ARG_MIN(0)},
        {"--top-p", ARG_DOUBLE, &top_p, "with --decode sample (default 0.9)", 0, ARG_ABOVE_UPTO(0, 1)},
        {"--limit", ARG_INT, &limit, "evaluate the first N examples of the split (default all)", 0, ARG_MIN(0)},
        {"--max-new-tokens", ARG_INT, &max_new, "generated tokens per example (default 256)", 0, ARG_RANGE(1, INT_MAX)},
        {"--max-reasoning-tokens", ARG_INT, &max_reason, "separate budgets: reasoning tokens, then the separator is "
                                                         "forced (needs --max-answer-tokens)", 0, ARG_RANGE(0, 1 << 30)},
        {"--max-answer-tokens", ARG_INT, &max_answer, "separate budgets: answer tokens, the same for models with and "
                                                      "without reasoning (replaces --max-new-tokens)", 0, ARG_RANGE(0, 1 << 30)},
        {"--reasoning", ARG_STR, &reasoning, "on (default): the model writes reasoning then the answer; off: answer only", 0,
         ARG_ONE_OF("on", "off")},
        {"--profile", ARG_STR, &profile, "off: prompts without profile items (no-personalization models)", 0,
         ARG_ONE_OF("on", "off")},
        {"--k", ARG_INT, &k, "profile items retrieved into each prompt (default 4)", 0, ARG_RANGE(1, INT_MAX)},
        {"--reward", ARG_STR, &reward, "reward spec reported next to the metrics (default rouge1:0.5,rougeL:0.5)", 0, 0},
        {"--judge", ARG_STR, &judge, "external judge command (JSON array or words, never run by a shell): its mean score "
                                     "is reported too, and a --reward using judge calls it", 0, 0},
        {"--judge-timeout", ARG_DOUBLE, &judge_timeout, "seconds the judge may take per answer (default 60)", 0, ARG_ABOVE(0)},
        {"--judge-batch", ARG_INT, &judge_batch, "requests per judge batch (default 64)", 0, ARG_RANGE(1, INT_MAX)},
        {"--judge-retries", ARG_INT, &judge_retries, "restarts of a crashed or stuck judge per batch (default 1)", 0,
         ARG_RANGE(0, INT_MAX)},
        {"--seed", ARG_INT, &seed, "seed of --decode sample (default 1)", 0, 0},
        {"--meteor-compat", ARG_STR, &compat, "METEOR as NLTK 3.10 (nltk3.10, default: pip's today) or 3.8 computes it "
         "(nltk3.8: LongLaMP's published numbers)", 0, ARG_ONE_OF("nltk3.10", "nltk3.8")},
        {"--threads", ARG_INT, &threads, "CPU threads per rank (default 1)", 0, ARG_THREADS_1},
        BACKEND_DEVICE_SPEC(device),
        MODEL_DTYPE_SPEC(dtype),
        {"--out", ARG_STR, &out, "directory for predictions.json (LongLaMP format), samples.h5, eval.json (default eval-out)", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("eval",
                        "Generates an answer for every example of a split, then prints ROUGE-1, ROUGE-L, METEOR (LongLaMP's "
                        "metrics) and the reward, and writes the predictions as LongLaMP's {task, golds: [{id, output}]} so "
                        "LongLaMP's own evaluator can read them. Works under mpirun (generation is sharded).",
                        specs, argc, argv, e);
    if (rc || (rc = backend_select(device, e))) return rc;
    EvalOptions eo;
    eval_options_default(&eo);
    eo.prompt.reasoning = !strcmp(reasoning, "on");
    eo.prompt.profile = !strcmp(profile, "on");
    eo.split = split;
    eo.limit = limit;
    eo.greedy = !strcmp(decode, "greedy");
    eo.temperature = temperature;
    eo.top_p = top_p;
    eo.max_new_tokens = (int)max_new;
    eo.max_reasoning_tokens = (int)max_reason;
    eo.max_answer_tokens = (int)max_answer;
    eo.prompt.k = (int)k;
    eo.threads = (int)threads;
    if ((rc = model_dtype_parse(dtype, &eo.weights, e))) return rc;
    if ((rc = meteor_compat_parse(compat, &eo.meteor_compat, e))) return rc;
    eo.seed = (uint64_t)seed;
    if (reward) eo.reward_spec = reward;
    eo.judge = judge;
    eo.report_judge = judge != NULL;
    eo.judge_timeout = judge_timeout;
    eo.judge_batch = (int)judge_batch;
    eo.judge_retries = (int)judge_retries;
    eo.out_dir = out ? out : "eval-out";
    Runtime rt;
    if ((rc = runtime_init(&rt, e))) return rc;
    EvalMetrics m;
    rc = eval_checkpoint(model, data, &eo, &m, e);
    if (!rc) {
        log_info("%-10s %8s %8s %8s %8s %8s%s", "split", "n", "ROUGE-1", "ROUGE-L", "METEOR", "reward",
                 m.has_judge ? "    judge" : "");
        char jv[32] = "";
        if (m.has_judge) snprintf(jv, sizeof jv, " %8.4f", m.judge);
        log_info("%-10s %8lld %8.4f %8.4f %8.4f %8.4f%s", split, (long long)m.n, m.rouge1, m.rougeL, m.meteor, m.reward, jv);
        log_info("METEOR compatibility: %s", meteor_compat_name(eo.meteor_compat));
        log_info("predictions: %s/predictions.json", eo.out_dir);
    }
    runtime_finalize(&rt);
    return rc;
}

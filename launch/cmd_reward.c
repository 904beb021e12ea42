/* `restpg reward`: scores a samples file's candidates and marks the ones the M-step keeps. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/args.h"
#include "core/log.h"
#include "data/dataset.h"
#include "launch/commands.h"
#include "reward/filter.h"
#include "reward/judge.h"
#include "reward/meteor.h"
#include "reward/reward.h"

static double mean_words(const Samples *s, int kept_only) {
    double words = 0, n = 0;
    for (int64_t i = 0; i < s->m; i++) {
        if (kept_only && !s->kept[i]) continue;
        int in = 0;
        for (const char *p = s->answer[i]; *p; p++) {
            int sp = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';
            if (!sp && !in) words++;
            in = !sp;
        }
        n++;
    }
    return n ? words / n : 0.0;
}

int cmd_reward(int argc, char **argv, Error *e) {
    const char *samples = NULL, *data = NULL, *spec_s = REWARD_DEFAULT_SPEC, *judge = NULL, *out = NULL;
    FilterOptions fo;
    filter_options_default(&fo);
    RewardOptions ro;
    reward_options_default(&ro);
    long keep = fo.keep, threads = 1, batch = ro.judge_batch, retries = ro.judge_retries;
    int drop_uniform = 0, json = 0;
    const char *compat = METEOR_COMPAT_DEFAULT;
    ArgSpec specs[] = {
        {"--samples", ARG_STR, &samples, "samples file from restpg sample (updated in place unless --out)", 1, 0},
        {"--data", ARG_STR, &data, "the dataset the samples came from (expected outputs)", 1, 0},
        {"--reward", ARG_STR, &spec_s, "metric[:weight],... of rouge1 rouge2 rougeL meteor judge (default " REWARD_DEFAULT_SPEC ")", 0, 0},
        {"--tau", ARG_DOUBLE, &fo.tau, "keep candidates with reward >= tau, in [0, 1] (default 0.3)", 0, ARG_RANGE(0, 1)},
        {"--keep", ARG_INT, &keep, "keep at most K per input, best first (default 10; 0 = no cap)", 0, ARG_RANGE(0, INT_MAX)},
        {"--drop-uniform", ARG_FLAG, &drop_uniform, "keep nothing of inputs whose candidates all score the same", 0, 0},
        {"--judge", ARG_STR, &judge, "external judge command: JSON array or words (never run by a shell)", 0, 0},
        {"--judge-timeout", ARG_DOUBLE, &ro.judge_timeout, "seconds the judge may take per answer (default 60)", 0, ARG_ABOVE(0)},
        {"--judge-batch", ARG_INT, &batch, "requests per batch (default 64)", 0, ARG_RANGE(1, INT_MAX)},
        {"--judge-retries", ARG_INT, &retries, "restarts of a crashed or stuck judge per batch (default 1)", 0, ARG_RANGE(0, INT_MAX)},
        {"--threads", ARG_INT, &threads, "threads for the metrics (default 1)", 0, ARG_THREADS_1},
        {"--meteor-compat", ARG_STR, &compat, "METEOR as NLTK 3.10 (nltk3.10, default: pip's today) or 3.8 computes it "
         "(nltk3.8: LongLaMP's published numbers)", 0, ARG_ONE_OF("nltk3.10", "nltk3.8")},
        {"--out", ARG_STR, &out, "write the scored samples here instead", 0, 0},
        {"--json", ARG_FLAG, &json, "print the summary as one JSON object", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("reward",
                        "Scores every candidate's answer against the expected output, then keeps those with reward >= "
                        "tau, at most K per input (best first, ties by candidate index). Rewards and kept flags are "
                        "written back atomically.",
                        specs, argc, argv, e);
    /* --out may name --samples (the default, in-place update), never the dataset. */
    const char *ins[] = {"--data", data};
    if (rc || (rc = file_check_out("--out", out, 1, ins, e))) return rc;
    fo.keep = (int)keep;
    fo.drop_uniform = drop_uniform;
    ro.threads = (int)threads;
    ro.judge_batch = (int)batch;
    ro.judge_retries = (int)retries;
    RewardSpec spec;
    if ((rc = reward_spec_parse(spec_s, &spec, e))) return rc;
    if ((rc = meteor_compat_parse(compat, &ro.meteor_compat, e))) return rc;
    int uses_meteor = spec.weight[METRIC_METEOR] > 0; /* then the summary records the compatibility */
    if (judge && (rc = judge_argv_parse(judge, &ro.judge_argv, e))) return rc;
    Dataset d;
    Samples s;
    samples_init(&s);
    int have_d = 0;
    if (!(rc = dataset_read(data, &d, e))) have_d = 1;
    if (!rc) rc = samples_read(samples, &s, e);
    if (!rc && (rc = reward_score_samples(&spec, &ro, &d, &s, e))) error_wrap(e, "%s", samples);
    FilterStats st;
    if (!rc) rc = filter_apply(&s, &fo, &st, e);
    if (!rc) {
        free(s.reward_spec);
        s.reward_spec = xstrdup(spec_s, e);
        rc = s.reward_spec ? samples_write(&s, out ? out : samples, e) : RP_ENOMEM;
    }
    if (!rc && json) {
        printf("{\"samples\": \"%s\", \"reward\": \"%s\", \"tau\": %g, \"keep\": %d, \"inputs\": %lld, \"inputs_kept\": %lld, "
               "\"candidates\": %lld, \"kept\": %lld, \"dropped_uniform\": %lld, \"mean_reward\": %.6f, "
               "\"mean_kept_reward\": %.6f, \"mean_answer_words\": %.2f, \"mean_kept_answer_words\": %.2f%s%s%s}\n",
               out ? out : samples, spec_s, fo.tau, fo.keep, (long long)st.inputs, (long long)st.inputs_kept,
               (long long)st.candidates, (long long)st.kept, (long long)st.dropped_uniform, st.mean_reward,
               st.mean_kept_reward, mean_words(&s, 0), mean_words(&s, 1), uses_meteor ? ", \"meteor_compat\": \"" : "",
               uses_meteor ? meteor_compat_name(ro.meteor_compat) : "", uses_meteor ? "\"" : "");
    } else if (!rc) {
        log_info("reward %s: %lld candidates of %lld inputs, mean reward %.4f (answers %.1f words)", spec_s,
                 (long long)st.candidates, (long long)st.inputs, st.mean_reward, mean_words(&s, 0));
        log_info("kept %lld (tau %g, at most %d per input) from %lld inputs, mean kept reward %.4f (answers %.1f words)%s",
                 (long long)st.kept, fo.tau, fo.keep, (long long)st.inputs_kept, st.mean_kept_reward, mean_words(&s, 1),
                 st.dropped_uniform ? "; some inputs dropped for uniform rewards" : "");
    }
    samples_free(&s);
    if (have_d) dataset_free(&d);
    judge_argv_free(ro.judge_argv);
    return rc;
}

/* Warm-up + cosine/linear decay (see schedule.h). */
#include "trainer/schedule.h"

#include <math.h>
#include <string.h>

int schedule_parse_kind(const char *s, ScheduleKind *k, Error *e) {
    if (!strcmp(s, "cosine")) *k = SCHED_COSINE;
    else if (!strcmp(s, "linear")) *k = SCHED_LINEAR;
    else return error_set(e, RP_EINPUT, "--lr-schedule: expected cosine or linear, got '%s'", s);
    return RP_OK;
}

int schedule_check(const Schedule *s, Error *e) {
    if (!(s->max_lr > 0)) return error_set(e, RP_EINPUT, "--lr: must be positive, got %g", s->max_lr);
    if (!(s->min_frac >= 0 && s->min_frac <= 1))
        return error_set(e, RP_EINPUT, "--min-lr-frac: must be in [0, 1], got %g", s->min_frac);
    if (s->warmup < 0) return error_set(e, RP_EINPUT, "--warmup: must be >= 0, got %lld", (long long)s->warmup);
    if (s->total < 1) return error_set(e, RP_EINPUT, "--steps: must be >= 1, got %lld", (long long)s->total);
    return RP_OK;
}

double schedule_lr(const Schedule *s, int64_t step) {
    if (step < s->warmup) return s->max_lr * (double)(step + 1) / (double)s->warmup;
    double min_lr = s->max_lr * s->min_frac;
    int64_t span = s->total - s->warmup;
    /* A warm-up as long as the run leaves nothing to decay over: stay at the peak. */
    if (span <= 0) return s->max_lr;
    double r = (double)(step - s->warmup) / (double)span;
    if (r > 1) r = 1;
    if (s->kind == SCHED_COSINE) return min_lr + 0.5 * (1.0 + cos(M_PI * r)) * (s->max_lr - min_lr);
    return s->max_lr - r * (s->max_lr - min_lr);
}

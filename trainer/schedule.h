/* Learning-rate schedule: linear warm-up, then cosine or linear decay to a floor.
 *
 *   step < warmup:   lr = max_lr * (step + 1) / warmup
 *   afterwards:      r = (step - warmup) / (total - warmup)      (0 at the end of warm-up, 1 at the end)
 *                    cosine: lr = min + 0.5 * (1 + cos(pi * r)) * (max_lr - min)
 *                    linear: lr = max_lr - r * (max_lr - min)
 * where min = max_lr * min_frac and step counts optimizer steps from 0. */
#ifndef RESTPG_TRAINER_SCHEDULE_H
#define RESTPG_TRAINER_SCHEDULE_H

#include <stdint.h>

#include "core/error.h"

typedef enum { SCHED_COSINE = 0, SCHED_LINEAR = 1 } ScheduleKind;

typedef struct {
    ScheduleKind kind;
    double max_lr;
    double min_frac; /* floor as a fraction of max_lr, in [0, 1] */
    int64_t warmup;  /* warm-up steps, >= 0 */
    int64_t total;   /* total optimizer steps, >= 1 */
} Schedule;

/* Parses "cosine" or "linear" (RP_EINPUT naming the option otherwise). */
int schedule_parse_kind(const char *s, ScheduleKind *k, Error *e);
/* Checks ranges: max_lr > 0, 0 <= min_frac <= 1, 0 <= warmup, total >= 1. */
int schedule_check(const Schedule *s, Error *e);
/* The learning rate of optimizer step `step` (0-based). Steps past total stay at the floor. */
double schedule_lr(const Schedule *s, int64_t step);

#endif

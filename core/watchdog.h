/* Per-rank stall watchdog: a rank that makes no progress for `timeout` seconds stops the whole job
 * with a message naming itself and its stage, instead of the job hanging until the scheduler's
 * time limit (a rank stopped by SIGSTOP, a dead node, a peer stuck in a driver).
 *
 * The stages bump a progress counter where a rank finishes work (a trainer step, a decoding step);
 * the bump is one relaxed atomic add. A thread per rank checks the counter once a second. A rank
 * that waits in a collective for a stopped peer makes no progress either, so the ranks that can
 * still run trip their own watchdogs: the stopped rank cannot print, the waiting ones name it
 * (in a 2-rank job the peer is known; otherwise the message says a peer stopped responding).
 * A stage that one rank does alone (rank 0's data import, tokenizer training, reward scoring)
 * disarms the watchdog, since the waiting ranks cannot tell it from a stopped peer. On a stall the
 * watchdog prints through core/log and calls MPI_Abort (exit status RP_EMPI). */
#ifndef RESTPG_CORE_WATCHDOG_H
#define RESTPG_CORE_WATCHDOG_H

#include <stdatomic.h>

#include "core/args.h"
#include "core/error.h"

/* The default of --stall-timeout and the config key stall_timeout: generous, since a rank-symmetric
 * stage that goes that long without one training or decoding step is stuck; and the largest value. */
#define WATCHDOG_DEFAULT_S 1800
#define WATCHDOG_MAX_S 604800
/* The --stall-timeout option of the commands that run under mpirun (dst: a long). */
#define WATCHDOG_SPEC(dst)                                                                                             \
    {"--stall-timeout", ARG_INT, &(dst), "seconds a rank may make no progress before the job stops naming it "       \
     "(default 1800; 0 = never)", 0, ARG_RANGE(0, WATCHDOG_MAX_S)}

/* Starts this rank's watchdog thread (after MPI is initialised) in `stage`, armed; timeout_s 0 =
 * none started. RP_EINTERNAL if the thread cannot start. */
int watchdog_start(long timeout_s, const char *stage, Error *e);
/* Stops and joins the thread; safe when none was started. */
void watchdog_stop(void);

/* Names what this rank does now (a string that outlives the stage, e.g. a literal) and restarts
 * the clock. armed 0: this rank only waits for another rank's lone work, so it cannot stall. */
void watchdog_stage(const char *stage, int armed);

/* Work done. Cheap enough to call per step or per input. */
extern atomic_ulong watchdog_ticks;
static inline void watchdog_progress(void) { atomic_fetch_add_explicit(&watchdog_ticks, 1, memory_order_relaxed); }

#endif

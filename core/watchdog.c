/* The stall watchdog's thread (see watchdog.h). */
#define _POSIX_C_SOURCE 200809L
#include "core/watchdog.h"

#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/comm.h"
#include "core/log.h"

atomic_ulong watchdog_ticks;

static _Atomic(const char *) g_stage = "start";
static atomic_int g_armed = 1, g_running;
static long g_timeout;
static int g_rank, g_world, g_started;
static pthread_t g_thread;

void watchdog_stage(const char *stage, int armed) {
    atomic_store(&g_stage, stage);
    atomic_store(&g_armed, armed);
    watchdog_progress(); /* a new stage is progress: its clock starts now */
}

static void stalled(double seconds) {
    char peer[64];
    if (g_world == 2) snprintf(peer, sizeof peer, "rank %d stopped responding?", 1 - g_rank);
    else snprintf(peer, sizeof peer, "a peer stopped responding?");
    log_warn("watchdog: rank %d stalled in %s for %.0f s (%s); stopping the job (stall_timeout / --stall-timeout, "
             "0 = off)",
             g_rank, atomic_load(&g_stage), seconds, peer);
    fflush(stderr);
    int inited = 0, fin = 0;
    if (MPI_Initialized(&inited) == MPI_SUCCESS && inited && MPI_Finalized(&fin) == MPI_SUCCESS && !fin)
        MPI_Abort(MPI_COMM_WORLD, RP_EMPI);
    _exit(RP_EMPI); /* no MPI, or MPI_Abort returned: leave without the atexit handlers of a stuck process */
}

static void *watch(void *arg) {
    (void)arg;
    unsigned long seen = atomic_load(&watchdog_ticks);
    double since = time_now(), woke = since;
    while (atomic_load(&g_running)) {
        /* A short sleep so watchdog_stop returns promptly; the check itself is a few loads. */
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
        unsigned long now = atomic_load_explicit(&watchdog_ticks, memory_order_relaxed);
        double t = time_now(), slept = t - woke;
        woke = t;
        /* A 0.1 s sleep that took over a second means this whole process was suspended (SIGSTOP,
         * then SIGCONT from the runtime that is ending the job): it is the stopped rank, not a
         * witness, so its clock restarts rather than blaming a peer. */
        if (now != seen || !atomic_load(&g_armed) || slept > 1.0) {
            seen = now;
            since = t;
        } else if (t - since >= (double)g_timeout) {
            stalled(t - since);
        }
    }
    return NULL;
}

int watchdog_start(long timeout_s, const char *stage, Error *e) {
    if (timeout_s <= 0 || g_started) return RP_OK;
    comm_world(&g_rank, &g_world);
    g_timeout = timeout_s;
    atomic_store(&g_running, 1);
    watchdog_stage(stage, 1);
    int err = pthread_create(&g_thread, NULL, watch, NULL);
    if (err) {
        atomic_store(&g_running, 0);
        return error_set(e, RP_EINTERNAL, "watchdog: cannot start its thread: %s", strerror(err));
    }
    g_started = 1;
    return RP_OK;
}

void watchdog_stop(void) {
    if (!g_started) return;
    atomic_store(&g_running, 0);
    pthread_join(g_thread, NULL);
    g_started = 0;
}

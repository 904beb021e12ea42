/* Dynamic work distribution of the sampler over MPI_COMM_WORLD (internal to sampler/;
 * protocol in docs/sampler.md).
 *
 * Rank 0 owns the list of inputs and generates too: its engine takes inputs straight from the
 * list, and between its own decode steps it answers other ranks' requests (MPI_Iprobe, so a
 * request waits at most one step). A worker asks for as many inputs as it can admit now (no
 * reserve: a reserved input could leave the worker busy while the others have run dry at the
 * end) and gets at most 1/world of the inputs not yet handed out; it keeps at most one request
 * in flight, and sends each finished input's candidates to rank
 * 0 with a non-blocking send. Point-to-point messages only; no one-sided communication. With one
 * rank (or without MPI) no MPI call is made. */
#ifndef RESTPG_SAMPLER_SHARD_H
#define RESTPG_SAMPLER_SHARD_H

#include <mpi.h>
#include <stdint.h>

#include "core/error.h"
#include "sampler/engine.h"

/* Rank 0 receives every finished input here (its own and other ranks'), in completion order. */
typedef int (*ShardSink)(void *ctx, const InputResult *r, Error *e);

typedef struct {
    int rank, world, n_cand, max_new;
    MPI_Comm comm;          /* the protocol's own duplicate of MPI_COMM_WORLD (world > 1) */
    int have_comm;
    int64_t n_inputs;
    /* rank 0 */
    const uint8_t *skip;    /* [n_inputs] 1 = already done (resume); NULL = none */
    int64_t next_input, unassigned, results_left;
    int *wstate;            /* per rank: 0 working, 1 told there is no more, 2 finished */
    int64_t *per_rank;      /* inputs each rank generated (for the log) */
    int *abort_sent;
    int *heard;             /* per rank: a message arrived from it (rank 0 waits for every first request) */
    int failed;             /* a rank failed: fail_err holds the first failure */
    Error fail_err;
    ShardSink sink;
    void *sink_ctx;
    InputResult scratch;    /* a received result */
    /* worker */
    int64_t *queue, *reply;
    int q_head, q_n, req_out, no_more, aborted;
    MPI_Request req;        /* the outstanding request's reply */
    MPI_Request *send_req;  /* result sends in flight, and their buffers */
    void **send_buf;
    int n_send, cap_send;
} Shard;

/* Sets up this rank's side. skip and sink matter on rank 0 only. Collective (it duplicates
 * MPI_COMM_WORLD) when there is more than one rank. */
int shard_init(Shard *sh, int64_t n_inputs, const uint8_t *skip, int n_cand, int max_new, ShardSink sink,
               void *sink_ctx, Error *e);
void shard_free(Shard *sh);

/* The engine's work source and result sink for this rank. */
EngineIO shard_io(Shard *sh);

/* Ends the protocol after this rank's engine returned rc: rank 0 keeps serving until every rank
 * has finished and every result is in; a worker reports rc and waits for rank 0's leave. Returns
 * the run's status, the same on every rank: RP_OK, or the first failure with its message (naming
 * the rank). Collective. */
int shard_finish(Shard *sh, int rc, Error *e);

#endif

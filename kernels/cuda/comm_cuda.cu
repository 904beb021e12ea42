/* The CUDA backend's collectives (kernels/backend.h's comm_init ... recv; declared in
 * ops_cuda.h). Under nvcc: NCCL on the current device, one communicator over MPI_COMM_WORLD's
 * ranks (rank 0's ncclUniqueId reaches the others by MPI_Bcast), its own non-blocking stream.
 * The backend's kernels may run on any stream, so a collective first waits for the device
 * (cudaDeviceSynchronize: the kernels that wrote its buffers are done) and returns when its
 * stream is done, which gives the blocking semantics of the BackendOps contract. The split
 * all-reduce (allreduce_sum_start, comm_wait) waits for the default stream only, where the
 * backend table queues every op, through an event: the kernels queued after a start run while
 * NCCL sums; comm_wait is a host wait on NCCL's stream.
 *
 * Determinism: NCCL's reductions use no atomics, and the order of a sum is fixed by NCCL's
 * algorithm and protocol choice, which depends on the rank count, the topology, the message size
 * and NCCL_* settings: results are bitwise reproducible for the same ranks, machines and bucket
 * sizes, not across rank counts; an all-reduce need not equal a reduce-scatter + all-gather
 * bitwise (ZeRO-1 on the GPU matches the plain all-reduce to float rounding).
 *
 * In the SIMT emulation (RESTPG_SIMT_EMU) device memory is host memory: the same functions are
 * the CPU backend's MPI collectives (kernels/cpu/comm_cpu.h). */
#include "kernels/cuda/ops_cuda.h"

#ifdef RESTPG_SIMT_EMU

#include "kernels/cpu/comm_cpu.h"

extern "C" int cuda_comm_init(Error *e) { return cpu_comm_init(e); }
extern "C" void cuda_comm_free(void) { cpu_comm_free(); }
extern "C" int cuda_allreduce_sum(float *buf, size_t n, Error *e) { return cpu_allreduce_sum(buf, n, e); }
extern "C" int cuda_reduce_scatter_sum(float *out, const float *in, size_t n_per_rank, Error *e) {
    return cpu_reduce_scatter_sum(out, in, n_per_rank, e);
}
extern "C" int cuda_all_gather(float *out, const float *in, size_t n_per_rank, Error *e) {
    return cpu_all_gather(out, in, n_per_rank, e);
}
extern "C" int cuda_send(const float *buf, size_t n, int peer, Error *e) { return cpu_send(buf, n, peer, e); }
extern "C" int cuda_recv(float *buf, size_t n, int peer, Error *e) { return cpu_recv(buf, n, peer, e); }
extern "C" int cuda_allreduce_sum_start(float *buf, size_t n, Error *e) { return cpu_allreduce_sum_start(buf, n, e); }
extern "C" int cuda_comm_wait(Error *e) { return cpu_comm_wait(e); }

#else

#include <nccl.h>
#include <string.h>

extern "C" {
#include "core/comm.h"
}

static ncclComm_t g_comm = NULL;
static cudaStream_t g_stream = NULL;
static cudaEvent_t g_ready = NULL; /* recorded on the compute stream by each allreduce_sum_start */

static int nccl_check(ncclResult_t r, const char *what, Error *e) {
    if (r == ncclSuccess) return RP_OK;
    const char *detail = ncclGetLastError(g_comm);
    return error_set(e, RP_EMPI, "%s: %s%s%s%s", what, ncclGetErrorString(r), detail && detail[0] ? " (" : "",
                     detail ? detail : "", detail && detail[0] ? ")" : "");
}

static int cuda_check(cudaError_t c, const char *what, Error *e) {
    return c == cudaSuccess ? RP_OK : error_set(e, RP_EMPI, "%s: %s", what, cudaGetErrorString(c));
}

extern "C" int cuda_comm_init(Error *e) {
    if (g_comm) return RP_OK;
    int rank, world, dev = 0;
    comm_world(&rank, &world);
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    /* Every step that can fail on one rank alone is agreed on before the next collective, so no
     * rank is left waiting in MPI_Bcast or in ncclCommInitRank for one that gave up. */
    int rc = rank == 0 ? nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId", e) : RP_OK;
    if ((rc = comm_agree(rc, e)) || (rc = comm_bcast(&id, sizeof id, e))) return rc;
    rc = cuda_check(cudaGetDevice(&dev), "cudaGetDevice", e);
    if (!rc) rc = cuda_check(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking), "creating NCCL's stream", e);
    if (!rc) rc = cuda_check(cudaEventCreateWithFlags(&g_ready, cudaEventDisableTiming), "creating NCCL's event", e);
    if ((rc = comm_agree(rc, e))) {
        cuda_comm_free();
        return rc;
    }
    ncclComm_t c = NULL;
    rc = nccl_check(ncclCommInitRank(&c, world, id, rank), "ncclCommInitRank", e);
    if (!rc) g_comm = c;
    if ((rc = comm_agree(rc, e))) {
        cuda_comm_free();
        return error_wrap(e, "NCCL communicator of %d rank(s) on device %d", world, dev);
    }
    return RP_OK;
}

extern "C" void cuda_comm_free(void) {
    if (g_comm) ncclCommDestroy(g_comm);
    if (g_stream) cudaStreamDestroy(g_stream);
    if (g_ready) cudaEventDestroy(g_ready);
    g_comm = NULL;
    g_stream = NULL;
    g_ready = NULL;
}

/* Before a collective: the communicator exists and the kernels that wrote its input are done. */
static int begin(Error *e) {
    if (!g_comm) return error_set(e, RP_EINTERNAL, "a collective before the backend's comm_init");
    return cuda_check(cudaDeviceSynchronize(), "waiting for the device before a collective", e);
}

/* After a collective was queued (r its status): its buffers may be reused once its stream is done. */
static int finish(ncclResult_t r, const char *what, Error *e) {
    int rc = nccl_check(r, what, e);
    return rc ? rc : cuda_check(cudaStreamSynchronize(g_stream), what, e);
}

extern "C" int cuda_allreduce_sum(float *buf, size_t n, Error *e) {
    int rc = begin(e);
    if (rc || n == 0) return rc;
    return finish(ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, g_comm, g_stream), "ncclAllReduce", e);
}

/* NCCL's stream waits for what the compute stream (the default stream, where the backend's
 * kernels run) queued so far, then sums: no host wait, so the kernels queued next overlap it.
 * One event serves every start: cudaStreamWaitEvent takes the record made just before it. */
extern "C" int cuda_allreduce_sum_start(float *buf, size_t n, Error *e) {
    if (!g_comm) return error_set(e, RP_EINTERNAL, "a collective before the backend's comm_init");
    if (n == 0) return RP_OK;
    int rc = cuda_check(cudaEventRecord(g_ready, 0), "recording the gradient's readiness", e);
    if (!rc) rc = cuda_check(cudaStreamWaitEvent(g_stream, g_ready, 0), "ordering NCCL's stream after it", e);
    return rc ? rc : nccl_check(ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, g_comm, g_stream), "ncclAllReduce", e);
}

extern "C" int cuda_comm_wait(Error *e) {
    return g_stream ? cuda_check(cudaStreamSynchronize(g_stream), "waiting for the queued all-reduces", e) : RP_OK;
}

extern "C" int cuda_reduce_scatter_sum(float *out, const float *in, size_t n_per_rank, Error *e) {
    int rc = begin(e);
    if (rc || n_per_rank == 0) return rc;
    return finish(ncclReduceScatter(in, out, n_per_rank, ncclFloat, ncclSum, g_comm, g_stream), "ncclReduceScatter", e);
}

extern "C" int cuda_all_gather(float *out, const float *in, size_t n_per_rank, Error *e) {
    int rc = begin(e);
    if (rc || n_per_rank == 0) return rc;
    return finish(ncclAllGather(in, out, n_per_rank, ncclFloat, g_comm, g_stream), "ncclAllGather", e);
}

/* A point-to-point call in a group of its own, as NCCL wants send and recv issued. */
static int p2p(int sending, float *buf, size_t n, int peer, Error *e) {
    int rc = begin(e), rank, world;
    if (rc) return rc;
    comm_world(&rank, &world);
    if (peer < 0 || peer >= world || peer == rank)
        return error_set(e, RP_EINTERNAL, "point-to-point with rank %d from rank %d of %d", peer, rank, world);
    if (n == 0) return RP_OK;
    const char *what = sending ? "ncclSend" : "ncclRecv";
    if ((rc = nccl_check(ncclGroupStart(), "ncclGroupStart", e))) return rc;
    ncclResult_t r = sending ? ncclSend(buf, n, ncclFloat, peer, g_comm, g_stream)
                             : ncclRecv(buf, n, ncclFloat, peer, g_comm, g_stream);
    ncclResult_t end = ncclGroupEnd();
    if ((rc = nccl_check(r, what, e))) return rc;
    return finish(end, "ncclGroupEnd", e);
}

/* ncclSend reads its buffer only; the cast lets one function queue both directions. */
extern "C" int cuda_send(const float *buf, size_t n, int peer, Error *e) { return p2p(1, (float *)buf, n, peer, e); }
extern "C" int cuda_recv(float *buf, size_t n, int peer, Error *e) { return p2p(0, buf, n, peer, e); }

#endif

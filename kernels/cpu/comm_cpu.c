/* The CPU backend's collectives over MPI (see comm_cpu.h): rank-order sums from direct messages,
 * pieces that keep every MPI count below INT_MAX, every MPI call checked. */
#include "kernels/cpu/comm_cpu.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "core/comm.h"

#define TAG_SUM 7311
#define TAG_GATHER 7312
#define TAG_P2P 7313
/* Floats staged at once over all ranks by a sum (64 MiB), and the most one message carries. */
#define PIECE ((size_t)1 << 24)

static MPI_Comm g_comm = MPI_COMM_NULL;

typedef struct {
    int rank, world;
} World;

static int get_world(World *w, Error *e) {
    comm_world(&w->rank, &w->world);
    if (w->world > 1 && g_comm == MPI_COMM_NULL)
        return error_set(e, RP_EINTERNAL, "a collective before the backend's comm_init");
    return RP_OK;
}

int cpu_comm_init(Error *e) {
    if (g_comm != MPI_COMM_NULL) return RP_OK;
    int rank, world;
    comm_world(&rank, &world);
    if (world == 1) return RP_OK;
    MPI_Comm c = MPI_COMM_NULL;
    int rc = comm_check(MPI_Comm_dup(MPI_COMM_WORLD, &c), "duplicating MPI_COMM_WORLD for the collectives", e);
    /* Errors must come back as codes here too, whatever the duplicate inherited. */
    if (!rc) rc = comm_check(MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN), "setting the collectives' error handler", e);
    if (!rc) g_comm = c;
    return rc;
}

void cpu_comm_free(void) {
    int fin = 0;
    if (g_comm != MPI_COMM_NULL && MPI_Finalized(&fin) == MPI_SUCCESS && !fin) MPI_Comm_free(&g_comm);
    g_comm = MPI_COMM_NULL;
}

/* Floats per rank of one piece of a sum over w's ranks. */
static size_t piece(const World *w, size_t n) {
    size_t c = PIECE / (size_t)w->world;
    if (c < 1) c = 1;
    return n < c ? n : c;
}

/* out[i] = ((stage_0[i] + stage_1[i]) + stage_2[i]) + ..., stage_q = stage + q * c: each element
 * in rank order, so the thread count does not matter. */
static void add_in_rank_order(float *out, const float *stage, int world, size_t c) {
#pragma omp parallel for schedule(static) if (c > 65536)
    for (size_t i = 0; i < c; i++) {
        float s = stage[i];
        for (int q = 1; q < world; q++) s += stage[(size_t)q * c + i];
        out[i] = s;
    }
}

/* One piece of c floats: every rank sends to rank t its src + t * stride (stride 0: the same
 * floats to every rank), and this rank writes the rank-order sum of what it gets to out. out may
 * be this rank's own part of src: every contribution is staged before out is written. */
static int sum_piece(const World *w, float *out, const float *src, size_t stride, size_t c, float *stage,
                     MPI_Request *req, Error *e) {
    int nreq = 0, rc = RP_OK;
    for (int q = 0; q < w->world && !rc; q++)
        if (q != w->rank)
            rc = comm_check(MPI_Irecv(stage + (size_t)q * c, (int)c, MPI_FLOAT, q, TAG_SUM, g_comm, &req[nreq++]),
                            "receiving a partial sum", e);
    for (int t = 0; t < w->world && !rc; t++)
        if (t != w->rank)
            rc = comm_check(MPI_Isend(src + (size_t)t * stride, (int)c, MPI_FLOAT, t, TAG_SUM, g_comm, &req[nreq++]),
                            "sending a partial sum", e);
    if (rc) return rc;
    memcpy(stage + (size_t)w->rank * c, src + (size_t)w->rank * stride, c * sizeof(float));
    if ((rc = comm_check(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE), "exchanging partial sums", e))) return rc;
    add_in_rank_order(out, stage, w->world, c);
    return RP_OK;
}

/* Rank-order sums of n floats: rank t's n start at in + t * stride in every rank's buffer; this
 * rank's sums go to out. */
static int scatter_sum(const World *w, float *out, const float *in, size_t stride, size_t n, Error *e) {
    if (n == 0) return RP_OK;
    size_t c = piece(w, n);
    float *stage = xmalloc(sizeof(float) * c * (size_t)w->world, e);
    MPI_Request *req = stage ? xmalloc(sizeof(MPI_Request) * 2 * (size_t)w->world, e) : NULL;
    int rc = req ? RP_OK : RP_ENOMEM;
    for (size_t off = 0; off < n && !rc; off += c)
        rc = sum_piece(w, out + off, in + off, stride, n - off < c ? n - off : c, stage, req, e);
    free(req);
    free(stage);
    return rc;
}

int cpu_reduce_scatter_sum(float *out, const float *in, size_t n_per_rank, Error *e) {
    World w;
    int rc = get_world(&w, e);
    if (rc) return rc;
    if (w.world == 1) {
        if (out != in) memmove(out, in, n_per_rank * sizeof(float));
        return RP_OK;
    }
    return scatter_sum(&w, out, in, n_per_rank, n_per_rank, e);
}

int cpu_all_gather(float *out, const float *in, size_t n_per_rank, Error *e) {
    World w;
    int rc = get_world(&w, e);
    if (rc) return rc;
    float *mine = out + (size_t)w.rank * n_per_rank;
    if (mine != in) memmove(mine, in, n_per_rank * sizeof(float));
    if (w.world == 1 || n_per_rank == 0) return RP_OK;
    MPI_Request *req = xmalloc(sizeof(MPI_Request) * 2 * (size_t)w.world, e);
    if (!req) return RP_ENOMEM;
    for (size_t off = 0; off < n_per_rank && !rc; off += PIECE) {
        int c = (int)(n_per_rank - off < PIECE ? n_per_rank - off : PIECE), nreq = 0;
        for (int q = 0; q < w.world && !rc; q++)
            if (q != w.rank)
                rc = comm_check(MPI_Irecv(out + (size_t)q * n_per_rank + off, c, MPI_FLOAT, q, TAG_GATHER, g_comm,
                                          &req[nreq++]), "receiving a gathered part", e);
        for (int t = 0; t < w.world && !rc; t++)
            if (t != w.rank)
                rc = comm_check(MPI_Isend(mine + off, c, MPI_FLOAT, t, TAG_GATHER, g_comm, &req[nreq++]),
                                "sending a gathered part", e);
        if (!rc) rc = comm_check(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE), "gathering", e);
    }
    free(req);
    return rc;
}

/* A reduce-scatter of the world x (n / world) floats in front, an all-gather of them, and the
 * fewer than world floats left over summed by every rank: each element in rank order. */
int cpu_allreduce_sum(float *buf, size_t n, Error *e) {
    World w;
    int rc = get_world(&w, e);
    if (rc || w.world == 1) return rc;
    size_t q = n / (size_t)w.world, body = q * (size_t)w.world;
    float *mine = buf + (size_t)w.rank * q;
    if ((rc = scatter_sum(&w, mine, buf, q, q, e)) || (rc = cpu_all_gather(buf, mine, q, e))) return rc;
    return scatter_sum(&w, buf + body, buf + body, 0, n - body, e);
}

int cpu_allreduce_sum_start(float *buf, size_t n, Error *e) { return cpu_allreduce_sum(buf, n, e); }

int cpu_comm_wait(Error *e) {
    (void)e;
    return RP_OK;
}

static int check_peer(const World *w, int peer, Error *e) {
    if (peer < 0 || peer >= w->world || peer == w->rank)
        return error_set(e, RP_EINTERNAL, "point-to-point with rank %d from rank %d of %d", peer, w->rank, w->world);
    return RP_OK;
}

int cpu_send(const float *buf, size_t n, int peer, Error *e) {
    World w;
    int rc = get_world(&w, e);
    if (!rc) rc = check_peer(&w, peer, e);
    for (size_t off = 0; off < n && !rc; off += PIECE)
        rc = comm_check(MPI_Send(buf + off, (int)(n - off < PIECE ? n - off : PIECE), MPI_FLOAT, peer, TAG_P2P, g_comm),
                        "sending", e);
    return rc;
}

int cpu_recv(float *buf, size_t n, int peer, Error *e) {
    World w;
    int rc = get_world(&w, e);
    if (!rc) rc = check_peer(&w, peer, e);
    for (size_t off = 0; off < n && !rc; off += PIECE)
        rc = comm_check(MPI_Recv(buf + off, (int)(n - off < PIECE ? n - off : PIECE), MPI_FLOAT, peer, TAG_P2P, g_comm,
                                 MPI_STATUS_IGNORE),
                        "receiving", e);
    return rc;
}

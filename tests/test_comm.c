/* The backends' collectives (kernels/backend.h: comm_init ... recv, and the split all-reduce
 * allreduce_sum_start + comm_wait) under mpiexec with 1, 2 and
 * 3 ranks: the CPU backend's, and the CUDA backend's entry points (kernels/cuda/ops_cuda.h) in
 * the SIMT emulation (test_comm_*ranks) or, built against the nvcc library, NCCL on one device
 * per rank (test_comm_gpu_*, exit 77 when the ranks outnumber the devices). Each rank can compute every rank's input (a function of rank and index
 * whose float sums depend on the order), so the expected results are computed here from the
 * documented contract: element sums in rank order ((in_0 + in_1) + in_2), bitwise. Sizes cover a
 * buffer smaller than the world, left-over floats after the per-rank parts, several staging
 * pieces (more than 16 Mi floats), and in-place and out-of-place calls. */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/ops_cuda.h"
#include "tests/test.h"

/* A collectives table and how the test gets buffers to and from its memory. */
typedef struct {
    const char *name;
    const BackendOps *ops;
    float *(*alloc)(size_t n);
    void (*free)(float *p);
    void (*put)(float *dev, const float *host, size_t n);
    void (*get)(float *host, const float *dev, size_t n);
    size_t big; /* the largest all-reduce tried (the emulation forwards to the CPU's, tried big) */
} Impl;

static float *host_alloc(size_t n) { return malloc((n ? n : 1) * sizeof(float)); }
static void host_free(float *p) { free(p); }
static void host_put(float *dev, const float *host, size_t n) { memcpy(dev, host, n * sizeof(float)); }
static void host_get(float *host, const float *dev, size_t n) { memcpy(host, dev, n * sizeof(float)); }

static float *dev_alloc(size_t n) {
    void *p = NULL;
    return cudaMalloc(&p, (n ? n : 1) * sizeof(float)) == cudaSuccess ? p : NULL;
}
static void dev_free(float *p) { cudaFree(p); }
static void dev_put(float *dev, const float *host, size_t n) { cudaMemcpy(dev, host, n * sizeof(float), cudaMemcpyHostToDevice); }
static void dev_get(float *host, const float *dev, size_t n) { cudaMemcpy(host, dev, n * sizeof(float), cudaMemcpyDeviceToHost); }

static int g_rank, g_world;

/* Rank r's input at i: magnitudes 1e-3 .. 1e3, so the order of a sum shows in its bits. */
static float value(int r, size_t i) { return (float)(sin(0.37 * (double)i + 1.3 * r) * pow(10.0, (double)(i % 7) - 3.0)); }

static float rank_order_sum(size_t i) {
    float s = value(0, i);
    for (int r = 1; r < g_world; r++) s += value(r, i);
    return s;
}

static void fill(float *host, size_t n, size_t first) {
    for (size_t i = 0; i < n; i++) host[i] = value(g_rank, first + i);
}

/* Counts the elements of got[0..n) that differ in bits from want(first + i). */
static size_t mismatches(const float *got, size_t n, size_t first, float (*want)(size_t)) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        float w = want(first + i);
        bad += memcmp(&w, &got[i], sizeof w) != 0;
    }
    return bad;
}

static void test_allreduce(const Impl *im, size_t n) {
    Error e;
    float *h = host_alloc(n), *d = im->alloc(n);
    fill(h, n, 0);
    im->put(d, h, n);
    CHECK_OK(im->ops->allreduce_sum(d, n, &e), &e);
    im->get(h, d, n);
    size_t bad = mismatches(h, n, 0, rank_order_sum);
    CHECK_MSG(bad == 0, "%s allreduce_sum n %zu, %d ranks: %zu elements differ from the rank-order sum", im->name, n,
              g_world, bad);
    im->free(d);
    free(h);
}

/* The split all-reduce: n floats cut into `pieces` calls of allreduce_sum_start (uneven cuts, the
 * last one the rest), then one comm_wait: the same rank-order sums, bitwise. */
static void test_allreduce_split(const Impl *im, size_t n, int pieces) {
    Error e;
    float *h = host_alloc(n), *d = im->alloc(n);
    fill(h, n, 0);
    im->put(d, h, n);
    size_t off = 0;
    for (int k = 0; k < pieces; k++) {
        size_t len = k == pieces - 1 ? n - off : (n - off) / 3 + 1;
        CHECK_OK(im->ops->allreduce_sum_start(d + off, len, &e), &e);
        off += len;
    }
    CHECK_OK(im->ops->comm_wait(&e), &e);
    im->get(h, d, n);
    size_t bad = mismatches(h, n, 0, rank_order_sum);
    CHECK_MSG(bad == 0, "%s allreduce_sum_start x %d + comm_wait, n %zu, %d ranks: %zu elements differ", im->name,
              pieces, n, g_world, bad);
    im->free(d);
    free(h);
}

/* Rank r holds world x q floats; out gets the rank-order sums of part r, in place or not. */
static void test_reduce_scatter(const Impl *im, size_t q, int in_place) {
    Error e;
    size_t n = q * (size_t)g_world;
    float *h = host_alloc(n), *d = im->alloc(n), *o = in_place ? d + (size_t)g_rank * q : im->alloc(q);
    fill(h, n, 0);
    im->put(d, h, n);
    CHECK_OK(im->ops->reduce_scatter_sum(o, d, q, &e), &e);
    im->get(h, o, q);
    size_t bad = mismatches(h, q, (size_t)g_rank * q, rank_order_sum);
    CHECK_MSG(bad == 0, "%s reduce_scatter_sum q %zu%s: %zu elements differ", im->name, q, in_place ? " in place" : "", bad);
    if (!in_place) im->free(o);
    im->free(d);
    free(h);
}

static void test_all_gather(const Impl *im, size_t q, int in_place) {
    Error e;
    size_t n = q * (size_t)g_world;
    float *h = host_alloc(n), *d = im->alloc(n), *in = in_place ? d + (size_t)g_rank * q : im->alloc(q);
    /* Each rank's part: its own values at indices q*r .. q*r+q-1. */
    fill(h, q, (size_t)g_rank * q);
    im->put(in, h, q);
    CHECK_OK(im->ops->all_gather(d, in, q, &e), &e);
    im->get(h, d, n);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += h[i] != value((int)(i / (q ? q : 1)), i);
    CHECK_MSG(bad == 0, "%s all_gather q %zu%s: %zu elements differ", im->name, q, in_place ? " in place" : "", bad);
    if (!in_place) im->free(in);
    im->free(d);
    free(h);
}

/* A ring: each rank sends to rank + 1 and receives from rank - 1; even ranks send first, so
 * blocking sends cannot all wait at once. */
static void test_p2p(const Impl *im, size_t n) {
    Error e;
    float *h = host_alloc(n), *s = im->alloc(n), *r = im->alloc(n);
    fill(h, n, 0);
    im->put(s, h, n);
    int to = (g_rank + 1) % g_world, from = (g_rank + g_world - 1) % g_world, rc1, rc2;
    if (g_rank % 2 == 0) {
        rc1 = im->ops->send(s, n, to, &e);
        rc2 = rc1 ? rc1 : im->ops->recv(r, n, from, &e);
    } else {
        rc1 = im->ops->recv(r, n, from, &e);
        rc2 = rc1 ? rc1 : im->ops->send(s, n, to, &e);
    }
    CHECK_OK(rc2, &e);
    im->get(h, r, n);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += h[i] != value(from, i);
    CHECK_MSG(bad == 0, "%s send/recv n %zu: %zu elements differ from rank %d's", im->name, n, bad, from);
    im->free(s);
    im->free(r);
    free(h);
}

static void test_impl(const Impl *im) {
    Error e;
    CHECK_OK(im->ops->comm_init(&e), &e);
    CHECK_OK(im->ops->comm_init(&e), &e); /* idempotent: no second collective */
    size_t sizes[] = {1, 2, 5, 1000, 100003};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) test_allreduce(im, sizes[k]);
    test_allreduce(im, im->big);
    CHECK_OK(im->ops->comm_wait(&e), &e); /* nothing queued */
    test_allreduce_split(im, 5, 2);
    test_allreduce_split(im, 100003, 4);
    for (int in_place = 0; in_place < 2; in_place++) {
        test_reduce_scatter(im, 0, in_place);
        test_reduce_scatter(im, 1, in_place);
        test_reduce_scatter(im, 1001, in_place);
        test_all_gather(im, 1, in_place);
        test_all_gather(im, 1001, in_place);
    }
    if (g_world > 1) {
        test_p2p(im, 3);
        test_p2p(im, 100003);
    }
    float x = 0;
    CHECK(im->ops->send(&x, 1, g_rank, &e) == RP_EINTERNAL && strstr(e.msg, "point-to-point"));
    im->ops->comm_free();
    im->ops->comm_free(); /* safe twice */
    CHECK_OK(im->ops->comm_init(&e), &e); /* a new communicator after comm_free */
    test_allreduce(im, 77);
    im->ops->comm_free();
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_world);
#ifdef RESTPG_SIMT_EMU
    const char *cuda_name = "cuda (emulated)";
#else
    const char *cuda_name = "cuda (NCCL)";
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices < g_world) {
        printf("SKIP: %d rank(s) need as many CUDA devices, found %d\n", g_world, devices);
        MPI_Finalize();
        return 77;
    }
    cudaSetDevice(g_rank); /* before comm_init, as the backend's device choice comes first */
#endif
    BackendOps cuda = {.name = cuda_name,
                      .comm_init = cuda_comm_init,
                      .comm_free = cuda_comm_free,
                      .allreduce_sum = cuda_allreduce_sum,
                      .reduce_scatter_sum = cuda_reduce_scatter_sum,
                      .all_gather = cuda_all_gather,
                      .send = cuda_send,
                      .recv = cuda_recv,
                      .allreduce_sum_start = cuda_allreduce_sum_start,
                      .comm_wait = cuda_comm_wait};
    Impl impls[2] = {
        {"cpu", cpu_backend(), host_alloc, host_free, host_put, host_get, (size_t)17 << 20 | 5},
        {cuda_name, &cuda, dev_alloc, dev_free, dev_put, dev_get, 1 << 20},
    };
    for (int i = 0; i < 2; i++) test_impl(&impls[i]);
    char name[64];
    snprintf(name, sizeof name, "test_comm rank %d of %d", g_rank, g_world);
    int rc = test_summary(name);
    MPI_Finalize();
    return rc;
}

/* The cross-entropy chunked over the vocabulary (kernels/cuda/crossentropy.cu's
 * cuda_crossentropy_chunk_forward/backward) against the CPU ops of the same name (kernels/cpu/
 * loss.c), and the CPU's chunked forward against the whole-row crossentropy_forward (the
 * independent reference: the same lse and losses, summed in another order). Rows 1, 7, 33, 70 by
 * (V, chunk width) (1, 1), (33, 31), (33, 128), (1000, 31), (1000, 128), (1000, 700): widths that
 * divide V and that do not, a last chunk of 1 to 700 columns, a target in every chunk, masked
 * rows (mask 0, target -1: never read) and rows with dloss 0. Built twice: test_cuda_cechunk_emu
 * in the SIMT emulation under the three thread orders, test_cuda_cechunk_gpu on a device (label
 * gpu; 77 without one). Error measure |got - ref| / max(1, |ref|); tolerances as the whole-row
 * kernels' (docs/cuda.md): forward 2e-6, backward 1e-6. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda_test.h"
#include "tests/test.h"

static const int kRows[] = {1, 7, 33, 70};
static const int kShapes[][2] = {{1, 1}, {33, 31}, {33, 128}, {1000, 31}, {1000, 128}, {1000, 700}};
#define COUNT(a) (sizeof(a) / sizeof *(a))

enum { E_FWD, E_BWD, E_CPU_WHOLE, NE };
static const char *kName[NE] = {"chunk_forward (cuda vs cpu)", "chunk_backward (cuda vs cpu)",
                                "chunk_forward (cpu chunked vs whole row)"};
static const double kTol[NE] = {2e-6, 1e-6, 2e-6};
static double worst[NE];

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t urand(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng >> 33);
}
static float frand(float scale) { return scale * ((float)(urand() >> 7) / (float)(1u << 24) * 2.0f - 1.0f); }
static void *dup_dev(const void *h, size_t bytes) {
    void *d = NULL;
    if (cudaMalloc(&d, bytes ? bytes : 1) != cudaSuccess) abort();
    if (bytes) cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice);
    return d;
}

/* max |got - ref| / max(1, |ref|) over n, got on the device (dev) or the host. */
static double err(const float *got, int dev, const float *ref, size_t n) {
    float *h = (float *)got;
    if (dev) {
        h = malloc(n * sizeof(float) + 1);
        cudaMemcpy(h, got, n * sizeof(float), cudaMemcpyDeviceToHost);
    }
    double e = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = ref[i], d = fabs((double)h[i] - r) / (fabs(r) > 1.0 ? fabs(r) : 1.0);
        if (!(d <= e)) e = d; /* NaN propagates */
    }
    if (dev) free(h);
    return e;
}

static void note(int k, int N, int V, int w, double e) {
    if (!(e <= worst[k])) worst[k] = e;
    CHECK_MSG(e <= kTol[k], "%s, %d rows, V %d, chunks of %d: error %.3g > %.3g", kName[k], N, V, w, e, kTol[k]);
}

static void one_case(int N, int V, int w) {
    size_t nv = (size_t)N * V;
    float *logits = malloc(4 * nv), *mask = malloc(4 * N), *dloss = malloc(4 * N), *chunk = malloc(4 * (size_t)N * w);
    float *lse = malloc(4 * N), *losses = malloc(4 * N), *lse_w = malloc(4 * N), *losses_w = malloc(4 * N);
    float *stats = malloc(4 * 3 * (size_t)N);
    int32_t *targets = malloc(4 * N);
    for (size_t i = 0; i < nv; i++) logits[i] = frand(8.0f);
    for (int i = 0; i < N; i++) {
        mask[i] = i % 5 == 3 ? 0.0f : 1.0f;
        dloss[i] = i % 4 == 2 ? 0.0f : frand(2.0f);
        targets[i] = mask[i] == 0.0f ? -1 : (int32_t)(urand() % (uint32_t)V);
    }
    float *d_chunk = dup_dev(chunk, 4 * (size_t)N * w), *d_stats = dup_dev(stats, 4 * 3 * (size_t)N);
    float *d_lse = dup_dev(lse, 4 * N), *d_losses = dup_dev(losses, 4 * N), *d_mask = dup_dev(mask, 4 * N);
    float *d_dloss = dup_dev(dloss, 4 * N);
    int32_t *d_targets = dup_dev(targets, 4 * N);
    /* Forward, chunk by chunk in column order; the chunk's columns copied out of the full rows. */
    for (int j0 = 0; j0 < V; j0 += w) {
        int n = V - j0 < w ? V - j0 : w;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < n; j++) chunk[(size_t)i * n + j] = logits[(size_t)i * V + j0 + j];
        cudaMemcpy(d_chunk, chunk, 4 * (size_t)N * n, cudaMemcpyHostToDevice);
        crossentropy_chunk_forward(losses, lse, stats, chunk, targets, mask, N, V, j0, n);
        CHECK(cuda_crossentropy_chunk_forward(d_losses, d_lse, d_stats, d_chunk, d_targets, d_mask, N, V, j0, n, 0) ==
              cudaSuccess);
    }
    note(E_FWD, N, V, w, err(d_lse, 1, lse, N));
    note(E_FWD, N, V, w, err(d_losses, 1, losses, N));
    crossentropy_forward(losses_w, lse_w, logits, targets, mask, N, V, V);
    note(E_CPU_WHOLE, N, V, w, err(lse, 0, lse_w, N));
    note(E_CPU_WHOLE, N, V, w, err(losses, 0, losses_w, N));
    /* Backward per chunk from the CPU's lse, so only the kernel's own rounding is measured. */
    cudaMemcpy(d_lse, lse, 4 * N, cudaMemcpyHostToDevice);
    for (int j0 = 0; j0 < V; j0 += w) {
        int n = V - j0 < w ? V - j0 : w;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < n; j++) chunk[(size_t)i * n + j] = logits[(size_t)i * V + j0 + j];
        cudaMemcpy(d_chunk, chunk, 4 * (size_t)N * n, cudaMemcpyHostToDevice);
        crossentropy_chunk_backward(chunk, lse, targets, dloss, N, j0, n);
        CHECK(cuda_crossentropy_chunk_backward(d_chunk, d_lse, d_targets, d_dloss, N, j0, n, 0) == cudaSuccess);
        note(E_BWD, N, V, w, err(d_chunk, 1, chunk, (size_t)N * n));
    }
    cudaFree(d_chunk), cudaFree(d_stats), cudaFree(d_lse), cudaFree(d_losses), cudaFree(d_mask), cudaFree(d_dloss);
    cudaFree(d_targets);
    free(logits), free(mask), free(dloss), free(chunk), free(lse), free(losses), free(lse_w), free(losses_w);
    free(stats), free(targets);
}

static void body(void) {
    for (size_t r = 0; r < COUNT(kRows); r++)
        for (size_t s = 0; s < COUNT(kShapes); s++) one_case(kRows[r], kShapes[s][0], kShapes[s][1]);
}

int main(void) {
    int rc = cuda_test_run(body, 42, "test_cuda_cechunk");
    if (rc) return rc;
    for (int k = 0; k < NE; k++) printf("%-42s worst error %.3g (tolerance %.0e)\n", kName[k], worst[k], kTol[k]);
    return test_summary("test_cuda_cechunk");
}

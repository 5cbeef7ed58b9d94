/* bench/peak.c — ember-peak: what this CPU can do, to judge ember's GFLOP/s against.
 *
 *   ember-peak [--threads N]
 *
 * 1. FMA throughput: a loop of independent fused multiply-adds on registers (12 chains,
 *    enough to cover the FMA latency), for AVX-512 (16 floats a vector) and AVX2 (8), on
 *    one thread and on N threads: the machine's single-precision peak.
 * 2. GEMM: C = A B for 1024^3 and for the shapes of the reference models' layers, with
 *    ember's kernel (em_gemm_fast, threaded) and OpenBLAS (em_gemm, one thread, and
 *    OpenBLAS's own threads), GFLOP/s as the median of 5 timings.
 * Prints one JSON line per measurement.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fast/gemm.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "examples/common/progress.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define FMA_PROBE(NAME, TARGET, BYTES)                                                     \
    __attribute__((target(TARGET), noinline)) static double NAME(long iters) {            \
        typedef float v __attribute__((vector_size(BYTES)));                              \
        v a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0};                     \
        v a6 = {0}, a7 = {0}, a8 = {0}, a9 = {0}, a10 = {0}, a11 = {0};                   \
        v x = {0}, y = {0};                                                               \
        x += 1.0001f;                                                                     \
        y += 0.9999f;                                                                     \
        for (long i = 0; i < iters; i++) {                                                \
            a0 = a0 * x + y; a1 = a1 * x + y; a2 = a2 * x + y; a3 = a3 * x + y;           \
            a4 = a4 * x + y; a5 = a5 * x + y; a6 = a6 * x + y; a7 = a7 * x + y;           \
            a8 = a8 * x + y; a9 = a9 * x + y; a10 = a10 * x + y; a11 = a11 * x + y;       \
            __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4),       \
                             "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), \
                             "+v"(a11));                                                  \
        }                                                                                 \
        v s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;                \
        double t = 0;                                                                     \
        for (int k = 0; k < (int)(BYTES / 4); k++) t += s[k];                             \
        return t;                                                                         \
    }
FMA_PROBE(fma_avx512, "avx512f", 64)
FMA_PROBE(fma_avx2, "avx2,fma", 32)

/* GFLOP/s of `threads` threads each running the probe */
static double fma_gflops(int which, int threads) {
    const long iters = 20000000;
    int lanes = which == 512 ? 16 : 8;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double sink = 0, t0 = em_now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += which == 512 ? fma_avx512(iters) : fma_avx2(iters);
        double dt = em_now() - t0;
        double gf = 2.0 * 12 * lanes * (double)iters * threads / dt / 1e9;
        if (sink == 42) printf(" ");  /* keep the result alive */
        if (gf > best) best = gf;
    }
    return best;
}
#endif

typedef void (*gemm_fn)(bool, bool, int, int, int, em_real, const em_real *, int,
                        const em_real *, int, em_real, em_real *, int);

static double gemm_gflops(gemm_fn f, bool ta, bool tb, int M, int N, int K, em_real *A,
                          em_real *B, em_real *C) {
    double t[5];
    double flops = 2.0 * M * N * K;
    long reps = (long)(2e8 / flops) + 1;
    f(ta, tb, M, N, K, 1, A, ta ? M : K, B, tb ? K : N, 0, C, N);  /* warm up */
    for (int w = 0; w < 5; w++) {
        double t0 = em_now();
        for (long r = 0; r < reps; r++)
            f(ta, tb, M, N, K, 1, A, ta ? M : K, B, tb ? K : N, 0, C, N);
        t[w] = (em_now() - t0) / (double)reps;
    }
    qsort(t, 5, sizeof t[0], cmp_double);
    return flops / t[2] / 1e9;
}

void openblas_set_num_threads(int n) __attribute__((weak));

int main(int argc, char **argv) {
    int threads = 2;
    static const struct option longs[] = {{"threads", required_argument, 0, 't'},
                                          {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (ch == 't') {
            threads = atoi(optarg);
            if (threads < 1 || threads > 256) {
                fprintf(stderr, "ember-peak: --threads: '%s' is not 1..256\n", optarg);
                return 2;
            }
        } else if (ch == 'h') {
            printf("usage: ember-peak [--threads N]   (default 2)\n");
            return 0;
        } else {
            fprintf(stderr, "usage: ember-peak [--threads N]\n");
            return 2;
        }
    }
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f"))
        printf("{\"probe\":\"fma\",\"isa\":\"avx512\",\"threads\":1,\"gflops\":%.1f}\n"
               "{\"probe\":\"fma\",\"isa\":\"avx512\",\"threads\":%d,\"gflops\":%.1f}\n",
               fma_gflops(512, 1), threads, fma_gflops(512, threads));
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        printf("{\"probe\":\"fma\",\"isa\":\"avx2\",\"threads\":1,\"gflops\":%.1f}\n"
               "{\"probe\":\"fma\",\"isa\":\"avx2\",\"threads\":%d,\"gflops\":%.1f}\n",
               fma_gflops(256, 1), threads, fma_gflops(256, threads));
#endif
    /* M, N, K, trans_a, trans_b, what */
    static const struct {
        int M, N, K;
        bool ta, tb;
        const char *what;
    } shapes[] = {
        {1024, 1024, 1024, false, false, "square 1024"},
        {16, 784, 9, false, false, "mnist-cnn conv1 forward, one image"},
        {16, 9, 784, false, true, "mnist-cnn conv1 dW, one image"},
        {32, 196, 144, false, false, "mnist-cnn conv2 forward by im2col (before Winograd), one image"},
        {144, 32, 196, false, true, "mnist-cnn conv2 dW^T by im2col (before Winograd), one image"},
        {144, 196, 32, true, false, "mnist-cnn conv2 dX (dcols) by im2col (before Winograd), one image"},
        {64, 128, 1568, false, true, "mnist-cnn fc1 forward, batch 64"},
        {32, 1024, 288, false, false, "cifar-cnn conv2 forward, one image"},
        {288, 32, 1024, false, true, "cifar-cnn conv2 dW^T, one image"},
        {288, 1024, 32, true, false, "cifar-cnn conv2 dX (dcols), one image"},
        {64, 100, 784, false, true, "mlp fc1 forward, batch 64"},
        {32, 49, 16, false, false, "mnist-cnn conv2 Winograd forward, one of 16, one image"},
        {32, 196, 16, false, false, "mnist-cnn conv2 Winograd forward, one of 16, 4 images"},
        {16, 196, 32, false, false, "mnist-cnn conv2 Winograd dX, one of 16, 4 images"},
        {32, 16, 196, false, true, "mnist-cnn conv2 Winograd dW, one of 16, 4 images"},
    };
    em_rng rng;
    em_rng_seed(&rng, 1);
    size_t most = (size_t)1024 * 1024;
    em_real *A = malloc(most * sizeof *A), *B = malloc(most * sizeof *B);
    em_real *C = malloc(most * sizeof *C);
    if (!A || !B || !C) {
        fprintf(stderr, "ember-peak: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < most; i++) {
        A[i] = (em_real)em_rng_normal(&rng, 0, 1);
        B[i] = (em_real)em_rng_normal(&rng, 0, 1);
    }
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s].M, N = shapes[s].N, K = shapes[s].K;
        bool ta = shapes[s].ta, tb = shapes[s].tb;
        em_set_threads(1);
        double k1 = gemm_gflops(em_gemm_fast, ta, tb, M, N, K, A, B, C);
        double b1 = gemm_gflops(em_gemm, ta, tb, M, N, K, A, B, C);
        em_set_threads(threads);
        double kn = gemm_gflops(em_gemm_fast, ta, tb, M, N, K, A, B, C);
        if (openblas_set_num_threads) openblas_set_num_threads(threads);
        double bn = gemm_gflops(em_gemm, ta, tb, M, N, K, A, B, C);
        if (openblas_set_num_threads) openblas_set_num_threads(1);
        static const char *const paths[] = {"packed", "direct", "dot"};
        printf("{\"probe\":\"gemm\",\"shape\":\"%s\",\"M\":%d,\"N\":%d,\"K\":%d,\"ta\":%d,"
               "\"tb\":%d,\"ember_path\":\"%s\",\"ember_1t\":%.1f,\"openblas_1t\":%.1f,"
               "\"ember_%dt\":%.1f,\"openblas_%dt\":%.1f}\n",
               shapes[s].what, M, N, K, ta, tb, paths[em_gemm_kernel_path(ta, tb, M, N, K)],
               k1, b1, threads, kn, threads, bn);
    }
    free(A);
    free(B);
    free(C);
    return 0;
}

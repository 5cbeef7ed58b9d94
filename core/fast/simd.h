/* core/fast/simd.h — how ember's hot loops get vector instructions without -march=native.
 *
 *     EM_KERNEL static void axpy(em_real *restrict y, const em_real *restrict x, ...)
 *
 * EM_KERNEL compiles a function three times — for AVX-512 (x86-64-v4), for AVX2 + FMA
 * (x86-64-v3) and for the baseline x86-64 — and the dynamic loader picks the best one
 * the CPU supports when the program starts (GCC/Clang target_clones, an ifunc). The
 * loops inside are plain C written so the compiler can vectorize them (unit stride, no
 * branches, independent partial sums); there is no intrinsic code to maintain.
 *
 * Built with -DEM_PORTABLE (the double-precision library is: see meson.build), EM_KERNEL
 * is empty and every kernel runs its baseline code — so the whole test suite runs on
 * both the dispatched and the plain path.
 */
#ifndef EM_SIMD_H
#define EM_SIMD_H

#include <stddef.h>
#include <stdint.h>

#include "../tensor.h"  /* em_real */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(EM_PORTABLE)
#define EM_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EM_KERNEL
#endif

/* EM_INLINE: a helper of EM_KERNEL functions that must be inlined into each clone. One
 * that the compiler keeps as a function of its own is compiled for the baseline target
 * only, so its vector code would run at SSE2 width inside the AVX-512 clone. */
#if defined(__GNUC__)
#define EM_INLINE inline __attribute__((always_inline))
#else
#define EM_INLINE inline
#endif

/* ---- GCC vector types, for the loops GCC's vectorizer handles badly --------------------
 * Written as plain arrays, some loops (16 independent partial sums, rows of 14 values)
 * were vectorized across lanes with permutes, or left to a scalar remainder, and ran
 * several times slower. Written with these types, each EM_KERNEL clone splits a vector
 * into its own registers (one zmm, two ymm or four xmm for em_vec). The u types are the
 * same vectors at any em_real-aligned address; the m types hold comparison results, lane
 * by lane all ones (-1) or 0, as wide as em_real. Pass them by pointer, never by value: a
 * vector argument has a different ABI in each clone (clang refuses it). */
#define EM_LANES 16
typedef em_real em_vec __attribute__((vector_size(EM_LANES * sizeof(em_real))));
typedef em_real em_uvec
    __attribute__((vector_size(EM_LANES * sizeof(em_real)), aligned(sizeof(em_real))));
#ifdef EM_DOUBLE
typedef int64_t em_mask_t;
#else
typedef int32_t em_mask_t;
#endif
typedef em_mask_t em_mvec __attribute__((vector_size(EM_LANES * sizeof(em_real))));
/* half as wide: 8 lanes (one ymm), for rows as short as 14 values */
typedef em_real em_vec8 __attribute__((vector_size(8 * sizeof(em_real))));
typedef em_real em_uvec8
    __attribute__((vector_size(8 * sizeof(em_real)), aligned(sizeof(em_real))));
typedef em_mask_t em_mvec8 __attribute__((vector_size(8 * sizeof(em_real))));

#define EM_LOADV(p) (*(const em_uvec *)(p))

/* the EM_LANES lanes of *v added in double, in lane order */
EM_INLINE static double em_lanes_sum(const em_vec *v) {
    double t = 0.0;
    for (int j = 0; j < EM_LANES; j++) t += (*v)[j];
    return t;
}

/* sum of x[0 .. n): EM_LANES partial sums of em_real (so the loop runs at vector speed,
 * not at one dependent double add per value); the remainder, then the lanes, added in
 * double. BatchNorm's per-channel sums of x and the convolution's bias gradient use it;
 * call it from an EM_KERNEL function (EM_INLINE above). */
EM_INLINE static double em_run_sum(const em_real *restrict x, size_t n) {
    em_vec acc = {0};
    size_t s = 0;
    for (; s + EM_LANES <= n; s += EM_LANES) acc += EM_LOADV(x + s);
    double t = 0.0;
    for (; s < n; s++) t += x[s];
    return t + em_lanes_sum(&acc);
}

/* sum of (x - mu)^2 over x[0..S): the second pass of a two-pass variance (BatchNorm's and
 * GroupNorm's) */
EM_INLINE static double em_run_sqdev(const em_real *restrict x, em_real mu, size_t S) {
    em_vec acc = {0};
    size_t s = 0;
    for (; s + EM_LANES <= S; s += EM_LANES) {
        em_vec d = EM_LOADV(x + s) - mu;
        acc += d * d;
    }
    double t = 0.0;
    for (; s < S; s++) t += ((double)x[s] - mu) * ((double)x[s] - mu);
    return t + em_lanes_sum(&acc);
}

/* *sdy += sum of dy, *sdyxc += sum of dy * (x - mu), over a run of S: what the backward of
 * BatchNorm and of GroupNorm sums */
EM_INLINE static void em_run_dsums(const em_real *restrict dy, const em_real *restrict x,
                                   em_real mu, size_t S, double *sdy, double *sdyxc) {
    em_vec a = {0}, b = {0};
    size_t s = 0;
    for (; s + EM_LANES <= S; s += EM_LANES) {
        em_vec d = EM_LOADV(dy + s);
        a += d;
        b += d * (EM_LOADV(x + s) - mu);
    }
    double ta = 0.0, tb = 0.0;
    for (; s < S; s++) {
        ta += dy[s];
        tb += (double)dy[s] * ((double)x[s] - mu);
    }
    *sdy += ta + em_lanes_sum(&a);
    *sdyxc += tb + em_lanes_sum(&b);
}

/* EM_NO_LIBCALLS keeps GCC from turning a copy or fill loop into a call to memcpy or
 * memset: for the many short runs of im2col (a row of 14 values) the call costs more
 * than the vector loop it replaces. */
#if defined(__GNUC__) && !defined(__clang__)
#define EM_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define EM_NO_LIBCALLS
#endif

/* A parallel region is opened only when the work (about the number of scalar operations)
 * exceeds EM_PAR_MIN: below that a fork costs more than it saves. */
#define EM_PAR_MIN 65536
#define EM_PAR_CHUNKS 4  /* pieces per thread in EM_PARALLEL_RANGES */
#ifdef _OPENMP
#include <omp.h>
#endif

/* EM_PARALLEL_RANGES(n, work, lo, hi, CALL): runs CALL with size_t lo, hi bound to
 * contiguous pieces of [0, n), EM_PAR_CHUNKS per thread, which the threads take as they
 * come free (so a core slowed by another job does not hold the others at the barrier),
 * or once with [0, n) when the work is small or inside a parallel region. CALL must
 * compute each index of [0, n) the same whatever piece it falls in (every caller's index
 * is an element, a channel or a row of its own): then neither the pieces nor which thread
 * took them can change a result. CALL is a call of an EM_KERNEL function taking the
 * pieces: the vectorized loop lives there, with its restrict pointers — the function
 * OpenMP outlines from a parallel region loses restrict, and with it the vectorizer's
 * trust. */
#ifdef _OPENMP
#define EM_PARALLEL_RANGES(n, work, lo, hi, CALL)                                        \
    do {                                                                                 \
        size_t n_ = (n);                                                                 \
        if ((work) > EM_PAR_MIN && omp_get_level() == 0 && omp_get_max_threads() > 1) {  \
            _Pragma("omp parallel")                                                      \
            {                                                                            \
                size_t nc_ = (size_t)omp_get_num_threads() * EM_PAR_CHUNKS;              \
                if (nc_ > n_) nc_ = n_;                                                  \
                _Pragma("omp for schedule(dynamic, 1) nowait")                           \
                for (size_t c_ = 0; c_ < nc_; c_++) {                                    \
                    size_t lo = n_ * c_ / nc_, hi = n_ * (c_ + 1) / nc_;                 \
                    CALL;                                                                \
                }                                                                        \
            }                                                                            \
        } else {                                                                         \
            size_t lo = 0, hi = n_;                                                      \
            CALL;                                                                        \
        }                                                                                \
    } while (0)
#else
#define EM_PARALLEL_RANGES(n, work, lo, hi, CALL)                                        \
    do {                                                                                 \
        size_t lo = 0, hi = (n);                                                         \
        CALL;                                                                            \
    } while (0)
#endif

#endif

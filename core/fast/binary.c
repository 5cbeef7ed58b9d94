/* core/fast/binary.c — the fast tier's sum of two tensors of one shape and its backward
 * (core/kernels.h's add, add_backward): the reference's loops (core/ops/binary.c) as
 * EM_KERNEL clones split across threads. A residual block's sum is a pass over a whole
 * activation: on one thread it kept the other waiting. */
#include "fast.h"
#include "simd.h"

EM_KERNEL static void add_k(em_real *restrict y, const em_real *restrict a,
                            const em_real *restrict b, size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) y[i] = a[i] + b[i];
}

void em_fast_add(em_real *y, const em_real *a, const em_real *b, size_t n) {
    EM_PARALLEL_RANGES(n, n, lo, hi, add_k(y, a, b, lo, hi));
}

EM_KERNEL static void add_bwd_k(em_real *restrict d, const em_real *restrict dy, size_t lo,
                                size_t hi, bool add) {
    if (add)
        for (size_t i = lo; i < hi; i++) d[i] += dy[i];
    else  /* a fresh d is never read */
        for (size_t i = lo; i < hi; i++) d[i] = dy[i];
}

void em_fast_add_backward(em_real *d, bool add, const em_real *dy, size_t n) {
    EM_PARALLEL_RANGES(n, n, lo, hi, add_bwd_k(d, dy, lo, hi, add));
}

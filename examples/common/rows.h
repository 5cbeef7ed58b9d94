/* examples/common/rows.h — rows of a batch: which of them a process takes, a view of them,
 * the passes they are split into,
 * and the class each row's logits predict. What the training step (train.c) and the test
 * pass (evaluate.c) share. (Internal to examples/common: not installed.) */
#ifndef EM_COMMON_ROWS_H
#define EM_COMMON_ROWS_H

#include <string.h>

#include "core/tensor.h"

/* Rows [*lo, *hi) of a batch of n that process r of P takes. */
static inline void shard_of(int n, int P, int r, int *lo, int *hi) {
    *lo = (int)((long)n * r / P);
    *hi = (int)((long)n * (r + 1) / P);
}

/* A view of rows [lo, hi) of a batch tensor (no copy). */
static inline em_tensor rows_of(const em_tensor *x, int lo, int hi) {
    em_tensor v;
    int shape[EM_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = hi - lo;
    em_tensor_wrap(&v, x->data + (size_t)lo * (x->size / (size_t)x->shape[0]), NULL, x->ndim,
                   shape);
    return v;
}

/* Forward/backward passes per process for a batch of n over P processes: the largest
 * shard in groups of at most ghost_batch examples (0: one pass); the same count on every
 * process (a synchronized BatchNorm forward is collective). */
static inline int em_passes_of(int ghost_batch, int n, int P) {
    int biggest = (n + P - 1) / P;
    return ghost_batch > 0 ? (biggest + ghost_batch - 1) / ghost_batch : 1;
}

/* The index of the largest of row[0..n): the predicted class (the first on a tie). */
static inline int argmax(const em_real *row, int n) {
    int best = 0;
    for (int k = 1; k < n; k++)
        if (row[k] > row[best]) best = k;
    return best;
}

#endif

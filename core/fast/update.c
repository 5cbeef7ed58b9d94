/* core/fast/update.c — the fast tier's SGD step: the reference's loop (core/ops/update.c)
 * with the branches taken once per call instead of per element, as EM_KERNEL clones split
 * across threads. Every element is computed on its own, so the pieces (and the thread
 * count) cannot change a result. */
#include "fast.h"
#include "simd.h"

/* p[lo, hi): the update (v NULL: no momentum) */
EM_KERNEL static void sgd_k(em_real *restrict p, em_real *restrict v,
                            const em_real *restrict g, em_real lr, em_real wd, em_real mu,
                            em_real keep, bool first, bool nesterov, size_t lo, size_t hi) {
    if (!v) {                                    /* p = p - lr * (g + wd * p) */
        for (size_t i = lo; i < hi; i++) p[i] -= lr * (g[i] + wd * p[i]);
    } else if (first && nesterov) {              /* v = g (PyTorch: no dampening at first) */
        for (size_t i = lo; i < hi; i++) {
            em_real gi = g[i] + wd * p[i];
            v[i] = gi;
            p[i] -= lr * (gi + mu * v[i]);
        }
    } else if (first) {
        for (size_t i = lo; i < hi; i++) {
            em_real gi = g[i] + wd * p[i];
            v[i] = gi;
            p[i] -= lr * v[i];
        }
    } else if (nesterov) {                       /* v = mu v + g;  p = p - lr (g + mu v) */
        for (size_t i = lo; i < hi; i++) {
            em_real gi = g[i] + wd * p[i];
            v[i] = mu * v[i] + keep * gi;
            p[i] -= lr * (gi + mu * v[i]);
        }
    } else {                                     /* v = mu v + (1 - d) g;  p = p - lr v */
        for (size_t i = lo; i < hi; i++) {
            em_real gi = g[i] + wd * p[i];
            v[i] = mu * v[i] + keep * gi;
            p[i] -= lr * v[i];
        }
    }
}

void em_fast_sgd(em_real *p, em_real *v, const em_real *g, size_t n, const em_sgd_hyper *h) {
    const em_real lr = (em_real)h->lr, wd = (em_real)h->weight_decay;
    const em_real mu = (em_real)h->momentum, keep = (em_real)(1.0 - h->dampening);
    EM_PARALLEL_RANGES(n, (long)n, lo, hi,
                       sgd_k(p, v, g, lr, wd, mu, keep, h->first, h->nesterov, lo, hi));
}

/* exercises/tier.c — the reference tier of an exercise build (meson -Dexercises=student or
 * solutions compiles this file in place of core/ops/table.c): ember's reference table
 * (core/kernels.h) with the student's functions of exercises/exercises.h in its entries —
 * BatchNorm's training forward, its backward and its evaluation (exercises 1, 2, 6),
 * conv2d's backward (3), max-pooling (7), the softmax cross-entropy (8), group
 * normalization (13), SGD's momentum step (4) and Adam's step (9) — and the reference
 * kernels in the rest. An exercise
 * build's default tier is this one, so every op, layer, test and program of the build
 * runs the student's code.
 *
 * The adapters below do what the exercise functions leave out, so that those can stay
 * plain arrays:
 *   - a missing gamma / beta (BatchNorm without affine) becomes ones / zeros, a missing
 *     running statistic a scratch pair (0, 1);
 *   - every output is zeroed before the student's function runs (so a missing element
 *     shows as 0, never as stale memory);
 *   - gradients are computed into zeroed scratch and then added into the tape's buffers
 *     (or stored into a fresh one): ember's accumulate-into-gradients rule.
 * What the exercises do not cover goes to the reference: BatchNorm synchronized over
 * processes, the frozen-statistics backward, Batch Renorm, Nesterov momentum, AdamW's
 * decoupled decay. Memory is the tape's arena where the entry has a tape, else malloc (a
 * failed one shows as NaN in the result, never as a silent fallback to ember's own
 * kernel). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/gemm.h"
#include "../core/ops/reference.h"
#include "exercises.h"

/* n em_reals of zeroed arena memory, or NULL (tape failed) */
static em_real *zeroed(em_tape *tape, size_t n) {
    em_real *p = em_tape_alloc(tape, (n ? n : 1) * sizeof *p);
    if (p) memset(p, 0, (n ? n : 1) * sizeof *p);
    return p;
}

/* dst += src, or dst = src into a fresh (unzeroed) buffer; dst NULL: nothing wanted */
static void deliver(em_real *dst, bool add, const em_real *src, size_t n) {
    if (!dst) return;
    if (!add) memcpy(dst, src, n * sizeof *dst);
    else
        for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

static void fill_nan(em_real *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (em_real)NAN;
}

/* t's values, or C copies of fill when the layer has no t */
static const em_real *param_or(const em_tensor *t, em_real fill, em_real *scratch, int C) {
    if (t) return t->data;
    for (int c = 0; c < C; c++) scratch[c] = fill;
    return scratch;
}

/* exercise 1 */
static double ex_bn_train(em_tape *tape, em_real *y, em_real *mean, em_real *rstd,
                          em_real *rd, const em_real *x, const em_bn_args *a, int N, int C,
                          int S) {
    if (a->sync || em_bn_renorm_on(a))
        return em_ref_bn_train(tape, y, mean, rstd, rd, x, a, N, C, S);
    double M = (double)N * S;
    if (M < 2) return M;
    em_real *buf = zeroed(tape, 4 * (size_t)C);  /* ones, zeros, running mean, running var */
    if (!buf) return -1;
    const em_real *g = param_or(a->gamma, 1, buf, C), *b = param_or(a->beta, 0, buf + C, C);
    em_real *rm = a->running_mean ? a->running_mean : buf + 2 * C;
    em_real *rv = a->running_var ? a->running_var : buf + 3 * C;
    if (!a->running_var)
        for (int c = 0; c < C; c++) rv[c] = 1;
    memset(y, 0, (size_t)N * C * S * sizeof *y);
    memset(mean, 0, (size_t)C * sizeof *mean);
    memset(rstd, 0, (size_t)C * sizeof *rstd);
    ex_batchnorm_forward(y, mean, rstd, rm, rv, x, g, b, N, C, S, a->momentum, a->eps);
    return M;
}

/* exercise 6 (a): y = (x - mean) k + b is BatchNorm in evaluation with running_mean =
 * mean, running_var = 1, eps = 0, gamma = k, beta = b (1 / sqrt(1 + 0) is exactly 1) */
static void ex_bn_normalize(em_real *y, const em_real *x, const em_real *mean,
                            const em_real *k, const em_real *b, int N, int C, int S) {
    size_t n = (size_t)N * C * S;
    em_real *ones = malloc((size_t)(C ? C : 1) * sizeof *ones);
    if (!ones) {
        fill_nan(y, n);
        return;
    }
    for (int c = 0; c < C; c++) ones[c] = 1;
    memset(y, 0, n * sizeof *y);
    ex_batchnorm_eval(y, x, mean, ones, k, b, 0.0, N, C, S);
    free(ones);
}

/* exercise 2 */
static bool ex_bn_backward(em_tape *tape, em_real *dx, bool add, em_real *dgamma,
                           em_real *dbeta, const em_real *dy, const em_real *mean,
                           const em_real *rstd, const em_real *rd, const em_real *x,
                           const em_bn_args *a, int N, int C, int S, double M) {
    if (a->mode != EM_BN_TRAIN || a->sync || em_bn_renorm_on(a))
        return em_ref_bn_backward(tape, dx, add, dgamma, dbeta, dy, mean, rstd, rd, x, a, N, C,
                                  S, M);
    size_t n = (size_t)N * C * S;
    em_real *ones = em_tape_alloc(tape, (size_t)C * sizeof *ones);
    em_real *gx = zeroed(tape, n), *gg = zeroed(tape, (size_t)C), *gb = zeroed(tape, (size_t)C);
    if (!ones || !gx || !gg || !gb) return false;
    ex_batchnorm_backward(gx, gg, gb, dy, x, mean, rstd, param_or(a->gamma, 1, ones, C), N, C,
                          S);
    deliver(dx, add, gx, n);
    deliver(dgamma, true, gg, (size_t)C);
    deliver(dbeta, true, gb, (size_t)C);
    return true;
}

/* exercise 3 */
static bool ex_conv2d_backward_k(em_tape *tape, em_real *dx, bool add, em_real *dw,
                                 em_real *db, const em_real *dy, const em_real *x,
                                 const em_real *w, const em_conv_geom *g) {
    size_t nx = (size_t)g->N * g->C * g->H * g->W, nw = (size_t)g->O * g->C * g->kh * g->kw;
    em_real *gx = zeroed(tape, nx), *gw = zeroed(tape, nw), *gb = zeroed(tape, (size_t)g->O);
    if (!gx || !gw || !gb) return false;
    ex_conv2d_backward(gx, gw, gb, dy, x, w, g->N, g->C, g->H, g->W, g->O, g->kh, g->kw,
                       g->stride, g->pad);
    deliver(dx, add, gx, nx);
    deliver(dw, true, gw, nw);
    deliver(db, true, gb, (size_t)g->O);
    return true;
}

/* exercise 7: `which` holds the student's argmax, which only the student's backward reads */
static void ex_maxpool(em_real *y, int32_t *which, const em_real *x, const em_pool_geom *g) {
    size_t n = (size_t)g->NC * g->Ho * g->Wo;
    memset(y, 0, n * sizeof *y);
    memset(which, 0, n * sizeof *which);
    ex_maxpool_forward(y, which, x, g->NC, g->H, g->W, g->k, g->stride);
}

static void ex_maxpool_backward_k(em_real *dx, bool add, const em_real *dy,
                                  const int32_t *which, const em_pool_geom *g) {
    size_t n = (size_t)g->NC * g->H * g->W;
    em_real *gx = add ? calloc(n ? n : 1, sizeof *gx) : dx;
    if (!gx) {
        fill_nan(dx, n);
        return;
    }
    if (!add) memset(dx, 0, n * sizeof *dx);
    ex_maxpool_backward(gx, dy, which, g->NC, g->H, g->W, g->k, g->stride);
    if (add) {
        deliver(dx, true, gx, n);
        free(gx);
    }
}

/* exercise 8 */
static void ex_cross_entropy(em_real *y, em_real *probs, const em_real *z, const int *labels,
                             int N, int C) {
    size_t n = (size_t)N * C;
    em_real *p = probs ? probs : malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        y[0] = (em_real)NAN;
        return;
    }
    memset(p, 0, n * sizeof *p);
    y[0] = (em_real)ex_cross_entropy_forward(p, z, labels, N, C);
    if (!probs) free(p);
}

static void ex_cross_entropy_backward_k(em_real *dz, bool add, const em_real *dy,
                                        const em_real *probs, const int *labels, int N,
                                        int C) {
    size_t n = (size_t)N * C;
    em_real *g = add ? calloc(n ? n : 1, sizeof *g) : dz;
    if (!g) {
        fill_nan(dz, n);
        return;
    }
    if (!add) memset(dz, 0, n * sizeof *dz);
    ex_cross_entropy_backward(g, probs, labels, dy[0], N, C);
    if (add) {
        deliver(dz, true, g, n);
        free(g);
    }
}

/* exercise 13 */
static void ex_gn_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                          const em_real *gamma, const em_real *beta, int N, int C, int S, int G,
                          double eps) {
    size_t n = (size_t)N * C * S, ns = (size_t)N * G;
    em_real *buf = malloc(2 * (size_t)(C ? C : 1) * sizeof *buf);  /* ones, zeros */
    if (!buf) {
        fill_nan(y, n);
        return;
    }
    memset(y, 0, n * sizeof *y);
    memset(mean, 0, ns * sizeof *mean);
    memset(rstd, 0, ns * sizeof *rstd);
    ex_groupnorm_forward(y, mean, rstd, x, gamma ? gamma : param_or(NULL, 1, buf, C),
                         beta ? beta : param_or(NULL, 0, buf + C, C), N, C, S, G, eps);
    free(buf);
}

static void ex_gn_backward(em_real *dx, bool add, em_real *dgamma, em_real *dbeta,
                           const em_real *dy, const em_real *mean, const em_real *rstd,
                           const em_real *x, const em_real *gamma, int N, int C, int S, int G) {
    size_t n = (size_t)N * C * S;
    em_real *gx = calloc(n + 3 * (size_t)C + 1, sizeof *gx);  /* dx, dgamma, dbeta, ones */
    if (!gx) {
        if (dx) fill_nan(dx, n);
        return;
    }
    em_real *gg = gx + n, *gb = gg + C, *ones = gb + C;
    const em_real *g = gamma ? gamma : param_or(NULL, 1, ones, C);
    ex_groupnorm_backward(gx, gg, gb, dy, x, mean, rstd, g, N, C, S, G);
    deliver(dx, add, gx, n);
    deliver(dgamma, true, gg, (size_t)C);
    deliver(dbeta, true, gb, (size_t)C);
    free(gx);
}

/* exercise 4 */
static void ex_sgd(em_real *p, em_real *v, const em_real *g, size_t n, const em_sgd_hyper *h) {
    if (!v || h->nesterov) {
        em_ref_sgd(p, v, g, n, h);
        return;
    }
    ex_sgd_momentum_step(p, v, g, h->lr, h->momentum, h->dampening, h->weight_decay, h->first,
                         n);
}

/* exercise 9 */
static void ex_adam(em_real *p, em_real *m, em_real *v, const em_real *g, size_t n,
                    const em_adam_hyper *h) {
    if (h->decoupled) {
        em_ref_adam(p, m, v, g, n, h);
        return;
    }
    ex_adam_step(p, m, v, g, h->lr, h->beta1, h->beta2, h->eps, h->weight_decay, h->step, n);
}

static const em_kernels student = {
    .name = "reference (with the exercises)",
    .fuse = false,
    .gemm = em_gemm,
    .relu = em_ref_relu,
    .relu_backward = em_ref_relu_backward,
    .sigmoid = em_ref_sigmoid,
    .sigmoid_backward = em_ref_sigmoid_backward,
    .tanh = em_ref_tanh,
    .tanh_backward = em_ref_tanh_backward,
    .add = em_ref_add,
    .add_backward = em_ref_add_backward,
    .maxpool = ex_maxpool,
    .maxpool_backward = ex_maxpool_backward_k,
    .bn_train = ex_bn_train,
    .bn_normalize = ex_bn_normalize,
    .bn_backward = ex_bn_backward,
    .gn_forward = ex_gn_forward,
    .gn_backward = ex_gn_backward,
    .conv2d = em_ref_conv2d,
    .conv2d_backward = ex_conv2d_backward_k,
    .cross_entropy = ex_cross_entropy,
    .cross_entropy_backward = ex_cross_entropy_backward_k,
    .sgd = ex_sgd,
    .adam = ex_adam,
};

const em_kernels *em_kernels_reference(void) { return &student; }

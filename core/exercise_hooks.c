/* core/exercise_hooks.c — exercise mode: ember's tape around the student's plain-array
 * functions (see exercise_hooks.h). Compiled only with -Dexercises=student|solutions. */
#include "exercise_hooks.h"

#include <string.h>

#include "../exercises/exercises.h"

/* n em_reals of zeroed arena memory, or NULL (tape failed) */
static em_real *zeroed(em_tape *tape, size_t n) {
    em_real *p = em_tape_alloc(tape, (n ? n : 1) * sizeof *p);
    if (p) memset(p, 0, (n ? n : 1) * sizeof *p);
    return p;
}

/* dst += src, or dst = src for a fresh (unzeroed) buffer; dst NULL: nothing wanted */
static void deliver(em_real *dst, bool fresh, const em_real *src, size_t n) {
    if (!dst) return;
    if (fresh) memcpy(dst, src, n * sizeof *dst);
    else
        for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* x viewed as (N, C, S) */
static void bn_shape(const em_tensor *x, int *N, int *C, int *S) {
    *N = x->shape[0];
    *C = x->shape[1];
    *S = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
}

/* gamma, or ones when the layer has no affine part; beta likewise with zeros */
static const em_real *param_or(const em_tensor *t, em_real fill, em_real *scratch, int C) {
    if (t) return t->data;
    for (int c = 0; c < C; c++) scratch[c] = fill;
    return scratch;
}

bool em_ex_batchnorm_forward(em_tape *tape, em_tensor *y, em_real *mean, em_real *rstd,
                             em_real *running_mean, em_real *running_var, const em_tensor *x,
                             const em_tensor *gamma, const em_tensor *beta, double momentum,
                             double eps) {
    int N, C, S;
    bn_shape(x, &N, &C, &S);
    em_real *buf = zeroed(tape, 4 * (size_t)C);  /* ones, zeros, running mean, running var */
    if (!buf) return false;
    const em_real *g = param_or(gamma, 1, buf, C), *b = param_or(beta, 0, buf + C, C);
    em_real *rm = running_mean ? running_mean : buf + 2 * C;
    em_real *rv = running_var ? running_var : buf + 3 * C;
    if (!running_var)
        for (int c = 0; c < C; c++) rv[c] = 1;
    memset(y->data, 0, y->size * sizeof *y->data);
    memset(mean, 0, (size_t)C * sizeof *mean);
    memset(rstd, 0, (size_t)C * sizeof *rstd);
    ex_batchnorm_forward(y->data, mean, rstd, rm, rv, x->data, g, b, N, C, S, momentum, eps);
    return true;
}

void em_ex_batchnorm_backward(em_tape *tape, em_node *node, em_real *dx, bool dx_fresh,
                              em_real *dgamma, em_real *dbeta, const em_real *mean,
                              const em_real *rstd) {
    const em_tensor *x = node->inputs[0], *gamma = node->inputs[1], *y = node->output;
    int N, C, S;
    bn_shape(x, &N, &C, &S);
    em_real *ones = em_tape_alloc(tape, (size_t)C * sizeof *ones);
    em_real *gx = zeroed(tape, x->size), *gg = zeroed(tape, (size_t)C), *gb = zeroed(tape, (size_t)C);
    if (!ones || !gx || !gg || !gb) return;
    ex_batchnorm_backward(gx, gg, gb, y->grad, x->data, mean, rstd,
                          param_or(gamma, 1, ones, C), N, C, S);
    deliver(dx, dx_fresh, gx, x->size);
    deliver(dgamma, false, gg, (size_t)C);
    deliver(dbeta, false, gb, (size_t)C);
}

void em_ex_conv2d_backward(em_tape *tape, em_node *node, em_real *dx, bool dx_fresh,
                           em_real *dw, em_real *db) {
    const em_tensor *x = node->inputs[0], *w = node->inputs[1], *y = node->output;
    int O = w->shape[0];
    em_real *gx = zeroed(tape, x->size), *gw = zeroed(tape, w->size), *gb = zeroed(tape, (size_t)O);
    if (!gx || !gw || !gb) return;
    ex_conv2d_backward(gx, gw, gb, y->grad, x->data, w->data, x->shape[0], x->shape[1],
                       x->shape[2], x->shape[3], O, w->shape[2], w->shape[3], node->args[0],
                       node->args[1]);
    deliver(dx, dx_fresh, gx, x->size);
    deliver(dw, false, gw, w->size);
    deliver(db, false, gb, (size_t)O);
}

/* core/ops/pool.c — max pooling, average pooling, global average pooling: the reference
 * kernels and the ops. (The fast tier's 2x2 max-pool is core/fast/pool.c.)
 *
 * Shapes: x (N, C, H, W); the windowed pools give y (N, C, Ho, Wo) with
 * Ho = (H - k) / s + 1, Wo = (W - k) / s + 1: no padding, every k x k window lies inside
 * the image (trailing rows and columns a window cannot reach are ignored). Windows may
 * overlap (s < k). Every (n, c) plane is pooled independently, so the kernels see the
 * batch and channel axes as one axis of NC = N C planes.
 */
#include <stdint.h>
#include <string.h>

#include "../kernels.h"
#include "../ops_image.h"
#include "reference.h"

static int pool_out(int len, int k, int s) { return (len - k) / s + 1; }

static void pool_check(const em_tensor *x, int k, int s, const char *why) {
    EM_ASSERT_MSG(x->ndim == 4, why);
    EM_ASSERT_MSG(k >= 1 && s >= 1, why);
    EM_ASSERT_MSG(x->shape[2] >= k && x->shape[3] >= k, why);
    /* plane offsets are int (and int32 in the argmax) */
    EM_ASSERT_MSG((size_t)x->shape[2] * x->shape[3] <= INT32_MAX, why);
}

/* ---- maxpool2d: y[n,c,i,j] = max_{p,q<k} x[n,c, i*s+p, j*s+q] -----------------------
 * y: (NC, Ho, Wo)   which: (NC, Ho, Wo), the winner's offset h*W + v in its (H, W) plane
 * x: (NC, H, W) */

void em_ref_maxpool(em_real *y, int32_t *which, const em_real *x, const em_pool_geom *g) {
    const int H = g->H, W = g->W, Ho = g->Ho, Wo = g->Wo, k = g->k, s = g->stride;
    for (int nc = 0; nc < g->NC; nc++) {
        const em_real *xp = x + (size_t)nc * H * W;        /* (H, W)   */
        em_real *yp = y + (size_t)nc * Ho * Wo;            /* (Ho, Wo) */
        int32_t *ap = which + (size_t)nc * Ho * Wo;        /* (Ho, Wo) */
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Wo; j++) {
                int32_t best = (i * s) * W + j * s;
                em_real m = xp[best];
                for (int p = 0; p < k; p++)
                    for (int q = 0; q < k; q++) {
                        int32_t at = (i * s + p) * W + (j * s + q);
                        em_real v = xp[at];
                        /* strictly greater: ties keep the first maximum. A NaN wins over
                         * any number, so a diverged activation is not hidden. */
                        if (v > m || (v != v && m == m)) {
                            m = v;
                            best = at;
                        }
                    }
                yp[i * Wo + j] = m;
                ap[i * Wo + j] = best;
            }
    }
}

/* dx[n,c, which[n,c,i,j]] += dy[n,c,i,j]: only the maximum moved y. (Not add: a fresh dx
 * is zeroed first, as windows may overlap and share a winner.) */
void em_ref_maxpool_backward(em_real *dx, bool add, const em_real *dy, const int32_t *which,
                             const em_pool_geom *g) {
    const size_t HW = (size_t)g->H * g->W, P = (size_t)g->Ho * g->Wo;
    if (!add) memset(dx, 0, (size_t)g->NC * HW * sizeof *dx);
    for (int nc = 0; nc < g->NC; nc++) {
        em_real *dxp = dx + (size_t)nc * HW;
        const em_real *dyp = dy + (size_t)nc * P;
        const int32_t *ap = which + (size_t)nc * P;
        for (size_t t = 0; t < P; t++) dxp[ap[t]] += dyp[t];
    }
}

/* node->saved: `which` of the tape's maxpool kernel; args: k, stride */
static void maxpool_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *y = node->output;
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    if (!dx) return;  /* out of memory: the tape is marked failed */
    em_pool_geom g = {x->shape[0] * x->shape[1], x->shape[2], x->shape[3], node->args[0],
                      node->args[1], y->shape[2], y->shape[3]};
    tape->kernels->maxpool_backward(dx, !fresh, y->grad, node->saved, &g);
}

em_tensor *em_maxpool2d(em_tape *tape, em_tensor *x, int k, int stride) {
    if (!em_tape_ok(tape)) return NULL;
    pool_check(x, k, stride, "em_maxpool2d: x (N, C, H, W), k, stride >= 1, H, W >= k");
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    em_pool_geom g = {N * C, H, W, k, stride, pool_out(H, k, stride), pool_out(W, k, stride)};
    em_tensor *y = em_tape_tensor(tape, 4, (int[]){N, C, g.Ho, g.Wo});
    if (!y) return NULL;
    int32_t *which = em_tape_alloc(tape, y->size * sizeof *which);
    if (!which) return NULL;
    tape->kernels->maxpool(y->data, which, x->data, &g);
    em_node *node = em_tape_record(tape, EM_OP_MAXPOOL2D, y, maxpool_node_backward, 1, x);
    if (node) {
        node->saved = which;
        node->args[0] = k;
        node->args[1] = stride;
    }
    return y;
}

/* ---- avgpool2d: y[n,c,i,j] = (1/k^2) sum_{p,q<k} x[n,c, i*s+p, j*s+q] ----------------
 * y: (NC, Ho, Wo)   x: (NC, H, W) */

static void avgpool_forward(em_real *y, const em_real *x, int NC, int H, int W, int k, int s,
                            int Ho, int Wo) {
    const double inv = 1.0 / ((double)k * k);
    for (int nc = 0; nc < NC; nc++) {
        const em_real *xp = x + (size_t)nc * H * W;
        em_real *yp = y + (size_t)nc * Ho * Wo;
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Wo; j++) {
                double acc = 0.0;
                for (int p = 0; p < k; p++)
                    for (int q = 0; q < k; q++) acc += xp[(i * s + p) * W + (j * s + q)];
                yp[i * Wo + j] = (em_real)(acc * inv);
            }
    }
}

/* dx[n,c, i*s+p, j*s+q] += dy[n,c,i,j] / k^2 for every p, q < k (overlaps add up) */
static void avgpool_backward(em_real *dx, const em_real *dy, int NC, int H, int W, int k,
                             int s, int Ho, int Wo) {
    const em_real inv = (em_real)(1.0 / ((double)k * k));
    for (int nc = 0; nc < NC; nc++) {
        em_real *dxp = dx + (size_t)nc * H * W;
        const em_real *dyp = dy + (size_t)nc * Ho * Wo;
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Wo; j++) {
                em_real g = dyp[i * Wo + j] * inv;
                for (int p = 0; p < k; p++)
                    for (int q = 0; q < k; q++) dxp[(i * s + p) * W + (j * s + q)] += g;
            }
    }
}

static void avgpool_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *y = node->output;
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;  /* out of memory: the tape is marked failed */
    avgpool_backward(dx, y->grad, x->shape[0] * x->shape[1],
                     x->shape[2], x->shape[3], node->args[0], node->args[1], y->shape[2],
                     y->shape[3]);
}

em_tensor *em_avgpool2d(em_tape *tape, em_tensor *x, int k, int stride) {
    if (!em_tape_ok(tape)) return NULL;
    pool_check(x, k, stride, "em_avgpool2d: x (N, C, H, W), k, stride >= 1, H, W >= k");
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int Ho = pool_out(H, k, stride), Wo = pool_out(W, k, stride);
    em_tensor *y = em_tape_tensor(tape, 4, (int[]){N, C, Ho, Wo});
    if (!y) return NULL;
    avgpool_forward(y->data, x->data, N * C, H, W, k, stride, Ho, Wo);
    em_node *node = em_tape_record(tape, EM_OP_AVGPOOL2D, y, avgpool_node_backward, 1, x);
    if (node) {
        node->args[0] = k;
        node->args[1] = stride;
    }
    return y;
}

/* ---- global_avgpool: y[n,c] = (1/(H W)) sum_{h,v} x[n,c,h,v] ----------------------------
 * y: (NC)   x: (NC, HW) */

static void global_avgpool_forward(em_real *y, const em_real *x, int NC, size_t HW) {
    for (int nc = 0; nc < NC; nc++) {
        const em_real *xp = x + (size_t)nc * HW;
        double acc = 0.0;
        for (size_t t = 0; t < HW; t++) acc += xp[t];
        y[nc] = (em_real)(acc / (double)HW);
    }
}

/* dx[n,c,h,v] += dy[n,c] / (H W) */
static void global_avgpool_backward(em_real *dx, const em_real *dy, int NC, size_t HW) {
    for (int nc = 0; nc < NC; nc++) {
        em_real *dxp = dx + (size_t)nc * HW;
        em_real g = (em_real)(dy[nc] / (double)HW);
        for (size_t t = 0; t < HW; t++) dxp[t] += g;
    }
}

static void global_avgpool_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *y = node->output;
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;  /* out of memory: the tape is marked failed */
    global_avgpool_backward(dx, y->grad, x->shape[0] * x->shape[1],
                            (size_t)x->shape[2] * x->shape[3]);
}

em_tensor *em_global_avgpool(em_tape *tape, em_tensor *x) {
    if (!em_tape_ok(tape)) return NULL;
    EM_ASSERT_MSG(x->ndim == 4 && x->shape[2] >= 1 && x->shape[3] >= 1,
                  "em_global_avgpool: x (N, C, H, W) with H, W >= 1");
    int N = x->shape[0], C = x->shape[1];
    em_tensor *y = em_tape_tensor(tape, 2, (int[]){N, C});
    if (!y) return NULL;
    global_avgpool_forward(y->data, x->data, N * C, (size_t)x->shape[2] * x->shape[3]);
    em_tape_record(tape, EM_OP_GLOBAL_AVGPOOL, y, global_avgpool_node_backward, 1, x);
    return y;
}

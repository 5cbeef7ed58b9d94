/* core/ops/conv.c — 2-D convolution, the reference: im2col and one matrix product per
 * image, and the op.
 *
 *   y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n,c, i*s+p-pad, j*s+q-pad]
 *
 * Shapes: x (N, C, H, W), w (O, C, kh, kw), b (O), y (N, O, Ho, Wo) with
 * Ho = (H + 2 pad - kh) / s + 1, Wo = (W + 2 pad - kw) / s + 1; x reads 0 outside the image.
 *
 * The lowering. With K = C kh kw filter taps and P = Ho Wo output pixels per image, copy
 * the input pixel that each tap of each output reads into a matrix ("im2col"):
 *   cols[(c,p,q)][(i,j)] = x[n,c, i*s+p-pad, j*s+q-pad]              (K, P)
 * and image n's output is one matrix product, in y's own layout:
 *   y_n = w cols                                     (O, K) x (K, P) = (O, P)
 * Backward is the product and the copy differentiated:
 *   db[o] += sum_{i,j} dy_n[o,i,j]
 *   dw    += dy_n cols^T                             (O, P) x (P, K) = (O, K)
 *   dcols  = w^T dy_n                                (K, O) x (O, P) = (K, P)
 *   dx_n  += col2im(dcols)    each entry added back onto the pixel im2col copied it from
 * The products are em_gemm (one OpenBLAS call). core/ops/conv_direct.c is the same
 * convolution as seven plain loops (the definition the tests hold this to);
 * core/fast/conv.c the fast tier's (threads, Winograd, fused ReLU and pooling).
 */
#include <limits.h>
#include <string.h>

#include "../gemm.h"
#include "../kernels.h"
#include "../ops_image.h"
#include "reference.h"

/* the pixel of x_n (C, H, W) that tap (c, p, q) of output (i, j) reads, or -1 in the
 * padding */
static long tap_source(const em_conv_geom *g, int c, int p, int q, int i, int j) {
    int h = i * g->stride + p - g->pad, v = j * g->stride + q - g->pad;
    if (h < 0 || h >= g->H || v < 0 || v >= g->W) return -1;
    return ((long)c * g->H + h) * g->W + v;
}

/* cols (K, P) = im2col(x_n) */
static void im2col(em_real *cols, const em_real *xn, const em_conv_geom *g) {
    em_real *at = cols;
    for (int c = 0; c < g->C; c++)
        for (int p = 0; p < g->kh; p++)
            for (int q = 0; q < g->kw; q++)
                for (int i = 0; i < g->Ho; i++)
                    for (int j = 0; j < g->Wo; j++) {
                        long src = tap_source(g, c, p, q, i, j);
                        *at++ = src < 0 ? 0 : xn[src];
                    }
}

/* dx_n (C, H, W) += col2im(dcols (K, P)): im2col's adjoint; where windows overlap, the
 * contributions add up */
static void col2im(em_real *dxn, const em_real *dcols, const em_conv_geom *g) {
    const em_real *at = dcols;
    for (int c = 0; c < g->C; c++)
        for (int p = 0; p < g->kh; p++)
            for (int q = 0; q < g->kw; q++)
                for (int i = 0; i < g->Ho; i++)
                    for (int j = 0; j < g->Wo; j++, at++) {
                        long src = tap_source(g, c, p, q, i, j);
                        if (src >= 0) dxn[src] += *at;
                    }
}

/* y = w im2col(x_n) + b for every image */
bool em_ref_conv2d(em_tape *tape, em_real *y, const em_real *x, const em_real *w,
                   const em_real *b, const em_conv_geom *g) {
    const int K = g->C * g->kh * g->kw, P = g->Ho * g->Wo;
    em_real *cols = em_tape_alloc(tape, (size_t)K * P * sizeof *cols);  /* (K, P) */
    if (!cols) return false;
    for (int n = 0; n < g->N; n++) {
        em_real *yn = y + (size_t)n * g->O * P;                           /* (O, P) */
        im2col(cols, x + (size_t)n * g->C * g->H * g->W, g);
        em_gemm(false, false, g->O, P, K, 1, w, K, cols, P, 0, yn, P);   /* y_n = w cols */
        for (int o = 0; b && o < g->O; o++)
            for (int t = 0; t < P; t++) yn[(size_t)o * P + t] += b[o];
    }
    return true;
}

/* db, dw += and dx (+)= per image, as in the lowering above */
bool em_ref_conv2d_backward(em_tape *tape, em_real *dx, bool add, em_real *dw, em_real *db,
                            const em_real *dy, const em_real *x, const em_real *w,
                            const em_conv_geom *g) {
    const int K = g->C * g->kh * g->kw, P = g->Ho * g->Wo;
    const size_t CHW = (size_t)g->C * g->H * g->W;
    em_real *cols = em_tape_alloc(tape, 2 * (size_t)K * P * sizeof *cols);
    if (!cols) return false;
    em_real *dcols = cols + (size_t)K * P;                               /* (K, P) */
    for (int n = 0; n < g->N; n++) {
        const em_real *dyn = dy + (size_t)n * g->O * P;                  /* (O, P) */
        for (int o = 0; db && o < g->O; o++) {
            double sum = 0;
            for (int t = 0; t < P; t++) sum += dyn[(size_t)o * P + t];
            db[o] += (em_real)sum;
        }
        if (dw) {                                                /* dw += dy_n cols^T */
            im2col(cols, x + n * CHW, g);
            em_gemm(false, true, g->O, K, P, 1, dyn, P, cols, P, 1, dw, K);
        }
        if (dx) {                                     /* dx_n += col2im(w^T dy_n) */
            em_gemm(true, false, K, P, g->O, 1, w, K, dyn, P, 0, dcols, P);
            if (!add) memset(dx + n * CHW, 0, CHW * sizeof *dx);  /* a fresh buffer */
            col2im(dx + n * CHW, dcols, g);
        }
    }
    return true;
}

/* ---- the op ------------------------------------------------------------------------ */

em_conv_geom em_conv_geometry(const em_tensor *x, const em_tensor *w, const em_tensor *b,
                              int stride, int pad) {
    EM_ASSERT_MSG(x->ndim == 4 && w->ndim == 4, "em_conv2d: x (N, C, H, W), w (O, C, kh, kw)");
    EM_ASSERT_MSG(x->shape[1] == w->shape[1], "em_conv2d: x and w disagree on channels C");
    EM_ASSERT_MSG(!b || (b->ndim == 1 && b->shape[0] == w->shape[0]), "em_conv2d: b (O)");
    EM_ASSERT_MSG(stride >= 1 && pad >= 0, "em_conv2d: stride >= 1, pad >= 0");
    EM_ASSERT_MSG(w->shape[2] >= 1 && w->shape[3] >= 1, "em_conv2d: empty kernel");
    EM_ASSERT_MSG(x->shape[2] + 2 * pad >= w->shape[2] && x->shape[3] + 2 * pad >= w->shape[3],
                  "em_conv2d: kernel larger than the padded input");
    em_conv_geom g = {.N = x->shape[0], .C = x->shape[1], .H = x->shape[2], .W = x->shape[3],
                      .O = w->shape[0], .kh = w->shape[2], .kw = w->shape[3],
                      .stride = stride, .pad = pad};
    g.Ho = (g.H + 2 * pad - g.kh) / stride + 1;
    g.Wo = (g.W + 2 * pad - g.kw) / stride + 1;
    EM_ASSERT_MSG((size_t)g.C * g.kh * g.kw <= INT_MAX && (size_t)g.Ho * g.Wo <= INT_MAX,
                  "em_conv2d: im2col matrix too large for a GEMM");
    return g;
}

/* node->args: stride, pad */
static void conv2d_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *w = node->inputs[1], *y = node->output;
    em_conv_geom g = em_conv_geometry(x, w, node->inputs[2], node->args[0], node->args[1]);
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    em_real *dw = em_node_grad(tape, node, 1), *db = em_node_grad(tape, node, 2);
    if (!em_tape_ok(tape)) return;
    tape->kernels->conv2d_backward(tape, dx, !fresh, dw, db, y->grad, x->data, w->data, &g);
}

em_tensor *em_conv2d(em_tape *tape, em_tensor *x, em_tensor *w, em_tensor *b, int stride,
                     int pad) {
    if (!em_tape_ok(tape)) return NULL;
    em_conv_geom g = em_conv_geometry(x, w, b, stride, pad);
    em_tensor *y = em_tape_tensor(tape, 4, (int[]){g.N, g.O, g.Ho, g.Wo});
    if (!y || !tape->kernels->conv2d(tape, y->data, x->data, w->data, b ? b->data : NULL, &g))
        return NULL;
    em_node *node = em_tape_record(tape, EM_OP_CONV2D, y, conv2d_node_backward, 3, x, w, b);
    if (node) {
        node->args[0] = stride;
        node->args[1] = pad;
    }
    return y;
}

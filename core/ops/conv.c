/* core/ops/conv.c — 2-D convolution: im2col + one GEMM (the fast path), and the direct
 * seven-loop convolution beside it (the reference).
 *
 *   y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n,c, i*s+p-pad, j*s+q-pad]
 *
 * Shapes: x (N, C, H, W), w (O, C, kh, kw), b (O), y (N, O, Ho, Wo) with
 * Ho = (H + 2 pad - kh) / s + 1, Wo = (W + 2 pad - kw) / s + 1; x reads 0 outside the image.
 *
 * The fast path lowers the convolution to a matrix product. With K = C kh kw (one row per
 * filter tap) and P = N Ho Wo (one column per output pixel of the whole batch),
 *   cols[(c,p,q)][(n,i,j)] = x[n,c, i*s+p-pad, j*s+q-pad]     (K, P)    "im2col"
 *   ycols = w cols                                              (O, K) x (K, P) = (O, P)
 * and y is ycols with its axes reordered from (O, N, Ho Wo) to (N, O, Ho Wo), plus b.
 * Backward is the same product differentiated (dY = dy reordered to (O, P)):
 *   dw += dY cols^T,   dcols = w^T dY,   dx += col2im(dcols)   (col2im adds every column
 * entry back onto the pixel im2col copied it from).
 */
#include <limits.h>
#include <string.h>

#include "../gemm.h"
#include "../ops_image.h"

/* Everything about one convolution's geometry, derived once from the shapes. */
typedef struct conv_geom {
    int N, C, H, W;   /* input x                         */
    int O, kh, kw;    /* filters w                       */
    int s, pad;       /* stride and zero padding         */
    int Ho, Wo;       /* output y                        */
    int K;            /* C kh kw: rows of cols           */
    int P;            /* N Ho Wo: columns of cols        */
} conv_geom;

static conv_geom conv_geometry(int N, int C, int H, int W, int O, int kh, int kw, int s,
                               int pad) {
    conv_geom g = {.N = N, .C = C, .H = H, .W = W, .O = O, .kh = kh, .kw = kw, .s = s,
                   .pad = pad};
    g.Ho = (H + 2 * pad - kh) / s + 1;
    g.Wo = (W + 2 * pad - kw) / s + 1;
    size_t K = (size_t)C * kh * kw, P = (size_t)N * g.Ho * g.Wo;
    EM_ASSERT_MSG(K <= INT_MAX && P <= INT_MAX, "em_conv2d: im2col matrix too large for a GEMM");
    g.K = (int)K;
    g.P = (int)P;
    return g;
}

/* The output positions j in [*lo, *hi) whose input coordinate j*s + off lies in [0, len):
 * outside that range im2col reads padding. off = q - pad for filter tap q. */
static void valid_range(int off, int s, int len, int out, int *lo, int *hi) {
    int a = off >= 0 ? 0 : (-off + s - 1) / s;         /* first j with j*s + off >= 0  */
    int b = len - 1 - off < 0 ? 0 : (len - 1 - off) / s + 1;  /* first j past len - 1  */
    *lo = a < out ? a : out;
    *hi = b < out ? b : out;
    if (*hi < *lo) *hi = *lo;
}

/* ---- im2col / col2im -----------------------------------------------------------------
 * cols: (K, P), row r = (c kh + p) kw + q, column (n Ho + i) Wo + j.  x, dx: (N, C, H, W). */

/* cols[(c,p,q)][(n,i,j)] = x[n,c, i*s+p-pad, j*s+q-pad], 0 outside the image */
static void im2col(em_real *cols, const em_real *x, const conv_geom *g) {
    const size_t P = (size_t)g->P, HW = (size_t)g->H * g->W;
    for (int c = 0; c < g->C; c++)
        for (int p = 0; p < g->kh; p++)
            for (int q = 0; q < g->kw; q++) {
                em_real *row = cols + ((size_t)(c * g->kh + p) * g->kw + q) * P;
                int jlo, jhi;
                valid_range(q - g->pad, g->s, g->W, g->Wo, &jlo, &jhi);
                for (int n = 0; n < g->N; n++) {
                    const em_real *xc = x + ((size_t)n * g->C + c) * HW;  /* (H, W) */
                    for (int i = 0; i < g->Ho; i++) {
                        em_real *dst = row + ((size_t)n * g->Ho + i) * g->Wo;  /* (Wo) */
                        int h = i * g->s + p - g->pad;
                        if (h < 0 || h >= g->H) {
                            memset(dst, 0, (size_t)g->Wo * sizeof *dst);
                            continue;
                        }
                        const em_real *src = xc + (size_t)h * g->W;  /* (W) */
                        for (int j = 0; j < jlo; j++) dst[j] = 0;
                        for (int j = jlo; j < jhi; j++) dst[j] = src[j * g->s + q - g->pad];
                        for (int j = jhi; j < g->Wo; j++) dst[j] = 0;
                    }
                }
            }
}

/* dx[n,c, i*s+p-pad, j*s+q-pad] += dcols[(c,p,q)][(n,i,j)] for every entry inside the
 * image: the adjoint of im2col (overlapping windows add up). */
static void col2im(em_real *dx, const em_real *dcols, const conv_geom *g) {
    const size_t P = (size_t)g->P, HW = (size_t)g->H * g->W;
    for (int c = 0; c < g->C; c++)
        for (int p = 0; p < g->kh; p++)
            for (int q = 0; q < g->kw; q++) {
                const em_real *row = dcols + ((size_t)(c * g->kh + p) * g->kw + q) * P;
                int jlo, jhi;
                valid_range(q - g->pad, g->s, g->W, g->Wo, &jlo, &jhi);
                for (int n = 0; n < g->N; n++) {
                    em_real *dxc = dx + ((size_t)n * g->C + c) * HW;  /* (H, W) */
                    for (int i = 0; i < g->Ho; i++) {
                        int h = i * g->s + p - g->pad;
                        if (h < 0 || h >= g->H) continue;
                        const em_real *src = row + ((size_t)n * g->Ho + i) * g->Wo;  /* (Wo) */
                        em_real *dst = dxc + (size_t)h * g->W;  /* (W) */
                        for (int j = jlo; j < jhi; j++) dst[j * g->s + q - g->pad] += src[j];
                    }
                }
            }
}

/* ---- conv2d, the fast path -------------------------------------------------------------
 * y: (N, O, Ho, Wo)   cols: (K, P) saved for backward   ycols: (O, P) work
 * x: (N, C, H, W)     w: (O, K) = (O, C, kh, kw)        b: (O) or NULL */

static void conv2d_forward(em_real *y, em_real *cols, em_real *ycols, const em_real *x,
                           const em_real *w, const em_real *b, const conv_geom *g) {
    const size_t P = (size_t)g->P, HoWo = (size_t)g->Ho * g->Wo;
    im2col(cols, x, g);
    em_gemm(false, false, g->O, g->P, g->K, 1, w, g->K, cols, g->P, 0, ycols, g->P);
    /* (O, N, Ho Wo) -> (N, O, Ho Wo), adding the bias on the way */
    for (int n = 0; n < g->N; n++)
        for (int o = 0; o < g->O; o++) {
            const em_real *src = ycols + (size_t)o * P + (size_t)n * HoWo;
            em_real *dst = y + ((size_t)n * g->O + o) * HoWo;
            em_real bo = b ? b[o] : 0;
            for (size_t k = 0; k < HoWo; k++) dst[k] = src[k] + bo;
        }
}

/* db[o] += sum_{n,i,j} dy[n,o,i,j]
 * dY = dy as (O, P);   dw += dY cols^T;   dcols = w^T dY;   dx += col2im(dcols).
 * dx, dw, db may be NULL (no gradient wanted). cols holds im2col(x) on entry; when dx is
 * wanted it is overwritten with dcols (backward runs once per graph, and dw has been
 * taken by then), which saves a (K, P) buffer per convolution. dycols: (O, P) work. */
static void conv2d_backward(em_real *dx, em_real *dw, em_real *db, const em_real *dy,
                            em_real *cols, const em_real *w, em_real *dycols,
                            const conv_geom *g) {
    const size_t P = (size_t)g->P, HoWo = (size_t)g->Ho * g->Wo;
    if (db) {
        for (int o = 0; o < g->O; o++) {
            double acc = 0.0;
            for (int n = 0; n < g->N; n++) {
                const em_real *d = dy + ((size_t)n * g->O + o) * HoWo;
                for (size_t k = 0; k < HoWo; k++) acc += d[k];
            }
            db[o] += (em_real)acc;
        }
    }
    if (!dx && !dw) return;
    for (int n = 0; n < g->N; n++)  /* (N, O, Ho Wo) -> (O, N, Ho Wo) */
        for (int o = 0; o < g->O; o++)
            memcpy(dycols + (size_t)o * P + (size_t)n * HoWo,
                   dy + ((size_t)n * g->O + o) * HoWo, HoWo * sizeof *dy);
    if (dw) em_gemm(false, true, g->O, g->K, g->P, 1, dycols, g->P, cols, g->P, 1, dw, g->K);
    if (dx) {
        em_gemm(true, false, g->K, g->P, g->O, 1, w, g->K, dycols, g->P, 0, cols, g->P);
        col2im(dx, cols, g);
    }
}

/* node->saved: cols (K, P) followed by the (O, P) work buffer, one arena block.
 * node->args: stride, pad. */
static void conv2d_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *w = node->inputs[1], *y = node->output;
    conv_geom g = conv_geometry(x->shape[0], x->shape[1], x->shape[2], x->shape[3],
                                w->shape[0], w->shape[2], w->shape[3], node->args[0],
                                node->args[1]);
    em_real *cols = node->saved, *work = cols + (size_t)g.K * g.P;
    em_real *db = node->inputs[2] ? em_node_grad(tape, node, 2) : NULL;
    conv2d_backward(em_node_grad(tape, node, 0), em_node_grad(tape, node, 1), db, y->grad,
                    cols, w->data, work, &g);
}

em_tensor *em_conv2d(em_tape *tape, em_tensor *x, em_tensor *w, em_tensor *b, int stride,
                     int pad) {
    if (!em_tape_ok(tape)) return NULL;
    EM_ASSERT_MSG(x->ndim == 4 && w->ndim == 4, "em_conv2d: x (N, C, H, W), w (O, C, kh, kw)");
    EM_ASSERT_MSG(x->shape[1] == w->shape[1], "em_conv2d: x and w disagree on channels C");
    EM_ASSERT_MSG(!b || (b->ndim == 1 && b->shape[0] == w->shape[0]), "em_conv2d: b (O)");
    EM_ASSERT_MSG(stride >= 1 && pad >= 0, "em_conv2d: stride >= 1, pad >= 0");
    EM_ASSERT_MSG(w->shape[2] >= 1 && w->shape[3] >= 1, "em_conv2d: empty kernel");
    EM_ASSERT_MSG(x->shape[2] + 2 * pad >= w->shape[2] && x->shape[3] + 2 * pad >= w->shape[3],
                  "em_conv2d: kernel larger than the padded input");
    conv_geom g = conv_geometry(x->shape[0], x->shape[1], x->shape[2], x->shape[3],
                                w->shape[0], w->shape[2], w->shape[3], stride, pad);
    em_tensor *y = em_tape_tensor(tape, 4, (int[]){g.N, g.O, g.Ho, g.Wo});
    if (!y) return NULL;
    em_real *cols = em_tape_alloc(tape, ((size_t)g.K + g.O) * g.P * sizeof *cols);
    if (!cols) return NULL;
    conv2d_forward(y->data, cols, cols + (size_t)g.K * g.P, x->data, w->data,
                   b ? b->data : NULL, &g);
    em_node *node = em_tape_record(tape, EM_OP_CONV2D, y, conv2d_node_backward, 3, x, w, b);
    if (node) {
        node->saved = cols;
        node->args[0] = stride;
        node->args[1] = pad;
    }
    return y;
}

/* ---- conv2d, the reference ---------------------------------------------------------------
 * Plain loops on the definition, no im2col, no GEMM, no shared code with the fast path.
 * y: (N, O, Ho, Wo)  x: (N, C, H, W)  w: (O, C, kh, kw)  b: (O) or NULL */

void em_conv2d_ref_forward(em_real *y, const em_real *x, const em_real *w, const em_real *b,
                           int N, int C, int H, int W, int O, int kh, int kw, int s,
                           int pad) {
    int Ho = (H + 2 * pad - kh) / s + 1, Wo = (W + 2 * pad - kw) / s + 1;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            for (int i = 0; i < Ho; i++)
                for (int j = 0; j < Wo; j++) {
                    double acc = b ? b[o] : 0.0;
                    for (int c = 0; c < C; c++)
                        for (int p = 0; p < kh; p++)
                            for (int q = 0; q < kw; q++) {
                                int h = i * s + p - pad, v = j * s + q - pad;
                                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                                acc += (double)w[(((size_t)o * C + c) * kh + p) * kw + q] *
                                       x[(((size_t)n * C + c) * H + h) * W + v];
                            }
                    y[(((size_t)n * O + o) * Ho + i) * Wo + j] = (em_real)acc;
                }
}

/* db[o]       += sum_{n,i,j} dy[n,o,i,j]
 * dw[o,c,p,q] += sum_{n,i,j} dy[n,o,i,j] x[n,c, i*s+p-pad, j*s+q-pad]
 * dx[n,c,h,v] += sum_{o,p,q} w[o,c,p,q] dy[n,o,i,j]  where i*s+p-pad = h, j*s+q-pad = v
 * Each is gathered per output element (a transposed convolution for dx), so no formula
 * shares code with col2im. */
void em_conv2d_ref_backward(em_real *dx, em_real *dw, em_real *db, const em_real *dy,
                            const em_real *x, const em_real *w, int N, int C, int H, int W,
                            int O, int kh, int kw, int s, int pad) {
    int Ho = (H + 2 * pad - kh) / s + 1, Wo = (W + 2 * pad - kw) / s + 1;
#define DY(n, o, i, j) dy[(((size_t)(n) * O + (o)) * Ho + (i)) * Wo + (j)]
    for (int o = 0; db && o < O; o++) {
        double acc = 0.0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < Ho; i++)
                for (int j = 0; j < Wo; j++) acc += DY(n, o, i, j);
        db[o] += (em_real)acc;
    }
    for (int o = 0; dw && o < O; o++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < kh; p++)
                for (int q = 0; q < kw; q++) {
                    double acc = 0.0;
                    for (int n = 0; n < N; n++)
                        for (int i = 0; i < Ho; i++)
                            for (int j = 0; j < Wo; j++) {
                                int h = i * s + p - pad, v = j * s + q - pad;
                                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                                acc += (double)DY(n, o, i, j) *
                                       x[(((size_t)n * C + c) * H + h) * W + v];
                            }
                    dw[(((size_t)o * C + c) * kh + p) * kw + q] += (em_real)acc;
                }
    for (int n = 0; dx && n < N; n++)
        for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++)
                for (int v = 0; v < W; v++) {
                    double acc = 0.0;
                    for (int o = 0; o < O; o++)
                        for (int p = 0; p < kh; p++)
                            for (int q = 0; q < kw; q++) {
                                int hi = h + pad - p, vj = v + pad - q;  /* = i*s, j*s */
                                if (hi < 0 || vj < 0 || hi % s || vj % s) continue;
                                int i = hi / s, j = vj / s;
                                if (i >= Ho || j >= Wo) continue;
                                acc += (double)w[(((size_t)o * C + c) * kh + p) * kw + q] *
                                       DY(n, o, i, j);
                            }
                    dx[(((size_t)n * C + c) * H + h) * W + v] += (em_real)acc;
                }
#undef DY
}

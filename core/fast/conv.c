/* core/fast/conv.c — the fast tier's 2-D convolution: the reference's im2col lowering
 * (core/ops/conv.c) with the images split across threads and ember's own GEMM, Winograd's
 * algorithm for 3x3 layers, and the fused Conv2d + ReLU (+ 2x2 max-pool) ops a Sequential's
 * plan uses. The tests hold it to the reference and to the seven loops of
 * core/ops/conv_direct.c (tests/test_tiers.c, tests/test_ops_conv.c).
 *
 *   y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n,c, i*s+p-pad, j*s+q-pad]
 *
 * Shapes: x (N, C, H, W), w (O, C, kh, kw), b (O), y (N, O, Ho, Wo) with
 * Ho = (H + 2 pad - kh) / s + 1, Wo = (W + 2 pad - kw) / s + 1; x reads 0 outside the image.
 *
 * The fast path lowers the convolution to matrix products, one image at a time. With
 * K = C kh kw (one row per filter tap) and HoWo output pixels per image,
 *   cols[(c,p,q)][(i,j)] = x[n,c, i*s+p-pad, j*s+q-pad]        (K, HoWo)   "im2col"
 *   y_n = w cols                                 (O, K) x (K, HoWo) = (O, HoWo)
 * which is image n of y in its own (N, O, Ho, Wo) layout; the images are split across
 * threads. Backward is the same product differentiated, per image:
 *   dw += dy_n cols^T,   dcols = w^T dy_n,   dx_n += col2im(dcols)   (col2im adds every
 * column entry back onto the pixel im2col copied it from). dw is computed transposed,
 * dw^T += cols dy_n^T, so the operand the product transposes is the small dy_n.
 *
 * em_fast_conv2d_relu is y = max(0, conv(x)) as one op: the ReLU is applied in the pass that
 * adds the bias, and backward masks dy_n (where y_n > 0) into the thread's scratch before
 * the pass that sums the bias gradient and the image's two products. Every value equals
 * em_relu(em_conv2d(...))'s bit for bit: the same expressions on the same values.
 *
 * em_fast_conv2d_relu_pool adds a 2x2, stride-2 max-pool: y_n is made in the thread's scratch
 * and pooled from there by pool.c's own kernels (maxpool2x2.h), which also keep each
 * window's winner. Backward masks the pooled dy_n by the ReLU (a window's winner passed
 * the ReLU exactly when the pooled value did: it is that value) and spreads it to the
 * winners in scratch, the rest 0: the dy_n em_relu's backward would have made from
 * em_maxpool2d's, value for value.
 *
 * A 3x3, stride-1, pad-1 layer of 16 or more channels in and out on an image of 16 x 16 or
 * more, or 14 or 8 wide (cifar-cnn's conv2-5, mnist-cnn's conv2), takes Winograd's F(2x2, 3x3)
 * instead (winograd.h): 2.25 times fewer multiplications, for y_n, for dx_n (the same
 * convolution of dy_n with the filters turned and transposed) and for dw (the algorithm's
 * adjoint: each block sums the transformed gradient (16, O, C), turned into dw at the
 * end). Small images go a group at a time (em_wino_group: 4 of mnist-cnn's 14 x 14).
 */
#include <limits.h>
#include <string.h>

#include "../gemm.h"
#include "../parallel.h"
#include "fast.h"
#include "maxpool2x2.h"
#include "simd.h"
#include "winograd.h"

/* Everything about one convolution's geometry, derived once from the shapes. */
typedef struct conv_geom {
    int N, C, H, W;   /* input x                         */
    int O, kh, kw;    /* filters w                       */
    int s, pad;       /* stride and zero padding         */
    int Ho, Wo;       /* output y                        */
    int K;            /* C kh kw: rows of cols           */
} conv_geom;

/* the table's geometry (em_conv_geometry checked it) with K */
static conv_geom conv_geometry(const em_conv_geom *e) {
    return (conv_geom){.N = e->N, .C = e->C, .H = e->H, .W = e->W, .O = e->O, .kh = e->kh,
                       .kw = e->kw, .s = e->stride, .pad = e->pad, .Ho = e->Ho, .Wo = e->Wo,
                       .K = e->C * e->kh * e->kw};
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

/* ---- im2col / col2im, one image at a time ---------------------------------------------
 * cols: (K, HoWo), row r = (c kh + p) kw + q, column i Wo + j.  x, dx: (C, H, W).
 *
 * A "same" convolution (stride 1, Wo == W: the 3x3, pad-1 layers of the model zoo) has a
 * shortcut: row (c,p,q) of cols is then plane c of x shifted by off = (p-pad) W + (q-pad),
 * so over its valid output rows [ilo, ihi) it is ONE flat copy, after which the border
 * columns j < jlo, j >= jhi (where the flat copy picked up a pixel of the neighbouring
 * row) are set to 0. Without it each row is Ho copies of Wo = 14 values: call overhead,
 * not copying, was most of im2col's time. col2im is the same flat walk, adding. */

/* the output rows [*ilo, *ihi) of filter row p whose input row i + p - pad is inside */
static void valid_rows(const conv_geom *g, int p, int *ilo, int *ihi) {
    int h0 = p - g->pad;
    *ilo = h0 >= 0 ? 0 : (-h0 < g->Ho ? -h0 : g->Ho);
    *ihi = g->H - h0 < g->Ho ? g->H - h0 : g->Ho;
    if (*ihi < *ilo) *ihi = *ilo;
}

/* the flat range [*tlo, *thi) of a row of cols whose source t + shift lies in [0, H W);
 * the entries cut off at either end are border columns (set to 0 / skipped anyway) */
static void flat_range(const conv_geom *g, int ilo, int ihi, long shift, long *tlo,
                       long *thi) {
    long HW = (long)g->H * g->W;
    *tlo = (long)ilo * g->W;
    *thi = (long)ihi * g->W;
    if (*tlo + shift < 0) *tlo = -shift;
    if (*thi + shift > HW) *thi = HW - shift;
    if (*thi < *tlo) *thi = *tlo;
}

/* cols[(c,p,q)][(i,j)] = x[c, i*s+p-pad, j*s+q-pad], 0 outside the image */
EM_KERNEL EM_NO_LIBCALLS static void im2col(em_real *restrict cols, const em_real *restrict x,
                             const conv_geom *g) {
    const size_t HoWo = (size_t)g->Ho * g->Wo, HW = (size_t)g->H * g->W;
    const int s = g->s, Wo = g->Wo;
    const bool same = s == 1 && g->Wo == g->W;
    for (int c = 0; c < g->C; c++)
        for (int p = 0; p < g->kh; p++)
            for (int q = 0; q < g->kw; q++) {
                em_real *row = cols + ((size_t)(c * g->kh + p) * g->kw + q) * HoWo;
                const em_real *xc = x + (size_t)c * HW;  /* (H, W) */
                int jlo, jhi, off = q - g->pad;
                valid_range(off, s, g->W, Wo, &jlo, &jhi);
                if (same) {
                    int ilo, ihi;
                    long tlo, thi, shift = (long)(p - g->pad) * g->W + off;
                    valid_rows(g, p, &ilo, &ihi);
                    flat_range(g, ilo, ihi, shift, &tlo, &thi);
                    for (long t = 0; t < tlo; t++) row[t] = 0;
                    for (long t = tlo; t < thi; t++) row[t] = xc[t + shift];
                    for (long t = thi; t < (long)HoWo; t++) row[t] = 0;
                    for (int i = ilo; i < ihi; i++) {
                        for (int j = 0; j < jlo; j++) row[(size_t)i * Wo + j] = 0;
                        for (int j = jhi; j < Wo; j++) row[(size_t)i * Wo + j] = 0;
                    }
                    continue;
                }
                for (int i = 0; i < g->Ho; i++) {
                    em_real *dst = row + (size_t)i * Wo;  /* (Wo) */
                    int h = i * s + p - g->pad;
                    if (h < 0 || h >= g->H) {
                        for (int j = 0; j < Wo; j++) dst[j] = 0;
                        continue;
                    }
                    const em_real *src = xc + (size_t)h * g->W + off;  /* src[j*s] */
                    for (int j = 0; j < jlo; j++) dst[j] = 0;
                    if (s == 1)
                        for (int j = jlo; j < jhi; j++) dst[j] = src[j];
                    else
                        for (int j = jlo; j < jhi; j++) dst[j] = src[j * s];
                    for (int j = jhi; j < Wo; j++) dst[j] = 0;
                }
            }
}

/* dx[c, i*s+p-pad, j*s+q-pad] += dcols[(c,p,q)][(i,j)] for every entry inside the
 * image: the adjoint of im2col (overlapping windows add up). The same-convolution
 * shortcut first sets dcols' border columns to 0 (dcols is the caller's scratch), so the
 * flat walk adds nothing where a border entry lands on the neighbouring row. */
EM_KERNEL EM_NO_LIBCALLS static void col2im(em_real *restrict dx, em_real *restrict dcols,
                             const conv_geom *g) {
    const size_t HoWo = (size_t)g->Ho * g->Wo, HW = (size_t)g->H * g->W;
    const int s = g->s, Wo = g->Wo;
    const bool same = s == 1 && g->Wo == g->W;
    for (int c = 0; c < g->C; c++)
        for (int p = 0; p < g->kh; p++)
            for (int q = 0; q < g->kw; q++) {
                em_real *row = dcols + ((size_t)(c * g->kh + p) * g->kw + q) * HoWo;
                em_real *dxc = dx + (size_t)c * HW;  /* (H, W) */
                int jlo, jhi, off = q - g->pad;
                valid_range(off, s, g->W, Wo, &jlo, &jhi);
                if (same) {
                    int ilo, ihi;
                    long tlo, thi, shift = (long)(p - g->pad) * g->W + off;
                    valid_rows(g, p, &ilo, &ihi);
                    flat_range(g, ilo, ihi, shift, &tlo, &thi);
                    for (int i = ilo; i < ihi; i++) {
                        for (int j = 0; j < jlo; j++) row[(size_t)i * Wo + j] = 0;
                        for (int j = jhi; j < Wo; j++) row[(size_t)i * Wo + j] = 0;
                    }
                    for (long t = tlo; t < thi; t++) dxc[t + shift] += row[t];
                    continue;
                }
                for (int i = 0; i < g->Ho; i++) {
                    int h = i * s + p - g->pad;
                    if (h < 0 || h >= g->H) continue;
                    const em_real *src = row + (size_t)i * Wo;     /* (Wo) */
                    em_real *dst = dxc + (size_t)h * g->W + off;   /* dst[j*s] */
                    if (s == 1)
                        for (int j = jlo; j < jhi; j++) dst[j] += src[j];
                    else
                        for (int j = jlo; j < jhi; j++) dst[j * s] += src[j];
                }
            }
}

/* ---- conv2d, the fast path -------------------------------------------------------------
 * Image by image, the images split across threads: cols = im2col(x_n) (K, HoWo) in the
 * thread's own scratch, then y_n (O, HoWo) = w (O, K) cols, straight into y's layout.
 * cols are not kept for backward (K times the input is a lot of memory for a copy that
 * costs little to make again). y: (N, O, Ho, Wo), x: (N, C, H, W), w: (O, K), b: (O). */

/* threads a convolution's parallel loop uses, and so how many scratch sets it needs */
static int conv_threads(const conv_geom *g) {
    double macs = (double)g->N * g->O * g->K * g->Ho * g->Wo;
    int nt = em_threads();
    return macs < 200000.0 || g->N < 2 ? 1 : (nt < g->N ? nt : g->N);
}

/* y_n (O, HoWo) += b (b may be NULL); relu: then y_n = max(0, y_n), a NaN passing
 * through, as em_relu's forward */
EM_KERNEL static void bias_relu(em_real *restrict yn, const em_real *restrict b, int O,
                                size_t HoWo, bool relu) {
    for (int o = 0; o < O; o++) {
        em_real *r = yn + (size_t)o * HoWo, bo = b ? b[o] : 0;
        if (relu && b)
            for (size_t k = 0; k < HoWo; k++) {
                em_real v = r[k] + bo;
                r[k] = v > 0 || v != v ? v : 0;
            }
        else if (relu)
            for (size_t k = 0; k < HoWo; k++) r[k] = r[k] > 0 || r[k] != r[k] ? r[k] : 0;
        else if (b)
            for (size_t k = 0; k < HoWo; k++) r[k] += bo;
    }
}

/* What a convolution op does after the product: nothing more (em_conv2d), a ReLU
 * (em_fast_conv2d_relu), a ReLU and a 2x2 max-pool (em_fast_conv2d_relu_pool). */
typedef enum conv_fuse { FUSE_NONE, FUSE_RELU, FUSE_RELU_POOL } conv_fuse;

/* the layer takes the Winograd path (winograd.h) */
static bool conv_wino(const conv_geom *g) {
    return g->kh == 3 && g->kw == 3 && g->s == 1 && g->pad == 1 &&
           em_wino_applies(g->C, g->O, g->H, g->W);
}

/* images a call of the product takes: a group on the Winograd path (em_wino_group), else 1 */
static int conv_group(const conv_geom *g) {
    return conv_wino(g) ? em_wino_group(g->C, g->O, g->H, g->W) : 1;
}

/* y_n = w im2col(x_n) + b (relu: max(0, that)) for images n in [lo, hi), at most
 * conv_group of them; cols: (K, HoWo) scratch (with U, the Winograd filters, y_n = the
 * Winograd convolution, cols its scratch). With sel (em_fast_conv2d_relu_pool) the y_n are made
 * in yfull, (hi - lo) x (O, HoWo) scratch, and y, sel get their 2x2 max-pool, (O, HoWo / 4)
 * per image. */
static void conv2d_forward_images(em_real *y, int32_t *sel, em_real *cols, em_real *yfull,
                                  const em_real *x, const em_real *w, const em_real *U,
                                  const em_real *b, bool relu, const conv_geom *g, int lo,
                                  int hi) {
    const size_t HoWo = (size_t)g->Ho * g->Wo, CHW = (size_t)g->C * g->H * g->W;
    const size_t OHW = (size_t)g->O * HoWo, OP = (size_t)g->O * (HoWo / 4);
    em_real *ylo = sel ? yfull : y + (size_t)lo * OHW;  /* y_lo; y_n follow it */
    if (U)
        em_wino_images(ylo, false, x + lo * CHW, U, g->C, g->O, g->H, g->W, hi - lo, cols);
    for (int n = lo; n < hi; n++) {
        em_real *yn = ylo + (size_t)(n - lo) * OHW;
        if (!U) {
            im2col(cols, x + n * CHW, g);
            em_gemm_fast(false, false, g->O, (int)HoWo, g->K, 1, w, g->K, cols, (int)HoWo, 0, yn,
                    (int)HoWo);
        }
        if (b || relu) bias_relu(yn, b, g->O, HoWo, relu);
        if (sel)  /* row pairs of all O channels, one after the other */
            em_mp2_forward_rows(y + n * OP, sel + n * OP, yn, g->Wo, 0,
                                (size_t)g->O * (g->Ho / 2));
    }
}

/* Block t of nb holds images [t N / nb, (t + 1) N / nb). In forward the threads take
 * images one at a time as they come free, in backward blocks (below): each image's
 * output, each block's sums, are computed the same whichever thread takes them. With
 * nt = 1 there is no parallel region and the GEMMs themselves may use the threads
 * (core/gemm.c). */
static void split(int N, int t, int nb, int *lo, int *hi) {
    *lo = (int)((long)N * t / nb);
    *hi = (int)((long)N * (t + 1) / nb);
}

/* cols (K, HoWo), or the Winograd path's scratch where that is larger */
static size_t conv_cols_size(const conv_geom *g) {
    size_t cols = (size_t)g->K * g->Ho * g->Wo;
    size_t wino = conv_wino(g) ? em_wino_scratch(g->C, g->O, g->H, g->W) : 0;
    size_t wino_dx = conv_wino(g) ? em_wino_scratch(g->O, g->C, g->H, g->W) : 0;
    if (wino_dx > wino) wino = wino_dx;
    return wino > cols ? wino : cols;
}

/* forward scratch per thread: cols, and a group's y_n (O, HoWo) to pool from */
static size_t conv_fwd_scratch_per_thread(const conv_geom *g, conv_fuse fuse) {
    return conv_cols_size(g) +
           (fuse == FUSE_RELU_POOL ? (size_t)conv_group(g) * g->O * g->Ho * g->Wo : 0);
}

/* sel: NULL, or the pool's winners (em_fast_conv2d_relu_pool); U: NULL, or the Winograd
 * filters */
static void conv2d_forward(em_real *y, int32_t *sel, em_real *scratch, const em_real *x,
                           const em_real *w, const em_real *U, const em_real *b,
                           conv_fuse fuse, const conv_geom *g, int nt) {
    const size_t KHW = conv_cols_size(g), per = conv_fwd_scratch_per_thread(g, fuse);
    const bool relu = fuse != FUSE_NONE;
    /* groups of at most conv_group images, as many as a multiple of the threads where the
     * images allow it, split evenly: 64 images in groups of at most 5 are 14 groups of 4
     * or 5 (7 to a thread), not 12 of 5 and one of 4 (7 against 6) */
    const int grp = conv_group(g);
    int ng = (g->N + grp - 1) / grp;
    if (nt > 1) ng = (ng + nt - 1) / nt * nt < g->N ? (ng + nt - 1) / nt * nt : g->N;
    if (nt == 1) {
        for (int gi = 0; gi < ng; gi++) {
            int lo, hi;
            split(g->N, gi, ng, &lo, &hi);
            conv2d_forward_images(y, sel, scratch, scratch + KHW, x, w, U, b, relu, g, lo, hi);
        }
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        em_real *cols = scratch + em_thread_id() * per;
#pragma omp for schedule(dynamic, 1)
        for (int gi = 0; gi < ng; gi++) {
            int lo, hi;
            split(g->N, gi, ng, &lo, &hi);
            conv2d_forward_images(y, sel, cols, cols + KHW, x, w, U, b, relu, g, lo, hi);
        }
    }
}

/* dbt[o] += the sum of row o of dy_n (O, HoWo): the bias gradient of one image (its own
 * EM_KERNEL, so the inlined vector sum is compiled for each instruction set) */
EM_KERNEL static void bias_grad(double *restrict dbt, const em_real *restrict dyn, int O,
                                size_t HoWo) {
    for (int o = 0; o < O; o++) dbt[o] += em_run_sum(dyn + (size_t)o * HoWo, HoWo);
}

/* em_fast_conv2d_relu's backward mask: dym = dy where y > 0, else 0 (em_relu's backward into a
 * fresh buffer, on n values) */
EM_KERNEL static void relu_mask(em_real *restrict dym, const em_real *restrict dy,
                                const em_real *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++) dym[i] = y[i] > 0 ? dy[i] : 0;
}

/* Per image n in [lo, hi) (dy_n: (O, HoWo)):
 *   dbt += sum_{i,j} dy_n;   dwt += im2col(x_n) dy_n^T;   dx_n += col2im(w^T dy_n)
 * dwt is dw transposed, (K, O): the product that transposes dy_n (O x HoWo) instead of
 * cols (K x HoWo, 4.5 times larger at conv2) runs about 1.8 times faster. cols, dcols:
 * (K, HoWo) scratch. dx, dwt, dbt may be NULL. With y (em_fast_conv2d_relu's output), dy_n is
 * first masked by the ReLU into dym: conv_group x (O, HoWo) scratch. With sel too, y and dy
 * are em_fast_conv2d_relu_pool's, (O, HoWo / 4) per image: dy_n is masked into dpm, (O, HoWo / 4)
 * scratch, then spread to the windows' winners in dym. With Ut (the Winograd path's
 * backward-data filters) dx_n is dy_n's Winograd convolution, dcols its scratch, and dwt
 * the transformed sum (16 or 36, O, C) (winograd.h), both a group of images at a time. */
static void conv2d_backward_images(em_real *dx, bool dx_fresh, em_real *dwt, double *dbt,
                                   const em_real *dy, const em_real *y, const int32_t *sel,
                                   em_real *dym, em_real *dpm, const em_real *x,
                                   const em_real *w, const em_real *Ut, em_real *cols,
                                   em_real *dcols, const conv_geom *g, int lo, int hi) {
    const size_t HoWo = (size_t)g->Ho * g->Wo, CHW = (size_t)g->C * g->H * g->W;
    const size_t OHW = (size_t)g->O * HoWo, OP = (size_t)g->O * (HoWo / 4);
    const bool wino = conv_wino(g);
    for (int n0 = lo, cnt; n0 < hi; n0 += cnt) {
        cnt = hi - n0 < conv_group(g) ? hi - n0 : conv_group(g);  /* images n0 .. n0+cnt */
        const em_real *dyg = y ? dym : dy + (size_t)n0 * OHW;     /* dy_n0; dy_n follow it */
        for (int n = n0; n < n0 + cnt; n++) {
            em_real *dymn = dym + (size_t)(n - n0) * OHW;  /* with y: dy_n masked */
            const em_real *dyn = y ? dymn : dy + (size_t)n * OHW;
            if (sel) {
                relu_mask(dpm, dy + n * OP, y + n * OP, OP);
                em_mp2_backward_rows(dymn, false, dpm, sel + n * OP, g->Wo, 0,
                                     (size_t)g->O * (g->Ho / 2));
            } else if (y) {
                relu_mask(dymn, dy + (size_t)n * OHW, y + (size_t)n * OHW, OHW);
            }
            if (dbt) bias_grad(dbt, dyn, g->O, HoWo);
            if (dwt && !wino) {  /* as dwt^T = cols dy_n^T: the small dy_n is transposed */
                im2col(cols, x + n * CHW, g);
                em_gemm_fast(false, true, g->K, g->O, (int)HoWo, 1, cols, (int)HoWo, dyn,
                        (int)HoWo, 1, dwt, g->O);
            }
            if (dx && !Ut) {
                em_gemm_fast(true, false, g->K, (int)HoWo, g->O, 1, w, g->K, dyn, (int)HoWo, 0,
                        dcols, (int)HoWo);
                if (dx_fresh) memset(dx + n * CHW, 0, CHW * sizeof *dx);  /* while in cache */
                col2im(dx + n * CHW, dcols, g);
            }
        }
        if (dwt && wino)
            em_wino_dw_images(dwt, x + n0 * CHW, dyg, g->C, g->O, g->H, g->W, cnt, cols);
        if (dx && Ut)
            em_wino_images(dx + n0 * CHW, !dx_fresh, dyg, Ut, g->O, g->C, g->H, g->W, cnt,
                           dcols);
    }
}

/* The images are cut into nb = min(N, CONV_BLOCKS) fixed blocks, each summing its db and
 * dw into its own zeroed buffers (dwt: nb x conv_dwt_size, dbt: nb x (O) doubles), added into
 * db and dw in block order afterwards. The blocks do not depend on the thread count
 * (threads take whole blocks), so neither does the result. dx, dw, db may be NULL.
 * scratch: nt x (2 cols + (O, HoWo) + (O, HoWo / 4)), one set per thread (cols:
 * conv_cols_size; the third only for a fused ReLU, the last only for a fused pool). */
#define CONV_BLOCKS 8

static int conv_blocks(int N) { return N < CONV_BLOCKS ? N : CONV_BLOCKS; }

/* a block's dw sum: dw^T (K, O), or on the Winograd path its transformed form (16 or 36,
 * O, C) */
static size_t conv_dwt_size(const conv_geom *g) {
    return conv_wino(g) ? em_wino_filters_len(g->O, g->C, g->H, g->W) : (size_t)g->O * g->K;
}

static size_t conv_scratch_per_thread(const conv_geom *g, conv_fuse fuse) {
    const size_t HoWo = (size_t)g->Ho * g->Wo;
    return 2 * conv_cols_size(g) +
           (fuse != FUSE_NONE ? (size_t)conv_group(g) * g->O * HoWo : 0) +
           (fuse == FUSE_RELU_POOL ? (size_t)g->O * (HoWo / 4) : 0);
}

/* a[i] += b[i], i < n */
EM_KERNEL static void add_into(em_real *restrict a, const em_real *restrict b, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] += b[i];
}

static void conv2d_backward(em_real *dx, bool dx_fresh, em_real *dw, em_real *db,
                            const em_real *dy, const em_real *y, const int32_t *sel,
                            conv_fuse fuse, const em_real *x, const em_real *w,
                            const em_real *Ut, em_real *scratch, em_real *dwt, double *dbt,
                            const conv_geom *g, int nt) {
    const size_t KHW = conv_cols_size(g), OK = conv_dwt_size(g);
    const size_t OHW = (size_t)conv_group(g) * g->O * g->Ho * g->Wo;  /* dym's size */
    const size_t per = conv_scratch_per_thread(g, fuse);
    const int nb = conv_blocks(g->N);
    if (dw) memset(dwt, 0, nb * OK * sizeof *dwt);
    if (db) memset(dbt, 0, (size_t)nb * g->O * sizeof *dbt);
    if (nt == 1) {
        for (int bk = 0; bk < nb; bk++) {
            int lo, hi;
            split(g->N, bk, nb, &lo, &hi);
            conv2d_backward_images(dx, dx_fresh, dw ? dwt + bk * OK : NULL,
                                   db ? dbt + (size_t)bk * g->O : NULL, dy, y, sel,
                                   scratch + 2 * KHW, scratch + 2 * KHW + OHW, x, w, Ut,
                                   scratch, scratch + KHW, g, lo, hi);
        }
    } else {
#pragma omp parallel num_threads(nt)
        {
            int t = em_thread_id();
            em_real *cols = scratch + t * per, *dcols = cols + KHW, *dym = dcols + KHW;
            em_real *dpm = dym + OHW;
#pragma omp for schedule(dynamic, 1)
            for (int bk = 0; bk < nb; bk++) {
                int lo, hi;
                split(g->N, bk, nb, &lo, &hi);
                conv2d_backward_images(dx, dx_fresh, dw ? dwt + bk * OK : NULL,
                                       db ? dbt + (size_t)bk * g->O : NULL, dy, y, sel, dym,
                                       dpm, x, w, Ut, cols, dcols, g, lo, hi);
            }
        }
    }
    if (dw && conv_wino(g)) {  /* the transformed sums added up in block order, turned once */
        for (int bk = 1; bk < nb; bk++) add_into(dwt, dwt + bk * OK, OK);
        em_wino_dw_finish(dw, dwt, g->O, g->C, g->H, g->W);
    }
    for (int bk = 0; bk < nb; bk++) {
        for (int o = 0; dw && !conv_wino(g) && o < g->O; o++)  /* dw[o][r] += dwt[r][o] */
            for (int r = 0; r < g->K; r++)
                dw[(size_t)o * g->K + r] += dwt[bk * OK + (size_t)r * g->O + o];
        for (int o = 0; db && o < g->O; o++) db[o] += (em_real)dbt[(size_t)bk * g->O + o];
    }
}

/* scratch for conv2d_backward: per-thread sets, the blocks' sums and (Winograd) the
 * backward-data filters; false when out of memory */
typedef struct bwd_scratch { em_real *scratch, *dwt, *Ut; double *dbt; } bwd_scratch;

static bool bwd_scratch_alloc(em_tape *tape, bwd_scratch *s, const conv_geom *g, int nt,
                              conv_fuse fuse, bool want_dx) {
    const bool wino = want_dx && conv_wino(g);
    s->scratch = em_tape_alloc(tape, nt * conv_scratch_per_thread(g, fuse) * sizeof(em_real));
    s->dwt = em_tape_alloc(tape, conv_blocks(g->N) * conv_dwt_size(g) * sizeof(em_real));
    s->dbt = em_tape_alloc(tape, (size_t)conv_blocks(g->N) * g->O * sizeof(double));
    s->Ut = wino ? em_tape_alloc(tape, em_wino_filters_len(g->O, g->C, g->H, g->W) *
                                           sizeof(em_real))
                 : NULL;
    return s->scratch && s->dwt && s->dbt && (!wino || s->Ut) && em_tape_ok(tape);
}

/* the backward of every convolution op of this tier: y, sel as conv2d_backward takes them */
static bool backward(em_tape *tape, em_real *dx, bool add, em_real *dw, em_real *db,
                     const em_real *dy, const em_real *y, const int32_t *sel, conv_fuse fuse,
                     const em_real *x, const em_real *w, const conv_geom *g) {
    int nt = conv_threads(g);
    bwd_scratch s;
    if (!bwd_scratch_alloc(tape, &s, g, nt, fuse, dx != NULL)) return false;
    if (s.Ut) em_wino_filters(s.Ut, w, g->O, g->C, g->H, g->W, true);
    conv2d_backward(dx, !add, dw, db, dy, y, sel, fuse, x, w, s.Ut, s.scratch, s.dwt, s.dbt,
                    g, nt);
    return true;
}

/* y (or, with sel, the pooled y) of every convolution op of this tier */
static bool forward(em_tape *tape, em_real *y, int32_t *sel, const em_real *x,
                    const em_real *w, const em_real *b, conv_fuse fuse, const conv_geom *g) {
    int nt = conv_threads(g);
    em_real *scratch =
        em_tape_alloc(tape, nt * conv_fwd_scratch_per_thread(g, fuse) * sizeof *scratch);
    const bool wino = conv_wino(g);
    em_real *U = wino ? em_tape_alloc(tape, em_wino_filters_len(g->O, g->C, g->H, g->W) *
                                                sizeof *U)
                      : NULL;
    if (!scratch || (wino && !U)) return false;
    if (wino) em_wino_filters(U, w, g->O, g->C, g->H, g->W, false);
    conv2d_forward(y, sel, scratch, x, w, U, b, fuse, g, nt);
    return true;
}

bool em_fast_conv2d(em_tape *tape, em_real *y, const em_real *x, const em_real *w,
                    const em_real *b, const em_conv_geom *e) {
    conv_geom g = conv_geometry(e);
    return forward(tape, y, NULL, x, w, b, FUSE_NONE, &g);
}

bool em_fast_conv2d_backward(em_tape *tape, em_real *dx, bool add, em_real *dw, em_real *db,
                             const em_real *dy, const em_real *x, const em_real *w,
                             const em_conv_geom *e) {
    conv_geom g = conv_geometry(e);
    return backward(tape, dx, add, dw, db, dy, NULL, NULL, FUSE_NONE, x, w, &g);
}

/* ---- the fused ops -------------------------------------------------------------------- */

/* node->args: stride, pad; node->op EM_OP_CONV2D_RELU or EM_OP_CONV2D_RELU_POOL (then
 * node->saved is the pool's winners) */
static void fused_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *w = node->inputs[1], *y = node->output;
    em_conv_geom e = em_conv_geometry(x, w, node->inputs[2], node->args[0], node->args[1]);
    conv_geom g = conv_geometry(&e);
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh), *dw = em_node_grad(tape, node, 1);
    em_real *db = em_node_grad(tape, node, 2);
    if (!em_tape_ok(tape)) return;
    conv_fuse fuse = node->op == EM_OP_CONV2D_RELU_POOL ? FUSE_RELU_POOL : FUSE_RELU;
    backward(tape, dx, !fresh, dw, db, y->grad, y->data, node->saved, fuse, x->data, w->data,
             &g);
}

static em_tensor *fused_op(em_tape *tape, em_tensor *x, em_tensor *w, em_tensor *b,
                           int stride, int pad, conv_fuse fuse) {
    if (!em_tape_ok(tape)) return NULL;
    em_conv_geom e = em_conv_geometry(x, w, b, stride, pad);
    conv_geom g = conv_geometry(&e);
    const bool pool = fuse == FUSE_RELU_POOL;
    if (pool && !em_mp2_applies(g.Ho, g.Wo))  /* the 2x2 kernels do not take it: two ops */
        return em_maxpool2d(tape, fused_op(tape, x, w, b, stride, pad, FUSE_RELU), 2, 2);
    em_tensor *y = em_tape_tensor(tape, 4, (int[]){g.N, g.O, pool ? g.Ho / 2 : g.Ho,
                                                   pool ? g.Wo / 2 : g.Wo});
    int32_t *sel = y && pool ? em_tape_alloc(tape, y->size * sizeof *sel) : NULL;
    if (!y || (pool && !sel) ||
        !forward(tape, y->data, sel, x->data, w->data, b ? b->data : NULL, fuse, &g))
        return NULL;
    em_node *node = em_tape_record(tape, pool ? EM_OP_CONV2D_RELU_POOL : EM_OP_CONV2D_RELU, y,
                                   fused_node_backward, 3, x, w, b);
    if (node) {
        node->args[0] = stride;
        node->args[1] = pad;
        node->saved = sel;
    }
    return y;
}

em_tensor *em_fast_conv2d_relu(em_tape *tape, em_tensor *x, em_tensor *w, em_tensor *b,
                               int stride, int pad) {
    return fused_op(tape, x, w, b, stride, pad, FUSE_RELU);
}

em_tensor *em_fast_conv2d_relu_pool(em_tape *tape, em_tensor *x, em_tensor *w, em_tensor *b,
                                    int stride, int pad) {
    return fused_op(tape, x, w, b, stride, pad, FUSE_RELU_POOL);
}

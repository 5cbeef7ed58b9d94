/* core/ops/pool.c — max pooling, average pooling, global average pooling.
 *
 * Shapes: x (N, C, H, W); the windowed pools give y (N, C, Ho, Wo) with
 * Ho = (H - k) / s + 1, Wo = (W - k) / s + 1: no padding, every k x k window lies inside
 * the image (trailing rows and columns a window cannot reach are ignored). Windows may
 * overlap (s < k). Every (n, c) plane is pooled independently, so the kernels see the
 * batch and channel axes as one axis of NC = N C planes.
 */
#include <stdint.h>
#include <string.h>

#include "../ops_image.h"
#include "../simd.h"
#include "maxpool2x2.h"

static int pool_out(int len, int k, int s) { return (len - k) / s + 1; }

static void pool_check(const em_tensor *x, int k, int s, const char *why) {
    EM_ASSERT_MSG(x->ndim == 4, why);
    EM_ASSERT_MSG(k >= 1 && s >= 1, why);
    EM_ASSERT_MSG(x->shape[2] >= k && x->shape[3] >= k, why);
    /* plane offsets are int (and int32 in the argmax) */
    EM_ASSERT_MSG((size_t)x->shape[2] * x->shape[3] <= INT32_MAX, why);
}

/* ---- maxpool2d: y[n,c,i,j] = max_{p,q<k} x[n,c, i*s+p, j*s+q] -----------------------
 * y: (NC, Ho, Wo)   argmax: (NC, Ho, Wo), the winner's offset h*W + v in its (H, W) plane
 * x: (NC, H, W) */

/* ---- the 2x2 window with stride 2 on even H, W (every reference model's pool) -------
 * In two vectorizable stages instead of one pass over short rows (a row of 14 outputs
 * does not fill a 16-lane vector). With R = NC Ho row pairs (H = 2 Ho, so the pairs of
 * all planes follow each other in memory) and W = 2 Wo:
 *   A (vertical, rows of W):  v[r][w] = the larger of x[2r][w] (top), x[2r+1][w] (bottom);
 *                             vs[r][w] = 1 when the bottom one won
 *   B (horizontal, flat):     y[k] = the larger of v[2k] (left), v[2k+1] (right);
 *                             sel[k] = the winner's place: 0 top-left, 1 top-right,
 *                             2 bottom-left, 3 bottom-right
 * The stages run on blocks of row pairs whose v and vs fit in a small buffer on the stack
 * (MP2_BLOCK values), so stage B reads what stage A has just left in the L1 cache: the
 * pass reads x once and writes y and sel once.
 * "Larger" follows the general loop's order a, b, c, d (top-left, top-right, bottom-left,
 * bottom-right), the first maximum winning and a NaN beating any number: in A a tie keeps
 * the top (a before c, b before d); in B a tie goes to whichever of the two column winners
 * comes first in that order — so the winner is exactly the general loop's (test:
 * fast_2x2_equals_plain_loops). Backward runs the two stages' adjoints in reverse, block
 * by block: B' spreads dy[k] to the winning column of gv, A' sends gv to the winning row. */

/* does v beat m? (NaN beats a number) */
#define BEATS(v, m) (((v) > (m)) | (((v) != (v)) & ((m) == (m))))

enum { MP2_BLOCK = 1024 };   /* values of v (and flags of vs) per block: 8-16 KB in all */

/* row pairs per block: as many whole ones as MP2_BLOCK holds (W <= MP2_BLOCK) */
static size_t mp2_rows_per_block(int W) { return MP2_BLOCK / (size_t)W; }

/* The vertical stages run on rows of W = 28 or 14 values: too short for the compiler's
 * vectorized loop, whose scalar remainder then took most of the time. So they work in
 * chunks of MPV columns as GCC vectors (one ymm in the AVX2/AVX-512 clones), the last
 * chunk of a row overlapping the one before it (W >= MPV): recomputing a column gives
 * the same value, and where backward adds into dx the overlapping lanes are masked out.
 * Rows shorter than MPV take the plain loops. */
#define MPV 8  /* lanes of core/simd.h's em_vec8 */
typedef int32_t mp_ivec __attribute__((vector_size(MPV * sizeof(int32_t))));
typedef int32_t mp_uivec __attribute__((vector_size(MPV * sizeof(int32_t)), aligned(sizeof(int32_t))));

#define LOADV(p) (*(const em_uvec8 *)(p))
#define LOADI(p) (*(const mp_uivec *)(p))
/* lanes of m (all ones) take a, the others b */
#define SELECT(m, a, b) ((em_vec8)(((em_mvec8)(a) & (m)) | ((em_mvec8)(b) & ~(m))))

/* the chunk of A at columns w .. w + MPV */
EM_INLINE static void mp2_vertical_chunk(em_real *vr, int32_t *sr, const em_real *top,
                                      const em_real *bot, int w) {
    em_vec8 t = LOADV(top + w), b = LOADV(bot + w);
    em_mvec8 down = (b > t) | ((b != b) & (t == t));  /* BEATS, lane by lane: -1 or 0 */
    *(em_uvec8 *)(vr + w) = SELECT(down, b, t);
    *(mp_uivec *)(sr + w) = __builtin_convertvector(-down, mp_ivec);
}

/* A: v, vs (nr, W) from the nr row pairs at x */
EM_KERNEL static void mp2_vertical_k(em_real *restrict v, int32_t *restrict vs,
                                     const em_real *restrict x, int W, size_t nr) {
    for (size_t r = 0; r < nr; r++) {
        const em_real *top = x + 2 * r * W, *bot = top + W;
        em_real *vr = v + r * W;
        int32_t *sr = vs + r * W;
        if (W >= MPV) {
            int w = 0;
            for (; w + MPV <= W; w += MPV) mp2_vertical_chunk(vr, sr, top, bot, w);
            if (w < W) mp2_vertical_chunk(vr, sr, top, bot, W - MPV);
            continue;
        }
        for (int w = 0; w < W; w++) {
            int down = BEATS(bot[w], top[w]);
            vr[w] = down ? bot[w] : top[w];
            sr[w] = down;
        }
    }
}

/* B: y, sel (nk) from v, vs (2 nk) */
EM_KERNEL static void mp2_horizontal_k(em_real *restrict y, int32_t *restrict sel,
                                       const em_real *restrict v,
                                       const int32_t *restrict vs, size_t nk) {
    for (size_t k = 0; k < nk; k++) {
        em_real l = v[2 * k], r = v[2 * k + 1];
        int il = 2 * vs[2 * k], ir = 1 + 2 * vs[2 * k + 1];  /* order index, a=0 .. d=3 */
        int right = BEATS(r, l) | ((ir < il) & ((r == l) | ((r != r) & (l != l))));
        y[k] = right ? r : l;
        sel[k] = right ? ir : il;
    }
}

/* B': gv[2k + j] = dy[k] for the winning column j (0 otherwise), vs = the winning row */
EM_KERNEL static void mp2_horizontal_bwd_k(em_real *restrict gv, int32_t *restrict vs,
                                           const em_real *restrict dy,
                                           const int32_t *restrict sel, size_t nk) {
    for (size_t k = 0; k < nk; k++) {
        em_real g = dy[k];
        int right = sel[k] & 1, down = sel[k] >> 1;
        gv[2 * k] = right ? 0 : g;
        gv[2 * k + 1] = right ? g : 0;
        vs[2 * k] = down;
        vs[2 * k + 1] = down;
    }
}

/* the chunk of A' at columns w .. w + MPV. Adding into dx, keep marks the lanes to add to
 * (all ones), the others keep dx (only the overlapping last chunk of a row has any). */
EM_INLINE static void mp2_vertical_bwd_chunk(em_real *top, em_real *bot, const em_real *g,
                                          const int32_t *sr, int w, bool add,
                                          const em_mvec8 *keep) {
    em_vec8 gv = LOADV(g + w), zero = {0};
    em_mvec8 down = __builtin_convertvector(LOADI(sr + w), em_mvec8) != 0;
    em_vec8 gt = SELECT(down, zero, gv), gb = SELECT(down, gv, zero);
    if (!add) {  /* a fresh dx: store (the overlapping lanes get the same values again) and
                  * never read it: it holds whatever the arena had */
        *(em_uvec8 *)(top + w) = gt;
        *(em_uvec8 *)(bot + w) = gb;
        return;
    }
    em_vec8 ot = LOADV(top + w), ob = LOADV(bot + w);
    *(em_uvec8 *)(top + w) = SELECT(*keep, gt + ot, ot);
    *(em_uvec8 *)(bot + w) = SELECT(*keep, gb + ob, ob);
}

/* A': dx[2r][w] (+)= gv[r][w] if the top won, dx[2r+1][w] (+)= gv[r][w] if the bottom did */
EM_KERNEL static void mp2_vertical_bwd_k(em_real *restrict dx, const em_real *restrict gv,
                                         const int32_t *restrict vs, int W, bool add,
                                         size_t nr) {
    em_mvec8 all, last;  /* last: the lanes of the last chunk past the whole chunks */
    for (int l = 0; l < MPV; l++) {
        all[l] = -1;
        last[l] = W >= MPV && l >= MPV - W % MPV ? -1 : 0;
    }
    for (size_t r = 0; r < nr; r++) {
        em_real *top = dx + 2 * r * W, *bot = top + W;
        const em_real *g = gv + r * W;
        const int32_t *sr = vs + r * W;
        if (W >= MPV) {
            int w = 0;
            for (; w + MPV <= W; w += MPV) mp2_vertical_bwd_chunk(top, bot, g, sr, w, add, &all);
            if (w < W) mp2_vertical_bwd_chunk(top, bot, g, sr, W - MPV, add, &last);
            continue;
        }
        if (add)
            for (int w = 0; w < W; w++) {
                top[w] += sr[w] ? 0 : g[w];
                bot[w] += sr[w] ? g[w] : 0;
            }
        else
            for (int w = 0; w < W; w++) {
                top[w] = sr[w] ? 0 : g[w];
                bot[w] = sr[w] ? g[w] : 0;
            }
    }
}

/* row pairs [lo, hi), block by block (W <= MP2_BLOCK: em_mp2_applies) */
void em_mp2_forward_rows(em_real *y, int32_t *sel, const em_real *x, int W, size_t lo,
                         size_t hi) {
    em_real v[MP2_BLOCK];
    int32_t vs[MP2_BLOCK];
    size_t per = mp2_rows_per_block(W), Wo = (size_t)W / 2;
    for (size_t r = lo; r < hi; r += per) {
        size_t nr = hi - r < per ? hi - r : per;
        mp2_vertical_k(v, vs, x + 2 * r * W, W, nr);
        mp2_horizontal_k(y + r * Wo, sel + r * Wo, v, vs, nr * Wo);
    }
}

void em_mp2_backward_rows(em_real *dx, bool add, const em_real *dy, const int32_t *sel,
                          int W, size_t lo, size_t hi) {
    em_real gv[MP2_BLOCK];
    int32_t vs[MP2_BLOCK];
    size_t per = mp2_rows_per_block(W), Wo = (size_t)W / 2;
    for (size_t r = lo; r < hi; r += per) {
        size_t nr = hi - r < per ? hi - r : per;
        mp2_horizontal_bwd_k(gv, vs, dy + r * Wo, sel + r * Wo, nr * Wo);
        mp2_vertical_bwd_k(dx + 2 * r * W, gv, vs, W, add, nr);
    }
}

/* sel: (R, Wo) int32 winner places, saved for backward. The flags are int32, not bytes: a
 * loop that stores bytes vectorizes 64 at a time, more than a row of 28 holds, and would
 * run scalar. */
static void maxpool2x2_forward(em_real *y, int32_t *sel, const em_real *x, size_t R, int W) {
    EM_PARALLEL_RANGES(R, (long)(R * W), lo, hi, em_mp2_forward_rows(y, sel, x, W, lo, hi));
}

static void maxpool2x2_backward(em_real *dx, bool add, const em_real *dy, const int32_t *sel,
                                size_t R, int W) {
    EM_PARALLEL_RANGES(R, (long)(R * W), lo, hi,
                       em_mp2_backward_rows(dx, add, dy, sel, W, lo, hi));
}

static void maxpool_forward(em_real *y, int32_t *argmax, const em_real *x, int NC, int H,
                            int W, int k, int s, int Ho, int Wo) {
    for (int nc = 0; nc < NC; nc++) {
        const em_real *xp = x + (size_t)nc * H * W;        /* (H, W)   */
        em_real *yp = y + (size_t)nc * Ho * Wo;            /* (Ho, Wo) */
        int32_t *ap = argmax + (size_t)nc * Ho * Wo;       /* (Ho, Wo) */
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

/* dx[n,c, argmax[n,c,i,j]] += dy[n,c,i,j]: only the maximum moved y */
static void maxpool_backward(em_real *dx, const em_real *dy, const int32_t *argmax, int NC,
                             int H, int W, int Ho, int Wo) {
    for (int nc = 0; nc < NC; nc++) {
        em_real *dxp = dx + (size_t)nc * H * W;
        const em_real *dyp = dy + (size_t)nc * Ho * Wo;
        const int32_t *ap = argmax + (size_t)nc * Ho * Wo;
        for (int t = 0; t < Ho * Wo; t++) dxp[ap[t]] += dyp[t];
    }
}

bool em_mp2_applies(int H, int W) {
    /* rows longer than the stack buffer of a block take the general loop */
    return H % 2 == 0 && W % 2 == 0 && W <= MP2_BLOCK;
}

/* the two-stage 2x2 path applies (node->args[2] records it) */
static bool maxpool_is_2x2(int k, int s, int H, int W) {
    return k == 2 && s == 2 && em_mp2_applies(H, W);
}

/* node->saved: the 2x2 path's winner places, else the argmax (int32 per output each) */
static void maxpool_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *y = node->output;
    int NC = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    if (node->args[2]) {
        bool fresh;
        em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
        if (!dx) return;  /* out of memory: the tape is marked failed */
        maxpool2x2_backward(dx, !fresh, y->grad, node->saved, (size_t)NC * (H / 2), W);
        return;
    }
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    maxpool_backward(dx, y->grad, node->saved, NC, H, W, y->shape[2], y->shape[3]);
}

em_tensor *em_maxpool2d(em_tape *tape, em_tensor *x, int k, int stride) {
    if (!em_tape_ok(tape)) return NULL;
    pool_check(x, k, stride, "em_maxpool2d: x (N, C, H, W), k, stride >= 1, H, W >= k");
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int Ho = pool_out(H, k, stride), Wo = pool_out(W, k, stride);
    em_tensor *y = em_tape_tensor(tape, 4, (int[]){N, C, Ho, Wo});
    if (!y) return NULL;
    bool two = maxpool_is_2x2(k, stride, H, W);
    void *saved;
    if (two) {
        size_t R = (size_t)N * C * Ho;
        int32_t *sel = em_tape_alloc(tape, R * Wo * sizeof *sel);
        if (!sel) return NULL;
        maxpool2x2_forward(y->data, sel, x->data, R, W);
        saved = sel;
    } else {
        int32_t *argmax = em_tape_alloc(tape, y->size * sizeof *argmax);
        if (!argmax) return NULL;
        maxpool_forward(y->data, argmax, x->data, N * C, H, W, k, stride, Ho, Wo);
        saved = argmax;
    }
    em_node *node = em_tape_record(tape, EM_OP_MAXPOOL2D, y, maxpool_node_backward, 1, x);
    if (node) {
        node->saved = saved;
        node->args[0] = k;
        node->args[1] = stride;
        node->args[2] = two;
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

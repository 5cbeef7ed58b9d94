/* core/fast/pool.c — the fast tier's max-pool: a 2x2 window with stride 2 on planes of
 * even height and width (every pool of the reference models and of most small CNNs) in
 * two vectorizable stages, split across threads. Every other window, stride or shape
 * goes to the reference (core/ops/pool.c), and so does its backward. The winner of every
 * window is the reference loop's, exactly (tests/test_tiers.c). */
#include <stdint.h>
#include <string.h>

#include "fast.h"
#include "maxpool2x2.h"
#include "simd.h"

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

bool em_mp2_applies(int H, int W) {
    /* rows longer than the stack buffer of a block take the general loop */
    return H % 2 == 0 && W % 2 == 0 && W <= MP2_BLOCK;
}

/* the two-stage path takes the pool: a 2x2 window, stride 2, on planes it handles */
static bool two_stage(const em_pool_geom *g) {
    return g->k == 2 && g->stride == 2 && em_mp2_applies(g->H, g->W);
}

/* which: (NC Ho, Wo) int32 winner places 0-3 (maxpool2x2.h). The flags are int32, not
 * bytes: a loop that stores bytes vectorizes 64 at a time, more than a row of 28 holds,
 * and would run scalar. */
void em_fast_maxpool(em_real *y, int32_t *which, const em_real *x, const em_pool_geom *g) {
    if (!two_stage(g)) {
        em_ref_maxpool(y, which, x, g);
        return;
    }
    size_t R = (size_t)g->NC * g->Ho;
    int W = g->W;
    EM_PARALLEL_RANGES(R, (long)(R * W), lo, hi, em_mp2_forward_rows(y, which, x, W, lo, hi));
}

void em_fast_maxpool_backward(em_real *dx, bool add, const em_real *dy, const int32_t *which,
                              const em_pool_geom *g) {
    if (!two_stage(g)) {
        em_ref_maxpool_backward(dx, add, dy, which, g);
        return;
    }
    size_t R = (size_t)g->NC * g->Ho;
    int W = g->W;
    EM_PARALLEL_RANGES(R, (long)(R * W), lo, hi,
                       em_mp2_backward_rows(dx, add, dy, which, W, lo, hi));
}

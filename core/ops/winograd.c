/* core/ops/winograd.c — Winograd's F(2x2, 3x3) convolution of one image (winograd.h).
 *
 * The constant matrices (Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016):
 *   B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
 *         [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
 *         [0 -1  1  0]         [1/2 -1/2  1/2]
 *         [0  1  0 -1]         [ 0    0    1 ]
 * Tile t = (ti, tj) of the output holds rows 2ti, 2ti+1 and columns 2tj, 2tj+1; its input
 * tile d is rows 2ti-1 .. 2ti+2 and columns 2tj-1 .. 2tj+2 (0 outside the image: pad 1).
 * Position xi = 4i + k of a transformed tile: row i, column k.
 *
 * The tiles go in blocks of whole tile rows, about WINO_TILES tiles each, so a block's
 * transformed input V (16, C, Tb) and products M (16, O, Tb) stay in the L2 cache: per
 * block, the input transform, 16 GEMMs (core/gemm.c), the output transform.
 */
#include <string.h>

#include "../gemm.h"
#include "../simd.h"
#include "winograd.h"

enum { WINO_TILES = 64 };  /* tiles per block, about */

/* The transforms run on 8 tiles of a tile row at a time as GCC vectors (core/simd.h) where
 * the row has a multiple of 8 tiles (cifar-cnn's 16 and 8), else one tile at a time; both
 * evaluate the same expressions, so they give the same values. A tile row's inputs and
 * outputs are two values per tile, interleaved: vector shuffles split and merge them. */
#define LOADV(p) (*(const em_uvec8 *)(p))
#define STOREV(p, v) (*(em_uvec8 *)(p) = (v))
/* lanes of a (0-7) and b (8-15), __builtin_shufflevector (GCC 12 and clang alike) */
#define EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14)
#define ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15)
#define LOW(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)    /* interleave */
#define HIGH(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#define BEFORE(a, b) __builtin_shufflevector(a, b, 7, 8, 9, 10, 11, 12, 13, 14) /* a's last, b's first 7 */
#define AFTER(a, b) __builtin_shufflevector(a, b, 1, 2, 3, 4, 5, 6, 7, 8)      /* a's last 7, b's first */

bool em_wino_applies(int C, int O, int H, int W) {
    /* below 32 channels either way the 16 products are too thin (K or M < 32), and below
     * 16 x 16 outputs a block is too few tiles: there the im2col path is as fast */
    return C >= 32 && O >= 32 && H % 2 == 0 && W % 2 == 0 && H >= 16 && W >= 16;
}

void em_wino_filters(em_real *U, const em_real *w, int O, int C, bool adjoint) {
    const int rows = adjoint ? C : O, cols = adjoint ? O : C;
    for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++) {
            const em_real *g = w + ((size_t)o * C + c) * 9;
            double f[3][3], t[4][3], u[4][4];
            for (int p = 0; p < 3; p++)
                for (int q = 0; q < 3; q++) f[p][q] = adjoint ? g[(2 - p) * 3 + 2 - q] : g[p * 3 + q];
            for (int q = 0; q < 3; q++) {  /* t = G f */
                t[0][q] = f[0][q];
                t[1][q] = (f[0][q] + f[1][q] + f[2][q]) / 2;
                t[2][q] = (f[0][q] - f[1][q] + f[2][q]) / 2;
                t[3][q] = f[2][q];
            }
            for (int i = 0; i < 4; i++) {  /* u = t G^T */
                u[i][0] = t[i][0];
                u[i][1] = (t[i][0] + t[i][1] + t[i][2]) / 2;
                u[i][2] = (t[i][0] - t[i][1] + t[i][2]) / 2;
                u[i][3] = t[i][2];
            }
            size_t r = adjoint ? (size_t)c : (size_t)o, k = adjoint ? (size_t)o : (size_t)c;
            for (int xi = 0; xi < 16; xi++)
                U[((size_t)xi * rows + r) * cols + k] = (em_real)u[xi / 4][xi % 4];
        }
}

/* tile rows per block */
static int wino_block_rows(int W) {
    int per = WINO_TILES / (W / 2);
    return per < 1 ? 1 : per;
}

/* The scratch, in this order: V (16, C, Tb) the transformed input, M (16, O, Tb) the
 * products (or the transformed dy), the row with a 0 either side (W + 2) and the 16
 * half-transformed rows of a tile row (16 TW) of wino_input; Tb the tiles of a block.
 * sizes[4]: their lengths. */
static void wino_parts(size_t sizes[4], int C, int O, int W) {
    const size_t Tmax = (size_t)wino_block_rows(W) * (W / 2);
    sizes[0] = 16 * (size_t)C * Tmax;
    sizes[1] = 16 * (size_t)O * Tmax;
    sizes[2] = (size_t)W + 2;
    sizes[3] = 16 * (size_t)(W / 2);
}

size_t em_wino_scratch(int C, int O, int W) {
    size_t sz[4];
    wino_parts(sz, C, O, W);
    return sz[0] + sz[1] + sz[2] + sz[3];
}

/* V (16, C, Tb): B^T d B of every tile in tile rows [ti0, ti1) of x (C, H, W). pad:
 * W + 2 values, hr: 16 x TW. */
EM_KERNEL static void wino_input(em_real *restrict V, const em_real *restrict x, int C, int H,
                                 int W, int ti0, int ti1, em_real *restrict pad,
                                 em_real *restrict hr) {
    const int TW = W / 2, Wp = W + 2;
    const size_t Tb = (size_t)(ti1 - ti0) * TW;
    for (int c = 0; c < C; c++) {
        const em_real *xc = x + (size_t)c * H * W;
        for (int ti = ti0; ti < ti1; ti++) {
            for (int r = 0; r < 4; r++) {  /* input row 2ti-1+r times B, tile by tile */
                int h = 2 * ti - 1 + r;
                bool inside = h >= 0 && h < H;
                em_real *h0 = hr + (r * 4 + 0) * TW, *h1 = h0 + TW, *h2 = h1 + TW, *h3 = h2 + TW;
                if (TW % 8 == 0) {  /* 8 tiles from x[2tj-1 .. 2tj+16]: the row read in place
                                     * (a copy with a 0 either side stalled the loads that
                                     * followed it), 0 past either end */
                    const em_real *xr = inside ? xc + (size_t)h * W : xc;
                    const em_vec8 zero = {0};
                    for (int tj = 0; tj < TW; tj += 8) {
                        em_vec8 a = inside && tj > 0 ? LOADV(xr + 2 * tj - 8) : zero;
                        em_vec8 b = inside ? LOADV(xr + 2 * tj) : zero;
                        em_vec8 c = inside ? LOADV(xr + 2 * tj + 8) : zero;
                        em_vec8 e = inside && 2 * tj + 16 < W ? LOADV(xr + 2 * tj + 16) : zero;
                        em_vec8 d1 = EVEN(b, c);  /* x[2tj + 2j]     */
                        em_vec8 d2 = ODD(b, c);   /* x[2tj + 2j + 1] */
                        em_vec8 d0 = BEFORE(a, d2), d3 = AFTER(d1, e);
                        STOREV(h0 + tj, d0 - d2);
                        STOREV(h1 + tj, d1 + d2);
                        STOREV(h2 + tj, d2 - d1);
                        STOREV(h3 + tj, d1 - d3);
                    }
                    continue;
                }
                em_real *pr = pad;  /* the row with a 0 either side: columns 2tj .. 2tj+3 */
                pr[0] = pr[Wp - 1] = 0;
                if (!inside)
                    for (int v = 1; v <= W; v++) pr[v] = 0;
                else
                    for (int v = 0; v < W; v++) pr[v + 1] = xc[(size_t)h * W + v];
                for (int tj = 0; tj < TW; tj++) {
                    em_real d0 = pr[2 * tj], d1 = pr[2 * tj + 1], d2 = pr[2 * tj + 2],
                            d3 = pr[2 * tj + 3];
                    h0[tj] = d0 - d2;
                    h1[tj] = d1 + d2;
                    h2[tj] = d2 - d1;
                    h3[tj] = d1 - d3;
                }
            }
            size_t t0 = (size_t)(ti - ti0) * TW;
            for (int k = 0; k < 4; k++) {  /* B^T times the columns */
                const em_real *a0 = hr + (0 * 4 + k) * TW, *a1 = hr + (1 * 4 + k) * TW,
                              *a2 = hr + (2 * 4 + k) * TW, *a3 = hr + (3 * 4 + k) * TW;
                em_real *v0 = V + ((size_t)(0 * 4 + k) * C + c) * Tb + t0;
                em_real *v1 = V + ((size_t)(1 * 4 + k) * C + c) * Tb + t0;
                em_real *v2 = V + ((size_t)(2 * 4 + k) * C + c) * Tb + t0;
                em_real *v3 = V + ((size_t)(3 * 4 + k) * C + c) * Tb + t0;
                for (int tj = 0; tj < TW; tj++) {
                    v0[tj] = a0[tj] - a2[tj];
                    v1[tj] = a1[tj] + a2[tj];
                    v2[tj] = a2[tj] - a1[tj];
                    v3[tj] = a1[tj] - a3[tj];
                }
            }
        }
    }
}

/* y (O, H, W), tile rows [ti0, ti1) = (add: +=) A^T m A of every tile's products m, from
 * M (16, O, Tb) */
EM_KERNEL static void wino_output(em_real *restrict y, bool add, const em_real *restrict M,
                                  int O, int H, int W, int ti0, int ti1) {
    const int TW = W / 2;
    const size_t Tb = (size_t)(ti1 - ti0) * TW;
    for (int o = 0; o < O; o++)
        for (int ti = ti0; ti < ti1; ti++) {
            const em_real *m[16];
            for (int xi = 0; xi < 16; xi++)
                m[xi] = M + ((size_t)xi * O + o) * Tb + (size_t)(ti - ti0) * TW;
            em_real *r0 = y + ((size_t)o * H + 2 * ti) * W, *r1 = r0 + W;
            int tj = 0;
            for (; TW % 8 == 0 && tj < TW; tj += 8) {
                em_vec8 v[16], s0[4], s1[4];
                for (int xi = 0; xi < 16; xi++) v[xi] = LOADV(m[xi] + tj);
                for (int k = 0; k < 4; k++) {
                    s0[k] = v[k] + v[4 + k] + v[8 + k];
                    s1[k] = v[4 + k] - v[8 + k] - v[12 + k];
                }
                em_vec8 y00 = s0[0] + s0[1] + s0[2], y01 = s0[1] - s0[2] - s0[3];
                em_vec8 y10 = s1[0] + s1[1] + s1[2], y11 = s1[1] - s1[2] - s1[3];
                em_vec8 a0 = LOW(y00, y01), b0 = HIGH(y00, y01);
                em_vec8 a1 = LOW(y10, y11), b1 = HIGH(y10, y11);
                em_real *p0 = r0 + 2 * tj, *p1 = r1 + 2 * tj;
                if (add) {
                    a0 += LOADV(p0), b0 += LOADV(p0 + 8), a1 += LOADV(p1), b1 += LOADV(p1 + 8);
                }
                STOREV(p0, a0);
                STOREV(p0 + 8, b0);
                STOREV(p1, a1);
                STOREV(p1 + 8, b1);
            }
            for (; tj < TW; tj++) {
                em_real s0[4], s1[4];
                for (int k = 0; k < 4; k++) {  /* A^T times the columns */
                    s0[k] = m[k][tj] + m[4 + k][tj] + m[8 + k][tj];
                    s1[k] = m[4 + k][tj] - m[8 + k][tj] - m[12 + k][tj];
                }
                em_real y00 = s0[0] + s0[1] + s0[2], y01 = s0[1] - s0[2] - s0[3];
                em_real y10 = s1[0] + s1[1] + s1[2], y11 = s1[1] - s1[2] - s1[3];
                if (add) {
                    r0[2 * tj] += y00;
                    r0[2 * tj + 1] += y01;
                    r1[2 * tj] += y10;
                    r1[2 * tj + 1] += y11;
                } else {
                    r0[2 * tj] = y00;
                    r0[2 * tj + 1] = y01;
                    r1[2 * tj] = y10;
                    r1[2 * tj + 1] = y11;
                }
            }
        }
}

/* the scratch's parts (wino_parts) */
typedef struct wino_bufs {
    em_real *V, *M, *pad, *hr;
} wino_bufs;

static wino_bufs wino_split(em_real *scratch, int C, int O, int W) {
    size_t sz[4];
    wino_parts(sz, C, O, W);
    wino_bufs b = {.V = scratch};
    b.M = b.V + sz[0];
    b.pad = b.M + sz[1];
    b.hr = b.pad + sz[2];
    return b;
}

void em_wino_image(em_real *y, bool add, const em_real *x, const em_real *U, int C, int O,
                   int H, int W, em_real *scratch) {
    const int TH = H / 2, TW = W / 2, per = wino_block_rows(W);
    const wino_bufs b = wino_split(scratch, C, O, W);
    em_real *V = b.V, *M = b.M;
    for (int ti0 = 0; ti0 < TH; ti0 += per) {
        int ti1 = ti0 + per < TH ? ti0 + per : TH;
        int Tb = (ti1 - ti0) * TW;
        wino_input(V, x, C, H, W, ti0, ti1, b.pad, b.hr);
        for (int xi = 0; xi < 16; xi++)
            em_gemm(false, false, O, Tb, C, 1, U + (size_t)xi * O * C, C,
                    V + (size_t)xi * C * Tb, Tb, 0, M + (size_t)xi * O * Tb, Tb);
        wino_output(y, add, M, O, H, W, ti0, ti1);
    }
}

/* Dt (16, O, Tb) = A dy_t A^T for every tile in tile rows [ti0, ti1) of dy (O, H, W), with
 * A = (A^T)^T: a row [p, q] of a 2x2 block becomes [p, p + q, p - q, -q], and so do the
 * columns */
EM_KERNEL static void wino_dy(em_real *restrict Dt, const em_real *restrict dy, int O, int H,
                              int W, int ti0, int ti1) {
    const int TW = W / 2;
    const size_t Tb = (size_t)(ti1 - ti0) * TW;
    for (int o = 0; o < O; o++)
        for (int ti = ti0; ti < ti1; ti++) {
            const em_real *r0 = dy + ((size_t)o * H + 2 * ti) * W, *r1 = r0 + W;
            em_real *d[16];
            for (int xi = 0; xi < 16; xi++)
                d[xi] = Dt + ((size_t)xi * O + o) * Tb + (size_t)(ti - ti0) * TW;
            int tj = 0;
            for (; TW % 8 == 0 && tj < TW; tj += 8) {
                em_vec8 a = LOADV(r0 + 2 * tj), b = LOADV(r0 + 2 * tj + 8);
                em_vec8 c = LOADV(r1 + 2 * tj), e = LOADV(r1 + 2 * tj + 8);
                em_vec8 p0 = EVEN(a, b), q0 = ODD(a, b);
                em_vec8 p1 = EVEN(c, e), q1 = ODD(c, e);
                em_vec8 t[4] = {p0, p0 + q0, p0 - q0, -q0}, u[4] = {p1, p1 + q1, p1 - q1, -q1};
                for (int k = 0; k < 4; k++) {
                    STOREV(d[k] + tj, t[k]);
                    STOREV(d[4 + k] + tj, t[k] + u[k]);
                    STOREV(d[8 + k] + tj, t[k] - u[k]);
                    STOREV(d[12 + k] + tj, -u[k]);
                }
            }
            for (; tj < TW; tj++) {
                em_real p0 = r0[2 * tj], q0 = r0[2 * tj + 1], p1 = r1[2 * tj], q1 = r1[2 * tj + 1];
                em_real t[4] = {p0, p0 + q0, p0 - q0, -q0}, u[4] = {p1, p1 + q1, p1 - q1, -q1};
                for (int k = 0; k < 4; k++) {
                    d[k][tj] = t[k];
                    d[4 + k][tj] = t[k] + u[k];
                    d[8 + k][tj] = t[k] - u[k];
                    d[12 + k][tj] = -u[k];
                }
            }
        }
}

void em_wino_dw_image(em_real *Mw, const em_real *x, const em_real *dy, int C, int O, int H,
                      int W, em_real *scratch) {
    const int TH = H / 2, TW = W / 2, per = wino_block_rows(W);
    const wino_bufs b = wino_split(scratch, C, O, W);
    em_real *V = b.V, *Dt = b.M;
    for (int ti0 = 0; ti0 < TH; ti0 += per) {
        int ti1 = ti0 + per < TH ? ti0 + per : TH;
        int Tb = (ti1 - ti0) * TW;
        wino_input(V, x, C, H, W, ti0, ti1, b.pad, b.hr);
        wino_dy(Dt, dy, O, H, W, ti0, ti1);
        for (int xi = 0; xi < 16; xi++)  /* Mw[xi] (O, C) += Dt[xi] (O, Tb) V[xi]^T */
            em_gemm(false, true, O, C, Tb, 1, Dt + (size_t)xi * O * Tb, Tb,
                    V + (size_t)xi * C * Tb, Tb, 1, Mw + (size_t)xi * O * C, C);
    }
}

void em_wino_dw_finish(em_real *dw, const em_real *Mw, int O, int C) {
    const size_t OC = (size_t)O * C;
    for (size_t oc = 0; oc < OC; oc++) {
        double m[4][4], t[3][4];
        for (int xi = 0; xi < 16; xi++) m[xi / 4][xi % 4] = Mw[xi * OC + oc];
        for (int k = 0; k < 4; k++) {  /* t = G^T m */
            t[0][k] = m[0][k] + (m[1][k] + m[2][k]) / 2;
            t[1][k] = (m[1][k] - m[2][k]) / 2;
            t[2][k] = (m[1][k] + m[2][k]) / 2 + m[3][k];
        }
        em_real *g = dw + oc * 9;
        for (int p = 0; p < 3; p++) {  /* g += t G */
            g[p * 3 + 0] += (em_real)(t[p][0] + (t[p][1] + t[p][2]) / 2);
            g[p * 3 + 1] += (em_real)((t[p][1] - t[p][2]) / 2);
            g[p * 3 + 2] += (em_real)((t[p][1] + t[p][2]) / 2 + t[p][3]);
        }
    }
}

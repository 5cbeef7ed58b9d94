/* core/fast/winograd.c — Winograd's F(2x2, 3x3) convolution of images (winograd.h).
 *
 * The constant matrices (Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016):
 *   B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
 *         [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
 *         [0 -1  1  0]         [1/2 -1/2  1/2]
 *         [0  1  0 -1]         [ 0    0    1 ]
 * Tile t = (ti, tj) of the output holds rows 2ti, 2ti+1 and columns 2tj, 2tj+1; its input
 * tile d is rows 2ti-1 .. 2ti+2 and columns 2tj-1 .. 2tj+2 (0 outside the image: pad 1).
 * Position xi = 4i + k of a transformed tile: row i, column k. An image of an odd height or
 * width has TH = (H + 1) / 2 tile rows and TW = (W + 1) / 2 tile columns: its last tiles
 * read zeros past the image and write only the outputs inside it.
 *
 * The tiles go in blocks of whole tile rows, about WINO_TILES tiles each, so a block's
 * transformed input V (16, C, Tb) and products M (16, O, Tb) stay in the L2 cache: per
 * block, the input transform, 16 GEMMs (core/gemm.c), the output transform. An image of
 * fewer tiles than that (mnist-cnn's conv2: 7 x 7) is one block, and a call takes up to
 * em_wino_group such images side by side in one block (their tiles one after the other in
 * V's and M's rows), so the 16 products are wide enough to run fast (32 x 196 x 16 for
 * four images against 32 x 49 x 16 for one: 91 against 62 GFLOP/s, bench/peak.c; cifar-cnn's
 * conv5, 8 x 8: 128 x 64 x 64 for four).
 */
#include <string.h>

#include "../errors.h"
#include "../gemm.h"
#include "simd.h"
#include "wino_vec.h"
#include "winograd.h"

enum { WINO_TILES = 64,          /* tiles per block, about                            */
       WINO_GROUP_TILES = 196,    /* tiles per block of small images side by side, at most */
       WINO_GROUP_BYTES = 800 << 10 };  /* and of V and M together, at most (L2: 1 MiB) */

/* The transforms run on 8 tiles of a tile row at a time as GCC vectors (core/fast/simd.h),
 * reading the rows in place where their length allows it: a multiple of 8 tiles (an image
 * 16, 32, ... wide), 7 (14 wide: one vector with a spare lane), 4 (8 wide: 4-value
 * vectors). Any other row (10 or 20 wide, an odd width) is copied first into a buffer with
 * zeros around it, so that every vector load stays inside it, and written 8 tiles at a
 * time too, the last vector's spare lanes landing on the next tile row (written after it)
 * or on the slack at the end of V's and M's rows (wino_ld). All evaluate the same
 * expressions, so they give the same values. A tile row's inputs and outputs are
 * two values per tile, interleaved: vector shuffles split and merge them.
 * A row of 7 tiles is read as x[0..7] and x[6..13] (the 14 values, in place) and written
 * as 8 values: the spare lane lands on the next tile row's first tile, which is written
 * after it, or on one value of slack at the end of V's and M's rows (wino_ld). */
/* LOADV, STOREV, EVEN, ODD, LOW, HIGH, AFTER: wino_vec.h */
#define BEFORE(a, b) __builtin_shufflevector(a, b, 7, 8, 9, 10, 11, 12, 13, 14) /* a's last, b's first 7 */
/* 4 values: the 4-tile rows of an 8-wide image */
typedef em_real wino_v4 __attribute__((vector_size(4 * sizeof(em_real))));
typedef em_real wino_uv4 __attribute__((vector_size(4 * sizeof(em_real)), aligned(sizeof(em_real))));
#define LOAD4(p) (*(const wino_uv4 *)(p))
#define STORE4(p, v) (*(wino_uv4 *)(p) = (v))
#define EVEN4(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6)
#define ODD4(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7)
#define LOW4(a, b) __builtin_shufflevector(a, b, 0, 4, 1, 5)   /* interleave */
#define HIGH4(a, b) __builtin_shufflevector(a, b, 2, 6, 3, 7)
/* a 14-value row r as a = r[0..7], b = r[6..13]: its even and odd values, a spare lane last */
#define EVEN7(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 10, 12, 14, 14) /* r[0], r[2] .. r[12] */
#define ODD7(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 11, 13, 15, 15)  /* r[1], r[3] .. r[13] */
#define TAIL7(a, b) __builtin_shufflevector(a, b, 6, 7, 8, 9, 10, 11, 12, 13) /* a[6..7], b[0..5] */

/* tiles along a side of n pixels */
static int tiles(int n) { return (n + 1) / 2; }

bool em_wino_applies(int C, int O, int H, int W) {
    /* below 16 channels either way the 16 products are too thin (K or M < 16); below 4 x 4
     * an image has too few tiles to pay for the transforms. Any width and height above
     * that, odd ones too. */
    return C >= 16 && O >= 16 && H >= 4 && W >= 4;
}

size_t em_wino_filters_len(int O, int C, int H, int W) {
    return (em_wino4_applies(H, W) ? 36 : 16) * (size_t)O * C;
}

void em_wino_filters(em_real *U, const em_real *w, int O, int C, int H, int W, bool adjoint) {
    if (em_wino4_applies(H, W)) {
        em_wino4_filters(U, w, O, C, adjoint);
        return;
    }
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

/* tile rows per block: all of an image's when it has no more than WINO_TILES tiles */
static int wino_block_rows(int H, int W) {
    int per = WINO_TILES / tiles(W);
    return per < 1 ? 1 : per > tiles(H) ? tiles(H) : per;
}

int em_wino_group(int C, int O, int H, int W) {
    const bool f4 = em_wino4_applies(H, W);  /* F(4x4): 4 x 4 outputs a tile, 36 products */
    const int T1 = f4 ? (H / 4) * (W / 4) : tiles(H) * tiles(W);
    const size_t per = (size_t)T1 * (f4 ? 36 : 16) * (size_t)(C + O) * sizeof(em_real);
    int k = 1;
    while (T1 < WINO_TILES && (k + 1) * T1 <= WINO_GROUP_TILES &&
           (size_t)(k + 1) * per <= WINO_GROUP_BYTES)
        k++;
    return k;
}

/* the row length of V and M for a block of Tb tiles: slack for the spare lanes of 7-tile
 * rows (one) and of rows copied through the buffer (up to seven). Rows of exactly Tb
 * tiles (16 wide and more, 8 wide) get 8 values more too: with a Tb of 64 or 96 the 16
 * streams of a transform were a multiple of 4 KiB apart, in one L1 set. */
static int wino_ld(int Tb, int W) {
    return W == 14 ? Tb + 1 : Tb + 8;
}

/* the length of a row copied with zeros around it (ROW_AT before it, the rest after), so
 * that a vector load of 8 tiles' inputs at any tile column stays inside */
enum { ROW_AT = 8 };
static size_t row_len(int W) { return ROW_AT + 16 * (size_t)((tiles(W) + 7) / 8) + 16; }

/* The scratch, in this order: V (16, C, ld) the transformed input, M (16, O, ld) the
 * products (or the transformed dy), and 4 copied rows (row_len each); ld = wino_ld of
 * the largest block (em_wino_group images). sizes[3]: their lengths. */
static void wino_parts(size_t sizes[3], int C, int O, int H, int W) {
    const size_t ld = (size_t)wino_ld(em_wino_group(C, O, H, W) * wino_block_rows(H, W) *
                                      tiles(W), W);
    sizes[0] = 16 * (size_t)C * ld;
    sizes[1] = 16 * (size_t)O * ld;
    sizes[2] = 4 * row_len(W);
}

size_t em_wino_scratch(int C, int O, int H, int W) {
    size_t sz[3];
    wino_parts(sz, C, O, H, W);
    size_t f2 = sz[0] + sz[1] + sz[2];  /* the weight gradient's F(2x2) takes it too */
    size_t f4 = em_wino4_applies(H, W) ? em_wino4_scratch(C, O, H, W) : 0;
    return f4 > f2 ? f4 : f2;
}

/* buf (row_len(W)) = row h of the plane x (H, W) at ROW_AT, zeros before and after it; a
 * row outside the plane all zeros. Whole vectors where the row has them, stored at the
 * offsets the transforms load from, so that each load finds one store to forward. */
EM_KERNEL EM_NO_LIBCALLS static void copy_row(em_real *restrict buf, const em_real *restrict x,
                                              int H, int W, int h) {
    const size_t n = row_len(W);
    const em_vec8 zero = {0};
    for (size_t k = 0; k < n; k += 8) STOREV(buf + k, zero);
    if (h < 0 || h >= H) return;
    const em_real *row = x + (size_t)h * W;
    int v = 0;
    for (; v + 8 <= W; v += 8) STOREV(buf + ROW_AT + v, LOADV(row + v));
    for (; v < W; v++) buf[ROW_AT + v] = row[v];
}

/* B^T times the columns of 8 tiles' half-transformed rows hv[r][k] (rows r of the input
 * tile times column k of B), stored as V[xi][c] at v + xi step */
static inline void wino_cols8(em_real *v, size_t step, em_vec8 hv[4][4]) {
    for (int k = 0; k < 4; k++) {
        STOREV(v + (0 * 4 + k) * step, hv[0][k] - hv[2][k]);
        STOREV(v + (1 * 4 + k) * step, hv[1][k] + hv[2][k]);
        STOREV(v + (2 * 4 + k) * step, hv[2][k] - hv[1][k]);
        STOREV(v + (3 * 4 + k) * step, hv[1][k] - hv[3][k]);
    }
}

/* wino_input of rows of a multiple of 8 tiles, all in registers, 8 tiles a vector: each
 * group of 8 from x[2tj-1 .. 2tj+16], the row read in place (a copy with a 0 either side
 * stalled the loads that followed it), 0 past either end */
EM_KERNEL static void wino_input8(em_real *restrict V, int ld, const em_real *restrict x,
                                  int C, int H, int W, int ti0, int ti1) {
    const int TW = W / 2;
    const em_vec8 zero = {0};
    const size_t step = (size_t)C * ld;  /* from V[xi][c] to V[xi + 1][c] */
    for (int c = 0; c < C; c++) {
        const em_real *xc = x + (size_t)c * H * W;
        for (int ti = ti0; ti < ti1; ti++)
            for (int tj = 0; tj < TW; tj += 8) {
                em_vec8 hv[4][4];  /* [input row r][column k of B] */
                for (int r = 0; r < 4; r++) {
                    int h = 2 * ti - 1 + r;
                    em_vec8 a = zero, b = zero, cc = zero, e = zero;
                    if (h >= 0 && h < H) {
                        const em_real *xr = xc + (size_t)h * W + 2 * tj;
                        a = tj > 0 ? LOADV(xr - 8) : zero;
                        b = LOADV(xr);
                        cc = LOADV(xr + 8);
                        e = 2 * tj + 16 < W ? LOADV(xr + 16) : zero;
                    }
                    em_vec8 d1 = EVEN(b, cc);  /* x[2tj + 2j]     */
                    em_vec8 d2 = ODD(b, cc);   /* x[2tj + 2j + 1] */
                    em_vec8 d0 = BEFORE(a, d2), d3 = AFTER(d1, e);
                    hv[r][0] = d0 - d2;
                    hv[r][1] = d1 + d2;
                    hv[r][2] = d2 - d1;
                    hv[r][3] = d1 - d3;
                }
                em_real *v = V + (size_t)c * ld + (size_t)(ti - ti0) * TW + tj;
                wino_cols8(v, step, hv);
            }
    }
}

/* wino_input of a 14-wide image (7 tiles a row), all in registers: each input row is
 * read as x[0..7] and x[6..13], each tile row's 16 transformed rows are written as 8
 * values, the spare lane last (onto the next tile row, or the slack) */
EM_KERNEL static void wino_input7(em_real *restrict V, int ld, const em_real *restrict x,
                                  int C, int H, int ti0, int ti1) {
    const int W = 14;
    const em_vec8 zero = {0};
    for (int c = 0; c < C; c++) {
        const em_real *xc = x + (size_t)c * H * W;
        for (int ti = ti0; ti < ti1; ti++) {
            em_vec8 hv[4][4];  /* [input row r][column k of B] */
            for (int r = 0; r < 4; r++) {
                int h = 2 * ti - 1 + r;
                em_vec8 d1 = zero, d2 = zero;
                if (h >= 0 && h < H) {
                    em_vec8 a = LOADV(xc + (size_t)h * W), b = LOADV(xc + (size_t)h * W + 6);
                    d1 = EVEN7(a, b);  /* x[2tj]     */
                    d2 = ODD7(a, b);   /* x[2tj + 1] */
                }
                em_vec8 d0 = BEFORE(zero, d2);  /* x[2tj - 1], 0 for tj = 0 */
                em_vec8 d3 = __builtin_shufflevector(d1, zero, 1, 2, 3, 4, 5, 6, 8, 8);
                hv[r][0] = d0 - d2;
                hv[r][1] = d1 + d2;
                hv[r][2] = d2 - d1;
                hv[r][3] = d1 - d3;
            }
            em_real *v = V + (size_t)c * ld + (size_t)(ti - ti0) * 7;
            const size_t step = (size_t)C * ld;  /* from V[xi][c] to V[xi + 1][c] */
            wino_cols8(v, step, hv);
        }
    }
}

/* wino_input of an 8-wide image (4 tiles a row), all in registers, 4 tiles a vector */
EM_KERNEL static void wino_input4(em_real *restrict V, int ld, const em_real *restrict x,
                                  int C, int H, int ti0, int ti1) {
    const int W = 8;
    const wino_v4 zero = {0};
    for (int c = 0; c < C; c++) {
        const em_real *xc = x + (size_t)c * H * W;
        for (int ti = ti0; ti < ti1; ti++) {
            wino_v4 hv[4][4];  /* [input row r][column k of B] */
            for (int r = 0; r < 4; r++) {
                int h = 2 * ti - 1 + r;
                wino_v4 d1 = zero, d2 = zero;
                if (h >= 0 && h < H) {
                    wino_v4 a = LOAD4(xc + (size_t)h * W), b = LOAD4(xc + (size_t)h * W + 4);
                    d1 = EVEN4(a, b);  /* x[2tj]     */
                    d2 = ODD4(a, b);   /* x[2tj + 1] */
                }
                wino_v4 d0 = __builtin_shufflevector(zero, d2, 3, 4, 5, 6);  /* x[2tj - 1] */
                wino_v4 d3 = __builtin_shufflevector(d1, zero, 1, 2, 3, 4);  /* x[2tj + 2] */
                hv[r][0] = d0 - d2;
                hv[r][1] = d1 + d2;
                hv[r][2] = d2 - d1;
                hv[r][3] = d1 - d3;
            }
            em_real *v = V + (size_t)c * ld + (size_t)(ti - ti0) * 4;
            const size_t step = (size_t)C * ld;  /* from V[xi][c] to V[xi + 1][c] */
            for (int k = 0; k < 4; k++) {  /* B^T times the columns */
                STORE4(v + (0 * 4 + k) * step, hv[0][k] - hv[2][k]);
                STORE4(v + (1 * 4 + k) * step, hv[1][k] + hv[2][k]);
                STORE4(v + (2 * 4 + k) * step, hv[2][k] - hv[1][k]);
                STORE4(v + (3 * 4 + k) * step, hv[1][k] - hv[3][k]);
            }
        }
    }
}

/* wino_input of rows of any length, 8 tiles a vector: the tile row's 4 input rows copied
 * into rows (4 row_len), so that the loads of input8 stay inside; the last vector's
 * spare lanes go to the next tile row or the slack */
EM_KERNEL static void wino_input_any(em_real *restrict V, int ld, const em_real *restrict x,
                                     int C, int H, int W, int ti0, int ti1,
                                     em_real *restrict rows) {
    const int TW = tiles(W);
    const size_t step = (size_t)C * ld, rl = row_len(W);
    for (int c = 0; c < C; c++) {
        const em_real *xc = x + (size_t)c * H * W;
        for (int ti = ti0; ti < ti1; ti++) {
            for (int r = 0; r < 4; r++) copy_row(rows + r * rl, xc, H, W, 2 * ti - 1 + r);
            for (int tj = 0; tj < TW; tj += 8) {
                em_vec8 hv[4][4];  /* [input row r][column k of B] */
                for (int r = 0; r < 4; r++) {
                    const em_real *xr = rows + r * rl + ROW_AT + 2 * tj;
                    em_vec8 a = LOADV(xr - 8), b = LOADV(xr), cc = LOADV(xr + 8);
                    em_vec8 e = LOADV(xr + 16);
                    em_vec8 d1 = EVEN(b, cc), d2 = ODD(b, cc);
                    em_vec8 d0 = BEFORE(a, d2), d3 = AFTER(d1, e);
                    hv[r][0] = d0 - d2;
                    hv[r][1] = d1 + d2;
                    hv[r][2] = d2 - d1;
                    hv[r][3] = d1 - d3;
                }
                wino_cols8(V + (size_t)c * ld + (size_t)(ti - ti0) * TW + tj, step, hv);
            }
        }
    }
}

/* V (16, C, rows of ld): B^T d B of every tile in tile rows [ti0, ti1) of x (C, H, W), the
 * first at V[.][.][0] (V points at one image's tiles of a block). rows: 4 row_len(W). */
static void wino_input(em_real *V, int ld, const em_real *x, int C, int H, int W, int ti0,
                       int ti1, em_real *rows) {
    if (W % 16 == 0) wino_input8(V, ld, x, C, H, W, ti0, ti1);
    else if (W == 14) wino_input7(V, ld, x, C, H, ti0, ti1);
    else if (W == 8) wino_input4(V, ld, x, C, H, ti0, ti1);
    else wino_input_any(V, ld, x, C, H, W, ti0, ti1, rows);
}

/* The output transform of 8 tiles: the rows of their two 2x2 blocks, interleaved, from the
 * 16 vectors v of their products: row 0 as a0 (tiles 0-3), b0 (tiles 4-7), row 1 as a1, b1 */
static inline void wino_out8(const em_vec8 v[16], em_vec8 *a0, em_vec8 *b0, em_vec8 *a1,
                             em_vec8 *b1) {
    em_vec8 s0[4], s1[4];
    for (int k = 0; k < 4; k++) {
        s0[k] = v[k] + v[4 + k] + v[8 + k];
        s1[k] = v[4 + k] - v[8 + k] - v[12 + k];
    }
    em_vec8 y00 = s0[0] + s0[1] + s0[2], y01 = s0[1] - s0[2] - s0[3];
    em_vec8 y10 = s1[0] + s1[1] + s1[2], y11 = s1[1] - s1[2] - s1[3];
    *a0 = LOW(y00, y01), *b0 = HIGH(y00, y01);
    *a1 = LOW(y10, y11), *b1 = HIGH(y10, y11);
}

/* n values of v into r (add: onto r): the part of a vector's outputs inside the image */
static inline void out_part(em_real *r, const em_vec8 *v, int n, bool add) {
    for (int i = 0; i < n; i++) r[i] = add ? r[i] + (*v)[i] : (*v)[i];
}

/* one output row of 8 tiles, r[0 .. 16) (add: +=) *lo, *hi; n: how many of the 16 are
 * inside the row (the rest belong to tiles past its end). Vectors by pointer: a vector
 * argument has another ABI in each EM_KERNEL clone (clang refuses it). */
static inline void out_row8(em_real *r, const em_vec8 *lo, const em_vec8 *hi, int n, bool add) {
    if (n >= 16) {
        em_vec8 a = *lo, b = *hi;
        if (add) a += LOADV(r), b += LOADV(r + 8);
        STOREV(r, a);
        STOREV(r + 8, b);
        return;
    }
    out_part(r, lo, n < 8 ? n : 8, add);
    if (n > 8) out_part(r + 8, hi, n - 8, add);
}

/* y (O, H, W), tile rows [ti0, ti1) = (add: +=) A^T m A of every tile's products m, from
 * M (16, O, rows of ld), the first tile at M[.][.][0]. The second row of a tile is left
 * out past an odd height, the second column past an odd width. */
EM_KERNEL static void wino_output(em_real *restrict y, bool add, const em_real *restrict M,
                                  int ld, int O, int H, int W, int ti0, int ti1) {
    const int TW = tiles(W);
    for (int o = 0; o < O; o++)
        for (int ti = ti0; ti < ti1; ti++) {
            const em_real *m[16];
            for (int xi = 0; xi < 16; xi++)
                m[xi] = M + ((size_t)xi * O + o) * ld + (size_t)(ti - ti0) * TW;
            em_real *r0 = y + ((size_t)o * H + 2 * ti) * W, *r1 = r0 + W;
            const bool two = 2 * ti + 1 < H;  /* the tile's second row is inside */
            em_vec8 v[16], a0, b0, a1, b1;
            if (W == 14) {  /* 14 values a row: a0 as r0[0..7], then r0[6..13] from a0, b0 */
                for (int xi = 0; xi < 16; xi++) v[xi] = LOADV(m[xi]);
                wino_out8(v, &a0, &b0, &a1, &b1);
                em_vec8 c0 = TAIL7(a0, b0), c1 = TAIL7(a1, b1);
                if (add) {  /* both loads before the overlapping stores */
                    em_vec8 y0 = LOADV(r0), y0t = LOADV(r0 + 6);
                    a0 += y0, c0 += y0t;
                    if (two) {
                        em_vec8 y1 = LOADV(r1), y1t = LOADV(r1 + 6);
                        a1 += y1, c1 += y1t;
                    }
                }
                STOREV(r0, a0);
                STOREV(r0 + 6, c0);
                if (two) STOREV(r1, a1), STOREV(r1 + 6, c1);
                continue;
            }
            if (W == 8) {  /* the 4 tiles as one 4-value vector each */
                wino_v4 u[16], s0[4], s1[4];
                for (int xi = 0; xi < 16; xi++) u[xi] = LOAD4(m[xi]);
                for (int k = 0; k < 4; k++) {
                    s0[k] = u[k] + u[4 + k] + u[8 + k];
                    s1[k] = u[4 + k] - u[8 + k] - u[12 + k];
                }
                wino_v4 y00 = s0[0] + s0[1] + s0[2], y01 = s0[1] - s0[2] - s0[3];
                wino_v4 y10 = s1[0] + s1[1] + s1[2], y11 = s1[1] - s1[2] - s1[3];
                wino_v4 e0 = LOW4(y00, y01), f0 = HIGH4(y00, y01);
                wino_v4 e1 = LOW4(y10, y11), f1 = HIGH4(y10, y11);
                if (add) {
                    e0 += LOAD4(r0), f0 += LOAD4(r0 + 4);
                    if (two) e1 += LOAD4(r1), f1 += LOAD4(r1 + 4);
                }
                STORE4(r0, e0);
                STORE4(r0 + 4, f0);
                if (two) STORE4(r1, e1), STORE4(r1 + 4, f1);
                continue;
            }
            /* any other width, 8 tiles a vector: M's rows have the slack for the loads past
             * the last tile (wino_ld), and only the outputs inside the row are written */
            for (int tj = 0; tj < TW; tj += 8) {
                for (int xi = 0; xi < 16; xi++) v[xi] = LOADV(m[xi] + tj);
                wino_out8(v, &a0, &b0, &a1, &b1);
                int n = W - 2 * tj;
                out_row8(r0 + 2 * tj, &a0, &b0, n, add);
                if (two) out_row8(r1 + 2 * tj, &a1, &b1, n, add);
            }
        }
}

/* the scratch's parts (wino_parts) */
typedef struct wino_bufs {
    em_real *V, *M, *rows;
} wino_bufs;

static wino_bufs wino_split(em_real *scratch, int C, int O, int H, int W) {
    size_t sz[3];
    wino_parts(sz, C, O, H, W);
    wino_bufs b = {.V = scratch};
    b.M = b.V + sz[0];
    b.rows = b.M + sz[1];
    return b;
}

/* Each block: tile rows [ti0, ti1) of each of the nimg images, image i's tiles at columns
 * i Tr .. (i + 1) Tr of V's and M's rows (Tr = its tiles in the block). */
void em_wino_images(em_real *y, bool add, const em_real *x, const em_real *U, int C, int O,
                    int H, int W, int nimg, em_real *scratch) {
    const int TH = tiles(H), TW = tiles(W), per = wino_block_rows(H, W);
    const size_t CHW = (size_t)C * H * W, OHW = (size_t)O * H * W;
    EM_ASSERT_MSG(nimg >= 1 && nimg <= em_wino_group(C, O, H, W), "em_wino_images: nimg out of range");
    if (em_wino4_applies(H, W)) {
        em_wino4_images(y, add, x, U, C, O, H, W, nimg, scratch);
        return;
    }
    const wino_bufs b = wino_split(scratch, C, O, H, W);
    for (int ti0 = 0; ti0 < TH; ti0 += per) {
        int ti1 = ti0 + per < TH ? ti0 + per : TH;
        int Tr = (ti1 - ti0) * TW, Tb = nimg * Tr, ld = wino_ld(Tb, W);
        for (int i = 0; i < nimg; i++)  /* in order: image i's spare lanes land on i + 1's */
            wino_input(b.V + (size_t)i * Tr, ld, x + i * CHW, C, H, W, ti0, ti1, b.rows);
        for (int xi = 0; xi < 16; xi++)
            em_gemm_fast(false, false, O, Tb, C, 1, U + (size_t)xi * O * C, C,
                    b.V + (size_t)xi * C * ld, ld, 0, b.M + (size_t)xi * O * ld, ld);
        for (int i = 0; i < nimg; i++)
            wino_output(y + i * OHW, add, b.M + (size_t)i * Tr, ld, O, H, W, ti0, ti1);
    }
}

/* the transform of one tile column's 2x2 block of dy: rows [p0, q0] and [p1, q1] to
 * d[xi] (16 rows of tiles, at tile column tj), as vectors V of 8 or 4 tiles (STORE) */
#define DY_TILE(V, STORE, d, tj, p0, q0, p1, q1)                                           \
    do {                                                                                 \
        V t_[4] = {p0, p0 + q0, p0 - q0, -q0}, u_[4] = {p1, p1 + q1, p1 - q1, -q1};       \
        for (int k = 0; k < 4; k++) {                                                    \
            STORE(d[k] + (tj), t_[k]);                                                   \
            STORE(d[4 + k] + (tj), t_[k] + u_[k]);                                       \
            STORE(d[8 + k] + (tj), t_[k] - u_[k]);                                       \
            STORE(d[12 + k] + (tj), -u_[k]);                                             \
        }                                                                                \
    } while (0)

/* Dt (16, O, rows of ld) = A dy_t A^T for every tile in tile rows [ti0, ti1) of dy
 * (O, H, W), the first at Dt[.][.][0], with A = (A^T)^T: a row [p, q] of a 2x2 block
 * becomes [p, p + q, p - q, -q], and so do the columns. Past an odd height or width a
 * block's second row or column is 0. rows: 2 row_len(W), for the widths not read in
 * place. */
EM_KERNEL static void wino_dy(em_real *restrict Dt, int ld, const em_real *restrict dy, int O,
                              int H, int W, int ti0, int ti1, em_real *restrict rows) {
    const int TW = tiles(W);
    const em_vec8 zero = {0};
    for (int o = 0; o < O; o++)
        for (int ti = ti0; ti < ti1; ti++) {
            const bool two = 2 * ti + 1 < H;
            const em_real *r0 = dy + ((size_t)o * H + 2 * ti) * W, *r1 = r0 + W;
            em_real *d[16];
            for (int xi = 0; xi < 16; xi++)
                d[xi] = Dt + ((size_t)xi * O + o) * ld + (size_t)(ti - ti0) * TW;
            if (W == 8) {  /* the 8 values as r[0..3] and r[4..7] */
                const wino_v4 z4 = {0};
                wino_v4 a = LOAD4(r0), b = LOAD4(r0 + 4);
                wino_v4 c = two ? LOAD4(r1) : z4, e = two ? LOAD4(r1 + 4) : z4;
                wino_v4 p0 = EVEN4(a, b), q0 = ODD4(a, b), p1 = EVEN4(c, e), q1 = ODD4(c, e);
                DY_TILE(wino_v4, STORE4, d, 0, p0, q0, p1, q1);
                continue;
            }
            if (W == 14) {  /* the 14 values as r[0..7] and r[6..13]; the spare lane last */
                em_vec8 a = LOADV(r0), b = LOADV(r0 + 6);
                em_vec8 c = two ? LOADV(r1) : zero, e = two ? LOADV(r1 + 6) : zero;
                em_vec8 p0 = EVEN7(a, b), q0 = ODD7(a, b), p1 = EVEN7(c, e), q1 = ODD7(c, e);
                DY_TILE(em_vec8, STOREV, d, 0, p0, q0, p1, q1);
                continue;
            }
            if (W % 16 != 0) {  /* any other width: the two rows copied with zeros after */
                const size_t rl = row_len(W);
                copy_row(rows, dy + (size_t)o * H * W, H, W, 2 * ti);
                copy_row(rows + rl, dy + (size_t)o * H * W, H, W, 2 * ti + 1);
                r0 = rows + ROW_AT, r1 = rows + rl + ROW_AT;
            } else if (!two) {
                r1 = NULL;
            }
            for (int tj = 0; tj < TW; tj += 8) {
                em_vec8 a = LOADV(r0 + 2 * tj), b = LOADV(r0 + 2 * tj + 8);
                em_vec8 c = r1 ? LOADV(r1 + 2 * tj) : zero, e = r1 ? LOADV(r1 + 2 * tj + 8) : zero;
                em_vec8 p0 = EVEN(a, b), q0 = ODD(a, b), p1 = EVEN(c, e), q1 = ODD(c, e);
                DY_TILE(em_vec8, STOREV, d, tj, p0, q0, p1, q1);
            }
        }
}

void em_wino_dw_images(em_real *Mw, const em_real *x, const em_real *dy, int C, int O, int H,
                       int W, int nimg, em_real *scratch) {
    const int TH = tiles(H), TW = tiles(W), per = wino_block_rows(H, W);
    const size_t CHW = (size_t)C * H * W, OHW = (size_t)O * H * W;
    EM_ASSERT_MSG(nimg >= 1 && nimg <= em_wino_group(C, O, H, W),
                  "em_wino_dw_images: nimg out of range");
    if (em_wino4_applies(H, W)) {
        em_wino4_dw_images(Mw, x, dy, C, O, H, W, nimg, scratch);
        return;
    }
    const wino_bufs b = wino_split(scratch, C, O, H, W);
    em_real *Dt = b.M;
    for (int ti0 = 0; ti0 < TH; ti0 += per) {
        int ti1 = ti0 + per < TH ? ti0 + per : TH;
        int Tr = (ti1 - ti0) * TW, Tb = nimg * Tr, ld = wino_ld(Tb, W);
        for (int i = 0; i < nimg; i++) {  /* in order (the spare lanes) */
            wino_input(b.V + (size_t)i * Tr, ld, x + i * CHW, C, H, W, ti0, ti1, b.rows);
            wino_dy(Dt + (size_t)i * Tr, ld, dy + i * OHW, O, H, W, ti0, ti1, b.rows);
        }
        for (int xi = 0; xi < 16; xi++)  /* Mw[xi] (O, C) += Dt[xi] (O, Tb) V[xi]^T */
            em_gemm_fast(false, true, O, C, Tb, 1, Dt + (size_t)xi * O * ld, ld,
                    b.V + (size_t)xi * C * ld, ld, 1, Mw + (size_t)xi * O * C, C);
    }
}

void em_wino_dw_finish(em_real *dw, const em_real *Mw, int O, int C, int H, int W) {
    if (em_wino4_applies(H, W)) {
        em_wino4_dw_finish(dw, Mw, O, C);
        return;
    }
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

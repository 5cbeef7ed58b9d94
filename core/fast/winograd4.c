/* core/fast/winograd4.c — Winograd's F(4x4, 3x3) convolution of images whose width is a
 * multiple of 32 and height a multiple of 4, or 16 wide and a multiple of 8 high
 * (winograd.h; em_wino_images and em_wino_dw_images come here for them). The constant
 * matrices (Lavin and Gray 2016, the points 0, 1, -1, 2, -2):
 *   B^T = [4  0 -5  0  1  0]   G = [ 1/4     0     0 ]   A^T = [1  1  1  1  1  0]
 *         [0 -4 -4  1  1  0]       [-1/6  -1/6  -1/6 ]         [0  1 -1  2 -2  0]
 *         [0  4 -4 -1  1  0]       [-1/6   1/6  -1/6 ]         [0  1  1  4  4  0]
 *         [0 -2 -1  2  1  0]       [1/24  1/12   1/6 ]         [0  1 -1  8 -8  1]
 *         [0  2 -1 -2  1  0]       [1/24 -1/12   1/6 ]
 *         [0  4  0 -5  0  1]       [  0     0     1  ]
 * Tile t = (ti, tj) of the output holds rows 4ti .. 4ti+3 and columns 4tj .. 4tj+3; its
 * input tile d is rows 4ti-1 .. 4ti+4 and columns 4tj-1 .. 4tj+4 (0 outside the image).
 * Position xi = 6i + k of a transformed tile: row i, column k. 36 products per 16 outputs
 * and input channel, against 16 per 4 for F(2x2, 3x3) and 144 for the direct sum; the
 * transformed input and the products are 2.25 values per output, against 4. The price is
 * more rounding: the transforms multiply by up to 8 and add six terms.
 *
 * A tile row's input transform goes in two passes: B^T down the six input rows (whole
 * rows, unit stride) into six rows with zeros around them, then B along each of those,
 * 8 tiles a vector: 32 values (from column 4tj-1) split by two rounds of even/odd
 * shuffles into the tiles' columns 0-3, columns 4 and 5 being the next tile's 0 and 1.
 * The output transform reverses it: A^T then A on 8 tiles' 36 vectors, the 16 results
 * interleaved by two rounds of shuffles into four rows of 32 values.
 * The weight gradient is the adjoint, as for F(2x2, 3x3): the input transformed as above,
 * dy's 4 x 4 blocks by A . A^T (split into columns by the same shuffles), 36 products
 * summed over the tiles, and G^T . G of the sums at the end.
 */
#include <string.h>

#include "../errors.h"
#include "../gemm.h"
#include "simd.h"
#include "wino_vec.h"
#include "winograd.h"

/* the next tile's column for two rows of 4 tiles: a[1..3], b[0], a[5..7], b[1] (for one
 * row of 8 tiles it is wino_vec.h's AFTER: a[1..7], b[0]) */
#define NEXT2(a, b) __builtin_shufflevector(a, b, 1, 2, 3, 8, 5, 6, 7, 9)

enum { W4_BYTES = 512 << 10,  /* a block's V and M together, at most (L2: 1 MiB a core) */
       W4_AT = 8 };           /* where a row starts in its buffer, zeros before it      */

/* An image 16 wide has 4 tiles a row: a vector holds two tile rows (a "pair"), so its
 * height must be a multiple of 8. */
bool em_wino4_applies(int H, int W) {
    return (W % 32 == 0 && H % 4 == 0 && H >= 4) || (W == 16 && H % 8 == 0 && H >= 8);
}

/* tile rows per block: as many as keep V and M within W4_BYTES, at least one (two, and
 * even, for pairs) */
static int w4_rows(int C, int O, int H, int W) {
    size_t per_row = 36 * (size_t)(C + O) * (size_t)(W / 4) * sizeof(em_real);
    size_t rows = W4_BYTES / per_row;
    int n = rows < 1 ? 1 : rows > (size_t)(H / 4) ? H / 4 : (int)rows;
    return W == 16 ? (n < 2 ? 2 : n - n % 2) : n;
}

static size_t w4_row_len(int W) { return W4_AT + (size_t)W + 16; }

/* The row length of V and M: a block's tiles (of em_wino_group images side by side: a 16 x
 * 16 image has only 16 tiles, too few columns for the products to run fast) and 8 values
 * more. Without them a row of 64
 * tiles (a 32 x 32 image) made 36 streams of stores exactly 4 KiB x C apart, which share
 * their L1 set and evict each other. */
static size_t w4_ld(int C, int O, int H, int W) {
    return (size_t)em_wino_group(C, O, H, W) * w4_rows(C, O, H, W) * (W / 4) + 8;
}

size_t em_wino4_scratch(int C, int O, int H, int W) {
    size_t ld = w4_ld(C, O, H, W);
    return 36 * (size_t)(C + O) * ld + 12 * w4_row_len(W);
}

/* G of the header comment */
static const double W4_G[6][3] = {{1.0 / 4, 0, 0},
                                  {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                  {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                  {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                  {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                  {0, 0, 1}};

void em_wino4_filters(em_real *U, const em_real *w, int O, int C, bool adjoint) {
    const double (*G)[3] = W4_G;
    const int rows = adjoint ? C : O, cols = adjoint ? O : C;
    for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++) {
            const em_real *g = w + ((size_t)o * C + c) * 9;
            double f[3][3], t[6][3];
            for (int p = 0; p < 3; p++)
                for (int q = 0; q < 3; q++)
                    f[p][q] = adjoint ? g[(2 - p) * 3 + 2 - q] : g[p * 3 + q];
            for (int i = 0; i < 6; i++)  /* t = G f */
                for (int q = 0; q < 3; q++)
                    t[i][q] = G[i][0] * f[0][q] + G[i][1] * f[1][q] + G[i][2] * f[2][q];
            size_t r = adjoint ? (size_t)c : (size_t)o, k = adjoint ? (size_t)o : (size_t)c;
            for (int i = 0; i < 6; i++)  /* u = t G^T */
                for (int j = 0; j < 6; j++)
                    U[((size_t)(6 * i + j) * rows + r) * cols + k] =
                        (em_real)(t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2]);
        }
}

/* v[0..5] = B^T (d0 .. d5), elementwise over vectors */
#define BT6(v, d0, d1, d2, d3, d4, d5)                      \
    do {                                                    \
        (v)[0] = 4 * (d0) - 5 * (d2) + (d4);                \
        (v)[1] = (d3) + (d4) - 4 * ((d1) + (d2));           \
        (v)[2] = (d4) - (d3) + 4 * ((d1) - (d2));           \
        (v)[3] = (d4) - (d2) + 2 * ((d3) - (d1));           \
        (v)[4] = (d4) - (d2) - 2 * ((d3) - (d1));           \
        (v)[5] = 4 * (d1) - 5 * (d3) + (d5);                \
    } while (0)

/* q[c] = value c of each of 8 tiles' 4 (c = 0..3): 16 values at sA (tiles 0-3) and 16 at
 * sB (tiles 4-7: sA + 16 in one row, the next tile row for a pair), split by two rounds of
 * even/odd shuffles */
static EM_INLINE void w4_split(em_vec8 q[4], const em_real *sA, const em_real *sB) {
    em_vec8 a = LOADV(sA), b = LOADV(sA + 8), c = LOADV(sB), d = LOADV(sB + 8);
    em_vec8 e1 = EVEN(a, b), o1 = ODD(a, b), e2 = EVEN(c, d), o2 = ODD(c, d);
    q[0] = EVEN(e1, e2), q[1] = EVEN(o1, o2), q[2] = ODD(e1, e2), q[3] = ODD(o1, o2);
}

/* t[i] (6 rows of rl, the row at W4_AT) = row i of B^T times the 6 input rows of tile row
 * ti of the plane xc (H, W), rows outside it zero */
static EM_INLINE void w4_columns(em_real *t, size_t rl, const em_real *xc, int H, int W,
                                 int ti) {
    const em_vec8 zero = {0};
    const em_real *d[6];
    for (int r = 0; r < 6; r++) {
        int h = 4 * ti - 1 + r;
        d[r] = h >= 0 && h < H ? xc + (size_t)h * W : NULL;
    }
    for (int w = 0; w < W; w += 8) {
        em_vec8 a[6], v[6];
        for (int r = 0; r < 6; r++) a[r] = d[r] ? LOADV(d[r] + w) : zero;
        BT6(v, a[0], a[1], a[2], a[3], a[4], a[5]);
        for (int i = 0; i < 6; i++) STOREV(t + i * rl + W4_AT + w, v[i]);
    }
}

/* V (36, C, rows of ld): B^T d B of every tile in tile rows [ti0, ti1) of x (C, H, W), the
 * first at V[.][.][0]; t: 12 rows of w4_row_len(W), their margins zero. 8 tiles a vector:
 * of one tile row (sB = sA + 16), or of two (16 wide: sA and sB their rows). */
EM_KERNEL static void w4_input(em_real *restrict V, size_t ld, const em_real *restrict x,
                               int C, int H, int W, int ti0, int ti1, em_real *restrict t) {
    const int TW = W / 4, pair = TW == 4;
    const size_t rl = w4_row_len(W), step = (size_t)C * ld;
    for (int c = 0; c < C; c++) {
        const em_real *xc = x + (size_t)c * H * W;
        for (int ti = ti0; ti < ti1; ti += 1 + pair) {
            for (int q = 0; q <= pair; q++) w4_columns(t + 6 * q * rl, rl, xc, H, W, ti + q);
            for (int tj = 0; tj < TW; tj += 8) {  /* B along the rows, 8 tiles a vector */
                em_real *vo = V + (size_t)c * ld + (size_t)(ti - ti0) * TW + tj;
                for (int i = 0; i < 6; i++) {
                    const em_real *sA = t + i * rl + W4_AT - 1 + 4 * tj;
                    const em_real *sB = pair ? sA + 6 * rl : sA + 16;
                    em_vec8 q[4];  /* columns 4tj-1 .. 4tj+2 */
                    w4_split(q, sA, sB);
                    em_vec8 p0 = q[0], p1 = q[1], p2 = q[2], p3 = q[3];
                    em_vec8 p4, p5;  /* 4tj+3, 4tj+4: the next tile's first two */
                    if (pair) {
                        em_vec8 n0 = {sA[16], sB[16]}, n1 = {sA[17], sB[17]};
                        p4 = NEXT2(p0, n0), p5 = NEXT2(p1, n1);
                    } else {
                        em_vec8 n0 = {sA[32]}, n1 = {sA[33]};
                        p4 = AFTER(p0, n0), p5 = AFTER(p1, n1);
                    }
                    em_vec8 v[6];
                    BT6(v, p0, p1, p2, p3, p4, p5);
                    for (int k = 0; k < 6; k++) STOREV(vo + (size_t)(6 * i + k) * step, v[k]);
                }
            }
        }
    }
}

/* r[0..3] = A^T (m0 .. m5) */
#define AT6(r, m0, m1, m2, m3, m4, m5)                             \
    do {                                                           \
        (r)[0] = (m0) + (m1) + (m2) + (m3) + (m4);                 \
        (r)[1] = (m1) - (m2) + 2 * ((m3) - (m4));                  \
        (r)[2] = (m1) + (m2) + 4 * ((m3) + (m4));                  \
        (r)[3] = (m1) - (m2) + 8 * ((m3) - (m4)) + (m5);           \
    } while (0)

/* 32 outputs, y[c][j] of 8 tiles (c = 0..3) interleaved, stored (add: +=): tiles 0-3 at
 * rA, tiles 4-7 at rB (rA + 16 in one row; another row for a pair) */
static EM_INLINE void w4_store_row(em_real *rA, em_real *rB, const em_vec8 y[4], bool add) {
    em_vec8 l1 = LOW(y[0], y[2]), h1 = HIGH(y[0], y[2]);
    em_vec8 l2 = LOW(y[1], y[3]), h2 = HIGH(y[1], y[3]);
    em_vec8 out[4] = {LOW(l1, l2), HIGH(l1, l2), LOW(h1, h2), HIGH(h1, h2)};
    em_real *at[4] = {rA, rA + 8, rB, rB + 8};
    for (int q = 0; q < 4; q++) {
        if (add) out[q] += LOADV(at[q]);
        STOREV(at[q], out[q]);
    }
}

/* y (O, H, W), tile rows [ti0, ti1) = (add: +=) A^T m A of every tile's products m, from
 * M (36, O, rows of ld), the first tile at M[.][.][0] */
EM_KERNEL static void w4_output(em_real *restrict y, bool add, const em_real *restrict M,
                                size_t ld, int O, int H, int W, int ti0, int ti1) {
    const int TW = W / 4, pair = TW == 4;
    const size_t step = (size_t)O * ld;
    for (int o = 0; o < O; o++)
        for (int ti = ti0; ti < ti1; ti += 1 + pair)
            for (int tj = 0; tj < TW; tj += 8) {
                const em_real *m = M + (size_t)o * ld + (size_t)(ti - ti0) * TW + tj;
                em_vec8 s[4][6];  /* A^T down the tiles' columns: s[row r][column k] */
                for (int k = 0; k < 6; k++) {
                    em_vec8 a[6], r4[4];
                    for (int i = 0; i < 6; i++) a[i] = LOADV(m + (size_t)(6 * i + k) * step);
                    AT6(r4, a[0], a[1], a[2], a[3], a[4], a[5]);
                    for (int r = 0; r < 4; r++) s[r][k] = r4[r];
                }
                em_real *yr = y + ((size_t)o * H + 4 * ti) * W + 4 * tj;
                for (int r = 0; r < 4; r++) {  /* A along the rows */
                    em_vec8 out[4];
                    AT6(out, s[r][0], s[r][1], s[r][2], s[r][3], s[r][4], s[r][5]);
                    em_real *rA = yr + (size_t)r * W;
                    w4_store_row(rA, pair ? rA + 4 * (size_t)W : rA + 16, out, add);
                }
            }
}

/* the margins of t's 12 rows, which w4_input reads and never writes, zeroed */
static void w4_margins(em_real *t, int W) {
    const size_t rl = w4_row_len(W);
    for (int i = 0; i < 12; i++) {
        memset(t + i * rl, 0, W4_AT * sizeof *t);
        memset(t + i * rl + W4_AT + W, 0, (rl - W4_AT - (size_t)W) * sizeof *t);
    }
}

void em_wino4_images(em_real *y, bool add, const em_real *x, const em_real *U, int C, int O,
                     int H, int W, int nimg, em_real *scratch) {
    const int TH = H / 4, TW = W / 4, per = w4_rows(C, O, H, W);
    const size_t CHW = (size_t)C * H * W, OHW = (size_t)O * H * W, ld = w4_ld(C, O, H, W);
    em_real *V = scratch, *M = V + 36 * (size_t)C * ld, *t = M + 36 * (size_t)O * ld;
    w4_margins(t, W);
    EM_ASSERT_MSG(nimg >= 1 && nimg <= em_wino_group(C, O, H, W), "em_wino4_images: nimg");
    for (int ti0 = 0; ti0 < TH; ti0 += per) {  /* image n's tiles at columns n Tr .. */
        int ti1 = ti0 + per < TH ? ti0 + per : TH, Tr = (ti1 - ti0) * TW, Tb = nimg * Tr;
        for (int n = 0; n < nimg; n++)
            w4_input(V + (size_t)n * Tr, ld, x + n * CHW, C, H, W, ti0, ti1, t);
        for (int xi = 0; xi < 36; xi++)
            em_gemm_fast(false, false, O, Tb, C, 1, U + (size_t)xi * O * C, C,
                         V + (size_t)xi * C * ld, (int)ld, 0, M + (size_t)xi * O * ld, (int)ld);
        for (int n = 0; n < nimg; n++)
            w4_output(y + n * OHW, add, M + (size_t)n * Tr, ld, O, H, W, ti0, ti1);
    }
}

/* ---- the weight gradient: dL/dg = G^T [sum over tiles (A dy_t A^T) .* (B^T d_t B)] G ---- */

/* A^T's transpose on 4 values: r[0..5] = A (q0 .. q3) */
#define A6(r, q0, q1, q2, q3)                                      \
    do {                                                           \
        (r)[0] = (q0);                                             \
        (r)[1] = (q0) + (q1) + (q2) + (q3);                        \
        (r)[2] = (q0) - (q1) + (q2) - (q3);                        \
        (r)[3] = (q0) + 2 * (q1) + 4 * (q2) + 8 * (q3);            \
        (r)[4] = (q0) - 2 * (q1) + 4 * (q2) - 8 * (q3);            \
        (r)[5] = (q3);                                             \
    } while (0)

/* D (36, O, rows of ld) = A dy_t A^T for every tile in tile rows [ti0, ti1) of dy (O, H,
 * W), the first at D[.][.][0]: each of the tile's 4 rows split into its 4 columns (8 tiles
 * a vector, of one tile row or of a pair) and turned into 6, then the same down the rows */
EM_KERNEL static void w4_dy(em_real *restrict D, size_t ld, const em_real *restrict dy, int O,
                            int H, int W, int ti0, int ti1) {
    const int TW = W / 4, pair = TW == 4;
    const size_t step = (size_t)O * ld;
    for (int o = 0; o < O; o++)
        for (int ti = ti0; ti < ti1; ti += 1 + pair)
            for (int tj = 0; tj < TW; tj += 8) {
                em_vec8 u[4][6];  /* [row r of the tile][column k of A dy's rows] */
                for (int r = 0; r < 4; r++) {
                    const em_real *sA = dy + ((size_t)o * H + 4 * ti + r) * W + 4 * tj;
                    const em_real *sB = pair ? sA + 4 * (size_t)W : sA + 16;
                    em_vec8 q[4];
                    w4_split(q, sA, sB);
                    A6(u[r], q[0], q[1], q[2], q[3]);
                }
                em_real *d = D + (size_t)o * ld + (size_t)(ti - ti0) * TW + tj;
                for (int k = 0; k < 6; k++) {
                    em_vec8 v[6];
                    A6(v, u[0][k], u[1][k], u[2][k], u[3][k]);
                    for (int i = 0; i < 6; i++) STOREV(d + (size_t)(6 * i + k) * step, v[i]);
                }
            }
}

void em_wino4_dw_images(em_real *Mw, const em_real *x, const em_real *dy, int C, int O, int H,
                        int W, int nimg, em_real *scratch) {
    const int TH = H / 4, TW = W / 4, per = w4_rows(C, O, H, W);
    const size_t CHW = (size_t)C * H * W, OHW = (size_t)O * H * W, ld = w4_ld(C, O, H, W);
    em_real *V = scratch, *D = V + 36 * (size_t)C * ld, *t = D + 36 * (size_t)O * ld;
    w4_margins(t, W);
    EM_ASSERT_MSG(nimg >= 1 && nimg <= em_wino_group(C, O, H, W), "em_wino4_dw_images: nimg");
    for (int ti0 = 0; ti0 < TH; ti0 += per) {
        int ti1 = ti0 + per < TH ? ti0 + per : TH, Tr = (ti1 - ti0) * TW, Tb = nimg * Tr;
        for (int n = 0; n < nimg; n++) {
            w4_input(V + (size_t)n * Tr, ld, x + n * CHW, C, H, W, ti0, ti1, t);
            w4_dy(D + (size_t)n * Tr, ld, dy + n * OHW, O, H, W, ti0, ti1);
        }
        for (int xi = 0; xi < 36; xi++)  /* Mw[xi] (O, C) += D[xi] (O, Tb) V[xi]^T */
            em_gemm_fast(false, true, O, C, Tb, 1, D + (size_t)xi * O * ld, (int)ld,
                         V + (size_t)xi * C * ld, (int)ld, 1, Mw + (size_t)xi * O * C, C);
    }
}

void em_wino4_dw_finish(em_real *dw, const em_real *Mw, int O, int C) {
    const size_t OC = (size_t)O * C;
    for (size_t oc = 0; oc < OC; oc++) {
        double m[6][6], t[3][6];
        for (int xi = 0; xi < 36; xi++) m[xi / 6][xi % 6] = Mw[xi * OC + oc];
        for (int p = 0; p < 3; p++)  /* t = G^T m */
            for (int k = 0; k < 6; k++) {
                double s = 0;
                for (int i = 0; i < 6; i++) s += W4_G[i][p] * m[i][k];
                t[p][k] = s;
            }
        em_real *g = dw + oc * 9;
        for (int p = 0; p < 3; p++)  /* g += t G */
            for (int q = 0; q < 3; q++) {
                double s = 0;
                for (int k = 0; k < 6; k++) s += t[p][k] * W4_G[k][q];
                g[p * 3 + q] += (em_real)s;
            }
    }
}

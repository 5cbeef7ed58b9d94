/* core/gemm_tile.h — the body of ember's GEMM (core/gemm_kernel.c explains it), included
 * once per instruction set. Before including, define
 *   GT(name)  the name with this variant's suffix (pack_a_avx512, ...)
 *   GT_ATTR   the variant's function attribute (target("avx512f,...")) or nothing
 *   VB        bytes per vector register: 64 (AVX-512), 32 (AVX2), 16 (SSE2)
 * The register tile is MR x NR = MR x (2 vectors): 2 MR accumulators, which with the two
 * B vectors and a broadcast must fit the registers: MR = 6 uses 15 of AVX2's and SSE's 16.
 * (MR = 8 would use 19 of AVX-512's 32 and waste no rows on the layer sizes 16, 32, 64 ...,
 * but measured slower on this project's machine: 56 against 86 GFLOP/s at 1024^3.) MR may
 * be defined before including. A last panel narrower than one vector runs a one-vector
 * loop (HoWo = 196 leaves 4 columns: 16 computed instead of 32). */
#define VL ((int)(VB / sizeof(em_real)))        /* lanes per vector                   */
#ifndef MR
#define MR 6                                    /* rows of the register tile          */
#endif
#define NR (2 * VL)                             /* columns: two vectors               */
#define KC 192
#define DIRECT_MAX_K 1024                       /* the direct kernel's longest K    */
#define MC (16 * MR)                            /* a multiple of MR                   */
#define NC (16 * NR)                            /* a multiple of NR                   */

typedef em_real GT(vec) __attribute__((vector_size(VB)));
/* the same vector at any em_real-aligned address: a plain unaligned load */
typedef em_real GT(uvec) __attribute__((vector_size(VB), aligned(sizeof(em_real))));


/* op(A)[i0 .. i0+mc)[k0 .. k0+kc) into panels of MR rows: panel p, step k at
 * Ap[(p * kc + k) * MR + r]; rows past mc are 0 */
GT_ATTR static void GT(pack_a)(em_real *restrict Ap, const em_real *A, int lda, bool ta, int i0,
                             int mc, int k0, int kc) {
    for (int p = 0; p * MR < mc; p++) {
        em_real *dst = Ap + (size_t)p * kc * MR;
        int rows = mc - p * MR < MR ? mc - p * MR : MR;
        if (!ta && rows == MR) {
            const em_real *src = A + (size_t)(i0 + p * MR) * lda + k0;
            for (int k = 0; k < kc; k++)
                for (int r = 0; r < MR; r++) dst[k * MR + r] = src[(size_t)r * lda + k];
        } else if (ta && rows == MR) {
            const em_real *src = A + (size_t)k0 * lda + i0 + p * MR;
            for (int k = 0; k < kc; k++)
                for (int r = 0; r < MR; r++) dst[k * MR + r] = src[(size_t)k * lda + r];
        } else {
            for (int k = 0; k < kc; k++)
                for (int r = 0; r < MR; r++)
                    dst[k * MR + r] = r < rows ? a_at(A, lda, ta, i0 + p * MR + r, k0 + k) : 0;
        }
    }
}

/* op(B)[k0 .. k0+kc)[j0 .. j0+nc) into panels of NR columns: panel p, step k at
 * Bp[(p * kc + k) * NR + c]; columns past nc are 0 */
GT_ATTR static void GT(pack_b)(em_real *restrict Bp, const em_real *B, int ldb, bool tb, int k0,
                             int kc, int j0, int nc) {
    for (int p = 0; p * NR < nc; p++) {
        em_real *dst = Bp + (size_t)p * kc * NR;
        int cols = nc - p * NR < NR ? nc - p * NR : NR;
        if (!tb && cols == NR) {
            const em_real *src = B + (size_t)k0 * ldb + j0 + p * NR;
            for (int k = 0; k < kc; k++) memcpy(dst + k * NR, src + (size_t)k * ldb, NR * sizeof *dst);
        } else if (tb && cols == NR) {
            const em_real *src = B + (size_t)(j0 + p * NR) * ldb + k0;
            for (int c = 0; c < NR; c++)  /* each row of B read in order */
                for (int k = 0; k < kc; k++) dst[k * NR + c] = src[(size_t)c * ldb + k];
        } else {
            for (int k = 0; k < kc; k++)
                for (int c = 0; c < NR; c++)
                    dst[k * NR + c] = c < cols ? b_at(B, ldb, tb, k0 + k, j0 + p * NR + c) : 0;
        }
    }
}

/* The MR x NR tile: t = Ap-panel x Bp-panel over kc steps, then
 * C[0..rows)[0..cols) = alpha t + beta C   (beta == 0: C is not read) */
#if MR == 8
#define GT_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#else
#define GT_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#endif
__attribute__((noinline)) GT_ATTR static void GT(micro_kernel)(int kc, const em_real *restrict Ap,
                                   const em_real *restrict Bp, em_real *C, int ldc, int rows,
                                   int cols, em_real alpha, em_real beta) {
    /* one named accumulator pair per row: named variables, not an array, so the
     * compiler keeps every one in a register */
#define GT_DECL(r) GT(vec) c##r##0 = {0}, c##r##1 = {0};
#define GT_FMA2(r) c##r##0 += a[r] * b0; c##r##1 += a[r] * b1;
#define GT_FMA1(r) c##r##0 += a[r] * b0;
#define GT_SAVE(r) memcpy(tile[r], &c##r##0, sizeof c##r##0); \
                   memcpy(tile[r] + VL, &c##r##1, sizeof c##r##1);
    GT_ROWS(GT_DECL)
    if (cols <= VL) {  /* a last, narrow panel: only the first vector's columns are used */
        for (int k = 0; k < kc; k++) {
            GT(vec) b0;
            memcpy(&b0, Bp + (size_t)k * NR, sizeof b0);
            const em_real *a = Ap + (size_t)k * MR;
            GT_ROWS(GT_FMA1)
        }
    } else {
        for (int k = 0; k < kc; k++) {
            GT(vec) b0, b1;
            memcpy(&b0, Bp + (size_t)k * NR, sizeof b0);
            memcpy(&b1, Bp + (size_t)k * NR + VL, sizeof b1);
            const em_real *a = Ap + (size_t)k * MR;
            GT_ROWS(GT_FMA2)
        }
    }
    em_real tile[MR][NR];
    GT_ROWS(GT_SAVE)
    if (rows == MR && cols == NR) {
        for (int r = 0; r < MR; r++)
            for (int h = 0; h < 2; h++) {
                em_real *cp = C + (size_t)r * ldc + h * VL;
                GT(vec) v;
                memcpy(&v, tile[r] + h * VL, sizeof v);
                v *= alpha;
                if (beta != 0) {
                    GT(vec) old;
                    memcpy(&old, cp, sizeof old);
                    v += beta * old;
                }
                memcpy(cp, &v, sizeof v);
            }
        return;
    }
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) {
            em_real *cp = C + (size_t)r * ldc + j;
            *cp = alpha * tile[r][j] + (beta != 0 ? beta * *cp : 0);
        }
#undef GT_DECL
#undef GT_FMA2
#undef GT_FMA1
#undef GT_SAVE
}
#undef GT_ROWS

/* ---- the direct kernel: nothing packed ------------------------------------------------
 * For the small products of a convolution (one image: 32 x 196 x 144, 144 x 196 x 32),
 * packing costs about as much as it saves: B's rows are already contiguous, and a K x NR
 * panel of them (18 KB at K = 144) stays in L1 while every row tile of C passes over it.
 * So each DMR x (nv VL) tile of C runs over all K reading B's row k where it is (nv
 * vector loads) and broadcasting DMR values of op(A) from where they are: op(A)[i][k] is
 * A[i lda + k], or A[k lda + i] when trans_a; rows past M repeat the last row (computed,
 * not stored). Columns past the last whole vector come from a zero-padded copy in Bb;
 * with trans_b all of op(B) is first transposed into Bb (when it fits: small B only).
 * Each entry of C is the sum over k = 0 .. K-1 in order, then C = alpha sum + beta C
 * (beta = 0: C is not read). */
#define DMR 4                                   /* rows of a direct tile               */
#define DB_MAX 32768                            /* floats of copied op(B): >= K_max VL */
#define DOT_MAX 65536                           /* floats of A and B for the dot kernel */

/* C[0 .. rows)[0 .. cols) = alpha tile + beta C, the tile (DMR, 4 VL) */
GT_ATTR static void GT(direct_store)(const em_real *tile, em_real *C, int ldc, int rows,
                                     int cols, em_real alpha, em_real beta) {
    for (int r = 0; r < rows; r++) {
        em_real *cp = C + (size_t)r * ldc;
        const em_real *t = tile + (size_t)r * 4 * VL;
        for (int j = 0; j < cols; j++) cp[j] = alpha * t[j] + (beta != 0 ? beta * cp[j] : 0);
    }
}

/* The tile functions, one per width NV = 4, 2, 1 vectors. Named accumulators c<r><h>
 * (not an array), so every one stays in a register; op(A)'s row r at step k is p[o<r>]
 * with p advancing ka per step. */
#define GT_DROWS(X) X(0) X(1) X(2) X(3)
#define GT_OFF(r) const size_t o##r = (size_t)(r < rows ? r : rows - 1) * ra;
#define GT_ST(r, h)                                                                    \
    if ((h) < NV) {                                                                    \
        em_real *cp = C + (size_t)(r) * ldc + (h) * VL;                                \
        GT(vec) v = c##r##h * alpha;                                                   \
        if (beta != 0) v += beta * *(const GT(uvec) *)cp;                              \
        *(GT(uvec) *)cp = v;                                                           \
    }
#define GT_SV(r, h) if ((h) < NV) memcpy(tile[r] + (h) * VL, &c##r##h, sizeof c##r##h);
#define GT_DECL(r) GT(vec) c##r##0 = {0}, c##r##1 = {0}, c##r##2 = {0}, c##r##3 = {0};
#define GT_FMA(r)                                                                      \
    {                                                                                  \
        em_real x = p[o##r];                                                           \
        c##r##0 += x * b0;                                                             \
        if (NV > 1) c##r##1 += x * b1;                                                 \
        if (NV > 2) { c##r##2 += x * b2; c##r##3 += x * b3; }                          \
    }
#define GT_STORE(r) GT_ST(r, 0) GT_ST(r, 1) GT_ST(r, 2) GT_ST(r, 3)
#define GT_SAVE(r) GT_SV(r, 0) GT_SV(r, 1) GT_SV(r, 2) GT_SV(r, 3)
#define GT_DIRECT_TILE(name)                                                           \
    __attribute__((noinline)) GT_ATTR static void GT(name)(                            \
        int K, const em_real *restrict A, size_t ka, size_t ra,                        \
        const em_real *restrict Bj, int ldb, em_real *C, int ldc, int rows, int cols,  \
        em_real alpha, em_real beta) {                                                 \
        GT_DROWS(GT_OFF)                                                               \
        GT_DROWS(GT_DECL)                                                              \
        const em_real *p = A;                                                          \
        for (int k = 0; k < K; k++, p += ka) {                                         \
            const em_real *bk = Bj + (size_t)k * ldb;                                  \
            GT(vec) b0 = *(const GT(uvec) *)bk, b1 = b0, b2 = b0, b3 = b0;             \
            if (NV > 1) b1 = *(const GT(uvec) *)(bk + VL);                             \
            if (NV > 2) {                                                              \
                b2 = *(const GT(uvec) *)(bk + 2 * VL);                                 \
                b3 = *(const GT(uvec) *)(bk + 3 * VL);                                 \
            }                                                                          \
            GT_DROWS(GT_FMA)                                                           \
        }                                                                              \
        if (rows == DMR && cols == NV * VL) {                                          \
            GT_DROWS(GT_STORE)                                                         \
            return;                                                                    \
        }                                                                              \
        em_real tile[DMR][4 * VL];                                                     \
        GT_DROWS(GT_SAVE)                                                              \
        GT(direct_store)(&tile[0][0], C, ldc, rows, cols, alpha, beta);                \
    }
#define NV 4
GT_DIRECT_TILE(direct_tile4)
#undef NV
#define NV 2
GT_DIRECT_TILE(direct_tile2)
#undef NV
#define NV 1
GT_DIRECT_TILE(direct_tile1)
#undef NV
#undef GT_DIRECT_TILE
#undef GT_OFF
#undef GT_ST
#undef GT_SV
#undef GT_DECL
#undef GT_FMA
#undef GT_STORE
#undef GT_SAVE
#undef GT_DROWS

/* 8 em_reals, for the transpose below (two or four registers where vectors are smaller) */
typedef em_real GT(v8) __attribute__((vector_size(8 * sizeof(em_real))));
typedef em_real GT(uv8) __attribute__((vector_size(8 * sizeof(em_real)), aligned(sizeof(em_real))));

/* Bb (K, Np) = B^T for B (N, K) with row stride ldb, columns N .. Np of Bb 0. Blocks of
 * 8 x 8 are transposed in registers, three rounds of 8 two-vector shuffles (rows of the
 * block r[i], round by round: pairs of values, then pairs of pairs, then halves); the
 * edges go one value at a time. (One value at a time throughout was 7% of a cifar-cnn
 * training step, whose weight gradients transpose 2 M values a step.) */
GT_ATTR static void GT(transpose_b)(em_real *restrict Bb, int Np, const em_real *restrict B,
                                    int ldb, int N, int K) {
    const int N8 = N / 8 * 8, K8 = K / 8 * 8;
/* the three rounds' lane choices (a: 0-7, b: 8-15), for GCC 12 and clang alike */
#define GT_P0(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 4, 12, 5, 13)
#define GT_P1(a, b) __builtin_shufflevector(a, b, 2, 10, 3, 11, 6, 14, 7, 15)
#define GT_Q0(a, b) __builtin_shufflevector(a, b, 0, 1, 8, 9, 4, 5, 12, 13)
#define GT_Q1(a, b) __builtin_shufflevector(a, b, 2, 3, 10, 11, 6, 7, 14, 15)
#define GT_H0(a, b) __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11)
#define GT_H1(a, b) __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15)
    for (int j0 = 0; j0 < N8; j0 += 8)
        for (int k0 = 0; k0 < K8; k0 += 8) {
            GT(v8) r[8], t[8], u[8];
            for (int i = 0; i < 8; i++) r[i] = *(const GT(uv8) *)(B + (size_t)(j0 + i) * ldb + k0);
            for (int i = 0; i < 8; i += 2) {
                t[i] = GT_P0(r[i], r[i + 1]);
                t[i + 1] = GT_P1(r[i], r[i + 1]);
            }
            for (int i = 0; i < 8; i += 4) {
                u[i] = GT_Q0(t[i], t[i + 2]);
                u[i + 1] = GT_Q1(t[i], t[i + 2]);
                u[i + 2] = GT_Q0(t[i + 1], t[i + 3]);
                u[i + 3] = GT_Q1(t[i + 1], t[i + 3]);
            }
            /* u[0..3] hold rows 0-3 of columns (0,4), (1,5), (2,6), (3,7); u[4..7] rows 4-7 */
            for (int m = 0; m < 4; m++) {
                *(GT(uv8) *)(Bb + (size_t)(k0 + m) * Np + j0) = GT_H0(u[m], u[m + 4]);
                *(GT(uv8) *)(Bb + (size_t)(k0 + m + 4) * Np + j0) =
                    GT_H1(u[m], u[m + 4]);
            }
        }
    for (int j = 0; j < N8; j++)
        for (int k = K8; k < K; k++) Bb[(size_t)k * Np + j] = B[(size_t)j * ldb + k];
    for (int j = N8; j < Np; j++)
        for (int k = 0; k < K; k++) Bb[(size_t)k * Np + j] = j < N ? B[(size_t)j * ldb + k] : 0;
}
#undef GT_P0
#undef GT_P1
#undef GT_Q0
#undef GT_Q1
#undef GT_H0
#undef GT_H1

/* C = alpha op(A) op(B) + beta C, K <= DIRECT_MAX_K; with trans_b only when the whole
 * op(B), zero-padded to whole vectors, fits Bb (K ceil(N / VL) VL <= DB_MAX). Column
 * blocks of 4 vectors, then 2, then 1, then the last < VL columns from Bb (from B^T's
 * zero padding when trans_b); each block over all row tiles (B's panel stays in L1). */
__attribute__((noinline)) GT_ATTR static void GT(gemm_direct)(
    bool trans_a, bool trans_b, int M, int N, int K, em_real alpha, const em_real *A,
    int lda, const em_real *B, int ldb, em_real beta, em_real *C, int ldc) {
    _Alignas(64) em_real Bb[DB_MAX];
    int tail = N % VL;                          /* columns read from Bb */
    int Nv = N - tail;                          /* columns in whole vectors of B */
    if (trans_b) {                              /* Bb (K, Np) = B^T, zero-padded */
        int Np = (N + VL - 1) / VL * VL;
        Nv = Np;
        GT(transpose_b)(Bb, Np, B, ldb, N, K);
        B = Bb;
        ldb = Np;
        tail = 0;
    }
    for (int k = 0; tail && k < K; k++) {       /* Bb (K, VL) = B's last tail columns */
        memcpy(Bb + (size_t)k * VL, B + (size_t)k * ldb + (N - tail), (size_t)tail * sizeof *Bb);
        memset(Bb + (size_t)k * VL + tail, 0, (size_t)(VL - tail) * sizeof *Bb);
    }
    /* op(A)[i][k] = A[i ra + k ka] */
    const size_t ka = trans_a ? (size_t)lda : 1, ra = trans_a ? 1 : (size_t)lda;
    int j = 0;
    for (int nv = 4; nv >= 1; nv /= 2)
        for (; j + nv * VL <= Nv; j += nv * VL)
            for (int i = 0; i < M; i += DMR) {
                int rows = M - i < DMR ? M - i : DMR, cols = N - j < nv * VL ? N - j : nv * VL;
                const em_real *Ai = A + (size_t)i * ra;
                em_real *Cij = C + (size_t)i * ldc + j;
                if (nv == 4)
                    GT(direct_tile4)(K, Ai, ka, ra, B + j, ldb, Cij, ldc, rows, cols, alpha, beta);
                else if (nv == 2)
                    GT(direct_tile2)(K, Ai, ka, ra, B + j, ldb, Cij, ldc, rows, cols, alpha, beta);
                else
                    GT(direct_tile1)(K, Ai, ka, ra, B + j, ldb, Cij, ldc, rows, cols, alpha, beta);
            }
    for (int i = 0; tail && i < M; i += DMR)
        GT(direct_tile1)(K, A + (size_t)i * ra, ka, ra, Bb, VL, C + (size_t)i * ldc + j, ldc,
                         M - i < DMR ? M - i : DMR, tail, alpha, beta);
}

/* ---- the dot kernel: C = alpha A B^T + beta C as dot products -------------------------
 * When both operands are stored with K contiguous (A not transposed, B transposed) and K
 * is long while M and N are short (a convolution's weight gradient, dW = dY cols^T: 16 x 9
 * entries, each a sum over 784 pixels), packing would cost as much as the products. So
 * each 4 x 3 tile of C keeps 12 vector accumulators over K (K a multiple of VL), reading
 * 4 rows of A and 3 of B in place, and sums each accumulator's lanes at the end. Rows and
 * columns past M, N repeat the last one (computed, not stored). */
__attribute__((noinline)) GT_ATTR static void GT(gemm_dot)(int M, int N, int K, em_real alpha, const em_real *A, int lda,
                                 const em_real *B, int ldb, em_real beta, em_real *C,
                                 int ldc) {
    for (int i = 0; i < M; i += 4)
        for (int j = 0; j < N; j += 3) {
            const em_real *a[4], *b[3];
            for (int r = 0; r < 4; r++) a[r] = A + (size_t)(i + r < M ? i + r : M - 1) * lda;
            for (int c = 0; c < 3; c++) b[c] = B + (size_t)(j + c < N ? j + c : N - 1) * ldb;
            GT(vec) acc[4][3] = {{{0}}};
            for (int k = 0; k < K; k += VL) {
                GT(vec) va[4], vb[3];
                for (int r = 0; r < 4; r++) memcpy(&va[r], a[r] + k, sizeof va[r]);
                for (int c = 0; c < 3; c++) memcpy(&vb[c], b[c] + k, sizeof vb[c]);
                for (int r = 0; r < 4; r++)
                    for (int c = 0; c < 3; c++) acc[r][c] += va[r] * vb[c];
            }
            for (int r = 0; r < 4 && i + r < M; r++)
                for (int c = 0; c < 3 && j + c < N; c++) {
                    em_real t = 0;
                    for (int l = 0; l < VL; l++) t += acc[r][c][l];
                    em_real *cp = C + (size_t)(i + r) * ldc + j + c;
                    *cp = alpha * t + (beta != 0 ? beta * *cp : 0);
                }
        }
}

/* the packed Goto/BLIS loops (the file's header explains them) */
__attribute__((noinline)) GT_ATTR static void GT(gemm_packed)(bool trans_a, bool trans_b, int M, int N, int K,
                                    em_real alpha, const em_real *A, int lda,
                                    const em_real *B, int ldb, em_real beta, em_real *C,
                                    int ldc) {
    _Alignas(64) em_real Ap[MC * KC];
    _Alignas(64) em_real Bp[KC * NC];
    for (int jc = 0; jc < N; jc += NC) {
        int nc = N - jc < NC ? N - jc : NC;
        /* K blocks of equal length (at most KC): 196 is 98 + 98, not 192 + a 4-step
         * block that would pack and store C for 4 steps of work */
        int kb = (K + KC - 1) / KC, kstep = (K + kb - 1) / kb;
        for (int pc = 0; pc < K; pc += kstep) {
            int kc = K - pc < kstep ? K - pc : kstep;
            em_real bk = pc == 0 ? beta : 1;  /* later K blocks add to what the first wrote */
            GT(pack_b)(Bp, B, ldb, trans_b, pc, kc, jc, nc);
            for (int ic = 0; ic < M; ic += MC) {
                int mc = M - ic < MC ? M - ic : MC;
                GT(pack_a)(Ap, A, lda, trans_a, ic, mc, pc, kc);
                for (int jr = 0; jr < nc; jr += NR)
                    for (int ir = 0; ir < mc; ir += MR)
                        GT(micro_kernel)(kc, Ap + (size_t)(ir / MR) * kc * MR,
                                     Bp + (size_t)(jr / NR) * kc * NR,
                                     C + (size_t)(ic + ir) * ldc + jc + jr, ldc,
                                     mc - ir < MR ? mc - ir : MR, nc - jr < NR ? nc - jr : NR,
                                     alpha, bk);
            }
        }
    }
}

/* the path for an M x N x K product (core/gemm_kernel.c: a product split into pieces
 * takes the whole product's path, so the sums do not depend on the split) */
GT_ATTR static em_gemm_path GT(plan)(bool trans_a, bool trans_b, int M, int N, int K) {
    if (!trans_a && trans_b && K % VL == 0 && K >= 16 * VL && (size_t)K * (M + N) <= DOT_MAX)
        return EM_GEMM_DOT;
    if (K <= DIRECT_MAX_K && (!trans_b || (size_t)K * ((N + VL - 1) / VL * VL) <= DB_MAX))
        return EM_GEMM_DIRECT;
    return EM_GEMM_PACKED;
}

/* C = alpha op(A) op(B) + beta C by the given path (which must fit: GT(plan) of this
 * product or of a larger one it is a piece of) */
GT_ATTR static void GT(gemm)(em_gemm_path path, bool trans_a, bool trans_b, int M, int N,
                             int K, em_real alpha, const em_real *A, int lda, const em_real *B,
                             int ldb, em_real beta, em_real *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0) { /* C = beta C */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                em_real *cp = C + (size_t)i * ldc + j;
                *cp = beta != 0 ? beta * *cp : 0;
            }
        return;
    }
    if (path == EM_GEMM_DOT)
        GT(gemm_dot)(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else if (path == EM_GEMM_DIRECT)
        GT(gemm_direct)(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        GT(gemm_packed)(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#undef VL
#undef MR
#undef NR
#undef KC
#undef MC
#undef NC
#undef DIRECT_MAX_K
#undef DMR
#undef DB_MAX
#undef DOT_MAX

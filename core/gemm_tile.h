/* core/gemm_tile.h — the body of ember's GEMM (core/gemm_kernel.c explains it), included
 * once per instruction set. Before including, define
 *   GT(name)  the name with this variant's suffix (pack_a_avx512, ...)
 *   GT_ATTR   the variant's function attribute (target("avx512f,...")) or nothing
 *   VB        bytes per vector register: 64 (AVX-512), 32 (AVX2), 16 (SSE2)
 * The register tile is MR x NR = 6 x (2 vectors): 12 accumulators, which with the two B
 * vectors and a broadcast fit each instruction set's 16 (or 32) vector registers. */
#define VL ((int)(VB / sizeof(em_real)))        /* lanes per vector                   */
#define MR 6                                    /* rows of the register tile          */
#define NR (2 * VL)                             /* columns: two vectors               */
#define KC 192
#define MC 96                                   /* a multiple of MR                   */
#define NC (16 * NR)                            /* a multiple of NR                   */

typedef em_real GT(vec) __attribute__((vector_size(VB)));


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
            for (int k = 0; k < kc; k++)
                for (int c = 0; c < NR; c++) dst[k * NR + c] = src[(size_t)c * ldb + k];
        } else {
            for (int k = 0; k < kc; k++)
                for (int c = 0; c < NR; c++)
                    dst[k * NR + c] = c < cols ? b_at(B, ldb, tb, k0 + k, j0 + p * NR + c) : 0;
        }
    }
}

/* The MR x NR tile: t = Ap-panel x Bp-panel over kc steps, then
 * C[0..rows)[0..cols) = alpha t + beta C   (beta == 0: C is not read) */
GT_ATTR static void GT(micro_kernel)(int kc, const em_real *restrict Ap,
                                   const em_real *restrict Bp, em_real *C, int ldc, int rows,
                                   int cols, em_real alpha, em_real beta) {
    GT(vec) c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
    GT(vec) c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
    for (int k = 0; k < kc; k++) {
        GT(vec) b0, b1;
        memcpy(&b0, Bp + (size_t)k * NR, sizeof b0);
        memcpy(&b1, Bp + (size_t)k * NR + VL, sizeof b1);
        const em_real *a = Ap + (size_t)k * MR;
        c00 += a[0] * b0; c01 += a[0] * b1;
        c10 += a[1] * b0; c11 += a[1] * b1;
        c20 += a[2] * b0; c21 += a[2] * b1;
        c30 += a[3] * b0; c31 += a[3] * b1;
        c40 += a[4] * b0; c41 += a[4] * b1;
        c50 += a[5] * b0; c51 += a[5] * b1;
    }
    GT(vec) t[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (rows == MR && cols == NR) {
        for (int r = 0; r < MR; r++)
            for (int h = 0; h < 2; h++) {
                em_real *cp = C + (size_t)r * ldc + h * VL;
                GT(vec) v = alpha * t[r][h];
                if (beta != 0) {
                    GT(vec) old;
                    memcpy(&old, cp, sizeof old);
                    v += beta * old;
                }
                memcpy(cp, &v, sizeof v);
            }
        return;
    }
    em_real tile[MR][NR];
    memcpy(tile, t, sizeof tile);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            em_real *cp = C + (size_t)r * ldc + c;
            *cp = alpha * tile[r][c] + (beta != 0 ? beta * *cp : 0);
        }
}

GT_ATTR static void GT(gemm)(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
                             const em_real *A, int lda, const em_real *B, int ldb,
                             em_real beta, em_real *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0) { /* C = beta C */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                em_real *cp = C + (size_t)i * ldc + j;
                *cp = beta != 0 ? beta * *cp : 0;
            }
        return;
    }
    _Alignas(64) em_real Ap[MC * KC];
    _Alignas(64) em_real Bp[KC * NC];
    for (int jc = 0; jc < N; jc += NC) {
        int nc = N - jc < NC ? N - jc : NC;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
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

#undef VL
#undef MR
#undef NR
#undef KC
#undef MC
#undef NC

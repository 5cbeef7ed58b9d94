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
#define MC (16 * MR)                            /* a multiple of MR                   */
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
#if MR == 8
#define GT_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#else
#define GT_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#endif
GT_ATTR static void GT(micro_kernel)(int kc, const em_real *restrict Ap,
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

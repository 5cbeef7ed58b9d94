/* core/fast/gemm.c — em_gemm_fast: ember's own kernel (gemm_kernel.c) on the products it
 * wins, one OpenBLAS call on the largest, split across the threads. */
#include "gemm.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* One piece of a product, on the calling thread. ember's kernel takes every product its
 * direct or dot path fits (the small products of a convolution, one image at a time: it
 * beats OpenBLAS 0.3.21 there, ember-peak's shape table shows by how much) and every
 * small one; OpenBLAS takes the large products that would need the packed path, where its
 * kernels run at the machine's peak and it does not allocate. (For small products
 * OpenBLAS 0.3.21 takes a "small matrix" path that mallocs on every call without a
 * transpose.) The threshold is OpenBLAS's own bound for that path (M N K <= 100^3), with
 * a margin; ember-bench reports mallocs per step, and the training test counts them, so
 * a change on either side shows. */
#define BLAS_MIN_MACS 2.0e6

static void gemm_piece(bool use_blas, em_gemm_path path, bool trans_a, bool trans_b, int M,
                       int N, int K, em_real alpha, const em_real *A, int lda,
                       const em_real *B, int ldb, em_real beta, em_real *C, int ldc) {
    if (use_blas)
        em_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        em_gemm_kernel_piece(path, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C,
                             ldc);
}

/* Below this many multiply-adds a product runs on one thread (a fork costs more). */
#define PAR_MACS 8.0e6

/* Threads split C into blocks of rows (or of columns, when N is the longer side), each
 * block one single-threaded BLAS call: op(A)'s rows m0.. start at A + m0 lda (A + m0
 * when transposed); op(B)'s columns n0.. at B + n0 (B + n0 ldb when transposed). Each
 * entry of C is computed by exactly one call, so the result does not depend on the
 * thread count. Inside an enclosing parallel region (a convolution over images) the
 * product runs on the calling thread. */
void em_gemm_fast(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
                  const em_real *A, int lda, const em_real *B, int ldb, em_real beta,
                  em_real *C, int ldc) {
    if (M == 0 || N == 0) return;
    /* decided on the whole product, never on a thread's piece: which kernel computes an
     * entry of C must not depend on the thread count (both sum over K in a fixed order,
     * so each entry is then the same with any number of threads) */
    em_gemm_path path = em_gemm_kernel_path(trans_a, trans_b, M, N, K);
    bool use_blas = path == EM_GEMM_PACKED && (double)M * N * K >= BLAS_MIN_MACS;
#ifdef _OPENMP
    int nt = omp_get_level() > 0 ? 1 : omp_get_max_threads();
    double macs = (double)M * N * K;
    if (nt > 1 && macs >= PAR_MACS && (M >= 16 * nt || N >= 16 * nt)) {
        bool by_rows = M >= N;
        int len = by_rows ? M : N;
        /* blocks of whole 16s, so the BLAS kernels see aligned full tiles */
        int blk = ((len + nt - 1) / nt + 15) / 16 * 16;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int t = 0; t < nt; t++) {
            int lo = t * blk, hi = lo + blk < len ? lo + blk : len;
            if (lo >= hi) continue;
            if (by_rows)
                gemm_piece(use_blas, path, trans_a, trans_b, hi - lo, N, K, alpha,
                          A + (trans_a ? (size_t)lo : (size_t)lo * lda), lda, B, ldb, beta,
                          C + (size_t)lo * ldc, ldc);
            else
                gemm_piece(use_blas, path, trans_a, trans_b, M, hi - lo, K, alpha, A, lda,
                          B + (trans_b ? (size_t)lo * ldb : (size_t)lo), ldb, beta, C + lo,
                          ldc);
        }
        return;
    }
#endif
    gemm_piece(use_blas, path, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}


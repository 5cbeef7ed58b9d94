/* core/gemm.c — em_gemm (one OpenBLAS call) and em_gemm_ref (three plain loops). The fast
 * tier's em_gemm_fast is core/fast/gemm.c. */
#include "gemm.h"

#include <cblas.h>

/* one BLAS call, on the calling thread (OpenBLAS runs single-threaded: core/parallel.h) */
void em_gemm(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
             const em_real *A, int lda, const em_real *B, int ldb, em_real beta,
             em_real *C, int ldc) {
#ifdef EM_DOUBLE
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta,
                C, ldc);
#else
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta,
                C, ldc);
#endif
}

/* C[i][j] = alpha * sum_k opA[i][k] * opB[k][j] + beta * C[i][j]
 * opA[i][k] = trans_a ? A[k*lda + i] : A[i*lda + k]
 * opB[k][j] = trans_b ? B[j*ldb + k] : B[k*ldb + j]
 * The sum runs in double so the reference is at least as accurate as what it checks. */
void em_gemm_ref(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
                 const em_real *A, int lda, const em_real *B, int ldb, em_real beta,
                 em_real *C, int ldc) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) {
                double a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc += a * b;
            }
            em_real *c = &C[(size_t)i * ldc + j];
            /* beta == 0 overwrites, as BLAS does: C may hold garbage (or NaN) */
            *c = (em_real)(alpha * acc + (beta == 0 ? 0.0 : (double)beta * *c));
        }
    }
}

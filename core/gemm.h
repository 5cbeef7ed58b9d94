/** core/gemm.h — the matrix products every op goes through.
 *
 *   C (M x N) = alpha * op(A) * op(B) + beta * C,   row-major,
 *   op(A) is A (M x K, leading dimension lda) or A^T when trans_a (A stored K x M),
 *   op(B) is B (K x N, ldb) or B^T when trans_b (B stored N x K).
 *
 * em_gemm is one OpenBLAS call (cblas_sgemm, cblas_dgemm in the double build) on the
 * calling thread: the reference tier's matrix product (core/kernels.h). em_gemm_fast is
 * the fast tier's: ember's own packed, register-blocked kernel (core/fast/gemm_kernel.c),
 * split across the OpenMP threads for large products, OpenBLAS for the largest
 * (core/fast/gemm.c). em_gemm_ref is the product as three plain loops: the definition the
 * tests compare both against, and the one to read first.
 *
 * As in BLAS, beta = 0 means C is written without being read (it may hold garbage).
 *
 * @file
 */
#ifndef EM_GEMM_H
#define EM_GEMM_H

#include <stdbool.h>

#include "tensor.h"

/** C = alpha op(A) op(B) + beta C through OpenBLAS, on the calling thread.
 * @copydetails em_gemm_ref */
void em_gemm(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
             const em_real *A, int lda, const em_real *B, int ldb, em_real beta,
             em_real *C, int ldc);

/** The same product by ember's own kernel, split across the threads (the fast tier's):
 * each entry of C is computed the same whatever the thread count.
 * @copydetails em_gemm_ref */
void em_gemm_fast(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
                  const em_real *A, int lda, const em_real *B, int ldb, em_real beta,
                  em_real *C, int ldc);

/** The same product as three plain loops (sums in double): the reference.
 * @param trans_a  use A^T (A stored K x M)
 * @param trans_b  use B^T (B stored N x K)
 * @param M        rows of C
 * @param N        columns of C
 * @param K        the inner dimension
 * @param alpha    scales op(A) op(B)
 * @param A        the left matrix, row-major
 * @param lda      A's leading dimension (its row length in memory)
 * @param B        the right matrix, row-major
 * @param ldb      B's leading dimension
 * @param beta     scales C before the sum (0: C is overwritten, even if it held NaN)
 * @param C        M x N, row-major, updated
 * @param ldc      C's leading dimension */
void em_gemm_ref(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
                 const em_real *A, int lda, const em_real *B, int ldb, em_real beta,
                 em_real *C, int ldc);

#endif

/* core/gemm.h — the one matrix multiply everything goes through.
 *
 *   C (M x N) = alpha * op(A) * op(B) + beta * C,   row-major,
 *   op(A) is A (M x K, leading dimension lda) or A^T when trans_a (A stored K x M),
 *   op(B) is B (K x N, ldb) or B^T when trans_b (B stored N x K).
 *
 * em_gemm calls OpenBLAS (cblas_sgemm, or cblas_dgemm in the double build). em_gemm_ref
 * is the same product as three plain loops: the definition the tests compare against,
 * and the one to read first.
 */
#ifndef EM_GEMM_H
#define EM_GEMM_H

#include <stdbool.h>

#include "tensor.h"

void em_gemm(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
             const em_real *A, int lda, const em_real *B, int ldb, em_real beta,
             em_real *C, int ldc);

void em_gemm_ref(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
                 const em_real *A, int lda, const em_real *B, int ldb, em_real beta,
                 em_real *C, int ldc);

#endif

/** core/gemm.h — the one matrix multiply everything goes through.
 *
 *   C (M x N) = alpha * op(A) * op(B) + beta * C,   row-major,
 *   op(A) is A (M x K, leading dimension lda) or A^T when trans_a (A stored K x M),
 *   op(B) is B (K x N, ldb) or B^T when trans_b (B stored N x K).
 *
 * em_gemm runs ember's own packed, register-blocked kernel (core/gemm_kernel.c:
 * AVX-512/AVX2/plain chosen at run time, no allocation), split across the OpenMP threads
 * for large products (core/gemm.c). em_gemm_kernel is that kernel on the calling thread;
 * em_gemm_blas the same product by OpenBLAS (cblas_sgemm/dgemm), kept for comparison
 * (tests, bench). em_gemm_ref is the product as three plain loops: the definition the
 * tests compare against, and the one to read first.
 *
 * As in BLAS, beta = 0 means C is written without being read (it may hold garbage).
 *
 * @file
 */
#ifndef EM_GEMM_H
#define EM_GEMM_H

#include <stdbool.h>

#include "tensor.h"

/** C = alpha op(A) op(B) + beta C through OpenBLAS.
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
void em_gemm(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
             const em_real *A, int lda, const em_real *B, int ldb, em_real beta,
             em_real *C, int ldc);

/** em_gemm's kernel on the calling thread, no threads.
 * @copydetails em_gemm_ref */
void em_gemm_kernel(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
                    const em_real *A, int lda, const em_real *B, int ldb, em_real beta,
                    em_real *C, int ldc);

/** The three paths of ember's kernel (core/gemm_tile.h): packed panels (Goto/BLIS), the
 * direct kernel (op(B)'s rows read in place; K <= 1024, and a transposed B only when it
 * is small), and dot products (A B^T with a long K and small M, N). */
typedef enum em_gemm_path { EM_GEMM_PACKED, EM_GEMM_DIRECT, EM_GEMM_DOT } em_gemm_path;

/** The path em_gemm_kernel takes for an M x N x K product on this CPU.
 * @param trans_a  use A^T
 * @param trans_b  use B^T
 * @param M        rows of C
 * @param N        columns of C
 * @param K        the inner dimension
 * @return the path */
em_gemm_path em_gemm_kernel_path(bool trans_a, bool trans_b, int M, int N, int K);

/** em_gemm_kernel by a given path: for a piece of a larger product, which must take the
 * whole product's path (em_gemm_kernel_path of the whole) so that each entry of C is
 * summed the same way however the product is split.
 * @param path     em_gemm_kernel_path of the whole product
 * @copydetails em_gemm_ref */
void em_gemm_kernel_piece(em_gemm_path path, bool trans_a, bool trans_b, int M, int N, int K,
                          em_real alpha, const em_real *A, int lda, const em_real *B, int ldb,
                          em_real beta, em_real *C, int ldc);

/** The same product by OpenBLAS (cblas_sgemm or cblas_dgemm), for comparison.
 * @copydetails em_gemm_ref */
void em_gemm_blas(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
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

/* core/fast/gemm.h — ember's own GEMM kernel (core/fast/gemm_kernel.c), which em_gemm_fast
 * splits across threads (core/fast/gemm.c). Not installed: tests and ember-peak use it. */
#ifndef EM_FAST_GEMM_H
#define EM_FAST_GEMM_H

#include "../gemm.h"

/* em_gemm_fast's kernel on the calling thread, no threads */
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

#endif

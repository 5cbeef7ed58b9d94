/* core/fast/gemm_kernel.c — ember's own single-threaded GEMM, three ways: packed panels with
 * a register-blocked micro-kernel (the classic Goto/BLIS structure), a direct kernel that
 * packs nothing, and dot products; plain C with vector extensions.
 *
 *   C (M x N) = alpha op(A) op(B) + beta C,  row-major, as em_gemm_fast (core/gemm.h).
 *
 * Why not only OpenBLAS: for the small products of small CNNs (16 x 784 x 9, 32 x 196 x
 * 144, one image at a time) OpenBLAS 0.3.21 takes a "small matrix" path that mallocs on
 * every call without a transpose, and which kernels it uses depends on OPENBLAS_CORETYPE;
 * a training step must not allocate, and ember must use the AVX-512 units whatever
 * OpenBLAS is told. The direct kernel below also runs those products faster than
 * OpenBLAS does (bench/peak.c's shape table).
 *
 * The paths (core/fast/gemm_tile.h; em_gemm_kernel_path picks one from the shape):
 *  - dot: A B^T with a long K (a multiple of the vector length) and small M, N — a
 *    convolution's weight gradient with few filters. Each 4 x 3 tile of C keeps 12 vector
 *    accumulators over K, reading both operands in place.
 *  - direct: K <= 1024, and op(B) not transposed (or small enough to transpose into a
 *    stack buffer first). Each 4 x (4, 2 or 1 vectors) tile of C runs over all K, loading
 *    B's rows where they are and broadcasting op(A)'s values from where they are: no
 *    packing at all, which for one image's products costs as much as it saves.
 *  - packed: everything else. K is cut into blocks of at most KC (equal lengths), N into
 *    blocks of NC, M into blocks of MC. For each (K, N) block, op(B) is packed into panels
 *    of NR columns (for each k, NR consecutive values); for each M block inside it, op(A)
 *    into panels of MR rows. The micro-kernel multiplies one A panel by one B panel: an
 *    MR x NR tile of C held in registers, KC rank-1 updates. Packing makes every load
 *    unit-stride and aligned, whatever the transposes; zero padding lets the micro-kernel
 *    always run on full tiles (the edges are copied out of a local tile).
 * core/fast/gemm_tile.h holds the code once and is compiled three times — AVX-512 (64-byte
 * vectors), AVX2 + FMA (32) and baseline SSE2 (16) — and the best the CPU has is used
 * (__builtin_cpu_supports). Built with EM_PORTABLE, only the SSE2 variant exists, and the
 * test suites run it.
 *
 * Each entry of C is summed the same way whatever the tile it falls in, so a product split
 * into pieces gives the same C as long as every piece takes the whole product's path
 * (em_gemm_kernel_piece). beta = 0 never reads C, so C may hold anything (a fresh gradient
 * buffer, NaN poison) — as BLAS defines it. The buffers live on the stack (at most about
 * 400 KB): no allocation, no shared state.
 */
#include <stdint.h>
#include <string.h>

#include "gemm.h"

/* op(A)[i][k] */
static inline em_real a_at(const em_real *A, int lda, bool ta, int i, int k) {
    return ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
}
/* op(B)[k][j] */
static inline em_real b_at(const em_real *B, int ldb, bool tb, int k, int j) {
    return tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(EM_PORTABLE)
#define EM_X86_DISPATCH 1
#else
#define EM_X86_DISPATCH 0
#endif

/* ISO C mode does not contract a * b + c into one fused multiply-add; the micro-kernel is
 * nothing but those, so ask for it (GCC; the result differs from the separate multiply
 * and add only in the last bit of each product's rounding) */
#if defined(__GNUC__) && !defined(__clang__)
#define GT_CONTRACT optimize("fp-contract=fast"),
#else
#define GT_CONTRACT
#endif

#if EM_X86_DISPATCH
#define GT(name) name##_avx512
#define GT_ATTR __attribute__((GT_CONTRACT target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
#define VB 64
#include "gemm_tile.h"
#undef GT
#undef GT_ATTR
#undef VB

#define GT(name) name##_avx2
#define GT_ATTR __attribute__((GT_CONTRACT target("avx2,fma")))
#define VB 32
#include "gemm_tile.h"
#undef GT
#undef GT_ATTR
#undef VB
#endif

#define GT(name) name##_sse2
#define GT_ATTR
#define VB 16
#include "gemm_tile.h"
#undef GT
#undef GT_ATTR
#undef VB

#if EM_X86_DISPATCH
/* the variant for this CPU: 2 AVX-512, 1 AVX2 + FMA, 0 SSE2 */
static int variant(void) {
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
    return 0;
}
#endif

em_gemm_path em_gemm_kernel_path(bool trans_a, bool trans_b, int M, int N, int K) {
#if EM_X86_DISPATCH
    switch (variant()) {
    case 2: return plan_avx512(trans_a, trans_b, M, N, K);
    case 1: return plan_avx2(trans_a, trans_b, M, N, K);
    }
#endif
    return plan_sse2(trans_a, trans_b, M, N, K);
}

void em_gemm_kernel_piece(em_gemm_path path, bool trans_a, bool trans_b, int M, int N, int K,
                          em_real alpha, const em_real *A, int lda, const em_real *B, int ldb,
                          em_real beta, em_real *C, int ldc) {
#if EM_X86_DISPATCH
    switch (variant()) {
    case 2:
        gemm_avx512(path, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    case 1:
        gemm_avx2(path, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#endif
    gemm_sse2(path, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void em_gemm_kernel(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
                    const em_real *A, int lda, const em_real *B, int ldb, em_real beta,
                    em_real *C, int ldc) {
    em_gemm_kernel_piece(em_gemm_kernel_path(trans_a, trans_b, M, N, K), trans_a, trans_b, M,
                         N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* tests/test_ops_matmul.c — both tiers' matrix products (em_gemm: OpenBLAS; em_gemm_fast:
 * ember's kernel, threaded) against the three-loop em_gemm_ref; matmul and linear ops. */
#include "helpers.h"

#include <stdlib.h>

#include "core/fast/gemm.h"
#include "core/parallel.h"

static em_real *rand_buf(em_rng *rng, size_t n) {
    em_real *p = malloc(n * sizeof *p);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++) p[i] = (em_real)em_rng_normal(rng, 0, 1);
    return p;
}

typedef void (*gemm_fn)(bool, bool, int, int, int, em_real, const em_real *, int,
                        const em_real *, int, em_real, em_real *, int);

/* f (ember's kernel, threaded or not, or OpenBLAS) against the three-loop reference on
 * odd shapes — edges of every register tile and cache block (MR 6, NR 32/16, KC 192,
 * MC 96, NC 256/128 in core/fast/gemm_tile.h) — all four transposes, leading dimensions
 * wider than the matrices (sub-matrices), alpha/beta other than 1/0, and beta = 0 over
 * a C full of NaN (which must not be read). The shapes reach each of the kernel's three
 * paths: the dot kernel (A B^T with a long K: 16 x 9 x 784, 5 x 7 x 512), the direct
 * kernel (K <= 1024, op(B) not transposed or small; 300 x 50 x 200 needs several row
 * chunks of packed A) and the packed one (K > 1024: 20 x 40 x 1100, or a large B^T). */
static void check_gemm(gemm_fn f, const char *name) {
    const int shapes[][3] = {{1, 1, 1},   {3, 5, 7},    {65, 33, 17}, {1, 64, 3},
                             {17, 1, 9},  {128, 10, 784}, {6, 32, 192}, {7, 33, 193},
                             {97, 257, 385}, {200, 70, 30}, {13, 600, 5}, {16, 784, 9},
                             {32, 196, 144}, {144, 196, 32}, {16, 9, 784}, {5, 7, 512},
                             {20, 40, 1100}, {300, 50, 200}};
    em_rng rng;
    em_rng_seed(&rng, 7);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int t = 0; t < 8; t++) {
            bool ta = t & 1, tb = t & 2, beta0 = t & 4;
            int pad = 3;  /* every leading dimension 3 wider than needed */
            int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
            em_real *A = rand_buf(&rng, (size_t)(ta ? K : M) * lda);
            em_real *B = rand_buf(&rng, (size_t)(tb ? N : K) * ldb);
            em_real *C1 = rand_buf(&rng, (size_t)M * ldc), *C2 = malloc((size_t)M * ldc * sizeof *C2);
            cr_assert_not_null(C2);
            if (beta0)
                for (int i = 0; i < M * ldc; i++) C1[i] = NAN;
            for (int i = 0; i < M * ldc; i++) C2[i] = C1[i];
            em_real beta = beta0 ? 0 : 2;
            f(ta, tb, M, N, K, 0.5, A, lda, B, ldb, beta, C1, ldc);
            em_gemm_ref(ta, tb, M, N, K, 0.5, A, lda, B, ldb, beta, C2, ldc);
            double tol = sizeof(em_real) == 8 ? 1e-12 * sqrt((double)K) : 1e-5 * sqrt((double)K);
            for (int i = 0; i < M; i++) {
                char what[96];
                snprintf(what, sizeof what, "%s %dx%dx%d ta=%d tb=%d beta=%g row %d", name, M,
                         N, K, ta, tb, (double)beta, i);
                assert_close_real(C1 + (size_t)i * ldc, C2 + (size_t)i * ldc, (size_t)N, tol,
                                  what);
                /* the padding columns of C are not touched */
                for (int j = N; j < ldc; j++)
                    cr_assert(C1[(size_t)i * ldc + j] == C2[(size_t)i * ldc + j] ||
                                  (C1[(size_t)i * ldc + j] != C1[(size_t)i * ldc + j]),
                              "%s: padding of C written", what);
            }
            free(A); free(B); free(C1); free(C2);
        }
    }
}

Test(gemm, kernel_equals_reference_on_odd_shapes) { check_gemm(em_gemm_kernel, "kernel"); }
Test(gemm, blas_equals_reference_on_odd_shapes) { check_gemm(em_gemm, "openblas"); }
Test(gemm, threaded_equals_reference_on_odd_shapes) {
    for (int nt = 1; nt <= 3; nt++) {
        em_set_threads(nt);
        check_gemm(em_gemm_fast, "em_gemm_fast");
    }
}

Test(gemm, beta_zero_ignores_garbage_in_c) {
    em_real A[2] = {1, 2}, B[2] = {3, 4}, C[1] = {NAN}, F[1] = {NAN}, R[1] = {NAN};
    em_gemm(false, false, 1, 1, 2, 1, A, 2, B, 1, 0, C, 1);
    em_gemm_fast(false, false, 1, 1, 2, 1, A, 2, B, 1, 0, F, 1);
    em_gemm_ref(false, false, 1, 1, 2, 1, A, 2, B, 1, 0, R, 1);
    cr_assert_eq(C[0], 11);
    cr_assert_eq(F[0], 11);
    cr_assert_eq(R[0], 11);
}

Test(matmul, forward_known_values) {
    /* [[1 2 3], [4 5 6]] x [[1 0], [0 1], [1 1]] = [[4 5], [10 11]] */
    em_tape *tape = em_tape_new(0);
    em_tensor *a = tensor_of(2, (int[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6}, 0);
    em_tensor *b = tensor_of(2, (int[]){3, 2}, (float[]){1, 0, 0, 1, 1, 1}, 0);
    em_tensor *y = em_matmul(tape, a, b, false, false);
    cr_assert_eq(y->shape[0], 2);
    cr_assert_eq(y->shape[1], 2);
    assert_close(y->data, (float[]){4, 5, 10, 11}, 4, TOL, "y");
    /* the same through the transposed flags: (a^T)^T (b^T)^T */
    em_tensor *at = tensor_of(2, (int[]){3, 2}, (float[]){1, 4, 2, 5, 3, 6}, 0);
    em_tensor *bt = tensor_of(2, (int[]){2, 3}, (float[]){1, 0, 1, 0, 1, 1}, 0);
    em_tensor *y2 = em_matmul(tape, at, bt, true, true);
    assert_close(y2->data, (float[]){4, 5, 10, 11}, 4, TOL, "y (transposed inputs)");
    em_tensor_free(a); em_tensor_free(b); em_tensor_free(at); em_tensor_free(bt);
    em_tape_free(tape);
}

struct mm_ctx { bool ta, tb; };

static em_tensor *mm_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    struct mm_ctx *c = ctx;
    return em_matmul(tape, in[0], in[1], c->ta, c->tb);
}

Test(matmul, gradcheck_all_transposes) {
    em_rng rng;
    em_rng_seed(&rng, 3);
    const int dims[][3] = {{1, 1, 1}, {3, 5, 7}, {4, 2, 6}};
    for (size_t s = 0; s < 3; s++) {
        int M = dims[s][0], N = dims[s][1], K = dims[s][2];
        for (int t = 0; t < 4; t++) {
            struct mm_ctx c = {t & 1, t & 2};
            em_tensor *a = tensor_randn(&rng, 2, c.ta ? (int[]){K, M} : (int[]){M, K}, 0, 1,
                                        EM_REQUIRES_GRAD);
            em_tensor *b = tensor_randn(&rng, 2, c.tb ? (int[]){N, K} : (int[]){K, N}, 0, 1,
                                        EM_REQUIRES_GRAD);
            char what[64];
            snprintf(what, sizeof what, "matmul %dx%dx%d ta=%d tb=%d", M, N, K, c.ta, c.tb);
            assert_gradcheck(mm_fn, &c, 2, (em_tensor *[]){a, b}, what);
            em_tensor_free(a);
            em_tensor_free(b);
        }
    }
}

/* y = a a: the same tensor on both sides; its gradient gets both contributions */
static em_tensor *square_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    return em_matmul(tape, in[0], in[0], false, false);
}

Test(matmul, tensor_used_twice) {
    em_rng rng;
    em_rng_seed(&rng, 4);
    em_tensor *a = tensor_randn(&rng, 2, (int[]){4, 4}, 0, 1, EM_REQUIRES_GRAD);
    assert_gradcheck(square_fn, NULL, 1, (em_tensor *[]){a}, "matmul a a");
    em_tensor_free(a);
}

Test(linear, forward_known_values) {
    em_tape *tape = em_tape_new(0);
    /* x (2, 3), w (2, 3), b (2): y = x w^T + b */
    em_tensor *x = tensor_of(2, (int[]){2, 3}, (float[]){1, 2, 3, -1, 0, 1}, 0);
    em_tensor *w = tensor_of(2, (int[]){2, 3}, (float[]){1, 1, 1, 0.5f, -1, 2}, 0);
    em_tensor *b = tensor_of(1, (int[]){2}, (float[]){10, 20}, 0);
    em_tensor *y = em_linear(tape, x, w, b);
    assert_close(y->data, (float[]){16, 24.5f, 10, 21.5f}, 4, TOL, "y");
    em_tensor *y0 = em_linear(tape, x, w, NULL);
    assert_close(y0->data, (float[]){6, 4.5f, 0, 1.5f}, 4, TOL, "y without bias");
    em_tensor_free(x); em_tensor_free(w); em_tensor_free(b);
    em_tape_free(tape);
}

static em_tensor *linear_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    return em_linear(tape, in[0], in[1], in[2]);
}

static em_tensor *linear_nobias_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    return em_linear(tape, in[0], in[1], NULL);
}

Test(linear, gradcheck) {
    em_rng rng;
    em_rng_seed(&rng, 5);
    const int dims[][3] = {{1, 1, 1}, {5, 7, 3}, {8, 4, 6}};
    for (size_t s = 0; s < 3; s++) {
        int N = dims[s][0], in = dims[s][1], out = dims[s][2];
        em_tensor *x = tensor_randn(&rng, 2, (int[]){N, in}, 0, 1, EM_REQUIRES_GRAD);
        em_tensor *w = tensor_randn(&rng, 2, (int[]){out, in}, 0, 1, EM_REQUIRES_GRAD);
        em_tensor *b = tensor_randn(&rng, 1, (int[]){out}, 0, 1, EM_REQUIRES_GRAD);
        assert_gradcheck(linear_fn, NULL, 3, (em_tensor *[]){x, w, b}, "linear");
        assert_gradcheck(linear_nobias_fn, NULL, 2, (em_tensor *[]){x, w}, "linear, no bias");
        em_tensor_free(x); em_tensor_free(w); em_tensor_free(b);
    }
}

/* Only the inputs that require a gradient get one: x here is data. */
Test(linear, no_grad_for_data_input) {
    em_rng rng;
    em_rng_seed(&rng, 6);
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_randn(&rng, 2, (int[]){3, 4}, 0, 1, 0);
    em_tensor *w = tensor_randn(&rng, 2, (int[]){2, 4}, 0, 1, EM_REQUIRES_GRAD);
    em_tensor *y = em_linear(tape, x, w, NULL);
    em_real ones[6] = {1, 1, 1, 1, 1, 1};
    cr_assert_eq(em_backward_from(tape, y, ones), EM_OK);
    cr_assert_null(x->grad);
    /* dw[o][i] = sum_n x[n][i] */
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < 4; i++) {
            double want = x->data[i] + x->data[4 + i] + x->data[8 + i];
            cr_assert(fabs(w->grad[o * 4 + i] - want) < 1e-5);
        }
    em_tensor_free(x); em_tensor_free(w);
    em_tape_free(tape);
}

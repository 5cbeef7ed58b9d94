/* tests/test_ops_pool.c — max, average and global average pooling: known values forward
 * and backward, finite differences, bad shapes. */
#include "helpers.h"

#include <stdlib.h>

/* 4x4 image; its 2x2 / stride-2 maxima are 5 (offset 1), 8 (6), 11 (13), 7 (11). */
static const float X44[16] = {1, 5, 2, 0, 3, 4, 8, 1, 9, 0, 6, 7, 2, 11, 3, 5};

/* Run y = pool(x), check y, backpropagate dy and check dx. */
typedef em_tensor *(*pool_fn)(em_tape *, em_tensor *, int, int);

static void check_pool(pool_fn pool, int H, int W, const float *x_vals, int k, int s,
                       int Ho, int Wo, const float *want_y, const float *dy_vals,
                       const float *want_dx, const char *what) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(4, (int[]){1, 1, H, W}, x_vals, EM_REQUIRES_GRAD);
    em_tensor *y = pool(tape, x, k, s);
    cr_assert_not_null(y);
    cr_assert(y->ndim == 4 && y->shape[0] == 1 && y->shape[1] == 1 && y->shape[2] == Ho &&
              y->shape[3] == Wo, "%s: y shape (%d, %d), want (%d, %d)", what, y->shape[2],
              y->shape[3], Ho, Wo);
    char buf[96];
    snprintf(buf, sizeof buf, "%s: y", what);
    assert_close(y->data, want_y, y->size, TOL, buf);
    em_real *dy = malloc(y->size * sizeof *dy);
    cr_assert_not_null(dy);
    for (size_t i = 0; i < y->size; i++) dy[i] = dy_vals[i];
    em_tensor_fill(x, 0);  /* backward uses what forward saved, not x's current values */
    for (size_t i = 0; i < x->size; i++) x->grad[i] = 0.5f;
    cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
    for (size_t i = 0; i < x->size; i++) x->grad[i] -= 0.5f;  /* backward adds to it */
    snprintf(buf, sizeof buf, "%s: dx", what);
    assert_close(x->grad, want_dx, x->size, TOL, buf);
    free(dy);
    em_tensor_free(x);
    em_tape_free(tape);
}

/* ---- maxpool2d ----------------------------------------------------------------------- */

Test(maxpool2d, known_values_2x2_stride_2) {
    check_pool(em_maxpool2d, 4, 4, X44, 2, 2, 2, 2, (float[]){5, 8, 11, 7},
               (float[]){1, 2, 3, 4},
               (float[]){0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 4, 0, 3, 0, 0}, "2x2 s2");
}

/* 3x3 windows, stride 2, on 5x5: neighbouring windows share a row/column, and the 23 at
 * offset 13 is the maximum of two windows, so its gradient is the sum of both. */
Test(maxpool2d, known_values_overlapping_3x3_stride_2) {
    const float x[25] = {10, 3, 17, 0, 21, 4, 24, 8, 15, 2, 19, 6, 12, 23, 9,
                         1, 14, 22, 5, 18, 13, 7, 20, 11, 16};
    float dx[25] = {0};
    dx[6] = 1;
    dx[13] = 2 + 4;
    dx[17] = 3;
    check_pool(em_maxpool2d, 5, 5, x, 3, 2, 2, 2, (float[]){24, 23, 22, 23},
               (float[]){1, 2, 3, 4}, dx, "3x3 s2");
}

Test(maxpool2d, known_values_overlapping_2x2_stride_1) {
    /* [[1 5 2] [3 4 8] [9 0 6]]: maxima 5 (offset 1), 8 (5), 9 (6), 8 (5) */
    check_pool(em_maxpool2d, 3, 3, (float[]){1, 5, 2, 3, 4, 8, 9, 0, 6}, 2, 1, 2, 2,
               (float[]){5, 8, 9, 8}, (float[]){1, 10, 100, 1000},
               (float[]){0, 1, 0, 0, 0, 1010, 100, 0, 0}, "2x2 s1");
}

/* A tie sends the whole gradient to the first maximum in row-major window order. */
Test(maxpool2d, ties_go_to_the_first_maximum) {
    check_pool(em_maxpool2d, 2, 3, (float[]){5, 5, 1, 5, 5, 1}, 2, 1, 1, 2, (float[]){5, 5},
               (float[]){1, 2}, (float[]){1, 2, 0, 0, 0, 0}, "ties");
    check_pool(em_maxpool2d, 2, 2, (float[]){-3, -3, -3, -3}, 2, 2, 1, 1, (float[]){-3},
               (float[]){7}, (float[]){7, 0, 0, 0}, "all equal, negative");
}

/* Rows and columns no window reaches (5 = 2 * 2 + 1) are ignored: no gradient there. */
Test(maxpool2d, trailing_rows_are_ignored) {
    float x[25], dx[25] = {0};
    for (int i = 0; i < 25; i++) x[i] = (float)i;  /* maximum: bottom-right of a window */
    dx[6] = 1; dx[8] = 1; dx[16] = 1; dx[18] = 1;
    check_pool(em_maxpool2d, 5, 5, x, 2, 2, 2, 2, (float[]){6, 8, 16, 18},
               (float[]){1, 1, 1, 1}, dx, "5x5, 2x2 s2");
}

Test(maxpool2d, nan_propagates) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(4, (int[]){1, 2, 2, 2}, (float[]){1, NAN, 3, 2, NAN, 1, 2, 3}, 0);
    em_tensor *y = em_maxpool2d(tape, x, 2, 2);
    cr_assert(isnan(y->data[0]), "NaN after a number");
    cr_assert(isnan(y->data[1]), "NaN first");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* The 2x2 / stride-2 window on even H, W has its own two-stage kernel (core/ops/pool.c):
 * held to plain loops written here, with many ties (values from {0, 1, 2}) and NaNs,
 * forward values and where backward sends each dy — both into a leaf's gradient (added)
 * and through an intermediate whose gradient buffer is fresh (stored). Odd sizes (a
 * trailing row and column) take the general loop: checked the same way. */
static void check_maxpool_2x2(int N, int C, int H, int W, bool through_intermediate) {
    int Ho = H / 2, Wo = W / 2;
    em_rng rng;
    em_rng_seed(&rng, (uint64_t)(H * 100 + W));
    em_tensor *x = em_tensor_new(4, (int[]){N, C, H, W}, EM_REQUIRES_GRAD);
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = em_rng_below(&rng, 40) == 0 ? NAN : (em_real)em_rng_below(&rng, 3);
    em_tape *tape = em_tape_new(0);
    /* x * 1 is an intermediate: maxpool's input gradient is then a fresh buffer */
    em_tensor *in = through_intermediate ? em_mul_scalar(tape, x, 1) : x;
    em_tensor *y = em_maxpool2d(tape, in, 2, 2);
    cr_assert(y && y->shape[2] == Ho && y->shape[3] == Wo);
    em_real *dy = malloc(y->size * sizeof *dy), *want_dx = calloc(x->size, sizeof *want_dx);
    cr_assert(dy && want_dx);
    for (size_t i = 0; i < y->size; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    for (int nc = 0; nc < N * C; nc++)
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Wo; j++) {
                size_t first = (size_t)nc * H * W, best = first + (size_t)2 * i * W + 2 * j;
                for (int p = 0; p < 2; p++)
                    for (int q = 0; q < 2; q++) {
                        size_t at = first + (size_t)(2 * i + p) * W + 2 * j + q;
                        em_real v = x->data[at], m = x->data[best];
                        if (v > m || (isnan(v) && !isnan(m))) best = at;
                    }
                size_t o = ((size_t)nc * Ho + i) * Wo + j;
                em_real got = y->data[o], want = x->data[best];
                cr_assert(got == want || (isnan(got) && isnan(want)),
                          "%dx%d plane %d (%d, %d): max %g, want %g", H, W, nc, i, j, got,
                          want);
                want_dx[best] += dy[o];
            }
    cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
    for (size_t i = 0; i < x->size; i++)
        cr_assert_eq(x->grad[i], want_dx[i], "%dx%d%s: dx[%zu] = %g, want %g", H, W,
                     through_intermediate ? " (fresh)" : "", i, x->grad[i], want_dx[i]);
    free(dy);
    free(want_dx);
    em_tensor_free(x);
    em_tape_free(tape);
}

Test(maxpool2d, fast_2x2_equals_plain_loops) {
    for (int t = 0; t < 2; t++) {
        check_maxpool_2x2(3, 5, 10, 12, t);   /* the two-stage kernel             */
        check_maxpool_2x2(2, 3, 28, 28, t);   /* mnist-cnn's first pool           */
        check_maxpool_2x2(2, 3, 14, 14, t);   /* its second: one chunk + an overlapping one */
        check_maxpool_2x2(3, 2, 6, 6, t);     /* rows shorter than a vector chunk */
        check_maxpool_2x2(2, 2, 8, 16, t);    /* whole chunks only                */
        check_maxpool_2x2(3, 5, 9, 11, t);    /* odd: the general loop            */
        check_maxpool_2x2(2, 3, 28, 200, t);  /* several row pairs' blocks, a partial one */
        check_maxpool_2x2(1, 2, 4, 1030, t);  /* rows longer than a block: the general loop */
    }
}

/* Several images and channels: each (n, c) plane is pooled on its own. */
Test(maxpool2d, planes_are_independent) {
    em_tape *tape = em_tape_new(0);
    float v[3 * 16];
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < 16; i++) v[p * 16 + i] = X44[i] + 100.0f * (float)p;
    em_tensor *x = tensor_of(4, (int[]){3, 1, 4, 4}, v, 0);
    em_tensor *y = em_maxpool2d(tape, x, 2, 2);
    cr_assert(y->shape[0] == 3 && y->shape[1] == 1);
    assert_close(y->data, (float[]){5, 8, 11, 7, 105, 108, 111, 107, 205, 208, 211, 207}, 12,
                 TOL, "y");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* Distinct, well separated values (a permutation of 0..n-1 times 0.1, plus noise far
 * below the spacing): no ties or near-ties, so finite differences stay on one piece of
 * the piecewise-linear max, even with the float build's step of 1e-2. */
static em_tensor *distinct_input(em_rng *rng, const int *shape) {
    em_tensor *x = tensor_of(4, shape, NULL, EM_REQUIRES_GRAD);
    size_t *perm = malloc(x->size * sizeof *perm);
    cr_assert_not_null(perm);
    em_rng_permutation(rng, perm, x->size);
    for (size_t i = 0; i < x->size; i++)
        x->data[i] =
            (em_real)(0.1 * (double)perm[i] - 1.0 + em_rng_uniform_range(rng, 0, 0.01));
    free(perm);
    return x;
}

typedef struct pool_case { int N, C, H, W, k, s; } pool_case;

static const pool_case pool_cases[] = {
    {2, 2, 4, 4, 2, 2}, {1, 2, 5, 5, 3, 2}, {2, 1, 4, 5, 2, 1}, {1, 3, 6, 6, 3, 3},
    {2, 2, 5, 4, 1, 1}, {1, 1, 7, 7, 3, 1}, {1, 2, 5, 7, 2, 3},
};
#define N_POOL_CASES (sizeof pool_cases / sizeof pool_cases[0])

static em_tensor *maxpool_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    const pool_case *c = ctx;
    return em_maxpool2d(tape, in[0], c->k, c->s);
}

Test(maxpool2d, gradcheck) {
    em_rng rng;
    em_rng_seed(&rng, 21);
    for (size_t i = 0; i < N_POOL_CASES; i++) {
        const pool_case *c = &pool_cases[i];
        em_tensor *x = distinct_input(&rng, (int[]){c->N, c->C, c->H, c->W});
        char what[96];
        snprintf(what, sizeof what, "maxpool x(%d,%d,%d,%d) k=%d s=%d", c->N, c->C, c->H,
                 c->W, c->k, c->s);
        assert_gradcheck(maxpool_fn, (void *)c, 1, (em_tensor *[]){x}, what);
        em_tensor_free(x);
    }
}

Test(maxpool2d, inference_records_no_node) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(4, (int[]){1, 1, 4, 4}, X44, 0);
    em_tensor *y = em_maxpool2d(tape, x, 2, 2);
    cr_assert_eq(tape->n_nodes, 0);
    cr_assert_null(y->node);
    em_tensor_free(x);
    em_tape_free(tape);
}

/* ---- avgpool2d ----------------------------------------------------------------------- */

Test(avgpool2d, known_values_2x2_stride_2) {
    float x[16];
    for (int i = 0; i < 16; i++) x[i] = (float)(i + 1);
    /* each input pixel is in exactly one window: dx = dy / 4 of its window */
    check_pool(em_avgpool2d, 4, 4, x, 2, 2, 2, 2, (float[]){3.5f, 5.5f, 11.5f, 13.5f},
               (float[]){4, 8, 12, 16},
               (float[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, "2x2 s2");
}

/* x[r][c] = 5 r + c + 1 is linear, so each window's mean is its centre value. Row and
 * column 2 lie in two windows each, the centre pixel in all four. */
Test(avgpool2d, known_values_overlapping_3x3_stride_2) {
    float x[25], dx[25];
    const float cover[5] = {1, 1, 2, 1, 1};
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 5; c++) {
            x[r * 5 + c] = (float)(5 * r + c + 1);
            dx[r * 5 + c] = cover[r] * cover[c];  /* dy = 9: dx = 9 cover / 9 */
        }
    check_pool(em_avgpool2d, 5, 5, x, 3, 2, 2, 2, (float[]){7, 9, 17, 19},
               (float[]){9, 9, 9, 9}, dx, "3x3 s2");
}

Test(avgpool2d, known_values_overlapping_2x2_stride_1) {
    check_pool(em_avgpool2d, 3, 3, (float[]){1, 2, 3, 4, 5, 6, 7, 8, 9}, 2, 1, 2, 2,
               (float[]){3, 4, 6, 7}, (float[]){1, 1, 1, 1},
               (float[]){0.25f, 0.5f, 0.25f, 0.5f, 1, 0.5f, 0.25f, 0.5f, 0.25f}, "2x2 s1");
}

static em_tensor *avgpool_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    const pool_case *c = ctx;
    return em_avgpool2d(tape, in[0], c->k, c->s);
}

Test(avgpool2d, gradcheck) {
    em_rng rng;
    em_rng_seed(&rng, 22);
    for (size_t i = 0; i < N_POOL_CASES; i++) {
        const pool_case *c = &pool_cases[i];
        em_tensor *x = tensor_randn(&rng, 4, (int[]){c->N, c->C, c->H, c->W}, 0, 1,
                                    EM_REQUIRES_GRAD);
        char what[96];
        snprintf(what, sizeof what, "avgpool x(%d,%d,%d,%d) k=%d s=%d", c->N, c->C, c->H,
                 c->W, c->k, c->s);
        assert_gradcheck(avgpool_fn, (void *)c, 1, (em_tensor *[]){x}, what);
        em_tensor_free(x);
    }
}

/* ---- global_avgpool ------------------------------------------------------------------ */

Test(global_avgpool, known_values) {
    em_tape *tape = em_tape_new(0);
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i;
    em_tensor *x = tensor_of(4, (int[]){2, 3, 2, 2}, v, EM_REQUIRES_GRAD);
    em_tensor *y = em_global_avgpool(tape, x);
    cr_assert(y->ndim == 2 && y->shape[0] == 2 && y->shape[1] == 3, "y (2, 3)");
    assert_close(y->data, (float[]){1.5f, 5.5f, 9.5f, 13.5f, 17.5f, 21.5f}, 6, TOL, "y");
    em_real dy[6] = {4, 8, 12, 16, 20, -24};
    for (size_t i = 0; i < 24; i++) x->grad[i] = 0.5f;
    cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
    for (size_t i = 0; i < 24; i++) x->grad[i] -= 0.5f;  /* backward adds to it */
    float want[24];
    for (int i = 0; i < 24; i++) want[i] = (float)dy[i / 4] / 4.0f;
    assert_close(x->grad, want, 24, TOL, "dx");
    em_tensor_free(x);
    em_tape_free(tape);
}

static em_tensor *global_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    return em_global_avgpool(tape, in[0]);
}

Test(global_avgpool, gradcheck) {
    em_rng rng;
    em_rng_seed(&rng, 23);
    const int shapes[][4] = {{2, 3, 4, 4}, {1, 1, 1, 1}, {3, 2, 5, 3}};
    for (int i = 0; i < 3; i++) {
        em_tensor *x = tensor_randn(&rng, 4, shapes[i], 0, 1, EM_REQUIRES_GRAD);
        assert_gradcheck(global_fn, NULL, 1, (em_tensor *[]){x}, "global avgpool");
        em_tensor_free(x);
    }
}

/* ---- a small pipeline, and the failed tape ------------------------------------------- */

/* maxpool first, on well separated inputs, so no perturbation can change a winner */
static em_tensor *pipeline_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    em_tensor *h = em_conv2d(tape, em_maxpool2d(tape, in[0], 2, 1), in[1], NULL, 1, 1);
    return em_global_avgpool(tape, em_avgpool2d(tape, h, 2, 2));
}

Test(pool, gradcheck_maxpool_conv_avgpool_global) {
    em_rng rng;
    em_rng_seed(&rng, 24);
    em_tensor *x = distinct_input(&rng, (int[]){2, 1, 6, 6});                /* -> 5x5 */
    em_tensor *w = tensor_randn(&rng, 4, (int[]){2, 1, 3, 3}, 0, 1, EM_REQUIRES_GRAD);
    assert_gradcheck(pipeline_fn, NULL, 2, (em_tensor *[]){x, w}, "max-conv-avg-global");
    em_tensor_free(x); em_tensor_free(w);
}

Test(pool, failed_tape_returns_null) {
    em_tape *tape = em_tape_new(4096);
    em_tensor *x = tensor_of(4, (int[]){8, 8, 16, 16}, NULL, EM_REQUIRES_GRAD);
    tape->arena->fail_after = tape->arena->chunk_allocs + 1;
    cr_assert_null(em_maxpool2d(tape, x, 2, 2));
    cr_assert_not(em_tape_ok(tape));
    tape->arena->fail_after = 0;
    cr_assert_null(em_avgpool2d(tape, x, 2, 2));
    cr_assert_null(em_global_avgpool(tape, x));
    em_tensor_free(x);
    em_tape_free(tape);
}

/* ---- bad shapes abort ---------------------------------------------------------------- */

static void pool_shape(pool_fn pool, int ndim, const int *shape, int k, int s) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(ndim, shape, NULL, 0);
    pool(tape, x, k, s);
}

Test(maxpool2d, window_larger_than_image_aborts, .signal = SIGABRT) {
    pool_shape(em_maxpool2d, 4, (int[]){1, 1, 4, 2}, 3, 1);
}

Test(maxpool2d, not_4d_aborts, .signal = SIGABRT) {
    pool_shape(em_maxpool2d, 3, (int[]){1, 4, 4}, 2, 2);
}

Test(avgpool2d, zero_stride_aborts, .signal = SIGABRT) {
    pool_shape(em_avgpool2d, 4, (int[]){1, 1, 4, 4}, 2, 0);
}

Test(avgpool2d, zero_window_aborts, .signal = SIGABRT) {
    pool_shape(em_avgpool2d, 4, (int[]){1, 1, 4, 4}, 0, 1);
}

Test(global_avgpool, not_4d_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){3, 4}, NULL, 0);
    em_global_avgpool(tape, x);
}

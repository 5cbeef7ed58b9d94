/* tests/test_ops_reduce.c — sum, mean, var over axes: known values (single axes, several
 * axes, per-channel, all axes, keepdim), biased and unbiased variance, double
 * accumulation, known gradients, gradient checks over every axes mask, compositions with
 * the binary ops (what BatchNorm is built from), and the errors that abort. */
#include "helpers.h"

#include <stdlib.h>

#define SHAPE(...) (int[]){__VA_ARGS__}
#define VALUES(...) (double[]){__VA_ARGS__}

/* ---- known values on (2, 3) ------------------------------------------------------------
 * x = [[1 2 3], [4 5 6]] */

Test(reduce, sum_mean_var_of_a_matrix) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6}, 0);

    assert_tensor(em_sum(tape, x, EM_AXIS(0), false), 1, SHAPE(3), VALUES(5, 7, 9), "sum 0");
    assert_tensor(em_sum(tape, x, EM_AXIS(0), true), 2, SHAPE(1, 3), VALUES(5, 7, 9),
                  "sum 0 keepdim");
    assert_tensor(em_sum(tape, x, EM_AXIS(1), false), 1, SHAPE(2), VALUES(6, 15), "sum 1");
    assert_tensor(em_sum(tape, x, EM_AXIS(1), true), 2, SHAPE(2, 1), VALUES(6, 15),
                  "sum 1 keepdim");
    assert_tensor(em_sum(tape, x, EM_ALL_AXES, false), 1, SHAPE(1), VALUES(21), "sum all");
    assert_tensor(em_sum(tape, x, EM_ALL_AXES, true), 2, SHAPE(1, 1), VALUES(21),
                  "sum all keepdim");
    assert_tensor(em_sum(tape, x, EM_AXIS(0) | EM_AXIS(1), false), 1, SHAPE(1), VALUES(21),
                  "sum 0,1");

    assert_tensor(em_mean(tape, x, EM_AXIS(0), false), 1, SHAPE(3), VALUES(2.5, 3.5, 4.5),
                  "mean 0");
    assert_tensor(em_mean(tape, x, EM_AXIS(1), true), 2, SHAPE(2, 1), VALUES(2, 5),
                  "mean 1 keepdim");
    assert_tensor(em_mean(tape, x, EM_ALL_AXES, false), 1, SHAPE(1), VALUES(3.5), "mean all");

    /* columns {1,4}, {2,5}, {3,6}: deviations +-1.5, sum of squares 4.5 */
    assert_tensor(em_var(tape, x, EM_AXIS(0), false, 0), 1, SHAPE(3),
                  VALUES(2.25, 2.25, 2.25), "var 0 biased");
    assert_tensor(em_var(tape, x, EM_AXIS(0), true, 1), 2, SHAPE(1, 3), VALUES(4.5, 4.5, 4.5),
                  "var 0 unbiased keepdim");
    /* rows {1,2,3}, {4,5,6}: deviations -1, 0, 1, sum of squares 2 */
    assert_tensor(em_var(tape, x, EM_AXIS(1), false, 0), 1, SHAPE(2),
                  VALUES(2.0 / 3, 2.0 / 3), "var 1 biased");
    assert_tensor(em_var(tape, x, EM_AXIS(1), false, 1), 1, SHAPE(2), VALUES(1, 1),
                  "var 1 unbiased");
    /* 1..6, mean 3.5: squares 6.25 + 2.25 + 0.25 twice = 17.5 */
    assert_tensor(em_var(tape, x, EM_ALL_AXES, false, 0), 1, SHAPE(1), VALUES(17.5 / 6),
                  "var all biased");
    assert_tensor(em_var(tape, x, EM_ALL_AXES, true, 1), 2, SHAPE(1, 1), VALUES(3.5),
                  "var all unbiased keepdim");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* ---- known values on (N, C, H, W) = (2, 2, 2, 2) ------------------------------------------
 * channel 0: n0 {1 2 3 4}, n1 {5 6 7 8}          sum 36, mean 4.5, squares 42
 * channel 1: n0 {0 0 10 10}, n1 {-10 -10 0 0}    sum 0,  mean 0,   squares 400 */
static const float NCHW[16] = {1, 2, 3, 4, 0, 0, 10, 10, 5, 6, 7, 8, -10, -10, 0, 0};
#define PER_CHANNEL (EM_AXIS(0) | EM_AXIS(2) | EM_AXIS(3))

Test(reduce, per_channel_statistics_for_batchnorm) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(4, SHAPE(2, 2, 2, 2), NCHW, 0);
    assert_tensor(em_sum(tape, x, PER_CHANNEL, true), 4, SHAPE(1, 2, 1, 1), VALUES(36, 0),
                  "sum keepdim");
    assert_tensor(em_sum(tape, x, PER_CHANNEL, false), 1, SHAPE(2), VALUES(36, 0), "sum");
    assert_tensor(em_mean(tape, x, PER_CHANNEL, true), 4, SHAPE(1, 2, 1, 1), VALUES(4.5, 0),
                  "mean keepdim");
    assert_tensor(em_mean(tape, x, PER_CHANNEL, false), 1, SHAPE(2), VALUES(4.5, 0), "mean");
    assert_tensor(em_var(tape, x, PER_CHANNEL, true, 0), 4, SHAPE(1, 2, 1, 1),
                  VALUES(42.0 / 8, 400.0 / 8), "var biased keepdim");
    assert_tensor(em_var(tape, x, PER_CHANNEL, false, 1), 1, SHAPE(2),
                  VALUES(42.0 / 7, 400.0 / 7), "var unbiased");
    em_tensor_free(x);
    em_tape_free(tape);
}

Test(reduce, other_axes_of_nchw) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(4, SHAPE(2, 2, 2, 2), NCHW, 0);
    /* over C: x[n,0,h,w] + x[n,1,h,w] */
    assert_tensor(em_sum(tape, x, EM_AXIS(1), false), 3, SHAPE(2, 2, 2),
                  VALUES(1, 2, 13, 14, -5, -4, 7, 8), "sum over C");
    /* over N */
    assert_tensor(em_sum(tape, x, EM_AXIS(0), true), 4, SHAPE(1, 2, 2, 2),
                  VALUES(6, 8, 10, 12, -10, -10, 10, 10), "sum over N keepdim");
    /* over H, W: one value per (n, c) */
    assert_tensor(em_mean(tape, x, EM_AXIS(2) | EM_AXIS(3), false), 2, SHAPE(2, 2),
                  VALUES(2.5, 5, 6.5, -5), "mean over H, W");
    /* over W: pairs {1,2} {3,4} {0,0} {10,10} {5,6} {7,8} {-10,-10} {0,0} */
    assert_tensor(em_sum(tape, x, EM_AXIS(3), false), 3, SHAPE(2, 2, 2),
                  VALUES(3, 7, 0, 20, 11, 15, -20, 0), "sum over W");
    assert_tensor(em_var(tape, x, EM_AXIS(3), true, 0), 4, SHAPE(2, 2, 2, 1),
                  VALUES(0.25, 0.25, 0, 0, 0.25, 0.25, 0, 0), "var over W biased");
    assert_tensor(em_var(tape, x, EM_AXIS(3), false, 1), 3, SHAPE(2, 2, 2),
                  VALUES(0.5, 0.5, 0, 0, 0.5, 0.5, 0, 0), "var over W unbiased");
    /* over N and C: x[0,0,h,w] + x[0,1,h,w] + x[1,0,h,w] + x[1,1,h,w] */
    assert_tensor(em_sum(tape, x, EM_AXIS(0) | EM_AXIS(1), false), 2, SHAPE(2, 2),
                  VALUES(-4, -2, 20, 22), "sum over N, C");
    /* over C and W (not neighbours) */
    assert_tensor(em_sum(tape, x, EM_AXIS(1) | EM_AXIS(3), true), 4, SHAPE(2, 1, 2, 1),
                  VALUES(3, 27, -9, 15), "sum over C, W keepdim");
    em_tensor_free(x);
    em_tape_free(tape);
}

Test(reduce, axis_bits_above_ndim_are_ignored_and_no_axes_copies) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6}, 0);
    assert_tensor(em_sum(tape, x, EM_AXIS(1) | EM_AXIS(4) | EM_AXIS(31), false), 1, SHAPE(2),
                  VALUES(6, 15), "sum 1 with stray bits");
    assert_tensor(em_mean(tape, x, EM_AXIS(5), false), 2, SHAPE(2, 3),
                  VALUES(1, 2, 3, 4, 5, 6), "mean over no axis is a copy");
    assert_tensor(em_var(tape, x, 0, true, 0), 2, SHAPE(2, 3), VALUES(0, 0, 0, 0, 0, 0),
                  "biased var over no axis");
    /* size-1 dims, reduced or not */
    em_tensor *s = tensor_of(3, SHAPE(1, 3, 1), (float[]){1, 2, 6}, 0);
    assert_tensor(em_sum(tape, s, EM_AXIS(0) | EM_AXIS(2), false), 1, SHAPE(3),
                  VALUES(1, 2, 6), "sum over size-1 dims");
    assert_tensor(em_mean(tape, s, EM_AXIS(1), true), 3, SHAPE(1, 1, 1), VALUES(3),
                  "mean between size-1 dims");
    em_tensor_free(x);
    em_tensor_free(s);
    em_tape_free(tape);
}

/* 2^20 copies of 0.1: a float running sum drifts by about 1%. In the float build the
 * double sum of these floats is exact (24-bit values, 20 more bits of count). */
Test(reduce, sums_accumulate_in_double) {
    em_tape *tape = em_tape_new(0);
    const int R = 1 << 16, C = 16;
    em_tensor *x = tensor_of(2, SHAPE(R, C), NULL, 0);
    em_tensor_fill(x, (em_real)0.1);
    const double v = (em_real)0.1, tol = sizeof(em_real) == 4 ? 1e-6 : 1e-9;
    em_tensor *all = em_sum(tape, x, EM_ALL_AXES, false);       /* one row of R C */
    cr_assert(fabs(all->data[0] / (R * C * v) - 1) <= tol, "sum all: %.9g", (double)all->data[0]);
    em_tensor *mean = em_mean(tape, x, EM_ALL_AXES, false);
    cr_assert(fabs(mean->data[0] / v - 1) <= tol, "mean all: %.9g", (double)mean->data[0]);
    em_tensor *cols = em_sum(tape, x, EM_AXIS(0), false);       /* rows along a kept dim */
    for (int c = 0; c < C; c++)
        cr_assert(fabs(cols->data[c] / (R * v) - 1) <= tol, "column %d: %.9g", c,
                  (double)cols->data[c]);
    em_tensor *var = em_var(tape, x, EM_AXIS(0), false, 1);
    for (int c = 0; c < C; c++) cr_assert(fabs(var->data[c]) <= 1e-12, "var of a constant");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* Two-pass variance: no cancellation when the mean is large against the spread. */
Test(reduce, variance_of_values_far_from_zero) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(1, SHAPE(4), (float[]){10001, 10002, 10003, 10004}, 0);
    assert_tensor(em_var(tape, x, EM_ALL_AXES, false, 0), 1, SHAPE(1), VALUES(1.25), "var");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* ---- known gradients ------------------------------------------------------------------ */

Test(reduce, backward_known_values) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6}, EM_REQUIRES_GRAD);
    /* sum over dim 1: dx[n][c] = dy[n] */
    em_tensor *y = em_sum(tape, x, EM_AXIS(1), false);
    cr_assert_eq(em_backward_from(tape, y, (em_real[]){1, -2}), EM_OK);
    assert_close(x->grad, (float[]){1, 1, 1, -2, -2, -2}, 6, TOL, "sum dx");
    em_tape_reset(tape);
    /* mean over dim 0: dx[n][c] = dy[c] / 2, added to what is there */
    y = em_mean(tape, x, EM_AXIS(0), true);
    cr_assert_eq(em_backward_from(tape, y, (em_real[]){3, 6, 9}), EM_OK);
    assert_close(x->grad, (float[]){2.5f, 4, 5.5f, -0.5f, 1, 2.5f}, 6, TOL, "mean dx (+=)");
    em_tensor_free(x);

    /* biased per-channel var, dy = (1, 2): dx = dy 2 (x - mean) / 8
     * channel 0: (x - 4.5) / 4;  channel 1: x / 2 */
    em_tape_reset(tape);
    em_tensor *z = tensor_of(4, SHAPE(2, 2, 2, 2), NCHW, EM_REQUIRES_GRAD);
    y = em_var(tape, z, PER_CHANNEL, false, 0);
    cr_assert_eq(em_backward_from(tape, y, (em_real[]){1, 2}), EM_OK);
    assert_close(z->grad,
                 (float[]){-0.875f, -0.625f, -0.375f, -0.125f, 0, 0, 5, 5,
                           0.125f, 0.375f, 0.625f, 0.875f, -5, -5, 0, 0},
                 16, TOL, "var dx");
    /* unbiased over W, dy = 1: dx = 2 (x - mean) / 1 = +-1 on the unequal pairs */
    em_tensor_zero_grad(z);
    em_tape_reset(tape);
    y = em_var(tape, z, EM_AXIS(3), false, 1);
    em_real ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    cr_assert_eq(em_backward_from(tape, y, ones), EM_OK);
    assert_close(z->grad, (float[]){-1, 1, -1, 1, 0, 0, 0, 0, -1, 1, -1, 1, 0, 0, 0, 0}, 16,
                 TOL, "var over W dx");
    em_tensor_free(z);
    em_tape_free(tape);
}

Test(reduce, records_nothing_without_gradients) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6}, 0);
    cr_assert_null(em_sum(tape, x, EM_AXIS(0), false)->node);
    cr_assert_null(em_mean(tape, x, EM_AXIS(0), false)->node);
    cr_assert_null(em_var(tape, x, EM_AXIS(0), false, 1)->node);
    cr_assert_eq(tape->n_nodes, 0);
    em_tensor_free(x);
    em_tape_free(tape);
}

/* ---- gradient checks over every axes mask --------------------------------------------- */

enum { SUM, MEAN, VAR_BIASED, VAR_UNBIASED, N_KINDS };
static const char *const KIND_NAMES[N_KINDS] = {"sum", "mean", "var(c=0)", "var(c=1)"};

struct red_ctx {
    int kind;
    unsigned axes;
    bool keepdim;
};

static em_tensor *reduce_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    const struct red_ctx *c = ctx;
    switch (c->kind) {
    case SUM: return em_sum(tape, in[0], c->axes, c->keepdim);
    case MEAN: return em_mean(tape, in[0], c->axes, c->keepdim);
    case VAR_BIASED: return em_var(tape, in[0], c->axes, c->keepdim, 0);
    default: return em_var(tape, in[0], c->axes, c->keepdim, 1);
    }
}

/* M for x and axes (bits below ndim) */
static size_t reduced_count(const em_tensor *x, unsigned axes) {
    size_t m = 1;
    for (int d = 0; d < x->ndim; d++)
        if (axes & EM_AXIS(d)) m *= (size_t)x->shape[d];
    return m;
}

struct test_shape {
    int ndim, shape[EM_MAX_DIMS];
};

static const struct test_shape SHAPES[] = {
    {1, {5}},          {2, {3, 4}},          {3, {2, 3, 4}},        {4, {2, 3, 2, 2}},
    {4, {1, 3, 1, 2}}, {5, {2, 1, 3, 1, 2}}, {6, {2, 1, 2, 2, 1, 2}},
};

Test(reduce, gradcheck_every_axes_mask) {
    em_rng rng;
    em_rng_seed(&rng, 21);
    for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
        em_tensor *x = tensor_randn(&rng, SHAPES[s].ndim, SHAPES[s].shape, 0.5, 1.5,
                                    EM_REQUIRES_GRAD);
        unsigned n_masks = 1u << x->ndim;
        for (unsigned mask = 0; mask <= n_masks; mask++) {
            unsigned axes = mask == n_masks ? EM_ALL_AXES : mask;
            size_t m = reduced_count(x, axes);
            for (int kind = 0; kind < N_KINDS; kind++) {
                if (kind == VAR_UNBIASED && m < 2) continue;
                for (int keep = 0; keep < 2; keep++) {
                    struct red_ctx c = {kind, axes, keep};
                    char what[96];
                    snprintf(what, sizeof what, "%s, shape %zu, axes 0x%x, keepdim %d",
                             KIND_NAMES[kind], s, axes, keep);
                    assert_gradcheck(reduce_fn, &c, 1, (em_tensor *[]){x}, what);
                }
            }
        }
        em_tensor_free(x);
    }
}

/* ---- compositions: what BatchNorm is made of ----------------------------------------- */

struct comp_ctx {
    unsigned axes;
    bool keepdim;
    int correction;
};

/* var(x - mean(x)) over the same axes */
static em_tensor *centered_var_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    const struct comp_ctx *c = ctx;
    em_tensor *d = em_sub(tape, in[0], em_mean(tape, in[0], c->axes, true));
    return em_var(tape, d, c->axes, c->keepdim, c->correction);
}

/* mean((x - mean(x))^2): the biased variance from primitives */
static em_tensor *mean_sq_dev_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    const struct comp_ctx *c = ctx;
    em_tensor *d = em_sub(tape, in[0], em_mean(tape, in[0], c->axes, true));
    return em_mean(tape, em_mul(tape, d, d), c->axes, c->keepdim);
}

/* (x - mean) / var * gamma + beta, per channel: BatchNorm without the square root */
static em_tensor *normalize_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    const struct comp_ctx *c = ctx;
    em_tensor *x = in[0], *gamma = in[1], *beta = in[2];
    em_tensor *d = em_sub(tape, x, em_mean(tape, x, c->axes, true));
    em_tensor *v = em_var(tape, x, c->axes, true, c->correction);
    return em_add(tape, em_mul(tape, em_div(tape, d, v), gamma), beta);
}

static const struct comp_ctx COMPS[] = {
    {PER_CHANNEL, false, 0}, {PER_CHANNEL, true, 1}, {EM_AXIS(0), false, 1},
    {EM_AXIS(1) | EM_AXIS(3), true, 0}, {EM_ALL_AXES, false, 0},
};

Test(reduce, gradcheck_centered_variance) {
    em_rng rng;
    em_rng_seed(&rng, 22);
    em_tensor *x = tensor_randn(&rng, 4, SHAPE(3, 2, 2, 3), 1.0, 2.0, EM_REQUIRES_GRAD);
    for (size_t k = 0; k < sizeof COMPS / sizeof COMPS[0]; k++) {
        char what[80];
        snprintf(what, sizeof what, "var(x - mean x), case %zu", k);
        assert_gradcheck(centered_var_fn, (void *)&COMPS[k], 1, (em_tensor *[]){x}, what);
        snprintf(what, sizeof what, "mean((x - mean x)^2), case %zu", k);
        assert_gradcheck(mean_sq_dev_fn, (void *)&COMPS[k], 1, (em_tensor *[]){x}, what);
    }
    em_tensor_free(x);
}

/* The primitives agree with em_var: var(x - mean) = var(x), mean((x - mean)^2) = biased var */
Test(reduce, composition_agrees_with_var) {
    em_rng rng;
    em_rng_seed(&rng, 23);
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_randn(&rng, 4, SHAPE(4, 3, 2, 5), 3.0, 2.0, 0);
    struct comp_ctx c = {PER_CHANNEL, false, 0};
    em_tensor *v = em_var(tape, x, PER_CHANNEL, false, 0);
    em_tensor *v1 = centered_var_fn(tape, (em_tensor *[]){x}, &c);
    em_tensor *v2 = mean_sq_dev_fn(tape, (em_tensor *[]){x}, &c);
    double tol = sizeof(em_real) == 8 ? 1e-12 : 1e-5;
    assert_close_real(v1->data, v->data, 3, tol, "var(x - mean)");
    assert_close_real(v2->data, v->data, 3, tol, "mean((x - mean)^2)");
    em_tensor_free(x);
    em_tape_free(tape);
}

Test(reduce, gradcheck_normalize_per_channel) {
    em_rng rng;
    em_rng_seed(&rng, 24);
    em_tensor *x = tensor_randn(&rng, 4, SHAPE(4, 3, 2, 2), 0.0, 2.0, EM_REQUIRES_GRAD);
    em_tensor *gamma = tensor_randn(&rng, 4, SHAPE(1, 3, 1, 1), 1.0, 0.5, EM_REQUIRES_GRAD);
    em_tensor *beta = tensor_randn(&rng, 4, SHAPE(1, 3, 1, 1), 0.0, 0.5, EM_REQUIRES_GRAD);
    struct comp_ctx c = {PER_CHANNEL, true, 0};
    assert_gradcheck(normalize_fn, &c, 3, (em_tensor *[]){x, gamma, beta},
                     "(x - mean) / var * gamma + beta");
    /* BatchNorm1d's layout: (N, C) over N, with (1, C) parameters */
    em_tensor *h = tensor_randn(&rng, 2, SHAPE(6, 4), 0.0, 2.0, EM_REQUIRES_GRAD);
    em_tensor *g1 = tensor_randn(&rng, 2, SHAPE(1, 4), 1.0, 0.5, EM_REQUIRES_GRAD);
    em_tensor *b1 = tensor_randn(&rng, 1, SHAPE(4), 0.0, 0.5, EM_REQUIRES_GRAD);
    struct comp_ctx c1 = {EM_AXIS(0), true, 1};
    assert_gradcheck(normalize_fn, &c1, 3, (em_tensor *[]){h, g1, b1}, "1-d normalize");
    em_tensor_free(x); em_tensor_free(gamma); em_tensor_free(beta);
    em_tensor_free(h); em_tensor_free(g1); em_tensor_free(b1);
}

/* ---- errors abort ------------------------------------------------------------------------ */

Test(reduce, unbiased_var_of_one_value_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, SHAPE(1, 3), NULL, 0);
    em_var(tape, x, EM_AXIS(0), false, 1);  /* M = 1, M - correction = 0 */
}

Test(reduce, var_with_correction_at_least_m_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(1, SHAPE(3), NULL, 0);
    em_var(tape, x, EM_ALL_AXES, true, 4);
}

Test(reduce, mean_over_empty_dim_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, SHAPE(0, 3), NULL, 0);
    em_mean(tape, x, EM_AXIS(0), false);
}

Test(reduce, sum_over_empty_dim_is_zero) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, SHAPE(0, 3), NULL, 0);
    assert_tensor(em_sum(tape, x, EM_AXIS(0), false), 1, SHAPE(3), VALUES(0, 0, 0), "sum");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* tests/test_gradcheck.c — the checker itself: it passes correct backwards and, more to
 * the point, it FAILS wrong ones, including an O(1/N) error. */
#include "helpers.h"

/* A custom op: the biased variance of all elements, v = (1/N) sum (x - mean)^2,
 * with a choice of backward: the right one (divide by N) or the classic slip of
 * dividing by N - 1 as if the forward had been unbiased. */
struct var_ctx { bool wrong; };

static void var_backward_right(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0];
    em_real *dx = em_node_grad(tape, node, 0), dy = node->output->grad[0];
    double mean = node->scalar, n = (double)x->size;
    for (size_t i = 0; i < x->size; i++) dx[i] += (em_real)(dy * 2.0 * (x->data[i] - mean) / n);
}

static void var_backward_wrong(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0];
    em_real *dx = em_node_grad(tape, node, 0), dy = node->output->grad[0];
    double mean = node->scalar, n = (double)x->size;
    for (size_t i = 0; i < x->size; i++)
        dx[i] += (em_real)(dy * 2.0 * (x->data[i] - mean) / (n - 1));
}

static em_tensor *var_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    struct var_ctx *c = ctx;
    em_tensor *x = in[0];
    em_tensor *y = em_tape_tensor(tape, 1, (int[]){1});
    if (!y) return NULL;
    double mean = 0, acc = 0;
    for (size_t i = 0; i < x->size; i++) mean += x->data[i];
    mean /= (double)x->size;
    for (size_t i = 0; i < x->size; i++) acc += (x->data[i] - mean) * (x->data[i] - mean);
    y->data[0] = (em_real)(acc / (double)x->size);
    em_node *node = em_tape_record(tape, EM_OP_CUSTOM, y,
                                   c->wrong ? var_backward_wrong : var_backward_right, 1, x);
    if (node) node->scalar = mean;
    return y;
}

static em_gradcheck_result run_var(int n, bool wrong, uint64_t seed) {
    em_rng rng;
    em_rng_seed(&rng, seed);
    em_tensor *x = tensor_randn(&rng, 1, (int[]){n}, 0.5, 2.0, EM_REQUIRES_GRAD);
    struct var_ctx c = {wrong};
    em_gradcheck_result r;
    cr_assert_eq(em_gradcheck(var_fn, &c, 1, (em_tensor *[]){x}, NULL, &r), EM_OK);
    em_tensor_free(x);
    return r;
}

Test(gradcheck, passes_a_correct_backward) {
    for (int n = 2; n <= 64; n *= 2) {
        em_gradcheck_result r = run_var(n, false, (uint64_t)n);
        if (!r.passed) em_gradcheck_print(&r, stderr);
        cr_assert(r.passed, "correct variance backward rejected at N = %d", n);
        cr_assert_eq(r.checked[0], (size_t)n);
    }
}

Test(gradcheck, catches_n_minus_1_at_n_4) {
    em_gradcheck_result r = run_var(4, true, 11);
    cr_assert_not(r.passed, "the N-1 variance backward at N = 4 was not caught");
    cr_assert_gt(r.failures[0], 0);
    /* the analytic values are off by N/(N-1) = 4/3 */
    cr_assert(r.max_rel_err[0] > 0.2 && r.max_rel_err[0] < 0.3, "rel err %g",
              r.max_rel_err[0]);
}

#ifdef EM_DOUBLE
/* In double the checker sees a 1.6% error (N = 64) with room to spare, and would see
 * far smaller ones: a 0.1% error (N = 1000) too. */
Test(gradcheck, catches_n_minus_1_at_n_64_and_1000_in_double) {
    em_gradcheck_result r = run_var(64, true, 12);
    cr_assert_not(r.passed, "the N-1 variance backward at N = 64 was not caught");
    em_gradcheck_result r2 = run_var(1000, true, 13);
    cr_assert_not(r2.passed, "the N-1 variance backward at N = 1000 was not caught");
    em_gradcheck_result ok = run_var(1000, false, 13);
    cr_assert(ok.passed, "the correct backward at N = 1000 was rejected");
    /* the rounding floor of this one-output check is far below the 0.1% error caught */
    cr_assert(ok.noise > 0 && ok.noise < 1e-8, "floor %g", ok.noise);
}
#endif

/* max_checks samples a subset evenly; the report counts exactly what was checked */
Test(gradcheck, max_checks_limits_the_work) {
    em_rng rng;
    em_rng_seed(&rng, 1);
    em_tensor *x = tensor_randn(&rng, 1, (int[]){100}, 0, 1, EM_REQUIRES_GRAD);
    struct var_ctx c = {false};
    em_gradcheck_opts o = em_gradcheck_defaults();
    o.max_checks = 10;
    em_gradcheck_result r;
    cr_assert_eq(em_gradcheck(var_fn, &c, 1, (em_tensor *[]){x}, &o, &r), EM_OK);
    cr_assert_eq(r.checked[0], 10);
    cr_assert(r.passed);
    em_tensor_free(x);
}

/* An input without EM_REQUIRES_GRAD is not checked (it is data) */
static em_tensor *mul_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    return em_matmul(tape, in[0], in[1], false, false);
}

Test(gradcheck, skips_inputs_without_grad) {
    em_rng rng;
    em_rng_seed(&rng, 2);
    em_tensor *a = tensor_randn(&rng, 2, (int[]){2, 3}, 0, 1, 0);
    em_tensor *b = tensor_randn(&rng, 2, (int[]){3, 2}, 0, 1, EM_REQUIRES_GRAD);
    em_gradcheck_result r;
    cr_assert_eq(em_gradcheck(mul_fn, NULL, 2, (em_tensor *[]){a, b}, NULL, &r), EM_OK);
    cr_assert_eq(r.checked[0], 0);
    cr_assert_eq(r.checked[1], 6);
    cr_assert(r.passed);
    em_tensor_free(a);
    em_tensor_free(b);
}

/* A backward that writes a non-finite value (a division by zero, an overflow) must fail
 * the check at that element. inf is the case that slipped through: |inf - n| - (atol +
 * rtol * inf) is inf - inf = NaN, and a NaN excess compares false with 0. */
static void copy_backward_poisoned(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    const em_real *dy = node->output->grad;
    for (size_t i = 0; i < node->output->size; i++) dx[i] += dy[i];
    dx[2] = (em_real)node->scalar;   /* inf or NaN */
}

static em_tensor *copy_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    em_tensor *y = em_tape_tensor_like(tape, in[0]);
    if (!y) return NULL;
    for (size_t i = 0; i < y->size; i++) y->data[i] = in[0]->data[i];
    em_node *node = em_tape_record(tape, EM_OP_CUSTOM, y, copy_backward_poisoned, 1, in[0]);
    if (node) node->scalar = *(const double *)ctx;
    return y;
}

Test(gradcheck, fails_an_infinite_or_nan_gradient) {
    const double bad[3] = {INFINITY, -INFINITY, NAN};
    for (int b = 0; b < 3; b++) {
        em_tensor *x = tensor_of(1, (int[]){5}, (float[]){1, 2, 3, 4, 5}, EM_REQUIRES_GRAD);
        em_gradcheck_result r;
        cr_assert_eq(em_gradcheck(copy_fn, (void *)&bad[b], 1, &x, NULL, &r), EM_OK);
        cr_assert(!r.passed, "a gradient of %g passed the check", bad[b]);
        cr_assert_eq(r.failures[0], 1, "%g: %zu failures, want 1 (element 2)", bad[b],
                     r.failures[0]);
        cr_assert_eq(r.worst[0], 2, "%g: worst element %zu, want 2", bad[b], r.worst[0]);
        cr_assert(!isfinite(r.worst_analytic[0]), "%g: worst analytic %g", bad[b],
                  r.worst_analytic[0]);
        em_tensor_free(x);
    }
}

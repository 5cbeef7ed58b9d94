/* tests/test_ops_activation.c — relu, sigmoid, tanh: values, tails, gradients. */
#include "helpers.h"

#include <fenv.h>
#include <stdlib.h>

/* y = op(x) and, with dy = 1, dx = op'(x), against known values (em_real: exact in
 * either build). */
static void check_op(em_tensor *(*op)(em_tape *, em_tensor *), const float *x_values,
                     const em_real *want_y, const em_real *want_dx, int n, const char *what) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(1, (int[]){n}, x_values, EM_REQUIRES_GRAD);
    em_tensor *y = op(tape, x);
    cr_assert_not_null(y);
    cr_assert_eq(y->ndim, 1);
    cr_assert_eq(y->shape[0], n);
    char label[64];
    snprintf(label, sizeof label, "%s: y", what);
    assert_close_real(y->data, want_y, (size_t)n, TOL, label);
    em_real ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    cr_assert_leq(n, 8);
    cr_assert_eq(em_backward_from(tape, y, ones), EM_OK);
    snprintf(label, sizeof label, "%s: dx", what);
    assert_close_real(x->grad, want_dx, (size_t)n, TOL, label);
    em_tensor_free(x);
    em_tape_free(tape);
}

Test(relu, known_values) {
    /* the gradient at exactly 0 is 0 (PyTorch's choice) */
    check_op(em_relu, (float[]){-2, -0.5f, 0, 0.5f, 3}, (em_real[]){0, 0, 0, 0.5, 3},
             (em_real[]){0, 0, 0, 1, 1}, 5, "relu");
}

Test(relu, nan_passes_through) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(1, (int[]){2}, (float[]){NAN, -1}, 0);
    em_tensor *y = em_relu(tape, x);
    cr_assert(isnan(y->data[0]), "relu(NaN) must stay NaN so divergence is visible");
    cr_assert_eq(y->data[1], 0);
    em_tensor_free(x);
    em_tape_free(tape);
}

Test(sigmoid, known_values) {
    /* sigma(0) = 1/2, sigma(2) = 1/(1 + e^-2), sigma(-2) = 1 - sigma(2);
     * sigma' = sigma (1 - sigma): 1/4 at 0, 0.1049935854035066 at +-2 */
    check_op(em_sigmoid, (float[]){0, 2, -2, 0.5f},
             (em_real[]){0.5, 0.8807970779778823, 0.11920292202211755, 0.6224593312018546},
             (em_real[]){0.25, 0.10499358540350662, 0.10499358540350662, 0.2350037122015945},
             4, "sigmoid");
}

/* e^1000 overflows: a naive 1 / (1 + e^-x) at x = -1000 is 1/inf = 0 but e^x / (1 + e^x)
 * at x = 1000 is inf/inf = NaN. Both tails must be exact and their gradients 0. */
Test(sigmoid, extreme_inputs_are_finite) {
    check_op(em_sigmoid, (float[]){1000, -1000, 80, -80, 40, -40},
             (em_real[]){1, 0, 1, 1.8048513878454153e-35, 1, 4.248354255291589e-18},
             (em_real[]){0, 0, 0, 1.8048513878454153e-35, 0, 4.248354255291589e-18}, 6,
             "sigmoid tails");
}

/* No intermediate overflows either: 1 / (1 + e^1000) happens to round to the right 0,
 * but it computes an inf on the way (and e^x / (1 + e^x) turns that into NaN). */
Test(sigmoid, never_overflows) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(1, (int[]){4}, (float[]){1000, -1000, 3e38f, -3e38f}, 0);
    feclearexcept(FE_ALL_EXCEPT);
    em_tensor *y = em_sigmoid(tape, x);
    cr_assert_not(fetestexcept(FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO),
                  "sigmoid raised a floating-point overflow, invalid or divide-by-zero");
    assert_close_real(y->data, (em_real[]){1, 0, 1, 0}, 4, 0, "y");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* the float build computes e^-|x| with its own vectorizable polynomial (core/ops/
 * activation.c): held to libm's double sigmoid over a dense grid, both tails included,
 * within 4 float ulps relative (the double build uses libm itself) */
Test(sigmoid, accurate_on_a_dense_grid) {
    enum { N = 20001 };
    float *xs = malloc(N * sizeof *xs);
    cr_assert_not_null(xs);
    for (int i = 0; i < N; i++) xs[i] = -100.0f + 200.0f * (float)i / (N - 1) + 1e-3f;
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(1, (int[]){N}, xs, 0);
    em_tensor *y = em_sigmoid(tape, x);
    double worst = 0, at = 0;
    for (int i = 0; i < N; i++) {
        double v = x->data[i];
        double want = v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v));
        if (want < 1e-37) continue;  /* below float's normal range: flushed, checked above */
        double rel = fabs(y->data[i] - want) / want;
        if (rel > worst) worst = rel, at = v;
    }
    double tol = sizeof(em_real) == 4 ? 4 * 5.96e-8 : 4 * 1.11e-16;
    cr_assert(worst <= tol, "sigmoid max relative error %.3g at x = %g (tolerance %.3g)", worst,
              at, tol);
    em_tensor_free(x);
    em_tape_free(tape);
    free(xs);
}

/* sigma(-x) = 1 - sigma(x), across both branches of the stable formula */
Test(sigmoid, symmetric) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(1, (int[]){9}, (float[]){-30, -8, -1, -0.25f, 0, 0.25f, 1, 8, 30},
                             0);
    em_tensor *y = em_sigmoid(tape, x);
    for (int i = 0; i < 9; i++) {
        double s = y->data[i], t = y->data[8 - i];
        cr_assert(fabs(s + t - 1) < 4 * TOL, "sigma(%g) + sigma(%g) = %.17g", x->data[i],
                  x->data[8 - i], s + t);
    }
    em_tensor_free(x);
    em_tape_free(tape);
}

Test(tanh, known_values) {
    /* tanh' = 1 - tanh^2 */
    check_op(em_tanh, (float[]){0, 1, -0.5f, 1000, -1000},
             (em_real[]){0, 0.7615941559557649, -0.46211715726000974, 1, -1},
             (em_real[]){1, 0.41997434161402614, 0.7864477329659274, 0, 0}, 5, "tanh");
}

/* ---- gradient checks ------------------------------------------------------------------ */

typedef em_tensor *(*act_op)(em_tape *, em_tensor *);

static em_tensor *act_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    act_op op = *(act_op *)ctx;
    return op(tape, in[0]);
}

/* N(0, 2^2) with every |x| >= 0.1, away from relu's kink at 0 (the float build steps
 * by h = 1e-2) */
static em_tensor *input_away_from_zero(em_rng *rng, int ndim, const int *shape) {
    em_tensor *x = tensor_randn(rng, ndim, shape, 0, 2, EM_REQUIRES_GRAD);
    for (size_t i = 0; i < x->size; i++) {
        double v = x->data[i];
        x->data[i] = (em_real)(v < 0 ? v - 0.1 : v + 0.1);
    }
    return x;
}

Test(activation, gradcheck_1d_2d_4d) {
    const int shapes[][4] = {{7}, {3, 5}, {2, 3, 2, 2}};
    const int ndims[] = {1, 2, 4};
    const struct { const char *name; act_op op; } ops[] = {
        {"relu", em_relu}, {"sigmoid", em_sigmoid}, {"tanh", em_tanh}};
    em_rng rng;
    em_rng_seed(&rng, 21);
    for (int k = 0; k < 3; k++)
        for (int s = 0; s < 3; s++) {
            em_tensor *x = input_away_from_zero(&rng, ndims[s], shapes[s]);
            char what[64];
            snprintf(what, sizeof what, "%s on a %d-D tensor", ops[k].name, ndims[s]);
            act_op op = ops[k].op;
            assert_gradcheck(act_fn, &op, 1, (em_tensor *[]){x}, what);
            em_tensor_free(x);
        }
}

/* x (4, 3) used three times: y = (relu(x) tanh(x)^T) sigmoid(x)   (4, 3) */
static em_tensor *reuse_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    em_tensor *x = in[0];
    em_tensor *g = em_linear(tape, em_relu(tape, x), em_tanh(tape, x), NULL);  /* (4, 4) */
    return em_matmul(tape, g, em_sigmoid(tape, x), false, false);
}

Test(activation, tensor_used_three_times) {
    em_rng rng;
    em_rng_seed(&rng, 22);
    em_tensor *x = input_away_from_zero(&rng, 2, (int[]){4, 3});
    assert_gradcheck(reuse_fn, NULL, 1, (em_tensor *[]){x}, "relu, tanh, sigmoid of one x");
    em_tensor_free(x);
}

Test(activation, recording_rules) {
    const struct { act_op op; em_op id; } ops[] = {
        {em_relu, EM_OP_RELU}, {em_sigmoid, EM_OP_SIGMOID}, {em_tanh, EM_OP_TANH}};
    for (int k = 0; k < 3; k++) {
        em_tape *tape = em_tape_new(0);
        em_tensor *data = tensor_of(2, (int[]){1, 2}, (float[]){1, -2}, 0);
        em_tensor *param = tensor_of(2, (int[]){1, 2}, (float[]){1, -2}, EM_REQUIRES_GRAD);
        em_tensor *y = ops[k].op(tape, data);
        cr_assert_null(y->node);
        cr_assert_eq(y->ndim, 2);
        cr_assert_eq(y->shape[1], 2);
        y = ops[k].op(tape, param);
        cr_assert_not_null(y->node);
        cr_assert_eq(y->node->op, ops[k].id);
        tape->status = EM_ERR_NOMEM;
        cr_assert_null(ops[k].op(tape, param));
        em_tensor_free(data);
        em_tensor_free(param);
        em_tape_free(tape);
    }
}

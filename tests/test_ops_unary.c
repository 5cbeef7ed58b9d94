/* tests/test_ops_unary.c — add_scalar, mul_scalar, neg, exp, log, sqrt, rsqrt, pow. */
#include "helpers.h"

/* The eight ops behind one signature, so tables can loop over them. */
typedef em_tensor *(*unary_op)(em_tape *tape, em_tensor *x, em_real c);

static em_tensor *neg_c(em_tape *t, em_tensor *x, em_real c) { (void)c; return em_neg(t, x); }
static em_tensor *exp_c(em_tape *t, em_tensor *x, em_real c) { (void)c; return em_exp(t, x); }
static em_tensor *log_c(em_tape *t, em_tensor *x, em_real c) { (void)c; return em_log(t, x); }
static em_tensor *sqrt_c(em_tape *t, em_tensor *x, em_real c) { (void)c; return em_sqrt(t, x); }
static em_tensor *rsqrt_c(em_tape *t, em_tensor *x, em_real c) {
    (void)c;
    return em_rsqrt(t, x);
}

struct unary_case {
    const char *name;
    unary_op op;
    em_real c;       /* the scalar argument, where the op has one     */
    em_op id;        /* the op id its node must carry                 */
    bool positive;   /* domain: inputs must be > 0                     */
};

static const struct unary_case cases[] = {
    {"add_scalar", em_add_scalar, 3.5f, EM_OP_ADD_SCALAR, false},
    {"mul_scalar", em_mul_scalar, -1.5f, EM_OP_MUL_SCALAR, false},
    {"neg", neg_c, 0, EM_OP_NEG, false},
    {"exp", exp_c, 0, EM_OP_EXP, false},
    {"log", log_c, 0, EM_OP_LOG, true},
    {"sqrt", sqrt_c, 0, EM_OP_SQRT, true},
    {"rsqrt", rsqrt_c, 0, EM_OP_RSQRT, true},
    {"pow 2", em_pow, 2, EM_OP_POW, false},
    {"pow 3", em_pow, 3, EM_OP_POW, false},
    {"pow 0.5", em_pow, 0.5f, EM_OP_POW, true},
    {"pow -1.5", em_pow, -1.5f, EM_OP_POW, true},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* y = op(x), with the known inputs and outputs below; want has irrational values, so it
 * is em_real (a float literal would be off by 1e-8 in the double build). */
static void check_forward(unary_op op, em_real c, const float *x_values, const em_real *want,
                          int n, const char *what) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(1, (int[]){n}, x_values, 0);
    em_tensor *y = op(tape, x, c);
    cr_assert_not_null(y, "%s: no output", what);
    cr_assert_eq(y->ndim, 1);
    cr_assert_eq(y->shape[0], n);
    cr_assert_neq(y->data, x->data, "%s: the output must not alias the input", what);
    assert_close_real(y->data, want, (size_t)n, TOL, what);
    em_tensor_free(x);
    em_tape_free(tape);
}

Test(unary, forward_known_values) {
    check_forward(em_add_scalar, 3, (float[]){1, -2, 0.5f}, (em_real[]){4, 1, 3.5}, 3,
                  "x + 3");
    check_forward(em_mul_scalar, -2, (float[]){1, -2, 0.5f}, (em_real[]){-2, 4, -1}, 3,
                  "-2 x");
    check_forward(neg_c, 0, (float[]){1, -2, 0}, (em_real[]){-1, 2, 0}, 3, "-x");
    check_forward(exp_c, 0, (float[]){0, 1, -1},
                  (em_real[]){1, 2.718281828459045, 0.36787944117144233}, 3, "e^x");
    check_forward(log_c, 0, (float[]){1, 2, 0.5f},
                  (em_real[]){0, 0.6931471805599453, -0.6931471805599453}, 3, "ln x");
    check_forward(sqrt_c, 0, (float[]){4, 2, 0}, (em_real[]){2, 1.4142135623730951, 0}, 3,
                  "sqrt x");
    check_forward(rsqrt_c, 0, (float[]){4, 2, 0.25f}, (em_real[]){0.5, 0.7071067811865475, 2},
                  3, "1/sqrt x");
    check_forward(em_pow, 1.5f, (float[]){2, 0.5f, 4},
                  (em_real[]){2.8284271247461903, 0.3535533905932738, 8}, 3, "x^1.5");
    check_forward(em_pow, 3, (float[]){-2, 0, 1.5f}, (em_real[]){-8, 0, 3.375}, 3, "x^3");
    check_forward(em_pow, -2, (float[]){0.5f, -4, 1}, (em_real[]){4, 0.0625, 1}, 3, "x^-2");
    check_forward(em_pow, 0, (float[]){0, -3, 7}, (em_real[]){1, 1, 1}, 3, "x^0");
}

/* dy = 1: the gradient is the derivative itself, known in closed form. */
static void check_derivative(unary_op op, em_real c, const float *x_values,
                             const em_real *want, int n, const char *what) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(1, (int[]){n}, x_values, EM_REQUIRES_GRAD);
    em_tensor *y = op(tape, x, c);
    em_real ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    cr_assert_leq(n, 8);
    cr_assert_eq(em_backward_from(tape, y, ones), EM_OK);
    assert_close_real(x->grad, want, (size_t)n, TOL, what);
    em_tensor_free(x);
    em_tape_free(tape);
}

Test(unary, backward_known_values) {
    check_derivative(em_add_scalar, 3, (float[]){1, -2}, (em_real[]){1, 1}, 2, "d(x+3)");
    check_derivative(em_mul_scalar, -2, (float[]){1, -2}, (em_real[]){-2, -2}, 2, "d(-2x)");
    check_derivative(neg_c, 0, (float[]){1, -2}, (em_real[]){-1, -1}, 2, "d(-x)");
    check_derivative(exp_c, 0, (float[]){0, 1}, (em_real[]){1, 2.718281828459045}, 2,
                     "d(e^x)");
    check_derivative(log_c, 0, (float[]){1, 2, 0.5f}, (em_real[]){1, 0.5, 2}, 3, "d(ln x)");
    /* 1 / (2 sqrt x) */
    check_derivative(sqrt_c, 0, (float[]){4, 0.25f}, (em_real[]){0.25, 1}, 2, "d(sqrt x)");
    /* -1/2 x^-3/2 */
    check_derivative(rsqrt_c, 0, (float[]){4, 0.25f}, (em_real[]){-0.0625, -4}, 2,
                     "d(1/sqrt x)");
    /* 3 x^2;  -2 x^-3 */
    check_derivative(em_pow, 3, (float[]){2, -1, 0}, (em_real[]){12, 3, 0}, 3, "d(x^3)");
    check_derivative(em_pow, -2, (float[]){0.5f, 2}, (em_real[]){-16, -0.25}, 2, "d(x^-2)");
    /* x^0 = 1 is constant: zero gradient, also at x = 0 (not 0 * 0^-1 = NaN) */
    check_derivative(em_pow, 0, (float[]){0, 3}, (em_real[]){0, 0}, 2, "d(x^0)");
}

/* Gradients accumulate into dx: a second backward doubles them. */
Test(unary, backward_accumulates) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(1, (int[]){2}, (float[]){1, 2}, EM_REQUIRES_GRAD);
    x->grad[0] = 10;
    x->grad[1] = 20;
    em_tensor *y = em_log(tape, x);
    cr_assert_eq(em_backward_from(tape, y, (em_real[]){1, 1}), EM_OK);
    assert_close_real(x->grad, (em_real[]){11, 20.5}, 2, TOL, "dx after one backward");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* x for case k: N(0, 1), moved to [0.5, inf) for the ops that need x > 0 */
static em_tensor *case_input(em_rng *rng, const struct unary_case *k, int ndim,
                             const int *shape) {
    em_tensor *x = tensor_randn(rng, ndim, shape, 0, 1, EM_REQUIRES_GRAD);
    if (k->positive)
        for (size_t i = 0; i < x->size; i++) x->data[i] = (em_real)(0.5 + fabs(x->data[i]));
    return x;
}

static em_tensor *case_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    const struct unary_case *k = ctx;
    return k->op(tape, in[0], k->c);
}

Test(unary, gradcheck_1d_2d_4d) {
    const int shapes[][4] = {{7}, {3, 5}, {2, 3, 2, 2}};
    const int ndims[] = {1, 2, 4};
    em_rng rng;
    em_rng_seed(&rng, 11);
    for (size_t k = 0; k < N_CASES; k++)
        for (int s = 0; s < 3; s++) {
            em_tensor *x = case_input(&rng, &cases[k], ndims[s], shapes[s]);
            char what[64];
            snprintf(what, sizeof what, "%s on a %d-D tensor", cases[k].name, ndims[s]);
            assert_gradcheck(case_fn, (void *)&cases[k], 1, (em_tensor *[]){x}, what);
            em_tensor_free(x);
        }
}

/* x (3, 4), x > 0, used three times:
 *   a = -(1/2)(e^x + 1),  b = ln x,  c = -rsqrt(sqrt(x^3)) = -x^(-3/4),
 *   y = (a b^T) c  (3, 4). */
static em_tensor *reuse_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    em_tensor *x = in[0];
    em_tensor *a = em_mul_scalar(tape, em_add_scalar(tape, em_exp(tape, x), 1), -0.5f);
    em_tensor *b = em_log(tape, x);
    em_tensor *c = em_neg(tape, em_rsqrt(tape, em_sqrt(tape, em_pow(tape, x, 3))));
    return em_matmul(tape, em_matmul(tape, a, b, false, true), c, false, false);
}

Test(unary, tensor_used_three_times) {
    em_rng rng;
    em_rng_seed(&rng, 12);
    em_tensor *x = tensor_randn(&rng, 2, (int[]){3, 4}, 0, 1, EM_REQUIRES_GRAD);
    for (size_t i = 0; i < x->size; i++) x->data[i] = (em_real)(0.5 + fabs(x->data[i]));
    assert_gradcheck(reuse_fn, NULL, 1, (em_tensor *[]){x}, "x through exp, log and pow");
    em_tensor_free(x);
}

/* y = x^2 built two ways agrees: pow(x, 2) and exp(2 ln x) for x > 0, with gradients. */
Test(unary, pow_agrees_with_exp_of_log) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(1, (int[]){3}, (float[]){0.5f, 1.25f, 3}, EM_REQUIRES_GRAD);
    em_tensor *y1 = em_pow(tape, x, 2);
    em_tensor *y2 = em_exp(tape, em_mul_scalar(tape, em_log(tape, x), 2));
    assert_close_real(y2->data, y1->data, 3, 10 * TOL, "exp(2 ln x) vs x^2");
    cr_assert_eq(em_backward_from(tape, y2, (em_real[]){1, 1, 1}), EM_OK);
    assert_close_real(x->grad, (em_real[]){1, 2.5, 6}, 3, 10 * TOL, "d exp(2 ln x) = 2x");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* Every op: a node with its id (and scalar) when x needs a gradient, none when it does
 * not or the tape does not record, and NULL on a failed tape. */
Test(unary, recording_rules) {
    for (size_t k = 0; k < N_CASES; k++) {
        const struct unary_case *u = &cases[k];
        em_tape *tape = em_tape_new(0);
        em_tensor *data = tensor_of(1, (int[]){2}, (float[]){1, 2}, 0);
        em_tensor *param = tensor_of(1, (int[]){2}, (float[]){1, 2}, EM_REQUIRES_GRAD);

        em_tensor *y = u->op(tape, data, u->c);
        cr_assert_not_null(y);
        cr_assert_null(y->node, "%s recorded a node for an input without grad", u->name);
        cr_assert_not(em_requires_grad(y));

        y = u->op(tape, param, u->c);
        cr_assert_not_null(y->node, "%s recorded nothing", u->name);
        cr_assert_eq(y->node->op, u->id, "%s: op id %s", u->name, em_op_name(y->node->op));
        cr_assert_eq(y->node->inputs[0], param);
        cr_assert(em_requires_grad(y));
        if (u->id == EM_OP_POW || u->id == EM_OP_MUL_SCALAR)
            cr_assert_eq(y->node->scalar, (double)u->c, "%s: scalar not saved", u->name);

        em_tape_set_recording(tape, false);
        cr_assert_null(u->op(tape, param, u->c)->node, "%s recorded while off", u->name);

        tape->status = EM_ERR_NOMEM;
        cr_assert_null(u->op(tape, param, u->c), "%s ran on a failed tape", u->name);
        em_tensor_free(data);
        em_tensor_free(param);
        em_tape_free(tape);
    }
}

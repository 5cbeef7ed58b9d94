/* tests/test_ops_loss.c — softmax cross-entropy: values, extremes, gradient, labels. */
#include "helpers.h"

#include <fenv.h>
#include <math.h>

/* loss of logits (N, C) with labels, and the gradient for dy = 1 */
static em_tensor *ce_with_grad(em_tape *tape, em_tensor *z, const int *labels) {
    em_tensor *y = em_cross_entropy(tape, z, labels);
    cr_assert_not_null(y);
    cr_assert_eq(em_backward(tape, y), EM_OK);
    return y;
}

Test(cross_entropy, known_value_and_scalar_shape) {
    /* -log softmax([1, 2, 3])[2] = log(e + e^2 + e^3) - 3 */
    em_tape *tape = em_tape_new(0);
    em_tensor *z = tensor_of(2, (int[]){1, 3}, (float[]){1, 2, 3}, 0);
    em_tensor *y = em_cross_entropy(tape, z, (int[]){2});
    cr_assert_eq(y->ndim, 1);
    cr_assert_eq(y->shape[0], 1);
    cr_assert_eq(y->size, 1);
    assert_close_real(y->data, (em_real[]){0.40760596444438013}, 1, TOL, "loss");
    /* the other labels of the same row: log(e + e^2 + e^3) - z_k */
    y = em_cross_entropy(tape, z, (int[]){0});
    assert_close_real(y->data, (em_real[]){2.40760596444438013}, 1, TOL, "loss, label 0");
    em_tensor_free(z);
    em_tape_free(tape);
}

/* N = 2: the mean over rows, and dz = (softmax - onehot) / N by hand:
 *   softmax([1, 2, 3]) = [0.0900305731703805, 0.2447284710547977, 0.6652409557748219],
 *   softmax([0, 0, 0]) = [1/3, 1/3, 1/3]. */
Test(cross_entropy, gradient_by_hand) {
    em_tape *tape = em_tape_new(0);
    em_tensor *z = tensor_of(2, (int[]){2, 3}, (float[]){1, 2, 3, 0, 0, 0}, EM_REQUIRES_GRAD);
    em_tensor *y = ce_with_grad(tape, z, (int[]){2, 0});
    /* (0.40760596444438013 + log 3) / 2 */
    assert_close_real(y->data, (em_real[]){0.753109126556245}, 1, TOL, "loss");
    assert_close_real(z->grad,
                      (em_real[]){0.04501528658519023, 0.12236423552739883, -0.16737952211258905,
                                  -1.0 / 3, 1.0 / 6, 1.0 / 6},
                      6, TOL, "dz");
    em_tensor_free(z);
    em_tape_free(tape);
}

/* e^1000 is inf in any precision: without log-sum-exp these are inf or NaN. */
Test(cross_entropy, extreme_logits_are_finite_and_correct) {
    em_tape *tape = em_tape_new(0);
    em_tensor *z = tensor_of(2, (int[]){3, 3},
                             (float[]){1000, -1000, 0, -1000, -1000, -1000, 1000, 1000, -1000},
                             EM_REQUIRES_GRAD);
    /* row losses: log(1 + e^-1000 + e^-2000) = 0, log 3, 2000 + log 2 */
    feclearexcept(FE_ALL_EXCEPT);
    em_tensor *y = ce_with_grad(tape, z, (int[]){0, 1, 2});
    cr_assert_not(fetestexcept(FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO),
                  "cross-entropy overflowed or divided by zero on the way");
    cr_assert(isfinite(y->data[0]));
    assert_close_real(y->data, (em_real[]){(2000 + log(6.0)) / 3}, 1, TOL, "loss");
    for (int i = 0; i < 9; i++) cr_assert(isfinite(z->grad[i]), "dz[%d] not finite", i);
    /* (softmax - onehot) / 3: [1, 0, 0] - e0, [1, 1, 1]/3 - e1, [1, 1, 0]/2 - e2 */
    assert_close_real(z->grad,
                      (em_real[]){0, 0, 0, 1.0 / 9, -2.0 / 9, 1.0 / 9, 1.0 / 6, 1.0 / 6,
                                  -1.0 / 3},
                      9, TOL, "dz");
    em_tensor_free(z);
    em_tape_free(tape);
}

Test(cross_entropy, extreme_logits_single_rows) {
    em_tape *tape = em_tape_new(0);
    em_tensor *z = tensor_of(2, (int[]){1, 3}, (float[]){1000, -1000, 0}, 0);
    em_tensor *y = em_cross_entropy(tape, z, (int[]){1});
    assert_close_real(y->data, (em_real[]){2000}, 1, TOL, "label -1000 against 1000");
    y = em_cross_entropy(tape, z, (int[]){2});
    assert_close_real(y->data, (em_real[]){1000}, 1, TOL, "label 0 against 1000");
    y = em_cross_entropy(tape, z, (int[]){0});
    assert_close_real(y->data, (em_real[]){0}, 1, TOL, "label 1000, the winner");
    em_tensor_free(z);
    em_tape_free(tape);
}

/* The op copies the labels: changing the caller's array before backward changes nothing. */
Test(cross_entropy, labels_are_copied) {
    em_tape *tape = em_tape_new(0);
    em_tensor *z = tensor_of(2, (int[]){2, 3}, (float[]){1, 2, 3, 0, 0, 0}, EM_REQUIRES_GRAD);
    int labels[2] = {2, 0};
    em_tensor *y = em_cross_entropy(tape, z, labels);
    labels[0] = 0;  /* the next batch's labels, say */
    labels[1] = 1;
    cr_assert_eq(em_backward(tape, y), EM_OK);
    assert_close_real(z->grad,
                      (em_real[]){0.04501528658519023, 0.12236423552739883, -0.16737952211258905,
                                  -1.0 / 3, 1.0 / 6, 1.0 / 6},
                      6, TOL, "dz with the labels of the forward");
    em_tensor_free(z);
    em_tape_free(tape);
}

Test(cross_entropy, label_too_large_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *z = tensor_of(2, (int[]){2, 3}, NULL, 0);
    em_cross_entropy(tape, z, (int[]){0, 3});
}

Test(cross_entropy, negative_label_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *z = tensor_of(2, (int[]){2, 3}, NULL, 0);
    em_cross_entropy(tape, z, (int[]){-1, 0});
}

Test(cross_entropy, logits_must_be_2d, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *z = tensor_of(1, (int[]){3}, NULL, 0);
    em_cross_entropy(tape, z, (int[]){0});
}

/* ---- gradient checks ------------------------------------------------------------------ */

static em_tensor *ce_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    return em_cross_entropy(tape, in[0], ctx);
}

static em_tensor *ce_flatten_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    return em_cross_entropy(tape, em_flatten(tape, in[0]), ctx);
}

static em_tensor *ce_row_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    return em_cross_entropy(tape, em_reshape(tape, in[0], 2, (int[]){1, -1}), ctx);
}

Test(cross_entropy, gradcheck) {
    const int dims[][2] = {{1, 1}, {1, 3}, {4, 5}, {8, 10}};
    em_rng rng;
    em_rng_seed(&rng, 41);
    int labels[8];
    for (int s = 0; s < 4; s++) {
        int N = dims[s][0], C = dims[s][1];
        for (int n = 0; n < N; n++) labels[n] = (int)em_rng_below(&rng, (uint32_t)C);
        em_tensor *z = tensor_randn(&rng, 2, dims[s], 0, 2, EM_REQUIRES_GRAD);
        char what[64];
        snprintf(what, sizeof what, "cross_entropy (%d, %d)", N, C);
        assert_gradcheck(ce_fn, labels, 1, (em_tensor *[]){z}, what);
        em_tensor_free(z);
    }
    /* 4-D logits through flatten: (2, 3, 2, 2) -> (2, 12) */
    labels[0] = 11;
    labels[1] = 4;
    em_tensor *z = tensor_randn(&rng, 4, (int[]){2, 3, 2, 2}, 0, 2, EM_REQUIRES_GRAD);
    assert_gradcheck(ce_flatten_fn, labels, 1, (em_tensor *[]){z}, "cross_entropy of 4-D");
    em_tensor_free(z);
    /* a 1-D input reshaped to one row: (6) -> (1, 6) */
    labels[0] = 5;
    z = tensor_randn(&rng, 1, (int[]){6}, 0, 2, EM_REQUIRES_GRAD);
    assert_gradcheck(ce_row_fn, labels, 1, (em_tensor *[]){z}, "cross_entropy of 1-D");
    em_tensor_free(z);
}

/* x (4, 3) used twice: logits = reshape(x, (-1, 3)) x^T (4, 4) through em_linear */
static em_tensor *reuse_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    em_tensor *x = in[0];
    em_tensor *logits = em_linear(tape, em_reshape(tape, x, 2, (int[]){-1, 3}), x, NULL);
    return em_cross_entropy(tape, logits, ctx);
}

Test(cross_entropy, tensor_used_twice) {
    em_rng rng;
    em_rng_seed(&rng, 42);
    int labels[4] = {3, 0, 2, 2};
    em_tensor *x = tensor_randn(&rng, 2, (int[]){4, 3}, 0, 1, EM_REQUIRES_GRAD);
    assert_gradcheck(reuse_fn, labels, 1, (em_tensor *[]){x}, "cross_entropy of x x^T");
    em_tensor_free(x);
}

Test(cross_entropy, recording_rules) {
    em_tape *tape = em_tape_new(0);
    em_tensor *data = tensor_of(2, (int[]){1, 2}, (float[]){1, 2}, 0);
    em_tensor *param = tensor_of(2, (int[]){1, 2}, (float[]){1, 2}, EM_REQUIRES_GRAD);
    em_tensor *y = em_cross_entropy(tape, data, (int[]){0});
    cr_assert_null(y->node);
    /* log(e + e^2) - 1 = log(1 + e) */
    assert_close_real(y->data, (em_real[]){1.3132616875182228}, 1, TOL, "loss without a node");
    y = em_cross_entropy(tape, param, (int[]){0});
    cr_assert_eq(y->node->op, EM_OP_CROSS_ENTROPY);
    cr_assert_not_null(y->node->saved);
    assert_close_real(y->data, (em_real[]){1.3132616875182228}, 1, TOL, "loss with a node");
    em_tape_set_recording(tape, false);
    cr_assert_null(em_cross_entropy(tape, param, (int[]){0})->node);
    tape->status = EM_ERR_NOMEM;
    cr_assert_null(em_cross_entropy(tape, param, (int[]){0}));
    em_tensor_free(data);
    em_tensor_free(param);
    em_tape_free(tape);
}

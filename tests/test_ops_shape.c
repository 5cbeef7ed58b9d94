/* tests/test_ops_shape.c — reshape and flatten (views), transpose (a copy). */
#include "helpers.h"

static void assert_shape(const em_tensor *t, int ndim, const int *shape, const char *what) {
    char got[64];
    cr_assert_eq(t->ndim, ndim, "%s: ndim %d, want %d", what, t->ndim, ndim);
    for (int i = 0; i < ndim; i++)
        cr_assert_eq(t->shape[i], shape[i], "%s: shape %s", what,
                     em_shape_str(t, got, sizeof got));
}

/* ---- reshape -------------------------------------------------------------------------- */

Test(reshape, is_a_view_with_the_new_shape) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(3, (int[]){2, 3, 4}, NULL, 0);
    for (size_t i = 0; i < x->size; i++) x->data[i] = (em_real)i;
    em_tensor *y = em_reshape(tape, x, 2, (int[]){6, 4});
    assert_shape(y, 2, (int[]){6, 4}, "reshape (6, 4)");
    cr_assert_eq(y->size, 24);
    cr_assert_eq(y->data, x->data, "reshape must share the data (a view)");
    cr_assert_not(y->flags & EM_OWNS_DATA);
    /* a write through the source shows in the view */
    x->data[5] = 100;
    cr_assert_eq(y->data[5], 100);
    em_tensor_free(x);
    em_tape_free(tape);
}

Test(reshape, infers_minus_one) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(3, (int[]){2, 3, 4}, NULL, 0);
    assert_shape(em_reshape(tape, x, 2, (int[]){4, -1}), 2, (int[]){4, 6}, "(4, -1)");
    assert_shape(em_reshape(tape, x, 2, (int[]){-1, 2}), 2, (int[]){12, 2}, "(-1, 2)");
    assert_shape(em_reshape(tape, x, 1, (int[]){-1}), 1, (int[]){24}, "(-1)");
    assert_shape(em_reshape(tape, x, 4, (int[]){2, -1, 2, 3}), 4, (int[]){2, 2, 2, 3},
                 "(2, -1, 2, 3)");
    assert_shape(em_reshape(tape, x, 3, (int[]){24, 1, -1}), 3, (int[]){24, 1, 1},
                 "(24, 1, -1)");
    em_tensor *y = em_reshape(tape, x, 2, (int[]){-1, 8});
    cr_assert_eq(y->data, x->data);
    em_tensor_free(x);
    em_tape_free(tape);
}

Test(reshape, wrong_size_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){2, 3}, NULL, 0);
    em_reshape(tape, x, 2, (int[]){4, 2});
}

Test(reshape, minus_one_that_does_not_divide_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){2, 3}, NULL, 0);
    em_reshape(tape, x, 2, (int[]){4, -1});
}

Test(reshape, two_minus_ones_abort, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){2, 3}, NULL, 0);
    em_reshape(tape, x, 3, (int[]){-1, 3, -1});
}

Test(reshape, other_negative_dimension_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){2, 3}, NULL, 0);
    em_reshape(tape, x, 2, (int[]){-2, -3});
}

/* The view has its own gradient buffer; backward adds it into x's, element i to i. */
Test(reshape, gradient_flows_back_elementwise) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6}, EM_REQUIRES_GRAD);
    x->grad[0] = 10;  /* accumulates, does not overwrite */
    em_tensor *y = em_reshape(tape, x, 2, (int[]){3, -1});
    cr_assert_not_null(y->node);
    cr_assert_eq(y->node->op, EM_OP_RESHAPE);
    cr_assert_eq(y->node->inputs[0], x);
    cr_assert_eq(em_backward_from(tape, y, (em_real[]){1, -2, 3, -4, 5, -6}), EM_OK);
    cr_assert_not_null(y->grad);
    cr_assert_neq(y->grad, x->grad, "the view needs its own gradient buffer");
    assert_close(x->grad, (float[]){11, -2, 3, -4, 5, -6}, 6, 0, "dx");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* ---- flatten -------------------------------------------------------------------------- */

Test(flatten, keeps_batch_and_shares_data) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(4, (int[]){2, 3, 4, 5}, NULL, 0);
    em_tensor *y = em_flatten(tape, x);
    assert_shape(y, 2, (int[]){2, 60}, "flatten (2, 3, 4, 5)");
    cr_assert_eq(y->data, x->data, "flatten must be a view");
    /* already flat: unchanged shape, still a view */
    em_tensor *z = em_flatten(tape, y);
    assert_shape(z, 2, (int[]){2, 60}, "flatten (2, 60)");
    cr_assert_eq(z->data, x->data);
    /* 1-D: the product of no dimensions is 1 */
    em_tensor *v = tensor_of(1, (int[]){5}, NULL, 0);
    assert_shape(em_flatten(tape, v), 2, (int[]){5, 1}, "flatten (5)");
    em_tensor_free(x);
    em_tensor_free(v);
    em_tape_free(tape);
}

Test(flatten, gradient_flows_back) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(3, (int[]){2, 1, 2}, (float[]){1, 2, 3, 4}, EM_REQUIRES_GRAD);
    em_tensor *y = em_flatten(tape, x);
    cr_assert_eq(em_backward_from(tape, y, (em_real[]){0.5, -1, 2, 3}), EM_OK);
    assert_close(x->grad, (float[]){0.5f, -1, 2, 3}, 4, 0, "dx");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* ---- transpose ------------------------------------------------------------------------ */

Test(transpose, known_values_and_gradient) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6}, EM_REQUIRES_GRAD);
    em_tensor *y = em_transpose(tape, x);
    assert_shape(y, 2, (int[]){3, 2}, "transpose (2, 3)");
    cr_assert_neq(y->data, x->data, "transpose is a copy");
    assert_close(y->data, (float[]){1, 4, 2, 5, 3, 6}, 6, 0, "y");
    cr_assert_eq(y->node->op, EM_OP_TRANSPOSE);
    /* dx = dy^T: dy (3, 2) = [[1, 2], [3, 4], [5, 6]] */
    cr_assert_eq(em_backward_from(tape, y, (em_real[]){1, 2, 3, 4, 5, 6}), EM_OK);
    assert_close(x->grad, (float[]){1, 3, 5, 2, 4, 6}, 6, 0, "dx");
    em_tensor_free(x);
    em_tape_free(tape);
}

Test(transpose, needs_2d, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(3, (int[]){2, 3, 4}, NULL, 0);
    em_transpose(tape, x);
}

/* ---- gradient checks ------------------------------------------------------------------ */

struct reshape_ctx { int ndim; int shape[EM_MAX_DIMS]; };

/* e^(reshape(x)): a view of a leaf, then a nonlinear op on the view */
static em_tensor *reshape_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    struct reshape_ctx *c = ctx;
    return em_exp(tape, em_reshape(tape, in[0], c->ndim, c->shape));
}

/* reshape(tanh(x)): a view of an intermediate, the view is the output */
static em_tensor *reshape_of_intermediate_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    struct reshape_ctx *c = ctx;
    return em_reshape(tape, em_tanh(tape, in[0]), c->ndim, c->shape);
}

static em_tensor *flatten_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    return em_sigmoid(tape, em_flatten(tape, in[0]));
}

static em_tensor *transpose_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    return em_transpose(tape, in[0]);
}

Test(shape, gradcheck_1d_2d_4d) {
    const int shapes[][4] = {{12}, {3, 4}, {2, 3, 1, 2}};
    const int ndims[] = {1, 2, 4};
    const struct reshape_ctx to[] = {{2, {-1, 3}}, {3, {2, 2, 3}}, {1, {-1}}};
    em_rng rng;
    em_rng_seed(&rng, 31);
    for (int s = 0; s < 3; s++) {
        em_tensor *x = tensor_randn(&rng, ndims[s], shapes[s], 0, 1, EM_REQUIRES_GRAD);
        char what[64];
        snprintf(what, sizeof what, "reshape of a %d-D tensor", ndims[s]);
        assert_gradcheck(reshape_fn, (void *)&to[s], 1, (em_tensor *[]){x}, what);
        snprintf(what, sizeof what, "reshape of a %d-D intermediate", ndims[s]);
        assert_gradcheck(reshape_of_intermediate_fn, (void *)&to[s], 1, (em_tensor *[]){x},
                         what);
        snprintf(what, sizeof what, "flatten of a %d-D tensor", ndims[s]);
        assert_gradcheck(flatten_fn, NULL, 1, (em_tensor *[]){x}, what);
        em_tensor_free(x);
    }
    const int mats[][2] = {{1, 1}, {3, 5}, {4, 2}};
    for (int s = 0; s < 3; s++) {
        em_tensor *x = tensor_randn(&rng, 2, mats[s], 0, 1, EM_REQUIRES_GRAD);
        char what[64];
        snprintf(what, sizeof what, "transpose (%d, %d)", mats[s][0], mats[s][1]);
        assert_gradcheck(transpose_fn, NULL, 1, (em_tensor *[]){x}, what);
        em_tensor_free(x);
    }
}

/* x (2, 6) used twice, through views and a transpose:
 *   a = reshape(x, (3, 4)),  b = transpose(flatten(reshape(x, (4, 3, 1))))  (3, 4),
 *   y = a b^T  (3, 3). */
static em_tensor *reuse_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    em_tensor *x = in[0];
    em_tensor *a = em_reshape(tape, x, 2, (int[]){3, 4});
    em_tensor *b3 = em_reshape(tape, x, 3, (int[]){4, 3, 1});
    em_tensor *b = em_transpose(tape, em_flatten(tape, b3));
    return em_matmul(tape, a, b, false, true);
}

Test(shape, tensor_used_twice_through_views) {
    em_rng rng;
    em_rng_seed(&rng, 32);
    em_tensor *x = tensor_randn(&rng, 2, (int[]){2, 6}, 0, 1, EM_REQUIRES_GRAD);
    assert_gradcheck(reuse_fn, NULL, 1, (em_tensor *[]){x}, "x through two views");
    em_tensor_free(x);
}

Test(shape, recording_rules) {
    em_tape *tape = em_tape_new(0);
    em_tensor *data = tensor_of(2, (int[]){2, 2}, (float[]){1, 2, 3, 4}, 0);
    em_tensor *param = tensor_of(2, (int[]){2, 2}, (float[]){1, 2, 3, 4}, EM_REQUIRES_GRAD);
    /* a view of data is still a view, but nothing to record */
    em_tensor *v = em_reshape(tape, data, 1, (int[]){4});
    cr_assert_eq(v->data, data->data);
    cr_assert_null(v->node);
    cr_assert_null(em_flatten(tape, data)->node);
    cr_assert_null(em_transpose(tape, data)->node);
    cr_assert_eq(tape->n_nodes, 0);
    cr_assert_eq(em_reshape(tape, param, 1, (int[]){4})->node->op, EM_OP_RESHAPE);
    cr_assert_eq(em_flatten(tape, param)->node->op, EM_OP_RESHAPE);
    cr_assert_eq(em_transpose(tape, param)->node->op, EM_OP_TRANSPOSE);
    tape->status = EM_ERR_NOMEM;
    cr_assert_null(em_reshape(tape, param, 1, (int[]){4}));
    cr_assert_null(em_flatten(tape, param));
    cr_assert_null(em_transpose(tape, param));
    em_tensor_free(data);
    em_tensor_free(param);
    em_tape_free(tape);
}

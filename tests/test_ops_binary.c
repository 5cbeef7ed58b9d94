/* tests/test_ops_binary.c — add, sub, mul, div with broadcasting: known values, an
 * element-by-element reference for every walk (same shape, channel, general), gradient
 * checks over every broadcasting case, a tensor used twice, and shape errors. */
#include "helpers.h"

typedef em_tensor *(*binop)(em_tape *tape, em_tensor *a, em_tensor *b);

enum { ADD, SUB, MUL, DIV, N_OPS };
static const binop OPS[N_OPS] = {em_add, em_sub, em_mul, em_div};
static const char *const OP_NAMES[N_OPS] = {"add", "sub", "mul", "div"};

/* ---- known values ------------------------------------------------------------------ */

#define MAXN 16
struct known_case {
    const char *name;
    int ndim_a, shape_a[4];
    float a[MAXN];
    int ndim_b, shape_b[4];
    float b[MAXN];
    int ndim_y, shape_y[4];
    double want[N_OPS][MAXN];  /* add, sub, mul, div */
};

static const struct known_case KNOWN[] = {
    {"same shape (2, 3)",
     2, {2, 3}, {1, 2, 3, 4, 5, 6},
     2, {2, 3}, {2, 4, -1, 0.5f, 8, -2},
     2, {2, 3},
     {{3, 6, 2, 4.5, 13, 4},
      {-1, -2, 4, 3.5, -3, 8},
      {2, 8, -3, 2, 40, -12},
      {0.5, 0.5, -3, 8, 0.625, -3}}},
    {"(N, C, H, W) = (2, 2, 1, 2) with (1, C, 1, 1)",
     4, {2, 2, 1, 2}, {1, 2, 3, 4, 5, 6, 7, 8},
     4, {1, 2, 1, 1}, {10, 0.5f},
     4, {2, 2, 1, 2},
     {{11, 12, 3.5, 4.5, 15, 16, 7.5, 8.5},
      {-9, -8, 2.5, 3.5, -5, -4, 6.5, 7.5},
      {10, 20, 1.5, 2, 50, 60, 3.5, 4},
      {0.1, 0.2, 6, 8, 0.5, 0.6, 14, 16}}},
    {"(N, C) = (2, 3) with (C)",
     2, {2, 3}, {1, 2, 3, 4, 5, 6},
     1, {3}, {1, 2, 4},
     2, {2, 3},
     {{2, 4, 7, 5, 7, 10},
      {0, 0, -1, 3, 3, 2},
      {1, 4, 12, 4, 10, 24},
      {1, 1, 0.75, 4, 2.5, 1.5}}},
    {"(3, 1) with (1, 4)",
     2, {3, 1}, {1, 2, 3},
     2, {1, 4}, {1, 2, 4, 8},
     2, {3, 4},
     {{2, 3, 5, 9, 3, 4, 6, 10, 4, 5, 7, 11},
      {0, -1, -3, -7, 1, 0, -2, -6, 2, 1, -1, -5},
      {1, 2, 4, 8, 2, 4, 8, 16, 3, 6, 12, 24},
      {1, 0.5, 0.25, 0.125, 2, 1, 0.5, 0.25, 3, 1.5, 0.75, 0.375}}},
    {"(1) with (2, 2)",
     1, {1}, {2},
     2, {2, 2}, {1, -2, 4, 0.5f},
     2, {2, 2},
     {{3, 0, 6, 2.5}, {1, 4, -2, 1.5}, {2, -4, 8, 1}, {2, -1, 0.5, 4}}},
    {"(2, 2) with (1)",
     2, {2, 2}, {1, -2, 4, 0.5f},
     1, {1}, {2},
     2, {2, 2},
     {{3, 0, 6, 2.5}, {-1, -4, 2, -1.5}, {2, -4, 8, 1}, {0.5, -1, 2, 0.25}}},
    {"(C) with (N, C): the second operand is the larger",
     1, {3}, {1, 2, 4},
     2, {2, 3}, {1, 2, 3, 4, 5, 6},
     2, {2, 3},
     {{2, 4, 7, 5, 7, 10},
      {0, 0, 1, -3, -3, -2},
      {1, 4, 12, 4, 10, 24},
      {1, 1, 4.0 / 3, 0.25, 0.4, 4.0 / 6}}},
    {"(1, C, 1, 1) with (N, C, H, W): the second operand is the larger",
     4, {1, 2, 1, 1}, {10, 0.5f},
     4, {2, 2, 1, 2}, {1, 2, 3, 4, 5, 6, 7, 8},
     4, {2, 2, 1, 2},
     {{11, 12, 3.5, 4.5, 15, 16, 7.5, 8.5},
      {9, 8, -2.5, -3.5, 5, 4, -6.5, -7.5},
      {10, 20, 1.5, 2, 50, 60, 3.5, 4},
      {10, 5, 0.5 / 3, 0.125, 2, 10.0 / 6, 0.5 / 7, 0.0625}}},
    {"(2, 1, 3) with (2, 1) -> (2, 2, 3): both operands broadcast",
     3, {2, 1, 3}, {1, 2, 3, 4, 5, 6},
     2, {2, 1}, {10, 20},
     3, {2, 2, 3},
     {{11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26},
      {-9, -8, -7, -19, -18, -17, -6, -5, -4, -16, -15, -14},
      {10, 20, 30, 20, 40, 60, 40, 50, 60, 80, 100, 120},
      {0.1, 0.2, 0.3, 0.05, 0.1, 0.15, 0.4, 0.5, 0.6, 0.2, 0.25, 0.3}}},
};

Test(binary, forward_known_values) {
    em_tape *tape = em_tape_new(0);
    for (size_t k = 0; k < sizeof KNOWN / sizeof KNOWN[0]; k++) {
        const struct known_case *c = &KNOWN[k];
        em_tensor *a = tensor_of(c->ndim_a, c->shape_a, c->a, 0);
        em_tensor *b = tensor_of(c->ndim_b, c->shape_b, c->b, 0);
        for (int op = 0; op < N_OPS; op++) {
            char what[128];
            snprintf(what, sizeof what, "%s: %s", OP_NAMES[op], c->name);
            assert_tensor(OPS[op](tape, a, b), c->ndim_y, c->shape_y, c->want[op], what);
        }
        em_tensor_free(a);
        em_tensor_free(b);
    }
    em_tape_free(tape);
}

/* ---- every walk against an element-by-element reference ---------------------------- */

struct shape_pair {
    int ndim_a, shape_a[EM_MAX_DIMS];
    int ndim_b, shape_b[EM_MAX_DIMS];
};

/* same shape; channel (small b, small a, inner 1, outer 1, scalar); general; 6-d */
static const struct shape_pair PAIRS[] = {
    {2, {4, 5}, 2, {4, 5}},
    {2, {1, 3}, 1, {3}},
    {4, {2, 3, 4, 5}, 4, {1, 3, 1, 1}},
    {4, {1, 3, 1, 1}, 4, {2, 3, 4, 5}},
    {3, {3, 1, 1}, 4, {2, 3, 2, 2}},
    {2, {6, 7}, 1, {7}},
    {1, {7}, 2, {6, 7}},
    {4, {2, 3, 4, 5}, 1, {1}},
    {1, {1}, 4, {2, 3, 4, 5}},
    {4, {2, 3, 4, 5}, 3, {3, 4, 5}},
    {4, {1, 3, 4, 5}, 4, {2, 3, 4, 5}},
    {4, {2, 3, 4, 5}, 3, {3, 4, 1}},
    {2, {3, 4}, 2, {3, 1}},
    {4, {4, 1, 1, 1}, 4, {4, 3, 2, 2}},
    {4, {2, 3, 4, 5}, 4, {2, 3, 1, 1}},
    {3, {1, 1, 1}, 3, {2, 1, 3}},
    {2, {3, 1}, 2, {1, 4}},
    {3, {2, 1, 3}, 2, {4, 1}},
    {4, {2, 3, 4, 5}, 4, {2, 1, 4, 1}},
    {3, {5, 1, 4}, 3, {1, 3, 1}},
    {4, {2, 3, 1, 5}, 4, {1, 1, 4, 1}},
    {4, {2, 3, 4, 5}, 4, {2, 3, 4, 1}},
    {6, {2, 1, 2, 1, 2, 1}, 6, {1, 2, 1, 2, 1, 2}},
    {6, {2, 3, 1, 1, 2, 2}, 2, {1, 2}},
};
#define N_PAIRS (sizeof PAIRS / sizeof PAIRS[0])

static double apply(int op, double a, double b) {
    switch (op) {
    case ADD: return a + b;
    case SUB: return a - b;
    case MUL: return a * b;
    default: return a / b;
    }
}

/* The offset in x of y's element idx (y has ndim dims): NumPy's rule read literally. */
static size_t source_offset(const em_tensor *x, int ndim, const int *idx) {
    size_t off = 0;
    for (int d = 0; d < x->ndim; d++) {
        int i = idx[ndim - x->ndim + d];
        off = off * (size_t)x->shape[d] + (size_t)(x->shape[d] == 1 ? 0 : i);
    }
    return off;
}

/* a normal; b with |b| in [0.5, 2] and a random sign, so division is well behaved */
static void random_operands(em_rng *rng, const struct shape_pair *p, unsigned flags_a,
                            unsigned flags_b, em_tensor **a, em_tensor **b) {
    *a = tensor_randn(rng, p->ndim_a, p->shape_a, 0, 1, flags_a);
    *b = tensor_of(p->ndim_b, p->shape_b, NULL, flags_b);
    for (size_t i = 0; i < (*b)->size; i++) {
        double mag = em_rng_uniform_range(rng, 0.5, 2.0);
        (*b)->data[i] = (em_real)(em_rng_uniform(rng) < 0.5 ? -mag : mag);
    }
}

Test(binary, every_walk_matches_elementwise_reference) {
    em_rng rng;
    em_rng_seed(&rng, 11);
    em_tape *tape = em_tape_new(0);
    for (size_t p = 0; p < N_PAIRS; p++) {
        em_tensor *a, *b;
        random_operands(&rng, &PAIRS[p], 0, 0, &a, &b);
        for (int op = 0; op < N_OPS; op++) {
            em_tensor *y = OPS[op](tape, a, b);
            cr_assert_not_null(y);
            int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
            cr_assert_eq(y->ndim, nd);
            int idx[EM_MAX_DIMS] = {0};
            for (size_t i = 0; i < y->size; i++) {
                size_t rest = i;  /* unravel i into idx over y's shape */
                for (int d = nd - 1; d >= 0; d--) {
                    idx[d] = (int)(rest % (size_t)y->shape[d]);
                    rest /= (size_t)y->shape[d];
                }
                double want = apply(op, a->data[source_offset(a, nd, idx)],
                                    b->data[source_offset(b, nd, idx)]);
                cr_assert(fabs(y->data[i] - want) <= TOL * fmax(1.0, fabs(want)),
                          "%s, pair %zu, element %zu: got %.9g want %.9g", OP_NAMES[op], p, i,
                          (double)y->data[i], want);
            }
        }
        em_tensor_free(a);
        em_tensor_free(b);
        em_tape_reset(tape);
    }
    em_tape_free(tape);
}

Test(binary, empty_tensors_broadcast_to_empty) {
    em_tape *tape = em_tape_new(0);
    em_tensor *a = tensor_of(2, (int[]){0, 3}, NULL, 0);
    em_tensor *b = tensor_of(1, (int[]){3}, NULL, 0);
    em_tensor *c = tensor_of(3, (int[]){2, 3, 0}, NULL, 0);
    em_tensor *d = tensor_of(2, (int[]){3, 1}, NULL, 0);
    em_tensor *y = em_mul(tape, a, b), *z = em_add(tape, d, c);
    cr_assert_not_null(y);
    cr_assert_eq(y->size, 0);
    cr_assert_eq(y->shape[0], 0);
    cr_assert_eq(y->shape[1], 3);
    cr_assert_not_null(z);
    cr_assert_eq(z->size, 0);
    cr_assert_eq(z->ndim, 3);
    em_tensor_free(a); em_tensor_free(b); em_tensor_free(c); em_tensor_free(d);
    em_tape_free(tape);
}

/* ---- backward: known values, accumulation, no gradient for data ------------------------ */

/* y = a * b, a (3, 1), b (1, 4), dy = 1: da[i] = sum_j b[j], db[j] = sum_i a[i] */
Test(binary, backward_known_values_outer_product) {
    em_tape *tape = em_tape_new(0);
    em_tensor *a = tensor_of(2, (int[]){3, 1}, (float[]){1, 2, 3}, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_of(2, (int[]){1, 4}, (float[]){1, 2, 4, 8}, EM_REQUIRES_GRAD);
    a->grad[0] = 100;  /* backward adds to what is there */
    em_tensor *y = em_mul(tape, a, b);
    em_real dy[12];
    for (int i = 0; i < 12; i++) dy[i] = 1;
    cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
    assert_close(a->grad, (float[]){115, 15, 15}, 3, TOL, "da");
    assert_close(b->grad, (float[]){6, 6, 6, 6}, 4, TOL, "db");
    em_tensor_free(a); em_tensor_free(b);
    em_tape_free(tape);
}

/* y = a / b, a (2, 2), b (1): da = dy / b, db = -sum dy a / b^2; and y = a - b per channel */
Test(binary, backward_known_values_div_and_sub) {
    em_tape *tape = em_tape_new(0);
    em_tensor *a = tensor_of(2, (int[]){2, 2}, (float[]){1, -2, 4, 0.5f}, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_of(1, (int[]){1}, (float[]){2}, EM_REQUIRES_GRAD);
    em_tensor *y = em_div(tape, a, b);
    cr_assert_eq(em_backward_from(tape, y, (em_real[]){1, 2, 3, 4}), EM_OK);
    assert_close(a->grad, (float[]){0.5f, 1, 1.5f, 2}, 4, TOL, "da");
    /* -(1*1 + 2*(-2) + 3*4 + 4*0.5) / 4 = -11 / 4 */
    assert_close(b->grad, (float[]){-2.75f}, 1, TOL, "db");
    em_tape_reset(tape);

    /* (2, 3) - (3): db[c] = -sum_n dy[n][c] */
    em_tensor *x = tensor_of(2, (int[]){2, 3}, NULL, EM_REQUIRES_GRAD);
    em_tensor *m = tensor_of(1, (int[]){3}, NULL, EM_REQUIRES_GRAD);
    em_tensor *z = em_sub(tape, x, m);
    cr_assert_eq(em_backward_from(tape, z, (em_real[]){1, 2, 3, 10, 20, 30}), EM_OK);
    assert_close(x->grad, (float[]){1, 2, 3, 10, 20, 30}, 6, TOL, "dx");
    assert_close(m->grad, (float[]){-11, -22, -33}, 3, TOL, "dm");
    em_tensor_free(a); em_tensor_free(b); em_tensor_free(x); em_tensor_free(m);
    em_tape_free(tape);
}

Test(binary, records_nothing_without_gradients) {
    em_tape *tape = em_tape_new(0);
    em_tensor *a = tensor_of(1, (int[]){3}, (float[]){1, 2, 3}, 0);
    em_tensor *b = tensor_of(1, (int[]){1}, (float[]){2}, 0);
    for (int op = 0; op < N_OPS; op++) {
        em_tensor *y = OPS[op](tape, a, b);
        cr_assert_null(y->node);
        cr_assert_not(em_requires_grad(y));
    }
    cr_assert_eq(tape->n_nodes, 0);
    em_tensor_free(a); em_tensor_free(b);
    em_tape_free(tape);
}

/* ---- gradient checks ----------------------------------------------------------------- */

static em_tensor *binop_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    const int *op = ctx;
    return OPS[*op](tape, in[0], in[1]);
}

Test(binary, gradcheck_every_op_every_broadcast) {
    em_rng rng;
    em_rng_seed(&rng, 12);
    for (size_t p = 0; p < N_PAIRS; p++) {
        for (int op = 0; op < N_OPS; op++) {
            em_tensor *a, *b;
            random_operands(&rng, &PAIRS[p], EM_REQUIRES_GRAD, EM_REQUIRES_GRAD, &a, &b);
            char what[64];
            snprintf(what, sizeof what, "%s, shape pair %zu", OP_NAMES[op], p);
            assert_gradcheck(binop_fn, (void *)&op, 2, (em_tensor *[]){a, b}, what);
            em_tensor_free(a);
            em_tensor_free(b);
        }
    }
}

/* Only one operand wants a gradient: the other gets none, and the one is still right. */
Test(binary, gradcheck_one_operand_only) {
    em_rng rng;
    em_rng_seed(&rng, 13);
    for (size_t p = 0; p < N_PAIRS; p++) {
        for (int op = 0; op < N_OPS; op++) {
            for (int which = 0; which < 2; which++) {
                em_tensor *a, *b;
                random_operands(&rng, &PAIRS[p], which ? 0 : EM_REQUIRES_GRAD,
                                which ? EM_REQUIRES_GRAD : 0, &a, &b);
                char what[64];
                snprintf(what, sizeof what, "%s, pair %zu, only %s", OP_NAMES[op], p,
                         which ? "b" : "a");
                assert_gradcheck(binop_fn, (void *)&op, 2, (em_tensor *[]){a, b}, what);
                cr_assert_null(which ? a->grad : b->grad, "%s: data got a gradient", what);
                em_tensor_free(a);
                em_tensor_free(b);
            }
        }
    }
}

/* a tensor used twice: both contributions accumulate into its gradient */
static em_tensor *square_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    return em_mul(tape, in[0], in[0]);
}

static em_tensor *x_plus_xy_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    return em_add(tape, in[0], em_mul(tape, in[0], in[1]));
}

/* (x + c) * x - x / c with c broadcast per channel: x reaches y by three paths */
static em_tensor *three_paths_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    em_tensor *x = in[0], *c = in[1];
    return em_sub(tape, em_mul(tape, em_add(tape, x, c), x), em_div(tape, x, c));
}

static em_tensor *self_div_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    return em_div(tape, in[0], em_mul(tape, in[0], in[0]));  /* 1 / x, the long way */
}

Test(binary, tensor_used_twice) {
    em_rng rng;
    em_rng_seed(&rng, 14);
    em_tensor *x = tensor_randn(&rng, 2, (int[]){3, 4}, 0, 1, EM_REQUIRES_GRAD);
    em_tensor *y = tensor_randn(&rng, 1, (int[]){4}, 0, 1, EM_REQUIRES_GRAD);
    assert_gradcheck(square_fn, NULL, 1, (em_tensor *[]){x}, "x * x");
    assert_gradcheck(x_plus_xy_fn, NULL, 2, (em_tensor *[]){x, y}, "x + x * y");

    em_tensor *z = tensor_randn(&rng, 4, (int[]){2, 3, 2, 2}, 0, 1, EM_REQUIRES_GRAD);
    em_tensor *c = tensor_of(4, (int[]){1, 3, 1, 1}, (float[]){0.75f, -1.5f, 1.25f},
                             EM_REQUIRES_GRAD);
    assert_gradcheck(three_paths_fn, NULL, 2, (em_tensor *[]){z, c}, "(z + c) z - z / c");

    em_tensor *w = tensor_of(1, (int[]){4}, (float[]){0.5f, -0.75f, 1.5f, -2}, EM_REQUIRES_GRAD);
    assert_gradcheck(self_div_fn, NULL, 1, (em_tensor *[]){w}, "w / (w w)");
    em_tensor_free(x); em_tensor_free(y); em_tensor_free(z); em_tensor_free(c);
    em_tensor_free(w);
}

/* x * x by hand: dy = 1 gives dx = 2x exactly, in both builds */
Test(binary, tensor_used_twice_known_gradient) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(1, (int[]){3}, (float[]){1, -2, 3}, EM_REQUIRES_GRAD);
    em_tensor *y = em_add(tape, em_mul(tape, x, x), x);
    cr_assert_eq(em_backward_from(tape, y, (em_real[]){1, 1, 1}), EM_OK);
    assert_close(x->grad, (float[]){3, -3, 7}, 3, TOL, "d(x^2 + x)/dx");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* ---- shape errors abort --------------------------------------------------------------- */

Test(binary, mismatch_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *a = tensor_of(2, (int[]){2, 3}, NULL, 0);
    em_tensor *b = tensor_of(2, (int[]){2, 4}, NULL, 0);
    em_add(tape, a, b);
}

Test(binary, mismatch_of_different_ndim_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *a = tensor_of(2, (int[]){4, 3}, NULL, 0);
    em_tensor *b = tensor_of(3, (int[]){4, 1, 2}, NULL, 0);
    em_mul(tape, a, b);
}

Test(binary, mismatch_of_vector_against_matrix_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *a = tensor_of(1, (int[]){2}, NULL, 0);  /* (2) against (2, 3): not (3) */
    em_tensor *b = tensor_of(2, (int[]){2, 3}, NULL, 0);
    em_div(tape, a, b);
}

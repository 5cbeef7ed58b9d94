/* tests/test_ops_dropout.c — inverted dropout: identity in evaluation, the kept fraction
 * and scale in training, reproducibility from the seed, the gradient through the mask. */
#include "helpers.h"

#include <stdlib.h>

static em_tensor *ones(int n, unsigned flags) {
    em_tensor *x = tensor_of(1, (int[]){n}, NULL, flags);
    em_tensor_fill(x, 1);
    return x;
}

Test(dropout, evaluation_is_the_identity) {
    em_tape *tape = em_tape_new(0);
    em_rng rng;
    em_rng_seed(&rng, 1);
    em_tensor *x = ones(100, EM_REQUIRES_GRAD);
    em_rng before = rng;
    cr_assert_eq(em_dropout(tape, x, 0.5f, false, &rng), x, "eval: x itself");
    cr_assert_eq(em_dropout(tape, x, 0, true, &rng), x, "p = 0: x itself");
    cr_assert_eq(em_dropout(tape, x, 0.5f, false, NULL), x, "eval needs no rng");
    cr_assert_eq(tape->n_nodes, 0, "no node recorded");
    cr_assert_eq(tape->arena->used, 0, "no copy made");
    cr_assert(rng.state == before.state, "no random numbers drawn");
    em_tensor_free(x);
    em_tape_free(tape);
}

/* Over 200k elements the kept fraction is within 6 standard deviations of 1 - p, every
 * output is 0 or x / (1 - p), and the mean is preserved (that is what the scaling is for). */
Test(dropout, training_keeps_one_minus_p_scaled) {
    const int n = 200000;
    const double ps[] = {0.1, 0.3, 0.5, 0.9};
    em_tape *tape = em_tape_new(0);
    em_rng rng;
    em_rng_seed(&rng, 2);
    em_tensor *x = tensor_of(1, (int[]){n}, NULL, 0);
    for (int i = 0; i < n; i++) x->data[i] = (em_real)(1.0 + (double)(i % 7));
    for (int k = 0; k < 4; k++) {
        em_real p = (em_real)ps[k];
        double scale = 1.0 / (1.0 - (double)p);
        em_tensor *y = em_dropout(tape, x, p, true, &rng);
        cr_assert_neq(y, x);
        cr_assert(em_shape_equal(x, y));
        size_t kept = 0;
        double sum_x = 0, sum_y = 0, sum_x2 = 0;
        for (int i = 0; i < n; i++) {
            sum_x += x->data[i];
            sum_x2 += (double)x->data[i] * x->data[i];
            sum_y += y->data[i];
            if (y->data[i] == 0) continue;
            kept++;
            double want = (double)x->data[i] * scale;
            cr_assert(fabs(y->data[i] - want) <= 1e-6 * want, "p=%g: y[%d] = %g, want 0 or %g",
                      (double)p, i, (double)y->data[i], want);
        }
        double frac = (double)kept / n, sd = sqrt((double)p * (1 - (double)p) / n);
        cr_assert(fabs(frac - (1 - (double)p)) < 6 * sd, "p=%g: kept %.5f, want %.5f +- %.5f",
                  (double)p, frac, 1 - (double)p, 6 * sd);
        /* E[y] = x, Var y_i = x_i^2 p / (1 - p) */
        double sd_ratio = sqrt(sum_x2 * (double)p / (1 - (double)p)) / sum_x;
        cr_assert(fabs(sum_y / sum_x - 1) < 6 * sd_ratio, "p=%g: sum y / sum x = %.5f",
                  (double)p, sum_y / sum_x);
    }
    em_tensor_free(x);
    em_tape_free(tape);
}

/* The mask of element i is visible as y[i] != 0 (x is all ones). */
static void mask_of(bool *mask, em_tensor *x, em_real p, uint64_t seed, em_tape *tape) {
    em_rng rng;
    em_rng_seed(&rng, seed);
    em_tensor *y = em_dropout(tape, x, p, true, &rng);
    for (size_t i = 0; i < y->size; i++) mask[i] = y->data[i] != 0;
}

Test(dropout, same_seed_same_mask_other_seed_other_mask) {
    enum { n = 4096 };
    em_tape *tape = em_tape_new(0);
    em_tensor *x = ones(n, 0);
    static bool a[n], b[n], c[n];
    mask_of(a, x, 0.5f, 42, tape);
    mask_of(b, x, 0.5f, 42, tape);
    mask_of(c, x, 0.5f, 43, tape);
    size_t same_ab = 0, same_ac = 0;
    for (int i = 0; i < n; i++) {
        same_ab += a[i] == b[i];
        same_ac += a[i] == c[i];
    }
    cr_assert_eq(same_ab, (size_t)n, "same seed: identical masks");
    /* independent masks with p = 1/2 agree on about half the elements */
    cr_assert(same_ac > n / 2 - 300 && same_ac < n / 2 + 300, "other seed: %zu of %d agree",
              same_ac, n);
    em_tensor_free(x);
    em_tape_free(tape);
}

/* One rng, two calls: the stream advances, so the second mask is a new one. */
Test(dropout, successive_calls_draw_new_masks) {
    em_tape *tape = em_tape_new(0);
    em_rng rng;
    em_rng_seed(&rng, 5);
    em_tensor *x = ones(1000, 0);
    em_tensor *y1 = em_dropout(tape, x, 0.5f, true, &rng);
    em_tensor *y2 = em_dropout(tape, x, 0.5f, true, &rng);
    size_t differ = 0;
    for (int i = 0; i < 1000; i++) differ += (y1->data[i] == 0) != (y2->data[i] == 0);
    cr_assert(differ > 300, "only %zu of 1000 mask entries differ", differ);
    em_tensor_free(x);
    em_tape_free(tape);
}

/* dx += dy * mask, with mask = 0 or 1/(1 - p): read the mask off y (x has no zeros). */
Test(dropout, gradient_is_dy_times_mask) {
    em_tape *tape = em_tape_new(0);
    em_rng rng;
    em_rng_seed(&rng, 6);
    const int n = 1000;
    const em_real p = 0.25f;
    em_tensor *x = tensor_of(1, (int[]){n}, NULL, EM_REQUIRES_GRAD);
    for (int i = 0; i < n; i++) {
        x->data[i] = (em_real)(0.5 + em_rng_uniform(&rng));
        x->grad[i] = 1;  /* backward adds to what is there */
    }
    em_tensor *y = em_dropout(tape, x, p, true, &rng);
    cr_assert_not_null(y->node);
    cr_assert_eq(y->node->op, EM_OP_DROPOUT);
    em_real *dy = malloc(n * sizeof *dy);
    cr_assert_not_null(dy);
    for (int i = 0; i < n; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        double mask = y->data[i] != 0 ? 1.0 / (1.0 - (double)p) : 0.0;
        kept += mask != 0;
        double want = 1.0 + (double)dy[i] * mask;
        cr_assert(fabs(x->grad[i] - want) <= TOL * fmax(1, fabs(want)),
                  "dx[%d] = %g, want %g", i, (double)x->grad[i], want);
    }
    cr_assert(kept > 0 && kept < n, "the mask has both kinds of entry");
    free(dy);
    em_tensor_free(x);
    em_tape_free(tape);
}

/* The gradcheck's forward is called many times; reseeding in every call fixes the mask. */
typedef struct drop_ctx {
    em_rng rng;
    uint64_t seed;
    em_real p;
    bool reseed;
} drop_ctx;

static em_tensor *dropout_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    drop_ctx *c = ctx;
    if (c->reseed) em_rng_seed(&c->rng, c->seed);
    return em_dropout(tape, in[0], c->p, true, &c->rng);
}

Test(dropout, gradcheck_with_a_fixed_mask) {
    em_rng rng;
    em_rng_seed(&rng, 7);
    const em_real ps[] = {0.2f, 0.5f, 0.75f};
    for (int k = 0; k < 3; k++) {
        em_tensor *x = tensor_randn(&rng, 3, (int[]){2, 3, 7}, 0, 1, EM_REQUIRES_GRAD);
        drop_ctx c = {.seed = 100 + (uint64_t)k, .p = ps[k], .reseed = true};
        assert_gradcheck(dropout_fn, &c, 1, (em_tensor *[]){x}, "dropout");
        em_tensor_free(x);
    }
}

/* ...and without reseeding every evaluation draws another mask, which the check sees:
 * evidence that the gradcheck above could fail. */
Test(dropout, gradcheck_sees_a_changing_mask) {
    em_rng rng;
    em_rng_seed(&rng, 8);
    em_tensor *x = tensor_randn(&rng, 1, (int[]){40}, 0, 1, EM_REQUIRES_GRAD);
    drop_ctx c = {.p = 0.5f, .reseed = false};
    em_rng_seed(&c.rng, 9);
    em_gradcheck_result r;
    cr_assert_eq(em_gradcheck(dropout_fn, &c, 1, (em_tensor *[]){x}, NULL, &r), EM_OK);
    cr_assert_not(r.passed);
    em_tensor_free(x);
}

Test(dropout, failed_tape_returns_null) {
    em_tape *tape = em_tape_new(4096);
    em_rng rng;
    em_rng_seed(&rng, 10);
    em_tensor *x = ones(100000, EM_REQUIRES_GRAD);
    tape->arena->fail_after = tape->arena->chunk_allocs + 1;
    cr_assert_null(em_dropout(tape, x, 0.5f, true, &rng));
    cr_assert_not(em_tape_ok(tape));
    cr_assert_null(em_dropout(tape, x, 0.5f, false, &rng), "a failed tape fails every op");
    em_tensor_free(x);
    em_tape_free(tape);
}

static void dropout_p(em_real p, bool training) {
    em_tape *tape = em_tape_new(0);
    em_rng rng;
    em_rng_seed(&rng, 11);
    em_tensor *x = ones(10, 0);
    em_dropout(tape, x, p, training, &rng);
}

Test(dropout, p_one_aborts, .signal = SIGABRT) { dropout_p(1, true); }
Test(dropout, negative_p_aborts, .signal = SIGABRT) { dropout_p(-0.1f, true); }
Test(dropout, bad_p_aborts_in_evaluation_too, .signal = SIGABRT) { dropout_p(1.5f, false); }
Test(dropout, nan_p_aborts, .signal = SIGABRT) { dropout_p(NAN, true); }

Test(dropout, training_without_rng_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = ones(10, 0);
    em_dropout(tape, x, 0.5f, true, NULL);
}

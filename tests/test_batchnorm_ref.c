/* tests/test_batchnorm_ref.c — BatchNorm against its two references:
 *   1. PyTorch's numbers (tests/fixtures/batchnorm{1d,2d}.emfx, made by
 *      tools/fixtures/gen_batchnorm.py): outputs, all three gradients and the running
 *      statistics over three training steps, then evaluation mode;
 *   2. the same BatchNorm composed from primitive ops (mean, sub, mul, rsqrt, ...) and
 *      differentiated by the tape: the fused closed-form backward must agree to rounding. */
#include "fixture.h"
#include "helpers.h"
#include "layers/layers.h"

/* The fixtures hold the exact (float64) answer for float32 inputs: the float build must
 * come within 1e-4 relative, the double build within rounding. */
#ifdef EM_DOUBLE
#define GOLDEN_TOL 1e-9
#else
#define GOLDEN_TOL 1e-4
#endif

static void check_golden(const char *file, bool two_d) {
    fixture *fx = fixture_load(file);
    const fx_tensor *gamma = fixture_get(fx, "gamma"), *beta = fixture_get(fx, "beta");
    int C = gamma->shape[0];
    em_bn_opts o = em_bn_defaults();   /* momentum 0.9 (history kept) == PyTorch's 0.1 */
    em_module *bn = two_d ? em_batchnorm2d_new(C, &o) : em_batchnorm1d_new(C, &o);
    em_entry w, b, rm, rv, nbt;
    cr_assert(em_module_find(bn, "weight", &w) && em_module_find(bn, "bias", &b));
    cr_assert(em_module_find(bn, "running_mean", &rm) && em_module_find(bn, "running_var", &rv));
    cr_assert(em_module_find(bn, "num_batches_tracked", &nbt));
    for (int c = 0; c < C; c++) {
        w.tensor->data[c] = (em_real)gamma->data[c];
        b.tensor->data[c] = (em_real)beta->data[c];
    }
    em_tape *tape = em_tape_new(0);
    double worst[6] = {0};
    const char *names[6] = {"y", "dx", "dgamma", "dbeta", "running_mean", "running_var"};
    for (int k = 0; k < 3; k++) {
        char key[32];
        snprintf(key, sizeof key, "x%d", k);
        em_tensor *x = fixture_tensor(fixture_get(fx, key), EM_REQUIRES_GRAD);
        snprintf(key, sizeof key, "dy%d", k);
        const fx_tensor *dyf = fixture_get(fx, key);
        em_real *dy = malloc(dyf->size * sizeof *dy);
        for (size_t i = 0; i < dyf->size; i++) dy[i] = (em_real)dyf->data[i];
        em_module_zero_grad(bn);
        em_tensor *y = em_module_forward(bn, tape, x);
        cr_assert_not_null(y);
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
        const em_real *got[6] = {y->data, x->grad, w.tensor->grad, b.tensor->grad,
                                 rm.tensor->data, rv.tensor->data};
        const char *fx_names[6] = {"y%d", "dx%d", "dgamma%d", "dbeta%d", "running_mean%d",
                                   "running_var%d"};
        for (int q = 0; q < 6; q++) {
            snprintf(key, sizeof key, fx_names[q], k);
            double e = fixture_rel_err(got[q], fixture_get(fx, key));
            cr_assert(e < GOLDEN_TOL, "%s step %d: %s differs from PyTorch, rel err %.3g", file,
                      k, names[q], e);
            worst[q] = fmax(worst[q], e);
        }
        free(dy);
        em_tensor_free(x);
        em_tape_reset(tape);
    }
    cr_assert_eq(*nbt.counter, 3);
    em_module_train(bn, false);
    em_tensor *xe = fixture_tensor(fixture_get(fx, "x_eval"), 0);
    em_tensor *ye = em_module_forward(bn, tape, xe);
    double e_eval = fixture_rel_err(ye->data, fixture_get(fx, "y_eval"));
    cr_assert(e_eval < GOLDEN_TOL, "%s: eval output rel err %.3g", file, e_eval);
    printf("%s (%s) max rel err vs PyTorch: y %.2g, dx %.2g, dgamma %.2g, dbeta %.2g, "
           "running_mean %.2g, running_var %.2g, eval y %.2g\n", file, EM_REAL_NAME, worst[0],
           worst[1], worst[2], worst[3], worst[4], worst[5], e_eval);
    em_tensor_free(xe);
    em_tape_free(tape);
    em_module_free(bn);
    fixture_free(fx);
}

Test(batchnorm_golden, batchnorm1d_matches_pytorch) { check_golden("batchnorm1d.emfx", false); }
Test(batchnorm_golden, batchnorm2d_matches_pytorch) { check_golden("batchnorm2d.emfx", true); }

/* ---- BatchNorm from primitives ----------------------------------------------------------
 * mu = mean(x), xc = x - mu, var = mean(xc * xc), rstd = rsqrt(var + eps),
 * y = xc * rstd * gamma + beta, with the per-channel tensors broadcast as (1, C[, 1, 1]). */
static em_tensor *bn_composed(em_tape *tape, em_tensor *x, em_tensor *g, em_tensor *b, double eps) {
    unsigned axes = x->ndim == 4 ? EM_AXIS(0) | EM_AXIS(2) | EM_AXIS(3) : EM_AXIS(0);
    int C = x->shape[1];
    int bshape[4] = {1, C, 1, 1};
    em_tensor *mu = em_mean(tape, x, axes, true);
    em_tensor *xc = em_sub(tape, x, mu);
    em_tensor *var = em_mean(tape, em_mul(tape, xc, xc), axes, true);
    em_tensor *rstd = em_rsqrt(tape, em_add_scalar(tape, var, (em_real)eps));
    em_tensor *gb = em_reshape(tape, g, x->ndim, bshape), *bb = em_reshape(tape, b, x->ndim, bshape);
    return em_add(tape, em_mul(tape, em_mul(tape, xc, rstd), gb), bb);
}

static void check_composed(int ndim, const int *shape, uint64_t seed) {
    em_rng rng;
    em_rng_seed(&rng, seed);
    int C = shape[1];
    em_tensor *x = tensor_randn(&rng, ndim, shape, 3, 2, EM_REQUIRES_GRAD);
    em_tensor *g = tensor_randn(&rng, 1, (int[]){C}, 1, 0.3, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_randn(&rng, 1, (int[]){C}, 0, 1, EM_REQUIRES_GRAD);
    em_real *dy = malloc(x->size * sizeof *dy);
    for (size_t i = 0; i < x->size; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    em_real *grads[2][3];
    em_real *ys[2];
    for (int pass = 0; pass < 2; pass++) {
        em_tape *tape = em_tape_new(0);
        em_tensor_zero_grad(x); em_tensor_zero_grad(g); em_tensor_zero_grad(b);
        em_tensor *y = pass == 0 ? em_batchnorm(tape, x, BN_ARGS(g, b, NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN))
                                 : bn_composed(tape, x, g, b, 1e-5);
        cr_assert_not_null(y);
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
        ys[pass] = malloc(x->size * sizeof(em_real));
        memcpy(ys[pass], y->data, x->size * sizeof(em_real));
        em_tensor *t[3] = {x, g, b};
        for (int q = 0; q < 3; q++) {
            grads[pass][q] = malloc(t[q]->size * sizeof(em_real));
            memcpy(grads[pass][q], t[q]->grad, t[q]->size * sizeof(em_real));
        }
        em_tape_free(tape);
    }
    /* float: different summation orders, ~1e-6 relative; double: ~1e-14 */
    double tol = sizeof(em_real) == 8 ? 1e-10 : 2e-4;
    assert_close_real(ys[0], ys[1], x->size, tol, "y fused vs composed");
    assert_close_real(grads[0][0], grads[1][0], x->size, tol, "dx fused vs composed");
    assert_close_real(grads[0][1], grads[1][1], C, tol, "dgamma fused vs composed");
    assert_close_real(grads[0][2], grads[1][2], C, tol, "dbeta fused vs composed");
    for (int pass = 0; pass < 2; pass++) {
        free(ys[pass]);
        for (int q = 0; q < 3; q++) free(grads[pass][q]);
    }
    free(dy);
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
}

Test(batchnorm_composed, fused_equals_composed_1d) {
    check_composed(2, (int[]){2, 3}, 1);
    check_composed(2, (int[]){16, 7}, 2);
    check_composed(2, (int[]){64, 4}, 3);
}

Test(batchnorm_composed, fused_equals_composed_2d) {
    check_composed(4, (int[]){1, 3, 2, 3}, 4);
    check_composed(4, (int[]){4, 5, 6, 6}, 5);
    check_composed(4, (int[]){16, 2, 3, 3}, 6);
}

/* tests/test_ops_groupnorm.c — GroupNorm, and with it LayerNorm (G = 1) and InstanceNorm
 * (G = C): the forward against hand-computed values, gradient checks for G = 1, 2, C on
 * (N, C) and (N, C, H, W) inputs of several sizes, what a uniform upstream gradient and a
 * scaled input do, the shapes it refuses, the same op composed from primitive ops, and
 * PyTorch's numbers (tests/fixtures/{groupnorm_*,layernorm,instancenorm}.emfx, made by
 * tools/fixtures/gen_norms.py) through the three modules in training and evaluation mode. */
#include "fixture.h"
#include "helpers.h"

#include <string.h>

static const em_gn_args *gn_args(em_tensor *g, em_tensor *b, int groups, double eps) {
    static em_gn_args a;
    a = (em_gn_args){.gamma = g, .beta = b, .groups = groups, .eps = eps};
    return &a;
}

/* x (2, 4, 1, 2), G = 2: groups of 2 channels x 2 positions = 4 values, eps = 0
 *   sample 0, group 0 {1, 2, 3, 4}:     mean 2.5, var 1.25
 *   sample 0, group 1 {0, 0, 2, 2}:     mean 1,   var 1
 *   sample 1, group 0 {-1, 1, -1, 1}:   mean 0,   var 1
 *   sample 1, group 1 {10, 10, 10, 14}: mean 11,  var (1 + 1 + 1 + 9) / 4 = 3 */
Test(groupnorm, forward_known_values) {
    em_tape *tape = em_tape_new(0);
    const float xv[16] = {1, 2, 3, 4, 0, 0, 2, 2, -1, 1, -1, 1, 10, 10, 10, 14};
    em_tensor *x = tensor_of(4, (int[]){2, 4, 1, 2}, xv, 0);
    em_tensor *g = tensor_of(1, (int[]){4}, (float[]){2, 1, 0.5f, -1}, 0);
    em_tensor *b = tensor_of(1, (int[]){4}, (float[]){0.5f, -3, 0, 1}, 0);
    em_tensor *y = em_groupnorm(tape, x, gn_args(g, b, 2, 0));
    const double mean[4] = {2.5, 1, 0, 11}, var[4] = {1.25, 1, 1, 3};
    double want[16];
    for (int i = 0; i < 16; i++) {
        int n = i / 8, c = (i / 2) % 4, grp = n * 2 + c / 2;
        want[i] = g->data[c] * (xv[i] - mean[grp]) / sqrt(var[grp]) + b->data[c];
    }
    assert_tensor(y, 4, (int[]){2, 4, 1, 2}, want, "y");
    /* G = 1 (LayerNorm): sample 0 is {1, 2, 3, 4, 0, 0, 2, 2}, mean 1.75, var 1.6875 */
    em_tensor *y1 = em_groupnorm(tape, x, gn_args(NULL, NULL, 1, 0));
    for (int i = 0; i < 8; i++) want[i] = (xv[i] - 1.75) / sqrt(1.6875);
    assert_close_d(y1->data, want, 8, TOL, "y, G = 1");
    /* G = C (InstanceNorm): each (sample, channel) pair {a, b} normalizes to {-1, 1} or,
     * when a = b, to {0, 0} (eps = 1e-5 keeps that finite) */
    em_tensor *yc = em_groupnorm(tape, x, gn_args(NULL, NULL, 4, 1e-5));
    for (int i = 0; i < 16; i += 2) {
        double d = xv[i + 1] - xv[i], s = d == 0 ? 0 : d / sqrt(d * d / 4 + 1e-5) / 2;
        want[i] = -s;
        want[i + 1] = s;
    }
    assert_close_d(yc->data, want, 16, TOL, "y, G = C");
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
    em_tape_free(tape);
}

struct gn_ctx { int groups; double eps; bool affine; };

static em_tensor *gn_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    struct gn_ctx *c = ctx;
    return em_groupnorm(tape, in[0], gn_args(c->affine ? in[1] : NULL, c->affine ? in[2] : NULL,
                                             c->groups, c->eps));
}

static void check_gn(int ndim, const int *shape, int groups, bool affine, uint64_t seed) {
    em_rng rng;
    em_rng_seed(&rng, seed);
    int C = shape[1];
    /* a large mean stresses the centring; gamma differs across the channels of a group,
     * which the backward must keep inside its sums */
    em_tensor *x = tensor_randn(&rng, ndim, shape, 12, 5, EM_REQUIRES_GRAD);
    em_tensor *g = tensor_randn(&rng, 1, (int[]){C}, 1, 0.5, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_randn(&rng, 1, (int[]){C}, 0, 0.5, EM_REQUIRES_GRAD);
    struct gn_ctx ctx = {.groups = groups, .eps = 1e-5, .affine = affine};
    char what[96], sh[48];
    snprintf(what, sizeof what, "groupnorm %s G %d affine %d", em_shape_str(x, sh, sizeof sh),
             groups, affine);
    if (affine) assert_gradcheck(gn_fn, &ctx, 3, (em_tensor *[]){x, g, b}, what);
    else assert_gradcheck(gn_fn, &ctx, 1, (em_tensor *[]){x}, what);
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
}

Test(groupnorm, gradcheck_2d_input) {
    const int shapes[][2] = {{1, 2}, {3, 4}, {5, 6}, {16, 8}};
    for (int k = 0; k < 4; k++) {
        const int *s = shapes[k];
        check_gn(2, s, 1, true, 10 + (uint64_t)k);
        check_gn(2, s, 1, false, 20 + (uint64_t)k);
        if (s[1] >= 4) {  /* G = 2 with two or more values per group */
            check_gn(2, s, 2, true, 30 + (uint64_t)k);
            check_gn(2, s, 2, false, 40 + (uint64_t)k);
        }
    }
    check_gn(2, (int[]){4, 6}, 3, true, 50);
}

Test(groupnorm, gradcheck_4d_input) {
    const int shapes[][4] = {{1, 2, 1, 2}, {2, 4, 3, 3}, {3, 6, 2, 5}, {2, 8, 4, 4}};
    for (int k = 0; k < 4; k++) {
        const int *s = shapes[k];
        const int groups[3] = {1, 2, s[1]};
        for (int q = 0; q < 3; q++) {
            check_gn(4, s, groups[q], true, 100 + 10 * (uint64_t)k + (uint64_t)q);
            check_gn(4, s, groups[q], false, 200 + 10 * (uint64_t)k + (uint64_t)q);
        }
    }
}

/* A uniform upstream gradient: shifting a whole group leaves y unchanged, so the sum of dx
 * over each group is 0; without the affine part (gamma = 1 throughout) every dx is 0. With
 * gamma varying inside a group the gradient reaching xhat is not uniform, and dx is not. */
Test(groupnorm, uniform_upstream_gradient) {
    em_rng rng;
    em_rng_seed(&rng, 61);
    const int N = 3, C = 4, S = 6, G = 2;
    em_tensor *x = tensor_randn(&rng, 4, (int[]){N, C, 2, 3}, 1, 2, EM_REQUIRES_GRAD);
    em_tensor *g = tensor_randn(&rng, 1, (int[]){C}, 1, 0.5, 0);
    em_real dy[72];
    for (int i = 0; i < 72; i++) dy[i] = 1;
    for (int affine = 0; affine < 2; affine++) {
        em_tape *tape = em_tape_new(0);
        em_tensor_zero_grad(x);
        em_tensor *y = em_groupnorm(tape, x, gn_args(affine ? g : NULL, NULL, G, 1e-5));
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
        double biggest = 0;
        for (int i = 0; i < 72; i++) biggest = fmax(biggest, fabs(x->grad[i]));
        for (int k = 0; k < N * G; k++) {
            double s = 0;
            for (int i = 0; i < C / G * S; i++) s += x->grad[k * (C / G * S) + i];
            cr_assert(fabs(s) < 1e-5, "group %d: sum dx = %g", k, s);
        }
        if (affine) cr_assert_gt(biggest, 1e-2, "gamma varies in the group: dx is not 0");
        else cr_assert_lt(biggest, 1e-5, "no affine: dx = 0, got up to %g", biggest);
        em_tape_free(tape);
    }
    em_tensor_free(x); em_tensor_free(g);
}

/* GN(a x) = GN(x) for a scalar a > 0 (eps = 0), and d GN(a x)/d(a x) = (1/a) d GN(x)/dx:
 * for G = 1, 2 and C. */
Test(groupnorm, scale_invariance) {
    em_rng rng;
    em_rng_seed(&rng, 70);
    const int shape[4] = {2, 4, 3, 2}, n = 48;
    em_tensor *x = tensor_randn(&rng, 4, shape, 1, 2, EM_REQUIRES_GRAD);
    em_tensor *g = tensor_randn(&rng, 1, (int[]){4}, 1, 0.5, 0);
    em_real dy[48];
    for (int i = 0; i < n; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    const int groups[3] = {1, 2, 4};
    for (int q = 0; q < 3; q++) {
        em_real y1[48], dx1[48];
        const double scales[] = {1, 0.01, 10};
        for (int k = 0; k < 3; k++) {
            em_tensor *ax = em_tensor_new(4, shape, EM_REQUIRES_GRAD);
            for (int i = 0; i < n; i++) ax->data[i] = (em_real)(scales[k] * x->data[i]);
            em_tape *tape = em_tape_new(0);
            em_tensor *y = em_groupnorm(tape, ax, gn_args(g, NULL, groups[q], 0));
            cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
            if (k == 0) {
                memcpy(y1, y->data, sizeof y1);
                memcpy(dx1, ax->grad, sizeof dx1);
            } else {
                double tol = sizeof(em_real) == 8 ? 1e-10 : 1e-4;
                em_real scaled[48];
                for (int i = 0; i < n; i++) scaled[i] = (em_real)(ax->grad[i] * scales[k]);
                assert_close_real(y->data, y1, n, tol, "GN(a x) vs GN(x)");
                assert_close_real(scaled, dx1, n, tol, "a d/d(ax) vs d/dx");
            }
            em_tape_free(tape);
            em_tensor_free(ax);
        }
    }
    em_tensor_free(x); em_tensor_free(g);
}

/* ---- shapes it refuses (a programmer error: they depend on the model, not the batch) ----- */

static void run_gn(int ndim, const int *shape, int groups) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(ndim, shape, NULL, 0);
    em_groupnorm(tape, x, gn_args(NULL, NULL, groups, 1e-5));
}

Test(groupnorm_bad, channels_not_a_multiple_of_the_groups, .signal = SIGABRT) {
    run_gn(4, (int[]){2, 6, 3, 3}, 4);
}
Test(groupnorm_bad, zero_groups, .signal = SIGABRT) { run_gn(2, (int[]){2, 6}, 0); }
Test(groupnorm_bad, one_value_per_group, .signal = SIGABRT) { run_gn(2, (int[]){8, 6}, 6); }
Test(groupnorm_bad, three_dims, .signal = SIGABRT) { run_gn(3, (int[]){2, 6, 3}, 2); }
Test(groupnorm_bad, gamma_of_the_wrong_size, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){2, 6}, NULL, 0), *g = tensor_of(1, (int[]){3}, NULL, 0);
    em_groupnorm(tape, x, gn_args(g, NULL, 2, 1e-5));
}

/* ---- GroupNorm from primitive ops ---------------------------------------------------------
 * x viewed as (N, G, K): mu = mean over axis 2, xc = x - mu, var = mean(xc * xc),
 * xhat = xc rsqrt(var + eps), viewed back as x's shape, times gamma and plus beta broadcast
 * as (1, C[, 1, 1]). The tape differentiates it node by node; the closed form must agree. */
static em_tensor *gn_composed(em_tape *tape, em_tensor *x, em_tensor *g, em_tensor *b, int G,
                              double eps) {
    int N = x->shape[0], C = x->shape[1];
    em_tensor *v = em_reshape(tape, x, 3, (int[]){N, G, -1});
    em_tensor *xc = em_sub(tape, v, em_mean(tape, v, EM_AXIS(2), true));
    em_tensor *var = em_mean(tape, em_mul(tape, xc, xc), EM_AXIS(2), true);
    em_tensor *xhat = em_mul(tape, xc, em_rsqrt(tape, em_add_scalar(tape, var, (em_real)eps)));
    em_tensor *back = em_reshape(tape, xhat, x->ndim, x->shape);
    int bshape[4] = {1, C, 1, 1};
    em_tensor *gb = em_reshape(tape, g, x->ndim, bshape), *bb = em_reshape(tape, b, x->ndim, bshape);
    return em_add(tape, em_mul(tape, back, gb), bb);
}

static void check_composed(int ndim, const int *shape, int G, uint64_t seed) {
    em_rng rng;
    em_rng_seed(&rng, seed);
    int C = shape[1];
    em_tensor *x = tensor_randn(&rng, ndim, shape, 3, 2, EM_REQUIRES_GRAD);
    em_tensor *g = tensor_randn(&rng, 1, (int[]){C}, 1, 0.3, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_randn(&rng, 1, (int[]){C}, 0, 1, EM_REQUIRES_GRAD);
    em_real *dy = malloc(x->size * sizeof *dy), *got[2][4];
    for (size_t i = 0; i < x->size; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    for (int pass = 0; pass < 2; pass++) {
        em_tape *tape = em_tape_new(0);
        em_tensor_zero_grad(x); em_tensor_zero_grad(g); em_tensor_zero_grad(b);
        em_tensor *y = pass == 0 ? em_groupnorm(tape, x, gn_args(g, b, G, 1e-5))
                                 : gn_composed(tape, x, g, b, G, 1e-5);
        cr_assert_not_null(y);
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
        const em_tensor *src[4] = {y, x, g, b};
        for (int q = 0; q < 4; q++) {
            const em_real *from = q == 0 ? y->data : src[q]->grad;
            got[pass][q] = malloc(src[q]->size * sizeof(em_real));
            memcpy(got[pass][q], from, src[q]->size * sizeof(em_real));
        }
        em_tape_free(tape);
    }
    double tol = sizeof(em_real) == 8 ? 1e-10 : 2e-4;
    const char *names[4] = {"y", "dx", "dgamma", "dbeta"};
    const size_t sizes[4] = {x->size, x->size, (size_t)C, (size_t)C};
    for (int q = 0; q < 4; q++) {
        assert_close_real(got[0][q], got[1][q], sizes[q], tol, names[q]);
        free(got[0][q]);
        free(got[1][q]);
    }
    free(dy);
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
}

Test(groupnorm_composed, closed_form_equals_composed) {
    check_composed(2, (int[]){5, 6}, 1, 1);
    check_composed(2, (int[]){5, 6}, 3, 2);
    check_composed(4, (int[]){3, 4, 2, 3}, 1, 3);
    check_composed(4, (int[]){3, 4, 2, 3}, 2, 4);
    check_composed(4, (int[]){2, 6, 5, 5}, 6, 5);
}

/* ---- PyTorch's numbers, through the modules ------------------------------------------------ */

/* The fixtures hold the exact (float64) answer for float32 inputs. */
#ifdef EM_DOUBLE
#define GOLDEN_TOL 1e-9
#else
#define GOLDEN_TOL 1e-4
#endif

/* Two training steps (y and the three gradients of each), then the evaluation-mode output,
 * which must also equal what training mode gives on the same input (no running state). */
static void check_golden(const char *file, em_module *m) {
    fixture *fx = fixture_load(file);
    const fx_tensor *gamma = fixture_get(fx, "gamma"), *beta = fixture_get(fx, "beta");
    em_entry w, b;
    cr_assert(em_module_find(m, "weight", &w) && em_module_find(m, "bias", &b));
    for (size_t c = 0; c < gamma->size; c++) {
        w.tensor->data[c] = (em_real)gamma->data[c];
        b.tensor->data[c] = (em_real)beta->data[c];
    }
    em_tape *tape = em_tape_new(0);
    double worst[4] = {0};
    const char *names[4] = {"y", "dx", "dgamma", "dbeta"};
    for (int k = 0; k < 2; k++) {
        char key[32];
        snprintf(key, sizeof key, "x%d", k);
        em_tensor *x = fixture_tensor(fixture_get(fx, key), EM_REQUIRES_GRAD);
        snprintf(key, sizeof key, "dy%d", k);
        em_tensor *dy = fixture_tensor(fixture_get(fx, key), 0);
        em_module_train(m, true);
        em_module_zero_grad(m);
        em_tensor *y = em_module_forward(m, tape, x);
        cr_assert_not_null(y);
        cr_assert_eq(em_backward_from(tape, y, dy->data), EM_OK);
        const em_real *got[4] = {y->data, x->grad, w.tensor->grad, b.tensor->grad};
        const char *fx_names[4] = {"y%d", "dx%d", "dgamma%d", "dbeta%d"};
        for (int q = 0; q < 4; q++) {
            snprintf(key, sizeof key, fx_names[q], k);
            double e = fixture_rel_err(got[q], fixture_get(fx, key));
            cr_assert(e < GOLDEN_TOL, "%s step %d: %s differs from PyTorch, rel err %.3g", file,
                      k, names[q], e);
            worst[q] = fmax(worst[q], e);
        }
        em_tensor_free(x);
        em_tensor_free(dy);
        em_tape_reset(tape);
    }
    em_tensor *xe = fixture_tensor(fixture_get(fx, "x_eval"), 0);
    em_module_train(m, false);
    em_tensor *ye = em_module_forward(m, tape, xe);
    double e_eval = fixture_rel_err(ye->data, fixture_get(fx, "y_eval"));
    cr_assert(e_eval < GOLDEN_TOL, "%s: eval output rel err %.3g", file, e_eval);
    em_module_train(m, true);
    em_tensor *yt = em_module_forward(m, tape, xe);
    cr_assert(memcmp(ye->data, yt->data, xe->size * sizeof(em_real)) == 0,
              "%s: training and evaluation mode differ", file);
    printf("%s via %s (%s) max rel err vs PyTorch: y %.2g, dx %.2g, dgamma %.2g, dbeta %.2g, "
           "eval y %.2g\n", file, m->ops->kind, EM_REAL_NAME, worst[0], worst[1], worst[2],
           worst[3], e_eval);
    em_tensor_free(xe);
    em_tape_free(tape);
    em_module_free(m);
    fixture_free(fx);
}

Test(groupnorm_golden, groupnorm_matches_pytorch) {
    check_golden("groupnorm_g1.emfx", em_groupnorm_new(1, 6, NULL));
    check_golden("groupnorm_g2.emfx", em_groupnorm_new(2, 6, NULL));
    check_golden("groupnorm_gc.emfx", em_groupnorm_new(6, 6, NULL));
    check_golden("groupnorm_g2_flat.emfx", em_groupnorm_new(2, 6, NULL));
}

/* ember's LayerNorm: nn.LayerNorm(C) on (N, C), nn.GroupNorm(1, C) on (N, C, H, W) */
Test(groupnorm_golden, layernorm_matches_pytorch) {
    check_golden("layernorm.emfx", em_layernorm_new(5, NULL));
    check_golden("groupnorm_g1.emfx", em_layernorm_new(6, NULL));
}

/* ember's InstanceNorm: nn.InstanceNorm2d(C, affine=True), nn.GroupNorm(C, C) */
Test(groupnorm_golden, instancenorm_matches_pytorch) {
    check_golden("instancenorm.emfx", em_instancenorm_new(3, NULL));
    check_golden("groupnorm_gc.emfx", em_instancenorm_new(6, NULL));
}

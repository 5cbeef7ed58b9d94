/* tests/test_ops_batchnorm.c — the fused batch-norm op: forward against hand-computed
 * values, running statistics, the three modes, the N = 1 error, and gradient checks at
 * the batch sizes where an O(1/N) slip would show. (The comparison with BatchNorm built
 * from primitive ops and with PyTorch's numbers is in test_batchnorm_ref.c.) */
#include "helpers.h"

#include <string.h>

/* x (4, 2): channel 0 = {1, 2, 3, 4}, channel 1 = {-1, 1, -1, 1} */
static const float X42[8] = {1, -1, 2, 1, 3, -1, 4, 1};

Test(batchnorm, forward_training_known_values) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){4, 2}, X42, 0);
    em_tensor *g = tensor_of(1, (int[]){2}, (float[]){2, 1}, 0);
    em_tensor *b = tensor_of(1, (int[]){2}, (float[]){0.5f, -3}, 0);
    em_real rm[2] = {0, 0}, rv[2] = {1, 1};
    em_tensor *y = em_batchnorm(tape, x, BN_ARGS(g, b, rm, rv, 0.9, 0.0, EM_BN_TRAIN));
    /* channel 0: mean 2.5, var 1.25 -> xhat = (x-2.5)/sqrt(1.25); y = 2 xhat + 0.5
     * channel 1: mean 0, var 1 -> xhat = x; y = x - 3 */
    double r = 1.0 / sqrt(1.25);
    double want[8] = {2 * -1.5 * r + 0.5, -4, 2 * -0.5 * r + 0.5, -2,
                      2 * 0.5 * r + 0.5,  -4, 2 * 1.5 * r + 0.5,  -2};
    assert_close_d(y->data, want, 8, TOL, "y");
    /* running: 0.9 * old + 0.1 * batch, variance unbiased: 1.25 * 4/3, 1 * 4/3 */
    assert_close(rm, (float[]){0.25f, 0}, 2, TOL, "running_mean");
    assert_close_d(rv, (double[]){0.9 + 0.1 * 1.25 * 4 / 3, 0.9 + 0.1 * 4.0 / 3}, 2, TOL,
                   "running_var");
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
    em_tape_free(tape);
}

/* (N, C, H, W): statistics per channel over N, H and W jointly. */
Test(batchnorm, forward_2d_per_channel_statistics) {
    em_rng rng;
    em_rng_seed(&rng, 1);
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_randn(&rng, 4, (int[]){3, 4, 5, 2}, 12, 5, 0);
    em_tensor *g = tensor_of(1, (int[]){4}, (float[]){1, 2, 0.5f, 3}, 0);
    em_tensor *b = tensor_of(1, (int[]){4}, (float[]){0, 1, -1, 2}, 0);
    em_tensor *y = em_batchnorm(tape, x, BN_ARGS(g, b, NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN));
    for (int c = 0; c < 4; c++) {
        double s = 0, s2 = 0;
        for (int n = 0; n < 3; n++)
            for (int k = 0; k < 10; k++) {
                double v = y->data[(n * 4 + c) * 10 + k];
                s += v;
                s2 += v * v;
            }
        double mean = s / 30, std = sqrt(s2 / 30 - mean * mean);
        cr_assert(fabs(mean - b->data[c]) < 1e-4, "channel %d mean %g", c, mean);
        /* eps = 1e-5 against a variance near 25 shifts the std by ~2e-7 relative */
        cr_assert(fabs(std - g->data[c]) < 1e-4 * g->data[c], "channel %d std %g", c, std);
    }
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
    em_tape_free(tape);
}

Test(batchnorm, eval_uses_running_statistics) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){4, 2}, X42, 0);
    em_tensor *g = tensor_of(1, (int[]){2}, (float[]){2, 1}, 0);
    em_tensor *b = tensor_of(1, (int[]){2}, (float[]){0.5f, -3}, 0);
    em_real rm[2] = {1, -2}, rv[2] = {4, 0.25f};
    em_tensor *y = em_batchnorm(tape, x, BN_ARGS(g, b, rm, rv, 0.9, 1e-5, EM_BN_EVAL));
    for (int i = 0; i < 8; i++) {
        int c = i % 2;
        double want = g->data[c] * (X42[i] - rm[c]) / sqrt(rv[c] + 1e-5) + b->data[c];
        cr_assert(fabs(y->data[i] - want) < 1e-5, "y[%d] = %g, want %g", i, y->data[i], want);
    }
    cr_assert(rm[0] == 1 && rv[1] == 0.25f, "eval changed the running statistics");
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
    em_tape_free(tape);
}

/* Running statistics after k steps follow the recurrence with momentum = history kept. */
Test(batchnorm, running_statistics_over_steps) {
    em_rng rng;
    em_rng_seed(&rng, 2);
    em_tape *tape = em_tape_new(0);
    em_real rm[3] = {0, 0, 0}, rv[3] = {1, 1, 1};
    double want_m[3] = {0, 0, 0}, want_v[3] = {1, 1, 1};
    for (int step = 0; step < 5; step++) {
        em_tensor *x = tensor_randn(&rng, 4, (int[]){2, 3, 2, 2}, 3, 2, 0);
        em_batchnorm(tape, x, BN_ARGS(NULL, NULL, rm, rv, 0.8, 1e-5, EM_BN_TRAIN));
        for (int c = 0; c < 3; c++) {
            double s = 0, s2 = 0;
            for (int n = 0; n < 2; n++)
                for (int k = 0; k < 4; k++) s += x->data[(n * 3 + c) * 4 + k];
            double mu = s / 8;
            for (int n = 0; n < 2; n++)
                for (int k = 0; k < 4; k++) {
                    double d = x->data[(n * 3 + c) * 4 + k] - mu;
                    s2 += d * d;
                }
            want_m[c] = 0.8 * want_m[c] + 0.2 * mu;
            want_v[c] = 0.8 * want_v[c] + 0.2 * s2 / 7;  /* unbiased: / (M - 1) */
        }
        em_tensor_free(x);
        em_tape_reset(tape);
    }
    for (int c = 0; c < 3; c++) {
        cr_assert(fabs(rm[c] - want_m[c]) < 1e-5, "running_mean[%d]", c);
        cr_assert(fabs(rv[c] - want_v[c]) < 1e-5, "running_var[%d]", c);
    }
    em_tape_free(tape);
}

Test(batchnorm, one_value_per_channel_is_a_clear_error) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){1, 3}, (float[]){1, 2, 3}, EM_REQUIRES_GRAD);
    em_real rm[3] = {0}, rv[3] = {1, 1, 1};
    em_tensor *y = em_batchnorm(tape, x, BN_ARGS(NULL, NULL, rm, rv, 0.9, 1e-5, EM_BN_TRAIN));
    cr_assert_null(y);
    cr_assert_eq(tape->status, EM_ERR_STATE);
    cr_assert(strstr(tape->err.msg, "more than one value per channel"), "%s", tape->err.msg);
    cr_assert(rm[0] == 0 && rv[0] == 1, "the failed call touched the running statistics");
    /* evaluation mode is fine with one sample */
    em_tape_reset(tape);
    y = em_batchnorm(tape, x, BN_ARGS(NULL, NULL, rm, rv, 0.9, 1e-5, EM_BN_EVAL));
    cr_assert_not_null(y);
    for (int i = 0; i < 3; i++) cr_assert(isfinite(y->data[i]));
    /* (1, C, H, W) with H*W > 1 trains: M = H*W values per channel */
    em_tape_reset(tape);
    em_tensor *x4 = tensor_of(4, (int[]){1, 1, 1, 2}, (float[]){1, 3}, 0);
    y = em_batchnorm(tape, x4, BN_ARGS(NULL, NULL, NULL, NULL, 0.9, 0, EM_BN_TRAIN));
    cr_assert_not_null(y);
    assert_close(y->data, (float[]){-1, 1}, 2, TOL, "y");
    em_tensor_free(x); em_tensor_free(x4);
    em_tape_free(tape);
}

struct bn_ctx { em_bn_mode mode; em_real rm[64], rv[64]; double eps; bool affine; };

static em_tensor *bn_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    struct bn_ctx *c = ctx;
    return em_batchnorm(tape, in[0], BN_ARGS(c->affine ? in[1] : NULL, c->affine ? in[2] : NULL, c->rm, c->rv, 0.9, c->eps, c->mode));
}

static void check_bn(int ndim, const int *shape, em_bn_mode mode, bool affine, uint64_t seed) {
    em_rng rng;
    em_rng_seed(&rng, seed);
    int C = shape[1];
    /* x = 5 randn + 12, as CS231n's check: a large mean stresses the centring */
    em_tensor *x = tensor_randn(&rng, ndim, shape, 12, 5, EM_REQUIRES_GRAD);
    em_tensor *g = tensor_randn(&rng, 1, (int[]){C}, 1, 0.5, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_randn(&rng, 1, (int[]){C}, 0, 0.5, EM_REQUIRES_GRAD);
    struct bn_ctx ctx = {.mode = mode, .eps = 1e-5, .affine = affine};
    for (int c = 0; c < C; c++) {
        ctx.rm[c] = (em_real)em_rng_normal(&rng, 12, 1);
        ctx.rv[c] = (em_real)em_rng_uniform_range(&rng, 10, 40);
    }
    char what[96], sh[48];
    snprintf(what, sizeof what, "batchnorm %s mode %d affine %d", em_shape_str(x, sh, sizeof sh),
             mode, affine);
    if (affine) assert_gradcheck(bn_fn, &ctx, 3, (em_tensor *[]){x, g, b}, what);
    else assert_gradcheck(bn_fn, &ctx, 1, (em_tensor *[]){x}, what);
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
}

Test(batchnorm, gradcheck_1d_training) {
    const int Ns[] = {2, 4, 64};
    for (int i = 0; i < 3; i++) {
        check_bn(2, (int[]){Ns[i], 5}, EM_BN_TRAIN, true, 10 + i);
        check_bn(2, (int[]){Ns[i], 3}, EM_BN_TRAIN, false, 20 + i);
    }
}

Test(batchnorm, gradcheck_2d_training) {
    const int Ns[] = {1, 2, 16};
    for (int i = 0; i < 3; i++) {
        check_bn(4, (int[]){Ns[i], 3, 3, 2}, EM_BN_TRAIN, true, 30 + i);
        check_bn(4, (int[]){Ns[i], 2, 2, 2}, EM_BN_TRAIN, false, 40 + i);
    }
}

Test(batchnorm, gradcheck_eval) {
    check_bn(2, (int[]){1, 4}, EM_BN_EVAL, true, 50);
    check_bn(2, (int[]){8, 4}, EM_BN_EVAL, true, 51);
    check_bn(4, (int[]){2, 3, 2, 3}, EM_BN_EVAL, true, 52);
}

/* Frozen statistics: dx = gamma * rstd * dy exactly (mean and var as constants), which
 * is NOT the derivative of the training forward: gradcheck must reject it, and its dx
 * must differ from the full one while dgamma and dbeta agree. */
Test(batchnorm, frozen_stats_backward_is_the_constant_statistics_gradient) {
    em_rng rng;
    em_rng_seed(&rng, 60);
    const int N = 6, C = 3;
    em_tensor *x = tensor_randn(&rng, 2, (int[]){N, C}, 2, 3, EM_REQUIRES_GRAD);
    em_tensor *g = tensor_randn(&rng, 1, (int[]){C}, 1, 0.5, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_randn(&rng, 1, (int[]){C}, 0, 0.5, EM_REQUIRES_GRAD);
    em_real dy[N * C];
    for (int i = 0; i < N * C; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    em_real dx_full[N * C], dg_full[C], db_full[C];
    for (int pass = 0; pass < 2; pass++) {
        em_tape *tape = em_tape_new(0);
        em_tensor_zero_grad(x); em_tensor_zero_grad(g); em_tensor_zero_grad(b);
        em_tensor *y = em_batchnorm(tape, x, BN_ARGS(g, b, NULL, NULL, 0.9, 1e-5, pass ? EM_BN_FROZEN_STATS : EM_BN_TRAIN));
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
        if (pass == 0) {
            memcpy(dx_full, x->grad, sizeof dx_full);
            memcpy(dg_full, g->grad, sizeof dg_full);
            memcpy(db_full, b->grad, sizeof db_full);
        } else {
            for (int c = 0; c < C; c++) {
                double s = 0, s2 = 0;
                for (int n = 0; n < N; n++) s += x->data[n * C + c];
                double mu = s / N;
                for (int n = 0; n < N; n++) s2 += pow(x->data[n * C + c] - mu, 2);
                double rstd = 1 / sqrt(s2 / N + 1e-5);
                for (int n = 0; n < N; n++) {
                    double want = g->data[c] * rstd * dy[n * C + c];
                    cr_assert(fabs(x->grad[n * C + c] - want) < 1e-5 * fmax(1, fabs(want)));
                }
            }
            assert_close_real(g->grad, dg_full, C, 1e-5, "dgamma");
            assert_close_real(b->grad, db_full, C, 1e-5, "dbeta");
            double diff = 0;
            for (int i = 0; i < N * C; i++) diff = fmax(diff, fabs(x->grad[i] - dx_full[i]));
            cr_assert_gt(diff, 0.1, "frozen and full dx should differ");
        }
        em_tape_free(tape);
    }
    struct bn_ctx ctx = {.mode = EM_BN_FROZEN_STATS, .eps = 1e-5, .affine = true};
    em_gradcheck_result r;
    cr_assert_eq(em_gradcheck(bn_fn, &ctx, 3, (em_tensor *[]){x, g, b}, NULL, &r), EM_OK);
    cr_assert_not(r.passed, "frozen-stats dx passed gradcheck: it is not the true derivative");
    cr_assert_eq(r.failures[1] + r.failures[2], 0, "dgamma/dbeta should still be exact");
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
}

/* With a uniform upstream gradient the true dx is exactly zero (sum over the batch of
 * dL/dx vanishes); the full backward gets this, the frozen one does not. */
Test(batchnorm, uniform_upstream_gradient_gives_zero_dx) {
    em_rng rng;
    em_rng_seed(&rng, 61);
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_randn(&rng, 4, (int[]){4, 2, 3, 3}, 1, 2, EM_REQUIRES_GRAD);
    em_tensor *y = em_batchnorm(tape, x, BN_ARGS(NULL, NULL, NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN));
    em_real dy[72];
    for (int i = 0; i < 72; i++) dy[i] = 1;
    cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
    for (int i = 0; i < 72; i++) cr_assert(fabs(x->grad[i]) < 1e-5, "dx[%d] = %g", i, x->grad[i]);
    em_tensor_free(x);
    em_tape_free(tape);
}

/* Ioffe & Szegedy §3.3, scale invariance: for a scalar a, BN((aW)u) = BN(Wu),
 * d BN((aW)u)/du = d BN(Wu)/du and d BN((aW)u)/d(aW) = (1/a) d BN(Wu)/dW.
 * eps = 0 so that eps does not break the identity. */
Test(batchnorm, scale_invariance) {
    em_rng rng;
    em_rng_seed(&rng, 70);
    const int N = 8, IN = 6, OUT = 4;
    em_tensor *u = tensor_randn(&rng, 2, (int[]){N, IN}, 0, 1, EM_REQUIRES_GRAD);
    em_tensor *w = tensor_randn(&rng, 2, (int[]){OUT, IN}, 0, 1, EM_REQUIRES_GRAD);
    em_real dy[N * OUT];
    for (int i = 0; i < N * OUT; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    em_real y1[N * OUT], du1[N * IN], dw1[OUT * IN];
    const double scales[] = {1, 0.01, 10};
    for (int k = 0; k < 3; k++) {
        double a = scales[k];
        em_tensor *aw = em_tensor_new(2, (int[]){OUT, IN}, EM_REQUIRES_GRAD);
        for (size_t i = 0; i < aw->size; i++) aw->data[i] = (em_real)(a * w->data[i]);
        em_tensor_zero_grad(u);
        em_tape *tape = em_tape_new(0);
        em_tensor *y = em_batchnorm(tape, em_linear(tape, u, aw, NULL), BN_ARGS(NULL, NULL, NULL, NULL, 0.9, 0.0, EM_BN_TRAIN));
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
        if (k == 0) {
            memcpy(y1, y->data, sizeof y1);
            memcpy(du1, u->grad, sizeof du1);
            memcpy(dw1, aw->grad, sizeof dw1);
        } else {
            double tol = sizeof(em_real) == 8 ? 1e-10 : 1e-4;
            assert_close_real(y->data, y1, N * OUT, tol, "BN((aW)u) vs BN(Wu)");
            assert_close_real(u->grad, du1, N * IN, tol, "d/du");
            em_real scaled[OUT * IN];
            for (int i = 0; i < OUT * IN; i++) scaled[i] = (em_real)(aw->grad[i] * a);
            assert_close_real(scaled, dw1, OUT * IN, tol, "a * d/d(aW) vs d/dW");
        }
        em_tape_free(tape);
        em_tensor_free(aw);
    }
    em_tensor_free(u);
    em_tensor_free(w);
}

/* ---- em_fast_batchnorm_relu: BatchNorm and ReLU as one op ---------------------------------- */

/* One run of relu(BN(x)), fused or composed of the two ops, from fresh copies of the same
 * x, gamma, beta and running statistics: y, all three gradients (from a non-uniform dy)
 * and the running statistics after the step. */
typedef struct bnr_run {
    em_real y[256], dx[256], dg[8], db[8], rm[8], rv[8];
} bnr_run;

static void bnr_once(bnr_run *out, bool fused, int ndim, const int *shape, em_bn_mode mode,
                     const em_real *xv, const em_real *gv, const em_real *bv,
                     const em_real *rm0, const em_real *rv0, const em_real *dy) {
    em_tape *tape = tape_on(em_kernels_fast());  /* the fused op is the fast tier's */
    em_tensor *x = tensor_of(ndim, shape, NULL, EM_REQUIRES_GRAD);
    int C = shape[1];
    em_tensor *g = tensor_of(1, (int[]){C}, NULL, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_of(1, (int[]){C}, NULL, EM_REQUIRES_GRAD);
    memcpy(x->data, xv, x->size * sizeof *xv);
    memcpy(g->data, gv, (size_t)C * sizeof *gv);
    memcpy(b->data, bv, (size_t)C * sizeof *bv);
    memcpy(out->rm, rm0, (size_t)C * sizeof *rm0);
    memcpy(out->rv, rv0, (size_t)C * sizeof *rv0);
    const em_bn_args *a = BN_ARGS(g, b, out->rm, out->rv, 0.9, 1e-5, mode);
    em_tensor *y = fused ? em_fast_batchnorm_relu(tape, x, a)
                         : em_relu(tape, em_batchnorm(tape, x, a));
    cr_assert_not_null(y);
    assert_last_op_fused(tape, "batchnorm_relu", "relu", fused);
    cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
    memcpy(out->y, y->data, y->size * sizeof *out->y);
    memcpy(out->dx, x->grad, x->size * sizeof *out->dx);
    memcpy(out->dg, g->grad, (size_t)C * sizeof *out->dg);
    memcpy(out->db, b->grad, (size_t)C * sizeof *out->db);
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
    em_tape_free(tape);
}

/* The fused op equals em_relu(em_batchnorm(...)) exactly, bit for bit, in every mode, for
 * BatchNorm1d and 2d (with a run length that leaves a remainder after the 16-lane loops),
 * including where BN's output is exactly 0 (the ReLU's kink: no gradient either way) and,
 * in evaluation, a NaN input (passed through, no gradient). */
static void check_bnr_equal(int ndim, const int *shape, em_bn_mode mode, uint64_t seed) {
    em_rng rng;
    em_rng_seed(&rng, seed);
    int N = shape[0], C = shape[1], S = ndim == 4 ? shape[2] * shape[3] : 1, n = N * C * S;
    cr_assert(n <= 256 && C <= 8);
    em_real xv[256], dy[256], gv[8], bv[8], rm[8], rv[8];
    for (int i = 0; i < n; i++) {
        xv[i] = (em_real)em_rng_normal(&rng, 1, 2);
        dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    }
    for (int c = 0; c < C; c++) {
        gv[c] = (em_real)em_rng_normal(&rng, 1, 0.5);
        bv[c] = c == 0 ? 0 : (em_real)em_rng_normal(&rng, 0, 0.5);
        rm[c] = (em_real)em_rng_normal(&rng, 1, 1);
        rv[c] = (em_real)em_rng_uniform_range(&rng, 0.5, 3);
    }
    if (mode == EM_BN_EVAL) {
        xv[0] = rm[0];  /* channel 0, beta 0: BN's output is exactly 0 here */
        xv[n - 1] = NAN;
    }
    bnr_run a, b;
    bnr_once(&a, false, ndim, shape, mode, xv, gv, bv, rm, rv, dy);
    bnr_once(&b, true, ndim, shape, mode, xv, gv, bv, rm, rv, dy);
    if (mode == EM_BN_EVAL) {
        cr_assert_eq(b.y[0], 0, "the kink: relu(0) = 0");
        cr_assert_eq(b.dx[0], 0, "the kink: no gradient");
        cr_assert(isnan(b.y[n - 1]), "NaN passes through");
    }
    int zeros = 0;
    for (int i = 0; i < n; i++) zeros += b.y[i] == 0;
    cr_assert(zeros > 0 && zeros < n, "the ReLU cuts some values and keeps others (%d of %d)",
              zeros, n);
    for (int i = 0; i < n; i++) {
        cr_assert(memcmp(&a.y[i], &b.y[i], sizeof a.y[i]) == 0, "y[%d] %g vs %g", i, a.y[i], b.y[i]);
        cr_assert(memcmp(&a.dx[i], &b.dx[i], sizeof a.dx[i]) == 0, "dx[%d] %g vs %g", i,
                  a.dx[i], b.dx[i]);
    }
    cr_assert(memcmp(a.dg, b.dg, (size_t)C * sizeof *a.dg) == 0, "dgamma");
    cr_assert(memcmp(a.db, b.db, (size_t)C * sizeof *a.db) == 0, "dbeta");
    cr_assert(memcmp(a.rm, b.rm, (size_t)C * sizeof *a.rm) == 0, "running mean");
    cr_assert(memcmp(a.rv, b.rv, (size_t)C * sizeof *a.rv) == 0, "running var");
}

Test(batchnorm_relu, equals_relu_of_batchnorm_exactly) {
    const em_bn_mode modes[] = {EM_BN_TRAIN, EM_BN_FROZEN_STATS, EM_BN_EVAL};
    for (int m = 0; m < 3; m++) {
        check_bnr_equal(2, (int[]){16, 5}, modes[m], 70 + (uint64_t)m);
        check_bnr_equal(4, (int[]){3, 4, 4, 5}, modes[m], 80 + (uint64_t)m);  /* S = 20 */
        check_bnr_equal(4, (int[]){2, 2, 8, 8}, modes[m], 90 + (uint64_t)m);  /* S = 64 */
    }
}

static em_tensor *bnr_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    struct bn_ctx *c = ctx;
    return em_fast_batchnorm_relu(tape, in[0], BN_ARGS(in[1], in[2], c->rm, c->rv, 0.9, c->eps, c->mode));
}

/* and its backward is the derivative of its forward, on inputs whose BatchNorm outputs
 * all lie at least 0.05 from the ReLU's kink (the first seed from 100 up that gives such
 * an input): the float build's finite differences step 1e-2 and must not cross it */
Test(batchnorm_relu, gradcheck) {
    const int shapes[][4] = {{8, 3, 0, 0}, {2, 3, 3, 2}};
    for (int k = 0; k < 2; k++) {
        int ndim = shapes[k][2] ? 4 : 2;
        for (uint64_t seed = 100;; seed++) {
            cr_assert(seed < 1100, "no input away from the kink in 1000 seeds");
            em_rng rng;
            em_rng_seed(&rng, seed);
            em_tensor *x = tensor_randn(&rng, ndim, shapes[k], 12, 5, EM_REQUIRES_GRAD);
            em_tensor *g = tensor_randn(&rng, 1, (int[]){3}, 1, 0.5, EM_REQUIRES_GRAD);
            em_tensor *b = tensor_randn(&rng, 1, (int[]){3}, 0, 0.5, EM_REQUIRES_GRAD);
            struct bn_ctx ctx = {.mode = EM_BN_TRAIN, .eps = 1e-5, .affine = true};
            for (int c = 0; c < 3; c++) ctx.rm[c] = 0, ctx.rv[c] = 1;
            em_tape *tape = em_tape_new(0);
            em_tensor *v = em_batchnorm(tape, x, BN_ARGS(g, b, NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN));
            bool clear = true;
            for (size_t i = 0; i < v->size; i++) clear = clear && fabs((double)v->data[i]) >= 0.05;
            em_tape_free(tape);
            if (clear)
                assert_gradcheck(bnr_fn, &ctx, 3, (em_tensor *[]){x, g, b}, "batchnorm_relu");
            em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
            if (clear) break;
        }
    }
}

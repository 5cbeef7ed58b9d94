/* tests/test_ops_batchrenorm.c — Batch Renormalization (Ioffe 2017), BatchNorm's option
 * (em_bn_args::renorm): the forward, running statistics and stop-gradient backward against
 * hand-computed values, its relation to BatchNorm (rmax = 1, dmax = 0) and to evaluation
 * (nothing clipped), gradient checks where r and d are constant and one that must fail where
 * they are not, the fast tier's hand-off to the reference kernels, and PyTorch's numbers
 * (tests/fixtures/batchrenorm{1d,2d}.emfx, made by tools/fixtures/gen_norms.py) through the
 * BatchNorm module with its warm-up, in training and evaluation mode. */
#include "fixture.h"
#include "helpers.h"

#include <string.h>

/* x (4, 2): channel 0 = {1, 2, 3, 4}, channel 1 = {-1, 1, -1, 1} */
static const float X42[8] = {1, -1, 2, 1, 3, -1, 4, 1};


#define RN_ARGS(g, b, rm, rv, rmax_, dmax_, md)                                              \
    (&(em_bn_args){.gamma = (g), .beta = (b), .running_mean = (rm), .running_var = (rv),   \
                   .momentum = 0.9, .eps = 0, .mode = (md), .renorm = true, .rmax = (rmax_),   \
                   .dmax = (dmax_)})

/* x (4, 2) = X42, eps 0, rmax 1.5, dmax 0.5, running statistics before the batch:
 *   channel 0: mean 2.5, var 1.25; running 1, 4: sigma 2, r = sqrt(1.25)/2 = 0.559 -> 1/1.5,
 *              d = (2.5 - 1)/2 = 0.75 -> 0.5 (both clipped)
 *   channel 1: mean 0, var 1; running -0.25, 0.5625: sigma = 0.75, r = 1/0.75 = 1.333,
 *              d = 0.25/0.75 = 0.333 (neither clipped)
 * y = gamma (xhat r + d) + beta; the running statistics then update as BatchNorm's. The
 * backward, with r and d constants: dx = r times BatchNorm's dx, dgamma = r sum dy xhat +
 * d sum dy, dbeta = sum dy; frozen statistics: dx = gamma r rstd dy. */
Test(batch_renorm, known_values) {
    const double mean[2] = {2.5, 0}, var[2] = {1.25, 1};
    const double r[2] = {1 / 1.5, 1 / 0.75}, d[2] = {0.5, 0.25 / 0.75};
    const float dyv[8] = {0.5f, -1, 2, 0.25f, -1.5f, 1, 0.75f, 3};
    em_real dy[8], bn_dx[8];
    for (int i = 0; i < 8; i++) dy[i] = dyv[i];
    em_tensor *x = tensor_of(2, (int[]){4, 2}, X42, EM_REQUIRES_GRAD);
    em_tensor *g = tensor_of(1, (int[]){2}, (float[]){2, 1}, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_of(1, (int[]){2}, (float[]){0.5f, -3}, EM_REQUIRES_GRAD);
    for (int pass = 0; pass < 3; pass++) {  /* BatchNorm, Batch Renorm, frozen statistics */
        em_tape *tape = em_tape_new(0);
        em_real rm[2] = {1, -0.25}, rv[2] = {4, 0.5625};
        em_tensor_zero_grad(x); em_tensor_zero_grad(g); em_tensor_zero_grad(b);
        const em_bn_mode mode = pass == 2 ? EM_BN_FROZEN_STATS : EM_BN_TRAIN;
        em_tensor *y = pass == 0 ? em_batchnorm(tape, x, BN_ARGS(g, b, rm, rv, 0.9, 0, mode))
                                 : em_batchnorm(tape, x, RN_ARGS(g, b, rm, rv, 1.5, 0.5, mode));
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
        if (pass == 0) memcpy(bn_dx, x->grad, sizeof bn_dx);
        double want[8], sdy[2] = {0}, sdyxhat[2] = {0};
        for (int i = 0; i < 8; i++) {
            int c = i % 2;
            double xhat = (X42[i] - mean[c]) / sqrt(var[c]);
            want[i] = g->data[c] * (pass ? xhat * r[c] + d[c] : xhat) + b->data[c];
            sdy[c] += dy[i];
            sdyxhat[c] += dy[i] * xhat;
        }
        assert_close_d(y->data, want, 8, TOL, "y");
        assert_close_d(rm, (double[]){0.9 + 0.25, 0.9 * -0.25}, 2, TOL, "running_mean");
        assert_close_d(rv, (double[]){0.9 * 4 + 0.1 * 1.25 * 4 / 3, 0.9 * 0.5625 + 0.1 * 4.0 / 3},
                       2, TOL, "running_var");
        if (pass == 0) { em_tape_free(tape); continue; }
        for (int i = 0; i < 8; i++) {
            int c = i % 2;
            want[i] = pass == 1 ? r[c] * bn_dx[i] : g->data[c] * r[c] / sqrt(var[c]) * dy[i];
        }
        assert_close_d(x->grad, want, 8, TOL, pass == 1 ? "dx" : "dx, frozen statistics");
        assert_close_d(g->grad, (double[]){r[0] * sdyxhat[0] + d[0] * sdy[0],
                                           r[1] * sdyxhat[1] + d[1] * sdy[1]}, 2, TOL, "dgamma");
        assert_close_d(b->grad, sdy, 2, TOL, "dbeta");
        em_tape_free(tape);
    }
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
}

/* Where neither r nor d is clipped, the training output is the evaluation formula with the
 * running statistics from before the batch: gamma (x - running_mean) / sigma + beta — the
 * point of Batch Renorm: training computes what inference will. Evaluation mode with
 * renorm set is BatchNorm's evaluation. */
Test(batch_renorm, unclipped_training_equals_the_running_statistics_formula) {
    em_rng rng;
    em_rng_seed(&rng, 90);
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_randn(&rng, 4, (int[]){4, 3, 2, 3}, 1, 2, 0);
    em_tensor *g = tensor_of(1, (int[]){3}, (float[]){1.5f, -0.5f, 2}, 0);
    em_tensor *b = tensor_of(1, (int[]){3}, (float[]){0, 1, -2}, 0);
    const em_real rm0[3] = {0.5f, 1.5f, 1}, rv0[3] = {3, 5, 4};
    em_real rm[3], rv[3];
    memcpy(rm, rm0, sizeof rm); memcpy(rv, rv0, sizeof rv);
    em_tensor *y = em_batchnorm(tape, x, RN_ARGS(g, b, rm, rv, 100, 100, EM_BN_TRAIN));
    em_tensor *ye = em_batchnorm(tape, x, RN_ARGS(g, b, (em_real *)rm0, (em_real *)rv0, 100,
                                                  100, EM_BN_EVAL));
    double tol = sizeof(em_real) == 8 ? 1e-12 : 1e-5;
    for (int i = 0; i < 72; i++) {
        int c = (i / 6) % 3;
        double want = g->data[c] * (x->data[i] - rm0[c]) / sqrt(rv0[c]) + b->data[c];
        cr_assert(fabs(y->data[i] - want) < tol * fmax(1, fabs(want)), "y[%d] %g, want %g", i,
                  y->data[i], want);
        cr_assert(fabs(ye->data[i] - want) < tol * fmax(1, fabs(want)), "eval y[%d]", i);
    }
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
    em_tape_free(tape);
}

/* A table with ember's reference BatchNorm kernels: the reference tier's own, and in an
 * exercise build (exercises/tier.c), where that tier's BatchNorm entries are the
 * exercises', the kernels that Batch Renorm runs on anyway. */
static const em_kernels *ref_bn_kernels(em_kernels *k) {
    *k = *em_kernels_reference();
    k->bn_train = em_ref_bn_train;
    k->bn_backward = em_ref_bn_backward;
    return k;
}

/* rmax = 1 and dmax = 0 is BatchNorm: on the reference tier bit for bit (the same kernels
 * with r = 1, d = 0 multiplied and added exactly), on the tape's tier to rounding (the fast
 * tier's BatchNorm is its own kernel, Batch Renorm the reference's). */
Test(batch_renorm, rmax_1_dmax_0_is_batchnorm) {
    em_rng rng;
    em_rng_seed(&rng, 91);
    em_tensor *x = tensor_randn(&rng, 4, (int[]){3, 4, 3, 3}, 2, 3, EM_REQUIRES_GRAD);
    em_tensor *g = tensor_randn(&rng, 1, (int[]){4}, 1, 0.5, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_randn(&rng, 1, (int[]){4}, 0, 0.5, EM_REQUIRES_GRAD);
    em_real dy[108], out[2][3][108];
    for (int i = 0; i < 108; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    for (int tier = 0; tier < 2; tier++)
        for (int pass = 0; pass < 2; pass++) {
            em_kernels k;
            em_tape *tape = em_tape_new(0);
            if (tier == 0) em_tape_set_kernels(tape, ref_bn_kernels(&k));
            em_real rm[4] = {1, 2, 3, 4}, rv[4] = {1, 2, 3, 4};
            em_tensor_zero_grad(x); em_tensor_zero_grad(g); em_tensor_zero_grad(b);
            em_tensor *y = em_batchnorm(tape, x, pass ? RN_ARGS(g, b, rm, rv, 1, 0, EM_BN_TRAIN)
                                                      : BN_ARGS(g, b, rm, rv, 0.9, 0, EM_BN_TRAIN));
            cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
            if (pass == 0) {
                memcpy(out[0][0], y->data, sizeof out[0][0]);
                memcpy(out[0][1], x->grad, sizeof out[0][1]);
                memcpy(out[0][2], g->grad, 4 * sizeof(em_real));
            } else if (tier == 0) {
                cr_assert(memcmp(out[0][0], y->data, sizeof out[0][0]) == 0, "y");
                cr_assert(memcmp(out[0][1], x->grad, sizeof out[0][1]) == 0, "dx");
                cr_assert(memcmp(out[0][2], g->grad, 4 * sizeof(em_real)) == 0, "dgamma");
            } else {
                double tol = sizeof(em_real) == 8 ? 1e-12 : 1e-5;
                assert_close_real(y->data, out[0][0], 108, tol, "y");
                assert_close_real(x->grad, out[0][1], 108, tol, "dx");
                assert_close_real(g->grad, out[0][2], 4, tol, "dgamma");
            }
            em_tape_free(tape);
        }
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
}

/* The gradient check and r, d. The backward treats r and d as constants (stop-gradient), but
 * em_gradcheck's finite differences move x, so they see r and d move with it whenever the
 * clip does not hold them. So the check is made where the true derivative and the
 * stop-gradient one are the same function, and shown to fail where they are not:
 *   - rmax = 1, dmax = 0: r = 1 and d = 0 whatever x does (BatchNorm exactly);
 *   - r and d clipped, well beyond the bounds (running statistics far from the batch's):
 *     the clip is flat there, so r and d do not move under the perturbation either (the
 *     float build's step of 1e-2 moves the batch's std by ~1e-3, the margins are > 10%);
 *   - r and d strictly inside their bounds: the finite differences see them move, and dx
 *     must FAIL the check (with its true value in an unclipped run being gamma/sigma dy:
 *     the previous test), while dgamma and dbeta, which r and d do not depend on, pass.
 * The running statistics are restored before every call: each training forward updates
 * them, and r and d depend on them, so without that the function would change between the
 * evaluations of one check. */
struct rn_ctx { em_real rm0[8], rv0[8], rm[8], rv[8]; double rmax, dmax; em_bn_mode mode; };

static em_tensor *rn_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    struct rn_ctx *c = ctx;
    memcpy(c->rm, c->rm0, sizeof c->rm);
    memcpy(c->rv, c->rv0, sizeof c->rv);
    em_bn_args a = em_bn_args_default();
    a.gamma = in[1];
    a.beta = in[2];
    a.running_mean = c->rm;
    a.running_var = c->rv;
    a.mode = c->mode;
    a.renorm = true;
    a.rmax = c->rmax;
    a.dmax = c->dmax;
    return em_batchnorm(tape, in[0], &a);
}

/* x = 5 randn + 12 per channel (batch std ~5, mean ~12); running mean m and variance v for
 * every channel */
static em_gradcheck_result check_rn(int ndim, const int *shape, double m, double v, double rmax,
                                    double dmax, em_bn_mode mode, uint64_t seed) {
    em_rng rng;
    em_rng_seed(&rng, seed);
    int C = shape[1];
    em_tensor *x = tensor_randn(&rng, ndim, shape, 12, 5, EM_REQUIRES_GRAD);
    em_tensor *g = tensor_randn(&rng, 1, (int[]){C}, 1, 0.5, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_randn(&rng, 1, (int[]){C}, 0, 0.5, EM_REQUIRES_GRAD);
    struct rn_ctx ctx = {.rmax = rmax, .dmax = dmax, .mode = mode};
    for (int c = 0; c < C; c++) ctx.rm0[c] = (em_real)m, ctx.rv0[c] = (em_real)v;
    em_gradcheck_result r;
    cr_assert_eq(em_gradcheck(rn_fn, &ctx, 3, (em_tensor *[]){x, g, b}, NULL, &r), EM_OK);
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
    return r;
}

static bool rn_passes(em_gradcheck_result r) {
    if (!r.passed) em_gradcheck_print(&r, stderr);
    return r.passed;
}

Test(batch_renorm, gradcheck_where_r_and_d_are_constant) {
    const int s1[2] = {8, 3}, s2[4] = {2, 3, 3, 2}, s3[2] = {64, 2};
    const int *shapes[3] = {s1, s2, s3}, ndims[3] = {2, 4, 2};
    for (int k = 0; k < 3; k++) {
        uint64_t seed = 300 + 10 * (uint64_t)k;
        /* BatchNorm exactly */
        cr_assert(rn_passes(check_rn(ndims[k], shapes[k], 3, 7, 1, 0, EM_BN_TRAIN, seed)));
        /* sigma_B ~5 against sigma 1: r at rmax = 2; mean ~12 against 0: d at dmax = 3 */
        cr_assert(rn_passes(check_rn(ndims[k], shapes[k], 0, 1, 2, 3, EM_BN_TRAIN, seed + 1)));
        /* sigma_B ~5 against sigma 30: r at 1/rmax; mean ~12 against 120: d at -dmax */
        cr_assert(rn_passes(check_rn(ndims[k], shapes[k], 120, 900, 2, 3, EM_BN_TRAIN, seed + 2)));
        /* frozen statistics: mean and rstd constant too, evaluation mode: BatchNorm's */
        em_gradcheck_result r = check_rn(ndims[k], shapes[k], 0, 1, 2, 3, EM_BN_FROZEN_STATS,
                                         seed + 3);
        cr_assert_not(r.passed, "frozen statistics is not the derivative of the forward");
        cr_assert_eq(r.failures[1] + r.failures[2], 0, "dgamma and dbeta are exact");
        cr_assert(rn_passes(check_rn(ndims[k], shapes[k], 12, 25, 2, 3, EM_BN_EVAL, seed + 4)));
    }
}

Test(batch_renorm, gradcheck_rejects_r_and_d_inside_their_bounds) {
    /* sigma_B ~5 against sigma 5, mean ~12 against 12: r ~1, d ~0, far from 1/100 .. 100 */
    em_gradcheck_result r = check_rn(2, (int[]){16, 3}, 12, 25, 100, 100, EM_BN_TRAIN, 400);
    cr_assert_not(r.passed, "r and d move with x here: the stop-gradient dx is not the "
                            "derivative, and the check must see it");
    cr_assert_gt(r.failures[0], 0, "dx");
    cr_assert_eq(r.failures[1] + r.failures[2], 0, "dgamma and dbeta do not depend on r, d");
}

/* The fast tier hands Batch Renorm to the reference kernels, and its fused BatchNorm + ReLU
 * runs it as the two ops: the same numbers, bit for bit, as the reference tier. */
Test(batch_renorm, fast_tier_and_fused_relu_equal_the_reference) {
    em_rng rng;
    em_rng_seed(&rng, 92);
    em_tensor *x = tensor_randn(&rng, 4, (int[]){3, 4, 3, 5}, 2, 3, EM_REQUIRES_GRAD);
    em_tensor *g = tensor_randn(&rng, 1, (int[]){4}, 1, 0.5, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_randn(&rng, 1, (int[]){4}, 0, 0.5, EM_REQUIRES_GRAD);
    em_real dy[180], want[4][180];
    for (int i = 0; i < 180; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    for (int run = 0; run < 3; run++) {  /* reference, fast, fast fused */
        em_tape *tape = tape_on(run ? em_kernels_fast() : em_kernels_reference());
        em_real rm[4] = {0, 1, 2, 3}, rv[4] = {1, 4, 9, 16};
        em_tensor_zero_grad(x); em_tensor_zero_grad(g); em_tensor_zero_grad(b);
        const em_bn_args *a = RN_ARGS(g, b, rm, rv, 1.5, 0.5, EM_BN_TRAIN);
        em_tensor *y = run == 2 ? em_fast_batchnorm_relu(tape, x, a)
                                : em_relu(tape, em_batchnorm(tape, x, a));
        assert_last_op_fused(tape, "batchnorm_relu", "relu", false);
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
        em_real *got[4] = {y->data, x->grad, g->grad, rm};
        const size_t n[4] = {180, 180, 4, 4};
        for (int q = 0; q < 4; q++) {
            if (run == 0) memcpy(want[q], got[q], n[q] * sizeof(em_real));
            else cr_assert(memcmp(want[q], got[q], n[q] * sizeof(em_real)) == 0,
                           "run %d, output %d differs from the reference tier", run, q);
        }
        em_tape_free(tape);
    }
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
}

Test(batch_renorm, needs_the_running_statistics, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){4, 2}, X42, 0);
    em_batchnorm(tape, x, RN_ARGS(NULL, NULL, NULL, NULL, 3, 5, EM_BN_TRAIN));
}

Test(batch_renorm, rmax_below_1_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){4, 2}, X42, 0);
    em_real rm[2] = {0, 0}, rv[2] = {1, 1};
    em_batchnorm(tape, x, RN_ARGS(NULL, NULL, rm, rv, 0.5, 5, EM_BN_TRAIN));
}

/* ---- the module ---------------------------------------------------------------------------- */

static void describe_is(em_module *m, const char *want) {
    char buf[160];
    m->ops->describe(m, buf, sizeof buf);
    cr_assert_str_eq(buf, want);
}

/* Batch Renorm's limits grow linearly from (1, 0) to (rmax, dmax) over the warm-up: the
 * first training batch is BatchNorm's exactly; once warmed up, clipping at 3 and 5 gives
 * another output; evaluation is BatchNorm's (both modules' running statistics saw x once,
 * from (0, 1)). */
Test(batch_renorm_module, warmup) {
    em_bn_opts o = em_bn_defaults();
    const int64_t at[5] = {0, 250, 500, 1000, 5000};
    const double want_r[5] = {1, 1.5, 2, 3, 3}, want_d[5] = {0, 1.25, 2.5, 5, 5};
    for (int k = 0; k < 5; k++) {
        double r, d;
        em_bn_renorm_limits(&o, at[k], &r, &d);
        cr_assert(r == want_r[k] && d == want_d[k], "after %lld: %g, %g", (long long)at[k], r, d);
    }
    o.renorm = true;
    em_module *rn = em_batchnorm2d_new(2, &o), *bn = em_batchnorm2d_new(2, NULL);
    describe_is(rn, "BatchNorm2d(2, momentum=0.9 (history kept), eps=1e-05, affine=true, "
                    "renorm: rmax=3, dmax=5 (from 1, 0 over 1000 batches))");
    em_rng rng;
    em_rng_seed(&rng, 13);
    em_tensor *x = tensor_randn(&rng, 4, (int[]){4, 2, 3, 3}, 20, 8, 0);  /* far from (0, 1) */
    em_kernels k;
    em_tape *tape = tape_on(ref_bn_kernels(&k));
    em_real y[3][72];
    for (int pass = 0; pass < 3; pass++) {  /* renorm at batch 0, BatchNorm, renorm at 1000 */
        em_module *m = pass == 1 ? bn : rn;
        em_entry nbt, rm, rv;
        em_module_find(m, "num_batches_tracked", &nbt);
        em_module_find(m, "running_mean", &rm);
        em_module_find(m, "running_var", &rv);
        *nbt.counter = pass == 2 ? 1000 : 0;
        em_tensor_fill(rm.tensor, 0);
        em_tensor_fill(rv.tensor, 1);
        memcpy(y[pass], em_module_forward(m, tape, x)->data, sizeof y[pass]);
    }
    cr_assert(memcmp(y[0], y[1], sizeof y[0]) == 0, "batch 0: BatchNorm exactly");
    cr_assert(memcmp(y[2], y[1], sizeof y[0]) != 0, "warmed up: r, d clipped at 3, 5");
    em_module_train(rn, false), em_module_train(bn, false);
    cr_assert(memcmp(em_module_forward(rn, tape, x)->data, em_module_forward(bn, tape, x)->data,
                     sizeof y[0]) == 0, "evaluation");
    em_tape_free(tape);
    em_tensor_free(x);
    em_module_free(rn), em_module_free(bn);
}

/* ---- PyTorch's numbers ------------------------------------------------------------------ */

/* The fixtures hold the exact (float64) answer for float32 inputs. */
#ifdef EM_DOUBLE
#define GOLDEN_TOL 1e-9
#else
#define GOLDEN_TOL 1e-4
#endif

/* A BatchNorm module with Batch Renorm (rmax 1.5, dmax 0.5, reached after a warm-up of 2
 * batches, as the generator's), four training steps — the first BatchNorm exactly (limits 1
 * and 0), the second at half the limits, then the full ones, with r and d clipped in some
 * channels and not in others — then evaluation. Compared after every step: y, the three
 * gradients and both running statistics. */
static void check_golden(const char *file, bool two_d) {
    fixture *fx = fixture_load(file);
    const fx_tensor *gamma = fixture_get(fx, "gamma"), *beta = fixture_get(fx, "beta");
    int C = gamma->shape[0];
    em_bn_opts o = em_bn_defaults();
    o.renorm = true;
    o.rmax = 1.5;
    o.dmax = 0.5;
    o.renorm_warmup = 2;
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
    for (int k = 0; k < 4; k++) {
        char key[32];
        snprintf(key, sizeof key, "x%d", k);
        em_tensor *x = fixture_tensor(fixture_get(fx, key), EM_REQUIRES_GRAD);
        snprintf(key, sizeof key, "dy%d", k);
        em_tensor *dy = fixture_tensor(fixture_get(fx, key), 0);
        em_module_zero_grad(bn);
        em_tensor *y = em_module_forward(bn, tape, x);
        cr_assert_not_null(y);
        cr_assert_eq(em_backward_from(tape, y, dy->data), EM_OK);
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
        em_tensor_free(x);
        em_tensor_free(dy);
        em_tape_reset(tape);
    }
    cr_assert_eq(*nbt.counter, 4);
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

Test(batch_renorm_golden, batchrenorm1d_matches_pytorch) { check_golden("batchrenorm1d.emfx", false); }
Test(batch_renorm_golden, batchrenorm2d_matches_pytorch) { check_golden("batchrenorm2d.emfx", true); }

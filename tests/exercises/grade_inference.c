/* tests/exercises/grade_inference.c — exercise 6: BatchNorm at inference, and folded into
 * the layer before it (exercises.h).
 *
 * (a) ex_batchnorm_eval called directly against the formula in double, on inputs whose
 * batch statistics are far from the running ones (so normalizing with the batch's own
 * mean and variance, the usual mistake, is seen and named); then ember's BatchNorm2d in
 * evaluation mode — which runs it (exercises/tier.c) — against PyTorch.
 * (b) ex_fold_batchnorm against the algebra in double, with and without a bias, and
 * against PyTorch's torch.nn.utils.fusion.fuse_conv_bn_weights (tests/fixtures/course.emfx);
 * then what folding is for: em_conv2d with the folded weights gives PyTorch's output of
 * the convolution followed by BatchNorm in evaluation. */
#include "grade.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exercises/exercises.h"

enum eval_variant { EV_RIGHT, EV_BATCH_STATS, EV_EPS_OUTSIDE, EV_STD_NOT_RSTD };

/* y in double from the running statistics (or, for the mistake, x's own) */
static void ref_eval(double *y, const em_real *x, const em_real *rm, const em_real *rv,
                     const em_real *gamma, const em_real *beta, double eps, int N, int C,
                     int S, enum eval_variant v) {
    for (int c = 0; c < C; c++) {
        double mean = rm[c], var = rv[c];
        if (v == EV_BATCH_STATS) {
            double s = 0, q = 0, M = (double)N * S;
            for (int n = 0; n < N; n++)
                for (int k = 0; k < S; k++) s += x[((size_t)n * C + c) * S + k];
            mean = s / M;
            for (int n = 0; n < N; n++)
                for (int k = 0; k < S; k++) q += pow(x[((size_t)n * C + c) * S + k] - mean, 2);
            var = q / M;
        }
        double k = v == EV_EPS_OUTSIDE    ? gamma[c] / (sqrt(var) + eps)
                   : v == EV_STD_NOT_RSTD ? gamma[c] * sqrt(var + eps)
                                          : gamma[c] / sqrt(var + eps);
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                y[i] = (x[i] - mean) * k + beta[c];
            }
    }
}

static bool eval_writes(void) {
    em_real x[4] = {1, 2, 3, 4}, rm[2] = {0.5, 1}, rv[2] = {2, 3}, gm[2] = {1, 2}, bt[2] = {0, 1};
    em_real y[4] = {0};
    ex_batchnorm_eval(y, x, rm, rv, gm, bt, 1e-5, 2, 2, 1);
    return grade_nonzero(y, 4);
}

static bool fold_writes(void) {
    em_real w[4] = {1, 2, 3, 4}, b[2] = {1, -1}, rm[2] = {0.5, 1}, rv[2] = {2, 3};
    em_real gm[2] = {1, 2}, bt[2] = {0, 1}, wf[4] = {0}, bf[2] = {0};
    ex_fold_batchnorm(wf, bf, w, b, rm, rv, gm, bt, 1e-5, 2, 2);
    return grade_nonzero(wf, 4) || grade_nonzero(bf, 2);
}

static void eval_direct(grade *g, int N, int C, int H, int W, double eps, em_rng *rng,
                        bool *hinted) {
    int S = H ? H * W : 1, shape[4] = {N, C, H, W}, ndim = H ? 4 : 2;
    size_t n = (size_t)N * C * S;
    /* the batch: mean 3, std 2; the running statistics elsewhere */
    em_tensor *x = grade_randn(rng, ndim, shape, 3, 2, 0);
    em_real *p = grade_alloc(4 * (size_t)C, sizeof *p), *y = grade_alloc(n, sizeof *y);
    em_real *rm = p, *rv = p + C, *gm = p + 2 * C, *bt = p + 3 * C;
    for (int c = 0; c < C; c++) {
        rm[c] = (em_real)em_rng_normal(rng, 0, 1);
        rv[c] = (em_real)em_rng_uniform_range(rng, 0.2, 1.5);
        gm[c] = (em_real)em_rng_normal(rng, 1, 0.5);
        bt[c] = (em_real)em_rng_normal(rng, 0, 0.5);
    }
    double *want = grade_alloc(n, sizeof *want);
    ref_eval(want, x->data, rm, rv, gm, bt, eps, N, C, S, EV_RIGHT);
    ex_batchnorm_eval(y, x->data, rm, rv, gm, bt, eps, N, C, S);
    char sh[48];
    grade_situation(g, "ex_batchnorm_eval, x %s (mean 3, std 2), eps %g",
                    em_shape_str(x, sh, sizeof sh), eps);
    bool ok = grade_compare(g, "eval y", y, want, n, ndim, shape, GRADE_REF_TOL);
    grade_done(g);
    static const struct { enum eval_variant v; const char *hint; } mistakes[] = {
        {EV_BATCH_STATS, "your eval y normalizes with the batch's own mean and variance: at "
                         "inference the statistics are the running ones, constants that do "
                         "not depend on the batch"},
        {EV_EPS_OUTSIDE, "your eval y divides by sqrt(running_var) + eps; eps goes inside "
                         "the root"},
        {EV_STD_NOT_RSTD, "your eval y multiplies by the standard deviation instead of "
                          "dividing by it"},
    };
    for (size_t m = 0; !ok && !*hinted && m < sizeof mistakes / sizeof mistakes[0]; m++) {
        ref_eval(want, x->data, rm, rv, gm, bt, eps, N, C, S, mistakes[m].v);
        if (grade_rel_err(y, want, n) <= GRADE_REF_TOL) {
            grade_hint(g, "%s", mistakes[m].hint);
            *hinted = true;
        }
    }
    em_tensor_free(x);
    free(p), free(y), free(want);
}

/* ember's BatchNorm2d in evaluation mode with PyTorch's running statistics after its third
 * step, on PyTorch's evaluation input */
static void eval_golden(grade *g, const char *file, bool two_d) {
    fixture *fx = fixture_load(file);
    const fx_tensor *gf = fixture_get(fx, "gamma"), *bf = fixture_get(fx, "beta");
    const fx_tensor *rmf = fixture_get(fx, "running_mean2"), *rvf = fixture_get(fx, "running_var2");
    int C = gf->shape[0];
    em_module *bn = two_d ? em_batchnorm2d_new(C, NULL) : em_batchnorm1d_new(C, NULL);
    em_entry w, b, rm, rv;
    if (!bn || !em_module_find(bn, "weight", &w) || !em_module_find(bn, "bias", &b) ||
        !em_module_find(bn, "running_mean", &rm) || !em_module_find(bn, "running_var", &rv))
        grade_fatal("cannot make a BatchNorm module");
    for (int c = 0; c < C; c++) {
        w.tensor->data[c] = (em_real)gf->data[c], b.tensor->data[c] = (em_real)bf->data[c];
        rm.tensor->data[c] = (em_real)rmf->data[c], rv.tensor->data[c] = (em_real)rvf->data[c];
    }
    em_module_train(bn, false);
    em_tape *tape = em_tape_new(0);
    em_tensor *x = fixture_tensor(fixture_get(fx, "x_eval"), 0);
    em_tensor *y = em_module_forward(bn, tape, x);
    if (!y) grade_fatal("BatchNorm in evaluation failed: %s", tape->err.msg);
    grade_situation(g, "ember's %s in evaluation mode on PyTorch's input and running "
                    "statistics", two_d ? "BatchNorm2d" : "BatchNorm1d");
    grade_compare(g, "eval y", y->data, fixture_get(fx, "y_eval")->data, y->size, y->ndim,
                  y->shape, GRADE_GOLDEN_TOL);
    grade_done(g);
    em_tensor_free(x);
    em_tape_free(tape);
    em_module_free(bn);
    fixture_free(fx);
}

/* wf, bf in double; the mistakes: the bias without the running mean's shift, the layer's
 * own bias dropped */
enum fold_variant { FV_RIGHT, FV_NO_MEAN_SHIFT, FV_BIAS_DROPPED, FV_BIAS_UNSCALED };

static void ref_fold(double *wf, double *bf, const em_real *w, const em_real *b,
                     const em_real *rm, const em_real *rv, const em_real *gm, const em_real *bt,
                     double eps, int O, int K, enum fold_variant v) {
    for (int o = 0; o < O; o++) {
        double k = gm[o] / sqrt(rv[o] + eps), bias = b && v != FV_BIAS_DROPPED ? b[o] : 0;
        for (int j = 0; j < K; j++) wf[(size_t)o * K + j] = w[(size_t)o * K + j] * k;
        bf[o] = v == FV_NO_MEAN_SHIFT ? bias * k + bt[o]
                : v == FV_BIAS_UNSCALED ? bias - rm[o] * k + bt[o]
                                        : (bias - rm[o]) * k + bt[o];
    }
}

/* the fixture's case: fold directly (against the algebra and PyTorch), then convolve */
static void fold_case(grade *g, const fixture *fx, const char *c, bool bias, bool *hinted) {
    char key[64];
#define K(s) (snprintf(key, sizeof key, "%s.%s", c, s), key)
    em_tensor *x = fixture_tensor(fixture_get(fx, K("x")), 0);
    em_tensor *w = fixture_tensor(fixture_get(fx, K("w")), 0);
    em_real *b = bias ? grade_fx_values(fixture_get(fx, K("b"))) : NULL;
    em_real *rm = grade_fx_values(fixture_get(fx, K("rm")));
    em_real *rv = grade_fx_values(fixture_get(fx, K("rv")));
    em_real *gm = grade_fx_values(fixture_get(fx, K("gamma")));
    em_real *bt = grade_fx_values(fixture_get(fx, K("beta")));
    int O = w->shape[0], K = (int)(w->size / (size_t)O);
    em_tensor *wf = em_tensor_new(w->ndim, w->shape, 0), *bf = em_tensor_new(1, &O, 0);
    ex_fold_batchnorm(wf->data, bf->data, w->data, b, rm, rv, gm, bt, 1e-5, O, K);
    double *want = grade_alloc(w->size + (size_t)O, sizeof *want);
    ref_fold(want, want + w->size, w->data, b, rm, rv, gm, bt, 1e-5, O, K, FV_RIGHT);
    char sh[48];
    grade_situation(g, "ex_fold_batchnorm, w %s, %s", em_shape_str(w, sh, sizeof sh),
                    bias ? "with a bias" : "b NULL (no bias)");
    bool ok_w = grade_compare(g, "wf", wf->data, want, w->size, w->ndim, w->shape, GRADE_REF_TOL);
    bool ok_b = grade_compare(g, "bf", bf->data, want + w->size, (size_t)O, 1, &O, GRADE_REF_TOL);
    grade_done(g);
    grade_situation(g, "against PyTorch's fuse_conv_bn_weights, %s", bias ? "with a bias" :
                    "no bias");
    grade_compare(g, "wf", wf->data, fixture_get(fx, K("wf"))->data, w->size, w->ndim, w->shape,
                  GRADE_GOLDEN_TOL);
    grade_compare(g, "bf", bf->data, fixture_get(fx, K("bf"))->data, (size_t)O, 1, &O,
                  GRADE_GOLDEN_TOL);
    grade_done(g);
    static const struct { enum fold_variant v; const char *hint; } mistakes[] = {
        {FV_NO_MEAN_SHIFT, "your bf misses the running mean: BatchNorm subtracts it before "
                           "it scales, so it moves the bias too"},
        {FV_BIAS_DROPPED, "your bf leaves out the layer's own bias b"},
        {FV_BIAS_UNSCALED, "your bf adds the layer's bias unscaled: b passes through "
                           "BatchNorm's scale like the rest of the output"},
    };
    double *alt = grade_alloc(w->size + (size_t)O, sizeof *alt);
    for (size_t m = 0; ok_w && !ok_b && !*hinted && m < sizeof mistakes / sizeof mistakes[0]; m++) {
        ref_fold(alt, alt + w->size, w->data, b, rm, rv, gm, bt, 1e-5, O, K, mistakes[m].v);
        if (grade_rel_err(bf->data, alt + w->size, (size_t)O) <= GRADE_REF_TOL) {
            grade_hint(g, "%s", mistakes[m].hint);
            *hinted = true;
        }
    }
    /* what folding is for: one convolution instead of two ops */
    em_tape *tape = em_tape_new(0);
    em_tensor *y = em_conv2d(tape, x, wf, bf, 1, 1);
    if (!y) grade_fatal("em_conv2d failed: %s", tape->err.msg);
    grade_situation(g, "em_conv2d(x %s, wf, bf) against PyTorch's conv2d then BatchNorm2d in "
                    "evaluation, %s", em_shape_str(x, sh, sizeof sh), bias ? "with a bias" :
                    "no bias");
    grade_compare(g, "folded y", y->data, fixture_get(fx, K("y"))->data, y->size, y->ndim,
                  y->shape, GRADE_GOLDEN_TOL);
    grade_done(g);
#undef K
    em_tape_free(tape);
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(wf), em_tensor_free(bf);
    free(b), free(rm), free(rv), free(gm), free(bt), free(want), free(alt);
}

void grade_ex6_batchnorm_inference(grade *g) {
    grade_probe(g, "ex_batchnorm_eval", eval_writes());
    grade_probe(g, "ex_fold_batchnorm", fold_writes());
    if (!grade_probe_done(g)) return;
    em_rng rng;
    em_rng_seed(&rng, 606);
    bool hinted = false;
    eval_direct(g, 8, 5, 0, 0, 1e-5, &rng, &hinted);
    eval_direct(g, 3, 4, 2, 3, 1e-3, &rng, &hinted);
    eval_direct(g, 1, 2, 4, 4, 1e-5, &rng, &hinted);  /* one image: batch statistics differ */
    eval_golden(g, "batchnorm1d.emfx", false);
    eval_golden(g, "batchnorm2d.emfx", true);
    fixture *fx = fixture_load("course.emfx");
    hinted = false;
    fold_case(g, fx, "fold", true, &hinted);
    fold_case(g, fx, "fold_nobias", false, &hinted);
    fixture_free(fx);
}

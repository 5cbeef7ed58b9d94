/* tests/exercises/grade_batchnorm.c — exercises 1 and 2: BatchNorm forward and backward.
 *
 * Exercise 1 (forward) is checked two ways: the function called directly on random inputs
 * against the grader's double-precision reference below (all five outputs: y, mean, rstd
 * and the two running statistics), and ember's BatchNorm1d/BatchNorm2d modules — which now
 * run it — against PyTorch's numbers (tests/fixtures/batchnorm{1d,2d}.emfx, three training
 * steps and the evaluation output that the running statistics give).
 *
 * Exercise 2 (backward) is graded on its own, after the grader's reference forward, so it
 * does not depend on exercise 1: em_gradcheck (finite differences, the library's own
 * checker and tolerances) through a tape op made of that forward and the student's
 * backward, at the batch sizes where an O(1/N) slip shows; then PyTorch's dx, dgamma,
 * dbeta for the same fixtures. When dx is wrong the grader tries the usual mistakes and
 * says which one the student's numbers match. */
#include "grade.h"

#include <stdlib.h>
#include <string.h>

#include "core/kernels.h"
#include "tests/bn_args.h"
#include "exercises/exercises.h"

/* ---- the reference forward, and the usual mistakes --------------------------------------- */

enum fwd_variant {
    FWD_RIGHT,
    FWD_UNBIASED,         /* normalizes with the unbiased variance (divides by M - 1)      */
    FWD_EPS_OUTSIDE,      /* rstd = 1 / (sqrt(var) + eps)                                  */
    FWD_RUNNING_BIASED,   /* feeds the running variance the biased variance               */
    FWD_MOMENTUM_SWAPPED, /* running = (1 - m) running + m batch: PyTorch's meaning of m   */
};

/* y (N, C, S), mean, rstd (C) and the running statistics rm, rv (C; in: before, out:
 * after), all double, from x (N, C, S), gamma, beta (C). Two passes per channel. */
static void ref_forward(double *y, double *mean, double *rstd, double *rm, double *rv,
                        const em_real *x, const em_real *gamma, const em_real *beta, int N,
                        int C, int S, double momentum, double eps, enum fwd_variant v) {
    const double M = (double)N * S;
    for (int c = 0; c < C; c++) {
        double s = 0, q = 0;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < S; k++) s += x[((size_t)n * C + c) * S + k];
        double mu = s / M;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < S; k++) {
                double d = x[((size_t)n * C + c) * S + k] - mu;
                q += d * d;
            }
        double var = q / M, unbiased = q / (M - 1);
        double r = v == FWD_UNBIASED      ? 1 / sqrt(unbiased + eps)
                   : v == FWD_EPS_OUTSIDE ? 1 / (sqrt(var) + eps)
                                          : 1 / sqrt(var + eps);
        for (int n = 0; n < N; n++)
            for (int k = 0; k < S; k++) {
                size_t i = ((size_t)n * C + c) * S + k;
                y[i] = gamma[c] * (x[i] - mu) * r + beta[c];
            }
        mean[c] = mu;
        rstd[c] = r;
        double keep = v == FWD_MOMENTUM_SWAPPED ? 1 - momentum : momentum;
        double fed = v == FWD_RUNNING_BIASED ? var : unbiased;
        rm[c] = keep * rm[c] + (1 - keep) * mu;
        rv[c] = keep * rv[c] + (1 - keep) * fed;
    }
}

/* does got match the reference's quantity q (0 y, 1 rstd, 2 running mean, 3 running var)
 * computed with mistake v? */
static bool matches_fwd(enum fwd_variant v, int q, const em_real *got, const em_real *x,
                        const em_real *gamma, const em_real *beta, const em_real *rm0,
                        const em_real *rv0, int N, int C, int S, double momentum, double eps) {
    size_t n = (size_t)N * C * S;
    double *y = malloc(n * sizeof *y), *st = malloc(4 * (size_t)C * sizeof *st);
    if (!y || !st) grade_fatal("no memory");
    double *mean = st, *rstd = st + C, *rm = st + 2 * C, *rv = st + 3 * C;
    for (int c = 0; c < C; c++) rm[c] = rm0[c], rv[c] = rv0[c];
    ref_forward(y, mean, rstd, rm, rv, x, gamma, beta, N, C, S, momentum, eps, v);
    const double *want[4] = {y, rstd, rm, rv};
    bool m = grade_rel_err(got, want[q], q ? (size_t)C : n) <= GRADE_REF_TOL;
    free(y);
    free(st);
    return m;
}

/* ---- exercise 1 ---------------------------------------------------------------------------- */

typedef struct fwd_case {
    int N, C, H, W;              /* H = 0: an (N, C) input (BatchNorm1d), S = 1 */
    double xmean, xstd, momentum, eps;
} fwd_case;

static const fwd_case fwd_cases[] = {
    {2, 5, 0, 0, 12, 5, 0.9, 1e-5},      /* the smallest batch: the 1/M terms are large   */
    {64, 4, 0, 0, 12, 5, 0.9, 1e-5},
    {1, 3, 2, 3, 12, 5, 0.9, 1e-5},      /* one image: 6 values per channel               */
    {16, 2, 3, 3, 0, 0.05, 0.8, 1e-3},   /* small variance: where eps sits matters         */
    {8, 3, 2, 2, 1e5, 1, 0.9, 1e-5},     /* a large mean: E[x^2] - E[x]^2 cancels digits  */
};

enum { HINT_UNBIASED = 1, HINT_EPS = 2, HINT_RUNNING_BIASED = 4, HINT_MOMENTUM = 8,
       HINT_ONE_PASS = 16 };

static void hint_once(grade *g, unsigned *given, unsigned which, const char *text) {
    if (*given & which) return;
    *given |= which;
    grade_hint(g, "%s", text);
}

static void forward_case(grade *g, const fwd_case *k, em_rng *rng, unsigned *hints) {
    int N = k->N, C = k->C, S = k->H ? k->H * k->W : 1;
    int shape[4] = {N, C, k->H, k->W}, ndim = k->H ? 4 : 2;
    size_t n = (size_t)N * C * S;
    em_tensor *xt = grade_randn(rng, ndim, shape, k->xmean, k->xstd, 0);
    em_real *par = malloc(6 * (size_t)C * sizeof *par), *y = calloc(n, sizeof *y);
    double *want = malloc((n + 4 * (size_t)C) * sizeof *want);
    if (!par || !y || !want) grade_fatal("no memory");
    em_real *gamma = par, *beta = par + C, *rm0 = par + 2 * C, *rv0 = par + 3 * C;
    em_real *mean = par + 4 * C, *rstd = par + 5 * C;
    em_real rm[8], rv[8];  /* C <= 8 in fwd_cases */
    for (int c = 0; c < C; c++) {
        gamma[c] = (em_real)em_rng_normal(rng, 1, 0.5);
        beta[c] = (em_real)em_rng_normal(rng, 0, 0.5);
        rm[c] = rm0[c] = (em_real)em_rng_normal(rng, 0, 1);
        rv[c] = rv0[c] = (em_real)em_rng_uniform_range(rng, 0.5, 2);
        mean[c] = rstd[c] = 0;
    }
    double *wmean = want + n, *wrstd = wmean + C, *wrm = wrstd + C, *wrv = wrm + C;
    for (int c = 0; c < C; c++) wrm[c] = rm0[c], wrv[c] = rv0[c];
    ref_forward(want, wmean, wrstd, wrm, wrv, xt->data, gamma, beta, N, C, S, k->momentum,
                k->eps, FWD_RIGHT);
    ex_batchnorm_forward(y, mean, rstd, rm, rv, xt->data, gamma, beta, N, C, S, k->momentum,
                         k->eps);

    char sh[48];
    grade_situation(g, "x %s (mean %g, std %g), momentum %g, eps %g", em_shape_str(xt, sh, sizeof sh),
                    k->xmean, k->xstd, k->momentum, k->eps);
    bool ok_y = grade_compare(g, "y", y, want, n, ndim, shape, GRADE_REF_TOL);
    grade_compare(g, "mean", mean, wmean, (size_t)C, 1, &C, GRADE_REF_TOL);
    bool ok_r = grade_compare(g, "rstd", rstd, wrstd, (size_t)C, 1, &C, GRADE_REF_TOL);
    bool ok_rm = grade_compare(g, "running_mean", rm, wrm, (size_t)C, 1, &C, GRADE_REF_TOL);
    bool ok_rv = grade_compare(g, "running_var", rv, wrv, (size_t)C, 1, &C, GRADE_REF_TOL);
    grade_done(g);

#define MATCHES(v, q, got) \
    matches_fwd(v, q, got, xt->data, gamma, beta, rm0, rv0, N, C, S, k->momentum, k->eps)
    if (!ok_y && MATCHES(FWD_UNBIASED, 0, y))
        hint_once(g, hints, HINT_UNBIASED, "your y normalizes with the unbiased variance "
                  "(divide by M - 1); normalize with the biased one (divide by M = N*S), and "
                  "feed only the running variance the unbiased one");
    if ((!ok_y || !ok_r) && MATCHES(FWD_EPS_OUTSIDE, 1, rstd))
        hint_once(g, hints, HINT_EPS, "your rstd is 1 / (sqrt(var) + eps); eps goes inside "
                  "the root: 1 / sqrt(var + eps)");
    if (!ok_rv && MATCHES(FWD_RUNNING_BIASED, 3, rv))
        hint_once(g, hints, HINT_RUNNING_BIASED, "your running_var is fed the biased batch "
                  "variance; it gets the unbiased one, var * M / (M - 1)");
    if ((!ok_rm || !ok_rv) && (MATCHES(FWD_MOMENTUM_SWAPPED, 2, rm) ||
                               MATCHES(FWD_MOMENTUM_SWAPPED, 3, rv)))
        hint_once(g, hints, HINT_MOMENTUM, "your running statistics keep (1 - momentum) of "
                  "the history; in ember momentum is the fraction KEPT: "
                  "momentum * running + (1 - momentum) * batch");
#undef MATCHES
    if (k->xmean > 100 && (!ok_y || !ok_r) && grade_rel_err(rstd, wrstd, (size_t)C) < 1e-4)
        hint_once(g, hints, HINT_ONE_PASS, "only the large-mean input is off, by a little: "
                  "a variance taken as E[x^2] - E[x]^2 loses digits when the mean is large; "
                  "take the mean first, then sum (x - mean)^2 (two passes)");
    em_tensor_free(xt);
    free(par);
    free(y);
    free(want);
}

/* ember's module, running exercise 1, against PyTorch: y and the running statistics
 * after each of three steps, then the evaluation output. Stops at the first step that
 * fails (the later ones inherit its running statistics). */
static void forward_golden(grade *g, const char *file, bool two_d) {
    fixture *fx = fixture_load(file);
    const fx_tensor *gamma = fixture_get(fx, "gamma"), *beta = fixture_get(fx, "beta");
    int C = gamma->shape[0];
    em_module *bn = two_d ? em_batchnorm2d_new(C, NULL) : em_batchnorm1d_new(C, NULL);
    em_entry w, b, rm, rv;
    if (!bn || !em_module_find(bn, "weight", &w) || !em_module_find(bn, "bias", &b) ||
        !em_module_find(bn, "running_mean", &rm) || !em_module_find(bn, "running_var", &rv))
        grade_fatal("cannot make a BatchNorm module");
    for (int c = 0; c < C; c++) {
        w.tensor->data[c] = (em_real)gamma->data[c];
        b.tensor->data[c] = (em_real)beta->data[c];
    }
    em_tape *tape = em_tape_new(0);
    bool ok = true;
    char key[32], sh[48];
    for (int k = 0; k < 3 && ok; k++) {
        snprintf(key, sizeof key, "x%d", k);
        em_tensor *x = fixture_tensor(fixture_get(fx, key), 0);
        em_tensor *y = em_module_forward(bn, tape, x);
        grade_situation(g, "ember's %s on PyTorch's x %s, training step %d",
                        two_d ? "BatchNorm2d" : "BatchNorm1d", em_shape_str(x, sh, sizeof sh),
                        k + 1);
        if (!y) grade_fatal("BatchNorm forward failed: %s", tape->err.msg);
        snprintf(key, sizeof key, "y%d", k);
        ok &= grade_compare(g, "y", y->data, fixture_get(fx, key)->data, y->size, y->ndim,
                            y->shape, GRADE_GOLDEN_TOL);
        snprintf(key, sizeof key, "running_mean%d", k);
        ok &= grade_compare(g, "running_mean", rm.tensor->data, fixture_get(fx, key)->data,
                            (size_t)C, 1, &C, GRADE_GOLDEN_TOL);
        snprintf(key, sizeof key, "running_var%d", k);
        ok &= grade_compare(g, "running_var", rv.tensor->data, fixture_get(fx, key)->data,
                            (size_t)C, 1, &C, GRADE_GOLDEN_TOL);
        grade_done(g);
        em_tensor_free(x);
        em_tape_reset(tape);
    }
    if (ok) {
        /* evaluation mode on ember's own kernels (the fast tier: in an exercise build the
         * reference tier's evaluation is exercise 6's); it reads the running statistics */
        em_tape_set_kernels(tape, em_kernels_fast());
        em_module_train(bn, false);
        em_tensor *x = fixture_tensor(fixture_get(fx, "x_eval"), 0);
        em_tensor *y = em_module_forward(bn, tape, x);
        grade_situation(g, "ember's %s in evaluation mode after the three steps",
                        two_d ? "BatchNorm2d" : "BatchNorm1d");
        grade_compare(g, "eval y", y->data, fixture_get(fx, "y_eval")->data, y->size, y->ndim,
                      y->shape, GRADE_GOLDEN_TOL);
        grade_done(g);
        em_tensor_free(x);
    }
    em_tape_free(tape);
    em_module_free(bn);
    fixture_free(fx);
}

/* did the function write anything? (x (2, 2), running statistics 0 and 1) */
static bool forward_writes(void) {
    em_real x[4] = {1, -2, 3, 5}, gamma[2] = {1, 1}, beta[2] = {0, 0}, y[4] = {0};
    em_real mean[2] = {0}, rstd[2] = {0}, rm[2] = {0, 0}, rv[2] = {1, 1};
    ex_batchnorm_forward(y, mean, rstd, rm, rv, x, gamma, beta, 2, 2, 1, 0.9, 1e-5);
    return grade_nonzero(y, 4) || grade_nonzero(mean, 2) || grade_nonzero(rstd, 2) ||
           grade_nonzero(rm, 2) || rv[0] != 1 || rv[1] != 1;
}

void grade_ex1_batchnorm_forward(grade *g) {
    grade_probe(g, "ex_batchnorm_forward", forward_writes());
    if (!grade_probe_done(g)) return;
    em_rng rng;
    em_rng_seed(&rng, 101);
    unsigned hints = 0;
    for (size_t i = 0; i < sizeof fwd_cases / sizeof fwd_cases[0]; i++)
        forward_case(g, &fwd_cases[i], &rng, &hints);
    forward_golden(g, "batchnorm1d.emfx", false);
    forward_golden(g, "batchnorm2d.emfx", true);
}

/* ---- exercise 2 ---------------------------------------------------------------------------- */

/* The op the gradient check differentiates: the reference forward (so this exercise does
 * not depend on exercise 1) and the student's backward, through the same table entry that
 * em_batchnorm uses in exercise mode (exercises/tier.c). Inputs x, gamma, beta. */
typedef struct bn_saved {
    em_real *mean, *rstd;
} bn_saved;

static void bn_node_backward(em_tape *tape, em_node *node) {
    const bn_saved *sv = node->saved;
    em_tensor *x = node->inputs[0];
    int N = x->shape[0], C = x->shape[1], S = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    em_real *dgamma = em_node_grad(tape, node, 1), *dbeta = em_node_grad(tape, node, 2);
    const em_bn_args *a = BN_ARGS(node->inputs[1], node->inputs[2], NULL, NULL, 0.9, 1e-5,
                                  EM_BN_TRAIN);
    em_kernels_reference()->bn_backward(tape, dx, !fresh, dgamma, dbeta, node->output->grad,
                                        sv->mean, sv->rstd, NULL, x->data, a, N, C, S,
                                        (double)N * S);
}

static em_tensor *bn_op(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    em_tensor *x = in[0], *gamma = in[1], *beta = in[2];
    int N = x->shape[0], C = x->shape[1], S = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
    em_tensor *y = em_tape_tensor_like(tape, x);
    bn_saved *sv = em_tape_alloc(tape, sizeof *sv);
    em_real *stats = em_tape_alloc(tape, 2 * (size_t)C * sizeof *stats);
    double *d = em_tape_alloc(tape, (x->size + 4 * (size_t)C) * sizeof *d);
    if (!y || !sv || !stats || !d) return NULL;
    double *mean = d + x->size, *rstd = mean + C, *rm = rstd + C, *rv = rm + C;
    for (int c = 0; c < C; c++) rm[c] = 0, rv[c] = 1;
    ref_forward(d, mean, rstd, rm, rv, x->data, gamma->data, beta->data, N, C, S, 0.9, 1e-5,
                FWD_RIGHT);
    for (size_t i = 0; i < x->size; i++) y->data[i] = (em_real)d[i];
    sv->mean = stats;
    sv->rstd = stats + C;
    for (int c = 0; c < C; c++) sv->mean[c] = (em_real)mean[c], sv->rstd[c] = (em_real)rstd[c];
    em_node *node = em_tape_record(tape, EM_OP_CUSTOM, y, bn_node_backward, 3, x, gamma, beta);
    if (node) node->saved = sv;
    return y;
}

static const char *const bn_grad_names[3] = {"dx", "dgamma", "dbeta"};

static void backward_gradcheck(grade *g, int ndim, const int *shape, em_rng *rng) {
    int C = shape[1];
    /* x = 5 randn + 12, as the library's own check: a large mean stresses the centring */
    em_tensor *x = grade_randn(rng, ndim, shape, 12, 5, EM_REQUIRES_GRAD);
    em_tensor *gamma = grade_randn(rng, 1, &C, 1, 0.5, EM_REQUIRES_GRAD);
    em_tensor *beta = grade_randn(rng, 1, &C, 0, 0.5, EM_REQUIRES_GRAD);
    em_tensor *in[3] = {x, gamma, beta};
    char sh[48];
    grade_situation(g, "gradcheck, x %s", em_shape_str(x, sh, sizeof sh));
    grade_gradcheck(g, bn_op, NULL, 3, in, bn_grad_names);
    grade_done(g);
    em_tensor_free(x);
    em_tensor_free(gamma);
    em_tensor_free(beta);
}

enum dx_variant { DX_FROZEN, DX_NO_MEAN_TERM, DX_NO_XHAT_TERM, DX_M_MINUS_1, N_DX_VARIANTS };

/* dx with one of the usual mistakes, per channel with xhat = (x - mean) rstd:
 *   frozen: gamma rstd dy (the statistics held constant)
 *   no mean term: gamma rstd (dy - xhat mean(dy xhat))
 *   no xhat term: gamma rstd (dy - mean(dy))
 *   M - 1: the right formula with both means taken over M - 1 */
static void dx_variant(double *dx, enum dx_variant v, const em_real *dy, const em_real *x,
                       const double *mean, const double *rstd, const em_real *gamma, int N,
                       int C, int S) {
    double M = (double)N * S;
    for (int c = 0; c < C; c++) {
        double sg = 0, sgx = 0;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < S; k++) {
                size_t i = ((size_t)n * C + c) * S + k;
                sg += dy[i];
                sgx += dy[i] * (x[i] - mean[c]) * rstd[c];
            }
        double div = v == DX_M_MINUS_1 ? M - 1 : M;
        double a = v == DX_FROZEN || v == DX_NO_MEAN_TERM ? 0 : sg / div;
        double b = v == DX_FROZEN || v == DX_NO_XHAT_TERM ? 0 : sgx / div;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < S; k++) {
                size_t i = ((size_t)n * C + c) * S + k;
                double xhat = (x[i] - mean[c]) * rstd[c];
                dx[i] = gamma[c] * rstd[c] * (dy[i] - a - xhat * b);
            }
    }
}

static const char *const dx_hints[N_DX_VARIANTS] = {
    "your dx is gamma * rstd * dy: the gradient with the batch mean and variance held "
    "constant (the frozen-statistics variant). In training they are functions of x: "
    "add the paths through the variance and the mean (exercise 5's graph)",
    "your dx misses the term through the mean: subtract the channel's mean of dy",
    "your dx misses the term through the variance: subtract xhat times the channel's mean "
    "of dy * xhat",
    "your dx divides by M - 1 where the forward's mean and (biased) variance divide by M",
};

/* PyTorch's gradients for the three steps of a fixture, the student's backward called
 * directly after the reference forward. Returns false at the first step that fails, after
 * trying the usual mistakes on dx. */
static bool backward_golden(grade *g, const char *file, bool *hinted) {
    fixture *fx = fixture_load(file);
    const fx_tensor *gf = fixture_get(fx, "gamma"), *bf = fixture_get(fx, "beta");
    em_real *gamma = grade_fx_values(gf), *beta = grade_fx_values(bf);
    int C = gf->shape[0];
    bool ok = true;
    char key[32];
    for (int k = 0; k < 3 && ok; k++) {
        snprintf(key, sizeof key, "x%d", k);
        const fx_tensor *xf = fixture_get(fx, key);
        snprintf(key, sizeof key, "dy%d", k);
        em_real *x = grade_fx_values(xf), *dy = grade_fx_values(fixture_get(fx, key));
        int N = xf->shape[0], S = xf->ndim == 4 ? xf->shape[2] * xf->shape[3] : 1;
        size_t n = xf->size;
        double *y = malloc(n * sizeof *y), *st = malloc(4 * (size_t)C * sizeof *st);
        em_real *dx = calloc(n, sizeof *dx), *dp = calloc(4 * (size_t)C, sizeof *dp);
        if (!y || !st || !dx || !dp) grade_fatal("no memory");
        double *mean = st, *rstd = st + C, *rm = st + 2 * C, *rv = st + 3 * C;
        em_real *dgamma = dp, *dbeta = dp + C, *mean_r = dp + 2 * C, *rstd_r = dp + 3 * C;
        for (int c = 0; c < C; c++) rm[c] = 0, rv[c] = 1;
        ref_forward(y, mean, rstd, rm, rv, x, gamma, beta, N, C, S, 0.9, 1e-5, FWD_RIGHT);
        for (int c = 0; c < C; c++) mean_r[c] = (em_real)mean[c], rstd_r[c] = (em_real)rstd[c];
        ex_batchnorm_backward(dx, dgamma, dbeta, dy, x, mean_r, rstd_r, gamma, N, C, S);

        char sh[48];
        grade_situation(g, "PyTorch's gradients, %s on x %s, step %d",
                        S > 1 ? "BatchNorm2d" : "BatchNorm1d",
                        grade_shape_str(sh, sizeof sh, xf->ndim, xf->shape), k + 1);
        snprintf(key, sizeof key, "dx%d", k);
        bool ok_dx = grade_compare(g, "dx", dx, fixture_get(fx, key)->data, n, xf->ndim,
                                   xf->shape, GRADE_GOLDEN_TOL);
        snprintf(key, sizeof key, "dgamma%d", k);
        ok &= grade_compare(g, "dgamma", dgamma, fixture_get(fx, key)->data, (size_t)C, 1, &C,
                            GRADE_GOLDEN_TOL);
        snprintf(key, sizeof key, "dbeta%d", k);
        ok &= grade_compare(g, "dbeta", dbeta, fixture_get(fx, key)->data, (size_t)C, 1, &C,
                            GRADE_GOLDEN_TOL);
        grade_done(g);
        ok &= ok_dx;
        if (!ok_dx && !*hinted) {
            double *alt = malloc(n * sizeof *alt);
            if (!alt) grade_fatal("no memory");
            for (int v = 0; v < N_DX_VARIANTS && !*hinted; v++) {
                dx_variant(alt, (enum dx_variant)v, dy, x, mean, rstd, gamma, N, C, S);
                if (grade_rel_err(dx, alt, n) <= GRADE_REF_TOL) {
                    grade_hint(g, "%s", dx_hints[v]);
                    *hinted = true;
                }
            }
            free(alt);
        }
        free(x), free(dy), free(y), free(st), free(dx), free(dp);
    }
    free(gamma);
    free(beta);
    fixture_free(fx);
    return ok;
}

/* did the function write anything? (the reference forward's statistics of x (2, 2)) */
static bool backward_writes(void) {
    em_real x[4] = {1, -2, 3, 5}, dy[4] = {0.5, -1, 2, 0.25}, gamma[2] = {1, 1};
    em_real mean[2] = {2, 1.5}, rstd[2] = {1, 0.3}, dx[4] = {0}, dgamma[2] = {0}, dbeta[2] = {0};
    ex_batchnorm_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, 2, 2, 1);
    return grade_nonzero(dx, 4) || grade_nonzero(dgamma, 2) || grade_nonzero(dbeta, 2);
}

void grade_ex2_batchnorm_backward(grade *g) {
    grade_probe(g, "ex_batchnorm_backward", backward_writes());
    if (!grade_probe_done(g)) return;
    em_rng rng;
    em_rng_seed(&rng, 202);
    /* BatchNorm1d at N = 2, 4, 64; BatchNorm2d at N = 1, 2, 16 (the library's own sizes) */
    backward_gradcheck(g, 2, (int[]){2, 5}, &rng);
    backward_gradcheck(g, 2, (int[]){4, 5}, &rng);
    backward_gradcheck(g, 2, (int[]){64, 3}, &rng);
    backward_gradcheck(g, 4, (int[]){1, 3, 3, 2}, &rng);
    backward_gradcheck(g, 4, (int[]){2, 3, 3, 2}, &rng);
    backward_gradcheck(g, 4, (int[]){16, 2, 3, 3}, &rng);
    bool hinted = false;
    backward_golden(g, "batchnorm1d.emfx", &hinted);
    backward_golden(g, "batchnorm2d.emfx", &hinted);
}

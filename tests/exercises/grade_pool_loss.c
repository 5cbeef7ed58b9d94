/* tests/exercises/grade_pool_loss.c — exercises 7 (max-pooling) and 8 (softmax
 * cross-entropy).
 *
 * Max-pooling: the forward called directly against the definition (y, and the argmax with
 * the first-maximum rule on ties) on windows that tile, overlap, skip a border and tie;
 * the backward alone, from the grader's argmax, where windows overlap and share a winner;
 * then em_maxpool2d, which runs both (exercises/tier.c), under em_gradcheck and against
 * PyTorch (tests/fixtures/ops.emfx).
 * Cross-entropy: the forward directly (loss and softmax) on ordinary logits, on logits of
 * 1000 and more, on one class; the backward alone; em_cross_entropy, which runs both, under
 * em_gradcheck and against PyTorch (tests/fixtures/course.emfx). */
#include "grade.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exercises/exercises.h"

/* ---- exercise 7 ----------------------------------------------------------------------------- */

typedef struct pool_case {
    int P, H, W, k, s;
    int ties;  /* 0: distinct values; 1: values from a few levels, so windows tie */
} pool_case;

static const pool_case pool_cases[] = {
    {3, 4, 6, 2, 2, 0}, {2, 7, 7, 3, 2, 0},  /* overlapping windows */
    {2, 5, 4, 3, 1, 0},                      /* overlapping, stride 1 */
    {2, 7, 5, 2, 2, 0},                      /* the last row and column in no window */
    {2, 3, 3, 1, 1, 0},                      /* k = 1: the identity */
    {4, 6, 6, 2, 2, 1}, {2, 6, 6, 3, 1, 1},  /* ties */
};

static int pool_out(int len, int k, int s) { return (len - k) / s + 1; }

/* y, argmax in the definition's terms; last_on_tie: the usual mistake */
static void ref_pool(double *y, int32_t *am, const em_real *x, const pool_case *c,
                     bool last_on_tie) {
    int Ho = pool_out(c->H, c->k, c->s), Wo = pool_out(c->W, c->k, c->s);
    for (int p = 0; p < c->P; p++) {
        const em_real *xp = x + (size_t)p * c->H * c->W;
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Wo; j++) {
                int32_t best = -1;
                for (int a = 0; a < c->k; a++)
                    for (int b = 0; b < c->k; b++) {
                        int32_t at = (i * c->s + a) * c->W + j * c->s + b;
                        if (best < 0 || xp[at] > xp[best] || (last_on_tie && xp[at] == xp[best]))
                            best = at;
                    }
                size_t o = ((size_t)p * Ho + i) * Wo + j;
                y[o] = xp[best];
                am[o] = best;
            }
    }
}

static em_real *pool_input(const pool_case *c, em_rng *rng) {
    size_t n = (size_t)c->P * c->H * c->W;
    em_real *x = grade_alloc(n, sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = c->ties ? (em_real)(int)em_rng_uniform_range(rng, 0, 3)
                       : (em_real)em_rng_normal(rng, 0, 1);
    return x;
}

static bool pool_writes(void) {
    em_real x[4] = {1, 5, 2, 3}, y[1] = {0};
    int32_t am[1] = {0};
    ex_maxpool_forward(y, am, x, 1, 2, 2, 2, 2);
    return y[0] != 0 || am[0] != 0;
}

static bool pool_backward_writes(void) {
    em_real dy[1] = {2}, dx[4] = {0};
    int32_t am[1] = {1};
    ex_maxpool_backward(dx, dy, am, 1, 2, 2, 2, 2);
    return grade_nonzero(dx, 4);
}

static void pool_direct(grade *g, const pool_case *c, em_rng *rng, bool *hinted) {
    int Ho = pool_out(c->H, c->k, c->s), Wo = pool_out(c->W, c->k, c->s);
    size_t nx = (size_t)c->P * c->H * c->W, ny = (size_t)c->P * Ho * Wo;
    em_real *x = pool_input(c, rng), *y = grade_alloc(ny, sizeof *y);
    em_real *dy = grade_alloc(ny, sizeof *dy), *dx = grade_alloc(nx, sizeof *dx);
    int32_t *am = grade_alloc(ny, sizeof *am), *want_am = grade_alloc(ny, sizeof *want_am);
    double *want = grade_alloc(ny > nx ? ny : nx, sizeof *want);
    double *am_got = grade_alloc(ny, sizeof *am_got), *am_want = grade_alloc(ny, sizeof *am_want);
    ref_pool(want, want_am, x, c, false);
    ex_maxpool_forward(y, am, x, c->P, c->H, c->W, c->k, c->s);
    for (size_t i = 0; i < ny; i++) am_want[i] = want_am[i];
    em_real *am_real = grade_alloc(ny, sizeof *am_real);
    for (size_t i = 0; i < ny; i++) am_real[i] = (em_real)am[i];
    int ys[3] = {c->P, Ho, Wo}, xs[3] = {c->P, c->H, c->W};
    grade_situation(g, "x (%d, %d, %d), k %d, stride %d%s", c->P, c->H, c->W, c->k, c->s,
                    c->ties ? ", with ties" : "");
    bool ok_y = grade_compare(g, "y", y, want, ny, 3, ys, GRADE_REF_TOL);
    bool ok_am = grade_compare(g, "argmax", am_real, am_want, ny, 3, ys, 0);
    if (!ok_am && ok_y && c->ties && !*hinted) {
        ref_pool(want, want_am, x, c, true);
        for (size_t i = 0; i < ny; i++) am_got[i] = want_am[i];
        if (grade_rel_err(am_real, am_got, ny) == 0) {
            grade_hint(g, "your argmax keeps the last of equal values; on a tie the first "
                       "(the smallest offset) wins, as in ember and PyTorch");
            *hinted = true;
        }
        ref_pool(want, want_am, x, c, false);
    }
    /* the backward alone, from the right argmax */
    for (size_t i = 0; i < ny; i++) dy[i] = (em_real)em_rng_normal(rng, 0, 1);
    for (size_t i = 0; i < nx; i++) want[i] = 0;
    for (int p = 0; p < c->P; p++)
        for (int t = 0; t < Ho * Wo; t++) {
            size_t o = (size_t)p * Ho * Wo + t;
            want[(size_t)p * c->H * c->W + want_am[o]] += dy[o];
        }
    ex_maxpool_backward(dx, dy, want_am, c->P, c->H, c->W, c->k, c->s);
    bool ok_dx = grade_compare(g, "dx", dx, want, nx, 3, xs, GRADE_REF_TOL);
    grade_done(g);
    if (!ok_dx && !*hinted && c->s < c->k) {
        /* stored, not added: the last window a pixel wins decides its gradient */
        for (size_t i = 0; i < nx; i++) want[i] = 0;
        for (int p = 0; p < c->P; p++)
            for (int t = 0; t < Ho * Wo; t++) {
                size_t o = (size_t)p * Ho * Wo + t;
                want[(size_t)p * c->H * c->W + want_am[o]] = dy[o];
            }
        if (grade_rel_err(dx, want, nx) <= GRADE_REF_TOL) {
            grade_hint(g, "your dx stores each window's gradient (=) where overlapping "
                       "windows share a maximum: add them (+=)");
            *hinted = true;
        }
    }
    free(x), free(y), free(dy), free(dx), free(am), free(want_am), free(want);
    free(am_got), free(am_want), free(am_real);
}

typedef struct pool_op_ctx {
    int k, s;
} pool_op_ctx;

static em_tensor *pool_op(em_tape *tape, em_tensor *const *in, void *ctx) {
    const pool_op_ctx *c = ctx;
    return em_maxpool2d(tape, in[0], c->k, c->s);
}

/* em_maxpool2d (the student's forward and backward) on PyTorch's case and by finite
 * differences */
static void pool_golden(grade *g, const fixture *fx, const char *c, int k, int s, em_rng *rng) {
    char key[64];
#define K(name) (snprintf(key, sizeof key, "%s.%s", c, name), key)
    em_tensor *x = fixture_tensor(fixture_get(fx, K("x")), EM_REQUIRES_GRAD);
    em_real *dy = grade_fx_values(fixture_get(fx, K("dy")));
    em_tape *tape = em_tape_new(0);
    em_tensor *y = em_maxpool2d(tape, x, k, s);
    if (!y || em_backward_from(tape, y, dy) != EM_OK) grade_fatal("em_maxpool2d failed");
    char sh[48];
    grade_situation(g, "PyTorch's max_pool2d, em_maxpool2d x %s, k %d, stride %d",
                    em_shape_str(x, sh, sizeof sh), k, s);
    grade_compare(g, "y", y->data, fixture_get(fx, K("y"))->data, y->size, y->ndim, y->shape,
                  GRADE_GOLDEN_TOL);
    grade_compare(g, "dx", x->grad, fixture_get(fx, K("dx"))->data, x->size, x->ndim, x->shape,
                  GRADE_GOLDEN_TOL);
    grade_done(g);
#undef K
    em_tape_free(tape);
    free(dy);
    /* finite differences on distinct values (no tie, no kink within h) */
    em_tensor *xg = grade_randn(rng, 4, x->shape, 0, 1, EM_REQUIRES_GRAD);
    pool_op_ctx ctx = {k, s};
    grade_situation(g, "gradcheck of em_maxpool2d, x %s, k %d, stride %d",
                    em_shape_str(xg, sh, sizeof sh), k, s);
    grade_gradcheck(g, pool_op, &ctx, 1, &xg, (const char *const[]){"dx"});
    grade_done(g);
    em_tensor_free(xg);
    em_tensor_free(x);
}

/* a NaN in a window wins it (as in ember's kernels), wherever in the window it is */
static void pool_nan(grade *g) {
    em_real x[2 * 4 * 4], y[2 * 2 * 2];
    int32_t am[8];
    for (int i = 0; i < 32; i++) x[i] = (em_real)(i % 7);
    x[0] = x[6] = (em_real)NAN;        /* plane 0: first in window (0, 0), last of (0, 1) */
    x[16 + 15] = (em_real)NAN;         /* plane 1: the last pixel of window (1, 1) */
    ex_maxpool_forward(y, am, x, 2, 4, 4, 2, 2);
    grade_situation(g, "x (2, 4, 4), k 2, stride 2, NaN at the first and the last pixel of "
                    "a window");
    bool ok = isnan(y[0]) && isnan(y[1]) && !isnan(y[2]) && !isnan(y[3]) && isnan(y[7]) &&
              am[0] == 0 && am[1] == 6 && am[7] == 15;
    grade_expect(g, "NaN", ok, "a window holding a NaN must give NaN (argmax: the NaN): got y "
                 "%g %g %g (argmax %d %d %d)", (double)y[0], (double)y[1], (double)y[7],
                 (int)am[0], (int)am[1], (int)am[7]);
    grade_done(g);
}

void grade_ex7_maxpool(grade *g) {
    grade_probe(g, "ex_maxpool_forward", pool_writes());
    grade_probe(g, "ex_maxpool_backward", pool_backward_writes());
    if (!grade_probe_done(g)) return;
    em_rng rng;
    em_rng_seed(&rng, 707);
    bool hinted = false;
    for (size_t i = 0; i < sizeof pool_cases / sizeof pool_cases[0]; i++)
        pool_direct(g, &pool_cases[i], &rng, &hinted);
    pool_nan(g);
    fixture *fx = fixture_load("ops.emfx");
    pool_golden(g, fx, "maxpool", 2, 2, &rng);
    pool_golden(g, fx, "maxpool_ov", 3, 2, &rng);
    fixture_free(fx);
}

/* ---- exercise 8 ----------------------------------------------------------------------------- */

/* loss and softmax in double, log-sum-exp with the max taken out */
static double ref_ce(double *probs, const em_real *z, const int *labels, int N, int C) {
    double total = 0;
    for (int n = 0; n < N; n++) {
        const em_real *zn = z + (size_t)n * C;
        double m = zn[0], s = 0;
        for (int c = 1; c < C; c++) m = fmax(m, zn[c]);
        for (int c = 0; c < C; c++) s += exp(zn[c] - m);
        for (int c = 0; c < C; c++) probs[(size_t)n * C + c] = exp(zn[c] - m) / s;
        total += m + log(s) - zn[labels[n]];
    }
    return total / N;
}

enum ce_variant { CE_RIGHT, CE_NO_MEAN, CE_NO_ONEHOT, CE_NO_DLOSS };

static void ref_ce_backward(double *dz, const em_real *probs, const int *labels, double dloss,
                            int N, int C, enum ce_variant v) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)n * C + c;
            double d = probs[i] - (v == CE_NO_ONEHOT ? 0 : c == labels[n]);
            dz[i] = (v == CE_NO_DLOSS ? 1 : dloss) * d / (v == CE_NO_MEAN ? 1 : N);
        }
}

static bool ce_writes(void) {
    em_real z[4] = {1, 2, 0.5, -1}, probs[4] = {0};
    int labels[2] = {0, 1};
    double loss = ex_cross_entropy_forward(probs, z, labels, 2, 2);
    return loss != 0 || grade_nonzero(probs, 4);
}

static bool ce_backward_writes(void) {
    em_real probs[4] = {0.25, 0.75, 0.5, 0.5}, dz[4] = {0};
    int labels[2] = {0, 1};
    ex_cross_entropy_backward(dz, probs, labels, 1.0, 2, 2);
    return grade_nonzero(dz, 4);
}

typedef struct ce_case {
    int N, C;
    double mean, std;
} ce_case;

static const ce_case ce_cases[] = {
    {8, 10, 0, 1}, {5, 3, 0, 5},
    {4, 6, 1000, 300},  /* exp overflows */
    {3, 4, -1000, 300}, /* exp underflows to 0 everywhere */
    {2, 1, 0, 1},       /* one class: the loss is 0 */
};

static void ce_direct(grade *g, const ce_case *k, em_rng *rng, bool *hinted) {
    int N = k->N, C = k->C, shape[2] = {N, C};
    size_t n = (size_t)N * C;
    em_real *z = grade_alloc(n, sizeof *z), *probs = grade_alloc(n, sizeof *probs);
    em_real *rprobs = grade_alloc(n, sizeof *rprobs), *dz = grade_alloc(n, sizeof *dz);
    int *labels = grade_alloc((size_t)N, sizeof *labels);
    double *want = grade_alloc(n, sizeof *want);
    for (size_t i = 0; i < n; i++) z[i] = (em_real)em_rng_normal(rng, k->mean, k->std);
    for (int i = 0; i < N; i++) labels[i] = (int)em_rng_uniform_range(rng, 0, C) % C;
    double want_loss = ref_ce(want, z, labels, N, C);
    em_real loss = (em_real)ex_cross_entropy_forward(probs, z, labels, N, C);
    grade_situation(g, "z (%d, %d) of mean %g, std %g", N, C, k->mean, k->std);
    bool ok_loss = grade_compare(g, "loss", &loss, &want_loss, 1, 1, (int[]){1}, GRADE_REF_TOL);
    grade_compare(g, "probs", probs, want, n, 2, shape, GRADE_REF_TOL);
    if (!ok_loss && !*hinted && !isfinite(loss) && fabs(k->mean) > 100) {
        grade_hint(g, "your loss is %g where the logits are large: exp(1000) overflows. "
                   "Subtract each row's maximum before exp (softmax does not change)",
                   (double)loss);
        *hinted = true;
    }
    /* the backward alone, from the right softmax */
    for (size_t i = 0; i < n; i++) rprobs[i] = (em_real)want[i];
    ref_ce_backward(want, rprobs, labels, 0.7, N, C, CE_RIGHT);
    ex_cross_entropy_backward(dz, rprobs, labels, 0.7, N, C);
    bool ok_dz = grade_compare(g, "dz", dz, want, n, 2, shape, GRADE_REF_TOL);
    grade_done(g);
    static const struct { enum ce_variant v; const char *hint; } mistakes[] = {
        {CE_NO_MEAN, "your dz leaves out the 1/N of the mean over the rows"},
        {CE_NO_ONEHOT, "your dz is the softmax alone: -log probs[label] also depends on "
                       "z[label] directly, which subtracts 1 there"},
        {CE_NO_DLOSS, "your dz ignores dloss, the gradient that arrives from above (here "
                      "0.7): the chain rule multiplies by it"},
    };
    for (size_t m = 0; !ok_dz && !*hinted && m < sizeof mistakes / sizeof mistakes[0]; m++) {
        ref_ce_backward(want, rprobs, labels, 0.7, N, C, mistakes[m].v);
        if (grade_rel_err(dz, want, n) <= GRADE_REF_TOL) {
            grade_hint(g, "%s", mistakes[m].hint);
            *hinted = true;
        }
    }
    free(z), free(probs), free(rprobs), free(dz), free(labels), free(want);
}

static em_tensor *ce_op(em_tape *tape, em_tensor *const *in, void *ctx) {
    return em_cross_entropy(tape, in[0], ctx);
}

/* em_cross_entropy (the student's forward and backward) on PyTorch's numbers */
static void ce_golden(grade *g, const fixture *fx, const char *c, em_rng *rng) {
    char key[64];
#define K(name) (snprintf(key, sizeof key, "%s.%s", c, name), key)
    em_tensor *z = fixture_tensor(fixture_get(fx, K("z")), EM_REQUIRES_GRAD);
    const fx_tensor *lf = fixture_get(fx, K("labels"));
    int N = z->shape[0], *labels = grade_alloc((size_t)N, sizeof *labels);
    for (int i = 0; i < N; i++) labels[i] = (int)lf->data[i];
    em_tape *tape = em_tape_new(0);
    em_tensor *loss = em_cross_entropy(tape, z, labels);
    em_real up = (em_real)0.7;
    if (!loss || em_backward_from(tape, loss, &up) != EM_OK) grade_fatal("em_cross_entropy failed");
    char sh[48];
    grade_situation(g, "PyTorch's cross_entropy, em_cross_entropy z %s, dloss 0.7",
                    em_shape_str(z, sh, sizeof sh));
    grade_compare(g, "loss", loss->data, fixture_get(fx, K("loss"))->data, 1, 1, (int[]){1},
                  GRADE_GOLDEN_TOL);
    grade_compare(g, "dz", z->grad, fixture_get(fx, K("dz"))->data, z->size, 2, z->shape,
                  GRADE_GOLDEN_TOL);
    grade_done(g);
#undef K
    em_tape_free(tape);
    /* finite differences at moderate logits */
    em_tensor *zg = grade_randn(rng, 2, z->shape, 0, 2, EM_REQUIRES_GRAD);
    grade_situation(g, "gradcheck of em_cross_entropy, z %s", em_shape_str(zg, sh, sizeof sh));
    grade_gradcheck(g, ce_op, labels, 1, &zg, (const char *const[]){"dz"});
    grade_done(g);
    em_tensor_free(zg);
    em_tensor_free(z);
    free(labels);
}

void grade_ex8_softmax_cross_entropy(grade *g) {
    grade_probe(g, "ex_cross_entropy_forward", ce_writes());
    grade_probe(g, "ex_cross_entropy_backward", ce_backward_writes());
    if (!grade_probe_done(g)) return;
    em_rng rng;
    em_rng_seed(&rng, 808);
    bool hinted = false;
    for (size_t i = 0; i < sizeof ce_cases / sizeof ce_cases[0]; i++)
        ce_direct(g, &ce_cases[i], &rng, &hinted);
    fixture *fx = fixture_load("course.emfx");
    ce_golden(g, fx, "ce_small", &rng);
    ce_golden(g, fx, "ce_large", &rng);
    fixture_free(fx);
}

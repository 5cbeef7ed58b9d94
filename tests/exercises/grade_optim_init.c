/* tests/exercises/grade_optim_init.c — exercises 9 (Adam) and 10 (Kaiming initialization).
 *
 * Adam: three steps called directly from zero moments against the update in double (with
 * weight decay, so the L2 term counts), the usual mistakes replayed and named; then em_adam,
 * which runs it (exercises/tier.c), against five steps of torch.optim.Adam
 * (tests/fixtures/optim.emfx).
 * Kaiming: the student's draws replayed from the same generator (the values must be the
 * right scale times the same standard draws), the scale the student used compared with the
 * usual wrong ones; then the point of it all: a batch through 30 ReLU layers of width 200
 * initialized by the student's function keeps the variance of its activations. */
#include "grade.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exercises/exercises.h"
#include "exercises/support.h"

/* ---- exercise 9 ----------------------------------------------------------------------------- */

#define ADAM_N 11

enum adam_variant { AD_RIGHT, AD_NO_CORRECTION, AD_EPS_INSIDE, AD_NO_DECAY, AD_STEP_FROM_0 };

/* one step t of Adam on double state, with one of the usual mistakes */
static void ref_adam(double *p, double *m, double *v, const em_real *g, double lr, double b1,
                     double b2, double eps, double wd, long t, enum adam_variant var) {
    double tt = var == AD_STEP_FROM_0 ? (double)t + 1 : (double)t;
    double c1 = var == AD_NO_CORRECTION ? 1 : 1 - pow(b1, tt);
    double c2 = var == AD_NO_CORRECTION ? 1 : 1 - pow(b2, tt);
    for (int i = 0; i < ADAM_N; i++) {
        double gi = g[i] + (var == AD_NO_DECAY ? 0 : wd * p[i]);
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        double den = var == AD_EPS_INSIDE ? sqrt(v[i] / c2 + eps) : sqrt(v[i] / c2) + eps;
        p[i] -= lr * (m[i] / c1) / den;
    }
}

static bool adam_writes(void) {
    em_real p[2] = {1, -1}, m[2] = {0}, v[2] = {0}, gr[2] = {0.5, 2};
    ex_adam_step(p, m, v, gr, 0.1, 0.9, 0.999, 1e-8, 0, 1, 2);
    return p[0] != 1 || p[1] != -1 || grade_nonzero(m, 2) || grade_nonzero(v, 2);
}

static void adam_direct(grade *g, em_rng *rng) {
    const double lr = 0.01, b1 = 0.8, b2 = 0.95, eps = 1e-3, wd = 0.1;
    em_real p[ADAM_N], m[ADAM_N] = {0}, v[ADAM_N] = {0}, gr[ADAM_N];
    double wp[ADAM_N], wm[ADAM_N] = {0}, wv[ADAM_N] = {0};
    int n = ADAM_N;
    for (int i = 0; i < ADAM_N; i++) p[i] = (em_real)em_rng_normal(rng, 0, 1), wp[i] = p[i];
    for (long t = 1; t <= 3; t++) {
        for (int i = 0; i < ADAM_N; i++) gr[i] = (em_real)em_rng_normal(rng, 0, 0.1);
        double p0[ADAM_N], m0[ADAM_N], v0[ADAM_N];
        memcpy(p0, wp, sizeof p0), memcpy(m0, wm, sizeof m0), memcpy(v0, wv, sizeof v0);
        ref_adam(wp, wm, wv, gr, lr, b1, b2, eps, wd, t, AD_RIGHT);
        ex_adam_step(p, m, v, gr, lr, b1, b2, eps, wd, t, ADAM_N);
        grade_situation(g, "step %ld, lr %g, betas (%g, %g), eps %g, weight decay %g", t, lr, b1,
                        b2, eps, wd);
        bool ok_m = grade_compare(g, "m", m, wm, ADAM_N, 1, &n, GRADE_REF_TOL);
        bool ok_v = grade_compare(g, "v", v, wv, ADAM_N, 1, &n, GRADE_REF_TOL);
        bool ok_p = grade_compare(g, "p", p, wp, ADAM_N, 1, &n, GRADE_REF_TOL);
        grade_done(g);
        if (ok_m && ok_v && ok_p) continue;
        static const struct { enum adam_variant v; const char *hint; } mistakes[] = {
            {AD_NO_CORRECTION, "your update has no bias correction: m and v start at 0, so "
                               "early on they are too small by the factors 1 - beta^t"},
            {AD_EPS_INSIDE, "your eps is inside the square root; it is added to sqrt(vhat)"},
            {AD_NO_DECAY, "your update leaves out weight decay: g' = g + weight_decay * p"},
            {AD_STEP_FROM_0, "your bias correction uses t + 1: t is already 1 on the first "
                             "step"},
        };
        for (size_t k = 0; k < sizeof mistakes / sizeof mistakes[0]; k++) {
            double ap[ADAM_N], am[ADAM_N], av[ADAM_N];
            memcpy(ap, p0, sizeof ap), memcpy(am, m0, sizeof am), memcpy(av, v0, sizeof av);
            ref_adam(ap, am, av, gr, lr, b1, b2, eps, wd, t, mistakes[k].v);
            if (grade_rel_err(p, ap, ADAM_N) <= GRADE_REF_TOL) {
                grade_hint(g, "%s", mistakes[k].hint);
                break;
            }
        }
        break;  /* later steps would start from wrong values */
    }
}

/* em_adam (which runs exercise 9) against PyTorch's five steps */
static void adam_golden(grade *g, const fixture *fx, const char *c) {
    char key[96];
#define K(s) (snprintf(key, sizeof key, "%s.%s", c, s), key)
    const fx_tensor *hp = fixture_get(fx, K("hp")), *lr = fixture_get(fx, K("lr"));
    const fx_tensor *gf = fixture_get(fx, K("g")), *pf = fixture_get(fx, K("p"));
    const fx_tensor *p0 = fixture_get(fx, K("p0"));
    int n = (int)p0->size;
    em_real *data = grade_fx_values(p0), *grad = grade_alloc(p0->size, sizeof *grad);
    em_adam_opts o = em_adam_defaults();
    o.beta1 = hp->data[0], o.beta2 = hp->data[1], o.eps = hp->data[2];
    o.weight_decay = hp->data[3];
    em_error err;
    em_adam *opt = em_adam_new((em_params){data, grad, p0->size}, &o, &err);
    if (!opt) grade_fatal("%s", err.msg);
    bool ok = true;
    for (int k = 0; k < 5 && ok; k++) {
        for (int i = 0; i < n; i++) grad[i] = (em_real)gf->data[(size_t)k * n + i];
        em_adam_step(opt, lr->data[k]);
        grade_situation(g, "PyTorch's torch.optim.Adam (betas %g, %g, eps %g, weight decay %g) "
                        "through em_adam, step %d", o.beta1, o.beta2, o.eps, o.weight_decay,
                        k + 1);
        ok = grade_compare(g, "p", data, pf->data + (size_t)k * n, (size_t)n, 1, &n,
                           GRADE_GOLDEN_TOL);
        grade_done(g);
    }
    if (ok) {
        grade_situation(g, "PyTorch's exp_avg and exp_avg_sq after 5 steps (%s)", c);
        grade_compare(g, "m", opt->exp_avg, fixture_get(fx, K("exp_avg"))->data, (size_t)n, 1,
                      &n, GRADE_GOLDEN_TOL);
        grade_compare(g, "v", opt->exp_avg_sq, fixture_get(fx, K("exp_avg_sq"))->data,
                      (size_t)n, 1, &n, GRADE_GOLDEN_TOL);
        grade_done(g);
    }
#undef K
    em_adam_free(opt);
    free(data), free(grad);
}

void grade_ex9_adam(grade *g) {
    grade_probe(g, "ex_adam_step", adam_writes());
    if (!grade_probe_done(g)) return;
    em_rng rng;
    em_rng_seed(&rng, 909);
    adam_direct(g, &rng);
    fixture *fx = fixture_load("optim.emfx");
    adam_golden(g, fx, "adam");
    adam_golden(g, fx, "adam_wd");
    fixture_free(fx);
}

/* ---- exercise 10 ---------------------------------------------------------------------------- */

typedef struct init_case {
    int ndim, shape[4];
    bool uniform;
} init_case;

/* fan_in and fan_out chosen so that no wrong rule gives the right scale by chance (2/fan_out
 * never equals 1/fan_in here) */
static const init_case init_cases[] = {
    {2, {50, 32}, false}, {4, {12, 8, 3, 3}, false},
    {2, {10, 50}, true}, {4, {6, 4, 5, 5}, true}, {4, {5, 3, 1, 1}, false},
};

static bool init_writes(void) {
    ex_rng r;
    em_rng_seed(&r.rng, 1);
    em_real w[8] = {0};
    ex_kaiming_init(w, 2, (int[]){2, 4}, false, &r);
    return grade_nonzero(w, 8);
}

/* the scale s with got = s * draws, or NaN when got is no multiple of the draws */
static double fitted_scale(const em_real *got, const double *draws, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) num += got[i] * draws[i], den += draws[i] * draws[i];
    double s = num / den, err = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        err = fmax(err, fabs(got[i] - s * draws[i]));
        scale = fmax(scale, fabs(got[i]));
    }
    return err <= 1e-9 * scale ? s : NAN;
}

static void init_replay(grade *g, const init_case *k, bool *hinted) {
    size_t n = 1;
    for (int d = 0; d < k->ndim; d++) n *= (size_t)k->shape[d];
    int O = k->shape[0], fan_in = (int)(n / (size_t)O), C = k->ndim == 4 ? k->shape[1] : fan_in;
    int fan_out = k->ndim == 4 ? O * k->shape[2] * k->shape[3] : O;
    ex_rng r;
    em_rng_seed(&r.rng, 1010 + n);
    em_real *w = grade_alloc(n, sizeof *w);
    ex_kaiming_init(w, k->ndim, k->shape, k->uniform, &r);
    em_rng replay;
    em_rng_seed(&replay, 1010 + n);
    double *draws = grade_alloc(n, sizeof *draws), *want = grade_alloc(n, sizeof *want);
    double a = k->uniform ? sqrt(6.0 / fan_in) : sqrt(2.0 / fan_in);
    for (size_t i = 0; i < n; i++) {
        draws[i] = k->uniform ? 2 * em_rng_uniform(&replay) - 1 : em_rng_normal(&replay, 0, 1);
        want[i] = a * draws[i];
    }
    char sh[48];
    grade_situation(g, "%s, w %s (fan_in %d)", k->uniform ? "uniform" : "normal",
                    grade_shape_str(sh, sizeof sh, k->ndim, k->shape), fan_in);
    bool ok = grade_compare(g, "w", w, want, n, k->ndim, k->shape, GRADE_REF_TOL);
    grade_done(g);
    double s = fitted_scale(w, draws, n);
    if (!ok && !*hinted && isfinite(s)) {
        double u = k->uniform ? 3 : 1;  /* a uniform's a^2 = 3 Var */
        struct { double scale; const char *hint; } known[] = {
            {sqrt(2 * u / C), "your scale uses fan_in = C, the input channels only: a filter "
                              "reads C * kh * kw inputs"},
            {sqrt(2 * u / fan_out), "your scale uses fan_out (the outputs); He's forward-pass "
                                    "argument keeps the activations' variance: fan_in"},
            {sqrt(u / fan_in), "your variance is 1 / fan_in: the ReLU zeroes half of its "
                               "inputs' second moment, which the factor 2 makes up for"},
            {sqrt(2.0 / fan_in), "your uniform bound is the normal's standard deviation: a "
                                 "uniform on [-a, a) has variance a^2 / 3"},
            {sqrt(2 * u / (fan_in + fan_out)), "your scale averages fan_in and fan_out "
                                               "(Glorot's): He's is fan_in alone"},
        };
        for (size_t m = 0; m < sizeof known / sizeof known[0] && !*hinted; m++)
            if (fabs(s - known[m].scale) <= 1e-9 * known[m].scale &&
                fabs(s - a) > 1e-9 * a) {
                grade_hint(g, "%s", known[m].hint);
                *hinted = true;
            }
    }
    if (!ok && !*hinted && !isfinite(s)) {
        grade_hint(g, "your w is not one scale times the grader's draws: draw once per "
                   "element, in order, with ex_rng_%s", k->uniform ? "uniform" : "normal");
        *hinted = true;
    }
    free(w), free(draws), free(want);
}

/* the variance of the pre-activations of the last of `layers` ReLU layers of width D over
 * that of the first, the network initialized by the student's function */
static double deep_variance_ratio(int layers, int D, int B) {
    ex_rng r;
    em_rng_seed(&r.rng, 10);
    em_real *h = grade_alloc((size_t)B * D, sizeof *h), *z = grade_alloc((size_t)B * D, sizeof *z);
    em_real *w = grade_alloc((size_t)D * D, sizeof *w);
    for (size_t i = 0; i < (size_t)B * D; i++) h[i] = (em_real)ex_rng_normal(&r);
    double first = 0, last = 0;
    for (int l = 0; l < layers; l++) {
        ex_kaiming_init(w, 2, (int[]){D, D}, false, &r);
        double sq = 0;
        for (int b = 0; b < B; b++)
            for (int o = 0; o < D; o++) {
                double acc = 0;
                for (int i = 0; i < D; i++) acc += w[(size_t)o * D + i] * h[(size_t)b * D + i];
                z[(size_t)b * D + o] = (em_real)acc;
                sq += acc * acc;
            }
        if (l == 0) first = sq;
        last = sq;
        for (size_t i = 0; i < (size_t)B * D; i++) h[i] = z[i] > 0 ? z[i] : 0;
    }
    free(h), free(z), free(w);
    return first > 0 ? last / first : NAN;
}

void grade_ex10_kaiming_init(grade *g) {
    grade_probe(g, "ex_kaiming_init", init_writes());
    if (!grade_probe_done(g)) return;
    bool hinted = false;
    for (size_t i = 0; i < sizeof init_cases / sizeof init_cases[0]; i++)
        init_replay(g, &init_cases[i], &hinted);
    double ratio = deep_variance_ratio(30, 200, 64);
    grade_situation(g, "a batch of 64 through 30 ReLU layers of width 200, initialized by "
                    "ex_kaiming_init");
    grade_expect(g, "activations", ratio > 0.25 && ratio < 4,
                 "the pre-activations' variance at layer 30 is %.3g times layer 1's (a right "
                 "initialization keeps it near 1: between 0.25 and 4 here)", ratio);
    grade_done(g);
}

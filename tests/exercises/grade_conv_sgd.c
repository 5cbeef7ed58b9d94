/* tests/exercises/grade_conv_sgd.c — exercises 3 and 4: conv2d backward, SGD with momentum.
 *
 * Exercise 3: the function called directly against ember's reference backward
 * (em_conv2d_direct_backward: plain loops on the definition, which exercise mode does not
 * replace) on shapes that hit every edge of the indexing — strides 1 to 3, padding 0 to 3,
 * 1x1 kernels, non-square kernels, a kernel larger than the image; then em_conv2d, whose
 * backward now runs it, under em_gradcheck and against PyTorch (tests/fixtures/ops.emfx).
 *
 * Exercise 4: the function called directly on two steps (the first step is special),
 * then ember's em_sgd — which now runs it — against five steps of torch.optim.SGD
 * (tests/fixtures/optim.emfx) with momentum, with weight decay, with dampening. */
#include "grade.h"

#include <stdlib.h>
#include <string.h>

#include "exercises/exercises.h"

/* ---- exercise 3 ---------------------------------------------------------------------------- */

typedef struct conv_case {
    int N, C, H, W, O, kh, kw, s, pad;
} conv_case;

static const conv_case ref_cases[] = {
    {3, 2, 7, 5, 4, 3, 3, 1, 1},
    {3, 2, 7, 5, 4, 3, 3, 2, 0},
    {2, 1, 5, 5, 3, 3, 3, 1, 2},
    {2, 4, 5, 6, 3, 1, 1, 2, 0},   /* 1x1 kernel, stride 2 */
    {2, 2, 5, 7, 3, 2, 3, 1, 1},   /* non-square kernel    */
    {2, 2, 7, 5, 3, 3, 3, 3, 1},   /* stride 3             */
    {1, 1, 2, 2, 1, 3, 3, 1, 1},   /* kernel larger than the image */
    {1, 1, 3, 3, 2, 2, 2, 1, 3},   /* padding larger than the kernel: rows of padding only */
};

static const conv_case gradcheck_cases[] = {
    {2, 2, 5, 4, 3, 3, 3, 1, 1},
    {2, 1, 6, 5, 2, 3, 3, 2, 2},
    {1, 3, 4, 4, 2, 1, 1, 1, 1},
};

static const char *const conv_grad_names[3] = {"dx", "dw", "db"};

static void conv_situation(grade *g, const conv_case *k, const char *what) {
    grade_situation(g, "%s, x (%d, %d, %d, %d), w (%d, %d, %d, %d), stride %d, pad %d", what,
                    k->N, k->C, k->H, k->W, k->O, k->C, k->kh, k->kw, k->s, k->pad);
}

static void conv_against_reference(grade *g, const conv_case *k, em_rng *rng) {
    int xs[4] = {k->N, k->C, k->H, k->W}, ws[4] = {k->O, k->C, k->kh, k->kw};
    int Ho = (k->H + 2 * k->pad - k->kh) / k->s + 1, Wo = (k->W + 2 * k->pad - k->kw) / k->s + 1;
    int ys[4] = {k->N, k->O, Ho, Wo};
    em_tensor *x = grade_randn(rng, 4, xs, 0, 1, 0), *w = grade_randn(rng, 4, ws, 0, 1, 0);
    em_tensor *dy = grade_randn(rng, 4, ys, 0, 1, 0);
    size_t nx = x->size, nw = w->size, no = (size_t)k->O;
    em_real *got = calloc(nx + nw + no, sizeof *got), *ref = calloc(nx + nw + no, sizeof *ref);
    double *want = malloc((nx + nw + no) * sizeof *want);
    if (!got || !ref || !want) grade_fatal("no memory");
    em_conv2d_direct_backward(ref, ref + nx, ref + nx + nw, dy->data, x->data, w->data, k->N, k->C,
                           k->H, k->W, k->O, k->kh, k->kw, k->s, k->pad);
    for (size_t i = 0; i < nx + nw + no; i++) want[i] = ref[i];
    ex_conv2d_backward(got, got + nx, got + nx + nw, dy->data, x->data, w->data, k->N, k->C,
                       k->H, k->W, k->O, k->kh, k->kw, k->s, k->pad);
    conv_situation(g, k, "against ember's reference backward");
    grade_compare(g, "dx", got, want, nx, 4, xs, GRADE_REF_TOL);
    grade_compare(g, "dw", got + nx, want + nx, nw, 4, ws, GRADE_REF_TOL);
    grade_compare(g, "db", got + nx + nw, want + nx + nw, no, 1, &k->O, GRADE_REF_TOL);
    grade_done(g);
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(dy);
    free(got), free(ref), free(want);
}

static em_tensor *conv_op(em_tape *tape, em_tensor *const *in, void *ctx) {
    const conv_case *k = ctx;
    return em_conv2d(tape, in[0], in[1], in[2], k->s, k->pad);
}

static void conv_gradcheck(grade *g, const conv_case *k, em_rng *rng) {
    int xs[4] = {k->N, k->C, k->H, k->W}, ws[4] = {k->O, k->C, k->kh, k->kw};
    em_tensor *in[3] = {grade_randn(rng, 4, xs, 0, 1, EM_REQUIRES_GRAD),
                        grade_randn(rng, 4, ws, 0, 1, EM_REQUIRES_GRAD),
                        grade_randn(rng, 1, &k->O, 0, 1, EM_REQUIRES_GRAD)};
    conv_situation(g, k, "gradcheck of ember's em_conv2d");
    grade_gradcheck(g, conv_op, (void *)k, 3, in, conv_grad_names);
    grade_done(g);
    for (int i = 0; i < 3; i++) em_tensor_free(in[i]);
}

static bool fx_has(const fixture *fx, const char *name) {
    for (int i = 0; i < fx->n; i++)
        if (!strcmp(fx->t[i].name, name)) return true;
    return false;
}

/* em_conv2d (ember's forward, the student's backward) on PyTorch's numbers */
static void conv_golden(grade *g, const fixture *fx, const char *c, int s, int pad) {
    char key[64];
#define K(name) (snprintf(key, sizeof key, "%s.%s", c, name), key)
    em_tensor *x = fixture_tensor(fixture_get(fx, K("x")), EM_REQUIRES_GRAD);
    em_tensor *w = fixture_tensor(fixture_get(fx, K("w")), EM_REQUIRES_GRAD);
    em_tensor *b = fx_has(fx, K("b")) ? fixture_tensor(fixture_get(fx, K("b")), EM_REQUIRES_GRAD)
                                      : NULL;
    em_real *dy = grade_fx_values(fixture_get(fx, K("dy")));
    em_tape *tape = em_tape_new(0);
    em_tensor *y = em_conv2d(tape, x, w, b, s, pad);
    if (!y || em_backward_from(tape, y, dy) != EM_OK) grade_fatal("em_conv2d failed");
    char sx[48], sw[48];
    grade_situation(g, "PyTorch's gradients, em_conv2d x %s, w %s, stride %d, pad %d%s",
                    em_shape_str(x, sx, sizeof sx), em_shape_str(w, sw, sizeof sw), s, pad,
                    b ? "" : ", no bias");
    grade_compare(g, "dx", x->grad, fixture_get(fx, K("dx"))->data, x->size, 4, x->shape,
                  GRADE_GOLDEN_TOL);
    grade_compare(g, "dw", w->grad, fixture_get(fx, K("dw"))->data, w->size, 4, w->shape,
                  GRADE_GOLDEN_TOL);
    if (b)
        grade_compare(g, "db", b->grad, fixture_get(fx, K("db"))->data, b->size, 1, b->shape,
                      GRADE_GOLDEN_TOL);
    grade_done(g);
#undef K
    em_tape_free(tape);
    free(dy);
    em_tensor_free(x), em_tensor_free(w), em_tensor_free(b);
}

/* did the function write anything? (x (1, 1, 2, 2), w (1, 1, 1, 1)) */
static bool conv_writes(void) {
    em_real x[4] = {1, 2, 3, 4}, w[1] = {0.5}, dy[4] = {1, -1, 2, 0.5};
    em_real dx[4] = {0}, dw[1] = {0}, db[1] = {0};
    ex_conv2d_backward(dx, dw, db, dy, x, w, 1, 1, 2, 2, 1, 1, 1, 1, 0);
    return grade_nonzero(dx, 4) || grade_nonzero(dw, 1) || grade_nonzero(db, 1);
}

void grade_ex3_conv2d_backward(grade *g) {
    grade_probe(g, "ex_conv2d_backward", conv_writes());
    if (!grade_probe_done(g)) return;
    em_rng rng;
    em_rng_seed(&rng, 303);
    for (size_t i = 0; i < sizeof ref_cases / sizeof ref_cases[0]; i++)
        conv_against_reference(g, &ref_cases[i], &rng);
    for (size_t i = 0; i < sizeof gradcheck_cases / sizeof gradcheck_cases[0]; i++)
        conv_gradcheck(g, &gradcheck_cases[i], &rng);
    fixture *fx = fixture_load("ops.emfx");
    conv_golden(g, fx, "conv_s1p1", 1, 1);
    conv_golden(g, fx, "conv_s2p0", 2, 0);
    conv_golden(g, fx, "conv_s2p2", 2, 2);
    fixture_free(fx);
}

/* ---- exercise 4 ---------------------------------------------------------------------------- */

#define SGD_N 9

/* p, v after one step of exercises.h's update, in double; wd_on / first_damped switch
 * on the usual mistakes (weight decay forgotten, dampening on the first step) */
static void ref_sgd(double *p, double *v, const em_real *g, double lr, double mu, double damp,
                    double wd, bool first, bool wd_on, bool first_damped) {
    for (int i = 0; i < SGD_N; i++) {
        double gi = g[i] + (wd_on ? wd * p[i] : 0);
        v[i] = first ? (first_damped ? (1 - damp) * gi : gi) : mu * v[i] + (1 - damp) * gi;
        p[i] -= lr * v[i];
    }
}

static void sgd_direct(grade *g, em_rng *rng) {
    const double lr = 0.1, mu = 0.9, damp = 0.3, wd = 0.05;
    em_real p[SGD_N], v[SGD_N], gr[SGD_N];
    double wp[SGD_N], wv[SGD_N];
    int n = SGD_N;
    for (int i = 0; i < SGD_N; i++) {
        p[i] = (em_real)em_rng_normal(rng, 0, 1);
        v[i] = (em_real)em_rng_normal(rng, 0, 1);  /* junk: the first step must not read it */
        wp[i] = p[i], wv[i] = v[i];
    }
    for (int step = 0; step < 2; step++) {
        for (int i = 0; i < SGD_N; i++) gr[i] = (em_real)em_rng_normal(rng, 0, 1);
        bool first = step == 0;
        double p0[SGD_N], v0[SGD_N];
        memcpy(p0, wp, sizeof p0);
        memcpy(v0, wv, sizeof v0);
        ref_sgd(wp, wv, gr, lr, mu, damp, wd, first, true, false);
        ex_sgd_momentum_step(p, v, gr, lr, mu, damp, wd, first, SGD_N);
        grade_situation(g, "%s step, lr %g, momentum %g, dampening %g, weight decay %g",
                        first ? "first" : "second", lr, mu, damp, wd);
        bool ok_v = grade_compare(g, "v", v, wv, SGD_N, 1, &n, GRADE_REF_TOL);
        bool ok_p = grade_compare(g, "p", p, wp, SGD_N, 1, &n, GRADE_REF_TOL);
        grade_done(g);
        if (ok_v && ok_p) continue;
        /* which of the usual mistakes, replayed from the same starting point, gives v? */
        static const struct { bool old_v, wd_on, first_damped; const char *hint; } mistakes[] = {
            {false, true, true, "your first step damps the gradient; on the first step "
                                "v = g' exactly (PyTorch starts the buffer as the gradient)"},
            {false, false, false, "your update leaves out weight decay: g' = g + "
                                  "weight_decay * p, before the velocity sees it"},
            {true, true, false, "your first step uses the old velocity; when first_step is "
                                "true, v = g'"},
        };
        for (size_t m = 0; m < sizeof mistakes / sizeof mistakes[0]; m++) {
            if (!first && (mistakes[m].old_v || mistakes[m].first_damped)) continue;
            double ap[SGD_N], av[SGD_N];
            memcpy(ap, p0, sizeof ap);
            memcpy(av, v0, sizeof av);
            ref_sgd(ap, av, gr, lr, mu, damp, wd, first && !mistakes[m].old_v,
                    mistakes[m].wd_on, mistakes[m].first_damped);
            if (grade_rel_err(v, av, SGD_N) <= GRADE_REF_TOL) {
                grade_hint(g, "%s", mistakes[m].hint);
                break;
            }
        }
        break;  /* the second step would start from wrong values */
    }
}

/* em_sgd (which now runs exercise 4 for momentum without Nesterov) against PyTorch */
static void sgd_golden(grade *g, const fixture *fx, const char *c) {
    char key[96];
#define K(s) (snprintf(key, sizeof key, "%s.%s", c, s), key)
    const fx_tensor *hp = fixture_get(fx, K("hp")), *lr = fixture_get(fx, K("lr"));
    const fx_tensor *gf = fixture_get(fx, K("g")), *pf = fixture_get(fx, K("p"));
    const fx_tensor *p0 = fixture_get(fx, K("p0"));
    int n = (int)p0->size;
    em_real *data = grade_fx_values(p0), *grad = calloc(p0->size, sizeof *grad);
    if (!grad) grade_fatal("no memory");
    em_sgd_opts o = {.momentum = hp->data[0], .dampening = hp->data[1],
                     .weight_decay = hp->data[2], .nesterov = hp->data[3] != 0};
    em_error err;
    em_sgd *opt = em_sgd_new((em_params){data, grad, p0->size}, &o, &err);
    if (!opt) grade_fatal("%s", err.msg);
    bool ok = true;
    for (int k = 0; k < 5 && ok; k++) {
        for (int i = 0; i < n; i++) grad[i] = (em_real)gf->data[(size_t)k * n + i];
        em_sgd_step(opt, lr->data[k]);
        grade_situation(g, "PyTorch's torch.optim.SGD (momentum %g, dampening %g, weight decay "
                        "%g) through em_sgd, step %d", o.momentum, o.dampening, o.weight_decay,
                        k + 1);
        ok = grade_compare(g, "p", data, pf->data + (size_t)k * n, (size_t)n, 1, &n,
                           GRADE_GOLDEN_TOL);
        grade_done(g);
    }
    if (ok) {
        grade_situation(g, "PyTorch's momentum_buffer after 5 steps (momentum %g, dampening %g, "
                        "weight decay %g)", o.momentum, o.dampening, o.weight_decay);
        grade_compare(g, "v", opt->velocity, fixture_get(fx, K("momentum_buffer"))->data,
                      (size_t)n, 1, &n, GRADE_GOLDEN_TOL);
        grade_done(g);
    }
#undef K
    em_sgd_free(opt);
    free(data);
    free(grad);
}

/* did the function change p or v? */
static bool sgd_writes(void) {
    em_real p[2] = {1, -1}, v[2] = {0.5, 0.5}, gr[2] = {0.25, 2};
    ex_sgd_momentum_step(p, v, gr, 0.1, 0.9, 0, 0, false, 2);
    return p[0] != 1 || p[1] != -1 || v[0] != 0.5 || v[1] != 0.5;
}

void grade_ex4_sgd_momentum(grade *g) {
    grade_probe(g, "ex_sgd_momentum_step", sgd_writes());
    if (!grade_probe_done(g)) return;
    em_rng rng;
    em_rng_seed(&rng, 404);
    sgd_direct(g, &rng);
    fixture *fx = fixture_load("optim.emfx");
    sgd_golden(g, fx, "sgd_momentum");
    sgd_golden(g, fx, "sgd_wd");
    sgd_golden(g, fx, "sgd_dampening");
    fixture_free(fx);
}

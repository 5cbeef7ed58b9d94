/* tests/exercises/grade_graph.c — exercise 5: BatchNorm backward through the graph of its
 * six primitive ops (exercises.h).
 *
 * First each primitive's backward alone, called directly: the gradient arrays arrive
 * holding other numbers (what the tape's accumulation leaves there), and each must end as
 * those numbers plus the op's contribution, computed here in double. A function that
 * stores instead of adding, or that leaves out the gradient of one input, is named.
 * Then the graph: BatchNorm recorded on ember's tape one primitive per node (forwards
 * computed here, backwards the student's), checked by finite differences and against the
 * closed form of exercise 2 (the grader's own) on PyTorch's inputs. */
#include "grade.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exercises/exercises.h"

enum prim { P_MEAN, P_CENTER, P_SQUARE, P_RSQRT, P_SCALE, P_SHIFT, N_PRIM };

static const char *const prim_fn[N_PRIM] = {
    "ex_channel_mean_backward", "ex_center_backward", "ex_square_backward",
    "ex_rsqrt_backward", "ex_scale_backward", "ex_shift_backward"};
static const char *const prim_name[N_PRIM] = {"channel_mean", "center", "square", "rsqrt",
                                              "scale", "shift"};

/* ---- the primitives alone ------------------------------------------------------------------ */

/* one call of primitive p on (N, C, S): the inputs, the upstream gradient, and the two
 * gradient arrays it adds into (g0: of the first input, (N, C, S) or (C) for rsqrt; g1: of
 * the per-channel vector, (C), unused by mean, square and rsqrt) */
typedef struct prim_case {
    int N, C, S;
    size_t n;
    em_real *x, *v, *up, *g0, *g1;  /* x (n), v (C) [mean: the output; rsqrt: var]      */
    em_real *r;                     /* rsqrt's output (C)                                */
} prim_case;

static void call_student(enum prim p, prim_case *k) {
    int N = k->N, C = k->C, S = k->S;
    switch (p) {
    case P_MEAN: ex_channel_mean_backward(k->g0, k->up, N, C, S); break;
    case P_CENTER: ex_center_backward(k->g0, k->g1, k->up, N, C, S); break;
    case P_SQUARE: ex_square_backward(k->g0, k->up, k->x, k->n); break;
    case P_RSQRT: ex_rsqrt_backward(k->g0, k->up, k->v, k->r, 1e-5, C); break;
    case P_SCALE: ex_scale_backward(k->g0, k->g1, k->up, k->x, k->v, N, C, S); break;
    case P_SHIFT: ex_shift_backward(k->g0, k->g1, k->up, N, C, S); break;
    default: break;
    }
}

/* the contribution of primitive p, in double: c0 (like g0), c1 (C) */
static void contribution(enum prim p, const prim_case *k, double *c0, double *c1) {
    int N = k->N, C = k->C, S = k->S;
    double M = (double)N * S;
    for (int c = 0; c < C; c++) c1[c] = 0;
    if (p == P_RSQRT) {
        for (int c = 0; c < C; c++) c0[c] = -0.5 * pow(k->v[c] + 1e-5, -1.5) * k->up[c];
        return;
    }
    for (size_t i = 0; i < k->n; i++) {
        int c = (int)(i / (size_t)S % (size_t)C);
        switch (p) {
        case P_MEAN: c0[i] = k->up[c] / M; break;
        case P_CENTER: c0[i] = k->up[i], c1[c] -= k->up[i]; break;
        case P_SQUARE: c0[i] = 2.0 * k->x[i] * k->up[i]; break;
        case P_SCALE:
            c0[i] = (double)k->up[i] * k->v[c];
            c1[c] += (double)k->up[i] * k->x[i];
            break;
        case P_SHIFT: c0[i] = k->up[i], c1[c] += k->up[i]; break;
        default: break;
        }
    }
}

static bool has_g1(enum prim p) { return p == P_CENTER || p == P_SCALE || p == P_SHIFT; }
static const char *g0_name(enum prim p) { return p == P_RSQRT ? "dvar" : "dx"; }
static const char *g1_name(enum prim p) {
    return p == P_CENTER ? "dmu" : p == P_SCALE ? "ds" : "db";
}

static prim_case make_case(enum prim p, int N, int C, int S, em_rng *rng, double prefill) {
    prim_case k = {N, C, S, (size_t)N * C * S, 0, 0, 0, 0, 0, 0};
    k.x = grade_alloc(k.n, sizeof *k.x);
    k.v = grade_alloc((size_t)C, sizeof *k.v);
    k.r = grade_alloc((size_t)C, sizeof *k.r);
    size_t n_up = p == P_MEAN || p == P_RSQRT ? (size_t)C : k.n;
    size_t n_g0 = p == P_RSQRT ? (size_t)C : k.n;
    k.up = grade_alloc(n_up, sizeof *k.up);
    k.g0 = grade_alloc(n_g0, sizeof *k.g0);
    k.g1 = grade_alloc((size_t)C, sizeof *k.g1);
    for (size_t i = 0; i < k.n; i++) k.x[i] = (em_real)em_rng_normal(rng, 0.5, 1.5);
    for (int c = 0; c < C; c++) {
        k.v[c] = (em_real)em_rng_uniform_range(rng, 0.3, 2.5);  /* a scale, a variance */
        k.r[c] = (em_real)(1 / sqrt(k.v[c] + 1e-5));
    }
    for (size_t i = 0; i < n_up; i++) k.up[i] = (em_real)em_rng_normal(rng, 0, 1);
    for (size_t i = 0; i < n_g0; i++) k.g0[i] = (em_real)(prefill * em_rng_normal(rng, 0, 1));
    for (int c = 0; c < C; c++) k.g1[c] = (em_real)(prefill * em_rng_normal(rng, 0, 1));
    return k;
}

static void free_case(prim_case *k) {
    free(k->x), free(k->v), free(k->r), free(k->up), free(k->g0), free(k->g1);
}

/* did the student's function write into zeroed gradients? */
static bool prim_writes(enum prim p) {
    em_rng rng;
    em_rng_seed(&rng, 5);
    prim_case k = make_case(p, 2, 2, 3, &rng, 0);
    call_student(p, &k);
    bool wrote = grade_nonzero(k.g0, p == P_RSQRT ? 2 : k.n) || grade_nonzero(k.g1, 2);
    free_case(&k);
    return wrote;
}

static void prim_check(grade *g, enum prim p, int N, int C, int S, em_rng *rng, bool *hinted) {
    prim_case k = make_case(p, N, C, S, rng, 1);
    size_t n0 = p == P_RSQRT ? (size_t)C : k.n;
    double *want0 = grade_alloc(n0, sizeof *want0), *want1 = grade_alloc((size_t)C, sizeof *want1);
    double *c0 = grade_alloc(n0, sizeof *c0), *c1 = grade_alloc((size_t)C, sizeof *c1);
    contribution(p, &k, c0, c1);
    for (size_t i = 0; i < n0; i++) want0[i] = k.g0[i] + c0[i];
    for (int c = 0; c < C; c++) want1[c] = k.g1[c] + c1[c];
    em_real *before0 = grade_alloc(n0, sizeof *before0);
    memcpy(before0, k.g0, n0 * sizeof *before0);
    call_student(p, &k);

    char q0[48], q1[48], sh[48];
    snprintf(q0, sizeof q0, "%s: %s", prim_name[p], g0_name(p));
    snprintf(q1, sizeof q1, "%s: %s", prim_name[p], g1_name(p));
    grade_situation(g, "%s, x %s, gradients arriving non-zero", prim_fn[p],
                    grade_shape_str(sh, sizeof sh, 3, (int[]){N, C, S}));
    int shp0[3] = {N, C, S};
    bool ok0 = grade_compare(g, q0, k.g0, want0, n0, p == P_RSQRT ? 1 : 3,
                             p == P_RSQRT ? &k.C : shp0, GRADE_REF_TOL);
    bool ok1 = true;
    if (has_g1(p)) ok1 = grade_compare(g, q1, k.g1, want1, (size_t)C, 1, &k.C, GRADE_REF_TOL);
    grade_done(g);

    /* the usual mistakes: stored instead of added; an input's gradient left alone */
    if (!ok0 && !*hinted && grade_rel_err(k.g0, c0, n0) <= GRADE_REF_TOL) {
        grade_hint(g, "%s stores into %s (=) instead of adding (+=): its array arrives "
                   "holding the gradient other ops sent (xc feeds both square and scale)",
                   prim_fn[p], g0_name(p));
        *hinted = true;
    }
    if (!ok1 && !*hinted) {
        double *pre = grade_alloc((size_t)C, sizeof *pre);  /* what arrived in g1 */
        for (int c = 0; c < C; c++) pre[c] = want1[c] - c1[c];
        if (grade_rel_err(k.g1, pre, (size_t)C) <= GRADE_REF_TOL) {
            grade_hint(g, "%s leaves %s as it was: %s reaches every output of its channel, "
                       "and each of those sends it gradient", prim_fn[p], g1_name(p),
                       p == P_CENTER ? "mu[c]" : p == P_SCALE ? "s[c]" : "b[c]");
            *hinted = true;
        }
        free(pre);
    }
    if (!ok0 && !*hinted && p == P_MEAN) {
        double *noscale = grade_alloc(n0, sizeof *noscale);
        for (size_t i = 0; i < n0; i++) noscale[i] = before0[i] + c0[i] * N * S;
        if (grade_rel_err(k.g0, noscale, n0) <= GRADE_REF_TOL) {
            grade_hint(g, "ex_channel_mean_backward sends dmu[c] itself to every x: the mean "
                       "weighs each of its M inputs by 1/M");
            *hinted = true;
        }
        free(noscale);
    }
    free(want0), free(want1), free(c0), free(c1), free(before0);
    free_case(&k);
}

/* ---- the graph on the tape ----------------------------------------------------------------- */

/* gradient buffer i of node, or zeroed scratch when that input wants none */
static em_real *grad_or_scratch(em_tape *tape, em_node *node, int i, size_t n) {
    em_real *gi = em_node_grad(tape, node, i);
    if (gi || !em_tape_ok(tape)) return gi;
    gi = em_tape_alloc(tape, (n ? n : 1) * sizeof *gi);
    if (gi) memset(gi, 0, (n ? n : 1) * sizeof *gi);
    return gi;
}

static void prim_node_backward(em_tape *tape, em_node *node) {
    int N = node->args[1], C = node->args[2], S = node->args[3];
    size_t n = (size_t)N * C * S;
    em_real *up = node->output->grad;
    switch ((enum prim)node->args[0]) {
    case P_MEAN: {
        em_real *dx = grad_or_scratch(tape, node, 0, n);
        if (dx) ex_channel_mean_backward(dx, up, N, C, S);
        break;
    }
    case P_CENTER: {
        em_real *dx = grad_or_scratch(tape, node, 0, n), *dm = grad_or_scratch(tape, node, 1, C);
        if (dx && dm) ex_center_backward(dx, dm, up, N, C, S);
        break;
    }
    case P_SQUARE: {
        em_real *dx = grad_or_scratch(tape, node, 0, n);
        if (dx) ex_square_backward(dx, up, node->inputs[0]->data, n);
        break;
    }
    case P_RSQRT: {
        em_real *dv = grad_or_scratch(tape, node, 0, C);
        if (dv) ex_rsqrt_backward(dv, up, node->inputs[0]->data, node->output->data, 1e-5, C);
        break;
    }
    case P_SCALE: {
        em_real *dx = grad_or_scratch(tape, node, 0, n), *ds = grad_or_scratch(tape, node, 1, C);
        if (dx && ds)
            ex_scale_backward(dx, ds, up, node->inputs[0]->data, node->inputs[1]->data, N, C, S);
        break;
    }
    case P_SHIFT: {
        em_real *dx = grad_or_scratch(tape, node, 0, n), *db = grad_or_scratch(tape, node, 1, C);
        if (dx && db) ex_shift_backward(dx, db, up, N, C, S);
        break;
    }
    default: break;
    }
}

/* out = p(a, b) computed here; a is (N, C, S)-shaped like x (or (C) for rsqrt), b (C) */
static em_tensor *prim_op(em_tape *tape, enum prim p, em_tensor *a, em_tensor *b,
                          const em_tensor *x) {
    if (!a || (p != P_MEAN && p != P_SQUARE && p != P_RSQRT && !b)) return NULL;
    int N = x->shape[0], C = x->shape[1], S = (int)(x->size / ((size_t)N * C));
    bool vec = p == P_MEAN || p == P_RSQRT;
    em_tensor *y = vec ? em_tape_tensor(tape, 1, &C) : em_tape_tensor_like(tape, a);
    if (!y) return NULL;
    if (p == P_MEAN)
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int n = 0; n < N; n++)
                for (int k = 0; k < S; k++) s += a->data[((size_t)n * C + c) * S + k];
            y->data[c] = (em_real)(s / ((double)N * S));
        }
    else if (p == P_RSQRT)
        for (int c = 0; c < C; c++) y->data[c] = (em_real)(1 / sqrt(a->data[c] + 1e-5));
    else
        for (size_t i = 0; i < a->size; i++) {
            int c = (int)(i / (size_t)S % (size_t)C);
            double v = a->data[i];
            y->data[i] = (em_real)(p == P_CENTER ? v - b->data[c] : p == P_SQUARE ? v * v
                                   : p == P_SCALE ? v * b->data[c] : v + b->data[c]);
        }
    em_node *node = em_tape_record(tape, EM_OP_CUSTOM, y, prim_node_backward, 2, a, b);
    if (node) {
        node->args[0] = p, node->args[1] = N, node->args[2] = C, node->args[3] = S;
    }
    return y;
}

/* BatchNorm in training as the graph of exercises.h; in: x, gamma, beta */
static em_tensor *bn_graph(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    em_tensor *x = in[0];
    em_tensor *mu = prim_op(tape, P_MEAN, x, NULL, x);
    em_tensor *xc = prim_op(tape, P_CENTER, x, mu, x);
    em_tensor *var = prim_op(tape, P_MEAN, prim_op(tape, P_SQUARE, xc, NULL, x), NULL, x);
    em_tensor *r = prim_op(tape, P_RSQRT, var, NULL, x);
    em_tensor *xhat = prim_op(tape, P_SCALE, xc, r, x);
    return prim_op(tape, P_SHIFT, prim_op(tape, P_SCALE, xhat, in[1], x), in[2], x);
}

static const char *const graph_names[3] = {"graph dx", "graph dgamma", "graph dbeta"};

static void graph_gradcheck(grade *g, int ndim, const int *shape, em_rng *rng) {
    int C = shape[1];
    em_tensor *in[3] = {grade_randn(rng, ndim, shape, 12, 5, EM_REQUIRES_GRAD),
                        grade_randn(rng, 1, &C, 1, 0.5, EM_REQUIRES_GRAD),
                        grade_randn(rng, 1, &C, 0, 0.5, EM_REQUIRES_GRAD)};
    char sh[48];
    grade_situation(g, "gradcheck of BatchNorm recorded as the graph, x %s",
                    em_shape_str(in[0], sh, sizeof sh));
    grade_gradcheck(g, bn_graph, NULL, 3, in, graph_names);
    grade_done(g);
    for (int i = 0; i < 3; i++) em_tensor_free(in[i]);
}

/* the closed form of exercise 2: dx, dgamma, dbeta in double */
static void closed_form(double *dx, double *dgamma, double *dbeta, const em_real *x,
                        const em_real *dy, const em_real *gamma, int N, int C, int S) {
    double M = (double)N * S;
    for (int c = 0; c < C; c++) {
        double s = 0, q = 0, sg = 0, sgx = 0;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < S; k++) s += x[((size_t)n * C + c) * S + k];
        double mu = s / M;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < S; k++) q += pow(x[((size_t)n * C + c) * S + k] - mu, 2);
        double r = 1 / sqrt(q / M + 1e-5);
        for (int n = 0; n < N; n++)
            for (int k = 0; k < S; k++) {
                size_t i = ((size_t)n * C + c) * S + k;
                sg += dy[i];
                sgx += dy[i] * (x[i] - mu) * r;
            }
        dbeta[c] = sg, dgamma[c] = sgx;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < S; k++) {
                size_t i = ((size_t)n * C + c) * S + k;
                dx[i] = gamma[c] * r * (dy[i] - sg / M - (x[i] - mu) * r * sgx / M);
            }
    }
}

/* the graph's gradients on PyTorch's first step against the closed form */
static void graph_vs_closed_form(grade *g, const char *file) {
    fixture *fx = fixture_load(file);
    em_tensor *x = fixture_tensor(fixture_get(fx, "x0"), EM_REQUIRES_GRAD);
    em_tensor *gm = fixture_tensor(fixture_get(fx, "gamma"), EM_REQUIRES_GRAD);
    em_tensor *bt = fixture_tensor(fixture_get(fx, "beta"), EM_REQUIRES_GRAD);
    em_real *dy = grade_fx_values(fixture_get(fx, "dy0"));
    int N = x->shape[0], C = x->shape[1], S = (int)(x->size / ((size_t)N * C));
    em_tape *tape = em_tape_new(0);
    em_tensor *in[3] = {x, gm, bt};
    em_tensor *y = bn_graph(tape, in, NULL);
    if (!y || em_backward_from(tape, y, dy) != EM_OK) grade_fatal("the BatchNorm graph failed");
    double *want = grade_alloc(x->size + 2 * (size_t)C, sizeof *want);
    closed_form(want, want + x->size, want + x->size + C, x->data, dy, gm->data, N, C, S);
    char sh[48];
    grade_situation(g, "the graph's gradients against the closed form, x %s (PyTorch's)",
                    em_shape_str(x, sh, sizeof sh));
    grade_compare(g, "graph dx", x->grad, want, x->size, x->ndim, x->shape, GRADE_REF_TOL);
    grade_compare(g, "graph dgamma", gm->grad, want + x->size, (size_t)C, 1, &C, GRADE_REF_TOL);
    grade_compare(g, "graph dbeta", bt->grad, want + x->size + C, (size_t)C, 1, &C,
                  GRADE_REF_TOL);
    grade_done(g);
    free(want), free(dy);
    em_tape_free(tape);
    em_tensor_free(x), em_tensor_free(gm), em_tensor_free(bt);
    fixture_free(fx);
}

void grade_ex5_batchnorm_graph(grade *g) {
    for (int p = 0; p < N_PRIM; p++) grade_probe(g, prim_fn[p], prim_writes((enum prim)p));
    if (!grade_probe_done(g)) return;
    em_rng rng;
    em_rng_seed(&rng, 505);
    bool hinted = false;
    for (int p = 0; p < N_PRIM; p++) {
        prim_check(g, (enum prim)p, 4, 3, 1, &rng, &hinted);
        prim_check(g, (enum prim)p, 2, 3, 5, &rng, &hinted);
    }
    graph_gradcheck(g, 2, (int[]){4, 3}, &rng);
    graph_gradcheck(g, 4, (int[]){2, 2, 3, 2}, &rng);
    graph_vs_closed_form(g, "batchnorm1d.emfx");
    graph_vs_closed_form(g, "batchnorm2d.emfx");
}

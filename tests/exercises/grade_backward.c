/* tests/exercises/grade_backward.c — exercise 11: the tape's backward loop (exercises.h).
 *
 * Each graph is recorded twice, on two tapes with their own copies of the leaves: the
 * student's ex_backward walks one, ember's em_backward_from the other, and every leaf's
 * gradient must agree. The graphs: a small network (linear, ReLU, linear, cross-entropy);
 * a diamond (one tensor read by two ops that meet again) with a vector output and a random
 * upstream gradient; a branch recorded after y that does not lead to it; a chain of probe
 * ops that log the order their backwards ran in; and a backward that fails, which must stop
 * the walk and make ex_backward return -1. */
#include "grade.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exercises/exercises.h"
#include "exercises/support.h"

#define MAX_LEAVES 6

typedef struct graph {
    const char *what;
    int n_leaves;
    int shapes[MAX_LEAVES][3];  /* ndim, then up to two dimensions */
    const char *names[MAX_LEAVES];
    /* build y from the leaves on tape; ctx: the probe log */
    em_tensor *(*build)(em_tape *tape, em_tensor **leaves, void *ctx);
} graph;

/* ---- probe ops: y = x, logging the order of the backwards; one of them may fail ---------- */

typedef struct probe_log {
    int order[16], n;
    int fail_at;  /* the probe whose backward fails the tape, -1: none */
} probe_log;

static void probe_backward(em_tape *tape, em_node *node) {
    probe_log *log = node->saved;
    int id = node->args[0];
    if (log->n < 16) log->order[log->n++] = id;
    em_real *dx = em_node_grad(tape, node, 0);
    if (id == log->fail_at) {  /* after its input's gradient exists, as a real failure may */
        em_tape_fail(tape, EM_ERR_NOMEM, "probe %d: a backward that runs out of memory", id);
        return;
    }
    if (dx)
        for (size_t i = 0; i < node->output->size; i++) dx[i] += node->output->grad[i];
}

static em_tensor *probe(em_tape *tape, em_tensor *x, int id, probe_log *log) {
    if (!x) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    memcpy(y->data, x->data, x->size * sizeof *y->data);
    em_node *node = em_tape_record(tape, EM_OP_CUSTOM, y, probe_backward, 1, x);
    if (node) node->saved = log, node->args[0] = id;
    return y;
}

/* ---- the graphs ---------------------------------------------------------------------------- */

static const int mlp_labels[4] = {2, 0, 1, 2};

/* loss = cross_entropy(linear(relu(linear(x, w1, b1)), w2, b2)) */
static em_tensor *build_mlp(em_tape *tape, em_tensor **l, void *ctx) {
    (void)ctx;
    em_tensor *h = em_relu(tape, em_linear(tape, l[0], l[1], l[2]));
    return em_cross_entropy(tape, em_linear(tape, h, l[3], l[4]), mlp_labels);
}

/* y = a * w + exp(a), a = tanh(x): a is read twice */
static em_tensor *build_diamond(em_tape *tape, em_tensor **l, void *ctx) {
    (void)ctx;
    em_tensor *a = em_tanh(tape, l[0]);
    return em_add(tape, em_mul(tape, a, l[1]), em_exp(tape, a));
}

/* y = x * w, then z = exp(w) recorded after y: z does not lead to y */
static em_tensor *build_branch(em_tape *tape, em_tensor **l, void *ctx) {
    (void)ctx;
    em_tensor *y = em_mul(tape, l[0], l[1]);
    em_exp(tape, l[1]);
    return y;
}

/* y = p3(p2(p1(p0(x)) * w)): the probes log the order their backwards run in */
static em_tensor *build_chain(em_tape *tape, em_tensor **l, void *ctx) {
    em_tensor *h = probe(tape, probe(tape, l[0], 0, ctx), 1, ctx);
    return probe(tape, probe(tape, em_mul(tape, h, l[1]), 2, ctx), 3, ctx);
}

static const graph graphs[] = {
    {"a network: linear, relu, linear, cross_entropy", 5,
     {{2, 4, 5}, {2, 6, 5}, {1, 6, 0}, {2, 3, 6}, {1, 3, 0}}, {"x", "w1", "b1", "w2", "b2"},
     build_mlp},
    {"a diamond: a = tanh(x) read by a * w and by exp(a)", 2, {{2, 3, 4}, {2, 3, 4}},
     {"x", "w"}, build_diamond},
    {"a branch recorded after y that does not lead to it", 2, {{1, 5, 0}, {1, 5, 0}},
     {"x", "w"}, build_branch},
    {"a chain of four ops", 2, {{1, 4, 0}, {1, 4, 0}}, {"x", "w"}, build_chain},
};

/* the leaves of g, every one requiring a gradient (its buffer zeroed), from seed */
static void make_leaves(const graph *g, em_tensor **leaves, uint64_t seed) {
    em_rng rng;
    em_rng_seed(&rng, seed);
    for (int i = 0; i < g->n_leaves; i++) {
        leaves[i] = grade_randn(&rng, g->shapes[i][0], g->shapes[i] + 1, 0, 1, EM_REQUIRES_GRAD);
        em_tensor_zero_grad(leaves[i]);
    }
}

/* y's upstream gradient: 1 for a scalar, else random */
static em_real *upstream(const em_tensor *y, em_rng *rng) {
    em_real *dy = grade_alloc(y->size, sizeof *dy);
    for (size_t i = 0; i < y->size; i++)
        dy[i] = y->size == 1 ? 1 : (em_real)em_rng_normal(rng, 0, 1);
    return dy;
}

/* the student's walk and ember's on g; true when every leaf's gradient agrees */
static void walk(grade *g, const graph *gr, int fail_at, bool *hinted) {
    em_tensor *mine[MAX_LEAVES], *ref[MAX_LEAVES];
    make_leaves(gr, mine, 11), make_leaves(gr, ref, 11);
    probe_log log_mine = {.fail_at = fail_at}, log_ref = {.fail_at = -1};
    em_tape *tm = em_tape_new(0), *tr = em_tape_new(0);
    /* ember's own kernels on both (the reference tier of an exercise build runs exercise 8's
     * cross-entropy: this exercise must not depend on it) */
    em_tape_set_kernels(tm, em_kernels_fast());
    em_tape_set_kernels(tr, em_kernels_fast());
    em_tensor *ym = gr->build(tm, mine, &log_mine), *yr = gr->build(tr, ref, &log_ref);
    if (!ym || !yr) grade_fatal("building '%s' failed", gr->what);
    em_rng rng;
    em_rng_seed(&rng, 1111);
    em_real *dy = upstream(yr, &rng);
    if (em_backward_from(tr, yr, dy) != EM_OK) grade_fatal("em_backward on '%s' failed", gr->what);
    int status = ex_backward(ex_tape_of(tm), ex_tensor_of(ym), dy);

    grade_situation(g, "%s%s", gr->what, fail_at >= 0 ? ", whose second-to-last backward "
                    "fails" : "");
    if (fail_at >= 0) {
        grade_expect(g, "return value", status == -1, "ex_backward returned %d after a "
                     "backward failed; it must return -1", status);
        bool stopped = log_mine.n >= 1 && log_mine.order[log_mine.n - 1] == fail_at;
        grade_expect(g, "stop at a failure", stopped, "the walk went on after the backward "
                     "of probe %d failed (%d probe backwards ran)", fail_at, log_mine.n);
    } else {
        const char *why = em_tape_ok(tm) ? "" : tm->err.msg;
        grade_expect(g, "skips", !strstr(why, "received no gradient"), "%s", why);
        grade_expect(g, "return value", status == 0 && em_tape_ok(tm), "ex_backward returned "
                     "%d on a graph whose backwards all succeed%s%s", status, why[0] ? ": " : "",
                     why);
        for (int i = 0; i < gr->n_leaves; i++) {
            char name[48];
            snprintf(name, sizeof name, "d%s", gr->names[i]);
            double *want = grade_alloc(ref[i]->size, sizeof *want);
            for (size_t j = 0; j < ref[i]->size; j++) want[j] = ref[i]->grad[j];
            grade_compare(g, name, mine[i]->grad, want, ref[i]->size, ref[i]->ndim,
                          ref[i]->shape, GRADE_REF_TOL);
            free(want);
        }
        if (gr->build == build_chain) {
            bool reversed = log_mine.n == 4;
            for (int k = 0; k < 4 && reversed; k++) reversed = log_mine.order[k] == 3 - k;
            grade_expect(g, "order", reversed, "the probes' backwards ran in the order %d %d "
                         "%d %d (of %d); a node must run after every node that reads its output: "
                         "3 2 1 0", log_mine.n > 0 ? log_mine.order[0] : -1,
                         log_mine.n > 1 ? log_mine.order[1] : -1,
                         log_mine.n > 2 ? log_mine.order[2] : -1,
                         log_mine.n > 3 ? log_mine.order[3] : -1, log_mine.n);
            if (!reversed && !*hinted) {
                grade_hint(g, "a node's backward needs its output's gradient complete, and the "
                           "nodes that send it were recorded AFTER it: walk from the last node "
                           "to the first (a walk from the first runs a node too early, or finds "
                           "no gradient there yet and skips it)");
                *hinted = true;
            }
        }
        if (strstr(why, "received no gradient") && !*hinted) {
            grade_hint(g, "your walk runs nodes whose output received no gradient: they do "
                       "not lead to y (check ex_tensor_has_grad of the node's output first)");
            *hinted = true;
        }
    }
    grade_done(g);
    if (fail_at < 0 && em_tape_ok(tm) && gr->build == build_diamond && !*hinted) {
        /* seeded with ones instead of dy? */
        bool ones = true;
        for (size_t j = 0; j < ym->size && ones; j++) ones = ym->grad[j] == 1;
        if (ones) {
            grade_hint(g, "y's gradient holds ones: it must receive dy, the upstream gradient "
                       "given (1 only when y is a scalar loss)");
            *hinted = true;
        }
    }
    free(dy);
    em_tape_free(tm), em_tape_free(tr);
    for (int i = 0; i < gr->n_leaves; i++) em_tensor_free(mine[i]), em_tensor_free(ref[i]);
}

/* did the function produce a gradient at all (y's, or a leaf's)? */
static bool backward_writes(void) {
    em_tensor *l[MAX_LEAVES];
    make_leaves(&graphs[1], l, 3);
    em_tape *tape = em_tape_new(0);
    em_tensor *y = build_diamond(tape, l, NULL);
    em_rng rng;
    em_rng_seed(&rng, 4);
    em_real *dy = upstream(y, &rng);
    ex_backward(ex_tape_of(tape), ex_tensor_of(y), dy);
    bool wrote = grade_nonzero(l[0]->grad, l[0]->size) || grade_nonzero(l[1]->grad, l[1]->size) ||
                 (y->grad && grade_nonzero(y->grad, y->size));
    free(dy);
    em_tape_free(tape);
    em_tensor_free(l[0]), em_tensor_free(l[1]);
    return wrote;
}

void grade_ex11_backward_loop(grade *g) {
    grade_probe(g, "ex_backward", backward_writes());
    if (!grade_probe_done(g)) return;
    bool hinted = false;
    for (size_t i = 0; i < sizeof graphs / sizeof graphs[0]; i++) walk(g, &graphs[i], -1, &hinted);
    walk(g, &graphs[3], 1, &hinted);
}

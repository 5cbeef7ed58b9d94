/* tests/exercises/grade_together.c — the exercises that ember runs in its kernel table,
 * inside ember at once: the library's own BatchNorm golden test (forward, running
 * statistics and all three gradients through BatchNorm1d/BatchNorm2d, i.e. exercises 1 and
 * 2 together), gradient checks through a convolution followed by BatchNorm (exercises 1, 2
 * and 3), through a BatchNorm without gamma and beta, and through a small CNN with its loss
 * (conv, BatchNorm, ReLU, max-pool, linear, cross-entropy: exercises 1, 2, 3, 7 and 8)
 * and through a convolution followed by GroupNorm (exercises 3 and 13);
 * then a few steps of em_sgd with momentum and of em_adam on conv -> BatchNorm (exercises 4
 * and 9 with the gradients of the others), against the updates computed here. This passes
 * once those exercises do; it proves that ember really runs them. */
#include "grade.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bn_args.h"

/* the library's test_batchnorm_ref.c check_golden, on the module that runs the student's
 * forward and backward; stops at the first step that fails */
static void golden_module(grade *g, const char *file, bool two_d) {
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
    for (int k = 0; k < 3 && ok; k++) {
        char key[32], sh[48];
        snprintf(key, sizeof key, "x%d", k);
        em_tensor *x = fixture_tensor(fixture_get(fx, key), EM_REQUIRES_GRAD);
        snprintf(key, sizeof key, "dy%d", k);
        em_real *dy = grade_fx_values(fixture_get(fx, key));
        em_module_zero_grad(bn);
        em_tensor *y = em_module_forward(bn, tape, x);
        if (!y || em_backward_from(tape, y, dy) != EM_OK)
            grade_fatal("BatchNorm failed: %s", tape->err.msg);
        grade_situation(g, "ember's %s on PyTorch's x %s, training step %d",
                        two_d ? "BatchNorm2d" : "BatchNorm1d", em_shape_str(x, sh, sizeof sh),
                        k + 1);
        const char *names[6] = {"y", "dx", "dgamma", "dbeta", "running_mean", "running_var"};
        const char *keys[6] = {"y%d", "dx%d", "dgamma%d", "dbeta%d", "running_mean%d",
                               "running_var%d"};
        const em_tensor *shapes[6] = {y, x, w.tensor, b.tensor, rm.tensor, rv.tensor};
        const em_real *got[6] = {y->data, x->grad, w.tensor->grad, b.tensor->grad,
                                 rm.tensor->data, rv.tensor->data};
        for (int q = 0; q < 6; q++) {
            snprintf(key, sizeof key, keys[q], k);
            ok &= grade_compare(g, names[q], got[q], fixture_get(fx, key)->data,
                                shapes[q]->size, shapes[q]->ndim, shapes[q]->shape,
                                GRADE_GOLDEN_TOL);
        }
        grade_done(g);
        free(dy);
        em_tensor_free(x);
        em_tape_reset(tape);
    }
    em_tape_free(tape);
    em_module_free(bn);
    fixture_free(fx);
}

/* y = BatchNorm2d(conv2d(x, w, b; stride 1, pad 1), gamma, beta), training mode */
static em_tensor *conv_bn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    em_tensor *h = em_conv2d(tape, in[0], in[1], in[2], 1, 1);
    return em_batchnorm(tape, h, BN_ARGS(in[3], in[4], NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN));
}

/* y = GroupNorm(conv2d(x, w, b; pad 1), 2 groups, gamma, beta) */
static em_tensor *conv_gn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    em_gn_args a = {.gamma = in[3], .beta = in[4], .groups = 2, .eps = 1e-5};
    return em_groupnorm(tape, em_conv2d(tape, in[0], in[1], in[2], 1, 1), &a);
}

/* BatchNorm1d without gamma and beta */
static em_tensor *bn_plain(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    return em_batchnorm(tape, in[0], BN_ARGS(NULL, NULL, NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN));
}

static void gradchecks(grade *g, em_rng *rng) {
    em_tensor *in[5] = {grade_randn(rng, 4, (int[]){3, 2, 4, 4}, 1, 2, EM_REQUIRES_GRAD),
                        grade_randn(rng, 4, (int[]){3, 2, 3, 3}, 0, 0.5, EM_REQUIRES_GRAD),
                        grade_randn(rng, 1, (int[]){3}, 0, 1, EM_REQUIRES_GRAD),
                        grade_randn(rng, 1, (int[]){3}, 1, 0.5, EM_REQUIRES_GRAD),
                        grade_randn(rng, 1, (int[]){3}, 0, 0.5, EM_REQUIRES_GRAD)};
    static const char *const names[5] = {"dx", "dw", "db", "dgamma", "dbeta"};
    grade_situation(g, "gradcheck of em_conv2d (x (3, 2, 4, 4), w (3, 2, 3, 3), pad 1) "
                    "then em_batchnorm");
    grade_gradcheck(g, conv_bn, NULL, 5, in, names);
    grade_done(g);
    grade_situation(g, "gradcheck of em_conv2d (the same) then em_groupnorm with 2 groups of 2");
    em_tensor *in4[5] = {in[0], grade_randn(rng, 4, (int[]){4, 2, 3, 3}, 0, 0.5, EM_REQUIRES_GRAD),
                         grade_randn(rng, 1, (int[]){4}, 0, 1, EM_REQUIRES_GRAD),
                         grade_randn(rng, 1, (int[]){4}, 1, 0.5, EM_REQUIRES_GRAD),
                         grade_randn(rng, 1, (int[]){4}, 0, 0.5, EM_REQUIRES_GRAD)};
    grade_gradcheck(g, conv_gn, NULL, 5, in4, names);
    grade_done(g);
    for (int i = 1; i < 5; i++) em_tensor_free(in4[i]);
    for (int i = 0; i < 5; i++) em_tensor_free(in[i]);

    em_tensor *x = grade_randn(rng, 2, (int[]){6, 4}, 12, 5, EM_REQUIRES_GRAD);
    grade_situation(g, "gradcheck of em_batchnorm without gamma and beta, x (6, 4)");
    grade_gradcheck(g, bn_plain, NULL, 1, &x, names);
    grade_done(g);
    em_tensor_free(x);
}

/* Three em_sgd steps (momentum 0.9, weight decay 1e-3) on the parameters of conv -> BN,
 * loss sum(u * y) with a fixed u: after each step the parameters must equal the update
 * of exercises.h computed here from the gradients ember produced. */
static void sgd_on_stack(grade *g, em_rng *rng) {
    enum { NW = 3 * 2 * 3 * 3, NB = 3, NG = 3, NP = NW + NB + 2 * NG };
    em_real data[NP], grad[NP];
    double want_p[NP], want_v[NP];
    for (int i = 0; i < NP; i++) data[i] = (em_real)em_rng_normal(rng, i < NW ? 0 : 0.5, 0.5);
    em_tensor w, b, gm, bt;
    em_tensor_wrap(&w, data, grad, 4, (int[]){3, 2, 3, 3});
    em_tensor_wrap(&b, data + NW, grad + NW, 1, (int[]){3});
    em_tensor_wrap(&gm, data + NW + NB, grad + NW + NB, 1, (int[]){3});
    em_tensor_wrap(&bt, data + NW + NB + NG, grad + NW + NB + NG, 1, (int[]){3});
    em_tensor *x = grade_randn(rng, 4, (int[]){4, 2, 5, 5}, 0, 1, 0);
    em_real *u = malloc(4 * 3 * 5 * 5 * sizeof *u);
    if (!u) grade_fatal("no memory");
    for (int i = 0; i < 4 * 3 * 5 * 5; i++) u[i] = (em_real)em_rng_normal(rng, 0, 1);
    em_sgd_opts o = {.momentum = 0.9, .weight_decay = 1e-3};
    em_error err;
    em_sgd *opt = em_sgd_new((em_params){data, grad, NP}, &o, &err);
    if (!opt) grade_fatal("%s", err.msg);
    em_tape *tape = em_tape_new(0);
    int n = NP;
    for (int i = 0; i < NP; i++) want_p[i] = data[i];
    bool ok = true;
    for (int step = 0; step < 3 && ok; step++) {
        memset(grad, 0, sizeof grad);
        em_tensor *h = em_conv2d(tape, x, &w, &b, 1, 1);
        em_tensor *y = em_batchnorm(tape, h, BN_ARGS(&gm, &bt, NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN));
        if (!y || em_backward_from(tape, y, u) != EM_OK) grade_fatal("conv -> BN failed");
        for (int i = 0; i < NP; i++) {
            double gi = grad[i] + 1e-3 * want_p[i];
            want_v[i] = step == 0 ? gi : 0.9 * want_v[i] + gi;
            want_p[i] -= 0.05 * want_v[i];
        }
        em_sgd_step(opt, 0.05);
        grade_situation(g, "em_sgd (momentum 0.9, weight decay 1e-3) on conv -> BatchNorm, "
                        "step %d", step + 1);
        ok = grade_compare(g, "p", data, want_p, NP, 1, &n, GRADE_REF_TOL);
        grade_done(g);
        em_tape_reset(tape);
    }
    em_tape_free(tape);
    em_sgd_free(opt);
    em_tensor_free(x);
    free(u);
}

/* a small CNN and its loss: conv (pad 1), BatchNorm, ReLU, max-pool 2x2, linear,
 * cross-entropy; in: x, w, b, gamma, beta, wl, bl */
static const int cnn_labels[4] = {1, 4, 0, 2};

static em_tensor *small_cnn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    em_tensor *h = em_conv2d(tape, in[0], in[1], in[2], 1, 1);
    h = em_batchnorm(tape, h, BN_ARGS(in[3], in[4], NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN));
    h = em_maxpool2d(tape, em_relu(tape, h), 2, 2);
    h = em_linear(tape, em_flatten(tape, h), in[5], in[6]);
    return em_cross_entropy(tape, h, cnn_labels);
}

static void cnn_gradcheck(grade *g, em_rng *rng) {
    em_tensor *in[7] = {grade_randn(rng, 4, (int[]){4, 2, 6, 6}, 0, 1, EM_REQUIRES_GRAD),
                        grade_randn(rng, 4, (int[]){3, 2, 3, 3}, 0, 0.5, EM_REQUIRES_GRAD),
                        grade_randn(rng, 1, (int[]){3}, 0, 1, EM_REQUIRES_GRAD),
                        grade_randn(rng, 1, (int[]){3}, 1, 0.5, EM_REQUIRES_GRAD),
                        grade_randn(rng, 1, (int[]){3}, 0, 0.5, EM_REQUIRES_GRAD),
                        grade_randn(rng, 2, (int[]){5, 27}, 0, 0.5, EM_REQUIRES_GRAD),
                        grade_randn(rng, 1, (int[]){5}, 0, 0.5, EM_REQUIRES_GRAD)};
    static const char *const names[7] = {"dx", "dw", "db", "dgamma", "dbeta", "dwl", "dbl"};
    grade_situation(g, "gradcheck of a small CNN: em_conv2d, em_batchnorm, em_relu, "
                    "em_maxpool2d, em_linear, em_cross_entropy (x (4, 2, 6, 6))");
    grade_gradcheck(g, small_cnn, NULL, 7, in, names);
    grade_done(g);
    for (int i = 0; i < 7; i++) em_tensor_free(in[i]);
}

/* Three em_adam steps (Adam with weight decay 1e-2) on the parameters of conv -> BN, loss
 * sum(u * y): after each step the parameters must equal the update of exercises.h computed
 * here from the gradients ember produced. */
static void adam_on_stack(grade *g, em_rng *rng) {
    enum { NW = 3 * 2 * 3 * 3, NB = 3, NG = 3, NP = NW + NB + 2 * NG };
    em_real data[NP], grad[NP];
    double want_p[NP], m[NP] = {0}, v[NP] = {0};
    for (int i = 0; i < NP; i++) data[i] = (em_real)em_rng_normal(rng, i < NW ? 0 : 0.5, 0.5);
    em_tensor w, b, gm, bt;
    em_tensor_wrap(&w, data, grad, 4, (int[]){3, 2, 3, 3});
    em_tensor_wrap(&b, data + NW, grad + NW, 1, (int[]){3});
    em_tensor_wrap(&gm, data + NW + NB, grad + NW + NB, 1, (int[]){3});
    em_tensor_wrap(&bt, data + NW + NB + NG, grad + NW + NB + NG, 1, (int[]){3});
    em_tensor *x = grade_randn(rng, 4, (int[]){4, 2, 5, 5}, 0, 1, 0);
    em_real *u = grade_alloc(4 * 3 * 5 * 5, sizeof *u);
    for (int i = 0; i < 4 * 3 * 5 * 5; i++) u[i] = (em_real)em_rng_normal(rng, 0, 1);
    em_adam_opts o = em_adam_defaults();
    o.weight_decay = 1e-2;
    em_error err;
    em_adam *opt = em_adam_new((em_params){data, grad, NP}, &o, &err);
    if (!opt) grade_fatal("%s", err.msg);
    em_tape *tape = em_tape_new(0);
    int n = NP;
    for (int i = 0; i < NP; i++) want_p[i] = data[i];
    bool ok = true;
    for (int step = 1; step <= 3 && ok; step++) {
        memset(grad, 0, sizeof grad);
        em_tensor *h = em_conv2d(tape, x, &w, &b, 1, 1);
        em_tensor *y = em_batchnorm(tape, h, BN_ARGS(&gm, &bt, NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN));
        if (!y || em_backward_from(tape, y, u) != EM_OK) grade_fatal("conv -> BN failed");
        double c1 = 1 - pow(o.beta1, step), c2 = 1 - pow(o.beta2, step);
        for (int i = 0; i < NP; i++) {
            double gi = grad[i] + o.weight_decay * want_p[i];
            m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
            v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
            want_p[i] -= 0.01 * (m[i] / c1) / (sqrt(v[i] / c2) + o.eps);
        }
        em_adam_step(opt, 0.01);
        grade_situation(g, "em_adam (weight decay 1e-2) on conv -> BatchNorm, step %d", step);
        ok = grade_compare(g, "p", data, want_p, NP, 1, &n, GRADE_REF_TOL);
        grade_done(g);
        em_tape_reset(tape);
    }
    em_tape_free(tape);
    em_adam_free(opt);
    em_tensor_free(x);
    free(u);
}

void grade_all_together(grade *g) {
    em_rng rng;
    em_rng_seed(&rng, 505);
    golden_module(g, "batchnorm1d.emfx", false);
    golden_module(g, "batchnorm2d.emfx", true);
    gradchecks(g, &rng);
    cnn_gradcheck(g, &rng);
    sgd_on_stack(g, &rng);
    adam_on_stack(g, &rng);
    if (g->failed)
        grade_hint(g, "these checks combine the exercises: fix the exercises first (ember-grade "
                   "1 ... 11)");
}

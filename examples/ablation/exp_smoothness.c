/* examples/ablation/exp_smoothness.c — E5, Santurkar et al.'s smoothness measurements
 * (examples/common/landscape.c does the probe: loss band, gradient predictiveness and
 * effective beta-smoothness along -g, state restored bit-exactly).
 *   E5a: the deep linear network — 25 linear 10x10 layers, Glorot init, x ~ N(0, I) (1000
 *        samples), targets A x with A a 10x10 Gaussian matrix, loss sum_n |f(x_n) - A x_n|^2
 *        (summed, as the paper's 1e-6 lr implies; composed from em_sub, em_mul, em_sum),
 *        full-batch GD at lr 1e-6; BN after every hidden linear layer; eta in [1e-8, 3e-5].
 *        A regression run, so it has its own few-line GD loop over the tape here (the
 *        shared trainer is for classification).
 *   E5b: the deep ReLU MLP 784-[100x6]-10 on Fashion-MNIST, plain SGD at eta0 = 0.025
 *        (E3's largest no-BN lr 0.1, divided by 4), probes at {1/2, 1, 2, 3, 4} x eta0 on
 *        the step's own batch every 20 steps, through the trainer's step hook. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "examples/common/landscape.h"
#include "examples/common/models.h"
#include "examples/common/train.h"
#include "optim/optim.h"

#define DLN_N 1000
#define DLN_D 10
#define DLN_ETAS 7
#define E5B_ETA0 0.025

static void record(FILE *out, int index, long step, const em_landscape *l) {
    ab_curve(out, index, step, "loss0", l->loss0);
    ab_curve(out, index, step, "loss_min", l->loss_min);
    ab_curve(out, index, step, "loss_max", l->loss_max);
    ab_curve(out, index, step, "gp_min", l->gp_min);
    ab_curve(out, index, step, "gp_max", l->gp_max);
    ab_curve(out, index, step, "gp_rel_max", l->gp_rel_max);
    ab_curve(out, index, step, "beta_eff", l->beta_eff);
}

/* ---- E5a ------------------------------------------------------------------------------------ */

typedef struct dln_batch {
    em_tensor *x, *y;   /* (N, D, 1, 1) and (N, D) */
} dln_batch;

/* L = sum_n sum_d (f(x)_nd - y_nd)^2 */
static em_tensor *mse_sum(void *vctx, em_module *net, em_tape *tape) {
    dln_batch *b = vctx;
    em_tensor *d = em_sub(tape, em_module_forward(net, tape, b->x), b->y);
    return em_sum(tape, em_mul(tape, d, d), EM_ALL_AXES, false);
}

static int dln_run(const ab_ctx *ctx, int index, const ab_run *run, ab_result *res, FILE *out) {
    (void)ctx;
    em_rng rng;
    em_rng_seed(&rng, run->cfg.seed);
    dln_batch b = {em_tensor_new(4, (int[]){DLN_N, DLN_D, 1, 1}, 0),
                   em_tensor_new(2, (int[]){DLN_N, DLN_D}, 0)};
    em_model_opts mo = em_config_model_opts(&run->cfg);
    em_module *net = em_model_mlp_new((int[]){DLN_D, 1, 1}, run->n_hidden, DLN_D, DLN_D, "linear", &mo);
    em_tape *tape = em_tape_new(0);
    em_error err;
    em_sgd_opts so = em_sgd_defaults();
    so.momentum = 0;
    em_sgd *sgd = net ? em_sgd_new(em_module_params(net), &so, &err) : NULL;
    int status = 0;
    if (!b.x || !b.y || !net || !tape || !sgd) {
        fprintf(stderr, "ember-ablate: %s: cannot build the deep linear network\n", run->variant);
        status = 1;
        goto out;
    }
    double A[DLN_D][DLN_D];
    for (int i = 0; i < DLN_D; i++)
        for (int j = 0; j < DLN_D; j++) A[i][j] = em_rng_normal(&rng, 0, 1);
    for (int n = 0; n < DLN_N; n++) {
        for (int j = 0; j < DLN_D; j++) b.x->data[n * DLN_D + j] = (em_real)em_rng_normal(&rng, 0, 1);
        for (int i = 0; i < DLN_D; i++) {        /* y_n = A x_n */
            double s = 0;
            for (int j = 0; j < DLN_D; j++) s += A[i][j] * b.x->data[n * DLN_D + j];
            b.y->data[n * DLN_D + i] = (em_real)s;
        }
    }
    em_rng init_rng = em_rng_split(&rng, 1);
    em_init init = {EM_INIT_XAVIER_NORMAL, 0, 1};
    em_module_init(net, &init_rng, &init);
    em_module_train(net, true);
    double etas[DLN_ETAS];                         /* logspace over [1e-8, 3e-5] */
    for (int k = 0; k < DLN_ETAS; k++) etas[k] = 1e-8 * pow(3e-5 / 1e-8, k / (DLN_ETAS - 1.0));
    long steps = run->cfg.steps, every = run->probe_every, step;
    double loss = NAN;
    res->diverged_step = -1;
    for (step = 0; step < steps; step++) {
        if (step % every == 0) {
            em_landscape l;
            if (em_landscape_probe(net, tape, mse_sum, &b, etas, DLN_ETAS, &l, NULL, NULL, &err) == EM_OK)
                record(out, index, step, &l);
        }
        em_tensor *L = mse_sum(&b, net, tape);
        if (!L || em_backward(tape, L) != EM_OK) {
            fprintf(stderr, "ember-ablate: %s: step %ld: %s\n", run->variant, step + 1, tape->err.msg);
            status = 1;
            break;
        }
        loss = L->data[0];
        em_tape_reset(tape);
        if (!isfinite(loss)) {
            res->diverged_step = step + 1;
            break;
        }
        em_sgd_step(sgd, run->cfg.lr);
        em_sgd_zero_grad(sgd);
        if ((step + 1) % run->curve_every == 0) ab_curve(out, index, step + 1, "train_loss", loss);
    }
    res->steps = step;
    res->final_train_loss = loss;
    res->final_test_acc = res->best_test_acc = NAN;
    snprintf(res->outcome, sizeof res->outcome, "%s", res->diverged_step > 0 ? "diverged" : "-");
out:
    if (sgd) em_sgd_free(sgd);
    em_module_free(net);
    em_tape_free(tape);
    em_tensor_free(b.x);
    em_tensor_free(b.y);
    return status;
}

/* ---- E5b ------------------------------------------------------------------------------------ */

/* cross-entropy on the batch the trainer just trained on (still in t->x, t->labels) */
static em_tensor *ce_on_batch(void *vctx, em_module *net, em_tape *tape) {
    em_trainer *t = vctx;
    return em_cross_entropy(tape, em_module_forward(net, tape, t->x), t->labels);
}

static void e5b_probe(const ab_run *run, int index, em_trainer *t, long step, FILE *out, void **state) {
    (void)state;
    if (step <= 0) return;    /* step 0: no batch yet; -1: nothing to free */
    double e0 = run->cfg.lr, etas[5] = {0.5 * e0, e0, 2 * e0, 3 * e0, 4 * e0};
    em_landscape l;
    em_error err;
    if (em_landscape_probe(t->net, t->tape, ce_on_batch, t, etas, 5, &l, NULL, NULL, &err) == EM_OK)
        record(out, index, step, &l);
}

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    for (int bn = 0; bn < 2; bn++) {
        ab_run *r = ab_run_add(ctx, runs, n, "smoothness");
        if (!r) return false;
        snprintf(r->variant, sizeof r->variant, "e5a-dln-%s", bn ? "bn" : "nobn");
        r->n_hidden = 24;                           /* 24 hidden + 1 output = 25 layers */
        r->width = DLN_D;
        snprintf(r->act, sizeof r->act, "linear");
        r->cfg.bn = bn;
        r->cfg.lr = 1e-6;
        r->cfg.batch = DLN_N;
        r->cfg.seed = 1;
        r->cfg.steps = o->quick ? 2000 : 10000;
        r->probe_every = o->quick ? 50 : 100;
        r->curve_every = 20;
        r->fn = dln_run;
    }
    for (int bn = 0; bn < 2; bn++) {
        ab_run *r = ab_run_add(ctx, runs, n, "smoothness");
        if (!r) return false;
        snprintf(r->variant, sizeof r->variant, "e5b-mlp-%s", bn ? "bn" : "nobn");
        r->n_hidden = 6;
        r->width = 100;
        snprintf(r->act, sizeof r->act, "relu");
        r->cfg.bn = bn;
        r->cfg.lr = o->n_lrs ? o->lrs[0] : E5B_ETA0;
        r->cfg.batch = o->batch ? o->batch : 64;
        snprintf(r->cfg.init, sizeof r->cfg.init, "kaiming-normal");
        r->cfg.seed = 1;
        r->cfg.train_limit = o->train_limit;
        r->cfg.epochs = 1000;
        r->cfg.steps = o->steps ? o->steps : o->quick ? 400 : 2500;
        r->curve_every = 20;
        r->probe = e5b_probe;
        r->probe_every = 20;
    }
    return true;
}

/* values of a probe metric over a run (malloc'd, *n of them) */
static double *values(ab_report *rep, int run, const char *metric, int *n) {
    enum { MAX = 4096 };
    double *v = malloc(MAX * sizeof *v);
    *n = v ? ab_series(rep, run, metric, NULL, v, MAX) : 0;
    return v;
}

static double quant(double *v, int n, double q) {   /* sorts v */
    if (n <= 0) return NAN;
    ab_median(v, n);
    return v[(int)(q * (n - 1) + 0.5)];
}

static void report(ab_report *rep) {
    FILE *f = rep->md;
    char s[200];
    fprintf(f, "### E5a: deep linear network\n\n25 linear 10x10 layers, Glorot init, 1000 Gaussian "
               "samples, summed squared error to A x, full-batch GD lr 1e-6, %s; probes every %d "
               "steps at 7 log-spaced eta in [1e-8, 3e-5].\n\n",
            rep->ctx->o->quick ? "2000 steps (quick)" : "10000 steps", rep->ctx->o->quick ? 50 : 100);
    ab_runs_table(rep, "smoothness", "e5a-");
    int a[2] = {ab_find(rep, "smoothness", "e5a-dln-nobn"), ab_find(rep, "smoothness", "e5a-dln-bn")};
    if (a[0] >= 0 && a[1] >= 0) {
        double med[3][2];
        for (int bn = 0; bn < 2; bn++) {
            int n0, n1, n2, n3;
            double *l0 = values(rep, a[bn], "loss0", &n0), *lm = values(rep, a[bn], "loss_max", &n1),
                   *gp = values(rep, a[bn], "gp_max", &n2), *be = values(rep, a[bn], "beta_eff", &n3);
            int n = n0 < n1 ? n0 : n1;
            for (int i = 0; i < n; i++) lm[i] = log10(lm[i] / l0[i]);
            for (int i = 0; i < n2; i++) gp[i] = log10(gp[i]);
            for (int i = 0; i < n3; i++) be[i] = log10(be[i]);
            med[0][bn] = ab_median(lm, n);
            med[1][bn] = ab_median(gp, n2);
            med[2][bn] = ab_median(be, n3);
            free(l0);
            free(lm);
            free(gp);
            free(be);
        }
        fprintf(f, "| criterion | what | measured | result |\n|---|---|---|---|\n");
        static const char *const what[3] = {"median log10(loss_max / L0) >= 1 higher without BN",
                                            "median log10(gp_max) >= 1 higher without BN",
                                            "median log10(beta_eff) >= 1 higher without BN"};
        for (int k = 0; k < 3; k++) {
            snprintf(s, sizeof s, "no BN %.2f, BN %.2f", med[k][0], med[k][1]);
            ab_criterion(rep, "E5a", what[k], s, med[k][0] >= med[k][1] + 1);
        }
        ab_plot p;
        if (ab_plot_begin(rep, &p, "smoothness_dln", "E5a: gradient predictiveness and beta_eff, DLN",
                          "training step", "max |g_eta - g|, beta_eff", false, true)) {
            ab_plot_metric(rep, &p, a[0], "gp_max", "gp_max, no BN", "lines lw 2");
            ab_plot_metric(rep, &p, a[1], "gp_max", "gp_max, BN", "lines lw 2");
            ab_plot_metric(rep, &p, a[0], "beta_eff", "beta_eff, no BN", "lines lw 2 dt 2");
            ab_plot_metric(rep, &p, a[1], "beta_eff", "beta_eff, BN", "lines lw 2 dt 2");
            ab_plot_end(rep, &p, "E5a (Santurkar Fig. 10 style): deep linear network");
        }
    }
    fprintf(f, "### E5b: deep ReLU MLP\n\n784-[100x6]-10, He init, plain SGD at eta0 = %g, probes "
               "every 20 steps at {1/2, 1, 2, 3, 4} x eta0 on the step's batch.\n\n", E5B_ETA0);
    ab_runs_table(rep, "smoothness", "e5b-");
    int b[2] = {ab_find(rep, "smoothness", "e5b-mlp-nobn"), ab_find(rep, "smoothness", "e5b-mlp-bn")};
    if (b[0] < 0 || b[1] < 0) return;
    double band[2], gp90[2], tail[2], sd[2], rel90[2];
    for (int bn = 0; bn < 2; bn++) {
        int n0, n1, n2, n3, n4, n5;
        double *l0 = values(rep, b[bn], "loss0", &n0), *lo = values(rep, b[bn], "loss_min", &n1),
               *hi = values(rep, b[bn], "loss_max", &n2), *gp = values(rep, b[bn], "gp_max", &n3),
               *be = values(rep, b[bn], "beta_eff", &n4), *rel = values(rep, b[bn], "gp_rel_max", &n5);
        int n = n0 < n1 ? n0 : n1;
        n = n < n2 ? n : n2;
        for (int i = 0; i < n; i++) hi[i] = (hi[i] - lo[i]) / l0[i];
        band[bn] = ab_median(hi, n);
        gp90[bn] = quant(gp, n3, 0.9);
        rel90[bn] = quant(rel, n5, 0.9);
        double mean = 0, var = 0;
        for (int i = 0; i < n4; i++) mean += be[i] / n4;
        for (int i = 0; i < n4; i++) var += (be[i] - mean) * (be[i] - mean) / (n4 > 1 ? n4 - 1 : 1);
        sd[bn] = sqrt(var);
        tail[bn] = quant(be, n4, 0.95) / quant(be, n4, 0.5);
        free(l0);
        free(lo);
        free(hi);
        free(gp);
        free(be);
        free(rel);
    }
    fprintf(f, "| criterion | what | measured | result |\n|---|---|---|---|\n");
    snprintf(s, sizeof s, "no BN %.3g, BN %.3g", band[0], band[1]);
    ab_criterion(rep, "E5b (loss band)", "median (loss_max - loss_min) / L0: no-BN >= 2x BN", s,
                 band[0] >= 2 * band[1]);
    snprintf(s, sizeof s, "no BN %.3g, BN %.3g (relative: no BN %.3g, BN %.3g)", gp90[0], gp90[1],
             rel90[0], rel90[1]);
    ab_criterion(rep, "E5b (predictiveness)", "90th percentile of gp_max: no-BN >= 3x BN", s,
                 gp90[0] >= 3 * gp90[1]);
    snprintf(s, sizeof s, "p95/median: no BN %.3g, BN %.3g; std: no BN %.3g, BN %.3g", tail[0],
             tail[1], sd[0], sd[1]);
    ab_criterion(rep, "E5b (beta_eff)", "beta_eff p95/median larger without BN, or its std >= 2x BN's",
                 s, tail[0] > tail[1] || sd[0] >= 2 * sd[1]);
    ab_plot p;
    if (ab_plot_begin(rep, &p, "smoothness_mlp", "E5b: loss band and gradient predictiveness, MLP",
                      "training step", "value", false, true)) {
        ab_plot_metric(rep, &p, b[0], "loss_max", "loss_max, no BN", "lines lw 2");
        ab_plot_metric(rep, &p, b[0], "loss_min", "loss_min, no BN", "lines lw 1");
        ab_plot_metric(rep, &p, b[1], "loss_max", "loss_max, BN", "lines lw 2");
        ab_plot_metric(rep, &p, b[1], "loss_min", "loss_min, BN", "lines lw 1");
        ab_plot_metric(rep, &p, b[0], "gp_max", "gp_max, no BN", "lines lw 2 dt 2");
        ab_plot_metric(rep, &p, b[1], "gp_max", "gp_max, BN", "lines lw 2 dt 2");
        ab_plot_end(rep, &p, "E5b (Santurkar Fig. 4 style): loss band and gradient predictiveness");
    }
}

const ab_experiment ab_exp_smoothness = {"smoothness", "E5: Santurkar's loss-landscape "
                                         "smoothness", expand, report};

/* examples/ablation/exp_convergence.c — E1, Ioffe & Szegedy's MNIST experiment: the
 * sigmoid MLP 784-100-100-100-10, batch 60, N(0, 0.01^2) init, plain SGD lr 0.5, with BN
 * (z = sigmoid(BN(Wu)), no bias) and without; test accuracy every K steps on a fixed 2k
 * test subset (the first 2000 images); steps to the target accuracy. And E2 on mnist-cnn:
 * no BN and BN at the same lr, and BN at 5x the lr (Ioffe's "BN-x5"). */
#include <math.h>
#include <string.h>

#include "ablate.h"
#include "examples/common/train.h"
#include "layers/layers.h"

/* d2l's LeNet (docs/experiment-protocols.md E2a, d2l-zh lenet.ipynb / batch-norm.ipynb):
 *   no BN: conv 6 (5x5, pad 2) sigmoid avgpool2 | conv 16 (5x5) sigmoid avgpool2 |
 *          FC 120 sigmoid | FC 84 sigmoid | FC 10
 *   BN:    conv 6 (5x5, no pad) BN sigmoid avgpool2 | conv 16 (5x5) BN sigmoid avgpool2 |
 *          FC 120 BN sigmoid | FC 84 BN sigmoid | FC 10
 * (d2l keeps the conv/FC biases before BN; BN's mean subtraction makes them inert, so
 * they are dropped here as in the rest of ember's models). */
static em_module *lenet(const ab_run *run, const int chw[3]) {
    em_model_opts mo = em_config_model_opts(&run->cfg);
    bool bn = mo.bn;
    int side = chw[1] + (bn ? 0 : 4);             /* 28 (+4 with pad 2) */
    side = (side - 4) / 2;                        /* conv5 then pool2: 12 (14) */
    side = (side - 4) / 2;                        /* 4 (5) */
    em_module *m[20];
    int n = 0;
    m[n++] = em_conv2d_new(chw[0], 6, 5, 1, bn ? 0 : 2, !bn);
    if (bn) m[n++] = em_batchnorm2d_new(6, &mo.bn_opts);
    m[n++] = em_sigmoid_new();
    m[n++] = em_avgpool2d_new(2, 2);
    m[n++] = em_conv2d_new(6, 16, 5, 1, 0, !bn);
    if (bn) m[n++] = em_batchnorm2d_new(16, &mo.bn_opts);
    m[n++] = em_sigmoid_new();
    m[n++] = em_avgpool2d_new(2, 2);
    m[n++] = em_flatten_new();
    m[n++] = em_linear_new(16 * side * side, 120, !bn);
    if (bn) m[n++] = em_batchnorm1d_new(120, &mo.bn_opts);
    m[n++] = em_sigmoid_new();
    m[n++] = em_linear_new(120, 84, !bn);
    if (bn) m[n++] = em_batchnorm1d_new(84, &mo.bn_opts);
    m[n++] = em_sigmoid_new();
    m[n++] = em_linear_new(84, 10, true);
    for (int i = 0; i < n; i++)
        if (!m[i]) {
            for (int j = 0; j < n; j++) em_module_free(m[j]);
            return NULL;
        }
    return em_sequential_new(n, m);
}

#define E2A_EPOCHS 10
#define E2A_BATCH 256

static double target_of(const ab_ctx *ctx) {
    /* docs/experiment-protocols.md E1: 95% on MNIST, 85% on Fashion-MNIST; the quick protocol trains
     * ~1.5 epochs, so its Fashion target is 80% */
    if (!ctx->fashion) return 0.95;
    return ctx->o->quick ? 0.80 : 0.85;
}

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    int seeds = ab_seeds(ctx, 3);
    for (int s = 1; s <= seeds; s++)
        for (int bn = 0; bn < 2; bn++) {
            ab_run *r = ab_run_add(ctx, runs, n, "convergence");
            if (!r) return false;
            snprintf(r->variant, sizeof r->variant, "e1-%s-s%d", bn ? "bn" : "nobn", s);
            ab_ioffe_mlp(ctx, r, bn, s);
            r->eval_every = o->quick ? 100 : 500;
            r->target = target_of(ctx);
        }
    /* E2a: d2l's LeNet, full protocol only (three runs of 10 epochs, ~2 min each) */
    static const struct { const char *name; bool bn; double lr; } e2a[] = {
        {"e2a-lenet-nobn-lr0.9", false, 0.9}, {"e2a-lenet-bn-lr1", true, 1.0},
        {"e2a-lenet-bn-lr0.9", true, 0.9}};
    for (int i = 0; i < 3 && !o->quick; i++) {
        ab_run *r = ab_run_add(ctx, runs, n, "convergence");
        if (!r) return false;
        snprintf(r->variant, sizeof r->variant, "%s", e2a[i].name);
        r->model = lenet;
        r->cfg.bn = e2a[i].bn;
        r->cfg.lr = e2a[i].lr;
        r->cfg.batch = E2A_BATCH;
        snprintf(r->cfg.init, sizeof r->cfg.init, "xavier-uniform");
        r->cfg.n_mean = r->cfg.n_std = 1;          /* d2l's ToTensor: pixels in [0, 1] */
        r->cfg.mean[0] = 0;
        r->cfg.std[0] = 1;
        r->cfg.seed = 1;
        r->cfg.train_limit = o->train_limit;
        r->cfg.epochs = E2A_EPOCHS;
        r->cfg.steps = o->steps;
        r->epoch_curves = true;
        r->curve_every = 47;
    }
    /* E2: mnist-cnn, momentum 0.9 (E2b's optimizer), lr 0.02 and BN at 5x */
    static const struct { const char *name; bool bn; double lr; } e2[] = {
        {"e2-cnn-nobn", false, 0.02}, {"e2-cnn-bn", true, 0.02}, {"e2-cnn-bn-x5", true, 0.1}};
    for (int i = 0; i < 3; i++) {
        ab_run *r = ab_run_add(ctx, runs, n, "convergence");
        if (!r) return false;
        snprintf(r->variant, sizeof r->variant, "%s", e2[i].name);
        snprintf(r->cfg.model, sizeof r->cfg.model, "cnn");
        r->cfg.bn = e2[i].bn;
        r->cfg.lr = e2[i].lr;
        r->cfg.momentum = 0.9;
        r->cfg.batch = 64;
        r->cfg.seed = 1;
        r->cfg.test_limit = 2000;
        r->cfg.epochs = 1000;
        r->cfg.steps = o->quick ? 150 : 900;
        r->eval_every = o->quick ? 25 : 100;
        r->curve_every = o->quick ? 10 : 20;
    }
    return true;
}

/* first evaluated step with test accuracy >= acc, or -1 */
static long first_reaching(const ab_report *rep, int run, double acc) {
    for (long i = 0; i < rep->n_pts; i++) {
        const ab_point *p = &rep->pts[i];
        if (p->run == run && !strcmp(p->metric, "test_acc") && p->value >= acc) return p->step;
    }
    return -1;
}

/* the per-epoch values of a run's metric (epoch e at index e - 1); returns the count */
static int per_epoch(const ab_report *rep, int run, const char *metric, double *v, int max) {
    return ab_series(rep, run, metric, NULL, v, max);
}

static void e2a_report(ab_report *rep) {
    FILE *f = rep->md;
    int nb = ab_find(rep, "convergence", "e2a-lenet-nobn-lr0.9"),
        b = ab_find(rep, "convergence", "e2a-lenet-bn-lr1"),
        b9 = ab_find(rep, "convergence", "e2a-lenet-bn-lr0.9");
    fprintf(f, "### E2a: d2l's LeNet on Fashion-MNIST\n\n");
    if (nb < 0 || b < 0 || b9 < 0) {
        fprintf(f, "Full protocol only (three runs of %d epochs): not run in the quick protocol.\n\n",
                E2A_EPOCHS);
        return;
    }
    fprintf(f, "d2l-zh's configuration: sigmoid LeNet with average pooling, conv1 padding 2 "
               "without BN (lr 0.9), no padding with BN before every sigmoid (lr 1.0, and 0.9 for "
               "an equal-lr comparison); plain SGD, batch %d, %d epochs, Xavier-uniform init, "
               "pixels in [0, 1] (no normalization), mean cross-entropy; seed 1. Per epoch: the "
               "mean batch loss and accuracy in training mode, and the test accuracy on all 10000 "
               "test images (BN with its running statistics). Published (d2l-zh CI medians, "
               "docs/experiment-protocols.md, E2a): BN train loss 0.249, train acc 0.910, test acc 0.882; no BN "
               "0.468, 0.824, 0.806.\n\n", E2A_BATCH, E2A_EPOCHS);
    ab_runs_table(rep, "convergence", "e2a-");
    const int run[3] = {nb, b, b9};
    static const char *const name[3] = {"no BN, lr 0.9", "BN, lr 1.0", "BN, lr 0.9"};
    double loss[3][64], acc[3][64], test[3][64];
    int ne[3];
    fprintf(f, "| epoch | %s: train loss / acc / test acc | %s | %s |\n|---|---|---|---|\n",
            name[0], name[1], name[2]);
    for (int k = 0; k < 3; k++) {
        int a = per_epoch(rep, run[k], "epoch_train_loss", loss[k], 64);
        int c = per_epoch(rep, run[k], "epoch_train_acc", acc[k], 64);
        int t = per_epoch(rep, run[k], "epoch_test_acc", test[k], 64);
        ne[k] = a < c ? a : c;
        ne[k] = ne[k] < t ? ne[k] : t;
    }
    int E = ne[0] < ne[1] ? ne[0] : ne[1];
    E = E < ne[2] ? E : ne[2];
    for (int e = 0; e < E; e++) {
        fprintf(f, "| %d |", e + 1);
        for (int k = 0; k < 3; k++)
            fprintf(f, " %.3f / %.3f / %.3f |", loss[k][e], acc[k][e], test[k][e]);
        fprintf(f, "\n");
    }
    fprintf(f, "\n");
    if (E < 1) return;
    /* epochs to a training accuracy of 0.80 (inf = never) */
    double reach[3], med[3];
    for (int k = 0; k < 3; k++) {
        reach[k] = INFINITY;
        for (int e = 0; e < E; e++)
            if (acc[k][e] >= 0.80) {
                reach[k] = e + 1;
                break;
            }
        double last3[3];
        int m = 0;
        for (int e = E - 3 < 0 ? 0 : E - 3; e < E; e++) last3[m++] = test[k][e];
        med[k] = ab_median(last3, m);
    }
    char s[240];
    fprintf(f, "| criterion | what | measured | result |\n|---|---|---|---|\n");
    double l0 = loss[0][E - 1], l1 = loss[1][E - 1];
    snprintf(s, sizeof s, "epoch %d train loss: BN %.3f, no BN %.3f (ratio %.2f)", E, l1, l0, l1 / l0);
    ab_criterion(rep, "E2a (loss)", "final train loss: BN <= 0.32 and no-BN >= 0.40, or BN <= "
                 "0.75 x no-BN", s, (l1 <= 0.32 && l0 >= 0.40) || l1 <= 0.75 * l0);
    snprintf(s, sizeof s, "median test accuracy of the last 3 epochs: BN %.4f, no BN %.4f", med[1], med[0]);
    ab_criterion(rep, "E2a (test)", "BN test accuracy (median of epochs 8-10) >= no-BN + 3 pp", s,
                 med[1] >= med[0] + 0.03);
    snprintf(s, sizeof s, "epochs to train acc 0.80: BN %g, no BN %g (inf = never)", reach[1], reach[0]);
    ab_criterion(rep, "E2a (speed)", "epochs to train acc >= 0.80: BN <= 1/2 x no-BN", s,
                 isfinite(reach[1]) && (isinf(reach[0]) || 2 * reach[1] <= reach[0]));
    snprintf(s, sizeof s, "BN at lr 0.9: median test accuracy %.4f, epochs to 0.80 %g, final "
             "train loss %.3f", med[2], reach[2], loss[2][E - 1]);
    ab_criterion(rep, "E2a (equal lr, report only)", "BN at no-BN's lr 0.9: test accuracy >= "
                 "no-BN + 3 pp", s, med[2] >= med[0] + 0.03);
    ab_plot p;
    if (ab_plot_begin(rep, &p, "convergence_e2a", "E2a: d2l LeNet on Fashion-MNIST", "epoch",
                      "accuracy / loss", false, false)) {
        for (int k = 0; k < 3; k++) {
            double x[64];
            for (int e = 0; e < E; e++) x[e] = e + 1;
            char t[64];
            snprintf(t, sizeof t, "test acc, %s", name[k]);
            ab_plot_series(&p, t, "linespoints lw 2", x, test[k], E);
            snprintf(t, sizeof t, "train loss, %s", name[k]);
            ab_plot_series(&p, t, "linespoints lw 1 dt 2", x, loss[k], E);
        }
        ab_plot_end(rep, &p, "E2a: test accuracy and training loss per epoch (d2l LeNet, Fashion-MNIST)");
    }
}

static void report(ab_report *rep) {
    FILE *f = rep->md;
    const ab_ctx *ctx = rep->ctx;
    double target = target_of(ctx);
    fprintf(f, "### E1: Ioffe's sigmoid MLP\n\n784-100-100-100-10 sigmoid, batch 60, N(0, 0.01^2) "
               "init, plain SGD at one lr for both nets, BN before each sigmoid (bias dropped). "
               "Test accuracy on the first 2000 test images (BN in inference mode, running "
               "statistics). Target %.2f.\n\n", target);
    ab_runs_table(rep, "convergence", "e1-");
    int idx[AB_MAX_RUNS], k = ab_select(rep, "convergence", idx, AB_MAX_RUNS);
    double T[2][128], at5k[2][128], fin[2][128];
    int m[2] = {0, 0};
    long steps = 0;
    int first[2] = {-1, -1};
    for (int a = 0; a < k; a++) {
        const ab_run *r = &rep->runs[idx[a]];
        if (strncmp(r->variant, "e1-", 3)) continue;
        int bn = r->cfg.bn, j = m[bn];
        if (j >= 128) continue;
        const ab_result *s = &rep->res[idx[a]];
        steps = r->cfg.steps;
        T[bn][j] = s->steps_to_target >= 0 ? (double)s->steps_to_target : INFINITY;
        at5k[bn][j] = ab_value_at(rep, idx[a], "test_acc", steps < 5000 ? steps : 5000);
        fin[bn][j] = ab_value_at(rep, idx[a], "test_acc", steps);
        m[bn]++;
        if (first[bn] < 0) first[bn] = idx[a];
    }
    double t0 = ab_median(T[0], m[0]), t1 = ab_median(T[1], m[1]);
    double a0 = ab_median(at5k[0], m[0]), a1 = ab_median(at5k[1], m[1]);
    double f0 = ab_median(fin[0], m[0]), f1 = ab_median(fin[1], m[1]);
    fprintf(f, "| criterion | what | measured | result |\n|---|---|---|---|\n");
    char s[200];
    snprintf(s, sizeof s, "steps to %.2f (median): BN %g, no BN %g (inf = never in %ld steps)",
             target, t1, t0, steps);
    ab_criterion(rep, "E1 (a1)", "T_BN <= T_noBN / 2, or no-BN never reaches the target", s,
                 isfinite(t1) && (isinf(t0) || t1 <= t0 / 2));
    snprintf(s, sizeof s, "at step %ld: BN %.4f, no BN %.4f", steps < 5000 ? steps : 5000, a1, a0);
    ab_criterion(rep, "E1 (a2)", "test accuracy at 5k steps: BN >= no-BN + 3 pp", s, a1 >= a0 + 0.03);
    snprintf(s, sizeof s, "final: BN %.4f, no BN %.4f", f1, f0);
    ab_criterion(rep, "E1 (a3)", "final accuracy: BN >= no-BN - 0.3 pp", s, f1 >= f0 - 0.003);
    ab_plot p;
    if (first[0] >= 0 && first[1] >= 0 &&
        ab_plot_begin(rep, &p, "convergence_e1", "E1: test accuracy, sigmoid MLP (seed 1)",
                      "training step", "test accuracy (2k subset)", false, false)) {
        ab_plot_metric(rep, &p, first[0], "test_acc", "without BN", "linespoints lw 2");
        ab_plot_metric(rep, &p, first[1], "test_acc", "with BN", "linespoints lw 2");
        ab_plot_end(rep, &p, "E1: test accuracy against training steps (Ioffe Fig. 1a style)");
    }

    e2a_report(rep);
    fprintf(f, "### E2: mnist-cnn\n\nmnist-cnn, SGD momentum 0.9, batch 64; no BN and BN at lr "
               "0.02, BN at 5x (0.1). Test accuracy on the first 2000 test images.\n\n");
    ab_runs_table(rep, "convergence", "e2-");
    int nb = ab_find(rep, "convergence", "e2-cnn-nobn"), b = ab_find(rep, "convergence", "e2-cnn-bn"),
        x5 = ab_find(rep, "convergence", "e2-cnn-bn-x5");
    if (nb >= 0 && b >= 0 && x5 >= 0) {
        fprintf(f, "| criterion | what | measured | result |\n|---|---|---|---|\n");
        double anb = rep->res[nb].final_test_acc, ab = rep->res[b].final_test_acc;
        snprintf(s, sizeof s, "BN %.4f, no BN %.4f", ab, anb);
        ab_criterion(rep, "E2 (equal lr)", "final test accuracy: BN >= no-BN + 3 pp", s, ab >= anb + 0.03);
        long tn = first_reaching(rep, nb, anb), tx = first_reaching(rep, x5, anb);
        snprintf(s, sizeof s, "no BN reaches %.4f at step %ld, BN-x5 at step %ld", anb, tn, tx);
        ab_criterion(rep, "E2 (BN-x5)", "BN-x5 reaches no-BN's final accuracy in <= half the steps",
                     s, tx > 0 && tn > 0 && 2 * tx <= tn);
        if (ab_plot_begin(rep, &p, "convergence_e2", "E2: test accuracy, mnist-cnn", "training step",
                          "test accuracy (2k subset)", false, false)) {
            ab_plot_metric(rep, &p, nb, "test_acc", "without BN, lr 0.02", "linespoints lw 2");
            ab_plot_metric(rep, &p, b, "test_acc", "with BN, lr 0.02", "linespoints lw 2");
            ab_plot_metric(rep, &p, x5, "test_acc", "with BN, lr 0.1 (x5)", "linespoints lw 2");
            ab_plot_end(rep, &p, "E2: mnist-cnn test accuracy against training steps");
        }
    }
}

const ab_experiment ab_exp_convergence = {"convergence", "E1/E2a/E2: BatchNorm trains faster", expand,
                                          report};

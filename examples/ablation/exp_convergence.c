/* examples/ablation/exp_convergence.c — E1, Ioffe & Szegedy's MNIST experiment: the
 * sigmoid MLP 784-100-100-100-10, batch 60, N(0, 0.01^2) init, plain SGD lr 0.5, with BN
 * (z = sigmoid(BN(Wu)), no bias) and without; test accuracy every K steps on a fixed 2k
 * test subset (the first 2000 images); steps to the target accuracy. And E2 on mnist-cnn:
 * no BN and BN at the same lr, and BN at 5x the lr (Ioffe's "BN-x5"). */
#include <math.h>
#include <string.h>

#include "ablate.h"

static double target_of(const ab_ctx *ctx) {
    /* EXPERIMENTS.md E1: 95% on MNIST, 85% on Fashion-MNIST; the quick protocol trains
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

const ab_experiment ab_exp_convergence = {"convergence", "E1/E2: BatchNorm trains faster", expand,
                                          report};

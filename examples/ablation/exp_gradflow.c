/* examples/ablation/exp_gradflow.c — gradient flow: per-layer gradient norms and
 * update/weight ratios over training in the deep sigmoid network 784-[100x8]-10 (Xavier
 * init, plain SGD), with and without BN. The step hook reads them from the parameter block:
 * with plain SGD, theta' = theta - lr g, so |g_k| = |theta_k - theta'_k| / lr and the
 * update/weight ratio is |theta_k - theta'_k| / |theta_k| (metrics gnorm.L<k>,
 * update_ratio.L<k>; L1 is the first layer, L9 the output layer). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"

#define LAYERS 9

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    for (int bn = 0; bn < 2; bn++) {
        ab_run *r = ab_run_add(ctx, runs, n, "grad-flow");
        if (!r) return false;
        snprintf(r->variant, sizeof r->variant, "%s", bn ? "bn" : "nobn");
        r->n_hidden = 8;
        r->width = 100;
        snprintf(r->act, sizeof r->act, "sigmoid");
        r->cfg.bn = bn;
        r->cfg.lr = o->n_lrs ? o->lrs[0] : 0.1;
        r->cfg.batch = o->batch ? o->batch : 64;
        snprintf(r->cfg.init, sizeof r->cfg.init, "xavier");
        r->cfg.seed = 1;
        r->cfg.train_limit = o->train_limit ? o->train_limit : o->quick ? 10000 : 0;
        r->cfg.epochs = 1;
        r->cfg.steps = o->steps ? o->steps : o->quick ? 400 : 0;
        r->curve_every = o->quick ? 20 : 50;
        r->grad_flow = true;
    }
    return true;
}

/* the median over records of a run's metric */
static double median_of(ab_report *rep, int run, const char *metric) {
    enum { MAX = 8192 };
    double *v = malloc(MAX * sizeof *v);
    if (!v) return NAN;
    int n = ab_series(rep, run, metric, NULL, v, MAX);
    double m = ab_median(v, n);
    free(v);
    return m;
}

static void report(ab_report *rep) {
    FILE *f = rep->md;
    fprintf(f, "784-[100x8]-10 sigmoid, Xavier init, plain SGD lr 0.1, batch 64, %s. Medians "
               "over the recorded steps.\n\n| layer | no BN: grad norm | no BN: update/weight | "
               "BN: grad norm | BN: update/weight |\n|---|---|---|---|---|\n",
            rep->ctx->o->quick ? "400 steps on 10k images (quick)" : "1 epoch");
    int r[2] = {ab_find(rep, "grad-flow", "nobn"), ab_find(rep, "grad-flow", "bn")};
    if (r[0] < 0 || r[1] < 0) return;
    double g[2][LAYERS], u[2][LAYERS], x[LAYERS];
    for (int k = 0; k < LAYERS; k++) {
        char m[32];
        x[k] = k + 1;
        for (int bn = 0; bn < 2; bn++) {
            snprintf(m, sizeof m, "gnorm.L%d", k + 1);
            g[bn][k] = median_of(rep, r[bn], m);
            snprintf(m, sizeof m, "update_ratio.L%d", k + 1);
            u[bn][k] = median_of(rep, r[bn], m);
        }
        fprintf(f, "| %d | %.3g | %.3g | %.3g | %.3g |\n", k + 1, g[0][k], u[0][k], g[1][k], u[1][k]);
    }
    /* spread of the update/weight ratio across hidden layers, in decades: how unevenly the
     * layers learn (a vanishing gradient makes the first layers' ratio tiny) */
    double spread[2];
    for (int bn = 0; bn < 2; bn++) {
        double lo = INFINITY, hi = 0;
        for (int k = 0; k < LAYERS - 1; k++) {
            lo = fmin(lo, u[bn][k]);
            hi = fmax(hi, u[bn][k]);
        }
        spread[bn] = lo > 0 ? log10(hi / lo) : INFINITY;
    }
    fprintf(f, "\n| criterion | what | measured | result |\n|---|---|---|---|\n");
    char s[160];
    snprintf(s, sizeof s, "max/min over hidden layers: BN %.2f decades, no BN %.2f decades", spread[1], spread[0]);
    ab_criterion(rep, "grad-flow (report only)", "update/weight ratios more even across layers with BN",
                 s, spread[1] < spread[0]);
    snprintf(s, sizeof s, "layer 1 / layer 8: BN %.3g, no BN %.3g", g[1][0] / g[1][7], g[0][0] / g[0][7]);
    ab_criterion(rep, "grad-flow (report only)", "first-layer gradient relatively larger with BN", s,
                 g[1][0] / g[1][7] > g[0][0] / g[0][7]);
    ab_plot p;
    if (ab_plot_begin(rep, &p, "grad_flow", "median gradient norm per layer", "layer (1 = input side)",
                      "median |grad|", false, true)) {
        ab_plot_series(&p, "without BN", "linespoints lw 2 pt 7", x, g[0], LAYERS);
        ab_plot_series(&p, "with BN", "linespoints lw 2 pt 7", x, g[1], LAYERS);
        ab_plot_end(rep, &p, "gradient norm per layer, deep sigmoid net");
    }
    if (ab_plot_begin(rep, &p, "grad_flow_ratio", "update/weight ratio of layer 1 over training",
                      "training step", "|update| / |W1|", false, true)) {
        ab_plot_metric(rep, &p, r[0], "update_ratio.L1", "without BN", "lines lw 2");
        ab_plot_metric(rep, &p, r[1], "update_ratio.L1", "with BN", "lines lw 2");
        ab_plot_end(rep, &p, "first layer's update/weight ratio over training");
    }
}

const ab_experiment ab_exp_grad_flow = {"grad-flow", "per-layer gradient norms and update/weight "
                                        "ratios", expand, report};

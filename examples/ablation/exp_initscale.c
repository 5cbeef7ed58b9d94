/* examples/ablation/exp_initscale.c — E4 (CS231n / Deep Learning from Scratch): weights
 * N(0, w^2) with no fan-in scaling, w in logspace(0, -4, 16), on 784-[100x5]-10 ReLU,
 * 1000 training images, batch 100, 20 epochs (200 steps), SGD lr 0.01 with momentum 0.9,
 * with and without BN. A run *works* when its best per-epoch training accuracy >= 0.7. */
#include <math.h>
#include <string.h>

#include "ablate.h"

#define N_SCALES 16

static double scale_of(int i) { return pow(10.0, -4.0 * i / (N_SCALES - 1)); }

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    int seeds = ab_seeds(ctx, 1);
    for (int bn = 0; bn < 2; bn++)
        for (int i = 0; i < N_SCALES; i++)
            for (int s = 1; s <= seeds; s++) {
                ab_run *r = ab_run_add(ctx, runs, n, "init-scale");
                if (!r) return false;
                double w = scale_of(i);
                snprintf(r->variant, sizeof r->variant, "%s-w%.3g-s%d", bn ? "bn" : "nobn", w, s);
                r->n_hidden = 5;
                r->width = 100;
                snprintf(r->act, sizeof r->act, "relu");
                r->cfg.bn = bn;
                r->cfg.lr = o->n_lrs ? o->lrs[0] : 0.01;
                r->cfg.momentum = 0.9;
                r->cfg.batch = o->batch ? o->batch : 100;
                snprintf(r->cfg.init, sizeof r->cfg.init, "normal");
                r->cfg.init_scale = w;
                r->cfg.seed = (uint64_t)s;
                r->cfg.train_limit = o->train_limit ? o->train_limit : 1000;
                r->cfg.epochs = 20;
                r->cfg.steps = o->steps;
                r->curve_every = 10;
            }
    return true;
}

static bool works(const ab_result *r) {
    double a;
    return ab_result_extra(r, "best_train_acc", &a) && a >= 0.7;
}

static void report(ab_report *rep) {
    FILE *f = rep->md;
    fprintf(f, "784-[100x5]-10 ReLU, weights N(0, w^2) without fan-in scaling, 1000 training "
               "images, batch 100, 20 epochs, SGD lr 0.01 momentum 0.9. *works* = best "
               "per-epoch training accuracy >= 0.7. Caveat (docs/experiment-protocols.md, E4): at w <~ 1e-3 "
               "the pre-activation variance falls to the order of eps = 1e-5 and BN stops being "
               "scale-invariant.\n\n| w | no BN: best train acc | no BN: outcome | BN: best "
               "train acc | BN: outcome |\n|---|---|---|---|---|\n");
    int idx[AB_MAX_RUNS], k = ab_select(rep, "init-scale", idx, AB_MAX_RUNS);
    double x[2][N_SCALES], y[2][N_SCALES];
    int ok[2][N_SCALES] = {{0}}, seen[2][N_SCALES] = {{0}};
    double acc_sum[2][N_SCALES] = {{0}};
    for (int a = 0; a < k; a++) {
        const ab_run *r = &rep->runs[idx[a]];
        int bn = r->cfg.bn, i = 0;
        while (i < N_SCALES && fabs(scale_of(i) - r->cfg.init_scale) > 1e-12 * scale_of(i)) i++;
        if (i == N_SCALES) continue;
        double acc = 0;
        ab_result_extra(&rep->res[idx[a]], "best_train_acc", &acc);
        seen[bn][i]++;
        ok[bn][i] += works(&rep->res[idx[a]]);
        acc_sum[bn][i] += acc;
    }
    int in_range[2] = {0, 0}, n_range = 0, lo[2] = {-1, -1}, hi[2] = {-1, -1}, exceptions = 0;
    for (int i = 0; i < N_SCALES; i++) {
        bool w[2];
        for (int bn = 0; bn < 2; bn++) {
            x[bn][i] = scale_of(i);
            y[bn][i] = seen[bn][i] ? acc_sum[bn][i] / seen[bn][i] : NAN;
            w[bn] = seen[bn][i] && ok[bn][i] * 2 > seen[bn][i];
            if (w[bn]) {
                if (lo[bn] < 0) lo[bn] = i;
                hi[bn] = i;
            }
        }
        if (scale_of(i) >= 1e-3 * (1 - 1e-9)) {
            n_range++;
            in_range[0] += w[0];
            in_range[1] += w[1];
        }
        exceptions += w[0] && !w[1];
        fprintf(f, "| %.3g | %.3f | %s | %.3f | %s |\n", scale_of(i), y[0][i], w[0] ? "works" : "fails",
                y[1][i], w[1] ? "works" : "fails");
    }
    /* the working interval's width in decades: (hi - lo) steps of 4/15 decade, plus one step */
    double width[2];
    for (int bn = 0; bn < 2; bn++)
        width[bn] = lo[bn] < 0 ? 0 : (hi[bn] - lo[bn] + 1) * 4.0 / (N_SCALES - 1);
    fprintf(f, "\n| criterion | what | measured | result |\n|---|---|---|---|\n");
    char s[160];
    snprintf(s, sizeof s, "%d of %d", in_range[1], n_range);
    ab_criterion(rep, "E4 (BN)", "BN works on >= 90% of the scales in [1e-3, 1]", s,
                 in_range[1] >= 0.9 * n_range);
    snprintf(s, sizeof s, "%d of %d", in_range[0], n_range);
    ab_criterion(rep, "E4 (no BN)", "no-BN works on <= 50% of the scales in [1e-3, 1]", s,
                 in_range[0] <= 0.5 * n_range);
    snprintf(s, sizeof s, "%d scale(s) where only no-BN works", exceptions);
    ab_criterion(rep, "E4 (superset)", "BN works wherever no-BN works (one exception)", s, exceptions <= 1);
    snprintf(s, sizeof s, "BN %.2f decades, no BN %.2f", width[1], width[0]);
    ab_criterion(rep, "E4 (width)", "BN's working interval >= 2x as wide (decades) as no-BN's", s,
                 width[1] >= 2 * width[0]);
    ab_plot p;
    if (ab_plot_begin(rep, &p, "init_scale", "E4: best training accuracy vs init scale", "weight std w",
                      "best training accuracy", true, false)) {
        ab_plot_series(&p, "without BN", "linespoints lw 2 pt 7", x[0], y[0], N_SCALES);
        ab_plot_series(&p, "with BN", "linespoints lw 2 pt 7", x[1], y[1], N_SCALES);
        ab_plot_end(rep, &p, "E4: best training accuracy against the weight scale (CS231n style)");
    }
}

const ab_experiment ab_exp_init_scale = {"init-scale", "E4: sensitivity to the initialisation "
                                         "scale", expand, report};

/* examples/ablation/exp_frozen.c — why the gradient must flow through the batch mean and
 * variance (Ioffe & Szegedy §2). BN with --bn-backward frozen-stats (dx = gamma dy / sigma:
 * mu and sigma treated as constants) against the full backward and against no BN, on E1's
 * sigmoid MLP 784-100-100-100-10 (N(0, 0.01^2) init, batch 60) at two learning rates, with the Frobenius norm of every
 * weight matrix in curves.csv (metric wnorm.L<k>). With the full backward the gradient of
 * BN(Wu) is orthogonal to W (scale invariance, Ioffe §3.3), so |W| changes only at second
 * order; the frozen backward loses that property. */
#include <math.h>
#include <string.h>

#include "ablate.h"

static const double lrs[] = {0.2, 1.0};
static const char *const kinds[] = {"nobn", "bn-full", "bn-frozen"};

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    int seeds = ab_seeds(ctx, 1);
    for (int l = 0; l < 2; l++)
        for (int kind = 0; kind < 3; kind++)
            for (int s = 1; s <= seeds; s++) {
                ab_run *r = ab_run_add(ctx, runs, n, "full-vs-frozen");
                if (!r) return false;
                double lr = o->n_lrs ? o->lrs[0] * lrs[l] / lrs[0] : lrs[l];
                snprintf(r->variant, sizeof r->variant, "%s-lr%g-s%d", kinds[kind], lr, s);
                r->n_hidden = 3;
                r->width = 100;
                snprintf(r->act, sizeof r->act, "sigmoid");
                r->cfg.bn = kind > 0;
                r->cfg.bn_frozen = kind == 2;
                r->cfg.lr = lr;
                r->cfg.batch = o->batch ? o->batch : 60;
                snprintf(r->cfg.init, sizeof r->cfg.init, "normal");
                r->cfg.init_scale = 0.01;
                r->cfg.seed = (uint64_t)s;
                r->cfg.train_limit = o->train_limit ? o->train_limit : o->quick ? 10000 : 0;
                r->cfg.epochs = 2;
                r->cfg.steps = o->steps ? o->steps : o->quick ? 1000 : 0;
                r->curve_every = o->quick ? 10 : 25;
                r->weight_norms = true;
            }
    return true;
}

/* max over layers of |W_k(end)| / |W_k(first record)| */
static double growth(ab_report *rep, int run) {
    double g = 0;
    for (int k = 1; k <= 4; k++) {
        char m[32];
        snprintf(m, sizeof m, "wnorm.L%d", k);
        double v[4096];
        int n = ab_series(rep, run, m, NULL, v, 4096);
        if (n >= 2 && v[0] > 0 && v[n - 1] / v[0] > g) g = v[n - 1] / v[0];
        if (n >= 1 && !isfinite(v[n - 1])) g = INFINITY;
    }
    return g;
}

static void report(ab_report *rep) {
    FILE *f = rep->md;
    fprintf(f, "E1's sigmoid MLP 784-100-100-100-10, N(0, 0.01^2) init, plain SGD, batch 60, %s. Weight growth = "
               "max over layers of |W(end)| / |W(first record)|.\n\n",
            rep->ctx->o->quick ? "1000 steps on 10k images (quick)" : "2 epochs");
    ab_runs_table(rep, "full-vs-frozen", NULL);
    fprintf(f, "| lr | no BN: outcome, growth | BN full: outcome, growth | BN frozen-stats: outcome, growth |\n"
               "|---|---|---|---|\n");
    bool shown = false;
    int frozen_fails = 0, frozen_grows = 0, full_trains = 0;
    for (int l = 0; l < 2; l++) {
        int r[3];
        double lr = 0;
        char v[48];
        for (int kind = 0; kind < 3; kind++) {
            r[kind] = -1;
            for (int i = 0; i < rep->n_runs; i++) {
                const ab_run *run = &rep->runs[i];
                snprintf(v, sizeof v, "%s-lr", kinds[kind]);
                if (strcmp(run->experiment, "full-vs-frozen") || strncmp(run->variant, v, strlen(v)))
                    continue;
                if (fabs(run->cfg.lr - (rep->ctx->o->n_lrs ? rep->ctx->o->lrs[0] * lrs[l] / lrs[0] : lrs[l])) > 1e-12)
                    continue;
                r[kind] = i;
                lr = run->cfg.lr;
                break;
            }
        }
        if (r[0] < 0 || r[1] < 0 || r[2] < 0) continue;
        double g[3] = {growth(rep, r[0]), growth(rep, r[1]), growth(rep, r[2])};
        fprintf(f, "| %g | %s, %.3g | %s, %.3g | %s, %.3g |\n", lr, rep->res[r[0]].outcome, g[0],
                rep->res[r[1]].outcome, g[1], rep->res[r[2]].outcome, g[2]);
        bool full_ok = !strcmp(rep->res[r[1]].outcome, "trained");
        full_trains += full_ok;
        frozen_fails += full_ok && strcmp(rep->res[r[2]].outcome, "trained");
        frozen_grows += full_ok && g[2] >= 2 * g[1];
        ab_plot p;
        char name[48], title[96];
        snprintf(name, sizeof name, "full_vs_frozen_lr%g", lr);
        snprintf(title, sizeof title, "weight norm of the first layer, lr %g", lr);
        if (!shown || l == 1) {
            if (ab_plot_begin(rep, &p, name, title, "training step", "|W1| (Frobenius)", false, true)) {
                ab_plot_metric(rep, &p, r[0], "wnorm.L1", "no BN", "lines lw 2");
                ab_plot_metric(rep, &p, r[1], "wnorm.L1", "BN, full backward", "lines lw 2");
                ab_plot_metric(rep, &p, r[2], "wnorm.L1", "BN, frozen-stats backward", "lines lw 2");
                ab_plot_end(rep, &p, title);
            }
            shown = true;
        }
    }
    fprintf(f, "\n| criterion | what | measured | result |\n|---|---|---|---|\n");
    char s[160];
    snprintf(s, sizeof s, "full trains at %d lr(s); there frozen fails at %d, grows >= 2x more at %d",
             full_trains, frozen_fails, frozen_grows);
    ab_criterion(rep, "full-vs-frozen", "frozen-stats fails to train, or grows its weights much "
                 "more, where the full backward trains", s, frozen_fails + frozen_grows > 0);
}

const ab_experiment ab_exp_full_vs_frozen = {"full-vs-frozen", "BN's full backward against a "
                                             "backward that ignores the batch statistics", expand,
                                             report};

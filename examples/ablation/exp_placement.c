/* examples/ablation/exp_placement.c — where the normalization goes: before the activation
 * (conv/fc -> norm -> ReLU, Ioffe & Szegedy's placement) or after it (conv/fc -> ReLU ->
 * norm), for BatchNorm and GroupNorm, on a CNN and an MLP, each against the same network
 * without normalization. The architecture language moves every norm to either side of its
 * activation (em_arch_opts.norm_after); a layer followed at once by a norm has no bias, so
 * "after" gives the convolutions and linear layers their biases back. */
#include <math.h>
#include <string.h>

#include "ablate.h"

static const struct {
    const char *name, *label, *spec;
} nets[] = {
    {"cnn", "CNN", "conv16 bn relu pool2 conv32 bn relu pool2 flatten fc128 bn relu fc10"},
    {"mlp", "MLP", "flatten fc128 bn relu fc128 bn relu fc128 bn relu fc10"},
};
static const struct {
    const char *name, *label, *norm;
    int after;
} kinds[] = {
    {"bn-before", "BN before ReLU", "bn", 0},
    {"bn-after", "BN after ReLU", "bn", 1},
    {"gn-before", "GN before ReLU", "gn:4", 0},
    {"gn-after", "GN after ReLU", "gn:4", 1},
    {"none", "no normalization", "none", -1},
};
#define N_KINDS 5

static long limit(const ab_opts *o) {
    return o->train_limit ? o->train_limit : o->quick ? 4000 : 30000;
}

static double lr_of(const ab_opts *o) { return o->n_lrs ? o->lrs[0] : 0.05; }

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    int seeds = ab_seeds(ctx, 3);
    for (int net = 0; net < 2; net++)
        for (int k = 0; k < N_KINDS; k++)
            for (int s = 1; s <= seeds; s++) {
                ab_run *r = ab_run_add(ctx, runs, n, "placement");
                if (!r) return false;
                snprintf(r->variant, sizeof r->variant, "%s-%s-s%d", nets[net].name, kinds[k].name, s);
                r->model = ab_arch_model;
                snprintf(r->arch, sizeof r->arch, "%s", nets[net].spec);
                snprintf(r->norm, sizeof r->norm, "%s", kinds[k].norm);
                r->norm_after = kinds[k].after;
                r->cfg.bn = !strcmp(kinds[k].norm, "bn");
                r->cfg.batch = o->batch ? o->batch : 64;
                r->cfg.lr = lr_of(o);
                r->cfg.momentum = 0.9;
                r->cfg.seed = (uint64_t)s;
                r->cfg.train_limit = limit(o);
                r->cfg.epochs = 1;
                r->cfg.steps = o->steps;
                r->curve_every = 10;
            }
    return true;
}

static double acc_of(const ab_report *rep, int i) { return 1 - ab_run_error(rep, i); }

static void report(ab_report *rep) {
    FILE *f = rep->md;
    const ab_opts *o = rep->ctx->o;
    int seeds = ab_seeds(rep->ctx, 3);
    fprintf(f, "CNN `%s` and MLP `%s`, every norm replaced by the row's (GroupNorm: 4 "
               "groups) and moved before or after its ReLU; PyTorch's default init, SGD "
               "momentum 0.9, lr %g, batch 64, one pass over %ld training images; test "
               "accuracy (running statistics for BN) on %s, median over %d seed(s).\n\n",
            nets[0].spec, nets[1].spec, lr_of(o), limit(o),
            o->quick ? "2000 test images" : "the 10000 test images", seeds);
    fprintf(f, "Published: Ioffe & Szegedy (2015, §3.2) put BatchNorm before the "
               "nonlinearity, on Wu + b. Mishkin et al.'s systematic evaluation (2016, "
               "arXiv:1606.02228; CaffeNet at 128 px on ImageNet, their benchmark's "
               "batchnorm table) measured top-1 accuracy 0.474 with BN before ReLU (0.478 "
               "with a scale and bias layer) and 0.499 after ReLU, and put BN after the "
               "nonlinearity from then on.\n\n| configuration | CNN | MLP |\n|---|---|---|\n");
    double acc[2][N_KINDS];
    for (int k = 0; k < N_KINDS; k++) {
        for (int net = 0; net < 2; net++) {
            char config[48];
            snprintf(config, sizeof config, "%s-%s", nets[net].name, kinds[k].name);
            acc[net][k] = ab_seed_median(rep, "placement", config, acc_of, NULL);
        }
        fprintf(f, "| %s | %.4f | %.4f |\n", kinds[k].label, acc[0][k], acc[1][k]);
    }
    fprintf(f, "\n");
    ab_runs_table(rep, "placement", NULL);
    fprintf(f, "| criterion | what | measured | result |\n|---|---|---|---|\n");
    int not_worse = 0, pairs = 0, beat = 0, normed = 0;
    char s[240] = "", part[64];
    bool data = true;
    for (int net = 0; net < 2; net++)
        for (int k = 0; k < 4; k += 2) {
            double before = acc[net][k], after = acc[net][k + 1];
            data &= !isnan(before) && !isnan(after) && !isnan(acc[net][4]);
            pairs++;
            not_worse += after >= before - 0.005;
            beat += (before > acc[net][4]) + (after > acc[net][4]);
            normed += 2;
            snprintf(part, sizeof part, "%s%s %s %+.2f pp", pairs > 1 ? "; " : "",
                     nets[net].label, k ? "GN" : "BN", 100 * (after - before));
            strncat(s, part, sizeof s - strlen(s) - 1);
        }
    ab_criterion_data(rep, "placement (a)", "after the ReLU is not worse than before it (at most "
                      "0.5 pp below) in at least 3 of the 4 pairs (Mishkin et al.: after is "
                      "2.5 pp better)", s, data, not_worse >= 3);
    snprintf(s, sizeof s, "%d of %d normalized configurations above the unnormalized network",
             beat, normed);
    ab_criterion_data(rep, "placement (report only)", "normalization, on either side, beats none "
                      "on both networks", s, data, beat == normed);
    ab_plot p;
    if (ab_plot_begin(rep, &p, "placement", "test accuracy: the norm before or after the ReLU",
                      "configuration", "test accuracy", false, false)) {
        fprintf(p.gp, "set style fill solid 0.6\nset boxwidth 0.35\nset xrange [-0.7:4.7]\n"
                      "set xtics ('BN before' 0, 'BN after' 1, 'GN before' 2, 'GN after' 3, "
                      "'none' 4)\n");
        double x[2][N_KINDS];
        for (int k = 0; k < N_KINDS; k++) {
            x[0][k] = k - 0.18;
            x[1][k] = k + 0.18;
        }
        ab_plot_series(&p, "CNN", "boxes", x[0], acc[0], N_KINDS);
        ab_plot_series(&p, "MLP", "boxes", x[1], acc[1], N_KINDS);
        ab_plot_end(rep, &p, "placement: test accuracy with the norm before or after the ReLU");
    }
}

const ab_experiment ab_exp_placement = {"placement", "the norm before or after the "
                                        "activation, BatchNorm and GroupNorm, CNN and MLP",
                                        expand, report};

/* examples/ablation/exp_resdepth.c — residual networks without normalization (Zhang et al.
 * 2019, Fixup; De & Smith 2020, SkipInit): residual MLPs on Fashion-MNIST,
 *     flatten fc64  N x res( [bn] relu fc64 [bn] relu fc64 )  [bn] relu fc10
 * (He et al.'s pre-activation block with fully connected layers, and the final norm and
 * ReLU before the classifier), at increasing depth N, trained at one learning rate in five
 * ways:
 *   bn            BatchNorm in every block, He init
 *   zero-gamma    the same, each branch's last BatchNorm starting with gamma = 0 (Goyal et
 *                 al. 2017), so each block starts as the identity
 *   none-default  no normalization, PyTorch's default init
 *   none-he       no normalization, He init (the init Fixup starts from)
 *   fixup         no normalization, He init, each branch's first layer scaled by N^(-1/2),
 *                 its last layer and the classifier set to 0 (em_model_fixup)
 * Without normalization a block adds its branch's variance to its input's, so at He init
 * the signal grows like 2^N; BatchNorm and Fixup keep each block's contribution small. */
#include <math.h>
#include <string.h>

#include "ablate.h"

static const int depths[] = {2, 8, 32, 96};
static const int quick_depths[] = {2, 16};
#define N_D 4
#define N_QD 2

static const struct {
    const char *name, *label, *init;
    bool bn;
    int res_init;
} kinds[] = {
    {"bn", "BatchNorm", "kaiming-normal", true, AB_INIT_PLAIN},
    {"zero-gamma", "BatchNorm, zero-gamma", "kaiming-normal", true, AB_INIT_ZERO_GAMMA},
    {"none-default", "none, default init", "default", false, AB_INIT_PLAIN},
    {"none-he", "none, He init", "kaiming-normal", false, AB_INIT_PLAIN},
    {"fixup", "none, Fixup", "kaiming-normal", false, AB_INIT_FIXUP},
};
#define N_KINDS 5

static int n_depths(const ab_ctx *ctx) { return ctx->o->quick ? N_QD : N_D; }
static int depth_at(const ab_ctx *ctx, int i) { return ctx->o->quick ? quick_depths[i] : depths[i]; }

static long limit(const ab_opts *o) {
    return o->train_limit ? o->train_limit : o->quick ? 8000 : 30000;
}

static double lr_of(const ab_opts *o) { return o->n_lrs ? o->lrs[0] : 0.05; }

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    int seeds = ab_seeds(ctx, 3);
    for (int k = 0; k < N_KINDS; k++)
        for (int i = 0; i < n_depths(ctx); i++)
            for (int s = 1; s <= seeds; s++) {
                ab_run *r = ab_run_add(ctx, runs, n, "residual-depth");
                if (!r) return false;
                int d = depth_at(ctx, i);
                snprintf(r->variant, sizeof r->variant, "%s-d%d-s%d", kinds[k].name, d, s);
                r->model = ab_arch_model;
                snprintf(r->arch, sizeof r->arch,
                         "flatten fc64 %d*res(bn relu fc64 bn relu fc64) bn relu fc10", d);
                snprintf(r->norm, sizeof r->norm, "%s", kinds[k].bn ? "bn" : "none");
                r->res_init = kinds[k].res_init;
                r->cfg.bn = kinds[k].bn;
                snprintf(r->cfg.init, sizeof r->cfg.init, "%s", kinds[k].init);
                r->cfg.batch = o->batch ? o->batch : 64;
                r->cfg.lr = lr_of(o);
                r->cfg.momentum = 0.9;
                r->cfg.seed = (uint64_t)s;
                r->cfg.train_limit = limit(o);
                r->cfg.epochs = 1;
                r->cfg.steps = o->steps;
                r->curve_every = 5;
            }
    return true;
}

/* a run trains when its test error is below TRAINS_BELOW % (chance: 90 %); one pass is
 * too short for the final-loss outcome to say so at every depth */
#define TRAINS_BELOW 40.0
static double trained(const ab_report *rep, int i) {
    double e = 100 * ab_run_error(rep, i);
    return isnan(e) ? NAN : e < TRAINS_BELOW;
}

static double error_pct(const ab_report *rep, int i) { return 100 * ab_run_error(rep, i); }

static void report(ab_report *rep) {
    FILE *f = rep->md;
    const ab_ctx *ctx = rep->ctx;
    const ab_opts *o = ctx->o;
    int nd = n_depths(ctx);
    fprintf(f, "Residual MLP `flatten fc64 N*res(bn relu fc64 bn relu fc64) bn relu fc10` "
               "(the norms removed for none and Fixup; N blocks, 2N + 2 weight layers), SGD "
               "momentum 0.9, lr %g, batch 64, one pass over %ld training images. A "
               "configuration *trains* when most of its seeds end with a test error below "
               "%g%% (chance 90%%); test error with the running statistics, "
               "median over %d seed(s), a diverged run at chance. Without normalization a "
               "block adds its branch's variance to the stream's: at He init a branch of two "
               "ReLU layers passes on about its input's variance, so the stream doubles with "
               "every block; PyTorch's default init (uniform, variance 1/(3 fan_in)) passes on "
               "about 1/36 of it, so the stream grows only by about 1 + 1/36 per block (14x "
               "in variance over 96 blocks).\n\n",
            lr_of(o), limit(o), TRAINS_BELOW, ab_seeds(ctx, 3));
    fprintf(f, "Published: Zhang et al. (2019, Fixup; their figure of depth against first-"
               "epoch test accuracy, CIFAR-10, BatchNorm's learning rate): without "
               "normalization the standard initialization fails to train deep residual "
               "networks, while Fixup trains them at every depth up to 10,000 layers, like "
               "BatchNorm. De & Smith (2020): a residual branch that starts at zero "
               "(SkipInit) makes deep residual networks trainable without normalization; "
               "Goyal et al. (2017) start each block's last BatchNorm at gamma = 0.\n\n"
               "| configuration |");
    for (int i = 0; i < nd; i++) fprintf(f, " %d blocks |", depth_at(ctx, i));
    fprintf(f, " deepest that trains |\n|---|");
    for (int i = 0; i <= nd; i++) fprintf(f, "---|");
    fprintf(f, "\n");
    double err[N_KINDS][N_D], ok[N_KINDS][N_D], x[N_D];
    int deepest[N_KINDS];
    for (int k = 0; k < N_KINDS; k++) {
        fprintf(f, "| %s |", kinds[k].label);
        deepest[k] = 0;
        for (int i = 0; i < nd; i++) {
            char config[32];
            snprintf(config, sizeof config, "%s-d%d", kinds[k].name, depth_at(ctx, i));
            x[i] = depth_at(ctx, i);
            err[k][i] = ab_seed_median(rep, "residual-depth", config, error_pct, NULL);
            ok[k][i] = ab_seed_median(rep, "residual-depth", config, trained, NULL);
            if (ok[k][i] > 0.5 && deepest[k] == i) deepest[k] = i + 1;
            fprintf(f, " %s, %.1f%% |", isnan(ok[k][i]) ? "–" : ok[k][i] > 0.5 ? "trains" : "fails",
                    err[k][i]);
        }
        if (deepest[k]) fprintf(f, " %d blocks |\n", depth_at(ctx, deepest[k] - 1));
        else fprintf(f, " none |\n");
    }
    fprintf(f, "\n");
    ab_runs_table(rep, "residual-depth", NULL);
    fprintf(f, "| criterion | what | measured | result |\n|---|---|---|---|\n");
    int last = nd - 1;
    char s[240];
    bool data = true;
    for (int k = 0; k < N_KINDS; k++) data &= !isnan(ok[k][last]);
    bool bn_fixup = ok[0][last] > 0.5 && ok[4][last] > 0.5;
    for (int k = 2; k <= 3; k++) {   /* none-default, none-he */
        snprintf(s, sizeof s, "%d blocks: BN %s, Fixup %s; without normalization at %s: %s "
                 "(test error %.1f%%, BN %.1f%%)", depth_at(ctx, last), ok[0][last] > 0.5 ? "trains" : "fails",
                 ok[4][last] > 0.5 ? "trains" : "fails", k == 2 ? "PyTorch's default init" :
                 "He init", ok[k][last] > 0.5 ? "trains" : "fails", err[k][last], err[0][last]);
        ab_criterion_data(rep, k == 2 ? "residual-depth (a)" : "residual-depth (b)",
                          k == 2 ? "without normalization at the default initialization "
                                   "(PyTorch's) the deepest nets fail where BN and Fixup train"
                                 : "the same at the standard initialization of ResNets (He's), "
                                   "the one Fixup rescales", s, data,
                          bn_fixup && !(ok[k][last] > 0.5));
    }
    snprintf(s, sizeof s, "deepest that trains: zero-gamma %d, BN %d blocks",
             deepest[1] ? depth_at(ctx, deepest[1] - 1) : 0,
             deepest[0] ? depth_at(ctx, deepest[0] - 1) : 0);
    ab_criterion_data(rep, "residual-depth (report only)", "zero-gamma trains at least as deep "
                      "as BN", s, data, deepest[1] >= deepest[0]);
    ab_plot p;
    if (ab_plot_begin(rep, &p, "residual_depth", "residual MLPs: test error against depth",
                      "residual blocks N (2N + 2 weight layers)", "test error (%)", true, false)) {
        for (int k = 0; k < N_KINDS; k++)
            ab_plot_series(&p, kinds[k].label, "linespoints lw 2 pt 7", x, err[k], nd);
        ab_plot_end(rep, &p, "residual-depth: test error after one pass against the number of "
                             "residual blocks (diverged runs at chance, 90%)");
    }
}

const ab_experiment ab_exp_residual_depth = {"residual-depth", "deep residual MLPs with "
                                             "BatchNorm, without it, with zero-gamma and with "
                                             "Fixup (Zhang et al. 2019)", expand, report};

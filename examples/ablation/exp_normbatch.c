/* examples/ablation/exp_normbatch.c — Wu & He's GroupNorm experiment (2018, Fig. 1 and
 * Table 2) at CPU scale: mnist-cnn with BatchNorm, GroupNorm, LayerNorm, InstanceNorm or no
 * normalization after each convolution and its hidden linear layer, trained at batch sizes 2 to 128 on the same
 * number of examples, the learning rate scaled linearly with the batch (Goyal et al.'s
 * rule, as Wu & He do); the test error with the running statistics (BatchNorm) against
 * the batch size. BatchNorm normalizes over the batch, the others over each example alone,
 * so only BatchNorm's error should rise as the batch shrinks. */
#include <math.h>
#include <string.h>

#include "ablate.h"

static const int batches[] = {2, 4, 8, 16, 32, 64, 128};
static const int quick_batches[] = {2, 8, 32, 128};
#define N_B 7
#define N_QB 4
static const char *const names[] = {"bn", "gn", "ln", "in", "none"};
static const char *const labels[] = {"BatchNorm", "GroupNorm (4 groups)", "LayerNorm",
                                     "InstanceNorm (LayerNorm on fc128)", "no normalization"};
#define N_NORMS 5
#define LR_AT_32 0.02   /* SGD momentum 0.9; lr = 0.02 x batch / 32 */

/* mnist-cnn with the norm of row k after each convolution and after fc128; InstanceNorm
 * needs an image, so its fc128 gets LayerNorm, the per-example norm of a flat vector */
static void spec_of(int k, char *buf, size_t len) {
    static const char *const conv[] = {"bn", "gn:4", "ln", "in", ""};
    static const char *const fc[] = {"bn", "gn:4", "ln", "ln", ""};
    snprintf(buf, len, "conv16 %s relu pool2 conv32 %s relu pool2 flatten fc128 %s relu fc10",
             conv[k], conv[k], fc[k]);
}

static int n_batches(const ab_ctx *ctx) { return ctx->o->quick ? N_QB : N_B; }
static int batch_at(const ab_ctx *ctx, int i) { return ctx->o->quick ? quick_batches[i] : batches[i]; }

static double lr_at_32(const ab_opts *o) { return o->n_lrs ? o->lrs[0] : LR_AT_32; }

static long examples(const ab_opts *o) {
    return o->train_limit ? o->train_limit : o->quick ? 3000 : 30000;
}

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    int seeds = ab_seeds(ctx, 3);
    for (int k = 0; k < N_NORMS; k++)
        for (int i = 0; i < n_batches(ctx); i++)
            for (int s = 1; s <= seeds; s++) {
                ab_run *r = ab_run_add(ctx, runs, n, "norm-batch");
                if (!r) return false;
                int b = batch_at(ctx, i);
                snprintf(r->variant, sizeof r->variant, "%s-b%d-s%d", names[k], b, s);
                r->model = ab_arch_model;
                spec_of(k, r->arch, sizeof r->arch);
                r->cfg.bn = k == 0;
                r->cfg.batch = b;
                r->cfg.lr = lr_at_32(o) * b / 32;
                r->cfg.momentum = 0.9;
                snprintf(r->cfg.init, sizeof r->cfg.init, "kaiming-normal");
                r->cfg.seed = (uint64_t)s;
                r->cfg.train_limit = examples(o);
                r->cfg.epochs = 1;               /* the same examples at every batch size */
                r->cfg.steps = o->steps;
                long steps = examples(o) / b;
                r->curve_every = steps >= 200 ? steps / 100 : 2;
            }
    return true;
}

static double error_pct(const ab_report *rep, int run) { return 100 * ab_run_error(rep, run); }

static void report(ab_report *rep) {
    FILE *f = rep->md;
    const ab_ctx *ctx = rep->ctx;
    const ab_opts *o = ctx->o;
    int nb = n_batches(ctx);
    char spec[200];
    spec_of(0, spec, sizeof spec);
    fprintf(f, "Network: mnist-cnn, `%s`, with every `bn` replaced by the norm of the row "
               "(GroupNorm: 4 groups; InstanceNorm needs an image, so fc128 gets LayerNorm; "
               "none: the layers get a bias). He init, SGD momentum 0.9, "
               "lr %g x batch / 32 (linear scaling), one pass over %ld training images at "
               "every batch size. Test error on %s, with the running statistics for "
               "BatchNorm (momentum 0.9); the median over %d seed(s); a run that diverged "
               "counts at chance (90%%).\n\n",
            spec, lr_at_32(o), examples(o), o->quick ? "2000 test images" : "the 10000 test images",
            ab_seeds(ctx, 3));
    fprintf(f, "Published (Wu & He 2018, Table 2, the numbers of Fig. 1): ResNet-50 on "
               "ImageNet, validation error (%%) at 32/16/8/4/2 images per GPU: BatchNorm "
               "23.6, 23.7, 24.8, 27.3, 34.7; GroupNorm 24.1, 24.2, 24.0, 24.2, 24.1. At 32 "
               "images (Table 1): LayerNorm 25.3, InstanceNorm 28.4.\n\n| norm |");
    for (int i = 0; i < nb; i++) fprintf(f, " batch %d |", batch_at(ctx, i));
    fprintf(f, "\n|---|");
    for (int i = 0; i < nb; i++) fprintf(f, "---|");
    fprintf(f, "\n");
    double err[N_NORMS][N_B], x[N_B];
    for (int k = 0; k < N_NORMS; k++) {
        fprintf(f, "| %s |", labels[k]);
        for (int i = 0; i < nb; i++) {
            char config[32];
            snprintf(config, sizeof config, "%s-b%d", names[k], batch_at(ctx, i));
            err[k][i] = ab_seed_median(rep, "norm-batch", config, error_pct, NULL);
            x[i] = batch_at(ctx, i);
            if (isnan(err[k][i])) fprintf(f, " – |");
            else fprintf(f, " %.2f |", err[k][i]);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\n");
    ab_runs_table(rep, "norm-batch", NULL);
    /* the criteria: batch 2 against batch 32 (the paper's ends), and the range over all */
    int i2 = 0, i32 = -1;
    for (int i = 0; i < nb; i++)
        if (batch_at(ctx, i) == 32) i32 = i;
    double range[2] = {NAN, NAN};      /* BN, GN: max - min error over the batch sizes */
    for (int k = 0; k < 2; k++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < nb; i++) {
            if (isnan(err[k][i])) lo = NAN;
            if (err[k][i] < lo) lo = err[k][i];
            if (err[k][i] > hi) hi = err[k][i];
        }
        range[k] = hi - lo;
    }
    fprintf(f, "| criterion | what | measured | result |\n|---|---|---|---|\n");
    char s[200];
    double bn2 = err[0][i2], bn32 = i32 >= 0 ? err[0][i32] : NAN, gn2 = err[1][i2];
    snprintf(s, sizeof s, "BN %.2f%% at batch 2, %.2f%% at 32 (+%.2f pp; paper +11.1 pp)", bn2,
             bn32, bn2 - bn32);
    ab_criterion_data(rep, "norm-batch (a)", "BN's error at batch 2 clearly above its error at "
                      "32: at least 2 pp more", s, !isnan(bn2) && !isnan(bn32),
                      bn2 >= bn32 + 2);
    snprintf(s, sizeof s, "range over batch sizes: GN %.2f pp, BN %.2f pp (paper 0.2 vs 11.1)",
             range[1], range[0]);
    ab_criterion_data(rep, "norm-batch (b)", "GN's change across batch sizes much smaller than "
                      "BN's: at most half of it", s, !isnan(range[0]) && !isnan(range[1]),
                      range[1] <= 0.5 * range[0]);
    snprintf(s, sizeof s, "batch 2: GN %.2f%%, BN %.2f%% (paper 24.1 vs 34.7)", gn2, bn2);
    ab_criterion_data(rep, "norm-batch (c)", "GN better than BN at batch 2", s,
                      !isnan(gn2) && !isnan(bn2), gn2 < bn2);
    ab_plot p;
    if (ab_plot_begin(rep, &p, "norm_batch", "test error against the batch size, per normalization",
                      "batch size (images per step; lr scaled with it)", "test error (%, log scale)",
                      true, true)) {
        fprintf(p.gp, "set xtics (");
        for (int i = 0; i < nb; i++) fprintf(p.gp, "%s'%d' %d", i ? ", " : "", batch_at(ctx, i), batch_at(ctx, i));
        fprintf(p.gp, ")\nset key top center horizontal maxrows 2\n");   /* a narrow figure */
        for (int k = 0; k < N_NORMS; k++)
            ab_plot_series(&p, labels[k], "linespoints lw 2 pt 7", x, err[k], nb);
        ab_plot_end(rep, &p, "norm-batch: test error against the batch size, one curve per "
                             "normalization (Wu & He's Fig. 1 at CPU scale)");
    }
}

const ab_experiment ab_exp_norm_batch = {"norm-batch", "BatchNorm, GroupNorm, LayerNorm, "
                                         "InstanceNorm and none across batch sizes (Wu & He "
                                         "2018, Fig. 1)", expand, report};

/* examples/ablation/exp_batchsize.c — BN's mini-batch noise as a regularizer: the
 * train/test accuracy gap and the final test accuracy for batch sizes {8, ..., 256}, with
 * and without BN, at a fixed number of epochs and a fixed lr, on 784-100-100-100-10 ReLU
 * (He init, plain SGD). The training accuracy is the running mean over the last epoch (BN
 * in training mode), so it is itself noisy at small batches; the comparison is qualitative. */
#include <math.h>
#include <string.h>

#include "ablate.h"

static const int batches[] = {8, 16, 32, 64, 128, 256};
#define N_B 6

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    int seeds = ab_seeds(ctx, 1);
    for (int bn = 0; bn < 2; bn++)
        for (int i = 0; i < N_B; i++)
            for (int s = 1; s <= seeds; s++) {
                ab_run *r = ab_run_add(ctx, runs, n, "batch-size");
                if (!r) return false;
                snprintf(r->variant, sizeof r->variant, "%s-b%d-s%d", bn ? "bn" : "nobn", batches[i], s);
                r->n_hidden = 3;
                r->width = 100;
                snprintf(r->act, sizeof r->act, "relu");
                r->cfg.bn = bn;
                r->cfg.lr = o->n_lrs ? o->lrs[0] : 0.05;
                r->cfg.batch = batches[i];
                snprintf(r->cfg.init, sizeof r->cfg.init, "kaiming-normal");
                r->cfg.seed = (uint64_t)s;
                r->cfg.train_limit = o->train_limit ? o->train_limit : o->quick ? 4000 : 20000;
                r->cfg.epochs = o->quick ? 3 : 8;
                r->cfg.steps = o->steps;
                r->curve_every = batches[i] <= 16 ? 50 : 10;
            }
    return true;
}

static void report(ab_report *rep) {
    FILE *f = rep->md;
    fprintf(f, "784-100-100-100-10 ReLU, He init, plain SGD lr 0.05, %s; the same number of "
               "epochs for every batch size (so small batches take more steps).\n\n| batch | no BN: "
               "train acc | no BN: test acc | no BN: gap | BN: train acc | BN: test acc | BN: gap |\n"
               "|---|---|---|---|---|---|---|\n",
            rep->ctx->o->quick ? "4000 training images, 3 epochs (quick)" : "20000 training images, 8 epochs");
    double gap[2][N_B], test[2][N_B], x[N_B];
    int smaller_gap = 0, better = 0, rows = 0;
    for (int i = 0; i < N_B; i++) {
        x[i] = batches[i];
        double tr[2] = {NAN, NAN};
        for (int bn = 0; bn < 2; bn++) {
            char v[48];
            snprintf(v, sizeof v, "%s-b%d-s1", bn ? "bn" : "nobn", batches[i]);
            int r = ab_find(rep, "batch-size", v);
            gap[bn][i] = test[bn][i] = NAN;
            if (r < 0) continue;
            ab_result_extra(&rep->res[r], "final_train_acc", &tr[bn]);
            test[bn][i] = rep->res[r].final_test_acc;
            gap[bn][i] = tr[bn] - test[bn][i];
        }
        fprintf(f, "| %d | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f |\n", batches[i], tr[0], test[0][i],
                gap[0][i], tr[1], test[1][i], gap[1][i]);
        if (isfinite(gap[0][i]) && isfinite(gap[1][i])) {
            rows++;
            smaller_gap += gap[1][i] <= gap[0][i];
            better += test[1][i] >= test[0][i];
        }
    }
    fprintf(f, "\n| criterion | what | measured | result |\n|---|---|---|---|\n");
    char s[120];
    snprintf(s, sizeof s, "BN's gap smaller at %d of %d batch sizes", smaller_gap, rows);
    ab_criterion(rep, "batch-size (report only)", "BN's train/test gap <= no-BN's at most batch sizes",
                 s, 2 * smaller_gap > rows);
    snprintf(s, sizeof s, "BN's test accuracy higher at %d of %d batch sizes", better, rows);
    ab_criterion(rep, "batch-size (report only)", "BN's test accuracy >= no-BN's at most batch sizes",
                 s, 2 * better > rows);
    ab_plot p;
    if (ab_plot_begin(rep, &p, "batch_size", "test accuracy and train/test gap vs batch size",
                      "batch size", "accuracy / gap", true, false)) {
        ab_plot_series(&p, "test acc, no BN", "linespoints lw 2 pt 7", x, test[0], N_B);
        ab_plot_series(&p, "test acc, BN", "linespoints lw 2 pt 7", x, test[1], N_B);
        ab_plot_series(&p, "gap, no BN", "linespoints lw 2 dt 2", x, gap[0], N_B);
        ab_plot_series(&p, "gap, BN", "linespoints lw 2 dt 2", x, gap[1], N_B);
        ab_plot_end(rep, &p, "batch size: final test accuracy and train - test accuracy gap");
    }
}

const ab_experiment ab_exp_batch_size = {"batch-size", "BN's batch noise as a regularizer",
                                         expand, report};

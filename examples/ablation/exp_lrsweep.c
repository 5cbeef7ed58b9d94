/* examples/ablation/exp_lrsweep.c — E3a, the learning-rate grid on a deep ReLU MLP
 * (784-[100x6]-10, He init, plain SGD, batch 64) with and without BatchNorm; E3b, the same
 * grid on mnist-cnn for one epoch (full protocol only); E3c, Myrtle's stress test (a run
 * per seed whose lr rises as 0.005 * 2^(e/2) over "epochs" e of K steps, linearly within
 * each, momentum 0.9); and E3d,
 * Bjorck's relative-loss probe at initialisation: L(theta - alpha g) / L(theta) for
 * alpha in logspace(-5, 1, 13) on the first 5 mini-batches; alpha* is the smallest alpha
 * with a ratio above 10^3 (or non-finite). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "examples/common/snapshot.h"
#include "examples/common/train.h"
#include "optim/schedule.h"

static const double default_grid[] = {0.01, 0.03, 0.1, 0.3, 1, 3};
#define N_ALPHA 13
#define N_PROBE_BATCHES 5
#define ALPHA_NEVER 100.0   /* "never within range" counts as > 10 */

static double alpha_of(int i) { return pow(10.0, -5 + 0.5 * i); }

static void deep_relu(const ab_ctx *ctx, ab_run *r, bool bn, double lr, int seed) {
    const ab_opts *o = ctx->o;
    r->n_hidden = 6;
    r->width = 100;
    snprintf(r->act, sizeof r->act, "relu");
    r->cfg.bn = bn;
    r->cfg.lr = lr;
    r->cfg.seed = (uint64_t)seed;
    snprintf(r->cfg.init, sizeof r->cfg.init, "kaiming-normal");
    r->cfg.batch = o->batch ? o->batch : 64;
    r->cfg.train_limit = o->train_limit ? o->train_limit : o->quick ? 10000 : 0;
    r->cfg.epochs = 2;                              /* full: 2 epochs (E3a) */
    r->cfg.steps = o->steps ? o->steps : o->quick ? 400 : 0;
    r->curve_every = o->quick ? 10 : 25;
}

/* E3d: forward/backward at theta, then forwards at theta - alpha g with the tape not
 * recording; the snapshot puts parameters and running statistics back bit-exactly. */
static int probe_init(const ab_ctx *ctx, int index, const ab_run *run, ab_result *res, FILE *out) {
    em_trainer t;
    em_error err;
    if (ab_trainer_new(ctx, run, &t, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        em_trainer_free(&t);
        return 1;
    }
    em_params p = em_module_params(t.net);
    em_snapshot snap;
    em_real *theta = malloc(p.n * sizeof *theta), *g = malloc(p.n * sizeof *g);
    if (!theta || !g || !em_snapshot_take(&snap, t.net)) {
        free(theta);
        free(g);
        em_trainer_free(&t);
        return 1;
    }
    memcpy(theta, p.data, p.n * sizeof *theta);
    em_module_train(t.net, true);
    em_loader_begin_epoch(t.train, 0);
    double astars[N_PROBE_BATCHES], l0_sum = 0;
    int nb = 0, n, status = 0;
    while (nb < N_PROBE_BATCHES && em_loader_next(t.train, t.x, t.labels, &n)) {
        em_tensor *loss = em_cross_entropy(t.tape, em_module_forward(t.net, t.tape, t.x), t.labels);
        if (!loss || em_backward(t.tape, loss) != EM_OK) {
            status = 1;
            break;
        }
        double l0 = loss->data[0];
        memcpy(g, p.grad, p.n * sizeof *g);
        em_module_zero_grad(t.net);
        em_tape_reset(t.tape);
        em_snapshot_restore(&snap, t.net);
        l0_sum += l0;
        double astar = ALPHA_NEVER;
        char m[32];
        snprintf(m, sizeof m, "rel_loss_b%d", nb + 1);
        for (int i = 0; i < N_ALPHA; i++) {
            double a = alpha_of(i);
            for (size_t j = 0; j < p.n; j++) p.data[j] = (em_real)(theta[j] - a * g[j]);
            em_tape_set_recording(t.tape, false);
            em_tensor *l = em_cross_entropy(t.tape, em_module_forward(t.net, t.tape, t.x), t.labels);
            double ratio = l ? l->data[0] / l0 : NAN;
            em_tape_reset(t.tape);
            em_tape_set_recording(t.tape, true);
            em_snapshot_restore(&snap, t.net);
            ab_curve(out, index, i, m, ratio);     /* step = alpha index: 10^(-5 + i/2) */
            if (!(ratio <= 1e3) && astar == ALPHA_NEVER) astar = a;
        }
        ab_curve(out, index, nb + 1, "alpha_star", astar);
        astars[nb++] = astar;
    }
    res->final_train_loss = nb ? l0_sum / nb : NAN;
    res->final_test_acc = res->best_test_acc = NAN;
    snprintf(res->outcome, sizeof res->outcome, "-");
    ab_extra(res, out, "alpha_star_median", ab_median(astars, nb));
    em_snapshot_free(&snap);
    free(theta);
    free(g);
    em_trainer_free(&t);
    return status;
}

/* E3c: lr(step) = 0.005 * 2^(e/2) at the start of epoch e, linear in between */
static double stress_lr(long step, long per_epoch) {
    double e = floor((double)step / per_epoch), f = (double)step / per_epoch - e;
    return 0.005 * pow(2, e / 2) * (1 - f) + 0.005 * pow(2, (e + 1) / 2) * f;
}

/* a probe every step that sets the next step's lr: the trainer reads its schedule each step */
static void stress_probe(const ab_run *run, int index, em_trainer *t, long step, FILE *out, void **state) {
    (void)state;
    if (step < 0) return;
    double lr = stress_lr(step, run->period);
    t->sched = em_schedule_constant(lr);
    if (step % run->curve_every == 0) ab_curve(out, index, step, "lr", lr);
}

#define STRESS_EPOCHS 22     /* up to 0.005 * 2^11 = 10 */

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    const double *grid = o->n_lrs ? o->lrs : default_grid;
    int n_lr = o->n_lrs ? o->n_lrs : 6, seeds = ab_seeds(ctx, 3);
    for (int bn = 0; bn < 2; bn++)
        for (int i = 0; i < n_lr; i++)
            for (int s = 1; s <= seeds; s++) {
                ab_run *r = ab_run_add(ctx, runs, n, "lr-sweep");
                if (!r) return false;
                deep_relu(ctx, r, bn, grid[i], s);
                snprintf(r->variant, sizeof r->variant, "%s-lr%g-s%d", bn ? "bn" : "nobn", grid[i], s);
            }
    /* E3b: the same grid on mnist-cnn (the suite's small CNN), one epoch, one seed; full
     * protocol only (12 runs of ~1 min) */
    for (int bn = 0; bn < 2 && !o->quick; bn++)
        for (int i = 0; i < n_lr; i++) {
            ab_run *r = ab_run_add(ctx, runs, n, "lr-sweep");
            if (!r) return false;
            snprintf(r->variant, sizeof r->variant, "cnn-%s-lr%g-s1", bn ? "bn" : "nobn", grid[i]);
            snprintf(r->cfg.model, sizeof r->cfg.model, "cnn");
            r->cfg.bn = bn;
            r->cfg.lr = grid[i];
            r->cfg.seed = 1;
            r->cfg.batch = o->batch ? o->batch : 64;
            r->cfg.train_limit = o->train_limit;
            r->cfg.epochs = 1;
            r->cfg.steps = o->steps;
            r->curve_every = 25;
        }
    for (int bn = 0; bn < 2; bn++)
        for (int s = 1; s <= seeds; s++) {
            ab_run *r = ab_run_add(ctx, runs, n, "lr-sweep");
            if (!r) return false;
            deep_relu(ctx, r, bn, 0.005, s);
            snprintf(r->variant, sizeof r->variant, "e3c-%s-s%d", bn ? "bn" : "nobn", s);
            r->cfg.momentum = 0.9;
            r->period = o->quick ? 50 : 150;           /* steps per stress "epoch" */
            r->cfg.steps = r->period * STRESS_EPOCHS;
            r->cfg.epochs = 1000;
            r->cfg.test_limit = 1000;
            r->probe = stress_probe;
            r->probe_every = 1;
            r->curve_every = 10;
        }
    for (int bn = 0; bn < 2; bn++) {
        ab_run *r = ab_run_add(ctx, runs, n, "lr-sweep");
        if (!r) return false;
        deep_relu(ctx, r, bn, 0, 1);
        r->cfg.lr = 1;       /* unused by the probe; the grid of alphas is the probe's */
        snprintf(r->variant, sizeof r->variant, "e3d-%s", bn ? "bn" : "nobn");
        r->fn = probe_init;
    }
    return true;
}

/* E3c: the lr at which a stress run failed — diverged (stopped by the trainer), or
 * collapsed (the 10-step mean loss back above 2.2 after it had been below 1.5); INFINITY
 * when it never failed */
static double stress_fail_lr(ab_report *rep, int run) {
    const ab_run *r = &rep->runs[run];
    const ab_result *s = &rep->res[run];
    long st[4096];
    double loss[4096], lo = INFINITY;
    int n = ab_series(rep, run, "train_loss", st, loss, 4096);
    for (int i = 0; i < n; i++) {
        if (loss[i] > 2.2 && lo < 1.5) return stress_lr(st[i] - 1, r->period);
        lo = fmin(lo, loss[i]);
    }
    if (s->diverged_step > 0) return stress_lr(s->diverged_step - 1, r->period);
    return INFINITY;
}

static void stress_report(ab_report *rep, bool figure) {
    int seeds = ab_seeds(rep->ctx, 3), r[2][64], nr = 0;
    for (int s = 1; s <= seeds && nr < 64; s++, nr++)
        for (int bn = 0; bn < 2; bn++) {
            char v[48];
            snprintf(v, sizeof v, "e3c-%s-s%d", bn ? "bn" : "nobn", s);
            if ((r[bn][nr] = ab_find(rep, "lr-sweep", v)) < 0) return;
        }
    if (!nr) return;
    double f[2], per[2][64];
    for (int bn = 0; bn < 2; bn++) {
        double v[64];
        for (int i = 0; i < nr; i++) v[i] = per[bn][i] = stress_fail_lr(rep, r[bn][i]);
        f[bn] = ab_median(v, nr);
    }
    double top = stress_lr(rep->runs[r[0][0]].cfg.steps, rep->runs[r[0][0]].period);
    char m[400];
    int len = snprintf(m, sizeof m, "first failure at lr (median of %d seed(s)): BN %.3g, no BN %.3g = %.3gx "
                       "(inf = none up to %.3g)", nr, f[1], f[0], f[1] / f[0], top);
    if (nr > 1) {
        len += snprintf(m + len, sizeof m - (size_t)len, "; per seed BN");
        for (int i = 0; i < nr && len < (int)sizeof m - 16; i++)
            len += snprintf(m + len, sizeof m - (size_t)len, " %.3g", per[1][i]);
        len += snprintf(m + len, sizeof m - (size_t)len, ", no BN");
        for (int i = 0; i < nr && len < (int)sizeof m - 16; i++)
            len += snprintf(m + len, sizeof m - (size_t)len, " %.3g", per[0][i]);
    }
    if (!figure) {
        ab_criterion(rep, "E3c", "lr at first divergence/collapse: BN >= 10x no-BN (hard minimum 3x)",
                     m, f[1] >= 10 * f[0]);
        return;
    }
    ab_plot p;
    if (ab_plot_begin(rep, &p, "lr_stress", "E3c: training loss as the lr rises (momentum 0.9)",
                      "learning rate", "training loss (10-step mean)", true, true)) {
        for (int bn = 0; bn < 2; bn++) {
            static long st[4096];
            static double x[4096], y[4096];
            int n = ab_series(rep, r[bn][0], "train_loss", st, y, 4096);
            for (int i = 0; i < n; i++) x[i] = stress_lr(st[i] - 1, rep->runs[r[bn][0]].period);
            ab_plot_series(&p, bn ? "with BN" : "without BN", "lines lw 2", x, y, n);
        }
        ab_plot_end(rep, &p, "E3c: the lr stress test (Myrtle.ai style), seed 1");
    }
}

/* the per-(bn, lr) summary over seeds */
typedef struct cell {
    double lr;
    int seeds, trained, diverged;
    double med_loss, med_acc;
} cell;

/* a run of the grid: E3a's MLP (cnn false) or E3b's CNN (cnn true) */
static bool in_grid(const ab_run *r, bool cnn) {
    return !r->fn && !r->probe && (r->n_hidden < 0) == cnn;
}

static int cells_of(ab_report *rep, bool cnn, bool bn, cell *cells, int max) {
    int idx[AB_MAX_RUNS], k = ab_select(rep, "lr-sweep", idx, AB_MAX_RUNS), nc = 0;
    for (int a = 0; a < k; a++) {
        const ab_run *r = &rep->runs[idx[a]];
        if (!in_grid(r, cnn) || r->cfg.bn != bn) continue;
        int c = 0;
        while (c < nc && cells[c].lr != r->cfg.lr) c++;
        if (c == nc) {
            if (nc == max) continue;
            cells[nc++] = (cell){.lr = r->cfg.lr};
        }
    }
    for (int c = 0; c < nc; c++) {
        double loss[128], acc[128];
        int m = 0;
        for (int a = 0; a < k && m < 128; a++) {
            const ab_run *r = &rep->runs[idx[a]];
            const ab_result *s = &rep->res[idx[a]];
            if (!in_grid(r, cnn) || r->cfg.bn != bn || r->cfg.lr != cells[c].lr) continue;
            bool div = !strcmp(s->outcome, "diverged");
            cells[c].trained += !strcmp(s->outcome, "trained");
            cells[c].diverged += div;
            loss[m] = div || !isfinite(s->final_train_loss) ? INFINITY : s->final_train_loss;
            acc[m++] = div || !isfinite(s->final_test_acc) ? 0.1 : s->final_test_acc;
        }
        cells[c].seeds = m;
        cells[c].med_loss = ab_median(loss, m);
        cells[c].med_acc = ab_median(acc, m);
    }
    return nc;
}

/* trained at an lr: the median seed's final loss is below the threshold */
static bool cell_trained(const ab_ctx *ctx, const cell *c) {
    return !strcmp(ab_outcome(ctx, false, c->med_loss), "trained");
}

/* the batch size of E3a's runs */
static int first_batch(const ab_report *rep) {
    for (int i = 0; i < rep->n_runs; i++)
        if (!strcmp(rep->runs[i].experiment, "lr-sweep") && in_grid(&rep->runs[i], false))
            return rep->runs[i].cfg.batch;
    return 64;
}

/* E3a (the MLP) or E3b (the CNN): the table and criteria (b1)-(b4) */
static void grid_report(ab_report *rep, bool cnn) {
    FILE *f = rep->md;
    const ab_ctx *ctx = rep->ctx;
    const char *id = cnn ? "E3b" : "E3";
    cell cells[2][AB_MAX_LRS];
    int nc[2];
    double largest[2] = {0, 0}, best_acc[2] = {0, 0};
    int count[2] = {0, 0};
    for (int bn = 0; bn < 2; bn++) {
        nc[bn] = cells_of(rep, cnn, bn, cells[bn], AB_MAX_LRS);
        for (int c = 0; c < nc[bn]; c++) {
            if (cell_trained(ctx, &cells[bn][c])) {
                count[bn]++;
                if (cells[bn][c].lr > largest[bn]) largest[bn] = cells[bn][c].lr;
            }
            if (cells[bn][c].med_acc > best_acc[bn]) best_acc[bn] = cells[bn][c].med_acc;
        }
    }
    if (cnn) {
        fprintf(f, "### E3b: learning-rate grid on a CNN\n\n");
        if (!nc[0] || !nc[1]) {
            fprintf(f, "Full protocol only (12 runs of one epoch): not run in the quick protocol.\n\n");
            return;
        }
        int batch = 64;
        for (int i = 0; i < rep->n_runs; i++)
            if (!strcmp(rep->runs[i].experiment, "lr-sweep") && in_grid(&rep->runs[i], true))
                batch = rep->runs[i].cfg.batch;
        fprintf(f, "mnist-cnn (conv3x3-16 [BN] ReLU maxpool, conv3x3-32 [BN] ReLU maxpool, FC 128 "
                   "[BN] ReLU, FC 10), default init, plain SGD, batch %d, one epoch, seed 1 "
                   "(E3b of docs/experiment-protocols.md, on Fashion-MNIST). Outcomes as in E3a.\n\n| lr | no BN: "
                   "outcome | no BN: final loss | no BN: test acc | BN: outcome | BN: final loss | "
                   "BN: test acc |\n|---|---|---|---|---|---|---|\n", batch);
    } else {
        fprintf(f, "### E3a: learning-rate grid\n\nDeep ReLU MLP 784-[100x6]-10, He (kaiming-normal) "
                   "init, plain SGD, batch %d, %s. Medians over seeds; a diverged run counts as "
                   "loss +inf and accuracy 0.1.\n\n| lr | no BN: outcome (trained/diverged of seeds) "
                   "| no BN: final loss | no BN: test acc | BN: outcome | BN: final loss | BN: test "
                   "acc |\n|---|---|---|---|---|---|---|\n",
                first_batch(rep),
                ctx->o->quick ? "quick protocol (400 steps on 10k images)" : "2 epochs");
    }
    for (int c = 0; c < nc[0] && c < nc[1]; c++) {
        const cell *a = &cells[0][c], *b = &cells[1][c];
        fprintf(f, "| %g | %s (%d/%d, %d div) | %.3f | %.3f | %s (%d/%d, %d div) | %.3f | %.3f |\n",
                a->lr, cell_trained(ctx, a) ? "trained" : a->diverged * 2 > a->seeds ? "diverged" : "slow",
                a->trained, a->seeds, a->diverged, a->med_loss, a->med_acc,
                cell_trained(ctx, b) ? "trained" : b->diverged * 2 > b->seeds ? "diverged" : "slow",
                b->trained, b->seeds, b->diverged, b->med_loss, b->med_acc);
    }
    fprintf(f, "\nLargest trained lr: no BN %g, BN %g. Trained lrs: no BN %d, BN %d.\n\n",
            largest[0], largest[1], count[0], count[1]);
    fprintf(f, "| criterion | what | measured | result |\n|---|---|---|---|\n");
    char m[160], name[16];
    double ratio = largest[0] > 0 ? largest[1] / largest[0] : largest[1] > 0 ? INFINITY : 0;
    snprintf(m, sizeof m, "BN %g / no BN %g = %.3gx", largest[1], largest[0], ratio);
    snprintf(name, sizeof name, "%s (b1)", id);
    ab_criterion(rep, name, "largest lr at which BN trains >= 10x no-BN's (hard minimum 3x)",
                 m, ratio >= 10 - 1e-9);
    snprintf(m, sizeof m, "BN %d, no BN %d", count[1], count[0]);
    snprintf(name, sizeof name, "%s (b2)", id);
    ab_criterion(rep, name, "number of lrs where BN trains >= no-BN's + 2", m,
                 count[1] >= count[0] + 2);
    int both = 0, worse = 0;
    for (int c = 0; c < nc[0] && c < nc[1]; c++)
        if (cell_trained(ctx, &cells[0][c]) && cell_trained(ctx, &cells[1][c])) {
            both++;
            worse += cells[1][c].med_loss > cells[0][c].med_loss;
        }
    snprintf(m, sizeof m, "BN worse at %d of %d shared lrs", worse, both);
    snprintf(name, sizeof name, "%s (b3)", id);
    ab_criterion(rep, name, "where both train, BN's final loss <= no-BN's (one exception)",
                 m, worse <= 1);
    snprintf(m, sizeof m, "BN %.4f, no BN %.4f", best_acc[1], best_acc[0]);
    snprintf(name, sizeof name, "%s (b4)", id);
    ab_criterion(rep, name, "BN's best test accuracy >= no-BN's best - 0.5 pp", m,
                 best_acc[1] >= best_acc[0] - 0.005);
}

/* the accuracy-against-lr figure of E3a or E3b */
static void grid_figure(ab_report *rep, bool cnn) {
    cell cells[2][AB_MAX_LRS];
    int nc[2];
    for (int bn = 0; bn < 2; bn++) nc[bn] = cells_of(rep, cnn, bn, cells[bn], AB_MAX_LRS);
    if (!nc[0] || !nc[1]) return;
    ab_plot p;
    const char *fig = cnn ? "lr_sweep_cnn_accuracy" : "lr_sweep_accuracy";
    if (ab_plot_begin(rep, &p, fig, cnn ? "final test accuracy vs learning rate, mnist-cnn"
                                        : "final test accuracy vs learning rate",
                      "learning rate", cnn ? "test accuracy" : "test accuracy (median over seeds)",
                      true, false)) {
        for (int bn = 0; bn < 2; bn++) {
            double x[AB_MAX_LRS], y[AB_MAX_LRS], dx[AB_MAX_LRS], dy[AB_MAX_LRS];
            int nd = 0;
            for (int c = 0; c < nc[bn]; c++) {
                x[c] = cells[bn][c].lr;
                y[c] = cells[bn][c].med_acc;
                if (cells[bn][c].diverged * 2 > cells[bn][c].seeds) {
                    dx[nd] = x[c];
                    dy[nd++] = 0.1;
                }
            }
            ab_plot_series(&p, bn ? "with BN" : "without BN", "linespoints lw 2 pt 7", x, y, nc[bn]);
            ab_plot_series(&p, bn ? "BN diverged" : "no BN diverged", "points pt 2 ps 3 lw 3", dx, dy, nd);
        }
        ab_plot_end(rep, &p, cnn ? "E3b: mnist-cnn test accuracy against the learning rate, diverged runs marked x"
                                 : "E3a: test accuracy against the learning rate, diverged runs marked x");
    }
}

static void report(ab_report *rep) {
    char m[160];
    grid_report(rep, false);
    stress_report(rep, false);

    /* E3d */
    double astar[2] = {NAN, NAN};
    int idx[AB_MAX_RUNS], k = ab_select(rep, "lr-sweep", idx, AB_MAX_RUNS);
    int probe_run[2] = {-1, -1};
    for (int a = 0; a < k; a++)
        if (rep->runs[idx[a]].fn) {
            int bn = rep->runs[idx[a]].cfg.bn;
            probe_run[bn] = idx[a];
            ab_result_extra(&rep->res[idx[a]], "alpha_star_median", &astar[bn]);
        }
    snprintf(m, sizeof m, "alpha*: BN %g, no BN %g (100 = never up to 10)", astar[1], astar[0]);
    ab_criterion(rep, "E3d", "median alpha*_BN >= 10 x median alpha*_noBN", m,
                 astar[1] >= 10 * astar[0]);

    /* figures: accuracy against lr; loss against the rising lr; relative loss against alpha */
    ab_plot p;
    grid_figure(rep, false);
    stress_report(rep, true);
    if (probe_run[0] >= 0 && probe_run[1] >= 0 &&
        ab_plot_begin(rep, &p, "lr_sweep_relative_loss", "E3d: L(theta - alpha g) / L(theta) at init",
                      "alpha", "relative loss (batch 1)", true, true)) {
        for (int bn = 0; bn < 2; bn++) {
            double x[N_ALPHA], y[N_ALPHA];
            int got = ab_series(rep, probe_run[bn], "rel_loss_b1", NULL, y, N_ALPHA);
            for (int i = 0; i < got; i++) x[i] = alpha_of(i);
            ab_plot_series(&p, bn ? "with BN" : "without BN", "linespoints lw 2", x, y, got);
        }
        ab_plot_end(rep, &p, "E3d: relative loss along the gradient at initialisation (Bjorck Fig. 3 style)");
    }
    grid_report(rep, true);
    grid_figure(rep, true);
}

const ab_experiment ab_exp_lr_sweep = {"lr-sweep", "E3a/E3b/E3c/E3d: learning-rate tolerance with "
                                       "and without BatchNorm", expand, report};

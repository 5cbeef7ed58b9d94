/* examples/ablation/exp_smoothness.c — E5, Santurkar et al.'s smoothness measurements
 * (examples/common/landscape.c does the probe: loss band, gradient predictiveness and
 * effective beta-smoothness along -g, state restored bit-exactly).
 *   E5a: the deep linear network x -> W25 ... W1 x — 25 bias-free linear 10x10 layers (the
 *        paper's loss |W1...W25 x - A x|^2 has no biases), Glorot init, x ~ N(0, I) (1000
 *        samples), targets A x with A a 10x10 Gaussian matrix, loss sum_n |f(x_n) - A x_n|^2
 *        (summed, as the paper's 1e-6 lr implies; composed from em_sub, em_mul, em_sum),
 *        full-batch GD at lr 1e-6; BN after every hidden layer; eta in [1e-8, 3e-5]; 3 seeds.
 *        A regression run, so it has its own few-line GD loop over the tape here (the
 *        shared trainer is for classification). Two more BN runs at lr 5e-7 and 2e-6 check
 *        that beta_eff sits at the edge of stability 2/lr (full protocol only).
 *   E5b: the deep ReLU MLP 784-[100x6]-10 on Fashion-MNIST, plain SGD at eta0 = 0.025
 *        (E3's largest no-BN lr 0.1, divided by 4), probes at {1/2, 1, 2, 3, 4} x eta0 every
 *        20 steps where a step starts (its theta, its batch, its gradient), through the
 *        trainer's step hook; 3 seeds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "core/kernels.h"
#include "examples/common/landscape.h"
#include "examples/common/models.h"
#include "examples/common/snapshot.h"
#include "examples/common/train.h"
#include "optim/optim.h"

#define DLN_N 1000
#define DLN_D 10
#define DLN_LAYERS 25
#define DLN_ETAS 7
#define DLN_LR 1e-6
#define E5B_ETA0 0.025
#define E5B_PROBE_EVERY 20

static void record(FILE *out, int index, long step, const em_landscape *l) {
    ab_curve(out, index, step, "loss0", l->loss0);
    ab_curve(out, index, step, "loss_min", l->loss_min);
    ab_curve(out, index, step, "loss_max", l->loss_max);
    ab_curve(out, index, step, "gp_min", l->gp_min);
    ab_curve(out, index, step, "gp_max", l->gp_max);
    ab_curve(out, index, step, "gp_rel_max", l->gp_rel_max);
    ab_curve(out, index, step, "beta_eff", l->beta_eff);
}

/* ---- E5a ------------------------------------------------------------------------------------ */

typedef struct dln_batch {
    em_tensor *x, *y;   /* (N, D) and (N, D) */
} dln_batch;

/* L = sum_n sum_d (f(x)_nd - y_nd)^2 */
static em_tensor *mse_sum(void *vctx, em_module *net, em_tape *tape) {
    dln_batch *b = vctx;
    em_tensor *d = em_sub(tape, em_module_forward(net, tape, b->x), b->y);
    return em_sum(tape, em_mul(tape, d, d), EM_ALL_AXES, false);
}

/* Santurkar's deep linear network: x -> W25 ... W1 x, 25 bias-free 10x10 layers (the
 * paper's loss |W1...W25 x - A x|^2 has no biases), with BN after each of the 24 hidden
 * layers when bn (its beta takes a bias's role). NULL when out of memory. */
static em_module *dln_new(bool bn) {
    em_module *m[2 * DLN_LAYERS];
    int n = 0;
    em_bn_opts bo = em_bn_defaults();
    for (int i = 0; i < DLN_LAYERS; i++) {
        m[n++] = em_linear_new(DLN_D, DLN_D, false);
        if (bn && i < DLN_LAYERS - 1) m[n++] = em_batchnorm1d_new(DLN_D, &bo);
    }
    for (int i = 0; i < n; i++)
        if (!m[i]) {
            for (int j = 0; j < n; j++) em_module_free(m[j]);
            return NULL;
        }
    return em_sequential_new(n, m);
}

static int dln_run(const ab_ctx *ctx, int index, const ab_run *run, ab_result *res, FILE *out) {
    (void)ctx;
    em_rng rng;
    em_rng_seed(&rng, run->cfg.seed);
    dln_batch b = {em_tensor_new(2, (int[]){DLN_N, DLN_D}, 0),
                   em_tensor_new(2, (int[]){DLN_N, DLN_D}, 0)};
    em_module *net = dln_new(run->cfg.bn);
    em_tape *tape = em_tape_new(0);
    const em_kernels *kernels = em_kernels_by_name(run->cfg.kernels);   /* --kernels */
    if (tape && kernels) em_tape_set_kernels(tape, kernels);
    em_error err;
    em_sgd_opts so = em_sgd_defaults();
    if (kernels) so.kernels = kernels;
    so.momentum = 0;
    em_sgd *sgd = net ? em_sgd_new(em_module_params(net), &so, &err) : NULL;
    int status = 0;
    if (!b.x || !b.y || !net || !tape || !sgd) {
        fprintf(stderr, "ember-ablate: %s: cannot build the deep linear network\n", run->variant);
        status = 1;
        goto out;
    }
    double A[DLN_D][DLN_D];
    for (int i = 0; i < DLN_D; i++)
        for (int j = 0; j < DLN_D; j++) A[i][j] = em_rng_normal(&rng, 0, 1);
    for (int n = 0; n < DLN_N; n++) {
        for (int j = 0; j < DLN_D; j++) b.x->data[n * DLN_D + j] = (em_real)em_rng_normal(&rng, 0, 1);
        for (int i = 0; i < DLN_D; i++) {        /* y_n = A x_n */
            double s = 0;
            for (int j = 0; j < DLN_D; j++) s += A[i][j] * b.x->data[n * DLN_D + j];
            b.y->data[n * DLN_D + i] = (em_real)s;
        }
    }
    em_rng init_rng = em_rng_split(&rng, 1);
    em_init init = {EM_INIT_XAVIER_NORMAL, 0, 1};
    em_module_init(net, &init_rng, &init);
    em_module_train(net, true);
    double etas[DLN_ETAS];                         /* logspace over [1e-8, 3e-5] */
    for (int k = 0; k < DLN_ETAS; k++) etas[k] = 1e-8 * pow(3e-5 / 1e-8, k / (DLN_ETAS - 1.0));
    long steps = run->cfg.steps, every = run->probe_every, step;
    double loss = NAN;
    res->diverged_step = -1;
    for (step = 0; step < steps; step++) {
        if (step % every == 0) {
            em_landscape l;
            if (em_landscape_probe(net, tape, mse_sum, &b, etas, DLN_ETAS, &l, NULL, NULL, &err) == EM_OK)
                record(out, index, step, &l);
        }
        em_tensor *L = mse_sum(&b, net, tape);
        if (!L || em_backward(tape, L) != EM_OK) {
            fprintf(stderr, "ember-ablate: %s: step %ld: %s\n", run->variant, step + 1, tape->err.msg);
            status = 1;
            break;
        }
        loss = L->data[0];
        em_tape_reset(tape);
        if (!isfinite(loss)) {
            res->diverged_step = step + 1;
            break;
        }
        em_sgd_step(sgd, run->cfg.lr);
        em_sgd_zero_grad(sgd);
        if ((step + 1) % run->curve_every == 0) ab_curve(out, index, step + 1, "train_loss", loss);
    }
    res->steps = step;
    res->final_train_loss = loss;
    res->final_test_acc = res->best_test_acc = NAN;
    snprintf(res->outcome, sizeof res->outcome, "%s", res->diverged_step > 0 ? "diverged" : "-");
out:
    if (sgd) em_sgd_free(sgd);
    em_module_free(net);
    em_tape_free(tape);
    em_tensor_free(b.x);
    em_tensor_free(b.y);
    return status;
}

/* ---- E5b ------------------------------------------------------------------------------------ */

/* cross-entropy on the batch the trainer just trained on (still in t->x, t->labels) */
static em_tensor *ce_on_batch(void *vctx, em_module *net, em_tape *tape) {
    em_trainer *t = vctx;
    return em_cross_entropy(tape, em_module_forward(net, tape, t->x), t->labels);
}

/* Santurkar's probe is taken where a training step starts: at theta_s, on the batch B_s the
 * step trains on, along that step's gradient. The trainer calls its hook after the update,
 * with B_s still in t->x, so the hook keeps a snapshot of the state one step before each
 * probe (taken after update s-1, i.e. theta_s) and probes from it: swap theta_s in, probe,
 * swap theta_{s+1} back. Both swaps are bit-exact snapshot copies. */
typedef struct e5b_state {
    em_snapshot before;   /* theta_s, taken in the hook call before a probe step */
    bool have;
} e5b_state;

static void e5b_probe(const ab_run *run, int index, em_trainer *t, long step, FILE *out, void **vstate) {
    e5b_state *st = *vstate;
    if (step < 0) {                 /* the end of the run: free */
        if (st) em_snapshot_free(&st->before);
        free(st);
        *vstate = NULL;
        return;
    }
    if (!st && !(st = *vstate = calloc(1, sizeof *st))) return;
    long every = E5B_PROBE_EVERY;
    if ((step + 1) % every == 0) {  /* the next step is probed: keep its starting point */
        em_snapshot_free(&st->before);
        st->have = em_snapshot_take(&st->before, t->net);
        return;
    }
    if (step == 0 || step % every || !st->have) return;
    em_snapshot now;
    if (!em_snapshot_take(&now, t->net)) return;
    em_snapshot_restore(&st->before, t->net);
    double e0 = run->cfg.lr, etas[5] = {0.5 * e0, e0, 2 * e0, 3 * e0, 4 * e0};
    em_landscape l;
    em_error err;
    if (em_landscape_probe(t->net, t->tape, ce_on_batch, t, etas, 5, &l, NULL, NULL, &err) == EM_OK)
        record(out, index, step, &l);
    em_snapshot_restore(&now, t->net);
    em_snapshot_free(&now);
    st->have = false;
}

static double eta0(const ab_opts *o) { return o->n_lrs ? o->lrs[0] : E5B_ETA0; }

/* one E5a run: the DLN at lr, full-batch GD for steps, a probe every `every` steps */
static bool dln_add(const ab_ctx *ctx, ab_run *runs, int *n, const char *variant, bool bn,
                    double lr, int seed, long steps, long every) {
    ab_run *r = ab_run_add(ctx, runs, n, "smoothness");
    if (!r) return false;
    snprintf(r->variant, sizeof r->variant, "%s", variant);
    r->n_hidden = DLN_LAYERS - 1;
    r->width = DLN_D;
    snprintf(r->act, sizeof r->act, "linear");
    r->cfg.bn = bn;
    r->cfg.lr = lr;
    r->cfg.batch = DLN_N;
    r->cfg.seed = (uint64_t)seed;
    r->cfg.steps = steps;
    r->probe_every = every;
    r->curve_every = 20;
    r->fn = dln_run;
    return true;
}

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    char v[48];
    for (int seed = 1; seed <= ab_seeds(ctx, 3); seed++)
        for (int bn = 0; bn < 2; bn++) {
            snprintf(v, sizeof v, "e5a-dln-%s-s%d", bn ? "bn" : "nobn", seed);
            if (!dln_add(ctx, runs, n, v, bn, DLN_LR, seed, o->quick ? 2000 : 10000, o->quick ? 50 : 100))
                return false;
        }
    /* the edge-of-stability check: BN's beta_eff against 2/lr at two more learning rates */
    for (int k = 0; !o->quick && k < 2; k++) {
        double lr = k ? 2 * DLN_LR : DLN_LR / 2;
        snprintf(v, sizeof v, "e5a-eos-bn-lr%g", lr);
        if (!dln_add(ctx, runs, n, v, true, lr, 1, 4000, 100)) return false;
    }
    for (int seed = 1; seed <= ab_seeds(ctx, 3); seed++)
        for (int bn = 0; bn < 2; bn++) {
            ab_run *r = ab_run_add(ctx, runs, n, "smoothness");
            if (!r) return false;
            snprintf(r->variant, sizeof r->variant, "e5b-mlp-%s-s%d", bn ? "bn" : "nobn", seed);
            r->n_hidden = 6;
            r->width = 100;
            snprintf(r->act, sizeof r->act, "relu");
            r->cfg.bn = bn;
            r->cfg.lr = eta0(o);
            r->cfg.batch = o->batch ? o->batch : 64;
            snprintf(r->cfg.init, sizeof r->cfg.init, "kaiming-normal");
            r->cfg.seed = (uint64_t)seed;
            r->cfg.train_limit = o->train_limit;
            r->cfg.epochs = 1000;
            r->cfg.steps = o->steps ? o->steps : o->quick ? 400 : 2500;
            r->curve_every = 20;
            r->probe = e5b_probe;
            r->probe_every = 1;               /* the probe keeps theta_s the step before */
        }
    return true;
}

/* values of a probe metric over a run (malloc'd, *n of them) */
static double *values(ab_report *rep, int run, const char *metric, int *n) {
    enum { MAX = 4096 };
    double *v = malloc(MAX * sizeof *v);
    *n = v ? ab_series(rep, run, metric, NULL, v, MAX) : 0;
    return v;
}

static double quant(double *v, int n, double q) {   /* sorts v */
    if (n <= 0) return NAN;
    ab_median(v, n);
    return v[(int)(q * (n - 1) + 0.5)];
}

/* E5a's measures over the probes of some runs, pooled */
typedef struct dln_stats {
    int n;              /* probes                                                      */
    double band;        /* median log10(loss_max / L0)                                 */
    double gp;          /* median log10 gp_max                                         */
    double beta;        /* median log10 beta_eff                                       */
    double rel;         /* median gp_rel_max = max |g_eta - g| / |g|                   */
    double explosive;   /* fraction of probes where the loss rose >= 100x along -g      */
    double band_max;    /* max log10(loss_max / L0)                                    */
    double eos;         /* median beta_eff lr / 2: 1 at the edge of stability           */
} dln_stats;

static dln_stats dln_measure(ab_report *rep, const int *run, int n_runs) {
    enum { MAX = 8192 };
    dln_stats st = {0};
    double *v[5];
    for (int k = 0; k < 5; k++) v[k] = malloc(MAX * sizeof(double));
    int n = 0, hot = 0;
    double bmax = -INFINITY;
    for (int r = 0; r < n_runs && v[0] && v[1] && v[2] && v[3] && v[4]; r++) {
        if (run[r] < 0) continue;
        int c[5];
        double *l0 = values(rep, run[r], "loss0", &c[0]), *lm = values(rep, run[r], "loss_max", &c[1]),
               *gp = values(rep, run[r], "gp_max", &c[2]), *be = values(rep, run[r], "beta_eff", &c[3]),
               *rl = values(rep, run[r], "gp_rel_max", &c[4]);
        int m = c[0];
        for (int k = 1; k < 5; k++) m = c[k] < m ? c[k] : m;
        double lr = rep->runs[run[r]].cfg.lr;
        for (int i = 0; i < m && n < MAX; i++) {
            if (!isfinite(l0[i]) || !(l0[i] > 0)) continue;   /* a diverged run's last probe */
            double band = log10(lm[i] / l0[i]);
            v[0][n] = band;
            v[1][n] = log10(gp[i]);
            v[2][n] = log10(be[i]);
            v[3][n] = rl[i];
            v[4][n] = be[i] * lr / 2;
            hot += band >= 2;
            bmax = fmax(bmax, band);
            n++;
        }
        free(l0);
        free(lm);
        free(gp);
        free(be);
        free(rl);
    }
    st.n = n;
    if (n && v[4]) {
        st.band = ab_median(v[0], n);
        st.gp = ab_median(v[1], n);
        st.beta = ab_median(v[2], n);
        st.rel = ab_median(v[3], n);
        st.eos = ab_median(v[4], n);
        st.explosive = (double)hot / n;
        st.band_max = bmax;
    }
    for (int k = 0; k < 5; k++) free(v[k]);
    return st;
}

static void e5a_report(ab_report *rep) {
    FILE *f = rep->md;
    char s[200];
    const ab_opts *o = rep->ctx->o;
    int seeds = ab_seeds(rep->ctx, 3);
    fprintf(f, "### E5a: deep linear network\n\nx -> W25 ... W1 x: 25 bias-free linear 10x10 "
               "layers (the paper's loss has no biases), Glorot-normal init, 1000 samples x ~ "
               "N(0, I), targets A x with A a 10x10 N(0, 1) matrix (both drawn from the seed), "
               "loss sum_n |f(x_n) - A x_n|^2 (summed), full-batch GD at lr %g for %s; BN "
               "after each of the 24 hidden layers; %d seed(s). Probes every %d steps at 7 "
               "log-spaced eta in [1e-8, 3e-5] = [1/100, 30] x lr.\n\n", DLN_LR,
            o->quick ? "2000 steps (quick)" : "10000 steps", seeds, o->quick ? 50 : 100);
    ab_runs_table(rep, "smoothness", "e5a-");
    int a[2][64], na[2] = {0, 0};
    char v[48];
    for (int seed = 1; seed <= seeds && seed <= 64; seed++)
        for (int bn = 0; bn < 2; bn++) {
            snprintf(v, sizeof v, "e5a-dln-%s-s%d", bn ? "bn" : "nobn", seed);
            a[bn][na[bn]++] = ab_find(rep, "smoothness", v);
        }
    fprintf(f, "Per run, over its probes (medians; *explosive* = the loss rose >= 100x "
               "somewhere along -eta g; beta_eff lr/2 = 1 is the edge of stability of GD at "
               "that lr):\n\n| run | variant | probes | log10(loss_max/L0) | log10 gp_max | "
               "log10 beta_eff | gp_max/abs(g) | explosive probes | max log10(loss_max/L0) | "
               "beta_eff lr/2 |\n|---|---|---|---|---|---|---|---|---|---|\n");
    int idx[AB_MAX_RUNS], k = ab_select(rep, "smoothness", idx, AB_MAX_RUNS);
    for (int i = 0; i < k; i++) {
        if (strncmp(rep->runs[idx[i]].variant, "e5a-", 4)) continue;
        dln_stats st = dln_measure(rep, &idx[i], 1);
        fprintf(f, "| %d | %s | %d | %.2f | %.2f | %.2f | %.3g | %.0f%% | %.1f | %.3g |\n", idx[i],
                rep->runs[idx[i]].variant, st.n, st.band, st.gp, st.beta, st.rel,
                100 * st.explosive, st.band_max, st.eos);
    }
    dln_stats p[2] = {dln_measure(rep, a[0], na[0]), dln_measure(rep, a[1], na[1])};
    if (!p[0].n || !p[1].n) return;
    fprintf(f, "\nThe criteria use the medians over all probes of the %d seed(s) at lr %g "
               "(pooled).\n\n| criterion | what | measured | result |\n|---|---|---|---|\n",
            seeds, DLN_LR);
    static const char *const what[3] = {"median log10(loss_max / L0) >= 1 higher without BN",
                                        "median log10(gp_max) >= 1 higher without BN",
                                        "median log10(beta_eff) >= 1 higher without BN"};
    double med[3][2] = {{p[0].band, p[1].band}, {p[0].gp, p[1].gp}, {p[0].beta, p[1].beta}};
    for (int c = 0; c < 3; c++) {
        snprintf(s, sizeof s, "no BN %.2f, BN %.2f", med[c][0], med[c][1]);
        ab_criterion(rep, "E5a", what[c], s, med[c][0] >= med[c][1] + 1);
    }
    /* the per-probe view: how often the landscape along -g explodes */
    int hot[2] = {0, 0};
    for (int bn = 0; bn < 2; bn++)
        for (int i = 0; i < na[bn]; i++) {
            dln_stats st = dln_measure(rep, &a[bn][i], 1);
            hot[bn] += st.n && st.explosive > 0;
        }
    snprintf(s, sizeof s, "no BN in %d of %d seeds (%.0f%% of probes), BN in %d of %d (%.0f%%)",
             hot[0], na[0], 100 * p[0].explosive, hot[1], na[1], 100 * p[1].explosive);
    ab_criterion(rep, "E5a (report only)", "explosive probes (loss >= 100x L0 along -eta g) "
                 "without BN in every seed, with BN in none", s, hot[0] == na[0] && hot[1] == 0);
    /* BN's beta_eff against 2/lr at three learning rates: the BN runs of each lr, pooled */
    double eos_lo = INFINITY, eos_hi = -INFINITY;
    int n_eos = 0;
    static const double eos_lrs[3] = {DLN_LR / 2, DLN_LR, 2 * DLN_LR};
    for (int j = 0; j < 3; j++) {
        int sel[AB_MAX_RUNS], m = 0;
        for (int i = 0; i < k; i++) {
            const ab_run *r = &rep->runs[idx[i]];
            if (r->cfg.bn && !strncmp(r->variant, "e5a-", 4) && r->cfg.lr == eos_lrs[j]) sel[m++] = idx[i];
        }
        dln_stats st = dln_measure(rep, sel, m);
        if (!st.n) continue;
        eos_lo = fmin(eos_lo, st.eos);
        eos_hi = fmax(eos_hi, st.eos);
        n_eos++;
    }
    if (n_eos > 1) {
        snprintf(s, sizeof s, "median beta_eff lr/2 from %.3g to %.3g over %d lrs", eos_lo, eos_hi, n_eos);
        ab_criterion(rep, "E5a (report only)", "BN's beta_eff is the edge of stability 2/lr "
                     "(median beta_eff lr/2 in [0.8, 1.25] at every lr)", s,
                     eos_lo >= 0.8 && eos_hi <= 1.25);
    }
    ab_plot pl;
    if (ab_plot_begin(rep, &pl, "smoothness_dln", "E5a: the loss along -eta g, deep linear network",
                      "training step", "max over eta of L(theta - eta g) / L(theta)", false, true)) {
        enum { MAX = 8192 };
        long *st = malloc(MAX * sizeof *st);
        double *x = malloc(MAX * sizeof *x), *l0 = malloc(MAX * sizeof *l0), *lm = malloc(MAX * sizeof *lm);
        for (int bn = 0; bn < 2 && st && x && l0 && lm; bn++)
            for (int i = 0; i < na[bn]; i++) {
                if (a[bn][i] < 0) continue;
                int m0 = ab_series(rep, a[bn][i], "loss0", st, l0, MAX);
                int m1 = ab_series(rep, a[bn][i], "loss_max", NULL, lm, MAX);
                int m = m0 < m1 ? m0 : m1;
                for (int j = 0; j < m; j++) {
                    x[j] = (double)st[j];
                    lm[j] = lm[j] / l0[j];
                }
                char t[64];
                snprintf(t, sizeof t, "%s, seed %d", bn ? "BN" : "no BN", i + 1);
                ab_plot_series(&pl, t, bn ? "lines lw 2 dt 2" : "lines lw 2", x, lm, m);
            }
        free(st);
        free(x);
        free(l0);
        free(lm);
        ab_plot_end(rep, &pl, "E5a (Santurkar Fig. 10a style): how far the loss rises along -eta g, "
                              "eta up to 30 lr");
    }
    if (ab_plot_begin(rep, &pl, "smoothness_dln_beta", "E5a: effective beta-smoothness, deep linear network",
                      "training step", "beta_eff", false, true)) {
        for (int bn = 0; bn < 2; bn++)
            for (int i = 0; i < na[bn]; i++) {
                if (a[bn][i] < 0) continue;
                char t[64];
                snprintf(t, sizeof t, "%s, seed %d", bn ? "BN" : "no BN", i + 1);
                ab_plot_metric(rep, &pl, a[bn][i], "beta_eff", t, bn ? "lines lw 2 dt 2" : "lines lw 2");
            }
        double xs[2] = {0, o->quick ? 2000 : 10000}, ys[2] = {2 / DLN_LR, 2 / DLN_LR};
        ab_plot_series(&pl, "2 / lr", "lines lw 1 lc rgb 'black'", xs, ys, 2);
        ab_plot_end(rep, &pl, "E5a (Santurkar Fig. 10c style): beta_eff, and the edge of stability 2/lr");
    }
}

static void report(ab_report *rep) {
    FILE *f = rep->md;
    char s[200];
    e5a_report(rep);
    int seeds = ab_seeds(rep->ctx, 3);
    fprintf(f, "### E5b: deep ReLU MLP\n\n784-[100x6]-10, He init, plain SGD at eta0 = %g, "
               "batch 64, %d seed(s). Every %d steps a probe at {1/2, 1, 2, 3, 4} x eta0 where "
               "the step starts (theta before the update, the step's own batch, the step's "
               "gradient). eta0 is E3a's largest lr at which no-BN trains (0.1) divided by 4 "
               "(docs/experiment-protocols.md, E5b).\n\n", eta0(rep->ctx->o), seeds, E5B_PROBE_EVERY);
    ab_runs_table(rep, "smoothness", "e5b-");
    int b[2][64], nb = 0;
    char v[48];
    for (int seed = 1; seed <= seeds && nb < 64; seed++, nb++)
        for (int bn = 0; bn < 2; bn++) {
            snprintf(v, sizeof v, "e5b-mlp-%s-s%d", bn ? "bn" : "nobn", seed);
            if ((b[bn][nb] = ab_find(rep, "smoothness", v)) < 0) return;
        }
    if (!nb) return;
    double band[2], gp90[2], tail[2], sd[2], rel90[2], rise[2], fall[2];
    enum { MAX = 16384 };
    for (int bn = 0; bn < 2; bn++) {
        /* the probes of all seeds, pooled */
        double *hi = malloc(MAX * sizeof *hi), *gp = malloc(MAX * sizeof *gp),
               *be = malloc(MAX * sizeof *be), *rel = malloc(MAX * sizeof *rel),
               *up = malloc(MAX * sizeof *up), *down = malloc(MAX * sizeof *down);
        int n = 0;
        for (int i = 0; i < nb && hi && gp && be && rel && up && down; i++) {
            int c[6];
            double *l0 = values(rep, b[bn][i], "loss0", &c[0]), *lo = values(rep, b[bn][i], "loss_min", &c[1]),
                   *lm = values(rep, b[bn][i], "loss_max", &c[2]), *g = values(rep, b[bn][i], "gp_max", &c[3]),
                   *e = values(rep, b[bn][i], "beta_eff", &c[4]), *r = values(rep, b[bn][i], "gp_rel_max", &c[5]);
            int m = c[0];
            for (int k = 1; k < 6; k++) m = c[k] < m ? c[k] : m;
            for (int j = 0; j < m && n < MAX; j++, n++) {
                hi[n] = (lm[j] - lo[j]) / l0[j];
                up[n] = lm[j] / l0[j];
                down[n] = lo[j] / l0[j];
                gp[n] = g[j];
                be[n] = e[j];
                rel[n] = r[j];
            }
            free(l0);
            free(lo);
            free(lm);
            free(g);
            free(e);
            free(r);
        }
        band[bn] = ab_median(hi, n);
        rise[bn] = ab_median(up, n);
        fall[bn] = ab_median(down, n);
        gp90[bn] = quant(gp, n, 0.9);
        rel90[bn] = quant(rel, n, 0.9);
        double mean = 0, var = 0;
        for (int i = 0; i < n; i++) mean += be[i] / n;
        for (int i = 0; i < n; i++) var += (be[i] - mean) * (be[i] - mean) / (n > 1 ? n - 1 : 1);
        sd[bn] = sqrt(var);
        tail[bn] = quant(be, n, 0.95) / quant(be, n, 0.5);
        free(hi);
        free(gp);
        free(be);
        free(rel);
        free(up);
        free(down);
    }
    fprintf(f, "Over all probes of the %d seed(s), pooled:\n\n| criterion | what | measured | result |\n"
               "|---|---|---|---|\n", nb);
    snprintf(s, sizeof s, "no BN %.3g, BN %.3g", band[0], band[1]);
    ab_criterion(rep, "E5b (loss band)", "median (loss_max - loss_min) / L0: no-BN >= 2x BN", s,
                 band[0] >= 2 * band[1]);
    /* the band's two ends: a wide band can be overshoot (the loss rises above L0) or progress
     * (the loss falls far along -g); only the first is roughness */
    snprintf(s, sizeof s, "median loss_max / L0: no BN %.3g, BN %.3g (loss_min / L0: no BN %.3g, "
             "BN %.3g)", rise[0], rise[1], fall[0], fall[1]);
    ab_criterion(rep, "E5b (report only)", "the loss along -eta g rises above L0 without BN, "
                 "not with BN (median loss_max / L0 > 1 vs <= 1)", s, rise[0] > 1 && rise[1] <= 1);
    snprintf(s, sizeof s, "no BN %.3g, BN %.3g (relative: no BN %.3g, BN %.3g)", gp90[0], gp90[1],
             rel90[0], rel90[1]);
    ab_criterion(rep, "E5b (predictiveness)", "90th percentile of gp_max: no-BN >= 3x BN", s,
                 gp90[0] >= 3 * gp90[1]);
    snprintf(s, sizeof s, "p95/median: no BN %.3g, BN %.3g; std: no BN %.3g, BN %.3g", tail[0],
             tail[1], sd[0], sd[1]);
    ab_criterion(rep, "E5b (beta_eff)", "beta_eff p95/median larger without BN, or its std >= 2x BN's",
                 s, tail[0] > tail[1] || sd[0] >= 2 * sd[1]);
    ab_plot p;
    if (ab_plot_begin(rep, &p, "smoothness_mlp", "E5b: loss band and gradient predictiveness, MLP",
                      "training step", "value", false, true)) {
        ab_plot_metric(rep, &p, b[0][0], "loss_max", "loss_max, no BN", "lines lw 2");
        ab_plot_metric(rep, &p, b[0][0], "loss_min", "loss_min, no BN", "lines lw 1");
        ab_plot_metric(rep, &p, b[1][0], "loss_max", "loss_max, BN", "lines lw 2");
        ab_plot_metric(rep, &p, b[1][0], "loss_min", "loss_min, BN", "lines lw 1");
        ab_plot_metric(rep, &p, b[0][0], "gp_max", "gp_max, no BN", "lines lw 2 dt 2");
        ab_plot_metric(rep, &p, b[1][0], "gp_max", "gp_max, BN", "lines lw 2 dt 2");
        ab_plot_end(rep, &p, "E5b (Santurkar Fig. 4 style): loss band and gradient predictiveness, seed 1");
    }
}

const ab_experiment ab_exp_smoothness = {"smoothness", "E5: Santurkar's loss-landscape "
                                         "smoothness", expand, report};

/* examples/ablation/exp_distributions.c — E1's distribution plot (Ioffe & Szegedy Fig.
 * 1b,c): the 15/50/85th percentiles of the input to the last hidden layer's sigmoids over
 * training, with and without BN. The probe feeds a fixed batch of 1000 test images through
 * the layers up to that sigmoid with the tape not recording; the BN net runs in training
 * mode (N_BN^tr: the probe batch's own statistics, y = gamma xhat + beta), and a snapshot
 * restores the running statistics (and everything else) bit-exactly afterwards. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "examples/common/snapshot.h"
#include "examples/common/train.h"

#define PROBE_N 1000
#define MAX_UNITS 128

typedef struct probe_state {
    em_loader *loader;
    em_tensor *x;
    int labels[PROBE_N];
    float col[PROBE_N];
} probe_state;

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* the q-quantile of sorted v[0..n) with linear interpolation between ranks */
static double quantile(const float *v, int n, double q) {
    double r = q * (n - 1);
    int i = (int)r;
    double f = r - i;
    return i + 1 < n ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

static void probe(const ab_run *run, int index, em_trainer *t, long step, FILE *out, void **vs) {
    (void)run;
    probe_state *st = *vs;
    if (step < 0) {
        if (st) {
            em_loader_free(st->loader);
            em_tensor_free(st->x);
            free(st);
        }
        *vs = NULL;
        return;
    }
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return;
        em_loader_opts o = em_loader_defaults();
        o.batch = PROBE_N;
        o.shuffle = false;
        o.normalize = true;
        o.mean[0] = t->mean[0];
        o.std[0] = t->std[0];
        o.subset = PROBE_N;
        em_error err;
        st->loader = em_loader_new(t->test_set, &o, &err);
        st->x = st->loader ? em_loader_batch_tensor(st->loader) : NULL;
        int n;
        if (!st->x) return;
        em_loader_begin_epoch(st->loader, 0);
        em_loader_next(st->loader, st->x, st->labels, &n);
        *vs = st;
    }
    em_module *net = t->net;
    int n_layers = em_sequential_len(net), last = -1;
    for (int i = 0; i < n_layers; i++)
        if (!strcmp(net->ops->child(net, i)->ops->kind, "Sigmoid")) last = i;
    if (last < 0) return;
    em_snapshot snap;
    if (!em_snapshot_take(&snap, net)) return;
    em_tape_set_recording(t->tape, false);
    em_tensor *h = st->x;
    for (int i = 0; i < last && h; i++) h = em_module_forward(net->ops->child(net, i), t->tape, h);
    if (h && h->ndim == 2) {
        int units = h->shape[1] < MAX_UNITS ? h->shape[1] : MAX_UNITS, n = h->shape[0];
        double avg[3] = {0, 0, 0};
        for (int j = 0; j < units; j++) {
            for (int i = 0; i < n; i++) st->col[i] = (float)h->data[(size_t)i * h->shape[1] + j];
            qsort(st->col, (size_t)n, sizeof *st->col, cmp_float);
            double p[3] = {quantile(st->col, n, 0.15), quantile(st->col, n, 0.50),
                           quantile(st->col, n, 0.85)};
            char m[32];
            if (j == 0) {
                ab_curve(out, index, step, "p15.u0", p[0]);
                ab_curve(out, index, step, "p85.u0", p[2]);
            }
            snprintf(m, sizeof m, "p50.u%d", j);
            ab_curve(out, index, step, m, p[1]);
            for (int k = 0; k < 3; k++) avg[k] += p[k] / units;
        }
        ab_curve(out, index, step, "p15.avg", avg[0]);
        ab_curve(out, index, step, "p50.avg", avg[1]);
        ab_curve(out, index, step, "p85.avg", avg[2]);
    }
    em_tape_reset(t->tape);
    em_tape_set_recording(t->tape, true);
    em_snapshot_restore(&snap, net);
    em_snapshot_free(&snap);
}

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    int seeds = ab_seeds(ctx, 1);
    for (int s = 1; s <= seeds; s++)
        for (int bn = 0; bn < 2; bn++) {
            ab_run *r = ab_run_add(ctx, runs, n, "distributions");
            if (!r) return false;
            snprintf(r->variant, sizeof r->variant, "%s-s%d", bn ? "bn" : "nobn", s);
            ab_ioffe_mlp(ctx, r, bn, s);
            r->probe = probe;
            r->probe_every = o->quick ? 50 : 250;
        }
    return true;
}

/* d2, d3, d4 over the units of one run */
static void stability(ab_report *rep, int run, double *drift, double *transient, double *rough) {
    enum { MAXP = 4096 };
    static const int max_units = 100;
    long *st = malloc(MAXP * sizeof *st);
    double *v = malloc(MAXP * sizeof *v);
    *drift = *transient = *rough = NAN;
    if (!st || !v) goto out;
    double sd = 0, sr = 0, stt = 0;
    int units = 0, nt = 0;
    for (int j = 0; j < max_units; j++) {
        char m[32];
        snprintf(m, sizeof m, "p50.u%d", j);
        int n = ab_series(rep, run, m, st, v, MAXP);
        if (n < 3) break;
        units++;
        double d = 0, r = 0, lo1 = INFINITY, hi1 = -INFINITY, lo2 = INFINITY, hi2 = -INFINITY;
        long cut = st[n - 1] / 10;                    /* the first 10% of the steps */
        for (int i = 0; i < n; i++) {
            if (fabs(v[i] - v[n - 1]) > d) d = fabs(v[i] - v[n - 1]);
            if (i) r += fabs(v[i] - v[i - 1]);
            if (st[i] <= cut) {
                lo1 = fmin(lo1, v[i]);
                hi1 = fmax(hi1, v[i]);
            } else {
                lo2 = fmin(lo2, v[i]);
                hi2 = fmax(hi2, v[i]);
            }
        }
        sd += d;
        sr += r;
        if (hi2 > lo2 && isfinite(hi1)) {
            stt += (hi1 - lo1) / (hi2 - lo2);
            nt++;
        }
    }
    if (units) {
        *drift = sd / units;
        *rough = sr / units;
    }
    if (nt) *transient = stt / nt;
out:
    free(st);
    free(v);
}

static void report(ab_report *rep) {
    FILE *f = rep->md;
    fprintf(f, "E1's sigmoid MLP (784-100-100-100-10, N(0, 0.01^2), SGD lr 0.5, batch 60). Every "
               "%ld steps, a fixed batch of the first 1000 test images goes through the layers up "
               "to the third hidden layer's sigmoid (BN in training mode on the probe batch, "
               "running statistics restored). curves.csv: p15.u0/p50.u0/p85.u0 (unit 0), p50.u<j> "
               "(every unit), p15/p50/p85.avg (averaged over units).\n\n",
            rep->ctx->o->quick ? 50L : 250L);
    ab_runs_table(rep, "distributions", NULL);
    int nb = ab_find(rep, "distributions", "nobn-s1"), b = ab_find(rep, "distributions", "bn-s1");
    if (nb < 0 || b < 0) return;
    double p15 = ab_value_at(rep, b, "p15.avg", 0), p50 = ab_value_at(rep, b, "p50.avg", 0),
           p85 = ab_value_at(rep, b, "p85.avg", 0);
    double dr[2], tr[2], ro[2];
    stability(rep, nb, &dr[0], &tr[0], &ro[0]);
    stability(rep, b, &dr[1], &tr[1], &ro[1]);
    fprintf(f, "| criterion | what | measured | result |\n|---|---|---|---|\n");
    char s[200];
    snprintf(s, sizeof s, "step 0, averaged over units: p15 %.3f, p50 %.3f, p85 %.3f", p15, p50, p85);
    ab_criterion(rep, "E1 (d1)", "BN at step 0: p50 in [-0.15, 0.15], p15/p85 = -/+1.04 +- 0.2", s,
                 fabs(p50) <= 0.15 && fabs(p15 + 1.04) <= 0.2 && fabs(p85 - 1.04) <= 0.2);
    snprintf(s, sizeof s, "mean_j max_t abs(p50_j(t) - p50_j(end)): BN %.3f, no BN %.3f", dr[1], dr[0]);
    ab_criterion(rep, "E1 (d2)", "median drift at least 2x smaller with BN", s, dr[1] * 2 <= dr[0]);
    snprintf(s, sizeof s, "early/late p50 range ratio: BN %.3f, no BN %.3f", tr[1], tr[0]);
    ab_criterion(rep, "E1 (d3, report only)", "early transient larger without BN", s, tr[0] > tr[1]);
    snprintf(s, sizeof s, "mean_j sum_t abs(dp50_j(t)): BN %.3f, no BN %.3f", ro[1], ro[0]);
    ab_criterion(rep, "E1 (d4, report only)", "p50 roughness smaller with BN", s, ro[1] < ro[0]);
    for (int k = 0; k < 2; k++) {
        int run = k ? b : nb;
        ab_plot p;
        if (ab_plot_begin(rep, &p, k ? "distributions_bn" : "distributions_nobn",
                          k ? "sigmoid input, last hidden layer, unit 0: with BN"
                            : "sigmoid input, last hidden layer, unit 0: without BN",
                          "training step", "sigmoid input", false, false)) {
            ab_plot_metric(rep, &p, run, "p85.u0", "85th percentile", "lines lw 2");
            ab_plot_metric(rep, &p, run, "p50.u0", "50th percentile", "lines lw 2");
            ab_plot_metric(rep, &p, run, "p15.u0", "15th percentile", "lines lw 2");
            ab_plot_end(rep, &p, k ? "E1 (Ioffe Fig. 1c): with BN" : "E1 (Ioffe Fig. 1b): without BN");
        }
    }
}

const ab_experiment ab_exp_distributions = {"distributions", "E1: the distribution of a "
                                            "sigmoid's input over training", expand, report};

/* examples/ablation/exp_histograms.c — seeing the network: per-layer histograms of the
 * activations and of their gradients over training, with and without BN, at two
 * initializations (Kaiming's, and N(0, 0.01^2) without fan-in scaling: E4's small end), on
 * E4's 784-[100x5]-10 ReLU network. At step 0 and every probe_every steps a fixed batch of
 * 500 test images goes forward one module at a time (training mode, the tape recording;
 * BN normalizes with the probe batch's statistics), the loss backward, and for each of the
 * five ReLUs the probe reads its input (the pre-activation, after BN where there is one) and
 * that input's gradient. The snapshot restores the model bit-exactly and the gradients are
 * cleared again. curves.csv: act_std.L<l> and grad_std.L<l> (the scales), act.L<l>.b<k>
 * (the share of the values in bin k of [-4, 4), 32 bins, the outer ones taking everything
 * beyond) and grad.L<l>.b<k> (the same for the gradient divided by its own standard
 * deviation: its shape; grad_std gives its size). The report writes histograms.csv (one row
 * per run, step, layer, kind and bin) and draws every variant's histograms at the first
 * and the last probe, and the scales per layer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "examples/common/gnuplot.h"
#include "examples/common/snapshot.h"
#include "examples/common/train.h"

#define PROBE_N 500
#define LAYERS 5
#define BINS 32
#define RANGE 4.0

typedef struct probe_state {
    em_loader *loader;
    em_tensor *x;
    int labels[PROBE_N];
} probe_state;

/* the share of v[0..n) / scale in each of the BINS bins of [-RANGE, RANGE) (the outer bins
 * take what is beyond), written as metrics "<kind>.L<l>.b<k>" */
static void histogram(FILE *out, int run, long step, const char *kind, int layer,
                      const em_real *v, size_t n, double scale) {
    double count[BINS] = {0};
    for (size_t i = 0; i < n; i++) {
        double u = scale > 0 ? v[i] / scale : 0;
        int k = (int)floor((u + RANGE) / (2 * RANGE) * BINS);
        if (isnan(u)) continue;
        count[k < 0 ? 0 : k >= BINS ? BINS - 1 : k]++;
    }
    char m[32];
    for (int k = 0; k < BINS; k++) {
        snprintf(m, sizeof m, "%s.L%d.b%d", kind, layer, k);
        ab_curve(out, run, step, m, n ? count[k] / (double)n : NAN);
    }
}

static double std_of(const em_real *v, size_t n) {
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    for (size_t i = 0; i < n; i++) q += (v[i] - s / n) * (v[i] - s / n);
    return n > 1 ? sqrt(q / n) : NAN;
}

static probe_state *probe_new(em_trainer *t) {
    probe_state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
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
    if (st->x) {
        em_loader_begin_epoch(st->loader, 0);
        em_loader_next(st->loader, st->x, st->labels, &n);
    }
    return st;
}

static void probe(const ab_run *run, int index, em_trainer *t, long step, FILE *out, void **vs) {
    (void)run;
    probe_state *st = *vs;
    if (step < 0) {
        if (st) em_loader_free(st->loader), em_tensor_free(st->x), free(st);
        *vs = NULL;
        return;
    }
    if (!st) *vs = st = probe_new(t);
    if (!st || !st->x) return;
    em_module *net = t->net;
    em_snapshot snap;
    if (!em_snapshot_take(&snap, net)) return;
    /* forward one module at a time, keeping the input of every ReLU */
    em_tensor *pre[LAYERS] = {0}, *h = st->x;
    int n_modules = em_sequential_len(net), l = 0;
    for (int i = 0; i < n_modules && h; i++) {
        em_module *m = net->ops->child(net, i);
        if (!strcmp(m->ops->kind, "ReLU") && l < LAYERS) pre[l++] = h;
        h = em_module_forward(m, t->tape, h);
    }
    em_tensor *loss = h ? em_cross_entropy(t->tape, h, st->labels) : NULL;
    if (loss && l == LAYERS && em_backward(t->tape, loss) == EM_OK) {
        for (int k = 0; k < LAYERS; k++) {
            const em_tensor *a = pre[k];
            double sa = std_of(a->data, a->size), sg = a->grad ? std_of(a->grad, a->size) : NAN;
            char m[32];
            snprintf(m, sizeof m, "act_std.L%d", k + 1);
            ab_curve(out, index, step, m, sa);
            snprintf(m, sizeof m, "grad_std.L%d", k + 1);
            ab_curve(out, index, step, m, sg);
            histogram(out, index, step, "act", k + 1, a->data, a->size, 1);
            if (a->grad) histogram(out, index, step, "grad", k + 1, a->grad, a->size, sg);
        }
    }
    em_tape_reset(t->tape);
    em_module_zero_grad(net);  /* the probe's backward added into the gradient block */
    em_snapshot_restore(&snap, net);
    em_snapshot_free(&snap);
}

static const char *const variants[4] = {"nobn-kaiming", "bn-kaiming", "nobn-w0.01", "bn-w0.01"};

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    for (int v = 0; v < 4; v++) {
        ab_run *r = ab_run_add(ctx, runs, n, "histograms");
        if (!r) return false;
        snprintf(r->variant, sizeof r->variant, "%s", variants[v]);
        r->n_hidden = LAYERS;
        r->width = 100;
        snprintf(r->act, sizeof r->act, "relu");
        r->cfg.bn = v % 2;
        r->cfg.lr = o->n_lrs ? o->lrs[0] : 0.01;
        r->cfg.momentum = 0.9;
        r->cfg.batch = o->batch ? o->batch : 100;
        snprintf(r->cfg.init, sizeof r->cfg.init, "%s", v < 2 ? "kaiming-normal" : "normal");
        r->cfg.init_scale = v < 2 ? 1 : 0.01;
        r->cfg.seed = 1;
        r->cfg.train_limit = o->train_limit ? o->train_limit : o->quick ? 2000 : 10000;
        r->cfg.epochs = 1000;
        r->cfg.steps = o->steps ? o->steps : o->quick ? 200 : 1000;
        r->curve_every = 10;
        r->probe = probe;
        r->probe_every = o->quick ? 50 : 100;
    }
    return true;
}

/* histograms.csv: run, variant, step, layer, kind, bin_lo, bin_hi, share — from the
 * curve points (kind "grad" is in units of the gradient's own standard deviation) */
static void write_csv(ab_report *rep, int *idx, int k) {
    char path[EM_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/histograms.csv", rep->dir);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "run,variant,step,layer,kind,bin_lo,bin_hi,share\n");
    for (int a = 0; a < k; a++)
        for (long p = 0; p < rep->n_pts; p++) {
            const ab_point *pt = &rep->pts[p];
            int layer, bin;
            char kind[8];
            if (pt->run != idx[a] || sscanf(pt->metric, "%7[a-z].L%d.b%d", kind, &layer, &bin) != 3)
                continue;
            double lo = -RANGE + 2 * RANGE * bin / BINS, hi = lo + 2 * RANGE / BINS;
            fprintf(f, "%d,%s,%ld,%d,%s,%g,%g,%.6g\n", pt->run, rep->runs[idx[a]].variant,
                    pt->step, layer, kind, bin == 0 ? -INFINITY : lo,
                    bin == BINS - 1 ? INFINITY : hi, pt->value);
        }
    if (fclose(f)) fprintf(rep->md, "(histograms.csv could not be written)\n\n");
    else fprintf(rep->md, "histograms.csv: the histograms, one row per run, step, layer, kind "
                          "and bin.\n\n");
}

/* hist_<variant>.gp: activations and gradients of every layer at the first and the last
 * probe, four panels; rendered like the other figures */
static void draw_variant(ab_report *rep, int run) {
    const char *v = rep->runs[run].variant;
    long first = -1, last = -1;
    for (long p = 0; p < rep->n_pts; p++)
        if (rep->pts[p].run == run && !strcmp(rep->pts[p].metric, "act.L1.b0")) {
            if (first < 0) first = rep->pts[p].step;
            last = rep->pts[p].step;
        }
    if (first < 0) return;
    char name[64], path[EM_PATH_MAX + 80];
    snprintf(name, sizeof name, "hist_%s", v);
    snprintf(path, sizeof path, "%s/%s.gp", rep->dir, name);
    FILE *gp = fopen(path, "w");
    if (!gp) return;
    fprintf(gp, "# %s.gp — written by ember-ablate histograms; render with: gnuplot %s.gp\n"
                "set terminal pngcairo size 1000,700 noenhanced\nset output '%s.png'\n"
                "set multiplot layout 2,2 title '%s: per-layer histograms (500 test images)'\n"
                "set grid\nset key top right\nset style data lines\n", name, name, name, v);
    for (int panel = 0; panel < 4; panel++) {
        const char *kind = panel < 2 ? "act" : "grad";
        long step = panel % 2 ? last : first;
        fprintf(gp, "set title '%s, step %ld'\nset xlabel '%s'\nset ylabel 'share of values'\n",
                panel < 2 ? "ReLU input" : "its gradient / its std", step,
                panel < 2 ? "value" : "value in units of the gradient std of the layer");
        for (int l = 1; l <= LAYERS; l++) {
            fprintf(gp, "$%s%d_%d << EOD\n", kind, panel, l);
            for (int b = 0; b < BINS; b++) {
                char m[32];
                snprintf(m, sizeof m, "%s.L%d.b%d", kind, l, b);
                double share = ab_value_at(rep, run, m, step);
                fprintf(gp, "%g %g\n", -RANGE + 2 * RANGE * (b + 0.5) / BINS, share);
            }
            fprintf(gp, "EOD\n");
        }
        fprintf(gp, "plot ");
        for (int l = 1; l <= LAYERS; l++)
            fprintf(gp, "%s$%s%d_%d using 1:2 lw 2 title 'layer %d'", l > 1 ? ", " : "", kind,
                    panel, l, l);
        fprintf(gp, "\n");
    }
    fprintf(gp, "unset multiplot\n");
    if (fclose(gp)) return;
    char script[80], msg[512] = "";
    snprintf(script, sizeof script, "%s.gp", name);
    if (rep->gnuplot && em_gnuplot_run(rep->gnuplot, rep->dir, script, msg, sizeof msg) == 0)
        fprintf(rep->md, "\n![%s](%s.png)\n\n*%s: the input of each ReLU and its gradient, "
                "step %ld and step %ld* (script: `%s.gp`)\n\n", v, name, v, first, last, name);
    else
        fprintf(rep->md, "\n*%s*: `%s.gp` (not rendered: %s)\n\n", v, name,
                rep->gnuplot ? msg : "gnuplot was not found");
}

static void report(ab_report *rep) {
    FILE *f = rep->md;
    fprintf(f, "784-[100x5]-10 ReLU (E4's network), batch 100, SGD lr 0.01 momentum 0.9; "
               "Kaiming-normal weights, or N(0, 0.01^2) without fan-in scaling; with and "
               "without BN. Every %ld steps 500 test images go through the network; for each "
               "ReLU its input (the pre-activation) and that input's gradient are histogrammed "
               "(curves.csv: act_std.L<l>, grad_std.L<l>, act.L<l>.b<k>, grad.L<l>.b<k>).\n\n",
            rep->ctx->o->quick ? 50L : 100L);
    ab_runs_table(rep, "histograms", NULL);
    int idx[8], k = ab_select(rep, "histograms", idx, 8);
    write_csv(rep, idx, k);
    int run[4];
    for (int v = 0; v < 4; v++) run[v] = ab_find(rep, "histograms", variants[v]);
    if (run[0] < 0 || run[1] < 0 || run[2] < 0 || run[3] < 0) return;
    double s1[4], s5[4];
    for (int v = 0; v < 4; v++) {
        s1[v] = ab_value_at(rep, run[v], "act_std.L1", 0);
        s5[v] = ab_value_at(rep, run[v], "act_std.L5", 0);
    }
    fprintf(f, "| criterion | what | measured | result |\n|---|---|---|---|\n");
    char s[200];
    snprintf(s, sizeof s, "std of layer 5's ReLU input / layer 1's at step 0: %.3g", s5[2] / s1[2]);
    ab_criterion(rep, "histograms", "without BN, N(0, 0.01^2) shrinks the activations layer "
                 "by layer (ratio < 0.01)", s, s5[2] / s1[2] < 0.01);
    snprintf(s, sizeof s, "the same ratio: Kaiming %.3g", s5[0] / s1[0]);
    ab_criterion(rep, "histograms", "Kaiming keeps their scale without BN (ratio in [0.3, 3])",
                 s, s5[0] / s1[0] > 0.3 && s5[0] / s1[0] < 3);
    snprintf(s, sizeof s, "layer 5's std at step 0: BN with Kaiming %.3g, with N(0, 0.01^2) %.3g",
             s5[1], s5[3]);
    ab_criterion(rep, "histograms", "BN puts every layer's input at unit scale whatever the "
                 "initialization (std in [0.8, 1.2])", s,
                 fabs(s5[1] - 1) < 0.2 && fabs(s5[3] - 1) < 0.2);
    fprintf(f, "\n");
    for (int kind = 0; kind < 2; kind++) {
        ab_plot p;
        if (!ab_plot_begin(rep, &p, kind ? "hist_grad_std" : "hist_act_std",
                           kind ? "gradient scale per layer at step 0" :
                                  "ReLU input scale per layer at step 0",
                           "layer (1 = input side)", kind ? "std of the gradient" :
                                                            "std of the ReLU input", false, true))
            continue;
        for (int v = 0; v < 4; v++) {
            double x[LAYERS], y[LAYERS];
            for (int l = 0; l < LAYERS; l++) {
                char m[32];
                snprintf(m, sizeof m, "%s.L%d", kind ? "grad_std" : "act_std", l + 1);
                x[l] = l + 1;
                y[l] = ab_value_at(rep, run[v], m, 0);
            }
            ab_plot_series(&p, variants[v], "linespoints lw 2", x, y, LAYERS);
        }
        ab_plot_end(rep, &p, kind ? "the gradient's scale, layer by layer, at step 0"
                                  : "the activations' scale, layer by layer, at step 0");
    }
    for (int v = 0; v < 4; v++) draw_variant(rep, run[v]);
}

const ab_experiment ab_exp_histograms = {"histograms", "per-layer activation and gradient "
                                         "histograms over training", expand, report};

/* examples/ablation/report.c — report.md helpers: selecting results, pass criteria, and
 * gnuplot figures whose scripts carry their data inline (a student can restyle a figure
 * with nothing but the .gp file). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ablate.h"
#include "examples/common/gnuplot.h"

bool ab_result_extra(const ab_result *r, const char *key, double *value) {
    for (int i = 0; i < r->n_extra; i++)
        if (!strcmp(r->extra_key[i], key)) {
            *value = r->extra_val[i];
            return true;
        }
    return false;
}

int ab_select(const ab_report *rep, const char *experiment, int *idx, int max) {
    int k = 0;
    for (int i = 0; i < rep->n_runs && k < max; i++)
        if (!strcmp(rep->runs[i].experiment, experiment)) idx[k++] = i;
    return k;
}

int ab_series(const ab_report *rep, int run, const char *metric, long *steps, double *values,
              int max) {
    int k = 0;
    for (long i = 0; i < rep->n_pts && k < max; i++) {
        const ab_point *p = &rep->pts[i];
        if (p->run != run || strcmp(p->metric, metric)) continue;
        if (steps) steps[k] = p->step;
        values[k++] = p->value;
    }
    return k;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ab_median(double *v, int n) {
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void ab_criterion_data(ab_report *rep, const char *id, const char *what, const char *measured,
                       bool has_data, bool pass) {
    int runs = 0, failed = 0;
    for (int i = 0; rep->experiment && i < rep->n_runs; i++)
        if (!strcmp(rep->runs[i].experiment, rep->experiment)) {
            runs++;
            failed += !strcmp(rep->res[i].outcome, "failed");
        }
    if (failed || !has_data) {
        if (failed)
            fprintf(rep->md, "| %s | %s | %s | **no data** (%d of %d runs failed) |\n", id, what,
                    measured, failed, runs);
        else
            fprintf(rep->md, "| %s | %s | %s | **no data** (the runs it needs have no "
                             "measurement) |\n", id, what, measured);
        rep->n_nodata++;
        return;
    }
    fprintf(rep->md, "| %s | %s | %s | **%s** |\n", id, what, measured, pass ? "PASS" : "FAIL");
    if (pass) rep->n_pass++;
    else rep->n_fail++;
}

void ab_criterion(ab_report *rep, const char *id, const char *what, const char *measured,
                  bool pass) {
    ab_criterion_data(rep, id, what, measured, true, pass);
}

/* s for a single-quoted gnuplot string: a quote doubled ('' is one ') */
static void gp_quoted(FILE *gp, const char *s) {
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', gp);
        fputc(*s, gp);
    }
}

bool ab_plot_begin(ab_report *rep, ab_plot *p, const char *name, const char *title,
                   const char *xlabel, const char *ylabel, bool logx, bool logy) {
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    char path[EM_PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/%s.gp", rep->dir, name);
    em_error err;
    if (em_wfile_open(&p->w, path, 0, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        return false;
    }
    p->gp = p->w.f;
    fprintf(p->gp, "# %s.gp — written by ember-ablate; render with: gnuplot %s.gp\n", name, name);
    fprintf(p->gp, "set terminal pngcairo size 800,500 noenhanced\nset output '%s.png'\n", name);
    const char *labels[3][2] = {{"title", title}, {"xlabel", xlabel}, {"ylabel", ylabel}};
    for (int i = 0; i < 3; i++) {
        fprintf(p->gp, "set %s '", labels[i][0]);
        gp_quoted(p->gp, labels[i][1]);
        fputs("'\n", p->gp);
    }
    fprintf(p->gp, "set grid\nset key outside right\nset datafile missing 'nan'\n");
    if (logx) fprintf(p->gp, "set logscale x\n");
    if (logy) fprintf(p->gp, "set logscale y\n");
    return true;
}

void ab_plot_series(ab_plot *p, const char *title, const char *style, const double *x,
                    const double *y, int n) {
    if (!p->gp || p->n_series >= 16) return;
    fprintf(p->gp, "$d%d << EOD\n", p->n_series);
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            fprintf(p->gp, "%.6g %.6g\n", x[i], y[i]);
            p->n_points++;
        }
    fprintf(p->gp, "EOD\n");
    snprintf(p->titles[p->n_series], sizeof p->titles[0], "%s", title);
    snprintf(p->styles[p->n_series], sizeof p->styles[0], "%s", style ? style : "linespoints");
    p->n_series++;
}

void ab_plot_end(ab_report *rep, ab_plot *p, const char *caption) {
    if (!p->gp) return;
    fprintf(p->gp, "plot ");
    for (int i = 0; i < p->n_series; i++) {
        fprintf(p->gp, "%s$d%d using 1:2 with %s title '", i ? ", \\\n     " : "", i,
                p->styles[i]);
        gp_quoted(p->gp, p->titles[i]);
        fputc('\'', p->gp);
    }
    fprintf(p->gp, "\n");
    p->gp = NULL;
    em_error err;
    char script[80], why[EM_ERROR_MSG_MAX + 80] = "gnuplot was not found; install gnuplot-nox";
    snprintf(script, sizeof script, "%s.gp", p->name);
    if (em_wfile_commit(&p->w, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        fprintf(rep->md, "\n*%s*: not written (%s)\n\n", caption, err.msg);
        return;
    }
    if (p->n_points == 0) {   /* gnuplot would only fail on an empty range */
        fprintf(rep->md, "\n*%s*: `%s` (not rendered: no data to plot, the runs it needs "
                         "failed or have no measurement)\n\n", caption, script);
        return;
    }
    /* gnuplot runs as a program in the report's folder, no shell in between */
    bool rendered =
        rep->gnuplot && em_gnuplot_run(rep->gnuplot, rep->dir, script, why, sizeof why) == 0;
    if (rep->gnuplot && !rendered)
        fprintf(stderr, "ember-ablate: %s/%s not rendered: %s\n", rep->dir, script, why);
    if (rendered)
        fprintf(rep->md, "\n![%s](%s.png)\n\n*%s* (script: `%s`)\n\n", caption, p->name,
                caption, script);
    else
        fprintf(rep->md, "\n*%s*: `%s` (not rendered: %s; then run `gnuplot %s` in this "
                         "folder)\n\n", caption, script, why, script);
}

void ab_runs_table(ab_report *rep, const char *experiment, const char *prefix) {
    FILE *f = rep->md;
    fprintf(f, "| run | variant | BN | lr | init scale | batch | steps | final train loss | "
               "final test acc | best test acc | steps to target | outcome |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    int idx[AB_MAX_RUNS], k = ab_select(rep, experiment, idx, AB_MAX_RUNS);
    size_t np = prefix ? strlen(prefix) : 0;
    for (int a = 0; a < k; a++) {
        const ab_run *r = &rep->runs[idx[a]];
        const ab_result *s = &rep->res[idx[a]];
        if (np && strncmp(r->variant, prefix, np)) continue;
        if (!strcmp(s->outcome, "failed")) {   /* no measurements to show */
            fprintf(f, "| %d | %s | %s | %g | %g | %d | – | – | – | – | – | **failed** |\n",
                    idx[a], r->variant, r->cfg.bn ? "yes" : "no", r->cfg.lr, r->cfg.init_scale,
                    r->cfg.batch);
            continue;
        }
        fprintf(f, "| %d | %s | %s | %g | %g | %d | %ld | %.4g | %.4f | %.4f | %ld | %s |\n",
                idx[a], r->variant, r->cfg.bn ? "yes" : "no", r->cfg.lr, r->cfg.init_scale,
                r->cfg.batch, s->steps, s->final_train_loss, s->final_test_acc,
                s->best_test_acc, s->steps_to_target, s->outcome);
    }
    fprintf(f, "\n");
}

double ab_value_at(const ab_report *rep, int run, const char *metric, long step) {
    double best = NAN;
    for (long i = 0; i < rep->n_pts; i++) {
        const ab_point *p = &rep->pts[i];
        if (p->run == run && p->step <= step && !strcmp(p->metric, metric)) best = p->value;
    }
    return best;
}

void ab_plot_metric(ab_report *rep, ab_plot *p, int run, const char *metric, const char *title,
                    const char *style) {
    enum { MAX = 20000 };
    long *st = malloc(MAX * sizeof *st);
    double *x = malloc(MAX * sizeof *x), *y = malloc(MAX * sizeof *y);
    if (st && x && y) {
        int n = ab_series(rep, run, metric, st, y, MAX);
        for (int i = 0; i < n; i++) x[i] = (double)st[i];
        ab_plot_series(p, title, style, x, y, n);
    }
    free(st);
    free(x);
    free(y);
}

int ab_find(const ab_report *rep, const char *experiment, const char *variant) {
    for (int i = 0; i < rep->n_runs; i++)
        if (!strcmp(rep->runs[i].experiment, experiment) && !strcmp(rep->runs[i].variant, variant))
            return i;
    return -1;
}

double ab_run_error(const ab_report *rep, int i) {
    if (i < 0 || !strcmp(rep->res[i].outcome, "failed")) return NAN;
    /* a run stopped by divergence has no test accuracy (a slow start can also count as
     * "diverged" by its final loss, and then it has one) */
    if (isnan(rep->res[i].final_test_acc)) return 1 - 1.0 / rep->ctx->train->n_classes;
    return 1 - rep->res[i].final_test_acc;
}

double ab_seed_median(const ab_report *rep, const char *experiment, const char *config,
                      double (*value)(const ab_report *rep, int run), int *n) {
    double v[AB_MAX_RUNS];
    int k = 0;
    size_t len = strlen(config);
    for (int i = 0; i < rep->n_runs; i++) {
        const char *var = rep->runs[i].variant;
        if (strcmp(rep->runs[i].experiment, experiment) || strncmp(var, config, len) ||
            strncmp(var + len, "-s", 2) || !var[len + 2] || strspn(var + len + 2, "0123456789") !=
            strlen(var + len + 2))
            continue;
        double x = value(rep, i);
        if (!isnan(x)) v[k++] = x;
    }
    if (n) *n = k;
    return ab_median(v, k);
}

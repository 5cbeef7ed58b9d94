/* examples/plot/script.c — the gnuplot scripts of ember-plot (plot.h). A script carries its
 * data as datablocks ($name << EOD) and draws the PNG and the SVG in one loop over the two
 * terminals, so the one file is all a teacher needs to restyle the figure. */
#include <math.h>
#include <string.h>

#include "examples/common/confusion.h"
#include "plot.h"

/* s as a gnuplot string: single quotes, a quote doubled (nothing else is special there) */
static void quote(FILE *out, const char *s) {
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', out);
        if (*s != '\n' && *s != '\r') fputc(*s, out);
    }
    fputc('\'', out);
}

/* s exactly, as a gnuplot string: double quotes, where a backslash escape can stand for a
 * line break (a file's name may hold one) */
static void quote_exact(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '\n') fputs("\\n", out);
        else if (*s == '\r') fputs("\\r", out);
        else {
            if (*s == '"' || *s == '\\') fputc('\\', out);
            fputc(*s, out);
        }
    }
    fputc('"', out);
}

/* s in a comment line: a line break in it would end the comment and make the rest of s a
 * command, so each becomes a space */
static void comment_text(FILE *out, const char *s) {
    for (; *s; s++) fputc(*s == '\n' || *s == '\r' ? ' ' : *s, out);
}

/* the terminals: a loop over png and svg, name.png and name.svg in the script's folder */
static void begin_outputs(FILE *out, const pl_figure *fig) {
    fprintf(out, "do for [format in 'png svg'] {\n"
                 "    if (format eq 'png') {\n"
                 "        set terminal pngcairo size %d,%d noenhanced font 'sans,10'\n"
                 "    } else {\n"
                 "        set terminal svg size %d,%d noenhanced dynamic font 'sans,10' "
                 "background '#ffffff'\n"
                 "    }\n"
                 "    set output ", fig->width, fig->height, fig->width, fig->height);
    quote_exact(out, fig->name);
    fprintf(out, ".'.'.format\n");
}

static void end_outputs(FILE *out) {
    fprintf(out, "    unset output\n}\n");
}

static void header(FILE *out, const pl_figure *fig, const char *what) {
    fputs("# ", out), comment_text(out, fig->name);
    fprintf(out, ".gp — %s, written by ember-plot from ", what), comment_text(out, fig->sources);
    fputs("\n# Render it again (restyled or not) in this folder: gnuplot ", out);
    comment_text(out, fig->name);
    fputs(".gp\n# -> ", out), comment_text(out, fig->name);
    fputs(".png and ", out), comment_text(out, fig->name);
    fputs(".svg. The data is in the script, below.\n\n", out);
}

/* ---- curves --------------------------------------------------------------------------------- */

static const char *const series_name[PL_SERIES] = {"train_loss", "test_loss", "train_acc",
                                                   "test_acc"};

static double x_of(const pl_run *r, double step, const pl_figure *fig) {
    return fig->by_epoch ? step / r->steps_per_epoch : step;
}

static void datablocks(FILE *out, const pl_runs *runs, const pl_figure *fig) {
    for (int i = 0; i < runs->n; i++) {
        const pl_run *r = &runs->run[i];
        fprintf(out, "# run %d: ", i + 1);
        quote(out, r->label);
        fputc('\n', out);
        for (int k = 0; k < PL_SERIES; k++) {
            const pl_series *s = &r->s[k];
            if (!s->n) continue;
            bool acc = k == PL_TRAIN_ACC || k == PL_TEST_ACC;
            fprintf(out, "$run%d_%s << EOD\n", i + 1, series_name[k]);
            for (int j = 0; j < s->n; j++)
                fprintf(out, "%.10g %.8g\n", x_of(r, s->x[j], fig), acc ? 100 * s->y[j] : s->y[j]);
            fprintf(out, "EOD\n");
        }
    }
    fputc('\n', out);
}

/* one panel: the training series of every run solid, the test series dashed with points,
 * one colour per run; a run's label on its first line in the panel */
static void panel(FILE *out, const pl_runs *runs, int train, int test, const char *title,
                  const char *ylabel, const pl_figure *fig, bool key_bottom) {
    fprintf(out, "    set title '%s (solid: training, dashed: test)'\n", title);
    fprintf(out, "    set xlabel '%s'\n    set ylabel '%s'\n", fig->by_epoch ? "epoch" : "step",
            ylabel);
    if (runs->n > 6) fprintf(out, "    set key below horizontal\n");
    else fprintf(out, "    set key %s right\n", key_bottom ? "bottom" : "top");
    fprintf(out, "    plot ");
    int items = 0;
    for (int i = 0; i < runs->n; i++) {
        const pl_run *r = &runs->run[i];
        bool titled = false;
        for (int pass = 0; pass < 2; pass++) {
            int k = pass ? test : train;
            if (!r->s[k].n) continue;
            fprintf(out, "%s$run%d_%s using 1:2 with %s lw 2 lc %d ", items++ ? ", \\\n         " : "",
                    i + 1, series_name[k], pass ? "linespoints dt 2 pt 7 ps 0.5" : "lines", i + 1);
            if (titled) fprintf(out, "notitle");
            else fprintf(out, "title "), quote(out, r->label);
            titled = true;
        }
    }
    fputc('\n', out);
}

static bool any(const pl_runs *runs, int k) {
    for (int i = 0; i < runs->n; i++)
        if (runs->run[i].s[k].n) return true;
    return false;
}

em_code pl_curves_script(FILE *out, const pl_runs *runs, const pl_figure *fig, em_error *err) {
    bool loss = any(runs, PL_TRAIN_LOSS) || any(runs, PL_TEST_LOSS);
    bool acc = any(runs, PL_TRAIN_ACC) || any(runs, PL_TEST_ACC);
    if (!loss && !acc)
        return em_error_set(err, EM_ERR_ARG, "nothing to draw: no run has a loss or an accuracy");
    for (int i = 0; fig->by_epoch && i < runs->n; i++)
        if (!(runs->run[i].steps_per_epoch > 0))
            return em_error_set(err, EM_ERR_ARG, "--x epoch: '%s' has no epoch rows to place "
                                "its steps (ember-ablate curves count steps); use --x step",
                                runs->run[i].label);
    pl_figure grown = *fig;   /* more than 6 runs: the keys go under the panels */
    if (fig->grow && runs->n > 6 && grown.height < 300 + 27 * runs->n) grown.height = 300 + 27 * runs->n;
    fig = &grown;
    header(out, fig, "training curves");
    datablocks(out, runs, fig);
    fprintf(out, "set grid\nset xrange [0:*]\n\n");
    begin_outputs(out, fig);
    fprintf(out, "    set multiplot layout 1,%d", loss + acc);
    if (fig->title) fprintf(out, " title "), quote(out, fig->title);
    fprintf(out, "\n");
    if (loss) panel(out, runs, PL_TRAIN_LOSS, PL_TEST_LOSS, "loss", "cross-entropy", fig, false);
    if (acc) panel(out, runs, PL_TRAIN_ACC, PL_TEST_ACC, "accuracy", "accuracy (%)", fig, true);
    fprintf(out, "    unset multiplot\n");
    end_outputs(out);
    return EM_OK;
}

/* ---- a confusion matrix --------------------------------------------------------------------- */

static void class_tics(FILE *out, const char *axis, const em_confusion *c) {
    fprintf(out, "set %s (", axis);
    for (int i = 0; i < c->k; i++) {
        if (i) fputs(", ", out);
        quote(out, c->names[i]);
        fprintf(out, " %d", i);
    }
    fprintf(out, ")\n");
}

void pl_confusion_script(FILE *out, const em_confusion *c, const pl_figure *fig) {
    int k = c->k;
    double total = em_confusion_total(c), right = 0;
    for (int i = 0; i < k; i++) right += c->counts[(size_t)i * k + i];
    header(out, fig, "a confusion matrix");
    fprintf(out, "# column (predicted class), row (true class), %% of the row, count\n"
                 "$cells << EOD\n");
    for (int i = 0; i < k; i++) {
        double n = 0;
        for (int j = 0; j < k; j++) n += c->counts[(size_t)i * k + j];
        for (int j = 0; j < k; j++) {
            double v = c->counts[(size_t)i * k + j];
            fprintf(out, "%d %d %.4g %.0f\n", j, i, n > 0 ? 100 * v / n : 0.0, v);
        }
    }
    fprintf(out, "EOD\n\n");
    class_tics(out, "xtics", c);
    class_tics(out, "ytics", c);
    fprintf(out, "set xtics rotate by 45 right\nset tics scale 0\n"
                 "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\n", k - 1, k - 1);
    fprintf(out, "set xlabel 'predicted'\nset ylabel 'true class'\nset size square\n"
                 "set cbrange [0:100]\nset cblabel '%% of the true class'\n"
                 "set palette defined (0 '#ffffff', 2 '#deebf7', 30 '#6baed6', 100 '#08306b')\n");
    fprintf(out, "set title ");
    char title[600];
    snprintf(title, sizeof title, "%.400s%s%.0f images, %.2f%% right", fig->title ? fig->title : "",
             fig->title ? ": " : "", total, total > 0 ? 100 * right / total : 0.0);
    quote(out, title);
    fprintf(out, "\n\n");
    begin_outputs(out, fig);
    fprintf(out, "    plot $cells using 1:2:3 with image notitle");
    if (k <= 30)   /* the counts, white on dark cells; an empty cell stays empty */
        fprintf(out, ", \\\n"
                "         $cells using 1:2:($3 >= 50 ? sprintf('%%.0f', $4) : '') with labels "
                "tc '#ffffff' notitle, \\\n"
                "         $cells using 1:2:($3 < 50 && $4 > 0 ? sprintf('%%.0f', $4) : '') with "
                "labels tc '#000000' notitle");
    fprintf(out, "\n");
    end_outputs(out);
}

/* examples/plot/plot.h — ember-plot: training curves and confusion matrices as gnuplot
 * figures.
 *
 * The inputs become runs (read.c): a metrics CSV of ember-mnist/-cifar is one run; an
 * ember-ablate curves.csv is one run per run of its runs.csv. Each run has up to four
 * series against the step — train loss, test loss, train accuracy, test accuracy — and a
 * label. script.c writes one gnuplot script that carries the data (so it renders again on
 * its own, restyled or not) and draws PNG and SVG; main.c runs gnuplot on it.
 */
#ifndef EM_PLOT_H
#define EM_PLOT_H

#include <stdbool.h>
#include <stdio.h>

#include "core/errors.h"

enum { PL_TRAIN_LOSS, PL_TEST_LOSS, PL_TRAIN_ACC, PL_TEST_ACC, PL_SERIES };

typedef struct pl_series {
    double *x, *y;        /* x: the step (or epoch); y: loss, or accuracy in [0, 1] */
    int n, cap;
} pl_series;

typedef struct pl_run {
    char label[160];
    pl_series s[PL_SERIES];
    double steps_per_epoch;  /* 0: unknown (then --x epoch cannot place it)             */
    long diverged_step;      /* the step of a row marked diverged, or -1                */
} pl_run;

typedef struct pl_runs {
    pl_run *run;
    int n, cap;
} pl_runs;

/* Appends the runs of FILE to runs: a metrics CSV (labelled `label` if not NULL, else
 * `name`) or an ember-ablate curves.csv (labels from the runs.csv beside it, after
 * "label: " if label is given). Runs whose label does not contain `match` (when not NULL)
 * are left out. EM_ERR_IO / EM_ERR_FORMAT naming the file (and the line); notes (a
 * half-written last line left out) go to `notes`. */
em_code pl_read(pl_runs *runs, const char *path, const char *label, const char *name,
                const char *match, FILE *notes, em_error *err);
void pl_runs_free(pl_runs *runs);
/* the label of a metrics file from its path: "bn" for results/main/bn.csv; when another
 * of the n paths has the same name, with its folder: "run1/metrics" */
void pl_default_label(char *out, size_t len, const char *path, char *const *paths, int n);

/* The figure. */
typedef struct pl_figure {
    const char *name;        /* the script's and the images' base name ("curves")       */
    const char *title;       /* NULL: none                                               */
    bool by_epoch;           /* x axis: epochs (else steps)                              */
    int width, height;       /* PNG and SVG size in pixels                               */
    bool grow;               /* the height may grow to fit the key of many runs          */
    const char *sources;     /* the input files, for the script's header comment         */
} pl_figure;

/* The curves script, data inline: name.png and name.svg when gnuplot runs it. Returns
 * EM_OK or EM_ERR_NOMEM; EM_ERR_ARG when no run has anything to draw or --x epoch is asked
 * of a run without epochs. */
em_code pl_curves_script(FILE *out, const pl_runs *runs, const pl_figure *fig, em_error *err);

struct em_confusion;
/* The heat map of a confusion matrix: colour = share of the true class (row), with the
 * counts written in the cells (up to 30 classes). */
void pl_confusion_script(FILE *out, const struct em_confusion *c, const pl_figure *fig);

#endif

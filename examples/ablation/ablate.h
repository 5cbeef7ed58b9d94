/* examples/ablation/ablate.h — ember-ablate, the BatchNorm experiment driver.
 *
 * An experiment expands into a list of runs (ab_run: an em_config for the shared trainer
 * of examples/common, a model description and a seed). The runner executes every run in
 * a forked worker (--jobs N at a time); a worker writes its rows to its own temporary file
 * and the parent concatenates them in run order, so the output does not depend on --jobs.
 * Then each experiment writes its section of report.md from the results: a table, the
 * published result beside ours, every pass criterion of docs/experiment-protocols.md with
 * its measured value, and figures.
 *
 * A worker's temporary file has one record per line:
 *   R,<the runs.csv row>            exactly one, last
 *   C,<run>,<step>,<metric>,<value> a curves.csv row
 *   X,<key>,<value>                 a scalar for the report (also a curves.csv row)
 */
#ifndef EM_ABLATE_H
#define EM_ABLATE_H

#include <stdbool.h>
#include <stdio.h>

#include "data/dataset.h"
#include "examples/common/dist.h"
#include "examples/common/options.h"
#include "core/wfile.h"
#include "layers/module.h"

#define AB_MAX_RUNS 1024
#define AB_MAX_LRS 16
#define AB_MAX_EXTRA 24

/* The command line. */
typedef struct ab_opts {
    char experiment[24];
    char out[EM_PATH_MAX];
    bool quick;
    int seeds;                 /* 0: the experiment's default (1 quick, 3 full)            */
    int jobs;
    char data[EM_PATH_MAX];
    char dataset[16];          /* "fashion-mnist" (default) or "mnist"                     */
    double lrs[AB_MAX_LRS];    /* --lr: the lr-sweep grid; elsewhere its first value       */
    int n_lrs;
    int batch;                 /* 0: the experiment's own                                  */
    long steps;                /* 0: the experiment's own                                  */
    long train_limit;          /* 0: the experiment's own                                  */
    int threads;               /* OpenBLAS threads per worker (default 1)                  */
    char kernels[16];          /* "fast" or "reference" (core/kernels.h): --kernels, else
                                  $EMBER_KERNELS, else the build's default                  */
} ab_opts;

/* What every run and report sees. */
typedef struct ab_ctx {
    const ab_opts *o;
    const em_dataset *train, *test;
    bool fashion;              /* the lower Fashion-MNIST thresholds apply                 */
    const em_dist *dist;       /* under mpirun: the processes that share the runs          */
} ab_ctx;

struct ab_run;
struct em_trainer;
/* A run's body: writes C/X records to out and fills the R fields through res.
 * The default (fn NULL) is ab_train, one training run on the shared trainer. */
struct ab_result;
typedef int (*ab_run_fn)(const ab_ctx *ctx, int index, const struct ab_run *run,
                         struct ab_result *res, FILE *out);

typedef struct ab_run {
    const char *experiment;
    char variant[48];          /* no commas: a CSV field                                   */
    em_config cfg;             /* bn, lr, batch, steps, init, seed, ...                    */
    /* model: a generic MLP (n_hidden >= 0) or, with n_hidden < 0, the zoo's cfg.model      */
    int n_hidden, width;
    char act[8];
    /* or, when arch[0] (model = ab_arch_model), a network of the architecture language
     * (examples/common/arch.h): every norm replaced by `norm` ("" as written: "bn", "brn",
     * "gn:G", "ln", "in", "none"), placed by norm_after (-1 as written, 0 before, 1 after
     * the activation); Batch Renorm's warm-up over renorm_warmup batches; and, after the
     * initialization, a residual network's zero-gamma or Fixup rescaling */
    char arch[200];
    char norm[12];
    int norm_after;
    long renorm_warmup;
    enum { AB_INIT_PLAIN, AB_INIT_ZERO_GAMMA, AB_INIT_FIXUP } res_init;
    /* or, when set, a model the experiment builds itself (d2l's LeNet, noisy-BN MLPs):
     * takes the input shape (C, H, W), returns NULL when out of memory */
    em_module *(*model)(const struct ab_run *run, const int input_chw[3]);
    double target;             /* test accuracy for steps_to_target (0: none)              */
    long eval_every;           /* test accuracy every K steps (0: only at the end)         */
    long curve_every;          /* train-loss curve point every N steps (0: 10)             */
    bool weight_norms;         /* per-layer weight norms in curves.csv                     */
    bool grad_flow;            /* per-layer gradient norms and update/weight ratios        */
    bool epoch_curves;         /* epoch_train_loss / epoch_train_acc at each epoch's end   */
    /* a probe at step 0 and every probe_every steps (after the update): it may read and
     * temporarily change the model but must leave it as it found it; *state is the
     * probe's own, NULL at first; a last call with step -1 frees it */
    void (*probe)(const struct ab_run *run, int index, struct em_trainer *t, long step,
                  FILE *out, void **state);
    long probe_every;
    /* after a training run that did not stop on an error, before the trainer is freed:
     * further measurements of the trained model (ab_extra); non-zero fails the run */
    int (*finish)(const struct ab_run *run, int index, struct em_trainer *t,
                  struct ab_result *res, FILE *out);
    long period;               /* an experiment's own step period (E3c's epoch length)     */
    ab_run_fn fn;
} ab_run;

typedef struct ab_result {
    int run;                   /* index into the run list                                  */
    double final_train_loss;   /* mean of the last 100 steps' batch losses                 */
    double final_test_acc, best_test_acc;
    long steps, steps_to_target, diverged_step;
    char outcome[12];          /* trained | slow | diverged | failed (no measurements: the
                                  run stopped on an error; its metrics are NaN, not 0)    */
    double seconds;
    int n_extra;
    char extra_key[AB_MAX_EXTRA][32];
    double extra_val[AB_MAX_EXTRA];
} ab_result;

/* A curves.csv row kept in memory for the figures. */
typedef struct ab_point {
    int run;
    long step;
    char metric[32];
    double value;
} ab_point;

/* The report being written: report.md plus figure scripts in dir. */
typedef struct ab_report {
    FILE *md;
    const char *dir;
    const char *gnuplot;       /* path, or NULL when not installed                         */
    const ab_ctx *ctx;
    const ab_run *runs;
    const ab_result *res;      /* res[i] belongs to runs[i]                                */
    int n_runs;
    const ab_point *pts;
    long n_pts;
    const char *experiment;    /* the section being written (its runs decide "no data")    */
    int n_pass, n_fail, n_nodata;
} ab_report;

typedef struct ab_experiment {
    const char *name;
    const char *title;
    /* appends the runs to runs[*n] (at most AB_MAX_RUNS); false when there is no room */
    bool (*expand)(const ab_ctx *ctx, ab_run *runs, int *n);
    void (*report)(ab_report *rep);
} ab_experiment;

extern const ab_experiment *const ab_experiments[];
extern const int ab_n_experiments;

/* ---- runs (train_run.c) ---------------------------------------------------------------- */
/* A new run of `experiment` with the driver's defaults on top of em_config_defaults. */
ab_run *ab_run_add(const ab_ctx *ctx, ab_run *runs, int *n, const char *experiment);
/* the trainer for a run, model built as the run says; quiet and silent */
em_code ab_trainer_new(const ab_ctx *ctx, const ab_run *run, struct em_trainer *t, em_error *err);
int ab_train(const ab_ctx *ctx, int index, const ab_run *run, ab_result *res, FILE *out);
void ab_curve(FILE *out, int run, long step, const char *metric, double value);
void ab_extra(ab_result *res, FILE *out, const char *key, double value);
/* the outcome of a run (docs/experiment-protocols.md, "Outcomes"): diverged (NaN/Inf or
 * final loss > 2.2), trained (final loss < 0.5, Fashion-MNIST 0.8), else slow */
const char *ab_outcome(const ab_ctx *ctx, bool diverged, double final_loss);
int ab_seeds(const ab_ctx *ctx, int full_default);
/* E1's network and optimizer (Ioffe's sigmoid MLP) on run r */
void ab_ioffe_mlp(const ab_ctx *ctx, ab_run *r, bool bn, int seed);
/* the run's training loop on another training set (renorm's non-i.i.d. batches: the
 * trainer reads it in order when cfg.shuffle is off); ab_train is ab_train_on(ctx->train) */
int ab_train_on(const ab_ctx *ctx, const em_dataset *train, int index, const ab_run *run,
                ab_result *res, FILE *out);

/* ---- networks of the architecture language and their statistics (arch_run.c) ----------- */
/* run->arch built for the input, the run's norm, placement and BatchNorm options (NULL:
 * a bad spec or out of memory; the message goes to stderr) */
em_module *ab_arch_model(const ab_run *run, const int input_chw[3]);
/* zero-gamma or Fixup after the trainer's initialization, as run->res_init says */
void ab_arch_after_init(const ab_run *run, em_module *net);
/* Test accuracy with every BatchNorm using the statistics of its test batch (training
 * mode, batches of `batch`), the running statistics left as they were. */
em_code ab_eval_batch_stats(struct em_trainer *t, int batch, double *acc, em_error *err);
/* The running statistics recomputed as the plain average over the first `batches`
 * training batches (0: one epoch) in training mode without updates to the weights
 * (PyTorch's update_bn: a cumulative moving average); the momentum is restored. */
em_code ab_recompute_stats(struct em_trainer *t, long batches, em_error *err);
/* the BatchNorm layers of a tree, depth first (at most max); the count */
int ab_batchnorms(em_module *m, em_module **out, int max, int n);

/* ---- the runner (runner.c) ------------------------------------------------------------- */
/* Executes runs[0..n) in forked workers, ctx->o->jobs at a time; 0 when all succeeded.
 * Under mpirun each process executes its share (run i on process i % P). */
int ab_execute(const ab_ctx *ctx, const ab_run *runs, int n, const char *dir);
/* Under mpirun, collective: every worker file to process 0 (0 when all arrived). */
int ab_collect(const ab_ctx *ctx, int n, const char *dir);
/* Reads the workers' files in run order: writes dir/runs.csv and dir/curves.csv (via a
 * temporary name and rename), fills res[0..n) and the in-memory points (malloc'd). A run
 * whose worker failed (or left no row) is a row with outcome "failed" and empty metrics. */
int ab_gather(const char *dir, const ab_run *runs, int n, ab_result *res, ab_point **pts, long *n_pts);
int ab_mkdirs(const char *dir);

/* ---- results and report helpers (report.c) ------------------------------------------------ */
bool ab_result_extra(const ab_result *r, const char *key, double *value);
/* the results of one experiment: indices into rep->runs, returns the count */
int ab_select(const ab_report *rep, const char *experiment, int *idx, int max);
/* points of one run and metric, in step order; returns the count (at most max) */
int ab_series(const ab_report *rep, int run, const char *metric, long *steps, double *values,
              int max);
double ab_median(double *v, int n);   /* sorts v */
/* a markdown table of the experiment's runs (variants starting with prefix, if given) */
void ab_runs_table(ab_report *rep, const char *experiment, const char *prefix);
/* A run's test error: 1 - final test accuracy; a run stopped by divergence (it has no
 * test accuracy) counts at chance (1 - 1/K: its network predicts no better); NaN for a
 * failed run or a missing one (i < 0). */
double ab_run_error(const ab_report *rep, int i);
/* The median over the seeds of one configuration (the runs of experiment whose variant is
 * CONFIG-sN) of value(rep, run) where it is not NaN; *n gets how many had a value. */
double ab_seed_median(const ab_report *rep, const char *experiment, const char *config,
                      double (*value)(const ab_report *rep, int run), int *n);
/* the last value of metric at or before step, NaN if none */
double ab_value_at(const ab_report *rep, int run, const char *metric, long step);
/* the run of experiment with that variant name, or -1 */
int ab_find(const ab_report *rep, const char *experiment, const char *variant);
/* A pass criterion of the section's experiment: PASS or FAIL, or "no data" when any run of
 * that experiment failed (its measurements would be missing or partial, and a comparison
 * of what is left could pass by accident); counted in n_pass, n_fail, n_nodata. */
void ab_criterion(ab_report *rep, const char *id, const char *what, const char *measured,
                  bool pass);
/* the same, and "no data" also when has_data is false (a run the criterion needs is
 * missing or has no measurement: diverged before its end, or not in this protocol) */
void ab_criterion_data(ab_report *rep, const char *id, const char *what, const char *measured,
                       bool has_data, bool pass);
/* A figure: name.gp with the data inline, rendered to name.png when gnuplot exists.
 * ab_plot_begin writes the header; each ab_plot_series adds one curve; ab_plot_end
 * writes the plot command, renders (gnuplot run with an argument vector, never a shell:
 * any character may be in --out), and embeds the figure in the report, or says why it is
 * not there: gnuplot missing, gnuplot's own exit status and last line of errors, or no
 * point to draw (every run it needs failed or has no measurement: gnuplot is not run). */
typedef struct ab_plot {
    em_wfile w;                /* name.gp, written like every file (core/wfile.h)          */
    FILE *gp;
    char name[64];
    int n_series;
    long n_points;             /* finite points over all series: none, nothing to draw     */
    char titles[16][64];
    char styles[16][64];
} ab_plot;
bool ab_plot_begin(ab_report *rep, ab_plot *p, const char *name, const char *title,
                   const char *xlabel, const char *ylabel, bool logx, bool logy);
void ab_plot_series(ab_plot *p, const char *title, const char *style, const double *x,
                    const double *y, int n);
/* a run's metric against the step as one series */
void ab_plot_metric(ab_report *rep, ab_plot *p, int run, const char *metric, const char *title,
                    const char *style);
void ab_plot_end(ab_report *rep, ab_plot *p, const char *caption);

#endif

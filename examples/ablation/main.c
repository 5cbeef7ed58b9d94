/* ember-ablate EXPERIMENT [options] — the BatchNorm experiments of
 * docs/experiment-protocols.md on MNIST-format data (Fashion-MNIST by default): runs.csv,
 * curves.csv, report.md and figures in --out DIR. Exit status: 0 done, 1 a run or a write
 * failed (its row says "failed", its criteria "no data"), 2 bad arguments, an --out that
 * cannot be written, or missing data. */
#include "core/parallel.h"
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ablate.h"
#include "ablate_commit.h"
#include "core/kernels.h"
#include "core/wfile.h"
#include "data/mnist.h"
#include "examples/common/gnuplot.h"
#include "examples/common/fingerprint.h"
#include "examples/common/progress.h"

static void usage(FILE *f) {
    fprintf(f, "usage: ember-ablate EXPERIMENT [options]\n\nexperiments:\n");
    for (int i = 0; i < ab_n_experiments; i++)
        fprintf(f, "  %-15s %s\n", ab_experiments[i]->name, ab_experiments[i]->title);
    fprintf(f, "  %-15s every experiment above\n\noptions:\n"
            "  --out DIR          output folder (default results/EXPERIMENT)\n"
            "  --quick            the reduced protocol (each experiment well under a minute)\n"
            "  --seeds N          seeds per configuration (default 1 quick; full: 3 or 1, as\n"
            "                     each experiment's protocol says)\n"
            "  --jobs N           runs in N parallel worker processes (default 1)\n"
            "  --data DIR         MNIST-format data (default $EMBER_MNIST_DIR or Debian's "
            "Fashion-MNIST)\n"
            "  --dataset NAME     fashion-mnist (default) or mnist: which thresholds apply\n"
            "  --lr LIST          comma-separated learning rates (lr-sweep's grid; elsewhere "
            "the first overrides the experiment's lr)\n"
            "  --batch N, --steps N, --train-limit N   override the experiment's protocol\n"
            "  --threads N        threads per worker (default 1)\n"
            "  --kernels TIER     fast | reference: ember's fast kernels, or the plain loops the\n"
            "                     docs cite ($EMBER_KERNELS, else the build's default, %s)\n\n"
            "Under mpirun -np P the runs are shared out (run i on process i mod P, each with\n"
            "--jobs workers) and process 0 writes the same files one process would.\n", "all",
            em_kernels_default() == em_kernels_fast() ? "fast" : "reference");
}

static bool parse_long(const char *s, long lo, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo) return false;
    *out = v;
    return true;
}

static bool parse_lrs(const char *s, ab_opts *o) {
    o->n_lrs = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || !isfinite(v) || !(v > 0) || v > 1e6 || o->n_lrs >= AB_MAX_LRS)
            return false;
        o->lrs[o->n_lrs++] = v;
        if (*end == ',') end++;
        else if (*end) return false;
        p = end;
    }
    return o->n_lrs > 0;
}

/* 0 ok, 1 help, 2 error (message printed) */
/* a path option into buf, or false when it does not fit (it is refused, never cut) */
static bool copy_path(char *buf, size_t len, const char *opt, const char *s) {
    size_t n = strlen(s);
    if (n > 0 && n < len) {
        memcpy(buf, s, n + 1);
        return true;
    }
    if (n == 0) fprintf(stderr, "ember-ablate: %s: an empty path\n", opt);
    else fprintf(stderr, "ember-ablate: %s: the path has %zu bytes, more than the limit of %zu\n",
                 opt, n, len - 1);
    return false;
}

static int parse(int argc, char **argv, ab_opts *o) {
    memset(o, 0, sizeof *o);
    o->jobs = 1;
    o->threads = 1;
    snprintf(o->dataset, sizeof o->dataset, "fashion-mnist");
    static const struct option longs[] = {
        {"out", 1, 0, 'o'}, {"quick", 0, 0, 'q'}, {"seeds", 1, 0, 's'}, {"jobs", 1, 0, 'j'},
        {"data", 1, 0, 'd'}, {"dataset", 1, 0, 'D'}, {"lr", 1, 0, 'l'}, {"batch", 1, 0, 'b'},
        {"steps", 1, 0, 'S'}, {"train-limit", 1, 0, 'L'}, {"threads", 1, 0, 't'},
        {"kernels", 1, 0, 'k'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    opterr = 0;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        const char *bad = NULL, *want = "";  /* the option, and what it takes */
        switch (c) {
        case 'o': if (!copy_path(o->out, sizeof o->out, "--out", optarg)) return 2; break;
        case 'q': o->quick = true; break;
        case 's': if (!parse_long(optarg, 1, &v) || v > 100) bad = "--seeds", want = "1 to 100"; else o->seeds = (int)v; break;
        case 'j': if (!parse_long(optarg, 1, &v) || v > 64) bad = "--jobs", want = "1 to 64"; else o->jobs = (int)v; break;
        case 'd': if (!copy_path(o->data, sizeof o->data, "--data", optarg)) return 2; break;
        case 'D':
            if (strcmp(optarg, "fashion-mnist") && strcmp(optarg, "mnist"))
                bad = "--dataset", want = "fashion-mnist or mnist";
            else snprintf(o->dataset, sizeof o->dataset, "%s", optarg);
            break;
        case 'l':
            if (!parse_lrs(optarg, o))
                bad = "--lr", want = "comma-separated rates, each above 0 and at most 1e6";
            break;
        case 'b': if (!parse_long(optarg, 2, &v) || v > 65536) bad = "--batch", want = "2 to 65536"; else o->batch = (int)v; break;
        case 'S': if (!parse_long(optarg, 1, &v)) bad = "--steps", want = "1 or more"; else o->steps = v; break;
        case 'L': if (!parse_long(optarg, 2, &v)) bad = "--train-limit", want = "2 or more"; else o->train_limit = v; break;
        case 't': if (!parse_long(optarg, 1, &v) || v > 256) bad = "--threads", want = "1 to 256"; else o->threads = (int)v; break;
        case 'k':
            if (strcmp(optarg, "fast") && strcmp(optarg, "reference"))
                bad = "--kernels", want = "fast or reference";
            else snprintf(o->kernels, sizeof o->kernels, "%s", optarg);
            break;
        case 'h': return 1;
        default:
            fprintf(stderr, "ember-ablate: unknown option '%s'\nTry 'ember-ablate --help'.\n",
                    argv[optind - 1]);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "ember-ablate: %s: invalid value '%s' (wanted: %s)\n"
                    "Try 'ember-ablate --help'.\n", bad, optarg, want);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "ember-ablate: %s\nTry 'ember-ablate --help'.\n",
                optind >= argc ? "which experiment? (e.g. lr-sweep, or all)" : "one experiment only");
        return 2;
    }
    snprintf(o->experiment, sizeof o->experiment, "%s", argv[optind]);
    bool known = !strcmp(o->experiment, "all");
    for (int i = 0; i < ab_n_experiments; i++) known |= !strcmp(o->experiment, ab_experiments[i]->name);
    if (!known) {
        fprintf(stderr, "ember-ablate: unknown experiment '%s'\nTry 'ember-ablate --help'.\n",
                o->experiment);
        return 2;
    }
    if (!o->out[0]) snprintf(o->out, sizeof o->out, "results/%s", o->experiment);
    if (!o->kernels[0]) {   /* the tier $EMBER_KERNELS names, else the build's default */
        const em_kernels *k;
        em_error err;
        if (em_kernels_from_env(&k, &err) != EM_OK) {
            fprintf(stderr, "ember-ablate: %s\n", err.msg);
            return 2;
        }
        snprintf(o->kernels, sizeof o->kernels, "%s", k == em_kernels_fast() ? "fast" : "reference");
    }
    return 0;
}

static void report_header(ab_report *rep, const ab_opts *o, const ab_ctx *ctx) {
    FILE *f = rep->md;
    char seeds[160];
    if (o->seeds) snprintf(seeds, sizeof seeds, "%d per configuration (--seeds)", o->seeds);
    else snprintf(seeds, sizeof seeds, "%s", o->quick ? "1 per configuration"
                  : "3 per configuration for E1, E3a, E3c, E5a, E5b, norm-batch, renorm, "
                    "train-eval, residual-depth and placement, 1 elsewhere");
    char procs[64] = "";
    if (em_dist_size(ctx->dist) > 1)
        snprintf(procs, sizeof procs, " in each of %d MPI processes", em_dist_size(ctx->dist));
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(f, "# ember-ablate %s%s\n\n", o->experiment, o->quick ? " --quick" : "");
    size_t cl = strlen(AB_COMMIT);
    bool dirty = cl > 6 && !strcmp(AB_COMMIT + cl - 6, "-dirty");
    fprintf(f, "Written %s by ember-ablate built from commit %s%s. Kernels: %s. Data: %s (%zu "
               "training / %zu test images available). Protocol: %s (docs/experiment-protocols.md has each experiment's paper, "
               "published numbers, protocol and criteria). Runs: %d, each in its own worker "
               "process (--jobs %d%s, %d OpenBLAS thread(s) each). Seeds: %s (seeds 1..N; "
               "the seed column of runs.csv; each seeds the initialization and the "
               "shuffling). Loss: mean cross-entropy over the batch; optimizer plain SGD "
               "unless a section says otherwise; BatchNorm momentum 0.9 (fraction of history "
               "kept), eps 1e-5, unless a section says otherwise.\n\n",
            when, AB_COMMIT, dirty ? " (with changes not committed)" : "", o->kernels,
            ctx->train->name, ctx->train->n, ctx->test->n,
            o->quick ? "quick" : "full", rep->n_runs, o->jobs, procs, o->threads, seeds);
    fprintf(f, "Outcome of a run: *diverged* = NaN/Inf or loss > 10 ln 10 (stopped there) or "
               "final loss > 2.2; *trained* = final train loss (mean of the last 100 steps) < "
               "%s; otherwise *slow*; *measured* = a run that measures without training; "
               "*failed* = stopped on an error (no measurements). The pass criteria below are "
               "measured and reported honestly; they are not a gate. A criterion says *no "
               "data* when a run it needs failed or has no measurement.\n\n",
            ctx->fashion ? "0.8 (Fashion-MNIST)" : "0.5");
    fprintf(f, "Files: `runs.csv` (one row per run), `curves.csv` (run, step, metric, value; "
               "`run` is the 0-based row of runs.csv), figures as `.png` with their `.gp` "
               "scripts.\n\n");
}

/* Data parallel (runs shared out): the processes must have the same options and data,
 * or each would compute its share of another sweep; collective. 0, or 2 with process 0's
 * message printed. */
static int agree(const ab_opts *o, const em_dataset *train, const em_dataset *test,
                 const em_dist *dist) {
    char config[512], lrs[AB_MAX_LRS * 26] = "";
    for (int i = 0, at = 0; i < o->n_lrs && at >= 0 && (size_t)at < sizeof lrs; i++) {
        char x[32];
        at += snprintf(lrs + at, sizeof lrs - (size_t)at, "%s%s", i ? "," : "",
                       em_exact(x, sizeof x, o->lrs[i]));
    }
    snprintf(config, sizeof config, "experiment=%s quick=%d seeds=%d dataset=%s lr=%s batch=%d "
             "steps=%ld train_limit=%ld kernels=%s", o->experiment, o->quick, o->seeds,
             o->dataset, lrs[0] ? lrs : "default", o->batch, o->steps, o->train_limit,
             o->kernels);
    em_data_id id;
    em_data_id_of(&id, train, test);
    em_error err;
    if (em_dist_agree(dist, config, &id, 0, &err) == EM_OK) return 0;
    if (err.msg[0]) fprintf(stderr, "ember-ablate: %s\n", err.msg);
    return 2;
}

static int ablate(int argc, char **argv, const em_dist *dist);

int main(int argc, char **argv) {
    em_dist dist;
    em_error err = {0};
    if (em_dist_init(&dist, &argc, &argv, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        return 2;
    }
    /* `ember-ablate ... | head`: a closed pipe fails the write (reported below), it does
     * not kill the driver while its workers run */
    signal(SIGPIPE, SIG_IGN);
    /* under mpirun process 0 speaks and writes; the others run their share of the runs */
    int status = em_dist_is_root(&dist) || freopen("/dev/null", "w", stdout)
                     ? ablate(argc, argv, &dist) : 1;
    em_dist_finalize(&dist);
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "ember-ablate: writing to standard output failed: %s\n",
                errno ? strerror(errno) : "a write error");
        if (status == 0) status = 1;
    }
    return status;
}

static int ablate(int argc, char **argv, const em_dist *dist) {
    ab_opts o;
    switch (parse(argc, argv, &o)) {
    case 1: usage(stdout); return 0;
    case 2: return 2;
    default: break;
    }
    em_set_threads(o.threads);
    em_dataset train = {0}, test = {0};
    em_error err = {0};
    ab_ctx ctx = {.o = &o, .train = &train, .test = &test,
                  .fashion = strcmp(o.dataset, "mnist") != 0, .dist = dist};
    ab_run *runs = calloc(AB_MAX_RUNS, sizeof *runs);
    ab_result *res = calloc(AB_MAX_RUNS, sizeof *res);
    int n = 0, status = 0;
    ab_point *pts = NULL;
    long n_pts = 0;
    bool all = !strcmp(o.experiment, "all");
    const char *dir = o.data[0] ? o.data : em_mnist_default_dir();
    if (em_mnist_load(&train, dir, EM_SPLIT_TRAIN, &err) != EM_OK ||
        em_mnist_load(&test, dir, EM_SPLIT_TEST, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        status = 2;
    } else if (!runs || !res) {
        fprintf(stderr, "ember-ablate: out of memory\n");
        status = 1;
    }
    for (int i = 0; i < ab_n_experiments && !status; i++)
        if ((all || !strcmp(o.experiment, ab_experiments[i]->name)) &&
            !ab_experiments[i]->expand(&ctx, runs, &n)) {
            fprintf(stderr, "ember-ablate: more than %d runs: use fewer seeds or lrs\n", AB_MAX_RUNS);
            status = 2;
        }
    if (!status && ab_mkdirs(o.out) != 0) {
        fprintf(stderr, "ember-ablate: --out %s: cannot create it: %s\n", o.out, strerror(errno));
        status = 2;
    }
    /* before any run: the files the report goes to can be written (a directory, a FIFO or a
     * link where report.md belongs would otherwise cost every run at the end) */
    static const char *const outputs[] = {"runs.csv", "curves.csv", "timing.csv", "report.md"};
    for (int k = 0; k < 4 && !status; k++) {
        char path[EM_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", o.out, outputs[k]);
        if (em_output_check(path, &err) != EM_OK) {
            fprintf(stderr, "ember-ablate: --out %s: %s\n", o.out, err.msg);
            status = 2;
        }
    }
    /* under mpirun: every process goes on, or none does; and all of them run the same
     * experiments on the same data (examples/common/fingerprint.h) */
    if ((status = em_dist_max(dist, status)) != 0) goto out;
    if (em_dist_size(dist) > 1 && agree(&o, &train, &test, dist) != 0) {
        status = 2;
        goto out;
    }
    double start = em_now();
    if (ab_execute(&ctx, runs, n, o.out) != 0) status = 1;
    if (ab_collect(&ctx, n, o.out) != 0) status = 1;
    /* the workers' CPU time (user + system), summed over the MPI processes: on a machine
     * shared with other work the wall-clock time says little about what the protocol costs */
    struct rusage ru;
    double cpu = getrusage(RUSAGE_CHILDREN, &ru) == 0
                     ? ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
                           ru.ru_stime.tv_usec * 1e-6
                     : NAN;
    em_dist_sum(dist, &cpu, 1);
    status = em_dist_max(dist, status);
    if (!em_dist_is_root(dist)) goto out;
    if (ab_gather(o.out, runs, n, res, &pts, &n_pts) != 0) status = 1;
    double total = em_now() - start;

    char path[EM_PATH_MAX + 32], gp[EM_PATH_MAX];
    snprintf(path, sizeof path, "%s/report.md", o.out);
    em_wfile md;
    if (em_wfile_open(&md, path, 0, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        status = 1;
        goto out;
    }
    ab_report rep = {.md = md.f, .dir = o.out, .gnuplot = em_gnuplot_find(gp, sizeof gp),
                     .ctx = &ctx, .runs = runs, .res = res, .n_runs = n, .pts = pts,
                     .n_pts = n_pts};
    report_header(&rep, &o, &ctx);
    for (int i = 0; i < ab_n_experiments; i++)
        if (all || !strcmp(o.experiment, ab_experiments[i]->name)) {
            fprintf(rep.md, "## %s — %s\n\n", ab_experiments[i]->name, ab_experiments[i]->title);
            rep.experiment = ab_experiments[i]->name;
            ab_experiments[i]->report(&rep);
        }
    char nodata[96] = "";
    if (rep.n_nodata)
        snprintf(nodata, sizeof nodata, ", %d without data (runs failed: see runs.csv)",
                 rep.n_nodata);
    fprintf(rep.md, "## Summary\n\n%d criteria passed, %d failed%s; %d runs in %.0f s (wall "
                    "clock, --jobs %d; the workers used %.0f s of CPU time).\n",
            rep.n_pass, rep.n_fail, nodata, n, total, o.jobs, cpu);
    if (em_wfile_commit(&md, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        status = 1;
    }
    printf("ember-ablate %s: %d runs in %.0f s (%.0f s of CPU); %d criteria passed, %d failed%s; "
           "see %s\n", o.experiment, n, total, cpu, rep.n_pass, rep.n_fail, nodata, path);
out:
    free(pts);
    free(runs);
    free(res);
    em_dataset_free(&train);
    em_dataset_free(&test);
    return status;
}

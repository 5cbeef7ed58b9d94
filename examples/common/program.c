/* examples/common/program.c — what ember-mnist and ember-cifar do, start to end: parse
 * the options, check every output path, find the data, build the trainer, resume or load,
 * agree with the other processes, train, save, and exit with a status a script can act on:
 *   0 done · 1 an error while running (a write failed, out of memory, stdout closed) ·
 *   2 bad arguments, an output that cannot be written or would overwrite an input,
 *   missing or corrupt data or checkpoint, processes that do not run the same job ·
 *   3 diverged · 130 interrupted (Ctrl-C) · 143 terminated (SIGTERM)
 *
 * Under mpirun every process runs all of this on the same arguments (data parallel, see
 * train.h): each reads the data and any --resume/--load file itself, trains its shard of
 * every batch and evaluates its rows of the test set; only the root (process 0) prints to
 * stdout, writes metrics, checkpoints and predictions. Errors go to stderr from every
 * process, named ember-mnist[r] on process r > 0. */
#include "program.h"

#include "core/parallel.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "examples/common/confusion.h"
#include "examples/common/dot.h"
#include "examples/common/fingerprint.h"
#include "examples/common/load.h"
#include "examples/common/outputs.h"
#include "examples/common/testfault.h"
#include "examples/common/trainer_ckpt.h"
#include "examples/common/train.h"
#include "io/checkpoint.h"
#include "core/wfile.h"

/* The one piece of global state in the programs: a signal handler can only talk to the
 * loop through a flag (the signal's number). The loop finishes its step, and the program
 * saves and exits 128 + the signal: 130 for SIGINT, 143 for SIGTERM (what timeout, Slurm
 * and systemd send); SIGUSR1, mpirun's graceful stop, counts as Ctrl-C. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }

/* ---- checkpoints (trainer_ckpt.h) ------------------------------------------------------- */

struct save_ctx { const em_config *cfg; const em_data_id *data; };

/* after the epoch's evaluation, which averaged the running statistics of the processes */
static int save_every_hook(void *ctx, em_trainer *t, em_run_result *r) {
    const struct save_ctx *sc = ctx;
    const em_config *c = sc->cfg;
    if (!c->save_every || t->epoch % c->save_every || !em_dist_is_root(t->dist)) return r->status;
    em_error err;
    if (em_trainer_save(t, c->save, sc->data, &err) != EM_OK) {
        snprintf(r->error, sizeof r->error, "%s", err.msg);
        return 1;
    }
    return r->status;
}

/* ---- predictions ---------------------------------------------------------------------------- */

/* --predictions FILE goes to FILE.tmp and is renamed into place once every row is written
 * (core/wfile.h), like a checkpoint: a run that fails, diverges or is interrupted leaves an
 * earlier FILE as it was. FILE must be a regular file or not exist (checked at start-up). */
typedef struct pred_file {
    em_wfile w;      /* the temporary file                  */
    FILE *f;         /* where the rows go (NULL: no file)     */
} pred_file;

static em_code pred_open(pred_file *p, const char *path, em_error *err) {
    memset(p, 0, sizeof *p);
    em_code c = em_wfile_open(&p->w, path, 0, err);
    p->f = c == EM_OK ? p->w.f : NULL;
    return c;
}

/* complete: every row was written, put FILE in place; otherwise drop the rows */
static em_code pred_close(pred_file *p, bool complete, em_error *err) {
    if (!p->f) return EM_OK;
    p->f = NULL;
    if (complete) return em_wfile_commit(&p->w, err);
    em_wfile_abort(&p->w);
    return EM_OK;
}

/* the predictions into p, and the message of a failure (which names the file) */
static bool evaluate_to(em_trainer *t, pred_file *p, double *loss, double *acc) {
    em_error err;
    if (em_trainer_evaluate(t, loss, acc, p->f, &err) == EM_OK) return true;
    const em_config *c = t->cfg;
    if (p->f && err.code == EM_ERR_IO)
        fprintf(stderr, "%s: %s: %s; the previous file, if any, is unchanged\n", c->program,
                c->predictions, err.msg);
    else
        fprintf(stderr, "%s: %s\n", c->program, err.msg);
    return false;
}

/* ---- memory ------------------------------------------------------------------------------- */

/* MemAvailable of /proc/meminfo in bytes (0: unknown, e.g. not Linux) */
static uint64_t mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

/* the resident set now, in bytes (0: unknown) */
static uint64_t rss_now(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (!f) return 0;
    int got = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

#define MIB(b) ((double)(b) / (1024.0 * 1024.0))

/* Up front: does a step of this batch fit? The step's need is measured (the arena's
 * high-water mark on batches of 8 and 16, em_trainer_step_bytes) and compared with what is
 * left: --mem-limit minus what the process holds already (data, model), else 90% of the
 * system's MemAvailable. Returns 0, or the exit status with the message printed. */
static int check_memory(em_trainer *t, const em_config *c) {
    em_error err;
    size_t step;
    if (em_trainer_step_bytes(t, (size_t)c->batch, &step, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", c->program, err.msg);
        return 1;
    }
    uint64_t rss = rss_now(), room = 0;
    const char *source = "--mem-limit";
    if (c->mem_limit) {
        room = c->mem_limit > rss ? c->mem_limit - rss : 0;
    } else {
        /* 90% of MemAvailable: a step that needs all of it leaves nothing for the other
         * processes' growth, and the kernel's OOM killer would end the run mid-step */
        room = mem_available() / 10 * 9;
        source = "90% of MemAvailable in /proc/meminfo";
        if (!room) return 0;   /* unknown: nothing to compare with */
    }
    if (step > room) {
        fprintf(stderr, "%s: a training step on a batch of %d needs about %.1f MiB for its "
                "activations and gradients, more than the %.1f MiB left (%s%s); use a smaller "
                "--batch%s\n", c->program, c->batch, MIB(step), MIB(room), source,
                c->mem_limit ? ", minus the data and model already loaded" : "",
                c->mem_limit ? " or a larger --mem-limit" : "");
        return 2;
    }
    printf("memory: a step needs about %.1f MiB (batch %d), %.1f MiB held, %.0f MiB %s\n",
           MIB(step), c->batch, MIB(rss), MIB(room), c->mem_limit ? "left under --mem-limit" : "available");
    return 0;
}

static void print_peak_memory(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)   /* ru_maxrss: KiB on Linux */
        printf("peak memory: %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
}

/* ---- main ---------------------------------------------------------------------------------- */

static void print_distributed(const em_config *c, const em_dist *d, bool batch_stats) {
    int P = d->size;
    if (P == 1) return;
    printf("data parallel: %d processes (MPI), global batch %d = %s%d per process; %s\n", P,
           c->batch, c->batch % P ? "about " : "", c->batch / P,
           !batch_stats ? "no BatchNorm" : c->bn_sync ? "BatchNorm statistics over the global batch "
                                                  "(--bn-sync)"
                                                : "BatchNorm statistics per process (ghost "
                                                  "batches; --bn-sync for the global batch)");
}

/* Everything before the processes first meet: the outputs checked (the root writes them),
 * the data loaded and identified, the trainer built with its confusion matrix, a
 * checkpoint resumed or weights loaded. Returns 0, or the exit status with the message
 * printed. */
static int start(const em_config *cfg, const em_dist *dist, em_dataset *train,
                 em_dataset *test, em_trainer *t, em_data_id *data, em_confusion *conf) {
    em_error err = {0};
    bool root = em_dist_is_root(dist);
    int status = 2;
    const char *what = "";
    if (root && em_outputs_check(cfg, &err) != EM_OK) goto fail;
    if (em_program_load_data(cfg, train, test, &err) != EM_OK) goto fail;
    if (root && em_outputs_check_data(cfg, train, test, &err) != EM_OK) goto fail;
    em_data_id_of(data, train, test);
    if (em_trainer_init(t, cfg, train, test, dist, &err) != EM_OK) {
        status = err.code == EM_ERR_NOMEM ? 1 : 2;
        goto fail;
    }
    if (em_confusion_init(conf, test->n_classes, test->class_names, &err) != EM_OK) {
        status = 1;
        goto fail;
    }
    t->confusion = conf;   /* every test pass counts into it; printed at the end */
    what = "cannot resume: ";
    if (cfg->resume[0] && em_trainer_resume(t, cfg->resume, data, &err) != EM_OK) goto fail;
    em_ck_load_opts lo = {.allow_unused = true};
    what = "cannot load weights: ";
    if (cfg->load[0] && (em_trainer_check_load(t, cfg->load, &err) != EM_OK ||
                         em_checkpoint_load(cfg->load, t->net, &lo, &err) != EM_OK))
        goto fail;
    return 0;
fail:
    fprintf(stderr, "%s: %s%s\n", cfg->program, what, err.msg);
    return status;
}

static int program(em_program which, int argc, char **argv, const em_dist *dist);

int em_program_main(em_program which, int argc, char **argv) {
    em_dist dist;
    em_error err = {0};
    /* `ember-mnist | head`: a closed pipe makes writes fail (reported at the end), it does
     * not kill the run before its checkpoint is saved */
    signal(SIGPIPE, SIG_IGN);
    const char *who = which == EM_PROGRAM_MNIST ? "ember-mnist" : "ember-cifar";
    if (em_dist_init(&dist, &argc, &argv, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", who, err.msg);
        return 2;
    }
    /* one voice: the other processes' stdout goes nowhere (their errors still show) */
    if (!em_dist_is_root(&dist) && !freopen("/dev/null", "w", stdout)) {
        em_dist_finalize(&dist);
        return 1;
    }
    int status = program(which, argc, argv, &dist);
    em_dist_finalize(&dist);
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: writing to standard output failed: %s\n", who,
                errno ? strerror(errno) : "a write error");
        if (status == 0) status = 1;
    }
    return status;
}

/* ---- the run, in parts ---------------------------------------------------------------------- */

/* Everything a run holds, from the options to the last file closed. */
typedef struct run {
    em_config cfg;
    const em_dist *dist;
    bool root;                /* process 0: it prints and writes the files            */
    em_dataset train, test;
    em_trainer t;
    em_data_id data;
    em_confusion conf;
    pred_file pred;
    bool predicted;           /* every --predictions row written                      */
} run;

/* What the run is, in the lines a log of it starts with. */
static void print_start(const run *R) {
    const em_config *c = &R->cfg;
    const em_dataset *tr = &R->train;
    char line[1024];
    em_config_format(c, line, sizeof line);
    printf("%s: %s, %zu train / %zu test images (%dx%dx%d), %zu parameters\n", c->program,
           tr->name, em_loader_size(R->t.train), em_loader_size(R->t.test), tr->c, tr->h,
           tr->w, em_module_param_count(R->t.net));
    printf("config: %s\n", line);
    printf("normalize: mean");
    for (int ch = 0; ch < tr->c; ch++) printf(" %.4f", R->t.mean[ch]);
    printf(", std");
    for (int ch = 0; ch < tr->c; ch++) printf(" %.4f", R->t.std[ch]);
    printf("\n");
    print_distributed(c, R->dist, R->t.batch_stats);
    if (c->resume[0])
        printf("resumed from %s at epoch %d, batch %zu, step %ld\n", c->resume, R->t.epoch,
               R->t.batch, R->t.step);
}

/* --dot FILE: the graph of one training step, written by the root before training.
 * Returns 0, or the exit status with the message printed (2: the file cannot be written) */
static int write_dot(run *R) {
    em_error err = {0};
    if (!R->root || !R->cfg.dot[0] || em_write_step_dot(&R->t, R->cfg.dot, &err) == EM_OK)
        return 0;
    fprintf(stderr, "%s: %s\n", R->cfg.program, err.msg);
    return err.code == EM_ERR_IO ? 2 : 1;
}

/* The root's --predictions and --metrics files opened. Returns 0, or 2 with the message. */
static int open_outputs(run *R) {
    const em_config *c = &R->cfg;
    em_error err;
    if (!R->root) return 0;
    if (c->predictions[0] && pred_open(&R->pred, c->predictions, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", c->program, err.msg);
        return 2;
    }
    if (!c->eval_only && c->metrics[0] &&
        (c->resume[0] ? em_metrics_open_resume(&R->t.metrics, c->metrics, R->t.step, &err)
                      : em_metrics_open(&R->t.metrics, c->metrics, false, &err)) != EM_OK) {
        fprintf(stderr, "%s: %s\n", c->program, err.msg);
        return 2;
    }
    return 0;
}

/* --eval: one test pass (with --predictions, the root alone goes through the whole test
 * set). Returns the exit status. */
static int eval_only(run *R) {
    double loss, acc;
    if (R->cfg.predictions[0] && !R->root) return 0;
    if (!evaluate_to(&R->t, &R->pred, &loss, &acc)) return 1;
    R->predicted = true;
    printf("test loss %.4f acc %.2f%% (%zu images)\n", loss, 100 * acc, em_loader_size(R->t.test));
    return R->root ? em_confusion_finish(&R->conf, &R->cfg) : 0;
}

/* The first Ctrl-C asks the loop to stop after its step; SA_RESETHAND gives the second one
 * its default action, so a stuck program can still be killed. Under mpirun, Ctrl-C kills
 * the job (Open MPI's choice), but mpirun forwards SIGUSR1 to every process: `kill -USR1
 * <mpirun's pid>` is the graceful stop there. */
static void catch_signals(run *R) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);   /* timeout, Slurm, systemd: the same graceful stop */
    if (R->dist->size > 1) sigaction(SIGUSR1, &sa, NULL);
    R->t.interrupted = &interrupted;
}

/* The line that says how the training ended; returns the exit status it means. */
static int print_end(const run *R, const em_run_result *r) {
    if (r->status == 3)
        printf("diverged at step %ld (loss %g): %s\n", r->diverged_step, r->diverged_loss,
               r->diverged_what);
    else if (r->status == 130)
        printf("interrupted at step %ld%s\n", r->steps, interrupted == SIGTERM ? " (SIGTERM)" : "");
    else if (r->status == 1)
        fprintf(stderr, "%s: %s\n", R->cfg.program, r->error);
    else if (isnan(r->final_test_acc))   /* a resume at or past the end: no step, no test pass */
        printf("done: nothing to train: the run was at step %ld already (--epochs/--steps end "
               "it at step %ld)\n", r->steps, R->t.total_steps);
    else
        printf("done: %ld steps in %.1fs, test accuracy %.2f%% (best %.2f%%)\n", r->steps,
               r->seconds, 100 * r->final_test_acc, 100 * r->best_test_acc);
    return r->status == 130 && interrupted == SIGTERM ? 128 + SIGTERM : r->status;
}

/* After the training: the running statistics made one, the checkpoint, the predictions,
 * the per-class table and --confusion, the metrics file closed. Returns the status, worse
 * for any of them that failed. */
static int finish(run *R, const em_run_result *r, int status) {
    const em_config *c = &R->cfg;
    em_error err;
    /* the running statistics of all processes into every one (collective; data parallel
     * without --bn-sync they differ), before the checkpoint and the predictions */
    if (em_trainer_sync_buffers(&R->t, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", c->program, err.msg);
        if (!status) status = 1;
    }
    /* a diverged model is never saved: it could overwrite a good checkpoint */
    if (R->root && c->save[0] && (r->status == 0 || r->status == 130)) {
        if (em_trainer_save(&R->t, c->save, &R->data, &err) != EM_OK) {
            fprintf(stderr, "%s: %s\n", c->program, err.msg);
            status = 1;
        } else {
            printf("saved %s\n", c->save);
        }
    }
    if (R->pred.f && r->status == 0) {
        double loss, acc;
        if (evaluate_to(&R->t, &R->pred, &loss, &acc)) R->predicted = true;
        else status = 1;
    }
    /* the per-class table and --confusion, of the last test pass */
    if (R->root && r->status == 0 && em_confusion_finish(&R->conf, c) != 0 && !status) status = 1;
    if (R->t.metrics && em_metrics_close(R->t.metrics, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", c->program, err.msg);
        if (!status) status = 1;
    }
    R->t.metrics = NULL;
    return status;
}

/* Train, then finish. Returns the exit status. */
static int train(run *R) {
    struct save_ctx sc = {&R->cfg, &R->data};
    if (R->cfg.save[0] && R->cfg.save_every) {
        R->t.epoch_hook = save_every_hook;
        R->t.epoch_ctx = &sc;
    }
    catch_signals(R);
    em_test_fault fault;
    if (em_test_fault_from_env(&fault)) {
        R->t.batch_hook = em_test_fault_hook;
        R->t.batch_ctx = &fault;
    }
    em_run_result r;
    em_trainer_run(&R->t, &r);
    return finish(R, &r, print_end(R, &r));
}

/* The options parsed; 0, or the exit status with the message printed (--help: -1). */
static int parse(run *R, em_program which, int argc, char **argv, char *name, size_t len) {
    em_config *c = &R->cfg;
    em_config_defaults(c, which);
    if (!R->root) {   /* messages of process r > 0 are signed ember-mnist[r] */
        snprintf(name, len, "%s[%d]", c->program, R->dist->rank);
        c->program = name;
    }
    em_error err = {0};
    em_parse_result parsed = em_config_parse(c, argc, argv, &err);
    if (parsed == EM_PARSE_HELP) {
        em_config_usage(c, stdout);
        return -1;
    }
    if (parsed == EM_PARSE_ERROR)
        fprintf(stderr, "%s: %s\nTry '%s --help'.\n", c->program, err.msg, c->program);
    if (!R->root) c->quiet = true;
    em_set_threads(c->threads);
    return parsed == EM_PARSE_ERROR ? 2 : 0;
}

/* --print-arch, --print-torch: the network, and exit 0 (2 when it cannot be printed, which
 * the options' check makes rare). Every process returns here, before any collective. */
static int print_network(const em_config *c) {
    em_error err;
    if (c->print_arch && em_config_network_print(c, false, stdout, &err) != EM_OK) goto fail;
    if (c->print_torch && em_config_network_print(c, true, stdout, &err) != EM_OK) goto fail;
    return 0;
fail:
    fprintf(stderr, "%s: %s\n", c->program, err.msg);
    return 2;
}

/* Data parallel, every process must reach the same collectives. Whatever fails before the
 * processes first meet (arguments, an output path, data, checkpoint) stops all of them
 * there; then they check that they run the same job (em_dist_agree). A failure after that
 * and before the training stops them all together at `agreed`. */
static int program(em_program which, int argc, char **argv, const em_dist *dist) {
    run R;
    memset(&R, 0, sizeof R);
    char name[48];
    R.dist = dist;
    R.root = em_dist_is_root(dist);
    int status = parse(&R, which, argc, argv, name, sizeof name);
    if (status < 0) return 0;   /* --help */
    if (!status && (R.cfg.print_arch || R.cfg.print_torch)) return print_network(&R.cfg);
    if (!status) status = start(&R.cfg, dist, &R.train, &R.test, &R.t, &R.data, &R.conf);
    em_error err = {0};
    if ((status = em_dist_max(dist, status)) == 0 && em_dist_size(dist) > 1) {
        char config[2048];
        em_run_config(&R.t, config, sizeof config);
        if (em_dist_agree(dist, config, &R.data, em_trainer_state_hash(&R.t), &err) != EM_OK) {
            if (err.msg[0]) fprintf(stderr, "%s: %s\n", R.cfg.program, err.msg);
            status = 2;
        }
    }
    bool agreed = status != 0;   /* nothing more to meet the others at */
    if (!status) {
        print_start(&R);
        status = check_memory(&R.t, &R.cfg);
        if (!status) status = write_dot(&R);
        fflush(stdout);
    }
    if (!status) {
        status = open_outputs(&R);
        agreed = true;
        if ((status = em_dist_max(dist, status)) == 0)   /* another one failed: stop too */
            status = R.cfg.eval_only ? eval_only(&R) : train(&R);
        if (pred_close(&R.pred, R.predicted, &err) != EM_OK) {
            fprintf(stderr, "%s: %s\n", R.cfg.program, err.msg);
            if (!status) status = 1;
        }
        if (R.t.metrics) em_metrics_close(R.t.metrics, &err);   /* the others failed first */
        if (R.root) print_peak_memory();
    }
    em_trainer_free(&R.t);
    em_confusion_free(&R.conf);
    if (!agreed) em_dist_max(dist, status);   /* meet the others where they agree */
    em_dataset_free(&R.train);
    em_dataset_free(&R.test);
    return status;
}

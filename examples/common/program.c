/* examples/common/program.c — what ember-mnist and ember-cifar do, start to end: parse
 * the options, find the data, build the trainer, resume or load, train, save, and exit
 * with a status a script can act on:
 *   0 done · 1 an error while running (a write failed, out of memory) · 2 bad arguments,
 *   missing or corrupt data or checkpoint · 3 diverged · 130 interrupted (Ctrl-C)
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
#include "examples/common/load.h"
#include "examples/common/train.h"
#include "io/checkpoint.h"
#include "io/wfile.h"

/* The one piece of global state in the programs: a signal handler can only talk to the
 * loop through a flag. The loop finishes its step, and the program saves and exits 130. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

/* ---- checkpoints -------------------------------------------------------------------------- */

/* The training state beside the model: optimizer buffers, its step count, and the
 * position (epoch, batch, step). The data order and augmentation are functions of
 * (seed, epoch, position), so no generator state is needed to continue exactly. */
typedef struct ck_state {
    em_ck_entry entries[5];
    int n;
    int64_t position[3];      /* epoch, batch, step */
    int64_t optim_step;
    char names[2][48];
} ck_state;

static void ck_state_of(ck_state *s, em_trainer *t) {
    memset(s, 0, sizeof *s);
    em_optim_buf bufs[2];
    int nb = em_optimizer_buffers(&t->opt, bufs);
    for (int i = 0; i < nb; i++) {
        snprintf(s->names[i], sizeof s->names[i], "optim.%s", bufs[i].name);
        s->entries[s->n++] = (em_ck_entry){s->names[i], EM_ST_REAL, bufs[i].data, bufs[i].n};
    }
    s->optim_step = em_optimizer_steps(&t->opt);
    s->position[0] = t->epoch;
    s->position[1] = (int64_t)t->batch;
    s->position[2] = t->step;
    s->entries[s->n++] = (em_ck_entry){"optim.step", EM_ST_I64, &s->optim_step, 1};
    s->entries[s->n++] = (em_ck_entry){"train.position", EM_ST_I64, s->position, 3};
    s->entries[s->n++] = (em_ck_entry){"train.epoch_stats", EM_ST_F64, &t->stats,
                                       EM_EPOCH_STATS_N};
}

/* The configuration with the normalization actually used: what a resumed run must match. */
static void run_config(const em_trainer *t, char *buf, size_t len) {
    int at = em_config_format(t->cfg, buf, len);
    for (int ch = 0; ch < t->train_set->c && at > 0 && (size_t)at < len; ch++)
        at += snprintf(buf + at, len - (size_t)at, " mean%d=%.17g std%d=%.17g", ch, t->mean[ch],
                       ch, t->std[ch]);
}

/* What a resume may change: the horizon (epochs, steps; test_limit), and which examples
 * BatchNorm normalizes together (bn_sync, ghost_batch), as the process count, which is no
 * part of the config, changes it too (docs/distributed.md). A checkpoint of an older
 * ember may lack bn_sync and ghost_batch. */
typedef struct run_diff {
    bool horizon;          /* epochs or steps differ                           */
    char bn_then[48];      /* the saved bn_sync/ghost_batch ("" if not saved)  */
    char bn_now[48];       /* this run's                                       */
} run_diff;

static bool bn_batch_key(const char *tok) {
    return !strncmp(tok, "bn_sync=", 8) || !strncmp(tok, "ghost_batch=", 12);
}

/* the next token of a config, with the BatchNorm-batch keys taken out into keys */
static char *next_key(char *s, char **save, char *keys, size_t len) {
    char *tok = strtok_r(s, " ", save);
    for (; tok && bn_batch_key(tok); tok = strtok_r(NULL, " ", save)) {
        size_t at = strlen(keys);
        snprintf(keys + at, len - at, "%s%s", at ? " " : "", tok);
    }
    return tok;
}

/* The config of a checkpoint against this run's, key by key, apart from what a resume may
 * change (run_diff; with a schedule other than const, other epochs or steps change the
 * learning-rate curve, which the caller is told about, as it is told about another
 * BatchNorm batch). Returns false with err set on a real difference. */
static bool same_run(const char *path, const char *saved, const char *now, run_diff *d,
                     em_error *err) {
    char a[2048], b[2048];
    snprintf(a, sizeof a, "%s", saved);
    snprintf(b, sizeof b, "%s", now);
    memset(d, 0, sizeof *d);
    char *sa = NULL, *sb = NULL;
    char *ta = next_key(a, &sa, d->bn_then, sizeof d->bn_then);
    char *tb = next_key(b, &sb, d->bn_now, sizeof d->bn_now);
    for (; ta && tb; ta = next_key(NULL, &sa, d->bn_then, sizeof d->bn_then),
                     tb = next_key(NULL, &sb, d->bn_now, sizeof d->bn_now)) {
        if (!strcmp(ta, tb)) continue;
        if (!strncmp(ta, "epochs=", 7) || !strncmp(ta, "steps=", 6) ||
            !strncmp(ta, "test_limit=", 11)) {
            d->horizon |= strncmp(ta, "test_limit=", 11) != 0;
            continue;
        }
        em_error_set(err, EM_ERR_ARG, "%s was saved by a run with %s, this one has %s: "
                     "resume with the same options", path, ta, tb);
        return false;
    }
    if (ta || tb) {
        em_error_set(err, EM_ERR_ARG, "%s: its configuration does not match this run's", path);
        return false;
    }
    return true;
}

static const char *model_name(const em_trainer *t) {
    const em_config *c = t->cfg;
    return c->which == EM_PROGRAM_CIFAR ? "cifar-cnn" : !strcmp(c->model, "mlp") ? "mlp" : "mnist-cnn";
}

static em_code save_checkpoint(em_trainer *t, const char *path, em_error *err) {
    ck_state s;
    ck_state_of(&s, t);
    char config[2048], progress[96];
    run_config(t, config, sizeof config);
    snprintf(progress, sizeof progress, "epoch %d, batch %zu, step %ld", t->epoch, t->batch, t->step);
    em_ck_save_opts so = {.model_name = model_name(t), .config = config, .progress = progress,
                          .n_extra = s.n, .extra = s.entries, .finite_only = true};
    return em_checkpoint_save(path, t->net, &so, err);
}

static em_code resume_checkpoint(em_trainer *t, const char *path, em_error *err) {
    ck_state s;
    ck_state_of(&s, t);
    em_ck_load_opts lo = {.n_extra = s.n, .extra = s.entries, .expect_model = model_name(t)};
    em_st *st;
    em_code code = em_st_read(&st, path, err);
    if (code != EM_OK) return code;
    const char *saved = em_st_meta_get(st, "config");
    char now[2048];
    run_config(t, now, sizeof now);
    const char *model = em_st_meta_get(st, "model");
    run_diff diff = {0};
    if (model && strcmp(model, model_name(t)))
        code = em_error_set(err, EM_ERR_FORMAT, "%s: a checkpoint of '%s', not of '%s'", path,
                            model, model_name(t));
    else if (!saved) code = em_error_set(err, EM_ERR_FORMAT, "%s has no run configuration: not a "
                                    "training checkpoint of ember-mnist/-cifar", path);
    else if (!same_run(path, saved, now, &diff, err)) code = EM_ERR_ARG;
    else code = em_checkpoint_apply(st, t->net, &lo, err);
    em_st_free(st);
    if (code != EM_OK) return code;
    if (diff.horizon && strcmp(t->cfg->schedule, "const"))
        printf("note: --epochs/--steps differ from the saved run's: the %s schedule now spans "
               "%ld steps\n", t->cfg->schedule, t->total_steps);
    if (diff.bn_then[0] && strcmp(diff.bn_then, diff.bn_now))
        printf("note: the saved run had %s, this one has %s: the examples BatchNorm "
               "normalizes together may differ from here on\n", diff.bn_then, diff.bn_now);
    if (s.position[0] < 0 || s.position[0] > 100000 || s.position[1] < 0 || s.position[2] < 0 ||
        s.position[1] > t->steps_per_epoch)
        return em_error_set(err, EM_ERR_FORMAT, "%s: train.position (%lld, %lld, %lld) does not "
                            "fit this run (%ld batches per epoch); was it saved with another "
                            "--batch or --train-limit?", path, (long long)s.position[0],
                            (long long)s.position[1], (long long)s.position[2], t->steps_per_epoch);
    em_optimizer_set_steps(&t->opt, s.optim_step);
    t->epoch = (int)s.position[0];
    t->batch = (size_t)s.position[1];
    t->step = (long)s.position[2];
    return EM_OK;
}

struct save_ctx { const em_config *cfg; };

/* after the epoch's evaluation, which averaged the running statistics of the processes */
static int save_every_hook(void *ctx, em_trainer *t, em_run_result *r) {
    const em_config *c = ((struct save_ctx *)ctx)->cfg;
    if (!c->save_every || t->epoch % c->save_every || !em_dist_is_root(t->dist)) return r->status;
    em_error err;
    if (save_checkpoint(t, c->save, &err) != EM_OK) {
        snprintf(r->error, sizeof r->error, "%s", err.msg);
        return 1;
    }
    return r->status;
}

/* ---- predictions ---------------------------------------------------------------------------- */

/* --predictions FILE goes to FILE.tmp and is renamed into place once every row is written
 * (io/wfile.h), like a checkpoint: a run that fails, diverges or is interrupted leaves an
 * earlier FILE as it was. A FILE that exists and is no regular file (/dev/stdout, a pipe)
 * is written in place: there is nothing to rename, and renaming over it would replace it. */
typedef struct pred_file {
    em_wfile w;      /* the temporary of a regular file      */
    FILE *f;         /* where the rows go (NULL: no file)     */
    bool direct;     /* f is FILE itself                       */
} pred_file;

static em_code pred_open(pred_file *p, const char *path, em_error *err) {
    memset(p, 0, sizeof *p);
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        p->direct = true;
        p->f = fopen(path, "w");
        return p->f ? EM_OK : em_error_set(err, EM_ERR_IO, "cannot write %s: %s", path,
                                           strerror(errno));
    }
    em_code c = em_wfile_open(&p->w, path, 0, err);
    p->f = c == EM_OK ? p->w.f : NULL;
    return c;
}

/* complete: every row was written, put FILE in place; otherwise drop the rows */
static em_code pred_close(pred_file *p, const char *path, bool complete, em_error *err) {
    FILE *f = p->f;
    p->f = NULL;
    if (!f) return EM_OK;
    if (!p->direct) {
        if (complete) return em_wfile_commit(&p->w, err);
        em_wfile_abort(&p->w);
        return EM_OK;
    }
    bool flushed = fflush(f) == 0;
    int e = errno;
    if (fclose(f) != 0 && flushed) flushed = false, e = errno;
    return !complete || flushed ? EM_OK : em_error_set(err, EM_ERR_IO, "writing %s failed: %s",
                                                       path, strerror(e));
}

/* the predictions into p, and the message of a failure (which names the file) */
static bool evaluate_to(em_trainer *t, pred_file *p, double *loss, double *acc) {
    em_error err;
    if (em_trainer_evaluate(t, loss, acc, p->f, &err) == EM_OK) return true;
    const em_config *c = t->cfg;
    if (p->f && err.code == EM_ERR_IO)
        fprintf(stderr, "%s: %s: %s%s\n", c->program, c->predictions, err.msg,
                p->direct ? "" : "; the previous file, if any, is unchanged");
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

/* ---- testing: a fault on one process -------------------------------------------------------- */

/* EMBER_TEST_FAULT=oom:K or nan:K (tests/mpi/test_mpi_fault.sh sets it for one process of a
 * job, to see that the others do not wait for it): at step K, oom makes this process's step
 * arena unable to grow from then on (a fresh arena of one chunk that refuses a second, as
 * when memory runs out in the middle of a run), nan puts a NaN into its copy of the batch. */
typedef struct test_fault {
    char kind[4];
    long step;
} test_fault;

static void test_fault_hook(void *ctx, em_trainer *t, int n) {
    (void)n;
    const test_fault *f = ctx;
    em_tape *fresh;
    if (t->step + 1 != f->step) return;
    if (!strcmp(f->kind, "nan")) {
        t->x->data[0] = NAN;
    } else if (!strcmp(f->kind, "oom") && (fresh = em_tape_new(0)) != NULL) {
        fresh->arena->fail_after = fresh->arena->chunk_allocs + 1;
        em_tape_free(t->tape);
        t->tape = fresh;
    }
}

/* ---- main ---------------------------------------------------------------------------------- */

static void print_distributed(const em_config *c, const em_dist *d) {
    int P = d->size;
    if (P == 1) return;
    printf("data parallel: %d processes (MPI), global batch %d = %s%d per process; %s\n", P,
           c->batch, c->batch % P ? "about " : "", c->batch / P,
           !c->bn ? "no BatchNorm" : c->bn_sync ? "BatchNorm statistics over the global batch "
                                                  "(--bn-sync)"
                                                : "BatchNorm statistics per process (ghost "
                                                  "batches; --bn-sync for the global batch)");
}

static int program(em_program which, int argc, char **argv, const em_dist *dist);

int em_program_main(em_program which, int argc, char **argv) {
    em_dist dist;
    em_error err = {0};
    if (em_dist_init(&dist, &argc, &argv, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", which == EM_PROGRAM_MNIST ? "ember-mnist" : "ember-cifar",
                err.msg);
        return 2;
    }
    /* one voice: the other processes' stdout goes nowhere (their errors still show) */
    if (!em_dist_is_root(&dist) && !freopen("/dev/null", "w", stdout)) {
        em_dist_finalize(&dist);
        return 1;
    }
    int status = program(which, argc, argv, &dist);
    em_dist_finalize(&dist);
    return status;
}

static int program(em_program which, int argc, char **argv, const em_dist *dist) {
    em_config cfg;
    em_config_defaults(&cfg, which);
    em_error err = {0};
    char name[48];
    bool root = em_dist_is_root(dist);
    if (!root) {   /* messages of process r > 0 are signed ember-mnist[r] */
        snprintf(name, sizeof name, "%s[%d]", cfg.program, dist->rank);
        cfg.program = name;
    }
    switch (em_config_parse(&cfg, argc, argv, &err)) {
    case EM_PARSE_OK: break;
    case EM_PARSE_HELP: em_config_usage(&cfg, stdout); return 0;
    case EM_PARSE_ERROR:
        fprintf(stderr, "%s: %s\nTry '%s --help'.\n", cfg.program, err.msg, cfg.program);
        return 2;
    }
    if (!root) cfg.quiet = true;
    em_set_threads(cfg.threads);

    /* Data parallel, every process must reach the same collectives: a failure before the
     * training (data, checkpoint, an output file) stops all of them together, at `agreed` */
    bool agreed = false;
    int status = 0;
    em_dataset train = {0}, test = {0};
    em_confusion conf = {0};
    em_trainer t;
    if (em_program_load_data(&cfg, &train, &test, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", cfg.program, err.msg);
        status = 2;
        goto out_data;
    }
    if (em_trainer_init(&t, &cfg, &train, &test, dist, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", cfg.program, err.msg);
        status = err.code == EM_ERR_NOMEM ? 1 : 2;
        goto out;
    }
    if (em_confusion_init(&conf, test.n_classes, test.class_names, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", cfg.program, err.msg);
        status = 1;
        goto out;
    }
    t.confusion = &conf;   /* every test pass counts into it; printed at the end */
    if (cfg.resume[0] && resume_checkpoint(&t, cfg.resume, &err) != EM_OK) {
        fprintf(stderr, "%s: cannot resume: %s\n", cfg.program, err.msg);
        status = 2;
        goto out;
    }
    if (cfg.load[0]) {
        em_ck_load_opts lo = {.allow_unused = true};
        if (em_checkpoint_load(cfg.load, t.net, &lo, &err) != EM_OK) {
            fprintf(stderr, "%s: cannot load weights: %s\n", cfg.program, err.msg);
            status = 2;
            goto out;
        }
    }

    char line[1024];
    em_config_format(&cfg, line, sizeof line);
    printf("%s: %s, %zu train / %zu test images (%dx%dx%d), %zu parameters\n", cfg.program,
           train.name, em_loader_size(t.train), em_loader_size(t.test), train.c, train.h,
           train.w, em_module_param_count(t.net));
    printf("config: %s\n", line);
    printf("normalize: mean");
    for (int ch = 0; ch < train.c; ch++) printf(" %.4f", t.mean[ch]);
    printf(", std");
    for (int ch = 0; ch < train.c; ch++) printf(" %.4f", t.std[ch]);
    printf("\n");
    print_distributed(&cfg, dist);
    if (cfg.resume[0]) printf("resumed from %s at epoch %d, batch %zu, step %ld\n", cfg.resume, t.epoch, t.batch, t.step);
    if ((status = check_memory(&t, &cfg)) != 0) goto out;
    if (root && cfg.dot[0] && em_write_step_dot(&t, cfg.dot, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", cfg.program, err.msg);
        status = err.code == EM_ERR_IO ? 2 : 1;
        goto out;
    }
    fflush(stdout);

    pred_file pred = {0};
    bool predicted = false;   /* every prediction row written */
    if (root && cfg.predictions[0] && pred_open(&pred, cfg.predictions, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", cfg.program, err.msg);
        status = 2;
        goto out;
    }
    if (root && !cfg.eval_only && cfg.metrics[0] &&
        (cfg.resume[0] ? em_metrics_open_resume(&t.metrics, cfg.metrics, t.step, &err)
                       : em_metrics_open(&t.metrics, cfg.metrics, false, &err)) != EM_OK) {
        fprintf(stderr, "%s: %s\n", cfg.program, err.msg);
        status = 2;
        goto out_pred;
    }
    agreed = true;
    if ((status = em_dist_max(dist, status)) != 0) goto out_pred;   /* another one failed */
    if (cfg.eval_only) {
        double loss, acc;
        /* with --predictions the root alone goes through the whole test set */
        if (cfg.predictions[0] && !root) goto out_pred;
        if (!evaluate_to(&t, &pred, &loss, &acc)) {
            status = 1;
        } else {
            predicted = true;
            printf("test loss %.4f acc %.2f%% (%zu images)\n", loss, 100 * acc, em_loader_size(t.test));
            if (root) status = em_confusion_finish(&conf, &cfg);
        }
        goto out_pred;
    }

    struct save_ctx sc = {&cfg};
    if (cfg.save[0] && cfg.save_every) {
        t.epoch_hook = save_every_hook;
        t.epoch_ctx = &sc;
    }
    /* the first Ctrl-C asks the loop to stop after its step; SA_RESETHAND gives the
     * second one its default action, so a stuck program can still be killed. Under
     * mpirun, Ctrl-C kills the job (Open MPI's choice), but mpirun forwards SIGUSR1 to
     * every process: `kill -USR1 <mpirun's pid>` is the graceful stop there */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    if (dist->size > 1) sigaction(SIGUSR1, &sa, NULL);
    t.interrupted = &interrupted;
    const char *fault_env = getenv("EMBER_TEST_FAULT");
    test_fault fault;
    if (fault_env && sscanf(fault_env, "%3[a-z]:%ld", fault.kind, &fault.step) == 2) {
        t.batch_hook = test_fault_hook;
        t.batch_ctx = &fault;
    }

    em_run_result r;
    em_trainer_run(&t, &r);
    status = r.status;
    if (r.status == 3)
        printf("diverged at step %ld (loss %g): %s\n", r.diverged_step, r.diverged_loss,
               r.diverged_what);
    else if (r.status == 130)
        printf("interrupted at step %ld\n", r.steps);
    else if (r.status == 1)
        fprintf(stderr, "%s: %s\n", cfg.program, r.error);
    else
        printf("done: %ld steps in %.1fs, test accuracy %.2f%% (best %.2f%%)\n", r.steps,
               r.seconds, 100 * r.final_test_acc, 100 * r.best_test_acc);

    /* the running statistics of all processes into every one (collective; data parallel
     * without --bn-sync they differ), before the checkpoint and the predictions */
    if (em_trainer_sync_buffers(&t, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", cfg.program, err.msg);
        if (!status) status = 1;
    }
    /* a diverged model is never saved: it could overwrite a good checkpoint */
    if (root && cfg.save[0] && (r.status == 0 || r.status == 130)) {
        if (save_checkpoint(&t, cfg.save, &err) != EM_OK) {
            fprintf(stderr, "%s: %s\n", cfg.program, err.msg);
            status = 1;
        } else {
            printf("saved %s\n", cfg.save);
        }
    }
    if (pred.f && r.status == 0) {
        double loss, acc;
        if (evaluate_to(&t, &pred, &loss, &acc)) predicted = true;
        else status = 1;
    }
    /* the per-class table and --confusion, of the last test pass */
    if (root && r.status == 0 && em_confusion_finish(&conf, &cfg) != 0 && !status) status = 1;
    if (t.metrics && em_metrics_close(t.metrics, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", cfg.program, err.msg);
        if (!status) status = 1;
    }
    t.metrics = NULL;
out_pred:
    if (pred_close(&pred, cfg.predictions, predicted, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", cfg.program, err.msg);
        if (!status) status = 1;
    }
    if (t.metrics) em_metrics_close(t.metrics, &err);   /* the others failed first */
    if (root) print_peak_memory();
out:
    em_trainer_free(&t);
    em_confusion_free(&conf);
out_data:
    if (!agreed) em_dist_max(dist, status);   /* meet the others where they agree */
    em_dataset_free(&train);
    em_dataset_free(&test);
    return status;
}

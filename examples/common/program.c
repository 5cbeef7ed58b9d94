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
#include "examples/common/fingerprint.h"
#include "examples/common/load.h"
#include "examples/common/outputs.h"
#include "examples/common/testfault.h"
#include "examples/common/train.h"
#include "io/checkpoint.h"
#include "core/wfile.h"

/* The one piece of global state in the programs: a signal handler can only talk to the
 * loop through a flag (the signal's number). The loop finishes its step, and the program
 * saves and exits 128 + the signal: 130 for SIGINT, 143 for SIGTERM (what timeout, Slurm
 * and systemd send); SIGUSR1, mpirun's graceful stop, counts as Ctrl-C. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }

/* ---- checkpoints -------------------------------------------------------------------------- */

/* The training state beside the model: optimizer buffers, its step count, and the
 * position (epoch, batch, step). The data order and augmentation are functions of
 * (seed, epoch, position), so no generator state is needed to continue exactly. */
typedef struct ck_state {
    em_ck_entry entries[5];
    em_ck_require require[5];   /* what a resume requires of each entry's values */
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
        s->require[s->n].check = EM_CK_FINITE;
        s->entries[s->n++] = (em_ck_entry){s->names[i], EM_ST_REAL, bufs[i].data, bufs[i].n};
    }
    /* counters: non-negative and far from overflowing (the position's fields are checked
     * against this run after the load) */
    s->require[s->n] = s->require[s->n + 1] = (em_ck_require){EM_CK_RANGE, 0, EM_CK_COUNTER_MAX};
    s->optim_step = em_optimizer_steps(&t->opt);
    s->position[0] = t->epoch;
    s->position[1] = (int64_t)t->batch;
    s->position[2] = t->step;
    s->entries[s->n++] = (em_ck_entry){"optim.step", EM_ST_I64, &s->optim_step, 1};
    s->entries[s->n++] = (em_ck_entry){"train.position", EM_ST_I64, s->position, 3};
    s->entries[s->n++] = (em_ck_entry){"train.epoch_stats", EM_ST_F64, &t->stats,
                                       EM_EPOCH_STATS_N};
}

static const char *model_name(const em_trainer *t) {
    const em_config *c = t->cfg;
    return c->which == EM_PROGRAM_CIFAR ? "cifar-cnn" : !strcmp(c->model, "mlp") ? "mlp" : "mnist-cnn";
}

/* the checkpoint records the data too: the files read and the content hash, which a
 * resumed run must match (examples/common/fingerprint.h) */
static em_code save_checkpoint(em_trainer *t, const char *path, const em_data_id *data,
                               em_error *err) {
    ck_state s;
    ck_state_of(&s, t);
    char config[2048], progress[96];
    em_run_config(t, config, sizeof config);
    snprintf(progress, sizeof progress, "epoch %d, batch %zu, step %ld", t->epoch, t->batch, t->step);
    em_st_meta meta[2] = {{"data", data->files}, {"data_hash", data->hash}};
    em_ck_save_opts so = {.model_name = model_name(t), .config = config, .progress = progress,
                          .n_meta = 2, .meta = meta, .n_extra = s.n, .extra = s.entries,
                          .finite_only = true};
    return em_checkpoint_save(path, t->net, &so, err);
}

/* the data of the checkpoint against this run's: the content hash decides */
static em_code same_data(const em_st *st, const char *path, const em_data_id *data,
                         em_error *err) {
    const char *hash = em_st_meta_get(st, "data_hash"), *files = em_st_meta_get(st, "data");
    if (!hash) {
        printf("note: %s does not record its data (saved by an older ember): not checked\n", path);
        return EM_OK;
    }
    if (!strcmp(hash, data->hash)) return EM_OK;
    return em_error_set(err, EM_ERR_ARG, "%s was trained on other data: %s (content %s); this "
                        "run reads %s (content %s): resume with the same data", path,
                        files ? files : "?", hash, data->files, data->hash);
}

static em_code resume_checkpoint(em_trainer *t, const char *path, const em_data_id *data,
                                 em_error *err) {
    ck_state s;
    ck_state_of(&s, t);
    em_ck_load_opts lo = {.n_extra = s.n, .extra = s.entries, .require = s.require,
                          .expect_model = model_name(t)};
    em_st *st;
    em_code code = em_st_open(&st, path, err);   /* the header; the tensors as restored */
    if (code != EM_OK) return code;
    const char *saved = em_st_meta_get(st, "config");
    char now[2048];
    em_run_config(t, now, sizeof now);
    const char *model = em_st_meta_get(st, "model");
    em_run_diff diff = {0};
    if (model && strcmp(model, model_name(t)))
        code = em_error_set(err, EM_ERR_FORMAT, "%s: a checkpoint of '%s', not of '%s'", path,
                            model, model_name(t));
    else if (!saved) code = em_error_set(err, EM_ERR_FORMAT, "%s has no run configuration: not a "
                                    "training checkpoint of ember-mnist/-cifar", path);
    else code = same_data(st, path, data, err);   /* other data: say so, not "mean0=" */
    if (!code && !em_same_run(path, saved, now, &diff, err)) code = EM_ERR_ARG;
    if (!code) code = em_checkpoint_apply(st, t->net, &lo, err);
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

struct save_ctx { const em_config *cfg; const em_data_id *data; };

/* after the epoch's evaluation, which averaged the running statistics of the processes */
static int save_every_hook(void *ctx, em_trainer *t, em_run_result *r) {
    const struct save_ctx *sc = ctx;
    const em_config *c = sc->cfg;
    if (!c->save_every || t->epoch % c->save_every || !em_dist_is_root(t->dist)) return r->status;
    em_error err;
    if (save_checkpoint(t, c->save, sc->data, &err) != EM_OK) {
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
    if (cfg->resume[0] && resume_checkpoint(t, cfg->resume, data, &err) != EM_OK) goto fail;
    em_ck_load_opts lo = {.allow_unused = true};
    what = "cannot load weights: ";
    if (cfg->load[0] && em_checkpoint_load(cfg->load, t->net, &lo, &err) != EM_OK) goto fail;
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
    em_parse_result parsed = em_config_parse(&cfg, argc, argv, &err);
    if (parsed == EM_PARSE_HELP) {
        em_config_usage(&cfg, stdout);
        return 0;
    }
    if (parsed == EM_PARSE_ERROR)
        fprintf(stderr, "%s: %s\nTry '%s --help'.\n", cfg.program, err.msg, cfg.program);
    if (!root) cfg.quiet = true;
    em_set_threads(cfg.threads);

    /* Data parallel, every process must reach the same collectives. Whatever fails before
     * the processes first meet (arguments, an output path, data, checkpoint) stops all of
     * them there; then they check that they run the same job (em_dist_agree). A failure
     * after that and before the training stops them all together at `agreed`. */
    em_dataset train = {0}, test = {0};
    em_trainer t;
    memset(&t, 0, sizeof t);
    em_data_id data;
    em_confusion conf = {0};
    int status = parsed == EM_PARSE_ERROR ? 2 : start(&cfg, dist, &train, &test, &t, &data, &conf);
    if ((status = em_dist_max(dist, status)) == 0 && em_dist_size(dist) > 1) {
        char config[2048];
        em_run_config(&t, config, sizeof config);
        if (em_dist_agree(dist, config, &data, em_trainer_state_hash(&t), &err) != EM_OK) {
            if (err.msg[0]) fprintf(stderr, "%s: %s\n", cfg.program, err.msg);
            status = 2;
        }
    }
    bool agreed = status != 0;   /* nothing more to meet the others at */
    if (status) goto out;

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

    struct save_ctx sc = {&cfg, &data};
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
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);   /* timeout, Slurm, systemd: the same graceful stop */
    if (dist->size > 1) sigaction(SIGUSR1, &sa, NULL);
    t.interrupted = &interrupted;
    em_test_fault fault;
    if (em_test_fault_from_env(&fault)) {
        t.batch_hook = em_test_fault_hook;
        t.batch_ctx = &fault;
    }

    em_run_result r;
    em_trainer_run(&t, &r);
    status = r.status == 130 && interrupted == SIGTERM ? 128 + SIGTERM : r.status;
    if (r.status == 3)
        printf("diverged at step %ld (loss %g): %s\n", r.diverged_step, r.diverged_loss,
               r.diverged_what);
    else if (r.status == 130)
        printf("interrupted at step %ld%s\n", r.steps, interrupted == SIGTERM ? " (SIGTERM)" : "");
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
        if (save_checkpoint(&t, cfg.save, &data, &err) != EM_OK) {
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
    if (pred_close(&pred, predicted, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", cfg.program, err.msg);
        if (!status) status = 1;
    }
    if (t.metrics) em_metrics_close(t.metrics, &err);   /* the others failed first */
    if (root) print_peak_memory();
out:
    em_trainer_free(&t);
    em_confusion_free(&conf);
    if (!agreed) em_dist_max(dist, status);   /* meet the others where they agree */
    em_dataset_free(&train);
    em_dataset_free(&test);
    return status;
}

/* examples/ablation/runner.c — executes the runs in forked workers and gathers their rows.
 *
 * Every run is executed in its own child process, forked from the parent after the data
 * is loaded (the dataset is shared copy-on-write), so every run starts from the same
 * state whatever ran before it and whichever worker takes it: --jobs 2 produces the same
 * rows as --jobs 1. A child writes DIR/.run-NNNN.csv (core/wfile.h: complete or absent);
 * the parent reads the files back in run order. A run that fails is a row with outcome
 * "failed" and no measurements (empty fields, NaN in memory: never zeros a report could
 * take for a result).
 *
 * Under mpirun (ctx->dist, P processes) process r executes the runs i with i % P == r, each
 * in its own forked worker as above (the workers never touch MPI); ab_collect then sends
 * every worker file to process 0, which gathers them as if it had run everything. A run's
 * rows depend only on the run, so runs.csv and curves.csv are those of one process. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ablate.h"
#include "core/wfile.h"
#include "examples/common/progress.h"

static void worker_path(char *buf, size_t len, const char *dir, int i) {
    snprintf(buf, len, "%s/.run-%04d.csv", dir, i);
}

/* a measurement, or an empty field when there is none (NaN) */
static const char *num(char *buf, size_t len, double v) {
    if (isnan(v)) buf[0] = '\0';
    else snprintf(buf, len, "%.6g", v);
    return buf;
}

/* the runs.csv row of run (prefix before it): the configuration, then what r measured; a
 * failed run (outcome "failed") has no measurements. A worker's row ends with the run's
 * wall time (with_seconds), which goes to timing.csv, not runs.csv: runs.csv holds what
 * the seed decides, the same bytes whatever --jobs or the machine's load */
static void write_row(FILE *f, const char *prefix, const ab_run *run, const ab_result *r,
                      bool with_seconds) {
    const em_config *c = &run->cfg;
    bool failed = !strcmp(r->outcome, "failed");
    char v[9][32];
    snprintf(v[5], sizeof v[5], "%ld", r->steps);
    snprintf(v[6], sizeof v[6], "%ld", r->steps_to_target);
    snprintf(v[7], sizeof v[7], "%ld", r->diverged_step);
    if (isnan(r->seconds)) v[8][0] = '\0';
    else snprintf(v[8], sizeof v[8], "%.2f", r->seconds);
    fprintf(f, "%s%s,%s,%d,%s,%s,%d,%llu,%s,%s,%s,%s,%s,%s,%s", prefix, run->experiment,
            run->variant, c->bn ? 1 : 0, num(v[0], sizeof v[0], c->lr),
            num(v[1], sizeof v[1], c->init_scale), c->batch, (unsigned long long)c->seed,
            failed ? "" : v[5], num(v[2], sizeof v[2], r->final_train_loss),
            num(v[3], sizeof v[3], r->final_test_acc), num(v[4], sizeof v[4], r->best_test_acc),
            failed ? "" : v[6], r->outcome[0] ? r->outcome : "-", failed ? "" : v[7]);
    if (with_seconds) fprintf(f, ",%s", v[8]);
    fputc('\n', f);
}

/* a run that stopped on an error: no measurements */
static void mark_failed(ab_result *r) {
    r->final_train_loss = r->final_test_acc = r->best_test_acc = NAN;
    r->steps = r->steps_to_target = r->diverged_step = -1;
    snprintf(r->outcome, sizeof r->outcome, "failed");
}

/* The child: run i, its rows to its file, exit status 0 or 1. */
static int child_main(const ab_ctx *ctx, const ab_run *runs, int i, const char *dir) {
    if (!freopen("/dev/null", "w", stdout)) return 1;
    char path[EM_PATH_MAX + 32];
    worker_path(path, sizeof path, dir, i);
    em_wfile w;
    em_error err;
    if (em_wfile_open(&w, path, 0, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        return 1;
    }
    FILE *out = w.f;
    const ab_run *run = &runs[i];
    ab_result r = {.run = i, .steps_to_target = -1, .diverged_step = -1};
    double start = em_now();
    int status = run->fn ? run->fn(ctx, i, run, &r, out) : ab_train(ctx, i, run, &r, out);
    if (status != 0) mark_failed(&r);
    r.seconds = em_now() - start;
    write_row(out, "R,", run, &r, true);
    if (em_wfile_commit(&w, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        return 1;
    }
    return status;
}

/* On a terminal, one line redrawn as runs end: how many are done (of them failed), how
 * many are left, the last one, the time so far and the time left at the rate so far
 * (which --jobs already speeds up). Nothing on a pipe. */
static void progress(bool tty, int done, int failed, int n, double start, const char *last) {
    if (!tty) return;
    double el = em_now() - start;
    fprintf(stderr, "\r\033[Kember-ablate: %d of %d runs done, %d failed, %d to go", done, n,
            failed, n - done);
    if (done) fprintf(stderr, " (last: %s)  %.0f s, ETA %.0f s", last, el, el / done * (n - done));
    fflush(stderr);
}

/* the process that executes run i */
static int owner(const ab_ctx *ctx, int i) { return i % em_dist_size(ctx->dist); }

int ab_execute(const ab_ctx *ctx, const ab_run *runs, int n, const char *dir) {
    int jobs = ctx->o->jobs > 0 ? ctx->o->jobs : 1;
    pid_t *pids = calloc((size_t)n + 1, sizeof *pids);
    if (!pids) return 1;
    int P = em_dist_size(ctx->dist), rank = P > 1 ? ctx->dist->rank : 0;
    int mine = n / P + (rank < n % P);   /* the runs this process executes */
    bool tty = rank == 0 && isatty(STDERR_FILENO);
    double start = em_now();
    int next = rank, active = 0, done = 0, failed = 0;
    progress(tty, 0, 0, mine, start, "");
    while (done < mine) {
        while (active < jobs && next < n) {
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0) {
                fprintf(stderr, "ember-ablate: fork failed: %s\n", strerror(errno));
                failed++;
                done++;
                next += P;
                continue;
            }
            if (pid == 0) _exit(child_main(ctx, runs, next, dir));
            pids[next] = pid;
            next += P;
            active++;
        }
        if (!active) continue;
        int st;
        pid_t pid = wait(&st);
        if (pid < 0) break;
        active--;
        done++;
        int i = 0;
        while (i < n && pids[i] != pid) i++;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (tty) fputc('\n', stderr);
            fprintf(stderr, "ember-ablate: run %d (%s %s) failed\n", i + 1,
                    i < n ? runs[i].experiment : "?", i < n ? runs[i].variant : "?");
            failed++;
        }
        progress(tty, done, failed, mine, start, i < n ? runs[i].variant : "");
    }
    if (tty) fprintf(stderr, "\r\033[K");
    free(pids);
    return failed ? 1 : 0;
}

/* The contents of run i's worker file (NULL, 0 when there is none), and the file removed. */
static char *slurp(const char *path, size_t *len) {
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) &&
            fread(buf, 1, (size_t)size, f) == (size_t)size) {
            *len = (size_t)size;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    remove(path);
    return buf;
}

int ab_collect(const ab_ctx *ctx, int n, const char *dir) {
    const em_dist *d = ctx->dist;
    int P = em_dist_size(d);
    if (P == 1) return 0;
    char path[EM_PATH_MAX + 32];
    int status = 0;
    /* every process sends its files in run order, process 0 takes them in run order: the
     * i-th message it waits for is always the next one its sender sends */
    for (int i = 0; i < n; i++) {
        int from = owner(ctx, i);
        if (from == 0 || (d->rank != 0 && d->rank != from)) continue;
        worker_path(path, sizeof path, dir, i);
        size_t len;
        char *buf;
        em_error err = {0};
        em_wfile w;
        if (d->rank == from) {   /* an empty message: no file, the run failed */
            buf = slurp(path, &len);
            em_dist_send(d, 0, i, buf ? buf : "", len, &err);
        } else if (em_dist_recv(d, from, i, &buf, &len, &err) == EM_OK && len &&
                   em_wfile_open(&w, path, 0, &err) == EM_OK &&
                   em_wfile_write(&w, buf, len, &err) == EM_OK) {
            em_wfile_commit(&w, &err);
        }
        if (err.code != EM_OK) {
            fprintf(stderr, "ember-ablate: %s\n", err.msg);
            status = 1;
        }
        free(buf);
    }
    return status;
}

/* ---- gathering ---------------------------------------------------------------------------- */

static char *field(char **s) {
    char *f = *s;
    char *c = strchr(f, ',');
    if (c) {
        *c = 0;
        *s = c + 1;
    } else {
        *s = f + strlen(f);
    }
    return f;
}

/* an empty field is no measurement: NaN (-1 for a count), never 0 */
static double real_field(char **s) {
    const char *f = field(s);
    return *f ? strtod(f, NULL) : NAN;
}

static long long_field(char **s) {
    const char *f = field(s);
    return *f ? atol(f) : -1;
}

static void parse_row(char *line, ab_result *r) {
    char *s = line;
    for (int k = 0; k < 7; k++) field(&s);   /* experiment .. seed: known from the run */
    r->steps = long_field(&s);
    r->final_train_loss = real_field(&s);
    r->final_test_acc = real_field(&s);
    r->best_test_acc = real_field(&s);
    r->steps_to_target = long_field(&s);
    snprintf(r->outcome, sizeof r->outcome, "%s", field(&s));
    r->diverged_step = long_field(&s);
    r->seconds = real_field(&s);
}

static bool push_point(ab_point **pts, long *n, long *cap, const ab_point *p) {
    if (*n == *cap) {
        long nc = *cap ? 2 * *cap : 4096;
        ab_point *np = realloc(*pts, (size_t)nc * sizeof *np);
        if (!np) return false;
        *pts = np;
        *cap = nc;
    }
    (*pts)[(*n)++] = *p;
    return true;
}

/* the row of a run whose worker left none (killed, or it could not write): "failed" */
static void failed_row(FILE *fr, const ab_run *run, ab_result *r) {
    mark_failed(r);
    r->seconds = NAN;
    write_row(fr, "", run, r, false);
}

/* timing.csv: each run's wall time in seconds, a row per row of runs.csv (empty for a
 * run that left no row). Apart from runs.csv, which a seed decides byte for byte. */
static int write_timing(const char *dir, const ab_run *runs, int n, const ab_result *res) {
    char path[EM_PATH_MAX + 32];
    em_wfile w;
    em_error err;
    snprintf(path, sizeof path, "%s/timing.csv", dir);
    if (em_wfile_open(&w, path, 0, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        return 1;
    }
    fputs("run,experiment,variant,seed,seconds\n", w.f);
    for (int i = 0; i < n; i++) {
        fprintf(w.f, "%d,%s,%s,%llu,", i, runs[i].experiment, runs[i].variant,
                (unsigned long long)runs[i].cfg.seed);
        if (!isnan(res[i].seconds)) fprintf(w.f, "%.2f", res[i].seconds);
        fputc('\n', w.f);
    }
    if (em_wfile_commit(&w, &err) == EM_OK) return 0;
    fprintf(stderr, "ember-ablate: %s\n", err.msg);
    return 1;
}

int ab_gather(const char *dir, const ab_run *runs, int n, ab_result *res, ab_point **pts, long *n_pts) {
    char path[EM_PATH_MAX + 32];
    em_wfile wr, wc;
    em_error err;
    snprintf(path, sizeof path, "%s/runs.csv", dir);
    if (em_wfile_open(&wr, path, 0, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/curves.csv", dir);
    if (em_wfile_open(&wc, path, 0, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        em_wfile_abort(&wr);
        return 1;
    }
    FILE *fr = wr.f, *fc = wc.f;
    fputs("experiment,variant,bn,lr,init_scale,batch,seed,steps,final_train_loss,"
          "final_test_acc,best_test_acc,steps_to_target,outcome,diverged_step\n", fr);
    fputs("run,step,metric,value\n", fc);
    long cap = 0;
    *pts = NULL;
    *n_pts = 0;
    int status = 0;
    char line[1024];
    for (int i = 0; i < n; i++) {
        ab_result *r = &res[i];
        memset(r, 0, sizeof *r);
        r->run = i;
        r->final_train_loss = r->final_test_acc = r->best_test_acc = NAN;
        r->steps_to_target = r->diverged_step = -1;
        snprintf(r->outcome, sizeof r->outcome, "failed");
        worker_path(path, sizeof path, dir, i);
        FILE *f = fopen(path, "r");
        if (!f) {
            status = 1;
            failed_row(fr, &runs[i], r);
            char tmp[EM_PATH_MAX + 40];   /* what a killed worker left */
            snprintf(tmp, sizeof tmp, "%s.tmp", path);
            remove(tmp);
            continue;
        }
        long last_step = 0;
        bool got_row = false;
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = 0;
            if (line[0] == 'R' && line[1] == ',') {
                char *t = strrchr(line + 2, ',');   /* the run's seconds: timing.csv's */
                fprintf(fr, "%.*s\n", t ? (int)(t - line - 2) : (int)strlen(line + 2), line + 2);
                parse_row(line + 2, r);
                got_row = true;
            } else if (line[0] == 'C' && line[1] == ',') {
                fprintf(fc, "%s\n", line + 2);
                char *s = line + 2;
                ab_point p = {0};
                p.run = atoi(field(&s));
                p.step = atol(field(&s));
                snprintf(p.metric, sizeof p.metric, "%s", field(&s));
                p.value = strtod(field(&s), NULL);
                last_step = p.step;
                if (!push_point(pts, n_pts, &cap, &p)) status = 1;
            } else if (line[0] == 'X' && line[1] == ',') {
                char *s = line + 2;
                char *key = field(&s);
                double v = strtod(field(&s), NULL);
                fprintf(fc, "%d,%ld,%s,%.6g\n", i, last_step, key, v);
                if (r->n_extra < AB_MAX_EXTRA) {
                    snprintf(r->extra_key[r->n_extra], sizeof r->extra_key[0], "%s", key);
                    r->extra_val[r->n_extra++] = v;
                }
            }
        }
        fclose(f);
        remove(path);
        if (!got_row) {
            status = 1;
            failed_row(fr, &runs[i], r);
        }
    }
    for (int k = 0; k < 2; k++)
        if (em_wfile_commit(k ? &wc : &wr, &err) != EM_OK) {
            fprintf(stderr, "ember-ablate: %s\n", err.msg);
            status = 1;
        }
    return write_timing(dir, runs, n, res) != 0 ? 1 : status;
}

int ab_mkdirs(const char *dir) {
    char buf[EM_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    return 0;
}

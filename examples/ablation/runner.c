/* examples/ablation/runner.c — executes the runs in forked workers and gathers their rows.
 *
 * Every run is executed in its own child process, forked from the parent after the data
 * is loaded (the dataset is shared copy-on-write), so every run starts from the same
 * state whatever ran before it and whichever worker takes it: --jobs 2 produces the same
 * rows as --jobs 1. A child writes DIR/.run-NNNN.tmp; the parent reads the files back in
 * run order.
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
#include "examples/common/progress.h"

static void tmp_path(char *buf, size_t len, const char *dir, int i) {
    snprintf(buf, len, "%s/.run-%04d.tmp", dir, i);
}

static void fmt_num(char *buf, size_t len, double v) {
    snprintf(buf, len, "%.6g", v);
}

/* The child: run i, its rows to its file, exit status 0 or 1. */
static int child_main(const ab_ctx *ctx, const ab_run *runs, int i, const char *dir) {
    if (!freopen("/dev/null", "w", stdout)) return 1;
    char path[EM_PATH_MAX + 32];
    tmp_path(path, sizeof path, dir, i);
    FILE *out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "ember-ablate: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    const ab_run *run = &runs[i];
    ab_result r = {.run = i, .steps_to_target = -1, .diverged_step = -1};
    double start = em_now();
    int status = run->fn ? run->fn(ctx, i, run, &r, out) : ab_train(ctx, i, run, &r, out);
    r.seconds = em_now() - start;
    const em_config *c = &run->cfg;
    char v[6][32];
    fmt_num(v[0], sizeof v[0], c->lr);
    fmt_num(v[1], sizeof v[1], c->init_scale);
    fmt_num(v[2], sizeof v[2], r.final_train_loss);
    fmt_num(v[3], sizeof v[3], r.final_test_acc);
    fmt_num(v[4], sizeof v[4], r.best_test_acc);
    fprintf(out, "R,%s,%s,%d,%s,%s,%d,%llu,%ld,%s,%s,%s,%ld,%s,%ld,%.2f\n", run->experiment,
            run->variant, c->bn ? 1 : 0, v[0], v[1], c->batch, (unsigned long long)c->seed,
            r.steps, v[2], v[3], v[4], r.steps_to_target, r.outcome[0] ? r.outcome : "-",
            r.diverged_step, r.seconds);
    if (fclose(out) != 0) return 1;
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
        tmp_path(path, sizeof path, dir, i);
        size_t len;
        char *buf;
        em_error err = {0};
        if (d->rank == from) {   /* an empty message: no file, the run failed */
            buf = slurp(path, &len);
            em_dist_send(d, 0, i, buf ? buf : "", len, &err);
        } else if (em_dist_recv(d, from, i, &buf, &len, &err) == EM_OK && len) {
            FILE *f = fopen(path, "wb");
            bool ok = f && fwrite(buf, 1, len, f) == len;
            if ((f && fclose(f) != 0) || !ok)
                em_error_set(&err, EM_ERR_IO, "cannot write %s: %s", path, strerror(errno));
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

static void parse_row(char *line, ab_result *r) {
    char *s = line;
    for (int k = 0; k < 7; k++) field(&s);   /* experiment .. seed: known from the run */
    r->steps = atol(field(&s));
    r->final_train_loss = strtod(field(&s), NULL);
    r->final_test_acc = strtod(field(&s), NULL);
    r->best_test_acc = strtod(field(&s), NULL);
    r->steps_to_target = atol(field(&s));
    snprintf(r->outcome, sizeof r->outcome, "%s", field(&s));
    r->diverged_step = atol(field(&s));
    r->seconds = strtod(field(&s), NULL);
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

/* the row of a run whose worker failed: outcome "failed", no measurements */
static void failed_row(FILE *fr, const ab_run *run) {
    const em_config *c = &run->cfg;
    fprintf(fr, "%s,%s,%d,%.6g,%.6g,%d,%llu,0,nan,nan,nan,-1,failed,-1,0\n", run->experiment,
            run->variant, c->bn ? 1 : 0, c->lr, c->init_scale, c->batch,
            (unsigned long long)c->seed);
}

int ab_gather(const char *dir, const ab_run *runs, int n, ab_result *res, ab_point **pts, long *n_pts) {
    char path[EM_PATH_MAX + 32], runs_tmp[EM_PATH_MAX + 32], curves_tmp[EM_PATH_MAX + 32];
    snprintf(runs_tmp, sizeof runs_tmp, "%s/runs.csv.tmp", dir);
    snprintf(curves_tmp, sizeof curves_tmp, "%s/curves.csv.tmp", dir);
    FILE *fr = fopen(runs_tmp, "w"), *fc = fopen(curves_tmp, "w");
    if (!fr || !fc) {
        fprintf(stderr, "ember-ablate: cannot write in %s: %s\n", dir, strerror(errno));
        if (fr) fclose(fr);
        if (fc) fclose(fc);
        return 1;
    }
    fputs("experiment,variant,bn,lr,init_scale,batch,seed,steps,final_train_loss,"
          "final_test_acc,best_test_acc,steps_to_target,outcome,diverged_step,seconds\n", fr);
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
        tmp_path(path, sizeof path, dir, i);
        FILE *f = fopen(path, "r");
        if (!f) {
            status = 1;
            failed_row(fr, &runs[i]);
            continue;
        }
        long last_step = 0;
        bool got_row = false;
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = 0;
            if (line[0] == 'R' && line[1] == ',') {
                fprintf(fr, "%s\n", line + 2);
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
            failed_row(fr, &runs[i]);
        }
    }
    int e1 = fclose(fr), e2 = fclose(fc);
    char final[EM_PATH_MAX + 32];
    snprintf(final, sizeof final, "%s/runs.csv", dir);
    if (e1 || rename(runs_tmp, final)) status = 1;
    snprintf(final, sizeof final, "%s/curves.csv", dir);
    if (e2 || rename(curves_tmp, final)) status = 1;
    return status;
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

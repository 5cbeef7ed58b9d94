/* tests/exercises/grade.c — ember-grade: grades the exercises of exercises/ (docs/exercises.md).
 *
 *     ember-grade [options] [EXERCISE...]
 *
 * EXERCISE is a number (1..13), a file name without .c (ex3_conv2d_backward) or
 * `together`; none: every exercise, then the checks of all of them inside ember.
 *
 *   --objects FILE   the student's compiled code (an archive or object files; repeatable),
 *                    whose undefined symbols are checked (symbols.c); default: the build's
 *   --fixtures DIR   PyTorch's golden values (default: the source tree's tests/fixtures)
 *   --timeout S      seconds one exercise may run (default 60): then it is stopped
 *   --json           the report as JSON, with the points of every check, instead of text
 *   --csv NAME       one gradebook row for the student NAME instead of text
 *   --csv-header     the gradebook's header line, and nothing else
 *   --not-compiled STEM   the exercise of file STEM.c did not compile (its skeleton was
 *                    built in its place): graded 0 without running (the handout's ./run)
 *
 * Each exercise runs in a child process, so that a crash (an index outside an array, a
 * sanitizer's report) or an endless loop costs that exercise and no other. An exercise is
 * worth GRADE_POINTS (10), shared evenly among the checks a right solution passes; one
 * whose functions write nothing is "not attempted" (0), one whose object calls a function
 * it may not is "rejected" (0) without running.
 *
 * Exit status 0 when every graded exercise passed, 1 when one did not, 2 on a usage error
 * or a problem of the grader's own (a missing fixture, nm missing). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "grade.h"
#include "grade_report.h"
#include "grade_symbols.h"

#ifndef EM_GRADE_FIXTURES
#define EM_GRADE_FIXTURES "tests/fixtures"
#endif

static const char *fixtures_dir = EM_GRADE_FIXTURES;

const char *grade_fixtures_dir(void) { return fixtures_dir; }

_Noreturn void grade_fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ember-grade: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (a problem of the grader's files, not of your code)\n");
    va_end(ap);
    exit(2);
}

/* max_checks: what the reference solutions pass (CI checks that they pass all of them) */
static const exercise exercises[] = {
    {1, "ex1_batchnorm_forward", "batchnorm forward", grade_ex1_batchnorm_forward, 45},
    {2, "ex2_batchnorm_backward", "batchnorm backward", grade_ex2_batchnorm_backward, 36},
    {3, "ex3_conv2d_backward", "conv2d backward", grade_ex3_conv2d_backward, 41},
    {4, "ex4_sgd_momentum", "sgd momentum", grade_ex4_sgd_momentum, 22},
    {5, "ex5_batchnorm_graph", "batchnorm through the graph", grade_ex5_batchnorm_graph, 30},
    {6, "ex6_batchnorm_inference", "batchnorm at inference", grade_ex6_batchnorm_inference, 15},
    {7, "ex7_maxpool", "max-pool", grade_ex7_maxpool, 28},
    {8, "ex8_softmax_cross_entropy", "softmax cross-entropy",
     grade_ex8_softmax_cross_entropy, 21},
    {9, "ex9_adam", "adam", grade_ex9_adam, 23},
    {10, "ex10_kaiming_init", "kaiming init", grade_ex10_kaiming_init, 6},
    {11, "ex11_backward_loop", "backward loop", grade_ex11_backward_loop, 22},
    {12, "ex12_layernorm", "layernorm", grade_ex12_layernorm, 38},
    {13, "ex13_groupnorm", "groupnorm", grade_ex13_groupnorm, 76},
    {0, "together", "all together", grade_all_together, 60},
};
#define N_EX ((int)(sizeof exercises / sizeof exercises[0]))

typedef struct options {
    bool json, csv_header;
    const char *csv;
    double timeout;
    char *objects[32];
    int n_objects;
    bool chosen[N_EX], not_compiled[N_EX];
    int n_chosen;
} options;

/* the exercise of a file name without .c, or a number; -1 for none */
static int find_exercise(const char *a) {
    for (int k = 0; k < N_EX; k++)
        if (!strcmp(a, exercises[k].stem) ||
            (exercises[k].number && strspn(a, "0123456789") == strlen(a) &&
             atoi(a) == exercises[k].number))
            return k;
    return -1;
}

static int usage(const char *why) {
    if (why) fprintf(stderr, "ember-grade: %s\n", why);
    fprintf(stderr, "usage: ember-grade [--objects FILE]... [--fixtures DIR] [--timeout S] "
                    "[--not-compiled STEM]... [--json | --csv NAME | --csv-header] "
                    "[EXERCISE...]\n"
                    "EXERCISE: 1..13, a file name without .c, or together\n");
    return 2;
}

static int parse(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->timeout = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(a, "--json")) o->json = true;
        else if (!strcmp(a, "--csv-header")) o->csv_header = true;
        else if (!strcmp(a, "--csv") && has_value) o->csv = argv[++i];
        else if (!strcmp(a, "--fixtures") && has_value) fixtures_dir = argv[++i];
        else if (!strcmp(a, "--not-compiled") && has_value) {
            int k = find_exercise(argv[++i]);
            if (k < 0 || !exercises[k].number) return usage("--not-compiled: no such exercise");
            o->not_compiled[k] = true;
        }
        else if (!strcmp(a, "--objects") && has_value) {
            if (o->n_objects == 32) return usage("too many --objects");
            o->objects[o->n_objects++] = argv[++i];
        } else if (!strcmp(a, "--timeout") && has_value) {
            char *end;
            o->timeout = strtod(argv[++i], &end);
            if (*end || !(o->timeout > 0 && o->timeout <= 86400))
                return usage("--timeout takes seconds, more than 0 and at most 86400");
        } else if (a[0] == '-') {
            char why[160];
            snprintf(why, sizeof why, "unknown option or missing value: %s", a);
            return usage(why);
        } else {
            int k = find_exercise(a);
            if (k < 0) {
                char why[160];
                snprintf(why, sizeof why, "no exercise '%s'", a);
                return usage(why);
            }
            if (!o->chosen[k]) o->n_chosen++;
            o->chosen[k] = true;
        }
    }
    if (o->json + (o->csv != NULL) + o->csv_header > 1)
        return usage("--json, --csv and --csv-header exclude each other");
    if (!o->n_chosen)
        for (int k = 0; k < N_EX; k++) o->chosen[k] = true, o->n_chosen++;
#ifdef EM_STUDENT_OBJECTS
    if (!o->n_objects) o->objects[o->n_objects++] = EM_STUDENT_OBJECTS;
#endif
    if (!o->n_objects && !o->csv_header)
        return usage("--objects is missing: the symbol check needs the student's objects");
    return 0;
}

/* ---- the child: run one exercise, send the result up the pipe ---------------------------- */

/* s without tabs and line breaks, for the pipe's one-line records */
static const char *flat(char *s) {
    for (char *p = s; *p; p++)
        if (*p == '\t' || *p == '\n') *p = ' ';
    return s;
}

_Noreturn static void child(const exercise *ex, bool quiet, int fd) {
    grade g;
    grade_begin(&g, ex->number, ex->title, quiet);
    ex->run(&g);
    fflush(stdout);
    FILE *out = fdopen(fd, "w");
    if (!out) _exit(3);
    fprintf(out, "S\t%d\t%d\t%d\t%s\t", g.checks, g.failed, grade_attempted(&g),
            flat(g.idle));
    fprintf(out, "%s\n", flat(g.wrong));
    for (int i = 0; i < g.n_log; i++) {
        grade_record *r = &g.log[i];
        fprintf(out, "C\t%d\t%s\t", r->passed, flat(r->name));
        fprintf(out, "%s\t", flat(r->situation));
        fprintf(out, "%s\n", flat(r->detail));
    }
    for (int h = 0; h < g.n_hints; h++) fprintf(out, "H\t%s\n", flat(g.hints[h]));
    fclose(out);
    grade_free(&g);
    _exit(0);
}

/* ---- the parent: a child per exercise, with a time limit ---------------------------------- */

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void buf_add(buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = 2 * (b->n + n + 1);
        b->p = realloc(b->p, b->cap);
        if (!b->p) grade_fatal("no memory");
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* read the child's result and stderr until both close or the deadline; false: timed out */
static bool collect(int res_fd, int err_fd, buf *res, buf *err, double deadline) {
    struct pollfd p[2] = {{res_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int open_fds = 2;
    char chunk[4096];
    while (open_fds) {
        double left = deadline - now();
        if (left <= 0) return false;
        int k = poll(p, 2, (int)(left * 1000) + 1);
        if (k < 0 && errno != EINTR) grade_fatal("poll: %s", strerror(errno));
        for (int i = 0; i < 2 && k > 0; i++) {
            if (p[i].fd < 0 || !p[i].revents) continue;
            ssize_t n = read(p[i].fd, chunk, sizeof chunk);
            if (n > 0) {
                buf_add(i ? err : res, chunk, (size_t)n);
            } else {
                p[i].fd = -1;
                open_fds--;
            }
        }
    }
    return true;
}

/* src into dst[n], cut to fit */
static void copy_cut(char *dst, size_t n, const char *src) {
    size_t k = strlen(src);
    if (k >= n) k = n - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
}

/* the lines of the child's pipe into r: S (the summary), C (a check), H (a hint) */
static void parse_result(result *r, char *text) {
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[6] = {0};
        int nf = 0;
        for (char *p = line; p && nf < 6; nf++) {
            f[nf] = p;
            p = strchr(p, '\t');
            if (p) *p++ = '\0';
        }
        if (f[0][0] == 'S' && nf == 6) {
            r->checks = atoi(f[1]);
            r->failed = atoi(f[2]);
            r->st = atoi(f[3]) ? (r->failed ? ST_FAILED : ST_PASSED) : ST_NOT_ATTEMPTED;
            copy_cut(r->idle, sizeof r->idle, f[4]);
            copy_cut(r->wrong, sizeof r->wrong, f[5]);
        } else if (f[0][0] == 'C' && nf == 5) {
            grade_record *log = realloc(r->log, (size_t)(r->n_log + 1) * sizeof *log);
            if (!log) grade_fatal("no memory");
            r->log = log;
            grade_record *k = &r->log[r->n_log++];
            k->passed = atoi(f[1]);
            copy_cut(k->name, sizeof k->name, f[2]);
            copy_cut(k->situation, sizeof k->situation, f[3]);
            copy_cut(k->detail, sizeof k->detail, f[4]);
        } else if (f[0][0] == 'H' && nf == 2 && r->n_hints < 6) {
            copy_cut(r->hints[r->n_hints++], sizeof r->hints[0], f[1]);
        }
    }
}

/* the line of text that starts with `key`, up to its end, or NULL */
static const char *line_with(const char *text, const char *key, char *out, size_t len) {
    const char *p = text ? strstr(text, key) : NULL;
    if (!p) return NULL;
    while (p > text && p[-1] != '\n') p--;
    size_t n = strcspn(p, "\n");
    snprintf(out, len, "%.*s", (int)n, p);
    return out;
}

/* why the child died: the signal, or what a sanitizer reported, and where in the
 * student's files */
static void crash_note(result *r, int wstatus, const char *err) {
    char summary[400] = "", frame[400] = "";
    line_with(err, "SUMMARY: ", summary, sizeof summary);
    if (!summary[0]) line_with(err, "runtime error:", summary, sizeof summary);
    /* the first stack frame in an exercise file: "#0 0x... in ex_... .../ex3_...c:40" */
    for (const char *p = err; p && (p = strstr(p, " in ex_")); p++) {
        line_with(p, " in ex_", frame, sizeof frame);
        break;
    }
    char *in = strstr(frame, " in ex_");
    if (WIFSIGNALED(wstatus))
        snprintf(r->note, sizeof r->note, "%s%s", strsignal(WTERMSIG(wstatus)),
                 WTERMSIG(wstatus) == SIGSEGV ? " (an index outside its array?)" : "");
    else if (summary[0])
        snprintf(r->note, sizeof r->note, "%s%s%s", summary + (strncmp(summary, "SUMMARY: ", 9)
                                                                   ? 0 : 9),
                 in && !strstr(summary, " in ex_") ? "; at" : "",
                 in && !strstr(summary, " in ex_") ? in + 3 : "");
    else
        snprintf(r->note, sizeof r->note, "the process exited with status %d%s%s",
                 WEXITSTATUS(wstatus), err && err[0] ? ": " : "", err ? err : "");
    for (char *p = r->note; *p; p++)
        if (*p == '\n') *p = ' ';
}

static void run_one(const exercise *ex, const options *o, result *r) {
    int res[2], errp[2];
    if (pipe(res) || pipe(errp)) grade_fatal("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) grade_fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        close(res[0]);
        close(errp[0]);
        dup2(errp[1], 2);
        close(errp[1]);
        child(ex, o->json || o->csv, res[1]);
    }
    close(res[1]);
    close(errp[1]);
    buf out = {0}, err = {0};
    buf_add(&out, "", 0);
    buf_add(&err, "", 0);
    bool finished = collect(res[0], errp[0], &out, &err, now() + o->timeout);
    if (!finished) kill(pid, SIGKILL);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    close(res[0]);
    close(errp[0]);
    if (!finished) {
        r->st = ST_TIMEOUT;
        snprintf(r->note, sizeof r->note, "still running after %g s (an endless loop?); "
                 "stopped", o->timeout);
    } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
        parse_result(r, out.p);
        /* what the student's code printed on stderr, passed on */
        if (err.n && !o->json && !o->csv) fputs(err.p, stderr);
    } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 2 && strstr(err.p, "ember-grade:")) {
        r->st = ST_ERROR;
        copy_cut(r->note, sizeof r->note, err.p);
        for (char *p = r->note; *p; p++)
            if (*p == '\n') *p = ' ';
        for (size_t k = strlen(r->note); k > 0 && r->note[k - 1] == ' '; k--) r->note[k - 1] = '\0';
    } else {
        r->st = ST_CRASHED;
        crash_note(r, wstatus, err.p);
    }
    free(out.p);
    free(err.p);
}

/* the points of r: a share of GRADE_POINTS per passed check; a check count that does not
 * fit the table is the grader's own error */
static void score(result *r) {
    r->max_points = r->ex->number ? GRADE_POINTS : 0;
    r->points = 0;
    if (r->st != ST_PASSED && r->st != ST_FAILED) return;
    int full = r->ex->max_checks;
    if (r->checks > full || (r->st == ST_PASSED && r->checks != full)) {
        r->st = ST_ERROR;
        snprintf(r->note, sizeof r->note, "exercise %d made %d checks, and its table entry "
                 "says a right solution passes %d (tests/exercises/grade.c)", r->ex->number,
                 r->checks, full);
        return;
    }
    if (r->ex->number) r->points = GRADE_POINTS * (r->checks - r->failed) / full;
}

/* the exercises whose object calls a forbidden symbol: rejected, with the symbols named */
static int reject(const options *o, result *rs) {
    grade_rejection bad[64];
    char err[300];
    int n = grade_symbols(o->objects, o->n_objects, bad, 64, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "ember-grade: %s\n", err);
        return -1;
    }
    for (int k = 0; k < N_EX; k++)
        for (int i = 0; i < n; i++) {
            if (strcmp(bad[i].stem, exercises[k].stem)) continue;
            result *r = &rs[k];
            size_t at = strlen(r->note);
            if (r->st != ST_REJECTED) {
                r->st = ST_REJECTED;
                at = (size_t)snprintf(r->note, sizeof r->note, "%.120s.c calls %.200s", bad[i].stem,
                                      bad[i].symbol);
            } else {
                snprintf(r->note + at, sizeof r->note - at, ", %.200s", bad[i].symbol);
            }
        }
    for (int k = 0; k < N_EX; k++)
        if (rs[k].st == ST_REJECTED) {
            size_t at = strlen(rs[k].note);
            snprintf(rs[k].note + at, sizeof rs[k].note - at, ", which %s not yours to call: "
                     "an exercise may call only the C library's math, malloc and free, "
                     "printf, its own functions and the helpers exercises.h declares",
                     strchr(rs[k].note, ',') ? "are" : "is");
        }
    return 0;
}

/* every exercise was graded in this run and none was attempted: the together checks, which
 * combine them, have nothing to check */
static bool nothing_attempted(const options *o, const result *rs) {
    for (int k = 0; k < N_EX; k++)
        if (exercises[k].number && (!o->chosen[k] || rs[k].st != ST_NOT_ATTEMPTED)) return false;
    return true;
}

int main(int argc, char **argv) {
    options o;
    int st = parse(argc, argv, &o);
    if (st) return st;
    if (o.csv_header) {
        report_csv_header(stdout, exercises, N_EX);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    result rs[N_EX];
    memset(rs, 0, sizeof rs);
    for (int k = 0; k < N_EX; k++) rs[k].ex = &exercises[k], rs[k].st = ST_FAILED;
    if (reject(&o, rs)) return 2;
    for (int k = 0; k < N_EX; k++)
        if (o.not_compiled[k]) {
            rs[k].st = ST_NOT_COMPILED;
            snprintf(rs[k].note, sizeof rs[k].note, "%s.c has errors (the compiler's messages "
                     "are above, or in the build's compile.log); its empty skeleton was built "
                     "instead", exercises[k].stem);
        }
    result chosen[N_EX];
    int n = 0, exit_status = 0;
    for (int k = 0; k < N_EX; k++) {
        if (!o.chosen[k]) continue;
        result *r = &rs[k];
        if (!exercises[k].number && nothing_attempted(&o, rs)) r->st = ST_NOT_ATTEMPTED;
        else if (r->st != ST_REJECTED && r->st != ST_NOT_COMPILED) run_one(&exercises[k], &o, r);
        score(r);
        if (!o.json && !o.csv) {
            report_verdict(r);
            if (o.n_chosen > 1) printf("\n");
        }
        if (r->st == ST_ERROR) exit_status = 2;
        else if (r->st != ST_PASSED && !exit_status) exit_status = 1;
        chosen[n++] = *r;
    }
    if (o.json) report_json(stdout, chosen, n);
    else if (o.csv) report_csv_row(stdout, o.csv, chosen, n);
    else if (n > 1) report_score(chosen, n);
    for (int i = 0; i < N_EX; i++) free(rs[i].log);
    if (fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "ember-grade: cannot write the report: %s\n", strerror(errno));
        return 2;
    }
    return exit_status;
}

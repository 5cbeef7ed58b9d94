/* examples/plot/read.c — metrics CSVs and ember-ablate curves into runs (plot.h). Every
 * line is checked; a bad one is an error naming the file and the line, except a last line
 * without its newline (a run killed mid-row), which is left out with a note. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/csv.h"
#include "plot.h"

static const char metrics_header[] =
    "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,diverged";
static const char curves_header[] = "run,step,metric,value";

#define MAX_LINE (1 << 16)

static bool push(pl_series *s, double x, double y) {
    if (!isfinite(x) || !isfinite(y)) return true;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        double *nx = realloc(s->x, (size_t)cap * sizeof *nx);
        if (!nx) return false;
        s->x = nx;
        double *ny = realloc(s->y, (size_t)cap * sizeof *ny);
        if (!ny) return false;
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n++] = y;
    return true;
}

static void series_free(pl_series *s) {
    free(s->x);
    free(s->y);
    memset(s, 0, sizeof *s);
}

static pl_run *new_run(pl_runs *runs) {
    if (runs->n == runs->cap) {
        int cap = runs->cap ? 2 * runs->cap : 8;
        pl_run *nr = realloc(runs->run, (size_t)cap * sizeof *nr);
        if (!nr) return NULL;
        runs->run = nr;
        runs->cap = cap;
    }
    pl_run *r = &runs->run[runs->n++];
    memset(r, 0, sizeof *r);
    r->diverged_step = -1;
    return r;
}

void pl_runs_free(pl_runs *runs) {
    for (int i = 0; i < runs->n; i++)
        for (int k = 0; k < PL_SERIES; k++) series_free(&runs->run[i].s[k]);
    free(runs->run);
    memset(runs, 0, sizeof *runs);
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* the last k parts of path ("seed1/m.csv" for k 2), or the whole path when it has fewer */
static const char *last_parts(const char *path, int k) {
    const char *s = path + strlen(path);
    for (; s > path; s--)
        if (s[-1] == '/' && --k == 0) break;
    return s;
}

static size_t stem_len(const char *s) {
    size_t n = strlen(s);
    return n > 4 && !strcmp(s + n - 4, ".csv") ? n - 4 : n;
}

void pl_default_label(char *out, size_t len, const char *path, char *const *paths, int n) {
    /* one folder more while another path ends the same (x/seed1/m.csv, y/seed1/m.csv) */
    const char *s = last_parts(path, 1);
    for (int k = 1; s != path; k++) {
        bool clash = false;
        for (int i = 0; i < n; i++)
            clash |= paths[i] != path && !strcmp(last_parts(paths[i], k), s);
        if (!clash) break;
        s = last_parts(path, k + 1);
    }
    snprintf(out, len, "%.*s", (int)stem_len(s), s);
}

/* ---- reading lines -------------------------------------------------------------------------- */

typedef struct lines {
    FILE *f;
    const char *path;
    char *buf;
    size_t cap;
    long no;            /* the line number of the line in buf */
    bool whole;         /* it ended in a newline               */
} lines;

/* the next line into l->buf: 1, 0 at the end, -1 with err set */
static int next_line(lines *l, em_error *err) {
    long n = em_csv_getline(&l->buf, &l->cap, l->f, MAX_LINE);
    if (n == 0) return 0;
    if (n == -1) return em_error_set(err, EM_ERR_IO, "%s: read error", l->path), -1;
    l->no++;
    if (n < 0 || memchr(l->buf, '\0', (size_t)n)) {
        em_error_set(err, EM_ERR_FORMAT, "%s: line %ld is not text of a CSV file (a NUL byte or "
                     "more than %d characters)", l->path, l->no, MAX_LINE);
        return -1;
    }
    l->whole = n > 0 && l->buf[n - 1] == '\n';
    return 1;
}

static em_code bad_line(lines *l, em_error *err, const char *what) {
    return em_error_set(err, EM_ERR_FORMAT, "%s: line %ld: %s", l->path, l->no, what);
}

/* a number field; "" is NaN when empty_ok */
static bool number(const char *f, bool empty_ok, double *v) {
    if (!*f && empty_ok) {
        *v = NAN;
        return true;
    }
    return em_csv_number(f, v);
}

/* ---- a metrics CSV -------------------------------------------------------------------------- */

static em_code read_metric_rows(pl_run *r, lines *l, pl_series *epoch_train,
                                bool *last_is_step, FILE *notes, em_error *err);

static em_code read_metrics(pl_runs *runs, lines *l, const char *label, FILE *notes,
                            em_error *err) {
    pl_run *r = new_run(runs);
    if (!r) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", l->path);
    snprintf(r->label, sizeof r->label, "%s", label);
    /* The training loss and accuracy of the epoch rows are means over the epoch, those of
     * the --log-every rows means over their window: drawn together they would zigzag. The
     * rows without a test pass are --log-every rows, except a last one (a run stopped
     * inside an epoch): when there are such rows they are the curve, else the epoch rows
     * (and a last row after them) */
    pl_series epoch_train[2] = {{0}, {0}};
    bool last_is_step = false;
    em_code code = read_metric_rows(r, l, epoch_train, &last_is_step, notes, err);
    for (int k = 0; k < 2; k++) {
        pl_series *steps = &r->s[k ? PL_TRAIN_ACC : PL_TRAIN_LOSS], *epochs = &epoch_train[k];
        if (steps->n - last_is_step == 0) {   /* no --log-every rows */
            for (int j = 0; j < steps->n && code == EM_OK; j++)
                if (!push(epochs, steps->x[j], steps->y[j]))
                    code = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", l->path);
            pl_series t = *steps;
            *steps = *epochs, *epochs = t;
        }
        series_free(epochs);
    }
    if (code == EM_OK && r->diverged_step >= 0) {
        size_t at = strlen(r->label);
        snprintf(r->label + at, sizeof r->label - at, " (diverged at step %ld)", r->diverged_step);
    }
    return code;
}

static em_code read_metric_rows(pl_run *r, lines *l, pl_series *epoch_train,
                                bool *last_is_step, FILE *notes, em_error *err) {
    int got;
    while ((got = next_line(l, err)) == 1) {
        if (!l->whole) {
            fprintf(notes, "ember-plot: %s: line %ld has no end (a run stopped while writing "
                    "it): left out\n", l->path, l->no);
            break;
        }
        char *f[12];
        double v[10];
        int n = em_csv_split(l->buf, f, 12);
        if (n != 10) return bad_line(l, err, "not a metrics row (10 fields)");
        for (int k = 0; k < 10; k++)
            if (!number(f[k], k >= 2 && k <= 8, &v[k]))
                return bad_line(l, err, "a field that is not a number");
        if (v[0] < 0 || v[1] < 0 || v[0] != floor(v[0]) || v[1] != floor(v[1]))
            return bad_line(l, err, "epoch and step are not whole numbers");
        /* an epoch row has the test pass; a --log-every row (and the row of a run stopped
         * inside an epoch) has none */
        double x = v[1];
        bool epoch_row = isfinite(v[5]) || isfinite(v[6]);
        *last_is_step = !epoch_row && isfinite(v[3]);
        pl_series *train = epoch_row ? epoch_train : &r->s[PL_TRAIN_LOSS];
        bool ok = push(&train[0], x, v[3]) &&
                  push(epoch_row ? &epoch_train[1] : &r->s[PL_TRAIN_ACC], x, v[4]) &&
                  push(&r->s[PL_TEST_LOSS], x, v[5]) && push(&r->s[PL_TEST_ACC], x, v[6]);
        if (!ok) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", l->path);
        if (r->steps_per_epoch == 0 && epoch_row && v[0] >= 1) r->steps_per_epoch = v[1] / v[0];
        if (v[9] != 0 && r->diverged_step < 0) r->diverged_step = (long)v[1];
    }
    return got < 0 ? err->code : EM_OK;
}

/* ---- an ember-ablate curves.csv ---------------------------------------------------------------- */

/* what a run of curves.csv holds, before the series are chosen */
enum { C_LOSS, C_EPOCH_LOSS, C_EPOCH_TRAIN_ACC, C_TEST_ACC, C_EPOCH_TEST_ACC, C_FINAL_ACC, C_N };
static const char *const curve_metrics[C_N] = {"train_loss", "epoch_train_loss", "epoch_train_acc",
                                               "test_acc", "epoch_test_acc", "test_acc_final"};

typedef struct ab_labels {
    int n;
    char (*label)[160];
} ab_labels;

/* labels of the runs from runs.csv beside curves.csv: "variant", or "experiment variant"
 * when the file holds several experiments; "(diverged at step k)" after a diverged run */
static void read_run_labels(const char *curves, ab_labels *out) {
    memset(out, 0, sizeof *out);
    char path[4096];
    const char *b = base_name(curves);
    snprintf(path, sizeof path, "%.*sruns.csv", (int)(b - curves), curves);
    em_error ignored = {0};
    FILE *f = em_csv_open(path, &ignored);   /* none (or no regular file): no variants */
    if (!f) return;
    char *line = NULL, *fld[20], first[64] = "";
    size_t cap = 0;
    bool mixed = false;
    for (int no = 0; em_csv_getline(&line, &cap, f, MAX_LINE) > 0 && out->n < 100000; no++) {
        int nf = no == 0 ? 0 : em_csv_split(line, fld, 20);
        if (nf != 14 && nf != 15) continue;   /* 15: runs.csv before timing.csv */
        char (*nl)[160] = realloc(out->label, (size_t)(out->n + 1) * sizeof *nl);
        if (!nl) break;
        out->label = nl;
        mixed |= first[0] && strcmp(first, fld[0]);
        if (!first[0]) snprintf(first, sizeof first, "%s", fld[0]);
        int k = snprintf(nl[out->n], sizeof nl[0], "%.60s\x1f%.60s", fld[0], fld[1]);
        if (!strcmp(fld[12], "diverged"))
            snprintf(nl[out->n] + k, sizeof nl[0] - (size_t)k, " (diverged%s%.12s)",
                     strcmp(fld[13], "-1") ? " at step " : "", strcmp(fld[13], "-1") ? fld[13] : "");
        out->n++;
    }
    free(line);
    fclose(f);
    for (int i = 0; i < out->n; i++) {   /* experiment\x1fvariant -> what to show */
        char *sep = strchr(out->label[i], '\x1f');
        if (!sep) continue;
        if (mixed) *sep = ' ';
        else memmove(out->label[i], sep + 1, strlen(sep + 1) + 1);
    }
}

/* the series of a run from what curves.csv held: the step curve of the loss if there is
 * one, else the per-epoch one; the test accuracy at evaluations, else per epoch, else the
 * final one */
static void choose(pl_run *r, pl_series *c) {
    int loss = c[C_LOSS].n ? C_LOSS : C_EPOCH_LOSS;
    int acc = c[C_TEST_ACC].n ? C_TEST_ACC : c[C_EPOCH_TEST_ACC].n ? C_EPOCH_TEST_ACC : C_FINAL_ACC;
    r->s[PL_TRAIN_LOSS] = c[loss], c[loss] = (pl_series){0};
    r->s[PL_TRAIN_ACC] = c[C_EPOCH_TRAIN_ACC], c[C_EPOCH_TRAIN_ACC] = (pl_series){0};
    r->s[PL_TEST_ACC] = c[acc], c[acc] = (pl_series){0};
    for (int k = 0; k < C_N; k++) series_free(&c[k]);
}

static em_code read_curves(pl_runs *runs, lines *l, const char *label, const char *match,
                           FILE *notes, em_error *err) {
    pl_series (*cur)[C_N] = NULL;   /* per run index of the file */
    int n_cur = 0, got;
    em_code code = EM_OK;
    while (code == EM_OK && (got = next_line(l, err)) == 1) {
        if (!l->whole) {
            fprintf(notes, "ember-plot: %s: line %ld has no end: left out\n", l->path, l->no);
            break;
        }
        char *f[6];
        double run, step, value;
        if (em_csv_split(l->buf, f, 6) != 4) code = bad_line(l, err, "not a curves row (4 fields)");
        else if (!em_csv_number(f[0], &run) || run < 0 || run >= 100000 || run != floor(run) ||
                 !em_csv_number(f[1], &step) || !em_csv_number(f[3], &value))
            code = bad_line(l, err, "run and step are not whole numbers, or the value no number");
        int k = 0;
        while (code == EM_OK && k < C_N && strcmp(f[2], curve_metrics[k])) k++;
        if (code != EM_OK || k == C_N) continue;   /* a curve ember-plot does not draw */
        if ((int)run >= n_cur) {
            void *nc = realloc(cur, (size_t)(run + 1) * sizeof *cur);
            if (!nc) {
                code = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", l->path);
                break;
            }
            cur = nc;
            memset(cur + n_cur, 0, (size_t)((int)run + 1 - n_cur) * sizeof *cur);
            n_cur = (int)run + 1;
        }
        if (!push(&cur[(int)run][k], step, value))
            code = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", l->path);
    }
    if (code == EM_OK && got < 0) code = err->code;
    ab_labels names;
    read_run_labels(l->path, &names);
    for (int i = 0; i < n_cur; i++) {
        bool any = false;
        for (int k = 0; k < C_N; k++) any |= cur[i][k].n > 0;
        char text[160];
        snprintf(text, sizeof text, "%s%s%s", label ? label : "", label ? ": " : "",
                 i < names.n ? names.label[i] : "");
        if (i >= names.n) snprintf(text + strlen(text), sizeof text - strlen(text), "run %d", i);
        pl_run *r = code == EM_OK && any && (!match || strstr(text, match)) ? new_run(runs) : NULL;
        if (r) {
            snprintf(r->label, sizeof r->label, "%s", text);
            choose(r, cur[i]);
        } else {
            if (code == EM_OK && any && (!match || strstr(text, match)))
                code = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", l->path);
            for (int k = 0; k < C_N; k++) series_free(&cur[i][k]);
        }
    }
    if (code == EM_OK && n_cur == 0)
        fprintf(notes, "ember-plot: %s: no loss or accuracy curve in it\n", l->path);
    free(names.label);
    free(cur);
    return code;
}

em_code pl_read(pl_runs *runs, const char *path, const char *label, const char *name,
                const char *match, FILE *notes, em_error *err) {
    lines l = {.f = em_csv_open(path, err), .path = path};
    if (!l.f) return err->code;
    em_code code;
    int got = next_line(&l, err);
    if (got <= 0) {
        code = got < 0 ? err->code : em_error_set(err, EM_ERR_FORMAT, "%s: empty file", path);
    } else {
        l.buf[strcspn(l.buf, "\r\n")] = '\0';
        if (!strcmp(l.buf, metrics_header)) {
            int before = runs->n;
            code = read_metrics(runs, &l, label ? label : name, notes, err);
            if (code == EM_OK && match && !strstr(runs->run[before].label, match)) {
                for (int k = 0; k < PL_SERIES; k++) series_free(&runs->run[before].s[k]);
                runs->n = before;
            }
        } else if (!strcmp(l.buf, curves_header)) {
            code = read_curves(runs, &l, label, match, notes, err);
        } else {
            code = em_error_set(err, EM_ERR_FORMAT, "%s: neither a metrics CSV of ember-mnist/"
                                "-cifar (header %s) nor an ember-ablate curves.csv (header %s)",
                                path, metrics_header, curves_header);
        }
    }
    free(l.buf);
    fclose(l.f);
    return code;
}

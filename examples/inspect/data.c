/* examples/inspect/data.c — data sets (an idx file, a CIFAR file, a directory of either)
 * and the CSV files ember writes: metrics, ember-ablate's curves and runs, predictions,
 * confusion matrices (inspect.h). */
#define _XOPEN_SOURCE 700   /* realpath */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/cifar10.h"
#include "data/mnist.h"
#include "examples/common/confusion.h"
#include "examples/common/csv.h"
#include "inspect.h"

/* "name count" pairs, lines of 88 columns at most */
static void histogram(FILE *out, const size_t *count, int k, const char *const *names) {
    int col = 0;
    for (int i = 0; i < k; i++) {
        char item[96], num[16];
        snprintf(num, sizeof num, "%d", i);
        int w = snprintf(item, sizeof item, "  %.60s %zu", names ? names[i] : num, count[i]);
        if (col && col + w > 88) fputc('\n', out), col = 0;
        fputs(item, out);
        col += w;
    }
    fputc('\n', out);
}

static bool gzipped(const char *path) {
    unsigned char b[2] = {0, 0};
    FILE *f = fopen(path, "rb");
    if (f && fread(b, 1, 2, f) != 2) b[0] = 0;
    if (f) fclose(f);
    return b[0] == 0x1f && b[1] == 0x8b;
}

em_code in_idx(const char *path, FILE *out, em_error *err) {
    em_idx_file f;
    em_code c = em_idx_read(&f, path, err);
    if (c != EM_OK) return c;
    const char *z = gzipped(path) ? ", gzip" : "";
    if (f.images) {
        size_t per = (size_t)f.rows * (size_t)f.cols, n = f.n * per;
        double sum = 0;
        int lo = 255, hi = 0;
        for (size_t i = 0; i < n; i++) {
            sum += f.data[i];
            lo = f.data[i] < lo ? f.data[i] : lo;
            hi = f.data[i] > hi ? f.data[i] : hi;
        }
        fprintf(out, "%s: idx images%s, %zu images of %dx%d pixels\n", path, z, f.n, f.rows, f.cols);
        if (n) fprintf(out, "  pixels %d..%d, mean %.2f (%.4f of 255)\n", lo, hi, sum / (double)n,
                       sum / (double)n / 255);
    } else {
        size_t count[256] = {0};
        int top = -1;
        for (size_t i = 0; i < f.n; i++) {
            count[f.data[i]]++;
            top = f.data[i] > top ? f.data[i] : top;
        }
        fprintf(out, "%s: idx labels%s, %zu labels", path, z, f.n);
        if (top >= 0) fprintf(out, ", classes 0..%d; labels per class:\n", top);
        else fprintf(out, "\n");
        if (top >= 0) histogram(out, count, top + 1, NULL);
    }
    em_idx_file_free(&f);
    return EM_OK;
}

/* a data set in memory: counts, shape, classes, channel statistics */
static void dataset_summary(FILE *out, const char *what, const em_dataset *ds) {
    fprintf(out, "%s: %zu images of %dx%dx%d, %d classes; images per class:\n", what, ds->n,
            ds->c, ds->h, ds->w, ds->n_classes);
    size_t *count = calloc((size_t)ds->n_classes, sizeof *count);
    if (count) {
        em_dataset_histogram(ds, count);
        histogram(out, count, ds->n_classes, ds->class_names);
    }
    free(count);
    double mean[EM_DATA_MAX_CHANNELS], std[EM_DATA_MAX_CHANNELS];
    if (!ds->n) return;
    em_dataset_channel_stats(ds, 0, mean, std);
    fprintf(out, "  pixel / 255 per channel: mean");
    for (int ch = 0; ch < ds->c; ch++) fprintf(out, " %.4f", mean[ch]);
    fprintf(out, ", std");
    for (int ch = 0; ch < ds->c; ch++) fprintf(out, " %.4f", std[ch]);
    fputc('\n', out);
}

em_code in_cifar(const char *path, FILE *out, em_error *err) {
    struct stat st;
    if (stat(path, &st) != 0)
        return em_error_set(err, EM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t size = (size_t)st.st_size;
    bool hundred = size % 3073 != 0 && size % 3074 == 0;   /* 2 label bytes per record */
    em_dataset ds;
    em_code c = em_cifar_load_file(&ds, path, hundred ? 2 : 1, hundred ? 1 : 0, hundred ? 100 : 10,
                                   err);
    if (c != EM_OK) return c;
    char what[4200];
    snprintf(what, sizeof what, "%s: CIFAR-%s binary records", path, hundred ? "100 (fine labels)" : "10");
    dataset_summary(out, what, &ds);
    em_dataset_free(&ds);
    return EM_OK;
}

static bool exists(const char *dir, const char *name) {
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

em_code in_data_dir(const char *dir, FILE *out, em_error *err) {
    bool mnist = exists(dir, "train-images-idx3-ubyte") || exists(dir, "train-images-idx3-ubyte.gz") ||
                 exists(dir, "t10k-images-idx3-ubyte") || exists(dir, "t10k-images-idx3-ubyte.gz");
    bool cifar = exists(dir, "data_batch_1.bin") || exists(dir, "test_batch.bin");
    if (!mnist && !cifar)
        return em_error_set(err, EM_ERR_FORMAT, "%s: a directory, and neither MNIST-format "
                            "(train-images-idx3-ubyte[.gz]) nor CIFAR-10 (data_batch_1.bin) data",
                            dir);
    /* the loader tells Fashion-MNIST by its directory's name: "." would not say it */
    char real[PATH_MAX];
    const char *at = realpath(dir, real) ? real : dir;
    for (int split = 0; split < 2; split++) {
        em_dataset ds;
        em_code c = mnist ? em_mnist_load(&ds, at, (em_split)split, err)
                          : em_cifar10_load(&ds, at, (em_split)split, err);
        if (c != EM_OK) return c;
        char what[4200];
        snprintf(what, sizeof what, "%s: %s, %s set", dir, ds.name, split ? "test" : "training");
        dataset_summary(out, what, &ds);
        em_dataset_free(&ds);
    }
    return EM_OK;
}

/* ---- CSV files ------------------------------------------------------------------------------- */

enum { CSV_GENERIC, CSV_METRICS, CSV_CURVES, CSV_RUNS, CSV_PREDICTIONS };
#define CSV_MAX_FIELDS 4096
#define CSV_MAX_LINE (1 << 20)

typedef struct csv_state {
    int kind, n_fields;
    char *header, *last;        /* copies of the header line and of the last row          */
    long rows, epoch_rows, right;
    char metrics[12][32];       /* curves: the metrics seen and their counts              */
    long metric_rows[12];
    int n_metrics, top_run;
    char outcomes[6][32];       /* runs: trained / slow / diverged / failed counts        */
    long outcome_rows[6];
    int n_outcomes;
} csv_state;

static void count_name(char (*names)[32], long *counts, int *n, int max, const char *name) {
    int i = 0;
    while (i < *n && strcmp(names[i], name)) i++;
    if (i == *n && *n < max) snprintf(names[(*n)++], 32, "%.31s", name);
    if (i < *n) counts[i]++;
}

/* one row of a known kind: what the summary needs */
static void csv_row(csv_state *s, char **f) {
    s->rows++;
    if (s->kind == CSV_METRICS) s->epoch_rows += f[6][0] != '\0';
    if (s->kind == CSV_CURVES) {
        count_name(s->metrics, s->metric_rows, &s->n_metrics, 12, f[2]);
        int run = atoi(f[0]);
        s->top_run = run > s->top_run ? run : s->top_run;
    }
    if (s->kind == CSV_RUNS)
        count_name(s->outcomes, s->outcome_rows, &s->n_outcomes, 6, f[12]);
    if (s->kind == CSV_PREDICTIONS) s->right += !strcmp(f[1], f[2]);
}

static int kind_of(char **f, int n) {
    static const char metrics[] = "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,"
                                  "images_per_s,diverged";
    char joined[256] = "";
    for (int i = 0; i < n && strlen(joined) < 200; i++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%.40s", i ? "," : "", f[i]);
    if (!strcmp(joined, metrics)) return CSV_METRICS;
    if (!strcmp(joined, "run,step,metric,value")) return CSV_CURVES;
    if (n == 15 && !strcmp(f[0], "experiment") && !strcmp(f[1], "variant")) return CSV_RUNS;
    double v;
    bool numbers = n >= 4;
    for (int i = 0; i < n && numbers; i++) numbers = em_csv_number(f[i], &v);
    return numbers ? CSV_PREDICTIONS : CSV_GENERIC;
}

static void csv_summary(const csv_state *s, const char *path, FILE *out) {
    static const char *const kinds[] = {"a CSV file", "an ember-mnist/-cifar metrics file",
                                        "ember-ablate curves", "ember-ablate runs",
                                        "predictions (index,label,predicted,logits...)"};
    fprintf(out, "%s: %s, %ld rows of %d columns\n", path, kinds[s->kind], s->rows, s->n_fields);
    if (s->kind != CSV_PREDICTIONS) fprintf(out, "  columns: %s\n", s->header);
    if (s->kind == CSV_METRICS)
        fprintf(out, "  %ld epoch rows (with a test pass), %ld --log-every rows\n", s->epoch_rows,
                s->rows - s->epoch_rows);
    if (s->kind == CSV_CURVES) {
        fprintf(out, "  runs 0..%d; rows per metric:", s->top_run);
        for (int i = 0; i < s->n_metrics; i++) fprintf(out, " %s %ld", s->metrics[i], s->metric_rows[i]);
        fputc('\n', out);
    }
    if (s->kind == CSV_RUNS) {
        fprintf(out, "  outcomes:");
        for (int i = 0; i < s->n_outcomes; i++) fprintf(out, " %s %ld", s->outcomes[i], s->outcome_rows[i]);
        fputc('\n', out);
    }
    if (s->kind == CSV_PREDICTIONS && s->rows)
        fprintf(out, "  %d classes; label = predicted in %ld rows: %.2f%%\n", s->n_fields - 3,
                s->right, 100.0 * (double)s->right / (double)s->rows);
    if (!s->last) return;
    char *h[CSV_MAX_FIELDS], *v[CSV_MAX_FIELDS];
    int nh = s->kind == CSV_PREDICTIONS ? 0 : em_csv_split(s->header, h, CSV_MAX_FIELDS);
    int nv = em_csv_split(s->last, v, CSV_MAX_FIELDS);
    fprintf(out, "  last row:");
    for (int i = 0; i < nv && i < 24; i++)
        fprintf(out, i < nh ? " %s=%s" : " %.0s%s", i < nh ? h[i] : "", v[i][0] ? v[i] : "(empty)");
    fprintf(out, "%s\n", nv > 24 ? " ..." : "");
}

/* a line of the file into *line: 1, 0 at the end, -1 on a line that is no text, -2 on a
 * read error */
static int read_line(FILE *f, char **line, size_t *cap, bool *whole) {
    long n = em_csv_getline(line, cap, f, CSV_MAX_LINE);
    if (n == 0) return 0;
    if (n == -1) return -2;
    if (n < 0 || memchr(*line, '\0', (size_t)n)) return -1;
    *whole = (*line)[n - 1] == '\n';
    return 1;
}

/* a confusion matrix file: its per-class table */
static em_code confusion(const char *path, FILE *out, em_error *err) {
    em_confusion c;
    em_code code = em_confusion_load(&c, path, err);
    if (code != EM_OK) return code;
    fprintf(out, "%s: a confusion matrix of %d classes (rows: true class, columns: predicted)\n",
            path, c.k);
    em_confusion_print(&c, out);
    em_confusion_free(&c);
    return EM_OK;
}

em_code in_csv(const char *path, FILE *out, em_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return em_error_set(err, EM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL, *raw = NULL, **fld = malloc(CSV_MAX_FIELDS * sizeof *fld);
    size_t cap = 0, raw_cap = 0;
    bool whole = true;
    csv_state s = {0};
    em_code c = fld ? EM_OK : em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
    long no = 0;
    int got;
    while (c == EM_OK && (got = read_line(f, &line, &cap, &whole)) != 0) {
        no++;
        if (got == -2) {
            c = em_error_set(err, EM_ERR_IO, "%s: read error at line %ld", path, no);
            break;
        }
        if (got > 0 && !whole && no > 1) {   /* what a crash leaves: not a row */
            fprintf(out, "%s: line %ld has no end (a run stopped while writing it): not counted\n",
                    path, no);
            break;
        }
        if (got > 0 && raw_cap < cap) {      /* the line as it is, before the split */
            char *nr = realloc(raw, cap);
            if (!nr) {
                c = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            raw = nr, raw_cap = cap;
        }
        if (got > 0) memcpy(raw, line, strcspn(line, "\r\n")), raw[strcspn(line, "\r\n")] = '\0';
        int n = got < 0 ? -1 : em_csv_split(line, fld, CSV_MAX_FIELDS);
        if (n < 1) {
            c = em_error_set(err, EM_ERR_FORMAT, "%s: line %ld is not a CSV row (a NUL byte, an "
                             "unclosed quote or more than %d fields)", path, no, CSV_MAX_FIELDS);
        } else if (no == 1 && !strcmp(fld[0], "true\\predicted")) {
            break;                           /* a confusion matrix: read as such below */
        } else if (no == 1) {
            s.n_fields = n;
            s.kind = kind_of(fld, n);
            s.header = strdup(raw);
            if (s.kind == CSV_PREDICTIONS) csv_row(&s, fld), s.last = strdup(raw);
        } else if (n != s.n_fields) {
            c = em_error_set(err, EM_ERR_FORMAT, "%s: line %ld has %d fields, the %s %d", path,
                             no, n, s.kind == CSV_PREDICTIONS ? "first line" : "header", s.n_fields);
        } else {
            csv_row(&s, fld);
            free(s.last);
            s.last = strdup(raw);
        }
    }
    bool is_confusion = c == EM_OK && no == 1 && !s.header;
    if (c == EM_OK && no == 0) c = em_error_set(err, EM_ERR_FORMAT, "%s: empty file", path);
    if (c == EM_OK && !is_confusion) csv_summary(&s, path, out);
    free(s.header);
    free(s.last);
    free(fld);
    free(line);
    free(raw);
    fclose(f);
    return is_confusion ? confusion(path, out, err) : c;
}

/* ---- the state-dict names fixture (tools/fixtures/gen_models.py) ------------------------------ */

/* one line "MODEL BN NAME DTYPE SHAPE" (e.g. "mnist-cnn 1 0.weight f32 16x1x3x3"; SHAPE
 * "scalar" for a 0-d tensor): the number of values of SHAPE, or -1 when the line is not one */
static long names_line(const char *line, char *model, size_t len) {
    char m[64], bn[4], name[128], dtype[8], shape[64];
    if (sscanf(line, "%63s %3s %127s %7s %63s", m, bn, name, dtype, shape) != 5) return -1;
    if ((strcmp(bn, "0") && strcmp(bn, "1")) || (strcmp(dtype, "f32") && strcmp(dtype, "i64")))
        return -1;
    long n = 1;
    for (const char *p = strcmp(shape, "scalar") ? shape : ""; *p;) {
        char *end;
        long d = strtol(p, &end, 10);
        if (end == p || d < 0 || d > 1000000 || (*end && *end != 'x')) return -1;
        n = n > 100000000 ? n : n * d;
        p = *end ? end + 1 : end;
    }
    snprintf(model, len, "%s bn=%s", m, bn);
    return n;
}

bool in_is_names(const char *first_line) {
    char model[80];
    return names_line(first_line, model, sizeof model) >= 0;
}

em_code in_names(const char *path, FILE *out, em_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return em_error_set(err, EM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char line[512], models[16][80];
    long tensors[16] = {0}, values[16] = {0}, no = 0;
    int n = 0;
    em_code c = EM_OK;
    while (c == EM_OK && fgets(line, sizeof line, f)) {
        char model[80];
        long v = names_line(line, model, sizeof model);
        no++;
        if (v < 0) {
            c = em_error_set(err, EM_ERR_FORMAT, "%s: line %ld is not 'MODEL BN NAME DTYPE SHAPE'",
                             path, no);
            break;
        }
        int i = 0;
        while (i < n && strcmp(models[i], model)) i++;
        if (i == n && n < 16) snprintf(models[n++], sizeof models[0], "%s", model);
        if (i < n) tensors[i]++, values[i] += v;
    }
    fclose(f);
    if (c != EM_OK) return c;
    fprintf(out, "%s: state-dict names of the reference models (tools/fixtures/gen_models.py), "
            "%ld tensors\n", path, no);
    for (int i = 0; i < n; i++)
        fprintf(out, "  %-16s %3ld tensors, %8ld values\n", models[i], tensors[i], values[i]);
    return EM_OK;
}

/* examples/common/confusion.c — per-class accuracy, confusions, the matrix file
 * (confusion.h). */
#include "confusion.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/csv.h"
#include "examples/common/outfile.h"

em_code em_confusion_init(em_confusion *c, int k, const char *const *names, em_error *err) {
    memset(c, 0, sizeof *c);
    if (k < 1 || k > EM_CONFUSION_MAX_CLASSES)
        return em_error_set(err, EM_ERR_ARG, "a confusion matrix of %d classes (1 to %d)", k,
                            EM_CONFUSION_MAX_CLASSES);
    c->k = k;
    c->names = calloc((size_t)k, sizeof *c->names);
    c->counts = calloc((size_t)k * (size_t)k, sizeof *c->counts);
    for (int i = 0; c->names && i < k; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        c->names[i] = strdup(names && names[i] ? names[i] : num);
        if (!c->names[i]) break;
    }
    if (!c->names || !c->counts || !c->names[k - 1]) {
        em_confusion_free(c);
        return em_error_set(err, EM_ERR_NOMEM, "out of memory for a confusion matrix");
    }
    return EM_OK;
}

void em_confusion_free(em_confusion *c) {
    for (int i = 0; c->names && i < c->k; i++) free(c->names[i]);
    free(c->names);
    free(c->counts);
    memset(c, 0, sizeof *c);
}

void em_confusion_clear(em_confusion *c) {
    memset(c->counts, 0, (size_t)c->k * (size_t)c->k * sizeof *c->counts);
}

double em_confusion_total(const em_confusion *c) {
    double n = 0;
    for (size_t i = 0; i < (size_t)c->k * (size_t)c->k; i++) n += c->counts[i];
    return n;
}

/* ---- the table ------------------------------------------------------------------------------ */

typedef struct cell {
    double count;
    int row, col;
} cell;

static int by_count(const void *a, const void *b) {
    const cell *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return x->row != y->row ? x->row - y->row : x->col - y->col;   /* ties: a fixed order */
}

static double row_sum(const em_confusion *c, int i) {
    double s = 0;
    for (int j = 0; j < c->k; j++) s += c->counts[(size_t)i * c->k + j];
    return s;
}

/* the class's accuracy, or 2 (after every real one) when it has no images */
static double class_acc(const em_confusion *c, int i) {
    double n = row_sum(c, i);
    return n > 0 ? c->counts[(size_t)i * c->k + i] / n : 2;
}

static void print_row(const em_confusion *c, int i, int width, FILE *out) {
    const double *r = c->counts + (size_t)i * c->k;
    double n = row_sum(c, i);
    int worst = -1;
    for (int j = 0; j < c->k; j++)
        if (j != i && r[j] > 0 && (worst < 0 || r[j] > r[worst])) worst = j;
    if (n > 0) fprintf(out, "  %-*s %7.2f%% %6.0f %6.0f", width, c->names[i], 100 * r[i] / n, r[i], n);
    else fprintf(out, "  %-*s %8s %6s %6s", width, c->names[i], "-", "0", "0");
    if (worst >= 0) fprintf(out, "  %s (%.0f)", c->names[worst], r[worst]);
    fputc('\n', out);
}

void em_confusion_print(const em_confusion *c, FILE *out) {
    int k = c->k, width = 5, shown = k <= 20 ? k : 10;
    cell *cells = malloc((size_t)k * (size_t)k * sizeof *cells);
    if (!cells) return;
    for (int i = 0; i < k; i++) {
        int w = (int)strlen(c->names[i]);
        width = w > width ? (w < 24 ? w : 24) : width;
    }
    cell *acc = malloc((size_t)k * sizeof *acc);
    if (!acc) {
        free(cells);
        return;
    }
    for (int i = 0; i < k; i++) acc[i] = (cell){-class_acc(c, i), i, 0};
    if (shown < k) qsort(acc, (size_t)k, sizeof *acc, by_count);   /* lowest accuracy first */
    fprintf(out, "per class (%.0f test images)%s:\n", em_confusion_total(c),
            shown < k ? ", the 10 with the lowest accuracy" : "");
    fprintf(out, "  %-*s %8s %6s %6s  most often taken for\n", width, "class", "accuracy", "right", "of");
    for (int i = 0; i < shown; i++) print_row(c, shown < k ? acc[i].row : i, width, out);
    free(acc);
    int n = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            if (i != j && c->counts[(size_t)i * k + j] > 0)
                cells[n++] = (cell){c->counts[(size_t)i * k + j], i, j};
    qsort(cells, (size_t)n, sizeof *cells, by_count);
    fprintf(out, "most frequent confusions (true -> predicted):%s", n ? "\n " : " none");
    for (int a = 0, col = 1; a < n && a < 5; a++) {
        char item[128];
        int w = snprintf(item, sizeof item, " %s -> %s %.0f%s", c->names[cells[a].row],
                         c->names[cells[a].col], cells[a].count, a + 1 < n && a < 4 ? "," : "");
        if (col > 1 && col + w > 88) fputs("\n ", out), col = 1;   /* lines of 88 at most */
        fputs(item, out);
        col += w;
    }
    fputc('\n', out);
    free(cells);
}

/* ---- the file ------------------------------------------------------------------------------- */

em_code em_confusion_save(const em_confusion *c, const char *path, em_error *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
    fputs("true\\predicted", m);
    for (int j = 0; j < c->k; j++) fputc(',', m), em_csv_put(m, c->names[j]);
    fputc('\n', m);
    for (int i = 0; i < c->k; i++) {
        em_csv_put(m, c->names[i]);
        for (int j = 0; j < c->k; j++) fprintf(m, ",%.0f", c->counts[(size_t)i * c->k + j]);
        fputc('\n', m);
    }
    bool ok = fclose(m) == 0;
    em_code code = ok ? em_outfile_write(path, text, len, err)
                      : em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
    free(text);
    return code;
}

#define LINE_MAX_LEN (1 << 20)

/* line `no` of f, split into at most max fields; -1 at the end of the file or on error */
static int next_fields(FILE *f, char **line, size_t *cap, char **fields, int max) {
    long n = em_csv_getline(line, cap, f, LINE_MAX_LEN);
    if (n == 0 || n == -1) return -1;   /* (a read error: ferror, checked at the end) */
    if (n < 0 || memchr(*line, '\0', (size_t)n)) return -2;
    return em_csv_split(*line, fields, max);
}

static em_code load_rows(em_confusion *c, FILE *f, const char *path, char **line, size_t *cap,
                         char **fields, em_error *err) {
    int k = c->k;
    for (int i = 0; i < k; i++) {
        int n = next_fields(f, line, cap, fields, k + 2);
        if (n == -1)
            return em_error_set(err, EM_ERR_FORMAT, "%s: %d rows for %d classes (truncated?)",
                                path, i, k);
        if (n != k + 1)
            return em_error_set(err, EM_ERR_FORMAT, "%s: line %d has %d fields, the header %d",
                                path, i + 2, n < 0 ? 0 : n, k + 1);
        if (strcmp(fields[0], c->names[i]))
            return em_error_set(err, EM_ERR_FORMAT, "%s: line %d is class '%s', column %d of "
                                "the header '%s' (rows and columns name the same classes, in "
                                "the same order)", path, i + 2, fields[0], i + 1, c->names[i]);
        for (int j = 0; j < k; j++) {
            double v;
            if (!em_csv_number(fields[j + 1], &v) || !(v >= 0) || v > 1e15 || v != floor(v))
                return em_error_set(err, EM_ERR_FORMAT, "%s: line %d, column %d: '%s' is not a "
                                    "count", path, i + 2, j + 2, fields[j + 1]);
            c->counts[(size_t)i * k + j] = v;
        }
    }
    int extra = next_fields(f, line, cap, fields, k + 2);
    if (extra != -1 && !(extra == 1 && !fields[0][0]))
        return em_error_set(err, EM_ERR_FORMAT, "%s: more rows than the %d classes of the "
                            "header", path, k);
    return ferror(f) ? em_error_set(err, EM_ERR_IO, "%s: read error", path) : EM_OK;
}

em_code em_confusion_load(em_confusion *c, const char *path, em_error *err) {
    memset(c, 0, sizeof *c);
    FILE *f = em_csv_open(path, err);
    if (!f) return err->code;
    enum { MAXF = EM_CONFUSION_MAX_CLASSES + 2 };
    char **fields = malloc(MAXF * sizeof *fields), *line = NULL;
    size_t cap = 0;
    em_code code = EM_OK;
    int n = fields ? next_fields(f, &line, &cap, fields, MAXF) : -3;
    if (n == -3) code = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
    else if (n < 2 || n > EM_CONFUSION_MAX_CLASSES + 1 || strcmp(fields[0], "true\\predicted"))
        code = em_error_set(err, EM_ERR_FORMAT, "%s: not a confusion matrix: the header is not "
                            "'true\\predicted,CLASS,...' with 1 to %d classes", path,
                            EM_CONFUSION_MAX_CLASSES);
    else
        code = em_confusion_init(c, n - 1, (const char *const *)fields + 1, err);
    if (code == EM_OK) code = load_rows(c, f, path, &line, &cap, fields, err);
    if (code != EM_OK) em_confusion_free(c);
    free(line);
    free(fields);
    fclose(f);
    return code;
}

int em_confusion_finish(const em_confusion *c, const em_config *cfg) {
    if (!cfg->quiet) em_confusion_print(c, stdout);
    em_error err;
    if (cfg->confusion[0] && em_confusion_save(c, cfg->confusion, &err) != EM_OK) {
        fflush(stdout);
        fprintf(stderr, "%s: %s\n", cfg->program, err.msg);
        return 1;
    }
    return 0;
}

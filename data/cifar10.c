/* data/cifar10.c — CIFAR-10 / CIFAR-100 binary records: read, validate, write. */
#include "cifar10.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/wfile.h"
#include "reader.h"

#define CIFAR_HINT                                                                     \
    "hint: download CIFAR-10 with tools/fetch-cifar10.sh, point EMBER_CIFAR_DIR at a " \
    "cifar-10-batches-bin directory, or use --synthetic (the generated shapes set; "   \
    "build/tools/make-shapes writes it in this format)"

/* 200 000 records of CIFAR-100: more than any real file, bounds memory on bad input */
#define CIFAR_MAX_FILE ((size_t)200000 * 3074)
#define NAMES_MAX_FILE ((size_t)1 << 16)

/* Append the records of buf to ds (realloc), validating size and labels. */
static em_code append_records(em_dataset *ds, const uint8_t *buf, size_t len, int label_bytes,
                              int label_index, int n_classes, const char *name,
                              em_error *err) {
    size_t rec = (size_t)label_bytes + EM_CIFAR_PIXELS;
    if (len == 0)
        return em_error_set(err, EM_ERR_FORMAT, "%s: empty file, no records", name);
    if (len % rec != 0)
        return em_error_set(err, EM_ERR_FORMAT,
                            "%s: size %zu bytes is not a multiple of the %zu-byte record (%d "
                            "label byte%s + 3072 pixel bytes): truncated, or not a CIFAR-%s "
                            "binary file",
                            name, len, rec, label_bytes, label_bytes > 1 ? "s" : "",
                            label_bytes > 1 ? "100" : "10");
    size_t k = len / rec;
    for (size_t i = 0; i < k; i++) {
        uint8_t label = buf[i * rec + (size_t)label_index];
        if (label >= n_classes)
            return em_error_set(err, EM_ERR_FORMAT,
                                "%s: label %u of record %zu is out of range (classes 0..%d)",
                                name, label, i, n_classes - 1);
    }
    uint8_t *pixels = realloc(ds->pixels, (ds->n + k) * EM_CIFAR_PIXELS);
    if (!pixels) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", name);
    ds->pixels = pixels;
    uint8_t *labels = realloc(ds->labels, ds->n + k);
    if (!labels) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", name);
    ds->labels = labels;
    for (size_t i = 0; i < k; i++) {
        const uint8_t *r = buf + i * rec;
        ds->labels[ds->n + i] = r[label_index];
        memcpy(ds->pixels + (ds->n + i) * EM_CIFAR_PIXELS, r + label_bytes, EM_CIFAR_PIXELS);
    }
    ds->n += k;
    return EM_OK;
}

static void init_shape(em_dataset *ds, const char *name, int n_classes) {
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->c = 3;
    ds->h = 32;
    ds->w = 32;
    ds->n_classes = n_classes;
}

em_code em_cifar_load_mem(em_dataset *ds, const void *buf, size_t len, int label_bytes,
                          int label_index, int n_classes, em_error *err) {
    EM_ASSERT(label_bytes >= 1 && label_index >= 0 && label_index < label_bytes);
    init_shape(ds, "cifar", n_classes);
    em_code c = append_records(ds, buf, len, label_bytes, label_index, n_classes,
                               "<cifar records in memory>", err);
    if (c == EM_OK) c = em_dataset_number_names(ds, n_classes, err);
    if (c != EM_OK) em_dataset_free(ds);
    return c;
}

static em_code append_file(em_dataset *ds, const char *path, int label_bytes, int label_index,
                           int n_classes, em_error *err) {
    struct stat st;
    if (stat(path, &st) != 0)
        return em_error_set(err, EM_ERR_IO, "%s: missing (%s); " CIFAR_HINT, path,
                            strerror(errno));
    em_reader r;
    em_code c = em_reader_open(&r, path, err);
    if (c != EM_OK) return c;
    uint8_t *buf;
    size_t len;
    c = em_reader_read_all(&r, CIFAR_MAX_FILE, &buf, &len, err);
    em_reader_close(&r);
    if (c != EM_OK) return c;
    c = append_records(ds, buf, len, label_bytes, label_index, n_classes, path, err);
    free(buf);
    return c == EM_OK ? em_dataset_add_file(ds, path, err) : c;
}

/* Class names from a text file, one a line; blank lines and trailing blanks ignored.
 * A missing file is not an error: *found is false and the caller uses its default. */
static em_code read_names(em_dataset *ds, const char *path, int n_expected, bool *found,
                          em_error *err) {
    *found = false;
    struct stat st;
    if (stat(path, &st) != 0) return EM_OK;
    em_reader r;
    em_code c = em_reader_open(&r, path, err);
    if (c != EM_OK) return c;
    uint8_t *buf;
    size_t len;
    c = em_reader_read_all(&r, NAMES_MAX_FILE, &buf, &len, err);
    em_reader_close(&r);
    if (c != EM_OK) return c;
    char *text = realloc(buf, len + 1);
    if (!text) {
        free(buf);
        return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
    }
    text[len] = '\0';
    const char *names[EM_DATA_MAX_CLASSES];
    int n = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        size_t l = strlen(line);
        while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            line[--l] = '\0';
        if (l == 0) continue;
        if (n == n_expected) {
            n++;
            break;
        }
        names[n++] = line;
    }
    if (n != n_expected) {
        free(text);
        return em_error_set(err, EM_ERR_FORMAT, "%s: %s class names, expected %d", path,
                            n > n_expected ? "more than the" : "fewer", n_expected);
    }
    c = em_dataset_copy_names(ds, names, n, err);
    free(text);
    if (c == EM_OK) *found = true;
    return c;
}

static em_code check_dir(const char *dir, const char *what, em_error *err) {
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return em_error_set(err, EM_ERR_IO, "%s: no such directory (%s binary data); " CIFAR_HINT,
                            dir ? dir : "(null)", what);
    return EM_OK;
}

static em_code join(char *out, size_t len, const char *dir, const char *file, em_error *err) {
    int k = snprintf(out, len, "%s/%s", dir, file);
    if (k < 0 || (size_t)k >= len)
        return em_error_set(err, EM_ERR_ARG, "%s: directory path too long", dir);
    return EM_OK;
}

em_code em_cifar10_load(em_dataset *ds, const char *dir, em_split split, em_error *err) {
    init_shape(ds, "cifar-10", 10);
    em_code c = check_dir(dir, "CIFAR-10", err);
    char path[4096];
    const char *train[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                           "data_batch_4.bin", "data_batch_5.bin"};
    const char *test[] = {"test_batch.bin"};
    const char **files = split == EM_SPLIT_TRAIN ? train : test;
    int n_files = split == EM_SPLIT_TRAIN ? 5 : 1;
    for (int f = 0; c == EM_OK && f < n_files; f++) {
        c = join(path, sizeof path, dir, files[f], err);
        if (c == EM_OK) c = append_file(ds, path, 1, 0, 10, err);
    }
    bool found = false;
    if (c == EM_OK) c = join(path, sizeof path, dir, "batches.meta.txt", err);
    if (c == EM_OK) c = read_names(ds, path, 10, &found, err);
    if (c == EM_OK && !found) c = em_dataset_static_names(ds, em_cifar10_class_names, 10, err);
    if (c != EM_OK) em_dataset_free(ds);
    return c;
}

em_code em_cifar_load_file(em_dataset *ds, const char *path, int label_bytes, int label_index,
                           int n_classes, em_error *err) {
    EM_ASSERT(label_bytes >= 1 && label_index >= 0 && label_index < label_bytes);
    EM_ASSERT(n_classes >= 1 && n_classes <= EM_DATA_MAX_CLASSES);
    const char *slash = strrchr(path, '/');
    init_shape(ds, slash ? slash + 1 : path, n_classes);
    em_code c = append_file(ds, path, label_bytes, label_index, n_classes, err);
    /* the names file beside it, as the directory loaders read it */
    const char *names = label_bytes == 1 ? "batches.meta.txt"
                        : label_index == 0 ? "coarse_label_names.txt" : "fine_label_names.txt";
    char beside[4096];
    int dir_len = slash ? (int)(slash - path) : 1;
    bool found = false;
    if (c == EM_OK && snprintf(beside, sizeof beside, "%.*s/%s", dir_len, slash ? path : ".",
                               names) >= (int)sizeof beside)
        c = em_error_set(err, EM_ERR_ARG, "%s: path too long", path);
    if (c == EM_OK) c = read_names(ds, beside, n_classes, &found, err);
    if (c == EM_OK && !found)
        c = label_bytes == 1 && n_classes == 10
                ? em_dataset_static_names(ds, em_cifar10_class_names, 10, err)
                : em_dataset_number_names(ds, n_classes, err);
    if (c != EM_OK) em_dataset_free(ds);
    return c;
}

em_code em_cifar100_load(em_dataset *ds, const char *dir, em_split split, bool coarse,
                         em_error *err) {
    int n_classes = coarse ? 20 : 100;
    init_shape(ds, coarse ? "cifar-100-coarse" : "cifar-100", n_classes);
    em_code c = check_dir(dir, "CIFAR-100", err);
    char path[4096];
    if (c == EM_OK)
        c = join(path, sizeof path, dir, split == EM_SPLIT_TRAIN ? "train.bin" : "test.bin", err);
    if (c == EM_OK) c = append_file(ds, path, 2, coarse ? 0 : 1, n_classes, err);
    bool found = false;
    if (c == EM_OK)
        c = join(path, sizeof path, dir, coarse ? "coarse_label_names.txt" : "fine_label_names.txt",
                 err);
    if (c == EM_OK) c = read_names(ds, path, n_classes, &found, err);
    if (c == EM_OK && !found) c = em_dataset_number_names(ds, n_classes, err);
    if (c != EM_OK) em_dataset_free(ds);
    return c;
}

/* written like every file ember writes (core/wfile.h): to path.tmp, created exclusively,
 * then fsynced and renamed, so the old file stays whole until the new one is */
static em_code write_atomic(const char *path, em_code (*body)(FILE *, const void *, em_error *),
                            const void *ctx, em_error *err) {
    em_wfile w;
    em_code c = em_wfile_open(&w, path, 0, err);
    if (c != EM_OK) return c;
    c = body(w.f, ctx, err);
    if (c != EM_OK) em_wfile_abort(&w);
    else c = em_wfile_commit(&w, err);
    return c;
}

typedef struct records_job {
    const em_dataset *ds;
    size_t first, count;
    const char *path;
} records_job;

static em_code write_records(FILE *f, const void *ctx, em_error *err) {
    const records_job *j = ctx;
    for (size_t i = j->first; i < j->first + j->count; i++) {
        if (fputc(j->ds->labels[i], f) == EOF ||
            fwrite(j->ds->pixels + i * EM_CIFAR_PIXELS, 1, EM_CIFAR_PIXELS, f) != EM_CIFAR_PIXELS)
            return em_error_set(err, EM_ERR_IO, "%s: write failed: %s", j->path, strerror(errno));
    }
    return EM_OK;
}

em_code em_cifar10_write(const em_dataset *ds, size_t first, size_t count, const char *path,
                         em_error *err) {
    if (ds->c != 3 || ds->h != 32 || ds->w != 32)
        return em_error_set(err, EM_ERR_ARG, "%s: CIFAR-10 records need (3, 32, 32) images, "
                            "the dataset has (%d, %d, %d)", path, ds->c, ds->h, ds->w);
    if (first > ds->n || count > ds->n - first)
        return em_error_set(err, EM_ERR_ARG, "%s: examples [%zu, %zu) outside 0..%zu", path,
                            first, first + count, ds->n);
    records_job j = {ds, first, count, path};
    return write_atomic(path, write_records, &j, err);
}

static em_code write_names(FILE *f, const void *ctx, em_error *err) {
    const em_dataset *ds = ctx;
    for (int k = 0; k < ds->n_classes; k++)
        if (fprintf(f, "%s\n", ds->class_names[k]) < 0)
            return em_error_set(err, EM_ERR_IO, "write failed: %s", strerror(errno));
    return EM_OK;
}

em_code em_cifar10_write_meta(const em_dataset *ds, const char *path, em_error *err) {
    return write_atomic(path, write_names, ds, err);
}

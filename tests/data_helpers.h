/* tests/data_helpers.h — temporary directories and generated data files for the data
 * suites. Every file is written by the test itself, byte by byte, independently of the
 * library's readers (and writers), so a round trip checks the reader against the format. */
#ifndef EM_TEST_DATA_HELPERS_H
#define EM_TEST_DATA_HELPERS_H

#define _XOPEN_SOURCE 700 /* nftw */
#include "helpers.h"
#include "tmpname.h"

#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* A fresh directory under $TMPDIR (or /tmp); the test removes it with rm_tree. */
static inline void make_tmpdir(char *out, size_t len) {
    cr_assert_not_null(em_test_mkdtemp(out, len, NULL, "data"), "mkdtemp %s failed", out);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static inline void rm_tree(const char *dir) {
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/name into out */
static inline const char *path_in(char *out, size_t len, const char *dir, const char *name) {
    snprintf(out, len, "%s/%s", dir, name);
    return out;
}

static inline void write_bytes(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static inline void write_gz(const char *path, const void *buf, size_t len) {
    gzFile f = gzopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(gzwrite(f, buf, (unsigned)len), (int)len);
    cr_assert_eq(gzclose(f), Z_OK);
}

static inline uint8_t *read_bytes(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static inline void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* An idx image file: magic 2051, n, rows, cols, then pixel i*rows*cols + k = f(i, k). */
static inline uint8_t idx_pixel(uint32_t i, uint32_t k) { return (uint8_t)(i * 31u + k * 7u + (i ^ k)); }
static inline uint8_t idx_label(uint32_t i, int n_classes) { return (uint8_t)((i * 7u + 3u) % (uint32_t)n_classes); }

static inline uint8_t *make_idx_images(uint32_t n, uint32_t rows, uint32_t cols, size_t *len) {
    *len = 16 + (size_t)n * rows * cols;
    uint8_t *b = malloc(*len);
    put_be32(b, 0x803); put_be32(b + 4, n); put_be32(b + 8, rows); put_be32(b + 12, cols);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < rows * cols; k++) b[16 + (size_t)i * rows * cols + k] = idx_pixel(i, k);
    return b;
}

static inline uint8_t *make_idx_labels(uint32_t n, int n_classes, size_t *len) {
    *len = 8 + (size_t)n;
    uint8_t *b = malloc(*len);
    put_be32(b, 0x801); put_be32(b + 4, n);
    for (uint32_t i = 0; i < n; i++) b[8 + i] = idx_label(i, n_classes);
    return b;
}

/* CIFAR records: label_bytes label bytes (byte j of record i: (i + 3j) % classes[j]),
 * then 3072 pixels p(i, k) */
static inline uint8_t cifar_pixel(uint32_t i, uint32_t k) { return (uint8_t)(i * 13u + k * 5u + (k >> 10)); }

static inline uint8_t *make_cifar(uint32_t n, int label_bytes, const int *classes, uint32_t first,
                                  size_t *len) {
    size_t rec = (size_t)label_bytes + 3072;
    *len = n * rec;
    uint8_t *b = malloc(*len ? *len : 1);
    for (uint32_t i = 0; i < n; i++) {
        for (int j = 0; j < label_bytes; j++)
            b[i * rec + (size_t)j] = (uint8_t)((first + i + 3u * (uint32_t)j) % (uint32_t)classes[j]);
        for (uint32_t k = 0; k < 3072; k++) b[i * rec + (size_t)label_bytes + k] = cifar_pixel(first + i, k);
    }
    return b;
}

/* the message must mention every needle */
static inline void assert_msg_has(const em_error *err, const char *needle) {
    cr_assert(strstr(err->msg, needle) != NULL, "message \"%s\" lacks \"%s\"", err->msg, needle);
}

#endif

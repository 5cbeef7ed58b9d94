/* tests/test_npy.c — .npy export: the bytes of the format checked here, and numpy.load
 * itself when Debian's python3-numpy is installed (a visible SKIPPED line otherwise);
 * reading .npy files back (em_npy_load): every dtype, version 2, and every kind of bad file. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "tempdir.h"
#include "tmpname.h"


static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*len + 1);
    cr_assert_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

/* check the file's bytes: magic, version 1.0, header dict, 64-byte alignment, values */
static void check_bytes(const char *path, const char *shape_text, const em_real *want, size_t n) {
    size_t len;
    unsigned char *b = read_all(path, &len);
    cr_assert(len >= 10 && !memcmp(b, "\x93NUMPY", 6), "%s: magic", path);
    cr_assert(b[6] == 1 && b[7] == 0, "version 1.0");
    size_t hlen = (size_t)b[8] | (size_t)b[9] << 8;
    cr_assert_eq((10 + hlen) % 64, 0, "the data starts 64-byte aligned");
    cr_assert_eq(b[10 + hlen - 1], '\n');
    char *h = strndup((const char *)b + 10, hlen);
    cr_assert(strstr(h, "'descr': '<f4'") && strstr(h, "'fortran_order': False"), "%s", h);
    char want_shape[64];
    snprintf(want_shape, sizeof want_shape, "'shape': %s", shape_text);
    cr_assert(strstr(h, want_shape), "header %s lacks %s", h, want_shape);
    cr_assert_eq(len, 10 + hlen + 4 * n);
    for (size_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, b + 10 + hlen + 4 * i, 4);
        cr_assert_eq(v, (float)want[i], "value %zu", i);
    }
    free(h);
    free(b);
}

static bool have_numpy(void) {
    return access("/usr/bin/python3", X_OK) == 0 &&
           system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

Test(npy, written_files_have_the_v1_layout_and_numpy_reads_them, .init = make_dir,
     .fini = remove_dir) {
    em_tensor *t = em_tensor_new(3, (int[]){2, 3, 4}, 0);
    for (size_t i = 0; i < t->size; i++) t->data[i] = (em_real)(0.5 * (double)i - 3);
    em_tensor *v = em_tensor_new(1, (int[]){5}, 0);
    for (size_t i = 0; i < 5; i++) v->data[i] = (em_real)(1.0 / (double)(i + 1));
    em_real scalar = (em_real)2.25;
    char p3[128], p1[128], p0[128];
    snprintf(p3, sizeof p3, "%s/t3.npy", dir);
    snprintf(p1, sizeof p1, "%s/t1.npy", dir);
    snprintf(p0, sizeof p0, "%s/t0.npy", dir);
    em_error err;
    cr_assert_eq(em_npy_save(p3, t, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_npy_save(p1, v, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_npy_save_data(p0, 0, NULL, &scalar, &err), EM_OK, "%s", err.msg);
    check_bytes(p3, "(2, 3, 4)", t->data, t->size);
    check_bytes(p1, "(5,)", v->data, 5);
    check_bytes(p0, "()", &scalar, 1);

    if (!have_numpy()) {
        printf("SKIPPED: numpy not available (/usr/bin/python3 with python3-numpy); the file "
               "bytes were checked above\n");
    } else {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import numpy as np, sys\n"
                 "a = np.load('%s'); b = np.load('%s'); c = np.load('%s')\n"
                 "assert a.dtype == np.dtype('<f4') and a.shape == (2, 3, 4), (a.dtype, a.shape)\n"
                 "assert (a.ravel() == np.arange(24, dtype='f4') * 0.5 - 3).all()\n"
                 "assert b.shape == (5,) and np.allclose(b, 1 / np.arange(1, 6), rtol=1e-7)\n"
                 "assert c.shape == () and c == 2.25\n"
                 "print('numpy.load:', a.shape, b.shape, c.shape, 'ok')\"", p3, p1, p0);
        fflush(stdout);
        cr_assert_eq(system(cmd), 0, "numpy.load rejected or misread the files");
    }
    em_tensor_free(t);
    em_tensor_free(v);
}

Test(npy, large_tensors_and_unwritable_paths) {
    char d[64];
    cr_assert_not_null(em_test_mkdtemp(d, sizeof d, NULL, "npy"));
    em_tensor *t = em_tensor_new(2, (int[]){300, 7}, 0);   /* more than one conversion chunk */
    for (size_t i = 0; i < t->size; i++) t->data[i] = (em_real)i;
    char p[128];
    snprintf(p, sizeof p, "%s/big.npy", d);
    em_error err;
    cr_assert_eq(em_npy_save(p, t, &err), EM_OK, "%s", err.msg);
    check_bytes(p, "(300, 7)", t->data, t->size);
    remove(p);
    rmdir(d);
    cr_assert_eq(em_npy_save("/nonexistent/dir/x.npy", t, &err), EM_ERR_IO);
    cr_assert(strstr(err.msg, "/nonexistent/dir/x.npy"), "%s", err.msg);
    em_tensor_free(t);
}

/* ---- reading .npy files back (io/npy_read.c) ------------------------------------------------- */

/* a version-1 file of the header text (padded to 64) and the data bytes, in memory */
static size_t npy_bytes(unsigned char *out, size_t cap, const char *dict, const void *data,
                        size_t n) {
    size_t len = strlen(dict) + 1, total = (10 + len + 63) / 64 * 64, hlen = total - 10;
    cr_assert(total + n <= cap);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)(hlen & 0xff);
    out[9] = (unsigned char)(hlen >> 8);
    memset(out + 10, ' ', hlen);
    memcpy(out + 10, dict, strlen(dict));
    out[10 + hlen - 1] = '\n';
    memcpy(out + total, data, n);
    return total + n;
}

Test(npy_read, what_em_npy_save_writes_reads_back, .init = make_dir, .fini = remove_dir) {
    em_tensor *t = em_tensor_new(3, (int[]){2, 3, 4}, 0);
    for (size_t i = 0; i < t->size; i++) t->data[i] = (em_real)(0.25 * (double)i - 2);
    char p[128];
    snprintf(p, sizeof p, "%s/t.npy", dir);
    em_error err;
    cr_assert_eq(em_npy_save(p, t, &err), EM_OK, "%s", err.msg);
    em_npy_header h;
    double *v;
    cr_assert_eq(em_npy_load(p, &h, &v, &err), EM_OK, "%s", err.msg);
    cr_assert_str_eq(h.descr, "<f4");
    cr_assert(h.kind == 'f' && h.itemsize == 4 && !h.fortran_order && h.major == 1);
    cr_assert(h.ndim == 3 && h.shape[0] == 2 && h.shape[1] == 3 && h.shape[2] == 4 && h.numel == 24);
    cr_assert_eq(h.offset % 64, 0);
    for (size_t i = 0; i < 24; i++) cr_assert_eq(v[i], (double)(float)t->data[i], "value %zu", i);
    free(v);
    em_real s = (em_real)-1.5;
    cr_assert_eq(em_npy_save_data(p, 0, NULL, &s, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_npy_load(p, &h, &v, &err), EM_OK, "%s", err.msg);
    cr_assert(h.ndim == 0 && h.numel == 1 && v[0] == -1.5);
    free(v);
    em_tensor_free(t);
}

Test(npy_read, every_numeric_dtype_version_2_and_fortran_order) {
    unsigned char b[512];
    em_npy_header h;
    double *v;
    em_error err;
    int64_t i8[3] = {-5, 0, (int64_t)1 << 40};
    size_t n = npy_bytes(b, sizeof b, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", i8, sizeof i8);
    cr_assert_eq(em_npy_parse(b, n, "i8", &h, &v, &err), EM_OK, "%s", err.msg);
    cr_assert(v[0] == -5 && v[1] == 0 && v[2] == 1099511627776.0 && h.kind == 'i');
    free(v);
    uint8_t u1[4] = {0, 7, 255, 1};
    n = npy_bytes(b, sizeof b, "{\"shape\": (2, 2), \"fortran_order\": True, \"descr\": \"|u1\"}", u1, 4);
    cr_assert_eq(em_npy_parse(b, n, "u1", &h, &v, &err), EM_OK, "%s", err.msg);
    cr_assert(h.fortran_order && h.ndim == 2 && v[2] == 255 && v[3] == 1);
    free(v);
    uint16_t f2[4] = {0x3c00, 0xc000, 0x0001, 0x7c00};   /* 1, -2, the smallest subnormal, +Inf */
    n = npy_bytes(b, sizeof b, "{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", f2, sizeof f2);
    cr_assert_eq(em_npy_parse(b, n, "f2", &h, &v, &err), EM_OK, "%s", err.msg);
    cr_assert(v[0] == 1 && v[1] == -2 && v[2] == ldexp(1, -24) && isinf(v[3]) && v[3] > 0);
    free(v);
    double f8[2] = {0.1, -1e300};
    n = npy_bytes(b, sizeof b, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", f8, sizeof f8);
    cr_assert_eq(em_npy_parse(b, n, "f8", &h, &v, &err), EM_OK, "%s", err.msg);
    cr_assert(v[0] == 0.1 && v[1] == -1e300);
    free(v);
    uint8_t bools[2] = {0, 1};
    n = npy_bytes(b, sizeof b, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", bools, 2);
    cr_assert_eq(em_npy_parse(b, n, "b1", &h, &v, &err), EM_OK, "%s", err.msg);
    cr_assert(v[0] == 0 && v[1] == 1);
    free(v);
    /* version 2: a 4-byte header length */
    const char *dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (0, 3), }\n";
    size_t hl = strlen(dict);
    memcpy(b, "\x93NUMPY\x02\x00", 8);
    b[8] = (unsigned char)hl, b[9] = b[10] = b[11] = 0;
    memcpy(b + 12, dict, hl);
    cr_assert_eq(em_npy_parse(b, 12 + hl, "v2", &h, &v, &err), EM_OK, "%s", err.msg);
    cr_assert(h.major == 2 && h.numel == 0 && h.ndim == 2 && h.shape[1] == 3);
    free(v);
}

/* each bad file: EM_ERR_FORMAT, the source named, the problem in the message, no values */
static void refused(const unsigned char *b, size_t n, const char *want) {
    em_npy_header h;
    double *v = (double *)1;
    em_error err = {0};
    cr_assert_eq(em_npy_parse(b, n, "bad.npy", &h, &v, &err), EM_ERR_FORMAT, "accepted: want '%s'", want);
    cr_assert_null(v);
    cr_assert(strstr(err.msg, "bad.npy") && strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
}

Test(npy_read, bad_files_are_format_errors_naming_the_file) {
    unsigned char b[512];
    float f[2] = {1, 2};
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    size_t n = npy_bytes(b, sizeof b, ok, f, sizeof f);
    refused(b, 6, "preamble");
    unsigned char c[512];
    memcpy(c, b, n);
    c[0] = 'X';
    refused(c, n, "magic");
    memcpy(c, b, n);
    c[6] = 4;
    refused(c, n, "version 4");
    memcpy(c, b, n);
    c[9] = 0x7f;                                  /* a header longer than the file */
    refused(c, n, "truncated");
    refused(b, n - 1, "truncated");                /* the data one byte short */
    memcpy(c, b, n);
    c[n] = 0;
    refused(c, n + 1, "unexpected bytes");
    struct { const char *dict, *want; } cases[] = {
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "big-endian"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", "'<c8'"},
        {"{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", "'<U3'"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured"},
        {"{'descr': '<f4', 'fortran_order': False}", "missing"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", "other than"},
        {"{'descr': '<f4', 'descr': '<f4', 'shape': (2,), }", "twice"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", "whole number"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", "tuple"},
        {"['descr', '<f4']", "'{'"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", "expected"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", "after the dictionary"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }",
         "truncated"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", "too large"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        n = npy_bytes(c, sizeof c, cases[i].dict, f, sizeof f);
        refused(c, n, cases[i].want);
    }
    n = npy_bytes(c, sizeof c, ok, f, sizeof f);
    c[20] = '\0';                                  /* a NUL inside the header */
    refused(c, n, "NUL");
    em_npy_header h;
    double *v;
    em_error err;
    cr_assert_eq(em_npy_load("/nonexistent/x.npy", &h, &v, &err), EM_ERR_IO);
    cr_assert(strstr(err.msg, "/nonexistent/x.npy"), "%s", err.msg);
}

/* tests/test_npy.c — .npy export: the bytes of the format checked here, and numpy.load
 * itself when Debian's python3-numpy is installed (a visible SKIPPED line otherwise). */
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

/* io/npy.c — .npy v1.0 writer (format in npy.h). */
#include "npy.h"

#include <stdio.h>
#include <string.h>

#include "../core/wfile.h"

em_code em_npy_save(const char *path, const em_tensor *t, em_error *err) {
    return em_npy_save_data(path, t->ndim, t->shape, t->data, err);
}

/* "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + spaces + "\n" such that
 * 10 + len is a multiple of 64; returns len, or 0 if buf is too small */
static size_t npy_header(char *buf, size_t cap, int ndim, const int *shape) {
    int k = snprintf(buf, cap, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int d = 0; d < ndim && k > 0 && (size_t)k < cap; d++)
        k += snprintf(buf + k, cap - (size_t)k, d ? ", %d" : "%d", shape[d]);
    if (ndim == 1 && k > 0 && (size_t)k < cap) k += snprintf(buf + k, cap - (size_t)k, ",");
    if (k > 0 && (size_t)k < cap) k += snprintf(buf + k, cap - (size_t)k, "), }");
    if (k <= 0 || (size_t)k >= cap) return 0;
    size_t len = (size_t)k + 1;                       /* + the final '\n' */
    size_t total = (10 + len + 63) / 64 * 64;
    len = total - 10;
    if (len > cap) return 0;
    memset(buf + k, ' ', len - 1 - (size_t)k);
    buf[len - 1] = '\n';
    return len;
}

em_code em_npy_save_data(const char *path, int ndim, const int *shape, const em_real *data,
                         em_error *err) {
    EM_ASSERT(ndim >= 0 && ndim <= EM_MAX_DIMS && (ndim == 0 || shape));
    char header[512];
    size_t hlen = npy_header(header, sizeof header, ndim, shape);
    EM_ASSERT(hlen > 0 && hlen <= 0xffff);
    size_t n = em_shape_size(ndim, shape);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    em_wfile w;
    em_code code = em_wfile_open(&w, path, 0, err);
    if (!code) code = em_wfile_write(&w, pre, sizeof pre, err);
    if (!code) code = em_wfile_write(&w, header, hlen, err);
    float chunk[1024];                                /* em_real -> float32, little-endian */
    for (size_t i = 0; i < n && !code; i += 1024) {
        size_t m = n - i < 1024 ? n - i : 1024;
        for (size_t j = 0; j < m; j++) chunk[j] = (float)data[i + j];
        code = em_wfile_write(&w, chunk, m * sizeof(float), err);
    }
    if (!code) code = em_wfile_commit(&w, err);
    return code;
}

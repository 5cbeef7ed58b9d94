/* tests/fuzz/fuzz_npy.c — libFuzzer harness for the .npy reader (io/npy_read.c): preamble,
 * header dictionary, dtype, shape against the data's length.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_POSIX_C_SOURCE=200809L -I. \
 *       tests/fuzz/fuzz_npy.c io/npy_read.c core/errors.c -lm -o fuzz_npy
 *   ./fuzz_npy -max_total_time=60 tests/fuzz/corpus/npy
 *
 * Seeds (tests/fuzz/corpus/npy/, written by make_corpus.py): files of every dtype kind,
 * version 2, a scalar, an empty array, Fortran order, and a few broken ones.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"

int em_fuzz_npy(const uint8_t *data, size_t size) {
    em_npy_header h;
    double *v;
    em_error err;
    if (em_npy_parse(data, size, "fuzz", &h, &v, &err) != EM_OK) {
        EM_ASSERT(err.code == EM_ERR_FORMAT || err.code == EM_ERR_NOMEM);
        EM_ASSERT(v == NULL && memchr(err.msg, 0, sizeof err.msg) != NULL);
        return 0;
    }
    /* a valid file: the values fill the data section exactly, the shape multiplies out */
    EM_ASSERT(h.offset <= size && h.numel * h.itemsize == size - h.offset);
    EM_ASSERT(h.ndim >= 0 && h.ndim <= EM_NPY_MAX_DIMS);
    size_t n = 1;
    for (int d = 0; d < h.ndim; d++) n *= (size_t)h.shape[d];
    EM_ASSERT(n == h.numel);
    EM_ASSERT(strchr("fiub", h.kind) && h.kind != '\0');
    volatile double sink = 0;
    for (size_t i = 0; i < h.numel; i++) sink += isnan(v[i]) ? 0 : 1;
    (void)sink;
    free(v);
    return 0;
}

#ifndef EM_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return em_fuzz_npy(data, size);
}
#endif

/* tests/fuzz/fuzz_idx.c — libFuzzer harness for the idx (MNIST) reader.
 *
 * Input layout: byte 0 = mode, bytes 1..4 = split point s (little-endian, taken modulo the
 * rest's length + 1), then the rest: images = rest[0, s), labels = rest[s, end).
 *   mode bit 0: 0 = read from memory (em_idx_load_mem); 1 = write both parts to files and
 *               read them with em_idx_load (gzopen: plain or gzip, whatever the bytes are)
 *   mode bits 1-2: n_classes 10, 0 (inferred), 47, 1
 * Whatever the input, the reader must return a code, never crash, leak or read out of
 * bounds; on success the dataset must be consistent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_files.h"

#include "data/mnist.h"

static char idx_dir[64];  /* made on first use, removed by the replay test */

static void check(const em_dataset *ds, int n_classes) {
    if (ds->c != 1 || ds->h <= 0 || ds->w <= 0 || !ds->pixels || !ds->labels) abort();
    if (n_classes > 0 && ds->n_classes != n_classes) abort();
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->labels[i] >= ds->n_classes) abort();
        sink ^= ds->pixels[i * (size_t)ds->h * (size_t)ds->w];  /* touch every image */
    }
    for (int k = 0; k < ds->n_classes; k++)
        if (!ds->class_names[k]) abort();
}

int em_fuzz_idx(const uint8_t *data, size_t size) {
    if (size < 5) return 0;
    static const int classes[4] = {10, 0, 47, 1};
    uint8_t mode = data[0];
    uint32_t s = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
                 (uint32_t)data[4] << 24;
    const uint8_t *rest = data + 5;
    size_t len = size - 5, split = s % (len + 1);
    int n_classes = classes[(mode >> 1) & 3];
    em_dataset ds;
    em_error err;
    em_code c;
    if (mode & 1) {
        if (!idx_dir[0]) {
            if (!em_test_mkdtemp_shm(idx_dir, sizeof idx_dir, "fuzz-idx")) abort();
        }
        char pi[128], pl[128];
        snprintf(pi, sizeof pi, "%s/images", idx_dir);
        snprintf(pl, sizeof pl, "%s/labels", idx_dir);
        fuzz_write_file(pi, rest, split);
        fuzz_write_file(pl, rest + split, len - split);
        c = em_idx_load(&ds, pi, pl, n_classes, "fuzz", &err);
    } else {
        c = em_idx_load_mem(&ds, rest, split, rest + split, len - split, n_classes, &err);
    }
    if (c == EM_OK) {
        check(&ds, n_classes);
    } else {
        if (ds.pixels || ds.labels || err.code != c || !err.msg[0]) abort();
    }
    em_dataset_free(&ds);
    return 0;
}

#ifndef EM_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return em_fuzz_idx(data, size); }
#endif

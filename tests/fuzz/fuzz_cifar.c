/* tests/fuzz/fuzz_cifar.c — libFuzzer harness for the CIFAR-10/100 binary reader.
 *
 * Input layout: byte 0 = mode, bytes 1..2 = split point s (little-endian, modulo the
 * rest's length + 1), then the rest.
 *   mode bit 0: 0 = memory (em_cifar_load_mem on the whole rest) with
 *               bit 1: 1 or 2 label bytes, bit 2: which label byte, bits 3-4: 10/20/100/1
 *               classes;
 *               1 = a CIFAR-10 directory: rest[0, s) is test_batch.bin, rest[s, end) is
 *               batches.meta.txt (em_cifar10_load, test split)
 * The reader must return a code, never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_files.h"

#include "data/cifar10.h"

static char cifar_dir[64];  /* made on first use, removed by the replay test */

int em_fuzz_cifar(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    static const int classes[4] = {10, 20, 100, 1};
    uint8_t mode = data[0];
    size_t len = size - 3, split = ((size_t)data[1] | (size_t)data[2] << 8) % (len + 1);
    const uint8_t *rest = data + 3;
    em_dataset ds;
    em_error err;
    em_code c;
    int n_classes;
    if (mode & 1) {
        if (!cifar_dir[0]) {
            if (!em_test_mkdtemp_shm(cifar_dir, sizeof cifar_dir, "fuzz-cifar")) abort();
        }
        char p[128];
        snprintf(p, sizeof p, "%s/test_batch.bin", cifar_dir);
        fuzz_write_file(p, rest, split);
        snprintf(p, sizeof p, "%s/batches.meta.txt", cifar_dir);
        fuzz_write_file(p, rest + split, len - split);
        n_classes = 10;
        c = em_cifar10_load(&ds, cifar_dir, EM_SPLIT_TEST, &err);
    } else {
        int label_bytes = 1 + ((mode >> 1) & 1), index = (mode >> 2) & (label_bytes - 1);
        n_classes = classes[(mode >> 3) & 3];
        c = em_cifar_load_mem(&ds, rest, len, label_bytes, index, n_classes, &err);
    }
    if (c == EM_OK) {
        if (ds.c != 3 || ds.h != 32 || ds.w != 32 || ds.n == 0 || ds.n_classes != n_classes)
            abort();
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < ds.n; i++) {
            if (ds.labels[i] >= n_classes) abort();
            sink ^= ds.pixels[i * 3072 + 3071];
        }
        for (int k = 0; k < n_classes; k++)
            if (!ds.class_names[k] || !ds.class_names[k][0]) abort();
    } else if (ds.pixels || err.code != c || !err.msg[0]) {
        abort();
    }
    em_dataset_free(&ds);
    return 0;
}

#ifndef EM_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return em_fuzz_cifar(data, size); }
#endif

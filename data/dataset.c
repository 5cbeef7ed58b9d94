/* data/dataset.c — the in-memory dataset, its statistics, class tables, default paths. */
#include "dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const em_mnist_class_names[10] = {"0", "1", "2", "3", "4",
                                              "5", "6", "7", "8", "9"};
/* zalandoresearch/fashion-mnist README, in label order */
const char *const em_fashion_mnist_class_names[10] = {
    "t-shirt/top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot"};
/* batches.meta.txt of the CIFAR-10 binary version, in label order */
const char *const em_cifar10_class_names[10] = {
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck"};

void em_dataset_free(em_dataset *ds) {
    if (!ds) return;
    free(ds->pixels);
    free(ds->labels);
    free(ds->class_names);
    free(ds->names_storage);
    free(ds->files);
    memset(ds, 0, sizeof *ds);
}

em_code em_dataset_add_file(em_dataset *ds, const char *path, em_error *err) {
    size_t old = ds->files ? strlen(ds->files) : 0, len = strlen(path);
    char *files = realloc(ds->files, old + len + 2);
    if (!files) return em_error_set(err, EM_ERR_NOMEM, "out of memory naming %s", path);
    memcpy(files + old, path, len);
    memcpy(files + old + len, "\n", 2);
    ds->files = files;
    return EM_OK;
}

/* 64-bit words mixed in four independent lanes (one multiply-add chain would take 4 times
 * as long over Fashion-MNIST's 55 MB), the tail and the lanes folded at the end */
static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v;
    h *= 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 29);
}

static uint64_t hash_bytes(uint64_t seed, const uint8_t *p, size_t n) {
    uint64_t lane[4] = {seed, seed ^ 1, seed ^ 2, seed ^ 3};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            uint64_t v;
            memcpy(&v, p + i + 8 * k, 8);
            lane[k] = mix(lane[k], v);
        }
    uint64_t h = mix(mix(mix(mix(n, lane[0]), lane[1]), lane[2]), lane[3]);
    for (; i < n; i++) h = mix(h, p[i]);
    return h;
}

uint64_t em_dataset_hash(const em_dataset *ds) {
    uint64_t shape[5] = {ds->n, (uint64_t)ds->c, (uint64_t)ds->h, (uint64_t)ds->w,
                         (uint64_t)ds->n_classes};
    uint64_t h = hash_bytes(0x656d626572ULL, (const uint8_t *)shape, sizeof shape);
    h = hash_bytes(h, ds->pixels, ds->n * em_dataset_example_size(ds));
    return hash_bytes(h, ds->labels, ds->n);
}

em_code em_dataset_alloc(em_dataset *ds, const char *name, size_t n, int c, int h, int w,
                         em_error *err) {
    memset(ds, 0, sizeof *ds);
    if (c <= 0 || c > EM_DATA_MAX_CHANNELS || h <= 0 || w <= 0 || h > 65536 || w > 65536)
        return em_error_set(err, EM_ERR_FORMAT, "%s: bad image shape (%d, %d, %d)", name, c, h,
                            w);
    size_t per = (size_t)c * (size_t)h * (size_t)w;
    if (n > SIZE_MAX / per)
        return em_error_set(err, EM_ERR_FORMAT, "%s: %zu examples of %zu bytes overflow", name,
                            n, per);
    /* malloc(0) may return NULL: allocate at least one byte so an empty set is valid */
    ds->pixels = malloc(n * per != 0 ? n * per : 1);
    ds->labels = malloc(n != 0 ? n : 1);
    if (!ds->pixels || !ds->labels) {
        em_dataset_free(ds);
        return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory for %zu examples (%zu bytes)",
                            name, n, n * per);
    }
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    return EM_OK;
}

em_code em_dataset_static_names(em_dataset *ds, const char *const *names, int n,
                                em_error *err) {
    free(ds->class_names);
    ds->class_names = malloc((size_t)n * sizeof *ds->class_names);
    if (!ds->class_names) return em_error_set(err, EM_ERR_NOMEM, "out of memory for class names");
    for (int k = 0; k < n; k++) ds->class_names[k] = names[k];
    ds->n_classes = n;
    return EM_OK;
}

em_code em_dataset_copy_names(em_dataset *ds, const char *const *names, int n, em_error *err) {
    size_t total = 0;
    for (int k = 0; k < n; k++) total += strlen(names[k]) + 1;
    free(ds->names_storage);
    ds->names_storage = malloc(total ? total : 1);
    if (!ds->names_storage) return em_error_set(err, EM_ERR_NOMEM, "out of memory for class names");
    if (em_dataset_static_names(ds, names, n, err) != EM_OK) return err ? err->code : EM_ERR_NOMEM;
    char *p = ds->names_storage;
    for (int k = 0; k < n; k++) {
        size_t len = strlen(names[k]) + 1;
        memcpy(p, names[k], len);
        ds->class_names[k] = p;
        p += len;
    }
    return EM_OK;
}

em_code em_dataset_number_names(em_dataset *ds, int n, em_error *err) {
    char buf[EM_DATA_MAX_CLASSES][12];
    const char *names[EM_DATA_MAX_CLASSES];
    if (n <= 0 || n > EM_DATA_MAX_CLASSES)
        return em_error_set(err, EM_ERR_ARG, "bad number of classes %d", n);
    for (int k = 0; k < n; k++) {
        snprintf(buf[k], sizeof buf[k], "%d", k);
        names[k] = buf[k];
    }
    return em_dataset_copy_names(ds, names, n, err);
}

void em_dataset_channel_stats(const em_dataset *ds, size_t n, double *mean, double *std) {
    if (n == 0 || n > ds->n) n = ds->n;
    size_t hw = (size_t)ds->h * (size_t)ds->w, per = em_dataset_example_size(ds);
    for (int c = 0; c < ds->c; c++) {
        /* integer sums are exact: 255^2 * 2^40 pixels still fits in 64 bits */
        uint64_t s = 0, s2 = 0;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = ds->pixels + i * per + (size_t)c * hw;
            uint32_t a = 0, a2 = 0;  /* per image: 255^2 * 65536^2 would not fit; chunk */
            for (size_t k = 0; k < hw; k++) {
                a += p[k];
                a2 += (uint32_t)p[k] * p[k];
                if ((k & 0xfff) == 0xfff) {  /* 4096 * 255^2 < 2^32 */
                    s += a;
                    s2 += a2;
                    a = a2 = 0;
                }
            }
            s += a;
            s2 += a2;
        }
        double m = (double)n * (double)hw;
        double mu = m > 0 ? (double)s / m / 255.0 : 0.0;
        double ex2 = m > 0 ? (double)s2 / m / (255.0 * 255.0) : 0.0;
        mean[c] = mu;
        std[c] = sqrt(fmax(ex2 - mu * mu, 0.0));
    }
}

void em_dataset_histogram(const em_dataset *ds, size_t *hist) {
    for (int k = 0; k < ds->n_classes; k++) hist[k] = 0;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->labels[i] < ds->n_classes) hist[ds->labels[i]]++;
}

static const char *env_or(const char *var, const char *fallback) {
    const char *v = getenv(var);
    return v && *v ? v : fallback;
}

const char *em_mnist_default_dir(void) {
    return env_or("EMBER_MNIST_DIR", "/usr/share/datasets/fashion-mnist");
}

const char *em_cifar_default_dir(void) {
    return env_or("EMBER_CIFAR_DIR", "datasets/cifar-10-batches-bin");
}

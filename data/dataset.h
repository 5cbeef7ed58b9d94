/** data/dataset.h — a labelled image dataset held in memory as raw bytes.
 *
 *     em_dataset train;
 *     em_error err;
 *     if (em_mnist_load(&train, em_mnist_default_dir(), EM_SPLIT_TRAIN, &err) != EM_OK) {
 *         fprintf(stderr, "%s\n", err.msg);   // names the file, the problem, and a fix
 *         return 2;
 *     }
 *     // train.n == 60000, (c, h, w) == (1, 28, 28), train.class_names[9] == "ankle boot"
 *     double mean[EM_DATA_MAX_CHANNELS], std[EM_DATA_MAX_CHANNELS];
 *     em_dataset_channel_stats(&train, 0, mean, std);     // mean[0] = 0.2860...
 *     em_dataset_free(&train);
 *
 * Pixels stay uint8 (what the files hold; 4x smaller than floats): example i is the c*h*w
 * bytes at pixels + i*c*h*w, channel-planar (all of channel 0, then channel 1, ...), so
 * a batch of them is NCHW after conversion. The loader (data/loader.h) converts to em_real,
 * normalizes and augments, one batch at a time.
 *
 * Ownership: a loader fills an em_dataset it is handed; em_dataset_free releases what it
 * allocated and zeroes the struct. A failed load leaves the struct zeroed (free is a no-op).
 *
 * @file
 */
#ifndef EM_DATASET_H
#define EM_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "../core/errors.h"

/** The most channels an example can have (mean and std arrays have this many). */
#define EM_DATA_MAX_CHANNELS 4
#define EM_DATA_MAX_CLASSES 256   /**< labels are uint8 */

/** Which part of a dataset. */
typedef enum em_split {
    EM_SPLIT_TRAIN,  /**< the training set */
    EM_SPLIT_TEST    /**< the test set     */
} em_split;

/** A labelled image dataset in memory. */
typedef struct em_dataset {
    char name[64];              /**< "fashion-mnist", "cifar-10", "shapes", the folder name */
    size_t n;                   /**< number of examples                                  */
    int c, h, w;                /**< channels, height, width of every example            */
    uint8_t *pixels;            /**< (n, c, h, w), 0..255                                 */
    uint8_t *labels;            /**< (n), each < n_classes                                */
    int n_classes;              /**< number of classes                                    */
    const char **class_names;   /**< n_classes names (owned array; strings static or below) */
    char *names_storage;        /**< backing store of names that are not static tables    */
    char *files;                /**< the files it was read from, one path a line (NULL:
                                     generated, or read from memory)                       */
} em_dataset;
/** @var em_dataset::c
 * the number of channels of every example (1: grey, 3: RGB)
 * @var em_dataset::h
 * the height of every example, in pixels */

/** Release what a loader allocated and zero the struct (a zeroed struct: nothing to do).
 * @param ds  the dataset */
void em_dataset_free(em_dataset *ds);

/** Bytes of one example: c * h * w.
 * @param ds  the dataset
 * @return c * h * w */
static inline size_t em_dataset_example_size(const em_dataset *ds) {
    return (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
}

/** Per-channel mean and (population) standard deviation of pixel / 255 over the first n
 * examples (0: all), in double, the numbers transforms.Normalize(mean, std) wants:
 *
 *     mean_c = sum x / M,   std_c = sqrt(sum x^2 / M - mean_c^2),   M = n * h * w.
 *
 * Compute them on the training set and use them for every split.
 * @param ds    the dataset
 * @param n     how many examples from the start (0: all)
 * @param mean  receives ds->c means
 * @param std   receives ds->c standard deviations */
void em_dataset_channel_stats(const em_dataset *ds, size_t n, double *mean, double *std);

/** A 64-bit hash of the dataset's content: its shape, count, classes, every pixel and
 * every label. Two datasets with the same content have the same hash wherever they were
 * read from (raw or .gz, any directory); a changed pixel or label changes it. It tells
 * data apart (a resumed run checks it is given the data it was trained on, data-parallel
 * processes that they read the same data); it is not a cryptographic hash.
 * @param ds  the dataset
 * @return the hash */
uint64_t em_dataset_hash(const em_dataset *ds);

/** Count examples per class: hist[k] for k < ds->n_classes.
 * @param ds    the dataset
 * @param hist  receives ds->n_classes counts */
void em_dataset_histogram(const em_dataset *ds, size_t *hist);

/** Default directories: the environment variable when set and not empty, else the default.
 *
 *     MNIST-format: $EMBER_MNIST_DIR, else /usr/share/datasets/fashion-mnist (Debian's
 *                   dataset-fashion-mnist package).
 *     CIFAR-10:     $EMBER_CIFAR_DIR, else datasets/cifar-10-batches-bin (relative to the
 *                   working directory; where tools/fetch-cifar10.sh unpacks by default).
 *
 * @return the MNIST-format directory */
const char *em_mnist_default_dir(void);
/** The CIFAR-10 directory: $EMBER_CIFAR_DIR, else datasets/cifar-10-batches-bin (see
 * em_mnist_default_dir()).
 * @return the directory */
const char *em_cifar_default_dir(void);

/** Class name tables: the digits "0" to "9". */
extern const char *const em_mnist_class_names[10];
/** Fashion-MNIST's classes: "t-shirt/top", ..., "ankle boot". */
extern const char *const em_fashion_mnist_class_names[10];
/** CIFAR-10's classes: "airplane", ..., "truck". */
extern const char *const em_cifar10_class_names[10];

/* ---- for the loaders in data/ -------------------------------------------------------- */
/** Allocate pixels and labels for n examples of (c, h, w) and name the set. On failure
 * (EM_ERR_NOMEM, or EM_ERR_FORMAT for a shape that would overflow) ds is zeroed.
 * @param ds    the dataset to fill
 * @param name  its name (cut to fit)
 * @param n     examples
 * @param c     channels
 * @param h     height
 * @param w     width
 * @param err   filled on failure
 * @return EM_OK, EM_ERR_NOMEM or EM_ERR_FORMAT */
em_code em_dataset_alloc(em_dataset *ds, const char *name, size_t n, int c, int h, int w,
                         em_error *err);
/** Point class_names at a static table of n entries.
 * @param ds     the dataset
 * @param names  n strings that outlive the dataset
 * @param n      number of classes (sets n_classes)
 * @param err    filled on failure
 * @return EM_OK or EM_ERR_NOMEM */
em_code em_dataset_static_names(em_dataset *ds, const char *const *names, int n,
                                em_error *err);
/** Copy n names (each NUL-terminated) into storage owned by the dataset.
 * @param ds     the dataset
 * @param names  n strings, copied
 * @param n      number of classes (sets n_classes)
 * @param err    filled on failure
 * @return EM_OK or EM_ERR_NOMEM */
em_code em_dataset_copy_names(em_dataset *ds, const char *const *names, int n, em_error *err);
/** Add path to ds->files (the loaders call it for every file they read).
 * @param ds    the dataset
 * @param path  a file it was read from
 * @param err   filled on failure
 * @return EM_OK or EM_ERR_NOMEM */
em_code em_dataset_add_file(em_dataset *ds, const char *path, em_error *err);
/** Names "0", "1", ..., "n-1" (sets whose classes are only numbers).
 * @param ds   the dataset
 * @param n    number of classes, 1..EM_DATA_MAX_CLASSES
 * @param err  filled on failure
 * @return EM_OK, EM_ERR_ARG (n out of range) or EM_ERR_NOMEM */
em_code em_dataset_number_names(em_dataset *ds, int n, em_error *err);

/** SplitMix64's finalizer: a bijective 64-bit mix. Seeds for per-epoch and per-example
 * generators are made as em_mix64(seed ^ em_mix64(tag)), so nearby integers give
 * unrelated streams.
 * @param x  any value
 * @return the mixed value */
static inline uint64_t em_mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

#endif

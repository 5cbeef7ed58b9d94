/** data/mnist.h — the idx format of MNIST, Fashion-MNIST, KMNIST and EMNIST, raw or gzip.
 *
 *     em_dataset train, test;
 *     em_error err;
 *     const char *dir = em_mnist_default_dir();   // $EMBER_MNIST_DIR or Debian's Fashion-MNIST
 *     if (em_mnist_load(&train, dir, EM_SPLIT_TRAIN, &err) != EM_OK ||
 *         em_mnist_load(&test, dir, EM_SPLIT_TEST, &err) != EM_OK) {
 *         fprintf(stderr, "%s\n", err.msg);
 *         return 2;
 *     }
 *     // train: 60000 x (1, 28, 28), labels 0..9; test: 10000
 *
 * The format (big-endian 32-bit integers):
 *   images: magic 0x00000803 (2051: unsigned bytes, 3 dims), n, rows, cols, n*rows*cols bytes
 *   labels: magic 0x00000801 (2049: unsigned bytes, 1 dim),  n, n bytes
 * Both files must hold the same n, labels must be < n_classes, and nothing may follow the
 * data. Each file is read as `<name>` or, when that does not exist, `<name>.gz`.
 *
 * @file
 */
#ifndef EM_MNIST_H
#define EM_MNIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"

#define EM_IDX_IMAGES_MAGIC 0x00000803u  /**< first 4 bytes of an idx image file  */
#define EM_IDX_LABELS_MAGIC 0x00000801u  /**< first 4 bytes of an idx label file  */

/** dir holds {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (also the "images.idx3"
 * spelling). A directory name containing "fashion" gets Fashion-MNIST's class names and
 * the name "fashion-mnist"; any other gets "mnist" and the digits. Labels must be < 10.
 * A missing directory or file is EM_ERR_IO with a hint where the data comes from.
 * @param ds     filled on success, zeroed on failure
 * @param dir    the directory (em_mnist_default_dir() for the default)
 * @param split  EM_SPLIT_TRAIN (60000 images) or EM_SPLIT_TEST (10000)
 * @param err    filled on failure: names the file, the problem and a fix
 * @return EM_OK; EM_ERR_IO (missing or unreadable); EM_ERR_FORMAT (bad magic, counts
 *         that disagree, a label out of range, truncated data or gzip stream, bytes after
 *         the data); EM_ERR_NOMEM */
em_code em_mnist_load(em_dataset *ds, const char *dir, em_split split, em_error *err);

/** Any pair of idx files (raw or gzip by content). n_classes: labels must be below it;
 * 0 infers max label + 1 (EMNIST-style sets). Class names are "0", "1", ...
 * @param ds           filled on success, zeroed on failure
 * @param images_path  the idx3 image file
 * @param labels_path  the idx1 label file
 * @param n_classes    the number of classes, or 0 to infer it
 * @param name         the dataset's name
 * @param err          filled on failure
 * @return as em_mnist_load() */
em_code em_idx_load(em_dataset *ds, const char *images_path, const char *labels_path,
                    int n_classes, const char *name, em_error *err);

/** The same from memory (tests and the fuzzer); the buffers are not gzip-decoded.
 * @param ds          filled on success, zeroed on failure
 * @param images      the bytes of an idx3 image file
 * @param images_len  their count
 * @param labels      the bytes of an idx1 label file
 * @param labels_len  their count
 * @param n_classes   the number of classes, or 0 to infer it
 * @param err         filled on failure
 * @return EM_OK, EM_ERR_FORMAT or EM_ERR_NOMEM */
em_code em_idx_load_mem(em_dataset *ds, const void *images, size_t images_len,
                        const void *labels, size_t labels_len, int n_classes, em_error *err);

/** One idx file on its own: images or labels, told apart by the magic number. */
typedef struct em_idx_file {
    bool images;        /**< an image file (magic 0x803); else a label file (0x801)   */
    size_t n;           /**< items in the file                                      */
    int rows, cols;     /**< image width (1 for a label file)                         */
    uint8_t *data;      /**< n * rows * cols bytes (free with em_idx_file_free())    */
} em_idx_file;
/** @var em_idx_file::rows
 * image height (1 for a label file) */

/** Read one idx file, raw or gzip, checked as em_idx_load() checks each of its pair: the
 * magic, the header's sizes, every byte of the data, nothing after it (labels are not
 * checked against a class count: a file alone does not say it).
 * @param f     filled on success, zeroed on failure
 * @param path  the file
 * @param err   filled on failure, naming the file
 * @return EM_OK, EM_ERR_IO (missing or unreadable), EM_ERR_FORMAT (a magic that is neither
 *         images nor labels, a bad size, truncated data or gzip stream, bytes after the
 *         data) or EM_ERR_NOMEM */
em_code em_idx_read(em_idx_file *f, const char *path, em_error *err);
/** Free what em_idx_read() allocated and zero f.
 * @param f  the file's contents */
void em_idx_file_free(em_idx_file *f);

#endif

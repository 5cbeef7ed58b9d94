/** data/cifar10.h — the binary versions of CIFAR-10 and CIFAR-100.
 *
 *     em_dataset train;
 *     em_error err;
 *     if (em_cifar10_load(&train, em_cifar_default_dir(), EM_SPLIT_TRAIN, &err) != EM_OK) {
 *         fprintf(stderr, "%s\n", err.msg);  // e.g. "...: no such directory ...; hint: ..."
 *         return 2;
 *     }
 *     // train: 50000 x (3, 32, 32), class_names[0] == "airplane"
 *
 * The format: a file is a sequence of records, no header. A CIFAR-10 record is 1 label
 * byte (0..9) and 3072 pixel bytes: the 1024 red values of the 32x32 image row by row,
 * then 1024 green, then 1024 blue — already the (C, H, W) layout of em_dataset. A
 * CIFAR-100 record has 2 label bytes (coarse 0..19, fine 0..99) before the pixels. The
 * size of a file must be a whole number of records.
 *
 *   CIFAR-10:  data_batch_1.bin .. data_batch_5.bin (train), test_batch.bin (test),
 *              batches.meta.txt (class names, one a line; optional)
 *   CIFAR-100: train.bin, test.bin, fine_label_names.txt / coarse_label_names.txt (optional)
 *
 * @file
 */
#ifndef EM_CIFAR10_H
#define EM_CIFAR10_H

#include <stdbool.h>
#include <stddef.h>

#include "dataset.h"

#define EM_CIFAR_PIXELS 3072   /**< 3 x 32 x 32 */

/** CIFAR-10 from dir: the five training files or the test file.
 * @param ds     filled on success, zeroed on failure
 * @param dir    the directory (em_cifar_default_dir() for the default)
 * @param split  EM_SPLIT_TRAIN (50000 images) or EM_SPLIT_TEST (10000)
 * @param err    filled on failure: names the file, the problem and a fix
 * @return EM_OK; EM_ERR_IO (missing or unreadable file, with a hint to
 *         tools/fetch-cifar10.sh); EM_ERR_FORMAT (an empty file, a size that is not a
 *         whole number of records, a label out of range, a batches.meta.txt without 10
 *         names); EM_ERR_ARG (a path too long); EM_ERR_NOMEM */
em_code em_cifar10_load(em_dataset *ds, const char *dir, em_split split, em_error *err);
/** CIFAR-100 from dir. coarse: the 20 superclass labels instead of the 100 fine ones
 * @param ds      filled on success, zeroed on failure
 * @param dir     the directory of train.bin and test.bin
 * @param split   which file
 * @param coarse  true: superclass labels
 * @param err     filled on failure
 * @return as em_cifar10_load() */
em_code em_cifar100_load(em_dataset *ds, const char *dir, em_split split, bool coarse,
                         em_error *err);

/** One CIFAR binary file on its own (a batch file, a make-shapes file): records of
 * label_bytes label bytes and 3072 pixel bytes, checked as the directory loaders check
 * them. The class names come from the names file beside it when there is one
 * (batches.meta.txt for 1 label byte, coarse_label_names.txt or fine_label_names.txt for
 * CIFAR-100's 2), else CIFAR-10's names (1 label byte, 10 classes) or "0", "1", ...
 * @param ds           filled on success (named after the file), zeroed on failure
 * @param path         the file
 * @param label_bytes  label bytes per record (1: CIFAR-10, 2: CIFAR-100)
 * @param label_index  which of them is the label (CIFAR-100: 0 coarse, 1 fine)
 * @param n_classes    labels must be below it (1..256)
 * @param err          filled on failure, naming the file
 * @return EM_OK; EM_ERR_IO (missing or unreadable); EM_ERR_FORMAT (an empty file, a size
 *         that is not a whole number of records, a label out of range, a names file with
 *         another number of names); EM_ERR_NOMEM */
em_code em_cifar_load_file(em_dataset *ds, const char *path, int label_bytes, int label_index,
                           int n_classes, em_error *err);

/** One file in memory (tests and the fuzzer): records of label_bytes label bytes and 3072
 * pixel bytes; the label is byte label_index of each record and must be < n_classes.
 * @param ds           filled on success, zeroed on failure
 * @param buf          the file's bytes
 * @param len          their count (a whole number of records)
 * @param label_bytes  label bytes per record (1: CIFAR-10, 2: CIFAR-100)
 * @param label_index  which of them is the label
 * @param n_classes    labels must be below it
 * @param err          filled on failure
 * @return EM_OK, EM_ERR_FORMAT or EM_ERR_NOMEM */
em_code em_cifar_load_mem(em_dataset *ds, const void *buf, size_t len, int label_bytes,
                          int label_index, int n_classes, em_error *err);

/** Write examples [first, first + count) of a (3, 32, 32) dataset as CIFAR-10 records, to
 * path + ".tmp" and then renamed to path, so a crash never leaves a half-written file.
 * @param ds     a dataset of (3, 32, 32) images
 * @param first  the first example
 * @param count  how many
 * @param path   the file to write
 * @param err    filled on failure
 * @return EM_OK, EM_ERR_ARG (not (3, 32, 32) images, a range outside the dataset, a
 *         path too long), EM_ERR_IO */
em_code em_cifar10_write(const em_dataset *ds, size_t first, size_t count, const char *path,
                         em_error *err);
/** Write the class names, one a line, the way batches.meta.txt holds them (same renaming).
 * @param ds    the dataset whose class names to write
 * @param path  the file to write
 * @param err   filled on failure
 * @return EM_OK, EM_ERR_ARG (a path too long) or EM_ERR_IO */
em_code em_cifar10_write_meta(const em_dataset *ds, const char *path, em_error *err);

#endif

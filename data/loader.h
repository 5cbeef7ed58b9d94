/** data/loader.h — batches of (N, C, H, W) em_real tensors from an em_dataset: seeded
 * shuffle, normalization, augmentation, background prefetch.
 *
 *     em_loader_opts o = em_loader_defaults();             // batch 64, shuffle, seed 0
 *     o.batch = 128;
 *     o.seed = 42;
 *     o.augment = true;                                    // crop (pad 4) + flip
 *     o.normalize = true;
 *     em_dataset_channel_stats(&train, 0, o.mean, o.std); // from the training set
 *     em_loader *l = em_loader_new(&train, &o, &err);
 *     em_tensor *x = em_loader_batch_tensor(l);            // (128, 3, 32, 32)
 *     int labels[128], n;
 *     for (int epoch = 0; epoch < 10; epoch++) {
 *         em_loader_begin_epoch(l, epoch);
 *         while (em_loader_next(l, x, labels, &n)) { ...forward x (n rows), backward... }
 *     }
 *     em_tensor_free(x);
 *     em_loader_free(l);
 *
 * Determinism. Everything random is a pure function of (seed, epoch, position):
 *   order of epoch e:       Fisher-Yates permutation from em_rng seeded by (seed, e)
 *   augmentation of the example at position p of epoch e: its own em_rng seeded by
 *                           (seed, e, p) — crop offset (i, j) in [0, 2 pad]^2, then flip
 * so batch b of epoch e is the same whether it was prefetched, reached by
 * em_loader_seek(l, e, b) after a restart, or reached by replaying the epoch.
 *
 * Per pixel, channel c:  x = (v / 255 - mean[c]) / std[c]   (normalize; else v / 255),
 * by a 256-entry table per channel. Augmentation follows torchvision's
 * RandomCrop(size, padding=pad) then RandomHorizontalFlip() on the uint8 image: the
 * padding is pixel value 0, i.e. -mean[c] / std[c] after normalization.
 *
 * Memory: the loader allocates its permutation, tables and (with prefetch) one batch
 * buffer at creation; em_loader_next allocates nothing.
 *
 * Prefetch: a background thread fills the next batch into the loader's buffer while the
 * caller trains on the current one; em_loader_next copies it into x. The loader itself is
 * used from one thread. The dataset must outlive the loader and not change under it.
 *
 * @file
 */
#ifndef EM_LOADER_H
#define EM_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/tensor.h"
#include "dataset.h"

/** What a loader does to a dataset; start from em_loader_defaults(). */
typedef struct em_loader_opts {
    int batch;              /**< examples per batch (> 0)                               */
    bool shuffle;           /**< a new permutation every epoch; else dataset order       */
    uint64_t seed;          /**< seeds the order and the augmentation                    */
    bool drop_last;         /**< drop a short last batch                                 */
    bool normalize;         /**< use mean/std below; else x = v / 255                    */
    double mean[EM_DATA_MAX_CHANNELS], std[EM_DATA_MAX_CHANNELS];  /**< per channel, std > 0 */
    bool augment;           /**< random crop with zero padding `pad`, random horizontal flip */
    int pad;                /**< crop padding (default 4), 0 <= pad < min(h, w)          */
    bool flip;              /**< with augment: random horizontal flip (default true)     */
    bool prefetch;          /**< fill the next batch on a background thread              */
    size_t subset;          /**< use only the first `subset` examples (0: all; more: all) */
} em_loader_opts;
/** @var em_loader_opts::mean
 * the per-channel mean subtracted when normalize is set (see std) */

/** A loader: see the top of data/loader.h. */
typedef struct em_loader em_loader;

/** batch 64, shuffle, seed 0, no drop_last, no normalization (mean 0, std 1), no
 * augmentation (pad 4 and flip on once augment is set), no prefetch, no subset
 * @return the defaults */
em_loader_opts em_loader_defaults(void);

/** NULL with err filled for bad options (EM_ERR_ARG), an empty dataset, or no memory
 * (also when the prefetch thread cannot start). Starts at epoch 0, batch 0.
 * @param ds    the dataset; it must outlive the loader
 * @param opts  the options
 * @param err   filled on failure
 * @return the loader, or NULL */
em_loader *em_loader_new(const em_dataset *ds, const em_loader_opts *opts, em_error *err);
/** Stop the prefetch thread and free the loader (not the dataset).
 * @param l  the loader; NULL is allowed and does nothing */
void em_loader_free(em_loader *l);

/** Examples per epoch (after subset).
 * @param l  the loader
 * @return the number of examples an epoch visits */
size_t em_loader_size(const em_loader *l);
/** Batches per epoch (after drop_last).
 * @param l  the loader
 * @return the number of em_loader_next() calls an epoch gives */
size_t em_loader_n_batches(const em_loader *l);
/** A heap tensor of shape (batch, C, H, W) for em_loader_next; em_tensor_free it.
 * @param l  the loader
 * @return the tensor, or NULL when out of memory */
em_tensor *em_loader_batch_tensor(const em_loader *l);

/** Start epoch `epoch` (>= 0) at its first batch.
 * @param l      the loader
 * @param epoch  the epoch (its order and augmentation depend on it) */
void em_loader_begin_epoch(em_loader *l, int epoch);
/** Continue epoch `epoch` at batch `batch_index` (0 <= batch_index <= n_batches; equal:
 * the epoch is over) without producing the batches before it. EM_ERR_ARG when out of
 * range.
 * @param l            the loader
 * @param epoch        the epoch, >= 0
 * @param batch_index  the batch the next em_loader_next() returns
 * @param err          filled on failure
 * @return EM_OK or EM_ERR_ARG */
em_code em_loader_seek(em_loader *l, int epoch, size_t batch_index, em_error *err);
/** Where the next em_loader_next call reads: epoch and batch index.
 * @param l            the loader
 * @param epoch        receives the epoch
 * @param batch_index  receives the batch index */
void em_loader_position(const em_loader *l, int *epoch, size_t *batch_index);

/** Fill the next batch of the epoch: x, allocated for (batch, C, H, W) (by
 * em_loader_batch_tensor, or any tensor of at least that many rows), gets n <= batch
 * examples and its shape[0] and size are set to n (a short last batch shrinks x; the next
 * full batch restores it, so one x can serve a training and an evaluation loader of the
 * same batch size); labels[0..n) gets their labels. Returns false, filling nothing, when
 * the epoch has no batch left. Wrong C, H, W or more than batch rows abort (EM_ASSERT).
 * @param l       the loader
 * @param x       the batch tensor, overwritten
 * @param labels  receives n labels (room for batch)
 * @param n       receives the number of examples in this batch
 * @return true when a batch was produced, false at the end of the epoch */
bool em_loader_next(em_loader *l, em_tensor *x, int *labels, int *n);

/** The order of the current epoch: dataset index of the example at each position.
 * @param l  the loader
 * @return em_loader_size() indices, valid until the next em_loader_begin_epoch() or
 *         em_loader_seek() */
const size_t *em_loader_order(const em_loader *l);

#endif

/** io/checkpoint.h — save and load models (and training state) as safetensors files that
 * PyTorch loads with load_state_dict(strict=True).
 *
 * A model-only checkpoint:
 *
 *     em_ck_save_opts so = {.model_name = "mnist-cnn", .config = "lr=0.1 bs=64 bn=1",
 *                           .progress = "epoch 10/10"};
 *     if (em_checkpoint_save("mnist.safetensors", net, &so, &err) != EM_OK) ...
 *     if (em_checkpoint_load("mnist.safetensors", net, NULL, &err) != EM_OK) ...
 *
 * A training checkpoint adds the state a run needs to continue bit-identically, as named
 * extra tensors the caller lists once and passes to both save and load:
 *
 *     int64_t step = ..., epoch_batch[2] = {epoch, batch_index};
 *     em_ck_entry extra[] = {
 *         {"optim.momentum_buffer", EM_ST_REAL, sgd->velocity, sgd->params.n},
 *         {"optim.step", EM_ST_I64, &sgd->step, 1},
 *         {"train.step", EM_ST_I64, &step, 1},          // the schedule needs only this
 *         {"data.position", EM_ST_I64, epoch_batch, 2},
 *         EM_CK_RNG("rng.data", &data_rng),
 *     };
 *     so.extra = extra; so.n_extra = 5;
 *     em_checkpoint_save(path, net, &so, &err);
 *     ...in a fresh process, with a fresh model and optimizer...
 *     em_ck_load_opts lo = {.extra = extra, .n_extra = 5, .expect_model = "mnist-cnn"};
 *     em_checkpoint_load(path, net, &lo, &err);
 *
 * File content: every entry of em_module_visit under its state-dict name ("0.weight",
 * "1.running_mean", ...), parameters and buffers in em_real's dtype — F32 in the float
 * build, F64 in the double build, so a save/load round trip is exact in both — and
 * counters (num_batches_tracked) as I64 scalars, as PyTorch stores them; then the extra
 * tensors, 1-d. __metadata__ holds "format": "pt" (PyTorch names), "framework": "ember",
 * "dtype", and "model", "config", "progress" and the caller's pairs when given.
 *
 * Loading validates everything first — the file as safetensors (io/safetensors.h), then
 * every model entry and every extra: present, a loadable dtype (F32 or F64 for real
 * values, converted to em_real; I64 for counters; the exact dtype for integer extras) and
 * the model's shape — then the values themselves: every parameter and buffer finite (after
 * the conversion: an F64 value beyond float's range is an Inf in the float build), every
 * running variance (a buffer named "*running_var") >= 0, every counter
 * (num_batches_tracked) in [0, EM_CK_COUNTER_MAX], every extra as `require` says — and
 * only then copies. A failed load changes nothing, and its message names the file, the
 * tensor and the problem. Tensors in the file that nobody asked for are an error too (as
 * strict=True), unless allow_unused (e.g. loading a training checkpoint's model).
 *
 * em_checkpoint_load() reads the file's header first (em_st_open: bounded by the header's
 * size, checked against the file's) and then only the bytes of the tensors it restores, so
 * its memory is what the model needs whatever the file claims.
 *
 * Saving writes `<path>.tmp`, fsyncs it and renames it into place (core/wfile.h).
 *
 * @file
 */
#ifndef EM_CHECKPOINT_H
#define EM_CHECKPOINT_H

#include <stdbool.h>

#include "../core/rng.h"
#include "../layers/module.h"
#include "safetensors.h"


/** The largest counter a checkpoint may hold (2^53: exact in a double, and about 10^9
 * times more steps than any run takes, so that counting on cannot overflow). */
#define EM_CK_COUNTER_MAX ((int64_t)1 << 53)

/** A named flat array saved beside the model and restored into the same memory. */
typedef struct em_ck_entry {
    const char *name;        /**< "optim.momentum_buffer", "train.step", ...             */
    em_st_dtype dtype;       /**< EM_ST_REAL (em_real), EM_ST_I64 (int64_t), EM_ST_U64   */
    void *data;              /**< n values: read by save, overwritten by a successful load */
    size_t n;                /**< stored as a 1-d tensor of n elements                   */
} em_ck_entry;

/** What a load requires of an extra entry's values before it copies anything. */
typedef enum em_ck_check {
    EM_CK_ANY = 0,           /**< nothing (an rng state; statistics that may be NaN)      */
    EM_CK_FINITE,            /**< real values: no NaN or Inf (an optimizer's buffers)     */
    EM_CK_RANGE,             /**< I64 values: each in [lo, hi] (a step count)             */
} em_ck_check;

/** A requirement on the values of one extra entry (em_ck_load_opts.require). */
typedef struct em_ck_require {
    em_ck_check check;       /**< what is checked                                        */
    int64_t lo;              /**< EM_CK_RANGE: the smallest value allowed                */
    int64_t hi;              /**< EM_CK_RANGE: the largest value allowed                 */
} em_ck_require;

/** An em_rng's state (two uint64: state and stream) as an extra entry.
 * @param name     the entry's name, "rng.data"
 * @param rng_ptr  the em_rng * whose state is saved and restored */
#define EM_CK_RNG(name, rng_ptr) ((em_ck_entry){(name), EM_ST_U64, &(rng_ptr)->state, 2})

/** What em_checkpoint_save() writes besides the model; zero-initialize what you do not
 * set. */
typedef struct em_ck_save_opts {
    const char *model_name;      /**< metadata "model" (NULL: not written)               */
    const char *config;          /**< metadata "config": the run's configuration as text */
    const char *progress;        /**< metadata "progress": "epoch 3/10, step 1400"        */
    int n_meta;                  /**< more string metadata                               */
    const em_st_meta *meta;      /**< the n_meta key-value pairs                         */
    int n_extra;                 /**< more tensors (training state)                      */
    const em_ck_entry *extra;    /**< the n_extra entries                                */
    size_t fail_after_bytes;     /**< testing: the write fails after this many bytes, as a
                                      full disk would (0: never)                         */
    bool finite_only;            /**< refuse (EM_ERR_NUMERIC, nothing written) to save a
                                      model whose parameters or buffers hold NaN or Inf: a
                                      diverged model never replaces a good checkpoint (the
                                      extras are the caller's; NaN may mean "not yet")   */
} em_ck_save_opts;

/** What em_checkpoint_load() restores and checks besides the model. */
typedef struct em_ck_load_opts {
    int n_extra;                 /**< tensors to restore beside the model; all required  */
    const em_ck_entry *extra;    /**< the n_extra entries, as given to the save          */
    const em_ck_require *require;/**< NULL, or n_extra requirements: require[i] on extra[i] */
    const char *expect_model;    /**< non-NULL: metadata "model" must say this           */
    bool allow_unused;           /**< ignore tensors nobody asked for (default: an error) */
} em_ck_load_opts;

/** Save the model (and the extras) as a safetensors file, crash-safely.
 * opts may be NULL (no metadata beyond the format's, no extras).
 * @param path   the file to write (replaced atomically)
 * @param model  the model; every entry of em_module_visit() is saved
 * @param opts   metadata and extras, or NULL
 * @param err    filled on failure, naming the file
 * @return EM_OK; EM_ERR_IO (cannot write: the old file, if any, is untouched);
 *         EM_ERR_ARG (too many metadata entries, duplicate or empty names);
 *         EM_ERR_NOMEM */
em_code em_checkpoint_save(const char *path, em_module *model, const em_ck_save_opts *opts,
                           em_error *err);
/** Read, validate, then restore model (and extras). On failure nothing has changed.
 * @param path   the file
 * @param model  the model to restore into; its structure must match the file's
 * @param opts   extras and checks, or NULL (model only, no unused tensors allowed)
 * @param err    filled on failure, naming the file and the problem
 * @return EM_OK; EM_ERR_IO (cannot read); EM_ERR_FORMAT (not valid safetensors, an entry
 *         missing, of the wrong dtype or shape, a value that is NaN, Inf, a negative
 *         variance or a counter out of range, a tensor nobody asked for, another model
 *         than expect_model); EM_ERR_ARG (an extra asked for twice); EM_ERR_NOMEM */
em_code em_checkpoint_load(const char *path, em_module *model, const em_ck_load_opts *opts,
                           em_error *err);
/** The same from an already-read file (em_st_read, or em_st_open: the tensors restored are
 * read from the file then), e.g. to read its metadata as well.
 * @param st     the parsed file
 * @param model  the model to restore into
 * @param opts   extras and checks, or NULL
 * @param err    filled on failure
 * @return as em_checkpoint_load(), without EM_ERR_IO */
em_code em_checkpoint_apply(const em_st *st, em_module *model, const em_ck_load_opts *opts,
                            em_error *err);

#endif

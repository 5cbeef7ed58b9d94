/* data/loader.c — batching, seeded order, normalization, augmentation, prefetch. */
#include "loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"

/* Tags that keep the order stream and the augmentation streams apart. */
#define TAG_ORDER 0x6f72646572ULL    /* "order" */
#define TAG_AUGMENT 0x6175676dULL    /* "augm"  */

typedef enum job_state { JOB_IDLE, JOB_PENDING, JOB_RUNNING, JOB_DONE } job_state;

struct em_loader {
    const em_dataset *ds;
    em_loader_opts o;
    size_t n, n_batches, per;     /* examples used, batches per epoch, bytes per example */
    int c, h, w;
    size_t *order;                /* (n) dataset index at each position of the epoch     */
    int epoch;
    size_t cursor;                /* the batch the next em_loader_next returns           */
    em_real lut[EM_DATA_MAX_CHANNELS][256];  /* normalized value of each byte, per channel */

    /* prefetch: one job at a time, guarded by mu */
    bool threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_state state;
    bool quit;
    int job_epoch;
    size_t job_batch;
    em_real *buf;                 /* (batch, C, H, W) filled by the worker               */
    int *buf_labels;              /* (batch)                                             */
};

em_loader_opts em_loader_defaults(void) {
    em_loader_opts o;
    memset(&o, 0, sizeof o);
    o.batch = 64;
    o.shuffle = true;
    o.pad = 4;
    o.flip = true;
    for (int c = 0; c < EM_DATA_MAX_CHANNELS; c++) o.std[c] = 1.0;
    return o;
}

/* ---- filling a batch: a pure function of (options, dataset, order, epoch, batch) ---- */

static size_t batch_count(const em_loader *l, size_t b) {
    size_t first = b * (size_t)l->o.batch, left = l->n - first;
    return left < (size_t)l->o.batch ? left : (size_t)l->o.batch;
}

static uint64_t epoch_key(const em_loader *l, uint64_t tag, int epoch) {
    return em_mix64(l->o.seed ^ em_mix64(tag + (uint64_t)epoch));
}

/* dst (C, H, W) from the uint8 image src, cropped at (i, j) of the image padded by pad on
 * every side, then mirrored when flip:
 *   dst[c][y][x] = src[c][y + i - pad][x' + j - pad],  x' = flip ? W-1-x : x,
 * and the padding value 0 outside the image. */
static void fill_example(const em_loader *l, em_real *dst, const uint8_t *src, int i, int j,
                         bool flip) {
    int H = l->h, W = l->w, pad = l->o.pad;
    for (int c = 0; c < l->c; c++) {
        const em_real *lut = l->lut[c];
        const uint8_t *plane = src + (size_t)c * H * W;
        em_real *out = dst + (size_t)c * H * W;
        for (int y = 0; y < H; y++, out += W) {
            int sy = y + i - pad;
            if (sy < 0 || sy >= H) {
                for (int x = 0; x < W; x++) out[x] = lut[0];
                continue;
            }
            const uint8_t *row = plane + (size_t)sy * W;
            for (int x = 0; x < W; x++) {
                int sx = (flip ? W - 1 - x : x) + j - pad;
                out[x] = sx >= 0 && sx < W ? lut[row[sx]] : lut[0];
            }
        }
    }
}

static void fill_batch(const em_loader *l, int epoch, size_t b, em_real *dst, int *labels) {
    size_t count = batch_count(l, b), first = b * (size_t)l->o.batch;
    size_t chw = (size_t)l->c * l->h * l->w;
    uint64_t key = epoch_key(l, TAG_AUGMENT, epoch);
    for (size_t k = 0; k < count; k++) {
        size_t pos = first + k, idx = l->order[pos];
        int i = l->o.pad, j = l->o.pad;
        bool flip = false;
        if (l->o.augment) {
            em_rng rng;
            em_rng_seed_stream(&rng, key ^ em_mix64(pos), pos);
            uint32_t span = 2u * (uint32_t)l->o.pad + 1u;
            i = (int)em_rng_below(&rng, span);
            j = (int)em_rng_below(&rng, span);
            flip = l->o.flip && (em_rng_u32(&rng) >> 31);
        }
        fill_example(l, dst + k * chw, l->ds->pixels + idx * l->per, i, j, flip);
        labels[k] = l->ds->labels[idx];
    }
}

/* ---- the prefetch thread ------------------------------------------------------------ */

static void *worker(void *arg) {
    em_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->quit && l->state != JOB_PENDING) pthread_cond_wait(&l->cv, &l->mu);
        if (l->quit) break;
        l->state = JOB_RUNNING;
        int epoch = l->job_epoch;
        size_t b = l->job_batch;
        pthread_mutex_unlock(&l->mu);
        fill_batch(l, epoch, b, l->buf, l->buf_labels);
        pthread_mutex_lock(&l->mu);
        l->state = JOB_DONE;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Wait until the worker holds no job in progress; afterwards order/epoch may change. */
static void wait_idle(em_loader *l) {
    if (!l->threaded) return;
    pthread_mutex_lock(&l->mu);
    while (l->state == JOB_PENDING || l->state == JOB_RUNNING) pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

/* Ask the worker for batch `cursor` of the current epoch (when there is one). */
static void schedule(em_loader *l) {
    if (!l->threaded) return;
    pthread_mutex_lock(&l->mu);
    if (l->cursor < l->n_batches) {
        l->state = JOB_PENDING;
        l->job_epoch = l->epoch;
        l->job_batch = l->cursor;
        pthread_cond_broadcast(&l->cv);
    } else {
        l->state = JOB_IDLE;
    }
    pthread_mutex_unlock(&l->mu);
}

/* ---- public ------------------------------------------------------------------------- */

static em_code check_opts(const em_dataset *ds, const em_loader_opts *o, em_error *err) {
    if (!ds || !ds->pixels || ds->n == 0)
        return em_error_set(err, EM_ERR_ARG, "loader: the dataset is empty");
    if (ds->c <= 0 || ds->c > EM_DATA_MAX_CHANNELS || ds->h <= 0 || ds->w <= 0)
        return em_error_set(err, EM_ERR_ARG, "loader: bad image shape (%d, %d, %d)", ds->c,
                            ds->h, ds->w);
    if (o->batch <= 0) return em_error_set(err, EM_ERR_ARG, "loader: batch %d must be > 0", o->batch);
    if (o->augment && (o->pad < 0 || o->pad >= ds->h || o->pad >= ds->w))
        return em_error_set(err, EM_ERR_ARG, "loader: crop padding %d must be in [0, %d)", o->pad,
                            ds->h < ds->w ? ds->h : ds->w);
    if (o->normalize)
        for (int c = 0; c < ds->c; c++)
            if (!(o->std[c] > 0) || o->mean[c] != o->mean[c])
                return em_error_set(err, EM_ERR_ARG,
                                    "loader: channel %d: std %g must be > 0 (mean %g)", c,
                                    o->std[c], o->mean[c]);
    return EM_OK;
}

em_loader *em_loader_new(const em_dataset *ds, const em_loader_opts *opts, em_error *err) {
    em_loader_opts o = opts ? *opts : em_loader_defaults();
    if (check_opts(ds, &o, err) != EM_OK) return NULL;
    em_loader *l = calloc(1, sizeof *l);
    if (!l) {
        em_error_set(err, EM_ERR_NOMEM, "loader: out of memory");
        return NULL;
    }
    l->ds = ds;
    l->o = o;
    l->n = o.subset && o.subset < ds->n ? o.subset : ds->n;
    l->n_batches = o.drop_last ? l->n / (size_t)o.batch
                               : (l->n + (size_t)o.batch - 1) / (size_t)o.batch;
    l->c = ds->c;
    l->h = ds->h;
    l->w = ds->w;
    l->per = em_dataset_example_size(ds);
    for (int c = 0; c < l->c; c++)
        for (int v = 0; v < 256; v++)
            l->lut[c][v] = o.normalize ? (em_real)((v / 255.0 - o.mean[c]) / o.std[c])
                                       : (em_real)(v / 255.0);
    l->order = malloc(l->n * sizeof *l->order);
    if (!l->order) {
        em_error_set(err, EM_ERR_NOMEM, "loader: out of memory for %zu indices", l->n);
        free(l);
        return NULL;
    }
    if (o.prefetch) {
        l->buf = malloc((size_t)o.batch * l->per * sizeof *l->buf);
        l->buf_labels = malloc((size_t)o.batch * sizeof *l->buf_labels);
        bool ok = l->buf && l->buf_labels;
        bool mu = ok && pthread_mutex_init(&l->mu, NULL) == 0;
        bool cv = mu && pthread_cond_init(&l->cv, NULL) == 0;
        bool th = cv && pthread_create(&l->thread, NULL, worker, l) == 0;
        if (!th) {
            if (cv) pthread_cond_destroy(&l->cv);
            if (mu) pthread_mutex_destroy(&l->mu);
            free(l->buf);
            free(l->buf_labels);
            free(l->order);
            free(l);
            em_error_set(err, EM_ERR_NOMEM, "loader: cannot start the prefetch thread");
            return NULL;
        }
        l->threaded = true;
    }
    em_loader_begin_epoch(l, 0);
    return l;
}

void em_loader_free(em_loader *l) {
    if (!l) return;
    if (l->threaded) {
        pthread_mutex_lock(&l->mu);
        l->quit = true;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
    }
    free(l->buf);
    free(l->buf_labels);
    free(l->order);
    free(l);
}

size_t em_loader_size(const em_loader *l) { return l->n; }
size_t em_loader_n_batches(const em_loader *l) { return l->n_batches; }
const size_t *em_loader_order(const em_loader *l) { return l->order; }

em_tensor *em_loader_batch_tensor(const em_loader *l) {
    int shape[4] = {l->o.batch, l->c, l->h, l->w};
    return em_tensor_new(4, shape, 0);
}

/* the permutation of epoch e: Fisher-Yates from em_rng seeded by (seed, e) */
static void make_order(em_loader *l, int epoch) {
    if (l->o.shuffle) {
        em_rng rng;
        em_rng_seed_stream(&rng, epoch_key(l, TAG_ORDER, epoch), (uint64_t)epoch);
        em_rng_permutation(&rng, l->order, l->n);
    } else {
        for (size_t i = 0; i < l->n; i++) l->order[i] = i;
    }
}

void em_loader_begin_epoch(em_loader *l, int epoch) {
    EM_ASSERT(epoch >= 0);
    wait_idle(l);
    make_order(l, epoch);
    l->epoch = epoch;
    l->cursor = 0;
    schedule(l);
}

em_code em_loader_seek(em_loader *l, int epoch, size_t batch_index, em_error *err) {
    if (epoch < 0 || batch_index > l->n_batches)
        return em_error_set(err, EM_ERR_ARG,
                            "loader: cannot seek to epoch %d batch %zu (epochs >= 0, batches "
                            "0..%zu)",
                            epoch, batch_index, l->n_batches);
    wait_idle(l);
    if (epoch != l->epoch) make_order(l, epoch);
    l->epoch = epoch;
    l->cursor = batch_index;
    schedule(l);
    return EM_OK;
}

void em_loader_position(const em_loader *l, int *epoch, size_t *batch_index) {
    if (epoch) *epoch = l->epoch;
    if (batch_index) *batch_index = l->cursor;
}

bool em_loader_next(em_loader *l, em_tensor *x, int *labels, int *n) {
    EM_ASSERT(x && labels && n);
    EM_ASSERT_MSG(x->ndim == 4 && x->shape[1] == l->c && x->shape[2] == l->h &&
                      x->shape[3] == l->w,
                  "x must have shape (batch, C, H, W): use em_loader_batch_tensor");
    /* x may come shrunk from a short batch: what counts is the memory behind it */
    EM_ASSERT_MSG(x->shape[0] >= 1 && x->shape[0] <= l->o.batch &&
                      x->capacity >= (size_t)l->o.batch * l->c * l->h * l->w,
                  "x must be allocated for a whole batch: use em_loader_batch_tensor");
    if (l->cursor >= l->n_batches) return false;
    size_t count = batch_count(l, l->cursor), chw = (size_t)l->c * l->h * l->w;
    bool copied = false;
    if (l->threaded) {
        wait_idle(l);
        if (l->state == JOB_DONE && l->job_epoch == l->epoch && l->job_batch == l->cursor) {
            memcpy(x->data, l->buf, count * chw * sizeof *x->data);
            memcpy(labels, l->buf_labels, count * sizeof *labels);
            copied = true;
        }
    }
    if (!copied) fill_batch(l, l->epoch, l->cursor, x->data, labels);
    x->shape[0] = (int)count;
    x->size = count * chw;
    *n = (int)count;
    l->cursor++;
    schedule(l);
    return true;
}

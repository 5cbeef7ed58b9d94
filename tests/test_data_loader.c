/* tests/test_data_loader.c — batches: order, determinism (seed, prefetch, seek), values
 * (normalization, crop, flip), drop_last/subset, bad options, no allocation per batch. */
#include "data_helpers.h"

#include <stdatomic.h>

#if !defined(__SANITIZE_ADDRESS__)
/* count heap allocations of every thread (the prefetch thread too) while counting is on */
#define COUNT_MALLOCS 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static atomic_size_t n_allocs;
void *malloc(size_t n) { atomic_fetch_add(&n_allocs, 1); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { atomic_fetch_add(&n_allocs, 1); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { atomic_fetch_add(&n_allocs, 1); return __libc_realloc(p, n); }
#endif

static em_dataset shapes(size_t n) {
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_shapes_load(&ds, EM_SPLIT_TRAIN, n, 5, &err), EM_OK);
    return ds;
}

static em_loader *loader(const em_dataset *ds, const em_loader_opts *o) {
    em_error err;
    em_loader *l = em_loader_new(ds, o, &err);
    cr_assert_not_null(l, "%s", err.msg);
    return l;
}

/* all batches of one epoch, concatenated: values (n * chw) and labels (n) */
typedef struct epoch_dump {
    em_real *x;
    int *labels;
    size_t n;
    int batch_sizes[64];
    int n_batches;
} epoch_dump;

static epoch_dump dump_epoch(em_loader *l, int epoch, const em_dataset *ds) {
    size_t chw = em_dataset_example_size(ds);
    epoch_dump d = {0};
    d.x = malloc(ds->n * chw * sizeof *d.x);
    d.labels = malloc(ds->n * sizeof *d.labels);
    em_tensor *x = em_loader_batch_tensor(l);
    int *lab = malloc((size_t)x->shape[0] * sizeof *lab), n;
    em_loader_begin_epoch(l, epoch);
    while (em_loader_next(l, x, lab, &n)) {
        cr_assert_eq(x->shape[0], n);
        cr_assert_eq(x->size, (size_t)n * chw);
        memcpy(d.x + d.n * chw, x->data, (size_t)n * chw * sizeof *d.x);
        memcpy(d.labels + d.n, lab, (size_t)n * sizeof *lab);
        d.n += (size_t)n;
        d.batch_sizes[d.n_batches++] = n;
    }
    em_tensor_free(x);
    free(lab);
    return d;
}

static void dump_free(epoch_dump *d) {
    free(d->x);
    free(d->labels);
}

static bool dumps_equal(const epoch_dump *a, const epoch_dump *b, size_t chw) {
    return a->n == b->n && !memcmp(a->labels, b->labels, a->n * sizeof *a->labels) &&
           !memcmp(a->x, b->x, a->n * chw * sizeof *a->x);
}

Test(loader, same_seed_same_order_different_seed_different_order) {
    em_dataset ds = shapes(103);
    em_loader_opts o = em_loader_defaults();
    o.batch = 16;
    o.seed = 11;
    em_loader *a = loader(&ds, &o), *b = loader(&ds, &o);
    o.seed = 12;
    em_loader *c = loader(&ds, &o);
    for (int e = 0; e < 3; e++) {
        em_loader_begin_epoch(a, e);
        em_loader_begin_epoch(b, e);
        em_loader_begin_epoch(c, e);
        cr_assert_eq(memcmp(em_loader_order(a), em_loader_order(b), 103 * sizeof(size_t)), 0);
        cr_assert_neq(memcmp(em_loader_order(a), em_loader_order(c), 103 * sizeof(size_t)), 0);
    }
    /* and epochs differ from each other */
    size_t first[103];
    em_loader_begin_epoch(a, 0);
    memcpy(first, em_loader_order(a), sizeof first);
    em_loader_begin_epoch(a, 1);
    cr_assert_neq(memcmp(first, em_loader_order(a), sizeof first), 0);
    /* the batches themselves */
    epoch_dump da = dump_epoch(a, 2, &ds), db = dump_epoch(b, 2, &ds), dc = dump_epoch(c, 2, &ds);
    cr_assert(dumps_equal(&da, &db, 3072));
    cr_assert(!dumps_equal(&da, &dc, 3072));
    dump_free(&da); dump_free(&db); dump_free(&dc);
    em_loader_free(a); em_loader_free(b); em_loader_free(c);
    em_dataset_free(&ds);
}

/* every example exactly once per epoch, with its own label and pixels / 255 */
Test(loader, epoch_is_a_permutation_values_exact) {
    em_dataset ds = shapes(50);
    em_loader_opts o = em_loader_defaults();
    o.batch = 8;
    o.seed = 3;
    em_loader *l = loader(&ds, &o);
    cr_assert_eq(em_loader_n_batches(l), 7);
    epoch_dump d = dump_epoch(l, 4, &ds);
    cr_assert_eq(d.n, 50);
    cr_assert_eq(d.batch_sizes[6], 2, "short last batch");
    const size_t *order = em_loader_order(l);
    bool seen[50] = {0};
    for (size_t p = 0; p < 50; p++) {
        size_t i = order[p];
        cr_assert(i < 50 && !seen[i], "position %zu: index %zu", p, i);
        seen[i] = true;
        cr_assert_eq(d.labels[p], ds.labels[i]);
        for (size_t k = 0; k < 3072; k++)
            cr_assert_eq(d.x[p * 3072 + k], (em_real)(ds.pixels[i * 3072 + k] / 255.0));
    }
    dump_free(&d);
    em_loader_free(l);
    o.shuffle = false;
    l = loader(&ds, &o);
    em_loader_begin_epoch(l, 9);
    for (size_t p = 0; p < 50; p++) cr_assert_eq(em_loader_order(l)[p], p, "no shuffle: dataset order");
    em_loader_free(l);
    em_dataset_free(&ds);
}

Test(loader, normalization_per_channel) {
    em_dataset ds = shapes(20);
    em_loader_opts o = em_loader_defaults();
    o.batch = 20;
    o.shuffle = false;
    o.normalize = true;
    em_dataset_channel_stats(&ds, 0, o.mean, o.std);
    em_loader *l = loader(&ds, &o);
    epoch_dump d = dump_epoch(l, 0, &ds);
    double sum[3] = {0}, sq[3] = {0};
    for (size_t i = 0; i < 20; i++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 1024; k++) {
                size_t at = i * 3072 + (size_t)c * 1024 + (size_t)k;
                double want = (ds.pixels[at] / 255.0 - o.mean[c]) / o.std[c];
                cr_assert(fabs(d.x[at] - want) < 1e-6 * fmax(1, fabs(want)));
                sum[c] += d.x[at];
                sq[c] += d.x[at] * d.x[at];
            }
    for (int c = 0; c < 3; c++) {  /* normalized with its own statistics: mean 0, var 1 */
        double m = sum[c] / 20480, v = sq[c] / 20480 - m * m;
        cr_assert(fabs(m) < 1e-5 && fabs(v - 1) < 1e-4, "channel %d: mean %g var %g", c, m, v);
    }
    dump_free(&d);
    em_loader_free(l);
    em_dataset_free(&ds);
}

Test(loader, channel_stats_known_values) {
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_dataset_alloc(&ds, "t", 2, 2, 1, 2, &err), EM_OK);
    /* channel 0: 0, 255, 0, 255 -> mean 0.5, std 0.5; channel 1: all 51 -> 0.2, 0 */
    const uint8_t px[8] = {0, 255, 51, 51, 0, 255, 51, 51};
    memcpy(ds.pixels, px, 8);
    double mean[4], std[4];
    em_dataset_channel_stats(&ds, 0, mean, std);
    cr_assert(fabs(mean[0] - 0.5) < 1e-15 && fabs(std[0] - 0.5) < 1e-15);
    cr_assert(fabs(mean[1] - 0.2) < 1e-15 && fabs(std[1]) < 1e-7);
    em_dataset_channel_stats(&ds, 1, mean, std);  /* first example only: the same */
    cr_assert(fabs(mean[0] - 0.5) < 1e-15);
    em_dataset_free(&ds);
}

/* Each augmented example is the source cropped from the zero-padded image at some
 * (i, j) in [0, 8]^2, possibly mirrored; over an epoch many offsets and both flips occur. */
Test(loader, augmentation_is_crop_and_flip_of_the_source) {
    em_dataset ds = shapes(64);
    em_loader_opts o = em_loader_defaults();
    o.batch = 64;
    o.seed = 99;
    o.augment = true;
    em_loader *l = loader(&ds, &o);
    epoch_dump d = dump_epoch(l, 1, &ds);
    const size_t *order = em_loader_order(l);
    int flips = 0, offsets[9][9] = {{0}};
    for (size_t p = 0; p < 64; p++) {
        const uint8_t *src = ds.pixels + order[p] * 3072;
        const em_real *got = d.x + p * 3072;
        int matches = 0;
        for (int flip = 0; flip < 2; flip++)
            for (int i = 0; i <= 8; i++)
                for (int j = 0; j <= 8; j++) {
                    bool ok = true;
                    for (int c = 0; c < 3 && ok; c++)
                        for (int y = 0; y < 32 && ok; y++)
                            for (int x = 0; x < 32 && ok; x++) {
                                int sy = y + i - 4, sx = (flip ? 31 - x : x) + j - 4;
                                int v = sy >= 0 && sy < 32 && sx >= 0 && sx < 32
                                            ? src[c * 1024 + sy * 32 + sx] : 0;
                                ok = got[c * 1024 + y * 32 + x] == (em_real)(v / 255.0);
                            }
                    if (ok) {
                        matches++;
                        flips += flip;
                        offsets[i][j]++;
                    }
                }
        cr_assert(matches >= 1, "example at position %zu is no crop/flip of its source", p);
    }
    int distinct = 0;
    for (int i = 0; i <= 8; i++)
        for (int j = 0; j <= 8; j++) distinct += offsets[i][j] > 0;
    cr_assert(flips > 10 && flips < 54, "flips %d of 64", flips);
    cr_assert(distinct > 20, "only %d distinct crop offsets", distinct);
    dump_free(&d);
    em_loader_free(l);
    /* pad 0 and no flip: augmentation is the identity */
    o.pad = 0;
    o.flip = false;
    l = loader(&ds, &o);
    epoch_dump a = dump_epoch(l, 1, &ds);
    em_loader_free(l);
    o.augment = false;
    l = loader(&ds, &o);
    epoch_dump b = dump_epoch(l, 1, &ds);
    cr_assert(dumps_equal(&a, &b, 3072));
    dump_free(&a); dump_free(&b);
    em_loader_free(l);
    em_dataset_free(&ds);
}

Test(loader, prefetch_on_off_identical) {
    em_dataset ds = shapes(150);
    em_loader_opts o = em_loader_defaults();
    o.batch = 32;
    o.seed = 5;
    o.augment = true;
    o.normalize = true;
    em_dataset_channel_stats(&ds, 0, o.mean, o.std);
    em_loader *plain = loader(&ds, &o);
    o.prefetch = true;
    em_loader *pre = loader(&ds, &o);
    for (int e = 0; e < 3; e++) {
        epoch_dump a = dump_epoch(plain, e, &ds), b = dump_epoch(pre, e, &ds);
        cr_assert_eq(a.n, 150);
        cr_assert(dumps_equal(&a, &b, 3072), "epoch %d differs with prefetch", e);
        dump_free(&a); dump_free(&b);
    }
    /* interleaved epoch changes in the middle of an epoch */
    em_tensor *x1 = em_loader_batch_tensor(plain), *x2 = em_loader_batch_tensor(pre);
    int l1[32], l2[32], n1, n2;
    em_loader_begin_epoch(plain, 7);
    em_loader_begin_epoch(pre, 7);
    cr_assert(em_loader_next(plain, x1, l1, &n1) && em_loader_next(pre, x2, l2, &n2));
    em_loader_begin_epoch(plain, 8);
    em_loader_begin_epoch(pre, 8);
    for (int k = 0; k < 5; k++) {
        bool g1 = em_loader_next(plain, x1, l1, &n1), g2 = em_loader_next(pre, x2, l2, &n2);
        cr_assert_eq(g1, g2);
        if (!g1) break;
        cr_assert_eq(n1, n2);
        cr_assert_eq(memcmp(x1->data, x2->data, x1->size * sizeof *x1->data), 0);
        cr_assert_eq(memcmp(l1, l2, (size_t)n1 * sizeof *l1), 0);
    }
    em_tensor_free(x1); em_tensor_free(x2);
    em_loader_free(plain);
    em_loader_free(pre);
    em_dataset_free(&ds);
}

Test(loader, seek_equals_replay) {
    em_dataset ds = shapes(90);
    em_loader_opts o = em_loader_defaults();
    o.batch = 16;
    o.seed = 21;
    o.augment = true;
    for (int pf = 0; pf < 2; pf++) {
        o.prefetch = pf;
        em_loader *l = loader(&ds, &o);
        em_tensor *x = em_loader_batch_tensor(l);
        int lab[16], n;
        for (int e = 0; e < 3; e++) {
            epoch_dump d = dump_epoch(l, e, &ds);
            for (size_t b = 0; b < em_loader_n_batches(l); b++) {
                em_error err;
                cr_assert_eq(em_loader_seek(l, e, b, &err), EM_OK);
                int ep;
                size_t bi;
                em_loader_position(l, &ep, &bi);
                cr_assert(ep == e && bi == b);
                cr_assert(em_loader_next(l, x, lab, &n));
                cr_assert_eq(n, d.batch_sizes[b]);
                cr_assert_eq(memcmp(x->data, d.x + b * 16 * 3072, (size_t)n * 3072 * sizeof *x->data), 0,
                             "epoch %d batch %zu (prefetch %d)", e, b, pf);
                cr_assert_eq(memcmp(lab, d.labels + b * 16, (size_t)n * sizeof *lab), 0);
            }
            dump_free(&d);
        }
        em_error err;
        cr_assert_eq(em_loader_seek(l, 1, em_loader_n_batches(l), &err), EM_OK, "end of epoch");
        cr_assert(!em_loader_next(l, x, lab, &n));
        cr_assert_eq(em_loader_seek(l, 1, em_loader_n_batches(l) + 1, &err), EM_ERR_ARG);
        assert_msg_has(&err, "seek");
        cr_assert_eq(em_loader_seek(l, -1, 0, &err), EM_ERR_ARG);
        em_tensor_free(x);
        em_loader_free(l);
    }
    em_dataset_free(&ds);
}

Test(loader, drop_last_subset_and_shrinking_batches) {
    em_dataset ds = shapes(100);
    em_loader_opts o = em_loader_defaults();
    o.batch = 30;
    em_loader *l = loader(&ds, &o);
    cr_assert_eq(em_loader_n_batches(l), 4);
    em_tensor *x = em_loader_batch_tensor(l);
    int lab[30], n, sizes[8], k = 0;
    for (int e = 0; e < 2; e++) {  /* the short batch shrinks x; the next epoch restores it */
        em_loader_begin_epoch(l, e);
        k = 0;
        while (em_loader_next(l, x, lab, &n)) sizes[k++] = n;
        cr_assert_eq(k, 4);
        cr_assert(sizes[0] == 30 && sizes[3] == 10);
        cr_assert_eq(x->shape[0], 10);
    }
    em_tensor_free(x);
    em_loader_free(l);
    o.drop_last = true;
    l = loader(&ds, &o);
    cr_assert_eq(em_loader_n_batches(l), 3);
    epoch_dump d = dump_epoch(l, 0, &ds);
    cr_assert_eq(d.n, 90);
    dump_free(&d);
    em_loader_free(l);
    o.drop_last = false;
    o.subset = 45;
    l = loader(&ds, &o);
    cr_assert_eq(em_loader_size(l), 45);
    cr_assert_eq(em_loader_n_batches(l), 2);
    for (size_t p = 0; p < 45; p++) cr_assert(em_loader_order(l)[p] < 45, "subset = the first 45");
    em_loader_free(l);
    o.subset = 1000;  /* more than there is: all */
    l = loader(&ds, &o);
    cr_assert_eq(em_loader_size(l), 100);
    em_loader_free(l);
    em_dataset_free(&ds);
}

Test(loader, bad_options_are_errors) {
    em_dataset ds = shapes(10), empty;
    em_error err;
    em_loader_opts o = em_loader_defaults();
    o.batch = 0;
    cr_assert_null(em_loader_new(&ds, &o, &err));
    cr_assert_eq(err.code, EM_ERR_ARG);
    assert_msg_has(&err, "batch");
    o = em_loader_defaults();
    o.normalize = true;
    o.std[1] = 0;
    cr_assert_null(em_loader_new(&ds, &o, &err));
    assert_msg_has(&err, "std");
    o = em_loader_defaults();
    o.augment = true;
    o.pad = 32;
    cr_assert_null(em_loader_new(&ds, &o, &err));
    assert_msg_has(&err, "padding");
    cr_assert_eq(em_shapes_load(&empty, EM_SPLIT_TRAIN, 0, 1, &err), EM_OK);
    cr_assert_null(em_loader_new(&empty, NULL, &err));
    assert_msg_has(&err, "empty");
    em_dataset_free(&empty);
    em_dataset_free(&ds);
}

/* a tensor of the wrong shape is a programmer error: abort with a message */
Test(loader, tensor_with_too_many_rows_aborts, .signal = SIGABRT) {
    em_dataset ds = shapes(10);
    em_loader *l = loader(&ds, NULL);
    em_tensor *x = em_tensor_new(4, (int[]){65, 3, 32, 32}, 0);
    int lab[65], n;
    em_loader_next(l, x, lab, &n);
}

/* a tensor made for a smaller batch (shrunk to look like a short batch of this loader)
 * would overflow: its capacity gives it away */
Test(loader, tensor_too_small_for_the_batch_aborts, .signal = SIGABRT) {
    em_dataset ds = shapes(200);
    em_loader_opts o = em_loader_defaults();
    o.batch = 32;
    em_loader *small = loader(&ds, &o);
    o.batch = 128;
    em_loader *big = loader(&ds, &o);
    em_tensor *x = em_loader_batch_tensor(small);
    int lab[128], n;
    em_loader_next(big, x, lab, &n);
}

/* one x for a training and an evaluation loader: a short batch of one does not stop the
 * other from filling whole batches */
Test(loader, one_tensor_shared_by_two_loaders) {
    em_dataset ds = shapes(70);
    em_loader_opts o = em_loader_defaults();
    o.batch = 32;
    em_loader *a = loader(&ds, &o);
    o.subset = 40;
    em_loader *b = loader(&ds, &o);
    em_tensor *x = em_loader_batch_tensor(a);
    int lab[32], n;
    while (em_loader_next(a, x, lab, &n)) {}
    cr_assert_eq(x->shape[0], 6);
    cr_assert(em_loader_next(b, x, lab, &n));
    cr_assert_eq(n, 32);
    cr_assert_eq(x->shape[0], 32);
    cr_assert(em_loader_next(b, x, lab, &n));
    cr_assert_eq(x->shape[0], 8);
    em_tensor_free(x);
    em_loader_free(a);
    em_loader_free(b);
    em_dataset_free(&ds);
}

Test(loader, wrong_tensor_aborts, .signal = SIGABRT) {
    em_dataset ds = shapes(10);
    em_loader *l = loader(&ds, NULL);
    em_tensor *x = em_tensor_new(4, (int[]){64, 1, 32, 32}, 0);
    int lab[64], n;
    em_loader_next(l, x, lab, &n);
}

Test(loader, steady_state_allocates_nothing) {
    em_dataset ds = shapes(200);
    em_loader_opts o = em_loader_defaults();
    o.batch = 32;
    o.augment = true;
    o.normalize = true;
    em_dataset_channel_stats(&ds, 0, o.mean, o.std);
    for (int pf = 0; pf < 2; pf++) {
        o.prefetch = pf;
        em_loader *l = loader(&ds, &o);
        em_tensor *x = em_loader_batch_tensor(l);
        int lab[32], n;
        size_t batches = 0;
#ifdef COUNT_MALLOCS
        size_t before = atomic_load(&n_allocs);
#endif
        for (int e = 0; e < 3; e++) {
            em_loader_begin_epoch(l, e);
            while (em_loader_next(l, x, lab, &n)) batches++;
        }
        em_error err;
        cr_assert_eq(em_loader_seek(l, 5, 2, &err), EM_OK);
        cr_assert(em_loader_next(l, x, lab, &n));
#ifdef COUNT_MALLOCS
        size_t allocs = atomic_load(&n_allocs) - before;
        cr_assert_eq(allocs, 0, "%zu allocations in %zu batches (prefetch %d)", allocs, batches, pf);
#endif
        cr_assert_eq(batches, 21);
        em_tensor_free(x);
        em_loader_free(l);
    }
    em_dataset_free(&ds);
}

/* tests/test_data_synthetic.c — the "shapes" set: deterministic, balanced, varied. */
#include "data_helpers.h"

Test(shapes, deterministic_from_seed) {
    em_dataset a, b, c;
    em_error err;
    cr_assert_eq(em_shapes_load(&a, EM_SPLIT_TRAIN, 200, 7, &err), EM_OK);
    cr_assert_eq(em_shapes_load(&b, EM_SPLIT_TRAIN, 200, 7, &err), EM_OK);
    cr_assert_eq(em_shapes_load(&c, EM_SPLIT_TRAIN, 200, 8, &err), EM_OK);
    cr_assert_eq(memcmp(a.pixels, b.pixels, 200 * 3072), 0, "same seed, same images");
    cr_assert_eq(memcmp(a.labels, b.labels, 200), 0);
    size_t same = 0;
    for (size_t i = 0; i < 200; i++) same += !memcmp(a.pixels + i * 3072, c.pixels + i * 3072, 3072);
    cr_assert_eq(same, 0, "another seed: %zu identical images", same);
    em_dataset_free(&a);
    em_dataset_free(&b);
    em_dataset_free(&c);
}

/* example i alone equals example i of the set; a prefix of a bigger set is the smaller set */
Test(shapes, examples_independent_of_n) {
    em_dataset a, b;
    em_error err;
    cr_assert_eq(em_shapes_load(&a, EM_SPLIT_TEST, 30, 1, &err), EM_OK);
    cr_assert_eq(em_shapes_load(&b, EM_SPLIT_TEST, 50, 1, &err), EM_OK);
    cr_assert_eq(memcmp(a.pixels, b.pixels, 30 * 3072), 0);
    uint8_t one[3072];
    cr_assert_eq(em_shapes_example(one, 1, EM_SPLIT_TEST, 17), b.labels[17]);
    cr_assert_eq(memcmp(one, b.pixels + 17 * 3072, 3072), 0);
    em_dataset_free(&a);
    em_dataset_free(&b);
}

Test(shapes, every_class_present_and_named) {
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_shapes_load(&ds, EM_SPLIT_TRAIN, 1000, 1, &err), EM_OK);
    cr_assert_eq(ds.n_classes, 10);
    cr_assert_eq(ds.c, 3);
    cr_assert_eq(ds.h, 32);
    cr_assert_str_eq(ds.name, "shapes");
    size_t hist[10];
    em_dataset_histogram(&ds, hist);
    for (int k = 0; k < 10; k++) {
        cr_assert_eq(hist[k], 100, "class %d (%s): %zu", k, ds.class_names[k], hist[k]);
        cr_assert_not_null(ds.class_names[k]);
    }
    em_dataset_free(&ds);
}

/* train and test are different images; pixels use the whole range; images are not flat */
Test(shapes, splits_differ_and_images_vary) {
    em_dataset tr, te;
    em_error err;
    cr_assert_eq(em_shapes_load(&tr, EM_SPLIT_TRAIN, 100, 1, &err), EM_OK);
    cr_assert_eq(em_shapes_load(&te, EM_SPLIT_TEST, 100, 1, &err), EM_OK);
    for (size_t i = 0; i < 100; i++)
        cr_assert_neq(memcmp(tr.pixels + i * 3072, te.pixels + i * 3072, 3072), 0);
    int lo = 255, hi = 0;
    for (size_t i = 0; i < 100; i++) {
        int mn = 255, mx = 0;
        for (size_t k = 0; k < 3072; k++) {
            int v = tr.pixels[i * 3072 + k];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        cr_assert(mx - mn > 60, "image %zu nearly flat (%d..%d)", i, mn, mx);
        lo = mn < lo ? mn : lo;
        hi = mx > hi ? mx : hi;
    }
    cr_assert(lo < 10 && hi > 245, "range %d..%d", lo, hi);
    double mean[4], std[4];
    em_dataset_channel_stats(&tr, 0, mean, std);
    for (int c = 0; c < 3; c++) cr_assert(mean[c] > 0.3 && mean[c] < 0.7 && std[c] > 0.15);
    em_dataset_free(&tr);
    em_dataset_free(&te);
}

/* the shape is where the label says: the mean image of class "disk" differs from "ring"
 * at the centre region (filled vs hollow), relative to the background */
Test(shapes, classes_are_distinguishable_by_a_nearest_mean_classifier) {
    em_dataset tr, te;
    em_error err;
    cr_assert_eq(em_shapes_load(&tr, EM_SPLIT_TRAIN, 2000, 1, &err), EM_OK);
    cr_assert_eq(em_shapes_load(&te, EM_SPLIT_TEST, 500, 1, &err), EM_OK);
    /* features: per image, the fraction of pixels far from the image's median colour, in
     * 4x4 blocks — a crude "where is the shape" map; nearest class mean */
    enum { F = 64 };
    static double means[10][F];
    static size_t counts[10];
    double f[F];
    for (int pass = 0; pass < 2; pass++) {
        em_dataset *ds = pass ? &te : &tr;
        size_t correct = 0;
        for (size_t i = 0; i < ds->n; i++) {
            const uint8_t *p = ds->pixels + i * 3072;
            double m[3] = {0};
            for (int c = 0; c < 3; c++) {
                for (int k = 0; k < 1024; k++) m[c] += p[c * 1024 + k];
                m[c] /= 1024;
            }
            for (int b = 0; b < F; b++) f[b] = 0;
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) {
                    double d = 0;
                    for (int c = 0; c < 3; c++) d += fabs(p[c * 1024 + y * 32 + x] - m[c]);
                    f[(y / 4) * 8 + x / 4] += d > 90 ? 1.0 / 16 : 0;
                }
            int label = ds->labels[i];
            if (!pass) {
                counts[label]++;
                for (int b = 0; b < F; b++) means[label][b] += f[b];
                continue;
            }
            int best = 0;
            double best_d = INFINITY;
            for (int k = 0; k < 10; k++) {
                double d = 0;
                for (int b = 0; b < F; b++) {
                    double e = f[b] - means[k][b] / (double)counts[k];
                    d += e * e;
                }
                if (d < best_d) best_d = d, best = k;
            }
            correct += best == label;
        }
        if (pass) {
            double acc = (double)correct / (double)ds->n;
            /* above chance (0.1): learnable; far below 1: not trivial */
            cr_assert(acc > 0.13 && acc < 0.9, "nearest-mean accuracy %.3f", acc);
        }
    }
    em_dataset_free(&tr);
    em_dataset_free(&te);
}

typedef struct seen {
    size_t calls, last_done, total;
    bool increasing;
} seen;

static void count_progress(void *ctx, size_t done, size_t total) {
    seen *s = ctx;
    s->increasing &= done > s->last_done;
    s->calls++;
    s->last_done = done;
    s->total = total;
}

Test(shapes, progress_is_reported_and_changes_nothing) {
    em_dataset a, b;
    em_error err;
    seen s = {0, 0, 0, true};
    cr_assert_eq(em_shapes_load(&a, EM_SPLIT_TEST, 250, 9, &err), EM_OK);
    cr_assert_eq(em_shapes_load_progress(&b, EM_SPLIT_TEST, 250, 9, count_progress, &s, &err), EM_OK);
    cr_assert(s.increasing && s.last_done == 250 && s.total == 250, "ends at 250 of 250");
    cr_assert(s.calls >= 100 && s.calls <= 126, "about every 1%%: %zu calls", s.calls);
    cr_assert_eq(memcmp(a.pixels, b.pixels, 250 * 3072), 0);
    cr_assert_eq(memcmp(a.labels, b.labels, 250), 0);
    em_dataset_free(&a);
    em_dataset_free(&b);
}

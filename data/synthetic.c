/* data/synthetic.c — the "shapes" dataset: procedural 32x32 colour images. */
#include "synthetic.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "../core/rng.h"

const char *const em_shapes_class_names[EM_SHAPES_CLASSES] = {
    "disk", "ring", "square", "frame", "triangle",
    "triangle-outline", "plus", "cross", "stripes", "diamond"};

enum { DISK, RING, SQUARE, FRAME, TRIANGLE, TRIANGLE_OUTLINE, PLUS, CROSS, STRIPES, DIAMOND };

#define PI 3.14159265358979323846
#define S EM_SHAPES_SIZE

typedef struct shape {
    int kind;
    double cx, cy, r;          /* centre and size (px)                          */
    double cos_t, sin_t;       /* orientation                                   */
    double half_t;             /* half the outline / bar thickness, in units of r */
} shape;

/* Triangle "radius": max over the three outward edge normals (at -90, 30, 150 degrees)
 * of <(u, v), n_k> / 0.5; the equilateral triangle with circumradius 1 is {tri <= 1}. */
static double tri_norm(double u, double v) {
    const double c30 = 0.86602540378443865;
    double a = -v, b = c30 * u + 0.5 * v, c = -c30 * u + 0.5 * v;
    double m = a > b ? a : b;
    return 2.0 * (m > c ? m : c);
}

/* Is the point (x, y) (pixel units) inside the shape? Each kind is a level set of a norm
 * f(u, v) of the rotated, scaled coordinates: filled {f <= 1}, outlined {|f - 1| <= t}. */
static bool inside(const shape *s, double x, double y) {
    double dx = x - s->cx, dy = y - s->cy;
    double u = (s->cos_t * dx + s->sin_t * dy) / s->r, v = (-s->sin_t * dx + s->cos_t * dy) / s->r;
    double au = fabs(u), av = fabs(v), t = s->half_t;
    switch (s->kind) {
    case DISK: return u * u + v * v <= 1.0;
    case RING: return fabs(sqrt(u * u + v * v) - 1.0) <= t;
    case SQUARE: return (au > av ? au : av) <= 0.8;
    case FRAME: return fabs((au > av ? au : av) - 0.8) <= t;
    case TRIANGLE: return tri_norm(u, v) <= 1.15;
    case TRIANGLE_OUTLINE: return fabs(tri_norm(u, v) - 1.15) <= 1.5 * t;
    case PLUS:
    case CROSS:  /* a cross is a plus turned by 45 degrees (see the orientation below) */
        return (au <= 1.6 * t && av <= 1.0) || (av <= 1.6 * t && au <= 1.0);
    case STRIPES:  /* three bars across the square |u|, |v| <= 0.9 */
        return au <= 0.9 && av <= 0.9 && fmod(v + 0.9, 0.72) < 0.36;
    case DIAMOND: return au + av <= 1.1;
    default: return false;
    }
}

static double clamp255(double x) { return x < 0 ? 0 : x > 255 ? 255 : x; }

/* A colour far enough (sum of |differences| >= 150) from ref, by rejection. */
static void pick_colour(em_rng *rng, double *rgb, const double *ref) {
    for (int tries = 0; tries < 64; tries++) {
        for (int c = 0; c < 3; c++) rgb[c] = em_rng_uniform_range(rng, 0, 255);
        if (!ref || fabs(rgb[0] - ref[0]) + fabs(rgb[1] - ref[1]) + fabs(rgb[2] - ref[2]) >= 150)
            return;
    }
    for (int c = 0; c < 3; c++) rgb[c] = ref[c] < 128 ? 255 - ref[c] / 2 : ref[c] / 2;
}

int em_shapes_example(uint8_t *out, uint64_t seed, em_split split, size_t index) {
    em_rng rng;
    uint64_t tag = em_mix64(seed ^ em_mix64(0x5a4e0000ULL + (uint64_t)split));
    em_rng_seed_stream(&rng, tag ^ em_mix64(index), index);
    int label = (int)(index % EM_SHAPES_CLASSES);

    /* background: bg0 + (bg1 - bg0) * amp * pattern(x, y), pattern in [0, 1] */
    double bg0[3], bg1[3], mean_bg[3];
    pick_colour(&rng, bg0, NULL);
    pick_colour(&rng, bg1, NULL);
    double amp = em_rng_uniform_range(&rng, 0.2, 0.7);
    bool waves = em_rng_uniform(&rng) < 0.6;
    double dir = em_rng_uniform_range(&rng, 0, 2 * PI), freq = em_rng_uniform_range(&rng, 1, 4);
    double phase = em_rng_uniform_range(&rng, 0, 2 * PI);
    for (int c = 0; c < 3; c++) mean_bg[c] = bg0[c] + (bg1[c] - bg0[c]) * amp * 0.5;

    shape sh = {.kind = label};
    sh.cx = em_rng_uniform_range(&rng, 9, 23);
    sh.cy = em_rng_uniform_range(&rng, 9, 23);
    sh.r = em_rng_uniform_range(&rng, 5, 11);
    double theta;
    switch (label) {
    case TRIANGLE: case TRIANGLE_OUTLINE: case STRIPES:
        theta = em_rng_uniform_range(&rng, 0, 2 * PI);
        break;
    case CROSS:
        theta = PI / 4 + em_rng_uniform_range(&rng, -PI / 15, PI / 15);
        break;
    default:
        theta = em_rng_uniform_range(&rng, -PI / 15, PI / 15);
    }
    sh.cos_t = cos(theta);
    sh.sin_t = sin(theta);
    sh.half_t = em_rng_uniform_range(&rng, 0.7, 1.3) / sh.r;  /* 1.4..2.6 px lines */
    double fg[3];
    pick_colour(&rng, fg, mean_bg);
    double noise = em_rng_uniform_range(&rng, 4, 16);

    double kx = cos(dir) * freq * 2 * PI / S, ky = sin(dir) * freq * 2 * PI / S;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double p = waves ? 0.5 + 0.5 * sin(kx * x + ky * y + phase)
                             : ((x - 15.5) * cos(dir) + (y - 15.5) * sin(dir)) / 45.0 + 0.5;
            int cover = 0;  /* of 4 samples at (+-1/4, +-1/4) around the pixel centre */
            for (int s = 0; s < 4; s++)
                cover += inside(&sh, x + 0.25 + 0.5 * (s & 1), y + 0.25 + 0.5 * (s >> 1));
            double a = cover / 4.0;
            for (int c = 0; c < 3; c++) {
                double bg = bg0[c] + (bg1[c] - bg0[c]) * amp * p;
                double v = bg * (1 - a) + fg[c] * a + em_rng_normal(&rng, 0, noise);
                out[(size_t)c * S * S + (size_t)y * S + x] = (uint8_t)lround(clamp255(v));
            }
        }
    return label;
}

em_code em_shapes_load(em_dataset *ds, em_split split, size_t n, uint64_t seed, em_error *err) {
    return em_shapes_load_progress(ds, split, n, seed, NULL, NULL, err);
}

em_code em_shapes_load_progress(em_dataset *ds, em_split split, size_t n, uint64_t seed,
                                em_shapes_progress progress, void *ctx, em_error *err) {
    em_code c = em_dataset_alloc(ds, "shapes", n, 3, S, S, err);
    if (c != EM_OK) return c;
    size_t per = em_dataset_example_size(ds), every = n / 100 ? n / 100 : 1;
    for (size_t i = 0; i < n; i++) {
        ds->labels[i] = (uint8_t)em_shapes_example(ds->pixels + i * per, seed, split, i);
        if (progress && ((i + 1) % every == 0 || i + 1 == n)) progress(ctx, i + 1, n);
    }
    c = em_dataset_static_names(ds, em_shapes_class_names, EM_SHAPES_CLASSES, err);
    if (c != EM_OK) em_dataset_free(ds);
    return c;
}

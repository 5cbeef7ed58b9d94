/* tests/fixture.h — read golden values written by tools/fixtures/emfx.py.
 *
 *     fixture *fx = fixture_load("batchnorm1d.emfx");      // from EM_FIXTURES_DIR
 *     const fx_tensor *y = fixture_get(fx, "y0");          // fails the test if missing
 *     ... y->data[i] (double), y->size, y->ndim, y->shape ...
 *     fixture_free(fx);
 */
#ifndef EM_TEST_FIXTURE_H
#define EM_TEST_FIXTURE_H

/* A missing or corrupt fixture stops the test: through Criterion's cr_assert in the
 * suites, through FX_FAIL(fmt, ...) in a program that defines it before including this
 * file (the exercise grader, tests/exercises/, which does not use Criterion). */
#ifdef FX_FAIL
#define FX_CHECK(cond, ...) do { if (!(cond)) FX_FAIL(__VA_ARGS__); } while (0)
#else
#include <criterion/criterion.h>
#define FX_CHECK(cond, ...) cr_assert(cond, __VA_ARGS__)
#endif

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember.h"

typedef struct fx_tensor {
    char name[128];
    int ndim;
    int shape[8];
    size_t size;
    double *data;
} fx_tensor;

typedef struct fixture {
    int n;
    fx_tensor *t;
} fixture;

static inline int fx_read(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n; }

static inline fixture *fixture_load(const char *file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", EM_FIXTURES_DIR, file);
    FILE *f = fopen(path, "rb");
    FX_CHECK(f, "cannot open fixture %s", path);
    char magic[4];
    uint32_t count = 0;
    FX_CHECK(fx_read(f, magic, 4) && !memcmp(magic, "EMFX", 4), "%s: not an EMFX file", path);
    FX_CHECK(fx_read(f, &count, 4) && count < 10000, "%s: bad count", path);
    fixture *fx = calloc(1, sizeof *fx);
    fx->n = (int)count;
    fx->t = calloc(count, sizeof *fx->t);
    for (uint32_t i = 0; i < count; i++) {
        fx_tensor *t = &fx->t[i];
        uint16_t len = 0;
        uint8_t nd = 0;
        FX_CHECK(fx_read(f, &len, 2) && len < sizeof t->name && fx_read(f, t->name, len),
                  "%s: bad name", path);
        FX_CHECK(fx_read(f, &nd, 1) && nd <= 8, "%s: bad ndim", path);
        t->ndim = nd;
        t->size = 1;
        for (int d = 0; d < nd; d++) {
            int32_t v;
            FX_CHECK(fx_read(f, &v, 4) && v >= 0, "%s: bad dim", path);
            t->shape[d] = v;
            t->size *= (size_t)v;
        }
        uint8_t width = 0;
        FX_CHECK(fx_read(f, &width, 1) && (width == 4 || width == 8), "%s: bad width", path);
        t->data = malloc((t->size ? t->size : 1) * sizeof(double));
        for (size_t k = 0; k < t->size; k++) {
            float v32;
            if (width == 4) {
                FX_CHECK(fx_read(f, &v32, 4), "%s: truncated at %s", path, t->name);
                t->data[k] = v32;
            } else {
                FX_CHECK(fx_read(f, &t->data[k], 8), "%s: truncated at %s", path, t->name);
            }
        }
    }
    fclose(f);
    return fx;
}

static inline const fx_tensor *fixture_get(const fixture *fx, const char *name) {
    for (int i = 0; i < fx->n; i++)
        if (!strcmp(fx->t[i].name, name)) return &fx->t[i];
    FX_CHECK(0, "fixture has no tensor %s", name);
    return NULL;
}

static inline void fixture_free(fixture *fx) {
    for (int i = 0; i < fx->n; i++) free(fx->t[i].data);
    free(fx->t);
    free(fx);
}

/* A heap em_tensor holding a fixture tensor's values, with the given flags. */
static inline em_tensor *fixture_tensor(const fx_tensor *t, unsigned flags) {
    em_tensor *x = em_tensor_new(t->ndim, t->shape, flags);
    FX_CHECK(x, "no memory for a tensor of fixture %s", t->name);
    for (size_t i = 0; i < t->size; i++) x->data[i] = (em_real)t->data[i];
    return x;
}

/* Relative error of a tensor, normwise: max_i |got_i - want_i| / max_i |want_i|.
 * (The usual measure for comparing arrays: an element 1000x smaller than the largest
 * cannot be computed to 1e-4 of itself in float32 when it is the difference of terms the
 * size of the largest; PyTorch's own float32 result is no closer.) */
static inline double fixture_rel_err(const em_real *got, const fx_tensor *want) {
    double scale = 0, worst = 0;
    for (size_t i = 0; i < want->size; i++) {
        scale = fmax(scale, fabs(want->data[i]));
        worst = fmax(worst, fabs(got[i] - want->data[i]));
    }
    return scale > 0 ? worst / scale : worst;
}

/* Elementwise: max_i |got_i - want_i| / max(|want_i|, 1e-3 max|want|), for reports. */
static inline double fixture_elem_err(const em_real *got, const fx_tensor *want) {
    double scale = 0, worst = 0;
    for (size_t i = 0; i < want->size; i++) scale = fmax(scale, fabs(want->data[i]));
    double floor = fmax(scale * 1e-3, 1e-300);
    for (size_t i = 0; i < want->size; i++)
        worst = fmax(worst, fabs(got[i] - want->data[i]) / fmax(fabs(want->data[i]), floor));
    return worst;
}

#endif

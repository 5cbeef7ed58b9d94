/* layers/init.c — initialization rules, see init.h. */
#include "init.h"

#include <math.h>
#include <string.h>

static void fill_uniform(em_tensor *t, em_rng *rng, double bound) {
    for (size_t i = 0; i < t->size; i++)
        t->data[i] = (em_real)em_rng_uniform_range(rng, -bound, bound);
}

static void fill_normal(em_tensor *t, em_rng *rng, double std) {
    for (size_t i = 0; i < t->size; i++) t->data[i] = (em_real)em_rng_normal(rng, 0.0, std);
}

void em_init_weight(em_tensor *w, em_tensor *bias, int fan_in, int fan_out, em_rng *rng,
                    const em_init *init) {
    EM_ASSERT(fan_in > 0 && fan_out > 0);
    double fi = fan_in, fo = fan_out;
    switch (init->kind) {
    case EM_INIT_DEFAULT:         fill_uniform(w, rng, 1.0 / sqrt(fi)); break;
    case EM_INIT_KAIMING_UNIFORM: fill_uniform(w, rng, sqrt(6.0 / fi)); break;
    case EM_INIT_KAIMING_NORMAL:  fill_normal(w, rng, sqrt(2.0 / fi)); break;
    case EM_INIT_XAVIER_UNIFORM:  fill_uniform(w, rng, sqrt(6.0 / (fi + fo))); break;
    case EM_INIT_XAVIER_NORMAL:   fill_normal(w, rng, sqrt(2.0 / (fi + fo))); break;
    case EM_INIT_NORMAL:          fill_normal(w, rng, init->std); break;
    default: EM_ASSERT_MSG(0, "unknown init kind");
    }
    if (init->scale != 0 && init->scale != 1)
        for (size_t i = 0; i < w->size; i++) w->data[i] *= (em_real)init->scale;
    if (bias) {
        if (init->kind == EM_INIT_DEFAULT) fill_uniform(bias, rng, 1.0 / sqrt(fi));
        else em_tensor_fill(bias, 0);
    }
}

static const char *const init_names[] = {
    [EM_INIT_DEFAULT] = "default",
    [EM_INIT_KAIMING_UNIFORM] = "kaiming-uniform",
    [EM_INIT_KAIMING_NORMAL] = "kaiming-normal",
    [EM_INIT_XAVIER_UNIFORM] = "xavier",
    [EM_INIT_XAVIER_NORMAL] = "xavier-normal",
    [EM_INIT_NORMAL] = "normal",
};

const char *em_init_name(em_init_kind kind) {
    return (unsigned)kind < sizeof init_names / sizeof init_names[0] ? init_names[kind] : "?";
}

int em_init_parse(const char *name) {
    for (size_t k = 0; k < sizeof init_names / sizeof init_names[0]; k++)
        if (!strcmp(name, init_names[k])) return (int)k;
    if (!strcmp(name, "xavier-uniform")) return EM_INIT_XAVIER_UNIFORM;
    return -1;
}

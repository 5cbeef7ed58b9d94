/* tests/fuzz/fuzz_safetensors.c — libFuzzer harness for the safetensors reader: header
 * length, JSON header, dtype/shape/offset validation, layout checks, and the checkpoint
 * loader's plan-then-commit into a small model with BatchNorm.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_POSIX_C_SOURCE=200809L -I. \
 *       tests/fuzz/fuzz_safetensors.c $(find core layers optim io -name '*.c') \
 *       -lcjson -lopenblas -lm -o fuzz_safetensors
 *   ./fuzz_safetensors -max_total_time=60 tests/fuzz/corpus/safetensors
 *
 * Seeds (tests/fuzz/corpus/safetensors/) are small valid files — a checkpoint of the model
 * below, tensors of several dtypes, a scalar, an empty tensor — and a few broken ones.
 */
#include <stdint.h>
#include <string.h>

#include "ember.h"

/* the model the seeds were saved from: Linear(3, 4, no bias), BatchNorm1d(4), Linear(4, 2) */
static em_module *seed_model(void) {
    return em_sequential_new(3, (em_module *[]){em_linear_new(3, 4, false),
                                                em_batchnorm1d_new(4, NULL),
                                                em_linear_new(4, 2, true)});
}

int em_fuzz_safetensors(const uint8_t *data, size_t size) {
    em_st *st;
    em_error err;
    if (em_st_parse(&st, data, size, "fuzz", &err) != EM_OK) {
        EM_ASSERT(err.code == EM_ERR_FORMAT || err.code == EM_ERR_NOMEM);
        EM_ASSERT(memchr(err.msg, 0, sizeof err.msg) != NULL);
        return 0;
    }
    /* a valid file: every tensor's bytes lie inside the input; touch them all */
    volatile uint8_t sink = 0;
    for (int i = 0; i < st->n; i++) {
        const em_st_tensor *t = &st->tensors[i];
        size_t bytes = t->numel * em_st_dtype_size(t->dtype);
        EM_ASSERT((const uint8_t *)t->data >= data &&
                  (const uint8_t *)t->data + bytes <= data + size);
        for (size_t k = 0; k < bytes; k++) sink ^= ((const uint8_t *)t->data)[k];
        EM_ASSERT(em_st_find(st, t->name) == t);
    }
    for (int i = 0; i < st->n_meta; i++) sink ^= (uint8_t)strlen(st->meta[i].value);
    (void)sink;
    /* and the model loader: either it loads, or the model is untouched */
    em_module *m = seed_model();
    if (m) {
        em_params p = em_module_params(m);
        em_real before[32];
        EM_ASSERT(p.n <= 32);
        memcpy(before, p.data, p.n * sizeof(em_real));
        em_ck_load_opts lo = {.allow_unused = size % 2 == 0};
        if (em_checkpoint_apply(st, m, &lo, &err) != EM_OK)
            EM_ASSERT(!memcmp(before, p.data, p.n * sizeof(em_real)));
        em_module_free(m);
    }
    em_st_free(st);
    return 0;
}

#ifndef EM_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return em_fuzz_safetensors(data, size);
}
#endif

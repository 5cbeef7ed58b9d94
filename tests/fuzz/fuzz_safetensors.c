/* tests/fuzz/fuzz_safetensors.c — libFuzzer harness for the safetensors reader: header
 * length, JSON header, dtype/shape/offset validation, layout checks, and the checkpoint
 * loader's plan-then-commit into a small model with BatchNorm.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_POSIX_C_SOURCE=200809L -I. \
 *       tests/fuzz/fuzz_safetensors.c $(find core layers optim io -name '*.c') \
 *       -lcjson -lopenblas -lm -o fuzz_safetensors
 *   ./fuzz_safetensors -max_total_time=60 tests/fuzz/corpus/safetensors
 *
 * The same bytes go through a file too: em_st_open (the header alone, in bounded memory)
 * must agree with em_st_parse on every input, and em_checkpoint_load (which reads only the
 * tensors it restores) must do to a model what em_checkpoint_apply does.
 *
 * Seeds (tests/fuzz/corpus/safetensors/) are small valid files — a checkpoint of the model
 * below, tensors of several dtypes, a scalar, an empty tensor — and a few broken ones.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ember.h"
#include "fuzz_files.h"

static char safetensors_dir[64];  /* made on first use, removed by the replay test */

/* em_st_open and em_checkpoint_load of the bytes as a file: the same verdicts as from
 * memory (parse_code; apply_code and the model it left, when the parse succeeded) */
static void through_a_file(const uint8_t *data, size_t size, em_code parse_code,
                           const em_st *st, em_code apply_code, const em_real *applied,
                           bool allow_unused);

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
        through_a_file(data, size, err.code, NULL, EM_OK, NULL, false);
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
        em_code applied = em_checkpoint_apply(st, m, &lo, &err);
        if (applied != EM_OK) EM_ASSERT(!memcmp(before, p.data, p.n * sizeof(em_real)));
        through_a_file(data, size, EM_OK, st, applied, p.data, lo.allow_unused);
        em_module_free(m);
    }
    em_st_free(st);
    return 0;
}

static void through_a_file(const uint8_t *data, size_t size, em_code parse_code,
                           const em_st *st, em_code apply_code, const em_real *applied,
                           bool allow_unused) {
    if (!safetensors_dir[0] &&
        !em_test_mkdtemp_shm(safetensors_dir, sizeof safetensors_dir, "fuzz-safetensors"))
        abort();
    char path[128];
    snprintf(path, sizeof path, "%s/in.st", safetensors_dir);
    fuzz_write_file(path, data, size);
    em_st *fst;
    em_error err;
    em_code code = em_st_open(&fst, path, &err);
    EM_ASSERT(code == parse_code);
    if (code != EM_OK) return;
    EM_ASSERT(fst->n == st->n && fst->n_meta == st->n_meta);
    unsigned char buf[16384];
    for (int i = 0; i < st->n; i++) {   /* the same tensors, their bytes read from the file */
        const em_st_tensor *a = &st->tensors[i], *b = &fst->tensors[i];
        EM_ASSERT(!strcmp(a->name, b->name) && a->dtype == b->dtype && a->begin == b->begin &&
                  a->end == b->end && !b->data && a->end - a->begin <= sizeof buf);
        EM_ASSERT(em_st_read_tensor(fst, b, buf, &err) == EM_OK);
        EM_ASSERT(!memcmp(buf, a->data, a->end - a->begin));
    }
    em_st_free(fst);
    em_module *m = seed_model();
    if (!m) return;
    em_ck_load_opts lo = {.allow_unused = allow_unused};
    EM_ASSERT(em_checkpoint_load(path, m, &lo, &err) == apply_code);
    em_params p = em_module_params(m);
    EM_ASSERT(apply_code != EM_OK || !memcmp(applied, p.data, p.n * sizeof(em_real)));
    em_module_free(m);
}

#ifndef EM_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return em_fuzz_safetensors(data, size);
}
#endif

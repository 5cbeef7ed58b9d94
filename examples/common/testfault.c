/* examples/common/testfault.c — EMBER_TEST_FAULT (testfault.h). */
#include "testfault.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool em_test_fault_from_env(em_test_fault *f) {
    const char *env = getenv("EMBER_TEST_FAULT");
    return env && sscanf(env, "%3[a-z]:%ld", f->kind, &f->step) == 2;
}

void em_test_fault_hook(void *ctx, em_trainer *t, int n) {
    (void)n;
    const em_test_fault *f = ctx;
    em_tape *fresh;
    if (t->step + 1 != f->step) return;
    if (!strcmp(f->kind, "nan")) {
        t->x->data[0] = NAN;
    } else if (!strcmp(f->kind, "oom") && (fresh = em_tape_new(0)) != NULL) {
        fresh->arena->fail_after = fresh->arena->chunk_allocs + 1;
        em_tape_free(t->tape);
        t->tape = fresh;
    }
}

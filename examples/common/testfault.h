/* examples/common/testfault.h — EMBER_TEST_FAULT, a fault injected into a real run for the
 * tests (tests/mpi/test_mpi_fault.sh sets it for one process of a job, to see that the
 * others do not wait for it; tests/ablation/test_ablate_faults.sh for every run of
 * ember-ablate, to see failed runs reported as failed):
 *
 *     em_test_fault f;
 *     if (em_test_fault_from_env(&f)) { t.batch_hook = em_test_fault_hook; t.batch_ctx = &f; }
 *
 *   oom:K   from step K on, the step arena cannot grow (a fresh arena of one chunk that
 *           refuses a second, as when memory runs out in the middle of a run)
 *   nan:K   a NaN in this process's copy of batch K
 */
#ifndef EM_TESTFAULT_H
#define EM_TESTFAULT_H

#include <stdbool.h>

#include "examples/common/train.h"

typedef struct em_test_fault {
    char kind[4];
    long step;
} em_test_fault;

/* true when EMBER_TEST_FAULT names a fault (f filled) */
bool em_test_fault_from_env(em_test_fault *f);
/* the trainer's batch hook (ctx: the em_test_fault) */
void em_test_fault_hook(void *ctx, em_trainer *t, int n);

#endif

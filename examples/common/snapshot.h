/* examples/common/snapshot.h — a bit-exact copy of a model's state, for probes that must
 * not change it (Santurkar's landscape probes, Bjorck's relative-loss probe, Ioffe's
 * percentile probe through BatchNorm in training mode):
 *
 *     em_snapshot s;
 *     em_snapshot_take(&s, net);            // parameters, running statistics, counters
 *     ... move the parameters, run forwards in training mode ...
 *     em_snapshot_restore(&s, net);         // every bit as before
 *     em_snapshot_free(&s);
 */
#ifndef EM_SNAPSHOT_H
#define EM_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "layers/module.h"

typedef struct em_snapshot {
    em_real *values;     /* parameters and buffers, in state-dict order */
    size_t n_values;
    int64_t *counters;   /* num_batches_tracked and the like            */
    size_t n_counters;
} em_snapshot;

/* false when out of memory (s is then empty) */
bool em_snapshot_take(em_snapshot *s, em_module *m);
void em_snapshot_restore(const em_snapshot *s, em_module *m);
void em_snapshot_free(em_snapshot *s);

#endif

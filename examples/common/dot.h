/* examples/common/dot.h — --dot FILE of ember-mnist and ember-cifar: the graph of one
 * training step of the model, in Graphviz's DOT language (em_tape_dot, core/tape.h), for a
 * picture with `dot -Tpng FILE -o graph.png`. */
#ifndef EM_DOT_H
#define EM_DOT_H

#include "core/errors.h"
#include "examples/common/train.h"

/* One forward of a batch of zeros and the loss on the trainer's tape and tier (a fused op
 * of the fast tier shows as one box), written to path crash-safely; the model is left as it
 * was (a snapshot restores BatchNorm's running statistics). EM_OK, or an error naming the
 * file (EM_ERR_IO) or the failed step. */
em_code em_write_step_dot(em_trainer *t, const char *path, em_error *err);

#endif

/* Exercise 11, solution — the tape's backward loop (exercises.h).
 *
 * Nodes are recorded in the order the ops ran, and an op can only read outputs of ops that
 * ran before it: creation order is a topological order. Walking it from the last node to
 * the first, every node that reads a node's output has run before that node does, so the
 * gradient of its output is complete when its backward runs. */
#include "exercises.h"

int ex_backward(ex_tape *tape, ex_tensor *y, const em_real *dy) {
    em_real *g = ex_tensor_grad(tape, y);
    if (!g) return -1;
    for (size_t i = 0; i < ex_tensor_size(y); i++) g[i] += dy[i];
    for (ex_node *node = ex_tape_last(tape); node; node = ex_node_prev(node)) {
        if (!ex_tensor_has_grad(ex_node_output(node))) continue;  /* does not lead to y */
        ex_node_backward(tape, node);
        if (!ex_tape_ok(tape)) return -1;
    }
    return 0;
}

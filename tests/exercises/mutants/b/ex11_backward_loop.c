/* A WRONG solution of exercise 11, on purpose (../README.md): nodes whose output got no
 * gradient are run too. */
#include "exercises.h"

int ex_backward(ex_tape *tape, ex_tensor *y, const em_real *dy) {
    em_real *g = ex_tensor_grad(tape, y);
    if (!g) return -1;
    for (size_t i = 0; i < ex_tensor_size(y); i++) g[i] += dy[i];
    for (ex_node *node = ex_tape_last(tape); node; node = ex_node_prev(node)) {
        ex_node_backward(tape, node);
        if (!ex_tape_ok(tape)) return -1;
    }
    return 0;
}

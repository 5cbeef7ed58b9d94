/* A WRONG solution of exercise 11, on purpose (../README.md): y seeded with ones instead
 * of dy. */
#include "exercises.h"

int ex_backward(ex_tape *tape, ex_tensor *y, const em_real *dy) {
    em_real *g = ex_tensor_grad(tape, y);
    if (!g) return -1;
    for (size_t i = 0; i < ex_tensor_size(y); i++) g[i] += 1;  /* the mistake */
    (void)dy;
    for (ex_node *node = ex_tape_last(tape); node; node = ex_node_prev(node)) {
        if (!ex_tensor_has_grad(ex_node_output(node))) continue;  /* does not lead to y */
        ex_node_backward(tape, node);
        if (!ex_tape_ok(tape)) return -1;
    }
    return 0;
}

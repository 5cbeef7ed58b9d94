/* A WRONG solution of exercise 11, on purpose (../README.md): the nodes walked from the
 * first to the last. */
#include "exercises.h"

int ex_backward(ex_tape *tape, ex_tensor *y, const em_real *dy) {
    em_real *g = ex_tensor_grad(tape, y);
    if (!g) return -1;
    for (size_t i = 0; i < ex_tensor_size(y); i++) g[i] += dy[i];
    /* the mistake: first to last (the list collected, then walked forwards) */
    ex_node *nodes[256];
    int n = 0;
    for (ex_node *node = ex_tape_last(tape); node && n < 256; node = ex_node_prev(node))
        nodes[n++] = node;
    for (int k = n - 1; k >= 0; k--) {
        if (!ex_tensor_has_grad(ex_node_output(nodes[k]))) continue;
        ex_node_backward(tape, nodes[k]);
        if (!ex_tape_ok(tape)) return -1;
    }
    return 0;
}

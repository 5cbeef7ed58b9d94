/* exercises/support.c — the helpers exercises/exercises.h declares for exercises 10 and 11:
 * random numbers from ember's generator, and a view of the tape through opaque handles, so
 * that the student's files need no header of ember's. Compiled into the library of an
 * exercise build only (meson.build). */
#include "support.h"

double ex_rng_normal(ex_rng *rng) { return em_rng_normal(&rng->rng, 0.0, 1.0); }

double ex_rng_uniform(ex_rng *rng) { return em_rng_uniform(&rng->rng); }

ex_node *ex_tape_last(ex_tape *tape) { return (ex_node *)((em_tape *)tape)->last; }

ex_node *ex_node_prev(ex_node *node) { return node ? (ex_node *)((em_node *)node)->prev : NULL; }

ex_tensor *ex_node_output(ex_node *node) { return (ex_tensor *)((em_node *)node)->output; }

size_t ex_tensor_size(const ex_tensor *t) { return ((const em_tensor *)t)->size; }

bool ex_tensor_has_grad(const ex_tensor *t) { return ((const em_tensor *)t)->grad != NULL; }

/* the buffer em_node_grad would give: a leaf's own, or a zeroed arena buffer for an
 * intermediate, made now */
em_real *ex_tensor_grad(ex_tape *tape, ex_tensor *t) {
    em_tensor *x = (em_tensor *)t;
    if (x->grad) return x->grad;
    if (!x->node) return NULL;  /* a leaf without a buffer does not want a gradient */
    x->grad = em_tape_alloc((em_tape *)tape, x->size * sizeof *x->grad);
    if (x->grad)
        for (size_t i = 0; i < x->size; i++) x->grad[i] = 0;
    return x->grad;
}

/* A node whose output has no gradient is refused with a message rather than run (its
 * backward would read a NULL gradient): the tape fails, which the grader reports. A node
 * run after a failure runs (its gradients cannot be allocated, so it computes nothing),
 * so that the grader sees a walk that does not stop. */
void ex_node_backward(ex_tape *tape, ex_node *node) {
    em_tape *t = (em_tape *)tape;
    em_node *n = (em_node *)node;
    if (!n->output->grad) {
        em_tape_fail(t, EM_ERR_STATE, "ex_node_backward: node #%d (%s) was run although its "
                     "output received no gradient", n->index, em_op_name(n->op));
        return;
    }
    n->backward(t, n);
}

bool ex_tape_ok(const ex_tape *tape) { return em_tape_ok((const em_tape *)tape); }

/* core/tape.h — reverse-mode autograd on a tape (a Wengert list).
 *
 *     em_tape *tape = em_tape_new(0);                  // default arena chunk size
 *     for (int step = 0; step < steps; step++) {
 *         em_tensor *h = em_relu(tape, em_matmul(tape, x, w, false, true));
 *         em_tensor *loss = em_cross_entropy(tape, h, labels);
 *         em_backward(tape, loss);                     // w->grad += dloss/dw
 *         ...update w, zero its grad...
 *         em_tape_reset(tape);                         // all step memory recycled
 *     }
 *     em_tape_free(tape);
 *
 * Every op called with a tape allocates its output from the tape's arena and, when the
 * tape is recording and some input requires a gradient, appends a node: the op id, the
 * inputs, the output, what forward saved, and the backward function. Nodes are appended
 * in creation order, which is already a topological order, so em_backward seeds
 * dloss = 1 and calls the backward functions from the last node to the first. Backward
 * functions ACCUMULATE (+=) into input gradients; a tensor used twice gets both
 * contributions with no special case. Parameter gradients are zeroed explicitly by the
 * optimizer (zero_grad); gradients of intermediates are allocated zeroed on first use.
 *
 * Failure inside a step: an op that cannot run (its output cannot be allocated, or its
 * input is impossible, like BatchNorm training on one value per channel) returns NULL and
 * marks the tape failed with a message in tape->err. (If only its node could not be
 * recorded, it still returns its computed output, on a tape marked failed.) Every later
 * op on a failed tape returns NULL, and em_backward returns the status. Check em_tape_ok() (or the
 * em_backward status) once per step and print tape->err.msg.
 */
#ifndef EM_TAPE_H
#define EM_TAPE_H

#include <stdbool.h>
#include <stdio.h>

#include "arena.h"
#include "errors.h"
#include "tensor.h"

/* Op ids. em_op_name() gives the name; the table has exactly one entry per id. */
typedef enum em_op {
    EM_OP_ADD, EM_OP_SUB, EM_OP_MUL, EM_OP_DIV,
    EM_OP_ADD_SCALAR, EM_OP_MUL_SCALAR, EM_OP_NEG,
    EM_OP_EXP, EM_OP_LOG, EM_OP_SQRT, EM_OP_RSQRT, EM_OP_POW,
    EM_OP_RELU, EM_OP_SIGMOID, EM_OP_TANH,
    EM_OP_MATMUL, EM_OP_LINEAR,
    EM_OP_SUM, EM_OP_MEAN, EM_OP_VAR,
    EM_OP_RESHAPE, EM_OP_TRANSPOSE,
    EM_OP_CROSS_ENTROPY,
    EM_OP_CONV2D, EM_OP_MAXPOOL2D, EM_OP_AVGPOOL2D, EM_OP_GLOBAL_AVGPOOL,
    EM_OP_DROPOUT, EM_OP_BATCHNORM,
    EM_OP_CUSTOM,              /* for ops defined outside the library (tests, tutorials) */
    EM_OP_COUNT
} em_op;

const char *em_op_name(em_op op);

#define EM_MAX_INPUTS 4

typedef struct em_tape em_tape;
typedef struct em_node em_node;

/* Reads node->output->grad (never NULL when called) and adds into the inputs'
 * gradients, obtained with em_node_grad(). */
typedef void (*em_backward_fn)(em_tape *tape, em_node *node);

struct em_node {
    em_op op;
    int index;                          /* 0, 1, 2, ... in creation order              */
    int n_inputs;
    em_tensor *inputs[EM_MAX_INPUTS];
    em_tensor *output;
    em_backward_fn backward;
    void *saved;                        /* what forward kept for backward (arena)     */
    double scalar;                      /* an op's scalar argument (exponent, ...)    */
    int args[6];                        /* an op's integer arguments (axes, stride...)*/
    em_node *prev;                      /* the node recorded before this one          */
};

struct em_tape {
    em_arena *arena;
    em_node *last;          /* most recent node; walk ->prev for reverse order */
    int n_nodes;
    bool recording;         /* false: ops compute but record nothing           */
    bool backward_done;     /* em_backward ran since the last reset            */
    em_code status;         /* EM_OK, or why the step failed (EM_ERR_NOMEM, ...) */
    em_error err;           /* the message that goes with a failed status      */
};

/* chunk_bytes: arena chunk size (0: 1 MiB). NULL when out of memory. */
em_tape *em_tape_new(size_t chunk_bytes);
void em_tape_free(em_tape *tape);
/* Forget all nodes and recycle all step memory. Parameters are untouched. */
void em_tape_reset(em_tape *tape);
void em_tape_set_recording(em_tape *tape, bool on);
static inline bool em_tape_ok(const em_tape *tape) { return tape->status == EM_OK; }
/* Mark the step failed (the first failure wins) and return NULL, for an op to
 * `return em_tape_fail(tape, EM_ERR_STATE, "...", ...);`. */
em_tensor *em_tape_fail(em_tape *tape, em_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Step memory from the arena (64-byte aligned); NULL and tape failed when out of memory. */
void *em_tape_alloc(em_tape *tape, size_t bytes);
/* An arena tensor of the given shape, data uninitialised, no gradient yet. */
em_tensor *em_tape_tensor(em_tape *tape, int ndim, const int *shape);
em_tensor *em_tape_tensor_like(em_tape *tape, const em_tensor *x);
/* A view: a new tensor header over x's data with another shape of the same size. */
em_tensor *em_tape_view(em_tape *tape, em_tensor *x, int ndim, const int *shape);

/* Append a node for `out` = op(inputs...) if the tape records and any input requires a
 * gradient; then `out` requires a gradient too. Returns the node (to attach saved data
 * and arguments) or NULL when nothing was recorded. n_inputs <= EM_MAX_INPUTS. */
em_node *em_tape_record(em_tape *tape, em_op op, em_tensor *out, em_backward_fn backward,
                        int n_inputs, ...);

/* During backward: the gradient buffer of input i of node, allocated and zeroed on first
 * use for intermediates; NULL when that input is absent (an optional bias) or does not
 * require a gradient. */
em_real *em_node_grad(em_tape *tape, em_node *node, int i);
/* The same, for a backward that can write the gradient instead of adding to it: when
 * the buffer is new, *fresh is true and it is NOT zeroed — the caller must then store
 * every element (dx = ... rather than dx += ...). That saves a pass over memory per
 * activation gradient (most tensors have one consumer). *fresh is false when the buffer
 * already holds gradient (another consumer ran first, or a leaf's own grad): add. */
em_real *em_node_grad_fresh(em_tape *tape, em_node *node, int i, bool *fresh);

/* dloss/dloss = 1, then every node's backward in reverse creation order. loss must have
 * one element. Once per recorded graph: a second call before em_tape_reset aborts. */
em_code em_backward(em_tape *tape, em_tensor *loss);
/* The same with an arbitrary upstream gradient dy for y (y->size values): computes the
 * vector-Jacobian product dy^T dy/dinputs. Used by gradient checking. */
em_code em_backward_from(em_tape *tape, em_tensor *y, const em_real *dy);

/* Print the graph, one node per line, first to last:
 *   #2 matmul  (64, 10) <- #1 (64, 128), w2 (10, 128)       */
void em_tape_print(const em_tape *tape, FILE *out);

#endif

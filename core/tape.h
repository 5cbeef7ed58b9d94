/** core/tape.h — reverse-mode autograd on a tape (a Wengert list).
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
 *
 * @file
 */
#ifndef EM_TAPE_H
#define EM_TAPE_H

#include <stdbool.h>
#include <stdio.h>

#include "arena.h"
#include "errors.h"
#include "tensor.h"

/** Op ids. em_op_name() gives the name; the table has exactly one entry per id. */
typedef enum em_op {
    EM_OP_ADD,               /**< em_add()                                        */
    EM_OP_SUB,               /**< em_sub()                                        */
    EM_OP_MUL,               /**< em_mul()                                        */
    EM_OP_DIV,               /**< em_div()                                        */
    EM_OP_ADD_SCALAR,        /**< em_add_scalar()                                 */
    EM_OP_MUL_SCALAR,        /**< em_mul_scalar()                                 */
    EM_OP_NEG,               /**< em_neg()                                        */
    EM_OP_EXP,               /**< em_exp()                                        */
    EM_OP_LOG,               /**< em_log()                                        */
    EM_OP_SQRT,              /**< em_sqrt()                                       */
    EM_OP_RSQRT,             /**< em_rsqrt()                                      */
    EM_OP_POW,               /**< em_pow()                                        */
    EM_OP_RELU,              /**< em_relu()                                       */
    EM_OP_SIGMOID,           /**< em_sigmoid()                                    */
    EM_OP_TANH,              /**< em_tanh()                                       */
    EM_OP_MATMUL,            /**< em_matmul()                                     */
    EM_OP_LINEAR,            /**< em_linear()                                     */
    EM_OP_SUM,               /**< em_sum()                                        */
    EM_OP_MEAN,              /**< em_mean()                                       */
    EM_OP_VAR,               /**< em_var()                                        */
    EM_OP_RESHAPE,           /**< em_reshape(), em_flatten()                      */
    EM_OP_TRANSPOSE,         /**< em_transpose()                                  */
    EM_OP_CROSS_ENTROPY,     /**< em_cross_entropy()                              */
    EM_OP_CONV2D,            /**< em_conv2d()                                     */
    EM_OP_CONV2D_RELU,       /**< the fast tier's fused conv2d + relu             */
    EM_OP_CONV2D_RELU_POOL,  /**< the fast tier's fused conv2d + relu + maxpool2d  */
    EM_OP_MAXPOOL2D,         /**< em_maxpool2d()                                  */
    EM_OP_AVGPOOL2D,         /**< em_avgpool2d()                                  */
    EM_OP_GLOBAL_AVGPOOL,    /**< em_global_avgpool()                             */
    EM_OP_DROPOUT,           /**< em_dropout()                                    */
    EM_OP_BATCHNORM,         /**< em_batchnorm()                                  */
    EM_OP_BATCHNORM_RELU,    /**< the fast tier's fused batchnorm + relu          */
    EM_OP_GROUPNORM,         /**< em_groupnorm() (GroupNorm, LayerNorm, InstanceNorm) */
    EM_OP_CUSTOM,            /**< for ops defined outside the library (tests, tutorials) */
    EM_OP_COUNT              /**< the number of op ids (not an op)                */
} em_op;

/** The name of an op id, as em_tape_print() shows it: "matmul", "batchnorm", ...
 * @param op  an op id
 * @return a static string; "?" for a value that is not an op id */
const char *em_op_name(em_op op);

/** The most inputs a node records (em_tape_record()'s n_inputs). */
#define EM_MAX_INPUTS 4

/** The tape: see the top of core/tape.h. */
typedef struct em_tape em_tape;
/** A recorded op: see struct em_node. */
typedef struct em_node em_node;

/** Reads node->output->grad (never NULL when called) and adds into the inputs'
 * gradients, obtained with em_node_grad().
 * @param tape  the tape being walked (for em_node_grad and scratch memory)
 * @param node  the node whose output gradient is complete */
typedef void (*em_backward_fn)(em_tape *tape, em_node *node);

/** One recorded op: what backward needs to send the output's gradient to the inputs. */
struct em_node {
    em_op op;                           /**< which op (for em_tape_print)             */
    int index;                          /**< 0, 1, 2, ... in creation order           */
    int n_inputs;                       /**< entries used in inputs                   */
    em_tensor *inputs[EM_MAX_INPUTS];   /**< the op's inputs; NULL for an absent one  */
    em_tensor *output;                  /**< the op's result                          */
    em_backward_fn backward;            /**< sends output->grad to the inputs         */
    void *saved;                        /**< what forward kept for backward (arena)   */
    double scalar;                      /**< an op's scalar argument (exponent, ...)  */
    int args[6];                        /**< an op's integer arguments (axes, stride...) */
    em_node *prev;                      /**< the node recorded before this one        */
};

struct em_kernels;

/** The tape: the nodes of one step and the arena every tensor of the step lives in. */
struct em_tape {
    em_arena *arena;        /**< step memory: outputs, saved buffers, nodes     */
    const struct em_kernels *kernels;  /**< the tier its ops compute with (core/kernels.h) */
    em_node *last;          /**< most recent node; walk ->prev for reverse order */
    int n_nodes;            /**< nodes recorded since the last reset            */
    bool recording;         /**< false: ops compute but record nothing          */
    bool backward_done;     /**< em_backward ran since the last reset           */
    em_code status;         /**< EM_OK, or why the step failed (EM_ERR_NOMEM, ...) */
    em_error err;           /**< the message that goes with a failed status     */
};

/** A new, recording tape with its arena, computing with em_kernels_default()'s tier
 * (core/kernels.h: EMBER_KERNELS, else the build's default).
 * @param chunk_bytes  arena chunk size (0: 1 MiB)
 * @return the tape, or NULL when out of memory */
em_tape *em_tape_new(size_t chunk_bytes);
/** The kernels the tape's ops compute with from now on: between steps only (a node's
 * backward must run the tier its forward ran; aborts when nodes are recorded).
 * @param tape     the tape
 * @param kernels  em_kernels_reference(), em_kernels_fast(), or a table of one's own */
void em_tape_set_kernels(em_tape *tape, const struct em_kernels *kernels);
/** Free the tape and its arena: every tensor made on it is gone.
 * @param tape  the tape; NULL is allowed and does nothing */
void em_tape_free(em_tape *tape);
/** Forget all nodes and recycle all step memory. Parameters are untouched. A failed
 * status is cleared too: the next step starts afresh.
 * @param tape  the tape */
void em_tape_reset(em_tape *tape);
/** Switch recording on or off (evaluation: off; ops still compute and use the arena).
 * @param tape  the tape
 * @param on    true: record nodes for backward */
void em_tape_set_recording(em_tape *tape, bool on);
/** Whether the step is still good.
 * @param tape  the tape
 * @return true while no op of this step has failed */
static inline bool em_tape_ok(const em_tape *tape) { return tape->status == EM_OK; }
/** Mark the step failed (the first failure wins) and return NULL, for an op to
 * `return em_tape_fail(tape, EM_ERR_STATE, "...", ...);`.
 * @param tape  the tape
 * @param code  why (EM_ERR_NOMEM, EM_ERR_STATE, ...)
 * @param fmt   printf format of the message for tape->err
 * @param ...   the format's arguments
 * @return NULL */
em_tensor *em_tape_fail(em_tape *tape, em_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Step memory from the arena (64-byte aligned); NULL and tape failed when out of memory.
 * @param tape   the tape
 * @param bytes  the size
 * @return uninitialised memory valid until em_tape_reset(), or NULL */
void *em_tape_alloc(em_tape *tape, size_t bytes);
/** An arena tensor of the given shape, data uninitialised, no gradient yet.
 * @param tape   the tape
 * @param ndim   number of dimensions
 * @param shape  ndim dimensions
 * @return the tensor, or NULL (tape failed) when out of memory */
em_tensor *em_tape_tensor(em_tape *tape, int ndim, const int *shape);
/** An arena tensor of x's shape, data uninitialised, no gradient yet.
 * @param tape  the tape
 * @param x     the tensor whose shape to copy
 * @return the tensor, or NULL (tape failed) when out of memory */
em_tensor *em_tape_tensor_like(em_tape *tape, const em_tensor *x);
/** A view: a new tensor header over x's data with another shape of the same size.
 * @param tape   the tape (holds the header)
 * @param x      the tensor to view; its data is shared, not copied
 * @param ndim   number of dimensions of the view
 * @param shape  ndim dimensions; their product must equal x->size (EM_ASSERT)
 * @return the view, or NULL when out of memory */
em_tensor *em_tape_view(em_tape *tape, em_tensor *x, int ndim, const int *shape);

/** Append a node for `out` = op(inputs...) if the tape records and any input requires a
 * gradient; then `out` requires a gradient too. Returns the node (to attach saved data
 * and arguments) or NULL when nothing was recorded. n_inputs <= EM_MAX_INPUTS.
 * @param tape      the tape
 * @param op        the op id (EM_OP_CUSTOM for an op outside the library)
 * @param out       the op's output, already computed
 * @param backward  what sends out's gradient to the inputs
 * @param n_inputs  how many input tensors follow, 0..EM_MAX_INPUTS
 * @param ...       the inputs, each an em_tensor * (NULL for an absent optional one)
 * @return the node, or NULL when nothing was recorded (not recording, no input needs a
 *         gradient, or the tape failed) */
em_node *em_tape_record(em_tape *tape, em_op op, em_tensor *out, em_backward_fn backward,
                        int n_inputs, ...);

/** During backward: the gradient buffer of input i of node, allocated and zeroed on first
 * use for intermediates; NULL when that input is absent (an optional bias) or does not
 * require a gradient.
 * @param tape  the tape
 * @param node  the node being differentiated
 * @param i     the input, 0 <= i < node->n_inputs
 * @return the buffer to add into (+=), or NULL */
em_real *em_node_grad(em_tape *tape, em_node *node, int i);
/** The same, for a backward that can write the gradient instead of adding to it: when
 * the buffer is new, *fresh is true and it is NOT zeroed — the caller must then store
 * every element (dx = ... rather than dx += ...). That saves a pass over memory per
 * activation gradient (most tensors have one consumer). *fresh is false when the buffer
 * already holds gradient (another consumer ran first, or a leaf's own grad): add.
 * @param tape   the tape
 * @param node   the node being differentiated
 * @param i      the input, 0 <= i < node->n_inputs
 * @param fresh  set to true when the buffer is new and unzeroed (store), else false (add)
 * @return the buffer, or NULL */
em_real *em_node_grad_fresh(em_tape *tape, em_node *node, int i, bool *fresh);

/** dloss/dloss = 1, then every node's backward in reverse creation order. loss must have
 * one element. Once per recorded graph: a second call before em_tape_reset aborts.
 * @param tape  the tape the loss was computed on
 * @param loss  a one-element tensor; NULL (what an op returns on a failed tape) gives the
 *              tape's failure status, or EM_ERR_STATE on a tape that has not failed
 * @return EM_OK; the tape's status when the step had failed (an op out of memory, BatchNorm
 *         on one value per channel, ...); EM_ERR_STATE when loss depends on no tensor that
 *         requires a gradient. tape->err says why. */
em_code em_backward(em_tape *tape, em_tensor *loss);
/** The same with an arbitrary upstream gradient dy for y (y->size values): computes the
 * vector-Jacobian product dy^T dy/dinputs. Used by gradient checking.
 * @param tape  the tape y was computed on
 * @param y     the tensor to differentiate
 * @param dy    y->size values: the upstream gradient
 * @return as em_backward() */
em_code em_backward_from(em_tape *tape, em_tensor *y, const em_real *dy);

/** Print the graph, one node per line, first to last:
 *
 *       #2 matmul  (64, 10) <- #1 (64, 128), w2 (10, 128)
 *
 * A fused op of the fast tier names the ops it stands for:
 *
 *       #0 conv2d_relu_pool = conv2d + relu + maxpool2d  (64, 16, 14, 14) <- x (...), ...
 *
 * @param tape  the tape
 * @param out   where to print (stdout, a file) */
void em_tape_print(const em_tape *tape, FILE *out);

/** Write the graph in Graphviz's DOT language, for a picture of the step
 * (`dot -Tpng tape.dot -o tape.png`): one box per node, first to last from the top, with
 * its op and output shape (a fused op of the fast tier lists the ops it stands for), one
 * ellipse per tensor that no node made (the input batch, each parameter: its name when it
 * has one), and an arrow from what each node reads to the node. The output is the same for
 * the same graph (leaves are numbered in the order the nodes first read them).
 * @param tape  the tape
 * @param out   where to write (a file, stdout)
 * @return EM_OK; EM_ERR_NOMEM when the node list cannot be made; EM_ERR_IO when a write
 *         failed (ferror(out)) */
em_code em_tape_dot(const em_tape *tape, FILE *out);

#endif

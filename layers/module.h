/** layers/module.h — the module interface: a small vtable and a two-field base struct.
 *
 *     em_module *net = em_sequential_new(4, (em_module *[]){
 *         em_linear_new(784, 100, false), em_batchnorm1d_new(100, NULL),
 *         em_sigmoid_new(), em_linear_new(100, 10, true)});
 *     em_module_init(net, &rng, NULL);            // PyTorch's default initialization
 *     em_module_train(net, true);                 // BatchNorm uses batch statistics
 *     em_tensor *logits = em_module_forward(net, tape, x);
 *     ...
 *     em_module_free(net);                         // frees the children too
 *
 * State. Each module exposes its state as named entries: parameters (trained), buffers
 * (running statistics) and counters (num_batches_tracked, an int64). em_module_visit walks
 * a module tree and names every entry as PyTorch's state_dict() would for the same
 * nn.Sequential: "0.weight", "1.running_mean", "1.num_batches_tracked", ...
 *
 * Memory. A module owns its parameters in one block (values) plus one block
 * (gradients). em_sequential_new moves all of its children's parameters into one block
 * for the whole model, in state-dict order, so zero_grad is one memset and an optimizer
 * step is one flat loop: em_module_params() returns that block.
 *
 * @file
 */
#ifndef EM_MODULE_H
#define EM_MODULE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/rng.h"
#include "../core/tape.h"
#include "../core/tensor.h"
#include "init.h"

/** A module: see struct em_module. */
typedef struct em_module em_module;

/** What a state entry is. */
typedef enum em_entry_kind {
    EM_ENTRY_PARAM,    /**< trained by the optimizer; has a gradient                 */
    EM_ENTRY_BUFFER,   /**< state that is not trained (running mean and variance)     */
    EM_ENTRY_COUNTER,  /**< an int64 count (num_batches_tracked)                      */
} em_entry_kind;

/** One named piece of a module's state, as a state dict holds it. */
typedef struct em_entry {
    const char *name;      /**< local name: "weight", "bias", "running_mean", ...       */
    em_entry_kind kind;    /**< parameter, buffer or counter                             */
    em_tensor *tensor;     /**< PARAM and BUFFER                                         */
    int64_t *counter;      /**< COUNTER                                                  */
} em_entry;

/** The most entries one module has (em_module_ops::entries fills up to this many). */
#define EM_MAX_ENTRIES 8

/** What a kind of module does: the vtable every module points at. */
typedef struct em_module_ops {
    const char *kind;      /**< "Linear", "BatchNorm2d", ...                             */
    /** y = module(x); NULL when the tape failed (em_tape_ok tells, tape->err says why) */
    em_tensor *(*forward)(em_module *m, em_tape *tape, em_tensor *x);
    /** free the module itself (its parameter block is freed by em_module_free) */
    void (*free)(em_module *m);
    /** this module's own entries (not its children's), in state-dict order; may be NULL */
    int (*entries)(em_module *m, em_entry *out);
    /** child i or NULL past the last; may be NULL (no children) */
    em_module *(*child)(em_module *m, int i);
    /** child i's name in the state dict ("branch"); may be NULL: the children are named
     * by their index, as nn.Sequential's */
    const char *(*child_name)(const em_module *m, int i);
    /** (re)initialize parameters and buffers; may be NULL (nothing to initialize) */
    void (*init)(em_module *m, em_rng *rng, const em_init *init);
    /** "Conv2d(1, 16, kernel=3, stride=1, pad=1, bias=false)" */
    void (*describe)(const em_module *m, char *buf, size_t len);
    /** the module's own random stream (Dropout's masks); may be NULL (none) */
    em_rng *(*rng)(em_module *m);
} em_module_ops;

/** The base of every module: a module type's struct starts with it, so an em_module *
 * points at the whole module. */
struct em_module {
    const em_module_ops *ops;   /**< what this kind of module does                */
    bool training;          /**< set through em_module_train, which recurses          */
    em_real *param_data;    /**< this module's parameter block, or NULL when a parent
                                 (a Sequential) holds it; the block is owned here      */
    em_real *param_grad;    /**< the gradients of the block, the same layout          */
    size_t n_params;        /**< elements in the block (only while param_data is set) */
};

/** y = m(x): the module's forward on the tape.
 * @param m     the module
 * @param tape  the tape of this step
 * @param x     the input; NULL (a failed earlier op) is passed through
 * @return the output, or NULL when the tape failed (em_tape_ok() tells, tape->err says
 *         why) */
em_tensor *em_module_forward(em_module *m, em_tape *tape, em_tensor *x);
/** Free a module, its parameter block and (for a Sequential) its children.
 * @param m  the module; NULL is allowed and does nothing */
void em_module_free(em_module *m);
/** Training or evaluation mode for the module and all its children (BatchNorm: batch or
 * running statistics; Dropout: on or off).
 * @param m         the module
 * @param training  true: training mode */
void em_module_train(em_module *m, bool training);
/** Initialize every parameter and buffer of the tree, children in order. init NULL:
 * PyTorch's defaults.
 * @param m     the module
 * @param rng   the random stream, advanced
 * @param init  the rule (layers/init.h), or NULL */
void em_module_init(em_module *m, em_rng *rng, const em_init *init);

/** Called for every entry of a module tree.
 * @param ctx    em_module_visit()'s ctx
 * @param name   the full state-dict name, "3.running_var"
 * @param entry  the entry
 * @return true to go on, false to stop */
typedef bool (*em_visit_fn)(void *ctx, const char *name, const em_entry *entry);
/** Calls fn(ctx, full_name, entry) for every entry of the tree in state-dict order.
 * Stops early and returns false when fn returns false.
 * @param m    the root module
 * @param fn   the callback
 * @param ctx  passed to fn
 * @return true when every entry was visited */
bool em_module_visit(em_module *m, em_visit_fn fn, void *ctx);
/** The entry called `name` ("3.running_var"), or false.
 * @param m     the root module
 * @param name  the full state-dict name
 * @param out   receives the entry when found
 * @return whether it was found */
bool em_module_find(em_module *m, const char *name, em_entry *out);
/** The random streams modules own (Dropout's masks), in tree order: state that is not in
 * the state dict (PyTorch keeps it in its global generator) but that a bit-identical resume
 * must restore — save each as an extra, e.g. EM_CK_RNG("rng.module.0", out[0]) (see
 * io/checkpoint.h). Fills out[0..min(count, max)) and returns the count.
 * @param m    the root module
 * @param out  receives up to max pointers
 * @param max  entries available at out
 * @return the number of streams in the tree (may exceed max) */
int em_module_rngs(em_module *m, em_rng **out, int max);
/** Number of trainable scalars.
 * @param m  the root module
 * @return the total size of its parameters (not buffers) */
size_t em_module_param_count(em_module *m);

/** The module's parameter block, for an optimizer.
 * @param m  a module that owns its block (a Sequential, or a layer on its own)
 * @return data, grad and n; all NULL / 0 when m's parameters are held by a parent */
em_params em_module_params(em_module *m);
/** grad[0..n) = 0 for the module's block: one memset.
 * @param m  a module that owns its block */
void em_module_zero_grad(em_module *m);

/** The module's description and parameter count, then one line per child (its index and
 * description), as PyTorch prints a model, each run of a Sequential's fused plan marked.
 * Shapes are not printed: they come at run time.
 * @param m    the root module
 * @param out  where to print */
void em_module_print(em_module *m, FILE *out);

/* ---- for module implementations ----------------------------------------------------- */
/** Allocate one block for n tensors of the given shapes (shapes[i] has ndims[i] dims),
 * zeroed, wrap them, and make the module own the block. false when out of memory.
 * @param m        the module (its param_data, param_grad and n_params are set)
 * @param n        how many tensors
 * @param tensors  the n headers to wrap around the block, with gradients
 * @param ndims    n dimension counts
 * @param shapes   n shapes
 * @return true, or false when out of memory (nothing allocated) */
bool em_module_alloc_params(em_module *m, int n, em_tensor *const *tensors,
                            const int *ndims, const int (*shapes)[EM_MAX_DIMS]);
/** Free the module's parameter block (when it owns one) and forget it.
 * @param m  the module */
void em_module_free_params(em_module *m);
/** Move every parameter of m's tree (its children's blocks) into one new block owned by
 * m, in state-dict order, and free the children's blocks: what a container's constructor
 * does last (em_sequential_new, em_residual_new).
 * @param m  the root of the tree, owning no block yet
 * @return true, or false when out of memory (nothing changed) */
bool em_module_gather_params(em_module *m);

/* ---- Sequential ---------------------------------------------------------------------- */
/** Takes ownership of the n modules (also on failure: they are freed). Moves all their
 * parameters into one block. NULL when out of memory.
 * @param n        how many modules
 * @param modules  n modules, each used once (a NULL one, from a failed constructor, makes
 *                 the call fail and free the others)
 * @return the Sequential, or NULL */
em_module *em_sequential_new(int n, em_module *const *modules);
/** How many modules a Sequential holds.
 * @param m  a Sequential (anything else is a programmer error)
 * @return n */
int em_sequential_len(const em_module *m);
/** Module i of a Sequential.
 * @param m  a Sequential
 * @param i  the index
 * @return the module, or NULL when i is out of range */
em_module *em_sequential_at(em_module *m, int i);
/** Whether a Sequential may run its fused plan. When a Sequential is built, it looks once
 * for the runs of modules that the fast tier has one op for (layers/fusion.c): a Conv2d, a
 * ReLU and a MaxPool2d(2, 2); a Conv2d and a ReLU; a BatchNorm and a ReLU. On a tape
 * whose kernels allow fusion (em_kernels::fuse: the fast tier) each run is one op; on the
 * reference tier, or with fusion off, the modules run one by one. The results are the same
 * either way, exactly; off, the tape shows the ops separately (em_tape_print), as a
 * lecture may want. On by default.
 * @param m   a Sequential
 * @param on  fuse or not */
void em_sequential_fuse(em_module *m, bool on);
/** @param m  a module
 * @return whether m is a ReLU module (em_relu_new) */
bool em_module_is_relu(const em_module *m);
/** @param m  a module
 * @return whether m is a MaxPool2d with a 2x2 window and stride 2 (NULL: false) */
bool em_module_is_maxpool2x2(const em_module *m);

#endif

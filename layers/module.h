/* layers/module.h — the module interface: a small vtable and a two-field base struct.
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

typedef struct em_module em_module;

typedef enum em_entry_kind {
    EM_ENTRY_PARAM,    /* trained by the optimizer; has a gradient                   */
    EM_ENTRY_BUFFER,   /* state that is not trained (running mean and variance)       */
    EM_ENTRY_COUNTER,  /* an int64 count (num_batches_tracked)                        */
} em_entry_kind;

typedef struct em_entry {
    const char *name;      /* local name: "weight", "bias", "running_mean", ...         */
    em_entry_kind kind;
    em_tensor *tensor;     /* PARAM and BUFFER                                           */
    int64_t *counter;      /* COUNTER                                                    */
} em_entry;

#define EM_MAX_ENTRIES 8

typedef struct em_module_ops {
    const char *kind;      /* "Linear", "BatchNorm2d", ...                               */
    /* y = module(x); NULL when the tape failed (em_tape_ok tells, tape->err says why) */
    em_tensor *(*forward)(em_module *m, em_tape *tape, em_tensor *x);
    void (*free)(em_module *m);
    /* this module's own entries (not its children's), in state-dict order; may be NULL */
    int (*entries)(em_module *m, em_entry *out);
    /* child i or NULL past the last; may be NULL (no children) */
    em_module *(*child)(em_module *m, int i);
    /* (re)initialize parameters and buffers; may be NULL (nothing to initialize) */
    void (*init)(em_module *m, em_rng *rng, const em_init *init);
    /* "Conv2d(1, 16, kernel=3, stride=1, pad=1, bias=false)" */
    void (*describe)(const em_module *m, char *buf, size_t len);
    /* the module's own random stream (Dropout's masks); may be NULL (none) */
    em_rng *(*rng)(em_module *m);
} em_module_ops;

struct em_module {
    const em_module_ops *ops;
    bool training;          /* set through em_module_train, which recurses            */
    em_real *param_data;    /* this module's parameter block, or NULL when a parent   */
    em_real *param_grad;    /*   (a Sequential) holds it; the block is owned here     */
    size_t n_params;        /*   only while param_data is non-NULL                    */
};

em_tensor *em_module_forward(em_module *m, em_tape *tape, em_tensor *x);
void em_module_free(em_module *m);
void em_module_train(em_module *m, bool training);
/* Initialize every parameter and buffer of the tree, children in order. init NULL:
 * PyTorch's defaults. */
void em_module_init(em_module *m, em_rng *rng, const em_init *init);

/* Calls fn(ctx, full_name, entry) for every entry of the tree in state-dict order.
 * Stops early and returns false when fn returns false. */
typedef bool (*em_visit_fn)(void *ctx, const char *name, const em_entry *entry);
bool em_module_visit(em_module *m, em_visit_fn fn, void *ctx);
/* The entry called `name` ("3.running_var"), or false. */
bool em_module_find(em_module *m, const char *name, em_entry *out);
/* The random streams modules own (Dropout's masks), in tree order: state that is not in
 * the state dict (PyTorch keeps it in its global generator) but that a bit-identical resume
 * must restore — save each as an extra, e.g. EM_CK_RNG("rng.module.0", out[0]) (see
 * io/checkpoint.h). Fills out[0..min(count, max)) and returns the count. */
int em_module_rngs(em_module *m, em_rng **out, int max);
/* Number of trainable scalars. */
size_t em_module_param_count(em_module *m);

/* The model's contiguous parameter block: data[n] and grad[n]. */
typedef struct em_params {
    em_real *data;
    em_real *grad;
    size_t n;
} em_params;
em_params em_module_params(em_module *m);
void em_module_zero_grad(em_module *m);

/* One line per module: index, description, output of nothing (shapes come at run time). */
void em_module_print(em_module *m, FILE *out);

/* ---- for module implementations ----------------------------------------------------- */
/* Allocate one block for n tensors of the given shapes (shapes[i] has ndims[i] dims),
 * zeroed, wrap them, and make the module own the block. false when out of memory. */
bool em_module_alloc_params(em_module *m, int n, em_tensor *const *tensors,
                            const int *ndims, const int (*shapes)[EM_MAX_DIMS]);
void em_module_free_params(em_module *m);

/* ---- Sequential ---------------------------------------------------------------------- */
/* Takes ownership of the n modules (also on failure: they are freed). Moves all their
 * parameters into one block. NULL when out of memory. */
em_module *em_sequential_new(int n, em_module *const *modules);
int em_sequential_len(const em_module *m);
em_module *em_sequential_at(em_module *m, int i);

#endif

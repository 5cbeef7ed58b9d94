/* core/tensor.h — n-d tensors of em_real (float; double in the gradcheck build).
 *
 * Who owns memory — the one rule:
 *   A tensor made by an op on a tape (every activation, every intermediate, every
 *   gradient of an intermediate) lives in that tape's arena and dies at em_tape_reset();
 *   nobody frees it. A tensor made with em_tensor_new() (inputs you fill, parameters of a
 *   hand-written model) is yours: em_tensor_free() it. Modules own their parameters and
 *   buffers in contiguous blocks and free them with the module. A view (reshape,
 *   flatten) shares its source's data and owns nothing. Nothing is reference-counted.
 *
 *     int shape[2] = {4, 3};
 *     em_tensor *w = em_tensor_new(2, shape, EM_REQUIRES_GRAD);  // data and grad zeroed
 *     em_tensor_fill(w, 0.5f);
 *     ...
 *     em_tensor_free(w);
 *
 * Layout: row-major (C order), images NCHW. Up to EM_MAX_DIMS dimensions.
 */
#ifndef EM_TENSOR_H
#define EM_TENSOR_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

/* The element type. The library is built twice from the same sources: `ember` with
 * float, and `ember_f64` with EM_DOUBLE defined, where every tensor, kernel and GEMM is
 * double. The double build exists for gradient checking: central differences in double
 * have errors near 1e-10, small enough to expose an O(1/N) mistake in a backward. */
#ifdef EM_DOUBLE
typedef double em_real;
#define EM_REAL_NAME "float64"
#else
typedef float em_real;
#define EM_REAL_NAME "float32"
#endif

#define EM_MAX_DIMS 6

enum {
    EM_REQUIRES_GRAD = 1u << 0,  /* backward computes dL/dthis                          */
    EM_OWNS_DATA = 1u << 1,      /* em_tensor_free releases data (and grad)             */
};

struct em_node;

typedef struct em_tensor {
    em_real *data;               /* size elements, row-major                            */
    em_real *grad;               /* same shape as data; NULL until a gradient exists    */
    int ndim;
    int shape[EM_MAX_DIMS];
    size_t size;                 /* product of shape                                    */
    size_t capacity;             /* elements behind data (>= size: a batch tensor may be
                                    shrunk for a short last batch and grown back)       */
    unsigned flags;              /* EM_REQUIRES_GRAD, EM_OWNS_DATA                      */
    struct em_node *node;        /* the tape node that made this tensor; NULL: a leaf   */
    const char *name;            /* for em_tape_print; may be NULL                      */
} em_tensor;

/* Heap tensor, data zeroed; grad allocated (zeroed) iff flags has EM_REQUIRES_GRAD.
 * NULL when out of memory. */
em_tensor *em_tensor_new(int ndim, const int *shape, unsigned flags);
void em_tensor_free(em_tensor *t);

/* Describe memory someone else owns (a module's parameter block, an arena buffer).
 * grad may be NULL. */
void em_tensor_wrap(em_tensor *t, em_real *data, em_real *grad, int ndim, const int *shape);

/* Number of elements of a shape. */
size_t em_shape_size(int ndim, const int *shape);
bool em_shape_equal(const em_tensor *a, const em_tensor *b);
/* "(64, 16, 28, 28)" into buf; returns buf. */
char *em_shape_str(const em_tensor *t, char *buf, size_t len);

static inline bool em_requires_grad(const em_tensor *t) {
    return (t->flags & EM_REQUIRES_GRAD) != 0;
}

void em_tensor_fill(em_tensor *t, em_real value);
/* copies values (not the gradient) from a float array of t->size elements */
void em_tensor_set(em_tensor *t, const float *values);
void em_tensor_zero_grad(em_tensor *t);

#endif

/** core/tensor.h — n-d tensors of em_real (float; double in the gradcheck build).
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
 *
 * @file
 */
#ifndef EM_TENSOR_H
#define EM_TENSOR_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

/** The element type. The library is built twice from the same sources: `ember` with
 * float, and `ember_f64` with EM_DOUBLE defined, where every tensor, kernel and GEMM is
 * double. The double build exists for gradient checking: central differences in double
 * have errors near 1e-10, small enough to expose an O(1/N) mistake in a backward. */
#ifdef EM_DOUBLE
typedef double em_real;
#define EM_REAL_NAME "float64"
#else
typedef float em_real;
/** em_real's name as PyTorch and NumPy spell it: "float32", or "float64" in ember_f64. */
#define EM_REAL_NAME "float32"
#endif

/** The most dimensions a tensor can have. */
#define EM_MAX_DIMS 6

/** Bits of em_tensor::flags. */
enum {
    EM_REQUIRES_GRAD = 1u << 0,  /**< backward computes dL/dthis                        */
    EM_OWNS_DATA = 1u << 1,      /**< em_tensor_free releases data (and grad)           */
};

struct em_node;

/** An n-d array of em_real with an optional gradient of the same shape. */
typedef struct em_tensor {
    em_real *data;               /**< size elements, row-major                          */
    em_real *grad;               /**< same shape as data; NULL until a gradient exists  */
    int ndim;                    /**< number of dimensions, 0..EM_MAX_DIMS              */
    int shape[EM_MAX_DIMS];      /**< the first ndim entries are the dimensions         */
    size_t size;                 /**< product of shape                                  */
    size_t capacity;             /**< elements behind data (>= size: a batch tensor may
                                      be shrunk for a short last batch and grown back)  */
    unsigned flags;              /**< EM_REQUIRES_GRAD, EM_OWNS_DATA                    */
    struct em_node *node;        /**< the tape node that made this tensor; NULL: a leaf */
    const char *name;            /**< for em_tape_print; may be NULL                    */
} em_tensor;

/** Heap tensor, data zeroed; grad allocated (zeroed) iff flags has EM_REQUIRES_GRAD.
 * The tensor owns its memory (EM_OWNS_DATA): em_tensor_free() releases it.
 * @param ndim   number of dimensions, 0..EM_MAX_DIMS (0: a scalar of one element)
 * @param shape  ndim dimensions, each >= 0
 * @param flags  0 or EM_REQUIRES_GRAD
 * @return the tensor, or NULL when out of memory */
em_tensor *em_tensor_new(int ndim, const int *shape, unsigned flags);
/** Free a tensor made by em_tensor_new(): its data and gradient when it owns them, and the
 * header. Never call it on a tensor made by an op (the tape's arena owns those).
 * @param t  the tensor; NULL is allowed and does nothing */
void em_tensor_free(em_tensor *t);

/** Describe memory someone else owns (a module's parameter block, an arena buffer).
 * grad may be NULL. The header is overwritten; the tensor owns nothing afterwards and
 * requires a gradient exactly when grad is not NULL.
 * @param t      the header to fill (on the stack, in a struct, in the arena)
 * @param data   the values, size elements
 * @param grad   the gradient, size elements, or NULL
 * @param ndim   number of dimensions, 0..EM_MAX_DIMS
 * @param shape  ndim dimensions */
void em_tensor_wrap(em_tensor *t, em_real *data, em_real *grad, int ndim, const int *shape);

/** Number of elements of a shape. A negative dimension, or a count that overflows
 * size_t, is a programmer error (EM_ASSERT).
 * @param ndim   number of dimensions (0: the answer is 1)
 * @param shape  ndim dimensions
 * @return the product of the dimensions */
size_t em_shape_size(int ndim, const int *shape);
/** Whether two tensors have the same shape.
 * @param a  a tensor
 * @param b  another tensor
 * @return true when ndim and every dimension agree */
bool em_shape_equal(const em_tensor *a, const em_tensor *b);
/** "(64, 16, 28, 28)" into buf; returns buf.
 * @param t    the tensor whose shape to print
 * @param buf  the destination, always terminated (the text is cut to fit)
 * @param len  bytes available at buf
 * @return buf */
char *em_shape_str(const em_tensor *t, char *buf, size_t len);

/** Whether backward computes a gradient for t (EM_REQUIRES_GRAD is set).
 * @param t  a tensor
 * @return true when t requires a gradient */
static inline bool em_requires_grad(const em_tensor *t) {
    return (t->flags & EM_REQUIRES_GRAD) != 0;
}

/** Set every element of t to value.
 * @param t      the tensor
 * @param value  the value */
void em_tensor_fill(em_tensor *t, em_real value);
/** copies values (not the gradient) from a float array of t->size elements
 * @param t       the tensor
 * @param values  t->size floats, converted to em_real */
void em_tensor_set(em_tensor *t, const float *values);
/** Set t's gradient to zero (nothing when t has none).
 * @param t  the tensor */
void em_tensor_zero_grad(em_tensor *t);

/** A contiguous block of trainable scalars and their gradients: what an optimizer updates.
 * layers/ builds one per model (em_module_params()); optim/ needs nothing else of a model. */
typedef struct em_params {
    em_real *data;   /**< every parameter, in state-dict order */
    em_real *grad;   /**< their gradients, the same layout      */
    size_t n;        /**< number of scalars                     */
} em_params;

#endif

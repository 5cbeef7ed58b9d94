/* core/tensor.c — heap tensors and shape helpers. */
#include "tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t em_shape_size(int ndim, const int *shape) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        EM_ASSERT_MSG(shape[i] >= 0, "negative dimension");
        EM_ASSERT_MSG(!__builtin_mul_overflow(n, (size_t)shape[i], &n),
                      "shape too large: the element count overflows size_t");
    }
    return n;
}

void em_tensor_wrap(em_tensor *t, em_real *data, em_real *grad, int ndim, const int *shape) {
    EM_ASSERT(ndim >= 0 && ndim <= EM_MAX_DIMS);
    memset(t, 0, sizeof *t);
    t->data = data;
    t->grad = grad;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->size = em_shape_size(ndim, shape);
    t->capacity = t->size;
    if (grad) t->flags |= EM_REQUIRES_GRAD;
}

em_tensor *em_tensor_new(int ndim, const int *shape, unsigned flags) {
    em_tensor *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    em_tensor_wrap(t, NULL, NULL, ndim, shape);
    size_t n = t->size ? t->size : 1;
    t->data = calloc(n, sizeof(em_real));
    if (flags & EM_REQUIRES_GRAD) t->grad = calloc(n, sizeof(em_real));
    if (!t->data || ((flags & EM_REQUIRES_GRAD) && !t->grad)) {
        free(t->data);
        free(t->grad);
        free(t);
        return NULL;
    }
    t->flags = flags | EM_OWNS_DATA;
    return t;
}

void em_tensor_free(em_tensor *t) {
    if (!t) return;
    if (t->flags & EM_OWNS_DATA) {
        free(t->data);
        free(t->grad);
    }
    free(t);
}

bool em_shape_equal(const em_tensor *a, const em_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

char *em_shape_str(const em_tensor *t, char *buf, size_t len) {
    size_t at = 0;
    at += (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < t->ndim && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, i ? ", %d" : "%d", t->shape[i]);
    if (at < len) snprintf(buf + at, len - at, ")");
    return buf;
}

void em_tensor_fill(em_tensor *t, em_real value) {
    for (size_t i = 0; i < t->size; i++) t->data[i] = value;
}

void em_tensor_set(em_tensor *t, const float *values) {
    for (size_t i = 0; i < t->size; i++) t->data[i] = (em_real)values[i];
}

void em_tensor_zero_grad(em_tensor *t) {
    if (t->grad) memset(t->grad, 0, t->size * sizeof(em_real));
}

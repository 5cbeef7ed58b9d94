/** io/npy.h — write tensors as NumPy .npy files (format version 1.0, dtype '<f4').
 *
 *     if (em_npy_save("logits.npy", logits, &err) != EM_OK) ...err.msg...
 *
 *     $ python3 -c "import numpy; print(numpy.load('logits.npy').shape)"
 *     (8, 10)
 *
 * The file: the magic "\x93NUMPY", version 1 0, a little-endian u16 header length, the
 * header — a Python dict literal "{'descr': '<f4', 'fortran_order': False, 'shape': (8,
 * 10), }" padded with spaces and a final newline so the data starts at a multiple of 64
 * bytes — then the values in C order. em_real is converted to float32 (in the double
 * build that rounds). Written crash-safely like checkpoints (`<path>.tmp`, then rename).
 *
 * @file
 */
#ifndef EM_NPY_H
#define EM_NPY_H

#include "../core/errors.h"
#include "../core/tensor.h"

/** t's values (not its gradient)
 * @param path  the .npy file to write (replaced atomically)
 * @param t     the tensor
 * @param err   filled on failure, naming the file
 * @return EM_OK, EM_ERR_IO or EM_ERR_NOMEM */
em_code em_npy_save(const char *path, const em_tensor *t, em_error *err);
/** n = product of shape values from data, with the given shape (ndim 0: a scalar)
 * @param path   the .npy file to write
 * @param ndim   number of dimensions
 * @param shape  ndim dimensions
 * @param data   the values, C order
 * @param err    filled on failure
 * @return EM_OK, EM_ERR_IO or EM_ERR_NOMEM */
em_code em_npy_save_data(const char *path, int ndim, const int *shape, const em_real *data,
                         em_error *err);

#endif

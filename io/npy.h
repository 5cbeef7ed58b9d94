/** io/npy.h — NumPy .npy files: tensors written (format version 1.0, dtype '<f4'), and any
 * numeric .npy file read back.
 *
 *     if (em_npy_save("logits.npy", logits, &err) != EM_OK) ...err.msg...
 *
 *     em_npy_header h;
 *     double *v;
 *     if (em_npy_load("logits.npy", &h, &v, &err) != EM_OK) ...err.msg...
 *     // h.descr "<f4", h.ndim 2, h.shape {8, 10}, h.numel 80; v[0..80) the values
 *     free(v);
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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/errors.h"
#include "../core/tensor.h"

/** The most dimensions em_npy_load() accepts (NumPy's own limit is 64). */
#define EM_NPY_MAX_DIMS 32

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

/** What the header of a .npy file says. */
typedef struct em_npy_header {
    int major;                        /**< format version: 1, 2 or 3                   */
    char descr[8];                    /**< the dtype as written: "<f4", "|u1", "<i8"... */
    char kind;                        /**< 'f' float, 'i' signed, 'u' unsigned, 'b' bool */
    size_t itemsize;                  /**< bytes per value: 1, 2, 4 or 8                */
    bool fortran_order;               /**< true: the values are in Fortran order        */
    int ndim;                         /**< 0 for a scalar                               */
    int64_t shape[EM_NPY_MAX_DIMS];   /**< the first ndim entries                       */
    size_t numel;                     /**< product of shape (1 for a scalar)            */
    size_t offset;                    /**< where the values start in the file           */
} em_npy_header;

/** Parse a whole .npy file held in memory: the header, checked (magic, version, a
 * dictionary with 'descr', 'fortran_order' and 'shape', a numeric little-endian or
 * byte-order-free dtype: bool, int8..int64, uint8..uint64, float16/32/64), and the data,
 * which must be exactly numel values long. The values are converted to double (exact but
 * for 64-bit integers beyond 2^53) into a fresh malloc'd array: free it.
 * @param bytes   the file's bytes
 * @param len     their count
 * @param source  names the bytes in messages (the file name)
 * @param h       receives the header
 * @param values  receives h->numel values (a malloc'd array; *values is NULL on failure)
 * @param err     filled on failure
 * @return EM_OK, EM_ERR_FORMAT (what is wrong, naming source) or EM_ERR_NOMEM */
em_code em_npy_parse(const void *bytes, size_t len, const char *source, em_npy_header *h,
                     double **values, em_error *err);
/** Read a .npy file and parse it as em_npy_parse() does.
 * @param path    the file
 * @param h       receives the header
 * @param values  receives the values as doubles (free them)
 * @param err     filled on failure, naming the file
 * @return EM_OK, EM_ERR_IO (missing or unreadable), EM_ERR_FORMAT or EM_ERR_NOMEM */
em_code em_npy_load(const char *path, em_npy_header *h, double **values, em_error *err);

#endif

/** io/safetensors.h — the safetensors file format, read and written.
 *
 *     em_st *st;
 *     if (em_st_read(&st, "model.safetensors", &err) != EM_OK) ...err.msg...
 *     const em_st_tensor *w = em_st_find(st, "0.weight");      // NULL when absent
 *     printf("%s %s, %zu elements\n", w->name, em_st_dtype_name(w->dtype), w->numel);
 *     const char *model = em_st_meta_get(st, "model");          // NULL when absent
 *     em_st_free(st);
 *
 * The format (https://github.com/huggingface/safetensors), all little-endian:
 *
 *     u64 N | N bytes of JSON header | data section
 *
 *     {"__metadata__": {"model": "mnist-cnn", ...},                  string values only
 *      "0.weight": {"dtype": "F32", "shape": [16, 1, 3, 3], "data_offsets": [0, 576]}, ...}
 *
 * data_offsets [begin, end) are relative to the start of the data section. A valid file
 * has tensors that do not overlap and together cover the data section exactly, each with
 * end - begin = numel * dtype size. em_st_parse checks all of it, and that names are
 * unique and dtypes known; every failure is EM_ERR_FORMAT with a message that names the
 * source and the problem. The writer pads the header with spaces to a multiple of 8 bytes
 * so the data starts aligned, and writes crash-safely (core/wfile.h).
 *
 * Byte order: ember supports little-endian hosts only (checked at compile time), so the
 * data section is the host's own representation of the values.
 *
 * @file
 */
#ifndef EM_SAFETENSORS_H
#define EM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/errors.h"
#include "../core/tensor.h"

/** every dtype of the format; ember's models use F32 (F64 in the double build) and I64 */
typedef enum em_st_dtype {
    EM_ST_BOOL,          /**< "BOOL", 1 byte                  */
    EM_ST_U8,            /**< "U8"                            */
    EM_ST_I8,            /**< "I8"                            */
    EM_ST_F8_E5M2,       /**< "F8_E5M2", 1 byte               */
    EM_ST_F8_E4M3,       /**< "F8_E4M3", 1 byte               */
    EM_ST_I16,           /**< "I16"                           */
    EM_ST_U16,           /**< "U16"                           */
    EM_ST_F16,           /**< "F16", IEEE half precision      */
    EM_ST_BF16,          /**< "BF16", bfloat16                */
    EM_ST_I32,           /**< "I32"                           */
    EM_ST_U32,           /**< "U32"                           */
    EM_ST_F32,           /**< "F32": em_real in `ember`       */
    EM_ST_F64,           /**< "F64": em_real in `ember_f64`   */
    EM_ST_I64,           /**< "I64": counters, steps          */
    EM_ST_U64,           /**< "U64": rng states               */
    EM_ST_DTYPE_COUNT    /**< the number of dtypes (not a dtype) */
} em_st_dtype;

/* the dtype of em_real in this build */
#ifdef EM_DOUBLE
#define EM_ST_REAL EM_ST_F64
#else
/** the dtype of em_real in this build: EM_ST_F32, or EM_ST_F64 in ember_f64 */
#define EM_ST_REAL EM_ST_F32
#endif

/** The most dimensions a tensor of the file can have. */
#define EM_ST_MAX_DIMS 8
/** headers larger than this are refused (the reference implementation's limit) */
#define EM_ST_MAX_HEADER ((size_t)100 << 20)
/** headers of more JSON values than this are refused before they are parsed: the parsed
 * tree costs about 64 bytes a value, so a header's memory stays within 64 MiB plus twice
 * its length (an ember checkpoint has about 15 values a tensor) */
#define EM_ST_MAX_JSON_VALUES (1 << 20)

/** One tensor of a file: its header entry and where its bytes are. */
typedef struct em_st_tensor {
    const char *name;                 /**< "0.weight", "1.running_mean", ...               */
    em_st_dtype dtype;                /**< the element type                                 */
    int ndim;                         /**< 0 for a scalar                                   */
    int64_t shape[EM_ST_MAX_DIMS];    /**< the first ndim entries                           */
    size_t numel;                     /**< product of shape (1 for a scalar)                */
    size_t begin, end;                /**< data_offsets within the data section (parsed)   */
    const void *data;                 /**< numel values in dtype, little-endian (NULL after
                                           em_st_open: em_st_read_tensor reads them)   */
} em_st_tensor;
/** @var em_st_tensor::begin
 * the first byte of the tensor in the data section (see end) */

/** One string pair of __metadata__. */
typedef struct em_st_meta {
    const char *key;      /**< "model", "config", ...   */
    const char *value;    /**< its value                 */
} em_st_meta;

/** A parsed safetensors file. */
typedef struct em_st {
    const char *source;               /**< file name (or caller's label) for messages      */
    int n;                            /**< tensors, sorted by name                          */
    em_st_tensor *tensors;            /**< the n tensors                                    */
    int n_meta;                       /**< __metadata__, in file order                      */
    em_st_meta *meta;                 /**< the n_meta pairs                                 */
    void *json;                       /**< the parsed header (cJSON); names point into it   */
    void *owned;                      /**< the data section when read by em_st_read         */
    char *source_copy;                /**< storage behind source when read from a file     */
    int fd;                           /**< the file em_st_open() keeps open (-1: none)      */
    uint64_t data_offset;             /**< where the data section starts: 8 + header length */
} em_st;

/** The format's name of a dtype.
 * @param dtype  a dtype
 * @return "F32", "I64", ...; "?" for a value outside the enum */
const char *em_st_dtype_name(em_st_dtype dtype);
/** Bytes per element.
 * @param dtype  a dtype
 * @return 1, 2, 4 or 8; 0 for a value outside the enum */
size_t em_st_dtype_size(em_st_dtype dtype);

/** Parse and validate len bytes in memory. The em_st points into `bytes`, which must
 * outlive it. source names the bytes in messages.
 * @param out     receives the parsed file (free it with em_st_free())
 * @param bytes   the file's bytes
 * @param len     their count
 * @param source  a name for messages
 * @param err     filled on failure
 * @return EM_OK, EM_ERR_FORMAT (what is wrong, where) or EM_ERR_NOMEM */
em_code em_st_parse(em_st **out, const void *bytes, size_t len, const char *source,
                    em_error *err);
/** Read and validate a file's header only, in bounded memory: the length field is checked
 * against the file's size before anything else is read, the header against
 * EM_ST_MAX_HEADER and EM_ST_MAX_JSON_VALUES before it is parsed, and the layout of the
 * tensors against the size of the data section; the data section itself is not read.
 * Every tensor's data is NULL: em_st_read_tensor() reads its bytes from the file, which
 * stays open until em_st_free(). A FIFO, a directory or a device is refused (EM_ERR_IO)
 * without blocking.
 * @param out   receives the parsed header
 * @param path  the file
 * @param err   filled on failure
 * @return EM_OK, EM_ERR_IO, EM_ERR_FORMAT or EM_ERR_NOMEM */
em_code em_st_open(em_st **out, const char *path, em_error *err);
/** The bytes of one tensor (end - begin of them) into dst: copied from memory, or read from
 * the file of em_st_open().
 * @param st   the parsed file
 * @param t    one of its tensors
 * @param dst  room for end - begin bytes
 * @param err  filled on failure
 * @return EM_OK, or EM_ERR_IO when the file cannot be read (it got shorter since) */
em_code em_st_read_tensor(const em_st *st, const em_st_tensor *t, void *dst, em_error *err);
/** em_st_open(), then the whole data section read into memory (every tensor's data set).
 * @param out   receives the parsed file, which owns the bytes
 * @param path  the file
 * @param err   filled on failure
 * @return EM_OK, EM_ERR_IO, EM_ERR_FORMAT or EM_ERR_NOMEM */
em_code em_st_read(em_st **out, const char *path, em_error *err);
/** Free a parsed file (and its bytes when em_st_read() read them).
 * @param st  the file; NULL is allowed and does nothing */
void em_st_free(em_st *st);
/** The tensor called name.
 * @param st    the file
 * @param name  the tensor's name
 * @return the tensor, or NULL when absent */
const em_st_tensor *em_st_find(const em_st *st, const char *name);
/** A value of __metadata__.
 * @param st   the file
 * @param key  the key
 * @return the value, or NULL when absent */
const char *em_st_meta_get(const em_st *st, const char *key);

/** Write tensors (name, dtype, ndim, shape, data; numel/begin/end are computed) and
 * metadata to path, crash-safely. Names must be unique, non-empty and not "__metadata__"
 * (EM_ERR_ARG otherwise). fail_after_bytes: testing hook of core/wfile.h (0: never).
 * @param path              the file to write (replaced atomically)
 * @param n                 number of tensors
 * @param tensors           the n tensors
 * @param n_meta            number of metadata pairs
 * @param meta              the n_meta pairs
 * @param fail_after_bytes  testing: fail like a full disk after this many bytes (0: never)
 * @param err               filled on failure
 * @return EM_OK, EM_ERR_ARG, EM_ERR_IO or EM_ERR_NOMEM */
em_code em_st_save(const char *path, int n, const em_st_tensor *tensors, int n_meta,
                   const em_st_meta *meta, size_t fail_after_bytes, em_error *err);

#endif

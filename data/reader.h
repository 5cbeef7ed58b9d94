/* data/reader.h — reading a byte stream from a raw file, a gzip file or memory, with every
 * short read, read error and corrupt gzip stream turned into an em_error naming the file.
 * (Internal to data/: not installed.)
 *
 *     em_reader r;
 *     if (em_reader_open(&r, "train-labels-idx1-ubyte.gz", &err) != EM_OK) return err.code;
 *     uint8_t head[8];
 *     em_code c = em_reader_read(&r, head, 8, "header", &err);   // "truncated" if short
 *     ...
 *     em_reader_close(&r);
 *
 * Files are opened with zlib's gzopen, which reads gzip and plain files alike, so
 * "x-idx3-ubyte" and "x-idx3-ubyte.gz" go through the same code.
 */
#ifndef EM_DATA_READER_H
#define EM_DATA_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/errors.h"

typedef struct em_reader {
    const char *name;        /* the path (or a label for memory), for messages  */
    void *gz;                /* gzFile when reading a file, else NULL            */
    const uint8_t *mem;      /* memory mode: the bytes and the read position     */
    size_t mem_len, mem_pos;
    size_t offset;           /* bytes delivered so far (uncompressed)            */
} em_reader;

/* EM_ERR_IO when the file cannot be opened (message has strerror). */
em_code em_reader_open(em_reader *r, const char *path, em_error *err);
void em_reader_mem(em_reader *r, const void *buf, size_t len, const char *name);
void em_reader_close(em_reader *r);

/* Read up to n bytes; returns how many (fewer only at the end of the stream). -1 with err
 * filled on a read error or corrupt/truncated gzip stream. */
long long em_reader_read_some(em_reader *r, void *buf, size_t n, em_error *err);
/* Exactly n bytes or an error: EM_ERR_FORMAT "<name>: truncated: <what> needs N bytes at
 * offset O, only K left". */
em_code em_reader_read(em_reader *r, void *buf, size_t n, const char *what, em_error *err);
/* n bytes into a fresh malloc'd buffer, grown as the bytes arrive, so a header that lies
 * about a huge size fails at the end of the real data instead of allocating it up front. */
em_code em_reader_read_alloc(em_reader *r, size_t n, uint8_t **out, const char *what,
                             em_error *err);
/* Everything up to the end (at most max bytes, else EM_ERR_FORMAT) into a malloc'd buffer. */
em_code em_reader_read_all(em_reader *r, size_t max, uint8_t **out, size_t *len,
                           em_error *err);
/* EM_OK when the stream has ended; EM_ERR_FORMAT "<name>: unexpected bytes after ..." */
em_code em_reader_expect_end(em_reader *r, const char *after, em_error *err);

/* Big-endian 32-bit integer at p (idx headers). */
static inline uint32_t em_read_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif

/* data/reader.c — raw/gzip/memory byte streams with checked reads. */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

em_code em_reader_open(em_reader *r, const char *path, em_error *err) {
    memset(r, 0, sizeof *r);
    r->name = path;
    /* O_NONBLOCK: a FIFO opens at once and is refused, instead of waiting for a writer */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return em_error_set(err, EM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || fcntl(fd, F_SETFL, 0) != 0) {
        close(fd);
        return em_error_set(err, EM_ERR_IO, "%s: not a regular file", path);
    }
    errno = 0;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return em_error_set(err, EM_ERR_IO, "%s: cannot open: %s", path,
                            errno ? strerror(errno) : "out of memory");
    }
    gzbuffer(gz, 1u << 17);
    r->gz = gz;
    return EM_OK;
}

void em_reader_mem(em_reader *r, const void *buf, size_t len, const char *name) {
    memset(r, 0, sizeof *r);
    r->name = name;
    r->mem = buf;
    r->mem_len = len;
}

void em_reader_close(em_reader *r) {
    if (r->gz) gzclose_r((gzFile)r->gz);
    r->gz = NULL;
}

/* zlib keeps the first error of a stream; Z_BUF_ERROR is its "input ended early" */
static em_code gz_status(em_reader *r, em_error *err) {
    int code = Z_OK;
    const char *msg = gzerror((gzFile)r->gz, &code);
    if (code == Z_OK) return EM_OK;
    if (code == Z_ERRNO)
        return em_error_set(err, EM_ERR_IO, "%s: read error: %s", r->name, strerror(errno));
    if (code == Z_BUF_ERROR)
        return em_error_set(err, EM_ERR_FORMAT,
                            "%s: gzip stream is truncated (ends after %zu bytes of data)",
                            r->name, r->offset);
    return em_error_set(err, EM_ERR_FORMAT, "%s: corrupt gzip stream after %zu bytes: %s",
                        r->name, r->offset, msg ? msg : "unknown zlib error");
}

long long em_reader_read_some(em_reader *r, void *buf, size_t n, em_error *err) {
    if (!r->gz) {
        size_t left = r->mem_len - r->mem_pos, k = n < left ? n : left;
        if (k) memcpy(buf, r->mem + r->mem_pos, k);
        r->mem_pos += k;
        r->offset += k;
        return (long long)k;
    }
    size_t got = 0;
    while (got < n) {
        size_t want = n - got > (1u << 30) ? (1u << 30) : n - got;
        int k = gzread((gzFile)r->gz, (uint8_t *)buf + got, (unsigned)want);
        if (k < 0 || gz_status(r, err) != EM_OK) {
            if (k < 0 && gz_status(r, err) == EM_OK)
                em_error_set(err, EM_ERR_IO, "%s: read error", r->name);
            return -1;
        }
        if (k == 0) break;
        got += (size_t)k;
        r->offset += (size_t)k;
    }
    return (long long)got;
}

em_code em_reader_read(em_reader *r, void *buf, size_t n, const char *what, em_error *err) {
    size_t at = r->offset;
    long long k = em_reader_read_some(r, buf, n, err);
    if (k < 0) return err ? err->code : EM_ERR_FORMAT;
    if ((size_t)k < n)
        return em_error_set(err, EM_ERR_FORMAT,
                            "%s: truncated: %s needs %zu bytes at offset %zu, only %lld left",
                            r->name, what, n, at, k);
    return EM_OK;
}

em_code em_reader_read_alloc(em_reader *r, size_t n, uint8_t **out, const char *what,
                             em_error *err) {
    *out = NULL;
    size_t at = r->offset, cap = n < (1u << 20) ? n : (1u << 20), got = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory for %s", r->name, what);
    while (got < n) {
        if (got == cap) {
            size_t next = cap > n / 2 ? n : cap * 2;
            uint8_t *grown = realloc(buf, next);
            if (!grown) {
                free(buf);
                return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory for %s (%zu bytes)",
                                    r->name, what, n);
            }
            buf = grown;
            cap = next;
        }
        long long k = em_reader_read_some(r, buf + got, cap - got, err);
        if (k < 0) {
            free(buf);
            return err ? err->code : EM_ERR_FORMAT;
        }
        if (k == 0) {
            free(buf);
            return em_error_set(err, EM_ERR_FORMAT,
                                "%s: truncated: %s needs %zu bytes at offset %zu, only %zu left",
                                r->name, what, n, at, got);
        }
        got += (size_t)k;
    }
    *out = buf;
    return EM_OK;
}

em_code em_reader_read_all(em_reader *r, size_t max, uint8_t **out, size_t *len,
                           em_error *err) {
    *out = NULL;
    *len = 0;
    size_t cap = 1u << 16, got = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", r->name);
    for (;;) {
        if (got == cap) {
            if (cap > max) {
                free(buf);
                return em_error_set(err, EM_ERR_FORMAT, "%s: larger than %zu bytes", r->name,
                                    max);
            }
            uint8_t *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory (%zu bytes)", r->name,
                                    cap * 2);
            }
            buf = grown;
            cap *= 2;
        }
        long long k = em_reader_read_some(r, buf + got, cap - got, err);
        if (k < 0) {
            free(buf);
            return err ? err->code : EM_ERR_FORMAT;
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    if (got > max) {
        free(buf);
        return em_error_set(err, EM_ERR_FORMAT, "%s: larger than %zu bytes", r->name, max);
    }
    *out = buf;
    *len = got;
    return EM_OK;
}

em_code em_reader_expect_end(em_reader *r, const char *after, em_error *err) {
    uint8_t extra[64];
    size_t at = r->offset;
    long long k = em_reader_read_some(r, extra, sizeof extra, err);
    if (k < 0) return err ? err->code : EM_ERR_FORMAT;
    if (k > 0)
        return em_error_set(err, EM_ERR_FORMAT,
                            "%s: unexpected bytes after %s (the file is longer than its header "
                            "says: data ends at offset %zu)",
                            r->name, after, at);
    return EM_OK;
}

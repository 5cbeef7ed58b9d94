/* io/npy_read.c — reading .npy files back (format in npy.h): the header dictionary parsed
 * and checked, the values converted to double. Every bad byte is an EM_ERR_FORMAT naming
 * the file; nothing is trusted before it is checked against the file's length. */
#include "npy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* larger headers are refused (NumPy's own reader refuses more than 10000 bytes) */
#define NPY_MAX_HEADER ((size_t)1 << 20)

typedef struct npy_text {
    const char *s;       /* the header dictionary, NUL-terminated */
    size_t at;
    const char *source;
    em_error *err;
} npy_text;

static em_code bad(npy_text *t, const char *what) {
    return em_error_set(t->err, EM_ERR_FORMAT, "%s: not a valid .npy header: %s (at "
                        "character %zu of \"%.60s\")", t->source, what, t->at, t->s);
}

static void skip_space(npy_text *t) {
    while (t->s[t->at] == ' ' || t->s[t->at] == '\t' || t->s[t->at] == '\n' ||
           t->s[t->at] == '\r')
        t->at++;
}

/* a quoted string ('...' or "...") into out (at most len - 1 characters) */
static em_code quoted(npy_text *t, char *out, size_t len) {
    char q = t->s[t->at];
    if (q != '\'' && q != '"') return bad(t, "a quoted string expected");
    size_t start = ++t->at, n = 0;
    while (t->s[t->at] && t->s[t->at] != q) t->at++, n++;
    if (t->s[t->at] != q) return bad(t, "a string without its closing quote");
    if (n >= len) return bad(t, "a string too long for a key or a dtype");
    memcpy(out, t->s + start, n);
    out[n] = '\0';
    t->at++;
    return EM_OK;
}

/* (d0, d1, ...) with an optional trailing comma; () is a scalar */
static em_code shape_tuple(npy_text *t, em_npy_header *h) {
    if (t->s[t->at] != '(') return bad(t, "'shape' is not a tuple");
    t->at++;
    h->ndim = 0;
    for (;;) {
        skip_space(t);
        if (t->s[t->at] == ')') break;
        if (t->s[t->at] < '0' || t->s[t->at] > '9') return bad(t, "a dimension that is not a whole number");
        if (h->ndim == EM_NPY_MAX_DIMS) return bad(t, "more dimensions than ember reads (32)");
        int64_t v = 0;
        while (t->s[t->at] >= '0' && t->s[t->at] <= '9') {
            if (v > ((int64_t)1 << 50)) return bad(t, "a dimension too large");
            v = v * 10 + (t->s[t->at++] - '0');
        }
        h->shape[h->ndim++] = v;
        skip_space(t);
        if (t->s[t->at] == ',') t->at++;
        else if (t->s[t->at] != ')') return bad(t, "',' or ')' expected in 'shape'");
    }
    t->at++;
    return EM_OK;
}

/* "<f4", "|u1", "=i8", ...: the kinds and sizes ember converts */
static em_code dtype_of(npy_text *t, em_npy_header *h) {
    const char *d = h->descr;
    if (d[0] == '>')
        return em_error_set(t->err, EM_ERR_FORMAT, "%s: dtype '%s' is big-endian; ember reads "
                            "little-endian .npy files (numpy: a.astype(a.dtype.newbyteorder('<')))",
                            t->source, d);
    char kind = d[0] == '<' || d[0] == '|' || d[0] == '=' ? d[1] : '\0';
    const char *size = d[0] ? d + 2 : d;
    size_t n = !strcmp(size, "1") ? 1 : !strcmp(size, "2") ? 2 : !strcmp(size, "4") ? 4
             : !strcmp(size, "8") ? 8 : 0;
    bool ok = (kind == 'b' && n == 1) || ((kind == 'i' || kind == 'u') && n) ||
              (kind == 'f' && n >= 2);
    if (!ok)
        return em_error_set(t->err, EM_ERR_FORMAT, "%s: dtype '%s' is not one ember reads "
                            "(bool, int8..int64, uint8..uint64, float16/32/64)", t->source, d);
    h->kind = kind;
    h->itemsize = n;
    return EM_OK;
}

/* {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } — each key once, no other */
static em_code parse_dict(npy_text *t, em_npy_header *h) {
    bool seen[3] = {false, false, false};
    em_code c;
    skip_space(t);
    if (t->s[t->at] != '{') return bad(t, "it does not start with '{'");
    t->at++;
    for (;;) {
        skip_space(t);
        if (t->s[t->at] == '}') break;
        char key[16];
        if ((c = quoted(t, key, sizeof key)) != EM_OK) return c;
        skip_space(t);
        if (t->s[t->at] != ':') return bad(t, "':' expected after a key");
        t->at++;
        skip_space(t);
        int k = !strcmp(key, "descr") ? 0 : !strcmp(key, "fortran_order") ? 1
              : !strcmp(key, "shape") ? 2 : -1;
        if (k < 0) return bad(t, "a key other than 'descr', 'fortran_order' and 'shape'");
        if (seen[k]) return bad(t, "a key given twice");
        seen[k] = true;
        if (k == 0) {
            if (t->s[t->at] == '[') return bad(t, "a structured dtype (ember reads plain arrays)");
            if ((c = quoted(t, h->descr, sizeof h->descr)) != EM_OK) return c;
        } else if (k == 1) {
            if (!strncmp(t->s + t->at, "True", 4)) h->fortran_order = true, t->at += 4;
            else if (!strncmp(t->s + t->at, "False", 5)) h->fortran_order = false, t->at += 5;
            else return bad(t, "'fortran_order' is not True or False");
        } else if ((c = shape_tuple(t, h)) != EM_OK) {
            return c;
        }
        skip_space(t);
        if (t->s[t->at] == ',') t->at++;
        else if (t->s[t->at] != '}') return bad(t, "',' or '}' expected");
    }
    t->at++;
    skip_space(t);
    if (t->s[t->at]) return bad(t, "text after the dictionary");
    if (!seen[0] || !seen[1] || !seen[2]) return bad(t, "'descr', 'fortran_order' or 'shape' missing");
    return dtype_of(t, h);
}

/* IEEE half precision to double */
static double half_to_double(uint16_t v) {
    int e = (v >> 10) & 0x1f, m = v & 0x3ff;
    double x = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return v & 0x8000 ? -x : x;
}

/* value i of the data section as a double (little-endian host, npy.h) */
static double value_at(const unsigned char *p, const em_npy_header *h) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            uint64_t u64; int64_t i64; float f; double d; } u;
    memcpy(&u, p, h->itemsize);
    switch (h->kind) {
    case 'b': return u.u8 != 0;
    case 'i': return h->itemsize == 1 ? u.i8 : h->itemsize == 2 ? u.i16 : h->itemsize == 4 ? u.i32 : (double)u.i64;
    case 'u': return h->itemsize == 1 ? u.u8 : h->itemsize == 2 ? u.u16 : h->itemsize == 4 ? u.u32 : (double)u.u64;
    default: return h->itemsize == 2 ? half_to_double(u.u16) : h->itemsize == 4 ? u.f : u.d;
    }
}

em_code em_npy_parse(const void *bytes, size_t len, const char *source, em_npy_header *h,
                     double **values, em_error *err) {
    const unsigned char *b = bytes;
    memset(h, 0, sizeof *h);
    *values = NULL;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6))
        return em_error_set(err, EM_ERR_FORMAT, "%s: not a .npy file (%s)", source,
                            len < 10 ? "shorter than the 10-byte preamble" : "no \\x93NUMPY magic");
    h->major = b[6];
    if (h->major < 1 || h->major > 3)
        return em_error_set(err, EM_ERR_FORMAT, "%s: .npy format version %d.%d (ember reads 1, "
                            "2 and 3)", source, b[6], b[7]);
    size_t start = h->major == 1 ? 10 : 12;
    if (len < start)
        return em_error_set(err, EM_ERR_FORMAT, "%s: truncated in the preamble", source);
    size_t hlen = h->major == 1 ? (size_t)b[8] | (size_t)b[9] << 8
                                : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 |
                                      (size_t)b[11] << 24;
    if (hlen > NPY_MAX_HEADER || hlen > len - start)
        return em_error_set(err, EM_ERR_FORMAT, "%s: the header claims %zu bytes, the file "
                            "has %zu after the preamble (truncated?)", source, hlen, len - start);
    char *text = malloc(hlen + 1);
    if (!text) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", source);
    memcpy(text, b + start, hlen);
    text[hlen] = '\0';
    npy_text t = {text, 0, source, err};
    em_code c = strlen(text) != hlen ? bad(&t, "a NUL byte in the header") : parse_dict(&t, h);
    free(text);
    if (c != EM_OK) return c;
    h->offset = start + hlen;
    size_t avail = len - h->offset, numel = 1;
    bool zero = false, over = false;
    for (int d = 0; d < h->ndim; d++) zero |= h->shape[d] == 0;
    for (int d = 0; d < h->ndim && !zero && !over; d++) {
        size_t s = (size_t)h->shape[d];
        over = numel > avail / s;     /* then numel * s values cannot be in the file */
        numel *= over ? 1 : s;
    }
    if (zero) numel = 0;
    if (over || numel > avail / h->itemsize)
        return em_error_set(err, EM_ERR_FORMAT, "%s: truncated: the shape in the header needs "
                            "more than the %zu bytes of data the file holds", source, avail);
    if (numel * h->itemsize < avail)
        return em_error_set(err, EM_ERR_FORMAT, "%s: %zu unexpected bytes after the %zu values",
                            source, avail - numel * h->itemsize, numel);
    h->numel = numel;
    double *v = malloc((numel ? numel : 1) * sizeof *v);
    if (!v) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory for %zu values", source, numel);
    for (size_t i = 0; i < numel; i++) v[i] = value_at(b + h->offset + i * h->itemsize, h);
    *values = v;
    return EM_OK;
}

em_code em_npy_load(const char *path, em_npy_header *h, double **values, em_error *err) {
    memset(h, 0, sizeof *h);
    *values = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return em_error_set(err, EM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return em_error_set(err, EM_ERR_IO, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    unsigned char *bytes = malloc(len ? len : 1);
    if (!bytes) {
        fclose(f);
        return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory for %zu bytes", path, len);
    }
    size_t got = fread(bytes, 1, len, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    em_code c = got != len || failed
                    ? em_error_set(err, EM_ERR_IO, "%s: read %zu of %zu bytes", path, got, len)
                    : em_npy_parse(bytes, len, path, h, values, err);
    free(bytes);
    return c;
}

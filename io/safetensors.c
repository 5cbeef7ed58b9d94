/* io/safetensors.c — parse, validate and write safetensors files (format in
 * safetensors.h). The JSON header is read and written with cJSON (Debian's libcjson). */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/wfile.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ember's safetensors and .npy code assumes a little-endian host"
#endif

static const struct { const char *name; size_t size; } dtypes[] = {
    [EM_ST_BOOL] = {"BOOL", 1}, [EM_ST_U8] = {"U8", 1}, [EM_ST_I8] = {"I8", 1},
    [EM_ST_F8_E5M2] = {"F8_E5M2", 1}, [EM_ST_F8_E4M3] = {"F8_E4M3", 1},
    [EM_ST_I16] = {"I16", 2}, [EM_ST_U16] = {"U16", 2}, [EM_ST_F16] = {"F16", 2},
    [EM_ST_BF16] = {"BF16", 2}, [EM_ST_I32] = {"I32", 4}, [EM_ST_U32] = {"U32", 4},
    [EM_ST_F32] = {"F32", 4}, [EM_ST_F64] = {"F64", 8}, [EM_ST_I64] = {"I64", 8},
    [EM_ST_U64] = {"U64", 8},
};
_Static_assert(sizeof dtypes / sizeof dtypes[0] == EM_ST_DTYPE_COUNT, "one entry per dtype");

const char *em_st_dtype_name(em_st_dtype d) {
    return (unsigned)d < EM_ST_DTYPE_COUNT ? dtypes[d].name : "?";
}

size_t em_st_dtype_size(em_st_dtype d) {
    return (unsigned)d < EM_ST_DTYPE_COUNT ? dtypes[d].size : 0;
}

static int dtype_of(const char *name) {
    for (int d = 0; d < EM_ST_DTYPE_COUNT; d++)
        if (!strcmp(dtypes[d].name, name)) return d;
    return -1;
}

void em_st_free(em_st *st) {
    if (!st) return;
    cJSON_Delete(st->json);
    free(st->tensors);
    free(st->meta);
    free(st->owned);
    free(st->source_copy);
    if (st->fd >= 0) close(st->fd);
    free(st);
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const em_st_tensor *)a)->name, ((const em_st_tensor *)b)->name);
}

static int by_offset(const void *a, const void *b) {
    const em_st_tensor *x = *(const em_st_tensor *const *)a, *y = *(const em_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

const em_st_tensor *em_st_find(const em_st *st, const char *name) {
    em_st_tensor key = {.name = name};
    return bsearch(&key, st->tensors, (size_t)st->n, sizeof key, by_name);
}

const char *em_st_meta_get(const em_st *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta[i].key, key)) return st->meta[i].value;
    return NULL;
}

/* ---- parsing ----------------------------------------------------------------------------- */

/* a JSON number that is a non-negative integer below 2^53 (exact in a double) */
static bool json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return false;
    double v = j->valuedouble;
    if (!(v >= 0 && v < 9007199254740992.0) || v != floor(v)) return false;
    *out = (uint64_t)v;
    return true;
}

#define FAIL(...) (code = em_error_set(err, EM_ERR_FORMAT, __VA_ARGS__))

/* dtype, shape and data_offsets of one header entry into t; EM_OK or a message */
static em_code parse_tensor(const cJSON *j, em_st_tensor *t, const char *src, em_error *err) {
    em_code code = EM_OK;
    const char *name = t->name;
    if (!cJSON_IsObject(j))
        return FAIL("%s: header entry '%s' is not an object with dtype, shape and "
                    "data_offsets", src, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return FAIL("%s: tensor '%s' lacks a string dtype, a shape array or a data_offsets "
                    "array", src, name);
    int d = dtype_of(dt->valuestring);
    if (d < 0)
        return FAIL("%s: tensor '%s' has unknown dtype '%.32s' (safetensors knows BOOL, U8, "
                    "I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64)",
                    src, name, dt->valuestring);
    t->dtype = (em_st_dtype)d;
    int nd = cJSON_GetArraySize(sh);
    if (nd > EM_ST_MAX_DIMS)
        return FAIL("%s: tensor '%s' has %d dimensions (at most %d)", src, name, nd,
                    EM_ST_MAX_DIMS);
    t->ndim = nd;
    size_t numel = 1;
    const size_t limit = SIZE_MAX / 8;
    int k = 0;
    for (const cJSON *e = sh->child; e; e = e->next, k++) {
        uint64_t v;
        if (!json_uint(e, &v) || v > INT32_MAX)
            return FAIL("%s: tensor '%s': shape[%d] is not an integer in [0, 2^31)", src, name, k);
        t->shape[k] = (int64_t)v;
        if (v && numel > limit / v)
            return FAIL("%s: tensor '%s': the shape's element count overflows", src, name);
        numel *= (size_t)v;
    }
    t->numel = numel;
    uint64_t b, e;
    if (cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &b) ||
        !json_uint(off->child->next, &e) || b > e)
        return FAIL("%s: tensor '%s': data_offsets must be two integers [begin, end] with "
                    "begin <= end", src, name);
    t->begin = (size_t)b;
    t->end = (size_t)e;
    size_t need = numel * dtypes[d].size;
    if (e - b != need)
        return FAIL("%s: tensor '%s': data_offsets [%zu, %zu) hold %zu bytes, but %s with "
                    "%zu elements needs %zu", src, name, t->begin, t->end, t->end - t->begin,
                    dtypes[d].name, numel, need);
    return EM_OK;
}

static em_code parse_meta(const cJSON *j, em_st *st, const char *src, em_error *err) {
    em_code code = EM_OK;
    if (!cJSON_IsObject(j))
        return FAIL("%s: __metadata__ is not a JSON object", src);
    int n = cJSON_GetArraySize(j);
    st->meta = calloc(n ? (size_t)n : 1, sizeof *st->meta);
    if (!st->meta) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", src);
    for (const cJSON *e = j->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return FAIL("%s: __metadata__ value of '%s' is not a string (safetensors allows "
                        "string values only)", src, e->string);
        st->meta[st->n_meta++] = (em_st_meta){e->string, e->valuestring};
    }
    return EM_OK;
}

/* Sorted by offset, the tensors must tile [0, data_len) exactly. The first problem found
 * is reported; a tiling that merely runs past the end of the file is a truncated file, a
 * tensor past the end with holes or overlaps elsewhere has offsets out of range. */
static em_code check_layout(em_st *st, size_t data_len, const char *src, em_error *err) {
    em_code code = EM_OK;
    em_st_tensor **order = malloc((st->n ? (size_t)st->n : 1) * sizeof *order);
    if (!order) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", src);
    for (int i = 0; i < st->n; i++) order[i] = &st->tensors[i];
    qsort(order, (size_t)st->n, sizeof *order, by_offset);
    size_t at = 0;                                  /* end of the bytes covered so far */
    const em_st_tensor *prev = NULL, *past_end = NULL, *hole = NULL, *over = NULL;
    size_t hole_at = 0;
    for (int i = 0; i < st->n; i++) {
        const em_st_tensor *t = order[i];
        if (!past_end && t->end > data_len) past_end = t;
        if (!hole && !over && prev && t->begin < at) over = t;
        if (!hole && !over && t->begin > at) hole = t, hole_at = at;
        if (!over && t->end > at) {
            at = t->end;
            prev = t;
        }
        if (over) break;
    }
    if (past_end && !hole && !over)
        FAIL("%s: truncated: the header describes %zu bytes of tensor data, the file holds "
             "only %zu after the header (cut short by an interrupted copy or download?)", src,
             at, data_len);
    else if (past_end)
        FAIL("%s: tensor '%s': data_offsets [%zu, %zu) out of range: the data section has "
             "%zu bytes", src, past_end->name, past_end->begin, past_end->end, data_len);
    else if (over)
        FAIL("%s: tensors '%s' [%zu, %zu) and '%s' [%zu, %zu) overlap in the data section",
             src, prev->name, prev->begin, prev->end, over->name, over->begin, over->end);
    else if (hole)
        FAIL("%s: bytes [%zu, %zu) of the data section belong to no tensor (before '%s')",
             src, hole_at, hole->begin, hole->name);
    else if (at < data_len)
        FAIL("%s: %zu bytes after the last tensor belong to no tensor", src, data_len - at);
    free(order);
    return code;
}

static em_code parse_header(em_st *st, const char *text, size_t data_len, const char *src,
                            em_error *err) {
    em_code code = EM_OK;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        size_t at = end ? (size_t)(end - text) : 0, len = strlen(text);
        if (at >= len)
            return FAIL("%s: the header is not valid JSON (it ends early, at byte %zu)", src,
                        len);
        return FAIL("%s: the header is not valid JSON (error at byte %zu of %zu, near "
                    "\"%.16s\")", src, at, len, end);
    }
    st->json = root;
    if (!cJSON_IsObject(root)) return FAIL("%s: the header is not a JSON object", src);
    int n = cJSON_GetArraySize(root), n_meta_entries = 0;
    st->tensors = calloc(n ? (size_t)n : 1, sizeof *st->tensors);
    if (!st->tensors) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", src);
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if (n_meta_entries++)
                return FAIL("%s: the header has two __metadata__ entries", src);
            if ((code = parse_meta(e, st, src, err))) return code;
            continue;
        }
        if (!e->string[0]) return FAIL("%s: a tensor has an empty name", src);
        em_st_tensor *t = &st->tensors[st->n++];
        t->name = e->string;
        if ((code = parse_tensor(e, t, src, err))) return code;
    }
    qsort(st->tensors, (size_t)st->n, sizeof *st->tensors, by_name);
    for (int i = 1; i < st->n; i++)
        if (!strcmp(st->tensors[i - 1].name, st->tensors[i].name))
            return FAIL("%s: tensor '%s' appears twice in the header", src, st->tensors[i].name);
    return check_layout(st, data_len, src, err);
}

/* JSON values in the header text, counted from above without parsing: a value is a
 * container, or follows a ',' or is the first of a container (cJSON's tree costs about 64
 * bytes a value; this bounds it before cJSON allocates any) */
static size_t json_values_bound(const char *h, size_t len) {
    size_t n = 1;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == ',' || c == '[' || c == '{') {
            n++;
        }
    }
    return n;
}

/* the header's hlen bytes at h (not NUL-terminated), validated and parsed into st */
static em_code parse_text(em_st *st, const char *h, uint64_t hlen, size_t data_len,
                          const char *src, em_error *err) {
    em_code code = EM_OK;
    if (hlen < 2 || h[0] != '{')
        return FAIL("%s: the header does not start with '{' (not a safetensors file?)", src);
    if (memchr(h, 0, (size_t)hlen))
        return FAIL("%s: the header contains a NUL byte", src);
    size_t values = json_values_bound(h, (size_t)hlen);
    if (values > EM_ST_MAX_JSON_VALUES)
        return FAIL("%s: the header holds up to %zu JSON values, more than the limit of %d "
                    "(not a checkpoint ember or PyTorch writes)", src, values,
                    EM_ST_MAX_JSON_VALUES);
    char *text = malloc((size_t)hlen + 1);
    if (!text)
        return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory for a %llu-byte header", src,
                            (unsigned long long)hlen);
    memcpy(text, h, (size_t)hlen);
    text[hlen] = 0;
    code = parse_header(st, text, data_len, src, err);
    free(text);
    return code;
}

/* the length field: at most the bytes after it and the limit */
static em_code check_hlen(uint64_t hlen, uint64_t after, const char *src, em_error *err) {
    em_code code = EM_OK;
    if (hlen > after)
        return FAIL("%s: header length %llu is larger than the file (%llu bytes after the "
                    "length field): truncated, or not a safetensors file",
                    src, (unsigned long long)hlen, (unsigned long long)after);
    if (hlen > EM_ST_MAX_HEADER)
        return FAIL("%s: header length %llu exceeds the limit of %zu bytes", src,
                    (unsigned long long)hlen, EM_ST_MAX_HEADER);
    return EM_OK;
}

static em_st *st_new(void) {
    em_st *st = calloc(1, sizeof *st);
    if (st) st->fd = -1;
    return st;
}

em_code em_st_parse(em_st **out, const void *bytes, size_t len, const char *source,
                    em_error *err) {
    em_code code = EM_OK;
    *out = NULL;
    const char *src = source ? source : "safetensors";
    if (len < 8)
        return FAIL("%s: truncated: %zu bytes, too short for the 8-byte header length (an "
                    "empty or cut-short file?)", src, len);
    const unsigned char *b = bytes;
    uint64_t hlen;
    memcpy(&hlen, b, 8);
    if ((code = check_hlen(hlen, len - 8, src, err))) return code;
    em_st *st = st_new();
    if (!st) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", src);
    st->source = src;
    st->data_offset = 8 + hlen;
    code = parse_text(st, (const char *)b + 8, hlen, len - 8 - (size_t)hlen, src, err);
    if (code) {
        em_st_free(st);
        return code;
    }
    const unsigned char *data = b + 8 + hlen;
    for (int i = 0; i < st->n; i++) st->tensors[i].data = data + st->tensors[i].begin;
    *out = st;
    return EM_OK;
}

/* n bytes at offset of fd into buf: EM_OK, or EM_ERR_IO naming path */
static em_code read_at(int fd, void *buf, size_t n, uint64_t offset, const char *path,
                       em_error *err) {
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(fd, (char *)buf + done, n - done, (off_t)(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
            return em_error_set(err, EM_ERR_IO, "%s: reading %zu bytes at offset %llu failed: "
                                "%s", path, n, (unsigned long long)offset,
                                got < 0 ? strerror(errno) : "the file got shorter while being "
                                "read");
        done += (size_t)got;
    }
    return EM_OK;
}

em_code em_st_open(em_st **out, const char *path, em_error *err) {
    *out = NULL;
    /* O_NONBLOCK: a FIFO opens at once and is refused below, instead of blocking */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return em_error_set(err, EM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || fcntl(fd, F_SETFL, 0) != 0) {
        close(fd);
        return em_error_set(err, EM_ERR_IO, "%s: not a regular file", path);
    }
    em_st *st = st_new();
    char *name = malloc(strlen(path) + 1);
    if (!st || !name) {
        close(fd);
        free(st);
        free(name);
        return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
    }
    strcpy(name, path);
    st->source = st->source_copy = name;
    st->fd = fd;
    /* the length field first, checked against the file's size: nothing larger than the
     * file claims is read, and the data section not at all */
    uint64_t size = (uint64_t)sb.st_size, hlen = 0;
    em_code code = EM_OK;
    if (size < 8)
        FAIL("%s: truncated: %llu bytes, too short for the 8-byte header length (an empty or "
             "cut-short file?)", path, (unsigned long long)size);
    if (!code) code = read_at(fd, &hlen, 8, 0, path, err);
    if (!code) code = check_hlen(hlen, size - 8, path, err);
    char *h = code ? NULL : malloc(hlen ? (size_t)hlen : 1);
    if (!code && !h) code = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory for a %llu-byte "
                                         "header", path, (unsigned long long)hlen);
    if (!code) code = read_at(fd, h, (size_t)hlen, 8, path, err);
    if (!code) code = parse_text(st, h, hlen, (size_t)(size - 8 - hlen), path, err);
    free(h);
    if (code) {
        em_st_free(st);
        return code;
    }
    st->data_offset = 8 + hlen;
    *out = st;
    return EM_OK;
}

em_code em_st_read_tensor(const em_st *st, const em_st_tensor *t, void *dst, em_error *err) {
    size_t n = t->end - t->begin;
    if (t->data) {
        if (n) memcpy(dst, t->data, n);
        return EM_OK;
    }
    EM_ASSERT_MSG(st->fd >= 0, "em_st_read_tensor: the file is closed");
    return read_at(st->fd, dst, n, st->data_offset + t->begin, st->source, err);
}

em_code em_st_read(em_st **out, const char *path, em_error *err) {
    em_code code = em_st_open(out, path, err);
    if (code) return code;
    em_st *st = *out;
    size_t len = 0;                       /* the data section: exactly the tensors' bytes */
    for (int i = 0; i < st->n; i++)
        if (st->tensors[i].end > len) len = st->tensors[i].end;
    unsigned char *data = malloc(len ? len : 1);
    if (!data) code = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory for %zu bytes", path, len);
    if (!code) code = read_at(st->fd, data, len, st->data_offset, path, err);
    if (code) {
        free(data);
        em_st_free(st);
        *out = NULL;
        return code;
    }
    st->owned = data;
    for (int i = 0; i < st->n; i++) st->tensors[i].data = data + st->tensors[i].begin;
    close(st->fd);
    st->fd = -1;
    return EM_OK;
}

/* ---- writing ------------------------------------------------------------------------------ */

static em_code build_header(cJSON *root, int n, const em_st_tensor *t, size_t *offsets,
                            int n_meta, const em_st_meta *meta) {
    bool ok = true;
    if (n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        ok = m != NULL;
        for (int i = 0; ok && i < n_meta; i++)
            ok = cJSON_AddStringToObject(m, meta[i].key, meta[i].value) != NULL;
    }
    size_t at = 0;
    for (int i = 0; ok && i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (size_t)t[i].shape[d];
        size_t bytes = numel * em_st_dtype_size(t[i].dtype);
        cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
        ok = e && cJSON_AddStringToObject(e, "dtype", em_st_dtype_name(t[i].dtype));
        cJSON *shape = ok ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *off = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        ok = off != NULL;
        for (int d = 0; ok && d < t[i].ndim; d++) {
            cJSON *v = cJSON_CreateNumber((double)t[i].shape[d]);
            ok = v && cJSON_AddItemToArray(shape, v);
        }
        cJSON *b = ok ? cJSON_CreateNumber((double)at) : NULL;
        ok = b && cJSON_AddItemToArray(off, b);
        cJSON *en = ok ? cJSON_CreateNumber((double)(at + bytes)) : NULL;
        ok = en && cJSON_AddItemToArray(off, en);
        offsets[i] = bytes;
        at += bytes;
    }
    return ok ? EM_OK : EM_ERR_NOMEM;
}

static em_code check_names(const char *path, int n, const em_st_tensor *t, em_error *err) {
    for (int i = 0; i < n; i++) {
        EM_ASSERT(t[i].ndim >= 0 && t[i].ndim <= EM_ST_MAX_DIMS);
        EM_ASSERT((unsigned)t[i].dtype < EM_ST_DTYPE_COUNT);
        if (!t[i].name || !t[i].name[0] || !strcmp(t[i].name, "__metadata__"))
            return em_error_set(err, EM_ERR_ARG, "%s: tensor %d has an empty or reserved name",
                                path, i);
        for (int j = 0; j < i; j++)
            if (!strcmp(t[i].name, t[j].name))
                return em_error_set(err, EM_ERR_ARG, "%s: two tensors are named '%s'", path,
                                    t[i].name);
    }
    return EM_OK;
}

em_code em_st_save(const char *path, int n, const em_st_tensor *tensors, int n_meta,
                   const em_st_meta *meta, size_t fail_after_bytes, em_error *err) {
    em_code code = check_names(path, n, tensors, err);
    if (code) return code;
    cJSON *root = cJSON_CreateObject();
    size_t *bytes = malloc((n ? (size_t)n : 1) * sizeof *bytes);
    char *text = NULL;
    if (!root || !bytes || build_header(root, n, tensors, bytes, n_meta, meta) ||
        !(text = cJSON_PrintUnformatted(root))) {
        cJSON_Delete(root);
        free(bytes);
        return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory for the header", path);
    }
    cJSON_Delete(root);
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;   /* data starts 8-aligned */
    uint64_t hlen = padded;
    static const char spaces[] = "        ";
    em_wfile w;
    code = em_wfile_open(&w, path, fail_after_bytes, err);
    if (!code) code = em_wfile_write(&w, &hlen, 8, err);
    if (!code) code = em_wfile_write(&w, text, len, err);
    if (!code) code = em_wfile_write(&w, spaces, padded - len, err);
    for (int i = 0; i < n && !code; i++)
        if (bytes[i]) code = em_wfile_write(&w, tensors[i].data, bytes[i], err);
    if (!code) code = em_wfile_commit(&w, err);
    cJSON_free(text);
    free(bytes);
    return code;
}

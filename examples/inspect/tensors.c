/* examples/inspect/tensors.c — safetensors checkpoints (one, or two against each other),
 * .npy files and the test fixtures' EMFX files: every tensor's name, dtype, shape and
 * statistics (inspect.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "io/npy.h"
#include "io/safetensors.h"

/* ---- statistics ----------------------------------------------------------------------------- */

void in_stats_init(in_stats *s) {
    memset(s, 0, sizeof *s);
}

void in_stats_add(in_stats *s, double v) {
    if (!isfinite(v)) {
        s->nonfinite++;
        return;
    }
    if (s->n++ == 0) s->min = s->max = v;
    s->min = v < s->min ? v : s->min;
    s->max = v > s->max ? v : s->max;
    double d = v - s->mean;
    s->mean += d / (double)s->n;
    s->m2 += d * (v - s->mean);
}

void in_stats_print(const in_stats *s, FILE *out) {
    if (s->n) fprintf(out, " %11.4g %11.4g %11.4g %11.4g", s->min, s->max, s->mean,
                      sqrt(s->m2 / (double)s->n));
    else fprintf(out, " %47s", "(no finite value)");
    fprintf(out, " %10zu\n", s->nonfinite);
}

void in_shape(char *out, size_t len, int ndim, const int64_t *shape) {
    int at = snprintf(out, len, "%s", ndim ? "" : "()");
    for (int d = 0; d < ndim && at >= 0 && (size_t)at < len; d++)
        at += snprintf(out + at, len - (size_t)at, "%s%lld", d ? "x" : "", (long long)shape[d]);
}

static void table_header(FILE *out, int name_width) {
    fprintf(out, "  %-*s %-7s %-14s %11s %11s %11s %11s %10s\n", name_width, "tensor", "dtype",
            "shape", "min", "max", "mean", "std", "non-finite");
}

/* ---- safetensors ----------------------------------------------------------------------------- */

/* IEEE half, bfloat16 and the two 8-bit floats of the format, to double */
static double half(uint16_t v) {
    int e = (v >> 10) & 0x1f, m = v & 0x3ff;
    double x = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return v & 0x8000 ? -x : x;
}

static double f8_e4m3(uint8_t v) {   /* no infinities; S.1111.111 is NaN */
    int e = (v >> 3) & 0xf, m = v & 7;
    double x = (v & 0x7f) == 0x7f ? NAN : e == 0 ? ldexp(m, -9) : ldexp(m + 8, e - 10);
    return v & 0x80 ? -x : x;
}

static double st_value(const em_st_tensor *t, size_t i) {
    const unsigned char *p = (const unsigned char *)t->data + i * em_st_dtype_size(t->dtype);
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            uint64_t u64; int64_t i64; float f; double d; } u;
    memcpy(&u, p, em_st_dtype_size(t->dtype));
    switch (t->dtype) {
    case EM_ST_BOOL: return u.u8 != 0;
    case EM_ST_U8: return u.u8;
    case EM_ST_I8: return u.i8;
    case EM_ST_F8_E5M2: return half((uint16_t)(u.u8 << 8));   /* the top byte of a half */
    case EM_ST_F8_E4M3: return f8_e4m3(u.u8);
    case EM_ST_I16: return u.i16;
    case EM_ST_U16: return u.u16;
    case EM_ST_F16: return half(u.u16);
    case EM_ST_BF16: { uint32_t w = (uint32_t)u.u16 << 16; float f; memcpy(&f, &w, 4); return f; }
    case EM_ST_I32: return u.i32;
    case EM_ST_U32: return u.u32;
    case EM_ST_F32: return u.f;
    case EM_ST_F64: return u.d;
    case EM_ST_I64: return (double)u.i64;
    case EM_ST_U64: return (double)u.u64;
    default: return NAN;
    }
}

static int by_offset(const void *a, const void *b) {
    const em_st_tensor *x = *(const em_st_tensor *const *)a, *y = *(const em_st_tensor *const *)b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

/* the tensors in file order (the writer's: the model's state-dict order), malloc'd */
static const em_st_tensor **in_file_order(const em_st *st) {
    const em_st_tensor **order = malloc((size_t)(st->n ? st->n : 1) * sizeof *order);
    if (!order) return NULL;
    for (int i = 0; i < st->n; i++) order[i] = &st->tensors[i];
    qsort(order, (size_t)st->n, sizeof *order, by_offset);
    return order;
}

static void print_tensor(const em_st_tensor *t, int width, FILE *out, size_t *bad) {
    char shape[128];
    in_shape(shape, sizeof shape, t->ndim, t->shape);
    fprintf(out, "  %-*s %-7s %-14s", width, t->name, em_st_dtype_name(t->dtype), shape);
    if (t->numel <= 4 && t->dtype != EM_ST_F32 && t->dtype != EM_ST_F64) {
        fprintf(out, " values");   /* counters, positions: the values say more */
        for (size_t i = 0; i < t->numel; i++) fprintf(out, " %.17g", st_value(t, i));
        fputc('\n', out);
        return;
    }
    in_stats s;
    in_stats_init(&s);
    for (size_t i = 0; i < t->numel; i++) in_stats_add(&s, st_value(t, i));
    in_stats_print(&s, out);
    *bad += s.nonfinite;
}

em_code in_safetensors(const char *path, FILE *out, em_error *err) {
    em_st *st;
    em_code c = em_st_read(&st, path, err);
    if (c != EM_OK) return c;
    const em_st_tensor **order = in_file_order(st);
    if (!order) {
        em_st_free(st);
        return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t values = 0, bytes = 0, bad = 0;
    int width = 6;
    for (int i = 0; i < st->n; i++) {
        values += st->tensors[i].numel;
        bytes += st->tensors[i].end - st->tensors[i].begin;
        int w = (int)strlen(st->tensors[i].name);
        width = w > width ? (w < 40 ? w : 40) : width;
    }
    fprintf(out, "%s: safetensors, %d tensors, %zu values (%.1f KiB of data)%s\n", path, st->n,
            values, (double)bytes / 1024, em_st_meta_get(st, "model") ? ", an ember checkpoint" : "");
    for (int i = 0; i < st->n_meta; i++)
        fprintf(out, "  %-10s %s\n", st->meta[i].key, st->meta[i].value);
    if (st->n) table_header(out, width);
    for (int i = 0; i < st->n; i++) print_tensor(order[i], width, out, &bad);
    if (bad) fprintf(out, "%zu values are NaN or infinite\n", bad);
    else fprintf(out, "every value is finite\n");
    free(order);
    em_st_free(st);
    return EM_OK;
}

/* ---- two checkpoints ------------------------------------------------------------------------- */

/* the words of two configurations that differ ("seed=1 -> seed=2"), into out */
static void config_diff(const char *a, const char *b, FILE *out) {
    char *x = strdup(a), *y = strdup(b);
    if (!x || !y) {
        free(x);
        free(y);
        return;
    }
    char *sx = NULL, *sy = NULL, *tx = strtok_r(x, " ", &sx), *ty = strtok_r(y, " ", &sy);
    for (; tx || ty; tx = tx ? strtok_r(NULL, " ", &sx) : NULL, ty = ty ? strtok_r(NULL, " ", &sy) : NULL)
        if (!tx || !ty || strcmp(tx, ty)) fprintf(out, " %s -> %s;", tx ? tx : "(none)", ty ? ty : "(none)");
    free(x);
    free(y);
}

static void meta_diff(const em_st *a, const em_st *b, FILE *out) {
    for (int i = 0; i < a->n_meta + b->n_meta; i++) {
        const em_st_meta *m = i < a->n_meta ? &a->meta[i] : &b->meta[i - a->n_meta];
        if (i >= a->n_meta && em_st_meta_get(a, m->key)) continue;   /* seen from a's side */
        const char *va = em_st_meta_get(a, m->key), *vb = em_st_meta_get(b, m->key);
        if (va && vb && !strcmp(va, vb)) {
            fprintf(out, "  %-10s the same\n", m->key);
        } else if (!strcmp(m->key, "config") && va && vb) {
            fprintf(out, "  %-10s differs:", m->key);
            config_diff(va, vb, out);
            fputc('\n', out);
        } else {
            fprintf(out, "  %-10s %s -> %s\n", m->key, va ? va : "(none)", vb ? vb : "(none)");
        }
    }
}

/* max |a - b| (a NaN against a number: infinite), max |a|, how many differ beyond tol */
static void compare(const em_st_tensor *a, const em_st_tensor *b, double tol, double *max_diff,
                    double *scale, size_t *n_diff) {
    *max_diff = *scale = 0;
    *n_diff = 0;
    for (size_t i = 0; i < a->numel; i++) {
        double x = st_value(a, i), y = st_value(b, i);
        double d = isnan(x) && isnan(y) ? 0 : x == y ? 0 : isnan(x - y) ? INFINITY : fabs(x - y);
        if (isfinite(x) && fabs(x) > *scale) *scale = fabs(x);
        if (d > *max_diff) *max_diff = d;
        *n_diff += d > tol;
    }
}

static bool same_shape(const em_st_tensor *a, const em_st_tensor *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

static int tensors_diff(const em_st *a, const em_st *b, double tol, FILE *out) {
    const em_st_tensor **order = in_file_order(a);
    if (!order) return 2;
    int differ = 0, same = 0;
    fprintf(out, "  %-30s %12s %12s %14s\n", "tensor", "max |a-b|", "relative", "values differ");
    for (int i = 0; i < a->n; i++) {
        const em_st_tensor *ta = order[i], *tb = em_st_find(b, ta->name);
        char sa[128], sb[128];
        if (!tb) {
            fprintf(out, "  %-30s only in the first\n", ta->name);
            differ++;
            continue;
        }
        if (!same_shape(ta, tb)) {
            in_shape(sa, sizeof sa, ta->ndim, ta->shape);
            in_shape(sb, sizeof sb, tb->ndim, tb->shape);
            fprintf(out, "  %-30s %s %s against %s %s\n", ta->name, em_st_dtype_name(ta->dtype),
                    sa, em_st_dtype_name(tb->dtype), sb);
            differ++;
            continue;
        }
        double d, scale;
        size_t n;
        compare(ta, tb, tol, &d, &scale, &n);
        if (n == 0) {
            same++;
            continue;
        }
        fprintf(out, "  %-30s %12.4g %12.4g %7zu of %zu\n", ta->name, d, scale > 0 ? d / scale : d,
                n, ta->numel);
        differ++;
    }
    for (int i = 0; i < b->n; i++)
        if (!em_st_find(a, b->tensors[i].name)) {
            fprintf(out, "  %-30s only in the second\n", b->tensors[i].name);
            differ++;
        }
    fprintf(out, "%d tensors differ%s, %d are the same%s\n", differ,
            tol > 0 ? " by more than the tolerance" : "", same, tol > 0 ? " within it" : "");
    free(order);
    return differ ? 1 : 0;
}

int in_diff(const char *pa, const char *pb, double tol, FILE *out, em_error *err) {
    em_st *a, *b;
    if (em_st_read(&a, pa, err) != EM_OK) return 2;
    if (em_st_read(&b, pb, err) != EM_OK) {
        em_st_free(a);
        return 2;
    }
    fprintf(out, "first:  %s (%d tensors)\nsecond: %s (%d tensors)\n", pa, a->n, pb, b->n);
    if (a->n_meta || b->n_meta) fprintf(out, "metadata:\n");
    meta_diff(a, b, out);
    fprintf(out, "tensors (relative: max |a-b| over max |a|):\n");
    int status = tensors_diff(a, b, tol, out);
    if (status == 2) em_error_set(err, EM_ERR_NOMEM, "out of memory");
    em_st_free(a);
    em_st_free(b);
    return status;
}

/* ---- .npy -------------------------------------------------------------------------------------- */

em_code in_npy(const char *path, FILE *out, em_error *err) {
    em_npy_header h;
    double *v;
    em_code c = em_npy_load(path, &h, &v, err);
    if (c != EM_OK) return c;
    const char *kind = h.kind == 'f' ? "float" : h.kind == 'i' ? "int" : h.kind == 'u' ? "uint" : "bool";
    char type[16], shape[256];
    if (h.kind == 'b') snprintf(type, sizeof type, "%s", kind);
    else snprintf(type, sizeof type, "%s%zu", kind, 8 * h.itemsize);
    in_shape(shape, sizeof shape, h.ndim, h.shape);
    fprintf(out, "%s: .npy version %d, dtype %s (%s), shape %s (%zu values), %s order\n", path,
            h.major, h.descr, type, shape, h.numel, h.fortran_order ? "Fortran" : "C");
    in_stats s;
    in_stats_init(&s);
    for (size_t i = 0; i < h.numel; i++) in_stats_add(&s, v[i]);
    fprintf(out, "  %11s %11s %11s %11s %10s\n", "min", "max", "mean", "std", "non-finite");
    fputc(' ', out);
    in_stats_print(&s, out);
    free(v);
    return EM_OK;
}

/* ---- EMFX: the golden values of tests/fixtures (tools/fixtures/emfx.py) ------------------------ */

typedef struct bytes_in {
    const unsigned char *p;
    size_t len, at;
} bytes_in;

static bool take(bytes_in *b, void *out, size_t n) {
    if (n > b->len - b->at) return false;
    memcpy(out, b->p + b->at, n);
    b->at += n;
    return true;
}

static em_code emfx_tensor(bytes_in *b, const char *path, uint32_t index, FILE *out, size_t *bad,
                           em_error *err) {
    uint16_t len;
    uint8_t nd, width;
    char name[129];
    int64_t shape[8];
    if (!take(b, &len, 2) || len > 128 || !take(b, name, len) || !take(b, &nd, 1) || nd > 8)
        return em_error_set(err, EM_ERR_FORMAT, "%s: tensor %u: a bad name or number of "
                            "dimensions (truncated?)", path, index);
    name[len] = '\0';
    size_t numel = 1;
    for (int d = 0; d < nd; d++) {
        int32_t v;
        if (!take(b, &v, 4) || v < 0)
            return em_error_set(err, EM_ERR_FORMAT, "%s: tensor %s: a bad dimension", path, name);
        shape[d] = v;
        numel = numel > (size_t)1 << 40 || (size_t)v > (size_t)1 << 40 ? (size_t)1 << 62 : numel * (size_t)v;
    }
    if (!take(b, &width, 1) || (width != 4 && width != 8))
        return em_error_set(err, EM_ERR_FORMAT, "%s: tensor %s: a value width other than 4 or 8",
                            path, name);
    if (numel > (b->len - b->at) / width)
        return em_error_set(err, EM_ERR_FORMAT, "%s: truncated: tensor %s needs %zu values", path,
                            name, numel);
    char sh[128];
    in_shape(sh, sizeof sh, nd, shape);
    fprintf(out, "  %-28s %-7s %-14s", name, width == 4 ? "F32" : "F64", sh);
    in_stats s;
    in_stats_init(&s);
    for (size_t i = 0; i < numel; i++, b->at += width) {   /* checked above: all there */
        float f = 0;
        double d = 0;
        if (width == 4) memcpy(&f, b->p + b->at, 4), d = f;
        else memcpy(&d, b->p + b->at, 8);
        in_stats_add(&s, d);
    }
    in_stats_print(&s, out);
    *bad += s.nonfinite;
    return EM_OK;
}

em_code in_emfx(const char *path, FILE *out, em_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return em_error_set(err, EM_ERR_IO, "%s: cannot open", path);
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            unsigned char *nb = cap > ((size_t)1 << 31) ? NULL : realloc(buf, cap ? 2 * cap : 65536);
            if (!nb) {
                free(buf);
                fclose(f);
                return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = cap ? 2 * cap : 65536;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    fclose(f);
    bytes_in b = {buf, len, 0};
    uint32_t count = 0;
    char magic[4];
    em_code c = EM_OK;
    if (!take(&b, magic, 4) || memcmp(magic, "EMFX", 4) || !take(&b, &count, 4) || count >= 10000)
        c = em_error_set(err, EM_ERR_FORMAT, "%s: not an EMFX fixture (magic, count)", path);
    size_t bad = 0;
    if (c == EM_OK) {
        fprintf(out, "%s: EMFX test fixture (tools/fixtures/emfx.py), %u tensors\n", path, count);
        table_header(out, 28);
    }
    for (uint32_t i = 0; c == EM_OK && i < count; i++) c = emfx_tensor(&b, path, i, out, &bad, err);
    if (c == EM_OK && b.at != b.len)
        c = em_error_set(err, EM_ERR_FORMAT, "%s: %zu unexpected bytes after the last tensor",
                         path, b.len - b.at);
    if (c == EM_OK && bad) fprintf(out, "%zu values are NaN or infinite\n", bad);
    else if (c == EM_OK) fprintf(out, "every value is finite\n");
    free(buf);
    return c;
}

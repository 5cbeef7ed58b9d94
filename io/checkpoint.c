/* io/checkpoint.c — models and training state to and from safetensors (see checkpoint.h).
 * Loading is two phases: plan (match every expected tensor against the file, check dtype
 * and shape; nothing is written) and commit (copy; cannot fail). */
#include "checkpoint.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(em_rng) == 16 && offsetof(em_rng, inc) == 8,
               "EM_CK_RNG saves an em_rng as two consecutive uint64");

/* ---- save ---------------------------------------------------------------------------------- */

struct collect {
    em_st_tensor *t;
    char **names;
    int n, cap;
    bool nomem;
    bool finite_only;        /* look for NaN/Inf in real tensors (opts->finite_only)      */
    int nonfinite;           /* the first such tensor's index, or -1                     */
};

/* every value finite: v * 0 is 0 for finite v, NaN for NaN and Inf */
static bool all_finite(const em_real *v, size_t n) {
    em_real acc = 0;
    for (size_t i = 0; i < n; i++) acc += v[i] * 0;
    return acc == 0;
}

static em_st_tensor *collect_push(struct collect *c, const char *name) {
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 32;
        em_st_tensor *t = realloc(c->t, (size_t)cap * sizeof *t);
        if (t) c->t = t;
        char **names = realloc(c->names, (size_t)cap * sizeof *names);
        if (names) c->names = names;
        if (!t || !names) return NULL;
        c->cap = cap;
    }
    size_t len = strlen(name) + 1;
    char *copy = malloc(len);
    if (!copy) return NULL;
    memcpy(copy, name, len);
    c->names[c->n] = copy;
    em_st_tensor *t = &c->t[c->n++];
    memset(t, 0, sizeof *t);
    t->name = copy;
    return t;
}

static bool collect_fn(void *ctx, const char *name, const em_entry *e) {
    struct collect *c = ctx;
    em_st_tensor *t = collect_push(c, name);
    if (!t) {
        c->nomem = true;
        return false;
    }
    if (e->kind == EM_ENTRY_COUNTER) {       /* an I64 scalar, as PyTorch stores it */
        t->dtype = EM_ST_I64;
        t->ndim = 0;
        t->data = e->counter;
    } else {
        t->dtype = EM_ST_REAL;
        t->ndim = e->tensor->ndim;
        for (int d = 0; d < t->ndim; d++) t->shape[d] = e->tensor->shape[d];
        t->data = e->tensor->data;
        if (c->finite_only && c->nonfinite < 0 && !all_finite(e->tensor->data, e->tensor->size))
            c->nonfinite = c->n - 1;
    }
    return true;
}

em_code em_checkpoint_save(const char *path, em_module *model, const em_ck_save_opts *opts,
                           em_error *err) {
    EM_ASSERT(path && model);
    static const em_ck_save_opts none = {0};
    if (!opts) opts = &none;
    struct collect c = {.finite_only = opts->finite_only, .nonfinite = -1};
    em_module_visit(model, collect_fn, &c);
    for (int i = 0; i < opts->n_extra && !c.nomem; i++) {
        const em_ck_entry *x = &opts->extra[i];
        EM_ASSERT(x->name && (x->data || x->n == 0));
        em_st_tensor *t = collect_push(&c, x->name);
        if (!t) {
            c.nomem = true;
            break;
        }
        t->dtype = x->dtype;
        t->ndim = 1;
        t->shape[0] = (int64_t)x->n;
        t->data = x->data;
    }
    em_st_meta meta[64];
    int nm = 0;
    meta[nm++] = (em_st_meta){"format", "pt"};
    meta[nm++] = (em_st_meta){"framework", "ember"};
    meta[nm++] = (em_st_meta){"dtype", EM_REAL_NAME};
    if (opts->model_name) meta[nm++] = (em_st_meta){"model", opts->model_name};
    if (opts->config) meta[nm++] = (em_st_meta){"config", opts->config};
    if (opts->progress) meta[nm++] = (em_st_meta){"progress", opts->progress};
    em_code code = EM_OK;
    if (opts->n_meta > 64 - nm)
        code = em_error_set(err, EM_ERR_ARG, "%s: %d metadata entries (at most %d)", path,
                            opts->n_meta, 64 - nm);
    for (int i = 0; !code && i < opts->n_meta; i++) meta[nm++] = opts->meta[i];
    if (!code && c.nomem)
        code = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory listing the tensors", path);
    if (!code && c.nonfinite >= 0)
        code = em_error_set(err, EM_ERR_NUMERIC, "%s: not saved: tensor '%s' holds NaN or Inf "
                            "values (the file there, if any, is unchanged)", path,
                            c.t[c.nonfinite].name);
    if (!code) code = em_st_save(path, c.n, c.t, nm, meta, opts->fail_after_bytes, err);
    for (int i = 0; i < c.n; i++) free(c.names[i]);
    free(c.names);
    free(c.t);
    return code;
}

/* ---- load: plan, then commit ------------------------------------------------------------- */

/* one copy to do: n values of the file's tensor src into dst, of dtype dst_dtype, once
 * the values (at bytes: in the file's memory, or staged from the file) pass their check */
typedef struct copy_op {
    const em_st_tensor *src;
    void *dst;
    em_st_dtype dst_dtype;
    const unsigned char *bytes;
    em_ck_check check;          /* EM_CK_RANGE for counters too                          */
    int64_t lo, hi;
    bool variance;              /* a running variance: also >= 0                          */
} copy_op;

struct plan {
    const em_st *st;
    copy_op *ops;
    int n, cap;
    bool *used;                 /* per file tensor */
    em_code code;
    em_error *err;
};

static bool is_real(em_st_dtype d) { return d == EM_ST_F32 || d == EM_ST_F64; }

static char *shape_str(int ndim, const int64_t *shape, char *buf, size_t len) {
    int k = snprintf(buf, len, "(");
    for (int d = 0; d < ndim && k >= 0 && (size_t)k < len; d++)
        k += snprintf(buf + k, len - (size_t)k, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (k >= 0 && (size_t)k < len) snprintf(buf + k, len - (size_t)k, ndim == 1 ? ",)" : ")");
    return buf;
}

/* the file's tensor `name`, checked for dtype and shape; NULL with p->code set otherwise */
static const em_st_tensor *plan_find(struct plan *p, const char *name, em_st_dtype want,
                                     int ndim, const int64_t *shape, bool scalar_ok) {
    const char *src = p->st->source;
    const em_st_tensor *t = em_st_find(p->st, name);
    if (!t) {
        const char *model = em_st_meta_get(p->st, "model");
        p->code = em_error_set(p->err, EM_ERR_FORMAT, "%s: tensor '%s' is missing from the "
                               "file; is it a checkpoint of this model%s%s%s, with the same "
                               "BatchNorm setting?", src, name,
                               model ? " (the file says model '" : "", model ? model : "",
                               model ? "')" : "");
        return NULL;
    }
    bool dtype_ok = is_real(want) ? is_real(t->dtype) : t->dtype == want;
    if (!dtype_ok) {
        p->code = em_error_set(p->err, EM_ERR_FORMAT, "%s: tensor '%s' has dtype %s; ember "
                               "loads it from %s", src, name, em_st_dtype_name(t->dtype),
                               is_real(want) ? "F32 or F64" : em_st_dtype_name(want));
        return NULL;
    }
    bool same = t->ndim == ndim || (scalar_ok && t->numel == 1 && t->ndim <= 1);
    for (int d = 0; same && d < ndim && t->ndim == ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char a[96], b[96];
        const char *model = em_st_meta_get(p->st, "model");
        p->code = em_error_set(p->err, EM_ERR_FORMAT, "%s: tensor '%s' has shape %s in the "
                               "file but %s in the model; a checkpoint of another model%s%s%s?",
                               src, name, shape_str(t->ndim, t->shape, a, sizeof a),
                               shape_str(ndim, shape, b, sizeof b),
                               model ? " (the file says model '" : "", model ? model : "",
                               model ? "')" : "");
        return NULL;
    }
    return t;
}

static copy_op *plan_push(struct plan *p, const em_st_tensor *src, void *dst, em_st_dtype dt) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 32;
        copy_op *ops = realloc(p->ops, (size_t)cap * sizeof *ops);
        if (!ops) {
            p->code = em_error_set(p->err, EM_ERR_NOMEM, "%s: out of memory", p->st->source);
            return NULL;
        }
        p->ops = ops;
        p->cap = cap;
    }
    p->ops[p->n] = (copy_op){.src = src, .dst = dst, .dst_dtype = dt};
    p->used[src - p->st->tensors] = true;
    return &p->ops[p->n++];
}

/* name ends in suffix */
static bool ends_with(const char *name, const char *suffix) {
    size_t n = strlen(name), k = strlen(suffix);
    return n >= k && !strcmp(name + n - k, suffix);
}

/* every model entry: counters in [0, EM_CK_COUNTER_MAX], parameters and buffers finite,
 * running variances >= 0 (PyTorch's state-dict name for BatchNorm's variance) */
static bool plan_fn(void *ctx, const char *name, const em_entry *e) {
    struct plan *p = ctx;
    const em_st_tensor *t;
    copy_op *op;
    if (e->kind == EM_ENTRY_COUNTER) {
        t = plan_find(p, name, EM_ST_I64, 0, NULL, true);
        if (!t || !(op = plan_push(p, t, e->counter, EM_ST_I64))) return false;
        op->check = EM_CK_RANGE;
        op->hi = EM_CK_COUNTER_MAX;
        return true;
    }
    int64_t shape[EM_MAX_DIMS];
    for (int d = 0; d < e->tensor->ndim; d++) shape[d] = e->tensor->shape[d];
    t = plan_find(p, name, EM_ST_REAL, e->tensor->ndim, shape, false);
    if (!t || !(op = plan_push(p, t, e->tensor->data, EM_ST_REAL))) return false;
    op->check = EM_CK_FINITE;
    op->variance = e->kind == EM_ENTRY_BUFFER && ends_with(name, "running_var");
    return true;
}

/* n values from the file's bytes into dst: same dtype, or F32 <-> F64 */
static void copy_values(void *dst, em_st_dtype dd, const em_st_tensor *src,
                        const unsigned char *bytes) {
    size_t n = src->numel;
    if (dd == src->dtype) {
        memcpy(dst, bytes, n * em_st_dtype_size(dd));
    } else if (dd == EM_ST_F64) {                 /* F32 -> F64: exact */
        const unsigned char *s = bytes;
        for (size_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, s + 4 * i, 4);
            ((double *)dst)[i] = v;
        }
    } else {                                      /* F64 -> F32: rounded to nearest */
        const unsigned char *s = bytes;
        for (size_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, s + 8 * i, 8);
            ((float *)dst)[i] = (float)v;
        }
    }
}

/* value i of a real tensor as the destination will hold it (F64 -> F32 may overflow) */
static double real_at(const copy_op *op, size_t i) {
    double v;
    if (op->src->dtype == EM_ST_F64) {
        memcpy(&v, op->bytes + 8 * i, 8);
        if (op->dst_dtype == EM_ST_F32) v = (float)v;
    } else {
        float f;
        memcpy(&f, op->bytes + 4 * i, 4);
        v = f;
    }
    return v;
}

/* the values of one planned copy against its check; EM_OK or EM_ERR_FORMAT naming it */
static em_code check_values(const copy_op *op, const char *src, em_error *err) {
    const char *name = op->src->name;
    for (size_t i = 0; i < op->src->numel && op->check != EM_CK_ANY; i++) {
        if (op->check == EM_CK_RANGE) {
            int64_t v;
            memcpy(&v, op->bytes + 8 * i, 8);
            if (v < op->lo || v > op->hi)
                return em_error_set(err, EM_ERR_FORMAT, "%s: '%s' is %lld%s, outside [%lld, "
                                    "%lld]: the file is corrupt", src, name, (long long)v,
                                    op->src->numel > 1 ? " somewhere" : "", (long long)op->lo,
                                    (long long)op->hi);
            continue;
        }
        double v = real_at(op, i);
        if (!isfinite(v))
            return em_error_set(err, EM_ERR_FORMAT, "%s: tensor '%s' holds %s at index %zu%s; "
                                "the file is corrupt or was saved from a run that diverged",
                                src, name, isnan(v) ? "NaN" : "Inf", i,
                                op->src->dtype != op->dst_dtype && !isnan(v)
                                    ? " (beyond the range of float)" : "");
        if (op->variance && v < 0)
            return em_error_set(err, EM_ERR_FORMAT, "%s: tensor '%s' holds %g at index %zu: a "
                                "running variance cannot be negative; the file is corrupt",
                                src, name, v, i);
    }
    return EM_OK;
}

/* every planned copy's source bytes: in memory already, or read from the file (em_st_open)
 * into *staged, one block for all; then every value checked */
static em_code stage_and_check(struct plan *p, unsigned char **staged) {
    size_t need = 0;
    for (int i = 0; i < p->n; i++)
        if (!p->ops[i].src->data) need += p->ops[i].src->end - p->ops[i].src->begin;
    *staged = need ? malloc(need) : NULL;
    if (need && !*staged)
        return em_error_set(p->err, EM_ERR_NOMEM, "%s: out of memory for %zu bytes",
                            p->st->source, need);
    size_t at = 0;
    for (int i = 0; i < p->n; i++) {
        copy_op *op = &p->ops[i];
        if (op->src->data) {
            op->bytes = op->src->data;
            continue;
        }
        op->bytes = *staged + at;
        em_code c = em_st_read_tensor(p->st, op->src, *staged + at, p->err);
        if (c) return c;
        at += op->src->end - op->src->begin;
    }
    for (int i = 0; i < p->n; i++) {
        em_code c = check_values(&p->ops[i], p->st->source, p->err);
        if (c) return c;
    }
    return EM_OK;
}

em_code em_checkpoint_apply(const em_st *st, em_module *model, const em_ck_load_opts *opts,
                            em_error *err) {
    EM_ASSERT(st && model);
    static const em_ck_load_opts none = {0};
    if (!opts) opts = &none;
    const char *src = st->source;
    if (opts->expect_model) {
        const char *m = em_st_meta_get(st, "model");
        if (!m || strcmp(m, opts->expect_model))
            return em_error_set(err, EM_ERR_FORMAT, "%s: a checkpoint of %s%s%s, not of '%s'",
                                src, m ? "'" : "an unnamed model", m ? m : "", m ? "'" : "",
                                opts->expect_model);
    }
    struct plan p = {.st = st, .err = err};
    p.used = calloc(st->n ? (size_t)st->n : 1, sizeof *p.used);
    if (!p.used) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", src);
    em_module_visit(model, plan_fn, &p);
    for (int i = 0; i < opts->n_extra && !p.code; i++) {
        const em_ck_entry *x = &opts->extra[i];
        int64_t n = (int64_t)x->n;
        const em_st_tensor *t = plan_find(&p, x->name, x->dtype, 1, &n, x->n == 1);
        copy_op *op;
        if (t && p.used[t - st->tensors])
            p.code = em_error_set(err, EM_ERR_ARG, "%s: '%s' is asked for twice", src, x->name);
        else if (t && (op = plan_push(&p, t, x->data, x->dtype)) != NULL) {
            const em_ck_require *r = opts->require ? &opts->require[i] : NULL;
            if (r) {
                EM_ASSERT_MSG(r->check != EM_CK_RANGE || x->dtype == EM_ST_I64,
                              "EM_CK_RANGE is for I64 entries");
                EM_ASSERT_MSG(r->check != EM_CK_FINITE || is_real(x->dtype),
                              "EM_CK_FINITE is for real entries");
                op->check = r->check;
                op->lo = r->lo;
                op->hi = r->hi;
            }
        }
    }
    for (int i = 0; i < st->n && !p.code && !opts->allow_unused; i++)
        if (!p.used[i])
            p.code = em_error_set(err, EM_ERR_FORMAT, "%s: unexpected tensor '%s' (not part of "
                                  "the model%s; load with allow_unused to ignore it)", src,
                                  st->tensors[i].name, opts->n_extra ? " or the extras" : "");
    unsigned char *staged = NULL;
    if (!p.code) p.code = stage_and_check(&p, &staged);
    if (!p.code)                                  /* commit: nothing below can fail */
        for (int i = 0; i < p.n; i++)
            copy_values(p.ops[i].dst, p.ops[i].dst_dtype, p.ops[i].src, p.ops[i].bytes);
    free(staged);
    free(p.ops);
    free(p.used);
    return p.code;
}

em_code em_checkpoint_load(const char *path, em_module *model, const em_ck_load_opts *opts,
                           em_error *err) {
    em_st *st;
    em_code code = em_st_open(&st, path, err);   /* the header; the bytes as they are needed */
    if (code) return code;
    code = em_checkpoint_apply(st, model, opts, err);
    em_st_free(st);
    return code;
}

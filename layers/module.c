/* layers/module.c — what every module shares: forwarding through the vtable, the state
 * walk with PyTorch names, the parameter block, and Sequential. */
#include "module.h"

#include <stdlib.h>
#include <string.h>

#include "fusion.h"

em_tensor *em_module_forward(em_module *m, em_tape *tape, em_tensor *x) {
    if (!x || !em_tape_ok(tape)) return NULL;
    return m->ops->forward(m, tape, x);
}

void em_module_free(em_module *m) {
    if (!m) return;
    em_module_free_params(m);
    m->ops->free(m);
}

static em_module *child_at(em_module *m, int i) {
    return m->ops->child ? m->ops->child(m, i) : NULL;
}

void em_module_train(em_module *m, bool training) {
    m->training = training;
    for (int i = 0; child_at(m, i); i++) em_module_train(child_at(m, i), training);
}

void em_module_init(em_module *m, em_rng *rng, const em_init *init) {
    static const em_init defaults = {EM_INIT_DEFAULT, 0, 1};
    if (!init) init = &defaults;
    if (m->ops->init) m->ops->init(m, rng, init);
    for (int i = 0; child_at(m, i); i++) em_module_init(child_at(m, i), rng, init);
}

/* ---- the state walk ------------------------------------------------------------------ */

/* a state-dict name's most: room for the deepest nesting the architecture language takes
 * (32 levels of "100000.shortcut.", then the entry's name); 256 cut names of 27 levels */
#define NAME_MAX_LEN 1024

static bool visit_prefixed(em_module *m, const char *prefix, em_visit_fn fn, void *ctx) {
    char name[NAME_MAX_LEN];
    const char *(*child_name)(const em_module *, int) = m->ops->child_name;
    if (m->ops->entries) {
        em_entry e[EM_MAX_ENTRIES];
        int n = m->ops->entries(m, e);
        for (int k = 0; k < n; k++) {
            snprintf(name, sizeof name, "%s%s", prefix, e[k].name);
            if (!fn(ctx, name, &e[k])) return false;
        }
    }
    for (int i = 0; child_at(m, i); i++) {
        if (child_name) snprintf(name, sizeof name, "%s%s.", prefix, child_name(m, i));
        else snprintf(name, sizeof name, "%s%d.", prefix, i);
        if (!visit_prefixed(child_at(m, i), name, fn, ctx)) return false;
    }
    return true;
}

bool em_module_visit(em_module *m, em_visit_fn fn, void *ctx) {
    return visit_prefixed(m, "", fn, ctx);
}

struct find_ctx { const char *want; em_entry *out; bool found; };

static bool find_fn(void *ctx, const char *name, const em_entry *e) {
    struct find_ctx *f = ctx;
    if (strcmp(name, f->want)) return true;
    *f->out = *e;
    f->found = true;
    return false;
}

bool em_module_find(em_module *m, const char *name, em_entry *out) {
    struct find_ctx f = {name, out, false};
    em_module_visit(m, find_fn, &f);
    return f.found;
}

static int rngs_at(em_module *m, em_rng **out, int max, int count) {
    em_rng *r = m->ops->rng ? m->ops->rng(m) : NULL;
    if (r && count < max) out[count] = r;
    count += r != NULL;
    for (int i = 0; child_at(m, i); i++) count = rngs_at(child_at(m, i), out, max, count);
    return count;
}

int em_module_rngs(em_module *m, em_rng **out, int max) { return rngs_at(m, out, max, 0); }

static bool count_fn(void *ctx, const char *name, const em_entry *e) {
    (void)name;
    if (e->kind == EM_ENTRY_PARAM) *(size_t *)ctx += e->tensor->size;
    return true;
}

size_t em_module_param_count(em_module *m) {
    size_t n = 0;
    em_module_visit(m, count_fn, &n);
    return n;
}

em_params em_module_params(em_module *m) {
    return (em_params){m->param_data, m->param_grad, m->n_params};
}

void em_module_zero_grad(em_module *m) {
    if (m->param_grad) memset(m->param_grad, 0, m->n_params * sizeof(em_real));
}

/* the name of the fused run m's child i starts, when m is a Sequential with one there */
static const char *fused_run_at(em_module *m, int i, int *count);

static void print_tree(em_module *m, const char *prefix, FILE *out) {
    char desc[160];
    int left = 0;  /* children still inside the fused run printed above */
    for (int i = 0; child_at(m, i); i++) {
        em_module *c = child_at(m, i);
        char name[64];
        if (m->ops->child_name) snprintf(name, sizeof name, "%s%s", prefix, m->ops->child_name(m, i));
        else snprintf(name, sizeof name, "%s%d", prefix, i);
        c->ops->describe(c, desc, sizeof desc);
        int count = 0;
        const char *run = left ? NULL : fused_run_at(m, i, &count);
        if (run) left = count;
        fprintf(out, "  (%s) %s", name, desc);
        if (run) fprintf(out, "   [%s-%d fused: %s]", name, i + count - 1, run);
        fputc('\n', out);
        if (left) left--;
        char sub[72];
        snprintf(sub, sizeof sub, "%s.", name);
        print_tree(c, sub, out);
    }
}

void em_module_print(em_module *m, FILE *out) {
    char desc[160];
    m->ops->describe(m, desc, sizeof desc);
    fprintf(out, "%s: %zu parameters\n", desc, em_module_param_count(m));
    print_tree(m, "", out);
}

/* ---- parameter blocks ---------------------------------------------------------------- */

bool em_module_alloc_params(em_module *m, int n, em_tensor *const *tensors,
                            const int *ndims, const int (*shapes)[EM_MAX_DIMS]) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += em_shape_size(ndims[i], shapes[i]);
    em_real *data = calloc(total ? total : 1, sizeof *data);
    em_real *grad = calloc(total ? total : 1, sizeof *grad);
    if (!data || !grad) {
        free(data);
        free(grad);
        return false;
    }
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        em_tensor_wrap(tensors[i], data + at, grad + at, ndims[i], shapes[i]);
        at += tensors[i]->size;
    }
    m->param_data = data;
    m->param_grad = grad;
    m->n_params = total;
    return true;
}

void em_module_free_params(em_module *m) {
    free(m->param_data);
    free(m->param_grad);
    m->param_data = m->param_grad = NULL;
    m->n_params = 0;
}

/* ---- Sequential ---------------------------------------------------------------------- */

typedef struct sequential {
    em_module base;
    int n;
    em_module **mods;
    em_plan_step *plan;  /* the steps of a forward (layers/fusion.c), made once */
    int n_steps;
    bool fuse;           /* run the plan's fused steps as one op where the kernels allow */
} sequential;

static em_tensor *seq_forward(em_module *m, em_tape *tape, em_tensor *x) {
    sequential *s = (sequential *)m;
    for (int k = 0; k < s->n_steps && x; k++) x = em_plan_run(&s->plan[k], s->mods, tape, x, s->fuse);
    return x;
}

static void seq_free(em_module *m) {
    sequential *s = (sequential *)m;
    for (int i = 0; i < s->n; i++) em_module_free(s->mods[i]);
    free(s->mods);
    free(s->plan);
    free(s);
}

static em_module *seq_child(em_module *m, int i) {
    sequential *s = (sequential *)m;
    return i >= 0 && i < s->n ? s->mods[i] : NULL;
}

static void seq_describe(const em_module *m, char *buf, size_t len) {
    snprintf(buf, len, "Sequential(%d modules)", ((const sequential *)m)->n);
}

static const em_module_ops sequential_ops = {
    .kind = "Sequential",
    .forward = seq_forward,
    .free = seq_free,
    .child = seq_child,
    .describe = seq_describe,
};

/* Every parameter of the tree copied into the new block, its tensor pointed there. */
struct gather_ctx { em_real *data, *grad; size_t at; };

static bool gather_fn(void *ctx, const char *name, const em_entry *e) {
    (void)name;
    struct gather_ctx *g = ctx;
    if (e->kind != EM_ENTRY_PARAM) return true;
    em_tensor *t = e->tensor;
    memcpy(g->data + g->at, t->data, t->size * sizeof(em_real));
    memcpy(g->grad + g->at, t->grad, t->size * sizeof(em_real));
    t->data = g->data + g->at;
    t->grad = g->grad + g->at;
    g->at += t->size;
    return true;
}

static void free_blocks_below(em_module *m) {
    for (int i = 0; child_at(m, i); i++) {
        em_module_free_params(child_at(m, i));
        free_blocks_below(child_at(m, i));
    }
}

bool em_module_gather_params(em_module *m) {
    size_t total = em_module_param_count(m);
    struct gather_ctx g = {calloc(total ? total : 1, sizeof(em_real)),
                           calloc(total ? total : 1, sizeof(em_real)), 0};
    if (!g.data || !g.grad) {
        free(g.data);
        free(g.grad);
        return false;
    }
    em_module_visit(m, gather_fn, &g);
    free_blocks_below(m);
    m->param_data = g.data;
    m->param_grad = g.grad;
    m->n_params = total;
    return true;
}

em_module *em_sequential_new(int n, em_module *const *modules) {
    sequential *s = calloc(1, sizeof *s);
    em_module **mods = calloc(n > 0 ? (size_t)n : 1, sizeof *mods);
    em_plan_step *plan = calloc(n > 0 ? (size_t)n : 1, sizeof *plan);
    bool ok = s && mods && plan;
    for (int i = 0; i < n; i++) ok = ok && modules[i];
    if (!ok) {
        for (int i = 0; i < n; i++) em_module_free(modules[i]);
        free(s);
        free(mods);
        free(plan);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            EM_ASSERT_MSG(modules[i] != modules[j], "the same module twice in a Sequential");
    memcpy(mods, modules, (size_t)n * sizeof *mods);
    s->base.ops = &sequential_ops;
    s->base.training = true;
    s->n = n;
    s->mods = mods;
    s->plan = plan;
    s->n_steps = em_plan_build(mods, n, plan);
    s->fuse = true;

    if (!em_module_gather_params(&s->base)) {
        seq_free(&s->base);
        return NULL;
    }
    return &s->base;
}

int em_sequential_len(const em_module *m) {
    EM_ASSERT_MSG(m->ops == &sequential_ops, "not a Sequential");
    return ((const sequential *)m)->n;
}

em_module *em_sequential_at(em_module *m, int i) {
    EM_ASSERT_MSG(m->ops == &sequential_ops, "not a Sequential");
    return seq_child(m, i);
}

void em_sequential_fuse(em_module *m, bool on) {
    EM_ASSERT_MSG(m->ops == &sequential_ops, "not a Sequential");
    ((sequential *)m)->fuse = on;
}

static const char *fused_run_at(em_module *m, int i, int *count) {
    if (m->ops != &sequential_ops) return NULL;
    const sequential *s = (const sequential *)m;
    for (int k = 0; s->fuse && k < s->n_steps; k++)
        if (s->plan[k].first == i && s->plan[k].kind != EM_STEP_MODULE) {
            *count = s->plan[k].count;
            return em_plan_step_name(s->plan[k].kind);
        }
    return NULL;
}

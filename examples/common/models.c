/* examples/common/models.c — the model zoo, see models.h: the presets are specs of the
 * architecture language (arch.h); the generic MLP of the experiments is built here. */
#include "models.h"

#include <math.h>
#include <string.h>

const char *const em_model_names[EM_N_MODELS] = {"mnist-cnn", "cifar-cnn", "mlp", "lenet",
                                                 "resnet8", "resnet20"};

static const struct preset {
    const char *name;
    const char *spec;  /* the mlp's has %s for its activation */
    int chw[3];
} presets[] = {
    {"mnist-cnn", "conv16 bn relu pool2 conv32 bn relu pool2 flatten fc128 bn relu fc10",
     {1, 28, 28}},
    {"cifar-cnn", "conv32 bn relu conv32 bn relu pool2 conv64 bn relu conv64 bn relu pool2 "
                  "conv128 bn relu pool2 flatten fc256 bn relu fc10", {3, 32, 32}},
    {"mlp", "flatten fc100 bn %s fc100 bn %s fc100 bn %s fc10", {1, 28, 28}},
    {"lenet", "conv6k5p0 bn sigmoid avgpool2 conv16k5p0 bn sigmoid avgpool2 flatten "
              "fc120 bn sigmoid fc84 bn sigmoid fc10", {1, 28, 28}},
    {"resnet8", "conv16 bn relu res16 res32s2 res64s2 gap fc10", {1, 28, 28}},
    {"resnet20", "conv16 bn relu 3*res16 res32s2 2*res32 res64s2 2*res64 gap fc10",
     {3, 32, 32}},
};

em_model_opts em_model_defaults(void) {
    return (em_model_opts){.bn = true, .norm = NULL, .norm_after = -1, .act = "sigmoid",
                           .bn_opts = em_bn_defaults(), .gn_opts = em_gn_defaults()};
}

const char *em_model_spec(const char *name, const char *act, char *buf, size_t len,
                          int input_chw[3]) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(name, presets[i].name)) continue;
        memcpy(input_chw, presets[i].chw, sizeof presets[i].chw);
        if (strcmp(name, "mlp")) return presets[i].spec;
        const char *a = act ? act : "sigmoid";
        if (strcmp(a, "relu") && strcmp(a, "sigmoid") && strcmp(a, "tanh")) return NULL;
        snprintf(buf, len, presets[i].spec, a, a, a);
        return buf;
    }
    return NULL;
}

em_arch_opts em_model_arch_opts(const em_model_opts *o) {
    em_arch_opts a = em_arch_defaults();
    a.norm = o->bn ? o->norm : "none";
    a.norm_after = o->norm_after;
    a.width = o->width > 0 ? o->width : 1;
    a.bn = o->bn_opts;
    a.gn = o->gn_opts;
    return a;
}

em_module *em_model_new(const char *name, const em_model_opts *opts, int input_chw[3]) {
    em_model_opts o = opts ? *opts : em_model_defaults();
    char buf[256];
    const char *spec = em_model_spec(name, o.act, buf, sizeof buf, input_chw);
    if (!spec || o.width > 64) return NULL;
    em_arch *a;
    em_error err;
    if (em_arch_parse(spec, name, &a, &err) != EM_OK) return NULL;
    em_arch_opts ao = em_model_arch_opts(&o);
    em_module *net = em_arch_build(a, input_chw, &ao, &err);
    em_arch_free(a);
    return net;
}

/* ---- initializations of residual networks ---------------------------------------------- */

static bool is_norm(const em_module *m) {
    const char *k = m->ops->kind;
    return !strcmp(k, "BatchNorm") || !strcmp(k, "GroupNorm") || !strcmp(k, "LayerNorm") ||
           !strcmp(k, "InstanceNorm2d");
}

static bool is_weight_layer(const em_module *m) {
    return !strcmp(m->ops->kind, "Conv2d") || !strcmp(m->ops->kind, "Linear");
}

static em_module *child(em_module *m, int i) { return m->ops->child ? m->ops->child(m, i) : NULL; }

/* the modules of m's tree that pred picks, counted; and the last of them, depth first (the
 * networks of the architecture language have any number of blocks and layers) */
static int count_of(em_module *m, bool (*pred)(const em_module *)) {
    int n = pred(m);
    for (int i = 0; child(m, i); i++) n += count_of(child(m, i), pred);
    return n;
}

static em_module *last_of(em_module *m, bool (*pred)(const em_module *)) {
    em_module *last = pred(m) ? m : NULL;
    for (int i = 0; child(m, i); i++) {
        em_module *l = last_of(child(m, i), pred);
        if (l) last = l;
    }
    return last;
}

/* the entry "weight" or "bias" of a module, or NULL */
static em_tensor *entry(em_module *m, const char *name) {
    em_entry e[EM_MAX_ENTRIES];
    int n = m->ops->entries ? m->ops->entries(m, e) : 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(e[i].name, name)) return e[i].tensor;
    return NULL;
}

static void scale(em_tensor *t, double s) {
    for (size_t i = 0; t && i < t->size; i++) t->data[i] = (em_real)(t->data[i] * s);
}

static bool is_block(const em_module *m) { return em_module_is_residual(m); }

/* every block of m's tree, outer before inner: its branch's last norm's gamma set to 0 */
static int zero_gamma_blocks(em_module *m) {
    int changed = 0;
    if (is_block(m)) {
        em_module *norm = last_of(child(m, 0), is_norm);   /* child 0: the branch */
        if (norm && entry(norm, "weight")) {
            scale(entry(norm, "weight"), 0);
            changed++;
        }
    }
    for (int i = 0; child(m, i); i++) changed += zero_gamma_blocks(child(m, i));
    return changed;
}

int em_model_zero_gamma(em_module *net) { return zero_gamma_blocks(net); }

/* every weight of m's tree but except's times s */
static void scale_weights(em_module *m, const em_module *except, double s) {
    if (is_weight_layer(m) && m != except) scale(entry(m, "weight"), s);
    for (int i = 0; child(m, i); i++) scale_weights(child(m, i), except, s);
}

/* every block of m's tree, outer before inner, as Fixup's rule for L blocks says */
static void fixup_blocks(em_module *m, int L) {
    if (is_block(m)) {
        em_module *branch = child(m, 0), *last = last_of(branch, is_weight_layer);
        int k = count_of(branch, is_weight_layer);
        if (k > 1) scale_weights(branch, last, pow((double)L, -1.0 / (2 * k - 2)));
        if (last) {
            scale(entry(last, "weight"), 0);
            scale(entry(last, "bias"), 0);
        }
    }
    for (int i = 0; child(m, i); i++) fixup_blocks(child(m, i), L);
}

int em_model_fixup(em_module *net) {
    int L = count_of(net, is_block);
    fixup_blocks(net, L);
    em_module *top = last_of(net, is_weight_layer);
    if (top && !strcmp(top->ops->kind, "Linear")) {  /* the classifier */
        scale(entry(top, "weight"), 0);
        scale(entry(top, "bias"), 0);
    }
    return L;
}

/* A growing list of layers; building stops quietly at the first NULL (out of memory)
 * and em_sequential_new then frees what was built. */
typedef struct layer_list {
    em_module *m[64];
    int n;
    bool failed;
} layer_list;

static void push(layer_list *l, em_module *m) {
    if (!m) l->failed = true;
    if (l->n < 64) l->m[l->n++] = m;
    else l->failed = true;
}

static em_module *activation(const char *act) {
    if (!strcmp(act, "linear")) return NULL;   /* no layer: handled by dense_block */
    if (!strcmp(act, "relu")) return em_relu_new();
    if (!strcmp(act, "sigmoid")) return em_sigmoid_new();
    if (!strcmp(act, "tanh")) return em_tanh_new();
    return NULL;
}

/* linear [BN1d] act — reference_models.py's _dense */
static void dense_block(layer_list *l, int in, int out, const em_model_opts *o, const char *act) {
    push(l, em_linear_new(in, out, !o->bn));
    if (o->bn) push(l, em_batchnorm1d_new(out, &o->bn_opts));
    if (strcmp(act, "linear")) push(l, activation(act));
}

static em_module *finish(layer_list *l) {
    if (l->failed) {
        for (int i = 0; i < l->n; i++) em_module_free(l->m[i]);
        return NULL;
    }
    return em_sequential_new(l->n, l->m);
}

/* The generic MLP the BatchNorm experiments need (deep ReLU/sigmoid/tanh nets, and
 * Santurkar's deep linear network): flatten, n_hidden blocks "linear [BN1d] act" of the
 * given width, then linear width->out. act "linear" leaves the blocks without an
 * activation. input_chw (if non-NULL) describes the input, e.g. {1, 28, 28}. */
em_module *em_model_mlp_new(const int input_chw[3], int n_hidden, int width, int out,
                            const char *act, const em_model_opts *opts) {
    em_model_opts o = opts ? *opts : em_model_defaults();
    if (!act || (strcmp(act, "linear") && strcmp(act, "relu") && strcmp(act, "sigmoid") &&
                 strcmp(act, "tanh")))
        return NULL;
    int per_block = 1 + (o.bn ? 1 : 0) + (strcmp(act, "linear") ? 1 : 0);
    if (n_hidden < 0 || per_block * n_hidden + 2 > 64 || width < 1 || out < 1) return NULL;
    int in = input_chw[0] * input_chw[1] * input_chw[2];
    layer_list l = {.n = 0};
    push(&l, em_flatten_new());
    for (int i = 0; i < n_hidden; i++) dense_block(&l, i ? width : in, width, &o, act);
    push(&l, em_linear_new(n_hidden ? width : in, out, true));
    return finish(&l);
}

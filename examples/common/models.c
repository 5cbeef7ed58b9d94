/* examples/common/models.c — the model zoo, see models.h. */
#include "models.h"

#include <string.h>

const char *const em_model_names[3] = {"mnist-cnn", "cifar-cnn", "mlp"};

em_model_opts em_model_defaults(void) {
    return (em_model_opts){.bn = true, .act = "sigmoid", .bn_opts = em_bn_defaults()};
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

/* conv3x3 pad 1 [BN2d] ReLU — reference_models.py's _conv */
static void conv_block(layer_list *l, int cin, int cout, const em_model_opts *o) {
    push(l, em_conv2d_new(cin, cout, 3, 1, 1, !o->bn));
    if (o->bn) push(l, em_batchnorm2d_new(cout, &o->bn_opts));
    push(l, em_relu_new());
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

em_module *em_model_new(const char *name, const em_model_opts *opts, int input_chw[3]) {
    em_model_opts o = opts ? *opts : em_model_defaults();
    const int k = o.width > 0 ? o.width : 1;  /* the width multiplier */
    if (k > 64) return NULL;
    layer_list l = {.n = 0};
    if (!strcmp(name, "mnist-cnn")) {
        conv_block(&l, 1, 16 * k, &o);
        push(&l, em_maxpool2d_new(2, 2));
        conv_block(&l, 16 * k, 32 * k, &o);
        push(&l, em_maxpool2d_new(2, 2));
        push(&l, em_flatten_new());
        dense_block(&l, 32 * k * 7 * 7, 128 * k, &o, "relu");
        push(&l, em_linear_new(128 * k, 10, true));
        memcpy(input_chw, (int[]){1, 28, 28}, sizeof(int[3]));
    } else if (!strcmp(name, "cifar-cnn")) {
        conv_block(&l, 3, 32 * k, &o);
        conv_block(&l, 32 * k, 32 * k, &o);
        push(&l, em_maxpool2d_new(2, 2));
        conv_block(&l, 32 * k, 64 * k, &o);
        conv_block(&l, 64 * k, 64 * k, &o);
        push(&l, em_maxpool2d_new(2, 2));
        conv_block(&l, 64 * k, 128 * k, &o);
        push(&l, em_maxpool2d_new(2, 2));
        push(&l, em_flatten_new());
        dense_block(&l, 128 * k * 4 * 4, 256 * k, &o, "relu");
        push(&l, em_linear_new(256 * k, 10, true));
        memcpy(input_chw, (int[]){3, 32, 32}, sizeof(int[3]));
    } else if (!strcmp(name, "mlp")) {
        const char *act = o.act ? o.act : "sigmoid";
        if (!strcmp(act, "relu") || !strcmp(act, "sigmoid") || !strcmp(act, "tanh")) {
            push(&l, em_flatten_new());
            dense_block(&l, 784, 100 * k, &o, act);
            dense_block(&l, 100 * k, 100 * k, &o, act);
            dense_block(&l, 100 * k, 100 * k, &o, act);
            push(&l, em_linear_new(100 * k, 10, true));
            memcpy(input_chw, (int[]){1, 28, 28}, sizeof(int[3]));
        } else {
            return NULL;
        }
    } else {
        return NULL;
    }
    return finish(&l);
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

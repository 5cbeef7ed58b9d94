/* layers/linear.c — Linear and Conv2d: the modules with weights. */
#include <stdlib.h>

#include "../core/ops_image.h"
#include "fusion.h"
#include "layers.h"

/* ---- Linear: y = x W^T + b ----------------------------------------------------------- */

typedef struct linear {
    em_module base;
    int in, out;
    bool has_bias;
    em_tensor weight;   /* (out, in) */
    em_tensor bias;     /* (out)     */
} linear;

static em_tensor *linear_forward(em_module *m, em_tape *tape, em_tensor *x) {
    linear *l = (linear *)m;
    return em_linear(tape, x, &l->weight, l->has_bias ? &l->bias : NULL);
}

static int linear_entries(em_module *m, em_entry *e) {
    linear *l = (linear *)m;
    e[0] = (em_entry){"weight", EM_ENTRY_PARAM, &l->weight, NULL};
    e[1] = (em_entry){"bias", EM_ENTRY_PARAM, &l->bias, NULL};
    return l->has_bias ? 2 : 1;
}

static void linear_init(em_module *m, em_rng *rng, const em_init *init) {
    linear *l = (linear *)m;
    em_init_weight(&l->weight, l->has_bias ? &l->bias : NULL, l->in, l->out, rng, init);
}

static void linear_describe(const em_module *m, char *buf, size_t len) {
    const linear *l = (const linear *)m;
    snprintf(buf, len, "Linear(%d, %d, bias=%s)", l->in, l->out, l->has_bias ? "true" : "false");
}

static void free_self(em_module *m) { free(m); }

static const em_module_ops linear_ops = {
    .kind = "Linear",
    .forward = linear_forward,
    .free = free_self,
    .entries = linear_entries,
    .init = linear_init,
    .describe = linear_describe,
};

em_module *em_linear_new(int in, int out, bool bias) {
    EM_ASSERT(in > 0 && out > 0);
    linear *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->base.ops = &linear_ops;
    l->base.training = true;
    l->in = in;
    l->out = out;
    l->has_bias = bias;
    const int shapes[2][EM_MAX_DIMS] = {{out, in}, {out}};
    if (!em_module_alloc_params(&l->base, bias ? 2 : 1, (em_tensor *[]){&l->weight, &l->bias},
                                (int[]){2, 1}, shapes)) {
        free(l);
        return NULL;
    }
    return &l->base;
}

/* ---- Conv2d: y = conv(x, W) + b ------------------------------------------------------ */

typedef struct conv2d {
    em_module base;
    int cin, cout, k, stride, pad;
    bool has_bias;
    em_tensor weight;   /* (cout, cin, k, k) */
    em_tensor bias;     /* (cout)            */
} conv2d;

em_tensor *em_conv2d_module_apply(em_module *m, em_tape *tape, em_tensor *x, em_conv_op op) {
    conv2d *c = (conv2d *)m;
    return op(tape, x, &c->weight, c->has_bias ? &c->bias : NULL, c->stride, c->pad);
}

static em_tensor *conv_forward(em_module *m, em_tape *tape, em_tensor *x) {
    return em_conv2d_module_apply(m, tape, x, em_conv2d);
}

static int conv_entries(em_module *m, em_entry *e) {
    conv2d *c = (conv2d *)m;
    e[0] = (em_entry){"weight", EM_ENTRY_PARAM, &c->weight, NULL};
    e[1] = (em_entry){"bias", EM_ENTRY_PARAM, &c->bias, NULL};
    return c->has_bias ? 2 : 1;
}

static void conv_init(em_module *m, em_rng *rng, const em_init *init) {
    conv2d *c = (conv2d *)m;
    int area = c->k * c->k;
    em_init_weight(&c->weight, c->has_bias ? &c->bias : NULL, c->cin * area, c->cout * area,
                   rng, init);
}

static void conv_describe(const em_module *m, char *buf, size_t len) {
    const conv2d *c = (const conv2d *)m;
    snprintf(buf, len, "Conv2d(%d, %d, kernel=%d, stride=%d, pad=%d, bias=%s)", c->cin,
             c->cout, c->k, c->stride, c->pad, c->has_bias ? "true" : "false");
}

static const em_module_ops conv_ops = {
    .kind = "Conv2d",
    .forward = conv_forward,
    .free = free_self,
    .entries = conv_entries,
    .init = conv_init,
    .describe = conv_describe,
};

bool em_module_is_conv2d(const em_module *m) { return m && m->ops == &conv_ops; }

em_module *em_conv2d_new(int cin, int cout, int kernel, int stride, int pad, bool bias) {
    EM_ASSERT(cin > 0 && cout > 0 && kernel > 0 && stride > 0 && pad >= 0);
    conv2d *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->base.ops = &conv_ops;
    c->base.training = true;
    c->cin = cin;
    c->cout = cout;
    c->k = kernel;
    c->stride = stride;
    c->pad = pad;
    c->has_bias = bias;
    const int shapes[2][EM_MAX_DIMS] = {{cout, cin, kernel, kernel}, {cout}};
    if (!em_module_alloc_params(&c->base, bias ? 2 : 1, (em_tensor *[]){&c->weight, &c->bias},
                                (int[]){4, 1}, shapes)) {
        free(c);
        return NULL;
    }
    return &c->base;
}

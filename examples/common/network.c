/* examples/common/network.c — the network a configuration asks for (network.h). */
#include "network.h"

#include <ctype.h>
#include <string.h>

void em_config_input(const em_config *c, int chw[3]) {
    bool mnist = c->which == EM_PROGRAM_MNIST;
    chw[0] = mnist ? 1 : 3;
    chw[1] = chw[2] = mnist ? 28 : 32;
}

const char *em_config_model_name(const em_config *c) {
    if (!strcmp(c->model, "cnn")) return c->which == EM_PROGRAM_MNIST ? "mnist-cnn" : "cifar-cnn";
    return c->model;
}

em_model_opts em_config_model_opts(const em_config *c) {
    em_model_opts mo = em_model_defaults();
    mo.bn = c->bn;
    mo.act = c->act;
    mo.bn_opts.momentum = c->bn_momentum;
    mo.bn_opts.eps = c->bn_eps;
    mo.bn_opts.frozen_stats = c->bn_frozen;
    mo.norm = c->norm[0] ? c->norm : NULL;
    mo.norm_after = c->norm_after;
    return mo;
}

/* text without its comments, white space made single spaces, into buf */
static int one_line(const char *text, char *buf, size_t len) {
    size_t at = 0, need = 0;
    bool space = false;
    for (const char *p = text; *p; p++) {
        if (*p == '#') {   /* a comment runs to the end of its line */
            while (p[1] && p[1] != '\n') p++;
            space = true;
            continue;
        }
        if (isspace((unsigned char)*p)) {
            space = true;
            continue;
        }
        if (space && need) {
            if (at + 1 < len) buf[at++] = ' ';
            need++;
        }
        space = false;
        if (at + 1 < len) buf[at++] = *p;
        need++;
    }
    if (len) buf[at] = '\0';
    return (int)need;
}

int em_config_spec(const em_config *c, char *buf, size_t len) {
    if (!strcmp(c->model, "arch")) return one_line(c->arch, buf, len);
    char mlp[256];
    int chw[3];
    const char *spec = em_model_spec(em_config_model_name(c), c->act, mlp, sizeof mlp, chw);
    return snprintf(buf, len, "%s", spec ? spec : "");
}

/* the spec parsed, named in messages by its file or "--arch" (a preset by its name) */
static em_code parse_spec(const em_config *c, em_arch **a, em_error *err) {
    char spec[EM_ARCH_MAX];
    if (strcmp(c->model, "arch")) {
        if (em_config_spec(c, spec, sizeof spec) <= 0)
            return em_error_set(err, EM_ERR_ARG, "--model: unknown model '%s'", c->model);
        return em_arch_parse(spec, em_config_model_name(c), a, err);
    }
    return em_arch_parse(c->arch, c->arch_file[0] ? c->arch_file : "--arch", a, err);
}

static em_arch_opts arch_opts_of(const em_config *c) {
    em_model_opts mo = em_config_model_opts(c);
    return em_model_arch_opts(&mo);
}

/* the network's output must be class scores: flat, F of them */
static em_code check_output(const em_config *c, const em_arch *a, const int chw[3],
                            const em_arch_opts *o, int *outputs, em_error *err) {
    int out[3];
    if (em_arch_output(a, chw, o, out, err) != EM_OK) return err->code;
    if (out[1] > 0)
        return em_error_set(err, EM_ERR_ARG, "%s ends in an image (%d, %d, %d), not in class "
                            "scores: end it with flatten or gap, then fcK for K classes",
                            em_config_model_name(c), out[0], out[1], out[2]);
    if (outputs) *outputs = out[0];
    return EM_OK;
}

em_module *em_config_network(const em_config *c, int *outputs, em_error *err) {
    em_arch *a;
    if (parse_spec(c, &a, err) != EM_OK) return NULL;
    int chw[3];
    em_config_input(c, chw);
    em_arch_opts o = arch_opts_of(c);
    em_module *net = check_output(c, a, chw, &o, outputs, err) == EM_OK
                         ? em_arch_build(a, chw, &o, err) : NULL;
    em_arch_free(a);
    return net;
}

em_code em_config_network_init(const em_config *c, em_module *net, em_error *err) {
    const char *name = em_config_model_name(c);
    if (c->zero_gamma && em_model_zero_gamma(net) == 0)
        return em_error_set(err, EM_ERR_ARG, "--zero-gamma: %s has no residual block with a "
                            "normalization in its branch", name);
    if (!strcmp(c->init, "fixup") && em_model_fixup(net) == 0)
        return em_error_set(err, EM_ERR_ARG, "--init fixup: %s has no residual block (Fixup "
                            "scales the branches of residual networks)", name);
    return EM_OK;
}

em_code em_config_network_check(const em_config *c, em_error *err) {
    em_module *net = em_config_network(c, NULL, err);
    if (!net) return err->code;
    em_code code = em_config_network_init(c, net, err);
    em_module_free(net);
    return code;
}

em_code em_config_network_print(const em_config *c, bool torch, FILE *out, em_error *err) {
    em_arch *a;
    if (parse_spec(c, &a, err) != EM_OK) return err->code;
    int chw[3];
    em_config_input(c, chw);
    em_arch_opts o = arch_opts_of(c);
    const char *name = em_config_model_name(c);
    em_code code = torch ? em_arch_print_torch(a, chw, &o, name, out, err)
                         : em_arch_print(a, chw, &o, name, out, err);
    em_arch_free(a);
    return code;
}

em_code em_config_network_id(const em_config *c, char id[17], em_error *err) {
    em_arch *a;
    if (parse_spec(c, &a, err) != EM_OK) return err->code;
    int chw[3];
    em_config_input(c, chw);
    em_arch_opts o = arch_opts_of(c);
    uint64_t h;
    em_code code = em_arch_identity(a, chw, &o, &h, err);
    em_arch_free(a);
    if (code == EM_OK) snprintf(id, 17, "%016llx", (unsigned long long)h);
    return code;
}

/* tests/fuzz/fuzz_arch.c — libFuzzer harness for the architecture language
 * (examples/common/arch.c, arch_build.c, arch_torch.c).
 *
 * Input layout: byte 0 picks the input shape and the options (bits 0-1: (1, 28, 28),
 * (3, 32, 32), (2, 5, 7), (4, 1, 1); bit 2: --norm gn:2; bit 3: norms after the
 * activations), the rest is the spec. Parsing must return OK or a one-line EM_ERR_ARG that
 * names the place; a spec that parses is resolved for the shape (OK, or an error naming a
 * layer), and when its network is small it is printed in both forms, the file form parsed
 * again to the same print, built, and freed. Never a crash, a leak or an out-of-bounds read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/arch_internal.h"

static long params_of(const em_arch *a) {
    long t = 0;
    for (int i = 0; i < a->n; i++) t += em_arch_node_params(&a->v[i]);
    return t;
}

static char *print(const em_arch *a, const int chw[3], const em_arch_opts *o, bool torch) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) abort();
    em_error err;
    em_code c = torch ? em_arch_print_torch(a, chw, o, "f", f, &err)
                      : em_arch_print(a, chw, o, "f", f, &err);
    fclose(f);
    if (c != EM_OK) abort();  /* it resolved before: printing it cannot fail */
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    static const int shapes[4][3] = {{1, 28, 28}, {3, 32, 32}, {2, 5, 7}, {4, 1, 1}};
    const int *chw = shapes[data[0] & 3];
    em_arch_opts o = em_arch_defaults();
    if (data[0] & 4) o.norm = "gn:2";
    if (data[0] & 8) o.norm_after = 1;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    em_arch *a = NULL;
    em_error err = {0};
    em_code c = em_arch_parse(text, "--arch", &a, &err);
    if (c != EM_OK) {
        if (a || c != EM_ERR_ARG || strchr(err.msg, '\n') || !strstr(err.msg, "--arch")) abort();
        free(text);
        return 0;
    }
    em_arch *r = em_arch_resolve(a, chw, &o, &err);
    if (!r) {
        if (err.code != EM_ERR_ARG || !strstr(err.msg, "layer ")) abort();
    } else if (params_of(r) < 200000 && r->n < 200) {
        char *one = print(a, chw, &o, false);
        char *py = print(a, chw, &o, true);
        em_arch *b = NULL;
        /* the printed form, with the options already applied, is the same network */
        if (em_arch_parse(one, "printed", &b, &err) != EM_OK) abort();
        em_arch_opts plain = em_arch_defaults();
        plain.bn = o.bn;
        plain.gn = o.gn;
        char *two = print(b, chw, &plain, false);
        if (strcmp(one, two)) abort();
        em_module *net = em_arch_build(a, chw, &o, &err);
        if (!net || (long)em_module_param_count(net) != params_of(r)) abort();
        em_module_free(net);
        em_arch_free(b);
        free(one);
        free(two);
        free(py);
    }
    em_arch_free(r);
    em_arch_free(a);
    free(text);
    return 0;
}

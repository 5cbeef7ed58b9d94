/* tests/fuzz/fuzz_options.c — libFuzzer harness for the programs' command line
 * (examples/common/options.c, em_config_parse).
 *
 * Input layout: byte 0 = mode (bit 0: 0 = ember-mnist, 1 = ember-cifar), then the
 * arguments separated by NUL bytes (at most 64; argv[0] is the program's name).
 * The parser must return OK, HELP or ERROR, never crash or read out of bounds; an error
 * has a one-line message; an accepted configuration holds only values the training code
 * can trust (the ranges options.c promises), and formats into one line. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/options.h"

#define FUZZ_MAX_ARGS 64

static void check_config(const em_config *c) {
    bool mnist = c->which == EM_PROGRAM_MNIST;
    if (c->epochs < 1 || c->epochs > 100000 || c->batch < 1 || c->batch > 65536) abort();
    if (c->steps < 0 || c->warmup < 0 || c->train_limit < 0 || c->test_limit < 0) abort();
    if (!(c->lr > 0) || !isfinite(c->lr) || !(c->momentum >= 0 && c->momentum < 1)) abort();
    if (!(c->weight_decay >= 0 && c->weight_decay <= 1)) abort();
    if (!(c->bn_momentum >= 0 && c->bn_momentum <= 1) || !(c->bn_eps >= 0 && c->bn_eps <= 1)) abort();
    if (!(c->init_scale > 0) || !isfinite(c->init_scale)) abort();
    if (c->threads < 0 || c->threads > 256) abort();
    if (c->n_mean != c->n_std || c->n_mean < 0 || c->n_mean > 3) abort();
    if (c->n_mean && c->n_mean != 1 && c->n_mean != (mnist ? 1 : 3)) abort();
    for (int i = 0; i < c->n_mean; i++)
        if (!isfinite(c->mean[i]) || !(c->std[i] > 0) || !isfinite(c->std[i])) abort();
    if (mnist && c->synthetic) abort();
    if (c->resume[0] && c->load[0]) abort();
    if (c->eval_only && !c->load[0] && !c->resume[0]) abort();
    if (c->save_every && !c->save[0]) abort();
    /* every string field is terminated inside its array */
    const char *strings[] = {c->data, c->metrics, c->save, c->resume, c->load, c->predictions};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
        if (!memchr(strings[i], 0, EM_PATH_MAX)) abort();
    if (!memchr(c->model, 0, sizeof c->model) || !memchr(c->act, 0, sizeof c->act) ||
        !memchr(c->optim, 0, sizeof c->optim) || !memchr(c->schedule, 0, sizeof c->schedule) ||
        !memchr(c->init, 0, sizeof c->init) || !memchr(c->dataset, 0, sizeof c->dataset))
        abort();
    char line[2048];
    int n = em_config_format(c, line, sizeof line);
    if (n <= 0 || (size_t)n >= sizeof line || strchr(line, '\n')) abort();
    /* the numbers are exact: each reads back as the value (a resume compares these texts) */
    const struct { const char *key; double v; } exact[] = {
        {" lr=", c->lr}, {" momentum=", c->momentum}, {" weight_decay=", c->weight_decay},
        {" bn_momentum=", c->bn_momentum}, {" bn_eps=", c->bn_eps}, {" init_scale=", c->init_scale}};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++) {
        const char *at = strstr(line, exact[i].key);
        if (!at || strtod(at + strlen(exact[i].key), NULL) != exact[i].v) abort();
    }
}

int em_fuzz_options(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    em_program which = data[0] & 1 ? EM_PROGRAM_CIFAR : EM_PROGRAM_MNIST;
    /* one writable copy, NUL-terminated, cut into arguments at the NULs */
    char *buf = malloc(size);
    if (!buf) abort();
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    char *argv[FUZZ_MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = which == EM_PROGRAM_MNIST ? "ember-mnist" : "ember-cifar";
    for (size_t at = 0; at < size - 1 && argc <= FUZZ_MAX_ARGS;) {
        argv[argc++] = buf + at;
        at += strlen(buf + at) + 1;
    }
    argv[argc] = NULL;

    em_config c;
    em_config_defaults(&c, which);
    em_error err = {0};
    switch (em_config_parse(&c, argc, argv, &err)) {
    case EM_PARSE_OK: check_config(&c); break;
    case EM_PARSE_HELP: break;
    case EM_PARSE_ERROR:
        if (err.code != EM_ERR_ARG || !err.msg[0] || !memchr(err.msg, 0, sizeof err.msg)) abort();
        break;
    default: abort();
    }
    free(buf);
    return 0;
}

#ifndef EM_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return em_fuzz_options(data, size);
}
#endif

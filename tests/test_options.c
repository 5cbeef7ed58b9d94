/* tests/test_options.c — the programs' command line: values, defaults, and the one-line
 * errors that bad arguments get. */
#include "examples/common/options.h"
#include "helpers.h"
#include "layers/init.h"

#include <string.h>

static em_parse_result parse(em_config *c, em_program which, const char *line, em_error *err) {
    char buf[512], *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "prog %s", line);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && argc < 31; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    argv[argc] = NULL;
    em_config_defaults(c, which);
    return em_config_parse(c, argc, argv, err);
}

Test(options, defaults_and_values) {
    em_config c;
    em_error err;
    cr_assert_eq(parse(&c, EM_PROGRAM_MNIST, "", &err), EM_PARSE_OK);
    cr_assert(c.bn && c.epochs == 2 && c.batch == 64 && !c.augment && c.shuffle);
    cr_assert_eq(parse(&c, EM_PROGRAM_MNIST,
                       "--no-bn --model mlp --act tanh --lr 0.1 --batch 60 --steps 500 --seed 7 "
                       "--bn-momentum 0.99 --mean 0.5 --std 0.25 --bn-backward frozen-stats", &err),
                 EM_PARSE_OK, "%s", err.msg);
    cr_assert(!c.bn && !strcmp(c.model, "mlp") && !strcmp(c.act, "tanh"));
    cr_assert(c.lr == 0.1 && c.batch == 60 && c.steps == 500 && c.seed == 7);
    cr_assert(c.bn_momentum == 0.99 && c.n_mean == 1 && c.std[0] == 0.25 && c.bn_frozen);
    cr_assert_eq(parse(&c, EM_PROGRAM_CIFAR, "--synthetic --mean 0.5,0.4,0.3 --std 0.2,0.2,0.2", &err),
                 EM_PARSE_OK, "%s", err.msg);
    cr_assert(c.synthetic && c.augment && c.n_mean == 3 && c.mean[2] == 0.3);
    cr_assert(!c.bn_sync && c.ghost_batch == 0);
    cr_assert_eq(parse(&c, EM_PROGRAM_MNIST, "--bn-sync --ghost-batch 16", &err), EM_PARSE_OK,
                 "%s", err.msg);
    cr_assert(c.bn_sync && c.ghost_batch == 16);
    char line[1024];
    em_config_format(&c, line, sizeof line);   /* recorded in the config of a checkpoint */
    cr_assert(strstr(line, " bn_sync=1 ghost_batch=16 "), "%s", line);
    cr_assert_eq(parse(&c, EM_PROGRAM_MNIST, "--help", &err), EM_PARSE_HELP);
    cr_assert_eq(parse(&c, EM_PROGRAM_MNIST, "-h", &err), EM_PARSE_HELP);
}

Test(options, bad_arguments_get_one_line_errors) {
    struct { em_program p; const char *line; const char *says; } cases[] = {
        {EM_PROGRAM_MNIST, "--batch -3", "--batch"},
        {EM_PROGRAM_MNIST, "--batch 0", "--batch"},
        {EM_PROGRAM_MNIST, "--lr abc", "--lr: 'abc'"},
        {EM_PROGRAM_MNIST, "--lr 0.1x", "--lr"},
        {EM_PROGRAM_MNIST, "--lr nan", "--lr"},
        {EM_PROGRAM_MNIST, "--lr 0", "--lr"},
        {EM_PROGRAM_MNIST, "--epochs 99999999999", "--epochs"},
        {EM_PROGRAM_MNIST, "--frobnicate", "unknown option '--frobnicate'"},
        {EM_PROGRAM_MNIST, "--model resnet", "unknown model 'resnet'"},
        {EM_PROGRAM_MNIST, "--act softplus", "unknown activation"},
        {EM_PROGRAM_MNIST, "--momentum 1", "--momentum"},
        {EM_PROGRAM_MNIST, "--bn-momentum 1.5", "--bn-momentum"},
        {EM_PROGRAM_MNIST, "--seed -1", "--seed"},
        {EM_PROGRAM_MNIST, "--mean 0.5", "--mean and --std"},
        {EM_PROGRAM_MNIST, "--mean 0.1,0.2,0.3 --std 1,1,1", "give 1 value (the images have one channel)"},
        {EM_PROGRAM_MNIST, "--synthetic", "ember-cifar option"},
        {EM_PROGRAM_CIFAR, "--model mlp", "unknown model"},
        {EM_PROGRAM_CIFAR, "--act relu", "--act is an ember-mnist option"},
        {EM_PROGRAM_MNIST, "--eval", "--eval needs"},
        {EM_PROGRAM_MNIST, "--resume a --load b", "exclude"},
        {EM_PROGRAM_MNIST, "extra", "unexpected argument 'extra'"},
        {EM_PROGRAM_MNIST, "--lr", "needs a value"},
        {EM_PROGRAM_MNIST, "-xq", "unknown option '-x'"},
        {EM_PROGRAM_MNIST, "--seed +5", "--seed"},
        {EM_PROGRAM_MNIST, "--ghost-batch 0", "--ghost-batch: '0'"},
        {EM_PROGRAM_MNIST, "--ghost-batch 3.5", "--ghost-batch"},
        {EM_PROGRAM_MNIST, "--bn-sync 1", "unexpected argument '1'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        em_config c;
        em_error err = {0};
        cr_assert_eq(parse(&c, cases[i].p, cases[i].line, &err), EM_PARSE_ERROR, "'%s' was accepted",
                     cases[i].line);
        cr_assert_eq(err.code, EM_ERR_ARG);
        cr_assert(strstr(err.msg, cases[i].says), "'%s': message '%s' lacks '%s'", cases[i].line,
                  err.msg, cases[i].says);
        cr_assert_null(strchr(err.msg, '\n'), "not one line: %s", err.msg);
    }
}

Test(options, usage_and_format_mention_every_default) {
    em_config c;
    em_config_defaults(&c, EM_PROGRAM_MNIST);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    em_config_usage(&c, f);
    fclose(f);
    cr_assert(strstr(buf, "--bn-momentum X") && strstr(buf, "(0.9 = PyTorch's 0.1)"), "%s", buf);
    cr_assert(strstr(buf, "--bn-sync") && strstr(buf, "--ghost-batch N"), "%s", buf);
    free(buf);
    char line[1024];
    em_config_format(&c, line, sizeof line);
    cr_assert(strstr(line, "seed=1") && strstr(line, "bn=1") && strstr(line, "lr=0.05"), "%s", line);
    cr_assert(strstr(line, " bn_sync=0 ghost_batch=0 "), "%s", line);
}

/* --help lists what the parser takes, no more: ember-cifar has no --act (cifar-cnn is all
 * ReLU), and the --init line names every rule of layers/init.h, each one accepted */
Test(options, help_lists_exactly_what_the_parser_accepts) {
    em_config c;
    em_error err;
    for (int p = 0; p < 2; p++) {
        em_program which = p ? EM_PROGRAM_CIFAR : EM_PROGRAM_MNIST;
        char *help = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&help, &len);
        em_config_defaults(&c, which);
        em_config_usage(&c, f);
        fclose(f);
        cr_assert_eq(strstr(help, "--act") != NULL, which == EM_PROGRAM_MNIST, "%s", help);
        /* the words of the --init entry, up to the next option */
        char *from = strstr(help, "--init RULE"), *to = from ? strstr(from, "--init-scale") : NULL;
        cr_assert(from && to && to - from < 512, "%s", help);
        char entry[512];
        snprintf(entry, sizeof entry, "%.*s", (int)(to - from), from);
        free(help);
        for (int k = EM_INIT_DEFAULT; k <= EM_INIT_NORMAL; k++) {
            const char *name = em_init_name((em_init_kind)k);
            char line[64];
            snprintf(line, sizeof line, "--init %s", name);
            cr_assert_eq(parse(&c, which, line, &err), EM_PARSE_OK, "%s: %s", line, err.msg);
            bool listed = false;
            char words[512];
            snprintf(words, sizeof words, "%s", entry);
            for (char *save = NULL, *w = strtok_r(words, " |()\n", &save); w && !listed;
                 w = strtok_r(NULL, " |()\n", &save))
                listed = !strcmp(w, name);
            cr_assert(listed, "--help does not list --init %s:\n%s", name, entry);
        }
    }
}

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
        /* an empty value in a list is no value (it was skipped: 0.5,,0.5 read as two) */
        {EM_PROGRAM_CIFAR, "--mean 0.5,0.5,0.5, --std 1,1,1", "--mean: '0.5,0.5,0.5,' is not 1 or 3"},
        {EM_PROGRAM_CIFAR, "--mean 0.5,,0.5 --std 1,1,1", "--mean: '0.5,,0.5' is not 1 or 3"},
        {EM_PROGRAM_CIFAR, "--mean ,0.5,0.5,0.5 --std 1,1,1", "--mean: ',0.5,0.5,0.5' is not 1 or 3"},
        {EM_PROGRAM_MNIST, "--mean 0.5 --std 1,", "--std: '1,' is not 1 or 3"},
        /* a list longer than the reader's buffer was cut to what fit: '1.000...0e9' as 1 */
        {EM_PROGRAM_MNIST, "--mean 0.5 --std 1.000000000000000000000000000000000000000000000000000000000000"
                           "000000000000000000000000000000000000000000000000000000000000000000000000e9",
         "--std: '1.000"},
        {EM_PROGRAM_MNIST, "--synthetic", "ember-cifar option"},
        {EM_PROGRAM_CIFAR, "--model resnet50", "unknown model 'resnet50'"},
        {EM_PROGRAM_CIFAR, "--act swish", "unknown activation 'swish'"},
        /* the network's options: the spec is parsed and its shapes resolved here */
        {EM_PROGRAM_MNIST, "--norm gn", "--norm: 'gn' is not"},
        {EM_PROGRAM_MNIST, "--norm gn:0", "--norm: 'gn:0' is not"},
        {EM_PROGRAM_MNIST, "--norm-position middle", "--norm-position: 'middle'"},
        {EM_PROGRAM_MNIST, "--model lenet --arch fc10", "exclude each other"},
        {EM_PROGRAM_MNIST, "--no-bn --norm ln", "--no-bn and --norm ln exclude each other"},
        {EM_PROGRAM_MNIST, "--zero-gamma", "--zero-gamma: mnist-cnn has no residual block"},
        {EM_PROGRAM_MNIST, "--init fixup", "--init fixup: mnist-cnn has no residual block"},
        {EM_PROGRAM_MNIST, "--arch fcx10", "--arch: column 1: expected a layer"},
        {EM_PROGRAM_MNIST, "--arch conv16", "ends in an image (16, 28, 28)"},
        {EM_PROGRAM_MNIST, "--arch fc10", "layer 1 (fc10): its input is (1, 28, 28), not flat"},
        {EM_PROGRAM_MNIST, "--norm gn:3", "16 channels do not split into 3 groups"},
        {EM_PROGRAM_MNIST, "--norm in --model mlp", "instance norm needs an image"},
        {EM_PROGRAM_MNIST, "--arch @/nonexistent/x.arch", "--arch @/nonexistent/x.arch: No such file"},
        {EM_PROGRAM_MNIST, "--arch @/dev/null", "not a regular file"},
        {EM_PROGRAM_CIFAR, "--model resnet20 --zero-gamma --no-bn", "--zero-gamma: resnet20 has no residual block with a normalization"},
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

/* --help lists what the parser takes: the network's options in both programs (every preset
 * is there, the mlp with its --act), and the --init line names every rule of layers/init.h,
 * each one accepted */
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
        cr_assert(strstr(help, "--act") && strstr(help, "--arch SPEC|@FILE") &&
                  strstr(help, "--norm NORM") && strstr(help, "resnet20"), "%s", help);
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

static em_parse_result parse_argv(em_config *c, em_program which, int argc, char **argv,
                                  em_error *err) {
    em_config_defaults(c, which);
    return em_config_parse(c, argc, argv, err);
}

/* the network's options and the configuration line that records them: only when given, so
 * a run without them has the line it had before they existed */
Test(options, network_options_and_their_config_keys) {
    em_config c;
    em_error err;
    char line[2048], other[2048];
    cr_assert_eq(parse(&c, EM_PROGRAM_MNIST, "", &err), EM_PARSE_OK);
    em_config_format(&c, line, sizeof line);
    cr_assert(strstr(line, "model=cnn ") && !strstr(line, "arch=") && !strstr(line, "norm="),
              "%s", line);
    cr_assert(c.norm_after == -1 && !c.norm[0] && !c.zero_gamma);
    cr_assert_eq(parse(&c, EM_PROGRAM_CIFAR, "--model resnet20 --norm gn:4 --norm-position "
                       "after --zero-gamma", &err), EM_PARSE_OK, "%s", err.msg);
    em_config_format(&c, line, sizeof line);
    cr_assert(strstr(line, "model=resnet20 ") && strstr(line, " norm=gn:4 norm_position=after "
                                                       "zero_gamma=1"), "%s", line);
    cr_assert_eq(parse(&c, EM_PROGRAM_CIFAR, "--model resnet20 --norm none --init fixup", &err),
                 EM_PARSE_OK, "%s", err.msg);
    cr_assert_eq(parse(&c, EM_PROGRAM_MNIST, "--print-arch --print-torch", &err), EM_PARSE_OK);
    cr_assert(c.print_arch && c.print_torch);

    char *a1[] = {"prog", "--arch", "conv16 bn relu  gap fc10", NULL};
    cr_assert_eq(parse_argv(&c, EM_PROGRAM_MNIST, 3, a1, &err), EM_PARSE_OK, "%s", err.msg);
    cr_assert_str_eq(c.model, "arch");
    em_config_format(&c, line, sizeof line);
    const char *id = strstr(line, " arch=");
    cr_assert(id && strlen(id) == 6 + 16, "%s", line);
    /* other spacing and a comment: the same network, the same line */
    char *a2[] = {"prog", "--arch", "\nconv16 bn   relu # the stem\n gap\tfc10 ", NULL};
    cr_assert_eq(parse_argv(&c, EM_PROGRAM_MNIST, 3, a2, &err), EM_PARSE_OK, "%s", err.msg);
    em_config_format(&c, other, sizeof other);
    cr_assert_str_eq(line, other);
    /* another network: another line */
    char *a3[] = {"prog", "--arch", "conv16 bn relu gap fc100 relu fc10", NULL};
    cr_assert_eq(parse_argv(&c, EM_PROGRAM_MNIST, 3, a3, &err), EM_PARSE_OK, "%s", err.msg);
    em_config_format(&c, other, sizeof other);
    cr_assert_str_neq(line, other);
    /* a spec that does not parse: the column of the bad word */
    char *a4[] = {"prog", "--arch", "conv16 bn rleu gap fc10", NULL};
    cr_assert_eq(parse_argv(&c, EM_PROGRAM_MNIST, 3, a4, &err), EM_PARSE_ERROR);
    cr_assert(strstr(err.msg, "--arch: column 11:") && strstr(err.msg, "'rleu'"), "%s", err.msg);
}

/* examples/common/options.h — the command line of ember-mnist and ember-cifar (and the
 * training options ember-ablate passes through): one struct, one parser, one --help.
 *
 *     em_config cfg;
 *     em_config_defaults(&cfg, EM_PROGRAM_MNIST);
 *     em_error err;
 *     switch (em_config_parse(&cfg, argc, argv, &err)) {
 *     case EM_PARSE_OK: break;
 *     case EM_PARSE_HELP: em_config_usage(&cfg, stdout); return 0;
 *     case EM_PARSE_ERROR:
 *         fprintf(stderr, "%s: %s\nTry '%s --help'.\n", cfg.program, err.msg, cfg.program);
 *         return 2;
 *     }
 *
 * Every value is validated here (numbers parse completely, ranges hold, names are known),
 * so the training code can trust the struct.
 */
#ifndef EM_OPTIONS_H
#define EM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/errors.h"

#define EM_PATH_MAX 1024
#define EM_ARCH_MAX 8192   /* the longest --arch spec (or @FILE) taken, in bytes */

typedef enum em_program { EM_PROGRAM_MNIST, EM_PROGRAM_CIFAR } em_program;

typedef struct em_config {
    em_program which;
    const char *program;          /* "ember-mnist" / "ember-cifar"                       */
    /* data */
    char data[EM_PATH_MAX];       /* --data DIR ("" = environment, then the default)     */
    char dataset[16];             /* mnist: "fashion-mnist" (default) or "mnist"          */
    bool synthetic;               /* cifar: the generated shapes set                      */
    long train_limit, test_limit; /* 0 = all                                              */
    bool shuffle;
    bool augment;                 /* cifar default on, mnist off                          */
    bool prefetch;                /* training batches filled on a background thread (the
                                     same batches as without: not part of the config)     */
    int n_mean, n_std;            /* how many values --mean/--std gave (0 = defaults)     */
    double mean[3], std[3];
    /* model */
    char model[16];               /* a preset (cnn: the program's own, mnist-cnn,
                                     cifar-cnn, mlp, lenet, resnet8, resnet20), or "arch"
                                     with --arch                                          */
    char arch[EM_ARCH_MAX];       /* --arch: the spec (an @FILE's contents)               */
    char arch_file[EM_PATH_MAX];  /* --arch @FILE: the file; "" for a spec in argv        */
    char norm[16];                /* --norm bn|brn|gn:G|ln|in|none ("": as written)        */
    int norm_after;               /* --norm-position: -1 as written, 0 before, 1 after    */
    bool zero_gamma;              /* --zero-gamma: each branch's last norm starts at 0    */
    bool print_arch, print_torch; /* print the network (language, PyTorch) and exit      */
    bool bn;
    char act[8];                  /* mnist: relu | sigmoid | tanh (mlp hidden activation) */
    double bn_momentum;           /* fraction of history kept (0.9 = PyTorch's 0.1)      */
    double bn_eps;
    bool bn_frozen;               /* --bn-backward frozen-stats                           */
    bool bn_sync;                 /* --bn-sync: statistics over all processes' shards     */
    int ghost_batch;              /* --ghost-batch N: BN over groups of N (0: the shard)  */
    char init[24];                /* default | kaiming-uniform | kaiming-normal | xavier |
                                     xavier-normal | normal | fixup                       */
    double init_scale;            /* multiplies weights after init; for "normal": the std */
    /* optimization */
    int epochs;
    long steps;                   /* > 0: stop after this many optimizer steps            */
    int batch;
    char optim[8];                /* sgd | adam | adamw                                   */
    double lr, momentum, weight_decay;
    bool nesterov;
    char schedule[8];             /* const | step | cosine                                */
    long warmup;                  /* linear warm-up steps                                 */
    uint64_t seed;
    int threads;                  /* 0 = leave OpenBLAS/OpenMP at their defaults          */
    char kernels[16];             /* the kernel tier, "fast" or "reference" (core/kernels.h):
                                     --kernels, else $EMBER_KERNELS, else the build's default */
    uint64_t mem_limit;           /* --mem-limit in bytes (0 = MemAvailable decides)      */
    /* files and output */
    char metrics[EM_PATH_MAX];
    long log_every;               /* extra metrics rows every N steps (0 = per epoch)     */
    char save[EM_PATH_MAX];
    int save_every;               /* epochs; 0 = only at the end                          */
    char resume[EM_PATH_MAX];
    char load[EM_PATH_MAX];
    bool eval_only;
    char predictions[EM_PATH_MAX];
    char confusion[EM_PATH_MAX];  /* --confusion FILE.csv: the test set's confusion matrix */
    char dot[EM_PATH_MAX];        /* --dot FILE: one training step's graph (em_tape_dot) */
    bool quiet;                   /* no progress lines, no per-class table                 */
} em_config;

typedef enum em_parse_result { EM_PARSE_OK, EM_PARSE_HELP, EM_PARSE_ERROR } em_parse_result;

void em_config_defaults(em_config *cfg, em_program which);
/* Parses argv on top of the defaults. On error err->msg is one line naming the option. */
em_parse_result em_config_parse(em_config *cfg, int argc, char **argv, em_error *err);
/* --help: every option with its default (the values in cfg). */
void em_config_usage(const em_config *cfg, FILE *out);
/* The configuration as "key=value" pairs on one line, for the start of a run and for
 * checkpoint metadata: every option that changes what a run computes (ghost_batch=0: the
 * whole batch or shard; the kernel tier, which rounds differently); not the files,
 * threads, --prefetch, --mem-limit or --quiet. Numbers are exact: each in the fewest
 * digits (6 at least) that read back as its value, so two configurations that differ in
 * any bit give different texts.
 * Returns the number of characters written (as snprintf). */
int em_config_format(const em_config *cfg, char *buf, size_t len);
/* v in the fewest significant digits (6 to 17) that read back as exactly v, into buf:
 * 0.05 is "0.05", 0.05000001 is "0.05000001". Returns buf. */
const char *em_exact(char *buf, size_t len, double v);

#endif

/* bench/ember_bench.c — ember-bench: how fast one optimizer step (or one inference batch)
 * of a reference model runs, as one JSON line.
 *
 *     ember-bench --model mnist-cnn --bn --batch 64 --threads 2 --mode train
 *     {"model":"mnist-cnn","bn":true,"batch":64,"threads":2,"mode":"train",
 *      "images_per_s":...,"ms_per_step":...,"gflops":...,"peak_rss_mb":...,
 *      "mallocs_per_step":0,...}
 *
 * A training step is what the programs do: forward, cross-entropy, backward, SGD with
 * momentum (lr 0.01, momentum 0.9, weight decay 5e-4), tape reset. The batches are made
 * before timing (random N(0,1) images, random labels), so no data loading is timed.
 * After --warmup steps, --windows windows of --steps steps each are timed; the median
 * window gives ms_per_step. mallocs_per_step counts every malloc/calloc/realloc of the
 * process (all threads) during the timed windows (bench/malloc_count.h).
 * gflops counts the multiply-adds of convolutions and linear layers only (2 per MAC;
 * training = forward + the input and weight gradients), read off the nodes of one
 * recorded step, so it is a lower bound and works for any network. It counts them as the
 * direct convolution does them: the layers that take Winograd's F(2x2, 3x3)
 * (core/fast/winograd.h: 3x3 layers of 16+ channels) multiply 2.25 times less, so for the
 * CNNs the figure is a "direct-equivalent" rate, not arithmetic done, and can exceed the
 * machine's peak. --kernels reference times the reference tier (core/kernels.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/arena.h"
#include "core/kernels.h"
#include "core/parallel.h"
#include "core/tape.h"
#include "examples/common/arch.h"
#include "examples/common/models.h"
#include "examples/common/progress.h"
#include "malloc_count.h"
#include "optim/optim.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The multiply-adds of one recorded step, per image: the forward's convolutions and
 * products (linear, matmul), and their backward's input and weight gradients where the
 * input or the weight requires one (the first layer computes no input gradient). */
static void step_macs(const em_tape *tape, int batch, double *fwd, double *bwd) {
    *fwd = *bwd = 0;
    for (const em_node *n = tape->last; n; n = n->prev) {
        const em_tensor *x = n->inputs[0], *w = n->n_inputs > 1 ? n->inputs[1] : NULL;
        double macs = 0;
        if (n->op == EM_OP_CONV2D || n->op == EM_OP_CONV2D_RELU ||
            n->op == EM_OP_CONV2D_RELU_POOL) {
            int s = n->args[0], pad = n->args[1];
            double Ho = (x->shape[2] + 2 * pad - w->shape[2]) / s + 1;
            double Wo = (x->shape[3] + 2 * pad - w->shape[3]) / s + 1;
            macs = (double)x->shape[0] * w->shape[0] * Ho * Wo * w->shape[1] * w->shape[2] *
                   w->shape[3];
        } else if (n->op == EM_OP_LINEAR) {
            macs = (double)x->shape[0] * x->shape[1] * w->shape[0];
        } else if (n->op == EM_OP_MATMUL) {
            macs = (double)n->output->size * (n->args[0] ? x->shape[0] : x->shape[1]);
        } else {
            continue;
        }
        *fwd += macs / batch;
        *bwd += macs / batch * (em_requires_grad(x) + em_requires_grad(w));
    }
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: ember-bench [options]\n"
            "  --model NAME      mnist-cnn (default), cifar-cnn, mlp (sigmoid), lenet, resnet8,\n"
            "                    resnet20: a preset, on its own input shape\n"
            "  --arch SPEC|@FILE a network in the architecture language instead\n"
            "  --input CxHxW     the images' shape (default: the preset's; 1x28x28 for --arch)\n"
            "  --norm NORM       every normalization replaced: bn, brn, gn:G, ln, in, none\n"
            "  --norm-position P before or after: every norm before or after its activation\n"
            "  --bn | --no-bn    with the normalizations (default) or without (--norm none)\n"
            "  --batch N         batch size (default 64)\n"
            "  --threads N       threads for the kernels and BLAS (default 2)\n"
            "  --mode M          train (default) or infer\n"
            "  --steps N         steps per timed window (default: about 0.5 s worth)\n"
            "  --windows N       timed windows, the median is reported (default 7)\n"
            "  --warmup N        untimed steps first (default 5)\n"
            "  --width K         every channel count and hidden width times K (default 1:\n"
            "                    the reference model)\n"
            "  --kernels TIER    fast or reference (default $EMBER_KERNELS, else fast)\n");
}

static long parse_pos(const char *s, const char *what) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || v <= 0 || v > 100000000) {
        fprintf(stderr, "ember-bench: %s: '%s' is not a positive whole number\n", what, s);
        exit(2);
    }
    return v;
}

/* the network of --model or --arch, for --input or the preset's shape; NULL after the
 * message */
static em_module *network(const char *model, const char *arch, const char *input,
                          const em_model_opts *mo, int chw[3], int *classes) {
    static const int mnist[3] = {1, 28, 28};
    char text[8192], mlp[256];
    em_error err;
    const char *spec = arch, *where = "--arch";
    memcpy(chw, mnist, sizeof mnist);
    if (!arch && !(spec = em_model_spec(model, mo->act, mlp, sizeof mlp, chw))) {
        fprintf(stderr, "ember-bench: --model: unknown model '%s' (mnist-cnn, cifar-cnn, mlp, "
                "lenet, resnet8, resnet20)\n", model);
        return NULL;
    }
    if (arch && arch[0] == '@') {
        if (em_arch_read_file(arch + 1, text, sizeof text, &err) != EM_OK) {
            fprintf(stderr, "ember-bench: --arch @%s\n", err.msg);
            return NULL;
        }
        spec = text;
        where = arch + 1;
    }
    char extra;
    if (input && (sscanf(input, "%dx%dx%d%c", &chw[0], &chw[1], &chw[2], &extra) != 3 ||
                  chw[0] < 1 || chw[1] < 1 || chw[2] < 1 || chw[0] > 4096 || chw[1] > 4096 ||
                  chw[2] > 4096)) {
        fprintf(stderr, "ember-bench: --input: '%s' is not CxHxW (e.g. 3x32x32)\n", input);
        return NULL;
    }
    if (mo->norm && em_arch_check_norm(mo->norm, &err) != EM_OK) {
        fprintf(stderr, "ember-bench: %s\n", err.msg);
        return NULL;
    }
    em_arch *a;
    err.code = EM_OK;
    if (em_arch_parse(spec, arch ? where : model, &a, &err) != EM_OK) {
        fprintf(stderr, "ember-bench: %s\n", err.msg);
        return NULL;
    }
    em_arch_opts o = em_model_arch_opts(mo);
    int out[3] = {0, 0, 0};
    em_module *net = NULL;
    if (em_arch_output(a, chw, &o, out, &err) == EM_OK && out[1] > 0)
        em_error_set(&err, EM_ERR_ARG, "the network ends in an image (%d, %d, %d), not in "
                     "class scores: end it with flatten or gap, then fcK", out[0], out[1], out[2]);
    else if (err.code == EM_OK)
        net = em_arch_build(a, chw, &o, &err);
    em_arch_free(a);
    if (!net) fprintf(stderr, "ember-bench: %s\n", err.msg);
    *classes = out[0];
    return net;
}

int main(int argc, char **argv) {
    const char *model = "mnist-cnn", *mode = "train", *tier = NULL, *arch = NULL,
               *input = NULL, *norm = NULL;
    int norm_after = -1;
    bool bn = true;
    long batch = 64, threads = 2, steps = 0, windows = 7, warmup = 5, width = 1;
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'}, {"bn", no_argument, 0, 'B'},
        {"no-bn", no_argument, 0, 'N'},        {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"mode", required_argument, 0, 'o'},
        {"steps", required_argument, 0, 's'},  {"windows", required_argument, 0, 'w'},
        {"warmup", required_argument, 0, 'u'}, {"width", required_argument, 0, 'k'},
        {"kernels", required_argument, 0, 'K'}, {"help", no_argument, 0, 'h'},
        {"arch", required_argument, 0, 'a'},   {"input", required_argument, 0, 'i'},
        {"norm", required_argument, 0, 'n'},   {"norm-position", required_argument, 0, 'p'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'm': model = optarg; break;
        case 'B': bn = true; break;
        case 'N': bn = false; break;
        case 'b': batch = parse_pos(optarg, "--batch"); break;
        case 't': threads = parse_pos(optarg, "--threads"); break;
        case 'o': mode = optarg; break;
        case 's': steps = parse_pos(optarg, "--steps"); break;
        case 'w': windows = parse_pos(optarg, "--windows"); break;
        case 'u': warmup = strcmp(optarg, "0") ? parse_pos(optarg, "--warmup") : 0; break;
        case 'k':
            width = parse_pos(optarg, "--width");
            if (width > 64) {
                fprintf(stderr, "ember-bench: --width: %ld is more than 64\n", width);
                return 2;
            }
            break;
        case 'K': tier = optarg; break;
        case 'a': arch = optarg; break;
        case 'i': input = optarg; break;
        case 'n': norm = optarg; break;
        case 'p':
            if (strcmp(optarg, "before") && strcmp(optarg, "after")) {
                fprintf(stderr, "ember-bench: --norm-position: '%s' is not before or after\n", optarg);
                return 2;
            }
            norm_after = !strcmp(optarg, "after");
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ember-bench: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    bool train = !strcmp(mode, "train");
    if (!train && strcmp(mode, "infer")) {
        fprintf(stderr, "ember-bench: --mode: '%s' is not train or infer\n", mode);
        return 2;
    }
    if (windows > 1000) windows = 1000;
    em_set_threads((int)threads);
    const em_kernels *kernels;
    em_error err;
    if (tier && !(kernels = em_kernels_by_name(tier))) {
        fprintf(stderr, "ember-bench: --kernels: '%s' is not fast or reference\n", tier);
        return 2;
    }
    if (!tier && em_kernels_from_env(&kernels, &err) != EM_OK) {
        fprintf(stderr, "ember-bench: %s\n", err.msg);
        return 2;
    }

    em_model_opts mo = em_model_defaults();
    mo.bn = bn;
    mo.width = (int)width;
    mo.norm = norm;
    mo.norm_after = norm_after;
    int chw[3], classes;
    em_module *net = network(model, arch, input, &mo, chw, &classes);
    if (!net) return 2;
    if (arch) model = "arch";
    em_rng rng;
    em_rng_seed(&rng, 1);
    em_module_init(net, &rng, NULL);
    em_module_train(net, train);

    em_sgd_opts so = em_sgd_defaults();
    so.momentum = 0.9;
    so.weight_decay = 5e-4;
    so.kernels = kernels;
    em_sgd *opt = em_sgd_new(em_module_params(net), &so, &err);
    if (!opt) {
        fprintf(stderr, "ember-bench: %s\n", err.msg);
        return 1;
    }

    /* four pre-made batches, used in turn */
    enum { NB = 4 };
    em_tensor *x[NB];
    int *labels[NB];
    for (int b = 0; b < NB; b++) {
        x[b] = em_tensor_new(4, (int[]){(int)batch, chw[0], chw[1], chw[2]}, 0);
        labels[b] = malloc((size_t)batch * sizeof(int));
        if (!x[b] || !labels[b]) {
            fprintf(stderr, "ember-bench: out of memory for the batches\n");
            return 1;
        }
        for (size_t i = 0; i < x[b]->size; i++) x[b]->data[i] = (em_real)em_rng_normal(&rng, 0, 1);
        for (long i = 0; i < batch; i++) labels[b][i] = (int)em_rng_below(&rng, (uint32_t)classes);
    }
    em_tape *tape = em_tape_new(0);
    if (!tape) {
        fprintf(stderr, "ember-bench: out of memory for the tape\n");
        return 1;
    }
    em_tape_set_kernels(tape, kernels);
    /* the multiply-adds, from one recorded forward in training mode (BatchNorm's running
     * statistics take one batch more; the timed steps do not depend on them) */
    double fwd_macs, bwd_macs;
    em_module_train(net, true);
    em_module_forward(net, tape, x[0]);
    step_macs(tape, (int)batch, &fwd_macs, &bwd_macs);
    em_tape_reset(tape);
    em_module_train(net, train);

    long step_no = 0;
#define ONE_STEP()                                                                        \
    do {                                                                                  \
        int b_ = (int)(step_no++ % NB);                                                   \
        if (train) em_sgd_zero_grad(opt);                                                 \
        em_tensor *logits = em_module_forward(net, tape, x[b_]);                          \
        em_tensor *loss = em_cross_entropy(tape, logits, labels[b_]);                     \
        if (train && em_backward(tape, loss) != EM_OK) {                                  \
            fprintf(stderr, "ember-bench: step failed: %s\n", tape->err.msg);              \
            return 1;                                                                     \
        }                                                                                 \
        if (!em_tape_ok(tape)) {                                                          \
            fprintf(stderr, "ember-bench: step failed: %s\n", tape->err.msg);              \
            return 1;                                                                     \
        }                                                                                 \
        if (train) em_sgd_step(opt, 0.01);                                                \
        em_tape_reset(tape);                                                              \
    } while (0)

    for (long i = 0; i < warmup; i++) ONE_STEP();
    if (steps == 0) { /* calibrate: about 0.5 s per window */
        double t0 = em_now();
        long k = 0;
        do {
            ONE_STEP();
            k++;
        } while (em_now() - t0 < 0.2);
        steps = (long)(k * 0.5 / (em_now() - t0)) + 1;
    }
    double *ms = malloc((size_t)windows * sizeof *ms);
    size_t chunks0 = tape->arena->chunk_allocs;
    size_t allocs0 = em_malloc_count();
    for (long w = 0; w < windows; w++) {
        double t0 = em_now();
        for (long i = 0; i < steps; i++) ONE_STEP();
        ms[w] = (em_now() - t0) * 1e3 / (double)steps;
    }
    size_t allocs = em_malloc_count() - allocs0;
    size_t chunks = tape->arena->chunk_allocs - chunks0;
    qsort(ms, (size_t)windows, sizeof *ms, cmp_double);
    double med = ms[windows / 2];

    double macs = train ? fwd_macs + bwd_macs : fwd_macs;
    char mallocs_text[32] = "null";
    if (em_malloc_counting())
        snprintf(mallocs_text, sizeof mallocs_text, "%.3f", (double)allocs / (double)(steps * windows));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"model\":\"%s\",\"input\":\"%dx%dx%d\",\"norm\":\"%s\",\"width\":%ld,\"bn\":%s,\"batch\":%ld,\"threads\":%ld,\"mode\":\"%s\","
           "\"images_per_s\":%.1f,\"ms_per_step\":%.4f,\"ms_min\":%.4f,\"ms_max\":%.4f,"
           "\"gflops\":%.2f,\"peak_rss_mb\":%.1f,\"mallocs_per_step\":%s,"
           "\"arena_chunks_per_step\":%.3f,\"arena_mb\":%.1f,\"steps_per_window\":%ld,"
           "\"windows\":%ld,\"precision\":\"%s\",\"kernels\":\"%s\"}\n",
           model, chw[0], chw[1], chw[2], !bn ? "none" : norm ? norm : "as written", width,
           bn ? "true" : "false", batch, threads, mode, (double)batch * 1e3 / med, med,
           ms[0], ms[windows - 1], 2.0 * macs * (double)batch / (med * 1e6),
           (double)ru.ru_maxrss / 1024.0, mallocs_text,
           (double)chunks / (double)(steps * windows),
           (double)tape->arena->high_water / (1024.0 * 1024.0), steps, windows,
           sizeof(em_real) == 4 ? "f32" : "f64", kernels == em_kernels_fast() ? "fast" : "reference");
    free(ms);
    em_tape_free(tape);
    for (int b = 0; b < NB; b++) {
        em_tensor_free(x[b]);
        free(labels[b]);
    }
    em_sgd_free(opt);
    em_module_free(net);
    return 0;
}

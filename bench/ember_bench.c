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
 * process (all threads) during the timed windows, by interposing the allocator.
 * gflops counts the multiply-adds of convolutions and linear layers only (2 per MAC;
 * training = forward + the input and weight gradients), so it is a lower bound. It counts
 * them as the direct convolution does them: the layers that take Winograd's F(2x2, 3x3)
 * (core/ops/winograd.h: cifar-cnn's conv2-4, mnist-cnn's conv2) multiply 2.25 times less,
 * so for the CNNs the figure is a "direct-equivalent" rate, not arithmetic done, and can
 * exceed the machine's peak.
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/arena.h"
#include "core/parallel.h"
#include "core/tape.h"
#include "examples/common/models.h"
#include "examples/common/progress.h"
#include "optim/optim.h"

/* ---- counting allocations ------------------------------------------------------------
 * Not in sanitizer builds: AddressSanitizer owns malloc, and replacing it breaks ASan's
 * start-up; there mallocs_per_step is reported as null. */
#if defined(__SANITIZE_ADDRESS__)
#define COUNT_MALLOCS 0
static size_t allocs_now(void) { return 0; }
#else
#define COUNT_MALLOCS 1
static atomic_size_t n_allocs;
static size_t allocs_now(void) { return atomic_load(&n_allocs); }
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
void *malloc(size_t n) { atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed); return __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed); return __libc_memalign(a, n); }
int posix_memalign(void **p, size_t a, size_t n) {
    atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
    *p = __libc_memalign(a, n);
    return *p ? 0 : 12;
}
#endif

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* multiply-adds of one image's forward pass through the convolutions and linear layers,
 * and of the part of the backward that has to compute an input gradient */
typedef struct flop_count {
    double fwd, bwd_input_free;   /* MACs; bwd_input_free: the first layer's input-gradient
                                     MACs, which training does not compute */
} flop_count;

/* (k: the width multiplier, em_model_opts.width) */
static flop_count model_macs(const char *model, double k) {
    flop_count f = {0, 0};
    if (!strcmp(model, "mnist-cnn")) {
        double c1 = 28.0 * 28 * 16 * k * 9 * 1, c2 = 14.0 * 14 * 32 * k * 9 * 16 * k;
        f.fwd = c1 + c2 + 1568.0 * k * 128 * k + 128.0 * k * 10;
        f.bwd_input_free = c1;
    } else if (!strcmp(model, "cifar-cnn")) {
        double c1 = 32.0 * 32 * 32 * k * 9 * 3, c2 = 32.0 * 32 * 32 * k * 9 * 32 * k;
        double c3 = 16.0 * 16 * 64 * k * 9 * 32 * k, c4 = 16.0 * 16 * 64 * k * 9 * 64 * k;
        double c5 = 8.0 * 8 * 128 * k * 9 * 64 * k;
        f.fwd = c1 + c2 + c3 + c4 + c5 + 2048.0 * k * 256 * k + 256.0 * k * 10;
        f.bwd_input_free = c1;
    } else {
        f.fwd = 784.0 * 100 * k + 100.0 * k * 100 * k * 2 + 100.0 * k * 10;
        f.bwd_input_free = 784.0 * 100 * k;
    }
    return f;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: ember-bench [options]\n"
            "  --model NAME      mnist-cnn (default), cifar-cnn, mlp (sigmoid)\n"
            "  --bn | --no-bn    with BatchNorm (default) or without\n"
            "  --batch N         batch size (default 64)\n"
            "  --threads N       threads for the kernels and BLAS (default 2)\n"
            "  --mode M          train (default) or infer\n"
            "  --steps N         steps per timed window (default: about 0.5 s worth)\n"
            "  --windows N       timed windows, the median is reported (default 7)\n"
            "  --warmup N        untimed steps first (default 5)\n"
            "  --width K         every channel count and hidden width times K (default 1:\n"
            "                    the reference model)\n");
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

int main(int argc, char **argv) {
    const char *model = "mnist-cnn", *mode = "train";
    bool bn = true;
    long batch = 64, threads = 2, steps = 0, windows = 7, warmup = 5, width = 1;
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'}, {"bn", no_argument, 0, 'B'},
        {"no-bn", no_argument, 0, 'N'},        {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"mode", required_argument, 0, 'o'},
        {"steps", required_argument, 0, 's'},  {"windows", required_argument, 0, 'w'},
        {"warmup", required_argument, 0, 'u'}, {"width", required_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'},
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

    em_model_opts mo = em_model_defaults();
    mo.bn = bn;
    mo.width = (int)width;
    int chw[3];
    em_module *net = em_model_new(model, &mo, chw);
    if (!net) {
        fprintf(stderr, "ember-bench: --model: unknown model '%s' (mnist-cnn, cifar-cnn, mlp)\n",
                model);
        return 2;
    }
    em_rng rng;
    em_rng_seed(&rng, 1);
    em_module_init(net, &rng, NULL);
    em_module_train(net, train);

    em_sgd_opts so = em_sgd_defaults();
    so.momentum = 0.9;
    so.weight_decay = 5e-4;
    em_error err;
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
        for (long i = 0; i < batch; i++) labels[b][i] = (int)em_rng_below(&rng, 10);
    }
    em_tape *tape = em_tape_new(0);
    if (!tape) {
        fprintf(stderr, "ember-bench: out of memory for the tape\n");
        return 1;
    }

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
    size_t allocs0 = allocs_now();
    for (long w = 0; w < windows; w++) {
        double t0 = em_now();
        for (long i = 0; i < steps; i++) ONE_STEP();
        ms[w] = (em_now() - t0) * 1e3 / (double)steps;
    }
    size_t allocs = allocs_now() - allocs0;
    size_t chunks = tape->arena->chunk_allocs - chunks0;
    qsort(ms, (size_t)windows, sizeof *ms, cmp_double);
    double med = ms[windows / 2];

    flop_count f = model_macs(model, (double)width);
    double macs = train ? 3 * f.fwd - f.bwd_input_free : f.fwd;
    char mallocs_text[32] = "null";
    if (COUNT_MALLOCS)
        snprintf(mallocs_text, sizeof mallocs_text, "%.3f", (double)allocs / (double)(steps * windows));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"model\":\"%s\",\"width\":%ld,\"bn\":%s,\"batch\":%ld,\"threads\":%ld,\"mode\":\"%s\","
           "\"images_per_s\":%.1f,\"ms_per_step\":%.4f,\"ms_min\":%.4f,\"ms_max\":%.4f,"
           "\"gflops\":%.2f,\"peak_rss_mb\":%.1f,\"mallocs_per_step\":%s,"
           "\"arena_chunks_per_step\":%.3f,\"arena_mb\":%.1f,\"steps_per_window\":%ld,"
           "\"windows\":%ld,\"precision\":\"%s\"}\n",
           model, width, bn ? "true" : "false", batch, threads, mode, (double)batch * 1e3 / med, med,
           ms[0], ms[windows - 1], 2.0 * macs * (double)batch / (med * 1e6),
           (double)ru.ru_maxrss / 1024.0, mallocs_text,
           (double)chunks / (double)(steps * windows),
           (double)tape->arena->high_water / (1024.0 * 1024.0), steps, windows,
           sizeof(em_real) == 4 ? "f32" : "f64");
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

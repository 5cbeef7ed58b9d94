/* examples/demo/demo.c — the whole training loop of a small network, with nothing hidden.
 *
 * Problem: points (x0, x1) uniform in [-1, 1]^2, class 1 when x0 * x1 > 0 (the "XOR of
 * signs", which no linear model can learn). Model: 2 -> 32 -> 32 -> 2, tanh. Loss: softmax
 * cross-entropy. Optimizer: SGD with momentum, written out below in four lines.
 *
 *   usage: ember-demo [--kernels TIER] [steps] [seed]   (defaults: fast, 600 steps, seed 1)
 *
 * --kernels reference runs the plain loops of core/ops/ (core/kernels.h); the default is
 * $EMBER_KERNELS, else the fast tier.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember.h"

enum { BATCH = 64, HIDDEN = 32, N_PARAMS = 6 };

/* x (BATCH, 2) and labels from rng: a fresh batch each step */
static void make_batch(em_rng *rng, em_tensor *x, int *labels) {
    for (int n = 0; n < BATCH; n++) {
        double a = em_rng_uniform_range(rng, -1, 1), b = em_rng_uniform_range(rng, -1, 1);
        x->data[2 * n] = (em_real)a;
        x->data[2 * n + 1] = (em_real)b;
        labels[n] = a * b > 0;
    }
}

/* PyTorch's default init for a linear layer: U(-1/sqrt(in), 1/sqrt(in)) */
static void init_uniform(em_rng *rng, em_tensor *t, int fan_in) {
    double bound = 1.0 / sqrt((double)fan_in);
    for (size_t i = 0; i < t->size; i++) t->data[i] = (em_real)em_rng_uniform_range(rng, -bound, bound);
}

/* a whole number in [lo, hi], or -1 */
static long whole(const char *s, long lo, long hi) {
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= lo && v <= hi ? v : -1;
}

/* steps, seed and the tier from the command line; false after a message */
static bool parse(int argc, char **argv, long *steps, long *seed, const em_kernels **k) {
    const char *tier = NULL, *pos[2] = {NULL, NULL};
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--kernels") && i + 1 < argc) tier = argv[++i];
        else if (!strncmp(argv[i], "--kernels=", 10)) tier = argv[i] + 10;
        else if (argv[i][0] != '-' && n < 2) pos[n++] = argv[i];
        else return false;
    }
    *steps = pos[0] ? whole(pos[0], 1, 100000000) : 600;
    *seed = pos[1] ? whole(pos[1], 0, 1L << 62) : 1;
    em_error err;
    if (tier && !(*k = em_kernels_by_name(tier))) {
        fprintf(stderr, "ember-demo: --kernels: '%s' is not fast or reference\n", tier);
        return false;
    }
    if (!tier && em_kernels_from_env(k, &err) != EM_OK) {
        fprintf(stderr, "ember-demo: %s\n", err.msg);
        return false;
    }
    return *steps > 0 && *seed >= 0 && *k;
}

int main(int argc, char **argv) {
    long steps, seed;
    const em_kernels *kernels;
    if (!parse(argc, argv, &steps, &seed, &kernels)) {
        fprintf(stderr, "usage: ember-demo [--kernels fast|reference] [steps > 0] [seed >= 0]\n");
        return 2;
    }
    em_rng rng;
    em_rng_seed(&rng, seed);

    /* parameters: w (out, in) and b (out) of three linear layers */
    const int shapes[N_PARAMS][2] = {{HIDDEN, 2}, {HIDDEN, 0}, {HIDDEN, HIDDEN}, {HIDDEN, 0},
                                     {2, HIDDEN}, {2, 0}};
    const int fan_in[N_PARAMS] = {2, 2, HIDDEN, HIDDEN, HIDDEN, HIDDEN};
    const char *names[N_PARAMS] = {"w1", "b1", "w2", "b2", "w3", "b3"};
    em_tensor *p[N_PARAMS], *vel[N_PARAMS];
    for (int i = 0; i < N_PARAMS; i++) {
        int nd = shapes[i][1] ? 2 : 1;
        p[i] = em_tensor_new(nd, shapes[i], EM_REQUIRES_GRAD);
        vel[i] = em_tensor_new(nd, shapes[i], 0);
        if (!p[i] || !vel[i]) {
            fprintf(stderr, "ember-demo: out of memory\n");
            return 1;
        }
        p[i]->name = names[i];  /* for em_tape_print */
        init_uniform(&rng, p[i], fan_in[i]);
    }
    em_tensor *x = em_tensor_new(2, (int[]){BATCH, 2}, 0);
    int labels[BATCH];
    em_tape *tape = em_tape_new(0);
    if (!x || !tape) {
        fprintf(stderr, "ember-demo: out of memory\n");
        return 1;
    }
    em_tape_set_kernels(tape, kernels);
    const em_real lr = 0.1f, momentum = 0.9f;

    printf("ember-demo: 2-%d-%d-2 tanh MLP, XOR of signs, batch %d, SGD lr %.2g momentum %.2g, "
           "%s kernels\n", HIDDEN, HIDDEN, BATCH, (double)lr, (double)momentum,
           kernels == em_kernels_fast() ? "fast" : "reference");
    double avg_loss = 0, avg_acc = 0;
    for (long step = 1; step <= steps; step++) {
        make_batch(&rng, x, labels);

        /* forward: every op records itself on the tape */
        em_tensor *h1 = em_tanh(tape, em_linear(tape, x, p[0], p[1]));
        em_tensor *h2 = em_tanh(tape, em_linear(tape, h1, p[2], p[3]));
        em_tensor *logits = em_linear(tape, h2, p[4], p[5]);
        em_tensor *loss = em_cross_entropy(tape, logits, labels);

        /* backward: walk the tape in reverse; parameter grads accumulate */
        if (em_backward(tape, loss) != EM_OK) {
            fprintf(stderr, "ember-demo: step %ld failed: %s\n", step, tape->err.msg);
            return 1;
        }
        if (step == 1) em_tape_print(tape, stdout);

        /* SGD with momentum (PyTorch's form): v = mu v + g; p -= lr v; then zero g */
        for (int i = 0; i < N_PARAMS; i++) {
            for (size_t k = 0; k < p[i]->size; k++) {
                vel[i]->data[k] = momentum * vel[i]->data[k] + p[i]->grad[k];
                p[i]->data[k] -= lr * vel[i]->data[k];
            }
            em_tensor_zero_grad(p[i]);
        }

        int correct = 0;
        for (int n = 0; n < BATCH; n++)
            correct += (logits->data[2 * n + 1] > logits->data[2 * n]) == labels[n];
        avg_loss += loss->data[0];
        avg_acc += correct / (double)BATCH;
        if (step % 50 == 0 || step == steps) {
            long k = step % 50 ? step % 50 : 50;
            printf("step %4ld  loss %.4f  accuracy %5.1f%%\n", step, avg_loss / k, 100 * avg_acc / k);
            avg_loss = avg_acc = 0;
        }
        em_tape_reset(tape);  /* every activation and intermediate gradient recycled */
    }
    printf("arena: %zu chunk allocation(s), high-water %zu bytes\n", tape->arena->chunk_allocs,
           tape->arena->high_water);

    em_tape_free(tape);
    em_tensor_free(x);
    for (int i = 0; i < N_PARAMS; i++) {
        em_tensor_free(p[i]);
        em_tensor_free(vel[i]);
    }
    return 0;
}

/* bench/shapes_baselines.c — how hard is the synthetic "shapes" set? Trains a linear
 * (softmax) classifier and cifar-cnn (with BatchNorm) on it with plain SGD + momentum and
 * prints test accuracy per epoch: the numbers the README quotes.
 *
 *   usage: ember-shapes-baselines [n_train] [epochs] [seed] [linear|cnn|both] [lr]
 *          (defaults: 20000, 4, 1, both; lr 0.001 for the linear model, 0.05 for the cnn)
 *
 * Both see normalized, augmented (crop + flip) batches of 64 from the loader; the test set
 * is 2000 examples of the test split. SGD with momentum 0.9, no weight decay. Takes a few minutes on two cores for the defaults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ember.h"
#include "examples/common/models.h"

enum { BATCH = 64 };

/* y = x W^T + b on the flattened image: the linear classifier as a module-free model */
typedef struct linear_model {
    em_tensor *w, *b;
} linear_model;

static em_tensor *forward(em_module *net, linear_model *lin, em_tape *tape, em_tensor *x) {
    if (net) return em_module_forward(net, tape, x);
    return em_linear(tape, em_flatten(tape, x), lin->w, lin->b);
}

static double evaluate(em_module *net, linear_model *lin, em_loader *test, em_tape *tape,
                       em_tensor *x, int *labels) {
    if (net) em_module_train(net, false);
    em_tape_set_recording(tape, false);
    size_t correct = 0, total = 0;
    int n;
    em_loader_begin_epoch(test, 0);
    while (em_loader_next(test, x, labels, &n)) {
        em_tensor *logits = forward(net, lin, tape, x);
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int k = 1; k < 10; k++)
                if (logits->data[i * 10 + k] > logits->data[i * 10 + best]) best = k;
            correct += best == labels[i];
        }
        total += (size_t)n;
        em_tape_reset(tape);
    }
    em_tape_set_recording(tape, true);
    if (net) em_module_train(net, true);
    return (double)correct / (double)total;
}

static int fit(const char *what, em_module *net, linear_model *lin, em_loader *tr,
                 em_loader *te, int epochs, double lr) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = em_loader_batch_tensor(tr);
    int labels[BATCH], n;
    em_params p = {0};
    if (net) p = em_module_params(net);
    em_real *vel_w = calloc(net ? p.n : lin->w->size + lin->b->size, sizeof(em_real));
    if (!tape || !x || !vel_w) return 1;
    time_t t0 = time(NULL);
    for (int e = 0; e < epochs; e++) {
        em_loader_begin_epoch(tr, e);
        double loss_sum = 0;
        size_t steps = 0;
        while (em_loader_next(tr, x, labels, &n)) {
            em_tensor *loss = em_cross_entropy(tape, forward(net, lin, tape, x), labels);
            if (!loss || em_backward(tape, loss) != EM_OK) {
                fprintf(stderr, "%s: step failed: %s\n", what, tape->err.msg);
                return 1;
            }
            loss_sum += loss->data[0];
            steps++;
            /* v = mu v + g; w -= lr v (PyTorch's SGD with momentum 0.9) */
            if (net) {
                for (size_t k = 0; k < p.n; k++) {
                    vel_w[k] = (em_real)0.9 * vel_w[k] + p.grad[k];
                    p.data[k] -= (em_real)lr * vel_w[k];
                }
                em_module_zero_grad(net);
            } else {
                em_tensor *t[2] = {lin->w, lin->b};
                em_real *v = vel_w;
                for (int j = 0; j < 2; j++, v += t[0]->size) {
                    for (size_t k = 0; k < t[j]->size; k++) {
                        v[k] = (em_real)0.9 * v[k] + t[j]->grad[k];
                        t[j]->data[k] -= (em_real)lr * v[k];
                    }
                    em_tensor_zero_grad(t[j]);
                }
            }
            em_tape_reset(tape);
        }
        double acc = evaluate(net, lin, te, tape, x, labels);
        printf("%-8s epoch %d  train loss %.3f  test accuracy %.1f%%  (%lds)\n", what, e + 1,
               loss_sum / (double)steps, 100 * acc, (long)(time(NULL) - t0));
        fflush(stdout);
    }
    free(vel_w);
    em_tensor_free(x);
    em_tape_free(tape);
    return 0;
}

int main(int argc, char **argv) {
    size_t n_train = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    int epochs = argc > 2 ? atoi(argv[2]) : 4;
    unsigned long seed = argc > 3 ? strtoul(argv[3], NULL, 10) : 1;
    const char *which = argc > 4 ? argv[4] : "both";
    double lr = argc > 5 ? atof(argv[5]) : 0;
    bool run_linear = strcmp(which, "cnn") != 0, run_cnn = strcmp(which, "linear") != 0;
    em_error err;
    em_dataset train, test;
    if (em_shapes_load(&train, EM_SPLIT_TRAIN, n_train, seed, &err) != EM_OK ||
        em_shapes_load(&test, EM_SPLIT_TEST, 2000, seed, &err) != EM_OK) {
        fprintf(stderr, "ember-shapes-baselines: %s\n", err.msg);
        return 1;
    }
    em_loader_opts o = em_loader_defaults();
    o.batch = BATCH;
    o.seed = seed;
    o.normalize = true;
    o.augment = true;
    o.prefetch = true;
    em_dataset_channel_stats(&train, 0, o.mean, o.std);
    em_loader *tr = em_loader_new(&train, &o, &err);
    o.augment = false;
    o.shuffle = false;
    o.prefetch = false;
    em_loader *te = tr ? em_loader_new(&test, &o, &err) : NULL;
    if (!tr || !te) {
        fprintf(stderr, "ember-shapes-baselines: %s\n", err.msg);
        return 1;
    }
    printf("shapes: %zu train / %zu test, seed %lu, batch %d\n", train.n, test.n, seed, BATCH);

    em_rng rng;
    em_rng_seed(&rng, seed);
    linear_model lin = {em_tensor_new(2, (int[]){10, 3072}, EM_REQUIRES_GRAD),
                        em_tensor_new(1, (int[]){10}, EM_REQUIRES_GRAD)};
    for (size_t k = 0; k < lin.w->size; k++)
        lin.w->data[k] = (em_real)em_rng_uniform_range(&rng, -0.018, 0.018);  /* 1/sqrt(3072) */
    int rc = run_linear ? fit("linear", NULL, &lin, tr, te, epochs, lr > 0 ? lr : 0.001) : 0;

    em_model_opts mo = em_model_defaults();
    int in[3];
    em_module *net = em_model_new("cifar-cnn", &mo, in);
    if (!net) return 1;
    em_module_init(net, &rng, NULL);
    em_module_train(net, true);
    if (rc == 0 && run_cnn) rc = fit("cifar-cnn", net, NULL, tr, te, epochs, lr > 0 ? lr : 0.05);

    em_module_free(net);
    em_tensor_free(lin.w);
    em_tensor_free(lin.b);
    em_loader_free(tr);
    em_loader_free(te);
    em_dataset_free(&train);
    em_dataset_free(&test);
    return rc;
}

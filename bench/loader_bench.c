/* bench/loader_bench.c — is the loader fast enough? Batches per second of normalized,
 * augmented (3, 32, 32) batches from the synthetic set, against the time of one
 * forward + backward + SGD step of cifar-cnn on such a batch. The ratio is how many
 * times faster than the training step consumes them the loader assembles batches; the
 * loader is fast enough when it is >= 10 (one core of two then suffices to feed).
 *
 *   usage: ember-loader-bench [batch] [steps]        (defaults: 128, 5)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ember.h"
#include "examples/common/models.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    int batch = argc > 1 ? atoi(argv[1]) : 128, steps = argc > 2 ? atoi(argv[2]) : 5;
    if (batch <= 0 || steps <= 0) {
        fprintf(stderr, "usage: ember-loader-bench [batch > 0] [steps > 0]\n");
        return 2;
    }
    em_error err;
    em_dataset ds;
    if (em_shapes_load(&ds, EM_SPLIT_TRAIN, 10000, 1, &err) != EM_OK) {
        fprintf(stderr, "ember-loader-bench: %s\n", err.msg);
        return 1;
    }
    em_loader_opts o = em_loader_defaults();
    o.batch = batch;
    o.augment = true;
    o.normalize = true;
    em_dataset_channel_stats(&ds, 0, o.mean, o.std);
    em_loader *l = em_loader_new(&ds, &o, &err);
    em_tensor *x = l ? em_loader_batch_tensor(l) : NULL;
    int *labels = malloc((size_t)batch * sizeof *labels);
    if (!l || !x || !labels) {
        fprintf(stderr, "ember-loader-bench: %s\n", l ? "out of memory" : err.msg);
        return 1;
    }

    /* loader alone: whole epochs until at least 1 s has passed */
    int n, epoch = 0;
    size_t batches = 0;
    double t0 = now(), t;
    do {
        em_loader_begin_epoch(l, epoch++);
        while (em_loader_next(l, x, labels, &n)) batches++;
    } while ((t = now()) - t0 < 1.0);
    double loader_rate = (double)batches / (t - t0);

    /* the training step: forward, backward, plain SGD (lr 0.01), on loader batches */
    em_model_opts mo = em_model_defaults();
    int in[3];
    em_module *net = em_model_new("cifar-cnn", &mo, in);
    em_tape *tape = em_tape_new(0);
    if (!net || !tape) {
        fprintf(stderr, "ember-loader-bench: cannot build cifar-cnn\n");
        return 1;
    }
    em_rng rng;
    em_rng_seed(&rng, 1);
    em_module_init(net, &rng, NULL);
    em_module_train(net, true);
    em_params p = em_module_params(net);
    em_loader_opts full = o;
    full.drop_last = true;  /* every step on a whole batch */
    em_loader *l2 = em_loader_new(&ds, &full, &err);
    if (!l2) {
        fprintf(stderr, "ember-loader-bench: %s\n", err.msg);
        return 1;
    }
    double step_time = 0;
    for (int s = 0; s <= steps; s++) {  /* step 0 warms up (arena chunks, BLAS threads) */
        if (!em_loader_next(l2, x, labels, &n)) {
            em_loader_begin_epoch(l2, s);
            em_loader_next(l2, x, labels, &n);
        }
        double s0 = now();
        em_tensor *loss = em_cross_entropy(tape, em_module_forward(net, tape, x), labels);
        if (!loss || em_backward(tape, loss) != EM_OK) {
            fprintf(stderr, "ember-loader-bench: step failed: %s\n", tape->err.msg);
            return 1;
        }
        for (size_t k = 0; k < p.n; k++) p.data[k] -= (em_real)0.01 * p.grad[k];
        em_module_zero_grad(net);
        em_tape_reset(tape);
        if (s > 0) step_time += now() - s0;
    }
    step_time /= steps;

    printf("loader: %.1f batches/s (%d x (3, 32, 32), normalized + crop/flip), %.3f ms/batch\n",
           loader_rate, batch, 1e3 / loader_rate);
    printf("cifar-cnn step (%s, forward + backward + SGD): %.1f ms = %.2f steps/s\n",
           EM_REAL_NAME, 1e3 * step_time, 1.0 / step_time);
    printf("ratio: the loader is %.0fx faster than the step consumes batches (need >= 10)\n",
           loader_rate * step_time);
    em_loader_free(l2);
    em_loader_free(l);
    em_tensor_free(x);
    free(labels);
    em_tape_free(tape);
    em_module_free(net);
    em_dataset_free(&ds);
    return loader_rate * step_time >= 10 ? 0 : 1;
}

/* examples/interop/logits.c — ember-logits: the ember side of tools/torch_interop.py.
 *
 * Builds a zoo model, gives it weights (a checkpoint, or an initialization plus a few SGD
 * steps so that weights and BatchNorm statistics move), optionally saves it, and writes a
 * deterministic input batch and the model's logits on it (evaluation mode: BatchNorm uses
 * its running statistics) as .npy files for PyTorch to compare against.
 *
 *   ember-logits mnist-cnn --init 11 --train-steps 3 --save a.safetensors \
 *                --input x.npy --logits y.npy            # ember -> PyTorch
 *   ember-logits mnist-cnn --load b.safetensors --input x.npy --logits y.npy
 *                                                         # PyTorch -> ember
 *   ember-logits --arch "conv16 gn:4 relu gap fc10" --chw 1x28x28 --load t0.safetensors \
 *                --train-steps 1 --train-input xt.npy --train-labels lt.npy --save t1.safetensors
 *                                  # one SGD step on a spec'd network, its batch written out
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember.h"
#include "examples/common/arch.h"
#include "examples/common/models.h"

static const char usage[] =
    "usage: ember-logits MODEL|--arch SPEC [--chw CxHxW] [--no-bn] [--act sigmoid|relu|tanh]\n"
    "                    [--load CKPT | --init SEED] [--train-steps K] [--save CKPT]\n"
    "                    [--batch N] [--seed S] [--input X.npy] [--logits Y.npy]\n"
    "                    [--train-input X.npy] [--train-labels L.npy]\n"
    "MODEL: a preset (mnist-cnn, cifar-cnn, mlp, lenet, resnet8, resnet20), or a spec of the\n"
    "architecture language for --chw images (default 1x28x28). Logits are computed in\n"
    "evaluation mode; --train-input/--train-labels get the last training step's batch.\n";

typedef struct args {
    const char *model, *act, *load, *save, *input, *logits, *arch, *chw;
    const char *train_input, *train_labels;
    bool bn;
    unsigned long init_seed, seed;
    int train_steps, batch;
} args;

static bool parse(int argc, char **argv, args *a) {
    *a = (args){.act = "sigmoid", .bn = true, .init_seed = 1, .seed = 7, .batch = 8};
    if (argc < 2) return false;
    int first = 1;
    if (!strcmp(argv[1], "--arch") && argc > 2) {
        a->model = "arch";
        a->arch = argv[2];
        first = 3;
    } else if (argv[1][0] != '-') {
        a->model = argv[1];
        first = 2;
    } else {
        return false;
    }
    for (int i = first; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--no-bn")) { a->bn = false; continue; }
        if (!v) return false;
        i++;
        if (!strcmp(o, "--act")) a->act = v;
        else if (!strcmp(o, "--load")) a->load = v;
        else if (!strcmp(o, "--save")) a->save = v;
        else if (!strcmp(o, "--input")) a->input = v;
        else if (!strcmp(o, "--logits")) a->logits = v;
        else if (!strcmp(o, "--init")) a->init_seed = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--seed")) a->seed = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--train-steps")) a->train_steps = atoi(v);
        else if (!strcmp(o, "--batch")) a->batch = atoi(v);
        else if (!strcmp(o, "--chw")) a->chw = v;
        else if (!strcmp(o, "--train-input")) a->train_input = v;
        else if (!strcmp(o, "--train-labels")) a->train_labels = v;
        else return false;
    }
    return a->batch >= 2 && a->train_steps >= 0;
}

/* x ~ N(0, 1) of shape (N, C, H, W) from rng */
static void fill_normal(em_rng *rng, em_tensor *x) {
    for (size_t i = 0; i < x->size; i++) x->data[i] = (em_real)em_rng_normal(rng, 0, 1);
}

/* labels as a (N) tensor of their values, for numpy */
static em_code save_labels(const char *path, const int *labels, int n, em_error *err) {
    em_tensor *t = em_tensor_new(1, (int[]){n}, 0);
    if (!t) return em_error_set(err, EM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) t->data[i] = (em_real)labels[i];
    em_code c = em_npy_save(path, t, err);
    em_tensor_free(t);
    return c;
}

/* K steps of SGD (lr 0.05, momentum 0.9) on random batches with random labels; the last
 * batch and its labels into the files a names (when it names them) */
static bool train(em_module *net, const int in[3], const args *a, int classes, em_rng *rng) {
    int steps = a->train_steps, batch = a->batch;
    em_error err;
    em_sgd_opts o = {.momentum = 0.9};
    em_sgd *opt = em_sgd_new(em_module_params(net), &o, &err);
    em_tensor *x = em_tensor_new(4, (int[]){batch, in[0], in[1], in[2]}, 0);
    int *labels = malloc((size_t)batch * sizeof *labels);
    em_tape *tape = em_tape_new(0);
    bool ok = opt && x && labels && tape;
    em_module_train(net, true);
    for (int s = 0; ok && s < steps; s++) {
        fill_normal(rng, x);
        for (int n = 0; n < batch; n++) labels[n] = (int)em_rng_below(rng, (uint32_t)classes);
        em_sgd_zero_grad(opt);
        em_tensor *loss = em_cross_entropy(tape, em_module_forward(net, tape, x), labels);
        ok = em_backward(tape, loss) == EM_OK;
        if (!ok) fprintf(stderr, "ember-logits: training step %d: %s\n", s, tape->err.msg);
        else em_sgd_step(opt, 0.05);
        em_tape_reset(tape);
    }
    if (ok && ((a->train_input && em_npy_save(a->train_input, x, &err) != EM_OK) ||
               (a->train_labels && save_labels(a->train_labels, labels, batch, &err) != EM_OK))) {
        fprintf(stderr, "ember-logits: %s\n", err.msg);
        ok = false;
    }
    em_sgd_free(opt);
    em_tensor_free(x);
    free(labels);
    em_tape_free(tape);
    return ok;
}

/* --arch SPEC for --chw images; NULL after the message. classes: the outputs. */
static em_module *spec_network(const args *a, const em_model_opts *mo, int in[3], int *classes) {
    char extra;
    in[0] = 1, in[1] = in[2] = 28;
    if (a->chw && (sscanf(a->chw, "%dx%dx%d%c", &in[0], &in[1], &in[2], &extra) != 3 ||
                   in[0] < 1 || in[1] < 1 || in[2] < 1)) {
        fprintf(stderr, "ember-logits: --chw: '%s' is not CxHxW\n", a->chw);
        return NULL;
    }
    em_error err;
    em_arch *spec;
    if (em_arch_parse(a->arch, "--arch", &spec, &err) != EM_OK) {
        fprintf(stderr, "ember-logits: %s\n", err.msg);
        return NULL;
    }
    em_arch_opts o = em_model_arch_opts(mo);
    int out[3] = {0, 0, 0};
    em_module *net = NULL;
    if (em_arch_output(spec, in, &o, out, &err) == EM_OK) {
        if (out[1] == 0) net = em_arch_build(spec, in, &o, &err);
        else em_error_set(&err, EM_ERR_ARG, "the network does not end in class scores");
    }
    em_arch_free(spec);
    if (!net) fprintf(stderr, "ember-logits: %s\n", err.msg);
    *classes = out[0];
    return net;
}

int main(int argc, char **argv) {
    args a;
    if (!parse(argc, argv, &a)) {
        fputs(usage, stderr);
        return 2;
    }
    em_model_opts mo = em_model_defaults();
    mo.bn = a.bn;
    mo.act = a.act;
    int in[3], classes = 10;
    em_module *net = a.arch ? spec_network(&a, &mo, in, &classes) : em_model_new(a.model, &mo, in);
    if (!net) {
        if (!a.arch) fprintf(stderr, "ember-logits: unknown model '%s' or activation '%s'\n%s",
                             a.model, a.act, usage);
        return 2;
    }
    em_error err;
    em_rng rng;
    em_rng_seed(&rng, a.init_seed);
    em_module_init(net, &rng, NULL);
    int status = 0;
    if (a.load) {
        em_ck_load_opts lo = {.allow_unused = true};        /* a training checkpoint is fine */
        if (em_checkpoint_load(a.load, net, &lo, &err) != EM_OK) {
            fprintf(stderr, "ember-logits: %s\n", err.msg);
            status = 1;
        }
    }
    if (!status && a.train_steps && !train(net, in, &a, classes, &rng)) status = 1;
    if (!status && a.save) {
        char config[160], progress[64];
        snprintf(config, sizeof config, "model=%s bn=%d act=%s init=%lu train_steps=%d "
                 "batch=%d sgd(lr=0.05, momentum=0.9)", a.model, a.bn, a.act, a.init_seed,
                 a.train_steps, a.batch);
        snprintf(progress, sizeof progress, "step %d", a.train_steps);
        em_ck_save_opts so = {.model_name = a.model, .config = config, .progress = progress};
        if (em_checkpoint_save(a.save, net, &so, &err) != EM_OK) {
            fprintf(stderr, "ember-logits: %s\n", err.msg);
            status = 1;
        }
    }
    em_tensor *x = em_tensor_new(4, (int[]){a.batch, in[0], in[1], in[2]}, 0);
    em_tape *tape = em_tape_new(0);
    if (!status && (!x || !tape)) status = 1;
    if (!status) {
        em_rng data;
        em_rng_seed(&data, a.seed);
        fill_normal(&data, x);
        em_module_train(net, false);
        em_tape_set_recording(tape, false);
        em_tensor *y = em_module_forward(net, tape, x);
        if (!y) {
            fprintf(stderr, "ember-logits: forward: %s\n", tape->err.msg);
            status = 1;
        } else if ((a.input && em_npy_save(a.input, x, &err) != EM_OK) ||
                   (a.logits && em_npy_save(a.logits, y, &err) != EM_OK)) {
            fprintf(stderr, "ember-logits: %s\n", err.msg);
            status = 1;
        } else {
            printf("ember-logits: %s%s, %zu parameters, batch %d, logits[0][0..2] = %.6f %.6f "
                   "%.6f\n", a.model, a.bn ? "" : " (no BN)", em_module_param_count(net),
                   a.batch, (double)y->data[0], (double)y->data[1], (double)y->data[2]);
        }
    }
    em_tensor_free(x);
    em_tape_free(tape);
    em_module_free(net);
    return status;
}

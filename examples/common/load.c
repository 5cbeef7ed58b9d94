/* examples/common/load.c — the data of ember-mnist and ember-cifar (load.h). */
#include "load.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "data/cifar10.h"
#include "data/mnist.h"
#include "data/synthetic.h"
#include "examples/common/progress.h"

/* the generated shapes set: 50000 / 10000 images like CIFAR-10, seconds to make: with a
 * progress line on a terminal */
static em_code make_shapes(const em_config *c, em_dataset *train, em_dataset *test,
                           em_error *err) {
    em_progress bar;
    em_progress_begin(&bar, stderr, "making the shapes set", 50000, c->quiet);
    em_code code = em_shapes_load_progress(train, EM_SPLIT_TRAIN, 50000, c->seed,
                                           em_progress_images, &bar, err);
    em_progress_end(&bar);
    em_progress_begin(&bar, stderr, "making the shapes test set", 10000, c->quiet);
    if (code == EM_OK)
        code = em_shapes_load_progress(test, EM_SPLIT_TEST, 10000, c->seed, em_progress_images,
                                       &bar, err);
    em_progress_end(&bar);
    return code;
}

static em_code load_data(const em_config *c, em_dataset *train, em_dataset *test,
                         em_error *err) {
    em_code code;
    if (c->which == EM_PROGRAM_CIFAR && c->synthetic) return make_shapes(c, train, test, err);
    const char *dir = c->data[0] ? c->data
                      : c->which == EM_PROGRAM_MNIST ? em_mnist_default_dir() : em_cifar_default_dir();
    if (c->which == EM_PROGRAM_MNIST) {
        bool digits = !strcmp(c->dataset, "mnist");
        if (digits && !c->data[0] && !getenv("EMBER_MNIST_DIR"))
            return em_error_set(err, EM_ERR_ARG, "--dataset mnist: give the directory of the "
                                "MNIST files with --data DIR or EMBER_MNIST_DIR (get them "
                                "with tools/fetch-mnist.sh); the default directory holds "
                                "Fashion-MNIST");
        if ((code = em_mnist_load(train, dir, EM_SPLIT_TRAIN, err)) != EM_OK) return code;
        if ((code = em_mnist_load(test, dir, EM_SPLIT_TEST, err)) != EM_OK) return code;
        const char *const *names = digits ? em_mnist_class_names : em_fashion_mnist_class_names;
        if ((code = em_dataset_static_names(train, names, 10, err)) != EM_OK) return code;
        return em_dataset_static_names(test, names, 10, err);
    }
    if ((code = em_cifar10_load(train, dir, EM_SPLIT_TRAIN, err)) != EM_OK) return code;
    return em_cifar10_load(test, dir, EM_SPLIT_TEST, err);
}

/* the files with a line on a terminal while they are read and checked (no count to show:
 * the line says what is happening and goes when it is done) */
em_code em_program_load_data(const em_config *c, em_dataset *train, em_dataset *test,
                             em_error *err) {
    em_progress note;
    em_progress_begin(&note, stderr, c->program, 1, c->quiet || c->synthetic);
    em_progress_note(&note, "reading the data set...");
    em_code code = load_data(c, train, test, err);
    em_progress_end(&note);
    return code;
}

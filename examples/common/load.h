/* examples/common/load.h — the data of ember-mnist and ember-cifar: the files the options
 * name (MNIST-format or CIFAR-10, with their class names), or the generated shapes set,
 * with a progress line on a terminal while a person waits (not with --quiet, never on a
 * pipe: progress.h).
 *
 *     em_dataset train = {0}, test = {0};
 *     if (em_program_load_data(&cfg, &train, &test, &err) != EM_OK) ...exit 2...
 */
#ifndef EM_LOAD_H
#define EM_LOAD_H

#include "data/dataset.h"
#include "examples/common/options.h"

em_code em_program_load_data(const em_config *c, em_dataset *train, em_dataset *test,
                             em_error *err);

#endif

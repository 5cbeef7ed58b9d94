/* examples/common/outputs.h — every file a run of ember-mnist or ember-cifar will write,
 * checked before the run starts, so that a mistyped path costs seconds, not the run, and
 * no output overwrites an input:
 *
 *     if (em_outputs_check(&cfg, &err) != EM_OK) ...exit 2: err.msg names the option...
 *     ...load the data...
 *     if (em_outputs_check_data(&cfg, &train, &test, &err) != EM_OK) ...exit 2...
 */
#ifndef EM_OUTPUTS_H
#define EM_OUTPUTS_H

#include "data/dataset.h"
#include "examples/common/options.h"

/* The outputs the run will write (--save, --metrics, --predictions, --confusion, --dot;
 * with --eval only --predictions, --confusion and --dot): each can be written
 * (core/wfile.h: its directory exists and is writable, it is a regular file or nothing
 * yet), no two of them are the same file, and none is an input (--resume, --load,
 * --arch @FILE) or where another one writes its temporary file — except --save naming the
 * --resume file, which the resumed run replaces with its next checkpoint. EM_ERR_ARG, the
 * message naming the option, the path and the problem. */
em_code em_outputs_check(const em_config *c, em_error *err);
/* The same outputs against the files the data was read from (em_dataset.files). */
em_code em_outputs_check_data(const em_config *c, const em_dataset *train,
                              const em_dataset *test, em_error *err);

#endif

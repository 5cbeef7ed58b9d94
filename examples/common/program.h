/* examples/common/program.h — the body of ember-mnist and ember-cifar. */
#ifndef EM_PROGRAM_H
#define EM_PROGRAM_H

#include "examples/common/options.h"

/* Everything main() does; returns the exit status (0, 1, 2, 3 or 130, see program.c). */
int em_program_main(em_program which, int argc, char **argv);

#endif

/* ember-cifar — train cifar-cnn on CIFAR-10 (or the generated shapes set with
 * --synthetic), with or without BatchNorm. `ember-cifar --help` lists the options. */
#include "examples/common/program.h"

int main(int argc, char **argv) { return em_program_main(EM_PROGRAM_CIFAR, argc, argv); }

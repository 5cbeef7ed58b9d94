/* ember-mnist — train mnist-cnn or Ioffe's MLP on MNIST-format data (Fashion-MNIST by
 * default), with or without BatchNorm. `ember-mnist --help` lists the options. */
#include "examples/common/program.h"

int main(int argc, char **argv) { return em_program_main(EM_PROGRAM_MNIST, argc, argv); }

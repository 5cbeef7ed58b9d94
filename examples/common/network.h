/* examples/common/network.h — the network a run of ember-mnist or ember-cifar trains, from
 * its configuration: a preset (--model NAME) or a spec of the architecture language
 * (--arch "TEXT", --arch @FILE; docs/architectures.md), with --norm, --norm-position and
 * the --bn-* options applied, for the program's images (1x28x28, 3x32x32); then
 * initialized by --init (fixup: He's normal rule, then em_model_fixup) and --zero-gamma.
 *
 *     em_module *net = em_config_network(&cfg, &classes, &err);   // NULL: err says why
 *     em_module_init(net, &rng, &init);                       // --init, --init-scale
 *     if (em_config_network_init(&cfg, net, &err) != EM_OK) ...  // zero-gamma, fixup
 *
 * The options parser checks the network with em_config_network_check before a run reads
 * any data, so a spec that does not parse or fit stops the program at once (exit 2).
 */
#ifndef EM_NETWORK_H
#define EM_NETWORK_H

#include <stdio.h>

#include "examples/common/arch.h"
#include "examples/common/models.h"
#include "examples/common/options.h"

/* The shape (C, H, W) of the program's images: 1x28x28 for ember-mnist, 3x32x32 for
 * ember-cifar. */
void em_config_input(const em_config *c, int chw[3]);

/* The network's name in messages and in a checkpoint's "model" entry: the preset's full
 * name ("mnist-cnn" for ember-mnist's cnn, "resnet20"), or "arch" for --arch. */
const char *em_config_model_name(const em_config *c);

/* The spec the run builds, in one line: the preset's, or --arch's without its comments and
 * with every run of white space made one space. Returns the length (as snprintf). */
int em_config_spec(const em_config *c, char *buf, size_t len);

/* The model options a configuration asks for (--bn, --act, --bn-momentum, ...). */
em_model_opts em_config_model_opts(const em_config *cfg);

/* The network checked without training it: the spec parsed, every shape resolved for the
 * program's images, and --init fixup / --zero-gamma given something to act on. EM_OK, or
 * EM_ERR_ARG with err saying where (the column, or the layer and both shapes). */
em_code em_config_network_check(const em_config *c, em_error *err);

/* The network built (not yet initialized by --init), and the number of class scores it
 * gives into outputs (may be NULL): NULL with err (EM_ERR_ARG as em_config_network_check,
 * also for a network that does not end flat; EM_ERR_NOMEM). */
em_module *em_config_network(const em_config *c, int *outputs, em_error *err);

/* After the --init rule: --zero-gamma and --init fixup. EM_ERR_ARG when the network has
 * nothing for them to act on (no residual block, no normalization in a branch). */
em_code em_config_network_init(const em_config *c, em_module *net, em_error *err);

/* The network's identity as 16 hex digits (em_arch_identity): what a checkpoint records
 * as "network" and a --load checks. EM_ERR_ARG as em_config_network_check. */
em_code em_config_network_id(const em_config *c, char id[17], em_error *err);

/* --print-arch (torch false) and --print-torch: the network in the file form of the
 * language, or as PyTorch source. */
em_code em_config_network_print(const em_config *c, bool torch, FILE *out, em_error *err);

#endif

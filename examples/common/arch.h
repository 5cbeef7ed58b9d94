/* examples/common/arch.h — the architecture language: a network in one line or one file
 * (docs/architectures.md has the grammar table and examples).
 *
 *     em_arch *a;
 *     if (em_arch_parse("conv16 bn relu pool2 flatten fc10", "--arch", &a, &err) != EM_OK) ...
 *     em_arch_opts o = em_arch_defaults();
 *     em_module *net = em_arch_build(a, (int[]){1, 28, 28}, &o, &err);   // NULL: err says
 *     em_arch_free(a);
 *
 * A spec is a sequence of layers separated by white space (newlines too; `#` starts a
 * comment): conv16 conv32k5s2p0 fc128 bn brn gn:4 ln in relu sigmoid tanh pool2 maxpool3s2
 * avgpool2 gap flatten dropout:0.5, `N*item` repeats an item, `( ... )` groups items, and
 * res( BRANCH ) / res( BRANCH | SHORTCUT ) is a residual block; resC and resCsS are He et
 * al.'s basic block and the ReLU after it. A convolution or linear layer followed at once
 * by a normalization has no bias (the norm's beta takes its place).
 *
 * Errors name what went wrong where: a bad spec by its column (line:column in a file), a
 * shape that does not fit by the layer's number and token and both shapes.
 */
#ifndef EM_ARCH_H
#define EM_ARCH_H

#include <stdint.h>
#include <stdio.h>

#include "core/errors.h"
#include "layers/layers.h"

typedef struct em_arch em_arch;

/* Parse a spec. where names it in messages ("--arch", a file name). Returns EM_OK or
 * EM_ERR_ARG with err saying "WHERE: column C: ..." (what was expected, what was found). */
em_code em_arch_parse(const char *text, const char *where, em_arch **out, em_error *err);
void em_arch_free(em_arch *a);

/* An architecture file's text into buf (len bytes, the NUL included): a regular file (not
 * a pipe or a device, which could block or never end) of at most len - 1 bytes, holding
 * no NUL. EM_ERR_ARG naming the file and what is wrong. */
em_code em_arch_read_file(const char *path, char *buf, size_t len, em_error *err);

/* What a build may change about a spec. */
typedef struct em_arch_opts {
    const char *norm;       /* NULL: as written; "bn", "brn", "gn:G", "ln", "in", "none":
                               every normalization of the spec replaced by it */
    int norm_after;         /* -1: as written; 0: every norm before the activation that
                               follows or precedes it, 1: after it */
    int width;              /* every channel count and hidden width times this, the
                               classifier's outputs excepted (0 or 1: as written) */
    em_bn_opts bn;          /* momentum, eps, frozen statistics of every BatchNorm */
    em_gn_opts gn;          /* eps of every GroupNorm, LayerNorm, InstanceNorm */
} em_arch_opts;

em_arch_opts em_arch_defaults(void);

/* Check a norm name as em_arch_opts.norm takes it ("gn:4"); EM_ERR_ARG naming it. */
em_code em_arch_check_norm(const char *norm, em_error *err);

/* The network of a spec for images (C, H, W), every shape checked first: NULL with err
 * (EM_ERR_ARG naming the layer and the shapes; EM_ERR_NOMEM). The options are applied to
 * a copy; a stays as it was. */
em_module *em_arch_build(const em_arch *a, const int input_chw[3], const em_arch_opts *o,
                         em_error *err);

/* The shape of the network's output for images (C, H, W): (F, 0, 0) when it is flat.
 * EM_ERR_ARG as em_arch_build. */
em_code em_arch_output(const em_arch *a, const int input_chw[3], const em_arch_opts *o,
                       int out[3], em_error *err);

/* The spec after the options, in the file form, one line per layer with its output shape
 * and parameter count as comments, and the total: parsing it gives the same network.
 * name (may be NULL) heads it. EM_ERR_ARG as em_arch_build. */
em_code em_arch_print(const em_arch *a, const int input_chw[3], const em_arch_opts *o,
                      const char *name, FILE *out, em_error *err);

/* The network's identity: a 64-bit hash of the spec after the options, resolved for images
 * (C, H, W) and written in the canonical form --print-arch prints, so the same network
 * written two ways (pool2 and maxpool2, a preset and its spec, a spec and its printed
 * file) has one identity, and two networks that differ in a layer (relu for tanh, ln for
 * gn:4) have two. EM_ERR_ARG as em_arch_build. */
em_code em_arch_identity(const em_arch *a, const int input_chw[3], const em_arch_opts *o,
                         uint64_t *id, em_error *err);

/* The same network as PyTorch source (a module build() returns, nn.Sequential with
 * nested blocks), whose state dict has ember's names: a checkpoint of one loads into the
 * other with strict=True. */
em_code em_arch_print_torch(const em_arch *a, const int input_chw[3], const em_arch_opts *o,
                            const char *name, FILE *out, em_error *err);

#endif

/* examples/common/arch_internal.h — the parsed form of a spec, shared by the parser
 * (arch.c), the builder (arch_build.c) and the PyTorch printer (arch_torch.c). */
#ifndef EM_ARCH_INTERNAL_H
#define EM_ARCH_INTERNAL_H

#include <stdbool.h>

#include "examples/common/arch.h"

typedef enum arch_kind {
    A_CONV, A_FC, A_NORM, A_ACT, A_MAXPOOL, A_AVGPOOL, A_GAP, A_FLATTEN, A_DROPOUT, A_RES
} arch_kind;

typedef enum norm_kind { N_BN, N_BRN, N_GN, N_LN, N_IN } norm_kind;

typedef struct arch_node {
    arch_kind kind;
    int line, col;            /* where it was written (1-based)                          */
    char token[40];           /* as written, for messages                                */
    int n;                    /* conv: output channels; fc: output features              */
    int k, s, p;              /* conv: kernel, stride, padding; pools: window, stride    */
    norm_kind norm;
    int groups;               /* gn:G                                                    */
    char act[8];              /* relu, sigmoid, tanh                                     */
    double drop;              /* dropout's p                                             */
    em_arch *branch;          /* A_RES                                                   */
    em_arch *shortcut;        /* A_RES: NULL is the identity ...                         */
    bool auto_shortcut;       /* ... or, for resC sS, a 1x1 projection and a norm when the
                                 branch changes the shape                                */
    /* filled when the spec is resolved for an input (arch_build.c) */
    int in[3], out[3];        /* the shapes around it: (C, H, W), or (F, 0, 0) flat      */
    bool bias;                /* conv and fc: not followed by a norm                     */
} arch_node;

struct em_arch {
    int n, cap;
    arch_node *v;
};

/* a deep copy, NULL when out of memory */
em_arch *em_arch_copy(const em_arch *a);
/* append a node (deep: its branches are copied); false when out of memory */
bool em_arch_push(em_arch *a, const arch_node *node);

/* the canonical token of a node ("conv32s2", "gn:4"); res gets "res" */
void em_arch_token(const arch_node *node, char *buf, size_t len);

/* A copy of a with the options applied and every node's shapes and bias filled in for
 * images (C, H, W), each checked; the auto shortcuts made explicit. NULL with err. */
em_arch *em_arch_resolve(const em_arch *a, const int input_chw[3], const em_arch_opts *o,
                         em_error *err);
/* a node's parameters (as the module em_arch_build makes for it has) */
long em_arch_node_params(const arch_node *node);

#endif

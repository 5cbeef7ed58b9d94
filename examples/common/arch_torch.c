/* examples/common/arch_torch.c — a resolved spec as PyTorch source (em_arch_print_torch):
 * the same layers in an nn.Sequential, residual blocks as a small module with the
 * attributes `branch` and `shortcut`, so that the state dict has ember's names and a
 * checkpoint moves between the two with strict=True (tools/torch_interop.py checks it). */
#include "arch_internal.h"

#include <string.h>

static const char preamble[] =
    "import torch\n"
    "from torch import nn\n"
    "\n"
    "\n"
    "class Residual(nn.Module):\n"
    "    \"\"\"y = branch(x) + shortcut(x); no shortcut module: the identity\"\"\"\n"
    "\n"
    "    def __init__(self, branch, shortcut=None):\n"
    "        super().__init__()\n"
    "        self.branch = branch\n"
    "        if shortcut is not None:\n"
    "            self.shortcut = shortcut\n"
    "\n"
    "    def forward(self, x):\n"
    "        s = self.shortcut(x) if hasattr(self, \"shortcut\") else x\n"
    "        return self.branch(x) + s\n"
    "\n"
    "\n"
    "class GlobalAvgPool(nn.Module):\n"
    "    \"\"\"(N, C, H, W) -> (N, C): each plane's mean\"\"\"\n"
    "\n"
    "    def forward(self, x):\n"
    "        return x.mean(dim=(2, 3))\n";

/* Batch Renorm (Ioffe 2017) has no PyTorch module: this one computes what ember's does
 * (core/ops/batchnorm.c), r and d clipped and held constant in backward, rmax and dmax
 * growing over the warm-up, and keeps BatchNorm's state-dict names. It takes images and
 * features (after fc) alike, as ember's does: BatchNorm2d's evaluation would refuse (N, F). */
static const char renorm_class[] =
    "\n"
    "\n"
    "class BatchRenorm(nn.BatchNorm2d):\n"
    "    \"\"\"Batch Renormalization (Ioffe 2017) as ember computes it\"\"\"\n"
    "\n"
    "    def __init__(self, c, eps, momentum, rmax, dmax, warmup):\n"
    "        super().__init__(c, eps=eps, momentum=momentum)\n"
    "        self.rmax, self.dmax, self.warmup = rmax, dmax, warmup\n"
    "\n"
    "    def _check_input_dim(self, x):\n"
    "        if x.dim() not in (2, 4):\n"
    "            raise ValueError(f\"expected 2D or 4D input (got {x.dim()}D input)\")\n"
    "\n"
    "    def forward(self, x):\n"
    "        if not self.training:\n"
    "            return super().forward(x)\n"
    "        dims = [0] + list(range(2, x.dim()))\n"
    "        shape = [1, -1] + [1] * (x.dim() - 2)\n"
    "        m = x.numel() // x.shape[1]\n"
    "        mean = x.mean(dims)\n"
    "        var = x.var(dims, unbiased=False)\n"
    "        t = min(1.0, float(self.num_batches_tracked) / self.warmup) if self.warmup else 1.0\n"
    "        rmax = 1 + (self.rmax - 1) * t\n"
    "        dmax = self.dmax * t\n"
    "        sr = torch.sqrt(self.running_var + self.eps)\n"
    "        sb = torch.sqrt(var + self.eps)\n"
    "        r = (sb / sr).clamp(1 / rmax, rmax).detach()\n"
    "        d = ((mean - self.running_mean) / sr).clamp(-dmax, dmax).detach()\n"
    "        with torch.no_grad():\n"
    "            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)\n"
    "            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * m / (m - 1))\n"
    "            self.num_batches_tracked += 1\n"
    "        xhat = (x - mean.view(shape)) / sb.view(shape)\n"
    "        return self.weight.view(shape) * (xhat * r.view(shape) + d.view(shape)) + "
    "self.bias.view(shape)\n";

static bool uses_renorm(const em_arch *a) {
    for (int i = 0; i < a->n; i++) {
        const arch_node *n = &a->v[i];
        if (n->kind == A_NORM && n->norm == N_BRN) return true;
        if (n->branch && uses_renorm(n->branch)) return true;
        if (n->shortcut && uses_renorm(n->shortcut)) return true;
    }
    return false;
}

static void print_seq(const em_arch *a, const em_arch_opts *o, int indent, bool lead, FILE *out);

static void print_norm(const arch_node *n, const em_arch_opts *o, FILE *out) {
    int c = n->in[0];
    bool image = n->in[1] > 0;
    double m = 1 - o->bn.momentum, bn_eps = o->bn.eps, eps = o->gn.eps;
    switch (n->norm) {
    case N_BN:
        fprintf(out, "nn.BatchNorm%dd(%d, eps=%.10g, momentum=%.10g)", image ? 2 : 1, c, bn_eps, m);
        return;
    case N_BRN:
        fprintf(out, "BatchRenorm(%d, eps=%.10g, momentum=%.10g, rmax=%.10g, dmax=%.10g, warmup=%ld)",
                c, bn_eps, m, o->bn.rmax, o->bn.dmax, (long)o->bn.renorm_warmup);
        return;
    case N_GN: fprintf(out, "nn.GroupNorm(%d, %d, eps=%.10g)", n->groups, c, eps); return;
    case N_LN:
        /* ember's LayerNorm of an image normalizes over (C, H, W) with a per-channel
         * affine: PyTorch's GroupNorm with one group */
        if (image) fprintf(out, "nn.GroupNorm(1, %d, eps=%.10g)", c, eps);
        else fprintf(out, "nn.LayerNorm(%d, eps=%.10g)", c, eps);
        return;
    case N_IN: fprintf(out, "nn.InstanceNorm2d(%d, eps=%.10g, affine=True)", c, eps); return;
    }
}

static void print_node(const arch_node *n, const em_arch_opts *o, int indent, FILE *out) {
    switch (n->kind) {
    case A_CONV:
        fprintf(out, "nn.Conv2d(%d, %d, %d, stride=%d, padding=%d, bias=%s)", n->in[0], n->n,
                n->k, n->s, n->p, n->bias ? "True" : "False");
        return;
    case A_FC:
        fprintf(out, "nn.Linear(%d, %d, bias=%s)", n->in[0], n->n, n->bias ? "True" : "False");
        return;
    case A_NORM: print_norm(n, o, out); return;
    case A_ACT:
        fprintf(out, "nn.%s()", !strcmp(n->act, "relu") ? "ReLU"
                                : !strcmp(n->act, "sigmoid") ? "Sigmoid" : "Tanh");
        return;
    case A_MAXPOOL: fprintf(out, "nn.MaxPool2d(%d, stride=%d)", n->k, n->s); return;
    case A_AVGPOOL: fprintf(out, "nn.AvgPool2d(%d, stride=%d)", n->k, n->s); return;
    case A_GAP: fprintf(out, "GlobalAvgPool()"); return;
    case A_FLATTEN: fprintf(out, "nn.Flatten()"); return;
    case A_DROPOUT: fprintf(out, "nn.Dropout(%.10g)", n->drop); return;
    case A_RES:
        fprintf(out, "Residual(\n");
        print_seq(n->branch, o, indent + 4, true, out);
        if (n->shortcut) {
            fprintf(out, ",\n");
            print_seq(n->shortcut, o, indent + 4, true, out);
        }
        fprintf(out, ")");
        return;
    }
}

/* nn.Sequential(...) for items at indent + 4 (lead: the first line indented too), without
 * the line end */
static void print_seq(const em_arch *a, const em_arch_opts *o, int indent, bool lead, FILE *out) {
    fprintf(out, "%*snn.Sequential(\n", lead ? indent : 0, "");
    for (int i = 0; i < a->n; i++) {
        fprintf(out, "%*s", indent + 4, "");
        print_node(&a->v[i], o, indent + 4, out);
        fprintf(out, ",\n");
    }
    fprintf(out, "%*s)", indent, "");
}

em_code em_arch_print_torch(const em_arch *a, const int chw[3], const em_arch_opts *o,
                            const char *name, FILE *out, em_error *err) {
    em_arch *r = em_arch_resolve(a, chw, o, err);
    if (!r) return err->code;
    fprintf(out, "\"\"\"%s%sthe network ember builds, in PyTorch: build() makes it; input (N, %d, "
            "%d, %d). Written by ember --print-torch.\"\"\"\n", name ? name : "", name ? ": " : "",
            chw[0], chw[1], chw[2]);
    fputs(preamble, out);
    if (uses_renorm(r)) fputs(renorm_class, out);
    if (o->bn.frozen_stats)
        fprintf(out, "\n# ember trains this network's BatchNorm with --bn-backward frozen-stats,"
                     " which no PyTorch module does\n");
    fprintf(out, "\n\ndef build():\n    return ");
    print_seq(r, o, 4, false, out);
    fprintf(out, "\n");
    em_arch_free(r);
    return EM_OK;
}

/* examples/common/arch_build.c — a parsed spec resolved for an input (the options applied,
 * every shape inferred and checked, the shortcuts of resC sS made), built into modules,
 * and printed back in the file form with shapes and parameter counts (arch.h). */
#include "arch_internal.h"

#include <stdlib.h>
#include <string.h>

em_arch_opts em_arch_defaults(void) {
    em_arch_opts o = {.norm = NULL, .norm_after = -1, .width = 1, .bn = em_bn_defaults(),
                      .gn = em_gn_defaults()};
    return o;
}

/* a norm name into kind and groups; false when it is none of them ("none": *none) */
static bool norm_of(const char *s, norm_kind *kind, int *groups, bool *none) {
    static const char *const names[] = {"bn", "brn", "ln", "in"};
    static const norm_kind kinds[] = {N_BN, N_BRN, N_LN, N_IN};
    *none = !strcmp(s, "none");
    if (*none) return true;
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) return *kind = kinds[i], true;
    char *end;
    long g = !strncmp(s, "gn:", 3) ? strtol(s + 3, &end, 10) : 0;
    if (g < 1 || g > 65536 || *end) return false;
    *kind = N_GN;
    *groups = (int)g;
    return true;
}

em_code em_arch_check_norm(const char *norm, em_error *err) {
    norm_kind k;
    int g;
    bool none;
    if (!norm_of(norm, &k, &g, &none))
        return em_error_set(err, EM_ERR_ARG, "--norm: '%s' is not bn, brn, gn:G (G groups, as "
                            "gn:4), ln, in or none", norm);
    return EM_OK;
}

/* ---- the options ------------------------------------------------------------------------ */

/* every norm of a (and of its blocks) replaced, or removed (none) */
static void replace_norms(em_arch *a, norm_kind kind, int groups, bool none) {
    int k = 0;
    for (int i = 0; i < a->n; i++) {
        arch_node *n = &a->v[i];
        if (n->branch) replace_norms(n->branch, kind, groups, none);
        if (n->shortcut) replace_norms(n->shortcut, kind, groups, none);
        if (n->kind == A_NORM && none) continue;
        if (n->kind == A_NORM) {
            n->norm = kind;
            n->groups = groups;
            em_arch_token(n, n->token, sizeof n->token);
        }
        a->v[k++] = *n;
    }
    a->n = k;
}

/* every norm next to an activation moved to its side: after it, or before it */
static void place_norms(em_arch *a, bool after) {
    for (int i = 0; i < a->n; i++) {
        if (a->v[i].branch) place_norms(a->v[i].branch, after);
        if (a->v[i].shortcut) place_norms(a->v[i].shortcut, after);
    }
    for (int i = 0; i + 1 < a->n; i++) {
        arch_kind first = after ? A_NORM : A_ACT, second = after ? A_ACT : A_NORM;
        if (a->v[i].kind == first && a->v[i + 1].kind == second) {
            arch_node t = a->v[i];
            a->v[i] = a->v[i + 1];
            a->v[i + 1] = t;
            i++;
        }
    }
}

/* every conv and fc width times k, but the network's last layer when it is the classifier */
static void widen(em_arch *a, int k, bool top) {
    int last = -1;
    for (int i = 0; top && i < a->n; i++)
        if (a->v[i].kind == A_CONV || a->v[i].kind == A_FC) last = i;
    for (int i = 0; i < a->n; i++) {
        arch_node *n = &a->v[i];
        if (n->branch) widen(n->branch, k, false);
        if (n->shortcut) widen(n->shortcut, k, false);
        if ((n->kind == A_CONV || n->kind == A_FC) && !(i == last && n->kind == A_FC)) {
            n->n *= k;
            em_arch_token(n, n->token, sizeof n->token);
        }
    }
}

/* ---- shapes ------------------------------------------------------------------------------ */

static void shape_str(const int s[3], char *buf, size_t len) {
    if (s[1]) snprintf(buf, len, "(%d, %d, %d)", s[0], s[1], s[2]);
    else snprintf(buf, len, "(%d)", s[0]);
}

/* "layer 5 (res), branch layer 2 (conv32)" */
typedef struct where {
    const struct where *up;
    const char *part;    /* "" at the top, "branch", "shortcut" */
    int index;
    const char *token;
} where;

static int where_str(const where *w, char *buf, size_t len) {
    int at = w->up ? where_str(w->up, buf, len) : 0;
    if ((size_t)at >= len) return at;
    return at + snprintf(buf + at, len - at, "%s%s%slayer %d (%s)", at ? ", " : "", w->part,
                         *w->part ? " " : "", w->index, w->token);
}

static em_code bad(const where *w, em_error *err, const char *fmt, const int s[3],
                   const int t[3]) {
    char place[256], a[48] = "", b[48] = "", msg[256];
    where_str(w, place, sizeof place);
    if (s) shape_str(s, a, sizeof a);
    if (t) shape_str(t, b, sizeof b);
    snprintf(msg, sizeof msg, fmt, a, b);
    return em_error_set(err, EM_ERR_ARG, "%s: %s", place, msg);
}

static bool resolve_seq(em_arch *a, int s[3], const where *up, const char *part, em_error *err);

/* the message (a format for the branch's and the input's shapes) for a residual block
 * whose branch b does not keep the shape of its input t, with a shortcut that would fit:
 * a linear layer on features, on images a 1x1 convolution of the stride that gives the
 * branch's size (which resCsS makes too), where there is one */
static void shortcut_hint(const int b[3], const int t[3], char *msg, size_t len) {
    int at = snprintf(msg, len, "the branch gives %%s but the input is %%s: ");
    if (!b[1] && !t[1]) {
        snprintf(msg + at, len - at, "give a shortcut, as res( ... | fc%d bn )", b[0]);
        return;
    }
    for (int s = 1; b[1] && t[1] && s <= 16; s++)
        if ((t[1] - 1) / s + 1 == b[1] && (t[2] - 1) / s + 1 == b[2]) {
            snprintf(msg + at, len - at, "give a shortcut, as res( ... | conv%dk1s%dp0 bn ), or "
                     "use res%ds%d, which makes one", b[0], s, b[0], s);
            return;
        }
    snprintf(msg + at, len - at, "give a shortcut that gives the branch's shape");
}

/* a node's output shape from s (updated), checked */
static bool resolve_node(arch_node *n, int s[3], const where *w, em_error *err) {
    const bool image = s[1] > 0;
    memcpy(n->in, s, sizeof n->in);
    switch (n->kind) {
    case A_CONV: {
        if (!image) return bad(w, err, "its input is %s, flat: a convolution needs an image (C, H, W)", s, NULL), false;
        if (s[1] + 2 * n->p < n->k || s[2] + 2 * n->p < n->k)
            return bad(w, err, "the kernel is larger than the padded input %s", s, NULL), false;
        int o[3] = {n->n, (s[1] + 2 * n->p - n->k) / n->s + 1, (s[2] + 2 * n->p - n->k) / n->s + 1};
        memcpy(s, o, sizeof o);
        break;
    }
    case A_FC:
        if (image) return bad(w, err, "its input is %s, not flat: a linear layer takes features (F); put flatten or gap before it", s, NULL), false;
        s[0] = n->n;
        break;
    case A_NORM:
        if (n->norm == N_GN && s[0] % n->groups) {
            char msg[96];
            snprintf(msg, sizeof msg, "its input is %%s: %d channels do not split into %d groups",
                     s[0], n->groups);
            return bad(w, err, msg, s, NULL), false;
        }
        if (n->norm == N_IN && !image)
            return bad(w, err, "its input is %s, flat: instance norm needs an image (C, H, W)", s, NULL), false;
        if (n->norm == N_GN || n->norm == N_LN || n->norm == N_IN) {
            /* statistics of one example: a group of one value normalizes to 0 */
            int groups = n->norm == N_GN ? n->groups : n->norm == N_IN ? s[0] : 1;
            long values = (long)(s[0] / groups) * (image ? (long)s[1] * s[2] : 1);
            if (values < 2) {
                char msg[160];
                snprintf(msg, sizeof msg, "its input is %%s: each of its %d group(s) holds one "
                         "value of an example, which normalizes to 0: use bn here, or fewer "
                         "groups", groups);
                return bad(w, err, msg, s, NULL), false;
            }
        }
        break;
    case A_MAXPOOL:
    case A_AVGPOOL:
        if (!image) return bad(w, err, "its input is %s, flat: pooling needs an image (C, H, W)", s, NULL), false;
        if (s[1] < n->k || s[2] < n->k) return bad(w, err, "the window is larger than the input %s", s, NULL), false;
        s[1] = (s[1] - n->k) / n->s + 1;
        s[2] = (s[2] - n->k) / n->s + 1;
        break;
    case A_GAP:
        if (!image) return bad(w, err, "its input is %s, flat: global average pooling needs an image", s, NULL), false;
        s[1] = s[2] = 0;
        break;
    case A_FLATTEN:
        if (image) s[0] *= s[1] * s[2], s[1] = s[2] = 0;
        break;
    case A_ACT:
    case A_DROPOUT:
        break;
    case A_RES: {
        int b[3], t[3];
        memcpy(b, s, sizeof b);
        memcpy(t, s, sizeof t);
        if (!resolve_seq(n->branch, b, w, "branch", err)) return false;
        if (n->auto_shortcut && memcmp(b, s, sizeof b)) {  /* a 1x1 projection and a norm */
            int stride = n->s;
            n->shortcut = calloc(1, sizeof *n->shortcut);
            arch_node conv = {.kind = A_CONV, .line = n->line, .col = n->col, .n = b[0], .k = 1,
                              .s = stride, .p = 0};
            arch_node nrm = n->branch->v[n->branch->n - 1];  /* the branch's last norm */
            em_arch_token(&conv, conv.token, sizeof conv.token);
            if (!n->shortcut || !em_arch_push(n->shortcut, &conv) ||
                (nrm.kind == A_NORM && !em_arch_push(n->shortcut, &nrm)))
                return em_error_set(err, EM_ERR_NOMEM, "out of memory"), false;
        }
        n->auto_shortcut = false;
        if (n->shortcut && !resolve_seq(n->shortcut, t, w, "shortcut", err)) return false;
        if (memcmp(b, t, sizeof b)) {
            char msg[256];
            if (n->shortcut) snprintf(msg, sizeof msg, "the branch gives %%s but the shortcut gives %%s: they must agree");
            else shortcut_hint(b, t, msg, sizeof msg);
            return bad(w, err, msg, b, t), false;
        }
        memcpy(s, b, sizeof b);
        break;
    }
    }
    memcpy(n->out, s, sizeof n->out);
    return true;
}

static bool resolve_seq(em_arch *a, int s[3], const where *up, const char *part, em_error *err) {
    for (int i = 0; i < a->n; i++) {
        arch_node *n = &a->v[i];
        n->bias = i + 1 < a->n && a->v[i + 1].kind == A_NORM ? false : true;
        where w = {up, part, i + 1, n->token};
        if (!resolve_node(n, s, &w, err)) return false;
    }
    return true;
}

em_arch *em_arch_resolve(const em_arch *a, const int chw[3], const em_arch_opts *o,
                         em_error *err) {
    em_arch *r = em_arch_copy(a);
    if (!r) return em_error_set(err, EM_ERR_NOMEM, "out of memory"), NULL;
    if (o->norm) {
        norm_kind kind = N_BN;
        int groups = 0;
        bool none;
        if (!norm_of(o->norm, &kind, &groups, &none)) {
            em_arch_check_norm(o->norm, err);
            em_arch_free(r);
            return NULL;
        }
        replace_norms(r, kind, groups, none);
    }
    if (o->norm_after >= 0) place_norms(r, o->norm_after);
    if (o->width > 1) widen(r, o->width, true);
    int s[3] = {chw[0], chw[1], chw[2]};
    if (!resolve_seq(r, s, NULL, "", err)) {
        em_arch_free(r);
        return NULL;
    }
    return r;
}

long em_arch_node_params(const arch_node *n) {
    long c = n->in[0];
    switch (n->kind) {
    case A_CONV: return (long)n->n * c * n->k * n->k + (n->bias ? n->n : 0);
    case A_FC: return (long)n->n * c + (n->bias ? n->n : 0);
    case A_NORM: return 2 * c;  /* gamma and beta per channel (per feature) */
    case A_RES: {
        long t = 0;
        for (int i = 0; i < n->branch->n; i++) t += em_arch_node_params(&n->branch->v[i]);
        for (int i = 0; n->shortcut && i < n->shortcut->n; i++)
            t += em_arch_node_params(&n->shortcut->v[i]);
        return t;
    }
    default: return 0;
    }
}

/* ---- modules ---------------------------------------------------------------------------- */

static em_module *build_seq(const em_arch *a, const em_arch_opts *o);

static em_module *build_norm(const arch_node *n, const em_arch_opts *o) {
    int c = n->in[0];
    bool image = n->in[1] > 0;
    em_bn_opts bn = o->bn;
    switch (n->norm) {
    case N_BRN: bn.renorm = true; /* fall through */
    case N_BN: return image ? em_batchnorm2d_new(c, &bn) : em_batchnorm1d_new(c, &bn);
    case N_GN: return em_groupnorm_new(n->groups, c, &o->gn);
    case N_LN: return em_layernorm_new(c, &o->gn);
    case N_IN: return em_instancenorm_new(c, &o->gn);
    }
    return NULL;
}

static em_module *build_node(const arch_node *n, const em_arch_opts *o) {
    switch (n->kind) {
    case A_CONV: return em_conv2d_new(n->in[0], n->n, n->k, n->s, n->p, n->bias);
    case A_FC: return em_linear_new(n->in[0], n->n, n->bias);
    case A_NORM: return build_norm(n, o);
    case A_ACT:
        return !strcmp(n->act, "relu") ? em_relu_new()
               : !strcmp(n->act, "sigmoid") ? em_sigmoid_new() : em_tanh_new();
    case A_MAXPOOL: return em_maxpool2d_new(n->k, n->s);
    case A_AVGPOOL: return em_avgpool2d_new(n->k, n->s);
    case A_GAP: return em_global_avgpool_new();
    case A_FLATTEN: return em_flatten_new();
    case A_DROPOUT: return em_dropout_new(n->drop);
    case A_RES:
        return em_residual_new(build_seq(n->branch, o), n->shortcut ? build_seq(n->shortcut, o) : NULL);
    }
    return NULL;
}

/* a Sequential of the nodes (em_sequential_new frees them all if one is NULL) */
static em_module *build_seq(const em_arch *a, const em_arch_opts *o) {
    em_module **mods = calloc((size_t)a->n, sizeof *mods);
    if (!mods) return NULL;
    for (int i = 0; i < a->n; i++) mods[i] = build_node(&a->v[i], o);
    em_module *seq = em_sequential_new(a->n, mods);
    free(mods);
    return seq;
}

em_module *em_arch_build(const em_arch *a, const int chw[3], const em_arch_opts *o,
                         em_error *err) {
    em_arch *r = em_arch_resolve(a, chw, o, err);
    if (!r) return NULL;
    em_module *net = build_seq(r, o);
    em_arch_free(r);
    if (!net) em_error_set(err, EM_ERR_NOMEM, "out of memory building the network");
    return net;
}

em_code em_arch_output(const em_arch *a, const int chw[3], const em_arch_opts *o, int out[3],
                       em_error *err) {
    em_arch *r = em_arch_resolve(a, chw, o, err);
    if (!r) return err->code;
    memcpy(out, r->n ? r->v[r->n - 1].out : chw, 3 * sizeof *out);
    em_arch_free(r);
    return EM_OK;
}

/* ---- the file form ------------------------------------------------------------------------ */

/* the tokens of a sequence, blocks inline: "conv16 bn relu res(conv16 bn relu conv16 bn)",
 * written whole however long a block is; the characters written */
static long seq_text(const em_arch *a, FILE *out) {
    long at = 0;
    for (int i = 0; i < a->n; i++) {
        const arch_node *n = &a->v[i];
        if (i) at += fprintf(out, " ");
        if (n->kind != A_RES) {
            char t[40];
            em_arch_token(n, t, sizeof t);
            at += fprintf(out, "%s", t);
            continue;
        }
        at += fprintf(out, "res(");
        at += seq_text(n->branch, out);
        if (n->shortcut) {
            at += fprintf(out, " | ");
            at += seq_text(n->shortcut, out);
        }
        at += fprintf(out, ")");
    }
    return at;
}

/* 1234567 as "1,234,567" */
static void grouped(long v, char *buf, size_t len) {
    char d[32];
    int n = snprintf(d, sizeof d, "%ld", v), at = 0;
    for (int i = 0; i < n && (size_t)at + 2 < len; i++) {
        if (i && (n - i) % 3 == 0) buf[at++] = ',';
        buf[at++] = d[i];
    }
    buf[at] = 0;
}

em_code em_arch_print(const em_arch *a, const int chw[3], const em_arch_opts *o,
                      const char *name, FILE *out, em_error *err) {
    em_arch *r = em_arch_resolve(a, chw, o, err);
    if (!r) return err->code;
    fprintf(out, "# %s%sinput (%d, %d, %d): one layer a line, # its output shape and "
            "parameters\n", name ? name : "", name ? ", " : "", chw[0], chw[1], chw[2]);
    long total = 0;
    for (int i = 0; i < r->n; i++) {
        char shape[48], params[32] = "";
        em_arch one = {.n = 1, .v = &r->v[i]};
        long len = seq_text(&one, out);
        shape_str(r->v[i].out, shape, sizeof shape);
        long p = em_arch_node_params(&r->v[i]);
        total += p;
        if (p) grouped(p, params, sizeof params);
        fprintf(out, "%*s", len < 24 ? (int)(24 - len) : 0, "");   /* as %-24s */
        if (p) fprintf(out, " # %-16s %10s\n", shape, params);
        else fprintf(out, " # %s\n", shape);
    }
    char t[32];
    grouped(total, t, sizeof t);
    fprintf(out, "# %s parameters\n", t);
    em_arch_free(r);
    return EM_OK;
}

em_code em_arch_identity(const em_arch *a, const int chw[3], const em_arch_opts *o,
                         uint64_t *id, em_error *err) {
    em_arch *r = em_arch_resolve(a, chw, o, err);
    if (!r) return err->code;
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (m) {
        fprintf(m, "%d %d %d: ", chw[0], chw[1], chw[2]);
        seq_text(r, m);
    }
    em_arch_free(r);
    if (!m || fclose(m) != 0 || !text) {
        free(text);
        return em_error_set(err, EM_ERR_NOMEM, "out of memory");
    }
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
    free(text);
    *id = h;
    return EM_OK;
}

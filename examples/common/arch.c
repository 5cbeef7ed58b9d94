/* examples/common/arch.c — the architecture language's parser (arch.h): a spec in, the
 * sequence of layers out, or a message that points at the column where it went wrong.
 *
 *   spec  := item*                          items apart by white space; # to end of line
 *   item  := [COUNT '*'] unit               COUNT copies of the unit
 *   unit  := '(' spec ')'                   a group (to repeat)
 *          | 'res' '(' spec ['|' spec] ')'  a residual block: branch | shortcut
 *          | layer
 *   layer := conv C [k K] [s S] [p P] | fc N | bn | brn | gn:G | ln | in
 *          | relu | sigmoid | tanh | pool K [s S] | maxpool K [s S] | avgpool K [s S]
 *          | gap | flatten | dropout:P | res C [s S]
 */
#include "arch_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the sequence --------------------------------------------------------------------- */

static void arch_clear(em_arch *a) {
    for (int i = 0; i < a->n; i++) {
        em_arch_free(a->v[i].branch);
        em_arch_free(a->v[i].shortcut);
    }
    free(a->v);
}

void em_arch_free(em_arch *a) {
    if (!a) return;
    arch_clear(a);
    free(a);
}

bool em_arch_push(em_arch *a, const arch_node *node) {
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 16;
        arch_node *v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v) return false;
        a->v = v;
        a->cap = cap;
    }
    arch_node c = *node;
    c.branch = node->branch ? em_arch_copy(node->branch) : NULL;
    c.shortcut = node->shortcut ? em_arch_copy(node->shortcut) : NULL;
    if ((node->branch && !c.branch) || (node->shortcut && !c.shortcut)) {
        em_arch_free(c.branch);
        em_arch_free(c.shortcut);
        return false;
    }
    a->v[a->n++] = c;
    return true;
}

em_arch *em_arch_copy(const em_arch *a) {
    em_arch *c = calloc(1, sizeof *c);
    for (int i = 0; c && i < a->n; i++)
        if (!em_arch_push(c, &a->v[i])) {
            em_arch_free(c);
            return NULL;
        }
    return c;
}

/* ---- the parser ----------------------------------------------------------------------- */

/* a network's layers at most, those inside residual blocks counted: repetitions of nested
 * blocks multiply, and a short spec must not ask for more memory than the machine has */
#define MAX_LAYERS 100000
#define TOO_MANY "more than 100000 layers (counting those inside residual blocks)"

typedef struct parser {
    const char *s, *where;
    size_t at;
    int line;
    size_t line_start;
    bool lines;       /* the text has several lines: messages say line and column */
    em_error *err;
    int depth;
} parser;

static int col_of(const parser *p, size_t at) { return (int)(at - p->line_start) + 1; }

/* EM_ERR_ARG "WHERE: [line L, ]column C: MESSAGE" for the text at `at` */
static em_code fail_at(parser *p, size_t at, const char *msg, const char *found) {
    char place[48];
    if (p->lines) snprintf(place, sizeof place, "line %d, column %d", p->line, col_of(p, at));
    else snprintf(place, sizeof place, "column %d", col_of(p, at));
    if (found)
        return em_error_set(p->err, EM_ERR_ARG, "%s: %s: %s, got '%s'", p->where, place, msg,
                            found);
    return em_error_set(p->err, EM_ERR_ARG, "%s: %s: %s", p->where, place, msg);
}

/* fail_at, as the false that the parsing functions return */
static bool fail(parser *p, size_t at, const char *msg, const char *found) {
    fail_at(p, at, msg, found);
    return false;
}

static bool nomem(parser *p) {
    em_error_set(p->err, EM_ERR_NOMEM, "out of memory");
    return false;
}

/* skip white space and comments, counting lines */
static void skip(parser *p) {
    for (;;) {
        char c = p->s[p->at];
        if (c == '\n') {
            p->at++;
            p->line++;
            p->line_start = p->at;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            p->at++;
        } else if (c == '#') {
            while (p->s[p->at] && p->s[p->at] != '\n') p->at++;
        } else {
            return;
        }
    }
}

static bool word_char(char c) { return isalnum((unsigned char)c) || c == ':' || c == '.'; }

/* a whole number of at most 6 digits at *t, advanced past it; -1 when there is none */
static long number(const char **t) {
    if (!isdigit((unsigned char)**t)) return -1;
    long v = 0;
    int digits = 0;
    while (isdigit((unsigned char)**t)) {
        if (++digits > 6) return -2;
        v = v * 10 + (*(*t)++ - '0');
    }
    return v;
}

/* the suffixes k K, s S, p P (as allowed by `which`), in that order, after a layer's
 * number; false with the message when one is bad */
static bool suffixes(parser *p, size_t at, const char *t, const char *which, arch_node *n) {
    static const char *const names[] = {"k", "s", "p"};
    int *dst[] = {&n->k, &n->s, &n->p};
    const int lo[] = {1, 1, 0}, hi[] = {31, 16, 31};
    for (int i = 0; i < 3 && *t; i++) {
        if (*t != names[i][0] || !strchr(which, *t)) continue;
        const char *start = t++;
        long v = number(&t);
        if (v < lo[i] || v > hi[i]) {
            char msg[96];
            snprintf(msg, sizeof msg, "'%c' in '%s' needs a number from %d to %d", *start,
                     n->token, lo[i], hi[i]);
            fail_at(p, at, msg, NULL);
            return false;
        }
        *dst[i] = (int)v;
    }
    if (*t) {
        char msg[128];
        snprintf(msg, sizeof msg, "'%s' has '%s' after its number (%s)", n->token, t,
                 strchr(which, 'p') ? "k, s and p may follow: conv32k5s2p0"
                                    : "only s may follow: maxpool3s2");
        fail_at(p, at, msg, NULL);
        return false;
    }
    return true;
}

/* a layer token into n; false after the message */
static bool layer(parser *p, size_t at, const char *w, arch_node *n) {
    static const char *const acts[] = {"relu", "sigmoid", "tanh"};
    static const char *const norms[] = {"bn", "brn", "ln", "in"};
    static const norm_kind nk[] = {N_BN, N_BRN, N_LN, N_IN};
    snprintf(n->token, sizeof n->token, "%s", w);
    for (int i = 0; i < 3; i++)
        if (!strcmp(w, acts[i])) {
            n->kind = A_ACT;
            snprintf(n->act, sizeof n->act, "%s", acts[i]);
            return true;
        }
    for (int i = 0; i < 4; i++)
        if (!strcmp(w, norms[i])) {
            n->kind = A_NORM;
            n->norm = nk[i];
            return true;
        }
    if (!strcmp(w, "gap") || !strcmp(w, "flatten")) {
        n->kind = !strcmp(w, "gap") ? A_GAP : A_FLATTEN;
        return true;
    }
    if (!strncmp(w, "gn:", 3)) {
        const char *t = w + 3;
        long g = number(&t);
        if (g < 1 || *t) return fail(p, at, "gn needs its number of groups, as in gn:4", w);
        n->kind = A_NORM;
        n->norm = N_GN;
        n->groups = (int)g;
        return true;
    }
    if (!strncmp(w, "dropout:", 8)) {
        char *end;
        errno = 0;
        n->drop = strtod(w + 8, &end);
        if (errno || end == w + 8 || *end || !(n->drop >= 0 && n->drop < 1))
            return fail(p, at, "dropout needs a probability in [0, 1), as in dropout:0.5", w);
        n->kind = A_DROPOUT;
        return true;
    }
    static const struct { const char *name; arch_kind kind; const char *suffixes; } numbered[] = {
        {"conv", A_CONV, "ksp"}, {"fc", A_FC, ""}, {"maxpool", A_MAXPOOL, "s"},
        {"avgpool", A_AVGPOOL, "s"}, {"pool", A_MAXPOOL, "s"}, {"res", A_RES, "s"}};
    for (size_t i = 0; i < sizeof numbered / sizeof numbered[0]; i++) {
        size_t len = strlen(numbered[i].name);
        if (strncmp(w, numbered[i].name, len) || (w[len] && !isdigit((unsigned char)w[len])))
            continue;
        const char *t = w + len;
        long v = number(&t);
        bool pool = numbered[i].kind == A_MAXPOOL || numbered[i].kind == A_AVGPOOL;
        long max = pool ? 64 : 65536;
        if (v < 1 || v > max) {
            char msg[96];
            snprintf(msg, sizeof msg, "'%s' needs %s from 1 to %ld, as in %s%s", numbered[i].name,
                     pool ? "its window" : numbered[i].kind == A_FC ? "its outputs" : "its channels",
                     max, numbered[i].name, pool ? "2" : "16");
            return fail(p, at, msg, w);
        }
        n->kind = numbered[i].kind;
        n->n = pool ? 0 : (int)v;
        n->k = pool ? (int)v : 3;
        n->s = pool ? (int)v : 1;
        n->p = -1;  /* conv: k / 2, unless given */
        if (!suffixes(p, at, t, numbered[i].suffixes, n)) return false;
        if (n->kind == A_CONV && n->p < 0) n->p = n->k / 2;
        if (n->kind == A_RES) n->auto_shortcut = true;
        return true;
    }
    return fail(p, at, "expected a layer (conv16, fc10, bn, brn, gn:4, ln, in, relu, sigmoid, "
                          "tanh, pool2, avgpool2, gap, flatten, dropout:0.5, res16, res( ... ), "
                          "N*item, ( ... ))", w);
}

static bool seq(parser *p, em_arch *out, const char *ends, long room, long *made);

/* the layers of a sequence, those inside its residual blocks included */
static long deep_size(const em_arch *a) {
    long n = a ? a->n : 0;
    for (int i = 0; a && i < a->n; i++)
        n += deep_size(a->v[i].branch) + deep_size(a->v[i].shortcut);
    return n;
}

/* resC sS, He et al.'s basic block: the branch convC sS, bn, relu, convC, bn (the shortcut
 * made when the spec is resolved, a 1x1 projection where the branch changes the shape);
 * relu, the ReLU after the sum, follows it */
static bool expand_res(arch_node *n, arch_node *relu) {
    arch_node conv1 = {.kind = A_CONV, .line = n->line, .col = n->col, .n = n->n, .k = 3,
                       .s = n->s, .p = 1};
    arch_node conv2 = conv1, bn = {.kind = A_NORM, .line = n->line, .col = n->col, .norm = N_BN};
    arch_node act = {.kind = A_ACT, .line = n->line, .col = n->col};
    conv2.s = 1;
    snprintf(act.act, sizeof act.act, "relu");
    em_arch_token(&conv1, conv1.token, sizeof conv1.token);
    em_arch_token(&conv2, conv2.token, sizeof conv2.token);
    snprintf(bn.token, sizeof bn.token, "bn");
    snprintf(act.token, sizeof act.token, "relu");
    n->branch = calloc(1, sizeof *n->branch);
    *relu = act;
    return n->branch && em_arch_push(n->branch, &conv1) && em_arch_push(n->branch, &bn) &&
           em_arch_push(n->branch, &act) && em_arch_push(n->branch, &conv2) &&
           em_arch_push(n->branch, &bn);
}

/* a residual block after "res(": branch [| shortcut] ), of at most room layers with the
 * block itself */
static bool residual(parser *p, size_t at, arch_node *n, long room) {
    long used = 0;
    n->kind = A_RES;
    snprintf(n->token, sizeof n->token, "res(...)");
    n->branch = calloc(1, sizeof *n->branch);
    if (!n->branch) return nomem(p);
    if (!seq(p, n->branch, ")|", room - 1, &used)) return false;
    if (!n->branch->n) return fail(p, at, "the residual block's branch has no layer", NULL);
    if (p->s[p->at] == '|') {
        size_t bar = p->at++;
        n->shortcut = calloc(1, sizeof *n->shortcut);
        if (!n->shortcut) return nomem(p);
        if (!seq(p, n->shortcut, ")", room - 1 - used, &used)) return false;
        if (!n->shortcut->n)
            return fail(p, bar, "nothing after '|': give the shortcut's layers, or leave "
                                   "out '|' for the identity", NULL);
    }
    if (p->s[p->at] != ')') return fail(p, at, "'res(' is never closed", NULL);
    p->at++;
    return true;
}

/* the character at s for a message: a UTF-8 sequence whole (its first byte alone is not
 * text), a control or stray byte as \xNN */
static void one_char(const char *s, char *buf, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    int n = u[0] >= 0xf0 && u[0] < 0xf8 ? 4 : u[0] >= 0xe0 ? 3 : u[0] >= 0xc2 ? 2 : 1;
    for (int i = 1; i < n; i++)
        if ((u[i] & 0xc0) != 0x80) n = 1;   /* cut short: not a sequence */
    if (n == 1 && (u[0] < 0x20 || u[0] >= 0x7f)) snprintf(buf, len, "\\x%02x", u[0]);
    else snprintf(buf, len, "%.*s", n, s);
}

/* one item (with its repetition) appended to out: at most room layers, counting those
 * inside residual blocks (*made says how many) */
static bool item(parser *p, em_arch *out, long room, long *made) {
    size_t at = p->at;
    long count = 1;
    const char *t = p->s + p->at;
    if (isdigit((unsigned char)*t)) {
        count = number(&t);
        if (*t != '*') return fail(p, at, "a number starts an item only as a count, as in 3*res16", NULL);
        if (count < 1 || count > 1000) return fail(p, at, "the count is from 1 to 1000", NULL);
        p->at = (size_t)(t + 1 - p->s);
        skip(p);
    }
    size_t uat = p->at;
    em_arch unit = {0};
    bool ok;
    if (p->s[p->at] == '(') {
        p->at++;
        long unused;
        ok = seq(p, &unit, ")", room, &unused);
        if (ok && p->s[p->at] != ')') ok = fail(p, uat, "'(' is never closed", NULL);
        if (ok && !unit.n) ok = fail(p, uat, "an empty group '()'", NULL);
        if (ok) p->at++;
    } else {
        char w[40];
        size_t len = 0;
        while (word_char(p->s[p->at + len]) && len + 2 < sizeof w) len++;   /* 38 at most */
        if (!len) {
            char c[8];
            one_char(p->s + p->at, c, sizeof c);
            arch_clear(&unit);
            return fail(p, uat, count > 1 || uat != at ? "expected a layer or '(' after the count"
                                                          : "expected a layer", c);
        }
        if (word_char(p->s[p->at + len]))
            return fail(p, uat, "a token of more than 38 characters", NULL);
        memcpy(w, p->s + p->at, len);
        w[len] = 0;
        p->at += len;
        arch_node n = {.line = p->line, .col = col_of(p, uat)};
        if (!strcmp(w, "res")) {
            skip(p);
            if (p->s[p->at] != '(')
                return fail(p, uat, "'res' needs '(' for a block of your own or its channels, "
                                       "as in res16", NULL);
            p->at++;
            ok = residual(p, uat, &n, room);
        } else {
            ok = layer(p, uat, w, &n);
        }
        arch_node after = {.kind = A_FLATTEN};  /* the ReLU after resC: a kind it is not */
        if (ok && n.kind == A_RES && n.auto_shortcut && !expand_res(&n, &after))
            ok = nomem(p);
        if (ok && !em_arch_push(&unit, &n)) ok = nomem(p);
        if (ok && after.kind == A_ACT && !em_arch_push(&unit, &after))
            ok = nomem(p);
        em_arch_free(n.branch);
        em_arch_free(n.shortcut);
    }
    long each = ok ? deep_size(&unit) : 0;
    if (ok && count * each > room) ok = fail(p, at, TOO_MANY, NULL);
    *made = count * each;
    for (long r = 0; ok && r < count; r++)
        for (int i = 0; ok && i < unit.n; i++)
            if (!em_arch_push(out, &unit.v[i])) ok = nomem(p);
    arch_clear(&unit);
    return ok;
}

/* items until the end of the text or a character of ends (left for the caller): at most
 * room layers, counting those inside residual blocks; *made says how many */
static bool seq(parser *p, em_arch *out, const char *ends, long room, long *made) {
    *made = 0;
    if (++p->depth > 32) return fail(p, p->at, "nested more than 32 deep", NULL);
    for (;;) {
        skip(p);
        char c = p->s[p->at];
        if (!c || (*ends && strchr(ends, c))) break;
        if (c == ')' || c == '|') {
            char f[2] = {c, 0};
            return fail(p, p->at, "unexpected", f);
        }
        long added;
        if (!item(p, out, room - *made, &added)) return false;
        *made += added;
    }
    p->depth--;
    return true;
}

em_code em_arch_parse(const char *text, const char *where, em_arch **out, em_error *err) {
    *out = NULL;
    parser p = {.s = text, .where = where, .line = 1, .lines = strchr(text, '\n') != NULL,
                .err = err};
    em_arch *a = calloc(1, sizeof *a);
    if (!a) return em_error_set(err, EM_ERR_NOMEM, "out of memory");
    long made;
    if (!seq(&p, a, "", MAX_LAYERS, &made)) {
        em_arch_free(a);
        return err->code;
    }
    if (!a->n) {
        em_arch_free(a);
        return em_error_set(err, EM_ERR_ARG, "%s: the spec has no layer", where);
    }
    *out = a;
    return EM_OK;
}

/* "dropout:P" with the shortest P that reads back to the same double, in the form the
 * parser takes (digits and a point: no exponent, so 1e-07 is written 0.0000001) */
static void dropout_token(double p, char *buf, size_t len) {
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, len, "dropout:%.*g", digits, p);
        if (!strchr(buf, 'e') && strtod(buf + 8, NULL) == p) return;
    }
    for (int decimals = 1; decimals <= 30; decimals++) {
        snprintf(buf, len, "dropout:%.*f", decimals, p);
        if (strtod(buf + 8, NULL) == p) break;
    }
    if (strlen(buf) > 38)   /* a token's most: as it was typed, ".000...1" */
        memmove(buf + 8, buf + 9, strlen(buf + 9) + 1);
}

void em_arch_token(const arch_node *n, char *buf, size_t len) {
    switch (n->kind) {
    case A_CONV: {
        int at = snprintf(buf, len, "conv%d", n->n);
        if (n->k != 3) at += snprintf(buf + at, len - at, "k%d", n->k);
        if (n->s != 1) at += snprintf(buf + at, len - at, "s%d", n->s);
        if (n->p != n->k / 2) snprintf(buf + at, len - at, "p%d", n->p);
        return;
    }
    case A_FC: snprintf(buf, len, "fc%d", n->n); return;
    case A_NORM: {
        static const char *const names[] = {"bn", "brn", "gn", "ln", "in"};
        if (n->norm == N_GN) snprintf(buf, len, "gn:%d", n->groups);
        else snprintf(buf, len, "%s", names[n->norm]);
        return;
    }
    case A_ACT: snprintf(buf, len, "%s", n->act); return;
    case A_MAXPOOL:
    case A_AVGPOOL: {
        int at = snprintf(buf, len, "%s%d", n->kind == A_MAXPOOL ? "maxpool" : "avgpool", n->k);
        if (n->s != n->k) snprintf(buf + at, len - at, "s%d", n->s);
        return;
    }
    case A_GAP: snprintf(buf, len, "gap"); return;
    case A_FLATTEN: snprintf(buf, len, "flatten"); return;
    case A_DROPOUT: dropout_token(n->drop, buf, len); return;
    case A_RES: snprintf(buf, len, "res"); return;
    }
}

/* ---- the file form on disk ------------------------------------------------------------ */

em_code em_arch_read_file(const char *path, char *buf, size_t len, em_error *err) {
    struct stat st;
    if (stat(path, &st) != 0) return em_error_set(err, EM_ERR_ARG, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return em_error_set(err, EM_ERR_ARG, "%s: not a regular file", path);
    if ((unsigned long long)st.st_size >= len)
        return em_error_set(err, EM_ERR_ARG, "%s: %lld bytes, more than the %zu an architecture "
                            "file may have", path, (long long)st.st_size, len - 1);
    FILE *f = fopen(path, "rb");
    if (!f) return em_error_set(err, EM_ERR_ARG, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, len - 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    buf[n] = '\0';
    if (failed) return em_error_set(err, EM_ERR_ARG, "%s: cannot be read", path);
    if (memchr(buf, '\0', n)) return em_error_set(err, EM_ERR_ARG, "%s: holds a NUL byte, not text", path);
    return EM_OK;
}

/* examples/common/outputs.c — the programs' outputs checked before the run (outputs.h). */
#include "outputs.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/wfile.h"

typedef struct named { const char *option, *path; } named;

/* how many files a run can write: outputs_of's list (an array of fewer overflowed when
 * --confusion joined the list with all four given) */
#define MAX_OUTPUTS 5

/* the files the run writes (n returned, at most MAX_OUTPUTS) */
static int outputs_of(const em_config *c, named out[MAX_OUTPUTS]) {
    int n = 0;
    if (c->save[0] && !c->eval_only) out[n++] = (named){"--save", c->save};
    if (c->metrics[0] && !c->eval_only) out[n++] = (named){"--metrics", c->metrics};
    if (c->predictions[0]) out[n++] = (named){"--predictions", c->predictions};
    if (c->confusion[0]) out[n++] = (named){"--confusion", c->confusion};
    if (c->dot[0]) out[n++] = (named){"--dot", c->dot};   /* written with --eval too */
    return n;
}

/* the directory part and the name part of a path, the name without any directory */
static const char *base_of(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* a and b are, or would be, the same file: the same file now, or two names in the same
 * directory (by device and inode) that do not exist yet */
static bool same_target(const char *a, const char *b) {
    if (!strcmp(a, b) || em_same_file(a, b)) return true;
    if (strcmp(base_of(a), base_of(b))) return false;
    char da[EM_PATH_MAX], db[EM_PATH_MAX];
    snprintf(da, sizeof da, "%.*s", (int)(base_of(a) - a), a);
    snprintf(db, sizeof db, "%.*s", (int)(base_of(b) - b), b);
    return em_same_file(da[0] ? da : ".", db[0] ? db : ".");
}

/* output o against the input `in` of option `opt` (NULL: a data file): err on a clash */
static em_code clash(const named *o, const char *opt, const char *in, em_error *err) {
    char tmp[EM_PATH_MAX + 8], what[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", o->path);
    if (!strcmp(o->option, "--save") && opt && !strcmp(opt, "--resume"))
        return EM_OK;   /* a resumed run replaces the checkpoint it continues */
    snprintf(what, sizeof what, opt ? "the file %s reads" : "one of the data files", opt);
    if (same_target(o->path, in))
        return em_error_set(err, EM_ERR_ARG, "%s %s: that is %s; an output must not "
                            "overwrite an input (give another path)", o->option, o->path, what);
    if (same_target(tmp, in))
        return em_error_set(err, EM_ERR_ARG, "%s %s: its temporary file %s is %s (give "
                            "another path)", o->option, o->path, tmp, what);
    return EM_OK;
}

em_code em_outputs_check(const em_config *c, em_error *err) {
    named out[MAX_OUTPUTS];
    int n = outputs_of(c, out);
    for (int i = 0; i < n; i++) {
        em_error e;
        if (em_output_check(out[i].path, &e) != EM_OK)
            return em_error_set(err, EM_ERR_ARG, "%s %s", out[i].option, e.msg);
        for (int j = 0; j < i; j++) {
            if (same_target(out[i].path, out[j].path))
                return em_error_set(err, EM_ERR_ARG, "%s and %s name the same file (%s): each "
                                    "output needs its own", out[j].option, out[i].option,
                                    out[i].path);
            for (int k = 0; k < 2; k++) {   /* one output where the other writes its .tmp */
                const named *a = &out[k ? j : i], *b = &out[k ? i : j];
                char tmp[EM_PATH_MAX + 8];
                snprintf(tmp, sizeof tmp, "%s.tmp", b->path);
                if (same_target(a->path, tmp))
                    return em_error_set(err, EM_ERR_ARG, "%s %s is where %s writes its "
                                        "temporary file (give another path)", a->option,
                                        a->path, b->option);
            }
        }
        em_code code = EM_OK;
        if (c->resume[0]) code = clash(&out[i], "--resume", c->resume, err);
        if (!code && c->load[0]) code = clash(&out[i], "--load", c->load, err);
        if (!code && c->arch_file[0]) code = clash(&out[i], "--arch", c->arch_file, err);
        if (code) return code;
    }
    return EM_OK;
}

static em_code check_files(const named *out, int n, const char *files, em_error *err) {
    for (const char *f = files; f && *f;) {
        size_t len = strcspn(f, "\n");
        char path[EM_PATH_MAX * 5];
        snprintf(path, sizeof path, "%.*s", (int)len, f);
        for (int i = 0; i < n; i++) {
            em_code code = clash(&out[i], NULL, path, err);
            if (code) return code;
        }
        f += len + (f[len] == '\n');
    }
    return EM_OK;
}

em_code em_outputs_check_data(const em_config *c, const em_dataset *train,
                              const em_dataset *test, em_error *err) {
    named out[MAX_OUTPUTS];
    int n = outputs_of(c, out);
    em_code code = check_files(out, n, train->files, err);
    return code ? code : check_files(out, n, test->files, err);
}

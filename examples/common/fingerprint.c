/* examples/common/fingerprint.c — the identity of a run's data and the processes'
 * agreement before the first step (fingerprint.h). */
#include "fingerprint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void em_run_config(const em_trainer *t, char *buf, size_t len) {
    int at = em_config_format(t->cfg, buf, len);
    for (int ch = 0; ch < t->train_set->c && at > 0 && (size_t)at < len; ch++)
        at += snprintf(buf + at, len - (size_t)at, " mean%d=%.17g std%d=%.17g", ch, t->mean[ch],
                       ch, t->std[ch]);
}

static bool bn_batch_key(const char *tok) {
    return !strncmp(tok, "bn_sync=", 8) || !strncmp(tok, "ghost_batch=", 12);
}

/* the next token of a config, with the BatchNorm-batch keys taken out into keys */
static char *next_key(char *s, char **save, char *keys, size_t len) {
    char *tok = strtok_r(s, " ", save);
    for (; tok && bn_batch_key(tok); tok = strtok_r(NULL, " ", save)) {
        size_t at = strlen(keys);
        snprintf(keys + at, len - at, "%s%s", at ? " " : "", tok);
    }
    return tok;
}

/* The config of a checkpoint against this run's, key by key, apart from what a resume may
 * change (em_run_diff; with a schedule other than const, other epochs or steps change the
 * learning-rate curve, which the caller is told about, as it is told about another
 * BatchNorm batch). Returns false with err set on a real difference. */
bool em_same_run(const char *path, const char *saved, const char *now, em_run_diff *d,
                 em_error *err) {
    char a[2048], b[2048];
    snprintf(a, sizeof a, "%s", saved);
    snprintf(b, sizeof b, "%s", now);
    memset(d, 0, sizeof *d);
    char *sa = NULL, *sb = NULL;
    char *ta = next_key(a, &sa, d->bn_then, sizeof d->bn_then);
    char *tb = next_key(b, &sb, d->bn_now, sizeof d->bn_now);
    for (; ta && tb; ta = next_key(NULL, &sa, d->bn_then, sizeof d->bn_then),
                     tb = next_key(NULL, &sb, d->bn_now, sizeof d->bn_now)) {
        if (!strcmp(ta, tb)) continue;
        if (!strncmp(ta, "epochs=", 7) || !strncmp(ta, "steps=", 6) ||
            !strncmp(ta, "test_limit=", 11)) {
            d->horizon |= strncmp(ta, "test_limit=", 11) != 0;
            continue;
        }
        em_error_set(err, EM_ERR_ARG, "%s was saved by a run with %s, this one has %s: "
                     "resume with the same options", path, ta, tb);
        return false;
    }
    if (ta || tb) {
        em_error_set(err, EM_ERR_ARG, "%s: its configuration does not match this run's", path);
        return false;
    }
    return true;
}

static uint64_t mix(uint64_t h, const void *p, size_t n) {   /* FNV-1a */
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static uint64_t hash_str(const char *s) { return mix(1469598103934665603ULL, s, strlen(s)); }

/* "name bytes" of every file in ds->files, after what buf holds */
static void add_files(char *buf, size_t len, const char *files) {
    for (const char *f = files; f && *f;) {
        size_t n = strcspn(f, "\n"), at = strlen(buf);
        char path[4096];
        snprintf(path, sizeof path, "%.*s", (int)n, f);
        struct stat st;
        const char *base = strrchr(path, '/');
        if (snprintf(buf + at, len - at, "%s%s %lld", at ? ", " : "", base ? base + 1 : path,
                     stat(path, &st) == 0 ? (long long)st.st_size : -1LL) < 0)
            break;
        f += n + (f[n] == '\n');
    }
}

void em_data_id_of(em_data_id *id, const em_dataset *train, const em_dataset *test) {
    id->files[0] = '\0';
    add_files(id->files, sizeof id->files, train->files);
    add_files(id->files, sizeof id->files, test->files);
    if (!id->files[0]) snprintf(id->files, sizeof id->files, "generated (%s)", train->name);
    uint64_t h[2] = {em_dataset_hash(train), em_dataset_hash(test)};
    snprintf(id->hash, sizeof id->hash, "%016llx",
             (unsigned long long)mix(1469598103934665603ULL, h, sizeof h));
}

static bool hash_entry(void *ctx, const char *name, const em_entry *e) {
    uint64_t *h = ctx;
    *h = mix(*h, name, strlen(name));
    if (e->kind == EM_ENTRY_COUNTER) *h = mix(*h, e->counter, sizeof *e->counter);
    else *h = mix(*h, e->tensor->data, e->tensor->size * sizeof *e->tensor->data);
    return true;
}

uint64_t em_trainer_state_hash(em_trainer *t) {
    uint64_t h = 1469598103934665603ULL;
    em_module_visit(t->net, hash_entry, &h);
    em_optim_buf bufs[2];
    int nb = em_optimizer_buffers(&t->opt, bufs);
    for (int i = 0; i < nb; i++) h = mix(h, bufs[i].data, bufs[i].n * sizeof *bufs[i].data);
    int64_t pos[4] = {em_optimizer_steps(&t->opt), t->epoch, (int64_t)t->batch, t->step};
    return mix(h, pos, sizeof pos);
}

/* the first token (space-separated) where a and b differ, into wa and wb */
static void first_difference(const char *a, const char *b, char *wa, char *wb, size_t len) {
    while (*a || *b) {
        size_t na = strcspn(a, " "), nb = strcspn(b, " ");
        if (na != nb || strncmp(a, b, na)) {
            snprintf(wa, len, "%.*s", (int)na, a);
            snprintf(wb, len, "%.*s", (int)nb, b);
            return;
        }
        a += na + (a[na] == ' ');
        b += nb + (b[nb] == ' ');
    }
    snprintf(wa, len, "?");
    snprintf(wb, len, "?");
}

em_code em_dist_agree(const em_dist *d, const char *config, const em_data_id *id,
                      uint64_t state, em_error *err) {
    int P = em_dist_size(d);
    if (P == 1) return EM_OK;
    bool same_config = em_dist_same(d, hash_str(config));
    bool same_data = em_dist_same(d, hash_str(id->hash));
    bool same_state = em_dist_same(d, state);
    if (same_config && same_data && same_state) return EM_OK;
    char data[sizeof id->files + 40];
    snprintf(data, sizeof data, "%s (content %s)", id->files, id->hash);
    err->code = EM_ERR_ARG;
    err->msg[0] = '\0';
    if (d->rank != 0) {   /* what this process has, to process 0, which says what differs */
        em_error e;
        em_dist_send(d, 0, 1, config, strlen(config) + 1, &e);
        em_dist_send(d, 0, 2, data, strlen(data) + 1, &e);
        return EM_ERR_ARG;
    }
    int bad_config = 0, bad_data = 0;
    char theirs_config[2048] = "", theirs_data[sizeof data] = "";
    for (int r = 1; r < P; r++) {
        char *buf[2] = {NULL, NULL};
        size_t n;
        em_error e;
        for (int k = 0; k < 2; k++)
            if (em_dist_recv(d, r, k + 1, &buf[k], &n, &e) != EM_OK) buf[k] = NULL;
        if (!bad_config && buf[0] && strcmp(buf[0], config)) {
            bad_config = r;
            snprintf(theirs_config, sizeof theirs_config, "%s", buf[0]);
        }
        if (!bad_data && buf[1] && strcmp(buf[1], data)) {
            bad_data = r;
            snprintf(theirs_data, sizeof theirs_data, "%s", buf[1]);
        }
        free(buf[0]);
        free(buf[1]);
    }
    if (!same_config && bad_config) {
        char mine[128], theirs[128];
        first_difference(config, theirs_config, mine, theirs, sizeof mine);
        return em_error_set(err, EM_ERR_ARG, "the %d processes were not started alike: process "
                            "0 has %s, process %d has %s; every process needs the same "
                            "options", P, mine, bad_config, theirs);
    }
    if (!same_data && bad_data)
        return em_error_set(err, EM_ERR_ARG, "process %d reads other data than process 0: %s, "
                            "against %s; every process needs the same data (--data)", bad_data,
                            theirs_data, data);
    return em_error_set(err, EM_ERR_ARG, "the %d processes do not start from the same weights "
                        "and position: does a --resume or --load file differ between them?", P);
}

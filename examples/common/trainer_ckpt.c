/* examples/common/trainer_ckpt.c — a trainer's training checkpoint: saved with the run's
 * configuration and data, and resumed only into the same run (trainer_ckpt.h). */
#include "trainer_ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/network.h"
#include "io/checkpoint.h"

/* The training state beside the model: optimizer buffers, its step count, the position
 * (epoch, batch, step), and the random streams of the network's dropouts (a network of the
 * architecture language may have any number). The data order and augmentation are
 * functions of (seed, epoch, position), so no generator state is needed for them. */
typedef struct ck_state {
    em_ck_entry entries[6];
    em_ck_require require[6];   /* what a resume requires of each entry's values */
    int n;
    int64_t position[3];      /* epoch, batch, step */
    int64_t optim_step;
    char names[2][48];
    int n_rngs;               /* the modules' streams: where they are, their states */
    em_rng **rngs, *states;
} ck_state;

static void ck_state_free(ck_state *s) {
    free(s->rngs);
    free(s->states);
}

/* false: out of memory (err says so) */
static bool ck_state_of(ck_state *s, em_trainer *t, em_error *err) {
    memset(s, 0, sizeof *s);
    s->n_rngs = em_module_rngs(t->net, NULL, 0);
    if (s->n_rngs) {
        s->rngs = malloc((size_t)s->n_rngs * sizeof *s->rngs);
        s->states = malloc((size_t)s->n_rngs * sizeof *s->states);
        if (!s->rngs || !s->states) {
            ck_state_free(s);
            return em_error_set(err, EM_ERR_NOMEM, "out of memory"), false;
        }
        em_module_rngs(t->net, s->rngs, s->n_rngs);
        for (int i = 0; i < s->n_rngs; i++) s->states[i] = *s->rngs[i];
        s->entries[s->n++] = (em_ck_entry){"rng.modules", EM_ST_U64, s->states,
                                           2 * (size_t)s->n_rngs};
    }
    em_optim_buf bufs[2];
    int nb = em_optimizer_buffers(&t->opt, bufs);
    for (int i = 0; i < nb; i++) {
        snprintf(s->names[i], sizeof s->names[i], "optim.%s", bufs[i].name);
        s->require[s->n].check = EM_CK_FINITE;
        s->entries[s->n++] = (em_ck_entry){s->names[i], EM_ST_REAL, bufs[i].data, bufs[i].n};
    }
    /* counters: non-negative and far from overflowing (the position's fields are checked
     * against this run after the load) */
    s->require[s->n] = s->require[s->n + 1] = (em_ck_require){EM_CK_RANGE, 0, EM_CK_COUNTER_MAX};
    s->optim_step = em_optimizer_steps(&t->opt);
    s->position[0] = t->epoch;
    s->position[1] = (int64_t)t->batch;
    s->position[2] = t->step;
    s->entries[s->n++] = (em_ck_entry){"optim.step", EM_ST_I64, &s->optim_step, 1};
    s->entries[s->n++] = (em_ck_entry){"train.position", EM_ST_I64, s->position, 3};
    s->entries[s->n++] = (em_ck_entry){"train.epoch_stats", EM_ST_F64, &t->stats,
                                       EM_EPOCH_STATS_N};
    return true;
}

static const char *model_name(const em_trainer *t) { return em_config_model_name(t->cfg); }

/* the checkpoint records the data too: the files read and the content hash, which a
 * resumed run must match (examples/common/fingerprint.h) */
em_code em_trainer_save(em_trainer *t, const char *path, const em_data_id *data,
                               em_error *err) {
    ck_state s;
    if (!ck_state_of(&s, t, err)) return err->code;
    char config[2048], progress[96];
    em_run_config(t, config, sizeof config);
    snprintf(progress, sizeof progress, "epoch %d, batch %zu, step %ld", t->epoch, t->batch, t->step);
    char network[17];
    em_error unused;
    em_st_meta meta[3] = {{"data", data->files}, {"data_hash", data->hash}, {"network", network}};
    int n_meta = em_config_network_id(t->cfg, network, &unused) == EM_OK ? 3 : 2;
    em_ck_save_opts so = {.model_name = model_name(t), .config = config, .progress = progress,
                          .n_meta = n_meta, .meta = meta, .n_extra = s.n, .extra = s.entries,
                          .finite_only = true};
    em_code code = em_checkpoint_save(path, t->net, &so, err);
    ck_state_free(&s);
    return code;
}

/* the data of the checkpoint against this run's: the content hash decides */
static em_code same_data(const em_st *st, const char *path, const em_data_id *data,
                         em_error *err) {
    const char *hash = em_st_meta_get(st, "data_hash"), *files = em_st_meta_get(st, "data");
    if (!hash) {
        printf("note: %s does not record its data (saved by an older ember): not checked\n", path);
        return EM_OK;
    }
    if (!strcmp(hash, data->hash)) return EM_OK;
    return em_error_set(err, EM_ERR_ARG, "%s was trained on other data: %s (content %s); this "
                        "run reads %s (content %s): resume with the same data", path,
                        files ? files : "?", hash, data->files, data->hash);
}

em_code em_trainer_resume(em_trainer *t, const char *path, const em_data_id *data,
                                 em_error *err) {
    ck_state s;
    if (!ck_state_of(&s, t, err)) return err->code;
    em_ck_load_opts lo = {.n_extra = s.n, .extra = s.entries, .require = s.require,
                          .expect_model = model_name(t)};
    em_st *st;
    em_code code = em_st_open(&st, path, err);   /* the header; the tensors as restored */
    if (code != EM_OK) return ck_state_free(&s), code;
    const char *saved = em_st_meta_get(st, "config");
    char now[2048];
    em_run_config(t, now, sizeof now);
    const char *model = em_st_meta_get(st, "model");
    em_run_diff diff = {0};
    if (model && strcmp(model, model_name(t)))
        code = em_error_set(err, EM_ERR_FORMAT, "%s: a checkpoint of '%s', not of '%s'", path,
                            model, model_name(t));
    else if (!saved) code = em_error_set(err, EM_ERR_FORMAT, "%s has no run configuration: not a "
                                    "training checkpoint of ember-mnist/-cifar", path);
    else code = same_data(st, path, data, err);   /* other data: say so, not "mean0=" */
    if (!code && !em_same_run(path, saved, now, &diff, err)) code = EM_ERR_ARG;
    if (!code) code = em_checkpoint_apply(st, t->net, &lo, err);
    em_st_free(st);
    for (int i = 0; code == EM_OK && i < s.n_rngs; i++)   /* a PCG stream's selector is odd */
        if (!(s.states[i].inc & 1))
            code = em_error_set(err, EM_ERR_FORMAT, "%s: rng.modules holds a damaged random "
                                "stream (dropout %d of %d)", path, i + 1, s.n_rngs);
    for (int i = 0; code == EM_OK && i < s.n_rngs; i++) *s.rngs[i] = s.states[i];
    ck_state_free(&s);
    if (code != EM_OK) return code;
    if (diff.horizon && strcmp(t->cfg->schedule, "const"))
        printf("note: --epochs/--steps differ from the saved run's: the %s schedule now spans "
               "%ld steps\n", t->cfg->schedule, t->total_steps);
    if (diff.bn_then[0] && strcmp(diff.bn_then, diff.bn_now))
        printf("note: the saved run had %s, this one has %s: the examples BatchNorm "
               "normalizes together may differ from here on\n", diff.bn_then, diff.bn_now);
    if (s.position[0] < 0 || s.position[0] > 100000 || s.position[1] < 0 || s.position[2] < 0 ||
        s.position[1] > t->steps_per_epoch)
        return em_error_set(err, EM_ERR_FORMAT, "%s: train.position (%lld, %lld, %lld) does not "
                            "fit this run (%ld batches per epoch); was it saved with another "
                            "--batch or --train-limit?", path, (long long)s.position[0],
                            (long long)s.position[1], (long long)s.position[2], t->steps_per_epoch);
    em_optimizer_set_steps(&t->opt, s.optim_step);
    t->epoch = (int)s.position[0];
    t->batch = (size_t)s.position[1];
    t->step = (long)s.position[2];
    return EM_OK;
}

em_code em_trainer_check_load(em_trainer *t, const char *path, em_error *err) {
    em_st *st;
    em_error unused;
    if (em_st_open(&st, path, &unused) != EM_OK) return EM_OK;   /* the load says why */
    const char *saved = em_st_meta_get(st, "network");
    char now[17];
    em_code code = saved ? em_config_network_id(t->cfg, now, err) : EM_OK;
    if (code == EM_OK && saved && strcmp(saved, now))
        code = em_error_set(err, EM_ERR_ARG, "%s holds another network than this run builds "
                            "(network %s, this run's %s): load it with the --model or --arch, "
                            "--norm and --norm-position it was trained with (--print-arch "
                            "shows a run's network)", path, saved, now);
    em_st_free(st);
    return code;
}

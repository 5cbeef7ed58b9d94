/* tests/test_resume.c — exact resume: a small conv net with BatchNorm trained for 2k steps
 * straight must be bit-identical (memcmp) to k steps, a training checkpoint, a load into a
 * FRESH model and optimizer — in the same process and in a separate (forked) process —
 * and k more steps: every parameter, buffer, counter, optimizer buffer, step counter,
 * rng state and data position.
 *
 * The batches come from an rng seeded by the step number mixed with a draw from a stateful
 * data-order rng, so a resume that forgot the rng, the step or the position would diverge.
 * The learning rate comes from a schedule (warm-up + cosine) queried with the step. The
 * same holds with Batch Renorm in the middle of its warm-up. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "tmpname.h"

enum { N = 8, K = 12, STEPS_PER_EPOCH = 5 };

typedef struct run {
    em_module *net;
    em_sgd *sgd;                 /* one of sgd and adam */
    em_adam *adam;
    em_schedule sched;
    em_tape *tape;
    em_tensor *x;
    int labels[N];
    int64_t step;                /* steps done                                   */
    int64_t position[2];         /* (epoch, batch index) of the next batch       */
    em_rng data_rng;             /* the data order's stateful stream             */
    em_ck_entry extra[6];
    int n_extra;
} run;

/* conv3x3 1->4 [BN2d] ReLU maxpool, flatten, linear 64->16 [BN1d] ReLU, linear 16->10;
 * renorm: the BatchNorms with Batch Renorm, whose limits warm up over 3K/2 batches (a
 * checkpoint after K steps is in the middle of it: num_batches_tracked must carry it) */
static em_module *tiny_net(bool renorm, uint64_t init_seed) {
    em_bn_opts bo = em_bn_defaults();
    bo.renorm = renorm;
    bo.rmax = 1.5;
    bo.dmax = 0.5;
    bo.renorm_warmup = 3 * K / 2;
    em_module *net = em_sequential_new(9, (em_module *[]){
        em_conv2d_new(1, 4, 3, 1, 1, false), em_batchnorm2d_new(4, &bo), em_relu_new(),
        em_maxpool2d_new(2, 2), em_flatten_new(), em_linear_new(64, 16, false),
        em_batchnorm1d_new(16, &bo), em_relu_new(), em_linear_new(16, 10, true)});
    if (!net) return NULL;
    em_rng rng;
    em_rng_seed(&rng, init_seed);
    em_module_init(net, &rng, NULL);
    em_module_train(net, true);
    return net;
}

/* a fresh run; init_seed differs between runs so a resume must overwrite everything */
static bool run_new(run *r, bool adam, bool renorm, uint64_t init_seed) {
    memset(r, 0, sizeof *r);
    r->net = tiny_net(renorm, init_seed);
    if (!r->net) return false;
    em_params p = em_module_params(r->net);
    em_optim_buf bufs[2];
    int nb;
    if (adam) {
        em_adam_opts o = em_adamw_defaults();
        r->adam = em_adam_new(p, &o, NULL);
        if (!r->adam) return false;
        nb = em_adam_buffers(r->adam, bufs);
    } else {
        em_sgd_opts o = {.momentum = 0.9, .nesterov = true, .weight_decay = 5e-4};
        r->sgd = em_sgd_new(p, &o, NULL);
        if (!r->sgd) return false;
        nb = em_sgd_buffers(r->sgd, bufs);
    }
    r->sched = em_schedule_with_warmup(
        em_schedule_cosine(adam ? 0.01 : 0.1, STEPS_PER_EPOCH, 2 * K / STEPS_PER_EPOCH + 1, 1e-4),
        3, 0.1);
    r->tape = em_tape_new(0);
    r->x = em_tensor_new(4, (int[]){N, 1, 8, 8}, 0);
    em_rng_seed_stream(&r->data_rng, 2024, init_seed);      /* overwritten by a resume */
    static char names[2][32];
    for (int i = 0; i < nb; i++) {
        snprintf(names[i], sizeof names[i], "optim.%s", bufs[i].name);
        r->extra[r->n_extra++] = (em_ck_entry){names[i], EM_ST_REAL, bufs[i].data, bufs[i].n};
    }
    r->extra[r->n_extra++] =
        (em_ck_entry){"optim.step", EM_ST_I64, adam ? &r->adam->step : &r->sgd->step, 1};
    r->extra[r->n_extra++] = (em_ck_entry){"train.step", EM_ST_I64, &r->step, 1};
    r->extra[r->n_extra++] = (em_ck_entry){"data.position", EM_ST_I64, r->position, 2};
    r->extra[r->n_extra++] = EM_CK_RNG("rng.data", &r->data_rng);
    return r->tape && r->x;
}

static void run_free(run *r) {
    em_module_free(r->net);
    em_sgd_free(r->sgd);
    em_adam_free(r->adam);
    em_tape_free(r->tape);
    em_tensor_free(r->x);
}

/* one training step; false (with the tape's message on stderr) if it failed */
static bool run_step(run *r) {
    em_rng batch;
    em_rng_seed(&batch, (uint64_t)r->step * 0x9e3779b97f4a7c15ull ^ em_rng_u32(&r->data_rng));
    for (size_t i = 0; i < r->x->size; i++) r->x->data[i] = (em_real)em_rng_normal(&batch, 0, 1);
    for (int n = 0; n < N; n++) r->labels[n] = (int)em_rng_below(&batch, 10);
    em_tensor *loss = em_cross_entropy(r->tape, em_module_forward(r->net, r->tape, r->x), r->labels);
    if (em_backward(r->tape, loss) != EM_OK) {
        fprintf(stderr, "step %lld: %s\n", (long long)r->step, r->tape->err.msg);
        return false;
    }
    double lr = em_schedule_lr(&r->sched, r->step);
    if (r->sgd) {
        em_sgd_step(r->sgd, lr);
        em_sgd_zero_grad(r->sgd);
    } else {
        em_adam_step(r->adam, lr);
        em_adam_zero_grad(r->adam);
    }
    em_tape_reset(r->tape);
    r->step++;
    if (++r->position[1] == STEPS_PER_EPOCH) r->position[0]++, r->position[1] = 0;
    return true;
}

static em_code run_save(run *r, const char *path, em_error *err) {
    char progress[64];
    snprintf(progress, sizeof progress, "step %lld", (long long)r->step);
    em_ck_save_opts o = {.model_name = "tiny-cnn", .config = r->sgd ? "sgd" : "adamw",
                         .progress = progress, .n_extra = r->n_extra, .extra = r->extra};
    return em_checkpoint_save(path, r->net, &o, err);
}

static em_code run_load(run *r, const char *path, em_error *err) {
    em_ck_load_opts o = {.n_extra = r->n_extra, .extra = r->extra, .expect_model = "tiny-cnn"};
    return em_checkpoint_load(path, r->net, &o, err);
}

/* every byte of state: module entries, then the extras (optimizer, counters, rng) */
static bool state_fn(void *ctx, const char *name, const em_entry *e) {
    (void)name;
    FILE *f = ctx;
    if (e->kind == EM_ENTRY_COUNTER) fwrite(e->counter, 8, 1, f);
    else fwrite(e->tensor->data, sizeof(em_real), e->tensor->size, f);
    return true;
}

static char *state_bytes(run *r, size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    cr_assert_not_null(f);
    em_module_visit(r->net, state_fn, f);
    for (int i = 0; i < r->n_extra; i++)
        fwrite(r->extra[i].data, em_st_dtype_size(r->extra[i].dtype), r->extra[i].n, f);
    fclose(f);
    return buf;
}

static void assert_identical(run *a, run *b, const char *what) {
    size_t la, lb;
    char *sa = state_bytes(a, &la), *sb = state_bytes(b, &lb);
    cr_assert_eq(la, lb);
    size_t first = 0;
    while (first < la && sa[first] == sb[first]) first++;
    cr_assert(first == la, "%s: state differs from the straight run at byte %zu of %zu", what,
              first, la);
    em_params pa = em_module_params(a->net), pb = em_module_params(b->net);
    cr_assert(!memcmp(pa.data, pb.data, pa.n * sizeof(em_real)), "%s: parameters", what);
    printf("%s (%s, %s): %zu bytes of state bit-identical to the straight run after %d steps\n",
           what, a->sgd ? "SGD Nesterov" : "AdamW", EM_REAL_NAME, la, 2 * K);
    free(sa);
    free(sb);
}

static void resume_test(bool adam, bool renorm) {
    char dir[48];
    cr_assert_not_null(em_test_mkdtemp(dir, sizeof dir, NULL, "resume"));
    char mid[96], fin[96];
    snprintf(mid, sizeof mid, "%s/mid.safetensors", dir);
    snprintf(fin, sizeof fin, "%s/final.safetensors", dir);
    em_error err;

    run straight;
    cr_assert(run_new(&straight, adam, renorm, 1));
    for (int i = 0; i < 2 * K; i++) cr_assert(run_step(&straight));

    run first;
    cr_assert(run_new(&first, adam, renorm, 1));
    for (int i = 0; i < K; i++) cr_assert(run_step(&first));
    cr_assert_eq(run_save(&first, mid, &err), EM_OK, "%s", err.msg);
    run_free(&first);

    /* the same process, a fresh model and optimizer */
    run second;
    cr_assert(run_new(&second, adam, renorm, 2));
    cr_assert_eq(run_load(&second, mid, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(second.step, K);
    for (int i = 0; i < K; i++) cr_assert(run_step(&second));
    assert_identical(&straight, &second, renorm ? "resumed in the same process, Batch Renorm"
                                                  : "resumed in the same process");
    run_free(&second);

    /* a separate process: load, k steps, save everything; the parent compares */
    fflush(stdout);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        run child;
        int ok = run_new(&child, adam, renorm, 3) && run_load(&child, mid, &err) == EM_OK;
        for (int i = 0; ok && i < K; i++) ok = run_step(&child);
        ok = ok && run_save(&child, fin, &err) == EM_OK;
        if (!ok) fprintf(stderr, "child: %s\n", err.msg);
        _exit(ok ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the resuming process failed");
    run check;
    cr_assert(run_new(&check, adam, renorm, 4));
    cr_assert_eq(run_load(&check, fin, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(check.step, 2 * K);
    cr_assert(check.position[0] == 2 * K / STEPS_PER_EPOCH &&
              check.position[1] == 2 * K % STEPS_PER_EPOCH);
    assert_identical(&straight, &check, renorm ? "resumed in another process, Batch Renorm"
                                                 : "resumed in another process");
    run_free(&check);
    run_free(&straight);
    remove(mid);
    remove(fin);
    rmdir(dir);
}

Test(resume, sgd_nesterov_two_k_steps_straight_equals_k_save_load_k) { resume_test(false, false); }

Test(resume, adamw_two_k_steps_straight_equals_k_save_load_k) { resume_test(true, false); }

Test(resume, batch_renorm_warmup_resumes_exactly) { resume_test(false, true); }

/* the control: without the rng state the run diverges, so the test above can see it */
Test(resume, forgetting_the_data_rng_is_detected) {
    run a, b;
    cr_assert(run_new(&a, false, false, 1));
    cr_assert(run_new(&b, false, false, 1));
    for (int i = 0; i < K; i++) cr_assert(run_step(&a) && run_step(&b));
    em_rng_seed_stream(&b.data_rng, 2024, 99);
    for (int i = 0; i < K; i++) cr_assert(run_step(&a) && run_step(&b));
    em_params pa = em_module_params(a.net), pb = em_module_params(b.net);
    cr_assert(memcmp(pa.data, pb.data, pa.n * sizeof(em_real)) != 0);
    run_free(&a);
    run_free(&b);
}

/* the control of the Batch Renorm resume: its limits depend on num_batches_tracked, so a
 * resume that lost the warm-up position (the counters back at 0) diverges */
Test(resume, batch_renorm_forgetting_the_warmup_position_is_detected) {
    run a, b;
    cr_assert(run_new(&a, false, true, 1));
    cr_assert(run_new(&b, false, true, 1));
    for (int i = 0; i < K; i++) cr_assert(run_step(&a) && run_step(&b));
    const char *counters[2] = {"1.num_batches_tracked", "6.num_batches_tracked"};
    for (int k = 0; k < 2; k++) {
        em_entry e;
        cr_assert(em_module_find(b.net, counters[k], &e));
        cr_assert_eq(*e.counter, K);
        *e.counter = 0;
    }
    for (int i = 0; i < K; i++) cr_assert(run_step(&a) && run_step(&b));
    em_params pa = em_module_params(a.net), pb = em_module_params(b.net);
    cr_assert(memcmp(pa.data, pb.data, pa.n * sizeof(em_real)) != 0);
    run_free(&a);
    run_free(&b);
}

/* ---- Dropout: the masks' rng lives in the module, outside the state dict ---------------- */

enum { D_STEPS = 6 };

static em_module *dropout_net(uint64_t seed) {
    em_module *net = em_sequential_new(5, (em_module *[]){
        em_flatten_new(), em_linear_new(64, 32, true), em_relu_new(), em_dropout_new(0.5),
        em_linear_new(32, 10, true)});
    em_rng rng;
    em_rng_seed(&rng, seed);
    em_module_init(net, &rng, NULL);
    em_module_train(net, true);
    return net;
}

static void dropout_steps(em_module *net, em_sgd *opt, int from, int n) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = em_tensor_new(4, (int[]){N, 1, 8, 8}, 0);
    int labels[N];
    for (int s = from; s < from + n; s++) {
        em_rng batch;
        em_rng_seed(&batch, (uint64_t)s);
        for (size_t i = 0; i < x->size; i++) x->data[i] = (em_real)em_rng_normal(&batch, 0, 1);
        for (int k = 0; k < N; k++) labels[k] = (int)em_rng_below(&batch, 10);
        em_tensor *loss = em_cross_entropy(tape, em_module_forward(net, tape, x), labels);
        cr_assert_eq(em_backward(tape, loss), EM_OK);
        em_sgd_step(opt, 0.1);
        em_sgd_zero_grad(opt);
        em_tape_reset(tape);
    }
    em_tensor_free(x);
    em_tape_free(tape);
}

/* restore_rngs false: the control, which must diverge */
static bool dropout_resume_matches(bool restore_rngs) {
    char dir[256], path[300];
    cr_assert_not_null(em_test_mkdtemp(dir, sizeof dir, NULL, "dropout"));
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    em_sgd_opts o = {.momentum = 0.9};
    em_module *a = dropout_net(1);
    em_sgd *oa = em_sgd_new(em_module_params(a), &o, NULL);
    dropout_steps(a, oa, 0, 2 * D_STEPS);

    em_module *b = dropout_net(1);
    em_sgd *ob = em_sgd_new(em_module_params(b), &o, NULL);
    dropout_steps(b, ob, 0, D_STEPS);
    em_rng *rngs[4];
    cr_assert_eq(em_module_rngs(b, rngs, 4), 1, "one Dropout, one stream");
    em_ck_entry extra[] = {{"optim.momentum_buffer", EM_ST_REAL, ob->velocity, ob->params.n},
                           {"optim.step", EM_ST_I64, &ob->step, 1},
                           EM_CK_RNG("rng.module.0", rngs[0])};
    em_ck_save_opts so = {.n_extra = restore_rngs ? 3 : 2, .extra = extra};
    em_error err;
    cr_assert_eq(em_checkpoint_save(path, b, &so, &err), EM_OK, "%s", err.msg);

    em_module *c = dropout_net(2);                       /* fresh: other init, other masks */
    em_sgd *oc = em_sgd_new(em_module_params(c), &o, NULL);
    cr_assert_eq(em_module_rngs(c, rngs, 4), 1);
    em_ck_entry into[] = {{"optim.momentum_buffer", EM_ST_REAL, oc->velocity, oc->params.n},
                          {"optim.step", EM_ST_I64, &oc->step, 1},
                          EM_CK_RNG("rng.module.0", rngs[0])};
    em_ck_load_opts lo = {.n_extra = restore_rngs ? 3 : 2, .extra = into};
    cr_assert_eq(em_checkpoint_load(path, c, &lo, &err), EM_OK, "%s", err.msg);
    dropout_steps(c, oc, D_STEPS, D_STEPS);
    em_params pa = em_module_params(a), pc = em_module_params(c);
    bool same = !memcmp(pa.data, pc.data, pa.n * sizeof(em_real)) &&
                !memcmp(oa->velocity, oc->velocity, pa.n * sizeof(em_real));
    em_sgd_free(oa), em_sgd_free(ob), em_sgd_free(oc);
    em_module_free(a), em_module_free(b), em_module_free(c);
    remove(path);
    rmdir(dir);
    return same;
}

Test(resume, dropout_masks_resume_exactly_with_em_module_rngs) {
    cr_assert(dropout_resume_matches(true), "resumed with the Dropout rng: not bit-identical");
    cr_assert(!dropout_resume_matches(false), "without the Dropout rng the masks must differ");
}

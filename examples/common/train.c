/* examples/common/train.c — the training loop. Read em_trainer_run (at the end) first: it
 * is the whole story, epochs of train_step (forward, loss, backward, update, reset); the
 * functions above it are its parts. The trainer it runs on is built in trainer.c; the test
 * pass after every epoch is in evaluate.c. */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/progress.h"
#include "examples/common/rows.h"

/* ---- the loop ------------------------------------------------------------------------------- */

/* true when every value is finite: v * 0 is 0 for a finite v and NaN for NaN or Inf, so the
 * sums stay 0 exactly when all are finite. 16 independent sums, so the compiler may run
 * them as vectors: one sum would be a chain of dependent adds (the compiler must keep a
 * float sum's order), and over the parameters and gradients (2 x 207k values for
 * mnist-cnn) that chain cost 0.6 ms a step while the other thread waited. */
static bool all_finite(const em_real *v, size_t n) {
    em_real acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += v[i + j] * 0;
    for (; i < n; i++) acc[0] += v[i] * 0;
    em_real all = 0;
    for (int j = 0; j < 16; j++) all += acc[j];
    return all == 0;
}

/* stop the run at the step being taken: status 3, what went non-finite (or too large) */
static void diverge(em_trainer *t, em_run_result *r, double loss, const char *what) {
    r->status = 3;
    r->diverged_step = t->step + 1;
    r->diverged_loss = loss;
    r->diverged_what = what;
    em_tape_reset(t->tape);
}

static void write_row(em_trainer *t, em_run_result *r, int epoch, double lr, double tl,
                      double ta, double vl, double va, double secs, double ips, bool diverged) {
    if (!t->metrics) return;
    em_metrics_row row = {epoch, t->step, lr, tl, ta, vl, va, secs, ips, diverged};
    em_error err;
    if (em_metrics_write(t->metrics, &row, &err) != EM_OK && !r->error[0]) {
        snprintf(r->error, sizeof r->error, "%s", err.msg);
        r->status = 1;
    }
}

/* What the passes of one step produced, summed over the processes. */
typedef struct step_sums {
    double loss;          /* sum over the batch's examples of their loss           */
    double correct;
    double failed;        /* processes whose passes failed (r->error says why)     */
    double interrupted;   /* processes that saw Ctrl-C (data parallel only)        */
    double bad_input;     /* processes whose batch held a NaN/Inf (data parallel)  */
} step_sums;

/* Forward and backward over this process's rows of the batch of n in t->x: the gradient
 * of its share of the batch's mean loss lands in the parameter block. Then the sums go
 * round, so every process knows the batch's loss and whether to go on. */
static void step_passes(em_trainer *t, int n, step_sums *s, char *error, size_t len) {
    int P = em_dist_size(t->dist), lo, hi;
    shard_of(n, P, P > 1 ? t->dist->rank : 0, &lo, &hi);
    int G = em_passes_of(t->cfg->ghost_batch, n, P), m = hi - lo;
    *s = (step_sums){0, 0, 0, 0, 0};
    for (int k = 0; k < G; k++) {
        int a = lo + (int)((long)m * k / G), b = lo + (int)((long)m * (k + 1) / G);
        em_tensor rows = rows_of(t->x, a, b);
        /* forward: every op records itself on the tape */
        em_tensor *logits = em_module_forward(t->net, t->tape, &rows);
        em_tensor *loss = em_cross_entropy(t->tape, logits, t->labels + a);
        /* backward: the tape in reverse; gradients land in the parameter block. The seed
         * (b - a) / n makes this pass's mean loss count as its share of the batch's mean
         * (1 for a single pass) */
        em_real seed = (em_real)((double)(b - a) / n);
        if (em_backward_from(t->tape, loss, &seed) != EM_OK) {
            snprintf(error, len, "step %ld failed: %s", t->step + 1, t->tape->err.msg);
            em_trainer_fail_alone(t, error);
            s->failed = 1;
            em_tape_reset(t->tape);
            break;
        }
        int K = logits->shape[1];
        for (int i = 0; i < b - a; i++)
            s->correct += argmax(logits->data + (size_t)i * K, K) == t->labels[a + i];
        s->loss += (double)loss->data[0] * (b - a);
        em_tape_reset(t->tape);
    }
    if (P > 1) {
        double v[5] = {s->loss, s->correct, s->failed, t->interrupted && *t->interrupted,
                       !all_finite(t->x->data, t->x->size)};
        em_dist_sum(t->dist, v, 5);
        *s = (step_sums){v[0], v[1], v[2], v[3], v[4]};
    }
}

/* Data parallel: every process leaves the loop, evaluates and stops together, so a status
 * one of them met alone at the end of an epoch (a metrics write or a --save-every
 * checkpoint on the root) becomes everyone's. */
static void agree(em_trainer *t, em_run_result *r) {
    if (em_dist_size(t->dist) == 1) return;
    int s = em_dist_max(t->dist, r->status);
    if (s != r->status && !r->error[0] && s == 1)
        snprintf(r->error, sizeof r->error, "another process failed");
    r->status = s;
}

/* FNV-1a over the parameter bytes: equal on every process, or the replicas drifted. */
static uint64_t params_hash(em_params p) {
    const unsigned char *b = (const unsigned char *)p.data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < p.n * sizeof *p.data; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* What a step that went through left for the bookkeeping after it. */
typedef struct step_out {
    double loss;          /* the batch's mean loss (one pass: exactly its own)     */
    int correct;
    bool interrupted;     /* data parallel: a process saw Ctrl-C during the step   */
} step_out;

/* One optimizer step on the n examples in t->x at learning rate lr: forward and backward
 * passes, then the update. Every value that enters or leaves the step is checked where it
 * appears: the input here, the loss and the gradients after backward, the weights after the
 * update; the first NaN/Inf stops the run at this step, before it spreads (data parallel:
 * the input's check goes round in the step's sums, so that a process never stops alone
 * while the others are in a collective). false: the run stops here (r says why). */
static bool train_step(em_trainer *t, em_run_result *r, int n, double lr, step_out *out) {
    em_params params = em_module_params(t->net);
    if (em_dist_size(t->dist) == 1 && !all_finite(t->x->data, t->x->size)) {
        diverge(t, r, NAN, "a NaN/Inf in the input batch");
        return false;
    }
    step_sums sums;
    step_passes(t, n, &sums, r->error, sizeof r->error);
    if (sums.bad_input) {
        em_optimizer_zero_grad(&t->opt);
        diverge(t, r, NAN, "a NaN/Inf in the input batch");
        return false;
    }
    if (sums.failed) {
        if (!r->error[0]) snprintf(r->error, sizeof r->error, "step %ld failed on another "
                                   "process", t->step + 1);
        r->status = 1;
        em_optimizer_zero_grad(&t->opt);   /* nothing of the failed step stays */
        em_tape_reset(t->tape);
        return false;
    }
    double l = sums.loss / n;
    if (!isfinite(l) || l > t->divergence_bound) {   /* stop before the update */
        diverge(t, r, l, isfinite(l) ? "the loss exploded" : "a NaN/Inf loss");
        return false;
    }
    /* the processes' gradients summed: the gradient of the global batch, everywhere (a NaN
     * on one process is then a NaN on all, and all stop together) */
    em_dist_sum_real(t->dist, params.grad, params.n);
    if (!all_finite(params.grad, params.n)) {
        diverge(t, r, l, "a NaN/Inf gradient");
        return false;
    }
    /* update, then clear the gradients (the passes recycled the step's memory) */
    em_optimizer_step(&t->opt, lr);
    em_optimizer_zero_grad(&t->opt);
    if (!all_finite(params.data, params.n)) {   /* the update overflowed (a huge lr) */
        diverge(t, r, l, "a NaN/Inf weight after the update");
        return false;
    }
    *out = (step_out){l, (int)sums.correct, sums.interrupted != 0};
    return true;
}

/* The clocks and counts of the epoch being run. */
typedef struct epoch_clock {
    double start;         /* when the epoch (or its resumed part) began             */
    double log_start;     /* when the current --log-every window began              */
    double images;        /* examples trained on in this epoch by this run           */
    double lr;            /* the learning rate of the last step                      */
} epoch_clock;

/* After a step: the counts, the step hook, the progress line, a --log-every row. false:
 * the run stops here (a metrics row could not be written, or Ctrl-C came during it). */
static bool after_step(em_trainer *t, em_run_result *r, const step_out *s, int n,
                       epoch_clock *clk, em_progress *bar) {
    em_epoch_stats *st = &t->stats;
    t->step++;
    t->batch++;
    st->loss_sum += s->loss * n;
    st->correct += s->correct;
    st->seen += n;
    st->log_loss_sum += s->loss * n;
    st->log_correct += s->correct;
    st->log_seen += n;
    clk->images += n;
    if (t->hook) {
        em_step_info info = {t->step, t->epoch, clk->lr, s->loss, (double)s->correct / n};
        t->hook(t->hook_ctx, t, &info);
    }
    em_progress_step(bar, (long)t->batch, st->loss_sum / st->seen, st->correct / st->seen,
                     (long)clk->images);
    if (t->cfg->log_every && t->step % t->cfg->log_every == 0) {
        double now = em_now();
        write_row(t, r, t->epoch + 1, clk->lr, st->log_loss_sum / st->log_seen,
                  st->log_correct / st->log_seen, NAN, NAN, now - clk->log_start,
                  st->log_seen / (now - clk->log_start), false);
        st->log_loss_sum = st->log_correct = st->log_seen = 0;
        clk->log_start = now;
        if (r->status) {   /* the metrics row could not be written */
            /* data parallel: the root alone writes; unless the epoch ends here, the others
             * go on into the next step's collectives */
            if (t->step < t->total_steps && t->batch < (size_t)t->steps_per_epoch &&
                !s->interrupted)
                em_dist_abort(t->dist, t->cfg->program, r->error, 1);
            return false;
        }
    }
    if (s->interrupted) {   /* data parallel Ctrl-C: this step was the last */
        r->status = 130;
        return false;
    }
    return true;
}

/* The steps of one epoch from the current position: until the epoch's end, the run's end,
 * or a stop (r->status). */
static void run_epoch(em_trainer *t, em_run_result *r, epoch_clock *clk, em_progress *bar) {
    int n;
    while (t->step < t->total_steps) {
        /* Ctrl-C: no new step (data parallel: the processes agree on it in the step) */
        if (em_dist_size(t->dist) == 1 && t->interrupted && *t->interrupted) {
            r->status = 130;
            return;
        }
        if (!em_loader_next(t->train, t->x, t->labels, &n)) return;
        clk->lr = em_schedule_lr(&t->sched, t->step);
        if (t->batch_hook) t->batch_hook(t->batch_ctx, t, n);
        step_out s;
        if (!train_step(t, r, n, clk->lr, &s) || !after_step(t, r, &s, n, clk, bar)) return;
    }
}

/* After the steps of an epoch: a stop inside it gets its row without a test pass; a
 * complete epoch (or run) is evaluated, its row written and its summary printed, and the
 * next epoch begins. false: the run ends here. */
static bool end_epoch(em_trainer *t, em_run_result *r, const epoch_clock *clk) {
    em_epoch_stats *st = &t->stats;
    agree(t, r);
    double secs = em_now() - clk->start, ips = clk->images / secs, lr = clk->lr;
    double tl = st->seen ? st->loss_sum / st->seen : NAN;
    double ta = st->seen ? st->correct / st->seen : NAN;
    bool epoch_done = t->batch >= (size_t)t->steps_per_epoch;
    bool run_done = t->step >= t->total_steps;
    if (r->status == 1) return false;
    r->final_train_loss = tl;
    r->final_train_acc = ta;
    if (r->status == 3 || (r->status == 130 && !epoch_done && !run_done)) {
        /* stopped inside the epoch: the row says how far it got, without a test pass */
        if (clk->images > 0 || r->status == 3)
            write_row(t, r, t->epoch + 1, lr, tl, ta, NAN, NAN, secs, ips, r->status == 3);
        return false;
    }
    /* the epoch (or the run) is complete, also when Ctrl-C came on its last step */
    double vl = NAN, va = NAN;
    em_error err;
    if (em_trainer_evaluate(t, &vl, &va, NULL, &err) != EM_OK) {
        snprintf(r->error, sizeof r->error, "%s", err.msg);
        r->status = 1;
        return false;
    }
    r->final_test_loss = vl;
    r->final_test_acc = va;
    if (isnan(st->best_test_acc) || va > st->best_test_acc) st->best_test_acc = va;
    r->best_test_acc = st->best_test_acc;
    write_row(t, r, t->epoch + 1, lr, tl, ta, vl, va, secs, ips, false);
    if (!t->silent) printf("epoch %3d  step %7ld  train loss %.4f acc %6.2f%%  test loss %.4f "
                           "acc %6.2f%%  lr %.4g  %6.1fs  %6.0f img/s\n", t->epoch + 1, t->step,
                           tl, 100 * ta, vl, 100 * va, lr, secs, ips);
    fflush(stdout);
    if (epoch_done) {
        t->epoch++;
        t->batch = 0;
        st->loss_sum = st->correct = st->seen = 0;
        if (t->epoch_hook) {
            int s2 = t->epoch_hook(t->epoch_ctx, t, r);
            if (r->status == 0) r->status = s2;
        }
    }
    agree(t, r);
    return true;
}

/* The whole story: epochs of steps (forward, loss, backward, update, reset), each ended
 * by a test pass, from the current position (a resumed run's) to --epochs or --steps. */
void em_trainer_run(em_trainer *t, em_run_result *r) {
    memset(r, 0, sizeof *r);
    r->diverged_step = -1;
    r->final_test_acc = r->final_test_loss = NAN;
    r->best_test_acc = t->stats.best_test_acc;
    double run_start = em_now();
    em_module_train(t->net, true);
    while (t->step < t->total_steps && r->status == 0) {
        em_error err;
        if (em_loader_seek(t->train, t->epoch, t->batch, &err) != EM_OK) {
            snprintf(r->error, sizeof r->error, "%s", err.msg);
            r->status = 1;
            break;
        }
        em_progress bar;
        char label[48];
        long epochs = (t->total_steps + t->steps_per_epoch - 1) / t->steps_per_epoch;
        snprintf(label, sizeof label, "epoch %d/%ld", t->epoch + 1, epochs);
        em_progress_begin(&bar, stderr, label, t->steps_per_epoch, t->quiet);
        double now = em_now();
        epoch_clock clk = {now, now, 0, em_schedule_lr(&t->sched, t->step)};
        run_epoch(t, r, &clk, &bar);
        em_progress_end(&bar);
        if (!end_epoch(t, r, &clk)) break;
    }
    /* data parallel: the replicas must still be one model (em_dist_same is collective:
     * every process calls it, whatever its status) */
    if (em_dist_size(t->dist) > 1 &&
        !em_dist_same(t->dist, params_hash(em_module_params(t->net))) && r->status != 1) {
        snprintf(r->error, sizeof r->error, "after step %ld the processes hold different "
                 "weights (the MPI sums were not the same on every process)", t->step);
        r->status = 1;
    }
    r->steps = t->step;
    r->seconds = em_now() - run_start;
}

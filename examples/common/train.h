/* examples/common/train.h — the training loop the programs share, and the state it runs on.
 *
 *     em_trainer t;
 *     if (em_trainer_init(&t, &cfg, &train_set, &test_set, &err) != EM_OK) ...
 *     em_run_result r;
 *     em_trainer_run(&t, &r);          // epochs of: forward, loss, backward, step, reset
 *     em_trainer_free(&t);
 *
 * Everything a run needs lives in em_trainer: the model, the optimizer and its schedule,
 * the two loaders, the step's tape, and the position (epoch, batch, step) — which is also
 * exactly what a training checkpoint saves (examples/common/checkpoint.c).
 *
 * Data parallel (dist non-NULL, P processes, docs/distributed.md). Every process holds the
 * whole model and reads the same global batch of --batch examples (same seed, same order);
 * process r takes rows [r n / P, (r + 1) n / P) of it, and with --ghost-batch splits them
 * into G passes of near-equal size (G the same on every process). A pass of m rows seeds its
 * backward with m / n instead of 1, so its mean loss enters as its share of the global mean;
 * the parameter gradients then need only be summed over the processes — one MPI_Allreduce
 * over the model's contiguous gradient block per step — for every process to hold the
 * gradient of the mean loss over the global batch, take the same optimizer step, and keep
 * identical weights (checked at the end of the run). With --bn-sync, BatchNorm layers sum
 * their statistics across the processes (em_bn_sync): then P processes compute what one
 * process computes with the whole batch; without it each normalizes its own rows (ghost
 * batches), which is what one process computes with --ghost-batch n / P. One process is
 * the special case P = 1, G = 1, seed 1: the loop is the same.
 */
#ifndef EM_TRAIN_H
#define EM_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "data/loader.h"
#include "examples/common/dist.h"
#include "examples/common/models.h"
#include "examples/common/network.h"
#include "examples/common/options.h"
#include "io/metrics.h"
#include "layers/layers.h"
#include "optim/optim.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

typedef struct em_trainer em_trainer;

/* What one run produced, for the summary, the metrics and ember-ablate's runs.csv. */
typedef struct em_run_result {
    int status;                 /* 0 done, 3 diverged, 130 interrupted, 1 error          */
    long steps;                 /* optimizer steps taken (in total, with a resume)        */
    long diverged_step;         /* the step whose loss was NaN/Inf/too large, or -1       */
    double diverged_loss;       /* the step's loss (NaN when the input was not finite)  */
    const char *diverged_what;  /* what was NaN/Inf or too large: "a NaN/Inf gradient"  */
    double final_train_loss, final_train_acc;
    double final_test_loss, final_test_acc, best_test_acc;
    double seconds;
    char error[EM_ERROR_MSG_MAX + 64];
} em_run_result;

/* Called after every optimizer step (ember-ablate records curves through it). */
typedef struct em_step_info {
    long step;                  /* 1, 2, ... after this step                              */
    int epoch;
    double lr, loss, acc;       /* this batch                                             */
} em_step_info;
/* Running sums of the current epoch and of the current --log-every window, and the best
 * test accuracy so far: training state like the weights, saved in checkpoints (as one F64
 * tensor, hence all double) so that a resumed epoch reports what a straight one does. */
typedef struct em_epoch_stats {
    double loss_sum, correct, seen;              /* this epoch                             */
    double log_loss_sum, log_correct, log_seen;  /* since the last --log-every row          */
    double best_test_acc;                        /* NaN before the first evaluation         */
} em_epoch_stats;
#define EM_EPOCH_STATS_N (sizeof(em_epoch_stats) / sizeof(double))

typedef void (*em_step_hook)(void *ctx, em_trainer *t, const em_step_info *info);
/* Called after the loader filled t->x and t->labels with the step's n examples, before the
 * forward (to perturb inputs, e.g. in tests of what a NaN in the data does). */
typedef void (*em_batch_hook)(void *ctx, em_trainer *t, int n);
/* Called after each completed epoch's evaluation; a non-zero return stops the run with
 * that status (the program saves --save-every checkpoints through it). */
typedef int (*em_epoch_hook)(void *ctx, em_trainer *t, em_run_result *r);

struct em_trainer {
    const em_config *cfg;
    const em_dataset *train_set, *test_set;
    em_module *net;
    int input_chw[3];
    em_optimizer opt;
    em_schedule sched;
    em_loader *train, *test;
    em_tensor *x;               /* (batch, C, H, W), filled by the training loader       */
    em_tensor *x_test;          /* the same for the test loader (it shrinks differently) */
    int *labels;                /* (batch)                                                */
    em_tape *tape;
    const em_kernels *kernels;  /* the tier every tape of the run computes with (--kernels) */
    const em_dist *dist;        /* the processes of a data-parallel run; NULL: just this */
    em_bn_sync bn_sync;         /* what --bn-sync gives every BatchNorm layer            */
    bool batch_stats;           /* the network holds BatchNorm (batch statistics): a
                                   forward pass in training needs 2 examples at least     */
    em_rng init_rng;
    double mean[3], std[3];     /* the normalization in use                              */
    /* position: the next step reads batch `batch` of epoch `epoch`; `step` taken so far */
    int epoch;
    size_t batch;
    long step;
    long steps_per_epoch, total_steps;
    em_epoch_stats stats;
    double divergence_bound;    /* 10 ln(classes): a loss above it counts as diverged    */
    /* output */
    em_metrics *metrics;
    struct em_confusion *confusion;   /* when set, every test pass counts into it
                                         (confusion.h); NULL: not counted              */
    const volatile sig_atomic_t *interrupted;   /* set by the program's SIGINT handler;
                                                   checked before every step */
    em_step_hook hook;
    void *hook_ctx;
    em_batch_hook batch_hook;
    void *batch_ctx;
    em_epoch_hook epoch_hook;
    void *epoch_ctx;
    bool quiet;
    bool silent;                /* no per-epoch summary line on stdout (ember-ablate)   */
};

/* Build model, optimizer, schedule, loaders and tape from the configuration. dist: the
 * processes that train together (each calls this with the same arguments), or NULL. */
em_code em_trainer_init(em_trainer *t, const em_config *cfg, const em_dataset *train,
                        const em_dataset *test, const em_dist *dist, em_error *err);
/* The same with a model built by the caller (ember-ablate's deep MLPs): the trainer owns
 * net from here on, also on failure (em_trainer_free frees it). input_chw is the shape
 * net takes without the batch dimension; name is for messages. */
em_code em_trainer_init_net(em_trainer *t, const em_config *cfg, const em_dataset *train,
                            const em_dataset *test, em_module *net, const int input_chw[3],
                            const char *name, const em_dist *dist, em_error *err);
void em_trainer_free(em_trainer *t);

/* A forward or backward that failed on this process (what says why) with --bn-sync over
 * several processes: the others are inside a BatchNorm sum it will not make, so only ending
 * the job frees them (em_dist_abort). Returns otherwise: one process, or BatchNorm per
 * process, where the failure goes round in the step's sums and everyone stops together. */
void em_trainer_fail_alone(const em_trainer *t, const char *what);

/* The memory a training step of `batch` examples needs at its peak (the tape's arena),
 * measured, not guessed: the arena's high-water mark is linear in the batch from 8 on (a
 * convolution's backward sums its weight gradient in min(batch, 8) blocks, core/ops/conv.c),
 * so a forward and backward on 8 and on 16 zero images give its fixed and per-example
 * parts. The model
 * is left exactly as it was (parameters, running statistics, counters, random streams;
 * gradients zero). */
em_code em_trainer_step_bytes(em_trainer *t, size_t batch, size_t *bytes, em_error *err);

/* Train from the current position to the end (epochs or --steps), evaluating after each
 * epoch, writing metrics rows and the summary lines. Fills r. */
void em_trainer_run(em_trainer *t, em_run_result *r);

/* Loss and accuracy of the model in evaluation mode over the test loader. With
 * predictions non-NULL, one CSV row per image: index,label,predicted,logit0..logitK; a row
 * that cannot be written stops it with EM_ERR_IO (the caller names the file). With
 * t->confusion set, the pass's confusion matrix replaces its counts. On a terminal and not
 * quiet, a progress line while it runs.
 * Data parallel, without predictions: collective, each process evaluates its rows of every
 * test batch (after em_trainer_sync_buffers) and the sums are reduced; with predictions:
 * this process alone, the whole test set (the programs call it on the root only). */
em_code em_trainer_evaluate(em_trainer *t, double *loss, double *acc, FILE *predictions,
                            em_error *err);
/* Data parallel without --bn-sync: the processes' BatchNorm running statistics differ
 * (each tracks its own shard); this sets them all to their mean over the processes —
 * collective. The running averages are linear in the batch statistics, so averaging now
 * equals averaging after every step. A no-op for one process and with --bn-sync. */
em_code em_trainer_sync_buffers(em_trainer *t, em_error *err);

#endif

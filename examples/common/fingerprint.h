/* examples/common/fingerprint.h — what identifies a run: its data (file names, sizes and a
 * content hash), which a checkpoint records and a resumed run checks, and the agreement of
 * the processes of a data-parallel run on the configuration, the data and the starting
 * state before the first step.
 *
 *     em_data_id id;
 *     em_data_id_of(&id, &train, &test);     // "train-images-idx3-ubyte.gz 26421880, ..."
 *     ...checkpoint metadata "data" = id.files, "data_hash" = id.hash...
 *     if (em_dist_agree(dist, config, &id, em_trainer_state_hash(&t), &err) != EM_OK) ...
 */
#ifndef EM_FINGERPRINT_H
#define EM_FINGERPRINT_H

#include <stdbool.h>
#include <stdint.h>

#include "data/dataset.h"
#include "examples/common/dist.h"
#include "examples/common/train.h"

/* The configuration with the normalization actually used, every number exact: what a
 * checkpoint records and a resumed run must match (em_config_format, then mean and std). */
void em_run_config(const em_trainer *t, char *buf, size_t len);

/* What a resume may change: the horizon (epochs, steps; test_limit), and which examples
 * BatchNorm normalizes together (bn_sync, ghost_batch), as the process count, which is no
 * part of the config, changes it too (docs/distributed.md). A checkpoint of an older
 * ember may lack bn_sync and ghost_batch. */
typedef struct em_run_diff {
    bool horizon;          /* epochs or steps differ                           */
    char bn_then[48];      /* the saved bn_sync/ghost_batch ("" if not saved)  */
    char bn_now[48];       /* this run's                                       */
} em_run_diff;

/* The config a checkpoint at path was saved with (saved) against this run's (now), key by
 * key: false with err naming the first key that differs (both values), apart from what
 * em_run_diff lets change, which d reports. */
bool em_same_run(const char *path, const char *saved, const char *now, em_run_diff *d,
                 em_error *err);

typedef struct em_data_id {
    char files[1024];   /* "train-images-idx3-ubyte.gz 26421880, ..." (basename and bytes
                           of every file read; "generated" for the shapes set)           */
    char hash[17];      /* em_dataset_hash of both splits, 16 hex digits: what decides     */
} em_data_id;

void em_data_id_of(em_data_id *id, const em_dataset *train, const em_dataset *test);

/* A hash of the state training starts from: parameters, buffers, counters, the
 * optimizer's buffers and step, the position (epoch, batch, step). */
uint64_t em_trainer_state_hash(em_trainer *t);

/* Data parallel, collective, before the first step: do all processes run the same job —
 * the same configuration (config: the exact text a checkpoint records), the same data
 * (id->hash) and the same starting state (a --resume or --load file that differs between
 * machines)? EM_OK, or EM_ERR_ARG on every process; process 0's err says what differs on
 * which process (one message for the job), the others' err.msg is empty. One process:
 * EM_OK at once. */
em_code em_dist_agree(const em_dist *d, const char *config, const em_data_id *id,
                      uint64_t state, em_error *err);

#endif

/* examples/common/trainer_ckpt.h — a training checkpoint of a trainer: the model, the
 * optimizer's buffers and step count, the position (epoch, batch, step) and the epoch's
 * running sums, with the run's configuration and data recorded beside them (safetensors
 * metadata, io/checkpoint.h). A resume continues the run bit for bit, and refuses a file
 * of another model, another configuration (em_same_run) or other data.
 *
 *     if (em_trainer_resume(&t, "run.st", &data, &err) != EM_OK) ...   // exit 2
 *     em_trainer_run(&t, &r);
 *     if (em_trainer_save(&t, "run.st", &data, &err) != EM_OK) ...     // exit 1
 */
#ifndef EM_TRAINER_CKPT_H
#define EM_TRAINER_CKPT_H

#include "examples/common/fingerprint.h"
#include "examples/common/train.h"

/* Save to path (through a temporary file: an earlier checkpoint there stays whole until
 * the new one is complete); a model holding a NaN or Inf is refused (EM_ERR_NUMERIC). */
em_code em_trainer_save(em_trainer *t, const char *path, const em_data_id *data,
                        em_error *err);
/* Restore the state saved at path into a trainer built from the same configuration:
 * EM_ERR_FORMAT for a file that is not such a checkpoint or is corrupt, EM_ERR_ARG for
 * one of another run (the message names what differs). Notes go to stdout. */
em_code em_trainer_resume(em_trainer *t, const char *path, const em_data_id *data,
                          em_error *err);

/* Before a --load: a checkpoint ember saved records its network (metadata "network", the
 * identity em_config_network_id gives); one of another network is refused (EM_ERR_ARG),
 * also when its tensors would fit this one (relu where it had tanh, ln where it had gn:4).
 * A file without the entry (PyTorch's, an older ember's) or one that cannot be read is
 * left to the load (EM_OK). */
em_code em_trainer_check_load(em_trainer *t, const char *path, em_error *err);

#endif

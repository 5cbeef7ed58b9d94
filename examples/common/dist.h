/* examples/common/dist.h — the processes of a data-parallel run: MPI behind five calls.
 *
 *     em_dist d;
 *     if (em_dist_init(&d, &argc, &argv, &err) != EM_OK) ...   // MPI_Init under mpirun
 *     double s[2] = {loss_sum, correct};
 *     em_dist_sum(&d, s, 2);                   // s := its sum over all processes
 *     em_dist_sum_real(&d, grad, n);           // the whole gradient block in one call
 *     em_bn_sync sync = em_dist_bn_sync(&d);   // SyncBatchNorm's `sum` (core/ops.h)
 *     ...
 *     em_dist_finalize(&d);
 *
 * This is the only file pair of ember that knows MPI: dist_mpi.c when meson found MPI
 * (-Dmpi=auto|enabled), dist_none.c otherwise — the same calls for one process, so the
 * programs carry no #ifdef. core, layers and optim know nothing of it: SyncBatchNorm reaches
 * core through em_bn_sync's function pointer, and the gradient block is em_module_params.
 *
 * A program started by an MPI launcher (mpirun, mpiexec, srun: recognized by the variables
 * they set, OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK) initializes MPI and runs as one of
 * `size` processes; started alone it never touches MPI (no singleton start-up). A build
 * without MPI refuses to run under a launcher with more than one process, rather than run
 * the whole job `size` times.
 *
 * Every call below except em_dist_is_root, em_dist_size and em_dist_abort is collective:
 * all processes make it, in the same order, with the same n. A NULL em_dist is one
 * process. Errors of MPI itself abort the job (MPI's default handler): a lost process
 * cannot be recovered from. A failure one process meets alone, while the others are in a
 * collective it will not make (or on their way into one), ends the job the same way, with
 * em_dist_abort; a failure the processes can agree on (em_dist_max of a status, a flag in
 * the step's sums) stops them all together instead.
 */
#ifndef EM_DIST_H
#define EM_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/errors.h"
#include "core/ops.h"

typedef struct em_dist {
    int rank, size;           /* this process and how many; 0 and 1 without MPI           */
    void *comm;               /* the MPI communicator (dist_mpi.c), NULL for one process  */
} em_dist;

/* true when ember was built with MPI */
bool em_dist_available(void);
/* Under a launcher: MPI_Init (threads: funneled, MPI is called from the main thread only)
 * and a private copy of the world communicator; else one process. EM_ERR_ARG for a
 * launcher with more than one process in a build without MPI. */
em_code em_dist_init(em_dist *d, int *argc, char ***argv, em_error *err);
/* MPI_Finalize when em_dist_init started MPI; then d is one process again. */
void em_dist_finalize(em_dist *d);

static inline int em_dist_size(const em_dist *d) { return d ? d->size : 1; }
static inline bool em_dist_is_root(const em_dist *d) { return !d || d->rank == 0; }

/* buf[0..n) := its elementwise sum over all processes, the same bits on every process */
void em_dist_sum(const em_dist *d, double *buf, int n);
void em_dist_sum_real(const em_dist *d, em_real *buf, size_t n);
/* the largest v over all processes (an agreed exit status) */
int em_dist_max(const em_dist *d, int v);
/* true when every process passed the same v (the replicas' weights hash to one value) */
bool em_dist_same(const em_dist *d, uint64_t v);
/* SyncBatchNorm: {sum = em_dist_sum over d, ctx = d}; d must outlive every forward */
em_bn_sync em_dist_bn_sync(const em_dist *d);

/* A failure this process met alone (what: its message) while the others wait for it in a
 * collective: print "who: what" and "who: process r of P failed alone ..." to stderr, then
 * MPI_Abort(code), which ends every process of the job (mpirun exits with code). Returns
 * at once, printing nothing, for one process: the caller goes on as without MPI. */
void em_dist_abort(const em_dist *d, const char *who, const char *what, int code);

/* Point to point, for results that only the root writes (ember-ablate): `to` receives
 * exactly what `from` sent with the same tag, in order. em_dist_recv mallocs *buf
 * (n bytes plus a terminating 0); the caller frees it. */
em_code em_dist_send(const em_dist *d, int to, int tag, const void *buf, size_t n,
                     em_error *err);
em_code em_dist_recv(const em_dist *d, int from, int tag, char **buf, size_t *n,
                     em_error *err);

/* The launcher's process count from the environment (1 when not launched): what
 * em_dist_init will see, for the message of a build without MPI. */
int em_dist_launched_size(void);

#endif

/* examples/common/dist.c — what both builds of dist.h share: recognizing a launcher. */
#include "dist.h"

#include <stdlib.h>

/* the value of an environment variable as a count >= 1, or 0 */
static int env_count(const char *name) {
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < 1 || v > 1 << 24 ? 0 : (int)v;
}

int em_dist_launched_size(void) {
    int n = env_count("OMPI_COMM_WORLD_SIZE");   /* Open MPI's mpirun */
    if (!n) n = env_count("PMI_SIZE");            /* MPICH's hydra, srun --mpi=pmi2 */
    if (n) return n;
    /* PMIx launchers (srun --mpi=pmix) name the rank but not the size */
    return getenv("PMIX_RANK") || getenv("PMI_RANK") ? -1 : 0;
}

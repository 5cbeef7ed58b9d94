/* examples/common/dist_none.c — dist.h for a build without MPI: always one process. */
#include "dist.h"

#include <string.h>

bool em_dist_available(void) { return false; }

em_code em_dist_init(em_dist *d, int *argc, char ***argv, em_error *err) {
    (void)argc;
    (void)argv;
    *d = (em_dist){0, 1, NULL};
    int launched = em_dist_launched_size();
    if (launched > 1)
        return em_error_set(err, EM_ERR_ARG, "started as one of %d MPI processes, but this "
                            "ember was built without MPI, so each would run the whole job: "
                            "install libopenmpi-dev and reconfigure with -Dmpi=enabled",
                            launched);
    return EM_OK;
}

void em_dist_finalize(em_dist *d) { *d = (em_dist){0, 1, NULL}; }

void em_dist_sum(const em_dist *d, double *buf, int n) {
    (void)d;
    (void)buf;
    (void)n;
}

void em_dist_sum_real(const em_dist *d, em_real *buf, size_t n) {
    (void)d;
    (void)buf;
    (void)n;
}

int em_dist_max(const em_dist *d, int v) {
    (void)d;
    return v;
}

bool em_dist_same(const em_dist *d, uint64_t v) {
    (void)d;
    (void)v;
    return true;
}

void em_dist_abort(const em_dist *d, const char *who, const char *what, int code) {
    (void)d;
    (void)who;
    (void)what;
    (void)code;
}

static void sum_one(double *buf, int n, void *ctx) {
    (void)buf;
    (void)n;
    (void)ctx;
}

em_bn_sync em_dist_bn_sync(const em_dist *d) { return (em_bn_sync){sum_one, (void *)d}; }

em_code em_dist_send(const em_dist *d, int to, int tag, const void *buf, size_t n,
                     em_error *err) {
    (void)d;
    (void)tag;
    (void)buf;
    (void)n;
    return em_error_set(err, EM_ERR_STATE, "no process %d: built without MPI", to);
}

em_code em_dist_recv(const em_dist *d, int from, int tag, char **buf, size_t *n,
                     em_error *err) {
    (void)d;
    (void)tag;
    *buf = NULL;
    *n = 0;
    return em_error_set(err, EM_ERR_STATE, "no process %d: built without MPI", from);
}

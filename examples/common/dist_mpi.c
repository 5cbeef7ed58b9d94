/* examples/common/dist_mpi.c — dist.h over MPI (Open MPI, MPICH, ...). */
#include "dist.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

/* em_real as MPI sees it: the library is built once with float, once with double */
#ifdef EM_DOUBLE
#define EM_MPI_REAL MPI_DOUBLE
#else
#define EM_MPI_REAL MPI_FLOAT
#endif

static MPI_Comm comm_of(const em_dist *d) { return *(const MPI_Comm *)d->comm; }
static bool active(const em_dist *d) { return d && d->comm; }

bool em_dist_available(void) { return true; }

em_code em_dist_init(em_dist *d, int *argc, char ***argv, em_error *err) {
    *d = (em_dist){0, 1, NULL};
    if (!em_dist_launched_size()) return EM_OK;   /* started alone: no MPI at all */
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return em_error_set(err, EM_ERR_STATE, "MPI_Init failed");
    MPI_Comm *comm = malloc(sizeof *comm);
    if (!comm) {
        MPI_Finalize();
        return em_error_set(err, EM_ERR_NOMEM, "out of memory");
    }
    /* a communicator of our own: no message of ours can meet a library's */
    MPI_Comm_dup(MPI_COMM_WORLD, comm);
    MPI_Comm_rank(*comm, &d->rank);
    MPI_Comm_size(*comm, &d->size);
    d->comm = comm;
    return EM_OK;
}

void em_dist_finalize(em_dist *d) {
    if (active(d)) {
        MPI_Comm_free((MPI_Comm *)d->comm);
        free(d->comm);
        MPI_Finalize();
    }
    *d = (em_dist){0, 1, NULL};
}

void em_dist_sum(const em_dist *d, double *buf, int n) {
    if (active(d) && d->size > 1 && n > 0)
        MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, comm_of(d));
}

void em_dist_sum_real(const em_dist *d, em_real *buf, size_t n) {
    if (!active(d) || d->size == 1) return;
    for (size_t at = 0; at < n;) {   /* MPI counts are int */
        int k = n - at > (size_t)INT_MAX ? INT_MAX : (int)(n - at);
        MPI_Allreduce(MPI_IN_PLACE, buf + at, k, EM_MPI_REAL, MPI_SUM, comm_of(d));
        at += (size_t)k;
    }
}

int em_dist_max(const em_dist *d, int v) {
    if (active(d) && d->size > 1) MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, comm_of(d));
    return v;
}

bool em_dist_same(const em_dist *d, uint64_t v) {
    if (!active(d) || d->size == 1) return true;
    uint64_t m[2] = {v, ~v};   /* max v and max ~v = ~(min v) */
    MPI_Allreduce(MPI_IN_PLACE, m, 2, MPI_UINT64_T, MPI_MAX, comm_of(d));
    return m[0] == v && ~m[1] == v;
}

void em_dist_abort(const em_dist *d, const char *who, const char *what, int code) {
    if (!active(d) || d->size == 1) return;
    fflush(stdout);
    fprintf(stderr, "%s: %s\n%s: process %d of %d failed alone, while the others wait for it "
            "in a collective: ending the job (MPI_Abort)\n", who, what, who, d->rank, d->size);
    fflush(stderr);
    MPI_Abort(comm_of(d), code);
    _Exit(code);   /* MPI_Abort does not return; should it, this process still ends */
}

static void sum_bn(double *buf, int n, void *ctx) { em_dist_sum(ctx, buf, n); }

em_bn_sync em_dist_bn_sync(const em_dist *d) { return (em_bn_sync){sum_bn, (void *)d}; }

em_code em_dist_send(const em_dist *d, int to, int tag, const void *buf, size_t n,
                     em_error *err) {
    if (!active(d) || to < 0 || to >= d->size || to == d->rank)
        return em_error_set(err, EM_ERR_STATE, "cannot send to process %d", to);
    if (n > (size_t)INT_MAX)
        return em_error_set(err, EM_ERR_ARG, "a message of %zu bytes is too long for MPI", n);
    MPI_Send(buf, (int)n, MPI_BYTE, to, tag, comm_of(d));
    return EM_OK;
}

em_code em_dist_recv(const em_dist *d, int from, int tag, char **buf, size_t *n,
                     em_error *err) {
    *buf = NULL;
    *n = 0;
    if (!active(d) || from < 0 || from >= d->size || from == d->rank)
        return em_error_set(err, EM_ERR_STATE, "cannot receive from process %d", from);
    MPI_Status st;
    int count;
    MPI_Probe(from, tag, comm_of(d), &st);
    MPI_Get_count(&st, MPI_BYTE, &count);
    char *b = malloc((size_t)count + 1);
    if (!b) return em_error_set(err, EM_ERR_NOMEM, "out of memory for %d bytes", count);
    MPI_Recv(b, count, MPI_BYTE, from, tag, comm_of(d), MPI_STATUS_IGNORE);
    b[count] = 0;
    *buf = b;
    *n = (size_t)count;
    return EM_OK;
}

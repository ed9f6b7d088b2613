/* core/runtime/comm.c - MPI collectives behind a small interface (comm.h). */
#include "runtime/comm.h"

#include <limits.h>
#include <mpi.h>

tr_status tr_comm_init(tr_comm *c, int *argc, char ***argv, tr_error *err)
{
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return tr_error_set(err, TR_ERR_INTERNAL, "MPI_Init_thread failed");
    if (provided < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        return tr_error_set(err, TR_ERR_INTERNAL,
                            "MPI provides thread level %d, the trainer needs MPI_THREAD_FUNNELED (%d)",
                            provided, MPI_THREAD_FUNNELED);
    }
    *c = tr_comm_world();
    return TR_OK;
}

tr_comm tr_comm_world(void)
{
    tr_comm c = {0, 1, 0};
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) {
        c.mpi = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c.size);
    }
    return c;
}

void tr_comm_finalize(tr_comm *c)
{
    if (c->mpi)
        MPI_Finalize();
    c->mpi = 0;
}

void tr_comm_max_float(const tr_comm *c, float *x, int n)
{
    if (c->mpi && c->size > 1)
        MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD);
}

void tr_comm_sum_double(const tr_comm *c, double *x, int n)
{
    if (c->mpi && c->size > 1)
        MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void tr_comm_sum_long(const tr_comm *c, long *x, int n)
{
    if (c->mpi && c->size > 1)
        MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
}

void tr_comm_min_max_u64(const tr_comm *c, uint64_t *min, uint64_t *max)
{
    if (c->mpi && c->size > 1) { /* one allreduce: min(x) = ~max(~x) */
        uint64_t x[2] = {*max, ~*min};
        MPI_Allreduce(MPI_IN_PLACE, x, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
        *max = x[0];
        *min = ~x[1];
    }
}

/* In-place SUM allreduce in buckets of at most TR_COMM_BUCKET values. */
static void sum_bucketed(const tr_comm *c, void *x, size_t n, MPI_Datatype type, size_t elem)
{
    if (!c->mpi || c->size < 2)
        return;
    for (size_t o = 0; o < n; o += TR_COMM_BUCKET) {
        size_t m = n - o < TR_COMM_BUCKET ? n - o : TR_COMM_BUCKET;
        MPI_Allreduce(MPI_IN_PLACE, (char *)x + o * elem, (int)m, type, MPI_SUM, MPI_COMM_WORLD);
    }
}

void tr_comm_sum_i64(const tr_comm *c, int64_t *x, size_t n)
{
    sum_bucketed(c, x, n, MPI_INT64_T, sizeof *x);
}

void tr_comm_sum_float(const tr_comm *c, float *x, size_t n)
{
    sum_bucketed(c, x, n, MPI_FLOAT, sizeof *x);
}

int tr_comm_first_failure(const tr_comm *c, int failed)
{
    int r = failed ? c->rank : INT_MAX;
    if (c->mpi && c->size > 1)
        MPI_Allreduce(MPI_IN_PLACE, &r, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return r == INT_MAX ? -1 : r;
}

int tr_comm_bcast_int(const tr_comm *c, int value, int root)
{
    if (c->mpi && c->size > 1)
        MPI_Bcast(&value, 1, MPI_INT, root, MPI_COMM_WORLD);
    return value;
}

int tr_comm_local_size(const tr_comm *c)
{
    if (!c->mpi || c->size < 2)
        return 1;
    MPI_Comm node;
    int n = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &n);
        MPI_Comm_free(&node);
    }
    return n;
}

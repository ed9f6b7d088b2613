/* core/runtime/comm.h - the few MPI collectives the trainer needs, and nothing else.
 *
 * Every function works without MPI too: when MPI was not initialised (unit
 * tests, `trainer predict`) the process is rank 0 of 1 and the collectives
 * are identity operations. */
#ifndef TR_COMM_H
#define TR_COMM_H

#include <stddef.h>
#include <stdint.h>
#include "trainer/status.h"

typedef struct tr_comm {
    int rank, size;
    int mpi; /* 1 if MPI is initialised and in use */
} tr_comm;

/* MPI_Init_thread(FUNNELED) and checks the level provided. */
tr_status tr_comm_init(tr_comm *c, int *argc, char ***argv, tr_error *err);
/* The world as it is now: MPI's if initialised, else rank 0 of 1. */
tr_comm tr_comm_world(void);
void tr_comm_finalize(tr_comm *c);

/* In place, over all ranks. */
void tr_comm_max_float(const tr_comm *c, float *x, int n);
void tr_comm_sum_double(const tr_comm *c, double *x, int n);
void tr_comm_sum_long(const tr_comm *c, long *x, int n);
void tr_comm_min_max_u64(const tr_comm *c, uint64_t *min, uint64_t *max);
/* Integer sum in buckets of at most TR_COMM_BUCKET values, so large models
 * do not need one huge temporary buffer inside MPI. */
#define TR_COMM_BUCKET (4u << 20)
void tr_comm_sum_i64(const tr_comm *c, int64_t *x, size_t n);
void tr_comm_sum_float(const tr_comm *c, float *x, size_t n);

/* Ranks on this machine (sharing memory with this one), 1 without MPI. */
int tr_comm_local_size(const tr_comm *c);

/* value as given on root, on every rank. */
int tr_comm_bcast_int(const tr_comm *c, int value, int root);

/* Agreement after work that may fail on some ranks only: returns the lowest
 * rank whose `failed` is non-zero, or -1 when every rank succeeded. */
int tr_comm_first_failure(const tr_comm *c, int failed);

#endif

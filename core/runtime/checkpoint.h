/* core/runtime/checkpoint.h - the training state to/from HDF5 (DESIGN.md
 * layout; checkpoint.c). Above the session: it reads and writes a session's
 * parameters, optimizer state and counters. */
#ifndef TR_CHECKPOINT_H
#define TR_CHECKPOINT_H

#include <stdio.h>
#include "runtime/session.h"

/* load: the parameters; with resume also the optimizer state and the step.
 * Nothing in s changes unless the whole checkpoint was read. */
tr_status tr_checkpoint_save(tr_session *s, const char *path, tr_error *err);
tr_status tr_checkpoint_load(tr_session *s, const char *path, int resume,
                             tr_error *err);
/* The step and metric value best.h5 was written for (keep_best); -1 if
 * the file is missing or has none. */
long tr_checkpoint_best_of(const char *path, double *value);
/* `trainer inspect`: what a checkpoint holds, readable without the plugin. */
tr_status tr_checkpoint_inspect(const char *path, FILE *out, tr_error *err);

#endif

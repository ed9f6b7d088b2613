/* core/programs/attention_file.h - attention.h5 (attention_file.c). */
#ifndef TR_ATTENTION_FILE_H
#define TR_ATTENTION_FILE_H

#include "runtime/session.h"

/* Appends (or replaces) group step_<step> of attention.h5 with the attention
 * maps of the first train.attention_samples held-out pairs; atomic like
 * checkpoints. */
tr_status tr_attention_write(tr_session *s, const char *path,
                             const tr_eval *ev, tr_error *err);

#endif

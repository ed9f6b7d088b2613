/* core/data/load.h - a run's data, whatever its data.kind (load.c): the one
 * entry the runtime calls, above every reader. */
#ifndef TR_LOAD_H
#define TR_LOAD_H

#include "data/dataset.h"

/* The vocabularies and (with_pairs, or always where the vocabularies come
 * from the data) the encoded samples. */
tr_status tr_data_load(tr_vocabs *v, tr_pairs *p, tr_config *cfg,
                       int with_pairs, tr_error *err);
/* 1 if the task is classification (a class per sample), 0 for sequences. */
int tr_data_classifies(const tr_config *cfg, const tr_pairs *p);

#endif

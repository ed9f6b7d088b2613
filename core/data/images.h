/* core/data/images.h - gzipped IDX images (Fashion-MNIST's files; images.c). */
#ifndef TR_IMAGES_H
#define TR_IMAGES_H

#include "data/dataset.h"

tr_status tr_images_load(tr_vocabs *v, tr_pairs *p, const tr_config *cfg,
                         int with_images, tr_error *err);
/* Class names for `classes` labels (Fashion-MNIST's, else the numbers). */
tr_status tr_images_vocab(tr_vocab *v, int classes, const tr_config *cfg,
                          tr_error *err);

#endif

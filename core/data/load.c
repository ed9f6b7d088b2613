/* core/data/load.c - picks the reader of data.kind (load.h). */
#include "data/load.h"
#include "data/hdf5_data.h"
#include "data/images.h"
#include "data/augment.h"

#include <string.h>

int tr_data_classifies(const tr_config *cfg, const tr_pairs *p)
{
    return cfg->data_kind == TR_DATA_IDX_IMAGES || cfg->data_kind == TR_DATA_TEXT_LABELS ||
           (cfg->data_kind == TR_DATA_HDF5 && p->labels);
}

tr_status tr_data_load(tr_vocabs *v, tr_pairs *p, tr_config *cfg,
                       int with_pairs, tr_error *err)
{
    memset(p, 0, sizeof *p);
    tr_status st = cfg->data_kind == TR_DATA_HDF5         ? tr_hdf5_data_load(v, p, cfg, err)
                   : cfg->data_kind == TR_DATA_IDX_IMAGES ? tr_images_load(v, p, cfg, with_pairs, err)
                                                          : tr_text_data_load(v, p, cfg, with_pairs, err);
    /* data.test_rotate: the held-out images (after the training ones) turned
     * once, here, so evaluation, attention.h5 and `eval` all see them so */
    if (!st && p->pixels && cfg->test_rotate > 0 && cfg->test_size > 0) {
        const size_t size = (size_t)p->channels * p->height * p->width;
        tr_rotate_heldout(p->pixels + (size_t)cfg->train_size * size, p->index ? p->index + cfg->train_size : NULL,
                          cfg->test_size, p->channels, p->height, p->width, cfg->test_rotate, cfg->rotate_bilinear);
    }
    return st;
}

/* core/data/load.c - picks the reader of data.kind (load.h). */
#include "data/load.h"
#include "data/hdf5_data.h"
#include "data/images.h"

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
    if (cfg->data_kind == TR_DATA_HDF5)
        return tr_hdf5_data_load(v, p, cfg, err);
    if (cfg->data_kind == TR_DATA_IDX_IMAGES)
        return tr_images_load(v, p, cfg, with_pairs, err);
    return tr_text_data_load(v, p, cfg, with_pairs, err);
}

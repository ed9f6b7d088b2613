/* core/data/hdf5_data.h - data.kind hdf5: arrays made with h5py
 * (docs/data_hdf5.md; hdf5_data.c). */
#ifndef TR_HDF5_DATA_H
#define TR_HDF5_DATA_H

#include "data/dataset.h"

/* Reads everything and fills in what the file decides: cfg's train_size
 * and test_size (-1: every row) and src_len, tgt_len. */
tr_status tr_hdf5_data_load(tr_vocabs *v, tr_pairs *p, tr_config *cfg, tr_error *err);

#endif

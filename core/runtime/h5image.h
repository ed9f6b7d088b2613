/* core/runtime/h5image.h - HDF5 files built in memory and written in one
 * piece (h5image.c). The checkpoint, best.h5 and attention.h5 are made this
 * way so that a full disk (or any write error) is met by our own write(2),
 * which says why, and never by HDF5's flush of an open file: HDF5 keeps a
 * file it could not flush open, and tries again at exit, where it crashed. */
#ifndef TR_H5IMAGE_H
#define TR_H5IMAGE_H

#include <hdf5.h>
#include <stddef.h>

/* A new empty file in memory (name: for HDF5's messages only); < 0 on error. */
hid_t tr_h5image_create(const char *name);
/* The file at path, read whole into memory, to change there; < 0 if it
 * cannot be read as HDF5. */
hid_t tr_h5image_open(const char *path);
/* Closes f (always) and writes its bytes to tmp, fsyncs it and renames it
 * onto path, then fsyncs the folder. On failure returns -1 with why filled
 * (the reason, e.g. "No space left on device"), tmp removed, and path as it
 * was. */
int tr_h5image_save(hid_t f, const char *tmp, const char *path, char *why, size_t len);

#endif

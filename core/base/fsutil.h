/* core/base/fsutil.h - the few file-system steps the trainer's atomic
 * writes need (fsutil.c). */
#ifndef TR_FSUTIL_H
#define TR_FSUTIL_H

/* mkdir -p; 0 on success. */
int tr_mkdirs(const char *path);
/* Copies a file (for atomic updates of files that grow); 0 on success. */
int tr_copy_file(const char *from, const char *to);
/* fsync a file or (dir != 0) a folder; 0 on success. */
int tr_fsync_path(const char *path, int dir);

#endif

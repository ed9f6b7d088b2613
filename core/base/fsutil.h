/* core/base/fsutil.h - the few file-system steps the trainer's atomic
 * writes need (fsutil.c). */
#ifndef TR_FSUTIL_H
#define TR_FSUTIL_H

/* mkdir -p; 0 on success. */
int tr_mkdirs(const char *path);
/* fsync a file or (dir != 0) a folder; 0 on success. */
int tr_fsync_path(const char *path, int dir);

#endif

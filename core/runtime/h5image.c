/* core/runtime/h5image.c - HDF5 files built in memory, written in one piece. */
#define _POSIX_C_SOURCE 200809L
#include "runtime/h5image.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "base/fsutil.h"

/* the core driver without a backing store: nothing reaches the disk */
static hid_t memory_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && (H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0)) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

hid_t tr_h5image_create(const char *name)
{
    hid_t fapl = memory_fapl();
    if (fapl < 0)
        return -1;
    hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    return f;
}

hid_t tr_h5image_open(const char *path)
{
    hid_t fapl = memory_fapl();
    if (fapl < 0)
        return -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl); /* read whole; changes stay in memory */
    H5Pclose(fapl);
    return f;
}

/* TR_TEST_SLOW_WRITE=US (tests only: tests/cli/kill_anywhere.sh)
 * writes files in 4 KiB pieces with a pause of US microseconds after each,
 * so a kill at a random moment often lands inside a write. */
static long slow_write_us(void)
{
    const char *e = getenv("TR_TEST_SLOW_WRITE");
    return e ? atol(e) : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    const long pause = slow_write_us();
    while (n > 0) {
        ssize_t w = write(fd, p, pause > 0 && n > 4096 ? 4096 : n);
        if (pause > 0 && w > 0)
            nanosleep(&(struct timespec){pause / 1000000, pause % 1000000 * 1000}, NULL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int tr_h5image_save(hid_t f, const char *tmp, const char *path, char *why, size_t len)
{
    ssize_t size = H5Fflush(f, H5F_SCOPE_GLOBAL) < 0 ? -1 : H5Fget_file_image(f, NULL, 0);
    char *buf = size > 0 ? malloc((size_t)size) : NULL;
    if (buf && H5Fget_file_image(f, buf, (size_t)size) != size) {
        free(buf);
        buf = NULL;
    }
    H5Fclose(f); /* in memory: closing cannot fail on the disk */
    if (!buf) {
        snprintf(why, len, "HDF5 could not lay out the file in memory");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = 0;
    if (fd < 0 || write_all(fd, buf, (size_t)size) || fsync(fd))
        e = errno ? errno : EIO;
    if (fd >= 0 && close(fd) && !e)
        e = errno;
    free(buf);
    if (!e && rename(tmp, path))
        e = errno;
    if (e) {
        unlink(tmp);
        snprintf(why, len, "%s", strerror(e));
        return -1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    tr_fsync_path(dirname(dir), 1);
    return 0;
}

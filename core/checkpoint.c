/* core/checkpoint.c - parameters to and from HDF5.
 *
 * Layout (DESIGN.md): /params/<tensor name> float32 datasets with the
 * tensor's shape; root attributes step, epoch, plugin, plugin_version,
 * abi_version, trainer_version and config (the YAML text that ran), strings
 * as variable-length UTF-8 so h5py reads them as str. Written to
 * "<path>.tmp", closed, fsync'ed and renamed: the last good checkpoint is
 * never left half-written. */
#define _POSIX_C_SOURCE 200809L
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static herr_t attr_str(hid_t loc, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t r = a < 0 ? -1 : H5Awrite(a, t, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return r;
}

static herr_t attr_i64(hid_t loc, const char *name, long long value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t r = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_LLONG, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return r;
}

/* Reads a string attribute (variable or fixed length) into buf. */
static int read_attr_str(hid_t loc, const char *name, char *buf, size_t len)
{
    buf[0] = 0;
    if (H5Aexists(loc, name) <= 0)
        return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    int r = -1;
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft)); /* HDF5 will not convert UTF-8 <-> ASCII */
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0 && v) {
                snprintf(buf, len, "%s", v);
                H5free_memory(v);
                r = 0;
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(ft);
            char *tmp = calloc(1, n + 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, n + 1);
            H5Tset_cset(mt, H5Tget_cset(ft));
            if (tmp && H5Aread(a, mt, tmp) >= 0) {
                snprintf(buf, len, "%s", tmp);
                r = 0;
            }
            H5Tclose(mt);
            free(tmp);
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return r;
}

static int fsync_path(const char *path, int dir)
{
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0777) && errno != EEXIST ? -1 : 0;
}

tr_status tr_checkpoint_save(const tr_session *s, const char *path,
                             tr_error *err)
{
    char dir[4096], tmp[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        if (make_dirs(dir))
            return tr_error_set(err, TR_ERR_IO, "%s: cannot create folder: %s", dir, strerror(errno));
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0)
        return tr_error_set(err, TR_ERR_IO, "%s: cannot create checkpoint file", tmp);
    int bad = 0;
    const tr_plugin *P = s->plugin.desc;
    long spe = s->cfg->train_size > 0 ? tr_session_steps_per_epoch(s) : 1;
    bad |= attr_i64(f, "step", s->step) < 0;
    bad |= attr_i64(f, "epoch", s->step / (spe > 0 ? spe : 1)) < 0;
    bad |= attr_i64(f, "abi_version", TR_ABI_VERSION) < 0;
    bad |= attr_str(f, "plugin", P->name) < 0;
    bad |= attr_str(f, "plugin_version", P->version) < 0;
    bad |= attr_str(f, "trainer_version", TR_VERSION) < 0;
    bad |= attr_str(f, "config", s->cfg->text) < 0;
    hid_t g = H5Gcreate2(f, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad |= g < 0;
    for (int i = 0; i < s->reg.n && !bad; i++) {
        const tr_tensor *t = &s->reg.tensors[i];
        hsize_t dims[TR_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++)
            dims[d] = (hsize_t)t->shape[d];
        hid_t sp = H5Screate_simple(t->ndim, dims, NULL);
        hid_t ds = H5Dcreate2(g, t->name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        bad |= ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->params + t->offset) < 0;
        if (ds >= 0) H5Dclose(ds);
        H5Sclose(sp);
    }
    if (g >= 0) H5Gclose(g);
    bad |= H5Fclose(f) < 0;
    if (bad || fsync_path(tmp, 0)) {
        unlink(tmp);
        return tr_error_set(err, TR_ERR_IO, "%s: writing the checkpoint failed (disk full?); the previous checkpoint is untouched", tmp);
    }
    if (rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return tr_error_set(err, TR_ERR_IO, "%s: cannot rename onto %s: %s", tmp, path, strerror(e));
    }
    fsync_path(dir, 1);
    return TR_OK;
}

tr_status tr_checkpoint_load(tr_session *s, const char *path, tr_error *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct stat st;
    if (stat(path, &st))
        return tr_error_set(err, TR_ERR_CHECKPOINT, "%s: no checkpoint (%s); train first with: trainer %s",
                            path, strerror(errno), s->cfg->path);
    if (H5Fis_hdf5(path) <= 0)
        return tr_error_set(err, TR_ERR_CHECKPOINT, "%s: not an HDF5 file (corrupt or truncated checkpoint)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return tr_error_set(err, TR_ERR_CHECKPOINT, "%s: cannot open (corrupt or truncated checkpoint)", path);
    tr_status r = TR_OK;
    char plugin[256];
    const char *want = s->plugin.desc->name;
    if (read_attr_str(f, "plugin", plugin, sizeof plugin) || strcmp(plugin, want) != 0) {
        r = tr_error_set(err, TR_ERR_CHECKPOINT, "%s: checkpoint is for plugin '%s', the config uses '%s'", path,
                         plugin[0] ? plugin : "(none)", want);
        goto done;
    }
    for (int i = 0; i < s->reg.n; i++) {
        const tr_tensor *t = &s->reg.tensors[i];
        char dname[TR_MAX_NAME + 16];
        snprintf(dname, sizeof dname, "/params/%s", t->name);
        if (H5Lexists(f, "params", H5P_DEFAULT) <= 0 || H5Lexists(f, dname, H5P_DEFAULT) <= 0) {
            r = tr_error_set(err, TR_ERR_CHECKPOINT, "%s: no parameter '%s' in the checkpoint", path, t->name);
            goto done;
        }
        hid_t ds = H5Dopen2(f, dname, H5P_DEFAULT);
        hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
        hsize_t dims[TR_MAX_DIMS + 4];
        int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        int same = nd == t->ndim && nd <= TR_MAX_DIMS;
        if (same) {
            H5Sget_simple_extent_dims(sp, dims, NULL);
            for (int d = 0; d < nd; d++)
                same &= dims[d] == (hsize_t)t->shape[d];
        }
        if (!same) {
            char a[64], b[64] = "?";
            int fd[TR_MAX_DIMS];
            if (nd > 0 && nd <= TR_MAX_DIMS) {
                H5Sget_simple_extent_dims(sp, dims, NULL);
                for (int d = 0; d < nd; d++) fd[d] = (int)dims[d];
                tr_shape_str(b, sizeof b, nd, fd);
            }
            r = tr_error_set(err, TR_ERR_CHECKPOINT, "%s: parameter '%s' has shape %s in the checkpoint, the model wants %s",
                             path, t->name, b, tr_shape_str(a, sizeof a, t->ndim, t->shape));
        } else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->params + t->offset) < 0) {
            r = tr_error_set(err, TR_ERR_CHECKPOINT, "%s: cannot read parameter '%s' (corrupt checkpoint)", path, t->name);
        }
        if (sp >= 0) H5Sclose(sp);
        if (ds >= 0) H5Dclose(ds);
        if (r)
            goto done;
    }
done:
    H5Fclose(f);
    return r;
}

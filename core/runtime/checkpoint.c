/* core/runtime/checkpoint.c - the training state to and from HDF5.
 *
 * Layout (DESIGN.md, docs/results.md): /params/<tensor> float32 datasets
 * with the tensor's shape; /optimizer/m/<tensor> and /optimizer/v/<tensor>
 * (Adam) or /optimizer/velocity/<tensor> (SGD); root attributes step,
 * epoch, data_cursor, seed, rng, optimizer, plugin, plugin_version,
 * abi_version, trainer_version and config (the YAML text that ran), strings
 * as variable-length UTF-8 so h5py reads them as str. The step is the whole
 * data and RNG state: the order of an epoch is drawn from (seed, epoch), so
 * resuming at step k replays exactly what an uninterrupted run does.
 * Written to "<path>.tmp", closed, fsync'ed and renamed: the last good
 * checkpoint is never left half-written. */
#define _POSIX_C_SOURCE 200809L
#include "runtime/session.h"
#include "runtime/checkpoint.h"
#include "runtime/h5image.h"
#include "base/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* A scalar attribute of file type `ft` from the value at v (memory type mt). */
static herr_t attr_scalar(hid_t loc, const char *name, hid_t ft, hid_t mt, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t r = a < 0 ? -1 : H5Awrite(a, mt, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return r;
}

/* A 1-D float attribute of n values (data.normalize's statistics). */
static herr_t attr_f32s(hid_t loc, const char *name, const float *v, int n)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t a = H5Acreate2(loc, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t r = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_FLOAT, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return r;
}

/* Reads a float attribute of exactly n values into v; -1 if absent or not so. */
static int read_attr_f32s(hid_t loc, const char *name, float *v, int n)
{
    if (H5Aexists(loc, name) <= 0)
        return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t sp = H5Aget_space(a);
    const int ok = sp >= 0 && H5Sget_simple_extent_npoints(sp) == n && H5Aread(a, H5T_NATIVE_FLOAT, v) >= 0;
    if (sp >= 0)
        H5Sclose(sp);
    H5Aclose(a);
    return ok ? 0 : -1;
}

static herr_t attr_i64(hid_t loc, const char *name, long long value)
{
    return attr_scalar(loc, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &value);
}

static herr_t attr_f64(hid_t loc, const char *name, double value)
{
    return attr_scalar(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

/* 1 if attribute a holds exactly one value: H5Aread fills as many as the
 * file says, and every reader here has room for one (found by fuzzing). */
static int attr_is_one(hid_t a)
{
    hid_t sp = H5Aget_space(a);
    const int one = sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1;
    if (sp >= 0)
        H5Sclose(sp);
    return one;
}

/* Reads a scalar attribute as memory type mt into v; -1 if absent. */
static int read_attr_scalar(hid_t loc, const char *name, hid_t mt, void *v)
{
    if (H5Aexists(loc, name) <= 0)
        return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    int r = a < 0 || !attr_is_one(a) || H5Aread(a, mt, v) < 0 ? -1 : 0;
    if (a >= 0)
        H5Aclose(a);
    return r;
}

static int read_attr_f64(hid_t loc, const char *name, double *v)
{
    return read_attr_scalar(loc, name, H5T_NATIVE_DOUBLE, v);
}

/* Reads a string attribute (variable or fixed length) into buf. */
static int read_attr_str(hid_t loc, const char *name, char *buf, size_t len)
{
    buf[0] = 0;
    if (H5Aexists(loc, name) <= 0)
        return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t ft = H5Aget_type(a);
    int r = -1;
    if (H5Tget_class(ft) == H5T_STRING && attr_is_one(a)) {
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

/* One float32 dataset per tensor under group `name` of loc. */
static int write_tensors(hid_t loc, const char *name, const tr_registry *reg, const float *base)
{
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return -1;
    int bad = 0;
    for (int i = 0; i < reg->n && !bad; i++) {
        const tr_tensor *t = &reg->tensors[i];
        hsize_t dims[TR_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++)
            dims[d] = (hsize_t)t->shape[d];
        hid_t sp = H5Screate_simple(t->ndim, dims, NULL);
        hid_t ds = H5Dcreate2(g, t->name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        bad |= ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, base + t->offset) < 0;
        if (ds >= 0) H5Dclose(ds);
        H5Sclose(sp);
    }
    H5Gclose(g);
    return bad ? -1 : 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static tr_status save(const tr_session *s, const char *path, tr_error *err);

tr_status tr_checkpoint_save(tr_session *s, const char *path, tr_error *err)
{
    double t0 = now_s();
    tr_status r = save(s, path, err);
    s->save_seconds = now_s() - t0;
    return r;
}

static tr_status save(const tr_session *s, const char *path, tr_error *err)
{
    char dir[4096], tmp[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        if (tr_mkdirs(dir))
            return tr_error_set(err, TR_ERR_IO, "%s: cannot create folder: %s", dir, strerror(errno));
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = tr_h5image_create(tmp); /* in memory: the disk sees one write (h5image.h) */
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
    bad |= attr_i64(f, "data_cursor", (s->step % (spe > 0 ? spe : 1)) * s->cfg->batch) < 0;
    bad |= attr_i64(f, "seed", s->cfg->seed) < 0;
    bad |= attr_str(f, "rng", "counter-based: init from (seed, tensor name), epoch order from (seed, epoch); no other state") < 0;
    bad |= attr_str(f, "optimizer", s->cfg->optimizer == TR_OPTIM_ADAM ? "adam" : "sgd") < 0;
    /* train.nonfinite: skip: Adam's step count and the run of skips go on after a resume */
    bad |= attr_i64(f, "skipped_steps", s->skipped_steps) < 0;
    bad |= attr_i64(f, "skips_in_row", s->skips_in_row) < 0;
    if (s->best_step >= 0) { /* train.keep_best's state: resume goes on comparing with it */
        bad |= attr_f64(f, "best_value", s->best_value) < 0;
        bad |= attr_i64(f, "best_step", s->best_step) < 0;
        bad |= attr_i64(f, "evals_since_best", s->stale_evals) < 0;
        bad |= attr_i64(f, "tracked_step", s->tracked_step) < 0;
    }
    if (s->in_mean) { /* data.normalize: what predict needs without the training data */
        bad |= attr_f32s(f, "input_mean", s->in_mean, s->pairs.channels) < 0;
        bad |= attr_f32s(f, "input_std", s->in_std, s->pairs.channels) < 0;
    }
    bad |= write_tensors(f, "params", &s->reg, s->params) < 0;
    hid_t opt = H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad |= opt < 0;
    if (s->cfg->optimizer == TR_OPTIM_ADAM) {
        bad |= write_tensors(opt, "m", &s->reg, s->opt_m) < 0;
        bad |= write_tensors(opt, "v", &s->reg, s->opt_v) < 0;
    } else {
        bad |= write_tensors(opt, "velocity", &s->reg, s->opt_m) < 0;
    }
    if (opt >= 0) H5Gclose(opt);
    char why[256];
    if (bad) {
        H5Fclose(f);
        return tr_error_set(err, TR_ERR_IO, "%s: HDF5 could not build the checkpoint; the previous one is untouched", path);
    }
    if (tr_h5image_save(f, tmp, path, why, sizeof why))
        return tr_error_set(err, TR_ERR_IO, "%s: writing the checkpoint failed: %s; the previous one is untouched", path, why);
    return TR_OK;
}

static int read_attr_i64(hid_t loc, const char *name, long long *v)
{
    return read_attr_scalar(loc, name, H5T_NATIVE_LLONG, v);
}

/* Reads every registered tensor from `group` into base, checking shapes. */
static tr_status read_tensors(hid_t f, const char *group, const tr_registry *reg, float *base,
                              const char *path, tr_error *err)
{
    if (H5Lexists(f, group, H5P_DEFAULT) <= 0)
        return tr_error_set(err, TR_ERR_CHECKPOINT, "%s: no group '%s' in the checkpoint", path, group);
    for (int i = 0; i < reg->n; i++) {
        const tr_tensor *t = &reg->tensors[i];
        char dname[TR_MAX_NAME + 64];
        snprintf(dname, sizeof dname, "%s/%s", group, t->name);
        if (H5Lexists(f, dname, H5P_DEFAULT) <= 0)
            return tr_error_set(err, TR_ERR_CHECKPOINT, "%s: no tensor '%s' in the checkpoint (saved by another model?)", path, dname);
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
        tr_status r = TR_OK;
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
        } else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, base + t->offset) < 0) {
            r = tr_error_set(err, TR_ERR_CHECKPOINT, "%s: cannot read '%s' (corrupt checkpoint)", path, dname);
        }
        if (sp >= 0) H5Sclose(sp);
        if (ds >= 0) H5Dclose(ds);
        if (r)
            return r;
    }
    return TR_OK;
}

tr_status tr_checkpoint_load(tr_session *s, const char *path, int resume, tr_error *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct stat st;
    if (stat(path, &st))
        return tr_error_set(err, TR_ERR_CHECKPOINT, "%s: no checkpoint (%s); train first with: trainer %s",
                            path, strerror(errno), s->cfg->path);
    if (H5Fis_hdf5(path) <= 0)
        return tr_error_set(err, TR_ERR_CHECKPOINT, "%s: not an HDF5 file (corrupt or truncated checkpoint; --fresh starts over)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return tr_error_set(err, TR_ERR_CHECKPOINT, "%s: cannot open (corrupt or truncated checkpoint; --fresh starts over)", path);
    tr_status r = TR_OK;
    char plugin[256], opt[32];
    long long step = 0, abi = 0;
    const char *want = s->plugin.desc->name;
    const char *want_opt = s->cfg->optimizer == TR_OPTIM_ADAM ? "adam" : "sgd";
    if (read_attr_str(f, "plugin", plugin, sizeof plugin) || read_attr_i64(f, "step", &step) ||
        read_attr_i64(f, "abi_version", &abi)) {
        r = tr_error_set(err, TR_ERR_CHECKPOINT, "%s: not a trainer checkpoint (no plugin/step/abi_version attributes)", path);
    } else if (strcmp(plugin, want) != 0) {
        r = tr_error_set(err, TR_ERR_CHECKPOINT, "%s: checkpoint is for plugin '%s', the config uses '%s'", path, plugin, want);
    } else if (resume && (read_attr_str(f, "optimizer", opt, sizeof opt) || strcmp(opt, want_opt) != 0)) {
        r = tr_error_set(err, TR_ERR_CHECKPOINT, "%s: checkpoint holds %s optimizer state, the config uses '%s' (--fresh starts over)",
                         path, opt[0] ? opt : "no", want_opt);
    } else if (step < 0) {
        r = tr_error_set(err, TR_ERR_CHECKPOINT, "%s: negative step %lld (corrupt checkpoint)", path, step);
    }
    /* Read into scratch copies first: a failure half-way leaves the
     * session as it was. */
    size_t bytes = s->reg.total * sizeof(float);
    float *p = r ? NULL : malloc(bytes), *m = NULL, *v = NULL;
    if (!r && !p)
        r = tr_error_set(err, TR_ERR_NOMEM, "out of memory reading %s", path);
    if (!r)
        r = read_tensors(f, "/params", &s->reg, p, path, err);
    if (!r && resume) {
        m = calloc(1, bytes);
        v = calloc(1, bytes);
        if (!m || !v)
            r = tr_error_set(err, TR_ERR_NOMEM, "out of memory reading %s", path);
        else if (s->cfg->optimizer == TR_OPTIM_ADAM) {
            r = read_tensors(f, "/optimizer/m", &s->reg, m, path, err);
            if (!r)
                r = read_tensors(f, "/optimizer/v", &s->reg, v, path, err);
        } else {
            r = read_tensors(f, "/optimizer/velocity", &s->reg, m, path, err);
        }
    }
    double best_value = -INFINITY;
    long long best_step = -1, stale = 0, tracked = -1;
    if (read_attr_i64(f, "tracked_step", &tracked)) /* absent in older checkpoints */
        tracked = -1;
    if (read_attr_f64(f, "best_value", &best_value) || read_attr_i64(f, "best_step", &best_step) ||
        read_attr_i64(f, "evals_since_best", &stale)) {
        best_value = -INFINITY;
        best_step = -1;
        stale = 0;
    }
    /* data.normalize: the statistics the run trained with (all or nothing) */
    float *mean = NULL, *sd = NULL;
    if (!r && s->in_mean) {
        mean = malloc((size_t)s->pairs.channels * sizeof *mean);
        sd = malloc((size_t)s->pairs.channels * sizeof *sd);
        if (!mean || !sd)
            r = tr_error_set(err, TR_ERR_NOMEM, "out of memory reading %s", path);
        else if (read_attr_f32s(f, "input_mean", mean, s->pairs.channels) ||
                 read_attr_f32s(f, "input_std", sd, s->pairs.channels))
            r = tr_error_set(err, TR_ERR_CHECKPOINT, "%s: no input_mean/input_std of %d channels, and the config sets "
                             "data.normalize (a checkpoint of a run without it?)", path, s->pairs.channels);
    }
    long long skipped = 0, in_row = 0; /* absent in older checkpoints: none */
    if (read_attr_i64(f, "skipped_steps", &skipped) || read_attr_i64(f, "skips_in_row", &in_row))
        skipped = in_row = 0;
    H5Fclose(f);
    if (!r) {
        for (int i = 0; i < s->reg.n; i++) { /* tensors only: padding stays 0 */
            const tr_tensor *t = &s->reg.tensors[i];
            memcpy(s->params + t->offset, p + t->offset, t->count * sizeof(float));
            if (resume) {
                memcpy(s->opt_m + t->offset, m + t->offset, t->count * sizeof(float));
                memcpy(s->opt_v + t->offset, v + t->offset, t->count * sizeof(float));
            }
        }
        if (mean) {
            memcpy(s->in_mean, mean, (size_t)s->pairs.channels * sizeof *mean);
            memcpy(s->in_std, sd, (size_t)s->pairs.channels * sizeof *sd);
        }
        if (resume) {
            s->step = (long)step;
            s->perm_epoch = -1;
            s->best_value = best_value;
            s->best_step = (long)best_step;
            s->stale_evals = (long)stale;
            s->tracked_step = (long)tracked;
            s->skipped_steps = (long)skipped;
            s->skips_in_row = (long)in_row;
        }
    }
    free(p);
    free(m);
    free(v);
    free(mean);
    free(sd);
    return r;
}

typedef struct inspect_ctx {
    FILE *out;
    long long values;
    int tensors;
} inspect_ctx;

static herr_t inspect_one(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    inspect_ctx *c = data;
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0)
        return 0;
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[H5S_MAX_RANK]; /* the file decides the rank: room for any */
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd < 0 || nd > H5S_MAX_RANK || H5Sget_simple_extent_dims(sp, dims, NULL) < 0)
        nd = 0;
    if (nd > 8) nd = 8; /* shown: the first 8 */
    char shape[128] = "[";
    long long n = 1;
    for (int d = 0; d < nd; d++) {
        size_t l = strlen(shape);
        snprintf(shape + l, sizeof shape - l, "%s%llu", d ? ", " : "", (unsigned long long)dims[d]);
        n *= (long long)dims[d];
    }
    strncat(shape, "]", sizeof shape - strlen(shape) - 1);
    if (c->out)
        fprintf(c->out, "  %-40s %-14s %lld\n", name, shape, n);
    c->values += n;
    c->tensors++;
    H5Sclose(sp);
    H5Dclose(ds);
    return 0;
}

tr_status tr_checkpoint_inspect(const char *path, FILE *out, tr_error *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK))
        return tr_error_set(err, TR_ERR_CHECKPOINT, "%s: cannot read: %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0)
        return tr_error_set(err, TR_ERR_CHECKPOINT, "%s: not an HDF5 file (corrupt or truncated checkpoint?)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return tr_error_set(err, TR_ERR_CHECKPOINT, "%s: cannot open (corrupt or truncated checkpoint?)", path);
    char plugin[256], pver[64], tver[64], opt[32], config[65536];
    long long step = -1, epoch = -1, abi = -1, cursor = -1, seed = 0;
    if (read_attr_str(f, "plugin", plugin, sizeof plugin) || read_attr_i64(f, "step", &step)) {
        H5Fclose(f);
        return tr_error_set(err, TR_ERR_CHECKPOINT, "%s: not a trainer checkpoint (no plugin/step attributes)", path);
    }
    read_attr_str(f, "plugin_version", pver, sizeof pver);
    read_attr_str(f, "trainer_version", tver, sizeof tver);
    read_attr_str(f, "optimizer", opt, sizeof opt);
    read_attr_str(f, "config", config, sizeof config);
    read_attr_i64(f, "epoch", &epoch);
    read_attr_i64(f, "abi_version", &abi);
    read_attr_i64(f, "data_cursor", &cursor);
    read_attr_i64(f, "seed", &seed);
    fprintf(out, "checkpoint: %s\n", path);
    fprintf(out, "step %lld, epoch %lld, data cursor %lld (samples into the epoch), seed %lld\n", step, epoch, cursor, seed);
    fprintf(out, "plugin %s %s, plugin ABI %lld, written by trainer %s\n", plugin, pver, abi, tver);
    const char *groups[] = {"params", "optimizer/m", "optimizer/v", "optimizer/velocity"};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        if (H5Lexists(f, "optimizer", H5P_DEFAULT) <= 0 && i > 0)
            break;
        if (H5Lexists(f, groups[i], H5P_DEFAULT) <= 0)
            continue;
        inspect_ctx c = {i == 0 ? out : NULL, 0, 0};
        if (i == 0)
            fprintf(out, "parameters (/params):\n");
        hid_t g = H5Gopen2(f, groups[i], H5P_DEFAULT);
        H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, inspect_one, &c);
        H5Gclose(g);
        if (i == 0)
            fprintf(out, "  %d tensors, %lld values\n", c.tensors, c.values);
        else
            fprintf(out, "optimizer state /%s (%s): %d tensors, %lld values\n", groups[i], opt, c.tensors, c.values);
    }
    fprintf(out, "config:\n");
    for (char *line = config, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        fprintf(out, "  %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
        if (!nl)
            break;
    }
    H5Fclose(f);
    return TR_OK;
}

long tr_checkpoint_best_of(const char *path, double *value)
{
    if (access(path, F_OK) != 0)
        return -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return -1;
    long long step = -1;
    if (read_attr_f64(f, "best_value", value) || read_attr_i64(f, "best_step", &step))
        step = -1;
    H5Fclose(f);
    return (long)step;
}

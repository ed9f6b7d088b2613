/* core/programs/attention_file.c - attention maps of held-out samples into
 * results/<run>/attention.h5, self-describing (docs/results.md):
 *
 *   / attrs plugin, plugin_version, config, axes, latest
 *   /step_%08d attrs step, epoch, exact_match, token_accuracy
 *      weights           float32 [M, Ty, Tx]  (attr axes)
 *      source_tokens     str [M, Tx]
 *      target_tokens     str [M, Ty]
 *      predicted_tokens  str [M, Ty]
 *      sample_index      int64 [M]
 *   or, for image data (data.kind idx_images):
 *      image             uint8 [M, C, H, W]  (0..255, as in the dataset)
 *      label, predicted  int32 [M]; label_name, predicted_name str [M]
 *      sample_index      int64 [M]
 *   and one float32 dataset [M, shape...] per map the plugin declares
 *   (tr_plugin.maps), at its name, e.g. block1/channel (attr axes).
 *
 * Each evaluation adds (or, after a resume, replaces) its group in a copy of
 * the file, which is then renamed over it: readers never see a torn file. */
#define _POSIX_C_SOURCE 200809L
#include "runtime/session.h"
#include "programs/attention_file.h"
#include "runtime/h5image.h"

#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static hid_t vlen_str(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static int attr_str(hid_t loc, const char *name, const char *value)
{
    if (H5Aexists(loc, name) > 0)
        H5Adelete(loc, name);
    hid_t t = vlen_str(), sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int r = a < 0 || H5Awrite(a, t, &value) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return r;
}

static int attr_num(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int r = a < 0 || H5Awrite(a, mem_type, v) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return r;
}

static int dataset(hid_t g, const char *name, hid_t file_type, hid_t mem_type, int nd, const hsize_t *dims,
                   const void *data)
{
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE); /* "block1/channel" makes group block1 */
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t ds = H5Dcreate2(g, name, file_type, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    int r = ds < 0 || H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? -1 : 0;
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    return r;
}

static int set_axes(hid_t g, const char *name, const char *axes)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    int r = d < 0 || attr_str(d, "axes", axes);
    if (d >= 0) H5Dclose(d);
    return r;
}

/* token strings of ids[n] from vocab (owned by the vocabulary) */
static void token_strings(const char **out, const int32_t *ids, size_t n, const tr_vocab *v)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ids[i] >= 0 && ids[i] < v->n ? v->tokens[ids[i]] : "?";
}

tr_status tr_attention_write(tr_session *s, const char *path,
                             const tr_eval *ev, tr_error *err)
{
    const tr_config *c = s->cfg;
    const int M = (int)(c->attention_samples < c->test_size ? c->attention_samples : c->test_size);
    if (M <= 0)
        return TR_OK;
    const int Tx = (int)c->src_len, Ty = (int)c->tgt_len, images = s->input_size > 0;
    const long first = s->pairs.n - c->test_size;
    const int32_t *src = tr_session_src(s, first), *tgt = s->pairs.tgt + (size_t)first * Ty;
    int32_t *pred = malloc((size_t)M * Ty * sizeof *pred);
    float *w = malloc((size_t)M * (Ty * Tx > 0 ? Ty * Tx : 1) * sizeof *w);
    float *maps[TR_MAX_MAPS] = {0};
    int maps_ok = 1;
    for (int k = 0; k < s->n_maps; k++)
        maps_ok &= (maps[k] = malloc((size_t)M * tr_session_map_size(s, k) * sizeof(float))) != NULL;
    const char **st = malloc((size_t)M * (Tx > 0 ? Tx : 1) * sizeof *st), **tt = malloc((size_t)M * Ty * sizeof *tt),
               **pt = malloc((size_t)M * Ty * sizeof *pt);
    long long *idx = malloc((size_t)M * sizeof *idx);
    tr_status r = TR_OK;
    if (!pred || !w || !st || !tt || !pt || !idx || !maps_ok)
        r = tr_error_set(err, TR_ERR_NOMEM, "out of memory writing %s", path);
    if (!r)
        r = tr_session_predict_ex(s, src, tr_session_pixels(s, first), M, pred, images ? NULL : w, maps, err);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    hid_t f = -1;
    if (!r) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        /* changed in memory and written in one piece (runtime/h5image.h) */
        int exists = access(path, F_OK) == 0;
        if (exists && (f = tr_h5image_open(path)) < 0) {
            /* an unreadable old file is not worth failing the run for: start anew */
            f = -1;
            exists = 0;
        }
        if (!exists) {
            f = tr_h5image_create(tmp);
            if (f >= 0) {
                const tr_plugin *P = s->plugin.desc;
                attr_str(f, "plugin", P->name);
                attr_str(f, "plugin_version", P->version);
                attr_str(f, "config", c->text);
                attr_str(f, "axes", images              ? "sample,channel,y,x" /* the images; maps carry their own */
                                    : P->attention_axes ? P->attention_axes
                                                        : "sample,target,source");
            }
        }
        if (f < 0)
            r = tr_error_set(err, TR_ERR_IO, "%s: cannot create the attention file", tmp);
    }
    if (!r) {
        char gname[32];
        snprintf(gname, sizeof gname, "step_%08ld", s->step);
        if (H5Lexists(f, gname, H5P_DEFAULT) > 0)
            H5Ldelete(f, gname, H5P_DEFAULT); /* the same step evaluated again after a resume */
        hid_t g = H5Gcreate2(f, gname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        long long step = s->step, epoch = s->step / tr_session_steps_per_epoch(s);
        if (!images)
            token_strings(st, src, (size_t)M * Tx, &s->vocabs.src);
        token_strings(tt, tgt, (size_t)M * Ty, &s->vocabs.tgt);
        token_strings(pt, pred, (size_t)M * Ty, &s->vocabs.tgt);
        for (int i = 0; i < M; i++) /* the sample's place in its source file (the same as `trainer eval`) */
            idx[i] = s->pairs.index ? s->pairs.index[first + i] : first + i;
        hid_t str = vlen_str();
        hsize_t dw[3] = {(hsize_t)M, (hsize_t)Ty, (hsize_t)Tx}, ds_[2] = {(hsize_t)M, (hsize_t)Tx},
                dt[2] = {(hsize_t)M, (hsize_t)Ty}, di[1] = {(hsize_t)M};
        int bad = g < 0;
        bad |= attr_num(g, "step", H5T_STD_I64LE, H5T_NATIVE_LLONG, &step);
        bad |= attr_num(g, "epoch", H5T_STD_I64LE, H5T_NATIVE_LLONG, &epoch);
        bad |= attr_num(g, "exact_match", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &ev->exact);
        bad |= attr_num(g, "token_accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &ev->token_acc);
        if (ev->has_bleu)
            bad |= attr_num(g, "bleu", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &ev->bleu);
        if (images) {
            const tr_pairs *p = &s->pairs;
            hsize_t dimg[4] = {(hsize_t)M, (hsize_t)p->channels, (hsize_t)p->height, (hsize_t)p->width};
            bad |= dataset(g, "image", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 4, dimg, tr_session_pixels(s, first));
            bad |= dataset(g, "label", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, di, tgt);
            bad |= dataset(g, "predicted", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, di, pred);
            bad |= dataset(g, "label_name", str, str, 1, di, tt);
            bad |= dataset(g, "predicted_name", str, str, 1, di, pt);
        } else {
            bad |= dataset(g, "weights", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dw, w);
            bad |= set_axes(g, "weights", s->plugin.desc->attention_axes ? s->plugin.desc->attention_axes
                                                                           : "sample,target,source");
            bad |= dataset(g, "source_tokens", str, str, 2, ds_, st);
            bad |= dataset(g, "target_tokens", str, str, 2, dt, tt);
            bad |= dataset(g, "predicted_tokens", str, str, 2, dt, pt);
        }
        for (int k = 0; k < s->n_maps && !bad; k++) {
            const tr_map_spec *m = &s->map_specs[k];
            hsize_t dm[TR_MAX_DIMS + 1] = {(hsize_t)M};
            for (int d = 0; d < m->ndim; d++)
                dm[d + 1] = (hsize_t)m->shape[d];
            bad |= dataset(g, m->name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, m->ndim + 1, dm, maps[k]);
            bad |= set_axes(g, m->name, m->axes ? m->axes : "sample");
        }
        bad |= dataset(g, "sample_index", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, di, idx);
        bad |= attr_str(f, "latest", gname);
        H5Tclose(str);
        if (g >= 0) H5Gclose(g);
        char why[256];
        if (bad) {
            H5Fclose(f);
            r = tr_error_set(err, TR_ERR_IO, "%s: HDF5 could not build the attention maps; the file is untouched", path);
        } else if (tr_h5image_save(f, tmp, path, why, sizeof why)) {
            r = tr_error_set(err, TR_ERR_IO, "%s: writing the attention maps failed: %s; the file is untouched", path, why);
        }
    }
    free(pred); free(w); free(st); free(tt); free(pt); free(idx);
    for (int k = 0; k < s->n_maps; k++)
        free(maps[k]);
    return r;
}

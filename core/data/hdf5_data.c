/* core/data/hdf5_data.c - data.kind hdf5: arrays a user wrote with h5py, in the
 * layout of docs/data_hdf5.md, read into the same tr_vocabs and tr_pairs as
 * the other kinds, so plugins and the CLI see no difference.
 *
 * /train/source int [N, Tx] + /train/target int [N, Ty]   sequences
 * /train/source int [N, Tx] + /train/label int [N]         classes of text
 * /train/input uint8 [N, C, H, W] (or [N, H, W]) + /train/label   images
 * /test/...  the same arrays, held out (optional)
 * /vocab/source, /vocab/target, /classes: 1-D string datasets, id = place
 *
 * The arrays hold the ids as the model gets them: nothing is tokenised,
 * cut or padded here, only checked (ids inside their vocabulary, one row
 * per sample), so every inconsistency is one line naming the file and the
 * dataset. Only the rows in use are read (a hyperslab of the first N). */
#define _POSIX_C_SOURCE 200809L
#include "data/hdf5_data.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_RANK = 4 };

typedef struct h5in {
    hid_t f;
    const char *path; /* data.file, the "where" of every message */
    tr_error *err;
} h5in;

/* One split's arrays, as found in the file. */
typedef struct split {
    const char *name;       /* "train" or "test" */
    hid_t in, out;          /* source or input; target or label (-1: not opened) */
    int in_rank;
    hsize_t in_dims[MAX_RANK], out_dims[MAX_RANK];
    long rows, want;        /* in the file; the first `want` are used */
} split;

static const char *shape_str(char *buf, size_t len, int rank, const hsize_t *dims)
{
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < rank && o < len; d++)
        o += (size_t)snprintf(buf + o, len - o, "%s%llu", d ? ", " : "", (unsigned long long)dims[d]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
    return buf;
}

/* numpy's name for a dataset's type, for the messages */
static const char *type_str(char *buf, size_t len, hid_t t)
{
    const size_t bits = 8 * H5Tget_size(t);
    switch (H5Tget_class(t)) {
    case H5T_INTEGER: snprintf(buf, len, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits); break;
    case H5T_FLOAT: snprintf(buf, len, "float%zu", bits); break;
    case H5T_STRING: snprintf(buf, len, "strings"); break;
    case H5T_ENUM: snprintf(buf, len, "an enum (h5py's bool?)"); break;
    case H5T_COMPOUND: snprintf(buf, len, "a compound type"); break;
    default: snprintf(buf, len, "an unsupported type"); break;
    }
    return buf;
}

/* 1 if `name` (an absolute path) is a dataset, 0 if nothing is there; -1
 * (error set) if it is something else. Each group on the way is checked,
 * since H5Lexists needs the parents to exist. */
static int has_dataset(const h5in *h, const char *name)
{
    char part[256];
    for (const char *s = strchr(name + 1, '/');; s = strchr(s + 1, '/')) {
        snprintf(part, sizeof part, "%.*s", s ? (int)(s - name) : (int)strlen(name), name);
        if (H5Lexists(h->f, part, H5P_DEFAULT) <= 0)
            return 0;
        if (!s)
            break;
    }
    hid_t o = H5Oopen(h->f, name, H5P_DEFAULT);
    const int is_ds = o >= 0 && H5Iget_type(o) == H5I_DATASET;
    if (o >= 0)
        H5Oclose(o);
    if (!is_ds) {
        tr_error_set(h->err, TR_ERR_DATA, "%s: %s: not a dataset (a group or a link?); docs/data_hdf5.md has the layout",
                     h->path, name);
        return -1;
    }
    return 1;
}

/* Opens array `name`: integers (pixels: uint8 only) of rank rmin..rmax,
 * its shape in dims. -1 after a one-line error. */
static hid_t open_array(const h5in *h, const char *name, int pixels, int rmin, int rmax, int *rank, hsize_t *dims,
                        const char *want)
{
    hid_t ds = H5Dopen2(h->f, name, H5P_DEFAULT);
    if (ds < 0) {
        tr_error_set(h->err, TR_ERR_DATA, "%s: %s: cannot open the dataset (corrupt file?)", h->path, name);
        return -1;
    }
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    char tn[64], sh[96];
    const int r = H5Sget_simple_extent_ndims(sp);
    if (r >= 0 && r <= MAX_RANK)
        H5Sget_simple_extent_dims(sp, dims, NULL);
    int ok = 1;
    if (pixels && !(H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 1 && H5Tget_sign(t) == H5T_SGN_NONE)) {
        tr_error_set(h->err, TR_ERR_DATA, "%s: %s: %s, expected uint8 pixels 0..255 (h5py: dtype='uint8'; "
                     "scale floats in [0, 1] by 255 and round)", h->path, name, type_str(tn, sizeof tn, t));
        ok = 0;
    } else if (!pixels && H5Tget_class(t) != H5T_INTEGER) {
        tr_error_set(h->err, TR_ERR_DATA, "%s: %s: %s, expected integer ids (int32, or any integer type)", h->path,
                     name, type_str(tn, sizeof tn, t));
        ok = 0;
    } else if (r < rmin || r > rmax) {
        tr_error_set(h->err, TR_ERR_DATA, "%s: %s: rank %d %s, expected %s", h->path, name, r,
                     r >= 0 && r <= MAX_RANK ? shape_str(sh, sizeof sh, r, dims) : "", want);
        ok = 0;
    }
    for (int d = 1; ok && d < r; d++)
        if (dims[d] == 0 || dims[d] > INT_MAX / 4) {
            tr_error_set(h->err, TR_ERR_DATA, "%s: %s: shape %s, expected %s with no empty or huge dimension",
                         h->path, name, shape_str(sh, sizeof sh, r, dims), want);
            ok = 0;
        }
    H5Tclose(t);
    H5Sclose(sp);
    if (!ok) {
        H5Dclose(ds);
        return -1;
    }
    *rank = r;
    return ds;
}

/* The first `rows` rows of ds (shape dims, rank dimensions) into buf as mem. */
static tr_status read_rows(const h5in *h, hid_t ds, const char *name, hid_t mem, long rows, int rank,
                           const hsize_t *dims, void *buf)
{
    if (rows == 0)
        return TR_OK;
    hsize_t start[MAX_RANK] = {0}, count[MAX_RANK], n = (hsize_t)rows;
    count[0] = (hsize_t)rows;
    for (int d = 1; d < rank; d++)
        n *= count[d] = dims[d];
    hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(1, &n, NULL);
    herr_t r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (r >= 0)
        r = H5Dread(ds, mem, ms, fs, H5P_DEFAULT, buf);
    H5Sclose(ms);
    H5Sclose(fs);
    return r < 0 ? tr_error_set(h->err, TR_ERR_DATA, "%s: %s: cannot read %ld rows (corrupt file?)", h->path, name, rows)
                 : TR_OK;
}

/* A vocabulary from the 1-D string dataset `name` (variable-length, as
 * h5py.string_dtype() writes, or fixed-length bytes): id = place. tokens:
 * <pad>, <unk>, <s>, </s> are found by name and `chars` makes it a
 * character vocabulary as char_pairs'; else (the classes) no special ids. */
static tr_status read_vocab(const h5in *h, const char *name, const char *what, tr_vocab *v, int tokens, int chars,
                            int tokenizer)
{
    int there = has_dataset(h, name);
    if (there < 0)
        return h->err->status;
    if (!there)
        return tr_error_set(h->err, TR_ERR_DATA, "%s: no dataset %s: %s, one string per id (docs/data_hdf5.md)",
                            h->path, name, what);
    hid_t ds = H5Dopen2(h->f, name, H5P_DEFAULT);
    hid_t t = ds >= 0 ? H5Dget_type(ds) : -1, sp = ds >= 0 ? H5Dget_space(ds) : -1;
    hsize_t n = 0;
    char tn[64];
    tr_status st = TR_OK;
    if (ds < 0)
        st = tr_error_set(h->err, TR_ERR_DATA, "%s: %s: cannot open the dataset (corrupt file?)", h->path, name);
    else if (H5Tget_class(t) != H5T_STRING)
        st = tr_error_set(h->err, TR_ERR_DATA, "%s: %s: %s, expected strings (h5py: dtype=h5py.string_dtype())",
                          h->path, name, type_str(tn, sizeof tn, t));
    else if (H5Sget_simple_extent_ndims(sp) != 1)
        st = tr_error_set(h->err, TR_ERR_DATA, "%s: %s: rank %d, expected a 1-D list of strings", h->path, name,
                          H5Sget_simple_extent_ndims(sp));
    else if (H5Sget_simple_extent_dims(sp, &n, NULL) < 0 || n < (hsize_t)(tokens ? 1 : 2) || n > INT_MAX / 4)
        st = tr_error_set(h->err, TR_ERR_DATA, "%s: %s: %llu strings, expected %s", h->path, name,
                          (unsigned long long)n, tokens ? "at least one" : "at least two classes");
    const int vlen = !st && H5Tis_variable_str(t) > 0;
    const size_t fixed = !st && !vlen ? H5Tget_size(t) : 0;
    char **names = st ? NULL : calloc((size_t)n, sizeof *names), *buf = NULL;
    hid_t mt = -1;
    if (!st && !names)
        st = tr_error_set(h->err, TR_ERR_NOMEM, "out of memory reading %s", name);
    if (!st) {
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, vlen ? H5T_VARIABLE : fixed + 1); /* fixed: room for the terminating NUL */
        H5Tset_cset(mt, H5Tget_cset(t));                  /* HDF5 will not convert UTF-8 <-> ASCII */
        if (!vlen && !(buf = calloc((size_t)n, fixed + 1)))
            st = tr_error_set(h->err, TR_ERR_NOMEM, "out of memory reading %s", name);
        else if (H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, vlen ? (void *)names : (void *)buf) < 0)
            st = tr_error_set(h->err, TR_ERR_DATA, "%s: %s: cannot read the strings (corrupt file?)", h->path, name);
        for (hsize_t i = 0; !st && !vlen && i < n; i++)
            names[i] = buf + i * (fixed + 1);
    }
    for (hsize_t i = 0; !st && i < n; i++)
        if (!names[i] || !names[i][0])
            st = tr_error_set(h->err, TR_ERR_DATA, "%s: %s[%llu] is empty: every id needs a %s", h->path, name,
                              (unsigned long long)i, tokens ? "token" : "class name");
    if (!st)
        st = tr_vocab_from_list(v, names, (int)n, h->err);
    if (vlen && names)
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, names);
    free(names);
    free(buf);
    if (mt >= 0) H5Tclose(mt);
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    for (int i = 0; !st && i < v->n; i++) {
        const int first = tr_word_lookup(v, v->tokens[i], strlen(v->tokens[i]));
        if (first != i) /* a token must name one id, or lookups would pick one silently */
            return tr_error_set(h->err, TR_ERR_DATA, "%s: %s[%d] '%s' repeats %s[%d]: the strings must be distinct",
                                h->path, name, i, v->tokens[i], name, first);
        if (!tokens)
            continue;
        const char *tok = v->tokens[i];
        if (strcmp(tok, "<pad>") == 0) v->pad = i;
        else if (strcmp(tok, "<unk>") == 0) v->unk = i;
        else if (strcmp(tok, "<s>") == 0) v->bos = i;
        else if (strcmp(tok, "</s>") == 0) v->eos = i;
        else if (chars && strlen(tok) == 1 && (unsigned char)tok[0] < 128 && i <= INT16_MAX) /* the table is int16 */
            v->ascii[(unsigned char)tok[0]] = (int16_t)i;
    }
    if (!st && tokens) {
        v->words = !chars;
        v->tokenizer = tokenizer;
    }
    return st;
}

/* Opens split s's arrays (names in/out under /<split>/) and checks their
 * shapes against each other and against the training split's (ref). */
static tr_status open_split(const h5in *h, split *s, const split *ref, const char *in, const char *out, int images,
                            int labels)
{
    char iname[64], oname[64], a[96], b[96];
    snprintf(iname, sizeof iname, "/%s/%s", s->name, in);
    snprintf(oname, sizeof oname, "/%s/%s", s->name, out);
    for (int k = 0; k < 2; k++) {
        const char *nm = k ? oname : iname;
        int there = has_dataset(h, nm);
        if (there < 0)
            return h->err->status;
        if (!there)
            return tr_error_set(h->err, TR_ERR_DATA, "%s: no dataset %s, though /train/%s and /train/%s exist: "
                                "each split holds the same arrays", h->path, nm, in, out);
    }
    int ir = 0, orank = 0;
    s->in = images ? open_array(h, iname, 1, 3, 4, &ir, s->in_dims, "[N, C, H, W] or [N, H, W] (one image per row)")
                   : open_array(h, iname, 0, 2, 2, &ir, s->in_dims, "[N, T] (one row of token ids per sample)");
    if (s->in < 0)
        return h->err->status;
    s->in_rank = ir;
    s->out = labels ? open_array(h, oname, 0, 1, 1, &orank, s->out_dims, "[N] (one class per sample)")
                    : open_array(h, oname, 0, 2, 2, &orank, s->out_dims, "[N, T] (one row of token ids per sample)");
    if (s->out < 0)
        return h->err->status;
    if (s->in_dims[0] != s->out_dims[0])
        return tr_error_set(h->err, TR_ERR_DATA, "%s: %s has %llu rows but %s has %llu: one row per sample in both",
                            h->path, oname, (unsigned long long)s->out_dims[0], iname,
                            (unsigned long long)s->in_dims[0]);
    if (s->in_dims[0] > INT_MAX)
        return tr_error_set(h->err, TR_ERR_DATA, "%s: %s: %llu rows, at most %d", h->path, iname,
                            (unsigned long long)s->in_dims[0], INT_MAX);
    s->rows = (long)s->in_dims[0];
    if (!ref)
        return TR_OK;
    int same = ir == ref->in_rank;
    for (int d = 1; same && d < ir; d++)
        same = s->in_dims[d] == ref->in_dims[d];
    if (!same)
        return tr_error_set(h->err, TR_ERR_DATA, "%s: %s is %s but /train/%s is %s: the splits must agree but for N",
                            h->path, iname, shape_str(a, sizeof a, ir, s->in_dims), in,
                            shape_str(b, sizeof b, ref->in_rank, ref->in_dims));
    if (!labels && s->out_dims[1] != ref->out_dims[1])
        return tr_error_set(h->err, TR_ERR_DATA, "%s: %s is %s but /train/%s is %s: the splits must agree but for N",
                            h->path, oname, shape_str(a, sizeof a, 2, s->out_dims), out,
                            shape_str(b, sizeof b, 2, ref->out_dims));
    return TR_OK;
}

/* Every id of ids[rows, width] (split s's dataset `name`) in 0..n-1. */
static tr_status check_ids(const h5in *h, const int32_t *ids, long rows, int width, int n, const split *s,
                           const char *name, const char *vocab, int labels)
{
    for (long i = 0; i < rows; i++)
        for (int t = 0; t < width; t++) {
            const int32_t id = ids[(size_t)i * width + t];
            if (id >= 0 && id < n)
                continue;
            char at[64];
            if (labels)
                snprintf(at, sizeof at, "[%ld]", i);
            else
                snprintf(at, sizeof at, "[%ld, %d]", i, t);
            return tr_error_set(h->err, TR_ERR_DATA, "%s: /%s/%s%s = %d is not %s of %s (%d strings: 0..%d)", h->path,
                                s->name, name, at, id, labels ? "a class" : "an id", vocab, n, n - 1);
        }
    return TR_OK;
}

static tr_status load(const h5in *h, tr_vocabs *v, tr_pairs *p, tr_config *cfg, split *sp)
{
    const char *path = h->path;
    tr_error *err = h->err;
    int has[4]; /* /train/ source, input, target, label */
    static const char *const names[4] = {"/train/source", "/train/input", "/train/target", "/train/label"};
    for (int k = 0; k < 4; k++)
        if ((has[k] = has_dataset(h, names[k])) < 0)
            return err->status;
    const int images = has[1], labels = has[3];
    if (!has[0] && !has[1])
        return tr_error_set(err, TR_ERR_DATA, "%s: no dataset /train/source or /train/input: the training inputs "
                            "(token ids [N, T] or uint8 images [N, C, H, W]; docs/data_hdf5.md)", path);
    if (has[0] && has[1])
        return tr_error_set(err, TR_ERR_DATA, "%s: both /train/source and /train/input: the inputs are token ids or "
                            "images, not both", path);
    if (!has[2] && !has[3])
        return tr_error_set(err, TR_ERR_DATA, "%s: no dataset /train/target or /train/label: the training outputs "
                            "(token ids [N, T], or one class per sample [N]; docs/data_hdf5.md)", path);
    if (has[2] && has[3])
        return tr_error_set(err, TR_ERR_DATA, "%s: both /train/target and /train/label: the outputs are sequences or "
                            "classes, not both", path);
    if (images && !labels)
        return tr_error_set(err, TR_ERR_DATA, "%s: /train/input (images) goes with /train/label (a class per image), "
                            "not /train/target", path);
    p->labels = labels;
    const int chars = cfg->tokenizer == TR_TOK_CHARS;
    tr_status st = TR_OK;
    if (!images && (st = read_vocab(h, "/vocab/source", "the source vocabulary", &v->src, 1, chars,
                                    (int)cfg->tokenizer)))
        return st;
    if (!images && v->src.pad < 0)
        return tr_error_set(err, TR_ERR_DATA, "%s: /vocab/source has no '<pad>' token: the id that fills a row "
                            "after a shorter source", path);
    if (labels)
        st = read_vocab(h, "/classes", "the class names", &v->tgt, 0, 0, 0);
    else
        st = read_vocab(h, "/vocab/target", "the target vocabulary", &v->tgt, 1, chars, (int)cfg->tokenizer);
    if (st)
        return st;

    const char *in = images ? "input" : "source", *out = labels ? "label" : "target";
    if ((st = open_split(h, &sp[0], NULL, in, out, images, labels)))
        return st;
    /* the held-out split: optional unless data.test asks for rows */
    int test = cfg->test_size != 0;
    if (test && H5Lexists(h->f, "/test", H5P_DEFAULT) <= 0) {
        if (cfg->test_size > 0)
            return tr_error_set(err, TR_ERR_DATA, "%s: no group /test, but data.test = %ld asks for held-out rows "
                                "(data.test=0 trains without)", path, cfg->test_size);
        test = 0;
    }
    if (test && (st = open_split(h, &sp[1], &sp[0], in, out, images, labels)))
        return st;
    const long asked[2] = {cfg->train_size, test ? cfg->test_size : 0};
    for (int k = 0; k < 2; k++) {
        split *s = &sp[k];
        s->want = asked[k] < 0 ? s->rows : asked[k];
        if (s->want > s->rows)
            return tr_error_set(err, TR_ERR_DATA, "%s: /%s/%s has %ld rows, data.%s = %ld asks for more (leave "
                                "data.%s out to use them all)", path, s->name, in, s->rows, s->name, s->want,
                                s->name);
    }
    if (sp[0].want == 0)
        return tr_error_set(err, TR_ERR_DATA, "%s: /train/%s has no rows", path, in);
    if (sp[0].want > INT_MAX - sp[1].want)
        return tr_error_set(err, TR_ERR_DATA, "%s: %ld + %ld rows: at most %d in all", path, sp[0].want, sp[1].want,
                            INT_MAX);

    /* the lengths are the arrays': a config that says otherwise is wrong about the file */
    const long tx = images ? 0 : (long)sp[0].in_dims[1], ty = labels ? 1 : (long)sp[0].out_dims[1];
    if (images && cfg->src_len > 0)
        return tr_error_set(err, TR_ERR_DATA, "%s: /train/input holds images: data.src_len = %ld does not apply "
                            "(leave it out)", path, cfg->src_len);
    if (cfg->src_len > 0 && cfg->src_len != tx)
        return tr_error_set(err, TR_ERR_DATA, "%s: /train/source has %ld ids per row, data.src_len says %ld (leave "
                            "it out: the width of the array is used)", path, tx, cfg->src_len);
    if (cfg->tgt_len > 0 && cfg->tgt_len != ty && labels)
        return tr_error_set(err, TR_ERR_DATA, "%s: /train/label holds one class per sample, data.tgt_len says %ld "
                            "(leave it out)", path, cfg->tgt_len);
    if (cfg->tgt_len > 0 && cfg->tgt_len != ty)
        return tr_error_set(err, TR_ERR_DATA, "%s: /train/target has %ld ids per row, data.tgt_len says %ld (leave "
                            "it out: the width of the array is used)", path, ty, cfg->tgt_len);
    /* the keys that need a kind of data the file may not have */
    if ((cfg->flip || cfg->shift > 0) && !images)
        return tr_error_set(err, TR_ERR_CONFIG, "%s: data.flip and data.shift apply to images, and the file has no "
                            "/train/input", path);
    if (cfg->normalize && !images)
        return tr_error_set(err, TR_ERR_CONFIG, "%s: data.normalize applies to images, and the file has no "
                            "/train/input", path);
    if ((cfg->rotate > 0 || cfg->test_rotate > 0) && !images)
        return tr_error_set(err, TR_ERR_CONFIG, "%s: data.rotate and data.test_rotate apply to images, and the file "
                            "has no /train/input", path);
    if (cfg->keep_best == TR_BEST_MACRO_F1 && !labels)
        return tr_error_set(err, TR_ERR_CONFIG, "%s: train.keep_best: macro_f1 needs a classification task (a "
                            "/train/label dataset), the file has /train/target", path);
    if (cfg->keep_best != TR_BEST_NONE && sp[1].want == 0)
        return tr_error_set(err, TR_ERR_CONFIG, "%s: train.keep_best needs held-out rows to evaluate (a /test "
                            "group)", path);

    const long ntr = sp[0].want, n = ntr + sp[1].want;
    const size_t px = images ? (size_t)sp[0].in_dims[1] * sp[0].in_dims[2] * (sp[0].in_rank == 4 ? sp[0].in_dims[3] : 1)
                             : 0;
    p->n = (int)n;
    p->src_len = (int)tx;
    p->tgt_len = (int)ty;
    if (images) {
        p->channels = sp[0].in_rank == 4 ? (int)sp[0].in_dims[1] : 1;
        p->height = (int)sp[0].in_dims[sp[0].in_rank - 2];
        p->width = (int)sp[0].in_dims[sp[0].in_rank - 1];
        p->pixels = malloc((size_t)n * px + 1);
    } else {
        p->src = malloc(((size_t)n * tx + 1) * sizeof *p->src);
    }
    p->tgt = malloc(((size_t)n * ty + 1) * sizeof *p->tgt);
    p->index = malloc(((size_t)n + 1) * sizeof *p->index);
    if (!(images ? (void *)p->pixels : (void *)p->src) || !p->tgt || !p->index)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory for the %ld rows of %s", n, path);
    for (int k = 0; k < 2 && !st; k++) {
        split *s = &sp[k];
        const long at = k ? ntr : 0;
        char iname[64], oname[64];
        snprintf(iname, sizeof iname, "/%s/%s", s->name, in);
        snprintf(oname, sizeof oname, "/%s/%s", s->name, out);
        for (long i = 0; i < s->want; i++) /* the row in its split's arrays */
            p->index[at + i] = i;
        if (images)
            st = read_rows(h, s->in, iname, H5T_NATIVE_UINT8, s->want, s->in_rank, s->in_dims,
                           p->pixels + (size_t)at * px);
        else if (!(st = read_rows(h, s->in, iname, H5T_NATIVE_INT32, s->want, 2, s->in_dims,
                                  p->src + (size_t)at * tx)))
            st = check_ids(h, p->src + (size_t)at * tx, s->want, (int)tx, v->src.n, s, in, "/vocab/source", 0);
        if (!st && !(st = read_rows(h, s->out, oname, H5T_NATIVE_INT32, s->want, labels ? 1 : 2, s->out_dims,
                                    p->tgt + (size_t)at * ty)))
            st = check_ids(h, p->tgt + (size_t)at * ty, s->want, (int)ty, v->tgt.n, s, out,
                           labels ? "/classes" : "/vocab/target", labels);
    }
    if (st)
        return st;
    if (images) { /* no tokens in: the source vocabulary is empty, as idx_images' */
        v->src.unk = v->src.pad = v->src.bos = v->src.eos = -1;
        memset(v->src.ascii, 0xff, sizeof v->src.ascii);
    }
    cfg->train_size = ntr;
    cfg->test_size = sp[1].want;
    cfg->src_len = tx;
    cfg->tgt_len = ty;
    return TR_OK;
}

tr_status tr_hdf5_data_load(tr_vocabs *v, tr_pairs *p, tr_config *cfg, tr_error *err)
{
    memset(v, 0, sizeof *v);
    memset(p, 0, sizeof *p);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our one-line errors, not HDF5's stack dumps */
    const char *path = cfg->file, *where = cfg->file_where ? cfg->file_where : cfg->path;
    if (access(path, R_OK))
        return tr_error_set(err, TR_ERR_DATA, "%s: cannot open dataset file '%s': %s (check data.file)", where, path,
                            strerror(errno));
    if (H5Fis_hdf5(path) <= 0)
        return tr_error_set(err, TR_ERR_DATA, "%s: not an HDF5 file (data.kind hdf5 reads arrays written with h5py; "
                            "docs/data_hdf5.md)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return tr_error_set(err, TR_ERR_DATA, "%s: cannot open as HDF5 (corrupt or truncated?)", path);
    const h5in h = {f, path, err};
    split sp[2] = {{.name = "train", .in = -1, .out = -1}, {.name = "test", .in = -1, .out = -1}};
    tr_status st = load(&h, v, p, cfg, sp);
    for (int k = 0; k < 2; k++) {
        if (sp[k].in >= 0) H5Dclose(sp[k].in);
        if (sp[k].out >= 0) H5Dclose(sp[k].out);
    }
    H5Fclose(f);
    if (st) {
        tr_vocabs_free(v);
        tr_pairs_free(p);
    }
    return st;
}

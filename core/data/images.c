/* core/data/images.c - images and labels from gzipped IDX files (LeCun's MNIST
 * format, as Debian's dataset-fashion-mnist ships Fashion-MNIST), read with
 * zlib. The header is big-endian: magic (0x00000803 images, 0x00000801
 * labels), the count, then rows and columns for images; one byte per pixel
 * and per label follows. */
#define _POSIX_C_SOURCE 200809L
#include "data/images.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { IDX_IMAGES = 0x00000803, IDX_LABELS = 0x00000801, MAX_CLASSES = 256 };

static const char *const fashion_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens dir/name and reads its header: dims[0] = count, and for images
 * dims[1], dims[2] = rows, columns. */
static tr_status idx_open(gzFile *out, char *path, size_t plen, const tr_config *cfg, const char *name,
                          uint32_t magic, uint32_t *dims, tr_error *err)
{
    snprintf(path, plen, "%s/%s", cfg->data_dir, name);
    const char *where = cfg->data_dir_where ? cfg->data_dir_where : cfg->path;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return tr_error_set(err, TR_ERR_DATA, "%s: cannot open '%s': %s (%s)", where, path, strerror(errno),
                            strncmp(cfg->data_dir, "/usr/share/datasets/fashion-mnist", 33) == 0
                                ? "Fashion-MNIST comes from Debian's package dataset-fashion-mnist: apt-get install dataset-fashion-mnist"
                                : "check data.dir");
    unsigned char h[16];
    int nd = magic == IDX_IMAGES ? 3 : 1, hb = 4 + 4 * nd;
    int got = gzread(f, h, (unsigned)hb);
    if (got != hb || be32(h) != magic) {
        gzclose(f);
        return tr_error_set(err, TR_ERR_DATA, "%s: not an IDX %s file (magic %s, expected 0x%08x)", path,
                            magic == IDX_IMAGES ? "image" : "label", got == hb ? "wrong" : "missing", magic);
    }
    for (int i = 0; i < nd; i++)
        dims[i] = be32(h + 4 + 4 * i);
    if (nd == 3 && (dims[1] == 0 || dims[2] == 0 || dims[1] > 4096 || dims[2] > 4096)) {
        gzclose(f);
        return tr_error_set(err, TR_ERR_DATA, "%s: implausible image size %ux%u", path, dims[1], dims[2]);
    }
    *out = f;
    return TR_OK;
}

/* Reads `bytes` into buf; a short read is a truncated file. */
static tr_status idx_read(gzFile f, const char *path, void *buf, size_t bytes, tr_error *err)
{
    unsigned char *p = buf;
    while (bytes > 0) {
        unsigned chunk = bytes > (1u << 30) ? (1u << 30) : (unsigned)bytes;
        int got = gzread(f, p, chunk);
        if (got <= 0) {
            int zerr = 0;
            const char *msg = gzerror(f, &zerr);
            return tr_error_set(err, TR_ERR_DATA, "%s: truncated or corrupt (%s)", path,
                                zerr ? msg : "ends early");
        }
        p += got;
        bytes -= (size_t)got;
    }
    return TR_OK;
}

/* Reads the first `want` images and labels of one split (prefix "train" or
 * "t10k") into pixels/labels; *rows, *cols must match if already set. */
static tr_status load_split(uint8_t *pixels, int32_t *labels, int *rows, int *cols, long want,
                            const char *prefix, const char *key, const tr_config *cfg, int *max_label,
                            tr_error *err)
{
    char ipath[4200], lpath[4200], name[64];
    uint32_t idims[3] = {0}, ldims[1] = {0};
    gzFile fi = NULL, fl = NULL;
    tr_status st;
    snprintf(name, sizeof name, "%s-images-idx3-ubyte.gz", prefix);
    if ((st = idx_open(&fi, ipath, sizeof ipath, cfg, name, IDX_IMAGES, idims, err)))
        return st;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte.gz", prefix);
    if ((st = idx_open(&fl, lpath, sizeof lpath, cfg, name, IDX_LABELS, ldims, err))) {
        gzclose(fi);
        return st;
    }
    if (idims[0] != ldims[0])
        st = tr_error_set(err, TR_ERR_DATA, "%s has %u images but %s has %u labels", ipath, idims[0], lpath, ldims[0]);
    else if (want > (long)idims[0])
        st = tr_error_set(err, TR_ERR_CONFIG, "%s: data.%s (%ld) exceeds the %u images in %s", cfg->path, key, want,
                          idims[0], ipath);
    else if (*rows && (*rows != (int)idims[1] || *cols != (int)idims[2]))
        st = tr_error_set(err, TR_ERR_DATA, "%s: images are %ux%u, the training images %dx%d", ipath, idims[1],
                          idims[2], *rows, *cols);
    if (!st) {
        *rows = (int)idims[1];
        *cols = (int)idims[2];
        st = idx_read(fi, ipath, pixels, (size_t)want * idims[1] * idims[2], err);
    }
    /* all labels: the class count must not depend on data.train */
    uint8_t *lb = NULL;
    if (!st && !(lb = malloc((size_t)ldims[0] + 1)))
        st = tr_error_set(err, TR_ERR_NOMEM, "out of memory reading %s", lpath);
    if (!st)
        st = idx_read(fl, lpath, lb, (size_t)ldims[0], err);
    for (long i = 0; !st && i < (long)ldims[0]; i++) {
        if (i < want)
            labels[i] = lb[i];
        if (lb[i] > *max_label)
            *max_label = lb[i];
    }
    free(lb);
    gzclose(fi);
    gzclose(fl);
    return st;
}

tr_status tr_images_vocab(tr_vocab *v, int classes, const tr_config *cfg, tr_error *err)
{
    memset(v, 0, sizeof *v);
    v->unk = v->pad = v->bos = v->eos = -1;
    v->words = 1;
    memset(v->ascii, 0xff, sizeof v->ascii);
    if (!(v->tokens = calloc((size_t)classes, sizeof *v->tokens)))
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    v->n = classes;
    int fashion = classes == 10 && strstr(cfg->data_dir, "fashion") != NULL;
    for (int i = 0; i < classes; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        if (!(v->tokens[i] = strdup(fashion ? fashion_names[i] : num)))
            return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    }
    return TR_OK;
}

tr_status tr_images_load(tr_vocabs *v, tr_pairs *p, const tr_config *cfg, int with_images, tr_error *err)
{
    /* Prediction also needs the image size and the classes; reading the
     * files is quick (~0.3 s for Fashion-MNIST), so always read them. */
    (void)with_images;
    memset(v, 0, sizeof *v);
    memset(p, 0, sizeof *p);
    const long ntr = cfg->train_size, nte = cfg->test_size, n = ntr + nte;
    char path[4200];
    uint32_t dims[3];
    gzFile f;
    /* the training file's header gives the size to allocate */
    tr_status st = idx_open(&f, path, sizeof path, cfg, "train-images-idx3-ubyte.gz", IDX_IMAGES, dims, err);
    if (st)
        return st;
    gzclose(f);
    const size_t px = (size_t)dims[1] * dims[2];
    p->n = (int)n;
    p->src_len = 0;
    p->tgt_len = 1;
    p->channels = 1;
    p->pixels = malloc((size_t)n * px);
    p->tgt = malloc((size_t)n * sizeof *p->tgt);
    p->index = malloc((size_t)(n > 0 ? n : 1) * sizeof *p->index);
    if (!p->pixels || !p->tgt || !p->index) {
        tr_pairs_free(p);
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory for %ld images", n);
    }
    for (long i = 0; i < n; i++) /* the image's place in its own file (train or t10k) */
        p->index[i] = i < ntr ? i : i - ntr;
    int max_label = 0;
    st = load_split(p->pixels, p->tgt, &p->height, &p->width, ntr, "train", "train", cfg, &max_label, err);
    if (!st && nte > 0)
        st = load_split(p->pixels + (size_t)ntr * px, p->tgt + ntr, &p->height, &p->width, nte, "t10k", "test", cfg,
                        &max_label, err);
    if (!st)
        st = tr_images_vocab(&v->tgt, max_label + 1 > 2 ? max_label + 1 : 2, cfg, err);
    if (!st) {
        v->src.unk = v->src.pad = v->src.bos = v->src.eos = -1;
        memset(v->src.ascii, 0xff, sizeof v->src.ascii);
    }
    if (st) {
        tr_pairs_free(p);
        tr_vocabs_free(v);
    }
    return st;
}

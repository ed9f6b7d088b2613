/* tests/fuzz/fuzz_checkpoint.c - the HDF5 checkpoint readers: a checkpoint
 * is loaded (with or without resume) into a session of a tiny time model,
 * read by `trainer inspect` and by keep_best's reader. The input's first
 * byte picks resume; each further op changes the session's own checkpoint:
 * deletes or replaces a dataset, a group or an attribute (any type, shape,
 * values), or overwrites one's values in place with any bits (h5build.h).
 * With TR_FUZZ_RAW=1 the input is the file's bytes instead. A load that
 * fails must leave the session's parameters as they were. */
#include "h5build.h"
#include "runtime/checkpoint.h"

static tr_session *session;
static float *before;
static uint8_t *template;
static size_t template_size;
enum { MAX_PATHS = 128, MAX_ATTRS = 256 };
static char paths[MAX_PATHS][128];
static char attrs[MAX_ATTRS][2][128]; /* object, attribute */
static int npaths = 1, nattrs;       /* paths[0] is "/" */

static herr_t on_attr(hid_t o, const char *name, const H5A_info_t *info, void *path)
{
    (void)o;
    (void)info;
    if (nattrs < MAX_ATTRS) {
        snprintf(attrs[nattrs][0], 128, "%s", (const char *)path);
        snprintf(attrs[nattrs++][1], 128, "%s", name);
    }
    return 0;
}

static herr_t on_link(hid_t g, const char *name, const H5L_info_t *info, void *unused)
{
    (void)g;
    (void)info;
    (void)unused;
    if (npaths < MAX_PATHS)
        snprintf(paths[npaths++], 128, "/%s", name);
    return 0;
}

static void open_session(void)
{
    const char *pairs = fz_write_text("pairs.json", "[[\"ab 1\", \"01:1\"], [\"b\", \"1\"], [\"a\", \"0\"]]");
    const char *vocabs = fz_write_text("vocabs.json",
        "[{\"<pad>\": 0, \"<unk>\": 1, \" \": 2, \"a\": 3, \"b\": 4, \"1\": 5},"
        " {\"<pad>\": 0, \"0\": 1, \"1\": 2, \":\": 3}]");
    tr_config *cfg = fz_config(0, NULL,
        "run: {out: '%s', seed: 1}\n"
        "model: {plugin: time_attn, encoder_units: 2, decoder_units: 2, attention_units: 1}\n"
        "data: {kind: char_pairs, pairs: '%s', vocabs: '%s', train: 2, test: 1, src_len: 8, tgt_len: 4}\n",
        fz_path("out"), pairs, vocabs);
    tr_error err = {0};
    if (tr_session_open(&session, cfg, 1, &err) != TR_OK || tr_session_train(session, 1, NULL, &err) != TR_OK
        || tr_checkpoint_save(session, fz_path("template.h5"), &err) != TR_OK) {
        fprintf(stderr, "fuzz: the harness's session: %s\n", err.msg);
        abort();
    }
    before = malloc(session->reg.total * sizeof(float));
    memcpy(before, session->params, session->reg.total * sizeof(float));
    /* the template's bytes, its objects and their attributes */
    FILE *t = fopen(fz_path("template.h5"), "rb");
    fseek(t, 0, SEEK_END);
    template_size = (size_t)ftell(t);
    rewind(t);
    template = malloc(template_size);
    if (fread(template, 1, template_size, t) != template_size)
        abort();
    fclose(t);
    strcpy(paths[0], "/");
    hid_t f = H5Fopen(fz_path("template.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    H5Lvisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, on_link, NULL);
    for (int i = 0; i < npaths; i++) {
        hid_t o = H5Oopen(f, paths[i], H5P_DEFAULT);
        H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, on_attr, paths[i]);
        H5Oclose(o);
    }
    H5Fclose(f);
}

static void close_session(void)
{
    tr_session_close(session);
    free(before);
    free(template);
}

/* Overwrites the values of a dataset or attribute with bits from the input
 * (same type and shape; variable-length types are left alone). */
static void overwrite(hid_t f, const char *path, const char *attr, fz_in *in)
{
    hid_t o = attr ? H5Aopen_by_name(f, path, attr, H5P_DEFAULT, H5P_DEFAULT) : H5Dopen2(f, path, H5P_DEFAULT);
    if (o < 0)
        return;
    hid_t t = attr ? H5Aget_type(o) : H5Dget_type(o), sp = attr ? H5Aget_space(o) : H5Dget_space(o);
    const hssize_t n = H5Sget_simple_extent_npoints(sp);
    const size_t size = H5Tget_size(t);
    if (n > 0 && n <= 1 << 16 && !H5Tis_variable_str(t) && H5Tget_class(t) != H5T_VLEN) {
        uint8_t *v = malloc((size_t)n * size);
        const unsigned every = 1 + fz_byte(in) % 64; /* change one value in `every` */
        if (attr ? H5Aread(o, t, v) : H5Dread(o, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0) {
            for (hssize_t i = 0; i < n; i += every)
                for (size_t b = 0; b < size; b++)
                    v[(size_t)i * size + b] = (uint8_t)fz_byte(in);
            if (attr)
                H5Awrite(o, t, v);
            else
                H5Dwrite(o, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        }
        free(v);
    }
    H5Tclose(t);
    H5Sclose(sp);
    attr ? H5Aclose(o) : H5Dclose(o);
}

static void mutate(const char *path, fz_in *in)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        abort();
    for (int op = 0; op < 16 && in->at < in->n; op++) {
        const unsigned b = fz_byte(in), i = fz_byte(in);
        const char *p = paths[i % (unsigned)npaths], *a = nattrs ? attrs[i % (unsigned)nattrs][1] : "x";
        const char *ao = nattrs ? attrs[i % (unsigned)nattrs][0] : "/";
        switch (b % 8) {
        case 0: if (i % (unsigned)npaths) H5Ldelete(f, p, H5P_DEFAULT); break;
        case 1: if (i % (unsigned)npaths) fz_put(f, p, NULL, in); break;
        case 2: overwrite(f, p, NULL, in); break;
        case 3: H5Adelete_by_name(f, ao, a, H5P_DEFAULT); break;
        case 4: fz_put(f, ao, a, in); break;
        case 5: overwrite(f, ao, a, in); break;
        case 6: if (i % (unsigned)npaths) fz_put_group(f, p); break;
        case 7: { /* something extra beside what the checkpoint has */
            char extra[160];
            snprintf(extra, sizeof extra, "%s/zz", p[1] ? p : "");
            fz_put(f, extra, NULL, in);
            break;
        }
        }
    }
    H5Fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!session) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        open_session();
        atexit(close_session);
    }
    const char *path = fz_path("checkpoint.h5");
    int resume = 1;
    if (fz_raw()) {
        fz_write("checkpoint.h5", data, size);
    } else {
        fz_write("checkpoint.h5", template, template_size);
        fz_in in = {data, size, 1};
        resume = size ? data[0] & 1 : 1;
        mutate(path, &in);
    }
    tr_error err = {0};
    if (tr_checkpoint_load(session, path, resume, &err) != TR_OK) {
        fz_check_error(&err);
        if (memcmp(before, session->params, session->reg.total * sizeof(float)) != 0) {
            fprintf(stderr, "fuzz: a failed load changed the parameters (%s)\n", err.msg);
            abort();
        }
    } else {
        memcpy(session->params, before, session->reg.total * sizeof(float));
    }
    FILE *null = fopen("/dev/null", "w");
    tr_error ierr = {0};
    if (tr_checkpoint_inspect(path, null, &ierr) != TR_OK)
        fz_check_error(&ierr);
    fclose(null);
    double value;
    tr_checkpoint_best_of(path, &value);
    return 0;
}

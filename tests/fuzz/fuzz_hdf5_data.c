/* tests/fuzz/fuzz_hdf5_data.c - data.kind hdf5 (docs/data_hdf5.md). The
 * input's first byte picks a starting file (empty, a text classifier's,
 * sequence pairs', images') and data.train / data.test; each further op
 * replaces one of the layout's paths by a dataset of any type, shape and
 * values, a group or a soft link, or deletes it (h5build.h). With
 * TR_FUZZ_RAW=1 the input is the file's bytes instead. */
#include "h5build.h"

static const char *const names[] = {"/train/source", "/train/target", "/train/label", "/train/input",
                                    "/test/source",  "/test/target",  "/test/label",  "/test/input",
                                    "/vocab/source", "/vocab/target", "/classes",     "/train",
                                    "/test",         "/vocab"};
enum { NAMES = sizeof names / sizeof names[0] };

static void template(hid_t f, unsigned which)
{
    static const char *const vocab[] = {"<pad>", "<unk>", "<s>", "</s>", "the", "good", "bad"};
    static const char *const classes[] = {"neg", "pos"};
    static const int32_t src[3][4] = {{4, 5, 0, 0}, {4, 6, 1, 0}, {5, 0, 0, 0}};
    static const int32_t tgt[3][3] = {{2, 5, 3}, {2, 6, 3}, {2, 3, 0}};
    static const int32_t label[3] = {1, 0, 1};
    static uint8_t pixels[3][1][4][4];
    hsize_t d2[2] = {2, 4}, d1[1] = {2}, dt[2] = {2, 3}, di[4] = {2, 1, 4, 4}, one[1] = {1};
    switch (which % 4) {
    case 1: /* a text classifier */
        fz_put_ints(f, "/train/source", H5T_NATIVE_INT32, 2, d2, src);
        fz_put_ints(f, "/train/label", H5T_NATIVE_INT32, 1, d1, label);
        d2[0] = 1;
        fz_put_ints(f, "/test/source", H5T_NATIVE_INT32, 2, d2, src[2]);
        fz_put_ints(f, "/test/label", H5T_NATIVE_INT32, 1, one, label + 2);
        fz_put_strings(f, "/vocab/source", 7, vocab);
        fz_put_strings(f, "/classes", 2, classes);
        break;
    case 2: /* sequence pairs */
        fz_put_ints(f, "/train/source", H5T_NATIVE_INT32, 2, d2, src);
        fz_put_ints(f, "/train/target", H5T_NATIVE_INT32, 2, dt, tgt);
        fz_put_strings(f, "/vocab/source", 7, vocab);
        fz_put_strings(f, "/vocab/target", 7, vocab);
        break;
    case 3: /* images */
        for (int i = 0; i < 16; i++)
            pixels[0][0][i / 4][i % 4] = (uint8_t)(17 * i);
        fz_put_ints(f, "/train/input", H5T_NATIVE_UINT8, 4, di, pixels);
        fz_put_ints(f, "/train/label", H5T_NATIVE_INT32, 1, d1, label);
        fz_put_strings(f, "/classes", 2, classes);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_path("data.h5");
    unsigned o = size ? data[0] : 0;
    if (fz_raw()) {
        fz_write("data.h5", data, size);
        o = 0;
    } else {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (f < 0)
            abort();
        template(f, o);
        fz_in in = {data, size, 1};
        for (int op = 0; op < 16 && in.at < in.n; op++) {
            const unsigned b = fz_byte(&in);
            const char *name = names[(b >> 2) % NAMES];
            switch (b & 3) {
            case 0: fz_put(f, name, NULL, &in); break;
            case 1: H5Ldelete(f, name, H5P_DEFAULT); break;
            case 2: fz_put_group(f, name); break;
            case 3: fz_put_link(f, name, names[fz_byte(&in) % NAMES]); break;
            }
        }
        H5Fclose(f);
    }
    /* data.train / data.test: every row (not given), or counts */
    char split[64] = "";
    const int train = (int)(o >> 2 & 3), test = (int)(o >> 4 & 3);
    if (train)
        snprintf(split, sizeof split, ", train: %d", train);
    if (test)
        snprintf(split + strlen(split), sizeof split - strlen(split), ", test: %d", test - 1);
    fz_load_data(fz_config(0, NULL, "model: {plugin: time_attn}\ndata: {kind: hdf5, file: '%s'%s}\n", path, split));
    return 0;
}

/* tests/fuzz/fuzz_idx.c - data.kind idx_images (gzipped IDX, Fashion-MNIST's
 * files): the input's first byte picks which of the four files the rest
 * replaces (the other three stay valid: 3 training and 2 test images of
 * 5x4 pixels) and whether it is gzipped first or written as it is (zlib reads
 * both; a raw gzip stream in the input tests the decoder itself). */
#include <zlib.h>
#include "fuzz.h"

static const char *names[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

static void put_gz(const char *name, const uint8_t *bytes, size_t n)
{
    gzFile f = gzopen(fz_path(name), "wb");
    if (!f || (n && gzwrite(f, bytes, (unsigned)n) != (int)n) || gzclose(f) != Z_OK)
        abort();
}

static void valid_file(int which)
{
    int images = which % 2 == 0, n = which < 2 ? 3 : 2;
    uint8_t b[16 + 3 * 20] = {0, 0, 8, images ? 3 : 1, 0, 0, 0, (uint8_t)n};
    size_t len = 8;
    if (images) {
        b[11] = 5; /* rows */
        b[15] = 4; /* columns */
        len = 16;
    }
    for (int i = 0; i < n * (images ? 20 : 1); i++)
        b[len++] = (uint8_t)(images ? 37 * i : i);
    put_gz(names[which], b, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] & 3;
    for (int i = 0; i < 4; i++)
        if (i != which)
            valid_file(i);
    if (data[0] & 4)
        put_gz(names[which], data + 1, size - 1);
    else
        fz_write(names[which], data + 1, size - 1);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", fz_path("x"));
    dir[strlen(dir) - 2] = 0;
    fz_load_data(fz_config(0, NULL, "model: {plugin: cnn_attn}\ndata: {kind: idx_images, dir: '%s', train: 3, test: %d}\n",
                           dir, data[0] & 8 ? 0 : 2));
    return 0;
}

/* core/data/png_input.c - a PNG file as the model's input, for `trainer
 * predict` on image models: libpng's simplified API converts any PNG
 * (palette, RGB, 16-bit, alpha over black) to 8-bit grey.
 *
 * libpng allocates what a chunk's header declares before reading it, and
 * inflates compressed text and ICC chunks to whatever size they unpack to
 * (a 75-byte file asked for 1.9 GB: found by fuzzing). So the file is read
 * here first (at most MAX_FILE bytes), each chunk's length checked against
 * what is left of it, and only the chunks that make pixels are handed on:
 * the image data is inflated one row at a time into an image whose size is
 * checked before it is read. */
#include "data/png_input.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_FILE = 64 << 20 };

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The chunks that decide the pixels (the critical ones, transparency,
 * gamma and colour-space): the rest are text and metadata. */
static int keeps(const uint8_t *type)
{
    static const char *const kept[] = {"IHDR", "PLTE", "IDAT", "IEND", "tRNS", "gAMA", "sRGB", "cHRM", "sBIT", "bKGD"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        if (memcmp(type, kept[i], 4) == 0)
            return 1;
    return 0;
}

/* The file's bytes with only the kept chunks, in *out (*n bytes). */
static tr_status read_filtered(uint8_t **out, size_t *n, const char *path, tr_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tr_error_set(err, TR_ERR_DATA, "%s: cannot read as PNG: %s", path, strerror(errno));
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len < 0 || len > MAX_FILE || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return len > MAX_FILE ? tr_error_set(err, TR_ERR_DATA, "%s: over %d MB: not an image a model takes", path,
                                             MAX_FILE >> 20)
                              : tr_error_set(err, TR_ERR_DATA, "%s: cannot read as PNG: not a regular file", path);
    }
    uint8_t *buf = malloc((size_t)len + 1);
    size_t size = buf ? fread(buf, 1, (size_t)len, f) : 0;
    const int bad = ferror(f) || size != (size_t)len;
    fclose(f);
    if (!buf)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory reading %s", path);
    tr_status st = TR_OK;
    if (bad)
        st = tr_error_set(err, TR_ERR_DATA, "%s: cannot read as PNG: read error", path);
    else if (size < 8 || png_sig_cmp(buf, 0, 8) != 0)
        st = tr_error_set(err, TR_ERR_DATA, "%s: cannot read as PNG: not a PNG file", path);
    size_t at = 8, kept = 8;
    while (!st && at < size) {
        if (size - at < 12) {
            st = tr_error_set(err, TR_ERR_DATA, "%s: cannot read as PNG: truncated after byte %zu", path, at);
            break;
        }
        const uint32_t len = be32(buf + at);
        const uint8_t *type = buf + at + 4;
        if (len > size - at - 12) {
            st = tr_error_set(err, TR_ERR_DATA, "%s: cannot read as PNG: the chunk at byte %zu says it holds %u bytes, the file has "
                              "%zu left (truncated or corrupt)", path, at, len, size - at - 12);
            break;
        }
        if (keeps(type)) {
            memmove(buf + kept, buf + at, (size_t)len + 12);
            kept += (size_t)len + 12;
        }
        at += (size_t)len + 12;
        if (memcmp(type, "IEND", 4) == 0)
            break;
    }
    if (st) {
        free(buf);
        return st;
    }
    *out = buf;
    *n = kept;
    return TR_OK;
}

tr_status tr_png_read_gray(uint8_t *out, const char *path, int height, int width, tr_error *err)
{
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (read_filtered(&bytes, &n, path, err))
        return err->status;
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, bytes, n)) {
        tr_error_set(err, TR_ERR_DATA, "%s: cannot read as PNG: %s", path, img.message);
        free(bytes);
        return err->status;
    }
    if ((int)img.height != height || (int)img.width != width) {
        tr_error_set(err, TR_ERR_DATA, "%s: the image is %ux%u pixels; the model takes %dx%d (width x height)", path,
                     img.width, img.height, width, height);
        png_image_free(&img);
        free(bytes);
        return err->status;
    }
    img.format = PNG_FORMAT_GRAY;
    if (!png_image_finish_read(&img, NULL, out, 0, NULL)) {
        tr_error_set(err, TR_ERR_DATA, "%s: %s", path, img.message);
        png_image_free(&img);
        free(bytes);
        return err->status;
    }
    free(bytes);
    return TR_OK;
}

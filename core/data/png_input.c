/* core/data/png_input.c - a PNG file as the model's input, for `trainer
 * predict` on image models: libpng's simplified API converts any PNG
 * (palette, RGB, 16-bit, alpha over black) to 8-bit grey. */
#include "data/png_input.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>

tr_status tr_png_read_gray(uint8_t *out, const char *path, int height, int width, tr_error *err)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path))
        return tr_error_set(err, TR_ERR_DATA, "%s: cannot read as PNG: %s", path, img.message);
    if ((int)img.height != height || (int)img.width != width) {
        tr_error_set(err, TR_ERR_DATA, "%s: the image is %ux%u pixels; the model takes %dx%d (width x height)", path,
                     img.width, img.height, width, height);
        png_image_free(&img);
        return err->status;
    }
    img.format = PNG_FORMAT_GRAY;
    if (!png_image_finish_read(&img, NULL, out, 0, NULL)) {
        tr_error_set(err, TR_ERR_DATA, "%s: %s", path, img.message);
        png_image_free(&img);
        return err->status;
    }
    return TR_OK;
}

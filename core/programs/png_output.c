/* core/programs/png_output.c - a float map as a grey PNG (libpng's
 * simplified API). */
#include "programs/png_output.h"

#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

tr_status tr_png_write_scaled(const char *path, const float *v, int H, int W, float *lo, float *hi, tr_error *err)
{
    const size_t n = (size_t)H * W;
    float a = v[0], b = v[0];
    for (size_t i = 0; i < n; i++) {
        a = v[i] < a ? v[i] : a;
        b = v[i] > b ? v[i] : b;
    }
    *lo = a;
    *hi = b;
    uint8_t *px = malloc(n);
    if (!px)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        px[i] = (uint8_t)(b > a ? (v[i] - a) / (b - a) * 255.0f + 0.5f : 0.0f);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)W;
    img.height = (png_uint_32)H;
    img.format = PNG_FORMAT_GRAY;
    const int ok = png_image_write_to_file(&img, path, 0, px, 0, NULL);
    free(px);
    if (!ok)
        return tr_error_set(err, TR_ERR_IO, "%s: cannot write the PNG: %s", path, img.message);
    return TR_OK;
}

/* core/programs/png_output.c - a float map [C, H, W] as a PNG (libpng's
 * simplified API): RGB for 3 channels, else grey with the channels one
 * below the other. */
#include "programs/png_output.h"

#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

tr_status tr_png_write_scaled(const char *path, const float *v, int C, int H, int W, float *lo, float *hi,
                              tr_error *err)
{
    const size_t plane = (size_t)H * W, n = (size_t)C * plane;
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
    const int rgb = C == 3;
    for (size_t i = 0; i < n; i++) { /* one scale for all channels: their relative levels stay */
        const size_t o = rgb ? i % plane * 3 + i / plane : i; /* planar -> interleaved for RGB */
        px[o] = (uint8_t)(b > a ? (v[i] - a) / (b - a) * 255.0f + 0.5f : 0.0f);
    }
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)W;
    img.height = (png_uint_32)(rgb ? H : C * H);
    img.format = rgb ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    const int ok = png_image_write_to_file(&img, path, 0, px, 0, NULL);
    free(px);
    if (!ok)
        return tr_error_set(err, TR_ERR_IO, "%s: cannot write the PNG: %s", path, img.message);
    return TR_OK;
}

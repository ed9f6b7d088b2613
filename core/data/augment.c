/* core/data/augment.c - random flips, shifts and rotations of training
 * images, and the fixed rotations of data.test_rotate. */
#include "data/augment.h"
#include "base/rng.h"
#include "trainer/vision.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t tr_augment_key(uint64_t seed, long epoch, long sample)
{
    return tr_key_u64(tr_key_u64(seed, 0x41554720ULL /* "AUG " */, (uint64_t)epoch), 0, (uint64_t)sample);
}

void tr_rotate_image(float *im, int C, int H, int W, double degrees, int bilinear)
{
    /* in normalised coordinates (x, y in [-1, 1] across the width and the
     * height): the pixel-space rotation, corrected for the aspect ratio */
    const double a = degrees * (3.14159265358979323846 / 180.0), c = cos(a), s = sin(a);
    const float theta[6] = {(float)c, (float)(-s * H / W), 0.0f, (float)(s * W / H), (float)c, 0.0f};
    float *grid = malloc((size_t)H * W * 2 * sizeof *grid), *src = malloc((size_t)C * H * W * sizeof *src);
    if (!grid || !src)
        abort(); /* a few KB per image */
    memcpy(src, im, (size_t)C * H * W * sizeof *src);
    tr_affine_grid_forward(grid, theta, 1, H, W, 0);
    if (bilinear) {
        tr_grid_sample_forward(im, src, grid, 1, C, H, W, H, W, 0);
    } else { /* the nearest pixel (align_corners false: pixel k spans [k, k+1) - 1/2 ...) */
        for (int p = 0; p < H * W; p++) {
            const float ix = ((grid[2 * p] + 1.0f) * (float)W - 1.0f) * 0.5f;
            const float iy = ((grid[2 * p + 1] + 1.0f) * (float)H - 1.0f) * 0.5f;
            const int in = ix > -0.5f && ix < (float)W - 0.5f && iy > -0.5f && iy < (float)H - 0.5f;
            const int x = in ? (int)lrintf(ix) : 0, y = in ? (int)lrintf(iy) : 0;
            for (int c = 0; c < C; c++)
                im[(size_t)c * H * W + p] = in ? src[(size_t)c * H * W + (size_t)y * W + x] : 0.0f;
        }
    }
    free(grid);
    free(src);
}

void tr_rotate_heldout(uint8_t *px, const int64_t *index, long n, int C, int H, int W, double degrees, int bilinear)
{
    const size_t size = (size_t)C * H * W;
    float *im = malloc(size * sizeof *im);
    if (!im)
        abort();
    for (long i = 0; i < n; i++) {
        const uint64_t at = index ? (uint64_t)index[i] : (uint64_t)i;
        tr_rng r = tr_rng_make(tr_key_u64(0x54455354524f54ULL /* "TESTROT" */, 0, at));
        const double angle = (2.0 * tr_rng_uniform(&r) - 1.0) * degrees;
        uint8_t *p = px + (size_t)i * size;
        for (size_t k = 0; k < size; k++)
            im[k] = (float)p[k];
        tr_rotate_image(im, C, H, W, angle, bilinear);
        for (size_t k = 0; k < size; k++)
            p[k] = (uint8_t)fminf(255.0f, fmaxf(0.0f, im[k] + 0.5f));
    }
    free(im);
}

void tr_augment_image(float *out, const uint8_t *px, int C, int H, int W, int flip, int shift, double rotate,
                      int bilinear, uint64_t key)
{
    tr_rng r = tr_rng_make(key);
    /* every draw is made whatever is enabled, so turning one on does not
     * change the others' */
    int dy = (int)tr_rng_below(&r, (uint64_t)(2 * shift + 1)) - shift;
    int dx = (int)tr_rng_below(&r, (uint64_t)(2 * shift + 1)) - shift;
    const uint64_t coin = tr_rng_next(&r);
    int mirror = flip && (coin >> 63);
    const double angle = (2.0 * tr_rng_uniform(&r) - 1.0) * rotate; /* drawn after the others: they stay */
    const float s = 1.0f / 255.0f;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++) {
            float *o = out + ((size_t)c * H + y) * W;
            int sy = y - dy;
            if (sy < 0 || sy >= H) {
                memset(o, 0, (size_t)W * sizeof *o);
                continue;
            }
            const uint8_t *row = px + ((size_t)c * H + sy) * W;
            for (int x = 0; x < W; x++) {
                int sx = (mirror ? W - 1 - x : x) - dx;
                o[x] = sx >= 0 && sx < W ? (float)row[sx] * s : 0.0f;
            }
        }
    if (rotate > 0)
        tr_rotate_image(out, C, H, W, angle, bilinear);
}

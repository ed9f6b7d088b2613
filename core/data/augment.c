/* core/data/augment.c - random flips and shifts of training images. */
#include "data/augment.h"
#include "base/rng.h"

#include <string.h>

uint64_t tr_augment_key(uint64_t seed, long epoch, long sample)
{
    return tr_key_u64(tr_key_u64(seed, 0x41554720ULL /* "AUG " */, (uint64_t)epoch), 0, (uint64_t)sample);
}

void tr_augment_image(float *out, const uint8_t *px, int C, int H, int W, int flip, int shift, uint64_t key)
{
    tr_rng r = tr_rng_make(key);
    /* both draws are made whatever is enabled, so turning one on does not
     * change the other's */
    int dy = (int)tr_rng_below(&r, (uint64_t)(2 * shift + 1)) - shift;
    int dx = (int)tr_rng_below(&r, (uint64_t)(2 * shift + 1)) - shift;
    int mirror = flip && (tr_rng_next(&r) >> 63);
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
}

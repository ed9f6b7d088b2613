/* core/layers/dropout.c - inverted dropout with counter-based masks
 * (trainer/layers.h, "dropout").
 *
 * A mask entry is a pure function of (row key, column): the same sample
 * gets the same mask whichever rank, thread, micro-shard or row of a
 * sub-batch it lands in (DESIGN.md, "Parallelism"). */
#include "trainer/layers.h"
#include "base/rng.h"

#include <stddef.h>
#include <string.h>

/* Keeps dropout keys apart from every other tr_key_u64 use of the same seed
 * (init, shuffles): "drop" in ASCII. */
#define TR_DROPOUT_DOMAIN 0x64726f70ULL

uint64_t tr_dropout_key(uint64_t batch_key, int64_t sample_index,
                        uint32_t site, uint32_t position)
{
    return tr_key_u64(batch_key ^ TR_DROPOUT_DOMAIN, (uint64_t)sample_index,
                      ((uint64_t)site << 32) | position);
}

/* m[0, d1-d0) = columns [d0, d1) of the mask of the row keyed by key
 * (d0 even). Draw j of the key (tr_rng's counter j) gives columns 2j (its
 * low 32 bits) and 2j+1 (its high 32 bits): one mix per entry. u keeps 24
 * bits, so it is an exact float in [0, 1) and u >= p is exact. */
static void mask_cols(float *restrict m, uint64_t key, float p, float scale,
                      int d0, int d1)
{
    for (int d = d0; d < d1; d += 2) {
        tr_rng r = {key, (uint64_t)d >> 1};
        const uint64_t bits = tr_rng_next(&r);
        const float u0 = (float)((uint32_t)bits >> 8) * 0x1p-24f;
        m[d - d0] = u0 >= p ? scale : 0.0f;
        if (d + 1 < d1) {
            const float u1 = (float)((uint32_t)(bits >> 32) >> 8) * 0x1p-24f;
            m[d + 1 - d0] = u1 >= p ? scale : 0.0f;
        }
    }
}

void tr_dropout_forward(float *y, float *mask, const float *x,
                        const uint64_t *keys, float p, int N, int D)
{
    if (N <= 0 || D <= 0)
        return;
    const size_t ND = (size_t)N * (size_t)D;
    if (!(p > 0.0f)) { /* p <= 0 (or NaN): the identity */
        if (y != x)
            memcpy(y, x, ND * sizeof *y);
        if (mask)
            for (size_t i = 0; i < ND; i++)
                mask[i] = 1.0f;
        return;
    }
    /* p >= 1 drops everything (1 / (1 - p) would be inf or negative) */
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t n = 0; n < (size_t)N; n++) {
        float *yr = y + n * (size_t)D; /* may equal x */
        const float *xr = x + n * (size_t)D;
        if (mask) {
            float *restrict mr = mask + n * (size_t)D;
            mask_cols(mr, keys[n], p, scale, 0, D);
            for (int d = 0; d < D; d++)
                yr[d] = xr[d] * mr[d];
        } else {
            /* no mask buffer: the row's mask in stack tiles of even width
             * (y may equal x, so y cannot hold it) */
            float tile[256];
            for (int d0 = 0; d0 < D; d0 += 256) {
                const int d1 = D - d0 < 256 ? D : d0 + 256;
                mask_cols(tile, keys[n], p, scale, d0, d1);
                for (int d = d0; d < d1; d++)
                    yr[d] = xr[d] * tile[d - d0];
            }
        }
    }
}

void tr_dropout_backward(float *dx, const float *dy, const float *mask, int N,
                         int D)
{
    if (!dx || N <= 0 || D <= 0)
        return;
    const size_t ND = (size_t)N * (size_t)D;
    for (size_t i = 0; i < ND; i++)
        dx[i] += dy[i] * mask[i];
}

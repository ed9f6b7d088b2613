/* core/reduce.c - fixed-point int64 accumulation of micro-shard gradients. */
#include "reduce.h"
#include "fastmath.h"

#include <math.h>
#include <string.h>

TR_SIMD int tr_exact_maxabs(float *maxabs, const float *shards, int nshards,
                    size_t stride, const tr_registry *reg)
{
    /* On the bit patterns with the sign cleared, unsigned order is |x| order
     * and every NaN/inf is >= 0x7f800000: an integer max that vectorises. */
    #pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < reg->n; t++) {
        const tr_tensor *tt = &reg->tensors[t];
        uint32_t m = 0;
        for (int s = 0; s < nshards; s++) {
            typedef uint32_t __attribute__((may_alias)) u32_alias; /* float bits, legally */
            const u32_alias *g = (const u32_alias *)(shards + (size_t)s * stride + tt->offset);
            for (size_t i = 0; i < tt->count; i++) {
                uint32_t a = g[i] & 0x7fffffffu;
                m = a > m ? a : m;
            }
        }
        m = m > 0x7f800000u ? 0x7f800000u : m; /* NaN -> inf: MAX-reducible */
        memcpy(&maxabs[t], &m, sizeof m);
    }
    for (int t = 0; t < reg->n; t++)
        if (isinf(maxabs[t]))
            return t;
    return -1;
}

TR_SIMD void tr_exact_scales(double *scales, const float *maxabs, int ntensors,
                     int total_shards)
{
    int headroom = 0;
    while ((1L << headroom) < (long)total_shards + 1)
        headroom++;
    for (int t = 0; t < ntensors; t++) {
        int e = 0;
        if (maxabs[t] > 0.0f)
            frexpf(maxabs[t], &e); /* maxabs < 2^e */
        scales[t] = ldexp(1.0, 62 - headroom - e);
    }
}

TR_SIMD void tr_exact_quantize_sum(int64_t *acc, float *shards, int nshards,
                           size_t stride, const tr_registry *reg,
                           const double *scales)
{
    memset(acc, 0, stride * sizeof *acc); /* padding between tensors */
    if (nshards < 1)
        return;
    /* Blocks of 512 values stay in L1 while every shard is added in. */
    enum { BLK = 512 };
    #pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < reg->n; t++) {
        const tr_tensor *tt = &reg->tensors[t];
        const double sc = scales[t];
        for (size_t i0 = 0; i0 < tt->count; i0 += BLK) {
            const size_t m = tt->count - i0 < BLK ? tt->count - i0 : BLK;
            int64_t *restrict a = acc + tt->offset + i0;
            float *restrict g = shards + tt->offset + i0;
            for (size_t i = 0; i < m; i++) /* truncation: one vector instruction */
                a[i] = (int64_t)((double)g[i] * sc);
            memset(g, 0, m * sizeof *g);
            for (int s = 1; s < nshards; s++) {
                g = shards + (size_t)s * stride + tt->offset + i0;
                for (size_t i = 0; i < m; i++)
                    a[i] += (int64_t)((double)g[i] * sc);
                memset(g, 0, m * sizeof *g);
            }
        }
    }
}

TR_SIMD void tr_exact_to_float(float *out, const int64_t *acc, const tr_registry *reg,
                       const double *scales, double divisor)
{
    #pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < reg->n; t++) {
        const tr_tensor *tt = &reg->tensors[t];
        const double f = 1.0 / (scales[t] * divisor);
        for (size_t i = 0; i < tt->count; i++)
            out[tt->offset + i] = (float)((double)acc[tt->offset + i] * f);
    }
}

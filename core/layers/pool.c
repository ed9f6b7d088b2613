/* core/layers/pool.c - pooling (windowed, global, over channels) and the broadcast
 * products the attention blocks gate with (trainer/vision.h). */
#include "trainer/vision.h"
#include "base/fastmath.h"

#include <stddef.h>
#include <string.h>

static int pool_out(int n, int K, int S)
{
    return (K <= 0 || S <= 0 || n < K) ? 0 : (n - K) / S + 1;
}

/* ============================================================ windowed */

TR_SIMD void tr_avgpool_forward(float *restrict out, const float *restrict in,
                                int N, int C, int Hi, int Wi, int K, int S)
{
    const int Ho = pool_out(Hi, K, S), Wo = pool_out(Wi, K, S);
    if (N <= 0 || C <= 0 || Ho <= 0 || Wo <= 0)
        return;
    const float inv = 1.0f / (float)(K * K);
    const size_t planes = (size_t)N * (size_t)C;
    for (size_t q = 0; q < planes; q++) {
        const float *src = in + q * (size_t)Hi * (size_t)Wi;
        float *dst = out + q * (size_t)Ho * (size_t)Wo;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                const float *w = src + (size_t)(oy * S) * (size_t)Wi + (size_t)(ox * S);
                float s = 0.0f;
                for (int i = 0; i < K; i++)
                    for (int j = 0; j < K; j++)
                        s += w[(size_t)i * (size_t)Wi + (size_t)j];
                dst[(size_t)oy * (size_t)Wo + (size_t)ox] = s * inv;
            }
    }
}

TR_SIMD void tr_avgpool_backward(float *restrict din, const float *restrict dout,
                                 int N, int C, int Hi, int Wi, int K, int S)
{
    const int Ho = pool_out(Hi, K, S), Wo = pool_out(Wi, K, S);
    if (!din || N <= 0 || C <= 0 || Ho <= 0 || Wo <= 0)
        return;
    const float inv = 1.0f / (float)(K * K);
    const size_t planes = (size_t)N * (size_t)C;
    for (size_t q = 0; q < planes; q++) {
        float *dst = din + q * (size_t)Hi * (size_t)Wi;
        const float *src = dout + q * (size_t)Ho * (size_t)Wo;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                float g = src[(size_t)oy * (size_t)Wo + (size_t)ox] * inv;
                float *w = dst + (size_t)(oy * S) * (size_t)Wi + (size_t)(ox * S);
                for (int i = 0; i < K; i++)
                    for (int j = 0; j < K; j++)
                        w[(size_t)i * (size_t)Wi + (size_t)j] += g;
            }
    }
}

void tr_maxpool_forward(float *restrict out, int32_t *restrict argmax,
                        const float *restrict in, int N, int C, int Hi, int Wi,
                        int K, int S)
{
    const int Ho = pool_out(Hi, K, S), Wo = pool_out(Wi, K, S);
    if (N <= 0 || C <= 0 || Ho <= 0 || Wo <= 0)
        return;
    const size_t planes = (size_t)N * (size_t)C;
    for (size_t q = 0; q < planes; q++) {
        const float *src = in + q * (size_t)Hi * (size_t)Wi;
        float *dst = out + q * (size_t)Ho * (size_t)Wo;
        int32_t *arg = argmax + q * (size_t)Ho * (size_t)Wo;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                int best = oy * S * Wi + ox * S;
                float m = src[best];
                for (int i = 0; i < K; i++)
                    for (int j = 0; j < K; j++) {
                        int at = (oy * S + i) * Wi + ox * S + j;
                        if (src[at] > m) {
                            m = src[at];
                            best = at;
                        }
                    }
                dst[(size_t)oy * (size_t)Wo + (size_t)ox] = m;
                arg[(size_t)oy * (size_t)Wo + (size_t)ox] = best;
            }
    }
}

void tr_maxpool_backward(float *restrict din, const float *restrict dout,
                         const int32_t *restrict argmax, int N, int C, int Hi,
                         int Wi, int K, int S)
{
    const int Ho = pool_out(Hi, K, S), Wo = pool_out(Wi, K, S);
    if (!din || N <= 0 || C <= 0 || Ho <= 0 || Wo <= 0)
        return;
    const size_t planes = (size_t)N * (size_t)C, hwo = (size_t)Ho * (size_t)Wo;
    for (size_t q = 0; q < planes; q++) {
        float *dst = din + q * (size_t)Hi * (size_t)Wi;
        for (size_t p = 0; p < hwo; p++)
            dst[argmax[q * hwo + p]] += dout[q * hwo + p];
    }
}

/* ============================================================== global */

TR_SIMD void tr_global_avgpool_forward(float *restrict out, const float *restrict in,
                                       int N, int C, int HW)
{
    if (N <= 0 || C <= 0 || HW <= 0)
        return;
    const float inv = 1.0f / (float)HW;
    const size_t planes = (size_t)N * (size_t)C;
    for (size_t q = 0; q < planes; q++) {
        out[q] = tr_sum(in + q * (size_t)HW, HW) * inv;
    }
}

TR_SIMD void tr_global_avgpool_backward(float *restrict din, const float *restrict dout,
                                        int N, int C, int HW)
{
    if (!din || N <= 0 || C <= 0 || HW <= 0)
        return;
    const float inv = 1.0f / (float)HW;
    const size_t planes = (size_t)N * (size_t)C;
    for (size_t q = 0; q < planes; q++) {
        float g = dout[q] * inv;
        float *dst = din + q * (size_t)HW;
        for (int p = 0; p < HW; p++)
            dst[p] += g;
    }
}

/* max of a row (exact in any order: 16 lanes), then the first index of it */
TR_SIMD void tr_global_maxpool_forward(float *restrict out, int32_t *restrict argmax,
                                       const float *restrict in, int N, int C, int HW)
{
    if (N <= 0 || C <= 0 || HW <= 0)
        return;
    const size_t planes = (size_t)N * (size_t)C;
    for (size_t q = 0; q < planes; q++) {
        const float *src = in + q * (size_t)HW;
        float acc[16];
        for (int j = 0; j < 16; j++)
            acc[j] = src[0];
        int p = 0;
        for (; p + 16 <= HW; p += 16)
            for (int j = 0; j < 16; j++)
                acc[j] = src[p + j] > acc[j] ? src[p + j] : acc[j];
        for (; p < HW; p++)
            acc[0] = src[p] > acc[0] ? src[p] : acc[0];
        float m = acc[0];
        for (int j = 1; j < 16; j++)
            m = acc[j] > m ? acc[j] : m;
        int best = 0;
        while (best < HW - 1 && !(src[best] == m)) /* NaN-free rows: found */
            best++;
        out[q] = src[best];
        argmax[q] = best;
    }
}

void tr_global_maxpool_backward(float *restrict din, const float *restrict dout,
                                const int32_t *restrict argmax, int N, int C,
                                int HW)
{
    if (!din || N <= 0 || C <= 0 || HW <= 0)
        return;
    const size_t planes = (size_t)N * (size_t)C;
    for (size_t q = 0; q < planes; q++)
        din[q * (size_t)HW + (size_t)argmax[q]] += dout[q];
}

/* ======================================================== over channels */

TR_SIMD void tr_channel_meanmax_forward(float *restrict out, int32_t *restrict argmax,
                                        const float *restrict in, int N, int C,
                                        int HW)
{
    if (N <= 0 || C <= 0 || HW <= 0)
        return;
    const float inv = 1.0f / (float)C;
    const size_t hw = (size_t)HW;
    for (size_t n = 0; n < (size_t)N; n++) {
        const float *x = in + n * (size_t)C * hw;
        float *restrict mean = out + 2 * n * hw, *restrict mx = mean + hw;
        int32_t *restrict arg = argmax + n * hw;
        memcpy(mean, x, hw * sizeof *mean);
        memcpy(mx, x, hw * sizeof *mx);
        for (size_t p = 0; p < hw; p++)
            arg[p] = 0;
        for (int c = 1; c < C; c++) {
            const float *restrict xc = x + (size_t)c * hw;
            for (size_t p = 0; p < hw; p++) {
                float v = xc[p];
                mean[p] += v;
                int gt = v > mx[p];
                mx[p] = gt ? v : mx[p];
                arg[p] = gt ? c : arg[p];
            }
        }
        for (size_t p = 0; p < hw; p++)
            mean[p] *= inv;
    }
}

TR_SIMD void tr_channel_meanmax_backward(float *restrict din, const float *restrict dout,
                                         const int32_t *restrict argmax, int N,
                                         int C, int HW)
{
    if (!din || N <= 0 || C <= 0 || HW <= 0)
        return;
    const float inv = 1.0f / (float)C;
    const size_t hw = (size_t)HW;
    for (size_t n = 0; n < (size_t)N; n++) {
        float *dx = din + n * (size_t)C * hw;
        const float *restrict dmean = dout + 2 * n * hw, *restrict dmx = dmean + hw;
        const int32_t *restrict arg = argmax + n * hw;
        for (int c = 0; c < C; c++) {
            float *restrict d = dx + (size_t)c * hw;
            for (size_t p = 0; p < hw; p++)
                d[p] += dmean[p] * inv + (arg[p] == c ? dmx[p] : 0.0f);
        }
    }
}

/* ============================================================ broadcast */

/* y may equal x: element i is read before it is written (no restrict) */
TR_SIMD void tr_scale_channels_forward(float *y, const float *x, const float *a,
                                       int N, int C, int HW)
{
    if (N <= 0 || C <= 0 || HW <= 0)
        return;
    const size_t planes = (size_t)N * (size_t)C;
    for (size_t q = 0; q < planes; q++) {
        const float s = a[q];
        const float *xs = x + q * (size_t)HW;
        float *ys = y + q * (size_t)HW;
        for (int p = 0; p < HW; p++)
            ys[p] = xs[p] * s;
    }
}

TR_SIMD void tr_scale_channels_backward(float *restrict dx, float *restrict da,
                                        const float *restrict dy,
                                        const float *restrict x,
                                        const float *restrict a, int N, int C,
                                        int HW)
{
    if ((!dx && !da) || N <= 0 || C <= 0 || HW <= 0)
        return;
    const size_t planes = (size_t)N * (size_t)C;
    for (size_t q = 0; q < planes; q++) {
        const float *g = dy + q * (size_t)HW;
        if (dx) {
            const float s = a[q];
            float *d = dx + q * (size_t)HW;
            for (int p = 0; p < HW; p++)
                d[p] += g[p] * s;
        }
        if (da)
            da[q] += tr_dot(g, x + q * (size_t)HW, HW);
    }
}

TR_SIMD void tr_scale_spatial_forward(float *y, const float *x, const float *s,
                                      int N, int C, int HW)
{
    if (N <= 0 || C <= 0 || HW <= 0)
        return;
    const size_t hw = (size_t)HW;
    for (size_t n = 0; n < (size_t)N; n++)
        for (size_t c = 0; c < (size_t)C; c++) {
            const float *xs = x + (n * (size_t)C + c) * hw;
            float *ys = y + (n * (size_t)C + c) * hw;
            const float *sn = s + n * hw;
            for (size_t p = 0; p < hw; p++)
                ys[p] = xs[p] * sn[p];
        }
}

TR_SIMD void tr_scale_spatial_backward(float *restrict dx, float *restrict ds,
                                       const float *restrict dy,
                                       const float *restrict x,
                                       const float *restrict s, int N, int C,
                                       int HW)
{
    if ((!dx && !ds) || N <= 0 || C <= 0 || HW <= 0)
        return;
    const size_t hw = (size_t)HW;
    for (size_t n = 0; n < (size_t)N; n++)
        for (size_t c = 0; c < (size_t)C; c++) {
            const size_t off = (n * (size_t)C + c) * hw;
            const float *g = dy + off;
            const float *sn = s + n * hw;
            if (dx) {
                float *d = dx + off;
                for (size_t p = 0; p < hw; p++)
                    d[p] += g[p] * sn[p];
            }
            if (ds) {
                const float *xs = x + off;
                float *dsn = ds + n * hw;
                for (size_t p = 0; p < hw; p++)
                    dsn[p] += g[p] * xs[p];
            }
        }
}

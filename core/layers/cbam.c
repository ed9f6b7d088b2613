/* core/layers/cbam.c - the CBAM block (channel attention, then spatial attention),
 * forward and backward (trainer/vision.h).
 *
 * The samples go in blocks small enough that a block's slices of x, y, dy
 * and dx stay in the core's L2 cache across the block's several passes
 * (pooling, gating, channel statistics, ...); the shared MLP and the 7x7
 * convolution run once per block. x1 = x * ca is never stored: backward
 * recomputes its products on the fly, so the cache is O(N*(C + HW)). */
#include "trainer/vision.h"
#include "trainer/layers.h"
#include "base/fastmath.h"

#include <stddef.h>
#include <string.h>

#define KS TR_CBAM_KERNEL
#define PS (TR_CBAM_KERNEL / 2)
/* floats of one tensor's slice per block (128 KiB) */
#define BLOCK_FLOATS (32u * 1024u)

typedef struct {
    float *ca, *sa, *pooled, *z, *m; /* [N,C] [N,HW] [N,2,C] [N,2,Cr] [N,2,HW] */
} cbam_cache;

static cbam_cache cache_parts(const float *cache, int N, int C, int HW, int Cr)
{
    const size_t n = (size_t)N;
    cbam_cache p;
    p.ca = (float *)cache;
    p.sa = p.ca + n * (size_t)C;
    p.pooled = p.sa + n * (size_t)HW;
    p.z = p.pooled + 2 * n * (size_t)C;
    p.m = p.z + 2 * n * (size_t)Cr;
    return p;
}

/* samples per block */
static int block_of(int N, int C, int HW)
{
    size_t per = (size_t)C * (size_t)HW, b = per ? BLOCK_FLOATS / per : 1;
    if (b < 1)
        b = 1;
    if (b > (size_t)N)
        b = (size_t)N;
    size_t blocks = ((size_t)N + b - 1) / b;
    return (int)(((size_t)N + blocks - 1) / blocks);
}

size_t tr_cbam_cache_floats(int N, int C, int H, int W, int Cr)
{
    if (N <= 0 || C <= 0 || H <= 0 || W <= 0 || Cr < 0)
        return 0;
    const size_t hw = (size_t)H * (size_t)W;
    return (size_t)N * ((size_t)C + hw + 2 * (size_t)C + 2 * (size_t)Cr + 2 * hw);
}

size_t tr_cbam_cache_ints(int N, int C, int H, int W)
{
    if (N <= 0 || C <= 0 || H <= 0 || W <= 0)
        return 0;
    return (size_t)N * ((size_t)C + (size_t)H * (size_t)W);
}

/* per block of B samples: dsa [B,HW], dm [B,2,HW], dca [B,C], dO [2B,C],
 * dz [2B,Cr], dpooled [2B,C], t [HW] (forward: the first 2B*C for the MLP's
 * outputs), then the 7x7 convolution's scratch for B samples */
static size_t own_floats(int B, int C, int HW, int Cr)
{
    return (size_t)B * (3 * (size_t)HW + 5 * (size_t)C + 2 * (size_t)Cr) + (size_t)HW;
}

size_t tr_cbam_scratch_floats(int N, int C, int H, int W, int Cr)
{
    if (N <= 0 || C <= 0 || H <= 0 || W <= 0 || Cr < 0)
        return 0;
    const int B = block_of(N, C, H * W);
    return own_floats(B, C, H * W, Cr) +
           tr_conv2d_scratch_floats(B, 2, H, W, 1, KS, 1, PS);
}

const float *tr_cbam_channel_weights(const float *cache) { return cache; }

const float *tr_cbam_spatial_weights(const float *cache, int N, int C)
{
    return cache + (size_t)N * (size_t)C;
}

/* y[C,HW] = x * ca per channel, and the channel statistics of y:
 * m[0,:] = mean over C, m[1,:] = max over C, arg[:] = its channel */
TR_SIMD static void gate_and_pool(float *restrict y, float *restrict m,
                                  int32_t *restrict arg, const float *restrict x,
                                  const float *restrict ca, int C, int HW)
{
    const size_t hw = (size_t)HW;
    float *restrict mean = m, *restrict mx = m + hw;
    const float inv = 1.0f / (float)C;
    for (size_t p = 0; p < hw; p++) {
        float v = x[p] * ca[0];
        y[p] = v;
        mean[p] = v;
        mx[p] = v;
        arg[p] = 0;
    }
    for (int c = 1; c < C; c++) {
        const float *restrict xc = x + (size_t)c * hw;
        float *restrict yc = y + (size_t)c * hw;
        const float s = ca[c];
        for (size_t p = 0; p < hw; p++) {
            float v = xc[p] * s;
            yc[p] = v;
            mean[p] += v;
            int gt = v > mx[p];
            mx[p] = gt ? v : mx[p];
            arg[p] = gt ? c : arg[p];
        }
    }
    for (size_t p = 0; p < hw; p++)
        mean[p] *= inv;
}

void tr_cbam_forward(float *y, float *cache, int32_t *icache, const float *x,
                     const float *W1, const float *b1, const float *W2,
                     const float *b2, const float *Ws, const float *bs,
                     float *scratch, int N, int C, int H, int W, int Cr)
{
    if (N <= 0 || C <= 0 || H <= 0 || W <= 0 || Cr < 0)
        return;
    const int HW = H * W, B = block_of(N, C, HW);
    const size_t hw = (size_t)HW, chw = (size_t)C * hw;
    cbam_cache p = cache_parts(cache, N, C, HW, Cr);
    int32_t *gmp_arg = icache, *ch_arg = icache + (size_t)N * (size_t)C;
    float *o = scratch; /* [2B,C] */
    float *conv_scratch = scratch + own_floats(B, C, HW, Cr);

    for (int n0 = 0; n0 < N; n0 += B) {
        const int nb = N - n0 < B ? N - n0 : B;
        const size_t c0 = (size_t)n0 * (size_t)C;
        float *pooled = p.pooled + 2 * c0, *z = p.z + 2 * (size_t)n0 * (size_t)Cr;
        float *ca = p.ca + c0, *sa = p.sa + (size_t)n0 * hw, *m = p.m + 2 * (size_t)n0 * hw;
        /* channel attention: both descriptors of every sample through the
         * MLP as one batch of 2*nb rows [avg_n; max_n] */
        for (int i = 0; i < nb; i++) {
            const float *xi = x + (size_t)(n0 + i) * chw;
            tr_global_avgpool_forward(pooled + 2 * (size_t)i * (size_t)C, xi, 1, C, HW);
            tr_global_maxpool_forward(pooled + (2 * (size_t)i + 1) * (size_t)C,
                                      gmp_arg + c0 + (size_t)i * (size_t)C, xi, 1, C, HW);
        }
        tr_dense_forward(z, pooled, W1, b1, 2 * nb, C, Cr);
        tr_act_forward(z, z, 2 * nb * Cr, TR_ACT_RELU);
        tr_dense_forward(o, z, W2, b2, 2 * nb, Cr, C);
        for (int i = 0; i < nb; i++)
            for (int c = 0; c < C; c++)
                ca[(size_t)i * (size_t)C + (size_t)c] =
                    o[2 * (size_t)i * (size_t)C + (size_t)c] +
                    o[(2 * (size_t)i + 1) * (size_t)C + (size_t)c];
        tr_act_forward(ca, ca, nb * C, TR_ACT_SIGMOID);

        /* spatial attention on x1 = x * ca (written to y) */
        for (int i = 0; i < nb; i++)
            gate_and_pool(y + (size_t)(n0 + i) * chw, m + 2 * (size_t)i * hw,
                          ch_arg + (size_t)(n0 + i) * hw, x + (size_t)(n0 + i) * chw,
                          ca + (size_t)i * (size_t)C, C, HW);
        tr_conv2d_forward(sa, m, Ws, bs, conv_scratch, nb, 2, H, W, 1, KS, 1, PS);
        tr_act_forward(sa, sa, nb * HW, TR_ACT_SIGMOID);
        tr_scale_spatial_forward(y + (size_t)n0 * chw, y + (size_t)n0 * chw, sa, nb, C, HW);
    }
}

/* dsa[HW] = sum_c dy[c,:] * x[c,:] * ca[c] (one sample) */
TR_SIMD static void spatial_grad(float *restrict dsa, const float *restrict dy,
                                 const float *restrict x, const float *restrict ca,
                                 int C, int HW)
{
    const size_t hw = (size_t)HW;
    for (size_t q = 0; q < hw; q++)
        dsa[q] = 0.0f;
    for (int c = 0; c < C; c++) {
        const float *restrict g = dy + (size_t)c * hw, *restrict xs = x + (size_t)c * hw;
        const float cc = ca[c];
        for (size_t q = 0; q < hw; q++)
            dsa[q] += g[q] * xs[q] * cc;
    }
}

/* one sample: t = dx1 = dy * sa + dmean / C + (arg == c) * dmax per channel;
 * dca[c] = sum t * x; dx += t * ca (dx may be NULL); t [HW] scratch */
TR_SIMD static void channel_grad(float *restrict dx, float *restrict dca,
                                 float *restrict t, const float *restrict dy,
                                 const float *restrict x, const float *restrict ca,
                                 const float *restrict sa, const float *restrict dm,
                                 const int32_t *restrict arg, int C, int HW)
{
    const size_t hw = (size_t)HW;
    const float invC = 1.0f / (float)C;
    const float *restrict dmean = dm, *restrict dmx = dm + hw;
    for (int c = 0; c < C; c++) {
        const size_t off = (size_t)c * hw;
        const float *restrict g = dy + off;
        for (size_t q = 0; q < hw; q++)
            t[q] = g[q] * sa[q] + dmean[q] * invC + (arg[q] == c ? dmx[q] : 0.0f);
        dca[c] = tr_dot(t, x + off, HW);
        if (dx) {
            float *restrict d = dx + off;
            const float cc = ca[c];
            for (size_t q = 0; q < hw; q++)
                d[q] += t[q] * cc;
        }
    }
}

void tr_cbam_backward(float *dx, float *dW1, float *db1, float *dW2, float *db2,
                      float *dWs, float *dbs, const float *dy, const float *x,
                      const float *cache, const int32_t *icache,
                      const float *W1, const float *W2, const float *Ws,
                      float *scratch, int N, int C, int H, int W, int Cr)
{
    if (N <= 0 || C <= 0 || H <= 0 || W <= 0 || Cr < 0)
        return;
    const int HW = H * W, B = block_of(N, C, HW);
    const size_t hw = (size_t)HW, chw = (size_t)C * hw, Cs = (size_t)C;
    const cbam_cache p = cache_parts(cache, N, C, HW, Cr);
    const int32_t *gmp_arg = icache, *ch_arg = icache + (size_t)N * Cs;
    const size_t b = (size_t)B;
    float *dsa = scratch, *dm = dsa + b * hw, *dca = dm + 2 * b * hw;
    float *dO = dca + b * Cs, *dz = dO + 2 * b * Cs, *dpooled = dz + 2 * b * (size_t)Cr;
    float *t = dpooled + 2 * b * Cs;
    float *conv_scratch = scratch + own_floats(B, C, HW, Cr);

    for (int n0 = 0; n0 < N; n0 += B) {
        const int nb = N - n0 < B ? N - n0 : B;
        const size_t c0 = (size_t)n0 * Cs, nbw = (size_t)nb * hw;
        const float *ca = p.ca + c0, *sa = p.sa + (size_t)n0 * hw;
        const float *pooled = p.pooled + 2 * c0, *z = p.z + 2 * (size_t)n0 * (size_t)Cr;
        const float *m = p.m + 2 * (size_t)n0 * hw;

        /* y = x1 * sa, x1 = x * ca: dsa = sum_c dy * x * ca; through the
         * sigmoid to the 7x7 convolution's output */
        for (int i = 0; i < nb; i++)
            spatial_grad(dsa + (size_t)i * hw, dy + (size_t)(n0 + i) * chw,
                         x + (size_t)(n0 + i) * chw, ca + (size_t)i * Cs, C, HW);
        for (size_t i = 0; i < nbw; i++)
            dsa[i] = dsa[i] * sa[i] * (1.0f - sa[i]);
        memset(dm, 0, 2 * nbw * sizeof *dm);
        tr_conv2d_backward(dm, dWs, dbs, dsa, m, Ws, conv_scratch, nb, 2, H, W, 1,
                           KS, 1, PS);

        /* x1's gradient (direct and through the channel mean / max), to ca
         * and to x */
        for (int i = 0; i < nb; i++)
            channel_grad(dx ? dx + (size_t)(n0 + i) * chw : NULL, dca + (size_t)i * Cs, t,
                         dy + (size_t)(n0 + i) * chw, x + (size_t)(n0 + i) * chw,
                         ca + (size_t)i * Cs, sa + (size_t)i * hw, dm + 2 * (size_t)i * hw,
                         ch_arg + (size_t)(n0 + i) * hw, C, HW);

        /* ca = sigmoid(o_avg + o_max): the same gradient to both rows */
        for (int i = 0; i < nb; i++)
            for (size_t c = 0; c < Cs; c++) {
                const float a = ca[(size_t)i * Cs + c];
                const float g = dca[(size_t)i * Cs + c] * a * (1.0f - a);
                dO[2 * (size_t)i * Cs + c] = g;
                dO[(2 * (size_t)i + 1) * Cs + c] = g;
            }
        memset(dz, 0, 2 * (size_t)nb * (size_t)Cr * sizeof *dz);
        tr_dense_backward(dz, dW2, db2, dO, z, W2, 2 * nb, Cr, C);
        for (size_t i = 0; i < 2 * (size_t)nb * (size_t)Cr; i++)
            dz[i] = z[i] > 0.0f ? dz[i] : 0.0f;
        if (dx)
            memset(dpooled, 0, 2 * (size_t)nb * Cs * sizeof *dpooled);
        tr_dense_backward(dx ? dpooled : NULL, dW1, db1, dz, pooled, W1, 2 * nb, C, Cr);
        if (dx)
            for (int i = 0; i < nb; i++) {
                float *dxi = dx + (size_t)(n0 + i) * chw;
                tr_global_avgpool_backward(dxi, dpooled + 2 * (size_t)i * Cs, 1, C, HW);
                tr_global_maxpool_backward(dxi, dpooled + (2 * (size_t)i + 1) * Cs,
                                           gmp_arg + c0 + (size_t)i * Cs, 1, C, HW);
            }
    }
}

/* core/layers/norms.c - batch normalisation over N samples per channel of an
 * NCHW tensor (trainer/vision.h), and layer normalisation over each row's
 * last axis (trainer/layers.h, ABI 1.6). Sums run per row of HW in float
 * (16 interleaved partial sums, a fixed order) and across rows in double. */
#include "trainer/layers.h"
#include "trainer/vision.h"
#include "base/fastmath.h"

#include <math.h>
#include <stddef.h>

/* sum of (x[i] - m)^2 */
static inline float row_sqdev(const float *restrict x, float m, int n)
{
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) {
            float d = x[i + j] - m;
            acc[j] += d * d;
        }
    for (int j = 0; i < n; i++, j++) {
        float d = x[i] - m;
        acc[j] += d * d;
    }
    for (int w = 8; w > 0; w /= 2)
        for (int j = 0; j < w; j++)
            acc[j] += acc[j + w];
    return acc[0];
}

/* sum of g[i] * (x[i] - m) */
static inline float row_dot_centered(const float *restrict g,
                                     const float *restrict x, float m, int n)
{
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += g[i + j] * (x[i + j] - m);
    for (int j = 0; i < n; i++, j++)
        acc[j] += g[i] * (x[i] - m);
    for (int w = 8; w > 0; w /= 2)
        for (int j = 0; j < w; j++)
            acc[j] += acc[j + w];
    return acc[0];
}

/* y = x * scale + shift over one row */
static inline void row_affine(float *restrict y, const float *restrict x,
                              float scale, float shift, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = x[i] * scale + shift;
}

TR_SIMD void tr_batchnorm_forward(float *restrict y, float *restrict mean,
                                  float *restrict var, const float *restrict x,
                                  const float *restrict gamma,
                                  const float *restrict beta, float eps, int N,
                                  int C, int HW)
{
    if (N <= 0 || C <= 0 || HW <= 0)
        return;
    const size_t hw = (size_t)HW, chw = (size_t)C * hw;
    const double M = (double)N * (double)HW;
    for (int c = 0; c < C; c++) {
        const float *xc = x + (size_t)c * hw;
        double s = 0.0;
        for (int n = 0; n < N; n++)
            s += tr_sum(xc + (size_t)n * chw, HW);
        const float m = (float)(s / M);
        double q = 0.0;
        for (int n = 0; n < N; n++)
            q += row_sqdev(xc + (size_t)n * chw, m, HW);
        const float v = (float)(q / M);
        mean[c] = m;
        var[c] = v;
        const float scale = gamma[c] / sqrtf(v + eps);
        const float shift = beta[c] - m * scale;
        for (int n = 0; n < N; n++)
            row_affine(y + (size_t)n * chw + (size_t)c * hw,
                       xc + (size_t)n * chw, scale, shift, HW);
    }
}

/* no restrict: y may equal x */
TR_SIMD void tr_batchnorm_inference(float *y, const float *x, const float *gamma,
                                    const float *beta, const float *run_mean,
                                    const float *run_var, float eps, int N,
                                    int C, int HW)
{
    if (N <= 0 || C <= 0 || HW <= 0)
        return;
    const size_t hw = (size_t)HW, chw = (size_t)C * hw;
    for (int c = 0; c < C; c++) {
        const float scale = gamma[c] / sqrtf(run_var[c] + eps);
        const float shift = beta[c] - run_mean[c] * scale;
        for (int n = 0; n < N; n++) {
            const float *xr = x + (size_t)n * chw + (size_t)c * hw;
            float *yr = y + (size_t)n * chw + (size_t)c * hw;
            for (size_t i = 0; i < hw; i++)
                yr[i] = xr[i] * scale + shift;
        }
    }
}

/* With xhat = (x - mean) * rstd, M = N*HW values per channel:
 *   dbeta  += sum dy,   dgamma += sum dy * xhat
 *   dx     += gamma * rstd * (dy - sum(dy) / M - xhat * sum(dy * xhat) / M) */
TR_SIMD void tr_batchnorm_backward(float *restrict dx, float *restrict dgamma,
                                   float *restrict dbeta,
                                   const float *restrict dy,
                                   const float *restrict x,
                                   const float *restrict mean,
                                   const float *restrict var,
                                   const float *restrict gamma, float eps,
                                   int N, int C, int HW)
{
    if ((!dx && !dgamma && !dbeta) || N <= 0 || C <= 0 || HW <= 0)
        return;
    const size_t hw = (size_t)HW, chw = (size_t)C * hw;
    const double M = (double)N * (double)HW;
    for (int c = 0; c < C; c++) {
        const float m = mean[c], rstd = 1.0f / sqrtf(var[c] + eps);
        double sdy = 0.0, sdyx = 0.0; /* sum dy, sum dy * (x - mean) */
        for (int n = 0; n < N; n++) {
            const float *g = dy + (size_t)n * chw + (size_t)c * hw;
            const float *xr = x + (size_t)n * chw + (size_t)c * hw;
            sdy += tr_sum(g, HW);
            sdyx += row_dot_centered(g, xr, m, HW);
        }
        const double sdxhat = sdyx * rstd; /* sum dy * xhat */
        if (dbeta)
            dbeta[c] += (float)sdy;
        if (dgamma)
            dgamma[c] += (float)sdxhat;
        if (dx) {
            /* dx += k * dy - k * sdy / M - k * xhat * sdxhat / M
             *     = k * dy + (x - mean) * u + v */
            const float k = gamma[c] * rstd;
            const float u = (float)(-(double)k * sdxhat * rstd / M);
            const float v = (float)(-(double)k * sdy / M);
            for (int n = 0; n < N; n++) {
                const float *g = dy + (size_t)n * chw + (size_t)c * hw;
                const float *xr = x + (size_t)n * chw + (size_t)c * hw;
                float *d = dx + (size_t)n * chw + (size_t)c * hw;
                for (size_t i = 0; i < hw; i++)
                    d[i] += k * g[i] + ((xr[i] - m) * u + v);
            }
        }
    }
}

/* ---- layer normalisation (ABI 1.6): each row's mean and variance in
 * double, its own; gamma and beta's gradients summed over rows in order */

TR_SIMD void tr_layernorm_forward(float *restrict out, float *restrict mean, float *restrict rstd,
                                  const float *restrict x, const float *restrict gamma, const float *restrict beta,
                                  float eps, int N, int D)
{
    for (size_t n = 0; n < (size_t)(N > 0 ? N : 0); n++) {
        const float *xr = x + n * D;
        double s = 0.0, ss = 0.0;
        for (int d = 0; d < D; d++)
            s += xr[d];
        const double m = s / D;
        for (int d = 0; d < D; d++)
            ss += (xr[d] - m) * (xr[d] - m);
        const float mf = (float)m, r = (float)(1.0 / sqrt(ss / D + eps)); /* biased variance, as PyTorch */
        float *o = out + n * D;
        for (int d = 0; d < D; d++)
            o[d] = (xr[d] - mf) * r * gamma[d] + beta[d];
        mean[n] = mf;
        rstd[n] = r;
    }
}

TR_SIMD void tr_layernorm_backward(float *restrict dx, float *restrict dgamma, float *restrict dbeta,
                                   const float *restrict dout, const float *restrict x, const float *restrict mean,
                                   const float *restrict rstd, const float *restrict gamma, int N, int D)
{
    for (size_t n = 0; n < (size_t)(N > 0 ? N : 0); n++) {
        const float *xr = x + n * D, *g = dout + n * D, m = mean[n], r = rstd[n];
        /* dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dout gamma */
        double a = 0.0, b = 0.0;
        for (int d = 0; d < D; d++) {
            const float xh = (xr[d] - m) * r, dxh = g[d] * gamma[d];
            a += dxh;
            b += (double)dxh * xh;
        }
        const float ma = (float)(a / D), mb = (float)(b / D);
        for (int d = 0; d < D; d++) {
            const float xh = (xr[d] - m) * r;
            if (dgamma)
                dgamma[d] += g[d] * xh;
            if (dbeta)
                dbeta[d] += g[d];
            if (dx)
                dx[n * D + d] += r * (g[d] * gamma[d] - ma - xh * mb);
        }
    }
}

/* core/layers/activations.c - element-wise activations, and rows scaled to unit length (trainer/layers.h).
 * y may equal x (forward), and dx may equal dy (backward): every loop reads
 * element i before writing element i, so no restrict here. */
#include "trainer/layers.h"
#include "base/fastmath.h"

#include <math.h>
#include <string.h>

TR_SIMD void tr_act_forward(float *y, const float *x, int n, tr_act act)
{
    if (n <= 0)
        return;
    switch (act) {
    case TR_ACT_LINEAR:
        if (y != x)
            memmove(y, x, (size_t)n * sizeof *y);
        break;
    case TR_ACT_SIGMOID:
        for (int i = 0; i < n; i++)
            y[i] = 1.0f / (1.0f + tr_exp(-x[i]));
        break;
    case TR_ACT_HARD_SIGMOID:
        for (int i = 0; i < n; i++) {
            float v = 0.2f * x[i] + 0.5f;
            v = v < 0.0f ? 0.0f : v;
            y[i] = v > 1.0f ? 1.0f : v;
        }
        break;
    case TR_ACT_TANH:
        for (int i = 0; i < n; i++)
            y[i] = tr_tanh(x[i]);
        break;
    case TR_ACT_RELU:
        for (int i = 0; i < n; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    }
}

TR_SIMD void tr_act_backward(float *dx, const float *dy, const float *y, int n,
                     tr_act act)
{
    if (!dx || n <= 0)
        return;
    switch (act) {
    case TR_ACT_LINEAR:
        for (int i = 0; i < n; i++)
            dx[i] += dy[i];
        break;
    case TR_ACT_SIGMOID:
        for (int i = 0; i < n; i++)
            dx[i] += dy[i] * y[i] * (1.0f - y[i]);
        break;
    case TR_ACT_HARD_SIGMOID:
        /* slope 0.2 strictly inside the linear part, 0 where clipped */
        for (int i = 0; i < n; i++) {
            float in = (float)((y[i] > 0.0f) & (y[i] < 1.0f)); /* branch-free */
            dx[i] += 0.2f * in * dy[i];
        }
        break;
    case TR_ACT_TANH:
        for (int i = 0; i < n; i++)
            dx[i] += dy[i] * (1.0f - y[i] * y[i]);
        break;
    case TR_ACT_RELU:
        for (int i = 0; i < n; i++) {
            float g = dy[i];
            dx[i] += y[i] > 0.0f ? g : 0.0f;
        }
        break;
    }
}

/* ---- rows to unit length (ABI 1.6): the norm in double, as a cosine
 * attention wants it steady for short rows */

void tr_l2norm_forward(float *out, float *len, const float *x, int R, int D)
{
    for (size_t r = 0; r < (size_t)(R > 0 ? R : 0); r++) {
        const float *xr = x + r * D;
        double ss = 0;
        for (int d = 0; d < D; d++)
            ss += (double)xr[d] * xr[d];
        len[r] = (float)sqrt(ss + 1e-12);
        for (int d = 0; d < D; d++)
            out[r * D + d] = xr[d] / len[r];
    }
}

void tr_l2norm_backward(float *dx, const float *dout, const float *out, const float *len, int R, int D)
{
    for (size_t r = 0; r < (size_t)(R > 0 ? R : 0); r++) {
        const float *n = out + r * D, *dn = dout + r * D;
        float k = 0;
        for (int d = 0; d < D; d++)
            k += n[d] * dn[d];
        for (int d = 0; d < D; d++)
            dx[r * D + d] += (dn[d] - n[d] * k) / len[r];
    }
}

/* ---- GELU (ABI 1.6), exact as PyTorch's default: x Phi(x), Phi the
 * normal CDF; its slope needs x, not y, hence functions of their own */

void tr_gelu_forward(float *y, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] * 0.70710678118654752)));
}

void tr_gelu_backward(float *dx, const float *dy, const float *x, int n)
{
    for (int i = 0; i < n; i++) {
        const double xi = x[i], cdf = 0.5 * (1.0 + erf(xi * 0.70710678118654752)),
                     pdf = 0.39894228040143268 * exp(-0.5 * xi * xi);
        dx[i] += (float)(dy[i] * (cdf + xi * pdf));
    }
}

/* core/layers/softmax.c - softmax over one axis, softmax + cross-entropy
 * (trainer/layers.h). Max-subtracted, so exp never overflows. */
#include "trainer/layers.h"
#include "base/fastmath.h"

#include <math.h>
#include <stddef.h>

/* softmax of one contiguous row; y may equal x */
TR_SIMD static void softmax_row(float *y, const float *x, int len)
{
    float m = x[0];
    for (int l = 1; l < len; l++)
        m = x[l] > m ? x[l] : m;
    float s = 0.0f;
    for (int l = 0; l < len; l++) {
        float e = tr_exp(x[l] - m);
        y[l] = e;
        s += e;
    }
    float inv = 1.0f / s; /* s >= 1: the max contributes exp(0) */
    for (int l = 0; l < len; l++)
        y[l] *= inv;
}

/* the same along a strided axis */
TR_SIMD static void softmax_strided(float *y, const float *x, int len, size_t stride)
{
    float m = x[0];
    for (int l = 1; l < len; l++)
        m = x[l * stride] > m ? x[l * stride] : m;
    float s = 0.0f;
    for (int l = 0; l < len; l++) {
        float e = tr_exp(x[l * stride] - m);
        y[l * stride] = e;
        s += e;
    }
    float inv = 1.0f / s;
    for (int l = 0; l < len; l++)
        y[l * stride] *= inv;
}

/* the number of valid positions of block o: lengths[o] clamped to 0..len */
static inline int valid_len(const int32_t *lengths, size_t o, int len)
{
    if (!lengths)
        return len;
    const int32_t n = lengths[o];
    return n < 0 ? 0 : n > len ? len : n;
}

TR_SIMD void tr_softmax_len_forward(float *y, const float *x,
                                    const int32_t *lengths, int outer, int len,
                                    int inner)
{
    if (outer <= 0 || len <= 0 || inner <= 0)
        return;
    const size_t block = (size_t)len * (size_t)inner;
    for (size_t o = 0; o < (size_t)outer; o++) {
        const int n = valid_len(lengths, o, len);
        float *yo = y + o * block;
        /* padding gets weight exactly 0 (the whole block for n = 0) */
        for (size_t i = (size_t)n * (size_t)inner; i < block; i++)
            yo[i] = 0.0f;
        if (n == 0)
            continue;
        if (inner == 1) {
            softmax_row(yo, x + o * block, n);
        } else {
            for (size_t j = 0; j < (size_t)inner; j++)
                softmax_strided(yo + j, x + o * block + j, n, (size_t)inner);
        }
    }
}

void tr_softmax_forward(float *y, const float *x, int outer, int len, int inner)
{
    tr_softmax_len_forward(y, x, NULL, outer, len, inner);
}

TR_SIMD void tr_softmax_len_backward(float *dx, const float *dy, const float *y,
                                     const int32_t *lengths, int outer,
                                     int len, int inner)
{
    if (!dx || outer <= 0 || len <= 0 || inner <= 0)
        return;
    const size_t block = (size_t)len * (size_t)inner;
    const size_t st = (size_t)inner;
    for (size_t o = 0; o < (size_t)outer; o++) {
        /* padding: no gradient, whatever dy holds there */
        const size_t n = (size_t)valid_len(lengths, o, len);
        for (size_t j = 0; j < st; j++) {
            const size_t base = o * block + j;
            float dot = 0.0f;
            for (size_t l = 0; l < n; l++)
                dot += dy[base + l * st] * y[base + l * st];
            for (size_t l = 0; l < n; l++)
                dx[base + l * st] += y[base + l * st] * (dy[base + l * st] - dot);
        }
    }
}

void tr_softmax_backward(float *dx, const float *dy, const float *y, int outer,
                         int len, int inner)
{
    tr_softmax_len_backward(dx, dy, y, NULL, outer, len, inner);
}

TR_SIMD double tr_softmax_xent_smooth_forward(float *probs, const float *logits, const int32_t *targets,
                                             float smoothing, int N, int C)
{
    double loss = 0.0;
    if (N <= 0 || C <= 0)
        return loss;
    const double e = (double)smoothing;
    for (size_t n = 0; n < (size_t)N; n++) {
        const float *x = logits + n * (size_t)C;
        float *p = probs + n * (size_t)C;
        const int32_t t = targets[n];
        float m = x[0];
        double xsum = 0.0; /* read before probs may overwrite */
        for (int c = 1; c < C; c++)
            m = x[c] > m ? x[c] : m;
        if (e > 0.0)
            for (int c = 0; c < C; c++)
                xsum += (double)x[c];
        const float xt = t >= 0 ? x[t] : 0.0f;
        float s = 0.0f;
        for (int c = 0; c < C; c++) {
            float ex = tr_exp(x[c] - m);
            p[c] = ex;
            s += ex;
        }
        float inv = 1.0f / s;
        for (int c = 0; c < C; c++)
            p[c] *= inv;
        /* -log softmax(x)_c = log sum exp(x) - x_c, without log(0); the
         * smoothed target puts 1-e on t and e/C on every class */
        if (t >= 0) {
            loss += (double)m + log((double)s) - (double)xt;
            if (e > 0.0)
                loss += e * ((double)xt - xsum / C);
        }
    }
    return loss;
}

double tr_softmax_xent_forward(float *probs, const float *logits, const int32_t *targets, int N, int C)
{
    return tr_softmax_xent_smooth_forward(probs, logits, targets, 0.0f, N, C);
}

TR_SIMD void tr_softmax_xent_smooth_backward(float *dlogits, const float *probs, const int32_t *targets,
                                           float smoothing, float scale, int N, int C)
{
    if (!dlogits || N <= 0 || C <= 0)
        return;
    const float spread = scale * smoothing / (float)C;
    for (size_t n = 0; n < (size_t)N; n++) {
        const int32_t t = targets[n];
        if (t < 0)
            continue;
        float *restrict d = dlogits + n * (size_t)C;
        const float *restrict p = probs + n * (size_t)C;
        for (int c = 0; c < C; c++)
            d[c] += scale * p[c];
        if (smoothing > 0.0f) {
            for (int c = 0; c < C; c++)
                d[c] -= spread;
            d[t] += scale * smoothing;
        }
        d[t] -= scale;
    }
}

void tr_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *targets, float scale, int N, int C)
{
    tr_softmax_xent_smooth_backward(dlogits, probs, targets, 0.0f, scale, N, C);
}

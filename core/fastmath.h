/* core/fastmath.h - exp, sigmoid and tanh that vectorise.
 *
 * glibc's expf/tanhf are scalar calls and took half the training time. These
 * are plain float arithmetic the compiler turns into SIMD: exp by range
 * reduction x = k ln2 + r (Cody-Waite) and a degree-6 polynomial for e^r
 * (relative error < 3e-7); sigmoid and tanh from it (absolute error < 2e-7).
 * Deterministic: the same input gives the same bits on every call. */
#ifndef TR_FASTMATH_H
#define TR_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float tr_exp(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* k = round(x / ln2) by the 1.5 * 2^23 trick (exact for |k| < 2^22) */
    const float shift = 12582912.0f;
    float k = (x * 1.44269504088896341f + shift) - shift;
    float r = x - k * 0.693145751953125f;  /* ln2, high part (exact product) */
    r = r - k * 1.428606765330187e-06f;    /* ln2, low part */
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23; /* 2^k, k in [-126, 127] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float tr_sigmoid(float x) { return 1.0f / (1.0f + tr_exp(-x)); }

static inline float tr_tanh(float x)
{
    float a = x < 0.0f ? -x : x;
    a = a > 9.0f ? 9.0f : a; /* tanh(9) rounds to 1 in float */
    float t = 1.0f - 2.0f / (tr_exp(2.0f * a) + 1.0f);
    return x < 0.0f ? -t : t;
}

#endif

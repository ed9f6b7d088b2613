/* core/base/fastmath.h - exp, sigmoid and tanh that vectorise.
 *
 * glibc's expf/tanhf are scalar calls and took half the training time. These
 * are plain float arithmetic the compiler turns into SIMD: exp by range
 * reduction x = k ln2 + r (Cody-Waite) and a degree-6 polynomial for e^r
 * (relative error < 3e-7); sigmoid and tanh from it (absolute error < 2e-7).
 * Deterministic: the same input gives the same bits on every call. */
#ifndef TR_FASTMATH_H
#define TR_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The layers' loops run several times faster with AVX2/AVX-512 than with
 * the x86-64 baseline a portable build targets; GCC's target_clones compiles
 * each hot function for both and picks at load time (ifunc). Element-wise
 * loops give the same bits in every clone: no reassociation, no FMA
 * contraction (-std=c11), so results do not depend on the CPU's clone. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(TR_NO_CLONES)
#define TR_SIMD __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TR_SIMD
#endif

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

/* t = e^(-2|x|) lies in (0, 1]: no overflow; large |x| gives exactly +-1. */
static inline float tr_tanh(float x)
{
    float t = tr_exp(-2.0f * fabsf(x));
    return copysignf((1.0f - t) / (1.0f + t), x);
}

/* sum_i a[i] b[i] in a fixed order that vectorises: 16 interleaved partial
 * sums, added pairwise at the end. The same bits for every clone and CPU. */
static inline float tr_dot(const float *restrict a, const float *restrict b, int n)
{
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += a[i + j] * b[i + j];
    for (int j = 0; i < n; i++, j++)
        acc[j] += a[i] * b[i];
    for (int w = 8; w > 0; w /= 2)
        for (int j = 0; j < w; j++)
            acc[j] += acc[j + w];
    return acc[0];
}

/* sum_i x[i] in the same fixed order (tr_dot's), for means and bias
 * gradients. */
static inline float tr_sum(const float *restrict x, long n)
{
    float acc[16] = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += x[i + j];
    for (int j = 0; i < n; i++, j++)
        acc[j] += x[i];
    for (int w = 8; w > 0; w /= 2)
        for (int j = 0; j < w; j++)
            acc[j] += acc[j + w];
    return acc[0];
}

#endif

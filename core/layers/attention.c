/* core/layers/attention.c - additive energies, masked softmax attention
 * (trainer/layers.h). */
#include "trainer/layers.h"
#include "base/fastmath.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

TR_SIMD void tr_additive_energy_forward(float *restrict energy, float *restrict hidden,
                                const float *restrict keys,
                                const float *restrict query,
                                const float *restrict v,
                                const float *restrict vb, int B, int T, int K)
{
    if (B <= 0 || T <= 0)
        return;
    const size_t BT = (size_t)B * (size_t)T, Ks = (size_t)K;
    const float bias = vb ? *vb : 0.0f;
    for (size_t i = 0; i < BT; i++)
        energy[i] = bias;
    if (K <= 0)
        return;
    for (size_t b = 0; b < (size_t)B; b++) {
        const float *restrict q = query + b * Ks;
        for (size_t t = 0; t < (size_t)T; t++) {
            const size_t row = (b * (size_t)T + t) * Ks;
            const float *restrict kr = keys + row;
            float *restrict hr = hidden + row;
            for (size_t k = 0; k < Ks; k++)
                hr[k] = tr_tanh(kr[k] + q[k]);
        }
    }
    /* energy[B*T] += hidden[B*T, K] . v */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)BT, K, 1.0f, hidden, K, v, 1,
                1.0f, energy, 1);
}

TR_SIMD void tr_additive_energy_backward(float *restrict dkeys, float *restrict dquery,
                                 float *restrict dv, float *restrict dvb,
                                 const float *restrict denergy,
                                 const float *restrict hidden,
                                 const float *restrict v, int B, int T, int K)
{
    if (B <= 0 || T <= 0)
        return;
    const size_t BT = (size_t)B * (size_t)T, Ks = (size_t)K;
    if (dvb) {
        float s = 0.0f;
        for (size_t i = 0; i < BT; i++)
            s += denergy[i];
        *dvb += s;
    }
    if (K <= 0)
        return;
    /* dv[K] += hidden[B*T, K]^T . denergy */
    if (dv)
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)BT, K, 1.0f, hidden, K,
                    denergy, 1, 1.0f, dv, 1);
    if (!dkeys && !dquery)
        return;
    for (size_t b = 0; b < (size_t)B; b++) {
        for (size_t t = 0; t < (size_t)T; t++) {
            const size_t row = (b * (size_t)T + t) * Ks;
            const float de = denergy[b * (size_t)T + t];
            const float *restrict hr = hidden + row;
            /* d(pre-tanh)[k] = de * v[k] * (1 - hidden[k]^2) */
            if (dkeys) {
                float *restrict dk = dkeys + row;
                for (size_t k = 0; k < Ks; k++)
                    dk[k] += de * v[k] * (1.0f - hr[k] * hr[k]);
            }
            if (dquery) {
                float *restrict dq = dquery + b * Ks;
                for (size_t k = 0; k < Ks; k++)
                    dq[k] += de * v[k] * (1.0f - hr[k] * hr[k]);
            }
        }
    }
}

TR_SIMD void tr_attention_forward(float *restrict ctx, float *restrict alpha,
                          const float *restrict energy,
                          const float *restrict values,
                          const uint8_t *restrict mask, int B, int T, int D)
{
    if (B <= 0)
        return;
    const size_t Ts = T > 0 ? (size_t)T : 0, Ds = D > 0 ? (size_t)D : 0;
    for (size_t b = 0; b < (size_t)B; b++) {
        const float *restrict e = energy + b * Ts;
        float *restrict a = alpha + b * Ts;
        const uint8_t *restrict mk = mask ? mask + b * Ts : NULL;
        float *restrict cx = ctx + b * Ds;
        memset(cx, 0, Ds * sizeof *cx);

        /* masked softmax over t; masked entries are never read */
        float m = -INFINITY;
        int any = 0;
        for (size_t t = 0; t < Ts; t++) {
            if (mk && !mk[t])
                continue;
            m = (!any || e[t] > m) ? e[t] : m;
            any = 1;
        }
        if (!any) { /* no valid position: all weights 0, context 0 */
            memset(a, 0, Ts * sizeof *a);
            continue;
        }
        float s = 0.0f;
        for (size_t t = 0; t < Ts; t++) {
            float w = (mk && !mk[t]) ? 0.0f : tr_exp(e[t] - m);
            a[t] = w;
            s += w;
        }
        const float inv = 1.0f / s; /* s >= 1 */
        for (size_t t = 0; t < Ts; t++)
            a[t] *= inv;

        /* ctx = alpha[b] . values[b]; a matrix-vector product over the
         * valid t only (masked rows skipped) */
        const float *restrict vb = values + b * Ts * Ds;
        for (size_t t = 0; t < Ts; t++) {
            const float w = a[t];
            if (w == 0.0f)
                continue;
            const float *restrict vr = vb + t * Ds;
            for (size_t d = 0; d < Ds; d++)
                cx[d] += w * vr[d];
        }
    }
}

TR_SIMD void tr_attention_backward(float *restrict denergy, float *restrict dvalues,
                           const float *restrict dctx,
                           const float *restrict alpha,
                           const float *restrict values, int B, int T, int D)
{
    if (B <= 0 || T <= 0 || D <= 0)
        return;
    const size_t Ts = (size_t)T, Ds = (size_t)D;
    for (size_t b = 0; b < (size_t)B; b++) {
        const float *restrict a = alpha + b * Ts;
        const float *restrict dc = dctx + b * Ds;
        const float *restrict vb = values + b * Ts * Ds;
        if (dvalues) {
            /* dvalues[b,t,:] += alpha[b,t] * dctx[b,:] */
            float *restrict dvb = dvalues + b * Ts * Ds;
            for (size_t t = 0; t < Ts; t++) {
                const float w = a[t];
                if (w == 0.0f)
                    continue;
                float *restrict dv = dvb + t * Ds;
                for (size_t d = 0; d < Ds; d++)
                    dv[d] += w * dc[d];
            }
        }
        if (denergy) {
            /* dalpha[t] = values[b,t,:] . dctx[b,:];
             * denergy[t] += alpha[t] (dalpha[t] - sum_t' alpha[t'] dalpha[t']).
             * No scratch for dalpha: its T dot products are done twice. */
            float *restrict de = denergy + b * Ts;
            float s = 0.0f;
            for (size_t t = 0; t < Ts; t++) {
                if (a[t] == 0.0f)
                    continue;
                s += a[t] * tr_dot(vb + t * Ds, dc, D);
            }
            for (size_t t = 0; t < Ts; t++) {
                if (a[t] == 0.0f)
                    continue;
                de[t] += a[t] * (tr_dot(vb + t * Ds, dc, D) - s);
            }
        }
    }
}

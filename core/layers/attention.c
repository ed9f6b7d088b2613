/* core/layers/attention.c - additive energies, masked softmax attention,
 * and multi-head scaled dot-product attention in blocks with an online
 * softmax (trainer/layers.h). */
#include "trainer/layers.h"
#include "base/fastmath.h"
#include "base/rng.h"

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

/* ---- multi-head scaled dot-product attention (ABI 1.6). Per sample and
 * head, blocks of MHA_BLOCK queries against blocks of MHA_BLOCK keys (the
 * products by BLAS): the scores of a block, then each row's running max,
 * sum and weighted values rescaled once per block (the online softmax), so
 * no [Tq, Tk] matrix is ever held, only [MHA_BLOCK, MHA_BLOCK]. */

enum { MHA_BLOCK = 64 };

/* Dropout on the weights: the multiplier of weight (i, j) of head h of a
 * sample whose key is key: 0 or 1 / (1 - p), a pure function of (key, h,
 * i, j), so no layout changes it. The row (h, i) has a key of its own;
 * draw j/2 of it gives columns j (low 32 bits, even j) and j+1 (high). */
static inline uint64_t mha_row_key(uint64_t key, int h, int i)
{
    return tr_key_u64(key, 0x6d6861ULL /* "mha" */, ((uint64_t)(uint32_t)h << 32) | (uint32_t)i);
}

static inline float mha_keep(uint64_t row_key, int j, float p, float scale)
{
    tr_rng r = {row_key, (uint64_t)j >> 1};
    const uint64_t bits = tr_rng_next(&r);
    const float u = (float)((uint32_t)(j & 1 ? bits >> 32 : bits) >> 8) * 0x1p-24f;
    return u >= p ? scale : 0.0f;
}

/* keys [0, end) query i of sample b may see */
static int mha_end(const int32_t *key_len, int causal, int b, int i, int Tq, int Tk)
{
    int end = key_len ? (key_len[b] < 0 ? 0 : key_len[b] < Tk ? key_len[b] : Tk) : Tk;
    if (causal && i + (Tk - Tq) + 1 < end)
        end = i + (Tk - Tq) + 1;
    return end < 0 ? 0 : end;
}

/* Scores of a block: S[bq,bk] = scale q_blk k_blk^T (rows W apart), with
 * the keys a row may not see set to -inf; returns each row's end. */
static void mha_scores(float *S, int *ends, const float *q, const float *k, const int32_t *key_len, int causal,
                       int b, int i0, int bq, int j0, int bk, int Tq, int Tk, size_t W, float scale, int dh)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, bk, dh, scale, q, (int)W, k, (int)W, 0.0f, S, bk);
    for (int r = 0; r < bq; r++) {
        ends[r] = mha_end(key_len, causal, b, i0 + r, Tq, Tk);
        for (int c = ends[r] - j0 < 0 ? 0 : ends[r] - j0; c < bk; c++)
            S[r * bk + c] = -INFINITY;
    }
}

TR_SIMD void tr_mha_forward(float *restrict out, float *restrict lse, const float *restrict q,
                            const float *restrict k, const float *restrict v, const int32_t *key_len, int causal,
                            const uint64_t *drop_keys, float drop, int B, int Tq, int Tk, int H, int dh)
{
    const size_t W = (size_t)H * dh;
    const float scale = 1.0f / sqrtf((float)dh);
    const int dropping = drop_keys && drop > 0.0f;
    const float keep_scale = drop < 1.0f ? 1.0f / (1.0f - drop) : 0.0f;
    float S[MHA_BLOCK * MHA_BLOCK], m[MHA_BLOCK], l[MHA_BLOCK], acc[MHA_BLOCK * (dh > 0 ? dh : 1)];
    int ends[MHA_BLOCK];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i0 = 0; i0 < Tq; i0 += MHA_BLOCK) {
                /* a block of queries against blocks of keys: S = q k^T, the
                 * running max and sum per row, acc += P v (BLAS) */
                const int bq = Tq - i0 < MHA_BLOCK ? Tq - i0 : MHA_BLOCK;
                const float *qb = q + ((size_t)b * Tq + i0) * W + (size_t)h * dh;
                int last = 0; /* keys any row of the block sees */
                for (int r = 0; r < bq; r++) {
                    m[r] = -INFINITY, l[r] = 0.0f;
                    const int e = mha_end(key_len, causal, b, i0 + r, Tq, Tk);
                    last = e > last ? e : last;
                }
                memset(acc, 0, (size_t)bq * dh * sizeof *acc);
                for (int j0 = 0; j0 < last; j0 += MHA_BLOCK) {
                    const int bk = last - j0 < MHA_BLOCK ? last - j0 : MHA_BLOCK;
                    const float *kb = k + ((size_t)b * Tk + j0) * W + (size_t)h * dh;
                    mha_scores(S, ends, qb, kb, key_len, causal, b, i0, bq, j0, bk, Tq, Tk, W, scale, dh);
                    for (int r = 0; r < bq; r++) {
                        float *sr = S + (size_t)r * bk, bm = m[r];
                        for (int c = 0; c < bk; c++)
                            bm = sr[c] > bm ? sr[c] : bm;
                        if (bm == -INFINITY) { /* nothing to see yet: the row adds nothing */
                            memset(sr, 0, (size_t)bk * sizeof *sr);
                            continue;
                        }
                        const float cf = m[r] == -INFINITY ? 0.0f : tr_exp(m[r] - bm);
                        l[r] *= cf;
                        for (int d = 0; d < dh; d++)
                            acc[r * dh + d] *= cf;
                        const uint64_t rk = dropping ? mha_row_key(drop_keys[b], h, i0 + r) : 0;
                        for (int c = 0; c < bk; c++) {
                            const float p = sr[c] == -INFINITY ? 0.0f : tr_exp(sr[c] - bm);
                            l[r] += p; /* the softmax's sum: before dropout */
                            sr[c] = dropping && p > 0.0f ? p * mha_keep(rk, j0 + c, drop, keep_scale) : p;
                        }
                        m[r] = bm;
                    }
                    /* acc[bq,dh] += P[bq,bk] v_blk[bk,dh] */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bq, dh, bk, 1.0f, S, bk,
                                v + ((size_t)b * Tk + j0) * W + (size_t)h * dh, (int)W, 1.0f, acc, dh);
                }
                for (int r = 0; r < bq; r++) {
                    float *o = out + ((size_t)b * Tq + i0 + r) * W + (size_t)h * dh;
                    for (int d = 0; d < dh; d++)
                        o[d] = l[r] > 0.0f ? acc[r * dh + d] / l[r] : 0.0f;
                    lse[((size_t)b * H + h) * Tq + i0 + r] = l[r] > 0.0f ? m[r] + logf(l[r]) : -INFINITY;
                }
            }
}

TR_SIMD void tr_mha_backward(float *restrict dq, float *restrict dk, float *restrict dv, const float *restrict dout,
                             const float *restrict out, const float *restrict lse, const float *restrict q,
                             const float *restrict k, const float *restrict v, const int32_t *key_len, int causal,
                             const uint64_t *drop_keys, float drop, int B, int Tq, int Tk, int H, int dh)
{
    const size_t W = (size_t)H * dh;
    const float scale = 1.0f / sqrtf((float)dh);
    const int dropping = drop_keys && drop > 0.0f;
    const float keep_scale = drop < 1.0f ? 1.0f / (1.0f - drop) : 0.0f;
    float S[MHA_BLOCK * MHA_BLOCK], dP[MHA_BLOCK * MHA_BLOCK], Di[MHA_BLOCK];
    int ends[MHA_BLOCK];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i0 = 0; i0 < Tq; i0 += MHA_BLOCK) { /* blocks in order: a fixed order of sums */
                const int bq = Tq - i0 < MHA_BLOCK ? Tq - i0 : MHA_BLOCK;
                const size_t row0 = ((size_t)b * Tq + i0) * W + (size_t)h * dh;
                const float *L = lse + ((size_t)b * H + h) * Tq + i0;
                int last = 0;
                for (int r = 0; r < bq; r++) {
                    /* with w = p m (m the dropout's multiplier): sum_j p m (g . v_j) = g . out */
                    Di[r] = tr_dot(dout + row0 + (size_t)r * W, out + row0 + (size_t)r * W, dh);
                    const int e = L[r] > -INFINITY ? mha_end(key_len, causal, b, i0 + r, Tq, Tk) : 0;
                    last = e > last ? e : last;
                }
                for (int j0 = 0; j0 < last; j0 += MHA_BLOCK) {
                    const int bk = last - j0 < MHA_BLOCK ? last - j0 : MHA_BLOCK;
                    const size_t kr0 = ((size_t)b * Tk + j0) * W + (size_t)h * dh;
                    mha_scores(S, ends, q + row0, k + kr0, key_len, causal, b, i0, bq, j0, bk, Tq, Tk, W, scale, dh);
                    /* dP[bq,bk] = dout_blk v_blk^T */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, bk, dh, 1.0f, dout + row0, (int)W,
                                v + kr0, (int)W, 0.0f, dP, bk);
                    for (int r = 0; r < bq; r++) {
                        const uint64_t rk = dropping ? mha_row_key(drop_keys[b], h, i0 + r) : 0;
                        for (int c = 0; c < bk; c++) {
                            const size_t e = (size_t)r * bk + c;
                            const float p = S[e] == -INFINITY || !(L[r] > -INFINITY) ? 0.0f : tr_exp(S[e] - L[r]);
                            const float mj = dropping && p > 0.0f ? mha_keep(rk, j0 + c, drop, keep_scale) : 1.0f;
                            dP[e] = p * (mj * dP[e] - Di[r]) * scale; /* dS, scaled for q and k */
                            S[e] = p * mj;                             /* the dropped weights, for dv */
                        }
                    }
                    /* dv_blk += W^T dout_blk; dq_blk += dS k_blk; dk_blk += dS^T q_blk */
                    if (dv)
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bk, dh, bq, 1.0f, S, bk, dout + row0,
                                    (int)W, 1.0f, dv + kr0, (int)W);
                    if (dq)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bq, dh, bk, 1.0f, dP, bk, k + kr0,
                                    (int)W, 1.0f, dq + row0, (int)W);
                    if (dk)
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bk, dh, bq, 1.0f, dP, bk, q + row0,
                                    (int)W, 1.0f, dk + kr0, (int)W);
                }
            }
}

void tr_mha_weights(float *alpha, const float *q, const float *k, const float *lse, const int32_t *key_len,
                    int causal, int B, int Tq, int Tk, int H, int dh)
{
    const size_t W = (size_t)H * dh;
    const float scale = 1.0f / sqrtf((float)dh);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Tq; i++) {
                float *a = alpha + (((size_t)b * H + h) * Tq + i) * Tk;
                const float L = lse[((size_t)b * H + h) * Tq + i];
                const int end = L > -INFINITY ? mha_end(key_len, causal, b, i, Tq, Tk) : 0;
                const float *qi = q + ((size_t)b * Tq + i) * W + (size_t)h * dh;
                for (int j = 0; j < Tk; j++)
                    a[j] = j < end ? tr_exp(scale * tr_dot(qi, k + ((size_t)b * Tk + j) * W + (size_t)h * dh, dh) - L)
                                   : 0.0f;
            }
}

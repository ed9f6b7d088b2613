/* core/layers/lstm.c - Keras LSTM cell and sequence, forward and backward
 * (trainer/layers.h). Gate order i, f, c(g), o in blocks of H columns. */
#include "trainer/layers.h"
#include "base/fastmath.h"
#include "layers/seq_lengths.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

/* The backward GEMMs need the pre-activation gate gradient dz as a matrix,
 * and the contract gives the cell no [B,4H] scratch (nor may it allocate),
 * so dz is built in tiles of at most this many floats on the stack (32 KiB;
 * B=25 rows of 4H=256 fit in one tile). */
#define TR_LSTM_DZ_TILE 8192

/* v[u] *= act'(.) given the activation's output y[u] */
TR_SIMD static void mul_act_grad(float *restrict v, const float *restrict y, int n,
                         tr_act act)
{
    switch (act) {
    case TR_ACT_LINEAR:
        break;
    case TR_ACT_SIGMOID:
        for (int u = 0; u < n; u++)
            v[u] *= y[u] * (1.0f - y[u]);
        break;
    case TR_ACT_HARD_SIGMOID:
        for (int u = 0; u < n; u++)
            v[u] = ((y[u] > 0.0f) & (y[u] < 1.0f)) ? 0.2f * v[u] : 0.0f;
        break;
    case TR_ACT_TANH:
        for (int u = 0; u < n; u++)
            v[u] *= 1.0f - y[u] * y[u];
        break;
    case TR_ACT_RELU:
        for (int u = 0; u < n; u++)
            v[u] = y[u] > 0.0f ? v[u] : 0.0f;
        break;
    }
}

TR_SIMD void tr_lstm_cell_forward(float *restrict h, float *restrict c,
                          float *restrict gates, const float *restrict xw,
                          const float *restrict h_prev,
                          const float *restrict c_prev,
                          const float *restrict Wh, int B, int H,
                          tr_act recurrent_act)
{
    if (B <= 0 || H <= 0)
        return;
    const size_t G = 4 * (size_t)H;
    if (gates != xw) /* in place (gates == xw) is allowed: xw is read only here */
        memcpy(gates, xw, (size_t)B * G * sizeof *gates);
    /* z = xw + h_prev . Wh */
    if (h_prev)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, (int)G, H,
                    1.0f, h_prev, H, Wh, (int)G, 1.0f, gates, (int)G);
    for (size_t b = 0; b < (size_t)B; b++) {
        float *restrict z = gates + b * G;
        tr_act_forward(z, z, 2 * H, recurrent_act);          /* i, f */
        tr_act_forward(z + 2 * H, z + 2 * H, H, TR_ACT_TANH); /* g */
        tr_act_forward(z + 3 * H, z + 3 * H, H, recurrent_act); /* o */
        const float *restrict gi = z, *restrict gf = z + H,
                              *restrict gg = z + 2 * H, *restrict go = z + 3 * H;
        float *restrict cb = c + b * (size_t)H;
        float *restrict hb = h + b * (size_t)H;
        if (c_prev) {
            const float *restrict cp = c_prev + b * (size_t)H;
            for (int u = 0; u < H; u++)
                cb[u] = gf[u] * cp[u] + gi[u] * gg[u];
        } else {
            for (int u = 0; u < H; u++)
                cb[u] = gi[u] * gg[u];
        }
        for (int u = 0; u < H; u++)
            hb[u] = go[u] * tr_tanh(cb[u]);
    }
}

TR_SIMD void tr_lstm_cell_backward(float *restrict dxw, float *restrict dh_prev,
                           float *restrict dc_prev, float *restrict dWh,
                           const float *restrict dh, float *restrict dc,
                           const float *restrict gates,
                           const float *restrict c,
                           const float *restrict h_prev,
                           const float *restrict c_prev,
                           const float *restrict Wh, int B, int H,
                           tr_act recurrent_act)
{
    if (B <= 0 || H <= 0)
        return;
    const size_t G = 4 * (size_t)H;
    const size_t Hs = (size_t)H;

    /* dc <- total gradient w.r.t. this step's c (h = o tanh(c) uses it too);
     * then dc_prev += dc * f. */
    for (size_t b = 0; b < (size_t)B; b++) {
        const float *restrict go = gates + b * G + 3 * Hs;
        const float *restrict cb = c + b * Hs;
        const float *restrict dhb = dh + b * Hs;
        float *restrict dcb = dc + b * Hs;
        for (int u = 0; u < H; u++) {
            float tc = tr_tanh(cb[u]);
            dcb[u] += dhb[u] * go[u] * (1.0f - tc * tc);
        }
        if (dc_prev && c_prev) {
            const float *restrict gf = gates + b * G + Hs;
            float *restrict dcp = dc_prev + b * Hs;
            for (int u = 0; u < H; u++)
                dcp[u] += dcb[u] * gf[u];
        }
    }

    /* dz = d(pre-activation gates), built tile by tile:
     * columns [j0, j1) of rows [r0, r1). */
    float dz[TR_LSTM_DZ_TILE];
    const size_t cols = G < TR_LSTM_DZ_TILE ? G : TR_LSTM_DZ_TILE;
    const size_t rows = TR_LSTM_DZ_TILE / cols;
    for (size_t j0 = 0; j0 < G; j0 += cols) {
        const size_t j1 = j0 + cols < G ? j0 + cols : G;
        const size_t w = j1 - j0;
        for (size_t r0 = 0; r0 < (size_t)B; r0 += rows) {
            const size_t r1 = r0 + rows < (size_t)B ? r0 + rows : (size_t)B;
            for (size_t r = r0; r < r1; r++) {
                const float *restrict z = gates + r * G;
                const float *restrict gi = z, *restrict gf = z + Hs,
                                      *restrict gg = z + 2 * Hs,
                                      *restrict go = z + 3 * Hs;
                const float *restrict dcb = dc + r * Hs;
                const float *restrict dhb = dh + r * Hs;
                const float *restrict cb = c + r * Hs;
                const float *restrict cp = c_prev ? c_prev + r * Hs : NULL;
                float *restrict dzr = dz + (r - r0) * w;
                /* each gate k covers columns [kH, (k+1)H) */
                for (size_t k = 0; k < 4; k++) {
                    size_t a = k * Hs > j0 ? k * Hs : j0;
                    size_t e = (k + 1) * Hs < j1 ? (k + 1) * Hs : j1;
                    if (a >= e)
                        continue;
                    const int n = (int)(e - a);
                    const size_t u0 = a - k * Hs; /* first unit */
                    float *restrict out = dzr + (a - j0);
                    switch (k) {
                    case 0: /* i: dc * g */
                        for (int u = 0; u < n; u++)
                            out[u] = dcb[u0 + u] * gg[u0 + u];
                        mul_act_grad(out, gi + u0, n, recurrent_act);
                        break;
                    case 1: /* f: dc * c_prev */
                        if (cp) {
                            for (int u = 0; u < n; u++)
                                out[u] = dcb[u0 + u] * cp[u0 + u];
                            mul_act_grad(out, gf + u0, n, recurrent_act);
                        } else {
                            memset(out, 0, (size_t)n * sizeof *out);
                        }
                        break;
                    case 2: /* g: dc * i * tanh' */
                        for (int u = 0; u < n; u++) {
                            float g = gg[u0 + u];
                            out[u] = dcb[u0 + u] * gi[u0 + u] * (1.0f - g * g);
                        }
                        break;
                    default: /* o: dh * tanh(c) */
                        for (int u = 0; u < n; u++)
                            out[u] = dhb[u0 + u] * tr_tanh(cb[u0 + u]);
                        mul_act_grad(out, go + u0, n, recurrent_act);
                        break;
                    }
                }
                if (dxw) {
                    float *restrict dx = dxw + r * G + j0;
                    for (size_t j = 0; j < w; j++)
                        dx[j] += dzr[j];
                }
            }
            if (!h_prev)
                continue;
            const int nr = (int)(r1 - r0);
            /* dWh[:, j0:j1] += h_prev[r0:r1]^T . dz */
            if (dWh)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, (int)w,
                            nr, 1.0f, h_prev + r0 * Hs, H, dz, (int)w, 1.0f,
                            dWh + j0, (int)G);
            /* dh_prev[r0:r1] += dz . Wh[:, j0:j1]^T */
            if (dh_prev)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, H,
                            (int)w, 1.0f, dz, (int)w, Wh + j0, (int)G, 1.0f,
                            dh_prev + r0 * Hs, H);
        }
    }
}

/* lengths: core/layers/seq_lengths.h */
TR_SIMD void tr_lstm_forward_len(float *h_seq, float *c_seq, float *gates,
                                 const float *xw, const float *Wh, int T,
                                 int B, int H, int reverse,
                                 tr_act recurrent_act, const int32_t *lengths)
{
    if (T <= 0 || B <= 0 || H <= 0)
        return;
    const size_t Hs = (size_t)H, BH = (size_t)B * Hs, BG = 4 * BH;
    const int tmax = tr_seq_max_len(lengths, B, T);
    for (int s = 0; s < T; s++) {
        const size_t t = (size_t)(reverse ? T - 1 - s : s);
        if (t >= (size_t)tmax) { /* padding in every row */
            memset(h_seq + t * BH, 0, BH * sizeof *h_seq);
            memset(c_seq + t * BH, 0, BH * sizeof *c_seq);
            memset(gates + t * BG, 0, BG * sizeof *gates);
            continue;
        }
        const float *hp = NULL, *cp = NULL;
        if (s > 0) {
            const size_t tp = reverse ? t + 1 : t - 1;
            hp = h_seq + tp * BH;
            cp = c_seq + tp * BH;
        }
        tr_lstm_cell_forward(h_seq + t * BH, c_seq + t * BH, gates + t * BG,
                             xw + t * BG, hp, cp, Wh, B, H, recurrent_act);
        if (lengths) {
            tr_seq_zero_padding(h_seq + t * BH, lengths, t, B, T, Hs);
            tr_seq_zero_padding(c_seq + t * BH, lengths, t, B, T, Hs);
            tr_seq_zero_padding(gates + t * BG, lengths, t, B, T, 4 * Hs);
        }
    }
}

void tr_lstm_forward(float *h_seq, float *c_seq, float *gates, const float *xw,
                     const float *Wh, int T, int B, int H, int reverse,
                     tr_act recurrent_act)
{
    tr_lstm_forward_len(h_seq, c_seq, gates, xw, Wh, T, B, H, reverse,
                        recurrent_act, NULL);
}

/* With lengths, the gradient w.r.t. a padding row's h and c is zeroed when
 * its step comes up (after every contribution to it has arrived): padding
 * outputs are constants (zeroed), so neither dh_seq's entries there nor the
 * recurrent gradient the first real step of a reverse row sends to its
 * zero "previous" state may flow on. */
TR_SIMD void tr_lstm_backward_len(float *dxw, float *dWh, float *dh_seq,
                                  const float *h_seq, const float *c_seq,
                                  const float *gates, const float *Wh,
                                  float *work, int T, int B, int H,
                                  int reverse, tr_act recurrent_act,
                                  const int32_t *lengths)
{
    if (T <= 0 || B <= 0 || H <= 0)
        return;
    const size_t Hs = (size_t)H, BH = (size_t)B * Hs, BG = 4 * BH;
    const int tmax = tr_seq_max_len(lengths, B, T);
    /* dxw ends up holding every step's gate gradient dz, so dWh is one GEMM
     * over all steps at the end (K = (T-1) B) instead of T skinny ones. */
    if (dxw)
        memset(dxw, 0, (size_t)T * BG * sizeof *dxw);
    /* dc of the current step and of the one before it (in processing
     * order); the recurrent dh goes straight into dh_seq[previous t]. */
    float *dc = work, *dc_prev = work + BH;
    memset(dc, 0, BH * sizeof *dc);
    for (int s = T - 1; s >= 0; s--) {
        const size_t t = (size_t)(reverse ? T - 1 - s : s);
        if (t >= (size_t)tmax) {
            /* padding in every row: dz = 0 (dxw[t] stays 0), nothing flows
             * to the step before; that step starts from dc = 0 */
            memset(dc, 0, BH * sizeof *dc);
            continue;
        }
        if (lengths) {
            tr_seq_zero_padding(dh_seq + t * BH, lengths, t, B, T, Hs);
            tr_seq_zero_padding(dc, lengths, t, B, T, Hs);
        }
        float *dhp = NULL;
        const float *hp = NULL, *cp = NULL;
        if (s > 0) {
            const size_t tp = reverse ? t + 1 : t - 1;
            dhp = dh_seq + tp * BH;
            hp = h_seq + tp * BH;
            cp = c_seq + tp * BH;
            memset(dc_prev, 0, BH * sizeof *dc_prev);
        }
        tr_lstm_cell_backward(dxw ? dxw + t * BG : NULL, dhp,
                              s > 0 ? dc_prev : NULL, dxw ? NULL : dWh,
                              dh_seq + t * BH, dc, gates + t * BG,
                              c_seq + t * BH, hp, cp, Wh, B, H, recurrent_act);
        float *tmp = dc;
        dc = dc_prev;
        dc_prev = tmp;
    }
    if (dxw && dWh && T > 1) {
        /* pairs (h_prev of step t, dz[t]): forward h[t-1] with dz[t], t >= 1;
         * reverse h[t+1] with dz[t], t <= T-2 -- contiguous blocks either way
         * (padding rows pair a zero h or a zero dz: they add nothing) */
        const float *hp = reverse ? h_seq + BH : h_seq;
        const float *dz = reverse ? dxw : dxw + BG;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, 4 * H,
                    (T - 1) * B, 1.0f, hp, H, dz, 4 * H, 1.0f, dWh, 4 * H);
    }
}

void tr_lstm_backward(float *dxw, float *dWh, float *dh_seq,
                      const float *h_seq, const float *c_seq,
                      const float *gates, const float *Wh, float *work, int T,
                      int B, int H, int reverse, tr_act recurrent_act)
{
    tr_lstm_backward_len(dxw, dWh, dh_seq, h_seq, c_seq, gates, Wh, work, T,
                         B, H, reverse, recurrent_act, NULL);
}

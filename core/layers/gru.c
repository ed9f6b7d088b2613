/* core/layers/gru.c - GRU cell and sequence, "reset after" (PyTorch nn.GRU, Keras
 * reset_after=True), forward and backward (trainer/layers.h). Gate order
 * z, r, n in blocks of H columns of xw, gates, Wh and bh.
 *
 * Forward, per row (a = h_prev.Wh + bh, blocks a_z, a_r, a_n):
 *   z = sigmoid(xw_z + a_z), r = sigmoid(xw_r + a_r), hn = a_n,
 *   n = tanh(xw_n + r hn), h = (1 - z) n + z h_prev.
 * Backward, given dh:
 *   dn_pre = dh (1 - z) (1 - n^2)
 *   dz_pre = dh (h_prev - n) z (1 - z)
 *   dr_pre = dn_pre hn r (1 - r)
 *   d(xw)  = [dz_pre, dr_pre, dn_pre]
 *   d(a)   = [dz_pre, dr_pre, dn_pre r]          (= the work rows)
 *   dbh += sum_rows d(a); dWh += h_prev^T d(a);
 *   dh_prev += dh z + d(a) . Wh^T. */
#include "trainer/layers.h"
#include "base/fastmath.h"
#include "layers/seq_lengths.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

/* Forward. gates may be the same buffer as xw (computed in place, as
 * tr_lstm_cell_forward): xw is read only by the memcpy, everything after
 * reads gates. That costs two GEMMs (z|r into gates with beta 1, n into hn)
 * instead of one into a [B,3H] scratch the contract does not give. */
TR_SIMD void tr_gru_cell_forward(float *restrict h, float *restrict gates,
                                 float *restrict hn, const float *restrict xw,
                                 const float *restrict h_prev,
                                 const float *restrict Wh,
                                 const float *restrict bh, int B, int H)
{
    if (B <= 0 || H <= 0)
        return;
    const size_t Hs = (size_t)H, G = 3 * Hs;
    if (gates != xw)
        memcpy(gates, xw, (size_t)B * G * sizeof *gates);
    if (h_prev) {
        /* gates[:, z|r] += h_prev . Wh[:, z|r]; hn = h_prev . Wh[:, n] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, 2 * H, H,
                    1.0f, h_prev, H, Wh, (int)G, 1.0f, gates, (int)G);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, H, 1.0f,
                    h_prev, H, Wh + 2 * Hs, (int)G, 0.0f, hn, H);
    }
    const float *restrict bz = bh, *restrict br = bh + Hs,
                          *restrict bn = bh + 2 * Hs;
    for (size_t b = 0; b < (size_t)B; b++) {
        float *restrict gz = gates + b * G, *restrict gr = gz + Hs,
                        *restrict gn = gz + 2 * Hs;
        float *restrict hnb = hn + b * Hs;
        float *restrict hb = h + b * Hs;
        if (h_prev) {
            const float *restrict hp = h_prev + b * Hs;
            for (int u = 0; u < H; u++) {
                float z = tr_sigmoid(gz[u] + bz[u]);
                float r = tr_sigmoid(gr[u] + br[u]);
                float a = hnb[u] + bn[u];
                float n = tr_tanh(gn[u] + r * a);
                gz[u] = z;
                gr[u] = r;
                gn[u] = n;
                hnb[u] = a;
                hb[u] = (1.0f - z) * n + z * hp[u];
            }
        } else {
            for (int u = 0; u < H; u++) {
                float z = tr_sigmoid(gz[u] + bz[u]);
                float r = tr_sigmoid(gr[u] + br[u]);
                float a = bn[u];
                float n = tr_tanh(gn[u] + r * a);
                gz[u] = z;
                gr[u] = r;
                gn[u] = n;
                hnb[u] = a;
                hb[u] = (1.0f - z) * n;
            }
        }
    }
}

/* The element-wise part of one step's backward, for all B rows:
 * w[B,3H] = d(a) = [dz_pre, dr_pre, dn_pre r];
 * dx[B,3H] (NULL: skipped) gets [dz_pre, dr_pre, dn_pre], added (acc) or
 * stored; dhp[B,H] += dh z (skipped if NULL or h_prev is NULL). */
TR_SIMD static void gru_dgates(float *restrict w, float *restrict dx, int acc,
                               float *restrict dhp, const float *restrict dh,
                               const float *restrict gates,
                               const float *restrict hn,
                               const float *restrict h_prev, int B, int H)
{
    const size_t Hs = (size_t)H, G = 3 * Hs;
    for (size_t b = 0; b < (size_t)B; b++) {
        const float *restrict gz = gates + b * G, *restrict gr = gz + Hs,
                              *restrict gn = gz + 2 * Hs;
        const float *restrict dhb = dh + b * Hs, *restrict hnb = hn + b * Hs;
        float *restrict wz = w + b * G, *restrict wr = wz + Hs,
                        *restrict wn = wz + 2 * Hs;
        if (h_prev) {
            const float *restrict hp = h_prev + b * Hs;
            for (int u = 0; u < H; u++) {
                float z = gz[u], r = gr[u], n = gn[u];
                float dn = dhb[u] * (1.0f - z) * (1.0f - n * n);
                wz[u] = dhb[u] * (hp[u] - n) * z * (1.0f - z);
                wr[u] = dn * hnb[u] * r * (1.0f - r);
                wn[u] = dn;
            }
        } else {
            for (int u = 0; u < H; u++) {
                float z = gz[u], r = gr[u], n = gn[u];
                float dn = dhb[u] * (1.0f - z) * (1.0f - n * n);
                wz[u] = -dhb[u] * n * z * (1.0f - z);
                wr[u] = dn * hnb[u] * r * (1.0f - r);
                wn[u] = dn;
            }
        }
    }
    /* w holds d(xw) here: hand it over, then turn its n block into dn r */
    const size_t BG = (size_t)B * G;
    if (dx) {
        if (acc) {
            for (size_t j = 0; j < BG; j++)
                dx[j] += w[j];
        } else {
            memcpy(dx, w, BG * sizeof *dx);
        }
    }
    for (size_t b = 0; b < (size_t)B; b++) {
        const float *restrict gr = gates + b * G + Hs;
        float *restrict wn = w + b * G + 2 * Hs;
        for (int u = 0; u < H; u++)
            wn[u] *= gr[u];
    }
    if (dhp && h_prev) {
        for (size_t b = 0; b < (size_t)B; b++) {
            const float *restrict gz = gates + b * G;
            const float *restrict dhb = dh + b * Hs;
            float *restrict dhpb = dhp + b * Hs;
            for (int u = 0; u < H; u++)
                dhpb[u] += dhb[u] * gz[u];
        }
    }
}

/* dbh[3H] += the column sums of w[B,3H] */
TR_SIMD static void gru_dbias(float *restrict dbh, const float *restrict w,
                              int B, int H)
{
    const size_t G = 3 * (size_t)H;
    for (size_t b = 0; b < (size_t)B; b++) {
        const float *restrict wb = w + b * G;
        for (size_t j = 0; j < G; j++)
            dbh[j] += wb[j];
    }
}

TR_SIMD void tr_gru_cell_backward(float *restrict dxw, float *restrict dh_prev,
                                  float *restrict dWh, float *restrict dbh,
                                  const float *restrict dh,
                                  const float *restrict gates,
                                  const float *restrict hn,
                                  const float *restrict h_prev,
                                  const float *restrict Wh,
                                  float *restrict work, int B, int H)
{
    if (B <= 0 || H <= 0)
        return;
    const int G = 3 * H;
    gru_dgates(work, dxw, 1, dh_prev, dh, gates, hn, h_prev, B, H);
    if (dbh)
        gru_dbias(dbh, work, B, H);
    if (!h_prev)
        return;
    /* dWh += h_prev^T . d(a) */
    if (dWh)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, G, B, 1.0f,
                    h_prev, H, work, G, 1.0f, dWh, G);
    /* dh_prev += d(a) . Wh^T */
    if (dh_prev)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, G, 1.0f,
                    work, G, Wh, G, 1.0f, dh_prev, H);
}

/* lengths: core/layers/seq_lengths.h */
TR_SIMD void tr_gru_forward_len(float *h_seq, float *gates, float *hn,
                                const float *xw, const float *h0,
                                const float *Wh, const float *bh, int T, int B,
                                int H, const int32_t *lengths)
{
    if (T <= 0 || B <= 0 || H <= 0)
        return;
    const size_t Hs = (size_t)H, BH = (size_t)B * Hs, BG = 3 * BH;
    const int tmax = tr_seq_max_len(lengths, B, T);
    for (size_t t = 0; t < (size_t)T; t++) {
        if (t >= (size_t)tmax) { /* padding in every row */
            memset(h_seq + t * BH, 0, BH * sizeof *h_seq);
            memset(gates + t * BG, 0, BG * sizeof *gates);
            memset(hn + t * BH, 0, BH * sizeof *hn);
            continue;
        }
        tr_gru_cell_forward(h_seq + t * BH, gates + t * BG, hn + t * BH,
                            xw + t * BG, t ? h_seq + (t - 1) * BH : h0, Wh, bh,
                            B, H);
        if (lengths) {
            tr_seq_zero_padding(h_seq + t * BH, lengths, t, B, T, Hs);
            tr_seq_zero_padding(gates + t * BG, lengths, t, B, T, 3 * Hs);
            tr_seq_zero_padding(hn + t * BH, lengths, t, B, T, Hs);
        }
    }
}

void tr_gru_forward(float *h_seq, float *gates, float *hn, const float *xw,
                    const float *h0, const float *Wh, const float *bh, int T,
                    int B, int H)
{
    tr_gru_forward_len(h_seq, gates, hn, xw, h0, Wh, bh, T, B, H, NULL);
}

/* dWh as tr_lstm_backward: dxw[t] ends up holding step t's d(xw), whose z|r
 * blocks are also d(a)'s; the n block of d(a) is dn_pre r, not dn_pre, so
 * once step t is processed (nothing reads dh_seq[t] after that) it goes
 * into dh_seq[t]: on return dh_seq[t] holds step t's dn_pre * r for t >= 1
 * (when dxw and dWh are given). Then dWh is two GEMMs over all steps t >= 1
 * (K = (T-1) B): its z|r columns from dxw, its n columns from dh_seq. Step 0
 * pairs with h0, which is not contiguous with h_seq: its own GEMM, from
 * work. Without dxw, every step does its own dWh GEMM from work. */
TR_SIMD void tr_gru_backward_len(float *dxw, float *dh0, float *dWh,
                                 float *dbh, float *dh_seq, const float *h_seq,
                                 const float *gates, const float *hn,
                                 const float *h0, const float *Wh, float *work,
                                 int T, int B, int H, const int32_t *lengths)
{
    if (T <= 0 || B <= 0 || H <= 0)
        return;
    const size_t Hs = (size_t)H, BH = (size_t)B * Hs, BG = 3 * BH;
    const int G = 3 * H;
    const int tmax = tr_seq_max_len(lengths, B, T);
    for (size_t t = (size_t)T; t-- > 0;) {
        if (t >= (size_t)tmax) {
            /* padding in every row: d(xw) = 0, and 0 for the dWh GEMMs */
            if (dxw)
                memset(dxw + t * BG, 0, BG * sizeof *dxw);
            memset(dh_seq + t * BH, 0, BH * sizeof *dh_seq);
            continue;
        }
        /* padding rows' outputs are constants: no gradient enters there */
        if (lengths)
            tr_seq_zero_padding(dh_seq + t * BH, lengths, t, B, T, Hs);
        const float *hp = t ? h_seq + (t - 1) * BH : h0;
        float *dhp = t ? dh_seq + (t - 1) * BH : dh0;
        float *dh = dh_seq + t * BH;
        gru_dgates(work, dxw ? dxw + t * BG : NULL, 0, dhp, dh, gates + t * BG,
                   hn + t * BH, hp, B, H);
        if (dbh)
            gru_dbias(dbh, work, B, H);
        if (!hp)
            continue;
        if (dhp)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, G, 1.0f,
                        work, G, Wh, G, 1.0f, dhp, H);
        if (!dWh)
            continue;
        if (dxw && t > 0) {
            for (size_t b = 0; b < (size_t)B; b++)
                memcpy(dh + b * Hs, work + b * (size_t)G + 2 * Hs,
                       Hs * sizeof *dh);
        } else {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, G, B, 1.0f,
                        hp, H, work, G, 1.0f, dWh, G);
        }
    }
    if (dxw && dWh && T > 1) {
        const int K = (T - 1) * B;
        /* dWh[:, z|r] += h_seq[0..T-2]^T . dxw[1..T-1][:, z|r] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, 2 * H, K, 1.0f,
                    h_seq, H, dxw + BG, G, 1.0f, dWh, G);
        /* dWh[:, n] += h_seq[0..T-2]^T . (dn_pre r)[1..T-1] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, K, 1.0f,
                    h_seq, H, dh_seq + BH, H, 1.0f, dWh + 2 * Hs, G);
    }
}

void tr_gru_backward(float *dxw, float *dh0, float *dWh, float *dbh,
                     float *dh_seq, const float *h_seq, const float *gates,
                     const float *hn, const float *h0, const float *Wh,
                     float *work, int T, int B, int H)
{
    tr_gru_backward_len(dxw, dh0, dWh, dbh, dh_seq, h_seq, gates, hn, h0, Wh,
                        work, T, B, H, NULL);
}

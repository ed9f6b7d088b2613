/* core/layers/rnn.c - the tanh (Elman) RNN, PyTorch's nn.RNN, forward and backward
 * over a time-major sequence (trainer/layers.h).
 *
 * Forward:  a_t = xw_t + h_{t-1} Wh + bh,  h_t = tanh(a_t)
 * Backward, given dh_t from outside plus what step t+1 sends back:
 *   da_t = dh_t (1 - h_t^2)        -> dxw_t (and dbh += rows of it)
 *   dh_{t-1} += da_t Wh^T
 *   dWh += h_{t-1}^T da_t, for all t in one GEMM at the end. */
#include "trainer/layers.h"
#include "base/fastmath.h"

#include <cblas.h>
#include <stddef.h>
#include <string.h>

TR_SIMD void tr_rnn_forward(float *h_seq, const float *xw, const float *h0, const float *Wh, const float *bh, int T,
                            int B, int H)
{
    if (T <= 0 || B <= 0 || H <= 0)
        return;
    const size_t step = (size_t)B * H;
    for (int t = 0; t < T; t++) {
        float *restrict h = h_seq + (size_t)t * step;
        const float *prev = t ? h - step : h0;
        memcpy(h, xw + (size_t)t * step, step * sizeof *h);
        if (prev)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, H, 1.0f, prev, H, Wh, H, 1.0f, h, H);
        for (size_t b = 0; b < (size_t)B; b++)
            for (size_t u = 0; u < (size_t)H; u++)
                h[b * H + u] = tr_tanh(h[b * H + u] + bh[u]);
    }
}

TR_SIMD void tr_rnn_backward(float *dxw, float *dh0, float *dWh, float *dbh, float *dh_seq, const float *h_seq,
                             const float *h0, const float *Wh, int T, int B, int H)
{
    if (T <= 0 || B <= 0 || H <= 0)
        return;
    const size_t step = (size_t)B * H;
    for (int t = T - 1; t >= 0; t--) {
        const float *restrict h = h_seq + (size_t)t * step;
        float *restrict da = dxw + (size_t)t * step;
        const float *restrict dh = dh_seq + (size_t)t * step;
        for (size_t i = 0; i < step; i++)
            da[i] = dh[i] * (1.0f - h[i] * h[i]);
        for (size_t b = 0; b < (size_t)B; b++)
            tr_add_inplace(dbh, da + b * H, H);
        float *dprev = t ? dh_seq + (size_t)(t - 1) * step : (h0 && dh0 ? dh0 : NULL);
        if (dprev) /* dh_{t-1} += da_t Wh^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, H, 1.0f, da, H, Wh, H, 1.0f, dprev, H);
    }
    /* dWh += [h_0 .. h_{T-2}]^T [da_1 .. da_{T-1}] + h0^T da_0 */
    if (T > 1)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, (int)((size_t)(T - 1) * B), 1.0f, h_seq, H,
                    dxw + step, H, 1.0f, dWh, H);
    if (h0)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, H, B, 1.0f, h0, H, dxw, H, 1.0f, dWh, H);
}

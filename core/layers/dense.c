/* core/layers/dense.c - dense and embedding layers, the Transformer's
 * position-wise feed-forward block, small tensor helpers.
 * Contract: trainer/layers.h. GEMMs go to (single-threaded) BLAS. */
#include "trainer/layers.h"
#include "base/fastmath.h"

#include <cblas.h>
#include <stddef.h>
#include <string.h>

TR_SIMD void tr_dense_forward(float *restrict out, const float *restrict in,
                      const float *restrict W, const float *restrict b,
                      int N, int In, int O)
{
    if (N <= 0 || O <= 0)
        return;
    if (b) {
        for (size_t n = 0; n < (size_t)N; n++)
            memcpy(out + n * (size_t)O, b, (size_t)O * sizeof *out);
    } else if (In <= 0) {
        memset(out, 0, (size_t)N * (size_t)O * sizeof *out);
    }
    if (In <= 0)
        return;
    /* beta = 0 overwrites out (BLAS never reads C then) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, O, In, 1.0f, in,
                In, W, O, b ? 1.0f : 0.0f, out, O);
}

TR_SIMD void tr_dense_backward(float *restrict din, float *restrict dW,
                       float *restrict db, const float *restrict dout,
                       const float *restrict in, const float *restrict W,
                       int N, int In, int O)
{
    if (N <= 0 || O <= 0)
        return;
    if (In > 0) {
        /* din[N,In] += dout[N,O] . W[In,O]^T */
        if (din)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, In, O, 1.0f,
                        dout, O, W, O, 1.0f, din, In);
        /* dW[In,O] += in[N,In]^T . dout[N,O] */
        if (dW)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, In, O, N, 1.0f,
                        in, In, dout, O, 1.0f, dW, O);
    }
    if (db) {
        for (size_t n = 0; n < (size_t)N; n++) {
            const float *restrict d = dout + n * (size_t)O;
            for (int o = 0; o < O; o++)
                db[o] += d[o];
        }
    }
}

TR_SIMD void tr_embedding_forward(float *restrict out, const int32_t *restrict tokens,
                          const float *restrict table, int N, int D)
{
    if (N <= 0 || D <= 0)
        return;
    for (size_t n = 0; n < (size_t)N; n++)
        memcpy(out + n * (size_t)D, table + (size_t)tokens[n] * (size_t)D,
               (size_t)D * sizeof *out);
}

TR_SIMD void tr_embedding_backward(float *restrict dtable, const float *restrict dout,
                           const int32_t *restrict tokens, int N, int D)
{
    if (!dtable || N <= 0 || D <= 0)
        return;
    for (size_t n = 0; n < (size_t)N; n++) {
        float *restrict row = dtable + (size_t)tokens[n] * (size_t)D;
        const float *restrict d = dout + n * (size_t)D;
        for (int k = 0; k < D; k++)
            row[k] += d[k];
    }
}

TR_SIMD void tr_add_inplace(float *restrict y, const float *restrict x, long n)
{
    for (long i = 0; i < n; i++)
        y[i] += x[i];
}

/* out[A,B] = in[B,A]^T, in square tiles so both sides stay in cache. */
TR_SIMD void tr_transpose(float *restrict out, const float *restrict in, int A, int B)
{
    enum { TILE = 32 };
    for (int b0 = 0; b0 < B; b0 += TILE) {
        int b1 = b0 + TILE < B ? b0 + TILE : B;
        for (int a0 = 0; a0 < A; a0 += TILE) {
            int a1 = a0 + TILE < A ? a0 + TILE : A;
            for (int a = a0; a < a1; a++) {
                float *restrict o = out + (size_t)a * (size_t)B;
                for (int b = b0; b < b1; b++)
                    o[b] = in[(size_t)b * (size_t)A + (size_t)a];
            }
        }
    }
}

/* ---- [a, b] . W + bias as two GEMMs (ABI 1.6) */

void tr_dense_cat_forward(float *out, const float *a, const float *b, const float *W, const float *bias, int N, int Da,
                          int Db, int O)
{
    tr_dense_forward(out, a, W, bias, N, Da, O);
    if (N > 0 && O > 0 && Db > 0) /* out += b . W[Da:] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, O, Db, 1.0f, b, Db, W + (size_t)Da * O, O,
                    Da > 0 || bias ? 1.0f : 0.0f, out, O);
}

void tr_dense_cat_backward(float *da, float *db, float *dW, float *dbias, const float *dout, const float *a,
                           const float *b, const float *W, int N, int Da, int Db, int O)
{
    tr_dense_backward(da, dW, dbias, dout, a, W, N, Da, O);
    tr_dense_backward(db, dW ? dW + (size_t)Da * O : NULL, NULL, dout, b, W + (size_t)Da * O, N, Db, O);
}

/* ---- the position-wise feed-forward block (ABI 1.6) */

void tr_ffn_forward(float *out, float *hidden, float *pre, const float *x, const float *W1, const float *b1,
                    const float *W2, const float *b2, int gelu, int N, int D, int F)
{
    tr_dense_forward(pre, x, W1, b1, N, D, F);
    if (gelu)
        tr_gelu_forward(hidden, pre, N * F);
    else
        tr_act_forward(hidden, pre, N * F, TR_ACT_RELU);
    tr_dense_forward(out, hidden, W2, b2, N, F, D);
}

void tr_ffn_backward(float *dx, float *dW1, float *db1, float *dW2, float *db2, float *dhidden, float *dpre,
                     const float *dout, const float *x, const float *pre, const float *hidden, const float *W1,
                     const float *W2, int gelu, int N, int D, int F)
{
    const size_t NF = (size_t)(N > 0 ? N : 0) * (size_t)(F > 0 ? F : 0);
    memset(dhidden, 0, NF * sizeof *dhidden);
    memset(dpre, 0, NF * sizeof *dpre);
    tr_dense_backward(dhidden, dW2, db2, dout, hidden, W2, N, F, D);
    if (gelu)
        tr_gelu_backward(dpre, dhidden, pre, N * F);
    else
        tr_act_backward(dpre, dhidden, hidden, N * F, TR_ACT_RELU);
    tr_dense_backward(dx, dW1, db1, dpre, x, W1, N, D, F);
}

void tr_ffn_dropout_forward(float *out, float *hidden, float *pre, float *mask, const float *x, const float *W1,
                            const float *b1, const float *W2, const float *b2, int gelu, const uint64_t *row_keys,
                            float drop, int N, int D, int F)
{
    tr_dense_forward(pre, x, W1, b1, N, D, F);
    if (gelu)
        tr_gelu_forward(hidden, pre, N * F);
    else
        tr_act_forward(hidden, pre, N * F, TR_ACT_RELU);
    if (row_keys && drop > 0.0f)
        tr_dropout_forward(hidden, mask, hidden, row_keys, drop, N, F);
    tr_dense_forward(out, hidden, W2, b2, N, F, D);
}

void tr_ffn_dropout_backward(float *dx, float *dW1, float *db1, float *dW2, float *db2, float *dhidden, float *dpre,
                             const float *dout, const float *x, const float *pre, const float *hidden,
                             const float *mask, const float *W1, const float *W2, int gelu, int N, int D, int F)
{
    const size_t NF = (size_t)(N > 0 ? N : 0) * (size_t)(F > 0 ? F : 0);
    memset(dhidden, 0, NF * sizeof *dhidden);
    memset(dpre, 0, NF * sizeof *dpre);
    tr_dense_backward(dhidden, dW2, db2, dout, hidden, W2, N, F, D);
    for (size_t i = 0; mask && i < NF; i++)
        dhidden[i] *= mask[i];
    /* ReLU's derivative from the kept hidden values: > 0 exactly where the
     * unit is active and kept, and a dropped unit's gradient is 0 anyway */
    if (gelu)
        tr_gelu_backward(dpre, dhidden, pre, N * F);
    else
        tr_act_backward(dpre, dhidden, hidden, N * F, TR_ACT_RELU);
    tr_dense_backward(dx, dW1, db1, dpre, x, W1, N, D, F);
}

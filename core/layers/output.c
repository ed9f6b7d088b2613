/* core/layers/output.c - the output layer (trainer/layers.h, ABI 1.6):
 * dense + softmax + cross-entropy for training, argmax and a greedy
 * decoding step for prediction. */
#include "trainer/layers.h"
#include "trainer/plugin.h"

#include <stddef.h>
#include <string.h>

double tr_dense_xent_forward(float *probs, float *logits, const float *in, const float *W, const float *b,
                             const int32_t *targets, int N, int In, int C)
{
    tr_dense_forward(logits, in, W, b, N, In, C);
    return tr_softmax_xent_forward(probs, logits, targets, N, C);
}

void tr_dense_xent_backward(float *din, float *dW, float *db, float *dlogits, const float *probs,
                            const int32_t *targets, const float *in, const float *W, float scale, int N, int In, int C)
{
    if (N <= 0)
        return;
    memset(dlogits, 0, (size_t)N * C * sizeof *dlogits);
    tr_softmax_xent_backward(dlogits, probs, targets, scale, N, C);
    tr_dense_backward(din, dW, db, dlogits, in, W, N, In, C);
}

void tr_argmax_rows(int32_t *out, int out_stride, const float *x, int N, int C)
{
    for (int n = 0; n < N; n++) {
        const float *l = x + (size_t)n * C;
        int best = 0;
        for (int c = 1; c < C; c++)
            if (l[c] > l[best])
                best = c;
        out[(size_t)n * out_stride] = best;
    }
}

void tr_greedy_step(tr_prediction *out, int32_t *next, const float *logits, const float *alpha, int y, int n, int Ty,
                    int Tx, int V, int eos, int pad)
{
    tr_argmax_rows(next, 1, logits, n, V);
    for (size_t i = 0; out->tokens && i < (size_t)n; i++) {
        int32_t *row = out->tokens + i * Ty;
        int ended = 0; /* an eos before y: the answer is over */
        for (int t = 0; t < y && eos >= 0; t++)
            ended |= row[t] == eos;
        row[y] = ended ? pad : next[i];
    }
    if (out->attention && alpha)
        tr_copy_cols(out->attention + (size_t)y * Tx, Ty * Tx, alpha, Tx, n, Tx);
}

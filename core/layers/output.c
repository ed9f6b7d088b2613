/* core/layers/output.c - the output layer (trainer/layers.h, ABI 1.6):
 * dense + softmax + cross-entropy for training, argmax for decoding. */
#include "trainer/layers.h"

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

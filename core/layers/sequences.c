/* core/layers/sequences.c - what sequence models do around their layers
 * (trainer/layers.h, ABI 1.6): token lookups with a bias, batch-major <->
 * time-major layouts, teacher-forcing inputs, column blocks, positional
 * encodings. */
#include "trainer/layers.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

void tr_lookup_forward(float *out, const int32_t *tokens, const float *table, const float *bias, int N, int D)
{
    tr_embedding_forward(out, tokens, table, N, D);
    if (bias)
        for (int r = 0; r < N; r++)
            tr_add_inplace(out + (size_t)r * D, bias, D);
}

void tr_lookup_backward(float *dtable, float *dbias, const float *dout, const int32_t *tokens, int N, int D)
{
    if (dtable)
        tr_embedding_backward(dtable, dout, tokens, N, D);
    if (dbias)
        for (int r = 0; r < N; r++)
            tr_add_inplace(dbias, dout + (size_t)r * D, D);
}

void tr_swap_batch_time(float *out, int out_stride, const float *in, int in_stride, int A, int B, int D)
{
    for (int b = 0; b < B; b++)
        for (int a = 0; a < A; a++)
            memcpy(out + ((size_t)b * A + a) * out_stride, in + ((size_t)a * B + b) * in_stride,
                   (size_t)D * sizeof *out);
}

void tr_tokens_time_major(int32_t *out, const int32_t *in, int n, int T)
{
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n; i++)
            out[(size_t)t * n + i] = in[(size_t)i * T + t];
}

void tr_decoder_inputs(int32_t *inputs, int32_t *targets, const int32_t *tgt, int n, int T, int start, int pad)
{
    for (int y = 0; y < T; y++)
        for (int i = 0; i < n; i++) {
            if (inputs)
                inputs[(size_t)y * n + i] = y && tgt ? tgt[(size_t)i * T + y - 1] : start;
            if (targets && tgt)
                targets[(size_t)y * n + i] = tgt[(size_t)i * T + y] == pad ? -1 : tgt[(size_t)i * T + y];
        }
}

void tr_copy_cols(float *out, int out_stride, const float *in, int in_stride, int R, int D)
{
    for (size_t r = 0; r < (size_t)(R > 0 ? R : 0); r++)
        memcpy(out + r * out_stride, in + r * in_stride, (size_t)D * sizeof *out);
}

/* ---- positional encodings (ABI 1.6) */

void tr_sinusoid_add(float *x, int B, int T, int D, int start)
{
    for (int t = 0; t < T; t++)
        for (int d = 0; d < D; d++) {
            /* the pair (2i, 2i + 1) shares the frequency 10000^(-2i / D) */
            const double pos = start + t, a = pos * exp(-(double)(d & ~1) / D * log(10000.0));
            const float pe = (float)(d & 1 ? cos(a) : sin(a));
            for (int b = 0; b < B; b++)
                x[((size_t)b * T + t) * D + d] += pe;
        }
}

void tr_positions_forward(float *x, const float *table, int B, int T, int D, int start)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *xr = x + ((size_t)b * T + t) * D;
            const float *p = table + (size_t)(start + t) * D;
            for (int d = 0; d < D; d++)
                xr[d] += p[d];
        }
}

void tr_positions_backward(float *dtable, const float *dx, int B, int T, int D, int start)
{
    for (int b = 0; b < B; b++) /* samples in order: a fixed sum */
        for (int t = 0; t < T; t++) {
            const float *g = dx + ((size_t)b * T + t) * D;
            float *p = dtable + (size_t)(start + t) * D;
            for (int d = 0; d < D; d++)
                p[d] += g[d];
        }
}

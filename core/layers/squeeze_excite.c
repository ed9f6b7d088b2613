/* core/layers/squeeze_excite.c - the SE (squeeze-and-excitation) block, forward and
 * backward (trainer/vision.h), composed from the dense, activation, pooling
 * and broadcast layers. The samples go in blocks small enough that a
 * block's slices of x, dy and dx stay in the core's L2 cache between the
 * passes over them; the MLP runs once per block. */
#include "trainer/vision.h"
#include "trainer/layers.h"

#include <stddef.h>
#include <string.h>

/* floats of one tensor's slice per block (128 KiB) */
#define BLOCK_FLOATS (32u * 1024u)

static int block_of(int N, int C, int HW)
{
    size_t per = (size_t)C * (size_t)HW, b = per ? BLOCK_FLOATS / per : 1;
    if (b < 1)
        b = 1;
    if (b > (size_t)N)
        b = (size_t)N;
    size_t blocks = ((size_t)N + b - 1) / b;
    return (int)(((size_t)N + blocks - 1) / blocks);
}

size_t tr_se_cache_floats(int N, int C, int Cr)
{
    if (N <= 0 || C <= 0 || Cr < 0)
        return 0;
    return (size_t)N * (2 * (size_t)C + (size_t)Cr);
}

/* da [N,C], dz [N,Cr], ds [N,C] */
size_t tr_se_scratch_floats(int N, int C, int Cr)
{
    return tr_se_cache_floats(N, C, Cr);
}

const float *tr_se_channel_weights(const float *cache) { return cache; }

void tr_se_forward(float *y, float *cache, const float *x, const float *W1,
                   const float *b1, const float *W2, const float *b2, int N,
                   int C, int HW, int Cr)
{
    if (N <= 0 || C <= 0 || HW <= 0 || Cr < 0)
        return;
    const size_t nc = (size_t)N * (size_t)C, chw = (size_t)C * (size_t)HW;
    float *a = cache, *s = a + nc, *z = s + nc;
    const int B = block_of(N, C, HW);
    for (int n0 = 0; n0 < N; n0 += B) {
        const int nb = N - n0 < B ? N - n0 : B;
        const size_t c0 = (size_t)n0 * (size_t)C, r0 = (size_t)n0 * (size_t)Cr;
        tr_global_avgpool_forward(s + c0, x + (size_t)n0 * chw, nb, C, HW);
        tr_dense_forward(z + r0, s + c0, W1, b1, nb, C, Cr);
        tr_act_forward(z + r0, z + r0, nb * Cr, TR_ACT_RELU);
        tr_dense_forward(a + c0, z + r0, W2, b2, nb, Cr, C);
        tr_act_forward(a + c0, a + c0, nb * C, TR_ACT_SIGMOID);
        tr_scale_channels_forward(y + (size_t)n0 * chw, x + (size_t)n0 * chw, a + c0, nb,
                                  C, HW);
    }
}

void tr_se_backward(float *dx, float *dW1, float *db1, float *dW2, float *db2,
                    const float *dy, const float *x, const float *cache,
                    const float *W1, const float *W2, float *scratch, int N,
                    int C, int HW, int Cr)
{
    if (N <= 0 || C <= 0 || HW <= 0 || Cr < 0)
        return;
    const size_t nc = (size_t)N * (size_t)C, ncr = (size_t)N * (size_t)Cr;
    const size_t chw = (size_t)C * (size_t)HW;
    const float *a = cache, *s = a + nc, *z = s + nc;
    float *da = scratch, *dz = da + nc, *ds = dz + ncr;
    memset(scratch, 0, (2 * nc + ncr) * sizeof *scratch);
    const int B = block_of(N, C, HW);
    for (int n0 = 0; n0 < N; n0 += B) {
        const int nb = N - n0 < B ? N - n0 : B;
        const size_t c0 = (size_t)n0 * (size_t)C, r0 = (size_t)n0 * (size_t)Cr;
        const size_t nbc = (size_t)nb * (size_t)C, nbr = (size_t)nb * (size_t)Cr;
        float *dxb = dx ? dx + (size_t)n0 * chw : NULL;
        /* y = x * a */
        tr_scale_channels_backward(dxb, da + c0, dy + (size_t)n0 * chw,
                                   x + (size_t)n0 * chw, a + c0, nb, C, HW);
        /* a = sigmoid(.): da -> d(logits), in place */
        for (size_t i = c0; i < c0 + nbc; i++)
            da[i] = da[i] * a[i] * (1.0f - a[i]);
        tr_dense_backward(dz + r0, dW2, db2, da + c0, z + r0, W2, nb, Cr, C);
        /* z = relu(.): mask by z > 0, in place */
        for (size_t i = r0; i < r0 + nbr; i++)
            dz[i] = z[i] > 0.0f ? dz[i] : 0.0f;
        tr_dense_backward(dxb ? ds + c0 : NULL, dW1, db1, dz + r0, s + c0, W1, nb, C, Cr);
        if (dxb)
            tr_global_avgpool_backward(dxb, ds + c0, nb, C, HW);
    }
}

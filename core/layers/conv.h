/* core/layers/conv.h - the two ways core/layers/conv.c computes a convolution, exposed so
 * the tests can check each against the other and a naive reference. The
 * public entry points (trainer/vision.h) pick one from the shapes. */
#ifndef TR_CONV_H
#define TR_CONV_H

#include <stddef.h>

typedef enum tr_conv_path {
    TR_CONV_AUTO = 0,
    TR_CONV_IM2COL = 1, /* im2col + one GEMM per group of samples */
    TR_CONV_DIRECT = 2, /* direct loops over a padded copy; stride 1 only */
} tr_conv_path;

/* the path TR_CONV_AUTO takes for these shapes */
tr_conv_path tr_conv2d_pick(int Ci, int Co, int K, int S);

/* scratch floats of one path (TR_CONV_AUTO: the picked one) */
size_t tr_conv2d_scratch_path(tr_conv_path path, int N, int Ci, int Hi,
                              int Wi, int Co, int K, int S, int P);

void tr_conv2d_forward_path(tr_conv_path path, float *out, const float *in,
                            const float *W, const float *b, float *scratch,
                            int N, int Ci, int Hi, int Wi, int Co, int K,
                            int S, int P);
void tr_conv2d_backward_path(tr_conv_path path, float *din, float *dW,
                             float *db, const float *dout, const float *in,
                             const float *W, float *scratch, int N, int Ci,
                             int Hi, int Wi, int Co, int K, int S, int P);

#endif

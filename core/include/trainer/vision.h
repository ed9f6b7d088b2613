/* trainer/vision.h - layers for convolutional networks on images, forward
 * and backward: 2-D convolution, pooling, batch normalisation, and the SE and
 * CBAM attention blocks.
 *
 * The conventions of trainer/layers.h hold here too:
 *  - outputs first, then inputs, then parameters, scratch, dimensions last;
 *  - images are NCHW float32: [N, C, H, W], W contiguous; "HW" = H * W;
 *  - backward functions ACCUMULATE (+=) into every d* buffer they are given;
 *    a NULL d* is skipped (and costs nothing);
 *  - no allocation and no threads inside: each call runs on the caller's
 *    thread, GEMMs go to single-threaded BLAS. Functions that need working
 *    memory take a `scratch` buffer sized by the matching *_floats()
 *    function; its contents on entry do not matter and are unspecified after.
 *  - no argument may alias another unless the comment says it may.
 * Every result depends only on the inputs and the shapes: a call with the
 * same arguments gives the same bits. */
#ifndef TRAINER_VISION_H
#define TRAINER_VISION_H

#include <stddef.h>
#include <stdint.h>
#include "trainer/export.h"

TR_EXTERN_C_BEGIN

/* ---- 2-D convolution (cross-correlation, as PyTorch's Conv2d and Keras'
 * Conv2D), square kernel K, stride S, zero padding P on every side:
 *   out[n,o,y,x] = b[o] + sum_{c,i,j} W[o,c,i,j] * in[n,c, y*S-P+i, x*S-P+j]
 * Ho = (Hi + 2P - K) / S + 1, Wo = (Wi + 2P - K) / S + 1 (tr_conv2d_out). */

/* (n + 2P - K) / S + 1: the output size along one axis (<= 0: no output) */
TR_API int tr_conv2d_out(int n, int K, int S, int P);

/* floats of scratch tr_conv2d_forward and tr_conv2d_backward need for these
 * shapes (the same buffer serves both). It grows with N only up to a cap:
 * the samples go through in groups sized to stay in cache (for 3x3 stride-2
 * layers of a small CNN, 1 to 4 samples per group: ~0.5 to 1 MiB). */
TR_API size_t tr_conv2d_scratch_floats(int N, int Ci, int Hi, int Wi, int Co,
                                       int K, int S, int P);

/* out[N,Co,Ho,Wo] = conv(in[N,Ci,Hi,Wi], W[Co,Ci,K,K]) + b[Co] (b may be NULL).
 * scratch: tr_conv2d_scratch_floats(...) floats. */
TR_API void tr_conv2d_forward(float *out, const float *in, const float *W,
                              const float *b, float *scratch, int N, int Ci,
                              int Hi, int Wi, int Co, int K, int S, int P);

/* din[N,Ci,Hi,Wi] += dL/din; dW[Co,Ci,K,K] += dL/dW; db[Co] += sum dout;
 * each may be NULL. dout[N,Co,Ho,Wo]; in, W as in the forward call.
 * scratch: tr_conv2d_scratch_floats(...) floats. */
TR_API void tr_conv2d_backward(float *din, float *dW, float *db,
                               const float *dout, const float *in,
                               const float *W, float *scratch, int N, int Ci,
                               int Hi, int Wi, int Co, int K, int S, int P);

/* ---- pooling; windows K x K with stride S and no padding:
 * Ho = (Hi - K) / S + 1, Wo = (Wi - K) / S + 1. Max pooling keeps, per
 * output, the index of its maximum within the input plane (y * Wi + x; the
 * first one on ties) for the backward pass. */

/* out[N,C,Ho,Wo] = mean of each window of in[N,C,Hi,Wi] */
TR_API void tr_avgpool_forward(float *out, const float *in, int N, int C,
                               int Hi, int Wi, int K, int S);
/* din[N,C,Hi,Wi] += dout[N,C,Ho,Wo] / (K*K) spread over each window */
TR_API void tr_avgpool_backward(float *din, const float *dout, int N, int C,
                                int Hi, int Wi, int K, int S);

/* out[N,C,Ho,Wo] = max of each window of in[N,C,Hi,Wi];
 * argmax[N,C,Ho,Wo] = its index in the plane (iy * Wi + ix) */
TR_API void tr_maxpool_forward(float *out, int32_t *argmax, const float *in,
                               int N, int C, int Hi, int Wi, int K, int S);
/* din[N,C,Hi,Wi] += dout[N,C,Ho,Wo] at argmax */
TR_API void tr_maxpool_backward(float *din, const float *dout,
                                const int32_t *argmax, int N, int C, int Hi,
                                int Wi, int K, int S);

/* out[N,C] = mean over HW of in[N,C,HW] */
TR_API void tr_global_avgpool_forward(float *out, const float *in, int N,
                                      int C, int HW);
/* din[N,C,HW] += dout[N,C] / HW */
TR_API void tr_global_avgpool_backward(float *din, const float *dout, int N,
                                       int C, int HW);

/* out[N,C] = max over HW of in[N,C,HW]; argmax[N,C] = its index in HW */
TR_API void tr_global_maxpool_forward(float *out, int32_t *argmax,
                                      const float *in, int N, int C, int HW);
/* din[N,C,HW] += dout[N,C] at argmax */
TR_API void tr_global_maxpool_backward(float *din, const float *dout,
                                       const int32_t *argmax, int N, int C,
                                       int HW);

/* Channel pooling (CBAM's spatial descriptor): out[N,2,HW] with
 * out[n,0,p] = mean over C of in[n,:,p], out[n,1,p] = max over C;
 * argmax[N,HW] = the channel of the max (first on ties). */
TR_API void tr_channel_meanmax_forward(float *out, int32_t *argmax,
                                       const float *in, int N, int C, int HW);
/* din[N,C,HW] += dout[n,0,p] / C everywhere + dout[n,1,p] at argmax */
TR_API void tr_channel_meanmax_backward(float *din, const float *dout,
                                        const int32_t *argmax, int N, int C,
                                        int HW);

/* ---- broadcast products (the attention blocks' gating) */

/* y[N,C,HW] = x[N,C,HW] * a[N,C] (one weight per channel); y may equal x */
TR_API void tr_scale_channels_forward(float *y, const float *x,
                                      const float *a, int N, int C, int HW);
/* dx[N,C,HW] += dy * a; da[N,C] += sum_HW dy * x (each may be NULL) */
TR_API void tr_scale_channels_backward(float *dx, float *da, const float *dy,
                                       const float *x, const float *a, int N,
                                       int C, int HW);

/* y[N,C,HW] = x[N,C,HW] * s[N,HW] (one weight per position); y may equal x */
TR_API void tr_scale_spatial_forward(float *y, const float *x, const float *s,
                                     int N, int C, int HW);
/* dx[N,C,HW] += dy * s; ds[N,HW] += sum_C dy * x (each may be NULL) */
TR_API void tr_scale_spatial_backward(float *dx, float *ds, const float *dy,
                                      const float *x, const float *s, int N,
                                      int C, int HW);

/* ---- batch normalisation over the N samples of one call, per channel:
 *   y = gamma * (x - mean) / sqrt(var + eps) + beta
 * with training-mode statistics over N*HW values per channel (biased
 * variance, as PyTorch and Keras normalise with). A caller keeping running
 * statistics updates them from mean[] and var[] (PyTorch's running_var uses
 * the unbiased var * M / (M - 1), M = N*HW; Keras' moving_variance the
 * biased one). */

/* training: y[N,C,HW]; mean[C], var[C] (outputs: the batch statistics, which
 * are also all backward needs besides x); x[N,C,HW]; gamma[C], beta[C]
 * (not NULL). y must not alias x (backward needs x). */
TR_API void tr_batchnorm_forward(float *y, float *mean, float *var,
                                 const float *x, const float *gamma,
                                 const float *beta, float eps, int N, int C,
                                 int HW);
/* inference: the same with given statistics run_mean[C], run_var[C];
 * y may equal x. */
TR_API void tr_batchnorm_inference(float *y, const float *x,
                                   const float *gamma, const float *beta,
                                   const float *run_mean,
                                   const float *run_var, float eps, int N,
                                   int C, int HW);
/* backward of the training forward: dx[N,C,HW], dgamma[C], dbeta[C]
 * accumulated (each may be NULL); dy[N,C,HW]; x, mean, var, gamma, eps as
 * given to / returned by tr_batchnorm_forward. */
TR_API void tr_batchnorm_backward(float *dx, float *dgamma, float *dbeta,
                                  const float *dy, const float *x,
                                  const float *mean, const float *var,
                                  const float *gamma, float eps, int N, int C,
                                  int HW);

/* ---- SE (squeeze-and-excitation) block, reduction C / Cr:
 *   s = global_avgpool(x)              [N,C]
 *   z = relu(s . W1 + b1)              [N,Cr]   W1[C,Cr], b1[Cr]
 *   a = sigmoid(z . W2 + b2)           [N,C]    W2[Cr,C], b2[C]
 *   y = x * a (per channel)            [N,C,HW]
 * Dense kernels in Keras' layout [inputs, outputs] (PyTorch's Linear weight
 * transposed). b1, b2 may be NULL (no bias).
 * cache: tr_se_cache_floats(N, C, Cr) floats, laid out as
 *   a [N,C] at offset 0 (the channel weights; tr_se_channel_weights),
 *   s [N,C] at N*C, z [N,Cr] at 2*N*C;
 * it must stay untouched between forward and backward. */

TR_API size_t tr_se_cache_floats(int N, int C, int Cr);
/* scratch for tr_se_backward: N * (2C + Cr) floats */
TR_API size_t tr_se_scratch_floats(int N, int C, int Cr);
/* the channel weights a[N,C] in a forward cache (= cache) */
TR_API const float *tr_se_channel_weights(const float *cache);

/* y[N,C,HW] (must not alias x), cache; x[N,C,HW] */
TR_API void tr_se_forward(float *y, float *cache, const float *x,
                          const float *W1, const float *b1, const float *W2,
                          const float *b2, int N, int C, int HW, int Cr);
/* accumulates dx[N,C,HW], dW1[C,Cr], db1[Cr], dW2[Cr,C], db2[C] (each may be
 * NULL) from dy[N,C,HW]; x and cache as in the forward call. */
TR_API void tr_se_backward(float *dx, float *dW1, float *db1, float *dW2,
                           float *db2, const float *dy, const float *x,
                           const float *cache, const float *W1,
                           const float *W2, float *scratch, int N, int C,
                           int HW, int Cr);

/* ---- CBAM block (channel then spatial attention), reduction C / Cr:
 *   avg = global_avgpool(x), mx = global_maxpool(x)             [N,C]
 *   mlp(v) = relu(v . W1 + b1) . W2 + b2   (one MLP, shared)  W1[C,Cr], W2[Cr,C]
 *   ca = sigmoid(mlp(avg) + mlp(mx))                           [N,C]
 *   x1 = x * ca (per channel)                                  [N,C,H,W]
 *   m  = [mean over C of x1, max over C of x1]                 [N,2,H,W]
 *   sa = sigmoid(conv2d(m; Ws[1,2,7,7], bs[1], stride 1, pad 3)) [N,1,H,W]
 *   y  = x1 * sa (per position)                                [N,C,H,W]
 * (b2 enters both MLP outputs, as in the usual implementations.)
 * b1, b2, bs may be NULL (no bias).
 * cache: tr_cbam_cache_floats(N, C, H, W, Cr) floats, laid out as
 *   ca [N,C] at offset 0 (tr_cbam_channel_weights),
 *   sa [N,H*W] at N*C (tr_cbam_spatial_weights),
 *   then the pooled descriptors [N,2,C] (avg, max), the MLP's hidden
 *   [N,2,Cr] and m [N,2,H,W];
 * icache: tr_cbam_cache_ints(N, C, H, W) int32 (the max-pooling indices:
 *   over HW [N,C], over C [N,H*W]).
 * Both must stay untouched between forward and backward. x1 is not kept:
 * backward recomputes it from x and ca. */

#define TR_CBAM_KERNEL 7 /* the spatial attention's kernel size (pad 3) */

TR_API size_t tr_cbam_cache_floats(int N, int C, int H, int W, int Cr);
TR_API size_t tr_cbam_cache_ints(int N, int C, int H, int W);
/* scratch for tr_cbam_forward and tr_cbam_backward (the same buffer may
 * serve both); small: it does not grow with N beyond a block of samples */
TR_API size_t tr_cbam_scratch_floats(int N, int C, int H, int W, int Cr);
/* ca[N,C] in a forward cache (= cache) */
TR_API const float *tr_cbam_channel_weights(const float *cache);
/* sa[N,H*W] in a forward cache (= cache + N*C) */
TR_API const float *tr_cbam_spatial_weights(const float *cache, int N, int C);

/* y[N,C,H,W] (must not alias x), cache, icache; x[N,C,H,W] */
TR_API void tr_cbam_forward(float *y, float *cache, int32_t *icache,
                            const float *x, const float *W1, const float *b1,
                            const float *W2, const float *b2, const float *Ws,
                            const float *bs, float *scratch, int N, int C,
                            int H, int W, int Cr);
/* accumulates dx[N,C,H,W], dW1[C,Cr], db1[Cr], dW2[Cr,C], db2[C],
 * dWs[1,2,7,7], dbs[1] (each may be NULL) from dy[N,C,H,W]; x, cache and
 * icache as in the forward call. */
TR_API void tr_cbam_backward(float *dx, float *dW1, float *db1, float *dW2,
                             float *db2, float *dWs, float *dbs,
                             const float *dy, const float *x,
                             const float *cache, const int32_t *icache,
                             const float *W1, const float *W2,
                             const float *Ws, float *scratch, int N, int C,
                             int H, int W, int Cr);

/* ---- spatial transformer (Jaderberg et al., 2015): an affine sampling
 * grid and a bilinear sampler, as PyTorch's affine_grid and grid_sample
 * (mode bilinear, padding zeros). Coordinates are normalised: -1 and 1 are
 * the image's left/top and right/bottom: with align_corners the centres of
 * the corner pixels, without it their outer edges. Single-threaded, like
 * every layer (threads take micro-shards): the sampler's backward, which
 * scatters into the input, adds in one fixed order, so its sums are the
 * same bits whatever the layout. */

/* grid[N,H,W,2]: (x, y) of output pixel (i, j) = theta[n] (2x3) applied to
 * its own normalised (x_j, y_i, 1) */
TR_API void tr_affine_grid_forward(float *grid, const float *theta, int N, int H, int W, int align_corners);
/* dtheta[N,2,3] += sum over pixels of dgrid (x) (x_j, y_i, 1) */
TR_API void tr_affine_grid_backward(float *dtheta, const float *dgrid, int N, int H, int W, int align_corners);
/* y[N,C,Ho,Wo]: x[N,C,H,W] read bilinearly at grid[N,Ho,Wo,2] (zeros
 * outside the image) */
TR_API void tr_grid_sample_forward(float *y, const float *x, const float *grid, int N, int C, int H, int W, int Ho,
                                   int Wo, int align_corners);
/* dx[N,C,H,W] += the scatter of dy[N,C,Ho,Wo] back to the four pixels
 * each output read; dgrid[N,Ho,Wo,2] += dL/dgrid (each may be NULL) */
TR_API void tr_grid_sample_backward(float *dx, float *dgrid, const float *dy, const float *x, const float *grid,
                                    int N, int C, int H, int W, int Ho, int Wo, int align_corners);

TR_EXTERN_C_END

#endif

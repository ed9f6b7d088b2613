/* core/runtime/optim.h - optimizers, learning-rate schedule and gradient clipping.
 * Internal to the core: plugins never update parameters. All functions are
 * deterministic (fixed summation order), single-threaded. */
#ifndef TR_OPTIM_H
#define TR_OPTIM_H

#include "config/config.h"

/* Keras 2 time-based decay: lr0 / (1 + decay * iterations), where iterations
 * counts the updates already applied (0 for the first). */
double tr_lr_decayed(double lr0, double decay, long iterations);

/* The learning rate for the update after `iterations` updates, out of
 * `total` in the run: TR_SCHEDULE_CONSTANT gives tr_lr_decayed();
 * TR_SCHEDULE_COSINE ramps linearly from lr0/W to lr0 over the first
 * W = round(warmup * total) updates, then follows half a cosine from lr0 down
 * to lr_min at the last update (PyTorch's LinearLR + CosineAnnealingLR).
 * TR_SCHEDULE_NOAM (the Transformer paper's) ramps the same way to lr0 at
 * update W, then decays as lr0 sqrt(W / u) at update u (W at least 1). A
 * pure function of the step, so a resumed run continues the same curve. */
double tr_lr_at(const tr_config *c, long iterations, long total);

/* Keras 2 Adam, step t >= 1 (1 for the first update):
 *   lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
 *   m = beta1 m + (1 - beta1) g ; v = beta2 v + (1 - beta2) g^2
 *   p -= lr_t * m / (sqrt(v) + eps)                       over n values */
void tr_adam_update(float *p, float *m, float *v, const float *g, long n,
                    double lr, double beta1, double beta2, double eps, long t);

/* SGD with momentum (Keras 2): vel = momentum vel - lr g;
 * p += vel, or with nesterov p += momentum vel - lr g. momentum 0 = plain. */
void tr_sgd_update(float *p, float *vel, const float *g, long n, double lr,
                   double momentum, int nesterov);

/* Decoupled weight decay (PyTorch's AdamW): p *= 1 - lr * wd, over n values. */
void tr_weight_decay(float *p, long n, double lr, double wd);

/* sum g^2, accumulated in double in index order. */
double tr_sum_squares(const float *g, long n);

/* sqrt(sum g^2), accumulated in double in index order. */
double tr_global_norm(const float *g, long n);

/* If norm > max_norm > 0, scales g by max_norm / norm; returns norm. */
double tr_clip_global_norm(float *g, long n, double max_norm);

#endif

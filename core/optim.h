/* core/optim.h - optimizers, learning-rate schedule and gradient clipping.
 * Internal to the core: plugins never update parameters. All functions are
 * deterministic (fixed summation order), single-threaded. */
#ifndef TR_OPTIM_H
#define TR_OPTIM_H

/* Keras 2 time-based decay: lr0 / (1 + decay * iterations), where iterations
 * counts the updates already applied (0 for the first). */
double tr_lr_decayed(double lr0, double decay, long iterations);

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

/* sum g^2, accumulated in double in index order. */
double tr_sum_squares(const float *g, long n);

/* sqrt(sum g^2), accumulated in double in index order. */
double tr_global_norm(const float *g, long n);

/* If norm > max_norm > 0, scales g by max_norm / norm; returns norm. */
double tr_clip_global_norm(float *g, long n, double max_norm);

#endif

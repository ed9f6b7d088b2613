/* core/runtime/optim.c - Keras 2 optimizers, time-based decay or warmup + cosine
 * schedule, global-norm clipping.
 *
 * Parameters, moments and velocities are float; the scalars derived from the
 * hyper-parameters (Adam's bias-corrected lr_t, 1 - beta) are computed in
 * double and rounded to float once per call, so the element loop is plain
 * float arithmetic in index order. Deterministic and single-threaded. */
#include "runtime/optim.h"
#include "base/fastmath.h"

#include <math.h>

double tr_lr_decayed(double lr0, double decay, long iterations)
{
    if (decay <= 0.0 || iterations <= 0)
        return lr0;
    return lr0 / (1.0 + decay * (double)iterations);
}

double tr_lr_at(const tr_config *c, long iterations, long total)
{
    if (c->schedule == TR_SCHEDULE_CONSTANT)
        return tr_lr_decayed(c->lr, c->decay, iterations);
    long warm = lround(c->warmup * (double)total);
    if (c->schedule == TR_SCHEDULE_NOAM) { /* lr min(u / W, sqrt(W / u)), update u = 1, 2, ... */
        const double u = (double)(iterations + 1), W = warm > 1 ? (double)warm : 1.0;
        return c->lr * (u < W ? u / W : sqrt(W / u));
    }
    if (iterations < warm)
        return c->lr * (double)(iterations + 1) / (double)warm;
    long span = total - warm - 1;
    double progress = span > 0 ? (double)(iterations - warm) / (double)span : 0.0;
    if (progress > 1.0)
        progress = 1.0;
    return c->lr_min + 0.5 * (c->lr - c->lr_min) * (1.0 + cos(3.14159265358979323846 * progress));
}

TR_SIMD void tr_adam_update(float *p, float *m, float *v, const float *g, long n,
                    double lr, double beta1, double beta2, double eps, long t)
{
    if (n <= 0)
        return;
    if (t < 1)
        t = 1;
    double td = (double)t;
    double lr_t = lr * sqrt(1.0 - pow(beta2, td)) / (1.0 - pow(beta1, td));

    const float b1 = (float)beta1, c1 = (float)(1.0 - beta1);
    const float b2 = (float)beta2, c2 = (float)(1.0 - beta2);
    const float lrt = (float)lr_t, e = (float)eps;
    for (long i = 0; i < n; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] -= lrt * mi / (sqrtf(vi) + e);
    }
}

TR_SIMD void tr_sgd_update(float *p, float *vel, const float *g, long n, double lr,
                   double momentum, int nesterov)
{
    if (n <= 0)
        return;
    const float mu = (float)momentum, a = (float)lr;
    for (long i = 0; i < n; i++) {
        float vi = mu * vel[i] - a * g[i];
        vel[i] = vi;
        if (nesterov)
            p[i] += mu * vi - a * g[i];
        else
            p[i] += vi;
    }
}

TR_SIMD void tr_weight_decay(float *p, long n, double lr, double wd)
{
    const float keep = (float)(1.0 - lr * wd);
    for (long i = 0; i < n; i++)
        p[i] *= keep;
}

/* Eight running sums, value i into sum i % 8, added pairwise at the end: a
 * fixed order (the same bits on any machine and thread count), but eight
 * independent chains instead of one, which the compiler keeps in vector
 * registers: the one-chain loop waited on each add's latency. */
TR_SIMD double tr_sum_squares(const float *g, long n)
{
    double s[8] = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            double x = (double)g[i + k];
            s[k] += x * x;
        }
    for (int k = 0; i < n; i++, k++) {
        double x = (double)g[i];
        s[k] += x * x;
    }
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

double tr_global_norm(const float *g, long n)
{
    return sqrt(tr_sum_squares(g, n));
}

double tr_clip_global_norm(float *g, long n, double max_norm)
{
    double norm = tr_global_norm(g, n);
    if (max_norm > 0.0 && norm > max_norm) {
        double scale = max_norm / norm;
        for (long i = 0; i < n; i++)
            g[i] = (float)((double)g[i] * scale);
    }
    return norm;
}

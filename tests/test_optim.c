/* tests/test_optim.c - decay and cosine schedules, Adam, SGD (momentum, Nesterov),
 * global norm and global-norm clipping against hand-computed values. */
#include "runtime/optim.h"
#include "tr_test.h"

#include <math.h>
#include <string.h>

/* |a - b| <= rel * |b|, with `floor` as the smallest magnitude used. */
static int close_rel(double a, double b, double rel, double floor)
{
    double s = fabs(b) > floor ? fabs(b) : floor;
    return fabs(a - b) <= rel * s;
}

static void test_decay_schedule(void)
{
    /* lr0 / (1 + decay * iterations) */
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_decayed(0.01, 0.1, 0), 0.01, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_decayed(0.01, 0.1, 1), 0.01 / 1.1, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_decayed(0.01, 0.1, 10), 0.005, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_decayed(0.01, 0.1, 30), 0.0025, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_decayed(0.001, 1e-4, 10000), 0.0005, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_decayed(0.5, 0.01, 300), 0.125, 1e-15);
    /* decay 0: constant */
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_decayed(0.001, 0.0, 0), 0.001, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_decayed(0.001, 0.0, 123456), 0.001, 0.0);
    /* strictly decreasing with iterations */
    CU_ASSERT(tr_lr_decayed(0.01, 0.1, 5) < tr_lr_decayed(0.01, 0.1, 4));
}

/* Warmup + cosine: linear ramp over round(warmup * total) updates, then half
 * a cosine from lr to lr_min reached at the last update; constant falls back
 * to the Keras decay. */
static void test_cosine_schedule(void)
{
    tr_config c;
    memset(&c, 0, sizeof c);
    c.lr = 0.01;
    c.decay = 0.1;
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 10, 100), 0.005, 1e-15); /* constant + decay */
    c.decay = 0.0;
    c.schedule = TR_SCHEDULE_COSINE;
    c.warmup = 0.1;
    c.lr_min = 0.001;
    /* 100 updates: 10 of warmup (0.001, 0.002, ... 0.01), then 90 down to lr_min */
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 0, 100), 0.001, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 4, 100), 0.005, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 9, 100), 0.01, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 10, 100), 0.01, 1e-15);
    /* halfway through the cosine: the mean of lr and lr_min */
    c.warmup = 0.0;
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 0, 101), 0.01, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 50, 101), 0.0055, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 25, 101), 0.001 + 0.009 * 0.5 * (1 + cos(acos(-1.0) / 4)), 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 100, 101), 0.001, 1e-15);
    /* past the end (a run extended by more epochs): stays at lr_min */
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 500, 101), 0.001, 1e-15);
    /* monotone after warmup */
    for (long i = 1; i < 101; i++)
        CU_ASSERT(tr_lr_at(&c, i, 101) <= tr_lr_at(&c, i - 1, 101));
    /* one update in all: lr itself */
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 0, 1), 0.01, 1e-15);
}

/* Noam: the linear warmup to lr at update W, then lr sqrt(W / u); with no
 * warmup, lr / sqrt(u) from the first update. */
static void test_noam_schedule(void)
{
    tr_config c;
    memset(&c, 0, sizeof c);
    c.lr = 0.001;
    c.schedule = TR_SCHEDULE_NOAM;
    c.warmup = 0.04; /* 4% of 1000 updates: W = 40 */
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 0, 1000), 0.001 / 40, 1e-18);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 19, 1000), 0.0005, 1e-18);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 39, 1000), 0.001, 1e-18); /* the peak */
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 159, 1000), 0.0005, 1e-18); /* u = 4 W */
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 999, 1000), 0.001 * sqrt(40.0 / 1000.0), 1e-18);
    for (long i = 40; i < 1000; i++)
        CU_ASSERT(tr_lr_at(&c, i, 1000) < tr_lr_at(&c, i - 1, 1000));
    c.warmup = 0.0;
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 0, 1000), 0.001, 1e-18);
    CU_ASSERT_DOUBLE_EQUAL(tr_lr_at(&c, 3, 1000), 0.0005, 1e-18);
}

/* AdamW's decoupled decay: p *= 1 - lr * wd, then the optimizer step. */
static void test_weight_decay(void)
{
    float p[3] = {1.0f, -2.0f, 0.5f};
    tr_weight_decay(p, 3, 0.01, 0.5);
    CU_ASSERT_EQUAL(p[0], 1.0f * 0.995f);
    CU_ASSERT_EQUAL(p[1], -2.0f * 0.995f);
    CU_ASSERT_EQUAL(p[2], 0.5f * 0.995f);
    /* with Adam: the same as PyTorch's AdamW step 1 (lr 0.1, wd 0.1, g 0.5):
     * p = 1 * (1 - 0.01) - 0.1 * sign(g) (the bias-corrected first step) */
    float q[1] = {1.0f}, m[1] = {0}, v[1] = {0}, g[1] = {0.5f};
    tr_weight_decay(q, 1, 0.1, 0.1);
    tr_adam_update(q, m, v, g, 1, 0.1, 0.9, 0.999, 1e-8, 1);
    CU_ASSERT(close_rel(q[0], 0.99 - 0.1, 1e-6, 0.0));
}

/* Adam: 3 steps on 3 values, lr 0.01, beta1 0.9, beta2 0.999, eps 1e-7.
 * Expected values computed in double precision from the Keras 2 formulas:
 *   lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); m, v moments;
 *   p -= lr_t m / (sqrt(v) + eps). */
static void test_adam_three_steps(void)
{
    float p[3] = {1.0f, -2.0f, 0.5f};
    float m[3] = {0}, v[3] = {0};
    const float g[3][3] = {
        {0.1f, -0.2f, 0.3f},
        {0.05f, -0.1f, 0.6f},
        {-0.4f, 0.0f, 0.2f},
    };
    static const double want_p[3][3] = {
        {0.9900003162177663, -1.990000158111383, 0.49000010540814426},
        {0.980678783587934, -1.9806784936042756, 0.4803483306533797},
        {0.9848933720327891, -1.9734728199742013, 0.4713726567659715},
    };
    static const double want_m[3][3] = {
        {0.01, -0.02, 0.03},
        {0.014, -0.028, 0.087},
        {-0.0274, -0.0252, 0.0983},
    };
    static const double want_v[3][3] = {
        {1.0e-05, 4.0e-05, 9.0e-05},
        {1.249e-05, 4.996e-05, 0.00044991},
        {0.00017247751, 4.991004e-05, 0.00048946009},
    };
    for (int t = 1; t <= 3; t++) {
        tr_adam_update(p, m, v, g[t - 1], 3, 0.01, 0.9, 0.999, 1e-7, t);
        for (int i = 0; i < 3; i++) {
            CU_ASSERT(close_rel(p[i], want_p[t - 1][i], 1e-6, 0.0));
            CU_ASSERT(close_rel(m[i], want_m[t - 1][i], 1e-6, 1e-3));
            CU_ASSERT(close_rel(v[i], want_v[t - 1][i], 1e-6, 1e-6));
        }
    }
    /* first step in closed form: p1 = p0 - lr * s|g| / (s|g| + eps) sign(g),
     * s = sqrt(1 - beta2) (bias corrections cancel m and v to g, |g|). */
    float q[1] = {0.0f}, qm[1] = {0}, qv[1] = {0};
    const float qg[1] = {2.0f};
    tr_adam_update(q, qm, qv, qg, 1, 0.001, 0.9, 0.999, 1e-7, 1);
    double s = sqrt(1.0 - 0.999) * 2.0;
    CU_ASSERT(close_rel(q[0], -0.001 * s / (s + 1e-7), 1e-6, 0.0));
}

/* The step counter t enters lr_t: the same update from the same (zero) state
 * with t = 2 instead of t = 1 gives the t = 2 value of lr_t. */
static void test_adam_uses_step(void)
{
    float p1[1] = {0.0f}, m1[1] = {0}, v1[1] = {0};
    float p2[1] = {0.0f}, m2[1] = {0}, v2[1] = {0};
    const float g[1] = {1.0f};
    tr_adam_update(p1, m1, v1, g, 1, 0.1, 0.9, 0.999, 1e-7, 1);
    tr_adam_update(p2, m2, v2, g, 1, 0.1, 0.9, 0.999, 1e-7, 2);
    /* t=2 with zero state: lr_t = 0.1 sqrt(0.001999)/0.19, m = 0.1, v = 0.001 */
    double lr_t = 0.1 * sqrt(1.0 - 0.999 * 0.999) / (1.0 - 0.81);
    double want2 = -lr_t * 0.1 / (sqrt(0.001) + 1e-7);
    CU_ASSERT(close_rel(p2[0], want2, 1e-6, 0.0));
    CU_ASSERT(close_rel(p1[0], -0.1 * sqrt(0.001) / (sqrt(0.001) + 1e-7), 1e-6, 0.0));
    CU_ASSERT(fabs(p1[0] - p2[0]) > 1e-3);
    /* n = 0 touches nothing */
    tr_adam_update(p1, m1, v1, g, 0, 0.1, 0.9, 0.999, 1e-7, 3);
    CU_ASSERT(close_rel(p1[0], -0.1 * sqrt(0.001) / (sqrt(0.001) + 1e-7), 1e-6, 0.0));
}

/* Adam minimises f(p) = sum (p - c)^2, gradient 2 (p - c), in 1000 steps. */
static void test_adam_quadratic(void)
{
    enum { N = 5 };
    const float c[N] = {1.0f, -2.0f, 3.5f, 0.25f, 0.0f};
    float p[N] = {0.0f, 0.0f, 0.0f, 0.0f, 1.0f};
    float m[N] = {0}, v[N] = {0}, g[N];
    for (long t = 1; t <= 1000; t++) {
        for (int i = 0; i < N; i++)
            g[i] = 2.0f * (p[i] - c[i]);
        tr_adam_update(p, m, v, g, N, 0.05, 0.9, 0.999, 1e-7, t);
    }
    for (int i = 0; i < N; i++)
        CU_ASSERT(fabs(p[i] - c[i]) < 1e-3);
}

/* SGD, lr 0.1, p0 = (1, -1), g1 = (0.5, -0.25), g2 = (0.1, 0.3). */
static void sgd_two_steps(double momentum, int nesterov, const double want1[2],
                          const double want2[2], const double wantvel[2])
{
    float p[2] = {1.0f, -1.0f}, vel[2] = {0.0f, 0.0f};
    const float g1[2] = {0.5f, -0.25f}, g2[2] = {0.1f, 0.3f};
    tr_sgd_update(p, vel, g1, 2, 0.1, momentum, nesterov);
    CU_ASSERT_DOUBLE_EQUAL(p[0], want1[0], 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[1], want1[1], 1e-6);
    tr_sgd_update(p, vel, g2, 2, 0.1, momentum, nesterov);
    CU_ASSERT_DOUBLE_EQUAL(p[0], want2[0], 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[1], want2[1], 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(vel[0], wantvel[0], 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(vel[1], wantvel[1], 1e-6);
}

static void test_sgd_plain(void)
{
    /* p -= lr g; the velocity is just -lr g */
    const double w1[2] = {0.95, -0.975}, w2[2] = {0.94, -1.005};
    const double wv[2] = {-0.01, -0.03};
    sgd_two_steps(0.0, 0, w1, w2, wv);
    sgd_two_steps(0.0, 1, w1, w2, wv); /* Nesterov without momentum = plain */
}

static void test_sgd_momentum(void)
{
    /* vel1 = (-0.05, 0.025); p1 = (0.95, -0.975)
     * vel2 = 0.9 vel1 - 0.1 g2 = (-0.055, -0.0075); p2 = (0.895, -0.9825) */
    const double w1[2] = {0.95, -0.975}, w2[2] = {0.895, -0.9825};
    const double wv[2] = {-0.055, -0.0075};
    sgd_two_steps(0.9, 0, w1, w2, wv);
}

static void test_sgd_nesterov(void)
{
    /* p1 = p0 + 0.9 vel1 - 0.1 g1 = (0.905, -0.9525)
     * p2 = p1 + 0.9 vel2 - 0.1 g2 = (0.8455, -0.98925) */
    const double w1[2] = {0.905, -0.9525}, w2[2] = {0.8455, -0.98925};
    const double wv[2] = {-0.055, -0.0075};
    sgd_two_steps(0.9, 1, w1, w2, wv);
}

static void test_global_norm(void)
{
    const float a[2] = {3.0f, 4.0f};
    CU_ASSERT_DOUBLE_EQUAL(tr_global_norm(a, 2), 5.0, 0.0);
    const float b[4] = {1.0f, -2.0f, 2.0f, -4.0f};
    CU_ASSERT_DOUBLE_EQUAL(tr_global_norm(b, 4), 5.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(tr_global_norm(a, 0), 0.0, 0.0);
    /* the sum of squares would overflow float; in double it does not */
    const float big[2] = {3e30f, 4e30f};
    CU_ASSERT(close_rel(tr_global_norm(big, 2), 5e30, 1e-6, 0.0));
    /* equal (bitwise) to its documented order: value i into running sum
     * i % 8, the eight added pairwise; 1003 values: a tail too */
    float x[1003];
    double s[8] = {0};
    for (int i = 0; i < 1003; i++) {
        x[i] = (float)sin(0.37 * i) * (float)(1 + i % 7);
        s[i % 8] += (double)x[i] * (double)x[i];
    }
    CU_ASSERT(tr_global_norm(x, 1003) == sqrt(((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))));
}

static void test_clip_scales(void)
{
    float g[2] = {3.0f, 4.0f};
    double norm = tr_clip_global_norm(g, 2, 1.0);
    CU_ASSERT_DOUBLE_EQUAL(norm, 5.0, 0.0); /* returns the norm before clipping */
    CU_ASSERT_DOUBLE_EQUAL(g[0], 0.6, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(g[1], 0.8, 1e-7);
    CU_ASSERT(fabs(tr_global_norm(g, 2) - 1.0) < 1e-6);

    float x[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = (float)cos(0.11 * i) * (float)(i % 13) - 2.0f;
    double before = tr_global_norm(x, 1000);
    CU_ASSERT(before > 2.5);
    float x0 = x[17];
    CU_ASSERT(tr_clip_global_norm(x, 1000, 2.5) == before);
    CU_ASSERT(fabs(tr_global_norm(x, 1000) - 2.5) < 1e-6);
    CU_ASSERT(close_rel(x[17], x0 * 2.5 / before, 1e-6, 0.0)); /* direction kept */
}

static void test_clip_leaves_small(void)
{
    float g[3] = {0.3f, -0.4f, 0.1f};
    float orig[3];
    memcpy(orig, g, sizeof g);
    double norm = tr_clip_global_norm(g, 3, 1.0);
    CU_ASSERT(close_rel(norm, sqrt(0.26), 1e-6, 0.0));
    CU_ASSERT(memcmp(g, orig, sizeof g) == 0);

    /* norm exactly max_norm: unchanged */
    float e[2] = {3.0f, 4.0f};
    CU_ASSERT_DOUBLE_EQUAL(tr_clip_global_norm(e, 2, 5.0), 5.0, 0.0);
    CU_ASSERT(e[0] == 3.0f && e[1] == 4.0f);

    /* max_norm 0: clipping off, even for a large gradient */
    float big[2] = {300.0f, 400.0f};
    CU_ASSERT_DOUBLE_EQUAL(tr_clip_global_norm(big, 2, 0.0), 500.0, 0.0);
    CU_ASSERT(big[0] == 300.0f && big[1] == 400.0f);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"decay_schedule", test_decay_schedule},
        {"cosine_schedule", test_cosine_schedule},
        {"noam_schedule", test_noam_schedule},
        {"weight_decay", test_weight_decay},
        {"adam_three_steps", test_adam_three_steps},
        {"adam_uses_step", test_adam_uses_step},
        {"adam_quadratic", test_adam_quadratic},
        {"sgd_plain", test_sgd_plain},
        {"sgd_momentum", test_sgd_momentum},
        {"sgd_nesterov", test_sgd_nesterov},
        {"global_norm", test_global_norm},
        {"clip_scales", test_clip_scales},
        {"clip_leaves_small", test_clip_leaves_small},
        {NULL, NULL},
    };
    return tr_test_run("optim", cases);
}

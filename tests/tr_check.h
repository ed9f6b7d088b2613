/* tests/tr_check.h - what the layer suites share: a small deterministic RNG,
 * buffers, and the finite-difference gradient checker.
 *
 * Gradient checks: a scalar loss L = sum(out .* R) for a random R (summed in
 * double from the float outputs), the analytic gradient from backward, and
 * the central difference (L(x+h) - L(x-h)) / 2h for up to GC_SAMPLES entries
 * of a tensor (retried at 3h and h/3 where it disagrees). */
#ifndef TR_CHECK_H
#define TR_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tr_test.h"

#define GC_TOL 1e-2     /* max relative error allowed */
#ifndef GC_H
#define GC_H 1e-2f      /* finite-difference step */
#endif
/* A parameter that moves every output of a recurrence (or many gates at
 * once) sums the float rounding noise of all of them: ~1e-5 in the central
 * difference at h = 1e-2, i.e. 1e-2 relative at the 1e-3 floor. These use
 * twice the step (still well off the hard-sigmoid kinks). */
#define GC_H_SEQ (2.0f * GC_H)
#define GC_SAMPLES 50   /* entries checked per tensor */

#ifndef TEST_SEED_OFFSET /* -DTEST_SEED_OFFSET=n: another fixed draw */
#define TEST_SEED_OFFSET 0
#endif

/* xorshift64* */
static uint64_t rng_state = 1;

static inline void rng_seed(uint64_t s)
{
    s += 1000u * (uint64_t)(TEST_SEED_OFFSET);
    rng_state = s * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    if (!rng_state)
        rng_state = 1;
}

static inline uint32_t rng_u32(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static inline float rng_unif(float lo, float hi)
{
    return lo + (hi - lo) * (float)((rng_u32() >> 8) * (1.0 / 16777216.0));
}

static inline void fill(float *x, int n, float lo, float hi)
{
    for (int i = 0; i < n; i++)
        x[i] = rng_unif(lo, hi);
}

static inline float *falloc(int n) /* zeroed */
{
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    CU_ASSERT_FATAL(p != NULL);
    return p;
}

static inline double *dalloc(int n) /* zeroed */
{
    double *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    CU_ASSERT_FATAL(p != NULL);
    return p;
}

static inline float *frand(int n, float lo, float hi)
{
    float *p = falloc(n);
    fill(p, n, lo, hi);
    return p;
}

static inline float *fdup(const float *x, int n)
{
    float *p = falloc(n);
    memcpy(p, x, (size_t)n * sizeof *p);
    return p;
}

static inline double dotd(const float *a, const float *b, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

static inline double max_abs(const float *x, int n)
{
    double m = 0.0;
    for (int i = 0; i < n; i++)
        m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

static inline int all_zero(const float *x, int n)
{
    for (int i = 0; i < n; i++)
        if (x[i] != 0.0f)
            return 0;
    return 1;
}

/* |b - 2a| small: backward called twice accumulated twice */
static inline int is_double_of(const float *once, const float *twice, int n)
{
    for (int i = 0; i < n; i++) {
        double want = 2.0 * once[i];
        if (fabs(twice[i] - want) > 1e-5 * (1.0 + fabs(want)))
            return 0;
    }
    return 1;
}

typedef double (*loss_fn)(void *ctx);

/* Worst relative error between g (analytic dL/dx) and central differences of
 * f over up to GC_SAMPLES entries of x (all of them if few), printed.
 * The error of an entry is |a - n| / (|a| + |n|), the denominator at least
 * 1e-3 and 1e-2 of the tensor's largest |a|: the central difference's float
 * noise is absolute (it scales with the loss, not with the entry), so a
 * tiny entry next to large ones is judged against the tensor's scale. */
static inline double grad_check_h(const char *what, loss_fn f, void *ctx, float *x, const float *g, int n, float h)
{
    const double floor = fmax(1e-3, 1e-2 * max_abs(g, n));
    double worst = 0.0;
    int m = n < GC_SAMPLES ? n : GC_SAMPLES;
    for (int s = 0; s < m; s++) {
        int i = n <= GC_SAMPLES ? s : (int)(rng_u32() % (uint32_t)n);
        const float x0 = x[i];
        const double an = g[i];
        /* Float rounding in a long recurrence can drown the difference at
         * one step on one CPU's BLAS and not on another's: a disagreement
         * is retried at 3h and h/3 and the closest kept. A wrong gradient
         * disagrees at every step. */
        double best = INFINITY, nu = 0.0;
        for (int k = 0; k < 3 && best > GC_TOL / 4; k++) {
            const float hk = k == 0 ? h : k == 1 ? 3 * h : h / 3;
            const float xp = x0 + hk, xm = x0 - hk;
            if (xp == xm) /* too large for the step to move (a masked -1e9) */
                continue;
            x[i] = xp;
            double lp = f(ctx);
            x[i] = xm;
            double lm = f(ctx);
            x[i] = x0;
            double num = (lp - lm) / ((double)xp - (double)xm);
            double e = fabs(an - num) / fmax(floor, fabs(an) + fabs(num));
            if (e < best) {
                best = e;
                nu = num;
            }
        }
        if (best == INFINITY) /* no step moved it: nothing to compare */
            best = 0.0;
        worst = best > worst ? best : worst;
#ifdef GC_DEBUG
        if (best > 3e-3)
            printf("\n        [%d] analytic %.9g numeric %.9g", i, an, nu);
#else
        (void)nu;
#endif
    }
    f(ctx); /* leave the outputs and caches at the unperturbed point */
    printf("\n      %-38s max rel err %.2e (%d of %d)", what, worst, m, n);
    return worst;
}

#endif

/* tests/test_rnn.c - the tanh RNN (trainer/layers.h, core/layers/rnn.c): values by
 * hand, forward and backward against a double-precision reference (plain
 * loops, no BLAS), central finite differences of L = sum(h .* R) for every
 * input and parameter tensor, and the buffer contracts (dxw overwritten,
 * the rest accumulated, h0 NULL). */
#include "trainer/layers.h"
#include "tr_check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAD_OK(what, f, ctx, x, g, n)                                        \
    CU_ASSERT(grad_check_h((what), (f), (ctx), (x), (g), (n), GC_H) < GC_TOL)

/* h[T,B,H] from the formula in layers.h */
static void ref_forward(double *h, const float *xw, const float *h0, const float *Wh, const float *bh, int T, int B,
                        int H)
{
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int u = 0; u < H; u++) {
                double a = (double)xw[(t * B + b) * H + u] + bh[u];
                for (int i = 0; i < H; i++)
                    a += (t ? h[((t - 1) * B + b) * H + i] : h0 ? h0[b * H + i] : 0.0) * Wh[i * H + u];
                h[(t * B + b) * H + u] = tanh(a);
            }
}

/* BPTT of L = sum(h .* R): dxw, dh0, dWh, dbh set (not accumulated) */
static void ref_backward(double *dxw, double *dh0, double *dWh, double *dbh, const float *R, const float *xw,
                         const float *h0, const float *Wh, const float *bh, int T, int B, int H)
{
    double *h = dalloc(T * B * H), *next = dalloc(B * H), *cur = dalloc(B * H);
    ref_forward(h, xw, h0, Wh, bh, T, B, H);
    memset(dWh, 0, sizeof(double) * (size_t)(H * H));
    memset(dbh, 0, sizeof(double) * (size_t)H);
    for (int t = T - 1; t >= 0; t--) {
        for (int i = 0; i < B * H; i++)
            cur[i] = R[t * B * H + i] + next[i];
        memset(next, 0, sizeof(double) * (size_t)(B * H));
        for (int b = 0; b < B; b++)
            for (int u = 0; u < H; u++) {
                const int o = (t * B + b) * H + u;
                const double da = cur[b * H + u] * (1.0 - h[o] * h[o]);
                dxw[o] = da;
                dbh[u] += da;
                for (int i = 0; i < H; i++) {
                    const double hp = t ? h[((t - 1) * B + b) * H + i] : h0 ? h0[b * H + i] : 0.0;
                    dWh[i * H + u] += hp * da;
                    next[b * H + i] += da * Wh[i * H + u];
                }
            }
    }
    for (int i = 0; i < B * H; i++)
        dh0[i] = h0 ? next[i] : 0.0;
    free(h); free(next); free(cur);
}

static double rel_err(const float *got, const double *want, int n)
{
    double m = 0.0, e = 0.0;
    for (int i = 0; i < n; i++) {
        m = fabs(want[i]) > m ? fabs(want[i]) : m;
        e = fabs(got[i] - want[i]) > e ? fabs(got[i] - want[i]) : e;
    }
    return e / (m > 1e-6 ? m : 1e-6);
}

static void values_by_hand(void)
{
    /* H = 1, B = 1, T = 2: h0 = tanh(0.3 + 0.5 * 0.8 + 0.1) = tanh(0.8);
     * h1 = tanh(-0.2 + 0.5 * h0 + 0.1) */
    const float xw[2] = {0.3f, -0.2f}, h0 = 0.8f, Wh = 0.5f, bh = 0.1f;
    float h[2];
    tr_rnn_forward(h, xw, &h0, &Wh, &bh, 2, 1, 1);
    CU_ASSERT_DOUBLE_EQUAL(h[0], tanh(0.8), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(h[1], tanh(-0.1 + 0.5 * tanh(0.8)), 1e-6);
    tr_rnn_forward(h, xw, NULL, &Wh, &bh, 2, 1, 1); /* no h0: zeros */
    CU_ASSERT_DOUBLE_EQUAL(h[0], tanh(0.4), 1e-6);
}

typedef struct {
    int T, B, H;
    float *xw, *h0, *Wh, *bh, *h, *R;
} seq_ctx;

static double seq_loss(void *p)
{
    seq_ctx *k = p;
    tr_rnn_forward(k->h, k->xw, k->h0, k->Wh, k->bh, k->T, k->B, k->H);
    return dotd(k->h, k->R, k->T * k->B * k->H);
}

static void gradients(int with_h0)
{
    rng_seed(300 + (uint64_t)with_h0);
    seq_ctx k = {.T = 5, .B = 3, .H = 4};
    const int N = k.T * k.B * k.H, BH = k.B * k.H, HH = k.H * k.H;
    k.xw = frand(N, -1.5f, 1.5f);
    k.h0 = with_h0 ? frand(BH, -1, 1) : NULL;
    k.Wh = frand(HH, -0.7f, 0.7f);
    k.bh = frand(k.H, -0.5f, 0.5f);
    k.h = falloc(N);
    k.R = frand(N, -1, 1);
    float *dxw = frand(N, -9, 9) /* overwritten */, *dh0 = falloc(BH), *dWh = falloc(HH), *dbh = falloc(k.H);
    float *dh = falloc(N);
    seq_loss(&k);
    memcpy(dh, k.R, (size_t)N * sizeof *dh);
    tr_rnn_backward(dxw, dh0, dWh, dbh, dh, k.h, k.h0, k.Wh, k.T, k.B, k.H);

    double *rdx = dalloc(N), *rdh0 = dalloc(BH), *rdW = dalloc(HH), *rdb = dalloc(k.H), *rh = dalloc(N);
    ref_forward(rh, k.xw, k.h0, k.Wh, k.bh, k.T, k.B, k.H);
    CU_ASSERT(rel_err(k.h, rh, N) < 1e-5);
    ref_backward(rdx, rdh0, rdW, rdb, k.R, k.xw, k.h0, k.Wh, k.bh, k.T, k.B, k.H);
    const double e[4] = {rel_err(dxw, rdx, N), rel_err(dWh, rdW, HH), rel_err(dbh, rdb, k.H),
                         with_h0 ? rel_err(dh0, rdh0, BH) : 0.0};
    printf("\n      h0 %s: vs double dxw %.1e dWh %.1e dbh %.1e dh0 %.1e", with_h0 ? "given" : "NULL", e[0], e[1],
           e[2], e[3]);
    for (int i = 0; i < 4; i++)
        CU_ASSERT(e[i] < 1e-4);
    if (!with_h0)
        CU_ASSERT(all_zero(dh0, BH)); /* no h0: dh0 untouched */

    GRAD_OK("rnn dxw FD", seq_loss, &k, k.xw, dxw, N);
    GRAD_OK("rnn dWh FD", seq_loss, &k, k.Wh, dWh, HH);
    GRAD_OK("rnn dbh FD", seq_loss, &k, k.bh, dbh, k.H);
    if (with_h0)
        GRAD_OK("rnn dh0 FD", seq_loss, &k, k.h0, dh0, BH);
    CU_ASSERT(max_abs(dWh, HH) > 0.01 && max_abs(dxw, N) > 0.01);

    /* dWh, dbh, dh0 accumulate: a second call doubles them; dxw is the same */
    float *dxw1 = fdup(dxw, N), *dWh1 = fdup(dWh, HH), *dbh1 = fdup(dbh, k.H), *dh01 = fdup(dh0, BH);
    memcpy(dh, k.R, (size_t)N * sizeof *dh);
    tr_rnn_backward(dxw, dh0, dWh, dbh, dh, k.h, k.h0, k.Wh, k.T, k.B, k.H);
    CU_ASSERT(memcmp(dxw, dxw1, (size_t)N * sizeof *dxw) == 0);
    CU_ASSERT(is_double_of(dWh1, dWh, HH));
    CU_ASSERT(is_double_of(dbh1, dbh, k.H));
    if (with_h0)
        CU_ASSERT(is_double_of(dh01, dh0, BH));
    free(dxw1); free(dWh1); free(dbh1); free(dh01);
    free(k.xw); free(k.h0); free(k.Wh); free(k.bh); free(k.h); free(k.R);
    free(dxw); free(dh0); free(dWh); free(dbh); free(dh);
    free(rdx); free(rdh0); free(rdW); free(rdb); free(rh);
}

static void gradients_h0(void) { gradients(1); }
static void gradients_no_h0(void) { gradients(0); }

int main(void)
{
    static const tr_test_case cases[] = {
        {"values by hand", values_by_hand},
        {"with h0: vs double, finite differences, accumulation", gradients_h0},
        {"h0 NULL: the same", gradients_no_h0},
        {NULL, NULL},
    };
    return tr_test_run("rnn", cases);
}

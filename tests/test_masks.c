/* tests/test_masks.c - dropout, per-sample lengths of the recurrent layers
 * and the softmax with lengths (trainer/layers.h, "Appended in ABI 1.4"):
 * the dropout mask's statistics and its independence of row order; a padded
 * batch against each sample run alone; exact zeros at padding; finite
 * differences (tr_check.h); NULL lengths against the unmasked functions. */
#include "trainer/layers.h"
#include "tr_check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAD_OK(what, f, ctx, x, g, n, h)                                     \
    CU_ASSERT(grad_check_h((what), (f), (ctx), (x), (g), (n), (h)) < GC_TOL)

#define ALONE_TOL 1e-6 /* padded batch vs the sample alone, relative */

static int same_bits(const float *a, const float *b, int n)
{
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

/* max |a - b| / (1 + |b|) */
static double rel_diff(const float *a, const float *b, int n)
{
    double e = 0.0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs(b[i]));
        e = d > e ? d : e;
    }
    return e;
}

/* rows [t, b] of a time-major [T,B,w] tensor */
static float *row(float *x, int t, int b, int B, int w)
{
    return x + ((size_t)t * B + b) * (size_t)w;
}

/* ============================================================== dropout */

/* keep rate 1-p within 5 sigma over 2^20 entries, kept entries exactly
 * 1/(1-p), y = x * mask, E[mask] = 1, the two columns sharing one draw
 * independent (P(both kept) = (1-p)^2), even and odd columns alike */
static void test_dropout_keep_rate(void)
{
    const int N = 1024, D = 1024, ND = N * D;
    const float ps[3] = {0.1f, 0.5f, 0.85f};
    uint64_t *keys = malloc((size_t)N * sizeof *keys);
    float *x = falloc(ND), *y = falloc(ND), *m = falloc(ND);
    CU_ASSERT_FATAL(keys != NULL);
    rng_seed(1);
    fill(x, ND, -1, 1);
    for (int n = 0; n < N; n++)
        keys[n] = tr_dropout_key(12345, n, 0, 0);
    for (int k = 0; k < 3; k++) {
        const float p = ps[k], scale = 1.0f / (1.0f - p);
        tr_dropout_forward(y, m, x, keys, p, N, D);
        long kept = 0, kept_even = 0, both = 0, bad = 0;
        double msum = 0.0;
        for (int i = 0; i < ND; i++) {
            const int on = m[i] != 0.0f;
            bad += on && m[i] != scale;
            bad += y[i] != x[i] * m[i];
            kept += on;
            kept_even += on && i % 2 == 0;
            msum += m[i];
            if (i % 2 == 0)
                both += on && m[i + 1] != 0.0f;
        }
        const double q = 1.0 - p, rate = (double)kept / ND,
                     sd = sqrt(p * q / ND);
        const double re = (double)kept_even / (ND / 2),
                     rb = (double)both / (ND / 2),
                     sdb = sqrt(q * q * (1 - q * q) / (ND / 2));
        printf("\n      p=%.2f keep %.5f (want %.5f, 5 sd %.1e), even %.5f, "
               "pairs %.5f (want %.5f)", p, rate, q, 5 * sd, re, rb, q * q);
        CU_ASSERT(bad == 0);
        CU_ASSERT(fabs(rate - q) < 5 * sd);
        CU_ASSERT(fabs(re - q) < 5 * sd * sqrt(2.0));
        CU_ASSERT(fabs(rb - q * q) < 5 * sdb);
        CU_ASSERT(fabs(msum / ND - 1.0) < 5 * sd * scale);
    }
    free(keys); free(x); free(y); free(m);
}

/* the same keys give the same mask; other keys another one; the key is a
 * pure function of (batch key, sample, site, position), each of which
 * changes it */
static void test_dropout_keys(void)
{
    const int N = 8, D = 301, ND = N * D; /* odd D: the last half draw */
    uint64_t keys[8], other[8];
    float *x = falloc(ND), *m1 = falloc(ND), *m2 = falloc(ND), *y = falloc(ND);
    rng_seed(2);
    fill(x, ND, -1, 1);
    for (int n = 0; n < N; n++) {
        keys[n] = tr_dropout_key(7, 1000 + n, 2, 3);
        other[n] = tr_dropout_key(7, 1000 + n, 2, 4);
    }
    tr_dropout_forward(y, m1, x, keys, 0.5f, N, D);
    tr_dropout_forward(y, m2, x, keys, 0.5f, N, D);
    CU_ASSERT(same_bits(m1, m2, ND));
    tr_dropout_forward(y, m2, x, other, 0.5f, N, D);
    int differ = 0;
    for (int i = 0; i < ND; i++)
        differ += (m1[i] != 0.0f) != (m2[i] != 0.0f);
    /* independent masks differ in half the entries at p = 0.5 */
    printf("\n      other keys: %d of %d entries differ", differ, ND);
    CU_ASSERT(fabs(differ - ND / 2.0) < 5 * 0.5 * sqrt((double)ND));

    const uint64_t k0 = tr_dropout_key(7, 1000, 2, 3);
    CU_ASSERT(tr_dropout_key(7, 1000, 2, 3) == k0);
    CU_ASSERT(tr_dropout_key(8, 1000, 2, 3) != k0);
    CU_ASSERT(tr_dropout_key(7, 1001, 2, 3) != k0);
    CU_ASSERT(tr_dropout_key(7, 1000, 1, 3) != k0);
    CU_ASSERT(tr_dropout_key(7, 1000, 2, 2) != k0);
    CU_ASSERT(tr_dropout_key(7, 1000, 3, 2) != tr_dropout_key(7, 1000, 2, 3));
    /* a row's mask depends only on its key, not on the other rows */
    uint64_t mixed[8];
    memcpy(mixed, keys, sizeof mixed);
    mixed[3] = other[3];
    tr_dropout_forward(y, m2, x, mixed, 0.5f, N, D);
    CU_ASSERT(same_bits(m1, m2, 3 * D));
    CU_ASSERT(same_bits(m1 + 4 * D, m2 + 4 * D, 4 * D));
    free(x); free(m1); free(m2); free(y);
}

/* a [T, B, D] time-major dropout keyed by (sample, site, position): all
 * rows at once, the samples in two halves, and the samples in another
 * order (another micro-shard layout) give the same mask per sample */
static void test_dropout_row_order(void)
{
    enum { T = 5, B = 6, D = 37 };
    const int64_t idx[B] = {40, 41, 42, 43, 44, 45};
    const uint64_t bk = 0xfeedULL;
    uint64_t keys[T * B];
    float *x = falloc(T * B * D), *y = falloc(T * B * D),
          *m = falloc(T * B * D), *m2 = falloc(T * B * D),
          *y2 = falloc(T * B * D);
    rng_seed(3);
    fill(x, T * B * D, -1, 1);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            keys[t * B + b] = tr_dropout_key(bk, idx[b], 1, (uint32_t)t);
    tr_dropout_forward(y, m, x, keys, 0.3f, T * B, D);

    /* halves: samples 0..2 then 3..5, each a [T, 3, D] batch of its own */
    int ok = 1;
    for (int h = 0; h < 2; h++) {
        uint64_t k2[T * 3];
        float xs[T * 3 * D];
        for (int t = 0; t < T; t++)
            for (int b = 0; b < 3; b++) {
                k2[t * 3 + b] = tr_dropout_key(bk, idx[3 * h + b], 1, (uint32_t)t);
                memcpy(xs + (t * 3 + b) * D, x + (t * B + 3 * h + b) * D,
                       D * sizeof(float));
            }
        tr_dropout_forward(y2, m2, xs, k2, 0.3f, T * 3, D);
        for (int t = 0; t < T; t++)
            for (int b = 0; b < 3; b++) {
                ok &= same_bits(m2 + (t * 3 + b) * D,
                                m + (t * B + 3 * h + b) * D, D);
                ok &= same_bits(y2 + (t * 3 + b) * D,
                                y + (t * B + 3 * h + b) * D, D);
            }
    }
    CU_ASSERT(ok);

    /* the samples reversed, one row per call */
    ok = 1;
    for (int b = B - 1; b >= 0; b--)
        for (int t = T - 1; t >= 0; t--) {
            uint64_t k1 = tr_dropout_key(bk, idx[b], 1, (uint32_t)t);
            float mr[D], yr[D];
            tr_dropout_forward(yr, mr, x + (t * B + b) * D, &k1, 0.3f, 1, D);
            ok &= same_bits(mr, m + (t * B + b) * D, D);
            ok &= same_bits(yr, y + (t * B + b) * D, D);
        }
    CU_ASSERT(ok);
    free(x); free(y); free(m); free(m2); free(y2);
}

/* p = 0 is the identity (in place too) with mask 1; p = 1 drops all; no
 * mask buffer (and in place, D across the stack tiles) gives the same y */
static void test_dropout_identity(void)
{
    const int N = 3, D = 601, ND = N * D;
    uint64_t keys[3] = {tr_dropout_key(1, 0, 0, 0), tr_dropout_key(1, 1, 0, 0),
                        tr_dropout_key(1, 2, 0, 0)};
    float *x = falloc(ND), *y = falloc(ND), *m = falloc(ND), *xi = falloc(ND),
          *ym = falloc(ND);
    rng_seed(4);
    fill(x, ND, -2, 2);
    fill(y, ND, -9, 9);
    fill(m, ND, -9, 9);
    tr_dropout_forward(y, m, x, keys, 0.0f, N, D);
    CU_ASSERT(same_bits(y, x, ND));
    int ones = 1;
    for (int i = 0; i < ND; i++)
        ones &= m[i] == 1.0f;
    CU_ASSERT(ones);
    memcpy(xi, x, (size_t)ND * sizeof *xi);
    tr_dropout_forward(xi, NULL, xi, NULL, 0.0f, N, D); /* keys unread */
    CU_ASSERT(same_bits(xi, x, ND));

    tr_dropout_forward(y, m, x, keys, 1.0f, N, D);
    CU_ASSERT(all_zero(y, ND) && all_zero(m, ND));

    tr_dropout_forward(ym, m, x, keys, 0.4f, N, D);
    tr_dropout_forward(y, NULL, x, keys, 0.4f, N, D);
    CU_ASSERT(same_bits(y, ym, ND));
    memcpy(xi, x, (size_t)ND * sizeof *xi);
    tr_dropout_forward(xi, NULL, xi, keys, 0.4f, N, D);
    CU_ASSERT(same_bits(xi, ym, ND));
    memcpy(xi, x, (size_t)ND * sizeof *xi);
    tr_dropout_forward(xi, m, xi, keys, 0.4f, N, D);
    CU_ASSERT(same_bits(xi, ym, ND));
    free(x); free(y); free(m); free(xi); free(ym);
}

typedef struct {
    int N, D;
    float p;
    const uint64_t *keys;
    float *x, *y, *m, *R;
} drop_ctx;

static double drop_loss(void *q)
{
    drop_ctx *c = q;
    tr_dropout_forward(c->y, c->m, c->x, c->keys, c->p, c->N, c->D);
    return dotd(c->y, c->R, c->N * c->D);
}

/* finite differences with the mask fixed by the keys; dx accumulates and
 * is exactly 0 where the mask dropped */
static void test_dropout_grad(void)
{
    rng_seed(5);
    uint64_t keys[6];
    for (int n = 0; n < 6; n++)
        keys[n] = tr_dropout_key(99, n, 0, 0);
    drop_ctx c = {.N = 6, .D = 9, .p = 0.3f, .keys = keys};
    const int ND = c.N * c.D;
    c.x = frand(ND, -1, 1);
    c.y = falloc(ND);
    c.m = falloc(ND);
    c.R = frand(ND, -1, 1);
    float *dx = falloc(ND);
    drop_loss(&c);
    tr_dropout_backward(dx, c.R, c.m, c.N, c.D);
    GRAD_OK("dropout dx (p=0.3)", drop_loss, &c, c.x, dx, ND, GC_H);
    int zeros = 1, dropped = 0;
    for (int i = 0; i < ND; i++)
        if (c.m[i] == 0.0f) {
            zeros &= dx[i] == 0.0f;
            dropped++;
        }
    CU_ASSERT(zeros && dropped > 0 && dropped < ND);
    float *once = fdup(dx, ND);
    tr_dropout_backward(dx, c.R, c.m, c.N, c.D);
    CU_ASSERT(is_double_of(once, dx, ND));
    tr_dropout_backward(NULL, c.R, c.m, c.N, c.D); /* NULL dx: skipped */
    free(c.x); free(c.y); free(c.m); free(c.R); free(dx); free(once);
}

/* ================================================================= LSTM */

typedef struct {
    int T, B, H, reverse;
    tr_act ract;
    const int32_t *len;
    float *xw, *Wh, *h_seq, *c_seq, *gates, *R;
} lstm_ctx;

static double lstm_loss(void *p)
{
    lstm_ctx *s = p;
    tr_lstm_forward_len(s->h_seq, s->c_seq, s->gates, s->xw, s->Wh, s->T, s->B,
                        s->H, s->reverse, s->ract, s->len);
    return dotd(s->h_seq, s->R, s->T * s->B * s->H);
}

/* Each sample of a padded batch equals that sample run alone with
 * T = len[b] (forward and backward); padding is exactly 0 in h, c, gates
 * and d(xw) although dh_seq is non-zero there; dWh is the sum of the
 * samples' own. */
static void lstm_vs_alone(int reverse, const int32_t *len, int T, int B,
                          uint64_t seed)
{
    rng_seed(seed);
    const int H = 4, G = 4 * H, BH = B * H, BG = B * G, N = T * BH,
              NG = T * BG, HG = H * G;
    float *xw = frand(NG, -1, 1), *Wh = frand(HG, -0.5f, 0.5f),
          *R = frand(N, -1, 1);
    float *h = frand(N, -9, 9), *c = frand(N, -9, 9), *g = frand(NG, -9, 9);
    float *dxw = frand(NG, -9, 9), *dWh = falloc(HG), *dh = fdup(R, N),
          *work = frand(2 * BH, -9, 9);
    tr_lstm_forward_len(h, c, g, xw, Wh, T, B, H, reverse, TR_ACT_SIGMOID, len);
    tr_lstm_backward_len(dxw, dWh, dh, h, c, g, Wh, work, T, B, H, reverse,
                         TR_ACT_SIGMOID, len);

    float *xa = falloc(T * G), *ha = falloc(T * H), *ca = falloc(T * H),
          *ga = falloc(T * G), *dxa = falloc(T * G), *dha = falloc(T * H),
          *wa = falloc(2 * H), *dWsum = falloc(HG);
    double ef = 0.0, eb = 0.0;
    int bitwise = 1, pad_zero = 1;
    for (int b = 0; b < B; b++) {
        const int L = len[b];
        for (int t = L; t < T; t++) {
            pad_zero &= all_zero(row(h, t, b, B, H), H) &&
                        all_zero(row(c, t, b, B, H), H) &&
                        all_zero(row(g, t, b, B, G), G) &&
                        all_zero(row(dxw, t, b, B, G), G);
        }
        if (L == 0)
            continue;
        for (int t = 0; t < L; t++) {
            memcpy(xa + t * G, row(xw, t, b, B, G), (size_t)G * sizeof(float));
            memcpy(dha + t * H, row(R, t, b, B, H), (size_t)H * sizeof(float));
        }
        tr_lstm_forward(ha, ca, ga, xa, Wh, L, 1, H, reverse, TR_ACT_SIGMOID);
        tr_lstm_backward(dxa, dWsum, dha, ha, ca, ga, Wh, wa, L, 1, H, reverse,
                         TR_ACT_SIGMOID);
        for (int t = 0; t < L; t++) {
            const double e[3] = {rel_diff(row(h, t, b, B, H), ha + t * H, H),
                                 rel_diff(row(c, t, b, B, H), ca + t * H, H),
                                 rel_diff(row(g, t, b, B, G), ga + t * G, G)};
            for (int k = 0; k < 3; k++)
                ef = e[k] > ef ? e[k] : ef;
            const double d = rel_diff(row(dxw, t, b, B, G), dxa + t * G, G);
            eb = d > eb ? d : eb;
            bitwise &= same_bits(row(h, t, b, B, H), ha + t * H, H) &&
                       same_bits(row(c, t, b, B, H), ca + t * H, H) &&
                       same_bits(row(dxw, t, b, B, G), dxa + t * G, G);
        }
    }
    const double ew = rel_diff(dWh, dWsum, HG);
    printf("\n      %s T=%d B=%d: vs alone fwd %.1e, dxw %.1e, dWh %.1e%s",
           reverse ? "reverse" : "forward", T, B, ef, eb, ew,
           bitwise ? " (h, c, dxw bitwise)" : "");
    CU_ASSERT(pad_zero);
    CU_ASSERT(ef <= ALONE_TOL);
    CU_ASSERT(eb <= ALONE_TOL);
    CU_ASSERT(ew <= 1e-5);
    CU_ASSERT(max_abs(dWh, HG) > 0.01);
    free(xw); free(Wh); free(R); free(h); free(c); free(g); free(dxw);
    free(dWh); free(dh); free(work); free(xa); free(ha); free(ca); free(ga);
    free(dxa); free(dha); free(wa); free(dWsum);
}

static const int32_t LEN7[5] = {7, 1, 4, 0, 3};
static const int32_t LEN_SHORT[4] = {3, 1, 2, 3}; /* all shorter than T = 6 */

static void test_lstm_alone_fwd(void) { lstm_vs_alone(0, LEN7, 7, 5, 10); }
static void test_lstm_alone_rev(void) { lstm_vs_alone(1, LEN7, 7, 5, 11); }
static void test_lstm_alone_short_fwd(void) { lstm_vs_alone(0, LEN_SHORT, 6, 4, 12); }
static void test_lstm_alone_short_rev(void) { lstm_vs_alone(1, LEN_SHORT, 6, 4, 13); }

/* full finite-difference checks of dxw (including the padding, where both
 * are 0) and dWh with mixed lengths 1..T */
static void lstm_len_grad(int reverse, tr_act ract, uint64_t seed)
{
    static const int32_t len[4] = {5, 1, 3, 5};
    rng_seed(seed);
    lstm_ctx s = {.T = 5, .B = 4, .H = 3, .reverse = reverse, .ract = ract,
                  .len = len};
    const int BH = s.B * s.H, BG = 4 * BH, N = s.T * BH, NG = s.T * BG,
              HG = 4 * s.H * s.H;
    s.xw = frand(NG, -1, 1);
    s.Wh = frand(HG, -0.4f, 0.4f); /* |z| <= 1 + 3 * 0.4: off the kinks */
    s.h_seq = falloc(N);
    s.c_seq = falloc(N);
    s.gates = falloc(NG);
    s.R = frand(N, -1, 1); /* non-zero at the padding too */
    float *dxw = falloc(NG), *dWh = falloc(HG), *dh = fdup(s.R, N),
          *work = falloc(2 * BH);
    char what[96];
    const char *dn = reverse ? "reverse" : "forward",
               *an = ract == TR_ACT_SIGMOID ? "sigmoid" : "hard sigmoid";
    lstm_loss(&s);
    tr_lstm_backward_len(dxw, dWh, dh, s.h_seq, s.c_seq, s.gates, s.Wh, work,
                         s.T, s.B, s.H, reverse, ract, len);
    snprintf(what, sizeof what, "lstm_len dxw (%s, %s)", dn, an);
    GRAD_OK(what, lstm_loss, &s, s.xw, dxw, NG, GC_H_SEQ);
    snprintf(what, sizeof what, "lstm_len dWh (%s, %s)", dn, an);
    GRAD_OK(what, lstm_loss, &s, s.Wh, dWh, HG, GC_H_SEQ);
    /* the rows of the sample of length 1 (b = 1), every step */
    for (int t = 0; t < s.T; t++) {
        snprintf(what, sizeof what, "lstm_len dxw[t=%d, len 1] (%s)", t, dn);
        GRAD_OK(what, lstm_loss, &s, row(s.xw, t, 1, s.B, 4 * s.H),
                row(dxw, t, 1, s.B, 4 * s.H), 4 * s.H, GC_H_SEQ);
    }
    CU_ASSERT(max_abs(dWh, HG) > 0.01);

    /* accumulate / overwrite as tr_lstm_backward */
    float *o_dxw = fdup(dxw, NG), *o_dWh = fdup(dWh, HG);
    memcpy(dh, s.R, (size_t)N * sizeof *dh);
    fill(dxw, NG, -9, 9);
    fill(work, 2 * BH, -9, 9);
    tr_lstm_backward_len(dxw, dWh, dh, s.h_seq, s.c_seq, s.gates, s.Wh, work,
                         s.T, s.B, s.H, reverse, ract, len);
    CU_ASSERT(same_bits(o_dxw, dxw, NG));
    CU_ASSERT(is_double_of(o_dWh, dWh, HG));
    free(s.xw); free(s.Wh); free(s.h_seq); free(s.c_seq); free(s.gates);
    free(s.R); free(dxw); free(dWh); free(dh); free(work); free(o_dxw);
    free(o_dWh);
}

static void test_lstm_grad_fwd(void) { lstm_len_grad(0, TR_ACT_SIGMOID, 20); }
static void test_lstm_grad_rev(void) { lstm_len_grad(1, TR_ACT_SIGMOID, 21); }
static void test_lstm_grad_fwd_hard(void) { lstm_len_grad(0, TR_ACT_HARD_SIGMOID, 22); }
static void test_lstm_grad_rev_hard(void) { lstm_len_grad(1, TR_ACT_HARD_SIGMOID, 23); }

/* NULL lengths: exactly tr_lstm_forward/backward, and both equal the
 * explicit chain of cells (independent of the sequence code); lengths all
 * T give the same bits as NULL (the masking costs nothing in value) */
static void test_lstm_null_lengths(void)
{
    rng_seed(30);
    enum { T = 6, B = 3, H = 5, BH = B * H, BG = 4 * BH, N = T * BH,
           NG = T * BG, HG = 4 * H * H };
    static const int32_t full[B] = {T, T, T};
    for (int reverse = 0; reverse < 2; reverse++) {
        float *xw = frand(NG, -1, 1), *Wh = frand(HG, -0.5f, 0.5f),
              *R = frand(N, -1, 1);
        float *h[3], *c[3], *g[3], *dx[3], *dW[3];
        for (int k = 0; k < 3; k++) {
            h[k] = falloc(N);
            c[k] = falloc(N);
            g[k] = falloc(NG);
            dx[k] = falloc(NG);
            dW[k] = falloc(HG);
            float *dh = fdup(R, N), *work = falloc(2 * BH);
            if (k == 0) {
                tr_lstm_forward(h[k], c[k], g[k], xw, Wh, T, B, H, reverse,
                                TR_ACT_HARD_SIGMOID);
                tr_lstm_backward(dx[k], dW[k], dh, h[k], c[k], g[k], Wh, work,
                                 T, B, H, reverse, TR_ACT_HARD_SIGMOID);
            } else {
                const int32_t *l = k == 1 ? NULL : full;
                tr_lstm_forward_len(h[k], c[k], g[k], xw, Wh, T, B, H, reverse,
                                    TR_ACT_HARD_SIGMOID, l);
                tr_lstm_backward_len(dx[k], dW[k], dh, h[k], c[k], g[k], Wh,
                                     work, T, B, H, reverse,
                                     TR_ACT_HARD_SIGMOID, l);
            }
            free(dh); free(work);
        }
        for (int k = 1; k < 3; k++) {
            CU_ASSERT(same_bits(h[0], h[k], N));
            CU_ASSERT(same_bits(c[0], c[k], N));
            CU_ASSERT(same_bits(g[0], g[k], NG));
            CU_ASSERT(same_bits(dx[0], dx[k], NG));
            CU_ASSERT(same_bits(dW[0], dW[k], HG));
        }
        float *hb = falloc(N), *cb = falloc(N), *gb = falloc(BG);
        int ok = 1;
        for (int st = 0; st < T; st++) {
            const int t = reverse ? T - 1 - st : st,
                      tp = reverse ? t + 1 : t - 1;
            tr_lstm_cell_forward(hb + t * BH, cb + t * BH, gb, xw + t * BG,
                                 st ? hb + tp * BH : NULL,
                                 st ? cb + tp * BH : NULL, Wh, B, H,
                                 TR_ACT_HARD_SIGMOID);
            ok &= same_bits(gb, g[0] + t * BG, BG);
        }
        CU_ASSERT(ok && same_bits(hb, h[0], N) && same_bits(cb, c[0], N));
        free(hb); free(cb); free(gb);
        for (int k = 0; k < 3; k++) {
            free(h[k]); free(c[k]); free(g[k]); free(dx[k]); free(dW[k]);
        }
        free(xw); free(Wh); free(R);
    }
}

/* ================================================================== GRU */

typedef struct {
    int T, B, H;
    const int32_t *len;
    float *xw, *h0, *Wh, *bh, *h_seq, *gates, *hn, *R;
} gru_ctx;

static double gru_loss(void *p)
{
    gru_ctx *s = p;
    tr_gru_forward_len(s->h_seq, s->gates, s->hn, s->xw, s->h0, s->Wh, s->bh,
                       s->T, s->B, s->H, s->len);
    return dotd(s->h_seq, s->R, s->T * s->B * s->H);
}

/* as lstm_vs_alone, with and without h0; dh0 of each sample equals its
 * own (0 for a sample of length 0: h_seq does not depend on its h0) */
static void gru_vs_alone(int with_h0, const int32_t *len, int T, int B,
                         uint64_t seed)
{
    rng_seed(seed);
    const int H = 4, G = 3 * H, BH = B * H, BG = B * G, N = T * BH,
              NG = T * BG, HG = H * G;
    float *xw = frand(NG, -1.5f, 1.5f), *Wh = frand(HG, -0.5f, 0.5f),
          *bh = frand(G, -0.5f, 0.5f), *R = frand(N, -1, 1),
          *h0 = with_h0 ? frand(BH, -1, 1) : NULL;
    float *h = frand(N, -9, 9), *g = frand(NG, -9, 9), *hn = frand(N, -9, 9);
    float *dxw = frand(NG, -9, 9), *dh0 = falloc(BH), *dWh = falloc(HG),
          *dbh = falloc(G), *dh = fdup(R, N), *work = frand(BG, -9, 9);
    tr_gru_forward_len(h, g, hn, xw, h0, Wh, bh, T, B, H, len);
    tr_gru_backward_len(dxw, dh0, dWh, dbh, dh, h, g, hn, h0, Wh, work, T, B,
                        H, len);

    float *xa = falloc(T * G), *ha = falloc(T * H), *ga = falloc(T * G),
          *hna = falloc(T * H), *dxa = falloc(T * G), *dha = falloc(T * H),
          *wa = falloc(G), *dh0a = falloc(H), *dWsum = falloc(HG),
          *dbsum = falloc(G);
    double ef = 0.0, eb = 0.0;
    int bitwise = 1, pad_zero = 1;
    for (int b = 0; b < B; b++) {
        const int L = len[b];
        for (int t = L; t < T; t++)
            pad_zero &= all_zero(row(h, t, b, B, H), H) &&
                        all_zero(row(g, t, b, B, G), G) &&
                        all_zero(row(hn, t, b, B, H), H) &&
                        all_zero(row(dxw, t, b, B, G), G);
        if (L == 0) {
            pad_zero &= all_zero(dh0 + b * H, H);
            continue;
        }
        for (int t = 0; t < L; t++) {
            memcpy(xa + t * G, row(xw, t, b, B, G), (size_t)G * sizeof(float));
            memcpy(dha + t * H, row(R, t, b, B, H), (size_t)H * sizeof(float));
        }
        const float *h0b = h0 ? h0 + b * H : NULL;
        memset(dh0a, 0, (size_t)H * sizeof *dh0a);
        tr_gru_forward(ha, ga, hna, xa, h0b, Wh, bh, L, 1, H);
        tr_gru_backward(dxa, dh0a, dWsum, dbsum, dha, ha, ga, hna, h0b, Wh, wa,
                        L, 1, H);
        for (int t = 0; t < L; t++) {
            const double e[2] = {rel_diff(row(h, t, b, B, H), ha + t * H, H),
                                 rel_diff(row(g, t, b, B, G), ga + t * G, G)};
            ef = e[0] > ef ? e[0] : ef;
            ef = e[1] > ef ? e[1] : ef;
            const double d = rel_diff(row(dxw, t, b, B, G), dxa + t * G, G);
            eb = d > eb ? d : eb;
            bitwise &= same_bits(row(h, t, b, B, H), ha + t * H, H) &&
                       same_bits(row(dxw, t, b, B, G), dxa + t * G, G);
        }
        if (h0) {
            const double d = rel_diff(dh0 + b * H, dh0a, H);
            eb = d > eb ? d : eb;
        }
    }
    const double ew = rel_diff(dWh, dWsum, HG), ebh = rel_diff(dbh, dbsum, G);
    printf("\n      gru T=%d B=%d%s: vs alone fwd %.1e, dxw/dh0 %.1e, dWh %.1e,"
           " dbh %.1e%s", T, B, h0 ? "" : " h0 NULL", ef, eb, ew, ebh,
           bitwise ? " (h, dxw bitwise)" : "");
    CU_ASSERT(pad_zero);
    CU_ASSERT(ef <= ALONE_TOL);
    CU_ASSERT(eb <= ALONE_TOL);
    CU_ASSERT(ew <= 1e-5 && ebh <= 1e-5);
    CU_ASSERT(max_abs(dWh, HG) > 0.01);
    free(xw); free(Wh); free(bh); free(R); free(h0); free(h); free(g);
    free(hn); free(dxw); free(dh0); free(dWh); free(dbh); free(dh);
    free(work); free(xa); free(ha); free(ga); free(hna); free(dxa); free(dha);
    free(wa); free(dh0a); free(dWsum); free(dbsum);
}

static void test_gru_alone_h0(void) { gru_vs_alone(1, LEN7, 7, 5, 40); }
static void test_gru_alone_noh0(void) { gru_vs_alone(0, LEN7, 7, 5, 41); }
static void test_gru_alone_short(void) { gru_vs_alone(1, LEN_SHORT, 6, 4, 42); }

/* finite differences of dxw, dWh, dbh and dh0 with lengths 1..T */
static void gru_len_grad(int with_h0, uint64_t seed)
{
    static const int32_t len[4] = {5, 1, 3, 5};
    rng_seed(seed);
    gru_ctx s = {.T = 5, .B = 4, .H = 3, .len = len};
    const int BH = s.B * s.H, G = 3 * s.H, BG = s.B * G, N = s.T * BH,
              NG = s.T * BG, HG = s.H * G;
    const float wr = 1.2f / sqrtf((float)s.H);
    s.xw = frand(NG, -1.5f, 1.5f);
    s.Wh = frand(HG, -wr, wr);
    s.bh = frand(G, -0.5f, 0.5f);
    s.h0 = with_h0 ? frand(BH, -1, 1) : NULL;
    s.h_seq = falloc(N);
    s.gates = falloc(NG);
    s.hn = falloc(N);
    s.R = frand(N, -1, 1);
    float *dxw = frand(NG, -9, 9), *dh0 = falloc(BH), *dWh = falloc(HG),
          *dbh = falloc(G), *dh = fdup(s.R, N), *work = frand(BG, -9, 9);
    const char *tag = with_h0 ? "" : ", h0 NULL";
    char what[96];
    gru_loss(&s);
    tr_gru_backward_len(dxw, dh0, dWh, dbh, dh, s.h_seq, s.gates, s.hn, s.h0,
                        s.Wh, work, s.T, s.B, s.H, len);
    snprintf(what, sizeof what, "gru_len dxw%s", tag);
    GRAD_OK(what, gru_loss, &s, s.xw, dxw, NG, GC_H_SEQ);
    snprintf(what, sizeof what, "gru_len dWh%s", tag);
    GRAD_OK(what, gru_loss, &s, s.Wh, dWh, HG, GC_H_SEQ);
    snprintf(what, sizeof what, "gru_len dbh%s", tag);
    GRAD_OK(what, gru_loss, &s, s.bh, dbh, G, GC_H_SEQ);
    for (int t = 0; t < s.T; t++) {
        snprintf(what, sizeof what, "gru_len dxw[t=%d, len 1]%s", t, tag);
        GRAD_OK(what, gru_loss, &s, row(s.xw, t, 1, s.B, G),
                row(dxw, t, 1, s.B, G), G, GC_H_SEQ);
    }
    if (with_h0) {
        GRAD_OK("gru_len dh0", gru_loss, &s, s.h0, dh0, BH, GC_H_SEQ);
        CU_ASSERT(max_abs(dh0, BH) > 0.01);
    } else {
        CU_ASSERT(all_zero(dh0, BH));
    }
    CU_ASSERT(max_abs(dWh, HG) > 0.01 && max_abs(dbh, G) > 0.01);

    /* the per-step dWh (dxw NULL) agrees; dbh, dh0 the same bits */
    float *dh0b = falloc(BH), *dWhb = falloc(HG), *dbhb = falloc(G);
    memcpy(dh, s.R, (size_t)N * sizeof *dh);
    tr_gru_backward_len(NULL, dh0b, dWhb, dbhb, dh, s.h_seq, s.gates, s.hn,
                        s.h0, s.Wh, work, s.T, s.B, s.H, len);
    CU_ASSERT(rel_diff(dWhb, dWh, HG) <= 1e-5);
    CU_ASSERT(same_bits(dbhb, dbh, G) && same_bits(dh0b, dh0, BH));
    free(s.xw); free(s.Wh); free(s.bh); free(s.h0); free(s.h_seq);
    free(s.gates); free(s.hn); free(s.R); free(dxw); free(dh0); free(dWh);
    free(dbh); free(dh); free(work); free(dh0b); free(dWhb); free(dbhb);
}

/* (seed 50 drew two dh0 entries of 3e-4, where the central difference's
 * float noise, ~1e-5, is 3% of them) */
static void test_gru_grad_h0(void) { gru_len_grad(1, 52); }
static void test_gru_grad_noh0(void) { gru_len_grad(0, 51); }

/* NULL lengths and lengths all T: the bits of tr_gru_forward/backward */
static void test_gru_null_lengths(void)
{
    rng_seed(60);
    enum { T = 5, B = 3, H = 4, BH = B * H, BG = 3 * BH, N = T * BH,
           NG = T * BG, HG = 3 * H * H };
    static const int32_t full[B] = {T, T, T};
    float *xw = frand(NG, -1.5f, 1.5f), *Wh = frand(HG, -0.5f, 0.5f),
          *bh = frand(3 * H, -0.5f, 0.5f), *h0 = frand(BH, -1, 1),
          *R = frand(N, -1, 1);
    float *h[3], *g[3], *hn[3], *dx[3], *dh0[3], *dW[3], *db[3];
    for (int k = 0; k < 3; k++) {
        h[k] = falloc(N);
        g[k] = falloc(NG);
        hn[k] = falloc(N);
        dx[k] = falloc(NG);
        dh0[k] = falloc(BH);
        dW[k] = falloc(HG);
        db[k] = falloc(3 * H);
        float *dh = fdup(R, N), *work = falloc(BG);
        if (k == 0) {
            tr_gru_forward(h[k], g[k], hn[k], xw, h0, Wh, bh, T, B, H);
            tr_gru_backward(dx[k], dh0[k], dW[k], db[k], dh, h[k], g[k], hn[k],
                            h0, Wh, work, T, B, H);
        } else {
            const int32_t *l = k == 1 ? NULL : full;
            tr_gru_forward_len(h[k], g[k], hn[k], xw, h0, Wh, bh, T, B, H, l);
            tr_gru_backward_len(dx[k], dh0[k], dW[k], db[k], dh, h[k], g[k],
                                hn[k], h0, Wh, work, T, B, H, l);
        }
        free(dh); free(work);
    }
    for (int k = 1; k < 3; k++) {
        CU_ASSERT(same_bits(h[0], h[k], N) && same_bits(g[0], g[k], NG) &&
                  same_bits(hn[0], hn[k], N));
        CU_ASSERT(same_bits(dx[0], dx[k], NG) && same_bits(dh0[0], dh0[k], BH) &&
                  same_bits(dW[0], dW[k], HG) && same_bits(db[0], db[k], 3 * H));
    }
    for (int k = 0; k < 3; k++) {
        free(h[k]); free(g[k]); free(hn[k]); free(dx[k]); free(dh0[k]);
        free(dW[k]); free(db[k]);
    }
    free(xw); free(Wh); free(bh); free(h0); free(R);
}

/* ============================================================== softmax */

typedef struct {
    int outer, len, inner;
    const int32_t *lengths;
    float *x, *y, *R;
} sml_ctx;

static double sml_loss(void *p)
{
    sml_ctx *c = p;
    tr_softmax_len_forward(c->y, c->x, c->lengths, c->outer, c->len, c->inner);
    return dotd(c->y, c->R, c->outer * c->len * c->inner);
}

/* padding gets weight exactly 0 whatever x holds there (NaN, 1e30), valid
 * weights sum to 1 and equal the softmax of the valid part alone (bitwise);
 * a length of 0 gives zeros; dx is untouched at padding (NaN dy there);
 * finite differences; in place; backward accumulates */
static void softmax_len_case(int inner, uint64_t seed)
{
    static const int32_t lens[4] = {6, 2, 0, 1};
    rng_seed(seed);
    sml_ctx c = {.outer = 4, .len = 6, .inner = inner, .lengths = lens};
    const int blk = c.len * inner, n = c.outer * blk;
    c.x = frand(n, -3, 3);
    c.y = frand(n, -9, 9);
    c.R = frand(n, -1, 1);
    for (int o = 0; o < c.outer; o++)
        for (int i = lens[o] * inner; i < blk; i++) {
            c.x[o * blk + i] = i % 2 ? NAN : 1e30f;
            c.R[o * blk + i] = NAN; /* upstream garbage at the padding */
        }
    float *dx = falloc(n);
    sml_loss(&c);
    int zero = 1, sums = 1, alone = 1;
    for (int o = 0; o < c.outer; o++) {
        for (int i = lens[o] * inner; i < blk; i++)
            zero &= c.y[o * blk + i] == 0.0f;
        for (int j = 0; j < inner; j++) {
            double s = 0.0;
            for (int l = 0; l < lens[o]; l++)
                s += c.y[o * blk + l * inner + j];
            sums &= fabs(s - (lens[o] ? 1.0 : 0.0)) < 1e-6;
        }
        if (lens[o] > 0) {
            float ya[6 * 3];
            tr_softmax_forward(ya, c.x + o * blk, 1, lens[o], inner);
            alone &= same_bits(ya, c.y + o * blk, lens[o] * inner);
        }
    }
    CU_ASSERT(zero && sums && alone);

    tr_softmax_len_backward(dx, c.R, c.y, lens, c.outer, c.len, inner);
    int dz = 1;
    for (int o = 0; o < c.outer; o++)
        for (int i = lens[o] * inner; i < blk; i++)
            dz &= dx[o * blk + i] == 0.0f;
    CU_ASSERT(dz);
    /* finite differences need finite values: the padding is ignored, so
     * make it finite (nothing else changes) */
    for (int o = 0; o < c.outer; o++)
        for (int i = lens[o] * inner; i < blk; i++) {
            c.x[o * blk + i] = 0.5f;
            c.R[o * blk + i] = 0.7f;
        }
    char what[64];
    snprintf(what, sizeof what, "softmax_len dx (inner %d)", inner);
    GRAD_OK(what, sml_loss, &c, c.x, dx, n, GC_H);
    CU_ASSERT(max_abs(dx, n) > 0.01);
    float *once = fdup(dx, n);
    tr_softmax_len_backward(dx, c.R, c.y, lens, c.outer, c.len, inner);
    CU_ASSERT(is_double_of(once, dx, n));

    float *xi = fdup(c.x, n);
    tr_softmax_len_forward(xi, xi, lens, c.outer, c.len, inner);
    CU_ASSERT(same_bits(xi, c.y, n));
    free(c.x); free(c.y); free(c.R); free(dx); free(once); free(xi);
}

static void test_softmax_len_rows(void) { softmax_len_case(1, 70); }
static void test_softmax_len_inner(void) { softmax_len_case(3, 71); }

/* NULL lengths and lengths all len: the bits of tr_softmax_forward and
 * tr_softmax_backward */
static void test_softmax_null_lengths(void)
{
    rng_seed(72);
    enum { O = 3, L = 7, I = 2, n = O * L * I };
    static const int32_t full[O] = {L, L, L};
    float *x = frand(n, -3, 3), *dy = frand(n, -1, 1);
    float y[3][n], dx[3][n];
    memset(dx, 0, sizeof dx);
    tr_softmax_forward(y[0], x, O, L, I);
    tr_softmax_backward(dx[0], dy, y[0], O, L, I);
    tr_softmax_len_forward(y[1], x, NULL, O, L, I);
    tr_softmax_len_backward(dx[1], dy, y[1], NULL, O, L, I);
    tr_softmax_len_forward(y[2], x, full, O, L, I);
    tr_softmax_len_backward(dx[2], dy, y[2], full, O, L, I);
    for (int k = 1; k < 3; k++)
        CU_ASSERT(same_bits(y[0], y[k], n) && same_bits(dx[0], dx[k], n));
    free(x); free(dy);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"dropout keep rate and scale", test_dropout_keep_rate},
        {"dropout keys: same, different, pure", test_dropout_keys},
        {"dropout independent of row order", test_dropout_row_order},
        {"dropout p=0 identity, p=1, mask NULL", test_dropout_identity},
        {"dropout gradient (fixed mask)", test_dropout_grad},
        {"lstm lengths vs alone (forward)", test_lstm_alone_fwd},
        {"lstm lengths vs alone (reverse)", test_lstm_alone_rev},
        {"lstm lengths < T vs alone (forward)", test_lstm_alone_short_fwd},
        {"lstm lengths < T vs alone (reverse)", test_lstm_alone_short_rev},
        {"lstm lengths grad (forward, sigmoid)", test_lstm_grad_fwd},
        {"lstm lengths grad (reverse, sigmoid)", test_lstm_grad_rev},
        {"lstm lengths grad (forward, hard)", test_lstm_grad_fwd_hard},
        {"lstm lengths grad (reverse, hard)", test_lstm_grad_rev_hard},
        {"lstm NULL lengths = unmasked bits", test_lstm_null_lengths},
        {"gru lengths vs alone (h0)", test_gru_alone_h0},
        {"gru lengths vs alone (h0 NULL)", test_gru_alone_noh0},
        {"gru lengths < T vs alone", test_gru_alone_short},
        {"gru lengths grad (h0)", test_gru_grad_h0},
        {"gru lengths grad (h0 NULL)", test_gru_grad_noh0},
        {"gru NULL lengths = unmasked bits", test_gru_null_lengths},
        {"softmax lengths (rows)", test_softmax_len_rows},
        {"softmax lengths (middle axis)", test_softmax_len_inner},
        {"softmax NULL lengths = unmasked bits", test_softmax_null_lengths},
        {NULL, NULL},
    };
    return tr_test_run("masks", cases);
}

/* tests/test_gru.c - the GRU layer (trainer/layers.h, core/layers/gru.c): forward
 * values by hand and against a double-precision reference, backward against
 * a double-precision reference BPTT and central finite differences, and the
 * buffer contracts (what accumulates, what is overwritten, NULLs).
 *
 * Gradient checks: L = sum(h .* R) for a random R (summed in double from the
 * float outputs); the analytic gradient from backward; the central
 * difference (L(x+h) - L(x-h)) / 2h for up to GC_SAMPLES entries of every
 * input and parameter tensor, as tests/test_layers.c. */
#include "trainer/layers.h"
#include "tr_check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_TOL 1e-4   /* float vs double reference, relative to the max */

/* max |got - want| / max |want| (the float result against the double
 * reference), printed */
static double ref_err(const char *what, const float *got, const double *want,
                      int n)
{
    double m = 0.0, e = 0.0;
    for (int i = 0; i < n; i++) {
        m = fabs(want[i]) > m ? fabs(want[i]) : m;
        double d = fabs((double)got[i] - want[i]);
        e = d > e ? d : e;
    }
    e /= m > 1e-6 ? m : 1e-6;
    printf("\n      %-38s vs double  err %.2e", what, e);
    return e;
}

/* ---- the gradient checker (tr_check.h) */

#define GRAD_OK(what, f, ctx, x, g, n, h)                                     \
    CU_ASSERT(grad_check_h((what), (f), (ctx), (x), (g), (n), (h)) < GC_TOL)

/* ---- double-precision reference, written from the formulas in layers.h
 * (plain loops, no BLAS, no shared code with core/layers/gru.c) */

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* h_seq[T,B,H], z, r, n, a_n [T,B,H] */
static void ref_forward(double *h_seq, double *z, double *r, double *n,
                        double *an, const float *xw, const float *h0,
                        const float *Wh, const float *bh, int T, int B, int H)
{
    const int G = 3 * H;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int u = 0; u < H; u++) {
                double a[3];
                for (int k = 0; k < 3; k++) {
                    a[k] = bh[k * H + u];
                    for (int i = 0; i < H; i++) {
                        double hp = t ? h_seq[((t - 1) * B + b) * H + i]
                                      : (h0 ? h0[b * H + i] : 0.0);
                        a[k] += hp * Wh[i * G + k * H + u];
                    }
                }
                const float *x = xw + (t * B + b) * G;
                const int o = (t * B + b) * H + u;
                double hp = t ? h_seq[((t - 1) * B + b) * H + u]
                              : (h0 ? h0[b * H + u] : 0.0);
                z[o] = sigm(x[u] + a[0]);
                r[o] = sigm(x[H + u] + a[1]);
                an[o] = a[2];
                n[o] = tanh(x[2 * H + u] + r[o] * a[2]);
                h_seq[o] = (1.0 - z[o]) * n[o] + z[o] * hp;
            }
}

/* BPTT for L = sum(h_seq .* R): dxw[T,B,3H], dh0[B,H], dWh[H,3H], dbh[3H]
 * (all set, not accumulated) */
static void ref_backward(double *dxw, double *dh0, double *dWh, double *dbh,
                         const float *R, const float *xw, const float *h0,
                         const float *Wh, const float *bh, int T, int B, int H)
{
    const int N = T * B * H, G = 3 * H;
    double *hs = dalloc(N), *z = dalloc(N), *r = dalloc(N), *n = dalloc(N),
           *an = dalloc(N), *dh = dalloc(B * H), *dnext = dalloc(B * H);
    ref_forward(hs, z, r, n, an, xw, h0, Wh, bh, T, B, H);
    memset(dWh, 0, sizeof(double) * (size_t)(H * G));
    memset(dbh, 0, sizeof(double) * (size_t)G);
    memset(dh0, 0, sizeof(double) * (size_t)(B * H));
    for (int t = T - 1; t >= 0; t--) {
        for (int i = 0; i < B * H; i++) /* dnext: from step t+1 */
            dh[i] = R[t * B * H + i] + dnext[i];
        memset(dnext, 0, sizeof(double) * (size_t)(B * H));
        for (int b = 0; b < B; b++)
            for (int u = 0; u < H; u++) {
                const int o = (t * B + b) * H + u;
                double hp = t ? hs[((t - 1) * B + b) * H + u]
                              : (h0 ? h0[b * H + u] : 0.0);
                double g = dh[b * H + u];
                double dn = g * (1.0 - z[o]) * (1.0 - n[o] * n[o]);
                double dz = g * (hp - n[o]) * z[o] * (1.0 - z[o]);
                double dr = dn * an[o] * r[o] * (1.0 - r[o]);
                double da[3] = {dz, dr, dn * r[o]};
                double *dx = dxw + (t * B + b) * G;
                dx[u] = dz;
                dx[H + u] = dr;
                dx[2 * H + u] = dn;
                dnext[b * H + u] += g * z[o];
                for (int k = 0; k < 3; k++) {
                    dbh[k * H + u] += da[k];
                    for (int i = 0; i < H; i++) {
                        double hpi = t ? hs[((t - 1) * B + b) * H + i]
                                       : (h0 ? h0[b * H + i] : 0.0);
                        dWh[i * G + k * H + u] += hpi * da[k];
                        dnext[b * H + i] += da[k] * Wh[i * G + k * H + u];
                    }
                }
            }
    }
    if (h0)
        memcpy(dh0, dnext, sizeof(double) * (size_t)(B * H));
    free(hs); free(z); free(r); free(n); free(an); free(dh); free(dnext);
}

/* ============================================================ cell values */

static void test_gru_cell_values(void)
{
    /* H = 1, B = 1: Wh = [wz wr wn], bh = [bz br bn] */
    const float Wh[3] = {0.5f, -1.0f, 2.0f}, bh[3] = {0.1f, 0.2f, -0.3f};
    const float xw[3] = {0.3f, 0.4f, 0.5f}, hp = 0.8f;
    float h, g[3], hn;
    tr_gru_cell_forward(&h, g, &hn, xw, &hp, Wh, bh, 1, 1);
    /* z = s(0.3 + 0.8*0.5 + 0.1) = s(0.8); r = s(0.4 - 0.8 + 0.2) = s(-0.2);
     * hn = 0.8*2 - 0.3 = 1.3; n = tanh(0.5 + r*1.3) (reset after: r scales
     * h.Wh_n + bh_n); h = (1 - z) n + z*0.8 */
    CU_ASSERT_DOUBLE_EQUAL(g[0], 0.6899744811276125, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(g[1], 0.45016600268752216, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(g[2], 0.7951253140201493, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(hn, 1.3, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(h, 0.7984887229497568, 1e-6);

    /* no h_prev: a = bh only, h = (1 - z) n */
    tr_gru_cell_forward(&h, g, &hn, xw, NULL, Wh, bh, 1, 1);
    CU_ASSERT_DOUBLE_EQUAL(g[0], 0.598687660112452, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(g[1], 0.6456563062257954, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(g[2], 0.2970701715448572, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(hn, -0.3, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(h, 0.11921792565346193, 1e-6);
}

/* B = 3, H = 5, one step and a sequence against the double reference; the
 * gate blocks z, r, n of the cache; gates == xw (in place) gives the same */
static void test_gru_forward_reference(void)
{
    rng_seed(101);
    const int T = 4, B = 3, H = 5, BH = B * H, G = 3 * H, N = T * BH,
              NG = 3 * N;
    float *xw = frand(NG, -1.5f, 1.5f), *h0 = frand(BH, -1, 1),
          *Wh = frand(H * G, -0.6f, 0.6f), *bh = frand(G, -0.5f, 0.5f);
    float *h = falloc(N), *gates = falloc(NG), *hn = falloc(N);
    double *rh = dalloc(N), *rz = dalloc(N), *rr = dalloc(N), *rn = dalloc(N),
           *ra = dalloc(N);
    for (int with_h0 = 0; with_h0 < 2; with_h0++) {
        const float *h0p = with_h0 ? h0 : NULL;
        tr_gru_forward(h, gates, hn, xw, h0p, Wh, bh, T, B, H);
        ref_forward(rh, rz, rr, rn, ra, xw, h0p, Wh, bh, T, B, H);
        double e = 0.0;
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++)
                for (int u = 0; u < H; u++) {
                    int o = (t * B + b) * H + u;
                    const float *g = gates + (t * B + b) * G;
                    double d[5] = {h[o] - rh[o], g[u] - rz[o],
                                   g[H + u] - rr[o], g[2 * H + u] - rn[o],
                                   (hn[o] - ra[o]) / (1.0 + fabs(ra[o]))};
                    for (int k = 0; k < 5; k++)
                        e = fabs(d[k]) > e ? fabs(d[k]) : e;
                }
        printf("\n      forward vs double (h0 %s): max abs err %.2e",
               with_h0 ? "given" : "NULL", e);
        CU_ASSERT(e < 1e-5);
        CU_ASSERT(max_abs(h, N) > 0.1);

        /* the sequence is the chain of cells; in place gives the same bits */
        float *hc = falloc(N), *gc = fdup(xw, NG), *hnc = falloc(N);
        for (int t = 0; t < T; t++)
            tr_gru_cell_forward(hc + t * BH, gc + t * 3 * BH, hnc + t * BH,
                                gc + t * 3 * BH, t ? hc + (t - 1) * BH : h0p,
                                Wh, bh, B, H);
        CU_ASSERT(memcmp(hc, h, (size_t)N * sizeof *h) == 0);
        CU_ASSERT(memcmp(gc, gates, (size_t)NG * sizeof *h) == 0);
        CU_ASSERT(memcmp(hnc, hn, (size_t)N * sizeof *h) == 0);
        memcpy(gc, xw, (size_t)NG * sizeof *gc);
        tr_gru_forward(hc, gc, hnc, gc, h0p, Wh, bh, T, B, H);
        CU_ASSERT(memcmp(hc, h, (size_t)N * sizeof *h) == 0);
        CU_ASSERT(memcmp(gc, gates, (size_t)NG * sizeof *h) == 0);
        free(hc); free(gc); free(hnc);
    }
    free(xw); free(h0); free(Wh); free(bh); free(h); free(gates); free(hn);
    free(rh); free(rz); free(rr); free(rn); free(ra);
}

/* ========================================================= cell gradients */

typedef struct {
    int B, H;
    float *xw, *hp, *Wh, *bh; /* hp may be NULL */
    float *h, *gates, *hn, *R;
} cell_ctx;

static double cell_loss(void *p)
{
    cell_ctx *k = p;
    tr_gru_cell_forward(k->h, k->gates, k->hn, k->xw, k->hp, k->Wh, k->bh,
                        k->B, k->H);
    return dotd(k->h, k->R, k->B * k->H);
}

static void gru_cell_grad(int with_prev)
{
    rng_seed(200 + (uint64_t)with_prev);
    cell_ctx k = {.B = 3, .H = 4};
    const int BH = k.B * k.H, G = 3 * k.H, BG = k.B * G, HG = k.H * G;
    k.xw = frand(BG, -1.5f, 1.5f);
    k.Wh = frand(HG, -0.5f, 0.5f);
    k.bh = frand(G, -0.5f, 0.5f);
    k.hp = with_prev ? frand(BH, -1, 1) : NULL;
    k.h = falloc(BH);
    k.gates = falloc(BG);
    k.hn = falloc(BH);
    k.R = frand(BH, -1, 1);
    float *dxw = falloc(BG), *dhp = falloc(BH), *dWh = falloc(HG),
          *dbh = falloc(G), *work = frand(BG, -9, 9);
    const char *pn = with_prev ? "" : ", h_prev NULL";
    char what[96];

    cell_loss(&k);
    tr_gru_cell_backward(dxw, dhp, dWh, dbh, k.R, k.gates, k.hn, k.hp, k.Wh,
                         work, k.B, k.H);

    /* against the double reference (one step, h0 = h_prev) */
    double *rdx = dalloc(BG), *rdh = dalloc(BH), *rdW = dalloc(HG),
           *rdb = dalloc(G);
    ref_backward(rdx, rdh, rdW, rdb, k.R, k.xw, k.hp, k.Wh, k.bh, 1, k.B, k.H);
    snprintf(what, sizeof what, "gru cell dxw%s", pn);
    CU_ASSERT(ref_err(what, dxw, rdx, BG) < REF_TOL);
    snprintf(what, sizeof what, "gru cell dbh%s", pn);
    CU_ASSERT(ref_err(what, dbh, rdb, G) < REF_TOL);
    if (with_prev) {
        CU_ASSERT(ref_err("gru cell dh_prev", dhp, rdh, BH) < REF_TOL);
        CU_ASSERT(ref_err("gru cell dWh", dWh, rdW, HG) < REF_TOL);
    }

    snprintf(what, sizeof what, "gru cell dxw FD%s", pn);
    GRAD_OK(what, cell_loss, &k, k.xw, dxw, BG, GC_H);
    snprintf(what, sizeof what, "gru cell dbh FD%s", pn);
    GRAD_OK(what, cell_loss, &k, k.bh, dbh, G, GC_H);
    CU_ASSERT(max_abs(dxw, BG) > 0.01);
    CU_ASSERT(max_abs(dbh, G) > 0.01);
    if (with_prev) {
        GRAD_OK("gru cell dh_prev FD", cell_loss, &k, k.hp, dhp, BH, GC_H);
        GRAD_OK("gru cell dWh FD", cell_loss, &k, k.Wh, dWh, HG, GC_H);
        CU_ASSERT(max_abs(dhp, BH) > 0.01);
        CU_ASSERT(max_abs(dWh, HG) > 0.01);
    } else {
        /* h_prev = 0: Wh has no effect, dh_prev is skipped */
        CU_ASSERT(all_zero(dWh, HG));
        CU_ASSERT(all_zero(dhp, BH));
        GRAD_OK("gru cell dWh FD, h_prev NULL", cell_loss, &k, k.Wh, dWh, HG,
                GC_H);
    }

    /* everything accumulates (dxw too, for the cell); work is scratch */
    float *o_dxw = fdup(dxw, BG), *o_dhp = fdup(dhp, BH),
          *o_dWh = fdup(dWh, HG), *o_dbh = fdup(dbh, G);
    fill(work, BG, -9, 9);
    tr_gru_cell_backward(dxw, dhp, dWh, dbh, k.R, k.gates, k.hn, k.hp, k.Wh,
                         work, k.B, k.H);
    CU_ASSERT(is_double_of(o_dxw, dxw, BG));
    CU_ASSERT(is_double_of(o_dhp, dhp, BH));
    CU_ASSERT(is_double_of(o_dWh, dWh, HG));
    CU_ASSERT(is_double_of(o_dbh, dbh, G));

    /* NULL d* are skipped; the others are the same */
    float *dxw2 = falloc(BG);
    tr_gru_cell_backward(dxw2, NULL, NULL, NULL, k.R, k.gates, k.hn, k.hp,
                         k.Wh, work, k.B, k.H);
    CU_ASSERT(memcmp(dxw2, o_dxw, (size_t)BG * sizeof *dxw2) == 0);

    free(k.xw); free(k.Wh); free(k.bh); free(k.hp); free(k.h); free(k.gates);
    free(k.hn); free(k.R); free(dxw); free(dhp); free(dWh); free(dbh);
    free(work); free(rdx); free(rdh); free(rdW); free(rdb); free(o_dxw);
    free(o_dhp); free(o_dWh); free(o_dbh); free(dxw2);
}

static void test_gru_cell_grad(void) { gru_cell_grad(1); }
static void test_gru_cell_grad_null(void) { gru_cell_grad(0); }

/* ===================================================== sequence gradients */

typedef struct {
    int T, B, H;
    float *xw, *h0, *Wh, *bh; /* h0 may be NULL */
    float *h_seq, *gates, *hn, *R;
} seq_ctx;

static double seq_loss(void *p)
{
    seq_ctx *s = p;
    tr_gru_forward(s->h_seq, s->gates, s->hn, s->xw, s->h0, s->Wh, s->bh,
                   s->T, s->B, s->H);
    return dotd(s->h_seq, s->R, s->T * s->B * s->H);
}

static void gru_seq_grad(int T, int B, int H, int with_h0, uint64_t seed)
{
    rng_seed(seed);
    seq_ctx s = {.T = T, .B = B, .H = H};
    const int BH = B * H, G = 3 * H, BG = B * G, N = T * BH, NG = T * BG,
              HG = H * G;
    const float wr = 1.2f / sqrtf((float)H);
    s.xw = frand(NG, -1.5f, 1.5f);
    s.Wh = frand(HG, -wr, wr);
    s.bh = frand(G, -0.5f, 0.5f);
    s.h0 = with_h0 ? frand(BH, -1, 1) : NULL;
    s.h_seq = falloc(N);
    s.gates = falloc(NG);
    s.hn = falloc(N);
    s.R = frand(N, -1, 1);
    /* dxw is overwritten: start it with garbage; work is scratch */
    float *dxw = frand(NG, -9, 9), *dh0 = falloc(BH), *dWh = falloc(HG),
          *dbh = falloc(G), *dh = fdup(s.R, N), *work = frand(BG, -9, 9);
    char tag[48], what[96];
    snprintf(tag, sizeof tag, "T=%d B=%d H=%d%s", T, B, H,
             with_h0 ? "" : " h0 NULL");

    seq_loss(&s);
    tr_gru_backward(dxw, dh0, dWh, dbh, dh, s.h_seq, s.gates, s.hn, s.h0,
                    s.Wh, work, T, B, H);

    double *rdx = dalloc(NG), *rdh = dalloc(BH), *rdW = dalloc(HG),
           *rdb = dalloc(G);
    ref_backward(rdx, rdh, rdW, rdb, s.R, s.xw, s.h0, s.Wh, s.bh, T, B, H);
    snprintf(what, sizeof what, "dxw %s", tag);
    CU_ASSERT(ref_err(what, dxw, rdx, NG) < REF_TOL);
    snprintf(what, sizeof what, "dWh %s", tag);
    if (T > 1 || with_h0)
        CU_ASSERT(ref_err(what, dWh, rdW, HG) < REF_TOL);
    snprintf(what, sizeof what, "dbh %s", tag);
    CU_ASSERT(ref_err(what, dbh, rdb, G) < REF_TOL);
    if (with_h0) {
        snprintf(what, sizeof what, "dh0 %s", tag);
        CU_ASSERT(ref_err(what, dh0, rdh, BH) < REF_TOL);
    } else {
        CU_ASSERT(all_zero(dh0, BH)); /* skipped without h0 */
    }
    if (T == 1 && !with_h0)
        CU_ASSERT(all_zero(dWh, HG)); /* h_prev is zero at every step */

    snprintf(what, sizeof what, "dxw FD %s", tag);
    GRAD_OK(what, seq_loss, &s, s.xw, dxw, NG, GC_H_SEQ);
    snprintf(what, sizeof what, "dWh FD %s", tag);
    GRAD_OK(what, seq_loss, &s, s.Wh, dWh, HG, GC_H_SEQ);
    snprintf(what, sizeof what, "dbh FD %s", tag);
    GRAD_OK(what, seq_loss, &s, s.bh, dbh, G, GC_H_SEQ);
    if (with_h0) {
        snprintf(what, sizeof what, "dh0 FD %s", tag);
        GRAD_OK(what, seq_loss, &s, s.h0, dh0, BH, GC_H_SEQ);
        CU_ASSERT(max_abs(dh0, BH) > 0.01);
    }
    CU_ASSERT(max_abs(dxw, NG) > 0.01);
    CU_ASSERT(max_abs(dbh, G) > 0.01);
    if (T > 1 || with_h0)
        CU_ASSERT(max_abs(dWh, HG) > 0.01);

    /* without dxw, dWh is summed step by step: the same within rounding */
    float *dh0b = falloc(BH), *dWhb = falloc(HG), *dbhb = falloc(G);
    memcpy(dh, s.R, (size_t)N * sizeof *dh);
    tr_gru_backward(NULL, dh0b, dWhb, dbhb, dh, s.h_seq, s.gates, s.hn, s.h0,
                    s.Wh, work, T, B, H);
    int same = 1;
    for (int i = 0; i < HG; i++)
        same &= fabs(dWhb[i] - dWh[i]) <= 1e-5 * (1.0 + fabs(dWh[i]));
    CU_ASSERT(same);
    CU_ASSERT(memcmp(dbhb, dbh, (size_t)G * sizeof *dbh) == 0);
    CU_ASSERT(memcmp(dh0b, dh0, (size_t)BH * sizeof *dh0) == 0);

    free(s.xw); free(s.Wh); free(s.bh); free(s.h0); free(s.h_seq);
    free(s.gates); free(s.hn); free(s.R); free(dxw); free(dh0); free(dWh);
    free(dbh); free(dh); free(work); free(rdx); free(rdh); free(rdW);
    free(rdb); free(dh0b); free(dWhb); free(dbhb);
}

static void test_gru_seq_small(void) { gru_seq_grad(5, 2, 3, 1, 300); }
static void test_gru_seq_small_noh0(void) { gru_seq_grad(5, 2, 3, 0, 301); }
static void test_gru_seq_b9(void) { gru_seq_grad(4, 9, 5, 1, 302); } /* B % 8 */
static void test_gru_seq_wide(void) { gru_seq_grad(3, 3, 17, 1, 303); }
static void test_gru_seq_b1(void) { gru_seq_grad(7, 1, 8, 0, 304); }
static void test_gru_seq_t1(void) { gru_seq_grad(1, 3, 4, 1, 305); }
static void test_gru_seq_t1_noh0(void) { gru_seq_grad(1, 5, 4, 0, 306); }

/* dWh, dbh, dh0 accumulate; dxw is overwritten (the same bits whatever it
 * held); dh_seq and work are scratch (reloaded / garbage between calls) */
static void test_gru_seq_accumulate(void)
{
    rng_seed(400);
    const int T = 6, B = 3, H = 4, BH = B * H, G = 3 * H, BG = B * G,
              N = T * BH, NG = T * BG, HG = H * G;
    float *xw = frand(NG, -1.5f, 1.5f), *h0 = frand(BH, -1, 1),
          *Wh = frand(HG, -0.5f, 0.5f), *bh = frand(G, -0.5f, 0.5f),
          *R = frand(N, -1, 1);
    float *h = falloc(N), *gates = falloc(NG), *hn = falloc(N);
    float *dxw = frand(NG, -9, 9), *dh0 = falloc(BH), *dWh = falloc(HG),
          *dbh = falloc(G), *dh = fdup(R, N), *work = frand(BG, -9, 9);
    tr_gru_forward(h, gates, hn, xw, h0, Wh, bh, T, B, H);
    tr_gru_backward(dxw, dh0, dWh, dbh, dh, h, gates, hn, h0, Wh, work, T, B,
                    H);
    float *o_dxw = fdup(dxw, NG), *o_dh0 = fdup(dh0, BH),
          *o_dWh = fdup(dWh, HG), *o_dbh = fdup(dbh, G);
    CU_ASSERT(max_abs(dh0, BH) > 0.01 && max_abs(dWh, HG) > 0.01 &&
              max_abs(dbh, G) > 0.01);
    memcpy(dh, R, (size_t)N * sizeof *dh);
    fill(dxw, NG, -9, 9);
    fill(work, BG, -9, 9);
    tr_gru_backward(dxw, dh0, dWh, dbh, dh, h, gates, hn, h0, Wh, work, T, B,
                    H);
    CU_ASSERT(memcmp(o_dxw, dxw, (size_t)NG * sizeof *dxw) == 0);
    CU_ASSERT(is_double_of(o_dh0, dh0, BH));
    CU_ASSERT(is_double_of(o_dWh, dWh, HG));
    CU_ASSERT(is_double_of(o_dbh, dbh, G));

    /* NULL d* are skipped, the rest unchanged */
    memcpy(dh, R, (size_t)N * sizeof *dh);
    fill(dxw, NG, -9, 9);
    tr_gru_backward(dxw, NULL, NULL, NULL, dh, h, gates, hn, h0, Wh, work, T,
                    B, H);
    CU_ASSERT(memcmp(o_dxw, dxw, (size_t)NG * sizeof *dxw) == 0);

    free(xw); free(h0); free(Wh); free(bh); free(R); free(h); free(gates);
    free(hn); free(dxw); free(dh0); free(dWh); free(dbh); free(dh);
    free(work); free(o_dxw); free(o_dh0); free(o_dWh); free(o_dbh);
}

/* T = 1, h0 = NULL: h = (1 - z) n from xw and bh alone; dWh untouched, dh0
 * untouched, dxw and dbh right (by hand, H = 1) */
static void test_gru_t1_null_h0(void)
{
    const float Wh[3] = {0.5f, -1.0f, 2.0f}, bh[3] = {0.1f, 0.2f, -0.3f};
    const float xw[3] = {0.3f, 0.4f, 0.5f};
    float h, g[3], hn, dxw[3] = {7, 7, 7}, dh0 = 5.0f, dWh[3] = {1, 2, 3},
                       dbh[3] = {1, 1, 1}, dh = 2.0f, work[3];
    tr_gru_forward(&h, g, &hn, xw, NULL, Wh, bh, 1, 1, 1);
    CU_ASSERT_DOUBLE_EQUAL(h, 0.11921792565346193, 1e-6);
    tr_gru_backward(dxw, &dh0, dWh, dbh, &dh, &h, g, &hn, NULL, Wh, work, 1,
                    1, 1);
    const double z = 0.598687660112452, r = 0.6456563062257954,
                 n = 0.2970701715448572;
    const double dn = 2.0 * (1 - z) * (1 - n * n), dz = 2.0 * (0 - n) * z * (1 - z),
                 dr = dn * -0.3 * r * (1 - r);
    CU_ASSERT_DOUBLE_EQUAL(dxw[0], dz, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dxw[1], dr, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dxw[2], dn, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dbh[0], 1.0 + dz, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dbh[1], 1.0 + dr, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dbh[2], 1.0 + dn * r, 1e-6);
    CU_ASSERT(dh0 == 5.0f);
    CU_ASSERT(dWh[0] == 1.0f && dWh[1] == 2.0f && dWh[2] == 3.0f);
}

/* the loss on the last step only: every earlier step's input gets gradient
 * through time (the recurrent dh_prev, incl. the z and r paths) */
static void test_gru_through_time(void)
{
    rng_seed(500);
    seq_ctx s = {.T = 6, .B = 2, .H = 3};
    const int BH = s.B * s.H, G = 3 * s.H, BG = s.B * G, N = s.T * BH,
              NG = s.T * BG, HG = s.H * G;
    s.xw = frand(NG, -1, 1);
    s.Wh = frand(HG, -0.8f, 0.8f);
    s.bh = frand(G, -0.5f, 0.5f);
    s.h0 = frand(BH, -1, 1);
    s.h_seq = falloc(N);
    s.gates = falloc(NG);
    s.hn = falloc(N);
    s.R = falloc(N);
    fill(s.R + (s.T - 1) * BH, BH, -1, 1);
    float *dxw = falloc(NG), *dh0 = falloc(BH), *dWh = falloc(HG),
          *dbh = falloc(G), *dh = fdup(s.R, N), *work = falloc(BG);
    seq_loss(&s);
    tr_gru_backward(dxw, dh0, dWh, dbh, dh, s.h_seq, s.gates, s.hn, s.h0,
                    s.Wh, work, s.T, s.B, s.H);
    for (int t = 0; t < s.T; t++)
        CU_ASSERT(max_abs(dxw + t * BG, BG) > 1e-4);
    char what[96];
    for (int t = 0; t < 3; t++) {
        snprintf(what, sizeof what, "dxw[t=%d] via time", t);
        GRAD_OK(what, seq_loss, &s, s.xw + t * BG, dxw + t * BG, BG, GC_H_SEQ);
    }
    GRAD_OK("dh0 via time", seq_loss, &s, s.h0, dh0, BH, GC_H_SEQ);
    free(s.xw); free(s.Wh); free(s.bh); free(s.h0); free(s.h_seq);
    free(s.gates); free(s.hn); free(s.R); free(dxw); free(dh0); free(dWh);
    free(dbh); free(dh); free(work);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"cell values by hand", test_gru_cell_values},
        {"forward vs double reference", test_gru_forward_reference},
        {"cell gradients", test_gru_cell_grad},
        {"cell gradients, h_prev NULL", test_gru_cell_grad_null},
        {"seq T=5 B=2 H=3", test_gru_seq_small},
        {"seq T=5 B=2 H=3, h0 NULL", test_gru_seq_small_noh0},
        {"seq T=4 B=9 H=5", test_gru_seq_b9},
        {"seq T=3 B=3 H=17", test_gru_seq_wide},
        {"seq T=7 B=1 H=8, h0 NULL", test_gru_seq_b1},
        {"seq T=1 B=3 H=4", test_gru_seq_t1},
        {"seq T=1 B=5 H=4, h0 NULL", test_gru_seq_t1_noh0},
        {"seq accumulate / overwrite", test_gru_seq_accumulate},
        {"T=1 with h0 NULL by hand", test_gru_t1_null_h0},
        {"gradient through time", test_gru_through_time},
        {NULL, NULL},
    };
    return tr_test_run("gru", cases);
}

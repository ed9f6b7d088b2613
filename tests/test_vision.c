/* tests/test_vision.c - the vision layers (trainer/vision.h): forward values
 * against naive double-precision references, backward against naive
 * references and finite differences (tr_check.h), accumulation (+=) and
 * NULL gradients, for convolution (both of core/layers/conv.c's paths), pooling,
 * batch normalisation and the SE and CBAM blocks. */
#include "trainer/vision.h"
#include "trainer/layers.h"
#include "layers/conv.h"
#include "tr_check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAD_OK(what, f, ctx, x, g, n)                                        \
    CU_ASSERT(grad_check_h((what), (f), (ctx), (x), (g), (n), GC_H) < GC_TOL)

/* max |got - want| / (1 + max |want|) */
static double rel_diff(const float *got, const double *want, int n)
{
    double m = 0.0, e = 0.0;
    for (int i = 0; i < n; i++) {
        m = fmax(m, fabs(want[i]));
        double d = fabs((double)got[i] - want[i]);
        e = d > e || isnan(d) ? d : e;
    }
    return e / (1.0 + m);
}

/* |a[i] - b[i]| <= tol * (1 + |b[i]|) for all i */
static int all_close(const float *a, const float *b, int n, double tol)
{
    for (int i = 0; i < n; i++)
        if (!(fabs((double)a[i] - (double)b[i]) <= tol * (1.0 + fabs(b[i]))))
            return 0;
    return 1;
}

static float *fgarbage(int n) /* NaN-filled: every output must be written */
{
    float *p = falloc(n);
    memset(p, 0xff, (size_t)n * sizeof *p);
    return p;
}

/* ================================================== naive convolution */

typedef struct {
    int N, Ci, Hi, Wi, Co, K, S, P, bias;
} conv_dims;

static int oh(const conv_dims *d) { return (d->Hi + 2 * d->P - d->K) / d->S + 1; }
static int ow(const conv_dims *d) { return (d->Wi + 2 * d->P - d->K) / d->S + 1; }
static int n_in(const conv_dims *d) { return d->N * d->Ci * d->Hi * d->Wi; }
static int n_out(const conv_dims *d) { return d->N * d->Co * oh(d) * ow(d); }
static int n_w(const conv_dims *d) { return d->Co * d->Ci * d->K * d->K; }

/* forward (out) and, given dout, backward (din, dW, db), all in double */
static void conv_ref(double *out, double *din, double *dW, double *db,
                     const float *dout, const float *in, const float *W,
                     const float *b, const conv_dims *d)
{
    const int Ho = oh(d), Wo = ow(d), K = d->K;
    for (int n = 0; n < d->N; n++)
        for (int o = 0; o < d->Co; o++)
            for (int y = 0; y < Ho; y++)
                for (int x = 0; x < Wo; x++) {
                    int oi = ((n * d->Co + o) * Ho + y) * Wo + x;
                    double s = b ? b[o] : 0.0;
                    double g = dout ? dout[oi] : 0.0;
                    if (db)
                        db[o] += g;
                    for (int c = 0; c < d->Ci; c++)
                        for (int i = 0; i < K; i++)
                            for (int j = 0; j < K; j++) {
                                int iy = y * d->S - d->P + i, ix = x * d->S - d->P + j;
                                if (iy < 0 || iy >= d->Hi || ix < 0 || ix >= d->Wi)
                                    continue;
                                int ii = ((n * d->Ci + c) * d->Hi + iy) * d->Wi + ix;
                                int wi = ((o * d->Ci + c) * K + i) * K + j;
                                s += (double)W[wi] * in[ii];
                                if (din)
                                    din[ii] += g * W[wi];
                                if (dW)
                                    dW[wi] += g * in[ii];
                            }
                    if (out)
                        out[oi] = s;
                }
}

static const char *path_name(tr_conv_path p)
{
    return p == TR_CONV_DIRECT ? "direct" : p == TR_CONV_IM2COL ? "im2col" : "auto";
}

/* forward and backward of one path against the naive reference; the
 * backward buffers start non-zero, so this also checks +=. */
static void conv_vs_ref(const conv_dims *d, tr_conv_path path, uint64_t seed)
{
    rng_seed(seed);
    const int ni = n_in(d), no = n_out(d), nw = n_w(d);
    float *in = frand(ni, -1, 1), *W = frand(nw, -1, 1);
    float *b = d->bias ? frand(d->Co, -1, 1) : NULL;
    float *dout = frand(no, -1, 1), *out = fgarbage(no);
    size_t ns = tr_conv2d_scratch_path(path, d->N, d->Ci, d->Hi, d->Wi, d->Co,
                                       d->K, d->S, d->P);
    float *scratch = fgarbage((int)ns);
    double *ro = dalloc(no), *rdin = dalloc(ni), *rdW = dalloc(nw), *rdb = dalloc(d->Co);
    conv_ref(ro, rdin, rdW, rdb, dout, in, W, b, d);

    tr_conv2d_forward_path(path, out, in, W, b, scratch, d->N, d->Ci, d->Hi,
                           d->Wi, d->Co, d->K, d->S, d->P);
    double ef = rel_diff(out, ro, no);

    /* start from 0.5 / 0.25 / -1 and subtract them afterwards */
    float *din = falloc(ni), *dW = falloc(nw), *db = falloc(d->Co);
    for (int i = 0; i < ni; i++) din[i] = 0.5f;
    for (int i = 0; i < nw; i++) dW[i] = 0.25f;
    for (int i = 0; i < d->Co; i++) db[i] = -1.0f;
    memset(scratch, 0xff, ns * sizeof *scratch);
    tr_conv2d_backward_path(path, din, dW, db, dout, in, W, scratch, d->N,
                            d->Ci, d->Hi, d->Wi, d->Co, d->K, d->S, d->P);
    for (int i = 0; i < ni; i++) din[i] -= 0.5f;
    for (int i = 0; i < nw; i++) dW[i] -= 0.25f;
    for (int i = 0; i < d->Co; i++) db[i] += 1.0f;
    double ei = rel_diff(din, rdin, ni), ew = rel_diff(dW, rdW, nw);
    double eb = rel_diff(db, rdb, d->Co);

    /* only dW wanted: din and db NULL are skipped, dW the same */
    float *dW2 = falloc(nw);
    tr_conv2d_backward_path(path, NULL, dW2, NULL, dout, in, W, scratch, d->N,
                            d->Ci, d->Hi, d->Wi, d->Co, d->K, d->S, d->P);
    double ew2 = rel_diff(dW2, rdW, nw);

    printf("\n      %s N%d Ci%d %dx%d Co%d K%d S%d P%d%s: out %.1e din %.1e "
           "dW %.1e db %.1e",
           path_name(path), d->N, d->Ci, d->Hi, d->Wi, d->Co, d->K, d->S, d->P,
           d->bias ? " bias" : "", ef, ei, ew, eb);
    CU_ASSERT(ef < 1e-5);
    CU_ASSERT(ei < 1e-5);
    CU_ASSERT(ew < 1e-5);
    CU_ASSERT(eb < 1e-5);
    CU_ASSERT(ew2 < 1e-5);
    CU_ASSERT(max_abs(out, no) > 0.1);
    free(in); free(W); free(b); free(dout); free(out); free(scratch);
    free(ro); free(rdin); free(rdW); free(rdb); free(din); free(dW); free(db);
    free(dW2);
}

static const conv_dims conv_cases[] = {
    /* N, Ci, Hi, Wi, Co, K, S, P, bias */
    {3, 1, 9, 8, 4, 3, 1, 1, 1},   /* first layer: one input channel */
    {2, 1, 28, 28, 32, 3, 1, 1, 0}, /* the network's first layer */
    {2, 3, 7, 9, 5, 3, 2, 1, 0},   /* stride 2, odd sizes */
    {2, 32, 14, 14, 16, 3, 2, 1, 1}, /* the network's stride-2 layers */
    {2, 3, 9, 37, 4, 3, 2, 1, 1},  /* stride 2, rows too wide for the AVX-512 phase code */
    {1, 2, 6, 30, 3, 3, 2, 1, 1},  /* stride 2, the widest rows it takes: 30 + 2P = 32 */
    {1, 2, 5, 32, 3, 3, 2, 0, 0},  /* ... 32 without padding */
    {2, 3, 8, 8, 4, 3, 2, 0, 1},   /* stride 2, no padding */
    {1, 2, 6, 7, 3, 2, 2, 1, 0},   /* stride 2, even kernel */
    {2, 2, 8, 8, 1, 7, 1, 3, 1},   /* CBAM's spatial attention */
    {2, 2, 5, 6, 1, 7, 1, 3, 0},   /* ... on a map smaller than the kernel */
    {2, 3, 6, 7, 4, 2, 1, 0, 1},   /* even kernel, no padding */
    {2, 2, 9, 9, 3, 3, 3, 0, 0},   /* stride 3 */
    {1, 2, 5, 5, 2, 3, 2, 2, 1},   /* padding > K/2: border outputs see only padding */
    {12, 16, 14, 14, 8, 3, 2, 1, 1}, /* 12 samples in one GEMM */
    {5, 32, 28, 28, 16, 3, 2, 1, 1}, /* groups of 2, 2, 1 samples (im2col) */
    {5, 16, 20, 20, 8, 3, 1, 1, 0}, /* the same at stride 1 */
    {2, 1, 10, 12, 6, 3, 1, 1, 1}, /* direct: 4 + 1 + 1 output channels */
    {2, 1, 9, 9, 2, 5, 1, 2, 1},   /* direct: a kernel size without its own loop */
    {5, 4, 6, 6, 3, 1, 1, 0, 1},   /* 1x1 */
};
#define N_CONV_CASES ((int)(sizeof conv_cases / sizeof conv_cases[0]))

static void test_conv_reference(void)
{
    for (int k = 0; k < N_CONV_CASES; k++) {
        const conv_dims *d = &conv_cases[k];
        conv_vs_ref(d, TR_CONV_IM2COL, 100 + (uint64_t)k);
        if (d->S == 1)
            conv_vs_ref(d, TR_CONV_DIRECT, 100 + (uint64_t)k);
    }
}

static void test_conv_values(void)
{
    /* one 3x3 image, 2x2 kernel of ones, stride 1, pad 0 -> window sums;
     * with pad 1, stride 2: the corners */
    const float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float W[4] = {1, 1, 1, 1};
    const float b[1] = {0.5f};
    float out[4], scratch[4096];
    CU_ASSERT_FATAL(tr_conv2d_scratch_floats(1, 1, 3, 3, 1, 2, 1, 0) <= 4096);
    tr_conv2d_forward(out, in, W, b, scratch, 1, 1, 3, 3, 1, 2, 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(out[0], 12.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[1], 16.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[2], 24.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[3], 28.5, 1e-6);
    CU_ASSERT(tr_conv2d_out(3, 2, 2, 1) == 2);
    CU_ASSERT_FATAL(tr_conv2d_scratch_floats(1, 1, 3, 3, 1, 2, 2, 1) <= 4096);
    tr_conv2d_forward(out, in, W, NULL, scratch, 1, 1, 3, 3, 1, 2, 2, 1);
    CU_ASSERT_DOUBLE_EQUAL(out[0], 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[1], 5.0, 1e-6);  /* 2 + 3 */
    CU_ASSERT_DOUBLE_EQUAL(out[2], 11.0, 1e-6); /* 4 + 7 */
    CU_ASSERT_DOUBLE_EQUAL(out[3], 28.0, 1e-6); /* 5 + 6 + 8 + 9 */
    CU_ASSERT(tr_conv2d_out(28, 3, 2, 1) == 14);
    CU_ASSERT(tr_conv2d_out(14, 3, 2, 1) == 7);
    CU_ASSERT(tr_conv2d_out(2, 7, 1, 2) == 0);
    /* the picks the network relies on */
    CU_ASSERT(tr_conv2d_pick(1, 32, 3, 1) == TR_CONV_DIRECT);
    CU_ASSERT(tr_conv2d_pick(2, 1, 7, 1) == TR_CONV_DIRECT);
    CU_ASSERT(tr_conv2d_pick(32, 64, 3, 2) == TR_CONV_IM2COL);
}

/* ---- finite differences through the public entry points */

typedef struct {
    conv_dims d;
    float *in, *W, *b, *out, *R, *scratch;
} conv_ctx;

static double conv_loss(void *p)
{
    conv_ctx *c = p;
    const conv_dims *d = &c->d;
    tr_conv2d_forward(c->out, c->in, c->W, c->b, c->scratch, d->N, d->Ci,
                      d->Hi, d->Wi, d->Co, d->K, d->S, d->P);
    return dotd(c->out, c->R, n_out(d));
}

static void conv_grad(conv_dims d, uint64_t seed)
{
    rng_seed(seed);
    conv_ctx c = {.d = d};
    const int ni = n_in(&d), no = n_out(&d), nw = n_w(&d);
    c.in = frand(ni, -1, 1);
    c.W = frand(nw, -1, 1);
    c.b = d.bias ? frand(d.Co, -1, 1) : NULL;
    c.out = falloc(no);
    c.R = frand(no, -1, 1);
    c.scratch = falloc((int)tr_conv2d_scratch_floats(d.N, d.Ci, d.Hi, d.Wi,
                                                      d.Co, d.K, d.S, d.P));
    float *din = falloc(ni), *dW = falloc(nw), *db = falloc(d.Co);
    conv_loss(&c);
    tr_conv2d_backward(din, dW, d.bias ? db : NULL, c.R, c.in, c.W, c.scratch,
                       d.N, d.Ci, d.Hi, d.Wi, d.Co, d.K, d.S, d.P);
    char what[96];
    snprintf(what, sizeof what, "conv Ci%d Co%d K%d S%d P%d din", d.Ci, d.Co,
             d.K, d.S, d.P);
    GRAD_OK(what, conv_loss, &c, c.in, din, ni);
    snprintf(what, sizeof what, "conv Ci%d Co%d K%d S%d P%d dW", d.Ci, d.Co,
             d.K, d.S, d.P);
    GRAD_OK(what, conv_loss, &c, c.W, dW, nw);
    if (d.bias) {
        GRAD_OK("conv db", conv_loss, &c, c.b, db, d.Co);
    } else {
        CU_ASSERT(all_zero(db, d.Co));
    }
    CU_ASSERT(max_abs(din, ni) > 0.1 && max_abs(dW, nw) > 0.1);

    /* backward accumulates: twice = double */
    float *din1 = fdup(din, ni), *dW1 = fdup(dW, nw), *db1 = fdup(db, d.Co);
    tr_conv2d_backward(din, dW, d.bias ? db : NULL, c.R, c.in, c.W, c.scratch,
                       d.N, d.Ci, d.Hi, d.Wi, d.Co, d.K, d.S, d.P);
    CU_ASSERT(is_double_of(din1, din, ni));
    CU_ASSERT(is_double_of(dW1, dW, nw));
    CU_ASSERT(is_double_of(db1, db, d.Co));
    free(c.in); free(c.W); free(c.b); free(c.out); free(c.R); free(c.scratch);
    free(din); free(dW); free(db); free(din1); free(dW1); free(db1);
}

static void test_conv_grad_s1(void)
{
    conv_grad((conv_dims){2, 1, 6, 5, 3, 3, 1, 1, 1}, 201); /* Ci 1, pad 1, bias */
    conv_grad((conv_dims){2, 3, 6, 6, 2, 3, 1, 0, 0}, 202); /* pad 0, no bias */
    conv_grad((conv_dims){1, 2, 6, 6, 1, 7, 1, 3, 1}, 203); /* pad 3 (CBAM) */
}

static void test_conv_grad_s2(void)
{
    conv_grad((conv_dims){2, 3, 7, 8, 4, 3, 2, 1, 1}, 211); /* pad 1, bias */
    conv_grad((conv_dims){2, 1, 7, 7, 3, 3, 2, 0, 0}, 212); /* Ci 1, pad 0 */
    conv_grad((conv_dims){1, 2, 6, 6, 2, 3, 2, 3, 1}, 213); /* pad 3 */
}

/* ============================================================== pooling */

typedef struct {
    int N, C, H, W, K, S, kind; /* kind: 0 avg, 1 max, 2 gap, 3 gmp, 4 chan */
    float *in, *out, *R;
    int32_t *arg;
} pool_ctx;

static int pool_nout(const pool_ctx *c)
{
    int HW = c->H * c->W;
    switch (c->kind) {
    case 0:
    case 1:
        return c->N * c->C * ((c->H - c->K) / c->S + 1) * ((c->W - c->K) / c->S + 1);
    case 2:
    case 3:
        return c->N * c->C;
    default:
        return c->N * 2 * HW;
    }
}

static void pool_fwd(pool_ctx *c)
{
    int HW = c->H * c->W;
    switch (c->kind) {
    case 0: tr_avgpool_forward(c->out, c->in, c->N, c->C, c->H, c->W, c->K, c->S); break;
    case 1: tr_maxpool_forward(c->out, c->arg, c->in, c->N, c->C, c->H, c->W, c->K, c->S); break;
    case 2: tr_global_avgpool_forward(c->out, c->in, c->N, c->C, HW); break;
    case 3: tr_global_maxpool_forward(c->out, c->arg, c->in, c->N, c->C, HW); break;
    default: tr_channel_meanmax_forward(c->out, c->arg, c->in, c->N, c->C, HW); break;
    }
}

static void pool_bwd(pool_ctx *c, float *din, const float *dout)
{
    int HW = c->H * c->W;
    switch (c->kind) {
    case 0: tr_avgpool_backward(din, dout, c->N, c->C, c->H, c->W, c->K, c->S); break;
    case 1: tr_maxpool_backward(din, dout, c->arg, c->N, c->C, c->H, c->W, c->K, c->S); break;
    case 2: tr_global_avgpool_backward(din, dout, c->N, c->C, HW); break;
    case 3: tr_global_maxpool_backward(din, dout, c->arg, c->N, c->C, HW); break;
    default: tr_channel_meanmax_backward(din, dout, c->arg, c->N, c->C, HW); break;
    }
}

static double pool_loss(void *p)
{
    pool_ctx *c = p;
    pool_fwd(c);
    return dotd(c->out, c->R, pool_nout(c));
}

/* naive forward in double */
static void pool_ref(double *out, const pool_ctx *c)
{
    const int HW = c->H * c->W;
    if (c->kind <= 1) {
        int Ho = (c->H - c->K) / c->S + 1, Wo = (c->W - c->K) / c->S + 1;
        for (int q = 0; q < c->N * c->C; q++)
            for (int y = 0; y < Ho; y++)
                for (int x = 0; x < Wo; x++) {
                    double s = 0.0, m = -INFINITY;
                    for (int i = 0; i < c->K; i++)
                        for (int j = 0; j < c->K; j++) {
                            double v = c->in[q * HW + (y * c->S + i) * c->W + x * c->S + j];
                            s += v;
                            m = v > m ? v : m;
                        }
                    out[(q * Ho + y) * Wo + x] = c->kind == 0 ? s / (c->K * c->K) : m;
                }
    } else if (c->kind <= 3) {
        for (int q = 0; q < c->N * c->C; q++) {
            double s = 0.0, m = -INFINITY;
            for (int p = 0; p < HW; p++) {
                s += c->in[q * HW + p];
                m = c->in[q * HW + p] > m ? c->in[q * HW + p] : m;
            }
            out[q] = c->kind == 2 ? s / HW : m;
        }
    } else {
        for (int n = 0; n < c->N; n++)
            for (int p = 0; p < HW; p++) {
                double s = 0.0, m = -INFINITY;
                for (int ch = 0; ch < c->C; ch++) {
                    double v = c->in[(n * c->C + ch) * HW + p];
                    s += v;
                    m = v > m ? v : m;
                }
                out[(n * 2) * HW + p] = s / c->C;
                out[(n * 2 + 1) * HW + p] = m;
            }
    }
}

static void pool_case(int kind, int K, int S, const char *what, uint64_t seed)
{
    rng_seed(seed);
    pool_ctx c = {.N = 2, .C = 3, .H = 7, .W = 6, .K = K, .S = S, .kind = kind};
    const int ni = c.N * c.C * c.H * c.W, no = pool_nout(&c);
    /* distinct values at least 0.04 apart, so that a finite-difference step
     * never changes which one is the maximum */
    c.in = falloc(ni);
    for (int i = 0; i < ni; i++)
        c.in[i] = 0.04f * (float)(i - ni / 2);
    for (int i = ni - 1; i > 0; i--) { /* shuffle */
        int j = (int)(rng_u32() % (uint32_t)(i + 1));
        float t = c.in[i];
        c.in[i] = c.in[j];
        c.in[j] = t;
    }
    c.out = fgarbage(no);
    c.R = frand(no, -1, 1);
    c.arg = calloc((size_t)no, sizeof *c.arg);
    CU_ASSERT_FATAL(c.arg != NULL);
    float *din = falloc(ni);
    double *ref = dalloc(no);

    pool_loss(&c);
    pool_ref(ref, &c);
    CU_ASSERT(rel_diff(c.out, ref, no) < 1e-6);
    pool_bwd(&c, din, c.R);
    GRAD_OK(what, pool_loss, &c, c.in, din, ni);
    CU_ASSERT(max_abs(din, ni) > 0.01);
    float *once = fdup(din, ni);
    pool_bwd(&c, din, c.R);
    CU_ASSERT(is_double_of(once, din, ni));
    pool_bwd(&c, NULL, c.R); /* NULL: skipped */
    free(c.in); free(c.out); free(c.R); free(c.arg); free(din); free(ref);
    free(once);
}

static void test_pool_grads(void)
{
    pool_case(0, 2, 2, "avgpool 2/2 din", 301);
    pool_case(0, 3, 2, "avgpool 3/2 (overlapping) din", 302);
    pool_case(1, 2, 2, "maxpool 2/2 din", 303);
    pool_case(1, 3, 2, "maxpool 3/2 (overlapping) din", 304);
    pool_case(2, 0, 0, "global avgpool din", 305);
    pool_case(3, 0, 0, "global maxpool din", 306);
    pool_case(4, 0, 0, "channel mean/max din", 307);
}

static void test_pool_values(void)
{
    /* one 4x4 plane */
    const float in[16] = {1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 9, 9, 7, 1, 2, 3};
    float out[4];
    int32_t arg[4];
    tr_maxpool_forward(out, arg, in, 1, 1, 4, 4, 2, 2);
    CU_ASSERT(out[0] == 5 && out[1] == 8 && out[2] == 7 && out[3] == 9);
    CU_ASSERT(arg[0] == 1 && arg[1] == 6 && arg[2] == 12 && arg[3] == 10); /* first of ties */
    float din[16] = {0};
    const float g[4] = {1, 2, 3, 4};
    tr_maxpool_backward(din, g, arg, 1, 1, 4, 4, 2, 2);
    CU_ASSERT(din[1] == 1 && din[6] == 2 && din[12] == 3 && din[10] == 4 && din[11] == 0);
    tr_avgpool_forward(out, in, 1, 1, 4, 4, 2, 2);
    CU_ASSERT_DOUBLE_EQUAL(out[0], 3.25, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[3], 5.75, 1e-6);
    tr_global_avgpool_forward(out, in, 1, 1, 16);
    CU_ASSERT_DOUBLE_EQUAL(out[0], 55.0 / 16.0, 1e-6);
    tr_global_maxpool_forward(out, arg, in, 1, 1, 16);
    CU_ASSERT(out[0] == 9 && arg[0] == 10);
    /* channels: 2 channels of 2 positions; ties go to the first channel */
    const float x2[4] = {1, 3, 2, 3};
    float m2[4];
    int32_t a2[2];
    tr_channel_meanmax_forward(m2, a2, x2, 1, 2, 2);
    CU_ASSERT(m2[0] == 1.5f && m2[1] == 3.0f && m2[2] == 2.0f && m2[3] == 3.0f);
    CU_ASSERT(a2[0] == 1 && a2[1] == 0);
}

/* ========================================================= broadcasts */

typedef struct {
    int N, C, HW, spatial;
    float *x, *a, *y, *R;
} bc_ctx;

static double bc_loss(void *p)
{
    bc_ctx *c = p;
    if (c->spatial)
        tr_scale_spatial_forward(c->y, c->x, c->a, c->N, c->C, c->HW);
    else
        tr_scale_channels_forward(c->y, c->x, c->a, c->N, c->C, c->HW);
    return dotd(c->y, c->R, c->N * c->C * c->HW);
}

static void test_scale(void)
{
    for (int spatial = 0; spatial < 2; spatial++) {
        rng_seed(350 + (uint64_t)spatial);
        bc_ctx c = {.N = 2, .C = 3, .HW = 5, .spatial = spatial};
        int n = c.N * c.C * c.HW, na = spatial ? c.N * c.HW : c.N * c.C;
        c.x = frand(n, -1, 1);
        c.a = frand(na, -1, 1);
        c.y = falloc(n);
        c.R = frand(n, -1, 1);
        float *dx = falloc(n), *da = falloc(na);
        bc_loss(&c);
        int q = (1 * c.C + 2) * c.HW + 3; /* n 1, c 2, p 3 */
        CU_ASSERT_DOUBLE_EQUAL(c.y[q], c.x[q] * c.a[spatial ? 1 * c.HW + 3 : 1 * c.C + 2], 1e-7);
        if (spatial)
            tr_scale_spatial_backward(dx, da, c.R, c.x, c.a, c.N, c.C, c.HW);
        else
            tr_scale_channels_backward(dx, da, c.R, c.x, c.a, c.N, c.C, c.HW);
        GRAD_OK(spatial ? "scale spatial dx" : "scale channels dx", bc_loss, &c, c.x, dx, n);
        GRAD_OK(spatial ? "scale spatial ds" : "scale channels da", bc_loss, &c, c.a, da, na);
        float *xi = fdup(c.x, n); /* in place */
        if (spatial)
            tr_scale_spatial_forward(xi, xi, c.a, c.N, c.C, c.HW);
        else
            tr_scale_channels_forward(xi, xi, c.a, c.N, c.C, c.HW);
        CU_ASSERT(memcmp(xi, c.y, (size_t)n * sizeof(float)) == 0);
        free(c.x); free(c.a); free(c.y); free(c.R); free(dx); free(da); free(xi);
    }
}

/* ========================================================== batch norm */

typedef struct {
    int N, C, HW;
    float eps;
    float *x, *gamma, *beta, *y, *mean, *var, *R;
} bn_ctx;

static double bn_loss(void *p)
{
    bn_ctx *c = p;
    tr_batchnorm_forward(c->y, c->mean, c->var, c->x, c->gamma, c->beta, c->eps,
                         c->N, c->C, c->HW);
    return dotd(c->y, c->R, c->N * c->C * c->HW);
}

static void test_batchnorm(void)
{
    rng_seed(401);
    bn_ctx c = {.N = 3, .C = 4, .HW = 10, .eps = 1e-5f};
    const int n = c.N * c.C * c.HW;
    c.x = frand(n, -1, 1);
    for (int i = 0; i < n; i++) /* per-channel offsets and scales */
        c.x[i] = c.x[i] * (1.0f + (float)((i / c.HW) % c.C)) + 0.5f * (float)((i / c.HW) % c.C);
    c.gamma = frand(c.C, 0.5f, 2.0f);
    c.beta = frand(c.C, -1, 1);
    c.y = fgarbage(n);
    c.mean = falloc(c.C);
    c.var = falloc(c.C);
    c.R = frand(n, -1, 1);
    bn_loss(&c);

    /* statistics: mean and biased variance in double; y's per-channel mean is
     * beta and its variance gamma^2 var / (var + eps) */
    for (int ch = 0; ch < c.C; ch++) {
        double s = 0, q = 0, ys = 0, yq = 0, M = c.N * c.HW;
        for (int k = 0; k < c.N; k++)
            for (int p = 0; p < c.HW; p++)
                s += c.x[(k * c.C + ch) * c.HW + p];
        double m = s / M;
        for (int k = 0; k < c.N; k++)
            for (int p = 0; p < c.HW; p++) {
                double d = c.x[(k * c.C + ch) * c.HW + p] - m;
                double yv = c.y[(k * c.C + ch) * c.HW + p];
                q += d * d;
                ys += yv;
                yq += yv * yv;
            }
        double v = q / M, ym = ys / M;
        CU_ASSERT(fabs(c.mean[ch] - m) < 1e-5);
        CU_ASSERT(fabs(c.var[ch] - v) < 1e-5 * (1 + v));
        CU_ASSERT(fabs(ym - c.beta[ch]) < 1e-5);
        double want = (double)c.gamma[ch] * c.gamma[ch] * v / (v + c.eps);
        CU_ASSERT(fabs((yq / M - ym * ym) - want) < 1e-4 * want);
    }

    float *dx = falloc(n), *dg = falloc(c.C), *dbt = falloc(c.C);
    tr_batchnorm_backward(dx, dg, dbt, c.R, c.x, c.mean, c.var, c.gamma, c.eps,
                          c.N, c.C, c.HW);
    GRAD_OK("batchnorm dx", bn_loss, &c, c.x, dx, n);
    GRAD_OK("batchnorm dgamma", bn_loss, &c, c.gamma, dg, c.C);
    GRAD_OK("batchnorm dbeta", bn_loss, &c, c.beta, dbt, c.C);
    CU_ASSERT(max_abs(dx, n) > 0.05);
    /* the gradient w.r.t. x sums to 0 over each channel */
    for (int ch = 0; ch < c.C; ch++) {
        double s = 0;
        for (int k = 0; k < c.N; k++)
            for (int p = 0; p < c.HW; p++)
                s += dx[(k * c.C + ch) * c.HW + p];
        CU_ASSERT(fabs(s) < 1e-4);
    }
    float *dx1 = fdup(dx, n), *dg1 = fdup(dg, c.C), *db1 = fdup(dbt, c.C);
    tr_batchnorm_backward(dx, dg, dbt, c.R, c.x, c.mean, c.var, c.gamma, c.eps,
                          c.N, c.C, c.HW);
    CU_ASSERT(is_double_of(dx1, dx, n));
    CU_ASSERT(is_double_of(dg1, dg, c.C));
    CU_ASSERT(is_double_of(db1, dbt, c.C));
    /* NULL dx: the parameter gradients alone, the same */
    float *dg2 = falloc(c.C);
    tr_batchnorm_backward(NULL, dg2, NULL, c.R, c.x, c.mean, c.var, c.gamma,
                          c.eps, c.N, c.C, c.HW);
    CU_ASSERT(all_close(dg2, dg1, c.C, 1e-6));

    /* inference with the batch's own statistics = training output; in place */
    float *yi = fdup(c.x, n);
    tr_batchnorm_inference(yi, yi, c.gamma, c.beta, c.mean, c.var, c.eps, c.N,
                           c.C, c.HW);
    CU_ASSERT(all_close(yi, c.y, n, 1e-5));
    free(c.x); free(c.gamma); free(c.beta); free(c.y); free(c.mean);
    free(c.var); free(c.R); free(dx); free(dg); free(dbt); free(dx1);
    free(dg1); free(db1); free(dg2); free(yi);
}

/* ======================================================== MLP helpers */

static double sigm(double v) { return 1.0 / (1.0 + exp(-v)); }

/* h = relu(v . W1 + b1) . W2 + b2 for one row v[C], in double */
static void mlp_ref(double *o, const double *v, const float *W1,
                    const float *b1, const float *W2, const float *b2, int C,
                    int Cr)
{
    double z[64];
    for (int j = 0; j < Cr; j++) {
        double s = b1 ? b1[j] : 0.0;
        for (int i = 0; i < C; i++)
            s += v[i] * W1[i * Cr + j];
        z[j] = s > 0 ? s : 0;
    }
    for (int i = 0; i < C; i++) {
        double s = b2 ? b2[i] : 0.0;
        for (int j = 0; j < Cr; j++)
            s += z[j] * W2[j * C + i];
        o[i] = s;
    }
}

/* smallest |pre-activation| of the first dense layer over the rows v[R,C] */
static double relu_margin(const float *v, int R, const float *W1,
                          const float *b1, int C, int Cr)
{
    double m = INFINITY;
    for (int r = 0; r < R; r++)
        for (int j = 0; j < Cr; j++) {
            double s = b1[j];
            for (int i = 0; i < C; i++)
                s += (double)v[r * C + i] * W1[i * Cr + j];
            m = fmin(m, fabs(s));
        }
    return m;
}

/* b1[j] = minus the midpoint of the widest gap between the R (<= 16) values
 * v.W1[:,j]: for every hidden unit some rows are on each side of the ReLU's
 * kink (none dead, none linear everywhere), as far from it as they can be */
static void split_relu(float *b1, const float *v, int R, const float *W1,
                       int C, int Cr)
{
    for (int j = 0; j < Cr; j++) {
        double pre[16] = {0};
        for (int r = 0; r < R; r++) {
            double s = 0;
            for (int i = 0; i < C; i++)
                s += (double)v[r * C + i] * W1[i * Cr + j];
            pre[r] = s;
        }
        for (int a = 1; a < R; a++) /* insertion sort */
            for (int b = a; b > 0 && pre[b] < pre[b - 1]; b--) {
                double t = pre[b];
                pre[b] = pre[b - 1];
                pre[b - 1] = t;
            }
        int best = 0;
        for (int r = 1; r + 1 < R; r++)
            if (pre[r + 1] - pre[r] > pre[best + 1] - pre[best])
                best = r;
        b1[j] = (float)(-0.5 * (pre[best] + pre[best + 1]));
    }
}

/* ============================================================ SE block */

typedef struct {
    int N, C, HW, Cr;
    float *x, *W1, *b1, *W2, *b2, *y, *cache, *R;
} se_ctx;

static double se_loss(void *p)
{
    se_ctx *c = p;
    tr_se_forward(c->y, c->cache, c->x, c->W1, c->b1, c->W2, c->b2, c->N, c->C,
                  c->HW, c->Cr);
    return dotd(c->y, c->R, c->N * c->C * c->HW);
}

static void test_se(void)
{
    rng_seed(501);
    se_ctx c = {.N = 4, .C = 8, .HW = 6, .Cr = 2};
    const int n = c.N * c.C * c.HW, nw = c.C * c.Cr;
    c.x = frand(n, -1, 2);
    c.W1 = frand(nw, -1, 1);
    c.b1 = frand(c.Cr, -0.5f, 0.5f);
    c.W2 = frand(nw, -1, 1);
    c.b2 = frand(c.C, -0.5f, 0.5f);
    c.y = fgarbage(n);
    c.cache = fgarbage((int)tr_se_cache_floats(c.N, c.C, c.Cr));
    c.R = frand(n, -1, 1);
    float *scratch = fgarbage((int)tr_se_scratch_floats(c.N, c.C, c.Cr));

    /* keep the ReLU's inputs off its kink (a finite-difference step must not
     * cross it), with both sides used: s = mean of x */
    float *s = falloc(c.N * c.C);
    tr_global_avgpool_forward(s, c.x, c.N, c.C, c.HW);
    split_relu(c.b1, s, c.N, c.W1, c.C, c.Cr);
    double margin = relu_margin(s, c.N, c.W1, c.b1, c.C, c.Cr);
    printf("\n      ReLU margin %.3f", margin);
    CU_ASSERT_FATAL(margin >= 0.02);

    se_loss(&c);
    /* forward against double */
    double *want = dalloc(n), *a = dalloc(c.N * c.C);
    for (int k = 0; k < c.N; k++) {
        double v[64], o[64];
        for (int ch = 0; ch < c.C; ch++) {
            double t = 0;
            for (int p = 0; p < c.HW; p++)
                t += c.x[(k * c.C + ch) * c.HW + p];
            v[ch] = t / c.HW;
        }
        mlp_ref(o, v, c.W1, c.b1, c.W2, c.b2, c.C, c.Cr);
        for (int ch = 0; ch < c.C; ch++) {
            a[k * c.C + ch] = sigm(o[ch]);
            for (int p = 0; p < c.HW; p++) {
                int i = (k * c.C + ch) * c.HW + p;
                want[i] = c.x[i] * a[k * c.C + ch];
            }
        }
    }
    CU_ASSERT(rel_diff(c.y, want, n) < 1e-5);
    CU_ASSERT(rel_diff(tr_se_channel_weights(c.cache), a, c.N * c.C) < 1e-5);

    float *dx = falloc(n), *dW1 = falloc(nw), *db1 = falloc(c.Cr);
    float *dW2 = falloc(nw), *db2 = falloc(c.C);
    tr_se_backward(dx, dW1, db1, dW2, db2, c.R, c.x, c.cache, c.W1, c.W2,
                   scratch, c.N, c.C, c.HW, c.Cr);
    GRAD_OK("SE dx", se_loss, &c, c.x, dx, n);
    GRAD_OK("SE dW1", se_loss, &c, c.W1, dW1, nw);
    GRAD_OK("SE db1", se_loss, &c, c.b1, db1, c.Cr);
    GRAD_OK("SE dW2", se_loss, &c, c.W2, dW2, nw);
    GRAD_OK("SE db2", se_loss, &c, c.b2, db2, c.C);
    CU_ASSERT(max_abs(dW1, nw) > 1e-3 && max_abs(dW2, nw) > 1e-3);

    float *dx1 = fdup(dx, n), *dW11 = fdup(dW1, nw), *db11 = fdup(db1, c.Cr);
    float *dW21 = fdup(dW2, nw), *db21 = fdup(db2, c.C);
    memset(scratch, 0xff, tr_se_scratch_floats(c.N, c.C, c.Cr) * sizeof(float));
    tr_se_backward(dx, dW1, db1, dW2, db2, c.R, c.x, c.cache, c.W1, c.W2,
                   scratch, c.N, c.C, c.HW, c.Cr);
    CU_ASSERT(is_double_of(dx1, dx, n));
    CU_ASSERT(is_double_of(dW11, dW1, nw));
    CU_ASSERT(is_double_of(db11, db1, c.Cr));
    CU_ASSERT(is_double_of(dW21, dW2, nw));
    CU_ASSERT(is_double_of(db21, db2, c.C));
    /* all gradients NULL but one */
    float *dW1b = falloc(nw);
    tr_se_backward(NULL, dW1b, NULL, NULL, NULL, c.R, c.x, c.cache, c.W1, c.W2,
                   scratch, c.N, c.C, c.HW, c.Cr);
    CU_ASSERT(all_close(dW1b, dW11, nw, 1e-5));

    free(c.x); free(c.W1); free(c.b1); free(c.W2); free(c.b2); free(c.y);
    free(c.cache); free(c.R); free(scratch); free(s); free(want); free(a);
    free(dx); free(dW1); free(db1); free(dW2); free(db2); free(dx1);
    free(dW11); free(db11); free(dW21); free(db21); free(dW1b);
}

/* ========================================================== CBAM block */

typedef struct {
    int N, C, H, W, Cr;
    float *x, *W1, *b1, *W2, *b2, *Ws, *bs, *y, *cache, *scratch, *R;
    int32_t *icache;
} cbam_ctx;

static double cbam_loss(void *p)
{
    cbam_ctx *c = p;
    tr_cbam_forward(c->y, c->cache, c->icache, c->x, c->W1, c->b1, c->W2,
                    c->b2, c->Ws, c->bs, c->scratch, c->N, c->C, c->H, c->W,
                    c->Cr);
    return dotd(c->y, c->R, c->N * c->C * c->H * c->W);
}

/* CBAM forward in double; ca[N,C], sa[N,HW]; returns the smallest gap
 * between the two largest values of every max the block takes (max over HW
 * of x, max over C of x1), so the caller can keep them apart. */
static double cbam_ref(double *y, double *ca, double *sa, const cbam_ctx *c)
{
    const int C = c->C, HW = c->H * c->W, N = c->N;
    double gap = INFINITY;
    double *x1 = dalloc(C * HW), *m = dalloc(2 * HW);
    float *mf = falloc(2 * HW);
    for (int k = 0; k < N; k++) {
        const float *xk = c->x + k * C * HW;
        double avg[64], mx[64], oa[64], om[64];
        for (int ch = 0; ch < C; ch++) {
            double s = 0, a1 = -INFINITY, a2 = -INFINITY;
            for (int p = 0; p < HW; p++) {
                double v = xk[ch * HW + p];
                s += v;
                if (v > a1) { a2 = a1; a1 = v; } else if (v > a2) a2 = v;
            }
            avg[ch] = s / HW;
            mx[ch] = a1;
            gap = fmin(gap, a1 - a2);
        }
        mlp_ref(oa, avg, c->W1, c->b1, c->W2, c->b2, C, c->Cr);
        mlp_ref(om, mx, c->W1, c->b1, c->W2, c->b2, C, c->Cr);
        for (int ch = 0; ch < C; ch++) {
            ca[k * C + ch] = sigm(oa[ch] + om[ch]);
            for (int p = 0; p < HW; p++)
                x1[ch * HW + p] = xk[ch * HW + p] * ca[k * C + ch];
        }
        for (int p = 0; p < HW; p++) {
            double s = 0, a1 = -INFINITY, a2 = -INFINITY;
            for (int ch = 0; ch < C; ch++) {
                double v = x1[ch * HW + p];
                s += v;
                if (v > a1) { a2 = a1; a1 = v; } else if (v > a2) a2 = v;
            }
            m[p] = s / C;
            m[HW + p] = a1;
            gap = fmin(gap, a1 - a2);
        }
        /* 7x7 conv, pad 3, one output channel */
        for (int i = 0; i < 2 * HW; i++)
            mf[i] = (float)m[i];
        conv_dims d = {1, 2, c->H, c->W, 1, 7, 1, 3, c->bs != NULL};
        double *logit = dalloc(HW);
        conv_ref(logit, NULL, NULL, NULL, NULL, mf, c->Ws, c->bs, &d);
        for (int p = 0; p < HW; p++) {
            sa[k * HW + p] = sigm(logit[p]);
            for (int ch = 0; ch < C; ch++)
                y[(k * C + ch) * HW + p] = x1[ch * HW + p] * sa[k * HW + p];
        }
        free(logit);
    }
    free(x1); free(m); free(mf);
    return gap;
}

static void cbam_case(int with_bias, uint64_t seed)
{
    rng_seed(seed);
    cbam_ctx c = {.N = 2, .C = 8, .H = 5, .W = 6, .Cr = 2};
    const int HW = c.H * c.W, n = c.N * c.C * HW, nw = c.C * c.Cr;
    c.W1 = frand(nw, -0.25f, 0.25f);
    c.W2 = frand(nw, -0.5f, 0.5f);
    c.b1 = frand(c.Cr, -0.5f, 0.5f);
    c.b2 = with_bias ? frand(c.C, -0.2f, 0.2f) : NULL;
    c.Ws = frand(2 * 49, -0.3f, 0.3f);
    c.bs = with_bias ? frand(1, -0.5f, 0.5f) : NULL;
    c.x = falloc(n);
    c.y = fgarbage(n);
    c.cache = fgarbage((int)tr_cbam_cache_floats(c.N, c.C, c.H, c.W, c.Cr));
    c.icache = calloc(tr_cbam_cache_ints(c.N, c.C, c.H, c.W), sizeof(int32_t));
    CU_ASSERT_FATAL(c.icache != NULL);
    c.scratch = fgarbage((int)tr_cbam_scratch_floats(c.N, c.C, c.H, c.W, c.Cr));
    c.R = frand(n, -1, 1);
    double *want = dalloc(n), *ca = dalloc(c.N * c.C), *sa = dalloc(c.N * HW);

    /* x such that every max the block takes is clear by a margin (a
     * finite-difference step must not change an argmax), and b1 such that
     * the ReLU's inputs are off its kink for both descriptors: values in
     * [-0.5, 0.5], but at every position one channel (random) has 2..2.5,
     * which tops the others after x1 = x * ca as long as ca stays within
     * (0.25, 0.75) (small W1, W2); each channel's global max is a peak of
     * 4..4.5 at a position of its own. The margins are measured below. */
    fill(c.x, n, -0.5f, 0.5f);
    int slot[64];
    for (int k = 0; k < c.N; k++) {
        for (int p = 0; p < HW; p++) { /* a random permutation of positions */
            slot[p] = p;
            int ch = (int)(rng_u32() % (uint32_t)c.C);
            c.x[(k * c.C + ch) * HW + p] = rng_unif(2.0f, 2.5f);
        }
        for (int p = HW - 1; p > 0; p--) {
            int q = (int)(rng_u32() % (uint32_t)(p + 1)), t = slot[p];
            slot[p] = slot[q];
            slot[q] = t;
        }
        for (int ch = 0; ch < c.C; ch++) { /* the peak tops its position too */
            for (int o = 0; o < c.C; o++)
                c.x[(k * c.C + o) * HW + slot[ch]] = rng_unif(-0.5f, 0.5f);
            c.x[(k * c.C + ch) * HW + slot[ch]] = rng_unif(4.0f, 4.5f);
        }
    }
    float *pooled = falloc(2 * c.N * c.C);
    int32_t *tmp = calloc((size_t)(c.N * c.C), sizeof *tmp);
    CU_ASSERT_FATAL(tmp != NULL);
    tr_global_avgpool_forward(pooled, c.x, c.N, c.C, HW);
    tr_global_maxpool_forward(pooled + c.N * c.C, tmp, c.x, c.N, c.C, HW);
    split_relu(c.b1, pooled, 2 * c.N, c.W1, c.C, c.Cr);
    double margin = relu_margin(pooled, 2 * c.N, c.W1, c.b1, c.C, c.Cr);
    double gap = cbam_ref(want, ca, sa, &c);
    printf("\n      max gap %.3f, ReLU margin %.3f", gap, margin);
    CU_ASSERT_FATAL(gap >= 0.05 && margin >= 0.02);
    free(pooled); free(tmp);

    cbam_loss(&c);
    double ey = rel_diff(c.y, want, n);
    double eca = rel_diff(tr_cbam_channel_weights(c.cache), ca, c.N * c.C);
    double esa = rel_diff(tr_cbam_spatial_weights(c.cache, c.N, c.C), sa, c.N * HW);
    printf("\n      CBAM forward vs double: y %.1e ca %.1e sa %.1e", ey, eca, esa);
    CU_ASSERT(ey < 1e-5 && eca < 1e-5 && esa < 1e-5);

    float *dx = falloc(n), *dW1 = falloc(nw), *db1 = falloc(c.Cr);
    float *dW2 = falloc(nw), *db2 = falloc(c.C), *dWs = falloc(98), *dbs = falloc(1);
    tr_cbam_backward(dx, dW1, db1, dW2, with_bias ? db2 : NULL, dWs,
                     with_bias ? dbs : NULL, c.R, c.x, c.cache, c.icache, c.W1,
                     c.W2, c.Ws, c.scratch, c.N, c.C, c.H, c.W, c.Cr);
    GRAD_OK("CBAM dx", cbam_loss, &c, c.x, dx, n);
    GRAD_OK("CBAM dW1", cbam_loss, &c, c.W1, dW1, nw);
    GRAD_OK("CBAM db1", cbam_loss, &c, c.b1, db1, c.Cr);
    GRAD_OK("CBAM dW2", cbam_loss, &c, c.W2, dW2, nw);
    GRAD_OK("CBAM dWs", cbam_loss, &c, c.Ws, dWs, 98);
    if (with_bias) {
        GRAD_OK("CBAM db2", cbam_loss, &c, c.b2, db2, c.C);
        GRAD_OK("CBAM dbs", cbam_loss, &c, c.bs, dbs, 1);
    } else {
        CU_ASSERT(all_zero(db2, c.C) && dbs[0] == 0.0f);
    }
    CU_ASSERT(max_abs(dW1, nw) > 1e-3 && max_abs(dWs, 98) > 1e-3);

    float *dx1 = fdup(dx, n), *dW11 = fdup(dW1, nw), *dWs1 = fdup(dWs, 98);
    float *dW21 = fdup(dW2, nw), *db21 = fdup(db2, c.C), *dbs1 = fdup(dbs, 1);
    memset(c.scratch, 0xff,
           tr_cbam_scratch_floats(c.N, c.C, c.H, c.W, c.Cr) * sizeof(float));
    tr_cbam_backward(dx, dW1, db1, dW2, with_bias ? db2 : NULL, dWs,
                     with_bias ? dbs : NULL, c.R, c.x, c.cache, c.icache, c.W1,
                     c.W2, c.Ws, c.scratch, c.N, c.C, c.H, c.W, c.Cr);
    CU_ASSERT(is_double_of(dx1, dx, n));
    CU_ASSERT(is_double_of(dW11, dW1, nw));
    CU_ASSERT(is_double_of(dW21, dW2, nw));
    CU_ASSERT(is_double_of(dWs1, dWs, 98));
    CU_ASSERT(is_double_of(db21, db2, c.C));
    CU_ASSERT(is_double_of(dbs1, dbs, 1));
    /* dx NULL: the parameter gradients unchanged */
    float *dWsb = falloc(98);
    tr_cbam_backward(NULL, NULL, NULL, NULL, NULL, dWsb, NULL, c.R, c.x,
                     c.cache, c.icache, c.W1, c.W2, c.Ws, c.scratch, c.N, c.C,
                     c.H, c.W, c.Cr);
    CU_ASSERT(all_close(dWsb, dWs1, 98, 1e-5));

    free(c.x); free(c.W1); free(c.b1); free(c.W2); free(c.b2); free(c.Ws);
    free(c.bs); free(c.y); free(c.cache); free(c.icache); free(c.scratch);
    free(c.R); free(want); free(ca); free(sa); free(dx); free(dW1); free(db1);
    free(dW2); free(db2); free(dWs); free(dbs); free(dx1); free(dW11);
    free(dWs1); free(dW21); free(db21); free(dbs1); free(dWsb);
}


/* ============================================ blocks of samples (big maps) */

/* SE and CBAM process the samples in blocks sized to stay in cache; with
 * C*HW large a block is one sample. A batch must give what per-sample calls
 * give (outputs, caches, accumulated gradients), and CBAM's forward what the
 * double reference gives. */
static void test_blocks(void)
{
    rng_seed(701);
    const int N = 3, C = 64, H = 24, W = 24, HW = H * W, Cr = 8;
    const int n = N * C * HW, ns = C * HW, nw = C * Cr;
    float *x = frand(n, -1, 1), *dy = frand(n, -1, 1);
    float *W1 = frand(nw, -0.3f, 0.3f), *b1 = frand(Cr, -0.2f, 0.2f);
    float *W2 = frand(nw, -0.3f, 0.3f), *b2 = frand(C, -0.2f, 0.2f);
    float *Ws = frand(98, -0.2f, 0.2f), *bs = frand(1, -0.2f, 0.2f);
    float *y = fgarbage(n), *y1 = fgarbage(n), *dx = falloc(n), *dx1 = falloc(n);
    float *g[2][5]; /* dW1 db1 dW2 db2 | dWs dbs: batched [0], per sample [1] */
    float *gs[2][2];
    for (int k = 0; k < 2; k++) {
        g[k][0] = falloc(nw); g[k][1] = falloc(Cr); g[k][2] = falloc(nw);
        g[k][3] = falloc(C); g[k][4] = NULL;
        gs[k][0] = falloc(98); gs[k][1] = falloc(1);
    }

    /* SE */
    float *cache = fgarbage((int)tr_se_cache_floats(N, C, Cr));
    float *c1 = fgarbage((int)tr_se_cache_floats(1, C, Cr));
    float *scr = fgarbage((int)tr_se_scratch_floats(N, C, Cr));
    tr_se_forward(y, cache, x, W1, b1, W2, b2, N, C, HW, Cr);
    tr_se_backward(dx, g[0][0], g[0][1], g[0][2], g[0][3], dy, x, cache, W1, W2,
                   scr, N, C, HW, Cr);
    int same_a = 1;
    for (int i = 0; i < N; i++) {
        tr_se_forward(y1 + i * ns, c1, x + i * ns, W1, b1, W2, b2, 1, C, HW, Cr);
        same_a &= memcmp(tr_se_channel_weights(c1), tr_se_channel_weights(cache) + i * C,
                         (size_t)C * sizeof(float)) == 0;
        tr_se_backward(dx1 + i * ns, g[1][0], g[1][1], g[1][2], g[1][3], dy + i * ns,
                       x + i * ns, c1, W1, W2, scr, 1, C, HW, Cr);
    }
    CU_ASSERT(same_a);
    CU_ASSERT(memcmp(y, y1, (size_t)n * sizeof(float)) == 0);
    CU_ASSERT(all_close(dx, dx1, n, 1e-6));
    CU_ASSERT(all_close(g[0][0], g[1][0], nw, 1e-6));
    CU_ASSERT(all_close(g[0][1], g[1][1], Cr, 1e-6));
    CU_ASSERT(all_close(g[0][2], g[1][2], nw, 1e-6));
    CU_ASSERT(all_close(g[0][3], g[1][3], C, 1e-6));
    CU_ASSERT(max_abs(g[0][0], nw) > 1e-3 && max_abs(dx, n) > 1e-3);
    free(cache); free(c1); free(scr);

    /* CBAM */
    for (int k = 0; k < 2; k++) {
        memset(g[k][0], 0, (size_t)nw * sizeof(float));
        memset(g[k][1], 0, (size_t)Cr * sizeof(float));
        memset(g[k][2], 0, (size_t)nw * sizeof(float));
        memset(g[k][3], 0, (size_t)C * sizeof(float));
    }
    memset(dx, 0, (size_t)n * sizeof(float));
    memset(dx1, 0, (size_t)n * sizeof(float));
    cache = fgarbage((int)tr_cbam_cache_floats(N, C, H, W, Cr));
    c1 = fgarbage((int)tr_cbam_cache_floats(1, C, H, W, Cr));
    int32_t *ic = calloc(tr_cbam_cache_ints(N, C, H, W), sizeof(int32_t));
    int32_t *ic1 = calloc(tr_cbam_cache_ints(1, C, H, W), sizeof(int32_t));
    CU_ASSERT_FATAL(ic != NULL && ic1 != NULL);
    scr = fgarbage((int)tr_cbam_scratch_floats(N, C, H, W, Cr));
    tr_cbam_forward(y, cache, ic, x, W1, b1, W2, b2, Ws, bs, scr, N, C, H, W, Cr);
    tr_cbam_backward(dx, g[0][0], g[0][1], g[0][2], g[0][3], gs[0][0], gs[0][1], dy,
                     x, cache, ic, W1, W2, Ws, scr, N, C, H, W, Cr);
    int same_w = 1;
    for (int i = 0; i < N; i++) {
        tr_cbam_forward(y1 + i * ns, c1, ic1, x + i * ns, W1, b1, W2, b2, Ws, bs, scr,
                        1, C, H, W, Cr);
        same_w &= memcmp(tr_cbam_channel_weights(c1), tr_cbam_channel_weights(cache) + i * C,
                         (size_t)C * sizeof(float)) == 0;
        same_w &= memcmp(tr_cbam_spatial_weights(c1, 1, C),
                         tr_cbam_spatial_weights(cache, N, C) + i * HW,
                         (size_t)HW * sizeof(float)) == 0;
        tr_cbam_backward(dx1 + i * ns, g[1][0], g[1][1], g[1][2], g[1][3], gs[1][0],
                         gs[1][1], dy + i * ns, x + i * ns, c1, ic1, W1, W2, Ws, scr, 1, C,
                         H, W, Cr);
    }
    CU_ASSERT(same_w);
    CU_ASSERT(memcmp(y, y1, (size_t)n * sizeof(float)) == 0);
    CU_ASSERT(all_close(dx, dx1, n, 1e-6));
    for (int k = 0; k < 4; k++)
        CU_ASSERT(all_close(g[0][k], g[1][k], k % 2 ? (k == 1 ? Cr : C) : nw, 1e-6));
    CU_ASSERT(all_close(gs[0][0], gs[1][0], 98, 1e-6));
    CU_ASSERT(all_close(gs[0][1], gs[1][1], 1, 1e-6));
    CU_ASSERT(max_abs(gs[0][0], 98) > 1e-3 && max_abs(dx, n) > 1e-3);

    /* forward against the double reference */
    cbam_ctx c = {.N = N, .C = C, .H = H, .W = W, .Cr = Cr, .x = x, .W1 = W1,
                  .b1 = b1, .W2 = W2, .b2 = b2, .Ws = Ws, .bs = bs};
    double *want = dalloc(n), *ca = dalloc(N * C), *sa = dalloc(N * HW);
    cbam_ref(want, ca, sa, &c);
    double ey = rel_diff(y, want, n);
    double eca = rel_diff(tr_cbam_channel_weights(cache), ca, N * C);
    double esa = rel_diff(tr_cbam_spatial_weights(cache, N, C), sa, N * HW);
    printf("\n      CBAM C64 24x24 forward vs double: y %.1e ca %.1e sa %.1e", ey, eca, esa);
    CU_ASSERT(ey < 1e-5 && eca < 1e-5 && esa < 1e-5);

    free(x); free(dy); free(W1); free(b1); free(W2); free(b2); free(Ws); free(bs);
    free(y); free(y1); free(dx); free(dx1); free(cache); free(c1); free(ic); free(ic1);
    free(scr); free(want); free(ca); free(sa);
    for (int k = 0; k < 2; k++) {
        for (int j = 0; j < 4; j++)
            free(g[k][j]);
        free(gs[k][0]);
        free(gs[k][1]);
    }
}

/* CBAM's channel max picks the first channel on ties (as
 * tr_channel_meanmax_forward): two equal channels and equal weights ca */
static void test_cbam_ties(void)
{
    rng_seed(711);
    const int N = 2, C = 4, H = 3, W = 5, HW = H * W, Cr = 2, n = N * C * HW;
    float *x = frand(n, -1, 1), *W1 = frand(C * Cr, -1, 1), *W2 = falloc(C * Cr);
    float *Ws = frand(98, -0.2f, 0.2f), *y = falloc(n);
    for (int k = 0; k < N; k++) /* channel 2 = channel 1 */
        memcpy(x + (k * C + 2) * HW, x + (k * C + 1) * HW, (size_t)HW * sizeof(float));
    float *cache = falloc((int)tr_cbam_cache_floats(N, C, H, W, Cr));
    int32_t *ic = calloc(tr_cbam_cache_ints(N, C, H, W), sizeof(int32_t));
    float *scr = falloc((int)tr_cbam_scratch_floats(N, C, H, W, Cr));
    CU_ASSERT_FATAL(ic != NULL);
    /* W2 = 0, no b2: ca = sigmoid(0) = 1/2 for every channel */
    tr_cbam_forward(y, cache, ic, x, W1, NULL, W2, NULL, Ws, NULL, scr, N, C, H, W, Cr);
    float *x1 = falloc(n), *m = falloc(2 * N * HW);
    int32_t arg[2 * 15];
    for (int i = 0; i < n; i++)
        x1[i] = 0.5f * x[i];
    tr_channel_meanmax_forward(m, arg, x1, N, C, HW);
    int ties = 0;
    for (int q = 0; q < N * HW; q++)
        ties += arg[q] == 1;
    CU_ASSERT(ties > 0); /* the tied pair is the max somewhere */
    CU_ASSERT(memcmp(ic + N * C, arg, sizeof arg) == 0);
    free(x); free(W1); free(W2); free(Ws); free(y); free(cache); free(ic);
    free(scr); free(x1); free(m);
}

static void test_cbam_bias(void) { cbam_case(1, 601); }
static void test_cbam_nobias(void) { cbam_case(0, 602); }

/* ========================================================== spatial transformer */

typedef struct {
    int N, C, H, W, Ho, Wo, align;
    float *theta, *grid, *x, *y, *R;
    int through_theta; /* the loss from theta (grid made from it) or from the grid itself */
} st_ctx;

static double st_loss(void *p)
{
    st_ctx *c = p;
    if (c->through_theta)
        tr_affine_grid_forward(c->grid, c->theta, c->N, c->Ho, c->Wo, c->align);
    tr_grid_sample_forward(c->y, c->x, c->grid, c->N, c->C, c->H, c->W, c->Ho, c->Wo, c->align);
    return dotd(c->y, c->R, c->N * c->C * c->Ho * c->Wo);
}

/* identity, a one-pixel shift and a quarter turn move pixels exactly */
static void test_st_values(void)
{
    rng_seed(701);
    enum { H = 5, W = 5, HW = H * W };
    float *x = frand(HW, -1, 1), *y = falloc(HW), grid[HW * 2];
    for (int align = 0; align < 2; align++) {
        const float id[6] = {1, 0, 0, 0, 1, 0};
        tr_affine_grid_forward(grid, id, 1, H, W, align);
        tr_grid_sample_forward(y, x, grid, 1, 1, H, W, H, W, align);
        for (int i = 0; i < HW; i++)
            CU_ASSERT_DOUBLE_EQUAL(y[i], x[i], 1e-5);
        /* x + 1 pixel: 2 / (W - 1) normalised with align_corners, 2 / W without */
        const float shift[6] = {1, 0, align ? 2.0f / (W - 1) : 2.0f / W, 0, 1, 0};
        tr_affine_grid_forward(grid, shift, 1, H, W, align);
        tr_grid_sample_forward(y, x, grid, 1, 1, H, W, H, W, align);
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                CU_ASSERT_DOUBLE_EQUAL(y[i * W + j], j + 1 < W ? x[i * W + j + 1] : 0.0f, 1e-5);
        /* (x, y) <- (-y, x): output (i, j) reads input (row j, column W-1-i) */
        const float turn[6] = {0, -1, 0, 1, 0, 0};
        tr_affine_grid_forward(grid, turn, 1, H, W, align);
        tr_grid_sample_forward(y, x, grid, 1, 1, H, W, H, W, align);
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                CU_ASSERT_DOUBLE_EQUAL(y[i * W + j], x[j * W + (W - 1 - i)], 1e-5);
    }
    /* half a pixel right: the mean of two neighbours; far outside: zeros */
    const float half[6] = {1, 0, 1.0f / (W - 1), 0, 1, 0}, away[6] = {1, 0, 5, 0, 1, 0};
    tr_affine_grid_forward(grid, half, 1, H, W, 1);
    tr_grid_sample_forward(y, x, grid, 1, 1, H, W, H, W, 1);
    CU_ASSERT_DOUBLE_EQUAL(y[2 * W + 1], 0.5 * (x[2 * W + 1] + x[2 * W + 2]), 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(y[2 * W + W - 1], 0.5 * x[2 * W + W - 1], 1e-5); /* half of it outside */
    tr_affine_grid_forward(grid, away, 1, H, W, 1);
    tr_grid_sample_forward(y, x, grid, 1, 1, H, W, H, W, 1);
    CU_ASSERT(all_zero(y, HW));
    free(x);
    free(y);
}

static void test_st_grads(void)
{
    for (int align = 0; align < 2; align++) {
        rng_seed(710 + (uint64_t)align);
        st_ctx c = {.N = 2, .C = 3, .H = 6, .W = 7, .Ho = 4, .Wo = 5, .align = align};
        const int nx = c.N * c.C * c.H * c.W, ny = c.N * c.C * c.Ho * c.Wo, ng = c.N * c.Ho * c.Wo * 2;
        c.x = frand(nx, -1, 1);
        c.y = falloc(ny);
        c.R = frand(ny, -1, 1);
        c.grid = falloc(ng);
        /* a grid whose pixel coordinates sit 0.2-0.8 past an integer (the
         * sampler is piecewise linear: no kink within the difference's
         * step), a few of them over the edge */
        for (int i = 0; i < ng; i++) {
            const int n = i % 2 ? c.H : c.W;
            const float pix = (float)(int)rng_unif(-1, (float)n) + rng_unif(0.2f, 0.8f);
            c.grid[i] = align ? 2.0f * pix / (float)(n - 1) - 1.0f : (2.0f * pix + 1.0f) / (float)n - 1.0f;
        }
        float *dx = falloc(nx), *dg = falloc(ng);
        st_loss(&c);
        tr_grid_sample_backward(dx, dg, c.R, c.x, c.grid, c.N, c.C, c.H, c.W, c.Ho, c.Wo, c.align);
        CU_ASSERT(grad_check_h(align ? "grid sample dx (align)" : "grid sample dx", st_loss, &c, c.x, dx, nx, GC_H) < GC_TOL);
        CU_ASSERT(grad_check_h(align ? "grid sample dgrid (align)" : "grid sample dgrid", st_loss, &c, c.grid, dg, ng,
                               1e-3f) < GC_TOL);
        /* the same sums, bit for bit, on a second call; += accumulates */
        float *dx2 = falloc(nx), *dg2 = falloc(ng);
        tr_grid_sample_backward(dx2, dg2, c.R, c.x, c.grid, c.N, c.C, c.H, c.W, c.Ho, c.Wo, c.align);
        CU_ASSERT(memcmp(dx, dx2, (size_t)nx * sizeof(float)) == 0);
        CU_ASSERT(memcmp(dg, dg2, (size_t)ng * sizeof(float)) == 0);
        tr_grid_sample_backward(dx2, dg2, c.R, c.x, c.grid, c.N, c.C, c.H, c.W, c.Ho, c.Wo, c.align);
        CU_ASSERT(is_double_of(dx, dx2, nx));
        CU_ASSERT(is_double_of(dg, dg2, ng));
        tr_grid_sample_backward(NULL, NULL, c.R, c.x, c.grid, c.N, c.C, c.H, c.W, c.Ho, c.Wo, c.align);

        /* dtheta through the grid: a small rotation, scale and shift */
        c.through_theta = 1;
        c.theta = falloc(6 * c.N);
        for (int n = 0; n < c.N; n++) {
            const float a = rng_unif(-0.4f, 0.4f), s = rng_unif(0.8f, 1.1f);
            float *t = c.theta + 6 * n;
            t[0] = s * cosf(a); t[1] = -s * sinf(a); t[2] = rng_unif(-0.2f, 0.2f);
            t[3] = s * sinf(a); t[4] = s * cosf(a); t[5] = rng_unif(-0.2f, 0.2f);
        }
        float *dth = falloc(6 * c.N);
        memset(dg, 0, (size_t)ng * sizeof(float));
        st_loss(&c);
        tr_grid_sample_backward(NULL, dg, c.R, c.x, c.grid, c.N, c.C, c.H, c.W, c.Ho, c.Wo, c.align);
        tr_affine_grid_backward(dth, dg, c.N, c.Ho, c.Wo, c.align);
        CU_ASSERT(grad_check_h(align ? "affine grid dtheta (align)" : "affine grid dtheta", st_loss, &c, c.theta, dth,
                               6 * c.N, 1e-4f) < GC_TOL);
        free(c.x); free(c.y); free(c.R); free(c.grid); free(c.theta); free(dx); free(dg); free(dx2); free(dg2); free(dth);
    }
}

static const tr_test_case cases[] = {
    {"conv2d values", test_conv_values},
    {"conv2d vs naive (both paths, += and NULL)", test_conv_reference},
    {"conv2d grad, stride 1", test_conv_grad_s1},
    {"conv2d grad, stride 2", test_conv_grad_s2},
    {"pooling values", test_pool_values},
    {"pooling grads", test_pool_grads},
    {"channel / spatial scaling", test_scale},
    {"batch norm", test_batchnorm},
    {"SE block", test_se},
    {"CBAM block (biases)", test_cbam_bias},
    {"CBAM block (no b2, bs)", test_cbam_nobias},
    {"SE, CBAM: a batch = its samples one by one", test_blocks},
    {"CBAM channel max: first channel on ties", test_cbam_ties},
    {"spatial transformer: identity, shift, quarter turn, edges", test_st_values},
    {"spatial transformer: dx, dgrid, dtheta; deterministic", test_st_grads},
    {NULL, NULL},
};

int main(void) { return tr_test_run("vision", cases); }

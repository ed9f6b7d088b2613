/* core/layers/conv.c - 2-D convolution, forward and backward (trainer/vision.h).
 *
 * Two ways to compute it, chosen from the shapes (tr_conv2d_pick):
 *  - im2col + GEMM (everything but the cases below): the samples go in
 *    groups of G, sized so that the column matrix col[Ci*K*K, G*Lo] stays in
 *    cache; one GEMM per group,
 *      out'[Co, G*Lo] = W[Co, CiKK] . col,
 *    then out' is scattered to NCHW (+ bias). Backward gathers dout the same
 *    way and runs dW += dout' . col^T and dcol = W^T . dout' (then col2im
 *    into din). The column matrix is cut from "phase planes" of the padded
 *    input (see below), Lo = Ho * Wq outputs per sample, a few junk columns
 *    included, so that building it is one memcpy per row.
 *  - direct (stride 1 with one input or one output channel: the first
 *    layer's Ci = 1, CBAM's 7x7 Ci = 2 -> Co = 1, where a GEMM would have a
 *    tiny dimension): a zero-padded copy of one sample, each plane
 *    flattened at the padded width Wp, so that every kernel tap is one long
 *    contiguous multiply-add over 16-float vectors held in registers:
 *      outp[o, i] += W[o,c,ky,kx] * pin[c, i + ky*Wp + kx],  i < Ho*Wp
 *    (columns x >= Wo of outp are junk and dropped); din is gathered the
 *    same way from a zero-framed copy of dout.
 * Multiply-adds in the direct loops are explicit fmaf(): fused on every CPU
 * (vectorised where the clone has FMA), so their bits do not depend on the
 * clone. The GEMMs are OpenBLAS' (their bits depend on its kernels). */
#include "trainer/vision.h"
#include "layers/conv.h"
#include "base/fastmath.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

/* im2col: the column matrix of one group of samples holds at most this many
 * floats (512 KiB, a quarter of a current server core's L2: measured best
 * for the stride-2 layers of a small CNN, 1 to 4 samples per GEMM) */
#ifndef COL_BUDGET
#define COL_BUDGET (128u * 1024u)
#endif

typedef struct {
    int N, Ci, Hi, Wi, Co, K, S, P, Ho, Wo;
} conv_shape;

static conv_shape shape_of(int N, int Ci, int Hi, int Wi, int Co, int K, int S,
                           int P)
{
    conv_shape s = {N, Ci, Hi, Wi, Co, K, S, P, 0, 0};
    s.Ho = tr_conv2d_out(Hi, K, S, P);
    s.Wo = tr_conv2d_out(Wi, K, S, P);
    return s;
}

static int empty(const conv_shape *s)
{
    return s->N <= 0 || s->Ci <= 0 || s->Co <= 0 || s->K <= 0 || s->S <= 0 ||
           s->Ho <= 0 || s->Wo <= 0;
}

int tr_conv2d_out(int n, int K, int S, int P)
{
    if (S <= 0 || K <= 0)
        return 0;
    int span = n + 2 * P - K;
    return span < 0 ? 0 : span / S + 1;
}

tr_conv_path tr_conv2d_pick(int Ci, int Co, int K, int S)
{
    (void)K;
    /* with one input channel (or one output channel) a GEMM has a tiny inner
     * (outer) dimension and the column matrix costs more than the math */
    if (S == 1 && (Ci == 1 || Co == 1))
        return TR_CONV_DIRECT;
    return TR_CONV_IM2COL;
}

/* ================================================================ im2col */

/* The column matrix is built from "phase planes": the zero-padded input
 * (Hp = Hi + 2P rows, Wp = Wi + 2P columns) split by the stride into S*S
 * sub-images, phase (a, b)[r][q] = padded[r*S + a][q*S + b], each Hq x Wq
 * (Hq = ceil(Hp / S), Wq = ceil(Wp / S)) and stored flat. Output (oy, ox)
 * reads, for tap (ky, kx), padded[oy*S + ky][ox*S + kx]
 *   = phase(ky % S, kx % S)[oy + ky / S][ox + kx / S],
 * so with the outputs flattened at the phase width Wq (j = oy*Wq + ox; the
 * columns ox >= Wo are junk and dropped) each row of the column matrix is
 * ONE contiguous slice of a phase plane, at offset (ky/S)*Wq + kx/S:
 *   col[(c,ky,kx), g*Lo + j] = phase_g,c(ky%S, kx%S)[j + (ky/S)*Wq + kx/S]
 * for j < Lo = Ho*Wq. im2col is then a memcpy per row (no strided gathers,
 * no per-pixel bounds), col2im an add per row, at the price of GEMM columns
 * for the Wq - Wo junk outputs per row (Wq/Wo - 1: 7% for a 3x3, stride 2,
 * pad 1 layer to 14x14, 14% to 7x7). */
typedef struct {
    int Hq, Wq;   /* phase plane */
    size_t PS;    /* floats per phase plane, with slack for the last reads */
    size_t Lo;    /* Ho * Wq: flattened outputs of one sample */
    size_t ph_sz; /* floats of one sample's phase planes: Ci * S*S * PS */
} flat_dims;

static flat_dims flat_of(const conv_shape *s)
{
    flat_dims f;
    const int S = s->S, Hp = s->Hi + 2 * s->P, Wp = s->Wi + 2 * s->P;
    f.Hq = (Hp + S - 1) / S;
    f.Wq = (Wp + S - 1) / S;
    f.Lo = (size_t)s->Ho * (size_t)f.Wq;
    /* reads reach j + (K-1)/S * (Wq + 1) for j < Lo */
    size_t reach = f.Lo + (size_t)((s->K - 1) / S) * (size_t)(f.Wq + 1);
    size_t full = (size_t)f.Hq * (size_t)f.Wq;
    f.PS = ((reach > full ? reach : full) + 15) / 16 * 16;
    f.ph_sz = (size_t)s->Ci * (size_t)S * (size_t)S * f.PS;
    return f;
}

/* samples per group */
static int group_of(const conv_shape *s)
{
    const flat_dims f = flat_of(s);
    size_t per = (size_t)s->Ci * (size_t)s->K * (size_t)s->K * f.Lo;
    size_t g = per ? COL_BUDGET / per : 1;
    if (g < 1)
        g = 1;
    if (g > (size_t)s->N)
        g = (size_t)s->N;
    /* balance: the same number of groups, as even as possible */
    size_t groups = ((size_t)s->N + g - 1) / g;
    return (int)(((size_t)s->N + groups - 1) / groups);
}

/* phase planes [G, ph_sz] | col [CiKK, G*Lo] | tmp [Co, G*Lo] */
static size_t im2col_scratch(const conv_shape *s)
{
    const flat_dims f = flat_of(s);
    size_t G = (size_t)group_of(s);
    size_t ckk = (size_t)s->Ci * (size_t)s->K * (size_t)s->K;
    return G * (f.ph_sz + f.Lo * (ckk + (size_t)s->Co));
}

/* columns q of a phase row whose input column q*S + b - P lies in [0, n) */
static void phase_range(int *lo, int *hi, int n, int nq, int b, int S, int P)
{
    int a = P - b; /* q*S >= a */
    int l = a <= 0 ? 0 : (a + S - 1) / S;
    int e = n - 1 + P - b; /* q*S <= e */
    int h = e < 0 ? 0 : e / S + 1;
    *lo = l < nq ? l : nq;
    *hi = h < nq ? h : nq;
    if (*hi < *lo)
        *hi = *lo;
}

/* ---- phase planes from / to NCHW. Stride 2 with rows of at most 32
 * floats (the usual downsampling layers) has an AVX-512 version picked at
 * run time: one masked load, two permutes and two masked stores per row
 * instead of element loops too short to vectorise. Pure data movement (and
 * adds of one value each), so both versions give the same bits.
 * -DTR_NO_AVX512 leaves it out (to test the portable code on such CPUs). */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(TR_NO_AVX512)
#include <immintrin.h>
#define TR_CONV_AVX512 1

static int avx512_ok(void) { return __builtin_cpu_supports("avx512f"); }

/* phase rows of one padded input row: the row x[0..Wi) becomes
 * d0[q] = padded[2q], d1[q] = padded[2q + 1] (q < Wq), padded[c] = x[c - P]
 * or 0 */
__attribute__((target("avx512f"))) static void
phases_s2_avx512(float *ph, const float *in, int G, const conv_shape *s,
                 const flat_dims *f)
{
    const int P = s->P, Wi = s->Wi, Hi = s->Hi, Wq = f->Wq, Hq = f->Hq;
    const size_t plane = (size_t)Hi * (size_t)Wi;
    int ie[16], io[16];
    unsigned me = 0, mo = 0;
    for (int q = 0; q < 16; q++) {
        int ce = 2 * q - P, co = 2 * q + 1 - P; /* input columns */
        ie[q] = ce >= 0 && ce < Wi ? ce : 0;
        io[q] = co >= 0 && co < Wi ? co : 0;
        me |= (unsigned)(ce >= 0 && ce < Wi && q < Wq) << q;
        mo |= (unsigned)(co >= 0 && co < Wi && q < Wq) << q;
    }
    const __m512i vie = _mm512_loadu_si512(ie), vio = _mm512_loadu_si512(io);
    const __mmask16 kq = (__mmask16)((1u << Wq) - 1u);
    const __mmask16 klo = (__mmask16)(Wi >= 16 ? 0xffffu : (1u << Wi) - 1u);
    const __mmask16 khi = (__mmask16)(Wi > 16 ? (1u << (Wi - 16)) - 1u : 0u);
    const __m512 zero = _mm512_setzero_ps();
    for (size_t gc = 0; gc < (size_t)G * (size_t)s->Ci; gc++) {
        const float *src = in + gc * plane;
        float *base = ph + gc * 4 * f->PS;
        for (int a = 0; a < 2; a++) {
            float *e = base + (size_t)(2 * a) * f->PS, *o = e + f->PS;
            for (int r = 0; r < Hq; r++) {
                const int iy = 2 * r + a - P;
                if (iy < 0 || iy >= Hi) {
                    _mm512_mask_storeu_ps(e + (size_t)r * (size_t)Wq, kq, zero);
                    _mm512_mask_storeu_ps(o + (size_t)r * (size_t)Wq, kq, zero);
                    continue;
                }
                const float *x = src + (size_t)iy * (size_t)Wi;
                const __m512 lo = _mm512_maskz_loadu_ps(klo, x);
                const __m512 hi = _mm512_maskz_loadu_ps(khi, x + 16);
                _mm512_mask_storeu_ps(e + (size_t)r * (size_t)Wq, kq,
                                      _mm512_maskz_permutex2var_ps((__mmask16)me, lo, vie, hi));
                _mm512_mask_storeu_ps(o + (size_t)r * (size_t)Wq, kq,
                                      _mm512_maskz_permutex2var_ps((__mmask16)mo, lo, vio, hi));
            }
            /* the slack past the plane */
            for (size_t i = (size_t)Hq * (size_t)Wq; i < f->PS; i++)
                e[i] = o[i] = 0.0f;
        }
    }
}

/* din rows += the input pixels of the stride-2 phase planes */
__attribute__((target("avx512f"))) static void
add_phases_s2_avx512(float *din, const float *dph, int G, const conv_shape *s,
                     const flat_dims *f)
{
    const int P = s->P, Wi = s->Wi, Hi = s->Hi, Wq = f->Wq;
    const size_t plane = (size_t)Hi * (size_t)Wi;
    /* input column ix = padded column c = ix + P: phase c & 1, column c / 2;
     * (e, o) concatenated: lane c / 2 of e, or 16 + c / 2 of o */
    int il[16], ih[16];
    for (int i = 0; i < 16; i++) {
        int c = i + P, d = i + 16 + P;
        il[i] = (c & 1) * 16 + (c / 2 < 16 ? c / 2 : 0);
        ih[i] = (d & 1) * 16 + (d / 2 < 16 ? d / 2 : 0);
    }
    const __m512i vil = _mm512_loadu_si512(il), vih = _mm512_loadu_si512(ih);
    const __mmask16 kq = (__mmask16)((1u << Wq) - 1u);
    const __mmask16 klo = (__mmask16)(Wi >= 16 ? 0xffffu : (1u << Wi) - 1u);
    const __mmask16 khi = (__mmask16)(Wi > 16 ? (1u << (Wi - 16)) - 1u : 0u);
    for (size_t gc = 0; gc < (size_t)G * (size_t)s->Ci; gc++) {
        float *dst = din + gc * plane;
        const float *base = dph + gc * 4 * f->PS;
        for (int iy = 0; iy < Hi; iy++) {
            const int r = iy + P;
            const float *e = base + (size_t)(2 * (r & 1)) * f->PS + (size_t)(r / 2) * (size_t)Wq;
            const __m512 ve = _mm512_maskz_loadu_ps(kq, e);
            const __m512 vo = _mm512_maskz_loadu_ps(kq, e + f->PS);
            float *x = dst + (size_t)iy * (size_t)Wi;
            _mm512_mask_storeu_ps(x, klo,
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(klo, x),
                                                _mm512_permutex2var_ps(ve, vil, vo)));
            if (khi)
                _mm512_mask_storeu_ps(x + 16, khi,
                                      _mm512_add_ps(_mm512_maskz_loadu_ps(khi, x + 16),
                                                    _mm512_permutex2var_ps(ve, vih, vo)));
        }
    }
}
#endif

/* the AVX-512 stride-2 versions apply: 2*Wq <= 32 and Wi + P <= 32 */
static int s2_fast(const conv_shape *s, const flat_dims *f)
{
#ifdef TR_CONV_AVX512
    return s->S == 2 && f->Wq <= 16 && s->Wi + s->P <= 32 && s->K >= 2 && avx512_ok();
#else
    (void)s;
    (void)f;
    return 0;
#endif
}

/* ph[G, Ci, S, S, PS]: the phase planes of in[G,Ci,Hi,Wi]; every float of
 * it is written (zeros in the padding and the slack) */
TR_SIMD static void build_phases(float *restrict ph, const float *restrict in,
                                 int G, const conv_shape *s, const flat_dims *f)
{
#ifdef TR_CONV_AVX512
    if (s2_fast(s, f)) {
        phases_s2_avx512(ph, in, G, s, f);
        return;
    }
#endif
    const int S = s->S, P = s->P, Wi = s->Wi, Hi = s->Hi, Wq = f->Wq, Hq = f->Hq;
    const size_t plane = (size_t)Hi * (size_t)Wi;
    for (size_t gc = 0; gc < (size_t)G * (size_t)s->Ci; gc++) {
        const float *src = in + gc * plane;
        for (int a = 0; a < S; a++)
            for (int b = 0; b < S; b++) {
                float *pl = ph + (gc * (size_t)S * (size_t)S + (size_t)(a * S + b)) * f->PS;
                int qlo, qhi;
                phase_range(&qlo, &qhi, Wi, Wq, b, S, P);
                for (int r = 0; r < Hq; r++) {
                    float *restrict d = pl + (size_t)r * (size_t)Wq;
                    const int iy = r * S + a - P;
                    if (iy < 0 || iy >= Hi) {
                        memset(d, 0, (size_t)Wq * sizeof *d);
                        continue;
                    }
                    /* d[q] = input column q * S + b - P for q in [qlo, qhi) */
                    const float *restrict x = src + (size_t)iy * (size_t)Wi +
                                              (size_t)(qlo * S + b - P);
                    for (int q = 0; q < qlo; q++)
                        d[q] = 0.0f;
                    if (S == 1)
                        memcpy(d + qlo, x, (size_t)(qhi - qlo) * sizeof *d);
                    else
                        for (int k = 0; k < qhi - qlo; k++)
                            d[qlo + k] = x[(size_t)k * (size_t)S];
                    for (int q = qhi; q < Wq; q++)
                        d[q] = 0.0f;
                }
                memset(pl + (size_t)Hq * (size_t)Wq, 0,
                       (f->PS - (size_t)Hq * (size_t)Wq) * sizeof *pl);
            }
    }
}

/* din[G,Ci,Hi,Wi] += the input pixels of the phase planes dph */
TR_SIMD static void add_phases(float *restrict din, const float *restrict dph,
                               int G, const conv_shape *s, const flat_dims *f)
{
#ifdef TR_CONV_AVX512
    if (s2_fast(s, f)) {
        add_phases_s2_avx512(din, dph, G, s, f);
        return;
    }
#endif
    const int S = s->S, P = s->P, Wi = s->Wi, Hi = s->Hi, Wq = f->Wq;
    const size_t plane = (size_t)Hi * (size_t)Wi;
    for (size_t gc = 0; gc < (size_t)G * (size_t)s->Ci; gc++) {
        float *dst = din + gc * plane;
        const float *base = dph + gc * (size_t)S * (size_t)S * f->PS;
        for (int iy = 0; iy < Hi; iy++) {
            const int r = iy + P;
            float *restrict x = dst + (size_t)iy * (size_t)Wi;
            const float *rows = base + (size_t)(r % S) * (size_t)S * f->PS +
                                (size_t)(r / S) * (size_t)Wq;
            if (S == 1) {
                const float *restrict d = rows + P;
                for (int ix = 0; ix < Wi; ix++)
                    x[ix] += d[ix];
            } else {
                for (int ix = 0; ix < Wi; ix++) {
                    const int c = ix + P;
                    x[ix] += rows[(size_t)(c % S) * f->PS + (size_t)(c / S)];
                }
            }
        }
    }
}

/* col[CiKK, G*Lo] from the phase planes ph[G, ...] */
static void im2col_flat(float *restrict col, const float *restrict ph, int G,
                        const conv_shape *s, const flat_dims *f)
{
    const int K = s->K, S = s->S, Wq = f->Wq;
    const size_t ld = (size_t)G * f->Lo;
    for (int c = 0; c < s->Ci; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                float *row = col + ((size_t)(c * K + ky) * (size_t)K + (size_t)kx) * ld;
                const size_t src = ((size_t)c * (size_t)S * (size_t)S +
                                    (size_t)(ky % S) * (size_t)S + (size_t)(kx % S)) * f->PS +
                                   (size_t)(ky / S) * (size_t)Wq + (size_t)(kx / S);
                for (int g = 0; g < G; g++)
                    memcpy(row + (size_t)g * f->Lo, ph + (size_t)g * f->ph_sz + src,
                           f->Lo * sizeof *row);
            }
}

/* dph[G, ...] = col2im of dcol[CiKK, G*Lo] onto the phase planes (every
 * float written); dcol's junk columns must be 0. The tap (ky, kx) = (a, b)
 * of phase (a, b) has offset 0 and covers [0, Lo): it is copied, the
 * others added. */
TR_SIMD static void col2im_flat(float *restrict dph, const float *restrict dcol,
                                int G, const conv_shape *s, const flat_dims *f)
{
    const int K = s->K, S = s->S, Wq = f->Wq;
    const size_t ld = (size_t)G * f->Lo;
    for (int g = 0; g < G; g++)
        for (int c = 0; c < s->Ci; c++)
            for (int a = 0; a < S; a++)
                for (int b = 0; b < S; b++) {
                    float *restrict pl = dph + (size_t)g * f->ph_sz +
                                         ((size_t)c * (size_t)S * (size_t)S +
                                          (size_t)(a * S + b)) * f->PS;
                    if (a >= K || b >= K) { /* no tap reads this phase */
                        memset(pl, 0, f->PS * sizeof *pl);
                        continue;
                    }
                    for (int ky = a; ky < K; ky += S)
                        for (int kx = b; kx < K; kx += S) {
                            const float *restrict row =
                                dcol + ((size_t)(c * K + ky) * (size_t)K + (size_t)kx) * ld +
                                (size_t)g * f->Lo;
                            if (ky == a && kx == b) {
                                memcpy(pl, row, f->Lo * sizeof *pl);
                                memset(pl + f->Lo, 0, (f->PS - f->Lo) * sizeof *pl);
                                continue;
                            }
                            float *restrict d =
                                pl + (size_t)(ky / S) * (size_t)Wq + (size_t)(kx / S);
                            for (size_t j = 0; j < f->Lo; j++)
                                d[j] += row[j];
                        }
                }
}

/* out[G,Co,Ho,Wo] = tmp[Co, G*Lo] (junk columns dropped) + b */
TR_SIMD static void scatter_out(float *restrict out, const float *restrict tmp,
                                const float *restrict b, int G,
                                const conv_shape *s, const flat_dims *f)
{
    const size_t hw = (size_t)s->Ho * (size_t)s->Wo;
    for (int g = 0; g < G; g++)
        for (int o = 0; o < s->Co; o++) {
            float *restrict d = out + ((size_t)g * (size_t)s->Co + (size_t)o) * hw;
            const float *restrict t = tmp + ((size_t)o * (size_t)G + (size_t)g) * f->Lo;
            const float bo = b ? b[o] : 0.0f;
            for (int y = 0; y < s->Ho; y++)
                for (int x = 0; x < s->Wo; x++)
                    d[(size_t)y * (size_t)s->Wo + (size_t)x] =
                        t[(size_t)y * (size_t)f->Wq + (size_t)x] + bo;
        }
}

/* tmp[Co, G*Lo] = dout[G,Co,Ho,Wo] with zeros in the junk columns;
 * db[o] += the sums */
TR_SIMD static void gather_dout(float *restrict tmp, float *restrict db,
                                const float *restrict dout, int G,
                                const conv_shape *s, const flat_dims *f)
{
    const size_t hw = (size_t)s->Ho * (size_t)s->Wo;
    const int Wo = s->Wo, Wq = f->Wq;
    for (int g = 0; g < G; g++)
        for (int o = 0; o < s->Co; o++) {
            const float *restrict d = dout + ((size_t)g * (size_t)s->Co + (size_t)o) * hw;
            float *restrict t = tmp + ((size_t)o * (size_t)G + (size_t)g) * f->Lo;
            for (int y = 0; y < s->Ho; y++) {
                for (int x = 0; x < Wo; x++)
                    t[(size_t)y * (size_t)Wq + (size_t)x] = d[(size_t)y * (size_t)Wo + (size_t)x];
                for (int x = Wo; x < Wq; x++)
                    t[(size_t)y * (size_t)Wq + (size_t)x] = 0.0f;
            }
            if (db)
                db[o] += tr_sum(d, (long)hw);
        }
}

/* What the im2col forward and backward share: the flat dimensions, the
 * group size, and the scratch cut into phase planes, columns and the GEMM's
 * output (tr_conv2d_scratch_floats sizes it). */
typedef struct {
    flat_dims f;
    int G, ckk;
    size_t in_sz, out_sz;
    float *ph, *col, *tmp;
} im2col_plan;

static im2col_plan plan_of(const conv_shape *s, float *scratch)
{
    im2col_plan q;
    q.f = flat_of(s);
    q.G = group_of(s);
    q.ckk = s->Ci * s->K * s->K;
    q.in_sz = (size_t)s->Ci * (size_t)s->Hi * (size_t)s->Wi;
    q.out_sz = (size_t)s->Co * (size_t)s->Ho * (size_t)s->Wo;
    q.ph = scratch;
    q.col = q.ph + (size_t)q.G * q.f.ph_sz;
    q.tmp = q.col + (size_t)q.G * q.f.Lo * (size_t)q.ckk;
    return q;
}

static void im2col_forward(float *out, const float *in, const float *W,
                           const float *b, float *scratch, const conv_shape *s)
{
    const im2col_plan q = plan_of(s, scratch);
    const flat_dims f = q.f;
    const int G = q.G, ckk = q.ckk;
    const size_t in_sz = q.in_sz, out_sz = q.out_sz;
    float *ph = q.ph, *col = q.col, *tmp = q.tmp;
    for (int n0 = 0; n0 < s->N; n0 += G) {
        const int g = s->N - n0 < G ? s->N - n0 : G;
        const int cols = (int)((size_t)g * f.Lo);
        build_phases(ph, in + (size_t)n0 * in_sz, g, s, &f);
        im2col_flat(col, ph, g, s, &f);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->Co, cols,
                    ckk, 1.0f, W, ckk, col, cols, 0.0f, tmp, cols);
        scatter_out(out + (size_t)n0 * out_sz, tmp, b, g, s, &f);
    }
}

static void im2col_backward(float *din, float *dW, float *db, const float *dout,
                            const float *in, const float *W, float *scratch,
                            const conv_shape *s)
{
    const im2col_plan q = plan_of(s, scratch);
    const flat_dims f = q.f;
    const int G = q.G, ckk = q.ckk;
    const size_t in_sz = q.in_sz, out_sz = q.out_sz;
    float *ph = q.ph, *col = q.col, *tmp = q.tmp;
    for (int n0 = 0; n0 < s->N; n0 += G) {
        const int g = s->N - n0 < G ? s->N - n0 : G;
        const int cols = (int)((size_t)g * f.Lo);
        gather_dout(tmp, db, dout + (size_t)n0 * out_sz, g, s, &f);
        if (dW) {
            build_phases(ph, in + (size_t)n0 * in_sz, g, s, &f);
            im2col_flat(col, ph, g, s, &f);
            /* dW[Co,CiKK] += dout'[Co,cols] . col[CiKK,cols]^T (the junk
             * columns of dout' are 0) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->Co, ckk,
                        cols, 1.0f, tmp, cols, col, cols, 1.0f, dW, ckk);
        }
        if (din) {
            /* dcol[CiKK,cols] = W[Co,CiKK]^T . dout'[Co,cols] */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, cols,
                        s->Co, 1.0f, W, ckk, tmp, cols, 0.0f, col, cols);
            col2im_flat(ph, col, g, s, &f);
            add_phases(din + (size_t)n0 * in_sz, ph, g, s, &f);
        }
    }
}

/* ================================================================ direct */

/* The direct loops use GCC/Clang vector types: 16 floats, kept in registers
 * (one AVX-512 register in the x86-64-v4 clone, two or four narrower ones
 * elsewhere). Multiply-adds are lane-wise fmaf(), one fused rounding on
 * every CPU (the FMA clones turn them into vfmadd). The helpers take and
 * give vectors by address (always inlined: registers in the end): vectors
 * passed by value draw -Wpsabi notes for the baseline target. */
typedef float v16f __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

#define TR_INLINE static inline __attribute__((always_inline))

TR_INLINE void vld(v16f *v, const float *p) { memcpy(v, p, sizeof *v); }

TR_INLINE void vst(float *p, const v16f *v) { memcpy(p, v, sizeof *v); }

TR_INLINE void vsplat(v16f *v, float x)
{
    const v16f u = {x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
    *v = u;
}

/* *acc += *a * *b, lane-wise fused */
TR_INLINE void vfma(v16f *acc, const v16f *a, const v16f *b)
{
    /* through locals: in place, the lanes would not be vectorised */
    const v16f x = *a, y = *b, c = *acc;
    v16f r;
    for (int l = 0; l < 16; l++)
        r[l] = fmaf(x[l], y[l], c[l]);
    *acc = r;
}

/* *acc += *a * p[0..16) */
TR_INLINE void vfma_ld(v16f *acc, const v16f *a, const float *p)
{
    v16f b;
    vld(&b, p);
    vfma(acc, a, &b);
}

/* the lanes' sum, in a fixed tree */
TR_INLINE float vsum(const v16f *acc)
{
    v16f v = *acc;
    for (int w = 8; w > 0; w /= 2)
        for (int l = 0; l < w; l++)
            v[l] += v[l + w];
    return v[0];
}

/* dst[0..n) = src[0..n) (+= when add): whole vectors, the last one ending at
 * n (overlapping the previous one: the same values written twice), so no
 * element loop and nothing written past n */
TR_INLINE void row_op(float *restrict dst, const float *restrict src, int n, int add)
{
#define ROW_OP(T)                                                             \
    do {                                                                      \
        const int w = (int)(sizeof(T) / sizeof(float));                       \
        int i = 0;                                                            \
        T u, v;                                                               \
        for (;; i += w) {                                                     \
            if (i + w > n)                                                    \
                i = n - w;                                                    \
            memcpy(&u, src + i, sizeof u);                                    \
            if (add) {                                                        \
                memcpy(&v, dst + i, sizeof v);                                \
                u += v;                                                       \
            }                                                                 \
            memcpy(dst + i, &u, sizeof u);                                    \
            if (i + w >= n)                                                   \
                break;                                                        \
        }                                                                     \
    } while (0)
    if (n >= 16 && !add) {
        ROW_OP(v16f);
    } else if (n >= 16) {
        /* += is not idempotent: the overlapping tail must not add twice */
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            v16f u, v;
            vld(&u, dst + i);
            vld(&v, src + i);
            u += v;
            vst(dst + i, &u);
        }
        for (; i < n; i++)
            dst[i] += src[i];
    } else if (n >= 8 && !add) {
        ROW_OP(v8f);
    } else if (n >= 4 && !add) {
        ROW_OP(v4f);
    } else {
        for (int i = 0; i < n; i++)
            dst[i] = add ? dst[i] + src[i] : src[i];
    }
#undef ROW_OP
}

/* Per sample, planes flattened at the padded width Wp:
 *   pin[Ci, plane]    the zero-padded input (plane >= Hp*Wp, with slack for
 *                     the reads of the last chunk);
 *   outp[Co, L]       forward outputs, L = Ho*Wp rounded up to 32;
 *   ext[Co, dplane]   backward: dout at [front, front + L) (junk columns and
 *                     everything else 0), front >= the largest tap offset,
 *                     so that din can be GATHERED:
 *                     dpin[c, j] = sum_{o,ky,kx} W[o,c,ky,kx] ext_o[j - off]
 *   dpin[Ci, DL]      DL = Hp*Wp rounded up to 32. */
typedef struct {
    int Hp, Wp;
    size_t L, plane, front, DL, dplane;
} direct_dims;

static direct_dims direct_of(const conv_shape *s)
{
    direct_dims d;
    d.Hp = s->Hi + 2 * s->P;
    d.Wp = s->Wi + 2 * s->P;
    const size_t off_max = (size_t)(s->K - 1) * (size_t)(d.Wp + 1);
    d.L = ((size_t)s->Ho * (size_t)d.Wp + 31) / 32 * 32;
    const size_t full = (size_t)d.Hp * (size_t)d.Wp;
    const size_t reach = d.L + off_max;
    d.plane = ((reach > full ? reach : full) + 15) / 16 * 16;
    d.front = (off_max + 15) / 16 * 16;
    d.DL = (full + 31) / 32 * 32;
    d.dplane = d.front + (d.DL > d.L ? d.DL : d.L) + 16;
    return d;
}

static size_t direct_scratch(const conv_shape *s)
{
    const direct_dims d = direct_of(s);
    const size_t fwd = (size_t)s->Ci * d.plane + (size_t)s->Co * d.L;
    const size_t bwd = (size_t)s->Ci * (d.plane + d.DL) + (size_t)s->Co * d.dplane;
    return fwd > bwd ? fwd : bwd;
}

/* pin[Ci, plane] = zero-padded copy of one sample in[Ci,Hi,Wi] */
static void pad_sample(float *restrict pin, const float *restrict in,
                       const conv_shape *s, const direct_dims *d)
{
    memset(pin, 0, (size_t)s->Ci * d->plane * sizeof *pin);
    for (int c = 0; c < s->Ci; c++)
        for (int y = 0; y < s->Hi; y++)
            row_op(pin + (size_t)c * d->plane + (size_t)(y + s->P) * (size_t)d->Wp + (size_t)s->P,
                   in + ((size_t)c * (size_t)s->Hi + (size_t)y) * (size_t)s->Wi, s->Wi, 0);
}

/* outp[o0 .. o0+4, L]: four output channels at a time share every input
 * load; eight accumulators of 16 lanes, named so they stay in registers */
TR_INLINE void fwd_block4(float *restrict outp, const float *restrict pin,
                          const float *restrict W, const float *restrict b,
                          int o0, const conv_shape *s, const direct_dims *d)
{
    const int K = s->K, Ci = s->Ci;
    const size_t KK = (size_t)K * (size_t)K, wo = (size_t)Ci * KK;
    for (size_t i0 = 0; i0 < d->L; i0 += 32) {
        v16f a0, b0, c0, d0;
        vsplat(&a0, b ? b[o0] : 0.0f);
        vsplat(&b0, b ? b[o0 + 1] : 0.0f);
        vsplat(&c0, b ? b[o0 + 2] : 0.0f);
        vsplat(&d0, b ? b[o0 + 3] : 0.0f);
        v16f a1 = a0, b1 = b0, c1 = c0, d1 = d0;
        for (int c = 0; c < Ci; c++) {
            const float *pc = pin + (size_t)c * d->plane + i0;
            const float *wc = W + (size_t)o0 * wo + (size_t)c * KK;
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) {
                    const float *p = pc + (size_t)ky * (size_t)d->Wp + (size_t)kx;
                    const float *w = wc + (size_t)(ky * K + kx);
                    v16f p0, p1, w0, w1, w2, w3;
                    vld(&p0, p);
                    vld(&p1, p + 16);
                    vsplat(&w0, w[0]);
                    vsplat(&w1, w[wo]);
                    vsplat(&w2, w[2 * wo]);
                    vsplat(&w3, w[3 * wo]);
                    vfma(&a0, &w0, &p0);
                    vfma(&a1, &w0, &p1);
                    vfma(&b0, &w1, &p0);
                    vfma(&b1, &w1, &p1);
                    vfma(&c0, &w2, &p0);
                    vfma(&c1, &w2, &p1);
                    vfma(&d0, &w3, &p0);
                    vfma(&d1, &w3, &p1);
                }
        }
        float *o = outp + (size_t)o0 * d->L + i0;
        vst(o, &a0);
        vst(o + 16, &a1);
        vst(o + d->L, &b0);
        vst(o + d->L + 16, &b1);
        vst(o + 2 * d->L, &c0);
        vst(o + 2 * d->L + 16, &c1);
        vst(o + 3 * d->L, &d0);
        vst(o + 3 * d->L + 16, &d1);
    }
}

/* the same for one output channel */
TR_INLINE void fwd_block1(float *restrict outp, const float *restrict pin,
                          const float *restrict W, const float *restrict b,
                          int o0, const conv_shape *s, const direct_dims *d)
{
    const int K = s->K, Ci = s->Ci;
    const size_t KK = (size_t)K * (size_t)K, wo = (size_t)Ci * KK;
    for (size_t i0 = 0; i0 < d->L; i0 += 32) {
        v16f a0;
        vsplat(&a0, b ? b[o0] : 0.0f);
        v16f a1 = a0;
        for (int c = 0; c < Ci; c++) {
            const float *pc = pin + (size_t)c * d->plane + i0;
            const float *wc = W + (size_t)o0 * wo + (size_t)c * KK;
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) {
                    const float *p = pc + (size_t)ky * (size_t)d->Wp + (size_t)kx;
                    v16f w;
                    vsplat(&w, wc[ky * K + kx]);
                    vfma_ld(&a0, &w, p);
                    vfma_ld(&a1, &w, p + 16);
                }
        }
        vst(outp + (size_t)o0 * d->L + i0, &a0);
        vst(outp + (size_t)o0 * d->L + i0 + 16, &a1);
    }
}

TR_SIMD static void direct_forward(float *out, const float *in, const float *W,
                                   const float *b, float *scratch,
                                   const conv_shape *s)
{
    const direct_dims d = direct_of(s);
    const size_t in_sz = (size_t)s->Ci * (size_t)s->Hi * (size_t)s->Wi;
    const size_t hw = (size_t)s->Ho * (size_t)s->Wo;
    float *pin = scratch, *outp = scratch + (size_t)s->Ci * d.plane;
    for (int n = 0; n < s->N; n++) {
        pad_sample(pin, in + (size_t)n * in_sz, s, &d);
        int o = 0;
        for (; o + 4 <= s->Co; o += 4)
            fwd_block4(outp, pin, W, b, o, s, &d);
        for (; o < s->Co; o++)
            fwd_block1(outp, pin, W, b, o, s, &d);
        for (o = 0; o < s->Co; o++) {
            float *dst = out + ((size_t)n * (size_t)s->Co + (size_t)o) * hw;
            for (int y = 0; y < s->Ho; y++)
                row_op(dst + (size_t)y * (size_t)s->Wo,
                       outp + (size_t)o * d.L + (size_t)y * (size_t)d.Wp, s->Wo, 0);
        }
    }
}

/* dW[o, c, ky, :] += sum_i g[i] * pin_c[i + ky*Wp + kx], the taps of one
 * kernel row at once (g loaded once for all of them), for K = 3 and 7 with
 * named accumulators that stay in registers; other K one tap at a time */
TR_INLINE void dw_rows3(float *restrict dWo, const float *restrict g,
                        const float *restrict pin, const conv_shape *s,
                        const direct_dims *d)
{
    for (int c = 0; c < s->Ci; c++)
        for (int ky = 0; ky < 3; ky++) {
            const float *p = pin + (size_t)c * d->plane + (size_t)ky * (size_t)d->Wp;
            v16f a0;
            vsplat(&a0, 0.0f);
            v16f a1 = a0, a2 = a0;
            for (size_t i = 0; i < d->L; i += 16) {
                v16f gv;
                vld(&gv, g + i);
                vfma_ld(&a0, &gv, p + i);
                vfma_ld(&a1, &gv, p + i + 1);
                vfma_ld(&a2, &gv, p + i + 2);
            }
            float *dw = dWo + ((size_t)c * 3 + (size_t)ky) * 3;
            dw[0] += vsum(&a0);
            dw[1] += vsum(&a1);
            dw[2] += vsum(&a2);
        }
}

TR_INLINE void dw_rows7(float *restrict dWo, const float *restrict g,
                        const float *restrict pin, const conv_shape *s,
                        const direct_dims *d)
{
    for (int c = 0; c < s->Ci; c++)
        for (int ky = 0; ky < 7; ky++) {
            const float *p = pin + (size_t)c * d->plane + (size_t)ky * (size_t)d->Wp;
            v16f a0;
            vsplat(&a0, 0.0f);
            v16f a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0;
            for (size_t i = 0; i < d->L; i += 16) {
                v16f gv;
                vld(&gv, g + i);
                vfma_ld(&a0, &gv, p + i);
                vfma_ld(&a1, &gv, p + i + 1);
                vfma_ld(&a2, &gv, p + i + 2);
                vfma_ld(&a3, &gv, p + i + 3);
                vfma_ld(&a4, &gv, p + i + 4);
                vfma_ld(&a5, &gv, p + i + 5);
                vfma_ld(&a6, &gv, p + i + 6);
            }
            float *dw = dWo + ((size_t)c * 7 + (size_t)ky) * 7;
            dw[0] += vsum(&a0);
            dw[1] += vsum(&a1);
            dw[2] += vsum(&a2);
            dw[3] += vsum(&a3);
            dw[4] += vsum(&a4);
            dw[5] += vsum(&a5);
            dw[6] += vsum(&a6);
        }
}

TR_INLINE void dw_taps(float *restrict dWo, const float *restrict g,
                       const float *restrict pin, const conv_shape *s,
                       const direct_dims *d)
{
    const size_t K = (size_t)s->K, KK = K * K;
    for (int c = 0; c < s->Ci; c++)
        for (size_t t = 0; t < KK; t++) {
            const float *p = pin + (size_t)c * d->plane + (t / K) * (size_t)d->Wp + t % K;
            v16f acc;
            vsplat(&acc, 0.0f);
            for (size_t i = 0; i < d->L; i += 16)
            {
                v16f gv;
                vld(&gv, g + i);
                vfma_ld(&acc, &gv, p + i);
            }
            dWo[(size_t)c * KK + t] += vsum(&acc);
        }
}

TR_SIMD static void direct_backward(float *din, float *dW, float *db,
                                    const float *dout, const float *in,
                                    const float *W, float *scratch,
                                    const conv_shape *s)
{
    const direct_dims d = direct_of(s);
    const int K = s->K;
    const size_t KK = (size_t)K * (size_t)K;
    const size_t in_sz = (size_t)s->Ci * (size_t)s->Hi * (size_t)s->Wi;
    const size_t hw = (size_t)s->Ho * (size_t)s->Wo;
    float *pin = scratch, *dpin = pin + (size_t)s->Ci * d.plane;
    float *ext = dpin + (size_t)s->Ci * d.DL;
    for (int n = 0; n < s->N; n++) {
        const float *dn = dout + (size_t)n * (size_t)s->Co * hw;
        /* ext: zeros but for the dout rows at [front + y*Wp, + Wo) */
        for (int o = 0; o < s->Co; o++) {
            float *e = ext + (size_t)o * d.dplane;
            const float *src = dn + (size_t)o * hw;
            memset(e, 0, d.dplane * sizeof *e);
            for (int y = 0; y < s->Ho; y++)
                row_op(e + d.front + (size_t)y * (size_t)d.Wp, src + (size_t)y * (size_t)s->Wo,
                       s->Wo, 0);
            if (db)
                db[o] += tr_sum(src, (long)hw);
        }
        if (dW) {
            pad_sample(pin, in + (size_t)n * in_sz, s, &d);
            for (int o = 0; o < s->Co; o++) {
                const float *g = ext + (size_t)o * d.dplane + d.front;
                float *dWo = dW + (size_t)o * (size_t)s->Ci * KK;
                if (K == 3)
                    dw_rows3(dWo, g, pin, s, &d);
                else if (K == 7)
                    dw_rows7(dWo, g, pin, s, &d);
                else
                    dw_taps(dWo, g, pin, s, &d);
            }
        }
        if (din) {
            /* dpin[c, j] = sum_{o, ky, kx} W[o,c,ky,kx] * dout_o[j - ky*Wp - kx] */
            for (int c = 0; c < s->Ci; c++) {
                for (size_t j0 = 0; j0 < d.DL; j0 += 32) {
                    v16f a0;
                    vsplat(&a0, 0.0f);
                    v16f a1 = a0;
                    for (int o = 0; o < s->Co; o++) {
                        const float *e = ext + (size_t)o * d.dplane + d.front + j0;
                        const float *w = W + ((size_t)o * (size_t)s->Ci + (size_t)c) * KK;
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++) {
                                v16f wv;
                                vsplat(&wv, w[ky * K + kx]);
                                const float *q = e - ((size_t)ky * (size_t)d.Wp + (size_t)kx);
                                vfma_ld(&a0, &wv, q);
                                vfma_ld(&a1, &wv, q + 16);
                            }
                    }
                    vst(dpin + (size_t)c * d.DL + j0, &a0);
                    vst(dpin + (size_t)c * d.DL + j0 + 16, &a1);
                }
                float *dst = din + (size_t)n * in_sz + (size_t)c * (size_t)s->Hi * (size_t)s->Wi;
                for (int y = 0; y < s->Hi; y++)
                    row_op(dst + (size_t)y * (size_t)s->Wi,
                           dpin + (size_t)c * d.DL + (size_t)(y + s->P) * (size_t)d.Wp + (size_t)s->P,
                           s->Wi, 1);
            }
        }
    }
}

/* ============================================================ entry points */

static tr_conv_path resolve(tr_conv_path path, const conv_shape *s)
{
    if (path == TR_CONV_AUTO)
        path = tr_conv2d_pick(s->Ci, s->Co, s->K, s->S);
    if (path == TR_CONV_DIRECT && s->S != 1)
        path = TR_CONV_IM2COL;
    return path;
}

size_t tr_conv2d_scratch_path(tr_conv_path path, int N, int Ci, int Hi, int Wi,
                              int Co, int K, int S, int P)
{
    conv_shape s = shape_of(N, Ci, Hi, Wi, Co, K, S, P);
    if (empty(&s))
        return 0;
    return resolve(path, &s) == TR_CONV_DIRECT ? direct_scratch(&s)
                                               : im2col_scratch(&s);
}

size_t tr_conv2d_scratch_floats(int N, int Ci, int Hi, int Wi, int Co, int K,
                                int S, int P)
{
    return tr_conv2d_scratch_path(TR_CONV_AUTO, N, Ci, Hi, Wi, Co, K, S, P);
}

void tr_conv2d_forward_path(tr_conv_path path, float *out, const float *in,
                            const float *W, const float *b, float *scratch,
                            int N, int Ci, int Hi, int Wi, int Co, int K, int S,
                            int P)
{
    conv_shape s = shape_of(N, Ci, Hi, Wi, Co, K, S, P);
    if (empty(&s))
        return;
    if (resolve(path, &s) == TR_CONV_DIRECT)
        direct_forward(out, in, W, b, scratch, &s);
    else
        im2col_forward(out, in, W, b, scratch, &s);
}

void tr_conv2d_backward_path(tr_conv_path path, float *din, float *dW,
                             float *db, const float *dout, const float *in,
                             const float *W, float *scratch, int N, int Ci,
                             int Hi, int Wi, int Co, int K, int S, int P)
{
    conv_shape s = shape_of(N, Ci, Hi, Wi, Co, K, S, P);
    if (empty(&s) || (!din && !dW && !db))
        return;
    if (resolve(path, &s) == TR_CONV_DIRECT)
        direct_backward(din, dW, db, dout, in, W, scratch, &s);
    else
        im2col_backward(din, dW, db, dout, in, W, scratch, &s);
}

void tr_conv2d_forward(float *out, const float *in, const float *W,
                       const float *b, float *scratch, int N, int Ci, int Hi,
                       int Wi, int Co, int K, int S, int P)
{
    tr_conv2d_forward_path(TR_CONV_AUTO, out, in, W, b, scratch, N, Ci, Hi, Wi,
                           Co, K, S, P);
}

void tr_conv2d_backward(float *din, float *dW, float *db, const float *dout,
                        const float *in, const float *W, float *scratch, int N,
                        int Ci, int Hi, int Wi, int Co, int K, int S, int P)
{
    tr_conv2d_backward_path(TR_CONV_AUTO, din, dW, db, dout, in, W, scratch, N,
                            Ci, Hi, Wi, Co, K, S, P);
}

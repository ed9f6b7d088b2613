/* core/layers/spatial_transformer.c - the spatial transformer's affine grid
 * and bilinear sampler, forward and backward (trainer/vision.h). */
#include "trainer/vision.h"

#include <math.h>

/* normalised coordinate of pixel k of n */
static float base_coord(int k, int n, int align)
{
    if (n <= 1)
        return 0.0f;
    return align ? -1.0f + 2.0f * (float)k / (float)(n - 1) : (2.0f * (float)k + 1.0f) / (float)n - 1.0f;
}

/* pixel coordinate of normalised g, and d(pixel)/d(g) */
static float unnormalize(float g, int n, int align, float *scale)
{
    *scale = align ? 0.5f * (float)(n - 1) : 0.5f * (float)n;
    return align ? (g + 1.0f) * *scale : ((g + 1.0f) * (float)n - 1.0f) * 0.5f;
}

void tr_affine_grid_forward(float *grid, const float *theta, int N, int H, int W, int align_corners)
{
    for (int n = 0; n < N; n++) {
        const float *t = theta + 6 * n;
        float *g = grid + (size_t)n * H * W * 2;
        for (int i = 0; i < H; i++) {
            const float y = base_coord(i, H, align_corners);
            for (int j = 0; j < W; j++, g += 2) {
                const float x = base_coord(j, W, align_corners);
                g[0] = t[0] * x + t[1] * y + t[2];
                g[1] = t[3] * x + t[4] * y + t[5];
            }
        }
    }
}

void tr_affine_grid_backward(float *dtheta, const float *dgrid, int N, int H, int W, int align_corners)
{
    for (int n = 0; n < N; n++) {
        const float *g = dgrid + (size_t)n * H * W * 2;
        double acc[6] = {0};
        for (int i = 0; i < H; i++) {
            const double y = base_coord(i, H, align_corners);
            for (int j = 0; j < W; j++, g += 2) {
                const double x = base_coord(j, W, align_corners);
                acc[0] += g[0] * x;
                acc[1] += g[0] * y;
                acc[2] += g[0];
                acc[3] += g[1] * x;
                acc[4] += g[1] * y;
                acc[5] += g[1];
            }
        }
        for (int k = 0; k < 6; k++)
            dtheta[6 * n + k] += (float)acc[k];
    }
}

/* The four pixels around (ix, iy) and their weights; a pixel outside the
 * image has weight 0 (and a valid index, so it can be read without a test). */
typedef struct corners {
    int idx[4];
    float w[4];
    float fx, fy; /* fractional parts (for the gradient) */
    int in[4];
} corners;

static void corners_of(corners *c, float ix, float iy, int H, int W)
{
    const float x0f = floorf(ix), y0f = floorf(iy);
    const int x0 = (int)x0f, y0 = (int)y0f;
    c->fx = ix - x0f;
    c->fy = iy - y0f;
    const int xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
    const float wx[2] = {1.0f - c->fx, c->fx}, wy[2] = {1.0f - c->fy, c->fy};
    for (int k = 0; k < 4; k++) {
        c->in[k] = xs[k] >= 0 && xs[k] < W && ys[k] >= 0 && ys[k] < H;
        c->idx[k] = c->in[k] ? ys[k] * W + xs[k] : 0;
        c->w[k] = c->in[k] ? wx[k & 1] * wy[k >> 1] : 0.0f;
    }
}

/* a grid point far outside (or NaN) reads nothing: keeps the int casts defined */
static int reads_nothing(float ix, float iy, int H, int W)
{
    return !(ix > -2.0f && ix < (float)W + 1.0f && iy > -2.0f && iy < (float)H + 1.0f);
}

void tr_grid_sample_forward(float *y, const float *x, const float *grid, int N, int C, int H, int W, int Ho, int Wo,
                            int align_corners)
{
    const size_t HW = (size_t)H * W, P = (size_t)Ho * Wo;
    for (int n = 0; n < N; n++) {
        const float *g = grid + (size_t)n * P * 2;
        for (size_t p = 0; p < P; p++) {
            float sx, sy;
            const float ix = unnormalize(g[2 * p], W, align_corners, &sx);
            const float iy = unnormalize(g[2 * p + 1], H, align_corners, &sy);
            float *yo = y + (size_t)n * C * P + p;
            if (reads_nothing(ix, iy, H, W)) {
                for (int c = 0; c < C; c++)
                    yo[(size_t)c * P] = 0.0f;
                continue;
            }
            corners k;
            corners_of(&k, ix, iy, H, W);
            const float *xc = x + (size_t)n * C * HW;
            for (int c = 0; c < C; c++, xc += HW)
                yo[(size_t)c * P] = k.w[0] * xc[k.idx[0]] + k.w[1] * xc[k.idx[1]] + k.w[2] * xc[k.idx[2]] +
                                    k.w[3] * xc[k.idx[3]];
        }
    }
}

void tr_grid_sample_backward(float *dx, float *dgrid, const float *dy, const float *x, const float *grid, int N, int C,
                             int H, int W, int Ho, int Wo, int align_corners)
{
    const size_t HW = (size_t)H * W, P = (size_t)Ho * Wo;
    for (int n = 0; n < N; n++) {
        const float *g = grid + (size_t)n * P * 2;
        const float *xn = x + (size_t)n * C * HW, *dyn = dy + (size_t)n * C * P;
        float *dxn = dx ? dx + (size_t)n * C * HW : NULL;
        for (size_t p = 0; p < P; p++) {
            float sx, sy;
            const float ix = unnormalize(g[2 * p], W, align_corners, &sx);
            const float iy = unnormalize(g[2 * p + 1], H, align_corners, &sy);
            if (reads_nothing(ix, iy, H, W))
                continue;
            corners k;
            corners_of(&k, ix, iy, H, W);
            double gx = 0.0, gy = 0.0;
            for (int c = 0; c < C; c++) {
                const float d = dyn[(size_t)c * P + p];
                const float *xc = xn + (size_t)c * HW;
                if (dxn) /* the scatter: output pixels in order, so the same sums every time */
                    for (int q = 0; q < 4; q++)
                        dxn[(size_t)c * HW + k.idx[q]] += d * k.w[q];
                if (dgrid) {
                    /* v = (1-fy)((1-fx) a + fx b) + fy((1-fx) c + fx e), a pixel outside = 0 */
                    const float a = k.in[0] ? xc[k.idx[0]] : 0.0f, b = k.in[1] ? xc[k.idx[1]] : 0.0f;
                    const float cc = k.in[2] ? xc[k.idx[2]] : 0.0f, e = k.in[3] ? xc[k.idx[3]] : 0.0f;
                    gx += (double)d * ((1.0f - k.fy) * (b - a) + k.fy * (e - cc));
                    gy += (double)d * ((1.0f - k.fx) * (cc - a) + k.fx * (e - b));
                }
            }
            if (dgrid) {
                dgrid[(size_t)n * P * 2 + 2 * p] += (float)(gx * sx);
                dgrid[(size_t)n * P * 2 + 2 * p + 1] += (float)(gy * sy);
            }
        }
    }
}

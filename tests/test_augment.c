/* tests/test_augment.c - data.flip / data.shift: every output is the image
 * under exactly one of the allowed transforms, all of them are drawn about
 * equally often, and a key always gives the same transform. */
#include "data/augment.h"
#include <math.h>
#include "tr_test.h"

#include <string.h>

enum { C = 2, H = 5, W = 6, N = C * H * W };

/* pixel values 1..N: every position distinct, 0 only where zeros came in */
static void make_image(uint8_t *px)
{
    for (int i = 0; i < N; i++)
        px[i] = (uint8_t)(i + 1);
}

/* The reference transform, written the plain way. */
static void reference(float *out, const uint8_t *px, int dy, int dx, int mirror)
{
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sx = (mirror ? W - 1 - x : x) - dx, sy = y - dy;
                out[(c * H + y) * W + x] =
                    sy >= 0 && sy < H && sx >= 0 && sx < W ? (float)px[(c * H + sy) * W + sx] * (1.0f / 255.0f) : 0.0f;
            }
}

/* Which (dy, dx, mirror) gave `out`: its index in [0, (2s+1)^2 * 2), or -1
 * if none or more than one did. */
static int which(const float *out, const uint8_t *px, int shift, int flip)
{
    float ref[N];
    int found = -1, n = 2 * shift + 1;
    for (int dy = -shift; dy <= shift; dy++)
        for (int dx = -shift; dx <= shift; dx++)
            for (int m = 0; m <= flip; m++) {
                reference(ref, px, dy, dx, m);
                if (memcmp(ref, out, sizeof ref) == 0) {
                    if (found >= 0)
                        return -1;
                    found = ((dy + shift) * n + dx + shift) * 2 + m;
                }
            }
    return found;
}

static void test_identity(void)
{
    uint8_t px[N];
    float out[N];
    make_image(px);
    tr_augment_image(out, px, C, H, W, 0, 0, 0.0, 0, 12345);
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL(out[i], (float)px[i] * (1.0f / 255.0f));
}

static void test_transforms_drawn_evenly(void)
{
    uint8_t px[N];
    float out[N];
    make_image(px);
    enum { SHIFT = 2, KINDS = 5 * 5 * 2, DRAWS = 10000 };
    int count[KINDS] = {0}, bad = 0;
    for (long k = 0; k < DRAWS; k++) {
        tr_augment_image(out, px, C, H, W, 1, SHIFT, 0.0, 0, tr_augment_key(7, 3, k));
        int w = which(out, px, SHIFT, 1);
        if (w < 0)
            bad++;
        else
            count[w]++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* 200 expected per kind; a binomial sd of ~14, so 130..270 is > 4.5 sd */
    for (int i = 0; i < KINDS; i++)
        CU_ASSERT(count[i] > 130 && count[i] < 270);

    /* flip off: never mirrored; shift 1: offsets within one pixel */
    for (long k = 0; k < 200; k++) {
        tr_augment_image(out, px, C, H, W, 0, 1, 0.0, 0, tr_augment_key(7, 3, k));
        int w = which(out, px, 1, 1);
        CU_ASSERT(w >= 0 && w % 2 == 0);
    }
}

static void test_keyed(void)
{
    uint8_t px[N];
    float a[N], b[N];
    make_image(px);
    tr_augment_image(a, px, C, H, W, 1, 2, 0.0, 0, tr_augment_key(1, 4, 99));
    tr_augment_image(b, px, C, H, W, 1, 2, 0.0, 0, tr_augment_key(1, 4, 99));
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);
    /* a new epoch, sample or seed is a new key */
    CU_ASSERT(tr_augment_key(1, 4, 99) != tr_augment_key(1, 5, 99));
    CU_ASSERT(tr_augment_key(1, 4, 99) != tr_augment_key(1, 4, 98));
    CU_ASSERT(tr_augment_key(1, 4, 99) != tr_augment_key(2, 4, 99));
    /* over epochs a sample sees several transforms */
    int seen[5 * 5 * 2] = {0}, kinds = 0;
    for (long e = 0; e < 50; e++) {
        tr_augment_image(a, px, C, H, W, 1, 2, 0.0, 0, tr_augment_key(1, e, 99));
        int w = which(a, px, 2, 1);
        CU_ASSERT_FATAL(w >= 0);
        kinds += !seen[w]++;
    }
    CU_ASSERT(kinds >= 20);
}

/* data.rotate, data.test_rotate: a quarter turn moves pixels exactly, the
 * centre stays, each draw is keyed, a held-out image by its index alone */
static void test_rotate(void)
{
    enum { S = 5, SS = S * S };
    float im[2 * SS], ref[2 * SS];
    for (int i = 0; i < 2 * SS; i++)
        ref[i] = im[i] = (float)((i * 37) % 11);
    for (int bilinear = 0; bilinear < 2; bilinear++) {
        memcpy(im, ref, sizeof im);
        tr_rotate_image(im, 2, S, S, 90.0, bilinear);
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < S; i++)
                for (int j = 0; j < S; j++) /* the top-right corner goes to the top left */
                    CU_ASSERT_DOUBLE_EQUAL(im[c * SS + i * S + j], ref[c * SS + j * S + (S - 1 - i)], 1e-4);
        memcpy(im, ref, sizeof im);
        tr_rotate_image(im, 2, S, S, 0.0, bilinear);
        for (int i = 0; i < 2 * SS; i++)
            CU_ASSERT_DOUBLE_EQUAL(im[i], ref[i], 1e-5);
        memcpy(im, ref, sizeof im); /* any angle: the centre pixel stays, the corners change */
        tr_rotate_image(im, 2, S, S, 37.0, bilinear);
        CU_ASSERT_DOUBLE_EQUAL(im[SS / 2], ref[SS / 2], 1e-4);
        CU_ASSERT_DOUBLE_EQUAL(im[SS + SS / 2], ref[SS + SS / 2], 1e-4);
        CU_ASSERT(fabs(im[0] - ref[0]) + fabs(im[S - 1] - ref[S - 1]) > 1e-3);
        /* nearest keeps the pixels' own values; bilinear mixes them */
        int own = 1;
        for (int i = 0; i < 2 * SS; i++) {
            int found = im[i] == 0.0f;
            for (int k = 0; k < 2 * SS && !found; k++)
                found = im[i] == ref[k];
            own &= found;
        }
        CU_ASSERT_EQUAL(own, !bilinear);
    }

    /* training: the same key, the same bits; the angle is drawn after the
     * shift and flip, so those stay as they were */
    uint8_t px[N];
    float a[N], b[N], c0[N];
    make_image(px);
    int moved = 0;
    for (long k = 0; k < 20; k++) {
        tr_augment_image(a, px, C, H, W, 0, 0, 30.0, 1, tr_augment_key(3, 1, k));
        tr_augment_image(b, px, C, H, W, 0, 0, 30.0, 1, tr_augment_key(3, 1, k));
        CU_ASSERT(memcmp(a, b, sizeof a) == 0);
        tr_augment_image(c0, px, C, H, W, 0, 0, 0.0, 0, tr_augment_key(3, 1, k));
        moved += memcmp(a, c0, sizeof a) != 0;
        /* shift and flip with a rotation of 0 are today's draws */
        tr_augment_image(a, px, C, H, W, 1, 2, 0.0, 0, tr_augment_key(3, 1, k));
        CU_ASSERT(which(a, px, 2, 1) >= 0);
    }
    CU_ASSERT(moved >= 18);

    /* held out: keyed by the index alone, within [-D, D] (0 keeps it) */
    uint8_t h1[2 * N], h2[2 * N], h0[2 * N];
    for (int i = 0; i < 2 * N; i++)
        h1[i] = h2[i] = h0[i] = px[i % N];
    const int64_t idx[2] = {5, 6}, idx_b[2] = {5, 7};
    tr_rotate_heldout(h1, idx, 2, C, H, W, 45.0, 0);
    tr_rotate_heldout(h2, idx_b, 2, C, H, W, 45.0, 0);
    CU_ASSERT(memcmp(h1, h2, N) == 0);          /* index 5 both times */
    CU_ASSERT(memcmp(h1 + N, h2 + N, N) != 0);  /* 6 and 7 differ */
    CU_ASSERT(memcmp(h1, px, N) != 0);
    tr_rotate_heldout(h0, idx, 2, C, H, W, 0.0, 1);
    CU_ASSERT(memcmp(h0, px, N) == 0);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"identity", test_identity},
        {"transforms drawn evenly", test_transforms_drawn_evenly},
        {"keyed", test_keyed},
        {"rotation: quarter turn, centre, keys, held-out by index", test_rotate},
    {NULL, NULL},
    };
    return tr_test_run("augment", cases);
}

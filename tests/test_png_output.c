/* tests/test_png_output.c - the PNG `trainer predict --attention` writes for
 * a 3-D map (core/programs/png_output.c): read back with libpng, the shape
 * and pixels for 1 channel (grey), 3 (RGB) and 2 (grey, stacked), one scale
 * over all channels; and a 1-channel file the trainer's own PNG reader
 * takes back. */
#include "programs/png_output.h"
#include "data/png_input.h"
#include "tr_test.h"

#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* v[c, y, x] = c * 100 + y * 10 + x - 5: every value distinct, lo -5 */
static void fill(float *v, int C, int H, int W)
{
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                v[(c * H + y) * W + x] = (float)(c * 100 + y * 10 + x - 5);
}

static uint8_t scaled(float v, float lo, float hi) { return (uint8_t)((v - lo) / (hi - lo) * 255.0f + 0.5f); }

/* the file at path as `format` pixels; *w, *h its size (NULL: unreadable) */
static uint8_t *read_back(const char *path, uint32_t format, uint32_t *w, uint32_t *h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path))
        return NULL;
    img.format = format;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    if (!px || !png_image_finish_read(&img, NULL, px, 0, NULL)) {
        free(px);
        png_image_free(&img);
        return NULL;
    }
    *w = img.width;
    *h = img.height;
    return px;
}

static void check(int C, uint32_t format, int rgb)
{
    enum { H = 4, W = 5 };
    float v[3 * H * W], lo = 0, hi = 0;
    fill(v, C, H, W);
    char path[64];
    snprintf(path, sizeof path, "/tmp/trainer-test-png-%d-%d.png", (int)getpid(), C);
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(tr_png_write_scaled(path, v, C, H, W, &lo, &hi, &err), TR_OK);
    CU_ASSERT_EQUAL(lo, -5.0f);
    CU_ASSERT_EQUAL(hi, (float)((C - 1) * 100 + 30 + 4 - 5));
    uint32_t w = 0, h = 0;
    uint8_t *px = read_back(path, format, &w, &h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(px);
    CU_ASSERT_EQUAL(w, (uint32_t)W);
    CU_ASSERT_EQUAL(h, (uint32_t)(rgb ? H : C * H));
    int bad = 0;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const size_t at = rgb ? ((size_t)y * W + x) * 3 + c : ((size_t)c * H + y) * W + x;
                bad += px[at] != scaled(v[(c * H + y) * W + x], lo, hi);
            }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(px[0], 0);                                     /* the lowest value */
    CU_ASSERT_EQUAL(px[(size_t)(rgb ? H * W * 3 : C * H * W) - 1], 255); /* the highest */
    free(px);
    if (C == 1) { /* the trainer's reader takes its own output back */
        uint8_t g[H * W];
        CU_ASSERT_EQUAL(tr_png_read_gray(g, path, H, W, &err), TR_OK);
        CU_ASSERT_EQUAL(g[0], 0);
        CU_ASSERT_EQUAL(g[H * W - 1], 255);
    }
    unlink(path);
}

static void test_grey(void) { check(1, PNG_FORMAT_GRAY, 0); }
static void test_rgb(void) { check(3, PNG_FORMAT_RGB, 1); }
static void test_stacked(void) { check(2, PNG_FORMAT_GRAY, 0); }

static void test_unwritable(void)
{
    float v[4] = {0, 1, 2, 3}, lo, hi;
    tr_error err = {0};
    CU_ASSERT_EQUAL(tr_png_write_scaled("/nonexistent-dir/x.png", v, 1, 2, 2, &lo, &hi, &err), TR_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent-dir/x.png: cannot write the PNG"));
}

static const tr_test_case cases[] = {
    {"1 channel: grey, read back by the trainer", test_grey},
    {"3 channels: RGB", test_rgb},
    {"2 channels: grey, one below the other", test_stacked},
    {"an unwritable path: one error line", test_unwritable},
    {NULL, NULL},
};

int main(void) { return tr_test_run("png_output", cases); }

/* tests/fuzz/fuzz_png.c - a PNG as a model's input (`trainer predict` on an
 * image model): any bytes, read as a 28x28 grey image. */
#include "fuzz.h"
#include "data/png_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t pixels[28 * 28];
    tr_error err = {0};
    if (tr_png_read_gray(pixels, fz_write("input.png", data, size), 28, 28, &err) != TR_OK)
        fz_check_error(&err);
    return 0;
}

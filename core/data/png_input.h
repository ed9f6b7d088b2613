/* core/data/png_input.h - grey images from PNG files (libpng). */
#ifndef TR_PNG_INPUT_H
#define TR_PNG_INPUT_H

#include <stdint.h>
#include "trainer/status.h"

/* out[height * width]: the PNG at path in 8-bit grey; it must have exactly
 * this size (one-line error naming both sizes otherwise). */
tr_status tr_png_read_gray(uint8_t *out, const char *path, int height, int width, tr_error *err);

#endif

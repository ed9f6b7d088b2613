/* core/programs/png_output.h - an image the model made (a spatial
 * transformer's output) as a grey PNG, for `trainer predict --attention`. */
#ifndef TR_PNG_OUTPUT_H
#define TR_PNG_OUTPUT_H

#include "trainer/status.h"

/* Writes v[H, W] to path, its values from min to max shown as 0..255
 * (*lo, *hi: that range). */
tr_status tr_png_write_scaled(const char *path, const float *v, int H, int W, float *lo, float *hi, tr_error *err);

#endif

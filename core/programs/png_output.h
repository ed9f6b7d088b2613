/* core/programs/png_output.h - an image the model made (a spatial
 * transformer's output) as a PNG, for `trainer predict --attention`. */
#ifndef TR_PNG_OUTPUT_H
#define TR_PNG_OUTPUT_H

#include "trainer/status.h"

/* Writes v[C, H, W] to path, its values from min to max shown as 0..255
 * (*lo, *hi: that range): an RGB image for C = 3, else a grey one of
 * C * H rows (channel c in rows c*H .. c*H + H - 1). */
tr_status tr_png_write_scaled(const char *path, const float *v, int C, int H, int W, float *lo, float *hi,
                              tr_error *err);

#endif

/* trainer/gradcheck.h - a plugin's backward pass against central
 * differences of its own loss: what `trainer gradcheck CONFIG` runs, callable
 * from a plugin author's own unit tests (link libtrainer).
 *
 * The check builds the model from a config as training does, takes the first
 * `samples` training samples as one batch (dropout and other randomness keyed
 * as in the first step, so every evaluation of the loss sees the same masks),
 * computes the analytic gradient once, then for `entries` entries of each
 * tensor the central difference
 *     n = (L(p + h) - L(p - h)) / ((float)(p + h) - (float)(p - h))
 * of the loss the plugin returns (a double). The error of an entry is
 *     |a - n| / max(|a| + |n|, floor),
 *     floor = max(1e-2 * max|a| over the tensor, 2^-23 * |L| / h)
 * The floor is the scale below which a difference is float noise. The first
 * term judges a tiny entry next to large ones on the tensor's scale. The
 * second is the float rounding of L (one unit in the last place of a float)
 * divided by the step. An entry whose error
 * exceeds the tolerance is retried at 3h, h/3, 10h, h/10, h/30 and h/100 and keeps its
 * smallest error: a step that straddles a kink (ReLU, max) or drowns in
 * rounding misleads at one step, a wrong gradient at all of them. A tensor
 * fails when its worst entry's error exceeds the tolerance.
 *
 * Entries: half spread evenly over the entries whose analytic gradient is
 * nonzero (so an embedding's checked rows are ones the batch uses), the rest
 * evenly over the whole tensor. Running statistics (tr_param_add_running)
 * are not derivatives and are skipped. */
#ifndef TRAINER_GRADCHECK_H
#define TRAINER_GRADCHECK_H

#include <stddef.h>
#include <stdio.h>
#include "trainer/export.h"
#include "trainer/status.h"

TR_EXTERN_C_BEGIN

/* Grows by appending; zero-initialise it and set size. */
typedef struct tr_gradcheck_opts {
    size_t size;            /* sizeof(tr_gradcheck_opts) */
    int samples;            /* training samples in the batch; 0: 4 */
    int entries;            /* entries checked per tensor; 0: 16 */
    const char *tensors;    /* comma-separated tensor names; NULL or "": every tensor */
    double step;            /* h; 0: 1e-2 */
    double tolerance;       /* the largest error that passes; 0: 2e-2 */
    const char *checkpoint; /* a checkpoint whose parameters to check at; NULL: the initial values */
} tr_gradcheck_opts;

/* Loads `config` with `overrides` ("key=value", as on the command line) the
 * way `trainer` does (the plugin from its folder, TRAINER_PLUGIN_PATH or a
 * path), builds the model and checks it (above). Writes one row per tensor
 * to out (NULL: nothing): name, shape, entries checked, worst error, ok or
 * FAIL (with the worst entry's index and both values). Returns the number of
 * tensors that fail (0: all pass), or -1 with err set (a bad config, data,
 * plugin, option or tensor name). */
TR_API int tr_gradcheck(const char *config, int n_overrides, char *const *overrides, const tr_gradcheck_opts *opts,
                        FILE *out, tr_error *err);

TR_EXTERN_C_END

#endif

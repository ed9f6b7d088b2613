/* core/data/augment.h - random image augmentation for training (data.flip,
 * data.shift). Each draw is keyed by (seed, epoch, sample index), so a
 * sample gets the same transform whichever rank or thread loads it. */
#ifndef TR_AUGMENT_H
#define TR_AUGMENT_H

#include <stdint.h>

/* out[C,H,W] (scaled to [0,1]) = px[C,H,W] (0..255) translated by (dy, dx),
 * each uniform in [-shift, shift], with zeros coming in at the edges (as
 * torchvision's RandomCrop(H, padding=shift)), then, if flip, mirrored left
 * to right with probability 1/2. shift 0 and flip 0 copy the image. */
void tr_augment_image(float *out, const uint8_t *px, int C, int H, int W, int flip, int shift, uint64_t key);

/* The key of one sample's transform in one epoch. */
uint64_t tr_augment_key(uint64_t seed, long epoch, long sample);

#endif

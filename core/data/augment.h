/* core/data/augment.h - random image augmentation for training (data.flip,
 * data.shift, data.rotate). Each draw is keyed by (seed, epoch, sample
 * index), so a sample gets the same transform whichever rank or thread
 * loads it; data.test_rotate's by the held-out image's index alone. */
#ifndef TR_AUGMENT_H
#define TR_AUGMENT_H

#include <stdint.h>

/* out[C,H,W] (scaled to [0,1]) = px[C,H,W] (0..255) translated by (dy, dx),
 * each uniform in [-shift, shift], with zeros coming in at the edges (as
 * torchvision's RandomCrop(H, padding=shift)), then, if flip, mirrored left
 * to right with probability 1/2, then rotated about its centre by an angle
 * uniform in [-rotate, rotate] degrees (nearest or bilinear, zeros outside:
 * as torchvision's RandomRotation). All 0 copies the image. */
void tr_augment_image(float *out, const uint8_t *px, int C, int H, int W, int flip, int shift, double rotate,
                      int bilinear, uint64_t key);

/* im[C,H,W] rotated in place about its centre by `degrees` (each pixel
 * from the nearest source pixel, as torchvision's default, or bilinear;
 * zeros outside; positive turns counterclockwise on screen: the top-right
 * corner goes to the top left at 90). */
void tr_rotate_image(float *im, int C, int H, int W, double degrees, int bilinear);

/* data.test_rotate: each of the n held-out images px[n,C,H,W] (0..255)
 * rotated in place by an angle uniform in [-degrees, degrees] drawn from its
 * index[i] in the data file alone (the same test set for every run; index
 * NULL: i). */
void tr_rotate_heldout(uint8_t *px, const int64_t *index, long n, int C, int H, int W, double degrees, int bilinear);

/* The key of one sample's transform in one epoch. */
uint64_t tr_augment_key(uint64_t seed, long epoch, long sample);

#endif

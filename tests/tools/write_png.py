#!/usr/bin/python3
"""Write one held-out image from an image model's attention.h5 as a PNG.

usage: write_png.py IMAGE_H5 GROUP INDEX OUT.png

GROUP is a step_%08d group (or 'latest' for the file's newest one); INDEX the
sample's position in it (0 .. M-1). The PNG is 8-bit greyscale (colour type
0), no interlace, written with zlib and struct only, so `trainer predict
CONFIG IMAGE.png` reads back exactly the pixels the model saw. Prints
'OUT.png: HxW greyscale, label NAME, sample_index N'; exits 2 with a
one-line error otherwise.
"""
import struct
import sys
import zlib

import h5py
import numpy as np


def fail(msg):
    print("write_png: error: %s" % msg, file=sys.stderr)
    sys.exit(2)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_gray8(pixels):
    """PNG bytes of a uint8 [H, W] array: greyscale, 8 bits, filter 0 on every row."""
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def main():
    if len(sys.argv) != 5:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    path, group, index, out = sys.argv[1:]
    try:
        index = int(index)
    except ValueError:
        fail("INDEX %r is not an integer" % index)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail("%s: %s" % (path, e))
    with f:
        if group == "latest":
            group = f.attrs.get("latest")
            if not isinstance(group, str):
                fail("%s: no 'latest' attribute" % path)
        if group not in f or not isinstance(f[group], h5py.Group):
            fail("%s: no group '%s' (groups: %s)" % (path, group, ", ".join(f.keys()) or "none"))
        g = f[group]
        if "image" not in g:
            fail("%s: group %s has no 'image' dataset (not an image model's file?)" % (path, group))
        img = g["image"]
        if img.dtype != np.uint8 or img.ndim != 4 or img.shape[1] != 1:
            fail("%s: %s/image is %s %s, want uint8 [M, 1, H, W]" % (path, group, img.dtype, img.shape))
        if not 0 <= index < img.shape[0]:
            fail("%s: INDEX %d out of range: %s/image holds %d samples" % (path, index, group, img.shape[0]))
        pixels = np.ascontiguousarray(img[index, 0])
        label = g["label_name"].asstr()[index] if "label_name" in g else "?"
        sample = int(g["sample_index"][index]) if "sample_index" in g else -1
    try:
        with open(out, "wb") as o:
            o.write(png_gray8(pixels))
    except OSError as e:
        fail("%s: %s" % (out, e.strerror))
    print("%s: %dx%d greyscale, label %s, sample_index %d" % (out, pixels.shape[0], pixels.shape[1], label, sample))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Validate an image model's attention.h5 (plugin cnn_attn) against the
layout in docs/results.md ("Image models").

usage: check_image_attention.py FILE.h5 [--attention none|se|cbam] [--samples M]

Without --attention the kind is read from the first group (block*/spatial
present: cbam; only block*/channel: se; no block* groups: none) and every
group must agree with it. Prints one 'ok: ...' line, or
'check_image_attention: FILE: <problem>' and exits 1 on the first violation.
"""
import argparse
import os
import re
import sys

import h5py
import numpy as np

ROOT_ATTRS = ["plugin", "plugin_version", "config", "axes", "latest"]
GROUP_ATTRS = {"step": np.int64, "epoch": np.int64, "exact_match": np.float64, "token_accuracy": np.float64}
IMAGE = (1, 28, 28)  # C, H, W (Fashion-MNIST)
CLASSES = 10
BLOCKS = {"block1": (32, 28), "block2": (64, 14), "block3": (128, 7)}  # channels, spatial size
BASE = ["image", "label", "predicted", "label_name", "predicted_name", "sample_index"]
KINDS = ("none", "se", "cbam")


class Bad(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Bad(msg)


def dataset(g, name):
    need(name in g and isinstance(g[name], h5py.Dataset), "%s: missing dataset '%s'" % (g.name, name))
    return g[name]


def kind_of(g):
    """The attention kind a group's block* members show (before checking them)."""
    if not any(b in g for b in BLOCKS):
        return "none"
    return "cbam" if any(b in g and isinstance(g[b], h5py.Group) and "spatial" in g[b] for b in BLOCKS) else "se"


def check_map(g, b, name, want_shape, axes):
    where = "%s/%s/%s" % (g.name, b, name)
    d = dataset(g[b], name)
    need(d.dtype == np.float32, "%s: dtype %s, want float32" % (where, d.dtype))
    need(d.shape == want_shape, "%s: shape %s, want %s" % (where, d.shape, want_shape))
    need(d.attrs.get("axes") == axes, "%s: attribute axes = %r, want %r" % (where, d.attrs.get("axes"), axes))
    a = d[()].astype(np.float64)
    need(np.isfinite(a).all(), "%s: non-finite values" % where)
    lo, hi = np.unravel_index(a.argmin(), a.shape), np.unravel_index(a.argmax(), a.shape)
    # sigmoid outputs: a float32 sigmoid saturates to exactly 0 or 1 for
    # large inputs, which a trained model reaches
    need(a[lo] >= 0.0, "%s: value %g at %s, want inside [0,1]" % (where, a[lo], list(lo)))
    need(a[hi] <= 1.0, "%s: value %g at %s, want inside [0,1]" % (where, a[hi], list(hi)))


def check_group(g, kind, samples, names, first=None):
    """Checks one step_%08d group; returns (M, kind). kind: the maps it must hold (None: any);
    first: the group kind was read from (None: --attention); names: class id -> name, shared across groups."""
    where = g.name
    need(re.fullmatch(r"step_\d{8}", g.name[1:]) is not None, "%s: group name is not step_%%08d" % where)
    for k, t in GROUP_ATTRS.items():
        need(k in g.attrs, "%s: missing attribute '%s'" % (where, k))
        v = g.attrs[k]
        need(np.ndim(v) == 0 and np.asarray(v).dtype == t,
             "%s: attribute '%s' must be a scalar %s, got %s shape %s"
             % (where, k, np.dtype(t).name, np.asarray(v).dtype, np.shape(v)))
    need(int(g.attrs["step"]) == int(g.name[6:]), "%s: attribute step=%d disagrees with the name" % (where, g.attrs["step"]))
    need(g.attrs["epoch"] >= 0, "%s: epoch %d < 0" % (where, g.attrs["epoch"]))
    scores = ("exact_match", "token_accuracy") + (("bleu",) if "bleu" in g.attrs else ())
    for k in scores:
        need(np.ndim(g.attrs[k]) == 0 and np.asarray(g.attrs[k]).dtype == np.float64,
             "%s: attribute '%s' must be a scalar float64" % (where, k))
        need(0.0 <= g.attrs[k] <= 1.0, "%s: %s = %r not in [0,1]" % (where, k, g.attrs[k]))

    need("weights" not in g, "%s: has 'weights' (a sequence model's file? see check_attention.py)" % where)
    for n in g:
        need(n in BASE or n in BLOCKS, "%s: unexpected member '%s' (want %s)" % (where, n, ", ".join(BASE + list(BLOCKS))))

    img = dataset(g, "image")
    need(img.dtype == np.uint8, "%s/image: dtype %s, want uint8" % (where, img.dtype))
    need(img.ndim == 4 and img.shape[1:] == IMAGE and img.shape[0] > 0,
         "%s/image: shape %s, want [M, %d, %d, %d] with M > 0" % ((where, img.shape) + IMAGE))
    m = img.shape[0]
    need(samples is None or m == samples, "%s/image: %d samples, want %s" % (where, m, samples))
    px = img[()]
    need(px.max() > px.min(), "%s/image: every pixel is %d" % (where, px.min()))

    ids = {}
    for name in ("label", "predicted"):
        d = dataset(g, name)
        need(d.dtype == np.int32, "%s/%s: dtype %s, want int32" % (where, name, d.dtype))
        need(d.shape == (m,), "%s/%s: shape %s, want (%d,) (from image %s)" % (where, name, d.shape, m, img.shape))
        v = d[()]
        for i in np.flatnonzero((v < 0) | (v >= CLASSES))[:1]:
            need(False, "%s/%s: sample %d has class %d, want 0..%d" % (where, name, i, v[i], CLASSES - 1))
        ids[name] = v
    for name, idname in (("label_name", "label"), ("predicted_name", "predicted")):
        d = dataset(g, name)
        info = h5py.check_string_dtype(d.dtype)
        need(info is not None and info.length is None and info.encoding == "utf-8",
             "%s/%s: dtype %s, want variable-length UTF-8 strings" % (where, name, d.dtype))
        need(d.shape == (m,), "%s/%s: shape %s, want (%d,) (from image %s)" % (where, name, d.shape, m, img.shape))
        for i, s in enumerate(d.asstr()[()]):
            need(s.strip() != "", "%s/%s: sample %d has an empty name" % (where, name, i))
            c = int(ids[idname][i])
            need(names.setdefault(c, s) == s, "%s/%s: sample %d names class %d %r, but elsewhere it is %r"
                 % (where, name, i, c, s, names[c]))
    si = dataset(g, "sample_index")
    need(si.dtype == np.int64, "%s/sample_index: dtype %s, want int64" % (where, si.dtype))
    need(si.shape == (m,), "%s/sample_index: shape %s, want (%d,)" % (where, si.shape, m))
    need((si[()] >= 0).all(), "%s/sample_index: negative index" % where)

    has = kind_of(g)
    need(kind is None or has == kind, "%s: holds %s maps, %s" % (where, has, "but %s holds %s" % (first, kind)
                                                                    if first else "want --attention %s" % kind))
    for b, (ch, hw) in BLOCKS.items():
        if has == "none":
            continue
        need(b in g and isinstance(g[b], h5py.Group), "%s: missing group '%s' (attention %s)" % (where, b, has))
        want = ["channel"] + (["spatial"] if has == "cbam" else [])
        for n in g[b]:
            need(n in want, "%s/%s: unexpected member '%s' (attention %s wants %s)" % (where, b, n, has, ", ".join(want)))
        check_map(g, b, "channel", (m, ch), "sample,channel")
        if has == "cbam":
            check_map(g, b, "spatial", (m, hw, hw), "sample,y,x")
    return m, has


def check(path, kind, samples):
    need(os.path.isfile(path), "no such file")
    need(h5py.is_hdf5(path), "not an HDF5 file")
    with h5py.File(path, "r") as f:
        for k in ROOT_ATTRS:
            need(k in f.attrs, "missing root attribute '%s'" % k)
            need(isinstance(f.attrs[k], str), "root attribute '%s' is %s, want a variable-length UTF-8 string"
                 % (k, type(f.attrs[k]).__name__))
        names = sorted(f.keys())
        for n in names:
            need(isinstance(f[n], h5py.Group), "/%s: expected only step_%%08d groups at the root" % n)
        need(names, "no evaluation groups")
        latest = f.attrs["latest"]
        need(latest in names, "root attribute latest = %r names no group" % latest)
        need(latest == names[-1], "root attribute latest = %r, but the newest group is %r" % (latest, names[-1]))
        classes, m, first = {}, None, None if kind else "/" + names[0]
        for n in names:
            mm, kind = check_group(f[n], kind, samples, classes, first)
            need(m is None or mm == m, "/%s: %d samples, but %s has %s" % (n, mm, names[0], m))
            m = mm
        g = f[latest]
        return ("ok: %s: %d groups (%s..%s), %d samples %dx%dx%d, attention %s, plugin %s %s, "
                "%d class names, latest accuracy %.4f"
                % ((path, len(names), names[0], names[-1], m) + IMAGE
                   + (kind, f.attrs["plugin"], f.attrs["plugin_version"], len(classes), g.attrs["exact_match"])))


def main():
    ap = argparse.ArgumentParser(description="Validate an image model's attention.h5 (docs/results.md).")
    ap.add_argument("file")
    ap.add_argument("--attention", choices=KINDS, help="the maps the file must hold (default: whatever the first group holds)")
    ap.add_argument("--samples", type=int, metavar="M", help="the number of samples each group must hold")
    a = ap.parse_args()
    try:
        print(check(a.file, a.attention, a.samples))
    except (Bad, OSError, KeyError) as e:
        print("check_image_attention: %s: %s" % (a.file, e), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Validate a trainer attention.h5 against the layout in docs/results.md.

usage: check_attention.py FILE.h5 [--min-groups N]

Prints one 'ok: ...' line, or 'check_attention: FILE: <problem>' and exits 1
on the first violation.
"""
import argparse
import os
import re
import sys

import h5py
import numpy as np

ROOT_ATTRS = ["plugin", "plugin_version", "config", "axes", "latest"]
GROUP_ATTRS = {"step": np.int64, "epoch": np.int64, "exact_match": np.float64, "token_accuracy": np.float64}
TOKENS = ["source_tokens", "target_tokens", "predicted_tokens"]


class Bad(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Bad(msg)


def dataset(g, name):
    need(name in g and isinstance(g[name], h5py.Dataset), "%s: missing dataset '%s'" % (g.name, name))
    return g[name]


def check_group(g, axes):
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
    if "bleu" in g.attrs:  # optional, for plugins that score BLEU
        need(np.ndim(g.attrs["bleu"]) == 0 and np.asarray(g.attrs["bleu"]).dtype == np.float64,
             "%s: attribute 'bleu' must be a scalar float64" % where)
    for k in ("exact_match", "token_accuracy") + (("bleu",) if "bleu" in g.attrs else ()):
        need(0.0 <= g.attrs[k] <= 1.0, "%s: %s = %r not in [0,1]" % (where, k, g.attrs[k]))

    w = dataset(g, "weights")
    need(w.dtype == np.float32, "%s/weights: dtype %s, want float32" % (where, w.dtype))
    need(w.ndim == 3 and min(w.shape) > 0, "%s/weights: shape %s, want non-empty [M, Ty, Tx]" % (where, w.shape))
    need(w.attrs.get("axes") == axes, "%s/weights: attribute axes = %r, want %r" % (where, w.attrs.get("axes"), axes))
    m, ty, tx = w.shape
    want = {"source_tokens": (m, tx), "target_tokens": (m, ty), "predicted_tokens": (m, ty)}
    for name in TOKENS:
        d = dataset(g, name)
        info = h5py.check_string_dtype(d.dtype)
        need(info is not None and info.length is None and info.encoding == "utf-8",
             "%s/%s: dtype %s, want variable-length UTF-8 strings" % (where, name, d.dtype))
        need(d.shape == want[name], "%s/%s: shape %s, want %s (from weights %s)" % (where, name, d.shape, want[name], w.shape))
    si = dataset(g, "sample_index")
    need(si.dtype == np.int64, "%s/sample_index: dtype %s, want int64" % (where, si.dtype))
    need(si.shape == (m,), "%s/sample_index: shape %s, want (%d,)" % (where, si.shape, m))
    need((si[()] >= 0).all(), "%s/sample_index: negative index" % where)

    a = w[()].astype(np.float64)
    need(np.isfinite(a).all(), "%s/weights: non-finite values" % where)
    need(a.min() >= 0.0 and a.max() <= 1.0 + 1e-6, "%s/weights: values outside [0,1] (min %g, max %g)" % (where, a.min(), a.max()))
    err = np.abs(a.sum(axis=-1) - 1.0)
    i, y = np.unravel_index(err.argmax(), err.shape)
    need(err[i, y] <= 1e-4, "%s/weights: row [%d, %d, :] sums to %.6f, want 1 within 1e-4" % (where, i, y, a[i, y].sum()))
    return w.shape


def check(path, min_groups):
    need(os.path.isfile(path), "no such file")
    need(h5py.is_hdf5(path), "not an HDF5 file")
    with h5py.File(path, "r") as f:
        for k in ROOT_ATTRS:
            need(k in f.attrs, "missing root attribute '%s'" % k)
            need(isinstance(f.attrs[k], str), "root attribute '%s' is %s, want a variable-length UTF-8 string"
                 % (k, type(f.attrs[k]).__name__))
        axes = f.attrs["axes"]
        need(len(axes.split(",")) == 3, "root attribute axes = %r, want three comma-separated names" % axes)
        names = sorted(f.keys())
        for n in names:
            need(isinstance(f[n], h5py.Group), "/%s: expected only step_%%08d groups at the root" % n)
        need(len(names) >= min_groups, "%d evaluation groups, want at least %d" % (len(names), min_groups))
        latest = f.attrs["latest"]
        need(latest in names, "root attribute latest = %r names no group" % latest)
        need(latest == names[-1], "root attribute latest = %r, but the newest group is %r" % (latest, names[-1]))
        shape = None
        for n in names:
            s = check_group(f[n], axes)
            need(shape is None or s == shape, "/%s/weights: shape %s differs from %s in %s" % (n, s, shape, names[0]))
            shape = s
        g = f[latest]
        return ("ok: %s: %d groups (%s..%s), %d samples, %d x %d (target x source), plugin %s %s, "
                "latest exact_match %.4f token_accuracy %.4f"
                % (path, len(names), names[0], names[-1], shape[0], shape[1], shape[2], f.attrs["plugin"],
                   f.attrs["plugin_version"], g.attrs["exact_match"], g.attrs["token_accuracy"]))


def main():
    ap = argparse.ArgumentParser(description="Validate a trainer attention.h5 (docs/results.md).")
    ap.add_argument("file")
    ap.add_argument("--min-groups", type=int, default=1, metavar="N")
    a = ap.parse_args()
    try:
        print(check(a.file, a.min_groups))
    except (Bad, OSError, KeyError) as e:
        print("check_attention: %s: %s" % (a.file, e), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

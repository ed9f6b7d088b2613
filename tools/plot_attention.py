#!/usr/bin/python3
"""Plot the attention maps a run saved in attention.h5 (docs/results.md).

usage: plot_attention.py results/RUN/attention.h5 [--group step_NNNNNNNN]
                         [--samples K] [--out DIR]

Writes DIR/attention_<step>_<i>.png for the first K samples of the group
(default: the file's 'latest' group, all samples, DIR next to the file).
"""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PAD = "<pad>"


def fail(msg):
    print("plot_attention: error: %s" % msg, file=sys.stderr)
    sys.exit(2)


def label(tok):
    return tok.replace(" ", "\u2423")


def joined(toks):
    sep = "" if all(len(t) == 1 for t in toks) else " "
    return sep.join(toks)


def load(path, group):
    if not os.path.isfile(path):
        fail("%s: no such file" % path)
    if not h5py.is_hdf5(path):
        fail("%s: not an HDF5 file" % path)
    with h5py.File(path, "r") as f:
        group = group or f.attrs.get("latest")
        if not isinstance(group, str):
            fail("%s: no 'latest' attribute; pass --group (groups: %s)" % (path, ", ".join(f.keys()) or "none"))
        if group not in f or not isinstance(f[group], h5py.Group):
            fail("%s: no group '%s' (groups: %s)" % (path, group, ", ".join(f.keys()) or "none"))
        g, d = f[group], {}
        for name in ("weights", "source_tokens", "target_tokens", "predicted_tokens", "sample_index"):
            if name not in g or not isinstance(g[name], h5py.Dataset):
                fail("%s: group %s has no dataset '%s'" % (path, group, name))
            if name.endswith("_tokens"):
                if h5py.check_string_dtype(g[name].dtype) is None:
                    fail("%s: %s/%s is not a string dataset" % (path, group, name))
                d[name] = g[name].asstr()[()]
            else:
                d[name] = g[name][()]
        step = int(g.attrs["step"]) if "step" in g.attrs else int(group.rsplit("_", 1)[-1])
    w = d["weights"]
    if w.ndim != 3:
        fail("%s: %s/weights has shape %s, want [M, Ty, Tx]" % (path, group, w.shape))
    m, ty, tx = w.shape
    want = {"source_tokens": (m, tx), "target_tokens": (m, ty), "predicted_tokens": (m, ty), "sample_index": (m,)}
    for name, shape in want.items():
        if d[name].shape != shape:
            fail("%s: %s/%s has shape %s, but weights %s wants %s" % (path, group, name, d[name].shape, w.shape, shape))
    return step, d


def plot(step, d, i, out):
    src = list(d["source_tokens"][i])
    pred = [t for t in d["predicted_tokens"][i]]
    ref = [t for t in d["target_tokens"][i]]
    w = d["weights"][i].astype(np.float64)
    # word-level models: rows after the end token are padding, not output
    while len(pred) > 1 and pred[-1] == PAD:
        pred.pop()
    w = w[:len(pred)]
    n = src.index(PAD) if PAD in src else len(src)
    cols = [label(t) for t in src[:n]]
    if n < len(src):
        w = np.concatenate([w[:, :n], w[:, n:].sum(axis=1, keepdims=True)], axis=1)
        cols.append(PAD)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.8 + 0.32 * len(cols)), 1.9 + 0.38 * len(pred)))
    im = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    words = any(len(c) > 1 for c in cols[:-1] if c != PAD)
    fig.set_figwidth(max(6.0, 1.8 + (0.45 if words else 0.32) * len(cols)))
    ax.set_xticks(range(len(cols)), cols, fontsize=10, rotation=90 if words else 0)
    ax.set_yticks(range(len(pred)), [label(t) for t in pred], fontsize=10)
    if cols[-1] == PAD:
        ax.get_xticklabels()[-1].set_rotation(90)
        ax.axvline(len(cols) - 1.5, color="white", linewidth=1)
    for tick, p, r in zip(ax.get_yticklabels(), pred, ref):
        if p != r:
            tick.set_color("red")  # differs from the reference
    ax.set_xlabel("source (input)")
    ax.set_ylabel("predicted output")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="attention weight")
    title = "%r -> %r" % (joined(src[:n]), joined([t for t in pred if t != PAD]))
    if [t for t in pred if t != PAD] != [t for t in ref if t != PAD]:
        title += "   (reference %r)" % joined([t for t in ref if t != PAD])
    ax.set_title("step %d, sample %d (dataset #%d)\n%s" % (step, i, d["sample_index"][i], title), fontsize=10)
    path = os.path.join(out, "attention_%08d_%d.png" % (step, i))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def main():
    ap = argparse.ArgumentParser(description="Plot the attention maps saved in attention.h5.")
    ap.add_argument("file")
    ap.add_argument("--group", help="evaluation group (default: the file's 'latest' attribute)")
    ap.add_argument("--samples", type=int, metavar="K", help="plot the first K samples (default: all)")
    ap.add_argument("--out", metavar="DIR", help="output folder (default: the file's folder)")
    a = ap.parse_args()
    if a.samples is not None and a.samples < 1:
        fail("--samples must be >= 1")
    step, d = load(a.file, a.group)
    out = a.out or os.path.dirname(os.path.abspath(a.file))
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        fail("%s: %s" % (out, e.strerror))
    m = d["weights"].shape[0]
    for i in range(min(m, a.samples or m)):
        print(plot(step, d, i, out))


if __name__ == "__main__":
    main()

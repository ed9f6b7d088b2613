#!/usr/bin/python3
"""Plot the attention maps a run saved in attention.h5 (docs/results.md).

usage: plot_attention.py results/RUN/attention.h5 [--group step_NNNNNNNN]
                         [--samples K] [--out DIR] [--layer NAME]

Writes DIR/attention_<step>_<i>.png for the first K samples of the group
(default: the file's 'latest' group, all samples, DIR next to the file).

Sequence models' groups (weights, *_tokens) give a heatmap of the weights;
classifiers' (weights [M, 1, Tx], text_attn) the sentence with each token
shaded by its pooling weight.
Image models' groups (an 'image' dataset, plugin cnn_attn) give the image,
each block's spatial map upsampled and blended over it (CBAM), and bar plots
of each block's channel weights (SE, CBAM); the title names the label and
the prediction.
--layer NAME (a map with axes sample,head,query,key, e.g. the transformer
plugin's layer1/self_attention, or decoder/layer2/cross_attention;
"layer1" will do) draws a grid of its heads for each sample instead:
DIR/attention_<step>_<i>_<name>.png.
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
        if "image" in g:
            return load_image(path, group, g)
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


def block_order(name):
    """block1 < block2 < ... < block10, then any other name."""
    digits = name.lstrip("abcdefghijklmnopqrstuvwxyz_")
    return (0, int(digits), name) if digits.isdigit() else (1, 0, name)


def load_image(path, group, g):
    """An image model's group (docs/results.md, "Image models")."""
    def ds(name, where=g, prefix=""):
        if name not in where or not isinstance(where[name], h5py.Dataset):
            fail("%s: group %s has no dataset '%s%s'" % (path, group, prefix, name))
        return where[name]

    img = ds("image")
    if img.dtype != np.uint8 or img.ndim != 4 or img.shape[1] not in (1, 3) or img.shape[0] < 1:
        fail("%s: %s/image is %s %s, want uint8 [M, C, H, W] with C 1 or 3" % (path, group, img.dtype, img.shape))
    m, _, h, w = img.shape
    d = {"image": img[()], "blocks": []}
    for name in ("label", "predicted", "sample_index", "label_name", "predicted_name"):
        x = ds(name)
        if x.shape != (m,):
            fail("%s: %s/%s has shape %s, but image %s wants (%d,)" % (path, group, name, x.shape, img.shape, m))
        if name.endswith("_name"):
            if h5py.check_string_dtype(x.dtype) is None:
                fail("%s: %s/%s is not a string dataset" % (path, group, name))
            d[name] = x.asstr()[()]
        else:
            d[name] = x[()]
    for b in sorted((n for n in g if isinstance(g[n], h5py.Group)), key=block_order):
        blk = {"name": b}
        for kind, nd in (("channel", 2), ("spatial", 3)):
            if kind in g[b]:
                x = ds(kind, g[b], b + "/")
                if x.ndim != nd or x.shape[0] != m or min(x.shape) < 1:
                    fail("%s: %s/%s/%s has shape %s, want [%d, %s]"
                         % (path, group, b, kind, x.shape, m, "C" if nd == 2 else "h, w"))
                blk[kind] = x[()].astype(np.float64)
        if len(blk) > 1:
            d["blocks"].append(blk)
    if "stn" in g:  # a spatial transformer (plugin stn): theta [M, 2, 3], transformed [M, C, H, W]
        theta, out = ds("theta", g["stn"], "stn/"), ds("transformed", g["stn"], "stn/")
        if theta.shape != (m, 2, 3) or out.ndim != 4 or out.shape[0] != m:
            fail("%s: %s/stn: theta %s, transformed %s; want [%d, 2, 3] and [%d, C, H, W]"
                 % (path, group, theta.shape, out.shape, m, m))
        d["stn"] = {"theta": theta[()], "transformed": out[()]}
    return (int(g.attrs["step"]) if "step" in g.attrs else int(group.rsplit("_", 1)[-1])), d


def upsample(a, h, w):
    """Bilinear resize of a 2-D map to [h, w] (pixel centres aligned, edges clamped)."""
    def axis(n_in, n_out):
        x = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0, n_in - 1)
        lo = np.floor(x).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, x - lo
    y0, y1, fy = axis(a.shape[0], h)
    x0, x1, fx = axis(a.shape[1], w)
    rows = a[y0] * (1.0 - fy)[:, None] + a[y1] * fy[:, None]
    return rows[:, x0] * (1.0 - fx) + rows[:, x1] * fx


def show_image(ax, px):
    """px: uint8 [C, H, W]."""
    if px.shape[0] == 1:
        ax.imshow(px[0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(px.transpose(1, 2, 0), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_image(step, d, i, out):
    px = d["image"][i]
    h, w = px.shape[1:]
    spatial = [b for b in d["blocks"] if "spatial" in b]
    channel = [b for b in d["blocks"] if "channel" in b]
    ok = d["label"][i] == d["predicted"][i]
    top = 1 + len(spatial)
    if channel:
        # bars side by side, each as wide as its channel count: one bar has the same width everywhere
        widths = [b["channel"].shape[1] for b in channel]
        fig = plt.figure(figsize=(max(2.9 * top, 2.2 + 0.05 * sum(widths)), 5.6))
        grid = fig.add_gridspec(2, 1, height_ratios=[3.0, 1.7], hspace=0.3)
        row = grid[0].subgridspec(1, top, wspace=0.3)
        bars = grid[1].subgridspec(1, len(channel), width_ratios=widths, wspace=0.12)
    else:
        fig = plt.figure(figsize=(2.9 * top, 3.3))
        row = fig.add_gridspec(1, top, wspace=0.3)
    ax = fig.add_subplot(row[0])
    show_image(ax, px)
    ax.set_title("input %dx%d" % (h, w), fontsize=9)
    for k, b in enumerate(spatial):
        s = b["spatial"][i]
        ax = fig.add_subplot(row[k + 1])
        show_image(ax, px)
        # colours span this map's own range: sigmoid maps often sit in a narrow band
        lo, hi = float(s.min()), float(s.max())
        im = ax.imshow(upsample(s, h, w), cmap="jet", alpha=0.5, vmin=lo, vmax=max(hi, lo + 1e-6),
                       interpolation="nearest")
        ax.set_title("%s spatial %dx%d" % (b["name"], s.shape[0], s.shape[1]), fontsize=9)
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        cb.ax.tick_params(labelsize=7)
    for k, b in enumerate(channel):
        c = b["channel"][i]
        ax = fig.add_subplot(bars[k])
        ax.bar(np.arange(len(c)), c, width=0.85, color="tab:blue")
        j = int(c.argmax())
        ax.bar([j], [c[j]], width=0.85, color="tab:red")
        ax.set_xlim(-0.7, len(c) - 0.3)
        ax.set_ylim(0.0, 1.0)
        ax.set_title("%s channel (%d); max #%d %.2f" % (b["name"], len(c), j, c[j]), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("channel", fontsize=8)
        if k == 0:
            ax.set_ylabel("weight", fontsize=8)
        else:
            ax.set_yticklabels([])
    kind = "attention " + ("cbam" if spatial else "se" if channel else "none")
    title = "step %d, sample %d (dataset #%d), %s\nlabel: %s   predicted: %s" % (
        step, i, d["sample_index"][i], kind, d["label_name"][i], d["predicted_name"][i])
    fig.suptitle(title + ("" if ok else "   (wrong)"), fontsize=10, color="black" if ok else "red",
                 y=0.99 if channel else 1.02)
    path = os.path.join(out, "attention_%08d_%d.png" % (step, i))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def grid_of(images, cols):
    """[K, C, H, W] -> one mosaic (torchvision's make_grid), each image scaled
    to [0, 1]: [rows*(H+2), cols*(W+2), 3] for 3 channels (RGB), else
    [rows*(H+2), cols*(W+2)] of the first channel."""
    images = images.astype(np.float64)
    images = images.transpose(0, 2, 3, 1) if images.shape[1] == 3 else images[:, 0]
    k, h, w = images.shape[:3]
    rows = (k + cols - 1) // cols
    m = np.ones((rows * (h + 2), cols * (w + 2)) + images.shape[3:])
    for j, a in enumerate(images):
        lo, hi = float(a.min()), float(a.max())
        r, c = divmod(j, cols)
        m[r * (h + 2) + 1:r * (h + 2) + 1 + h, c * (w + 2) + 1:c * (w + 2) + 1 + w] = (a - lo) / max(hi - lo, 1e-6)
    return m


def plot_stn(step, d, k, out):
    """The STN tutorial's figure: the first k inputs beside what the transformer made of them."""
    k = min(k, d["image"].shape[0])
    cols = int(np.ceil(np.sqrt(k)))
    fig, ax = plt.subplots(1, 2, figsize=(8, 4.3))
    for a, imgs, title in ((ax[0], d["image"][:k], "inputs"),
                           (ax[1], d["stn"]["transformed"][:k], "transformed by the STN")):
        a.imshow(grid_of(imgs, cols), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        a.set_title(title, fontsize=10)
        a.set_xticks([])
        a.set_yticks([])
    right = sum(d["label"][:k] == d["predicted"][:k])
    fig.suptitle("step %d: %d held-out images, %d of them classified right" % (step, k, right), fontsize=10)
    path = os.path.join(out, "stn_%08d.png" % step)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_words(step, d, i, out):
    """A classifier's pooling weights (Ty = 1): the sentence, each token
    shaded by its weight (darkest = the largest), the weight in % below."""
    src = list(d["source_tokens"][i])
    n = src.index(PAD) if PAD in src else len(src)
    toks = [label(t) for t in src[:n]]
    w = d["weights"][i][0][:n].astype(np.float64)
    pred, ref = label(d["predicted_tokens"][i][0]), label(d["target_tokens"][i][0])
    top = w.max() if n and w.max() > 0 else 1.0
    cmap = plt.get_cmap("Reds")
    # about 0.13 inch per character at 13 pt, plus the gaps: the row fits
    fig = plt.figure(figsize=(max(6.0, 0.3 + sum(0.13 * len(t) + 0.12 for t in toks)), 1.6))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.axis("off")
    renderer = fig.canvas.get_renderer()
    x, y = 0.01, 0.55
    for tok, wt in zip(toks, w):
        t = ax.text(x, y, tok, fontsize=13, va="center", transform=ax.transAxes,
                    bbox=dict(boxstyle="round,pad=0.25", fc=cmap(0.85 * wt / top), ec="none"),
                    color="white" if wt / top > 0.6 else "black")
        box = t.get_window_extent(renderer=renderer).transformed(ax.transAxes.inverted())
        ax.text((box.x0 + box.x1) / 2, 0.18, "%.0f" % (100 * wt), fontsize=8, ha="center", va="center",
                transform=ax.transAxes, color="gray")
        x = box.x1 + 0.15 / fig.get_figwidth()  # a 0.15 inch gap
        if x > 0.97:  # wrap would hide tokens: widen instead
            fig.set_figwidth(fig.get_figwidth() * 1.3)
            x *= 1 / 1.3
    verdict = "" if pred == ref else "   (label: %s)" % ref
    ax.text(0.01, 0.92, "step %d, sample %d (dataset #%d): predicted %s%s; attention weight in %% below each token"
            % (step, i, d["sample_index"][i], pred, verdict), fontsize=9, va="center", transform=ax.transAxes,
            color="red" if verdict else "black")
    path = os.path.join(out, "attention_%08d_%d.png" % (step, i))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def load_heads(path, group, layer):
    """Multi-head maps [M, H, Tq, Tk] (axes sample,head,query,key) and the
    query's and key's tokens: the source's for an encoder's self-attention;
    a decoder's (decoder/...) queries are the predicted tokens, its
    self-attention's keys the decoder's inputs (<s>, then the predictions)
    and its cross-attention's the source."""
    if not os.path.isfile(path) or not h5py.is_hdf5(path):
        fail("%s: not an HDF5 file" % path)
    with h5py.File(path, "r") as f:
        group = group or f.attrs.get("latest")
        if not isinstance(group, str) or group not in f:
            fail("%s: no group '%s'" % (path, group))
        g = f[group]
        names = []
        g.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and
                     o.attrs.get("axes") == "sample,head,query,key" else None)
        name = next((n for n in names if n == layer or n.rsplit("/", 1)[0] == layer), None)
        if name is None:
            fail("%s: group %s has no map '%s' with axes sample,head,query,key (maps: %s)"
                 % (path, group, layer, ", ".join(names) or "none"))
        for ds in ("source_tokens",) + (("predicted_tokens",) if name.startswith("decoder/") else ()):
            if ds not in g:
                fail("%s: group %s has no dataset '%s'" % (path, group, ds))
        w = g[name][()]
        src = g["source_tokens"].asstr()[()]
        index = g["sample_index"][()] if "sample_index" in g else np.arange(w.shape[0])
        step = int(g.attrs["step"]) if "step" in g.attrs else int(group.rsplit("_", 1)[-1])
        if name.startswith("decoder/"):
            q = g["predicted_tokens"].asstr()[()]
            k = src if name.endswith("cross_attention") else \
                np.concatenate([np.full((q.shape[0], 1), "<s>", dtype=object), q[:, :-1]], axis=1)
        else:
            q = k = src
    if w.ndim != 4 or q.shape != (w.shape[0], w.shape[2]) or k.shape != (w.shape[0], w.shape[3]):
        fail("%s: %s/%s has shape %s, its tokens %s and %s: want [M, H, Tq, Tk], [M, Tq] and [M, Tk]"
             % (path, group, name, w.shape, q.shape, k.shape))
    return step, name, w, (q, k), index


def real(toks, ends=(PAD,)):
    """the tokens up to the first padding (and through a </s>)"""
    toks = list(toks)
    for j, t in enumerate(toks):
        if t in ends:
            return toks[:j]
        if t == "</s>":
            return toks[:j + 1]
    return toks


def plot_heads(step, name, w, toks, index, i, out):
    rows, cols = real(toks[0][i]), real(toks[1][i])
    nq, nk = len(rows), len(cols)
    H = w.shape[1]
    nc = min(H, 4)
    nr = (H + nc - 1) // nc
    sw, sh = max(2.6, 0.22 * nk + 1.2), max(2.6, 0.22 * nq + 1.2)
    fig, axes = plt.subplots(nr, nc, figsize=((sw + 0.6) * nc, sh * nr + 0.6), squeeze=False)
    fig.subplots_adjust(wspace=0.55, hspace=0.45)
    top = float(w[i, :, :nq, :nk].max()) if nq and nk else 1.0  # one colour scale for all heads
    for h in range(nr * nc):
        ax = axes[h // nc][h % nc]
        if h >= H:
            ax.axis("off")
            continue
        im = ax.imshow(w[i, h, :nq, :nk], cmap="viridis", vmin=0.0, vmax=top if top > 0 else 1.0)
        ax.set_xticks(range(nk), [label(t) for t in cols], fontsize=8, rotation=90)
        ax.set_yticks(range(nq), [label(t) for t in rows], fontsize=8)
        ax.set_title("head %d" % (h + 1), fontsize=10)
    fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.02, pad=0.02, label="attention weight")
    fig.suptitle("step %d, sample %d (dataset #%d): %s, query (rows) over key (columns)"
                 % (step, i, index[i], name), fontsize=10)
    path = os.path.join(out, "attention_%08d_%d_%s.png" % (step, i, name.replace("/", "_")))
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def main():
    ap = argparse.ArgumentParser(description="Plot the attention maps saved in attention.h5.")
    ap.add_argument("file")
    ap.add_argument("--group", help="evaluation group (default: the file's 'latest' attribute)")
    ap.add_argument("--samples", type=int, metavar="K", help="plot the first K samples (default: all)")
    ap.add_argument("--out", metavar="DIR", help="output folder (default: the file's folder)")
    ap.add_argument("--layer", metavar="NAME", help="a grid of one multi-head map's heads (e.g. layer1)")
    a = ap.parse_args()
    if a.samples is not None and a.samples < 1:
        fail("--samples must be >= 1")
    out = a.out or os.path.dirname(os.path.abspath(a.file))
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        fail("%s: %s" % (out, e.strerror))
    if a.layer:
        step, name, w, toks, index = load_heads(a.file, a.group, a.layer)
        for i in range(min(w.shape[0], a.samples or w.shape[0])):
            print(plot_heads(step, name, w, toks, index, i, out))
        return
    step, d = load(a.file, a.group)
    if "stn" in d:  # one figure of them all, as the tutorial draws it
        print(plot_stn(step, d, a.samples or 16, out))
        return
    images = "image" in d
    m = d["image" if images else "weights"].shape[0]
    words = not images and d["weights"].shape[1] == 1 and d["source_tokens"].shape[1] > 1  # a classifier
    for i in range(min(m, a.samples or m)):
        print((plot_image if images else plot_words if words else plot)(step, d, i, out))


if __name__ == "__main__":
    main()

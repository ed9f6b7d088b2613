#!/usr/bin/python3
"""Plot a run's metrics.csv (docs/results.md): loss, and the evaluations.

usage: plot_metrics.py results/RUN/metrics.csv [--out FILE.png]
"""
import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLUMNS = ["step", "epoch", "loss", "lr", "grad_norm", "samples_per_s", "exact_match", "token_accuracy"]


def fail(msg):
    print("plot_metrics: error: %s" % msg, file=sys.stderr)
    sys.exit(2)


OPTIONAL = ["bleu"]  # evaluation columns only some plugins write


def read(path):
    """Return {column: [(step, value), ...]} for the non-empty cells."""
    if not os.path.isfile(path):
        fail("%s: no such file" % path)
    series = {c: [] for c in COLUMNS[1:] + OPTIONAL}
    try:
        with open(path, newline="") as f:
            r = csv.reader(f)
            header = next(r, None)
            if header is None:
                fail("%s: empty file" % path)
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                fail("%s: header lacks %s" % (path, ", ".join(missing)))
            col = {c: header.index(c) for c in COLUMNS + OPTIONAL if c in header}
            for row in r:
                if not row:
                    continue
                if len(row) != len(header):
                    fail("%s:%d: %d fields, header has %d" % (path, r.line_num, len(row), len(header)))
                for c in col:
                    v = row[col[c]]
                    try:
                        if c == "step":
                            step = int(v)
                        elif v != "":
                            series[c].append((step, float(v)))
                    except ValueError:
                        fail("%s:%d: column %s: bad number %r" % (path, r.line_num, c, v))
    except UnicodeDecodeError:
        fail("%s: not a text (UTF-8) CSV file" % path)
    except (OSError, csv.Error) as e:
        fail("%s: %s" % (path, e))
    if not any(series[c] for c in ("loss", "exact_match", "token_accuracy", "bleu")):
        fail("%s: no loss or evaluation rows" % path)
    return series


def main():
    ap = argparse.ArgumentParser(description="Plot a run's metrics.csv.")
    ap.add_argument("file")
    ap.add_argument("--out", metavar="FILE.png", help="default: metrics.png next to the csv")
    a = ap.parse_args()
    s = read(a.file)
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(a.file)), "metrics.png")
    evals = s["exact_match"] or s["token_accuracy"] or s["bleu"]
    fig, axes = plt.subplots(2 if evals else 1, 1, sharex=True, squeeze=False, figsize=(8, 6.5 if evals else 4))
    run = os.path.basename(os.path.dirname(os.path.abspath(a.file)))
    ax = axes[0][0]
    loss = [(x, y) for x, y in s["loss"] if y > 0]
    if loss:
        ax.plot(*zip(*loss), marker="." if len(loss) < 30 else None, label="loss")
        ax.set_yscale("log")
    ax.set_ylabel("training loss (log)")
    ax.set_title("%s: %d logged steps, %d evaluations" % (run, len(s["loss"]), len(evals)))
    ax.grid(True, which="both", alpha=0.3)
    if evals:
        ax = axes[1][0]
        for c in ("exact_match", "token_accuracy", "bleu"):
            if s[c]:
                ax.plot(*zip(*s[c]), marker="o", label=c.replace("_", " ") if c != "bleu" else "BLEU-4")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("held-out score")
        ax.legend(loc="best")
        ax.grid(True, alpha=0.3)
    axes[-1][0].set_xlabel("step")
    try:
        fig.savefig(out, dpi=110, bbox_inches="tight")
    except OSError as e:
        fail("%s: %s" % (out, e.strerror or e))
    print(out)


if __name__ == "__main__":
    main()

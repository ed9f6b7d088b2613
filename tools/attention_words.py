#!/usr/bin/python3
"""Which words a text classifier's attention pooling looks at (docs/results.md).

usage: attention_words.py results/RUN/attention.h5 [--group step_NNNNNNNN]
                          [--show N] [--top K] [--lexicon TRAIN.tsv]
                          [--min-mass X]

Prints the first N saved held-out sentences (default 5) with their label, the
prediction and their K heaviest tokens (default 3), in % of the sentence's
attention weight.

--lexicon TRAIN.tsv (written by `trainer eval CONFIG --split train --out
TRAIN.tsv`) also measures how much of the weight lands on polar words: words
in at least 4 training sentences whose smoothed log-odds for one class against
the others, log((n_c + 1) / (N_c + 2)) - log((n_rest + 1) / (N_rest + 2)), is
at least 1.5 (n: training sentences with the word, N: all of them). It reads
the training text with the trainer's `words` tokenizer (docs/config.md), lower-
cased. With --min-mass X it exits 1 when the mean share of the weight on polar
words, over the saved sentences that have one, is below X.
"""
import argparse
import collections
import math
import re
import sys

import h5py
import numpy as np

PAD = "<pad>"
# the `words` tokenizer: runs of letters, digits, '_' and non-ASCII bytes with
# inner apostrophes kept; any other non-blank byte is a token of its own
TOKEN = re.compile(rb"[A-Za-z0-9_\x80-\xff]+(?:'[A-Za-z0-9_\x80-\xff]+)*|[^ \t\r\n]")


def fail(msg):
    print("attention_words: error: %s" % msg, file=sys.stderr)
    sys.exit(2)


def words(text):
    return [t.decode("utf-8", "replace") for t in TOKEN.findall(text.lower().encode("utf-8"))]


def load(path, group):
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail("%s: %s" % (path, e))
    with f:
        group = group or f.attrs.get("latest")
        if not isinstance(group, str) or group not in f:
            fail("%s: no group %r (groups: %s)" % (path, group, ", ".join(f.keys()) or "none"))
        g = f[group]
        for name in ("weights", "source_tokens", "target_tokens", "predicted_tokens", "sample_index"):
            if name not in g:
                fail("%s: %s has no dataset '%s'" % (path, group, name))
        w = g["weights"][()]
        if w.ndim != 3 or w.shape[1] != 1:
            fail("%s: %s/weights has shape %s: not a classifier's [M, 1, Tx] pooling weights" % (path, group, w.shape))
        return (group, w[:, 0, :].astype(np.float64), g["source_tokens"].asstr()[()],
                g["target_tokens"].asstr()[()][:, 0], g["predicted_tokens"].asstr()[()][:, 0], g["sample_index"][()])


def lexicon(path):
    """Polar words of the training split: {word: the class it leans to}."""
    try:
        lines = open(path, encoding="utf-8").read().split("\n")
    except OSError as e:
        fail("%s: %s" % (path, e))
    if not lines or lines[0].split("\t")[:3] != ["index", "source", "target"]:
        fail("%s:1: not a `trainer eval --out` table (header index, source, target, ...)" % path)
    seen = collections.defaultdict(collections.Counter)  # word -> class -> sentences
    per_class = collections.Counter()
    for k, line in enumerate(lines[1:], 2):
        if not line:
            continue
        cols = line.split("\t")
        if len(cols) < 3:
            fail("%s:%d: fewer than 3 columns" % (path, k))
        per_class[cols[2]] += 1
        for t in set(words(cols[1])):
            seen[t][cols[2]] += 1
    total = sum(per_class.values())
    lex = {}
    for t, by in seen.items():
        if sum(by.values()) < 4:
            continue
        for c, nc in per_class.items():
            n_in, n_rest = by[c], sum(by.values()) - by[c]
            lo = math.log((n_in + 1) / (nc + 2)) - math.log((n_rest + 1) / (total - nc + 2))
            if lo >= 1.5:
                lex[t] = c
    return lex, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--group")
    ap.add_argument("--show", type=int, default=5)
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--lexicon")
    ap.add_argument("--min-mass", type=float)
    a = ap.parse_args()
    group, w, src, tgt, pred, index = load(a.file, a.group)
    print("%s, group %s: %d saved held-out sentences; weights in %% of each sentence's attention"
          % (a.file, group, len(w)))
    for i in range(min(a.show, len(w))):
        n = sum(1 for t in src[i] if t != PAD)
        top = np.argsort(-w[i, :n], kind="stable")[:a.top]
        print("#%d [%s -> %s] %s\n    top: %s" % (index[i], tgt[i], pred[i], " ".join(src[i][:n]),
              ", ".join("%s %.0f%%" % (src[i][j], 100 * w[i, j]) for j in top)))
    if not a.lexicon:
        return 0
    lex, ntrain = lexicon(a.lexicon)
    mass, share, top1 = [], [], []
    for i in range(len(w)):
        real = [j for j, t in enumerate(src[i]) if t != PAD]
        on = [j for j in real if src[i][j] in lex]
        if not on:
            continue
        mass.append(w[i, on].sum())
        share.append(len(on) / len(real))
        top1.append(src[i][int(np.argmax(w[i]))] in lex)
    if not mass:
        fail("no saved sentence has a polar word (%d of them in %d training sentences)" % (len(lex), ntrain))
    m = float(np.mean(mass))
    print("polar words: %d (log-odds >= 1.5, in >= 4 of %d training sentences); %d of %d saved sentences have one"
          % (len(lex), ntrain, len(mass), len(w)))
    print("attention on polar words: %.1f%% of the weight (they are %.1f%% of the tokens); "
          "the heaviest token is one in %.1f%% of those sentences" % (100 * m, 100 * np.mean(share), 100 * np.mean(top1)))
    if a.min_mass is not None and m < a.min_mass:
        print("FAIL: %.3f of the weight on polar words < %.3f" % (m, a.min_mass))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

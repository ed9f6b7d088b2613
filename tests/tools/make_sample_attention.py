#!/usr/bin/python3
"""Write a small valid attention.h5 and metrics.csv (docs/results.md) to OUTDIR.

usage: make_sample_attention.py OUTDIR [--break rows|missing]

Two evaluation groups, M=3 samples, Ty=5, Tx=41, character tokens as the
time_attn model sees them. --break writes a file that check_attention.py must
reject: 'rows' (attention rows not summing to 1) or 'missing' (no
predicted_tokens in the latest group).
"""
import argparse
import os

import h5py
import numpy as np

CONFIG = """run:
  name: time
model:
  plugin: time_attn
data:
  src_len: 41
  tgt_len: 5
eval:
  attention_samples: 3
"""
TX, TY, PAD = 41, 5, "<pad>"
SAMPLES = [  # (dataset index, input, reference, prediction at the last step)
    (8012, "ten past six pm", "18:10", "18:10"),
    (8100, "48 min before 10 a.m", "09:12", "09:12"),
    (9377, "quarter to eight p.m.", "19:45", "19:46"),
]


def tokens(text, n):
    return list(text[:n]) + [PAD] * (n - min(len(text), n))


def softmax_rows(rng, m, src_len):
    """Rows peaked on a few real positions, a little weight on the padding."""
    logits = rng.normal(0.0, 1.0, (m, TY, TX))
    for i, n in enumerate(src_len):
        logits[i, :, n:] -= 4.0
        for y in range(TY):
            logits[i, y, rng.integers(0, n)] += 5.0
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def write_h5(path, breakage):
    rng = np.random.default_rng(1)
    sdt = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        f.attrs["plugin"] = "time_attn"
        f.attrs["plugin_version"] = "1.0.0"
        f.attrs["config"] = CONFIG
        f.attrs["axes"] = "sample,target,source"
        for step, epoch, em, ta in [(1200, 15, 0.61, 0.87), (2400, 30, 0.985, 0.996)]:
            g = f.create_group("step_%08d" % step)
            g.attrs["step"] = np.int64(step)
            g.attrs["epoch"] = np.int64(epoch)
            g.attrs["exact_match"] = np.float64(em)
            g.attrs["token_accuracy"] = np.float64(ta)
            w = softmax_rows(rng, len(SAMPLES), [len(s[1]) for s in SAMPLES])
            if breakage == "rows" and step == 2400:
                w[1, 2, :] *= 0.5
            d = g.create_dataset("weights", data=w)
            d.attrs["axes"] = "sample,target,source"
            pred = [s[3] if step == 2400 else s[3][:3] + "00" for s in SAMPLES]
            g.create_dataset("source_tokens", data=np.array([tokens(s[1], TX) for s in SAMPLES], dtype=object), dtype=sdt)
            g.create_dataset("target_tokens", data=np.array([tokens(s[2], TY) for s in SAMPLES], dtype=object), dtype=sdt)
            if not (breakage == "missing" and step == 2400):
                g.create_dataset("predicted_tokens", data=np.array([tokens(p, TY) for p in pred], dtype=object), dtype=sdt)
            g.create_dataset("sample_index", data=np.array([s[0] for s in SAMPLES], dtype=np.int64))
        f.attrs["latest"] = "step_%08d" % 2400


def write_csv(path):
    with open(path, "w") as f:
        f.write("step,epoch,loss,lr,grad_norm,samples_per_s,exact_match,token_accuracy,bleu\n")
        for step in range(80, 2401, 80):
            loss = 2.3 * np.exp(-step / 400.0) + 0.01
            lr = 0.05 / (1 + 0.04 * step)
            f.write("%d,%d,%.6f,%.6f,%.6f,%.1f,,,\n" % (step, step // 80, loss, lr, 0.5 + 1.0 / (1 + step / 200), 21000.0))
            if step in (1200, 2400):
                em, ta = (0.61, 0.87) if step == 1200 else (0.985, 0.996)
                f.write("%d,%d,,,,,%.6f,%.6f,\n" % (step, step // 80, em, ta))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--break", dest="breakage", choices=["rows", "missing"])
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    h5, csv = os.path.join(a.outdir, "attention.h5"), os.path.join(a.outdir, "metrics.csv")
    write_h5(h5, a.breakage)
    write_csv(csv)
    print(h5)
    print(csv)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""PyTorch twin of the trainer's Fashion-MNIST CNN with optional SE or CBAM
attention, trained standalone.

Data: the gzipped IDX files of Debian's dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist/, --data DIR): 60,000 training and 10,000
test images of 28x28, NCHW float32, pixels / 255 in [0, 1] (no other
normalisation), labels 0..9. Images are kept as uint8 and scaled per batch.

Model (--attention none|se|cbam, --norm none|batch):
  conv3x3( 1-> 32, stride 1, pad 1) [+BN] + ReLU -> attention   [N, 32,28,28]
  conv3x3(32-> 64, stride 2, pad 1) [+BN] + ReLU -> attention   [N, 64,14,14]
  conv3x3(64->128, stride 2, pad 1) [+BN] + ReLU -> attention   [N,128, 7, 7]
  global average pool -> Linear(128->10) -> softmax cross-entropy (batch mean)
  SE(C):   s = sigmoid(Linear(C/8->C)(ReLU(Linear(C->C/8)(avgpool(x))))),
           x * s per channel
  CBAM(C): channel attention: the average- and max-pooled descriptors [N,C]
           through ONE shared MLP Linear(C->C/8), ReLU, Linear(C/8->C),
           summed, sigmoid, x * s per channel; then spatial attention:
           [mean over C, max over C] -> [N,2,H,W] -> Conv2d(2->1, 7x7,
           pad 3) -> sigmoid, x * m per pixel.
  BN: BatchNorm2d (momentum 0.1, eps 1e-5, affine) after each convolution,
  before its ReLU; the convolutions keep their bias with BN too (as the
  trainer's layers do; redundant before BN, but the same function).
  Every Conv2d / Linear has a bias.
Initialisation (the C trainer's): Glorot/Xavier uniform for every conv and
linear weight (conv fans = channels * kh * kw), zero biases; BN gamma 1,
beta 0.
Optimizer: torch.optim.Adam, lr 1e-3, PyTorch's defaults otherwise (betas
0.9/0.999, eps 1e-8); batch 128; the training set is reshuffled every epoch
(torch.Generator seeded with --seed; --seed also seeds the initialisation);
the last partial batch (60,000 = 468 x 128 + 96) is kept.

Timing: the first --warmup steps of the run (oneDNN primitive creation,
allocator warm-up) are trained but not timed; evaluation is never timed.
A run with --max-steps stops after that many steps and skips evaluation
(speed-only runs).

Output (one line each; the final three are for scripts, the "train done"
line in the format bench/lib.sh's rate_of reads):
  cnn_torch: attention <a>, norm <n>, <P> parameters, 60000 train / 10000 test, threads <t>, seed <s>
  epoch <e>: loss <L>  <T> s  <R> samples/s  test-accuracy <A>  (eval <E> s)
  train done: <N> samples in <T> s, <R> samples/s
  eval: test-accuracy <A> on 10000 test
  peak rss: <M> MiB (<K> KiB)
<N>, <T>, <R> count the timed steps only (all steps but the warm-up ones);
per-epoch <T>, <R> likewise; "test-accuracy -" when not evaluated.
"""
import argparse
import gzip
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
PROG = os.path.basename(sys.argv[0])   # the script reading: this one, or bench/stn_torch.py importing load()


# ---------------------------------------------------------------- data

def read_idx(path, magic, ndim):
    """gzip IDX file -> numpy uint8 array (big-endian int32 header: magic,
    then one size per dimension; the data read straight into the array)"""
    with gzip.open(path, "rb") as f:
        head = np.frombuffer(f.read(4 * (1 + ndim)), dtype=">i4")
        if head.size != 1 + ndim or int(head[0]) != magic:
            sys.exit("%s: %s: magic %s, expected %d"
                     % (PROG, path, int(head[0]) if head.size else "-", magic))
        dims = [int(d) for d in head[1:]]
        arr = np.empty(dims, dtype=np.uint8)
        got = f.readinto(memoryview(arr).cast("B"))
        if got != arr.size or f.read(1):
            sys.exit("%s: %s: data size does not match dims %s" % (PROG, path, dims))
    return arr


def load(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    img = read_idx(os.path.join(data_dir, prefix + "-images-idx3-ubyte.gz"), 2051, 3)
    lab = read_idx(os.path.join(data_dir, prefix + "-labels-idx1-ubyte.gz"), 2049, 1)
    if img.shape[0] != lab.shape[0]:
        sys.exit("%s: %s: %d images but %d labels" % (PROG, split, img.shape[0], lab.shape[0]))
    if lab.max() > 9:
        sys.exit("%s: %s: label %d out of 0..9" % (PROG, split, int(lab.max())))
    x = torch.from_numpy(img).unsqueeze(1)          # [N,1,28,28] uint8
    y = torch.from_numpy(lab.astype(np.int64))
    return x, y


def to_input(xb):
    """uint8 [B,1,28,28] -> float32 in [0, 1]"""
    return xb.to(torch.float32).div_(255.0)


# ---------------------------------------------------------------- model

class SE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Linear(c, c // 8)
        self.fc2 = nn.Linear(c // 8, c)

    def forward(self, x):
        s = x.mean((2, 3))                                   # [N,C]
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s[:, :, None, None]


class CBAM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Linear(c, c // 8)                      # the shared MLP
        self.fc2 = nn.Linear(c // 8, c)
        self.spatial = nn.Conv2d(2, 1, 7, padding=3)

    def forward(self, x):
        n = x.shape[0]
        # channel attention: both descriptors through the MLP in one batch
        d = torch.cat([x.mean((2, 3)), x.amax((2, 3))])      # [2N,C]
        m = self.fc2(F.relu(self.fc1(d)))
        s = torch.sigmoid(m[:n] + m[n:])
        x = x * s[:, :, None, None]
        # spatial attention
        maps = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatial(maps))          # [N,1,H,W] broadcast


class CNN(nn.Module):
    def __init__(self, attention="none", norm="none", init="glorot"):
        super().__init__()
        chans = [(1, 32, 1), (32, 64, 2), (64, 128, 2)]
        self.convs = nn.ModuleList(nn.Conv2d(i, o, 3, stride=s, padding=1) for i, o, s in chans)
        self.norms = nn.ModuleList(nn.BatchNorm2d(o) if norm == "batch" else nn.Identity()
                                   for _, o, _ in chans)
        att = {"none": lambda c: nn.Identity(), "se": SE, "cbam": CBAM}[attention]
        self.atts = nn.ModuleList(att(o) for _, o, _ in chans)
        self.fc = nn.Linear(128, 10)
        # the C trainer's initialisation: Glorot uniform weights, zero biases
        # (--init torch keeps PyTorch's own defaults, for comparison)
        for mod in self.modules() if init == "glorot" else ():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(mod.weight)
                nn.init.zeros_(mod.bias)

    def forward(self, x):
        for conv, norm, att in zip(self.convs, self.norms, self.atts):
            x = att(F.relu(norm(conv(x))))
        return self.fc(x.mean((2, 3)))                       # logits [N,10]


@torch.inference_mode()
def accuracy(model, x, y, batch=250):
    model.eval()
    right = 0
    for i in range(0, x.shape[0], batch):
        right += int((model(to_input(x[i:i + batch])).argmax(1) == y[i:i + batch]).sum())
    model.train()
    return right / max(1, x.shape[0])


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="folder of the gzipped IDX files")
    ap.add_argument("--attention", choices=("none", "se", "cbam"), default="none")
    ap.add_argument("--norm", choices=("none", "batch"), default="none")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--init", choices=("glorot", "torch"), default="glorot",
                    help="glorot: the trainer's initialisation; torch: PyTorch's defaults")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch.set_num_threads (0: torch's default); interop threads are set to 1")
    ap.add_argument("--seed", type=int, default=1, help="initialisation and shuffling seed")
    ap.add_argument("--max-steps", type=int, default=0,
                    help="stop after N training steps, no evaluation (speed-only runs)")
    ap.add_argument("--warmup", type=int, default=5,
                    help="untimed steps at the start of the run")
    args = ap.parse_args()
    if args.max_steps and args.max_steps <= args.warmup:
        sys.exit("cnn_torch.py: --max-steps %d must exceed --warmup %d"
                 % (args.max_steps, args.warmup))

    torch.set_num_interop_threads(1)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    shuffle = torch.Generator().manual_seed(args.seed)

    xtr, ytr = load(args.data, "train")
    xte, yte = load(args.data, "test")
    model = CNN(args.attention, args.norm, args.init)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    n_tr = xtr.shape[0]
    print("cnn_torch: attention %s, norm %s, %d parameters, %d train / %d test, threads %d, seed %d"
          % (args.attention, args.norm, n_params, n_tr, xte.shape[0],
             torch.get_num_threads(), args.seed), flush=True)

    def batch_step(idx):
        xb, yb = to_input(xtr[idx]), ytr[idx]
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss)

    model.train()
    train_and_report(args, n_tr, shuffle, batch_step, lambda: accuracy(model, xte, yte), xte.shape[0])


def train_and_report(args, n_tr, gen, batch_step, evaluate, n_test):
    """The twins' epochs and output lines (the module's docstring): each
    epoch a permutation of the n_tr training indices from gen, batch_step(idx)
    (a training step on those samples, returning its loss) per batch of
    args.batch, then evaluate() (the test accuracy) unless args.max_steps
    stopped it; the first args.warmup steps are not timed."""
    step = 0
    timed_samples, timed_time = 0, 0.0
    acc = None
    done = False
    for epoch in range(1, args.epochs + 1):
        ep_samples, ep_time = 0, 0.0
        loss_sum, seen = 0.0, 0
        t_start = time.perf_counter()          # start of the timed part of this epoch
        perm = torch.randperm(n_tr, generator=gen)
        for i in range(0, n_tr, args.batch):
            idx = perm[i:i + args.batch]
            b = idx.shape[0]
            loss_sum += batch_step(idx) * b
            seen += b
            step += 1
            if step <= args.warmup:            # untimed: restart the clock after it
                t_start = time.perf_counter()
            else:
                ep_samples += b
            if args.max_steps and step >= args.max_steps:
                done = True
                break
        ep_time = time.perf_counter() - t_start
        timed_samples += ep_samples
        timed_time += ep_time
        rate = ep_samples / ep_time if ep_samples and ep_time > 0 else 0.0
        line = ("epoch %d: loss %.4f  %.1f s  %.1f samples/s"
                % (epoch, loss_sum / max(1, seen), ep_time, rate))
        if done:
            line += "  test-accuracy -  (stopped after %d steps)" % step
        else:
            t_ev = time.perf_counter()
            acc = evaluate()
            line += "  test-accuracy %.4f  (eval %.1f s)" % (acc, time.perf_counter() - t_ev)
        print(line, flush=True)
        if done:
            break

    print("train done: %d samples in %.2f s, %.1f samples/s"
          % (timed_samples, timed_time, timed_samples / max(timed_time, 1e-9)))
    print("eval: test-accuracy %s on %d test" % ("-" if acc is None else "%.4f" % acc, n_test))
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss          # KiB on Linux
    print("peak rss: %.1f MiB (%d KiB)" % (kib / 1024.0, kib), flush=True)


if __name__ == "__main__":
    main()

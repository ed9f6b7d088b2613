#!/usr/bin/python3
"""PyTorch twin of the trainer's spatial transformer network (plugin stn,
configs/stn.yaml; configs/stn_off.yaml without the transformer) on rotated
Fashion-MNIST, trained standalone.

Data: the gzipped IDX files of Debian's dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist/, --data DIR): the first --train (default
all 60,000) training images and the 10,000 test images of 28x28, NCHW,
labels 0..9. Images are kept as uint8 and converted per batch: pixels / 255
in [0, 1], then (with --normalize 1, the default) (x - mean) / std, mean and
std being those of the used training images' pixels in [0, 1] (the unbiased
std, as the trainer's data.normalize computes them; 0.2860 / 0.3530 for the
60,000; printed on the first line), as the tutorial's Normalize.

Rotation (the trainer's data.rotate / data.test_rotate with
rotate_interpolation: nearest, torchvision RandomRotation's default):
  --rotate D (default 45): every training batch, each image turned about its
    centre by its own angle uniform in [-D, D] degrees, drawn afresh for
    every batch (from the shuffling generator), with F.affine_grid (theta
    [[cos, -sin, 0], [sin, cos, 0]], the trainer's) and F.grid_sample
    (mode nearest, padding zeros, align_corners False) on the batch tensor,
    INSIDE the timed step (the trainer rotates in its timed step too). The
    rotation is done on pixels / 255, BEFORE the normalisation: the corners
    it fills are 0 in raw pixel space (-mean/std once normalised), as
    torchvision's RandomRotation on the PIL image followed by Normalize.
  --test-rotate D (default 45): each test image turned once, at load, by a
    fixed angle uniform in [-D, D] from a generator seeded by a constant
    (not --seed: the same test set for every run), nearest, kept as uint8
    (nearest moves pixels exactly). Not the trainer's angles (its own
    random stream), the same distribution.
  0 turns either off.

Model (--stn 1, PyTorch's STN tutorial; --stn 0: the classifier alone on
the unchanged x):
  localisation: Conv2d(1->8, 7x7) -> MaxPool2d(2) -> ReLU -> Conv2d(8->10,
    5x5) -> MaxPool2d(2) -> ReLU -> flatten 90 -> Linear(90->32) -> ReLU ->
    Linear(32->6) = theta [N,2,3], its weight zero and bias 1 0 0 0 1 0 (the
    identity) at the start
  sampler: F.affine_grid(theta, x.size(), align_corners=False),
    F.grid_sample(x, grid, bilinear, padding zeros, align_corners=False)
  classifier: Conv2d(1->10, 5x5) -> MaxPool2d(2) -> ReLU -> Conv2d(10->20,
    5x5) -> Dropout2d(0.5) -> MaxPool2d(2) -> ReLU -> flatten 320 ->
    Linear(320->50) -> ReLU -> Dropout(0.5) -> Linear(50->10) ->
    log_softmax, nll loss (batch mean)
  Every Conv2d / Linear has a bias. 27,360 parameters (--stn 0: 21,840),
  the trainer's counts.
Initialisation: PyTorch's defaults (weights and biases U(-1/sqrt(fan_in),
1/sqrt(fan_in)), as the trainer's plugin), theta's layer as above.
Optimizer: torch.optim.SGD, lr 0.01, no momentum (the tutorial's); batch 64;
the training set is reshuffled every epoch (torch.Generator seeded with
--seed, which also draws the rotation angles; --seed also seeds the
initialisation and dropout); the last partial batch is kept.

Timing: the first --warmup steps of the run (oneDNN primitive creation,
allocator warm-up) are trained but not timed; evaluation is never timed.
A step is: gather the batch, pixels / 255, rotate, normalise, forward,
backward, SGD update. A run with --max-steps stops after that many steps
and skips evaluation (speed-only runs); without it, --epochs epochs, each
followed by the test accuracy (model.eval(): no dropout).

Output (one line each; the final three are for scripts, the "train done"
line in the format bench/lib.sh's rate_of reads):
  stn_torch: stn <0|1>, <P> parameters, <N> train / 10000 test, rotate <D> / test <D>, normalize <m>/<s>, threads <t>, seed <s>
  epoch <e>: loss <L>  <T> s  <R> samples/s  test-accuracy <A>  (eval <E> s)
  train done: <N> samples in <T> s, <R> samples/s
  eval: test-accuracy <A> on 10000 test
  peak rss: <M> MiB (<K> KiB)
<N>, <T>, <R> count the timed steps only (all steps but the warm-up ones);
per-epoch <T>, <R> likewise; "test-accuracy -" when not evaluated;
"normalize off" with --normalize 0.
"""
import argparse
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnn_torch import DEFAULT_DATA, load, train_and_report  # the same files, epochs and output lines

TEST_ROTATE_SEED = 0x54455354524f54      # "TESTROT": the test set's angles, whatever --seed


# ---------------------------------------------------------------- data

def pixel_stats(x):
    """mean and unbiased std of the uint8 images' pixels, scaled to [0, 1]
    (exact integer sums, as the trainer's data.normalize)"""
    a = x.numpy().reshape(x.shape[0], -1)
    s = sq = 0
    for i in range(0, a.shape[0], 1000):              # in chunks: no int64 copy of it all
        c = a[i:i + 1000].astype(np.int64)
        s += int(c.sum())
        sq += int((c * c).sum())
    n = float(a.size)
    mean = s / n
    var = (sq - n * mean * mean) / (n - 1) if n > 1 else 0.0
    return mean / 255.0, (math.sqrt(var) / 255.0 if var > 0 else 1.0)


def rotate(x, degrees, mode):
    """x [B,C,H,W] float, each image turned about its centre by its angle
    in degrees[B] (the trainer's theta, corrected for the aspect ratio),
    zeros outside"""
    _, _, h, w = x.shape
    a = degrees * (math.pi / 180.0)
    c, s = torch.cos(a), torch.sin(a)
    z = torch.zeros_like(c)
    theta = torch.stack([c, -s * (h / w), z, s * (w / h), c, z], 1).view(-1, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


def angles(n, limit, gen):
    """n angles uniform in [-limit, limit] degrees"""
    return (torch.rand(n, generator=gen) * 2.0 - 1.0) * limit


def rotate_test(x, limit, batch=1000):
    """uint8 [N,1,H,W] -> the same, each image turned once by a fixed angle
    (generator seeded by a constant), nearest (pixels move exactly)"""
    gen = torch.Generator().manual_seed(TEST_ROTATE_SEED)
    deg = angles(x.shape[0], limit, gen)
    out = torch.empty_like(x)
    for i in range(0, x.shape[0], batch):
        xb = x[i:i + batch].to(torch.float32)
        out[i:i + batch] = rotate(xb, deg[i:i + batch], "nearest").round_().clamp_(0, 255).to(torch.uint8)
    return out


class Inputs:
    """uint8 [B,1,28,28] -> the model's float32 input: / 255, [rotated],
    [normalised]"""

    def __init__(self, mean, std):
        self.mean, self.std = mean, std

    def __call__(self, xb, degrees=None):
        x = xb.to(torch.float32).div_(255.0)
        if degrees is not None:
            x = rotate(x, degrees, "nearest")
        if self.mean is not None:
            x = x.sub_(self.mean).div_(self.std)
        return x


# ---------------------------------------------------------------- model

class STN(nn.Module):
    def __init__(self, stn=True):
        super().__init__()
        self.stn = stn
        if stn:
            self.localization = nn.Sequential(
                nn.Conv2d(1, 8, kernel_size=7),
                nn.MaxPool2d(2, stride=2),
                nn.ReLU(True),
                nn.Conv2d(8, 10, kernel_size=5),
                nn.MaxPool2d(2, stride=2),
                nn.ReLU(True))
            self.fc_loc = nn.Sequential(
                nn.Linear(10 * 3 * 3, 32),
                nn.ReLU(True),
                nn.Linear(32, 3 * 2))
            # theta starts as the identity
            self.fc_loc[2].weight.data.zero_()
            self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(0.5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def transform(self, x):
        xs = self.localization(x).view(-1, 10 * 3 * 3)
        theta = self.fc_loc(xs).view(-1, 2, 3)
        grid = F.affine_grid(theta, list(x.size()), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def forward(self, x):
        if self.stn:
            x = self.transform(x)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, 0.5, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)


@torch.inference_mode()
def accuracy(model, inputs, x, y, batch=500):
    model.eval()
    right = 0
    for i in range(0, x.shape[0], batch):
        right += int((model(inputs(x[i:i + batch])).argmax(1) == y[i:i + batch]).sum())
    model.train()
    return right / max(1, x.shape[0])


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="folder of the gzipped IDX files")
    ap.add_argument("--stn", type=int, choices=(0, 1), default=1,
                    help="1: the spatial transformer before the classifier; 0: the classifier alone")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--train", type=int, default=60000, help="training images used (the first N)")
    ap.add_argument("--normalize", type=int, choices=(0, 1), default=1,
                    help="1: (x - mean) / std of the training pixels; 0: pixels / 255 only")
    ap.add_argument("--rotate", type=float, default=45.0,
                    help="training images: a fresh angle in [-D, D] degrees per image and batch (0: off)")
    ap.add_argument("--test-rotate", type=float, default=45.0,
                    help="test images: one fixed angle in [-D, D] degrees each (0: off)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch.set_num_threads (0: torch's default); interop threads are set to 1")
    ap.add_argument("--seed", type=int, default=1,
                    help="initialisation, dropout, shuffling and rotation seed")
    ap.add_argument("--max-steps", type=int, default=0,
                    help="stop after N training steps, no evaluation (speed-only runs)")
    ap.add_argument("--warmup", type=int, default=5,
                    help="untimed steps at the start of the run")
    args = ap.parse_args()
    if args.max_steps and args.max_steps <= args.warmup:
        sys.exit("stn_torch.py: --max-steps %d must exceed --warmup %d"
                 % (args.max_steps, args.warmup))
    if not 0 <= args.rotate <= 180 or not 0 <= args.test_rotate <= 180:
        sys.exit("stn_torch.py: --rotate and --test-rotate are degrees each way, in [0, 180]")
    if args.batch < 1 or args.epochs < 1:
        sys.exit("stn_torch.py: --batch and --epochs must be positive")

    torch.set_num_interop_threads(1)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)       # shuffling and rotation angles

    xtr, ytr = load(args.data, "train")
    if not 0 < args.train <= xtr.shape[0]:
        sys.exit("stn_torch.py: --train %d: the training set has %d images" % (args.train, xtr.shape[0]))
    xtr, ytr = xtr[:args.train], ytr[:args.train]
    xte, yte = load(args.data, "test")
    if args.test_rotate > 0:
        xte = rotate_test(xte, args.test_rotate)
    if args.normalize:
        mean, std = pixel_stats(xtr)
        inputs = Inputs(mean, std)
        norm_text = "%.4f/%.4f" % (mean, std)
    else:
        inputs = Inputs(None, None)
        norm_text = "off"
    model = STN(bool(args.stn))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    n_tr = xtr.shape[0]
    print("stn_torch: stn %d, %d parameters, %d train / %d test, rotate %g / test %g, normalize %s, threads %d, seed %d"
          % (args.stn, n_params, n_tr, xte.shape[0], args.rotate, args.test_rotate, norm_text,
             torch.get_num_threads(), args.seed), flush=True)

    def batch_step(idx):
        deg = angles(idx.shape[0], args.rotate, gen) if args.rotate > 0 else None
        xb, yb = inputs(xtr[idx], deg), ytr[idx]
        loss = F.nll_loss(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss)

    model.train()
    train_and_report(args, n_tr, gen, batch_step, lambda: accuracy(model, inputs, xte, yte), xte.shape[0])


if __name__ == "__main__":
    main()

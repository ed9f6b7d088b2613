#!/usr/bin/python3
"""PyTorch twin of the trainer's seed model (the Keras "one_step_of_attention"
date/time translation model), trained standalone on the time dataset.

Model (Tx=41, Ty=5, one-hot characters):
  encoder  Bidirectional(LSTM(32, return_sequences=True)), concat -> a [B,41,64]
  for each of the 5 output steps (s, c of the post-attention LSTM start at 0):
    e     = Dense(1, relu)(Dense(8, tanh)(concat[repeat(s_prev), a]))   [B,41,1]
    alpha = softmax over Tx;  context = sum_t alpha_t a_t              [B,64]
    s, c  = LSTM(64) one step on context
    y     = Dense(11, softmax)(s)          (shared across the 5 steps)
  loss = sum over the 5 outputs of the categorical cross-entropy, batch mean.

LSTMs are Keras 2's: gates i,f,c,o; recurrent activation hard_sigmoid
clip(0.2x+0.5, 0, 1) (or --recurrent sigmoid); Glorot-uniform input kernels,
orthogonal recurrent kernels, zero biases except forget-gate bias 1.
Optimizer: Keras 2 Adam (lr 0.05, betas 0.9/0.999, eps 1e-7) with Keras
time-based decay lr/(1 + 0.04*iterations), global-norm clipping 1.0.

Implementation notes (mathematically identical rewrites, for speed):
  * one-hot x Wx is an embedding lookup of the rows of Wx (bias folded in);
  * the forward and backward encoder directions run in the same time loop
    as one batched matmul ([2,B,32] x [2,32,128]); outputs stay at their t;
  * context = sum_t alpha_t a_t as a broadcast multiply + sum (B tiny
    [1,41]x[41,64] bmm's are much slower on CPU);
  * Dense(8) on concat[s_prev, a] is split as s_prev.W_s + a.W_a + b, with
    a.W_a computed once per batch.

Prints at the end:
  train done: <N> samples in <T> s, <R> samples/s
  eval: exact-match <acc> on <n> held-out
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

TX, TY = 41, 5
ENC_UNITS, DEC_UNITS, ATT_UNITS = 32, 64, 8


def find_data(path, name):
    if path:
        return path
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.path.join(here, "..", "data", "time"),
              "/work/shared/data/dates"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return os.path.normpath(p)
    sys.exit("time_torch.py: cannot find %s (give --pairs / --vocabs)" % name)


def encode(pairs, hvocab, mvocab):
    unk, pad = hvocab["<unk>"], hvocab["<pad>"]
    X = torch.full((len(pairs), TX), pad, dtype=torch.long)
    Y = torch.empty((len(pairs), TY), dtype=torch.long)
    for n, (src, tgt) in enumerate(pairs):
        ids = [hvocab.get(ch, unk) for ch in src.lower()[:TX]]
        if ids:
            X[n, :len(ids)] = torch.tensor(ids)
        if len(tgt) != TY:
            sys.exit("time_torch.py: output %r is not %d chars" % (tgt, TY))
        Y[n] = torch.tensor([mvocab[ch] for ch in tgt])
    return X, Y


def glorot(fan_in, fan_out):
    lim = math.sqrt(6.0 / (fan_in + fan_out))
    return torch.empty(fan_in, fan_out).uniform_(-lim, lim)


def orthogonal(rows, cols):
    w = torch.empty(rows, cols)
    torch.nn.init.orthogonal_(w)  # [H,4H]: orthonormal rows, as Keras 2
    return w


def lstm_bias(units):
    b = torch.zeros(4 * units)
    b[units:2 * units] = 1.0  # unit_forget_bias
    return b


def hard_sigmoid(x):
    # Keras 2: clip(0.2 x + 0.5, 0, 1) == torch's hardsigmoid(1.2 x) =
    # clip(1.2 x / 6 + 0.5, 0, 1); one fused kernel each way instead of
    # clamp's several (same function, same gradient except exactly at the
    # two kinks)
    return F.hardsigmoid(1.2 * x)


class TimeAttn(torch.nn.Module):
    def __init__(self, n_src, n_tgt, recurrent="hard_sigmoid"):
        super().__init__()
        P = torch.nn.Parameter
        H, D = ENC_UNITS, DEC_UNITS
        self.ract = hard_sigmoid if recurrent == "hard_sigmoid" else torch.sigmoid
        # encoder, [fwd, bwd] stacked on dim 0; Wx rows = one-hot lookups
        self.enc_Wx = P(torch.stack([glorot(n_src, 4 * H) for _ in range(2)]))
        self.enc_Wh = P(torch.stack([orthogonal(H, 4 * H) for _ in range(2)]))
        self.enc_b = P(torch.stack([lstm_bias(H) for _ in range(2)]))
        # attention: Dense(8, tanh) on concat[s_prev(64), a(64)], Dense(1, relu)
        W1 = glorot(D + 2 * H, ATT_UNITS)
        self.att_Ws = P(W1[:D].clone())
        self.att_Wa = P(W1[D:].clone())
        self.att_b1 = P(torch.zeros(ATT_UNITS))
        self.att_W2 = P(glorot(ATT_UNITS, 1))
        self.att_b2 = P(torch.zeros(1))
        # post-attention LSTM(64), input = context (64)
        self.dec_Wx = P(glorot(2 * H, 4 * D))
        self.dec_Wh = P(orthogonal(D, 4 * D))
        self.dec_b = P(lstm_bias(D))
        # output Dense(11, softmax), shared across steps
        self.out_W = P(glorot(D, n_tgt))
        self.out_b = P(torch.zeros(n_tgt))

    def cell(self, z, c, H):
        # z [..., 4H] in Keras order i, f, c, o (split/chunk: cheap backward)
        z_if, z_g, z_o = z.split([2 * H, H, H], dim=-1)
        i, f = self.ract(z_if).chunk(2, dim=-1)
        c = f * c + i * torch.tanh(z_g)
        return self.ract(z_o) * torch.tanh(c), c

    def forward(self, x):
        """x [B,Tx] int -> logits [Ty,B,n_tgt]"""
        B = x.shape[0]
        H, D = ENC_UNITS, DEC_UNITS
        # time-major; step k reads fwd input t=k and bwd input t=Tx-1-k:
        # xs[k] = [Wx_f[x[:,k]] + b_f, Wx_b[x[:,Tx-1-k]] + b_b]  [2,B,4H]
        # (bias folded into the lookup table: one-hot.Wx + b = (Wx + b)[x])
        table = self.enc_Wx + self.enc_b[:, None, :]        # [2,n_src,4H]
        xt = x.t()
        xs = torch.stack([F.embedding(xt, table[0]),
                          F.embedding(xt.flip(0), table[1])], 1).unbind(0)
        h = table.new_zeros((2, B, H))
        c = torch.zeros_like(h)
        hs = []
        for k in range(TX):
            h, c = self.cell(torch.baddbmm(xs[k], h, self.enc_Wh), c, H)
            hs.append(h)
        hs = torch.stack(hs)                                 # [T,2,B,H]
        a = torch.cat([hs[:, 0], hs[:, 1].flip(0)], 2)       # [T,B,64]
        a = a.transpose(0, 1)                                # [B,T,64]

        keys = torch.matmul(a, self.att_Wa) + self.att_b1          # [B,T,8]
        s = a.new_zeros((B, D))
        cs = torch.zeros_like(s)
        outs = []
        for _ in range(TY):
            q = torch.mm(s, self.att_Ws)                            # [B,8]
            hid = torch.tanh(keys + q[:, None, :])
            e = F.relu(torch.matmul(hid, self.att_W2).squeeze(2) + self.att_b2)
            alpha = torch.softmax(e, dim=1)                         # [B,T]
            ctx = (alpha[:, :, None] * a).sum(1)                    # [B,64]
            z = torch.addmm(self.dec_b, ctx, self.dec_Wx)
            z = torch.addmm(z, s, self.dec_Wh)
            s, cs = self.cell(z, cs, D)
            outs.append(torch.addmm(self.out_b, s, self.out_W))
        return torch.stack(outs)


class KerasAdam:
    """Keras 2 Adam with time-based decay (the trainer's tr_adam_update):
    lr_k = lr/(1+decay*k) (k = updates already applied),
    lr_t = lr_k*sqrt(1-b2^t)/(1-b1^t), p -= lr_t*m/(sqrt(v)+eps)."""

    def __init__(self, params, lr, betas, eps, decay):
        self.params = list(params)
        self.lr, self.b1, self.b2 = lr, betas[0], betas[1]
        self.eps, self.decay = eps, decay
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.iterations = 0

    @torch.no_grad()
    def step(self):
        lr = self.lr / (1.0 + self.decay * self.iterations)
        t = self.iterations + 1
        lr_t = lr * math.sqrt(1.0 - self.b2 ** t) / (1.0 - self.b1 ** t)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            m.mul_(self.b1).add_(g, alpha=1.0 - self.b1)
            v.mul_(self.b2).addcmul_(g, g, value=1.0 - self.b2)
            p.addcdiv_(m, v.sqrt().add_(self.eps), value=-lr_t)
        self.iterations += 1

    def zero_grad(self):
        for p in self.params:
            p.grad = None


class TorchAdam:
    """torch.optim.Adam (eps inside the bias-corrected denominator) with the
    same Keras time-based decay set on the param group each step."""

    def __init__(self, params, lr, betas, eps, decay):
        self.opt = torch.optim.Adam(params, lr=lr, betas=betas, eps=eps)
        self.lr, self.decay, self.iterations = lr, decay, 0

    def step(self):
        for g in self.opt.param_groups:
            g["lr"] = self.lr / (1.0 + self.decay * self.iterations)
        self.opt.step()
        self.iterations += 1

    def zero_grad(self):
        self.opt.zero_grad(set_to_none=True)


def evaluate(model, X, Y, batch=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(X), batch):
            pred = model(X[i:i + batch]).argmax(2).t()              # [B,Ty]
            correct += int((pred == Y[i:i + batch]).all(1).sum())
    model.train()
    return correct / max(1, len(X))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", help="time_dataset.json (default: data/time/, "
                    "else /work/shared/data/dates/)")
    ap.add_argument("--vocabs", help="time_vocabs.json (same search)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--train", type=int, default=8000, help="first N pairs")
    ap.add_argument("--test", type=int, default=2000, help="last M pairs")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--decay", type=float, default=0.04)
    ap.add_argument("--clip-norm", type=float, default=1.0)
    ap.add_argument("--adam", choices=("keras", "torch"), default="keras",
                    help="keras: the trainer's Keras 2 update (default); "
                    "torch: torch.optim.Adam")
    ap.add_argument("--recurrent", choices=("hard_sigmoid", "sigmoid"),
                    default="hard_sigmoid")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch.set_num_threads (0 = torch default)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    args = ap.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    with open(find_data(args.pairs, "time_dataset.json")) as f:
        pairs = json.load(f)
    with open(find_data(args.vocabs, "time_vocabs.json")) as f:
        hvocab, mvocab = json.load(f)
    if args.train + args.test > len(pairs):
        sys.exit("time_torch.py: %d pairs < train %d + test %d"
                 % (len(pairs), args.train, args.test))
    Xtr, Ytr = encode(pairs[:args.train], hvocab, mvocab)
    Xte, Yte = encode(pairs[len(pairs) - args.test:], hvocab, mvocab)

    model = TimeAttn(len(hvocab), len(mvocab), args.recurrent)
    Opt = KerasAdam if args.adam == "keras" else TorchAdam
    opt = Opt(model.parameters(), args.lr, (0.9, 0.999), 1e-7, args.decay)
    params = list(model.parameters())
    print("time_torch: %d params, %d train / %d test, threads %d, %s, adam %s"
          % (sum(p.numel() for p in params), len(Xtr), len(Xte),
             torch.get_num_threads(), args.recurrent, args.adam), flush=True)

    n_samples = 0
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        perm = torch.randperm(len(Xtr))
        loss_sum, nb = 0.0, 0
        for i in range(0, len(Xtr), args.batch):
            idx = perm[i:i + args.batch]
            xb, yb = Xtr[idx], Ytr[idx]
            logits = model(xb)                                      # [Ty,B,C]
            # sum over the 5 outputs of the batch-mean cross-entropy
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[2]),
                                   yb.t().reshape(-1), reduction="sum") / len(idx)
            opt.zero_grad()
            loss.backward()
            if args.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(params, args.clip_norm)
            opt.step()
            loss_sum += loss.item()
            nb += 1
            n_samples += len(idx)
        if not args.quiet:
            print("epoch %d: loss %.4f (%.1f s)"
                  % (epoch + 1, loss_sum / max(1, nb), time.perf_counter() - t0),
                  flush=True)
    dt = time.perf_counter() - t0

    acc = evaluate(model, Xte, Yte)
    print("train done: %d samples in %.2f s, %.1f samples/s"
          % (n_samples, dt, n_samples / dt if dt > 0 else 0.0))
    print("eval: exact-match %.4f on %d held-out" % (acc, len(Xte)))


if __name__ == "__main__":
    main()

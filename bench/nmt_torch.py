#!/usr/bin/python3
"""PyTorch twin of the trainer's NMT model (plugin nmt_gru, configs/nmt.yaml):
English -> French on the "small_vocab" corpus, GRU encoder-decoder with
Bahdanau (additive) attention, trained standalone.

Data (as the C trainer's word_pairs data, except for the split's shuffle):
  * line i of the English file pairs with line i of the French file; tokens =
    line.split(' ') after stripping the trailing newline, empty tokens dropped;
  * random.Random(seed).shuffle of the pair indices; the first 100,000
    shuffled pairs train, the rest are held out (the first 1,000 held-out
    pairs are the BLEU test set). The trainer shuffles with its own RNG
    (core/data/dataset.c, tr_permutation), so its split is another random split
    of the same sizes, not this one;
  * vocabularies from the training split only, words by descending
    frequency, ties alphabetical: source <pad>=0 <unk>=1 ...; target
    <pad>=0 <s>=1 </s>=2 <unk>=3 ...;
  * source: ids truncated / padded with <pad> to 20; target: words + </s>,
    truncated / padded to 20; decoder input = <s> + target shifted right.

Model (hidden 96):
  encoder  Embedding(V_src, 96) -> GRU(96) over all 20 source positions
           (pads included) -> h [B,20,96]; its state after position 20 starts
           the decoder
  decoder  Embedding(V_tgt, 96) -> GRU(96), teacher forcing -> s [B,20,96]
  attention e_ij = v . tanh(W h_j + U s_i + b)  (W, U: 96 -> A, A = 96; the
           bias b is the C scorer's, core/layers/scorers.c: "v . tanh(values W +
           queries U + b)"),
           softmax over j with source pads masked out (weight exactly 0),
           c_i = sum_j a_ij h_j
  output   Dense(V_tgt) on [s_i, c_i] -> softmax
  loss     cross-entropy over the non-padding target positions, mean over
           those tokens of the batch.
Adam (torch.optim.Adam, lr 1e-3, other settings default: eps 1e-8, where
configs/nmt.yaml has 1e-7; --eps), batch 64, reshuffled every epoch.
PyTorch's default initialisation (the trainer's differs: Glorot, orthogonal,
U(-1,1) lookup kernels, zero biases).

The C plugin feeds one-hot source tokens into the encoder GRU, i.e. it folds
the embedding into the GRU's input kernel; Embedding + GRU here is the same
function up to parameterisation (E.W_ih is one matrix there, two here).

Speed (no change to the maths; checked in float64 against a literal
implementation with nn.GRU, the full masked 20x20 attention, Linear(A,1) for
v and the output layer on every position: same loss, gradients equal to
1e-17, and the batched greedy decode equal to a one-sentence-at-a-time one):
  * attention, context and output for all decoder steps at once with
    batched matmuls (the attention does not feed back into the decoder);
  * the scores as one autograd Function (AdditiveScore): one [B,Ty,Tx,A]
    tensor, tanh through the vectorised sigmoid, v factored out of the
    backward's sums;
  * the GRU recurrences as an autograd Function (GRULayer) with nn.GRU's
    parameters and gate order, whose backward makes one weight-gradient GEMM
    instead of one per step (nn.GRU is used for greedy decoding);
  * attention only over the batch's longest source (later positions are
    pads in every row, weight 0); the decoder only up to the batch's longest
    target (it is causal: later positions cannot change earlier outputs);
    the output layer and softmax only at non-padding target positions;
  * token ids kept as int16; evaluation under torch.inference_mode.

Metrics after each epoch (not counted in the training time): token accuracy
with teacher forcing over the non-padding target positions of ALL held-out
pairs, and greedy corpus BLEU-4 on the first 1,000 held-out pairs (greedy:
start from <s>, feed the argmax back, stop at </s> or 20 tokens; hypothesis =
tokens before </s>, reference = the French words).

Prints at the end:
  train done: <N> samples in <T> s, <R> samples/s
  eval: token-accuracy <x> bleu <y>
"""
import argparse
import collections
import gzip
import math
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SRC_LEN = TGT_LEN = 20
N_TRAIN = 100000
N_BLEU = 1000
PAD, BOS, EOS, UNK_T = 0, 1, 2, 3
UNK_S = 1
DEFAULT_EN = "/work/shared/data/nmt/small_vocab_en.txt.gz"
DEFAULT_FR = "/work/shared/data/nmt/small_vocab_fr.txt.gz"


# ---------------------------------------------------------------- data

def read_lines(path):
    """the file's lines, trailing newline stripped (tokenised on use: 137,860
    lines kept as token lists would cost ~200 MB of Python strings)"""
    with gzip.open(path, "rt", encoding="utf-8", newline="\n") as f:
        return [line.rstrip("\n") for line in f]


def tokens(line):
    return [t for t in line.split(" ") if t]


def build_vocab(lines, specials):
    counts = collections.Counter(t for line in lines for t in tokens(line))
    words = sorted(counts, key=lambda w: (-counts[w], w))
    itos = list(specials) + [w for w in words if w not in specials]
    return {w: i for i, w in enumerate(itos)}, itos


# token ids are stored as int16 (both vocabularies are far below 32,768;
# int64 would hold ~65 MB more) and widened per batch
IDS = torch.int16


def encode_src(lines, stoi):
    out = torch.full((len(lines), SRC_LEN), PAD, dtype=IDS)
    for i, line in enumerate(lines):
        ids = [stoi.get(w, UNK_S) for w in tokens(line)[:SRC_LEN]]
        out[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out


def encode_tgt(lines, stoi):
    """-> (decoder input, decoder target), both [N, 20]"""
    tgt = torch.full((len(lines), TGT_LEN), PAD, dtype=IDS)
    for i, line in enumerate(lines):
        ids = ([stoi.get(w, UNK_T) for w in tokens(line)] + [EOS])[:TGT_LEN]
        tgt[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
    dec_in = torch.cat([torch.full((len(lines), 1), BOS, dtype=IDS),
                        tgt[:, :-1]], dim=1)
    return dec_in, tgt


def load(args):
    en, fr = read_lines(args.en), read_lines(args.fr)
    if len(en) != len(fr):
        sys.exit("nmt_torch.py: %s has %d lines, %s has %d"
                 % (args.en, len(en), args.fr, len(fr)))
    if len(en) <= N_TRAIN:
        sys.exit("nmt_torch.py: need more than %d pairs, got %d" % (N_TRAIN, len(en)))
    idx = list(range(len(en)))
    random.Random(args.seed).shuffle(idx)
    tr, ho = idx[:N_TRAIN], idx[N_TRAIN:]
    src_stoi, src_itos = build_vocab([en[i] for i in tr], ["<pad>", "<unk>"])
    tgt_stoi, tgt_itos = build_vocab([fr[i] for i in tr],
                                     ["<pad>", "<s>", "</s>", "<unk>"])
    if max(len(src_itos), len(tgt_itos)) > torch.iinfo(IDS).max:
        sys.exit("nmt_torch.py: vocabulary too large for int16 ids")
    if args.train_limit:
        tr = tr[:args.train_limit]
    d = {"src_itos": src_itos, "tgt_itos": tgt_itos}
    d["tr_src"] = encode_src([en[i] for i in tr], src_stoi)
    d["tr_in"], d["tr_tgt"] = encode_tgt([fr[i] for i in tr], tgt_stoi)
    d["ho_src"] = encode_src([en[i] for i in ho], src_stoi)
    d["ho_in"], d["ho_tgt"] = encode_tgt([fr[i] for i in ho], tgt_stoi)
    d["bleu_refs"] = [tokens(fr[i]) for i in ho[:N_BLEU]]
    return d


# ---------------------------------------------------------------- model

class AdditiveScore(torch.autograd.Function):
    """e[b,i,j] = v . tanh(wh[b,j] + us[b,i]) for all decoder steps i and
    source positions j at once: wh [B,Tx,A], us [B,Ty,A], v [A] -> [B,Ty,Tx].

    Written out so that only one [B,Ty,Tx,A] tensor is made, with tanh
    through the sigmoid: tanh(x) = 2 sigmoid(2x) - 1 (this torch build's
    tanh kernel is scalar, ~3.4 ns/element here; its sigmoid is vectorised,
    ~0.9 ns), so with p = sigmoid(2(wh + us)):
        e    = 2 p.v - sum(v)
        de/dv = 2p - 1
        de/d(wh+us) = 4 p (1 - p) v        (= (1 - tanh^2) v)
    and the v factor is taken out of the sums over i and j. Results agree
    with the literal formula to float rounding (checked in float64)."""

    @staticmethod
    def forward(ctx, wh, us, v):
        p = torch.add((2 * wh).unsqueeze(1), (2 * us).unsqueeze(2)).sigmoid_()  # [B,Ty,Tx,A]
        ctx.save_for_backward(p, v)
        return torch.matmul(p, 2 * v).sub_(v.sum())

    @staticmethod
    def backward(ctx, g):                                        # g [B,Ty,Tx]
        p, v = ctx.saved_tensors
        gv = torch.mv(p.view(-1, p.shape[-1]).t(), g.reshape(-1)).mul_(2).sub_(g.sum())
        # p becomes g * p(1-p) in place (p is not needed after this)
        d = p.addcmul_(p, p, value=-1).mul_(g.unsqueeze(-1))
        v4 = 4 * v
        return d.sum(1).mul_(v4), d.sum(2).mul_(v4), gv


class GRULayer(torch.autograd.Function):
    """The recurrent part of torch's GRU (gates r, z, n as in nn.GRU):
        r, z = sigmoid(gi_rz + W_hrz h + b_hrz)
        n    = tanh(gi_n + r * (W_hn h + b_hn))
        h'   = (1 - z) * n + z * h
    gi [B,T,3H] = x W_ih^T + b_ih (computed outside, one GEMM), h0 [B,H],
    w_hh [3H,H], b_hh [3H] -> outputs [B,T,H]. nn.GRU's autograd graph makes
    a weight-gradient GEMM per step; here the backward loop only carries dh
    and the gradients of w_hh, b_hh are one GEMM over all steps at the end."""

    @staticmethod
    def forward(ctx, gi, h0, w_hh, b_hh):
        B, T, H3 = gi.shape
        H = H3 // 3
        out = gi.new_empty(B, T, H)
        gates = gi.new_empty(B, T, 3 * H)       # r, z, n per step
        ghn = gi.new_empty(B, T, H)              # W_hn h + b_hn per step
        w_t = w_hh.t()
        h = h0
        for t in range(T):
            gh = torch.addmm(b_hh, h, w_t)                           # [B,3H]
            g = gates[:, t]
            torch.sigmoid(gi[:, t, :2 * H] + gh[:, :2 * H], out=g[:, :2 * H])
            r, z = g[:, :H], g[:, H:2 * H]
            ghn[:, t] = gh[:, 2 * H:]
            n = torch.addcmul(gi[:, t, 2 * H:], r, gh[:, 2 * H:])
            torch.tanh(n, out=g[:, 2 * H:])
            n = g[:, 2 * H:]
            h = torch.addcmul(n, z, h - n)                           # (1-z)n + zh
            out[:, t] = h
        ctx.save_for_backward(h0, w_hh, out, gates, ghn)
        return out

    @staticmethod
    def backward(ctx, dout):
        h0, w_hh, out, gates, ghn = ctx.saved_tensors
        B, T, H = out.shape
        dgi = gates.new_empty(B, T, 3 * H)
        dgh = gates.new_empty(B, T, 3 * H)
        hprev = torch.cat([h0.unsqueeze(1), out[:, :-1]], dim=1)     # [B,T,H]
        dh = None
        for t in range(T - 1, -1, -1):
            d = dout[:, t] if dh is None else dout[:, t] + dh
            g = gates[:, t]
            r, z, n = g[:, :H], g[:, H:2 * H], g[:, 2 * H:]
            dgi_t, dgh_t = dgi[:, t], dgh[:, t]
            # dn_pre = d * (1 - z) * (1 - n^2)
            dn = torch.ops.aten.tanh_backward(d - d * z, n)
            dgi_t[:, 2 * H:] = dn
            torch.mul(dn, r, out=dgh_t[:, 2 * H:])
            # dr_pre = dn * ghn * r(1-r); dz_pre = d * (h_prev - n) * z(1-z)
            dgi_t[:, :H] = torch.ops.aten.sigmoid_backward(dn * ghn[:, t], r)
            dgi_t[:, H:2 * H] = torch.ops.aten.sigmoid_backward(d * (hprev[:, t] - n), z)
            dgh_t[:, :2 * H] = dgi_t[:, :2 * H]
            dh = torch.addmm(d * z, dgh_t, w_hh)                     # [B,H]
        dgh2 = dgh.view(B * T, 3 * H)
        dw = dgh2.t().mm(hprev.reshape(B * T, H))
        db = dgh2.sum(0)
        return dgi, dh, dw, db


def gru(layer, x, h0):
    """nn.GRU `layer` (1 layer, batch_first) applied to x [B,T,I] from
    h0 [B,H] with GRULayer -> outputs [B,T,H] (the last is the final state)"""
    gi = F.linear(x, layer.weight_ih_l0, layer.bias_ih_l0)
    return GRULayer.apply(gi, h0, layer.weight_hh_l0, layer.bias_hh_l0)


class NMT(nn.Module):
    def __init__(self, v_src, v_tgt, hidden=96, att_units=96):
        super().__init__()
        self.src_emb = nn.Embedding(v_src, hidden)
        self.enc = nn.GRU(hidden, hidden, batch_first=True)
        self.tgt_emb = nn.Embedding(v_tgt, hidden)
        self.dec = nn.GRU(hidden, hidden, batch_first=True)
        self.att_w = nn.Linear(hidden, att_units)               # W h_j + b
        self.att_u = nn.Linear(hidden, att_units, bias=False)   # U s_i
        self.att_v = nn.Parameter(torch.empty(att_units))       # v . tanh(.)
        # nn.Linear(att_units, 1, bias=False)'s initialisation
        nn.init.uniform_(self.att_v, -1 / math.sqrt(att_units), 1 / math.sqrt(att_units))
        self.out = nn.Linear(2 * hidden, v_tgt)

    def encode(self, src):
        """-> encoder outputs h [B,Tx,H], final state [B,H], W h [B,Lx,A] and
        the additive mask [B,1,Lx] (0 at tokens, -inf at pads), where Lx is
        the longest source of the batch: positions past it are pads in every
        row, their attention weight is exactly 0, so they are left out."""
        h0 = torch.zeros(src.shape[0], self.enc.hidden_size, dtype=self.out.weight.dtype)
        h = gru(self.enc, self.src_emb(src), h0)
        lx = int((src != PAD).sum(1).max())
        hx = h[:, :lx]
        neg = h.new_zeros(src.shape[0], lx).masked_fill_(src[:, :lx] == PAD, float("-inf"))
        return hx, h[:, -1], self.att_w(hx), neg.unsqueeze(1)

    def attend(self, s, h, wh, neg):
        """s [B,Ty,H] -> features [s_i, c_i] [B,Ty,2H], all steps at once"""
        e = AdditiveScore.apply(wh, self.att_u(s), self.att_v) + neg   # [B,Ty,Lx]
        a = torch.softmax(e, dim=-1)
        return torch.cat([s, torch.bmm(a, h)], dim=-1)

    def features(self, src, dec_in):
        h, h_last, wh, neg = self.encode(src)
        s = gru(self.dec, self.tgt_emb(dec_in), h_last)
        return self.attend(s, h, wh, neg)

    @torch.inference_mode()
    def greedy(self, src, max_len=TGT_LEN):
        h, last, wh, neg = self.encode(src)
        state = last.unsqueeze(0).contiguous()
        prev = torch.full((src.shape[0], 1), BOS, dtype=torch.long)
        outs = []
        for _ in range(max_len):
            s, state = self.dec(self.tgt_emb(prev), state)
            prev = self.out(self.attend(s, h, wh, neg)).argmax(-1)  # [B,1]
            outs.append(prev)
        return torch.cat(outs, dim=1)                        # [B,max_len]


# ---------------------------------------------------------------- metrics

def corpus_bleu(hyps, refs, max_n=4):
    """corpus BLEU-4: clipped n-gram counts summed over the corpus, geometric
    mean of the 4 precisions (uniform weights), brevity penalty exp(1-r/c)
    when c < r; no smoothing (0 if any precision is 0)"""
    match = [0] * max_n
    total = [0] * max_n
    c = r = 0
    for hyp, ref in zip(hyps, refs):
        c += len(hyp)
        r += len(ref)
        for n in range(1, max_n + 1):
            hc = collections.Counter(tuple(hyp[k:k + n]) for k in range(len(hyp) - n + 1))
            rc = collections.Counter(tuple(ref[k:k + n]) for k in range(len(ref) - n + 1))
            match[n - 1] += sum(min(v, rc[g]) for g, v in hc.items())
            total[n - 1] += max(len(hyp) - n + 1, 0)
    if c == 0 or min(match) == 0:
        return 0.0
    log_p = sum(math.log(m / t) for m, t in zip(match, total)) / max_n
    bp = 1.0 if c >= r else math.exp(1.0 - r / c)
    return bp * math.exp(log_p)


@torch.inference_mode()
def token_accuracy(model, src, dec_in, tgt, batch=256):
    right = count = 0
    for i in range(0, src.shape[0], batch):
        t = tgt[i:i + batch].long()
        keep = t != PAD
        f = model.features(src[i:i + batch].long(), dec_in[i:i + batch].long())
        pred = model.out(f[keep]).argmax(-1)
        right += int((pred == t[keep]).sum())
        count += int(keep.sum())
    return right / max(count, 1)


def bleu(model, src, refs, itos, batch=1000):
    hyps = []
    for i in range(0, src.shape[0], batch):
        for row in model.greedy(src[i:i + batch].long()).tolist():
            n = row.index(EOS) if EOS in row else len(row)
            hyps.append([itos[t] for t in row[:n]])
    return corpus_bleu(hyps, refs)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--en", default=DEFAULT_EN)
    ap.add_argument("--fr", default=DEFAULT_FR)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--seed", type=int, default=1, help="split shuffle and torch seed")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eps", type=float, default=1e-8, help="Adam eps (torch's default 1e-8)")
    ap.add_argument("--hidden", type=int, default=96)
    ap.add_argument("--att-units", type=int, default=96)
    ap.add_argument("--train-limit", type=int, default=0,
                    help="train on the first N training pairs only (vocabularies and held-out set unchanged)")
    ap.add_argument("--eval-every", type=int, default=1,
                    help="evaluate every N epochs and after the last (0: never, for timing only)")
    ap.add_argument("--log-every", type=int, default=0, help="print the loss every N steps")
    ap.add_argument("--quiet", action="store_true", help="only the final two lines and the per-epoch metrics")
    args = ap.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    t0 = time.time()
    d = load(args)
    model = NMT(len(d["src_itos"]), len(d["tgt_itos"]), args.hidden, args.att_units)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, eps=args.eps)
    n_params = sum(p.numel() for p in model.parameters())
    n_tr = d["tr_src"].shape[0]
    if not args.quiet:
        print("data: %d train, %d held-out, vocab en %d fr %d, loaded in %.1f s; "
              "%d parameters; %d threads"
              % (n_tr, d["ho_src"].shape[0], len(d["src_itos"]), len(d["tgt_itos"]),
                 time.time() - t0, n_params, torch.get_num_threads()), flush=True)

    tr_src, tr_in, tr_tgt = d["tr_src"], d["tr_in"], d["tr_tgt"]
    tr_len = (tr_tgt != PAD).sum(1)
    train_time = 0.0
    samples = 0
    acc = bl = float("nan")
    step = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        t_ep = time.perf_counter()
        loss_sum = 0.0
        perm = torch.randperm(n_tr)
        for i in range(0, n_tr, args.batch):
            b = perm[i:i + args.batch]
            ty = int(tr_len[b].max())                         # longest target in the batch
            src, dec_in, tgt = tr_src[b].long(), tr_in[b, :ty].long(), tr_tgt[b, :ty].long()
            feats = model.features(src, dec_in)               # [B,ty,2H]
            keep = tgt != PAD
            loss = F.cross_entropy(model.out(feats[keep]), tgt[keep])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss) * b.shape[0]
            step += 1
            if args.log_every and step % args.log_every == 0 and not args.quiet:
                el = time.perf_counter() - t_ep
                print("step %d  epoch %d  loss %.4f  %.0f samples/s"
                      % (step, epoch, float(loss), (i + b.shape[0]) / el), flush=True)
        dt = time.perf_counter() - t_ep
        train_time += dt
        samples += n_tr
        line = "epoch %d: loss %.4f  %.1f s  %.1f samples/s" % (epoch, loss_sum / n_tr, dt, n_tr / dt)
        if args.eval_every > 0 and (epoch % args.eval_every == 0 or epoch == args.epochs):
            model.eval()
            t_ev = time.perf_counter()
            acc = token_accuracy(model, d["ho_src"], d["ho_in"], d["ho_tgt"])
            t_bl = time.perf_counter()
            bl = bleu(model, d["ho_src"][:N_BLEU], d["bleu_refs"], d["tgt_itos"])
            line += ("  token-accuracy %.4f  bleu %.4f  (eval %.1f + %.1f s)"
                     % (acc, bl, t_bl - t_ev, time.perf_counter() - t_bl))
        print(line, flush=True)

    print("train done: %d samples in %.2f s, %.1f samples/s"
          % (samples, train_time, samples / max(train_time, 1e-9)))
    print("eval: token-accuracy %.4f bleu %.4f" % (acc, bl))


if __name__ == "__main__":
    main()

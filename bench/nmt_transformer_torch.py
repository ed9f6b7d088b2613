#!/usr/bin/python3
"""PyTorch twin of the trainer's Transformer translation model (plugin
transformer, model.task: seq2seq, configs/nmt_transformer.yaml): English ->
French on the "small_vocab" corpus with nn.Transformer, trained standalone.

Data (as bench/nmt_torch.py, i.e. as the C trainer's word_pairs data except
for the split's shuffle):
  * line i of the English file pairs with line i of the French file; lines
    lower-cased as the trainer's `data.lowercase: true` does it (byte-wise
    tolower: ASCII A-Z only, so the corpus' "États-unis" keeps its É; this
    corpus has no other capital); tokens = line.split(' ') after stripping
    the trailing newline, empty tokens dropped;
  * random.Random(seed).shuffle of the pair indices; the first 100,000
    shuffled pairs train, the rest (37,860) are held out (the first 1,000
    held-out pairs are the BLEU test set). The trainer shuffles with its own
    RNG (core/data/dataset.c, tr_permutation): another random split of the
    same sizes;
  * vocabularies from the training split only, words by descending
    frequency, ties alphabetical: source <pad>=0 <unk>=1 ...; target
    <pad>=0 <s>=1 </s>=2 <unk>=3 ...;
  * source: ids truncated / padded with <pad> to 20; target: words + </s>,
    truncated / padded to 20; decoder input = <s> + target shifted right.
Files: data/nmt/en.txt and data/nmt/fr.txt of the repository (written by
data/prepare.sh), else /work/shared/data/nmt/small_vocab_{en,fr}.txt.gz (the
same lines); --en / --fr for others (a .gz name is read through gzip).

Model: torch.nn.Transformer(d_model 128, nhead 4, 2 encoder + 2 decoder
layers, dim_feedforward 512, ReLU, dropout 0.1, batch_first, post-norm:
norm_first False; nn.Transformer puts a final LayerNorm after each stack).
  inputs   x = dropout(E[tokens] * sqrt(128) + PE), separate nn.Embedding
           for source and target, PE sinusoidal (PE[p,2i] = sin(p/10000^(2i/128)),
           PE[p,2i+1] = cos(...)), the same dropout 0.1 (as the trainer's
           transformer plugin, "x_0 = dropout(E[src] sqrt(D) + PE)")
  masks    encoder: src_key_padding_mask = (source == <pad>); decoder:
           causal tgt_mask (bool, True above the diagonal) and
           memory_key_padding_mask = the same source mask. No
           tgt_key_padding_mask: targets are post-padded, so position i
           (real up to and including </s>) only sees positions <= i, which are
           all real; what pad positions compute is never scored.
  output   nn.Linear(128, V_tgt) with bias -> logits.
  init     nn.init.xavier_uniform_ on every parameter with dim > 1 (both
           embeddings, the attention in_proj [384,128] as one matrix, out_proj,
           the feed-forward linears, the output layer); biases and LayerNorms
           as torch makes them (in_proj/out_proj biases 0, nn.Linear biases
           U(+-1/sqrt(fan_in)), LayerNorm 1 / 0).
  loss     nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=<pad>):
           (1-0.1)(-log p_y) + 0.1/V_tgt * sum over all V_tgt classes (<pad>
           included) of -log p_k, mean over the real (non-<pad>) target
           tokens of the batch.
Adam (torch.optim.Adam, betas (0.9, 0.98), eps 1e-9), batch 64, reshuffled
every epoch; lr by torch.optim.lr_scheduler.LambdaLR, stepped per update,
the trainer's warmup + cosine (core/runtime/optim.c, tr_lr_at): with T
updates in the run and W = round(0.04 T), update u = 0, 1, ... uses
lr = 1e-3 (u+1)/W for u < W, then 1e-3 * 0.5 (1 + cos(pi (u-W)/(T-W-1))),
reaching 0 at the last update. (--train-limit shortens T: the schedule is
always over the run as given.)

Speed (no change to the maths): the encoder runs over the batch's longest
source only (later positions are <pad> in every row, masked keys with
attention weight exactly 0, so they change nothing at the real positions);
the decoder only up to the batch's longest target (it is causal: later
positions cannot change earlier outputs); the output layer and the loss only
at the real target positions; token ids kept as int16; evaluation under
torch.inference_mode (nn.TransformerEncoder then takes torch's fast path
with nested tensors, which leaves the encoder's output at <pad> positions at
LayerNorm(0); those are masked memory keys). Dropout masks are drawn for the
trimmed tensors, so the random stream (not its distribution) depends on the
trimming. The source trim is needed in evaluation too: torch 1.13's
nested-tensor fast path (eval mode, grad off) returns a memory only as long
as the batch's longest source, and the decoder then rejects a 20-wide
memory_key_padding_mask.
Checked in float64 against the literal nn.Transformer.forward over all 20
positions with generate_square_subsequent_mask and the output layer plus
ignore_index on every position: outputs equal to 3e-15, loss equal,
gradients equal to 6e-17 (dropout 0); the inference fast path equals the
grad-enabled path to 3e-15 (float32: 2e-6); the loss equals the formula
above; the batched greedy decode equals a one-sentence-at-a-time one.
1,046,498 parameters (229 English, 354 French ids).

Differences from the trainer's plugin that belong to nn.Transformer: its
feed-forward block has a dropout of its own after the ReLU
(linear2(dropout(relu(linear1(x))))), besides those on the attention
weights and the sub-layer outputs. In this torch build dropout's
bernoulli_ is slow (~16 ns an element: about 17% of a training step,
torch.profiler), and so is every random fill (>= 4 ns an element); it is
left as nn.Transformer does it.

Metrics after each epoch (not counted in the training time): token accuracy
with teacher forcing over the non-padding target positions of ALL held-out
pairs, and greedy corpus BLEU-4 on the first 1,000 held-out pairs (greedy:
start from <s>, feed the argmax back, stop at </s> or 20 tokens; batches of
250 sentences (1,000 at once raised the peak RSS by ~140 MiB; a batch
decodes exactly as one sentence at a time does), each step reruns the
decoder over the prefix, nn.Transformer has no cache; hypothesis = tokens
before </s>, reference = the French words). Evaluation takes ~50 s (token
accuracy over 37,860 pairs) + ~12 s (BLEU) on one thread, not counted.

Prints at the start `parameters: <N>`, and at the end:
  train done: <N> samples in <T> s, <R> samples/s
  eval: token-accuracy <x> bleu <y>
Use with OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 (bench/README.md:
torch's best 2-thread setting on this machine) and --threads N.
"""
import argparse
import gzip
import math
import os
import random
import sys
import time
import warnings

import torch
import torch.nn as nn

# the GRU twin's data handling and BLEU, unchanged (bench/ is on sys.path
# when this script runs)
from nmt_torch import IDS, build_vocab, corpus_bleu, encode_src, encode_tgt, tokens  # noqa: E402,F401

SRC_LEN = TGT_LEN = 20
N_TRAIN = 100000
N_BLEU = 1000
PAD, BOS, EOS, UNK_T = 0, 1, 2, 3
UNK_S = 1
# the encoder's inference fast path (nested tensors) warns once that they are a prototype
warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_path(name, shared):
    local = os.path.join(ROOT, "data", "nmt", name)
    return local if os.path.exists(local) else os.path.join("/work/shared/data/nmt", shared)


DEFAULT_EN = default_path("en.txt", "small_vocab_en.txt.gz")
DEFAULT_FR = default_path("fr.txt", "small_vocab_fr.txt.gz")


# ---------------------------------------------------------------- data

# the trainer's lowercase: C tolower byte by byte, i.e. A-Z only
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def read_lines(path, lowercase=True):
    """the file's lines, trailing newline stripped, ASCII lower-cased"""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="\n") as f:
        lines = [line.rstrip("\n") for line in f]
    return [line.translate(ASCII_LOWER) for line in lines] if lowercase else lines


def load(args):
    en, fr = read_lines(args.en), read_lines(args.fr)
    if len(en) != len(fr):
        sys.exit("nmt_transformer_torch.py: %s has %d lines, %s has %d"
                 % (args.en, len(en), args.fr, len(fr)))
    if len(en) <= N_TRAIN:
        sys.exit("nmt_transformer_torch.py: need more than %d pairs, got %d" % (N_TRAIN, len(en)))
    idx = list(range(len(en)))
    random.Random(args.seed).shuffle(idx)
    tr, ho = idx[:N_TRAIN], idx[N_TRAIN:]
    src_stoi, src_itos = build_vocab([en[i] for i in tr], ["<pad>", "<unk>"])
    tgt_stoi, tgt_itos = build_vocab([fr[i] for i in tr],
                                     ["<pad>", "<s>", "</s>", "<unk>"])
    if max(len(src_itos), len(tgt_itos)) > torch.iinfo(IDS).max:
        sys.exit("nmt_transformer_torch.py: vocabulary too large for int16 ids")
    if args.train_limit:
        tr = tr[:args.train_limit]
    d = {"src_itos": src_itos, "tgt_itos": tgt_itos}
    d["tr_src"] = encode_src([en[i] for i in tr], src_stoi)
    d["tr_in"], d["tr_tgt"] = encode_tgt([fr[i] for i in tr], tgt_stoi)
    d["ho_src"] = encode_src([en[i] for i in ho], src_stoi)
    d["ho_in"], d["ho_tgt"] = encode_tgt([fr[i] for i in ho], tgt_stoi)
    d["bleu_refs"] = [tokens(fr[i]) for i in ho[:N_BLEU]]
    if int((d["tr_src"] != PAD).sum(1).min()) == 0 or int((d["ho_src"] != PAD).sum(1).min()) == 0:
        sys.exit("nmt_transformer_torch.py: an empty source line (its attention would be all masked)")
    return d


# ---------------------------------------------------------------- model

def sinusoid(n, d):
    pos = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    div = torch.pow(10000.0, torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe = torch.zeros(n, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos / div)
    pe[:, 1::2] = torch.cos(pos / div)
    return pe.float()


class NMTTransformer(nn.Module):
    def __init__(self, v_src, v_tgt, d_model=128, heads=4, layers=2, ff=512, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.src_emb = nn.Embedding(v_src, d_model)
        self.tgt_emb = nn.Embedding(v_tgt, d_model)
        self.register_buffer("pe", sinusoid(max(SRC_LEN, TGT_LEN), d_model), persistent=False)
        self.drop = nn.Dropout(dropout)
        self.transformer = nn.Transformer(
            d_model=d_model, nhead=heads, num_encoder_layers=layers, num_decoder_layers=layers,
            dim_feedforward=ff, dropout=dropout, activation="relu", batch_first=True,
            norm_first=False)
        self.out = nn.Linear(d_model, v_tgt)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        causal = torch.triu(torch.ones(TGT_LEN, TGT_LEN, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal", causal, persistent=False)

    def embed(self, emb, ids):
        return self.drop(emb(ids) * math.sqrt(self.d_model) + self.pe[:ids.shape[1]])

    def encode(self, src):
        """src [B,20] -> memory [B,Lx,D] and its pad mask [B,Lx], Lx the
        longest source of the batch (the later positions are pads in every
        row: masked keys, weight exactly 0)"""
        lx = int((src != PAD).sum(1).max())
        src = src[:, :lx]
        pad = src == PAD
        mem = self.transformer.encoder(self.embed(self.src_emb, src), src_key_padding_mask=pad)
        return mem, pad

    def decode(self, mem, pad, dec_in):
        """dec_in [B,Ty] -> decoder states [B,Ty,D] (causal)"""
        ty = dec_in.shape[1]
        return self.transformer.decoder(self.embed(self.tgt_emb, dec_in), mem,
                                        tgt_mask=self.causal[:ty, :ty],
                                        memory_key_padding_mask=pad)

    def features(self, src, dec_in):
        mem, pad = self.encode(src)
        return self.decode(mem, pad, dec_in)

    @torch.inference_mode()
    def greedy(self, src, max_len=TGT_LEN):
        mem, pad = self.encode(src)
        ys = torch.full((src.shape[0], 1), BOS, dtype=torch.long)
        done = torch.zeros(src.shape[0], dtype=torch.bool)
        for _ in range(max_len):
            nxt = self.out(self.decode(mem, pad, ys)[:, -1]).argmax(-1)      # [B]
            ys = torch.cat([ys, nxt.unsqueeze(1)], dim=1)
            done |= nxt == EOS
            if bool(done.all()):
                break
        return ys[:, 1:]                                   # [B,<=max_len]


# ---------------------------------------------------------------- schedule

def lr_factor(total, warmup):
    """the trainer's tr_lr_at (cosine, lr_min 0) as a factor of the peak, for
    update u = 0, 1, ... (LambdaLR's step count)"""
    warm = int(math.floor(warmup * total + 0.5))        # C lround

    def f(u):
        if u < warm:
            return (u + 1) / warm
        span = total - warm - 1
        progress = (u - warm) / span if span > 0 else 0.0
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return f


# ---------------------------------------------------------------- metrics

def token_accuracy(model, src, dec_in, tgt, batch=256):
    right = count = 0
    for i in range(0, src.shape[0], batch):
        t = tgt[i:i + batch].long()
        ty = int((t != PAD).sum(1).max())
        t = t[:, :ty]
        keep = t != PAD
        f = model.features(src[i:i + batch].long(), dec_in[i:i + batch, :ty].long())
        pred = model.out(f[keep]).argmax(-1)
        right += int((pred == t[keep]).sum())
        count += int(keep.sum())
    return right / max(count, 1)


def bleu(model, src, refs, itos, batch=250):
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
    ap.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    ap.add_argument("--warmup", type=float, default=0.04, help="share of the updates in the linear warmup")
    ap.add_argument("--beta2", type=float, default=0.98)
    ap.add_argument("--eps", type=float, default=1e-9, help="Adam eps")
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--layers", type=int, default=2, help="encoder layers = decoder layers")
    ap.add_argument("--ff", type=int, default=512)
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
    model = NMTTransformer(len(d["src_itos"]), len(d["tgt_itos"]), args.d_model, args.heads,
                           args.layers, args.ff, args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    print("parameters: %d" % n_params, flush=True)
    n_tr = d["tr_src"].shape[0]
    total = args.epochs * ((n_tr + args.batch - 1) // args.batch)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, args.beta2), eps=args.eps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(total, args.warmup))
    crit = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing, ignore_index=PAD)
    if not args.quiet:
        print("data: %d train, %d held-out, vocab en %d fr %d, loaded in %.1f s; "
              "%d parameters; %d threads; %d updates, warmup %d"
              % (n_tr, d["ho_src"].shape[0], len(d["src_itos"]), len(d["tgt_itos"]),
                 time.time() - t0, n_params, torch.get_num_threads(), total,
                 int(math.floor(args.warmup * total + 0.5))), flush=True)

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
            feats = model.features(src, dec_in)               # [B,ty,D]
            keep = tgt != PAD
            loss = crit(model.out(feats[keep]), tgt[keep])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * b.shape[0]
            step += 1
            if args.log_every and step % args.log_every == 0 and not args.quiet:
                el = time.perf_counter() - t_ep
                print("step %d  epoch %d  loss %.4f  lr %.3g  %.0f samples/s"
                      % (step, epoch, float(loss), opt.param_groups[0]["lr"],
                         (i + b.shape[0]) / el), flush=True)
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

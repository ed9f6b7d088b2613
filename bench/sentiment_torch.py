#!/usr/bin/python3
"""PyTorch twin of the trainer's sentiment classifier (issue 14; plugin
text_attn, configs/sentiment.yaml): the seed tutorial's Keras model,
Embedding -> LSTM -> attention pooling -> Dense softmax, trained standalone.
The reference the trainer must beat.

Data: the UCI "Sentiment Labelled Sentences", data/sentiment/
{amazon_cells,imdb,yelp}_labelled.txt (data/prepare.sh --only sentiment),
read as bytes and concatenated in that order: 3000 lines `sentence<TAB>label`,
each split on its LAST tab (the imdb file has unbalanced double quotes: it is
never parsed as CSV).
  * split: numpy.random.default_rng(--split-seed).permutation(3000); the
    first 2400 train, the other 600 are held out. This is this script's own
    generator: the trainer shuffles with its own (core/data/dataset.c), so its
    split is another random 2400/600 split of the same sentences, not this one;
  * tokens (the trainer's `words` tokenizer): the line lower-cased byte-wise
    (ASCII only, as C's tolower), then on its UTF-8 bytes the matches of
        [A-Za-z0-9_\\x80-\\xff]+(?:'[A-Za-z0-9_\\x80-\\xff]+)*  |  [^A-Za-z0-9_\\x80-\\xff\\s]
    (words of letters, digits, '_' and non-ASCII bytes, an apostrophe inside a
    word kept; every other non-space byte a token of its own);
  * vocabulary from the training split only (counts over the whole sentences,
    before the cut to src_len): <pad>=0, <unk>=1, then the words seen at least
    --min-count times (default 2) by descending count, ties by byte order;
    other words map to <unk>, in the training split too;
  * inputs cut to --src-len T (default 40; the number cut is printed) and
    post-padded with <pad> to T; NOT masked (the tutorial's layer does not
    mask: the LSTM runs over the pads and the attention may weight them);
  * classes: the labels as written, sorted by byte order ("0" < "1").

Model (Keras layers and initialisations):
  Embedding(V, 100)        uniform(-0.05, 0.05), the <pad> row trained too
  LSTM(100)                (--bidirectional: one LSTM(100) each way, outputs
                           concatenated [forward, backward], d = 200)
                           gates i, f, c, o with sigmoid / tanh (tf.keras 2);
                           kernel Glorot-uniform over [in, 4H], recurrent
                           kernel orthogonal over [H, 4H], bias zero with
                           forget bias 1 (unit_forget_bias). nn.LSTM has the
                           same gate order; of its two biases b_hh is frozen
                           at 0, so the bias is ONE trained vector as in Keras
                           (two would each get Adam steps: twice the speed)
  pooling  --pool attention (default), the tutorial's Attention layer: with
           hidden states x_t [B,T,d], W [d,1] Glorot-uniform, b [T,1] zero
           (a bias per time step): e_t = x_t.W + b_t, a = softmax over t,
           output = sum_t a_t x_t [B,d];
           --pool last: the LSTM's state after the last step (the pads
           included); bidirectional: [forward after t=T-1, backward after t=0]
  Dense(C)                 Glorot-uniform kernel, zero bias; softmax
                           cross-entropy, mean over the batch.
Optimizer: torch.optim.Adam, lr 1e-3, PyTorch's defaults otherwise (betas
0.9/0.999, eps 1e-8); batch 32 (2400 = 75 x 32), 10 epochs, the training set
reshuffled every epoch (torch.Generator seeded with --seed; --seed also seeds
the initialisation).

Timing: the epoch loop (shuffle, batch gathering, forward, backward, Adam
step); never the evaluation, data loading or start-up. --speed skips the
evaluation altogether (speed-only runs; the timed part is the same).
Evaluation: argmax of the logits over the 600 held-out sentences, in
batches of 100 under torch.inference_mode (all 600 at once raised the
process's peak RSS from ~290 to ~344 MiB).

Output (the last three lines are for scripts; "train done" in the format
bench/lib.sh's rate_of reads):
  sentiment_torch: pool <p>, <uni|bi>directional, vocab <V>, <P> parameters, 2400 train / 600 held-out, src_len <T>, threads <t>/<i>, seed <s>, split-seed <k>
  data: <a> of 2400 train and <b> of 600 held-out sentences longer than src_len = <T> were cut; ...
  epoch <e>: loss <L>  <T> s  <R> samples/s  held-out-accuracy <A>  (eval <E> s)
  train done: <N> samples in <T> s, <R> samples/s
  eval: held-out-accuracy final <A> best <B> (epoch <k>)
  peak rss: <M> MiB (<K> KiB)
("-" for the accuracies with --speed.)
"""
import argparse
import collections
import os
import re
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, UNK = 0, 1
FILES = ("amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt")
DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "sentiment")
N_TRAIN = 2400
TOKEN = re.compile(rb"[A-Za-z0-9_\x80-\xff]+(?:'[A-Za-z0-9_\x80-\xff]+)*|[^A-Za-z0-9_\x80-\xff\s]")


# ---------------------------------------------------------------- data

def read_sentences(folder):
    """-> [(sentence bytes, label bytes)] of the three files in order"""
    out = []
    for name in FILES:
        path = os.path.join(folder, name)
        try:
            with open(path, "rb") as f:
                lines = f.read().split(b"\n")
        except OSError as e:
            sys.exit("sentiment_torch.py: %s (run data/prepare.sh --only sentiment)" % e)
        if lines and lines[-1] == b"":
            lines.pop()
        for k, line in enumerate(lines, 1):
            line = line.rstrip(b"\r")
            sent, tab, label = line.rpartition(b"\t")
            if not tab or not label.strip():
                sys.exit("sentiment_torch.py: %s line %d has no <TAB>label" % (path, k))
            out.append((sent, label.strip()))
    return out


def tokens(sentence):
    return TOKEN.findall(sentence.lower())


def build_vocab(token_lists, min_count):
    counts = collections.Counter(t for toks in token_lists for t in toks)
    words = sorted((w for w, c in counts.items() if c >= min_count),
                   key=lambda w: (-counts[w], w))
    itos = [b"<pad>", b"<unk>"] + words
    return {w: i for i, w in enumerate(itos)}, itos


def encode(token_lists, stoi, src_len):
    """-> ids [N, src_len] (cut, post-padded with <pad>), number cut"""
    out = torch.full((len(token_lists), src_len), PAD, dtype=torch.long)
    cut = 0
    for i, toks in enumerate(token_lists):
        cut += len(toks) > src_len
        ids = [stoi.get(w, UNK) for w in toks[:src_len]]
        out[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out, cut


def load(args):
    rows = read_sentences(args.data)
    if len(rows) <= N_TRAIN:
        sys.exit("sentiment_torch.py: need more than %d sentences, got %d" % (N_TRAIN, len(rows)))
    perm = np.random.default_rng(args.split_seed).permutation(len(rows))
    tr, ho = perm[:N_TRAIN], perm[N_TRAIN:]
    toks = [tokens(s) for s, _ in rows]
    stoi, itos = build_vocab([toks[i] for i in tr], args.min_count)
    classes = sorted(set(lab for _, lab in rows))
    cls = {c: k for k, c in enumerate(classes)}
    d = {"itos": itos, "classes": classes}
    d["x_tr"], d["cut_tr"] = encode([toks[i] for i in tr], stoi, args.src_len)
    d["x_ho"], d["cut_ho"] = encode([toks[i] for i in ho], stoi, args.src_len)
    d["y_tr"] = torch.tensor([cls[rows[i][1]] for i in tr], dtype=torch.long)
    d["y_ho"] = torch.tensor([cls[rows[i][1]] for i in ho], dtype=torch.long)
    lens = [len(t) for t in toks]
    d["max_len"], d["mean_len"] = max(lens), sum(lens) / len(lens)
    d["unk_tr"] = float((d["x_tr"] == UNK).sum()) / float((d["x_tr"] != PAD).sum())
    return d


# ---------------------------------------------------------------- model

class Classifier(nn.Module):
    def __init__(self, vocab, n_classes, src_len, emb=100, hidden=100,
                 bidirectional=False, pool="attention"):
        super().__init__()
        self.pool = pool
        self.emb = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True, bidirectional=bidirectional)
        d = hidden * (2 if bidirectional else 1)
        if pool == "attention":
            self.att_w = nn.Parameter(torch.empty(d, 1))
            self.att_b = nn.Parameter(torch.zeros(src_len, 1))
        self.out = nn.Linear(d, n_classes)
        self.keras_init()

    @torch.no_grad()
    def keras_init(self):
        nn.init.uniform_(self.emb.weight, -0.05, 0.05)
        H = self.lstm.hidden_size
        for sfx in ("_reverse",) * self.lstm.bidirectional + ("",):
            # torch keeps the transposes of Keras's [in, 4H] and [H, 4H]:
            # Glorot's limit is symmetric in the fans, and orthogonal_ on
            # [4H, H] gives orthonormal columns = Keras's orthonormal rows
            nn.init.xavier_uniform_(getattr(self.lstm, "weight_ih_l0" + sfx))
            nn.init.orthogonal_(getattr(self.lstm, "weight_hh_l0" + sfx))
            b_ih = getattr(self.lstm, "bias_ih_l0" + sfx)
            b_ih.zero_()
            b_ih[H:2 * H] = 1.0                       # forget gate
            b_hh = getattr(self.lstm, "bias_hh_l0" + sfx)
            b_hh.zero_()
            b_hh.requires_grad_(False)                # one bias vector, as in Keras
        if self.pool == "attention":
            nn.init.xavier_uniform_(self.att_w)
            self.att_b.zero_()
        nn.init.xavier_uniform_(self.out.weight)
        self.out.bias.zero_()

    def forward(self, x):                              # x [B,T] ids
        h, (h_n, _) = self.lstm(self.emb(x))           # h [B,T,d], h_n [dirs,B,H]
        if self.pool == "last":
            z = h_n.transpose(0, 1).reshape(x.shape[0], -1)   # [forward, backward]
        else:
            e = torch.matmul(h, self.att_w) + self.att_b      # [B,T,1]
            a = torch.softmax(e, dim=1)
            z = (a * h).sum(1)                                # [B,d]
        return self.out(z)


@torch.inference_mode()
def accuracy(model, x, y, batch=100):
    model.eval()
    right = 0
    for i in range(0, x.shape[0], batch):
        right += int((model(x[i:i + batch]).argmax(-1) == y[i:i + batch]).sum())
    model.train()
    return right / x.shape[0]


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="folder of the three *_labelled.txt files")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch.set_num_threads and set_num_interop_threads (0: torch's defaults)")
    ap.add_argument("--seed", type=int, default=1, help="initialisation and shuffling seed")
    ap.add_argument("--split-seed", type=int, default=1, help="train/held-out split seed (numpy)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--src-len", type=int, default=40)
    ap.add_argument("--min-count", type=int, default=2)
    ap.add_argument("--embed", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--pool", choices=("attention", "last"), default="attention")
    ap.add_argument("--bidirectional", action="store_true")
    ap.add_argument("--speed", action="store_true",
                    help="no evaluation at all (speed-only runs; the timing is the same)")
    args = ap.parse_args()
    if args.src_len < 1 or args.batch < 1 or args.epochs < 1:
        sys.exit("sentiment_torch.py: --src-len, --batch and --epochs must be positive")

    if args.threads > 0:
        torch.set_num_interop_threads(args.threads)
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    shuffle = torch.Generator().manual_seed(args.seed)

    t0 = time.time()
    d = load(args)
    model = Classifier(len(d["itos"]), len(d["classes"]), args.src_len, args.embed,
                       args.hidden, args.bidirectional, args.pool)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=args.lr)
    x_tr, y_tr, x_ho, y_ho = d["x_tr"], d["y_tr"], d["x_ho"], d["y_ho"]
    n_tr = x_tr.shape[0]
    print("sentiment_torch: pool %s, %sdirectional, vocab %d, %d parameters, %d train / %d held-out, "
          "src_len %d, threads %d/%d, seed %d, split-seed %d"
          % (args.pool, "bi" if args.bidirectional else "uni", len(d["itos"]),
             sum(p.numel() for p in params), n_tr, x_ho.shape[0], args.src_len,
             torch.get_num_threads(), torch.get_num_interop_threads(), args.seed,
             args.split_seed), flush=True)
    print("data: %d of %d train and %d of %d held-out sentences longer than src_len = %d were cut "
          "(longest %d tokens, mean %.1f); <unk> %.1f%% of the training tokens; classes %s; "
          "loaded in %.2f s"
          % (d["cut_tr"], n_tr, d["cut_ho"], x_ho.shape[0], args.src_len, d["max_len"],
             d["mean_len"], 100 * d["unk_tr"],
             " ".join(c.decode("utf-8", "replace") for c in d["classes"]), time.time() - t0),
          flush=True)

    train_time, samples = 0.0, 0
    accs = []
    model.train()
    for epoch in range(1, args.epochs + 1):
        t_ep = time.perf_counter()
        loss_sum = 0.0
        perm = torch.randperm(n_tr, generator=shuffle)
        for i in range(0, n_tr, args.batch):
            b = perm[i:i + args.batch]
            loss = F.cross_entropy(model(x_tr[b]), y_tr[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss) * b.shape[0]
        dt = time.perf_counter() - t_ep
        train_time += dt
        samples += n_tr
        line = "epoch %d: loss %.4f  %.2f s  %.1f samples/s" % (epoch, loss_sum / n_tr, dt, n_tr / dt)
        if not args.speed:
            t_ev = time.perf_counter()
            accs.append(accuracy(model, x_ho, y_ho))
            line += "  held-out-accuracy %.4f  (eval %.2f s)" % (accs[-1], time.perf_counter() - t_ev)
        print(line, flush=True)

    print("train done: %d samples in %.2f s, %.1f samples/s"
          % (samples, train_time, samples / max(train_time, 1e-9)))
    if accs:
        best = max(range(len(accs)), key=lambda k: accs[k])    # first best epoch
        print("eval: held-out-accuracy final %.4f best %.4f (epoch %d)"
              % (accs[-1], accs[best], best + 1))
    else:
        print("eval: held-out-accuracy final - best - (--speed)")
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss          # KiB on Linux
    print("peak rss: %.1f MiB (%d KiB)" % (kib / 1024.0, kib), flush=True)


if __name__ == "__main__":
    main()

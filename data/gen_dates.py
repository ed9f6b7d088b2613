#!/usr/bin/env python3
"""Generate a human-written calendar date -> ISO "YYYY-MM-DD" dataset.

Writes, in the format of the Keras attention tutorial's time data (so the
trainer's char_pairs loader reads both):

  <out>/date_dataset.json  JSON list of [input, output] string pairs
  <out>/date_vocabs.json   JSON list of two objects char -> index:
                           source vocab (every character of the lower-cased
                           inputs, sorted, then "<unk>", "<pad>") and target
                           vocab ("0".."9" -> 0..9, "-" -> 10)

Dates are uniform over 1900-01-01 .. 2099-12-31. Inputs keep their
capitalisation (lower, Title or UPPER); the vocabulary is built from the
lower-cased text because the trainer lower-cases inputs (data.lowercase).

Numeric conventions: year-first forms are always year/month/day; slash and
dash forms with the year last ("13/3/2001", "3/13/2001") are only emitted
when unambiguous (day > 12, or day == month); dotted forms with the year last
("03.03.2001") always mean day.month.year (the European convention).

The last --test pairs are held out: none of their inputs occurs among the
first count - test (training) inputs, and they are distinct from each other
(compared after lower-casing, as the trainer sees them).
Deterministic for a given --seed (stdlib only, random.Random(seed)).
"""

import argparse
import datetime
import json
import os
import random
import sys

MAX_INPUT_LEN = 41  # Tx of the tutorial model; the time data's maximum too

MONTHS = ["january", "february", "march", "april", "may", "june", "july",
          "august", "september", "october", "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday",
            "saturday", "sunday"]  # date.weekday() order
FIRST = datetime.date(1900, 1, 1).toordinal()
LAST = datetime.date(2099, 12, 31).toordinal()


def ordinal(d):
    if 11 <= d % 100 <= 13:
        return "%dth" % d
    return "%d%s" % (d, {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th"))


class Date:
    """One date's spellings, drawn once per sample so a sample is coherent."""

    def __init__(self, rng, date, case):
        self.rng = rng
        self.date = date
        self.case = case  # "lower", "title" or "upper"
        self.y = date.year
        self.m = date.month
        self.d = date.day

    def name(self, word):
        if self.case == "lower":
            return word
        return word[0].upper() + word[1:]  # UPPER is applied to the whole string

    # months
    def month(self):
        return self.name(MONTHS[self.m - 1])

    def mon(self):
        """Abbreviated month: "mar", "sep"/"sept", sometimes with a dot."""
        w = MONTHS[self.m - 1][:3]
        if self.m == 9 and self.rng.random() < 0.5:
            w = "sept"
        w = self.name(w)
        if w.lower() != "may" and self.rng.random() < 0.2:
            w += "."
        return w

    def any_month(self):
        return self.month() if self.rng.random() < 0.6 else self.mon()

    # weekdays
    def weekday(self):
        return self.name(WEEKDAYS[self.date.weekday()])

    def wd(self):
        """Abbreviated weekday: "wed", sometimes "tues"/"thurs", or a dot."""
        full = WEEKDAYS[self.date.weekday()]
        w = full[:3]
        r = self.rng.random()
        if full == "tuesday" and r < 0.3:
            w = "tues"
        elif full == "thursday" and r < 0.3:
            w = "thurs" if r < 0.15 else "thur"
        w = self.name(w)
        if self.rng.random() < 0.15:
            w += "."
        return w

    def any_weekday(self):
        return self.weekday() if self.rng.random() < 0.6 else self.wd()

    # days
    def day(self):
        """"3" or, less often, "03"."""
        return "%02d" % self.d if self.rng.random() < 0.25 else str(self.d)

    def nth(self):
        return ordinal(self.d)

    def day_or_nth(self):
        return self.nth() if self.rng.random() < 0.35 else str(self.d)

    def comma(self, p=0.5):
        return "," if self.rng.random() < p else ""


# Each form: (weight, builder). Builders return the input string, or None when
# the form does not apply to the date (ambiguous numeric day/month order).
def f_d_month_y(s):       # 3 May 1979 / 03 may 1979 / 3 May, 1979
    return "%s %s%s %d" % (s.day(), s.any_month(), s.comma(0.15), s.y)


def f_month_d_y(s):       # May 3, 1979 / may 3rd 1979 / Sept. 9, 2001
    return "%s %s%s %d" % (s.any_month(), s.day_or_nth(), s.comma(0.6), s.y)


def f_wd_month_d_y(s):    # Wednesday, May 9, 2018 / wed may 9th 2018
    return "%s%s %s %s%s %d" % (s.any_weekday(), s.comma(0.7), s.any_month(),
                                s.day_or_nth(), s.comma(0.6), s.y)


def f_wd_d_month_y(s):    # wed, 9 may 2018 / Tuesday 3 March 2001
    return "%s%s %s %s %d" % (s.any_weekday(), s.comma(0.5), s.day(),
                              s.any_month(), s.y)


def f_the_nth_of(s):      # the 3rd of march, 2001
    return "the %s of %s%s %d" % (s.nth(), s.any_month(), s.comma(0.5), s.y)


def f_nth_of(s):          # 3rd of March 2001
    return "%s of %s%s %d" % (s.nth(), s.any_month(), s.comma(0.3), s.y)


def f_nth_month(s):       # 3rd March 2001
    return "%s %s%s %d" % (s.nth(), s.any_month(), s.comma(0.2), s.y)


def f_wd_the_nth_of(s):   # saturday the 3rd of march 2001
    return "%s%s the %s of %s%s %d" % (s.any_weekday(), s.comma(0.3), s.nth(),
                                       s.any_month(), s.comma(0.3), s.y)


def f_ymd(s):             # 2001/03/03 / 2001-03-03 / 2001-3-3 / 2001.03.03
    sep = s.rng.choice("/-/-.")
    if s.rng.random() < 0.8:
        return "%d%s%02d%s%02d" % (s.y, sep, s.m, sep, s.d)
    return "%d%s%d%s%d" % (s.y, sep, s.m, sep, s.d)


def f_slash_dmy(s):       # 13/3/2001, 03/13/2001: only when unambiguous
    if not (s.d > 12 or s.d == s.m):
        return None
    pad = s.rng.random() < 0.5
    a, b = (s.d, s.m) if s.rng.random() < 0.5 else (s.m, s.d)
    sep = "/" if s.rng.random() < 0.75 else "-"
    if pad:
        return "%02d%s%02d%s%d" % (a, sep, b, sep, s.y)
    return "%d%s%d%s%d" % (a, sep, b, sep, s.y)


def f_dotted_dmy(s):      # 03.03.2001 / 3.3.2001: always day.month.year
    if s.rng.random() < 0.7:
        return "%02d.%02d.%d" % (s.d, s.m, s.y)
    return "%d.%d.%d" % (s.d, s.m, s.y)


def f_d_mon_y_dash(s):    # 03-Mar-2001 / 3 mar 2001 style with dashes
    return "%s-%s-%d" % (s.day(), s.name(MONTHS[s.m - 1][:3]), s.y)


def f_month_nth_comma(s):  # March 3rd, 2001 / mar 3 2001
    return "%s %s%s %d" % (s.any_month(), s.day_or_nth(), s.comma(0.5), s.y)


def f_wd_nth_month(s):    # Tuesday 3rd March 2001 / tue, 3rd of mar 2001
    of = " of" if s.rng.random() < 0.4 else ""
    return "%s%s %s%s %s %d" % (s.any_weekday(), s.comma(0.4), s.nth(), of,
                                s.any_month(), s.y)


FORMS = [
    (10, f_d_month_y),
    (12, f_month_d_y),
    (7, f_wd_month_d_y),
    (7, f_wd_d_month_y),
    (7, f_the_nth_of),
    (6, f_nth_of),
    (4, f_nth_month),
    (5, f_wd_the_nth_of),
    (9, f_ymd),
    (8, f_slash_dmy),
    (6, f_dotted_dmy),
    (3, f_d_mon_y_dash),
    (8, f_month_nth_comma),
    (5, f_wd_nth_month),
]
CASES = [("lower", 0.4), ("title", 0.45), ("upper", 0.15)]


def pick(rng, weighted):
    total = sum(w for w, _ in weighted)
    r = rng.random() * total
    for w, item in weighted:
        r -= w
        if r < 0:
            return item
    return weighted[-1][1]


def sample(rng):
    """One (input, output, form name) triple."""
    while True:
        date = datetime.date.fromordinal(rng.randint(FIRST, LAST))
        case = pick(rng, [(p, c) for c, p in CASES])
        form = pick(rng, FORMS)
        s = Date(rng, date, case)
        text = form(s)
        if text is None:
            continue
        if case == "upper":
            text = text.upper()
        elif case == "title":
            text = text[0].upper() + text[1:]  # "The 3rd of March 2001"
        assert len(text) <= MAX_INPUT_LEN, text
        return text, date.isoformat(), form.__name__


def generate(seed, count, n_test):
    rng = random.Random(seed)
    n_train = count - n_test
    pairs, forms = [], {}
    seen = set()
    for _ in range(n_train):
        x, y, f = sample(rng)
        pairs.append([x, y])
        seen.add(x.lower())
        forms[f] = forms.get(f, 0) + 1
    rejected = 0
    while len(pairs) < count:
        x, y, f = sample(rng)
        # held-out inputs never occur in training (or twice), compared after
        # lower-casing as the trainer does
        if x.lower() in seen:
            rejected += 1
            continue
        pairs.append([x, y])
        seen.add(x.lower())
        forms[f] = forms.get(f, 0) + 1
    return pairs, forms, rejected


def vocabs(pairs):
    chars = sorted({c for x, _ in pairs for c in x.lower()})
    src = {c: i for i, c in enumerate(chars)}
    src["<unk>"] = len(src)
    src["<pad>"] = len(src)
    tgt = {str(i): i for i in range(10)}
    tgt["-"] = 10
    return [src, tgt]


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/date",
                    help="output folder (default: data/date)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--count", type=int, default=22000,
                    help="number of pairs (default 22000)")
    ap.add_argument("--test", type=int, default=2000,
                    help="held-out pairs at the end (default 2000)")
    ap.add_argument("--quiet", action="store_true",
                    help="print no summary")
    a = ap.parse_args(argv)
    if a.count < 1 or a.test < 0 or a.test >= a.count:
        ap.error("need count >= 1 and 0 <= test < count")

    pairs, forms, rejected = generate(a.seed, a.count, a.test)
    vocab = vocabs(pairs)

    # self-checks
    n_train = a.count - a.test
    train_inputs = {x.lower() for x, _ in pairs[:n_train]}
    assert not any(x.lower() in train_inputs for x, _ in pairs[n_train:])
    max_len = max(len(x) for x, _ in pairs)
    assert max_len <= MAX_INPUT_LEN
    for x, y in pairs:
        assert len(y) == 10 and all(c in vocab[1] for c in y), y
        assert all(c in vocab[0] for c in x.lower()), x

    os.makedirs(a.out, exist_ok=True)
    write_json(os.path.join(a.out, "date_dataset.json"), pairs)
    write_json(os.path.join(a.out, "date_vocabs.json"), vocab)

    if not a.quiet:
        err = sys.stderr
        mean = sum(len(x) for x, _ in pairs) / len(pairs)
        print("gen_dates: %d pairs (%d train, %d held out; %d held-out draws "
              "rejected as seen), seed %d" % (len(pairs), n_train, a.test,
                                              rejected, a.seed), file=err)
        print("gen_dates: input length max %d, mean %.1f; source vocab %d "
              "(incl. <unk>, <pad>), target vocab %d; %d distinct inputs"
              % (max_len, mean, len(vocab[0]), len(vocab[1]),
                 len({x for x, _ in pairs})), file=err)
        print("gen_dates: forms: " + ", ".join(
            "%s %d" % (k[2:], forms[k]) for k in sorted(forms)), file=err)
        for x, y in pairs[:12]:
            print("  %-41s -> %s" % (x, y), file=err)
        print("gen_dates: wrote %s/date_dataset.json and date_vocabs.json"
              % a.out, file=err)
    return 0


if __name__ == "__main__":
    sys.exit(main())

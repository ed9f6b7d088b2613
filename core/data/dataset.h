/* core/data/dataset.h - sequence pairs as token ids. The rules, for users, are
 * in docs/config.md ("The data kinds"); keep the two in step.
 *
 * data.kind char_pairs: the pairs file is a JSON list of [input, output]
 * strings, the vocab file a JSON list of two objects {character: id}
 * (source, target), as the Keras attention tutorial ships them; both are
 * read with libyaml (JSON is YAML). Inputs are lower-cased
 * (data.lowercase), mapped with <unk> for unknown characters, truncated to
 * src_len and padded with <pad>; outputs must be at most tgt_len characters
 * of the target vocabulary, padded with its <pad>.
 *
 * data.kind word_pairs: two aligned text files, one sentence per line,
 * tokens separated by spaces. The pairs are shuffled with data.split_seed;
 * the first data.train are the training split, the last data.test held out.
 * Vocabularies come from the training split (by frequency, then
 * alphabetically): source <pad>=0 <unk>=1; target <pad>=0 <s>=1 </s>=2
 * <unk>=3. Sources are truncated/padded to src_len; targets are the words
 * then </s>, truncated/padded to tgt_len. Truncated sources and targets of
 * the pairs in use are counted (tr_pairs.src_cut, tgt_cut).
 *
 * data.kind text_labels: data.files, lines of `text<TAB>label` (split on
 * the last tab; blank lines skipped). The classes are the distinct labels
 * in byte order; the split is word_pairs'; the source vocabulary comes from
 * the training split with data.tokenizer (words: runs of letters, digits,
 * '_' and non-ASCII bytes, an apostrophe between two such runs kept, every
 * other non-blank byte a token; chars: every UTF-8 character but line ends;
 * spaces: blank-separated), <pad>=0 <unk>=1 then by frequency, tokens rarer
 * than data.min_count and past data.max_size become <unk>.
 *
 * data.kind idx_images (images.c): gzipped IDX files in data.dir
 * (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-*); the
 * first data.train training images, then the first data.test t10k images
 * as the held-out part. The target vocabulary is the class names.
 *
 * data.kind hdf5 (hdf5_data.c): arrays a user wrote with h5py in the layout
 * of docs/data_hdf5.md: /train and /test groups of source + target (seq2seq),
 * source + label (text classes) or input + label (uint8 images), the
 * vocabularies /vocab/source, /vocab/target and the class names /classes
 * as string datasets (the id is the position; <pad>, <unk>, <s>, </s> found
 * by name). The first data.train rows of /train, then the first data.test
 * of /test; the lengths and sizes are the arrays'. */
#ifndef TR_DATASET_H
#define TR_DATASET_H

#include <stdint.h>
#include "config/config.h"

typedef struct tr_vocab {
    char **tokens;  /* [n] the string of each id */
    int n;
    int unk, pad;   /* ids of "<unk>" and "<pad>", -1 if absent */
    int bos, eos;   /* ids of "<s>" and "</s>", -1 if absent */
    int words;      /* 1: tokens are strings found by `tokenizer`, 0: characters (char_pairs) */
    int tokenizer;  /* words: tr_tokenizer (TR_TOK_SPACES for word_pairs) */
    int16_t ascii[128]; /* id of each single ASCII character, -1 if none */
    int32_t *slots; /* words: open-addressing table of ids, -1 empty */
    int nslots;     /* a power of two */
} tr_vocab;

typedef struct tr_vocabs {
    tr_vocab src, tgt;
} tr_vocabs;

typedef struct tr_pairs {
    int n;            /* pairs in the file */
    int src_len, tgt_len;
    int32_t *src;     /* [n, src_len] */
    int32_t *tgt;     /* [n, tgt_len] */
    /* idx_images: the images (src_len 0, src NULL; tgt [n, 1] the labels) */
    int channels, height, width;
    uint8_t *pixels;  /* [n, channels * height * width], 0..255 */
    /* pairs of the training and held-out splits whose source (target, with
     * </s>) was longer than src_len (tgt_len) and was cut: the CLI says so */
    long src_cut, tgt_cut;
    /* [n] each pair's place in its source: the pair in the JSON list, the
     * line (text_labels: counted over data.files in order, from 0), the
     * image in its IDX file */
    int64_t *index;
    /* hdf5: tgt holds one class per sample (/train/label), not tokens */
    int labels;
    /* text_labels: [n] each sample's text as written (for `trainer eval`), or NULL */
    char **text;
    /* text_labels: the files and the first line index of each (nfiles + 1) */
    char **files;
    long *file_start;
    int nfiles;
} tr_pairs;

/* The text kinds (char_pairs, word_pairs, text_labels): the vocabularies
 * and (with_pairs, or always when the vocabularies come from the data) the
 * encoded pairs. data/load.h picks the reader for every kind. */
tr_status tr_text_data_load(tr_vocabs *v, tr_pairs *p, tr_config *cfg, int with_pairs, tr_error *err);
void tr_vocabs_free(tr_vocabs *v);
/* A vocabulary of the n given strings, id = place (words = 1, no special
 * ids set); and the id of a token in such a vocabulary, or -1. */
tr_status tr_vocab_from_list(tr_vocab *v, char **names, int n, tr_error *err);
int tr_word_lookup(const tr_vocab *v, const char *w, size_t len);
void tr_pairs_free(tr_pairs *p);

/* Encodes one input as the trainer does for training: out[src_len].
 * Returns the input's length in tokens (above src_len: it was cut). */
int tr_encode_source(int32_t *out, const char *text, const tr_vocabs *v,
                     int src_len, int lowercase);
/* "file:line" of a text_labels pair index (1-based line), or the index. */
void tr_pairs_where(char *buf, size_t len, const tr_pairs *p, int64_t index);
/* Writes the target tokens as text into buf: characters joined, or words
 * joined by spaces up to </s>; padding skipped. */
void tr_decode_target(char *buf, size_t len, const int32_t *ids, int n,
                      const tr_vocabs *v);

#endif

/* core/dataset.h - character-level sequence pairs (data.kind: char_pairs).
 *
 * The pairs file is a JSON list of [input, output] strings, the vocab file a
 * JSON list of two objects {character: id} (source, target), as the Keras
 * attention tutorial ships them. Both are read with libyaml (JSON is YAML).
 * Inputs are lower-cased (data.lowercase), mapped with <unk> for unknown
 * characters, truncated to src_len and padded with <pad>; outputs must be
 * exactly tgt_len characters of the target vocabulary. */
#ifndef TR_DATASET_H
#define TR_DATASET_H

#include <stdint.h>
#include "config.h"

typedef struct tr_vocab {
    char **tokens;  /* [n] the string of each id */
    int n;
    int unk, pad;   /* ids of "<unk>" and "<pad>", -1 if absent */
    int16_t ascii[128]; /* id of each single ASCII character, -1 if none */
} tr_vocab;

typedef struct tr_vocabs {
    tr_vocab src, tgt;
} tr_vocabs;

typedef struct tr_pairs {
    int n;            /* pairs in the file */
    int src_len, tgt_len;
    int32_t *src;     /* [n, src_len] */
    int32_t *tgt;     /* [n, tgt_len] */
} tr_pairs;

tr_status tr_vocabs_load(tr_vocabs *v, const tr_config *cfg, tr_error *err);
void tr_vocabs_free(tr_vocabs *v);

tr_status tr_pairs_load(tr_pairs *p, const tr_config *cfg, const tr_vocabs *v,
                        tr_error *err);
void tr_pairs_free(tr_pairs *p);

/* Encodes one input as the trainer does for training: out[src_len]. */
void tr_encode_source(int32_t *out, const char *text, const tr_vocabs *v,
                      int src_len, int lowercase);
/* Writes the target tokens as text (each id's string) into buf. */
void tr_decode_target(char *buf, size_t len, const int32_t *ids, int n,
                      const tr_vocabs *v);

#endif

/* tests/fuzz/fuzz_char_pairs.c - data.kind char_pairs: the input is the
 * pairs JSON, then (after a NUL) the vocabularies JSON; without a second part
 * the vocabularies are a valid pair of the time data's kind. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t at = 0;
    uint8_t *pairs = NULL, *vocabs = NULL;
    fz_next_part(data, size, &at, &pairs);
    if (at < size)
        fz_next_part(data, size, &at, &vocabs);
    const char *pp = fz_write_text("pairs.json", (const char *)pairs);
    const char *vp = fz_write_text("vocabs.json", vocabs ? (const char *)vocabs
        : "[{\"<pad>\": 0, \"<unk>\": 1, \" \": 2, \"a\": 3, \"b\": 4, \"1\": 5},"
          " {\"<pad>\": 0, \"0\": 1, \"1\": 2, \":\": 3}]");
    fz_load_data(fz_config(0, NULL,
        "model: {plugin: time_attn}\n"
        "data: {kind: char_pairs, pairs: '%s', vocabs: '%s', train: 2, test: 1, src_len: 8, tgt_len: 4}\n",
        pp, vp));
    free(pairs);
    free(vocabs);
    return 0;
}
